//! Audio redundancy (RFC 2198 "RED", as Chromium negotiates it for Opus: `red/48000/2`
//! with `fmtp:<red> <opus>/<opus>`). Pure byte work, no state.
//!
//! The server adds redundancy on the way to a receiver whose downlink loses audio: each
//! packet then carries the previous Opus frame as well, so one lost packet costs no speech
//! (the receiver's jitter buffer takes the frame from the next packet). A publisher's own
//! uplink is protected by Opus's in-band FEC instead, which its encoder sizes to the loss
//! the server reports back. A packet that arrives as RED is cut to its primary frame, so
//! receivers that did not negotiate RED (Firefox, other stacks) get plain Opus.

use bytes::{BufMut, Bytes, BytesMut};

/// The largest timestamp offset and block length a redundant block's header can say
/// (14 and 10 bits).
const MAX_TS_OFFSET: u32 = (1 << 14) - 1;
const MAX_BLOCK_LEN: usize = (1 << 10) - 1;

/// A RED payload's primary block and its payload type, or `None` when the payload is not
/// well-formed RED (headers running past the end, blocks longer than the payload).
pub fn primary(payload: &Bytes) -> Option<(u8, Bytes)> {
    let mut at = 0usize;
    let mut redundant = 0usize;
    loop {
        let first = *payload.get(at)?;
        if first & 0x80 == 0 {
            let start = at + 1 + redundant;
            if start > payload.len() {
                return None;
            }
            return Some((first & 0x7f, payload.slice(start..)));
        }
        let len_hi = *payload.get(at + 2)?;
        let len_lo = *payload.get(at + 3)?;
        redundant += usize::from(len_hi & 0x03) << 8 | usize::from(len_lo);
        at += 4;
    }
}

/// A RED payload carrying `previous` (sent `ts_offset` timestamp units earlier) as its one
/// redundant block and `current` as its primary block, both of payload type `pt`. `None`
/// when `previous` cannot be described in a block header (too old or too long) or is
/// empty: then `current` goes on its own.
pub fn with_previous(pt: u8, previous: &[u8], ts_offset: u32, current: &[u8]) -> Option<Bytes> {
    if previous.is_empty() || previous.len() > MAX_BLOCK_LEN {
        return None;
    }
    if ts_offset == 0 || ts_offset > MAX_TS_OFFSET {
        return None;
    }
    let pt = pt & 0x7f;
    let mut out = BytesMut::with_capacity(5 + previous.len() + current.len());
    out.put_u8(0x80 | pt);
    let header = (ts_offset << 10) | previous.len() as u32;
    out.put_slice(&header.to_be_bytes()[1..]);
    out.put_u8(pt);
    out.put_slice(previous);
    out.put_slice(current);
    Some(out.freeze())
}

/// A RED payload with only its primary block.
#[cfg(test)]
pub fn alone(pt: u8, current: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(1 + current.len());
    out.put_u8(pt & 0x7f);
    out.put_slice(current);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_packet_carries_its_predecessor_in_the_layout_of_rfc_2198() {
        let red = with_previous(111, b"prev", 960, b"current").expect("fits");
        // F=1 | PT 111; offset 960 (14 bits) and length 4 (10 bits); F=0 | PT 111.
        let header = (960u32 << 10) | 4;
        let mut expected = vec![0x80 | 111];
        expected.extend_from_slice(&header.to_be_bytes()[1..]);
        expected.push(111);
        expected.extend_from_slice(b"prevcurrent");
        assert_eq!(&red[..], &expected[..]);
        assert_eq!(primary(&red), Some((111, Bytes::from_static(b"current"))));
    }

    #[test]
    fn what_a_header_cannot_describe_goes_without_redundancy() {
        assert!(with_previous(111, b"", 960, b"x").is_none());
        assert!(with_previous(111, &[0; 1024], 960, b"x").is_none());
        assert!(with_previous(111, b"p", 0, b"x").is_none());
        assert!(with_previous(111, b"p", 16_384, b"x").is_none());
        assert!(with_previous(111, &[0; 1023], 16_383, b"x").is_some());
    }

    #[test]
    fn malformed_red_is_refused() {
        assert_eq!(primary(&Bytes::new()), None);
        // A redundant block header cut short, and one whose block runs past the end.
        assert_eq!(primary(&Bytes::from_static(&[0x80 | 111, 0, 0])), None);
        assert_eq!(
            primary(&Bytes::from_static(&[0x80 | 111, 0, 0, 9, 111, 1, 2])),
            None
        );
        // A primary block may be empty (the payload ends at its header).
        assert_eq!(primary(&alone(111, b"")), Some((111, Bytes::new())));
    }

    proptest! {
        #[test]
        fn the_primary_block_survives_the_round_trip(
            pt in 0u8..128,
            prev in proptest::collection::vec(any::<u8>(), 1..1024),
            cur in proptest::collection::vec(any::<u8>(), 0..1500),
            offset in 1u32..16_384,
        ) {
            let red = with_previous(pt, &prev, offset, &cur).expect("fits");
            prop_assert_eq!(primary(&red), Some((pt, Bytes::from(cur.clone()))));
            prop_assert_eq!(primary(&alone(pt, &cur)), Some((pt, Bytes::from(cur))));
        }

        #[test]
        fn any_bytes_are_parsed_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let payload = Bytes::from(bytes);
            if let Some((_, p)) = primary(&payload) {
                prop_assert!(p.len() <= payload.len());
            }
        }
    }
}
