//! The CLI as a user meets it: real binary, real files.

use ledger_e2e::{run, stderr, stdout};
use serde_json::Value;

const IIN: &str = "900517400451"; // synthetic, from the project's generator
const BIN: &str = "150340000179";

fn line(id: &str, amount: &str, birth: &str, extra: &str) -> String {
    format!(
        r#"{{"timestamp":"2025-04-10T15:00:00+05:00","envelope":{{"eventId":"{id}","iin":"{IIN}","source":"bank",
        "contribution":{{"payment":{{"receivedOn":"2025-04-10","ppc":"012","payerId":"{BIN}"}},"period":"2025-03",
        "amount":"{amount}","person":{{"surname":"Ахметова","name":"Айгерим","birthDate":"{birth}"}}{extra}}}}}}}"#
    )
    .replace('\n', "")
}

#[test]
fn publish_project_account_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let file = dir.path().join("in.jsonl");
    let refund = format!(
        r#"{{"eventId":"r1","iin":"{IIN}","source":"fund","refund":{{"applicationId":"A1","refundedPpc":"012","period":"2025-03","amount":"5000.00","payerId":"{BIN}","decidedOn":"2025-05-01"}}}}"#
    );
    let lines = [
        line("c1", "4250.00", "1990-05-17", ""),
        line("c1", "4250.00", "1990-05-17", ""), // duplicate publish
        line("c2", "100.00", "1990-05-18", ""),  // disagrees with the IIN: returned
        line("c3", "1.005", "1990-05-17", ""),   // refused at the door
        line("c1", "9999.00", "1990-05-17", ""), // same id, other content: conflict
        refund,                                  // exceeds what was paid: refused
        String::new(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (log_s, data_s, file_s) = (
        log.to_str().unwrap(),
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    );

    let dry = run(&["publish", "--log", log_s, "--dry-run", file_s]);
    assert_eq!(dry.status.code(), Some(2));
    assert!(!log.join("log.json").exists(), "dry run publishes nothing");

    let p = run(&["publish", "--log", log_s, "--json", file_s]);
    assert_eq!(
        p.status.code(),
        Some(2),
        "a refused line makes the exit code non-zero"
    );
    assert!(
        stderr(&p).contains("line 4: envelope.contribution.amount: more than two decimals"),
        "{}",
        stderr(&p)
    );
    let summary: Value = serde_json::from_str(&stdout(&p)).unwrap();
    assert_eq!(summary["published"], 5);
    assert_eq!(summary["refused"], 1);

    let pr = run(&["project", "--log", log_s, "--data", data_s, "--json"]);
    assert!(pr.status.success(), "{}", stderr(&pr));
    let counts: Value = serde_json::from_str(&stdout(&pr)).unwrap();
    let count = |k: &str| counts[k].as_u64().unwrap();
    assert_eq!(
        [
            "records",
            "applied",
            "returned",
            "duplicates",
            "conflicts",
            "refused",
            "dead_letters"
        ]
        .map(count),
        [5, 1, 1, 1, 1, 1, 1],
        "{counts}"
    );
    // Projecting again changes nothing: the offsets are in the store.
    let again = run(&["project", "--log", log_s, "--data", data_s]);
    assert!(
        stdout(&again).contains("projected 0 records"),
        "{}",
        stdout(&again)
    );

    let a = run(&["account", IIN, "--data", data_s, "--json"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let st: Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(st["iin"], IIN);
    assert_eq!(st["contributions_total"], "4250.00");
    assert_eq!(st["returned_total"], "100.00");
    assert_eq!(st["refunds_total"], "0.00");
    assert_eq!(st["duplicates_ignored"], 1);
    assert_eq!(st["participation_months"], 1);
    assert_eq!(st["late_recordings"], 0);
    assert_eq!(st["periods"][0]["period"], "2025-03");
    assert_eq!(st["rejections"].as_array().unwrap().len(), 3, "{st}");
    for field in ["person", "penalties_total", "benefits"] {
        assert!(st.get(field).is_some(), "statement lacks {field}");
    }

    // The history: every record, in log order, with its outcome.
    let h = run(&["history", IIN, "--data", data_s, "--json"]);
    assert!(h.status.success(), "{}", stderr(&h));
    let hist: Value = serde_json::from_str(&stdout(&h)).unwrap();
    let hist = hist.as_array().unwrap();
    let field = |k: &str| hist.iter().map(|e| e[k].clone()).collect::<Vec<_>>();
    assert_eq!(
        field("outcome"),
        ["applied", "duplicate", "returned", "conflict", "refused"].map(Value::from),
        "{hist:?}"
    );
    assert_eq!(field("offset"), (0..5).map(Value::from).collect::<Vec<_>>());
    assert_eq!(
        field("event_id"),
        ["c1", "c1", "c2", "c1", "r1"].map(Value::from)
    );
    assert_eq!(hist[0]["kind"], "contribution");
    assert_eq!(hist[0]["recorded_at"], "2025-04-10T10:00:00.000Z");
    assert_eq!(hist[0]["dates"]["period"], "2025-03");
    assert_eq!(hist[0]["dates"]["received_on"], "2025-04-10");
    assert_eq!(hist[4]["kind"], "refund");
    assert_eq!(hist[4]["dates"]["decided_on"], "2025-05-01");
    assert!(
        hist[4]["reason"].as_str().unwrap().contains("exceeds"),
        "{}",
        hist[4]
    );
    let text = stdout(&run(&["history", IIN, "--data", data_s]));
    assert!(
        text.contains("9005******51") && !text.contains(IIN),
        "{text}"
    );

    let d = run(&["dead-letters", "--data", data_s, "--json"]);
    let dl: Value = serde_json::from_str(&stdout(&d)).unwrap();
    assert_eq!(dl.as_array().unwrap().len(), 1);
    assert_eq!(dl[0]["kind"], "conflict");
    assert_eq!(dl[0]["key"], "9005******51", "keys are masked");

    let missing = run(&["account", "871008401427", "--data", data_s]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("8710******27") && !stderr(&missing).contains("871008401427")
    );
}

#[test]
fn late_line_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let file = dir.path().join("in.jsonl");
    // Received Thursday 2025-04-10; deadline end of Friday 2025-04-11 (+05:00).
    let late =
        line("c9", "10.00", "1990-05-17", "").replace("2025-04-10T15:00:00", "2025-04-12T00:00:01");
    std::fs::write(&file, late).unwrap();
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    assert!(run(&["publish", "--log", log_s, file.to_str().unwrap()])
        .status
        .success());
    assert!(run(&["project", "--log", log_s, "--data", data_s])
        .status
        .success());
    let st: Value =
        serde_json::from_str(&stdout(&run(&["account", IIN, "--data", data_s, "--json"]))).unwrap();
    assert_eq!(st["late_recordings"], 1);
}

#[test]
fn iin_check_and_calendar() {
    let o = run(&["iin", "check", "871008401427", "000813159890", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an invalid id makes the exit code non-zero"
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[0]["kind"], "iin");
    assert_eq!(v[0]["birth_date"], "1987-10-08");
    assert_eq!(v[0]["sex"], "F");
    assert_eq!(v[1]["valid"], false);
    assert!(v[1]["error"].as_str().unwrap().contains("never issued"));

    let d: Value = serde_json::from_str(&stdout(&run(&[
        "calendar",
        "deadline",
        "2024-12-31",
        "--json",
    ])))
    .unwrap();
    assert_eq!(d["received_on"], "2024-12-31");
    assert_eq!(d["deadline"], "2025-01-05T23:59:59.999+05:00");
    let w: Value = serde_json::from_str(&stdout(&run(&[
        "calendar",
        "working-day",
        "2026-08-31",
        "--json",
    ])))
    .unwrap();
    assert_eq!(w["working_day"], true);
}

#[test]
fn demo_runs_small() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let o = run(&[
        "demo",
        "--participants",
        "50",
        "--months",
        "3",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("refused at the door"), "{out}");
    assert!(out.contains("50 accounts"), "{out}");
    // A second run replaces its own directory.
    assert!(run(&[
        "demo",
        "--participants",
        "5",
        "--months",
        "1",
        "--data",
        data.to_str().unwrap()
    ])
    .status
    .success());
}

/// The README's first command, as a newcomer runs it (no trust file, no
/// key): the demo makes its own authorities, signs every privileged line
/// with its authority's key, and its store verifies under the trust file it
/// records; nothing privileged is refused for want of a signature.
#[test]
fn the_demo_makes_its_own_authorities() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let clean = |args: &[&str]| {
        let mut c = ledger_e2e::si_ledger(args);
        c.env_remove("SI_LEDGER_TRUST")
            .env_remove("SI_LEDGER_SIGNING_KEY_FILE");
        c.output().unwrap()
    };
    let d = data.to_str().unwrap();
    let o = clean(&["demo", "--participants", "40", "--months", "3", "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("trust.toml"), "{}", stdout(&o));
    for who in ["register", "fund", "operator", "projector"] {
        let key = data.join("keys").join(format!("{who}.key"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }
    let dead = clean(&["dead-letters", "--data", d, "--json"]);
    assert!(!stdout(&dead).contains("unauthorized"), "{}", stdout(&dead));
    let accounts = stdout(&clean(&["accounts", "--data", d]));
    assert!(!accounts.contains("unauthorized"), "{accounts}");
    let v = clean(&["verify", "--data", d, "--log", &format!("{d}/log")]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    // Projecting on needs the trust choice; the demo's file is accepted.
    let o = clean(&["project", "--log", &format!("{d}/log"), "--data", d]);
    assert!(!o.status.success());
    let trust = format!("{d}/trust.toml");
    let key = format!("{d}/keys/projector.key");
    let o = clean(&[
        "project",
        "--log",
        &format!("{d}/log"),
        "--data",
        d,
        "--trust",
        &trust,
        "--signing-key",
        &key,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn as_of_and_as_known_on_answer_for_the_past_after_corrections() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let file = dir.path().join("in.jsonl");
    // March paid on 10 April; a refund of part of it decided and recorded on
    // 5 May; April paid on 12 May.
    let refund = format!(
        r#"{{"timestamp":"2025-05-05T12:00:00+05:00","envelope":{{"eventId":"r1","iin":"{IIN}","source":"fund","refund":{{"applicationId":"A1","refundedPpc":"012","period":"2025-03","amount":"1000.00","payerId":"{BIN}","decidedOn":"2025-05-05"}}}}}}"#
    );
    let april = line("c2", "4300.00", "1990-05-17", "")
        .replace("2025-04-10T15:00:00+05:00", "2025-05-12T11:00:00+05:00")
        .replace(
            r#""receivedOn":"2025-04-10""#,
            r#""receivedOn":"2025-05-12""#,
        )
        .replace(r#""period":"2025-03""#, r#""period":"2025-04""#);
    let lines = [line("c1", "4250.00", "1990-05-17", ""), refund, april];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    let p = run(&["publish", "--log", log_s, file.to_str().unwrap()]);
    assert!(p.status.success(), "{}", stderr(&p));
    let pr = run(&["project", "--log", log_s, "--data", data_s]);
    assert!(pr.status.success(), "{}", stderr(&pr));

    let view = |extra: &[&str]| -> Value {
        let mut args = vec!["account", IIN, "--data", data_s, "--json"];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let sums = |v: &Value| {
        [
            v["contributions_total"].as_str().unwrap().to_string(),
            v["refunds_total"].as_str().unwrap().to_string(),
        ]
    };
    // Today: everything.
    assert_eq!(sums(&view(&[])), ["8550.00", "1000.00"]);
    // March as known on 10 April: paid, not yet refunded.
    let march_then = view(&["--as-of", "2025-03-31", "--as-known-on", "2025-04-10"]);
    assert_eq!(sums(&march_then), ["4250.00", "0.00"]);
    assert_eq!(march_then["periods"].as_array().unwrap().len(), 1);
    // Known on 9 April: nothing yet.
    let before = view(&["--as-of", "2025-03-31", "--as-known-on", "2025-04-09"]);
    assert_eq!(sums(&before), ["0.00", "0.00"]);
    // March as known on 5 May: after the correction.
    let march_later = view(&["--as-of", "2025-03-31", "--as-known-on", "2025-05-05"]);
    assert_eq!(sums(&march_later), ["4250.00", "1000.00"]);
    // All periods through April, as known today.
    assert_eq!(
        sums(&view(&["--as-of", "2025-04-30"])),
        ["8550.00", "1000.00"]
    );
    // A bad date is an error naming the flag.
    let bad = run(&["account", IIN, "--data", data_s, "--as-of", "2025-13-01"]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(stderr(&bad).contains("--as-of"), "{}", stderr(&bad));
}

#[test]
fn verify_finds_every_difference_and_masks_the_iin() {
    let dir = tempfile::tempdir().unwrap();
    let project = |name: &str, lines: &[String]| {
        let file = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&file, lines.join("\n")).unwrap();
        let log = dir.path().join(format!("{name}-log"));
        let data = dir.path().join(format!("{name}-data"));
        let (l, d) = (log.to_str().unwrap(), data.to_str().unwrap());
        assert!(run(&["publish", "--log", l, file.to_str().unwrap()])
            .status
            .success());
        assert!(run(&["project", "--log", l, "--data", d]).status.success());
        (log, data)
    };
    let full = [
        line("c1", "4250.00", "1990-05-17", ""),
        line("c2", "4250.00", "1990-05-17", "")
            .replace(r#""period":"2025-03""#, r#""period":"2025-02""#),
    ];
    let (log, data) = project("full", &full);
    let (_, short) = project("short", &full[..1]);
    let d = data.to_str().unwrap();

    let same = run(&["verify", "--data", d, "--log", log.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert!(stdout(&same).contains("verified"), "{}", stdout(&same));

    let diff = run(&["verify", "--data", d, "--against", short.to_str().unwrap()]);
    assert_eq!(diff.status.code(), Some(1), "{}", stdout(&diff));
    let out = stdout(&diff);
    assert!(
        out.contains("9005******51  contributions_total: \"8500.00\" ≠ \"4250.00\""),
        "{out}"
    );
    assert!(out.contains("offsets"), "{out}");
    assert!(!out.contains(IIN), "IINs are masked: {out}");
    let json = run(&[
        "verify",
        "--data",
        d,
        "--against",
        short.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["broken_links"], serde_json::json!([]), "{v}");
    let fields: Vec<&str> = v["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"participation_months")
            && fields.contains(&"periods")
            && fields.contains(&"digest"),
        "{fields:?}"
    );
}

/// DOMAIN §2, seed 002: the same ledger serves the Kyrgyz Social Fund with
/// `--id-scheme kg`. Participants and payers are 14-digit numbers; an IIN
/// is refused at the door with the field and the reason; a line whose
/// birth date differs from the PIN's is returned; the store remembers the
/// scheme and refuses to be read under the other.
#[test]
fn a_kyrgyz_deployment_keys_accounts_by_pin() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    // Synthetic: a woman born 17 May 1990, serial 00001; an organization.
    let (pin, payer) = ("11705199000001", "01504200310012");
    let kg_line = |id: &str, iin: &str, birth: &str| {
        format!(
            r#"{{"timestamp":"2025-04-10T15:00:00+06:00","envelope":{{"eventId":"{id}","iin":"{iin}","source":"bank","contribution":{{"payment":{{"receivedOn":"2025-04-10","ppc":"012","payerId":"{payer}"}},"period":"2025-03","amount":"3000.00","person":{{"surname":"Асанова","name":"Айгуль","birthDate":"{birth}"}}}}}}}}"#
        )
    };
    let file = dir.path().join("kg.jsonl");
    let lines = [
        kg_line("kg-1", pin, "1990-05-17"),
        kg_line("kg-2", pin, "1990-05-18"), // differs from the PIN: returned
        kg_line("kg-3", IIN, "1990-05-17"), // a Kazakh IIN: refused at the door
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let kg = |args: &[&str]| {
        let mut all = vec!["--id-scheme", "kg"];
        all.extend_from_slice(args);
        run(&all)
    };
    let p = kg(&["publish", "--log", log_s, file.to_str().unwrap()]);
    assert_eq!(p.status.code(), Some(2), "{}", stderr(&p));
    assert!(
        stderr(&p).contains("line 3")
            && stderr(&p).contains("iin: must be exactly 14 digits, got 12"),
        "{}",
        stderr(&p)
    );
    let p = kg(&["project", "--log", log_s, "--data", data_s]);
    assert!(p.status.success(), "{}", stderr(&p));
    let a = kg(&["account", pin, "--data", data_s, "--json"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let st: Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(st["iin"], pin);
    assert_eq!(st["contributions_total"], "3000.00", "{st}");
    assert_eq!(st["returned_total"], "3000.00", "{st}");
    assert!(
        st["rejections"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1990-05-17 encoded in the PIN"),
        "{st}"
    );
    let check = kg(&["iin", "check", pin, "--json"]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("1990-05-17"), "{}", stdout(&check));
    // The store is the Kyrgyz deployment's: read under the default scheme,
    // it says so instead of misreading.
    let wrong = run(&["account", IIN, "--data", data_s]);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("--id-scheme kg"),
        "{}",
        stderr(&wrong)
    );
}

/// A read-only bind mount of a directory, unmounted when dropped.
struct ReadOnlyMount(std::path::PathBuf);

impl ReadOnlyMount {
    /// `mount --bind from at`, then remounted read-only: what an auditor's
    /// evidence copy on read-only media looks like to a process (`EROFS`,
    /// even for root, whom `chmod a-w` would not stop).
    fn new(from: &std::path::Path, at: &std::path::Path) -> ReadOnlyMount {
        std::fs::create_dir_all(at).unwrap();
        let mount = |args: &[&std::ffi::OsStr]| {
            let o = std::process::Command::new("mount")
                .args(args)
                .output()
                .expect("mount(8) runs");
            assert!(o.status.success(), "mount {args:?}: {}", stderr(&o));
        };
        mount(&["--bind".as_ref(), from.as_os_str(), at.as_os_str()]);
        let guard = ReadOnlyMount(at.to_path_buf());
        mount(&["-o".as_ref(), "remount,bind,ro".as_ref(), at.as_os_str()]);
        guard
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| stdout(&o).trim() == "0")
}

/// Issue 25 case 13: every command that only reads a store reads one on a
/// read-only mount, with the same answers as on the writable original,
/// on both engines; and a store held by another process is still "in use".
#[test]
fn every_read_command_reads_a_store_on_a_read_only_mount() {
    if !running_as_root() {
        eprintln!("skipped: a read-only bind mount needs root (CI runs as root)");
        return;
    }
    ledger_e2e::on_each_engine(|engine| {
        let dir = tempfile::tempdir().unwrap();
        let (demo, printed) = ledger_e2e::demo_output(dir.path(), 30, 6);
        let iin = printed
            .split("account ")
            .nth(1)
            .and_then(|s| s.get(..12))
            .expect("the demo names an account")
            .to_string();
        let ro = dir.path().join("ro");
        let snap = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        let reads = |data: &str, snapshot: &str| -> Vec<Vec<String>> {
            let mut reads: Vec<Vec<String>> = [
                vec!["account", &iin, "--json"],
                vec!["history", &iin],
                vec!["accounts"],
                vec!["digest"],
                vec!["verify"],
                vec!["payments", "--all"],
                vec!["dead-letters"],
                vec!["notices"],
                vec!["duplicates"],
                vec![
                    "entitlement",
                    &iin,
                    "--type",
                    "0703",
                    "--as-of",
                    "2026-01-10",
                ],
                vec!["access-log"],
            ]
            .iter()
            .map(|a| a.iter().map(|s| s.to_string()).collect())
            .collect();
            reads.push(vec!["snapshot".into(), "--out".into(), snapshot.into()]);
            for r in &mut reads {
                r.extend(["--data".to_string(), data.to_string()]);
            }
            reads
        };
        let answers = |data: &str, snapshot: &str| -> Vec<String> {
            reads(data, snapshot)
                .iter()
                .map(|args| {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let o = run(&args);
                    assert!(
                        o.status.success(),
                        "{engine}: {args:?} failed: {}",
                        stderr(&o)
                    );
                    // On the read-only mount every command that opens the
                    // store says it reads a private copy.
                    let copied = stderr(&o).contains("reading a private copy");
                    assert!(
                        copied == data.ends_with("/ro") || args[0] == "access-log",
                        "{engine}: {args:?}: {}",
                        stderr(&o)
                    );
                    // The snapshot's file name is the one difference (its
                    // digest is printed).
                    stdout(&o).replace(snapshot, "SNAPSHOT")
                })
                .collect()
        };
        let writable = answers(demo.to_str().unwrap(), &snap("rw.snap"));
        let _mount = ReadOnlyMount::new(&demo, &ro);
        let ro_s = ro.to_str().unwrap();
        assert!(
            std::fs::write(ro.join("probe"), b"x").is_err(),
            "the mount is read-only"
        );
        assert_eq!(
            answers(ro_s, &snap("ro.snap")),
            writable,
            "{engine}: a read-only store answers as the writable one"
        );
        // A store another process holds (a projector) is still in use,
        // read-only mount or not: nothing is copied from under a writer.
        let lock = demo
            .join("store")
            .join(if engine == "sled" { "db" } else { "lock" });
        let mut holder = ledger_e2e::Reaped(Some(
            std::process::Command::new("flock")
                .args(["-x", lock.to_str().unwrap(), "sleep", "60"])
                .spawn()
                .expect("flock(1) runs"),
        ));
        let held = || {
            let o = run(&["verify", "--data", ro_s]);
            (!o.status.success() && stderr(&o).contains("in use"), o)
        };
        let mut o = held();
        for _ in 0..100 {
            if o.0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            o = held();
        }
        assert!(o.0, "{engine}: {}", stderr(&o.1));
        assert!(holder.child().try_wait().unwrap().is_none());
    });
}
