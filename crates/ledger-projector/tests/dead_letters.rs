//! Every kind of record that cannot be applied ends in the dead-letter sink
//! with its provenance, and the projector keeps going.

use ledger_core::{partition_for, Context, Iin, Sex};
use ledger_projector::{run, Options, Until};
use ledger_proto::v1 as pb;
use ledger_store::LedgerStore;
use ledger_stream::{Record, Source, SourceError};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// A source over a fixed list of records, placed wherever the test says.
struct Fixed {
    partitions: u32,
    records: Vec<Record>,
    at: usize,
    /// Reports no partitions at start, like a group member whose partitions
    /// arrive with a later rebalance.
    late_assignment: bool,
}

impl Source for Fixed {
    fn partition_count(&self) -> u32 {
        self.partitions
    }
    fn assigned(&self) -> Vec<u32> {
        if self.late_assignment {
            return Vec::new();
        }
        (0..self.partitions).collect()
    }
    fn seek(&mut self, _p: u32, _o: u64) -> Result<(), SourceError> {
        Ok(())
    }
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError> {
        if self.at == self.records.len() {
            std::thread::sleep(wait);
        }
        let end = (self.at + max).min(self.records.len());
        let out = self.records[self.at..end].to_vec();
        self.at = end;
        Ok(out)
    }
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        if self.late_assignment {
            return Ok(Vec::new());
        }
        Ok((0..self.partitions)
            .map(|p| {
                let n = self.records.iter().filter(|r| r.partition == p).count() as u64;
                (p, n)
            })
            .collect())
    }
    fn acknowledge(&mut self, _o: &[(u32, u64)]) -> Result<(), SourceError> {
        Ok(())
    }
}

fn person(iin: &Iin, id: &str) -> Vec<u8> {
    let wire = pb::Envelope {
        event_id: id.into(),
        iin: iin.to_string(),
        source: "register".into(),
        signature: None,
        payload: Some(pb::envelope::Payload::Person(pb::PersonRegistered {
            surname: "S".into(),
            ..Default::default()
        })),
    };
    prost::Message::encode_to_vec(&wire)
}

#[test]
fn each_kind_is_dead_lettered_with_provenance() {
    const N: u32 = 2;
    let birth = chrono::NaiveDate::from_ymd_opt(1979, 11, 2).unwrap();
    let iins: Vec<Iin> = (0..200u16)
        .filter_map(|s| Iin::generate(birth, Sex::Male, s))
        .collect();
    let a = iins
        .iter()
        .find(|i| partition_for(i.as_bytes(), N) == 0)
        .copied()
        .unwrap();
    let b = iins
        .iter()
        .find(|i| partition_for(i.as_bytes(), N) == 1)
        .copied()
        .unwrap();
    let ts = 1_744_300_800_000;
    let rec = |offset: u64, key: &[u8], value: Vec<u8>, timestamp_ms: i64| Record {
        partition: 0,
        offset,
        timestamp_ms,
        key: key.to_vec(),
        value,
    };
    let records = vec![
        rec(0, b"not-an-iin", person(&a, "x0"), ts),
        rec(1, b.as_str().as_bytes(), person(&b, "x1"), ts), // b belongs on partition 1
        rec(2, a.as_str().as_bytes(), person(&b, "x2"), ts), // envelope names another IIN
        rec(3, a.as_str().as_bytes(), vec![0xff, 0x01, 0x02], ts),
        rec(4, a.as_str().as_bytes(), person(&a, "x4"), i64::MAX),
        rec(5, a.as_str().as_bytes(), person(&a, "ok"), ts),
    ];
    let mut source = Fixed {
        partitions: N,
        records,
        at: 0,
        late_assignment: false,
    };
    let store = LedgerStore::in_memory();
    let opts = Options {
        batch_size: 4,
        until: Until::EndAtStart,
        poll_wait: Duration::ZERO,
        signer: None,
        notary: None,
        trees: true,
    };
    let totals = run(
        &Context::default(),
        &mut source,
        &store,
        &opts,
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    assert_eq!(totals.records, 6);
    assert_eq!(totals.dead_letters, 5);
    assert_eq!(
        totals.applied, 1,
        "the valid record after the bad ones is applied"
    );
    let kinds: Vec<(u64, String)> = store
        .dead_letters()
        .unwrap()
        .into_iter()
        .map(|d| (d.position.offset, d.kind))
        .collect();
    let want = [
        "bad_key",
        "wrong_partition",
        "key_mismatch",
        "undecodable",
        "bad_timestamp",
    ];
    assert_eq!(
        kinds,
        want.iter()
            .enumerate()
            .map(|(i, k)| (i as u64, k.to_string()))
            .collect::<Vec<_>>()
    );
    let letters = store.dead_letters().unwrap();
    assert_eq!(
        letters[3].value,
        vec![0xff, 0x01, 0x02],
        "the input is kept whole"
    );
    for d in &letters {
        assert!(
            !d.error.contains(a.as_str()) && !d.error.contains(b.as_str()),
            "unmasked IIN: {}",
            d.error
        );
    }
    assert_eq!(store.offset(0).unwrap(), Some(6));
    assert_eq!(store.account(0, &a).unwrap().unwrap().history_len, 1);
}

/// A follower reports (and acknowledges) its last batch while it waits for
/// more, not only when more arrives.
#[test]
fn a_follower_settles_its_last_batch_while_idle() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let birth = chrono::NaiveDate::from_ymd_opt(1979, 11, 2).unwrap();
    let a = (0..200u16)
        .filter_map(|s| Iin::generate(birth, Sex::Male, s))
        .find(|i| partition_for(i.as_bytes(), 1) == 0)
        .unwrap();
    let records = (0..10u64)
        .map(|o| Record {
            partition: 0,
            offset: o,
            timestamp_ms: 1_744_300_800_000,
            key: a.as_str().as_bytes().to_vec(),
            value: person(&a, &format!("f{o}")),
        })
        .collect();
    let mut source = Fixed {
        partitions: 1,
        records,
        at: 0,
        late_assignment: false,
    };
    let store = LedgerStore::in_memory();
    let (stop, seen) = (AtomicBool::new(false), AtomicU64::new(0));
    let opts = Options {
        batch_size: 3,
        until: Until::Stopped,
        poll_wait: Duration::from_millis(5),
        signer: None,
        notary: None,
        trees: true,
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            run(
                &Context::default(),
                &mut source,
                &store,
                &opts,
                &stop,
                |t| seen.store(t.records, Ordering::SeqCst),
            )
            .unwrap();
        });
        // Bounded wait for an event, not a timing assertion.
        for _ in 0..2000 {
            if seen.load(Ordering::SeqCst) == 10 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let reported_while_following = seen.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        assert_eq!(
            reported_while_following, 10,
            "the last batch was left unsettled while idle"
        );
    });
}

#[test]
fn a_partition_assigned_later_resumes_at_the_stored_offset_whatever_the_source_sends() {
    let birth = chrono::NaiveDate::from_ymd_opt(1979, 11, 2).unwrap();
    let records: Vec<Record> = (0..200u16)
        .filter_map(|s| Iin::generate(birth, Sex::Male, s))
        .take(10)
        .enumerate()
        .map(|(i, iin)| Record {
            partition: 0,
            offset: i as u64,
            timestamp_ms: 1_750_000_000_000,
            key: iin.as_str().as_bytes().to_vec(),
            value: person(&iin, &format!("p{i}")),
        })
        .collect();
    let store = LedgerStore::in_memory();
    let ctx = Context::default();
    let mut first = Fixed {
        partitions: 1,
        records: records.clone(),
        at: 0,
        late_assignment: false,
    };
    let opts = Options {
        batch_size: 4,
        poll_wait: Duration::from_millis(1),
        until: Until::EndAtStart,
        signer: None,
        notary: None,
        trees: true,
    };
    let t = run(
        &ctx,
        &mut first,
        &store,
        &opts,
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    assert_eq!(t.applied, 10);
    // Assigned after start, the partition is delivered again from 0.
    let mut again = Fixed {
        partitions: 1,
        records,
        at: 0,
        late_assignment: true,
    };
    let stop = AtomicBool::new(false);
    let opts = Options {
        until: Until::Stopped,
        ..opts
    };
    let t = run(&ctx, &mut again, &store, &opts, &stop, |t| {
        if t.records + t.redelivered >= 10 {
            stop.store(true, std::sync::atomic::Ordering::Relaxed)
        }
    })
    .unwrap();
    assert_eq!((t.records, t.redelivered), (0, 10), "{t:?}");
    assert_eq!(store.offset(0).unwrap(), Some(10));
    let mut lens = Vec::new();
    store
        .for_each_account(|_, a| lens.push(a.history_len))
        .unwrap();
    assert_eq!(lens, vec![1; 10], "nothing applied twice");
}

/// Issue 25 case 10: the projector is the last line against a close of a
/// month that had not ended, or that ended before the epoch, published by
/// any tool: such a marker is a `bad_control` dead letter with its reason
/// and closes nothing; one that records the operator's override closes;
/// a month is judged by the marker's own record time, the same on every
/// partition (not by a partition's clock, which one future-dated record
/// can push ahead on that partition alone).
#[test]
fn a_marker_for_an_unended_or_pre_epoch_month_closes_nothing() {
    use ledger_core::close::CloseOverrides;
    use ledger_proto::monthly::{encode_month_closed_with, MONTH_CLOSED_KEY};
    let birth = chrono::NaiveDate::from_ymd_opt(1979, 11, 2).unwrap();
    let iins: Vec<Iin> = (0..50u16)
        .filter_map(|s| Iin::generate(birth, Sex::Male, s))
        .collect();
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    let april = ms("2025-04-10T10:00:00+05:00");
    let may = ms("2025-05-10T10:00:00+05:00");
    let marker = |period: &str, unended: bool, at: i64| {
        let value = encode_month_closed_with(
            ledger_core::Period::parse(period).unwrap(),
            "another tool",
            CloseOverrides {
                unended,
                before_epoch: false,
            },
            None,
        );
        (MONTH_CLOSED_KEY.to_vec(), at, value)
    };
    let person_at = |n: usize, at: i64| {
        let iin = &iins[n];
        (iin.as_bytes().to_vec(), at, person(iin, &format!("p-{n}")))
    };
    let records: Vec<Record> = [
        person_at(0, april),
        marker("2025-06", false, april),
        marker("2025-03", false, april),
        marker("1999-01", false, april),
        marker("2031-06", true, april),
        person_at(1, may),
        // Recorded in April by a slow clock, though the partition's is in
        // May: judged by its own time, as on every other partition (a
        // partition's clock is not the same on all of them).
        marker("2025-04", false, april),
    ]
    .into_iter()
    .enumerate()
    .map(|(offset, (key, timestamp_ms, value))| Record {
        partition: 0,
        offset: offset as u64,
        timestamp_ms,
        key,
        value,
    })
    .collect();
    let mut source = Fixed {
        partitions: 1,
        records,
        at: 0,
        late_assignment: false,
    };
    let store = LedgerStore::in_memory();
    run(
        &Context::default(),
        &mut source,
        &store,
        &Options {
            batch_size: 3,
            until: Until::EndAtStart,
            poll_wait: Duration::ZERO,
            signer: None,
            notary: None,
            trees: true,
        },
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    let closed = |p: &str| {
        store
            .closed(0, ledger_core::Period::parse(p).unwrap())
            .unwrap()
            .is_some()
    };
    assert!(closed("2025-03"));
    assert!(!closed("2025-04"), "judged by the marker's own time");
    assert!(closed("2031-06"), "the operator's override");
    assert!(!closed("2025-06"));
    assert!(!closed("1999-01"));
    let letters: Vec<(u64, String, String)> = store
        .dead_letters()
        .unwrap()
        .into_iter()
        .map(|d| (d.position.offset, d.kind, d.error))
        .collect();
    assert_eq!(letters.len(), 3, "{letters:?}");
    assert_eq!((letters[0].0, letters[0].1.as_str()), (1, "bad_control"));
    assert!(
        letters[0].2.contains("2025-06 has not ended")
            && letters[0].2.contains("2025-07-01T00:00:00+05:00"),
        "{letters:?}"
    );
    assert_eq!((letters[1].0, letters[1].1.as_str()), (3, "bad_control"));
    assert!(
        letters[1]
            .2
            .contains("1999-01 ended before the ledger's epoch"),
        "{letters:?}"
    );
    assert_eq!((letters[2].0, letters[2].1.as_str()), (6, "bad_control"));
    assert!(
        letters[2].2.contains("2025-04 has not ended"),
        "{letters:?}"
    );
    assert_eq!(store.offset(0).unwrap(), Some(7));
}
