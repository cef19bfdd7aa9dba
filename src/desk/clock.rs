//! The shell's clock: wall time derived from tokio's monotonic clock, so that a test with
//! paused tokio time (`start_paused`, `advance`) moves the desk's wall clock too, and the
//! pure core only ever sees `Timestamp`s handed to it.

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: Timestamp,
    mono: Instant,
}

impl Clock {
    /// A clock that reads `wall` now and advances with tokio's clock.
    pub fn starting_at(wall: Timestamp) -> Self {
        Self {
            wall,
            mono: Instant::now(),
        }
    }

    pub fn system() -> Self {
        Self::starting_at(Timestamp::now())
    }

    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.mono.elapsed()).unwrap_or(SignedDuration::MAX);
        self.wall.saturating_add(elapsed).unwrap_or(self.wall)
    }

    /// The tokio instant at which the wall clock reads `t` (now, if `t` is past).
    pub fn instant_at(&self, t: Timestamp) -> Instant {
        let d = t.duration_since(self.now());
        match std::time::Duration::try_from(d) {
            Ok(d) => Instant::now() + d,
            Err(_) => Instant::now(),
        }
    }
}
