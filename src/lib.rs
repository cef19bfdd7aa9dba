//! sunwai: a video hearing server. See docs/ARCHITECTURE.md for the code map.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod core;
pub mod desk;
pub mod http;
pub mod sim;
pub mod store;

use std::future::Future;

use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::desk::Clock;
use crate::store::Store;

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
    config: Config,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::open_sqlite(&config.data_dir).await?;
    app::metrics_handle();
    let local = listener.local_addr()?;
    if store.list_users().await?.is_empty() {
        tracing::warn!("no staff accounts yet: add the first supervisor with `sunwai user add --role supervisor --name NAME`");
    }
    let app = App::start(config, store.clone(), clock, local).await;
    let router =
        http::router(app.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let ready = app.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            ready.set_ready(false);
        })
        .await?;
    store.close().await;
    Ok(())
}
