//! Queries built at run time: lookups of one record and filtered, paged lists.
//!
//! Is: SQL text with `$n` placeholders plus the values to bind, the same for every
//! backend. Is not: execution (the backend binds [`Param`]s and runs the text). Only
//! fixed fragments go into the text; everything a user typed travels as a parameter.

use super::audit::AuditFilter;
use super::model::{Filter, Reference};
use super::sql;
use crate::core::ids::EntryId;
use crate::core::intake::Mobile;

/// A bind parameter of a dynamically built query.
#[derive(Clone, Debug)]
pub(super) enum Param {
    Text(String),
    Int(i64),
    Blob(Vec<u8>),
}

/// How a single record is looked up.
#[derive(Clone, Debug)]
pub(super) enum By {
    Id(EntryId),
    /// Already normalised.
    Reference(String),
    Ticket([u8; 32]),
    ReferenceAndMobile(String, Mobile),
}

impl By {
    pub fn query(&self) -> (&'static str, Vec<Param>) {
        match self {
            By::Id(id) => (sql::SELECT_BY_ID, vec![Param::Text(id.to_string())]),
            By::Reference(r) => (sql::SELECT_BY_REFERENCE, vec![Param::Text(r.clone())]),
            By::Ticket(h) => (sql::SELECT_BY_TICKET, vec![Param::Blob(h.to_vec())]),
            By::ReferenceAndMobile(r, m) => (
                sql::SELECT_BY_REFERENCE_AND_MOBILE,
                vec![Param::Text(r.clone()), Param::Text(m.as_str().to_owned())],
            ),
        }
    }
}

/// Where a page of an export starts: strictly after this (created_at ms, id) in
/// newest-first order. Keyset paging, so records created during the export neither
/// shift pages nor get repeated.
pub(super) type Cursor = (i64, String);

/// A newest-first page of records matching `f`, after `cursor` if given.
pub(super) fn list_query(
    f: &Filter,
    cursor: Option<&Cursor>,
    limit: u32,
    offset: u32,
) -> (String, Vec<Param>) {
    let (mut clause, mut params) = filter_where(f);
    if let Some((created, id)) = cursor {
        clause.push_str(if clause.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        let (a, b) = (params.len() + 1, params.len() + 2);
        clause.push_str(&format!(
            "(created_at < ${a} OR (created_at = ${a} AND id < ${b}))"
        ));
        params.push(Param::Int(*created));
        params.push(Param::Text(id.clone()));
    }
    let (l, o) = (params.len() + 1, params.len() + 2);
    params.push(Param::Int(limit.into()));
    params.push(Param::Int(offset.into()));
    let sql = format!(
        "SELECT {} FROM complaints{clause} ORDER BY created_at DESC, id DESC LIMIT ${l} OFFSET ${o}",
        sql::complaint_columns!()
    );
    (sql, params)
}

/// A `WHERE` clause (possibly empty) for `f`, with `$n` placeholders numbered from 1 and
/// their values. Ignores limit and offset.
pub(super) fn filter_where(f: &Filter) -> (String, Vec<Param>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let mut push = |cond: &str, p: Param, params: &mut Vec<Param>| {
        params.push(p);
        conds.push(cond.replace("$?", &format!("${}", params.len())));
    };
    if let Some(d) = &f.desk {
        push("desk = $?", Param::Text(d.as_str().to_owned()), &mut params);
    }
    if let Some(s) = f.status {
        push(
            "status = $?",
            Param::Text(s.as_str().to_owned()),
            &mut params,
        );
    }
    if let Some(d) = f.disposition {
        push(
            "disposition = $?",
            Param::Text(d.as_str().to_owned()),
            &mut params,
        );
    }
    if let Some(t) = f.since {
        push(
            "created_at >= $?",
            Param::Int(t.as_millisecond()),
            &mut params,
        );
    }
    if let Some(t) = f.until {
        push(
            "created_at < $?",
            Param::Int(t.as_millisecond()),
            &mut params,
        );
    }
    if let Some(text) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // LOWER on both sides instead of ILIKE or SQLite's case-blind LIKE: the same text
        // then behaves alike in both dialects (for ASCII; SQLite's LOWER knows no more).
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        push(
            "(LOWER(reference) LIKE $? ESCAPE '\\' OR LOWER(name) LIKE $? ESCAPE '\\' \
             OR mobile LIKE $? ESCAPE '\\')",
            Param::Text(pattern),
            &mut params,
        );
    }
    let clause = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (clause, params)
}

/// A newest-first page of the audit log matching `f`.
pub(super) fn audit_query(f: &AuditFilter) -> (String, Vec<Param>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let next = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        format!("${}", params.len())
    };
    if let Some(t) = f.since {
        let n = next(Param::Int(t.as_millisecond()), &mut params);
        conds.push(format!("at >= {n}"));
    }
    if let Some(t) = f.until {
        let n = next(Param::Int(t.as_millisecond()), &mut params);
        conds.push(format!("at < {n}"));
    }
    if let Some(a) = f.actor.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        // Usernames are stored lowercase; ids are lowercase UUIDs; kinds are lowercase.
        let n = next(Param::Text(a.to_lowercase()), &mut params);
        conds.push(format!(
            "(actor_kind = {n} OR actor_id = {n} OR (actor_kind IN ('user', 'cli') AND actor_name = {n}))"
        ));
    }
    if let Some(r) = f.record.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        let by_ref = next(Param::Text(Reference::normalize(r)), &mut params);
        let by_id = next(Param::Text(r.to_lowercase()), &mut params);
        conds.push(format!("(reference = {by_ref} OR record_id = {by_id})"));
    }
    if let Some(a) = f.action {
        let n = next(Param::Text(a.as_str().to_owned()), &mut params);
        conds.push(format!("action = {n}"));
    }
    if let Some(d) = &f.desk {
        let n = next(Param::Text(d.to_string()), &mut params);
        conds.push(format!(
            "(record_id IN (SELECT id FROM complaints WHERE desk = {n}) \
             OR (actor_kind = 'user' AND actor_id IN (SELECT id FROM users WHERE desk = {n})))"
        ));
    }
    let clause = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let l = next(Param::Int(f.effective_limit().into()), &mut params);
    let o = next(Param::Int(f.offset.into()), &mut params);
    let sql = format!(
        "SELECT {} FROM audit_log{clause} ORDER BY at DESC, seq DESC LIMIT {l} OFFSET {o}",
        sql::audit_columns!()
    );
    (sql, params)
}

/// Makes `%`, `_` and `\` in user text match themselves in a `LIKE … ESCAPE '\'` pattern.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::Status;

    #[test]
    fn filter_numbers_placeholders_and_reuses_text_pattern() {
        let f = Filter {
            status: Some(Status::Forwarded),
            text: Some(" 50%_a ".into()),
            ..Filter::default()
        };
        let (sql, params) = filter_where(&f);
        assert_eq!(params.len(), 2);
        assert!(sql.contains("status = $1"), "{sql}");
        assert_eq!(sql.matches("$2").count(), 3, "{sql}");
        assert!(matches!(&params[1], Param::Text(p) if p == "%50\\%\\_a%"));
    }
}
