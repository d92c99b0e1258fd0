//! The embedded log as a storage component: durability, torn tails,
//! corruption, partitioning, and reading back exactly what was written.

use ledger_stream::{partition_for, EmbeddedLog, Source, SourceError};
use proptest::prelude::*;
use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

/// (key, timestamp ms, value) as appended.
type Rec = (Vec<u8>, i64, Vec<u8>);

fn read_all(log: &EmbeddedLog) -> Vec<ledger_stream::Record> {
    let mut src = log.source().unwrap();
    let mut out = Vec::new();
    loop {
        let batch = src.poll(7, Duration::ZERO).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

/// A one-partition log holding "first" and "second", and its file's path.
fn two_records() -> (tempfile::TempDir, EmbeddedLog, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_or_create(dir.path(), 1).unwrap();
    log.appender()
        .unwrap()
        .append(&[(b"k", 1, b"first"), (b"k", 2, b"second")])
        .unwrap();
    let path = dir.path().join("partition-00000.log");
    (dir, log, path)
}

#[test]
fn records_land_on_murmur2_partitions_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_or_create(dir.path(), 3).unwrap();
    let mut app = log.appender().unwrap();
    let keys: Vec<String> = (0..40).map(|i| format!("key-{i}")).collect();
    let recs: Vec<(&[u8], i64, &[u8])> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_bytes(), i as i64, k.as_bytes()))
        .collect();
    let placed = app.append(&recs).unwrap();
    for ((k, _, _), (p, _)) in recs.iter().zip(&placed) {
        assert_eq!(*p, partition_for(k, 3));
    }
    drop(app);
    let got = read_all(&log);
    assert_eq!(got.len(), 40);
    for r in &got {
        assert_eq!(r.partition, partition_for(&r.key, 3));
        assert_eq!(r.key, r.value);
    }
    for p in 0..3 {
        let offs: Vec<u64> = got
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(offs, (0..offs.len() as u64).collect::<Vec<_>>());
    }
    assert_eq!(log.end_offsets().unwrap().iter().sum::<u64>(), 40);
}

#[test]
fn reopen_continues_offsets_and_seek_works() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_or_create(dir.path(), 1).unwrap();
    log.appender()
        .unwrap()
        .append(&[(b"a", 1, b"one"), (b"a", 2, b"two")])
        .unwrap();
    let log = EmbeddedLog::open_or_create(dir.path(), 9).unwrap();
    assert_eq!(
        log.partitions(),
        1,
        "an existing log keeps its partition count"
    );
    log.appender()
        .unwrap()
        .append(&[(b"a", 3, b"three")])
        .unwrap();
    let mut src = log.source().unwrap();
    src.seek(0, 2).unwrap();
    let got = src.poll(10, Duration::ZERO).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].offset, got[0].timestamp_ms, &got[0].value[..]),
        (2, 3, &b"three"[..])
    );
    assert!(src.seek(0, 4).is_err(), "seeking past the end is an error");
}

#[test]
fn an_oversized_record_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_or_create(dir.path(), 1).unwrap();
    let mut app = log.appender().unwrap();
    let huge = vec![0u8; 17 * 1024 * 1024];
    assert!(app
        .append(&[(b"k", 1, b"small"), (b"k", 2, &huge)])
        .is_err());
    app.append(&[(b"k", 3, b"after")]).unwrap();
    let got = read_all(&log);
    assert_eq!(got.len(), 1, "nothing of the refused batch was written");
    assert_eq!((got[0].offset, &got[0].value[..]), (0, &b"after"[..]));
}

#[test]
fn torn_tail_is_ignored_by_readers_and_truncated_by_appender() {
    let (_dir, log, path) = two_records();
    let full = std::fs::metadata(&path).unwrap().len();
    // Half of the second frame reached the disk before the crash.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(full - 5).unwrap();
    assert_eq!(read_all(&log).len(), 1);
    log.appender()
        .unwrap()
        .append(&[(b"k", 3, b"third")])
        .unwrap();
    let got = read_all(&log);
    assert_eq!(
        got.iter().map(|r| &r.value[..]).collect::<Vec<_>>(),
        vec![&b"first"[..], b"third"]
    );
    assert_eq!(got[1].offset, 1);
}

#[test]
fn garbage_last_frame_is_a_torn_write() {
    let (_dir, log, path) = two_records();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::End(-2)).unwrap();
    f.write_all(b"XX").unwrap();
    assert_eq!(read_all(&log).len(), 1);
    assert_eq!(log.end_offsets().unwrap(), vec![1]);
}

#[test]
fn corruption_in_the_middle_is_an_error_naming_the_place() {
    let (_dir, log, path) = two_records();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(30)).unwrap();
    f.write_all(b"!").unwrap();
    let mut src = log.source().unwrap();
    match src.poll(10, Duration::ZERO) {
        Err(SourceError::Corrupt {
            partition: 0,
            position: 0,
            ..
        }) => {}
        other => panic!("expected corruption at partition 0 byte 0, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Whatever is appended, in whatever batches, reads back the same.
    #[test]
    fn appended_equals_read(batches in prop::collection::vec(
        prop::collection::vec((prop::collection::vec(any::<u8>(), 0..16), any::<i64>(),
                               prop::collection::vec(any::<u8>(), 0..64)), 0..12), 1..5),
        partitions in 1u32..5) {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open_or_create(dir.path(), partitions).unwrap();
        let mut expected: Vec<Vec<Rec>> = vec![vec![]; partitions as usize];
        for batch in &batches {
            let mut app = log.appender().unwrap();
            let recs: Vec<(&[u8], i64, &[u8])> =
                batch.iter().map(|(k, t, v)| (&k[..], *t, &v[..])).collect();
            app.append(&recs).unwrap();
            for (k, t, v) in batch {
                expected[partition_for(k, partitions) as usize].push((k.clone(), *t, v.clone()));
            }
        }
        let got = read_all(&log);
        for p in 0..partitions {
            let mine: Vec<Rec> = got.iter().filter(|r| r.partition == p)
                .map(|r| (r.key.clone(), r.timestamp_ms, r.value.clone())).collect();
            prop_assert_eq!(&mine, &expected[p as usize]);
        }
    }
}

/// A torn tail that a reader has already buffered, then truncated by an
/// appender in the same process and written again (a projector forwarding
/// a merge's transfers after a crash): the reader hands over the frame now
/// in the file, not one pieced together from its stale buffer and the new
/// bytes. Before, the record came back with the torn frame's timestamp.
#[test]
fn a_tail_rewritten_after_it_was_buffered_is_read_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_or_create(dir.path(), 1).unwrap();
    let recs: Vec<(Vec<u8>, i64, Vec<u8>)> = (0..10)
        .map(|i| (b"k".to_vec(), i, format!("record {i}").into_bytes()))
        .collect();
    let borrowed: Vec<(&[u8], i64, &[u8])> = recs
        .iter()
        .map(|(k, t, v)| (k.as_slice(), *t, v.as_slice()))
        .collect();
    log.appender().unwrap().append(&borrowed).unwrap();
    let path = dir.path().join("partition-00000.log");
    let torn_at = std::fs::metadata(&path).unwrap().len();
    let value = vec![b'v'; 200];
    log.appender()
        .unwrap()
        .append(&[(b"k", 1_000, value.as_slice())])
        .unwrap();
    // A crash 40 bytes into that frame's write.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(torn_at + 40).unwrap();
    drop(f);
    let mut src = log.source().unwrap();
    let first = src.poll(3, Duration::ZERO).unwrap(); // buffers the whole file
    assert_eq!(first.len(), 3);
    // The same frame, written again at another time.
    log.appender()
        .unwrap()
        .append(&[(b"k", 2_000, value.as_slice())])
        .unwrap();
    let mut rest = Vec::new();
    loop {
        let batch = src.poll(3, Duration::ZERO).unwrap();
        if batch.is_empty() {
            break;
        }
        rest.extend(batch);
    }
    assert_eq!(rest.len(), 8);
    let last = rest.last().unwrap();
    assert_eq!((last.offset, last.timestamp_ms), (10, 2_000));
}

/// `record_at` reads one record back where a source would deliver it, and
/// answers `None` where the log holds none (past its end, a partition it
/// does not have): what a store's log anchor is checked against. Its hash
/// is the archive's link over the record from 32 zero bytes.
#[test]
fn record_at_reads_one_record_or_none() {
    let (_dir, log, _) = two_records();
    let all = read_all(&log);
    assert_eq!(log.record_at(0, 0).unwrap().as_ref(), Some(&all[0]));
    assert_eq!(log.record_at(0, 1).unwrap().as_ref(), Some(&all[1]));
    assert_eq!(log.record_at(0, 2).unwrap(), None, "past the end");
    assert_eq!(log.record_at(1, 0).unwrap(), None, "no such partition");
    let h = ledger_stream::record_hash(&all[0]);
    assert_eq!(h, ledger_stream::archive::record_link(&[0; 32], &all[0]));
    assert_ne!(h, ledger_stream::record_hash(&all[1]));
}
