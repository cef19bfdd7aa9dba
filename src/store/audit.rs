//! The audit log's vocabulary: who looked at or changed what, and when.
//!
//! Is: the plain types of audit entries and of the filter that reads them back. Is not:
//! the decision of what to audit. Callers write entries for reads (views, lists, exports)
//! and sign-ins; the store writes the entries for outcome saves and status changes itself,
//! in the transaction of the change (see [`Store::save_outcome`](super::Store::save_outcome)).
//!
//! Invariants: the log is append-only (no method updates or deletes an entry, and the
//! schema refuses it); an entry's `detail` is a JSON object.

use jiff::Timestamp;
use serde::Serialize;

use super::model::Actor;
use super::ser;
use super::string_enum::string_enum;
use crate::core::ids::{DeskId, EntryId, UserId};

string_enum!(
    /// What an audit entry records.
    AuditAction {
        /// A staff member opened one record (`GET /api/records/{ref}`).
        RecordView => "record_view",
        /// A staff member listed records; `detail` holds the filter and the count returned.
        RecordList => "record_list",
        /// Records were exported as CSV (REST or command line); filter and count.
        RecordExport => "record_export",
        /// A record's workflow status was changed; from, to and the note.
        StatusChange => "status_change",
        /// An officer's outcome was saved on a record.
        OutcomeSave => "outcome_save",
        SignIn => "sign_in",
        SignInFailed => "sign_in_failed",
        SignOut => "sign_out",
        /// A supervisor started listening in on a call.
        MonitorStart => "monitor_start",
        MonitorStop => "monitor_stop",
        /// A supervisor opened a hearing window now; `detail` has the desk and minutes.
        WindowOpen => "window_open",
        /// A supervisor extended the open window; the desk and minutes.
        WindowExtend => "window_extend",
        /// A supervisor closed the open window early; the desk.
        WindowClose => "window_close",
        /// A supervisor sent a message to everyone waiting at a desk; the desk and text.
        Broadcast => "broadcast",
        /// A supervisor read the audit log itself.
        AuditView => "audit_view",
        /// A staff account was created (command line); `detail` has its name, role, desk.
        UserAdd => "user_add",
        /// A staff account was disabled, enabled, or given a new password.
        UserDisable => "user_disable",
        UserEnable => "user_enable",
        UserPasswd => "user_passwd",
    }
);

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditActor {
    /// A staff account; `name` is its username.
    User {
        #[serde(serialize_with = "ser::display")]
        id: UserId,
        name: String,
    },
    /// The command line, run by this operating-system user if known ($USER).
    Cli {
        os_user: Option<String>,
    },
    Citizen,
    System,
    /// Nobody known: a failed sign-in with a username that has no account.
    Anonymous,
}

impl AuditActor {
    /// The command line, with the operating-system user from `$USER` when set.
    pub fn cli_from_env() -> Self {
        let os_user = std::env::var("USER")
            .ok()
            .map(|u| u.trim().chars().take(64).collect::<String>())
            .filter(|u| !u.is_empty());
        AuditActor::Cli { os_user }
    }

    /// A user account.
    pub fn user(id: UserId, username: &str) -> Self {
        AuditActor::User {
            id,
            name: username.to_owned(),
        }
    }

    /// The actor of a record change. Its `name` is the display name the record keeps;
    /// the store replaces it with the account's username where it can.
    pub(super) fn of_record_actor(a: &Actor) -> Self {
        match a {
            Actor::Citizen => AuditActor::Citizen,
            Actor::System => AuditActor::System,
            Actor::User { id, name } => AuditActor::User {
                id: *id,
                name: name.clone(),
            },
        }
    }
}

impl std::fmt::Display for AuditActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditActor::User { name, .. } => f.write_str(name),
            AuditActor::Cli { os_user: Some(u) } => write!(f, "cli ({u})"),
            AuditActor::Cli { os_user: None } => f.write_str("cli"),
            AuditActor::Citizen => f.write_str("citizen"),
            AuditActor::System => f.write_str("system"),
            AuditActor::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// An entry to append.
#[derive(Clone, Debug)]
pub struct NewAudit {
    pub at: Timestamp,
    pub actor: AuditActor,
    pub action: AuditAction,
    /// The record concerned, if one.
    pub record: Option<EntryId>,
    /// Its reference, if one (kept as well as the id: people search by reference).
    pub reference: Option<String>,
    /// The client's address, if known.
    pub address: Option<std::net::IpAddr>,
    /// Anything else, as a JSON object (`{}` when there is nothing).
    pub detail: serde_json::Value,
}

impl NewAudit {
    /// An entry about no particular record, from no known address, with no detail.
    pub fn new(at: Timestamp, actor: AuditActor, action: AuditAction) -> Self {
        NewAudit {
            at,
            actor,
            action,
            record: None,
            reference: None,
            address: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn record(mut self, id: EntryId, reference: &str) -> Self {
        self.record = Some(id);
        self.reference = Some(reference.to_owned());
        self
    }

    pub fn address(mut self, ip: std::net::IpAddr) -> Self {
        self.address = Some(ip);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Increases with every entry written.
    pub seq: i64,
    pub at: Timestamp,
    pub actor: AuditActor,
    pub action: AuditAction,
    #[serde(serialize_with = "ser::opt_display")]
    pub record: Option<EntryId>,
    pub reference: Option<String>,
    pub address: Option<String>,
    pub detail: serde_json::Value,
}

/// Which entries to read, newest first. `since` is inclusive, `until` exclusive.
#[derive(Clone, Debug)]
pub struct AuditFilter {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// A username, a user id, or an actor kind (`cli`, `citizen`, `system`, `anonymous`).
    /// For `cli` entries the operating-system user matches too.
    pub actor: Option<String>,
    /// A record's reference (any case) or id.
    pub record: Option<String>,
    pub action: Option<AuditAction>,
    /// Only entries about this desk's records or by its staff (what a supervisor bound
    /// to one desk may read).
    pub desk: Option<DeskId>,
    /// 0 means the default (100); more than 1000 is capped at 1000.
    pub limit: u32,
    pub offset: u32,
}

impl AuditFilter {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    pub(super) fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            since: None,
            until: None,
            actor: None,
            record: None,
            action: None,
            desk: None,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl super::model::Filter {
    /// The filter as an audit entry shows it: only what was asked for.
    pub fn audit_detail(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v.into());
            }
        };
        put("desk", self.desk.as_ref().map(|d| d.to_string()));
        put("status", self.status.map(|s| s.as_str().to_owned()));
        put(
            "disposition",
            self.disposition.map(|d| d.as_str().to_owned()),
        );
        put("since", self.since.map(|t| t.to_string()));
        put("until", self.until.map(|t| t.to_string()));
        put("text", self.text.clone());
        if self.limit != u32::MAX {
            m.insert("limit".into(), self.effective_limit().into());
            m.insert("offset".into(), self.offset.into());
        }
        serde_json::Value::Object(m)
    }
}

impl AuditFilter {
    /// The filter as an audit entry shows it (for reads of the log itself).
    pub fn audit_detail(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v.into());
            }
        };
        put("since", self.since.map(|t| t.to_string()));
        put("until", self.until.map(|t| t.to_string()));
        put("actor", self.actor.clone());
        put("record", self.record.clone());
        put("action", self.action.map(|a| a.as_str().to_owned()));
        put("desk", self.desk.as_ref().map(|d| d.to_string()));
        m.insert("limit".into(), self.effective_limit().into());
        m.insert("offset".into(), self.offset.into());
        serde_json::Value::Object(m)
    }
}
