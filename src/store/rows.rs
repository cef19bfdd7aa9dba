//! Rows as the database returns them, and their checked conversion into the model.
//!
//! Every backend reads rows into these primitive structs (with the `*_from_row!` macros,
//! which work for any sqlx row type because they are only syntax), and from there on one
//! conversion serves all backends. A value the model cannot represent is
//! `StoreError::Corrupt`, never a panic: the database is outside data too.

use jiff::Timestamp;
use uuid::Uuid;

use super::audit::*;
use super::model::*;
use super::said::Said;
use super::StoreError;
use crate::core::ids::{DeskId, EntryId, UserId};
use crate::core::intake::{Intake, Language, Mobile};

pub(super) struct RawComplaint {
    pub id: String,
    pub reference: String,
    pub desk: String,
    pub channel: String,
    pub name: String,
    pub mobile: String,
    pub area: String,
    pub category: String,
    pub description: String,
    pub language: String,
    pub created_at: i64,
    pub offered_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub wait_secs: Option<i64>,
    pub talk_secs: Option<i64>,
    pub officer_id: Option<String>,
    pub officer_name: Option<String>,
    pub disposition: String,
    pub outcome_category: Option<String>,
    pub outcome_station: Option<String>,
    pub outcome_action: Option<String>,
    pub outcome_notes: Option<String>,
    pub status: String,
    pub updated_at: i64,
}

/// Reads a [`RawComplaint`] from a row selected with `complaint_columns!()`.
macro_rules! complaint_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let r = $row;
        $crate::store::rows::RawComplaint {
            id: r.try_get("id")?,
            reference: r.try_get("reference")?,
            desk: r.try_get("desk")?,
            channel: r.try_get("channel")?,
            name: r.try_get("name")?,
            mobile: r.try_get("mobile")?,
            area: r.try_get("area")?,
            category: r.try_get("category")?,
            description: r.try_get("description")?,
            language: r.try_get("language")?,
            created_at: r.try_get("created_at")?,
            offered_at: r.try_get("offered_at")?,
            answered_at: r.try_get("answered_at")?,
            ended_at: r.try_get("ended_at")?,
            wait_secs: r.try_get("wait_secs")?,
            talk_secs: r.try_get("talk_secs")?,
            officer_id: r.try_get("officer_id")?,
            officer_name: r.try_get("officer_name")?,
            disposition: r.try_get("disposition")?,
            outcome_category: r.try_get("outcome_category")?,
            outcome_station: r.try_get("outcome_station")?,
            outcome_action: r.try_get("outcome_action")?,
            outcome_notes: r.try_get("outcome_notes")?,
            status: r.try_get("status")?,
            updated_at: r.try_get("updated_at")?,
        }
    }};
}
pub(super) use complaint_from_row;

pub(super) struct RawHistory {
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub kind: String,
    pub detail: String,
    pub status: Option<String>,
}

macro_rules! history_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let r = $row;
        $crate::store::rows::RawHistory {
            at: r.try_get("at")?,
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            actor_name: r.try_get("actor_name")?,
            kind: r.try_get("kind")?,
            detail: r.try_get("detail")?,
            status: r.try_get("status")?,
        }
    }};
}
pub(super) use history_from_row;

pub(super) struct RawUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub desk: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
}

macro_rules! user_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let r = $row;
        $crate::store::rows::RawUser {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            display_name: r.try_get("display_name")?,
            role: r.try_get("role")?,
            desk: r.try_get("desk")?,
            disabled: r.try_get("disabled")?,
            created_at: r.try_get("created_at")?,
        }
    }};
}
pub(super) use user_from_row;

pub(super) struct RawAudit {
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub record_id: Option<String>,
    pub reference: Option<String>,
    pub address: Option<String>,
    pub detail: String,
}

/// Reads a [`RawAudit`] from a row selected with `audit_columns!()`.
macro_rules! audit_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let r = $row;
        $crate::store::rows::RawAudit {
            seq: r.try_get("seq")?,
            at: r.try_get("at")?,
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            actor_name: r.try_get("actor_name")?,
            action: r.try_get("action")?,
            record_id: r.try_get("record_id")?,
            reference: r.try_get("reference")?,
            address: r.try_get("address")?,
            detail: r.try_get("detail")?,
        }
    }};
}
pub(super) use audit_from_row;

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}", value = value.to_string()))
}

pub(super) fn ts(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|_| corrupt("timestamp", ms))
}

fn opt_ts(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(ts).transpose()
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| corrupt("uuid", s))
}

fn parsed<T>(what: &str, s: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(s).ok_or_else(|| corrupt(what, s))
}

impl RawComplaint {
    pub fn into_complaint(self, history: Vec<HistoryEntry>) -> Result<Complaint, StoreError> {
        let outcome = match (
            self.outcome_category,
            self.outcome_station,
            self.outcome_action,
            self.outcome_notes,
        ) {
            (Some(category), Some(station), Some(action), Some(notes)) => Some(Outcome {
                category,
                station,
                action,
                notes,
            }),
            _ => None,
        };
        Ok(Complaint {
            id: EntryId(uuid(&self.id)?),
            reference: Reference(self.reference),
            desk: DeskId::parse(&self.desk).map_err(|_| corrupt("desk", &self.desk))?,
            channel: parsed("channel", &self.channel, Channel::parse)?,
            intake: Intake {
                name: self.name,
                mobile: Mobile::parse(&self.mobile).map_err(|_| corrupt("mobile", &self.mobile))?,
                area: self.area,
                category: self.category,
                description: self.description,
                language: parsed("language", &self.language, Language::parse)?,
            },
            created_at: ts(self.created_at)?,
            offered_at: opt_ts(self.offered_at)?,
            answered_at: opt_ts(self.answered_at)?,
            ended_at: opt_ts(self.ended_at)?,
            wait_secs: self.wait_secs,
            talk_secs: self.talk_secs,
            officer: self
                .officer_id
                .as_deref()
                .map(uuid)
                .transpose()?
                .map(UserId),
            officer_name: self.officer_name,
            disposition: parsed("disposition", &self.disposition, Disposition::parse)?,
            outcome,
            status: parsed("status", &self.status, Status::parse)?,
            updated_at: ts(self.updated_at)?,
            history,
        })
    }
}

impl RawHistory {
    pub fn into_entry(self) -> Result<HistoryEntry, StoreError> {
        let actor = match self.actor_kind.as_str() {
            "citizen" => Actor::Citizen,
            "system" => Actor::System,
            "user" => Actor::User {
                id: UserId(uuid(self.actor_id.as_deref().unwrap_or_default())?),
                name: self.actor_name.unwrap_or_default(),
            },
            other => return Err(corrupt("actor kind", other)),
        };
        let kind = parsed("history kind", &self.kind, HistoryKind::parse)?;
        Ok(HistoryEntry {
            at: ts(self.at)?,
            said: Said::of(kind, &actor, &self.detail),
            actor,
            kind,
            detail: self.detail,
            status: self
                .status
                .as_deref()
                .map(|s| parsed("status", s, Status::parse))
                .transpose()?,
        })
    }
}

impl RawUser {
    pub fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: UserId(uuid(&self.id)?),
            username: self.username,
            display_name: self.display_name,
            role: parsed("role", &self.role, Role::parse)?,
            desk: match self.desk {
                Some(d) => Some(DeskId::parse(&d).map_err(|_| corrupt("desk", &d))?),
                None => None,
            },
            disabled: self.disabled,
            created_at: ts(self.created_at)?,
        })
    }
}

impl RawAudit {
    pub fn into_entry(self) -> Result<AuditEntry, StoreError> {
        let actor = match self.actor_kind.as_str() {
            "user" => AuditActor::User {
                id: UserId(uuid(self.actor_id.as_deref().unwrap_or_default())?),
                name: self.actor_name.unwrap_or_default(),
            },
            "cli" => AuditActor::Cli {
                os_user: self.actor_name,
            },
            "citizen" => AuditActor::Citizen,
            "system" => AuditActor::System,
            "anonymous" => AuditActor::Anonymous,
            other => return Err(corrupt("audit actor kind", other)),
        };
        let detail: serde_json::Value = serde_json::from_str(&self.detail)
            .map_err(|_| corrupt("audit detail", &self.detail))?;
        Ok(AuditEntry {
            seq: self.seq,
            at: ts(self.at)?,
            actor,
            action: parsed("audit action", &self.action, AuditAction::parse)?,
            record: self
                .record_id
                .as_deref()
                .map(uuid)
                .transpose()?
                .map(EntryId),
            reference: self.reference,
            address: self.address,
            detail,
        })
    }
}

/// The columns an audit actor is stored in: (kind, user id, name).
pub(super) fn audit_actor_columns(
    a: &AuditActor,
) -> (&'static str, Option<String>, Option<String>) {
    match a {
        AuditActor::User { id, name } => ("user", Some(id.to_string()), Some(name.clone())),
        AuditActor::Cli { os_user } => ("cli", None, os_user.clone()),
        AuditActor::Citizen => ("citizen", None, None),
        AuditActor::System => ("system", None, None),
        AuditActor::Anonymous => ("anonymous", None, None),
    }
}

/// The columns an actor is stored in: (kind, user id, user name).
pub(super) fn actor_columns(a: &Actor) -> (&'static str, Option<String>, Option<String>) {
    match a {
        Actor::Citizen => ("citizen", None, None),
        Actor::System => ("system", None, None),
        Actor::User { id, name } => ("user", Some(id.to_string()), Some(name.clone())),
    }
}

/// The citizen's view of a record. Built from the status-setting history rows only, so
/// notes, outcome details and staff names cannot slip through.
pub(super) fn status_view(c: Complaint) -> StatusView {
    let history: Vec<StatusChange> = c
        .history
        .iter()
        .filter_map(|h| h.status.map(|status| StatusChange { at: h.at, status }))
        .collect();
    StatusView {
        updated_at: history.last().map_or(c.created_at, |h| h.at),
        station: c.outcome.map(|o| o.station).filter(|s| !s.is_empty()),
        reference: c.reference,
        status: c.status,
        created_at: c.created_at,
        history,
    }
}
