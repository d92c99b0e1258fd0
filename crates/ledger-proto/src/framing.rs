//! The Confluent Schema Registry wire format, as Java's
//! `KafkaProtobufSerializer` and Python's `confluent_kafka.schema_registry.
//! protobuf.ProtobufSerializer` write a record value:
//!
//! ```text
//! 0x00 | schema id (u32 big-endian) | message indexes | protobuf message
//! ```
//!
//! The message indexes locate the message inside the registered `.proto`
//! file: a zigzag varint count, then that many zigzag varints (the path
//! through nested messages); the common path `[0]`, the file's first
//! message, is written as the single byte `0x00`. Our `Envelope` is the
//! first message of `si/ledger/v1/events.proto`, so its path is `[0]`.
//!
//! A protobuf message never starts with byte 0 (a field key with field
//! number 0 is invalid), so a value starting with 0 is framed and any
//! other value is a bare message: detection needs no configuration.
//!
//! Written here rather than taken from a crate: the Rust Schema Registry
//! clients (`schema_registry_converter`) bring an HTTP client and a
//! registry connection, while the ledger only needs to take the five-plus
//! bytes off; the registry's schema is not consulted (the ledger's own
//! `proto/` files are the contract).

/// The path of `si.ledger.v1.Envelope` in `si/ledger/v1/events.proto`.
pub const ENVELOPE_INDEXES: &[i32] = &[0];

/// A framed value's header: where the producer's serializer registered
/// the schema, and which message of it the value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    /// The Schema Registry's id of the schema the producer used.
    pub schema_id: u32,
    /// The message's path in that schema's file (`[0]`: the first message).
    pub message_indexes: Vec<i32>,
}

/// Why a framed value's header cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("Confluent-framed value ends inside its header at byte {at}: {what}")]
    Truncated { at: usize, what: &'static str },
    #[error("Confluent-framed value: message index count {0} is out of range")]
    BadCount(i64),
}

/// Splits `value` into its framing (if it has one) and the protobuf
/// message bytes. A value not starting with byte 0 is returned whole with
/// `None`.
pub fn unframe(value: &[u8]) -> Result<(Option<Framing>, &[u8]), FramingError> {
    if value.first() != Some(&0) {
        return Ok((None, value));
    }
    let id = value.get(1..5).ok_or(FramingError::Truncated {
        at: value.len(),
        what: "the 4-byte schema id",
    })?;
    let schema_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    let mut rest = &value[5..];
    let count = zigzag(&mut rest, value.len(), "the message index count")?;
    let message_indexes = if count == 0 {
        vec![0]
    } else {
        // Each index takes at least one byte.
        if count < 0 || count as u64 > rest.len() as u64 {
            return Err(FramingError::BadCount(count));
        }
        let mut path = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let i = zigzag(&mut rest, value.len(), "a message index")?;
            path.push(i32::try_from(i).unwrap_or(i32::MAX));
        }
        path
    };
    Ok((
        Some(Framing {
            schema_id,
            message_indexes,
        }),
        rest,
    ))
}

/// Prefixes `message` with the framing of `schema_id` and the Envelope's
/// path, as a Schema Registry serializer does (for tests and tools).
pub fn frame(schema_id: u32, message: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(6 + message.len());
    v.push(0);
    v.extend_from_slice(&schema_id.to_be_bytes());
    v.push(0); // the path [0], in its one-byte form
    v.extend_from_slice(message);
    v
}

fn zigzag(buf: &mut &[u8], total: usize, what: &'static str) -> Result<i64, FramingError> {
    let at = total - buf.len();
    let raw =
        prost::encoding::decode_varint(buf).map_err(|_| FramingError::Truncated { at, what })?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_message_is_returned_whole() {
        let v = [0x0a, 0x01, b'x'];
        assert_eq!(unframe(&v).unwrap(), (None, &v[..]));
    }

    #[test]
    fn the_one_byte_path_and_the_long_form_both_name_the_first_message() {
        let short = [0, 0, 0, 1, 0x2c, 0, 0x0a];
        let (f, rest) = unframe(&short).unwrap();
        assert_eq!(
            f.unwrap(),
            Framing {
                schema_id: 300,
                message_indexes: vec![0]
            }
        );
        assert_eq!(rest, &[0x0a]);
        // count 1 (zigzag 2), index 0
        let long = [0, 0, 0, 0, 7, 2, 0, 0x0a];
        let (f, rest) = unframe(&long).unwrap();
        assert_eq!(f.unwrap().message_indexes, vec![0]);
        assert_eq!(rest, &[0x0a]);
        // count 2, path [1, 3]
        let nested = [0, 0, 0, 0, 7, 4, 2, 6, 0x0a];
        assert_eq!(unframe(&nested).unwrap().0.unwrap().message_indexes, [1, 3]);
    }

    #[test]
    fn a_cut_header_names_what_is_missing() {
        let e = unframe(&[0, 0, 0]).unwrap_err();
        assert!(e.to_string().contains("schema id"), "{e}");
        let e = unframe(&[0, 0, 0, 0, 1]).unwrap_err();
        assert!(e.to_string().contains("count"), "{e}");
        let e = unframe(&[0, 0, 0, 0, 1, 8, 2]).unwrap_err();
        assert_eq!(e, FramingError::BadCount(4));
        let e = unframe(&[0, 0, 0, 0, 1, 1]).unwrap_err();
        assert_eq!(e, FramingError::BadCount(-1));
    }

    #[test]
    fn frame_and_unframe_agree() {
        let v = frame(42, b"\x0a\x01x");
        let (f, rest) = unframe(&v).unwrap();
        assert_eq!(f.unwrap().schema_id, 42);
        assert_eq!(rest, b"\x0a\x01x");
    }
}
