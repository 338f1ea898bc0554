//! The session behind a [`Client`]: the state its handles, its
//! subscriptions and its background task share ([`Shared`]), and that task
//! (read one session's socket and route its events, reconnect and renew
//! the subscriptions, end the client).
//!
//! [`Client`]: crate::Client

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rues_target::EventPath;
use rues_wire::{Frame, Position, RUES_GAP, ResumeResult, SessionId};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::builder::{ReconnectPolicy, SessionSettings};
use crate::endpoint::EVENT_LIMITS;
use crate::error::{Error, short_reason};
use crate::event::Event;
use crate::http::{Dispatcher, status_error};
use crate::queue::{Gap, Queue};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a Close handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What keeps a session alive: held by the [`Client`](crate::Client)s and
/// the [`Subscription`](crate::Subscription)s. When the last one goes, the
/// command channel closes and the background task closes the session.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    Close(oneshot::Sender<()>),
}

impl Handle {
    /// Opens a session and starts its background task.
    pub(crate) async fn connect(
        dispatcher: Dispatcher,
        settings: SessionSettings,
    ) -> Result<Arc<Handle>, Error> {
        let (ws, session) = open_session(&settings).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let (outcome, _) = watch::channel(Outcome::Pending);
        let shared = Arc::new(Shared {
            dispatcher,
            settings,
            state: Mutex::new(State {
                session,
                connected: true,
                outcome: Outcome::Pending,
                next_id: 0,
                subs: HashMap::new(),
                positions: Vec::new(),
                feeds: HashMap::new(),
                remote: HashSet::new(),
            }),
            ops: tokio::sync::Mutex::new(()),
            outcome,
        });
        tokio::spawn(run(shared.clone(), ws, receiver));
        Ok(Arc::new(Handle { shared, commands }))
    }

    /// Closes the session (WebSocket Close 1000) and waits until it is
    /// closed.
    pub(crate) async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::Close(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

/// The state shared by the client handles, the subscriptions and the
/// background task.
pub(crate) struct Shared {
    dispatcher: Dispatcher,
    settings: SessionSettings,
    state: Mutex<State>,
    /// Serializes subscribe, unsubscribe and renewal, so the node's set of
    /// subscriptions and `State::remote` agree.
    ops: tokio::sync::Mutex<()>,
    /// How the client ended for good, once it has.
    outcome: watch::Sender<Outcome>,
}

/// Whether the client has ended for good, and how.
#[derive(Clone)]
enum Outcome {
    /// Not ended: the session is up, or being reconnected.
    Pending,
    /// Closed by the client: [`Client::close`](crate::Client::close), or
    /// every handle dropped.
    Closed,
    /// Ended by a failure: the session was lost without reconnect, or
    /// reconnecting gave up.
    Failed(Error),
}

impl Outcome {
    fn is_pending(&self) -> bool {
        matches!(self, Outcome::Pending)
    }

    /// The error that ended the client, when a failure did.
    fn error(&self) -> Option<Error> {
        match self {
            Outcome::Failed(error) => Some(error.clone()),
            Outcome::Pending | Outcome::Closed => None,
        }
    }
}

/// What [`Shared`] guards: the current session and the subscriptions.
pub(crate) struct State {
    /// The current session (while reconnecting or after the end, the last).
    pub(crate) session: SessionId,
    /// Whether the session is up now.
    pub(crate) connected: bool,
    outcome: Outcome,
    next_id: u64,
    subs: HashMap<u64, Entry>,
    /// The last frame that arrived on each stream (a path without entity
    /// standing for its stream), to resume from after a reconnect.
    positions: Vec<(EventPath, Position)>,
    /// Every open [`Feed`](crate::Feed)'s queue, by feed id.
    feeds: HashMap<u64, Arc<Queue>>,
    /// The paths the node holds for the current session.
    remote: HashSet<EventPath>,
}

struct Entry {
    path: EventPath,
    queue: Arc<Queue>,
    /// The [`Feed`](crate::Feed) the entry belongs to; `None` for a
    /// [`Subscription`](crate::Subscription), which has a queue of its own.
    feed: Option<u64>,
}

impl State {
    /// How many local subscriptions there are.
    pub(crate) fn subscriptions(&self) -> usize {
        self.subs.len()
    }

    /// Calls `push` once for each queue that has an entry `wants`: once per
    /// subscription, and once per feed however many of its paths match.
    fn each_queue(&self, wants: impl Fn(&Entry) -> bool, mut push: impl FnMut(&Queue)) {
        // Feeds already served: allocated only when a feed matches.
        let mut fed: Vec<u64> = Vec::new();
        for entry in self.subs.values().filter(|entry| wants(entry)) {
            if let Some(feed) = entry.feed {
                if fed.contains(&feed) {
                    continue;
                }
                fed.push(feed);
            }
            push(&entry.queue);
        }
    }

    /// Records that the frame at `position` of `path`'s stream arrived;
    /// `false` when one at it or past it already had (a duplicate, which a
    /// node never sends: per session and stream its numbers only grow).
    fn advance(&mut self, path: &EventPath, position: Position) -> bool {
        match self
            .positions
            .iter_mut()
            .find(|(stream, _)| same_stream(stream, path))
        {
            Some((_, last)) => {
                if last.epoch == position.epoch && position.seq <= last.seq {
                    return false;
                }
                *last = position;
            }
            None => self.positions.push((path.clone(), position)),
        }
        true
    }

    /// Each distinct path with the point to resume it from (the last frame
    /// that arrived on its stream: the node sent every frame of the stream
    /// before it, for every path), grouped by stream with the path without
    /// entity first: a node queues a stream's frames to a session in
    /// growing order only, so the widest path must replay first or the
    /// others' replays would stand in its way.
    fn resume_points(&self) -> Vec<Vec<(EventPath, Option<Position>)>> {
        let mut streams: Vec<Vec<(EventPath, Option<Position>)>> = Vec::new();
        for entry in self.subs.values() {
            let from = self
                .positions
                .iter()
                .find(|(stream, _)| same_stream(stream, &entry.path))
                .map(|(_, position)| *position);
            match streams
                .iter_mut()
                .find(|paths| same_stream(&paths[0].0, &entry.path))
            {
                Some(paths) => {
                    if !paths.iter().any(|(path, _)| path == &entry.path) {
                        paths.push((entry.path.clone(), from));
                    }
                }
                None => streams.push(vec![(entry.path.clone(), from)]),
            }
        }
        for paths in &mut streams {
            paths.sort_by_key(|(path, _)| path.entity().is_some());
        }
        streams
    }

    fn usable(&self) -> Result<(), Error> {
        match &self.outcome {
            Outcome::Failed(error) => Err(error.clone()),
            Outcome::Closed => Err(Error::Closed),
            Outcome::Pending if !self.connected => Err(Error::Reconnecting),
            Outcome::Pending => Ok(()),
        }
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The HTTP side, for the client's own requests.
    pub(crate) fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Registers a subscription to `path` (before the request goes out, so
    /// no event is missed), then subscribes on the node unless another
    /// subscription already holds `path` there. Returns its id and queue.
    pub(crate) async fn subscribe(&self, path: &EventPath) -> Result<(u64, Arc<Queue>), Error> {
        let queue = Queue::new(self.settings.buffer);
        let id = self.register(path, &queue, None).await?;
        Ok((id, queue))
    }

    /// Registers a new feed with its queue (ended with the client, even
    /// with no paths); its id is for [`subscribe_feed`](Self::subscribe_feed).
    pub(crate) fn new_feed(&self, queue: &Arc<Queue>) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        if state.outcome.is_pending() {
            state.feeds.insert(id, queue.clone());
        } else {
            queue.end(state.outcome.error());
        }
        id
    }

    /// Adds `path` to feed `feed` (whose queue is `queue`), as
    /// [`subscribe`](Self::subscribe) does; nothing when the feed already
    /// has it.
    pub(crate) async fn subscribe_feed(
        &self,
        feed: u64,
        queue: &Arc<Queue>,
        path: &EventPath,
    ) -> Result<(), Error> {
        self.register(path, queue, Some(feed)).await.map(drop)
    }

    /// Removes `path` from feed `feed`, and from the node when nothing else
    /// of this client needs it.
    pub(crate) async fn unsubscribe_feed(&self, feed: u64, path: &EventPath) -> Result<(), Error> {
        let removed = {
            let mut state = self.lock();
            let before = state.subs.len();
            state
                .subs
                .retain(|_, entry| !(entry.feed == Some(feed) && &entry.path == path));
            state.subs.len() != before
        };
        if removed {
            self.release_remote(path).await?;
        }
        Ok(())
    }

    /// Removes every path of feed `feed`, and each from the node when
    /// nothing else of this client needs it.
    pub(crate) async fn drop_feed(&self, feed: u64) {
        let paths: Vec<EventPath> = {
            let mut state = self.lock();
            state.feeds.remove(&feed);
            let mut paths = Vec::new();
            state.subs.retain(|_, entry| {
                let keep = entry.feed != Some(feed);
                if !keep {
                    paths.push(entry.path.clone());
                }
                keep
            });
            paths
        };
        for path in paths {
            let _ = self.release_remote(&path).await;
        }
    }

    /// The one way an entry is added: registered before the request goes
    /// out (so no event is missed), then subscribed on the node unless
    /// another entry already holds `path` there.
    async fn register(
        &self,
        path: &EventPath,
        queue: &Arc<Queue>,
        feed: Option<u64>,
    ) -> Result<u64, Error> {
        let _ops = self.ops.lock().await;
        let (id, session, request) = {
            let mut state = self.lock();
            state.usable()?;
            if let Some(feed) = feed {
                let existing = state
                    .subs
                    .iter()
                    .find(|(_, entry)| entry.feed == Some(feed) && &entry.path == path);
                if let Some((&id, _)) = existing {
                    return Ok(id);
                }
            }
            state.next_id += 1;
            let id = state.next_id;
            state.subs.insert(
                id,
                Entry {
                    path: path.clone(),
                    queue: queue.clone(),
                    feed,
                },
            );
            (id, state.session, !state.remote.contains(path))
        };
        if request {
            if let Err(error) = self.dispatcher.subscribe(session, path).await {
                let mut state = self.lock();
                state.subs.remove(&id);
                // A request that failed because the session just dropped
                // says so, rather than the node's 424.
                if !state.connected && state.outcome.is_pending() {
                    return Err(Error::Reconnecting);
                }
                return Err(error);
            }
            let mut state = self.lock();
            if state.session == session {
                state.remote.insert(path.clone());
            }
        }
        Ok(id)
    }

    /// Unsubscribes `path` on the node and ends every local subscription to
    /// exactly that path.
    pub(crate) async fn unsubscribe(&self, path: &EventPath) -> Result<(), Error> {
        let _ops = self.ops.lock().await;
        let session = {
            let mut state = self.lock();
            state.subs.retain(|_, entry| {
                let keep = &entry.path != path;
                if !keep {
                    entry.queue.end(None);
                }
                keep
            });
            state.remote.remove(path);
            if !state.connected {
                // The node already forgot every subscription of the old
                // session, and this path will not be renewed.
                return match &state.outcome {
                    Outcome::Closed | Outcome::Failed(_) => Err(Error::Closed),
                    Outcome::Pending => Ok(()),
                };
            }
            state.session
        };
        self.dispatcher.unsubscribe(session, path).await
    }

    /// Waits until the client has ended for good, and says why.
    pub(crate) async fn closed(&self) -> Option<Error> {
        let mut outcome = self.outcome.subscribe();
        match outcome.wait_for(|outcome| !outcome.is_pending()).await {
            Ok(value) => value.error(),
            Err(_) => Some(Error::Closed),
        }
    }

    /// Removes a subscription locally and ends its stream; returns its path
    /// if it was still registered.
    pub(crate) fn forget(&self, id: u64) -> Option<EventPath> {
        let entry = self.lock().subs.remove(&id)?;
        entry.queue.end(None);
        Some(entry.path)
    }

    /// Unsubscribes `path` on the node if no local subscription needs it
    /// any more.
    pub(crate) async fn release_remote(&self, path: &EventPath) -> Result<(), Error> {
        let _ops = self.ops.lock().await;
        let session = {
            let mut state = self.lock();
            if state.subs.values().any(|entry| &entry.path == path) {
                return Ok(());
            }
            if !state.remote.remove(path) || !state.connected {
                return Ok(());
            }
            state.session
        };
        self.dispatcher.unsubscribe(session, path).await
    }

    /// Routes one event frame to the subscriptions it matches: an event to
    /// each subscription whose path matches it, and once to each feed; a
    /// gap notice (`Rues-Gap`, no payload) to everything on its stream.
    fn route(&self, message: &Bytes) -> Result<(), Error> {
        let frame = Frame::decode(message)
            .map_err(|e| Error::protocol(format!("undecodable event frame: {e}")))?;
        let location = frame
            .content_location()
            .ok_or_else(|| Error::protocol("event frame without Content-Location"))?;
        let path = EventPath::parse_with(location, &EVENT_LIMITS).map_err(|e| {
            Error::protocol(format!(
                "event frame with an invalid Content-Location {location:?}: {e}"
            ))
        })?;
        let position = frame.position().map_err(|e| {
            Error::protocol(format!(
                "event frame with malformed Rues-Seq or Rues-Epoch: {e}"
            ))
        })?;
        let mut state = self.lock();
        if let Some(position) = position {
            if !state.advance(&path, position) {
                return Ok(());
            }
        }
        if let Some(reason) = frame.headers().get(RUES_GAP) {
            // Whatever the entity, every subscription on the stream may
            // have lost events.
            let gap = Gap::Lost {
                reason: reason.to_owned(),
                stream: path.clone(),
            };
            state.each_queue(
                |entry| same_stream(&entry.path, &path),
                |queue| queue.push_gap(gap.clone()),
            );
            return Ok(());
        }
        let (headers, payload) = frame.into_parts();
        let event = Event::new(path, headers, payload);
        state.each_queue(
            |entry| entry.path.matches(event.path()),
            |queue| queue.push_event(event.clone()),
        );
        Ok(())
    }

    /// Renews every subscription on a new session, resuming each path from
    /// the last event it delivered (docs/protocol.md §10), and tells each
    /// stream what it missed: nothing when the node replayed everything
    /// (`complete`), [`Gap::Missed`] with the lost numbers (`gap`),
    /// [`Gap::Reconnected`] when the node could not say (`reset`, a node
    /// without resume, or nothing delivered yet to resume from).
    ///
    /// A path the node refuses for good (a 4xx other than 424: unknown on
    /// this node, denied, too many) ends its streams with the node's answer.
    /// Any other failure (424, 5xx, a transport error) means the new
    /// session is no good: the caller drops it and reconnects again.
    async fn renew(&self, session: SessionId, cause: &Error) -> Result<(), Error> {
        let _ops = self.ops.lock().await;
        let (previous, streams) = {
            let mut state = self.lock();
            let previous = std::mem::replace(&mut state.session, session);
            state.connected = true;
            state.remote.clear();
            (previous, state.resume_points())
        };
        // The streams all at once, each stream's paths in turn (see
        // `resume_points`). The socket is not read meanwhile, so the
        // replayed events wait behind the gaps queued below.
        let answers = futures_util::future::join_all(streams.iter().map(|paths| async move {
            let mut answers = Vec::with_capacity(paths.len());
            for (path, from) in paths {
                answers.push(self.dispatcher.subscribe_from(session, path, *from).await);
            }
            answers
        }))
        .await;
        let paths: Vec<EventPath> = streams
            .into_iter()
            .flatten()
            .map(|(path, _)| path)
            .collect();
        let answers: Vec<Result<Option<ResumeResult>, Error>> =
            answers.into_iter().flatten().collect();
        let refused_for_good = |error: &Error| {
            matches!(error, Error::Status { status, .. }
                if status.is_client_error() && *status != http::StatusCode::FAILED_DEPENDENCY)
        };
        if let Some(error) = answers
            .iter()
            .find_map(|answer| answer.as_ref().err().filter(|e| !refused_for_good(e)))
        {
            // The next session is told of as following the last one
            // renewed, not this one, which nobody saw.
            let mut state = self.lock();
            state.connected = false;
            state.session = previous;
            return Err(error.clone());
        }
        let reconnected = Gap::Reconnected {
            previous,
            session,
            cause: cause.clone(),
        };
        let mut state = self.lock();
        // Feeds already told of the reconnect: once each.
        let mut told: Vec<u64> = Vec::new();
        for (path, answer) in paths.into_iter().zip(answers) {
            match answer {
                Ok(result) => {
                    let gap = match result {
                        Some(ResumeResult::Complete { .. }) => None,
                        Some(ResumeResult::Gap {
                            first_lost,
                            last_lost,
                            ..
                        }) => Some(Gap::Missed {
                            path: path.clone(),
                            first: first_lost,
                            last: last_lost,
                        }),
                        _ => Some(reconnected.clone()),
                    };
                    for entry in state.subs.values().filter(|entry| entry.path == path) {
                        let Some(gap) = &gap else { continue };
                        if let (Some(feed), Gap::Reconnected { .. }) = (entry.feed, gap) {
                            if told.contains(&feed) {
                                continue;
                            }
                            told.push(feed);
                        }
                        entry.queue.push_gap(gap.clone());
                    }
                    state.remote.insert(path);
                }
                Err(error) => {
                    state.subs.retain(|_, entry| {
                        let keep = entry.path != path;
                        if !keep {
                            // A subscription hears of the reconnect, then
                            // ends; a feed goes on with its other paths,
                            // told which one it lost.
                            match entry.feed {
                                None => {
                                    entry.queue.push_gap(reconnected.clone());
                                    entry.queue.end(Some(error.clone()));
                                }
                                Some(_) => entry.queue.push_gap(Gap::Dropped {
                                    path: path.clone(),
                                    error: error.clone(),
                                }),
                            }
                        }
                        keep
                    });
                }
            }
        }
        Ok(())
    }

    fn finish(&self, outcome: Outcome) {
        {
            let mut state = self.lock();
            state.connected = false;
            state.outcome = outcome.clone();
            state.remote.clear();
            for (_, entry) in state.subs.drain() {
                entry.queue.end(outcome.error());
            }
            for (_, queue) in state.feeds.drain() {
                queue.end(outcome.error());
            }
        }
        self.outcome.send_replace(outcome);
    }
}

enum SessionEnd {
    /// Closed by the client: `close()`, or every handle dropped.
    Deliberate(Option<oneshot::Sender<()>>),
    /// Lost: the node closed it, the connection failed, or the node broke
    /// the protocol.
    Lost(Error),
}

/// Whether `a` and `b` are paths of one stream (component and topic).
fn same_stream(a: &EventPath, b: &EventPath) -> bool {
    a.component() == b.component() && a.topic() == b.topic()
}

/// The background task: reads sessions, reconnects, ends the client.
async fn run(shared: Arc<Shared>, mut ws: Ws, mut commands: mpsc::UnboundedReceiver<Command>) {
    let (outcome, ack) = 'sessions: loop {
        let mut cause = match read_session(&shared, &mut ws, &mut commands).await {
            SessionEnd::Deliberate(ack) => break (Outcome::Closed, ack),
            SessionEnd::Lost(cause) => cause,
        };
        shared.lock().connected = false;
        let Some(policy) = shared.settings.reconnect.clone() else {
            break (Outcome::Failed(cause), None);
        };
        // Counted until a session is up with its subscriptions renewed.
        let mut attempts = 0u32;
        loop {
            match reconnect(
                &shared.settings,
                &policy,
                &mut attempts,
                &cause,
                &mut commands,
            )
            .await
            {
                Reconnected::Session(new_ws, session) => {
                    let mut new_ws = *new_ws;
                    match shared.renew(session, &cause).await {
                        Ok(()) => {
                            ws = new_ws;
                            continue 'sessions;
                        }
                        Err(error) => {
                            close_socket(&mut new_ws, CloseCode::Away, "").await;
                            cause = error;
                        }
                    }
                }
                Reconnected::Stopped(ack) => break 'sessions (Outcome::Closed, ack),
                Reconnected::GaveUp(error) => break 'sessions (Outcome::Failed(error), None),
            }
        }
    };
    shared.finish(outcome);
    if let Some(ack) = ack {
        let _ = ack.send(());
    }
}

/// Reads one session until it ends.
async fn read_session(
    shared: &Shared,
    ws: &mut Ws,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> SessionEnd {
    let keep_alive = shared.settings.keep_alive;
    let mut last_heard = Instant::now();
    let mut pinged = false;
    loop {
        // Checked: an absurd interval means no timer, not an overflow.
        let deadline = keep_alive.and_then(|every| {
            last_heard.checked_add(if pinged {
                every.saturating_mul(2)
            } else {
                every
            })
        });
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => {
                let ack = command.map(|Command::Close(ack)| ack);
                close_socket(ws, CloseCode::Normal, "").await;
                return SessionEnd::Deliberate(ack);
            }
            message = ws.next() => {
                last_heard = Instant::now();
                pinged = false;
                match message {
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Err(error) = shared.route(&bytes) {
                            close_socket(ws, CloseCode::Protocol, "undecodable event frame").await;
                            return SessionEnd::Lost(error);
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite has queued the echo; reading on sends it.
                        let _ = tokio::time::timeout(CLOSE_GRACE, async {
                            while let Some(Ok(_)) = ws.next().await {}
                        })
                        .await;
                        return SessionEnd::Lost(closed_by_node(frame));
                    }
                    // Text after the session id carries nothing for us; pings
                    // are answered by tungstenite as it reads.
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return SessionEnd::Lost(Error::lost(short_reason(&error))),
                    None => return SessionEnd::Lost(Error::lost("the connection closed without a Close frame")),
                }
            }
            () = timer => {
                if pinged {
                    let silence = keep_alive.unwrap_or_default().saturating_mul(2);
                    close_socket(ws, CloseCode::Away, "keep-alive timeout").await;
                    return SessionEnd::Lost(Error::lost(format!(
                        "no answer from the node for {silence:?} (keep-alive)"
                    )));
                }
                pinged = true;
                if let Err(error) = ws.send(Message::Ping(Bytes::new())).await {
                    return SessionEnd::Lost(Error::lost(short_reason(&error)));
                }
            }
        }
    }
}

fn closed_by_node(frame: Option<CloseFrame>) -> Error {
    match frame {
        Some(frame) => Error::SessionClosed {
            code: Some(u16::from(frame.code)),
            reason: frame.reason.to_string(),
        },
        None => Error::SessionClosed {
            code: None,
            reason: "the node closed the session without a code".into(),
        },
    }
}

/// Sends a Close frame and waits (briefly) for the node's echo.
async fn close_socket(ws: &mut Ws, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if ws.close(Some(frame)).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

enum Reconnected {
    Session(Box<Ws>, SessionId),
    Stopped(Option<oneshot::Sender<()>>),
    GaveUp(Error),
}

async fn reconnect(
    settings: &SessionSettings,
    policy: &ReconnectPolicy,
    attempts: &mut u32,
    last_error: &Error,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Reconnected {
    loop {
        if policy
            .max_attempts_value()
            .is_some_and(|max| *attempts >= max)
        {
            return Reconnected::GaveUp(last_error.clone());
        }
        *attempts = attempts.saturating_add(1);
        let attempt = *attempts;
        let attempt_result = tokio::select! {
            command = commands.recv() => {
                return Reconnected::Stopped(command.map(|Command::Close(ack)| ack));
            }
            result = async {
                tokio::time::sleep(policy.delay(attempt)).await;
                open_session(settings).await
            } => result,
        };
        match attempt_result {
            Ok((ws, session)) => return Reconnected::Session(Box::new(ws), session),
            Err(error) => {
                if policy
                    .max_attempts_value()
                    .is_some_and(|max| attempt >= max)
                {
                    return Reconnected::GaveUp(error);
                }
            }
        }
    }
}

/// Opens a WebSocket session and reads its id.
async fn open_session(settings: &SessionSettings) -> Result<(Ws, SessionId), Error> {
    let base = settings.endpoint.base();
    let url = settings.endpoint.session_url();
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::invalid_url(url.as_str(), e.to_string()))?;
    request
        .headers_mut()
        .extend(settings.upgrade_headers.clone());
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(settings.ws_config),
        true,
        Some(settings.connector.clone()),
    );
    let (mut ws, _response) = match tokio::time::timeout(settings.connect_timeout, connect).await {
        Err(_) => {
            return Err(Error::Connect {
                url: base.to_owned(),
                reason: format!("no connection within {:?}", settings.connect_timeout),
                source: None,
            });
        }
        Ok(Err(error)) => return Err(upgrade_error(base, error)),
        Ok(Ok(connected)) => connected,
    };
    match tokio::time::timeout(settings.connect_timeout, session_id(&mut ws)).await {
        Ok(Ok(session)) => Ok((ws, session)),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(Error::protocol(format!(
            "the node sent no session id within {:?}",
            settings.connect_timeout
        ))),
    }
}

/// The session's first message: the session id, as Text.
async fn session_id(ws: &mut Ws) -> Result<SessionId, Error> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return text.as_str().parse().map_err(|_| {
                    let shown: String = text.as_str().chars().take(80).collect();
                    Error::protocol(format!(
                        "the session's first message is not a session id: {shown:?} (expected 32 hex characters)"
                    ))
                });
            }
            Some(Ok(Message::Binary(bytes))) => {
                return Err(Error::protocol(format!(
                    "the session's first message is binary ({} bytes); expected the session id as text",
                    bytes.len()
                )));
            }
            Some(Ok(Message::Close(frame))) => return Err(closed_by_node(frame)),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(Error::lost(short_reason(&error))),
            None => {
                return Err(Error::lost("the connection closed before the session id"));
            }
        }
    }
}

fn upgrade_error(base: &str, error: tungstenite::Error) -> Error {
    match error {
        tungstenite::Error::Http(response) => {
            let (parts, body) = (*response).into_parts();
            status_error(
                parts.status,
                &parts.headers,
                body.as_deref().unwrap_or_default(),
            )
        }
        tungstenite::Error::Url(e) => Error::invalid_url(base, e.to_string()),
        other => Error::Connect {
            url: base.to_owned(),
            reason: short_reason(&other),
            source: Some(Arc::new(other)),
        },
    }
}
