//! What the store keeps besides accounts: history entries with provenance,
//! the event-id index, dead letters, and what one batch writes.

use ledger_core::{Account, ContentHash, Envelope, EventId, Outcome, Position};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMeta {
    /// Partition count of the log this store was built from.
    pub partitions: u32,
}

/// One record that touched an account, with where it came from and what it
/// did. `seq` numbers an account's entries from 0 in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub seq: u64,
    pub position: Position,
    /// The log's record time, ms since the Unix epoch.
    pub timestamp_ms: i64,
    pub envelope: Envelope,
    pub outcome: Outcome,
}

/// The event-id index: first sighting of an id, with its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventIndexEntry {
    pub hash: ContentHash,
    pub position: Position,
}

/// A record the ledger could not apply to any account, or a conflicting
/// duplicate, kept whole with its provenance so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub position: Position,
    pub timestamp_ms: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// `bad_key`, `undecodable`, `invalid`, `key_mismatch`, `wrong_partition`, `conflict`.
    pub kind: String,
    pub error: String,
}

/// Everything one projector batch writes, in one atomic store write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Accounts touched by the batch, in their final state, with partition.
    pub accounts: Vec<(u32, Account)>,
    pub history: Vec<HistoryEntry>,
    pub events: Vec<(u32, EventId, EventIndexEntry)>,
    pub dead_letters: Vec<DeadLetter>,
    /// Next offset to read, per partition the batch advanced.
    pub offsets: Vec<(u32, u64)>,
}
