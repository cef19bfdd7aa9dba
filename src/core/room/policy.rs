//! How a desk treats its callers: timeouts, grace periods and what happens at the edges of
//! the hearing window. Plain data, validated by the config layer.

use jiff::SignedDuration;

/// What to do when a citizen joins but the estimate says they cannot be reached before
/// today's window closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LateJoin {
    /// Tell them before they wait, and hand them a token for the front of the next window.
    CarryOver,
    /// Let them wait, but tell them honestly that they may not be reached today.
    AdmitWithWarning,
}

/// What happens to the people still waiting when the window closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosePolicy {
    /// Keep serving until the queue is empty (no new joins after the close).
    ServeAll,
    /// Everyone still waiting gets a token for the front of the next window.
    CarryOver,
}

impl ClosePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosePolicy::ServeAll => "serve_all",
            ClosePolicy::CarryOver => "carry_over",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// How long an officer has to accept an offer before it goes to the next free officer.
    pub offer_timeout: SignedDuration,
    /// How long a disconnected citizen keeps their place (or their call).
    pub citizen_grace: SignedDuration,
    /// How long an officer who dropped mid-call may come back and resume the same call
    /// (if the citizen, back at the front of the queue, has not been taken by another).
    pub officer_grace: SignedDuration,
    /// How long an officer stays in wrap-up after a call unless they say they are ready.
    pub wrap_up: SignedDuration,
    /// Call length assumed before any call has been measured.
    pub assumed_call: SignedDuration,
    pub late_join: LateJoin,
    pub close: ClosePolicy,
    /// Most citizens that may wait at once; joins beyond it are refused.
    pub max_waiting: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            offer_timeout: SignedDuration::from_secs(30),
            citizen_grace: SignedDuration::from_secs(120),
            officer_grace: SignedDuration::from_secs(60),
            wrap_up: SignedDuration::from_secs(30),
            assumed_call: SignedDuration::from_secs(6 * 60),
            late_join: LateJoin::CarryOver,
            close: ClosePolicy::ServeAll,
            max_waiting: 500,
        }
    }
}
