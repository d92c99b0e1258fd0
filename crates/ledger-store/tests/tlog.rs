//! The transparency logs' proofs (issue 27) against other people's
//! answers: the transparency-dev/merkle test vectors (Apache-2.0, vendored
//! in `tests/data/transparency-dev-merkle` with their licence) and
//! `ct-merkle`, an independent RFC 6962 implementation.

use base64::Engine as _;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ledger_store::tlog::{self, Appender};
use ledger_store::{LedgerStore, MemoryKv, WriteBatch};
use std::path::{Path, PathBuf};

type Link = [u8; 32];

fn walk(dir: &Path, out: &mut Vec<(PathBuf, serde_json::Value)>) {
    for f in std::fs::read_dir(dir).expect("vendored vectors") {
        let path = f.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            let v = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((path, v));
        }
    }
}

fn vectors(kind: &str) -> Vec<(PathBuf, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/transparency-dev-merkle/testdata")
        .join(kind);
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A root or leaf hash of the vectors. Some vectors give a root that is
/// no hash at all ("don't care"), where only its equality to another
/// matters: it stands in as the SHA-256 of its bytes, which keeps equal
/// values equal and different ones different.
fn hash(v: &serde_json::Value) -> Link {
    let b = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_default())
        .expect("base64 in the vectors");
    b.clone().try_into().unwrap_or_else(|_| {
        sha2::Digest::finalize(sha2::Digest::chain_update(
            <sha2::Sha256 as sha2::Digest>::new(),
            [b"stand-in ".as_slice(), &b].concat(),
        ))
        .into()
    })
}

/// A proof's hashes; `None` when one is not 32 bytes (a deliberately
/// malformed proof: our API cannot even be given it, so it counts as
/// refused).
fn path(v: &serde_json::Value) -> Option<Vec<Link>> {
    let Some(a) = v.as_array() else {
        return Some(Vec::new());
    };
    a.iter()
        .map(|h| {
            base64::engine::general_purpose::STANDARD
                .decode(h.as_str()?)
                .ok()?
                .try_into()
                .ok()
        })
        .collect()
}

#[test]
fn the_transparency_dev_inclusion_vectors_pass() {
    let all = vectors("inclusion");
    assert!(all.len() > 90, "{} vectors", all.len());
    let (mut ok, mut refused) = (0, 0);
    for (file, v) in &all {
        let want_err = v["wantErr"].as_bool().unwrap();
        // A leaf hash is a hash: one of another length cannot be given.
        let leaf = path(&serde_json::json!([v["leafHash"]])).map(|l| l[0]);
        let got = match (path(&v["proof"]), leaf) {
            (Some(p), Some(leaf)) => tlog::verify_inclusion(
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
                &leaf,
                &p,
                &hash(&v["root"]),
            )
            .is_ok(),
            _ => false,
        };
        assert_eq!(got, !want_err, "{}: {}", file.display(), v["desc"]);
        if got {
            ok += 1
        } else {
            refused += 1
        }
    }
    assert!(ok > 0 && refused > 0, "{ok} accepted, {refused} refused");
}

#[test]
fn the_transparency_dev_consistency_vectors_pass() {
    let all = vectors("consistency");
    assert!(all.len() > 90, "{} vectors", all.len());
    let (mut ok, mut refused) = (0, 0);
    for (file, v) in &all {
        let want_err = v["wantErr"].as_bool().unwrap();
        let (size1, size2) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        let got = match path(&v["proof"]) {
            Some(p) => {
                tlog::verify_consistency(size1, size2, &hash(&v["root1"]), &hash(&v["root2"]), &p)
                    .is_ok()
            }
            None => false,
        };
        assert_eq!(got, !want_err, "{}: {}", file.display(), v["desc"]);
        if got {
            ok += 1
        } else {
            refused += 1
        }
    }
    assert!(ok > 0 && refused > 0, "{ok} accepted, {refused} refused");
}

/// A store holding the tree of `leaves`, grown in batches of the given
/// sizes as the projector grows it (each batch's edge read back from the
/// store).
fn store_of(leaves: &[Vec<u8>], batches: &[usize]) -> LedgerStore<MemoryKv> {
    let store = LedgerStore::in_memory();
    let mut at = 0;
    let mut sizes = batches.iter().cycle();
    while at < leaves.len() {
        let n = (*sizes.next().unwrap()).min(leaves.len() - at);
        let mut a = Appender::load(0, at as u64, |l, i| store.tile(0, l, i)).unwrap();
        for leaf in &leaves[at..at + n] {
            a.push(tlog::leaf_hash(leaf));
        }
        store
            .write(&WriteBatch {
                tiles: a.tiles(),
                ..WriteBatch::default()
            })
            .unwrap();
        at += n;
    }
    store
}

fn as_link(d: &[u8]) -> Link {
    d.try_into().unwrap()
}

#[test]
fn trees_and_proofs_agree_with_ct_merkle() {
    let leaves: Vec<Vec<u8>> = (0..1100u32)
        .map(|i| format!("leaf {i}").into_bytes())
        .collect();
    let store = store_of(&leaves, &[1, 7, 255, 3, 300, 64]);
    let mut theirs: MemoryBackedTree<sha2_11::Sha256, Vec<u8>> = MemoryBackedTree::new();
    let mut roots = vec![[0u8; 32]];
    for (n, leaf) in leaves.iter().enumerate() {
        theirs.push(leaf.clone());
        let size = n as u64 + 1;
        let root = theirs.root();
        assert_eq!(
            store.tree_root(0, size).unwrap(),
            as_link(root.as_bytes()),
            "size {size}"
        );
        roots.push(as_link(root.as_bytes()));
    }
    let sizes = [1u64, 2, 3, 5, 8, 255, 256, 257, 511, 512, 513, 1000, 1100];
    for &size in &sizes {
        // Their tree at `size`, to ask for their proofs.
        let mut t: MemoryBackedTree<sha2_11::Sha256, Vec<u8>> = MemoryBackedTree::new();
        for leaf in &leaves[..size as usize] {
            t.push(leaf.clone());
        }
        let root = t.root();
        for index in [0, size / 3, size / 2, size - 1] {
            let ours = store.inclusion_proof(0, index, size).unwrap();
            let their = t.prove_inclusion(index as usize);
            assert_eq!(
                ours.concat(),
                their.as_bytes(),
                "inclusion {index} of {size}"
            );
            let leaf = tlog::leaf_hash(&leaves[index as usize]);
            assert!(
                tlog::verify_inclusion(index, size, &leaf, &ours, &roots[size as usize]).is_ok()
            );
            assert!(root
                .verify_inclusion(&leaves[index as usize], index, &their)
                .is_ok());
        }
        for &old in sizes.iter().filter(|o| **o < size) {
            let ours = store.consistency_proof(0, old, size).unwrap();
            let their = t.prove_consistency((size - old) as usize);
            assert_eq!(
                ours.concat(),
                their.as_bytes(),
                "consistency {old} to {size}"
            );
            assert!(tlog::verify_consistency(
                old,
                size,
                &roots[old as usize],
                &roots[size as usize],
                &ours
            )
            .is_ok());
            // A wrong old root is refused.
            let mut wrong = roots[old as usize];
            wrong[0] ^= 1;
            assert!(
                tlog::verify_consistency(old, size, &wrong, &roots[size as usize], &ours).is_err()
            );
        }
    }
}
