//! The payers' case, shared by the embedded and the Kafka test: a register
//! record, contribution lines (one disagreeing with the register), a
//! benefit, and a refund application with one request to accept and two to
//! refuse.

use chrono::NaiveDate;
use ledger_core::{Iin, Sex};
use std::path::{Path, PathBuf};

/// The payer of every line and the applicant (synthetic, from the
/// project's generator).
pub const BIN: &str = "150340000179";
pub const APPLICATION: &str = "APP-2025-0007";

pub struct Case {
    /// Register record, lines and the benefit, as JSON lines.
    pub events: PathBuf,
    /// The refund application.
    pub application: PathBuf,
    /// A, the registered employee; B, assigned a benefit; C, overclaimed.
    pub iins: [String; 3],
    /// D: A's name and birth date under another IIN (seed 002's duplicate).
    pub duplicate_of_a: String,
}

fn iin(birth: &str, serial: u16) -> String {
    let birth = NaiveDate::parse_from_str(birth, "%Y-%m-%d").expect("date");
    (serial..)
        .find_map(|s| Iin::generate(birth, Sex::Female, s))
        .expect("an IIN")
        .to_string()
}

/// `si-ledger merge` of `from` into `into` as the tests decide it, to
/// which the caller adds where to publish.
pub fn merge_args<'a>(from: &'a str, into: &'a str) -> Vec<&'a str> {
    vec![
        "merge",
        "--from",
        from,
        "--into",
        into,
        "--reason",
        "one person, two numbers",
        "--decided-on",
        "2025-05-10",
    ]
}

/// A's line (A's name and birth date) for `period` under `iin`.
pub fn line_for(id: &str, iin: &str, period: &str, doc: &str) -> String {
    line(id, iin, "1990-05-17", "Ахметова", period, doc)
}

fn line(id: &str, iin: &str, birth: &str, surname: &str, period: &str, doc: &str) -> String {
    format!(
        r#"{{"timestamp":"2025-04-10T15:00:00+05:00","envelope":{{"eventId":"{id}","iin":"{iin}","source":"bank","contribution":{{"payment":{{"documentNumber":"{doc}","documentDate":"2025-04-09","receivedOn":"2025-04-10","ppc":"012","payerId":"{BIN}"}},"period":"{period}","amount":"4250.00","person":{{"surname":"{surname}","name":"Айгерим","birthDate":"{birth}"}}}}}}}}"#
    )
}

/// Writes the case's files into `dir`.
pub fn write(dir: &Path) -> Case {
    let births = ["1990-05-17", "1985-02-03", "1979-11-30"];
    let iins = [iin(births[0], 1), iin(births[1], 2), iin(births[2], 3)];
    let mut lines = vec![format!(
        r#"{{"timestamp":"2025-01-05T10:00:00+05:00","envelope":{{"eventId":"reg-a","iin":"{}","source":"register","person":{{"surname":"Ахметова","name":"Айгерим","birthDate":"{}","sex":"F","effectiveOn":"1990-05-17"}}}}}}"#,
        iins[0], births[0]
    )];
    for (who, (iin, birth)) in iins.iter().zip(births).enumerate() {
        for period in ["2025-01", "2025-02", "2025-03"] {
            lines.push(line(
                &format!("line-{who}-{period}"),
                iin,
                birth,
                "Ахметова",
                period,
                "PP-17",
            ));
        }
    }
    // A's name and birth date under another number: a duplicate.
    let duplicate_of_a = iin(births[0], 900);
    lines.push(line(
        "line-d",
        &duplicate_of_a,
        births[0],
        "АХМЁТОВА",
        "2025-03",
        "PP-19",
    ));
    // Disagrees with the register's surname: returned to the payer.
    lines.push(line(
        "line-0-wrong",
        &iins[0],
        births[0],
        "Иванова",
        "2025-03",
        "PP-18",
    ));
    // B applied for a benefit in February: January and February counted.
    lines.push(format!(
        r#"{{"timestamp":"2025-04-10T16:00:00+05:00","envelope":{{"eventId":"ben-b","iin":"{}","source":"fund","benefitAssigned":{{"benefitId":"B-1","benefitType":"0703","appliedOn":"2025-02-20","decidedOn":"2025-03-01","startPeriod":"2025-03","monthlyAmount":"30000.00","participationMonths":2}}}}}}"#,
        iins[1]
    ));
    let events = dir.join("payers.jsonl");
    std::fs::write(&events, lines.join("\n") + "\n").expect("write events");
    let application = dir.join("application.json");
    let app = serde_json::json!({
        "application_id": APPLICATION,
        "payer_id": BIN,
        "reason": "excessively paid social contributions",
        "refunded_ppc": "012",
        "filed_on": "2025-05-02",
        "signed_by": "first head",
        "employees": [
            {"iin": iins[0], "period": "2025-03", "amount": "1000.00"},
            {"iin": iins[1], "period": "2025-02", "amount": "1000.00"},
            {"iin": iins[2], "period": "2025-03", "amount": "4250.01"},
        ],
    });
    std::fs::write(&application, app.to_string()).expect("write application");
    Case {
        events,
        application,
        iins,
        duplicate_of_a,
    }
}
