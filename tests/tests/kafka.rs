//! The Kafka path end to end, against the real Kafka-protocol broker that
//! the test command starts on 127.0.0.1 (Apache Kafka 4.4): publish, project in a
//! consumer group, dead-letter topic, crashes, and a member dying.

use ledger_e2e::{
    create_on, demo, digest, finishes, free_port, http_get, kafka_brokers, kill_after,
    project_to_end, run, si_ledger, signed_demo, stderr, stdout, unique_topic, Reaped,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn create(topic: &str, partitions: u32) {
    create_on(&kafka_brokers(), topic, partitions, &[]);
}

fn publish(topic: &str, events: &Path) {
    publish_expecting(topic, events, 2);
}

/// Publishes `events`, expecting exit `code` (0 for files without bad lines).
fn publish_expecting(topic: &str, events: &Path, code: i32) {
    let o = run(&[
        "publish",
        "--brokers",
        &kafka_brokers(),
        "--topic",
        topic,
        events.to_str().unwrap(),
    ]);
    // The demo's events file has a few bad lines on purpose: exit 2.
    assert_eq!(o.status.code(), Some(code), "publish: {}", stderr(&o));
}

/// `si-ledger project` on the test broker, plus `extra` arguments.
fn projector(topic: &str, group: &str, data: &Path, extra: &[&str]) -> std::process::Command {
    projector_on(&kafka_brokers(), topic, group, data, extra)
}

/// [`projector`] on the cluster at `brokers`.
fn projector_on(
    brokers: &str,
    topic: &str,
    group: &str,
    data: &Path,
    extra: &[&str],
) -> std::process::Command {
    si_ledger(&ledger_e2e::project_args(
        brokers,
        topic,
        group,
        data.to_str().unwrap(),
        extra,
    ))
}

fn project_until_end(topic: &str, group: &str, data: &Path) -> serde_json::Value {
    let o = projector(topic, group, data, &["--until-end", "--json"])
        .output()
        .expect("si-ledger runs");
    assert!(o.status.success(), "project: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).expect("project --json")
}

/// The demo's events (and their embedded projection) for `participants`
/// over a year, published to a new 4-partition topic.
fn published_demo(dir: &Path, name: &str, participants: u32) -> (std::path::PathBuf, String) {
    let demo = demo(dir, participants, 12);
    let topic = unique_topic(name);
    create(&topic, 4);
    publish(&topic, &demo.join("events.jsonl"));
    (demo, topic)
}

fn accounts(data: &Path) -> String {
    let o = run(&["accounts", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "accounts: {}", stderr(&o));
    stdout(&o)
}

/// Every record of `topic` (all partitions, from the start).
fn read_all(topic: &str, partitions: u32, expect: usize) -> Vec<rdkafka::message::OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", unique_topic("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < expect && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.detach());
        }
    }
    // Nothing more than expected arrives.
    let quiet = Instant::now() + Duration::from_millis(500);
    while Instant::now() < quiet {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(m.detach());
        }
    }
    out
}

#[test]
fn kafka_projection_equals_the_embedded_one() {
    ledger_e2e::on_each_engine(kafka_projection_equals_the_embedded_one_on);
}

fn kafka_projection_equals_the_embedded_one_on(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("equal-{engine}");
    let (demo, topic) = published_demo(dir.path(), &name, 300);
    let data = dir.path().join("kafka");
    let totals = project_until_end(&topic, &name, &data);
    assert_eq!(ledger_e2e::engine_of(&data), engine);
    assert!(totals["records"].as_u64().unwrap() > 3000, "{totals}");
    assert!(totals["duplicates"].as_u64().unwrap() > 0, "{totals}");
    let conflicts = totals["conflicts"].as_u64().unwrap();
    assert!(conflicts > 0, "the scenario has conflicts: {totals}");
    assert_eq!(accounts(&data), accounts(&demo));
    // Conflicting duplicates are dead letters: in the store and the topic.
    let dlq = read_all(&format!("{topic}.dlq"), 4, conflicts as usize);
    assert_eq!(dlq.len() as u64, conflicts);
    // Projecting again from the same store changes nothing.
    let again = project_until_end(&topic, &format!("{name}-again"), &data);
    assert_eq!(again["records"], 0, "{again}");
    assert_eq!(accounts(&data), accounts(&demo));
    // Same records, partitions, offsets and timestamps: the same digest.
    let live = digest(&data);
    assert_eq!(live, digest(&demo));
    // An auditor exports the topic and replays it offline, with no Kafka.
    let brokers = kafka_brokers();
    let (_, offline) = exported_and_replayed(&brokers, &topic, dir.path());
    assert_eq!(digest(&offline), live);
    // Issue 27: the same signed checkpoints, byte for byte, on every path.
    let signed = ledger_e2e::checkpoints(&demo);
    assert_eq!(signed.len(), 4);
    assert_eq!(ledger_e2e::checkpoints(&data), signed);
    assert_eq!(ledger_e2e::checkpoints(&offline), signed);
    let o = run(&[
        "verify",
        "--data",
        data.to_str().unwrap(),
        "--brokers",
        &brokers,
        "--topic",
        &topic,
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// Exports `topic` to an archive (within two minutes: a hang is a fault)
/// and replays the archive offline into a new data directory: both paths.
fn exported_and_replayed(
    brokers: &str,
    topic: &str,
    dir: &Path,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let archive = dir.join(format!("{topic}.archive.jsonl"));
    let a = archive.to_str().unwrap();
    let o = finishes(
        &["export", "--brokers", brokers, "--topic", topic, "--out", a],
        Duration::from_secs(120),
    );
    assert!(o.status.success(), "export: {}", stderr(&o));
    let offline = dir.join(format!("{topic}.offline"));
    let o = run(&[
        "replay",
        "--archive",
        a,
        "--data",
        offline.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "replay: {}", stderr(&o));
    (archive, offline)
}

#[test]
fn the_publisher_partitions_like_the_java_client() {
    let topic = unique_topic("murmur2");
    create(&topic, 6);
    let mut publisher =
        ledger_kafka::Publisher::new(&ledger_kafka::Cluster::new(&kafka_brokers()), &topic)
            .unwrap();
    let birth = chrono::NaiveDate::from_ymd_opt(1990, 3, 14).unwrap();
    let keys: Vec<String> = (1..=300u16)
        .filter_map(|serial| {
            ledger_core::Iin::generate(birth, ledger_core::Sex::Female, serial)
                .map(|i| i.as_str().to_string())
        })
        .collect();
    assert!(keys.len() > 200);
    let records: Vec<(&[u8], Option<i64>, &[u8])> = keys
        .iter()
        .map(|k| (k.as_bytes(), None, b"x".as_slice()))
        .collect();
    let landed = publisher.publish(&records).unwrap();
    let mut used = std::collections::BTreeSet::new();
    for (k, d) in keys.iter().zip(&landed) {
        // partition_for is checked against Kafka's own Java test vectors.
        let java = ledger_core::partition_for(k.as_bytes(), 6);
        assert_eq!(d.partition, java, "key {k}");
        used.insert(d.partition);
    }
    assert_eq!(used.len(), 6, "every partition receives keys");
}

#[test]
fn bad_records_go_to_the_dead_letter_topic_with_their_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique_topic("dlq");
    create(&topic, 4);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .create()
        .unwrap();
    let birth = chrono::NaiveDate::from_ymd_opt(1985, 5, 20).unwrap();
    let valid = ledger_core::Iin::generate(birth, ledger_core::Sex::Male, 7).unwrap();
    let iin = valid.as_str();
    // Each bad record alone on its partition, at offset 0.
    let home = ledger_core::partition_for(iin.as_bytes(), 4) as i32;
    let sends: [(&str, i32, &[u8], &str); 3] = [
        (iin, home, b"\xff\x00garbage", "undecodable"),
        ("not-an-iin", (home + 1) % 4, b"whatever", "bad_key"),
        (iin, (home + 2) % 4, b"\x0a\x01x", "wrong_partition"),
    ];
    for (key, p, value, _) in &sends {
        producer
            .send(
                BaseRecord::to(&topic)
                    .key(*key)
                    .payload(*value)
                    .partition(*p)
                    .timestamp(1_750_000_000_000),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let data = dir.path().join("data");
    let totals = project_until_end(&topic, "dlq", &data);
    assert_eq!(totals["dead_letters"], 3, "{totals}");
    let letters = read_all(&format!("{topic}.dlq"), 4, 3);
    assert_eq!(letters.len(), 3);
    for (key, p, value, kind) in &sends {
        let m = letters
            .iter()
            .find(|m| m.payload() == Some(*value))
            .unwrap_or_else(|| panic!("no dead letter for the {kind} record"));
        assert_eq!(m.key(), Some(key.as_bytes()), "original key kept");
        let headers = m.headers().expect("headers");
        let get = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_else(|| panic!("header {name} missing"))
        };
        assert_eq!(get("si-ledger-topic"), topic);
        assert_eq!(get("si-ledger-partition"), p.to_string());
        assert_eq!(get("si-ledger-offset"), "0");
        assert_eq!(get("si-ledger-timestamp"), "1750000000000");
        assert_eq!(get("si-ledger-error-kind"), *kind);
        assert!(!get("si-ledger-error").is_empty());
    }
    // The store keeps them too.
    let o = run(&["dead-letters", "--data", data.to_str().unwrap(), "--json"]);
    let kept: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("dead-letters --json");
    assert_eq!(kept.as_array().map(Vec::len), Some(3), "{kept}");
}

fn spawn_projector(topic: &str, group: &str, data: &Path, metrics: Option<u16>) -> Reaped {
    spawn_projector_on(&kafka_brokers(), topic, group, data, metrics)
}

/// [`spawn_projector`] on the cluster at `brokers`.
fn spawn_projector_on(
    brokers: &str,
    topic: &str,
    group: &str,
    data: &Path,
    metrics: Option<u16>,
) -> Reaped {
    let addr = metrics.map(|p| format!("127.0.0.1:{p}"));
    let extra: Vec<&str> = addr
        .iter()
        .flat_map(|a| ["--metrics", a.as_str()])
        .collect();
    // stderr to a file: an undrained pipe could block the child.
    let log = std::fs::File::create(data.with_extension("log")).unwrap();
    Reaped(Some(
        projector_on(brokers, topic, group, data, &extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap(),
    ))
}

/// `(partition, lag)` from a projector's metrics.
fn lags(port: u16) -> Option<Vec<(u32, u64)>> {
    let body = http_get(port, "/metrics")?;
    Some(
        body.lines()
            .filter_map(|l| l.strip_prefix("si_ledger_partition_lag{partition=\""))
            .filter_map(|rest| {
                let (p, v) = rest.split_once("\"} ")?;
                Some((p.parse().ok()?, v.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// Waits until the members whose metrics are at `ports` each hold some of
/// the topic's 4 partitions and together all of them.
fn wait_assigned(who: &str, ports: &[u16]) {
    wait_for(
        &format!("{who} to be assigned"),
        Duration::from_secs(60),
        || {
            let held: Vec<usize> = ports
                .iter()
                .map(|p| lags(*p).unwrap_or_default().len())
                .collect();
            held.iter().all(|n| *n > 0) && held.iter().sum::<usize>() == 4
        },
    );
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn when_a_member_dies_the_survivor_rebuilds_its_partitions_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, topic) = published_demo(dir.path(), "pair", 300);
    let (pa, pb) = (free_port(), free_port());
    let group = unique_topic("pair");
    let mut a = spawn_projector(&topic, &group, &dir.path().join("a"), Some(pa));
    let mut b = spawn_projector(&topic, &group, &dir.path().join("b"), Some(pb));
    // Both members hold partitions.
    wait_for(
        "both members to be assigned",
        Duration::from_secs(60),
        || {
            let (la, lb) = (lags(pa).unwrap_or_default(), lags(pb).unwrap_or_default());
            !la.is_empty() && !lb.is_empty() && la.len() + lb.len() == 4
        },
    );
    a.child().kill().unwrap(); // SIGKILL: no goodbye to the group
    let _ = a.child().wait();
    // The survivor is given every partition and catches up on all of them,
    // rebuilding from offset 0 the ones it had no state for.
    wait_for(
        "the survivor to hold and finish all 4 partitions",
        Duration::from_secs(90),
        || {
            let l = lags(pb).unwrap_or_default();
            l.len() == 4 && l.iter().all(|(_, lag)| *lag == 0)
        },
    );
    // SIGTERM: it finishes its batch, flushes and leaves the group.
    ledger_e2e::sigterm(b.child());
    let out = b.take().wait_with_output().unwrap();
    let log = std::fs::read_to_string(dir.path().join("b.log")).unwrap_or_default();
    assert!(out.status.success(), "survivor: {log}");
    assert_eq!(accounts(&dir.path().join("b")), accounts(&demo));
}

/// Issue 16: three members; one is SIGKILLed; the two survivors are
/// given every partition between them, finish them, and the statements
/// of each partition, taken from the survivor that holds it, equal the
/// embedded projection's.
#[test]
fn when_one_of_three_members_dies_the_two_survivors_hold_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, topic) = published_demo(dir.path(), "trio", 300);
    let group = unique_topic("trio");
    let ports = [free_port(), free_port(), free_port()];
    let mut members: Vec<Reaped> = ["a", "b", "c"]
        .iter()
        .zip(ports)
        .map(|(name, port)| spawn_projector(&topic, &group, &dir.path().join(name), Some(port)))
        .collect();
    wait_assigned("all three members", &ports);
    members[0].child().kill().unwrap(); // SIGKILL: no goodbye to the group
    let _ = members[0].child().wait();
    let survivors = [ports[1], ports[2]];
    wait_for(
        "the two survivors to hold and finish all 4 partitions",
        Duration::from_secs(90),
        || {
            let (b, c) = (
                lags(survivors[0]).unwrap_or_default(),
                lags(survivors[1]).unwrap_or_default(),
            );
            let mut held: Vec<u32> = b.iter().chain(&c).map(|(p, _)| *p).collect();
            held.sort_unstable();
            held == [0, 1, 2, 3] && b.iter().chain(&c).all(|(_, lag)| *lag == 0)
        },
    );
    let holds: Vec<Vec<u32>> = survivors
        .iter()
        .map(|p| lags(*p).unwrap().into_iter().map(|(p, _)| p).collect())
        .collect();
    for m in &mut members[1..] {
        ledger_e2e::sigterm(m.child());
    }
    for (i, m) in members.drain(..).enumerate().skip(1) {
        let out = m.take().wait_with_output().unwrap();
        assert!(out.status.success(), "survivor {i} exited {:?}", out.status);
    }
    // Each partition's statements from the member that holds it.
    let of = |line: &str| -> u32 {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        ledger_core::partition_for(v["iin"].as_str().unwrap().as_bytes(), 4)
    };
    let mut merged: Vec<String> = Vec::new();
    for (name, held) in ["b", "c"].iter().zip(&holds) {
        merged.extend(
            accounts(&dir.path().join(name))
                .lines()
                .filter(|l| held.contains(&of(l)))
                .map(str::to_string),
        );
    }
    let mut want: Vec<String> = accounts(&demo).lines().map(str::to_string).collect();
    merged.sort();
    want.sort();
    assert!(want.len() > 250, "{}", want.len());
    assert!(
        merged == want,
        "the survivors' statements differ from the reference"
    );
}

#[test]
fn sigkill_at_random_moments_over_100k_kafka_events_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // About 102,000 events: contributions, penalties, duplicates,
    // conflicts, refunds, benefits, late and bad lines.
    let (demo, topic) = published_demo(dir.path(), "crash", 7500);
    let data = dir.path().join("killed");
    let mut kills_mid_run = 0;
    // A pseudo-random but reproducible schedule of kill moments, until the
    // projector has been killed mid-run at least 20 times.
    let mut seed: u64 = 0x5eed_1e06;
    for round in 0..120 {
        if kills_mid_run >= 24 {
            break;
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let wait = Duration::from_millis(150 + (seed >> 33) % 500);
        // Offsets live in the store, so each run may join a fresh group and
        // be assigned at once instead of waiting out the dead member.
        let group = format!("crash-{round}");
        let child = projector(
            &topic,
            &group,
            &data,
            &["--until-end", "--batch-size", "199"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        if kill_after(child, wait) {
            kills_mid_run += 1;
        }
    }
    assert!(
        kills_mid_run >= 20,
        "the projector must be killed mid-run at least 20 times ({kills_mid_run})"
    );
    // Work was left for the final run: every kill above came before the
    // projection was done.
    let fin = project_until_end(&topic, "crash-final", &data);
    assert!(fin["records"].as_u64().unwrap() > 0, "{fin}");
    let (k, c) = (accounts(&data), accounts(&demo));
    assert_eq!(k.lines().count(), 7500);
    assert!(
        k == c,
        "accounts after {kills_mid_run} SIGKILLs differ from an uninterrupted projection"
    );
}

/// The busiest contribution period of a demo's events.
fn busiest_period(events: &Path) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for line in std::fs::read_to_string(events).unwrap().lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if let Some(p) = v["envelope"]["contribution"]["period"].as_str() {
                *counts.entry(p.to_string()).or_default() += 1;
            }
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0
}

#[test]
fn a_month_closed_on_kafka_is_projected_once_per_participant_by_two_instances() {
    use prost::Message as _;
    let dir = tempfile::tempdir().unwrap();
    let (demo, topic) = published_demo(dir.path(), "month", 300);
    let period = busiest_period(&demo.join("events.jsonl"));
    // The reference: the same month closed on the demo's embedded log.
    let log = demo.join("log");
    assert!(
        run(&["close-month", &period, "--log", log.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run(&[
        "project",
        "--log",
        log.to_str().unwrap(),
        "--data",
        demo.to_str().unwrap()
    ])
    .status
    .success());
    let o = run(&[
        "report",
        "monthly",
        &period,
        "--data",
        demo.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();

    let o = run(&[
        "close-month",
        &period,
        "--brokers",
        &kafka_brokers(),
        "--topic",
        &topic,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let instances: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            projector(&topic, "month", &dir.path().join(name), &["--until-end"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in instances {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    let expect = want["projections"].as_u64().unwrap() as usize + 4;
    let records = read_all(&format!("{topic}.monthly"), 4, expect);
    let mut projections: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut summaries = std::collections::BTreeSet::new();
    for m in &records {
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let value = m.payload().unwrap().to_vec();
        if let Some(p) = key.strip_prefix("summary/") {
            let s = ledger_proto::v1::PartitionMonthSummary::decode(value.as_slice()).unwrap();
            assert_eq!(s.period, period);
            summaries.insert(p.to_string());
            continue;
        }
        let p = ledger_proto::v1::MonthlyProjection::decode(value.as_slice()).unwrap();
        assert_eq!(
            (p.iin.as_str(), p.period.as_str(), p.revision),
            (key.as_str(), period.as_str(), 1)
        );
        // Delivered more than once (a partition rebuilt by the other
        // instance) is allowed; a second, different projection is not.
        if let Some(earlier) = projections.insert(key.clone(), value.clone()) {
            assert_eq!(
                earlier, value,
                "two different projections for one participant"
            );
        }
    }
    assert_eq!(
        summaries.len(),
        4,
        "a summary from every partition: {summaries:?}"
    );
    assert_eq!(
        projections.len() as u64,
        want["projections"].as_u64().unwrap()
    );
    let contributions: i64 = projections
        .values()
        .map(|v| {
            let p = ledger_proto::v1::MonthlyProjection::decode(v.as_slice()).unwrap();
            let (w, f) = p.contributions.split_once('.').unwrap();
            w.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
        })
        .sum();
    let (w, f) = want["contributions_total"]
        .as_str()
        .unwrap()
        .split_once('.')
        .unwrap();
    assert_eq!(
        contributions,
        w.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
    );

    // The example reporting job, reading only the topic, writes the report
    // the embedded store gives.
    let out = dir.path().join("consumed");
    let monthly = format!("{topic}.monthly");
    let o = run(&[
        "report",
        "consume",
        "--brokers",
        &kafka_brokers(),
        "--topic",
        &monthly,
        "--period",
        &period,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let got: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(format!("report-{period}.json"))).unwrap(),
    )
    .unwrap();
    // The topic carries no payment lines: the count of unreconciled
    // payments (Rules §7) is the store's report's alone.
    let mut want = want;
    assert_eq!(want["unreconciled_payments"], 0, "{want}");
    want.as_object_mut()
        .unwrap()
        .remove("unreconciled_payments");
    assert_eq!(got, want);
    assert!(out.join(format!("report-{period}.csv")).exists());

    // A replay from scratch (a new group, a new store) closes the month
    // again and publishes it again: the same bytes under every key and
    // revision, nothing new.
    let once = projections.len() + summaries.len();
    let fresh = project_until_end(&topic, "month-replay", &dir.path().join("replay"));
    assert_eq!(fresh["months_closed"], 4, "{fresh}");
    let again = read_all(&monthly, 4, records.len() + once);
    assert_eq!(
        again.len(),
        records.len() + once,
        "every record published once more"
    );
    let mut by_key: std::collections::BTreeMap<Vec<u8>, std::collections::BTreeSet<Vec<u8>>> =
        Default::default();
    for m in &again {
        by_key
            .entry(m.key().unwrap().to_vec())
            .or_default()
            .insert(m.payload().unwrap().to_vec());
    }
    for (key, values) in &by_key {
        assert_eq!(
            values.len(),
            1,
            "{}: two different values",
            String::from_utf8_lossy(key)
        );
    }
}

/// Rules §6 and seed 003 through Kafka: a line returned for disagreeing
/// with the register and a refund application's three decisions reach
/// `<T>.notices` keyed by the payer; `refund status` reads them there; a
/// replay under a fresh group republishes byte-identical notices, which
/// the status counts once.
#[test]
fn returns_and_refund_decisions_are_published_to_the_notices_topic() {
    use ledger_e2e::payers::{self, APPLICATION, BIN};
    use prost::Message as _;
    let dir = tempfile::tempdir().unwrap();
    let case = payers::write(dir.path());
    let topic = unique_topic("payers");
    let brokers = kafka_brokers();
    create(&topic, 4);
    let o = run(&[
        "publish",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        case.events.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "publish: {}", stderr(&o));
    let o = run(&[
        "refund",
        "apply",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        case.application.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "refund apply: {}", stderr(&o));
    let first = project_until_end(&topic, &unique_topic("g"), &dir.path().join("a"));
    assert_eq!(first["returned"], 1, "{first}");
    assert_eq!(first["refused"], 2, "{first}");

    let notices_topic = format!("{topic}.notices");
    let read = read_all(&notices_topic, 4, 4);
    let mut kinds = Vec::new();
    for m in &read {
        assert_eq!(m.key(), Some(BIN.as_bytes()), "keyed by payer id");
        let n = ledger_proto::v1::Notice::decode(m.payload().unwrap()).unwrap();
        kinds.push(n.kind().as_str_name().to_string());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "LINE_RETURNED",
            "REFUND_ACCEPTED",
            "REFUND_REFUSED",
            "REFUND_REFUSED"
        ]
    );

    let status = |what: &str| -> serde_json::Value {
        let o = run(&[
            "refund",
            "status",
            APPLICATION,
            "--brokers",
            &brokers,
            "--topic",
            &topic,
            "--json",
        ]);
        assert!(o.status.success(), "refund status ({what}): {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let s = status("first");
    assert_eq!(
        (s["decided"].clone(), s["complete"].clone()),
        (3.into(), true.into())
    );
    assert_eq!(s["accepted_amount"], "1000.00");

    // A replay under a fresh group publishes every notice again, the same
    // bytes under the same key.
    project_until_end(&topic, &unique_topic("g"), &dir.path().join("b"));
    let twice = read_all(&notices_topic, 4, 8);
    let mut by_id: std::collections::BTreeMap<String, Vec<Vec<u8>>> = Default::default();
    for m in &twice {
        let n = ledger_proto::v1::Notice::decode(m.payload().unwrap()).unwrap();
        by_id
            .entry(n.notice_id)
            .or_default()
            .push(m.payload().unwrap().to_vec());
    }
    assert_eq!(by_id.len(), 4);
    for (id, copies) in &by_id {
        assert_eq!(copies.len(), 2, "{id}");
        assert_eq!(
            copies[0], copies[1],
            "{id}: a replay republishes identical bytes"
        );
    }
    assert_eq!(status("after the replay"), s, "repeats are counted once");
}

/// Seed 002 through a real broker: a merge published to the topic; one
/// `project --until-end` decides the close, writes the transfers back to
/// the topic keyed by the new identifier and projects them; a line for the
/// old identifier afterwards is redirected; a replay of the topic gives the
/// same accounts, byte for byte, and writes nothing.
#[test]
fn a_merge_hands_the_history_over_through_the_topic() {
    use ledger_e2e::payers;
    let dir = tempfile::tempdir().unwrap();
    let case = payers::write(dir.path());
    let (a, d) = (case.iins[0].as_str(), case.duplicate_of_a.as_str());
    let topic = unique_topic("merge");
    let brokers = kafka_brokers();
    create(&topic, 4);
    publish_expecting(&topic, &case.events, 0);
    let copy = dir.path().join("copy.jsonl");
    std::fs::write(
        &copy,
        payers::line_for("line-0-2025-01", d, "2025-01", "PP-17") + "\n",
    )
    .unwrap();
    publish_expecting(&topic, &copy, 0);
    let mut merge = payers::merge_args(d, a);
    merge.extend(["--brokers", &brokers, "--topic", &topic]);
    let o = run(&merge);
    assert!(o.status.success(), "merge: {}", stderr(&o));
    let late = dir.path().join("late.jsonl");
    std::fs::write(
        &late,
        payers::line_for("line-d-late", d, "2025-04", "PP-20") + "\n",
    )
    .unwrap();
    publish_expecting(&topic, &late, 0);

    let data = dir.path().join("live");
    let totals = project_until_end(&topic, &unique_topic("g"), &data);
    assert_eq!(totals["redirected"], 1, "{totals}");
    // The opening record, D's three applied records but the close itself
    // (two lines), the redirected line.
    assert_eq!(totals["forwarded"], 4, "{totals}");
    let st = |data: &Path, iin: &str| -> serde_json::Value {
        let o = run(&["account", iin, "--data", data.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "account: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let new = st(&data, a);
    assert_eq!(new["contributions_total"], "21250.00", "{new}");
    assert_eq!(new["merged_from"][0]["other"], d, "{new}");
    assert_eq!(st(&data, d)["merged_into"]["other"], a);

    let replayed = dir.path().join("replayed");
    let o = run(&[
        "replay",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--data",
        replayed.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "replay: {}", stderr(&o));
    assert_eq!(accounts(&data), accounts(&replayed));
}

/// Inputs §4: one rule for record times on both paths. The same records,
/// some with times before the epoch (1970, 1999), written to a topic by a
/// plain producer and appended to an embedded log: each bad one a
/// `bad_timestamp` dead letter on both, the good ones applied on both,
/// and the same digest, timestamps included. The topic is made without
/// `topics create`'s timestamp bounds (by other tooling, or on a broker
/// before Kafka 3.6), so the broker takes the old times and the projector
/// must judge them. A time in microseconds (year 57,000) the broker
/// refuses (Kafka 4.0's default `message.timestamp.after.max.ms` of one
/// hour, which Apache Kafka enforces); the embedded log's projector
/// dead-letters it (`ledger_core::time`'s tests).
#[test]
fn record_times_are_judged_alike_on_kafka_and_the_embedded_log() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let dir = tempfile::tempdir().unwrap();
    let topic = unique_topic("times");
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .create()
        .unwrap();
    let made = futures_executor::block_on(admin.create_topics(
        &[NewTopic::new(&topic, 4, TopicReplication::Fixed(1))],
        &AdminOptions::new(),
    ))
    .unwrap();
    assert!(made.iter().all(Result::is_ok), "{made:?}");
    let template = ledger_e2e::case_envelope();
    let good = chrono::DateTime::parse_from_rfc3339("2025-04-10T10:00:00+05:00")
        .unwrap()
        .timestamp_millis();
    let pre_epoch = chrono::DateTime::parse_from_rfc3339("1999-12-31T12:00:00Z")
        .unwrap()
        .timestamp_millis();
    // (event id, record time); 0 means "now" to librdkafka, so 1970 is 1 ms.
    let times = [
        ("t-good-1", good),
        ("t-1970", 1),
        ("t-1999", pre_epoch),
        ("t-good-2", good + 1),
    ];
    let values: Vec<(Vec<u8>, i64)> = times
        .iter()
        .map(|(id, t)| {
            let mut e = template.clone();
            e.event_id = id.to_string();
            (ledger_proto::encode_envelope(&e), *t)
        })
        .collect();
    let key = template.iin.clone();
    let records: Vec<(&[u8], Option<i64>, &[u8])> = values
        .iter()
        .map(|(v, t)| (key.as_bytes(), Some(*t), v.as_slice()))
        .collect();
    let cluster = ledger_kafka::Cluster::new(&kafka_brokers());
    ledger_kafka::Publisher::new(&cluster, &topic)
        .unwrap()
        .publish(&records)
        .unwrap();
    let mut micros = template.clone();
    micros.event_id = "t-micros".into();
    let micros = ledger_proto::encode_envelope(&micros);
    let refused = ledger_kafka::Publisher::new(&cluster, &topic)
        .unwrap()
        .publish(&[(key.as_bytes(), Some(good * 1000), micros.as_slice())])
        .unwrap_err();
    assert!(
        refused.to_string().contains("Invalid timestamp"),
        "{refused}"
    );
    let log = ledger_stream::EmbeddedLog::open_or_create(&dir.path().join("log"), 4).unwrap();
    let embedded: Vec<(&[u8], i64, &[u8])> = values
        .iter()
        .map(|(v, t)| (key.as_bytes(), *t, v.as_slice()))
        .collect();
    log.appender().unwrap().append(&embedded).unwrap();

    let on_kafka = dir.path().join("kafka");
    let totals = project_until_end(&topic, "times", &on_kafka);
    assert_eq!(
        (totals["applied"].clone(), totals["dead_letters"].clone()),
        (2.into(), 2.into()),
        "{totals}"
    );
    let on_log = dir.path().join("embedded");
    let o = run(&[
        "project",
        "--log",
        dir.path().join("log").to_str().unwrap(),
        "--data",
        on_log.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(digest(&on_kafka), digest(&on_log));
    assert_eq!(accounts(&on_kafka), accounts(&on_log));
    let letters = |data: &Path| {
        let o = run(&["dead-letters", "--data", data.to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["error"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (k, e) = (letters(&on_kafka), letters(&on_log));
    assert_eq!(k, e);
    assert!(k.iter().all(|(kind, _)| kind == "bad_timestamp"), "{k:?}");
    let reasons: Vec<&str> = k.iter().map(|(_, e)| e.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("1970-01-01T00:00:00.001Z")
                && r.contains("before the ledger's epoch")),
        "{reasons:?}"
    );
    // The dead-letter topic has them, with the original time in a header.
    let dlq = read_all(&format!("{topic}.dlq"), 4, 2);
    assert_eq!(dlq.len(), 2);
}

/// Inputs §5: no record can stop the projector on Kafka either. A poison
/// batch of every kind (a 1 MB record among them) written by a plain
/// producer, then a valid record: every poison record reaches `.dlq` (the
/// huge one as its SHA-256 and size, with headers saying so) and the
/// store whole; the valid record is applied, on the first run.
#[test]
fn a_poison_batch_reaches_the_dead_letter_topic_and_the_record_behind_it_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique_topic("poison");
    create(&topic, 4);
    let ledger_e2e::PoisonBatch {
        wire,
        valid,
        records: mut poison,
    } = ledger_e2e::poison_batch();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", kafka_brokers())
        .set("message.max.bytes", "2000000");
    let mut producer = ledger_kafka::Publisher::with_config(config, &topic).unwrap();
    // The ledger topic's `message.timestamp.before.max.ms` turns a clock
    // at zero away at the broker (Apache Kafka enforces it, KIP-937): that
    // record never reaches the log. A time before the epoch within the
    // broker's window does, and the projector dead-letters it.
    let zero = poison
        .iter_mut()
        .find(|r| r.4 == "bad_timestamp")
        .expect("the poison batch has a bad time");
    let refused = producer.publish_to(zero.0, &[(&zero.1, Some(zero.2), &zero.3)]);
    assert!(
        format!("{refused:?}").contains("InvalidTimestamp"),
        "the broker takes a 1970 record: {refused:?}"
    );
    zero.2 = 946_684_800_000 - 365 * 86_400_000; // 1999-01-01, before the epoch
    for (p, k, t, v, _) in &poison {
        producer.publish_to(*p, &[(k, Some(*t), v)]).unwrap();
    }
    producer
        .publish(&[(wire.iin.as_bytes(), None, valid.as_slice())])
        .unwrap();
    let data = dir.path().join("data");
    let totals = project_until_end(&topic, "poison", &data);
    assert_eq!(totals["applied"], 1, "{totals}");
    assert_eq!(totals["dead_letters"], poison.len(), "{totals}");
    let dlq = read_all(&format!("{topic}.dlq"), 4, poison.len());
    assert_eq!(dlq.len(), poison.len());
    let header = |m: &rdkafka::message::OwnedMessage, name: &str| {
        m.headers().and_then(|h| {
            h.iter()
                .find(|x| x.key == name)
                .and_then(|x| x.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    };
    let huge = dlq
        .iter()
        .find(|m| header(m, "si-ledger-value-omitted-size").is_some())
        .expect("the huge letter, as its digest");
    let size = valid.len() + 1_040_000;
    assert_eq!(
        header(huge, "si-ledger-value-omitted-size"),
        Some(size.to_string())
    );
    let sha = header(huge, "si-ledger-value-sha256").unwrap();
    let want: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&poison[0].3)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(sha, want);
    assert_eq!(huge.payload().map(<[u8]>::len), Some(32));
    assert!(dlq
        .iter()
        .all(|m| header(m, "si-ledger-error").unwrap().len() < 1200));
    let o = run(&[
        "account",
        &wire.iin,
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    let a: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(a["contributions_total"], "4250.00");
}

/// Runs `tests/produce.py` (Python's `confluent-kafka`, as a payment
/// processor's client) on `lines` into `topic` with `options`; its output.
fn python_produce(topic: &str, lines: &Path, options: &[&str]) -> String {
    python_produce_to(&kafka_brokers(), topic, lines, options)
}

/// [`python_produce`] to the cluster at `brokers`.
fn python_produce_to(brokers: &str, topic: &str, lines: &Path, options: &[&str]) -> String {
    let python = std::env::var("SI_LEDGER_PRODUCER_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_PRODUCER_PYTHON is not set: run this test through scripts/test, which \
             installs `confluent-kafka` and `grpcio-tools` in a virtual environment and sets it"
        )
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new(&python)
        .arg(root.join("produce.py"))
        .args([brokers, topic])
        .arg(root.join("../proto"))
        .arg(lines)
        .args(options)
        .output()
        .unwrap();
    assert!(o.status.success(), "produce.py {options:?}: {}", stderr(&o));
    stdout(&o)
}

/// The stock Java producer (`tests/java-producer`: kafka-clients without our
/// client library, built by scripts/test) run with `args`, not yet waited for.
fn java_producer(args: &[&str]) -> std::process::Command {
    let classpath = std::env::var("SI_LEDGER_JAVA_PRODUCER_CP").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_JAVA_PRODUCER_CP is not set: run this test through scripts/test, which \
             builds tests/java-producer with Maven and sets it"
        )
    });
    let mut c = std::process::Command::new("java");
    c.args(["-Xmx256m", "-XX:+UseSerialGC", "-cp", &classpath])
        .arg("kz.siledger.tests.StockProducer")
        .args(args);
    c
}

/// [`java_producer`] run to its end, which must succeed; its output.
fn java_produce(args: &[&str]) -> String {
    let o = java_producer(args).output().unwrap();
    assert!(o.status.success(), "StockProducer {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Issue 16: a payment processor's producer compresses with any of
/// Kafka's codecs. The same records, written by Python's `confluent-kafka`
/// once per codec (and once by `si-ledger publish`, zstd), project to the
/// same accounts; before, gzip and zstd batches made `project --until-end`
/// wait forever with no message.
#[test]
fn every_compression_codec_projects_to_the_same_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 120, 3);
    let mut digests = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd", "si-ledger"] {
        let topic = unique_topic(&format!("codec-{codec}"));
        create(&topic, 4);
        if codec == "si-ledger" {
            publish_expecting(&topic, &signed, 2);
        } else {
            python_produce(&topic, &signed, &["--compression", codec]);
        }
        let data = dir.path().join(codec);
        let mut c = projector(&topic, &topic, &data, &["--until-end"]);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{codec}: {}", stderr(&o));
        digests.push((codec, accounts(&data)));
    }
    // Every account, statement by statement (a digest would also cover the
    // record times, which each producer stamps when it sends a line that
    // has none).
    let (_, first) = &digests[0];
    assert!(first.lines().count() > 100, "{first}");
    for (codec, statements) in &digests {
        assert!(statements == first, "{codec} projects otherwise");
    }
}

/// Issue 16: values framed by a Schema Registry serializer (Python's
/// `ProtobufSerializer`, against its in-process mock registry) project
/// exactly as bare ones, each history entry keeping the schema id; a
/// framed value of another message than Envelope is dead-lettered with
/// the reason.
#[test]
fn schema_registry_framed_values_project_like_bare_ones() {
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 60, 2);
    // The same producer without the registry: the same lines (the demo's
    // broken ones too, which `si-ledger publish` would refuse at the door).
    let bare = unique_topic("bare");
    create(&bare, 4);
    python_produce(&bare, &signed, &[]);
    let framed = unique_topic("framed");
    create(&framed, 4);
    let out = python_produce(&framed, &signed, &["--schema-registry"]);
    let schema_id: u64 = out.lines().nth(1).unwrap().trim().parse().unwrap();
    let mut statements = Vec::new();
    let mut totals = Vec::new();
    for topic in [&bare, &framed] {
        let data = dir.path().join(topic);
        let t = project_until_end(topic, topic, &data);
        totals.push((
            t["applied"].clone(),
            t["dead_letters"].clone(),
            t["conflicts"].clone(),
        ));
        statements.push(accounts(&data));
    }
    assert_eq!(totals[0], totals[1]);
    assert!(statements[0].lines().count() > 50, "{}", statements[0]);
    assert!(
        statements[0] == statements[1],
        "framed values project otherwise"
    );
    // Each entry's provenance names the schema.
    let first: serde_json::Value =
        serde_json::from_str(statements[0].lines().next().unwrap()).unwrap();
    let iin = first["iin"]
        .as_str()
        .expect("a statement's IIN")
        .to_string();
    for (topic, want) in [
        (&bare, serde_json::Value::Null),
        (&framed, schema_id.into()),
    ] {
        let data = dir.path().join(topic);
        let o = run(&["history", &iin, "--data", data.to_str().unwrap(), "--json"]);
        let h: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let entries = h.as_array().unwrap();
        assert!(!entries.is_empty());
        assert!(
            entries.iter().all(|e| e["schema_id"] == want),
            "{topic}: {h}"
        );
    }
    // A producer whose serializer was given the wrong message type.
    let wrong = unique_topic("wrong-message");
    create(&wrong, 4);
    let out = python_produce(
        &wrong,
        &signed,
        &["--schema-registry", "--as-message", "ContributionPaid"],
    );
    let sent: u64 = out.split_whitespace().next().unwrap().parse().unwrap();
    let data = dir.path().join("wrong");
    let totals = project_until_end(&wrong, &wrong, &data);
    assert_eq!(totals["dead_letters"], sent, "{totals}");
    let o = run(&["dead-letters", "--data", data.to_str().unwrap(), "--json"]);
    let letters: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let first = &letters.as_array().unwrap()[0];
    assert_eq!(first["kind"], "not_envelope", "{first}");
    assert!(
        first["error"]
            .as_str()
            .unwrap()
            .contains("message [1] of its schema"),
        "{first}"
    );
}

/// Issues 16 and 26: a transactional producer (Python's `confluent-kafka`,
/// and Java's `kafka-clients`) on Apache Kafka writes five transactions,
/// committed, aborted, committed, aborted, committed: the broker writes a
/// commit or abort marker after each, at offsets no consumer sees, and a
/// `read_committed` consumer (every consumer of the ledger:
/// `ledger_kafka::REQUIRED`) is told which records were aborted. The
/// projector, `replay` and `verify` take the high watermark as the end and
/// the consumer's position past markers and aborted records as reaching
/// it; aborted records change no balance and are no dead letters; `export`
/// records the gaps and its archive replays to the same digest. The
/// accounts equal those of the committed runs alone, published without
/// transactions.
#[test]
fn a_transactional_topic_projects_its_committed_records_only() {
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 90, 2);
    let tx_brokers = kafka_brokers();
    let tx = unique_topic("transactions");
    create(&tx, 4);
    python_produce(&tx, &signed, &["--transactions", "cacac"]);
    // The same five transactions from Java's `kafka-clients`.
    let java = unique_topic("java-transactions");
    create(&java, 4);
    let out = java_produce(&[
        "lines",
        &tx_brokers,
        &java,
        signed.to_str().unwrap(),
        "--transactions",
        "cacac",
    ]);
    let reference = unique_topic("committed");
    create(&reference, 4);
    python_produce(
        &reference,
        &signed,
        &["--transactions", "cacac", "--committed-only"],
    );
    let committed: usize = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(committed > 100, "{out}");
    let limit = Duration::from_secs(120);
    let mut projected = Vec::new();
    let mut letters_of = Vec::new();
    for (brokers, topic) in [
        (&tx_brokers, &tx),
        (&tx_brokers, &java),
        (&kafka_brokers(), &reference),
    ] {
        let data = dir.path().join(topic);
        let o = project_to_end(brokers, topic, &data, &[]);
        assert!(o.status.success(), "{topic}: {}", stderr(&o));
        // Dead letters without their positions (markers move offsets).
        let letters = stdout(&run(&["dead-letters", "--data", data.to_str().unwrap()]));
        let mut kinds: Vec<String> = letters
            .lines()
            .filter_map(|l| l.split_once(" key ").map(|(_, rest)| rest.to_string()))
            .collect();
        kinds.sort();
        letters_of.push(kinds);
        projected.push(accounts(&data));
    }
    for (i, producer) in ["Python", "Java"].iter().enumerate() {
        assert_eq!(
            letters_of[i], letters_of[2],
            "{producer}: aborted records are no dead letters: the same as the committed runs'"
        );
        assert!(
            projected[i] == projected[2],
            "{producer}'s transactional topic projects otherwise"
        );
    }
    assert!(projected[2].lines().count() > 50, "{}", projected[2]);
    let live = dir.path().join(&tx);
    // replay and verify against the topic finish too.
    let replayed = dir.path().join("replayed");
    let o = finishes(
        &[
            "replay",
            "--brokers",
            &tx_brokers,
            "--topic",
            &tx,
            "--data",
            replayed.to_str().unwrap(),
        ],
        limit,
    );
    assert!(o.status.success(), "replay: {}", stderr(&o));
    assert_eq!(digest(&replayed), digest(&live));
    let o = finishes(
        &[
            "verify",
            "--data",
            live.to_str().unwrap(),
            "--brokers",
            &tx_brokers,
            "--topic",
            &tx,
        ],
        limit,
    );
    assert!(o.status.success(), "verify: {}{}", stdout(&o), stderr(&o));
    // Its archive replays to the same digest.
    let (archive, offline) = exported_and_replayed(&tx_brokers, &tx, dir.path());
    assert_eq!(digest(&offline), digest(&live));
    let a = archive.to_str().unwrap();
    let o = run(&["verify", "--data", live.to_str().unwrap(), "--archive", a]);
    assert!(
        o.status.success(),
        "verify --archive: {}{}",
        stdout(&o),
        stderr(&o)
    );
}

/// The Java producer writes `lines` to `topic` in transactions by
/// `pattern`, the last left open (`o`), with the settings file `settings`;
/// once it says the open one is flushed, it is SIGKILLed.
fn killed_in_a_transaction(
    brokers: &str,
    topic: &str,
    lines: &Path,
    pattern: &str,
    settings: &Path,
) {
    let mut producer = Reaped(Some(
        java_producer(&[
            "lines",
            brokers,
            topic,
            lines.to_str().unwrap(),
            "--transactions",
            pattern,
            "--config-file",
            settings.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    ));
    let mut said = String::new();
    {
        use std::io::BufRead as _;
        let out = producer.child().stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut said).unwrap();
    }
    assert!(said.starts_with("open "), "the producer said {said:?}");
    producer.child().kill().unwrap(); // SIGKILL
    let _ = producer.take().wait();
}

/// Issue 26: a Java producer is SIGKILLed with a transaction open (half of
/// the lines committed, the other half sent and flushed, never committed);
/// a payment order committed after it waits behind it. `project
/// --until-end`, started then, neither ends early nor hangs silently: it
/// says which partition waits at which offset, since when, until the
/// broker aborts the transaction (the producer's `transaction.timeout.ms`,
/// 20 s here), then reads on to the end. The aborted half changes no
/// balance and is no dead letter: the accounts equal those of the
/// committed half and the same order.
#[test]
fn a_producer_killed_with_a_transaction_open_is_waited_for_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 60, 2);
    let lines = signed.to_str().unwrap();
    let brokers = kafka_brokers();
    let settings = dir.path().join("producer.properties");
    std::fs::write(&settings, "transaction.timeout.ms=20000\n").unwrap();
    // A payment order of two lines, its record times fixed, so that the
    // reference publish below is the same log.
    let order_lines = dir.path().join("order.jsonl");
    let line = |n: u32| {
        serde_json::json!({
            "timestamp": "2026-10-16T06:00:00Z",
            "envelope": {
                "eventId": format!("java-order-{n}"), "iin": "900517400015", "source": "bank-42",
                "contribution": {
                    "payment": {"documentNumber": "JAVA-1", "receivedOn": "2026-10-16",
                                "ppc": "012", "payerId": "110340010179",
                                "totalAmount": "54100.00", "lineCount": 2},
                    "period": format!("2026-0{}", 7 + n), "amount": "27050.00",
                    "person": {"surname": "Ахметова", "name": "Айгерим",
                               "birthDate": "1990-05-17"}}}
        })
        .to_string()
    };
    std::fs::write(&order_lines, format!("{}\n{}\n", line(1), line(2))).unwrap();
    let order = |topic: &str| {
        java_produce(&[
            "lines",
            &brokers,
            topic,
            order_lines.to_str().unwrap(),
            "--transactions",
            "c",
            // Not the killed producer's id: it would fence that producer
            // and abort its transaction at once.
            "--transactional-id",
            "java-order",
        ])
    };

    let topic = unique_topic("killed-in-transaction");
    create(&topic, 4);
    killed_in_a_transaction(&brokers, &topic, &signed, "co", &settings);
    order(&topic);

    let data = dir.path().join("data");
    let started = Instant::now();
    let o = project_to_end(&brokers, &topic, &data, &[]);
    let waited = started.elapsed();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("a transaction still open holds offset")
            && err.contains("waiting since ")
            && err.contains("partition "),
        "the projector said what it waited for: {err}"
    );
    assert!(waited > Duration::from_secs(5), "it waited: {waited:?}");

    let reference = unique_topic("committed-half");
    create(&reference, 4);
    java_produce(&[
        "lines",
        &brokers,
        &reference,
        lines,
        "--transactions",
        "co",
        "--committed-only",
    ]);
    order(&reference);
    let reference_data = dir.path().join("reference");
    let o = project_to_end(&brokers, &reference, &reference_data, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(accounts(&data), accounts(&reference_data));
    let letters = |d: &Path| stdout(&run(&["dead-letters", "--data", d.to_str().unwrap()]));
    assert_eq!(
        letters(&data).lines().count(),
        letters(&reference_data).lines().count(),
        "the aborted half is no dead letter"
    );
    let history = stdout(&run(&[
        "history",
        "900517400015",
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        history.matches("\"applied\"").count(),
        2,
        "the order behind it: {history}"
    );
}

/// Found by the attack on issue 26: `refund apply` reads the topic for an
/// application's earlier requests before it publishes. A producer killed
/// with a transaction open hides every record behind it from a committed
/// reader; the check took three idle seconds as the end, missed the
/// application's requests behind the open transaction and published the
/// same id again for other employees. It now reads to the end seen when it
/// starts, waiting for the transaction (the broker aborts it), and refuses.
#[test]
fn refund_apply_sees_the_requests_behind_an_open_transaction() {
    use ledger_e2e::payers;
    let dir = tempfile::tempdir().unwrap();
    let case = payers::write(dir.path());
    let brokers = kafka_brokers();
    let topic = unique_topic("refund-behind");
    create(&topic, 4);
    publish_expecting(&topic, &case.events, 0);
    let settings = dir.path().join("producer.properties");
    std::fs::write(&settings, "transaction.timeout.ms=15000\n").unwrap();
    killed_in_a_transaction(&brokers, &topic, &case.events, "o", &settings);
    let apply = |file: &Path| {
        run(&[
            "refund",
            "apply",
            "--brokers",
            &brokers,
            "--topic",
            &topic,
            file.to_str().unwrap(),
        ])
    };
    let o = apply(&case.application);
    assert!(o.status.success(), "refund apply: {}", stderr(&o));
    // The same application id, its first employee another.
    let mut app: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&case.application).unwrap()).unwrap();
    app["employees"][0]["iin"] = case.iins[1].clone().into();
    app["employees"][0]["period"] = "2025-03".into();
    let reused = dir.path().join("reused.json");
    std::fs::write(&reused, app.to_string()).unwrap();
    let o = apply(&reused);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("already published with other content"),
        "{}",
        stderr(&o)
    );
}

/// Issue 26: ACLs per principal on the secured broker (KRaft's
/// StandardAuthorizer, `allow.everyone.if.no.acl.found=false`), granted by
/// `deploy/kafka-acls.sh` through Kafka's own `kafka-acls` tool. Each role
/// does its part: the bank publishes, merges and closes a month, the
/// projector projects (writing dead letters, the month's projections and
/// the merge's transfers to the ledger topic), the
/// reporting job reads `.monthly`, the auditor verifies against the topic.
/// Each one's forbidden action is refused by Kafka, and the ledger says so
/// in one line naming the principal, the operation and the resource.
#[test]
fn each_principal_may_do_its_part_and_nothing_more() {
    let (brokers, secure) = ledger_e2e::secure_kafka();
    let config = |role: &str| secure.join(format!("{role}.properties"));
    let as_role = |role: &str, args: &[&str]| {
        let c = config(role);
        let mut all = args.to_vec();
        all.extend(["--kafka-config", c.to_str().unwrap()]);
        finishes(&all, Duration::from_secs(120))
    };
    // The line a refusal must be: one, naming who, what and where.
    let refused = |o: &std::process::Output, role: &str, what: &str| {
        assert!(!o.status.success(), "{role} may not {what}: {}", stdout(o));
        let err = stderr(o);
        let want = format!("Kafka refused User:si-ledger-{role} {what}");
        assert!(
            err.lines()
                .any(|l| l.contains(&want) && l.contains("deploy/kafka-acls.sh")),
            "{role}: no line says {want:?}: {err}"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 80, 2);
    let topic = unique_topic("acl");
    let operator = secure.join("client.properties");
    create_on(
        &brokers,
        &topic,
        4,
        &["--kafka-config", operator.to_str().unwrap()],
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let group = format!("si-ledger-projector-{topic}");
    for (role, extra) in [
        ("bank", vec![]),
        ("projector", vec!["--group", group.as_str()]),
        ("reporting", vec![]),
        ("auditor", vec![]),
    ] {
        let o = std::process::Command::new(root.join("deploy/kafka-acls.sh"))
            .args([role, &format!("User:si-ledger-{role}")])
            .args(["--bootstrap-server", &brokers, "--topic", &topic])
            .arg("--command-config")
            .arg(secure.join("admin-java.properties"))
            .args(&extra)
            .env(
                "KAFKA_ACLS",
                format!("{} kafka-acls", root.join("scripts/broker").display()),
            )
            .output()
            .unwrap();
        assert!(o.status.success(), "kafka-acls.sh {role}: {}", stderr(&o));
    }
    let events = signed.to_str().unwrap();
    // `args` as `role`, on `topic` of the secured cluster.
    let on = |role: &str, topic: &str, args: &[&str]| {
        as_role(
            role,
            &[args, &["--brokers", &brokers, "--topic", topic]].concat(),
        )
    };

    // The bank: publishes, merges and closes a month; cannot read the
    // ledger topic, nor write its dead-letter topic.
    let o = on("bank", &topic, &["publish", events]);
    assert_eq!(o.status.code(), Some(2), "bank publish: {}", stderr(&o));
    let period = busiest_period(&signed);
    // A line again under its event id with another amount: a conflict, a
    // dead letter for the projector to write.
    let text = std::fs::read_to_string(&signed).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"contribution\""))
        .unwrap();
    let at = line.find("\"amount\":\"").unwrap() + "\"amount\":\"".len();
    let end = at + line[at..].find('"').unwrap();
    let conflict = dir.path().join("conflict.jsonl");
    std::fs::write(&conflict, format!("{}1.00{}\n", &line[..at], &line[end..])).unwrap();
    // The register's merge, published under the bank role: the projector
    // hands the history over by writing transfers to the ledger topic.
    let case = ledger_e2e::payers::write(dir.path());
    let (a, d) = (case.iins[0].as_str(), case.duplicate_of_a.as_str());
    let copy = dir.path().join("copy.jsonl");
    let line = ledger_e2e::payers::line_for("line-0-2025-01", d, "2025-01", "PP-17");
    std::fs::write(&copy, line + "\n").unwrap();
    for file in [&conflict, &case.events, &copy] {
        let o = on("bank", &topic, &["publish", file.to_str().unwrap()]);
        assert!(o.status.success(), "bank publish: {}", stderr(&o));
    }
    let o = on("bank", &topic, &ledger_e2e::payers::merge_args(d, a));
    assert!(o.status.success(), "bank merge: {}", stderr(&o));
    let o = on("bank", &topic, &["close-month", &period]);
    assert!(o.status.success(), "bank close-month: {}", stderr(&o));
    let archive = dir.path().join("bank.archive");
    let o = on(
        "bank",
        &topic,
        &["export", "--out", archive.to_str().unwrap()],
    );
    refused(&o, "bank", "READ on group si-ledger-audit-export-");
    let dlq = format!("{topic}.dlq");
    let o = on("bank", &dlq, &["publish", events]);
    refused(&o, "bank", &format!("WRITE on topic {dlq}"));

    // The projector: projects, with dead letters, the month's projections
    // and a merge's transfers written; cannot create topics.
    let data = dir.path().join("projected");
    let d = data.to_str().unwrap();
    let o = on(
        "projector",
        &topic,
        &[
            "project",
            "--group",
            &group,
            "--data",
            d,
            "--until-end",
            "--json",
        ],
    );
    assert!(o.status.success(), "projector: {}", stderr(&o));
    let totals: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(totals["forwarded"].as_u64().unwrap() > 0, "{totals}");
    let letters = stdout(&run(&["dead-letters", "--data", d]));
    assert!(!letters.starts_with("0 dead letters"), "{letters}");
    let other = format!("{topic}-other");
    let o = on(
        "projector",
        &other,
        &["topics", "create", "--partitions", "4"],
    );
    refused(&o, "projector", &format!("CREATE on topic {other}"));

    // The reporting job: reads the month's projections; cannot read the
    // ledger topic.
    let out = dir.path().join("reports");
    let monthly = format!("{topic}.monthly");
    let o = on(
        "reporting",
        &monthly,
        &[
            "report",
            "consume",
            "--period",
            &period,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        o.status.success(),
        "reporting: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let elsewhere = dir.path().join("reporting-data");
    let o = on(
        "reporting",
        &topic,
        &[
            "project",
            "--group",
            "si-ledger-reporting-x",
            "--data",
            elsewhere.to_str().unwrap(),
            "--until-end",
        ],
    );
    refused(&o, "reporting", &format!("DESCRIBE on topic {topic}"));

    // The auditor: verifies the store against the topic; cannot publish.
    let o = on("auditor", &topic, &["verify", "--data", d]);
    assert!(o.status.success(), "auditor: {}{}", stdout(&o), stderr(&o));
    let o = on("auditor", &topic, &["publish", events]);
    // With no WRITE anywhere, Kafka refuses the idempotent producer its id.
    refused(
        &o,
        "auditor",
        &format!("WRITE (which gives an idempotent producer its id) on topic {topic}"),
    );
}

/// Issue 16: a cluster that requires SASL/SCRAM over TLS (the test
/// broker's own TLS, with a certificate of a CA the test command made).
/// Every Kafka command takes `--kafka-config`; publish → project →
/// statements equal the embedded projection's. A wrong password and an
/// untrusted certificate each end in a clear error and a non-zero exit
/// within seconds; the password never appears in any output.
#[test]
fn a_secured_cluster_projects_alike_and_bad_credentials_fail_fast() {
    let (brokers, secure) = ledger_e2e::secure_kafka();
    let config = secure.join("client.properties");
    let settings = std::fs::read_to_string(&config).unwrap();
    let password = settings
        .lines()
        .find_map(|l| l.strip_prefix("sasl.password="))
        .expect("the test broker's password")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 120, 3);
    let demo = dir.path().join("demo");
    let topic = unique_topic("secured");
    let c = config.to_str().unwrap();
    create_on(&brokers, &topic, 4, &["--kafka-config", c]);
    let events = signed;
    let o = run(&[
        "publish",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--kafka-config",
        c,
        events.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "publish: {}", stderr(&o));
    let data = dir.path().join("data");
    let o = project_to_end(
        &brokers,
        &topic,
        &data,
        &["--kafka-config", c, "-X", "fetch.wait.max.ms=20"],
    );
    assert!(o.status.success(), "project: {}", stderr(&o));
    let want = accounts(&demo);
    assert!(
        accounts(&data) == want,
        "the secured cluster projects otherwise"
    );
    // A Python processor's producer with the same settings.
    let python_topic = unique_topic("secured-python");
    create_on(&brokers, &python_topic, 4, &["--kafka-config", c]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("SI_LEDGER_PRODUCER_PYTHON").expect("scripts/test sets it");
    let p = std::process::Command::new(python)
        .arg(root.join("produce.py"))
        .args([&brokers, &python_topic])
        .arg(root.join("../proto"))
        .arg(&events)
        .args(["--compression", "zstd", "--config-file", c])
        .output()
        .unwrap();
    assert!(p.status.success(), "produce.py: {}", stderr(&p));
    let from_python = dir.path().join("python");
    let o = project_to_end(
        &brokers,
        &python_topic,
        &from_python,
        &["--kafka-config", c],
    );
    assert!(o.status.success(), "project: {}", stderr(&o));
    assert!(
        accounts(&from_python) == want,
        "the Python producer's records project otherwise"
    );

    // A wrong password, and a certificate the client's CA did not sign.
    let wrong = dir.path().join("wrong-password.properties");
    std::fs::write(&wrong, settings.replace(&password, "not-the-password")).unwrap();
    let other_ca = secure.join("other-ca.pem");
    let untrusted = dir.path().join("untrusted.properties");
    let ca_line = settings
        .lines()
        .find(|l| l.starts_with("ssl.ca.location="))
        .unwrap();
    std::fs::write(
        &untrusted,
        settings.replace(ca_line, &format!("ssl.ca.location={}", other_ca.display())),
    )
    .unwrap();
    for (bad, says) in [
        (&wrong, "SASL authentication failed"),
        (&untrusted, "TLS failed"),
    ] {
        let started = Instant::now();
        let o = finishes(
            &[
                "publish",
                "--brokers",
                &brokers,
                "--topic",
                &topic,
                "--kafka-config",
                bad.to_str().unwrap(),
                events.to_str().unwrap(),
            ],
            Duration::from_secs(30),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{says}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert!(!err.contains(&password) && !stdout(&o).contains(&password));
    }
    // A secret on the command line is refused, and not echoed.
    let o = run(&[
        "publish",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "-X",
        &format!("sasl.password={password}"),
        events.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("secret on the command line"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains(&password));
    // A setting the ledger depends on cannot be overridden.
    let o = run(&[
        "project",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--data",
        data.to_str().unwrap(),
        "--until-end",
        "--kafka-config",
        c,
        "-X",
        "isolation.level=read_uncommitted",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("aborted transactions"),
        "{}",
        stderr(&o)
    );
}

/// The node leading `partition` of `topic` on the cluster at `brokers`.
fn leader_of(brokers: &str, topic: &str, partition: i32) -> i32 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(20))
        .unwrap();
    metadata.topics()[0]
        .partitions()
        .iter()
        .find(|p| p.id() == partition)
        .map(|p| p.leader())
        .expect("the partition has a leader")
}

/// A cluster node SIGKILLed, restarted when dropped (also when a test
/// fails: the next test needs the whole cluster).
struct Down(String, String);

impl Down {
    fn kill(cluster_dir: &str, node: &str) -> Down {
        ledger_e2e::broker_script(&["kill-node", cluster_dir, node]);
        Down(cluster_dir.to_string(), node.to_string())
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        let args = ["restart-node", &self.0, &self.1];
        if std::thread::panicking() {
            // No second panic: try, and let the first one be reported.
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/broker");
            let _ = std::process::Command::new(script).args(args).output();
        } else {
            ledger_e2e::broker_script(&args);
        }
    }
}

/// Issue 26: a topic with three replicas and `min.insync.replicas=2` on a
/// three-node Apache Kafka cluster. Two projectors in one group follow it;
/// while a publisher and both projectors run, the leader of partition 0 is
/// SIGKILLed; later, with the projectors caught up, the leader of
/// partition 1; each is restarted after. Nothing is lost or counted twice:
/// the accounts, each partition's chain head (the digest's leaves) and the
/// dead-letter topic's letters equal those of the same file published to
/// one broker and projected there by one projector.
#[test]
fn a_cluster_that_loses_a_leader_loses_nothing() {
    let (cluster, cluster_dir) = ledger_e2e::kafka_cluster();
    let cluster_dir = cluster_dir.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let signed = signed_demo(dir.path(), 1000, 12);
    let file = signed.to_str().unwrap();
    let text = std::fs::read_to_string(&signed).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 8192 + 1000, "{} lines", lines.len());

    let reference = unique_topic("one-broker");
    create(&reference, 4);
    let one = run(&[
        "publish",
        "--brokers",
        &kafka_brokers(),
        "--topic",
        &reference,
        file,
    ]);
    let reference_data = dir.path().join("reference");
    let o = project_to_end(&kafka_brokers(), &reference, &reference_data, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let topic = unique_topic("replicated");
    create_on(&cluster, &topic, 4, &["--replication-factor", "3"]);
    // Two projectors in one group follow the topic from the start.
    let group = unique_topic("replicated-group");
    let ports = [free_port(), free_port()];
    let mut members: Vec<Reaped> = ["a", "b"]
        .iter()
        .zip(ports)
        .map(|(name, port)| {
            spawn_projector_on(&cluster, &topic, &group, &dir.path().join(name), Some(port))
        })
        .collect();
    wait_assigned("both projectors", &ports);
    // The publisher reads a pipe: its first chunk (8192 lines) is sent and
    // acknowledged, then partition 0's leader dies, then the rest comes.
    let mut publisher = ledger_e2e::Reaped(Some(
        si_ledger(&["publish", "--brokers", &cluster, "--topic", &topic, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let mut stdin = publisher.child().stdin.take().unwrap();
    {
        use std::io::Write as _;
        stdin
            .write_all((lines[..8192 + 100].join("\n") + "\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
    }
    let first = leader_of(&cluster, &topic, 0).to_string();
    // Its first chunk reached the cluster before the leader goes.
    let watermark = |t: &str| -> i64 {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &cluster)
            .create()
            .unwrap();
        (0..4)
            .map(|p| {
                consumer
                    .fetch_watermarks(t, p, Duration::from_secs(20))
                    .map(|(_, high)| high)
                    .unwrap_or(0)
            })
            .sum()
    };
    for _ in 0..600 {
        if watermark(&topic) >= 8192 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(watermark(&topic) >= 8192, "the first chunk was published");
    assert!(
        publisher.child().try_wait().unwrap().is_none(),
        "the publisher still runs"
    );
    let down = Down::kill(&cluster_dir, &first);
    {
        use std::io::Write as _;
        stdin
            .write_all((lines[8192 + 100..].join("\n") + "\n").as_bytes())
            .unwrap();
    }
    drop(stdin);
    let published = publisher.take().wait_with_output().unwrap();
    assert_eq!(
        published.status.code(),
        one.status.code(),
        "publish through a failover: {}",
        stderr(&published)
    );
    drop(down); // restarted

    let second = leader_of(&cluster, &topic, 1).to_string();
    let down = Down::kill(&cluster_dir, &second);
    // Every partition held by one of them, none lagging; or, at the
    // deadline, a failure that says what was seen and what they logged.
    let wait_caught_up = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let seen: Vec<Option<Vec<(u32, u64)>>> = ports.iter().map(|p| lags(*p)).collect();
            let all: Vec<(u32, u64)> = seen.iter().flatten().flatten().copied().collect();
            let mut held: Vec<u32> = all.iter().map(|(p, _)| *p).collect();
            held.sort_unstable();
            if held == [0, 1, 2, 3] && all.iter().all(|(_, lag)| *lag == 0) {
                return;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = ["a", "b"]
                    .iter()
                    .map(|n| {
                        let log = std::fs::read_to_string(dir.path().join(format!("{n}.log")))
                            .unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(15).collect();
                        format!(
                            "{n}.log ends:\n{}",
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                        )
                    })
                    .collect();
                panic!(
                    "timed out waiting for {what}: (partition, lag) per projector {seen:?}\n{}",
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_caught_up("the projectors to hold every partition and catch up, a node down");
    drop(down); // restarted
    wait_caught_up("the projectors to stay caught up, the node back");
    let holds: Vec<Vec<u32>> = ports
        .iter()
        .map(|p| lags(*p).unwrap().into_iter().map(|(p, _)| p).collect())
        .collect();
    for m in &mut members {
        ledger_e2e::sigterm(m.child());
    }
    for (i, m) in members.drain(..).enumerate() {
        let out = m.take().wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "projector {i} exited {:?}",
            out.status
        );
    }

    // Each partition from the projector that holds it: its accounts and
    // its chain head.
    let of = |line: &str| -> u32 {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        ledger_core::partition_for(v["iin"].as_str().unwrap().as_bytes(), 4)
    };
    let heads = ledger_e2e::chain_heads;
    let mut merged: Vec<String> = Vec::new();
    let mut merged_heads: Vec<(u64, String)> = Vec::new();
    for (name, held) in ["a", "b"].iter().zip(&holds) {
        let data = dir.path().join(name);
        merged.extend(
            accounts(&data)
                .lines()
                .filter(|l| held.contains(&of(l)))
                .map(str::to_string),
        );
        merged_heads.extend(
            heads(&data)
                .into_iter()
                .filter(|(p, _)| held.contains(&(*p as u32))),
        );
    }
    let mut want: Vec<String> = accounts(&reference_data)
        .lines()
        .map(str::to_string)
        .collect();
    merged.sort();
    want.sort();
    assert!(want.len() > 900, "{}", want.len());
    assert!(
        merged == want,
        "the projectors' accounts differ from the reference"
    );
    merged_heads.sort();
    assert_eq!(
        merged_heads,
        heads(&reference_data),
        "the partitions' chain heads"
    );
    // The dead letters: the same records with the same reasons (a
    // partition rebuilt by the other projector may publish its letters
    // twice; a set compares them).
    let letters = |brokers: &str, topic: &str| {
        let dlq = format!("{topic}.dlq");
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", unique_topic("dlq-reader"))
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..4 {
            tpl.add_partition_offset(&dlq, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut set = std::collections::BTreeSet::new();
        let mut quiet = Instant::now();
        while quiet.elapsed() < Duration::from_secs(5) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                quiet = Instant::now();
                let reason = m
                    .headers()
                    .and_then(|h| h.iter().find(|h| h.key == "si-ledger-error"))
                    .and_then(|h| h.value)
                    .map(<[u8]>::to_vec);
                set.insert((
                    m.key().map(<[u8]>::to_vec),
                    m.payload().map(<[u8]>::to_vec),
                    reason,
                ));
            }
        }
        set
    };
    let reference_letters = letters(&kafka_brokers(), &reference);
    assert!(!reference_letters.is_empty(), "the input has dead letters");
    assert_eq!(
        letters(&cluster, &topic),
        reference_letters,
        "the dead-letter topics"
    );
}

/// Issue 28: MT102 files imported to a topic project to the accounts the
/// same files give on the embedded log; importing them again changes
/// nothing.
#[test]
fn mt102_orders_imported_to_the_topic_project_as_on_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/ledger-mt102/tests/data");
    let files: Vec<String> = ["utf-8", "cp866", "cp1251", "kz1048", "anomalies"]
        .iter()
        .map(|f| data_dir.join(format!("{f}.mt102")).display().to_string())
        .collect();
    let topic = unique_topic("mt102");
    create(&topic, 4);
    let brokers = kafka_brokers();
    let import = |target: &[&str]| {
        let mut args = vec!["import", "mt102"];
        args.extend_from_slice(target);
        args.extend(files.iter().map(String::as_str));
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "import: {}", stderr(&o));
    };
    import(&["--brokers", &brokers, "--topic", &topic]);
    let log = dir.path().join("log");
    import(&["--log", log.to_str().unwrap()]);
    let data = dir.path().join("kafka");
    let totals = project_until_end(&topic, "mt102", &data);
    assert_eq!(totals["applied"], 19, "{totals}");
    let embedded = dir.path().join("embedded");
    let o = run(&[
        "project",
        "--log",
        log.to_str().unwrap(),
        "--data",
        embedded.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(accounts(&data), accounts(&embedded));

    import(&["--brokers", &brokers, "--topic", &topic]);
    let again = project_until_end(&topic, "mt102", &data);
    assert_eq!(
        (again["applied"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(19)),
        "{again}"
    );
    // The same balances; only the count of duplicates ignored grew.
    assert_eq!(ledger_e2e::balances(&data), ledger_e2e::balances(&embedded));
}
