//! What the store keeps besides accounts: history entries with provenance,
//! the event-id index, dead letters, and what one batch writes.

use crate::chain::{ChainHead, Link, GENESIS};
use ledger_core::{Account, EventId, Iin, Outcome, Period, Position};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMeta {
    /// Partition count of the log this store was built from.
    pub partitions: u32,
    /// The deployment's identifier scheme the store's keys are spelled in.
    pub id_scheme: ledger_core::IdScheme,
    /// The storage engine the store was created with.
    pub engine: crate::Engine,
}

/// Which log a partition was projected from: one of its records, by
/// offset and hash (`ledger_stream::record_hash`: SHA-256 over the
/// record's partition, offset, timestamp, key and value). The first
/// record the store applied on the partition, on every path (embedded
/// log, archive, Kafka): a log of another deployment, or one recreated,
/// has another record there, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogAnchor {
    pub offset: u64,
    pub hash: Link,
}

/// One record that touched an account, with where it came from, the event
/// itself and what it did. `seq` numbers an account's entries from 0 in log
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub seq: u64,
    pub position: Position,
    /// The log's record time, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// The event's canonical bytes: the protobuf `Envelope` re-encoded with
    /// its known fields in field-number order. Its SHA-256 is the event's
    /// content hash; `ledger_proto::decode_envelope` reads it back. Kept as
    /// bytes so that a check can hash exactly what was applied.
    #[serde(with = "serde_bytes")]
    pub event: Vec<u8>,
    pub outcome: Outcome,
    /// The partition chain's link after this entry (see [`crate::chain`]).
    pub link: Link,
    /// Provenance: the Schema Registry id of the schema the producer's
    /// serializer framed the value with, if it did
    /// (`ledger_proto::framing`).
    pub schema_id: Option<u32>,
    /// Its leaf index in the partition's tree ([`crate::tlog`]): the
    /// number of chain items before it.
    pub leaf: u64,
}

/// Where one of an account's history entries is, and a fingerprint of its
/// event id: together the account's event-id index and history index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRef {
    pub offset: u64,
    /// Four bytes suffice: a match is only a candidate, confirmed against
    /// the full event id; four fixed bytes encode smaller than a varint u64.
    pub fingerprint: [u8; 4],
}

/// An account as stored: the domain account plus one ref per history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub account: Account,
    pub refs: Vec<HistoryRef>,
    /// The account chain's head: the link of its latest history entry.
    pub head: Link,
}

impl AccountRecord {
    pub fn new(account: Account) -> Self {
        AccountRecord {
            account,
            refs: Vec::new(),
            head: GENESIS,
        }
    }

    /// Offsets of history entries whose event id may be `id` (fingerprint
    /// match), oldest first; the caller confirms against the entry itself.
    pub fn candidates<'a>(&'a self, id: &EventId) -> impl Iterator<Item = u64> + 'a {
        let fp = fingerprint(id);
        self.refs
            .iter()
            .filter(move |r| r.fingerprint == fp)
            .map(|r| r.offset)
    }
}

/// The low four bytes of FNV-1a 64 of an event id: stable across versions
/// and platforms.
pub fn fingerprint(id: &EventId) -> [u8; 4] {
    let h = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h as u32).to_le_bytes()
}

/// A record the ledger could not apply to any account, or a conflicting
/// duplicate, kept whole with its provenance so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub position: Position,
    pub timestamp_ms: i64,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// `bad_key`, `undecodable`, `invalid`, `key_mismatch`, `wrong_partition`, `conflict`.
    pub kind: String,
    pub error: String,
    /// The partition chain's link after this dead letter.
    pub link: Link,
    /// Its leaf index in the partition's tree ([`crate::tlog`]).
    pub leaf: u64,
}

/// Everything one projector batch writes, in one atomic store write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Accounts touched by the batch, in their final state, with partition.
    pub accounts: Vec<(u32, AccountRecord)>,
    /// New history entries, in offset order within each partition.
    pub history: Vec<HistoryEntry>,
    pub dead_letters: Vec<DeadLetter>,
    /// Next offset to read, per partition the batch advanced.
    pub offsets: Vec<(u32, u64)>,
    /// The partition chains' heads after the batch, per partition it advanced.
    pub heads: Vec<(u32, ChainHead)>,
    /// Restated monthly projections (records for a closed period):
    /// (partition, period, IIN, revision, protobuf bytes), in log order.
    pub projections: Vec<(u32, Period, Iin, u32, Vec<u8>)>,
    /// The partition summaries those restatements gave: (partition, period,
    /// revision, the month-closed marker's offset, protobuf bytes).
    pub summaries: Vec<(u32, Period, u32, u64, Vec<u8>)>,
    /// Notices to payers the batch's records gave (`ledger_proto::notices`):
    /// the record's position, the payer id (the notice's record key) and the
    /// notice's protobuf bytes.
    pub notices: Vec<(Position, Vec<u8>, Vec<u8>)>,
    /// Each partition's clock after the batch (ms since the epoch): the
    /// latest record time among its records that reached an account. The
    /// authority of a privileged record is judged at its own record time or
    /// this clock, whichever is later (`docs/authority.md`).
    pub clocks: Vec<(u32, i64)>,
    /// Per partition the batch read, its last record as a [`LogAnchor`]:
    /// where the store stands in its log. Checked with the first anchor
    /// before a projector seeks (`LedgerStore::check_log`), it tells a
    /// log that only begins like the store's (a copy that went its own
    /// way) from the store's own, and retention never removes it first.
    pub tails: Vec<(u32, LogAnchor)>,
    /// Tree tiles the batch completed or extended
    /// ([`crate::tlog::Appender::tiles`]).
    pub tiles: Vec<crate::tlog::TileWrite>,
    /// Signed checkpoints: (partition, tree size, signed note), one per
    /// partition the batch advanced when the projector has an origin and
    /// a key ([`crate::tlog::Notary`]).
    pub checkpoints: Vec<(u32, u64, Vec<u8>)>,
}
