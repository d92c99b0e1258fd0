//! Event logs of the si-ledger. The embedded log (a durable, append-only,
//! CRC-checked file per partition), the offline archive and Kafka (in
//! `ledger-kafka`) implement one [`Source`] trait, so the projector cannot
//! tell them apart.

pub mod archive;
pub mod embedded;
pub mod source;

pub use archive::{export, ArchiveSource, ArchiveWriter};
pub use embedded::{Appender, EmbeddedLog, EmbeddedSource, LogError};
pub use ledger_core::{murmur2, partition_for};
pub use source::{record_hash, Held, Record, Source, SourceError};
