//! MT102 payment orders of social contributions, as employers' banks send
//! them to the State Corporation (BIC `GCVPKZ2A`): bytes in, contribution
//! envelopes or refusals out. No I/O: the binary (`si-ledger import
//! mt102`) reads the files and publishes.
//!
//! Three steps, each its own module:
//! 1. [`encoding::decode`]: bytes to text (UTF-8, CP866, windows-1251,
//!    KZ-1048; chosen with its reason, or refused asking for one);
//! 2. [`parse::messages`]: text to messages (blocks, fields, subfields,
//!    sequences A, B and C), one at a time, each with its line numbers;
//! 3. [`order::read`]: a message checked and turned into one envelope per
//!    line of a 012 or 017 order, or skipped, or refused whole; a line that
//!    cannot be keyed is refused alone.
//!
//! The format is not published; what is known of it, from banks' own
//! validators and writers, is in `shared/reference/mt102.md`. The mapping
//! to envelopes, with its sources, is in `docs/rules.md` ("MT102 payment
//! orders").

pub mod encoding;
pub mod order;
pub mod parse;

pub use encoding::{decode, Decoded, Encoding};
pub use order::{read, Options, Order, Outcome, Refusal};
pub use parse::{messages, Item, Message};
