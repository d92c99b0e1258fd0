//! What real producers send (issue: inputs): each failing input of
//! `cases/wave2/` (copied from the issue's cases) through the real binary,
//! publish → project → statement, with the right value asserted. The
//! kinds behind them are covered by table and property tests in the
//! crates (`ledger-core` calendar, id, money and rules tests;
//! `ledger-proto` strict JSON and canonical spelling).

use ledger_e2e::{run, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cases/wave2")
        .join(name)
}

/// A log and a data directory in a fresh temp dir.
struct Ledger {
    _dir: tempfile::TempDir,
    log: String,
    data: String,
}

impl Ledger {
    fn new() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let s = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
        Ledger {
            log: s("log"),
            data: s("data"),
            _dir: dir,
        }
    }

    /// Publishes a file; (exit code, summary, stderr).
    fn publish(&self, file: &Path) -> (Option<i32>, Value, String) {
        let o = run(&[
            "publish",
            "--log",
            &self.log,
            "--json",
            file.to_str().unwrap(),
        ]);
        let summary = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
        (o.status.code(), summary, stderr(&o))
    }

    /// Projects the log; the summary counts.
    fn project(&self) -> Value {
        let o = run(&[
            "project", "--log", &self.log, "--data", &self.data, "--json",
        ]);
        assert!(o.status.success(), "project: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    }

    fn account(&self, iin: &str) -> Value {
        let o = run(&["account", iin, "--data", &self.data, "--json"]);
        assert!(o.status.success(), "account: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    }
}

/// The case published whole (exit 0) and projected.
fn projected(name: &str) -> Ledger {
    let l = Ledger::new();
    let (code, summary, err) = l.publish(&case(name));
    assert_eq!(code, Some(0), "{name}: {err}");
    assert_eq!(summary["refused"], 0, "{name}");
    l.project();
    l
}

#[test]
fn a_decreed_working_saturday_and_day_off_decide_lateness() {
    // Received Monday 6 May 2024; 7 May (holiday), 8 May (off by the 2024
    // decree) and 9 May (holiday): the deadline is Friday 10 May, so a
    // line logged on 9 May is on time.
    let l = projected("01-calendar-2024-decree-swap.jsonl");
    let a = l.account("851102300013");
    assert_eq!(a["late_recordings"], 0, "{a}");
    assert_eq!(a["contributions_total"], "5000.00");
    let o = run(&["calendar", "working-day", "2024-05-04", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (v["working_day"].clone(), v["from_published_data"].clone()),
        (true.into(), true.into())
    );
}

#[test]
fn deadlines_before_march_2024_end_at_utc_plus_6() {
    // Line A: received Thursday 15 Feb 2024, deadline 16 Feb 23:59:59+06:00
    // (17:59:59Z); logged 18:30Z: late. Line B: received 28 Feb, deadline
    // the end of 29 Feb, the day the clocks went back to +05:00 at
    // midnight (18:59:59.999Z); logged 18:30Z: on time.
    let l = projected("02-deadline-utc6-before-march-2024.jsonl");
    let a = l.account("900517400451");
    assert_eq!(a["late_recordings"], 1, "{a}");
    let o = run(&["calendar", "deadline", "2024-02-15", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["deadline"], "2024-02-16T23:59:59.999+06:00");
}

#[test]
fn the_register_beats_the_birth_date_the_iin_encodes() {
    let l = projected("03-register-date-vs-iin-digits.jsonl");
    let a = l.account("900517400451");
    // The line with the register's date is credited; the one with the
    // IIN's digits' date is returned, naming the register.
    assert_eq!(a["contributions_total"], "4250.00", "{a}");
    assert_eq!(a["returned_total"], "4250.00", "{a}");
    let reasons = a["rejections"].to_string();
    assert!(
        reasons.contains("differs from the register's 1990-05-18"),
        "{reasons}"
    );
    assert!(!reasons.contains("encoded in the IIN"), "{reasons}");
}

#[test]
fn a_decomposed_surname_is_the_registers_composed_one() {
    let l = projected("04-nfd-surname.jsonl");
    for iin in ["851102300013", "790308400013"] {
        let a = l.account(iin);
        assert_eq!(a["returned_total"], "0.00", "{iin}: {a}");
        assert_eq!(a["contributions_total"], "6000.00", "{iin}: {a}");
    }
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let l = projected("05-bom.jsonl");
    assert_eq!(l.account("900517400451")["contributions_total"], "4250.00");
    // The same for every file the ledger reads: a calendar with a BOM.
    let cal = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        cal.path(),
        "\u{feff}{\"years\":[{\"year\":2028,\"version\":1,\"published_on\":\"2027-12-01\",\
         \"source\":\"test\",\"days_off\":[\"2028-01-03\"]}]}",
    )
    .unwrap();
    let o = run(&[
        "--calendar",
        cal.path().to_str().unwrap(),
        "calendar",
        "working-day",
        "2028-01-03",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("not a working day"), "{}", stdout(&o));
}

#[test]
fn an_undecodable_line_costs_only_itself() {
    let l = Ledger::new();
    let (code, summary, err) = l.publish(&case("06-cp1251-line.jsonl"));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        (summary["published"].clone(), summary["refused"].clone()),
        (2.into(), 1.into())
    );
    assert!(
        err.contains("line 2: (line): not UTF-8: byte 0xC0 at column"),
        "{err}"
    );
    l.project();
    assert_eq!(l.account("900517400451")["contributions_total"], "8500.00");
}

#[test]
fn a_repeated_key_refuses_the_line() {
    let l = Ledger::new();
    let (code, summary, err) = l.publish(&case("07-duplicate-keys.jsonl"));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        (summary["published"].clone(), summary["refused"].clone()),
        (0.into(), 2.into())
    );
    assert!(
        err.contains("line 1: contribution.amount: the key is repeated"),
        "{err}"
    );
    assert!(err.contains("line 2: iin: the key is repeated"), "{err}");
}

#[test]
fn null_is_an_absent_field() {
    let l = projected("08-null-fields.jsonl");
    assert_eq!(l.account("900517400451")["contributions_total"], "8500.00");
    // A required field given as null is missing, and said so.
    let file = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(case("08-null-fields.jsonl")).unwrap();
    let first = text
        .lines()
        .next()
        .unwrap()
        .replace("\"period\":\"2025-03\"", "\"period\":null");
    std::fs::write(file.path(), first).unwrap();
    let (code, _, err) = Ledger::new().publish(file.path());
    assert_eq!(code, Some(2));
    assert!(
        err.contains("line 1: contribution.period: is required"),
        "{err}"
    );
}

#[test]
fn one_amount_however_spelled_is_one_fact() {
    // "600.00", "600" and "6E+2" under one event id: one line and two
    // duplicates, no conflict, no dead letter.
    let l = projected("09-amount-spellings.jsonl");
    let a = l.account("920721300011");
    assert_eq!(a["contributions_total"], "600.00", "{a}");
    assert_eq!(a["duplicates_ignored"], 2, "{a}");
    let o = run(&["dead-letters", "--data", &l.data, "--json"]);
    let letters: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(letters.as_array().map(Vec::len), Some(0), "{letters}");
}

#[test]
fn record_times_outside_the_bounds_are_refused_at_publish() {
    let l = Ledger::new();
    let (code, summary, err) = l.publish(&case("10-timestamp-1970.jsonl"));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(summary["published"], 0);
    assert!(
        err.contains("line 1: timestamp: record time 1970-01-01T00:00:00.000Z (0 ms) is before the ledger's epoch"),
        "{err}"
    );
    let (code, summary, err) = l.publish(&case("11-timestamp-2099.jsonl"));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(summary["published"], 0);
    assert!(
        err.contains("line 1: timestamp: record time 2099-01-01T00:00:00.000Z is later than now"),
        "{err}"
    );
    // A deployment with an older epoch takes 1970 no more: it is before
    // 2000 by default, and a later epoch refuses more.
    let o = run(&[
        "--epoch",
        "2025-05-01",
        "publish",
        "--log",
        &l.log,
        "--dry-run",
        case("02-deadline-utc6-before-march-2024.jsonl")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("before the ledger's epoch 2025-04-30T19:00:00.000Z"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_record_time_before_the_epoch_in_the_log_is_a_dead_letter() {
    // Written past `publish` (another tool, an old log): the projector
    // dead-letters it with the time shown readably; the next record is
    // applied.
    let l = Ledger::new();
    let wire = ledger_e2e::case_envelope();
    let mut second = wire.clone();
    second.event_id = "bank-x-2025-000002".into();
    let (a, b) = (
        ledger_proto::encode_envelope(&wire),
        ledger_proto::encode_envelope(&second),
    );
    let log = ledger_stream::EmbeddedLog::open_or_create(Path::new(&l.log), 4).unwrap();
    let key = wire.iin.as_bytes();
    log.appender()
        .unwrap()
        .append(&[
            (key, -1, a.as_slice()),
            (key, 1_744_261_200_000, b.as_slice()),
        ])
        .unwrap();
    let totals = l.project();
    assert_eq!(
        (totals["applied"].clone(), totals["dead_letters"].clone()),
        (1.into(), 1.into()),
        "{totals}"
    );
    let o = run(&["dead-letters", "--data", &l.data, "--json"]);
    let letters: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(letters[0]["kind"], "bad_timestamp");
    assert!(
        letters[0]["error"].as_str().unwrap().contains("1969-12-31T23:59:59.999Z (-1 ms) is before the ledger's epoch 1999-12-31T18:00:00.000Z"),
        "{letters}"
    );
    assert_eq!(l.account("900517400451")["contributions_total"], "4250.00");
}

/// Inputs §5: no record can stop the projector. A poison batch of every
/// kind, then a valid record: each poison record a dead letter of its
/// kind, kept whole in the store; the valid one applied.
#[test]
fn a_poison_batch_is_dead_lettered_and_the_record_behind_it_applied() {
    let l = Ledger::new();
    let ledger_e2e::PoisonBatch {
        wire,
        valid,
        records: poison,
    } = ledger_e2e::poison_batch();
    let log = ledger_stream::EmbeddedLog::open_or_create(Path::new(&l.log), 4).unwrap();
    let mut appender = log.appender().unwrap();
    for (p, k, t, v, _) in &poison {
        appender.append_to(*p, &[(k, *t, v)]).unwrap();
    }
    appender
        .append(&[(wire.iin.as_bytes(), 1_744_261_300_000, valid.as_slice())])
        .unwrap();
    drop(appender);
    let totals = l.project();
    assert_eq!(totals["applied"], 1, "{totals}");
    assert_eq!(totals["dead_letters"], poison.len(), "{totals}");
    let o = run(&["dead-letters", "--data", &l.data, "--json"]);
    let letters: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut kinds: Vec<&str> = letters
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = poison.iter().map(|p| p.4).collect();
    kinds.sort_unstable();
    want.sort_unstable();
    assert_eq!(kinds, want);
    // The huge one is kept whole in the store.
    let longest = letters
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["value_hex"].as_str().unwrap().len() / 2)
        .max();
    assert_eq!(longest, Some(valid.len() + 1_040_000));
    assert!(
        letters.to_string().len() < 2 * (valid.len() + 1_040_000) + 20_000,
        "no error quotes a whole value"
    );
    assert_eq!(l.account("900517400451")["contributions_total"], "4250.00");
}

/// Inputs §6: a run stopped before the end of its log says where, prints
/// no success, and exits with the signal's code (143 for SIGTERM):
/// `project`, `replay` and `verify --log`.
#[test]
fn an_interrupted_run_never_reports_success() {
    let dir = tempfile::tempdir().unwrap();
    let demo = ledger_e2e::demo(dir.path(), 300, 12);
    let log = dir.path().join("log");
    let o = run(&[
        "publish",
        "--log",
        log.to_str().unwrap(),
        demo.join("events.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "the demo has bad lines: {}",
        stderr(&o)
    );
    let log_s = log.to_str().unwrap().to_string();
    let stopped = |args: Vec<String>, marker: PathBuf| {
        let child = ledger_e2e::si_ledger(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !marker.exists() && started.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(400));
        ledger_e2e::sigterm(&child);
        child.wait_with_output().unwrap()
    };
    // One record per store write: several seconds of work, stopped early.
    let data = dir.path().join("data");
    let o = stopped(
        vec![
            "project".into(),
            "--log".into(),
            log_s.clone(),
            "--data".into(),
            data.to_str().unwrap().into(),
            "--batch-size".into(),
            "1".into(),
        ],
        data.join("store"),
    );
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("project interrupted by SIGTERM at partition"),
        "{}",
        stderr(&o)
    );
    let replayed = dir.path().join("replayed");
    let o = stopped(
        vec![
            "replay".into(),
            "--log".into(),
            log_s.clone(),
            "--data".into(),
            replayed.to_str().unwrap().into(),
            "--batch-size".into(),
            "1".into(),
        ],
        replayed.join("store"),
    );
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("replay interrupted by SIGTERM"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("digest"), "{}", stdout(&o));
    // verify replays into a temporary directory: wait a moment instead.
    let o = stopped(
        vec![
            "verify".into(),
            "--data".into(),
            demo.to_str().unwrap().into(),
            "--log".into(),
            log_s,
            "--batch-size".into(),
            "1".into(),
        ],
        demo.join("store"),
    );
    assert_eq!(o.status.code(), Some(143), "{}{}", stdout(&o), stderr(&o));
    assert!(!stdout(&o).contains("verified"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("nothing verified past it"),
        "{}",
        stderr(&o)
    );
    // The interrupted store resumes: a second run finishes it.
    let o = run(&[
        "project",
        "--log",
        log.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// One contribution line of a payment order, as JSON.
#[allow(clippy::too_many_arguments)]
fn payment_line(
    id: &str,
    iin: &str,
    born: &str,
    doc: &str,
    amount: &str,
    total: &str,
    count: u32,
    at: &str,
) -> String {
    format!(
        r#"{{"timestamp":"{at}","envelope":{{"eventId":"{id}","iin":"{iin}","source":"bank-x","contribution":{{"payment":{{"documentNumber":"{doc}","documentDate":"2025-04-09","receivedOn":"2025-04-10","ppc":"012","payerId":"150340000179","totalAmount":"{total}","lineCount":{count}}},"period":"2025-03","amount":"{amount}","person":{{"surname":"Тестова","name":"Тест","birthDate":"{born}"}}}}}}}}"#
    )
}

/// Inputs §7: the lines of one payment order, spread over participants and
/// partitions, reconciled with its total and line count (Rules §7).
#[test]
fn payments_are_reconciled_with_their_lines() {
    let l = Ledger::new();
    let (a, b, c, d) = (
        ("900517400451", "1990-05-17"),
        ("851102300013", "1985-11-02"),
        ("790308400013", "1979-03-08"),
        ("920721300011", "1992-07-21"),
    );
    let t = "2025-04-10T15:00:00+05:00";
    let lines = [
        // The issue's case: 425,000.00 under a total of 4,250.00.
        payment_line("p1-1", a.0, a.1, "PP-1", "425000.00", "4250.00", 1, t),
        // Two lines, two participants: reconciled.
        payment_line("p2-1", a.0, a.1, "PP-2", "1000.00", "3000.00", 2, t),
        payment_line("p2-2", b.0, b.1, "PP-2", "2000.00", "3000.00", 2, t),
        // Three lines announced, two came.
        payment_line("p3-1", c.0, c.1, "PP-3", "1000.00", "3000.00", 3, t),
        payment_line("p3-2", d.0, d.1, "PP-3", "1000.00", "3000.00", 3, t),
        // The lines disagree on the total.
        payment_line("p4-1", c.0, c.1, "PP-4", "1000.00", "2000.00", 2, t),
        payment_line("p4-2", d.0, d.1, "PP-4", "1000.00", "2500.00", 2, t),
        // A later record: the ledger's "now" is past PP-3's deadline.
        payment_line(
            "p5-1",
            b.0,
            b.1,
            "PP-5",
            "500.00",
            "500.00",
            1,
            "2025-05-05T10:00:00+05:00",
        ),
    ];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), lines.join("\n")).unwrap();
    let (code, _, err) = l.publish(file.path());
    assert_eq!(code, Some(0), "{err}");
    l.project();
    let list = |flag: &str| -> Vec<String> {
        let o = run(&["payments", "--data", &l.data, flag, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["document_number"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(list("--mismatched"), ["PP-1", "PP-4"]);
    // PP-4 is short of its larger total too.
    assert_eq!(list("--incomplete"), ["PP-3", "PP-4"]);
    let o = run(&["payments", "--data", &l.data, "--mismatched", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        v[0]["mismatches"][0]
            .as_str()
            .unwrap()
            .contains("the lines sum to 425000.00, more than its total 4250.00"),
        "{v}"
    );
    assert!(!stdout(&o).contains(a.0), "IINs are masked");
    // The lines are credited as recorded (flagged, not returned: Rules §6
    // returns what disagrees with the registers, not with its own payment).
    assert_eq!(l.account(a.0)["contributions_total"], "426000.00");
    // The monthly report counts the unreconciled payments of the period.
    let o = run(&["close-month", "2025-03", "--log", &l.log]);
    assert!(o.status.success(), "{}", stderr(&o));
    l.project();
    let o = run(&["report", "monthly", "2025-03", "--data", &l.data, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["unreconciled_payments"], 3, "{r}");
}

/// What a probe of `publish` found, each refused by its line and field
/// with a short message, the valid line after them published.
#[test]
fn hostile_lines_are_refused_by_line_and_field() {
    let base = std::fs::read_to_string(case("05-bom.jsonl"))
        .unwrap()
        .trim_start_matches('\u{feff}')
        .trim()
        .to_string();
    let huge_key = format!("\"{}\":1,", "k".repeat(100_000));
    let lines = [
        // A BIN is no person's IIN.
        base.replace("\"iin\":\"900517400451\"", "\"iin\":\"150340000179\""),
        // A NUL in a surname; a 300-character name.
        base.replace(
            "\"surname\":\"Ахметова\"",
            "\"surname\":\"Ахм\\u0000етова\"",
        ),
        base.replace(
            "\"surname\":\"Ахметова\"",
            &format!("\"surname\":\"{}\"", "я".repeat(300)),
        ),
        // A 100 KB unknown key.
        base.replacen('{', &format!("{{{huge_key}"), 1),
        // A year 0000 receipt.
        base.replace("2025-04-10", "0000-04-10"),
        // A 2 MB line.
        format!("{{\"eventId\":\"{}\"}}", "x".repeat(2 << 20)),
        base.replace("bank-x-2025-000001", "bank-x-2025-000009"),
    ];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), lines.join("\n")).unwrap();
    let l = Ledger::new();
    let (code, summary, err) = l.publish(file.path());
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        (summary["published"].clone(), summary["refused"].clone()),
        (1.into(), 6.into()),
        "{err}"
    );
    for want in [
        "line 1: iin: 5th digit 4 is a legal entity's type: this is a BIN",
        "line 2: contribution.person.surname: contains the control character U+0000 at position 4",
        "line 3: contribution.person.surname: is longer than 200 characters",
        "line 5: contribution.payment.received_on: year out of 1900-2200",
        "line 6: (line): 2097166 bytes long, more than the 1048576 a line may have",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
    assert!(err.contains("line 4: "), "{err}");
    assert!(
        err.len() < 8_000,
        "no message quotes a whole value: {} bytes",
        err.len()
    );
}
