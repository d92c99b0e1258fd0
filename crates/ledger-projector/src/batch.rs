//! Turning one polled batch into one store write. Reads the store, writes
//! nothing: the caller writes the result atomically.

use crate::Totals;
use ledger_core::Period;
use ledger_core::{
    apply, partition_for, Account, ContentHash, Context, Event, Iin, Outcome, Position, Recorded,
};
use ledger_proto::monthly::{projection, Provenance, Summary};
use ledger_proto::v1 as pb;
use ledger_store::chain::{self, GENESIS};
use ledger_store::{
    fingerprint, par_map, AccountRecord, ChainHead, DeadLetter, HistoryEntry, HistoryRef, Kv,
    LedgerStore, StoreError, WriteBatch,
};
use ledger_stream::Record;
use prost::Message as _;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

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
    }
}

/// The partition chains as a batch extends them: each partition's head as
/// the last write (or the write in flight) left it, then advanced item by
/// item.
struct Chains<'a, B: Kv> {
    store: &'a LedgerStore<B>,
    overlay: Option<&'a Overlay>,
    heads: BTreeMap<u32, ChainHead>,
}

impl<B: Kv> Chains<'_, B> {
    fn head(&mut self, p: u32) -> Result<&mut ChainHead, StoreError> {
        if let std::collections::btree_map::Entry::Vacant(v) = self.heads.entry(p) {
            let head = match self.overlay.and_then(|o| o.head(p)) {
                Some(h) => h,
                None => self.store.chain_head(p)?,
            };
            v.insert(head);
        }
        Ok(self.heads.get_mut(&p).expect("inserted above"))
    }

    /// Chains a dead letter into its partition and keeps it.
    fn dead(&mut self, out: &mut WriteBatch, mut d: DeadLetter) -> Result<(), StoreError> {
        let head = self.head(d.position.partition)?;
        head.link = chain::dead_letter_link(&head.link, &d);
        head.items += 1;
        d.link = head.link;
        out.dead_letters.push(d);
        Ok(())
    }
}

/// Restatements: a record for a period its partition has closed gives the
/// participant's projection again (revision + 1) and a new summary
/// revision, one per record, so the revisions depend on the log alone,
/// never on how it was cut into batches.
struct Months<'a, B: Kv> {
    store: &'a LedgerStore<B>,
    overlay: Option<&'a Overlay>,
    closed: HashMap<(u32, Period), Option<u64>>,
    projections: HashMap<(u32, Period, Iin), (u32, Vec<u8>)>,
    summaries: HashMap<(u32, Period), (u32, Summary)>,
}

fn restating(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("restating a closed month: {e}"))
}

impl<B: Kv> Months<'_, B> {
    /// The marker's offset if `partition` has closed `period`.
    fn closed(&mut self, partition: u32, period: Period) -> Result<Option<u64>, StoreError> {
        if let Some(c) = self.closed.get(&(partition, period)) {
            return Ok(*c);
        }
        let c = self.store.closed(partition, period)?.map(|(_, at)| at);
        self.closed.insert((partition, period), c);
        Ok(c)
    }

    fn latest_projection(
        &self,
        partition: u32,
        period: Period,
        iin: &Iin,
    ) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        if let Some(x) = self.projections.get(&(partition, period, *iin)) {
            return Ok(Some(x.clone()));
        }
        let in_flight = self.overlay.and_then(|o| {
            o.batch()
                .projections
                .iter()
                .rev()
                .find(|(p, per, i, _, _)| *p == partition && *per == period && i == iin)
                .map(|(_, _, _, rev, b)| (*rev, b.clone()))
        });
        match in_flight {
            Some(x) => Ok(Some(x)),
            None => self.store.latest_projection(partition, period, iin),
        }
    }

    fn latest_summary(&self, partition: u32, period: Period) -> Result<(u32, Summary), StoreError> {
        if let Some(x) = self.summaries.get(&(partition, period)) {
            return Ok(x.clone());
        }
        let in_flight = self.overlay.and_then(|o| {
            o.batch()
                .summaries
                .iter()
                .rev()
                .find(|(p, per, _, _, _)| *p == partition && *per == period)
                .map(|(_, _, rev, _, b)| (*rev, b.clone()))
        });
        let (rev, bytes) = match in_flight {
            Some(x) => x,
            None => self
                .store
                .latest_summary(partition, period)?
                .ok_or_else(|| {
                    restating(format!("partition {partition} has no summary of {period}"))
                })?,
        };
        let message = pb::PartitionMonthSummary::decode(bytes.as_slice()).map_err(restating)?;
        Ok((rev, Summary::from_message(&message).map_err(restating)?))
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
        let Some(marker) = self.closed(partition, period)? else {
            return Ok(false);
        };
        let iin = record.account.iin;
        let prev = self.latest_projection(partition, period, &iin)?;
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

/// Decides every record of a batch against the store's state as of the last
/// write plus the batch's own earlier records. `next` holds each partition's
/// next unapplied offset; records below it were applied before and are
/// skipped (a source redelivering after a crash).
///
/// Three steps: check and decode every record (in parallel: it needs no
/// state), load the accounts the batch touches (in parallel: reads only),
/// then apply the records one by one in log order.
pub fn decide_batch<B: Kv>(
    ctx: &Context,
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    partitions: u32,
    next: &BTreeMap<u32, u64>,
    records: &[Record],
) -> Result<BatchOutcome, StoreError> {
    let mut out = BatchOutcome::default();
    let mut offsets: BTreeMap<u32, u64> = BTreeMap::new();
    let mut todo: Vec<&Record> = Vec::with_capacity(records.len());
    for rec in records {
        let expected = offsets
            .get(&rec.partition)
            .or(next.get(&rec.partition))
            .copied()
            .unwrap_or(0);
        if rec.offset < expected {
            out.counts.redelivered += 1;
            continue;
        }
        offsets.insert(rec.partition, rec.offset + 1);
        todo.push(rec);
    }
    out.counts.records = todo.len() as u64;
    let mut checked = par_map(&todo, |rec| check(ctx, rec, partitions));

    // The partitions' clocks, advanced record by record in log order by the
    // records that reach an account (cheap: no signature is checked here);
    // a control record is judged at the clock without moving it.
    let mut clocks: BTreeMap<u32, Option<i64>> = BTreeMap::new();
    let mut at: Vec<Option<chrono::DateTime<chrono::Utc>>> = Vec::with_capacity(todo.len());
    for (rec, c) in todo.iter().zip(checked.iter_mut()) {
        let p = rec.partition;
        let clock = match clocks.get(&p) {
            Some(c) => *c,
            None => {
                let c = clock_of(store, overlay, p)?;
                clocks.insert(p, c);
                c
            }
        };
        match c {
            Checked::Ready(r) => {
                let when = ledger_core::authority::judged_at(r.timestamp, clock);
                clocks.insert(p, Some(when.timestamp_millis()));
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
    // Issue 15: each privileged record's signature, judged in parallel at
    // its instant (open kinds return at once).
    let authorizations = match &ctx.trust {
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
    };

    // The accounts this batch touches that the batch in flight does not
    // hold, each once, read from the store.
    let mut accounts: HashMap<(u32, Iin), AccountRecord> = HashMap::with_capacity(todo.len());
    let mut wanted: Vec<(u32, Iin)> = Vec::new();
    for (rec, c) in todo.iter().zip(&checked) {
        if let Checked::Ready(r) = c {
            let iin = &r.iin;
            let k = (rec.partition, *iin);
            if let std::collections::hash_map::Entry::Vacant(v) = accounts.entry(k) {
                match overlay.and_then(|o| o.account(k.0, &k.1)) {
                    Some(r) => {
                        v.insert(r.clone());
                    }
                    None => wanted.push(k),
                }
            }
        }
    }
    // Key order: consecutive reads share tree nodes.
    wanted.sort_unstable();
    wanted.dedup(); // an account touched twice is read once
    let loaded = par_map(&wanted, |(p, iin)| store.account_record(*p, iin));
    for (k, r) in wanted.into_iter().zip(loaded) {
        let r = r?.unwrap_or_else(|| AccountRecord::new(Account::new(k.1)));
        accounts.insert(k, r);
    }

    // This batch's history entries by (partition, offset): index into
    // `out.write.history`, for duplicates within one batch.
    let mut fresh: HashMap<(u32, u64), usize> = HashMap::with_capacity(todo.len());
    let mut chains = Chains {
        store,
        overlay,
        heads: BTreeMap::new(),
    };
    let mut months = Months {
        store,
        overlay,
        closed: HashMap::new(),
        projections: HashMap::new(),
        summaries: HashMap::new(),
    };
    for ((rec, c), authorization) in todo.into_iter().zip(checked).zip(authorizations) {
        let Ready {
            iin,
            decoded,
            timestamp,
        } = match c {
            Checked::Ready(ready) => *ready,
            Checked::Dead(kind, why) => {
                chains.dead(&mut out.write, dead(rec, kind, why))?;
                continue;
            }
            Checked::Control => unreachable!("judged above"),
        };
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
        let record = accounts
            .get_mut(&(p, iin))
            .expect("every ready record's account was loaded above");
        // An unauthorized record claims no event id: it is not looked up,
        // and `prior_hash` passes over it for the records after it.
        let unauthorized = authorization.is_unauthorized();
        let prior = if unauthorized {
            None
        } else {
            prior_hash(
                store,
                overlay,
                &out.write.history,
                &fresh,
                p,
                record,
                &envelope,
            )?
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
        let outcome = apply(ctx, &mut record.account, &recorded, prior);
        match &outcome {
            Outcome::Applied { .. } => out.counts.applied += 1,
            Outcome::Returned { .. } => out.counts.returned += 1,
            Outcome::Refused { .. } => out.counts.refused += 1,
            Outcome::Duplicate => out.counts.duplicates += 1,
            Outcome::Conflict { .. } => out.counts.conflicts += 1,
            Outcome::Redirected { .. } => out.counts.redirected += 1,
        }
        if outcome.is_late() {
            out.counts.late += 1;
        }
        record.refs.push(HistoryRef {
            offset: rec.offset,
            fingerprint: fp,
        });
        let mut entry = HistoryEntry {
            seq: record.account.history_len - 1,
            position,
            timestamp_ms: rec.timestamp_ms,
            event: canonical,
            outcome,
            link: GENESIS,
            schema_id,
        };
        record.head = chain::account_link(&record.head, &entry, &stored_hash);
        let head = chains.head(p)?;
        head.link = chain::update_link(&head.link, &record.head);
        head.items += 1;
        entry.link = head.link;
        let conflict = match &entry.outcome {
            Outcome::Conflict { reason } => Some(reason.clone()),
            _ => None,
        };
        let changed = matches!(
            entry.outcome,
            Outcome::Applied { .. } | Outcome::Returned { .. }
        );
        let notice = ledger_proto::notices::due(&recorded.event.event, &entry.outcome)
            .then(|| {
                ledger_proto::notices::notice(
                    &entry.event,
                    &entry.outcome,
                    position,
                    rec.timestamp_ms,
                )
            })
            .flatten();
        if let Some(n) = notice {
            let (payer, value) = ledger_proto::notices::record(&n);
            out.write.notices.push((position, payer, value));
        }
        let closed = matches!(
            (&recorded.event.event, &entry.outcome),
            (Event::Merged(_), Outcome::Applied { .. })
        );
        let redirected = matches!(entry.outcome, Outcome::Redirected { .. });
        fresh.insert((p, rec.offset), out.write.history.len());
        out.write.history.push(entry);
        if let (true, Some(period)) = (changed, period) {
            if months.restate(&mut out.write, p, period, record, rec.offset)? {
                out.counts.restatements += 1;
            }
        }
        if closed || redirected {
            let merge = record
                .account
                .merged_into
                .clone()
                .expect("a merged account's close set it");
            let from = record.account.iin;
            if closed {
                // Seed `002_…`: the history goes to the new identifier; what
                // the old one projected for closed months is restated to zero.
                // The opening carries the closing record itself, with the
                // operator's signature: the new account opens only a merge
                // the operator signed, whoever holds the projector's key.
                let closing = &out.write.history[fresh[&(p, rec.offset)]];
                let opening = Transferred {
                    event_id: format!("{}/into", merge.event_id),
                    original: closing.event.clone(),
                    position: merge.position,
                    recorded_at_ms: closing.timestamp_ms,
                    redirected: false,
                };
                out.forward.push(forward(&from, &merge, opening));
                for offset in record.refs.iter().map(|r| r.offset) {
                    let e = entry_at(store, overlay, &out.write.history, &fresh, p, offset)?;
                    if let Some(t) = Transferred::of(&e, false)? {
                        out.forward.push(forward(&from, &merge, t));
                    }
                }
                let periods: Vec<Period> = record.account.periods.keys().copied().collect();
                for period in periods {
                    if months.restate(&mut out.write, p, period, record, rec.offset)? {
                        out.counts.restatements += 1;
                    }
                }
            } else {
                let e = out.write.history.last().expect("pushed above");
                if let Some(t) = Transferred::of(e, true)? {
                    out.forward.push(forward(&from, &merge, t));
                }
            }
        }
        // A conflicting record is both an account update (recorded, no
        // effect) and a dead letter, chained in that order.
        if let Some(reason) = conflict {
            chains.dead(&mut out.write, dead(rec, "conflict", reason))?;
        }
    }
    // Accounts a batch only dead-lettered for were never loaded: nothing
    // of theirs is written.
    let mut touched: Vec<((u32, Iin), AccountRecord)> = accounts.into_iter().collect();
    touched.sort_unstable_by_key(|t| t.0);
    out.write.accounts = touched.into_iter().map(|((p, _), a)| (p, a)).collect();
    out.write.offsets = offsets.into_iter().collect();
    out.write.heads = chains.heads.into_iter().collect();
    out.write.clocks = clocks
        .into_iter()
        .filter_map(|(p, c)| c.map(|c| (p, c)))
        .collect();
    out.counts.dead_letters = out.write.dead_letters.len() as u64;
    out.counts.forwarded = out.forward.len() as u64;
    out.counts.batches = 1;
    Ok(out)
}

/// The history entry at `offset` of `partition`: from this batch, the batch
/// in flight or the store.
fn entry_at<'a, B: Kv>(
    store: &LedgerStore<B>,
    overlay: Option<&'a Overlay>,
    batch: &'a [HistoryEntry],
    fresh: &HashMap<(u32, u64), usize>,
    partition: u32,
    offset: u64,
) -> Result<Cow<'a, HistoryEntry>, StoreError> {
    if let Some(i) = fresh.get(&(partition, offset)) {
        return Ok(Cow::Borrowed(&batch[*i]));
    }
    if let Some(e) = overlay.and_then(|o| o.history_entry(partition, offset)) {
        return Ok(Cow::Borrowed(e));
    }
    store
        .history_entry(partition, offset)?
        .map(Cow::Owned)
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
/// entry there (from this batch or the store) confirms the full id.
fn prior_hash<B: Kv>(
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    batch: &[HistoryEntry],
    fresh: &HashMap<(u32, u64), usize>,
    partition: u32,
    record: &AccountRecord,
    envelope: &ledger_core::Envelope,
) -> Result<Option<ContentHash>, StoreError> {
    let id = &envelope.event_id;
    for offset in record.candidates(id) {
        let entry = entry_at(store, overlay, batch, fresh, partition, offset)?;
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

    fn history_entry(&self, partition: u32, offset: u64) -> Option<&HistoryEntry> {
        self.history
            .get(&(partition, offset))
            .map(|i| &self.batch.history[*i])
    }
}
