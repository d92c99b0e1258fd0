//! `si-ledger import mt102` end to end: the golden MT102 files of
//! `crates/ledger-mt102/tests/data` (written with Python's codecs) imported
//! into an embedded log and projected.

use ledger_e2e::{balances, run, statements, stderr, stdout};
use std::path::{Path, PathBuf};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/ledger-mt102/tests/data")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn import(log: &Path, files: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", "mt102", "--log", s(log)];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(|f| s(f)));
    run(&args)
}

fn project(log: &Path, data: &Path) -> serde_json::Value {
    let o = run(&["project", "--log", s(log), "--data", s(data), "--json"]);
    assert!(o.status.success(), "project: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).expect("project --json")
}

/// A golden file, its first person (IIN, surname, name, patronymic), and
/// its orders' numbers.
type Golden = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    [&'static str; 2],
);

const ENCODINGS: [Golden; 4] = [
    (
        "utf-8.mt102",
        "851231400011",
        "ӘЛІМОВА",
        "ҒАЛИЯ",
        "ҚАНАТҚЫЗЫ",
        ["110", "111"],
    ),
    (
        "cp866.mt102",
        "851231400021",
        "СЕРИКОВА",
        "АЙГЕРИМ",
        "БОЛАТОВНА",
        ["120", "121"],
    ),
    (
        "cp1251.mt102",
        "851231400031",
        "ІЛИЯСОВА",
        "АЙГЕРИМ",
        "БОЛАТОВНА",
        ["130", "131"],
    ),
    (
        "kz1048.mt102",
        "851231400041",
        "ЖҰМАБАЕВА",
        "ӘСЕЛ",
        "НҰРЛАНҚЫЗЫ",
        ["140", "141"],
    ),
];

/// What each golden encoding file holds, typed here from `make.py`'s
/// orders as JSON lines for `publish` (other event ids, same facts).
fn equivalent_json_lines() -> String {
    let line = |id: String,
                doc: &str,
                total: &str,
                count: u32,
                p: (&str, &str, &str, &str, &str, &str)| {
        let (iin, amount, surname, name, patronymic, birth) = p;
        format!(
            r#"{{"eventId":"{id}","iin":"{iin}","source":"json","contribution":{{"payment":{{"documentNumber":"{doc}","documentDate":"2025-04-10","receivedOn":"2025-04-10","dispatchedOn":"2025-04-10","ppc":"012","payerId":"150340000179","payerName":"ТОО \"ПРИМЕР\"","recipientName":"ГОСКОРПОРАЦИЯ","totalAmount":"{total}","lineCount":{count}}},"period":"2025-03","amount":"{amount}","person":{{"surname":"{surname}","name":"{name}","patronymic":"{patronymic}","birthDate":"{birth}"}}}}}}"#
        ) + "\n"
    };
    let mut out = String::new();
    for (f, first, surname, name, patronymic, [one, multi]) in ENCODINGS {
        let a = (first, "4250.00", surname, name, patronymic, "1985-12-31");
        out += &line(format!("{f}-1-1"), one, "4250.00", 1, a);
        out += &line(format!("{f}-2-1"), multi, "8459.56", 3, a);
        out += &line(
            format!("{f}-2-2"),
            multi,
            "8459.56",
            3,
            (
                "900517300455",
                "2975.00",
                "ЖАНОВ",
                "ЕРЛАН",
                "САПАРОВИЧ",
                "1990-05-17",
            ),
        );
        out += &line(
            format!("{f}-2-3"),
            multi,
            "8459.56",
            3,
            (
                "010203600074",
                "1234.56",
                "НОВИКОВА",
                "ЁЛКА",
                "",
                "2001-02-03",
            ),
        );
    }
    out
}

#[test]
fn every_encoding_imports_to_the_balances_of_the_equivalent_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = ENCODINGS.iter().map(|e| golden(e.0)).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let o = import(&dir.path().join("mt102-log"), &refs, &[]);
    assert_eq!(o.status.code(), Some(0), "import: {}", stderr(&o));
    let out = stdout(&o);
    for (f, enc) in [
        ("utf-8.mt102", "utf-8 (a UTF-8 byte-order mark)"),
        ("cp866.mt102", "cp866 (every byte is a CP866 letter"),
        (
            "cp1251.mt102",
            "cp1251 (every byte is a windows-1251 letter",
        ),
        (
            "kz1048.mt102",
            "kz1048 (Kazakh letters at bytes only KZ-1048 gives them",
        ),
    ] {
        assert!(out.contains(&format!("{f}: {enc}")), "{f}: {out}");
    }
    assert!(out.contains("16 lines imported, 50838.24 KZT"), "{out}");

    let json = dir.path().join("lines.jsonl");
    std::fs::write(&json, equivalent_json_lines()).unwrap();
    let o = run(&[
        "publish",
        "--log",
        s(&dir.path().join("json-log")),
        s(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "publish: {}", stderr(&o));

    project(&dir.path().join("mt102-log"), &dir.path().join("mt102"));
    project(&dir.path().join("json-log"), &dir.path().join("json"));
    let a = statements(&dir.path().join("mt102"));
    assert_eq!(a.len(), 6);
    assert_eq!(a, statements(&dir.path().join("json")));
    let total =
        |iin: &str| a.iter().find(|s| s["iin"] == iin).unwrap()["contributions_total"].clone();
    // Each file's own first person, and one of the three every file pays.
    assert_eq!(total("851231400041"), "8500.00");
    assert_eq!(total("900517300455"), "11900.00");
}

#[test]
fn importing_an_order_again_from_any_file_changes_no_balance() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let data = dir.path().join("data");
    let (cp866, anomalies) = (golden("cp866.mt102"), golden("anomalies.mt102"));
    let o = import(&log, &[&cp866, &anomalies], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = project(&log, &data);
    assert_eq!(first["applied"], 7, "{first}");
    let before = balances(&data);

    // The same files again, and the orders re-sent inside another file
    // under another name, in another order, in another encoding's CRLF.
    let resent = dir.path().join("re-sent from the bank.txt");
    let mut bytes = std::fs::read(&anomalies).unwrap();
    bytes.extend(std::fs::read(&cp866).unwrap());
    std::fs::write(&resent, bytes).unwrap();
    let o = import(&log, &[&cp866, &anomalies, &resent], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let again = project(&log, &data);
    assert_eq!(again["applied"], 0, "{again}");
    assert_eq!(again["duplicates"], 14, "{again}");
    assert_eq!(balances(&data), before);
}

#[test]
fn refusals_name_the_file_line_reference_number_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let file = golden("refused.mt102");
    let o = import(
        &log,
        &[&file],
        &["--received-on", "2025-04-11", "--source", "bank-x"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let f = s(&file);
    let expected = [
        format!("{f}:44: :20: BAD00001 /NUM/ 301: :32A: the lines' :32B: amounts add up to 4350.00, not the total 4000.00"),
        format!("{f}:59: :20: BAD00002 /NUM/ 302: :59: account: KZ12009NPS0413609816 is not the account for purpose code 012 (KZ67009SS00368609110)"),
        format!("{f}:112: :20: BAD00003 /NUM/ 303: :70:/OPV/: \"C\" does not fit purpose code 012, whose lines are S"),
        format!("{f}:148: :20: BAD00004 /NUM/ 304: :32B: \"4250,555\" has more than two decimals"),
        format!("{f}:182: :20: BAD00005 /NUM/ 305: :70:/PERIOD/: \"13.2025\" is not a period (MMYYYY, MM.YYYY, MYYYY or YYYY-MM)"),
        format!("{f}:236: :20: BAD00006 /NUM/ 306: :70:/IDN/: 9005******56: check digit does not match (expected 5, found 6)"),
        format!("{f}:274: :20: BAD00008 /NUM/ 308: :70:/IDN/: is given twice"),
        format!("{f}:277: :20: BAD00009 /NUM/ 309: :57B: is missing: :57B:GCVPKZ2A (the State Corporation) belongs before :59:"),
        format!("{f}:316: :20: BAD00010-TOO-LONG /NUM/ 310: :20: must be 1-16 characters without control characters"),
        format!("{f}:383: :20: BAD00011 /NUM/ 311: :70:/DT/: year out of 1900-2200 (the value is personal data: not quoted)"),
        format!("{f}:414: :20: BAD00012 /NUM/ 312: :21: 1/../x is not a line number (1-16 letters and digits)"),
        format!("{f}:424: :20: BAD00007 /NUM/ 307: (message): the message starting here has no end (-}}) before the end of the file"),
    ];
    assert_eq!(stderr(&o).lines().collect::<Vec<_>>(), expected);
    assert!(!stderr(&o).contains("900517300456"), "an IIN unmasked");

    // Only the keyed line of BAD00006 reached the log; its order is short.
    let data = dir.path().join("data");
    let p = project(&log, &data);
    assert_eq!(
        (p["records"].as_u64(), p["applied"].as_u64()),
        (Some(1), Some(1)),
        "{p}"
    );
    let o = run(&["payments", "--data", s(&data)]);
    assert!(
        stdout(&o)
            .contains("document 306 received 2025-04-11: 1 of 2 lines, 4250.00 of total 4350.00"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_dry_run_writes_nothing_and_json_gives_one_object_per_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let (cp866, anomalies, refused) = (
        golden("cp866.mt102"),
        golden("anomalies.mt102"),
        golden("refused.mt102"),
    );
    let o = import(
        &log,
        &[&cp866, &anomalies, &refused],
        &["--dry-run", "--json"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!log.exists(), "a dry run created the log");
    let objects: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let outcomes: Vec<&str> = objects
        .iter()
        .filter_map(|v| v["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        [
            "imported", "imported", "file", "imported", "skipped", "file", "refused", "refused",
            "refused", "refused", "refused", "imported", "refused", "refused", "refused",
            "refused", "refused", "refused", "file"
        ]
    );
    // Each file's object says how it was read and what it came to.
    let cp866_file = &objects[2];
    assert_eq!(cp866_file["encoding"], "cp866");
    assert!(cp866_file["encoding_reason"]
        .as_str()
        .unwrap()
        .starts_with("every byte is a CP866 letter"));
    assert_eq!(
        (
            cp866_file["orders"].as_u64(),
            cp866_file["lines_imported"].as_u64()
        ),
        (Some(2), Some(4))
    );
    assert_eq!(cp866_file["sum"], "12709.56");
    assert_eq!(objects[18]["orders_refused"], 11);
    assert_eq!(objects[18]["lines_refused"], 1);
    // A refused order's object: its own line, and where and why.
    let bad = &objects[6];
    assert_eq!(
        (bad["line"].as_u64(), bad["reference"].as_str()),
        (Some(1), Some("BAD00001"))
    );
    assert_eq!(bad["refusal"]["line"], 44);
    assert_eq!(bad["refusal"]["field"], ":32A:");
    let short = &objects[11];
    assert_eq!(short["reference"], "BAD00006");
    assert_eq!(short["imported"], 1);
    assert_eq!(short["line_count"], 2);
    assert_eq!(short["refused"][0]["line"], 236);
    assert_eq!(objects[4]["ppc"], "010");
    let summary = &objects.last().unwrap()["summary"];
    assert_eq!(summary["lines_imported"], 8);
    assert_eq!(summary["skipped"]["010"], 1);
    assert_eq!(summary["dry_run"], true);
}

#[test]
fn rnn_era_lines_take_their_iin_from_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let file = golden("rnn-era.mt102");
    let o = import(&log, &[&file], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(":50:/RNN/: an RNN-era payer (an RNN, no IIN or BIN): give --rnn-map"),
        "{}",
        stderr(&o)
    );

    let map = golden("rnn-map.csv");
    let o = import(&log, &[&file], &["--rnn-map", s(&map)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let data = dir.path().join("data");
    project(&log, &data);
    let st = statements(&data);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["iin"], "770101301234");
    assert_eq!(st[0]["periods"][0]["period"], "2010-09");

    // A map with a bad row stops the run before anything is read.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "rnn,iin\n600400112233,770101301235\n").unwrap();
    let o = import(&log, &[&file], &["--rnn-map", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad.csv line 2: 7701******35: check digit"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_of_undecidable_encoding_is_refused_and_the_others_imported() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.mt102");
    // 0xB0 0xB1: box drawing in CP866, ° ± in windows-1251 and KZ-1048.
    let mut bytes = std::fs::read(golden("cp866.mt102")).unwrap();
    bytes.extend_from_slice(b"\xB0\xB1\r\n");
    std::fs::write(&odd, bytes).unwrap();
    let log = dir.path().join("log");
    let o = import(&log, &[&odd, &golden("cp1251.mt102")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("odd.mt102: cannot tell the encoding: as CP866 byte 0xB0 at line 90"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("Give --encoding"));
    assert!(stdout(&o).contains("4 lines imported"), "{}", stdout(&o));
    // Told the encoding, it reads: the two bytes are text outside a message.
    let o = import(&log, &[&odd], &["--encoding", "cp866"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("odd.mt102:90: text outside any message"),
        "{}",
        stderr(&o)
    );
}

/// 6,000 three-line orders (18,000 lines, three chunks) in one file:
/// the UTF-8 golden file's second order under new `:20:` references.
fn many_orders(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(golden("utf-8.mt102")).unwrap();
    let text = text.trim_start_matches('\u{FEFF}');
    let second = &text[text.find("{1:").unwrap() + 1..];
    let second = &second[second.find("{1:").unwrap()..];
    let mut out = String::new();
    for i in 0..6_000 {
        out += &second.replace(":20:UTF0002", &format!(":20:MANY{i:05}"));
    }
    let path = dir.join("many.mt102");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn an_import_killed_at_any_moment_and_run_again_gives_the_clean_balances() {
    let dir = tempfile::tempdir().unwrap();
    let file = many_orders(dir.path());
    let clean_log = dir.path().join("clean-log");
    let o = import(&clean_log, &[&file], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("18000 lines imported"),
        "{}",
        stdout(&o)
    );
    project(&clean_log, &dir.path().join("clean"));
    let clean = balances(&dir.path().join("clean"));

    for (round, wait_ms) in [100u64, 500, 900].into_iter().enumerate() {
        let log = dir.path().join(format!("log-{round}"));
        let mut child = ledger_e2e::si_ledger(&["import", "mt102", "--log", s(&log), s(&file)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let o = import(&log, &[&file], &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let data = dir.path().join(format!("data-{round}"));
        project(&log, &data);
        assert_eq!(balances(&data), clean, "killed after {wait_ms} ms");
    }

    // SIGTERM stops between orders, says how far the import got, and its
    // summary counts exactly what reached the log.
    let log = dir.path().join("log-term");
    let child = ledger_e2e::si_ledger(&["import", "mt102", "--json", "--log", s(&log), s(&file)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    ledger_e2e::sigterm(&child);
    let o = child.wait_with_output().unwrap();
    if o.status.code() != Some(0) {
        assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("import interrupted by SIGTERM: ")
                && stderr(&o).contains("Importing the same files again is safe"),
            "{}",
            stderr(&o)
        );
    }
    let out = stdout(&o);
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let imported = summary["summary"]["lines_imported"].as_u64().unwrap();
    let reported: u64 = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["imported"].as_u64())
        .sum();
    let records = project(&log, &dir.path().join("data-term"))["records"]
        .as_u64()
        .unwrap();
    assert_eq!((imported, reported), (records, records), "{}", stderr(&o));
}

#[test]
fn a_penalty_order_is_credited_as_penalties() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let o = import(&log, &[&golden("penalty.mt102")], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let data = dir.path().join("data");
    project(&log, &data);
    let st = statements(&data);
    let penalties: Vec<(&str, &str, &str)> = st
        .iter()
        .map(|s| {
            (
                s["iin"].as_str().unwrap(),
                s["penalties_total"].as_str().unwrap(),
                s["contributions_total"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        penalties,
        [
            ("900517300455", "87.50", "0.00"),
            ("851231400011", "312.50", "0.00")
        ]
    );
}

#[test]
fn a_receipt_before_the_value_date_and_files_that_are_not_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let utf8 = golden("utf-8.mt102");
    let o = import(
        &log,
        &[&utf8],
        &["--received-on", "2025-04-09", "--dry-run"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(":36: :20: UTF0001 /NUM/ 110: :32A: the money cannot be received (2025-04-09, --received-on) before its value date 2025-04-10"),
        "{}",
        stderr(&o)
    );
    // A FIFO (whose opening would wait for a writer) and a directory.
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let o = import(&log, &[&fifo, dir.path(), &utf8], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("fifo: is not a regular file"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("3 files (2 refused)"), "{}", stdout(&o));
    assert!(stdout(&o).contains("4 lines imported"), "{}", stdout(&o));
}

#[test]
fn the_message_layout_in_the_reference_imports() {
    // docs/reference.md's annotated message, its notes cut off.
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference.md"))
            .unwrap();
    let start = doc.find("```text\n{1:F01").expect("the annotated message") + "```text\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let text: String = doc[start..end]
        .lines()
        .map(|l| l.split("  ").next().unwrap().to_string() + "\n")
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.mt102");
    std::fs::write(&file, text).unwrap();
    let o = run(&["import", "mt102", "--dry-run", s(&file)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 of 1 lines valid (dry run), 4250.00 of 4250.00 KZT"),
        "{}",
        stdout(&o)
    );
}
