//! The one trait every event log implements for the projector.

use std::time::Duration;

/// One record as a log holds it. `timestamp_ms` is the log's record time in
/// milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// A record's identity on every path (embedded log, archive, Kafka): the
/// archive's link over it with 32 zero bytes as the link before
/// ([`crate::archive::record_link`]): SHA-256 over its partition, offset,
/// timestamp, key and value. A store keeps one per partition (its log
/// anchor) to know the log it was projected from.
pub fn record_hash(r: &Record) -> [u8; 32] {
    crate::archive::record_link(&[0; 32], r)
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("log i/o at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "log is corrupt in partition {partition} at byte {position} (offset {offset}): {reason}"
    )]
    Corrupt {
        partition: u32,
        position: u64,
        offset: u64,
        reason: String,
    },
    #[error("partition {partition} is not assigned to this source")]
    NotAssigned { partition: u32 },
    /// Stopped by a signal before the end, after `records` records.
    #[error("stopped by a signal after {records} records, before the end")]
    Stopped { records: u64 },
    #[error("{0}")]
    Other(String),
}

/// A partitioned, offset-addressed log the projector reads from.
///
/// The projector keeps its own offsets (next to its state, in the store) and
/// seeks to them; `acknowledge` only tells the source what is durably applied
/// (Kafka commits it for lag monitoring).
pub trait Source {
    /// Total partitions of the log (the partitioner's modulus).
    fn partition_count(&self) -> u32;
    /// Partitions this source currently delivers.
    fn assigned(&self) -> Vec<u32>;
    /// Next `poll` on `partition` starts at `offset`.
    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SourceError>;
    /// Up to `max` records, in offset order within each partition; may return
    /// fewer, or none after waiting up to `wait`.
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError>;
    /// The offset one past the last record of each assigned partition, now.
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError>;
    /// Everything before these offsets is durably applied.
    fn acknowledge(&mut self, next_offsets: &[(u32, u64)]) -> Result<(), SourceError>;
    /// How far the source has read `partition`, counting the offsets that
    /// hold no record it delivers: Kafka's transaction markers and the
    /// records of aborted transactions. Every offset below it was either
    /// delivered or is not a record. `None` (the default): only what was
    /// delivered counts. A reader compares this, not the last delivered
    /// offset, with [`Source::end_offsets`] to know it reached the end.
    fn position(&mut self, _partition: u32) -> Option<u64> {
        None
    }
    /// Bumped whenever the source's partitions are assigned anew (a
    /// consumer group's rebalance): a reader then takes each partition's
    /// position from its store again, since another writer (a standby)
    /// may have moved it meanwhile. `0` (the default): never.
    fn generation(&self) -> u64 {
        0
    }
    /// The reader has settled `generation`: nothing it had in flight
    /// before that rebalance is still to be written, and it reads only the
    /// partitions assigned since.
    fn settled(&mut self, _generation: u64) {}
    /// What holds `partition` back, now: a transaction still open, whose
    /// first record sits at the partition's last stable offset, below its
    /// end ([`Source::end_offsets`]). A `read_committed` reader gets
    /// nothing past it until the transaction commits or aborts (Kafka's
    /// coordinator aborts it after the producer's `transaction.timeout.ms`).
    /// `None` (the default, and a log without transactions): nothing does.
    fn held(&mut self, _partition: u32) -> Option<Held> {
        None
    }
}

/// A partition a reader cannot read to its end yet ([`Source::held`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub partition: u32,
    /// The last stable offset: the first record of the open transaction.
    pub stable: u64,
    /// The partition's end (its high watermark): the offsets from `stable`
    /// up to it wait.
    pub end: u64,
    /// The record time (ms since the Unix epoch) of the record at `stable`,
    /// the transaction's first: as its producer set it (by default, when
    /// it was sent).
    pub first_record_ms: Option<i64>,
}

impl std::fmt::Display for Held {
    /// One line: "partition 2: a transaction still open holds offset 1234
    /// (its last stable offset; its first record's time, as its producer
    /// set it, 2026-12-06T13:40:01Z); offsets 1234-1290 wait (57: its own
    /// records and any after it)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self
            .first_record_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| {
                format!(
                    "; its first record's time, as its producer set it, {}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            })
            .unwrap_or_default();
        write!(
            f,
            "partition {}: a transaction still open holds offset {} (its last stable \
             offset{first}); offsets {}-{} wait ({}: its own records and any after it)",
            self.partition,
            self.stable,
            self.stable,
            self.end.saturating_sub(1),
            self.end.saturating_sub(self.stable),
        )
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn partition_count(&self) -> u32 {
        (**self).partition_count()
    }
    fn assigned(&self) -> Vec<u32> {
        (**self).assigned()
    }
    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SourceError> {
        (**self).seek(partition, offset)
    }
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError> {
        (**self).poll(max, wait)
    }
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        (**self).end_offsets()
    }
    fn acknowledge(&mut self, next_offsets: &[(u32, u64)]) -> Result<(), SourceError> {
        (**self).acknowledge(next_offsets)
    }
    fn position(&mut self, partition: u32) -> Option<u64> {
        (**self).position(partition)
    }
    fn held(&mut self, partition: u32) -> Option<Held> {
        (**self).held(partition)
    }
}
