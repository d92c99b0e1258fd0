//! One transparency log per partition (issue 27): an RFC 6962 Merkle tree
//! over the partition chain's items, signed C2SP checkpoints of it,
//! inclusion and consistency proofs, and their C2SP file formats. Every
//! byte is specified in `docs/tamper-evidence.md`, "Verifiable logs".
//!
//! - Leaf *i* of partition *k* is the *i*-th item of that partition's chain
//!   ([`crate::chain`]), in offset order: an account update's
//!   [`update_leaf`] or a dead letter's [`dead_letter_leaf`]. Leaf hash
//!   `SHA-256(0x00 ‖ leaf)`, node `SHA-256(0x01 ‖ left ‖ right)`, empty
//!   tree `SHA-256("")` (RFC 6962 §2.1).
//! - The tree's hashes are kept as C2SP `tlog-tiles` tiles of height 8:
//!   tile `(L, N)` holds the hashes at tree level `8L` of nodes `256N …
//!   256N+255`, 32 bytes each; a partial tile (fewer than 256) is
//!   rewritten as it fills. Every other hash is folded from one tile, so a
//!   proof for any leaf reads at most one tile per 8 levels.
//! - Proofs are made and checked by `tlog_tiles` (a port of Go's
//!   `golang.org/x/mod/sumdb/tlog`); notes are written and opened by
//!   `signed_note` (of the same project). What is ours is the storage of
//!   the tiles, the leaf layout and the edge cases RFC 9162 §2.1.4.2 names
//!   that Go's `CheckTree` does not take (an empty or equal old tree).

use crate::chain::Link;
use crate::{key, DeadLetter, Kv, LedgerStore, StoreError};
use base64::Engine as _;
use ledger_core::authority::Signer;
use sha2::{Digest as _, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use tlog_tiles::{Hash, HashReader};

/// Tree levels per tile (C2SP `tlog-tiles`).
pub const TILE_HEIGHT: u32 = 8;
/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// The first byte of an account update's leaf.
pub const UPDATE_LEAF: u8 = b'A';
/// The first byte of a dead letter's leaf.
pub const DEAD_LETTER_LEAF: u8 = b'D';
/// The first line of a C2SP inclusion proof file.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// An account update's leaf: `'A' ‖ len ‖ IIN ‖ len ‖ event id ‖ P`, where
/// `P` is the account link's preimage ([`crate::chain::account_preimage`]):
/// `SHA-256(P)` is the account's link after this entry, and `P` begins
/// with the link before it, so a verifier ties the leaf to one revision of
/// one account. Lengths are u32 big-endian.
pub fn update_leaf(iin: &str, event_id: &str, preimage: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 8 + iin.len() + event_id.len() + preimage.len());
    out.push(UPDATE_LEAF);
    put_str(&mut out, iin.as_bytes());
    put_str(&mut out, event_id.as_bytes());
    out.extend_from_slice(preimage);
    out
}

/// A dead letter's leaf: `'D' ‖ partition u32 ‖ offset u64 ‖ record time
/// i64 (ms) ‖ len ‖ key ‖ len ‖ value ‖ len ‖ kind ‖ len ‖ error`.
pub fn dead_letter_leaf(d: &DeadLetter) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + d.key.len() + d.value.len() + d.error.len());
    out.push(DEAD_LETTER_LEAF);
    out.extend_from_slice(&d.position.partition.to_be_bytes());
    out.extend_from_slice(&d.position.offset.to_be_bytes());
    out.extend_from_slice(&d.timestamp_ms.to_be_bytes());
    put_str(&mut out, &d.key);
    put_str(&mut out, &d.value);
    put_str(&mut out, d.kind.as_bytes());
    put_str(&mut out, d.error.as_bytes());
    out
}

/// RFC 6962's leaf hash: `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Link {
    tlog_tiles::record_hash(leaf).0
}

fn node(l: &Link, r: &Link) -> Link {
    tlog_tiles::node_hash(Hash(*l), Hash(*r)).0
}

/// The root of a perfect subtree over `hashes` (a power of two of them).
fn perfect_root(hashes: &[Link]) -> Link {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Link> = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node(&p[0], &p[1])).collect();
    }
    level[0]
}

fn hashes_of(bytes: &[u8]) -> Vec<Link> {
    bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect()
}

/// An account update's leaf, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateLeaf {
    pub iin: String,
    pub event_id: String,
    /// The account's link before this entry (32 zero bytes for its first).
    pub prev: Link,
    pub partition: u32,
    pub offset: u64,
    /// The log's record time, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// The entry's place in the account's history, from 0.
    pub seq: u64,
    /// SHA-256 of the event's canonical bytes.
    pub content_hash: Link,
    /// 1 applied, 2 returned, 3 refused, 4 duplicate, 5 conflict, 6 redirected.
    pub outcome: u8,
    pub late: bool,
    /// The reason (or, for a redirect, the identifier it went to).
    pub reason: String,
    pub schema_id: Option<u32>,
    /// The account's link after this entry: SHA-256 of the preimage.
    pub link: Link,
}

impl UpdateLeaf {
    /// The outcome the leaf records, as the store keeps it.
    pub fn outcome(&self) -> Result<ledger_core::Outcome, String> {
        use ledger_core::Outcome;
        let reason = self.reason.clone();
        Ok(match self.outcome {
            1 => Outcome::Applied { late: self.late },
            2 => Outcome::Returned {
                reason,
                late: self.late,
            },
            3 => Outcome::Refused { reason },
            4 => Outcome::Duplicate,
            5 => Outcome::Conflict { reason },
            6 => Outcome::Redirected {
                into: ledger_core::Iin::parse(&reason)
                    .map_err(|e| format!("redirected to {}: {e}", ledger_core::mask_id(&reason)))?,
            },
            n => return Err(format!("outcome {n} is no outcome")),
        })
    }
}

/// A leaf, read back ([`parse_leaf`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    Update(UpdateLeaf),
    DeadLetter {
        partition: u32,
        offset: u64,
        timestamp_ms: i64,
    },
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| format!("leaf ends inside its {what} (byte {})", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }
    fn string(&mut self, what: &str) -> Result<String, String> {
        let n = u32::from_be_bytes(self.array(what)?) as usize;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).map_err(|_| format!("leaf's {what} is not UTF-8"))
    }
}

/// Reads a leaf's bytes as [`update_leaf`] and [`dead_letter_leaf`] write
/// them. Errors name the field that does not parse.
pub fn parse_leaf(bytes: &[u8]) -> Result<Leaf, String> {
    let mut r = Reader { b: bytes, at: 1 };
    match bytes.first() {
        Some(&UPDATE_LEAF) => {
            let iin = r.string("IIN")?;
            let event_id = r.string("event id")?;
            let preimage = &bytes[r.at..];
            let prev = r.array("previous link")?;
            let partition = u32::from_be_bytes(r.array("partition")?);
            let offset = u64::from_be_bytes(r.array("offset")?);
            let timestamp_ms = i64::from_be_bytes(r.array("record time")?);
            let seq = u64::from_be_bytes(r.array("seq")?);
            let content_hash = r.array("content hash")?;
            let [outcome, late] = r.array("outcome")?;
            let reason = r.string("reason")?;
            let schema_id = match r.b.len() - r.at {
                0 => None,
                5 if r.b[r.at] == b'S' => {
                    r.at += 1;
                    Some(u32::from_be_bytes(r.array("schema id")?))
                }
                n => {
                    return Err(format!(
                        "{n} bytes after the reason, where none or a schema id"
                    ))
                }
            };
            if !(1..=6).contains(&outcome) || late > 1 {
                return Err(format!("outcome {outcome}/{late} is no outcome"));
            }
            Ok(Leaf::Update(UpdateLeaf {
                iin,
                event_id,
                prev,
                partition,
                offset,
                timestamp_ms,
                seq,
                content_hash,
                outcome,
                late: late == 1,
                reason,
                schema_id,
                link: Sha256::digest(preimage).into(),
            }))
        }
        Some(&DEAD_LETTER_LEAF) => {
            let partition = u32::from_be_bytes(r.array("partition")?);
            let offset = u64::from_be_bytes(r.array("offset")?);
            let timestamp_ms = i64::from_be_bytes(r.array("record time")?);
            for what in ["key", "value", "kind", "error"] {
                let n = u32::from_be_bytes(r.array(what)?) as usize;
                r.take(n, what)?;
            }
            if r.at != bytes.len() {
                return Err(format!("{} bytes after the error", bytes.len() - r.at));
            }
            Ok(Leaf::DeadLetter {
                partition,
                offset,
                timestamp_ms,
            })
        }
        Some(b) => Err(format!("leaf kind {b:#04x} is neither 'A' nor 'D'")),
        None => Err("an empty leaf".into()),
    }
}

/// The key of tile `(level, index)` of `partition`: `K ‖ partition ‖ level
/// u8 ‖ index u64`.
pub(crate) fn tile_key(partition: u32, level: u8, index: u64) -> Vec<u8> {
    let mut rest = vec![level];
    rest.extend_from_slice(&index.to_be_bytes());
    key(crate::TILE, partition, &rest)
}

pub(crate) fn checkpoint_key(partition: u32, size: u64) -> Vec<u8> {
    key(crate::CHECKPOINT, partition, &size.to_be_bytes())
}

/// A tile to write: (partition, level, index, hashes).
pub type TileWrite = (u32, u8, u64, Vec<u8>);

/// The right edge of a partition's tree as a batch extends it: the last
/// tile of each level.
pub struct Appender {
    partition: u32,
    size: u64,
    /// Per level: how many hashes it has, and its last tile's (fewer than
    /// 256).
    levels: Vec<(u64, Vec<Link>)>,
    dirty: Vec<bool>,
    full: Vec<TileWrite>,
}

impl Appender {
    /// The edge of a tree of `size` leaves, its partial tiles read with
    /// `read` (from the write in flight or the store).
    pub fn load(
        partition: u32,
        size: u64,
        mut read: impl FnMut(u8, u64) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<Appender, StoreError> {
        let mut levels = Vec::new();
        let mut level = 0u8;
        loop {
            let count = size >> (TILE_HEIGHT * u32::from(level));
            if count == 0 && level > 0 {
                break;
            }
            let width = count % TILE_WIDTH;
            let hashes = if width == 0 {
                Vec::new()
            } else {
                let index = count / TILE_WIDTH;
                let bytes = read(level, index)?.unwrap_or_default();
                if bytes.len() as u64 != width * 32 {
                    return Err(StoreError::Corrupt {
                        what: "tree tile",
                        key: format!("K/p{partition}/{level}/{index}"),
                        reason: format!(
                            "{} bytes where a tree of {size} leaves has {width} hashes ({} bytes)",
                            bytes.len(),
                            width * 32
                        ),
                    });
                }
                hashes_of(&bytes)
            };
            levels.push((count, hashes));
            if count == 0 {
                break;
            }
            level += 1;
        }
        let dirty = vec![false; levels.len()];
        Ok(Appender {
            partition,
            size,
            levels,
            dirty,
            full: Vec::new(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tiles completed since the last call, handed over (a long walk
    /// over a partition keeps none of them).
    pub fn take_full(&mut self) -> Vec<TileWrite> {
        std::mem::take(&mut self.full)
    }

    /// Every partial tile as it stands (fewer than 256 hashes each).
    pub fn partial_tiles(&self) -> Vec<TileWrite> {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, (_, t))| !t.is_empty())
            .map(|(level, (count, t))| {
                (self.partition, level as u8, count / TILE_WIDTH, t.concat())
            })
            .collect()
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf_hash: Link) {
        self.size += 1;
        self.push_at(0, leaf_hash);
    }

    fn push_at(&mut self, level: usize, h: Link) {
        if self.levels.len() <= level {
            self.levels.push((0, Vec::new()));
            self.dirty.push(false);
        }
        let (count, tile) = &mut self.levels[level];
        *count += 1;
        tile.push(h);
        self.dirty[level] = true;
        if tile.len() as u64 == TILE_WIDTH {
            let index = (*count - 1) / TILE_WIDTH;
            let hashes = std::mem::take(tile);
            let up = perfect_root(&hashes);
            self.full
                .push((self.partition, level as u8, index, hashes.concat()));
            self.push_at(level + 1, up);
        }
    }

    /// The root of the tree as it stands (RFC 6962 MTH).
    pub fn root(&self) -> Link {
        // The complete subtrees, left (largest) to right, then folded
        // from the right: MTH splits at the largest power of two.
        let mut subtrees = Vec::new();
        for (_, tile) in self.levels.iter().rev() {
            let mut at = 0;
            for bit in (0..TILE_HEIGHT).rev() {
                let n = 1usize << bit;
                if tile.len() & n != 0 {
                    subtrees.push(perfect_root(&tile[at..at + n]));
                    at += n;
                }
            }
        }
        match subtrees.split_last() {
            None => Sha256::digest(b"").into(),
            Some((last, rest)) => rest.iter().rev().fold(*last, |r, s| node(s, &r)),
        }
    }

    /// The tiles to write: those completed, then every partial tile that
    /// changed.
    pub fn tiles(&self) -> Vec<TileWrite> {
        let mut out = self.full.clone();
        for (level, (count, tile)) in self.levels.iter().enumerate() {
            if self.dirty[level] && !tile.is_empty() {
                out.push((
                    self.partition,
                    level as u8,
                    count / TILE_WIDTH,
                    tile.concat(),
                ));
            }
        }
        out
    }
}

/// Reads a stored tree's hashes for `tlog_tiles`: each (level, n) it asks
/// for is folded from the one tile that holds its leaves at the tile
/// level below.
struct TileHashes<'a, B: Kv> {
    store: &'a LedgerStore<B>,
    partition: u32,
    cache: RefCell<HashMap<(u8, u64), Vec<Link>>>,
    failed: RefCell<Option<StoreError>>,
}

impl<B: Kv> TileHashes<'_, B> {
    fn hash(&self, level: u8, n: u64) -> Result<Link, StoreError> {
        let tile_level = u32::from(level) / TILE_HEIGHT;
        let within = u32::from(level) % TILE_HEIGHT;
        let first = n << within;
        let count = 1u64 << within;
        let index = first / TILE_WIDTH;
        let at = (first % TILE_WIDTH) as usize;
        let mut cache = self.cache.borrow_mut();
        let k = (tile_level as u8, index);
        let tile = match cache.entry(k) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let bytes = self
                    .store
                    .kv
                    .get(&tile_key(self.partition, k.0, index))?
                    .unwrap_or_default();
                v.insert(hashes_of(&bytes))
            }
        };
        let Some(hashes) = tile.get(at..at + count as usize) else {
            return Err(StoreError::Corrupt {
                what: "tree tile",
                key: format!("K/p{}/{}/{index}", self.partition, k.0),
                reason: format!("{} hashes, where hash {} is asked for", tile.len(), at),
            });
        };
        Ok(perfect_root(hashes))
    }
}

impl<B: Kv> HashReader for TileHashes<'_, B> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        for i in indexes {
            let (level, n) = tlog_tiles::split_stored_hash_index(*i);
            match self.hash(level, n) {
                Ok(h) => out.push(Hash(h)),
                Err(e) => {
                    *self.failed.borrow_mut() = Some(e);
                    return Err(tlog_tiles::Error::IndexesNotInTree);
                }
            }
        }
        Ok(out)
    }
}

/// Why a proof does not check out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the new tree size {new} is below the old {old}")]
    Shrunk { old: u64, new: u64 },
    #[error("a consistency proof from the empty tree proves nothing")]
    FromEmpty,
    #[error("equal tree sizes with different roots")]
    RootsDiffer,
    #[error("equal tree sizes need an empty proof, this one has {0} hashes")]
    NotEmpty(usize),
    #[error("the proof does not lead to the root (a wrong hash, or hashes missing or extra)")]
    Mismatch,
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the tree of `size`
/// leaves with root `root` has leaf hash `leaf` at `index`; `path` is the
/// audit path, the leaf's sibling first.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Link,
    path: &[Link],
    root: &Link,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let p: Vec<Hash> = path.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_record(&p, size, Hash(*root), index, Hash(*leaf))
        .map_err(|_| ProofError::Mismatch)
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `new`
/// leaves with `new_root` extends the tree of `old` leaves with
/// `old_root`. As transparency-dev/merkle decides the edge cases: a tree
/// is consistent with itself only with an empty proof and its own root;
/// a proof from the empty tree proves nothing and is refused.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Link,
    new_root: &Link,
    proof: &[Link],
) -> Result<(), ProofError> {
    if new < old {
        return Err(ProofError::Shrunk { old, new });
    }
    if old == 0 {
        return Err(ProofError::FromEmpty);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::NotEmpty(proof.len()));
        }
        if old_root != new_root {
            return Err(ProofError::RootsDiffer);
        }
        return Ok(());
    }
    let p: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_tree(&p, new, Hash(*new_root), old, Hash(*old_root))
        .map_err(|_| ProofError::Mismatch)
}

impl<B: Kv> LedgerStore<B> {
    fn tile_hashes(&self, partition: u32) -> TileHashes<'_, B> {
        TileHashes {
            store: self,
            partition,
            cache: RefCell::default(),
            failed: RefCell::default(),
        }
    }

    fn with_tiles<T>(
        &self,
        partition: u32,
        f: impl FnOnce(&TileHashes<'_, B>) -> Result<T, tlog_tiles::Error>,
    ) -> Result<T, StoreError> {
        let reader = self.tile_hashes(partition);
        f(&reader).map_err(|e| {
            reader.failed.borrow_mut().take().unwrap_or_else(|| {
                StoreError::Backend(format!("partition {partition}'s tree: {e}"))
            })
        })
    }

    /// Tile `(level, index)` of `partition`'s tree, as stored.
    pub fn tile(
        &self,
        partition: u32,
        level: u8,
        index: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.get(&tile_key(partition, level, index))
    }

    /// Leaves in `partition`'s tree: its chain's items.
    pub fn tree_size(&self, partition: u32) -> Result<u64, StoreError> {
        Ok(self.chain_head(partition)?.items)
    }

    /// The stored hash of leaf `index` of `partition`.
    pub fn leaf_hash(&self, partition: u32, index: u64) -> Result<Link, StoreError> {
        self.tile_hashes(partition).hash(0, index)
    }

    /// The root of `partition`'s tree at `size` leaves (at most its size).
    pub fn tree_root(&self, partition: u32, size: u64) -> Result<Link, StoreError> {
        self.with_tiles(partition, |r| tlog_tiles::tree_hash(size, r))
            .map(|h| h.0)
    }

    /// The audit path of leaf `index` in `partition`'s tree at `size`.
    pub fn inclusion_proof(
        &self,
        partition: u32,
        index: u64,
        size: u64,
    ) -> Result<Vec<Link>, StoreError> {
        self.with_tiles(partition, |r| tlog_tiles::prove_record(size, index, r))
            .map(|p| p.into_iter().map(|h| h.0).collect())
    }

    /// The consistency proof from `partition`'s tree at `old` leaves to
    /// `new` (empty when `old` equals `new`; a proof from the empty tree
    /// proves nothing, [`verify_consistency`] refuses it).
    pub fn consistency_proof(
        &self,
        partition: u32,
        old: u64,
        new: u64,
    ) -> Result<Vec<Link>, StoreError> {
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        self.with_tiles(partition, |r| tlog_tiles::prove_tree(new, old, r))
            .map(|p| p.into_iter().map(|h| h.0).collect())
    }

    /// `partition`'s signed checkpoint of `size` leaves, as signed.
    pub fn checkpoint(&self, partition: u32, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.get(&checkpoint_key(partition, size))
    }

    /// Signs the checkpoint of each partition whose tree has grown past
    /// its last signed one (batches projected without the key, or before
    /// the origin was named): a projector with a notary calls it on start.
    /// Returns the partitions it signed for.
    pub fn sign_pending(&self, notary: &Notary) -> Result<Vec<u32>, StoreError> {
        let partitions = self.meta()?.map_or(0, |m| m.partitions);
        let mut b = crate::WriteBatch::default();
        for p in 0..partitions {
            let size = self.tree_size(p)?;
            if size > 0 && self.checkpoint(p, size)?.is_none() {
                let root = self.tree_root(p, size)?;
                b.checkpoints
                    .push((p, size, notary.checkpoint(p, size, &root)));
            }
        }
        let signed = b.checkpoints.iter().map(|c| c.0).collect();
        if !b.checkpoints.is_empty() {
            self.write(&b)?;
        }
        Ok(signed)
    }

    /// The sizes of `partition`'s kept checkpoints, ascending.
    pub fn checkpoint_sizes(&self, partition: u32) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        let prefix = key(crate::CHECKPOINT, partition, &[]);
        self.kv.for_each(&prefix, &mut |k, _| {
            if let Some(s) = k.get(5..13) {
                out.push(u64::from_be_bytes(s.try_into().expect("8 bytes")));
            }
            Ok(true)
        })?;
        Ok(out)
    }
}

/// Signs checkpoints and digests with the projector's key under the
/// deployment's origin: C2SP `signed-note` Ed25519 signatures, key name
/// `<origin>/p<k>` for partition *k*'s checkpoints and `<origin>` for
/// the digest. Ed25519 is deterministic, so the same tree gives the same
/// bytes on every replay.
#[derive(Clone)]
pub struct Notary {
    origin: String,
    signer: Arc<Signer>,
}

impl std::fmt::Debug for Notary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notary({}, {:?})", self.origin, self.signer)
    }
}

/// The key id C2SP `signed-note` gives an Ed25519 key under `name`: the
/// first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`.
pub fn note_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut k = vec![0x01];
    k.extend_from_slice(public_key);
    signed_note::key_id(name, &k)
}

/// A verifier key as C2SP `signed-note` writes it:
/// `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
pub fn verifier_key(name: &str, public_key: &ed25519_dalek::VerifyingKey) -> String {
    signed_note::new_ed25519_verifier_key(name, public_key)
}

/// The text of partition `partition`'s checkpoint (C2SP `tlog-checkpoint`).
pub fn checkpoint_text(origin: &str, partition: u32, size: u64, root: &Link) -> String {
    format!("{origin}/p{partition}\n{size}\n{}\n", B64.encode(root))
}

struct NoteSigner<'a> {
    name: String,
    id: u32,
    signer: &'a Signer,
}

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::ed25519::signature::Error> {
        Ok(self.signer.sign_note(msg).to_vec())
    }
}

impl Notary {
    /// `origin` must pass [`ledger_core::authority::check_origin`].
    pub fn new(origin: &str, signer: Arc<Signer>) -> Result<Notary, String> {
        ledger_core::authority::check_origin(origin)?;
        Ok(Notary {
            origin: origin.to_string(),
            signer,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Partition `partition`'s log name (its checkpoints' origin and key name).
    pub fn log_name(&self, partition: u32) -> String {
        format!("{}/p{partition}", self.origin)
    }

    /// The verifier key of `name` (a log name, or the origin for digests).
    pub fn verifier_key(&self, name: &str) -> String {
        verifier_key(name, &self.signer.verifying_key())
    }

    fn sign(&self, name: String, text: &str) -> Vec<u8> {
        let id = note_key_id(&name, &self.signer.verifying_key().to_bytes());
        let s = NoteSigner {
            name,
            id,
            signer: &self.signer,
        };
        let mut note =
            signed_note::Note::new(text.as_bytes(), &[]).expect("our texts are well-formed notes");
        note.add_sigs(&[&s])
            .expect("a checked origin is a valid key name");
        note.to_bytes()
    }

    /// Partition `partition`'s signed checkpoint of `size` leaves with `root`.
    pub fn checkpoint(&self, partition: u32, size: u64, root: &Link) -> Vec<u8> {
        self.sign(
            self.log_name(partition),
            &checkpoint_text(&self.origin, partition, size, root),
        )
    }

    /// The signed digest: `<origin>`, `digest`, then per partition `p<k>
    /// <next offset> <tree size> <base64 root>`.
    pub fn digest(&self, partitions: &[(u32, u64, u64, Link)]) -> Vec<u8> {
        self.sign(self.origin.clone(), &digest_text(&self.origin, partitions))
    }
}

/// The digest note's text ([`Notary::digest`]).
pub fn digest_text(origin: &str, partitions: &[(u32, u64, u64, Link)]) -> String {
    let mut text = format!("{origin}\ndigest\n");
    for (p, next, size, root) in partitions {
        text.push_str(&format!("p{p} {next} {size} {}\n", B64.encode(root)));
    }
    text
}

/// The size and root a checkpoint note states, unverified (a store's own
/// note, checked against its tree).
pub fn checkpoint_size_root(note: &[u8]) -> Option<(u64, Link)> {
    let text = std::str::from_utf8(note).ok()?;
    let mut lines = text.lines().skip(1);
    let size = lines.next()?.parse().ok()?;
    let root = B64.decode(lines.next()?).ok()?.try_into().ok()?;
    Some((size, root))
}

/// A checkpoint whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub origin: String,
    pub size: u64,
    pub root: Link,
}

/// Opens a signed checkpoint with verifier keys (`<name>+<id>+<key>`):
/// refused unless a key of its origin's name signed it. Signatures by
/// other keys (a witness's cosignature) are ignored, as C2SP says.
pub fn open_checkpoint(note: &[u8], vkeys: &[String]) -> Result<Opened, String> {
    // The reasons the parsers below do not give.
    let text = std::str::from_utf8(note).map_err(|_| "not UTF-8".to_string())?;
    let (body, _) = text
        .rsplit_once("\n\n")
        .ok_or("not a signed note: no blank line before its signature lines")?;
    let mut lines = body.lines();
    if lines.next().is_none_or(str::is_empty) {
        return Err("not a checkpoint: no origin on line 1".into());
    }
    decimal(lines.next().unwrap_or_default(), "tree size", 2)
        .map_err(|e| format!("not a checkpoint: {e}"))?;
    parse_hash_line(lines.next().unwrap_or_default(), 3)
        .map_err(|e| format!("not a checkpoint: root: {e}"))?;
    let parsed =
        signed_note::Note::from_bytes(note).map_err(|e| format!("not a signed note ({e})"))?;
    let cp = tlog_tiles::Checkpoint::from_bytes(parsed.text())
        .map_err(|e| format!("not a checkpoint ({e})"))?;
    let mut verifiers: Vec<Box<dyn signed_note::Verifier>> = Vec::new();
    for k in vkeys {
        let v = signed_note::StandardVerifier::new(k)
            .map_err(|e| format!("verifier key {k:?}: {e}"))?;
        if v.name() == cp.origin() {
            verifiers.push(Box::new(v));
        }
    }
    if verifiers.is_empty() {
        return Err(format!(
            "no verifier key is named {:?}, the checkpoint's origin",
            cp.origin()
        ));
    }
    use signed_note::Verifier as _;
    parsed
        .verify(&signed_note::VerifierList::new(verifiers))
        .map_err(|e| {
            format!(
                "checkpoint of {} is not signed by its key: {e}",
                cp.origin()
            )
        })?;
    Ok(Opened {
        origin: cp.origin().to_string(),
        size: cp.size(),
        root: cp.hash().0,
    })
}

/// A C2SP `tlog-proof@v1` inclusion proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's bytes (the `extra` line).
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub path: Vec<Link>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: Vec<u8>,
}

/// A decimal as C2SP writes sizes and indexes: ASCII digits, no sign, no
/// leading zero (but `0` itself).
fn decimal(s: &str, what: &str, n: usize) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(format!(
            "line {n}: {what} {s:?} is not a decimal without sign or leading zero"
        ));
    }
    s.parse::<u64>()
        .map_err(|e| format!("line {n}: {what} {s:?}: {e}"))
}

/// Splits a proof file at its blank line; a file with CRLF line ends is
/// named as such (C2SP files end lines with LF alone).
fn split_at_blank(s: &str) -> Result<(&str, &str), String> {
    s.split_once("\n\n").ok_or_else(|| {
        if s.contains("\r\n") {
            "its lines end in CR LF: C2SP files end lines with LF alone".to_string()
        } else {
            "no blank line before the checkpoint".to_string()
        }
    })
}

fn parse_hash_line(line: &str, n: usize) -> Result<Link, String> {
    let bytes = B64
        .decode(line)
        .map_err(|e| format!("line {n}: not base64 ({e})"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("line {n}: {} bytes, a hash has 32", b.len()))
}

/// Both C2SP proof files' shape: their head lines, the hashes one base64
/// line each, a blank line, the checkpoint verbatim.
fn proof_text(mut head: String, hashes: &[Link], checkpoint: &[u8]) -> Vec<u8> {
    for h in hashes {
        head.push_str(&B64.encode(h));
        head.push('\n');
    }
    head.push('\n');
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(checkpoint);
    bytes
}

/// Lines numbered from 1.
type Numbered<'a> = Vec<(usize, &'a str)>;

/// A proof file's lines before its blank line, numbered from 1, and the
/// checkpoint after it.
fn proof_lines(text: &[u8]) -> Result<(Numbered<'_>, &str), String> {
    let s = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_string())?;
    let (head, checkpoint) = split_at_blank(s)?;
    Ok((
        head.split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect(),
        checkpoint,
    ))
}

impl InclusionProof {
    pub fn to_text(&self) -> Vec<u8> {
        let mut head = format!("{PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            head.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        head.push_str(&format!("index {}\n", self.index));
        proof_text(head, &self.path, &self.checkpoint)
    }

    /// Parses a proof file; errors name the line.
    pub fn parse(text: &[u8]) -> Result<InclusionProof, String> {
        let (lines, checkpoint) = proof_lines(text)?;
        let mut lines = lines.into_iter();
        match lines.next() {
            Some((_, PROOF_HEADER)) => {}
            other => {
                return Err(format!(
                    "line 1: {:?} where {PROOF_HEADER:?}",
                    other.map_or("", |l| l.1)
                ))
            }
        }
        let mut extra = None;
        let mut index = None;
        let mut path = Vec::new();
        for (n, line) in lines {
            if let Some(e) = line.strip_prefix("extra ") {
                if index.is_some() || extra.is_some() {
                    return Err(format!("line {n}: extra after index, or twice"));
                }
                extra = Some(
                    B64.decode(e)
                        .map_err(|e| format!("line {n}: extra is not base64 ({e})"))?,
                );
            } else if let Some(i) = line.strip_prefix("index ") {
                if index.is_some() {
                    return Err(format!("line {n}: a second index"));
                }
                index = Some(decimal(i, "index", n)?);
            } else if index.is_some() {
                path.push(parse_hash_line(line, n)?);
            } else {
                return Err(format!("line {n}: {line:?} before the index line"));
            }
        }
        if path.len() > 63 {
            return Err(format!("{} path hashes, at most 63", path.len()));
        }
        Ok(InclusionProof {
            extra,
            index: index.ok_or("no index line")?,
            path,
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// Checks the proof against the checkpoint, signed by one of `vkeys`:
    /// the leaf (from `extra`) is at `index` of the checkpoint's tree.
    /// Returns the opened checkpoint.
    pub fn verify(&self, vkeys: &[String]) -> Result<Opened, String> {
        let cp = open_checkpoint(&self.checkpoint, vkeys)?;
        let leaf = self.extra.as_deref().ok_or("no extra line with the leaf")?;
        verify_inclusion(self.index, cp.size, &leaf_hash(leaf), &self.path, &cp.root).map_err(
            |e| {
                format!(
                    "leaf {} is not proven in {}'s tree of {}: {e}",
                    self.index, cp.origin, cp.size
                )
            },
        )?;
        Ok(cp)
    }
}

/// A C2SP `tlog-witness` add-checkpoint body: a consistency proof from a
/// tree of `old` leaves to the checkpoint's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old: u64,
    pub proof: Vec<Link>,
    pub checkpoint: Vec<u8>,
}

impl ConsistencyProof {
    pub fn to_text(&self) -> Vec<u8> {
        proof_text(format!("old {}\n", self.old), &self.proof, &self.checkpoint)
    }

    pub fn parse(text: &[u8]) -> Result<ConsistencyProof, String> {
        let (lines, checkpoint) = proof_lines(text)?;
        let mut lines = lines.into_iter();
        let old = match lines.next() {
            Some((_, l)) if l.starts_with("old ") => decimal(&l[4..], "old size", 1)?,
            other => {
                return Err(format!(
                    "line 1: {:?} where old <size>",
                    other.map_or("", |l| l.1)
                ))
            }
        };
        let proof = lines
            .map(|(n, l)| parse_hash_line(l, n))
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > 63 {
            return Err(format!("{} proof hashes, at most 63", proof.len()));
        }
        Ok(ConsistencyProof {
            old,
            proof,
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// Checks that the new checkpoint (signed by one of `vkeys`) extends
    /// `saved` (a checkpoint the verifier kept, signed by the same log).
    pub fn verify(&self, saved: &[u8], vkeys: &[String]) -> Result<(Opened, Opened), String> {
        let old =
            open_checkpoint(saved, vkeys).map_err(|e| format!("the saved checkpoint: {e}"))?;
        let new = open_checkpoint(&self.checkpoint, vkeys)
            .map_err(|e| format!("the new checkpoint: {e}"))?;
        if old.origin != new.origin {
            return Err(format!(
                "the saved checkpoint is of {}, the new one of {}",
                old.origin, new.origin
            ));
        }
        if self.old != old.size {
            return Err(format!(
                "the proof is from size {}, the saved checkpoint has {}",
                self.old, old.size
            ));
        }
        verify_consistency(old.size, new.size, &old.root, &new.root, &self.proof).map_err(|e| {
            format!(
                "{}'s tree of {} does not extend the saved one of {}: {e}",
                new.origin, new.size, old.size
            )
        })?;
        Ok((old, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Link> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    /// RFC 6962's MTH, written out from its definition.
    fn mth(h: &[Link]) -> Link {
        match h.len() {
            0 => Sha256::digest(b"").into(),
            1 => h[0],
            n => {
                let k = (n - 1).next_power_of_two().max(1);
                let k = if k >= n { k / 2 } else { k };
                node(&mth(&h[..k]), &mth(&h[k..]))
            }
        }
    }

    #[test]
    fn the_appender_gives_rfc_6962_roots_across_tile_edges() {
        let all = leaves(70_000);
        let mut a = Appender::load(0, 0, |_, _| Ok(None)).unwrap();
        for (i, h) in all.iter().enumerate() {
            a.push(*h);
            let n = i + 1;
            if n < 600 || [65_535, 65_536, 65_537, 70_000].contains(&n) {
                assert_eq!(a.root(), mth(&all[..n]), "size {n}");
            }
        }
        assert_eq!(
            Appender::load(0, 0, |_, _| Ok(None)).unwrap().root(),
            mth(&[])
        );
    }
}
