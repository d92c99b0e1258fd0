//! Fault injection with librdkafka's mock cluster (in process, on
//! 127.0.0.1): slow responses, request errors and the partition leader going
//! down in the middle of a projection. The projector retries and resumes, and
//! ends with exactly the accounts of a fault-free projection of the same
//! records. (The mock cluster keeps only the last 5 MiB per partition, so the
//! scenario stays small.)

use ledger_core::{Account, Context, Iin, Sex};
use ledger_kafka::{KafkaSource, Publisher, SourceOptions};
use ledger_projector::{run, Options, Until};
use ledger_proto::v1 as pb;
use ledger_store::LedgerStore;
use ledger_stream::EmbeddedLog;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOPIC: &str = "ledger";
const PARTITIONS: u32 = 4;

/// 200 participants × 12 monthly contributions, as (IIN, envelope, time).
fn scenario() -> Vec<(String, Vec<u8>, i64)> {
    let birth = chrono::NaiveDate::from_ymd_opt(1980, 1, 31).unwrap();
    let people: Vec<Iin> = (1..=400u16)
        .filter_map(|s| Iin::generate(birth, Sex::Female, s))
        .take(200)
        .collect();
    assert_eq!(people.len(), 200);
    let mut out = Vec::new();
    for month in 1..=12u32 {
        for (n, iin) in people.iter().enumerate() {
            let wire = pb::Envelope {
                event_id: format!("fault-{month}-{n}"),
                iin: iin.to_string(),
                source: "bank".into(),
                signature: None,
                payload: Some(pb::envelope::Payload::Contribution(pb::ContributionPaid {
                    payment: Some(pb::PaymentDocument {
                        document_number: format!("{month}-{n}"),
                        received_on: format!("2025-{month:02}-10"),
                        ppc: "012".into(),
                        payer_id: "060540001234".into(),
                        payer_name: "TOO Example".into(),
                        line_count: 1,
                        ..Default::default()
                    }),
                    period: format!("2025-{month:02}"),
                    amount: format!("{}.00", 4000 + n),
                    person: Some(pb::PersonName {
                        surname: "Example".into(),
                        name: "Person".into(),
                        birth_date: "1980-01-31".into(),
                        ..Default::default()
                    }),
                })),
            };
            // Recorded the day after receipt, 10:00 Astana time.
            let at = chrono::NaiveDate::from_ymd_opt(2025, month, 11)
                .unwrap()
                .and_hms_opt(5, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis();
            out.push((iin.to_string(), prost::Message::encode_to_vec(&wire), at));
        }
    }
    out
}

fn accounts<B: ledger_store::Kv>(store: &LedgerStore<B>) -> Vec<(u32, Account)> {
    let mut all = Vec::new();
    store.for_each_account(|p, a| all.push((p, a))).unwrap();
    all
}

/// The same records through the embedded log: the fault-free reference.
fn reference(records: &[(String, Vec<u8>, i64)]) -> Vec<(u32, Account)> {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open_or_create(&dir.path().join("log"), PARTITIONS).unwrap();
    let recs: Vec<(&[u8], i64, &[u8])> = records
        .iter()
        .map(|(k, v, t)| (k.as_bytes(), *t, v.as_slice()))
        .collect();
    log.appender().unwrap().append(&recs).unwrap();
    let store = LedgerStore::in_memory();
    let mut source = log.source().unwrap();
    run(
        &Context::default(),
        &mut source,
        &store,
        &Options::default(),
        &AtomicBool::new(false),
        |_| {},
    )
    .unwrap();
    accounts(&store)
}

#[test]
fn the_projector_rides_out_slow_brokers_request_errors_and_a_leader_going_down() {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic(TOPIC, PARTITIONS as i32, 3).unwrap();
    for p in 0..PARTITIONS as i32 {
        cluster.partition_leader(TOPIC, p, Some(1)).unwrap();
    }
    let brokers = cluster.bootstrap_servers();
    assert!(brokers.contains("127.0.0.1"), "{brokers}");

    let records = scenario();
    let mut publisher = Publisher::new(&ledger_kafka::Cluster::new(&brokers), TOPIC).unwrap();
    let batch: Vec<(&[u8], Option<i64>, &[u8])> = records
        .iter()
        .map(|(k, v, t)| (k.as_bytes(), Some(*t), v.as_slice()))
        .collect();
    publisher.publish(&batch).unwrap();

    // Slow responses and failing fetches from the start.
    cluster
        .broker_round_trip_time(1, Duration::from_millis(60))
        .unwrap();
    cluster.request_errors(
        RDKafkaApiKey::Fetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION; 4],
    );

    let store = LedgerStore::in_memory();
    let projector = {
        let store = store.clone();
        let brokers = brokers.clone();
        std::thread::spawn(move || {
            let resume_store = store.clone();
            let resume: ledger_kafka::ResumeAt =
                Arc::new(move |p| resume_store.offset(p).ok().flatten().unwrap_or(0));
            let mut source = KafkaSource::new(
                &ledger_kafka::Cluster::new(&brokers),
                TOPIC,
                "faults",
                resume,
                &SourceOptions::default(),
            )
            .unwrap();
            let opts = Options {
                batch_size: 97,
                until: Until::EndAtStart,
                ..Options::default()
            };
            run(
                &Context::default(),
                &mut source,
                &store,
                &opts,
                &AtomicBool::new(false),
                |_| {},
            )
            .unwrap()
        })
    };

    // The leader goes down once the projection is under way, and comes back.
    let applied = |s: &LedgerStore<_>| -> u64 {
        (0..PARTITIONS)
            .map(|p| s.offset(p).unwrap().unwrap_or(0))
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while applied(&store) < 300 {
        assert!(Instant::now() < deadline, "the projection never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.broker_down(1).unwrap();
    let stalled_at = applied(&store);
    std::thread::sleep(Duration::from_millis(1500));
    cluster.broker_up(1).unwrap();

    let totals = projector.join().expect("the projector finished");
    assert!(
        stalled_at < records.len() as u64,
        "the leader went down mid-run"
    );
    // Each record counted exactly once, however often it was fetched.
    assert_eq!(totals.records, records.len() as u64);
    assert_eq!(
        applied(&store),
        records.len() as u64,
        "every record applied"
    );
    assert_eq!(
        accounts(&store),
        reference(&records),
        "the same accounts as a fault-free projection"
    );
}
