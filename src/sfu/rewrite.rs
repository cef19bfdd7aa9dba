//! What the worker changes in a packet it forwards: the publisher's hop-by-hop header
//! extensions come off, and each receiving leg gets the packet with its own SSRC, payload
//! type and ids for the extensions that travel end to end (`codec::FORWARDED_EXTENSIONS`).
//! Sequence numbers are shifted per leg so that each leg's stream has no gap where
//! nothing was sent to it ([`SeqMap`]); timestamps pass unchanged until the publisher's
//! stream is replaced by a new one (a reload, a new connection), when they are re-based so
//! the leg's stream goes on where it was ([`TsMap`]). Pure: no I/O; time is passed in.

use std::time::Instant;

use bytes::Bytes;
use rtc::rtp;

use super::codec;

/// The end-to-end extensions of one packet, as (`FORWARDED_EXTENSIONS` index, payload):
/// a fixed array, so that forwarding allocates nothing for them.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    items: [Option<(usize, Bytes)>; codec::FORWARDED_EXTENSIONS.len()],
}

impl Kept {
    pub fn iter(&self) -> impl Iterator<Item = &(usize, Bytes)> {
        self.items.iter().flatten()
    }
}

/// The end-to-end extensions a packet carries, and the packet left without any. `ext_in`
/// maps this leg's negotiated ids to `FORWARDED_EXTENSIONS` indexes.
pub fn strip_extensions(pkt: &mut rtp::Packet, ext_in: &[(u8, usize)]) -> Kept {
    let mut kept = Kept::default();
    if pkt.header.extension {
        let mut n = 0;
        for e in pkt.header.extensions.drain(..) {
            if n == kept.items.len() {
                break;
            }
            if let Some(&(_, i)) = ext_in.iter().find(|(id, _)| *id == e.id) {
                kept.items[n] = Some((i, e.payload));
                n += 1;
            }
        }
    }
    pkt.header.extension = false;
    pkt.header.extension_profile = 0;
    pkt.header.extensions.clear();
    // The parsed header remembers how many padding bytes followed its own extensions, and
    // rtc-rtp 0.21.1 adds them to the marshalled size without writing them: kept, they
    // corrupt every forwarded packet whose new extension block is shorter (in Chromium's
    // video, the last packet of each keyframe, which carries the orientation).
    pkt.header.extensions_padding = 0;
    kept
}

/// `pkt` (already stripped) as one receiving leg gets it: its SSRC, payload type and
/// sequence number, and `kept` under this leg's ids. `ext_out` maps `FORWARDED_EXTENSIONS`
/// indexes to this leg's ids (0: not negotiated, left out).
pub fn for_leg(
    mut pkt: rtp::Packet,
    ssrc: u32,
    payload_type: u8,
    sequence_number: u16,
    kept: &Kept,
    ext_out: &[u8],
) -> rtp::Packet {
    pkt.header.ssrc = ssrc;
    pkt.header.payload_type = payload_type;
    pkt.header.sequence_number = sequence_number;
    for (i, payload) in kept.iter() {
        let id = ext_out.get(*i).copied().unwrap_or(0);
        if id != 0 {
            pkt.header.extensions.push(rtp::header::Extension {
                id,
                payload: payload.clone(),
            });
        }
    }
    if !pkt.header.extensions.is_empty() {
        pkt.header.extension = true;
        let one_byte = pkt
            .header
            .extensions
            .iter()
            .all(|e| (1..=14).contains(&e.id) && (1..=16).contains(&e.payload.len()));
        pkt.header.extension_profile = if one_byte { 0xBEDE } else { 0x1000 };
    }
    pkt
}

/// One receiving leg's sequence numbers for one track: the publisher's plus an offset
/// that is re-based after a pause, so the receiver never counts packets it was not sent
/// (before its keyframe, while its video was off) as lost.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqMap {
    offset: u16,
    /// The highest number sent on this leg so far.
    last: Option<u16>,
    paused: bool,
}

impl SeqMap {
    /// The next packet starts after the last one sent, whatever its own number.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// This leg's number for the publisher's `seq`.
    pub fn map(&mut self, seq: u16) -> u16 {
        if self.paused {
            self.paused = false;
            if let Some(last) = self.last {
                self.offset = last.wrapping_add(1).wrapping_sub(seq);
            }
        }
        let out = seq.wrapping_add(self.offset);
        // Newer (within half the number space) moves `last` on; a late packet does not.
        if self.last.is_none_or(|l| out.wrapping_sub(l) < 0x8000) {
            self.last = Some(out);
        }
        out
    }
}

/// One receiving leg's RTP timestamps for one track: the publisher's plus an offset, which
/// is re-based when the publisher's stream is replaced. A new browser connection starts
/// its timestamps at a random value; passed on unchanged, that jump would look to the
/// receiver's jitter buffer like hours of delay or a stream from the future. Re-based,
/// the leg's timeline goes on from its last packet, advanced by the time that passed.
#[derive(Clone, Copy, Debug, Default)]
pub struct TsMap {
    offset: u32,
    /// The newest timestamp sent on this leg and when.
    last: Option<(u32, Instant)>,
    rebase: bool,
}

impl TsMap {
    /// The next packet comes from a new stream: continue this leg's timeline from it.
    pub fn rebase(&mut self) {
        self.rebase = true;
    }

    /// This leg's timestamp for the publisher's `ts`, received at `now`.
    pub fn map(&mut self, ts: u32, now: Instant, clock_rate: u32) -> u32 {
        if std::mem::take(&mut self.rebase) {
            if let Some((last, at)) = self.last {
                let ticks = now.saturating_duration_since(at).as_secs_f64() * f64::from(clock_rate);
                // At least one tick on, so the first new frame is never the same instant as
                // the last old one.
                let next = last.wrapping_add((ticks as u32).max(1));
                self.offset = next.wrapping_sub(ts);
            }
        }
        let out = ts.wrapping_add(self.offset);
        if self
            .last
            .is_none_or(|(l, _)| out.wrapping_sub(l) < 0x8000_0000)
        {
            self.last = Some((out, now));
        }
        out
    }
}

/// `pkt` without any extension (when a leg refuses the ids it was given).
pub fn without_extensions(mut pkt: rtp::Packet) -> rtp::Packet {
    pkt.header.extension = false;
    pkt.header.extension_profile = 0;
    pkt.header.extensions.clear();
    pkt
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::shared::marshal::{Marshal, Unmarshal};

    /// A VP8 packet as Chromium sends the last packet of a keyframe: transport-cc,
    /// abs-send-time and the orientation in a one-byte extension block that needed
    /// padding to a whole word.
    fn from_chromium() -> rtp::Packet {
        let mut raw = vec![
            0x90, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xaa, 0xbb, 0xcc, 0xdd,
        ];
        // BEDE, 3 words: id 3 (2 bytes), id 2 (3 bytes), id 13 (1 byte), 3 bytes padding.
        raw.extend_from_slice(&[0xbe, 0xde, 0x00, 0x03]);
        raw.extend_from_slice(&[0x31, 0x00, 0x07, 0x22, 0x01, 0x02, 0x03, 0xd0, 0x01]);
        raw.extend_from_slice(&[0, 0, 0]);
        raw.extend_from_slice(b"the end of a keyframe");
        let pkt = rtp::Packet::unmarshal(&mut raw.as_slice()).expect("a valid packet");
        assert_eq!(
            pkt.header.extensions_padding, 3,
            "the case that broke forwarding"
        );
        pkt
    }

    #[test]
    fn sequence_numbers_continue_across_a_pause_and_keep_late_packets_in_place() {
        let mut m = SeqMap::default();
        // From the first packet on, the publisher's own numbers (wrapping).
        assert_eq!(m.map(65_534), 65_534);
        assert_eq!(m.map(65_535), 65_535);
        assert_eq!(m.map(0), 0);
        // A late packet keeps its place and does not move the stream back.
        assert_eq!(m.map(65_535), 65_535);
        assert_eq!(m.map(1), 1);
        // Paused (video off, or waiting for a keyframe): 500 packets are not sent here.
        m.pause();
        assert_eq!(m.map(502), 2);
        assert_eq!(m.map(503), 3);
        // A packet from before the pause, retransmitted late, maps below the new start.
        assert_eq!(m.map(501), 1);
        assert_eq!(m.map(504), 4);
        // A pause before anything was sent keeps the publisher's numbers.
        let mut fresh = SeqMap::default();
        fresh.pause();
        assert_eq!(fresh.map(40_000), 40_000);
    }

    #[test]
    fn timestamps_pass_unchanged_until_the_stream_is_replaced_then_go_on_in_time() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + std::time::Duration::from_millis(n);
        let mut m = TsMap::default();
        assert_eq!(m.map(1_000, ms(0), 90_000), 1_000);
        assert_eq!(m.map(4_000, ms(33), 90_000), 4_000);
        // A re-base before anything was sent changes nothing.
        let mut fresh = TsMap::default();
        fresh.rebase();
        assert_eq!(fresh.map(77, ms(0), 90_000), 77);
        // The publisher reconnects 2 s later with a new random start.
        m.rebase();
        let first = m.map(3_000_000_000, ms(2_033), 90_000);
        assert_eq!(
            first,
            4_000 + 180_000,
            "2 s at 90 kHz after the last packet"
        );
        // From then on the new stream's own spacing, wrapping included.
        assert_eq!(m.map(3_000_003_000, ms(2_066), 90_000), first + 3_000);
        assert_eq!(
            m.map(
                3_000_000_000u32.wrapping_add(1_300_000_000),
                ms(9_000),
                90_000
            ),
            first.wrapping_add(1_300_000_000)
        );
        // A late packet of the new stream maps back in place and does not move `last`.
        assert_eq!(m.map(3_000_001_500, ms(9_001), 90_000), first + 1_500);
    }

    #[test]
    fn a_forwarded_packet_reads_back_whole_with_its_new_extension_ids() {
        let mut pkt = from_chromium();
        // This leg negotiated the orientation as id 13, the index 0 of FORWARDED_EXTENSIONS.
        let kept = strip_extensions(&mut pkt, &[(13, 0)]);
        let found: Vec<_> = kept.iter().cloned().collect();
        assert_eq!(found, vec![(0, Bytes::from_static(&[0x01]))]);
        for ext_out in [&[4u8][..], &[0u8][..], &[]] {
            let out = for_leg(pkt.clone(), 0x1122_3344, 100, 0x1234, &kept, ext_out);
            let wire = out.marshal().expect("marshals");
            let back = rtp::Packet::unmarshal(&mut &wire[..]).expect("reads back");
            assert_eq!(&back.payload[..], b"the end of a keyframe", "{ext_out:?}");
            assert_eq!(back.header.ssrc, 0x1122_3344);
            assert_eq!(back.header.payload_type, 100);
            assert_eq!(back.header.sequence_number, 0x1234);
            assert!(back.header.marker);
            let ids: Vec<u8> = back.header.extensions.iter().map(|e| e.id).collect();
            let want: Vec<u8> = ext_out.iter().copied().filter(|id| *id != 0).collect();
            assert_eq!(ids, want);
        }
        let bare = without_extensions(for_leg(pkt, 1, 96, 0x1234, &kept, &[4]));
        let wire = bare.marshal().expect("marshals");
        let back = rtp::Packet::unmarshal(&mut &wire[..]).expect("reads back");
        assert_eq!(&back.payload[..], b"the end of a keyframe");
        assert!(!back.header.extension);
    }
}
