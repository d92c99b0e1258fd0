//! Which log a store was projected from (issue 25): before a projector
//! seeks, each partition's log anchor (`ledger_store::LogAnchor`, the
//! first record the store applied there) is read back from the log it is
//! given, on either path (embedded log, Kafka topic), so a store or a
//! snapshot of another deployment is refused rather than projected on at
//! the wrong offsets.

use anyhow::Result;
use ledger_store::{DiskKv, LedgerStore, Link};
use ledger_stream::{record_hash, EmbeddedLog};
use std::collections::BTreeMap;

/// The hash of the log's record at an offset of a partition (`None`: the
/// log holds none there).
pub type HashAt<'a> = dyn FnMut(u32, u64) -> Result<Option<Link>> + 'a;

/// [`HashAt`] over an embedded log.
pub fn embedded(log: &EmbeddedLog) -> impl FnMut(u32, u64) -> Result<Option<Link>> + '_ {
    move |p, o| Ok(log.record_at(p, o)?.map(|r| record_hash(&r)))
}

/// [`HashAt`] over a Kafka topic, each answer read once, by a bare
/// consumer named after `group` (the caller's consumer group, which the
/// principal's ACLs cover).
pub fn kafka<'a>(
    cluster: &'a ledger_kafka::Cluster,
    topic: &'a str,
    group: &'a str,
) -> impl FnMut(u32, u64) -> Result<Option<Link>> + 'a {
    let reader = format!("{group}-log-identity");
    let mut known: BTreeMap<(u32, u64), Option<Link>> = BTreeMap::new();
    move |p, o| {
        if let Some(h) = known.get(&(p, o)) {
            return Ok(*h);
        }
        let h = ledger_kafka::record_at(cluster, topic, p, o, &reader)?.map(|r| record_hash(&r));
        known.insert((p, o), h);
        Ok(h)
    }
}

/// Refuses a log of `partitions` partitions that is not the one `store`
/// was projected from (`LedgerStore::check_log`); says so when a store of
/// an earlier si-ledger takes its anchors from this log now.
pub fn check(store: &LedgerStore<DiskKv>, partitions: u32, hash_at: &mut HashAt) -> Result<()> {
    let adopted = store.check_log(partitions, &mut *hash_at)?;
    for (p, a) in adopted {
        eprintln!(
            "partition {p}: the store recorded no log identity (an si-ledger before issue 25 \
             made it); from now on it is the log's record at offset {} (hash {})",
            a.offset,
            hex::encode(a.hash)
        );
    }
    Ok(())
}
