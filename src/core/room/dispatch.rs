//! Dispatch (who gets offered to whom), timers, window edges, and position updates.

use jiff::{SignedDuration, Timestamp};

use super::estimate::Availability;
use super::*;

/// While anyone waits, estimates are refreshed at least this often as time passes.
const REFRESH: SignedDuration = SignedDuration::from_secs(30);

impl Room {
    /// Citizens not yet in a call.
    pub(super) fn waiting_count(&self) -> usize {
        self.order.len()
    }

    pub(super) fn is_open(&self, now: Timestamp) -> bool {
        matches!(self.schedule.status(now), WindowStatus::Open(_))
    }

    /// Resets the day's counters when the desk's local date changes.
    pub(super) fn roll_day(&mut self, now: Timestamp) {
        let date = now
            .to_zoned_datetime(self.schedule.time_zone().clone())
            .date();
        if self.stats.date != Some(date) {
            self.stats = DayStats {
                date: Some(date),
                ..DayStats::default()
            };
        }
    }

    /// Notices the window opening or closing and applies the close policy.
    pub(super) fn observe_window(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let open = self.is_open(now);
        let was = self.was_open.replace(open);
        if was == Some(true) && !open {
            let policy = self.policy.close;
            if policy == ClosePolicy::ServeAll {
                for id in self.order.values() {
                    fx.push(Effect::Citizen(*id, CitizenNote::WindowClosed { policy }));
                }
            }
            // Carrying over (when the policy says so) happens in `dispatch`, which also
            // covers offers that come back after the close.
        }
    }

    pub(super) fn fire_timers(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let grace = self.policy.citizen_grace;
        let mut lost = Vec::new();
        let mut expired_offers = Vec::new();
        for (id, e) in &self.entries {
            if e.lost_since.is_some_and(|t| now >= t + grace) {
                lost.push(*id);
            } else if let EntryState::Offered {
                officer,
                expires_at,
            } = e.state
            {
                if now >= expires_at {
                    expired_offers.push((officer, *id));
                }
            }
        }
        // HashMap order is arbitrary; keep effects deterministic.
        lost.sort_by_key(|id| self.entries[id].key);
        expired_offers.sort_by_key(|(_, id)| self.entries[id].key);
        for (officer, id) in expired_offers {
            self.offer_timed_out(officer, id, now, fx);
        }
        for id in lost {
            match self.entries[&id].state {
                EntryState::InCall { .. } => self.end(id, EndedBy::CitizenLost, now, fx),
                EntryState::Offered { officer, .. } => {
                    self.withdraw_offer(officer, id, WithdrawReason::CitizenDisconnected, now, fx);
                    self.abandon(id, LeftBecause::GraceExpired, now, fx);
                }
                EntryState::Waiting => self.abandon(id, LeftBecause::GraceExpired, now, fx),
            }
        }
        let done: Vec<UserId> = self
            .officers
            .iter()
            .filter(|(_, o)| matches!(o.state, OfficerState::WrapUp { until } if now >= until))
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.set_officer(id, OfficerState::Ready, now, fx);
        }
    }

    /// Offers waiting citizens to free officers, longest-idle officer first; after the
    /// window closes, carries waiting citizens over when the policy says so or when no
    /// officer is left to serve them.
    pub(super) fn dispatch(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        if !self.is_open(now)
            && (self.policy.close == ClosePolicy::CarryOver || self.officers.is_empty())
        {
            let waiting: Vec<EntryId> = self
                .order
                .values()
                .copied()
                .filter(|id| self.entries[id].state == EntryState::Waiting)
                .collect();
            for id in waiting {
                self.carry_over(id, CarryReason::WindowClosed, now, fx);
            }
            return;
        }
        if self.draining {
            // Shutting down: calls in progress may finish, no new ones start.
            return;
        }
        let mut free: Vec<(Timestamp, UserId)> = self
            .officers
            .iter()
            .filter(|(_, o)| o.state == OfficerState::Ready)
            .map(|(id, o)| (o.since, *id))
            .collect();
        free.sort();
        for (_, officer) in free {
            // The first waiting citizen this officer has not declined; failing that, the
            // first waiting citizen at all, so that a citizen every officer has declined
            // is not stranded (declining means "someone else first", not "never").
            let available = |id: &EntryId| {
                let e = &self.entries[id];
                e.state == EntryState::Waiting && e.lost_since.is_none()
            };
            let next = self
                .order
                .values()
                .copied()
                .find(|id| available(id) && !self.entries[id].declined_by.contains(&officer))
                .or_else(|| self.order.values().copied().find(|id| available(id)));
            let Some(id) = next else { continue };
            let expires_at = now + self.policy.offer_timeout;
            let e = self
                .entries
                .get_mut(&id)
                .expect("entry found in queue order is in the room");
            e.state = EntryState::Offered {
                officer,
                expires_at,
            };
            let waited = now.duration_since(e.joined_at);
            let o = self
                .officers
                .get_mut(&officer)
                .expect("a free officer is on duty");
            // Time spent ready with nobody to take is not part of the pause between calls
            // that the estimator learns (wrap-up plus accepting): leave it out.
            if let Some(ended) = o.last_call_ended.as_mut() {
                if o.since > *ended {
                    *ended += now.duration_since(o.since);
                }
            }
            let name = o.name.clone();
            fx.push(Effect::Officer(
                officer,
                OfficerNote::Offer {
                    entry: id,
                    waited,
                    expires_at,
                },
            ));
            self.set_officer(officer, OfficerState::Offered { entry: id }, now, fx);
            fx.push(Effect::Citizen(id, CitizenNote::YouAreNext));
            fx.push(Effect::Record(RecordNote::Offered {
                entry: id,
                officer,
                officer_name: name,
            }));
        }
    }

    fn availability(&self) -> impl Iterator<Item = Availability> + '_ {
        self.officers.values().filter_map(|o| match o.state {
            OfficerState::Ready | OfficerState::Offered { .. } => Some(Availability::Now),
            OfficerState::InCall { .. } => Some(Availability::InCallSince(o.since)),
            OfficerState::WrapUp { until } => Some(Availability::Until(until)),
            OfficerState::Away => None,
        })
    }

    /// Estimated waits for everyone in queue order (empty when no officer can take calls).
    pub(super) fn estimate_all(&mut self, now: Timestamp) -> Vec<SignedDuration> {
        let mut out = std::mem::take(&mut self.scratch);
        let n = self.order.len();
        self.estimator.waits(now, self.availability(), n, &mut out);
        out
    }

    /// When the entry is expected to be reached, or `None` when nobody is on duty.
    pub(super) fn expected_start(&mut self, id: EntryId, now: Timestamp) -> Option<Timestamp> {
        let key = self.entries.get(&id)?.key;
        let position = self.order.range(..key).count();
        let waits = self.estimate_all(now);
        let start = waits.get(position).map(|w| now + *w);
        self.scratch = waits;
        start
    }

    pub(super) fn officers_on_duty(&self) -> u32 {
        self.officers.len() as u32
    }

    /// Tells every waiting citizen whose position, estimate or reachability changed.
    pub(super) fn publish_positions(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let waits = self.estimate_all(now);
        let closes_at = match self.schedule.status(now) {
            WindowStatus::Open(w) => Some(w.closes_at),
            WindowStatus::Closed { .. } => None,
        };
        let officers = self.officers_on_duty();
        let waiting = self.order.len() as u32;
        for (i, id) in self.order.values().enumerate() {
            let estimate = waits.get(i).copied();
            // Whole minutes, rounded up: finer figures only make the number jitter.
            let estimate_min = estimate.map(|w| (w.as_secs() + 59) / 60);
            let reachable = match (estimate, closes_at) {
                (Some(w), Some(close)) => now + w < close,
                _ => true,
            };
            let told = Told {
                position: i as u32 + 1,
                estimate_min,
                reachable,
                officers,
            };
            let e = self
                .entries
                .get_mut(id)
                .expect("entry in queue order is in the room");
            if e.told != Some(told) {
                e.told = Some(told);
                fx.push(Effect::Citizen(
                    *id,
                    CitizenNote::Position {
                        position: told.position,
                        waiting,
                        estimate: estimate_min.map(|m| SignedDuration::from_secs(m * 60)),
                        reachable_today: reachable,
                        officers_on_duty: officers,
                    },
                ));
            }
        }
        self.scratch = waits;
    }

    /// When `tick` must next be called, if anything is pending.
    pub fn next_deadline(&self, now: Timestamp) -> Option<Timestamp> {
        let mut next: Option<Timestamp> = None;
        let mut consider = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
        for e in self.entries.values() {
            if let Some(t) = e.lost_since {
                consider(t + self.policy.citizen_grace);
            }
            if let EntryState::Offered { expires_at, .. } = e.state {
                consider(expires_at);
            }
        }
        for o in self.officers.values() {
            if let OfficerState::WrapUp { until } = o.state {
                consider(until);
            }
        }
        match self.schedule.status(now) {
            WindowStatus::Open(w) => consider(w.closes_at),
            WindowStatus::Closed { next: Some(w) } => consider(w.opens_at),
            WindowStatus::Closed { next: None } => {}
        }
        if !self.order.is_empty() {
            consider(now + REFRESH);
        }
        next
    }
}
