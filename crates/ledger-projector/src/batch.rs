//! Turning one polled batch into one store write. Reads the store, writes
//! nothing: the caller writes the result atomically.

use crate::Totals;
use ledger_core::{
    apply, partition_for, Account, ContentHash, Context, EventId, Iin, Outcome, Position, Recorded,
};
use ledger_store::{
    fingerprint, AccountRecord, DeadLetter, HistoryEntry, HistoryRef, Kv, LedgerStore, StoreError,
    WriteBatch,
};
use ledger_stream::Record;
use std::collections::{BTreeMap, HashMap};

/// One batch's write and its counts.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub write: WriteBatch,
    pub counts: Totals,
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
    }
}

/// Decides every record of a batch against the store's state as of the last
/// write plus the batch's own earlier records. `next` holds each partition's
/// next unapplied offset; records below it were applied before and are
/// skipped (a source redelivering after a crash).
pub fn decide_batch<B: Kv>(
    ctx: &Context,
    store: &LedgerStore<B>,
    overlay: Option<&Overlay>,
    partitions: u32,
    next: &BTreeMap<u32, u64>,
    records: &[Record],
) -> Result<BatchOutcome, StoreError> {
    let mut out = BatchOutcome::default();
    let mut accounts: HashMap<(u32, Iin), AccountRecord> = HashMap::new();
    // This batch's history entries by (partition, offset): index into
    // `out.write.history`, for duplicates within one batch.
    let mut fresh: HashMap<(u32, u64), usize> = HashMap::new();
    let mut offsets: BTreeMap<u32, u64> = BTreeMap::new();
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
        out.counts.records += 1;
        let p = rec.partition;
        let parsed = std::str::from_utf8(&rec.key)
            .map_err(|_| "key: not UTF-8".to_string())
            .and_then(|k| Iin::parse(k).map_err(|e| format!("key: {e}")));
        let iin = match parsed {
            Ok(iin) => iin,
            Err(why) => {
                out.write.dead_letters.push(dead(rec, "bad_key", why));
                continue;
            }
        };
        let wanted = partition_for(iin.as_bytes(), partitions);
        if wanted != p {
            let why = format!(
                "key {} belongs on partition {wanted}, not {p}",
                iin.masked()
            );
            out.write
                .dead_letters
                .push(dead(rec, "wrong_partition", why));
            continue;
        }
        let (envelope, hash) = match ledger_proto::decode_envelope(&rec.value) {
            Ok(x) => x,
            Err(e) => {
                out.write
                    .dead_letters
                    .push(dead(rec, e.kind(), e.to_string()));
                continue;
            }
        };
        if envelope.iin != iin {
            let why = format!(
                "iin {} differs from key {}",
                envelope.iin.masked(),
                iin.masked()
            );
            out.write.dead_letters.push(dead(rec, "key_mismatch", why));
            continue;
        }
        let Some(timestamp) = chrono::DateTime::from_timestamp_millis(rec.timestamp_ms) else {
            let why = format!("timestamp {} ms is out of range", rec.timestamp_ms);
            out.write.dead_letters.push(dead(rec, "bad_timestamp", why));
            continue;
        };
        let record = match accounts.entry((p, iin)) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let known = match overlay.and_then(|o| o.account(p, &iin)) {
                    Some(r) => Some(r.clone()),
                    None => store.account_record(p, &iin)?,
                };
                v.insert(known.unwrap_or_else(|| AccountRecord::new(Account::new(iin))))
            }
        };
        let prior = prior_hash(
            store,
            overlay,
            &out.write.history,
            &fresh,
            p,
            record,
            &envelope.event_id,
        )?;
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
        };
        let outcome = apply(ctx, &mut record.account, &recorded, prior);
        match &outcome {
            Outcome::Applied { .. } => out.counts.applied += 1,
            Outcome::Returned { .. } => out.counts.returned += 1,
            Outcome::Refused { .. } => out.counts.refused += 1,
            Outcome::Duplicate => out.counts.duplicates += 1,
            Outcome::Conflict { reason } => {
                out.counts.conflicts += 1;
                out.write
                    .dead_letters
                    .push(dead(rec, "conflict", reason.clone()));
            }
        }
        if outcome.is_late() {
            out.counts.late += 1;
        }
        record.refs.push(HistoryRef {
            offset: rec.offset,
            fingerprint: fp,
        });
        fresh.insert((p, rec.offset), out.write.history.len());
        out.write.history.push(HistoryEntry {
            seq: record.account.history_len - 1,
            position,
            timestamp_ms: rec.timestamp_ms,
            hash,
            envelope: recorded.event,
            outcome,
        });
    }
    let mut touched: Vec<((u32, Iin), AccountRecord)> = accounts.into_iter().collect();
    touched.sort_unstable_by_key(|t| t.0);
    out.write.accounts = touched.into_iter().map(|((p, _), a)| (p, a)).collect();
    out.write.offsets = offsets.into_iter().collect();
    out.counts.dead_letters = out.write.dead_letters.len() as u64;
    out.counts.batches = 1;
    Ok(out)
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
    id: &EventId,
) -> Result<Option<ContentHash>, StoreError> {
    for offset in record.candidates(id) {
        let stored;
        let entry = match fresh.get(&(partition, offset)) {
            Some(i) => &batch[*i],
            None => match overlay.and_then(|o| o.history_entry(partition, offset)) {
                Some(e) => e,
                None => match store.history_entry(partition, offset)? {
                    Some(e) => {
                        stored = e;
                        &stored
                    }
                    None => {
                        return Err(StoreError::Corrupt {
                            what: "history ref",
                            key: format!("p{partition}/{}", record.account.iin.masked()),
                            reason: format!("offset {offset} has no history entry"),
                        })
                    }
                },
            },
        };
        if entry.envelope.event_id == *id {
            return Ok(Some(entry.hash));
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

    fn history_entry(&self, partition: u32, offset: u64) -> Option<&HistoryEntry> {
        self.history
            .get(&(partition, offset))
            .map(|i| &self.batch.history[*i])
    }
}
