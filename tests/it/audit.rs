//! The audit log over the real server: views, lists, exports, status changes and sign-ins
//! are logged with who, when and from where; only supervisors may read the log; behind a
//! trusted proxy the client's forwarded address is what counts.

use std::process::Command;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use sunwai_signaling::{ClientMsg, ServerMsg};

use crate::helpers::*;

const JSON: (&str, &str) = ("content-type", "application/json");

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let auth = bearer(token);
    let r = app
        .http("GET", path, &[("authorization", &auth)], None)
        .await;
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// The whole audit log of the SQLite database in `dir`, newest first (for tests that run
/// the command line, outside any runtime).
fn audit_log_of(dir: &std::path::Path) -> Vec<sunwai::store::AuditEntry> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = sunwai::store::Store::open_sqlite(dir).await.unwrap();
        let log = store.audit_log(&Default::default()).await.unwrap();
        store.close().await;
        log
    })
}

/// The audit entries with `action`, newest first.
fn with_action<'a>(log: &'a Value, action: &str) -> Vec<&'a Value> {
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .collect()
}

#[tokio::test]
async fn record_access_and_sign_ins_are_audited_and_only_supervisors_read_the_log() {
    let app = spawn_app().await;
    let mut citizen = app.citizen().await;
    let joined = join(&mut citizen, "Asha Devi").await;
    let reference = joined.reference.clone();

    // Two failed sign-ins: a wrong password for a real account, and an unknown name.
    for body in [
        r#"{"username":"officer1","password":"not the password"}"#,
        r#"{"username":"nobody\u0007here","password":"x"}"#,
    ] {
        let r = app.http("POST", "/api/login", &[JSON], Some(body)).await;
        assert_eq!(r.status, 401);
    }
    let sup = app.login("supervisor").await;
    let off = app.login("officer1").await;

    let (status, _) = get_json(&app, &sup, &format!("/api/records/{reference}")).await;
    assert_eq!(status, 200);
    let (status, _) = get_json(
        &app,
        &off,
        &format!("/api/records/{}", reference.to_lowercase()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, list) = get_json(&app, &sup, "/api/records?status=received&q=asha").await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 1));
    let auth = bearer(&sup);
    let csv = app
        .http("GET", "/api/records.csv", &[("authorization", &auth)], None)
        .await;
    assert_eq!(csv.status, 200);
    let r = app
        .http(
            "POST",
            &format!("/api/records/{reference}/status"),
            &[("authorization", &auth), JSON],
            Some(r#"{"status":"forwarded","note":"to Kotwali"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Officers may not read the log; nobody signed out may either.
    let (status, _) = get_json(&app, &off, "/api/audit").await;
    assert_eq!(status, 403);
    assert_eq!(app.http("GET", "/api/audit", &[], None).await.status, 401);
    let (status, _) = get_json(&app, &sup, "/api/audit?action=launch").await;
    assert_eq!(status, 400);

    // Everything about the record: two views and the status change.
    let (status, log) = get_json(&app, &sup, &format!("/api/audit?record={reference}")).await;
    assert_eq!(status, 200);
    let views = with_action(&log, "record_view");
    assert_eq!(views.len(), 2, "{log:#}");
    assert_eq!(views[0]["actor"]["name"], "officer1", "newest first");
    assert_eq!(views[1]["actor"]["name"], "supervisor");
    assert_eq!(views[1]["actor"]["kind"], "user");
    assert_eq!(views[1]["address"], "127.0.0.1");
    assert_eq!(views[1]["reference"], reference.as_str());
    let changes = with_action(&log, "status_change");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["actor"]["name"], "supervisor");
    assert_eq!(changes[0]["detail"]["from"], "received");
    assert_eq!(changes[0]["detail"]["to"], "forwarded");
    assert_eq!(changes[0]["detail"]["note"], "to Kotwali");

    // The list query with its filter and count; the export with its row count.
    let (_, log) = get_json(&app, &sup, "/api/audit?actor=supervisor").await;
    let lists = with_action(&log, "record_list");
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0]["detail"]["filter"]["status"], "received");
    assert_eq!(lists[0]["detail"]["filter"]["text"], "asha");
    assert_eq!(lists[0]["detail"]["returned"], 1);
    let exports = with_action(&log, "record_export");
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0]["detail"]["rows"], 1);
    assert_eq!(exports[0]["detail"]["via"], "rest");
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["name"] == "supervisor"));

    // Sign-ins, failed and successful, with the name that was tried and why it failed.
    let (_, log) = get_json(&app, &sup, "/api/audit?action=sign_in_failed").await;
    let failed = log.as_array().unwrap();
    assert_eq!(failed.len(), 2, "{log:#}");
    assert_eq!(failed[0]["actor"]["kind"], "anonymous");
    assert_eq!(
        failed[0]["detail"]["username"], "nobodyhere",
        "control characters dropped"
    );
    assert_eq!(failed[0]["detail"]["reason"], "unknown_account");
    assert_eq!(failed[1]["actor"]["name"], "officer1");
    assert_eq!(failed[1]["detail"]["reason"], "wrong_password");
    let (_, log) = get_json(&app, &sup, "/api/audit?action=sign_in").await;
    assert_eq!(log.as_array().unwrap().len(), 2);

    // Reading the log is logged too, and time windows work.
    let (_, log) = get_json(&app, &sup, "/api/audit?action=audit_view&limit=1").await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    let (_, log) = get_json(&app, &sup, "/api/audit?until=2000-01-01T00:00:00Z").await;
    assert_eq!(log.as_array().unwrap().len(), 0);

    // Sign-out.
    let r = app
        .http(
            "POST",
            "/api/logout",
            &[("authorization", &bearer(&off))],
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let (_, log) = get_json(&app, &sup, "/api/audit?action=sign_out").await;
    assert_eq!(log[0]["actor"]["name"], "officer1");
    app.stop().await;
}

#[tokio::test]
async fn a_supervisors_window_changes_and_broadcasts_are_audited() {
    let app = spawn_app().await;
    let mut ws = app.staff("supervisor").await;
    ws.request_ok(|id| ClientMsg::ExtendWindow {
        id,
        desk: DESK.into(),
        minutes: 20,
    })
    .await
    .unwrap();
    ws.request_ok(|id| ClientMsg::Broadcast {
        id,
        desk: DESK.into(),
        text: "Officers are on duty until 14:20".into(),
    })
    .await
    .unwrap();
    ws.request_ok(|id| ClientMsg::CloseWindow {
        id,
        desk: DESK.into(),
    })
    .await
    .unwrap();
    ws.request_ok(|id| ClientMsg::OpenWindow {
        id,
        desk: DESK.into(),
        minutes: 15,
    })
    .await
    .unwrap();
    // A refused change (nothing to extend at a desk that does not exist) is not audited.
    let refused = ws
        .request(|id| ClientMsg::ExtendWindow {
            id,
            desk: "elsewhere".into(),
            minutes: 5,
        })
        .await
        .unwrap();
    assert!(matches!(refused, ServerMsg::Error { .. }), "{refused:?}");

    let sup = app.login("supervisor").await;
    let (_, log) = get_json(&app, &sup, "/api/audit?actor=supervisor").await;
    let one = |action: &str| {
        let found = with_action(&log, action);
        assert_eq!(found.len(), 1, "{action}: {log:#}");
        found[0].clone()
    };
    let extend = one("window_extend");
    assert_eq!(extend["detail"]["desk"], DESK);
    assert_eq!(extend["detail"]["minutes"], 20);
    assert_eq!(extend["address"], "127.0.0.1");
    let said = one("broadcast");
    assert_eq!(said["detail"]["text"], "Officers are on duty until 14:20");
    assert_eq!(one("window_close")["detail"]["desk"], DESK);
    assert_eq!(one("window_open")["detail"]["minutes"], 15);
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.limits.logins_per_minute_per_address = 2;
        c.limits.logins_per_minute_per_account = 100;
        c.limits.joins_per_minute_per_address = 1;
    })
    .await;
    let wrong = r#"{"username":"officer1","password":"nope"}"#;
    let from = |ip: &'static str| [JSON, ("x-forwarded-for", ip)];
    for _ in 0..2 {
        let r = app
            .http("POST", "/api/login", &from("198.51.100.7"), Some(wrong))
            .await;
        assert_eq!(r.status, 401);
    }
    let r = app
        .http("POST", "/api/login", &from("198.51.100.7"), Some(wrong))
        .await;
    assert_eq!(r.status, 429, "that client's quota is used up");
    // Another client behind the same proxy has its own quota; a client cannot pick its
    // address by sending the header itself (only the proxy's last hop is believed).
    let forged = [JSON, ("x-forwarded-for", "203.0.113.1, 198.51.100.8")];
    let r = app.http("POST", "/api/login", &forged, Some(wrong)).await;
    assert_eq!(r.status, 401);

    let store = app.store().await;
    let failed = store
        .audit_log(&sunwai::store::AuditFilter {
            action: Some(sunwai::store::AuditAction::SignInFailed),
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    let addresses: Vec<_> = failed.iter().filter_map(|e| e.address.clone()).collect();
    assert_eq!(addresses, ["198.51.100.8", "198.51.100.7", "198.51.100.7"]);

    // The WebSocket's per-address join limit uses the same address.
    let url = app.ws_url();
    assert_eq!(join_from(&url, "198.51.100.20").await, "joined");
    assert_eq!(join_from(&url, "198.51.100.20").await, "error:rate_limited");
    assert_eq!(join_from(&url, "198.51.100.21").await, "joined");
    app.stop().await;
}

/// Opens a WebSocket with `X-Forwarded-For: ip`, joins, and returns the reply's type
/// (with the error code, if an error).
async fn join_from(url: &str, ip: &str) -> String {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("x-forwarded-for", ip.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(r#"{"type":"hello","v":1}"#))
        .await
        .unwrap();
    let join = serde_json::json!({"type": "join", "id": 1, "desk": DESK, "intake": intake("X")});
    ws.send(Message::text(join.to_string())).await.unwrap();
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(t) = m else { continue };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["re"] == 1 {
            let kind = v["type"].as_str().unwrap_or_default().to_owned();
            return match v["code"].as_str() {
                Some(code) => format!("{kind}:{code}"),
                None => kind,
            };
        }
    }
}

#[tokio::test]
async fn without_trusted_proxies_the_header_is_ignored() {
    let app = spawn_app_with(|c| c.limits.logins_per_minute_per_address = 1).await;
    let wrong = r#"{"username":"officer1","password":"nope"}"#;
    for (ip, want) in [("198.51.100.7", 401), ("198.51.100.8", 429)] {
        let r = app
            .http(
                "POST",
                "/api/login",
                &[JSON, ("x-forwarded-for", ip)],
                Some(wrong),
            )
            .await;
        assert_eq!(r.status, want, "the header does not make a new client");
    }
    app.stop().await;
}

#[test]
fn a_command_line_export_is_audited_with_the_os_user() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sunwai"))
        .args(["records", "export", "--status", "resolved", "--data-dir"])
        .arg(dir.path())
        .env("USER", "records-clerk")
        .env_remove("SUNWAI_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = audit_log_of(dir.path());
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, sunwai::store::AuditAction::RecordExport);
    assert_eq!(
        log[0].actor,
        sunwai::store::AuditActor::Cli {
            os_user: Some("records-clerk".into())
        }
    );
    assert_eq!(log[0].detail["via"], "cli");
    assert_eq!(log[0].detail["rows"], 0);
    assert_eq!(log[0].detail["filter"]["status"], "resolved");
    assert_eq!(log[0].detail["to"], "stdout");
}

#[test]
fn account_changes_on_the_command_line_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sunwai"));
        c.args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("USER", "admin-clerk")
            .env_remove("SUNWAI_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let add = [
        "user",
        "add",
        "--role",
        "officer",
        "--name",
        "verma",
        "--desk",
        "ssp-prayagraj",
        "--password-stdin",
    ];
    run(&add, Some("a long enough password\n"));
    run(&["user", "disable", "verma"], None);
    run(&["user", "enable", "verma"], None);
    run(
        &["user", "passwd", "verma", "--password-stdin"],
        Some("another long password\n"),
    );
    let log = audit_log_of(dir.path());
    use sunwai::store::AuditAction::*;
    // Newest first.
    let actions: Vec<_> = log.iter().map(|e| e.action).collect();
    assert_eq!(actions, [UserPasswd, UserEnable, UserDisable, UserAdd]);
    for e in &log {
        assert_eq!(
            e.actor,
            sunwai::store::AuditActor::Cli {
                os_user: Some("admin-clerk".into())
            }
        );
        assert_eq!(e.detail["user"], "verma");
    }
    assert_eq!(log[3].detail["role"], "officer");
    assert_eq!(log[3].detail["desk"], "ssp-prayagraj");
}

/// A supervisor bound to one desk reads only what concerns that desk in the audit log.
#[tokio::test]
async fn a_desk_supervisor_reads_only_their_desks_audit_entries() {
    let app = spawn_app().await;
    let store = sunwai::store::Store::open_sqlite(app.dir.path())
        .await
        .unwrap();
    for (name, desk) in [
        ("deskboss", "ssp-prayagraj"),
        ("otherboss", "ssp-kaushambi"),
    ] {
        store
            .create_user(sunwai::store::NewUser {
                username: name.into(),
                display_name: name.into(),
                role: sunwai::store::Role::Supervisor,
                desk: Some(sunwai::core::ids::DeskId::parse(desk).unwrap()),
                password_phc: sunwai::auth::hash_password(PASSWORD).unwrap(),
            })
            .await
            .unwrap();
    }
    store.close().await;
    // The officer of this desk and the all-desks supervisor sign in; so do both desk
    // supervisors.
    let _off = app.login("officer1").await;
    let sup = app.login("supervisor").await;
    let mine = app.login("deskboss").await;
    let theirs = app.login("otherboss").await;
    let names = |log: &Value| -> Vec<String> {
        let mut v: Vec<String> = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "sign_in")
            .map(|e| e["actor"]["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        v.sort();
        v
    };
    let (status, all) = get_json(&app, &sup, "/api/audit").await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&all),
        ["deskboss", "officer1", "otherboss", "supervisor"]
    );
    let (status, log) = get_json(&app, &mine, "/api/audit").await;
    assert_eq!(status, 200);
    assert_eq!(names(&log), ["deskboss", "officer1"], "{log:#}");
    let (_, log) = get_json(&app, &theirs, "/api/audit").await;
    assert_eq!(names(&log), ["otherboss"], "{log:#}");
}
