//! The projector: the one small loop of the ledger.
//!
//! ```text
//! poll a batch → decode (pure) → load touched accounts → apply (pure)
//!   → write accounts (with their event-id refs) + history + dead letters
//!     + offsets in ONE atomic store write, flushed → only then acknowledge
//! ```
//!
//! The write and flush run on a writer thread while the next batch is
//! decided; at most one write is in flight. Offsets live in the store beside
//! the state, so a crash at any instant resumes from the last flushed batch:
//! nothing lost, nothing counted twice.

mod batch;
pub mod monthly;

pub use batch::{decide_batch, BatchOutcome, Overlay, Tlog};

use ledger_core::Context;
use ledger_store::{Kv, LedgerStore, StoreError, WriteBatch};
use ledger_stream::{Source, SourceError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing: {0}")]
    Publish(String),
}

/// Where a projector's outputs go besides the store (which keeps all of
/// them but a merge's forwards): the Kafka path publishes dead letters to
/// `<topic>.dlq`, monthly projections to `<topic>.monthly`, notices to
/// `<topic>.notices` and forwards to `<topic>`. Each call returns only once its records
/// are durable there.
///
/// Dead letters are handed over before their batch's store write, so a
/// crash in between publishes them again (at least once; each carries its
/// original partition and offset to tell repeats apart). Projections are
/// handed over as a month close writes them, and the partition's summary
/// before the close is marked done: a close interrupted by a crash runs
/// again and publishes the same bytes under the same keys and revisions.
pub trait Sink {
    /// The store keeps them in any case; a sink publishing them elsewhere
    /// overrides this.
    fn dead_letters(&mut self, _letters: &[ledger_store::DeadLetter]) -> Result<(), String> {
        Ok(())
    }
    /// (key, value) records for `<topic>.monthly`: projections keyed by
    /// IIN, summaries keyed `summary/<partition>`. Kept by the store too.
    fn monthly(&mut self, _records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        Ok(())
    }
    /// (payer id, notice) records for `<topic>.notices`: returned lines and
    /// refund decisions (`ledger_proto::notices`), handed over before their
    /// batch's store write, like dead letters. Kept by the store too.
    fn notices(&mut self, _records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        Ok(())
    }
    /// (key, value) records for the input log itself: a merge's transfer
    /// to the identifier it merges into (seed `002_…`), handed over before
    /// the batch's store write. Appended at least once; the receiving
    /// account takes each event id once. No default: the store does not
    /// keep these, so a sink that drops them (a replay from an archive, a
    /// rebuild: the live projector wrote them into the log, where the
    /// replay reads them) says so.
    fn forward(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String>;
}

/// A batch's notices as `<topic>.notices` records, keyed by payer id.
fn notice_records(w: &WriteBatch) -> Vec<(Vec<u8>, Vec<u8>)> {
    w.notices
        .iter()
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A batch's merge transfers signed with the projector's key, if it has
/// one. Ed25519 is deterministic: a batch decided again after a crash
/// hands over the same bytes.
fn signed(
    signer: Option<&ledger_core::authority::Signer>,
    forward: Vec<KeyValue>,
) -> Result<Vec<KeyValue>, ProjectError> {
    use prost::Message as _;
    let Some(signer) = signer else {
        return Ok(forward);
    };
    forward
        .into_iter()
        .map(|(k, v)| {
            let mut e = ledger_proto::v1::Envelope::decode(v.as_slice()).map_err(|e| {
                ProjectError::Publish(format!("re-reading a merge transfer to sign it: {e}"))
            })?;
            ledger_proto::sign_envelope(&mut e, signer);
            Ok((k, e.encode_to_vec()))
        })
        .collect()
}

/// A (key, value) record.
type KeyValue = (Vec<u8>, Vec<u8>);

/// The store alone keeps everything (the embedded path).
pub struct StoreOnly;

impl Sink for StoreOnly {
    fn forward(&mut self, _: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        Ok(())
    }
}

/// The embedded path's sink: the store keeps dead letters, notices and
/// projections; a merge's transfers are appended to the embedded log.
pub struct EmbeddedOutputs<'a>(pub &'a ledger_stream::EmbeddedLog);

impl Sink for EmbeddedOutputs<'_> {
    /// Appended durably (fsynced) under the log's append lock, stamped with
    /// the time of the append: the log's own record time.
    fn forward(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        let now = chrono::Utc::now().timestamp_millis();
        let batch: Vec<(&[u8], i64, &[u8])> = records
            .iter()
            .map(|(k, v)| (k.as_slice(), now, v.as_slice()))
            .collect();
        self.0
            .appender()
            .and_then(|mut a| a.append(&batch))
            .map(|_| ())
            .map_err(|e| format!("appending merge transfers to the log: {e}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Stop once every assigned partition reaches the end seen at start
    /// (Kafka's high watermark; [`Source::position`] past transaction
    /// markers counts) and a poll finds nothing more. A partition held by a
    /// transaction still open ([`Source::held`]) is waited for, with a
    /// warning after 5 s and every 30 s.
    EndAtStart,
    /// Keep polling until the stop flag is set.
    Stopped,
}

/// Records per batch unless told otherwise. One batch is one atomic store
/// write and one flush; on this 2-core machine 8192 replays about 10% faster
/// than 4096 (`si-ledger bench replay --batch-size`), and a batch is still
/// well under a second of work.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

#[derive(Debug, Clone)]
pub struct Options {
    /// Records per batch (one atomic write and one flush per batch).
    pub batch_size: usize,
    /// How long an empty poll waits before trying again.
    pub poll_wait: Duration,
    pub until: Until,
    /// The projector's own key (issue 15): merge transfers it writes to
    /// the log are signed with it. `None`: written unsigned (a deployment
    /// without a trust file, or a run whose sink drops them).
    pub signer: Option<Arc<ledger_core::authority::Signer>>,
    /// Signs each batch's checkpoints (issue 27): the deployment's origin
    /// with the projector's key. `None`: trees kept, nothing signed.
    pub notary: Option<Arc<ledger_store::tlog::Notary>>,
    /// Whether partitions' trees are kept at all: `false` only for
    /// `bench replay`'s baseline ([`Tlog::Off`]).
    pub trees: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: DEFAULT_BATCH_SIZE,
            poll_wait: Duration::from_millis(200),
            until: Until::EndAtStart,
            signer: None,
            notary: None,
            trees: true,
        }
    }
}

/// Counts of what the projector did, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub records: u64,
    pub applied: u64,
    pub returned: u64,
    pub refused: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// Records for merged identifiers, handed to the one they became.
    pub redirected: u64,
    pub dead_letters: u64,
    pub late: u64,
    /// Records below the stored offset that a source delivered again.
    pub redelivered: u64,
    /// Month-closed markers handled, and the projections they wrote.
    pub months_closed: u64,
    pub projections: u64,
    /// Projections restated by records for a closed period.
    pub restatements: u64,
    /// Records handed to the log by merges (see [`Sink::forward`]).
    pub forwarded: u64,
    pub batches: u64,
    /// A run that was to reach the end of the log ([`Until::EndAtStart`])
    /// but was stopped before it: each partition short of its end, with
    /// the next offset to apply and the end. Empty when the run finished.
    pub unfinished: Vec<Unfinished>,
}

impl Totals {
    /// Counts one record's outcome.
    pub fn count(&mut self, outcome: &ledger_core::Outcome) {
        use ledger_core::Outcome as O;
        match outcome {
            O::Applied { .. } => self.applied += 1,
            O::Returned { .. } => self.returned += 1,
            O::Refused { .. } => self.refused += 1,
            O::Duplicate => self.duplicates += 1,
            O::Conflict { .. } => self.conflicts += 1,
            O::Redirected { .. } => self.redirected += 1,
        }
        if outcome.is_late() {
            self.late += 1;
        }
    }
}

/// A partition a run stopped short of its end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unfinished {
    pub partition: u32,
    /// The first offset not applied.
    pub next: u64,
    /// The end the run was to reach.
    pub end: u64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.records += o.records;
        self.applied += o.applied;
        self.returned += o.returned;
        self.refused += o.refused;
        self.duplicates += o.duplicates;
        self.conflicts += o.conflicts;
        self.redirected += o.redirected;
        self.dead_letters += o.dead_letters;
        self.late += o.late;
        self.redelivered += o.redelivered;
        self.months_closed += o.months_closed;
        self.projections += o.projections;
        self.restatements += o.restatements;
        self.forwarded += o.forwarded;
        self.batches += o.batches;
    }
}

/// Where a batch of `chunk` leaves the store in each partition's log
/// ([`WriteBatch::tails`]): the last record it moves past (from `next`,
/// where the store stood, to `offsets`, where the batch takes it). A
/// redelivered record, below where the store stood, is none of them: the
/// same log gives the same tails, whatever the batches or crashes.
fn tails(
    chunk: &[ledger_stream::Record],
    next: &BTreeMap<u32, u64>,
    offsets: &[(u32, u64)],
) -> Vec<(u32, ledger_store::LogAnchor)> {
    let mut last: BTreeMap<u32, &ledger_stream::Record> = BTreeMap::new();
    for r in chunk {
        let from = next.get(&r.partition).copied().unwrap_or(0);
        let to = offsets
            .iter()
            .find(|(p, _)| *p == r.partition)
            .map(|(_, o)| *o);
        let later = last.get(&r.partition).is_none_or(|l| l.offset < r.offset);
        if r.offset >= from && to.is_some_and(|to| r.offset < to) && later {
            last.insert(r.partition, r);
        }
    }
    last.into_iter()
        .map(|(p, r)| {
            let anchor = ledger_store::LogAnchor {
                offset: r.offset,
                hash: ledger_stream::record_hash(r),
            };
            (p, anchor)
        })
        .collect()
}

/// Reads `source` into `store` until `opts.until` says stop. `progress` is
/// called after every flushed batch and after every poll that found
/// nothing, each time with no write in flight: a batch boundary, where the
/// store holds whole batches only (a snapshot taken there is consistent on
/// any engine); `stop` ends the loop between batches.
///
/// Two stages overlap: while a writer thread writes and flushes batch N,
/// this thread decides batch N+1 against the store plus batch N (the
/// overlay). At most one write is in flight, writes happen in batch order,
/// and a batch's offsets are acknowledged only after its flush.
pub fn run<S: Source, B: Kv>(
    ctx: &Context,
    source: &mut S,
    store: &LedgerStore<B>,
    opts: &Options,
    stop: &AtomicBool,
    progress: impl FnMut(&Totals),
) -> Result<Totals, ProjectError> {
    run_with_sink(ctx, source, store, &mut StoreOnly, opts, stop, progress)
}

/// How long a caught-up `--until-end` run waits short of its end before
/// it says what holds it back, and how often it says so again.
const HELD_FIRST_NOTICE: std::time::Duration = std::time::Duration::from_secs(5);
const HELD_NOTICE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Says (a warning, one line per partition) which transactions still open
/// hold back the partitions not yet at their targets ([`Source::held`]),
/// and since when this run has waited for each (`waiting`: the partition's
/// last stable offset and when the run first found it held there).
fn tell_held<S: Source>(
    source: &mut S,
    next: &BTreeMap<u32, u64>,
    targets: &BTreeMap<u32, u64>,
    waiting: &mut BTreeMap<u32, (u64, std::time::SystemTime)>,
) {
    for (p, target) in targets {
        if next.get(p).is_some_and(|n| n >= target)
            || source.position(*p).is_some_and(|at| at >= *target)
        {
            waiting.remove(p);
            continue;
        }
        match source.held(*p) {
            Some(held) => {
                let now = std::time::SystemTime::now();
                let since = match waiting.get(p) {
                    Some((stable, since)) if *stable == held.stable => *since,
                    _ => {
                        waiting.insert(*p, (held.stable, now));
                        now
                    }
                };
                let since = chrono::DateTime::<chrono::Utc>::from(since)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                tracing::warn!(
                    "waiting since {since} for the end of the log seen at start: {held}; \
                     they are read once it commits or aborts (the broker aborts it after \
                     the producer's transaction.timeout.ms)"
                );
            }
            None => tracing::info!(
                partition = p,
                target,
                "waiting for the end of the log seen at start"
            ),
        }
    }
}

/// [`run`], handing every batch's dead letters and every month close's
/// projections to `sink` (see [`Sink`]).
pub fn run_with_sink<S: Source, B: Kv>(
    ctx: &Context,
    source: &mut S,
    store: &LedgerStore<B>,
    sink: &mut dyn Sink,
    opts: &Options,
    stop: &AtomicBool,
    mut progress: impl FnMut(&Totals),
) -> Result<Totals, ProjectError> {
    let partitions = source.partition_count();
    store.check_or_init_meta(partitions)?;
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for p in source.assigned() {
        let offset = store.offset(p)?.unwrap_or(0);
        source.seek(p, offset)?;
        next.insert(p, offset);
    }
    let mut targets: BTreeMap<u32, u64> = source.end_offsets()?.into_iter().collect();
    // Reached once every partition's next offset, or the source's position
    // past transaction markers and aborted records, is at its target.
    let reached = |source: &mut S, next: &BTreeMap<u32, u64>, targets: &BTreeMap<u32, u64>| {
        next.iter().all(|(p, o)| {
            targets
                .get(p)
                .is_none_or(|t| o >= t || source.position(*p).is_some_and(|at| at >= *t))
        })
    };
    // Whether a merge wrote records to the log since the targets were
    // read: they lie past them, and `EndAtStart` projects them too, so one
    // run settles both identifiers.
    let mut forwarded = false;
    // The source's assignment generation `next` reflects: settled, since
    // nothing is in flight yet.
    let mut generation = source.generation();
    source.settled(generation);
    // Partitions whose log anchor is known to be in the store.
    let mut anchored: std::collections::BTreeSet<u32> = Default::default();
    let mut totals = Totals::default();
    std::thread::scope(|scope| {
        let (to_writer, batches) = mpsc::sync_channel::<Arc<WriteBatch>>(0);
        let tlog = if opts.trees {
            Tlog::On(opts.notary.as_deref())
        } else {
            Tlog::Off
        };
        let (written_tx, written) = mpsc::channel::<Result<(), StoreError>>();
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn_scoped(scope, move || {
                for batch in batches {
                    let result = store.write(&batch);
                    let failed = result.is_err();
                    if written_tx.send(result).is_err() || failed {
                        break;
                    }
                }
            });
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                return Err(StoreError::Backend(format!("starting the store writer: {e}")).into())
            }
        };
        // The batch being written, with its counts.
        let mut in_flight: Option<(Overlay, Totals)> = None;
        // Settles the batch in flight, then calls `progress` at the batch
        // boundary (no write in flight); an idle poll (`idle`) calls it too.
        let mut finish = |in_flight: &mut Option<(Overlay, Totals)>,
                          source: &mut S,
                          totals: &mut Totals,
                          idle: bool|
         -> Result<(), ProjectError> {
            if in_flight.is_none() && idle {
                progress(totals);
            }
            if let Some((overlay, counts)) = in_flight.take() {
                written
                    .recv()
                    .map_err(|_| StoreError::Backend("store writer stopped".into()))??;
                // Only after the flush: tell the source what is durably applied.
                source.acknowledge(&overlay.batch().offsets)?;
                totals.add(&counts);
                if !overlay.batch().dead_letters.is_empty() {
                    tracing::info!(
                        records = counts.records,
                        dead_letters = overlay.batch().dead_letters.len(),
                        "batch had dead letters (see `si-ledger dead-letters`)"
                    );
                }
                progress(totals);
            }
            Ok(())
        };
        let result = (|| -> Result<(), ProjectError> {
            // Whether the last poll came back empty.
            let mut drained = false;
            // When a caught-up run short of its targets last said what
            // holds it back (an open transaction).
            let mut told = Instant::now();
            let mut tell_after = HELD_FIRST_NOTICE;
            let mut waiting = BTreeMap::new();
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if opts.until == Until::EndAtStart && drained {
                    if reached(source, &next, &targets) {
                        if !forwarded {
                            break;
                        }
                        targets = source.end_offsets()?.into_iter().collect();
                        forwarded = false;
                    } else if told.elapsed() >= tell_after {
                        tell_held(source, &next, &targets, &mut waiting);
                        told = Instant::now();
                        tell_after = HELD_NOTICE_EVERY;
                    }
                }
                let records = source.poll(opts.batch_size, opts.poll_wait)?;
                if source.generation() != generation {
                    // A rebalance: once the batch in flight is written,
                    // every partition resumes where the store says (a
                    // standby may have moved a partition assigned now).
                    finish(&mut in_flight, source, &mut totals, false)?;
                    generation = source.generation();
                    next.clear();
                    anchored.clear();
                    for p in source.assigned() {
                        next.insert(p, store.offset(p)?.unwrap_or(0));
                    }
                    source.settled(generation);
                }
                drained = records.is_empty();
                if records.is_empty() {
                    // Nothing new: settle the batch in flight now rather than
                    // when the next records arrive (a follower may wait long).
                    finish(&mut in_flight, source, &mut totals, true)?;
                    continue;
                }
                // A partition first seen now (assigned after a rebalance)
                // resumes where the store says, whatever the source sends:
                // records below that were applied before.
                for r in &records {
                    if let std::collections::btree_map::Entry::Vacant(v) = next.entry(r.partition) {
                        v.insert(store.offset(r.partition)?.unwrap_or(0));
                    }
                    // The first record of a partition the store has no log
                    // anchor for names its log from now on (written ahead
                    // of its batch: it names the log whether or not the
                    // batch lands).
                    if anchored.insert(r.partition) && store.anchor(r.partition)?.is_none() {
                        let anchor = ledger_store::LogAnchor {
                            offset: r.offset,
                            hash: ledger_stream::record_hash(r),
                        };
                        store.set_anchor(r.partition, &anchor)?;
                    }
                }
                // A control record cuts the poll in two: what precedes it is
                // decided and written first, then it is handled alone, on a
                // store that holds everything before it.
                let mut start = 0;
                while start < records.len() {
                    let marker = records[start..]
                        .iter()
                        .position(|r| monthly::marker(r).is_some())
                        .map(|i| start + i);
                    let end = marker.unwrap_or(records.len());
                    if end > start {
                        let chunk = &records[start..end];
                        let overlay = in_flight.as_ref().map(|(o, _)| o);
                        let mut outcome =
                            decide_batch(ctx, store, overlay, partitions, &next, chunk, tlog)?;
                        outcome.write.tails = tails(chunk, &next, &outcome.write.offsets);
                        for (p, o) in &outcome.write.offsets {
                            next.insert(*p, *o);
                        }
                        if !outcome.write.dead_letters.is_empty() {
                            sink.dead_letters(&outcome.write.dead_letters)
                                .map_err(ProjectError::Publish)?;
                        }
                        if !outcome.forward.is_empty() {
                            let forward = signed(opts.signer.as_deref(), outcome.forward)?;
                            sink.forward(&forward).map_err(ProjectError::Publish)?;
                            forwarded = true;
                        }
                        if !outcome.write.notices.is_empty() {
                            sink.notices(&notice_records(&outcome.write))
                                .map_err(ProjectError::Publish)?;
                        }
                        if !outcome.write.projections.is_empty() {
                            sink.monthly(&monthly::restated(&outcome.write))
                                .map_err(ProjectError::Publish)?;
                        }
                        finish(&mut in_flight, source, &mut totals, false)?;
                        let batch = Arc::new(outcome.write);
                        to_writer
                            .send(Arc::clone(&batch))
                            .map_err(|_| StoreError::Backend("store writer stopped".into()))?;
                        in_flight = Some((Overlay::new(batch), outcome.counts));
                    }
                    let Some(m) = marker else { break };
                    let r = &records[m];
                    let expected = next.get(&r.partition).copied().unwrap_or(0);
                    if r.offset < expected {
                        totals.redelivered += 1;
                    } else {
                        finish(&mut in_flight, source, &mut totals, false)?;
                        let clock = store.clock(r.partition)?;
                        let counts = match monthly::judge_control(ctx, r, clock) {
                            Ok((control, verdict)) if !verdict.is_unauthorized() => {
                                monthly::handle(store, sink, r, control)?
                            }
                            // Issue 15: a marker without the operator's
                            // valid signature closes nothing: the event
                            // path dead-letters it, with the reason.
                            _ => {
                                let one = std::slice::from_ref(r);
                                let outcome =
                                    decide_batch(ctx, store, None, partitions, &next, one, tlog)?;
                                sink.dead_letters(&outcome.write.dead_letters)
                                    .map_err(ProjectError::Publish)?;
                                store.write(&outcome.write)?;
                                outcome.counts
                            }
                        };
                        next.insert(r.partition, r.offset + 1);
                        source.acknowledge(&[(r.partition, r.offset + 1)])?;
                        totals.add(&counts);
                    }
                    start = m + 1;
                }
            }
            finish(&mut in_flight, source, &mut totals, false)
        })();
        drop(to_writer);
        let _ = writer.join();
        result
    })?;
    // An interrupted run says so: the caller must not report it complete.
    if opts.until == Until::EndAtStart && !reached(source, &next, &targets) {
        totals.unfinished = next
            .iter()
            .filter_map(|(p, n)| {
                let end = *targets.get(p)?;
                let past = source.position(*p).is_some_and(|at| at >= end);
                (*n < end && !past).then_some(Unfinished {
                    partition: *p,
                    next: *n,
                    end,
                })
            })
            .collect();
    }
    Ok(totals)
}
