//! The chaos run's figures: a short table for people, JSON for scripts.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub citizens: usize,
    pub officers: usize,
    pub kills: usize,
    pub seed: u64,
    /// Joins the server acknowledged.
    pub joined: usize,
    /// Citizens told their call ended.
    pub served: usize,
    /// Citizens neither served nor lost when the run ended (only after a timeout).
    pub still_waiting: usize,
    /// Their records (reference, disposition, history), to see where they stopped.
    pub stuck: Vec<String>,
    /// Citizens who lost their place: removed, carried over, or not recognised.
    pub citizens_lost: usize,
    pub lost_reasons: Vec<String>,
    /// Acknowledged joins without a record.
    pub records_lost: usize,
    /// Calls whose end an officer had acknowledged but whose record is not completed.
    pub ends_lost: usize,
    /// Citizens told their call ended whose record does not say completed: the kill came
    /// after the notice went out and before the end was written (the officer was never
    /// answered `ok`; see docs/reliability.md).
    pub served_unrecorded: usize,
    /// Restored queues checked, and what was out of order in them.
    pub order_checks: usize,
    pub order_violations: Vec<String>,
    /// Citizens whose record said waiting but who were missing from a restored queue.
    pub missing_after_restart: usize,
    /// Citizens found in restored queues (summed over restarts), and how many of them had
    /// been in a call (or had one cut earlier) and were put at the front.
    pub restored: usize,
    pub calls_cut: usize,
    /// `None` when the database passed its integrity check.
    pub integrity: Option<String>,
    pub timed_out: bool,
    /// From SIGKILL to listening again.
    pub mean_restart_ms: u64,
    pub max_restart_ms: u64,
    pub seconds: f64,
}

impl Report {
    /// Whether nothing was lost and the order was kept.
    pub fn passed(&self) -> bool {
        self.citizens_lost == 0
            && self.records_lost == 0
            && self.ends_lost == 0
            && self.order_violations.is_empty()
            && self.missing_after_restart == 0
            && self.integrity.is_none()
            && !self.timed_out
            && self.joined == self.citizens
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<34} {v}\n"));
        line(
            "run",
            format!(
                "{} citizens, {} officers, {} kills (seed {})",
                self.citizens, self.officers, self.kills, self.seed
            ),
        );
        line("joins acknowledged", self.joined.to_string());
        line("served", self.served.to_string());
        line(
            "citizens lost",
            format!("{} of {}", self.citizens_lost, self.joined),
        );
        for why in &self.lost_reasons {
            line("  lost", why.clone());
        }
        line("records lost", self.records_lost.to_string());
        line("acknowledged call ends lost", self.ends_lost.to_string());
        line(
            "end notices not yet written at a kill",
            self.served_unrecorded.to_string(),
        );
        line(
            "restored queues checked",
            format!(
                "{}, {} out of order, {} missing",
                self.order_checks,
                self.order_violations.len(),
                self.missing_after_restart
            ),
        );
        line(
            "citizens restored after kills",
            format!("{} ({} with a cut call)", self.restored, self.calls_cut),
        );
        line(
            "database integrity",
            self.integrity.clone().unwrap_or_else(|| "ok".into()),
        );
        line(
            "restart (kill to listening)",
            format!(
                "mean {} ms, max {} ms",
                self.mean_restart_ms, self.max_restart_ms
            ),
        );
        line("duration", format!("{:.1} s", self.seconds));
        if self.timed_out {
            line("TIMED OUT", format!("{} still waiting", self.still_waiting));
            for s in &self.stuck {
                line("  waiting", s.clone());
            }
        }
        line("result", if self.passed() { "PASS" } else { "FAIL" }.into());
        out
    }
}
