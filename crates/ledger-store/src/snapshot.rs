//! Snapshots: every key of some partitions, read at one instant (a batch
//! boundary: each store write is atomic), in one checksummed file that
//! seeds a new store, or the partitions a store has no state for, so a
//! projector replays only the log's tail.
//!
//! The file, all integers big-endian:
//!
//! | part | bytes |
//! | --- | --- |
//! | magic | `si-ledger snapshot 2\n` (version 2) |
//! | header | u32 length, then [`SnapshotHeader`] (postcard) |
//! | each pair | `1`, u32 key length, key, u32 value length, value |
//! | end | `0` |
//! | trailer | u32 length, then [`SnapshotTrailer`] (postcard) |
//! | checksum | SHA-256 of every byte before it |
//! | seal | u32 length, then [`Seal`] (postcard); length 0: unsigned |
//!
//! The pairs are the partitions' keys as the store holds them (every tag
//! whose key starts with the partition: offsets, clocks, chain heads, log
//! anchors, accounts, history, dead letters, notices, monthly
//! projections), partition by partition, tag by tag, each tag's keys in
//! key order. The trailer holds each partition's state, its log anchor
//! ([`LogAnchor`]: which log it was projected from) and the digest they
//! give, as read in the same instant. The seal is the projector's
//! signature over the checksum (`ledger_core::authority::Domain::
//! Snapshot`): the checksum alone is unkeyed, so whoever edits the file can
//! recompute it; the seal, checked against the trust file, they cannot.
//! Nothing is trusted before the checksum is: a restore reads the whole
//! file once to check it (and has the caller check the seal), then again
//! to write, and writes each partition's offset, clock and chain head
//! last; then the caller recomputes what was restored, and only then does
//! the restore mark go. The file is the store's: every participant's
//! history. It is created readable by its owner alone (0600).
//!
//! Version 1 (magic `si-ledger snapshot\n`) had no log anchors and no
//! seal: it is refused, not read with a warning, since it can show
//! neither which log it came from nor who wrote it; a new snapshot is one
//! command away, and the log can always rebuild the store.

use crate::chain::{self, Link, PartitionState};
use crate::{decode, encode, key, Kv, KvBatch, LedgerStore, LogAnchor, StoreError, FORMAT};
use ledger_core::authority::{Domain, Signer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The snapshot format's version, in its magic.
pub const SNAPSHOT_VERSION: u32 = 2;
const MAGIC: &[u8] = b"si-ledger snapshot 2\n";
/// Version 1's magic: refused, with the reason.
const MAGIC_V1: &[u8] = b"si-ledger snapshot\n";

/// The tags of keys that start with a partition: everything of one
/// partition's state.
pub(crate) const PARTITION_TAGS: [u8; 13] = [
    crate::OFFSET,
    crate::ANCHOR,
    crate::CLOCK,
    crate::CHAIN,
    crate::ACCOUNT,
    crate::HISTORY,
    crate::DEAD,
    crate::NOTICE,
    crate::TILE,
    crate::CHECKPOINT,
    crate::monthly::PROJECTION,
    crate::monthly::SUMMARY,
    crate::monthly::CLOSED,
];

/// Marks a partition whose restore has begun and not finished: written in
/// the restore's first write, removed in its last. A store with one is
/// refused by the projector (`check_or_init_meta`).
pub(crate) const RESTORING: u8 = b'X';

/// The states of some partitions as their keys go by: each offset and
/// chain head taken from its pair.
struct States {
    partitions: Vec<u32>,
    states: Vec<PartitionState>,
    anchors: Vec<Option<LogAnchor>>,
}

impl States {
    fn new(partitions: &[u32]) -> States {
        States {
            partitions: partitions.to_vec(),
            states: partitions
                .iter()
                .map(|p| PartitionState {
                    partition: *p,
                    next_offset: 0,
                    head: Default::default(),
                })
                .collect(),
            anchors: vec![None; partitions.len()],
        }
    }

    /// The partitions' anchors, for the trailer.
    fn anchors(&self) -> Vec<(u32, LogAnchor)> {
        self.partitions
            .iter()
            .zip(&self.anchors)
            .filter_map(|(p, a)| a.map(|a| (*p, a)))
            .collect()
    }

    /// Takes in one pair: `false` for a partition not among these.
    fn see(&mut self, k: &[u8], v: &[u8]) -> Result<bool, StoreError> {
        let p = u32::from_be_bytes(k[1..5].try_into().expect("a partition key"));
        let Ok(i) = self.partitions.binary_search(&p) else {
            return Ok(false);
        };
        match k[0] {
            crate::OFFSET => self.states[i].next_offset = crate::offset_value(k, v)?,
            crate::CHAIN => self.states[i].head = decode("chain head", k, v)?,
            crate::ANCHOR if k.len() == 5 => self.anchors[i] = Some(decode("log anchor", k, v)?),
            _ => {}
        }
        Ok(true)
    }
}

/// Pairs per store write while restoring.
const RESTORE_BATCH: usize = 8192;

/// What a snapshot is of, written before its pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The store format ([`FORMAT`]) the pairs are in.
    pub format: u32,
    pub id_scheme: ledger_core::IdScheme,
    /// The log's partition count.
    pub log_partitions: u32,
    /// The partitions the snapshot holds, ascending.
    pub partitions: Vec<u32>,
    /// The trust file the store was last projected with.
    pub trust: Option<String>,
    /// When the snapshot was taken, ms since the Unix epoch.
    pub taken_at_ms: i64,
}

/// What the pairs add up to, written after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotTrailer {
    pub pairs: u64,
    /// Each partition's next offset and chain head, as read with the pairs.
    pub states: Vec<PartitionState>,
    /// The Merkle root over `states` ([`chain::merkle_root`]): the ledger
    /// digest when the snapshot holds every partition.
    pub digest: Link,
    /// Each partition's log anchor, as read with the pairs: every
    /// partition with state has one.
    pub anchors: Vec<(u32, LogAnchor)>,
}

/// The projector's signature over a snapshot's checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The signing key's id (its RFC 7638 thumbprint).
    pub key_id: String,
    /// Ed25519 over `"si-ledger/v1 Snapshot\n"` ‖ the checksum.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// A snapshot file's header and trailer, after its checksum was checked;
/// its seal, not yet checked (that takes the trust file).
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub header: SnapshotHeader,
    pub trailer: SnapshotTrailer,
    /// SHA-256 of the file before the checksum: what the seal signs.
    pub checksum: Link,
    pub seal: Option<Seal>,
}

impl SnapshotInfo {
    /// The log anchor the snapshot holds for `partition`.
    pub fn anchor(&self, partition: u32) -> Option<LogAnchor> {
        self.trailer
            .anchors
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, a)| *a)
    }
}

/// What a restore has its caller check, since the store cannot: `before`
/// sees the checked file (its seal, against the trust file) before
/// anything is written; `after` sees the store once every key of the
/// restored partitions is written and before their restore marks go (it
/// recomputes what was restored). A refusal by `before` writes nothing; one
/// by `after` drops the partitions again.
pub struct RestoreChecks<'a, B: Kv> {
    pub before: &'a dyn Fn(&SnapshotInfo) -> Result<(), String>,
    pub after: &'a AfterRestore<'a, B>,
}

/// [`RestoreChecks::after`]: the store, and the partitions restored.
pub type AfterRestore<'a, B> = dyn Fn(&LedgerStore<B>, &[u32]) -> Result<(), String> + 'a;

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{}: {e}", path.display()))
}

fn damaged(path: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Snapshot(format!("{}: {why}", path.display()))
}

/// A writer that hashes what it writes.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.inner.write_all(bytes)
    }
    fn put_framed(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        self.put(&len.to_be_bytes())?;
        self.put(bytes)
    }
}

/// A reader that hashes what it reads.
struct Checked<R: Read> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Checked<R> {
    fn take(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact(buf)?;
        self.hash.update(&*buf);
        Ok(())
    }
    fn byte(&mut self) -> std::io::Result<u8> {
        let mut b = [0u8; 1];
        self.take(&mut b)?;
        Ok(b[0])
    }
    /// A u32-length-prefixed field of at most `max` bytes.
    fn framed(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.take(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > max {
            return Err(std::io::Error::other(format!(
                "a field of {len} bytes, more than {max}"
            )));
        }
        let mut v = vec![0u8; len];
        self.take(&mut v)?;
        Ok(v)
    }
}

/// Largest key and value a snapshot may hold: far above any the store
/// writes, so that a damaged length is not believed.
const MAX_KEY: usize = 1 << 16;
const MAX_VALUE: usize = 1 << 30;

/// Reads a snapshot from start to end, checking its framing and checksum,
/// and calls `pair` with each key and value (an error from `pair` stops).
fn read_snapshot(
    path: &Path,
    mut pair: impl FnMut(&SnapshotHeader, Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
) -> Result<SnapshotInfo, StoreError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut r = Checked {
        inner: BufReader::with_capacity(1 << 20, file),
        hash: Sha256::new(),
    };
    let bad = |e: std::io::Error| damaged(path, format!("cut short or damaged: {e}"));
    let mut magic = Vec::with_capacity(MAGIC.len());
    (&mut r.inner)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(bad)?;
    if magic.starts_with(MAGIC_V1) {
        return Err(damaged(
            path,
            format!(
                "a version 1 snapshot, which records neither the log it was taken from nor \
                 who wrote it: this si-ledger reads version {SNAPSHOT_VERSION} only; take a new \
                 snapshot with it (or replay the log)"
            ),
        ));
    }
    if magic != MAGIC {
        return Err(damaged(path, "not an si-ledger snapshot"));
    }
    r.hash.update(&magic);
    // What does not decode is a damaged file, whichever part it is in.
    let undecodable = |e: StoreError| damaged(path, format!("cut short or damaged: {e}"));
    let header: SnapshotHeader =
        decode("snapshot header", b"", &r.framed(MAX_VALUE).map_err(bad)?).map_err(undecodable)?;
    let mut pairs = 0u64;
    let mut seen = States::new(&header.partitions);
    loop {
        match r.byte().map_err(bad)? {
            0 => break,
            1 => {
                let k = r.framed(MAX_KEY).map_err(bad)?;
                let v = r.framed(MAX_VALUE).map_err(bad)?;
                let in_snapshot = k.len() >= 5
                    && PARTITION_TAGS.contains(&k[0])
                    && header
                        .partitions
                        .binary_search(&u32::from_be_bytes(k[1..5].try_into().expect("4 bytes")))
                        .is_ok();
                if !in_snapshot {
                    return Err(damaged(path, "a key of no partition the header names"));
                }
                pairs += 1;
                seen.see(&k, &v).map_err(undecodable)?;
                pair(&header, k, v)?;
            }
            other => return Err(damaged(path, format!("unknown record tag {other}"))),
        }
    }
    let trailer = r.framed(MAX_VALUE).map_err(bad)?;
    let computed: [u8; 32] = r.hash.finalize().into();
    let mut stored = [0u8; 32];
    r.inner.read_exact(&mut stored).map_err(bad)?;
    if computed != stored {
        return Err(damaged(
            path,
            "checksum mismatch: the file was changed or damaged",
        ));
    }
    let trailer: SnapshotTrailer =
        decode("snapshot trailer", b"", &trailer).map_err(undecodable)?;
    let mut len = [0u8; 4];
    r.inner.read_exact(&mut len).map_err(bad)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_KEY {
        return Err(damaged(path, format!("a seal of {len} bytes")));
    }
    let mut seal = vec![0u8; len];
    r.inner.read_exact(&mut seal).map_err(bad)?;
    let seal: Option<Seal> = match len {
        0 => None,
        _ => Some(decode("snapshot seal", b"", &seal).map_err(undecodable)?),
    };
    if r.inner.read(&mut [0u8; 1]).map_err(bad)? != 0 {
        return Err(damaged(path, "bytes after the seal"));
    }
    if trailer.pairs != pairs
        || trailer.digest != chain::merkle_root(&trailer.states)
        || trailer.states != seen.states
        || trailer.anchors != seen.anchors()
    {
        return Err(damaged(path, "the trailer disagrees with the pairs"));
    }
    Ok(SnapshotInfo {
        header,
        trailer,
        checksum: computed,
        seal,
    })
}

/// Checks a snapshot file through (framing, checksum, trailer): its header
/// and trailer. Errors: [`StoreError::Snapshot`] for a file that is not a
/// snapshot, or is cut short, changed or damaged.
pub fn check_snapshot(path: &Path) -> Result<SnapshotInfo, StoreError> {
    read_snapshot(path, |_, _, _| Ok(()))
}

impl<B: Kv> LedgerStore<B> {
    /// Writes a snapshot of `partitions` (all of the log's when `None`) to
    /// `out`, read at one instant ([`Kv::for_each_at_once`]), sealed by
    /// `signer` (the projector's key; unsigned when `None`). The file is
    /// written beside `out` and renamed into place once complete and
    /// synced, so an interrupted snapshot leaves no file at `out`. A
    /// partition with state but no log anchor (a store no projector of
    /// this version has run on) is refused: its snapshot could not show
    /// which log it belongs to.
    pub fn snapshot(
        &self,
        out: &Path,
        partitions: Option<&[u32]>,
        signer: Option<&Signer>,
    ) -> Result<SnapshotInfo, StoreError> {
        let meta = self
            .meta()?
            .ok_or_else(|| StoreError::Snapshot("the store has projected nothing yet".into()))?;
        self.check_restores()?;
        let mut chosen: Vec<u32> = match partitions {
            Some(ps) => ps.to_vec(),
            None => (0..meta.partitions).collect(),
        };
        chosen.sort_unstable();
        chosen.dedup();
        if let Some(p) = chosen.iter().find(|p| **p >= meta.partitions) {
            return Err(StoreError::Snapshot(format!(
                "partition {p}: the log has {} partitions",
                meta.partitions
            )));
        }
        for p in &chosen {
            if self.offset(*p)?.is_some_and(|o| o > 0) && self.anchor(*p)?.is_none() {
                return Err(StoreError::Snapshot(format!(
                    "partition {p} records no log identity (a store projected before si-ledger \
                     recorded it): run `project` on it once, then snapshot it"
                )));
            }
        }
        let header = SnapshotHeader {
            format: FORMAT,
            id_scheme: meta.id_scheme,
            log_partitions: meta.partitions,
            partitions: chosen.clone(),
            trust: self.trust_text()?,
            taken_at_ms: now_ms(),
        };
        let tmp = partial_path(out);
        let file = {
            use std::os::unix::fs::OpenOptionsExt as _;
            let _ = std::fs::remove_file(&tmp); // a crashed earlier attempt's
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io(&tmp, e))?
        };
        let mut w = Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
        };
        let prefixes: Vec<Vec<u8>> = chosen
            .iter()
            .flat_map(|p| PARTITION_TAGS.iter().map(move |t| key(*t, *p, &[])))
            .collect();
        let mut states = States::new(&chosen);
        let mut pairs = 0u64;
        let mut sealed = ([0u8; 32], None);
        let wrote = (|| -> Result<(), StoreError> {
            w.put(MAGIC).map_err(|e| io(&tmp, e))?;
            w.put_framed(&encode(&header)).map_err(|e| io(&tmp, e))?;
            self.kv.for_each_at_once(&prefixes, &mut |k, v| {
                states.see(k, v)?;
                w.put(&[1]).map_err(|e| io(&tmp, e))?;
                w.put_framed(k).map_err(|e| io(&tmp, e))?;
                w.put_framed(v).map_err(|e| io(&tmp, e))?;
                pairs += 1;
                Ok(true)
            })?;
            w.put(&[0]).map_err(|e| io(&tmp, e))?;
            let trailer = SnapshotTrailer {
                pairs,
                digest: chain::merkle_root(&states.states),
                states: states.states.clone(),
                anchors: states.anchors(),
            };
            w.put_framed(&encode(&trailer)).map_err(|e| io(&tmp, e))?;
            let sum: [u8; 32] = w.hash.clone().finalize().into();
            w.inner.write_all(&sum).map_err(|e| io(&tmp, e))?;
            let seal = signer.map(|s| {
                let sig = s.sign(Domain::Snapshot, &sum);
                Seal {
                    key_id: sig.key_id,
                    signature: sig.value,
                }
            });
            let seal_bytes = seal.as_ref().map(encode).unwrap_or_default();
            w.inner
                .write_all(&(seal_bytes.len() as u32).to_be_bytes())
                .and_then(|()| w.inner.write_all(&seal_bytes))
                .map_err(|e| io(&tmp, e))?;
            sealed = (sum, seal);
            let file = w.inner.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
            file.sync_all().map_err(|e| io(&tmp, e))
        })();
        if let Err(e) = wrote {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, out).map_err(|e| io(out, e))?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io(dir, e))?;
        }
        Ok(SnapshotInfo {
            header,
            trailer: SnapshotTrailer {
                pairs,
                digest: chain::merkle_root(&states.states),
                anchors: states.anchors(),
                states: states.states,
            },
            checksum: sealed.0,
            seal: sealed.1,
        })
    }

    /// Seeds this store's `partitions` (all the snapshot holds when
    /// `None`) from the snapshot at `path`. The file is checked through
    /// first; then each partition must be one the store has no state for
    /// (never projected, or dropped). The restore writes in batches and
    /// marks the partitions until its last write, so a restore cut short
    /// is refused by the projector until it is run again. Errors:
    /// [`StoreError::Snapshot`] for a damaged or foreign file, or a
    /// partition that has state, or one `checks` refuses;
    /// [`StoreError::PartitionMismatch`] for a snapshot of a log with
    /// another partition count.
    pub fn restore(
        &self,
        path: &Path,
        partitions: Option<&[u32]>,
        checks: &RestoreChecks<'_, B>,
    ) -> Result<SnapshotInfo, StoreError> {
        let info = check_snapshot(path)?;
        (checks.before)(&info).map_err(|why| damaged(path, why))?;
        let h = &info.header;
        if h.format != FORMAT {
            return Err(damaged(
                path,
                format!(
                    "store format {} is not format {FORMAT} that this si-ledger reads",
                    h.format
                ),
            ));
        }
        if h.id_scheme != ledger_core::id::scheme() {
            return Err(damaged(
                path,
                format!(
                    "its identifiers are {}, this si-ledger runs with --id-scheme {}",
                    h.id_scheme.name(),
                    ledger_core::id::scheme().name()
                ),
            ));
        }
        let fresh = self.meta()?.is_none();
        self.meta_for(h.log_partitions)?;
        // Partitions judged under one trust file do not join a store that
        // records another.
        if let (Some(ours), Some(theirs)) = (self.trust_text()?, &h.trust) {
            if ours != *theirs {
                return Err(damaged(
                    path,
                    "it was projected under another trust file than this store's",
                ));
            }
        }
        let chosen: Vec<u32> = match partitions {
            None => h.partitions.clone(),
            Some(ps) => {
                if let Some(p) = ps.iter().find(|p| h.partitions.binary_search(p).is_err()) {
                    return Err(damaged(path, format!("it holds no partition {p}")));
                }
                let mut ps = ps.to_vec();
                ps.sort_unstable();
                ps.dedup();
                ps
            }
        };
        for p in &chosen {
            if self.has_restore_mark(*p)? {
                // An earlier restore was cut short: what it wrote goes.
                self.drop_partition(*p)?;
            } else if self.offset(*p)?.is_some() {
                return Err(StoreError::Snapshot(format!(
                    "partition {p} already has state in this store: restore seeds only \
                     partitions it has none for"
                )));
            }
        }
        let mut b = KvBatch::default();
        for p in &chosen {
            b.put(key(RESTORING, *p, &[]), Vec::new());
            // An anchor written ahead of a batch that never landed goes:
            // the snapshot's names the partition's log.
            b.delete(key(crate::ANCHOR, *p, &[]));
        }
        if fresh {
            if let Some(t) = &h.trust {
                b.put(vec![crate::TRUST], t.as_bytes().to_vec());
            }
        }
        self.kv.write(b)?;
        // Each partition's offset, clock and chain head are held back: a
        // restore cut short leaves the partition without an offset (and
        // marked), never looking complete.
        let mut b = KvBatch::default();
        let mut last = KvBatch::default();
        let mut states = States::new(&chosen);
        let second = read_snapshot(path, |_, k, v| {
            if !states.see(&k, &v)? {
                return Ok(());
            }
            if matches!(k[0], crate::OFFSET | crate::CHAIN | crate::CLOCK) {
                last.put(k, v);
            } else {
                b.put(k, v);
                if b.len() >= RESTORE_BATCH {
                    self.kv.write(std::mem::take(&mut b))?;
                }
            }
            Ok(())
        })?;
        self.kv.write(b)?;
        // The file read the second time is the one checked the first time,
        // and what was written is the snapshot's: only then are the marks
        // taken away, with the partitions' offsets and heads.
        if second.trailer != info.trailer || second.checksum != info.checksum {
            return Err(damaged(path, "the file changed while it was restored"));
        }
        for state in &states.states {
            let want = info
                .trailer
                .states
                .iter()
                .find(|s| s.partition == state.partition);
            if want != Some(state) {
                return Err(damaged(
                    path,
                    format!(
                        "partition {} restored to another state than the snapshot's",
                        state.partition
                    ),
                ));
            }
        }
        self.kv.write(last)?;
        // Whole, and as the file says: now the caller recomputes it. What
        // it refuses is dropped again, marks included.
        if let Err(why) = (checks.after)(self, &chosen) {
            let mut undo = KvBatch::default();
            for p in &chosen {
                self.drop_partition(*p)?;
                undo.delete(key(RESTORING, *p, &[]));
            }
            if fresh {
                undo.delete(vec![crate::TRUST]);
            }
            self.kv.write(undo)?;
            return Err(damaged(
                path,
                format!(
                    "{why}; nothing of it was kept (partitions {chosen:?} are as they were \
                     before the restore)"
                ),
            ));
        }
        let mut done = KvBatch::default();
        for p in &chosen {
            done.delete(key(RESTORING, *p, &[]));
        }
        self.kv.write(done)?;
        Ok(info)
    }

    /// Whether a restore of `partition` began and did not finish.
    pub fn has_restore_mark(&self, partition: u32) -> Result<bool, StoreError> {
        Ok(self.kv.get(&key(RESTORING, partition, &[]))?.is_some())
    }
}

/// Where a snapshot is written before it is renamed to `out`: `out` with
/// `.partial` appended (never `out` itself, whatever its extension).
pub fn partial_path(out: &Path) -> std::path::PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".partial");
    std::path::PathBuf::from(name)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
