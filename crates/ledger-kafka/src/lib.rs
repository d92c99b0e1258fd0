//! Kafka, the ledger's real transport, behind the same [`Source`] trait as
//! the embedded log.
//!
//! - [`Publisher`]: payment processors' side. Idempotent producer
//!   (`enable.idempotence=true`, `acks=all`), key = IIN, value = `Envelope`
//!   protobuf, partitioned by murmur2 exactly as Java clients partition.
//! - [`KafkaSource`]: the projector's side. Joins a consumer group and, on
//!   every assignment, positions each partition at the offset the
//!   projector's own store says (offsets committed to Kafka only serve lag
//!   monitoring).
//! - [`DeadLetterTopic`]: records the projector cannot apply, with headers
//!   naming where they came from and why; [`KafkaOutputs`]: the projector's
//!   outputs, those dead letters and the monthly projections.
//! - [`create_topics`]: the ledger topic (retained forever) and its derived
//!   topics.
//! - [`Cluster`]: the brokers and a deployment's client settings (TLS,
//!   SASL, compression), applied to every client above.
//!
//! Everything is synchronous (librdkafka's own threads do the I/O): the
//! projector is one loop, and there is no async runtime to carry.
//!
//! [`Source`]: ledger_stream::Source

mod access;
mod config;
mod dlq;
pub mod members;
mod publisher;
mod sink;
mod source;
mod standby;
mod topics;

pub use access::{authorization_failure, failure_of, principal_of, refused, Resource};
pub use config::{config_error, is_secret, Cluster, ConfigError, REQUIRED};
pub use dlq::{DeadLetterTopic, HEADERS, MAX_LETTER_BYTES, OMITTED_HEADERS};
pub use members::{create_members_topic, members_topic, Announcement, Members};
pub use publisher::{Delivered, PublishError, Publisher};
pub use sink::KafkaOutputs;
pub use source::{
    drain, read_all_quiet, read_from_start, read_to_end, record_at, Assignment, CaughtUp,
    Generations, KafkaSource, Readiness, ResumeAt, SourceOptions, Watermarks,
};
pub use standby::{StandbyOutputs, StandbySource};
pub use topics::{create_topics, derived_topics, timestamp_configs, TopicError};

/// The dead-letter topic of a ledger topic.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// The monthly-projections topic of a ledger topic.
pub fn monthly_topic(topic: &str) -> String {
    format!("{topic}.monthly")
}

/// The notices-to-payers topic of a ledger topic (keyed by payer id).
pub fn notices_topic(topic: &str) -> String {
    format!("{topic}.notices")
}
