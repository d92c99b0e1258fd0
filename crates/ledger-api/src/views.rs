//! What the ledger shows of an account, shared by the command line and the
//! HTTP API: statements (current, or as of a date as known on a date),
//! history with provenance, and the digest.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::{Account, Authorization, Context, Envelope, Iin, Policy, Recorded, Statement};
use ledger_store::{HistoryEntry, Kv, LedgerStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("the store is empty: nothing was projected into it yet")]
    EmptyStore,
    #[error("no account for IIN {iin} (partition {partition})")]
    NoAccount { iin: String, partition: u32 },
    #[error(
        "IIN {iin} is on partition {partition}, which this instance does not hold \
         (it holds {held:?}): ask the instance that owns partition {partition}"
    )]
    NotOwned {
        iin: String,
        partition: u32,
        held: Vec<u32>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A history entry with its event decoded, as `apply` saw it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub stored: HistoryEntry,
    pub recorded: Recorded<Envelope>,
    /// The key id of the record's signature, if signed.
    pub key_id: Option<String>,
}

/// A stored history entry as the record `apply` was given: position, log
/// time, content hash, the decoded event, and the verdict on its signature
/// as the projector judged it (an entry refused as unauthorized says so in
/// its outcome; [`judged`] judges again).
pub fn recorded(stored: &HistoryEntry) -> Result<Recorded<Envelope>, StoreError> {
    as_stored(stored).map(|(r, _)| r)
}

/// [`recorded`], and the key id of the record's signature.
fn as_stored(stored: &HistoryEntry) -> Result<(Recorded<Envelope>, Option<String>), StoreError> {
    let (mut r, key_id) = decoded(stored, None)?;
    if let (true, Some(reason)) = (stored.outcome.is_unauthorized(), stored.outcome.reason()) {
        r.authorization = Authorization::Unauthorized(reason.to_string());
    }
    Ok((r, key_id))
}

/// [`recorded`], with its signature judged again under `policy`, at its
/// record time or its partition's `clock` (the latest record time of the
/// partition's entries before it) if later: what `verify` recomputes.
pub fn judged(
    stored: &HistoryEntry,
    policy: &Policy,
    clock: Option<i64>,
) -> Result<Recorded<Envelope>, StoreError> {
    decoded(stored, Some((policy, clock))).map(|(r, _)| r)
}

/// The entry's record as `apply` is given it (judged under `judge`'s
/// policy and clock if given, else `Open`), and its signature's key id.
fn decoded(
    stored: &HistoryEntry,
    judge: Option<(&Policy, Option<i64>)>,
) -> Result<(Recorded<Envelope>, Option<String>), StoreError> {
    let d = ledger_proto::decode_canonical(&stored.event).map_err(|e| StoreError::Corrupt {
        what: "history entry",
        key: format!("p{}@{}", stored.position.partition, stored.position.offset),
        reason: e.to_string(),
    })?;
    let timestamp =
        DateTime::from_timestamp_millis(stored.timestamp_ms).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let authorization = match judge {
        None => Authorization::Open,
        Some((policy, clock)) => {
            d.authorize(policy, ledger_core::authority::judged_at(timestamp, clock))
        }
    };
    let key_id = d.signed.map(|(s, _)| s.key_id);
    let r = Recorded {
        position: stored.position,
        timestamp,
        content_hash: d.hash,
        event: d.envelope,
        authorization,
    };
    Ok((r, key_id))
}

impl Entry {
    pub fn decode(stored: HistoryEntry) -> Result<Entry, StoreError> {
        let (recorded, key_id) = as_stored(&stored)?;
        Ok(Entry {
            recorded,
            key_id,
            stored,
        })
    }

    pub fn envelope(&self) -> &Envelope {
        &self.recorded.event
    }

    /// The key id of the entry's signature, if it is signed.
    pub fn signature(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The entry as history shows it: provenance, the event's own dates,
    /// the outcome, the recording deadline of a contribution line (Rules
    /// §7, `ctx`'s calendar), the payer (a BIN whole, an entrepreneur's IIN
    /// masked) and the signature with the authority `ctx`'s trust file
    /// names for its key. No names: the event's personal data stays out.
    pub fn to_json(&self, ctx: &Context) -> serde_json::Value {
        let h = &self.stored;
        let event = &self.envelope().event;
        let dates: serde_json::Map<String, serde_json::Value> = event
            .dates()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let payer = |id: &ledger_core::PayerId| match id.kind() {
            ledger_core::IdKind::Bin => id.as_str().to_string(),
            ledger_core::IdKind::Iin => ledger_core::mask_id(id.as_str()),
        };
        // A merge transfer shows the line it carries over.
        let carried = match event {
            ledger_core::Event::MergeTransfer(t) => t.original.as_ref().map_or(event, |o| &o.event),
            e => e,
        };
        let (deadline, payer, amount) = match carried {
            // The deadline of a line this record is (a carried line was
            // judged on its old account, when it came).
            ledger_core::Event::ContributionPaid(c) => (
                (!matches!(event, ledger_core::Event::MergeTransfer(_))).then(|| {
                    ctx.calendar
                        .recording_deadline(c.payment.received_on)
                        .deadline
                        .to_rfc3339()
                }),
                Some(payer(&c.payment.payer_id)),
                Some(c.amount.to_string()),
            ),
            ledger_core::Event::ContributionRefunded(r) => {
                (None, Some(payer(&r.payer_id)), Some(r.amount.to_string()))
            }
            _ => (None, None, None),
        };
        let benefit_id = match event {
            ledger_core::Event::BenefitAssigned(b) => Some(b.benefit_id.as_str()),
            ledger_core::Event::BenefitStatusChanged(b) => Some(b.benefit_id.as_str()),
            ledger_core::Event::BenefitPaid(b) => Some(b.benefit_id.as_str()),
            ledger_core::Event::BenefitReturned(b) => Some(b.benefit_id.as_str()),
            _ => None,
        };
        // A merge's stated reason, and what a transfer carries over.
        let (merge_reason, carries) = match event {
            ledger_core::Event::Merged(m) => (Some(m.reason.as_str()), None),
            ledger_core::Event::MergeTransfer(t) => (
                Some(t.reason.as_str()),
                t.original.as_ref().map(|o| o.event.kind()),
            ),
            _ => (None, None),
        };
        let authority = |key_id: &str| match &ctx.trust {
            Policy::Enforced(t) => t.keys.get(key_id).map(|k| k.authority.clone()),
            Policy::Open => None,
        };
        // The day the ledger recorded it and the day it takes effect: what
        // a view as of / as known on a date keeps (`ledger_core::as_known`).
        let recorded_on = DateTime::from_timestamp_millis(h.timestamp_ms).map(|t| {
            t.with_timezone(&ctx.calendar.time_zone())
                .date_naive()
                .to_string()
        });
        let effective = event.effective_on();
        let effective_on = (effective != NaiveDate::MIN).then(|| effective.to_string());
        serde_json::json!({
            "seq": h.seq,
            "event_id": self.envelope().event_id.as_str(),
            "kind": event.kind(),
            "source": self.envelope().source,
            "partition": h.position.partition,
            "offset": h.position.offset,
            "recorded_at": log_time(h.timestamp_ms),
            "recorded_on": recorded_on,
            "effective_on": effective_on,
            "dates": dates,
            "deadline": deadline,
            "payer": payer,
            "amount": amount,
            "benefit_id": benefit_id,
            "merge_reason": merge_reason,
            "carries": carries,
            "outcome": h.outcome.name(),
            "late": h.outcome.is_late(),
            "reason": h.outcome.reason(),
            "content_hash": ledger_store::chain::hex(&ledger_store::chain::content_hash(h)),
            "signature": self.signature().map(|key_id| serde_json::json!({
                "key_id": key_id,
                "authority": authority(key_id),
            })),
            "schema_id": h.schema_id,
            "link": ledger_store::chain::hex(&h.link),
        })
    }
}

/// A log time as RFC 3339 in UTC with milliseconds.
pub fn log_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{ms} ms (out of range)"))
}

/// Reads accounts of one store, answering only for the partitions it holds
/// (`held`: `None` for all).
pub struct Views<'a, B: Kv> {
    pub store: &'a LedgerStore<B>,
    pub held: Option<Vec<u32>>,
}

impl<B: Kv> Views<'_, B> {
    /// The partition of `iin`, if this instance holds it.
    pub fn partition(&self, iin: &Iin) -> Result<u32, ViewError> {
        let p = self.store.partition_of(iin)?.ok_or(ViewError::EmptyStore)?;
        match &self.held {
            Some(held) if !held.contains(&p) => Err(ViewError::NotOwned {
                iin: iin.masked(),
                partition: p,
                held: held.clone(),
            }),
            _ => Ok(p),
        }
    }

    /// Every entry of the account, in log order.
    pub fn history(&self, iin: &Iin) -> Result<(u32, Vec<Entry>), ViewError> {
        let p = self.partition(iin)?;
        let entries = self
            .store
            .history(p, iin)?
            .into_iter()
            .map(Entry::decode)
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() {
            return Err(ViewError::NoAccount {
                iin: iin.masked(),
                partition: p,
            });
        }
        Ok((p, entries))
    }

    /// The account now, or — with either date — recomputed from its history
    /// keeping events effective by `as_of` that the ledger had recorded by
    /// the end of `known_on` (in the calendar's time zone).
    pub fn account(
        &self,
        ctx: &Context,
        iin: &Iin,
        as_of: Option<NaiveDate>,
        known_on: Option<NaiveDate>,
    ) -> Result<Account, ViewError> {
        let p = self.partition(iin)?;
        let Some(account) = self.store.account(p, iin)? else {
            return Err(ViewError::NoAccount {
                iin: iin.masked(),
                partition: p,
            });
        };
        if as_of.is_none() && known_on.is_none() {
            return Ok(account);
        }
        let (_, entries) = self.history(iin)?;
        let known_by = known_on.map_or(DateTime::<Utc>::MAX_UTC, |d| {
            ctx.calendar.day_end(d).with_timezone(&Utc)
        });
        Ok(ledger_core::as_known(
            ctx,
            *iin,
            entries.iter().map(|e| &e.recorded),
            as_of.unwrap_or(NaiveDate::MAX),
            known_by,
        ))
    }

    pub fn statement(
        &self,
        ctx: &Context,
        iin: &Iin,
        as_of: Option<NaiveDate>,
        known_on: Option<NaiveDate>,
    ) -> Result<Statement, ViewError> {
        Ok(Statement::of(&self.account(ctx, iin, as_of, known_on)?))
    }
}

/// The ledger digest as JSON: the root and what each partition contributes.
pub fn digest_json<B: Kv>(store: &LedgerStore<B>) -> Result<serde_json::Value, StoreError> {
    let (root, states) = store.digest()?;
    let partitions: Vec<serde_json::Value> = states
        .iter()
        .map(|s| {
            serde_json::json!({
                "partition": s.partition,
                "next_offset": s.next_offset,
                "items": s.head.items,
                "head": ledger_store::chain::hex(&s.head.link),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "algorithm": "sha256-merkle-v1",
        "digest": ledger_store::chain::hex(&root),
        "partitions": partitions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instance asked for an IIN on a partition it does not hold says
    /// which partition, rather than showing an empty account.
    #[test]
    fn an_iin_on_a_partition_not_held_is_refused_naming_the_partition() {
        let store = LedgerStore::in_memory();
        store.check_or_init_meta(4).unwrap();
        let iin = Iin::parse("900517400055").unwrap();
        let p = ledger_store::partition_of(&iin, 4);
        let others: Vec<u32> = (0..4).filter(|q| *q != p).collect();
        let views = Views {
            store: &store,
            held: Some(others.clone()),
        };
        let e = views
            .account(&Context::default(), &iin, None, None)
            .unwrap_err();
        assert!(matches!(e, ViewError::NotOwned { partition, .. } if partition == p));
        let msg = e.to_string();
        assert!(msg.contains(&format!("partition {p}")), "{msg}");
        assert!(!msg.contains("900517400055"), "masked: {msg}");
        let held = Views {
            store: &store,
            held: Some(vec![p]),
        };
        assert!(matches!(
            held.account(&Context::default(), &iin, None, None),
            Err(ViewError::NoAccount { .. })
        ));
    }
}
