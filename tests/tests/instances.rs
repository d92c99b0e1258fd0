//! Issue 31: several projectors serving as one ledger, on the three-node
//! Apache Kafka cluster the test command starts. Any instance answers for
//! any participant (forwarding to the partition's owner); a SIGKILLed
//! instance's partitions are taken over by instances that kept a warm
//! standby copy; during the takeover a read gets 503 with Retry-After, never
//! a wrong answer; a read forwarded to an instance that dies gets 503, not
//! a hang; the access logs record each read once; and the survivors'
//! stores (owned and standby partitions alike) equal one projector's
//! replay of the same log.

use ledger_e2e::{
    auth_file, chain_heads, create_on, digest, free_port, http_get, http_post, kafka_brokers,
    kafka_cluster, project_args, project_to_end, run, si_ledger, signed_demo, stderr, stdout,
    unique_topic, wait_serving, Answer, Reaped,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AUDITOR: &str = "auditor-token-0123456789abcdef0123456789abcdef";
const INSTANCE: &str = "instance-token-0123456789abcdef0123456789abcdef";
const PARTITIONS: u32 = 6;

fn accounts(data: &Path) -> String {
    let o = run(&["accounts", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "accounts: {}", stderr(&o));
    stdout(&o)
}

fn statement(port: u16, iin: &str, wait: Duration) -> Option<Answer> {
    http_post(
        port,
        "/v1/accounts/statement",
        AUDITOR,
        &format!(r#"{{"iin":"{iin}"}}"#),
        wait,
    )
}

/// One instance: its API and metrics ports, data directory, process.
struct Member {
    api: u16,
    metrics: u16,
    data: std::path::PathBuf,
    process: Reaped,
}

fn spawn_member(
    brokers: &str,
    topic: &str,
    group: &str,
    dir: &Path,
    name: &str,
    auth: &Path,
    token: &Path,
) -> Member {
    let (api, metrics) = (free_port(), free_port());
    let data = dir.join(name);
    let serve = format!("127.0.0.1:{api}");
    let advertise = format!("http://127.0.0.1:{api}");
    let metrics_addr = format!("127.0.0.1:{metrics}");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = si_ledger(&project_args(
        brokers,
        topic,
        group,
        data.to_str().unwrap(),
        &[
            "--serve",
            &serve,
            "--advertise",
            &advertise,
            "--instance-token-file",
            token.to_str().unwrap(),
            "--standby",
            "2",
            "--auth",
            auth.to_str().unwrap(),
            "--metrics",
            &metrics_addr,
        ],
    ))
    .env("SI_LEDGER_LOG", "info,librdkafka=warn")
    .stdout(Stdio::null())
    .stderr(log)
    .spawn()
    .unwrap();
    Member {
        api,
        metrics,
        data,
        process: Reaped(Some(child)),
    }
}

/// Per instance (metrics port): its assigned partitions, each with
/// (lag, ready).
fn partitions(metrics: u16) -> Option<BTreeMap<u32, (u64, bool)>> {
    let body = http_get(metrics, "/metrics")?;
    let value = |prefix: &str| -> BTreeMap<u32, u64> {
        body.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| {
                let (p, v) = rest.split_once("\"} ")?;
                Some((p.parse().ok()?, v.trim().parse().ok()?))
            })
            .collect()
    };
    let lag = value("si_ledger_partition_lag{partition=\"");
    let ready = value("si_ledger_partition_ready{partition=\"");
    Some(
        ready
            .iter()
            .map(|(p, r)| (*p, (lag.get(p).copied().unwrap_or(u64::MAX), *r == 1)))
            .collect(),
    )
}

/// Whether the instances at `metrics` hold every partition between them,
/// each ready (and, with `caught_up`, without lag).
fn all_served(metrics: &[u16], caught_up: bool) -> bool {
    let mut held = BTreeSet::new();
    for m in metrics {
        let Some(parts) = partitions(*m) else {
            return false;
        };
        for (p, (lag, ready)) in parts {
            if !ready || (caught_up && lag > 0) || !held.insert(p) {
                return false;
            }
        }
    }
    held.len() == PARTITIONS as usize
}

fn wait_for(what: &str, limit: Duration, dir: &Path, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        if Instant::now() > deadline {
            let logs: Vec<String> = ["a", "b", "c"]
                .iter()
                .map(|n| {
                    let log =
                        std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(12).collect();
                    format!(
                        "{n}.log ends:\n{}",
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    )
                })
                .collect();
            panic!("timed out waiting for {what}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the reader saw of one read.
#[derive(Debug, Clone)]
struct Read {
    at: Instant,
    port: u16,
    /// `None`: no answer (the address of a killed instance).
    status: Option<u16>,
    retry_after: bool,
    wrong: bool,
}

/// Reads random participants through every address in `ports` until
/// `stop`, comparing each 200 with `want`.
fn reader(
    ports: Vec<u16>,
    want: Arc<BTreeMap<String, String>>,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Read>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let iins: Vec<&String> = want.keys().collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while !stop.load(Ordering::Relaxed) {
            // xorshift64: no crate for a test's dice.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let iin = iins[(x % iins.len() as u64) as usize];
            let port = ports[((x >> 32) % ports.len() as u64) as usize];
            let at = Instant::now();
            let answer = statement(port, iin, Duration::from_secs(30));
            let read = match answer {
                None => Read {
                    at,
                    port,
                    status: None,
                    retry_after: false,
                    wrong: false,
                },
                Some(a) => Read {
                    at,
                    port,
                    status: Some(a.status),
                    retry_after: a.header("retry-after").is_some(),
                    wrong: a.status == 200 && a.body != want[iin.as_str()],
                },
            };
            seen.lock().unwrap().push(read);
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

fn access_records(data: &Path) -> usize {
    std::fs::read_to_string(data.join("access-log.jsonl"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn three_projectors_answer_as_one_ledger_through_a_failover() {
    let (cluster, _) = kafka_cluster();
    let dir = tempfile::tempdir().unwrap();
    let auth = auth_file(
        dir.path(),
        &[
            ("audit-office", "auditor", AUDITOR),
            ("ledger-instances", "instance", INSTANCE),
        ],
    );
    let token = dir.path().join("instance.token");
    std::fs::write(&token, INSTANCE).unwrap();
    let signed = signed_demo(dir.path(), 400, 12);
    let text = std::fs::read_to_string(&signed).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines.len() * 4 / 5;
    let (first, rest) = (
        dir.path().join("first.jsonl"),
        dir.path().join("rest.jsonl"),
    );
    std::fs::write(&first, lines[..cut].join("\n") + "\n").unwrap();
    std::fs::write(&rest, lines[cut..].join("\n") + "\n").unwrap();

    // The reference: the whole file on one broker, one projector.
    let reference = unique_topic("one-ledger-reference");
    create_on(&kafka_brokers(), &reference, PARTITIONS, &[]);
    let o = run(&[
        "publish",
        "--brokers",
        &kafka_brokers(),
        "--topic",
        &reference,
        signed.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "publish (the demo's bad lines): {}",
        stderr(&o)
    );
    let reference_data = dir.path().join("reference");
    let o = project_to_end(&kafka_brokers(), &reference, &reference_data, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Each participant's statement as one server over that store gives it.
    let reference_accounts = accounts(&reference_data);
    let want: BTreeMap<String, String> = {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut server = Reaped(Some(
            si_ledger(&[
                "serve",
                "--data",
                reference_data.to_str().unwrap(),
                "--listen",
                &listen,
                "--auth",
                auth.to_str().unwrap(),
                "--access-log",
                dir.path().join("reference-access.jsonl").to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        ));
        wait_serving(port, &mut server);
        reference_accounts
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let iin = v["iin"].as_str().unwrap().to_string();
                let a = statement(port, &iin, Duration::from_secs(10)).unwrap();
                assert_eq!(a.status, 200, "{}", a.body);
                (iin, a.body)
            })
            .collect()
    };
    assert!(want.len() > 300, "{} participants", want.len());
    let want = Arc::new(want);

    // Three instances on the cluster, each keeping a standby copy of the
    // other two's partitions.
    let topic = unique_topic("one-ledger");
    create_on(&cluster, &topic, PARTITIONS, &["--replication-factor", "3"]);
    let publish = |file: &Path| {
        let o = run(&[
            "publish",
            "--brokers",
            &cluster,
            "--topic",
            &topic,
            file.to_str().unwrap(),
        ]);
        assert!(
            matches!(o.status.code(), Some(0 | 2)),
            "publish: {}",
            stderr(&o)
        );
    };
    publish(&first);
    let group = unique_topic("one-ledger-group");
    let mut members: Vec<Member> = ["a", "b", "c"]
        .iter()
        .map(|n| spawn_member(&cluster, &topic, &group, dir.path(), n, &auth, &token))
        .collect();
    let metrics: Vec<u16> = members.iter().map(|m| m.metrics).collect();
    wait_for(
        "three instances to serve every partition",
        Duration::from_secs(120),
        dir.path(),
        || all_served(&metrics, false),
    );
    // The rest arrives while they serve: owners and standbys follow it.
    publish(&rest);
    wait_for(
        "every partition caught up",
        Duration::from_secs(120),
        dir.path(),
        || all_served(&metrics, true),
    );

    // Any instance answers for any participant, saying who read it where.
    for m in &members {
        for iin in want.keys().take(24) {
            let a = statement(m.api, iin, Duration::from_secs(10)).unwrap();
            assert_eq!(a.status, 200, "through {}: {}", m.api, a.body);
            assert_eq!(a.body, want[iin.as_str()], "through {}", m.api);
            let p: u32 = a.header("si-ledger-partition").unwrap().parse().unwrap();
            assert_eq!(p, ledger_core::partition_for(iin.as_bytes(), PARTITIONS));
            let by = a.header("si-ledger-instance").unwrap();
            let owner = members
                .iter()
                .find(|o| partitions(o.metrics).unwrap().contains_key(&p))
                .unwrap();
            assert_eq!(by, format!("http://127.0.0.1:{}", owner.api));
            // What the console reads besides: the history (equal through
            // any instance to the owner's own) and the chain check.
            let body = format!(r#"{{"iin":"{iin}"}}"#);
            for route in ["/v1/accounts/history", "/v1/accounts/verify"] {
                let post =
                    |port| http_post(port, route, AUDITOR, &body, Duration::from_secs(10)).unwrap();
                let (through, direct) = (post(m.api), post(owner.api));
                assert_eq!(
                    through.status, 200,
                    "{route} through {}: {}",
                    m.api, through.body
                );
                assert_eq!(through.body, direct.body, "{route} through {}", m.api);
            }
        }
    }
    // Each read recorded once, where it was read: per participant and
    // instance, one statement, and two history and two verify reads.
    let before: usize = members.iter().map(|m| access_records(&m.data)).sum();
    assert_eq!(
        before,
        3 * 24 * 5,
        "each read recorded once, where it was read"
    );
    // The forwarded ones name the instance that forwarded them.
    let via: usize = members
        .iter()
        .map(|m| {
            std::fs::read_to_string(m.data.join("access-log.jsonl"))
                .unwrap()
                .lines()
                .filter(|l| l.contains(r#""via":"ledger-instances at http://127.0.0.1:"#))
                .count()
        })
        .sum();
    assert!(
        via > 0 && via < before,
        "{via} of {before} records forwarded"
    );

    // A reader through all three addresses; a SIGKILL of one instance.
    let (stop, seen) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let ports: Vec<u16> = members.iter().map(|m| m.api).collect();
    let reading = reader(
        ports,
        Arc::clone(&want),
        Arc::clone(&stop),
        Arc::clone(&seen),
    );
    std::thread::sleep(Duration::from_secs(3));
    let killed = Instant::now();
    members[0].process.child().kill().unwrap();
    let _ = members[0].process.child().wait();
    let survivors: Vec<u16> = metrics[1..].to_vec();
    wait_for(
        "the survivors to serve every partition",
        Duration::from_secs(120),
        dir.path(),
        || all_served(&survivors, false),
    );
    let owned_after = killed.elapsed();
    // Every survivor routes every partition: one participant of each,
    // through each survivor (the owners' announcements take a moment to
    // reach the others).
    let probes: Vec<&String> = (0..PARTITIONS)
        .filter_map(|p| {
            want.keys()
                .find(|iin| ledger_core::partition_for(iin.as_bytes(), PARTITIONS) == p)
        })
        .collect();
    assert_eq!(probes.len(), PARTITIONS as usize);
    let mut probed = 0;
    wait_for(
        "every survivor to route every partition",
        Duration::from_secs(60),
        dir.path(),
        || {
            members[1..].iter().all(|m| {
                probes.iter().all(|iin| {
                    probed += 1;
                    statement(m.api, iin, Duration::from_secs(10)).is_some_and(|a| a.status == 200)
                })
            })
        },
    );
    let routed = Instant::now();
    // Reads go on for a while with every partition served.
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    reading.join().unwrap();
    let reads = seen.lock().unwrap().clone();
    let dead = members[0].api;
    let wrong: Vec<&Read> = reads.iter().filter(|r| r.wrong).collect();
    assert!(wrong.is_empty(), "wrong answers: {wrong:?}");
    // The killed instance's address answers nothing from (about) the kill
    // on: a read in flight then is cut off too. Every other answer is a
    // 200 or a 503.
    let bad: Vec<&Read> = reads
        .iter()
        .filter(|r| !(r.port == dead && r.status.is_none()))
        .filter(|r| !matches!(r.status, Some(200) | Some(503)))
        .collect();
    assert!(bad.is_empty(), "reads failing otherwise than 503: {bad:?}");
    let unavailable: Vec<&Read> = reads.iter().filter(|r| r.status == Some(503)).collect();
    assert!(
        unavailable.iter().all(|r| r.retry_after),
        "a 503 without Retry-After"
    );
    let last_failed = reads
        .iter()
        .filter(|r| r.port != dead && r.status != Some(200))
        .map(|r| r.at)
        .max();
    let reads_ok_after =
        last_failed.map_or(Duration::ZERO, |t| t.saturating_duration_since(killed));
    let after_routed: Vec<&Read> = reads
        .iter()
        .filter(|r| r.port != dead && r.at > routed)
        .collect();
    assert!(
        after_routed.len() > 20,
        "{} reads after the takeover",
        after_routed.len()
    );
    assert!(
        after_routed.iter().all(|r| r.status == Some(200)),
        "a read failed with every partition served and routed"
    );
    let answered = reads.iter().filter(|r| r.status.is_some()).count();
    println!(
        "failover (3 instances, {PARTITIONS} partitions, standby 2, session timeout 10 s): every \
         partition owned and caught up again {:.1} s after the SIGKILL; every read succeeds again \
         after {:.1} s; {} reads: {} answered 503 with Retry-After, {} to the killed address \
         unanswered, 0 wrong",
        owned_after.as_secs_f64(),
        reads_ok_after.as_secs_f64(),
        reads.len(),
        unavailable.len(),
        reads.len() - answered,
    );
    // Each answered read is recorded once where it was answered (plus at
    // most the one in flight when the instance died, if its answer was
    // lost, recorded by the forwarder too).
    let recorded: usize = members
        .iter()
        .map(|m| access_records(&m.data))
        .sum::<usize>()
        - before;
    // The probes are reads too.
    let answered = answered + probed;
    assert!(
        (answered..=answered + 1).contains(&recorded),
        "{recorded} access records for {answered} answered reads"
    );
    // The takeover resumed from the standby copies, not from 0.
    for name in ["b", "c"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
        let resumed = log
            .lines()
            .rfind(|l| l.contains("assigned; resuming at the store's offsets"))
            .unwrap();
        assert!(
            !resumed.contains(": 0,") && !resumed.contains(": 0}"),
            "{name} rebuilt a partition from 0: {resumed}"
        );
    }

    // A read forwarded to an instance that dies while it waits: 503.
    let (b, c) = (&members[1], &members[2]);
    let on_b: &String = want
        .keys()
        .find(|iin| {
            let p = ledger_core::partition_for(iin.as_bytes(), PARTITIONS);
            partitions(b.metrics).unwrap().contains_key(&p)
        })
        .unwrap();
    let b_pid = b.process.0.as_ref().unwrap().id().to_string();
    let signal = |sig: &str| {
        let s = std::process::Command::new("kill")
            .args([sig, &b_pid])
            .status()
            .unwrap();
        assert!(s.success());
    };
    signal("-STOP");
    let (c_port, iin) = (c.api, on_b.clone());
    let waiting = std::thread::spawn(move || statement(c_port, &iin, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(1));
    signal("-KILL");
    let a = waiting.join().unwrap().expect("an answer, not a hang");
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.header("retry-after").is_some());

    // c takes every partition; then d joins with an empty store and
    // rebuilds its share from 0 while a reader goes on through both: a
    // partition still replaying is never read (no 404 for a participant
    // the ledger holds), only a 200 or a 503.
    let last = [c.metrics];
    wait_for(
        "the last instance to serve every partition",
        Duration::from_secs(120),
        dir.path(),
        || all_served(&last, true),
    );
    let (stop, seen) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let mut d = spawn_member(&cluster, &topic, &group, dir.path(), "d", &auth, &token);
    // Its API answers before its first assignment (503s, or forwards).
    wait_serving(d.api, &mut d.process);
    let reading = reader(
        vec![c.api, d.api],
        Arc::clone(&want),
        Arc::clone(&stop),
        Arc::clone(&seen),
    );
    let both = [c.metrics, d.metrics];
    wait_for(
        "c and the new d to serve every partition between them",
        Duration::from_secs(120),
        dir.path(),
        || all_served(&both, true) && partitions(d.metrics).is_some_and(|p| !p.is_empty()),
    );
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    reading.join().unwrap();
    let reads = seen.lock().unwrap().clone();
    let wrong: Vec<&Read> = reads
        .iter()
        .filter(|r| r.wrong || !matches!(r.status, Some(200) | Some(503)))
        .collect();
    assert!(wrong.is_empty(), "while d rebuilt: {wrong:?}");
    let d_log = std::fs::read_to_string(dir.path().join("d.log")).unwrap();
    assert!(
        d_log
            .lines()
            .any(|l| l.contains("assigned; resuming") && (l.contains(": 0,") || l.contains(": 0}"))),
        "d rebuilt from 0"
    );
    println!(
        "a new instance rebuilding its share: {} reads through both, {} answered 503, 0 wrong",
        reads.len(),
        reads.iter().filter(|r| r.status == Some(503)).count()
    );
    // Both stop; each store, owned and standby partitions alike, equals
    // the single replay: accounts, chain heads, digest.
    let mut d = d;
    wait_for(
        "d's standby copy of c's partitions",
        Duration::from_secs(60),
        dir.path(),
        || standby_lag(d.metrics).is_some_and(|l| !l.is_empty() && l.iter().all(|lag| *lag == 0)),
    );
    wait_for(
        "c's standby copy of d's partitions",
        Duration::from_secs(60),
        dir.path(),
        || standby_lag(c.metrics).is_some_and(|l| !l.is_empty() && l.iter().all(|lag| *lag == 0)),
    );
    for m in [&mut members[2], &mut d] {
        ledger_e2e::sigterm(m.process.child());
        let out = m.process.child().wait().unwrap();
        assert!(out.success(), "{} exited {out:?}", m.data.display());
    }
    for data in [dir.path().join("c"), dir.path().join("d")] {
        assert_eq!(accounts(&data), reference_accounts, "{}", data.display());
        assert_eq!(
            chain_heads(&data),
            chain_heads(&reference_data),
            "{}",
            data.display()
        );
        assert_eq!(digest(&data), digest(&reference_data), "{}", data.display());
    }
}

/// An instance's standby lags, per partition it follows.
fn standby_lag(metrics: u16) -> Option<Vec<u64>> {
    let body = http_get(metrics, "/metrics")?;
    Some(
        body.lines()
            .filter_map(|l| l.strip_prefix("si_ledger_standby_lag{partition=\""))
            .filter_map(|rest| rest.split_once("\"} ")?.1.trim().parse().ok())
            .collect(),
    )
}

/// `bench takeover` at a small scale, through the test command, so that
/// the national-scale figure's harness keeps working: a line with every
/// field, the standby taking over the lost half, R rebuilding the other
/// half from 0 (its chain heads checked against the standby's by the
/// command itself).
#[test]
fn bench_takeover_prints_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = ledger_e2e::finishes(
        &[
            "bench",
            "takeover",
            "--brokers",
            &kafka_brokers(),
            "--participants",
            "3000",
            "--events",
            "9000",
            "--partitions",
            "4",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        Duration::from_secs(300),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    let fields: BTreeMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect();
    for key in [
        "participants",
        "events",
        "partitions",
        "takeover_standby_s",
        "takeover_standby_from_kill_s",
        "standby_partitions",
        "rebuild_s",
        "rebuild_partitions",
        "rebuild_records",
    ] {
        assert!(fields.contains_key(key), "{key} missing: {line}");
    }
    assert_eq!(fields["events"], "9000", "{line}");
    assert_eq!(fields["standby_partitions"], "2", "{line}");
    let rebuilt: u64 = fields["rebuild_records"].parse().unwrap();
    assert!(rebuilt > 0, "{line}");
}
