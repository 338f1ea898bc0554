//! Why sessions end: the reasons the core closes with, and the transport
//! facts an adapter reports through [`Node::handle_closed`].
//!
//! [`Node::handle_closed`]: crate::Node::handle_closed

/// Why a session ended: decided by the core, counted in
/// [`Stats::closed`](crate::Stats::closed), and handed to the session's
/// writer as [`Transmit::Close`](crate::Transmit::Close).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent a Close frame; the adapter echoes its code (1000 when none).
    ClientClosed,
    /// The socket went away without a Close frame (reset, EOF, write error).
    Disconnected,
    /// The node is shutting down: 1001.
    Shutdown,
    /// The client broke the WebSocket protocol (a malformed frame, text that
    /// is not UTF-8, ...): 1002.
    ProtocolError,
    /// The client sent a frame or message over the inbound limit: 1009.
    MessageTooBig,
    /// The node failed: 1011.
    InternalError,
    /// Nothing arrived for `idle_timeout`: 4001.
    IdleTimeout,
    /// The outbound queue overflowed: 4008.
    SlowConsumer,
}

impl CloseReason {
    /// Every reason, in a stable order (for metrics). A slice, not an
    /// array, so that a new reason is not a breaking change.
    pub const ALL: &'static [CloseReason] = &[
        Self::ClientClosed,
        Self::Disconnected,
        Self::Shutdown,
        Self::ProtocolError,
        Self::MessageTooBig,
        Self::InternalError,
        Self::IdleTimeout,
        Self::SlowConsumer,
    ];

    /// The WebSocket close code the node sends, when it is the node that
    /// closes. `ClientClosed` echoes the client's code and `Disconnected` has
    /// no Close frame, so both are `None`.
    pub fn code(self) -> Option<u16> {
        match self {
            Self::ClientClosed | Self::Disconnected => None,
            Self::Shutdown => Some(1001),
            Self::ProtocolError => Some(1002),
            Self::MessageTooBig => Some(1009),
            Self::InternalError => Some(1011),
            Self::IdleTimeout => Some(4001),
            Self::SlowConsumer => Some(4008),
        }
    }

    /// A short reason text for the Close frame and logs.
    pub fn text(self) -> &'static str {
        match self {
            Self::ClientClosed => "client closed",
            Self::Disconnected => "disconnected",
            Self::Shutdown => "node shutting down",
            Self::ProtocolError => "protocol error",
            Self::MessageTooBig => "message over the inbound limit",
            Self::InternalError => "internal error",
            Self::IdleTimeout => "keep-alive timeout",
            Self::SlowConsumer => "slow consumer",
        }
    }

    /// A stable label for metrics (`slow_consumer`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Self::ClientClosed => "client_closed",
            Self::Disconnected => "disconnected",
            Self::Shutdown => "shutdown",
            Self::ProtocolError => "protocol_error",
            Self::MessageTooBig => "message_too_big",
            Self::InternalError => "internal_error",
            Self::IdleTimeout => "idle_timeout",
            Self::SlowConsumer => "slow_consumer",
        }
    }

    /// This reason's index in [`CloseReason::ALL`] (a unit test checks
    /// that the two agree).
    fn slot(self) -> usize {
        match self {
            Self::ClientClosed => 0,
            Self::Disconnected => 1,
            Self::Shutdown => 2,
            Self::ProtocolError => 3,
            Self::MessageTooBig => 4,
            Self::InternalError => 5,
            Self::IdleTimeout => 6,
            Self::SlowConsumer => 7,
        }
    }
}

/// What the adapter saw end a session's socket, or why its WebSocket layer
/// gave up on it: the input of [`Node::handle_closed`]. The core turns each
/// into the [`CloseReason`] it counts and the writer closes with, so the
/// close codes are decided here and not by the transport.
///
/// [`Node::handle_closed`]: crate::Node::handle_closed
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketEnd {
    /// The client sent a Close frame (the adapter's WebSocket layer echoes
    /// it): [`CloseReason::ClientClosed`].
    ClientClose,
    /// The socket went away without a Close frame (EOF, reset, a failed
    /// write), or the upgrade never completed: [`CloseReason::Disconnected`].
    Vanished,
    /// The WebSocket layer refused an inbound frame or message larger than
    /// [`Limits::max_inbound_frame`](crate::Limits::max_inbound_frame) (the
    /// adapter configures it with that limit, so nothing larger is ever
    /// buffered): [`CloseReason::MessageTooBig`], close code 1009.
    FrameTooBig,
    /// The WebSocket layer refused a frame that breaks RFC 6455 (a reserved
    /// opcode, an unmasked client frame, a Text message that is not UTF-8,
    /// ...): [`CloseReason::ProtocolError`], close code 1002.
    ProtocolViolation,
}

impl SocketEnd {
    /// The reason the core closes the session with.
    pub(crate) fn reason(self) -> CloseReason {
        match self {
            Self::ClientClose => CloseReason::ClientClosed,
            Self::Vanished => CloseReason::Disconnected,
            Self::FrameTooBig => CloseReason::MessageTooBig,
            Self::ProtocolViolation => CloseReason::ProtocolError,
        }
    }
}

/// Sessions closed, per [`CloseReason`]: private to [`crate::Stats`], read
/// through [`crate::Stats::closed`], so that adding a reason changes no
/// public type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClosedCounts {
    counts: [u64; CloseReason::ALL.len()],
}

impl ClosedCounts {
    /// Sessions closed for `reason`.
    pub(crate) fn get(&self, reason: CloseReason) -> u64 {
        self.counts[reason.slot()]
    }

    pub(crate) fn count(&mut self, reason: CloseReason) {
        self.counts[reason.slot()] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_slot_in_all_order() {
        for (index, reason) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(reason.slot(), index, "{reason:?}");
        }
    }

    #[test]
    fn closed_counts_count_per_reason() {
        let mut counts = ClosedCounts::default();
        counts.count(CloseReason::SlowConsumer);
        counts.count(CloseReason::SlowConsumer);
        counts.count(CloseReason::Shutdown);
        assert_eq!(counts.get(CloseReason::SlowConsumer), 2);
        assert_eq!(counts.get(CloseReason::Shutdown), 1);
        assert_eq!(counts.get(CloseReason::IdleTimeout), 0);
    }
}
