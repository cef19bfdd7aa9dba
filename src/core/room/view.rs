//! Read-only views of a room: the supervisor's wallboard snapshot, an officer's offer
//! details, and the invariant check used by tests.

use std::collections::{BTreeMap, HashSet};

use jiff::{SignedDuration, Timestamp};

use super::officer::duty_state;
use super::*;

#[derive(Clone, Debug, PartialEq)]
pub struct OfficerView {
    pub id: UserId,
    pub name: String,
    pub state: DutyState,
    pub entry: Option<EntryId>,
    pub since: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueItemView {
    pub entry: EntryId,
    pub name: String,
    pub category: String,
    pub waited: SignedDuration,
    pub connected: bool,
    pub offered: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoomView {
    pub at: Timestamp,
    pub window: WindowStatus,
    pub waiting: u32,
    pub longest_wait: SignedDuration,
    pub avg_wait: Option<SignedDuration>,
    pub avg_call: Option<SignedDuration>,
    pub calls_today: u32,
    pub abandoned_today: u32,
    pub carried_over_today: u32,
    /// How many of those waiting now are not expected to be reached before the close.
    pub projected_backlog_at_close: Option<u32>,
    pub categories: Vec<(String, u32)>,
    pub officers: Vec<OfficerView>,
    pub queue: Vec<QueueItemView>,
}

impl Room {
    pub fn view(&mut self, now: Timestamp) -> RoomView {
        self.roll_day(now);
        let window = self.schedule.status(now);
        let waits = self.estimate_all(now);
        let projected_backlog_at_close = match window {
            WindowStatus::Open(w) if !waits.is_empty() => {
                Some(waits.iter().filter(|d| now + **d >= w.closes_at).count() as u32)
            }
            _ => None,
        };
        self.scratch = waits;
        let mut categories: BTreeMap<&str, u32> = BTreeMap::new();
        let queue: Vec<QueueItemView> = self
            .order
            .values()
            .map(|id| {
                let e = &self.entries[id];
                *categories.entry(e.intake.category.as_str()).or_default() += 1;
                QueueItemView {
                    entry: *id,
                    name: e.intake.name.clone(),
                    category: e.intake.category.clone(),
                    waited: now.duration_since(e.joined_at),
                    connected: e.lost_since.is_none(),
                    offered: matches!(e.state, EntryState::Offered { .. }),
                }
            })
            .collect();
        let s = &self.stats;
        let avg = |total: SignedDuration, n: u32| (n > 0).then(|| total / n as i32);
        RoomView {
            at: now,
            window,
            waiting: queue.len() as u32,
            longest_wait: queue.iter().map(|q| q.waited).max().unwrap_or_default(),
            avg_wait: avg(s.total_wait, s.answered),
            avg_call: avg(s.total_talk, s.calls),
            calls_today: s.calls,
            abandoned_today: s.abandoned,
            carried_over_today: s.carried_over,
            projected_backlog_at_close,
            categories: categories
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            officers: self
                .officers
                .iter()
                .map(|(id, o)| OfficerView {
                    id: *id,
                    name: o.name.clone(),
                    state: duty_state(o.state),
                    entry: match o.state {
                        OfficerState::Offered { entry } | OfficerState::InCall { entry } => {
                            Some(entry)
                        }
                        _ => None,
                    },
                    since: o.since,
                })
                .collect(),
            queue,
        }
    }

    /// Cheap counts for status publishing: (waiting, in a call, officers on duty, calls today).
    pub fn counts(&self) -> (u32, u32, u32, u32) {
        let in_call = self
            .officers
            .values()
            .filter(|o| matches!(o.state, OfficerState::InCall { .. }))
            .count();
        (
            self.order.len() as u32,
            in_call as u32,
            self.officers.len() as u32,
            self.stats.calls,
        )
    }

    /// The intake and wait of an entry, for an officer's offer card.
    pub fn intake(&self, entry: EntryId) -> Option<&Intake> {
        self.entries.get(&entry).map(|e| &e.intake)
    }

    /// The officer a citizen is in a call with, if any.
    pub fn call_of(&self, entry: EntryId) -> Option<UserId> {
        match self.entries.get(&entry)?.state {
            EntryState::InCall { officer, .. } => Some(officer),
            _ => None,
        }
    }

    /// The citizen an officer is in a call with, if any.
    pub fn call_with(&self, officer: UserId) -> Option<EntryId> {
        match self.officers.get(&officer)?.state {
            OfficerState::InCall { entry } => Some(entry),
            _ => None,
        }
    }

    pub fn duty(&self, officer: UserId) -> DutyState {
        self.officers
            .get(&officer)
            .map_or(DutyState::Off, |o| duty_state(o.state))
    }

    /// Checks the structural invariants; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        let in_order: HashSet<EntryId> = self.order.values().copied().collect();
        if in_order.len() != self.order.len() {
            return Err("an entry appears twice in the queue order".into());
        }
        for (key, id) in &self.order {
            let e = self
                .entries
                .get(id)
                .ok_or("queue order names an entry not in the room")?;
            if e.key != *key {
                return Err("queue key disagrees with the entry".into());
            }
            if matches!(e.state, EntryState::InCall { .. }) {
                return Err("an entry in a call is still in the queue order".into());
            }
        }
        let mut busy: HashSet<UserId> = HashSet::new();
        for (id, e) in &self.entries {
            match e.state {
                EntryState::Waiting => {
                    if !in_order.contains(id) {
                        return Err("a waiting entry is missing from the queue order".into());
                    }
                }
                EntryState::Offered { officer, .. } | EntryState::InCall { officer, .. } => {
                    if !busy.insert(officer) {
                        return Err("an officer is with two citizens".into());
                    }
                    let o = self
                        .officers
                        .get(&officer)
                        .ok_or("an entry is with an officer not on duty")?;
                    let agrees = match (e.state, o.state) {
                        (EntryState::Offered { .. }, OfficerState::Offered { entry }) => {
                            entry == *id
                        }
                        (EntryState::InCall { .. }, OfficerState::InCall { entry }) => entry == *id,
                        _ => false,
                    };
                    if !agrees {
                        return Err("officer and entry disagree about an offer or call".into());
                    }
                    if matches!(e.state, EntryState::Offered { .. }) && !in_order.contains(id) {
                        return Err("an offered entry lost its place".into());
                    }
                }
            }
        }
        for (id, o) in &self.officers {
            if let OfficerState::Offered { entry } | OfficerState::InCall { entry } = o.state {
                if !busy.contains(id) || !self.entries.contains_key(&entry) {
                    return Err("an officer is with a citizen who is not with them".into());
                }
            }
        }
        // Positions are the ranks in `order`, so 1..=n with no gaps holds by construction;
        // check what citizens were last told agrees with that.
        let mut seen = HashSet::new();
        for e in self.entries.values() {
            if let (Some(t), true) = (e.told, self.order.contains_key(&e.key)) {
                if t.position == 0
                    || t.position as usize > self.order.len()
                    || !seen.insert(t.position)
                {
                    return Err(format!(
                        "told position {} is outside 1..={} or repeated",
                        t.position,
                        self.order.len()
                    ));
                }
            }
        }
        Ok(())
    }
}
