//! The command line: `serve`, `config example|check`, `records export`, `user …`,
//! `simulate`, `chaos`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, DatabaseUrl, Overrides};
use crate::core::ids::DeskId;
use crate::progress::Progress;
use crate::store::{
    AuditAction, AuditActor, Filter, NewAudit, NewUser, Role, Status, Store, BYTE_ORDER_MARK,
};

#[derive(Parser, Debug)]
#[command(
    name = "sunwai",
    version,
    about = "Video hearing server: waiting room, dispatch, SFU and complaint records"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// TOML configuration file.
    #[arg(long, env = "SUNWAI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database and state).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the records in PostgreSQL: postgres://user:password@host/database (instead of
    /// SQLite in the data directory). SUNWAI_DATABASE_URL keeps the password out of the
    /// process list.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        #[command(flatten)]
        tls: TlsArgs,
        /// Try it out: create the accounts demo-officer and demo-supervisor if missing
        /// (their passwords are printed once). Only on a loopback address.
        #[arg(long)]
        demo: bool,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        what: ConfigCmd,
    },
    /// Complaint records.
    Records {
        #[command(subcommand)]
        what: RecordsCmd,
    },
    /// Officer and supervisor accounts.
    User {
        #[command(subcommand)]
        what: UserCmd,
    },
    /// Simulate hearing days with the server's own waiting room: waits, abandonment,
    /// how accurate the estimates are, and how many officers a target needs.
    Simulate(SimulateArgs),
    /// Real calls through a running server's SFU, with loss, jitter and connect times:
    /// officer accounts PREFIX1..PREFIXn must exist (`user add`).
    Loadtest(crate::loadtest::LoadtestArgs),
    /// Benchmarks (release build): the SFU against a plain UDP relay in alternating runs,
    /// the capacity in hearings per core, and the waiting room at 10,000 citizens. Runs its
    /// own server (this executable) pinned to one core; see docs/benchmarks.md.
    Bench(crate::bench::BenchArgs),
    /// Check a deployment before citizens arrive: the configuration, the certificate and
    /// its domain, the database, staff accounts, media ports and address, the clock, the
    /// disk. Prints a checklist with a fix for each problem; exits 1 when something must
    /// be fixed.
    Doctor {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tls: TlsArgs,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the REST API's OpenAPI 3.1 document (what GET /api/openapi.json serves).
    Openapi,
    /// Kill the server with SIGKILL at random moments while citizens wait and officers
    /// take calls, and check that nobody and no record was lost and the order was kept.
    /// Runs its own server (this executable) on loopback in a scratch directory.
    Chaos(ChaosArgs),
}

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Citizens who join, one after another.
    #[arg(long, default_value_t = 100)]
    pub citizens: usize,
    /// Officers taking calls.
    #[arg(long, default_value_t = 5)]
    pub officers: usize,
    /// Times the server is killed (SIGKILL) and restarted.
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
    /// Longest time between kills, in milliseconds (each gap is random, at least 200).
    #[arg(long, default_value_t = 2000)]
    pub max_gap_ms: u64,
    /// Mean call length in milliseconds (uniform from 0 to twice this).
    #[arg(long, default_value_t = 200)]
    pub call_ms: u64,
    /// Mean time between arrivals in milliseconds (uniform from 0 to twice this).
    #[arg(long, default_value_t = 20)]
    pub arrival_ms: u64,
    /// Seed for the random timings (default: from the clock; printed in the report).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Scratch directory; must not exist (default: a new one under the system's temp
    /// directory, removed afterwards unless --keep).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the scratch directory (database and server log) afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CallDist {
    /// Lognormal with --mean-call and --call-cv.
    Lognormal,
    /// Exponential with --mean-call (what Erlang C assumes).
    Exponential,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// TOML configuration file: the desk's windows and policies are taken from it
    /// (default: the built-in desk, 12:00-14:00 Asia/Kolkata).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The desk to simulate (default: the first in the configuration).
    #[arg(long)]
    pub desk: Option<String>,
    /// Hearing days (windows) to simulate; the figures cover all of them.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the random draws: the same seed gives the same citizens.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Officers on duty from the opening until the queue is empty [default: 4].
    #[arg(long, conflicts_with = "roster")]
    pub officers: Option<u32>,
    /// One shift per officer in local time, e.g. "12:00-14:00,12:00-13:00"; "12:00-" stays
    /// until the queue is empty.
    #[arg(long)]
    pub roster: Option<String>,
    /// Arrival profile: steady, rush (most arrive in the first 20 minutes), or a CSV file
    /// of arrival times (a `sunwai records export` works: its created_at column).
    #[arg(long, default_value = "rush")]
    pub arrivals: String,
    /// Citizens expected per window (steady and rush).
    #[arg(long, default_value_t = 72.0)]
    pub calls: f64,
    /// Mean call length, e.g. 6m.
    #[arg(long, default_value = "6m")]
    pub mean_call: String,
    /// Spread of call lengths: standard deviation over mean (lognormal).
    #[arg(long, default_value_t = 0.5)]
    pub call_cv: f64,
    #[arg(long, value_enum, default_value = "lognormal")]
    pub call_dist: CallDist,
    /// Draw call lengths from a CSV with a talk_secs column (a `sunwai records export`)
    /// instead of --mean-call and --call-cv.
    #[arg(long)]
    pub calls_from: Option<PathBuf>,
    /// How long citizens wait on average before giving up (exponentially distributed), or
    /// "none".
    #[arg(long, default_value = "20m")]
    pub patience: String,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also draw waits and queue length across the window to this SVG file.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Find the fewest officers that meet --target, and compare with Erlang C.
    #[arg(long)]
    pub recommend: bool,
    /// Service target for --recommend.
    #[arg(long, default_value = "90% within 2 minutes")]
    pub target: String,
    /// Most officers --recommend tries.
    #[arg(long, default_value_t = 40)]
    pub max_officers: u32,
    /// Instead: how close the supervisor's forecast comes to what then happens, over
    /// --days simulated days per line (the table of docs/waiting.md).
    #[arg(long)]
    pub forecast_accuracy: bool,
}

/// Serving HTTPS/WSS directly.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// PEM certificate chain: serve HTTPS and WSS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS for this domain with a certificate obtained and renewed over ACME
    /// (Let's Encrypt unless the configuration's [acme] says otherwise).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls"])]
    pub domain: Option<String>,
    /// `self-signed`: serve HTTPS with a certificate made and kept in the data directory,
    /// for a trial on a LAN (its fingerprint is printed).
    #[arg(long, value_parser = ["self-signed"], conflicts_with = "tls_cert")]
    pub tls: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print a complete, commented example configuration.
    Example,
    /// Load and validate the configuration, then print a summary.
    Check {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecordsCmd {
    /// Export complaint records as CSV.
    Export {
        #[command(flatten)]
        common: Common,
        /// Only this desk.
        #[arg(long)]
        desk: Option<String>,
        /// Only this status (received, forwarded, under_investigation, resolved).
        #[arg(long)]
        status: Option<String>,
        /// Only records created at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only records created before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Plain UTF-8, without the byte-order mark that Excel needs to read Hindi text.
        #[arg(long)]
        plain: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    Officer,
    Supervisor,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add an account. The password is asked for, or read from standard input.
    Add {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Sign-in name.
        #[arg(long)]
        name: String,
        /// Name shown to others (defaults to the sign-in name).
        #[arg(long)]
        display_name: Option<String>,
        /// The desk this account works at; supervisors without one see every desk.
        #[arg(long)]
        desk: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Disable an account (its sessions stop working).
    Disable {
        #[command(flatten)]
        common: Common,
        name: String,
    },
    /// Enable a disabled account.
    Enable {
        #[command(flatten)]
        common: Common,
        name: String,
    },
    /// Change an account's password.
    Passwd {
        #[command(flatten)]
        common: Common,
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn load_config(common: &Common, listen: Option<String>) -> anyhow::Result<Config> {
    load_serve_config(common, listen, &TlsArgs::default())
}

/// The configuration for `serve`, with its TLS flags.
pub fn load_serve_config(
    common: &Common,
    listen: Option<String>,
    tls: &TlsArgs,
) -> anyhow::Result<Config> {
    let flags = Overrides {
        listen,
        data_dir: common.data_dir.clone(),
        database_url: common.database_url.clone().map(DatabaseUrl::new),
        tls_cert: tls.tls_cert.clone(),
        tls_key: tls.tls_key.clone(),
        domain: tls.domain.clone(),
        tls: tls.tls.clone(),
    };
    Ok(Config::load(common.config.as_deref(), &flags)?)
}

/// `serve --demo`: makes the demo accounts if missing and shows the new passwords, once.
pub async fn demo_accounts(config: &Config) -> anyhow::Result<()> {
    crate::demo::check_listen(config.listen)?;
    let store = crate::open_store(&config.database).await?;
    let created = crate::demo::ensure_accounts(&store, config).await;
    store.close().await;
    let created = created?;
    if created.is_empty() {
        println!(
            "demo accounts {} and {} exist already (their passwords were shown when they were \
             made; `sunwai user passwd NAME` sets a new one)",
            crate::demo::DEMO_OFFICER,
            crate::demo::DEMO_SUPERVISOR
        );
    }
    for c in &created {
        println!(
            "demo {} account: {}  password: {}  (shown only this once)",
            c.role.as_str(),
            c.username,
            c.password
        );
    }
    Ok(())
}

async fn open_store(common: &Common) -> anyhow::Result<(Config, Store)> {
    let config = load_config(common, None)?;
    let store = crate::open_store(&config.database).await?;
    Ok((config, store))
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the passwords differ");
        }
        first
    };
    if password.chars().count() < 10 {
        bail!("use a password of at least 10 characters");
    }
    Ok(password)
}

pub async fn config_cmd(what: ConfigCmd) -> anyhow::Result<()> {
    match what {
        ConfigCmd::Example => print!("{}", crate::config::EXAMPLE),
        ConfigCmd::Check { common } => {
            let c = load_config(&common, None)?;
            println!("listen {}; records in {}", c.listen, c.database);
            if let Some(k) = &c.cluster {
                let url = k.advertise_url.as_deref().unwrap_or("the bound address");
                println!(
                    "cluster node {} at {url}, leases of {} s",
                    k.node_id,
                    k.lease.as_secs()
                );
            }
            for d in &c.desks {
                println!(
                    "desk {} ({}), references {}-YYYY-NNNNNN",
                    d.id, d.name, d.prefix
                );
            }
        }
    }
    Ok(())
}

pub async fn records_cmd(what: RecordsCmd) -> anyhow::Result<()> {
    let RecordsCmd::Export {
        common,
        desk,
        status,
        since,
        until,
        out,
        plain,
    } = what;
    let (config, store) = open_store(&common).await?;
    let desk = desk
        .map(|d| DeskId::parse(&d))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--desk: {e}"))?;
    let tz = desk
        .as_ref()
        .and_then(|d| config.desks.iter().find(|x| x.id == *d))
        .or(config.desks.first())
        .map(|d| d.schedule.time_zone().clone())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let filter = Filter {
        desk,
        status: status
            .map(|s| Status::parse(&s).context("--status: unknown status"))
            .transpose()?,
        since: since
            .map(|s| s.parse().context("--since: use RFC 3339"))
            .transpose()?,
        until: until
            .map(|s| s.parse().context("--until: use RFC 3339"))
            .transpose()?,
        limit: u32::MAX,
        ..Filter::default()
    };
    let mark: &[u8] = if plain { b"" } else { BYTE_ORDER_MARK };
    // Not over the CSV itself when that goes to the same terminal.
    let quiet = out.is_none() && std::io::stdout().is_terminal();
    let progress = Progress::bytes("exporting records", quiet);
    let exported = match &out {
        Some(path) => {
            let mut f = progress.wrap(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ));
            f.write_all(mark)
                .with_context(|| format!("writing {}", path.display()))?;
            store.export_csv(&filter, &tz, f).await
        }
        None => {
            let mut stdout = progress.wrap(std::io::stdout());
            stdout
                .write_all(mark)
                .context("writing to standard output")?;
            store.export_csv(&filter, &tz, stdout).await
        }
    };
    progress.done();
    // Audited whether or not it finished: a failed export may still have written rows.
    let mut detail = serde_json::json!({
        "via": "cli",
        "filter": filter.audit_detail(),
        "to": out.as_ref().map_or("stdout".to_owned(), |p| p.display().to_string()),
    });
    match &exported {
        Ok(n) => detail["rows"] = (*n).into(),
        Err(e) => detail["error"] = e.to_string().into(),
    }
    let entry = NewAudit::new(
        jiff::Timestamp::now(),
        AuditActor::cli_from_env(),
        AuditAction::RecordExport,
    )
    .detail(detail);
    let audited = store.audit(entry).await;
    store.close().await;
    let n = exported?;
    audited.context("writing the export's audit entry")?;
    eprintln!("{n} records exported");
    Ok(())
}

pub async fn user_cmd(what: UserCmd) -> anyhow::Result<()> {
    match what {
        UserCmd::Add {
            common,
            role,
            name,
            display_name,
            desk,
            password_stdin,
        } => {
            let (config, store) = open_store(&common).await?;
            let desk = desk
                .map(|d| DeskId::parse(&d))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--desk: {e}"))?;
            if let Some(d) = &desk {
                if !config.desks.iter().any(|x| x.id == *d) {
                    bail!("--desk: no desk {d} in the configuration");
                }
            }
            let role = match role {
                RoleArg::Officer => Role::Officer,
                RoleArg::Supervisor => Role::Supervisor,
            };
            if role == Role::Officer && desk.is_none() {
                bail!("an officer needs --desk");
            }
            let username = name.trim().to_owned();
            if username.is_empty()
                || username.len() > 64
                || username.chars().any(char::is_whitespace)
            {
                bail!("--name: 1 to 64 characters without spaces");
            }
            let password = read_password(password_stdin)?;
            let password_phc = crate::auth::hash_password(&password)?;
            let display_name = display_name.unwrap_or_else(|| username.clone());
            let user = store
                .create_user(NewUser {
                    username,
                    display_name,
                    role,
                    desk,
                    password_phc,
                })
                .await?;
            let detail = serde_json::json!({
                "user": user.username,
                "role": user.role.as_str(),
                "desk": user.desk.as_ref().map(|d| d.to_string()),
            });
            account_audit(&store, AuditAction::UserAdd, detail).await?;
            println!(
                "added {} {} ({})",
                user.role.as_str(),
                user.username,
                user.id
            );
            store.close().await;
        }
        UserCmd::List { common } => {
            let (_, store) = open_store(&common).await?;
            let mut out = std::io::stdout();
            for u in store.list_users().await? {
                let desk = u
                    .desk
                    .as_ref()
                    .map_or("(all desks)".to_owned(), |d| d.to_string());
                let state = if u.disabled { "disabled" } else { "active" };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    u.username,
                    u.role.as_str(),
                    desk,
                    state,
                    u.display_name
                )?;
            }
            store.close().await;
        }
        UserCmd::Disable { common, name } => set_disabled(&common, &name, true).await?,
        UserCmd::Enable { common, name } => set_disabled(&common, &name, false).await?,
        UserCmd::Passwd {
            common,
            name,
            password_stdin,
        } => {
            let (_, store) = open_store(&common).await?;
            let password = read_password(password_stdin)?;
            let phc = crate::auth::hash_password(&password)?;
            if !store.set_password_hash(&name, &phc).await? {
                bail!("no account {name:?}");
            }
            let detail = serde_json::json!({ "user": name });
            account_audit(&store, AuditAction::UserPasswd, detail).await?;
            println!("password changed for {name}");
            store.close().await;
        }
    }
    Ok(())
}

/// An account change made on the command line, in the audit log (the change itself is
/// already committed: a failure here is reported, not hidden).
async fn account_audit(
    store: &Store,
    action: AuditAction,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    let entry =
        NewAudit::new(jiff::Timestamp::now(), AuditActor::cli_from_env(), action).detail(detail);
    store
        .audit(entry)
        .await
        .context("the change is made, but writing its audit entry failed")
}

async fn set_disabled(common: &Common, name: &str, disabled: bool) -> anyhow::Result<()> {
    let (_, store) = open_store(common).await?;
    if !store.set_user_disabled(name, disabled).await? {
        bail!("no account {name:?}");
    }
    let action = if disabled {
        AuditAction::UserDisable
    } else {
        AuditAction::UserEnable
    };
    account_audit(&store, action, serde_json::json!({ "user": name })).await?;
    println!("{name} {}", if disabled { "disabled" } else { "enabled" });
    store.close().await;
    Ok(())
}

/// Builds the scenario from the flags and the desk's configuration.
pub fn scenario(args: &SimulateArgs) -> anyhow::Result<crate::sim::Scenario> {
    use crate::sim::{parse_duration, Arrivals, CallLength, Officers, Patience, Scenario, Shift};
    let config = Config::load(args.config.as_deref(), &Overrides::default())?;
    let desk = match &args.desk {
        Some(d) => config
            .desks
            .iter()
            .find(|x| x.id.as_str() == d)
            .with_context(|| format!("--desk: no desk {d} in the configuration"))?,
        None => config
            .desks
            .first()
            .context("no desk in the configuration")?,
    };
    let tz = desk.schedule.time_zone().clone();
    if !(1..=100_000).contains(&args.days) {
        bail!("--days: use 1 to 100000");
    }
    if !(args.calls.is_finite() && (0.0..=100_000.0).contains(&args.calls)) {
        bail!("--calls: use 0 to 100000");
    }
    if !(args.call_cv.is_finite() && (0.0..=10.0).contains(&args.call_cv)) {
        bail!("--call-cv: use 0 to 10");
    }
    let arrivals = match Arrivals::builtin(&args.arrivals) {
        Some(a) => a,
        None => {
            let f = std::fs::File::open(&args.arrivals).with_context(|| {
                format!(
                    "--arrivals: {:?} is not steady, rush or a readable CSV file",
                    args.arrivals
                )
            })?;
            Arrivals::from_csv(f, &tz).with_context(|| format!("--arrivals {}", args.arrivals))?
        }
    };
    let mean = parse_duration(&args.mean_call).context("--mean-call")?;
    if mean < jiff::SignedDuration::from_secs(1) {
        bail!("--mean-call: at least a second");
    }
    let call_length = match &args.calls_from {
        Some(path) => {
            let f = std::fs::File::open(path)
                .with_context(|| format!("--calls-from: opening {}", path.display()))?;
            CallLength::from_records_csv(f)
                .with_context(|| format!("--calls-from {}", path.display()))?
        }
        None => match args.call_dist {
            CallDist::Lognormal => CallLength::LogNormal {
                mean_secs: mean.as_secs_f64(),
                cv: args.call_cv,
            },
            CallDist::Exponential => CallLength::Exponential {
                mean_secs: mean.as_secs_f64(),
            },
        },
    };
    let patience = match args.patience.trim() {
        "none" | "unlimited" => Patience::Unlimited,
        p => {
            let mean = parse_duration(p).context("--patience")?;
            if mean.is_zero() {
                bail!("--patience: more than zero, or none");
            }
            Patience::Exponential { mean }
        }
    };
    let officers = match &args.roster {
        Some(r) => Officers::Roster(
            r.split(',')
                .map(|s| {
                    Shift::parse(s).with_context(|| {
                        format!("--roster: {s:?} is not a shift such as 12:00-14:00 or 12:00-")
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        ),
        None => {
            let n = args.officers.unwrap_or(4);
            if !(1..=1000).contains(&n) {
                bail!("--officers: use 1 to 1000");
            }
            Officers::Count(n)
        }
    };
    let mut sc = Scenario::hearing_day(4);
    sc.policy = desk.policy.clone();
    sc.schedule = desk.schedule.clone();
    sc.days = args.days;
    sc.seed = args.seed;
    sc.arrivals = arrivals;
    sc.calls = args.calls;
    sc.call_length = call_length;
    sc.officers = officers;
    sc.patience = patience;
    Ok(sc)
}

/// `sunwai simulate`.
pub fn simulate_cmd(args: SimulateArgs) -> anyhow::Result<()> {
    if args.forecast_accuracy {
        print!("{}", crate::sim::accuracy::table(u64::from(args.days)));
        return Ok(());
    }
    let sc = scenario(&args)?;
    let progress = Progress::bar(u64::from(sc.days), "simulating days", args.json);
    let outcome = crate::sim::simulate_with(&sc, &mut || progress.step())?;
    progress.done();
    let mut report = crate::sim::summarize(&sc, &outcome);
    if args.recommend {
        let target = crate::sim::Target::parse(&args.target).context("--target")?;
        let progress = Progress::bar(u64::from(args.max_officers), "officers tried", args.json);
        let found = crate::sim::recommend_with(&sc, target, args.max_officers, &mut |n| {
            progress.say(format!("trying {n} officer(s)"));
            progress.step();
        })?;
        progress.done();
        report.recommendation = Some(found);
    }
    if let Some(path) = &args.chart {
        let svg = crate::sim::chart::svg(&outcome, &report, sc.schedule.time_zone());
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

pub async fn chaos_cmd(args: ChaosArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("sunwai-chaos-{seed:x}")),
            !args.keep,
        ),
    };
    if args.citizens == 0 || args.officers == 0 {
        bail!("--citizens and --officers must be at least 1");
    }
    let plan = crate::chaos::Plan {
        citizens: args.citizens,
        officers: args.officers,
        kills: args.kills,
        max_gap: std::time::Duration::from_millis(args.max_gap_ms),
        mean_call: std::time::Duration::from_millis(args.call_ms),
        mean_arrival: std::time::Duration::from_millis(args.arrival_ms),
        seed,
        data_dir: dir.clone(),
        timeout: std::time::Duration::from_secs(args.timeout_secs),
    };
    let progress = Progress::bar(args.kills as u64, "kills and restarts", args.json);
    let result = crate::chaos::run(plan, &progress).await;
    progress.done();
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("data and server log kept in {}", dir.display());
    }
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if !report.passed() {
        bail!("chaos run failed");
    }
    Ok(())
}

/// `sunwai doctor`: the checklist; the exit status says whether anything failed.
pub async fn doctor_cmd(common: Common, tls: TlsArgs, json: bool) -> anyhow::Result<()> {
    let report = match load_serve_config(&common, None, &tls) {
        Ok(config) => crate::doctor::run(&config).await,
        Err(e) => crate::doctor::bad_configuration(&e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    if report.failed() {
        std::process::exit(1);
    }
    Ok(())
}
