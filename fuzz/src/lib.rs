//! Fuzz targets of sunwai: see `bodies` and docs/security.md.
#![forbid(unsafe_code)]

mod bodies;

pub use bodies::*;
