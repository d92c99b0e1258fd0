//! The wire contract of the si-ledger: prost types generated from
//! `proto/si/ledger/v1/*.proto` (with their canonical proto3 JSON mapping via
//! pbjson), and the checked conversions from wire to domain.

pub mod canonical;
pub mod convert;
pub mod framing;
pub mod jsonl;
pub mod monthly;
pub mod notices;
pub mod strict_json;
pub mod texts;

/// Generated messages of package `si.ledger.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/si.ledger.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/si.ledger.v1.serde.rs"));
}

pub use canonical::canonicalize;
pub use convert::{
    decode_canonical, decode_envelope, encode_envelope, envelope_from_wire, sign_envelope, Decoded,
    WireError,
};
pub use jsonl::{parse_line, LineError, ParsedLine};
