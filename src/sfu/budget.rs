//! Speech first on a weak link: how much of a publisher's video one receiving leg is sent.
//!
//! The publisher is told (REMB) what the weakest receiver's link carries, but it takes a
//! second or more to follow, and a link can fall faster than that (a call's first seconds,
//! a train entering a cutting). Video sent beyond what the link carries queues in the
//! network ahead of the audio, and the audio is what gets dropped. So each receiving leg's
//! video passes a token bucket filled at that leg's estimate less what audio needs: whole
//! frames are sent or dropped (a frame is the packets of one RTP timestamp), and once one is
//! dropped the receiver needs a keyframe again (the caller holds its video and asks for
//! one, at most once a second). Pure: time and sizes are passed in.

use std::time::Instant;

/// The least a bucket holds when full, in bits: one keyframe of a 640×480 stream, so that
/// a call's first picture is never the frame that is dropped.
const MIN_BURST_BITS: f64 = 40_000.0 * 8.0;
/// A full bucket holds this many seconds of the rate.
const BURST_SECS: f64 = 1.0;

#[derive(Clone, Debug, Default)]
pub struct VideoBudget {
    tokens: Option<f64>,
    last: Option<Instant>,
    frame: Option<u32>,
    dropping: bool,
}

impl VideoBudget {
    /// Whether to send a video packet of `bytes` belonging to the frame with RTP timestamp
    /// `ts`, when the leg's link carries `rate` bit/s for video. A frame that starts with
    /// the bucket empty is dropped whole.
    pub fn admit(&mut self, now: Instant, ts: u32, bytes: usize, rate: f64) -> bool {
        let burst = (rate * BURST_SECS).max(MIN_BURST_BITS);
        let elapsed = self
            .last
            .map_or(0.0, |l| now.saturating_duration_since(l).as_secs_f64());
        self.last = Some(now);
        let tokens = self
            .tokens
            .map_or(burst, |t| (t + elapsed * rate).min(burst));
        if self.frame != Some(ts) {
            self.frame = Some(ts);
            self.dropping = tokens < 0.0;
        }
        if self.dropping {
            self.tokens = Some(tokens);
            return false;
        }
        self.tokens = Some(tokens - bytes as f64 * 8.0);
        true
    }

    /// Starts afresh (a new stream, or video switched back on).
    pub fn reset(&mut self) {
        *self = VideoBudget::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sends `frames` frames of `packets` × 1,000 bytes at `fps` into a budget of `rate`,
    /// returning how many frames went out whole and whether any went out in part.
    fn run(rate: f64, fps: u32, frames: u32, packets: u32) -> (u32, bool) {
        let mut b = VideoBudget::default();
        let start = Instant::now();
        let mut whole = 0;
        let mut partial = false;
        for f in 0..frames {
            let at = start + Duration::from_secs_f64(f64::from(f) / f64::from(fps));
            let sent: Vec<bool> = (0..packets)
                .map(|_| b.admit(at, f * 3000, 1000, rate))
                .collect();
            if sent.iter().all(|s| *s) {
                whole += 1;
            } else if sent.iter().any(|s| *s) {
                partial = true;
            }
        }
        (whole, partial)
    }

    #[test]
    fn video_within_the_link_passes_whole() {
        // 15 fps × 2 KB = 240 kbit/s into 300 kbit/s.
        assert_eq!(run(300_000.0, 15, 150, 2), (150, false));
    }

    #[test]
    fn video_beyond_the_link_is_cut_to_it_by_whole_frames() {
        // 15 fps × 4 KB = 480 kbit/s into 120 kbit/s for 10 s: about a quarter gets through
        // (plus the full bucket at the start), never a frame in part.
        let (whole, partial) = run(120_000.0, 15, 150, 4);
        assert!(!partial);
        let sent_bits = f64::from(whole) * 4.0 * 8000.0;
        assert!(
            sent_bits <= 120_000.0 * 10.0 + MIN_BURST_BITS + 4.0 * 8000.0,
            "{whole} frames"
        );
        assert!(whole >= 30, "{whole} frames");
    }

    #[test]
    fn the_first_keyframe_always_goes_out() {
        let mut b = VideoBudget::default();
        let now = Instant::now();
        // A 50 KB keyframe into a 30 kbit/s link: more than the bucket holds, sent whole.
        assert!((0..50).all(|_| b.admit(now, 1, 1000, 30_000.0)));
        // The next frame finds the bucket empty and is dropped whole.
        assert!(!b.admit(now + Duration::from_millis(66), 2, 1000, 30_000.0));
        assert!(!b.admit(now + Duration::from_millis(67), 2, 1000, 30_000.0));
    }
}
