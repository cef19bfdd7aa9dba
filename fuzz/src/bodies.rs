//! What each fuzz target checks, as plain functions of the input bytes.
//!
//! Shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`, through this crate) and by
//! the workspace's corpus test (`tests/it/fuzz_corpus.rs` includes this file), so CI runs
//! the very same checks over a fixed corpus and `cargo fuzz run` for as long as one likes.
//! Every function must return normally for every input: a panic is a finding.

use std::io::Cursor;

use sunwai::config::FileConfig;
use sunwai::core::intake::{self, Intake, RawIntake};
use sunwai_signaling::{parse_client, parse_server, MAX_MESSAGE_BYTES};

/// Signaling: any text is a message or a typed error, never a panic; a message that
/// parses serialises and parses back to itself.
pub fn signaling(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = parse_client(&text) {
        let again = serde_json::to_string(&m).expect("a parsed client message serialises");
        if again.len() <= MAX_MESSAGE_BYTES {
            let back = parse_client(&again).expect("a serialised client message parses");
            assert_eq!(back, m, "client message round trip");
        }
    } else if let Err(e) = parse_client(&text) {
        // The reply to a bad frame is itself a valid server message.
        let reply = serde_json::to_string(&e.to_reply()).expect("an error reply serialises");
        parse_server(&reply).expect("an error reply parses");
    }
    if let Ok(m) = parse_server(&text) {
        let again = serde_json::to_string(&m).expect("a parsed server message serialises");
        let back = parse_server(&again).expect("a serialised server message parses");
        assert_eq!(back, m, "server message round trip");
    }
}

/// Citizen intake: fields are the input split at 0xFF bytes (name, mobile, area, category,
/// description, language); the first byte's low bit is consent. Whatever passes
/// validation keeps the documented limits.
pub fn intake(data: &[u8]) {
    let (flags, rest) = data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
    let mut fields = rest
        .split(|b| *b == 0xff)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut next = || fields.next().unwrap_or_default();
    let (name, mobile, area, category, description, language) =
        (next(), next(), next(), next(), next(), next());
    let categories: Vec<String> = ["theft", "fraud", "other"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain((flags & 2 == 2).then(|| category.trim().to_owned()))
        .collect();
    let raw = RawIntake {
        name: &name,
        mobile: &mobile,
        area: &area,
        category: &category,
        description: &description,
        language: &language,
        consent: flags & 1 == 1,
    };
    let chars = |s: &str| s.chars().count();
    let clean = |s: &str| s.chars().all(|c| !c.is_control() || c == '\n');
    match Intake::parse(&raw, &categories) {
        Ok(i) => {
            assert!(raw.consent, "accepted without consent");
            assert!(
                (1..=intake::NAME_MAX).contains(&chars(&i.name)),
                "{:?}",
                i.name
            );
            assert!(
                (1..=intake::AREA_MAX).contains(&chars(&i.area)),
                "{:?}",
                i.area
            );
            assert!(chars(&i.description) <= intake::DESCRIPTION_MAX);
            assert!(clean(&i.name) && clean(&i.area) && clean(&i.description));
            assert!(categories.contains(&i.category), "{:?}", i.category);
            assert_mobile(i.mobile.as_str());
        }
        Err(e) => assert!(!e.field().is_empty()),
    }
    if let Ok(m) = intake::Mobile::parse(&mobile) {
        assert_mobile(m.as_str());
        // Normalising is idempotent.
        assert_eq!(
            intake::Mobile::parse(m.as_str()).expect("normal form parses"),
            m
        );
    }
}

/// E.164: '+', a non-zero digit, 8 to 15 digits in all.
fn assert_mobile(m: &str) {
    let digits = m.strip_prefix('+').expect("E.164 starts with +");
    assert!(
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'),
        "{m:?}"
    );
}

/// Configuration: any TOML text over the defaults either loads and validates or is
/// refused with a message; a configuration that validates is usable.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = FileConfig::from_toml(text) else {
        return;
    };
    match file.validate() {
        Ok(c) => {
            assert!(!c.desks.is_empty() && !c.categories.is_empty() && !c.stations.is_empty());
            for d in &c.desks {
                assert!((2..=6).contains(&d.prefix.len()));
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// SDP, with the parser of the WebRTC stack the media work builds on (`rtc` 0.21 parses
/// with `rtc-sdp`): no panic on any input, and what it prints of a parsed description it
/// can read again.
pub fn sdp(data: &[u8]) {
    let Ok(desc) = sdp::SessionDescription::unmarshal(&mut Cursor::new(data)) else {
        return;
    };
    let text = desc.marshal();
    let _ = sdp::SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()));
}
