//! What a citizen's connection may do: join a desk's waiting room with their intake,
//! resume their place with a ticket, leave, hang up.

use jiff::Timestamp;
use sunwai_signaling::{self as wire, ClientMsg, ErrorCode, ServerMsg};

use super::limits::RetryAfter;
use super::translate;
use super::ws::Conn;
use crate::auth;
use crate::core::ids::EntryId;
use crate::core::intake::{Intake, RawIntake};
use crate::core::room::RoomError;
use crate::core::room::{CitizenNote, Class, Command};
use crate::core::schedule::{Window, WindowStatus};
use crate::desk::{AttachedAs, DeskError, DeskHandle, EntryInfo};
use crate::sfu::Leg;

const QUEUE_FULL_RETRY: std::time::Duration = std::time::Duration::from_secs(600);
use crate::store::{Channel, Disposition, NewComplaint, RecordEvent};

pub struct CitizenSession {
    pub desk: DeskHandle,
    pub entry: EntryId,
    pub reference: String,
    /// The last position told, and whether a call is on: media is set up only in a call
    /// or near the front (instant connect), so a crowd of waiters costs no media state.
    pub position: Option<u32>,
    pub in_call: bool,
    /// The desk's window as last put on the wire, kept while it does not change: every
    /// position update carries it, and formatting its times anew for each of thousands of
    /// waiting citizens was a visible part of a dispatch.
    pub window: Option<(WindowKey, wire::WindowInfo)>,
}

/// What a citizen's window line is made from.
type WindowKey = (WindowStatus, Option<Window>);

pub fn intake_from_wire(
    i: &wire::IntakeMsg,
    categories: &[String],
) -> Result<Intake, crate::core::intake::IntakeError> {
    let raw = RawIntake {
        name: &i.name,
        mobile: &i.mobile,
        area: &i.area,
        category: &i.category,
        description: &i.description,
        language: &i.language,
        consent: i.consent,
    };
    Intake::parse(&raw, categories)
}

impl Conn {
    pub async fn citizen_msg(&mut self, msg: ClientMsg) {
        let re = msg.request_id();
        match msg {
            ClientMsg::Join { id, desk, intake } => self.join(id, &desk, &intake).await,
            ClientMsg::Leave { id } => {
                self.citizen_command(id, |entry| Command::Leave { entry })
                    .await
            }
            ClientMsg::Hangup { id } => {
                self.citizen_command(id, |entry| Command::Hangup { entry })
                    .await
            }
            ClientMsg::Sdp { id, description } => {
                let call = self.citizen_media_call();
                self.media_offer(id, call, Leg::Citizen, description).await
            }
            ClientMsg::Ice { candidate } => {
                let call = self.citizen_media_call();
                self.media_candidate(call, Leg::Citizen, candidate)
            }
            // The server is ICE-lite: nothing to do at the end of a browser's candidates.
            ClientMsg::EndOfCandidates {} => {}
            other => {
                let m = format!("a citizen may not send {}", other.type_name());
                self.reply_err(re, ErrorCode::NotAllowed, m)
            }
        }
    }

    async fn citizen_command(&mut self, id: u64, make: impl FnOnce(EntryId) -> Command) {
        let Some(c) = &self.citizen else {
            self.reply_err(Some(id), ErrorCode::OutOfOrder, "not in a waiting room");
            return;
        };
        let (desk, entry) = (c.desk.clone(), c.entry);
        match desk.command(make(entry)).await {
            Ok(()) => self.send(ServerMsg::Ok { re: id }),
            Err(e) => self.send(translate::desk_error(Some(id), &e, &desk.time_zone)),
        }
    }

    async fn join(&mut self, id: u64, desk_id: &str, intake: &wire::IntakeMsg) {
        if self.citizen.is_some() {
            self.reply_err(Some(id), ErrorCode::OutOfOrder, "already in a waiting room");
            return;
        }
        let Some(desk) = self.app.desk(desk_id) else {
            let join = ClientMsg::Join {
                id,
                desk: desk_id.to_owned(),
                intake: intake.clone(),
            };
            if self.relay_join(&join, desk_id, id).await {
                return;
            }
            self.reply_err(
                Some(id),
                ErrorCode::UnknownDesk,
                format!("no desk {desk_id:?}"),
            );
            return;
        };
        let intake = match intake_from_wire(intake, self.app.category_keys()) {
            Ok(i) => i,
            Err(e) => {
                let field = e.field().to_owned();
                self.send(ServerMsg::Error {
                    re: Some(id),
                    code: ErrorCode::InvalidInput,
                    message: e.to_string(),
                    field: Some(field),
                });
                return;
            }
        };
        if !self.app.is_ready() {
            self.reply_err(Some(id), ErrorCode::ShuttingDown, translate::SHUTTING_DOWN);
            return;
        }
        if let Err(RetryAfter(wait)) = self.app.limits().join(self.ip) {
            let at = translate::local_hhmm(self.app.clock().now(), wait, &desk.time_zone);
            let m = format!("too many joins from this address; try again at {at}");
            self.reply_err(Some(id), ErrorCode::RateLimited, m);
            return;
        }
        if let Err(e) = desk.can_join().await {
            if matches!(e, DeskError::Room(RoomError::QueueFull)) {
                // Ten minutes is about when enough calls have ended to make room again.
                let at = translate::local_hhmm(
                    self.app.clock().now(),
                    QUEUE_FULL_RETRY,
                    &desk.time_zone,
                );
                let m = format!(
                    "the queue is full; please try again at {at}, or leave a written complaint"
                );
                self.reply_err(Some(id), ErrorCode::QueueFull, m);
            } else {
                self.send(translate::desk_error(Some(id), &e, &desk.time_zone));
            }
            return;
        }
        // The record exists before the citizen waits: whatever happens next, it is kept.
        let entry = EntryId::new_random();
        let (ticket, ticket_hash) = auth::new_secret_token();
        let now = self.app.clock().now();
        let new = NewComplaint {
            id: entry,
            desk: desk.id.clone(),
            prefix: desk.prefix.clone(),
            tz: desk.time_zone.clone(),
            channel: Channel::Video,
            intake: intake.clone(),
            created_at: now,
            ticket_hash: Some(ticket_hash),
        };
        let reference = match self.app.store().create_complaint(new).await {
            Ok(r) => r.to_string(),
            Err(e) => {
                tracing::error!(error = %e, "could not create a complaint record");
                self.reply_err(
                    Some(id),
                    ErrorCode::Internal,
                    "could not record the complaint; please try again",
                );
                return;
            }
        };
        let info = EntryInfo {
            reference: reference.clone(),
            intake,
        };
        // `joined` must reach the client before the first queue update the desk pushes.
        self.send(ServerMsg::Joined {
            re: id,
            entry: entry.0,
            reference: reference.clone(),
            ticket,
            desk: desk.id.to_string(),
        });
        match desk
            .join(entry, info, Class::Normal, self.outbox.clone())
            .await
        {
            Ok(()) => {
                self.citizen = Some(CitizenSession {
                    desk,
                    entry,
                    reference,
                    position: None,
                    in_call: false,
                    window: None,
                })
            }
            Err(e) => {
                // Refused in the moment between the check and the join: say so, and close
                // the record so it does not look like someone is still waiting.
                self.out.retain(|m| !matches!(m, ServerMsg::Joined { .. }));
                self.send(translate::desk_error(Some(id), &e, &desk.time_zone));
                let ev = RecordEvent::Abandoned {
                    id: entry,
                    at: now,
                    reason: "refused".into(),
                };
                if let Err(e) = self.app.store().apply(ev).await {
                    tracing::error!(error = %e, "could not close a refused record");
                }
            }
        }
    }

    /// Finds the citizen's place from their ticket: back into the live queue, back into a
    /// new window with a carried-over token, or just the record's state.
    pub async fn resume(&mut self, ticket: &str) -> Option<wire::Resumed> {
        let hash = auth::hash_token(ticket);
        let record = match self.app.store().find_by_ticket(&hash).await {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, "ticket lookup failed");
                return None;
            }
        };
        let desk = self.app.desk(record.desk.as_str())?;
        let entry = record.id;
        let (state, attached) = match desk.attach(entry, self.outbox.clone()).await {
            Ok(AttachedAs::Waiting) => ("waiting", true),
            Ok(AttachedAs::InCall) => ("in_call", true),
            // The server is stopping: the place is kept for the next process, and this
            // connection is about to be closed (1001) so that the client comes back there.
            Err(DeskError::Gone) => (record.disposition.as_str(), false),
            Err(_) => {
                // Not in the live room. The record may be a moment behind the room: the
                // note that closed it (a call that just ended) is already queued for the
                // writer, so read it again once the writer has caught up.
                self.app.flush_records().await;
                let disposition = match self.app.store().get(entry).await {
                    Ok(Some(r)) => r.disposition,
                    _ => record.disposition,
                };
                if matches!(disposition, Disposition::CarriedOver | Disposition::Waiting) {
                    // A token from an earlier window (or a place the room no longer
                    // holds) goes to the front of the queue if the window is open.
                    let intake = record.intake.clone();
                    let info = EntryInfo {
                        reference: record.reference.to_string(),
                        intake,
                    };
                    match desk
                        .join(entry, info, Class::Carried, self.outbox.clone())
                        .await
                    {
                        Ok(()) => ("waiting", true),
                        Err(_) => ("carried_over", false),
                    }
                } else {
                    (disposition.as_str(), false)
                }
            }
        };
        if attached {
            self.citizen = Some(CitizenSession {
                desk: desk.clone(),
                entry,
                reference: record.reference.to_string(),
                position: None,
                in_call: false,
                window: None,
            });
        }
        Some(wire::Resumed {
            entry: entry.0,
            reference: record.reference.to_string(),
            desk: desk.id.to_string(),
            state: state.to_owned(),
        })
    }

    /// The call a citizen's media belongs to: theirs, once in a call or near the front.
    fn citizen_media_call(&self) -> Option<EntryId> {
        let c = self.citizen.as_ref()?;
        let n = self.app.config().media.instant_connect_position;
        let near = c.position.is_some_and(|p| p >= 1 && p <= n);
        (c.in_call || near).then_some(c.entry)
    }

    pub fn citizen_note(&mut self, note: CitizenNote, now: Timestamp) {
        if let Some(c) = self.citizen.as_mut() {
            match &note {
                CitizenNote::Position { position, .. } => c.position = Some(*position),
                CitizenNote::YouAreNext => c.position = Some(1),
                CitizenNote::CallStarted { .. } | CitizenNote::CallResumed { .. } => {
                    c.in_call = true
                }
                CitizenNote::OfficerLost => c.in_call = false,
                _ => {}
            }
        }
        let Some(c) = self.citizen.as_mut() else {
            return;
        };
        let status = c.desk.status();
        let key = (status.window, status.next_window);
        let window = match &c.window {
            Some((k, info)) if *k == key => info.clone(),
            _ => {
                let info = translate::desk_window_info(&status);
                c.window = Some((key, info.clone()));
                info
            }
        };
        let cx = translate::CitizenCtx {
            entry: c.entry,
            reference: &c.reference,
            window,
        };
        let finished = matches!(
            note,
            CitizenNote::CallEnded { .. }
                | CitizenNote::CarriedOver { .. }
                | CitizenNote::Left { .. }
        );
        let msg = translate::citizen_note(note, &cx, now);
        self.send(msg);
        if finished {
            // A leg set up early (instant connect) has no call to be closed with.
            if let (Some(sfu), Some(c)) = (self.app.media(), &self.citizen) {
                sfu.close_call(c.entry.0);
            }
            self.citizen = None;
        }
    }
}
