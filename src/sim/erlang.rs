//! Erlang C: the textbook model of a queue with `c` servers, Poisson arrivals at rate λ,
//! exponential service at rate μ per server, first come first served, nobody giving up.
//! The offered load is a = λ/μ erlangs; the queue is stable only when a < c.
//!
//! - probability an arrival has to wait: C(c, a), computed through the Erlang B recursion
//!   B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), then C = c·B / (c − a·(1 − B));
//! - service level, the probability of waiting at most t: P(W ≤ t) = 1 − C·e^{−(cμ−λ)t};
//! - mean wait: C / (cμ − λ).

/// Probability that an arrival waits, for `c` servers and `a` erlangs; 1 when a ≥ c.
pub fn prob_wait(c: u32, a: f64) -> f64 {
    if c == 0 || a >= f64::from(c) {
        return 1.0;
    }
    if a <= 0.0 {
        return 0.0;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let c = f64::from(c);
    c * b / (c - a * (1.0 - b))
}

/// P(wait ≤ t) with arrival rate `lambda` and service rate `mu` per server (same time unit
/// as `t`); 0 when the queue is unstable.
pub fn service_level(c: u32, lambda: f64, mu: f64, t: f64) -> f64 {
    let a = lambda / mu;
    if a >= f64::from(c) {
        return 0.0;
    }
    1.0 - prob_wait(c, a) * (-(f64::from(c) * mu - lambda) * t).exp()
}

/// Mean wait (same time unit as the rates); infinite when the queue is unstable.
pub fn mean_wait(c: u32, lambda: f64, mu: f64) -> f64 {
    let a = lambda / mu;
    if a >= f64::from(c) {
        return f64::INFINITY;
    }
    prob_wait(c, a) / (f64::from(c) * mu - lambda)
}

/// The fewest servers for which P(wait ≤ t) ≥ `share` (capped at 1000).
pub fn servers_for(lambda: f64, mu: f64, t: f64, share: f64) -> u32 {
    (1..=1000)
        .find(|&c| service_level(c, lambda, mu, t) >= share)
        .unwrap_or(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed form: (a^c/c!)·c/(c−a) over Σ_{k<c} a^k/k! + (a^c/c!)·c/(c−a).
    fn closed_form(c: u32, a: f64) -> f64 {
        let mut term = 1.0;
        let mut sum = 0.0;
        for k in 0..c {
            sum += term;
            term *= a / f64::from(k + 1);
        }
        let top = term * f64::from(c) / (f64::from(c) - a);
        top / (sum + top)
    }

    #[test]
    fn probability_of_waiting_matches_textbook_values() {
        // M/M/1: C = ρ.
        assert!((prob_wait(1, 0.7) - 0.7).abs() < 1e-12);
        // M/M/2 at one erlang: 1/3. M/M/3 at two erlangs: 4/9.
        assert!((prob_wait(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((prob_wait(3, 2.0) - 4.0 / 9.0).abs() < 1e-12);
        // The usual call-centre example: 10 agents, 8 erlangs → about 40.9% wait.
        assert!((prob_wait(10, 8.0) - 0.4092).abs() < 1e-4);
        for (c, a) in [(4, 3.3), (6, 2.0), (25, 22.0), (50, 45.0)] {
            assert!(
                (prob_wait(c, a) - closed_form(c, a)).abs() < 1e-9,
                "{c} {a}"
            );
        }
        assert_eq!(prob_wait(3, 3.0), 1.0);
        assert_eq!(prob_wait(3, 0.0), 0.0);
    }

    #[test]
    fn service_level_and_mean_wait() {
        // 10 agents, 8 erlangs, 3-minute calls, 20-second target: about 67%; 11 agents
        // reach 80%.
        let mu = 1.0 / 180.0;
        let lambda = 8.0 * mu;
        let sl = service_level(10, lambda, mu, 20.0);
        assert!((sl - 0.6724).abs() < 1e-3, "{sl}");
        assert!((mean_wait(10, lambda, mu) - 0.4092 * 180.0 / 2.0).abs() < 0.1);
        assert_eq!(service_level(8, lambda, mu, 20.0), 0.0);
        assert_eq!(servers_for(lambda, mu, 20.0, 0.8), 11);
        assert!(service_level(11, lambda, mu, 20.0) >= 0.8);
    }
}
