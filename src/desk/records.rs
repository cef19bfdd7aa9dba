//! The record writer: turns the room's record notes into store writes and makes them in
//! order. Desks send over a bounded channel and wait when it is full, so a slow database
//! slows the desks down rather than losing a record. A desk that must not answer before
//! its notes are on disk sends [`RecordJob::Flushed`] after them and waits for that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, oneshot};

use crate::core::ids::DeskId;
use crate::core::room::Today;
use crate::core::room::{Class, RecordNote, Saved};
use crate::core::schedule::{local_midnight, Override, Window};
use crate::store::{
    Complaint, Disposition, Fence, OverrideKind, QueueClass, QueuePlace, RecordEvent,
    ScheduleOverride, Store, StoreError,
};

use super::{EntryInfo, SavedDesk, SavedEntry};

/// Record notes that may queue before desks wait for the database.
pub const RECORD_QUEUE: usize = 4096;

#[derive(Debug)]
pub enum RecordJob {
    Note {
        desk: DeskId,
        note: RecordNote,
        at: Timestamp,
    },
    /// A supervisor changed the desk's schedule: the overrides now in force, in order.
    Overrides {
        desk: DeskId,
        overrides: Vec<Override>,
    },
    /// Answered once every job sent before it has been written (or has finally failed).
    Flushed(oneshot::Sender<()>),
}

/// One write to the store.
#[derive(Clone, Debug)]
pub enum Write {
    Event(RecordEvent),
    Place(QueuePlace),
    Overrides(DeskId, Vec<ScheduleOverride>),
}

impl Write {
    async fn run(&self, store: &Store, fence: Option<&Fence>) -> Result<(), StoreError> {
        match (self, fence) {
            (Write::Event(ev), None) => store.apply(ev.clone()).await,
            (Write::Event(ev), Some(f)) => store.apply_fenced(ev.clone(), f).await,
            (Write::Place(p), None) => store.place(p).await,
            (Write::Place(p), Some(f)) => store.place_fenced(p, f).await,
            (Write::Overrides(desk, list), fence) => store.save_overrides(desk, list, fence).await,
        }
    }
}

/// With several nodes: the lease epoch under which this node serves each desk. The record
/// writer fences every write with it, so that notes still queued when a desk was taken
/// over by another node are refused instead of written into the room the new owner
/// restored. A std lock, held only to read or set one entry.
#[derive(Debug)]
pub struct Fences {
    node: String,
    epochs: Mutex<HashMap<DeskId, u64>>,
}

impl Fences {
    pub fn new(node: String) -> Fences {
        Fences {
            node,
            epochs: Mutex::new(HashMap::new()),
        }
    }

    /// This node serves `desk` from now on, in `epoch`.
    pub fn set(&self, desk: &DeskId, epoch: u64) {
        self.epochs
            .lock()
            .expect("the fences' lock is never held across a panic")
            .insert(desk.clone(), epoch);
    }

    /// The fence for a write about `desk`. Epoch 0, which no lease has, for a desk never
    /// served here: such a write is refused.
    fn fence(&self, desk: &DeskId) -> Fence {
        let epochs = self
            .epochs
            .lock()
            .expect("the fences' lock is never held across a panic");
        Fence {
            desk: desk.clone(),
            node: self.node.clone(),
            epoch: epochs.get(desk).copied().unwrap_or(0),
        }
    }
}

pub fn queue_class(c: Class) -> QueueClass {
    match c {
        Class::Interrupted => QueueClass::Interrupted,
        Class::Carried => QueueClass::Carried,
        Class::Normal => QueueClass::Normal,
    }
}

pub fn room_class(c: QueueClass) -> Class {
    match c {
        QueueClass::Interrupted => Class::Interrupted,
        QueueClass::Carried => Class::Carried,
        QueueClass::Normal => Class::Normal,
    }
}

fn stored_override(o: &Override) -> ScheduleOverride {
    let (kind, from, until) = match *o {
        Override::Opened { window } => (OverrideKind::Opened, window.opens_at, window.closes_at),
        Override::Extended { from, until } => (OverrideKind::Extended, from, until),
        Override::Closed { from, until } => (OverrideKind::Closed, from, until),
    };
    ScheduleOverride { kind, from, until }
}

fn room_override(o: &ScheduleOverride) -> Override {
    let (from, until) = (o.from, o.until);
    match o.kind {
        OverrideKind::Opened => Override::Opened {
            window: Window {
                opens_at: from,
                closes_at: until,
            },
        },
        OverrideKind::Extended => Override::Extended { from, until },
        OverrideKind::Closed => Override::Closed { from, until },
    }
}

/// The desk as the last run left it (its waiting room, the supervisors' changes to its
/// schedule, and what happened so far on the local day of `now` in `tz`), ready for
/// `spawn_desk`.
pub async fn load_saved(
    store: &Store,
    desk: &DeskId,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<SavedDesk, StoreError> {
    let overrides = store
        .overrides(desk)
        .await?
        .iter()
        .map(room_override)
        .collect();
    let entries = load_entries(store, desk).await?;
    let today = store
        .video_records(desk, local_midnight(now, tz), TODAY_RECORDS)
        .await?;
    Ok(SavedDesk {
        entries,
        overrides,
        today: today_from(&today),
    })
}

/// The most of today's records read to take up the day's counters after a restart.
const TODAY_RECORDS: u32 = 20_000;

/// The day's counters and call lengths from today's records (any order).
fn today_from(records: &[Complaint]) -> Today {
    let mut today = Today::default();
    let mut calls = Vec::new();
    for c in records {
        match c.disposition {
            Disposition::Completed => {
                if let (Some(talk), Some(ended)) = (c.talk_secs, c.ended_at) {
                    calls.push((ended, SignedDuration::from_secs(talk.max(0))));
                }
            }
            Disposition::Abandoned => today.abandoned += 1,
            Disposition::CarriedOver => today.carried_over += 1,
            _ => {}
        }
        // Only calls that are over: one cut by the restart is answered again, and counted
        // then.
        let over = matches!(
            c.disposition,
            Disposition::Completed | Disposition::Abandoned
        );
        if let (true, Some(_), Some(waited)) = (over, c.answered_at, c.wait_secs) {
            today.waits.push(SignedDuration::from_secs(waited.max(0)));
        }
    }
    calls.sort_by_key(|(ended, _)| *ended);
    today.calls = calls.into_iter().map(|(_, talk)| talk).collect();
    today
}

async fn load_entries(store: &Store, desk: &DeskId) -> Result<Vec<SavedEntry>, StoreError> {
    let open = store.waiting_room(desk).await?;
    Ok(open
        .into_iter()
        .map(|o| {
            let c = o.complaint;
            let in_call_with = match (c.disposition, c.officer) {
                (Disposition::InCall, Some(officer)) => Some(officer),
                (Disposition::InCall, None) => {
                    tracing::warn!(reference = %c.reference, "a call without an officer; restored as waiting");
                    None
                }
                _ => None,
            };
            SavedEntry {
                saved: Saved {
                    entry: c.id,
                    intake: c.intake.clone(),
                    joined_at: c.created_at,
                    place: o.place.map(|(class, seq)| (room_class(class), seq)),
                    in_call_with,
                },
                info: EntryInfo {
                    reference: c.reference.to_string(),
                    intake: c.intake,
                },
            }
        })
        .collect())
}

pub fn to_write(desk: DeskId, note: RecordNote, at: Timestamp) -> Write {
    match note {
        RecordNote::Placed { entry, class, seq } => Write::Place(QueuePlace {
            id: entry,
            desk,
            class: queue_class(class),
            seq,
            at,
        }),
        note => Write::Event(to_event(note, at)),
    }
}

pub fn to_event(note: RecordNote, at: Timestamp) -> RecordEvent {
    match note {
        RecordNote::Offered {
            entry,
            officer,
            officer_name,
        } => RecordEvent::Offered {
            id: entry,
            at,
            officer,
            officer_name,
        },
        RecordNote::Declined {
            entry,
            officer,
            timed_out,
        } => RecordEvent::OfferDeclined {
            id: entry,
            at,
            officer,
            timed_out,
        },
        RecordNote::Answered {
            entry,
            officer,
            officer_name,
        } => RecordEvent::Answered {
            id: entry,
            at,
            officer,
            officer_name,
        },
        RecordNote::Ended { entry, by } => RecordEvent::Ended {
            id: entry,
            at,
            by: by.as_str().to_owned(),
        },
        RecordNote::Interrupted { entry, reason, .. } => RecordEvent::Interrupted {
            id: entry,
            at,
            reason: reason.as_str().to_owned(),
        },
        RecordNote::Resumed {
            entry,
            officer,
            officer_name,
        } => RecordEvent::Resumed {
            id: entry,
            at,
            officer,
            officer_name,
        },
        // Turned into a place write by `to_write`; as an event it is only a note.
        RecordNote::Placed { entry, class, seq } => RecordEvent::Note {
            id: entry,
            at,
            actor: crate::store::Actor::System,
            text: crate::store::said::queue_place(queue_class(class), seq),
        },
        RecordNote::Abandoned { entry, because } => RecordEvent::Abandoned {
            id: entry,
            at,
            reason: because.as_str().to_owned(),
        },
        RecordNote::CarriedOver { entry, next, .. } => RecordEvent::CarriedOver {
            id: entry,
            at,
            next_window_opens_at: next.map(|w| w.opens_at),
        },
        RecordNote::Requeued { entry } => RecordEvent::Requeued { id: entry, at },
    }
}

/// Starts the writer; it ends when every sender is gone and the queue is drained. With
/// `fences` (several nodes) every write is fenced by this node's lease on its desk.
pub fn spawn_record_writer(
    store: Store,
    fences: Option<Arc<Fences>>,
) -> (mpsc::Sender<RecordJob>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<RecordJob>(RECORD_QUEUE);
    let task = tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let (write, fence) = match job {
                RecordJob::Note { desk, note, at } => {
                    let fence = fences.as_ref().map(|f| f.fence(&desk));
                    (to_write(desk, note, at), fence)
                }
                RecordJob::Overrides { desk, overrides } => {
                    let fence = fences.as_ref().map(|f| f.fence(&desk));
                    let list = overrides.iter().map(stored_override).collect();
                    (Write::Overrides(desk, list), fence)
                }
                RecordJob::Flushed(done) => {
                    let _ = done.send(());
                    continue;
                }
            };
            let mut delay = Duration::from_millis(50);
            for attempt in 1.. {
                match write.run(&store, fence.as_ref()).await {
                    Ok(()) => break,
                    Err(e @ StoreError::Fenced(_)) => {
                        tracing::error!(error = %e, ?write, "record write refused: another node has taken the desk over");
                        metrics::counter!("sunwai_record_writes_fenced_total").increment(1);
                        break;
                    }
                    Err(e) if attempt < 8 && e.is_transient() => {
                        tracing::warn!(error = %e, attempt, "record write failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, ?write, "record write failed");
                        metrics::counter!("sunwai_record_write_failures_total").increment(1);
                        break;
                    }
                }
            }
        }
    });
    (tx, task)
}
