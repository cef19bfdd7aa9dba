//! The client against tiny scripted tokio-tungstenite servers on 127.0.0.1:0.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sunwai_signaling::client::tungstenite::handshake::server::{Request, Response};
use sunwai_signaling::client::tungstenite::protocol::frame::coding::CloseCode;
use sunwai_signaling::client::tungstenite::protocol::CloseFrame;
use sunwai_signaling::client::tungstenite::Message;
use sunwai_signaling::client::{BUFFER_LIMIT, NO_STATUS};
use sunwai_signaling::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

const SHORT: Duration = Duration::from_millis(200);
const LONG: Duration = Duration::from_secs(5);

/// Accepts one connection and runs `script` on it; the `Origin` header it carried is
/// passed along. Returns the URL to connect to and the script's result.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback type, not ours
async fn serve<F, Fut, T>(script: F) -> (String, JoinHandle<T>)
where
    F: FnOnce(Ws, Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut origin = None;
        let ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
            origin = req
                .headers()
                .get("origin")
                .map(|v| v.to_str().unwrap().to_owned());
            Ok(resp)
        })
        .await
        .unwrap();
        script(ws, origin).await
    });
    (url, handle)
}

async fn read_client(ws: &mut Ws) -> ClientMsg {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return parse_client(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn send_server(ws: &mut Ws, msg: &ServerMsg) {
    ws.send(Message::text(serde_json::to_string(msg).unwrap()))
        .await
        .unwrap();
}

fn message(text: &str) -> ServerMsg {
    ServerMsg::Message {
        text: text.into(),
        at: "2026-11-28T07:00:00Z".into(),
    }
}

/// Waits for the client to go away, so the server does not close first.
async fn linger(mut ws: Ws) {
    while let Some(Ok(_)) = ws.next().await {}
}

#[tokio::test]
async fn request_returns_matching_reply_and_keeps_the_rest_in_order() {
    let (url, server) = serve(|mut ws, _| async move {
        let msg = read_client(&mut ws).await;
        let id = msg.request_id().unwrap();
        send_server(&mut ws, &message("one")).await;
        send_server(&mut ws, &ServerMsg::YouAreNext {}).await;
        // A reply to some other request must not be taken for ours.
        send_server(&mut ws, &ServerMsg::Ok { re: id + 100 }).await;
        send_server(
            &mut ws,
            &ServerMsg::error(None, ErrorCode::RateLimited, "slow"),
        )
        .await;
        send_server(&mut ws, &ServerMsg::Pong { re: id }).await;
        send_server(&mut ws, &message("after")).await;
        linger(ws).await;
        msg
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    let reply = c.request(|id| ClientMsg::Ping { id }).await.unwrap();
    assert_eq!(reply, ServerMsg::Pong { re: 1 });
    assert_eq!(c.buffered(), 4);
    assert_eq!(c.recv().await.unwrap(), message("one"));
    assert_eq!(c.recv().await.unwrap(), ServerMsg::YouAreNext {});
    assert_eq!(c.recv().await.unwrap(), ServerMsg::Ok { re: 101 });
    assert!(matches!(
        c.recv().await.unwrap(),
        ServerMsg::Error { re: None, .. }
    ));
    assert_eq!(c.recv_timeout(LONG).await.unwrap(), message("after"));
    c.close().await.unwrap();
    assert_eq!(server.await.unwrap(), ClientMsg::Ping { id: 1 });
}

#[tokio::test]
async fn request_ids_count_up_and_error_replies_are_returned() {
    let (url, server) = serve(|mut ws, _| async move {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let msg = read_client(&mut ws).await;
            let id = msg.request_id().unwrap();
            seen.push(id);
            let reply = match msg {
                ClientMsg::Join { .. } => ServerMsg::Error {
                    re: Some(id),
                    code: ErrorCode::InvalidInput,
                    message: "bad mobile".into(),
                    field: Some("mobile".into()),
                },
                ClientMsg::GoOnDuty { .. } => ServerMsg::Ok { re: id },
                _ => ServerMsg::error(Some(id), ErrorCode::NotAllowed, "no"),
            };
            send_server(&mut ws, &reply).await;
        }
        linger(ws).await;
        seen
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    let reply = c
        .request(|id| ClientMsg::Join {
            id,
            desk: "d".into(),
            intake: IntakeMsg {
                name: "A".into(),
                mobile: "1".into(),
                area: "X".into(),
                category: "c".into(),
                description: String::new(),
                language: "hi".into(),
                consent: true,
            },
        })
        .await
        .unwrap();
    assert!(matches!(
        reply,
        ServerMsg::Error { re: Some(1), code: ErrorCode::InvalidInput, field: Some(ref f), .. } if f == "mobile"
    ));
    c.request_ok(|id| ClientMsg::GoOnDuty { id }).await.unwrap();
    let err = c
        .request_ok(|id| ClientMsg::Ready { id })
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::UnexpectedReply(_)), "{err}");
    assert_eq!(c.next_id(), 4);
    c.close().await.unwrap();
    assert_eq!(server.await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn recv_until_keeps_non_matching_messages_for_recv() {
    let (url, server) = serve(|mut ws, _| async move {
        for text in ["a", "b"] {
            send_server(&mut ws, &message(text)).await;
        }
        send_server(
            &mut ws,
            &ServerMsg::Duty {
                state: DutyState::Ready,
            },
        )
        .await;
        send_server(&mut ws, &message("c")).await;
        send_server(
            &mut ws,
            &ServerMsg::Duty {
                state: DutyState::Offered,
            },
        )
        .await;
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    let is_duty = |m: &ServerMsg| matches!(m, ServerMsg::Duty { .. });
    assert_eq!(
        c.recv_until(is_duty, LONG).await.unwrap(),
        ServerMsg::Duty {
            state: DutyState::Ready
        }
    );
    // Now "c" is still on the wire; the next match skips it too.
    assert_eq!(
        c.recv_until(is_duty, LONG).await.unwrap(),
        ServerMsg::Duty {
            state: DutyState::Offered
        }
    );
    // A match already held back is found without touching the socket.
    assert_eq!(
        c.recv_until(|m| *m == message("b"), SHORT).await.unwrap(),
        message("b")
    );
    assert_eq!(c.recv().await.unwrap(), message("a"));
    assert_eq!(c.recv().await.unwrap(), message("c"));
    // Nothing more: a timeout, and nothing was lost by it.
    assert!(matches!(
        c.recv_until(is_duty, SHORT).await,
        Err(ClientError::Timeout)
    ));
    assert!(matches!(
        c.recv_timeout(SHORT).await,
        Err(ClientError::Timeout)
    ));
    c.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn recv_timeout_loses_nothing() {
    let (url, server) = serve(|mut ws, _| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        send_server(&mut ws, &message("late")).await;
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert!(matches!(
        c.recv_timeout(Duration::from_millis(50)).await,
        Err(ClientError::Timeout)
    ));
    assert_eq!(c.recv_timeout(LONG).await.unwrap(), message("late"));
    c.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn hello_returns_welcome() {
    let (url, server) = serve(|mut ws, _| async move {
        let hello = read_client(&mut ws).await;
        send_server(
            &mut ws,
            &ServerMsg::Welcome(Welcome {
                v: PROTOCOL_VERSION,
                role: Role::Officer,
                name: Some("SI Ravi Kumar".into()),
                desks: vec![],
                ice_servers: vec![],
                instant_connect_position: None,
                resumed: None,
            }),
        )
        .await;
        linger(ws).await;
        hello
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    let welcome = c.hello(Some("s_1"), None).await.unwrap();
    assert_eq!(welcome.role, Role::Officer);
    c.close().await.unwrap();
    assert_eq!(
        server.await.unwrap(),
        ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            session: Some("s_1".into()),
            ticket: None,
            lang: None,
        }
    );
}

#[tokio::test]
async fn hello_refused_is_an_unexpected_reply() {
    let (url, server) = serve(|mut ws, _| async move {
        read_client(&mut ws).await;
        send_server(
            &mut ws,
            &ServerMsg::error(None, ErrorCode::UnsupportedVersion, "v1 only"),
        )
        .await;
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    match c.hello(None, Some("t_1")).await {
        Err(ClientError::UnexpectedReply(msg)) => assert!(matches!(
            *msg,
            ServerMsg::Error {
                code: ErrorCode::UnsupportedVersion,
                ..
            }
        )),
        other => panic!("{other:?}"),
    }
    c.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn origin_header_is_sent_only_when_asked() {
    let (url, server) = serve(|ws, origin| async move {
        linger(ws).await;
        origin
    })
    .await;
    let c = Client::connect_with_origin(&url, "https://sunwai.example.org")
        .await
        .unwrap();
    c.close().await.unwrap();
    assert_eq!(
        server.await.unwrap().as_deref(),
        Some("https://sunwai.example.org")
    );

    let (url, server) = serve(|ws, origin| async move {
        linger(ws).await;
        origin
    })
    .await;
    Client::connect(&url).await.unwrap().close().await.unwrap();
    assert_eq!(server.await.unwrap(), None);
}

#[tokio::test]
async fn websocket_pings_are_answered_and_skipped() {
    let (url, server) = serve(|mut ws, _| async move {
        ws.send(Message::Ping(b"hb".to_vec().into())).await.unwrap();
        send_server(&mut ws, &message("x")).await;
        // The client answers the ping once it reads; expect its pong.
        let mut got_pong = false;
        while let Some(Ok(frame)) = ws.next().await {
            if let Message::Pong(p) = frame {
                got_pong = p.as_ref() == b"hb";
                break;
            }
        }
        linger(ws).await;
        got_pong
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert_eq!(c.recv_timeout(LONG).await.unwrap(), message("x"));
    // Sending flushes the queued pong, if reading has not already.
    c.send(&ClientMsg::Ping { id: 1 }).await.unwrap();
    c.close().await.unwrap();
    assert!(server.await.unwrap());
}

#[tokio::test]
async fn close_frame_is_reported_with_code_and_reason_and_stays_closed() {
    let (url, server) = serve(|mut ws, _| async move {
        send_server(&mut ws, &message("before")).await;
        ws.close(Some(CloseFrame {
            code: CloseCode::from(close_code::SUPERSEDED),
            reason: "connected elsewhere".into(),
        }))
        .await
        .unwrap();
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert_eq!(c.recv().await.unwrap(), message("before"));
    for _ in 0..2 {
        match c.recv_timeout(LONG).await {
            Err(ClientError::Closed { code, reason }) => {
                assert_eq!(code, close_code::SUPERSEDED);
                assert_eq!(reason, "connected elsewhere");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        c.send(&ClientMsg::Ping { id: 1 }).await,
        Err(ClientError::Closed { .. })
    ));
    c.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn close_without_status_and_abrupt_end() {
    let (url, server) = serve(|mut ws, _| async move {
        ws.close(None).await.unwrap();
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert!(matches!(
        c.recv_timeout(LONG).await,
        Err(ClientError::Closed {
            code: NO_STATUS,
            ..
        })
    ));
    drop(c);
    server.await.unwrap();

    let (url, server) = serve(|ws, _| async move { drop(ws) }).await;
    let mut c = Client::connect(&url).await.unwrap();
    server.await.unwrap();
    match c.recv_timeout(LONG).await {
        Err(ClientError::Closed { code, .. }) => assert_eq!(code, client::ABNORMAL_CLOSURE),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_server_types_are_ignored_but_bad_frames_are_errors() {
    let (url, server) = serve(|mut ws, _| async move {
        ws.send(Message::text(r#"{"type":"from_the_future","x":1}"#))
            .await
            .unwrap();
        send_server(&mut ws, &message("known")).await;
        ws.send(Message::text(r#"{"type":"queue","position":"first"}"#))
            .await
            .unwrap();
        ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert_eq!(c.recv_timeout(LONG).await.unwrap(), message("known"));
    match c.recv_timeout(LONG).await {
        Err(ClientError::Parse(e)) => assert_eq!(e.code, ErrorCode::Malformed),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.recv_timeout(LONG).await,
        Err(ClientError::Parse(_))
    ));
    c.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn raw_text_is_sent_verbatim() {
    let (url, server) = serve(|mut ws, _| async move {
        let frame = ws.next().await.unwrap().unwrap();
        linger(ws).await;
        frame
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    c.send_raw_text("{not json").await.unwrap();
    c.close().await.unwrap();
    assert_eq!(server.await.unwrap(), Message::text("{not json"));
}

#[tokio::test]
async fn request_needs_an_id_and_times_out() {
    let (url, server) = serve(|mut ws, _| async move {
        let msg = read_client(&mut ws).await;
        linger(ws).await;
        msg
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert!(matches!(
        c.request(|_| ClientMsg::EndOfCandidates {}).await,
        Err(ClientError::NotARequest("end_of_candidates"))
    ));
    c.set_request_timeout(Duration::from_millis(100));
    assert!(matches!(
        c.request(|id| ClientMsg::Ping { id }).await,
        Err(ClientError::Timeout)
    ));
    c.close().await.unwrap();
    // Only the ping went out; the id-less message was not sent.
    assert_eq!(server.await.unwrap(), ClientMsg::Ping { id: 2 });
}

#[tokio::test]
async fn buffer_is_bounded() {
    let (url, server) = serve(|mut ws, _| async move {
        let id = read_client(&mut ws).await.request_id().unwrap();
        for _ in 0..=BUFFER_LIMIT {
            send_server(&mut ws, &ServerMsg::YouAreNext {}).await;
        }
        send_server(&mut ws, &ServerMsg::Pong { re: id }).await;
        linger(ws).await;
    })
    .await;
    let mut c = Client::connect(&url).await.unwrap();
    assert!(matches!(
        c.request(|id| ClientMsg::Ping { id }).await,
        Err(ClientError::Buffer)
    ));
    assert_eq!(c.buffered(), BUFFER_LIMIT);
    c.close().await.unwrap();
    server.await.unwrap();
}
