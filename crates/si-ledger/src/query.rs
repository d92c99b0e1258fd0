//! The read-side commands: `iin check`, `calendar`, `account`,
//! `accounts`, `dead-letters`.

use crate::common::{open_existing_store, output_done};
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_core::{check_id, mask_id, parse_date, Context, Iin, Statement};
use std::path::PathBuf;

pub fn iin_check(ctx: &Context, ids: &[String], json: bool) -> Result<i32> {
    // Today in the calendar's time zone: a birth date after it is a
    // mistyped century digit (6 for 4) more often than a person.
    let today = chrono::Utc::now()
        .with_timezone(&ctx.calendar.time_zone())
        .date_naive();
    let checks: Vec<_> = ids
        .iter()
        .map(|id| {
            let mut c = check_id(id);
            if let Some(born) = c.birth_date.filter(|b| *b > today) {
                c.warnings.push(format!(
                    "the birth date {born} is after today ({today}): a mistyped century digit? Contributions for months before it are returned"
                ));
            }
            c
        })
        .collect();
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
