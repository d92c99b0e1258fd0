//! One contract, two backends: sled (with close and reopen) and memory.

use chrono::NaiveDate;
use ledger_core::*;
use ledger_store::*;

fn iin(serial: u16) -> Iin {
    let birth = NaiveDate::from_ymd_opt(1990, 5, 17).unwrap();
    (serial..)
        .find_map(|s| Iin::generate(birth, Sex::Female, s))
        .unwrap()
}

/// One applied record at `offset` and a dead letter at `offset + 1`.
fn batch(partition: u32, offset: u64, who: Iin, id: &str) -> WriteBatch {
    let mut account = Account::new(who);
    account.history_len = 1;
    let position = Position { partition, offset };
    let event_id = EventId::parse(id).unwrap();
    let mut record = AccountRecord::new(account);
    record.refs.push(HistoryRef {
        offset,
        fingerprint: fingerprint(&event_id),
    });
    WriteBatch {
        accounts: vec![(partition, record)],
        history: vec![HistoryEntry {
            seq: 0,
            position,
            timestamp_ms: 1_700_000_000_000,
            // The store keeps event bytes without reading them.
            event: id.as_bytes().to_vec(),
            outcome: Outcome::Applied { late: false },
            link: [3; 32],
            schema_id: None,
        }],
        dead_letters: vec![DeadLetter {
            position: Position {
                partition,
                offset: offset + 1,
            },
            timestamp_ms: 1,
            key: b"not-an-iin".to_vec(),
            value: vec![1, 2, 3],
            kind: "bad_key".into(),
            error: "iin: must be exactly 12 digits".into(),
            link: [4; 32],
        }],
        offsets: vec![(partition, offset + 2)],
        heads: vec![(
            partition,
            ChainHead {
                link: [4; 32],
                items: 2,
            },
        )],
        projections: vec![],
        summaries: vec![],
        // The store keeps notice bytes without reading them.
        notices: vec![(position, b"payer".to_vec(), id.as_bytes().to_vec())],
        clocks: vec![(partition, 1_700_000_000_000)],
    }
}

/// The contract. `reopen` gives a store over the same data as if the
/// process had restarted.
fn contract<B: Kv>(store: LedgerStore<B>, reopen: impl Fn(LedgerStore<B>) -> LedgerStore<B>) {
    assert_eq!(store.meta().unwrap(), None);
    assert_eq!(store.check_or_init_meta(4).unwrap().partitions, 4);
    assert!(matches!(
        store.check_or_init_meta(3),
        Err(StoreError::PartitionMismatch { stored: 4, log: 3 })
    ));
    let (a, b) = (iin(1), iin(500));
    store.write(&batch(1, 10, a, "e-1")).unwrap();
    store.write(&batch(2, 20, b, "e-2")).unwrap();

    let store = reopen(store);
    assert_eq!(
        store.meta().unwrap(),
        Some(StoreMeta {
            partitions: 4,
            id_scheme: ledger_core::IdScheme::Kz
        })
    );
    assert_eq!(store.account(1, &a).unwrap().unwrap().iin, a);
    assert_eq!(
        store.account(2, &a).unwrap(),
        None,
        "keys are scoped by partition"
    );
    assert_eq!(store.offset(1).unwrap(), Some(12));
    assert_eq!(store.offset(3).unwrap(), None);
    let id = EventId::parse("e-1").unwrap();
    let record = store.account_record(1, &a).unwrap().unwrap();
    assert_eq!(record.candidates(&id).collect::<Vec<_>>(), vec![10]);
    let h = store.history(1, &a).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0].position,
        Position {
            partition: 1,
            offset: 10
        }
    );
    assert_eq!(h[0].link, [3; 32]);
    assert_eq!(
        store.history_entry(1, 10).unwrap().unwrap().event,
        b"e-1".to_vec()
    );
    assert_eq!(store.chain_head(1).unwrap().items, 2);
    assert_eq!(store.chain_head(3).unwrap(), ChainHead::default());
    assert_eq!(store.clock(1).unwrap(), Some(1_700_000_000_000));
    assert_eq!(store.clock(3).unwrap(), None);
    assert_eq!(
        store.history_entry(1, 11).unwrap(),
        None,
        "offset 11 is a dead letter"
    );
    assert_eq!(store.history_entry(2, 10).unwrap(), None);
    assert_eq!(store.dead_letters().unwrap().len(), 2);
    let mut seen = vec![];
    store
        .for_each_account(|p, acc| seen.push((p, acc.iin)))
        .unwrap();
    assert_eq!(seen, vec![(1, a), (2, b)]);
    assert_eq!(
        store.notices().unwrap(),
        vec![b"e-1".to_vec(), b"e-2".to_vec()],
        "notices by partition and offset"
    );

    store.drop_partition(1).unwrap();
    let store = reopen(store);
    assert_eq!(store.account(1, &a).unwrap(), None);
    assert_eq!(store.offset(1).unwrap(), None);
    assert!(store.history(1, &a).unwrap().is_empty());
    assert_eq!(store.history_entry(1, 10).unwrap(), None);
    assert_eq!(store.chain_head(1).unwrap(), ChainHead::default());
    assert_eq!(
        store.clock(1).unwrap(),
        None,
        "the clock goes with the partition"
    );
    assert_eq!(store.dead_letters().unwrap().len(), 1);
    assert_eq!(store.notices().unwrap(), vec![b"e-2".to_vec()]);
    assert!(
        store.account(2, &b).unwrap().is_some(),
        "other partitions untouched"
    );
    assert_eq!(store.offset(2).unwrap(), Some(22));
}

/// Segments are buckets of offsets: entries written by separate batches
/// into one bucket are merged, never replaced, and the stored bytes do not
/// depend on how the log was cut into batches.
fn segments_merge_across_batches<B: Kv>(one_by_one: LedgerStore<B>, all_at_once: LedgerStore<B>) {
    let who = iin(7);
    let batches: Vec<WriteBatch> = (0..70u64)
        .map(|o| batch(0, o * 2, who, &format!("e{o}")))
        .collect();
    let mut whole = WriteBatch::default();
    for b in &batches {
        let mut b = b.clone();
        b.dead_letters.clear();
        one_by_one.write(&b).unwrap();
        whole.history.extend(b.history);
    }
    all_at_once.write(&whole).unwrap();
    for o in 0..70u64 {
        let e = one_by_one
            .history_entry(0, o * 2)
            .unwrap()
            .expect("entry kept");
        assert_eq!(e.event, format!("e{o}").into_bytes());
        assert_eq!(one_by_one.history_entry(0, o * 2 + 1).unwrap(), None);
    }
    assert_eq!(
        one_by_one.backend().scan(b"H").unwrap(),
        all_at_once.backend().scan(b"H").unwrap()
    );
}

#[test]
fn segments_merge_in_memory_and_sled() {
    segments_merge_across_batches(LedgerStore::in_memory(), LedgerStore::in_memory());
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    segments_merge_across_batches(
        LedgerStore::open(d1.path()).unwrap(),
        LedgerStore::open(d2.path()).unwrap(),
    );
}

#[test]
fn memory_backend_meets_the_contract() {
    contract(LedgerStore::in_memory(), |s| {
        LedgerStore::with_backend(s.backend().clone())
    });
}

#[test]
fn sled_backend_meets_the_contract_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    contract(LedgerStore::open(&path).unwrap(), move |s| {
        drop(s);
        LedgerStore::open(&path).unwrap()
    });
}

#[test]
fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(LedgerStore::open(dir.path()).unwrap());
    {
        let kv = SledKv::open(dir.path()).unwrap();
        let mut b = KvBatch::default();
        b.put(vec![b'V'], 1u32.to_be_bytes().to_vec());
        kv.write(b).unwrap();
    }
    let err = LedgerStore::open(dir.path())
        .err()
        .expect("format 1 is refused")
        .to_string();
    assert!(
        err.contains("store format 1") && err.contains("new --data"),
        "{err}"
    );
    let unversioned = tempfile::tempdir().unwrap();
    {
        let kv = SledKv::open(unversioned.path()).unwrap();
        let mut b = KvBatch::default();
        b.put(b"A0000".to_vec(), vec![1]);
        kv.write(b).unwrap();
    }
    assert!(matches!(
        LedgerStore::open(unversioned.path()),
        Err(StoreError::Format { .. })
    ));
}

#[test]
fn corrupt_values_are_reported_with_masked_keys() {
    let store = LedgerStore::in_memory();
    let who = iin(1);
    store.write(&batch(0, 0, who, "e")).unwrap();
    let mut b = KvBatch::default();
    let mut k = vec![b'A'];
    k.extend_from_slice(&0u32.to_be_bytes());
    k.extend_from_slice(who.as_bytes());
    b.put(k, vec![0xff; 3]);
    store.backend().write(b).unwrap();
    let err = store.account(0, &who).unwrap_err().to_string();
    assert!(err.contains(&who.masked()), "{err}");
    assert!(!err.contains(who.as_str()), "IIN must be masked: {err}");
}

#[test]
fn a_corrupt_history_segment_is_reported_with_its_key() {
    let store = LedgerStore::in_memory();
    let who = iin(1);
    store.write(&batch(3, 70, who, "e")).unwrap();
    assert!(store.history_entry(3, 70).unwrap().is_some());
    let mut k = vec![b'H'];
    k.extend_from_slice(&3u32.to_be_bytes());
    k.extend_from_slice(&64u64.to_be_bytes());
    let mut b = KvBatch::default();
    b.put(k, vec![0x40, 0, 0, 0, 0xff, 0xff]);
    store.backend().write(b).unwrap();
    let err = store.history_entry(3, 70).unwrap_err().to_string();
    assert!(
        err.contains("history segment") && err.contains("H/p3/64"),
        "{err}"
    );
}
