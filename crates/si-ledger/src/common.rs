//! What the commands share: the store a data directory holds, stopping on
//! signals, how a run's totals and its end are reported.

use anyhow::{bail, Context as _, Result};
use ledger_projector::Totals;
use ledger_store::{DiskKv, Kv as _, LedgerStore, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub fn store_dir(data: &Path) -> PathBuf {
    data.join("store")
}

/// How this process opens stores: `--store` and `--cache-mib`, set once
/// by `main` before any command runs.
static STORE_OPTIONS: std::sync::OnceLock<OpenOptions> = std::sync::OnceLock::new();

pub fn set_store_options(opts: OpenOptions) {
    // Set once, from the command line; a second call would be a bug.
    assert!(STORE_OPTIONS.set(opts).is_ok(), "store options set twice");
}

/// This process's `--store` and `--cache-mib`.
pub fn store_options() -> OpenOptions {
    STORE_OPTIONS.get().copied().unwrap_or_default()
}

/// Opens (or creates) the store in `dir` with this process's `--store`
/// and `--cache-mib`.
pub fn open_store(dir: &Path) -> Result<LedgerStore<DiskKv>> {
    LedgerStore::open_with(dir, &store_options())
        .with_context(|| format!("opening store {}", dir.display()))
}

/// Opens an existing store for a command that only reads it; refuses to
/// create one where a reader expected data. A store this process may not
/// write (an evidence copy on a read-only mount) is read from a private
/// copy, and the command says so on standard error.
pub fn open_existing_store(data: &Path) -> Result<LedgerStore<DiskKv>> {
    let dir = existing_store_dir(data)?;
    let store = LedgerStore::open_to_read(&dir, &store_options())
        .with_context(|| format!("opening store {}", dir.display()))?;
    if let Some(copy) = store.backend().read_copy() {
        eprintln!(
            "note: store {} cannot be written here (a read-only mount?) and {} cannot open a \
             store without writing to it: reading a private copy in {} (removed at exit)",
            dir.display(),
            store.backend().engine(),
            copy.display()
        );
    }
    store.check_scheme()?;
    store.check_restores()?;
    Ok(store)
}

/// Opens an existing store to write it (never a copy).
pub fn open_existing_store_to_write(data: &Path) -> Result<LedgerStore<DiskKv>> {
    let store = open_store(&existing_store_dir(data)?)?;
    store.check_scheme()?;
    store.check_restores()?;
    Ok(store)
}

/// The store directory in `data`, if it holds a store.
fn existing_store_dir(data: &Path) -> Result<PathBuf> {
    require_store(data)?;
    Ok(store_dir(data))
}

/// Fails with "no store at …" unless `data` holds a store, without opening
/// it (a running server or projector may hold it): for commands that read
/// files beside the store, so that a mistyped path is not read as "nothing".
pub fn require_store(data: &Path) -> Result<()> {
    let dir = store_dir(data);
    if ledger_store::engine_of(&dir)?.is_none() {
        bail!(
            "no store at {} (run `si-ledger project --data {}` first)",
            dir.display(),
            data.display()
        );
    }
    Ok(())
}

/// The last stopping signal received (0: none).
fn last_signal() -> &'static Arc<std::sync::atomic::AtomicUsize> {
    static LAST: std::sync::OnceLock<Arc<std::sync::atomic::AtomicUsize>> =
        std::sync::OnceLock::new();
    LAST.get_or_init(Default::default)
}

/// SIGTERM, SIGINT and SIGHUP (its terminal gone) set the returned flag: a
/// projector finishes its
/// batch, flushes, and stops (leaving its consumer group on Kafka). One
/// flag per process, installed on the first call: a signal received before
/// a later stage starts still stops it.
/// The signals that stop a run between batches or lines.
pub const STOPPING: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
];

pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    if let Some(stop) = STOP.get() {
        return Ok(Arc::clone(stop));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in STOPPING {
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
    let (name, code) = stopping_signal();
    let at: Vec<String> = t
        .unfinished
        .iter()
        .map(|u| format!("partition {} offset {} of {}", u.partition, u.next, u.end))
        .collect();
    eprintln!(
        "{what} interrupted by {name} at {}; {past_it}",
        at.join(", ")
    );
    Some(code)
}

/// The signal that stopped the run, and the exit code it gives (130 for
/// SIGINT, 143 for SIGTERM).
pub fn stopping_signal() -> (&'static str, i32) {
    let signal = last_signal().load(std::sync::atomic::Ordering::SeqCst) as i32;
    let name = match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "a stop",
    };
    (name, if signal > 0 { 128 + signal } else { 130 })
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

/// The end of a command's output: a reader that went away early (`| head`)
/// is not an error of ours.
pub fn output_done(written: std::io::Result<()>) -> Result<i32> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
