//! One realistic example value per message variant, shared by the fixture tests. Every
//! optional field is filled so the fixtures show the full shape of each message.
#![allow(dead_code)]

use sunwai_signaling::*;
use uuid::Uuid;

pub const ENTRY: Uuid = Uuid::from_u128(0x6f1c_2a7e_9b3d_4c58_8e21_0a4f_7d93_b612);
pub const OFFICER: Uuid = Uuid::from_u128(0x1d2e_3f40_5a6b_4c7d_8e9f_a0b1_c2d3_e4f5);

fn window() -> WindowInfo {
    WindowInfo {
        open: true,
        opens_at: Some("2026-11-28T06:30:00Z".into()),
        closes_at: Some("2026-11-28T08:30:00Z".into()),
        next_opens_at: Some("2026-11-29T06:30:00Z".into()),
        next_closes_at: Some("2026-11-29T08:30:00Z".into()),
    }
}

fn intake() -> IntakeMsg {
    IntakeMsg {
        name: "Asha Devi".into(),
        mobile: "98765 43210".into(),
        area: "Civil Lines".into(),
        category: "theft".into(),
        description: "My bicycle was stolen from outside the market.".into(),
        language: "hi".into(),
        consent: true,
    }
}

fn candidate() -> IceCandidate {
    IceCandidate {
        candidate: "candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 0.0.0.0 rport 0 generation 0".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: Some("f3Xq".into()),
    }
}

const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

pub fn client_examples() -> Vec<ClientMsg> {
    let desk = || "ssp-prayagraj".to_string();
    vec![
        ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            session: Some("s_9f2c7a".into()),
            ticket: Some("t_4b8e1d".into()),
            lang: Some("hi".into()),
        },
        ClientMsg::Join {
            id: 1,
            desk: desk(),
            intake: intake(),
        },
        ClientMsg::Leave { id: 2 },
        ClientMsg::Hangup { id: 3 },
        ClientMsg::GoOnDuty { id: 4 },
        ClientMsg::GoOffDuty { id: 5 },
        ClientMsg::Ready { id: 6 },
        ClientMsg::Accept {
            id: 7,
            entry: ENTRY,
        },
        ClientMsg::Decline {
            id: 8,
            entry: ENTRY,
        },
        ClientMsg::EndCall {
            id: 9,
            no_show: false,
        },
        ClientMsg::SaveOutcome {
            id: 10,
            entry: ENTRY,
            outcome: OutcomeMsg {
                category: "theft".into(),
                station: "Civil Lines".into(),
                action: "fir_registered".into(),
                notes: "FIR 112/2026 registered; SHO informed.".into(),
            },
        },
        ClientMsg::Watch {
            id: 11,
            desk: desk(),
        },
        ClientMsg::Unwatch {
            id: 12,
            desk: desk(),
        },
        ClientMsg::OpenWindow {
            id: 13,
            desk: desk(),
            minutes: 120,
        },
        ClientMsg::CloseWindow {
            id: 14,
            desk: desk(),
        },
        ClientMsg::ExtendWindow {
            id: 15,
            desk: desk(),
            minutes: 30,
        },
        ClientMsg::Broadcast {
            id: 16,
            desk: desk(),
            text: "Hearings will continue until 09:00 today.".into(),
        },
        ClientMsg::Monitor {
            id: 17,
            entry: ENTRY,
        },
        ClientMsg::StopMonitor {
            id: 18,
            entry: ENTRY,
        },
        ClientMsg::Sdp {
            id: 19,
            description: SessionDescription {
                sdp_type: SdpKind::Offer,
                sdp: SDP.into(),
            },
        },
        ClientMsg::Ice {
            candidate: candidate(),
        },
        ClientMsg::EndOfCandidates {},
        ClientMsg::Ping { id: 20 },
    ]
}

pub fn desk_snapshot() -> DeskSnapshot {
    DeskSnapshot {
        desk: "ssp-prayagraj".into(),
        at: "2026-11-28T07:05:00Z".into(),
        window: window(),
        waiting: 2,
        longest_wait_secs: 1260,
        avg_wait_secs: Some(840),
        avg_call_secs: Some(420),
        calls_today: 9,
        abandoned_today: 1,
        carried_over_today: 0,
        projected_backlog_at_close: Some(0),
        categories: vec![
            CategoryCount {
                category: "theft".into(),
                count: 1,
            },
            CategoryCount {
                category: "cyber_fraud".into(),
                count: 1,
            },
        ],
        officers: vec![OfficerView {
            id: OFFICER,
            name: "SI Ravi Kumar".into(),
            state: DutyState::InCall,
            entry: Some(ENTRY),
            since: "2026-11-28T07:01:10Z".into(),
            reconnecting: Some(Role::Citizen),
        }],
        queue: vec![
            QueueItem {
                entry: Uuid::from_u128(0x2a),
                reference: "PRJ-20261128-0011".into(),
                name: "Mohd. Salim".into(),
                category: "cyber_fraud".into(),
                waited_secs: 1260,
                connected: true,
            },
            QueueItem {
                entry: Uuid::from_u128(0x2b),
                reference: "PRJ-20261128-0012".into(),
                name: "Sunita".into(),
                category: "theft".into(),
                waited_secs: 300,
                connected: false,
            },
        ],
    }
}

pub fn server_examples() -> Vec<ServerMsg> {
    vec![
        ServerMsg::Welcome(Welcome {
            v: PROTOCOL_VERSION,
            role: Role::Citizen,
            name: None,
            desks: vec![DeskInfo {
                id: "ssp-prayagraj".into(),
                name: "SSP Prayagraj".into(),
                window: window(),
            }],
            ice_servers: vec![IceServer {
                urls: vec![
                    "stun:turn.example.org:3478".into(),
                    "turn:turn.example.org:3478?transport=udp".into(),
                ],
                username: Some("1764400000:c1".into()),
                credential: Some("q8ZkT1c0".into()),
            }],
            instant_connect_position: Some(2),
            resumed: Some(Resumed {
                entry: ENTRY,
                reference: "PRJ-20261128-0007".into(),
                desk: "ssp-prayagraj".into(),
                state: "waiting".into(),
            }),
        }),
        ServerMsg::Ok { re: 4 },
        ServerMsg::Error {
            re: Some(1),
            code: ErrorCode::InvalidInput,
            message: "mobile must be a 10-digit Indian number or +<country><number>".into(),
            field: Some("mobile".into()),
        },
        ServerMsg::Joined {
            re: 1,
            entry: ENTRY,
            reference: "PRJ-20261128-0007".into(),
            ticket: "t_4b8e1d".into(),
            desk: "ssp-prayagraj".into(),
        },
        ServerMsg::Queue {
            position: 3,
            waiting: 5,
            estimate_secs: Some(900),
            reachable_today: true,
            officers_on_duty: 2,
            window: window(),
        },
        ServerMsg::CarriedOver {
            reference: "PRJ-20261128-0007".into(),
            next_opens_at: Some("2026-11-29T06:30:00Z".into()),
            reason: CarryReason::WindowClosed,
        },
        ServerMsg::YouAreNext {},
        ServerMsg::CallStarted {
            entry: ENTRY,
            reference: "PRJ-20261128-0007".into(),
            peer_name: "SI Ravi Kumar".into(),
        },
        ServerMsg::CallEnded {
            entry: ENTRY,
            reference: "PRJ-20261128-0007".into(),
            by: "officer".into(),
        },
        ServerMsg::CallResumed {
            entry: ENTRY,
            reference: "PRJ-20261128-0007".into(),
            peer_name: "SI Ravi Kumar".into(),
        },
        ServerMsg::PeerLost { entry: ENTRY },
        ServerMsg::OfficerLost {},
        ServerMsg::Removed {
            reason: "grace_expired".into(),
        },
        ServerMsg::Message {
            text: "Hearings will continue until 09:00 today.".into(),
            at: "2026-11-28T07:10:00Z".into(),
        },
        ServerMsg::WindowClosing {
            closes_at: "2026-11-28T08:30:00Z".into(),
            policy: "carry_over".into(),
        },
        ServerMsg::Duty {
            state: DutyState::Ready,
        },
        ServerMsg::Offer {
            entry: ENTRY,
            reference: "PRJ-20261128-0007".into(),
            intake: IntakeView {
                name: "Asha Devi".into(),
                mobile: "+919876543210".into(),
                area: "Civil Lines".into(),
                category: "theft".into(),
                description: "My bicycle was stolen from outside the market.".into(),
                language: "hi".into(),
            },
            waited_secs: 840,
            expires_in_secs: 30,
        },
        ServerMsg::OfferWithdrawn {
            entry: ENTRY,
            reason: "timed_out".into(),
        },
        ServerMsg::Desk {
            snapshot: desk_snapshot(),
        },
        ServerMsg::Sdp {
            description: SessionDescription {
                sdp_type: SdpKind::Answer,
                sdp: SDP.into(),
            },
        },
        ServerMsg::Ice {
            candidate: candidate(),
        },
        ServerMsg::EndOfCandidates {},
        ServerMsg::PeerMedia {
            side: Role::Citizen,
            state: PeerMediaState::Reconnecting,
        },
        ServerMsg::Renegotiate {},
        ServerMsg::Video {
            side: Role::Officer,
            state: VideoState::Paused,
            link: Role::Citizen,
        },
        ServerMsg::Pong { re: 20 },
    ]
}
