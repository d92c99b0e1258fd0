//! A log with holes: the offsets a Kafka transactional producer's commit
//! and abort markers (and its aborted records) take, which no consumer is
//! handed. The projector reaches the end (the high watermark) through
//! the source's position past them; an export records them as gaps; its
//! archive replays to the same digest (issue 16).

use ledger_core::{partition_for, Context, Iin, Sex};
use ledger_projector::{run, Options, Until};
use ledger_proto::v1 as pb;
use ledger_store::LedgerStore;
use ledger_stream::archive::{export, ArchiveSource};
use ledger_stream::{Record, Source, SourceError};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const PARTITIONS: u32 = 2;

/// A partition as a transactional producer leaves it: records, with
/// offsets no consumer sees between and after them; the end offset is
/// past the last marker.
struct WithMarkers {
    records: Vec<Record>,
    at: usize,
    /// Each partition's end (its high watermark).
    ends: Vec<u64>,
    /// Whether the source reports its position past the markers.
    positions: bool,
}

impl Source for WithMarkers {
    fn partition_count(&self) -> u32 {
        PARTITIONS
    }
    fn assigned(&self) -> Vec<u32> {
        (0..PARTITIONS).collect()
    }
    fn seek(&mut self, _p: u32, _o: u64) -> Result<(), SourceError> {
        Ok(())
    }
    fn poll(&mut self, max: usize, _wait: Duration) -> Result<Vec<Record>, SourceError> {
        let end = (self.at + max).min(self.records.len());
        let out = self.records[self.at..end].to_vec();
        self.at = end;
        Ok(out)
    }
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        Ok((0..PARTITIONS)
            .map(|p| (p, self.ends[p as usize]))
            .collect())
    }
    fn acknowledge(&mut self, _o: &[(u32, u64)]) -> Result<(), SourceError> {
        Ok(())
    }
    /// As librdkafka's position: once everything is delivered, past the
    /// trailing marker.
    fn position(&mut self, partition: u32) -> Option<u64> {
        (self.positions && self.at == self.records.len()).then(|| self.ends[partition as usize])
    }
}

/// A valid BIN to pay from.
fn payer() -> String {
    (0..)
        .find_map(|s| ledger_core::Bin::generate(12, 6, s))
        .unwrap()
        .to_string()
}

fn contribution(iin: &Iin, id: &str) -> Vec<u8> {
    let wire = pb::Envelope {
        event_id: id.into(),
        iin: iin.to_string(),
        source: "bank".into(),
        signature: None,
        payload: Some(pb::envelope::Payload::Contribution(pb::ContributionPaid {
            payment: Some(pb::PaymentDocument {
                received_on: "2026-03-10".into(),
                ppc: "012".into(),
                payer_id: payer(),
                ..Default::default()
            }),
            period: "2026-02".into(),
            amount: "1000.00".into(),
            person: Some(pb::PersonName {
                surname: "S".into(),
                name: "N".into(),
                patronymic: String::new(),
                birth_date: "1985-06-01".into(),
            }),
        })),
    };
    prost::Message::encode_to_vec(&wire)
}

/// Three transactions per partition, each of three records and a commit
/// marker: records at 0-2, 4-6, 8-10; markers at 3, 7, 11; end 12.
fn log() -> WithMarkers {
    let birth = chrono::NaiveDate::from_ymd_opt(1985, 6, 1).unwrap();
    let iins: Vec<Iin> = (0..400u16)
        .filter_map(|s| Iin::generate(birth, Sex::Female, s))
        .collect();
    let mut records = Vec::new();
    for p in 0..PARTITIONS {
        let mine: Vec<&Iin> = iins
            .iter()
            .filter(|i| partition_for(i.as_bytes(), PARTITIONS) == p)
            .take(9)
            .collect();
        for (n, iin) in mine.iter().enumerate() {
            let offset = n as u64 + n as u64 / 3; // a marker after every third
            records.push(Record {
                partition: p,
                offset,
                timestamp_ms: 1_774_000_000_000 + offset as i64,
                key: iin.as_bytes().to_vec(),
                value: contribution(iin, &format!("c-{p}-{n}")),
            });
        }
    }
    WithMarkers {
        records,
        at: 0,
        ends: vec![12; PARTITIONS as usize],
        positions: true,
    }
}

fn options() -> Options {
    Options {
        batch_size: 5,
        until: Until::EndAtStart,
        poll_wait: Duration::ZERO,
        signer: None,
        notary: None,
        trees: true,
    }
}

#[test]
fn the_projector_reaches_the_end_past_the_markers() {
    let mut source = log();
    let store = LedgerStore::in_memory();
    let totals = run(
        &Context::default(),
        &mut source,
        &store,
        &options(),
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    let letters = store.dead_letters().unwrap();
    assert_eq!(
        totals.applied,
        18,
        "{totals:?} {:?}",
        letters.first().map(|d| &d.error)
    );
    assert!(totals.unfinished.is_empty(), "{totals:?}");
    // The store's offset is past the last record it applied.
    assert_eq!(store.offset(0).unwrap(), Some(11));
}

#[test]
fn a_stopped_run_short_of_the_markers_says_so() {
    // A source that never reports its position past the trailing marker
    // cannot be taken to have reached the end: a stopped run is unfinished.
    let mut source = log();
    source.positions = false;
    let store = LedgerStore::in_memory();
    let stop = AtomicBool::new(false);
    let totals = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        run(
            &Context::default(),
            &mut source,
            &store,
            &options(),
            &stop,
            |_| {},
        )
        .unwrap()
    });
    assert_eq!(totals.applied, 18);
    assert_eq!(totals.unfinished.len(), PARTITIONS as usize, "{totals:?}");
}

#[test]
fn the_archive_records_the_gaps_and_replays_to_the_same_digest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tx.archive.jsonl");
    let mut source = log();
    let n = export(&mut source, "tx", &path, &Default::default(), |_| {}).unwrap();
    assert_eq!(n, 18);
    let text = std::fs::read_to_string(&path).unwrap();
    let trailer = text.lines().last().unwrap();
    assert!(
        trailer
            .contains(r#""gaps":[{"start":3,"end":4},{"start":7,"end":8},{"start":11,"end":12}]"#),
        "{trailer}"
    );
    let direct = LedgerStore::in_memory();
    run(
        &Context::default(),
        &mut log(),
        &direct,
        &options(),
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    let replayed = LedgerStore::in_memory();
    let mut archive = ArchiveSource::open(&path).unwrap();
    let totals = run(
        &Context::default(),
        &mut archive,
        &replayed,
        &options(),
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    assert!(totals.unfinished.is_empty(), "{totals:?}");
    assert_eq!(replayed.digest().unwrap().0, direct.digest().unwrap().0);
    // Gaps that overlap, or lie outside their range, are refused at open.
    for forged in [
        r#""gaps":[{"start":3,"end":4},{"start":3,"end":5},{"start":7,"end":8},{"start":11,"end":12}]"#,
        r#""gaps":[{"start":3,"end":4},{"start":7,"end":8},{"start":11,"end":13}]"#,
        r#""gaps":[{"start":4,"end":4},{"start":7,"end":8},{"start":11,"end":12}]"#,
    ] {
        let bad = text.replacen(
            r#""gaps":[{"start":3,"end":4},{"start":7,"end":8},{"start":11,"end":12}]"#,
            forged,
            1,
        );
        assert_ne!(bad, text);
        std::fs::write(&path, bad).unwrap();
        let e = ArchiveSource::open(&path).err().expect("refused");
        assert!(e.to_string().contains("gap ["), "{e}");
    }
    // A record moved into a gap is refused, naming the line.
    let moved = text.replacen(r#""p":0,"o":4,"#, r#""p":0,"o":3,"#, 1);
    std::fs::write(&path, moved).unwrap();
    let e = ArchiveSource::open(&path).unwrap().check().unwrap_err();
    assert!(e.to_string().contains("partition 0 offset 3"), "{e}");
}
