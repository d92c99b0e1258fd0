//! Issue 30: `si-ledger bench streams` end to end at a small scale, on
//! Apache Kafka: the Kafka Streams peer (tests/peers/streams, built by
//! scripts/test) and the projector fold one topic, their answers are
//! compared participant by participant, and the figures line is printed.
//! (The comparison's own failures are unit tests of `bench_streams`.)

use ledger_e2e::{kafka_brokers, si_ledger, stderr, stdout};

#[test]
fn the_ledger_and_its_kafka_streams_peer_answer_alike() {
    let classpath = std::env::var("SI_LEDGER_STREAMS_PEER_CP").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_STREAMS_PEER_CP is not set: run this test through scripts/test, which \
             builds tests/peers/streams with Maven and sets it"
        )
    });
    let o = si_ledger(&[
        "bench",
        "streams",
        "--brokers",
        &kafka_brokers(),
        "--participants",
        "2000",
        "--events",
        "7000",
        "--peer-threads",
        "2",
    ])
    .env("SI_LEDGER_STREAMS_PEER_CP", classpath)
    .output()
    .unwrap();
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "{out}{err}");
    // Every participant paid contributions in the months generated.
    let equal = err
        .lines()
        .find_map(|l| l.strip_prefix("answers equal: "))
        .unwrap_or_else(|| panic!("no comparison reported: {err}"));
    let compared: usize = equal.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(compared, 2000, "{err}");
    // The signed register records were verified and applied, every one.
    assert!(
        err.contains("signed register records applied for all 2000 participants"),
        "{err}"
    );
    let line = out.trim();
    let fields: Vec<(&str, &str)> = line
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap_or_else(|| panic!("{line}")))
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "events",
            "partitions",
            "streams_eps",
            "ledger_eps",
            "ratio",
            "streams_rss_mib",
            "ledger_rss_mib",
            "streams_disk_bytes_per_event",
            "ledger_disk_bytes_per_event"
        ],
        "{line}"
    );
    assert_eq!(fields[0].1, "7000");
    assert_eq!(fields[1].1, "4");
    for (k, v) in &fields[2..] {
        let v: f64 = v.parse().unwrap_or_else(|_| panic!("{k}={v}"));
        assert!(v > 0.0, "{k}={v} in {line}");
    }
}
