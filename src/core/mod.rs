//! The pure core: hearing schedule, intake, waiting room and dispatch.
//!
//! Architecture invariant: nothing here does I/O, spawns tasks or reads the clock. Every
//! function that depends on time takes `now`. A whole hearing day runs in milliseconds in a
//! test, and the simulator drives exactly this code.

pub mod ids;
pub mod intake;
pub mod room;
pub mod schedule;
