//! Turning an incoming text frame into a typed message, or into an error precise enough
//! to answer with.
//!
//! [`parse_client`] is what the server calls on every frame; [`parse_server`] is its
//! mirror for clients. Both classify failures the same way:
//!
//! | input                                   | code           |
//! |-----------------------------------------|----------------|
//! | not JSON                                | `malformed`    |
//! | JSON but not an object                  | `malformed`    |
//! | object without a string `"type"`        | `unknown_type` |
//! | `"type"` not in this protocol version   | `unknown_type` |
//! | known type, missing or ill-typed fields | `malformed`    |
//!
//! and recover the request id (`"id"` from clients, `"re"` from the server) whenever it is
//! a readable `u64`, so the error reply can carry `re`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::wire::{ClientMsg, ErrorCode, ServerMsg, MAX_MESSAGE_BYTES};

/// Why a frame could not be read, with what the reply needs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ParseError {
    pub code: ErrorCode,
    /// Human-readable detail (serde's message for bad fields). For logs and developers;
    /// do not show it to citizens.
    pub message: String,
    /// The request id, if it could be read: `"id"` for client frames, `"re"` for server
    /// frames.
    pub re: Option<u64>,
}

impl ParseError {
    fn new(code: ErrorCode, message: impl Into<String>, re: Option<u64>) -> Self {
        Self {
            code,
            message: message.into(),
            re,
        }
    }

    /// The `error` message a server sends back for this failure.
    pub fn to_reply(&self) -> ServerMsg {
        ServerMsg::Error {
            re: self.re,
            code: self.code,
            message: self.message.clone(),
            field: None,
        }
    }
}

/// Parses one text frame from a client. Frames longer than [`MAX_MESSAGE_BYTES`] fail with
/// `too_large` before any parsing is attempted.
pub fn parse_client(text: &str) -> Result<ClientMsg, ParseError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError::new(
            ErrorCode::TooLarge,
            format!(
                "message is {} bytes; the limit is {MAX_MESSAGE_BYTES}",
                text.len()
            ),
            None,
        ));
    }
    parse_tagged(text, ClientMsg::TYPES, "id")
}

/// Parses one text frame from the server. No size limit is applied here: desk snapshots
/// of long queues may exceed [`MAX_MESSAGE_BYTES`], which only bounds what clients send.
pub fn parse_server(text: &str) -> Result<ServerMsg, ParseError> {
    parse_tagged(text, ServerMsg::TYPES, "re")
}

fn parse_tagged<T: DeserializeOwned>(
    text: &str,
    types: &[&str],
    id_field: &str,
) -> Result<T, ParseError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ParseError::new(ErrorCode::Malformed, format!("not JSON: {e}"), None))?;
    let Value::Object(map) = &value else {
        return Err(ParseError::new(
            ErrorCode::Malformed,
            "a message must be a JSON object",
            None,
        ));
    };
    let re = map.get(id_field).and_then(Value::as_u64);
    let tag = match map.get("type") {
        Some(Value::String(tag)) => tag,
        Some(_) => {
            return Err(ParseError::new(
                ErrorCode::UnknownType,
                "\"type\" must be a string",
                re,
            ))
        }
        None => {
            return Err(ParseError::new(
                ErrorCode::UnknownType,
                "missing \"type\"",
                re,
            ))
        }
    };
    if !types.contains(&tag.as_str()) {
        // Echo at most a short, printable prefix of a hostile tag.
        let shown: String = tag.chars().take(40).filter(|c| !c.is_control()).collect();
        return Err(ParseError::new(
            ErrorCode::UnknownType,
            format!("unknown type \"{shown}\""),
            re,
        ));
    }
    T::deserialize(&value)
        .map_err(|e| ParseError::new(ErrorCode::Malformed, format!("bad {tag}: {e}"), re))
}
