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

fn envelope(id: &str, who: Iin) -> Envelope {
    Envelope {
        event_id: EventId::parse(id).unwrap(),
        iin: who,
        source: "test".into(),
        event: Event::PersonRegistered(PersonData {
            surname: "Test".into(),
            name: "Person".into(),
            patronymic: String::new(),
            birth_date: None,
            sex: None,
            address: String::new(),
            postcode: String::new(),
            document: None,
            citizenship: String::new(),
            effective_on: None,
            deceased_on: None,
        }),
    }
}

fn batch(partition: u32, offset: u64, who: Iin, id: &str) -> WriteBatch {
    let mut account = Account::new(who);
    account.history_len = 1;
    let position = Position { partition, offset };
    WriteBatch {
        accounts: vec![(partition, account)],
        history: vec![HistoryEntry {
            seq: 0,
            position,
            timestamp_ms: 1_700_000_000_000,
            envelope: envelope(id, who),
            outcome: Outcome::Applied { late: false },
        }],
        events: vec![(
            partition,
            EventId::parse(id).unwrap(),
            EventIndexEntry {
                hash: ContentHash([7; 32]),
                position,
            },
        )],
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
        }],
        offsets: vec![(partition, offset + 2)],
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
    assert_eq!(store.meta().unwrap(), Some(StoreMeta { partitions: 4 }));
    assert_eq!(store.account(1, &a).unwrap().unwrap().iin, a);
    assert_eq!(
        store.account(2, &a).unwrap(),
        None,
        "keys are scoped by partition"
    );
    assert_eq!(store.offset(1).unwrap(), Some(12));
    assert_eq!(store.offset(3).unwrap(), None);
    let id = EventId::parse("e-1").unwrap();
    assert_eq!(
        store.event_hash(1, &id).unwrap(),
        Some(ContentHash([7; 32]))
    );
    assert_eq!(store.event_hash(2, &id).unwrap(), None);
    let h = store.history(1, &a).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0].position,
        Position {
            partition: 1,
            offset: 10
        }
    );
    assert_eq!(store.dead_letters().unwrap().len(), 2);
    let mut seen = vec![];
    store
        .for_each_account(|p, acc| seen.push((p, acc.iin)))
        .unwrap();
    assert_eq!(seen, vec![(1, a), (2, b)]);

    store.drop_partition(1).unwrap();
    let store = reopen(store);
    assert_eq!(store.account(1, &a).unwrap(), None);
    assert_eq!(store.offset(1).unwrap(), None);
    assert!(store.history(1, &a).unwrap().is_empty());
    assert_eq!(store.event_hash(1, &id).unwrap(), None);
    assert_eq!(store.dead_letters().unwrap().len(), 1);
    assert!(
        store.account(2, &b).unwrap().is_some(),
        "other partitions untouched"
    );
    assert_eq!(store.offset(2).unwrap(), Some(22));
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
