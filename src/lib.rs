//! sunwai: a video hearing server. See docs/ARCHITECTURE.md for the code map.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod bench;
pub mod chaos;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod core;
pub mod demo;
pub mod desk;
pub mod doctor;
pub mod http;
pub mod loadtest;
pub mod progress;
pub mod sfu;
pub mod sim;
pub mod store;
pub mod tls;

use std::future::Future;

use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::desk::Clock;
use crate::store::Store;

/// Opens the records store that `database` names, creating the data directory for SQLite.
pub async fn open_store(database: &config::Database) -> Result<Store, store::StoreError> {
    match database {
        config::Database::Sqlite { dir } => Store::open_sqlite(dir).await,
        config::Database::Postgres(url) => Store::open_postgres(url.expose()).await,
    }
}

/// Serves on `listener` until `shutdown` completes. Tests call this with a listener on
/// 127.0.0.1:0 and a fresh data directory; `sunwai serve` calls it from `main`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_clock(listener, config, Clock::system(), shutdown).await
}

/// Like [`run`], with the clock given (tests start a server at a chosen wall time).
pub async fn run_with_clock(
    listener: TcpListener,
    mut config: Config,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Read the certificate before anything else, so that a bad file stops start-up at once.
    let local = listener.local_addr()?;
    let tls = config
        .tls
        .as_ref()
        .map(|t| tls::prepare(t, &config.data_dir, local))
        .transpose()?;
    let store = open_store(&config.database).await?;
    app::metrics_handle();
    if store.list_users().await?.is_empty() {
        tracing::warn!("no staff accounts yet: add the first supervisor with `sunwai user add --role supervisor --name NAME`");
    }
    if tls.is_some() && config.origins.is_empty() {
        // The server's own origin is an https one now: its domain's, when it has one.
        if let Some(config::TlsSource::Acme(a)) = config.tls.as_ref().map(|t| &t.source) {
            let origin = match local.port() {
                443 => format!("https://{}", a.domain),
                port => format!("https://{}:{port}", a.domain),
            };
            config.origins.push(origin);
        }
        config.origins.push(format!("https://{local}"));
        if local.ip().is_loopback() {
            config
                .origins
                .push(format!("https://localhost:{}", local.port()));
        }
    }
    let app = App::start(config, store.clone(), clock, local).await?;
    let router =
        http::router(app.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let stopping = app.clone();
    let stop = async move {
        shutdown.await;
        drain(&stopping).await;
    };
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await?
        }
        Some(tls) => {
            use axum::serve::ListenerExt as _;
            let tls = tls.start(local.port()).await;
            // `tap_io` only so that axum hands handlers the peer's `SocketAddr`, as it does
            // for a plain TCP listener.
            let listener = tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await?
        }
    }
    // Whatever the last connections did (a citizen leaving) is written before the end.
    app.flush_records().await;
    store.close().await;
    Ok(())
}

/// A graceful stop: not ready (503 on /readyz), no new joins, calls in progress may finish
/// until `shutdown_grace`, the desks stop, every record note is written, then connections
/// are told to go (1001) and the listener stops. The waiting room needs no saving here:
/// its places are written as they change, which is also what lets it survive `kill -9`.
async fn drain(app: &App) {
    app.set_ready(false);
    let grace = app.config().shutdown_grace;
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: no new joins; calls in progress may finish"
    );
    if !app.drain(grace).await {
        let calls: u32 = app.desks().iter().map(|d| d.status().in_call).sum();
        if calls > 0 {
            tracing::warn!(
                calls,
                "calls still in progress at the shutdown deadline: they are restored as interrupted at the next start"
            );
        }
    }
    // From here the rooms stay as they are: closing the connections below must not count
    // as citizens and officers leaving.
    app.stop_desks().await;
    app.flush_records().await;
    app.release_leases().await;
    app.close_connections();
}
