//! `si-ledger import mt102`: banks' MT102 payment orders published as
//! contribution lines, through the same sinks as `publish`. The files are
//! read by `ledger-mt102` (pure); this module reads the files, prints
//! what became of each order and sends the envelopes.
//!
//! Orders are sent whole in chunks of about [`CHUNK`] lines: an order is
//! reported imported only once its chunk is acknowledged. A run stopped
//! by a signal or a failed send says how far it got; importing the same
//! files again is safe, since event ids come from the orders' content.

use crate::publish::{RecordSink, Target};
use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use ledger_core::Money;
use ledger_mt102::{Encoding, Item, Options, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// MT102 payment orders (banks' files to the State Corporation): one
    /// contribution line per person of each 012 or 017 order. Exit 2 when
    /// anything was refused (the rest is imported).
    Mt102(Mt102Args),
}

#[derive(Args)]
pub struct Mt102Args {
    #[command(flatten)]
    pub to: Target,
    /// The day the money reached the State Corporation's account
    /// (YYYY-MM-DD), which the recording deadline counts from; default:
    /// each order's :32A: value date.
    #[arg(long, value_name = "DATE")]
    pub received_on: Option<String>,
    /// The envelopes' source; default: the payer's bank BIC (:52B:), else
    /// `mt102`.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// auto, utf-8, cp866, cp1251 or kz1048.
    #[arg(long, default_value = "auto")]
    pub encoding: String,
    /// CSV of `rnn,iin` rows (a header row may lead): the IIN or BIN of
    /// each RNN of the RNN era's lines and payers.
    #[arg(long, value_name = "CSV")]
    pub rnn_map: Option<PathBuf>,
    /// Check and report only; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object per order (and per refused file or stray text),
    /// then a summary object.
    #[arg(long)]
    pub json: bool,
    /// MT102 files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// About as many lines as `publish` sends at once; an order is never split.
const CHUNK: usize = 8192;

/// What one order came to, as reported.
#[derive(Serialize)]
struct Report<'a> {
    file: &'a str,
    encoding: Option<Encoding>,
    #[serde(flatten)]
    outcome: &'a Outcome,
    /// Lines to be published (imported, or would be in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    imported: Option<usize>,
    dry_run: bool,
}

/// A file refused whole, or text outside any message.
#[derive(Serialize)]
struct Stray<'a> {
    file: &'a str,
    outcome: &'static str,
    line: Option<u32>,
    reason: &'a str,
}

/// What a file, or the whole run, came to.
#[derive(Serialize, Default, Clone)]
struct Counts {
    orders: u64,
    orders_imported: u64,
    /// Orders imported short of lines refused alone.
    orders_short: u64,
    orders_refused: u64,
    /// Orders under other purpose codes, by code.
    skipped: BTreeMap<String, u64>,
    lines_imported: u64,
    lines_refused: u64,
    /// The imported lines' sum (KZT).
    sum: Money,
    /// Text outside any message.
    stray: u64,
    /// Orders whose receipt day is their :32A: date (no --received-on).
    received_on_from_32a: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) -> Result<()> {
        self.orders += o.orders;
        self.orders_imported += o.orders_imported;
        self.orders_short += o.orders_short;
        self.orders_refused += o.orders_refused;
        for (k, n) in &o.skipped {
            *self.skipped.entry(k.clone()).or_default() += n;
        }
        self.lines_imported += o.lines_imported;
        self.lines_refused += o.lines_refused;
        self.sum = self.sum.checked_add(o.sum).context("the sum overflows")?;
        self.stray += o.stray;
        self.received_on_from_32a += o.received_on_from_32a;
        Ok(())
    }

    /// One line: orders, lines, sum, refusals.
    fn human(&self, dry_run: bool) -> String {
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let verb = if dry_run {
            "valid (dry run)"
        } else {
            "imported"
        };
        format!(
            "{}, {} {verb} ({} with lines refused), {} refused, {} skipped{}; {} {verb}, {} \
             KZT; {} refused; stray text: {}",
            count(self.orders, "order"),
            self.orders_imported,
            self.orders_short,
            self.orders_refused,
            self.skipped.values().sum::<u64>(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join(", "))
            },
            count(self.lines_imported, "line"),
            self.sum,
            count(self.lines_refused, "line"),
            self.stray,
        )
    }
}

/// What one file came to (`--json`: `"outcome": "file"`).
#[derive(Serialize)]
struct FileSummary<'a> {
    file: &'a str,
    outcome: &'static str,
    encoding: Encoding,
    encoding_reason: &'a str,
    #[serde(flatten)]
    counts: &'a Counts,
    dry_run: bool,
}

/// What the run did.
#[derive(Serialize, Default)]
struct Summary {
    files: u64,
    files_refused: u64,
    #[serde(flatten)]
    counts: Counts,
    dry_run: bool,
    interrupted: bool,
}

/// Refusals for stderr: `FILE:LINE: :20: REF /NUM/ N: field: reason`.
fn named(file: &str, id: &ledger_mt102::order::OrderId, why: &ledger_mt102::Refusal) -> String {
    format!("{file}:{}: {}: {why}", why.line, id.label())
}

/// `1 order`, `2 orders`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

struct Run<'a> {
    args: &'a Mt102Args,
    sink: Option<Box<dyn RecordSink>>,
    chunk: Vec<(Vec<u8>, Vec<u8>)>,
    /// Reports of the orders in `chunk`, printed once it is acknowledged.
    pending: Vec<String>,
    /// The last order acknowledged: file and line.
    acknowledged: Option<(String, u32)>,
    /// A chunk is being sent (what a failed send leaves unknown).
    sending: bool,
    /// The file being read.
    file: Counts,
    /// What of it was sent and acknowledged (what an interrupted run
    /// counts).
    file_acked: Counts,
    summary: Summary,
}

impl Run<'_> {
    fn say(&mut self, line: String) {
        if self.sink.is_some() {
            self.pending.push(line);
        } else {
            println!("{line}");
        }
    }

    fn flush(&mut self, last: Option<(&str, u32)>) -> Result<()> {
        if let Some(sink) = self.sink.as_deref_mut() {
            if !self.chunk.is_empty() {
                let recs: Vec<(&[u8], Option<i64>, &[u8])> = self
                    .chunk
                    .iter()
                    .map(|(k, v)| (&k[..], None, &v[..]))
                    .collect();
                self.sending = true;
                sink.send(&recs)?;
                self.sending = false;
            }
            for l in self.pending.drain(..) {
                println!("{l}");
            }
            if let Some((f, n)) = last {
                self.acknowledged = Some((f.to_string(), n));
            }
        }
        self.file_acked = self.file.clone();
        self.chunk.clear();
        Ok(())
    }

    fn how_far(&self) -> String {
        let done = match &self.acknowledged {
            Some((f, n)) => {
                format!("the orders up to the one at {f}:{n} were imported and acknowledged")
            }
            None => "no order was acknowledged".into(),
        };
        let rest = if self.sending {
            "the orders after it were being sent and may be partly published"
        } else {
            "nothing after it was published"
        };
        format!(
            "{done}; {rest}. Importing the same files again is safe: event ids come from each \
             order's content, and the projector counts a line it holds as a duplicate"
        )
    }

    fn order(&mut self, file: &str, enc: Encoding, outcome: &Outcome) -> Result<()> {
        let s = &mut self.file;
        s.orders += 1;
        let mut imported = None;
        let human = match outcome {
            Outcome::Imported(o) => {
                imported = Some(o.envelopes.len());
                s.orders_imported += 1;
                s.lines_imported += o.envelopes.len() as u64;
                s.lines_refused += o.refused.len() as u64;
                s.sum = s.sum.checked_add(o.sum).context("the sum overflows")?;
                if !o.refused.is_empty() {
                    s.orders_short += 1;
                }
                if o.received_on_from == ":32A:" {
                    s.received_on_from_32a += 1;
                }
                for r in &o.refused {
                    eprintln!("{}", named(file, &o.id, r));
                }
                for (iin, e) in &o.envelopes {
                    self.chunk.push((
                        iin.as_str().as_bytes().to_vec(),
                        ledger_proto::encode_envelope(e),
                    ));
                }
                format!(
                    "{file}:{}: {} {}: {} of {} lines {}, {} of {} KZT; received on {}{}",
                    o.id.line,
                    o.id.label(),
                    o.ppc,
                    o.envelopes.len(),
                    o.line_count,
                    if self.args.dry_run {
                        "valid (dry run)"
                    } else {
                        "imported"
                    },
                    o.sum,
                    o.total,
                    o.received_on,
                    if o.received_on_from == ":32A:" {
                        " (its :32A: date)"
                    } else {
                        ""
                    },
                )
            }
            Outcome::Skipped { id, ppc } => {
                *s.skipped.entry(ppc.clone()).or_default() += 1;
                format!(
                    "{file}:{}: {}: skipped: purpose code {ppc} is not a social \
                     contribution (012) or its penalty (017)",
                    id.line,
                    id.label(),
                )
            }
            Outcome::Refused { id, why } => {
                s.orders_refused += 1;
                eprintln!("{}", named(file, id, why));
                format!(
                    "{file}:{}: {}: refused whole (line {}: {why})",
                    id.line,
                    id.label(),
                    why.line,
                )
            }
        };
        let line = if self.args.json {
            serde_json::to_string(&Report {
                file,
                encoding: Some(enc),
                outcome,
                imported,
                dry_run: self.args.dry_run,
            })?
        } else {
            human
        };
        self.say(line);
        Ok(())
    }

    fn stray(&mut self, file: &str, line: Option<u32>, reason: &str) -> Result<()> {
        match line {
            Some(n) => eprintln!("{file}:{n}: {reason}"),
            None => eprintln!("{file}: {reason}"),
        }
        let out = if self.args.json {
            serde_json::to_string(&Stray {
                file,
                outcome: "refused",
                line,
                reason,
            })?
        } else {
            match line {
                Some(n) => format!("{file}:{n}: refused: {reason}"),
                None => format!("{file}: refused: {reason}"),
            }
        };
        self.say(out);
        Ok(())
    }
}

pub fn run(_ctx: &ledger_core::Context, cmd: &ImportCommand) -> Result<i32> {
    let ImportCommand::Mt102(args) = cmd;
    let stop = crate::common::stop_on_signals()?;
    let encoding = Encoding::parse(&args.encoding).map_err(anyhow::Error::msg)?;
    let received_on = args
        .received_on
        .as_deref()
        .map(|d| ledger_core::time::parse_date(d).with_context(|| format!("--received-on {d:?}")))
        .transpose()?;
    if let Some(source) = &args.source {
        // The ledger's own rule for a source (no control characters,
        // bounded), as every envelope's is checked.
        let probe = ledger_proto::v1::Envelope {
            source: source.clone(),
            ..Default::default()
        };
        ledger_proto::texts::check_texts(&probe)
            .map_err(|e| anyhow::anyhow!("--source: {}", e.reason))?;
    }
    let opts = Options {
        received_on,
        source: args.source.clone(),
        rnn_map: args.rnn_map.as_deref().map(rnn_map).transpose()?,
    };
    let sink = if args.dry_run {
        None
    } else {
        Some(args.to.sink()?)
    };
    let mut run = Run {
        args,
        sink,
        chunk: Vec::new(),
        pending: Vec::new(),
        acknowledged: None,
        sending: false,
        file: Counts::default(),
        file_acked: Counts::default(),
        summary: Summary {
            dry_run: args.dry_run,
            ..Summary::default()
        },
    };
    let result = import_all(&mut run, encoding, &opts, &stop);
    if let Err(e) = result {
        if !args.dry_run {
            eprintln!("import failed: {}", run.how_far());
        }
        return Err(e);
    }
    let s = &run.summary;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "summary": s }))?
        );
    } else {
        println!(
            "{} ({} refused): {}",
            count(s.files, "file"),
            s.files_refused,
            s.counts.human(args.dry_run)
        );
        if s.counts.received_on_from_32a > 0 {
            println!(
                "{} taken as received on the :32A: value date; give \
                 --received-on for the day the money reached the account, which the \
                 recording deadline counts from",
                count(s.counts.received_on_from_32a, "order")
            );
        }
    }
    if s.interrupted {
        let (signal, code) = crate::common::stopping_signal();
        eprintln!(
            "import interrupted by {signal}: {}",
            if args.dry_run {
                "nothing was published (dry run)".into()
            } else {
                run.how_far()
            }
        );
        return Ok(code);
    }
    let c = &s.counts;
    let refused = c.orders_refused + c.lines_refused + s.files_refused + c.stray;
    Ok(if refused > 0 { 2 } else { 0 })
}

fn import_all(
    run: &mut Run<'_>,
    encoding: Option<Encoding>,
    opts: &Options,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    for path in &run.args.files {
        let file = path.display().to_string();
        run.summary.files += 1;
        // Not a FIFO or a device: opening one may wait forever, deaf to
        // signals, and its bytes are not a file to import again.
        match std::fs::metadata(path) {
            Ok(md) if !md.is_file() => {
                run.summary.files_refused += 1;
                run.stray(
                    &file,
                    None,
                    "is not a regular file (a directory, a FIFO or a device)",
                )?;
                continue;
            }
            _ => {}
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                run.summary.files_refused += 1;
                run.stray(&file, None, &format!("cannot be read: {e}"))?;
                continue;
            }
        };
        let decoded = match ledger_mt102::decode(&bytes, encoding) {
            Ok(d) => d,
            Err(e) => {
                run.summary.files_refused += 1;
                run.stray(&file, None, &e.0)?;
                continue;
            }
        };
        drop(bytes);
        if !run.args.json {
            run.say(format!("{file}: {} ({})", decoded.encoding, decoded.why));
        }
        run.file = Counts::default();
        run.file_acked = Counts::default();
        let mut last = None;
        for item in ledger_mt102::messages(&decoded.text) {
            if stop.load(Ordering::Relaxed) {
                // The chunk read so far is dropped unsent: the summary
                // counts what was acknowledged.
                run.summary.interrupted = true;
                let acked = std::mem::take(&mut run.file_acked);
                run.summary.counts.add(&acked)?;
                return Ok(());
            }
            match item {
                Item::Stray { line, reason } => {
                    run.file.stray += 1;
                    run.stray(&file, Some(line), &reason)?;
                }
                Item::Message(m) => {
                    let outcome = ledger_mt102::read(&m, opts);
                    run.order(&file, decoded.encoding, &outcome)?;
                    last = Some(m.line);
                    if run.chunk.len() >= CHUNK {
                        run.flush(last.map(|n| (file.as_str(), n)))?;
                    }
                }
            }
        }
        // The file's summary is printed with its last chunk, once that
        // is acknowledged.
        let counts = std::mem::take(&mut run.file);
        let line = if run.args.json {
            serde_json::to_string(&FileSummary {
                file: &file,
                outcome: "file",
                encoding: decoded.encoding,
                encoding_reason: &decoded.why,
                counts: &counts,
                dry_run: run.args.dry_run,
            })?
        } else {
            format!("{file}: {}", counts.human(run.args.dry_run))
        };
        run.say(line);
        run.flush(last.map(|n| (file.as_str(), n)))?;
        run.summary.counts.add(&counts)?;
    }
    Ok(())
}

/// `--rnn-map`: `rnn,iin` rows; a first row that is not an RNN is a
/// header. A bad row stops the run before anything is read.
fn rnn_map(path: &Path) -> Result<HashMap<String, String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening --rnn-map {}", path.display()))?;
    let mut map = HashMap::new();
    for (i, row) in r.records().enumerate() {
        let row = row.with_context(|| format!("--rnn-map {}", path.display()))?;
        let line = row.position().map_or(i as u64 + 1, |p| p.line());
        let (Some(rnn), Some(id), None) = (row.get(0), row.get(1), row.get(2)) else {
            bail!(
                "--rnn-map {} line {line}: must be two columns, rnn,iin",
                path.display()
            );
        };
        if i == 0 && !rnn.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if rnn.len() != 12 || !rnn.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "--rnn-map {} line {line}: the RNN must be 12 digits, got {}",
                path.display(),
                ledger_core::id::mask_id(rnn)
            );
        }
        let id = ledger_core::PayerId::parse(id).map_err(|e| {
            anyhow::anyhow!(
                "--rnn-map {} line {line}: {}: {e}",
                path.display(),
                ledger_core::id::mask_id(id)
            )
        })?;
        if map
            .insert(rnn.to_string(), id.as_str().to_string())
            .is_some()
        {
            bail!(
                "--rnn-map {} line {line}: RNN {} is given twice",
                path.display(),
                ledger_core::id::mask_id(rnn)
            );
        }
    }
    Ok(map)
}
