//! sunwai: a video hearing server. See docs/ARCHITECTURE.md for the code map.
#![forbid(unsafe_code)]

pub mod core;
