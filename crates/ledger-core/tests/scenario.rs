//! A scenario of events in, a statement out: the statement's JSON is part of
//! the contract with reporting jobs, so it is pinned as a snapshot
//! (`UPDATE_EXPECT=1 cargo test -p ledger-core` to review a change).

use chrono::{DateTime, NaiveDate, Utc};
use expect_test::expect;
use ledger_core::*;

fn d(s: &str) -> NaiveDate {
    parse_date(s).unwrap()
}

fn iin() -> Iin {
    (0..)
        .find_map(|s| Iin::generate(d("1990-05-17"), Sex::Female, s))
        .unwrap()
}

fn payer() -> PayerId {
    (0..).find_map(|s| Bin::generate(15, 3, s)).unwrap().into()
}

fn line(period: &str, amount: &str, ppc: Ppc, birth: &str, received: &str) -> Event {
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

fn refund(period: &str, amount: &str) -> Event {
    Event::ContributionRefunded(ContributionRefunded {
        application_id: "APP-1".into(),
        reason: "overpaid".into(),
        refunded_ppc: Ppc::CONTRIBUTION,
        period: Period::parse(period).unwrap(),
        amount: Money::parse(amount).unwrap(),
        payer_id: payer(),
        decided_on: d("2025-05-02"),
        payment: None,
    })
}

struct Scenario {
    ctx: Context,
    account: Account,
    offset: u64,
}

impl Scenario {
    /// Applies `event` as recorded at `at`, with `hash` standing for its
    /// content; `prior` is what the event-id index would say.
    fn record(&mut self, id: &str, event: Event, at: &str, hash: u8, prior: Option<u8>) -> Outcome {
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
        };
        apply(
            &self.ctx,
            &mut self.account,
            &rec,
            prior.map(|h| ContentHash([h; 32])),
        )
    }
}

#[test]
fn a_year_in_one_account() {
    let mut s = Scenario {
        ctx: Context::default(),
        account: Account::new(iin()),
        offset: 0,
    };
    let on_time = "2025-04-10T10:00:00Z";
    let outcomes = [
        s.record(
            "c1",
            line(
                "2025-03",
                "4250.00",
                Ppc::CONTRIBUTION,
                "1990-05-17",
                "2025-04-10",
            ),
            on_time,
            1,
            None,
        ),
        // Received Thursday 2025-04-10; recorded after the end of Friday 11th, Kazakhstan time.
        s.record(
            "c2",
            line(
                "2025-04",
                "4250.00",
                Ppc::CONTRIBUTION,
                "1990-05-17",
                "2025-04-10",
            ),
            "2025-04-11T19:00:00Z",
            2,
            None,
        ),
        s.record(
            "p1",
            line(
                "2025-03",
                "120.50",
                Ppc::PENALTY,
                "1990-05-17",
                "2025-04-10",
            ),
            on_time,
            3,
            None,
        ),
        s.record(
            "bad-birth",
            line(
                "2025-03",
                "999.00",
                Ppc::CONTRIBUTION,
                "1990-05-18",
                "2025-04-10",
            ),
            on_time,
            4,
            None,
        ),
        s.record(
            "c1",
            line(
                "2025-03",
                "4250.00",
                Ppc::CONTRIBUTION,
                "1990-05-17",
                "2025-04-10",
            ),
            on_time,
            1,
            Some(1),
        ),
        s.record(
            "c1",
            line(
                "2025-03",
                "1.00",
                Ppc::CONTRIBUTION,
                "1990-05-17",
                "2025-04-10",
            ),
            on_time,
            9,
            Some(1),
        ),
        s.record("r1", refund("2025-03", "4250.00"), on_time, 5, None),
        s.record("r2", refund("2025-04", "9000.00"), on_time, 6, None),
    ];
    let names: Vec<&str> = outcomes.iter().map(Outcome::name).collect();
    assert_eq!(
        names,
        [
            "applied",
            "applied",
            "applied",
            "returned",
            "duplicate",
            "conflict",
            "applied",
            "refused"
        ]
    );
    let json = serde_json::to_string_pretty(&Statement::of(&s.account)).unwrap();
    let json = json
        .replace(s.account.iin.as_str(), "<IIN>")
        .replace(payer().as_str(), "<BIN>");
    expect![[r#"
        {
          "iin": "<IIN>",
          "person": {
            "source": "contribution_line",
            "surname": "Ахметова",
            "name": "Айгерим",
            "patronymic": "",
            "birth_date": "1990-05-17",
            "sex": null,
            "address": "",
            "postcode": "",
            "document": null,
            "citizenship": "",
            "effective_on": null,
            "deceased_on": null
          },
          "contributions_total": "8500.00",
          "penalties_total": "120.50",
          "refunds_total": "4250.00",
          "returned_total": "999.00",
          "participation_months": 1,
          "late_recordings": 1,
          "duplicates_ignored": 1,
          "periods": [
            {
              "period": "2025-03",
              "contributions": "4250.00",
              "penalties": "120.50",
              "refunds": "4250.00"
            },
            {
              "period": "2025-04",
              "contributions": "4250.00",
              "penalties": "0.00",
              "refunds": "0.00"
            }
          ],
          "benefits": [],
          "rejections": [
            {
              "event_id": "bad-birth",
              "reason": "birth date 1990-05-18 differs from 1990-05-17 encoded in the IIN"
            },
            {
              "event_id": "c1",
              "reason": "event id c1 was already recorded with different content"
            },
            {
              "event_id": "r2",
              "reason": "refund of 9000.00 exceeds 4250.00 credited from payer <BIN> under ppc 012 for 2025-04 net of earlier refunds"
            }
          ],
          "history_len": 8
        }"#]]
    .assert_eq(&json);
}
