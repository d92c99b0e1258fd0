//! The pure domain of the si-ledger: identifiers, money, periods, the
//! working-day calendar, events, accounts and `apply`. Nothing here does I/O
//! or reads the clock; time and the calendar are inputs.

pub mod account;
pub mod apply;
pub mod asof;
pub mod authority;
pub mod calendar;
pub mod close;
pub mod ed25519;
pub mod entitlement;
pub mod event;
pub mod id;
pub mod identity;
pub mod money;
pub mod partition;
pub mod payments;
pub mod statement;
pub mod time;

pub use account::{
    Account, BenefitRecord, BenefitState, Day, LatePaid, MergeRecord, PayerKey, PayerLine,
    PeriodMore, PeriodTotals, PersonRecord, RefundApplication, RefundedLine,
};
pub use apply::{apply, names_agree, normalize_name, Context, Outcome, UnknownIin};
pub use asof::as_known;
pub use authority::{Authorization, Policy};
pub use calendar::{Calendar, Deadline};
pub use entitlement::{entitlement, stazh_coefficient, Entitlement, Parameters, Request};
pub use event::*;
pub use id::{check_id, mask_id, Bin, IdCheck, IdError, IdKind, IdScheme, Iin, PayerId, Sex};
pub use identity::{identity_key, person_of, IdentityKey};
pub use money::{Money, MoneyError};
pub use partition::{murmur2, partition_for};
pub use statement::Statement;
pub use time::{parse_date, Period, RecordTimes, TimeError};
