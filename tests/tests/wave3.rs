//! Issue 25: the money faults a hostile test of 7d1d051 found, each with
//! the real binary on the inputs of `shared/cases/wave3/README.md`.

use ledger_e2e::{si_ledger, stderr, stdout};
use serde_json::{json, Value};
use std::path::Path;

const PAYER: &str = "150340000179";
const A: &str = "900517400451";
const C: &str = "851102300013";

/// Runs with `--trust none` (the cases' setting: none of these faults
/// depends on signatures).
fn unsigned(args: &[&str]) -> std::process::Output {
    si_ledger(args)
        .env("SI_LEDGER_TRUST", "none")
        .env_remove("SI_LEDGER_SIGNING_KEY_FILE")
        .output()
        .expect("si-ledger runs")
}

fn ok(args: &[&str]) -> String {
    let o = unsigned(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn next(p: &str) -> String {
    let (y, m): (i32, u32) = (p[..4].parse().unwrap(), p[5..].parse().unwrap());
    if m == 12 {
        format!("{:04}-01", y + 1)
    } else {
        format!("{y:04}-{:02}", m + 1)
    }
}

struct Person<'a> {
    iin: &'a str,
    surname: &'a str,
    name: &'a str,
    birth: &'a str,
}

const AKHMETOVA: Person = Person {
    iin: A,
    surname: "Ахметова",
    name: "Айгерим",
    birth: "1990-05-17",
};

const SERIKBAEV: Person = Person {
    iin: C,
    surname: "Серикбаев",
    name: "Ерлан",
    birth: "1985-11-02",
};

fn registered(p: &Person, sex: &str) -> Value {
    json!({"timestamp": "2020-01-01T10:00:00+05:00", "envelope": {
        "eventId": format!("reg-{}", p.iin), "iin": p.iin, "source": "register",
        "person": {"surname": p.surname, "name": p.name, "birthDate": p.birth, "sex": sex,
                   "effectiveOn": p.birth, "citizenship": "KZ"}}})
}

fn line(id: &str, p: &Person, period: &str, amount: &str, received: &str) -> Value {
    json!({"timestamp": format!("{received}T10:00:00+05:00"), "envelope": {
        "eventId": id, "iin": p.iin, "source": "bank-t",
        "contribution": {
            "payment": {"documentNumber": format!("PP-{id}"), "receivedOn": received, "ppc": "012",
                        "payerId": PAYER, "payerName": "ТОО Тест", "totalAmount": amount, "lineCount": 1},
            "period": period, "amount": amount,
            "person": {"surname": p.surname, "name": p.name, "birthDate": p.birth}}}})
}

/// `p`'s register record and a 10,000.00 line for each of `periods`, each
/// received on the 10th of the month after it.
fn registered_and_paid(p: &Person, periods: &[&str]) -> Vec<Value> {
    let mut lines = vec![registered(p, "M")];
    for period in periods {
        let received = format!("{}-10", next(period));
        lines.push(line(
            &format!("c-{period}"),
            p,
            period,
            "10000.00",
            &received,
        ));
    }
    lines
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Publishes `lines` to `dir/log` and projects them into `dir/data`.
fn projected(dir: &Path, lines: &[Value]) -> String {
    let input = dir.join("in.jsonl");
    write_lines(&input, lines);
    let log = dir.join("log");
    let data = dir.join("data");
    ok(&[
        "publish",
        "--log",
        log.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    ok(&[
        "project",
        "--log",
        log.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    data.to_str().unwrap().to_string()
}

fn entitlement(data: &str, iin: &str, extra: &[&str]) -> Value {
    let mut args = vec!["entitlement", iin, "--data", data, "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args)).unwrap()
}

/// Case 2: 24 months paid on time, June 2025 paid a second time late
/// (after the application) and that overpayment refunded. Each tenge once:
/// 24 months, stazh 0.85, 76,500 for 3 months, and the Fund's correct
/// assignment carries no discrepancy.
#[test]
fn a_late_line_refunded_later_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![registered(&AKHMETOVA, "F")];
    let mut p = "2024-03".to_string();
    while p.as_str() <= "2026-02" {
        let amount = if p.as_str() < "2025-01" {
            "7000.00"
        } else {
            "10000.00"
        };
        let received = format!("{}-10", next(&p));
        lines.push(line(&format!("c-{p}"), &AKHMETOVA, &p, amount, &received));
        p = next(&p);
    }
    lines.push(line(
        "late-1",
        &AKHMETOVA,
        "2025-06",
        "10000.00",
        "2026-04-01",
    ));
    lines.push(
        json!({"timestamp": "2026-04-05T10:00:00+05:00", "envelope": {
        "eventId": "APP-1/1", "iin": A, "source": "bank-t",
        "refund": {"amount": "10000.00", "applicationId": "APP-1", "applicationSize": 1,
                   "decidedOn": "2026-04-05", "payerId": PAYER, "period": "2025-06",
                   "reason": "излишне уплаченные социальные отчисления", "refundedPpc": "012"}}}),
    );
    lines.push(
        json!({"timestamp": "2026-04-20T10:00:00+05:00", "envelope": {
        "eventId": "ben-A-1", "iin": A, "source": "fund",
        "benefitAssigned": {"appliedOn": "2026-03-10", "averageMonthlyIncome": "200000.00",
            "benefitId": "BEN-A-1", "benefitType": "0703", "decidedOn": "2026-03-15",
            "startPeriod": "2026-03", "endPeriod": "2026-05", "monthlyAmount": "76500.00",
            "participationMonths": 24}}}),
    );
    let data = projected(dir.path(), &lines);
    for extra in [&[][..], &["--as-known-on", "2026-03-10"][..]] {
        let mut args = vec!["--type", "0703", "--as-of", "2026-03-10"];
        args.extend_from_slice(extra);
        let e = entitlement(&data, A, &args);
        assert_eq!(e["participation_months"], 24, "{extra:?}: {e}");
        assert_eq!(e["stazh_coefficient"], "0.85");
        assert_eq!(e["average_monthly_income"], "200000.00");
        assert_eq!(e["amount"], "76500.00");
        assert_eq!(e["duration_months"], 3);
    }
    let account: Value =
        serde_json::from_str(&ok(&["account", A, "--data", &data, "--json"])).unwrap();
    let b = &account["benefits"][0];
    assert_eq!(b["benefit_id"], "BEN-A-1", "{account}");
    assert!(b.get("discrepancies").is_none(), "no discrepancy: {b}");
}

/// Case 4: a risk date after the application date is refused, by the
/// command and on the Fund's assignment; on the application date nothing
/// received after it counts.
#[test]
fn a_risk_date_after_the_application_date_counts_nothing_not_yet_received() {
    let dir = tempfile::tempdir().unwrap();
    let lines = registered_and_paid(&SERIKBAEV, &["2025-03", "2025-04", "2025-05"]);
    let data = projected(dir.path(), &lines);
    let o = unsigned(&[
        "entitlement",
        C,
        "--data",
        &data,
        "--type",
        "0704",
        "--as-of",
        "2025-04-01",
        "--risk-date",
        "2025-07-10",
        "--leave-days",
        "126",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("the risk date 2025-07-10 is after the application date 2025-04-01"),
        "{}",
        stderr(&o)
    );
    let e = entitlement(
        &data,
        C,
        &[
            "--type",
            "0704",
            "--as-of",
            "2025-04-01",
            "--risk-date",
            "2025-04-01",
            "--leave-days",
            "126",
        ],
    );
    // March is the month before the right: it counts whenever received.
    assert_eq!(e["participation_months"], 1, "{e}");
    assert_eq!(e["months_used"], 1, "{e}");
}

/// Case 3: an application id used again with other content is refused
/// whole by `refund apply`, before anything is published, and by the
/// projector for a request another producer published under it; the
/// status never reads more decided than requested.
#[test]
fn a_refund_application_is_one_decision() {
    let dir = tempfile::tempdir().unwrap();
    let lines = registered_and_paid(&SERIKBAEV, &["2025-03", "2025-04"]);
    let data = projected(dir.path(), &lines);
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let mut app = json!({"application_id": "APP-Y", "payer_id": PAYER,
        "reason": "excessively paid social contributions", "refunded_ppc": "012",
        "filed_on": "2025-08-02", "signed_by": "first head",
        "employees": [{"iin": C, "period": "2025-03", "amount": "100.00"}]});
    let first = dir.path().join("app1.json");
    std::fs::write(&first, app.to_string()).unwrap();
    app["reason"] = json!("erroneously paid social contributions");
    app["employees"]
        .as_array_mut()
        .unwrap()
        .push(json!({"iin": C, "period": "2025-04", "amount": "5000.00"}));
    let second = dir.path().join("app2.json");
    std::fs::write(&second, app.to_string()).unwrap();

    ok(&["refund", "apply", first.to_str().unwrap(), "--log", log]);
    // The same application again (an interrupted run repeated): harmless.
    let o = unsigned(&["refund", "apply", first.to_str().unwrap(), "--log", log]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 of its 1 requests already published with this content"),
        "{}",
        stderr(&o)
    );
    // Other content under the id: refused, nothing published.
    let log_bytes = || {
        std::fs::read_dir(dir.path().join("log"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum::<u64>()
    };
    let before = log_bytes();
    let o = unsigned(&["refund", "apply", second.to_str().unwrap(), "--log", log]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o)
            .contains("the id was already published with other content (1 request(s): APP-Y/1)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(before, log_bytes(), "nothing published");

    // Another producer publishes the second application's requests anyway.
    let refund = |n: u32, period: &str, amount: &str| {
        json!({"timestamp": "2025-08-03T10:00:00+05:00", "envelope": {
            "eventId": format!("APP-Y/{n}"), "iin": C, "source": "bank-t",
            "refund": {"amount": amount, "applicationId": "APP-Y", "applicationSize": 2,
                       "decidedOn": "2025-08-02", "payerId": PAYER, "period": period,
                       "reason": "erroneously paid social contributions", "refundedPpc": "012"}}})
    };
    let input = dir.path().join("other.jsonl");
    write_lines(
        &input,
        &[
            refund(1, "2025-03", "100.00"),
            refund(2, "2025-04", "5000.00"),
        ],
    );
    ok(&["publish", "--log", log, input.to_str().unwrap()]);
    ok(&["project", "--log", log, "--data", &data]);
    let account: Value =
        serde_json::from_str(&ok(&["account", C, "--data", &data, "--json"])).unwrap();
    assert_eq!(account["refunds_total"], "100.00", "{account}");
    let o = unsigned(&["refund", "status", "APP-Y", "--data", &data]);
    let out = stdout(&o);
    assert!(
        out.contains("1 of 1 requests decided (all), 1 accepted (100.00), 0 refused"),
        "{out}"
    );
    assert!(
        out.contains("1 decision(s) under this id are not part of this application"),
        "{out}"
    );
    assert!(out.contains("application APP-Y was already decided with other content"));
    assert_eq!(
        o.status.code(),
        Some(1),
        "a reused id is not a clean status"
    );
}

/// Cases 9 and 11 (the case's one script): an IIN "born 2099" is valid
/// with a warning and a 2025 line for it is returned; the Fund's double
/// and oversized payments are applied and flagged for review.
#[test]
fn an_unborn_person_and_payments_beyond_the_assignment() {
    let dir = tempfile::tempdir().unwrap();
    let unborn = Person {
        iin: "991231600012",
        surname: "Будущая",
        name: "Дочь",
        birth: "2099-12-31",
    };
    let out = ok(&["iin", "check", unborn.iin]);
    assert!(
        out.contains("warning: the birth date 2099-12-31 is after today"),
        "{out}"
    );
    let mut lines = vec![
        line("fut-1", &unborn, "2025-03", "1000.00", "2025-04-10"),
        registered(&AKHMETOVA, "F"),
    ];
    lines.push(
        json!({"timestamp": "2026-04-20T10:00:00+05:00", "envelope": {
        "eventId": "ba", "iin": A, "source": "fund",
        "benefitAssigned": {"appliedOn": "2026-03-10", "averageMonthlyIncome": "200000.00",
            "benefitId": "B1", "benefitType": "0705", "decidedOn": "2026-03-15",
            "startPeriod": "2026-03", "endPeriod": "2026-05", "monthlyAmount": "80000.00",
            "participationMonths": 24}}}),
    );
    for (id, period, amount) in [
        ("bp-1", "2026-03", "80000.00"),
        ("bp-2", "2026-03", "80000.00"),
        ("bp-3", "2026-04", "999999.00"),
    ] {
        lines.push(
            json!({"timestamp": "2026-04-21T10:00:00+05:00", "envelope": {
            "eventId": id, "iin": A, "source": "fund",
            "benefitPaid": {"amount": amount, "benefitId": "B1",
                            "pensionContributionWithheld": "0.00", "period": period}}}),
        );
    }
    let data = projected(dir.path(), &lines);
    let history = ok(&["history", unborn.iin, "--data", &data]);
    assert!(
        history.contains("period 2025-03 is before the person's birth month (born 2099-12-31)"),
        "{history}"
    );
    let account: Value =
        serde_json::from_str(&ok(&["account", A, "--data", &data, "--json"])).unwrap();
    let b = &account["benefits"][0];
    assert_eq!(
        b["paid_total"], "1159999.00",
        "the Fund's payments stand: {b}"
    );
    let flags: Vec<&str> = b["discrepancies"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for want in [
        "a second payment for 2026-03: 80000.00 after 80000.00 already paid for it",
        "payment for 2026-04 of 999999.00 is above the monthly amount 80000.00",
        "payments reach 1159999.00, above the 240000.00 assigned (3 months of 80000.00)",
    ] {
        assert!(flags.contains(&want), "{want}: {flags:?}");
    }
}

/// Case 7: a line redirected by a merge counts once toward its payment
/// order (on the identifier it names), so the payment reconciles and the
/// monthly report counts nothing unreconciled.
#[test]
fn a_line_redirected_by_a_merge_reconciles_its_payment() {
    let dir = tempfile::tempdir().unwrap();
    let old = Person {
        iin: "920721300011",
        surname: "Жумабаев",
        name: "Арман",
        birth: "1992-07-21",
    };
    let new = Person {
        iin: "920721300775",
        ..old
    };
    let other = Person {
        iin: "790308400013",
        surname: "Омарова",
        name: "Дина",
        birth: "1979-03-08",
    };
    let data = projected(
        dir.path(),
        &[
            registered(&old, "M"),
            registered(&new, "M"),
            registered(&other, "F"),
        ],
    );
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    ok(&[
        "merge",
        "--from",
        old.iin,
        "--into",
        new.iin,
        "--reason",
        "one person, two IINs",
        "--decided-on",
        "2025-05-20",
        "--log",
        log,
    ]);
    ok(&["project", "--log", log, "--data", &data]);
    let in_order = |id: &str, p: &Person| {
        let mut l = line(id, p, "2025-05", "10000.00", "2025-06-10");
        let payment = &mut l["envelope"]["contribution"]["payment"];
        payment["documentNumber"] = json!("PP-N");
        payment["totalAmount"] = json!("20000.00");
        payment["lineCount"] = json!(2);
        l
    };
    let input = dir.path().join("b.jsonl");
    write_lines(&input, &[in_order("n-1", &old), in_order("n-2", &other)]);
    ok(&["publish", "--log", log, input.to_str().unwrap()]);
    ok(&["project", "--log", log, "--data", &data]);
    let all: Value =
        serde_json::from_str(&ok(&["payments", "--data", &data, "--all", "--json"])).unwrap();
    let text = all.to_string();
    assert!(text.contains("PP-N"), "{all}");
    let shown = ok(&["payments", "--data", &data]);
    assert!(!shown.contains("PP-N"), "PP-N is reconciled: {shown}");
    let full = ok(&["payments", "--data", &data, "--all"]);
    assert!(full.contains("2 of 2 lines"), "{full}");
    ok(&["close-month", "2025-05", "--log", log]);
    ok(&["project", "--log", log, "--data", &data]);
    let report = ok(&["report", "monthly", "2025-05", "--data", &data]);
    let unreconciled = report
        .lines()
        .find(|l| l.contains("unreconciled"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(unreconciled.trim_end().ends_with(" 0"), "{unreconciled}");
}

/// A reader that goes away (`| head`) ends a printing command quietly, as
/// it ends any Unix filter: never a panic, never exit 0.
#[test]
fn a_closed_pipe_ends_a_printing_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let data = ledger_e2e::demo(dir.path(), 40, 3);
    let data = data.to_str().unwrap();
    for args in [
        &["accounts", "--data", data][..],
        &["dead-letters", "--data", data][..],
        &["payments", "--data", data, "--all"][..],
    ] {
        let mut child = si_ledger(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // Quietly: 141 (128 + SIGPIPE, as a shell reports `cat` ended by
        // a closed pipe), or 0 where the command already treats a reader
        // gone early as the end of its output.
        assert!(
            matches!(o.status.code(), Some(0 | 141)),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
    // A full disk on standard output is an error naming it, not a panic.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = si_ledger(&["dead-letters", "--data", data])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("error: failed printing to stdout"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // Standard error full or closed (a command that reports refusals
    // there, `2>/dev/full`, `2>&1 | head`): exit 1 or 141, never a panic's
    // 101.
    let bad = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/ledger-mt102/tests/data/refused.mt102");
    let import = ["import", "mt102", "--dry-run", bad.to_str().unwrap()];
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = si_ledger(&import).stderr(full).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let mut child = si_ledger(&import)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(141));
}

/// An application whose publishing stopped part-way (a full disk, a
/// signal) is completed by running the same `refund apply` again: what is
/// there counts once.
#[test]
fn a_partly_published_application_is_completed_by_applying_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let lines = registered_and_paid(&SERIKBAEV, &["2025-03", "2025-04"]);
    let data = projected(dir.path(), &lines);
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let app = json!({"application_id": "APP-P", "payer_id": PAYER,
        "reason": "excessively paid social contributions", "refunded_ppc": "012",
        "filed_on": "2025-08-02", "signed_by": "first head",
        "employees": [{"iin": C, "period": "2025-03", "amount": "100.00"},
                      {"iin": C, "period": "2025-04", "amount": "200.00"}]});
    let file = dir.path().join("app.json");
    std::fs::write(&file, app.to_string()).unwrap();
    // Its first request alone reached the log, as `refund apply` writes it.
    let first = json!({"timestamp": "2025-08-03T10:00:00+05:00", "envelope": {
        "eventId": "APP-P/1", "iin": C, "source": "refund-application",
        "refund": {"amount": "100.00", "applicationId": "APP-P", "applicationSize": 2,
                   "decidedOn": "2025-08-02", "payerId": PAYER, "period": "2025-03",
                   "reason": "excessively paid social contributions", "refundedPpc": "012"}}});
    let part = dir.path().join("part.jsonl");
    write_lines(&part, &[first]);
    ok(&["publish", "--log", log, part.to_str().unwrap()]);
    let o = unsigned(&["refund", "apply", file.to_str().unwrap(), "--log", log]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 of its 2 requests already published with this content"),
        "{}",
        stderr(&o)
    );
    ok(&["project", "--log", log, "--data", &data]);
    let status = ok(&["refund", "status", "APP-P", "--data", &data]);
    assert!(
        status.contains("2 of 2 requests decided (all), 2 accepted (300.00), 0 refused"),
        "{status}"
    );
}

/// A snapshot restored under `--trust none` (its seal unchecked) makes a
/// store projected under `--trust none`: the trust file the snapshot names
/// is not taken as having vouched for it.
#[test]
fn a_snapshot_restored_unchecked_is_not_a_trusted_store() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let o = si_ledger(&[
        "demo",
        "--participants",
        "20",
        "--data",
        demo.to_str().unwrap(),
    ])
    .env_remove("SI_LEDGER_TRUST")
    .env_remove("SI_LEDGER_SIGNING_KEY_FILE")
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let trust = demo.join("trust.toml");
    let key = demo.join("keys").join("projector.key");
    let with_trust = |args: &[&str]| {
        si_ledger(args)
            .env("SI_LEDGER_TRUST", &trust)
            .env("SI_LEDGER_SIGNING_KEY_FILE", &key)
            .output()
            .unwrap()
    };
    let snap = dir.path().join("s.snap");
    let o = with_trust(&[
        "snapshot",
        "--data",
        demo.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let restored = dir.path().join("r");
    let o = unsigned(&[
        "restore",
        snap.to_str().unwrap(),
        "--data",
        restored.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("its seal unchecked"), "{}", stderr(&o));
    let o = with_trust(&[
        "project",
        "--log",
        demo.join("log").to_str().unwrap(),
        "--data",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("the store took unsigned records"),
        "{}",
        stderr(&o)
    );
    // Restored under the trust file, the same snapshot projects on.
    let checked = dir.path().join("c");
    let o = with_trust(&[
        "restore",
        snap.to_str().unwrap(),
        "--data",
        checked.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = with_trust(&[
        "project",
        "--log",
        demo.join("log").to_str().unwrap(),
        "--data",
        checked.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A future-dated record (published with a wide tolerance) does not let
/// `close-month` close a month that has not ended: the close is judged by
/// the clock its markers carry, as every partition's projector judges them.
#[test]
fn a_future_dated_record_closes_no_future_month() {
    let dir = tempfile::tempdir().unwrap();
    let mut fut = line("fut", &SERIKBAEV, "2031-06", "1000.00", "2031-07-10");
    fut["timestamp"] = json!("2031-08-01T10:00:00+05:00");
    let input = dir.path().join("a.jsonl");
    write_lines(
        &input,
        &[
            registered(&SERIKBAEV, "M"),
            line("c1", &SERIKBAEV, "2025-03", "1000.00", "2025-04-10"),
            fut,
        ],
    );
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    ok(&[
        "publish",
        "--log",
        log,
        input.to_str().unwrap(),
        "--timestamp-after-max-ms",
        "999999999999",
    ]);
    let o = unsigned(&["close-month", "2031-06", "--log", log]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("2031-06 has not ended"),
        "{}",
        stderr(&o)
    );
}
