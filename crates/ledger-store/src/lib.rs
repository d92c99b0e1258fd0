//! The account store of the si-ledger. [`LedgerStore`] owns the key layout
//! and the encoding; a [`Kv`] backend owns the bytes: [`DiskKv`] on disk
//! ([`FjallKv`], the default, or [`SledKv`]: the [`Engine`] a directory was
//! created with), or [`MemoryKv`], the in-memory twin for tests. All three
//! pass one contract suite. [`LedgerStore::snapshot`] and
//! [`LedgerStore::restore`] move partitions between stores (and engines).
//!
//! Everything one projector batch produces — accounts (with their event-id
//! and history index), history entries, dead letters and the partitions'
//! next offsets — is written by [`LedgerStore::write`] in one atomic batch
//! and flushed before it returns. Every key starts with a tag byte and the
//! partition, so one partition's state can be dropped and rebuilt alone:
//!
//! | key | value |
//! | --- | --- |
//! | `V` | [`FORMAT`] (u32 BE): a store of another format is refused |
//! | `M` | [`StoreMeta`] |
//! | `T` | the trust file the store was last projected with (TOML text), or `none` |
//! | `W`, partition | the partition's clock: the latest record time (ms, i64 BE) among its records that reached an account |
//! | `O`, partition | next offset to read (u64 BE) |
//! | `A`, partition, IIN | [`AccountRecord`]: the account and its history refs |
//! | `H`, partition, bucket start (u64 BE) | the [`HistoryEntry`]s with offsets in `[start, start + SEGMENT)`, in offset order, LZ4-compressed |
//! | `D`, partition, offset (u64 BE) | [`DeadLetter`] |
//! | `C`, partition | [`ChainHead`]: where the partition's hash chain stands |
//! | `N`, partition, offset (u64 BE) | a notice to a payer (`si.ledger.v1.Notice` protobuf), derived from the history entry at that offset |
//! | `R`, `S`, `Z`, partition, period … | monthly projections, summaries, closed periods (see `monthly`) |
//! | `X`, partition | a restore of the partition begun and not finished (see `snapshot`) |
//! | `L`, partition | [`LogAnchor`]: the identity of the log the partition was projected from (its first record applied) |
//! | `L`, partition, `t` | [`LogAnchor`]: the last record of that log a batch read (where the store stands in it) |
//!
//! Every history entry, dead letter and account carries a link of the hash
//! chains in [`chain`]; [`LedgerStore::audit`] recomputes them.
//!
//! History is written in segments rather than one key per record because a
//! sled insert of a new key costs a tree descent and, as the tree grows,
//! node splits (and each fjall key its own index and filter entries): per-record keys made the projector several times slower than
//! one read-modify-write per event (`si-ledger bench replay`). Segments are
//! buckets of offsets, not batches, so the stored bytes depend on the log
//! alone, never on batch sizes or restarts.

mod audit;
pub mod chain;
mod kv;
mod monthly;
mod par;
mod records;
mod snapshot;
pub mod tlog;

pub use audit::{AccountCheck, Audit, Break, EntryBreak};
pub use chain::{ChainHead, Link, PartitionState};
pub use kv::{
    engine_of, DiskKv, Engine, FjallKv, Kv, KvBatch, MemoryKv, OpenOptions, Pairs, SledKv, Visitor,
    ENGINE_FILE,
};
pub use monthly::StoredProjection;
pub use par::par_map;
pub use records::{
    fingerprint, AccountRecord, DeadLetter, HistoryEntry, HistoryRef, LogAnchor, StoreMeta,
    WriteBatch,
};
pub use snapshot::{
    check_snapshot, partial_path, RestoreChecks, Seal, SnapshotHeader, SnapshotInfo,
    SnapshotTrailer, SNAPSHOT_VERSION,
};

use ledger_core::{Account, Iin};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Offsets per history segment: small enough that reading one entry (a
/// duplicate check, a history query) decodes little.
pub const SEGMENT: u64 = 64;

fn segment_key(partition: u32, offset: u64) -> Vec<u8> {
    key(
        HISTORY,
        partition,
        &(offset / SEGMENT * SEGMENT).to_be_bytes(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store backend: {0}")]
    Backend(String),
    #[error("stored {what} under key {key} does not decode: {reason}")]
    Corrupt {
        what: &'static str,
        key: String,
        reason: String,
    },
    #[error("store holds {stored} partitions but the log has {log}: use a new --data directory")]
    PartitionMismatch { stored: u32, log: u32 },
    #[error(
        "store format {found} is not format {FORMAT} that this si-ledger reads: \
         replay the log into a new --data directory"
    )]
    Format { found: String },
    #[error("snapshot {0}")]
    Snapshot(String),
    #[error(
        "store {dir} is in use by another process (a running projector?): \
         {engine} allows one process per store"
    )]
    InUse { dir: String, engine: &'static str },
    #[error(
        "store {dir} cannot be written by this process (a read-only mount, or no write \
         permission) and {engine} cannot open a store without writing to it, so it is read \
         from a private copy, and that copy failed: {reason}: set TMPDIR to a writable \
         directory with room for the store, or copy the store to writable media"
    )]
    ReadOnly {
        dir: String,
        engine: &'static str,
        reason: String,
    },
    #[error(
        "a restore of partition {partition} into this store did not finish: \
         run it again (`si-ledger restore`, or `project --restore-from`)"
    )]
    RestoreUnfinished { partition: u32 },
    #[error(
        "store was created with the {stored} engine, but --store {asked} was asked for: \
         run without --store (or with --store {stored}), or replay into a new --data directory"
    )]
    Engine { stored: String, asked: String },
    #[error(
        "partition {partition}: this store was projected from another log: {why}; \
         project it from the log it came from, or replay this log into a new --data directory"
    )]
    ForeignLog { partition: u32, why: String },
    #[error(
        "reading partition {partition} of the log at offset {offset} to check its identity: {why}"
    )]
    LogUnreadable {
        partition: u32,
        offset: u64,
        why: String,
    },
    #[error(
        "store keys participants by {stored} identifiers, but this si-ledger runs with \
         --id-scheme {running}: run it with --id-scheme {stored}, or replay into a new --data directory"
    )]
    Scheme { stored: String, running: String },
}

/// Version of the key layout and encodings. A store of another version is
/// refused, never misread; the log can always rebuild it. 12: history
/// entries keep the canonical spelling of each event (amounts with two
/// decimals, names in NFC: `ledger_proto::canonical`), and content hashes
/// and chain links are taken over it; a format-11 store's hashes were
/// taken over the producer's spelling, so it is replayed, not reused.
/// 13: history entries keep a privileged record's signature, content
/// hashes are taken without it, and the store records its trust file
/// (issue 15). 14: history entries keep the Schema Registry id of a
/// value a Confluent serializer framed (issue 16). 15: the meta records
/// the storage engine (issue 17). 16: accounts keep their contribution
/// refunds with decision dates (`Account::refunded_lines`, issue 25).
/// 17: each partition's chain is also an RFC 6962 tree, kept as tiles,
/// with signed checkpoints; history entries and dead letters keep their
/// leaf index (issue 27, [`tlog`]).
pub const FORMAT: u32 = 17;

const META: u8 = b'M';
const TRUST: u8 = b'T';
const CLOCK: u8 = b'W';
const VERSION: u8 = b'V';
const OFFSET: u8 = b'O';
const ACCOUNT: u8 = b'A';
const HISTORY: u8 = b'H';
const DEAD: u8 = b'D';
const CHAIN: u8 = b'C';
const NOTICE: u8 = b'N';
const ANCHOR: u8 = b'L';
/// Tree tiles ([`tlog`]): `K`, partition, level, index.
const TILE: u8 = b'K';
/// Signed checkpoints ([`tlog`]): `P`, partition, tree size.
const CHECKPOINT: u8 = b'P';
/// After the partition in a tail anchor's key (`L`, partition, `t`).
const TAIL: &[u8] = b"t";

fn key(tag: u8, partition: u32, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + rest.len());
    k.push(tag);
    k.extend_from_slice(&partition.to_be_bytes());
    k.extend_from_slice(rest);
    k
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("store records always encode")
}

fn decode<T: DeserializeOwned>(what: &'static str, k: &[u8], v: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(v).map_err(|e| StoreError::Corrupt {
        what,
        key: printable_key(k),
        reason: e.to_string(),
    })
}

/// A history segment's bytes: postcard, compressed with LZ4 (block format,
/// uncompressed length first). Entries repeat payer and recipient names and
/// field layouts, so a segment shrinks to about a third, and the store
/// writes a third of the bytes.
fn encode_segment(entries: &[&HistoryEntry]) -> Vec<u8> {
    lz4_flex::compress_prepend_size(&encode(&entries))
}

fn decode_segment(k: &[u8], v: &[u8]) -> Result<Vec<HistoryEntry>, StoreError> {
    let raw = lz4_flex::decompress_size_prepended(v).map_err(|e| StoreError::Corrupt {
        what: "history segment",
        key: printable_key(k),
        reason: format!("LZ4: {e}"),
    })?;
    decode("history segment", k, &raw)
}

/// A key for error messages, with any IIN in it masked.
fn printable_key(k: &[u8]) -> String {
    let tag = k.first().map(|t| *t as char).unwrap_or('?');
    let partition = k
        .get(1..5)
        .map(|p| u32::from_be_bytes(p.try_into().expect("4 bytes")));
    let number = || {
        k.get(5..13)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    };
    match (tag, partition) {
        ('A', Some(p)) => {
            let iin = k
                .get(5..17)
                .map(|b| ledger_core::mask_id(&String::from_utf8_lossy(b)));
            format!("A/p{p}/{}", iin.unwrap_or_default())
        }
        ('H' | 'D', Some(p)) => format!("{tag}/p{p}/{}", number().unwrap_or_default()),
        (_, Some(p)) => format!("{tag}/p{p}"),
        _ => format!("{tag}"),
    }
}

/// The ledger's state over a key-value backend.
#[derive(Clone)]
pub struct LedgerStore<B: Kv> {
    kv: B,
}

impl LedgerStore<DiskKv> {
    /// Opens (or creates, with the default engine and cache) the store in
    /// `dir`; refuses a store written in another format.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &OpenOptions::default())
    }

    /// Opens (or creates) the store in `dir` as `opts` say (see
    /// [`DiskKv::open`]); refuses a store written in another format.
    pub fn open_with(dir: &Path, opts: &OpenOptions) -> Result<Self, StoreError> {
        let store = LedgerStore {
            kv: DiskKv::open(dir, opts)?,
        };
        store.check_format()?;
        Ok(store)
    }
}

impl LedgerStore<DiskKv> {
    /// Opens the existing store in `dir` for a command that only reads it
    /// ([`DiskKv::open_to_read`]: a store this process may not write is
    /// read from a private copy); refuses a store written in another
    /// format.
    pub fn open_to_read(dir: &Path, opts: &OpenOptions) -> Result<Self, StoreError> {
        let store = LedgerStore {
            kv: DiskKv::open_to_read(dir, opts)?,
        };
        store.check_format()?;
        Ok(store)
    }
}

impl LedgerStore<MemoryKv> {
    pub fn in_memory() -> Self {
        let store = LedgerStore {
            kv: MemoryKv::default(),
        };
        store
            .check_format()
            .expect("an empty in-memory store takes the format");
        store
    }
}

impl<B: Kv> LedgerStore<B> {
    pub fn with_backend(kv: B) -> Self {
        LedgerStore { kv }
    }

    pub fn backend(&self) -> &B {
        &self.kv
    }

    /// Stamps an empty store with [`FORMAT`]; checks a non-empty one.
    pub fn check_format(&self) -> Result<(), StoreError> {
        let found = self.kv.get(&[VERSION])?;
        match found {
            Some(v) if v == FORMAT.to_be_bytes() => Ok(()),
            Some(v) => Err(StoreError::Format {
                found: match <[u8; 4]>::try_from(v.as_slice()) {
                    Ok(b) => u32::from_be_bytes(b).to_string(),
                    Err(_) => format!("{v:?}"),
                },
            }),
            None => {
                let mut empty = true;
                self.kv.for_each(&[], &mut |_, _| {
                    empty = false;
                    Ok(false)
                })?;
                if !empty {
                    return Err(StoreError::Format {
                        found: "unknown (written before formats were versioned)".into(),
                    });
                }
                let mut b = KvBatch::default();
                b.put(vec![VERSION], FORMAT.to_be_bytes().to_vec());
                self.kv.write(b)
            }
        }
    }

    /// The trust file (TOML text) the store was last projected with, or
    /// `none` for `--trust none`; `None` before any projection.
    pub fn trust_text(&self) -> Result<Option<String>, StoreError> {
        let k = vec![TRUST];
        self.kv
            .get(&k)?
            .map(|v| {
                String::from_utf8(v).map_err(|e| StoreError::Corrupt {
                    what: "trust file",
                    key: "T".into(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Records the trust file a projection runs with (durably).
    pub fn set_trust_text(&self, text: &str) -> Result<(), StoreError> {
        let mut b = KvBatch::default();
        b.put(vec![TRUST], text.as_bytes().to_vec());
        self.kv.write(b)
    }

    pub fn meta(&self) -> Result<Option<StoreMeta>, StoreError> {
        let k = vec![META];
        self.kv.get(&k)?.map(|v| decode("meta", &k, &v)).transpose()
    }

    /// Refuses a store whose identifiers are of another scheme than the
    /// process's ([`ledger_core::id::scheme`]): its keys would not parse.
    pub fn check_scheme(&self) -> Result<(), StoreError> {
        match self.meta()? {
            Some(m) if m.id_scheme != ledger_core::id::scheme() => Err(StoreError::Scheme {
                stored: m.id_scheme.name().to_string(),
                running: ledger_core::id::scheme().name().to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Records the log's partition count and the identifier scheme on first
    /// use; refuses a store that was built from a log with another count
    /// (its keys would be wrong) or under another scheme or engine, and a
    /// store a restore into was cut short
    /// ([`StoreError::RestoreUnfinished`]).
    pub fn check_or_init_meta(&self, partitions: u32) -> Result<StoreMeta, StoreError> {
        let meta = self.meta_for(partitions)?;
        self.check_restores()?;
        Ok(meta)
    }

    /// Refuses a store a restore into was cut short
    /// ([`StoreError::RestoreUnfinished`]): its partitions are partly
    /// written, and nothing may read or project them until the restore is
    /// run again.
    pub fn check_restores(&self) -> Result<(), StoreError> {
        match self.unfinished_restore()? {
            Some(partition) => Err(StoreError::RestoreUnfinished { partition }),
            None => Ok(()),
        }
    }

    /// The first partition a restore into was cut short, if any.
    pub fn unfinished_restore(&self) -> Result<Option<u32>, StoreError> {
        let mut unfinished = None;
        self.kv.for_each(&[snapshot::RESTORING], &mut |k, _| {
            unfinished = k
                .get(1..5)
                .map(|p| u32::from_be_bytes(p.try_into().expect("4 bytes")));
            Ok(false)
        })?;
        Ok(unfinished)
    }

    /// [`Self::check_or_init_meta`] without the check for restores.
    fn meta_for(&self, partitions: u32) -> Result<StoreMeta, StoreError> {
        self.check_scheme()?;
        match self.meta()? {
            Some(m) if m.partitions != partitions => Err(StoreError::PartitionMismatch {
                stored: m.partitions,
                log: partitions,
            }),
            Some(m) if m.engine != self.kv.engine() => Err(StoreError::Engine {
                stored: m.engine.name().into(),
                asked: self.kv.engine().name().into(),
            }),
            Some(m) => Ok(m),
            None => {
                let m = StoreMeta {
                    partitions,
                    id_scheme: ledger_core::id::scheme(),
                    engine: self.kv.engine(),
                };
                let mut b = KvBatch::default();
                b.put(vec![META], encode(&m));
                self.kv.write(b)?;
                Ok(m)
            }
        }
    }

    /// Which partition holds `iin`, per the stored partition count.
    pub fn partition_of(&self, iin: &Iin) -> Result<Option<u32>, StoreError> {
        Ok(self.meta()?.map(|m| partition_of(iin, m.partitions)))
    }

    pub fn account_record(
        &self,
        partition: u32,
        iin: &Iin,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let k = key(ACCOUNT, partition, iin.as_bytes());
        self.kv
            .get(&k)?
            .map(|v| decode("account", &k, &v))
            .transpose()
    }

    pub fn account(&self, partition: u32, iin: &Iin) -> Result<Option<Account>, StoreError> {
        Ok(self.account_record(partition, iin)?.map(|r| r.account))
    }

    /// The next offset to read on `partition`, if anything was applied.
    pub fn offset(&self, partition: u32) -> Result<Option<u64>, StoreError> {
        let k = key(OFFSET, partition, &[]);
        self.kv.get(&k)?.map(|v| offset_value(&k, &v)).transpose()
    }

    /// Writes one batch atomically and durably.
    pub fn write(&self, w: &WriteBatch) -> Result<(), StoreError> {
        let mut b = KvBatch::default();
        // Encoding is pure: spread it over the cores.
        let encoded = par_map(&w.accounts, |(p, a)| {
            (key(ACCOUNT, *p, a.account.iin.as_bytes()), encode(a))
        });
        for (k, v) in encoded {
            b.put(k, v);
        }
        let mut segments: BTreeMap<Vec<u8>, Vec<&HistoryEntry>> = BTreeMap::new();
        for h in &w.history {
            segments
                .entry(segment_key(h.position.partition, h.position.offset))
                .or_default()
                .push(h);
        }
        for (k, entries) in segments {
            // A segment the previous batch began is completed, not replaced.
            // Encoded from references: serde writes `&T` exactly as `T`, so
            // nothing is cloned for the sake of encoding.
            let old: Vec<HistoryEntry> = match self.kv.get(&k)? {
                Some(v) => decode_segment(&k, &v)?,
                None => Vec::new(),
            };
            let merged: Vec<&HistoryEntry> = if old.is_empty() {
                entries
            } else {
                let mut by_offset: BTreeMap<u64, &HistoryEntry> =
                    old.iter().map(|h| (h.position.offset, h)).collect();
                by_offset.extend(entries.into_iter().map(|h| (h.position.offset, h)));
                by_offset.into_values().collect()
            };
            b.put(k, encode_segment(&merged));
        }
        for d in &w.dead_letters {
            let k = key(DEAD, d.position.partition, &d.position.offset.to_be_bytes());
            b.put(k, encode(d));
        }
        for (at, _, n) in &w.notices {
            b.put(
                key(NOTICE, at.partition, &at.offset.to_be_bytes()),
                n.clone(),
            );
        }
        for (p, next) in &w.offsets {
            b.put(key(OFFSET, *p, &[]), next.to_be_bytes().to_vec());
        }
        for (p, head) in &w.heads {
            b.put(key(CHAIN, *p, &[]), encode(head));
        }
        for (p, ms) in &w.clocks {
            b.put(key(CLOCK, *p, &[]), ms.to_be_bytes().to_vec());
        }
        for (p, anchor) in &w.tails {
            b.put(key(ANCHOR, *p, TAIL), encode(anchor));
        }
        for (p, level, index, hashes) in &w.tiles {
            b.put(tlog::tile_key(*p, *level, *index), hashes.clone());
        }
        for (p, size, note) in &w.checkpoints {
            b.put(tlog::checkpoint_key(*p, *size), note.clone());
        }
        self.put_restatements(&mut b, w);
        self.kv.write(b)
    }

    /// `partition`'s clock ([`WriteBatch::clocks`]), if a record reached
    /// an account there.
    pub fn clock(&self, partition: u32) -> Result<Option<i64>, StoreError> {
        let k = key(CLOCK, partition, &[]);
        self.kv
            .get(&k)?
            .map(|v| {
                <[u8; 8]>::try_from(v.as_slice())
                    .map(i64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "partition clock",
                        key: printable_key(&k),
                        reason: format!("{} bytes, not 8", v.len()),
                    })
            })
            .transpose()
    }

    /// Where `partition`'s hash chain stands (the genesis before anything).
    pub fn chain_head(&self, partition: u32) -> Result<ChainHead, StoreError> {
        let k = key(CHAIN, partition, &[]);
        Ok(match self.kv.get(&k)? {
            Some(v) => decode("chain head", &k, &v)?,
            None => ChainHead::default(),
        })
    }

    /// Every partition's next offset and chain head: what the digest covers.
    pub fn partition_states(&self) -> Result<Vec<PartitionState>, StoreError> {
        let partitions = self.meta()?.map_or(0, |m| m.partitions);
        (0..partitions)
            .map(|p| {
                Ok(PartitionState {
                    partition: p,
                    next_offset: self.offset(p)?.unwrap_or(0),
                    head: self.chain_head(p)?,
                })
            })
            .collect()
    }

    /// The ledger digest: the Merkle root over [`Self::partition_states`].
    pub fn digest(&self) -> Result<(Link, Vec<PartitionState>), StoreError> {
        let states = self.partition_states()?;
        Ok((chain::merkle_root(&states), states))
    }

    /// The history entry recorded at `offset` of `partition`, if any.
    pub fn history_entry(
        &self,
        partition: u32,
        offset: u64,
    ) -> Result<Option<HistoryEntry>, StoreError> {
        let k = segment_key(partition, offset);
        let Some(v) = self.kv.get(&k)? else {
            return Ok(None);
        };
        let segment: Vec<HistoryEntry> = decode_segment(&k, &v)?;
        Ok(segment
            .binary_search_by_key(&offset, |h| h.position.offset)
            .ok()
            .map(|i| segment[i].clone()))
    }

    /// An account's history in log order.
    pub fn history(&self, partition: u32, iin: &Iin) -> Result<Vec<HistoryEntry>, StoreError> {
        let Some(record) = self.account_record(partition, iin)? else {
            return Ok(Vec::new());
        };
        record
            .refs
            .iter()
            .map(|r| {
                self.history_entry(partition, r.offset)?
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "history ref",
                        key: printable_key(&key(ACCOUNT, partition, iin.as_bytes())),
                        reason: format!("offset {} has no history entry", r.offset),
                    })
            })
            .collect()
    }

    /// Every dead letter, by partition and offset.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.kv
            .scan(&[DEAD])?
            .into_iter()
            .map(|(k, v)| decode("dead letter", &k, &v))
            .collect()
    }

    /// Every notice to a payer, by partition and offset: the protobuf bytes
    /// of `si.ledger.v1.Notice`.
    pub fn notices(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .kv
            .scan(&[NOTICE])?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Visits every history entry, by partition and offset, one segment in
    /// memory at a time; `f` returns `false` to stop.
    pub fn for_each_history_entry(
        &self,
        mut f: impl FnMut(&HistoryEntry) -> bool,
    ) -> Result<(), StoreError> {
        self.kv.for_each(&[HISTORY], &mut |k, v| {
            for e in decode_segment(k, v)? {
                if !f(&e) {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    /// Visits every account, by partition and IIN, one at a time.
    pub fn for_each_account(&self, mut f: impl FnMut(u32, Account)) -> Result<(), StoreError> {
        self.kv.for_each(&[ACCOUNT], &mut |k, v| {
            let p = u32::from_be_bytes(k[1..5].try_into().expect("partition"));
            let record: AccountRecord = decode("account", k, v)?;
            f(p, record.account);
            Ok(true)
        })
    }

    /// Number of stored values and their bytes under one key tag (`A`
    /// accounts, `H` history segments, `D` dead letters): for benchmarks
    /// and capacity planning.
    pub fn value_bytes(&self, tag: u8) -> Result<(u64, u64), StoreError> {
        let (mut n, mut bytes) = (0u64, 0u64);
        self.kv.for_each(&[tag], &mut |_, v| {
            n += 1;
            bytes += v.len() as u64;
            Ok(true)
        })?;
        Ok((n, bytes))
    }

    /// The identity of the log `partition` was projected from, once a
    /// record of it was applied.
    pub fn anchor(&self, partition: u32) -> Result<Option<LogAnchor>, StoreError> {
        let k = key(ANCHOR, partition, &[]);
        self.kv
            .get(&k)?
            .map(|v| decode("log anchor", &k, &v))
            .transpose()
    }

    /// The last record of its log a batch on `partition` read
    /// ([`WriteBatch::tails`]).
    pub fn tail_anchor(&self, partition: u32) -> Result<Option<LogAnchor>, StoreError> {
        let k = key(ANCHOR, partition, TAIL);
        self.kv
            .get(&k)?
            .map(|v| decode("log anchor", &k, &v))
            .transpose()
    }

    /// Records the identity of the log `partition` is projected from
    /// (durably). The projector records the first record it applies on a
    /// partition that has none; written ahead of that record's batch, it
    /// names the log, whether or not the batch lands.
    pub fn set_anchor(&self, partition: u32, anchor: &LogAnchor) -> Result<(), StoreError> {
        let mut b = KvBatch::default();
        b.put(key(ANCHOR, partition, &[]), encode(anchor));
        self.kv.write(b)
    }

    /// Checks, before anything is read from it, that the log of
    /// `log_partitions` partitions is the one this store was projected
    /// from: on each partition with an anchor, the log's record at the
    /// anchor's offset must have the anchor's hash. `hash_at(partition,
    /// offset)` gives the hash of the log's record there (`None`: the log
    /// holds none). The partition's tail anchor (the last record a batch
    /// read), when it has one, must be the log's too: a log that only
    /// begins like the store's is not it. A partition with state but no
    /// anchor (projected by an
    /// si-ledger before anchors) takes the log's record just before its
    /// next offset as its anchor: those are returned, to be told.
    ///
    /// Errors: [`StoreError::ForeignLog`] for a log that is not the
    /// store's, [`StoreError::PartitionMismatch`] for one of another
    /// partition count, [`StoreError::LogUnreadable`] when `hash_at` fails.
    pub fn check_log<E: std::fmt::Display>(
        &self,
        log_partitions: u32,
        mut hash_at: impl FnMut(u32, u64) -> Result<Option<Link>, E>,
    ) -> Result<Vec<(u32, LogAnchor)>, StoreError> {
        let Some(meta) = self.meta()? else {
            return Ok(Vec::new());
        };
        if meta.partitions != log_partitions {
            return Err(StoreError::PartitionMismatch {
                stored: meta.partitions,
                log: log_partitions,
            });
        }
        let mut adopted = Vec::new();
        for p in 0..meta.partitions {
            let (anchor, legacy) = match self.anchor(p)? {
                Some(a) => (a, false),
                None => match self.offset(p)? {
                    Some(next) if next > 0 => (
                        LogAnchor {
                            offset: next - 1,
                            hash: [0; 32],
                        },
                        true,
                    ),
                    _ => continue,
                },
            };
            let found = hash_at(p, anchor.offset).map_err(|e| StoreError::LogUnreadable {
                partition: p,
                offset: anchor.offset,
                why: e.to_string(),
            })?;
            let foreign = |why: String| StoreError::ForeignLog { partition: p, why };
            match found {
                None => {
                    return Err(foreign(format!(
                        "the log holds no record at offset {} (it is shorter, or retention \
                         removed the record: the ledger's log keeps every record)",
                        anchor.offset
                    )))
                }
                Some(hash) if legacy => {
                    let a = LogAnchor {
                        offset: anchor.offset,
                        hash,
                    };
                    self.set_anchor(p, &a)?;
                    adopted.push((p, a));
                }
                Some(hash) if hash != anchor.hash => {
                    return Err(foreign(format!(
                        "the log's record at offset {} has hash {}, where the store's log had {}",
                        anchor.offset,
                        chain::hex(&hash),
                        chain::hex(&anchor.hash)
                    )))
                }
                Some(_) => {}
            }
            let Some(tail) = self.tail_anchor(p)? else {
                continue;
            };
            let found = hash_at(p, tail.offset).map_err(|e| StoreError::LogUnreadable {
                partition: p,
                offset: tail.offset,
                why: e.to_string(),
            })?;
            if found != Some(tail.hash) {
                return Err(foreign(format!(
                    "it begins as the store's log did, but its record at offset {} (the last \
                     the store read) {}, where the store's log had {}",
                    tail.offset,
                    found.map_or("is not there".into(), |h| format!(
                        "has hash {}",
                        chain::hex(&h)
                    )),
                    chain::hex(&tail.hash)
                )));
            }
        }
        Ok(adopted)
    }

    /// Forgets everything of one partition (to rebuild it from offset 0).
    pub fn drop_partition(&self, partition: u32) -> Result<(), StoreError> {
        let mut b = KvBatch::default();
        // Every tag of a partition's state, the snapshot's list: one list,
        // so that a new kind of key is never left behind by one of them.
        for tag in snapshot::PARTITION_TAGS {
            self.kv.for_each(&key(tag, partition, &[]), &mut |k, _| {
                b.delete(k.to_vec());
                Ok(true)
            })?;
        }
        self.kv.write(b)
    }

    /// Bytes the backend occupies on disk (0 in memory).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.kv.size_on_disk()
    }
}

/// A stored offset's value (u64 BE).
fn offset_value(k: &[u8], v: &[u8]) -> Result<u64, StoreError> {
    let b: [u8; 8] = v.try_into().map_err(|_| StoreError::Corrupt {
        what: "offset",
        key: printable_key(k),
        reason: format!("{} bytes where an offset has 8", v.len()),
    })?;
    Ok(u64::from_be_bytes(b))
}

/// Kafka's partition for an IIN key (murmur2, like the Java client).
pub fn partition_of(iin: &Iin, partitions: u32) -> u32 {
    ledger_core::partition_for(iin.as_bytes(), partitions)
}
