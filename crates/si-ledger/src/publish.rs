//! `si-ledger publish`: JSON lines in, checked, encoded as `Envelope`
//! protobuf and appended to the embedded log keyed by IIN. Every refused
//! line is reported with its number, field and reason; nothing invalid is
//! published.

use crate::input::{text_line, MAX_LINE};
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_stream::{Appender, EmbeddedLog};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where published records go: the embedded log or a Kafka topic.
#[derive(Args)]
pub struct Target {
    /// The embedded log directory (created if missing), or use --brokers.
    #[arg(long, value_name = "DIR", required_unless_present_any = ["brokers", "dry_run"], conflicts_with = "brokers")]
    pub log: Option<PathBuf>,
    /// Kafka bootstrap brokers, `host:port[,host:port…]`, instead of --log.
    #[arg(long, requires = "topic")]
    pub brokers: Option<String>,
    /// The ledger topic (with --brokers).
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// Partitions of a new log (an existing log keeps its own).
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

impl Target {
    /// The sink records are sent to.
    pub fn sink(&self) -> Result<Box<dyn RecordSink>> {
        if let (Some(brokers), Some(topic)) = (&self.brokers, &self.topic) {
            let publisher = ledger_kafka::Publisher::new(&self.kafka.cluster(brokers)?, topic)
                .with_context(|| format!("connecting to {brokers}"))?;
            Ok(Box::new(KafkaSink(publisher)))
        } else if let Some(log) = &self.log {
            Ok(Box::new(open_appender(log, self.partitions)?))
        } else {
            anyhow::bail!("give --log DIR or --brokers and --topic");
        }
    }
}

#[derive(Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub to: Target,
    /// Validate only; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// JSON-lines file, or `-` for standard input.
    pub file: String,
}

/// Where checked records go: (key, timestamp ms or none, value), a chunk
/// at a time; `send` returns once the chunk is durable.
pub trait RecordSink {
    fn send(&mut self, records: &[(&[u8], Option<i64>, &[u8])]) -> Result<()>;
}

impl RecordSink for Appender {
    /// Lines without a timestamp are recorded at the append time.
    fn send(&mut self, records: &[(&[u8], Option<i64>, &[u8])]) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let recs: Vec<(&[u8], i64, &[u8])> = records
            .iter()
            .map(|(k, t, v)| (*k, t.unwrap_or(now), *v))
            .collect();
        self.append(&recs).context("appending to the log")?;
        Ok(())
    }
}

/// What a publish did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PublishSummary {
    pub lines: u64,
    pub published: u64,
    pub refused: u64,
    /// Privileged lines this run signed (`--signing-key`).
    pub signed: u64,
    /// Privileged lines published unsigned: a projector with a trust file
    /// refuses them (docs/authority.md).
    pub unsigned_privileged: u64,
    pub dry_run: bool,
    /// Every line up to this input line number was published and
    /// acknowledged by the log (or refused, as reported); 0: none. What an
    /// interrupted or failed run reports.
    pub acknowledged_through: u64,
    /// The last input line read.
    pub read_through: u64,
    /// Stopped by SIGINT, SIGTERM or SIGHUP before the end of the input.
    pub interrupted: bool,
    /// A chunk (the lines after `acknowledged_through`) is being sent.
    #[serde(skip)]
    sending: bool,
}

impl PublishSummary {
    /// Inputs §6: what an interrupted or failed publish appended, by input
    /// line, and that publishing the whole file again is safe.
    fn appended(&self) -> String {
        let acked = match self.acknowledged_through {
            0 => "no line was acknowledged".to_string(),
            n => format!(
                "lines 1-{n} were published and acknowledged ({} records; refused lines \
                 as reported)",
                self.published
            ),
        };
        let rest = if self.sending && self.read_through > self.acknowledged_through {
            format!(
                "lines {}-{} were being appended and may be partly in the log; nothing after \
                 line {} was published",
                self.acknowledged_through + 1,
                self.read_through,
                self.read_through
            )
        } else {
            format!(
                "nothing after line {} was published",
                self.acknowledged_through
            )
        };
        format!(
            "{acked}; {rest}. Publishing the whole file again is safe: the projector ignores \
             a record whose event id it already holds with the same content (counted as a \
             duplicate)"
        )
    }
}

/// The publish sink for a Kafka topic: one acknowledged send per chunk.
pub struct KafkaSink(pub ledger_kafka::Publisher);

impl RecordSink for KafkaSink {
    fn send(&mut self, records: &[(&[u8], Option<i64>, &[u8])]) -> Result<()> {
        self.0.publish(records).context("publishing to Kafka")?;
        Ok(())
    }
}

/// Lines are appended in chunks: one fsync per chunk, bounded memory.
const CHUNK: usize = 8192;

pub fn run(ctx: &ledger_core::Context, args: &PublishArgs) -> Result<i32> {
    // SIGINT, SIGTERM and SIGHUP stop the run between lines: what was acknowledged
    // is then a prefix of the input, and the run says which. Installed
    // first: a signal while the log is opened is heard too.
    let stop = crate::common::stop_on_signals()?;
    // A publish waiting for a line on standard input sees the first signal
    // only when the next line (or the end) comes: a second signal ends it
    // at once (what was acknowledged is still a prefix of the input).
    let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in crate::common::STOPPING {
        // Registered in this order: the first signal finds `signalled`
        // unset, then sets it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&signalled))
            .context("installing signal handler")?;
        signal_hook::flag::register(sig, Arc::clone(&signalled))
            .context("installing signal handler")?;
    }
    let input = crate::input::open_lines(&args.file)?;
    let mut sink = if args.dry_run {
        None
    } else {
        Some(args.to.sink()?)
    };
    let keys = crate::trust::KeyRing::one(crate::trust::signer()?);
    let mut summary = PublishSummary {
        dry_run: args.dry_run,
        ..PublishSummary::default()
    };
    let published = publish_lines_until(
        ctx,
        &keys,
        input,
        sink.as_deref_mut(),
        &stop,
        &mut summary,
        |line, e| {
            eprintln!("line {line}: {e}");
        },
    );
    if let Err(e) = published {
        if !args.dry_run {
            eprintln!("publish failed: {}", summary.appended());
        }
        return Err(e);
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let verb = if args.dry_run {
            "valid (dry run)"
        } else {
            "published"
        };
        println!(
            "{} lines: {} {verb}, {} refused",
            summary.lines,
            if args.dry_run {
                summary.lines - summary.refused
            } else {
                summary.published
            },
            summary.refused
        );
    }
    if summary.unsigned_privileged > 0 {
        eprintln!(
            "warning: {} privileged lines (register, Fund, merge or transfer records) were \
             published unsigned: a projector with a trust file refuses them \
             (sign them with --signing-key or `si-ledger sign`; docs/authority.md)",
            summary.unsigned_privileged
        );
    }
    if summary.interrupted {
        let (signal, code) = crate::common::stopping_signal();
        eprintln!(
            "publish interrupted by {signal}{}",
            if args.dry_run {
                ": nothing was published (dry run)".to_string()
            } else {
                format!(": {}", summary.appended())
            }
        );
        return Ok(code);
    }
    Ok(if summary.refused > 0 { 2 } else { 0 })
}

pub fn open_appender(dir: &Path, partitions: u32) -> Result<Appender> {
    let log = EmbeddedLog::open_or_create(dir, partitions)
        .with_context(|| format!("opening log {}", dir.display()))?;
    log.appender().context("opening the log for append")
}

/// Parses, checks and (given an appender) appends every line. Blank lines
/// are skipped; `refuse(line_number, error)` hears of every refused line.
pub fn publish_lines<S: RecordSink + ?Sized>(
    ctx: &ledger_core::Context,
    keys: &crate::trust::KeyRing,
    input: impl BufRead,
    sink: Option<&mut S>,
    refuse: impl FnMut(u64, &ledger_proto::LineError),
) -> Result<PublishSummary> {
    let mut s = PublishSummary::default();
    let never = std::sync::atomic::AtomicBool::new(false);
    publish_lines_until(ctx, keys, input, sink, &never, &mut s, refuse)?;
    Ok(s)
}

/// [`publish_lines`], stopping before the next line once `stop` is set
/// (`s.interrupted`); `s` says how far it got, also when it fails.
pub fn publish_lines_until<S: RecordSink + ?Sized>(
    ctx: &ledger_core::Context,
    keys: &crate::trust::KeyRing,
    input: impl BufRead,
    mut sink: Option<&mut S>,
    stop: &std::sync::atomic::AtomicBool,
    s: &mut PublishSummary,
    mut refuse: impl FnMut(u64, &ledger_proto::LineError),
) -> Result<()> {
    let mut chunk: Vec<(Vec<u8>, Option<i64>, Vec<u8>)> = Vec::with_capacity(CHUNK);
    // A chunk is acknowledged whole: then every line read so far is
    // published or refused.
    let mut flush =
        |chunk: &mut Vec<(Vec<u8>, Option<i64>, Vec<u8>)>, s: &mut PublishSummary| -> Result<()> {
            if let Some(sink) = sink.as_deref_mut() {
                let recs: Vec<(&[u8], Option<i64>, &[u8])> =
                    chunk.iter().map(|(k, t, v)| (&k[..], *t, &v[..])).collect();
                s.sending = true;
                sink.send(&recs)?;
                s.sending = false;
                s.published += chunk.len() as u64;
                s.acknowledged_through = s.read_through;
            }
            chunk.clear();
            Ok(())
        };
    let mut input = input;
    let mut bytes = Vec::new();
    for n in 1u64.. {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            // The chunk read so far is dropped unsent: what was appended
            // stays a prefix of the input.
            s.interrupted = true;
            return Ok(());
        }
        let Some(len) = crate::input::read_line(&mut input, MAX_LINE, &mut bytes)
            .with_context(|| format!("reading line {n}"))?
        else {
            break;
        };
        s.read_through = n;
        if len > MAX_LINE {
            s.lines += 1;
            s.refused += 1;
            let e = ledger_proto::LineError {
                field: "(line)".into(),
                reason: format!("{len} bytes long, more than the {MAX_LINE} a line may have"),
            };
            refuse(n, &e);
            continue;
        }
        // One bad line never costs the good ones: an undecodable line is
        // refused by its number like any other invalid line.
        let line = match text_line(&bytes, n == 1) {
            Ok(line) => line,
            Err(e) => {
                s.lines += 1;
                s.refused += 1;
                refuse(n, &e);
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        s.lines += 1;
        match ledger_proto::parse_line(line) {
            Err(e) => {
                s.refused += 1;
                refuse(n, &e);
            }
            Ok(mut parsed) => {
                // A privileged line the producer did not sign is signed
                // with the key given for its kind; one already signed is
                // kept as signed.
                let kind = parsed.envelope.event.kind();
                if parsed.wire.signature.is_none() && ledger_core::authority::is_privileged(kind) {
                    match keys.for_kind(kind) {
                        Some(signer) => {
                            ledger_proto::sign_envelope(&mut parsed.wire, signer);
                            s.signed += 1;
                        }
                        None => s.unsigned_privileged += 1,
                    }
                }
                let ts = parsed.timestamp.map(|t| t.timestamp_millis());
                // Inputs §4: a back-fill's time within the ledger's bounds,
                // checked against this clock, where the append happens.
                let now = chrono::Utc::now().timestamp_millis();
                if let Some(Err(why)) = ts.map(|t| ctx.record_times.check_at_append(t, now)) {
                    s.refused += 1;
                    refuse(
                        n,
                        &ledger_proto::LineError {
                            field: "timestamp".into(),
                            reason: why,
                        },
                    );
                    continue;
                }
                let key = parsed.envelope.iin.as_str().as_bytes().to_vec();
                chunk.push((key, ts, ledger_proto::encode_envelope(&parsed.wire)));
                if chunk.len() >= CHUNK {
                    flush(&mut chunk, s)?;
                }
            }
        }
    }
    flush(&mut chunk, s)?;
    Ok(())
}
