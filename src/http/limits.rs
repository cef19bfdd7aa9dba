//! Flood limits: per-address and per-account rate limits (GCRA, from `governor`), and the
//! WebSocket Origin check. A refused request is told when to try again.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use axum::http::HeaderMap;

use crate::config::{Config, Limits as LimitsConfig};

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

/// The client's address, for per-address limits and the audit log.
///
/// The connection's peer, unless the peer is one of the configured `trusted_proxies`: then
/// `X-Forwarded-For` is read from its right end (the hop the proxy itself appended), and
/// the first address that is not a trusted proxy is the client. Hops further left were
/// written by the client or untrusted proxies and are never believed. A hop that does not
/// parse ends the walk at the last trusted one, so garbage cannot choose an address.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, config: &Config) -> IpAddr {
    let peer = peer.ip().to_canonical();
    let trusted = |ip: IpAddr| config.trusted_proxies.iter().any(|c| c.contains(ip));
    if !trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !trusted(ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, or with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
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

    fn proxied(trusted: &[&str]) -> Config {
        crate::config::FileConfig {
            trusted_proxies: trusted.iter().map(|s| (*s).to_owned()).collect(),
            ..crate::config::FileConfig::default()
        }
        .validate()
        .unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn client_ip_believes_only_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let peer = |s: &str| SocketAddr::new(ip(s), 40000);
        let none = proxied(&[]);
        let lo = proxied(&["127.0.0.1/32", "10.0.0.0/8"]);
        let h = xff(&["198.51.100.7"]);
        // No trusted proxies: the header is ignored.
        assert_eq!(client_ip(peer("127.0.0.1"), &h, &none), ip("127.0.0.1"));
        // From a trusted proxy: its last hop.
        assert_eq!(client_ip(peer("127.0.0.1"), &h, &lo), ip("198.51.100.7"));
        assert_eq!(
            client_ip(peer("::ffff:127.0.0.1"), &h, &lo),
            ip("198.51.100.7")
        );
        // From anyone else: the header is the client's own word, ignored.
        assert_eq!(client_ip(peer("203.0.113.5"), &h, &lo), ip("203.0.113.5"));
        // A client's forged hops to the left of what the proxy appended are not believed.
        let forged = xff(&["1.2.3.4, 10.1.1.1", "198.51.100.7"]);
        assert_eq!(
            client_ip(peer("127.0.0.1"), &forged, &lo),
            ip("198.51.100.7")
        );
        // Trusted hops are skipped: proxy chains.
        let chain = xff(&["198.51.100.7, 10.0.0.2"]);
        assert_eq!(
            client_ip(peer("127.0.0.1"), &chain, &lo),
            ip("198.51.100.7")
        );
        // Ports and brackets.
        let ported = xff(&["[2001:db8::9]:555"]);
        assert_eq!(
            client_ip(peer("127.0.0.1"), &ported, &lo),
            ip("2001:db8::9")
        );
        // Garbage stops the walk at the last trusted hop; no header: the peer.
        let junk = xff(&["198.51.100.7, not-an-ip"]);
        assert_eq!(client_ip(peer("127.0.0.1"), &junk, &lo), ip("127.0.0.1"));
        assert_eq!(
            client_ip(peer("127.0.0.1"), &HeaderMap::new(), &lo),
            ip("127.0.0.1")
        );
        // Every hop trusted: the leftmost.
        let all = xff(&["10.0.0.3, 10.0.0.2"]);
        assert_eq!(client_ip(peer("127.0.0.1"), &all, &lo), ip("10.0.0.3"));
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
            hello_timeout_secs: 10,
            idle_timeout_secs: 75,
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
