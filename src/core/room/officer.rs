//! Commands that come from officers, and the call lifecycle they drive.

use jiff::Timestamp;

use super::*;

impl Room {
    fn officer_mut(&mut self, id: UserId) -> Result<&mut Officer, RoomError> {
        self.officers.get_mut(&id).ok_or(RoomError::NotOnDuty)
    }

    pub(super) fn set_officer(
        &mut self,
        id: UserId,
        state: OfficerState,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        if let Some(o) = self.officers.get_mut(&id) {
            o.state = state;
            o.since = now;
            fx.push(Effect::Officer(id, OfficerNote::Duty(duty_state(state))));
        }
    }

    pub(super) fn on_duty(
        &mut self,
        id: UserId,
        name: String,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        match self.officers.get_mut(&id) {
            Some(o) => {
                // Already on duty (a second tab, or back after a drop): say where they are.
                fx.push(Effect::Officer(id, OfficerNote::Duty(duty_state(o.state))));
            }
            None => {
                let state = OfficerState::Ready;
                let officer = Officer {
                    name,
                    state,
                    since: now,
                    last_call_ended: None,
                };
                self.officers.insert(id, officer);
                match self.held_for(id, now) {
                    Some(entry) => self.resume_call(id, entry, now, fx),
                    None => fx.push(Effect::Officer(id, OfficerNote::Duty(DutyState::Ready))),
                }
            }
        }
    }

    /// The waiting citizen whose call this officer dropped within their grace period.
    fn held_for(&self, officer: UserId, now: Timestamp) -> Option<EntryId> {
        self.entries
            .iter()
            .filter(|(_, e)| {
                e.state == EntryState::Waiting
                    && matches!(e.held_for, Some((o, until)) if o == officer && now < until)
            })
            .min_by_key(|(_, e)| e.key)
            .map(|(id, _)| *id)
    }

    /// The officer is back within their grace period: the call they dropped goes on.
    fn resume_call(&mut self, officer: UserId, id: EntryId, now: Timestamp, fx: &mut Vec<Effect>) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        e.state = EntryState::InCall {
            officer,
            since: now,
        };
        e.held_for = None;
        let key = e.key;
        let citizen_away = e.lost_since.is_some();
        self.order.remove(&key);
        let officer_name = self
            .officers
            .get(&officer)
            .map(|o| o.name.clone())
            .unwrap_or_default();
        self.set_officer(officer, OfficerState::InCall { entry: id }, now, fx);
        fx.push(Effect::Record(RecordNote::Resumed {
            entry: id,
            officer,
            officer_name: officer_name.clone(),
        }));
        fx.push(Effect::Call(CallNote::Start { entry: id, officer }));
        fx.push(Effect::Citizen(
            id,
            CitizenNote::CallResumed { officer_name },
        ));
        fx.push(Effect::Officer(
            officer,
            OfficerNote::CallResumed { entry: id },
        ));
        if citizen_away {
            fx.push(Effect::Officer(
                officer,
                OfficerNote::PeerLost { entry: id },
            ));
        }
    }

    pub(super) fn off_duty(&mut self, id: UserId, fx: &mut Vec<Effect>) -> Result<(), RoomError> {
        match self.officer_mut(id)?.state {
            OfficerState::InCall { .. } => return Err(RoomError::InCall),
            OfficerState::Offered { entry } => self.return_offer(id, entry, false, fx),
            _ => {}
        }
        self.officers.remove(&id);
        fx.push(Effect::Officer(id, OfficerNote::Duty(DutyState::Off)));
        Ok(())
    }

    /// The officer's connection is gone. An offer goes back; a call is cut and the citizen
    /// goes to the front of the queue, held for the officer's grace period in case they
    /// come back (see `resume_call`).
    pub(super) fn officer_lost(
        &mut self,
        id: UserId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        match self.officer_mut(id)?.state {
            OfficerState::Offered { entry } => self.return_offer(id, entry, false, fx),
            OfficerState::InCall { entry } => {
                let key = (Class::Interrupted, self.take_seq());
                let until = now + self.policy.officer_grace;
                if let Some(e) = self.entries.get_mut(&entry) {
                    e.state = EntryState::Waiting;
                    e.key = key;
                    e.told = None;
                    e.held_for = Some((id, until));
                    self.order.insert(key, entry);
                }
                fx.push(Effect::Record(RecordNote::Interrupted {
                    entry,
                    officer: id,
                    reason: InterruptReason::OfficerLost,
                }));
                fx.push(Effect::Record(RecordNote::Placed {
                    entry,
                    class: key.0,
                    seq: key.1,
                }));
                fx.push(Effect::Call(CallNote::Stop { entry }));
                fx.push(Effect::Citizen(entry, CitizenNote::OfficerLost));
            }
            _ => {}
        }
        self.officers.remove(&id);
        Ok(())
    }

    pub(super) fn ready(
        &mut self,
        id: UserId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        match self.officer_mut(id)?.state {
            OfficerState::WrapUp { .. } | OfficerState::Away => {
                self.set_officer(id, OfficerState::Ready, now, fx);
                Ok(())
            }
            OfficerState::Ready => Ok(()),
            OfficerState::Offered { .. } => Err(RoomError::NoSuchOffer),
            OfficerState::InCall { .. } => Err(RoomError::InCall),
        }
    }

    fn check_offer(&self, officer: UserId, entry: EntryId) -> Result<(), RoomError> {
        let o = self.officers.get(&officer).ok_or(RoomError::NotOnDuty)?;
        match o.state {
            OfficerState::Offered { entry: e } if e == entry => Ok(()),
            _ => Err(RoomError::NoSuchOffer),
        }
    }

    pub(super) fn accept(
        &mut self,
        officer: UserId,
        id: EntryId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        self.check_offer(officer, id)?;
        let Some(e) = self.entries.get_mut(&id) else {
            return Err(RoomError::UnknownEntry);
        };
        e.state = EntryState::InCall {
            officer,
            since: now,
        };
        // Taken by someone: no longer held for an officer who dropped it.
        e.held_for = None;
        let key = e.key;
        let waited = now.duration_since(e.joined_at);
        self.order.remove(&key);
        self.estimator.record_wait(waited, false);
        let o = self
            .officers
            .get_mut(&officer)
            .ok_or(RoomError::NotOnDuty)?;
        if let Some(ended) = o.last_call_ended.take() {
            self.estimator.record_gap(now.duration_since(ended));
        }
        let officer_name = o.name.clone();
        self.set_officer(officer, OfficerState::InCall { entry: id }, now, fx);
        self.roll_day(now);
        self.stats.answered += 1;
        self.stats.total_wait += waited;
        fx.push(Effect::Record(RecordNote::Answered {
            entry: id,
            officer,
            officer_name: officer_name.clone(),
        }));
        fx.push(Effect::Call(CallNote::Start { entry: id, officer }));
        fx.push(Effect::Citizen(
            id,
            CitizenNote::CallStarted { officer_name },
        ));
        fx.push(Effect::Officer(
            officer,
            OfficerNote::CallStarted { entry: id },
        ));
        Ok(())
    }

    pub(super) fn decline(
        &mut self,
        officer: UserId,
        id: EntryId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        self.check_offer(officer, id)?;
        self.return_offer(officer, id, true, fx);
        self.set_officer(officer, OfficerState::Ready, now, fx);
        Ok(())
    }

    /// An offered citizen waits again, keeping their place. `passed_by` remembers an officer
    /// who declined or missed them, so they go to someone else first.
    fn back_to_waiting(&mut self, id: EntryId, passed_by: Option<UserId>) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.state = EntryState::Waiting;
            if let Some(o) = passed_by.filter(|o| !e.declined_by.contains(o)) {
                e.declined_by.push(o);
            }
        }
    }

    /// Puts an offered citizen back to waiting (keeping their place). `declined` marks the
    /// officer so the same citizen is not offered to them again.
    pub(super) fn return_offer(
        &mut self,
        officer: UserId,
        id: EntryId,
        declined: bool,
        fx: &mut Vec<Effect>,
    ) {
        self.back_to_waiting(id, declined.then_some(officer));
        fx.push(Effect::Record(RecordNote::Declined {
            entry: id,
            officer,
            timed_out: false,
        }));
    }

    /// The citizen side ended an offer (left or dropped): the officer is free again.
    pub(super) fn withdraw_offer(
        &mut self,
        officer: UserId,
        id: EntryId,
        reason: WithdrawReason,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        self.back_to_waiting(id, None);
        fx.push(Effect::Officer(
            officer,
            OfficerNote::OfferWithdrawn { entry: id, reason },
        ));
        self.set_officer(officer, OfficerState::Ready, now, fx);
    }

    /// An offer ran out: the citizen keeps their place, the officer is marked away.
    pub(super) fn offer_timed_out(
        &mut self,
        officer: UserId,
        id: EntryId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        self.back_to_waiting(id, Some(officer));
        fx.push(Effect::Record(RecordNote::Declined {
            entry: id,
            officer,
            timed_out: true,
        }));
        fx.push(Effect::Officer(
            officer,
            OfficerNote::OfferWithdrawn {
                entry: id,
                reason: WithdrawReason::TimedOut,
            },
        ));
        self.set_officer(officer, OfficerState::Away, now, fx);
    }

    pub(super) fn end_call(
        &mut self,
        officer: UserId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        match self.officer_mut(officer)?.state {
            OfficerState::InCall { entry } => {
                self.end(entry, EndedBy::Officer, now, fx);
                Ok(())
            }
            _ => Err(RoomError::NotInCall),
        }
    }

    /// The citizen never turned up: their entry leaves as abandoned, and the officer is
    /// ready at once (there is nothing to wrap up).
    pub(super) fn no_show(
        &mut self,
        officer: UserId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let OfficerState::InCall { entry } = self.officer_mut(officer)?.state else {
            return Err(RoomError::NotInCall);
        };
        self.entries.remove(&entry);
        self.roll_day(now);
        self.stats.abandoned += 1;
        let because = LeftBecause::NoShow;
        fx.push(Effect::Record(RecordNote::Abandoned { entry, because }));
        fx.push(Effect::Call(CallNote::Stop { entry }));
        fx.push(Effect::Citizen(entry, CitizenNote::Left { because }));
        fx.push(Effect::Officer(
            officer,
            OfficerNote::CallEnded {
                entry,
                by: EndedBy::NoShow,
            },
        ));
        self.set_officer(officer, OfficerState::Ready, now, fx);
        Ok(())
    }

    /// Ends the call of entry `id` (which must be in a call) and removes it from the room.
    pub(super) fn end(&mut self, id: EntryId, by: EndedBy, now: Timestamp, fx: &mut Vec<Effect>) {
        let Some(e) = self.entries.remove(&id) else {
            return;
        };
        let EntryState::InCall { officer, since } = e.state else {
            // Invariant: callers only end entries in a call; put it back rather than lose it.
            self.entries.insert(id, e);
            return;
        };
        let talk = now.duration_since(since);
        self.estimator.record_call(talk);
        self.roll_day(now);
        self.stats.calls += 1;
        self.stats.total_talk += talk;
        fx.push(Effect::Record(RecordNote::Ended { entry: id, by }));
        fx.push(Effect::Call(CallNote::Stop { entry: id }));
        fx.push(Effect::Citizen(id, CitizenNote::CallEnded { by }));
        fx.push(Effect::Officer(
            officer,
            OfficerNote::CallEnded { entry: id, by },
        ));
        let until = now + self.policy.wrap_up;
        if let Some(o) = self.officers.get_mut(&officer) {
            o.last_call_ended = Some(now);
        }
        self.set_officer(officer, OfficerState::WrapUp { until }, now, fx);
    }
}

pub(super) fn duty_state(s: OfficerState) -> DutyState {
    match s {
        OfficerState::Ready => DutyState::Ready,
        OfficerState::Offered { .. } => DutyState::Offered,
        OfficerState::InCall { .. } => DutyState::InCall,
        OfficerState::WrapUp { .. } => DutyState::WrapUp,
        OfficerState::Away => DutyState::Away,
    }
}
