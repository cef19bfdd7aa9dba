//! Malformed, unknown, out-of-order and oversized messages each get a typed error, the
//! connection goes on, and other clients are unaffected.

use std::time::Duration;

use sunwai_signaling::{Client, ClientError, ClientMsg, ErrorCode, ServerMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

async fn error_code(c: &mut Client) -> ErrorCode {
    match c.recv_timeout(WAIT).await.unwrap() {
        ServerMsg::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_messages_get_typed_errors_and_hurt_nobody_else() {
    let app = spawn_app().await;
    // A bystander waiting in the queue throughout.
    let mut bystander = app.citizen().await;
    let joined = join(&mut bystander, "Bystander").await;

    let mut c = Client::connect(&app.ws_url()).await.unwrap();
    // Before hello.
    c.send_raw_text(r#"{"type":"join","id":1,"desk":"ssp-prayagraj","intake":{"name":"x","mobile":"9876543210","area":"a","category":"theft","consent":true}}"#).await.unwrap();
    assert_eq!(error_code(&mut c).await, ErrorCode::HelloRequired);
    // A wrong protocol version is refused with a reason.
    let mut old = Client::connect(&app.ws_url()).await.unwrap();
    old.send_raw_text(r#"{"type":"hello","v":99}"#)
        .await
        .unwrap();
    assert_eq!(error_code(&mut old).await, ErrorCode::UnsupportedVersion);

    c.hello(None, None).await.unwrap();
    let cases: Vec<(String, ErrorCode)> = vec![
        ("not json".into(), ErrorCode::Malformed),
        ("[1,2,3]".into(), ErrorCode::Malformed),
        (r#"{"id":5}"#.into(), ErrorCode::UnknownType),
        (r#"{"type":"launch_missiles","id":6}"#.into(), ErrorCode::UnknownType),
        (r#"{"type":"join","id":"seven"}"#.into(), ErrorCode::Malformed),
        (r#"{"type":"hello","v":1}"#.into(), ErrorCode::OutOfOrder),
        (r#"{"type":"accept","id":8,"entry":"00000000-0000-0000-0000-000000000000"}"#.into(), ErrorCode::NotAllowed),
        (r#"{"type":"broadcast","id":9,"desk":"ssp-prayagraj","text":"hi"}"#.into(), ErrorCode::NotAllowed),
        (r#"{"type":"leave","id":10}"#.into(), ErrorCode::OutOfOrder),
        (r#"{"type":"join","id":11,"desk":"nowhere","intake":{"name":"x","mobile":"9876543210","area":"a","category":"theft","consent":true}}"#.into(), ErrorCode::UnknownDesk),
        (r#"{"type":"join","id":12,"desk":"ssp-prayagraj","intake":{"name":"x","mobile":"12","area":"a","category":"theft","consent":true}}"#.into(), ErrorCode::InvalidInput),
        (r#"{"type":"join","id":13,"desk":"ssp-prayagraj","intake":{"name":"x","mobile":"9876543210","area":"a","category":"theft","consent":false}}"#.into(), ErrorCode::InvalidInput),
        (format!(r#"{{"type":"ping","id":14,"pad":"{}"}}"#, "x".repeat(70 * 1024)), ErrorCode::TooLarge),
    ];
    for (text, want) in cases {
        c.send_raw_text(&text).await.unwrap();
        let got = error_code(&mut c).await;
        assert_eq!(got, want, "for {}", &text[..text.len().min(80)]);
    }
    c.send_frame(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(error_code(&mut c).await, ErrorCode::Malformed);
    // The invalid-input error names the field.
    let r = c
        .request(|id| ClientMsg::Join {
            id,
            desk: DESK.into(),
            intake: sunwai_signaling::IntakeMsg {
                mobile: "123".into(),
                ..intake("x")
            },
        })
        .await
        .unwrap();
    assert!(
        matches!(r, ServerMsg::Error { field: Some(ref f), .. } if f == "mobile"),
        "{r:?}"
    );
    // The connection still works.
    assert!(matches!(
        c.request(|id| ClientMsg::Ping { id }).await.unwrap(),
        ServerMsg::Pong { .. }
    ));

    // A frame beyond the transport limit ends only that connection.
    let mut huge = app.citizen().await;
    let _ = huge.send_raw_text(&"x".repeat(2 * 1024 * 1024)).await;
    let end = huge.recv_timeout(WAIT).await;
    assert!(
        matches!(
            end,
            Err(ClientError::Closed { .. }) | Err(ClientError::Ws(_))
        ),
        "{end:?}"
    );

    // The bystander kept their place and the server is healthy.
    assert!(matches!(
        bystander
            .request(|id| ClientMsg::Ping { id })
            .await
            .unwrap(),
        ServerMsg::Pong { .. }
    ));
    let store = app.store().await;
    let rec = store
        .get_by_reference(&joined.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.disposition, sunwai::store::Disposition::Waiting);
    store.close().await;
    assert_eq!(app.http("GET", "/healthz", &[], None).await.status, 200);
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.stop().await;
}

#[tokio::test]
async fn staff_sessions_are_checked_on_the_server() {
    let app = spawn_app().await;
    // A made-up session token is refused and the connection closed.
    let mut c = Client::connect(&app.ws_url()).await.unwrap();
    let r = c.hello(Some("not-a-session"), None).await;
    assert!(
        matches!(r, Err(ClientError::UnexpectedReply(ref m)) if matches!(**m, ServerMsg::Error { code: ErrorCode::NotAllowed, .. })),
        "{r:?}"
    );
    // An officer may not steer the window or watch another desk.
    let mut o = app.staff("officer1").await;
    let r = o
        .request(|id| ClientMsg::CloseWindow {
            id,
            desk: DESK.into(),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            ServerMsg::Error {
                code: ErrorCode::NotAllowed,
                ..
            }
        ),
        "{r:?}"
    );
    let r = o
        .request(|id| ClientMsg::Watch {
            id,
            desk: "elsewhere".into(),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            ServerMsg::Error {
                code: ErrorCode::UnknownDesk,
                ..
            }
        ),
        "{r:?}"
    );
    // A supervisor may not take calls.
    let mut s = app.staff("supervisor").await;
    let r = s.request(|id| ClientMsg::GoOnDuty { id }).await.unwrap();
    assert!(
        matches!(
            r,
            ServerMsg::Error {
                code: ErrorCode::NotAllowed,
                ..
            }
        ),
        "{r:?}"
    );
    // Accepting an offer that does not exist is out of order, not a crash.
    o.request_ok(|id| ClientMsg::GoOnDuty { id }).await.unwrap();
    let r = o
        .request(|id| ClientMsg::Accept {
            id,
            entry: uuid::Uuid::new_v4(),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            ServerMsg::Error {
                code: ErrorCode::OutOfOrder,
                ..
            }
        ),
        "{r:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn floods_are_refused_with_a_time_to_come_back() {
    let app = spawn_app_with(|c| {
        c.limits.joins_per_minute_per_address = 3;
        c.limits.logins_per_minute_per_account = 2;
        c.limits.messages_per_second = 5;
        c.desks[0].policy.max_waiting = 2;
    })
    .await;
    // Joins per address.
    for n in 0..2 {
        let mut c = app.citizen().await;
        join(&mut c, &format!("C{n}")).await;
    }
    // A full queue says when to come back.
    let mut c = app.citizen().await;
    let (code, message) = join_refused(&mut c, "Third").await;
    assert_eq!(code, ErrorCode::QueueFull);
    assert!(message.contains("try again at 12:15"), "{message}");
    // And so does the fourth join from the same address within the minute.
    let (code, message) = join_refused(&mut c, "Fourth").await;
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(message.contains("try again at"), "{message}");
    // Sign-in attempts per account, whether the password is right or wrong.
    let ct = [("content-type", "application/json")];
    let wrong = r#"{"username":"officer2","password":"guess"}"#;
    for _ in 0..2 {
        assert_eq!(
            app.http("POST", "/api/login", &ct, Some(wrong))
                .await
                .status,
            401
        );
    }
    let r = app.http("POST", "/api/login", &ct, Some(wrong)).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // Messages per connection.
    let mut flood = app.citizen().await;
    for _ in 0..40 {
        flood
            .send_raw_text(r#"{"type":"ping","id":1}"#)
            .await
            .unwrap();
    }
    let limited = flood
        .recv_until(
            |m| {
                matches!(
                    m,
                    ServerMsg::Error {
                        code: ErrorCode::RateLimited,
                        ..
                    }
                )
            },
            WAIT,
        )
        .await;
    assert!(limited.is_ok(), "{limited:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_page_from_another_site_cannot_open_the_websocket() {
    let app = spawn_app().await;
    let evil = Client::connect_with_origin(&app.ws_url(), "https://evil.example").await;
    assert!(evil.is_err(), "a foreign origin must be refused");
    let own = format!("http://{}", app.addr);
    let mut ok = Client::connect_with_origin(&app.ws_url(), &own)
        .await
        .unwrap();
    ok.hello(None, None).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn silent_and_dead_connections_are_closed() {
    let app = spawn_app_with(|c| {
        c.limits.hello_timeout_secs = 1;
        c.limits.idle_timeout_secs = 2;
    })
    .await;
    // No hello: closed with the hello-timeout code.
    let mut mute = Client::connect(&app.ws_url()).await.unwrap();
    match mute.recv_timeout(WAIT).await {
        Err(ClientError::Closed { code, .. }) => {
            assert_eq!(code, sunwai_signaling::close_code::HELLO_TIMEOUT)
        }
        other => panic!("{other:?}"),
    }
    // A client that said hello but stops answering (not even pongs) is closed as idle,
    // and a waiting citizen keeps their place for the grace period.
    let mut dead = app.citizen().await;
    let j = join(&mut dead, "Dead line").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = dead.recv_until(|_| false, WAIT).await;
    match end {
        Err(ClientError::Closed { code, .. }) => {
            assert_eq!(code, sunwai_signaling::close_code::IDLE_TIMEOUT)
        }
        // The client's own pending pong may hit the closed socket before the close frame is read.
        Err(ClientError::Ws(_)) => {}
        other => panic!("{other:?}"),
    }
    let mut back = Client::connect(&app.ws_url()).await.unwrap();
    let w = back.hello(None, Some(&j.ticket)).await.unwrap();
    assert_eq!(w.resumed.map(|r| r.state), Some("waiting".to_owned()));
    // A live client (which answers pings) stays connected past the idle timeout.
    let mut live = app.citizen().await;
    for _ in 0..6 {
        let _ = live.recv_timeout(Duration::from_millis(500)).await;
    }
    assert!(matches!(
        live.request(|id| ClientMsg::Ping { id }).await.unwrap(),
        ServerMsg::Pong { .. }
    ));
    app.stop().await;
}
