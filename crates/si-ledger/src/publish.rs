//! `si-ledger publish`: JSON lines in, checked, encoded as `Envelope`
//! protobuf and appended to the embedded log keyed by IIN. Every refused
//! line is reported with its number, field and reason; nothing invalid is
//! published.

use anyhow::{Context as _, Result};
use clap::Args;
use ledger_stream::{Appender, EmbeddedLog};
use std::io::BufRead;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct PublishArgs {
    /// The embedded log directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    /// Partitions of a new log (an existing log keeps its own).
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Validate only; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// JSON-lines file, or `-` for standard input.
    pub file: String,
}

/// What a publish did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PublishSummary {
    pub lines: u64,
    pub published: u64,
    pub refused: u64,
    pub dry_run: bool,
}

/// Lines are appended in chunks: one fsync per chunk, bounded memory.
const CHUNK: usize = 8192;

pub fn run(args: &PublishArgs) -> Result<i32> {
    let input: Box<dyn BufRead> = if args.file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f =
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut appender = if args.dry_run {
        None
    } else {
        Some(open_appender(&args.log, args.partitions)?)
    };
    let summary = publish_lines(input, appender.as_mut(), |line, e| {
        eprintln!("line {line}: {e}");
    })?;
    let summary = PublishSummary {
        dry_run: args.dry_run,
        ..summary
    };
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
    Ok(if summary.refused > 0 { 2 } else { 0 })
}

pub fn open_appender(dir: &Path, partitions: u32) -> Result<Appender> {
    let log = EmbeddedLog::open_or_create(dir, partitions)
        .with_context(|| format!("opening log {}", dir.display()))?;
    log.appender().context("opening the log for append")
}

/// Parses, checks and (given an appender) appends every line. Blank lines
/// are skipped; `refuse(line_number, error)` hears of every refused line.
pub fn publish_lines(
    input: impl BufRead,
    mut appender: Option<&mut Appender>,
    mut refuse: impl FnMut(u64, &ledger_proto::LineError),
) -> Result<PublishSummary> {
    let mut s = PublishSummary::default();
    let mut chunk: Vec<(Vec<u8>, Option<i64>, Vec<u8>)> = Vec::with_capacity(CHUNK);
    let mut flush =
        |chunk: &mut Vec<(Vec<u8>, Option<i64>, Vec<u8>)>, s: &mut PublishSummary| -> Result<()> {
            if let Some(app) = appender.as_deref_mut() {
                let now = chrono::Utc::now().timestamp_millis();
                let recs: Vec<(&[u8], i64, &[u8])> = chunk
                    .iter()
                    .map(|(k, t, v)| (&k[..], t.unwrap_or(now), &v[..]))
                    .collect();
                app.append(&recs).context("appending to the log")?;
                s.published += chunk.len() as u64;
            }
            chunk.clear();
            Ok(())
        };
    for (i, line) in input.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.with_context(|| format!("reading line {n}"))?;
        if line.trim().is_empty() {
            continue;
        }
        s.lines += 1;
        match ledger_proto::parse_line(&line) {
            Err(e) => {
                s.refused += 1;
                refuse(n, &e);
            }
            Ok(parsed) => {
                let ts = parsed.timestamp.map(|t| t.timestamp_millis());
                let key = parsed.envelope.iin.as_str().as_bytes().to_vec();
                chunk.push((key, ts, ledger_proto::encode_envelope(&parsed.wire)));
                if chunk.len() >= CHUNK {
                    flush(&mut chunk, &mut s)?;
                }
            }
        }
    }
    flush(&mut chunk, &mut s)?;
    Ok(s)
}
