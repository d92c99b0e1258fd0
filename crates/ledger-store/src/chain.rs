//! Tamper evidence: hash chains over what the store records, and the
//! ledger digest. The encoding is specified byte for byte in
//! `docs/tamper-evidence.md` so that an auditor can recompute every link
//! without this code; the tests below pin it.
//!
//! - Each account keeps a chain over its history entries: `A_n =
//!   SHA-256(A_{n-1} ‖ entry bytes)`, `A_0` = 32 zero bytes; the account
//!   record keeps the head.
//! - Each partition keeps a chain over everything it recorded, in offset
//!   order: an account update contributes its account link, a dead letter
//!   its own bytes. Every history entry and dead letter stores the
//!   partition link it produced, so a check names the first item that does
//!   not follow from the one before.
//! - The ledger digest is a Merkle root over the partition heads and the
//!   offsets they cover.

use crate::{DeadLetter, HistoryEntry};
use ledger_core::Outcome;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 value.
pub type Link = [u8; 32];

/// The link before the first one of every chain.
pub const GENESIS: Link = [0; 32];

/// Where a partition's chain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChainHead {
    pub link: Link,
    /// Items (account updates and dead letters) chained so far.
    pub items: u64,
}

fn put_str(h: &mut Sha256, s: &[u8]) {
    h.update((s.len() as u32).to_be_bytes());
    h.update(s);
}

fn outcome_code(o: &Outcome) -> u8 {
    match o {
        Outcome::Applied { .. } => 1,
        Outcome::Returned { .. } => 2,
        Outcome::Refused { .. } => 3,
        Outcome::Duplicate => 4,
        Outcome::Conflict { .. } => 5,
        Outcome::Redirected { .. } => 6,
    }
}

/// SHA-256 of an entry's event bytes (signature included): its content
/// hash as the chains cover it.
pub fn content_hash(entry: &HistoryEntry) -> Link {
    sha256(&entry.event)
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Link {
    Sha256::digest(bytes).into()
}

/// `A_n` of an account whose previous link is `prev`, for `entry` whose
/// content hash ([`content_hash`]) is `hash`: a projector has it already.
pub fn account_link(prev: &Link, entry: &HistoryEntry, hash: &Link) -> Link {
    sha256(&account_preimage(prev, entry, hash))
}

/// What [`account_link`] hashes: `prev ‖ partition u32 ‖ offset u64 ‖
/// record time i64 ‖ seq u64 ‖ content hash ‖ outcome code ‖ late ‖ len
/// u32 ‖ reason (or, redirected, the identifier) [‖ 'S' ‖ schema id u32]`.
/// An account update's tree leaf carries it ([`crate::tlog::update_leaf`]).
pub fn account_preimage(prev: &Link, entry: &HistoryEntry, hash: &Link) -> Vec<u8> {
    let mut h = Vec::with_capacity(128);
    h.extend_from_slice(prev);
    h.extend_from_slice(&entry.position.partition.to_be_bytes());
    h.extend_from_slice(&entry.position.offset.to_be_bytes());
    h.extend_from_slice(&entry.timestamp_ms.to_be_bytes());
    h.extend_from_slice(&entry.seq.to_be_bytes());
    h.extend_from_slice(hash);
    h.extend_from_slice(&[
        outcome_code(&entry.outcome),
        u8::from(entry.outcome.is_late()),
    ]);
    let s = match &entry.outcome {
        Outcome::Redirected { into } => into.as_str().as_bytes(),
        o => o.reason().unwrap_or("").as_bytes(),
    };
    h.extend_from_slice(&(s.len() as u32).to_be_bytes());
    h.extend_from_slice(s);
    // Only when present, so the links of bare values are as before.
    if let Some(id) = entry.schema_id {
        h.push(b'S');
        h.extend_from_slice(&id.to_be_bytes());
    }
    h
}

/// The partition link after an account update whose account link is `account`.
pub fn update_link(prev: &Link, account: &Link) -> Link {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(b"A");
    h.update(account);
    h.finalize().into()
}

/// The partition link after dead letter `d`.
pub fn dead_letter_link(prev: &Link, d: &DeadLetter) -> Link {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(b"D");
    h.update(d.position.offset.to_be_bytes());
    h.update(d.timestamp_ms.to_be_bytes());
    put_str(&mut h, &d.key);
    put_str(&mut h, &d.value);
    put_str(&mut h, d.kind.as_bytes());
    put_str(&mut h, d.error.as_bytes());
    h.finalize().into()
}

/// One partition as the digest covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub partition: u32,
    /// Every log offset below this is covered.
    pub next_offset: u64,
    pub head: ChainHead,
}

fn leaf(p: &PartitionState) -> Link {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(p.partition.to_be_bytes());
    h.update(p.next_offset.to_be_bytes());
    h.update(p.head.items.to_be_bytes());
    h.update(p.head.link);
    h.finalize().into()
}

/// The Merkle root over the partitions (in partition order): leaves hash
/// `0x00 ‖ partition ‖ next offset ‖ items ‖ head`, inner nodes `0x01 ‖
/// left ‖ right`; an odd node at the end of a level moves up unchanged.
pub fn merkle_root(partitions: &[PartitionState]) -> Link {
    let mut level: Vec<Link> = partitions.iter().map(leaf).collect();
    if level.is_empty() {
        return Sha256::digest([0u8]).into();
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut h = Sha256::new();
                    h.update([1u8]);
                    h.update(l);
                    h.update(r);
                    h.finalize().into()
                }
                [one] => *one,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level[0]
}

/// Lower-case hex of a link.
pub fn hex(link: &Link) -> String {
    link.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::Position;

    fn entry() -> HistoryEntry {
        HistoryEntry {
            seq: 0,
            position: Position {
                partition: 1,
                offset: 2,
            },
            timestamp_ms: 3,
            event: b"event".to_vec(),
            outcome: Outcome::Refused {
                reason: "no".into(),
            },
            link: GENESIS,
            schema_id: None,
            leaf: 0,
        }
    }

    /// The documented encoding, written out by hand: if this breaks, the
    /// document (and every auditor's tool) must change with it.
    #[test]
    fn account_link_is_the_documented_encoding() {
        let mut bytes = vec![0u8; 32];
        bytes.extend(1u32.to_be_bytes());
        bytes.extend(2u64.to_be_bytes());
        bytes.extend(3i64.to_be_bytes());
        bytes.extend(0u64.to_be_bytes());
        bytes.extend(Sha256::digest(b"event"));
        bytes.extend([3, 0]);
        bytes.extend(2u32.to_be_bytes());
        bytes.extend(b"no");
        let want: Link = Sha256::digest(&bytes).into();
        assert_eq!(
            account_link(&GENESIS, &entry(), &content_hash(&entry())),
            want
        );
    }

    #[test]
    fn every_field_moves_the_link() {
        let base = account_link(&GENESIS, &entry(), &content_hash(&entry()));
        let mut changed = Vec::new();
        let mut e = entry();
        e.position.offset = 9;
        changed.push(e);
        let mut e = entry();
        e.timestamp_ms = 4;
        changed.push(e);
        let mut e = entry();
        e.event[0] ^= 1;
        changed.push(e);
        let mut e = entry();
        e.outcome = Outcome::Refused {
            reason: "na".into(),
        };
        changed.push(e);
        let mut e = entry();
        e.seq = 1;
        changed.push(e);
        for e in changed {
            assert_ne!(account_link(&GENESIS, &e, &content_hash(&e)), base, "{e:?}");
        }
        assert_ne!(
            account_link(&[1; 32], &entry(), &content_hash(&entry())),
            base
        );
    }

    #[test]
    fn merkle_root_of_three() {
        let p = |i: u32| PartitionState {
            partition: i,
            next_offset: u64::from(i) * 10,
            head: ChainHead {
                link: [i as u8; 32],
                items: u64::from(i),
            },
        };
        let (a, b, c) = (leaf(&p(0)), leaf(&p(1)), leaf(&p(2)));
        let node = |l: &Link, r: &Link| -> Link {
            let mut v = vec![1u8];
            v.extend(l);
            v.extend(r);
            Sha256::digest(&v).into()
        };
        assert_eq!(merkle_root(&[p(0), p(1), p(2)]), node(&node(&a, &b), &c));
        assert_eq!(merkle_root(&[p(0)]), a);
        assert_ne!(merkle_root(&[p(1), p(0)]), merkle_root(&[p(0), p(1)]));
    }
}
