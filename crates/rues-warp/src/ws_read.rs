//! Reading what a client sends, frame by frame, as it arrives, without a
//! buffer of the session's own.
//!
//! The session task reads the socket into a per-thread scratch buffer only
//! when it is readable, and feeds what it read to its [`Reader`], which
//! keeps just enough state to resume anywhere: a header cut short (at most
//! 14 bytes), where it is in the current frame's payload, the last bytes
//! of an unfinished UTF-8 character, and the payload of a control frame
//! (at most 125 bytes, and only while one is arriving). The payloads of
//! data frames are validated and dropped as they pass: the node accepts and
//! ignores them (w3sper's keep-alive), so none is ever held whole.
//!
//! Headers are parsed by tungstenite's own [`FrameHeader::parse`], close
//! codes checked by its [`CloseCode`], and the rules are tungstenite's, so
//! a client sees the answers it saw when tungstenite read whole messages:
//! a frame or message over the inbound limit is [`SocketEnd::FrameTooBig`]
//! (1009); reserved bits, reserved opcodes, a fragmented or oversized
//! control frame, a continuation with nothing to continue, a new message
//! inside a fragmented one, text or a close reason that is not UTF-8, a
//! one-byte close payload are [`SocketEnd::ProtocolViolation`] (1002).
//! A Close with a code no endpoint may send is answered with 1002
//! ("Protocol violation"), as tungstenite answers it.

use std::io::Cursor;

use bytes::Bytes;
use rues_core::SocketEnd;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

/// The longest header a client may send: 2 bytes, a 64-bit length, a mask.
const MAX_HEADER: usize = 14;

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// What one read brought, for the session task to act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Received {
    /// A message, Ping or Pong was completed: a sign of life.
    pub(crate) alive: bool,
    /// The payload of the latest Ping, to answer with a Pong (RFC 6455
    /// §5.5.3 lets an endpoint answer only the most recent one).
    pub(crate) ping: Option<Bytes>,
    /// The client's Close arrived: the payload of the Close to echo
    /// (§5.5.1). Nothing after it is read.
    pub(crate) close: Option<Bytes>,
}

/// The frame whose payload is arriving.
#[derive(Debug, Clone, Copy)]
struct Current {
    kind: Kind,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes already seen (the mask's phase).
    seen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Ping,
    Pong,
    Close,
}

/// The data message under way.
#[derive(Debug, Clone, Copy)]
struct Message {
    text: bool,
    size: u64,
    /// The first bytes of a UTF-8 character the last piece cut (text).
    carry: [u8; 4],
    carried: u8,
}

/// One session's reading state; see the module's docs.
#[derive(Debug)]
pub(crate) struct Reader {
    max_size: u64,
    header: [u8; MAX_HEADER],
    header_len: u8,
    frame: Option<Current>,
    message: Option<Message>,
    /// The payload of the control frame arriving; empty, with no
    /// allocation, between control frames.
    control: Vec<u8>,
}

impl Reader {
    /// A reader refusing frames and messages over `max_size` bytes.
    pub(crate) fn new(max_size: usize) -> Self {
        Self {
            max_size: u64::try_from(max_size).unwrap_or(u64::MAX),
            header: [0; MAX_HEADER],
            header_len: 0,
            frame: None,
            message: None,
            control: Vec::new(),
        }
    }

    /// Heap bytes the reader holds: nothing, except while a control
    /// frame's payload is arriving.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.control.capacity()
    }

    /// Feeds bytes just read (unmasked in place where their content
    /// matters); what they completed goes into `received`. Stops at the
    /// client's Close. An error is how the client broke the rules.
    pub(crate) fn feed(
        &mut self,
        mut data: &mut [u8],
        received: &mut Received,
    ) -> Result<(), SocketEnd> {
        while received.close.is_none() {
            match self.frame {
                // Finished here rather than when its last byte came, so
                // that an empty frame is finished too.
                Some(frame) if frame.remaining == 0 => self.finish(frame, received)?,
                _ if data.is_empty() => break,
                None => {
                    let used = self.header(data)?;
                    data = &mut data[used..];
                }
                Some(mut frame) => {
                    let take = usize::try_from(frame.remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    let (piece, rest) = data.split_at_mut(take);
                    self.payload(&frame, piece)?;
                    data = rest;
                    let taken = take as u64;
                    frame.remaining -= taken;
                    frame.seen += taken;
                    self.frame = Some(frame);
                }
            }
        }
        Ok(())
    }

    /// Reads (part of) a header from `data`; returns the bytes used.
    fn header(&mut self, data: &[u8]) -> Result<usize, SocketEnd> {
        let had = usize::from(self.header_len);
        let parsed = if had == 0 {
            let mut cursor = Cursor::new(data);
            parse(&mut cursor)?.map(|(header, len)| (header, len, cursor.position()))
        } else {
            let add = (MAX_HEADER - had).min(data.len());
            self.header[had..had + add].copy_from_slice(&data[..add]);
            let mut cursor = Cursor::new(&self.header[..had + add]);
            match parse(&mut cursor)? {
                Some((header, len)) => Some((header, len, cursor.position())),
                None => {
                    self.header_len += add as u8;
                    return Ok(add);
                }
            }
        };
        let Some((header, len, end)) = parsed else {
            // Under 14 bytes (14 always hold a header): a header cut short.
            // Keep it for the next read.
            let kept = self
                .header
                .get_mut(..data.len())
                .ok_or(SocketEnd::ProtocolViolation)?;
            kept.copy_from_slice(data);
            self.header_len = data.len() as u8;
            return Ok(data.len());
        };
        // The header ended `end` bytes into what was kept and what came now.
        let used = usize::try_from(end)
            .unwrap_or(usize::MAX)
            .saturating_sub(had);
        self.header_len = 0;
        self.start(&header, len)?;
        Ok(used)
    }

    /// Checks a new frame's header against the rules and the limit.
    fn start(&mut self, header: &FrameHeader, len: u64) -> Result<(), SocketEnd> {
        if len > self.max_size {
            return Err(SocketEnd::FrameTooBig);
        }
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(SocketEnd::ProtocolViolation);
        }
        let kind = match header.opcode {
            OpCode::Control(control) => {
                if !header.is_final || len > MAX_CONTROL as u64 {
                    return Err(SocketEnd::ProtocolViolation);
                }
                match control {
                    Control::Close => Kind::Close,
                    Control::Ping => Kind::Ping,
                    Control::Pong => Kind::Pong,
                    Control::Reserved(_) => return Err(SocketEnd::ProtocolViolation),
                }
            }
            OpCode::Data(data) => {
                match (data, &mut self.message) {
                    (Data::Continue, Some(message)) => {
                        message.size += len;
                        if message.size > self.max_size {
                            return Err(SocketEnd::FrameTooBig);
                        }
                    }
                    (Data::Text | Data::Binary, None) => {
                        self.message = Some(Message {
                            text: data == Data::Text,
                            size: len,
                            carry: [0; 4],
                            carried: 0,
                        });
                    }
                    _ => return Err(SocketEnd::ProtocolViolation),
                }
                Kind::Data
            }
        };
        let frame = Current {
            kind,
            fin: header.is_final,
            mask: header.mask,
            remaining: len,
            seen: 0,
        };
        self.frame = Some(frame);
        Ok(())
    }

    /// A piece of the current frame's payload.
    fn payload(&mut self, frame: &Current, piece: &mut [u8]) -> Result<(), SocketEnd> {
        let text = frame.kind == Kind::Data && self.message.is_some_and(|message| message.text);
        if frame.kind == Kind::Data && !text {
            // Binary: nothing in it matters.
            return Ok(());
        }
        if let Some(mask) = frame.mask {
            let phase = (frame.seen % 4) as usize;
            for (i, byte) in piece.iter_mut().enumerate() {
                *byte ^= mask[(phase + i) % 4];
            }
        }
        match (&mut self.message, frame.kind) {
            (Some(message), Kind::Data) => validate(message, piece),
            _ => {
                self.control.extend_from_slice(piece);
                Ok(())
            }
        }
    }

    /// The current frame is complete.
    fn finish(&mut self, frame: Current, received: &mut Received) -> Result<(), SocketEnd> {
        self.frame = None;
        let payload = std::mem::take(&mut self.control);
        match frame.kind {
            Kind::Data => {
                if frame.fin {
                    if self
                        .message
                        .take()
                        .is_some_and(|message| message.carried > 0)
                    {
                        // Text that ends inside a character.
                        return Err(SocketEnd::ProtocolViolation);
                    }
                    received.alive = true;
                }
            }
            Kind::Ping => {
                received.ping = Some(Bytes::from(payload));
                received.alive = true;
            }
            Kind::Pong => received.alive = true,
            Kind::Close => received.close = Some(close_echo(payload)?),
        }
        Ok(())
    }
}

/// tungstenite's header parser, its refusals (a reserved opcode) as ours.
fn parse(cursor: &mut Cursor<&[u8]>) -> Result<Option<(FrameHeader, u64)>, SocketEnd> {
    FrameHeader::parse(cursor).map_err(|_| SocketEnd::ProtocolViolation)
}

/// The Close to answer a client's Close payload with: the same code and
/// reason, none if it gave none, 1002 if its code is one no endpoint may
/// send. A one-byte payload or a reason that is not UTF-8 breaks the rules.
fn close_echo(payload: Vec<u8>) -> Result<Bytes, SocketEnd> {
    match payload.as_slice() {
        [] => Ok(Bytes::new()),
        [_] => Err(SocketEnd::ProtocolViolation),
        [high, low, reason @ ..] => {
            if std::str::from_utf8(reason).is_err() {
                return Err(SocketEnd::ProtocolViolation);
            }
            let code = u16::from_be_bytes([*high, *low]);
            if CloseCode::from(code).is_allowed() {
                Ok(Bytes::from(payload))
            } else {
                let mut answer = u16::from(CloseCode::Protocol).to_be_bytes().to_vec();
                answer.extend_from_slice(b"Protocol violation");
                Ok(Bytes::from(answer))
            }
        }
    }
}

/// Checks a piece of a text message is UTF-8, given the character the last
/// piece may have cut; keeps the one this piece may cut.
fn validate(message: &mut Message, mut piece: &[u8]) -> Result<(), SocketEnd> {
    while message.carried > 0 {
        let Some((&next, rest)) = piece.split_first() else {
            return Ok(());
        };
        piece = rest;
        let carried = usize::from(message.carried);
        message.carry[carried] = next;
        match std::str::from_utf8(&message.carry[..=carried]) {
            Ok(_) => message.carried = 0,
            Err(error) if error.error_len().is_some() => {
                return Err(SocketEnd::ProtocolViolation);
            }
            Err(_) => message.carried += 1,
        }
    }
    match std::str::from_utf8(piece) {
        Ok(_) => Ok(()),
        Err(error) if error.error_len().is_some() => Err(SocketEnd::ProtocolViolation),
        Err(error) => {
            // At most three bytes of a character that goes on in the next.
            let tail = &piece[error.valid_up_to()..];
            let kept = message
                .carry
                .get_mut(..tail.len())
                .ok_or(SocketEnd::ProtocolViolation)?;
            kept.copy_from_slice(tail);
            message.carried = tail.len() as u8;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;

    use super::*;

    /// A client's frame, masked with `mask`, as tungstenite writes it.
    fn client_frame(opcode: OpCode, fin: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let header = FrameHeader {
            is_final: fin,
            opcode,
            mask: Some(mask),
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        Frame::from_payload(header, Bytes::copy_from_slice(payload))
            .format(&mut out)
            .expect("formatted");
        out
    }

    /// Feeds `bytes` in pieces of the given sizes (cycled).
    fn feed_in_pieces(
        reader: &mut Reader,
        bytes: &[u8],
        cuts: &[usize],
    ) -> Result<Received, SocketEnd> {
        let mut received = Received::default();
        let mut bytes = bytes.to_vec();
        let mut rest = &mut bytes[..];
        let mut i = 0;
        while !rest.is_empty() {
            let cut = cuts[i % cuts.len()].clamp(1, rest.len());
            i += 1;
            let (piece, after) = rest.split_at_mut(cut);
            reader.feed(piece, &mut received)?;
            rest = after;
        }
        Ok(received)
    }

    const TEXT: OpCode = OpCode::Data(Data::Text);
    const BINARY: OpCode = OpCode::Data(Data::Binary);
    const CONTINUE: OpCode = OpCode::Data(Data::Continue);
    const PING: OpCode = OpCode::Control(Control::Ping);
    const CLOSE: OpCode = OpCode::Control(Control::Close);

    #[test]
    fn the_rules_tungstenite_applies_are_applied() {
        let mask = [1, 2, 3, 4];
        let cases: Vec<(&str, Vec<u8>, Result<(), SocketEnd>)> = vec![
            (
                "a frame at the limit",
                client_frame(BINARY, true, &[0; 100], mask),
                Ok(()),
            ),
            (
                "a frame over it",
                client_frame(BINARY, true, &[0; 101], mask),
                Err(SocketEnd::FrameTooBig),
            ),
            (
                "a message over it in fragments",
                [
                    client_frame(BINARY, false, &[0; 60], mask),
                    client_frame(CONTINUE, true, &[0; 41], mask),
                ]
                .concat(),
                Err(SocketEnd::FrameTooBig),
            ),
            (
                "text that is not UTF-8",
                client_frame(TEXT, true, &[0xff, 0xfe], mask),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "text ending inside a character",
                client_frame(
                    TEXT,
                    true,
                    "é".as_bytes().get(..1).unwrap_or_default(),
                    mask,
                ),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "a reserved opcode",
                client_frame(OpCode::Data(Data::Reserved(3)), true, &[1], mask),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "a continuation of nothing",
                client_frame(CONTINUE, true, b"x", mask),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "a new message inside a fragmented one",
                [
                    client_frame(TEXT, false, b"a", mask),
                    client_frame(TEXT, true, b"b", mask),
                ]
                .concat(),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "a fragmented ping",
                client_frame(PING, false, b"", mask),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "an oversized ping",
                client_frame(PING, true, &[0; 126], mask),
                Err(SocketEnd::FrameTooBig),
            ),
            (
                "a one-byte close",
                client_frame(CLOSE, true, &[3], mask),
                Err(SocketEnd::ProtocolViolation),
            ),
            (
                "a close reason that is not UTF-8",
                client_frame(CLOSE, true, &[3, 232, 0xff], mask),
                Err(SocketEnd::ProtocolViolation),
            ),
        ];
        for (name, bytes, expected) in cases {
            for cuts in [&[usize::MAX][..], &[1], &[3, 1, 7]] {
                let mut reader = Reader::new(100);
                let got = feed_in_pieces(&mut reader, &bytes, cuts).map(|_| ());
                assert_eq!(got, expected, "{name}, cut {cuts:?}");
            }
        }
        // Reserved bits.
        let mut frame = client_frame(BINARY, true, b"x", mask);
        frame[0] |= 0x40;
        let mut reader = Reader::new(100);
        assert_eq!(
            feed_in_pieces(&mut reader, &frame, &[1]),
            Err(SocketEnd::ProtocolViolation)
        );
        // Control frames over 125 bytes break the rules even under a larger limit.
        let mut reader = Reader::new(1000);
        assert_eq!(
            feed_in_pieces(
                &mut reader,
                &client_frame(PING, true, &[0; 126], mask),
                &[5]
            ),
            Err(SocketEnd::ProtocolViolation)
        );
    }

    #[test]
    fn closes_are_echoed_and_forbidden_codes_answered_with_1002() {
        let mask = [9, 8, 7, 6];
        let echo = |payload: &[u8]| {
            let mut reader = Reader::new(100);
            let bytes = [
                client_frame(CLOSE, true, payload, mask),
                client_frame(TEXT, true, &[0xff], mask),
            ]
            .concat();
            feed_in_pieces(&mut reader, &bytes, &[2])
                .expect("valid")
                .close
        };
        assert_eq!(echo(b""), Some(Bytes::new()));
        let mut normal = 1000u16.to_be_bytes().to_vec();
        normal.extend_from_slice(b"bye");
        assert_eq!(echo(&normal), Some(Bytes::from(normal.clone())));
        let mut answer = 1002u16.to_be_bytes().to_vec();
        answer.extend_from_slice(b"Protocol violation");
        // 1005 and 1006 are never sent; 999 is not a code.
        for code in [1005u16, 1006, 999] {
            assert_eq!(
                echo(&code.to_be_bytes()),
                Some(Bytes::from(answer.clone())),
                "{code}"
            );
        }
    }

    proptest! {
        /// Any sequence of valid client frames, cut anywhere, is read as
        /// tungstenite would: every complete message a sign of life, the
        /// latest Ping's payload to answer, nothing held afterwards.
        #[test]
        fn valid_frames_cut_anywhere_are_read_whole(
            texts in proptest::collection::vec("\\PC{0,40}", 1..6),
            ping in proptest::collection::vec(any::<u8>(), 0..=125),
            mask in any::<[u8; 4]>(),
            cuts in proptest::collection::vec(1usize..9, 1..8),
        ) {
            let mut bytes = Vec::new();
            for text in &texts {
                // Each text in two fragments, cut inside a character when
                // one is there, with a Ping between them.
                let raw = text.as_bytes();
                let (a, b) = raw.split_at(raw.len() / 2);
                bytes.extend(client_frame(TEXT, false, a, mask));
                bytes.extend(client_frame(PING, true, &ping, mask));
                bytes.extend(client_frame(CONTINUE, true, b, mask));
            }
            bytes.extend(client_frame(BINARY, true, &[0xff; 300], mask));
            let mut reader = Reader::new(1000);
            let received = feed_in_pieces(&mut reader, &bytes, &cuts);
            prop_assert_eq!(
                received,
                Ok(Received { alive: true, ping: Some(Bytes::from(ping)), close: None })
            );
            prop_assert_eq!(reader.heap_bytes(), 0);
            prop_assert!(reader.frame.is_none() && reader.message.is_none());
        }

        /// Whatever arrives, the reader answers without panicking.
        #[test]
        fn any_bytes_are_read_or_refused(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(1usize..50, 1..8),
        ) {
            let mut reader = Reader::new(200);
            let _ = feed_in_pieces(&mut reader, &bytes, &cuts);
            prop_assert!(reader.heap_bytes() <= MAX_CONTROL.next_power_of_two() * 2);
        }
    }
}
