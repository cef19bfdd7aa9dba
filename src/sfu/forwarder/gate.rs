//! When a link is too weak for video, video gives way to speech: the video gate of one
//! direction (a publisher's uplink, or a receiver's downlink for one publisher's video).
//! Pure: observations and the time in, a decision out.
//!
//! A link is *weak* when the audio crossing it loses more than [`AUDIO_LOSS_WEAK`]: speech
//! is what must get through, and the sender already follows the link's bandwidth estimate
//! (REMB), so what is left to decide is whether video beside speech still fits. A low
//! estimate alone does not pause video: the estimator is pessimistic on lossy links, and a
//! gate that also paused below 70 kbit/s of estimate paused video on the benchmark's
//! 300/150 kbit/s link, which carries it at 7–10 frames a second with speech intact.
//! Video pauses after the link has been weak at every observation for [`PAUSE_AFTER`], or
//! at once when a sample loses [`AUDIO_LOSS_SEVERE`] of the audio (a link that collapsed).
//! While paused, only audio crosses the link, so its looking healthy again proves little:
//! video is tried again (a probe) once the link has looked healthy for [`RESUME_AFTER`]
//! and the back-off since the pause has passed. A probe that fails (weak again within
//! [`PROBE_TIME`]) doubles the back-off, up to [`BACKOFF_MAX`]; video that stays up that
//! long resets it.

use std::time::{Duration, Instant};

/// Audio loss (fraction) above which a link is weak. Random loss of a few per cent is
/// common on mobile networks and Opus conceals it; congestion loses far more.
pub const AUDIO_LOSS_WEAK: f64 = 0.08;
/// How long a link must stay weak before video pauses.
pub const PAUSE_AFTER: Duration = Duration::from_secs(3);
/// Audio loss at which video pauses at the first sample: a link that has just collapsed
/// (on the benchmark's drop from 1 Mbit/s to 150 kbit/s, 60–70 % of the speech was lost
/// until video paused).
pub const AUDIO_LOSS_SEVERE: f64 = 0.25;
/// How long a paused link must look healthy before video is tried again.
pub const RESUME_AFTER: Duration = Duration::from_secs(5);
/// The first back-off after a pause, and the longest.
pub const BACKOFF_START: Duration = Duration::from_secs(10);
pub const BACKOFF_MAX: Duration = Duration::from_secs(120);
/// Video that stays up this long after resuming has proved the link.
pub const PROBE_TIME: Duration = Duration::from_secs(20);

/// One observation of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkSample {
    /// Audio lost on the link since the last sample (0.0–1.0), if any audio was expected.
    pub audio_loss: Option<f64>,
    /// The link's bandwidth estimate, if there is one (logged with a change; it does not
    /// decide one).
    pub estimate: Option<u64>,
}

impl LinkSample {
    pub fn weak(&self) -> bool {
        self.audio_loss.is_some_and(|l| l > AUDIO_LOSS_WEAK)
    }
}

/// What the gate decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Pause,
    Resume,
}

#[derive(Clone, Debug)]
pub struct VideoGate {
    paused: bool,
    /// Since when every observation has been weak (flowing) or healthy (paused).
    streak_since: Option<Instant>,
    /// Paused: not before this. Flowing: the probe started then (it is proved after
    /// `PROBE_TIME`).
    at: Option<Instant>,
    backoff: Duration,
}

impl Default for VideoGate {
    fn default() -> Self {
        VideoGate {
            paused: false,
            streak_since: None,
            at: None,
            backoff: BACKOFF_START,
        }
    }
}

impl VideoGate {
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Takes one observation of the link at `now`; says when video should pause or resume.
    pub fn observe(&mut self, now: Instant, sample: LinkSample) -> Option<Change> {
        let weak = sample.weak();
        if self.paused {
            if weak {
                self.streak_since = None;
                return None;
            }
            let since = *self.streak_since.get_or_insert(now);
            let calm = now.duration_since(since) >= RESUME_AFTER;
            let waited = self.at.is_none_or(|t| now >= t);
            if calm && waited {
                self.paused = false;
                self.streak_since = None;
                self.at = Some(now);
                return Some(Change::Resume);
            }
            return None;
        }
        if let Some(probe) = self.at {
            if now.duration_since(probe) >= PROBE_TIME {
                // Video stayed up: the link carries it.
                self.at = None;
                self.backoff = BACKOFF_START;
            }
        }
        if !weak {
            self.streak_since = None;
            return None;
        }
        let since = *self.streak_since.get_or_insert(now);
        let severe = sample.audio_loss.is_some_and(|l| l >= AUDIO_LOSS_SEVERE);
        if now.duration_since(since) < PAUSE_AFTER && !severe {
            return None;
        }
        if self.at.take().is_some() {
            // A probe failed: wait longer before the next one.
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        }
        self.paused = true;
        self.streak_since = None;
        self.at = Some(now + self.backoff);
        Some(Change::Pause)
    }

    /// Video turned off or on by hand, or a new connection: forget the history.
    pub fn reset(&mut self) {
        *self = VideoGate::default();
    }
}

/// Downlink audio loss (fraction) at which the server adds redundancy (RED) to the audio
/// it sends over that link: one lost packet in a hundred is already audible.
pub const REDUNDANCY_LOSS: f64 = 0.01;
/// Redundancy stays on until the link has lost less than [`REDUNDANCY_LOSS`] at every
/// observation for this long (it doubles the audio's payload, not worth it on a clean link,
/// and mobile loss comes and goes).
pub const REDUNDANCY_HOLD: Duration = Duration::from_secs(30);

/// Whether one receiver's audio from one publisher carries redundancy. Pure, like the gate.
#[derive(Clone, Debug, Default)]
pub struct AudioRedundancy {
    /// On since the last lossy observation at this instant.
    lossy_at: Option<Instant>,
}

impl AudioRedundancy {
    pub fn on(&self) -> bool {
        self.lossy_at.is_some()
    }

    /// Takes one observation of the downlink's audio loss; returns whether redundancy is
    /// on after it.
    pub fn observe(&mut self, now: Instant, audio_loss: Option<f64>) -> bool {
        if audio_loss.is_some_and(|l| l >= REDUNDANCY_LOSS) {
            self.lossy_at = Some(now);
        } else if self
            .lossy_at
            .is_some_and(|at| now.duration_since(at) >= REDUNDANCY_HOLD)
        {
            self.lossy_at = None;
        }
        self.on()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WEAK: LinkSample = LinkSample {
        audio_loss: Some(0.2),
        estimate: None,
    };
    const GOOD: LinkSample = LinkSample {
        audio_loss: Some(0.01),
        estimate: Some(500_000),
    };

    /// Feeds one sample a second for `secs` seconds; returns the changes with their second.
    fn feed(
        g: &mut VideoGate,
        t0: Instant,
        from: u64,
        secs: u64,
        s: LinkSample,
    ) -> Vec<(u64, Change)> {
        (from..from + secs)
            .filter_map(|i| g.observe(t0 + Duration::from_secs(i), s).map(|c| (i, c)))
            .collect()
    }

    #[test]
    fn a_weak_link_pauses_video_within_five_seconds_and_a_blip_does_not() {
        let t0 = Instant::now();
        let mut g = VideoGate::default();
        assert_eq!(feed(&mut g, t0, 0, 2, WEAK), vec![]);
        assert_eq!(feed(&mut g, t0, 2, 1, GOOD), vec![]);
        let changes = feed(&mut g, t0, 3, 6, WEAK);
        assert_eq!(changes, vec![(6, Change::Pause)]);
        assert!(g.paused());
    }

    #[test]
    fn a_collapsed_link_pauses_video_at_once() {
        let t0 = Instant::now();
        let mut g = VideoGate::default();
        let collapsed = LinkSample {
            audio_loss: Some(0.6),
            estimate: None,
        };
        assert_eq!(feed(&mut g, t0, 0, 2, GOOD), vec![]);
        assert_eq!(feed(&mut g, t0, 2, 1, collapsed), vec![(2, Change::Pause)]);
    }

    #[test]
    fn loss_decides_and_a_low_estimate_alone_does_not() {
        assert!(!LinkSample {
            audio_loss: Some(0.01),
            estimate: Some(20_000)
        }
        .weak());
        assert!(!LinkSample {
            audio_loss: Some(0.03),
            estimate: Some(200_000)
        }
        .weak());
        assert!(LinkSample {
            audio_loss: Some(0.12),
            estimate: Some(900_000)
        }
        .weak());
        assert!(!LinkSample::default().weak());
    }

    #[test]
    fn video_comes_back_after_the_back_off_and_a_failed_probe_waits_longer() {
        let t0 = Instant::now();
        let mut g = VideoGate::default();
        assert_eq!(feed(&mut g, t0, 0, 4, WEAK), vec![(3, Change::Pause)]);
        // Healthy at once, but not tried before the back-off (10 s) has passed.
        assert_eq!(feed(&mut g, t0, 4, 20, GOOD), vec![(13, Change::Resume)]);
        // The probe fails: paused again, and the next try waits twice as long.
        assert_eq!(feed(&mut g, t0, 24, 4, WEAK), vec![(27, Change::Pause)]);
        assert_eq!(feed(&mut g, t0, 28, 20, GOOD), vec![(47, Change::Resume)]);
        // Video stays up this time: the back-off is forgotten.
        assert_eq!(feed(&mut g, t0, 48, 25, GOOD), vec![]);
        assert_eq!(feed(&mut g, t0, 73, 4, WEAK), vec![(76, Change::Pause)]);
        assert_eq!(feed(&mut g, t0, 77, 15, GOOD), vec![(86, Change::Resume)]);
    }

    #[test]
    fn redundancy_follows_the_downlink_loss_and_outlasts_it() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut r = AudioRedundancy::default();
        assert!(!r.observe(at(0), Some(0.005)));
        assert!(!r.observe(at(1), None));
        assert!(r.observe(at(2), Some(0.02)));
        // Clean for less than the hold: still on; a lossy second starts the hold again.
        assert!(r.observe(at(20), Some(0.0)));
        assert!(r.observe(at(25), Some(0.03)));
        assert!(r.observe(at(54), Some(0.0)));
        assert!(!r.observe(at(55), Some(0.0)));
        assert!(!r.on());
    }

    proptest! {
        /// Whatever the link does: changes alternate, a pause follows at least
        /// `PAUSE_AFTER` of weak samples, a resume at least `RESUME_AFTER` of healthy ones,
        /// and the back-off never exceeds its bound.
        #[test]
        fn changes_alternate_and_respect_their_delays(samples in proptest::collection::vec(any::<bool>(), 1..400)) {
            let t0 = Instant::now();
            let mut g = VideoGate::default();
            let mut last: Option<(usize, Change)> = None;
            for (i, weak) in samples.iter().enumerate() {
                let s = if *weak { WEAK } else { GOOD };
                if let Some(c) = g.observe(t0 + Duration::from_secs(i as u64), s) {
                    if let Some((_, prev)) = last {
                        prop_assert_ne!(prev, c);
                    } else {
                        prop_assert_eq!(c, Change::Pause);
                    }
                    let need = match c { Change::Pause => PAUSE_AFTER, Change::Resume => RESUME_AFTER };
                    let n = need.as_secs() as usize;
                    prop_assert!(i >= n);
                    prop_assert!(samples[i - n..=i].iter().all(|w| *w == (c == Change::Pause)));
                    last = Some((i, c));
                }
                prop_assert!(g.backoff <= BACKOFF_MAX);
                prop_assert_eq!(g.paused(), last.is_some_and(|(_, c)| c == Change::Pause));
            }
        }
    }
}
