//! The projector's Kafka source: a consumer-group member that positions
//! every partition it is assigned at the offset the projector's store holds.

use crate::Cluster;
use ledger_stream::{Record, Source, SourceError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message as _, Timestamp};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The partitions a member holds now, each with the offset it was
/// positioned at when assigned; shared so that metrics can show them.
pub type Assignment = Arc<Mutex<BTreeMap<u32, u64>>>;

/// The assigned partitions a member has caught up on: it has durably
/// applied every record each held when it was assigned (up to its last
/// stable offset then). Cleared on every rebalance: an instance answers
/// for these and no others.
pub type Readiness = Arc<Mutex<BTreeMap<u32, CaughtUp>>>;

/// When a member was assigned a partition and when it had caught up on
/// it: Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    pub assigned_ms: i64,
    pub ready_ms: i64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Where the projector resumes partition `p`: the next offset its store
/// has not applied (0 for a partition it has no state for, which rebuilds
/// it from the start of the topic).
pub type ResumeAt = Arc<dyn Fn(u32) -> u64 + Send + Sync>;

#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// How long a silent member keeps its partitions before the group
    /// gives them to the others.
    pub session_timeout_ms: u32,
    /// How long `new` waits for the group's first assignment.
    pub assignment_wait: Duration,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            session_timeout_ms: 10_000,
            assignment_wait: Duration::from_secs(60),
        }
    }
}

struct Group {
    topic: String,
    resume: ResumeAt,
    /// Assigned partitions and the offset each was positioned at.
    assigned: Assignment,
    /// The assigned partitions caught up on.
    ready: Readiness,
    /// Bumped on every assignment and revocation: the source re-reads its
    /// positions.
    generation: Arc<std::sync::atomic::AtomicU64>,
    /// The generation the reader has settled ([`Source::settled`]).
    settled: Arc<std::sync::atomic::AtomicU64>,
    errors: Mutex<Vec<String>>,
}

impl ClientContext for Group {}

impl ConsumerContext for Group {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                let mut at = BTreeMap::new();
                for p in parts {
                    let Ok(partition) = u32::try_from(p) else {
                        continue;
                    };
                    let offset = (self.resume)(partition);
                    let kafka_offset = Offset::Offset(i64::try_from(offset).unwrap_or(i64::MAX));
                    if let Err(e) = tpl.set_partition_offset(&self.topic, p, kafka_offset) {
                        self.error(format!("positioning partition {p}: {e}"));
                    }
                    at.insert(partition, offset);
                }
                tracing::info!(partitions = ?at, "assigned; resuming at the store's offsets");
                if let Err(e) = consumer.assign(tpl) {
                    self.error(format!("assigning {:?}: {e}", at.keys()));
                }
                if let Ok(mut r) = self.ready.lock() {
                    r.clear();
                }
                if let Ok(mut a) = self.assigned.lock() {
                    *a = at;
                }
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!("partitions revoked");
                if let Ok(mut r) = self.ready.lock() {
                    r.clear();
                }
                if let Err(e) = consumer.unassign() {
                    self.error(format!("unassigning: {e}"));
                }
                if let Ok(mut a) = self.assigned.lock() {
                    a.clear();
                }
                // Revoked too is a new generation: the reader drops what
                // it fetched of them and settles its batch in flight.
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            other => self.error(format!("rebalance failed: {other:?}")),
        }
    }
}

/// A member's group generation and its reader's settled one
/// ([`KafkaSource::generations`]), for a thread that must not touch the
/// store's partitions while a rebalance is being settled.
#[derive(Clone)]
pub struct Generations {
    known: Arc<std::sync::atomic::AtomicU64>,
    settled: Arc<std::sync::atomic::AtomicU64>,
}

impl Generations {
    /// The latest generation, if the reader has settled it; `None` while a
    /// rebalance is pending.
    pub fn settled(&self) -> Option<u64> {
        let known = self.known.load(std::sync::atomic::Ordering::SeqCst);
        (self.settled.load(std::sync::atomic::Ordering::SeqCst) == known).then_some(known)
    }

    /// The latest generation known.
    pub fn known(&self) -> u64 {
        self.known.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Group {
    fn generation_handle(&self) -> Arc<std::sync::atomic::AtomicU64> {
        Arc::clone(&self.generation)
    }

    fn error(&self, e: String) {
        tracing::error!(error = %e, "consumer group");
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(e);
        }
    }
}

/// A consumer-group member reading one ledger topic.
pub struct KafkaSource {
    consumer: BaseConsumer<Group>,
    topic: String,
    partitions: u32,
    /// Records read while waiting for the first assignment.
    early: VecDeque<Record>,
    /// Per assigned partition: the next offset to deliver.
    cursors: BTreeMap<u32, Cursor>,
    /// The assignment generation `cursors` reflect.
    generation: u64,
    /// Per assigned partition not yet caught up on: how far it must be
    /// applied ([`Readiness`]).
    catching_up: BTreeMap<u32, CatchUp>,
    /// A bare `read_uncommitted` client (no group): the partitions' high
    /// watermarks, and the record that opens a transaction still open.
    uncommitted: BaseConsumer,
    /// A bare `read_committed` client: a partition's last stable offset
    /// when it is assigned, without waiting on the group consumer, which
    /// is busy with the assignment then.
    stable: BaseConsumer,
    /// The consumer group, and who the cluster knows this client as (for
    /// a refusal's message).
    group: String,
    principal: String,
}

pub(crate) fn to_record(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
    Record {
        partition: u32::try_from(m.partition()).unwrap_or(u32::MAX),
        offset: u64::try_from(m.offset()).unwrap_or(u64::MAX),
        timestamp_ms: match m.timestamp() {
            Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t,
            // A record without a time: Kafka's own -1, as the embedded log
            // would hold it; before the ledger's epoch, so the projector
            // dead-letters it as bad_timestamp on either path.
            Timestamp::NotAvailable => -1,
        },
        key: m.key().map(<[u8]>::to_vec).unwrap_or_default(),
        value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}

/// Whether a consumer error means a fetched batch cannot be decoded.
fn undecodable(e: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e,
        KafkaError::MessageConsumption(C::BadCompression | C::BadMessage | C::NotImplemented)
            | KafkaError::MessageConsumptionFatal(_)
    )
}

pub(crate) fn kafka(e: KafkaError) -> SourceError {
    SourceError::Other(format!("kafka: {e}"))
}

impl KafkaSource {
    /// Joins `group` on `topic` and waits for the first assignment. Every
    /// partition assigned, now or after a rebalance, starts at
    /// `resume(partition)`.
    pub fn new(
        cluster: &Cluster,
        topic: &str,
        group: &str,
        resume: ResumeAt,
        opts: &SourceOptions,
    ) -> Result<KafkaSource, SourceError> {
        let mut config = cluster.client_config();
        config
            .set("group.id", group)
            // The store holds the offsets; Kafka's are for lag monitoring
            // and are committed only after a batch is durable.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Transactional producers: only committed records (issue 16);
            // the end is the high watermark, read by `uncommitted`.
            .set("isolation.level", "read_committed");
        Cluster::default_to(&mut config, "partition.assignment.strategy", "range");
        Cluster::default_to(
            &mut config,
            "session.timeout.ms",
            &opts.session_timeout_ms.to_string(),
        );
        Cluster::default_to(
            &mut config,
            "heartbeat.interval.ms",
            &(opts.session_timeout_ms / 5).max(100).to_string(),
        );
        let group_ctx = Group {
            topic: topic.to_string(),
            resume,
            assigned: Arc::new(Mutex::new(BTreeMap::new())),
            ready: Arc::new(Mutex::new(BTreeMap::new())),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            settled: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            errors: Mutex::new(Vec::new()),
        };
        let consumer: BaseConsumer<Group> = config.create_with_context(group_ctx).map_err(kafka)?;
        let metadata = retrying(Duration::from_secs(60), || {
            consumer.fetch_metadata(Some(topic), Duration::from_secs(30))
        })
        .map_err(kafka)?;
        topic_refused(&metadata, topic, &cluster.principal())?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                SourceError::Other(format!(
                    "topic {topic} does not exist (create it with `si-ledger topics create`)"
                ))
            })?;
        consumer.subscribe(&[topic]).map_err(kafka)?;
        let uncommitted =
            bare_consumer(cluster, &format!("{group}-watermarks"), "read_uncommitted")?;
        let stable = bare_consumer(cluster, &format!("{group}-watermarks"), "read_committed")?;
        let mut source = KafkaSource {
            consumer,
            topic: topic.to_string(),
            partitions: u32::try_from(partitions).unwrap_or(u32::MAX),
            early: VecDeque::new(),
            cursors: BTreeMap::new(),
            generation: 0,
            catching_up: BTreeMap::new(),
            uncommitted,
            stable,
            group: group.to_string(),
            principal: cluster.principal(),
        };
        let deadline = Instant::now() + opts.assignment_wait;
        while source.assigned().is_empty() {
            if Instant::now() > deadline {
                return Err(SourceError::Other(format!(
                    "no partitions of {topic} assigned to this member of group {group} within {:?}",
                    opts.assignment_wait
                )));
            }
            if let Some(r) = source.next_record(Duration::from_millis(100))? {
                source.early.push_back(r);
            }
        }
        Ok(source)
    }

    /// The live assignment (for metrics).
    pub fn assignment(&self) -> Assignment {
        Arc::clone(&self.consumer.context().assigned)
    }

    /// The assigned partitions this member has caught up on (for the API:
    /// it answers for these).
    pub fn readiness(&self) -> Readiness {
        Arc::clone(&self.consumer.context().ready)
    }

    /// The group generation as this member knows it, and the one its
    /// reader has settled: equal when no rebalance is pending in it.
    pub fn generations(&self) -> Generations {
        Generations {
            known: self.consumer.context().generation_handle(),
            settled: Arc::clone(&self.consumer.context().settled),
        }
    }

    /// Errors the group reported since the last call (rebalance failures).
    pub fn take_errors(&self) -> Vec<String> {
        self.consumer
            .context()
            .errors
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    fn next_record(&mut self, wait: Duration) -> Result<Option<Record>, SourceError> {
        let polled = self.consumer.poll(wait).map(|r| r.map(|m| to_record(&m)));
        self.sync_positions();
        match polled {
            None => Ok(None),
            Some(Ok(record)) => self.admit(record),
            // A batch the client cannot decode (a codec it was built
            // without, a corrupt batch) would be fetched again and again:
            // the projector stops and says so rather than wait forever.
            Some(Err(e)) if undecodable(&e) => Err(SourceError::Other(format!(
                "kafka: a record batch of {} cannot be decoded ({e}); nothing after it in that \
                 partition can be read",
                self.topic
            ))),
            // The authorizer's refusal does not pass: said in one line.
            Some(Err(e)) if crate::failure_of(&e).is_some() => {
                let code = crate::failure_of(&e).unwrap_or(RDKafkaErrorCode::Unknown);
                Err(read_refused(
                    &self.principal,
                    &self.topic,
                    &self.group,
                    code,
                ))
            }
            // librdkafka retries broker and network faults itself; they are
            // reported here for information only.
            Some(Err(e)) => {
                tracing::warn!(error = %e, "kafka consumer (retrying)");
                Ok(None)
            }
        }
    }

    /// Delivers a record only in order: nothing below the cursor twice. A
    /// record above the cursor follows offsets that hold nothing a
    /// consumer sees (transaction markers, aborted records).
    fn admit(&mut self, record: Record) -> Result<Option<Record>, SourceError> {
        let Some(cursor) = self.cursors.get_mut(&record.partition) else {
            return Ok(None); // no longer assigned
        };
        if record.offset < cursor.next {
            return Ok(None);
        }
        cursor.next = record.offset + 1;
        Ok(Some(record))
    }

    /// After a rebalance, every assigned partition starts again at the
    /// offset the store gave; revoked partitions are forgotten.
    fn sync_positions(&mut self) {
        let generation = self
            .consumer
            .context()
            .generation
            .load(std::sync::atomic::Ordering::SeqCst);
        if generation == self.generation {
            return;
        }
        let assigned = match self.consumer.context().assigned.lock() {
            Ok(a) => a.clone(),
            Err(_) => return,
        };
        self.generation = generation;
        self.early.clear();
        self.catching_up = assigned
            .iter()
            .map(|(p, at)| {
                (
                    *p,
                    CatchUp {
                        end: None,
                        applied: *at,
                        assigned_ms: now_ms(),
                        retry_at: None,
                    },
                )
            })
            .collect();
        self.cursors = assigned
            .into_iter()
            .map(|(p, at)| (p, Cursor { next: at }))
            .collect();
        self.update_readiness();
    }

    /// Moves the partitions caught up on into [`Readiness`]: those applied
    /// up to the last stable offset they had when assigned, or whose
    /// position passed it (transaction markers, aborted records) with
    /// everything delivered applied.
    fn update_readiness(&mut self) {
        if self.catching_up.is_empty() {
            return;
        }
        let parts: Vec<u32> = self.catching_up.keys().copied().collect();
        let mut caught = Vec::new();
        for p in parts {
            let end = match self.catching_up.get(&p).and_then(|c| c.end) {
                Some(end) => end,
                None => {
                    if self
                        .catching_up
                        .get(&p)
                        .and_then(|c| c.retry_at)
                        .is_some_and(|t| Instant::now() < t)
                    {
                        continue;
                    }
                    // read_committed: the last stable offset.
                    let Ok((_, end)) =
                        self.stable
                            .fetch_watermarks(&self.topic, p as i32, Duration::from_secs(2))
                    else {
                        // Asked again in a second: the projector's loop
                        // does not wait on a cluster that does not answer.
                        if let Some(c) = self.catching_up.get_mut(&p) {
                            c.retry_at = Some(Instant::now() + Duration::from_secs(1));
                        }
                        continue;
                    };
                    let end = u64::try_from(end).unwrap_or(0);
                    if let Some(c) = self.catching_up.get_mut(&p) {
                        c.end = Some(end);
                    }
                    end
                }
            };
            let applied = self.catching_up.get(&p).map_or(0, |c| c.applied);
            let delivered = self.cursors.get(&p).map_or(u64::MAX, |c| c.next);
            if applied >= end
                || (applied >= delivered && self.position(p).is_some_and(|at| at >= end))
            {
                caught.push(p);
            }
        }
        if caught.is_empty() {
            return;
        }
        let ready_ms = now_ms();
        let caught: Vec<(u32, CaughtUp)> = caught
            .into_iter()
            .filter_map(|p| {
                let c = self.catching_up.remove(&p)?;
                Some((
                    p,
                    CaughtUp {
                        assigned_ms: c.assigned_ms,
                        ready_ms,
                    },
                ))
            })
            .collect();
        tracing::info!(
            partitions = ?caught.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            "caught up: serving them"
        );
        if let Ok(mut r) = self.consumer.context().ready.lock() {
            r.extend(caught);
        }
    }

    fn seek_consumer(&mut self, partition: u32, offset: u64) -> Result<(), SourceError> {
        let to = Offset::Offset(i64::try_from(offset).unwrap_or(i64::MAX));
        let mut tries = 0;
        loop {
            match self
                .consumer
                .seek(&self.topic, partition as i32, to, Duration::from_secs(10))
            {
                Ok(()) => return Ok(()),
                // Right after an assignment the fetcher may not be ready.
                Err(e) if tries < 50 => {
                    tracing::debug!(error = %e, partition, "seek not yet possible; retrying");
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(kafka(e)),
            }
        }
    }
}

/// How long a `poll` that has taken `taken` records still waits for one:
/// until `deadline` while it has none; then not at all (it takes what is
/// ready).
pub(crate) fn wait_left(taken: usize, deadline: Instant) -> Duration {
    if taken == 0 {
        deadline.saturating_duration_since(Instant::now())
    } else {
        Duration::ZERO
    }
}

/// How far an assigned partition must be applied before its member
/// answers for it.
#[derive(Debug, Clone, Copy)]
struct CatchUp {
    /// Its last stable offset when assigned (`None` until asked).
    end: Option<u64>,
    /// The next offset durably applied.
    applied: u64,
    /// When it was assigned: Unix ms.
    assigned_ms: i64,
    /// After a failed ask for the end: not before then.
    retry_at: Option<Instant>,
}

/// Where a partition's delivery stands.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The next offset to deliver.
    next: u64,
}

impl Source for KafkaSource {
    fn partition_count(&self) -> u32 {
        self.partitions
    }

    fn assigned(&self) -> Vec<u32> {
        self.consumer
            .context()
            .assigned
            .lock()
            .map(|a| a.keys().copied().collect())
            .unwrap_or_default()
    }

    fn seek(&mut self, partition: u32, offset: u64) -> Result<(), SourceError> {
        self.sync_positions();
        let Some(cursor) = self.cursors.get(&partition) else {
            return Err(SourceError::NotAssigned { partition });
        };
        if cursor.next == offset {
            return Ok(()); // already there (the assignment put it there)
        }
        self.early.retain(|r| r.partition != partition);
        self.seek_consumer(partition, offset)?;
        self.cursors.insert(partition, Cursor { next: offset });
        Ok(())
    }

    fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, SourceError> {
        self.sync_positions();
        let generation = self.generation;
        let mut out = Vec::with_capacity(max.min(8192));
        while out.len() < max {
            match self.early.pop_front() {
                Some(r) => out.push(r),
                None => break,
            }
        }
        let deadline = Instant::now() + wait;
        while out.len() < max {
            match self.next_record(wait_left(out.len(), deadline))? {
                Some(r) => out.push(r),
                None if out.is_empty() && Instant::now() < deadline => continue,
                None => break,
            }
        }
        // Fetched before a rebalance during this poll that took their
        // partition away (looked at only then: not a cost per record).
        self.sync_positions();
        if self.generation != generation {
            out.retain(|r| self.cursors.contains_key(&r.partition));
        }
        self.update_readiness();
        Ok(out)
    }

    /// The high watermarks: every record written before now, committed or
    /// not. A reader reaches one once its position passes it; while a
    /// transaction is open below it, [`Source::held`] says so.
    fn end_offsets(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        self.assigned()
            .into_iter()
            .map(|p| {
                let (_, high) =
                    watermarks_of(&self.uncommitted, &self.topic, p, Duration::from_secs(60))
                        .map_err(kafka)?;
                Ok((p, u64::try_from(high).unwrap_or(0)))
            })
            .collect()
    }

    /// The group consumer reads `read_committed`, so its watermark request
    /// answers the last stable offset; the bare client's, the high
    /// watermark. The record at the former, read uncommitted, opens the
    /// transaction.
    fn held(&mut self, partition: u32) -> Option<ledger_stream::Held> {
        held_at(&self.consumer, &self.uncommitted, &self.topic, partition)
    }

    /// The consumer's position: librdkafka moves it past transaction
    /// markers and aborted records, which it never hands over. Only while
    /// nothing fetched waits to be delivered.
    fn position(&mut self, partition: u32) -> Option<u64> {
        let cursor = self.cursors.get(&partition)?;
        if self.early.iter().any(|r| r.partition == partition) {
            return None;
        }
        let tpl = self.consumer.position().ok()?;
        let at = tpl.find_partition(&self.topic, partition as i32)?;
        match at.offset() {
            Offset::Offset(o) => u64::try_from(o).ok().filter(|o| *o >= cursor.next),
            _ => None,
        }
    }

    fn generation(&self) -> u64 {
        self.consumer
            .context()
            .generation
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn settled(&mut self, generation: u64) {
        self.consumer
            .context()
            .settled
            .store(generation, std::sync::atomic::Ordering::SeqCst);
    }

    fn acknowledge(&mut self, next_offsets: &[(u32, u64)]) -> Result<(), SourceError> {
        let assigned: BTreeSet<u32> = self.assigned().into_iter().collect();
        for (p, o) in next_offsets {
            if let Some(c) = self.catching_up.get_mut(p) {
                c.applied = c.applied.max(*o);
            }
        }
        self.update_readiness();
        let mut tpl = TopicPartitionList::new();
        for (p, o) in next_offsets.iter().filter(|(p, _)| assigned.contains(p)) {
            let at = Offset::Offset(i64::try_from(*o).unwrap_or(i64::MAX));
            tpl.add_partition_offset(&self.topic, *p as i32, at)
                .map_err(kafka)?;
        }
        if tpl.count() > 0 {
            // For lag monitoring only: a failed commit loses nothing.
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                tracing::warn!(error = %e, "committing offsets for lag monitoring");
            }
        }
        Ok(())
    }
}

/// High watermarks, read by a client outside the group (for lag metrics).
pub struct Watermarks {
    client: BaseConsumer,
    topic: String,
    principal: String,
}

/// Whether the authorizer kept `topic` out of `metadata`: a one-line
/// refusal of DESCRIBE on it, which Kafka answers where a client may not
/// even know whether the topic exists.
fn topic_refused(
    metadata: &rdkafka::metadata::Metadata,
    topic: &str,
    principal: &str,
) -> Result<(), SourceError> {
    let refusal = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .filter_map(|t| t.error())
        .map(RDKafkaErrorCode::from)
        .find(|c| crate::authorization_failure(*c).is_some());
    match refusal {
        Some(code) => Err(SourceError::Other(crate::refused(
            principal,
            "DESCRIBE",
            crate::Resource::Topic(topic),
            code,
        ))),
        None => Ok(()),
    }
}

/// Runs `ask` (a metadata or watermark request) again while it fails the
/// way a broker's loss makes it fail (its connection refused, its handle
/// destroyed, no leader yet), for up to `within`: a cluster that loses a
/// node answers again once the others take over, and one failed request
/// must not stop a projector.
pub fn retrying<T>(
    within: Duration,
    mut ask: impl FnMut() -> rdkafka::error::KafkaResult<T>,
) -> rdkafka::error::KafkaResult<T> {
    let deadline = Instant::now() + within;
    loop {
        match ask() {
            Err(e) if transient(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            r => return r,
        }
    }
}

/// Whether a metadata or watermark request failed the way a broker's loss
/// makes it fail (not: a topic that does not exist, an authorization).
fn transient(e: &KafkaError) -> bool {
    matches!(e, KafkaError::MetadataFetch(code) | KafkaError::OffsetFetch(code)
        if *code != RDKafkaErrorCode::UnknownTopicOrPartition
            && crate::authorization_failure(*code).is_none())
}

/// A reader's refusal by the authorizer: READ on its group, or on the
/// topic ([`crate::refused`]).
fn read_refused(principal: &str, topic: &str, group: &str, code: RDKafkaErrorCode) -> SourceError {
    let resource = match code {
        RDKafkaErrorCode::GroupAuthorizationFailed => crate::Resource::Group(group),
        _ => crate::Resource::Topic(topic),
    };
    SourceError::Other(crate::refused(principal, "READ", resource, code))
}

/// What holds `partition` of `topic` back ([`Source::held`]): the last
/// stable offset, asked by `committed` (a `read_committed` client), below
/// the high watermark, asked by `uncommitted`, which then reads the record
/// at the former for its time.
fn held_at<C: ConsumerContext, K: Consumer<C>>(
    committed: &K,
    uncommitted: &BaseConsumer,
    topic: &str,
    partition: u32,
) -> Option<ledger_stream::Held> {
    let wait = Duration::from_secs(5);
    let p = partition as i32;
    let (_, stable) = committed.fetch_watermarks(topic, p, wait).ok()?;
    let (_, high) = uncommitted.fetch_watermarks(topic, p, wait).ok()?;
    if stable >= high {
        return None;
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, Offset::Offset(stable))
        .ok()?;
    let mut first_record_ms = None;
    if uncommitted.assign(&tpl).is_ok() {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            match uncommitted.poll(Duration::from_millis(200)) {
                Some(Ok(m)) if m.offset() >= stable => {
                    first_record_ms = match m.timestamp() {
                        Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => Some(t),
                        Timestamp::NotAvailable => None,
                    };
                    break;
                }
                _ => {}
            }
        }
        let _ = uncommitted.unassign();
    }
    Some(ledger_stream::Held {
        partition,
        stable: u64::try_from(stable).ok()?,
        end: u64::try_from(high).ok()?,
        first_record_ms,
    })
}

/// Reads every committed record of `topic` written before the call (up
/// to the high watermarks seen then), from the start of every partition,
/// calling `f(key, value)`, by a bare consumer named `group` (as in
/// [`read_from_start`]). A transaction still open below those ends is
/// waited for until it commits or aborts, said every 30 s after the first
/// 5 s (a check that must see everything published before it: an idle
/// pause is no end). Fails if the topic stops delivering for 60 s with
/// nothing holding it back.
pub fn read_to_end(
    cluster: &Cluster,
    topic: &str,
    group: &str,
    mut f: impl FnMut(&[u8], &[u8]),
) -> Result<(), SourceError> {
    use rdkafka::message::Message as _;
    let principal = cluster.principal();
    let partitions = Watermarks::new(cluster, topic)?.partitions()?;
    let uncommitted = bare_consumer(cluster, &format!("{group}-watermarks"), "read_uncommitted")?;
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        let (_, high) =
            watermarks_of(&uncommitted, topic, p, Duration::from_secs(60)).map_err(kafka)?;
        ends.insert(p, high);
    }
    let consumer = from_start(cluster, topic, partitions, group)?;
    let mut told = Instant::now();
    let mut tell_after = Duration::from_secs(5);
    let mut progress = Instant::now();
    loop {
        let positions = consumer.position().map_err(kafka)?;
        let short: Vec<u32> = ends
            .iter()
            .filter(|(p, end)| {
                **end > 0
                    && !matches!(
                        positions.find_partition(topic, **p as i32).map(|e| e.offset()),
                        Some(Offset::Offset(at)) if at >= **end
                    )
            })
            .map(|(p, _)| *p)
            .collect();
        if short.is_empty() {
            return Ok(());
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                progress = Instant::now();
                f(m.key().unwrap_or_default(), m.payload().unwrap_or_default());
            }
            Some(Err(e)) => match crate::failure_of(&e) {
                Some(code) => return Err(read_refused(&principal, topic, group, code)),
                None => tracing::warn!(error = %e, topic, "reading"),
            },
            None if told.elapsed() >= tell_after => {
                let held: Vec<ledger_stream::Held> = short
                    .iter()
                    .filter_map(|p| held_at(&consumer, &uncommitted, topic, *p))
                    .collect();
                for h in &held {
                    tracing::warn!("reading {topic} to its end waits: {h}");
                }
                if !held.is_empty() {
                    progress = Instant::now();
                } else if progress.elapsed() > Duration::from_secs(60) {
                    return Err(SourceError::Other(format!(
                        "{topic}: partitions {short:?} stopped delivering short of their ends"
                    )));
                }
                told = Instant::now();
                tell_after = Duration::from_secs(30);
            }
            None => {}
        }
    }
}

/// The low and high watermarks of `partition` (the client's isolation
/// level decides which end), asked again while the cluster fails over for
/// up to `within`. Between attempts the client asks for the topic's
/// metadata: a long-lived client that only asks for watermarks would
/// otherwise keep asking a dead leader until its metadata is next
/// refreshed (minutes; found by the cluster test, whose projectors'
/// metrics hung once a leader died).
fn watermarks_of<C: ConsumerContext, K: Consumer<C>>(
    client: &K,
    topic: &str,
    partition: u32,
    within: Duration,
) -> rdkafka::error::KafkaResult<(i64, i64)> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ask = left.clamp(Duration::from_millis(500), Duration::from_secs(5));
        match client.fetch_watermarks(topic, partition as i32, ask) {
            Err(e) if transient(&e) => {
                // Also when giving up: the next request goes to the new
                // leader.
                let _ = client.fetch_metadata(Some(topic), ask.min(Duration::from_secs(2)));
                if Instant::now() >= deadline {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            r => return r,
        }
    }
}

impl Watermarks {
    pub fn new(cluster: &Cluster, topic: &str) -> Result<Watermarks, SourceError> {
        let mut config = cluster.client_config();
        config.set("isolation.level", "read_committed");
        Ok(Watermarks {
            client: config.create().map_err(kafka)?,
            topic: topic.to_string(),
            principal: cluster.principal(),
        })
    }

    /// The topic's partition count, from the cluster's metadata.
    pub fn partitions(&self) -> Result<u32, SourceError> {
        let metadata = retrying(Duration::from_secs(60), || {
            self.client
                .fetch_metadata(Some(&self.topic), Duration::from_secs(30))
        })
        .map_err(kafka)?;
        topic_refused(&metadata, &self.topic, &self.principal)?;
        metadata
            .topics()
            .iter()
            .find(|t| t.name() == self.topic && t.error().is_none())
            .map(|t| t.partitions().len() as u32)
            .filter(|n| *n > 0)
            .ok_or_else(|| SourceError::Other(format!("topic {} does not exist", self.topic)))
    }

    /// The offset one past the last record of `partition`, asked again
    /// for up to a minute while the cluster fails over.
    pub fn high(&self, partition: u32) -> Result<u64, SourceError> {
        self.high_within(partition, Duration::from_secs(60))
    }

    /// [`Watermarks::high`], giving up after `within` (metrics answer a
    /// scrape within seconds, leaving out a partition they cannot ask).
    pub fn high_within(&self, partition: u32, within: Duration) -> Result<u64, SourceError> {
        let (_, high) =
            watermarks_of(&self.client, &self.topic, partition, within).map_err(kafka)?;
        Ok(u64::try_from(high).unwrap_or(0))
    }
}

/// The record at `offset` of `partition` of `topic`, read by a bare
/// consumer (joining no group, committing nothing; `group` names it, one
/// the principal's ACLs cover), if the topic holds one there: `None`
/// when the offset is past the end, below the start (retention removed
/// it), or holds no record a consumer sees (a transaction marker). It
/// checks the log's identity (`ledger_store::LedgerStore::check_log`).
pub fn record_at(
    cluster: &Cluster,
    topic: &str,
    partition: u32,
    offset: u64,
    group: &str,
) -> Result<Option<Record>, SourceError> {
    let consumer = bare_consumer(cluster, group, "read_committed")?;
    let (low, high) =
        watermarks_of(&consumer, topic, partition, Duration::from_secs(60)).map_err(kafka)?;
    let at = i64::try_from(offset).unwrap_or(i64::MAX);
    if at < low || at >= high {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition as i32, Offset::Offset(at))
        .map_err(kafka)?;
    consumer.assign(&tpl).map_err(kafka)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) if m.offset() == at => return Ok(Some(to_record(&m))),
            // Past it: the offset holds no record a consumer sees.
            Some(Ok(m)) if m.offset() > at => return Ok(None),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(kafka(e)),
            None => {}
        }
    }
    Err(SourceError::Other(format!(
        "{topic} partition {partition}: no answer for offset {offset} within 30 s"
    )))
}

/// A consumer that joins no group: assigned partitions by hand, committing
/// nothing, reading with `isolation`. librdkafka still needs a `group.id`
/// (it refuses `assign` without one) and looks up its coordinator, which
/// takes DESCRIBE on that group: `group` is one the principal's ACLs
/// cover (deploy/kafka-acls.sh).
pub(crate) fn bare_consumer(
    cluster: &Cluster,
    group: &str,
    isolation: &str,
) -> Result<BaseConsumer, SourceError> {
    let mut config = cluster.client_config();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation);
    config.create().map_err(kafka)
}

/// A bare consumer ([`bare_consumer`]) assigned every partition of
/// `topic` at its beginning.
fn from_start(
    cluster: &Cluster,
    topic: &str,
    partitions: u32,
    group: &str,
) -> Result<BaseConsumer, SourceError> {
    let consumer = bare_consumer(cluster, group, "read_committed")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(kafka)?;
    }
    consumer.assign(&tpl).map_err(kafka)?;
    Ok(consumer)
}

/// Reads `topic` from the start of every partition with a bare consumer
/// (joining no group, using no group offsets; `group` names it, one the
/// principal's ACLs cover), calling `f(key, value)` for each record
/// until it returns `false`; gives up after `idle` without a record.
pub fn read_from_start(
    cluster: &Cluster,
    topic: &str,
    idle: Duration,
    group: &str,
    f: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), SourceError> {
    if read_until(cluster, topic, idle, group, f)? {
        return Ok(());
    }
    Err(SourceError::Other(format!(
        "{topic}: nothing more for {} s",
        idle.as_secs()
    )))
}

/// Reads all of `topic` from the start: every record reaches `f(key,
/// value)` until `idle` passes without one (a bare consumer named `group`,
/// as in [`read_from_start`]). For topics written only by the
/// ledger, whose readers want everything there is, also what arrives
/// while they read.
pub fn read_all_quiet(
    cluster: &Cluster,
    topic: &str,
    idle: Duration,
    group: &str,
    mut f: impl FnMut(&[u8], &[u8]),
) -> Result<(), SourceError> {
    read_until(cluster, topic, idle, group, |k, v| {
        f(k, v);
        true
    })
    .map(|_| ())
}

/// Whether `f` stopped the reading (`false`: `idle` passed first).
fn read_until(
    cluster: &Cluster,
    topic: &str,
    idle: Duration,
    group: &str,
    mut f: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<bool, SourceError> {
    use rdkafka::message::Message as _;
    let partitions = Watermarks::new(cluster, topic)?.partitions()?;
    let consumer = from_start(cluster, topic, partitions, group)?;
    let mut last = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last = Instant::now();
                if !f(m.key().unwrap_or_default(), m.payload().unwrap_or_default()) {
                    return Ok(true);
                }
            }
            Some(Err(e)) => match crate::failure_of(&e) {
                Some(code) => return Err(read_refused(&cluster.principal(), topic, group, code)),
                None => tracing::warn!(error = %e, topic, "reading"),
            },
            None if last.elapsed() > idle => return Ok(false),
            None => {}
        }
    }
}

/// Reads `expect` records of `topic` from the start with a bare consumer
/// (no group, no processing) and returns how many it read: the broker's
/// and client's own rate, for benchmarks.
pub fn drain(
    cluster: &Cluster,
    topic: &str,
    partitions: u32,
    expect: u64,
) -> Result<u64, SourceError> {
    let consumer = from_start(cluster, topic, partitions, "si-ledger-drain")?;
    let mut n = 0;
    let mut idle = Instant::now();
    while n < expect {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                n += 1;
                idle = Instant::now();
            }
            Some(Err(e)) => tracing::warn!(error = %e, "drain"),
            None if idle.elapsed() > Duration::from_secs(30) => break,
            None => {}
        }
    }
    Ok(n)
}
