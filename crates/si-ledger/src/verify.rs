//! `si-ledger verify`: check a store's hash chains and recompute its
//! accounts from its own history, then (optionally) compare every account
//! and the digest with another store or a fresh replay of a log or archive.
//! Prints each broken link and each difference (masked IIN, field, both
//! values); exit 1 on any.

use crate::audit::LogInput;
use crate::common::open_existing_store;
use anyhow::Result;
use clap::Args;
use ledger_core::{apply, Account, Context, EventId, Iin, Statement};
use ledger_store::{Break, DiskKv, LedgerStore};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Args)]
pub struct VerifyArgs {
    /// The store to check.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Compare with another projector's store.
    #[arg(long, value_name = "DIR", conflicts_with = "input")]
    pub against: Option<PathBuf>,
    /// Or replay this log, topic or archive (into a temporary store) and
    /// compare with it.
    #[command(flatten)]
    pub input: LogInput,
    /// Records per store write of that replay.
    #[arg(long, default_value_t = ledger_projector::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[arg(long)]
    pub json: bool,
}

type Accounts = BTreeMap<(u32, Iin), serde_json::Value>;

/// Every account's statement (as JSON), and every partition's offset.
fn load(store: &LedgerStore<DiskKv>) -> Result<(Accounts, BTreeMap<u32, u64>)> {
    let mut accounts = BTreeMap::new();
    store.for_each_account(|p, a| {
        let st = serde_json::to_value(Statement::of(&a)).unwrap_or_default();
        accounts.insert((p, a.iin), st);
    })?;
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut offsets = BTreeMap::new();
    for p in 0..partitions {
        offsets.insert(p, store.offset(p)?.unwrap_or(0));
    }
    Ok((accounts, offsets))
}

/// One difference, printable without personal data.
#[derive(serde::Serialize)]
struct Mismatch {
    iin: String,
    field: String,
    data: String,
    other: String,
}

fn shown(field: &str, v: Option<&serde_json::Value>) -> String {
    match v {
        None => "(absent)".into(),
        // Names and addresses stay out of the report: it says that they differ.
        Some(_) if field == "person" => "(personal data)".into(),
        Some(v) => v.to_string(),
    }
}

/// Recomputes every chain of `store` and re-applies its history entries:
/// each broken link, and each stored outcome or account that its own
/// history does not give.
fn self_check(ctx: &Context, store: &LedgerStore<DiskKv>) -> Result<(Vec<Break>, Vec<Mismatch>)> {
    // An IIN's history lies in one partition, and the audit visits the
    // partitions one after another: the accounts recomputed for one are
    // compared with the stored ones, and dropped, when it moves on to the
    // next (memory is one partition's accounts, not the store's).
    let mut accounts: BTreeMap<Iin, Account> = BTreeMap::new();
    let mut current: Option<u32> = None;
    let mut compared: std::collections::HashSet<Iin> = std::collections::HashSet::new();
    let mut diffs = Vec::new();
    let mut failed: Option<ledger_store::StoreError> = None;
    let flush = |p: u32,
                 accounts: &mut BTreeMap<Iin, Account>,
                 diffs: &mut Vec<Mismatch>,
                 compared: &mut std::collections::HashSet<Iin>|
     -> Result<(), ledger_store::StoreError> {
        // In IIN order, as the stored accounts are kept: the same report
        // every run.
        for (iin, recomputed) in std::mem::take(accounts) {
            compared.insert(iin);
            let stored = store.account(p, &iin)?.unwrap_or_else(|| Account::new(iin));
            if recomputed != stored {
                diffs.extend(differ(&iin, &stored, &recomputed));
            }
        }
        Ok(())
    };
    let mut seen: HashMap<(Iin, EventId), ledger_core::authority::FirstSeen> = HashMap::new();
    let mut clocks: HashMap<u32, i64> = HashMap::new();
    let mut wrong: Vec<Break> = Vec::new();
    // Stored notices by position: each must be the one its entry gives.
    let mut notices: HashMap<(u32, u64), Vec<u8>> = HashMap::new();
    for v in store.notices()? {
        match ledger_proto::notices::decode(&v) {
            Ok(n) => {
                notices.insert((n.partition, n.offset), v);
            }
            Err(e) => wrong.push(Break {
                partition: u32::MAX,
                offset: None,
                place: "notices".into(),
                what: format!("a stored notice does not decode: {e}"),
            }),
        }
    }
    let audit = store.audit(
        |p, iin, h| {
            if current != Some(p) {
                if let Some(prev) = current {
                    if let Err(e) = flush(prev, &mut accounts, &mut diffs, &mut compared) {
                        failed.get_or_insert(e);
                    }
                    seen.clear();
                }
                current = Some(p);
            }
            let o = h.position.offset;
            let mut brk = |what: String| {
                wrong.push(Break {
                    partition: p,
                    offset: Some(o),
                    place: format!("p{p}@{o}"),
                    what,
                })
            };
            // The partition's clock as the projector had it before this entry:
            // the audit visits each partition's entries in offset order.
            let clock = clocks.get(&p).copied();
            clocks.insert(p, clock.map_or(h.timestamp_ms, |c| c.max(h.timestamp_ms)));
            let recorded = match ledger_api::views::judged(h, &ctx.trust, clock) {
                Ok(r) => r,
                Err(e) => return brk(format!("stored event does not decode: {e}")),
            };
            if recorded.event.iin != *iin {
                return brk(format!(
                    "event of IIN {} in the history of {}",
                    recorded.event.iin.masked(),
                    iin.masked()
                ));
            }
            let key = (*iin, recorded.event.event_id.clone());
            let first = seen.entry(key).or_default();
            let prior = first.prior(&recorded.event.event);
            let account = accounts.entry(*iin).or_insert_with(|| Account::new(*iin));
            let outcome = apply(ctx, account, &recorded, prior);
            // An unauthorized record claims no event id (as in the projector).
            if !recorded.authorization.is_unauthorized() {
                first.note(&recorded.event.event, recorded.content_hash);
            }
            if outcome != h.outcome {
                brk(format!(
                    "stored outcome {} but its event gives {}",
                    h.outcome.name(),
                    outcome.name()
                ));
            }
            let given =
                ledger_proto::notices::notice(&h.event, &h.outcome, h.position, h.timestamp_ms)
                    .map(|n| ledger_proto::notices::record(&n).1);
            let stored = notices.remove(&(p, o));
            if given != stored {
                brk(match (given, stored) {
                    (Some(_), None) => "its notice to the payer is missing".into(),
                    (None, Some(_)) => "a notice is stored for a record that gives none".into(),
                    _ => "the stored notice differs from the one its record gives".into(),
                });
            }
        },
        |h| {
            ledger_proto::decode_canonical(&h.event)
                .map(|d| d.envelope.event_id.as_str().to_string())
                .map_err(|e| e.to_string())
        },
    )?;
    for (p, o) in notices.into_keys() {
        wrong.push(Break {
            partition: p,
            offset: Some(o),
            place: format!("p{p}@{o}"),
            what: "a notice is stored where no history entry is".into(),
        });
    }
    if let Some(prev) = current {
        flush(prev, &mut accounts, &mut diffs, &mut compared)?;
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    let mut breaks = audit.breaks;
    breaks.extend(wrong);
    breaks.sort_by_key(|b| (b.partition, b.offset.unwrap_or(u64::MAX)));
    // A stored account with no history to recompute it from is an empty one.
    store.for_each_account(|_, stored| {
        if !compared.contains(&stored.iin) {
            let empty = Account::new(stored.iin);
            if empty != stored {
                diffs.extend(differ(&stored.iin, &stored, &empty));
            }
        }
    })?;
    Ok((breaks, diffs))
}

/// The fields in which a stored account and the one its history gives
/// differ.
fn differ(iin: &Iin, stored: &Account, recomputed: &Account) -> Vec<Mismatch> {
    let a = serde_json::to_value(Statement::of(stored)).unwrap_or_default();
    let b = serde_json::to_value(Statement::of(recomputed)).unwrap_or_default();
    compare(iin, &a, &b)
}

/// Why `store` does not follow from its own history, if it does not: the
/// check `verify` makes (every chain, every outcome, every account
/// recomputed), summed up in one line naming the first few places (IINs
/// masked). A restore runs it before it reports success.
pub(crate) fn recompute(ctx: &Context, store: &LedgerStore<DiskKv>) -> Result<Option<String>> {
    let (breaks, diffs) = self_check(ctx, store)?;
    if breaks.is_empty() && diffs.is_empty() {
        return Ok(None);
    }
    let mut places: Vec<String> = breaks
        .iter()
        .map(|b| format!("{}: {}", b.place, b.what))
        .chain(diffs.iter().map(|d| {
            format!(
                "account {}: {} is {} where its history gives {}",
                d.iin, d.field, d.data, d.other
            )
        }))
        .collect();
    let more = places.len().saturating_sub(3);
    places.truncate(3);
    let mut why = places.join("; ");
    if more > 0 {
        why.push_str(&format!(" (and {more} more)"));
    }
    Ok(Some(why))
}

/// The fields in which two statements differ.
fn compare(iin: &Iin, a: &serde_json::Value, b: &serde_json::Value) -> Vec<Mismatch> {
    let (ea, eb) = (a.as_object(), b.as_object());
    let fields: std::collections::BTreeSet<&String> =
        ea.into_iter().chain(eb).flat_map(|o| o.keys()).collect();
    fields
        .into_iter()
        .filter(|f| a.get(f.as_str()) != b.get(f.as_str()))
        .map(|f| Mismatch {
            iin: iin.masked(),
            field: f.clone(),
            data: shown(f, a.get(f.as_str())),
            other: shown(f, b.get(f.as_str())),
        })
        .collect()
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> Result<i32> {
    // From the start: a stop during the self-check ends the replay at once,
    // and the run then says it was interrupted.
    crate::common::stop_on_signals()?;
    let store = open_existing_store(&args.data)?;
    // Issue 15: the store's records are judged again, and a comparison
    // replay judges the log, under `--trust` if given (an auditor asking
    // "did this store apply anything that file does not authorize?"),
    // else under the trust file the store was projected with.
    let stored = crate::trust::of_store_choice(&store)?;
    let judged_by = crate::trust::chosen().unwrap_or(&stored);
    let ctx = &Context {
        trust: judged_by.policy.clone(),
        ..ctx.clone()
    };
    let (breaks, mut diffs) = self_check(ctx, &store)?;
    let tmp = tempfile::tempdir()?;
    let other = match &args.against {
        Some(dir) => Some(open_existing_store(dir)?),
        None if args.input.given() => {
            let (replayed, totals) = crate::audit::replay_into(
                ctx,
                judged_by,
                &args.input,
                tmp.path(),
                args.batch_size,
            )?;
            // Inputs §6: a comparison with half a replay proves nothing.
            if let Some(code) = crate::common::interrupted(
                &totals,
                "verify (replaying the log to compare)",
                "nothing verified past it",
            ) {
                return Ok(code);
            }
            Some(replayed)
        }
        None => None,
    };
    if let Some(other) = &other {
        diffs.extend(differences(&store, other)?);
    }

    if args.json {
        let report = serde_json::json!({"broken_links": breaks, "differences": diffs});
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for (i, b) in breaks.iter().enumerate() {
            let first = if i == 0 {
                "first broken link: "
            } else {
                "broken: "
            };
            println!("{first}{}: {}", b.place, b.what);
        }
        for d in &diffs {
            println!("{}  {}: {} ≠ {}", d.iin, d.field, d.data, d.other);
        }
        match (breaks.is_empty(), diffs.is_empty(), &other) {
            (true, true, Some(_)) => {
                println!("verified: every chain intact; every account, offset and the digest equal")
            }
            (true, true, None) => {
                println!("verified: every chain intact; every account follows from its history")
            }
            _ => println!("{} broken links, {} differences", breaks.len(), diffs.len()),
        }
    }
    Ok(if breaks.is_empty() && diffs.is_empty() {
        0
    } else {
        1
    })
}

/// Every account, offset and digest difference between two stores.
fn differences(store: &LedgerStore<DiskKv>, other: &LedgerStore<DiskKv>) -> Result<Vec<Mismatch>> {
    let mut diffs = Vec::new();
    let (mine_root, _) = store.digest()?;
    let (their_root, _) = other.digest()?;
    if mine_root != their_root {
        diffs.push(Mismatch {
            iin: "-".into(),
            field: "digest".into(),
            data: ledger_store::chain::hex(&mine_root),
            other: ledger_store::chain::hex(&their_root),
        });
    }
    let (mine, my_offsets) = load(store)?;
    let (mut theirs, their_offsets) = load(other)?;
    if my_offsets != their_offsets {
        diffs.push(Mismatch {
            iin: "-".into(),
            field: "offsets".into(),
            data: format!("{my_offsets:?}"),
            other: format!("{their_offsets:?}"),
        });
    }
    for (key, a) in mine {
        let Some(b) = theirs.remove(&key) else {
            diffs.push(Mismatch {
                iin: key.1.masked(),
                field: "(account)".into(),
                data: "present".into(),
                other: "(absent)".into(),
            });
            continue;
        };
        diffs.extend(compare(&key.1, &a, &b));
    }
    for (key, _) in theirs {
        diffs.push(Mismatch {
            iin: key.1.masked(),
            field: "(account)".into(),
            data: "(absent)".into(),
            other: "present".into(),
        });
    }
    Ok(diffs)
}
