//! Benefit formulas (DOMAIN.md §5) on hand-computed cases. The cases are
//! the table in `docs/rules.md`: this test renders them and checks the
//! document carries exactly that table, so the two cannot drift apart.

mod common;
use common::*;
use ledger_core::*;

/// Monthly contributions from one payer: (first period, last period,
/// payer number, amount each month).
type Paid = (&'static str, &'static str, u16, &'static str);

struct Case {
    name: &'static str,
    kind: &'static str,
    paid: &'static [Paid],
    as_of: &'static str,
    /// Dependants, capacity loss percent, leave days.
    inputs: (u32, u32, u32),
    /// Hand-computed: participation months, stazh coefficient, average
    /// income, amount, and how that amount was worked out.
    participation: u32,
    coefficient: &'static str,
    average: &'static str,
    amount: &'static str,
    worked: &'static str,
}

/// Income 200,000 a month for 24 months: 7,000.00 at 3.5 % in 2024,
/// 10,000.00 at 5 % from 2025.
const TWO_YEARS: &[Paid] = &[
    ("2024-03", "2024-12", 1, "7000.00"),
    ("2025-01", "2026-02", 1, "10000.00"),
];

const CASES: &[Case] = &[
    Case {
        name: "loss of working capacity, 50 %",
        kind: "0702",
        paid: TWO_YEARS,
        as_of: "2026-03-10",
        inputs: (0, 50, 0),
        participation: 24,
        coefficient: "0.85",
        average: "200000.00",
        amount: "40163.00",
        worked: "(200,000 − 42,500) × 0.6 × 0.85 × 0.5 = 40,162.50 → 40,163",
    },
    Case {
        name: "loss of breadwinner, 2 dependants",
        kind: "0701",
        paid: TWO_YEARS,
        as_of: "2026-03-10",
        inputs: (2, 0, 0),
        participation: 24,
        coefficient: "0.85",
        average: "200000.00",
        amount: "52211.00",
        worked: "(200,000 − 42,500) × 0.6 × 0.85 × 0.65 = 52,211.25 → 52,211",
    },
    Case {
        name: "loss of job, 24 months",
        kind: "0703",
        paid: TWO_YEARS,
        as_of: "2026-03-10",
        inputs: (0, 0, 0),
        participation: 24,
        coefficient: "0.85",
        average: "200000.00",
        amount: "76500.00",
        worked: "200,000 × 0.45 × 0.85 = 76,500, for 3 months",
    },
    Case {
        name: "loss of job, 5 months: not entitled",
        kind: "0703",
        paid: &[("2025-10", "2026-02", 1, "10000.00")],
        as_of: "2026-03-10",
        inputs: (0, 0, 0),
        participation: 5,
        coefficient: "-",
        average: "41666.67",
        amount: "0.00",
        worked: "fewer than 6 months: nothing",
    },
    Case {
        name: "maternity, 126 days",
        kind: "0704",
        paid: TWO_YEARS,
        as_of: "2026-03-10",
        inputs: (0, 0, 126),
        participation: 24,
        coefficient: "0.85",
        average: "200000.00",
        amount: "840000.00",
        worked: "12-month average 200,000 × 126 / 30 = 840,000 (cap 2,499,000)",
    },
    Case {
        name: "maternity, two payers, capped",
        kind: "0704",
        paid: &[
            ("2025-03", "2026-02", 1, "20000.00"),
            ("2025-03", "2026-02", 2, "20000.00"),
        ],
        as_of: "2026-03-10",
        inputs: (0, 0, 126),
        participation: 12,
        coefficient: "0.75",
        average: "800000.00",
        amount: "2499000.00",
        worked: "800,000 × 126 / 30 = 3,360,000 > 7 × 85,000 × 126 / 30 = 2,499,000",
    },
    Case {
        name: "child care, a year of income",
        kind: "0705",
        paid: &[("2025-03", "2026-02", 1, "5000.00")],
        as_of: "2026-03-10",
        inputs: (0, 0, 0),
        participation: 12,
        coefficient: "0.75",
        average: "50000.00",
        amount: "20000.00",
        worked: "12 × 100,000 / 24 = 50,000 × 0.40 = 20,000",
    },
    Case {
        name: "child care, one payer above 7 MZP",
        kind: "0705",
        paid: &[
            ("2024-03", "2024-12", 1, "24500.00"),
            ("2025-01", "2026-02", 1, "35000.00"),
        ],
        as_of: "2026-03-10",
        inputs: (0, 0, 0),
        participation: 24,
        coefficient: "0.85",
        average: "595000.00",
        amount: "238000.00",
        worked: "700,000 a month capped at 7 × 85,000 = 595,000; × 0.40 = 238,000",
    },
];

fn account_paying(paid: &[Paid]) -> Scenario {
    let mut s = Scenario::new(Context::default());
    for (from, to, payer_no, amount) in paid {
        let payer: PayerId = (u32::from(*payer_no) * 1000..)
            .find_map(|n| Bin::generate(15, 3, n))
            .unwrap()
            .into();
        let mut p = Period::parse(from).unwrap();
        let last = Period::parse(to).unwrap();
        while p <= last {
            let received = (p.next().first_day() + chrono::Duration::days(9)).to_string();
            let mut e = line(
                &p.to_string(),
                amount,
                Ppc::CONTRIBUTION,
                "1990-05-17",
                &received,
            );
            if let Event::ContributionPaid(c) = &mut e {
                c.payment.payer_id = payer;
            }
            let o = s.on_time(e);
            assert!(matches!(o, Outcome::Applied { .. }), "{o:?}");
            p = p.next();
        }
    }
    s
}

fn request(kind: &str, as_of: &str, (dependants, loss, days): (u32, u32, u32)) -> Request {
    Request {
        benefit_type: BenefitType::parse(kind).unwrap(),
        as_of: d(as_of),
        risk_date: None,
        dependants,
        capacity_loss_percent: loss,
        leave_days: days,
    }
}

/// The cases as the markdown table of `docs/rules.md`.
fn table() -> String {
    let mut t = String::from(
        "| case | type | contributions (payer: months, each) | as of | inputs | participation | stazh | average income | amount | worked out |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for c in CASES {
        let paid: Vec<String> = c
            .paid
            .iter()
            .map(|(from, to, p, a)| format!("{p}: {from}..{to}, {a}"))
            .collect();
        let (dep, loss, days) = c.inputs;
        let inputs = match c.kind {
            "0701" => format!("{dep} dependants"),
            "0702" => format!("{loss} %"),
            "0704" => format!("{days} days"),
            _ => "—".into(),
        };
        t += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.name,
            c.kind,
            paid.join("; "),
            c.as_of,
            inputs,
            c.participation,
            c.coefficient,
            c.average,
            c.amount,
            c.worked
        );
    }
    t
}

#[test]
fn dom_5_every_formula_gives_the_hand_computed_amount() {
    for c in CASES {
        let s = account_paying(c.paid);
        let e = entitlement(
            &s.account,
            &Parameters::built_in(),
            &request(c.kind, c.as_of, c.inputs),
        )
        .unwrap();
        let got = (
            e.participation_months,
            e.stazh_coefficient.as_str(),
            e.average_monthly_income.to_string(),
            e.amount.to_string(),
        );
        let want = (
            c.participation,
            c.coefficient,
            c.average.to_string(),
            c.amount.to_string(),
        );
        assert_eq!(got, want, "{}: {}", c.name, e.formula);
        assert_eq!(e.entitled, c.amount != "0.00", "{}", c.name);
    }
}

#[test]
fn the_cases_table_in_docs_rules_md_is_this_one() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md"))
        .unwrap();
    let t = table();
    assert!(
        doc.contains(&t),
        "docs/rules.md lacks the cases table:\n{t}"
    );
}

#[test]
fn dom_5_the_stazh_coefficient_by_band() {
    let k = |t: &str, m: u32| {
        stazh_coefficient(BenefitType::parse(t).unwrap(), m).map(|c| c.normalize().to_string())
    };
    for (months, want) in [
        (6, "0.7"),
        (11, "0.7"),
        (12, "0.75"),
        (23, "0.75"),
        (24, "0.85"),
        (36, "0.9"),
        (48, "0.95"),
        (59, "0.95"),
        (60, "1"),
        (71, "1"),
        (72, "1.02"),
        (84, "1.04"),
        (240, "1.3"),
        (400, "1.3"),
    ] {
        assert_eq!(k("0702", months).as_deref(), Some(want), "{months} months");
    }
    assert_eq!(k("0701", 5).as_deref(), Some("0.1"));
    assert_eq!(k("0703", 5), None, "0703 needs 6 months");
}

#[test]
fn dom_5_contributions_received_after_the_date_are_ignored_except_the_month_before() {
    let mut s = account_paying(&[("2025-03", "2026-01", 1, "5000.00")]);
    // Paid late for June 2025 and on time for February 2026, both received
    // after the application of 10 March 2026.
    s.on_time(line(
        "2025-06",
        "5000.00",
        Ppc::CONTRIBUTION,
        "1990-05-17",
        "2026-03-20",
    ));
    s.on_time(line(
        "2026-02",
        "5000.00",
        Ppc::CONTRIBUTION,
        "1990-05-17",
        "2026-03-20",
    ));
    let e = entitlement(
        &s.account,
        &Parameters::built_in(),
        &request("0705", "2026-03-10", (0, 0, 0)),
    )
    .unwrap();
    // 11 months of 100,000 plus February's 100,000; June's second line left out.
    assert_eq!(e.average_monthly_income, Money::parse("50000.00").unwrap());
    assert_eq!(e.participation_months, 12);
    // As of a later date June's late line counts.
    let later = entitlement(
        &s.account,
        &Parameters::built_in(),
        &request("0705", "2026-03-31", (0, 0, 0)),
    )
    .unwrap();
    assert_eq!(
        later.average_monthly_income,
        Money::parse("54166.67").unwrap()
    );
}

#[test]
fn dom_5_an_assignment_differing_from_the_ledger_is_flagged_not_overruled() {
    let mut s = account_paying(TWO_YEARS);
    let assign = |id: &str, amount: &str, months: u32| {
        let mut e = benefit(id, "0703", "2026-03-10", "2026-03", Some("2026-05"));
        if let Event::BenefitAssigned(b) = &mut e {
            b.monthly_amount = Money::parse(amount).unwrap();
            b.participation_months = months;
            b.average_monthly_income = Some(Money::parse("200000.00").unwrap());
        }
        e
    };
    assert_eq!(
        s.on_time(assign("B-OK", "76500.00", 24)),
        Outcome::Applied { late: false }
    );

    assert!(s.account.benefits["B-OK"].discrepancies.is_empty());
    assert_eq!(
        s.on_time(assign("B-OFF", "80000.00", 30)),
        Outcome::Applied { late: false },
        "the Fund's decision stands"
    );
    let flags = &s.account.benefits["B-OFF"].discrepancies;
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(flags[0].contains("participation_months 30 differs from the ledger's 24"));
    assert!(flags[1].contains("amount 80000.00 differs from the ledger's 76500.00"));
    assert_eq!(
        s.account.benefits["B-OFF"].monthly_amount,
        Money::parse("80000.00").unwrap()
    );
}

#[test]
fn dom_5_the_window_ends_the_month_before_the_right_arose() {
    let s = account_paying(TWO_YEARS);
    let mut req = request("0705", "2026-03-10", (0, 0, 0));
    req.risk_date = Some(d("2026-01-15"));
    let e = entitlement(&s.account, &Parameters::built_in(), &req).unwrap();
    // 2024-01..2025-12: the 22 months from 2024-03 had income.
    assert_eq!(e.participation_months, 22);
    assert_eq!(e.months_used, 22);
    assert_eq!(e.average_monthly_income, Money::parse("183333.33").unwrap());
    assert_eq!(e.amount, Money::parse("73333.00").unwrap());
}

fn payer_no(n: u16) -> PayerId {
    (u32::from(n) * 1000..)
        .find_map(|s| Bin::generate(15, 3, s))
        .unwrap()
        .into()
}

/// A contribution line for `period` from `payer`, received on `received`.
fn line_by(payer: PayerId, period: &str, amount: &str, received: &str) -> Event {
    let mut e = line(period, amount, Ppc::CONTRIBUTION, "1990-05-17", received);
    if let Event::ContributionPaid(c) = &mut e {
        c.payment.payer_id = payer;
    }
    e
}

fn refund_by(payer: PayerId, period: &str, amount: &str, decided: &str) -> Event {
    let mut e = refund(period, amount);
    if let Event::ContributionRefunded(r) = &mut e {
        r.payer_id = payer;
        r.decided_on = d(decided);
        r.application_id = format!("APP-{period}-{amount}-{decided}");
    }
    e
}

#[test]
fn dom_5_a_late_line_refunded_after_the_date_is_counted_once() {
    // Wave 3, case 2: June 2025 paid a second time, late, after the
    // application, then that overpayment refunded. The refund took the
    // second payment out; June still counts its first 10,000.00.
    let mut s = account_paying(TWO_YEARS);
    let late = line_by(payer_no(1), "2025-06", "10000.00", "2026-04-01");
    assert!(matches!(s.on_time(late), Outcome::Applied { .. }));
    let o = s.on_time(refund_by(payer_no(1), "2025-06", "10000.00", "2026-04-05"));
    assert!(matches!(o, Outcome::Applied { .. }), "{o:?}");
    let e = entitlement(
        &s.account,
        &Parameters::built_in(),
        &request("0703", "2026-03-10", (0, 0, 0)),
    )
    .unwrap();
    assert_eq!(e.participation_months, 24);
    assert_eq!(e.stazh_coefficient, "0.85");
    assert_eq!(e.average_monthly_income, Money::parse("200000.00").unwrap());
    assert_eq!(e.amount, Money::parse("76500.00").unwrap());
    assert_eq!(e.duration_months, Some(3));
    // The Fund's correct assignment is not flagged.
    let mut assign = benefit("B-1", "0703", "2026-03-10", "2026-03", Some("2026-05"));
    if let Event::BenefitAssigned(b) = &mut assign {
        b.monthly_amount = Money::parse("76500.00").unwrap();
        b.participation_months = 24;
        b.average_monthly_income = Some(Money::parse("200000.00").unwrap());
    }
    s.on_time(assign);
    assert_eq!(
        s.account.benefits["B-1"].discrepancies,
        Vec::<String>::new()
    );
}

#[test]
fn dom_5_a_refund_after_the_date_is_put_back_in_the_month_before_the_right_too() {
    // February 2026, the month before a right of March: paid twice (the
    // second line received before the application), both refunded after
    // it. As known on the date, February had its 20,000.00: the answer
    // equals that of the same pattern in any other month.
    let mut s = account_paying(TWO_YEARS);
    s.on_time(line_by(payer_no(1), "2026-02", "10000.00", "2026-03-05"));
    let o = s.on_time(refund_by(payer_no(1), "2026-02", "20000.00", "2026-04-05"));
    assert!(matches!(o, Outcome::Applied { .. }), "{o:?}");
    let e = entitlement(
        &s.account,
        &Parameters::built_in(),
        &request("0703", "2026-03-10", (0, 0, 0)),
    )
    .unwrap();
    assert_eq!(e.participation_months, 24);
    // February counts its 20,000.00 at 5 %: 400,000.00 of income.
    let feb = e
        .months
        .iter()
        .find(|m| m.period.to_string() == "2026-02")
        .unwrap();
    assert_eq!(feb.income, Money::parse("400000.00").unwrap());
}

#[test]
fn dom_5_a_risk_date_after_the_application_date_is_refused() {
    // Wave 3, case 4: lines received after the application must not count
    // because the right is said to arise later.
    let s = account_paying(&[("2025-03", "2025-05", 1, "10000.00")]);
    let mut req = request("0704", "2025-04-01", (0, 0, 126));
    req.risk_date = Some(d("2025-07-10"));
    let err = entitlement(&s.account, &Parameters::built_in(), &req).unwrap_err();
    assert!(
        err.contains("risk date 2025-07-10 is after the application date 2025-04-01"),
        "{err}"
    );
    // On the day itself it is allowed, and nothing received after counts.
    req.risk_date = Some(d("2025-04-01"));
    let e = entitlement(&s.account, &Parameters::built_in(), &req).unwrap();
    assert_eq!(
        e.participation_months, 1,
        "2025-03, the month before, counts whenever received"
    );
    // The same check on the Fund's assignment: flagged, not computed.
    let mut s = s;
    let mut assign = benefit("B-R", "0704", "2025-04-01", "2025-07", Some("2025-07"));
    if let Event::BenefitAssigned(b) = &mut assign {
        b.risk_date = Some(d("2025-07-10"));
        b.leave_days = 126;
    }
    s.on_time(assign);
    let flags = &s.account.benefits["B-R"].discrepancies;
    assert!(
        flags.len() == 1 && flags[0].contains("risk date 2025-07-10 is after the application date"),
        "{flags:?}"
    );
}

mod as_known_by_the_date {
    //! The entitlement as of a date equals the one computed from only the
    //! records received (contributions) or decided (refunds) by that date,
    //! the month before the right excepted (DOMAIN §5).
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use rust_decimal::prelude::ToPrimitive;

    #[derive(Debug, Clone)]
    enum Act {
        /// Day index, months before the day's month (1-15), payer, hundreds of tenge.
        Pay(u32, u32, u16, u32),
        /// Day index, months before, payer, share of what is refundable in percent.
        Refund(u32, u32, u16, u32),
    }

    fn day(i: u32) -> NaiveDate {
        d("2024-02-01") + chrono::Duration::days(i64::from(i))
    }

    fn back(p: Period, n: u32) -> Period {
        (0..n).fold(p, |p, _| p.previous())
    }

    fn record(s: &mut Scenario, e: Event, on: NaiveDate) -> Outcome {
        let id = format!("e{}", s.offset + 1);
        s.record(&id, e, &format!("{on}T10:00:00Z"), 1, None)
    }

    /// Plays `acts` in date order; `keep` says which to keep (given the
    /// date, the period and whether it is a refund).
    fn play(acts: &[Act], keep: impl Fn(NaiveDate, Period, bool) -> bool) -> Scenario {
        let mut s = Scenario::new(Context::default());
        let mut acts = acts.to_vec();
        acts.sort_by_key(|a| match a {
            Act::Pay(t, ..) | Act::Refund(t, ..) => *t,
        });
        for a in &acts {
            match *a {
                Act::Pay(t, back_n, payer, hundreds) => {
                    let on = day(t);
                    let period = back(Period::of(on), back_n);
                    if !keep(on, period, false) {
                        continue;
                    }
                    let amount = Money::from_tiyn(i64::from(hundreds) * 10_000);
                    let mut e = line(
                        &period.to_string(),
                        &amount.to_string(),
                        Ppc::CONTRIBUTION,
                        "1990-05-17",
                        &on.to_string(),
                    );
                    if let Event::ContributionPaid(c) = &mut e {
                        c.payment.payer_id = payer_no(payer);
                    }
                    let o = record(&mut s, e, on);
                    assert!(matches!(o, Outcome::Applied { .. }), "{o:?}");
                }
                Act::Refund(t, back_n, payer, percent) => {
                    let on = day(t);
                    let period = back(Period::of(on), back_n);
                    if !keep(on, period, true) {
                        continue;
                    }
                    let key = PayerKey {
                        period,
                        ppc: Ppc::CONTRIBUTION,
                        payer: payer_no(payer),
                    };
                    let Some(line) = s.account.payers.get(&key) else {
                        continue;
                    };
                    let free = ((line.credited.decimal() - line.refunded.decimal())
                        * rust_decimal::Decimal::ONE_HUNDRED)
                        .to_i64()
                        .unwrap();
                    let amount = free * i64::from(percent) / 100;
                    if amount <= 0 {
                        continue;
                    }
                    let mut e = refund_by(
                        payer_no(payer),
                        &period.to_string(),
                        &Money::from_tiyn(amount).to_string(),
                        &on.to_string(),
                    );
                    if let Event::ContributionRefunded(r) = &mut e {
                        r.application_id = format!("APP-{}", s.offset);
                    }
                    let o = record(&mut s, e, on);
                    assert!(matches!(o, Outcome::Applied { .. }), "{o:?}");
                }
            }
        }
        s
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            4 => (0u32..900, 1u32..16, 1u16..3, 1u32..300).prop_map(|(t, b, p, a)| Act::Pay(t, b, p, a)),
            1 => (0u32..900, 1u32..16, 1u16..3, 1u32..101).prop_map(|(t, b, p, a)| Act::Refund(t, b, p, a)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn equals_what_was_known_by_the_date(
            acts in proptest::collection::vec(act(), 1..60),
            as_of in 60u32..900,
            risk_back in proptest::option::of(0u32..120),
            kind in 0usize..5,
        ) {
            let as_of = day(as_of);
            let risk_date = risk_back.map(|b| as_of - chrono::Duration::days(i64::from(b)));
            let right = Period::of(risk_date.unwrap_or(as_of));
            let (code, inputs) = [
                ("0701", (2, 0, 0)),
                ("0702", (0, 50, 0)),
                ("0703", (0, 0, 0)),
                ("0704", (0, 0, 126)),
                ("0705", (0, 0, 0)),
            ][kind];
            let mut req = request(code, &as_of.to_string(), inputs);
            req.risk_date = risk_date;
            let all = play(&acts, |_, _, _| true);
            // Lines of the month before the right whenever received; no
            // refund decided after the date.
            let known = play(&acts, |on, period, refund| {
                on <= as_of || (!refund && period == right.previous())
            });
            let params = Parameters::built_in();
            prop_assert_eq!(
                entitlement(&all.account, &params, &req),
                entitlement(&known.account, &params, &req)
            );
        }
    }
}
