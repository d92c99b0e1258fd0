//! The read side of the si-ledger: [`views`] of accounts, history and the
//! digest that the command line and the HTTP API both show, and the
//! authenticated HTTP API itself ([`server`], with [`auth`] and the
//! [`access`] log), the [`reports`] it shares with `report monthly`, and the
//! auditors' [`console`] it serves.

pub mod access;
pub mod auth;
pub mod console;
pub mod instances;
pub mod proofs;
pub mod reports;
pub mod server;
pub mod views;

pub use instances::Instances;
pub use server::{Config, Held, Limits, Server, Unreconciled};
pub use views::{digest_json, log_time, Entry, ViewError, Views};
