//! Turning one polled batch into one store write. Reads the store, writes
//! nothing: the caller writes the result atomically.

use crate::Totals;
use ledger_core::Period;
use ledger_core::{
    apply as apply_event, partition_for, Account, ContentHash, Context, Event, Iin, Outcome,
    Position, Recorded,
};
use ledger_proto::monthly::{projection, Provenance, Summary};
use ledger_proto::v1 as pb;
use ledger_store::chain::{self, GENESIS};
use ledger_store::tlog::{self, Appender, Notary};
use ledger_store::{
    fingerprint, par_map, AccountRecord, ChainHead, DeadLetter, HistoryEntry, HistoryRef, Kv,
    LedgerStore, StoreError, WriteBatch,
};
use ledger_stream::Record;
use prost::Message as _;
use std::collections::{BTreeMap, HashMap};

/// A log record's key and value.
type KeyValue = (Vec<u8>, Vec<u8>);

/// One batch's write and its counts.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub write: WriteBatch,
    pub counts: Totals,
    /// (key, value) records for the input log itself: what merges hand to
    /// the identifier they merge into (seed `002_…`). Handed to the sink
    /// before the batch's write; a crash in between hands them again, and
    /// the receiving account takes each event id once.
    pub forward: Vec<(Vec<u8>, Vec<u8>)>,
}

fn dead(rec: &Record, kind: &str, error: String) -> DeadLetter {
    tracing::info!(
        partition = rec.partition,
        offset = rec.offset,
        kind,
        error = %error,
        "record dead-lettered"
    );
    DeadLetter {
        position: Position {
            partition: rec.partition,
            offset: rec.offset,
        },
        timestamp_ms: rec.timestamp_ms,
        key: rec.key.clone(),
        value: rec.value.clone(),
        kind: kind.to_string(),
        error,
        link: GENESIS,
        leaf: 0,
    }
}

/// Decides every record of a batch against the store's state as of the last
/// write (or the write in flight, `overlay`) plus the batch's own earlier
/// records. `next` holds each partition's next unapplied offset; records
/// below it were applied before and are skipped (a source redelivering
/// after a crash).
///
/// The stages, top to bottom; only [`load`] reads the store:
///
/// 1. [`decode`]: key, partition, value and time checks and the decode of
///    each record (in parallel: they need no state);
/// 2. [`load`]: everything the batch needs from the store, each key read
///    once, in key order: accounts, partition clocks and chain heads, the
///    history entries a duplicate check or a merge will read, closed-month
///    marks and the projections and summaries a restatement starts from;
/// 3. [`judge`]: each record's instant on its partition's clock, control
///    records' verdicts, privileged records' signatures (in parallel);
/// 4. per record in log order, [`apply`] (the domain fold), then
///    [`Chains`] (the partition hash chain) and [`Months::restate`] (a
///    closed month's projection and summary again);
/// 5. [`Chains::grow`]: each partition's tree extended by the batch's
///    leaves, and its checkpoint signed;
/// 6. the write: touched accounts, offsets, heads, clocks, tiles,
///    checkpoints.
pub fn decide_batch<B: Kv>(
    ctx: &Context,
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    partitions: u32,
    next: &BTreeMap<u32, u64>,
    records: &[Record],
    tlog: Tlog<'_>,
) -> Result<BatchOutcome, StoreError> {
    let mut out = BatchOutcome::default();
    let Decoded {
        todo,
        mut checked,
        offsets,
        redelivered,
    } = decode(ctx, partitions, next, records);
    out.counts.redelivered = redelivered;
    out.counts.records = todo.len() as u64;
    let mut loaded = load(store, overlay, &todo, &checked)?;
    let authorizations = judge(ctx, &todo, &mut checked, &mut loaded.clocks);

    let mut chains = Chains {
        heads: std::mem::take(&mut loaded.heads),
        leaves: BTreeMap::new(),
        trees: !matches!(tlog, Tlog::Off),
    };
    let mut months = Months {
        closed: std::mem::take(&mut loaded.closed),
        projections: std::mem::take(&mut loaded.projections),
        stored_summaries: std::mem::take(&mut loaded.summaries),
        summaries: HashMap::new(),
    };
    // This batch's history entries by (partition, offset): index into
    // `out.write.history`, for duplicates within one batch.
    let mut fresh: HashMap<(u32, u64), usize> = HashMap::with_capacity(todo.len());
    for ((rec, c), authorization) in todo.into_iter().zip(checked).zip(authorizations) {
        let ready = match c {
            Checked::Ready(ready) => *ready,
            Checked::Dead(kind, why) => {
                chains.dead(&mut out.write, dead(rec, kind, why));
                continue;
            }
            Checked::Control => unreachable!("judged above"),
        };
        let record = loaded
            .accounts
            .get_mut(&(rec.partition, ready.iin))
            .expect("every ready record's account was loaded");
        let event_id = ready.decoded.envelope.event_id.clone();
        let applied = apply(
            ctx,
            rec,
            ready,
            authorization,
            record,
            &loaded.entries,
            &out.write.history,
            &fresh,
        )?;
        let Applied {
            mut entry,
            stored_hash,
            period,
            notice,
            merge,
        } = applied;
        out.counts.count(&entry.outcome);
        if let Some(n) = notice {
            out.write.notices.push(n);
        }
        // The account chain, then the partition chain and tree, over the
        // entry.
        let preimage = chain::account_preimage(&record.head, &entry, &stored_hash);
        record.head = chain::sha256(&preimage);
        chains.update(&mut entry, &record.head, || {
            tlog::update_leaf(record.account.iin.as_str(), event_id.as_str(), &preimage)
        });
        let conflict = match &entry.outcome {
            Outcome::Conflict { reason } => Some(reason.clone()),
            _ => None,
        };
        let changed = matches!(
            entry.outcome,
            Outcome::Applied { .. } | Outcome::Returned { .. }
        );
        let p = rec.partition;
        fresh.insert((p, rec.offset), out.write.history.len());
        out.write.history.push(entry);
        if let (true, Some(period)) = (changed, period) {
            if months.restate(&mut out.write, p, period, record, rec.offset)? {
                out.counts.restatements += 1;
            }
        }
        match merge {
            Some(Merge::Closed) => {
                // Seed `002_…`: the history goes to the new identifier; what
                // the old one projected for closed months is restated to zero.
                let moved = merge_forward(
                    record,
                    &loaded.entries,
                    &out.write.history,
                    &fresh,
                    p,
                    rec.offset,
                )?;
                out.forward.extend(moved);
                let periods: Vec<Period> = record.account.periods.keys().copied().collect();
                for period in periods {
                    if months.restate(&mut out.write, p, period, record, rec.offset)? {
                        out.counts.restatements += 1;
                    }
                }
            }
            Some(Merge::Redirected) => {
                let merge = record
                    .account
                    .merged_into
                    .as_ref()
                    .expect("a redirect names the merge");
                let e = out.write.history.last().expect("pushed above");
                if let Some(t) = Transferred::of(e, true)? {
                    out.forward.push(forward(&record.account.iin, merge, t));
                }
            }
            None => {}
        }
        // A conflicting record is both an account update (recorded, no
        // effect) and a dead letter, chained in that order.
        if let Some(reason) = conflict {
            chains.dead(&mut out.write, dead(rec, "conflict", reason));
        }
    }
    // Accounts a batch only dead-lettered for were never loaded: nothing
    // of theirs is written.
    let mut touched: Vec<((u32, Iin), AccountRecord)> = loaded.accounts.into_iter().collect();
    touched.sort_unstable_by_key(|t| t.0);
    out.write.accounts = touched.into_iter().map(|((p, _), a)| (p, a)).collect();
    out.write.offsets = offsets.into_iter().collect();
    out.write.tiles = chains.grow(store, overlay, tlog, &mut out.write.checkpoints)?;
    out.write.heads = chains.heads.into_iter().collect();
    out.write.clocks = loaded
        .clocks
        .into_iter()
        .filter_map(|(p, c)| c.map(|c| (p, c)))
        .collect();
    out.counts.dead_letters = out.write.dead_letters.len() as u64;
    out.counts.forwarded = out.forward.len() as u64;
    out.counts.batches = 1;
    Ok(out)
}

/// A record that passed every check that needs no state: decided from the
/// record alone, so records are checked in parallel.
struct Ready {
    iin: Iin,
    decoded: ledger_proto::Decoded,
    timestamp: chrono::DateTime<chrono::Utc>,
}

/// What the stateless checks make of a record.
enum Checked {
    Ready(Box<Ready>),
    /// A control record that decodes, reaching the event path: judged
    /// once the partition's clock is known (dead-lettered either way).
    Control,
    /// The dead-letter kind and reason.
    Dead(&'static str, String),
}

/// Stage 1's result: the records to decide (redeliveries skipped), what
/// the checks made of each, and each partition's next offset after them.
struct Decoded<'r> {
    todo: Vec<&'r Record>,
    checked: Vec<Checked>,
    offsets: BTreeMap<u32, u64>,
    redelivered: u64,
}

/// Stage 1: skips records below `next` (applied before), then checks and
/// decodes the rest in parallel.
fn decode<'r>(
    ctx: &Context,
    partitions: u32,
    next: &BTreeMap<u32, u64>,
    records: &'r [Record],
) -> Decoded<'r> {
    let mut offsets: BTreeMap<u32, u64> = BTreeMap::new();
    let mut todo: Vec<&Record> = Vec::with_capacity(records.len());
    let mut redelivered = 0;
    for rec in records {
        let expected = offsets
            .get(&rec.partition)
            .or(next.get(&rec.partition))
            .copied()
            .unwrap_or(0);
        if rec.offset < expected {
            redelivered += 1;
            continue;
        }
        offsets.insert(rec.partition, rec.offset + 1);
        todo.push(rec);
    }
    let checked = par_map(&todo, |rec| check(ctx, rec, partitions));
    Decoded {
        todo,
        checked,
        offsets,
        redelivered,
    }
}

/// Key, partition, value and timestamp checks, and the decode: everything
/// about a record that needs no state.
fn check(ctx: &Context, rec: &Record, partitions: u32) -> Checked {
    let p = rec.partition;
    // A control record that decodes is handled by the loop; one that
    // reaches this path is dead-lettered below, with its verdict.
    if ledger_proto::monthly::is_control_key(&rec.key) {
        return match ledger_proto::monthly::decode_control(&rec.value) {
            Err(e) => Checked::Dead("bad_control", e),
            Ok(_) => Checked::Control,
        };
    }
    let parsed = std::str::from_utf8(&rec.key)
        .map_err(|_| "key: not UTF-8".to_string())
        .and_then(|k| Iin::parse(k).map_err(|e| format!("key: {e}")));
    let iin = match parsed {
        Ok(iin) => iin,
        Err(why) => return Checked::Dead("bad_key", why),
    };
    let wanted = partition_for(iin.as_bytes(), partitions);
    if wanted != p {
        let why = format!(
            "key {} belongs on partition {wanted}, not {p}",
            iin.masked()
        );
        return Checked::Dead("wrong_partition", why);
    }
    let decoded = match ledger_proto::decode_canonical(&rec.value) {
        Ok(x) => x,
        Err(e) => return Checked::Dead(e.kind(), e.to_string()),
    };
    if decoded.envelope.iin != iin {
        let why = format!(
            "iin {} differs from key {}",
            decoded.envelope.iin.masked(),
            iin.masked()
        );
        return Checked::Dead("key_mismatch", why);
    }
    // Inputs §4: one rule for the record time on every path.
    let timestamp = match ctx.record_times.check(rec.timestamp_ms) {
        Ok(t) => t,
        Err(why) => return Checked::Dead("bad_timestamp", why),
    };
    Checked::Ready(Box::new(Ready {
        iin,
        decoded,
        timestamp,
    }))
}

/// Stage 2's result: everything the batch reads, as the last write (or the
/// write in flight) left it.
#[derive(Default)]
struct Loaded {
    accounts: HashMap<(u32, Iin), AccountRecord>,
    /// Each partition's clock ([`ledger_store::WriteBatch::clocks`]).
    clocks: BTreeMap<u32, Option<i64>>,
    heads: BTreeMap<u32, ChainHead>,
    /// History entries a duplicate check may compare with (those whose
    /// event-id fingerprint matches a record's) and those a merge hands
    /// on (every entry of an account the batch merges away).
    entries: HashMap<(u32, u64), HistoryEntry>,
    /// Whether each (partition, period) the batch touches is closed: the
    /// closing marker's offset.
    closed: HashMap<(u32, Period), Option<u64>>,
    /// Latest projection (revision, bytes) of each participant the batch
    /// may restate, in a closed period.
    projections: HashMap<(u32, Period, Iin), (u32, Vec<u8>)>,
    /// Latest summary (revision, bytes) of each closed period touched.
    summaries: HashMap<(u32, Period), (u32, Vec<u8>)>,
}

/// Stage 2: reads what the batch needs, each key once, from the write in
/// flight if it holds it, else from the store (accounts and entries in
/// key order, in parallel).
fn load<B: Kv>(
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    todo: &[&Record],
    checked: &[Checked],
) -> Result<Loaded, StoreError> {
    let mut loaded = Loaded::default();
    for rec in todo {
        let p = rec.partition;
        if let std::collections::btree_map::Entry::Vacant(v) = loaded.clocks.entry(p) {
            v.insert(clock_of(store, overlay, p)?);
            let head = match overlay.and_then(|o| o.head(p)) {
                Some(h) => h,
                None => store.chain_head(p)?,
            };
            loaded.heads.insert(p, head);
        }
    }
    let ready = || {
        todo.iter().zip(checked).filter_map(|(rec, c)| match c {
            Checked::Ready(r) => Some((rec.partition, r.as_ref())),
            _ => None,
        })
    };

    // Accounts: each once; those the write in flight holds from it.
    let mut wanted: Vec<(u32, Iin)> = Vec::new();
    for (p, r) in ready() {
        let k = (p, r.iin);
        if let std::collections::hash_map::Entry::Vacant(v) = loaded.accounts.entry(k) {
            match overlay.and_then(|o| o.account(k.0, &k.1)) {
                Some(a) => {
                    v.insert(a.clone());
                }
                None => wanted.push(k),
            }
        }
    }
    // Key order: consecutive reads share tree nodes or blocks; an account
    // touched twice is read once.
    wanted.sort_unstable();
    wanted.dedup();
    let read = par_map(&wanted, |(p, iin)| store.account_record(*p, iin));
    for (k, r) in wanted.into_iter().zip(read) {
        let r = r?.unwrap_or_else(|| AccountRecord::new(Account::new(k.1)));
        loaded.accounts.insert(k, r);
    }

    // History entries: duplicate candidates, and what merges hand on.
    let mut entries: Vec<(u32, u64)> = Vec::new();
    let mut merged: Vec<(u32, Iin)> = Vec::new();
    for (p, r) in ready() {
        let account = &loaded.accounts[&(p, r.iin)];
        entries.extend(
            account
                .candidates(&r.decoded.envelope.event_id)
                .map(|o| (p, o)),
        );
        if matches!(r.decoded.envelope.event, Event::Merged(_)) {
            entries.extend(account.refs.iter().map(|h| (p, h.offset)));
            merged.push((p, r.iin));
        }
    }
    entries.sort_unstable();
    entries.dedup();
    let mut from_store = Vec::new();
    for (p, o) in entries {
        match overlay.and_then(|ov| ov.history_entry(p, o)) {
            Some(e) => {
                loaded.entries.insert((p, o), e.clone());
            }
            None => from_store.push((p, o)),
        }
    }
    let read = par_map(&from_store, |(p, o)| store.history_entry(*p, *o));
    for (k, e) in from_store.into_iter().zip(read) {
        if let Some(e) = e? {
            loaded.entries.insert(k, e);
        }
    }

    // Closed months, and what a restatement of one starts from.
    let mut periods: Vec<(u32, Period, Iin)> = ready()
        .filter_map(|(p, r)| Some((p, r.decoded.envelope.event.projection_period()?, r.iin)))
        .collect();
    for (p, iin) in merged {
        let account = &loaded.accounts[&(p, iin)];
        periods.extend(
            account
                .account
                .periods
                .keys()
                .map(|period| (p, *period, iin)),
        );
    }
    periods.sort_unstable();
    periods.dedup();
    for (p, period, iin) in periods {
        let closed = match loaded.closed.get(&(p, period)) {
            Some(c) => *c,
            None => {
                let c = store.closed(p, period)?.map(|(_, at)| at);
                loaded.closed.insert((p, period), c);
                if c.is_some() {
                    if let Some(s) = latest_summary(store, overlay, p, period)? {
                        loaded.summaries.insert((p, period), s);
                    }
                }
                c
            }
        };
        if closed.is_some() {
            if let Some(x) = latest_projection(store, overlay, p, period, &iin)? {
                loaded.projections.insert((p, period, iin), x);
            }
        }
    }
    Ok(loaded)
}

/// The latest projection of `iin` for `period`: the write in flight's, else
/// the store's.
fn latest_projection<B: Kv>(
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    partition: u32,
    period: Period,
    iin: &Iin,
) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
    let in_flight = overlay.and_then(|o| {
        o.batch()
            .projections
            .iter()
            .rev()
            .find(|(p, per, i, _, _)| *p == partition && *per == period && i == iin)
            .map(|(_, _, _, rev, b)| (*rev, b.clone()))
    });
    match in_flight {
        Some(x) => Ok(Some(x)),
        None => store.latest_projection(partition, period, iin),
    }
}

/// The latest summary of `period` on `partition`: the write in flight's,
/// else the store's.
fn latest_summary<B: Kv>(
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    partition: u32,
    period: Period,
) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
    let in_flight = overlay.and_then(|o| {
        o.batch()
            .summaries
            .iter()
            .rev()
            .find(|(p, per, _, _, _)| *p == partition && *per == period)
            .map(|(_, _, rev, _, b)| (*rev, b.clone()))
    });
    match in_flight {
        Some(x) => Ok(Some(x)),
        None => store.latest_summary(partition, period),
    }
}

/// `partition`'s clock as the last write, or the write in flight, left it.
pub(crate) fn clock_of<B: Kv>(
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    partition: u32,
) -> Result<Option<i64>, StoreError> {
    let in_flight = overlay.and_then(|o| {
        o.batch()
            .clocks
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, ms)| *ms)
    });
    match in_flight {
        Some(ms) => Ok(Some(ms)),
        None => store.clock(partition),
    }
}

/// Stage 3: advances each partition's clock record by record in log order
/// by the records that reach an account (cheap: no signature is checked
/// here), judges control records at the clock without moving it, then
/// checks each privileged record's signature at its instant (issue 15; in
/// parallel, open kinds return at once).
fn judge(
    ctx: &Context,
    todo: &[&Record],
    checked: &mut [Checked],
    clocks: &mut BTreeMap<u32, Option<i64>>,
) -> Vec<ledger_core::Authorization> {
    let mut at: Vec<Option<chrono::DateTime<chrono::Utc>>> = Vec::with_capacity(todo.len());
    for (rec, c) in todo.iter().zip(checked.iter_mut()) {
        let clock = clocks[&rec.partition];
        match c {
            Checked::Ready(r) => {
                let when = ledger_core::authority::judged_at(r.timestamp, clock);
                clocks.insert(rec.partition, Some(when.timestamp_millis()));
                at.push(Some(when));
            }
            Checked::Control => {
                let verdict = crate::monthly::judge_control(ctx, rec, clock);
                *c = match verdict {
                    Err(e) => Checked::Dead("bad_control", e),
                    Ok((_, ledger_core::Authorization::Unauthorized(why))) => {
                        Checked::Dead("unauthorized", why)
                    }
                    Ok(_) => Checked::Dead(
                        "bad_control",
                        "control record reached the event path".to_string(),
                    ),
                };
                at.push(None);
            }
            Checked::Dead(..) => at.push(None),
        }
    }
    match &ctx.trust {
        // No trust file: nothing to judge (`--trust none`).
        ledger_core::Policy::Open => vec![ledger_core::Authorization::Open; checked.len()],
        ledger_core::Policy::Enforced(_) => {
            let judged: Vec<(&Checked, Option<chrono::DateTime<chrono::Utc>>)> =
                checked.iter().zip(at.iter().copied()).collect();
            par_map(&judged, |(c, when)| match (c, when) {
                (Checked::Ready(r), Some(when)) => r.decoded.authorize(&ctx.trust, *when),
                _ => ledger_core::Authorization::Open,
            })
        }
    }
}

/// What a merge does besides the account update.
enum Merge {
    /// The account was merged away: its history goes to the new identifier.
    Closed,
    /// A record came after the close: it goes on to the new identifier.
    Redirected,
}

/// Stage 4's fold of one record: its history entry (not yet chained), the
/// hash the account chain covers, its period, its notice, and what a merge
/// does.
struct Applied {
    entry: HistoryEntry,
    stored_hash: [u8; 32],
    period: Option<Period>,
    notice: Option<(Position, Vec<u8>, Vec<u8>)>,
    merge: Option<Merge>,
}

/// Stage 4: applies one record to its account (the domain fold, pure),
/// after finding the content hash first recorded under its event id.
#[allow(clippy::too_many_arguments)]
fn apply(
    ctx: &Context,
    rec: &Record,
    ready: Ready,
    authorization: ledger_core::Authorization,
    record: &mut AccountRecord,
    loaded: &HashMap<(u32, u64), HistoryEntry>,
    batch: &[HistoryEntry],
    fresh: &HashMap<(u32, u64), usize>,
) -> Result<Applied, StoreError> {
    let Ready {
        decoded, timestamp, ..
    } = ready;
    let ledger_proto::Decoded {
        envelope,
        hash,
        canonical,
        signed,
        schema_id,
        ..
    } = decoded;
    // The chains cover the stored bytes, signature included
    // (docs/tamper-evidence.md §1); unsigned, they are the hashed ones.
    let stored_hash = match signed {
        None => hash.0,
        Some(_) => ledger_store::chain::sha256(&canonical),
    };
    let p = rec.partition;
    let period = envelope.event.projection_period();
    // An unauthorized record claims no event id: it is not looked up,
    // and `prior_hash` passes over it for the records after it.
    let prior = if authorization.is_unauthorized() {
        None
    } else {
        prior_hash(loaded, batch, fresh, p, record, &envelope)?
    };
    let position = Position {
        partition: p,
        offset: rec.offset,
    };
    let fp = fingerprint(&envelope.event_id);
    let recorded = Recorded {
        position,
        timestamp,
        content_hash: hash,
        event: envelope,
        authorization,
    };
    let outcome = apply_event(ctx, &mut record.account, &recorded, prior);
    record.refs.push(HistoryRef {
        offset: rec.offset,
        fingerprint: fp,
    });
    let entry = HistoryEntry {
        seq: record.account.history_len - 1,
        position,
        timestamp_ms: rec.timestamp_ms,
        event: canonical,
        outcome,
        link: GENESIS,
        schema_id,
        leaf: 0,
    };
    let notice = ledger_proto::notices::due(&recorded.event.event, &entry.outcome)
        .then(|| {
            ledger_proto::notices::notice(&entry.event, &entry.outcome, position, rec.timestamp_ms)
        })
        .flatten()
        .map(|n| {
            let (payer, value) = ledger_proto::notices::record(&n);
            (position, payer, value)
        });
    let merge = match (&recorded.event.event, &entry.outcome) {
        (Event::Merged(_), Outcome::Applied { .. }) => Some(Merge::Closed),
        (_, Outcome::Redirected { .. }) => Some(Merge::Redirected),
        _ => None,
    };
    Ok(Applied {
        entry,
        stored_hash,
        period,
        notice,
        merge,
    })
}

/// What a merge hands to the identifier it merges into: the opening (the
/// closing record itself, with the operator's signature: the new account
/// opens only a merge the operator signed, whoever holds the projector's
/// key), then each record of the closed account's history that took
/// effect.
fn merge_forward(
    record: &AccountRecord,
    loaded: &HashMap<(u32, u64), HistoryEntry>,
    batch: &[HistoryEntry],
    fresh: &HashMap<(u32, u64), usize>,
    p: u32,
    offset: u64,
) -> Result<Vec<KeyValue>, StoreError> {
    let merge = record
        .account
        .merged_into
        .as_ref()
        .expect("a merged account's close set it");
    let from = record.account.iin;
    let closing = &batch[fresh[&(p, offset)]];
    let opening = Transferred {
        event_id: format!("{}/into", merge.event_id),
        original: closing.event.clone(),
        position: merge.position,
        recorded_at_ms: closing.timestamp_ms,
        redirected: false,
    };
    let mut out = vec![forward(&from, merge, opening)];
    for offset in record.refs.iter().map(|r| r.offset) {
        let e = entry_at(loaded, batch, fresh, p, offset)?;
        if let Some(t) = Transferred::of(e, false)? {
            out.push(forward(&from, merge, t));
        }
    }
    Ok(out)
}

/// What a batch does for the partitions' transparency logs
/// (`ledger_store::tlog`).
#[derive(Debug, Clone, Copy)]
pub enum Tlog<'a> {
    /// Trees kept; a checkpoint signed per partition advanced when there
    /// is a notary (an origin and the projector's key).
    On(Option<&'a Notary>),
    /// No tree and no checkpoint: only `bench replay`'s baseline, whose
    /// store is thrown away (a store without its tree proves nothing).
    Off,
}

/// The partition chains as a batch extends them: each partition's head as
/// the last write (or the write in flight) left it, then advanced item by
/// item in log order; each item's leaf hash kept for the tree.
struct Chains {
    heads: BTreeMap<u32, ChainHead>,
    /// Per partition, the leaf hashes this batch adds, in order.
    leaves: BTreeMap<u32, Vec<chain::Link>>,
    trees: bool,
}

impl Chains {
    fn head(&mut self, p: u32) -> &mut ChainHead {
        self.heads
            .get_mut(&p)
            .expect("every partition's head was loaded")
    }

    /// Chains an account update: the entry's link is the partition chain's
    /// after the account's new head.
    fn update(
        &mut self,
        entry: &mut HistoryEntry,
        account_head: &chain::Link,
        leaf: impl FnOnce() -> Vec<u8>,
    ) {
        let p = entry.position.partition;
        let trees = self.trees;
        let head = self.head(p);
        head.link = chain::update_link(&head.link, account_head);
        // The baseline without trees keeps no leaf index either (0 encodes
        // in one byte), so `bench replay` weighs that too.
        entry.leaf = if trees { head.items } else { 0 };
        head.items += 1;
        entry.link = head.link;
        if self.trees {
            self.leaves
                .entry(p)
                .or_default()
                .push(tlog::leaf_hash(&leaf()));
        }
    }

    /// Chains a dead letter into its partition and keeps it.
    fn dead(&mut self, out: &mut WriteBatch, mut d: DeadLetter) {
        let p = d.position.partition;
        let trees = self.trees;
        let head = self.head(p);
        head.link = chain::dead_letter_link(&head.link, &d);
        d.leaf = if trees { head.items } else { 0 };
        head.items += 1;
        d.link = head.link;
        if self.trees {
            let h = tlog::leaf_hash(&tlog::dead_letter_leaf(&d));
            self.leaves.entry(p).or_default().push(h);
        }
        out.dead_letters.push(d);
    }

    /// Extends each partition's tree by the batch's leaves, from its edge
    /// as the write in flight or the store left it: the tiles to write,
    /// and (with a notary) each advanced partition's signed checkpoint.
    fn grow<B: Kv>(
        &mut self,
        store: &LedgerStore<B>,
        overlay: Option<&Overlay>,
        tlog: Tlog<'_>,
        checkpoints: &mut Vec<(u32, u64, Vec<u8>)>,
    ) -> Result<Vec<tlog::TileWrite>, StoreError> {
        let notary = match tlog {
            Tlog::On(n) => n,
            Tlog::Off => return Ok(Vec::new()),
        };
        let mut tiles = Vec::new();
        for (p, leaves) in std::mem::take(&mut self.leaves) {
            let size = self.head(p).items;
            let before = size - leaves.len() as u64;
            let mut tree = Appender::load(p, before, |level, index| {
                match overlay.and_then(|o| o.tile(p, level, index)) {
                    Some(t) => Ok(Some(t.to_vec())),
                    None => store.tile(p, level, index),
                }
            })?;
            for h in leaves {
                tree.push(h);
            }
            tiles.extend(tree.tiles());
            if let Some(n) = notary {
                checkpoints.push((p, size, n.checkpoint(p, size, &tree.root())));
            }
        }
        Ok(tiles)
    }
}

/// Restatements: a record for a period its partition has closed gives the
/// participant's projection again (revision + 1) and a new summary
/// revision, one per record, so the revisions depend on the log alone,
/// never on how it was cut into batches.
struct Months {
    /// Loaded: whether each (partition, period) is closed.
    closed: HashMap<(u32, Period), Option<u64>>,
    /// Latest projections: loaded, then as this batch restates them.
    projections: HashMap<(u32, Period, Iin), (u32, Vec<u8>)>,
    /// Loaded latest summaries, as stored.
    stored_summaries: HashMap<(u32, Period), (u32, Vec<u8>)>,
    /// Summaries as this batch revises them.
    summaries: HashMap<(u32, Period), (u32, Summary)>,
}

fn restating(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("restating a closed month: {e}"))
}

impl Months {
    fn latest_summary(&self, partition: u32, period: Period) -> Result<(u32, Summary), StoreError> {
        if let Some(x) = self.summaries.get(&(partition, period)) {
            return Ok(x.clone());
        }
        let (rev, bytes) = self
            .stored_summaries
            .get(&(partition, period))
            .ok_or_else(|| {
                restating(format!("partition {partition} has no summary of {period}"))
            })?;
        let message = pb::PartitionMonthSummary::decode(bytes.as_slice()).map_err(restating)?;
        Ok((*rev, Summary::from_message(&message).map_err(restating)?))
    }

    /// Restates `record`'s projection of `period` if `partition` closed it.
    fn restate(
        &mut self,
        out: &mut WriteBatch,
        partition: u32,
        period: Period,
        record: &AccountRecord,
        offset: u64,
    ) -> Result<bool, StoreError> {
        let closed = self
            .closed
            .get(&(partition, period))
            .ok_or_else(|| restating(format!("partition {partition}'s {period} was not loaded")))?;
        let Some(marker) = *closed else {
            return Ok(false);
        };
        let iin = record.account.iin;
        let prev = self.projections.get(&(partition, period, iin)).cloned();
        let revision = prev.as_ref().map_or(1, |(r, _)| r + 1);
        let reason = match &record.account.merged_into {
            None => format!(
                "restated: the record at offset {offset} is for {period}, \
                 closed at offset {marker}"
            ),
            Some(m) => format!(
                "restated: merged into {} by {} at offset {offset}",
                m.other.masked(),
                m.event_id
            ),
        };
        let from = |reason| Provenance {
            partition,
            offset,
            revision,
            reason,
            chain_head: record.head,
        };
        let projection = match projection(&record.account, period, from(reason.clone())) {
            Some(p) => p,
            // Seed `002_…`: what it projected before is the new
            // identifier's now; restated to zero, so nothing counts twice.
            None if prev.is_some() && record.account.merged_into.is_some() => {
                ledger_proto::monthly::merged_away(&record.account, period, from(reason))
            }
            None => return Ok(false),
        };
        let (summary_rev, mut summary) = self.latest_summary(partition, period)?;
        if let Some((_, old)) = &prev {
            let old = pb::MonthlyProjection::decode(old.as_slice()).map_err(restating)?;
            summary.remove(&old).map_err(restating)?;
        }
        summary.add(&projection).map_err(restating)?;
        let bytes = projection.encode_to_vec();
        let summary_bytes = summary
            .to_message(partition, period, summary_rev + 1, marker)
            .encode_to_vec();
        out.projections
            .push((partition, period, iin, revision, bytes.clone()));
        out.summaries
            .push((partition, period, summary_rev + 1, marker, summary_bytes));
        self.projections
            .insert((partition, period, iin), (revision, bytes));
        self.summaries
            .insert((partition, period), (summary_rev + 1, summary));
        Ok(true)
    }
}

/// The history entry at `offset` of `partition`: from this batch, else as
/// loaded (from the batch in flight or the store).
fn entry_at<'a>(
    loaded: &'a HashMap<(u32, u64), HistoryEntry>,
    batch: &'a [HistoryEntry],
    fresh: &HashMap<(u32, u64), usize>,
    partition: u32,
    offset: u64,
) -> Result<&'a HistoryEntry, StoreError> {
    if let Some(i) = fresh.get(&(partition, offset)) {
        return Ok(&batch[*i]);
    }
    loaded
        .get(&(partition, offset))
        .ok_or_else(|| StoreError::Corrupt {
            what: "history ref",
            key: format!("p{partition}@{offset}"),
            reason: "an account refers to it, but there is no history entry".into(),
        })
}

/// A record as a merge hands it on: the producer's own envelope, its event
/// id, where the log first held it, and when.
struct Transferred {
    event_id: String,
    original: Vec<u8>,
    position: Position,
    recorded_at_ms: i64,
    redirected: bool,
}

impl Transferred {
    /// The entry's record as a merge hands it on (`redirected` if it came
    /// after the close); for a record an earlier merge handed to this
    /// identifier, the producer's record inside it. `None` for what a merge
    /// does not hand on: a record that did not take effect (unless
    /// redirected), the register's own records (the new identifier has its
    /// own), merges and their opening records.
    fn of(e: &HistoryEntry, redirected: bool) -> Result<Option<Transferred>, StoreError> {
        if !redirected && !matches!(e.outcome, Outcome::Applied { .. }) {
            return Ok(None);
        }
        let envelope =
            pb::Envelope::decode(e.event.as_slice()).map_err(|err| StoreError::Corrupt {
                what: "history entry",
                key: format!("p{}@{}", e.position.partition, e.position.offset),
                reason: err.to_string(),
            })?;
        use pb::envelope::Payload as P;
        Ok(match envelope.payload {
            // An opening (it carries the merge's closing record) is not
            // handed on; a transfer hands on the record it carries.
            Some(P::MergeTransfer(t)) if !t.original.is_empty() && opens(&t.original) => None,
            Some(P::MergeTransfer(t)) if !t.original.is_empty() => Some(Transferred {
                event_id: envelope.event_id,
                original: t.original,
                position: Position {
                    partition: t.from_partition,
                    offset: t.from_offset,
                },
                recorded_at_ms: i64::try_from(t.recorded_at_ms).unwrap_or(0),
                redirected,
            }),
            Some(P::Person(_) | P::PersonChanged(_) | P::Merged(_) | P::MergeTransfer(_))
                if !redirected =>
            {
                None
            }
            _ => Some(Transferred {
                event_id: envelope.event_id,
                original: e.event.clone(),
                position: e.position,
                recorded_at_ms: e.timestamp_ms,
                redirected,
            }),
        })
    }
}

/// The record that hands `t` (or the merge's closing record: its opening)
/// to the identifier `merge` names: keyed by it, under the original's
/// event id.
fn forward(from: &Iin, merge: &ledger_core::MergeRecord, t: Transferred) -> (Vec<u8>, Vec<u8>) {
    let Transferred {
        event_id,
        original,
        position,
        recorded_at_ms,
        redirected,
    } = t;
    let envelope = pb::Envelope {
        event_id,
        iin: merge.other.as_str().to_string(),
        source: "si-ledger/merge".to_string(),
        signature: None,
        payload: Some(pb::envelope::Payload::MergeTransfer(pb::MergeTransfer {
            from_iin: from.as_str().to_string(),
            merge_event_id: merge.event_id.to_string(),
            reason: merge.reason.clone(),
            decided_on: merge.decided_on.0.to_string(),
            original,
            from_partition: position.partition,
            from_offset: position.offset,
            redirected,
            recorded_at_ms: u64::try_from(recorded_at_ms).unwrap_or(0),
        })),
    };
    (
        merge.other.as_str().as_bytes().to_vec(),
        envelope.encode_to_vec(),
    )
}

/// Whether a transfer's original is a merge's closing record (an opening).
fn opens(original: &[u8]) -> bool {
    matches!(
        pb::Envelope::decode(original).map(|e| e.payload),
        Ok(Some(pb::envelope::Payload::Merged(_)))
    )
}

/// The content hash first recorded under `id` in this account, if any: the
/// account's refs name candidate offsets by fingerprint, and the history
/// entry there (from this batch, or loaded) confirms the full id.
fn prior_hash(
    loaded: &HashMap<(u32, u64), HistoryEntry>,
    batch: &[HistoryEntry],
    fresh: &HashMap<(u32, u64), usize>,
    partition: u32,
    record: &AccountRecord,
    envelope: &ledger_core::Envelope,
) -> Result<Option<ContentHash>, StoreError> {
    let id = &envelope.event_id;
    for offset in record.candidates(id) {
        let entry = entry_at(loaded, batch, fresh, partition, offset)?;
        let (earlier, hash) =
            ledger_proto::decode_envelope(&entry.event).map_err(|e| StoreError::Corrupt {
                what: "history entry",
                key: format!("p{partition}@{offset}"),
                reason: e.to_string(),
            })?;
        // An unauthorized record claimed nothing; ids are checked only
        // between records that meet (`authority::meets`).
        if earlier.event_id == *id
            && !entry.outcome.is_unauthorized()
            && ledger_core::authority::meets(
                &envelope.event,
                ledger_core::authority::speaks_for_an_authority(&earlier.event),
            )
        {
            return Ok(Some(hash));
        }
    }
    Ok(None)
}

/// A batch whose store write is still in flight: what the next batch must
/// see before the store does.
pub struct Overlay {
    batch: std::sync::Arc<WriteBatch>,
    accounts: HashMap<(u32, Iin), usize>,
    history: HashMap<(u32, u64), usize>,
}

impl Overlay {
    pub fn new(batch: std::sync::Arc<WriteBatch>) -> Overlay {
        let accounts = batch
            .accounts
            .iter()
            .enumerate()
            .map(|(i, (p, r))| ((*p, r.account.iin), i))
            .collect();
        let history = batch
            .history
            .iter()
            .enumerate()
            .map(|(i, h)| ((h.position.partition, h.position.offset), i))
            .collect();
        Overlay {
            batch,
            accounts,
            history,
        }
    }

    pub fn batch(&self) -> &WriteBatch {
        &self.batch
    }

    fn account(&self, partition: u32, iin: &Iin) -> Option<&AccountRecord> {
        self.accounts
            .get(&(partition, *iin))
            .map(|i| &self.batch.accounts[*i].1)
    }

    fn head(&self, partition: u32) -> Option<ChainHead> {
        self.batch
            .heads
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, h)| *h)
    }

    /// The tile the write in flight writes at (partition, level, index).
    fn tile(&self, partition: u32, level: u8, index: u64) -> Option<&[u8]> {
        self.batch
            .tiles
            .iter()
            .rev()
            .find(|(p, l, i, _)| (*p, *l, *i) == (partition, level, index))
            .map(|t| t.3.as_slice())
    }

    fn history_entry(&self, partition: u32, offset: u64) -> Option<&HistoryEntry> {
        self.history
            .get(&(partition, offset))
            .map(|i| &self.batch.history[*i])
    }
}
