//! Script tests with a fake clock, a whole hearing day, and property tests over random
//! command sequences.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::core::intake::{Language, Mobile};
use crate::core::schedule::{Override, ScheduleSpec};

/// 2026-11-28 12:00 in Asia/Kolkata.
fn noon() -> Timestamp {
    "2026-11-28T06:30:00Z".parse().unwrap()
}

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

fn intake(n: u32) -> Intake {
    Intake {
        name: format!("Citizen {n}"),
        mobile: Mobile::parse("9876543210").unwrap(),
        area: "Kotwali".into(),
        category: if n.is_multiple_of(2) {
            "theft"
        } else {
            "other"
        }
        .into(),
        description: String::new(),
        language: Language::Hindi,
    }
}

fn schedule() -> Schedule {
    Schedule::new(ScheduleSpec::parse("Asia/Kolkata", &["12:00-14:00".into()], &[], &[]).unwrap())
}

/// A room on a fake clock that remembers every effect and how each entry left.
struct Sim {
    room: Room,
    now: Timestamp,
    fx: Vec<Effect>,
    left: HashMap<EntryId, &'static str>,
    joined: Vec<EntryId>,
}

impl Sim {
    fn new(policy: Policy) -> Self {
        Self {
            room: Room::new(policy, schedule()),
            now: noon(),
            fx: vec![],
            left: HashMap::new(),
            joined: vec![],
        }
    }

    fn absorb(&mut self, fx: Vec<Effect>) -> Vec<Effect> {
        for f in &fx {
            if let Effect::Record(r) = f {
                let (id, how) = match r {
                    RecordNote::Ended { entry, .. } => (*entry, "ended"),
                    RecordNote::Abandoned { entry, .. } => (*entry, "abandoned"),
                    RecordNote::CarriedOver { entry, .. } => (*entry, "carried"),
                    _ => continue,
                };
                assert!(self.left.insert(id, how).is_none(), "{id} left twice");
            }
        }
        self.room.check_invariants().unwrap();
        self.fx.extend(fx.iter().cloned());
        fx
    }

    fn cmd(&mut self, c: Command) -> Result<Vec<Effect>, RoomError> {
        let r = self.room.handle(c, self.now);
        let fx = r?;
        Ok(self.absorb(fx))
    }

    fn ok(&mut self, c: Command) -> Vec<Effect> {
        let label = format!("{c:?}");
        self.cmd(c).unwrap_or_else(|e| panic!("{label}: {e}"))
    }

    fn join(&mut self, n: u32) -> EntryId {
        let id = EntryId(uuid::Uuid::from_u128(n as u128 + 1));
        self.ok(Command::Join {
            entry: id,
            intake: intake(n),
            class: Class::Normal,
        });
        self.joined.push(id);
        id
    }

    /// Advances the clock, firing every deadline on the way.
    fn advance(&mut self, by: SignedDuration) {
        let until = self.now + by;
        while let Some(t) = self.room.next_deadline(self.now).filter(|t| *t <= until) {
            self.now = t.max(self.now);
            let fx = self.room.tick(self.now);
            self.absorb(fx);
        }
        self.now = until;
        let fx = self.room.tick(self.now);
        self.absorb(fx);
    }

    fn offer_to(&self, officer: UserId) -> Option<EntryId> {
        self.fx.iter().rev().find_map(|f| match f {
            Effect::Officer(o, OfficerNote::Offer { entry, .. }) if *o == officer => Some(*entry),
            _ => None,
        })
    }

    fn last_position(&self, id: EntryId) -> Option<(u32, Option<SignedDuration>, bool)> {
        self.fx.iter().rev().find_map(|f| match f {
            Effect::Citizen(
                e,
                CitizenNote::Position {
                    position,
                    estimate,
                    reachable_today,
                    ..
                },
            ) if *e == id => Some((*position, *estimate, *reachable_today)),
            _ => None,
        })
    }
}

fn officer(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(1000 + n))
}

fn on_duty(sim: &mut Sim, n: u128) -> UserId {
    let id = officer(n);
    sim.ok(Command::OnDuty {
        officer: id,
        name: format!("Officer {n}"),
    });
    id
}

#[test]
fn no_officer_means_no_estimate_then_an_offer_when_one_arrives() {
    let mut sim = Sim::new(Policy::default());
    let c = sim.join(1);
    assert_eq!(sim.last_position(c), Some((1, None, true)));
    let o = on_duty(&mut sim, 1);
    assert_eq!(sim.offer_to(o), Some(c));
    assert!(sim
        .fx
        .contains(&Effect::Citizen(c, CitizenNote::YouAreNext)));
    sim.ok(Command::Accept {
        officer: o,
        entry: c,
    });
    assert_eq!(sim.room.call_of(c), Some(o));
    sim.advance(secs(300));
    let fx = sim.ok(Command::EndCall { officer: o });
    assert!(fx.contains(&Effect::Record(RecordNote::Ended {
        entry: c,
        by: EndedBy::Officer
    })));
    assert!(fx.contains(&Effect::Call(CallNote::Stop { entry: c })));
    assert_eq!(sim.room.duty(o), DutyState::WrapUp);
    sim.advance(Policy::default().wrap_up);
    assert_eq!(sim.room.duty(o), DutyState::Ready);
    assert_eq!(sim.left[&c], "ended");
}

#[test]
fn time_an_officer_sat_idle_is_not_learnt_as_a_pause_between_calls() {
    let mut sim = Sim::new(Policy::default());
    let o = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    sim.ok(Command::Accept {
        officer: o,
        entry: c1,
    });
    sim.advance(secs(6 * 60));
    sim.ok(Command::EndCall { officer: o });
    // Wrap-up (30 s), then ten idle minutes before anyone else comes.
    sim.advance(secs(10 * 60 + 30));
    let c2 = sim.join(2);
    sim.advance(secs(5));
    sim.ok(Command::Accept {
        officer: o,
        entry: c2,
    });
    let c3 = sim.join(3);
    // Six minutes for c2's call, and a pause learnt as (3 × 15 s + 35 s) / 4 = 20 s, not
    // ten minutes: seven whole minutes.
    assert_eq!(sim.last_position(c3), Some((1, Some(secs(7 * 60)), true)));
}

#[test]
fn positions_and_estimates_follow_the_queue() {
    let mut sim = Sim::new(Policy::default());
    let o = on_duty(&mut sim, 1);
    let ids: Vec<EntryId> = (0..4).map(|n| sim.join(n)).collect();
    // The first is offered at once; the others wait behind them.
    assert_eq!(sim.offer_to(o), Some(ids[0]));
    let p2 = sim.last_position(ids[2]).unwrap();
    assert_eq!(p2.0, 3);
    assert!(p2.1.unwrap() >= secs(2 * 6 * 60), "{p2:?}");
    sim.ok(Command::Accept {
        officer: o,
        entry: ids[0],
    });
    assert_eq!(sim.last_position(ids[1]).unwrap().0, 1);
    assert_eq!(sim.last_position(ids[3]).unwrap().0, 3);
}

#[test]
fn a_declined_citizen_keeps_their_place_and_goes_to_the_next_free_officer() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    assert_eq!(sim.offer_to(a), Some(c1));
    sim.ok(Command::Decline {
        officer: a,
        entry: c1,
    });
    // The declining officer is offered the next citizen, not the same one again.
    assert_eq!(sim.offer_to(a), Some(c2));
    assert_eq!(sim.last_position(c1).unwrap().0, 1);
    let b = on_duty(&mut sim, 2);
    assert_eq!(sim.offer_to(b), Some(c1));
}

#[test]
fn a_citizen_every_officer_declined_is_offered_again_not_stranded() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c = sim.join(1);
    sim.ok(Command::Decline {
        officer: a,
        entry: c,
    });
    assert_eq!(sim.room.duty(a), DutyState::Offered);
    assert_eq!(sim.offer_to(a), Some(c));
}

#[test]
fn a_missed_offer_marks_the_officer_away_and_moves_on() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c = sim.join(1);
    sim.advance(Policy::default().offer_timeout);
    assert_eq!(sim.room.duty(a), DutyState::Away);
    assert!(sim.fx.contains(&Effect::Record(RecordNote::Declined {
        entry: c,
        officer: a,
        timed_out: true
    })));
    let b = on_duty(&mut sim, 2);
    assert_eq!(sim.offer_to(b), Some(c));
    sim.ok(Command::Ready { officer: a });
    assert_eq!(sim.room.duty(a), DutyState::Ready);
}

#[test]
fn an_officer_who_drops_mid_call_puts_the_caller_back_at_the_front() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    assert_eq!(sim.last_position(c2).unwrap().0, 1);
    let fx = sim.ok(Command::OfficerLost { officer: a });
    assert!(fx.contains(&Effect::Record(RecordNote::Interrupted {
        entry: c1,
        officer: a,
        reason: InterruptReason::OfficerLost,
    })));
    assert!(fx.contains(&Effect::Citizen(c1, CitizenNote::OfficerLost)));
    assert_eq!(sim.last_position(c1).unwrap().0, 1);
    assert_eq!(sim.last_position(c2).unwrap().0, 2);
    let b = on_duty(&mut sim, 2);
    assert_eq!(sim.offer_to(b), Some(c1));
}

#[test]
fn a_dropped_citizen_keeps_their_place_for_the_grace_period() {
    let mut sim = Sim::new(Policy::default());
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    sim.ok(Command::CitizenLost { entry: c1 });
    // While lost they are not offered, but nobody overtakes them in the order.
    let a = on_duty(&mut sim, 1);
    assert_eq!(sim.offer_to(a), Some(c2));
    sim.advance(secs(60));
    sim.ok(Command::CitizenBack { entry: c1 });
    assert_eq!(sim.last_position(c1).unwrap().0, 1);
    sim.ok(Command::CitizenLost { entry: c1 });
    sim.advance(Policy::default().citizen_grace);
    assert_eq!(sim.left[&c1], "abandoned");
    assert!(sim.fx.contains(&Effect::Citizen(
        c1,
        CitizenNote::Left {
            because: LeftBecause::GraceExpired
        }
    )));
}

#[test]
fn a_citizen_dropping_mid_call_is_held_then_the_call_ends() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c = sim.join(1);
    sim.ok(Command::Accept {
        officer: a,
        entry: c,
    });
    let fx = sim.ok(Command::CitizenLost { entry: c });
    assert!(fx.contains(&Effect::Officer(a, OfficerNote::PeerLost { entry: c })));
    sim.advance(secs(10));
    let fx = sim.ok(Command::CitizenBack { entry: c });
    assert!(fx.contains(&Effect::Officer(a, OfficerNote::CallResumed { entry: c })));
    sim.ok(Command::CitizenLost { entry: c });
    sim.advance(Policy::default().citizen_grace);
    assert!(sim.fx.contains(&Effect::Record(RecordNote::Ended {
        entry: c,
        by: EndedBy::CitizenLost
    })));
}

#[test]
fn joining_too_late_to_be_reached_gets_a_token_before_waiting() {
    let mut sim = Sim::new(Policy::default());
    on_duty(&mut sim, 1);
    sim.advance(secs(100 * 60)); // 13:40: twenty minutes left, six-minute calls.
    let ids: Vec<EntryId> = (0..6).map(|n| sim.join(n)).collect();
    let carried: Vec<_> = ids
        .iter()
        .filter(|id| sim.left.get(id) == Some(&"carried"))
        .collect();
    assert!(
        !carried.is_empty(),
        "someone must be told they cannot be reached today"
    );
    assert!(
        !sim.left.contains_key(&ids[0]),
        "the first can still be reached"
    );
    let note = sim.fx.iter().find_map(|f| match f {
        Effect::Citizen(id, CitizenNote::CarriedOver { reason, next }) if id == carried[0] => {
            Some((*reason, *next))
        }
        _ => None,
    });
    let (reason, next) = note.unwrap();
    assert_eq!(reason, CarryReason::BeyondWindow);
    assert_eq!(
        next.unwrap().opens_at,
        "2026-11-29T06:30:00Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn admit_with_warning_lets_late_joiners_wait_but_says_so() {
    let mut sim = Sim::new(Policy {
        late_join: LateJoin::AdmitWithWarning,
        ..Policy::default()
    });
    on_duty(&mut sim, 1);
    sim.advance(secs(100 * 60));
    let ids: Vec<EntryId> = (0..6).map(|n| sim.join(n)).collect();
    assert!(sim.left.is_empty());
    assert!(sim.last_position(ids[0]).unwrap().2);
    assert!(!sim.last_position(ids[5]).unwrap().2);
}

#[test]
fn at_close_serve_all_keeps_serving_and_says_so() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    sim.advance(secs(110 * 60));
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    sim.advance(secs(15 * 60)); // 14:05
    assert!(sim.fx.contains(&Effect::Citizen(
        c2,
        CitizenNote::WindowClosed {
            policy: ClosePolicy::ServeAll
        }
    )));
    assert!(matches!(
        sim.cmd(Command::Join {
            entry: EntryId::new_random(),
            intake: intake(9),
            class: Class::Normal
        }),
        Err(RoomError::WindowClosed { .. })
    ));
    sim.ok(Command::EndCall { officer: a });
    sim.ok(Command::Ready { officer: a });
    assert_eq!(sim.offer_to(a), Some(c2));
}

#[test]
fn at_close_carry_over_hands_everyone_waiting_a_token() {
    let mut sim = Sim::new(Policy {
        close: ClosePolicy::CarryOver,
        late_join: LateJoin::AdmitWithWarning,
        ..Policy::default()
    });
    let a = on_duty(&mut sim, 1);
    sim.advance(secs(110 * 60));
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    let c3 = sim.join(3);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    sim.advance(secs(15 * 60));
    assert_eq!(sim.left.get(&c2), Some(&"carried"));
    assert_eq!(sim.left.get(&c3), Some(&"carried"));
    // The call in progress goes on.
    assert_eq!(sim.room.call_of(c1), Some(a));
}

#[test]
fn serve_all_with_nobody_left_on_duty_carries_over_rather_than_strand() {
    let mut sim = Sim::new(Policy {
        late_join: LateJoin::AdmitWithWarning,
        ..Policy::default()
    });
    let a = on_duty(&mut sim, 1);
    sim.advance(secs(118 * 60));
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    sim.advance(secs(5 * 60));
    assert!(!sim.left.contains_key(&c2));
    sim.ok(Command::EndCall { officer: a });
    sim.ok(Command::OffDuty { officer: a });
    assert_eq!(sim.left.get(&c2), Some(&"carried"));
}

#[test]
fn a_no_show_is_abandoned_and_the_officer_is_ready_at_once() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    let fx = sim.ok(Command::NoShow { officer: a });
    assert!(fx.contains(&Effect::Record(RecordNote::Abandoned {
        entry: c1,
        because: LeftBecause::NoShow
    })));
    assert_eq!(sim.left[&c1], "abandoned");
    assert_eq!(sim.room.duty(a), DutyState::Offered);
    assert_eq!(sim.offer_to(a), Some(c2));
    assert_eq!(
        sim.cmd(Command::NoShow { officer: a }).unwrap_err(),
        RoomError::NotInCall
    );
}

#[test]
fn supervisor_overrides_move_the_window() {
    let mut sim = Sim::new(Policy::default());
    sim.advance(secs(119 * 60));
    sim.ok(Command::Extend { minutes: 30 });
    sim.advance(secs(10 * 60));
    sim.join(1); // 14:09, open thanks to the extension
    sim.ok(Command::CloseNow);
    assert!(matches!(
        sim.cmd(Command::CloseNow),
        Err(RoomError::Schedule(_))
    ));
    assert!(matches!(
        sim.cmd(Command::Join {
            entry: EntryId::new_random(),
            intake: intake(2),
            class: Class::Normal
        }),
        Err(RoomError::WindowClosed { .. })
    ));
    sim.ok(Command::OpenNow { minutes: 15 });
    sim.join(3);
}

/// The overrides a change says are in force, if it says any.
fn kept_overrides(fx: &[Effect]) -> Option<Vec<Override>> {
    fx.iter().rev().find_map(|e| match e {
        Effect::Schedule(list) => Some(list.clone()),
        _ => None,
    })
}

#[test]
fn every_schedule_change_says_which_overrides_to_keep_and_they_rebuild_the_same_window() {
    let mut sim = Sim::new(Policy::default());
    sim.advance(secs(119 * 60)); // 13:59
    let fx = sim.ok(Command::Extend { minutes: 30 });
    let kept = kept_overrides(&fx).expect("an extension is kept");
    assert_eq!(kept, sim.room.schedule().overrides());
    assert_eq!(kept.len(), 1);
    // A restart at 14:10 with what was kept: still open, until 14:30.
    let restarted = Schedule::with_overrides(schedule().spec().clone(), kept);
    let at = sim.now + secs(11 * 60);
    assert_eq!(restarted.status(at), sim.room.schedule().status(at));
    assert!(
        matches!(restarted.status(at), WindowStatus::Open(w) if w.closes_at == noon() + secs(150 * 60))
    );

    sim.advance(secs(11 * 60));
    let fx = sim.ok(Command::CloseNow);
    let kept = kept_overrides(&fx).expect("a close is kept");
    let restarted = Schedule::with_overrides(schedule().spec().clone(), kept);
    assert!(matches!(
        restarted.status(sim.now),
        WindowStatus::Closed { .. }
    ));

    let fx = sim.ok(Command::OpenNow { minutes: 15 });
    let kept = kept_overrides(&fx).expect("an opening is kept");
    let restarted = Schedule::with_overrides(schedule().spec().clone(), kept);
    assert_eq!(
        restarted.status(sim.now),
        sim.room.schedule().status(sim.now)
    );
    assert!(matches!(restarted.status(sim.now), WindowStatus::Open(_)));

    // A refused change keeps nothing, and other commands never speak of the schedule.
    assert!(sim.cmd(Command::Extend { minutes: 0 }).is_err());
    let fx = sim.ok(Command::Broadcast {
        text: "ten minutes".into(),
    });
    assert_eq!(kept_overrides(&fx), None);
}

#[test]
fn a_restarted_room_takes_up_todays_counters_and_call_lengths() {
    let today = Today {
        calls: vec![secs(10 * 60); 4],
        waits: vec![secs(5 * 60), secs(15 * 60)],
        abandoned: 2,
        carried_over: 1,
    };
    let (mut room, _) = Room::restore(Policy::default(), schedule(), Vec::new(), noon());
    let assumed = room.estimator().mean_call();
    room.recall_today(&today, noon());
    let v = room.view(noon());
    assert_eq!(
        (v.calls_today, v.abandoned_today, v.carried_over_today),
        (4, 2, 1)
    );
    assert_eq!(v.avg_call, Some(secs(10 * 60)));
    assert_eq!(v.avg_wait, Some(secs(10 * 60)));
    // The estimate has learnt today's calls instead of starting from the assumption.
    let policy = Policy::default();
    let mut learnt = Estimator::new(policy.assumed_call, policy.wrap_up / 2);
    for &talk in &today.calls {
        learnt.record_call(talk);
    }
    assert!(room.estimator().mean_call() > assumed);
    assert_eq!(room.estimator().mean_call(), learnt.mean_call());
    // Tomorrow the counters start again.
    let v = room.view(noon() + secs(24 * 3600));
    assert_eq!((v.calls_today, v.abandoned_today), (0, 0));
}

#[test]
fn carried_citizens_go_ahead_of_new_arrivals() {
    let mut sim = Sim::new(Policy::default());
    let c1 = sim.join(1);
    let c2 = EntryId(uuid::Uuid::from_u128(99));
    let fx = sim.ok(Command::Join {
        entry: c2,
        intake: intake(2),
        class: Class::Carried,
    });
    assert!(fx.contains(&Effect::Record(RecordNote::Requeued { entry: c2 })));
    assert_eq!(sim.last_position(c2).unwrap().0, 1);
    assert_eq!(sim.last_position(c1).unwrap().0, 2);
}

#[test]
fn broadcasts_reach_everyone_waiting_and_are_bounded() {
    let mut sim = Sim::new(Policy::default());
    let ids: Vec<EntryId> = (0..3).map(|n| sim.join(n)).collect();
    let fx = sim.ok(Command::Broadcast {
        text: " Officer delayed by 10 minutes ".into(),
    });
    for id in ids {
        assert!(fx.contains(&Effect::Citizen(
            id,
            CitizenNote::Message {
                text: "Officer delayed by 10 minutes".into()
            }
        )));
    }
    assert!(matches!(
        sim.cmd(Command::Broadcast {
            text: "x".repeat(MESSAGE_MAX + 1)
        }),
        Err(RoomError::BadMessage(_))
    ));
    assert!(matches!(
        sim.cmd(Command::Broadcast { text: "   ".into() }),
        Err(RoomError::BadMessage(_))
    ));
}

#[test]
fn wrong_commands_are_refused_and_change_nothing() {
    let mut sim = Sim::new(Policy {
        max_waiting: 2,
        ..Policy::default()
    });
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    let stray = EntryId::new_random();
    let before = format!("{:?}", sim.room.view(sim.now));
    let cases = [
        (
            Command::Accept {
                officer: a,
                entry: stray,
            },
            RoomError::NoSuchOffer,
        ),
        (
            Command::Accept {
                officer: officer(7),
                entry: c1,
            },
            RoomError::NotOnDuty,
        ),
        (
            Command::Decline {
                officer: a,
                entry: stray,
            },
            RoomError::NoSuchOffer,
        ),
        (Command::EndCall { officer: a }, RoomError::NotInCall),
        (Command::Hangup { entry: c1 }, RoomError::NotInCall),
        (Command::Leave { entry: stray }, RoomError::UnknownEntry),
        (
            Command::Join {
                entry: c1,
                intake: intake(1),
                class: Class::Normal,
            },
            RoomError::AlreadyQueued,
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(sim.cmd(cmd).unwrap_err(), want);
    }
    assert_eq!(before, format!("{:?}", sim.room.view(sim.now)));
    sim.join(2);
    assert_eq!(
        sim.cmd(Command::Join {
            entry: stray,
            intake: intake(3),
            class: Class::Normal
        })
        .unwrap_err(),
        RoomError::QueueFull
    );
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    assert_eq!(
        sim.cmd(Command::OffDuty { officer: a }).unwrap_err(),
        RoomError::InCall
    );
}

/// A small deterministic generator so the day test needs no seed plumbing.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn officers_act(sim: &mut Sim, rng: &mut Lcg, officers: [UserId; 2]) {
    for o in officers {
        match sim.room.duty(o) {
            DutyState::Offered => {
                let e = sim.offer_to(o).unwrap();
                let c = if rng.next(10) == 0 {
                    Command::Decline {
                        officer: o,
                        entry: e,
                    }
                } else {
                    Command::Accept {
                        officer: o,
                        entry: e,
                    }
                };
                sim.ok(c);
            }
            // Calls last six minutes on average.
            DutyState::InCall if rng.next(24) == 0 => {
                sim.ok(Command::EndCall { officer: o });
            }
            DutyState::Away => {
                sim.ok(Command::Ready { officer: o });
            }
            _ => {}
        }
    }
}

#[test]
fn a_whole_hearing_day() {
    let mut sim = Sim::new(Policy::default());
    let mut rng = Lcg(7);
    let a = on_duty(&mut sim, 1);
    let b = on_duty(&mut sim, 2);
    let mut n = 0;
    let mut extended = false;
    let mut dropped_officer = false;
    let mut reconnected = 0;
    // Step through the day a minute at a time; everyone acts on what they have been told.
    for minute in 0..200 {
        if minute < 110 && rng.next(3) < 1 + u64::from(minute < 20) {
            n += 1;
            if sim
                .cmd(Command::Join {
                    entry: EntryId(uuid::Uuid::from_u128(n)),
                    intake: intake(n as u32),
                    class: Class::Normal,
                })
                .is_ok()
            {
                sim.joined.push(EntryId(uuid::Uuid::from_u128(n)));
            }
        }
        if minute >= 60 && !dropped_officer && sim.room.call_with(b).is_some() {
            sim.ok(Command::OfficerLost { officer: b });
            sim.ok(Command::OnDuty {
                officer: b,
                name: "Officer 2".into(),
            });
            dropped_officer = true;
        }
        if minute % 17 == 5 {
            if let Some(&id) = sim
                .joined
                .iter()
                .rev()
                .find(|id| sim.room.contains(**id) && sim.room.call_of(**id).is_none())
            {
                sim.ok(Command::CitizenLost { entry: id });
                sim.advance(secs(20));
                sim.ok(Command::CitizenBack { entry: id });
                reconnected += 1;
            }
        }
        if minute == 115 && !extended {
            sim.ok(Command::Extend { minutes: 15 });
            extended = true;
        }
        // Officers answer within seconds, the way people at a desk do.
        for _ in 0..4 {
            officers_act(&mut sim, &mut rng, [a, b]);
            sim.advance(secs(15));
        }
    }
    for _ in 0..400 {
        officers_act(&mut sim, &mut rng, [a, b]);
        sim.advance(secs(15));
    }
    assert!(dropped_officer, "officer drop");
    assert!(extended, "extended");
    assert!(reconnected > 0, "reconnect");
    eprintln!(
        "joined {} ended {}",
        sim.joined.len(),
        sim.left.values().filter(|h| **h == "ended").count()
    );
    assert!(sim.joined.len() >= 40, "only {} joined", sim.joined.len());
    // Nobody disappeared: every citizen who joined left with a record of how.
    for id in &sim.joined {
        assert!(sim.left.contains_key(id), "{id} vanished");
    }
    assert!(sim.room.is_empty());
    let ended = sim.left.values().filter(|h| **h == "ended").count();
    assert!(ended >= 30, "{ended} calls");
}

#[derive(Clone, Debug)]
enum Op {
    Join(u8),
    Leave(u8),
    Lost(u8),
    Back(u8),
    Hangup(u8),
    NoShow(u8),
    OnDuty(u8),
    OffDuty(u8),
    OfficerLost(u8),
    Ready(u8),
    AcceptOffer(u8),
    DeclineOffer(u8),
    End(u8),
    Advance(u16),
    Extend,
    Close,
    Open,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Join),
        1 => any::<u8>().prop_map(Op::Leave),
        1 => any::<u8>().prop_map(Op::Lost),
        1 => any::<u8>().prop_map(Op::Back),
        1 => any::<u8>().prop_map(Op::Hangup),
        1 => any::<u8>().prop_map(Op::NoShow),
        2 => any::<u8>().prop_map(Op::OnDuty),
        1 => any::<u8>().prop_map(Op::OffDuty),
        1 => any::<u8>().prop_map(Op::OfficerLost),
        1 => any::<u8>().prop_map(Op::Ready),
        3 => any::<u8>().prop_map(Op::AcceptOffer),
        1 => any::<u8>().prop_map(Op::DeclineOffer),
        2 => any::<u8>().prop_map(Op::End),
        3 => (1u16..900).prop_map(Op::Advance),
        1 => Just(Op::Extend),
        1 => Just(Op::Close),
        1 => Just(Op::Open),
    ]
}

/// Applies one random operation; errors are fine (the command may not apply), invariants
/// are checked in `absorb`.
fn apply_op(sim: &mut Sim, op: &Op) {
    let pick = |v: &Vec<EntryId>, i: u8| v.get(i as usize % v.len().max(1)).copied();
    let _ = match *op {
        Op::Join(i) => {
            let id = EntryId(uuid::Uuid::from_u128(sim.joined.len() as u128 + 1));
            let r = sim.cmd(Command::Join {
                entry: id,
                intake: intake(i as u32),
                class: if i % 5 == 0 {
                    Class::Carried
                } else {
                    Class::Normal
                },
            });
            if r.is_ok() {
                sim.joined.push(id);
            }
            r.map(|_| ())
        }
        Op::Leave(i) => pick(&sim.joined, i)
            .map_or(Ok(()), |e| sim.cmd(Command::Leave { entry: e }).map(|_| ())),
        Op::Lost(i) => pick(&sim.joined, i).map_or(Ok(()), |e| {
            sim.cmd(Command::CitizenLost { entry: e }).map(|_| ())
        }),
        Op::Back(i) => pick(&sim.joined, i).map_or(Ok(()), |e| {
            sim.cmd(Command::CitizenBack { entry: e }).map(|_| ())
        }),
        Op::Hangup(i) => pick(&sim.joined, i).map_or(Ok(()), |e| {
            sim.cmd(Command::Hangup { entry: e }).map(|_| ())
        }),
        Op::OnDuty(i) => sim
            .cmd(Command::OnDuty {
                officer: officer(i as u128 % 4),
                name: "o".into(),
            })
            .map(|_| ()),
        Op::OffDuty(i) => sim
            .cmd(Command::OffDuty {
                officer: officer(i as u128 % 4),
            })
            .map(|_| ()),
        Op::OfficerLost(i) => sim
            .cmd(Command::OfficerLost {
                officer: officer(i as u128 % 4),
            })
            .map(|_| ()),
        Op::Ready(i) => sim
            .cmd(Command::Ready {
                officer: officer(i as u128 % 4),
            })
            .map(|_| ()),
        Op::AcceptOffer(i) | Op::DeclineOffer(i) => {
            let o = officer(i as u128 % 4);
            match (sim.room.duty(o), sim.offer_to(o)) {
                (DutyState::Offered, Some(e)) => {
                    let c = if matches!(*op, Op::AcceptOffer(_)) {
                        Command::Accept {
                            officer: o,
                            entry: e,
                        }
                    } else {
                        Command::Decline {
                            officer: o,
                            entry: e,
                        }
                    };
                    sim.cmd(c).map(|_| ())
                }
                _ => Ok(()),
            }
        }
        Op::NoShow(i) => sim
            .cmd(Command::NoShow {
                officer: officer(i as u128 % 4),
            })
            .map(|_| ()),
        Op::End(i) => sim
            .cmd(Command::EndCall {
                officer: officer(i as u128 % 4),
            })
            .map(|_| ()),
        Op::Advance(s) => {
            sim.advance(secs(s as i64));
            Ok(())
        }
        Op::Extend => sim.cmd(Command::Extend { minutes: 10 }).map(|_| ()),
        Op::Close => sim.cmd(Command::CloseNow).map(|_| ()),
        Op::Open => sim.cmd(Command::OpenNow { minutes: 30 }).map(|_| ()),
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_days_keep_every_invariant(ops in proptest::collection::vec(op(), 1..120), late in any::<bool>(), carry in any::<bool>()) {
        let policy = Policy {
            late_join: if late { LateJoin::CarryOver } else { LateJoin::AdmitWithWarning },
            close: if carry { ClosePolicy::CarryOver } else { ClosePolicy::ServeAll },
            max_waiting: 20,
            ..Policy::default()
        };
        let mut sim = Sim::new(policy);
        for op in ops {
            apply_op(&mut sim, &op);
        }
        // Everyone who joined is either still in the room or left with a record of how.
        for id in &sim.joined {
            prop_assert!(sim.room.contains(*id) ^ sim.left.contains_key(id), "{} vanished or is both in and out", id);
        }
        // And nobody still waiting was told a position twice in the last round.
        sim.room.check_invariants().map_err(TestCaseError::fail)?;
    }
}

#[test]
fn an_officer_back_within_grace_resumes_the_same_call() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    sim.ok(Command::OfficerLost { officer: a });
    assert_eq!(sim.last_position(c1).unwrap().0, 1, "back at the front");
    sim.advance(secs(30));
    let fx = sim.ok(Command::OnDuty {
        officer: a,
        name: "Officer 1".into(),
    });
    assert_eq!(sim.room.call_with(a), Some(c1));
    assert!(fx.contains(&Effect::Record(RecordNote::Resumed {
        entry: c1,
        officer: a,
        officer_name: "Officer 1".into(),
    })));
    assert!(fx.contains(&Effect::Citizen(
        c1,
        CitizenNote::CallResumed {
            officer_name: "Officer 1".into()
        }
    )));
    assert!(fx.contains(&Effect::Officer(a, OfficerNote::CallResumed { entry: c1 })));
    assert!(fx.contains(&Effect::Call(CallNote::Start {
        entry: c1,
        officer: a
    })));
    assert!(!fx
        .iter()
        .any(|f| matches!(f, Effect::Officer(_, OfficerNote::Offer { .. }))));
    assert_eq!(sim.last_position(c2).unwrap().0, 1);
    // The resumed call ends like any other, with one terminal note.
    sim.ok(Command::EndCall { officer: a });
    assert_eq!(sim.left[&c1], "ended");
}

#[test]
fn an_officer_back_after_grace_gets_an_ordinary_offer() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    sim.ok(Command::OfficerLost { officer: a });
    sim.advance(Policy::default().officer_grace + secs(1));
    let fx = sim.ok(Command::OnDuty {
        officer: a,
        name: "Officer 1".into(),
    });
    assert!(!fx
        .iter()
        .any(|f| matches!(f, Effect::Record(RecordNote::Resumed { .. }))));
    assert_eq!(sim.offer_to(a), Some(c1));
    assert_eq!(sim.room.call_with(a), None);
}

#[test]
fn a_caller_another_officer_took_is_not_taken_back() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    sim.ok(Command::OfficerLost { officer: a });
    let b = on_duty(&mut sim, 2);
    assert_eq!(
        sim.offer_to(b),
        Some(c1),
        "the front of the queue goes first"
    );
    sim.ok(Command::Accept {
        officer: b,
        entry: c1,
    });
    on_duty(&mut sim, 1);
    assert_eq!(sim.room.duty(a), DutyState::Ready);
    assert_eq!(sim.room.call_with(b), Some(c1));
}

#[test]
fn a_draining_room_refuses_joins_and_starts_no_call() {
    let mut sim = Sim::new(Policy::default());
    let a = on_duty(&mut sim, 1);
    let c1 = sim.join(1);
    let c2 = sim.join(2);
    assert_eq!(sim.offer_to(a), Some(c1));
    sim.ok(Command::Drain);
    assert!(sim.room.is_draining());
    let refused = sim.cmd(Command::Join {
        entry: EntryId(uuid::Uuid::from_u128(99)),
        intake: intake(99),
        class: Class::Normal,
    });
    assert_eq!(refused.unwrap_err(), RoomError::ShuttingDown);
    // The offer already made may still be taken, and that call may finish.
    sim.ok(Command::Accept {
        officer: a,
        entry: c1,
    });
    assert!(sim.room.is_busy());
    sim.ok(Command::EndCall { officer: a });
    sim.ok(Command::Ready { officer: a });
    assert!(!sim.room.is_busy());
    assert_eq!(sim.room.duty(a), DutyState::Ready);
    assert!(sim.room.contains(c2), "still waiting, for the next run");
    assert!(!sim.fx.iter().any(
        |f| matches!(f, Effect::Officer(_, OfficerNote::Offer { entry, .. }) if *entry == c2)
    ));
}

fn saved(n: u32, place: Option<(Class, u64)>, in_call_with: Option<UserId>) -> Saved {
    Saved {
        entry: EntryId(uuid::Uuid::from_u128(n as u128 + 1)),
        intake: intake(n),
        joined_at: noon() - secs(600 - n as i64),
        place,
        in_call_with,
    }
}

/// A simulation continuing from a restored room.
fn restored(saved: Vec<Saved>, policy: Policy, now: Timestamp) -> (Sim, Vec<Effect>) {
    let ids = saved.iter().map(|s| s.entry).collect();
    let (room, fx) = Room::restore(policy.clone(), schedule(), saved, now);
    let mut sim = Sim::new(policy);
    sim.room = room;
    sim.now = now;
    sim.joined = ids;
    let fx = sim.absorb(fx);
    (sim, fx)
}

fn order(room: &Room) -> Vec<EntryId> {
    room.order.values().copied().collect()
}

#[test]
fn restore_keeps_the_order_and_puts_calls_in_progress_first() {
    let a = officer(1);
    let e1 = saved(1, Some((Class::Normal, 5)), None);
    let e2 = saved(2, Some((Class::Normal, 3)), None);
    let e3 = saved(3, Some((Class::Normal, 1)), Some(a));
    let e4 = saved(4, None, None);
    let e5 = saved(5, Some((Class::Carried, 9)), None);
    let dup = saved(2, Some((Class::Normal, 7)), None);
    let clash = saved(6, Some((Class::Normal, 5)), None);
    let ids: Vec<EntryId> = [&e1, &e2, &e3, &e4, &e5, &clash]
        .iter()
        .map(|s| s.entry)
        .collect();
    let input = vec![
        e1.clone(),
        e2.clone(),
        e3.clone(),
        e4.clone(),
        e5.clone(),
        dup,
        clash.clone(),
    ];
    let (mut sim, fx) = restored(input, Policy::default(), noon());
    // Interrupted call first, then the carried token, then by place; the entry whose
    // place was taken and the placeless one after, in the order given.
    assert_eq!(
        order(&sim.room),
        [
            e3.entry,
            e5.entry,
            e2.entry,
            e1.entry,
            clash.entry,
            e4.entry
        ]
    );
    assert!(fx.contains(&Effect::Record(RecordNote::Interrupted {
        entry: e3.entry,
        officer: a,
        reason: InterruptReason::ServerRestart,
    })));
    let placed: Vec<EntryId> = fx
        .iter()
        .filter_map(|f| match f {
            Effect::Record(RecordNote::Placed { entry, .. }) => Some(*entry),
            _ => None,
        })
        .collect();
    assert_eq!(
        placed,
        [clash.entry, e4.entry, e3.entry],
        "only new places are written"
    );
    // Nobody is connected yet: no officer gets an offer until they are back.
    let b = on_duty(&mut sim, 2);
    assert_eq!(sim.room.duty(b), DutyState::Ready);
    sim.ok(Command::CitizenBack { entry: e2.entry });
    assert_eq!(sim.offer_to(b), Some(e2.entry));
    // The officer of the cut call takes it up again, even before the citizen is back.
    let fx = sim.ok(Command::OnDuty {
        officer: a,
        name: "Officer 1".into(),
    });
    assert_eq!(sim.room.call_with(a), Some(e3.entry));
    assert!(fx.contains(&Effect::Officer(
        a,
        OfficerNote::PeerLost { entry: e3.entry }
    )));
    // Whoever does not come back leaves when the grace period ends, with a record of how.
    sim.advance(Policy::default().citizen_grace + secs(1));
    for id in ids {
        assert!(sim.room.contains(id) ^ sim.left.contains_key(&id), "{id}");
    }
    assert_eq!(sim.left[&e1.entry], "abandoned");
    assert_eq!(
        sim.left[&e3.entry], "ended",
        "the resumed call ended: citizen lost"
    );
}

#[test]
fn restore_at_a_closed_window_with_nobody_on_duty_carries_everyone_over() {
    let (sim, _) = restored(
        vec![saved(1, Some((Class::Normal, 1)), None)],
        Policy::default(),
        noon() + secs(3 * 3600),
    );
    assert!(sim.room.is_empty());
    assert_eq!(sim.left.values().copied().collect::<Vec<_>>(), ["carried"]);
}

/// What the store would hold after the record notes so far: the places and whether each
/// record is waiting or in a call with whom (the store's `waiting_room`).
fn persisted(sim: &Sim) -> Vec<Saved> {
    let mut places: HashMap<EntryId, (Class, u64)> = HashMap::new();
    let mut in_call: HashMap<EntryId, Option<UserId>> = HashMap::new();
    for f in &sim.fx {
        let Effect::Record(r) = f else { continue };
        match r {
            RecordNote::Placed { entry, class, seq } => {
                places.insert(*entry, (*class, *seq));
                in_call.entry(*entry).or_insert(None);
            }
            RecordNote::Answered { entry, officer, .. }
            | RecordNote::Resumed { entry, officer, .. } => {
                in_call.insert(*entry, Some(*officer));
            }
            RecordNote::Interrupted { entry, .. } | RecordNote::Requeued { entry } => {
                in_call.insert(*entry, None);
            }
            RecordNote::Ended { entry, .. }
            | RecordNote::Abandoned { entry, .. }
            | RecordNote::CarriedOver { entry, .. } => {
                places.remove(entry);
                in_call.remove(entry);
            }
            RecordNote::Offered { .. } | RecordNote::Declined { .. } => {}
        }
    }
    let mut out: Vec<Saved> = sim
        .joined
        .iter()
        .filter(|id| in_call.contains_key(id))
        .enumerate()
        .map(|(n, id)| Saved {
            entry: *id,
            intake: intake(n as u32),
            joined_at: noon(),
            place: places.get(id).copied(),
            in_call_with: in_call[id],
        })
        .collect();
    out.sort_by_key(|s| s.place.map_or((1, None), |p| (0, Some(p))));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    /// Crash at any moment: the record notes alone rebuild the same room, with the calls
    /// that were in progress at the front and everyone else in the same order.
    #[test]
    fn a_restart_at_any_moment_restores_the_same_queue(ops in proptest::collection::vec(op(), 1..120), carry in any::<bool>()) {
        let policy = Policy {
            close: if carry { ClosePolicy::CarryOver } else { ClosePolicy::ServeAll },
            late_join: LateJoin::AdmitWithWarning,
            max_waiting: 20,
            ..Policy::default()
        };
        let mut sim = Sim::new(policy.clone());
        for op in &ops {
            apply_op(&mut sim, op);
        }
        let saved = persisted(&sim);
        let old = &sim.room;
        let saved_ids: std::collections::HashSet<EntryId> = saved.iter().map(|s| s.entry).collect();
        let room_ids: std::collections::HashSet<EntryId> = old.entries.keys().copied().collect();
        prop_assert_eq!(&saved_ids, &room_ids, "the notes name exactly the entries in the room");
        for s in &saved {
            prop_assert!(s.place.is_some(), "every entry's place was announced");
            prop_assert_eq!(s.in_call_with, old.call_of(s.entry), "the notes know who is in a call");
        }
        let in_call: Vec<EntryId> = saved.iter().filter(|s| s.in_call_with.is_some()).map(|s| s.entry).collect();
        let front: Vec<EntryId> = old.order.iter().filter(|(k, _)| k.0 == Class::Interrupted).map(|(_, id)| *id).collect();
        let rest: Vec<EntryId> = old.order.iter().filter(|(k, _)| k.0 != Class::Interrupted).map(|(_, id)| *id).collect();
        let expected: Vec<EntryId> = front.into_iter().chain(in_call.clone()).chain(rest).collect();

        // Restart at the same moment, with the overrides the last schedule change said to
        // keep: the window is as it was, now and later.
        let now = sim.now;
        let kept = kept_overrides(&sim.fx).unwrap_or_default();
        let kept = Schedule::with_overrides(schedule().spec().clone(), kept);
        for later in [0, 60, 3600, 3 * 3600, 24 * 3600] {
            let t = now + secs(later);
            prop_assert_eq!(kept.status(t), old.schedule().status(t), "the window {}s after the restart", later);
        }
        let (room, _) = Room::restore(policy.clone(), kept, saved.clone(), now);
        room.check_invariants().map_err(TestCaseError::fail)?;
        if room.len() == expected.len() {
            prop_assert_eq!(order(&room), expected);
            prop_assert!(room.entries.values().all(|e| e.lost_since == Some(now)));
        } else {
            // Only a closed window with nobody on duty empties a restored room.
            prop_assert!(room.is_empty() && !room.is_open(now));
        }
        // And whoever never comes back leaves exactly once, with a record of how.
        let (mut again, _) = restored(saved, policy, now);
        again.advance(secs(3600));
        for id in &room_ids {
            prop_assert!(again.left.contains_key(id), "{} vanished after the restart", id);
        }
        prop_assert!(again.room.is_empty());
    }
}
