//! A flood of hostile signaling: more than 100,000 random, truncated, oversized, wrongly
//! typed and out-of-order messages over several live WebSockets at once (citizens, an
//! officer who is not on duty, a supervisor), each connection under its rate limit (set
//! high here, so that messages are parsed rather than throttled). Meanwhile a bystander
//! citizen and officer go through a normal offer, accept and end: the citizen keeps their
//! place at the front, the call happens, and afterwards the server is healthy and no
//! server code panicked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sunwai_signaling::{ClientMsg, ServerMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// Hostile connections running at once.
const CONNECTIONS: usize = 6;
/// Messages each sends: 6 × 17,000 = 102,000.
const PER_CONNECTION: usize = 17_000;

/// Panics raised in the server's own code (`src/`) since the process started. A hook, so
/// that a panic inside a connection task (which tokio would swallow) is still seen.
static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().starts_with("src/"))
            {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// xorshift64*: a small, seeded generator, so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Citizen,
    /// Signed in, never on duty (going on duty would take the bystander's call).
    Officer,
    Supervisor,
}

/// Well-formed messages, mostly from the wrong role or at the wrong time. `entry` is the
/// bystander's entry: hostile connections try to accept, decline, monitor and write on it.
fn valid_messages(who: Who, entry: &str) -> Vec<Value> {
    let other = uuid::Uuid::new_v4().to_string();
    let mut v = vec![
        json!({"type": "hello", "v": 1}),
        json!({"type": "hello", "v": 1, "session": "stolen-or-made-up"}),
        json!({"type": "ping", "id": 1}),
        json!({"type": "join", "id": 2, "desk": DESK, "intake": intake("Flood")}),
        json!({"type": "join", "id": 3, "desk": "nowhere", "intake": intake("Flood")}),
        json!({"type": "leave", "id": 4}),
        json!({"type": "hangup", "id": 5}),
        json!({"type": "accept", "id": 6, "entry": entry}),
        json!({"type": "accept", "id": 7, "entry": other}),
        json!({"type": "decline", "id": 8, "entry": entry}),
        json!({"type": "end_call", "id": 9}),
        json!({"type": "end_call", "id": 10, "no_show": true}),
        json!({"type": "ready", "id": 11}),
        json!({"type": "go_off_duty", "id": 12}),
        json!({"type": "save_outcome", "id": 13, "entry": other,
               "outcome": {"category": "theft", "station": "kotwali", "action": "x", "notes": ""}}),
        json!({"type": "watch", "id": 14, "desk": DESK}),
        json!({"type": "unwatch", "id": 15, "desk": DESK}),
        json!({"type": "watch", "id": 16, "desk": "elsewhere"}),
        json!({"type": "monitor", "id": 17, "entry": entry}),
        json!({"type": "stop_monitor", "id": 18, "entry": entry}),
        json!({"type": "open_window", "id": 19, "desk": "elsewhere", "minutes": 60}),
        json!({"type": "extend_window", "id": 20, "desk": "elsewhere", "minutes": 0}),
        json!({"type": "broadcast", "id": 21, "desk": "elsewhere", "text": "x"}),
        json!({"type": "sdp", "id": 22, "description": {"sdp_type": "offer", "sdp": "v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\n"}}),
        json!({"type": "sdp", "id": 23, "description": {"sdp_type": "bogus", "sdp": ""}}),
        json!({"type": "ice", "candidate": {"candidate": "candidate:1 1 udp 1 192.168.1.1 9 typ host", "sdp_mid": "0", "sdp_mline_index": 0}}),
        json!({"type": "end_of_candidates"}),
    ];
    if who != Who::Supervisor {
        // Supervisor-only steering of the real desk: refused for these roles. (A real
        // supervisor doing it would legitimately change the bystander's day.)
        v.extend([
            json!({"type": "close_window", "id": 24, "desk": DESK}),
            json!({"type": "open_window", "id": 25, "desk": DESK, "minutes": 5}),
            json!({"type": "extend_window", "id": 26, "desk": DESK, "minutes": 30}),
            json!({"type": "broadcast", "id": 27, "desk": DESK, "text": "fake notice"}),
            json!({"type": "save_outcome", "id": 28, "entry": entry, "outcome": {"category": "theft"}}),
        ]);
    }
    if who != Who::Officer {
        // For an officer this would be real: it is refused for these roles.
        v.push(json!({"type": "go_on_duty", "id": 29}));
    }
    v
}

/// A value of a type no field expects.
fn wrong_value(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => json!(null),
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!("x".repeat(rng.below(300))),
        6 => json!([1, "two", null]),
        7 => json!({"nested": {"deeper": [{}]}}),
        _ => json!("00000000-0000-0000-0000-00000000000g"),
    }
}

/// Random JSON, sometimes nested far beyond what any message has.
fn random_json(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => {
            let depth = 1 + rng.below(20_000);
            "[".repeat(depth) + &"]".repeat(rng.below(depth + 1))
        }
        1 => {
            let depth = 1 + rng.below(5_000);
            r#"{"type":"#.repeat(depth) + "1" + &"}".repeat(depth)
        }
        2 => json!({"type": wrong_value(rng), "id": wrong_value(rng)}).to_string(),
        3 => json!({"type": "launch_missiles", "id": rng.next()}).to_string(),
        4 => format!(
            r#"{{"type":"ping","id":{}}}"#,
            "9".repeat(1 + rng.below(400))
        ),
        _ => {
            // Strings full of escapes, controls, surrogates and right-to-left marks.
            let pieces = [
                "\\u0000",
                "\\ud800",
                "\\udfff\\ud800",
                "\u{202e}",
                "\\\"",
                "é",
                "सुनवाई",
                "\\n",
            ];
            let mut s = String::from(r#"{"type":"join","id":1,"desk":""#);
            for _ in 0..rng.below(200) {
                s.push_str(pieces[rng.below(pieces.len())]);
            }
            s.push_str(r#"","intake":{}}"#);
            s
        }
    }
}

/// One hostile frame.
fn hostile(rng: &mut Rng, templates: &[Value]) -> Message {
    let roll = rng.below(1000);
    let text = match roll {
        // Well-formed, wrong role or wrong time.
        0..=349 => rng.pick(templates).to_string(),
        // Truncated anywhere (on a character boundary: frames are text).
        350..=499 => {
            let t = rng.pick(templates).to_string();
            let mut cut = rng.below(t.len());
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t[..cut].to_owned()
        }
        // A field of the wrong type, or a missing one.
        500..=699 => {
            let mut v = rng.pick(templates).clone();
            if let Some(obj) = v.as_object_mut() {
                let keys: Vec<String> = obj.keys().cloned().collect();
                let key = rng.pick(&keys).clone();
                if rng.below(4) == 0 {
                    obj.remove(&key);
                } else {
                    obj.insert(key, wrong_value(rng));
                }
            }
            v.to_string()
        }
        // Random bytes, read as UTF-8 with replacement characters.
        700..=799 => {
            let n = rng.below(512);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        800..=979 => random_json(rng),
        // Binary frames are not part of the protocol.
        980..=994 => {
            let bytes: Vec<u8> = (0..rng.below(256)).map(|_| rng.next() as u8).collect();
            return Message::binary(bytes);
        }
        // Over the 64 KiB message limit (but under the 1 MiB transport limit).
        _ => format!(
            r#"{{"type":"ping","id":1,"pad":"{}"}}"#,
            "x".repeat(64 * 1024 + rng.below(128 * 1024))
        ),
    };
    Message::text(text)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: &str, session: Option<&str>) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = json!({"type": "hello", "v": 1, "session": session});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    ws
}

#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    replies: AtomicUsize,
    reconnects: AtomicUsize,
    /// Replies by `type` (and error `code`).
    kinds: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

/// Sends `PER_CONNECTION` hostile frames on one connection while reading whatever comes
/// back; if the server closes the connection (as it may, for a bad frame), reconnects.
async fn flood(
    url: String,
    who: Who,
    session: Option<String>,
    entry: String,
    seed: u64,
    tally: Arc<Tally>,
) {
    let mut rng = Rng(seed);
    let templates = valid_messages(who, &entry);
    let mut left = PER_CONNECTION;
    while left > 0 {
        let (mut sink, mut stream) = open(&url, session.as_deref()).await.split();
        let reader_tally = tally.clone();
        let reader = tokio::spawn(async move {
            let mut kinds = std::collections::BTreeMap::<String, usize>::new();
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                reader_tally.replies.fetch_add(1, Ordering::Relaxed);
                let v: Value = serde_json::from_str(&t).unwrap_or_default();
                let kind = match (v["type"].as_str(), v["code"].as_str()) {
                    // The per-connection message limit answers without `re`; the join
                    // limit per address answers the join.
                    (Some(t), Some("rate_limited")) if v["re"].is_null() => {
                        format!("{t}:rate_limited(messages)")
                    }
                    (Some(t), Some(c)) => format!("{t}:{c}"),
                    (Some(t), None) => t.to_owned(),
                    _ => "?".to_owned(),
                };
                *kinds.entry(kind).or_default() += 1;
            }
            let mut all = reader_tally.kinds.lock().unwrap();
            for (k, n) in kinds {
                *all.entry(k).or_default() += n;
            }
        });
        while left > 0 {
            if sink.send(hostile(&mut rng, &templates)).await.is_err() {
                break;
            }
            left -= 1;
            tally.sent.fetch_add(1, Ordering::Relaxed);
        }
        let _ = sink.close().await;
        let _ = tokio::time::timeout(WAIT, reader).await;
        if left > 0 {
            tally.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_hostile_messages_hurt_nobody() {
    count_server_panics();
    let panics_before = SERVER_PANICS.load(Ordering::SeqCst);
    let app = spawn_app_with(|c| {
        c.limits.messages_per_second = 1_000_000;
    })
    .await;

    // The bystanders: a citizen at the front of the queue, an officer not yet on duty.
    let mut citizen = app.citizen().await;
    let joined = join(&mut citizen, "Bystander").await;
    let mut officer = app.staff("officer1").await;

    let officer2 = app.login("officer2").await;
    let supervisor = app.login("supervisor").await;
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut floods = Vec::new();
    for n in 0..CONNECTIONS {
        let (who, session) = match n {
            0 => (Who::Officer, Some(officer2.clone())),
            1 => (Who::Supervisor, Some(supervisor.clone())),
            _ => (Who::Citizen, None),
        };
        floods.push(tokio::spawn(flood(
            app.ws_url(),
            who,
            session,
            joined.entry.to_string(),
            0x5EED_0000 + n as u64,
            tally.clone(),
        )));
    }

    // While the flood runs: a normal call for the bystanders.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tally.sent.load(Ordering::Relaxed) > 0,
        "the flood is under way"
    );
    officer
        .request_ok(|id| ClientMsg::GoOnDuty { id })
        .await
        .unwrap();
    let offer = expect(&mut officer, "the offer", |m| {
        matches!(m, ServerMsg::Offer { .. })
    })
    .await;
    let ServerMsg::Offer { entry, .. } = offer else {
        unreachable!()
    };
    assert_eq!(entry, joined.entry, "the bystander is still first in line");
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry })
        .await
        .unwrap();
    let mut positions = Vec::new();
    expect(&mut citizen, "call_started", |m| {
        if let ServerMsg::Queue { position, .. } = m {
            positions.push(*position);
        }
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;
    assert!(
        positions.iter().all(|p| *p == 1),
        "the bystander's place never moved: {positions:?}"
    );
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();
    expect(&mut citizen, "call_ended", |m| {
        matches!(m, ServerMsg::CallEnded { .. })
    })
    .await;
    let during = tally.sent.load(Ordering::Relaxed);

    for f in floods {
        f.await.unwrap();
    }
    let elapsed = started.elapsed();
    let sent = tally.sent.load(Ordering::Relaxed);
    println!(
        "hostile flood: {sent} messages on {CONNECTIONS} connections in {:.1} s ({:.0} messages/s), \
         {} replies, {} reconnects; the bystanders' call happened while {during} had been sent",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        tally.replies.load(Ordering::Relaxed),
        tally.reconnects.load(Ordering::Relaxed),
    );
    let kinds = tally.kinds.lock().unwrap().clone();
    println!("replies by kind: {kinds:?}");
    assert!(sent >= 100_000, "{sent}");
    // Parsed and answered, not throttled (only joins meet their per-address limit); and
    // never an internal error.
    assert_eq!(kinds.get("error:rate_limited(messages)"), None);
    assert_eq!(kinds.get("error:internal"), None);
    for code in [
        "malformed",
        "too_large",
        "not_allowed",
        "out_of_order",
        "unknown_type",
    ] {
        assert!(
            kinds.contains_key(&format!("error:{code}")),
            "{code}: {kinds:?}"
        );
    }
    assert!(
        during < sent,
        "the call happened during the flood, not after it"
    );

    // The server is up and well: health, a fresh connection, the bystanders.
    assert_eq!(app.http("GET", "/healthz", &[], None).await.status, 200);
    assert_eq!(app.http("GET", "/readyz", &[], None).await.status, 200);
    let mut fresh = app.citizen().await;
    assert!(matches!(
        fresh.request(|id| ClientMsg::Ping { id }).await.unwrap(),
        ServerMsg::Pong { .. }
    ));
    assert!(matches!(
        officer.request(|id| ClientMsg::Ping { id }).await.unwrap(),
        ServerMsg::Pong { .. }
    ));
    let store = app.store().await;
    let rec = store
        .get_by_reference(&joined.reference)
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    assert_eq!(rec.disposition, sunwai::store::Disposition::Completed);
    assert!(
        rec.outcome.is_none(),
        "nobody wrote on the bystander's record"
    );
    assert_eq!(
        SERVER_PANICS.load(Ordering::SeqCst),
        panics_before,
        "server code panicked"
    );
    app.stop().await;
}
