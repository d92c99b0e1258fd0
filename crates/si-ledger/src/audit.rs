//! The auditor's commands that take a log as input: `export` (an offline
//! archive), `replay` (rebuild a store from nothing) and `digest`.

use crate::common::{open_existing_store, store_dir};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::Context;
use ledger_projector::{Options, Until};
use ledger_store::{DiskKv, LedgerStore};
use ledger_stream::{ArchiveSource, EmbeddedLog, Source};
use std::path::{Path, PathBuf};

/// Where records come from: one of an embedded log, a Kafka topic or an
/// archive.
#[derive(Args, Debug, Clone)]
pub struct LogInput {
    /// An embedded log directory.
    #[arg(long, value_name = "DIR", group = "input")]
    pub log: Option<PathBuf>,
    /// Kafka bootstrap brokers (with --topic).
    #[arg(long, group = "input", requires = "topic")]
    pub brokers: Option<String>,
    /// The ledger topic (with --brokers).
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// An archive written by `si-ledger export`.
    #[arg(long, value_name = "FILE", group = "input")]
    pub archive: Option<PathBuf>,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

impl LogInput {
    pub fn given(&self) -> bool {
        self.log.is_some() || self.brokers.is_some() || self.archive.is_some()
    }

    /// The topic name an archive records: the Kafka topic, or the log
    /// directory's name.
    fn topic(&self) -> String {
        match (&self.topic, &self.log) {
            (Some(t), _) => t.clone(),
            (None, Some(dir)) => dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "log".into()),
            _ => "log".into(),
        }
    }

    /// A source over every partition of the input. Kafka is read by a
    /// consumer group of its own, so no projector's group is disturbed.
    pub fn open(&self, purpose: &str) -> Result<Box<dyn Source>> {
        if let Some(dir) = &self.log {
            let log =
                EmbeddedLog::open(dir).with_context(|| format!("opening log {}", dir.display()))?;
            return Ok(Box::new(log.source()?));
        }
        if let Some(file) = &self.archive {
            let source = ArchiveSource::open(file)
                .with_context(|| format!("opening archive {}", file.display()))?;
            return Ok(Box::new(source));
        }
        if let (Some(brokers), Some(topic)) = (&self.brokers, &self.topic) {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let group = format!("si-ledger-audit-{purpose}-{}-{nanos}", std::process::id());
            let source = ledger_kafka::KafkaSource::new(
                &self.kafka.cluster(brokers)?,
                topic,
                &group,
                std::sync::Arc::new(|_| 0),
                &ledger_kafka::SourceOptions::default(),
            )
            .with_context(|| format!("reading {topic} at {brokers}"))?;
            return Ok(Box::new(source));
        }
        bail!("give --log DIR, --brokers B --topic T, or --archive FILE")
    }
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub input: LogInput,
    /// The archive to write (replaced only once complete).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn export(args: &ExportArgs) -> Result<i32> {
    if args.input.archive.is_some() {
        bail!("export reads --log or --brokers; an archive is already an export");
    }
    // SIGINT, SIGTERM, SIGHUP end it between polls, saying so; its partial
    // file is removed (no archive that looks whole, no litter).
    let stop = crate::common::stop_on_signals()?;
    let mut source = args.input.open("export")?;
    match ledger_stream::export(&mut *source, &args.input.topic(), &args.out, &stop, |_| {}) {
        Ok(n) => {
            println!("exported {n} records to {}", args.out.display());
            Ok(0)
        }
        Err(ledger_stream::SourceError::Stopped { records }) => {
            let (name, code) = crate::common::stopping_signal();
            eprintln!(
                "export interrupted by {name} after {records} records: no archive was written \
                 (its partial file was removed); run it again"
            );
            Ok(code)
        }
        Err(e) => Err(e).with_context(|| format!("exporting to {}", args.out.display())),
    }
}

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub input: LogInput,
    /// A new data directory: replay refuses one that holds a store.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long, default_value_t = ledger_projector::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[arg(long)]
    pub json: bool,
}

/// Projects every record of `input` (up to its end now) into the store at
/// `data`, which must be new.
pub fn replay_into(
    ctx: &Context,
    choice: &crate::trust::Choice,
    input: &LogInput,
    data: &Path,
    batch_size: usize,
) -> Result<(LedgerStore<DiskKv>, ledger_projector::Totals)> {
    let dir = store_dir(data);
    if dir.exists() {
        bail!(
            "{} already holds a store: replay builds a new one (give a new --data)",
            data.display()
        );
    }
    let mut source = input.open("replay")?;
    let store = crate::common::open_store(&dir)?;
    crate::trust::adopt(&store, choice)?;
    let ctx = &Context {
        trust: choice.policy.clone(),
        ..ctx.clone()
    };
    let notary = crate::trust::notary(choice, crate::trust::signer()?.as_ref(), false)?;
    let opts = Options {
        batch_size: batch_size.max(1),
        until: Until::EndAtStart,
        notary,
        ..Options::default()
    };
    let stop = crate::common::stop_on_signals()?;
    let totals = ledger_projector::run(ctx, &mut source, &store, &opts, &stop, |_| {})?;
    Ok((store, totals))
}

pub fn replay(ctx: &Context, args: &ReplayArgs) -> Result<i32> {
    let choice = crate::trust::required()?;
    let (store, totals) = replay_into(ctx, choice, &args.input, &args.data, args.batch_size)?;
    crate::common::print_totals(&totals, args.json)?;
    let past_it = format!(
        "{} holds a partial replay: nothing replayed past it, and no digest; replay \
         builds a new store, so remove that directory (or give another --data) to replay again",
        args.data.display()
    );
    if let Some(code) = crate::common::interrupted(&totals, "replay", &past_it) {
        return Ok(code);
    }
    let (root, _) = store.digest()?;
    if !args.json {
        println!("digest {}", ledger_store::chain::hex(&root));
    }
    Ok(0)
}

#[derive(Args)]
pub struct DigestArgs {
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// The digest as a C2SP signed note (one line per partition: next
    /// offset, tree size, base64 root), signed with --signing-key: the
    /// projector's key, which must be the one its checkpoints carry.
    #[arg(long, conflicts_with = "json")]
    pub note: bool,
}

pub fn digest(args: &DigestArgs) -> Result<i32> {
    let store = open_existing_store(&args.data)?;
    if args.note {
        let Some(signer) = crate::trust::signer()? else {
            bail!("digest --note is signed with the projector's key: give --signing-key FILE");
        };
        let note = ledger_api::proofs::digest_note(&store, &signer)?;
        use std::io::Write as _;
        std::io::stdout().write_all(&note)?;
        return Ok(0);
    }
    let d = ledger_api::digest_json(&store)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(0);
    }
    println!("digest {}", d["digest"].as_str().unwrap_or_default());
    for p in d["partitions"].as_array().into_iter().flatten() {
        println!(
            "  partition {}: offsets [0, {}), {} items, head {}",
            p["partition"],
            p["next_offset"],
            p["items"],
            p["head"].as_str().unwrap_or_default()
        );
    }
    Ok(0)
}
