//! The record writer: turns the room's record notes into store events and writes them in
//! order. Desks send over a bounded channel and wait when it is full, so a slow database
//! slows the desks down rather than losing a record.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::core::room::RecordNote;
use crate::store::{RecordEvent, Store};

/// Record notes that may queue before desks wait for the database.
pub const RECORD_QUEUE: usize = 4096;

#[derive(Debug)]
pub struct RecordJob {
    pub note: RecordNote,
    pub at: Timestamp,
}

pub fn to_event(job: RecordJob) -> RecordEvent {
    let at = job.at;
    match job.note {
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
        RecordNote::Interrupted { entry, .. } => RecordEvent::Interrupted {
            id: entry,
            at,
            reason: "officer_lost".into(),
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

/// Starts the writer; it ends when every sender is gone and the queue is drained.
pub fn spawn_record_writer(store: Store) -> (mpsc::Sender<RecordJob>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<RecordJob>(RECORD_QUEUE);
    let task = tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let event = to_event(job);
            let mut delay = Duration::from_millis(50);
            for attempt in 1.. {
                match store.apply(event.clone()).await {
                    Ok(()) => break,
                    Err(e) if attempt < 8 && e.is_transient() => {
                        tracing::warn!(error = %e, attempt, "record write failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, ?event, "record write failed");
                        metrics::counter!("sunwai_record_write_failures_total").increment(1);
                        break;
                    }
                }
            }
        }
    });
    (tx, task)
}
