//! Loss on the way to a receiver: a lossy UDP relay sits between the officer's client and
//! the server and drops every 15th media datagram from the server. The officer's client
//! asks for them again (NACK) and the server's end of the hop retransmits them from its
//! buffer, so every video packet arrives in the end and the picture recovers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sunwai::sfu::client::Origin;
use sunwai::sfu::Publisher;
use sunwai_signaling::{ClientMsg, SdpKind, ServerMsg, SessionDescription};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::helpers::*;

/// Relays between one client and `server`, dropping every `nth` SRTP/SRTCP datagram that
/// comes from the server (STUN and DTLS always pass). Returns its address and the count
/// of what it dropped.
async fn lossy_relay(server: SocketAddr, nth: u64) -> (SocketAddr, Arc<AtomicU64>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = dropped.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        let mut client: Option<SocketAddr> = None;
        let mut media = 0u64;
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            if from != server {
                client = Some(from);
                let _ = sock.send_to(&buf[..n], server).await;
                continue;
            }
            let Some(to) = client else { continue };
            // RFC 7983: 128–191 is RTP or RTCP.
            if (128..=191).contains(&buf[0]) {
                media += 1;
                if media.is_multiple_of(nth) {
                    counter.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            let _ = sock.send_to(&buf[..n], to).await;
        }
    });
    (addr, dropped)
}

/// The server's media address, from the one host candidate in its answer.
fn candidate_addr(sdp: &str) -> SocketAddr {
    let line = sdp
        .lines()
        .find(|l| l.starts_with("a=candidate:"))
        .expect("a candidate in the answer");
    let f: Vec<&str> = line.split_whitespace().collect();
    format!("{}:{}", f[4], f[5]).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_are_sent_again_and_every_one_arrives() {
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
    let tag = sunwai::loadtest::call_tag(entry);
    let (mut c, mut o) = publishers(tag).await;
    sunwai::loadtest::negotiate(&mut citizen, &c).await.unwrap();
    // The officer's answer is edited to send everything through the lossy relay.
    let sdp = o.offer().await.unwrap();
    officer
        .request_ok(|id| ClientMsg::Sdp {
            id,
            description: SessionDescription {
                sdp_type: SdpKind::Offer,
                sdp,
            },
        })
        .await
        .unwrap();
    let answer = expect(&mut officer, "the answer", |m| {
        matches!(m, ServerMsg::Sdp { .. })
    })
    .await;
    let ServerMsg::Sdp { description } = answer else {
        unreachable!()
    };
    let server = candidate_addr(&description.sdp);
    let (relay, dropped) = lossy_relay(server, 15).await;
    let edited = description.sdp.replace(
        &format!("{} {}", server.ip(), server.port()),
        &format!("{} {}", relay.ip(), relay.port()),
    );
    o.apply_answer(edited).await.unwrap();
    c.wait_connected(Duration::from_secs(10)).await.unwrap();
    o.wait_connected(Duration::from_secs(10)).await.unwrap();

    let (stop_tx, stop) = watch::channel(false);
    c.publish(800_000, stop.clone());
    o.publish(800_000, stop);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop_tx.send(true);
    // Time for the last requests and retransmissions.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let lost = dropped.load(Ordering::Relaxed);
    let r = o.report();
    let v = &r.received[&Origin::new(tag, Publisher::Citizen, true)];
    let span = v.highest_seq - v.first_seq.unwrap() + 1;
    assert!(lost >= 10, "the relay dropped {lost}");
    assert!(span > 200, "{v:?}");
    assert_eq!(
        v.packets, span,
        "every video packet arrived in the end ({lost} dropped)"
    );
    assert!(v.late > 0, "some arrived late, as retransmissions: {v:?}");
    c.close().await;
    o.close().await;
    app.stop().await;
}
