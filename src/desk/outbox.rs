//! A connection's bounded outbound queue as seen by the desk actor. The actor never waits
//! on a client: when a queue is full the client is too slow, and it is told to go (its
//! connection task closes it with a reason) rather than holding up everyone else.

use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use crate::core::ids::DeskId;
use crate::core::ids::EntryId;
use crate::core::intake::Intake;
use crate::core::room::{CitizenNote, OfficerNote, RoomView};

/// Identifies one WebSocket connection, so that a stale connection's goodbye does not
/// detach the newer connection that replaced it.
pub type ConnId = u64;

/// Messages per connection that may queue before the client counts as too slow.
pub const OUTBOX_CAPACITY: usize = 256;

/// What a desk knows about an entry beyond the core: enough to describe it to an officer.
#[derive(Clone, Debug)]
pub struct EntryInfo {
    pub reference: String,
    pub intake: Intake,
}

/// A desk's state for watchers (supervisors, officers' queue glance).
#[derive(Clone, Debug)]
pub struct DeskView {
    pub desk: DeskId,
    pub view: RoomView,
    /// Reference numbers of `view.queue`, in the same order.
    pub references: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum Outbound {
    Citizen(CitizenNote),
    /// An officer note, with the entry it concerns when there is one.
    Officer(OfficerNote, Option<(EntryId, Arc<EntryInfo>)>),
    Desk(Arc<DeskView>),
    /// Another connection took over this one's place (a second tab, a reload).
    Superseded,
    /// The desk moved to another node (this one lost its lease): reconnect to be routed
    /// there.
    Moved,
}

#[derive(Clone, Debug)]
pub struct Outbox {
    pub conn: ConnId,
    tx: mpsc::Sender<Outbound>,
    slow: Arc<Notify>,
}

/// The connection task's side of an outbox.
pub struct Inbox {
    pub rx: mpsc::Receiver<Outbound>,
    /// Notified when the desk had to give up on this connection because its queue was full.
    pub slow: Arc<Notify>,
}

impl Outbox {
    pub fn new(conn: ConnId) -> (Outbox, Inbox) {
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        let slow = Arc::new(Notify::new());
        (
            Outbox {
                conn,
                tx,
                slow: slow.clone(),
            },
            Inbox { rx, slow },
        )
    }

    /// Queues a message without waiting. Returns false if the connection is gone or too
    /// slow (in which case it has been told to close).
    pub fn push(&self, msg: Outbound) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("sunwai_slow_clients_dropped_total").increment(1);
                self.slow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
