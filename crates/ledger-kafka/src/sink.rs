//! The Kafka path's [`Sink`]: dead letters to `<topic>.dlq`, monthly
//! projections and summaries to `<topic>.monthly`, notices to payers to
//! `<topic>.notices`, a merge's transfers back to `<topic>`.

use crate::dlq::DeadLetterTopic;
use crate::publisher::{PublishError, Publisher};
use ledger_projector::Sink;
use ledger_store::DeadLetter;

pub struct KafkaOutputs {
    dlq: DeadLetterTopic,
    monthly: Publisher,
    notices: Publisher,
    input: Publisher,
}

impl KafkaOutputs {
    pub fn new(cluster: &crate::Cluster, topic: &str) -> Result<KafkaOutputs, PublishError> {
        Ok(KafkaOutputs {
            dlq: DeadLetterTopic::new(cluster, topic)?,
            monthly: Publisher::new(cluster, &crate::monthly_topic(topic))?,
            notices: Publisher::new(cluster, &crate::notices_topic(topic))?,
            input: Publisher::new(cluster, topic)?,
        })
    }
}

impl Sink for KafkaOutputs {
    fn dead_letters(&mut self, letters: &[DeadLetter]) -> Result<(), String> {
        self.dlq.publish(letters).map_err(|e| e.to_string())
    }

    /// Keyed records, acknowledged by the broker before this returns; the
    /// partition is the key's murmur2 (projections of one participant stay
    /// in order on one partition).
    fn monthly(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        keyed(&mut self.monthly, records).map_err(|e| format!("monthly projections: {e}"))
    }

    /// Keyed by payer id: one payer's notices stay in order on one
    /// partition.
    fn notices(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        keyed(&mut self.notices, records).map_err(|e| format!("notices: {e}"))
    }

    /// Back to the input topic, keyed by the identifier merged into: its
    /// partition, as a producer's record for it would be.
    fn forward(&mut self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), String> {
        keyed(&mut self.input, records).map_err(|e| format!("merge transfers: {e}"))
    }
}

/// Publishes keyed records and waits for the broker's acknowledgement.
fn keyed(to: &mut Publisher, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), PublishError> {
    let batch: Vec<(&[u8], Option<i64>, &[u8])> = records
        .iter()
        .map(|(k, v)| (k.as_slice(), None, v.as_slice()))
        .collect();
    to.publish(&batch).map(|_| ())
}
