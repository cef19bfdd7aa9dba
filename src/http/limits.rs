//! Flood limits: per-address and per-account rate limits (GCRA, from `governor`), and the
//! WebSocket Origin check. A refused request is told when to try again.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits as LimitsConfig;

pub struct Limits {
    joins: DefaultKeyedRateLimiter<IpAddr>,
    logins_by_address: DefaultKeyedRateLimiter<IpAddr>,
    logins_by_account: DefaultKeyedRateLimiter<String>,
    status_lookups: DefaultKeyedRateLimiter<IpAddr>,
    written: DefaultKeyedRateLimiter<IpAddr>,
    /// Per-connection message quota (each connection makes its own limiter from it).
    pub messages: Quota,
    clock: DefaultClock,
}

fn nz(n: u32) -> NonZeroU32 {
    // Invariant: configuration validation refuses zero limits.
    NonZeroU32::new(n.max(1)).expect("max(1) is non-zero")
}

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy)]
pub struct RetryAfter(pub Duration);

impl Limits {
    pub fn new(c: &LimitsConfig) -> Self {
        let per_minute = |n| Quota::per_minute(nz(n));
        Self {
            joins: RateLimiter::keyed(per_minute(c.joins_per_minute_per_address)),
            logins_by_address: RateLimiter::keyed(per_minute(c.logins_per_minute_per_address)),
            logins_by_account: RateLimiter::keyed(per_minute(c.logins_per_minute_per_account)),
            status_lookups: RateLimiter::keyed(per_minute(c.status_lookups_per_minute_per_address)),
            written: RateLimiter::keyed(Quota::per_hour(nz(
                c.written_complaints_per_hour_per_address
            ))),
            messages: Quota::per_second(nz(c.messages_per_second))
                .allow_burst(nz(c.messages_per_second.saturating_mul(2))),
            clock: DefaultClock::default(),
        }
    }

    fn check<K: Clone + Eq + std::hash::Hash>(
        &self,
        l: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), RetryAfter> {
        l.check_key(key)
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(self.clock.now())))
    }

    pub fn join(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        self.check(&self.joins, &ip)
    }

    /// Both the address and the account must have quota left; a refusal by either counts.
    pub fn login(&self, ip: IpAddr, account: &str) -> Result<(), RetryAfter> {
        self.check(&self.logins_by_address, &ip)?;
        self.check(&self.logins_by_account, &account.to_ascii_lowercase())
    }

    pub fn status_lookup(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        self.check(&self.status_lookups, &ip)
    }

    pub fn written_complaint(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        self.check(&self.written, &ip)
    }

    /// Forgets keys whose quota is full again, so the maps stay small.
    pub fn tidy(&self) {
        self.joins.retain_recent();
        self.logins_by_address.retain_recent();
        self.logins_by_account.retain_recent();
        self.status_lookups.retain_recent();
        self.written.retain_recent();
    }
}

/// Whether a WebSocket upgrade's Origin header is acceptable. Clients without an Origin
/// (not browsers: tools, tests) are allowed; a browser page from elsewhere is not.
pub fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    match origin {
        None => true,
        Some(o) => {
            let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
            allowed.contains(&o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let allowed = vec![
            "http://127.0.0.1:8080".to_owned(),
            "https://sunwai.example.in".to_owned(),
        ];
        assert!(origin_allowed(None, &allowed));
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), &allowed));
        assert!(origin_allowed(Some("HTTPS://sunwai.example.in/"), &allowed));
        assert!(!origin_allowed(Some("https://evil.example"), &allowed));
        assert!(!origin_allowed(Some("null"), &allowed));
    }

    #[test]
    fn limits_refuse_past_the_quota_and_say_when() {
        let c = LimitsConfig {
            joins_per_minute_per_address: 2,
            logins_per_minute_per_address: 3,
            logins_per_minute_per_account: 1,
            status_lookups_per_minute_per_address: 1,
            written_complaints_per_hour_per_address: 1,
            messages_per_second: 1,
        };
        let l = Limits::new(&c);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.join(a).is_ok() && l.join(a).is_ok());
        let RetryAfter(wait) = l.join(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30));
        assert!(l.join(b).is_ok(), "another address is unaffected");
        assert!(l.login(a, "Sharma").is_ok());
        assert!(
            l.login(b, "sharma").is_err(),
            "the account is throttled from any address"
        );
    }
}
