//! `si-ledger bench streams` (issue 30): the projector side by side with
//! what a team would build instead, a Kafka Streams application
//! (`tests/peers/streams`: RocksDB state stores, exactly-once), on one
//! topic of Apache Kafka.
//!
//! The population's events are published once; then the peer and
//! `si-ledger project --until-end` each fold the whole topic from an empty
//! state, one after the other, in child processes (their own peak RSS).
//! Their answers are compared on what both compute before any figure is
//! printed: per IIN, the sum of every contribution line once per event id
//! (credited, penalty or returned to the payer: the peer knows no rules),
//! in all and per period; and every participant's signed register record
//! must be in its ledger account (the sums alone would not show the
//! signed third of the records refused). The line:
//!
//! `events=N partitions=P streams_eps=… ledger_eps=… ratio=… streams_rss_mib=…
//! ledger_rss_mib=… streams_disk_bytes_per_event=… ledger_disk_bytes_per_event=…`
//!
//! `ratio` is the ledger's rate over the peer's. The peer's time is its own
//! (from `KafkaStreams.start()` until it has processed N records, plus its
//! closing commit: JVM start-up and its dump are not counted); the
//! ledger's runs from spawn to exit (start-up counted, against it). The
//! peer's disk is its state directory; its changelog topics, a second copy
//! on the brokers, are not counted.

use crate::bench::PeakRss;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::Context;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct StreamsArgs {
    #[command(flatten)]
    pub on: crate::bench::OnBrokers,
    /// The peer's Java class path: `tests/peers/streams`'s jar and its
    /// dependencies (`scripts/bench-streams` builds it).
    #[arg(long, env = "SI_LEDGER_STREAMS_PEER_CP", value_name = "CLASSPATH")]
    pub peer_classpath: String,
    /// The `java` to run the peer with.
    #[arg(long, default_value = "java")]
    pub java: PathBuf,
    /// The peer's `num.stream.threads` (default: the machine's cores).
    #[arg(long)]
    pub peer_threads: Option<usize>,
    /// Working directory (default: a fresh temporary one, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// One side's figures.
struct Run {
    secs: f64,
    rss_mib: f64,
    disk_bytes: u64,
}

/// `si-ledger bench streams`: see the module docs.
pub fn streams(ctx: &Context, args: &StreamsArgs) -> Result<i32> {
    if args.on.population.events == 0 {
        bail!("--events 0: nothing to measure");
    }
    // The peer takes no client settings: both run on a plaintext broker.
    if args.on.kafka.kafka_config.is_some() || !args.on.kafka.kafka_setting.is_empty() {
        bail!(
            "bench streams runs both on a plaintext broker: the Kafka Streams peer takes no \
             --kafka-config or -X settings"
        );
    }
    let (ctx, auth) = crate::bench::signing(ctx)?;
    let ctx = &ctx;
    let (_tmp, dir, topic) =
        crate::bench::workdir(args.dir.as_deref(), auth.as_ref(), "bench-streams")?;
    let cluster = args.on.kafka.cluster(&args.on.brokers)?;
    let partitions = args.on.population.partitions;
    let events =
        crate::bench::publish_to_topic(ctx, auth.as_ref(), &cluster, &topic, &args.on.population)?;

    let peer_out = dir.join("streams-accounts.tsv");
    let streams = run_peer(args, &topic, events, &dir.join("streams-state"), &peer_out)?;
    let ledger_data = dir.join("ledger");
    let (ledger, totals) = run_ledger(args, &dir, auth.is_some(), &topic, events, &ledger_data)?;
    eprintln!("ledger: {totals}");

    // Neither is measured while wrong: the answers both compute, equal.
    let store = crate::common::open_store(&crate::common::store_dir(&ledger_data))?;
    let compared = compare(&store, &peer_out)?;
    eprintln!("answers equal: {compared} participants with contributions, line for line");
    // The sums above do not show whether the signed records were applied
    // (a contribution line is credited whether or not the register spoke):
    // every participant's signed register record must be in its account.
    let registered = registered_accounts(&store)?;
    let participants = args
        .on
        .population
        .participants()
        .min(args.on.population.events) as u64;
    if auth.is_some() && registered != participants {
        bail!(
            "the ledger applied the signed register record of {registered} of {participants} \
             participants: no figures"
        );
    }
    eprintln!("signed register records applied for all {registered} participants");
    let ledger = Run {
        disk_bytes: store.size_on_disk()?,
        ..ledger
    };
    drop(store);

    let n = events as f64;
    let (streams_eps, ledger_eps) = (n / streams.secs, n / ledger.secs);
    println!(
        "events={events} partitions={partitions} streams_eps={streams_eps:.0} \
         ledger_eps={ledger_eps:.0} ratio={:.3} streams_rss_mib={:.0} ledger_rss_mib={:.0} \
         streams_disk_bytes_per_event={:.0} ledger_disk_bytes_per_event={:.0}",
        ledger_eps / streams_eps,
        streams.rss_mib,
        ledger.rss_mib,
        streams.disk_bytes as f64 / n,
        ledger.disk_bytes as f64 / n,
    );
    Ok(0)
}

/// The Kafka Streams peer over the topic, from an empty state directory.
fn run_peer(args: &StreamsArgs, topic: &str, events: u64, state: &Path, out: &Path) -> Result<Run> {
    if state.exists() {
        std::fs::remove_dir_all(state)?;
    }
    let threads = args
        .peer_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut child = std::process::Command::new(&args.java);
    child
        .arg("-cp")
        .arg(&args.peer_classpath)
        .arg("kz.si_ledger.peers.StreamsPeer")
        .args([
            "--bootstrap",
            &args.on.brokers,
            "--topic",
            topic,
            "--events",
        ])
        .arg(events.to_string())
        .arg("--state-dir")
        .arg(state)
        .arg("--out")
        .arg(out)
        .args(["--threads", &threads.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let running = child.spawn().with_context(|| {
        format!(
            "running the Kafka Streams peer with {}",
            args.java.display()
        )
    })?;
    let peak = PeakRss::watch(running.id());
    let done = running
        .wait_with_output()
        .context("running the Kafka Streams peer")?;
    let rss_mib = peak.stop();
    if !done.status.success() {
        bail!(
            "the Kafka Streams peer failed ({}): no figures",
            done.status
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&done.stdout).context("the Kafka Streams peer's JSON line")?;
    eprintln!("streams peer: {report}");
    let processed = report["processed"].as_u64().unwrap_or(0);
    if processed != events {
        bail!("the Kafka Streams peer processed {processed} of {events} records: no figures");
    }
    let (Some(secs), Some(disk_bytes)) = (
        report["seconds"].as_f64(),
        report["state_dir_bytes"].as_u64(),
    ) else {
        bail!("the Kafka Streams peer's JSON line lacks seconds or state_dir_bytes: {report}");
    };
    Ok(Run {
        secs,
        rss_mib,
        disk_bytes,
    })
}

/// `si-ledger project --until-end` over the topic into an empty `data`:
/// its figures (disk measured later) and `--json` totals.
fn run_ledger(
    args: &StreamsArgs,
    dir: &Path,
    signed: bool,
    topic: &str,
    events: u64,
    data: &Path,
) -> Result<(Run, serde_json::Value)> {
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    let group = format!("bench-streams-ledger-{}", std::process::id());
    let mut child = crate::bench::projector_child(&args.on, dir, signed, topic, &group, data)?;
    child
        .args(["--json", "--until-end"])
        .stderr(std::process::Stdio::inherit());
    let (secs, rss_mib, totals, cpu) = crate::bench::timed_child(child, events)?;
    eprintln!("ledger: {events} events in {secs:.2} s, {cpu:.1} CPU s");
    Ok((
        Run {
            secs,
            rss_mib,
            disk_bytes: 0,
        },
        totals,
    ))
}

/// Accounts holding a record of the register of individuals.
fn registered_accounts(store: &ledger_store::LedgerStore<ledger_store::DiskKv>) -> Result<u64> {
    let mut n = 0;
    store.for_each_account(|_, a| n += u64::from(!a.register.is_empty()))?;
    Ok(n)
}

/// Tiyn (1/100 KZT) of an amount.
fn tiyn(m: ledger_core::money::Money) -> Result<i128> {
    let d = m.decimal();
    let scale = d.scale();
    if scale > 2 {
        bail!("an amount of {m} is not whole tiyn");
    }
    Ok(d.mantissa() * 10i128.pow(2 - scale))
}

/// The ledger's side of the comparison, in the peer's dump format: per
/// IIN with any contribution line, `IIN\ttotal\tPERIOD=sum,…` (tiyn; the
/// periods with a nonzero sum, ascending), sorted.
fn ledger_lines(store: &ledger_store::LedgerStore<ledger_store::DiskKv>) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut failed = None;
    store.for_each_account(|_, a| {
        let line = (|| -> Result<Option<String>> {
            let total =
                tiyn(a.contributions_total)? + tiyn(a.penalties_total)? + tiyn(a.returned_total)?;
            let mut periods = Vec::new();
            for (p, t) in &a.periods {
                let sum = tiyn(t.contributions)? + tiyn(t.penalties)? + tiyn(t.returned())?;
                if sum != 0 {
                    periods.push(format!("{p}={sum}"));
                }
            }
            Ok((total != 0 || !periods.is_empty())
                .then(|| format!("{}\t{total}\t{}", a.iin, periods.join(","))))
        })();
        match line {
            Ok(Some(l)) => lines.push(l),
            Ok(None) => {}
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    lines.sort_unstable();
    Ok(lines)
}

/// Compares the ledger's answers with the peer's dump file.
fn compare(store: &ledger_store::LedgerStore<ledger_store::DiskKv>, peer: &Path) -> Result<usize> {
    let file = std::fs::File::open(peer).with_context(|| format!("{}", peer.display()))?;
    compare_lines(ledger_lines(store)?, std::io::BufReader::new(file))
        .with_context(|| format!("comparing with {}", peer.display()))
}

/// Compares the ledger's lines (sorted, [`ledger_lines`]) with the peer's
/// dump (lines of nonzero sums only on both sides): the participants
/// compared, or the first difference, IINs masked.
fn compare_lines(ours: Vec<String>, peer: impl std::io::BufRead) -> Result<usize> {
    let mut theirs = Vec::new();
    for (n, line) in peer.lines().enumerate() {
        let line = line?;
        let mut f = line.split('\t');
        let (Some(iin), Some(total), Some(periods), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            bail!(
                "line {}: not IIN, total and periods separated by tabs",
                n + 1
            );
        };
        let periods: Vec<&str> = periods
            .split(',')
            .filter(|p| !p.is_empty() && !p.ends_with("=0"))
            .collect();
        if total != "0" || !periods.is_empty() {
            theirs.push(format!("{iin}\t{total}\t{}", periods.join(",")));
        }
    }
    theirs.sort_unstable();
    let mask = |l: &str| {
        let iin = l.split('\t').next().unwrap_or("");
        format!("{}{}", ledger_core::id::mask_id(iin), &l[iin.len()..])
    };
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if a != b {
            bail!(
                "the answers differ at participant {i}: ledger {:?}, Kafka Streams {:?}",
                mask(a),
                mask(b)
            );
        }
    }
    if ours.len() != theirs.len() {
        bail!(
            "the answers differ: {} participants with contributions in the ledger, {} in Kafka \
             Streams",
            ours.len(),
            theirs.len()
        );
    }
    Ok(ours.len())
}

#[cfg(test)]
mod tests {
    use super::compare_lines;

    fn ours() -> Vec<String> {
        vec![
            "900101300017\t1500\t2026-01=1000,2026-02=500".to_string(),
            "900101300028\t700\t2026-01=700".to_string(),
        ]
    }

    #[test]
    fn equal_answers_in_any_order_with_zero_sums_left_out() {
        let peer = "900101300028\t700\t2026-01=700,2026-02=0\n\
                    900101300039\t0\t\n\
                    900101300017\t1500\t2026-01=1000,2026-02=500\n";
        assert_eq!(compare_lines(ours(), peer.as_bytes()).unwrap(), 2);
    }

    #[test]
    fn a_different_sum_a_missing_participant_or_a_bad_line_is_an_error() {
        let off_by_one = "900101300017\t1501\t2026-01=1000,2026-02=501\n\
                          900101300028\t700\t2026-01=700\n";
        let e = compare_lines(ours(), off_by_one.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("differ at participant 0"), "{e}");
        // The IIN is masked in the message.
        assert!(!e.contains("900101300017"), "{e}");
        let missing = "900101300017\t1500\t2026-01=1000,2026-02=500\n";
        let e = compare_lines(ours(), missing.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 participants with contributions in the ledger, 1"),
            "{e}"
        );
        let e = compare_lines(ours(), "900101300017 1500\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
