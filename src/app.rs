//! The running server's shared state and its start-up: open the store, start the record
//! writer and one actor per desk. Everything here is cheap to clone and read-only after
//! start-up; live state lives in the desk actors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::cluster::{Cluster, Node};
use crate::config::{Config, DeskConfig};
use crate::core::ids::DeskId;
use crate::desk::{
    load_saved, spawn_desk, spawn_record_writer, Clock, ConnId, DeskHandle, Fences, RecordJob,
};
use crate::http::limits::Limits;
use crate::sfu::{MediaConfig, Sfu};
use crate::store::Store;
use std::net::SocketAddr;

#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    /// The desks this node owns: every configured desk on a single node; with clustering,
    /// those whose lease it holds. A std lock: held only to look up, insert or remove,
    /// never across an `.await`.
    desks: RwLock<BTreeMap<DeskId, DeskHandle>>,
    /// This node in a cluster; `None` on a single node.
    cluster: Option<Cluster>,
    /// The lease epochs the record writer fences its writes with (cluster only).
    fences: Option<Arc<Fences>>,
    clock: Clock,
    next_conn: AtomicU64,
    ready: AtomicBool,
    category_keys: Vec<String>,
    limits: Limits,
    origins: Vec<String>,
    media: Option<Sfu>,
    records: tokio::sync::mpsc::Sender<RecordJob>,
    /// Turns true when open connections should close (the server is stopping).
    closing: tokio::sync::watch::Sender<bool>,
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
                // Media latencies are milliseconds, not minutes.
                .set_buckets_for_metric(
                    Matcher::Full("sunwai_media_forward_latency_seconds".into()),
                    &[
                        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
                        0.05, 0.1,
                    ],
                )
                .expect("the bucket list is non-empty")
                .set_buckets_for_metric(
                    Matcher::Full("sunwai_media_first_packet_seconds".into()),
                    &[0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0],
                )
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
    /// Starts the record writer and the desks, each with the waiting room the last run
    /// left. The record writer runs until the last desk handle is dropped.
    pub async fn start(
        config: Config,
        store: Store,
        clock: Clock,
        local: SocketAddr,
    ) -> anyhow::Result<App> {
        let m = &config.media;
        let media = if m.enabled {
            let bind = crate::sfu::media_bind(local.ip(), m.bind);
            let sfu = Sfu::start(&MediaConfig {
                bind,
                base_port: m.base_port,
                workers: m.workers,
                announce: m.announce,
                allowed_networks: m.allowed_networks.clone(),
                adaptation: crate::sfu::Adaptation {
                    pause_video_on_weak_links: m.pause_video_on_weak_links,
                    audio_redundancy: m.audio_redundancy,
                },
            })
            .map_err(|e| {
                anyhow::anyhow!(
                    "could not open the media ports ({}:{} and up): {e}",
                    bind,
                    m.base_port
                )
            })?;
            let ports: Vec<String> = sfu.addrs().iter().map(|a| a.to_string()).collect();
            tracing::info!(sockets = %ports.join(" "), "media workers listening (UDP)");
            Some(sfu)
        } else {
            None
        };
        let node = config.cluster.as_ref().map(|c| Node::new(c, local));
        let fences = node.as_ref().map(|n| Arc::new(Fences::new(n.id.clone())));
        let (records, _writer) = spawn_record_writer(store.clone(), fences.clone());
        let mut desks = BTreeMap::new();
        // With clustering, desks start as their leases are taken (`crate::cluster`).
        if config.cluster.is_none() {
            for d in &config.desks {
                let saved = load_saved(&store, &d.id, d.schedule.time_zone(), clock.now()).await?;
                desks.insert(
                    d.id.clone(),
                    spawn_desk(d, clock, records.clone(), saved, media.clone()),
                );
            }
        }
        let category_keys = config.category_keys();
        let limits = Limits::new(&config.limits);
        let origins = if config.origins.is_empty() {
            let mut o = vec![format!("http://{local}")];
            if local.ip().is_loopback() {
                o.push(format!("http://localhost:{}", local.port()));
            }
            o
        } else {
            config.origins.clone()
        };
        let app = App {
            inner: Arc::new(Inner {
                config,
                store,
                desks: RwLock::new(desks),
                cluster: node.map(Cluster::new),
                fences,
                clock,
                next_conn: AtomicU64::new(1),
                ready: AtomicBool::new(true),
                category_keys,
                limits,
                origins,
                media,
                records,
                closing: tokio::sync::watch::channel(false).0,
            }),
        };
        // Keep the rate limiters' maps small; stops when the server is dropped.
        let weak = Arc::downgrade(&app.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                match weak.upgrade() {
                    Some(inner) => inner.limits.tidy(),
                    None => break,
                }
            }
        });
        if let Some(c) = &app.inner.cluster {
            c.start(app.clone()).await?;
        }
        Ok(app)
    }

    /// Starts the desk's actor with its saved room (this node has just taken its lease in
    /// `epoch`; its record notes are written under that epoch).
    pub async fn adopt(&self, id: &DeskId, epoch: u64) -> Result<(), crate::store::StoreError> {
        let Some(cfg) = self.desk_config(id.as_str()) else {
            return Ok(());
        };
        if let Some(f) = &self.inner.fences {
            f.set(id, epoch);
        }
        let saved = load_saved(
            &self.inner.store,
            id,
            cfg.schedule.time_zone(),
            self.inner.clock.now(),
        )
        .await?;
        let handle = spawn_desk(
            cfg,
            self.inner.clock,
            self.inner.records.clone(),
            saved,
            self.inner.media.clone(),
        );
        let old = self
            .inner
            .desks
            .write()
            .expect("the desk map's lock is never held across a panic")
            .insert(id.clone(), handle);
        if let Some(old) = old {
            old.stop().await;
        }
        Ok(())
    }

    /// Stops serving the desk here (its lease is lost or given up): its connections are
    /// told to reconnect, and its actor stops.
    pub async fn hand_over(&self, id: &DeskId) {
        let handle = self
            .inner
            .desks
            .write()
            .expect("the desk map's lock is never held across a panic")
            .remove(id);
        if let Some(h) = handle {
            h.hand_over().await;
        }
    }

    /// This node in a cluster, if clustering is on.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.inner.cluster.as_ref()
    }

    /// The SFU, unless media is turned off.
    pub fn media(&self) -> Option<&Sfu> {
        self.inner.media.as_ref()
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub fn origins(&self) -> &[String] {
        &self.inner.origins
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
    /// The desks this node serves now.
    pub fn desks(&self) -> Vec<DeskHandle> {
        let desks = self
            .inner
            .desks
            .read()
            .expect("the desk map's lock is never held across a panic");
        desks.values().cloned().collect()
    }
    /// The desk's live handle, if this node serves it now.
    pub fn desk(&self, id: &str) -> Option<DeskHandle> {
        let id = DeskId::parse(id).ok()?;
        let desks = self
            .inner
            .desks
            .read()
            .expect("the desk map's lock is never held across a panic");
        desks.get(&id).cloned()
    }
    /// Every configured desk with its status: live for the desks served here, from the
    /// schedule for those served by another node.
    pub fn desk_list(&self) -> Vec<sunwai_signaling::DeskInfo> {
        let now = self.inner.clock.now();
        self.inner
            .config
            .desks
            .iter()
            .map(|cfg| {
                let status = match self.desk(cfg.id.as_str()) {
                    Some(d) => d.status(),
                    None => crate::desk::scheduled_status(cfg, now),
                };
                sunwai_signaling::DeskInfo {
                    id: cfg.id.to_string(),
                    name: cfg.name.clone(),
                    window: crate::http::translate::desk_window_info(&status),
                }
            })
            .collect()
    }

    /// A configured desk, wherever it is served.
    pub fn desk_config(&self, id: &str) -> Option<&DeskConfig> {
        self.inner.config.desks.iter().find(|d| d.id.as_str() == id)
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

    /// Drains every desk (no joins, no new calls) and waits until no call or offer is left
    /// or `deadline` has passed. Returns whether every desk became idle in time.
    pub async fn drain(&self, deadline: std::time::Duration) -> bool {
        let desks = self.desks();
        let all = futures_util::future::join_all(desks.iter().map(|d| d.drain()));
        tokio::time::timeout(deadline, all).await.is_ok()
    }

    /// Stops every desk actor, leaving each room as it is for the next start.
    pub async fn stop_desks(&self) {
        let desks = self.desks();
        futures_util::future::join_all(desks.iter().map(|d| d.stop())).await;
    }

    /// With clustering: stops taking and renewing leases and gives up those held, so that
    /// other nodes take the desks over at once. Call after the desks stopped and their
    /// records were written.
    pub async fn release_leases(&self) {
        if let Some(c) = &self.inner.cluster {
            c.release_all().await;
        }
    }

    /// Waits until every record note queued so far is written.
    pub async fn flush_records(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self
            .inner
            .records
            .send(RecordJob::Flushed(done))
            .await
            .is_ok()
        {
            let _ = written.await;
        }
    }

    /// Tells open connections to close (server going away).
    pub fn close_connections(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Becomes true when connections should close.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }
}
