//! `si-ledger history <IIN>`: every record that touched an account, in log
//! order, with where it sits in the log, when the log recorded it, the
//! event's own dates and what the ledger did with it.

use crate::query::{log_time, open_existing_store, output_done};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use ledger_core::{mask_id, Iin};
use ledger_store::HistoryEntry;
use std::path::PathBuf;

#[derive(Args)]
pub struct HistoryArgs {
    /// The participant's IIN.
    pub iin: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
}

fn json(h: &HistoryEntry) -> serde_json::Value {
    let dates: serde_json::Map<String, serde_json::Value> = h
        .envelope
        .event
        .dates()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    serde_json::json!({
        "seq": h.seq,
        "event_id": h.envelope.event_id.as_str(),
        "kind": h.envelope.event.kind(),
        "source": h.envelope.source,
        "partition": h.position.partition,
        "offset": h.position.offset,
        "recorded_at": log_time(h.timestamp_ms),
        "dates": dates,
        "outcome": h.outcome.name(),
        "late": h.outcome.is_late(),
        "reason": h.outcome.reason(),
    })
}

pub fn run(args: &HistoryArgs) -> Result<i32> {
    let iin = Iin::parse(&args.iin).with_context(|| format!("IIN {}", mask_id(&args.iin)))?;
    let store = open_existing_store(&args.data)?;
    let Some(p) = store.partition_of(&iin)? else {
        bail!("the store at {} is empty", args.data.display())
    };
    let entries = store.history(p, &iin)?;
    if entries.is_empty() {
        bail!("no history for IIN {} (partition {p})", iin.masked());
    }
    let mut out = String::new();
    if args.json {
        let all: Vec<serde_json::Value> = entries.iter().map(json).collect();
        out = serde_json::to_string_pretty(&all)?;
        out.push('\n');
        return write_out(&out);
    }
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "history of {} (partition {p}), {} records",
        iin.masked(),
        entries.len()
    );
    for h in &entries {
        let dates: Vec<String> = h
            .envelope
            .event
            .dates()
            .into_iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let mut outcome = h.outcome.name().to_string();
        if h.outcome.is_late() {
            outcome.push_str(" (late)");
        }
        if let Some(r) = h.outcome.reason() {
            outcome.push_str(": ");
            outcome.push_str(r);
        }
        let _ = writeln!(
            out,
            "{:>4}  p{}@{:<8} {}  {:<16} {}  [{}]  {}",
            h.seq,
            h.position.partition,
            h.position.offset,
            log_time(h.timestamp_ms),
            h.envelope.event.kind(),
            h.envelope.event_id.as_str(),
            dates.join(", "),
            outcome
        );
    }
    write_out(&out)
}

fn write_out(s: &str) -> Result<i32> {
    use std::io::Write as _;
    output_done(std::io::stdout().lock().write_all(s.as_bytes()))
}
