//! The lease task: renews this node's desk leases every third of a lease, takes free or
//! expired ones (starting their desks from the saved rooms), and stops serving a desk as
//! soon as its lease is lost, or could expire before it is renewed.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::oneshot;

use super::{Node, Snapshot, StopRequest};
use crate::app::App;
use crate::core::ids::DeskId;
use crate::store::DeskCounts;

/// A lease this node holds.
struct Held {
    epoch: u64,
    until: Timestamp,
}

pub(super) struct Leases {
    app: App,
    node: Arc<Node>,
    held: BTreeMap<DeskId, Held>,
    /// Every desk's lease as read at the end of the last round, for the desk lists.
    snapshot: Snapshot,
}

impl Leases {
    pub(super) fn new(app: App, node: Arc<Node>, snapshot: Snapshot) -> Leases {
        Leases {
            app,
            node,
            held: BTreeMap::new(),
            snapshot,
        }
    }

    fn lease(&self) -> SignedDuration {
        SignedDuration::try_from(self.node.lease).unwrap_or(SignedDuration::from_secs(10))
    }

    pub(super) async fn run(mut self, mut stop: oneshot::Receiver<StopRequest>) {
        let mut every = tokio::time::interval(self.node.lease / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            tokio::select! {
                _ = every.tick() => self.round().await,
                done = &mut stop => {
                    self.release().await;
                    if let Ok(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            }
        }
    }

    /// Renews what is held, then (unless the node is stopping) takes what is free.
    pub(super) async fn round(&mut self) {
        let store = self.app.store().clone();
        let lease = self.lease();
        let mut lost = Vec::new();
        for (desk, held) in &mut self.held {
            let now = Timestamp::now();
            let counts = self.app.desk(desk.as_str()).map(|d| {
                let s = d.status();
                DeskCounts {
                    waiting: s.waiting,
                    in_call: s.in_call,
                    officers_on_duty: s.officers_on_duty,
                }
            });
            match store
                .renew_lease(
                    desk,
                    &self.node.id,
                    held.epoch,
                    now + lease,
                    counts.unwrap_or_default(),
                )
                .await
            {
                Ok(true) => held.until = now + lease,
                Ok(false) => {
                    tracing::warn!(%desk, epoch = held.epoch, "desk lease lost to another node: no longer serving it");
                    lost.push(desk.clone());
                }
                // Keep serving while the lease surely holds; stop a third of a lease before
                // it could expire, so that no other node serves the desk at the same time.
                Err(e) if now + lease / 3 < held.until => {
                    tracing::warn!(%desk, error = %e, "could not renew the desk lease; retrying");
                }
                Err(e) => {
                    tracing::error!(%desk, error = %e, "could not renew the desk lease in time: no longer serving it");
                    lost.push(desk.clone());
                }
            }
        }
        for desk in lost {
            self.held.remove(&desk);
            self.app.hand_over(&desk).await;
            metrics::counter!("sunwai_desk_leases_lost_total").increment(1);
        }
        if self.app.is_ready() {
            self.claim_free().await;
        }
        match store.leases().await {
            Ok(all) => {
                *self
                    .snapshot
                    .lock()
                    .expect("the snapshot's lock is never held across a panic") = all
            }
            Err(e) => tracing::warn!(error = %e, "could not read the desk leases"),
        }
        metrics::gauge!("sunwai_desks_owned").set(self.held.len() as f64);
    }

    /// Takes the leases of desks nobody holds (or whose holder stopped renewing).
    async fn claim_free(&mut self) {
        let store = self.app.store().clone();
        let lease = self.lease();
        let wanted: Vec<DeskId> = self
            .app
            .config()
            .desks
            .iter()
            .map(|d| d.id.clone())
            .collect();
        for desk in wanted {
            if self.held.contains_key(&desk) {
                continue;
            }
            let now = Timestamp::now();
            let claimed = store
                .claim_lease(&desk, &self.node.id, &self.node.url, now, now + lease)
                .await;
            match claimed {
                Ok(Some(epoch)) => self.adopt(desk, epoch, now + lease).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(%desk, error = %e, "could not take a desk lease"),
            }
        }
    }

    async fn adopt(&mut self, desk: DeskId, epoch: u64, until: Timestamp) {
        match self.app.adopt(&desk, epoch).await {
            Ok(()) => {
                tracing::info!(%desk, epoch, node = %self.node.id, "desk lease taken: serving the desk here");
                self.held.insert(desk, Held { epoch, until });
            }
            Err(e) => {
                tracing::error!(%desk, error = %e, "could not restore the desk's room; giving its lease up");
                let _ = self
                    .app
                    .store()
                    .release_lease(&desk, &self.node.id, epoch)
                    .await;
            }
        }
    }

    /// Gives every lease up (the desks have stopped and their records are written).
    async fn release(&mut self) {
        for (desk, held) in std::mem::take(&mut self.held) {
            match self
                .app
                .store()
                .release_lease(&desk, &self.node.id, held.epoch)
                .await
            {
                Ok(_) => tracing::info!(%desk, "desk lease given up"),
                Err(e) => {
                    tracing::warn!(%desk, error = %e, "could not give the desk lease up; it expires by itself")
                }
            }
        }
    }
}
