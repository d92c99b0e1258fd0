//! `si-ledger`: the command line of the ledger. Parses arguments, sets up
//! tracing, wires the crates together; every decision lives in the crates.

mod api;
mod audit;
mod bench;
mod bench_mt102;
mod bench_streams;
mod bench_takeover;
mod benefits;
mod cluster;
mod common;
mod demo;
mod history;
mod identity;
mod import;
mod input;
mod instances;
mod logid;
mod payer;
mod payments;
mod project;
mod proofs;
mod publish;
mod query;
mod report;
mod snapshot;
mod synth;
mod topics;
mod trust;
mod verify;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;

/// sled copies tree nodes on every write; glibc's allocator spent about a
/// third of the projector's time on those copies (perf, `bench replay`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the bindings name its neighbours
/// 14 and 16 but not it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc returns freed memory to the OS after 10 ms by default; the
/// projector frees and reallocates batch-sized buffers constantly (and
/// sled its node copies), and the kernel zeroing re-faulted pages cost a
/// quarter of its time on sled (still about 7% with a one-second delay).
/// Revisited for fjall (issue 17, `bench replay`, 1M participants, at commit
/// 8db3209, side by side): purging
/// at once gave 43.8k events/s and a 614 MiB peak, keeping 49.3k-49.6k and
/// 728-748 MiB. So freed memory is kept for reuse, never returned: the
/// process stays at its peak, which the bounded engine cache (`--cache-mib`)
/// and the two batches in memory bound. An explicit `MIMALLOC_PURGE_DELAY`
/// in the environment wins.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set only stores an integer option; any value is valid
    // for this option (-1: never purge) and it may be called at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[derive(Parser)]
#[command(
    name = "si-ledger",
    version,
    about = "Event-sourced ledger of personalized social-insurance records"
)]
struct Cli {
    /// A calendar override file (JSON, same shape as the built-in one) adding
    /// a year or a later version of a year from a late decree.
    #[arg(long, global = true, value_name = "FILE")]
    calendar: Option<PathBuf>,
    /// What a contribution line for an IIN the register of individuals does
    /// not know gets (Rules §6): credited and counted for review (`flag`),
    /// or returned to the payer (`return`). Keep it fixed for a log's life:
    /// replays under another policy decide differently.
    #[arg(long, global = true, value_enum, default_value = "flag")]
    unknown_iin: UnknownIinArg,
    /// A parameters file (JSON, same shape as the built-in
    /// `data/parameters-kz.json`) adding dated contribution rates or
    /// minimum wages.
    #[arg(long, global = true, value_name = "FILE")]
    parameters: Option<PathBuf>,
    /// The deployment's identifiers: Kazakhstan's 12-digit IINs and BINs
    /// (`kz`), or Kyrgyzstan's 14-digit PINs (`kg`, DOMAIN §2). One per
    /// log: a store records it and refuses the other.
    #[arg(long, global = true, value_enum, default_value = "kz")]
    id_scheme: IdSchemeArg,
    /// No record time before the start of this day (in the calendar's
    /// zone) is taken: such a record is a `bad_timestamp` dead letter, and
    /// `publish` refuses the line. Fixed for a log's life.
    #[arg(long, global = true, value_name = "DATE", default_value = "2000-01-01")]
    epoch: String,
    /// How far ahead of the clock where it is appended a record time may
    /// be, in ms (Kafka's `message.timestamp.after.max.ms`; `topics create`
    /// sets it on the ledger topic).
    #[arg(long, global = true, value_name = "MS", default_value_t = ledger_core::RecordTimes::DEFAULT_AFTER_MAX_MS)]
    timestamp_after_max_ms: i64,
    /// The deployment's trust file (TOML, docs/authority.md): which
    /// authority may publish which privileged records, with its public
    /// keys. `none` accepts every record from anyone (warned about on
    /// every start; not for production). Required by `project` and
    /// `replay`.
    #[arg(long, global = true, value_name = "FILE|none", env = "SI_LEDGER_TRUST")]
    trust: Option<String>,
    /// The private key (PKCS#8 PEM file) that signs what this command
    /// writes: `merge`'s and `close-month`'s records, the projector's merge
    /// transfers, `publish`'s and `sign`'s privileged lines. A file, never
    /// the key itself.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "SI_LEDGER_SIGNING_KEY_FILE"
    )]
    signing_key: Option<PathBuf>,
    /// The storage engine of a store this command creates (`fjall`, the
    /// default, or `sled`). An existing store is always opened with the
    /// engine it was created with, and naming another is refused; to
    /// change engines, replay into a new --data directory.
    #[arg(long = "store", global = true, value_enum, env = "SI_LEDGER_STORE")]
    store_engine: Option<EngineArg>,
    /// The storage engine's cache, MiB. With the batch size it bounds the
    /// process's memory, whatever the number of participants.
    #[arg(
        long,
        global = true,
        value_name = "MIB",
        env = "SI_LEDGER_CACHE_MIB",
        default_value_t = ledger_store::OpenOptions::DEFAULT_CACHE_MIB,
        value_parser = clap::value_parser!(u64).range(8..=1_048_576)
    )]
    cache_mib: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EngineArg {
    Fjall,
    Sled,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum IdSchemeArg {
    Kz,
    Kg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum UnknownIinArg {
    Flag,
    Return,
}

#[derive(Subcommand)]
enum Command {
    /// Check IINs and BINs (check digit, birth date, sex).
    Iin {
        #[command(subcommand)]
        command: IinCommand,
    },
    /// The Kazakhstan working-day calendar and recording deadlines.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Validate JSON lines and publish them to the embedded log.
    Publish(publish::PublishArgs),
    /// Import banks' files: MT102 payment orders.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Project the log into per-participant accounts.
    Project(project::ProjectArgs),
    /// Every record that touched an account, in log order, with its outcome.
    History(history::HistoryArgs),
    /// Check a store's hash chains and recompute its accounts from its
    /// history; optionally compare with another store or a fresh replay of
    /// a log, topic or archive. Exit 1 on any broken link or difference.
    Verify(verify::VerifyArgs),
    /// Rebuild accounts from nothing into a new data directory, from an
    /// embedded log, a Kafka topic or an archive.
    Replay(audit::ReplayArgs),
    /// Write a consistent, checksummed snapshot of a store's partitions
    /// (every key, offsets, chain heads and the digest they give).
    Snapshot(snapshot::SnapshotArgs),
    /// Seed a new data directory from a snapshot; a damaged or foreign
    /// snapshot is refused.
    Restore(snapshot::RestoreArgs),
    /// Write a self-contained, hash-chained archive of a log or topic (its
    /// records with partition, offset and timestamp) to replay offline.
    Export(audit::ExportArgs),
    /// The ledger digest: a Merkle root over the partitions' hash chains,
    /// with the offsets it covers; with --note, a signed note of each
    /// partition's tree.
    Digest(audit::DigestArgs),
    /// A partition's signed checkpoint (C2SP tlog-checkpoint), exactly as
    /// the projector signed it, or every verifier key (--vkeys).
    Checkpoint(proofs::CheckpointArgs),
    /// Write a C2SP tlog-proof file for every history entry of an account,
    /// and the statement they prove, into a new directory.
    Prove(proofs::ProveArgs),
    /// The consistency proof (a tlog-witness body) from a saved checkpoint
    /// to the partition's latest.
    Consistency(proofs::ConsistencyArgs),
    /// Verify a directory `prove` wrote, offline and without a store:
    /// signatures, inclusion, the account chain and the statement's figures.
    VerifyProof(proofs::VerifyProofArgs),
    /// Close a month: append a MonthClosed marker to every partition; a
    /// projector reaching it writes that partition's monthly projections.
    CloseMonth(report::CloseMonthArgs),
    /// Reports from the monthly projections.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// The authenticated HTTP API over a store.
    Serve(api::ServeArgs),
    /// Every recorded read of personal data (who, when, which IIN, which endpoint).
    AccessLog(api::AccessLogArgs),
    /// Kafka topics of the ledger.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
    /// Print a participant's statement.
    Account(query::AccountArgs),
    /// Every statement, one JSON line each (an export to compare or load).
    Accounts(query::AccountsArgs),
    /// A payer's refund application (seed 003): publish it, or ask where
    /// it stands.
    #[command(subcommand)]
    Refund(payer::RefundCommand),
    /// Notices to payers: lines returned (Rules §6) and refund decisions,
    /// from a store or `<topic>.notices`.
    Notices(payer::NoticesArgs),
    /// A benefit's calculation inputs and amount as the Fund computes them.
    Entitlement(benefits::EntitlementArgs),
    /// Participants who look like one person under two identifiers (same
    /// name and birth date), with the evidence.
    Duplicates(identity::DuplicatesArgs),
    /// Merge two identifiers of one person: publish the old one's closing
    /// record; the projector hands its history to the new one.
    Merge(identity::MergeArgs),
    /// Payment orders reconciled with their lines (Rules §7): payments whose
    /// lines exceed or disagree with their total and line count, and those
    /// still incomplete past their recording deadline.
    Payments(payments::PaymentsArgs),
    /// List records that could not be applied, with their provenance.
    DeadLetters(query::DeadLettersArgs),
    /// Make an Ed25519 key pair: the private key to a file (0600), the
    /// trust-file entry of its public key to standard output.
    Keygen(trust::KeygenArgs),
    /// Sign the privileged lines of a JSON-lines feed with --signing-key.
    Sign(trust::SignArgs),
    /// Generate a synthetic population, publish and project it, show a statement.
    Demo(demo::DemoArgs),
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum IinCommand {
    /// Check identifiers: 12-digit IINs and BINs, or 14-digit Kyrgyz PINs.
    Check {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// The recording deadline for money received on DATE (Rules §7).
    Deadline {
        date: String,
        #[arg(long)]
        json: bool,
    },
    /// Whether DATE is a working day.
    WorkingDay {
        date: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Projector replay rate against its engine's raw read-modify-write rate.
    Replay(bench::ReplayArgs),
    /// Publisher, bare consumer, Kafka projector and embedded projector
    /// rates on the same events, against a local broker.
    Kafka(bench::KafkaArgs),
    /// `import mt102` of N lines in MT102 files against `publish` of the
    /// same lines as JSON, on the embedded log.
    Import(bench_mt102::ImportArgs),
    /// Month close over a projected population: projections per second
    /// and the memory the close adds.
    Month(bench::MonthArgs),
    /// The projector against its Kafka Streams peer (tests/peers/streams)
    /// on one topic: rates, memory and disk, answers checked equal.
    Streams(bench_streams::StreamsArgs),
    /// A lost instance's partitions taken over by one that kept a standby
    /// copy, against one that rebuilds them from offset 0, in one run.
    Takeover(bench_takeover::TakeoverArgs),
}

fn main() {
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SI_LEDGER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // A reader that goes away (`| head`) makes `println!` panic (Rust
    // ignores SIGPIPE). That panic is caught here, after unwinding has
    // run every destructor (a temporary copy of a store is removed), and
    // ends the command quietly with 141, as SIGPIPE ends a Unix filter:
    // never a panic message, never 0.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_failed(info.payload()).is_none() {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(Cli::parse()))) {
        Ok(Ok(code)) => std::process::exit(code),
        Ok(Err(e)) => {
            // Not `eprintln!`: a closed standard error must not panic here,
            // outside the catch.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            std::process::exit(1);
        }
        Err(payload) if broken_pipe(&*payload) => std::process::exit(128 + 13),
        Err(payload) if stdout_failed(&*payload).is_some() => {
            // A full disk or a closed terminal: an error, not a panic.
            // Said on standard error, unless that is what failed (then
            // nothing can be said).
            let what = stdout_failed(&*payload).unwrap_or_default();
            if what.contains("to stdout") {
                let _ = writeln!(std::io::stderr(), "error: {what}");
            }
            std::process::exit(1)
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// `println!`'s or `eprintln!`'s panic when standard output or standard
/// error cannot be written (a closed pipe, a full disk): what it says.
fn stdout_failed(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())?;
    (text.contains("failed printing to stdout") || text.contains("failed printing to stderr"))
        .then_some(text)
}

/// Whether a panic is `println!`'s or `eprintln!`'s on a closed pipe.
fn broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    stdout_failed(payload).is_some_and(|t| t.contains("Broken pipe"))
}

fn context(cli: &Cli) -> Result<ledger_core::Context> {
    let (cli_calendar, unknown) = (&cli.calendar, cli.unknown_iin);
    let parameters = match &cli.parameters {
        None => ledger_core::Parameters::built_in(),
        Some(path) => {
            let text = input::read_text(path).context("parameters")?;
            ledger_core::Parameters::with_overrides(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("parameters {}", path.display()))?
        }
    };
    let calendar = match cli_calendar {
        None => ledger_core::Calendar::built_in(),
        Some(path) => {
            let text = input::read_text(path).context("calendar")?;
            ledger_core::Calendar::with_overrides(&text)
                .with_context(|| format!("calendar {}", path.display()))?
        }
    };
    let epoch = ledger_core::parse_date(&cli.epoch).context("--epoch")?;
    let record_times = ledger_core::RecordTimes {
        epoch: calendar.day_start(epoch).with_timezone(&chrono::Utc),
        after_max_ms: cli.timestamp_after_max_ms.max(0),
    };
    Ok(ledger_core::Context {
        record_times,
        calendar,
        unknown_iin: match unknown {
            UnknownIinArg::Flag => ledger_core::UnknownIin::AcceptAndFlag,
            UnknownIinArg::Return => ledger_core::UnknownIin::Return,
        },
        parameters,
        trust: trust::init(cli.trust.as_deref(), cli.signing_key.as_deref())?,
    })
}

/// Runs a command; the value is the process exit code.
fn run(cli: Cli) -> Result<i32> {
    // Before anything parses an identifier.
    ledger_core::id::set_scheme(match cli.id_scheme {
        IdSchemeArg::Kz => ledger_core::IdScheme::Kz,
        IdSchemeArg::Kg => ledger_core::IdScheme::Kg,
    })
    .map_err(anyhow::Error::msg)?;
    common::set_store_options(ledger_store::OpenOptions {
        engine: cli.store_engine.map(|e| match e {
            EngineArg::Fjall => ledger_store::Engine::Fjall,
            EngineArg::Sled => ledger_store::Engine::Sled,
        }),
        cache_mib: cli.cache_mib,
    });
    let ctx = context(&cli)?;
    match cli.command {
        Command::Iin {
            command: IinCommand::Check { ids, json },
        } => query::iin_check(&ctx, &ids, json),
        Command::Calendar { command } => match command {
            CalendarCommand::Deadline { date, json } => query::deadline(&ctx, &date, json),
            CalendarCommand::WorkingDay { date, json } => query::working_day(&ctx, &date, json),
        },
        Command::Publish(args) => publish::run(&ctx, &args),
        Command::Import(cmd) => import::run(&ctx, &cmd),
        Command::Project(args) => project::project(&ctx, &args),
        Command::Topics(cmd) => topics::topics(&ctx, &cmd),
        Command::History(args) => history::run(&ctx, &args),
        Command::Verify(args) => verify::run(&ctx, &args),
        Command::Replay(args) => audit::replay(&ctx, &args),
        Command::Snapshot(args) => snapshot::snapshot(&args),
        Command::Restore(args) => snapshot::restore(&ctx, &args),
        Command::Export(args) => audit::export(&args),
        Command::Digest(args) => audit::digest(&args),
        Command::Checkpoint(args) => proofs::checkpoint(&args),
        Command::Prove(args) => proofs::prove(&args),
        Command::Consistency(args) => proofs::consistency(&args),
        Command::VerifyProof(args) => proofs::verify_proof(&ctx, &args),
        Command::CloseMonth(args) => report::close_month(&ctx, &args),
        Command::Report(report::ReportCommand::Monthly(args)) => report::monthly(&ctx, &args),
        Command::Report(report::ReportCommand::Projections(args)) => report::projections(&args),
        Command::Report(report::ReportCommand::Consume(args)) => report::consume(&args),
        Command::Serve(args) => api::serve(&ctx, &args),
        Command::AccessLog(args) => api::access_log(&args),
        Command::Account(args) => query::account(&ctx, &args),
        Command::Accounts(args) => query::accounts(&args),
        Command::DeadLetters(args) => query::dead_letters(&args),
        Command::Payments(args) => payments::run(&ctx, &args),
        Command::Refund(payer::RefundCommand::Apply(args)) => payer::apply(&args),
        Command::Refund(payer::RefundCommand::Status(args)) => payer::status(&args),
        Command::Notices(args) => payer::list(&args),
        Command::Entitlement(args) => benefits::entitlement(&ctx, &args),
        Command::Duplicates(args) => identity::duplicates(&args),
        Command::Merge(args) => identity::merge(&args),
        Command::Demo(args) => demo::run(&ctx, &args),
        Command::Keygen(args) => trust::keygen(&args),
        Command::Sign(args) => trust::sign(&args),
        Command::Bench {
            command: BenchCommand::Replay(args),
        } => bench::replay(&ctx, &args),
        Command::Bench {
            command: BenchCommand::Kafka(args),
        } => bench::kafka(&ctx, &args),
        Command::Bench {
            command: BenchCommand::Month(args),
        } => bench::month(&ctx, &args),
        Command::Bench {
            command: BenchCommand::Import(args),
        } => bench_mt102::import(&args),
        Command::Bench {
            command: BenchCommand::Streams(args),
        } => bench_streams::streams(&ctx, &args),
        Command::Bench {
            command: BenchCommand::Takeover(args),
        } => bench_takeover::takeover(&ctx, &args),
    }
}
