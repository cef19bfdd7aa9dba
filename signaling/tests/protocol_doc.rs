//! Every JSON example in `docs/protocol.md` is a valid message. Blocks are fenced as
//! ```` ```json client ```` or ```` ```json server ```` and hold one or more JSON objects.
//! Each must parse as that side's message, and must not contain a field the types do not
//! know: unknown fields are ignored on the wire, so a misspelt field in the docs would
//! otherwise pass unnoticed.

use serde::Serialize;
use serde_json::Value;
use sunwai_signaling::{parse_client, parse_server, ParseError};

const DOC: &str = include_str!("../../docs/protocol.md");

struct Block {
    side: String,
    line: usize,
    text: String,
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in DOC.lines().enumerate() {
        let trimmed = line.trim();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let mut words = info.split_whitespace();
                    if words.next() == Some("json") {
                        open = Some(Block {
                            side: words.next().unwrap_or("").to_owned(),
                            line: i + 1,
                            text: String::new(),
                        });
                    }
                }
            }
            Some(block) => {
                if trimmed == "```" {
                    out.push(open.take().unwrap());
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "unterminated json block");
    out
}

/// `doc` holds nothing that `typed` (the message re-serialized) does not.
fn is_subset(doc: &Value, typed: &Value, path: &str) -> Result<(), String> {
    match (doc, typed) {
        (Value::Object(d), Value::Object(t)) => {
            for (k, v) in d {
                let p = format!("{path}.{k}");
                let tv = t.get(k).ok_or_else(|| format!("unknown field {p}"))?;
                is_subset(v, tv, &p)?;
            }
            Ok(())
        }
        (Value::Array(d), Value::Array(t)) if d.len() == t.len() => d
            .iter()
            .zip(t)
            .enumerate()
            .try_for_each(|(i, (d, t))| is_subset(d, t, &format!("{path}[{i}]"))),
        (d, t) if d == t => Ok(()),
        (d, t) => Err(format!("{path}: doc has {d}, the type writes {t}")),
    }
}

fn check<T: Serialize>(
    value: &Value,
    parse: fn(&str) -> Result<T, ParseError>,
) -> Result<(), String> {
    let msg = parse(&value.to_string()).map_err(|e| e.to_string())?;
    is_subset(value, &serde_json::to_value(&msg).unwrap(), "")
}

#[test]
fn every_json_example_in_the_protocol_doc_is_a_valid_message() {
    let blocks = blocks();
    assert!(
        blocks.len() >= 20,
        "found only {} json blocks",
        blocks.len()
    );
    let mut failures = Vec::new();
    let mut count = 0;
    for b in &blocks {
        let values: Vec<Value> = match serde_json::Deserializer::from_str(&b.text)
            .into_iter::<Value>()
            .collect()
        {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("line {}: not JSON: {e}", b.line));
                continue;
            }
        };
        assert!(!values.is_empty(), "line {}: empty block", b.line);
        for v in values {
            count += 1;
            let r = match b.side.as_str() {
                "client" => check(&v, parse_client),
                "server" => check(&v, parse_server),
                other => Err(format!(
                    "mark the block `json client` or `json server`, not {other:?}"
                )),
            };
            if let Err(e) = r {
                failures.push(format!("block at line {}: {e}\n  {v}", b.line));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 60, "only {count} examples");
}

#[test]
fn the_doc_shows_every_message_type() {
    let mut missing = Vec::new();
    for (side, types) in [
        ("client", sunwai_signaling::ClientMsg::TYPES),
        ("server", sunwai_signaling::ServerMsg::TYPES),
    ] {
        for t in types {
            let shown = blocks().iter().filter(|b| b.side == side).any(|b| {
                b.text.contains(&format!("\"type\": \"{t}\""))
                    || b.text.contains(&format!("\"type\":\"{t}\""))
            });
            if !shown {
                missing.push(format!("{side} {t}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no example in docs/protocol.md for {missing:?}"
    );
}

#[test]
fn the_doc_lists_every_error_code() {
    for code in [
        "malformed",
        "unknown_type",
        "too_large",
        "unsupported_version",
        "hello_required",
        "not_allowed",
        "out_of_order",
        "invalid_input",
        "unknown_desk",
        "window_closed",
        "queue_full",
        "not_found",
        "rate_limited",
        "unavailable",
        "shutting_down",
        "internal",
    ] {
        assert!(
            DOC.contains(&format!("| `{code}` |")),
            "error code {code} not in the table"
        );
    }
}
