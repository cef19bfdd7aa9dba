//! The event loop. One `core::room::Room` runs through every simulated day, exactly as a
//! desk actor runs it: commands go in through `handle`, timers fire through `tick` at
//! `next_deadline`, and everything the simulator knows about what happened comes back out
//! of the room as effects — offers to officers, positions and estimates told to citizens,
//! and the record notes (answered, ended, abandoned, carried over) that the server writes
//! to complaint records.
//!
//! Future events the simulator itself schedules (arrivals, officers accepting an offer,
//! calls ending, citizens giving up, officers coming on and going off duty) wait in a
//! priority queue, interleaved with the room's own deadlines.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::model::{Behaviour, CallLength, Patience};
use super::profile::Arrivals;
use crate::core::ids::{EntryId, UserId};
use crate::core::intake::{Intake, Language, Mobile};
use crate::core::room::CitizenNote;
use crate::core::room::{
    CarryReason, Class, ClosePolicy, Command, DutyState, Effect, OfficerNote, Policy, RecordNote,
    Room, RoomError,
};
use crate::core::schedule::{Schedule, ScheduleSpec, Window};

/// One officer's shift, in the desk's local time on the day of the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift {
    pub start: Time,
    /// `None`: until the queue is empty after the window closes.
    pub end: Option<Time>,
}

impl Shift {
    /// "12:00-14:00", or "12:00-" for "until the queue is empty".
    pub fn parse(s: &str) -> Option<Shift> {
        let (a, b) = s.trim().split_once('-')?;
        let start: Time = a.trim().parse().ok()?;
        let b = b.trim();
        let end = if b.is_empty() {
            None
        } else {
            let end: Time = b.parse().ok()?;
            (end > start).then_some(end)?;
            Some(end)
        };
        Some(Shift { start, end })
    }
}

/// Who is on duty each day.
#[derive(Clone, Debug, PartialEq)]
pub enum Officers {
    /// This many, on duty from the opening until the queue is empty after the close.
    Count(u32),
    /// One shift per officer.
    Roster(Vec<Shift>),
}

impl Officers {
    pub fn describe(&self) -> String {
        match self {
            Officers::Count(n) => format!("{n}, from the opening until the queue is empty"),
            Officers::Roster(shifts) => shifts
                .iter()
                .map(|s| match s.end {
                    Some(e) => format!("{}-{}", s.start.strftime("%H:%M"), e.strftime("%H:%M")),
                    None => format!("{}-", s.start.strftime("%H:%M")),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    fn count(&self) -> usize {
        match self {
            Officers::Count(n) => *n as usize,
            Officers::Roster(s) => s.len(),
        }
    }
}

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The desk's policies, as configured.
    pub policy: Policy,
    /// The desk's hearing windows, as configured. Each window is one simulated day.
    pub schedule: ScheduleSpec,
    /// The first simulated window is the first to open on or after this date.
    pub first_day: Date,
    pub days: u32,
    pub arrivals: Arrivals,
    /// Expected arrivals per window (built-in profiles).
    pub calls: f64,
    pub call_length: CallLength,
    pub officers: Officers,
    pub patience: Patience,
    pub behaviour: Behaviour,
    pub seed: u64,
    /// Citizens arriving this soon after the opening are simulated but left out of the
    /// figures (to measure a steady state without the empty room at the opening).
    pub warmup: SignedDuration,
}

impl Scenario {
    /// The hearing day of the issue: the default desk (12:00–14:00 in Asia/Kolkata, default
    /// policies), rush at opening, 72 citizens, 6-minute calls (lognormal, cv 0.5), four
    /// officers, patience 20 minutes on average.
    pub fn hearing_day(officers: u32) -> Scenario {
        let spec = ScheduleSpec::parse("Asia/Kolkata", &["12:00-14:00".into()], &[], &[])
            .expect("the default schedule is valid");
        Scenario {
            policy: Policy::default(),
            schedule: spec,
            first_day: Date::constant(2026, 11, 30),
            days: 1,
            arrivals: Arrivals::rush(),
            calls: 72.0,
            call_length: CallLength::LogNormal {
                mean_secs: 360.0,
                cv: 0.5,
            },
            officers: Officers::Count(officers),
            patience: Patience::Exponential {
                mean: SignedDuration::from_secs(20 * 60),
            },
            behaviour: Behaviour::default(),
            seed: 1,
            warmup: SignedDuration::ZERO,
        }
    }
}

/// What a citizen was told in one position note.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Told {
    pub at: Timestamp,
    pub position: u32,
    pub estimate: Option<SignedDuration>,
    pub reachable: bool,
}

/// How a citizen's visit ended, from the room's record notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The room refused the join (window closed, queue full).
    Refused,
    /// Still in the room (only while running).
    Waiting,
    /// `RecordNote::Answered`: the call started.
    Answered { at: Timestamp },
    /// `RecordNote::Abandoned`: gave up waiting.
    Abandoned { at: Timestamp },
    /// `RecordNote::CarriedOver` at joining: told they could not be reached today.
    CarriedAtJoin { at: Timestamp },
    /// `RecordNote::CarriedOver` when the window closed.
    CarriedAtClose { at: Timestamp },
}

#[derive(Clone, Debug)]
pub struct Citizen {
    pub entry: EntryId,
    pub arrived: Timestamp,
    /// How long their call lasts if they are answered (drawn before the day runs).
    pub talk: SignedDuration,
    pub patience: Option<SignedDuration>,
    /// How long the officer takes to accept their offer.
    pub accept_delay: SignedDuration,
    pub fate: Fate,
    /// Whether the room said their call ended (`RecordNote::Ended`).
    pub ended: bool,
    /// Every position note, in order; the first is what they were told at joining.
    pub told: Vec<Told>,
    /// When their call started or, for those who left without one, when it would have
    /// started had they stayed (see [`counterfactual_starts`]); `None` if never that day.
    pub start: Option<Timestamp>,
    /// Arrived after the warm-up: counted in the figures.
    pub measured: bool,
}

impl Citizen {
    /// The wait until the call started (or would have).
    pub fn wait(&self) -> Option<SignedDuration> {
        self.start.map(|s| s.duration_since(self.arrived))
    }

    pub fn joined(&self) -> bool {
        self.fate != Fate::Refused
    }
}

/// One simulated window.
#[derive(Clone, Debug)]
pub struct Day {
    pub window: Window,
    pub citizens: Vec<Citizen>,
    /// (time, citizens waiting), whenever it changed.
    pub queue: Vec<(Timestamp, u32)>,
    pub officer_on_duty: SignedDuration,
    pub officer_in_call: SignedDuration,
    /// The room's own day counters at the end of the day (calls ended, abandoned, carried
    /// over), for cross-checking.
    pub room_calls: u32,
    pub room_abandoned: u32,
    pub room_carried: u32,
    /// Every record note the room emitted, in order.
    pub records: Vec<RecordNote>,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub days: Vec<Day>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the desk has no hearing window after {0}")]
    NoWindow(Date),
    #[error("the waiting room refused a command the simulator expected to work: {0}")]
    Room(#[from] RoomError),
    #[error("the simulated day did not settle (stopped after {0} steps)")]
    Runaway(u64),
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    OnDuty(usize),
    OffDuty(usize),
    Arrive(usize),
    Accept(usize, EntryId),
    End(usize, EntryId),
    GiveUp(usize),
}

fn officer_id(i: usize) -> UserId {
    UserId(uuid::Uuid::from_u128(0x5_0000 + i as u128))
}

fn intake(n: usize) -> Intake {
    Intake {
        name: format!("Citizen {n}"),
        mobile: Mobile::parse("9876543210").expect("a valid mobile number"),
        area: "Kotwali".into(),
        category: "other".into(),
        description: String::new(),
        language: Language::Hindi,
    }
}

/// Per-day seeds: day `d` of seed `s` sees the same citizens whatever else changes.
fn day_rng(seed: u64, day: u32) -> StdRng {
    StdRng::seed_from_u64(seed ^ u64::from(day).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Runs the scenario day after day through one room.
pub fn simulate(sc: &Scenario) -> Result<Outcome, SimError> {
    simulate_with(sc, &mut || {})
}

/// [`simulate`], calling `day_done` after each simulated day (for a progress bar).
pub fn simulate_with(sc: &Scenario, day_done: &mut dyn FnMut()) -> Result<Outcome, SimError> {
    let tz = sc.schedule.time_zone().clone();
    let schedule = Schedule::new(sc.schedule.clone());
    let mut room = Room::new(sc.policy.clone(), Schedule::new(sc.schedule.clone()));
    let start = tz
        .to_timestamp(sc.first_day.to_datetime(Time::midnight()))
        .map_err(|_| SimError::NoWindow(sc.first_day))?;
    let mut cursor = start - SignedDuration::from_secs(1);
    let mut days = Vec::with_capacity(sc.days as usize);
    let mut next_entry: u128 = 1;
    for d in 0..sc.days {
        let window = schedule
            .next_window_after(cursor)
            .ok_or(SimError::NoWindow(sc.first_day))?;
        cursor = window.closes_at;
        let day = DayRun::new(sc, d, window, &mut next_entry).run(&mut room)?;
        days.push(day);
        day_done();
    }
    Ok(Outcome { days })
}

pub(super) struct DayRun<'a> {
    sc: &'a Scenario,
    window: Window,
    now: Timestamp,
    heap: BinaryHeap<Reverse<(Timestamp, u64)>>,
    events: Vec<Ev>,
    citizens: Vec<Citizen>,
    by_entry: HashMap<EntryId, usize>,
    arrivals_left: usize,
    officers: Vec<UserId>,
    on_duty: Vec<Option<Timestamp>>,
    in_call_since: Vec<Option<Timestamp>>,
    leave_after_call: Vec<bool>,
    offer_of: Vec<Option<EntryId>>,
    /// (time, index of the citizen offered) for every offer.
    offers: Vec<(Timestamp, usize)>,
    /// Times at which some officer was free with nobody to offer them.
    idle: Vec<Timestamp>,
    queue: Vec<(Timestamp, u32)>,
    on_duty_total: SignedDuration,
    in_call_total: SignedDuration,
    records: Vec<RecordNote>,
}

impl<'a> DayRun<'a> {
    pub(super) fn new(sc: &'a Scenario, d: u32, window: Window, next_entry: &mut u128) -> Self {
        let tz = sc.schedule.time_zone();
        let mut rng = day_rng(sc.seed, d);
        let times = sc.arrivals.draw(d as usize, window, tz, sc.calls, &mut rng);
        let citizens: Vec<Citizen> = times
            .into_iter()
            .map(|arrived| {
                let entry = EntryId(uuid::Uuid::from_u128(*next_entry));
                *next_entry += 1;
                Citizen {
                    entry,
                    arrived,
                    talk: sc.call_length.sample(&mut rng),
                    patience: sc.patience.sample(&mut rng),
                    accept_delay: sc.behaviour.sample_accept(&mut rng),
                    fate: Fate::Waiting,
                    ended: false,
                    told: Vec::new(),
                    start: None,
                    measured: arrived >= window.opens_at + sc.warmup,
                }
            })
            .collect();
        let n_off = sc.officers.count();
        let mut run = DayRun {
            sc,
            window,
            now: window
                .opens_at
                .min(citizens.first().map_or(window.opens_at, |c| c.arrived)),
            heap: BinaryHeap::new(),
            events: Vec::new(),
            by_entry: citizens
                .iter()
                .enumerate()
                .map(|(i, c)| (c.entry, i))
                .collect(),
            arrivals_left: citizens.len(),
            citizens,
            officers: (0..n_off).map(officer_id).collect(),
            on_duty: vec![None; n_off],
            in_call_since: vec![None; n_off],
            leave_after_call: vec![false; n_off],
            offer_of: vec![None; n_off],
            offers: Vec::new(),
            idle: Vec::new(),
            queue: Vec::new(),
            on_duty_total: SignedDuration::ZERO,
            in_call_total: SignedDuration::ZERO,
            records: Vec::new(),
        };
        let date = window.opens_at.to_zoned_datetime(tz.clone()).date();
        let local = |t: Time| {
            tz.to_timestamp(date.to_datetime(t))
                .unwrap_or(window.opens_at)
        };
        match &sc.officers {
            Officers::Count(n) => {
                for i in 0..*n as usize {
                    run.schedule(window.opens_at, Ev::OnDuty(i));
                }
            }
            Officers::Roster(shifts) => {
                for (i, s) in shifts.iter().enumerate() {
                    run.schedule(local(s.start), Ev::OnDuty(i));
                    if let Some(end) = s.end {
                        run.schedule(local(end), Ev::OffDuty(i));
                    }
                }
            }
        }
        for i in 0..run.citizens.len() {
            run.schedule(run.citizens[i].arrived, Ev::Arrive(i));
        }
        run.now = run
            .heap
            .peek()
            .map_or(window.opens_at, |r| r.0 .0)
            .min(run.now);
        run
    }

    /// A day already under way, for a forecast: everyone in `room` (a copy of a live desk's
    /// room) as they are at `now`, waiting, being offered or in a call, plus `arrivals`
    /// still to come and `extra` officers who come on duty at `now`. Officers marked away
    /// are taken to be back at once. Those waiting keep their place and their join time;
    /// their patience is drawn afresh from now (exponential patience has no memory). A call
    /// in progress lasts a draw of the call length longer than it has run so far. Only
    /// those waiting now and those still to come are `measured`.
    pub(super) fn resume(
        sc: &'a Scenario,
        room: &mut Room,
        window: Window,
        now: Timestamp,
        arrivals: &[Timestamp],
        extra: u32,
        rng: &mut StdRng,
    ) -> Result<Self, SimError> {
        let view = room.view(now);
        let mut citizens = Vec::with_capacity(view.queue.len() + arrivals.len());
        let fresh = |entry: EntryId, arrived: Timestamp, rng: &mut StdRng| Citizen {
            entry,
            arrived,
            talk: sc.call_length.sample(rng),
            patience: sc.patience.sample(rng),
            accept_delay: sc.behaviour.sample_accept(rng),
            fate: Fate::Waiting,
            ended: false,
            told: Vec::new(),
            start: None,
            measured: true,
        };
        for q in &view.queue {
            citizens.push(fresh(q.entry, now - q.waited, rng));
        }
        let mut calls = Vec::new();
        for (i, o) in view.officers.iter().enumerate() {
            if let (DutyState::InCall, Some(entry)) = (o.state, o.entry) {
                let ran = now.duration_since(o.since);
                let left = remaining_call(&sc.call_length, ran, rng);
                calls.push((i, citizens.len(), left));
                citizens.push(Citizen {
                    talk: ran + left,
                    fate: Fate::Answered { at: o.since },
                    start: Some(o.since),
                    measured: false,
                    ..fresh(entry, o.since, rng)
                });
            }
        }
        let first_new = citizens.len();
        // Ids for those still to come: any not already in the room.
        let mut next: u128 = 0x00F0_CA57 << 64;
        for at in arrivals {
            let entry = loop {
                next += 1;
                let id = EntryId(uuid::Uuid::from_u128(next));
                if !room.contains(id) {
                    break id;
                }
            };
            citizens.push(fresh(entry, *at, rng));
        }
        let mut officers: Vec<UserId> = view.officers.iter().map(|o| o.id).collect();
        let n_live = officers.len();
        officers.extend((0..extra as usize).map(officer_id));
        let n_off = officers.len();
        let mut run = DayRun {
            sc,
            window,
            now,
            heap: BinaryHeap::new(),
            events: Vec::new(),
            by_entry: citizens
                .iter()
                .enumerate()
                .map(|(i, c)| (c.entry, i))
                .collect(),
            arrivals_left: arrivals.len(),
            citizens,
            officers,
            on_duty: (0..n_off).map(|i| (i < n_live).then_some(now)).collect(),
            in_call_since: vec![None; n_off],
            leave_after_call: vec![false; n_off],
            offer_of: vec![None; n_off],
            offers: Vec::new(),
            idle: Vec::new(),
            queue: Vec::new(),
            on_duty_total: SignedDuration::ZERO,
            in_call_total: SignedDuration::ZERO,
            records: Vec::new(),
        };
        for (i, c, left) in calls {
            run.in_call_since[i] = Some(now);
            let entry = run.citizens[c].entry;
            run.schedule(now + left, Ev::End(i, entry));
        }
        for c in 0..first_new {
            if let Some(p) = run.citizens[c]
                .patience
                .filter(|_| run.citizens[c].measured)
            {
                run.schedule(now + p, Ev::GiveUp(c));
            }
        }
        for (i, o) in view.officers.iter().enumerate() {
            match (o.state, o.entry) {
                (DutyState::Offered, Some(entry)) => {
                    run.offer_of[i] = Some(entry);
                    if let Some(&c) = run.by_entry.get(&entry) {
                        let delay = run.citizens[c].accept_delay;
                        run.schedule(now + delay, Ev::Accept(i, entry));
                    }
                }
                (DutyState::Away, _) => {
                    let cmd = Command::Ready { officer: o.id };
                    run.handle(room, cmd)?;
                }
                _ => {}
            }
        }
        for i in n_live..n_off {
            run.schedule(now, Ev::OnDuty(i));
        }
        for c in first_new..run.citizens.len() {
            run.schedule(run.citizens[c].arrived, Ev::Arrive(c));
        }
        Ok(run)
    }

    pub(super) fn citizens(&self) -> &[Citizen] {
        &self.citizens
    }

    fn schedule(&mut self, at: Timestamp, ev: Ev) {
        self.heap.push(Reverse((at, self.events.len() as u64)));
        self.events.push(ev);
    }

    /// Runs the scheduled events and the room's timers in time order until the day has
    /// settled (the window closed, nobody left to arrive or waiting), or until `until`.
    pub(super) fn advance(
        &mut self,
        room: &mut Room,
        until: Option<Timestamp>,
    ) -> Result<(), SimError> {
        let mut steps: u64 = 0;
        loop {
            steps += 1;
            if steps > 10_000_000 {
                return Err(SimError::Runaway(steps));
            }
            if self.arrivals_left == 0 && room.is_empty() && self.now >= self.window.closes_at {
                break;
            }
            let next_ev = self.heap.peek().map(|r| r.0 .0);
            let deadline = room.next_deadline(self.now);
            let next = match (next_ev, deadline) {
                (Some(e), Some(d)) => e.min(d),
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => break,
            };
            if let Some(until) = until.filter(|u| next > *u) {
                self.now = until.max(self.now);
                break;
            }
            match (next_ev, deadline) {
                (e, Some(d)) if e.is_none_or(|e| d < e) => {
                    self.now = d.max(self.now);
                    let fx = room.tick(self.now);
                    self.absorb(room, fx);
                }
                _ => {
                    let Reverse((at, seq)) = self.heap.pop().expect("peeked");
                    self.now = at.max(self.now);
                    let ev = self.events[seq as usize];
                    self.apply(room, ev)?;
                }
            }
        }
        Ok(())
    }

    fn run(mut self, room: &mut Room) -> Result<Day, SimError> {
        self.advance(room, None)?;
        // The day is over: everyone still on duty goes home.
        for i in 0..self.officers.len() {
            if self.on_duty[i].is_some() {
                let fx = room.handle(
                    Command::OffDuty {
                        officer: self.officers[i],
                    },
                    self.now,
                )?;
                self.absorb(room, fx);
                self.went_off(i);
            }
        }
        let view = room.view(self.now);
        counterfactual_starts(
            &mut self.citizens,
            &self.offers,
            &self.idle,
            self.window.closes_at,
            self.sc.policy.close,
        );
        Ok(Day {
            window: self.window,
            citizens: self.citizens,
            queue: self.queue,
            officer_on_duty: self.on_duty_total,
            officer_in_call: self.in_call_total,
            room_calls: view.calls_today,
            room_abandoned: view.abandoned_today,
            room_carried: view.carried_over_today,
            records: self.records,
        })
    }

    fn went_off(&mut self, i: usize) {
        if let Some(since) = self.on_duty[i].take() {
            self.on_duty_total += self.now.duration_since(since);
        }
    }

    fn handle(&mut self, room: &mut Room, cmd: Command) -> Result<(), SimError> {
        let fx = room.handle(cmd, self.now)?;
        self.absorb(room, fx);
        Ok(())
    }

    fn apply(&mut self, room: &mut Room, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::OnDuty(i) => {
                if self.on_duty[i].is_none() {
                    self.on_duty[i] = Some(self.now);
                    let cmd = Command::OnDuty {
                        officer: self.officers[i],
                        name: format!("Officer {}", i + 1),
                    };
                    self.handle(room, cmd)?;
                }
            }
            Ev::OffDuty(i) => {
                if self.on_duty[i].is_some() {
                    if room.call_with(self.officers[i]).is_some() {
                        self.leave_after_call[i] = true;
                    } else {
                        self.go_off(room, i)?;
                    }
                }
            }
            Ev::Arrive(i) => {
                self.arrivals_left -= 1;
                let c = &self.citizens[i];
                let cmd = Command::Join {
                    entry: c.entry,
                    intake: intake(i),
                    class: Class::Normal,
                };
                match room.handle(cmd, self.now) {
                    Ok(fx) => {
                        if let Some(p) = self.citizens[i].patience {
                            self.schedule(self.now + p, Ev::GiveUp(i));
                        }
                        self.absorb(room, fx);
                    }
                    Err(RoomError::WindowClosed { .. } | RoomError::QueueFull) => {
                        self.citizens[i].fate = Fate::Refused;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ev::Accept(i, entry) => {
                if self.offer_of[i] == Some(entry) {
                    let cmd = Command::Accept {
                        officer: self.officers[i],
                        entry,
                    };
                    self.handle(room, cmd)?;
                }
            }
            Ev::End(i, entry) => {
                if room.call_with(self.officers[i]) == Some(entry) {
                    let cmd = Command::EndCall {
                        officer: self.officers[i],
                    };
                    self.handle(room, cmd)?;
                    if self.leave_after_call[i] {
                        self.go_off(room, i)?;
                    }
                }
            }
            Ev::GiveUp(i) => {
                let entry = self.citizens[i].entry;
                if room.contains(entry) && room.call_of(entry).is_none() {
                    self.handle(room, Command::Leave { entry })?;
                }
            }
        }
        Ok(())
    }

    fn go_off(&mut self, room: &mut Room, i: usize) -> Result<(), SimError> {
        self.leave_after_call[i] = false;
        let cmd = Command::OffDuty {
            officer: self.officers[i],
        };
        self.handle(room, cmd)?;
        self.went_off(i);
        Ok(())
    }

    fn officer_index(&self, id: UserId) -> Option<usize> {
        self.officers.iter().position(|o| *o == id)
    }

    /// Learns what happened from the room's effects, and schedules what people do next.
    fn absorb(&mut self, room: &Room, fx: Vec<Effect>) {
        let now = self.now;
        for f in fx {
            match f {
                Effect::Officer(o, note) => {
                    let Some(i) = self.officer_index(o) else {
                        continue;
                    };
                    match note {
                        OfficerNote::Offer { entry, .. } => {
                            self.offer_of[i] = Some(entry);
                            if let Some(&c) = self.by_entry.get(&entry) {
                                self.offers.push((now, c));
                                let delay = self.citizens[c].accept_delay;
                                self.schedule(now + delay, Ev::Accept(i, entry));
                            }
                        }
                        OfficerNote::OfferWithdrawn { .. } => self.offer_of[i] = None,
                        OfficerNote::Duty(state) => {
                            if state != DutyState::Offered {
                                self.offer_of[i] = None;
                            }
                            if state == DutyState::InCall {
                                self.in_call_since[i] = Some(now);
                            } else if let Some(since) = self.in_call_since[i].take() {
                                self.in_call_total += now.duration_since(since);
                            }
                        }
                        _ => {}
                    }
                }
                Effect::Citizen(
                    entry,
                    CitizenNote::Position {
                        position,
                        estimate,
                        reachable_today,
                        ..
                    },
                ) => {
                    if let Some(&c) = self.by_entry.get(&entry) {
                        self.citizens[c].told.push(Told {
                            at: now,
                            position,
                            estimate,
                            reachable: reachable_today,
                        });
                    }
                }
                Effect::Record(note) => {
                    self.record(&note);
                    self.records.push(note);
                }
                Effect::Citizen(..) | Effect::Call(_) | Effect::Schedule(_) => {}
            }
        }
        if self
            .officers
            .iter()
            .zip(&self.on_duty)
            .any(|(o, on)| on.is_some() && room.duty(*o) == DutyState::Ready)
            && self.idle.last() != Some(&now)
        {
            self.idle.push(now);
        }
        let waiting = room.counts().0;
        if self.queue.last().map(|q| q.1) != Some(waiting) {
            self.queue.push((now, waiting));
        }
    }

    fn record(&mut self, note: &RecordNote) {
        let now = self.now;
        let idx = |e: &EntryId| self.by_entry.get(e).copied();
        match note {
            RecordNote::Answered { entry, officer, .. } => {
                if let (Some(c), Some(i)) = (idx(entry), self.officer_index(*officer)) {
                    self.citizens[c].fate = Fate::Answered { at: now };
                    self.citizens[c].start = Some(now);
                    let talk = self.citizens[c].talk;
                    self.schedule(now + talk, Ev::End(i, *entry));
                }
            }
            RecordNote::Ended { entry, .. } => {
                if let Some(c) = idx(entry) {
                    self.citizens[c].ended = true;
                }
            }
            RecordNote::Abandoned { entry, .. } => {
                if let Some(c) = idx(entry) {
                    self.citizens[c].fate = Fate::Abandoned { at: now };
                }
            }
            RecordNote::CarriedOver { entry, reason, .. } => {
                if let Some(c) = idx(entry) {
                    self.citizens[c].fate = match reason {
                        CarryReason::BeyondWindow => Fate::CarriedAtJoin { at: now },
                        CarryReason::WindowClosed => Fate::CarriedAtClose { at: now },
                    };
                }
            }
            _ => {}
        }
    }
}

/// How much longer a call that has run `ran` lasts: a draw of the call length longer than
/// `ran` (tried a few times), or else a quarter of the mean, as the estimator assumes.
fn remaining_call(len: &CallLength, ran: SignedDuration, rng: &mut StdRng) -> SignedDuration {
    for _ in 0..32 {
        let d = len.sample(rng);
        if d > ran {
            return d - ran;
        }
    }
    super::from_secs(len.mean_secs() / 4.0)
}

/// For citizens who left without a call (gave up, or were handed a token at joining): when
/// would their call have started had they stayed? Service is first come, first served, so
/// after they left, the first offer to someone who joined after them, or the first moment
/// an officer was free with nobody waiting, is when it would have been their turn; the
/// officer's accept delay is then added. Exact for the room's ordering, since people behind
/// them never delay them. With the `carry_over` close policy a turn after the close never
/// comes.
pub fn counterfactual_starts(
    citizens: &mut [Citizen],
    offers: &[(Timestamp, usize)],
    idle: &[Timestamp],
    closes_at: Timestamp,
    close: ClosePolicy,
) {
    for (i, c) in citizens.iter_mut().enumerate() {
        let left = match c.fate {
            Fate::Abandoned { at } | Fate::CarriedAtJoin { at } => at,
            _ => continue,
        };
        let first_offer = offers
            .iter()
            .find(|(t, c)| *t >= left && *c > i)
            .map(|(t, _)| *t);
        let first_idle = idle[idle.partition_point(|t| *t < left)..].first().copied();
        let turn = match (first_offer, first_idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        c.start = turn
            .map(|t| t + c.accept_delay)
            .filter(|t| close == ClosePolicy::ServeAll || *t < closes_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_parse() {
        assert_eq!(
            Shift::parse("12:00-13:30"),
            Some(Shift {
                start: Time::constant(12, 0, 0, 0),
                end: Some(Time::constant(13, 30, 0, 0))
            })
        );
        assert_eq!(Shift::parse(" 12:30 - ").unwrap().end, None);
        assert_eq!(Shift::parse("14:00-12:00"), None);
        assert_eq!(Shift::parse("noon"), None);
    }

    #[test]
    fn a_day_runs_to_the_end_and_everyone_has_a_fate() {
        let sc = Scenario::hearing_day(4);
        let out = simulate(&sc).unwrap();
        let day = &out.days[0];
        assert!(day.citizens.len() > 40);
        for c in &day.citizens {
            assert_ne!(c.fate, Fate::Waiting, "{c:?}");
            if let Fate::Answered { .. } = c.fate {
                assert!(c.ended, "an answered call ends");
            }
        }
    }
}
