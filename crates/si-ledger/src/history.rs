//! `si-ledger history <IIN>`: every record that touched an account, in log
//! order, with where it sits in the log, when the log recorded it, the
//! event's own dates and what the ledger did with it.

use crate::common::{open_existing_store, output_done};
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_api::{log_time, Views};
use ledger_core::{mask_id, Iin};
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

pub fn run(ctx: &ledger_core::Context, args: &HistoryArgs) -> Result<i32> {
    let iin = Iin::parse(&args.iin).with_context(|| format!("IIN {}", mask_id(&args.iin)))?;
    let store = open_existing_store(&args.data)?;
    let ctx = &crate::trust::reading_context(ctx, &store)?;
    let views = Views {
        store: &store,
        held: None,
    };
    let (p, entries) = views.history(&iin)?;
    let mut out = String::new();
    if args.json {
        let all: Vec<serde_json::Value> = entries.iter().map(|e| e.to_json(ctx)).collect();
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
    for e in &entries {
        let h = &e.stored;
        let dates: Vec<String> = e
            .envelope()
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
            e.envelope().event.kind(),
            e.envelope().event_id.as_str(),
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
