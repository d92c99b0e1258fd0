//! Creating the ledger topic and its derived topics.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("creating topic {topic}: {code}")]
    Create { topic: String, code: String },
    /// The cluster's authorizer refused the creation ([`crate::refused`]).
    #[error("{0}")]
    Refused(String),
}

/// The topics derived from ledger topic `topic`: dead letters, monthly
/// projections, notices to payers.
pub fn derived_topics(topic: &str) -> [String; 3] {
    [
        crate::dlq_topic(topic),
        crate::monthly_topic(topic),
        crate::notices_topic(topic),
    ]
}

/// The broker's part of the record-time rule (inputs §4) for the ledger
/// topic: `message.timestamp.after.max.ms` as the ledger's tolerance, and
/// `message.timestamp.before.max.ms` reaching ten years before the epoch
/// at creation, so that the worst (1970, a clock at zero) are refused at
/// the door while every back-fill from the epoch on is taken for at least
/// ten more years (the projector dead-letters what is before the epoch in
/// any case). Brokers from Kafka 3.6 (KIP-937) enforce both.
pub fn timestamp_configs(
    times: &ledger_core::RecordTimes,
    now_ms: i64,
) -> [(&'static str, String); 2] {
    const TEN_YEARS_MS: i64 = 10 * 366 * 24 * 3_600_000;
    let before = now_ms
        .saturating_sub(times.epoch.timestamp_millis())
        .saturating_add(TEN_YEARS_MS)
        .max(0);
    [
        (
            "message.timestamp.after.max.ms",
            times.after_max_ms.to_string(),
        ),
        ("message.timestamp.before.max.ms", before.to_string()),
    ]
}

/// A topic retained forever, with `configs` besides.
fn new_topic<'a>(
    name: &'a str,
    partitions: i32,
    replication: i32,
    configs: &'a [(&'static str, String)],
) -> NewTopic<'a> {
    let t = NewTopic::new(name, partitions, TopicReplication::Fixed(replication))
        .set("retention.ms", "-1")
        .set("retention.bytes", "-1")
        .set("cleanup.policy", "delete");
    configs.iter().fold(t, |t, (k, v)| t.set(k, v))
}

/// Creates `topic` with `partitions` partitions and its derived topics (the
/// same count), all retained forever: the ledger topic is the ledger's
/// source of truth, and the others are its evidence. The ledger topic gets
/// `timestamps` ([`timestamp_configs`]). Returns, per topic, whether it was
/// created (`false`: it already existed, and is left as is).
pub fn create_topics(
    cluster: &crate::Cluster,
    topic: &str,
    partitions: u32,
    replication: i32,
    timestamps: &[(&'static str, String); 2],
) -> Result<Vec<(String, bool)>, TopicError> {
    let admin: AdminClient<DefaultClientContext> = cluster.client_config().create()?;
    let names: Vec<String> = std::iter::once(topic.to_string())
        .chain(derived_topics(topic))
        .collect();
    let count = i32::try_from(partitions).unwrap_or(i32::MAX);
    let new: Vec<NewTopic> = names
        .iter()
        .map(|n| {
            new_topic(
                n,
                count,
                replication,
                if n == topic { timestamps } else { &[] },
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let mut results = futures_executor::block_on(admin.create_topics(new.iter(), &opts))?;
    // A broker older than Kafka 3.6 knows no `message.timestamp.before/
    // after.max.ms`: the ledger topic is made without them (the projector
    // and `publish` still apply the rule), and the operator is told.
    if let Some(r) = results
        .iter_mut()
        .find(|r| matches!(r, Err((n, RDKafkaErrorCode::InvalidConfig)) if n == topic))
    {
        tracing::warn!(
            topic,
            "the broker refused message.timestamp.before/after.max.ms (older than Kafka 3.6?): \
             created without them"
        );
        let again = [new_topic(topic, count, replication, &[])];
        *r = futures_executor::block_on(admin.create_topics(again.iter(), &opts))?
            .pop()
            .unwrap_or_else(|| Err((topic.to_string(), RDKafkaErrorCode::Unknown)));
    }
    results.into_iter().map(|r| created(cluster, r)).collect()
}

/// One topic's creation as the admin client answered it: its name and
/// whether it was created (`false`: it existed), or why not (the
/// authorizer's refusal in one line).
pub(crate) fn created(
    cluster: &crate::Cluster,
    result: Result<String, (String, RDKafkaErrorCode)>,
) -> Result<(String, bool), TopicError> {
    match result {
        Ok(name) => Ok((name, true)),
        Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => Ok((name, false)),
        Err((name, code)) if crate::authorization_failure(code).is_some() => {
            let resource = match code {
                RDKafkaErrorCode::ClusterAuthorizationFailed => crate::Resource::Cluster,
                _ => crate::Resource::Topic(&name),
            };
            Err(TopicError::Refused(crate::refused(
                &cluster.principal(),
                "CREATE",
                resource,
                code,
            )))
        }
        Err((name, code)) => Err(TopicError::Create {
            topic: name,
            code: code.to_string(),
        }),
    }
}
