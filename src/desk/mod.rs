//! One actor per desk, the single owner of that desk's `core::room::Room`. Connections send
//! it messages over a bounded channel; it applies them to the room with the time read from
//! the shell's clock, sleeps until the room's next deadline, and routes the effects: notes
//! to connections' outboxes (never waiting on a client), record notes to the record writer
//! (waiting if the database is behind: records are never dropped), call notes to media.
//!
//! Architecture invariant: no other task touches a desk's live state. Everything else reads
//! the published `DeskStatus` or asks the actor.

mod clock;
mod outbox;
mod records;

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::DeskConfig;
use crate::core::ids::{DeskId, EntryId, UserId};
use crate::core::room::{
    CallNote, CitizenNote, Class, Command, Effect, OfficerNote, RecordNote, Room, RoomError, Saved,
    Today,
};
use crate::core::schedule::{Override, Schedule, Window, WindowStatus};
use crate::sfu::Sfu;

pub use clock::Clock;
pub use outbox::{
    ConnId, DeskView, EntryInfo, Gate, GateKey, Inbox, MediaSide, Outbound, Outbox, OUTBOX_CAPACITY,
};
pub use records::{load_saved, room_class, spawn_record_writer, Fences, RecordJob};

/// Messages a desk may have queued before senders wait.
const MAILBOX: usize = 1024;
/// Watchers get at most one snapshot per this interval.
const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// What anyone may read about a desk without asking its actor.
#[derive(Clone, Debug)]
pub struct DeskStatus {
    pub window: WindowStatus,
    /// While a window is open, the one after it (so people can be told both).
    pub next_window: Option<Window>,
    pub waiting: u32,
    pub in_call: u32,
    pub officers_on_duty: u32,
}

type Reply<T> = oneshot::Sender<Result<T, RoomError>>;

enum Msg {
    /// Would a join be accepted right now? (Checked before a record is created for it.)
    CanJoin {
        reply: Reply<()>,
    },
    Join {
        entry: EntryId,
        info: EntryInfo,
        class: Class,
        outbox: Outbox,
        reply: Reply<()>,
    },
    /// A citizen's new connection takes over their entry (reload, network change).
    Attach {
        entry: EntryId,
        outbox: Outbox,
        reply: Reply<AttachedAs>,
    },
    CitizenGone {
        entry: EntryId,
        conn: ConnId,
    },
    OnDuty {
        officer: UserId,
        name: String,
        outbox: Outbox,
        reply: Reply<()>,
    },
    OfficerGone {
        officer: UserId,
        conn: ConnId,
    },
    Cmd {
        cmd: Command,
        reply: Reply<()>,
    },
    Watch {
        outbox: Outbox,
    },
    /// One side's media in `entry`'s call stopped reaching the server (`reconnecting`) or
    /// reaches it again; reported by the other side's connection, which the SFU told.
    MediaState {
        entry: EntryId,
        side: MediaSide,
        reconnecting: bool,
    },
    Unwatch {
        conn: ConnId,
    },
    View {
        reply: oneshot::Sender<Arc<DeskView>>,
    },
    /// A copy of the room, for the supervisor's forecast.
    Copy {
        reply: oneshot::Sender<Box<Room>>,
    },
    /// Shutting down: refuse joins, start no calls, answer once no call or offer is left.
    Drain {
        reply: oneshot::Sender<()>,
    },
    /// The process is about to end: stop here, leaving the room as it is (what is still
    /// in progress is restored at the next start), and ignore the goodbyes that follow.
    Stop {
        reply: oneshot::Sender<()>,
    },
    /// This node no longer owns the desk (see `crate::cluster`): tell every connection to
    /// reconnect, and stop as for [`Msg::Stop`]; the new owner restores the room.
    HandOver {
        reply: oneshot::Sender<()>,
    },
}

/// An entry the last run left in the room, with what the desk shows about it.
#[derive(Clone, Debug)]
pub struct SavedEntry {
    pub saved: Saved,
    pub info: EntryInfo,
}

/// What the last run left of a desk: its waiting room, the supervisors' changes to its
/// schedule, and the day so far.
#[derive(Clone, Debug, Default)]
pub struct SavedDesk {
    pub entries: Vec<SavedEntry>,
    pub overrides: Vec<Override>,
    /// What today's records say happened before the restart.
    pub today: Today,
}

/// What a reattached citizen is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachedAs {
    Waiting,
    InCall,
}

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("the desk is shutting down")]
    Gone,
}

/// A cheap, cloneable handle to a desk's actor.
#[derive(Clone)]
pub struct DeskHandle {
    pub id: DeskId,
    pub name: String,
    pub prefix: String,
    pub time_zone: jiff::tz::TimeZone,
    tx: mpsc::Sender<Msg>,
    status: watch::Receiver<DeskStatus>,
}

impl DeskHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Msg) -> Result<T, DeskError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| DeskError::Gone)?;
        Ok(rx.await.map_err(|_| DeskError::Gone)??)
    }

    pub fn status(&self) -> DeskStatus {
        self.status.borrow().clone()
    }

    pub async fn can_join(&self) -> Result<(), DeskError> {
        self.ask(|reply| Msg::CanJoin { reply }).await
    }

    pub async fn join(
        &self,
        entry: EntryId,
        info: EntryInfo,
        class: Class,
        outbox: Outbox,
    ) -> Result<(), DeskError> {
        self.ask(|reply| Msg::Join {
            entry,
            info,
            class,
            outbox,
            reply,
        })
        .await
    }

    pub async fn attach(&self, entry: EntryId, outbox: Outbox) -> Result<AttachedAs, DeskError> {
        self.ask(|reply| Msg::Attach {
            entry,
            outbox,
            reply,
        })
        .await
    }

    pub async fn on_duty(
        &self,
        officer: UserId,
        name: String,
        outbox: Outbox,
    ) -> Result<(), DeskError> {
        self.ask(|reply| Msg::OnDuty {
            officer,
            name,
            outbox,
            reply,
        })
        .await
    }

    pub async fn command(&self, cmd: Command) -> Result<(), DeskError> {
        self.ask(|reply| Msg::Cmd { cmd, reply }).await
    }

    /// Tells the desk a connection ended. Never waits: if the mailbox is full the goodbye
    /// is delivered by a task, so a closing connection cannot stall.
    pub fn citizen_gone(&self, entry: EntryId, conn: ConnId) {
        self.send_later(Msg::CitizenGone { entry, conn });
    }

    pub fn officer_gone(&self, officer: UserId, conn: ConnId) {
        self.send_later(Msg::OfficerGone { officer, conn });
    }

    /// One side's media in `entry`'s call stopped reaching the server, or is back: shown
    /// to the desk's watchers with the officer in that call.
    pub fn media_state(&self, entry: EntryId, side: MediaSide, reconnecting: bool) {
        self.send_later(Msg::MediaState {
            entry,
            side,
            reconnecting,
        });
    }

    pub fn watch(&self, outbox: Outbox) {
        self.send_later(Msg::Watch { outbox });
    }

    pub fn unwatch(&self, conn: ConnId) {
        self.send_later(Msg::Unwatch { conn });
    }

    pub async fn view(&self) -> Result<Arc<DeskView>, DeskError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::View { reply })
            .await
            .map_err(|_| DeskError::Gone)?;
        rx.await.map_err(|_| DeskError::Gone)
    }

    /// A copy of the desk's room as it is now. The forecast runs the copy forward on a
    /// virtual clock; the live room stays with the actor.
    pub async fn room_copy(&self) -> Result<Box<Room>, DeskError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Copy { reply })
            .await
            .map_err(|_| DeskError::Gone)?;
        rx.await.map_err(|_| DeskError::Gone)
    }

    /// Starts draining the desk (see [`Msg::Drain`]); completes when no call or offer is
    /// left, or at once if the actor is gone.
    pub async fn drain(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Drain { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops the actor (see [`Msg::Stop`]); later requests get [`DeskError::Gone`].
    pub async fn stop(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Stop { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Hands the desk over (see [`Msg::HandOver`]): its connections are told to go, then
    /// the actor stops.
    pub async fn hand_over(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::HandOver { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }

    fn send_later(&self, msg: Msg) {
        if let Err(mpsc::error::TrySendError::Full(msg)) = self.tx.try_send(msg) {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(msg).await;
            });
        }
    }
}

struct Actor {
    id: DeskId,
    room: Room,
    clock: Clock,
    entries: HashMap<EntryId, Arc<EntryInfo>>,
    /// When each entry joined and, once answered, when its call began (for metrics).
    times: HashMap<EntryId, (Timestamp, Option<Timestamp>)>,
    citizens: HashMap<EntryId, Outbox>,
    officers: HashMap<UserId, Outbox>,
    watchers: Vec<Outbox>,
    /// Calls whose media one side is reconnecting, and whose (the other side's connection
    /// reported it; see [`Msg::MediaState`]).
    reconnecting: HashMap<EntryId, MediaSide>,
    records: mpsc::Sender<RecordJob>,
    /// The SFU: a call's legs forward to each other from its start to its end.
    media: Option<Sfu>,
    status: watch::Sender<DeskStatus>,
    dirty: bool,
    /// Answered once the room, draining, has no call or offer left.
    drained: Vec<oneshot::Sender<()>>,
}

/// Starts the actor for one desk with what the last run left (see `Room::restore` and
/// `Room::recall_today`; empty on a first start).
pub fn spawn_desk(
    cfg: &DeskConfig,
    clock: Clock,
    records: mpsc::Sender<RecordJob>,
    saved: SavedDesk,
    media: Option<Sfu>,
) -> DeskHandle {
    let now = clock.now();
    let mut entries = HashMap::new();
    let mut times = HashMap::new();
    let saved_entries = saved
        .entries
        .into_iter()
        .map(|s| {
            times.insert(s.saved.entry, (s.saved.joined_at, None));
            entries.insert(s.saved.entry, Arc::new(s.info));
            s.saved
        })
        .collect();
    let schedule = Schedule::with_overrides(cfg.schedule.clone(), saved.overrides);
    let (mut room, restored) = Room::restore(cfg.policy.clone(), schedule, saved_entries, now);
    room.recall_today(&saved.today, now);
    let (window, next_window) = window_and_next(room.schedule(), now);
    let status0 = DeskStatus {
        window,
        next_window,
        waiting: 0,
        in_call: 0,
        officers_on_duty: 0,
    };
    let (status_tx, status_rx) = watch::channel(status0);
    let (tx, rx) = mpsc::channel(MAILBOX);
    let actor = Actor {
        id: cfg.id.clone(),
        room,
        clock,
        entries,
        times,
        citizens: HashMap::new(),
        officers: HashMap::new(),
        watchers: Vec::new(),
        reconnecting: HashMap::new(),
        records,
        media,
        status: status_tx,
        dirty: true,
        drained: Vec::new(),
    };
    tokio::spawn(actor.run(rx, restored));
    DeskHandle {
        id: cfg.id.clone(),
        name: cfg.name.clone(),
        prefix: cfg.prefix.clone(),
        time_zone: cfg.schedule.time_zone().clone(),
        tx,
        status: status_rx,
    }
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, restored: Vec<Effect>) {
        if !self.room.is_empty() {
            tracing::info!(desk = %self.id, entries = self.room.len(), "waiting room restored");
        }
        let now = self.clock.now();
        self.route(restored, now).await;
        self.publish_status(now);
        let mut snapshots = tokio::time::interval(SNAPSHOT_EVERY);
        snapshots.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let now = self.clock.now();
            let deadline = self
                .room
                .next_deadline(now)
                .map(|t| self.clock.instant_at(t));
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Stop { reply }) => {
                        let _ = reply.send(());
                        break;
                    }
                    Some(Msg::HandOver { reply }) => {
                        let conns = self.citizens.values().chain(self.officers.values());
                        for out in conns.chain(self.watchers.iter()) {
                            out.push(Outbound::Moved);
                        }
                        let _ = reply.send(());
                        break;
                    }
                    Some(msg) => {
                        self.on_msg(msg).await;
                        self.check_drained();
                    }
                    None => break,
                },
                () = sleep => {
                    let now = self.clock.now();
                    let fx = self.room.tick(now);
                    self.route(fx, now).await;
                    // Window edges change the status even when nobody is there.
                    self.publish_status(now);
                    self.check_drained();
                }
                _ = snapshots.tick(), if self.dirty && !self.watchers.is_empty() => self.send_snapshot(),
            }
        }
        tracing::debug!(desk = %self.id, "desk actor stopped");
    }

    async fn on_msg(&mut self, msg: Msg) {
        let now = self.clock.now();
        match msg {
            Msg::CanJoin { reply } => {
                let r = match self.room.schedule().status(now) {
                    _ if self.room.is_draining() => Err(RoomError::ShuttingDown),
                    WindowStatus::Closed { next } => Err(RoomError::WindowClosed { next }),
                    WindowStatus::Open(_) if self.room.len() >= self.room.policy().max_waiting => {
                        Err(RoomError::QueueFull)
                    }
                    WindowStatus::Open(_) => Ok(()),
                };
                let _ = reply.send(r);
            }
            Msg::Join {
                entry,
                info,
                class,
                outbox,
                reply,
            } => {
                let cmd = Command::Join {
                    entry,
                    intake: info.intake.clone(),
                    class,
                };
                self.entries.insert(entry, Arc::new(info));
                self.citizens.insert(entry, outbox);
                match self.room.handle(cmd, now) {
                    Ok(fx) => {
                        self.times.insert(entry, (now, None));
                        let wrote = self.route(fx, now).await;
                        self.reply_when_written(wrote, reply);
                    }
                    Err(e) => {
                        self.entries.remove(&entry);
                        self.citizens.remove(&entry);
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Msg::Attach {
                entry,
                outbox,
                reply,
            } => {
                if !self.room.contains(entry) {
                    let _ = reply.send(Err(RoomError::UnknownEntry));
                    return;
                }
                if let Some(old) = self.citizens.insert(entry, outbox) {
                    old.push(Outbound::Superseded);
                }
                let state = if self.room.call_of(entry).is_some() {
                    AttachedAs::InCall
                } else {
                    AttachedAs::Waiting
                };
                let _ = reply.send(Ok(state));
                self.apply(Command::CitizenBack { entry }, now).await;
            }
            Msg::CitizenGone { entry, conn } => {
                if self.citizens.get(&entry).is_some_and(|o| o.conn == conn) {
                    self.citizens.remove(&entry);
                    if self.room.contains(entry) {
                        self.apply(Command::CitizenLost { entry }, now).await;
                    }
                }
            }
            Msg::OnDuty {
                officer,
                name,
                outbox,
                reply,
            } => {
                if let Some(old) = self.officers.insert(officer, outbox) {
                    if old.conn != self.officers[&officer].conn {
                        old.push(Outbound::Superseded);
                    }
                }
                let r = self.room.handle(Command::OnDuty { officer, name }, now);
                self.reply_and_route(r, reply, now).await;
            }
            Msg::OfficerGone { officer, conn } => {
                if self.officers.get(&officer).is_some_and(|o| o.conn == conn) {
                    self.officers.remove(&officer);
                    if self.room.duty(officer) != crate::core::room::DutyState::Off {
                        self.apply(Command::OfficerLost { officer }, now).await;
                    }
                }
            }
            Msg::Cmd { cmd, reply } => {
                let r = self.room.handle(cmd, now);
                self.reply_and_route(r, reply, now).await;
            }
            Msg::Watch { outbox } => {
                self.watchers.retain(|w| w.conn != outbox.conn);
                outbox.push(Outbound::Desk(self.view(now)));
                self.watchers.push(outbox);
            }
            Msg::MediaState {
                entry,
                side,
                reconnecting,
            } => {
                let changed = if reconnecting {
                    self.reconnecting.insert(entry, side) != Some(side)
                } else {
                    self.reconnecting.remove(&entry).is_some()
                };
                if changed {
                    self.dirty = true;
                }
            }
            Msg::Unwatch { conn } => self.watchers.retain(|w| w.conn != conn),
            Msg::View { reply } => {
                let _ = reply.send(self.view(now));
            }
            Msg::Copy { reply } => {
                let _ = reply.send(Box::new(self.room.clone()));
            }
            Msg::Drain { reply } => {
                self.apply(Command::Drain, now).await;
                self.drained.push(reply);
            }
            // Handled by the loop in `run`.
            Msg::Stop { reply } | Msg::HandOver { reply } => {
                let _ = reply.send(());
            }
        }
    }

    /// Answers drain requests once no call or offer is left.
    fn check_drained(&mut self) {
        if !self.drained.is_empty() && !self.room.is_busy() {
            for reply in self.drained.drain(..) {
                let _ = reply.send(());
            }
        }
    }

    /// Replies `Ok` now, or, when the command wrote record notes, once the record writer
    /// has committed them: an acknowledged command is on disk. The actor does not wait.
    fn reply_when_written(&self, wrote: bool, reply: Reply<()>) {
        if !wrote {
            let _ = reply.send(Ok(()));
            return;
        }
        let (done, written) = oneshot::channel();
        let records = self.records.clone();
        tokio::spawn(async move {
            if records.send(RecordJob::Flushed(done)).await.is_ok() {
                let _ = written.await;
            }
            let _ = reply.send(Ok(()));
        });
    }

    async fn apply(&mut self, cmd: Command, now: Timestamp) {
        match self.room.handle(cmd, now) {
            Ok(fx) => {
                self.route(fx, now).await;
            }
            Err(e) => tracing::debug!(desk = %self.id, error = %e, "command not applied"),
        }
    }

    async fn reply_and_route(
        &mut self,
        r: Result<Vec<Effect>, RoomError>,
        reply: Reply<()>,
        now: Timestamp,
    ) {
        match r {
            Ok(fx) => {
                let wrote = self.route(fx, now).await;
                self.reply_when_written(wrote, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn view(&mut self, now: Timestamp) -> Arc<DeskView> {
        let view = self.room.view(now);
        let references = view
            .queue
            .iter()
            .map(|q| {
                self.entries
                    .get(&q.entry)
                    .map(|i| i.reference.clone())
                    .unwrap_or_default()
            })
            .collect();
        // Only calls still going on: an ended call's report is forgotten.
        self.reconnecting
            .retain(|e, _| view.officers.iter().any(|o| o.entry == Some(*e)));
        Arc::new(DeskView {
            desk: self.id.clone(),
            view,
            references,
            reconnecting: self.reconnecting.clone(),
        })
    }

    fn send_snapshot(&mut self) {
        self.dirty = false;
        let view = self.view(self.clock.now());
        self.watchers
            .retain(|w| w.push(Outbound::Desk(view.clone())));
    }

    /// Delivers a batch of effects in order. Returns whether any record note was sent.
    async fn route(&mut self, fx: Vec<Effect>, now: Timestamp) -> bool {
        if fx.is_empty() {
            return false;
        }
        self.dirty = true;
        let mut wrote = false;
        let mut finished = Vec::new();
        // A citizen's last note (their call ended, they left, their place carried over) is
        // held until the record that says so is committed: told "your call has ended", a
        // citizen goes away, and a crash in between would otherwise restore them into a
        // call they are no longer in and record it abandoned. Nothing else is sent to them
        // from this desk after that note, so holding it reorders nothing.
        let writes = fx
            .iter()
            .any(|e| matches!(e, Effect::Record(_) | Effect::Schedule(_)));
        let mut held = Vec::new();
        // An officer's `call_ended` waits the same way, and so does everything queued to
        // that officer after it (a gate in their outbox keeps the order), so that an
        // officer told the citizen hung up is never contradicted by a restart.
        let mut gate: Option<(GateKey, Gate)> = None;
        for effect in fx {
            match effect {
                Effect::Citizen(entry, note) => {
                    if let Some(out) = self.citizens.get(&entry) {
                        let last = matches!(
                            note,
                            CitizenNote::CallEnded { .. }
                                | CitizenNote::CarriedOver { .. }
                                | CitizenNote::Left { .. }
                        );
                        if last && writes {
                            held.push((out.clone(), Outbound::Citizen(note)));
                        } else {
                            out.push(Outbound::Citizen(note));
                        }
                    }
                }
                Effect::Officer(officer, note) => {
                    let about = officer_note_entry(&note)
                        .and_then(|e| self.entries.get(&e).map(|i| (e, i.clone())));
                    if let Some(out) = self.officers.get(&officer) {
                        if writes && matches!(note, OfficerNote::CallEnded { .. }) {
                            let (_, g) = gate.get_or_insert_with(Gate::new);
                            out.push(Outbound::AfterWrite(g.clone()));
                        }
                        out.push(Outbound::Officer(note, about));
                    }
                }
                Effect::Record(note) => {
                    self.observe(&note, now);
                    if let RecordNote::Ended { entry, .. }
                    | RecordNote::Abandoned { entry, .. }
                    | RecordNote::CarriedOver { entry, .. } = note
                    {
                        finished.push(entry);
                    }
                    // Waits for room rather than dropping: a record is never lost.
                    let job = RecordJob::Note {
                        desk: self.id.clone(),
                        note,
                        at: now,
                    };
                    if self.records.send(job).await.is_err() {
                        tracing::error!(desk = %self.id, "record writer is gone; record note lost");
                    }
                    wrote = true;
                }
                Effect::Schedule(overrides) => {
                    let job = RecordJob::Overrides {
                        desk: self.id.clone(),
                        overrides,
                    };
                    if self.records.send(job).await.is_err() {
                        tracing::error!(desk = %self.id, "record writer is gone; schedule change not kept");
                    }
                    wrote = true;
                }
                Effect::Call(note) => {
                    let Some(sfu) = &self.media else { continue };
                    match note {
                        CallNote::Start { entry, .. } => sfu.link(entry.0),
                        CallNote::Stop { entry } => sfu.close_call(entry.0),
                    }
                }
            }
        }
        for entry in finished {
            self.entries.remove(&entry);
            self.times.remove(&entry);
            self.citizens.remove(&entry);
        }
        if !held.is_empty() {
            self.deliver_when_written(held);
        }
        if let Some((key, _)) = gate {
            self.open_when_written(key);
        }
        self.publish_status(now);
        wrote
    }

    /// Opens `key`'s gates once the record writer has committed everything sent to it
    /// before. The actor does not wait.
    fn open_when_written(&self, key: GateKey) {
        let (done, written) = oneshot::channel();
        let records = self.records.clone();
        tokio::spawn(async move {
            if records.send(RecordJob::Flushed(done)).await.is_ok() {
                let _ = written.await;
            }
            key.open();
        });
    }

    /// Pushes notes once the record writer has committed everything sent to it before
    /// them. The actor does not wait.
    fn deliver_when_written(&self, notes: Vec<(Outbox, Outbound)>) {
        let (done, written) = oneshot::channel();
        let records = self.records.clone();
        tokio::spawn(async move {
            if records.send(RecordJob::Flushed(done)).await.is_ok() {
                let _ = written.await;
            }
            for (out, note) in notes {
                out.push(note);
            }
        });
    }

    /// Metrics from record notes.
    fn observe(&mut self, note: &RecordNote, now: Timestamp) {
        let desk = self.id.to_string();
        match note {
            RecordNote::Answered { entry, .. } => {
                if let Some((joined, answered)) = self.times.get_mut(entry) {
                    let wait = now.duration_since(*joined).as_secs_f64();
                    metrics::histogram!("sunwai_wait_seconds", "desk" => desk).record(wait);
                    *answered = Some(now);
                }
            }
            RecordNote::Ended { entry, .. } => {
                metrics::counter!("sunwai_calls_total", "desk" => desk.clone()).increment(1);
                if let Some((_, Some(answered))) = self.times.get(entry) {
                    let talk = now.duration_since(*answered).as_secs_f64();
                    metrics::histogram!("sunwai_call_seconds", "desk" => desk).record(talk);
                }
            }
            RecordNote::Abandoned { .. } => {
                metrics::counter!("sunwai_abandoned_total", "desk" => desk).increment(1)
            }
            RecordNote::CarriedOver { .. } => {
                metrics::counter!("sunwai_carried_over_total", "desk" => desk).increment(1)
            }
            _ => {}
        }
    }

    fn publish_status(&mut self, now: Timestamp) {
        let (waiting, in_call, officers_on_duty, calls_today) = self.room.counts();
        let (window, next_window) = window_and_next(self.room.schedule(), now);
        let status = DeskStatus {
            window,
            next_window,
            waiting,
            in_call,
            officers_on_duty,
        };
        let desk = self.id.to_string();
        metrics::gauge!("sunwai_waiting", "desk" => desk.clone()).set(waiting);
        metrics::gauge!("sunwai_calls_in_progress", "desk" => desk.clone()).set(in_call);
        metrics::gauge!("sunwai_officers_on_duty", "desk" => desk.clone()).set(officers_on_duty);
        metrics::gauge!("sunwai_calls_today", "desk" => desk).set(calls_today);
        self.status.send_replace(status);
    }
}

/// What can be said about a desk this node does not serve: its configured schedule at
/// `now` (without supervisor overrides), and no counts.
pub fn scheduled_status(cfg: &DeskConfig, now: Timestamp) -> DeskStatus {
    let (window, next_window) = window_and_next(&Schedule::new(cfg.schedule.clone()), now);
    DeskStatus {
        window,
        next_window,
        waiting: 0,
        in_call: 0,
        officers_on_duty: 0,
    }
}

/// The window status at `now` and, while one is open, the window after it.
fn window_and_next(schedule: &Schedule, now: Timestamp) -> (WindowStatus, Option<Window>) {
    let status = schedule.status(now);
    let next = match status {
        WindowStatus::Open(w) => schedule.next_window_after(w.closes_at),
        WindowStatus::Closed { .. } => None,
    };
    (status, next)
}

fn officer_note_entry(note: &OfficerNote) -> Option<EntryId> {
    match note {
        OfficerNote::Duty(_) => None,
        OfficerNote::Offer { entry, .. }
        | OfficerNote::OfferWithdrawn { entry, .. }
        | OfficerNote::CallStarted { entry }
        | OfficerNote::PeerLost { entry }
        | OfficerNote::CallResumed { entry }
        | OfficerNote::CallEnded { entry, .. } => Some(*entry),
    }
}

#[cfg(test)]
mod tests;
