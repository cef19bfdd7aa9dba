//! What every leg negotiates, shared by the SFU's peer connections (sans-IO `rtc`) and the
//! Rust client (async `webrtc`, built on the same `rtc` types): the codecs, the header
//! extensions that are forwarded end to end, and the interceptor chain.
//!
//! The SFU forwards without transcoding, so every leg offers the same two codecs: Opus for
//! audio and VP8 for video (what every phone browser can encode). Payload types may still
//! differ per leg; the worker maps them.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{
    Attribute, Interceptor, NackGeneratorBuilder, NackResponderBuilder, Packet, Registry, Slot,
    StreamInfo, TaggedPacket,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers,
    configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;

pub const PT_OPUS: u8 = 111;
pub const PT_VP8: u8 = 96;

pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

pub fn vp8() -> RTCRtpCodec {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        // Keyframe requests must be negotiated or a browser never sends them.
        rtcp_feedback: vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir")],
    }
}

pub fn codec_for(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => opus(),
        _ => vp8(),
    }
}

pub const EXT_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
pub const EXT_VIDEO_ORIENTATION: &str = "urn:3gpp:video-orientation";

/// Header extensions forwarded end to end (ids remapped per leg). Everything else
/// (transport-cc, abs-send-time, mid, rid, ...) belongs to one hop and is dropped. Video
/// orientation matters: phones send which way is up only in this extension. The audio
/// level lets a receiver show who speaks.
pub const FORWARDED_EXTENSIONS: &[&str] = &[EXT_VIDEO_ORIENTATION, EXT_AUDIO_LEVEL];

/// Opus/111 and VP8/96 with the forwarded header extensions.
pub fn media_engine() -> Result<MediaEngine, rtc::shared::error::Error> {
    let mut me = MediaEngine::default();
    for (uri, kind) in [
        (EXT_AUDIO_LEVEL, RtpCodecKind::Audio),
        (EXT_VIDEO_ORIENTATION, RtpCodecKind::Video),
    ] {
        me.register_header_extension(
            RTCRtpHeaderExtensionCapability { uri: uri.into() },
            kind,
            None,
        )?;
    }
    for (codec, payload_type, kind) in [
        (opus(), PT_OPUS, RtpCodecKind::Audio),
        (vp8(), PT_VP8, RtpCodecKind::Video),
    ] {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec,
                payload_type,
            },
            kind,
        )?;
    }
    Ok(me)
}

/// Video packets each sending stream keeps for retransmission on a NACK: about 1.5 s of
/// 1.5 Mbit/s video, far beyond any round trip worth retransmitting over. The crate's
/// default (1024) held about 1.2 MB per forwarded video stream, most of a call's memory
/// (measured with `sunwai bench`, docs/benchmarks.md).
const NACK_BUFFER: u16 = 256;

/// The crate's default chain (NACK responder and generator, sender and receiver reports,
/// TWCC as receiver), with a smaller NACK buffer, plus [`DeliverKeyframeRequests`].
pub fn registry(me: &mut MediaEngine) -> Result<Registry, rtc::shared::error::Error> {
    // The video codecs' nack / nack pli feedback; the registry it returns is replaced
    // below so that the responder's buffer can be sized.
    let _ = configure_nack(Registry::new(), me);
    let registry = Registry::new()
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new().with_size(NACK_BUFFER).build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(me)?;
    let registry = configure_twcc_receiver_only(registry, me)?;
    Ok(configure_rtcp_reports(registry).with(
        Slot::from(SLOT_DELIVER_KEYFRAME),
        DeliverKeyframeRequests::default(),
    ))
}

/// After every built-in interceptor (the jitter buffer is 13 000): closest to the
/// application.
const SLOT_DELIVER_KEYFRAME: usize = 14_000;

/// rtc 0.21's interceptor chain ends in a terminus that drops every inbound RTCP packet
/// that no interceptor marked for the application, keyframe requests included. This one
/// marks compound packets that carry a PLI or FIR, so that they come out of `poll_read`.
#[derive(Default)]
pub struct DeliverKeyframeRequests {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

pub fn is_keyframe_request(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverKeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(pkts) = &msg.message.packet {
            if pkts.iter().any(|p| is_keyframe_request(p.as_ref())) {
                msg.message.add(Attribute::DeliverToApplication);
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverKeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Whether a VP8 RTP payload (RFC 7741) is the first packet of a keyframe: the payload
/// descriptor's S bit set with partition index 0, and the VP8 payload header's P bit clear.
pub fn vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let start_of_partition = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start_of_partition || partition != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        // X: an extension byte says which optional fields follow.
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // I: picture id, one byte or two when its M bit is set.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // T or K: TID/Y/KEYIDX
        }
    }
    payload.get(at).is_some_and(|&header| header & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::vp8_keyframe_start;

    #[test]
    fn finds_the_start_of_a_vp8_keyframe() {
        // Minimal descriptor (S=1, PID=0), keyframe header (P=0).
        assert!(vp8_keyframe_start(&[0x10, 0x50, 0x01]));
        // The same with a delta frame header (P=1).
        assert!(!vp8_keyframe_start(&[0x10, 0x51]));
        // Not the start of the partition, or not partition 0.
        assert!(!vp8_keyframe_start(&[0x00, 0x50]));
        assert!(!vp8_keyframe_start(&[0x11, 0x50]));
        // Chromium's usual descriptor: X, I with a 15-bit picture id, then a keyframe.
        assert!(vp8_keyframe_start(&[0x90, 0x80, 0x81, 0x23, 0x9c]));
        assert!(!vp8_keyframe_start(&[0x90, 0x80, 0x81, 0x23, 0x9d]));
        // X with I (7-bit id), L and T/K: four descriptor bytes before the header.
        assert!(vp8_keyframe_start(&[0x90, 0xf0, 0x05, 0x07, 0x20, 0x00]));
        // Truncated payloads are never a keyframe start.
        for cut in [&[][..], &[0x90], &[0x90, 0x80], &[0x90, 0x80, 0x81, 0x23]] {
            assert!(!vp8_keyframe_start(cut));
        }
    }
}
