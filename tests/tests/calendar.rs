//! Inputs §1: the built-in calendar (every year 2016-2027, with decrees and
//! Kurban Ait) checked against an independent dataset: the Python
//! `holidays` package's Kazakhstan calendar (pinned in `scripts/test`,
//! which installs it and sets `SI_LEDGER_HOLIDAYS_PYTHON`). Every
//! difference kept on purpose is listed in `KEPT` with its reason; any
//! other fails the test.

use ledger_core::Calendar;
use serde_json::Value;
use std::collections::BTreeSet;

/// (date, reason) of each difference kept on purpose. None today: where
/// the two disagreed while the data was made (2024 and 2026 of the old
/// built-in calendar), the package was right.
const KEPT: &[(&str, &str)] = &[];

fn python() -> String {
    std::env::var("SI_LEDGER_HOLIDAYS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_HOLIDAYS_PYTHON is not set: run this test through scripts/test, which \
             installs the `holidays` package in a virtual environment and sets it"
        )
    })
}

#[test]
fn the_calendar_agrees_with_the_holidays_package_2016_to_2027() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/holidays_kz.py");
    let o = std::process::Command::new(python())
        .args([script, "2016", "2027"])
        .output()
        .expect("python runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cal = Calendar::built_in();
    let kept: BTreeSet<&str> = KEPT.iter().map(|(d, _)| *d).collect();
    let mut differences = Vec::new();
    for year in 2016..=2027 {
        let ours = cal
            .years()
            .find(|v| v.year == year)
            .unwrap_or_else(|| panic!("no data for {year}"));
        let t = &theirs["years"][year.to_string()];
        for (what, mine, their) in [
            ("day off", &ours.days_off, &t["days_off"]),
            (
                "worked weekend",
                &ours.working_weekends,
                &t["working_weekends"],
            ),
        ] {
            let mine: BTreeSet<String> = mine.iter().map(|d| d.to_string()).collect();
            let their: BTreeSet<String> = their
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect();
            for d in mine.symmetric_difference(&their) {
                if !kept.contains(d.as_str()) {
                    let side = if mine.contains(d) {
                        "ours only"
                    } else {
                        "theirs only"
                    };
                    differences.push(format!("{d}: {what}, {side}"));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "the calendar differs from holidays {}:\n{}",
        theirs["version"],
        differences.join("\n")
    );
}
