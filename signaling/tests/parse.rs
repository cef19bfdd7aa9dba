//! Reading frames: error classification, request id recovery, forward compatibility
//! (unknown fields and enum values) and field defaults.

use sunwai_signaling::*;

fn client_err(text: &str) -> ParseError {
    parse_client(text).expect_err(text)
}

#[test]
fn not_json_is_malformed_without_re() {
    let e = client_err(r#"{"type":"ping","id":1"#);
    assert_eq!(e.code, ErrorCode::Malformed);
    assert_eq!(e.re, None);
    assert!(e.message.starts_with("not JSON"), "{}", e.message);
    assert_eq!(client_err("").code, ErrorCode::Malformed);
    assert_eq!(client_err("ping").code, ErrorCode::Malformed);
}

#[test]
fn non_objects_are_malformed() {
    for text in [
        r#"[{"type":"ping","id":1}]"#,
        "42",
        r#""ping""#,
        "null",
        "true",
    ] {
        let e = client_err(text);
        assert_eq!(e.code, ErrorCode::Malformed, "{text}");
        assert_eq!(e.re, None, "{text}");
    }
}

#[test]
fn missing_or_non_string_type_is_unknown_type_with_re() {
    let e = client_err(r#"{"id":7}"#);
    assert_eq!((e.code, e.re), (ErrorCode::UnknownType, Some(7)));
    let e = client_err(r#"{"type":3,"id":8}"#);
    assert_eq!((e.code, e.re), (ErrorCode::UnknownType, Some(8)));
    let e = client_err(r#"{"type":null}"#);
    assert_eq!((e.code, e.re), (ErrorCode::UnknownType, None));
}

#[test]
fn unknown_type_is_unknown_type_with_re() {
    let e = client_err(r#"{"type":"teleport","id":9}"#);
    assert_eq!((e.code, e.re), (ErrorCode::UnknownType, Some(9)));
    assert!(e.message.contains("teleport"));
    // Tags are case-sensitive, and server-only tags are not client tags.
    assert_eq!(
        client_err(r#"{"type":"Ping","id":1}"#).code,
        ErrorCode::UnknownType
    );
    assert_eq!(
        client_err(r#"{"type":"welcome"}"#).code,
        ErrorCode::UnknownType
    );
}

#[test]
fn hostile_unknown_type_is_not_echoed_in_full() {
    let tag = format!("{}\u{7}", "x".repeat(10_000));
    let e = client_err(&serde_json::json!({"type": tag}).to_string());
    assert_eq!(e.code, ErrorCode::UnknownType);
    assert!(e.message.len() < 100, "{}", e.message);
}

#[test]
fn known_type_with_bad_fields_is_malformed_with_serde_message_and_re() {
    let e = client_err(r#"{"type":"accept","id":11,"entry":"not-a-uuid"}"#);
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(11)));
    assert!(e.message.contains("accept"), "{}", e.message);

    let e = client_err(r#"{"type":"join","id":12,"desk":"d"}"#);
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(12)));
    assert!(e.message.contains("intake"), "{}", e.message);

    let e = client_err(r#"{"type":"open_window","id":13,"desk":"d","minutes":"ten"}"#);
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(13)));

    let e = client_err(r#"{"type":"open_window","id":14,"desk":"d","minutes":-5}"#);
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(14)));
}

#[test]
fn unreadable_id_gives_no_re() {
    for id in [r#""5""#, "-1", "1.5", "18446744073709551616", "null"] {
        let e = client_err(&format!(r#"{{"type":"ping","id":{id}}}"#));
        assert_eq!((e.code, e.re), (ErrorCode::Malformed, None), "id {id}");
    }
    // A missing id on a request is a bad field, too.
    assert_eq!(client_err(r#"{"type":"ping"}"#).code, ErrorCode::Malformed);
}

#[test]
fn too_large_is_refused_before_parsing() {
    let padding = "x".repeat(MAX_MESSAGE_BYTES);
    let text = format!(r#"{{"type":"ping","id":1,"pad":"{padding}"}}"#);
    let e = client_err(&text);
    assert_eq!((e.code, e.re), (ErrorCode::TooLarge, None));
    // Exactly at the limit is fine.
    let head = r#"{"type":"ping","id":1,"pad":""#;
    let fill = "x".repeat(MAX_MESSAGE_BYTES - head.len() - 2);
    let text = format!("{head}{fill}\"}}");
    assert_eq!(text.len(), MAX_MESSAGE_BYTES);
    assert_eq!(parse_client(&text).unwrap(), ClientMsg::Ping { id: 1 });
}

#[test]
fn deep_nesting_is_malformed_not_a_crash() {
    let text = format!(
        r#"{{"type":"ping","id":1,"x":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(client_err(&text).code, ErrorCode::Malformed);
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    let msg = parse_client(
        r#"{"type":"join","id":1,"desk":"d","future":true,
            "intake":{"name":"A","mobile":"9876543210","area":"X","category":"theft",
                      "consent":true,"photo":"later"}}"#,
    )
    .unwrap();
    let ClientMsg::Join { intake, .. } = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(intake.name, "A");

    assert_eq!(
        parse_client(r#"{"type":"end_of_candidates","sdp_mid":"0"}"#).unwrap(),
        ClientMsg::EndOfCandidates {}
    );
    assert_eq!(
        parse_server(r#"{"type":"you_are_next","officer":"x"}"#).unwrap(),
        ServerMsg::YouAreNext {}
    );
    assert_eq!(
        parse_server(r#"{"type":"pong","re":3,"server_time":"2026-11-28T06:30:00Z"}"#).unwrap(),
        ServerMsg::Pong { re: 3 }
    );
}

#[test]
fn intake_and_outcome_defaults() {
    let msg = parse_client(
        r#"{"type":"join","id":1,"desk":"d",
            "intake":{"name":"A","mobile":"m","area":"X","category":"c","consent":false}}"#,
    )
    .unwrap();
    let ClientMsg::Join { intake, .. } = msg else {
        panic!()
    };
    assert_eq!(intake.description, "");
    assert_eq!(intake.language, "hi");
    assert!(!intake.consent);

    // consent has no default: it must be given explicitly.
    let e = client_err(
        r#"{"type":"join","id":2,"desk":"d",
            "intake":{"name":"A","mobile":"m","area":"X","category":"c"}}"#,
    );
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(2)));

    let msg = parse_client(
        r#"{"type":"save_outcome","id":3,"entry":"6f1c2a7e-9b3d-4c58-8e21-0a4f7d93b612","outcome":{}}"#,
    )
    .unwrap();
    let ClientMsg::SaveOutcome { outcome, .. } = msg else {
        panic!()
    };
    assert_eq!(outcome, OutcomeMsg::default());
}

#[test]
fn optional_fields_may_be_absent_or_null() {
    let absent = parse_client(r#"{"type":"hello","v":1}"#).unwrap();
    let null =
        parse_client(r#"{"type":"hello","v":1,"session":null,"ticket":null,"lang":null}"#).unwrap();
    let expected = ClientMsg::Hello {
        v: 1,
        session: None,
        ticket: None,
        lang: None,
    };
    assert_eq!(absent, expected);
    assert_eq!(null, expected);

    let msg = parse_client(r#"{"type":"ice","candidate":{"candidate":""}}"#).unwrap();
    assert_eq!(
        msg,
        ClientMsg::Ice {
            candidate: IceCandidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_mline_index: None,
                username_fragment: None,
            }
        }
    );

    let msg = parse_server(r#"{"type":"error","code":"internal","message":"oops"}"#).unwrap();
    assert_eq!(msg, ServerMsg::error(None, ErrorCode::Internal, "oops"));
}

#[test]
fn none_is_written_as_null() {
    let text = serde_json::to_string(&ServerMsg::Queue {
        position: 1,
        waiting: 1,
        estimate_secs: None,
        reachable_today: false,
        officers_on_duty: 0,
        window: WindowInfo::default(),
    })
    .unwrap();
    assert!(text.contains(r#""estimate_secs":null"#), "{text}");
}

#[test]
fn unknown_enum_values_from_a_newer_server_are_readable() {
    let msg = parse_server(r#"{"type":"error","re":4,"code":"shiny_new","message":"m"}"#).unwrap();
    assert_eq!(msg.reply_to(), Some(4));
    assert!(matches!(
        msg,
        ServerMsg::Error {
            code: ErrorCode::Unknown,
            ..
        }
    ));
    assert_eq!(
        parse_server(r#"{"type":"duty","state":"on_break"}"#).unwrap(),
        ServerMsg::Duty {
            state: DutyState::Unknown
        }
    );
    let msg =
        parse_server(r#"{"type":"carried_over","reference":"R","reason":"holiday"}"#).unwrap();
    assert!(matches!(
        msg,
        ServerMsg::CarriedOver {
            reason: CarryReason::Unknown,
            next_opens_at: None,
            ..
        }
    ));
}

#[test]
fn sdp_kind_is_closed() {
    let e = client_err(r#"{"type":"sdp","id":5,"description":{"sdp_type":"other","sdp":""}}"#);
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(5)));
    for kind in ["offer", "answer", "pranswer", "rollback"] {
        let text =
            format!(r#"{{"type":"sdp","id":5,"description":{{"sdp_type":"{kind}","sdp":""}}}}"#);
        parse_client(&text).unwrap();
    }
}

#[test]
fn error_codes_have_stable_names() {
    let all = [
        (ErrorCode::Malformed, "malformed"),
        (ErrorCode::UnknownType, "unknown_type"),
        (ErrorCode::TooLarge, "too_large"),
        (ErrorCode::UnsupportedVersion, "unsupported_version"),
        (ErrorCode::HelloRequired, "hello_required"),
        (ErrorCode::NotAllowed, "not_allowed"),
        (ErrorCode::OutOfOrder, "out_of_order"),
        (ErrorCode::InvalidInput, "invalid_input"),
        (ErrorCode::UnknownDesk, "unknown_desk"),
        (ErrorCode::WindowClosed, "window_closed"),
        (ErrorCode::QueueFull, "queue_full"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::Unavailable, "unavailable"),
        (ErrorCode::ShuttingDown, "shutting_down"),
        (ErrorCode::Internal, "internal"),
    ];
    for (code, name) in all {
        assert_eq!(code.as_str(), name);
        assert_eq!(serde_json::to_value(code).unwrap(), name);
        assert_eq!(
            serde_json::from_value::<ErrorCode>(name.into()).unwrap(),
            code
        );
    }
}

#[test]
fn parse_error_becomes_an_error_reply() {
    let e = client_err(r#"{"type":"nope","id":21}"#);
    let reply = e.to_reply();
    assert_eq!(reply.reply_to(), Some(21));
    let v = serde_json::to_value(&reply).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["code"], "unknown_type");
}

#[test]
fn parse_server_classifies_like_parse_client() {
    let e = parse_server(r#"{"type":"joined","re":2}"#).unwrap_err();
    assert_eq!((e.code, e.re), (ErrorCode::Malformed, Some(2)));
    let e = parse_server(r#"{"type":"hyperdrive","re":3}"#).unwrap_err();
    assert_eq!((e.code, e.re), (ErrorCode::UnknownType, Some(3)));
    assert_eq!(parse_server("[]").unwrap_err().code, ErrorCode::Malformed);
    // Client-only tags are not server tags.
    assert_eq!(
        parse_server(r#"{"type":"join"}"#).unwrap_err().code,
        ErrorCode::UnknownType
    );
}
