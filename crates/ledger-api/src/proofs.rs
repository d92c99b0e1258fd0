//! Proofs an auditor checks offline (issue 27, `docs/tamper-evidence.md`,
//! "Verifiable logs"): an account's history as C2SP `tlog-proof` files
//! against its partition's signed checkpoint, consistency proofs between
//! checkpoints (`tlog-witness` bodies), and the offline check of a proof
//! directory. The command line and the API both use these.

use crate::views::recorded;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::authority::Policy;
use ledger_core::Position;
use ledger_core::{Context, Iin, Statement};
use ledger_store::chain::{self, GENESIS};
use ledger_store::tlog::{self, ConsistencyProof, InclusionProof, Leaf, Opened};
use ledger_store::{HistoryEntry, Kv, LedgerStore, StoreError};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// The statement file of a proof directory.
pub const STATEMENT_FILE: &str = "statement.json";

/// Why the store cannot give a proof.
#[derive(Debug, thiserror::Error)]
pub enum ProofRefusal {
    #[error("no account for IIN {iin} (partition {partition})")]
    NoAccount { iin: String, partition: u32 },
    #[error("the store is empty: nothing was projected into it yet")]
    EmptyStore,
    #[error(
        "partition {partition} has no signed checkpoint{}: its projector runs without an \
         origin in the trust file or without its key (docs/tamper-evidence.md)",
        size.map(|s| format!(" of size {s}")).unwrap_or_default()
    )]
    NoCheckpoint { partition: u32, size: Option<u64> },
    #[error(
        "partition {partition} has no checkpoint of size {size}: one is signed at the end of \
         each batch, of the tree as that batch left it (kept: {kept})"
    )]
    NotKept {
        partition: u32,
        size: u64,
        kept: String,
    },
    #[error(
        "partition {partition}: the store's tree at size {size} does not have the root its \
         signed checkpoint has: the store was changed after it was signed"
    )]
    RootDiffers { partition: u32, size: u64 },
    #[error(
        "partition {partition}: the entry at offset {offset} (leaf {leaf}) does not hash to \
         the stored leaf: {why}; the store was changed after the entry was chained"
    )]
    LeafDiffers {
        partition: u32,
        offset: u64,
        leaf: u64,
        why: String,
    },
    #[error(
        "partition {partition}: the entry at offset {offset} (leaf {leaf}) is after the latest \
         signed checkpoint (size {size}): its batch was projected without the projector's key; \
         project again with it (--signing-key) to sign the tree as it stands"
    )]
    NotYetSigned {
        partition: u32,
        offset: u64,
        leaf: u64,
        size: u64,
    },
    #[error("partition {partition}: the saved checkpoint is not one this store can extend: {why}")]
    Foreign { partition: u32, why: String },
    #[error("partition {partition}'s checkpoints are not signed by the given key: {why}")]
    WrongKey { partition: u32, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `prove` writes: file name → bytes (the proofs and the statement).
#[derive(Debug, Clone)]
pub struct ProofDir {
    pub partition: u32,
    /// The checkpoint every proof is against: its tree size.
    pub size: u64,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The latest signed checkpoint of `partition` (normally of its whole
/// tree; of less when its last batches were projected without the key),
/// or the one of `size`.
pub fn checkpoint<B: Kv>(
    store: &LedgerStore<B>,
    partition: u32,
    size: Option<u64>,
) -> Result<(u64, Vec<u8>), ProofRefusal> {
    let whole = store.tree_size(partition)?;
    if let Some(note) = store.checkpoint(partition, size.unwrap_or(whole))? {
        return Ok((size.unwrap_or(whole), note));
    }
    let kept = store.checkpoint_sizes(partition)?;
    if let (None, Some(&last)) = (size, kept.last()) {
        if let Some(note) = store.checkpoint(partition, last)? {
            return Ok((last, note));
        }
    }
    let size = size.unwrap_or(whole);
    match (kept.first(), kept.last()) {
        (Some(a), Some(b)) => Err(ProofRefusal::NotKept {
            partition,
            size,
            kept: format!("{} checkpoints, sizes {a} to {b}", kept.len()),
        }),
        _ => Err(ProofRefusal::NoCheckpoint {
            partition,
            size: None,
        }),
    }
}

/// Each partition's verifier key (`<origin>/p<k>+<id>+<key>`), then the
/// origin's (for the digest): of the keys the trust file recorded in the
/// store, the one whose signature each partition's latest checkpoint
/// carries. Partitions with no checkpoint are left out.
pub fn verifier_keys<B: Kv>(store: &LedgerStore<B>) -> Result<Vec<String>, ProofRefusal> {
    let trust = match store.trust_text()? {
        Some(t) if t != "none" => ledger_core::authority::Trust::parse(&t).ok(),
        _ => None,
    };
    let Some(trust) = trust else {
        return Err(ProofRefusal::NoCheckpoint {
            partition: 0,
            size: None,
        });
    };
    let origin = trust.origin.clone().unwrap_or_default();
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut out = Vec::new();
    let mut signer = None;
    for p in 0..partitions {
        let Ok((_, note)) = checkpoint(store, p, None) else {
            continue;
        };
        let name = format!("{origin}/p{p}");
        for key in trust.keys.values() {
            let vkey = tlog::verifier_key(&name, key.key());
            if tlog::open_checkpoint(&note, std::slice::from_ref(&vkey)).is_ok() {
                out.push(vkey);
                signer = Some(*key.key());
                break;
            }
        }
    }
    match signer {
        Some(k) => out.push(tlog::verifier_key(&origin, &k)),
        None => {
            return Err(ProofRefusal::NoCheckpoint {
                partition: 0,
                size: None,
            })
        }
    }
    Ok(out)
}

/// The digest as a signed note ([`tlog::Notary::digest`]): per partition
/// its next offset, tree size and root, signed with `signer` under the
/// store's origin. Refused unless `signer` is the key that signed each
/// partition's latest checkpoint (a digest by another key proves nothing
/// of the checkpoints), or when the store's trees do not have those
/// checkpoints' roots.
pub fn digest_note<B: Kv>(
    store: &LedgerStore<B>,
    signer: &std::sync::Arc<ledger_core::authority::Signer>,
) -> Result<Vec<u8>, ProofRefusal> {
    let origin = store
        .trust_text()?
        .and_then(|t| ledger_core::authority::Trust::parse(&t).ok())
        .and_then(|t| t.origin)
        .ok_or(ProofRefusal::NoCheckpoint {
            partition: 0,
            size: None,
        })?;
    let notary = tlog::Notary::new(&origin, std::sync::Arc::clone(signer))
        .map_err(|why| ProofRefusal::Foreign { partition: 0, why })?;
    let partitions = store.meta()?.map_or(0, |m| m.partitions);
    let mut lines = Vec::new();
    for p in 0..partitions {
        let size = store.tree_size(p)?;
        let root = store.tree_root(p, size)?;
        if size > 0 {
            let (_, note) = checkpoint(store, p, Some(size))?;
            let vkey = notary.verifier_key(&notary.log_name(p));
            match tlog::open_checkpoint(&note, &[vkey]) {
                Ok(o) if o.root == root => {}
                Ok(_) => return Err(ProofRefusal::RootDiffers { partition: p, size }),
                Err(why) => return Err(ProofRefusal::WrongKey { partition: p, why }),
            }
        }
        lines.push((p, store.offset(p)?.unwrap_or(0), size, root));
    }
    Ok(notary.digest(&lines))
}

/// The event id of a stored entry.
fn event_id(h: &HistoryEntry) -> Result<String, StoreError> {
    Ok(recorded(h)?.event.event_id.as_str().to_string())
}

/// Proves every history entry of `iin`'s account against its partition's
/// latest signed checkpoint: one `p<K>-<leaf>.tlog-proof` per entry (the
/// leaf on its `extra` line) and [`STATEMENT_FILE`]: the statement, and
/// each entry's proof file and event bytes (base64), in history order.
///
/// Before it writes anything it checks what it proves: each entry hashes
/// to its stored leaf, and the stored tree has the checkpoint's root; a
/// store changed after signing is refused, naming the partition.
pub fn prove<B: Kv>(store: &LedgerStore<B>, iin: &Iin) -> Result<ProofDir, ProofRefusal> {
    let p = store.partition_of(iin)?.ok_or(ProofRefusal::EmptyStore)?;
    let Some(account) = store.account(p, iin)? else {
        return Err(ProofRefusal::NoAccount {
            iin: iin.masked(),
            partition: p,
        });
    };
    let history = store.history(p, iin)?;
    let (size, note) = checkpoint(store, p, None)?;
    let root = store.tree_root(p, size)?;
    let signed = tlog::checkpoint_size_root(&note).map(|(_, r)| r);
    if signed != Some(root) {
        return Err(ProofRefusal::RootDiffers { partition: p, size });
    }
    let mut files = BTreeMap::new();
    let mut entries = Vec::new();
    let mut prev = GENESIS;
    for h in &history {
        let preimage = chain::account_preimage(&prev, h, &chain::content_hash(h));
        prev = chain::sha256(&preimage);
        let leaf = tlog::update_leaf(iin.as_str(), &event_id(h)?, &preimage);
        let differs = |why: String| ProofRefusal::LeafDiffers {
            partition: p,
            offset: h.position.offset,
            leaf: h.leaf,
            why,
        };
        if h.leaf >= size {
            return Err(ProofRefusal::NotYetSigned {
                partition: p,
                offset: h.position.offset,
                leaf: h.leaf,
                size,
            });
        }
        if store.leaf_hash(p, h.leaf)? != tlog::leaf_hash(&leaf) {
            return Err(differs("the stored leaf hash is another".into()));
        }
        let path = store.inclusion_proof(p, h.leaf, size)?;
        let name = format!("p{p}-{}.tlog-proof", h.leaf);
        let proof = InclusionProof {
            extra: Some(leaf),
            index: h.leaf,
            path,
            checkpoint: note.clone(),
        };
        files.insert(name.clone(), proof.to_text());
        entries.push(serde_json::json!({
            "proof": name,
            "event": base64_encode(&h.event),
        }));
    }
    let statement = serde_json::json!({
        "iin": iin.as_str(),
        "partition": p,
        "checkpoint_size": size,
        "statement": Statement::of(&account),
        "entries": entries,
    });
    files.insert(
        STATEMENT_FILE.into(),
        serde_json::to_vec_pretty(&statement).expect("JSON encodes"),
    );
    Ok(ProofDir {
        partition: p,
        size,
        files,
    })
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("not base64 ({e})"))
}

/// The `tlog-witness` body from the saved checkpoint `saved` of
/// `partition` to its latest. Refused when the store's tree at the saved
/// size does not have the saved root (a store that is not that log's, or
/// was rewritten), naming the partition and size.
pub fn consistency<B: Kv>(
    store: &LedgerStore<B>,
    partition: u32,
    saved: &[u8],
) -> Result<Vec<u8>, ProofRefusal> {
    let foreign = |why: String| ProofRefusal::Foreign { partition, why };
    let Some((old, old_root)) = tlog::checkpoint_size_root(saved) else {
        return Err(foreign(
            "it is not a checkpoint (origin, size, root)".into(),
        ));
    };
    // Only a checkpoint this log signed: its name, and a key of the trust
    // file the store recorded.
    let trust = store
        .trust_text()?
        .and_then(|t| ledger_core::authority::Trust::parse(&t).ok());
    let origin =
        trust
            .as_ref()
            .and_then(|t| t.origin.clone())
            .ok_or(ProofRefusal::NoCheckpoint {
                partition,
                size: None,
            })?;
    let name = format!("{origin}/p{partition}");
    let named = String::from_utf8_lossy(saved.split(|b| *b == b'\n').next().unwrap_or_default())
        .into_owned();
    if named != name {
        return Err(foreign(match named.strip_prefix(&format!("{origin}/p")) {
            Some(k) => {
                format!("it is partition {k}'s checkpoint ({named}), not partition {partition}'s")
            }
            None => format!("it is of {named:?}, not of this log ({name})"),
        }));
    }
    let keys: Vec<String> = trust
        .iter()
        .flat_map(|t| t.keys.values())
        .map(|k| tlog::verifier_key(&name, k.key()))
        .collect();
    tlog::open_checkpoint(saved, &keys)
        .map_err(|e| foreign(format!("no key of the trust file signed it: {e}")))?;
    let (size, note) = checkpoint(store, partition, None)?;
    if old > size {
        return Err(foreign(format!(
            "its size {old} is beyond the store's tree of {size}"
        )));
    }
    if store.tree_root(partition, old)? != old_root {
        return Err(foreign(format!(
            "the store's tree at size {old} has another root: a rewritten or another log"
        )));
    }
    let proof = store.consistency_proof(partition, old, size)?;
    Ok(ConsistencyProof {
        old,
        proof,
        checkpoint: note,
    }
    .to_text())
}

/// The name of the file in a proof directory that holds the consistency
/// proof from a saved checkpoint of `partition`'s tree at `size` to the
/// proofs' checkpoint (a `tlog-witness` body).
pub fn consistency_file(partition: u32, size: u64) -> String {
    format!("p{partition}-from-{size}.tlog-witness")
}

/// Adds to `dir` the consistency proof from each checkpoint in `saved`
/// (kept by the auditor from an earlier visit) to the proofs' checkpoint,
/// as [`consistency_file`]. Refused for a checkpoint of another partition,
/// or one this store's tree does not extend.
pub fn add_consistency<B: Kv>(
    store: &LedgerStore<B>,
    dir: &mut ProofDir,
    saved: &[Vec<u8>],
) -> Result<(), ProofRefusal> {
    let p = dir.partition;
    for s in saved {
        let foreign = |why: String| ProofRefusal::Foreign { partition: p, why };
        let body = consistency(store, p, s)?;
        let parsed = ConsistencyProof::parse(&body).map_err(foreign)?;
        if tlog::checkpoint_size_root(&parsed.checkpoint).map(|c| c.0) != Some(dir.size) {
            return Err(foreign(
                "the partition's latest checkpoint moved while proving: prove again".into(),
            ));
        }
        dir.files.insert(consistency_file(p, parsed.old), body);
    }
    Ok(())
}

/// What [`verify_dir`] found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    pub origin: String,
    pub size: u64,
    pub entries: usize,
    /// The statement recomputed from the proven leaves and events.
    pub statement: serde_json::Value,
    /// Each saved checkpoint the proofs' checkpoint was shown to extend:
    /// (its size, the size extended to).
    pub extends: Vec<(u64, u64)>,
}

/// `statement.json` as `prove` writes it; any other member is refused.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementFile {
    iin: String,
    partition: u32,
    checkpoint_size: u64,
    statement: serde_json::Value,
    entries: Vec<EntryFile>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    proof: String,
    /// The event's canonical bytes, base64.
    event: String,
}

/// Checks a proof directory offline: every proof against its checkpoint
/// (signed by one of `vkeys`), every leaf against its event's bytes, the
/// leaves as one unbroken account chain from its first entry, and the
/// statement's figures recomputed from the proven entries. `consistency`:
/// saved checkpoints with the `tlog-witness` bodies given for them (each
/// taken for the saved checkpoint of its `old` size); a saved checkpoint
/// with none takes the directory's [`consistency_file`] (`prove --old`),
/// and without that must be the proofs' very checkpoint. Errors name the
/// file and what failed.
///
/// What it cannot show: that the account has no entry after the last one
/// proven. A directory cut short at its end, its statement rewritten to
/// match, verifies (`docs/tamper-evidence.md` §4a).
pub fn verify_dir(
    ctx: &Context,
    files: &BTreeMap<String, Vec<u8>>,
    vkeys: &[String],
    saved: &[Vec<u8>],
    bodies: &[Vec<u8>],
) -> Result<Verified, String> {
    let st_bytes = files
        .get(STATEMENT_FILE)
        .ok_or_else(|| format!("no {STATEMENT_FILE}"))?;
    let st: StatementFile =
        serde_json::from_slice(st_bytes).map_err(|e| format!("{STATEMENT_FILE}: {e}"))?;
    let iin = Iin::parse(&st.iin).map_err(|e| {
        format!(
            "{STATEMENT_FILE}: iin {}: {e}",
            ledger_core::mask_id(&st.iin)
        )
    })?;
    let mut checkpoint: Option<Opened> = None;
    let mut prev = GENESIS;
    let mut recorded_entries = Vec::new();
    for (i, e) in st.entries.iter().enumerate() {
        let name = e.proof.as_str();
        let at = |why: String| format!("{name}: {why}");
        let bytes = files
            .get(name)
            .ok_or_else(|| at("missing from the directory".into()))?;
        let proof = InclusionProof::parse(bytes).map_err(at)?;
        let opened = proof.verify(vkeys).map_err(at)?;
        match &checkpoint {
            None => checkpoint = Some(opened.clone()),
            Some(c) if *c != opened => {
                return Err(at(format!(
                    "proven against {} size {}, where the others are against {} size {}",
                    opened.origin, opened.size, c.origin, c.size
                )))
            }
            Some(_) => {}
        }
        let leaf = match tlog::parse_leaf(proof.extra.as_deref().unwrap_or_default()) {
            Ok(Leaf::Update(u)) => u,
            Ok(Leaf::DeadLetter { .. }) => return Err(at("a dead letter's leaf".into())),
            Err(e) => return Err(at(format!("its leaf: {e}"))),
        };
        if leaf.iin != iin.as_str() {
            return Err(at(format!(
                "the leaf is of {}, the statement of {}",
                ledger_core::mask_id(&leaf.iin),
                iin.masked()
            )));
        }
        if leaf.seq != i as u64 || leaf.prev != prev {
            return Err(at(format!(
                "the leaf is entry {} of the account, where {STATEMENT_FILE} has it as entry \
                 {i} (its previous link differs: an entry missing, added or out of order)",
                leaf.seq
            )));
        }
        prev = leaf.link;
        let event = base64_decode(&e.event)
            .map_err(|w| at(format!("{STATEMENT_FILE} entry {i}: event: {w}")))?;
        if <[u8; 32]>::from(Sha256::digest(&event)) != leaf.content_hash {
            return Err(at(format!(
                "{STATEMENT_FILE} entry {i}: the event's SHA-256 is not the leaf's content hash"
            )));
        }
        let entry = HistoryEntry {
            seq: leaf.seq,
            position: Position {
                partition: leaf.partition,
                offset: leaf.offset,
            },
            timestamp_ms: leaf.timestamp_ms,
            event,
            outcome: leaf.outcome().map_err(at)?,
            link: GENESIS,
            schema_id: leaf.schema_id,
            leaf: proof.index,
        };
        recorded_entries.push(recorded(&entry).map_err(|e| at(e.to_string()))?);
    }
    let Some(opened) = checkpoint else {
        return Err(format!("{STATEMENT_FILE}: no entries to verify"));
    };
    let stated = format!("p{}", st.partition);
    if !opened.origin.ends_with(&format!("/{stated}")) || st.checkpoint_size != opened.size {
        return Err(format!(
            "{STATEMENT_FILE}: it states partition {} and checkpoint size {}, the proofs are \
             against {} size {}",
            st.partition, st.checkpoint_size, opened.origin, opened.size
        ));
    }
    // The same fold the ledger runs, over the proven entries alone.
    let ctx = Context {
        trust: Policy::Open,
        ..ctx.clone()
    };
    let account = ledger_core::as_known(
        &ctx,
        iin,
        recorded_entries.iter(),
        NaiveDate::MAX,
        DateTime::<Utc>::MAX_UTC,
    );
    let recomputed = serde_json::to_value(Statement::of(&account)).expect("JSON encodes");
    if recomputed != st.statement {
        return Err(format!(
            "{STATEMENT_FILE}: its statement is not what the proven entries give: {}",
            differences(&st.statement, &recomputed).join("; ")
        ));
    }
    let mut bodies_by_old = BTreeMap::new();
    for (n, b) in bodies.iter().enumerate() {
        let c =
            ConsistencyProof::parse(b).map_err(|e| format!("consistency proof {}: {e}", n + 1))?;
        bodies_by_old.insert(c.old, b);
    }
    let mut extends = Vec::new();
    for (n, saved) in saved.iter().enumerate() {
        let old = tlog::open_checkpoint(saved, vkeys)
            .map_err(|e| format!("saved checkpoint {}: {e}", n + 1))?;
        let partition = old
            .origin
            .rsplit_once("/p")
            .and_then(|(_, k)| k.parse().ok())
            .unwrap_or(u32::MAX);
        let in_dir = files.get(&consistency_file(partition, old.size));
        match bodies_by_old.get(&old.size).copied().or(in_dir) {
            Some(b) => {
                let c =
                    ConsistencyProof::parse(b).map_err(|e| format!("consistency proof: {e}"))?;
                let (_, new) = c.verify(saved, vkeys)?;
                if new != opened {
                    return Err(format!(
                        "the consistency proof leads to {} size {}, the proofs are against size {}",
                        new.origin, new.size, opened.size
                    ));
                }
            }
            None if old == opened => {}
            None if old.origin != opened.origin => {
                return Err(format!(
                    "saved checkpoint {} is of {}, the proofs of {}: another partition's log",
                    n + 1,
                    old.origin,
                    opened.origin
                ))
            }
            None => {
                return Err(format!(
                    "the saved checkpoint of {} size {} is not the proofs' (size {}): give a \
                     consistency proof from it (`si-ledger consistency`, or `prove --old`)",
                    old.origin, old.size, opened.size
                ))
            }
        }
        extends.push((old.size, opened.size));
    }
    Ok(Verified {
        origin: opened.origin,
        size: opened.size,
        entries: st.entries.len(),
        statement: recomputed,
        extends,
    })
}

/// The fields where two statements differ, named.
fn differences(want: &serde_json::Value, got: &serde_json::Value) -> Vec<String> {
    match (want.as_object(), got.as_object()) {
        (Some(w), Some(g)) => {
            let mut out: Vec<String> = w
                .iter()
                .filter(|(k, v)| g.get(*k) != Some(*v))
                .map(|(k, v)| match (k.as_str(), v, g.get(k)) {
                    // Personal data is named, never shown: the message
                    // reaches terminals and logs.
                    ("iin", _, _) | ("person", _, _) => format!("{k}: differs"),
                    (_, serde_json::Value::String(_) | serde_json::Value::Number(_), Some(p))
                        if !p.is_object() && !p.is_array() =>
                    {
                        format!("{k}: stated {v}, proven {p}")
                    }
                    _ => format!("{k}: differs"),
                })
                .collect();
            out.extend(
                g.keys()
                    .filter(|k| !w.contains_key(*k))
                    .map(|k| format!("{k}: not stated")),
            );
            out
        }
        _ => vec!["not an object".into()],
    }
}
