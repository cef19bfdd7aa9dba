//! A connection's bounded outbound queue as seen by the desk actor. The actor never waits
//! on a client: when a queue is full the client is too slow, and it is told to go (its
//! connection task closes it with a reason) rather than holding up everyone else.

use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};

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
    /// Calls whose media one side is reconnecting, and whose.
    pub reconnecting: std::collections::HashMap<EntryId, MediaSide>,
}

/// A side of a call's media.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaSide {
    Citizen,
    Officer,
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
    /// What the SFU says about the call's media, for this connection's page.
    Media(crate::sfu::LegEvent),
    /// Not a message: what follows waits until the record writer has committed what the
    /// desk sent it before this (see [`Inbox::recv`]).
    AfterWrite(Gate),
}

/// Opens once the record writer has committed a batch of notes (or is gone).
#[derive(Clone, Debug)]
pub struct Gate(watch::Receiver<bool>);

impl Gate {
    /// A closed gate, and what opens it.
    pub fn new() -> (GateKey, Gate) {
        let (tx, rx) = watch::channel(false);
        (GateKey(tx), Gate(rx))
    }
}

/// Opens its [`Gate`]s; dropping it opens them too (nothing is left to wait for).
#[derive(Debug)]
pub struct GateKey(watch::Sender<bool>);

impl GateKey {
    pub fn open(self) {
        let _ = self.0.send(true);
    }
}

#[derive(Clone, Debug)]
pub struct Outbox {
    pub conn: ConnId,
    tx: mpsc::Sender<Outbound>,
    slow: Arc<Notify>,
}

/// The connection task's side of an outbox.
pub struct Inbox {
    rx: mpsc::Receiver<Outbound>,
    /// Notified when the desk had to give up on this connection because its queue was full.
    pub slow: Arc<Notify>,
    /// A gate the next message waits behind.
    gate: Option<watch::Receiver<bool>>,
}

impl Inbox {
    /// The next message, in the order the desk queued them; `None` once the desk is gone.
    /// Messages queued behind an [`Outbound::AfterWrite`] come only once its gate opens.
    /// Cancel-safe: a gate being waited on is kept for the next call.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            if let Some(gate) = &mut self.gate {
                // An error is a gate whose key was dropped: nothing left to wait for.
                let _ = gate.wait_for(|open| *open).await;
                self.gate = None;
            }
            match self.rx.recv().await? {
                Outbound::AfterWrite(Gate(gate)) => self.gate = Some(gate),
                msg => return Some(msg),
            }
        }
    }

    /// The next message if one can be had without waiting (for tests).
    pub fn try_recv(&mut self) -> Option<Outbound> {
        if self.gate.as_ref().is_some_and(|g| !is_open(g)) {
            return None;
        }
        self.gate = None;
        loop {
            match self.rx.try_recv().ok()? {
                Outbound::AfterWrite(Gate(gate)) => {
                    if !is_open(&gate) {
                        self.gate = Some(gate);
                        return None;
                    }
                }
                msg => return Some(msg),
            }
        }
    }
}

/// Opened, or its key is gone.
fn is_open(gate: &watch::Receiver<bool>) -> bool {
    *gate.borrow() || gate.has_changed().is_err()
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
            Inbox {
                rx,
                slow,
                gate: None,
            },
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
