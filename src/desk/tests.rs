//! The desk actor on paused tokio time: timers fire from the actor's own sleep, effects
//! reach the right outboxes, record notes reach the writer, and a slow client is cut off
//! without holding up the desk.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;

use super::*;
use crate::config::FileConfig;
use crate::core::intake::{Intake, Language, Mobile};
use crate::core::room::{CitizenNote, DutyState, OfficerNote};

fn noon() -> Timestamp {
    "2026-11-28T06:30:00Z".parse().unwrap()
}

/// A desk whose record writer is a stand-in: it passes the notes on to the test and
/// answers flushes at once.
fn desk() -> (DeskHandle, mpsc::Receiver<RecordJob>) {
    desk_with(SavedDesk::default())
}

fn desk_with(saved: SavedDesk) -> (DeskHandle, mpsc::Receiver<RecordJob>) {
    let cfg = FileConfig::default().validate().unwrap();
    let (tx, mut writer) = mpsc::channel(64);
    let (notes, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(job) = writer.recv().await {
            match job {
                RecordJob::Flushed(done) => {
                    let _ = done.send(());
                }
                note => {
                    let _ = notes.send(note).await;
                }
            }
        }
    });
    (
        spawn_desk(&cfg.desks[0], Clock::starting_at(noon()), tx, saved, None),
        rx,
    )
}

fn info(n: u32) -> EntryInfo {
    EntryInfo {
        reference: format!("PRY-2026-{n:06}"),
        intake: Intake {
            name: format!("Citizen {n}"),
            mobile: Mobile::parse("9876543210").unwrap(),
            area: "Kotwali".into(),
            category: "theft".into(),
            description: String::new(),
            language: Language::Hindi,
        },
    }
}

async fn next(inbox: &mut Inbox) -> Outbound {
    tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .expect("a message in time")
        .expect("outbox open")
}

#[tokio::test(start_paused = true)]
async fn an_offer_times_out_on_the_actors_own_timer() {
    let (desk, mut records) = desk();
    let (cbox, mut cin) = Outbox::new(1);
    let entry = EntryId::new_random();
    desk.join(entry, info(1), Class::Normal, cbox)
        .await
        .unwrap();
    assert!(matches!(
        next(&mut cin).await,
        Outbound::Citizen(CitizenNote::Position {
            position: 1,
            estimate: None,
            ..
        })
    ));

    let officer = UserId::new_random();
    let (obox, mut oin) = Outbox::new(2);
    desk.on_duty(officer, "Officer".into(), obox).await.unwrap();
    let mut saw_offer = false;
    while let Outbound::Officer(note, about) = next(&mut oin).await {
        if let OfficerNote::Offer { entry: e, .. } = note {
            assert_eq!(e, entry);
            assert_eq!(about.unwrap().1.reference, "PRY-2026-000001");
            saw_offer = true;
            break;
        }
    }
    assert!(saw_offer);
    // Nobody answers: thirty seconds later the actor's own timer marks the officer away.
    tokio::time::advance(Duration::from_secs(31)).await;
    loop {
        if let Outbound::Officer(OfficerNote::Duty(DutyState::Away), _) = next(&mut oin).await {
            break;
        }
    }
    let mut kinds = vec![];
    while let Ok(job) = records.try_recv() {
        let RecordJob::Note { note, .. } = job else {
            continue;
        };
        kinds.push(
            format!("{:?}", note)
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(kinds, ["Placed", "Offered", "Declined"]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_client_is_cut_off_and_the_desk_goes_on() {
    let (desk, _records) = desk();
    let (slow_box, slow_in) = Outbox::new(1);
    let entry = EntryId::new_random();
    desk.join(entry, info(1), Class::Normal, slow_box)
        .await
        .unwrap();
    // Never read `slow_in`; flood it with broadcasts beyond its capacity.
    for i in 0..OUTBOX_CAPACITY + 10 {
        desk.command(Command::Broadcast {
            text: format!("message {i}"),
        })
        .await
        .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(1), slow_in.slow.notified())
        .await
        .expect("the slow client was told to go");
    // The desk still answers others.
    let (fast, mut fast_in) = Outbox::new(2);
    desk.join(EntryId::new_random(), info(2), Class::Normal, fast)
        .await
        .unwrap();
    assert!(matches!(
        next(&mut fast_in).await,
        Outbound::Citizen(CitizenNote::Position { position: 2, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_second_connection_supersedes_the_first_and_the_old_goodbye_is_ignored() {
    let (desk, _records) = desk();
    let (first, mut first_in) = Outbox::new(1);
    let entry = EntryId::new_random();
    desk.join(entry, info(1), Class::Normal, first)
        .await
        .unwrap();
    let _ = next(&mut first_in).await;
    let (second, mut second_in) = Outbox::new(2);
    assert_eq!(
        desk.attach(entry, second).await.unwrap(),
        AttachedAs::Waiting
    );
    assert!(matches!(next(&mut first_in).await, Outbound::Superseded));
    // The first connection's goodbye must not mark the citizen lost.
    desk.citizen_gone(entry, 1);
    let v = desk.view().await.unwrap();
    assert!(v.view.queue[0].connected);
    assert!(matches!(
        next(&mut second_in).await,
        Outbound::Citizen(CitizenNote::Position { position: 1, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_desk_starts_with_the_saved_room_and_records_the_cut_call() {
    let officer = UserId::new_random();
    let saved = |n: u32, place, in_call_with| {
        let info = info(n);
        SavedEntry {
            saved: Saved {
                entry: EntryId(uuid::Uuid::from_u128(n.into())),
                intake: info.intake.clone(),
                joined_at: noon(),
                place,
                in_call_with,
            },
            info,
        }
    };
    let waiting = saved(1, Some((Class::Normal, 1)), None);
    let cut = saved(2, Some((Class::Normal, 2)), Some(officer));
    let (desk, mut records) = desk_with(SavedDesk {
        entries: vec![waiting.clone(), cut.clone()],
        ..SavedDesk::default()
    });
    let v = desk.view().await.unwrap();
    let order: Vec<EntryId> = v.view.queue.iter().map(|q| q.entry).collect();
    assert_eq!(order, [cut.saved.entry, waiting.saved.entry]);
    assert!(v.view.queue.iter().all(|q| !q.connected));
    assert_eq!(v.references, ["PRY-2026-000002", "PRY-2026-000001"]);
    let mut notes = vec![];
    while let Ok(RecordJob::Note { note, .. }) = records.try_recv() {
        notes.push(note);
    }
    assert!(notes.contains(&RecordNote::Interrupted {
        entry: cut.saved.entry,
        officer,
        reason: crate::core::room::InterruptReason::ServerRestart,
    }));
    // The citizen's ticket finds the place; the officer takes the call up again.
    let (cbox, _cin) = Outbox::new(1);
    assert_eq!(
        desk.attach(waiting.saved.entry, cbox).await.unwrap(),
        AttachedAs::Waiting
    );
    let (obox, mut oin) = Outbox::new(2);
    desk.on_duty(officer, "Officer".into(), obox).await.unwrap();
    loop {
        if let Outbound::Officer(OfficerNote::CallResumed { entry }, _) = next(&mut oin).await {
            assert_eq!(entry, cut.saved.entry);
            break;
        }
    }
    // Draining answers once that call is over; a stopped desk is gone.
    let drained = tokio::spawn({
        let desk = desk.clone();
        async move { desk.drain().await }
    });
    tokio::task::yield_now().await;
    assert!(!drained.is_finished());
    assert!(matches!(
        desk.can_join().await,
        Err(DeskError::Room(RoomError::ShuttingDown))
    ));
    desk.command(Command::EndCall { officer }).await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), drained)
        .await
        .expect("drained once the call ended")
        .unwrap();
    desk.stop().await;
    assert!(matches!(desk.can_join().await, Err(DeskError::Gone)));
}

/// A record writer that answers flushes at once, or, while the flag is set, hands them to
/// the test to answer; a desk that writes to it.
struct HeldWriter {
    desk: DeskHandle,
    hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
    held: mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
}

impl HeldWriter {
    fn start() -> HeldWriter {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use std::sync::Arc;
        let cfg = FileConfig::default().validate().unwrap();
        let (held_tx, held) = mpsc::channel::<tokio::sync::oneshot::Sender<()>>(64);
        let (tx, mut writer) = mpsc::channel(64);
        let hold = Arc::new(AtomicBool::new(false));
        let holding = hold.clone();
        tokio::spawn(async move {
            while let Some(job) = writer.recv().await {
                if let RecordJob::Flushed(done) = job {
                    if holding.load(SeqCst) {
                        let _ = held_tx.send(done).await;
                    } else {
                        let _ = done.send(());
                    }
                }
            }
        });
        let desk = spawn_desk(
            &cfg.desks[0],
            Clock::starting_at(noon()),
            tx,
            SavedDesk::default(),
            None,
        );
        HeldWriter { desk, hold, held }
    }

    fn hold(&self, on: bool) {
        self.hold.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers every flush held so far and stops holding.
    fn commit(&mut self) {
        self.hold(false);
        while let Ok(done) = self.held.try_recv() {
            let _ = done.send(());
        }
    }
}

/// A citizen in a call with an officer: their entry and both inboxes.
async fn in_a_call(desk: &DeskHandle, officer: UserId) -> (EntryId, Inbox, Inbox) {
    let (cbox, mut cin) = Outbox::new(1);
    let entry = EntryId::new_random();
    desk.join(entry, info(1), Class::Normal, cbox)
        .await
        .unwrap();
    let (obox, mut oin) = Outbox::new(2);
    desk.on_duty(officer, "Officer".into(), obox).await.unwrap();
    loop {
        if let Outbound::Officer(OfficerNote::Offer { .. }, _) = next(&mut oin).await {
            break;
        }
    }
    desk.command(Command::Accept { officer, entry })
        .await
        .unwrap();
    loop {
        if let Outbound::Citizen(CitizenNote::CallStarted { .. }) = next(&mut cin).await {
            break;
        }
    }
    (entry, cin, oin)
}

/// An officer is told the citizen hung up only once the record says so, and what the desk
/// sends the officer after that waits behind it, in order.
#[tokio::test(start_paused = true)]
async fn an_officer_hears_the_citizen_hung_up_only_after_the_record_is_written() {
    let mut w = HeldWriter::start();
    let desk = w.desk.clone();
    let officer = UserId::new_random();
    let (entry, _cin, mut oin) = in_a_call(&desk, officer).await;
    // A second citizen waits, to be offered once the officer is ready again.
    let (c2box, _c2in) = Outbox::new(3);
    let second = EntryId::new_random();
    desk.join(second, info(2), Class::Normal, c2box)
        .await
        .unwrap();

    w.hold(true);
    // The citizen's own answer waits for the flush too: asked for on the side.
    let hanging_up = tokio::spawn({
        let desk = desk.clone();
        async move { desk.command(Command::Hangup { entry }).await }
    });
    let first = w.held.recv().await.expect("a flush asked for");
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Some(msg) = oin.try_recv() {
        assert!(
            !matches!(msg, Outbound::Officer(OfficerNote::CallEnded { .. }, _)),
            "the officer heard the call ended before the record was written"
        );
    }
    let _ = first.send(());
    w.commit();
    loop {
        if let Outbound::Officer(OfficerNote::CallEnded { .. }, _) = next(&mut oin).await {
            break;
        }
    }
    hanging_up.await.unwrap().unwrap();
    // Nothing overtook it: the officer can go on as usual.
    desk.command(Command::Ready { officer }).await.unwrap();
    loop {
        if let Outbound::Officer(OfficerNote::Offer { entry: e, .. }, _) = next(&mut oin).await {
            assert_eq!(e, second);
            break;
        }
    }
}

/// A citizen is told their call ended only once the record says so: with the record
/// writer holding its flush, the note waits; when the write is committed it arrives.
#[tokio::test(start_paused = true)]
async fn a_citizen_hears_the_call_ended_only_after_the_record_is_written() {
    let mut w = HeldWriter::start();
    let desk = w.desk.clone();
    let officer = UserId::new_random();
    let (_, mut cin, _oin) = in_a_call(&desk, officer).await;

    // The writer now holds its flushes: the officer ends the call.
    w.hold(true);
    let ending = tokio::spawn({
        let desk = desk.clone();
        async move { desk.command(Command::EndCall { officer }).await }
    });
    let first = w.held.recv().await.expect("a flush asked for");
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Some(msg) = cin.try_recv() {
        assert!(
            !matches!(msg, Outbound::Citizen(CitizenNote::CallEnded { .. })),
            "the citizen heard the call ended before the record was written"
        );
    }
    // Committed: every flush asked for so far is answered.
    let _ = first.send(());
    w.commit();
    loop {
        if let Outbound::Citizen(CitizenNote::CallEnded { .. }) = next(&mut cin).await {
            break;
        }
    }
    ending.await.unwrap().unwrap();
}
