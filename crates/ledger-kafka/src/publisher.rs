//! The payment processors' publisher.

use crate::Cluster;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("record {index} of the batch was not delivered: {reason}")]
    NotDelivered { index: usize, reason: String },
    #[error("delivery not confirmed within {0:?}")]
    Timeout(Duration),
    /// The cluster's authorizer refused the write ([`crate::refused`]).
    #[error("{0}")]
    Refused(String),
}

/// Where one record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: u32,
    pub offset: u64,
}

/// (call, index in that call's records, outcome): a report that arrives
/// after its call has failed is told apart from the next call's.
type Report = (
    u64,
    usize,
    Result<Delivered, (Option<RDKafkaErrorCode>, String)>,
);

struct Reports(Mutex<Vec<Report>>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<(u64, usize)>;
    fn delivery(&self, result: &DeliveryResult<'_>, tag: Self::DeliveryOpaque) {
        let report = match result {
            Ok(m) => Ok(Delivered {
                partition: u32::try_from(m.partition()).unwrap_or(u32::MAX),
                offset: u64::try_from(m.offset()).unwrap_or(u64::MAX),
            }),
            Err((e, _)) => Err((e.rdkafka_error_code(), e.to_string())),
        };
        if let Ok(mut r) = self.0.lock() {
            r.push((tag.0, tag.1, report));
        }
    }
}

/// An idempotent producer for one ledger topic.
///
/// ```no_run
/// use ledger_kafka::Publisher;
/// // key = the participant's IIN; value = a `si.ledger.v1.Envelope`.
/// let envelope_bytes: Vec<u8> = Vec::new();
/// let mut p = Publisher::new(&ledger_kafka::Cluster::new("127.0.0.1:9092"), "si-ledger")?;
/// let where_ = p.publish(&[(b"900101300128".as_slice(), None, envelope_bytes.as_slice())])?;
/// println!("partition {} offset {}", where_[0].partition, where_[0].offset);
/// # Ok::<(), ledger_kafka::PublishError>(())
/// ```
pub struct Publisher {
    producer: BaseProducer<Reports>,
    topic: String,
    timeout: Duration,
    /// Numbers the `publish` calls.
    call: u64,
    /// Who the cluster knows this client as (for a refusal's message).
    principal: String,
}

impl Publisher {
    /// A publisher on `cluster` with the ledger's defaults, which the
    /// cluster's settings may change: records zstd-compressed (issue 16;
    /// the codec a State Corporation cluster's clients use), lingering
    /// 5 ms to fill a batch.
    pub fn new(cluster: &Cluster, topic: &str) -> Result<Publisher, PublishError> {
        let mut config = cluster.client_config();
        Cluster::default_to(&mut config, "compression.type", "zstd");
        Cluster::default_to(&mut config, "linger.ms", "5");
        Self::with_config(config, topic)
    }

    /// A publisher over a caller's configuration; the settings the ledger
    /// depends on are always applied on top.
    pub fn with_config(
        mut config: rdkafka::ClientConfig,
        topic: &str,
    ) -> Result<Publisher, PublishError> {
        config
            // Exactly once into the log per send, in order per partition.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // The Java client's default for keyed records: murmur2 of the
            // key, so a Java, Python or Go processor and this one agree.
            .set("partitioner", "murmur2_random");
        let principal = crate::principal_of(&config);
        let producer: BaseProducer<Reports> =
            config.create_with_context(Reports(Mutex::new(Vec::new())))?;
        Ok(Publisher {
            producer,
            topic: topic.to_string(),
            timeout: Duration::from_secs(60),
            call: 0,
            principal,
        })
    }

    /// Sends every record — (key, timestamp in ms or `None` for now, value)
    /// — and waits until the broker has acknowledged all of them. Returns
    /// where each landed, in input order. Any failure fails the call. Kafka
    /// keeps what it acknowledged, so a caller that retries after an error
    /// may publish some records twice: the projector counts those as
    /// duplicates by event id.
    pub fn publish(
        &mut self,
        records: &[(&[u8], Option<i64>, &[u8])],
    ) -> Result<Vec<Delivered>, PublishError> {
        self.publish_with_headers(records, |_| Vec::new())
    }

    /// [`publish`](Self::publish), with headers for record `i` from
    /// `headers(i)`.
    pub fn publish_with_headers(
        &mut self,
        records: &[(&[u8], Option<i64>, &[u8])],
        headers: impl Fn(usize) -> Vec<(&'static str, Vec<u8>)>,
    ) -> Result<Vec<Delivered>, PublishError> {
        self.send_all(records, headers, None)
    }

    /// [`publish`](Self::publish) to one given partition, whatever the keys
    /// (control records that every partition must carry).
    pub fn publish_to(
        &mut self,
        partition: u32,
        records: &[(&[u8], Option<i64>, &[u8])],
    ) -> Result<Vec<Delivered>, PublishError> {
        self.send_all(records, |_| Vec::new(), Some(partition))
    }

    fn send_all(
        &mut self,
        records: &[(&[u8], Option<i64>, &[u8])],
        headers: impl Fn(usize) -> Vec<(&'static str, Vec<u8>)>,
        partition: Option<u32>,
    ) -> Result<Vec<Delivered>, PublishError> {
        let deadline = Instant::now() + self.timeout;
        self.call += 1;
        let call = self.call;
        for (i, (key, ts, value)) in records.iter().enumerate() {
            let mut record = BaseRecord::with_opaque_to(&self.topic, Box::new((call, i)))
                .key(*key)
                .payload(*value);
            if let Some(ts) = ts {
                record = record.timestamp(*ts);
            }
            if let Some(p) = partition {
                record = record.partition(p as i32);
            }
            let hs = headers(i);
            if !hs.is_empty() {
                let mut owned = rdkafka::message::OwnedHeaders::new_with_capacity(hs.len());
                for (name, v) in &hs {
                    owned = owned.insert(rdkafka::message::Header {
                        key: name,
                        value: Some(v.as_slice()),
                    });
                }
                record = record.headers(owned);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        self.producer.poll(Duration::from_millis(10));
                        if Instant::now() > deadline {
                            return Err(PublishError::Timeout(self.timeout));
                        }
                    }
                    Err((e, _)) => {
                        return Err(match crate::failure_of(&e) {
                            Some(code) => self.refused(code),
                            None => e.into(),
                        })
                    }
                }
            }
        }
        let mut out: Vec<Option<Delivered>> = vec![None; records.len()];
        let mut seen = 0;
        while seen < records.len() {
            // `poll` runs until its timeout: keep it short, or every call
            // pays the whole of it.
            self.producer.poll(Duration::from_millis(1));
            let reports: Vec<Report> = match self.producer.context().0.lock() {
                Ok(mut r) => std::mem::take(&mut *r),
                Err(_) => Vec::new(),
            };
            for (c, i, r) in reports {
                if c != call {
                    continue; // from an earlier call that failed
                }
                match r {
                    Ok(d) => out[i] = Some(d),
                    Err((Some(code), _)) if crate::authorization_failure(code).is_some() => {
                        return Err(self.refused(code))
                    }
                    Err((_, reason)) => {
                        // A fatal error behind it (the idempotent producer
                        // refused its producer id) is what to say.
                        if let Some((code, _)) = self.producer.client().fatal_error() {
                            if crate::authorization_failure(code).is_some() {
                                return Err(self.refused(code));
                            }
                        }
                        return Err(PublishError::NotDelivered { index: i, reason });
                    }
                }
                seen += 1;
            }
            if Instant::now() > deadline {
                return Err(PublishError::Timeout(self.timeout));
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

impl Publisher {
    /// The authorizer's refusal of this publisher's writes, in one line.
    /// A cluster authorization failure is Kafka refusing the idempotent
    /// producer its id, which WRITE on a topic grants (or IDEMPOTENT_WRITE
    /// on the cluster): the missing permission is still WRITE on the topic.
    fn refused(&self, code: RDKafkaErrorCode) -> PublishError {
        let operation = match code {
            RDKafkaErrorCode::ClusterAuthorizationFailed => {
                "WRITE (which gives an idempotent producer its id)"
            }
            _ => "WRITE",
        };
        PublishError::Refused(crate::refused(
            &self.principal,
            operation,
            crate::Resource::Topic(&self.topic),
            code,
        ))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.producer.flush(Duration::from_secs(5));
    }
}
