//! Who may do what, table-driven: every client message type against every role over live
//! WebSockets, and every route against every role over HTTP. Roles come from the server
//! (a staff session or none), never from the client.

use std::time::Duration;

use sunwai_signaling::{Client, ClientMsg, ErrorCode, ServerMsg};

use crate::helpers::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Citizen,
    Officer,
    Supervisor,
}

/// Which roles may send each message type.
fn allowed(kind: &str) -> &'static [Who] {
    use Who::*;
    match kind {
        "join" | "leave" | "hangup" => &[Citizen],
        "go_on_duty" | "go_off_duty" | "ready" | "accept" | "decline" | "end_call" => &[Officer],
        "save_outcome" | "watch" | "unwatch" => &[Officer, Supervisor],
        "open_window" | "close_window" | "extend_window" | "broadcast" | "monitor"
        | "stop_monitor" => &[Supervisor],
        "sdp" | "ice" | "end_of_candidates" | "ping" => &[Citizen, Officer, Supervisor],
        // `hello` after hello is out of order for everyone.
        "hello" => &[],
        other => panic!("no authorization rule for message type {other}: add one"),
    }
}

fn fixture(kind: &str) -> String {
    let path = format!(
        "{}/signaling/fixtures/client/{kind}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Sends one message and returns the error code it got, if any.
async fn outcome(c: &mut Client, kind: &str) -> Option<ErrorCode> {
    let text = fixture(kind);
    let msg = sunwai_signaling::parse_client(&text).unwrap();
    let id = msg.request_id();
    c.send_raw_text(&text).await.unwrap();
    let reply = c
        .recv_until(
            |m| match m {
                ServerMsg::Error { re, .. } => *re == id,
                other => id.is_some() && other.reply_to() == id,
            },
            Duration::from_secs(2),
        )
        .await;
    match reply {
        Ok(ServerMsg::Error { code, .. }) => Some(code),
        Ok(_) => None,
        // Messages without an id that are accepted get no reply.
        Err(_) if id.is_none() => None,
        Err(e) => panic!("{kind}: no reply: {e}"),
    }
}

#[tokio::test]
async fn every_message_against_every_role() {
    let app = spawn_app().await;
    let officer = app.login("officer1").await;
    let supervisor = app.login("supervisor").await;
    let mut checked = 0;
    for kind in ClientMsg::TYPES {
        for who in [Who::Citizen, Who::Officer, Who::Supervisor] {
            // A fresh connection per case, so one case's effects cannot mask another's.
            let mut c = Client::connect(&app.ws_url()).await.unwrap();
            let session = match who {
                Who::Citizen => None,
                Who::Officer => Some(officer.as_str()),
                Who::Supervisor => Some(supervisor.as_str()),
            };
            c.hello(session, None).await.unwrap();
            let got = outcome(&mut c, kind).await;
            let may = allowed(kind).contains(&who);
            if may {
                assert_ne!(got, Some(ErrorCode::NotAllowed), "{who:?} may send {kind}");
            } else if *kind == "hello" {
                assert_eq!(got, Some(ErrorCode::OutOfOrder), "{who:?} {kind}");
            } else {
                assert_eq!(
                    got,
                    Some(ErrorCode::NotAllowed),
                    "{who:?} may not send {kind}"
                );
            }
            checked += 1;
            // Undo what may have changed the desk for the next cases.
            if *kind == "close_window" && may {
                let _ = c
                    .request(|id| ClientMsg::OpenWindow {
                        id,
                        desk: DESK.into(),
                        minutes: 60,
                    })
                    .await;
            }
        }
    }
    assert_eq!(checked, ClientMsg::TYPES.len() * 3);
    // Before hello, nothing but hello is accepted, whoever it is.
    for kind in ClientMsg::TYPES.iter().filter(|k| **k != "hello") {
        let mut c = Client::connect(&app.ws_url()).await.unwrap();
        assert_eq!(
            outcome(&mut c, kind).await,
            Some(ErrorCode::HelloRequired),
            "{kind} before hello"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn every_route_against_every_role() {
    let app = spawn_app().await;
    let officer = format!("Bearer {}", app.login("officer1").await);
    let supervisor = format!("Bearer {}", app.login("supervisor").await);
    let complaint = r#"{"name":"Ram","mobile":"9876543210","area":"Kotwali","category":"theft","description":"stolen","consent":true}"#;
    let r = app
        .http(
            "POST",
            "/api/desks/ssp-prayagraj/complaints",
            &[("content-type", "application/json")],
            Some(complaint),
        )
        .await;
    let reference = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let status_body = format!(r#"{{"reference":"{reference}","mobile":"9876543210"}}"#);
    let record = format!("/api/records/{reference}");
    let set_status = format!("/api/records/{reference}/status");
    // (method, path, body, expected status for anonymous, officer, supervisor)
    let table: Vec<(&str, &str, Option<&str>, [u16; 3])> = vec![
        ("GET", "/healthz", None, [200, 200, 200]),
        ("GET", "/readyz", None, [200, 200, 200]),
        ("GET", "/metrics", None, [200, 200, 200]),
        ("GET", "/api/desks", None, [200, 200, 200]),
        ("GET", "/api/catalog", None, [200, 200, 200]),
        ("GET", "/", None, [200, 200, 200]),
        ("GET", "/d/ssp-prayagraj", None, [200, 200, 200]),
        ("GET", "/status", None, [200, 200, 200]),
        ("GET", "/officer", None, [200, 200, 200]),
        ("GET", "/supervisor", None, [200, 200, 200]),
        (
            "POST",
            "/api/desks/ssp-prayagraj/complaints",
            Some(complaint),
            [201, 201, 201],
        ),
        ("POST", "/api/status", Some(&status_body), [200, 200, 200]),
        ("GET", "/api/me", None, [401, 200, 200]),
        ("GET", "/api/records", None, [401, 200, 200]),
        ("GET", &record, None, [401, 200, 200]),
        (
            "POST",
            &set_status,
            Some(r#"{"status":"forwarded"}"#),
            [401, 200, 200],
        ),
        ("GET", "/api/records.csv", None, [401, 403, 200]),
        ("GET", "/api/audit", None, [401, 403, 200]),
        ("GET", "/api/media", None, [401, 403, 200]),
        (
            "GET",
            "/api/desks/ssp-prayagraj/forecast",
            None,
            [401, 403, 200],
        ),
        (
            "GET",
            "/api/desks/ssp-prayagraj/today",
            None,
            [401, 403, 200],
        ),
        (
            "GET",
            "/assets/vendor/uplot/uPlot.esm.js",
            None,
            [200, 200, 200],
        ),
    ];
    for (method, path, body, want) in &table {
        for (i, auth) in [None, Some(officer.as_str()), Some(supervisor.as_str())]
            .into_iter()
            .enumerate()
        {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(a) = auth {
                headers.push(("authorization", a));
            }
            let r = app.http(method, path, &headers, *body).await;
            assert_eq!(
                r.status,
                want[i],
                "{method} {path} as {}: {}",
                ["anonymous", "officer", "supervisor"][i],
                r.body
            );
        }
    }
    app.stop().await;
}
