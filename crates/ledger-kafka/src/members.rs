//! Who serves which partition: `<topic>.members`, a compacted topic of one
//! partition where every projector that serves the API announces, keyed by
//! its advertised URL, the partitions the consumer group assigned it, those
//! it has caught up on (`ready`), and those it keeps a standby copy of. It
//! announces on every change (a rebalance, a catch-up), and a tombstone
//! when it leaves cleanly. Every instance follows the topic from its start,
//! so each knows, for any partition, the instance that owns it.
//!
//! A partition's owner is the latest announcement (in topic order) that
//! claims it: after a rebalance the new owner's claim comes after the lost
//! one's, and a member that lost a partition without saying so (killed)
//! is superseded by the next claim. Routing by a stale claim is safe: the
//! instance asked checks its own assignment before reading, and a read of
//! an instance that is gone fails to connect; both answer 503.
//!
//! The topic must be writable by the projectors' principal only (an ACL,
//! as for the ledger topic): an announcement routes reads.

use crate::{Cluster, TopicError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The members topic of a ledger topic.
pub fn members_topic(topic: &str) -> String {
    format!("{topic}.members")
}

/// What one instance says of itself. JSON on the topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Announcement {
    /// Its advertised API base URL (`http://host:port`): the record's key.
    pub instance: String,
    /// The partitions the consumer group assigned it.
    pub assigned: Vec<u32>,
    /// Those of `assigned` it has caught up on (applied up to the end the
    /// partition had when assigned): it answers for them.
    pub ready: Vec<u32>,
    /// The partitions it keeps a standby copy of (`project --standby`).
    #[serde(default)]
    pub standby: Vec<u32>,
    /// When it said so: Unix ms.
    pub at_ms: i64,
}

/// The latest announcement of each live instance, with its place in the
/// topic.
#[derive(Debug, Default, Clone)]
pub struct Table {
    latest: BTreeMap<String, (i64, Announcement)>,
}

impl Table {
    /// Takes the record at `offset`: an announcement, or a tombstone
    /// (`None`) for an instance that left.
    pub fn apply(&mut self, offset: i64, key: &str, value: Option<Announcement>) {
        match value {
            Some(a) if a.instance == key => {
                self.latest.insert(key.to_string(), (offset, a));
            }
            Some(_) => tracing::warn!(
                offset,
                "members: an announcement under another key; ignored"
            ),
            None => {
                self.latest.remove(key);
            }
        }
    }

    /// The instance whose latest announcement claims `partition` and comes
    /// last in the topic, with whether it is ready to serve it.
    pub fn owner(&self, partition: u32) -> Option<(&Announcement, bool)> {
        self.latest
            .values()
            .filter(|(_, a)| a.assigned.contains(&partition))
            .max_by_key(|(offset, _)| *offset)
            .map(|(_, a)| (a, a.ready.contains(&partition)))
    }

    /// Every instance's latest announcement, by URL.
    pub fn instances(&self) -> Vec<&Announcement> {
        self.latest.values().map(|(_, a)| a).collect()
    }

    /// Partitions with an owner, per owner (the latest claim wins).
    pub fn owners(&self, partitions: u32) -> BTreeMap<u32, String> {
        (0..partitions)
            .filter_map(|p| self.owner(p).map(|(a, _)| (p, a.instance.clone())))
            .collect()
    }
}

/// Creates `<topic>.members` if it is missing: compacted, one partition,
/// replicated like the cluster allows (up to 3). Returns whether it was
/// created.
pub fn create_members_topic(cluster: &Cluster, topic: &str) -> Result<bool, TopicError> {
    let name = members_topic(topic);
    let admin: AdminClient<DefaultClientContext> = cluster.client_config().create()?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(30))?;
    // Present already (`topics create` makes it): nothing asked of the
    // cluster, so a principal without CREATE gets on.
    if metadata
        .topics()
        .iter()
        .any(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
    {
        return Ok(false);
    }
    let brokers = metadata.brokers().len();
    let replication = i32::try_from(brokers.clamp(1, 3)).unwrap_or(1);
    let new = NewTopic::new(&name, 1, TopicReplication::Fixed(replication))
        .set("cleanup.policy", "compact");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = futures_executor::block_on(admin.create_topics([&new], &opts))?;
    match results.into_iter().next() {
        Some(r) => crate::topics::created(cluster, r).map(|(_, new)| new),
        None => Ok(false),
    }
}

/// This instance's view of `<topic>.members`, kept current by a thread,
/// and its own announcements.
pub struct Members {
    table: Arc<Mutex<Table>>,
    producer: BaseProducer,
    topic: String,
    me: String,
    stop: Arc<AtomicBool>,
    follower: Option<std::thread::JoinHandle<()>>,
}

impl Members {
    /// Follows `<topic>.members` as instance `me` (its advertised URL),
    /// having read everything the topic held at the call (so that the
    /// table is whole before the first read is routed).
    pub fn join(cluster: &Cluster, topic: &str, group: &str, me: &str) -> Result<Members, String> {
        let name = members_topic(topic);
        let consumer =
            crate::source::bare_consumer(cluster, &format!("{group}-members"), "read_committed")
                .map_err(|e| e.to_string())?;
        let (_, high) = consumer
            .fetch_watermarks(&name, 0, Duration::from_secs(30))
            .map_err(|e| format!("{name}: {e}"))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&name, 0, Offset::Beginning)
            .map_err(|e| e.to_string())?;
        consumer.assign(&tpl).map_err(|e| format!("{name}: {e}"))?;
        let table = Arc::new(Mutex::new(Table::default()));
        // Whole up to the end it had now.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut next = 0i64;
        while next < high {
            if Instant::now() > deadline {
                return Err(format!(
                    "{name}: read to offset {next} of {high} within 60 s; not further"
                ));
            }
            if let Some(at) = take(&consumer, &table, Duration::from_millis(200)) {
                next = at + 1;
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let follower = {
            let (table, stop) = (Arc::clone(&table), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("members".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        take(&consumer, &table, Duration::from_millis(100));
                    }
                })
                .map_err(|e| format!("starting the members thread: {e}"))?
        };
        let mut config = cluster.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0");
        let producer: BaseProducer = config.create().map_err(|e| e.to_string())?;
        Ok(Members {
            table,
            producer,
            topic: name,
            me: me.to_string(),
            stop,
            follower: Some(follower),
        })
    }

    /// The table as read so far.
    pub fn table(&self) -> Table {
        self.table.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// A shared handle on the table, for routing.
    pub fn shared(&self) -> Arc<Mutex<Table>> {
        Arc::clone(&self.table)
    }

    /// Publishes this instance's announcement and waits for the broker's
    /// acknowledgement (up to 10 s).
    pub fn announce(
        &self,
        assigned: &BTreeSet<u32>,
        ready: &BTreeSet<u32>,
        standby: &BTreeSet<u32>,
    ) -> Result<(), String> {
        let a = Announcement {
            instance: self.me.clone(),
            assigned: assigned.iter().copied().collect(),
            ready: ready.iter().copied().collect(),
            standby: standby.iter().copied().collect(),
            at_ms: chrono::Utc::now().timestamp_millis(),
        };
        let value = serde_json::to_vec(&a).map_err(|e| e.to_string())?;
        self.send(Some(&value))
    }

    /// A tombstone: this instance left.
    pub fn leave(&self) -> Result<(), String> {
        self.send(None)
    }

    fn send(&self, value: Option<&[u8]>) -> Result<(), String> {
        let mut record = BaseRecord::<str, [u8]>::to(&self.topic)
            .key(self.me.as_str())
            .partition(0);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("{}: {e}", self.topic))?;
        self.producer
            .flush(Duration::from_secs(10))
            .map_err(|e| format!("{}: {e}", self.topic))
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(f) = self.follower.take() {
            let _ = f.join();
        }
    }
}

/// Reads one record of the members topic into `table`: its offset, if one
/// came within `wait`.
fn take(consumer: &BaseConsumer, table: &Mutex<Table>, wait: Duration) -> Option<i64> {
    let m = match consumer.poll(wait)? {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "members topic (retrying)");
            return None;
        }
    };
    let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else {
        tracing::warn!(
            offset = m.offset(),
            "members: a record without a UTF-8 key; ignored"
        );
        return Some(m.offset());
    };
    let key = key.to_string();
    let value = match m.payload() {
        None => None,
        Some(bytes) => match serde_json::from_slice::<Announcement>(bytes) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(offset = m.offset(), error = %e, "members: not an announcement; ignored");
                return Some(m.offset());
            }
        },
    };
    if let Ok(mut t) = table.lock() {
        t.apply(m.offset(), &key, value);
    }
    Some(m.offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(instance: &str, assigned: &[u32], ready: &[u32]) -> Option<Announcement> {
        Some(Announcement {
            instance: instance.into(),
            assigned: assigned.to_vec(),
            ready: ready.to_vec(),
            standby: vec![],
            at_ms: 0,
        })
    }

    #[test]
    fn the_latest_claim_owns_a_partition_and_a_tombstone_removes_one() {
        let mut t = Table::default();
        t.apply(0, "http://a", a("http://a", &[0, 1], &[0, 1]));
        t.apply(1, "http://b", a("http://b", &[2, 3], &[2, 3]));
        t.apply(2, "http://c", a("http://c", &[4, 5], &[4]));
        assert_eq!(
            t.owner(1).map(|(o, r)| (o.instance.as_str(), r)),
            Some(("http://a", true))
        );
        assert_eq!(
            t.owner(5).map(|(o, r)| (o.instance.as_str(), r)),
            Some(("http://c", false))
        );
        // a is killed; the group gives 0 to b and 1 to c, which say so.
        t.apply(3, "http://b", a("http://b", &[0, 2, 3], &[2, 3]));
        t.apply(4, "http://c", a("http://c", &[1, 4, 5], &[1, 4, 5]));
        assert_eq!(
            t.owner(0).map(|(o, r)| (o.instance.as_str(), r)),
            Some(("http://b", false))
        );
        assert_eq!(
            t.owner(1).map(|(o, r)| (o.instance.as_str(), r)),
            Some(("http://c", true))
        );
        // A member's own later word replaces its earlier.
        t.apply(5, "http://c", a("http://c", &[], &[]));
        assert_eq!(t.owner(4), None);
        assert_eq!(
            t.owner(1).map(|(o, _)| o.instance.as_str()),
            Some("http://a")
        );
        t.apply(6, "http://a", None);
        assert_eq!(t.owner(1), None);
        assert_eq!(t.instances().len(), 2);
        // A value naming another instance than its key is not taken.
        t.apply(7, "http://b", a("http://evil", &[9], &[9]));
        assert_eq!(t.owner(9), None);
    }
}
