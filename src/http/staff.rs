//! What officers and supervisors may do over the WebSocket. Every message is checked
//! against the signed-in user's role and desk here, on the server.

use sunwai_signaling::{ClientMsg, ErrorCode, OutcomeMsg, ServerMsg};

use super::translate;
use super::ws::{Conn, Identity};
use crate::core::ids::EntryId;
use crate::core::room::Command;
use crate::desk::DeskHandle;
use crate::sfu::Leg;
use crate::store::{Actor, AuditAction, AuditActor, NewAudit, Outcome, Role, StoreError, User};

fn user(conn: &Conn) -> Option<User> {
    match &conn.identity {
        Some(Identity::Staff(u)) => Some(u.clone()),
        _ => None,
    }
}

/// The desk a user may act on: officers only their own; supervisors theirs, or any if they
/// have none.
fn desk_for(conn: &Conn, u: &User, desk: Option<&str>) -> Result<DeskHandle, (ErrorCode, String)> {
    let wanted = match (desk, &u.desk) {
        (Some(d), _) => d.to_owned(),
        (None, Some(own)) => own.to_string(),
        (None, None) => return Err((ErrorCode::InvalidInput, "name a desk".into())),
    };
    let handle = conn
        .app
        .desk(&wanted)
        .ok_or((ErrorCode::UnknownDesk, format!("no desk {wanted:?}")))?;
    match &u.desk {
        Some(own) if *own != handle.id => Err((
            ErrorCode::NotAllowed,
            format!("you are not assigned to desk {wanted:?}"),
        )),
        _ => Ok(handle),
    }
}

pub async fn staff_msg(conn: &mut Conn, role: Role, msg: ClientMsg) {
    let Some(u) = user(conn) else { return };
    let re = msg.request_id();
    let officer_only = matches!(
        msg,
        ClientMsg::GoOnDuty { .. }
            | ClientMsg::GoOffDuty { .. }
            | ClientMsg::Ready { .. }
            | ClientMsg::Accept { .. }
            | ClientMsg::Decline { .. }
            | ClientMsg::EndCall { .. }
    );
    let supervisor_only = matches!(
        msg,
        ClientMsg::OpenWindow { .. }
            | ClientMsg::CloseWindow { .. }
            | ClientMsg::ExtendWindow { .. }
            | ClientMsg::Broadcast { .. }
            | ClientMsg::Monitor { .. }
            | ClientMsg::StopMonitor { .. }
    );
    let citizen_only = matches!(
        msg,
        ClientMsg::Join { .. } | ClientMsg::Leave { .. } | ClientMsg::Hangup { .. }
    );
    if citizen_only
        || (officer_only && role != Role::Officer)
        || (supervisor_only && role != Role::Supervisor)
    {
        let m = format!("{} may not send {}", role.as_str(), msg.type_name());
        conn.reply_err(re, ErrorCode::NotAllowed, m);
        return;
    }
    // A desk another node serves: over a link to that node (which checks the role again).
    if let (Some(desk), Some(id)) = (super::remote::desk_of(&msg), re) {
        let own = u.desk.as_ref().is_none_or(|d| d.as_str() == desk);
        if own && conn.send_remote(desk, &msg, id).await {
            return;
        }
    }
    match msg {
        ClientMsg::GoOnDuty { id } => {
            let desk = match desk_for(conn, &u, None) {
                Ok(d) => d,
                Err((code, m)) => return conn.reply_err(Some(id), code, m),
            };
            match desk
                .on_duty(u.id, u.display_name.clone(), conn.outbox.clone())
                .await
            {
                Ok(()) => {
                    conn.on_duty = Some(desk);
                    conn.send(ServerMsg::Ok { re: id });
                }
                Err(e) => conn.send(translate::desk_error(Some(id), &e, &desk.time_zone)),
            }
        }
        ClientMsg::GoOffDuty { id } => {
            on_duty_cmd(conn, id, Command::OffDuty { officer: u.id }, true).await
        }
        ClientMsg::Ready { id } => {
            on_duty_cmd(conn, id, Command::Ready { officer: u.id }, false).await
        }
        ClientMsg::Accept { id, entry } => {
            on_duty_cmd(
                conn,
                id,
                Command::Accept {
                    officer: u.id,
                    entry: EntryId(entry),
                },
                false,
            )
            .await
        }
        ClientMsg::Decline { id, entry } => {
            // A media leg set up while the offer rang is not needed any more.
            if conn.officer_entry == Some(EntryId(entry)) {
                conn.officer_entry = None;
                if let Some(sfu) = conn.app.media() {
                    sfu.close_leg(entry, Leg::Officer);
                }
            }
            on_duty_cmd(
                conn,
                id,
                Command::Decline {
                    officer: u.id,
                    entry: EntryId(entry),
                },
                false,
            )
            .await
        }
        ClientMsg::EndCall { id, no_show } => {
            let cmd = if no_show {
                Command::NoShow { officer: u.id }
            } else {
                Command::EndCall { officer: u.id }
            };
            on_duty_cmd(conn, id, cmd, false).await
        }
        ClientMsg::SaveOutcome { id, entry, outcome } => {
            save_outcome(conn, &u, id, EntryId(entry), outcome).await
        }
        ClientMsg::Watch { id, desk } => match desk_for(conn, &u, Some(&desk)) {
            Ok(d) => {
                if !conn.watching.iter().any(|w| w.id == d.id) {
                    d.watch(conn.outbox.clone());
                    conn.watching.push(d);
                }
                conn.send(ServerMsg::Ok { re: id });
            }
            Err((code, m)) => conn.reply_err(Some(id), code, m),
        },
        ClientMsg::Unwatch { id, desk } => {
            if let Some(i) = conn.watching.iter().position(|w| w.id.as_str() == desk) {
                let d = conn.watching.remove(i);
                d.unwatch(conn.id);
            }
            conn.send(ServerMsg::Ok { re: id });
        }
        ClientMsg::OpenWindow { id, desk, minutes } => {
            supervise(conn, &u, id, &desk, Command::OpenNow { minutes }).await
        }
        ClientMsg::CloseWindow { id, desk } => {
            supervise(conn, &u, id, &desk, Command::CloseNow).await
        }
        ClientMsg::ExtendWindow { id, desk, minutes } => {
            supervise(conn, &u, id, &desk, Command::Extend { minutes }).await
        }
        ClientMsg::Broadcast { id, desk, text } => {
            supervise(conn, &u, id, &desk, Command::Broadcast { text }).await
        }
        ClientMsg::Monitor { id, entry } => conn.start_monitor(id, &u, EntryId(entry)).await,
        ClientMsg::StopMonitor { id, entry } => conn.stop_monitor(id, &u, EntryId(entry)).await,
        ClientMsg::Sdp { id, description } => {
            let (call, leg) = media_leg(conn, role);
            conn.media_offer(id, call, leg, description).await
        }
        ClientMsg::Ice { candidate } => {
            let (call, leg) = media_leg(conn, role);
            conn.media_candidate(call, leg, candidate)
        }
        ClientMsg::EndOfCandidates {} => {}
        other => {
            let m = format!("{} may not send {}", role.as_str(), other.type_name());
            conn.reply_err(re, ErrorCode::NotAllowed, m)
        }
    }
}

/// Which call and leg a staff member's media belongs to: an officer's call, a
/// supervisor's monitored call.
fn media_leg(conn: &Conn, role: Role) -> (Option<EntryId>, Leg) {
    match role {
        Role::Officer => (conn.officer_entry, Leg::Officer),
        Role::Supervisor => (conn.monitoring, Leg::Monitor(conn.id)),
    }
}

async fn on_duty_cmd(conn: &mut Conn, id: u64, cmd: Command, leaving: bool) {
    let Some(desk) = conn.on_duty.clone() else {
        return conn.reply_err(Some(id), ErrorCode::OutOfOrder, "go on duty first");
    };
    match desk.command(cmd).await {
        Ok(()) => {
            if leaving {
                conn.on_duty = None;
            }
            conn.send(ServerMsg::Ok { re: id });
        }
        Err(e) => conn.send(translate::desk_error(Some(id), &e, &desk.time_zone)),
    }
}

async fn supervise(conn: &mut Conn, u: &User, id: u64, desk: &str, cmd: Command) {
    let d = match desk_for(conn, u, Some(desk)) {
        Ok(d) => d,
        Err((code, m)) => return conn.reply_err(Some(id), code, m),
    };
    let audit = supervision_audit(&cmd, d.id.as_str());
    match d.command(cmd).await {
        Ok(()) => {
            if let Some((action, detail)) = audit {
                let entry = NewAudit::new(
                    conn.app.clock().now(),
                    AuditActor::user(u.id, &u.username),
                    action,
                )
                .address(conn.ip)
                .detail(detail);
                if let Err(e) = conn.app.store().audit(entry).await {
                    tracing::error!(error = %e, "could not audit a supervisor's command");
                }
            }
            conn.send(ServerMsg::Ok { re: id })
        }
        Err(e) => conn.send(translate::desk_error(Some(id), &e, &d.time_zone)),
    }
}

/// What the audit log says of a supervisor's command to a desk: who opened, extended or
/// closed a hearing window, or told everyone waiting something, and when.
fn supervision_audit(cmd: &Command, desk: &str) -> Option<(AuditAction, serde_json::Value)> {
    Some(match cmd {
        Command::OpenNow { minutes } => (
            AuditAction::WindowOpen,
            serde_json::json!({ "desk": desk, "minutes": minutes }),
        ),
        Command::Extend { minutes } => (
            AuditAction::WindowExtend,
            serde_json::json!({ "desk": desk, "minutes": minutes }),
        ),
        Command::CloseNow => (
            AuditAction::WindowClose,
            serde_json::json!({ "desk": desk }),
        ),
        Command::Broadcast { text } => (
            AuditAction::Broadcast,
            serde_json::json!({ "desk": desk, "text": text }),
        ),
        _ => return None,
    })
}

/// Field limits for what an officer writes into a record.
const OUTCOME_TEXT_MAX: usize = 2000;

async fn save_outcome(conn: &mut Conn, u: &User, id: u64, entry: EntryId, o: OutcomeMsg) {
    let app = conn.app.clone();
    let record = match app.store().get(entry).await {
        Ok(Some(r)) => r,
        Ok(None) => return conn.reply_err(Some(id), ErrorCode::NotFound, "no such complaint"),
        Err(e) => {
            tracing::error!(error = %e, "record lookup failed");
            return conn.reply_err(Some(id), ErrorCode::Internal, "could not read the record");
        }
    };
    // An officer may write only into a call they answered; a supervisor into any record of
    // their desks.
    let allowed = match u.role {
        Role::Officer => record.officer == Some(u.id),
        Role::Supervisor => u.desk.as_ref().is_none_or(|d| *d == record.desk),
    };
    if !allowed {
        return conn.reply_err(
            Some(id),
            ErrorCode::NotAllowed,
            "this complaint is not yours to fill in",
        );
    }
    if !o.category.is_empty() && !app.category_keys().contains(&o.category) {
        return conn.send(ServerMsg::Error {
            re: Some(id),
            code: ErrorCode::InvalidInput,
            message: "unknown category".into(),
            field: Some("category".into()),
        });
    }
    if !o.station.is_empty() && app.config().station(&o.station).is_none() {
        return conn.send(ServerMsg::Error {
            re: Some(id),
            code: ErrorCode::InvalidInput,
            message: "unknown police station".into(),
            field: Some("station".into()),
        });
    }
    for (field, text) in [("action", &o.action), ("notes", &o.notes)] {
        if text.chars().count() > OUTCOME_TEXT_MAX {
            let message = format!("{field} is limited to {OUTCOME_TEXT_MAX} characters");
            return conn.send(ServerMsg::Error {
                re: Some(id),
                code: ErrorCode::InvalidInput,
                message,
                field: Some(field.into()),
            });
        }
    }
    let outcome = Outcome {
        category: o.category,
        station: o.station,
        action: o.action.trim().to_owned(),
        notes: o.notes.trim().to_owned(),
    };
    let actor = Actor::User {
        id: u.id,
        name: u.display_name.clone(),
    };
    match app
        .store()
        .save_outcome(entry, &outcome, &actor, app.clock().now())
        .await
    {
        Ok(()) => conn.send(ServerMsg::Ok { re: id }),
        Err(StoreError::NotFound) => {
            conn.reply_err(Some(id), ErrorCode::NotFound, "no such complaint")
        }
        // Text the store refuses on every backend (a NUL character).
        Err(StoreError::Invalid(message)) => {
            conn.reply_err(Some(id), ErrorCode::InvalidInput, &message)
        }
        Err(e) => {
            tracing::error!(error = %e, "saving an outcome failed");
            conn.reply_err(Some(id), ErrorCode::Internal, "could not save; try again")
        }
    }
}
