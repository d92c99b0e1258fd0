//! Properties of the whole decide-and-write path, over generated histories:
//! delivering twice equals once, rebuild equals incremental (with crashes
//! between batches, same digest), balances equal a simple reference model,
//! and an edited entry is the first broken link of the hash chains.

use ledger_core::{Account, Context, Iin, Money, PayerId, Sex};
use ledger_projector::{run, Options, Until};
use ledger_proto::v1 as pb;
use ledger_store::{DiskKv, Engine, LedgerStore, OpenOptions, WriteBatch};
use ledger_stream::{EmbeddedLog, Record, Source, SourceError};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn people() -> Vec<Iin> {
    let birth = chrono::NaiveDate::from_ymd_opt(1985, 3, 9).unwrap();
    (0..60u16)
        .filter_map(|s| Iin::generate(birth, Sex::Male, s))
        .take(4)
        .collect()
}

fn payer(i: u32) -> PayerId {
    (i * 100..)
        .find_map(|s| ledger_core::Bin::generate(12, 6, s).map(PayerId::from))
        .unwrap()
}

/// One generated operation; `id` picks the event id from a small pool so
/// that duplicates and conflicts happen.
#[derive(Debug, Clone)]
enum Op {
    Pay {
        who: usize,
        id: u8,
        payer: u32,
        month: u8,
        tiyn: i64,
        penalty: bool,
        wrong_birth: bool,
        late: bool,
    },
    Refund {
        who: usize,
        id: u8,
        payer: u32,
        month: u8,
        tiyn: i64,
    },
    Junk {
        bytes: Vec<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4usize, 0..40u8, 0..2u32, 1..4u8, 1..500_000i64, prop::bool::weighted(0.2),
              prop::bool::weighted(0.1), prop::bool::weighted(0.2))
            .prop_map(|(who, id, payer, month, tiyn, penalty, wrong_birth, late)|
                Op::Pay { who, id, payer, month, tiyn, penalty, wrong_birth, late }),
        2 => (0..4usize, 0..40u8, 0..2u32, 1..4u8, 1..300_000i64)
            .prop_map(|(who, id, payer, month, tiyn)| Op::Refund { who, id, payer, month, tiyn }),
        1 => prop::collection::vec(any::<u8>(), 0..20).prop_map(|bytes| Op::Junk { bytes }),
    ]
}

fn money(tiyn: i64) -> String {
    Money::from_tiyn(tiyn).to_string()
}

/// (key, timestamp ms, value) of one op.
fn encode(op: &Op, people: &[Iin]) -> (Vec<u8>, i64, Vec<u8>) {
    // Money received 2025-04-10 (Thursday): deadline end of 2025-04-11, +05:00.
    let on_time = 1_744_300_800_000; // 2025-04-10T16:00:00Z
    let late = on_time + 3 * 86_400_000;
    match op {
        Op::Pay {
            who,
            id,
            payer: p,
            month,
            tiyn,
            penalty,
            wrong_birth,
            late: is_late,
        } => {
            let iin = people[*who];
            let mut birth = iin.birth_date().unwrap();
            if *wrong_birth {
                birth = birth.succ_opt().unwrap();
            }
            let wire = pb::Envelope {
                event_id: format!("e{id}"),
                iin: iin.to_string(),
                source: "prop".into(),
                signature: None,
                payload: Some(pb::envelope::Payload::Contribution(pb::ContributionPaid {
                    payment: Some(pb::PaymentDocument {
                        received_on: "2025-04-10".into(),
                        ppc: if *penalty { "017" } else { "012" }.into(),
                        payer_id: payer(*p).to_string(),
                        ..Default::default()
                    }),
                    period: format!("2025-0{month}"),
                    amount: money(*tiyn),
                    person: Some(pb::PersonName {
                        surname: "S".into(),
                        name: "N".into(),
                        patronymic: String::new(),
                        birth_date: birth.to_string(),
                    }),
                })),
            };
            (
                iin.to_string().into_bytes(),
                if *is_late { late } else { on_time },
                prost::Message::encode_to_vec(&wire),
            )
        }
        Op::Refund {
            who,
            id,
            payer: p,
            month,
            tiyn,
        } => {
            let iin = people[*who];
            let wire = pb::Envelope {
                event_id: format!("e{id}"),
                iin: iin.to_string(),
                source: "prop".into(),
                signature: None,
                payload: Some(pb::envelope::Payload::Refund(pb::ContributionRefunded {
                    application_id: "A".into(),
                    refunded_ppc: "012".into(),
                    period: format!("2025-0{month}"),
                    amount: money(*tiyn),
                    payer_id: payer(*p).to_string(),
                    decided_on: "2025-05-01".into(),
                    ..Default::default()
                })),
            };
            (
                iin.to_string().into_bytes(),
                on_time,
                prost::Message::encode_to_vec(&wire),
            )
        }
        Op::Junk { bytes } => (people[0].to_string().into_bytes(), on_time, bytes.clone()),
    }
}

/// The engines every property runs on, each case on each.
const ENGINES: [Engine; 2] = [Engine::Fjall, Engine::Sled];

/// A fresh store of `engine` in a directory that lives as long as it.
fn new_store(engine: Engine) -> (tempfile::TempDir, LedgerStore<DiskKv>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = OpenOptions {
        engine: Some(engine),
        cache_mib: 8,
    };
    let store = LedgerStore::open_with(dir.path(), &opts).unwrap();
    (dir, store)
}

fn publish(log: &EmbeddedLog, ops: &[Op], people: &[Iin]) {
    let enc: Vec<_> = ops.iter().map(|o| encode(o, people)).collect();
    let recs: Vec<(&[u8], i64, &[u8])> = enc.iter().map(|(k, t, v)| (&k[..], *t, &v[..])).collect();
    log.appender().unwrap().append(&recs).unwrap();
}

fn project(log: &EmbeddedLog, store: &LedgerStore<DiskKv>, batch: usize) {
    let mut src = log.source().unwrap();
    let opts = Options {
        batch_size: batch,
        until: Until::EndAtStart,
        poll_wait: Duration::ZERO,
        signer: None,
        notary: None,
        trees: true,
    };
    run(
        &Context::default(),
        &mut src,
        store,
        &opts,
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
}

fn accounts(store: &LedgerStore<DiskKv>) -> BTreeMap<Iin, Account> {
    let mut m = BTreeMap::new();
    store
        .for_each_account(|_, a| {
            m.insert(a.iin, a);
        })
        .unwrap();
    m
}

/// Everything the store holds, as bytes: byte-identical means identical.
fn dump(store: &LedgerStore<DiskKv>) -> Vec<(Vec<u8>, Vec<u8>)> {
    use ledger_store::Kv;
    store.backend().scan(&[]).unwrap()
}

/// A source that fails after `fail_after` polls, as a broker connection or
/// a process would die before acknowledging.
struct Dying<S> {
    inner: S,
    polls_left: usize,
}

impl<S: Source> Source for Dying<S> {
    fn partition_count(&self) -> u32 {
        self.inner.partition_count()
    }
    fn assigned(&self) -> Vec<u32> {
        self.inner.assigned()
    }
    fn seek(&mut self, p: u32, o: u64) -> Result<(), SourceError> {
        self.inner.seek(p, o)
    }
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError> {
        if self.polls_left == 0 {
            return Err(SourceError::Other("connection lost".into()));
        }
        self.polls_left -= 1;
        self.inner.poll(max, wait)
    }
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        self.inner.end_offsets()
    }
    fn acknowledge(&mut self, o: &[(u32, u64)]) -> Result<(), SourceError> {
        self.inner.acknowledge(o)
    }
}

/// The reference model: a few lines of arithmetic over the op list. Event
/// ids are unique per participant: any repeat of (IIN, id) has no effect.
fn reference(ops: &[Op], people: &[Iin]) -> HashMap<Iin, (i64, i64, i64, i64, u64)> {
    let mut first: HashMap<(Iin, u8), bool> = HashMap::new();
    let mut credited: HashMap<(Iin, u32, u8, bool), (i64, i64)> = HashMap::new();
    let mut m: HashMap<Iin, (i64, i64, i64, i64, u64)> = HashMap::new();
    for op in ops {
        match op {
            Op::Pay {
                who,
                id,
                payer,
                month,
                tiyn,
                penalty,
                wrong_birth,
                late,
            } => {
                let iin = people[*who];
                if first.insert((iin, *id), true).is_some() {
                    continue;
                }
                let e = m.entry(iin).or_default();
                e.4 += u64::from(*late);
                if *wrong_birth {
                    e.3 += tiyn;
                } else {
                    if *penalty {
                        e.1 += tiyn
                    } else {
                        e.0 += tiyn
                    }
                    credited
                        .entry((iin, *payer, *month, *penalty))
                        .or_default()
                        .0 += tiyn;
                }
            }
            Op::Refund {
                who,
                id,
                payer,
                month,
                tiyn,
            } => {
                let iin = people[*who];
                if first.insert((iin, *id), true).is_some() {
                    continue;
                }
                let line = credited.entry((iin, *payer, *month, false)).or_default();
                if *tiyn <= line.0 - line.1 {
                    line.1 += tiyn;
                    m.entry(iin).or_default().2 += tiyn;
                }
            }
            Op::Junk { .. } => {}
        }
    }
    m
}

fn tiyn(m: Money) -> i64 {
    (m.decimal() * rust_decimal::Decimal::from(100))
        .try_into()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn balances_equal_the_reference_model(ops in prop::collection::vec(op(), 1..60)) {
        let people = people();
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open_or_create(dir.path(), 3).unwrap();
        publish(&log, &ops, &people);
        for engine in ENGINES {
            let (_dir, store) = new_store(engine);
            project(&log, &store, 7);
            let want = reference(&ops, &people);
            let got = accounts(&store);
            for (iin, (c, p, r, ret, late)) in &want {
                let a = &got[iin];
                prop_assert_eq!(tiyn(a.contributions_total), *c);
                prop_assert_eq!(tiyn(a.penalties_total), *p);
                prop_assert_eq!(tiyn(a.refunds_total), *r);
                prop_assert_eq!(tiyn(a.returned_total), *ret);
                prop_assert_eq!(a.late_recordings, *late);
            }
            let junk = ops.iter().filter(|o| matches!(o, Op::Junk { .. })).count();
            prop_assert!(store.dead_letters().unwrap().len() >= junk, "every junk record is dead-lettered");
        }
    }

    #[test]
    fn delivering_twice_equals_once(ops in prop::collection::vec(op(), 1..40)) {
        let people = people();
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let once = EmbeddedLog::open_or_create(d1.path(), 2).unwrap();
        publish(&once, &ops, &people);
        let twice = EmbeddedLog::open_or_create(d2.path(), 2).unwrap();
        publish(&twice, &ops, &people);
        publish(&twice, &ops, &people);
        for engine in ENGINES {
        let ((_d1, s1), (_d2, s2)) = (new_store(engine), new_store(engine));
        project(&once, &s1, 5);
        project(&twice, &s2, 5);
        let (a1, a2) = (accounts(&s1), accounts(&s2));
        prop_assert_eq!(a1.keys().collect::<Vec<_>>(), a2.keys().collect::<Vec<_>>());
        for (iin, x) in &a1 {
            let y = &a2[iin];
            prop_assert_eq!(x.contributions_total, y.contributions_total);
            prop_assert_eq!(x.penalties_total, y.penalties_total);
            prop_assert_eq!(x.refunds_total, y.refunds_total);
            prop_assert_eq!(x.returned_total, y.returned_total);
            prop_assert_eq!(x.late_recordings, y.late_recordings);
            prop_assert_eq!(&x.periods, &y.periods);
            prop_assert_eq!(x.participation_months(), y.participation_months());
        }
        }
    }

    #[test]
    fn rebuild_equals_incremental_with_crashes(
        ops in prop::collection::vec(op(), 1..60),
        cuts in prop::collection::vec(0usize..60, 0..4),
        batches in prop::collection::vec(1usize..9, 1..4),
        deaths in prop::collection::vec(0usize..4, 1..4),
    ) {
        let people = people();
        let d1 = tempfile::tempdir().unwrap();
        // From scratch: the whole log at once.
        let whole = EmbeddedLog::open_or_create(d1.path(), 3).unwrap();
        publish(&whole, &ops, &people);
        for engine in ENGINES {
        let (_r, rebuilt) = new_store(engine);
        project(&whole, &rebuilt, 1000);
        // Incrementally: published in pieces, projected between pieces with
        // varying batch sizes by sources that die mid-way and restart.
        let d2 = tempfile::tempdir().unwrap();
        let inc_log = EmbeddedLog::open_or_create(d2.path(), 3).unwrap();
        let (_i, inc) = new_store(engine);
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (ops.len() + 1)).collect();
        bounds.push(0);
        bounds.push(ops.len());
        bounds.sort_unstable();
        for (i, w) in bounds.windows(2).enumerate() {
            publish(&inc_log, &ops[w[0]..w[1]], &people);
            let batch = batches[i % batches.len()];
            let mut dying = Dying { inner: inc_log.source().unwrap(), polls_left: deaths[i % deaths.len()] };
            let opts = Options { batch_size: batch, until: Until::EndAtStart, poll_wait: Duration::ZERO, signer: None, notary: None, trees: true };
            let _ = run(&Context::default(), &mut dying, &inc, &opts, &AtomicBool::new(false), |_| {});
            project(&inc_log, &inc, batch);
        }
        prop_assert_eq!(dump(&rebuilt), dump(&inc));
        prop_assert_eq!(rebuilt.digest().unwrap(), inc.digest().unwrap());
        let breaks = rebuilt.audit(|_, _, _| {}, event_id).unwrap().breaks;
        prop_assert!(breaks.is_empty(), "{:?}", breaks);
        }
    }

    /// The chains hold on any history, and an entry edited in place (as one
    /// with write access to the store could) is named by the audit: its
    /// own offset is the first break; and by its account's own check
    /// (`verify_account`), while every other account still verifies.
    #[test]
    fn an_edited_entry_is_the_first_broken_link(
        ops in prop::collection::vec(op(), 1..60),
        pick in any::<prop::sample::Index>(),
        byte in any::<prop::sample::Index>(),
    ) {
        let people = people();
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open_or_create(dir.path(), 2).unwrap();
        publish(&log, &ops, &people);
        for engine in ENGINES {
        let (_dir, store) = new_store(engine);
        project(&log, &store, 4);
        let audit = store.audit(|_, _, _| {}, event_id).unwrap();
        prop_assert!(audit.breaks.is_empty(), "{:?}", audit.breaks);
        // Every account's own check (the API's `verify`) agrees.
        let mut accounts = Vec::new();
        store.for_each_account(|p, a| accounts.push((p, a.iin))).unwrap();
        for (p, iin) in &accounts {
            let check = store.verify_account(*p, iin).unwrap().unwrap();
            prop_assert!(check.first_break.is_none(), "{:?}", check.first_break);
        }
        let mut entries = Vec::new();
        for p in 0..2 {
            for o in 0..store.offset(p).unwrap().unwrap_or(0) {
                entries.extend(store.history_entry(p, o).unwrap());
            }
        }
        prop_assume!(!entries.is_empty());
        let mut e = entries[pick.index(entries.len())].clone();
        let i = byte.index(e.event.len());
        e.event[i] ^= 0x01;
        let at = e.position;
        store.write(&WriteBatch { history: vec![e], ..WriteBatch::default() }).unwrap();
        let breaks = store.audit(|_, _, _| {}, event_id).unwrap().breaks;
        prop_assert!(!breaks.is_empty());
        prop_assert_eq!(breaks[0].partition, at.partition);
        prop_assert_eq!(breaks[0].offset, Some(at.offset), "{:?}", breaks);
        // The account whose entry it is names that entry; every other
        // account still verifies.
        for (p, iin) in &accounts {
            let owns = *p == at.partition
                && store
                    .account_record(*p, iin)
                    .unwrap()
                    .unwrap()
                    .refs
                    .iter()
                    .any(|r| r.offset == at.offset);
            let check = store.verify_account(*p, iin).unwrap().unwrap();
            if owns {
                let b = check.first_break.as_ref();
                prop_assert_eq!(b.and_then(|b| b.offset), Some(at.offset), "{:?}", b);
            } else {
                prop_assert!(check.first_break.is_none(), "{:?}", check.first_break);
            }
        }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A month closed mid-log writes the same bytes — projections,
    /// summaries, everything — whether the log is projected at once or in
    /// small batches by sources that die and restart; and every participant
    /// with a line for the period before the marker has a projection.
    #[test]
    fn month_close_is_deterministic(
        ops in prop::collection::vec(op(), 1..60),
        cut in 0usize..60,
        batches in prop::collection::vec(1usize..9, 1..4),
        deaths in prop::collection::vec(0usize..4, 1..4),
    ) {
        use ledger_proto::monthly::{encode_month_closed, MONTH_CLOSED_KEY};
        let people = people();
        let cut = cut % (ops.len() + 1);
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open_or_create(dir.path(), 3).unwrap();
        publish(&log, &ops[..cut], &people);
        let period = ledger_core::Period::parse("2025-02").unwrap();
        let marker = encode_month_closed(period, "prop", None);
        let mut appender = log.appender().unwrap();
        // Recorded once February has ended (2025-03-05T00:00:00Z): a
        // close of an unended month is refused.
        for p in 0..3 {
            appender.append_to(p, &[(MONTH_CLOSED_KEY, 1_741_132_800_000, &marker)]).unwrap();
        }
        drop(appender);
        publish(&log, &ops[cut..], &people);

        for engine in ENGINES {
        let (_w, whole) = new_store(engine);
        project(&log, &whole, 1000);
        let (_p, pieces) = new_store(engine);
        for (i, batch) in batches.iter().enumerate() {
            let mut dying = Dying { inner: log.source().unwrap(), polls_left: deaths[i % deaths.len()] };
            let opts = Options { batch_size: *batch, until: Until::EndAtStart, poll_wait: Duration::ZERO, signer: None, notary: None, trees: true };
            let _ = run(&Context::default(), &mut dying, &pieces, &opts, &AtomicBool::new(false), |_| {});
        }
        project(&log, &pieces, batches[0]);
        prop_assert_eq!(dump(&whole), dump(&pieces));
        let summarized: BTreeSet<u32> = whole.summaries(period).unwrap().into_iter().map(|(p, _, _)| p).collect();
        prop_assert_eq!(summarized.len(), 3, "a summary from every partition");
        // Restatements keep the summaries in step: the latest summaries add
        // up to exactly the latest projections.
        {
            use ledger_proto::monthly::Summary;
            use prost::Message as _;
            let mut latest: BTreeMap<(u32, Iin), (u32, Vec<u8>)> = BTreeMap::new();
            for p in whole.projections(period).unwrap() {
                latest.insert((p.partition, p.iin), (p.revision, p.bytes));
            }
            let mut from_projections = Summary::default();
            for (_, bytes) in latest.values() {
                let m = ledger_proto::v1::MonthlyProjection::decode(bytes.as_slice()).unwrap();
                from_projections.add(&m).unwrap();
            }
            let mut last: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
            for (p, _, bytes) in whole.summaries(period).unwrap() {
                last.insert(p, bytes);
            }
            let mut from_summaries = Summary::default();
            for bytes in last.values() {
                let m = ledger_proto::v1::PartitionMonthSummary::decode(bytes.as_slice()).unwrap();
                from_summaries.merge(&Summary::from_message(&m).unwrap()).unwrap();
            }
            prop_assert_eq!(from_projections, from_summaries);
        }
        // A line counts where its event id is new for its participant
        // (a repeated id is a duplicate or a conflict: no line).
        let mut seen = BTreeSet::new();
        let mut with_lines: BTreeSet<Iin> = BTreeSet::new();
        for o in &ops[..cut] {
            match o {
                Op::Pay { who, id, month, .. } => {
                    if seen.insert((*who, *id)) && *month == 2 {
                        with_lines.insert(people[*who]);
                    }
                }
                Op::Refund { who, id, .. } => {
                    seen.insert((*who, *id));
                }
                Op::Junk { .. } => {}
            }
        }
        let projected: BTreeSet<Iin> = whole.projections(period).unwrap().into_iter().map(|p| p.iin).collect();
        prop_assert!(with_lines.is_subset(&projected), "{:?} ⊄ {:?}", with_lines, projected);
        }
    }
}

/// An entry's event id, for its tree leaf (`LedgerStore::audit`).
fn event_id(h: &ledger_store::HistoryEntry) -> Result<String, String> {
    ledger_proto::decode_canonical(&h.event)
        .map(|d| d.envelope.event_id.as_str().to_string())
        .map_err(|e| e.to_string())
}
