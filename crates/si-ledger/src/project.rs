//! `si-ledger project`: the log into per-participant accounts, from the
//! embedded log or a Kafka topic (with the dead-letter topic and
//! Prometheus metrics), optionally serving the API from the same process.

use crate::common::{interrupted, print_totals, stop_on_signals, store_dir};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::Context;
use ledger_kafka::{Assignment, KafkaOutputs, KafkaSource, SourceOptions};
use ledger_projector::{Options, Totals, Until};
use ledger_store::{DiskKv, LedgerStore};
use ledger_stream::EmbeddedLog;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct ProjectArgs {
    /// The embedded log directory (or use --brokers).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "brokers",
        conflicts_with = "brokers"
    )]
    pub log: Option<PathBuf>,
    /// Kafka bootstrap brokers, `host:port[,host:port…]`, instead of --log.
    #[arg(long)]
    pub brokers: Option<String>,
    /// The ledger topic (with --brokers).
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// The consumer group (with --brokers).
    #[arg(long, requires = "brokers", default_value = "si-ledger-projector")]
    pub group: Option<String>,
    /// The projector's data directory (its store lives in DIR/store).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Embedded log: keep following it instead of stopping at its end.
    #[arg(long, conflicts_with = "brokers")]
    pub follow: bool,
    /// Kafka: stop once every assigned partition reaches the high watermark
    /// seen when it was assigned (otherwise follow until SIGTERM). Behind a
    /// transaction still open it waits, saying which partition, offset and
    /// since when, until the transaction commits or aborts.
    #[arg(long, requires = "brokers")]
    pub until_end: bool,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR", requires = "brokers")]
    pub metrics: Option<String>,
    /// Records per atomic store write.
    #[arg(long, default_value_t = ledger_projector::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Print the summary counts as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also serve the HTTP API from this process on ADDR (needs --auth):
    /// its reads see the projector's live data, and on Kafka it answers
    /// only for the partitions this instance is assigned.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,
    /// Seeds each partition this store has no state for from a snapshot
    /// (a file, or a directory of `*.snapshot` files: the one of this log
    /// reaching furthest into it), so that only the log's tail is
    /// replayed. Its signature is checked against the trust file and what
    /// it restores is recomputed from its history first.
    #[arg(long, value_name = "DIR_OR_FILE")]
    pub restore_from: Option<PathBuf>,
    /// `bench replay`'s baseline only: keeps no partition tree and signs
    /// no checkpoint, into a new store, which then proves nothing and is
    /// never to be projected into again.
    #[arg(long, hide = true, conflicts_with_all = ["brokers", "follow", "serve", "restore_from"])]
    pub bench_without_trees: bool,
    #[command(flatten)]
    pub api: crate::api::ApiArgs,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
    #[command(flatten)]
    pub instance: crate::instances::InstanceArgs,
}

/// Opens the projector's store, seeded from `--restore-from` if given,
/// and checks, before anything is read, that the log of `partitions`
/// partitions that `hash_at` reads is the one the store (restored or not)
/// was projected from.
fn projector_store(
    ctx: &Context,
    args: &ProjectArgs,
    partitions: u32,
    hash_at: &mut crate::logid::HashAt,
) -> Result<LedgerStore<DiskKv>> {
    let store = crate::common::open_store(&store_dir(&args.data))?;
    if let Some(from) = &args.restore_from {
        crate::snapshot::restore_missing(ctx, &store, from, hash_at)?;
    }
    crate::logid::check(&store, partitions, hash_at)?;
    Ok(store)
}

pub fn project(ctx: &Context, args: &ProjectArgs) -> Result<i32> {
    if let Some(brokers) = &args.brokers {
        return project_kafka(ctx, args, &args.kafka.cluster(brokers)?);
    }
    let Some(log_dir) = &args.log else {
        bail!("give --log DIR or --brokers");
    };
    let log =
        EmbeddedLog::open(log_dir).with_context(|| format!("opening log {}", log_dir.display()))?;
    let store = projector_store(
        ctx,
        args,
        log.partitions(),
        &mut crate::logid::embedded(&log),
    )?;
    let signer = crate::trust::for_projector(&store)?;
    let notary = crate::trust::notary(crate::trust::required()?, signer.as_ref(), true)?;
    if let Some(n) = &notary {
        // Trees grown while nothing was signed are signed now.
        store.sign_pending(n)?;
    }
    if args.bench_without_trees
        && (0..log.partitions()).any(|p| store.offset(p).map_or(true, |o| o.is_some()))
    {
        bail!("--bench-without-trees projects into a new store only");
    }
    let _server = serve(ctx, &store, args, Arc::new(|| None), None)?;
    let requests = crate::snapshot::Requests::new(&args.data, signer.clone())?;
    let totals = project_with_progress(
        ctx,
        &log,
        &store,
        args.batch_size,
        args.follow,
        Keys {
            signer,
            notary: notary.filter(|_| !args.bench_without_trees),
            trees: !args.bench_without_trees,
        },
        |s| requests.serve(s),
    )?;
    ended(&totals, args.json, "project")
}

/// With `--serve`, the API over the projector's live store, answering for
/// the partitions `held` names (and, as one of several `instances`,
/// forwarding reads of the others); watched so that its end ends the run.
fn serve(
    ctx: &Context,
    store: &LedgerStore<DiskKv>,
    args: &ProjectArgs,
    held: ledger_api::Held,
    instances: Option<ledger_api::Instances>,
) -> Result<Option<ledger_api::Server>> {
    let Some(addr) = args.serve else {
        return Ok(None);
    };
    let server = crate::api::start(
        ctx,
        store.clone(),
        &args.data,
        addr,
        &args.api,
        held,
        instances,
    )?;
    crate::api::watch(&server)?;
    Ok(Some(server))
}

/// How a projection run ends, on either path: its totals printed; exit 1
/// if the API server it served ended first, the stopping signal's code if
/// it was to reach the end and did not, else 0.
fn ended(totals: &Totals, json: bool, what: &str) -> Result<i32> {
    print_totals(totals, json)?;
    if crate::api::server_ended() {
        return Ok(1);
    }
    Ok(interrupted(
        totals,
        what,
        "nothing projected past it; run it again to go on",
    )
    .unwrap_or(0))
}

/// The projector's keys: its own key (merge transfers), and the notary
/// that signs its checkpoints with it.
pub struct Keys {
    pub signer: Option<Arc<ledger_core::authority::Signer>>,
    pub notary: Option<Arc<ledger_store::tlog::Notary>>,
    /// Whether the partitions' trees are kept (`false`: only for
    /// `bench replay`'s baseline).
    pub trees: bool,
}

pub fn project_with_progress(
    ctx: &Context,
    log: &EmbeddedLog,
    store: &LedgerStore<DiskKv>,
    batch_size: usize,
    follow: bool,
    keys: Keys,
    mut at_boundary: impl FnMut(&LedgerStore<DiskKv>),
) -> Result<Totals> {
    let mut source = log.source()?;
    let total: u64 = log.end_offsets()?.iter().sum();
    let already: u64 = (0..log.partitions())
        .map(|p| store.offset(p).map(|o| o.unwrap_or(0)))
        .sum::<Result<u64, _>>()?;
    let bar = ProgressBar::new(total.saturating_sub(already));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} projecting [{bar:40}] {pos}/{len} records ({per_sec}, eta {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let opts = Options {
        batch_size: batch_size.max(1),
        until: if follow {
            Until::Stopped
        } else {
            Until::EndAtStart
        },
        signer: keys.signer,
        notary: keys.notary,
        trees: keys.trees,
        ..Options::default()
    };
    // SIGTERM or SIGINT: finish the batch, flush, stop.
    let stop = stop_on_signals()?;
    let mut sink = ledger_projector::EmbeddedOutputs(log);
    let totals =
        ledger_projector::run_with_sink(ctx, &mut source, store, &mut sink, &opts, &stop, |t| {
            bar.set_position(t.records + t.redelivered);
            at_boundary(store);
        })?;
    bar.finish_and_clear();
    Ok(totals)
}

/// `project --brokers`: a member of the consumer group on the topic.
fn project_kafka(
    ctx: &Context,
    args: &ProjectArgs,
    cluster: &ledger_kafka::Cluster,
) -> Result<i32> {
    let Some(topic) = args.topic.as_deref() else {
        bail!("--brokers needs --topic");
    };
    let group = args.group.as_deref().unwrap_or("si-ledger-projector");
    let partitions = ledger_kafka::Watermarks::new(cluster, topic)?.partitions()?;
    let store = projector_store(
        ctx,
        args,
        partitions,
        &mut crate::logid::kafka(cluster, topic, group),
    )?;
    // The API may answer before the first batch: it reads the partition
    // count from the store's meta.
    store.check_or_init_meta(partitions)?;
    if args.instance.standby > 0
        && ledger_store::engine_of(&store_dir(&args.data))? == Some(ledger_store::Engine::Sled)
    {
        bail!(
            "--standby needs a fjall store: a standby writes while snapshots are read, and sled \
             reads at one instant only when nothing writes meanwhile (replay into a fjall store)"
        );
    }
    let signer = crate::trust::for_projector(&store)?;
    let notary = crate::trust::notary(crate::trust::required()?, signer.as_ref(), true)?;
    if let Some(n) = &notary {
        // Trees grown while nothing was signed are signed now.
        store.sign_pending(n)?;
    }
    let run_opts = Options {
        batch_size: args.batch_size.max(1),
        until: if args.until_end {
            Until::EndAtStart
        } else {
            Until::Stopped
        },
        signer,
        notary,
        ..Options::default()
    };
    let runner = crate::instances::runner(ctx, cluster, topic, group, &store, &run_opts);
    let mut instance =
        crate::instances::Instance::join(cluster, topic, group, &args.instance, runner)?;
    let release = instance.as_ref().map(crate::instances::Instance::releaser);
    let resume_store = store.clone();
    let resume: ledger_kafka::ResumeAt = Arc::new(move |p| {
        // A standby following the partition stops first, its batch written.
        if let Some(release) = &release {
            release(p);
        }
        // A partition this store has no state for is rebuilt from 0. Should
        // the store fail to answer, starting at 0 only redelivers: the
        // projector skips what its store already holds.
        match resume_store.offset(p) {
            Ok(at) => at.unwrap_or(0),
            Err(e) => {
                tracing::error!(partition = p, error = %e, "reading the stored offset");
                0
            }
        }
    });
    let mut source = KafkaSource::new(cluster, topic, group, resume, &SourceOptions::default())
        .with_context(|| format!("joining group {group} on {topic}"))?;
    let mut sink = KafkaOutputs::new(cluster, topic)?;
    let stop = stop_on_signals()?;
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    if let Some(addr) = &args.metrics {
        serve_metrics(
            addr,
            Arc::clone(&metrics),
            store.clone(),
            (source.assignment(), source.readiness()),
            instance
                .as_ref()
                .map(crate::instances::Instance::standby_view),
            ledger_kafka::Watermarks::new(cluster, topic)?,
        )?;
    }
    if let Some(i) = &mut instance {
        i.start(&source)?;
    }
    // The API reads only the assigned partitions this member has caught
    // up on: a new owner still replaying would answer a wrong 404. A
    // poisoned lock holds nothing rather than everything.
    let (assigned, ready) = (source.assignment(), source.readiness());
    let held: ledger_api::Held = Arc::new(move || {
        let assigned: Vec<u32> = assigned
            .lock()
            .map(|a| a.keys().copied().collect())
            .unwrap_or_default();
        Some(
            ready
                .lock()
                .map(|r| assigned.into_iter().filter(|p| r.contains_key(p)).collect())
                .unwrap_or_default(),
        )
    });
    let _server = serve(ctx, &store, args, held, instance.as_ref().map(|i| i.api()))?;
    let requests = crate::snapshot::Requests::new(&args.data, run_opts.signer.clone())?;
    let totals = ledger_projector::run_with_sink(
        ctx,
        &mut source,
        &store,
        &mut sink,
        &run_opts,
        &stop,
        |t| {
            if let Ok(mut m) = metrics.lock() {
                m.update(t);
            }
            requests.serve(&store);
        },
    )?;
    for e in source.take_errors() {
        eprintln!("consumer group: {e}");
    }
    if let Some(i) = instance {
        i.leave();
    }
    // Dropping the source closes the consumer: it leaves the group now
    // rather than when its session times out.
    drop(source);
    ended(&totals, args.json, "project --until-end")
}

/// What `/metrics` shows besides per-partition offsets and lag.
#[derive(Default)]
struct Metrics {
    totals: Totals,
    /// Events per second over the last few seconds.
    rate: f64,
    window: Option<(Instant, u64)>,
}

impl Metrics {
    fn update(&mut self, t: &Totals) {
        let now = Instant::now();
        match self.window {
            Some((at, n)) if now.duration_since(at) >= Duration::from_secs(2) => {
                self.rate = (t.records - n) as f64 / now.duration_since(at).as_secs_f64();
                self.window = Some((now, t.records));
            }
            Some(_) => {}
            None => self.window = Some((now, t.records)),
        }
        self.totals = t.clone();
    }
}

/// Prometheus text format, version 0.0.4.
fn render(
    m: &Metrics,
    offsets: &BTreeMap<u32, u64>,
    highs: &BTreeMap<u32, u64>,
    ready: &BTreeMap<u32, ledger_kafka::CaughtUp>,
    standby: &BTreeMap<u32, (u64, u64)>,
) -> String {
    use std::fmt::Write as _;
    let t = &m.totals;
    let mut out = String::new();
    let counters = [
        ("si_ledger_records_total", "Records projected.", t.records),
        (
            "si_ledger_applied_total",
            "Records applied to an account.",
            t.applied,
        ),
        (
            "si_ledger_returned_total",
            "Lines returned to the payer.",
            t.returned,
        ),
        (
            "si_ledger_refused_total",
            "Records refused with a reason.",
            t.refused,
        ),
        (
            "si_ledger_duplicates_total",
            "Redelivered or republished records ignored.",
            t.duplicates,
        ),
        (
            "si_ledger_dead_letters_total",
            "Records sent to the dead-letter topic.",
            t.dead_letters,
        ),
        (
            "si_ledger_late_recordings_total",
            "Contributions recorded after the one-working-day deadline.",
            t.late,
        ),
        (
            "si_ledger_batches_total",
            "Batches written and flushed.",
            t.batches,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP si_ledger_events_per_second Records projected per second, recently.\n\
         # TYPE si_ledger_events_per_second gauge\nsi_ledger_events_per_second {:.1}",
        m.rate
    );
    let _ = writeln!(
        out,
        "# HELP si_ledger_partition_next_offset Next offset to apply, per assigned partition.\n\
         # TYPE si_ledger_partition_next_offset gauge"
    );
    for (p, o) in offsets {
        let _ = writeln!(
            out,
            "si_ledger_partition_next_offset{{partition=\"{p}\"}} {o}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP si_ledger_partition_lag Records in the topic not yet applied, per assigned partition.\n\
         # TYPE si_ledger_partition_lag gauge"
    );
    for (p, high) in highs {
        let next = offsets.get(p).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "si_ledger_partition_lag{{partition=\"{p}\"}} {}",
            high.saturating_sub(next)
        );
    }
    let _ = writeln!(
        out,
        "# HELP si_ledger_partition_ready Whether this instance has caught up on an assigned partition and answers for it (1) or is still replaying it (0).\n\
         # TYPE si_ledger_partition_ready gauge"
    );
    for p in offsets.keys() {
        let _ = writeln!(
            out,
            "si_ledger_partition_ready{{partition=\"{p}\"}} {}",
            u8::from(ready.contains_key(p))
        );
    }
    let _ = writeln!(
        out,
        "# HELP si_ledger_partition_catch_up_seconds From an assigned partition's assignment to this instance until it had caught up on it.\n\
         # TYPE si_ledger_partition_catch_up_seconds gauge"
    );
    for (p, c) in ready.iter().filter(|(p, _)| offsets.contains_key(p)) {
        let _ = writeln!(
            out,
            "si_ledger_partition_catch_up_seconds{{partition=\"{p}\"}} {:.3}",
            (c.ready_ms - c.assigned_ms) as f64 / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "# HELP si_ledger_partition_ready_time_seconds When this instance had caught up on an assigned partition (Unix time).\n\
         # TYPE si_ledger_partition_ready_time_seconds gauge"
    );
    for (p, c) in ready.iter().filter(|(p, _)| offsets.contains_key(p)) {
        let _ = writeln!(
            out,
            "si_ledger_partition_ready_time_seconds{{partition=\"{p}\"}} {:.3}",
            c.ready_ms as f64 / 1000.0
        );
    }
    if !standby.is_empty() {
        let _ = writeln!(
            out,
            "# HELP si_ledger_standby_lag Records in the topic not yet in this instance's standby copy of a partition another instance owns.\n\
             # TYPE si_ledger_standby_lag gauge"
        );
    }
    for (p, (next, high)) in standby {
        let _ = writeln!(
            out,
            "si_ledger_standby_lag{{partition=\"{p}\"}} {}",
            high.saturating_sub(*next)
        );
    }
    out
}

fn serve_metrics(
    addr: &str,
    metrics: Arc<Mutex<Metrics>>,
    store: LedgerStore<DiskKv>,
    (assignment, readiness): (Assignment, ledger_kafka::Readiness),
    standby: Option<crate::instances::StandbyView>,
    watermarks: ledger_kafka::Watermarks,
) -> Result<()> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("serving metrics on {addr}: {e}"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                if request.url() != "/metrics" {
                    let _ = request.respond(tiny_http::Response::empty(404));
                    continue;
                }
                let assigned: Vec<u32> = assignment
                    .lock()
                    .map(|a| a.keys().copied().collect())
                    .unwrap_or_default();
                let mut offsets = BTreeMap::new();
                let mut highs = BTreeMap::new();
                for p in assigned {
                    offsets.insert(p, store.offset(p).ok().flatten().unwrap_or(0));
                    if let Ok(h) = watermarks.high_within(p, Duration::from_secs(3)) {
                        highs.insert(p, h);
                    }
                }
                let ready = readiness.lock().map(|r| r.clone()).unwrap_or_default();
                let mut followed = BTreeMap::new();
                for p in standby.as_ref().map(|s| s()).unwrap_or_default() {
                    if let Ok(h) = watermarks.high_within(p, Duration::from_secs(3)) {
                        let next = store.offset(p).ok().flatten().unwrap_or(0);
                        followed.insert(p, (next, h));
                    }
                }
                let body = match metrics.lock() {
                    Ok(m) => render(&m, &offsets, &highs, &ready, &followed),
                    Err(_) => String::new(),
                };
                let header = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"text/plain; version=0.0.4"[..],
                )
                .expect("static header");
                let _ = request.respond(tiny_http::Response::from_string(body).with_header(header));
            }
        })
        .context("starting the metrics thread")?;
    Ok(())
}
