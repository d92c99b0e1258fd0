//! Domain events: validated, typed twins of the wire messages in `proto/`.
//! Every value here is valid by construction (see `ledger-proto` for the
//! checks that build them); past-tense names, one per fact.

use crate::{Iin, Money, PayerId, Period, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A producer-assigned, globally unique event id: 1-128 printable ASCII
/// characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(String);

impl EventId {
    pub fn parse(s: &str) -> Result<EventId, String> {
        if s.is_empty() || s.len() > 128 {
            return Err(format!("must be 1-128 characters, got {}", s.len()));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(EventId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0)
    }
}

/// A three-digit payment purpose code (KNP), DOMAIN.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ppc([u8; 3]);

impl Ppc {
    /// Social contributions.
    pub const CONTRIBUTION: Ppc = Ppc(*b"012");
    /// Penalty for late or incomplete payment of contributions.
    pub const PENALTY: Ppc = Ppc(*b"017");

    pub fn parse(s: &str) -> Result<Ppc, String> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
            Ok(Ppc([b[0], b[1], b[2]]))
        } else {
            Err(format!("payment purpose code must be 3 digits, got {s:?}"))
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii digits")
    }
}

impl fmt::Display for Ppc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Benefit types, by the Fund's codes (DOMAIN.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BenefitType {
    /// 0701 loss of breadwinner
    LossOfBreadwinner,
    /// 0702 loss of working capacity
    LossOfWorkingCapacity,
    /// 0703 loss of job
    LossOfJob,
    /// 0704 pregnancy and childbirth, adoption of a newborn
    Maternity,
    /// 0705 child care until 1.5 years
    ChildCare,
}

impl BenefitType {
    pub fn parse(s: &str) -> Result<BenefitType, String> {
        Ok(match s {
            "0701" => BenefitType::LossOfBreadwinner,
            "0702" => BenefitType::LossOfWorkingCapacity,
            "0703" => BenefitType::LossOfJob,
            "0704" => BenefitType::Maternity,
            "0705" => BenefitType::ChildCare,
            _ => return Err(format!("benefit type must be 0701-0705, got {s:?}")),
        })
    }
    pub fn code(&self) -> &'static str {
        match self {
            BenefitType::LossOfBreadwinner => "0701",
            BenefitType::LossOfWorkingCapacity => "0702",
            BenefitType::LossOfJob => "0703",
            BenefitType::Maternity => "0704",
            BenefitType::ChildCare => "0705",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BenefitStatus {
    Suspended,
    Resumed,
    Terminated,
}

impl BenefitStatus {
    pub fn name(&self) -> &'static str {
        match self {
            BenefitStatus::Suspended => "SUSPENDED",
            BenefitStatus::Resumed => "RESUMED",
            BenefitStatus::Terminated => "TERMINATED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDocument {
    pub document_number: String,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub document_date: Option<NaiveDate>,
    #[serde(with = "crate::time::date_serde")]
    pub received_on: NaiveDate,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub dispatched_on: Option<NaiveDate>,
    pub ppc: Ppc,
    pub payer_id: PayerId,
    pub payer_name: String,
    pub recipient_name: String,
    pub total_amount: Option<Money>,
    pub line_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    pub surname: String,
    pub name: String,
    pub patronymic: String,
    #[serde(with = "crate::time::date_serde")]
    pub birth_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDocument {
    pub series: String,
    pub number: String,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub issued_on: Option<NaiveDate>,
    pub issuer: String,
}

/// Register data of a person (Rules §12): the same shape for registration
/// and for a correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonData {
    pub surname: String,
    pub name: String,
    pub patronymic: String,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub address: String,
    pub postcode: String,
    pub document: Option<IdentityDocument>,
    pub citizenship: String,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub effective_on: Option<NaiveDate>,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub deceased_on: Option<NaiveDate>,
}

/// What a contribution line says of a person, as person data: names and
/// birth date, nothing the register alone knows.
impl From<&PersonName> for PersonData {
    fn from(n: &PersonName) -> Self {
        PersonData {
            surname: n.surname.clone(),
            name: n.name.clone(),
            patronymic: n.patronymic.clone(),
            birth_date: Some(n.birth_date),
            sex: None,
            address: String::new(),
            postcode: String::new(),
            document: None,
            citizenship: String::new(),
            effective_on: None,
            deceased_on: None,
        }
    }
}

/// One contribution (ppc 012) or penalty (ppc 017) line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionPaid {
    pub payment: PaymentDocument,
    pub period: Period,
    pub amount: Money,
    pub person: PersonName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionRefunded {
    pub application_id: String,
    pub reason: String,
    /// 012 or 017: what is refunded.
    pub refunded_ppc: Ppc,
    pub period: Period,
    pub amount: Money,
    pub payer_id: PayerId,
    #[serde(with = "crate::time::date_serde")]
    pub decided_on: NaiveDate,
    pub payment: Option<PaymentDocument>,
    /// Employees the application names, when it came from one (seed
    /// `003_…`: at most 10); 0 otherwise.
    pub application_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitAssigned {
    pub benefit_id: String,
    pub benefit_type: BenefitType,
    #[serde(with = "crate::time::date_serde")]
    pub applied_on: NaiveDate,
    #[serde(default, with = "crate::time::opt_date_serde")]
    pub risk_date: Option<NaiveDate>,
    #[serde(with = "crate::time::date_serde")]
    pub decided_on: NaiveDate,
    pub start_period: Period,
    pub end_period: Option<Period>,
    pub monthly_amount: Money,
    pub average_monthly_income: Option<Money>,
    pub participation_months: u32,
    pub work_capacity_loss_percent: u32,
    pub dependants: u32,
    pub leave_days: u32,
    pub child_birth_order: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitStatusChanged {
    pub benefit_id: String,
    pub status: BenefitStatus,
    #[serde(with = "crate::time::date_serde")]
    pub effective_on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitPaid {
    pub benefit_id: String,
    pub period: Period,
    pub amount: Money,
    pub pension_contribution_withheld: Money,
    pub payment: Option<PaymentDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenefitReturned {
    pub benefit_id: String,
    pub period: Period,
    pub amount: Money,
    pub payment: Option<PaymentDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    ContributionPaid(ContributionPaid),
    ContributionRefunded(ContributionRefunded),
    BenefitAssigned(BenefitAssigned),
    BenefitStatusChanged(BenefitStatusChanged),
    BenefitPaid(BenefitPaid),
    BenefitReturned(BenefitReturned),
    PersonRegistered(PersonData),
    PersonDataChanged(PersonData),
    /// The closing record of an identifier merged into another (seeds
    /// `001_…`, `002_…`), keyed by the identifier that closes.
    Merged(IdentifierMerged),
    /// One record handed from a merged identifier to the one it was merged
    /// into; written by the projector, never by producers.
    MergeTransfer(Box<MergeTransfer>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifierMerged {
    pub into: Iin,
    pub reason: String,
    #[serde(with = "crate::time::date_serde")]
    pub decided_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeTransfer {
    pub from: Iin,
    pub merge_event_id: EventId,
    pub reason: String,
    #[serde(with = "crate::time::date_serde")]
    pub decided_on: NaiveDate,
    /// The old identifier's record; `None` on the record that opens the
    /// merge on the new account.
    pub original: Option<Envelope>,
    pub from_position: Position,
    /// When the log recorded the original (its lateness is judged by it).
    pub recorded_at: DateTime<Utc>,
    /// The record reached the old identifier after its close.
    pub redirected: bool,
}

impl Event {
    /// The wire name of the payload (`oneof payload` in `events.proto`).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ContributionPaid(_) => "contribution",
            Event::ContributionRefunded(_) => "refund",
            Event::BenefitAssigned(_) => "benefit_assigned",
            Event::BenefitStatusChanged(_) => "benefit_status",
            Event::BenefitPaid(_) => "benefit_paid",
            Event::BenefitReturned(_) => "benefit_returned",
            Event::PersonRegistered(_) => "person",
            Event::PersonDataChanged(_) => "person_changed",
            Event::Merged(_) => "merged",
            Event::MergeTransfer(_) => "merge_transfer",
        }
    }

    /// The event's own dates, named as on the wire, as `YYYY-MM-DD` or
    /// `YYYY-MM`: what an auditor reads beside the log's record time.
    /// The period whose monthly projection this event can change (a line,
    /// a refund or a benefit payment for it), if any.
    pub fn projection_period(&self) -> Option<Period> {
        match self {
            Event::ContributionPaid(c) => Some(c.period),
            Event::ContributionRefunded(r) => Some(r.period),
            Event::BenefitPaid(b) => Some(b.period),
            Event::MergeTransfer(t) => t.original.as_ref()?.event.projection_period(),
            _ => None,
        }
    }

    pub fn dates(&self) -> Vec<(&'static str, String)> {
        let d = |name, v: &NaiveDate| (name, v.to_string());
        let p = |name, v: &Period| (name, v.to_string());
        let mut out = Vec::new();
        match self {
            Event::ContributionPaid(c) => {
                out.push(p("period", &c.period));
                out.push(d("received_on", &c.payment.received_on));
                out.extend(
                    c.payment
                        .document_date
                        .as_ref()
                        .map(|v| d("document_date", v)),
                );
            }
            Event::ContributionRefunded(r) => {
                out.push(p("period", &r.period));
                out.push(d("decided_on", &r.decided_on));
            }
            Event::BenefitAssigned(b) => {
                out.push(d("applied_on", &b.applied_on));
                out.push(d("decided_on", &b.decided_on));
                out.push(p("start_period", &b.start_period));
                out.extend(b.end_period.as_ref().map(|v| p("end_period", v)));
            }
            Event::BenefitStatusChanged(s) => out.push(d("effective_on", &s.effective_on)),
            Event::BenefitPaid(b) => out.push(p("period", &b.period)),
            Event::BenefitReturned(b) => out.push(p("period", &b.period)),
            Event::PersonRegistered(x) | Event::PersonDataChanged(x) => {
                out.extend(x.effective_on.as_ref().map(|v| d("effective_on", v)));
                out.extend(x.deceased_on.as_ref().map(|v| d("deceased_on", v)));
            }
            Event::Merged(m) => out.push(d("decided_on", &m.decided_on)),
            Event::MergeTransfer(t) => {
                out.push(d("decided_on", &t.decided_on));
                out.extend(t.original.iter().flat_map(|o| o.event.dates()));
            }
        }
        out
    }
}

/// One event as a producer published it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: EventId,
    pub iin: Iin,
    pub source: String,
    pub event: Event,
}

/// SHA-256 of an event's canonical encoding: tells a redelivery (same id,
/// same hash) from a conflict (same id, other content).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Where a record sits in its log: the provenance every history entry keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub partition: u32,
    pub offset: u64,
}

/// An event as the log recorded it. `timestamp` is the log's own record time
/// ("when it was recorded"); the event's dates say when things happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<E> {
    pub position: Position,
    pub timestamp: DateTime<Utc>,
    pub content_hash: ContentHash,
    pub event: E,
    /// The verdict on the record's signature ([`crate::authority`]),
    /// judged from its bytes, the trust file and `timestamp`.
    pub authorization: crate::Authorization,
}
