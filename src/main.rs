//! The `sunwai` binary: parse the command line, set up logging, run.

use clap::Parser;
use sunwai::cli::{self, Cli, Cmd};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Serve {
            common,
            listen,
            tls,
            demo,
        } => serve(common, listen, tls, demo).await,
        Cmd::Config { what } => cli::config_cmd(what).await,
        Cmd::Records { what } => cli::records_cmd(what).await,
        Cmd::User { what } => cli::user_cmd(what).await,
        Cmd::Simulate(args) => cli::simulate_cmd(args),
        Cmd::Loadtest(args) => loadtest(args).await,
        Cmd::Chaos(args) => cli::chaos_cmd(args).await,
        Cmd::Doctor { common, tls, json } => cli::doctor_cmd(common, tls, json).await,
        Cmd::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&sunwai::http::openapi::document())?
            );
            Ok(())
        }
        Cmd::Bench(args) => bench(args).await,
    }
}

async fn serve(
    common: cli::Common,
    listen: Option<String>,
    tls: cli::TlsArgs,
    demo: bool,
) -> anyhow::Result<()> {
    let config = cli::load_serve_config(&common, listen, &tls)?;
    if demo {
        // Before anything listens: refuses a non-loopback address.
        cli::demo_accounts(&config).await?;
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // `database` shows a URL with its password hidden.
    tracing::info!(database = %config.database, "sunwai listening on {scheme}://{addr}/");
    println!("sunwai is running at {scheme}://{addr}/ (Ctrl-C to stop)");
    match config.tls.as_ref().map(|t| &t.source) {
        Some(sunwai::config::TlsSource::SelfSigned) => {
            // Made now if this is the first start; the server then loads the same files.
            let (_, info) = sunwai::tls::self_signed(&config.data_dir, addr)?;
            println!(
                "self-signed certificate for {}; browsers will warn: check that it shows this SHA-256 fingerprint:\n  {}",
                info.names.join(", "),
                info.fingerprint
            );
        }
        Some(sunwai::config::TlsSource::Acme(a)) => {
            println!(
                "public address: https://{}/ (the certificate comes from {}; see the log)",
                a.domain, a.directory
            );
        }
        _ => {}
    }
    sunwai::run(listener, config, shutdown_signal()).await
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

async fn loadtest(args: sunwai::loadtest::LoadtestArgs) -> anyhow::Result<()> {
    let json = args.json;
    let report = sunwai::loadtest::run(args).await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        sunwai::loadtest::print_table(&report);
    }
    Ok(())
}

async fn bench(args: sunwai::bench::BenchArgs) -> anyhow::Result<()> {
    if let Some(sunwai::bench::BenchCmd::Relay { to }) = args.relay {
        // Blocking by design: one thread, one socket, nothing else.
        return tokio::task::spawn_blocking(move || sunwai::bench::relay_main(to)).await?;
    }
    let json = args.json;
    let report = sunwai::bench::run(args).await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        sunwai::bench::print_report(&report);
    }
    Ok(())
}
