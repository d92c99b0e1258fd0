//! A warm standby's source: it follows partitions another member of the
//! group owns, into this instance's own store, so that if they are
//! assigned here the projector resumes near their end instead of at 0.
//!
//! It delivers a partition's records only below the offset the group has
//! committed for it: the owner commits an offset only once everything
//! before it is durably applied and its outputs (dead letters, notices,
//! monthly projections, merge transfers) are published. So a standby never
//! applies what the owner has not, and its own outputs can be dropped
//! (the standby's sink publishes nothing). It joins no group and commits
//! nothing.

use crate::source::{bare_consumer, kafka, to_record, wait_left};
use crate::Cluster;
use ledger_stream::{Record, Source, SourceError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How often the group's committed offsets are read again.
const LIMITS_EVERY: Duration = Duration::from_millis(250);

pub struct StandbySource {
    consumer: BaseConsumer,
    topic: String,
    partitions: u32,
    /// Per followed partition: the next offset to deliver.
    cursors: BTreeMap<u32, u64>,
    /// Per followed partition: the group's committed offset (deliver only
    /// below it).
    limits: BTreeMap<u32, u64>,
    limits_read: Option<Instant>,
    /// Fetched at or past the limit: held until the limit passes them.
    pending: BTreeMap<u32, VecDeque<Record>>,
}

impl StandbySource {
    /// Follows `partitions` of `topic`, each from `resume(p)` (the
    /// store's next offset), up to group `group`'s committed offsets.
    pub fn new(
        cluster: &Cluster,
        topic: &str,
        group: &str,
        partitions: &[u32],
        resume: impl Fn(u32) -> u64,
    ) -> Result<StandbySource, SourceError> {
        // The group's own id, to read its committed offsets; this client
        // never subscribes, so it never joins.
        let consumer = bare_consumer(cluster, group, "read_committed")?;
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(kafka)?;
        let count = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len());
        let mut tpl = TopicPartitionList::new();
        let mut cursors = BTreeMap::new();
        for p in partitions {
            let at = resume(*p);
            tpl.add_partition_offset(
                topic,
                *p as i32,
                Offset::Offset(i64::try_from(at).unwrap_or(i64::MAX)),
            )
            .map_err(kafka)?;
            cursors.insert(*p, at);
        }
        consumer.assign(&tpl).map_err(kafka)?;
        Ok(StandbySource {
            consumer,
            topic: topic.to_string(),
            partitions: u32::try_from(count).unwrap_or(0),
            limits: cursors.keys().map(|p| (*p, 0)).collect(),
            cursors,
            limits_read: None,
            pending: BTreeMap::new(),
        })
    }

    /// Reads the group's committed offsets again if they are older than
    /// [`LIMITS_EVERY`]. A failed read keeps the old ones (a standby only
    /// lags).
    fn refresh_limits(&mut self) {
        if self.limits_read.is_some_and(|t| t.elapsed() < LIMITS_EVERY) {
            return;
        }
        self.limits_read = Some(Instant::now());
        let mut tpl = TopicPartitionList::new();
        for p in self.cursors.keys() {
            let _ = tpl.add_partition(&self.topic, *p as i32);
        }
        match self.consumer.committed_offsets(tpl, Duration::from_secs(2)) {
            Ok(committed) => {
                for e in committed.elements() {
                    if let (Offset::Offset(o), Ok(p)) = (e.offset(), u32::try_from(e.partition())) {
                        if let Some(limit) = self.limits.get_mut(&p) {
                            *limit = (*limit).max(u64::try_from(o).unwrap_or(0));
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "standby: reading committed offsets"),
        }
    }

    /// Moves held records now below their limit into `out`.
    fn release(&mut self, out: &mut Vec<Record>, max: usize) {
        for (p, held) in &mut self.pending {
            let limit = self.limits.get(p).copied().unwrap_or(0);
            while out.len() < max && held.front().is_some_and(|r| r.offset < limit) {
                out.extend(held.pop_front());
            }
        }
    }

    /// Pauses fetching a partition whose records wait for the owner (its
    /// held queue bounds what is kept), resumes one that may go on.
    fn steer(&mut self) {
        let (mut pause, mut resume) = (TopicPartitionList::new(), TopicPartitionList::new());
        for p in self.cursors.keys() {
            let waiting = self.pending.get(p).is_some_and(|q| !q.is_empty());
            let list = if waiting { &mut pause } else { &mut resume };
            let _ = list.add_partition(&self.topic, *p as i32);
        }
        if pause.count() > 0 {
            let _ = self.consumer.pause(&pause);
        }
        if resume.count() > 0 {
            let _ = self.consumer.resume(&resume);
        }
    }
}

impl Source for StandbySource {
    fn partition_count(&self) -> u32 {
        self.partitions
    }

    fn assigned(&self) -> Vec<u32> {
        self.cursors.keys().copied().collect()
    }

    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SourceError> {
        let Some(at) = self.cursors.get(&partition).copied() else {
            return Err(SourceError::NotAssigned { partition });
        };
        if at == offset {
            return Ok(());
        }
        self.pending.remove(&partition);
        self.consumer
            .seek(
                &self.topic,
                partition as i32,
                Offset::Offset(i64::try_from(offset).unwrap_or(i64::MAX)),
                Duration::from_secs(10),
            )
            .map_err(kafka)?;
        self.cursors.insert(partition, offset);
        Ok(())
    }

    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError> {
        self.refresh_limits();
        let mut out = Vec::new();
        self.release(&mut out, max);
        let deadline = Instant::now() + wait;
        while out.len() < max {
            let Some(polled) = self.consumer.poll(wait_left(out.len(), deadline)) else {
                if out.is_empty() && Instant::now() < deadline {
                    self.refresh_limits();
                    self.release(&mut out, max);
                    continue;
                }
                break;
            };
            let record = match polled {
                Ok(m) => to_record(&m),
                Err(e) => {
                    tracing::warn!(error = %e, "standby consumer (retrying)");
                    continue;
                }
            };
            let Some(next) = self.cursors.get_mut(&record.partition) else {
                continue;
            };
            if record.offset < *next {
                continue;
            }
            *next = record.offset + 1;
            let limit = self.limits.get(&record.partition).copied().unwrap_or(0);
            let partition = record.partition;
            let queue = self.pending.entry(partition).or_default();
            if queue.is_empty() && record.offset < limit {
                out.push(record);
            } else {
                queue.push_back(record);
                if queue.len() == 1 {
                    // No more fetched for it until the owner passes it:
                    // what is held stays what was already fetched.
                    let mut tpl = TopicPartitionList::new();
                    let _ = tpl.add_partition(&self.topic, partition as i32);
                    let _ = self.consumer.pause(&tpl);
                }
            }
        }
        self.steer();
        Ok(out)
    }

    /// The group's committed offsets: as far as a standby may go now.
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        self.limits_read = None;
        self.refresh_limits();
        Ok(self.limits.iter().map(|(p, o)| (*p, *o)).collect())
    }

    /// A standby commits nothing: the group's offsets are the owner's.
    fn acknowledge(&mut self, _next_offsets: &[(u32, u64)]) -> Result<(), SourceError> {
        Ok(())
    }
}

/// A standby's outputs: none. Everything it applies the owner applied
/// first and published the outputs of (dead letters, notices, monthly
/// projections, merge transfers into the log); the standby's store keeps
/// its own copy of each, as every store does.
pub struct StandbyOutputs;

impl ledger_projector::Sink for StandbyOutputs {
    fn forward(&mut self, _records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        Ok(())
    }
}
