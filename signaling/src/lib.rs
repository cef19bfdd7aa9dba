//! Wire types of sunwai's signaling protocol (JSON over a WebSocket at `/ws`) and a small
//! async client for tests and load generation.
//!
//! * [`wire`]: the two closed message sets, [`ClientMsg`] and [`ServerMsg`], and the
//!   plain-data types inside them.
//! * [`parse`]: reading a text frame into a message, classifying failures into
//!   [`ErrorCode`]s.
//! * [`client`]: [`Client`], a WebSocket client for integration tests and load generation.
//!
//! The protocol itself is described in `docs/protocol.md`. This crate deliberately knows
//! nothing about the server: the server translates its core types to and from these.
#![forbid(unsafe_code)]

pub mod client;
pub mod parse;
pub mod wire;

pub use client::{Client, ClientError};
pub use parse::{parse_client, parse_server, ParseError};
pub use wire::*;
