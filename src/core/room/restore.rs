//! Rebuilding a waiting room after the server stopped, whether cleanly or not.
//!
//! What survives a restart is what the record notes said: each entry still in the room has
//! a record (waiting or in a call) and, normally, a persisted place (`RecordNote::Placed`).
//! [`Room::restore`] takes those entries and rebuilds the queue in the same order:
//!
//! - everyone is restored as disconnected, so their grace period starts now: whoever comes
//!   back with their ticket in time has their place, the others leave as `grace_expired`;
//! - a call that was in progress is over (its media is gone): the citizen is put at the
//!   front, the record says `Interrupted { reason: ServerRestart }`, and the officer may
//!   resume the same call by going on duty within their grace period;
//! - an entry whose place was never written (the server stopped between the join and the
//!   write) goes after those with places, in the order given, with a fresh place.
//!
//! Restoring never refuses anyone: `max_waiting` and the window decide joins, not returns.
//!
//! [`Room::recall_today`] then takes up what today's records say happened before the
//! restart: the wallboard's counters, and the call lengths the wait estimate learns from.

use jiff::Timestamp;

use super::*;

/// What today's records say happened at the desk before a restart, for
/// [`Room::recall_today`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Today {
    /// The talk time of each call that ended today, oldest first.
    pub calls: Vec<SignedDuration>,
    /// How long each citizen answered today had waited.
    pub waits: Vec<SignedDuration>,
    pub abandoned: u32,
    pub carried_over: u32,
}

impl Room {
    /// Takes up today's counters and call lengths from before a restart, so that the
    /// wallboard does not start from zero and the wait estimates from the assumed call
    /// length. Call once, right after [`Room::restore`], with the records of the desk's
    /// local day of `now`.
    pub fn recall_today(&mut self, today: &Today, now: Timestamp) {
        self.roll_day(now);
        for &talk in &today.calls {
            self.estimator.record_call(talk);
            self.stats.calls += 1;
            self.stats.total_talk += talk;
        }
        for &waited in &today.waits {
            self.stats.answered += 1;
            self.stats.total_wait += waited;
        }
        self.stats.abandoned += today.abandoned;
        self.stats.carried_over += today.carried_over;
    }
}

/// An entry as an earlier run of the server left it, for [`Room::restore`].
#[derive(Clone, Debug, PartialEq)]
pub struct Saved {
    pub entry: EntryId,
    pub intake: Intake,
    pub joined_at: Timestamp,
    /// The persisted place, if it was written.
    pub place: Option<(Class, u64)>,
    /// The officer it was in a call with when the server stopped, if it was in a call.
    pub in_call_with: Option<UserId>,
}

impl Room {
    /// A room holding `saved` (in the order the store gives: by place, then the placeless
    /// ones oldest first), with the effects of restoring it: the interrupted calls' record
    /// notes, the places that changed, and anything the first settle does (at a closed
    /// window with nobody on duty, that is carrying everyone over). A duplicate entry is
    /// restored once; a place used twice is given a fresh one.
    pub fn restore(
        policy: Policy,
        schedule: Schedule,
        saved: Vec<Saved>,
        now: Timestamp,
    ) -> (Room, Vec<Effect>) {
        let mut room = Room::new(policy, schedule);
        let mut fx = Vec::new();
        room.observe_window(now, &mut fx);
        room.next_seq = saved
            .iter()
            .filter_map(|s| s.place.map(|(_, seq)| seq))
            .max()
            .unwrap_or(0);
        // Stable: entries with a place by place, the rest after them as given.
        let mut saved = saved;
        saved.sort_by_key(|s| s.place.map_or((1, None), |p| (0, Some(p))));
        let mut interrupted = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in saved {
            if !seen.insert(s.entry) {
                continue;
            }
            let Some(officer) = s.in_call_with else {
                let key = match s.place {
                    Some(p) if !room.order.contains_key(&p) => p,
                    other => {
                        let key = (other.map_or(Class::Normal, |(c, _)| c), room.take_seq());
                        fx.push(placed(s.entry, key));
                        key
                    }
                };
                room.insert_lost(s, key, None, now);
                continue;
            };
            interrupted.push((s, officer));
        }
        // Calls cut by the stop go to the front, behind anyone already put there.
        let until = now + room.policy.officer_grace;
        for (s, officer) in interrupted {
            let key = (Class::Interrupted, room.take_seq());
            let entry = s.entry;
            room.insert_lost(s, key, Some((officer, until)), now);
            fx.push(Effect::Record(RecordNote::Interrupted {
                entry,
                officer,
                reason: InterruptReason::ServerRestart,
            }));
            fx.push(placed(entry, key));
        }
        room.roll_day(now);
        room.settle(now, &mut fx);
        (room, fx)
    }
}

impl Room {
    /// Puts a restored entry in the queue at `key`, disconnected since `now`.
    fn insert_lost(
        &mut self,
        s: Saved,
        key: (Class, u64),
        held_for: Option<(UserId, Timestamp)>,
        now: Timestamp,
    ) {
        self.entries.insert(
            s.entry,
            Entry {
                intake: s.intake,
                joined_at: s.joined_at,
                key,
                state: EntryState::Waiting,
                lost_since: Some(now),
                declined_by: Vec::new(),
                told: None,
                held_for,
            },
        );
        self.order.insert(key, s.entry);
    }
}

fn placed(entry: EntryId, (class, seq): (Class, u64)) -> Effect {
    Effect::Record(RecordNote::Placed { entry, class, seq })
}
