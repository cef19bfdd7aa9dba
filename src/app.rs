//! The running server's shared state and its start-up: open the store, start the record
//! writer and one actor per desk. Everything here is cheap to clone and read-only after
//! start-up; live state lives in the desk actors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::Config;
use crate::core::ids::DeskId;
use crate::desk::{spawn_desk, spawn_record_writer, Clock, ConnId, DeskHandle};
use crate::store::Store;

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    desks: BTreeMap<DeskId, DeskHandle>,
    clock: Clock,
    next_conn: AtomicU64,
    ready: AtomicBool,
    category_keys: Vec<String>,
}

/// The process-wide Prometheus recorder. `metrics` has one global recorder, so several
/// servers in one process (tests) share it; their series are told apart by desk label.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
                ])
                .expect("the bucket list is non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, in which case ours simply
            // renders nothing: metrics are never worth failing start-up for.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

impl App {
    /// Opens the store and starts the desks. The record writer runs until the last desk
    /// handle is dropped.
    pub async fn start(config: Config, store: Store, clock: Clock) -> App {
        let (records, _writer) = spawn_record_writer(store.clone());
        let desks = config
            .desks
            .iter()
            .map(|d| (d.id.clone(), spawn_desk(d, clock, records.clone())))
            .collect();
        let category_keys = config.category_keys();
        App {
            inner: Arc::new(Inner {
                config,
                store,
                desks,
                clock,
                next_conn: AtomicU64::new(1),
                ready: AtomicBool::new(true),
                category_keys,
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }
    pub fn desks(&self) -> impl Iterator<Item = &DeskHandle> {
        self.inner.desks.values()
    }
    pub fn desk(&self, id: &str) -> Option<&DeskHandle> {
        let id = DeskId::parse(id).ok()?;
        self.inner.desks.get(&id)
    }
    pub fn category_keys(&self) -> &[String] {
        &self.inner.category_keys
    }
    pub fn next_conn(&self) -> ConnId {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Relaxed)
    }
}
