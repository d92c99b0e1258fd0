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
            leaf: 0,
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
            leaf: 1,
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
        tails: vec![(
            partition,
            LogAnchor {
                offset: offset + 1,
                hash: log_hash("ours", partition, offset + 1),
            },
        )],
        clocks: vec![(partition, 1_700_000_000_000)],
        // The store keeps tiles and checkpoints without reading them.
        tiles: vec![(partition, 0, 0, vec![partition as u8; 64])],
        checkpoints: vec![(partition, 2, format!("p{partition} note").into_bytes())],
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
            id_scheme: ledger_core::IdScheme::Kz,
            engine: store.backend().engine(),
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

    assert_eq!(store.tile(1, 0, 0).unwrap(), Some(vec![1; 64]));
    assert_eq!(store.checkpoint_sizes(1).unwrap(), vec![2]);
    store.drop_partition(1).unwrap();
    let store = reopen(store);
    assert_eq!(store.tile(1, 0, 0).unwrap(), None, "the tree goes with it");
    assert!(store.checkpoint_sizes(1).unwrap().is_empty());
    assert_eq!(store.checkpoint(2, 2).unwrap(), Some(b"p2 note".to_vec()));
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

/// The disk engines the suite runs against, besides the in-memory twin.
const ENGINES: [Engine; 2] = [Engine::Fjall, Engine::Sled];

fn open(dir: &std::path::Path, engine: Engine) -> LedgerStore<DiskKv> {
    LedgerStore::open_with(
        dir,
        &OpenOptions {
            engine: Some(engine),
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn segments_merge_in_memory_and_on_each_engine() {
    segments_merge_across_batches(LedgerStore::in_memory(), LedgerStore::in_memory());
    for engine in ENGINES {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        segments_merge_across_batches(open(d1.path(), engine), open(d2.path(), engine));
    }
}

#[test]
fn memory_backend_meets_the_contract() {
    contract(LedgerStore::in_memory(), |s| {
        LedgerStore::with_backend(s.backend().clone())
    });
}

#[test]
fn each_disk_engine_meets_the_contract_across_reopen() {
    for engine in ENGINES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let store = open(&path, engine);
        assert_eq!(store.backend().engine(), engine);
        contract(store, move |s| {
            drop(s);
            // Reopened without naming the engine: the directory's own.
            let again = LedgerStore::open(&path).unwrap();
            assert_eq!(again.backend().engine(), engine);
            again
        });
    }
}

#[test]
fn a_store_is_reopened_with_its_own_engine_only() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), Engine::Sled));
    assert_eq!(engine_of(dir.path()).unwrap(), Some(Engine::Sled));
    let err = LedgerStore::open_with(
        dir.path(),
        &OpenOptions {
            engine: Some(Engine::Fjall),
            ..OpenOptions::default()
        },
    )
    .err()
    .expect("a sled store is not opened as fjall")
    .to_string();
    assert!(
        err.contains("created with the sled engine") && err.contains("--store fjall"),
        "{err}"
    );
    // A new directory gets the default engine.
    let fresh = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(fresh.path()).unwrap();
    assert_eq!(store.backend().engine(), Engine::DEFAULT);
    // A damaged engine file is named, not guessed around.
    drop(store);
    std::fs::write(fresh.path().join(ENGINE_FILE), "rocksdb\n").unwrap();
    let err = LedgerStore::open(fresh.path()).err().unwrap().to_string();
    assert!(
        err.contains("engine file") && err.contains("rocksdb"),
        "{err}"
    );
}

#[test]
fn a_store_of_another_format_is_refused() {
    for engine in ENGINES {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), engine);
        let mut b = KvBatch::default();
        b.put(vec![b'V'], 1u32.to_be_bytes().to_vec());
        store.backend().write(b).unwrap();
        drop(store);
        let err = LedgerStore::open(dir.path())
            .err()
            .expect("format 1 is refused")
            .to_string();
        assert!(
            err.contains("store format 1") && err.contains("new --data"),
            "{engine}: {err}"
        );
        let unversioned = tempfile::tempdir().unwrap();
        {
            let kv = DiskKv::open(
                unversioned.path(),
                &OpenOptions {
                    engine: Some(engine),
                    ..OpenOptions::default()
                },
            )
            .unwrap();
            let mut b = KvBatch::default();
            b.put(b"A0000".to_vec(), vec![1]);
            kv.write(b).unwrap();
        }
        assert!(
            matches!(
                LedgerStore::open(unversioned.path()),
                Err(StoreError::Format { .. })
            ),
            "{engine}"
        );
    }
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

/// A store with state on partitions 0..4, several batches each, and each
/// partition's log anchor (the hash of "its log's" record at offset 0:
/// [`log_hash`]).
fn populated(store: &LedgerStore<impl Kv>) {
    store.check_or_init_meta(4).unwrap();
    store.set_trust_text("none").unwrap();
    for (i, p) in [0u32, 1, 2, 3, 1, 2].into_iter().enumerate() {
        let offset = 10 * i as u64;
        if store.anchor(p).unwrap().is_none() {
            let anchor = LogAnchor {
                offset: 0,
                hash: log_hash("ours", p, 0),
            };
            store.set_anchor(p, &anchor).unwrap();
        }
        store
            .write(&batch(p, offset, iin(100 + i as u16), &format!("e-{i}")))
            .unwrap();
    }
}

/// The hash of the record at `offset` of `partition` in the log named `log`.
fn log_hash(log: &str, partition: u32, offset: u64) -> Link {
    let mut bytes = log.as_bytes().to_vec();
    bytes.extend(partition.to_be_bytes());
    bytes.extend(offset.to_be_bytes());
    chain::sha256(&bytes)
}

fn no_before(_: &SnapshotInfo) -> Result<(), String> {
    Ok(())
}

fn no_after<B: Kv>(_: &LedgerStore<B>, _: &[u32]) -> Result<(), String> {
    Ok(())
}

/// A restore whose caller checks nothing.
fn unchecked<B: Kv>() -> RestoreChecks<'static, B> {
    RestoreChecks {
        before: &no_before,
        after: &no_after::<B>,
    }
}

/// Every pair of the partition keys (not the format, meta or trust keys).
fn partition_pairs(store: &LedgerStore<impl Kv>, partitions: &[u32]) -> Pairs {
    let mut all = store.backend().scan(&[]).unwrap();
    all.retain(|(k, _)| {
        k.len() >= 5
            && partitions.contains(&u32::from_be_bytes(k[1..5].try_into().unwrap()))
            && !matches!(k[0], b'M' | b'V' | b'T')
    });
    all
}

#[test]
fn a_snapshot_restores_every_key_and_the_digest_on_each_engine() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let file = dir.path().join("all.snapshot");
    let info = source.snapshot(&file, None, None).unwrap();
    assert_eq!(info.header.partitions, vec![0, 1, 2, 3]);
    assert_eq!(info.trailer.digest, source.digest().unwrap().0);
    assert!(!partial_path(&file).exists(), "no partial file left");
    for engine in ENGINES {
        let target = tempfile::tempdir().unwrap();
        let restored = open(target.path(), engine);
        restored.restore(&file, None, &unchecked()).unwrap();
        assert_eq!(
            partition_pairs(&restored, &[0, 1, 2, 3]),
            partition_pairs(&source, &[0, 1, 2, 3]),
            "{engine}"
        );
        assert_eq!(restored.digest().unwrap(), source.digest().unwrap());
        assert_eq!(restored.trust_text().unwrap().as_deref(), Some("none"));
        assert_eq!(restored.check_or_init_meta(4).unwrap().engine, engine);
        // A snapshot taken from a disk engine is the same file's content.
        let again = target.path().join("again.snapshot");
        let info2 = restored.snapshot(&again, None, None).unwrap();
        assert_eq!(info2.trailer, info.trailer);
    }
}

#[test]
fn a_snapshot_of_some_partitions_seeds_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let file = dir.path().join("p1.snapshot");
    source.snapshot(&file, Some(&[1]), None).unwrap();
    let target = LedgerStore::in_memory();
    // Partition 2 has state of its own; 1 has none: 1 is seeded.
    target.check_or_init_meta(4).unwrap();
    target.write(&batch(2, 0, iin(900), "own")).unwrap();
    target.restore(&file, None, &unchecked()).unwrap();
    assert_eq!(
        partition_pairs(&target, &[1]),
        partition_pairs(&source, &[1])
    );
    assert_eq!(target.offset(0).unwrap(), None, "partition 0 untouched");
    assert_eq!(
        target.offset(2).unwrap(),
        Some(2),
        "partition 2 kept its own"
    );
    // A partition with state is never overwritten.
    let file2 = dir.path().join("p2.snapshot");
    source.snapshot(&file2, Some(&[2]), None).unwrap();
    let err = target
        .restore(&file2, None, &unchecked())
        .unwrap_err()
        .to_string();
    assert!(err.contains("partition 2 already has state"), "{err}");
    // Nor is a partition the snapshot does not hold asked for.
    let err = LedgerStore::in_memory()
        .restore(&file, Some(&[0]), &unchecked())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no partition 0"), "{err}");
    // A log of another partition count is refused.
    let other = LedgerStore::in_memory();
    other.check_or_init_meta(8).unwrap();
    assert!(matches!(
        other.restore(&file, None, &unchecked()),
        Err(StoreError::PartitionMismatch { stored: 8, log: 4 })
    ));
}

#[test]
fn a_damaged_or_foreign_snapshot_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let file = dir.path().join("s.snapshot");
    source.snapshot(&file, None, None).unwrap();
    let good = std::fs::read(&file).unwrap();
    let damaged = dir.path().join("damaged.snapshot");
    // A flipped bit anywhere: magic, header, a pair, the trailer, the
    // checksum itself.
    let step = (good.len() / 37).max(1);
    for at in (0..good.len()).step_by(step).chain([good.len() - 1]) {
        let mut bytes = good.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&damaged, &bytes).unwrap();
        let target = LedgerStore::in_memory();
        let err = target
            .restore(&damaged, None, &unchecked())
            .err()
            .unwrap_or_else(|| panic!("a flipped byte at {at} of {} is refused", good.len()))
            .to_string();
        assert!(err.starts_with("snapshot "), "at {at}: {err}");
        assert_eq!(target.offset(0).unwrap(), None, "at {at}: nothing written");
        assert!(partition_pairs(&target, &[0, 1, 2, 3]).is_empty());
    }
    // Cut short, or with bytes after it.
    for bytes in [&good[..good.len() / 2], &[&good[..], b"x"].concat()[..]] {
        std::fs::write(&damaged, bytes).unwrap();
        assert!(LedgerStore::in_memory()
            .restore(&damaged, None, &unchecked())
            .is_err());
    }
    // Not a snapshot at all.
    std::fs::write(&damaged, b"PK\x03\x04 a zip file").unwrap();
    let err = LedgerStore::in_memory()
        .restore(&damaged, None, &unchecked())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an si-ledger snapshot"), "{err}");
}

#[test]
fn a_restore_cut_short_is_refused_until_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let file = dir.path().join("s.snapshot");
    source.snapshot(&file, Some(&[1]), None).unwrap();
    let target = LedgerStore::in_memory();
    target.check_or_init_meta(4).unwrap();
    // What a restore killed after its first write leaves: the mark, and
    // some keys of the partition.
    let mut b = KvBatch::default();
    b.put(vec![b'X', 0, 0, 0, 1], vec![]);
    b.put(vec![b'A', 0, 0, 0, 1, b'9'], vec![1, 2, 3]);
    target.backend().write(b).unwrap();
    assert!(matches!(
        target.check_or_init_meta(4),
        Err(StoreError::RestoreUnfinished { partition: 1 })
    ));
    target.restore(&file, None, &unchecked()).unwrap();
    target.check_or_init_meta(4).unwrap();
    assert_eq!(
        partition_pairs(&target, &[1]),
        partition_pairs(&source, &[1]),
        "the partial restore's keys are gone"
    );
}

#[test]
fn a_snapshot_under_another_trust_file_does_not_join_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source); // trust file "none"
    let file = dir.path().join("s.snapshot");
    source.snapshot(&file, Some(&[1]), None).unwrap();
    let target = LedgerStore::in_memory();
    target.check_or_init_meta(4).unwrap();
    target.set_trust_text("[[authority]]").unwrap();
    let err = target
        .restore(&file, None, &unchecked())
        .unwrap_err()
        .to_string();
    assert!(err.contains("another trust file"), "{err}");
    assert!(!target.has_restore_mark(1).unwrap(), "nothing was begun");
}

/// Issue 25: a store knows the log it was projected from. A snapshot
/// carries each partition's log anchor into the restored store, whose
/// `check_log` then refuses any other log, before anything is read.
#[test]
fn a_restored_store_keeps_its_log_anchors_and_refuses_another_log() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let file = dir.path().join("s.snapshot");
    let info = source.snapshot(&file, None, None).unwrap();
    for p in 0..4 {
        assert_eq!(info.anchor(p), source.anchor(p).unwrap(), "partition {p}");
        assert!(info.anchor(p).is_some());
    }
    let restored = LedgerStore::in_memory();
    restored.restore(&file, None, &unchecked()).unwrap();
    let ours = |p: u32, o: u64| Ok::<_, String>(Some(log_hash("ours", p, o)));
    assert_eq!(restored.check_log(4, ours).unwrap(), vec![]);
    // Another deployment's log: another record at offset 0.
    let theirs = |p: u32, o: u64| Ok::<_, String>(Some(log_hash("theirs", p, o)));
    match restored.check_log(4, theirs) {
        Err(StoreError::ForeignLog { partition: 0, why }) => {
            assert!(why.contains("offset 0 has hash"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // A copy that begins as ours did and then went its own way: the last
    // record the store read (its tail anchor) tells them apart.
    let copy = |p: u32, o: u64| {
        Ok::<_, String>(Some(log_hash(if o == 0 { "ours" } else { "theirs" }, p, o)))
    };
    match restored.check_log(4, copy) {
        Err(StoreError::ForeignLog { partition: 0, why }) => assert!(
            why.contains("begins as the store's log did") && why.contains("offset 1 (the last"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    // A log with nothing there (shorter, or cut by retention).
    let empty = |_: u32, _: u64| Ok::<_, String>(None);
    let err = restored.check_log(4, empty).unwrap_err().to_string();
    assert!(
        err.contains("partition 0") && err.contains("holds no record at offset 0"),
        "{err}"
    );
    assert!(matches!(
        restored.check_log(8, ours),
        Err(StoreError::PartitionMismatch { stored: 4, log: 8 })
    ));
    let unreadable = |_: u32, _: u64| Err::<Option<Link>, _>("broker down");
    assert!(matches!(
        restored.check_log(4, unreadable),
        Err(StoreError::LogUnreadable { partition: 0, .. })
    ));
}

/// A store made before anchors takes them from the log it is next
/// projected from (the record before each partition's next offset), and
/// holds to them after; it cannot be snapshotted before.
#[test]
fn a_store_without_anchors_takes_them_once_and_is_not_snapshotted_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = LedgerStore::in_memory();
    store.check_or_init_meta(4).unwrap();
    store.write(&batch(1, 0, iin(100), "e-0")).unwrap();
    let err = store
        .snapshot(&dir.path().join("s.snapshot"), None, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("partition 1 records no log identity"), "{err}");
    let ours = |p: u32, o: u64| Ok::<_, String>(Some(log_hash("ours", p, o)));
    let adopted = store.check_log(4, ours).unwrap();
    assert_eq!(
        adopted,
        vec![(
            1,
            LogAnchor {
                offset: 1,
                hash: log_hash("ours", 1, 1)
            }
        )]
    );
    assert_eq!(store.check_log(4, ours).unwrap(), vec![], "taken once");
    let theirs = |p: u32, o: u64| Ok::<_, String>(Some(log_hash("theirs", p, o)));
    assert!(matches!(
        store.check_log(4, theirs),
        Err(StoreError::ForeignLog { partition: 1, .. })
    ));
    store
        .snapshot(&dir.path().join("s.snapshot"), None, None)
        .unwrap();
}

/// The checksum is unkeyed: whoever edits a snapshot can recompute it, and
/// the file then reads as whole. The seal (the projector's signature over
/// the checksum) no longer verifies, and a restore whose caller checks it
/// writes nothing.
#[test]
fn an_edited_snapshot_with_its_checksum_recomputed_fails_its_seal() {
    use ledger_core::authority::{public_key_text, Domain, Signature, Signer, Trust};
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let signer = Signer::from_seed(&[7; 32]);
    let file = dir.path().join("s.snapshot");
    let info = source.snapshot(&file, None, Some(&signer)).unwrap();
    let trust = Trust::parse(&format!(
        "[[authority]]\nname = \"projector\"\nkinds = [\"merge_transfer\"]\n\
         [[authority.key]]\npublic_key = \"{}\"\nvalid_from = \"2000-01-01T00:00:00Z\"\n",
        public_key_text(&signer.verifying_key())
    ))
    .unwrap();
    let policy = Policy::Enforced(std::sync::Arc::new(trust));
    let sealed = |info: &SnapshotInfo| -> Result<(), String> {
        let seal = info.seal.as_ref().ok_or("unsigned")?;
        let sig = Signature {
            key_id: seal.key_id.clone(),
            value: seal.signature.clone(),
        };
        match policy.authorize(
            "merge_transfer",
            Domain::Snapshot,
            Some((&sig, &info.checksum)),
            chrono::Utc::now(),
        ) {
            Authorization::Signed { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }
    };
    assert_eq!(sealed(&check_snapshot(&file).unwrap()), Ok(()));
    assert_eq!(info.seal, check_snapshot(&file).unwrap().seal);

    // A history entry's event bytes edited ("e-3" → "f-3"), the checksum
    // recomputed.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(3).position(|w| w == b"e-3").unwrap();
    bytes[at] = b'f';
    let sum_at = bytes.windows(32).position(|w| w == info.checksum).unwrap();
    let sum = chain::sha256(&bytes[..sum_at]);
    bytes[sum_at..sum_at + 32].copy_from_slice(&sum);
    let forged = dir.path().join("forged.snapshot");
    std::fs::write(&forged, &bytes).unwrap();
    let forged_info = check_snapshot(&forged).expect("its checksum passes");
    assert!(sealed(&forged_info).is_err(), "its seal does not");
    let target = LedgerStore::in_memory();
    let checks = RestoreChecks {
        before: &sealed,
        after: &no_after,
    };
    let err = target
        .restore(&forged, None, &checks)
        .unwrap_err()
        .to_string();
    assert!(err.contains("merge_transfer requires projector"), "{err}");
    assert!(partition_pairs(&target, &[0, 1, 2, 3]).is_empty());
    assert_eq!(target.unfinished_restore().unwrap(), None);
    // Unsigned, it passes no seal check either.
    source.snapshot(&file, None, None).unwrap();
    assert_eq!(
        sealed(&check_snapshot(&file).unwrap()),
        Err("unsigned".into())
    );
}

/// What the caller's recomputation refuses is dropped again: no partition
/// keeps any key of the snapshot, no restore mark is left, and the error
/// says so.
#[test]
fn a_restore_refused_after_writing_leaves_the_partitions_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let source = LedgerStore::in_memory();
    populated(&source);
    let file = dir.path().join("s.snapshot");
    source.snapshot(&file, None, None).unwrap();
    let target = LedgerStore::in_memory();
    target.check_or_init_meta(4).unwrap();
    target.write(&batch(2, 0, iin(900), "own")).unwrap();
    let own = partition_pairs(&target, &[2]);
    let saw = std::cell::Cell::new(false);
    let refuse = |store: &LedgerStore<MemoryKv>, ps: &[u32]| {
        // Everything is written by now: offsets and chain heads included.
        assert_eq!(ps, &[1]);
        assert_eq!(store.offset(1).unwrap(), source.offset(1).unwrap());
        saw.set(true);
        Err("account 9005••51: contributions_total differs".to_string())
    };
    let checks = RestoreChecks {
        before: &no_before,
        after: &refuse,
    };
    let err = target
        .restore(&file, Some(&[1]), &checks)
        .unwrap_err()
        .to_string();
    assert!(saw.get());
    assert!(
        err.contains("contributions_total differs") && err.contains("nothing of it was kept"),
        "{err}"
    );
    assert!(partition_pairs(&target, &[1]).is_empty());
    assert_eq!(
        partition_pairs(&target, &[2]),
        own,
        "partition 2 kept its own"
    );
    assert_eq!(target.unfinished_restore().unwrap(), None);
    target.check_or_init_meta(4).unwrap();
}

/// A version 1 snapshot (no log anchors, no seal) is refused, saying why.
#[test]
fn a_version_1_snapshot_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v1.snapshot");
    std::fs::write(&file, b"si-ledger snapshot\n\x00\x00\x00\x10rest").unwrap();
    let err = LedgerStore::in_memory()
        .restore(&file, None, &unchecked())
        .unwrap_err()
        .to_string();
    assert!(err.contains("a version 1 snapshot"), "{err}");
    assert!(err.contains("version 2 only"), "{err}");
}

/// `open_to_read` (issue 25): a writable store is opened where it is, with
/// the same keys, and no store is created where there is none.
#[test]
fn a_reader_opens_a_writable_store_in_place_and_creates_none() {
    for engine in ENGINES {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), engine);
        populated(&store);
        let before = store.backend().scan(b"").unwrap();
        drop(store);
        let read = LedgerStore::open_to_read(dir.path(), &OpenOptions::default()).unwrap();
        assert_eq!(read.backend().engine(), engine);
        assert_eq!(read.backend().read_copy(), None, "{engine}: no copy");
        assert_eq!(read.backend().scan(b"").unwrap(), before);
        drop(read);
        let empty = tempfile::tempdir().unwrap();
        let err = LedgerStore::open_to_read(empty.path(), &OpenOptions::default())
            .err()
            .expect("no store to read")
            .to_string();
        assert!(err.contains("no store in"), "{err}");
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
    }
}
