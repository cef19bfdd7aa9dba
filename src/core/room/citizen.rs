//! Commands that come from citizens (and the supervisor's message to them).

use jiff::Timestamp;

use super::*;

impl Room {
    pub(super) fn join(
        &mut self,
        id: EntryId,
        intake: Intake,
        class: Class,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        if self.entries.contains_key(&id) {
            return Err(RoomError::AlreadyQueued);
        }
        if self.draining {
            return Err(RoomError::ShuttingDown);
        }
        let window = match self.schedule.status(now) {
            WindowStatus::Open(w) => w,
            WindowStatus::Closed { next } => return Err(RoomError::WindowClosed { next }),
        };
        if self.waiting_count() >= self.policy.max_waiting {
            return Err(RoomError::QueueFull);
        }
        let key = (class, self.take_seq());
        self.entries.insert(
            id,
            Entry {
                intake,
                joined_at: now,
                key,
                state: EntryState::Waiting,
                lost_since: None,
                declined_by: Vec::new(),
                told: None,
                held_for: None,
            },
        );
        self.order.insert(key, id);
        if class == Class::Carried {
            fx.push(Effect::Record(RecordNote::Requeued { entry: id }));
        }
        // After `Requeued`: a place is only kept for a record that is waiting.
        fx.push(Effect::Record(RecordNote::Placed {
            entry: id,
            class: key.0,
            seq: key.1,
        }));
        self.roll_day(now);
        if self.policy.late_join == LateJoin::CarryOver {
            if let Some(start) = self.expected_start(id, now) {
                if start >= window.closes_at {
                    self.carry_over(id, CarryReason::BeyondWindow, now, fx);
                }
            }
        }
        Ok(())
    }

    pub(super) fn leave(
        &mut self,
        id: EntryId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let entry = self.entries.get(&id).ok_or(RoomError::UnknownEntry)?;
        match entry.state {
            EntryState::InCall { .. } => self.end(id, EndedBy::Citizen, now, fx),
            EntryState::Offered { officer, .. } => {
                self.withdraw_offer(officer, id, WithdrawReason::CitizenLeft, now, fx);
                self.abandon(id, LeftBecause::Left, now, fx);
            }
            EntryState::Waiting => self.abandon(id, LeftBecause::Left, now, fx),
        }
        Ok(())
    }

    pub(super) fn hangup(
        &mut self,
        id: EntryId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let entry = self.entries.get(&id).ok_or(RoomError::UnknownEntry)?;
        if !matches!(entry.state, EntryState::InCall { .. }) {
            return Err(RoomError::NotInCall);
        }
        self.end(id, EndedBy::Citizen, now, fx);
        Ok(())
    }

    pub(super) fn citizen_lost(
        &mut self,
        id: EntryId,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let entry = self.entries.get_mut(&id).ok_or(RoomError::UnknownEntry)?;
        if entry.lost_since.is_some() {
            return Ok(());
        }
        entry.lost_since = Some(now);
        match entry.state {
            EntryState::Offered { officer, .. } => {
                self.withdraw_offer(officer, id, WithdrawReason::CitizenDisconnected, now, fx);
            }
            EntryState::InCall { officer, .. } => {
                fx.push(Effect::Officer(
                    officer,
                    OfficerNote::PeerLost { entry: id },
                ));
            }
            EntryState::Waiting => {}
        }
        Ok(())
    }

    pub(super) fn citizen_back(
        &mut self,
        id: EntryId,
        _now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let entry = self.entries.get_mut(&id).ok_or(RoomError::UnknownEntry)?;
        let was_lost = entry.lost_since.take().is_some();
        // A fresh connection has been told nothing yet.
        entry.told = None;
        if let EntryState::InCall { officer, .. } = entry.state {
            let officer_name = self
                .officers
                .get(&officer)
                .map(|o| o.name.clone())
                .unwrap_or_default();
            fx.push(Effect::Citizen(
                id,
                CitizenNote::CallResumed { officer_name },
            ));
            if was_lost {
                fx.push(Effect::Officer(
                    officer,
                    OfficerNote::CallResumed { entry: id },
                ));
            }
        }
        Ok(())
    }

    pub(super) fn broadcast(
        &mut self,
        text: String,
        fx: &mut Vec<Effect>,
    ) -> Result<(), RoomError> {
        let text = text.trim();
        let n = text.chars().count();
        if n == 0 || n > MESSAGE_MAX {
            return Err(RoomError::BadMessage(MESSAGE_MAX));
        }
        for id in self.order.values() {
            fx.push(Effect::Citizen(
                *id,
                CitizenNote::Message {
                    text: text.to_owned(),
                },
            ));
        }
        Ok(())
    }

    /// Removes an entry that leaves without a call.
    pub(super) fn abandon(
        &mut self,
        id: EntryId,
        because: LeftBecause,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        if let Some(e) = self.entries.remove(&id) {
            self.order.remove(&e.key);
            self.estimator
                .record_wait(now.duration_since(e.joined_at), true);
            self.stats.abandoned += 1;
            fx.push(Effect::Record(RecordNote::Abandoned { entry: id, because }));
            fx.push(Effect::Citizen(id, CitizenNote::Left { because }));
        }
    }

    /// Removes an entry and hands it a token for the front of the next window.
    pub(super) fn carry_over(
        &mut self,
        id: EntryId,
        reason: CarryReason,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        if let Some(e) = self.entries.remove(&id) {
            self.order.remove(&e.key);
            self.stats.carried_over += 1;
            let next = self.schedule.next_window_after(now);
            fx.push(Effect::Record(RecordNote::CarriedOver {
                entry: id,
                reason,
                next,
            }));
            fx.push(Effect::Citizen(
                id,
                CitizenNote::CarriedOver { reason, next },
            ));
        }
    }
}
