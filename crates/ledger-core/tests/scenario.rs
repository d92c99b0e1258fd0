//! A scenario of events in, a statement out: the statement's JSON is part of
//! the contract with reporting jobs, so it is pinned as a snapshot
//! (`UPDATE_EXPECT=1 cargo test -p ledger-core` to review a change).

use expect_test::expect;
use ledger_core::*;

mod common;
use common::*;

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
          "unregistered_lines": 3,
          "periods": [
            {
              "period": "2025-03",
              "contributions": "4250.00",
              "penalties": "120.50",
              "refunds": "4250.00",
              "returned": "999.00"
            },
            {
              "period": "2025-04",
              "contributions": "4250.00",
              "penalties": "0.00",
              "refunds": "0.00",
              "returned": "0.00"
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
