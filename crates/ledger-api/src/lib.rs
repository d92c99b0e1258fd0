//! The read side of the si-ledger: [`views`] of accounts, history and the
//! digest that the command line and the HTTP API both show.

pub mod views;

pub use views::{digest_json, log_time, Entry, ViewError, Views};
