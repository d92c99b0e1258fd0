//! The dead-letter topic: every record the projector could not apply, kept
//! whole (original key and value) with headers naming its provenance.

use crate::publisher::{PublishError, Publisher};
use ledger_store::DeadLetter;

/// Header names, in the order they are written.
pub const HEADERS: [&str; 6] = [
    "si-ledger-topic",
    "si-ledger-partition",
    "si-ledger-offset",
    "si-ledger-timestamp",
    "si-ledger-error-kind",
    "si-ledger-error",
];

/// The producer of one ledger topic's dead-letter topic.
pub struct DeadLetterTopic {
    topic: String,
    publisher: Publisher,
}

impl DeadLetterTopic {
    pub fn new(brokers: &str, topic: &str) -> Result<DeadLetterTopic, PublishError> {
        Ok(DeadLetterTopic {
            topic: topic.to_string(),
            publisher: Publisher::new(brokers, &crate::dlq_topic(topic))?,
        })
    }

    /// Publishes the letters, each with its original key and value, and
    /// waits for the broker's acknowledgement. Headers are UTF-8 text;
    /// numbers in decimal.
    pub fn publish(&mut self, letters: &[DeadLetter]) -> Result<(), PublishError> {
        if letters.is_empty() {
            return Ok(());
        }
        let records: Vec<(&[u8], Option<i64>, &[u8])> = letters
            .iter()
            .map(|d| (d.key.as_slice(), Some(d.timestamp_ms), d.value.as_slice()))
            .collect();
        let topic = &self.topic;
        self.publisher.publish_with_headers(&records, |i| {
            let d = &letters[i];
            let values = [
                topic.clone(),
                d.position.partition.to_string(),
                d.position.offset.to_string(),
                d.timestamp_ms.to_string(),
                d.kind.clone(),
                d.error.clone(),
            ];
            HEADERS
                .iter()
                .zip(values)
                .map(|(h, v)| (*h, v.into_bytes()))
                .collect()
        })?;
        Ok(())
    }
}
