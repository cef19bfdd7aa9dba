//! Golden JSON fixtures: one file per message variant under `fixtures/client/` and
//! `fixtures/server/`, named `<type>.json`. They pin the wire format: a change to a type
//! that alters its JSON fails here. Run with `UPDATE_FIXTURES=1` to (re)write them after
//! an intended change, and review the diff.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use sunwai_signaling::*;

fn dir(side: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(side)
}

fn updating() -> bool {
    std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1")
}

/// Compares each example with `<dir>/<type>.json`, or writes it when updating.
fn check_examples<T: Serialize>(side: &str, examples: &[(&'static str, T)]) {
    let dir = dir(side);
    if updating() {
        fs::create_dir_all(&dir).unwrap();
    }
    let mut failures = Vec::new();
    for (tag, msg) in examples {
        let path = dir.join(format!("{tag}.json"));
        let value = serde_json::to_value(msg).unwrap();
        if updating() {
            // Straight from the type, so keys keep declaration order with "type" first.
            let mut text = serde_json::to_string_pretty(msg).unwrap();
            text.push('\n');
            fs::write(&path, text).unwrap();
            continue;
        }
        match fs::read_to_string(&path) {
            Err(e) => failures.push(format!("{side}/{tag}.json: {e}")),
            Ok(text) => {
                let golden: Value = serde_json::from_str(&text).unwrap();
                if golden != value {
                    failures.push(format!(
                        "{side}/{tag}.json differs from the example:\n{}",
                        serde_json::to_string_pretty(&value).unwrap()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(run with UPDATE_FIXTURES=1 after an intended change)",
        failures.join("\n")
    );
}

/// Every variant has exactly one example, and its tag is the one serde writes.
fn tags_of<T: Serialize + Clone>(
    examples: &[T],
    name: impl Fn(&T) -> &'static str,
) -> Vec<(&'static str, T)> {
    examples
        .iter()
        .map(|m| {
            let v = serde_json::to_value(m).unwrap();
            assert_eq!(v["type"], name(m), "type_name disagrees with serde");
            (name(m), m.clone())
        })
        .collect()
}

#[test]
fn every_client_variant_has_one_example_and_type_name_matches_serde() {
    let examples = tags_of(&common::client_examples(), ClientMsg::type_name);
    let tags: Vec<_> = examples.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tags,
        ClientMsg::TYPES,
        "examples must follow ClientMsg::TYPES"
    );
}

#[test]
fn every_server_variant_has_one_example_and_type_name_matches_serde() {
    let examples = tags_of(&common::server_examples(), ServerMsg::type_name);
    let tags: Vec<_> = examples.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tags,
        ServerMsg::TYPES,
        "examples must follow ServerMsg::TYPES"
    );
}

#[test]
fn client_fixtures_match_examples() {
    check_examples(
        "client",
        &tags_of(&common::client_examples(), ClientMsg::type_name),
    );
}

#[test]
fn server_fixtures_match_examples() {
    check_examples(
        "server",
        &tags_of(&common::server_examples(), ServerMsg::type_name),
    );
}

/// Parses every fixture file, checks its tag matches its name, re-serializes it and
/// compares as JSON values. No stray files are allowed.
fn round_trip_dir<T: Serialize>(
    side: &str,
    types: &[&str],
    parse: fn(&str) -> Result<T, ParseError>,
) {
    let mut seen = BTreeSet::new();
    for entry in fs::read_dir(dir(side)).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("json"),
            "{path:?}"
        );
        assert!(
            types.contains(&stem.as_str()),
            "stray fixture {side}/{stem}.json"
        );
        let text = fs::read_to_string(&path).unwrap();
        let msg = parse(&text).unwrap_or_else(|e| panic!("{side}/{stem}.json: {e}"));
        let original: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            original["type"],
            stem.as_str(),
            "{side}/{stem}.json has the wrong type"
        );
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            original,
            "{side}/{stem}.json"
        );
        seen.insert(stem);
    }
    let missing: Vec<_> = types.iter().filter(|t| !seen.contains(**t)).collect();
    assert!(missing.is_empty(), "{side}: no fixture for {missing:?}");
}

#[test]
fn client_fixtures_round_trip() {
    if updating() {
        return;
    }
    round_trip_dir("client", ClientMsg::TYPES, parse_client);
}

#[test]
fn server_fixtures_round_trip() {
    if updating() {
        return;
    }
    round_trip_dir("server", ServerMsg::TYPES, parse_server);
}

#[test]
fn request_ids() {
    for msg in common::client_examples() {
        let expected = match msg.type_name() {
            "hello" | "ice" | "end_of_candidates" => None,
            _ => serde_json::to_value(&msg).unwrap()["id"].as_u64(),
        };
        assert_eq!(msg.request_id(), expected, "{}", msg.type_name());
        if let Some(id) = expected {
            assert!(id > 0);
        }
    }
}

#[test]
fn reply_to_reads_re() {
    for msg in common::server_examples() {
        let v = serde_json::to_value(&msg).unwrap();
        assert_eq!(msg.reply_to(), v["re"].as_u64(), "{}", msg.type_name());
    }
}
