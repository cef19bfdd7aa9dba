//! Media through the server's SFU with real WebRTC peers (webrtc-rs clients in this
//! process) over loopback UDP: both directions with packet counts and payload checks, a
//! keyframe request reaching the sender, instant connect, a silent monitor receiving both
//! sides, and hang-up releasing every peer connection.

use std::time::Duration;

use sunwai::loadtest::{call_tag, negotiate};
use sunwai::sfu::client::{ClientReport, MediaClient, Origin, Role};
use sunwai::sfu::Publisher;
use sunwai_signaling::{ClientMsg, ErrorCode, SdpKind, ServerMsg, SessionDescription};
use tokio::sync::watch;

use crate::helpers::*;

const CONNECT: Duration = Duration::from_secs(10);

fn got(r: &ClientReport, tag: u32, from: Publisher, video: bool) -> u64 {
    r.received
        .get(&Origin::new(tag, from, video))
        .map_or(0, |x| x.packets)
}

async fn media_json(app: &TestApp, bearer: &str) -> serde_json::Value {
    let r = app
        .http("GET", "/api/media", &[("authorization", bearer)], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// Polls `/api/media` until `pred` holds.
async fn media_until(
    app: &TestApp,
    bearer: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = media_json(app, bearer).await;
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: media stats are {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn is_queued(c: &mut sunwai_signaling::Client) {
    expect(c, "queue", |m| matches!(m, ServerMsg::Queue { .. })).await;
}

async fn wait_for<F: Fn(&ClientReport) -> bool>(c: &MediaClient, what: &str, pred: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !pred(&c.report()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {:?}",
            c.report()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_carries_media_both_ways_and_a_supervisor_listens_in_silently() {
    // Packets are counted to within 60 ms of audio: not while browsers share the two cores.
    let _browsers = BROWSERS.lock().await;
    let app = spawn_app().await;
    let bearer = format!("Bearer {}", app.login("supervisor").await);

    // The citizen waits at the front and connects media before any officer is on duty.
    let mut citizen = app.citizen().await;
    let joined = join(&mut citizen, "Ram Kumar").await;
    is_queued(&mut citizen).await;
    let tag = call_tag(joined.entry);
    let mut c_media = MediaClient::new(Role::Publish(Publisher::Citizen), tag)
        .await
        .unwrap();
    negotiate(&mut citizen, &c_media).await.unwrap();
    c_media.wait_connected(CONNECT).await.unwrap();

    // Nothing is forwarded before the call: there is nobody to forward to.
    let mut officer = app.officer("officer1").await;
    officer.request_ok(|id| ClientMsg::Ready { id }).await.ok();
    let offer = expect(&mut officer, "an offer", |m| {
        matches!(m, ServerMsg::Offer { .. })
    })
    .await;
    let ServerMsg::Offer { entry, .. } = offer else {
        unreachable!()
    };
    assert_eq!(entry, joined.entry);
    // The officer connects media while the offer rings (instant connect, their half), and
    // both sides publish, but nothing is forwarded before the officer accepts.
    let mut o_media = MediaClient::new(Role::Publish(Publisher::Officer), tag)
        .await
        .unwrap();
    negotiate(&mut officer, &o_media).await.unwrap();
    o_media.wait_connected(CONNECT).await.unwrap();
    let (stop_tx, stop) = watch::channel(false);
    c_media.publish(1_500_000, stop.clone());
    o_media.publish(1_500_000, stop.clone());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        o_media.report().received.is_empty(),
        "officer got media before accepting"
    );
    assert!(
        c_media.report().received.is_empty(),
        "citizen got media before the call"
    );
    let v = media_json(&app, &bearer).await;
    assert!(v["rtp_before_call"].as_u64().unwrap() > 50, "{v}");
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry })
        .await
        .unwrap();
    expect(&mut officer, "call_started", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;
    // What was sent before this moment may have been dropped as "before the call".
    let sent_before = (c_media.report(), o_media.report());

    // Both directions carry audio and video.
    for (m, from) in [
        (&c_media, Publisher::Officer),
        (&o_media, Publisher::Citizen),
    ] {
        wait_for(m, "audio and video from the other side", |r| {
            got(r, tag, from, false) > 20 && got(r, tag, from, true) > 50
        })
        .await;
    }

    // A keyframe request from the citizen reaches the officer's video sender.
    let before = o_media.report().keyframe_requests;
    c_media.request_keyframe(Publisher::Officer).await.unwrap();
    wait_for(&o_media, "the keyframe request at the officer", |r| {
        r.keyframe_requests > before
    })
    .await;

    // A supervisor listens in: receive-only, both sides, written to the record.
    let mut sup = app.staff("supervisor").await;
    sup.request_ok(|id| ClientMsg::Monitor { id, entry })
        .await
        .unwrap();
    let mut m_media = MediaClient::new(Role::Monitor, tag).await.unwrap();
    negotiate(&mut sup, &m_media).await.unwrap();
    m_media.wait_connected(CONNECT).await.unwrap();
    wait_for(&m_media, "both sides at the monitor", |r| {
        [Publisher::Citizen, Publisher::Officer]
            .iter()
            .all(|p| got(r, tag, *p, false) > 10 && got(r, tag, *p, true) > 20)
    })
    .await;
    // It joined a call already running: its video from each side began with a keyframe.
    let m = m_media.report();
    for p in [Publisher::Citizen, Publisher::Officer] {
        assert!(
            m.received[&Origin::new(tag, p, true)].first_keyframe,
            "{p:?} video at the monitor starts with a keyframe"
        );
    }
    let v = media_json(&app, &bearer).await;
    assert_eq!(v["peers"], 3, "{v}");
    sup.request_ok(|id| ClientMsg::StopMonitor { id, entry })
        .await
        .unwrap();
    m_media.close().await;

    // Stop, let the last packets land, and count: nothing lost, corrupted or foreign.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (c, o) = (c_media.report(), o_media.report());
    let (c0, o0) = &sent_before;
    for (sender, before, receiver, from) in [
        (&c, c0, &o, Publisher::Citizen),
        (&o, o0, &c, Publisher::Officer),
    ] {
        let (a, v) = (
            got(receiver, tag, from, false),
            got(receiver, tag, from, true),
        );
        let (sa, sv) = (
            sender.sent_audio - before.sent_audio,
            sender.sent_video - before.sent_video,
        );
        assert!(sv > 100, "{sender:?}");
        // Everything sent once the call had started arrived (give or take what was in
        // flight at that moment), and nothing from before it.
        assert!(
            a + 3 >= sa && a <= sa + 3,
            "{from:?} audio: sent {sa}, got {a}"
        );
        assert!(
            v + 10 >= sv && v <= sv + 10,
            "{from:?} video: sent {sv}, got {v}"
        );
        let r = &receiver.received[&Origin::new(tag, from, true)];
        assert_eq!(r.gaps, 0, "{from:?} video gaps");
    }
    assert_eq!(c.corrupt + o.corrupt + c.foreign + o.foreign, 0);

    // The monitor session is in the record's history and the audit log.
    let store = app.store().await;
    let record = store
        .get(sunwai::core::ids::EntryId(entry))
        .await
        .unwrap()
        .unwrap();
    let notes: Vec<String> = record
        .history
        .iter()
        .map(|h| format!("{h:?}"))
        .filter(|h| h.contains("silent monitoring"))
        .collect();
    assert_eq!(notes.len(), 2, "{:?}", record.history);
    let audit = app
        .http("GET", "/api/audit", &[("authorization", &bearer)], None)
        .await;
    assert!(audit.body.contains("monitor_start") && audit.body.contains("monitor_stop"));

    // Hang-up releases every peer connection.
    officer
        .request_ok(|id| ClientMsg::EndCall { id, no_show: false })
        .await
        .unwrap();
    let v = media_until(&app, &bearer, "peers released", |v| {
        v["peers"] == 0 && v["calls"] == 0
    })
    .await;
    assert!(v["rtp_forwarded"].as_u64().unwrap() > 500, "{v}");
    c_media.close().await;
    o_media.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_only_for_calls_and_the_front_of_the_queue() {
    let app = spawn_app_with(|c| c.media.instant_connect_position = 1).await;
    let mut first = app.citizen().await;
    join(&mut first, "First").await;
    is_queued(&mut first).await;
    let mut second = app.citizen().await;
    join(&mut second, "Second").await;
    is_queued(&mut second).await;
    let m = MediaClient::new(Role::Publish(Publisher::Citizen), 2)
        .await
        .unwrap();
    let sdp = m.offer().await.unwrap();
    let offer = |sdp: String| {
        move |id| ClientMsg::Sdp {
            id,
            description: SessionDescription {
                sdp_type: SdpKind::Offer,
                sdp,
            },
        }
    };
    // Second in line is past the instant-connect position: no media state for them.
    let r = second.request(offer(sdp.clone())).await.unwrap();
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
    // A malformed offer is refused with a typed error, not a dropped connection.
    let r = first
        .request(offer("v=0\r\nnonsense".into()))
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            ServerMsg::Error {
                code: ErrorCode::InvalidInput,
                ..
            }
        ),
        "{r:?}"
    );
    // The first in line may connect, and the connection still works afterwards.
    let r = first.request(offer(sdp)).await.unwrap();
    assert!(matches!(r, ServerMsg::Ok { .. }), "{r:?}");
    first.request_ok(|id| ClientMsg::Ping { id }).await.ok();
    m.close().await;
    app.stop().await;
}

/// Packets received from `from` so far (audio, video).
fn counts(m: &MediaClient, tag: u32, from: Publisher) -> (u64, u64) {
    let r = m.report();
    (got(&r, tag, from, false), got(&r, tag, from, true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_restart_and_audio_only_renegotiate_the_same_leg() {
    let app = spawn_app().await;
    let bearer = format!("Bearer {}", app.login("supervisor").await);
    let mut officer = app.officer("officer1").await;
    officer.request_ok(|id| ClientMsg::Ready { id }).await.ok();
    let mut citizen = app.citizen().await;
    let joined = join(&mut citizen, "Sita").await;
    let entry = joined.entry;
    expect(&mut officer, "an offer", |m| {
        matches!(m, ServerMsg::Offer { .. })
    })
    .await;
    let (c, o, tag) = accept_with_media(&mut citizen, &mut officer, entry).await;
    let (_stop_tx, stop) = watch::channel(false);
    c.publish(800_000, stop.clone());
    o.publish(800_000, stop);
    wait_for(&o, "citizen video at the officer", |r| {
        got(r, tag, Publisher::Citizen, true) > 20
    })
    .await;

    // An ICE restart (new credentials, as after a network change) on the same browser
    // connection: the leg is renegotiated, not replaced, and media goes on.
    c.restart_ice().await.unwrap();
    negotiate(&mut citizen, &c).await.unwrap();
    let at = counts(&c, tag, Publisher::Officer).1;
    wait_for(&c, "officer video after the ICE restart", |r| {
        got(r, tag, Publisher::Officer, true) > at + 40
    })
    .await;
    let v = media_json(&app, &bearer).await;
    assert_eq!(
        (v["ice_restarts"].as_u64(), v["peers"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );

    // Audio only: the citizen stops sending video; audio goes on.
    c.set_video(false).await.unwrap();
    negotiate(&mut citizen, &c).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (a0, v0) = counts(&o, tag, Publisher::Citizen);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (a1, v1) = counts(&o, tag, Publisher::Citizen);
    assert!(a1 > a0 + 30, "audio goes on: {a0} -> {a1}");
    assert!(v1 <= v0 + 3, "video stopped: {v0} -> {v1}");
    // And back to video, on the same leg.
    c.set_video(true).await.unwrap();
    negotiate(&mut citizen, &c).await.unwrap();
    wait_for(&o, "citizen video again", |r| {
        got(r, tag, Publisher::Citizen, true) > v1 + 40
    })
    .await;
    let v = media_json(&app, &bearer).await;
    assert_eq!(v["peers"], 2, "{v}");
    assert!(v["renegotiations"].as_u64().unwrap() >= 3, "{v}");
    c.close().await;
    o.close().await;
    app.stop().await;
}

/// An offer whose video lists no codec the server forwards (here VP9 only) keeps its
/// audio: the answer rejects the video section (port 0) and the call carries sound both
/// ways. An offer with no usable codec at all is refused with a clear, typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_without_a_forwarded_video_codec_keeps_its_audio() {
    let app = spawn_app().await;
    let mut officer = app.officer("officer1").await;
    officer.request_ok(|id| ClientMsg::Ready { id }).await.ok();
    let mut citizen = app.citizen().await;
    let entry = join(&mut citizen, "Sita").await.entry;
    expect(&mut officer, "an offer", |m| {
        matches!(m, ServerMsg::Offer { .. })
    })
    .await;
    officer
        .request_ok(|id| ClientMsg::Accept { id, entry })
        .await
        .unwrap();
    expect(&mut citizen, "call_started", |m| {
        matches!(m, ServerMsg::CallStarted { .. })
    })
    .await;
    let tag = call_tag(entry);
    let (mut c, mut o) = publishers(tag).await;
    negotiate(&mut officer, &o).await.unwrap();

    let offer = c.offer().await.unwrap();
    assert!(offer.contains("VP8/90000"), "{offer}");
    let offer_msg = |id: u64, sdp: &str| ClientMsg::Sdp {
        id,
        description: SessionDescription {
            sdp_type: SdpKind::Offer,
            sdp: sdp.to_owned(),
        },
    };
    // Nothing usable at all: a typed error naming the field, and the leg is not made.
    let useless = offer
        .replace("VP8/90000", "VP9/90000")
        .replace("opus/48000", "G722/8000");
    let reply = citizen.request(|id| offer_msg(id, &useless)).await.unwrap();
    match reply {
        ServerMsg::Error {
            code,
            field,
            message,
            ..
        } => {
            assert_eq!(code, ErrorCode::InvalidInput, "{message}");
            assert_eq!(field.as_deref(), Some("description"));
            assert!(message.contains("no codec"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }

    // Video in a codec the server does not forward: audio only.
    let vp9 = offer.replace("VP8/90000", "VP9/90000");
    let reply = citizen.request(|id| offer_msg(id, &vp9)).await.unwrap();
    assert!(matches!(reply, ServerMsg::Ok { .. }), "{reply:?}");
    let answer = expect(&mut citizen, "the answer", |m| {
        matches!(m, ServerMsg::Sdp { .. })
    })
    .await;
    let ServerMsg::Sdp { description } = answer else {
        unreachable!()
    };
    let sections: Vec<&str> = description
        .sdp
        .lines()
        .filter(|l| l.starts_with("m="))
        .collect();
    assert!(
        sections.iter().any(|m| m.starts_with("m=video 0 ")),
        "video rejected: {sections:?}"
    );
    assert!(
        sections
            .iter()
            .any(|m| m.starts_with("m=audio ") && !m.starts_with("m=audio 0 ")),
        "audio accepted: {sections:?}"
    );
    c.apply_answer(description.sdp).await.unwrap();
    c.wait_connected(Duration::from_secs(10)).await.unwrap();
    o.wait_connected(Duration::from_secs(10)).await.unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    c.publish(300_000, stop.clone());
    o.publish(300_000, stop);
    wait_for(&o, "the citizen's audio at the officer", |r| {
        got(r, tag, Publisher::Citizen, false) > 20
    })
    .await;
    wait_for(&c, "the officer's audio at the citizen", |r| {
        got(r, tag, Publisher::Officer, false) > 20
    })
    .await;
    assert_eq!(
        got(&o.report(), tag, Publisher::Citizen, true),
        0,
        "no video from the audio-only side"
    );
    c.close().await;
    o.close().await;
    app.stop().await;
}

/// An operator who narrows `allowed_networks` keeps other callers out: the loopback
/// client's candidates are removed from its offer, its connectivity checks are dropped
/// unread and counted, and it never connects. (The default accepts every source: the
/// other media tests connect from loopback without configuring anything.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_allow_list_keeps_other_sources_out() {
    // A documentation network (RFC 5737): nothing here comes from it.
    let app = spawn_app_with(|c| c.media.allowed_networks = vec!["198.51.100.0/24".into()]).await;
    let bearer = format!("Bearer {}", app.login("supervisor").await);
    let mut citizen = app.citizen().await;
    let joined = join(&mut citizen, "Ram Kumar").await;
    is_queued(&mut citizen).await;
    let mut media = MediaClient::new(Role::Publish(Publisher::Citizen), call_tag(joined.entry))
        .await
        .unwrap();
    negotiate(&mut citizen, &media).await.unwrap();
    let v = media_until(&app, &bearer, "the refused checks are counted", |v| {
        v["refused_sources"].as_u64() > Some(0)
    })
    .await;
    assert!(v["refused_candidates"].as_u64() > Some(0), "{v}");
    assert!(
        media.wait_connected(Duration::from_secs(2)).await.is_err(),
        "a source outside the allow-list never connects"
    );
    media.close().await;
    app.stop().await;
}
