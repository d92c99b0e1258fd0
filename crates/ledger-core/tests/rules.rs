//! One test per rule of `docs/rules.md`, named after it: each fails if its
//! rule is removed.

mod common;
use common::*;
use ledger_core::*;

fn returned(o: &Outcome) -> Option<&str> {
    match o {
        Outcome::Returned { reason, .. } => Some(reason),
        _ => None,
    }
}

#[test]
fn rule_6_a_line_whose_birth_date_differs_from_the_iin_is_returned() {
    let mut s = Scenario::new(Context::default());
    let o = s.on_time(line(
        "2025-03",
        "4250.00",
        Ppc::CONTRIBUTION,
        "1990-05-18",
        "2025-04-10",
    ));
    assert!(
        returned(&o).unwrap().contains("encoded in the IIN"),
        "{o:?}"
    );
    assert_eq!(s.account.contributions_total, Money::ZERO);
    assert_eq!(s.account.returned_total, Money::parse("4250.00").unwrap());
}

#[test]
fn rule_6_a_surname_differing_from_the_register_is_returned() {
    let mut s = Scenario::new(Context::default());
    s.on_time(register("Ахметова", "1990-05-17", None));
    // Case, spacing and Ё/Е are not differences.
    let same = s.on_time(line_by("  ахмётова ", "2025-03", "2025-04-10"));
    assert_eq!(same, Outcome::Applied { late: false });
    let other = s.on_time(line_by("Иванова", "2025-03", "2025-04-10"));
    let why = returned(&other).unwrap();
    assert!(
        why.contains("\"Иванова\" differs from the register's \"Ахметова\""),
        "{why}"
    );
    assert_eq!(
        s.account.contributions_total,
        Money::parse("4250.00").unwrap()
    );
    assert_eq!(
        s.account.periods[&Period::parse("2025-03").unwrap()].returned(),
        Money::parse("4250.00").unwrap()
    );
}

#[test]
fn rule_6_the_register_data_in_force_on_the_receipt_date_decides() {
    let mut s = Scenario::new(Context::default());
    s.on_time(register("Ахметова", "1990-05-17", None));
    // A marriage: the new surname from 1 June 2025 (Rules §9: kept, not overwritten).
    s.on_time(register("Серикова", "2025-06-01", None));
    assert_eq!(s.account.register.len(), 2);
    let before = s.on_time(line_by("Ахметова", "2025-04", "2025-05-10"));
    assert_eq!(
        before,
        Outcome::Applied { late: false },
        "the old name was in force"
    );
    let after_old = s.on_time(line_by("Ахметова", "2025-05", "2025-06-10"));
    assert!(returned(&after_old)
        .unwrap()
        .contains("in force since 2025-06-01"));
    let after_new = s.on_time(line_by("Серикова", "2025-05", "2025-06-10"));
    assert_eq!(after_new, Outcome::Applied { late: false });
}

#[test]
fn rule_6_a_person_registered_as_deceased_before_the_period_is_returned() {
    let mut s = Scenario::new(Context::default());
    s.on_time(register("Ахметова", "1990-05-17", Some("2025-03-15")));
    let during = s.on_time(line_by("Ахметова", "2025-03", "2025-04-10"));
    assert_eq!(
        during,
        Outcome::Applied { late: false },
        "died during the period"
    );
    let after = s.on_time(line_by("Ахметова", "2025-04", "2025-05-10"));
    assert!(returned(&after)
        .unwrap()
        .contains("deceased on 2025-03-15, before 2025-04"));
}

#[test]
fn rule_6_an_unknown_iin_is_flagged_or_returned_by_policy() {
    let mut flag = Scenario::new(Context::default());
    let o = flag.on_time(line_by("Ахметова", "2025-03", "2025-04-10"));
    assert_eq!(o, Outcome::Applied { late: false });
    assert_eq!(flag.account.unregistered_lines, 1);
    assert_eq!(Statement::of(&flag.account).unregistered_lines, 1);

    let mut ret = Scenario::new(Context {
        unknown_iin: UnknownIin::Return,
        ..Context::default()
    });
    let o = ret.on_time(line_by("Ахметова", "2025-03", "2025-04-10"));
    assert!(
        returned(&o).unwrap().contains("not in the register"),
        "{o:?}"
    );
    assert_eq!(ret.account.unregistered_lines, 0);
    // Once registered, the same line is credited under either policy.
    ret.on_time(register("Ахметова", "1990-05-17", None));
    let o = ret.on_time(line_by("Ахметова", "2025-03", "2025-04-10"));
    assert_eq!(o, Outcome::Applied { late: false });
}
