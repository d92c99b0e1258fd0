//! Helpers shared by the core's scenario and rule tests.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::*;

pub fn d(s: &str) -> NaiveDate {
    parse_date(s).unwrap()
}

pub fn iin() -> Iin {
    (0..)
        .find_map(|s| Iin::generate(d("1990-05-17"), Sex::Female, s))
        .unwrap()
}

pub fn payer() -> PayerId {
    (0..).find_map(|s| Bin::generate(15, 3, s)).unwrap().into()
}

pub fn line(period: &str, amount: &str, ppc: Ppc, birth: &str, received: &str) -> Event {
    Event::ContributionPaid(ContributionPaid {
        payment: PaymentDocument {
            document_number: "PP-1".into(),
            document_date: None,
            received_on: d(received),
            dispatched_on: None,
            ppc,
            payer_id: payer(),
            payer_name: "ТОО Пример".into(),
            recipient_name: "Госкорпорация".into(),
            total_amount: None,
            line_count: 1,
        },
        period: Period::parse(period).unwrap(),
        amount: Money::parse(amount).unwrap(),
        person: PersonName {
            surname: "Ахметова".into(),
            name: "Айгерим".into(),
            patronymic: String::new(),
            birth_date: d(birth),
        },
    })
}

pub fn refund(period: &str, amount: &str) -> Event {
    Event::ContributionRefunded(ContributionRefunded {
        // One application per request (seed `003_…`: an application is
        // decided as a whole; a reused id with other content is refused).
        application_id: format!("APP-{period}-{amount}"),
        reason: "overpaid".into(),
        refunded_ppc: Ppc::CONTRIBUTION,
        period: Period::parse(period).unwrap(),
        amount: Money::parse(amount).unwrap(),
        payer_id: payer(),
        decided_on: d("2025-05-02"),
        payment: None,
        // Recorded directly, not from a payer's application (whose
        // requests are `<application>/<n>`: `rules.rs`' seed 003 tests).
        application_size: 0,
    })
}

pub struct Scenario {
    pub ctx: Context,
    pub account: Account,
    pub offset: u64,
}

impl Scenario {
    /// Applies `event` as recorded at `at`, with `hash` standing for its
    /// content; `prior` is what the event-id index would say.
    pub fn record(
        &mut self,
        id: &str,
        event: Event,
        at: &str,
        hash: u8,
        prior: Option<u8>,
    ) -> Outcome {
        self.offset += 1;
        let rec = Recorded {
            position: Position {
                partition: 0,
                offset: self.offset,
            },
            timestamp: at.parse::<DateTime<Utc>>().unwrap(),
            content_hash: ContentHash([hash; 32]),
            event: Envelope {
                event_id: EventId::parse(id).unwrap(),
                iin: self.account.iin,
                source: "t".into(),
                event,
            },
            authorization: Default::default(),
        };
        apply(
            &self.ctx,
            &mut self.account,
            &rec,
            prior.map(|h| ContentHash([h; 32])),
        )
    }
}

/// A register record for the test participant.
pub fn register(surname: &str, effective: &str, deceased: Option<&str>) -> Event {
    Event::PersonRegistered(PersonData {
        surname: surname.into(),
        name: "Айгерим".into(),
        patronymic: String::new(),
        birth_date: Some(d("1990-05-17")),
        sex: Some(Sex::Female),
        address: String::new(),
        postcode: String::new(),
        document: None,
        citizenship: "KZ".into(),
        effective_on: Some(d(effective)),
        deceased_on: deceased.map(d),
    })
}

/// A contribution line with the given surname.
pub fn line_by(surname: &str, period: &str, received: &str) -> Event {
    let mut e = line(period, "4250.00", Ppc::CONTRIBUTION, "1990-05-17", received);
    if let Event::ContributionPaid(c) = &mut e {
        c.person.surname = surname.into();
    }
    e
}

impl Scenario {
    pub fn new(ctx: Context) -> Scenario {
        Scenario {
            ctx,
            account: Account::new(iin()),
            offset: 0,
        }
    }

    /// Records `event` on time, as a new event id.
    pub fn on_time(&mut self, event: Event) -> Outcome {
        // A merge transfer comes under its record's own id, as the
        // projector writes it.
        let id = match &event {
            Event::MergeTransfer(t) => match &t.original {
                Some(o) => o.event_id.as_str().to_string(),
                None => format!("{}/into", t.merge_event_id.as_str()),
            },
            _ => format!("e{}", self.offset + 1),
        };
        let hash = (self.offset % 250) as u8;
        self.record(&id, event, "2025-04-10T10:00:00Z", hash, None)
    }
}

fn p(s: &str) -> Period {
    Period::parse(s).unwrap()
}

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

/// A benefit of `kind` applied for on `applied`, assigned from `start`
/// (to `end`, if given), 50,000.00 a month.
pub fn benefit(id: &str, kind: &str, applied: &str, start: &str, end: Option<&str>) -> Event {
    Event::BenefitAssigned(BenefitAssigned {
        benefit_id: id.into(),
        benefit_type: BenefitType::parse(kind).unwrap(),
        applied_on: d(applied),
        risk_date: None,
        decided_on: d(applied),
        start_period: p(start),
        end_period: end.map(p),
        monthly_amount: m("50000.00"),
        average_monthly_income: None,
        participation_months: 0,
        work_capacity_loss_percent: 0,
        dependants: 0,
        leave_days: 0,
        child_birth_order: 0,
    })
}

pub fn status(id: &str, status: BenefitStatus, on: &str) -> Event {
    Event::BenefitStatusChanged(BenefitStatusChanged {
        benefit_id: id.into(),
        status,
        effective_on: d(on),
        reason: "test".into(),
    })
}

pub fn paid(id: &str, period: &str, amount: &str, withheld: &str) -> Event {
    Event::BenefitPaid(BenefitPaid {
        benefit_id: id.into(),
        period: p(period),
        amount: m(amount),
        pension_contribution_withheld: m(withheld),
        payment: None,
    })
}

pub fn benefit_returned(id: &str, period: &str, amount: &str) -> Event {
    Event::BenefitReturned(BenefitReturned {
        benefit_id: id.into(),
        period: p(period),
        amount: m(amount),
        payment: None,
    })
}

/// The reason of a refusal, if `o` is one.
pub fn refusal(o: &Outcome) -> Option<&str> {
    match o {
        Outcome::Refused { reason } => Some(reason),
        _ => None,
    }
}
