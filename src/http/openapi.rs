//! The REST API described as an OpenAPI 3.1 document (`GET /api/openapi.json`,
//! `sunwai openapi`), made from [`API`]: one entry per route of `http::router`, with who may
//! call it, its parameters, its request body's schema and its answers. A test checks the
//! router's `/api` routes against this table in both directions, so a route added without
//! its entry fails the suite. The WebSocket protocol is in docs/protocol.md.

use serde_json::{json, Value};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Anyone,
    /// A signed-in officer or supervisor (session cookie or `Authorization: Bearer`).
    Staff,
    Supervisor,
}

/// One route of the REST API.
pub struct Api {
    pub method: &'static str,
    /// With `{name}` for path parameters, as the router writes it.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// Query parameters, in groups: (name, description).
    pub query: &'static [&'static [(&'static str, &'static str)]],
    /// The JSON request body's schema.
    pub body: Option<fn() -> Value>,
    /// The success status, its content type and what it holds.
    pub ok: (u16, &'static str, &'static str),
}

const JSON: &str = "application/json";

const RECORD_FILTERS: &[(&str, &str)] = &[
    ("desk", "only this desk (staff of one desk see only theirs)"),
    (
        "status",
        "received, forwarded, under_investigation or resolved",
    ),
    (
        "disposition",
        "waiting, in_call, completed, abandoned, carried_over, written",
    ),
    ("since", "created at or after (RFC 3339)"),
    ("until", "created before (RFC 3339)"),
    ("q", "text: reference, name or mobile"),
];
const PAGING: &[(&str, &str)] = &[
    ("limit", "at most this many (1-1000, default 100)"),
    ("offset", "skip this many"),
];

/// Every REST route, in the order of `http::router`.
pub const API: &[Api] = &[
    Api { method: "get", path: "/api/desks", summary: "The desks: id, name, time zone, today's window", access: Access::Anyone, query: &[], body: None, ok: (200, JSON, "a list of desks") },
    Api { method: "get", path: "/api/catalog", summary: "Complaint types and police stations, each with its Hindi and English name", access: Access::Anyone, query: &[], body: None, ok: (200, JSON, "categories and stations") },
    Api { method: "post", path: "/api/desks/{desk}/complaints", summary: "File a written complaint (when no hearing is open); rate-limited per address", access: Access::Anyone, query: &[], body: Some(intake_schema), ok: (201, JSON, "the new record's reference") },
    Api { method: "get", path: "/api/desks/{desk}/today", summary: "Today's arrivals and waits, per five minutes, for the supervisor's chart", access: Access::Supervisor, query: &[], body: None, ok: (200, JSON, "the chart's buckets") },
    Api { method: "get", path: "/api/desks/{desk}/forecast", summary: "The forecast of the rest of today's window, and what it assumed", access: Access::Supervisor, query: &[], body: None, ok: (200, JSON, "the forecast") },
    Api { method: "post", path: "/api/status", summary: "A citizen's status check by reference and the mobile number it was filed with; rate-limited", access: Access::Anyone, query: &[], body: Some(status_lookup_schema), ok: (200, JSON, "status, station and history; 404 for a wrong reference or mobile alike") },
    Api { method: "post", path: "/api/login", summary: "Sign in: sets the session cookie and returns a bearer token; rate-limited per address and account", access: Access::Anyone, query: &[], body: Some(login_schema), ok: (200, JSON, "the session token and who signed in") },
    Api { method: "post", path: "/api/logout", summary: "Sign out: the session ends on the server", access: Access::Staff, query: &[], body: None, ok: (204, "", "signed out") },
    Api { method: "get", path: "/api/me", summary: "Who is signed in", access: Access::Staff, query: &[], body: None, ok: (200, JSON, "id, username, name, role, desk") },
    Api { method: "get", path: "/api/records", summary: "Complaint records, newest first, filtered; each read is audited", access: Access::Staff, query: &[RECORD_FILTERS, PAGING], body: None, ok: (200, JSON, "a list of records") },
    Api { method: "get", path: "/api/records.csv", summary: "Every matching record as CSV (UTF-8 with a byte-order mark for Excel; plain=true without); audited", access: Access::Supervisor, query: &[RECORD_FILTERS, &[("plain", "true: without the byte-order mark")]], body: None, ok: (200, "text/csv", "the records") },
    Api { method: "get", path: "/api/records/{reference}", summary: "One record with its full history", access: Access::Staff, query: &[], body: None, ok: (200, JSON, "the record") },
    Api { method: "post", path: "/api/records/{reference}/status", summary: "Change a record's status with a note (in its history and the audit log)", access: Access::Staff, query: &[], body: Some(set_status_schema), ok: (200, JSON, "the record after the change") },
    Api { method: "get", path: "/api/audit", summary: "The audit log, newest first; reading it is audited", access: Access::Supervisor, query: &[&[("since", "at or after (RFC 3339)"), ("until", "before (RFC 3339)"), ("actor", "who"), ("record", "a record's reference"), ("action", "what was done")], PAGING], body: None, ok: (200, JSON, "audit entries") },
    Api { method: "get", path: "/api/media", summary: "The SFU's counters and latency histogram", access: Access::Supervisor, query: &[], body: None, ok: (200, JSON, "media statistics") },
    Api { method: "get", path: "/api/openapi.json", summary: "This document", access: Access::Anyone, query: &[], body: None, ok: (200, JSON, "the OpenAPI document") },
];

fn intake_schema() -> Value {
    json!({
        "type": "object",
        "required": ["name", "mobile", "area", "category", "consent"],
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "mobile": {"type": "string", "description": "an Indian mobile number; +91, spaces and Devanagari digits are fine"},
            "area": {"type": "string", "description": "the police-station area"},
            "category": {"type": "string", "description": "a key of /api/catalog's categories"},
            "description": {"type": "string", "maxLength": 1000, "description": "needed for a written complaint"},
            "language": {"type": "string", "enum": ["hi", "en"]},
            "consent": {"type": "boolean", "const": true}
        }
    })
}

fn status_lookup_schema() -> Value {
    json!({
        "type": "object",
        "required": ["reference", "mobile"],
        "properties": {
            "reference": {"type": "string", "examples": ["PRY-2026-000001"]},
            "mobile": {"type": "string"}
        }
    })
}

fn login_schema() -> Value {
    json!({
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}}
    })
}

fn set_status_schema() -> Value {
    json!({
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["received", "forwarded", "under_investigation", "resolved"]},
            "note": {"type": "string"}
        }
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for api in API {
        let mut params: Vec<Value> = api
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(api.query.iter().copied().flatten().map(|(name, what)| {
            json!({"name": name, "in": "query", "required": false, "description": what, "schema": {"type": "string"}})
        }));
        let (status, content_type, what) = api.ok;
        let mut ok = json!({"description": what});
        if !content_type.is_empty() {
            ok["content"] = json!({ content_type: {} });
        }
        let mut responses = json!({ status.to_string(): ok });
        let errors: &[(&str, &str)] = match api.access {
            Access::Anyone => &[
                ("400", "bad input: {\"error\", \"field\"}"),
                ("429", "too many requests"),
            ],
            Access::Staff => &[
                ("400", "bad input"),
                ("401", "not signed in"),
                ("403", "not allowed"),
            ],
            Access::Supervisor => &[
                ("401", "not signed in"),
                ("403", "not a supervisor (or another desk's)"),
            ],
        };
        for (code, what) in errors {
            responses[*code] = json!({"description": what});
        }
        let mut op = json!({
            "summary": api.summary,
            "operationId": format!("{}{}", api.method, api.path.replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if api.access != Access::Anyone {
            op["security"] = json!([{"session": []}, {"bearer": []}]);
        }
        if let Some(schema) = api.body {
            op["requestBody"] = json!({"required": true, "content": {JSON: {"schema": schema()}}});
        }
        let item = paths
            .entry(api.path.to_owned())
            .or_insert_with(|| json!({}));
        item[api.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sunwai REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST side of sunwai. Live hearings (the waiting room, calls, the supervisor's board) run over the WebSocket at /ws: see docs/protocol.md."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": super::SESSION_COOKIE},
                "bearer": {"type": "http", "scheme": "bearer"}
            }
        }
    })
}

/// `GET /api/openapi.json`.
pub async fn serve() -> axum::Json<Value> {
    axum::Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_an_operation_with_its_path_parameters() {
        let doc = document();
        for api in API {
            let op = &doc["paths"][api.path][api.method];
            assert!(op.is_object(), "{} {}", api.method, api.path);
            let in_path = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .count();
            assert_eq!(in_path, api.path.matches('{').count(), "{}", api.path);
        }
    }
}
