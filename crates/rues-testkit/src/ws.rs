//! A WebSocket client holding a RUES session, and the two reads every
//! session client needs: the session id first, the close code last.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rues_core::SessionId;
use rues_core::http::Method;
use rues_core::rues_wire::Frame;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::http::Answer;
use crate::server::{PATIENCE, TestServer};

/// Reads the first message of a session, the session id as text.
///
/// # Panics
///
/// If it is not a text message within [`PATIENCE`].
pub async fn read_session_id<S>(ws: &mut WebSocketStream<S>) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("the session id in time")
        .expect("a message")
        .expect("no error");
    let Message::Text(text) = first else {
        panic!("the first message is Text, got {first:?}")
    };
    text.to_string()
}

/// Reads until the Close frame and returns its code; `None` if the
/// connection ends without one (or the frame has no code).
///
/// # Panics
///
/// If nothing ends the session within [`PATIENCE`].
pub async fn close_code<S>(ws: &mut WebSocketStream<S>) -> Option<u16>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A WebSocket client holding a session.
pub struct WsClient {
    /// The socket.
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The session id the node sent first.
    pub session: SessionId,
    /// The same, as sent (for `Rusk-Session-Id`).
    pub session_text: String,
}

impl WsClient {
    /// Opens a session at `url` (`ws://<addr>/on`).
    ///
    /// # Panics
    ///
    /// If the upgrade fails or the session id does not come within
    /// [`PATIENCE`].
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .expect("connected in time")
            .expect("upgraded");
        Self::from_stream(ws).await
    }

    /// A session on a socket already upgraded (e.g. over TLS): reads its id.
    ///
    /// # Panics
    ///
    /// If the first message is not a session id.
    pub async fn from_stream(mut ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let session_text = read_session_id(&mut ws).await;
        let session = session_text.parse().expect("a session id");
        Self {
            ws,
            session,
            session_text,
        }
    }

    /// `GET path` with this session.
    pub async fn subscribe(&self, server: &TestServer, path: &str) -> Answer {
        self.request(server, Method::GET, path).await
    }

    /// `DELETE path` with this session.
    pub async fn unsubscribe(&self, server: &TestServer, path: &str) -> Answer {
        self.request(server, Method::DELETE, path).await
    }

    async fn request(&self, server: &TestServer, method: Method, path: &str) -> Answer {
        let session = [("rusk-session-id", self.session_text.as_str())];
        server.http(method, path, &session, b"").await
    }

    /// The next event frame (skipping pings and pongs).
    ///
    /// # Panics
    ///
    /// If none comes within [`PATIENCE`], or anything else comes.
    pub async fn next_event(&mut self) -> Frame {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("an event in time")
                .expect("the socket is open")
                .expect("no error");
            match message {
                Message::Binary(bytes) => return Frame::decode(&bytes).expect("a valid frame"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// Asserts nothing but control frames arrive for `wait`.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(message) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Reads until the Close frame and returns its code; see [`close_code`].
    pub async fn close_code(&mut self) -> Option<u16> {
        close_code(&mut self.ws).await
    }

    /// Sends `message`.
    ///
    /// # Panics
    ///
    /// If the socket is closed.
    pub async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("sent");
    }
}
