//! `si-ledger bench replay`: how close the projector gets to the physical
//! limit of its storage engine on this machine.
//!
//! (a) raw: one batched read-modify-write per event over the same account
//!     keys in the same order, on a fresh store of the same engine, one
//!     atomic durable write per batch;
//! (b) replay: `si-ledger project` in a child process, from an embedded
//!     log into an empty store, writing everything a projection writes;
//! (c) both rates, their ratio, the projector's peak RSS and store bytes
//!     per event.

use crate::synth;
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_core::Context;
use ledger_projector::{Options, Until};
use ledger_store::LedgerStore;
use ledger_stream::EmbeddedLog;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The events and batches every benchmark runs on.
#[derive(Args)]
pub struct Population {
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Participants (default: events / 10).
    #[arg(long)]
    pub participants: Option<usize>,
    #[arg(long, default_value_t = ledger_projector::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
}

impl Population {
    pub(crate) fn participants(&self) -> usize {
        self.participants.unwrap_or((self.events / 10).max(1))
    }
}

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub population: Population,
    /// Working directory (default: a fresh temporary one, removed afterwards).
    #[arg(long, conflicts_with = "reuse")]
    pub dir: Option<PathBuf>,
    /// A directory an earlier `bench replay --dir` left: its log (and
    /// authorities) are projected again, into a new store in place of the
    /// one there, without generating them again (the population options
    /// are the log's, not these).
    #[arg(long, value_name = "DIR")]
    pub reuse: Option<PathBuf>,
    /// Rounds of the trees' cost (issue 27): each projects the log once
    /// without the partitions' trees and checkpoints, then once with
    /// them, alternating so that neither run always goes first.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
}

/// What a benchmark directory's log holds (`population.json`).
#[derive(serde::Serialize, serde::Deserialize)]
struct Generated {
    participants: usize,
    events: u64,
    signed: bool,
}

/// Every record's key, in the order the projector reads them (the
/// embedded source's polls of `batch`): what the raw rate replays.
fn keys_in_read_order(log: &EmbeddedLog, batch: usize) -> Result<Vec<[u8; 12]>> {
    use ledger_stream::Source as _;
    let mut source = log.source()?;
    let end: u64 = log.end_offsets()?.iter().sum();
    let mut keys = Vec::with_capacity(end as usize);
    let mut read = 0u64;
    while read < end {
        let records = source.poll(batch, std::time::Duration::ZERO)?;
        if records.is_empty() {
            anyhow::bail!("the log ended at {read} of {end} records");
        }
        read += records.len() as u64;
        // Control records (a month close's markers) reach no account.
        keys.extend(
            records
                .iter()
                .filter_map(|r| <[u8; 12]>::try_from(r.key.as_slice()).ok()),
        );
    }
    Ok(keys)
}

/// The benchmark's working directory: `--dir`, which must be new or empty
/// (a log there would be appended to), else the temporary one.
fn work_dir(dir: Option<&std::path::Path>, tmp: &tempfile::TempDir) -> Result<PathBuf> {
    let Some(dir) = dir else {
        return Ok(tmp.path().to_path_buf());
    };
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!("--dir {} is not empty: give a new directory", dir.display());
    }
    std::fs::create_dir_all(dir)?;
    Ok(dir.to_path_buf())
}

/// Generates the population's events into an embedded log in `dir/log`;
/// the log and how many events it holds.
fn publish_population(
    ctx: &Context,
    auth: Option<&crate::trust::Authorities>,
    population: &Population,
    dir: &std::path::Path,
) -> Result<(EmbeddedLog, u64)> {
    let participants = population.participants();
    let started = Instant::now();
    let log_dir = dir.join("log");
    let log = EmbeddedLog::open_or_create(&log_dir, population.partitions)?;
    let mut appender = log.appender()?;
    let mut events = 0u64;
    generate(ctx, auth, population.events, participants, |chunk| {
        let recs: Vec<(&[u8], i64, &[u8])> =
            chunk.iter().map(|(k, t, v)| (&k[..], *t, &v[..])).collect();
        appender.append(&recs)?;
        events += chunk.len() as u64;
        Ok(())
    })?;
    drop(appender);
    let log_bytes: u64 = std::fs::read_dir(&log_dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "generated {events} events for {participants} participants ({} MiB of log) in {:.1} s",
        log_bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok((log, events))
}

pub fn replay(ctx: &Context, args: &ReplayArgs) -> Result<i32> {
    let tmp = tempfile::tempdir()?;
    let dir = work_dir(args.dir.as_deref(), &tmp)?;
    let batch = args.population.batch_size.max(1);
    let opts = crate::common::store_options();
    let engine = opts.engine.unwrap_or(ledger_store::Engine::DEFAULT);

    // Generate and publish the log (not timed), or take an earlier one.
    let dir = args.reuse.clone().unwrap_or(dir);
    let data = dir.join("data");
    let generated = match &args.reuse {
        Some(_) => {
            let text = std::fs::read_to_string(dir.join("population.json"))
                .with_context(|| format!("--reuse {}: no population.json", dir.display()))?;
            for old in [crate::common::store_dir(&data), dir.join("raw")] {
                if old.exists() {
                    eprintln!("removing the earlier run's {}", old.display());
                    std::fs::remove_dir_all(&old)?;
                }
            }
            serde_json::from_str(&text).context("population.json")?
        }
        None => {
            let (ctx, auth) = signing(ctx)?;
            let (log, events) = publish_population(&ctx, auth.as_ref(), &args.population, &data)?;
            drop(log);
            if let Some(a) = &auth {
                a.write(&dir.join("authority"))?;
            }
            let g = Generated {
                participants: args.population.participants(),
                events,
                signed: auth.is_some(),
            };
            std::fs::write(dir.join("population.json"), serde_json::to_string(&g)?)?;
            g
        }
    };
    let events = generated.events;
    // The generator's memory, kept by the allocator (main.rs keeps freed
    // memory), goes back to the OS: the projector runs beside this process.
    // SAFETY: mi_collect only frees memory no allocation holds.
    unsafe { libmimalloc_sys::mi_collect(true) };

    // (b) the projector: `si-ledger project` in a child process, so that
    // its peak memory is the projector's own, not the generator's. It runs
    // with the engine, cache and trust given here, and the built-in
    // calendar, parameters and record-time and identifier settings: the
    // synthetic population's (the other global options are not passed on).
    // Timed from spawn to exit: start-up (opening the store, the trust
    // file) is counted, under a second. First without the partitions'
    // trees and checkpoints (issue 27's baseline, into a store of its
    // own), then as deployed, with them.
    let child = Child {
        dir: &dir,
        generated: &generated,
        engine,
        cache_mib: opts.cache_mib,
        batch,
    };
    // The log read once before anything is timed: every run reads it
    // from the page cache, the first as much as the last.
    let log_bytes = warm(&data.join("log"))?;
    eprintln!("log read once before timing: {} MiB", log_bytes >> 20);
    let baseline = dir.join("baseline");
    let (mut off_secs, mut on_secs) = (Vec::new(), Vec::new());
    let (mut off_cpu, mut on_cpu) = (0.0, 0.0);
    let (mut off_history, mut off_disk) = (0, 0);
    let (mut secs, mut rss, mut totals) = (0.0, 0.0, serde_json::Value::Null);
    for round in 1..=args.rounds {
        if baseline.exists() {
            std::fs::remove_dir_all(&baseline)?;
        }
        let store_dir = crate::common::store_dir(&data);
        if store_dir.exists() {
            std::fs::remove_dir_all(&store_dir)?;
        }
        let (s, _, _, cpu) = child.project(&baseline, true)?;
        eprintln!(
            "round {round}: without trees {events} events in {s:.2} s = {:.0} events/s, \
             {cpu:.1} CPU s",
            events as f64 / s
        );
        off_cpu += cpu;
        off_secs.push(s);
        let off_store = crate::common::open_store(&crate::common::store_dir(&baseline))?;
        (_, off_history) = off_store.value_bytes(b'H')?;
        off_disk = off_store.size_on_disk()?;
        drop(off_store);
        std::fs::remove_dir_all(&baseline)?;
        let cpu;
        (secs, rss, totals, cpu) = child.project(&data, false)?;
        eprintln!(
            "round {round}: with trees    {events} events in {secs:.2} s = {:.0} events/s, \
             {cpu:.1} CPU s",
            events as f64 / secs
        );
        on_cpu += cpu;
        on_secs.push(secs);
    }
    let off_eps = events as f64 * off_secs.len() as f64 / off_secs.iter().sum::<f64>();
    let on_eps = events as f64 * on_secs.len() as f64 / on_secs.iter().sum::<f64>();
    let range = |v: &[f64]| {
        let eps: Vec<f64> = v.iter().map(|s| events as f64 / s).collect();
        let (lo, hi) = eps
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), e| (lo.min(*e), hi.max(*e)));
        format!("{lo:.0}-{hi:.0}")
    };
    let records = totals["records"].as_u64().unwrap_or(0);
    let projector_eps = records as f64 / secs;
    eprintln!(
        "projector: {records} events in {secs:.2} s = {projector_eps:.0} events/s ({totals})"
    );
    let store = crate::common::open_store(&crate::common::store_dir(&data))?;
    let (accounts, account_bytes) = store.value_bytes(b'A')?;
    let (_, history_bytes) = store.value_bytes(b'H')?;
    let (tiles, tile_bytes) = store.value_bytes(b'K')?;
    let (checkpoints, checkpoint_bytes) = store.value_bytes(b'P')?;
    let per_event = |b: u64| b as f64 / events.max(1) as f64;
    eprintln!(
        "stored: {accounts} accounts, {} bytes per account record, {} history bytes per event",
        account_bytes / accounts.max(1),
        history_bytes / events.max(1)
    );
    // What the trees add per event: their tiles and checkpoints, and the
    // leaf index each history entry keeps (history bytes, on less off).
    let tlog_bytes = per_event(tile_bytes + checkpoint_bytes)
        + (per_event(history_bytes) - per_event(off_history));
    let cost_pct = (1.0 - on_eps / off_eps) * 100.0;
    let cpu_pct = (on_cpu / off_cpu - 1.0) * 100.0;
    eprintln!(
        "trees: {tiles} tiles ({:.1} bytes per event), {checkpoints} signed checkpoints \
         ({:.2} bytes per event), history {:+.1} bytes per event (leaf indexes): \
         {tlog_bytes:.1} bytes per event in all; over {} rounds {on_eps:.0} events/s with \
         them ({}), {off_eps:.0} without ({}): {cost_pct:.1}% slower; CPU time \
         {on_cpu:.0} s against {off_cpu:.0} s: {cpu_pct:+.1}%",
        per_event(tile_bytes),
        per_event(checkpoint_bytes),
        per_event(history_bytes) - per_event(off_history),
        args.rounds,
        range(&on_secs),
        range(&off_secs),
    );
    let disk = store.size_on_disk()?;
    drop(store);

    // (a) the engine's raw rate on the same keys, in the projector's order.
    let keys = keys_in_read_order(&EmbeddedLog::open(&data.join("log"))?, batch)?;
    let raw_eps = raw_rate(&dir.join("raw"), engine, opts.cache_mib, &keys, batch)?;
    eprintln!("raw {engine} read-modify-write: {raw_eps:.0} events/s");

    // (c) figures.
    println!(
        "store={engine} participants={} events={events} ratio={:.3} projector_eps={projector_eps:.0} \
         raw_eps={raw_eps:.0} peak_rss_mib={rss:.0} disk_bytes_per_event={:.0} \
         with_trees_eps={on_eps:.0} without_trees_eps={off_eps:.0} trees_cost_pct={cost_pct:.1} trees_cpu_pct={cpu_pct:.1} \
         tree_bytes_per_event={tlog_bytes:.1} disk_bytes_per_event_without_trees={:.0}",
        generated.participants,
        projector_eps / raw_eps,
        disk as f64 / events.max(1) as f64,
        off_disk as f64 / events.max(1) as f64
    );
    Ok(0)
}

/// Reads every file under `dir` once (the page cache then holds it):
/// the bytes read.
fn warm(dir: &Path) -> Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        n += if path.is_dir() {
            warm(&path)?
        } else {
            std::io::copy(&mut std::fs::File::open(&path)?, &mut std::io::sink())?
        };
    }
    Ok(n)
}

/// `si-ledger project` of a benchmark's log, in a child process.
struct Child<'a> {
    dir: &'a Path,
    generated: &'a Generated,
    engine: ledger_store::Engine,
    cache_mib: u64,
    batch: usize,
}

impl Child<'_> {
    /// Projects the whole log into `data` (`without_trees`: issue 27's
    /// baseline): the seconds from spawn to exit, the peak RSS (MiB), the
    /// `--json` totals and the CPU seconds (user and system) the child
    /// used. Fails unless every record was read.
    fn project(
        &self,
        data: &Path,
        without_trees: bool,
    ) -> Result<(f64, f64, serde_json::Value, f64)> {
        let mut child = std::process::Command::new(std::env::current_exe()?);
        // `--trust none` measures without signature checks, on any log.
        if self.generated.signed && !crate::trust::explicitly_open() {
            child
                .arg("--trust")
                .arg(self.dir.join("authority/trust.toml"))
                .arg("--signing-key")
                .arg(self.dir.join("authority/keys/projector.key"));
        } else {
            child.args(["--trust", "none"]);
        }
        child
            .args(["--store", self.engine.name(), "--cache-mib"])
            .arg(self.cache_mib.to_string())
            .args(["project", "--json", "--batch-size"])
            .arg(self.batch.to_string())
            .arg("--log")
            .arg(self.dir.join("data").join("log"))
            .arg("--data")
            .arg(data)
            .stderr(std::process::Stdio::inherit());
        if without_trees {
            child.arg("--bench-without-trees");
        }
        timed_child(child, self.generated.events)
    }
}

/// Runs `si-ledger project --json …` (`child`, its arguments set) to its
/// end: the seconds from spawn to exit, its peak RSS (MiB), its `--json`
/// totals and the CPU seconds (user and system) it used. Fails, so that no
/// figure is printed, unless it succeeded and read all `records`.
pub(crate) fn timed_child(
    mut child: std::process::Command,
    records: u64,
) -> Result<(f64, f64, serde_json::Value, f64)> {
    child.stdout(std::process::Stdio::piped());
    let cpu_before = children_cpu_secs();
    let t0 = Instant::now();
    let running = child.spawn().context("running si-ledger project")?;
    let peak = PeakRss::watch(running.id());
    let out = running
        .wait_with_output()
        .context("running si-ledger project")?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = children_cpu_secs() - cpu_before;
    let rss = peak.stop();
    if !out.status.success() {
        anyhow::bail!("the projector failed ({}): no figures", out.status);
    }
    let totals: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("the projector's --json totals")?;
    let read = totals["records"].as_u64().unwrap_or(0);
    if read != records {
        anyhow::bail!("the projector read {read} of {records} records: no figures");
    }
    Ok((secs, rss, totals, cpu))
}

/// User and system CPU seconds of every child waited for so far.
pub(crate) fn children_cpu_secs() -> f64 {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) } != 0 {
        return 0.0;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

#[derive(Args)]
pub struct MonthArgs {
    #[command(flatten)]
    pub population: Population,
    /// Working directory (default: a fresh temporary one, removed afterwards).
    #[arg(long, conflicts_with = "from")]
    pub dir: Option<PathBuf>,
    /// Close the month on a store `bench replay --dir DIR` left, instead
    /// of generating and projecting a population: its log and store
    /// (changed: the markers are appended and projected). Give its trust
    /// file and operator key: `--trust DIR/authority/trust.toml
    /// --signing-key DIR/authority/keys/operator.key`.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

/// Month close over a projected population: the time from the projector
/// reaching the markers to the last projection and summary written, and
/// how much the close added to the process's peak memory.
pub fn month(ctx: &Context, args: &MonthArgs) -> Result<i32> {
    let tmp = tempfile::tempdir()?;
    let opts = Options {
        batch_size: args.population.batch_size.max(1),
        until: Until::EndAtStart,
        ..Options::default()
    };
    let (ctx, operator, log, store) = match &args.from {
        Some(from) => {
            let data = from.join("data");
            let log = EmbeddedLog::open(&data.join("log"))
                .with_context(|| format!("--from {}: its log", from.display()))?;
            let store = crate::common::open_existing_store_to_write(&data)?;
            let operator = crate::trust::signer_for("month_closed")?;
            (ctx.clone(), operator, log, store)
        }
        None => {
            let dir = work_dir(args.dir.as_deref(), &tmp)?.join("data");
            let (ctx, auth) = signing(ctx)?;
            let (log, _) = publish_population(&ctx, auth.as_ref(), &args.population, &dir)?;
            let store = crate::common::open_store(&crate::common::store_dir(&dir))?;
            let (totals, eps) = timed_projection(&ctx, &log, &store, &opts)?;
            eprintln!("projected {} events at {eps:.0} events/s", totals.records);
            (ctx, auth.as_ref().map(|a| a.key("operator")), log, store)
        }
    };
    let ctx = &ctx;
    // The busiest period of the generated events.
    let mut by_period: std::collections::BTreeMap<ledger_core::Period, u64> = Default::default();
    store.for_each_account(|_, a| {
        for (p, t) in &a.periods {
            *by_period.entry(*p).or_default() += u64::from(t.lines);
        }
    })?;
    let period = by_period
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(p, _)| *p)
        .context("the population has no contribution lines")?;
    let marker = ledger_proto::monthly::encode_month_closed(period, "bench", operator.as_deref());
    let mut appender = log.appender()?;
    // Recorded now, as `close-month` records it: the operator's key is
    // judged valid or not at the marker's record time.
    let now = chrono::Utc::now().timestamp_millis();
    for p in 0..log.partitions() {
        appender.append_to(
            p,
            &[(
                ledger_proto::monthly::MONTH_CLOSED_KEY,
                now,
                marker.as_slice(),
            )],
        )?;
    }
    drop(appender);
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let t0 = Instant::now();
    let (closed, _) = timed_projection(ctx, &log, &store, &opts)?;
    // A marker dead-lettered (unauthorized, or broken) closes nothing: no
    // figure for a close that did not happen.
    if closed.months_closed != u64::from(log.partitions()) {
        anyhow::bail!(
            "{} of {} partitions closed {period}: {}",
            closed.months_closed,
            log.partitions(),
            crate::common::totals_line(&closed)
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    let rss_after = peak_rss_mib().unwrap_or(0.0);
    let (accounts, _) = store.value_bytes(b'A')?;
    println!(
        "month={period} accounts={accounts} projections={} close_seconds={secs:.2} \
         projections_per_s={:.0} peak_rss_mib_before={rss_before:.0} peak_rss_mib_after={rss_after:.0}",
        closed.projections,
        closed.projections as f64 / secs
    );
    Ok(0)
}

/// One read-modify-write per event of a 256-byte value under an account-like
/// key, on a fresh store of `engine`, coalesced into one atomic, durable
/// write per batch: the engine's own rate on the projector's keys.
fn raw_rate(
    path: &std::path::Path,
    engine: ledger_store::Engine,
    cache_mib: u64,
    keys: &[[u8; 12]],
    batch: usize,
) -> Result<f64> {
    use ledger_store::Kv as _;
    let kv = ledger_store::DiskKv::open(
        path,
        &ledger_store::OpenOptions {
            engine: Some(engine),
            cache_mib,
        },
    )
    .context("opening the raw store")?;
    let t0 = Instant::now();
    for chunk in keys.chunks(batch) {
        let mut pending: std::collections::HashMap<[u8; 17], Vec<u8>> =
            std::collections::HashMap::new();
        for k in chunk {
            let mut key = [0u8; 17];
            key[0] = b'A';
            key[5..].copy_from_slice(k);
            let mut value = match pending.remove(&key) {
                Some(v) => v,
                None => kv.get(&key)?.unwrap_or_else(|| vec![0u8; 256]),
            };
            let n = u64::from_le_bytes(value[..8].try_into().expect("8 bytes")) + 1;
            value[..8].copy_from_slice(&n.to_le_bytes());
            pending.insert(key, value);
        }
        let mut b = ledger_store::KvBatch::default();
        for (k, v) in pending {
            b.put(k.to_vec(), v);
        }
        kv.write(b)?;
    }
    Ok(keys.len() as f64 / t0.elapsed().as_secs_f64())
}

/// A child process's peak resident set size (its VmHWM), read every
/// 50 ms until it exits. Not `getrusage(RUSAGE_CHILDREN)`: that counts
/// the child between fork and exec, when it still maps the generator's
/// memory.
pub(crate) struct PeakRss {
    done: std::sync::Arc<AtomicBool>,
    watcher: std::thread::JoinHandle<f64>,
}

impl PeakRss {
    pub(crate) fn watch(pid: u32) -> PeakRss {
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let stop = std::sync::Arc::clone(&done);
        let watcher = std::thread::spawn(move || {
            let mut peak = 0.0f64;
            let status = format!("/proc/{pid}/status");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(mib) = vm_hwm_mib(&status) {
                    peak = peak.max(mib);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            peak
        });
        PeakRss { done, watcher }
    }

    /// The peak seen, MiB.
    pub(crate) fn stop(self) -> f64 {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        self.watcher.join().unwrap_or(0.0)
    }
}

/// VmHWM from a `/proc/…/status` file, MiB.
fn vm_hwm_mib(status: &str) -> Option<f64> {
    let status = std::fs::read_to_string(status).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    vm_hwm_mib("/proc/self/status")
}

/// The benchmark population's events, `events` of them, generated month by
/// month and handed to `sink` a month at a time as (IIN, timestamp ms,
/// `Envelope` bytes): the same events for every benchmark.
pub(crate) fn generate(
    ctx: &Context,
    auth: Option<&crate::trust::Authorities>,
    events: usize,
    participants: usize,
    mut sink: impl FnMut(&[([u8; 12], i64, Vec<u8>)]) -> Result<()>,
) -> Result<()> {
    let months = (events / participants).max(1) as u32 + 1;
    let mut gen = synth::Synth::new(7, participants, months, ctx.calendar.clone());
    let mut done = 0;
    let keys = auth.map(|a| a.keyring());
    let mut signed = 0usize;
    let mut emit = |items: Vec<synth::Item>, done: &mut usize| -> Result<()> {
        let items = &items[..items.len().min(events - *done)];
        // Encoded a slice at a time: a month of 9 million participants
        // would otherwise be held twice.
        for items in items.chunks(65_536) {
            let chunk: Vec<([u8; 12], i64, Vec<u8>)> = items
                .iter()
                .map(|it| {
                    // Issue 15: privileged records signed by their authority.
                    let mut wire = it.wire.clone();
                    let kind = ledger_proto::envelope_from_wire(&wire)
                        .map(|e| e.event.kind())
                        .unwrap_or("");
                    if let Some(signer) = keys.as_ref().and_then(|k| k.for_kind(kind)) {
                        ledger_proto::sign_envelope(&mut wire, signer);
                        signed += 1;
                    }
                    (
                        <[u8; 12]>::try_from(it.wire.iin.as_bytes()).expect("12-digit IIN"),
                        it.timestamp_ms,
                        ledger_proto::encode_envelope(&wire),
                    )
                })
                .collect();
            *done += chunk.len();
            sink(&chunk)?;
        }
        Ok(())
    };
    emit(gen.registrations(), &mut done)?;
    let mut m = 0;
    while done < events {
        emit(gen.month(m), &mut done)?;
        m += 1;
    }
    eprintln!(
        "signed {signed} privileged records of {done} ({:.1}%){}",
        100.0 * signed as f64 / done.max(1) as f64,
        if auth.is_none() {
            " (--trust none: unsigned)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The benchmarks' authorities (one fresh key each) and the context that
/// trusts them; none under `--trust none`, to measure without signatures.
pub(crate) fn signing(ctx: &Context) -> Result<(Context, Option<crate::trust::Authorities>)> {
    if crate::trust::explicitly_open() {
        return Ok((ctx.clone(), None));
    }
    let auth = crate::trust::Authorities::generate()?;
    let ctx = Context {
        trust: auth.policy.clone(),
        ..ctx.clone()
    };
    Ok((ctx, Some(auth)))
}

/// The Kafka benchmarks' cluster, client settings and population.
#[derive(Args)]
pub struct OnBrokers {
    /// Bootstrap brokers of the cluster to measure (a local broker: `scripts/broker start`).
    #[arg(long)]
    pub brokers: String,
    #[command(flatten)]
    pub population: Population,
    #[command(flatten)]
    pub kafka: crate::cluster::ClientArgs,
}

/// Publishes the population's events (`generate`) to `topic`, created here
/// with `population.partitions` partitions: the count published.
pub(crate) fn publish_to_topic(
    ctx: &Context,
    auth: Option<&crate::trust::Authorities>,
    cluster: &ledger_kafka::Cluster,
    topic: &str,
    population: &Population,
) -> Result<u64> {
    let times =
        ledger_kafka::timestamp_configs(&ctx.record_times, chrono::Utc::now().timestamp_millis());
    ledger_kafka::create_topics(cluster, topic, population.partitions, 1, &times)?;
    let mut publisher = ledger_kafka::Publisher::new(cluster, topic)?;
    let mut events = 0u64;
    let t0 = Instant::now();
    generate(
        ctx,
        auth,
        population.events,
        population.participants(),
        |chunk| {
            let recs: Vec<(&[u8], Option<i64>, &[u8])> = chunk
                .iter()
                .map(|(k, t, v)| (&k[..], Some(*t), &v[..]))
                .collect();
            publisher.publish(&recs)?;
            events += chunk.len() as u64;
            Ok(())
        },
    )?;
    eprintln!(
        "published {events} events to {topic} ({} partitions) in {:.1} s (not timed)",
        population.partitions,
        t0.elapsed().as_secs_f64()
    );
    Ok(events)
}

/// A Kafka benchmark's working directory: `dir`, or a fresh temporary
/// one (removed when the returned guard drops), with the population's
/// authorities written to `authority/` in it; and a topic of its own
/// named after `name`, the process and the time.
pub(crate) fn workdir(
    dir: Option<&std::path::Path>,
    auth: Option<&crate::trust::Authorities>,
    name: &str,
) -> Result<(tempfile::TempDir, PathBuf, String)> {
    let tmp = tempfile::tempdir()?;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.to_path_buf()
        }
        None => tmp.path().to_path_buf(),
    };
    if let Some(a) = auth {
        a.write(&dir.join("authority"))?;
    }
    let topic = format!(
        "{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    Ok((tmp, dir, topic))
}

/// `si-ledger project` on `on`'s brokers and `topic` in `group` into
/// `data`, as a benchmark's child: under the population's trust file and
/// the projector's key in `dir/authority` (`signed`), or `--trust none`;
/// with the benchmark's batch size and client settings.
pub(crate) fn projector_child(
    on: &OnBrokers,
    dir: &std::path::Path,
    signed: bool,
    topic: &str,
    group: &str,
    data: &std::path::Path,
) -> Result<std::process::Command> {
    let mut child = std::process::Command::new(std::env::current_exe()?);
    if signed {
        child
            .arg("--trust")
            .arg(dir.join("authority/trust.toml"))
            .arg("--signing-key")
            .arg(dir.join("authority/keys/projector.key"));
    } else {
        child.args(["--trust", "none"]);
    }
    child.args([
        "project",
        "--brokers",
        &on.brokers,
        "--topic",
        topic,
        "--group",
        group,
    ]);
    child
        .arg("--data")
        .arg(data)
        .arg("--batch-size")
        .arg(on.population.batch_size.to_string());
    if let Some(config) = &on.kafka.kafka_config {
        child.arg("--kafka-config").arg(config);
    }
    for setting in &on.kafka.kafka_setting {
        child.arg("-X").arg(setting);
    }
    Ok(child)
}

#[derive(Args)]
pub struct KafkaArgs {
    #[command(flatten)]
    pub on: OnBrokers,
    /// A second cluster measured in the same run, the same events: a
    /// secured one (TLS, SASL) with its own client settings.
    #[arg(long, requires = "secure_kafka_config")]
    pub secure_brokers: Option<String>,
    /// The client settings of --secure-brokers (a properties file, as
    /// --kafka-config).
    #[arg(long, value_name = "FILE", requires = "secure_brokers")]
    pub secure_kafka_config: Option<std::path::PathBuf>,
}

/// One cluster's figures in `bench kafka`.
struct OnKafka {
    name: &'static str,
    cluster: ledger_kafka::Cluster,
    topic: String,
    publisher: Option<ledger_kafka::Publisher>,
    publish_secs: f64,
}

/// `si-ledger bench kafka`: on one set of events, per cluster (the plain
/// one, and the secured one if given), (1) publisher throughput, (2) a
/// bare consumer's rate, (3) the Kafka-path projector's rate; and (4) the
/// embedded-path projector's rate, which each Kafka rate is compared with.
pub fn kafka(ctx: &Context, args: &KafkaArgs) -> Result<i32> {
    let (ctx, auth) = signing(ctx)?;
    let ctx = &ctx;
    let tmp = tempfile::tempdir()?;
    let participants = args.on.population.participants();
    let times =
        ledger_kafka::timestamp_configs(&ctx.record_times, chrono::Utc::now().timestamp_millis());
    let mut clusters = vec![("kafka", args.on.kafka.cluster(&args.on.brokers)?)];
    if let (Some(brokers), Some(config)) = (&args.secure_brokers, &args.secure_kafka_config) {
        let secure = crate::cluster::ClientArgs {
            kafka_config: Some(config.clone()),
            kafka_setting: Vec::new(),
        };
        clusters.push(("tls", secure.cluster(brokers)?));
    }
    let mut runs = Vec::new();
    for (name, cluster) in clusters {
        let topic = format!(
            "bench-{name}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        ledger_kafka::create_topics(&cluster, &topic, args.on.population.partitions, 1, &times)?;
        let publisher = Some(ledger_kafka::Publisher::new(&cluster, &topic)?);
        runs.push(OnKafka {
            name,
            cluster,
            topic,
            publisher,
            publish_secs: 0.0,
        });
    }
    let log = EmbeddedLog::open_or_create(&tmp.path().join("log"), args.on.population.partitions)?;
    let mut appender = log.appender()?;
    let mut n = 0usize;
    generate(
        ctx,
        auth.as_ref(),
        args.on.population.events,
        participants,
        |chunk| {
            let recs: Vec<(&[u8], i64, &[u8])> =
                chunk.iter().map(|(k, t, v)| (&k[..], *t, &v[..])).collect();
            appender.append(&recs)?;
            let kafka: Vec<(&[u8], Option<i64>, &[u8])> =
                recs.iter().map(|(k, t, v)| (*k, Some(*t), *v)).collect();
            for run in &mut runs {
                let t0 = Instant::now();
                if let Some(p) = run.publisher.as_mut() {
                    p.publish(&kafka)?;
                }
                run.publish_secs += t0.elapsed().as_secs_f64();
            }
            n += chunk.len();
            Ok(())
        },
    )?;
    drop(appender);

    let opts = Options {
        batch_size: args.on.population.batch_size.max(1),
        until: Until::EndAtStart,
        signer: auth.as_ref().map(|a| a.key("projector")),
        ..Options::default()
    };
    let store = crate::common::open_store(&tmp.path().join("embedded-store"))?;
    let (e, embedded_eps) = timed_projection(ctx, &log, &store, &opts)?;
    eprintln!("embedded projector: {}", crate::common::totals_line(&e));
    let mut line = Vec::new();
    let mut figures = Vec::new();
    for run in &mut runs {
        drop(run.publisher.take());
        let publish_eps = n as f64 / run.publish_secs;
        eprintln!(
            "{}: published {n} events to {}: {publish_eps:.0} events/s",
            run.name, run.topic
        );
        let t0 = Instant::now();
        let consumed = ledger_kafka::drain(
            &run.cluster,
            &run.topic,
            args.on.population.partitions,
            n as u64,
        )?;
        let raw_consume_eps = consumed as f64 / t0.elapsed().as_secs_f64();
        eprintln!(
            "{}: bare consumer: {consumed} records, {raw_consume_eps:.0} records/s",
            run.name
        );
        let store = crate::common::open_store(&tmp.path().join(format!("{}-store", run.name)))?;
        let resume_store = store.clone();
        let resume: ledger_kafka::ResumeAt =
            std::sync::Arc::new(move |p| resume_store.offset(p).ok().flatten().unwrap_or(0));
        let source_opts = ledger_kafka::SourceOptions::default();
        let mut source = ledger_kafka::KafkaSource::new(
            &run.cluster,
            &run.topic,
            "bench",
            resume,
            &source_opts,
        )?;
        // Dead letters go to the topic's .dlq, as in `si-ledger project`.
        let mut outputs = ledger_kafka::KafkaOutputs::new(&run.cluster, &run.topic)?;
        let t0 = Instant::now();
        let k = ledger_projector::run_with_sink(
            ctx,
            &mut source,
            &store,
            &mut outputs,
            &opts,
            &AtomicBool::new(false),
            |_| {},
        )?;
        let kafka_eps = k.records as f64 / t0.elapsed().as_secs_f64();
        drop(source);
        eprintln!("{} projector: {}", run.name, crate::common::totals_line(&k));
        if (k.applied, k.duplicates, k.dead_letters) != (e.applied, e.duplicates, e.dead_letters) {
            anyhow::bail!(
                "the {} and embedded projections disagree: {k:?} vs {e:?}",
                run.name
            );
        }
        line.push(format!(
            "{}_ratio={:.3}",
            run.name,
            kafka_eps / embedded_eps
        ));
        figures.push(format!(
            "{0}_eps={kafka_eps:.0} {0}_raw_consume_eps={raw_consume_eps:.0} {0}_publish_eps={publish_eps:.0}",
            run.name
        ));
    }
    println!(
        "{} {} embedded_eps={embedded_eps:.0}",
        line.join(" "),
        figures.join(" ")
    );
    Ok(0)
}

/// Projects the embedded log into `store`: the totals and events per second.
fn timed_projection(
    ctx: &Context,
    log: &EmbeddedLog,
    store: &LedgerStore<ledger_store::DiskKv>,
    opts: &Options,
) -> Result<(ledger_projector::Totals, f64)> {
    let mut source = log.source()?;
    let t0 = Instant::now();
    let totals = ledger_projector::run(
        ctx,
        &mut source,
        store,
        opts,
        &AtomicBool::new(false),
        |_| {},
    )?;
    let eps = totals.records as f64 / t0.elapsed().as_secs_f64();
    Ok((totals, eps))
}
