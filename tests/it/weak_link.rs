//! Hearings over a weak mobile link, with real Chromium on both sides: the citizen behind
//! a shaped link (`netlab::Lab::new_shaped` and `tests/clients/link_shaper.py`: a rate
//! limit, delay, jitter and loss per direction), the officer on a clean one, run by
//! `tests/browser/weak-link.mjs`, which reads both pages' `getStats()` once a second.
//!
//! In the suite: a weak condition (300 kbit/s down, 150 up, 150 ± 30 ms and 2 % loss
//! each way) for 30 s, which fails if speech is concealed beyond its bound, and one too
//! weak for video (128/64 kbit/s) for 20 s, which fails unless the server pauses video by
//! itself, both pages say so and the paused side stops sending it. The whole
//! benchmark (docs/benchmarks.md, "Weak links") is the same test with more conditions:
//!
//! ```sh
//! SUNWAI_WEAK_BENCH=full cargo test --release --test it weak_link -- --nocapture
//! ```
//!
//! `SUNWAI_WEAK_NO_RED=1` runs the server without audio redundancy (`[media]
//! audio_redundancy = false`), to measure what it brings.

use crate::helpers::*;
use crate::netlab::Lab;

/// A direction of the link, as link_shaper.py takes it.
fn link(rate_kbit: u32, delay_ms: u32, jitter_ms: u32, loss: f64) -> serde_json::Value {
    serde_json::json!({
        "rate_kbit": rate_kbit, "delay_ms": delay_ms, "jitter_ms": jitter_ms, "loss": loss,
    })
}

fn conditions(full: bool) -> serde_json::Value {
    // Conditions of one's own while tuning (same shape as below).
    if let Ok(json) = std::env::var("SUNWAI_WEAK_CUSTOM") {
        return serde_json::from_str(&json).expect("SUNWAI_WEAK_CUSTOM is JSON");
    }
    let weak = serde_json::json!({
        "name": "300/150 kbit/s, 150±30 ms, 2 % loss",
        "secs": if full { 45 } else { 30 },
        "up": link(150, 150, 30, 0.02),
        "down": link(300, 150, 30, 0.02),
    });
    let weaker = serde_json::json!({
        "name": "128/64 kbit/s, 150±30 ms, 2 % loss",
        "secs": if full { 45 } else { 20 },
        "up": link(64, 150, 30, 0.02),
        "down": link(128, 150, 30, 0.02),
    });
    if !full {
        return serde_json::json!([weak, weaker]);
    }
    serde_json::json!([
        { "name": "unshaped", "secs": 45, "up": link(0, 0, 0, 0.0), "down": link(0, 0, 0, 0.0) },
        weak,
        weaker,
        {
            "name": "1 Mbit/s, 150 kbit/s from 15 s to 45 s",
            "secs": 75,
            "up": link(1000, 50, 10, 0.0),
            "down": link(1000, 50, 10, 0.0),
            "steps": [
                { "at": 15, "up": { "rate_kbit": 150 }, "down": { "rate_kbit": 150 } },
                { "at": 45, "up": { "rate_kbit": 1000 }, "down": { "rate_kbit": 1000 } },
            ],
        },
    ])
}

fn pct(v: &serde_json::Value) -> String {
    v.as_f64().map_or("–".into(), |x| format!("{x:.1} %"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_link() {
    let (root, chromium) = browser_tools();
    let full = std::env::var("SUNWAI_WEAK_BENCH").is_ok_and(|v| v == "full");

    let _browsers = BROWSERS.lock().await;
    // Host 0: the citizen, behind the shaper; host 1: the officer.
    let lab = Lab::new_shaped(2, &[0]);
    let red = std::env::var("SUNWAI_WEAK_NO_RED").map_or(true, |v| v != "1");
    let app = spawn_app_in(&lab, |c| c.media.audio_redundancy = red).await;
    let results = tempfile::NamedTempFile::new().unwrap();
    let mut node = NodeTests::new("weak-link");
    node.cmd
        .arg("tests/browser/weak-link.mjs")
        .current_dir(root)
        .env("SUNWAI_URL", app.base_url())
        .env("SUNWAI_INTEROP_URL", app.base_url())
        .env("SUNWAI_LAB", lab.json())
        .env("SUNWAI_PASSWORD", PASSWORD)
        .env("SUNWAI_WEAK_CONDITIONS", conditions(full).to_string())
        .env("SUNWAI_WEAK_RESULTS", results.path())
        .env("CHROMIUM", &chromium);
    let outcome = node.run().await;
    app.stop().await;
    if let Err(failed) = outcome {
        panic!("the weak-link hearings failed: {failed}");
    }

    let text = std::fs::read_to_string(results.path()).unwrap();
    let runs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    println!("weak-link results (JSON): {text}");
    println!("audio redundancy: {}", if red { "on" } else { "off" });
    println!(
        "| condition | side | speech concealed | worst 10 s | audio lost | video fps | frozen | keyframes | resolution | first audio | video paused (s) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|");
    for r in &runs {
        for side in ["citizen", "officer"] {
            let s = &r[side];
            let paused: Vec<String> = r["video_paused"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["to"].as_u64() {
                    Some(to) => format!("{}–{to}", p["from"]),
                    None => format!("{}–end", p["from"]),
                })
                .collect();
            println!(
                "| {} | {side} | {} | {} | {} | {:.1} | {:.1} s | {} | {} | {} ms | {} |",
                r["name"].as_str().unwrap_or(""),
                pct(&s["concealed_pct"]),
                pct(&s["worst_10s_concealed_pct"]),
                pct(&s["audio_lost_pct"]),
                s["fps"].as_f64().unwrap_or(0.0),
                s["frozen_secs"].as_f64().unwrap_or(0.0),
                s["keyframes"],
                s["resolution"].as_str().unwrap_or("–"),
                r["first_audio_ms"][side].as_u64().unwrap_or(0),
                if paused.is_empty() {
                    "–".to_owned()
                } else {
                    paused.join(", ")
                },
            );
        }
    }
    for r in &runs {
        println!(
            "server, {}: {}; the citizen's media connection was up {} ms after the waiting room showed",
            r["name"].as_str().unwrap_or(""),
            r["server"],
            r["instant_connect_ms"]
        );
    }
    assert_eq!(
        runs.len(),
        conditions(full).as_array().unwrap().len(),
        "every condition ran"
    );
    if full || std::env::var("SUNWAI_WEAK_CUSTOM").is_ok() {
        return; // the benchmark reports; docs/benchmarks.md holds its targets
    }
    // The suite's bound: loose enough for a busy 2-core CI machine, tight enough to catch
    // the officer's stream flooding the citizen's downlink again (before the server told
    // the officer's browser what the citizen's link carries, 48 % of the officer's speech
    // was concealed at the citizen in this condition).
    let concealed = |side: &str| runs[0][side]["concealed_pct"].as_f64().unwrap_or(100.0);
    assert!(
        concealed("citizen") <= MAX_CONCEALED_PCT && concealed("officer") <= MAX_CONCEALED_PCT,
        "speech concealed over the weak link: {:.1} % at the citizen, {:.1} % at the officer (bound {MAX_CONCEALED_PCT} %)",
        concealed("citizen"),
        concealed("officer")
    );
    // Too weak for video beside speech: nobody touches anything, the server pauses video,
    // both pages say so, and the paused side stops sending it.
    let weaker = &runs[1];
    let first_pause = weaker["video_paused"][0]["from"].as_u64();
    assert!(
        first_pause.is_some_and(|at| at <= MAX_SECS_TO_PAUSE),
        "video paused on the 128/64 kbit/s link within {MAX_SECS_TO_PAUSE} s: {}",
        weaker["video_paused"]
    );
    let series = weaker["series"].as_array().unwrap();
    let both_told = series
        .iter()
        .any(|p| p["notice"]["citizen"] == true && p["notice"]["officer"] == true);
    assert!(both_told, "both pages said video was paused: {series:?}");
    let stopped = series.iter().any(|p| {
        let told = p["notice"]["citizen"] == true;
        let quiet = |k: &str| p[k].as_f64().is_some_and(|kbps| kbps < 5.0);
        told && (quiet("citizen_sends_kbps") || quiet("officer_sends_kbps"))
    });
    assert!(stopped, "a paused side stopped sending video: {series:?}");
}

/// How soon (seconds into the measurement, which starts once both sides hear audio) video
/// must have paused on the 128/64 kbit/s link: 4 s measured, plus room for a busy machine.
const MAX_SECS_TO_PAUSE: u64 = 12;

/// The most speech a side may lose to concealment over the suite's weak link, in percent.
const MAX_CONCEALED_PCT: f64 = 15.0;
