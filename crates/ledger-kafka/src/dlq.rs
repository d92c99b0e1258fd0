//! The dead-letter topic: every record the projector could not apply, kept
//! whole (original key and value) with headers naming its provenance. A
//! letter too large for a Kafka record is published as a stand-in (its
//! SHA-256 and size, with a header saying so) and kept whole in the store:
//! one huge record must never stop the projector (inputs §5).

use crate::publisher::{PublishError, Publisher};
use ledger_store::DeadLetter;
use sha2::{Digest, Sha256};

/// Header names, in the order they are written.
pub const HEADERS: [&str; 6] = [
    "si-ledger-topic",
    "si-ledger-partition",
    "si-ledger-offset",
    "si-ledger-timestamp",
    "si-ledger-error-kind",
    "si-ledger-error",
];

/// Headers of a letter whose value is replaced: the original value's
/// size in bytes and SHA-256 (hex); its key, if that was replaced too.
pub const OMITTED_HEADERS: [&str; 3] = [
    "si-ledger-value-omitted-size",
    "si-ledger-value-sha256",
    "si-ledger-key-omitted-size",
];

/// Largest key and value a letter carries as they were. librdkafka's
/// `message.max.bytes` and a broker's `max.message.bytes` are about 1 MB
/// by default; what is above this (with room for headers and the batch's
/// framing) is replaced by its digest.
pub const MAX_LETTER_BYTES: usize = 900_000;
/// Largest key carried as it was (a key is an IIN: a few bytes).
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest error text in a header, in characters.
pub const MAX_ERROR_CHARS: usize = 512;

/// The producer of one ledger topic's dead-letter topic.
pub struct DeadLetterTopic {
    topic: String,
    publisher: Publisher,
}

/// A letter as it goes to the topic: key, value and extra headers.
struct Outgoing<'a> {
    key: &'a [u8],
    value: std::borrow::Cow<'a, [u8]>,
    extra: Vec<(&'static str, Vec<u8>)>,
}

fn outgoing(d: &DeadLetter) -> Outgoing<'_> {
    let mut extra = Vec::new();
    let key: &[u8] = if d.key.len() > MAX_KEY_BYTES {
        extra.push((OMITTED_HEADERS[2], d.key.len().to_string().into_bytes()));
        &[]
    } else {
        &d.key
    };
    let value = if d.value.len() + key.len() > MAX_LETTER_BYTES {
        let sha = Sha256::digest(&d.value);
        extra.push((OMITTED_HEADERS[0], d.value.len().to_string().into_bytes()));
        extra.push((OMITTED_HEADERS[1], hex(&sha).into_bytes()));
        std::borrow::Cow::Owned(sha.to_vec())
    } else {
        std::borrow::Cow::Borrowed(d.value.as_slice())
    };
    Outgoing { key, value, extra }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An error text cut to [`MAX_ERROR_CHARS`], saying how long it was.
fn bounded(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        None => error.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &error[..cut], error.len()),
    }
}

impl DeadLetterTopic {
    pub fn new(cluster: &crate::Cluster, topic: &str) -> Result<DeadLetterTopic, PublishError> {
        Ok(DeadLetterTopic {
            topic: topic.to_string(),
            publisher: Publisher::new(cluster, &crate::dlq_topic(topic))?,
        })
    }

    /// Publishes the letters, each with its original key and value (or,
    /// past [`MAX_LETTER_BYTES`], their stand-in), and waits for the
    /// broker's acknowledgement. Headers are UTF-8 text; numbers in decimal.
    pub fn publish(&mut self, letters: &[DeadLetter]) -> Result<(), PublishError> {
        if letters.is_empty() {
            return Ok(());
        }
        let out: Vec<Outgoing> = letters.iter().map(outgoing).collect();
        let records: Vec<(&[u8], Option<i64>, &[u8])> = letters
            .iter()
            .zip(&out)
            // The original time when a broker takes it; a bad one (the
            // reason for a `bad_timestamp` letter) stays in the header
            // only, and the letter is stamped when published.
            .map(|(d, o)| {
                let ts = (0..=ledger_core::RecordTimes::CEILING_MS)
                    .contains(&d.timestamp_ms)
                    .then_some(d.timestamp_ms);
                (o.key, ts, &*o.value)
            })
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
                bounded(&d.error),
            ];
            HEADERS
                .iter()
                .zip(values)
                .map(|(h, v)| (*h, v.into_bytes()))
                .chain(out[i].extra.iter().cloned())
                .collect()
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::Position;

    fn letter(key: usize, value: usize, error: usize) -> DeadLetter {
        DeadLetter {
            position: Position {
                partition: 1,
                offset: 7,
            },
            timestamp_ms: 0,
            key: vec![b'k'; key],
            value: vec![7; value],
            kind: "undecodable".into(),
            error: "e".repeat(error),
            link: [0; 32],
            leaf: 0,
        }
    }

    #[test]
    fn a_letter_too_large_for_a_record_goes_as_its_digest() {
        let small = letter(12, 1000, 10);
        let o = outgoing(&small);
        assert_eq!((o.key.len(), o.value.len(), o.extra.len()), (12, 1000, 0));
        let huge = letter(12, 1_040_000, 10);
        let o = outgoing(&huge);
        assert_eq!(o.value.len(), 32);
        assert_eq!(o.extra[0], (OMITTED_HEADERS[0], b"1040000".to_vec()));
        assert_eq!(o.extra[1].1, hex(&Sha256::digest(&huge.value)).into_bytes());
        let long_key = letter(5000, 10, 10);
        let o = outgoing(&long_key);
        assert_eq!(o.key.len(), 0);
        assert_eq!(o.extra[0], (OMITTED_HEADERS[2], b"5000".to_vec()));
        let e = bounded(&"é".repeat(2000));
        assert!(e.chars().count() < MAX_ERROR_CHARS + 40, "{e}");
        assert!(e.ends_with("(4000 bytes in all)"), "{e}");
    }
}
