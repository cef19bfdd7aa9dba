//! The REST API: public desk information, written complaints, the citizen's status check,
//! staff sign-in, and the records browser and export.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sunwai_signaling::IntakeMsg;

use super::citizen::intake_from_wire;
use super::error::{ApiError, Body, Params};
use super::{session_cookie, translate, SESSION_COOKIE};
use crate::app::App;
use crate::auth;
use crate::core::ids::{DeskId, EntryId};
use crate::core::intake::Mobile;
use crate::store::{
    Actor, AuditAction, AuditActor, AuditEntry, AuditFilter, Channel, Complaint, Disposition,
    Filter, NewAudit, NewComplaint, Role, Status, User, BYTE_ORDER_MARK,
};

/// How long a staff session lasts.
const SESSION_LENGTH: SignedDuration = SignedDuration::from_hours(12);

/// The client's address: the connection's peer, or what a trusted proxy says it is
/// (see [`super::limits::client_ip`]).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    App: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = <App as axum::extract::FromRef<S>>::from_ref(state);
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| ApiError::Internal("no peer address".into()))?;
        Ok(ClientIp(super::limits::client_ip(
            peer,
            &parts.headers,
            app.config(),
        )))
    }
}

/// Writes an audit entry; a request whose access cannot be audited fails rather than
/// happening untraced.
async fn audit(app: &App, entry: NewAudit) -> Result<(), ApiError> {
    app.store()
        .audit(entry)
        .await
        .map_err(|e| ApiError::Internal(format!("audit log: {e}")))
}

fn staff_actor(u: &User) -> AuditActor {
    AuditActor::user(u.id, &u.username)
}

/// `; Secure` when browsers reach the server over HTTPS: TLS served here, or every
/// configured public origin is https (behind a TLS-terminating proxy).
fn cookie_secure(app: &App) -> &'static str {
    let origins = app.origins();
    let https = app.config().tls.is_some()
        || (!origins.is_empty() && origins.iter().all(|o| o.starts_with("https://")));
    if https {
        "; Secure"
    } else {
        ""
    }
}

#[derive(Serialize)]
pub struct DeskOut {
    id: String,
    name: String,
    /// The desk's IANA time zone, for showing its hearing times in local time.
    time_zone: String,
    window: sunwai_signaling::WindowInfo,
    waiting: u32,
    officers_on_duty: u32,
    /// With several nodes: the node serving the desk (`null` while it is being taken over).
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<Option<String>>,
}

/// Every configured desk. In a cluster, a desk another node serves shows that node's counts
/// as of its last lease renewal (a few seconds old at most) and the configured schedule's
/// window.
pub async fn desks(State(app): State<App>) -> Json<Vec<DeskOut>> {
    let now = app.clock().now();
    Json(
        app.config()
            .desks
            .iter()
            .map(|d| {
                let (s, node) = match (app.desk(d.id.as_str()), app.cluster()) {
                    (Some(h), None) => (h.status(), None),
                    (Some(h), Some(c)) => (h.status(), Some(Some(c.node().id.clone()))),
                    (None, cluster) => {
                        let mut s = crate::desk::scheduled_status(d, now);
                        let live = cluster
                            .and_then(|c| c.last_lease(&d.id))
                            .filter(|l| l.until > jiff::Timestamp::now());
                        if let Some(l) = &live {
                            s.waiting = l.counts.waiting;
                            s.in_call = l.counts.in_call;
                            s.officers_on_duty = l.counts.officers_on_duty;
                        }
                        (s, Some(live.map(|l| l.node)))
                    }
                };
                DeskOut {
                    id: d.id.to_string(),
                    name: d.name.clone(),
                    time_zone: d
                        .schedule
                        .time_zone()
                        .iana_name()
                        .unwrap_or("UTC")
                        .to_owned(),
                    window: translate::desk_window_info(&s),
                    waiting: s.waiting,
                    officers_on_duty: s.officers_on_duty,
                    node,
                }
            })
            .collect(),
    )
}

#[derive(Serialize)]
pub struct CatalogOut<'a> {
    categories: &'a [crate::config::Labelled],
    stations: &'a [crate::config::Labelled],
}

pub async fn catalog(State(app): State<App>) -> Response {
    let c = app.config();
    Json(CatalogOut {
        categories: &c.categories,
        stations: &c.stations,
    })
    .into_response()
}

#[derive(Serialize)]
pub struct CreatedOut {
    reference: String,
}

/// A written complaint (the path for when no hearing is open): becomes a record at once.
pub async fn written_complaint(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    Path(desk): Path<String>,
    Body(intake): Body<IntakeMsg>,
) -> Result<(StatusCode, Json<CreatedOut>), ApiError> {
    // Any node takes a written complaint: it needs the desk's settings, not its room.
    let desk = app.desk_config(&desk).ok_or(ApiError::NotFound)?;
    app.limits().written_complaint(ip)?;
    let intake = intake_from_wire(&intake, app.category_keys())
        .map_err(|e| ApiError::BadRequest(e.to_string(), Some(e.field())))?;
    if intake.description.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "a written complaint needs a description".into(),
            Some("description"),
        ));
    }
    let new = NewComplaint {
        id: EntryId::new_random(),
        desk: desk.id.clone(),
        prefix: desk.prefix.clone(),
        tz: desk.schedule.time_zone().clone(),
        channel: Channel::Written,
        intake,
        created_at: app.clock().now(),
        ticket_hash: None,
    };
    let reference = app.store().create_complaint(new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOut {
            reference: reference.to_string(),
        }),
    ))
}

#[derive(Deserialize)]
pub struct StatusQuery {
    reference: String,
    mobile: String,
}

/// The citizen's status check: needs both the reference and the mobile number it was filed
/// with. A POST, so neither ends up in logs or browser history as part of a URL.
pub async fn status_lookup(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    Body(q): Body<StatusQuery>,
) -> Result<Response, ApiError> {
    app.limits().status_lookup(ip)?;
    let mobile = Mobile::parse(&q.mobile)
        .map_err(|e| ApiError::BadRequest(e.to_string(), Some("mobile")))?;
    let reference = q.reference.trim().to_ascii_uppercase();
    match app.store().status_lookup(&reference, &mobile).await? {
        Some(view) => Ok(Json(view).into_response()),
        // The same answer whether the reference is unknown or the mobile is wrong.
        None => Err(ApiError::NotFound),
    }
}

#[derive(Deserialize)]
pub struct LoginIn {
    username: String,
    password: String,
}

#[derive(Serialize)]
pub struct MeOut {
    id: String,
    username: String,
    name: String,
    role: &'static str,
    desk: Option<String>,
}

impl From<&User> for MeOut {
    fn from(u: &User) -> Self {
        MeOut {
            id: u.id.to_string(),
            username: u.username.clone(),
            name: u.display_name.clone(),
            role: u.role.as_str(),
            desk: u.desk.as_ref().map(|d| d.to_string()),
        }
    }
}

#[derive(Serialize)]
pub struct LoginOut {
    #[serde(flatten)]
    me: MeOut,
    /// For non-browser clients (the hello's `session`); browsers use the cookie.
    token: String,
}

/// A typed username as the audit log keeps it: at most 64 characters, no control
/// characters.
fn attempted_name(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect()
}

pub async fn login(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    Body(body): Body<LoginIn>,
) -> Result<Response, ApiError> {
    // Counted before the password is checked, so guessing is throttled whatever the outcome.
    // Refused attempts are not audited: they cost nothing, and a flood of them must not
    // become a flood of writes.
    app.limits().login(ip, body.username.trim())?;
    let found = app.store().user_by_name(body.username.trim()).await?;
    // The password is checked against a hash whatever the account's state, so an unknown
    // or disabled account answers as slowly as a wrong password and its existence does not
    // show in the timing.
    let usable = found.as_ref().filter(|u| !u.user.disabled);
    let phc = usable.map(|u| u.password_phc.clone());
    let password = body.password.clone();
    // Hashing takes tens of milliseconds of CPU: keep it off the async workers.
    let verified = tokio::task::spawn_blocking(move || {
        auth::verify_password(
            &password,
            phc.as_deref().unwrap_or_else(|| auth::decoy_phc()),
        )
    })
    .await
    .unwrap_or(false);
    let (ok, failure) = match &found {
        Some(u) if !u.user.disabled => (verified, "wrong_password"),
        Some(_) => (false, "account_disabled"),
        None => (false, "unknown_account"),
    };
    let now = app.clock().now();
    let Some(user) = found.as_ref().filter(|_| ok).map(|u| u.user.clone()) else {
        let actor = match &found {
            Some(u) => staff_actor(&u.user),
            None => AuditActor::Anonymous,
        };
        let entry = NewAudit::new(now, actor, AuditAction::SignInFailed)
            .address(ip)
            .detail(serde_json::json!({
                "username": attempted_name(&body.username),
                "reason": failure,
            }));
        if let Err(e) = app.store().audit(entry).await {
            tracing::error!(error = %e, "could not audit a failed sign-in");
        }
        return Err(ApiError::Unauthenticated);
    };
    audit(
        &app,
        NewAudit::new(now, staff_actor(&user), AuditAction::SignIn).address(ip),
    )
    .await?;
    let (token, hash) = auth::new_secret_token();
    let expires = now + SESSION_LENGTH;
    app.store().create_session(&hash, user.id, expires).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_LENGTH.as_secs(),
        cookie_secure(&app)
    );
    let out = LoginOut {
        me: MeOut::from(&user),
        token,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(out)).into_response())
}

pub async fn logout(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = bearer_or_cookie(&headers) {
        let hash = auth::hash_token(&token);
        let now = app.clock().now();
        if let Some(user) = app.store().session_user(&hash, now).await? {
            let entry = NewAudit::new(now, staff_actor(&user), AuditAction::SignOut).address(ip);
            if let Err(e) = app.store().audit(entry).await {
                tracing::error!(error = %e, "could not audit a sign-out");
            }
        }
        app.store().delete_session(&hash).await?;
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        cookie_secure(&app)
    );
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

fn bearer_or_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| session_cookie(headers))
}

/// A signed-in officer or supervisor.
pub struct Staff(pub User);

impl FromRequestParts<App> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = bearer_or_cookie(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let user = app
            .store()
            .session_user(&auth::hash_token(&token), app.clock().now())
            .await?;
        user.map(Staff).ok_or(ApiError::Unauthenticated)
    }
}

pub async fn me(Staff(user): Staff) -> Json<MeOut> {
    Json(MeOut::from(&user))
}

#[derive(Deserialize, Default)]
pub struct RecordsQuery {
    desk: Option<String>,
    status: Option<String>,
    disposition: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
    /// CSV only: `true` leaves out the byte-order mark that Excel needs to read UTF-8.
    plain: Option<bool>,
}

/// Builds a store filter, confining staff with a desk to that desk.
fn filter(user: &User, q: RecordsQuery) -> Result<Filter, ApiError> {
    let bad = |m: &str, f: &'static str| ApiError::BadRequest(m.to_owned(), Some(f));
    let desk = match (q.desk.filter(|d| !d.is_empty()), &user.desk) {
        (Some(d), own) => {
            let d = DeskId::parse(&d).map_err(|_| bad("unknown desk", "desk"))?;
            if own.as_ref().is_some_and(|o| *o != d) {
                return Err(ApiError::Forbidden);
            }
            Some(d)
        }
        (None, own) => own.clone(),
    };
    let time = |s: Option<String>, f: &'static str| -> Result<Option<Timestamp>, ApiError> {
        s.filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Timestamp>()
                    .map_err(|_| bad("use an RFC 3339 time such as 2026-11-28T06:30:00Z", f))
            })
            .transpose()
    };
    Ok(Filter {
        desk,
        status: q
            .status
            .filter(|s| !s.is_empty())
            .map(|s| Status::parse(&s).ok_or(bad("unknown status", "status")))
            .transpose()?,
        disposition: q
            .disposition
            .filter(|s| !s.is_empty())
            .map(|s| Disposition::parse(&s).ok_or(bad("unknown disposition", "disposition")))
            .transpose()?,
        since: time(q.since, "since")?,
        until: time(q.until, "until")?,
        text: q.q.filter(|s| !s.trim().is_empty()),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0),
    })
}

pub async fn records(
    State(app): State<App>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    Params(q): Params<RecordsQuery>,
) -> Result<Json<Vec<Complaint>>, ApiError> {
    let f = filter(&user, q)?;
    let found = app.store().list(&f).await?;
    let detail = serde_json::json!({"filter": f.audit_detail(), "returned": found.len()});
    let entry = NewAudit::new(
        app.clock().now(),
        staff_actor(&user),
        AuditAction::RecordList,
    )
    .address(ip)
    .detail(detail);
    audit(&app, entry).await?;
    Ok(Json(found))
}

pub async fn records_csv(
    State(app): State<App>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    Params(q): Params<RecordsQuery>,
) -> Result<Response, ApiError> {
    if user.role != Role::Supervisor {
        return Err(ApiError::Forbidden);
    }
    let plain = q.plain.unwrap_or(false);
    let mut f = filter(&user, q)?;
    f.limit = u32::MAX;
    let tz = f
        .desk
        .as_ref()
        .and_then(|d| app.desk_config(d.as_str()))
        .map(|d| d.schedule.time_zone().clone())
        .unwrap_or_else(|| {
            jiff::tz::TimeZone::get("Asia/Kolkata").unwrap_or(jiff::tz::TimeZone::UTC)
        });
    let mut buf = Vec::new();
    if !plain {
        buf.extend_from_slice(BYTE_ORDER_MARK);
    }
    let rows = app.store().export_csv(&f, &tz, &mut buf).await?;
    let detail = serde_json::json!({"via": "rest", "filter": f.audit_detail(), "rows": rows});
    let entry = NewAudit::new(
        app.clock().now(),
        staff_actor(&user),
        AuditAction::RecordExport,
    )
    .address(ip)
    .detail(detail);
    audit(&app, entry).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sunwai-records.csv\"",
            ),
        ],
        buf,
    )
        .into_response())
}

async fn visible_record(app: &App, user: &User, reference: &str) -> Result<Complaint, ApiError> {
    let c = app
        .store()
        .get_by_reference(&reference.to_ascii_uppercase())
        .await?
        .ok_or(ApiError::NotFound)?;
    if user.desk.as_ref().is_some_and(|d| *d != c.desk) {
        return Err(ApiError::NotFound);
    }
    Ok(c)
}

pub async fn record(
    State(app): State<App>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    Path(reference): Path<String>,
) -> Result<Json<Complaint>, ApiError> {
    let c = visible_record(&app, &user, &reference).await?;
    let entry = NewAudit::new(
        app.clock().now(),
        staff_actor(&user),
        AuditAction::RecordView,
    )
    .record(c.id, c.reference.as_str())
    .address(ip);
    audit(&app, entry).await?;
    Ok(Json(c))
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    record: Option<String>,
    action: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// The audit log, newest first: supervisors only. Reading it is itself audited.
pub async fn audit_log(
    State(app): State<App>,
    Staff(user): Staff,
    ClientIp(ip): ClientIp,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    if user.role != Role::Supervisor {
        return Err(ApiError::Forbidden);
    }
    let bad = |m: &str, f: &'static str| ApiError::BadRequest(m.to_owned(), Some(f));
    let time = |s: Option<String>, f: &'static str| -> Result<Option<Timestamp>, ApiError> {
        s.filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Timestamp>()
                    .map_err(|_| bad("use an RFC 3339 time such as 2026-11-28T06:30:00Z", f))
            })
            .transpose()
    };
    let text = |s: Option<String>, f: &'static str| -> Result<Option<String>, ApiError> {
        match s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
            Some(s) if s.chars().count() > 100 => Err(bad("at most 100 characters", f)),
            other => Ok(other),
        }
    };
    let f = AuditFilter {
        since: time(q.since, "since")?,
        until: time(q.until, "until")?,
        actor: text(q.actor, "actor")?,
        record: text(q.record, "record")?,
        action: q
            .action
            .filter(|s| !s.is_empty())
            .map(|s| AuditAction::parse(&s).ok_or(bad("unknown action", "action")))
            .transpose()?,
        // A supervisor bound to one desk reads only what concerns that desk.
        desk: user.desk.clone(),
        limit: q.limit.unwrap_or(100).clamp(1, AuditFilter::MAX_LIMIT),
        offset: q.offset.unwrap_or(0),
    };
    let entries = app.store().audit_log(&f).await?;
    let entry = NewAudit::new(
        app.clock().now(),
        staff_actor(&user),
        AuditAction::AuditView,
    )
    .address(ip)
    .detail(serde_json::json!({"filter": f.audit_detail(), "returned": entries.len()}));
    audit(&app, entry).await?;
    Ok(Json(entries))
}

#[derive(Deserialize)]
pub struct StatusIn {
    status: String,
    #[serde(default)]
    note: String,
}

pub async fn set_status(
    State(app): State<App>,
    Staff(user): Staff,
    Path(reference): Path<String>,
    Body(body): Body<StatusIn>,
) -> Result<Json<Complaint>, ApiError> {
    let c = visible_record(&app, &user, &reference).await?;
    let status = Status::parse(&body.status).ok_or(ApiError::BadRequest(
        "unknown status".into(),
        Some("status"),
    ))?;
    if body.note.chars().count() > 2000 {
        return Err(ApiError::BadRequest(
            "the note is limited to 2000 characters".into(),
            Some("note"),
        ));
    }
    let actor = Actor::User {
        id: user.id,
        name: user.display_name.clone(),
    };
    app.store()
        .set_status(c.id, status, &actor, body.note.trim(), app.clock().now())
        .await?;
    let updated = app.store().get(c.id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(updated))
}

/// The SFU's counters, for supervisors and operators: peers and calls now, packets in and
/// forwarded, drops, keyframe requests, refused sources.
#[derive(Serialize, Default)]
pub struct MediaOut {
    pub enabled: bool,
    pub sockets: Vec<String>,
    pub peers: u64,
    pub calls: u64,
    pub peers_created: u64,
    pub peers_removed: u64,
    pub rtp_in: u64,
    pub rtp_forwarded: u64,
    pub rtp_before_call: u64,
    pub rtp_held_for_keyframe: u64,
    pub send_dropped: u64,
    pub write_errors: u64,
    pub extensions_refused: u64,
    pub keyframe_requests_in: u64,
    pub keyframe_requests_out: u64,
    /// Keyframe requests from receivers not passed on (at most one a second per stream).
    pub keyframe_requests_throttled: u64,
    pub refused_sources: u64,
    pub refused_candidates: u64,
    /// Datagrams dropped because they named no peer (a connectivity check with an unknown
    /// ICE username) or came from an address no peer has validated.
    pub unknown_ufrag: u64,
    pub unknown_source: u64,
    /// Answers to the server's own connectivity checks routed by the address that sent
    /// the check's trigger (Firefox's aggressive nomination).
    pub check_replies_routed: u64,
    /// Legs that failed after connecting (ICE or DTLS lost, consent expired).
    pub legs_failed: u64,
    pub legs_stalled: u64,
    pub rtp_codec_unshared: u64,
    pub codec_renegotiations: u64,
    /// Receiver estimates (REMB) sent to publishers: what the other side's link carries.
    pub rembs_out: u64,
    /// Times a direction's video paused for a weak link and resumed, and the video
    /// packets not forwarded meanwhile.
    pub video_pauses: u64,
    pub video_resumes: u64,
    pub video_paused_dropped: u64,
    /// Audio packets sent with redundancy (RED) to legs whose downlink loses audio, and
    /// RED packets refused as malformed.
    pub audio_redundant_out: u64,
    pub audio_red_malformed: u64,
    pub setup_timeouts: u64,
    pub renegotiations: u64,
    pub ice_restarts: u64,
    pub worker_cpu_seconds: f64,
    /// Receive to send inside the server per forwarded packet, since start: p50 and p99
    /// (bucket upper bounds, µs) and the non-empty buckets.
    pub forward_latency_p50_us: Option<u64>,
    pub forward_latency_p99_us: Option<u64>,
    pub forward_latency_us: Vec<crate::sfu::latency::Bucket>,
}

pub async fn media_stats(
    State(app): State<App>,
    Staff(user): Staff,
) -> Result<Json<MediaOut>, ApiError> {
    if user.role != Role::Supervisor {
        return Err(ApiError::Forbidden);
    }
    let Some(sfu) = app.media() else {
        return Ok(Json(MediaOut::default()));
    };
    let s = sfu.stats().await;
    Ok(Json(MediaOut {
        enabled: true,
        sockets: sfu.addrs().iter().map(|a| a.to_string()).collect(),
        peers: s.peers,
        calls: s.calls,
        peers_created: s.peers_created,
        peers_removed: s.peers_removed,
        rtp_in: s.rtp_in,
        rtp_forwarded: s.rtp_out,
        rtp_before_call: s.rtp_before_call,
        rtp_held_for_keyframe: s.rtp_held_for_keyframe,
        send_dropped: s.send_dropped,
        write_errors: s.rtp_write_errors,
        extensions_refused: s.extensions_refused,
        keyframe_requests_in: s.keyframe_requests_in,
        keyframe_requests_out: s.keyframe_requests_out,
        keyframe_requests_throttled: s.keyframe_requests_throttled,
        refused_sources: s.sources_refused,
        refused_candidates: s.candidates_refused,
        unknown_ufrag: s.unknown_ufrag,
        unknown_source: s.unknown_source,
        check_replies_routed: s.check_replies_routed,
        legs_failed: s.legs_failed,
        legs_stalled: s.legs_stalled,
        rtp_codec_unshared: s.rtp_codec_unshared,
        codec_renegotiations: s.codec_renegotiations,
        rembs_out: s.rembs_out,
        video_pauses: s.video_pauses,
        video_resumes: s.video_resumes,
        video_paused_dropped: s.video_paused_dropped,
        audio_redundant_out: s.audio_redundant_out,
        audio_red_malformed: s.audio_red_malformed,
        setup_timeouts: s.setup_timeouts,
        renegotiations: s.renegotiations,
        ice_restarts: s.ice_restarts,
        worker_cpu_seconds: s.cpu_ns as f64 / 1e9,
        forward_latency_p50_us: s.forward_latency.quantile_us(0.5),
        forward_latency_p99_us: s.forward_latency.quantile_us(0.99),
        forward_latency_us: s.forward_latency.buckets(),
    }))
}
