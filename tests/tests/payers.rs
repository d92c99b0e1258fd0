//! Payers' paths with the real binary on the embedded log: a line that
//! disagrees with the register is returned with a notice to its payer;
//! a refund application is checked as a whole, published one request per
//! employee, and each request is decided and noticed; the application's
//! status is queried; a replay gives the same notices.

use ledger_e2e::payers::{self, APPLICATION, BIN};
use ledger_e2e::{run, stderr, stdout};
use serde_json::Value;

/// The payers' case written to `dir`, published to an embedded log and
/// projected: (case, log, data).
fn projected(dir: &std::path::Path) -> (payers::Case, std::path::PathBuf, std::path::PathBuf) {
    let case = payers::write(dir);
    let (log, data) = (dir.join("log"), dir.join("data"));
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    let p = run(&["publish", "--log", log_s, case.events.to_str().unwrap()]);
    assert!(p.status.success(), "{}", stderr(&p));
    let p = run(&["project", "--log", log_s, "--data", data_s]);
    assert!(p.status.success(), "{}", stderr(&p));
    (case, log, data)
}

fn json(args: &[&str]) -> Value {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn returns_and_refund_decisions_reach_the_payer_as_notices() {
    let dir = tempfile::tempdir().unwrap();
    let case = payers::write(dir.path());
    let (log, data, replayed) = (
        dir.path().join("log"),
        dir.path().join("data"),
        dir.path().join("replayed"),
    );
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    let app_s = case.application.to_str().unwrap();
    let p = run(&["publish", "--log", log_s, case.events.to_str().unwrap()]);
    assert!(p.status.success(), "{}", stderr(&p));
    let p = run(&["project", "--log", log_s, "--data", data_s]);
    assert!(p.status.success(), "{}", stderr(&p));

    // An invalid application is refused as a whole, every problem named.
    let mut bad: Value = serde_json::from_str(&std::fs::read_to_string(app_s).unwrap()).unwrap();
    let one = bad["employees"][0].clone();
    bad["employees"] = Value::Array(vec![one; 11]);
    bad["employees"][3]["iin"] = Value::from("123456789012");
    bad["refunded_ppc"] = Value::from("026");
    let bad_file = dir.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let o = run(&[
        "refund",
        "apply",
        "--log",
        log_s,
        bad_file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for want in [
        "employees: an application names 1 to 10 employees, got 11",
        "employees[3].iin: ",
        "refunded_ppc: must be 012 or 017",
        "employees[1].iin: ",
        "is named twice for 2025-03",
        "nothing published",
    ] {
        assert!(err.contains(want), "{want:?} not in {err}");
    }
    let o = run(&["refund", "status", APPLICATION, "--data", data_s]);
    assert_eq!(o.status.code(), Some(1), "nothing of it was published");

    let o = run(&["refund", "apply", "--log", log_s, app_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3 refund requests published"),
        "{}",
        stdout(&o)
    );
    // Filed twice: the same event ids and contents, no second decision.
    let o = run(&["refund", "apply", "--log", log_s, app_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = run(&["project", "--log", log_s, "--data", data_s]);
    assert!(p.status.success(), "{}", stderr(&p));

    let status = json(&["refund", "status", APPLICATION, "--data", data_s, "--json"]);
    assert_eq!(status["employees"], 3);
    assert_eq!(status["decided"], 3);
    assert_eq!(status["complete"], true);
    assert_eq!(status["accepted"], 1);
    assert_eq!(status["accepted_amount"], "1000.00");
    let decisions = status["decisions"].as_array().unwrap();
    assert_eq!(decisions[0]["decision"], "accepted");
    let why = decisions[1]["reason"].as_str().unwrap();
    assert!(
        why.contains("counted in the participation length of benefit B-1"),
        "{why}"
    );
    let why = decisions[2]["reason"].as_str().unwrap();
    assert!(why.contains("exceeds 4250.00 credited"), "{why}");

    let notices = json(&["notices", "--data", data_s, "--payer", BIN, "--json"]);
    let notices = notices.as_array().unwrap();
    let mut kinds: Vec<&str> = notices
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "LINE_RETURNED",
            "REFUND_ACCEPTED",
            "REFUND_REFUSED",
            "REFUND_REFUSED"
        ],
        "one notice per decision, none for the duplicate requests: {notices:?}"
    );
    let returned = notices
        .iter()
        .find(|n| n["kind"] == "LINE_RETURNED")
        .unwrap();
    assert_eq!(returned["notice_id"], "line-0-wrong");
    assert_eq!(returned["document_number"], "PP-18");
    assert_eq!(returned["amount"], "4250.00");
    assert!(
        returned["reason"]
            .as_str()
            .unwrap()
            .contains("\"Иванова\" differs from the register's \"Ахметова\""),
        "{returned}"
    );
    assert!(
        !returned.to_string().contains(&case.iins[0]),
        "IINs are masked in what the ledger prints"
    );

    // A replay decides the same and stores the same notices.
    let o = run(&[
        "replay",
        "--log",
        log_s,
        "--data",
        replayed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = json(&["notices", "--data", replayed.to_str().unwrap(), "--json"]);
    let all = json(&["notices", "--data", data_s, "--json"]);
    assert_eq!(again, all);
}

/// DOMAIN §5 with the real binary: `entitlement --json` gives the fields
/// reporting jobs read, and an assignment the contributions do not bear out
/// is flagged on the statement, not refused.
#[test]
fn entitlement_prints_the_calculation_and_assignments_are_checked_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let (case, _, data) = projected(dir.path());
    let data_s = data.to_str().unwrap();
    let e = json(&[
        "entitlement",
        &case.iins[0],
        "--data",
        data_s,
        "--type",
        "0705",
        "--as-of",
        "2025-04-10",
        "--json",
    ]);
    // Three months of 4,250.00 at 5 %: 85,000 each; 255,000 / 24.
    assert_eq!(e["participation_months"], 3, "{e}");
    assert_eq!(e["stazh_coefficient"], "0.1");
    assert_eq!(e["average_monthly_income"], "10625.00");
    assert_eq!(e["months_used"], 3);
    assert_eq!(e["amount"], "4250.00");
    assert!(!e.to_string().contains(&case.iins[0]), "the IIN is masked");

    let o = run(&[
        "entitlement",
        &case.iins[0],
        "--data",
        data_s,
        "--type",
        "0702",
        "--as-of",
        "2025-04-10",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("0702 needs --capacity-loss"),
        "{}",
        stderr(&o)
    );

    // B's 0703 was assigned on 2 months of participation. Applied for on
    // 20 February: only January counts (received later, but the month
    // before the right counts whenever received). Flagged, still assigned.
    let st = json(&["account", &case.iins[1], "--data", data_s, "--json"]);
    let b = &st["benefits"][0];
    assert_eq!(b["status"], "ASSIGNED");
    let flags: Vec<&str> = b["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(flags[0].contains("participation_months 2 differs from the ledger's 1"));
    assert!(flags[1].contains("amount 30000.00 differs from the ledger's 0.00"));
}

/// Seed 002 with the real binary: two identifiers with one normalized name
/// and birth date are listed together, with their evidence; others are not.
#[test]
fn duplicates_lists_one_person_under_two_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let (case, _, data) = projected(dir.path());
    let data_s = data.to_str().unwrap();
    let groups = json(&["duplicates", "--data", data_s, "--json"]);
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!(g["full_name"], "АХМЕТОВА АЙГЕРИМ");
    assert_eq!(g["birth_date"], "1990-05-17");
    let mut found: Vec<(&str, &str)> = g["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["iin"].as_str().unwrap(), a["source"].as_str().unwrap()))
        .collect();
    found.sort();
    let mut want = vec![
        (case.iins[0].as_str(), "register"),
        (case.duplicate_of_a.as_str(), "contribution_line"),
    ];
    want.sort();
    assert_eq!(found, want);
}

/// Notices are evidence too: `verify` derives each one from its history
/// entry and names a stored notice that was edited or removed.
#[test]
fn verify_names_an_edited_or_missing_notice() {
    use ledger_store::{Kv, KvBatch, LedgerStore};
    let dir = tempfile::tempdir().unwrap();
    let (_, _, data) = projected(dir.path());
    let data_s = data.to_str().unwrap();
    assert_eq!(run(&["verify", "--data", data_s]).status.code(), Some(0));
    let notices = json(&["notices", "--data", data_s, "--json"]);
    let n = &notices[0];
    let (p, o) = (
        n["partition"].as_u64().unwrap() as u32,
        n["offset"].as_u64().unwrap(),
    );
    let key = [&[b'N'][..], &p.to_be_bytes(), &o.to_be_bytes()].concat();
    let store_dir = data.join("store");

    let store = LedgerStore::open(&store_dir).unwrap();
    let mut value = store
        .backend()
        .get(&key)
        .unwrap()
        .expect("the notice is stored");
    let at = value
        .windows(7)
        .position(|w| w == b"4250.00")
        .expect("the amount");
    value[at] = b'9';
    let mut b = KvBatch::default();
    b.put(key.clone(), value);
    store.backend().write(b).unwrap();
    drop(store);
    let v = run(&["verify", "--data", data_s]);
    assert_eq!(v.status.code(), Some(1));
    let out = stdout(&v) + &stderr(&v);
    assert!(
        out.contains(&format!("p{p}@{o}")) && out.contains("the stored notice differs"),
        "{out}"
    );

    let store = LedgerStore::open(&store_dir).unwrap();
    let mut b = KvBatch::default();
    b.delete(key);
    store.backend().write(b).unwrap();
    drop(store);
    let v = run(&["verify", "--data", data_s]);
    assert_eq!(v.status.code(), Some(1));
    let out = stdout(&v) + &stderr(&v);
    assert!(out.contains("its notice to the payer is missing"), "{out}");
}

/// Seeds 001/002 with the real binary: D, a duplicate of A, is merged into
/// A. A takes D's history under its original event ids (a line published
/// for both before the merge is not counted twice), a line that still comes
/// for D afterwards is redirected to A, both histories show the merge, the
/// month D had reported is restated so the report counts each line once,
/// the same decision published again changes nothing, and a replay of the
/// log gives the same store.
#[test]
fn merge_hands_the_history_to_the_new_identifier_and_redirects_later_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (case, log, data) = projected(dir.path());
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    let (a, d) = (case.iins[0].as_str(), case.duplicate_of_a.as_str());
    let publish = |lines: &[String]| {
        let file = dir.path().join("more.jsonl");
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let p = run(&["publish", "--log", log_s, file.to_str().unwrap()]);
        assert!(p.status.success(), "{}", stderr(&p));
        let p = run(&["project", "--log", log_s, "--data", data_s]);
        assert!(p.status.success(), "{}", stderr(&p));
        stdout(&p)
    };
    // The bank also sent A's January line under D, with the same event id.
    publish(&[payers::line_for("line-0-2025-01", d, "2025-01", "PP-17")]);
    let close = run(&["close-month", "2025-03", "--log", log_s]);
    assert!(close.status.success(), "{}", stderr(&close));
    publish(&[]);
    let report = |data: &str| json(&["report", "monthly", "2025-03", "--data", data, "--json"]);
    let before = report(data_s);

    let mut merge = payers::merge_args(d, a);
    merge.extend(["--log", log_s]);
    let m = run(&merge);
    assert!(m.status.success(), "{}", stderr(&m));
    assert!(
        !stdout(&m).contains(d),
        "the identifier is masked: {}",
        stdout(&m)
    );
    // A line for D after the merge.
    let projected = publish(&[payers::line_for("line-d-late", d, "2025-04", "PP-20")]);
    assert!(
        projected.contains("1 redirected after a merge"),
        "{projected}"
    );

    let st = json(&["account", a, "--data", data_s, "--json"]);
    // A's three lines, D's March line taken over, the redirected April
    // line; the January line under D is A's own, once.
    assert_eq!(st["contributions_total"], "21250.00", "{st}");
    assert_eq!(st["participation_months"], 4, "{st}");
    assert_eq!(st["merged_from"][0]["other"], d, "{st}");
    let old = json(&["account", d, "--data", data_s, "--json"]);
    assert_eq!(old["merged_into"]["other"], a, "{old}");

    let outcomes = |iin: &str| -> Vec<(String, String)> {
        ledger_e2e::history_outcomes(iin, &data)
            .into_iter()
            .map(|(id, outcome, _)| (id, outcome))
            .collect()
    };
    let on_d = outcomes(d);
    assert_eq!(
        on_d.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>(),
        ["applied", "applied", "applied", "redirected"],
        "{on_d:?}"
    );
    let on_a = outcomes(a);
    let tail: Vec<(&str, &str)> = on_a[on_a.len() - 4..]
        .iter()
        .map(|(i, o)| (i.as_str(), o.as_str()))
        .collect();
    let merge_id = on_d[2].0.as_str();
    assert_eq!(
        tail,
        [
            (format!("{merge_id}/into").as_str(), "applied"),
            ("line-d", "applied"),
            ("line-0-2025-01", "duplicate"),
            ("line-d-late", "applied"),
        ],
        "{on_a:?}"
    );

    // March: D's line now counts under A; D's projection restated to zero.
    let after = report(data_s);
    assert_eq!(before["contributions_total"], "17000.00", "{before}");
    assert_eq!(after["contributions_total"], "17000.00", "{after}");
    assert_eq!(before["participants"], 4, "{before}");
    assert_eq!(after["participants"], 3, "{after}");
    let reconciled = &after["reconciliation"]["projections_sum_equals_partition_summaries"];
    assert_eq!(reconciled, true, "{after}");

    // The same decision again is one merge.
    let m = run(&merge);
    assert!(m.status.success(), "{}", stderr(&m));
    let again = publish(&[]);
    assert!(again.contains("1 duplicates ignored"), "{again}");
    let st2 = json(&["account", a, "--data", data_s, "--json"]);
    assert_eq!(st2["contributions_total"], "21250.00", "{st2}");

    let v = run(&["verify", "--data", data_s, "--log", log_s]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
}
