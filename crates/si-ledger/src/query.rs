//! The read-side commands (`iin check`, `calendar`, `account`,
//! `dead-letters`) and `project`.

use anyhow::{bail, Context as _, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::{check_id, mask_id, parse_date, Context, Iin, Statement};
use ledger_projector::{Options, Totals, Until};
use ledger_store::{LedgerStore, SledKv};
use ledger_stream::EmbeddedLog;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub fn iin_check(ids: &[String], json: bool) -> Result<i32> {
    let checks: Vec<_> = ids.iter().map(|id| check_id(id)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            match (&c.error, c.kind) {
                (Some(e), _) => println!("{}: invalid: {e}", c.id),
                (None, kind) => {
                    let kind = kind.map_or_else(
                        || "check digit, but neither an IIN nor a BIN".to_string(),
                        |k| format!("{k:?}").to_uppercase(),
                    );
                    let born = c
                        .birth_date
                        .map(|d| format!(", born {d}"))
                        .unwrap_or_default();
                    let sex = c.sex.map(|s| format!(", sex {s}")).unwrap_or_default();
                    println!("{}: valid {kind}{born}{sex}", c.id);
                    for w in &c.warnings {
                        println!("  warning: {w}");
                    }
                }
            }
        }
    }
    Ok(if checks.iter().all(|c| c.valid) { 0 } else { 1 })
}

pub fn deadline(ctx: &Context, date: &str, json: bool) -> Result<i32> {
    let d = parse_date(date).context("received-on date")?;
    let dl = ctx.calendar.recording_deadline(d);
    if json {
        println!("{}", serde_json::to_string_pretty(&dl)?);
    } else {
        println!(
            "received {} → record by {} ({})",
            dl.received_on,
            dl.deadline,
            dl.deadline_day.format("%A")
        );
        if !dl.from_published_data {
            println!("  note: derived from the Labour Code rule; no published calendar covers these days");
        }
    }
    Ok(0)
}

pub fn working_day(ctx: &Context, date: &str, json: bool) -> Result<i32> {
    let d = parse_date(date).context("date")?;
    let (working, published) = ctx.calendar.working_day(d);
    if json {
        println!(
            "{}",
            serde_json::json!({"date": d, "working_day": working, "from_published_data": published})
        );
    } else {
        let what = if working {
            "a working day"
        } else {
            "not a working day"
        };
        let src = if published {
            ""
        } else {
            " (derived by rule; no published calendar)"
        };
        println!("{d} ({}) is {what}{src}", d.format("%A"));
    }
    Ok(0)
}

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
    /// The projector's data directory (the sled store lives in DIR/store).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Embedded log: keep following it instead of stopping at its end.
    #[arg(long, conflicts_with = "brokers")]
    pub follow: bool,
    /// Kafka: stop once every assigned partition reaches the high watermark
    /// seen when it was assigned (otherwise follow until SIGTERM).
    #[arg(long, requires = "brokers")]
    pub until_end: bool,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR", requires = "brokers")]
    pub metrics: Option<String>,
    /// librdkafka's fetch.wait.max.ms: how long a fetch waits for data.
    #[arg(long, default_value_t = 10)]
    pub fetch_wait_max_ms: u32,
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
    #[command(flatten)]
    pub api: crate::api::ApiArgs,
}

pub fn store_dir(data: &Path) -> PathBuf {
    data.join("store")
}

/// Opens an existing store; refuses to create one where a reader expected data.
pub fn open_existing_store(data: &Path) -> Result<LedgerStore<SledKv>> {
    let dir = store_dir(data);
    if !dir.join("db").exists() && !dir.join("conf").exists() {
        bail!(
            "no store at {} (run `si-ledger project --data {}` first)",
            dir.display(),
            data.display()
        );
    }
    let store =
        LedgerStore::open(&dir).with_context(|| format!("opening store {}", dir.display()))?;
    store.check_scheme()?;
    Ok(store)
}

pub fn project(ctx: &Context, args: &ProjectArgs) -> Result<i32> {
    if let Some(brokers) = &args.brokers {
        return crate::kafka::project(ctx, args, brokers);
    }
    let Some(log_dir) = &args.log else {
        bail!("give --log DIR or --brokers");
    };
    let log =
        EmbeddedLog::open(log_dir).with_context(|| format!("opening log {}", log_dir.display()))?;
    let store = LedgerStore::open(&store_dir(&args.data)).context("opening store")?;
    let signer = crate::trust::for_projector(&store)?;
    let _server = match args.serve {
        Some(addr) => Some(crate::api::start(
            ctx,
            store.clone(),
            &args.data,
            addr,
            &args.api,
            Arc::new(|| None),
        )?),
        None => None,
    };
    if let Some(server) = &_server {
        crate::api::watch(server)?;
    }
    let totals = project_with_progress(ctx, &log, &store, args.batch_size, args.follow, signer)?;
    print_totals(&totals, args.json)?;
    if crate::api::server_ended() {
        return Ok(1);
    }
    Ok(interrupted(
        &totals,
        "project",
        "nothing projected past it; run it again to go on",
    )
    .unwrap_or(0))
}

/// The last stopping signal received (0: none).
fn last_signal() -> &'static Arc<std::sync::atomic::AtomicUsize> {
    static LAST: std::sync::OnceLock<Arc<std::sync::atomic::AtomicUsize>> =
        std::sync::OnceLock::new();
    LAST.get_or_init(Default::default)
}

/// SIGTERM and SIGINT set the returned flag: a projector finishes its
/// batch, flushes, and stops (leaving its consumer group on Kafka). One
/// flag per process, installed on the first call: a signal received before
/// a later stage starts still stops it.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    if let Some(stop) = STOP.get() {
        return Ok(Arc::clone(stop));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handler")?;
        signal_hook::flag::register_usize(sig, Arc::clone(last_signal()), sig as usize)
            .context("installing signal handler")?;
    }
    Ok(Arc::clone(STOP.get_or_init(|| stop)))
}

/// Inputs §6: a run that was to reach the end of its log and was stopped
/// before it says where, on standard error, and gives the exit code of
/// the signal that stopped it (130 for SIGINT, 143 for SIGTERM). `None`
/// for a run that finished.
pub fn interrupted(t: &Totals, what: &str, past_it: &str) -> Option<i32> {
    if t.unfinished.is_empty() {
        return None;
    }
    let signal = last_signal().load(std::sync::atomic::Ordering::SeqCst) as i32;
    let name = match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a stop",
    };
    let at: Vec<String> = t
        .unfinished
        .iter()
        .map(|u| format!("partition {} offset {} of {}", u.partition, u.next, u.end))
        .collect();
    eprintln!(
        "{what} interrupted by {name} at {}; {past_it}",
        at.join(", ")
    );
    Some(if signal > 0 { 128 + signal } else { 130 })
}

pub fn print_totals(t: &Totals, json: bool) -> Result<()> {
    if json {
        let json = serde_json::json!({
            "records": t.records, "batches": t.batches, "applied": t.applied,
            "returned": t.returned, "refused": t.refused, "duplicates": t.duplicates,
            "conflicts": t.conflicts, "dead_letters": t.dead_letters, "late": t.late,
            "redelivered": t.redelivered, "months_closed": t.months_closed,
            "projections": t.projections, "restatements": t.restatements,
            "redirected": t.redirected, "forwarded": t.forwarded,
        });
        println!("{json}");
    } else {
        println!("{}", totals_line(t));
    }
    Ok(())
}

pub fn project_with_progress(
    ctx: &Context,
    log: &EmbeddedLog,
    store: &LedgerStore<SledKv>,
    batch_size: usize,
    follow: bool,
    signer: Option<Arc<ledger_core::authority::Signer>>,
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
        signer,
        ..Options::default()
    };
    // SIGTERM or SIGINT: finish the batch, flush, stop.
    let stop = stop_on_signals()?;
    let mut sink = ledger_projector::EmbeddedOutputs(log);
    let totals =
        ledger_projector::run_with_sink(ctx, &mut source, store, &mut sink, &opts, &stop, |t| {
            bar.set_position(t.records + t.redelivered)
        })?;
    bar.finish_and_clear();
    Ok(totals)
}

pub fn totals_line(t: &Totals) -> String {
    format!(
        "projected {} records in {} batches: {} applied, {} returned to payer, {} refused, \
         {} duplicates ignored, {} conflicts, {} dead letters, {} late recordings{}",
        t.records,
        t.batches,
        t.applied,
        t.returned,
        t.refused,
        t.duplicates,
        t.conflicts,
        t.dead_letters,
        t.late,
        if t.redirected > 0 || t.forwarded > 0 {
            format!(
                ", {} redirected after a merge, {} records handed on by merges",
                t.redirected, t.forwarded
            )
        } else {
            String::new()
        }
    ) + &if t.months_closed > 0 || t.restatements > 0 {
        format!(
            "; {} month closes wrote {} projections; {} restated",
            t.months_closed, t.projections, t.restatements
        )
    } else {
        String::new()
    }
}

#[derive(Args)]
pub struct AccountArgs {
    /// The participant's IIN.
    pub iin: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Count only events effective on or before DATE (a period counts from
    /// its first day; other events from their own date).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Count only what the ledger had recorded by the end of DATE in
    /// Kazakhstan time (the calendar's zone), whatever was recorded later.
    #[arg(long, value_name = "DATE")]
    pub as_known_on: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn account(ctx: &Context, args: &AccountArgs) -> Result<i32> {
    let iin = Iin::parse(&args.iin).with_context(|| format!("IIN {}", mask_id(&args.iin)))?;
    let store = open_existing_store(&args.data)?;
    let date = |s: &Option<String>, flag: &str| -> Result<Option<chrono::NaiveDate>> {
        s.as_deref()
            .map(|d| parse_date(d).with_context(|| format!("--{flag}")))
            .transpose()
    };
    let views = ledger_api::Views {
        store: &store,
        held: None,
    };
    let st = views.statement(
        ctx,
        &iin,
        date(&args.as_of, "as-of")?,
        date(&args.as_known_on, "as-known-on")?,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&st)?);
    } else {
        print!("{}", st.to_text());
    }
    Ok(0)
}

#[derive(Args)]
pub struct AccountsArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

/// Every statement as one JSON line, by partition and IIN: an export that
/// two stores can be compared with, byte for byte.
pub fn accounts(args: &AccountsArgs) -> Result<i32> {
    use std::io::Write;
    let store = open_existing_store(&args.data)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed: Option<std::io::Error> = None;
    store.for_each_account(|_, a| {
        if failed.is_none() {
            let line = serde_json::to_string(&Statement::of(&a)).expect("statements encode");
            if let Err(e) = writeln!(out, "{line}") {
                failed = Some(e);
            }
        }
    })?;
    output_done(failed.map_or_else(|| out.flush(), Err))
}

/// The end of a command's output: a reader that went away early (`| head`)
/// is not an error of ours.
pub fn output_done(written: std::io::Result<()>) -> Result<i32> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}

/// A log record time (ms since the epoch) as RFC 3339 UTC with milliseconds.
pub use ledger_api::log_time;

#[derive(Args)]
pub struct DeadLettersArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn dead_letters(args: &DeadLettersArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    let letters = store.dead_letters()?;
    if args.json {
        let rows: Vec<_> = letters
            .iter()
            .map(|d| {
                serde_json::json!({
                    "partition": d.position.partition,
                    "offset": d.position.offset,
                    "timestamp": log_time(d.timestamp_ms),
                    "key": mask_id(&String::from_utf8_lossy(&d.key)),
                    "kind": d.kind,
                    "error": d.error,
                    "value_hex": hex_string(&d.value),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("{} dead letters", letters.len());
        for d in &letters {
            println!(
                "  partition {} offset {} key {} [{}] {}",
                d.position.partition,
                d.position.offset,
                mask_id(&String::from_utf8_lossy(&d.key)),
                d.kind,
                d.error
            );
        }
    }
    Ok(0)
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
