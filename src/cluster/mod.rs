//! Several `sunwai serve` nodes sharing one PostgreSQL database serve one deployment.
//!
//! Is: this node's identity in the cluster, the lease task that decides which desks it
//! serves (`lease.rs`), and the routing of a connection to the node that owns its desk
//! (`relay.rs`). Is not: the waiting room. A desk's room lives in its actor on the one node
//! holding its lease, restored from the store exactly as at a start-up.
//!
//! Invariants:
//! - One owner per desk across the cluster: a node serves a desk only while it holds the
//!   desk's lease in the database (`desk_leases`), and stops serving it a third of a lease
//!   before the lease could expire for others when it cannot renew.
//! - Any node accepts anyone: a connection whose desk another node owns is relayed there,
//!   frame for frame; a relayed connection is never relayed again.

pub mod forward;
mod lease;
pub mod relay;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::oneshot;

use crate::app::App;
use crate::config::ClusterSettings;
use crate::core::ids::DeskId;
use crate::store::{DeskLease, Store, StoreError};

/// This node: its name, where the others reach it, how long its leases last.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: String,
    pub url: String,
    pub lease: Duration,
}

impl Node {
    /// `local` is the bound address, for when no `advertise_url` is configured.
    pub fn new(c: &ClusterSettings, local: SocketAddr) -> Node {
        let url = c
            .advertise_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        if c.advertise_url.is_none() && local.ip().is_unspecified() {
            tracing::warn!(%url, "cluster.advertise_url is not set and the listener is bound to every address: other nodes cannot reach this one; set it");
        }
        Node {
            id: c.node_id.clone(),
            url,
            lease: c.lease,
        }
    }
}

/// Every desk's lease as the lease task last read it. A std lock, never held across an
/// `.await`.
type Snapshot = Arc<Mutex<Vec<DeskLease>>>;

/// A request for the lease task to give its leases up and end; answered when done.
type StopRequest = oneshot::Sender<()>;

/// This node's part in the cluster: cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    node: Arc<Node>,
    /// Taken by `release_all`. A std lock, never held across an `.await`.
    stop: Arc<Mutex<Option<oneshot::Sender<StopRequest>>>>,
    snapshot: Snapshot,
}

/// Where a desk is served.
pub enum Owner {
    /// Another node holds its lease; reach it at this URL.
    There(String),
    /// Nobody holds a live lease (its owner died and the lease has not expired yet, or it
    /// is being taken over): try again shortly.
    Nobody,
}

impl Cluster {
    pub fn new(node: Node) -> Cluster {
        Cluster {
            node: Arc::new(node),
            stop: Arc::new(Mutex::new(None)),
            snapshot: Snapshot::default(),
        }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Takes the leases that are free now, starting those desks, then keeps renewing and
    /// taking leases in a task until [`Cluster::release_all`].
    pub async fn start(&self, app: App) -> Result<(), StoreError> {
        tracing::info!(node = %self.node.id, url = %self.node.url, lease_secs = self.node.lease.as_secs(), "cluster node: desks are served where their lease is held");
        let mut task = lease::Leases::new(app, self.node.clone(), self.snapshot.clone());
        task.round().await;
        let (tx, rx) = oneshot::channel();
        *self
            .stop
            .lock()
            .expect("the stop slot's lock is never held across a panic") = Some(tx);
        tokio::spawn(task.run(rx));
        Ok(())
    }

    /// Stops the lease task and gives up every lease it holds.
    pub async fn release_all(&self) {
        let stop = self
            .stop
            .lock()
            .expect("the stop slot's lock is never held across a panic")
            .take();
        if let Some(stop) = stop {
            let (done, finished) = oneshot::channel();
            if stop.send(done).is_ok() {
                let _ = finished.await;
            }
        }
    }

    /// `desk`'s lease as last read (at most a third of a lease ago), if it has one.
    pub fn last_lease(&self, desk: &DeskId) -> Option<DeskLease> {
        let all = self
            .snapshot
            .lock()
            .expect("the snapshot's lock is never held across a panic");
        all.iter().find(|l| &l.desk == desk).cloned()
    }

    /// Where `desk` is served, if not here.
    pub async fn owner(&self, store: &Store, desk: &DeskId) -> Result<Owner, StoreError> {
        let now = Timestamp::now();
        let leases = store.leases().await?;
        Ok(
            match leases.into_iter().find(|l: &DeskLease| &l.desk == desk) {
                Some(l) if l.until > now && l.node != self.node.id => Owner::There(l.url),
                _ => Owner::Nobody,
            },
        )
    }
}
