//! The few bytes of STUN and SDP the worker reads itself: enough to find which peer
//! connection a datagram belongs to and whether an offer restarts or replaces a leg.

use super::codec::VideoCodec;

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_USERNAME: u16 = 0x0006;

fn is_stun(buf: &[u8]) -> bool {
    buf.len() >= 20 && buf[0] < 4 && buf[4..8] == MAGIC_COOKIE
}

fn message_type(buf: &[u8]) -> u16 {
    u16::from_be_bytes([buf[0], buf[1]])
}

pub fn is_binding_success(buf: &[u8]) -> bool {
    is_stun(buf) && message_type(buf) == BINDING_SUCCESS
}

/// The local ufrag named by a STUN Binding request (`USERNAME` is `local:remote` from the
/// receiver's side), or `None` for anything else.
pub fn binding_request_ufrag(buf: &[u8]) -> Option<&str> {
    if !is_stun(buf) || message_type(buf) != BINDING_REQUEST {
        return None;
    }
    let declared = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let end = (20 + declared).min(buf.len());
    let mut at = 20;
    while at + 4 <= end {
        let typ = u16::from_be_bytes([buf[at], buf[at + 1]]);
        let len = u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize;
        let value = buf.get(at + 4..at + 4 + len)?;
        if typ == ATTR_USERNAME {
            return std::str::from_utf8(value).ok()?.split(':').next();
        }
        at += 4 + ((len + 3) & !3);
    }
    None
}

/// The first `a=ice-ufrag:` of an SDP.
pub fn sdp_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .map(str::trim)
}

/// The session id of an SDP's `o=` line: the same for every offer of one browser peer
/// connection, different for a new one (a reload).
pub fn sdp_session_id(sdp: &str) -> Option<&str> {
    let origin = sdp.lines().find_map(|l| l.trim().strip_prefix("o="))?;
    origin.split_whitespace().nth(1)
}

/// Each media section's `a=mid` with the direction it declares (`sendrecv` when none is
/// written, as RFC 3264 says), in order.
pub fn sdp_directions(sdp: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut section: Option<(Option<String>, String)> = None;
    let mut finish = |section: &mut Option<(Option<String>, String)>| {
        if let Some((Some(mid), dir)) = section.take() {
            out.push((mid, dir));
        }
    };
    for line in sdp.lines().map(str::trim) {
        if line.starts_with("m=") {
            finish(&mut section);
            section = Some((None, "sendrecv".to_owned()));
        } else if let Some((mid, dir)) = section.as_mut() {
            if let Some(m) = line.strip_prefix("a=mid:") {
                *mid = Some(m.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("a=") {
                if matches!(d, "sendrecv" | "sendonly" | "recvonly" | "inactive") {
                    *dir = d.to_owned();
                }
            }
        }
    }
    finish(&mut section);
    out
}

/// The lines (trimmed) of an SDP's first media section of `kind` (`audio`, `video`), after
/// its `m=` line. A section with port 0 and `a=bundle-only` is bundled (Firefox), not
/// rejected, so the port does not matter.
fn first_section<'a>(sdp: &'a str, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let is_kind = move |line: &str| {
        line.strip_prefix("m=")
            .and_then(|m| m.strip_prefix(kind))
            .is_some_and(|rest| rest.starts_with(' '))
    };
    sdp.lines()
        .map(str::trim)
        .skip_while(move |l| !is_kind(l))
        .skip(1)
        .take_while(|l| !l.starts_with("m="))
}

/// The video codecs the server forwards that an offer's first video section lists, with
/// the payload type the offer gives each, in the offer's order (empty when it has none, or
/// no video). H.264 counts with packetization mode 1 in the baseline family
/// (`profile-level-id` 42xxxx: constrained baseline is what every WebRTC endpoint sends).
pub fn offered_video_codecs(sdp: &str) -> Vec<(VideoCodec, u8)> {
    let mut rtpmap: Vec<(&str, VideoCodec)> = Vec::new();
    let mut fmtp: Vec<(&str, &str)> = Vec::new();
    for line in first_section(sdp, "video") {
        if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            let mut parts = rest.split_whitespace();
            if let (Some(pt), Some(enc)) = (parts.next(), parts.next()) {
                let name = enc.split('/').next().unwrap_or("");
                let codec = if name.eq_ignore_ascii_case("VP8") {
                    Some(VideoCodec::Vp8)
                } else if name.eq_ignore_ascii_case("H264") {
                    Some(VideoCodec::H264)
                } else {
                    None
                };
                if let Some(c) = codec {
                    rtpmap.push((pt, c));
                }
            }
        } else if let Some(rest) = line.strip_prefix("a=fmtp:") {
            if let Some((pt, params)) = rest.split_once(' ') {
                fmtp.push((pt, params));
            }
        }
    }
    let mut out: Vec<(VideoCodec, u8)> = Vec::new();
    // For H.264, the payload type of constrained baseline (42e0xx) when the offer has it:
    // the one the server's negotiation matches exactly.
    let mut constrained: Option<u8> = None;
    for (pt, codec) in rtpmap {
        let ok = match codec {
            VideoCodec::Vp8 => true,
            VideoCodec::H264 => {
                let params = fmtp.iter().find(|(p, _)| *p == pt).map_or("", |(_, f)| *f);
                let param = |name: &str| {
                    params.split(';').find_map(|kv| {
                        let (k, v) = kv.trim().split_once('=')?;
                        k.eq_ignore_ascii_case(name).then_some(v.trim())
                    })
                };
                let profile = param("profile-level-id").filter(|id| id.len() == 6);
                let ok = param("packetization-mode") == Some("1")
                    && profile.is_some_and(|id| id.as_bytes()[..2].eq_ignore_ascii_case(b"42"));
                // Bytes, not `str` slices: the offer is the caller's, and a multi-byte
                // character would put a `str` slice inside it.
                if ok && profile.is_some_and(|id| id.as_bytes()[..4].eq_ignore_ascii_case(b"42e0"))
                {
                    constrained = constrained.or(pt.parse().ok());
                }
                ok
            }
        };
        let pt = pt.parse::<u8>().ok();
        if let (true, Some(pt)) = (ok, pt) {
            if !out.iter().any(|(c, _)| *c == codec) {
                out.push((codec, pt));
            }
        }
    }
    if let Some(pt) = constrained {
        for entry in &mut out {
            if entry.0 == VideoCodec::H264 {
                entry.1 = pt;
            }
        }
    }
    out
}

/// Whether an offer lists Opus (the one audio codec the server forwards).
pub fn offers_opus(sdp: &str) -> bool {
    sdp.lines().any(|l| {
        l.trim()
            .strip_prefix("a=rtpmap:")
            .and_then(|r| r.split_whitespace().nth(1))
            .is_some_and(|enc| enc.to_ascii_lowercase().starts_with("opus/48000"))
    })
}

/// The audio formats of an offer's first audio section that the server uses: Opus's
/// payload type, and RED's with its format line when RED carries that Opus (Chromium
/// offers `red/48000/2` with `fmtp:63 111/111`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedAudio {
    pub opus: u8,
    pub red: Option<(u8, String)>,
}

pub fn offered_audio(sdp: &str) -> Option<OfferedAudio> {
    let mut opus: Option<u8> = None;
    let mut reds: Vec<u8> = Vec::new();
    let mut fmtp: Vec<(u8, &str)> = Vec::new();
    for line in first_section(sdp, "audio") {
        if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            let mut parts = rest.split_whitespace();
            let (Some(Ok(pt)), Some(enc)) = (parts.next().map(str::parse::<u8>), parts.next())
            else {
                continue;
            };
            let enc = enc.to_ascii_lowercase();
            if enc.starts_with("opus/48000") {
                opus = opus.or(Some(pt));
            } else if enc.starts_with("red/48000") {
                reds.push(pt);
            }
        } else if let Some(rest) = line.strip_prefix("a=fmtp:") {
            if let Some((Ok(pt), params)) = rest.split_once(' ').map(|(p, f)| (p.parse(), f)) {
                fmtp.push((pt, params.trim()));
            }
        }
    }
    let opus = opus?;
    // RED whose every block is this Opus ("111/111", or "111/111/111" for two redundant
    // blocks): anything else carries a codec the server does not forward.
    let red = reds.into_iter().find_map(|pt| {
        let (_, line) = fmtp.iter().find(|(p, _)| *p == pt)?;
        let carries_opus = line.split('/').all(|b| b.trim().parse::<u8>() == Ok(opus));
        carries_opus.then(|| (pt, (*line).to_owned()))
    });
    Some(OfferedAudio { opus, red })
}

/// The connection address of an `a=candidate:` line or a bare `candidate:` attribute.
pub fn candidate_ip(candidate: &str) -> Option<&str> {
    let c = candidate.trim();
    let c = c.strip_prefix("a=").unwrap_or(c);
    let c = c.strip_prefix("candidate:")?;
    // foundation component transport priority address port typ ...
    c.split_whitespace().nth(4)
}

/// Removes the candidates whose address `keep` refuses (and any that are not IP
/// addresses, such as mDNS names), returning the SDP and how many were removed.
pub fn filter_candidates(sdp: &str, keep: impl Fn(std::net::IpAddr) -> bool) -> (String, usize) {
    let mut out = String::with_capacity(sdp.len());
    let mut removed = 0;
    for line in sdp.split_inclusive('\n') {
        if line.trim_start().starts_with("a=candidate:") {
            let ok = candidate_ip(line)
                .and_then(|ip| ip.parse().ok())
                .is_some_and(&keep);
            if !ok {
                removed += 1;
                continue;
            }
        }
        out.push_str(line);
    }
    (out, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_video_codecs_an_offer_lists() {
        use VideoCodec::*;
        let chromium = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
                        m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104\r\n\
                        a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
                        a=rtpmap:102 H264/90000\r\n\
                        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
                        a=rtpmap:104 H264/90000\r\n\
                        a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";
        assert_eq!(offered_video_codecs(chromium), vec![(Vp8, 96), (H264, 104)]);
        let h264_first = "m=video 9 UDP/TLS/RTP/SAVPF 104 96\r\n\
                          a=rtpmap:104 H264/90000\r\n\
                          a=fmtp:104 profile-level-id=42E01F;packetization-mode=1\r\n\
                          a=rtpmap:96 VP8/90000\r\n";
        assert_eq!(
            offered_video_codecs(h264_first),
            vec![(H264, 104), (Vp8, 96)]
        );
        // Mode 0, or a profile outside the baseline family, is not forwarded.
        let other = "m=video 9 UDP/TLS/RTP/SAVPF 98 100\r\na=rtpmap:98 H264/90000\r\n\
                     a=fmtp:98 packetization-mode=0;profile-level-id=42e01f\r\n\
                     a=rtpmap:100 H264/90000\r\na=fmtp:100 packetization-mode=1;profile-level-id=640c1f\r\n\
                     a=rtpmap:101 VP9/90000\r\n";
        assert!(offered_video_codecs(other).is_empty());
        // No video section.
        assert!(offered_video_codecs("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n").is_empty());
        // A profile-level-id with a multi-byte character is refused, not a panic.
        let odd = "m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 H264/90000\r\n\
                   a=fmtp:98 packetization-mode=1;profile-level-id=4é01f\r\n";
        assert!(offered_video_codecs(odd).is_empty());
        assert!(offers_opus(chromium));
        assert_eq!(
            offered_audio(chromium),
            Some(OfferedAudio {
                opus: 111,
                red: None
            })
        );
        assert!(!offers_opus(other));
    }

    #[test]
    fn red_is_used_only_when_it_carries_the_offered_opus() {
        let audio = |lines: &str| {
            format!("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n{lines}m=video 9 X 96\r\na=rtpmap:64 red/48000/2\r\na=fmtp:64 111/111\r\n")
        };
        let chromium = audio("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n");
        assert_eq!(
            offered_audio(&chromium),
            Some(OfferedAudio {
                opus: 111,
                red: Some((63, "111/111".into()))
            })
        );
        // RED over another codec, RED without its format line, Firefox (no RED), no Opus.
        let other =
            audio("a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/0\r\n");
        assert_eq!(offered_audio(&other).and_then(|a| a.red), None);
        let bare = audio("a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\n");
        assert_eq!(offered_audio(&bare).and_then(|a| a.red), None);
        let firefox = "m=audio 9 UDP/TLS/RTP/SAVPF 109 9\r\na=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n\
                       a=rtpmap:109 opus/48000/2\r\na=rtpmap:9 G722/8000/1\r\n";
        assert_eq!(
            offered_audio(firefox),
            Some(OfferedAudio {
                opus: 109,
                red: None
            })
        );
        assert_eq!(offered_audio(&audio("a=rtpmap:0 PCMU/8000\r\n")), None);
    }

    #[test]
    fn reads_each_sections_mid_and_direction() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\na=sendonly\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=inactive\r\na=mid:1\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v2\r\n\
                   m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        let dirs = sdp_directions(sdp);
        let want = [("0", "sendrecv"), ("1", "inactive"), ("v2", "sendrecv")];
        assert_eq!(dirs.len(), want.len(), "{dirs:?}");
        for ((mid, dir), (wm, wd)) in dirs.iter().zip(want) {
            assert_eq!((mid.as_str(), dir.as_str()), (wm, wd));
        }
    }

    fn binding_request(username: &[u8]) -> Vec<u8> {
        let padded = (username.len() + 3) & !3;
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&((4 + padded) as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7u8; 12]);
        m.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        m.extend_from_slice(&(username.len() as u16).to_be_bytes());
        m.extend_from_slice(username);
        m.resize(20 + 4 + padded, 0);
        m
    }

    #[test]
    fn reads_the_local_ufrag_of_a_binding_request() {
        let m = binding_request(b"srv1:brws");
        assert_eq!(binding_request_ufrag(&m), Some("srv1"));
        assert!(!is_binding_success(&m));
        let mut ok = m.clone();
        ok[0] = 0x01;
        ok[1] = 0x01;
        assert!(is_binding_success(&ok));
        assert_eq!(binding_request_ufrag(&ok), None);
    }

    #[test]
    fn truncated_or_foreign_datagrams_name_no_peer() {
        let m = binding_request(b"srv1:brws");
        for cut in 0..m.len() - 1 {
            // Never panics; a cut inside the username yields nothing.
            let _ = binding_request_ufrag(&m[..cut]);
        }
        assert_eq!(binding_request_ufrag(&m[..26]), None);
        assert_eq!(binding_request_ufrag(&[0x80; 40]), None, "RTP is not STUN");
        let mut bad_len = m.clone();
        bad_len[22] = 0xff;
        assert_eq!(binding_request_ufrag(&bad_len), None);
    }

    #[test]
    fn reads_sdp_fields_and_filters_candidates() {
        let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n\
                   a=ice-ufrag:abcd\r\n\
                   a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\n\
                   a=candidate:2 1 udp 2113937151 10.1.2.3 50001 typ host\r\n\
                   a=candidate:3 1 udp 2113937151 x.local 50002 typ host\r\n\
                   a=end-of-candidates\r\n";
        assert_eq!(sdp_ufrag(sdp), Some("abcd"));
        assert_eq!(sdp_session_id(sdp), Some("4611731400430051336"));
        assert_eq!(
            candidate_ip("candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host"),
            Some("127.0.0.1")
        );
        let (kept, removed) = filter_candidates(sdp, |ip| ip.is_loopback());
        assert_eq!(removed, 2);
        assert!(kept.contains("127.0.0.1 50000"));
        assert!(!kept.contains("10.1.2.3") && !kept.contains("x.local"));
        assert!(kept.ends_with("a=end-of-candidates\r\n"));
    }
}
