//! The Kafka path of the command line: `topics create`, `publish --brokers`,
//! `project --brokers`, with the dead-letter topic and Prometheus metrics.

use crate::query::{self, ProjectArgs};
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use ledger_core::Context;
use ledger_kafka::{Assignment, KafkaOutputs, KafkaSource, SourceOptions};
use ledger_projector::{Options, Totals, Until};
use ledger_store::{LedgerStore, SledKv};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum TopicsCommand {
    /// Create the ledger topic (retained forever) and its derived topics
    /// (`<T>.dlq`, `<T>.monthly`, `<T>.notices`).
    Create(CreateArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    #[arg(long)]
    pub brokers: String,
    #[arg(long)]
    pub topic: String,
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Copies of each partition (3 on a production cluster).
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i32,
}

pub fn topics(ctx: &ledger_core::Context, cmd: &TopicsCommand) -> Result<i32> {
    let TopicsCommand::Create(a) = cmd;
    let times =
        ledger_kafka::timestamp_configs(&ctx.record_times, chrono::Utc::now().timestamp_millis());
    let created = ledger_kafka::create_topics(
        &a.brokers,
        &a.topic,
        a.partitions,
        a.replication_factor,
        &times,
    )?;
    for (name, new) in created {
        let what = if new {
            "created"
        } else {
            "exists (left as is)"
        };
        println!("{name}: {what}");
    }
    Ok(0)
}

/// The publish sink for a Kafka topic: one acknowledged send per chunk.
pub struct KafkaSink(pub ledger_kafka::Publisher);

impl crate::publish::RecordSink for KafkaSink {
    fn send(&mut self, records: &[(&[u8], Option<i64>, &[u8])]) -> Result<()> {
        self.0.publish(records).context("publishing to Kafka")?;
        Ok(())
    }
}

pub fn project(ctx: &Context, args: &ProjectArgs, brokers: &str) -> Result<i32> {
    let Some(topic) = args.topic.as_deref() else {
        bail!("--brokers needs --topic");
    };
    let group = args.group.as_deref().unwrap_or("si-ledger-projector");
    let store = LedgerStore::open(&query::store_dir(&args.data)).context("opening store")?;
    let signer = crate::trust::for_projector(&store)?;
    let resume_store = store.clone();
    let resume: ledger_kafka::ResumeAt = Arc::new(move |p| {
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
    let opts = SourceOptions {
        fetch_wait_max_ms: args.fetch_wait_max_ms,
        ..SourceOptions::default()
    };
    let mut source = KafkaSource::new(brokers, topic, group, resume, &opts)
        .with_context(|| format!("joining group {group} on {topic}"))?;
    let mut sink = KafkaOutputs::new(brokers, topic)?;
    let stop = query::stop_on_signals()?;
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    if let Some(addr) = &args.metrics {
        serve_metrics(
            addr,
            Arc::clone(&metrics),
            store.clone(),
            source.assignment(),
            ledger_kafka::Watermarks::new(brokers, topic)?,
        )?;
    }
    let _server = match args.serve {
        Some(addr) => {
            let assigned = source.assignment();
            // A poisoned lock holds nothing rather than everything.
            let held: ledger_api::Held = Arc::new(move || {
                Some(
                    assigned
                        .lock()
                        .map(|a| a.keys().copied().collect())
                        .unwrap_or_default(),
                )
            });
            Some(crate::api::start(
                ctx,
                store.clone(),
                &args.data,
                addr,
                &args.api,
                held,
            )?)
        }
        None => None,
    };
    if let Some(server) = &_server {
        crate::api::watch(server)?;
    }
    let run_opts = Options {
        batch_size: args.batch_size.max(1),
        until: if args.until_end {
            Until::EndAtStart
        } else {
            Until::Stopped
        },
        signer,
        ..Options::default()
    };
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
        },
    )?;
    for e in source.take_errors() {
        eprintln!("consumer group: {e}");
    }
    // Dropping the source closes the consumer: it leaves the group now
    // rather than when its session times out.
    drop(source);
    query::print_totals(&totals, args.json)?;
    if crate::api::server_ended() {
        return Ok(1);
    }
    Ok(query::interrupted(
        &totals,
        "project --until-end",
        "nothing projected past it; run it again to go on",
    )
    .unwrap_or(0))
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
fn render(m: &Metrics, offsets: &BTreeMap<u32, u64>, highs: &BTreeMap<u32, u64>) -> String {
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
    out
}

fn serve_metrics(
    addr: &str,
    metrics: Arc<Mutex<Metrics>>,
    store: LedgerStore<SledKv>,
    assignment: Assignment,
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
                    if let Ok(h) = watermarks.high(p) {
                        highs.insert(p, h);
                    }
                }
                let body = match metrics.lock() {
                    Ok(m) => render(&m, &offsets, &highs),
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
