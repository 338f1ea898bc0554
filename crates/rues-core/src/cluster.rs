//! What a node tells a cluster backplane, and what it leaves to it
//! (docs/protocol.md §11). Only a node whose [`Config::cluster`] is set
//! records changes or forwards: a single node pays nothing for this.
//!
//! The core stays sans-IO: it neither knows NATS nor waits for anything.
//! It reports, in order, every fact a backplane must mirror (a session
//! opened or closed, the first local subscription to a path or the last one
//! gone), which the adapter drains with [`Node::take_changes`] after each
//! call; and where one node cannot answer a request alone (a session it
//! does not own, a dispatch it has no handler for) it says so with
//! [`Decision::Forward`], carrying the answer it would give alone.
//!
//! [`Config::cluster`]: crate::Config::cluster
//! [`Node::take_changes`]: crate::Node::take_changes
//! [`Decision::Forward`]: crate::Decision::Forward

use rues_target::EventPath;
use rues_wire::SessionId;

use crate::request::BodyLimit;
use crate::response::{Response, ResponseContext};
use http::StatusCode;

/// A fact about the node's sessions and interest, for a cluster backplane.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// A session opened here: this node owns it now.
    SessionOpened(SessionId),
    /// A session this node owned is gone.
    SessionClosed(SessionId),
    /// The first local subscription to this path (with an entity, or
    /// without one: every entity and none): events published elsewhere at
    /// paths it matches are wanted here from now on.
    InterestAdded(EventPath),
    /// The last local subscription to this path is gone.
    InterestDropped(EventPath),
}

/// Where a request comes from, as far as forwarding goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Straight from a client: a cluster node may forward it.
    #[default]
    Client,
    /// Forwarded to this node as the owner of the session it names: the
    /// session is decided here (424 if it is gone); a dispatch this node
    /// has no handler for still goes on to a service.
    ForOwner,
    /// Forwarded to this node as a service for the dispatch's topic: the
    /// node that forwarded it checked the session, so it is taken as
    /// given; nothing is forwarded again.
    ForService,
}

/// Who must answer a request this node cannot answer alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The node that owns this session.
    Owner(SessionId),
    /// Whoever serves dispatches to this path's (component, topic).
    Service(EventPath),
}

/// A request to forward, and what to answer if nobody takes it.
#[derive(Debug)]
pub struct Forward {
    /// Where to send it.
    pub to: Destination,
    /// The answer a single node gives: sent when nobody in the cluster
    /// takes the request (no owner, no service).
    pub fallback: Response,
    /// For a dispatch: how much body to read before forwarding it (one
    /// byte more means 413, as on one node). `None` for a bodiless request.
    pub body: Option<BodyLimit>,
    pub(crate) context: ResponseContext,
}

impl Forward {
    /// The answer when the request was forwarded but no answer came back
    /// whole (the other node timed out, went away, or the broker did):
    /// this node's error with `status` (502, 503, 504), never a silent
    /// fallback, since someone did take the request.
    pub fn failed(&self, status: StatusCode, message: &str) -> Response {
        self.context.error(status, message)
    }
}
