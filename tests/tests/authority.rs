//! Issue 15, who may say what: privileged records need the signature of an
//! authority allowed their kind (docs/authority.md). Each test fails on
//! 98db4c8, where a bank could merge, transfer, register and close.

use ledger_e2e::{run, si_ledger, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The cases of `../shared/cases/wave2/`: a forged merge between a bank's
/// two lines for a woman, and a forged opening transfer with a
/// 5,000,000.00 contribution inside.
const FORGED_MERGE: &str = include_str!("../cases/wave2/12-forged-merge.jsonl");
const FORGED_TRANSFER: &str = include_str!("../cases/wave2/13-forged-transfer.jsonl");
const HER: &str = "900517400451";
const HIM: &str = "851102300013";

/// A deployment: one key per authority of the default split, an operator
/// key that expired in 2002, and the trust file naming them.
struct Deployment {
    dir: PathBuf,
    trust: PathBuf,
}

impl Deployment {
    fn new(dir: &Path) -> Deployment {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let mut entries = std::collections::BTreeMap::new();
        let authorities = ["register", "fund", "operator", "projector"];
        // Each authority's current key (from 2000) and an old one, valid
        // for 2001 only.
        let names: Vec<(String, &str)> = authorities
            .iter()
            .flat_map(|a| {
                [
                    (a.to_string(), "2000-01-01T00:00:00Z"),
                    (format!("{a}-old"), "2001-01-01T00:00:00Z"),
                ]
            })
            .collect();
        for (name, from) in &names {
            let key = keys.join(format!("{name}.key"));
            let o = run(&[
                "keygen",
                "--out",
                arg(&key),
                "--authority",
                name,
                "--valid-from",
                from,
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&key).unwrap().permissions(),
            );
            assert_eq!(mode & 0o777, 0o600, "a key file only its owner reads");
            entries.insert(name.clone(), stdout(&o));
        }
        let kinds = [
            ("register", r#"["person", "person_changed"]"#),
            (
                "fund",
                r#"["benefit_assigned", "benefit_status", "benefit_paid", "benefit_returned"]"#,
            ),
            ("operator", r#"["merged", "month_closed"]"#),
            ("projector", r#"["merge_transfer"]"#),
        ];
        let mut text = String::new();
        for (name, kinds) in kinds {
            text.push_str(&format!(
                "[[authority]]\nname = \"{name}\"\nkinds = {kinds}\n{}{}valid_until = \"2002-01-01T00:00:00Z\"\n",
                entries[name],
                entries[&format!("{name}-old")]
            ));
        }
        let trust = dir.join("trust.toml");
        std::fs::write(&trust, text).unwrap();
        Deployment {
            dir: dir.to_path_buf(),
            trust,
        }
    }

    /// A fresh ledger topic of 4 partitions on the tests' broker: the
    /// brokers and the topic.
    fn topic(&self, name: &str) -> (String, String) {
        let (brokers, topic) = (ledger_e2e::kafka_brokers(), ledger_e2e::unique_topic(name));
        let create = ["topics", "create", "--brokers", &brokers, "--topic", &topic];
        self.ok(&[&create[..], &["--partitions", "4"]].concat(), None);
        (brokers, topic)
    }

    fn key(&self, name: &str) -> String {
        self.dir
            .join("keys")
            .join(format!("{name}.key"))
            .to_str()
            .unwrap()
            .to_string()
    }

    /// `si-ledger args` in this deployment, signing with `key` (none: a
    /// bank's process, which has no key).
    fn run(&self, args: &[&str], key: Option<&str>) -> Output {
        let mut c = si_ledger(args);
        c.env("SI_LEDGER_TRUST", &self.trust);
        match key {
            Some(k) => c.env("SI_LEDGER_SIGNING_KEY_FILE", self.key(k)),
            None => c.env_remove("SI_LEDGER_SIGNING_KEY_FILE"),
        };
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str], key: Option<&str>) -> String {
        let o = self.run(args, key);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    }

    fn publish(&self, log: &Path, lines: &str, key: Option<&str>) {
        let file = self.dir.join(format!("lines-{}.jsonl", rand_suffix()));
        std::fs::write(&file, lines).unwrap();
        self.ok(&["publish", "--log", arg(log), arg(&file)], key);
    }

    fn project(&self, log: &Path, data: &Path) -> String {
        self.ok(
            &["project", "--log", arg(log), "--data", arg(data)],
            Some("projector"),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args, None)).unwrap()
    }

    fn outcomes(&self, iin: &str, data: &Path) -> Vec<(String, String, String)> {
        ledger_e2e::history_outcomes(iin, data)
    }
}

/// A path as an argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The lines of a case, each as a JSON value.
fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn joined(values: &[Value]) -> String {
    values.iter().map(|v| v.to_string() + "\n").collect()
}

/// `line` signed with `key` by `si-ledger sign`.
fn signed(d: &Deployment, line: &Value, key: &str) -> Value {
    let file = d.dir.join(format!("to-sign-{}.jsonl", rand_suffix()));
    std::fs::write(&file, line.to_string() + "\n").unwrap();
    let out = d.ok(&["sign", arg(&file)], Some(key));
    serde_json::from_str(out.trim()).unwrap()
}

fn balance(d: &Deployment, iin: &str, data: &Path) -> Value {
    let o = d.run(&["account", iin, "--data", arg(data), "--json"], None);
    if !o.status.success() {
        return Value::Null;
    }
    serde_json::from_str::<Value>(&stdout(&o)).unwrap()["contributions_total"].clone()
}

#[test]
fn forged_merges_and_transfers_change_no_balance_and_a_signed_merge_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));

    // Cases 12 and 13, published by a bank (no key): accepted at the door
    // with a warning, refused by the projector.
    let file = dir.path().join("case-12.jsonl");
    std::fs::write(&file, FORGED_MERGE).unwrap();
    let o = d.run(&["publish", "--log", arg(&log), arg(&file)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 privileged lines"), "{}", stderr(&o));
    d.publish(&log, FORGED_TRANSFER, None);
    d.project(&log, &data);
    assert_eq!(balance(&d, HER, &data), "8500.00", "her lines stay hers");
    let his = d.outcomes(HIM, &data);
    assert_eq!(
        his.iter().map(|(_, o, _)| o.as_str()).collect::<Vec<_>>(),
        ["refused", "refused"],
        "{his:?}"
    );
    assert!(
        his[0]
            .2
            .starts_with("unauthorized: merge_transfer requires projector: unsigned"),
        "{his:?}"
    );
    assert_ne!(balance(&d, HIM, &data), "5000000.00");
    let hers = d.outcomes(HER, &data);
    assert_eq!(
        hers.iter().map(|(_, o, _)| o.as_str()).collect::<Vec<_>>(),
        ["applied", "refused", "applied"],
        "nothing redirected: {hers:?}"
    );
    assert_eq!(
        hers[1].2, "unauthorized: merged requires operator: unsigned",
        "{hers:?}"
    );

    // Signed by the wrong authority, tampered with after signing, signed
    // by the operator's expired key: each refused, saying why.
    let merge = lines(FORGED_MERGE)[1].clone();
    let mut by_fund = merge.clone();
    by_fund["eventId"] = "merge-by-fund".into();
    let by_fund = signed(&d, &by_fund, "fund");
    let mut tampered = signed(&d, &merge, "operator");
    tampered["eventId"] = "merge-tampered".into();
    let mut expired = merge.clone();
    expired["eventId"] = "merge-expired".into();
    let expired = serde_json::json!({
        "timestamp": "2025-05-02T10:00:00+05:00",
        "envelope": signed(&d, &expired, "operator-old"),
    });
    d.publish(&log, &joined(&[by_fund, tampered, expired]), None);
    d.project(&log, &data);
    assert_eq!(balance(&d, HER, &data), "8500.00");
    let reasons: Vec<String> = d.outcomes(HER, &data)[3..]
        .iter()
        .map(|(_, o, r)| format!("{o}: {r}"))
        .collect();
    assert!(
        reasons[0].contains("merged requires operator: signed by fund"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("does not verify"), "{reasons:?}");
    assert!(
        reasons[2].contains("is valid from 2001-01-01T00:00:00+00:00 to 2002-01-01T00:00:00+00:00"),
        "{reasons:?}"
    );

    // The genuine merge, under the id a forgery took first: signed by the
    // operator (`si-ledger merge`), its transfers by the projector. It
    // behaves as before signatures.
    let m = d.run(
        &[
            "merge",
            "--from",
            HER,
            "--into",
            HIM,
            "--reason",
            "one person, two IINs",
            "--decided-on",
            "2025-05-01",
            "--id",
            "merge-forged-1",
            "--log",
            arg(&log),
        ],
        Some("operator"),
    );
    assert!(m.status.success(), "{}", stderr(&m));
    d.project(&log, &data);
    assert_eq!(
        balance(&d, HIM, &data),
        "8500.00",
        "her lines, once, now his"
    );
    let last = d.outcomes(HER, &data).pop().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("merge-forged-1", "applied")
    );
    let history = d.json(&["history", HIM, "--data", arg(&data), "--json"]);
    let transfers: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "merge_transfer" && e["outcome"] == "applied")
        .collect();
    assert_eq!(transfers.len(), 3, "the opening and two lines: {history}");
    assert!(transfers
        .iter()
        .all(|e| e["signature"]["key_id"].is_string()));

    // The store verifies under its trust file, and a replay decides alike.
    d.ok(&["verify", "--data", arg(&data), "--log", arg(&log)], None);
    // An archive of the log replays offline to the same store: every
    // signature verified again, every forgery refused again.
    let archive = dir.path().join("log.archive");
    d.ok(
        &["export", "--log", arg(&log), "--out", arg(&archive)],
        None,
    );
    let offline = dir.path().join("offline");
    d.ok(
        &[
            "replay",
            "--archive",
            arg(&archive),
            "--data",
            arg(&offline),
        ],
        None,
    );
    assert_eq!(ledger_e2e::digest(&offline), ledger_e2e::digest(&data));
    assert_eq!(balance(&d, HIM, &offline), "8500.00");
    // A bank without a key cannot merge: `merge` refuses to publish.
    let m = d.run(
        &[
            "merge",
            "--from",
            HIM,
            "--into",
            HER,
            "--reason",
            "x",
            "--decided-on",
            "2025-06-01",
            "--log",
            arg(&log),
        ],
        None,
    );
    assert!(!m.status.success());
    assert!(stderr(&m).contains("--signing-key"), "{}", stderr(&m));
    // Nor with a key the trust file does not give merges.
    let m = d.run(
        &[
            "merge",
            "--from",
            HIM,
            "--into",
            HER,
            "--reason",
            "x",
            "--decided-on",
            "2025-06-01",
            "--log",
            arg(&log),
        ],
        Some("fund"),
    );
    assert!(!m.status.success());
    assert!(
        stderr(&m).contains("cannot sign merged now"),
        "{}",
        stderr(&m)
    );
}

/// One line of every privileged kind for a registered person with a
/// benefit, and one contribution.
fn every_kind() -> Vec<Value> {
    let person = |kind: &str, id: &str, surname: &str| {
        serde_json::json!({"eventId": id, "iin": HER, "source": "register", kind: {
            "surname": surname, "name": "Айгерим", "birthDate": "1990-05-17", "sex": "F",
            "effectiveOn": "1990-05-17"}})
    };
    vec![
        lines(FORGED_MERGE)[0].clone(),
        person("person", "reg-1", "Ахметова"),
        person("personChanged", "reg-2", "Forged"),
        serde_json::json!({"eventId": "ben-1", "iin": HER, "source": "fund", "benefitAssigned": {
            "benefitId": "B-1", "benefitType": "0705", "appliedOn": "2025-04-20",
            "riskDate": "2025-04-01", "decidedOn": "2025-04-25", "startPeriod": "2025-04",
            "endPeriod": "2026-10", "monthlyAmount": "60000.00"}}),
        serde_json::json!({"eventId": "ben-2", "iin": HER, "source": "fund", "benefitPaid": {
            "benefitId": "B-1", "period": "2025-04", "amount": "50000.00",
            "pensionContributionWithheld": "5000.00"}}),
        serde_json::json!({"eventId": "ben-3", "iin": HER, "source": "fund", "benefitReturned": {
            "benefitId": "B-1", "period": "2025-04", "amount": "100.00"}}),
        serde_json::json!({"eventId": "ben-4", "iin": HER, "source": "fund", "benefitStatus": {
            "benefitId": "B-1", "status": "SUSPENDED", "effectiveOn": "2025-05-01",
            "reason": "x"}}),
        lines(FORGED_MERGE)[1].clone(),
        lines(FORGED_TRANSFER)[0].clone(),
    ]
}

/// The kind of a JSON line: its payload's field name.
fn kind_of(line: &Value) -> String {
    line.as_object()
        .unwrap()
        .keys()
        .find(|k| !["eventId", "iin", "source", "signature"].contains(&k.as_str()))
        .unwrap()
        .clone()
}

/// The authority of the default split for a JSON payload name.
fn authority_of(kind: &str) -> &'static str {
    match kind {
        "person" | "personChanged" => "register",
        "merged" => "operator",
        "mergeTransfer" => "projector",
        _ => "fund",
    }
}

fn with_id(line: &Value, prefix: &str) -> Value {
    let mut l = line.clone();
    l["eventId"] = format!("{prefix}-{}", l["eventId"].as_str().unwrap()).into();
    l
}

/// Every privileged kind, four ways each: unsigned, signed by the wrong
/// authority, altered after signing, and signed by its authority's key
/// that expired in 2002; the month close marker unsigned, by the wrong
/// authority and by an expired key. On the embedded log and on Kafka
/// alike: each refused with its reason (the markers dead-lettered), and
/// the statement is the one contribution's. Then the same lines signed
/// by their authorities are applied, and `verify --trust` names the
/// applied unsigned ones of a `--trust none` store as breaks.
#[test]
fn every_privileged_kind_needs_its_authority() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let all = every_kind();
    let mut published = vec![all[0].clone()];
    let mut want: Vec<(String, String)> = Vec::new();
    for line in &all[1..] {
        let kind = kind_of(line);
        let own = authority_of(&kind);
        let wrong = if own == "fund" { "register" } else { "fund" };
        let unsigned = with_id(line, "unsigned");
        let by_wrong = signed(&d, &with_id(line, "wrong"), wrong);
        let mut tampered = signed(&d, &with_id(line, "tampered"), own);
        tampered["source"] = "someone else".into();
        let expired = signed(&d, &with_id(line, "expired"), &format!("{own}-old"));
        for (l, why) in [
            (unsigned, ": unsigned".to_string()),
            (by_wrong, format!(": signed by {wrong} (key ")),
            (
                tampered,
                format!("does not verify: the record is not what {own} signed"),
            ),
            (
                expired,
                format!("of {own} is valid from 2001-01-01T00:00:00+00:00 to 2002"),
            ),
        ] {
            want.push((l["eventId"].as_str().unwrap().to_string(), why));
            published.push(l);
        }
    }
    let (brokers, topic) = d.topic("every-kind");
    let file = dir.path().join("every-kind.jsonl");
    std::fs::write(&file, joined(&published)).unwrap();
    let to_kafka = ["--brokers", brokers.as_str(), "--topic", topic.as_str()];
    let to_log = ["--log", arg(&log)];
    for to in [&to_kafka[..], &to_log[..]] {
        let mut publish = vec!["publish", arg(&file)];
        publish.extend_from_slice(to);
        d.ok(&publish, None);
        // The month close: unsigned, by the Fund, by the operator's old key.
        for key in [None, Some("fund"), Some("operator-old")] {
            let mut close = vec!["close-month", "2025-04", "--trust", "none"];
            close.extend_from_slice(to);
            d.ok(&close, key);
        }
    }
    let live = dir.path().join("live");
    d.ok(
        &[
            "project",
            "--brokers",
            &brokers,
            "--topic",
            &topic,
            "--group",
            &topic,
            "--data",
            arg(&live),
            "--until-end",
        ],
        Some("projector"),
    );
    let totals = d.project(&log, &data);
    assert!(
        totals.contains(&format!("{} refused", want.len())),
        "{totals}"
    );
    for store in [&data, &live] {
        let st = d.json(&["account", HER, "--data", arg(store), "--json"]);
        assert_eq!(st["contributions_total"], "4250.00", "{st}");
        assert_ne!(
            st["person"]["source"], "register",
            "no register record taken: {st}"
        );
        assert!(
            st["benefits"].as_array().is_none_or(|b| b.is_empty()),
            "{st}"
        );
        assert!(st["merged_into"].is_null(), "{st}");
        let mut got: std::collections::HashMap<String, (String, String)> = Default::default();
        for iin in [HER, HIM] {
            for (id, outcome, reason) in d.outcomes(iin, store) {
                got.insert(id, (outcome, reason));
            }
        }
        for (id, why) in &want {
            let (outcome, reason) = &got[id];
            assert_eq!(outcome, "refused", "{id}");
            assert!(reason.starts_with("unauthorized: "), "{id}: {reason}");
            assert!(
                reason.contains(why.as_str()),
                "{id}: {reason} (wanted {why})"
            );
        }
        let dead = d.ok(&["dead-letters", "--data", arg(store), "--json"], None);
        for why in [
            "month_closed requires operator: unsigned",
            "month_closed requires operator: signed by fund",
            "month_closed requires operator: key ",
        ] {
            assert_eq!(
                dead.matches(why).count(),
                4,
                "one a partition: {why}: {dead}"
            );
        }
    }
    // The two paths decided alike, record by record (the two logs'
    // record times, which the expired keys' reasons quote, aside).
    let accounts = |data: &Path| {
        let text = d.ok(&["accounts", "--data", arg(data)], None);
        let mut parts = text.split(", the record is of ");
        let mut out = parts.next().unwrap().to_string();
        for p in parts {
            out.push_str(&p[p.find('"').unwrap()..]);
        }
        out
    };
    assert_eq!(accounts(&data), accounts(&live));

    // Signed by their authorities, under new ids: applied.
    let resigned: Vec<Value> = all[1..all.len() - 2]
        .iter()
        .map(|l| signed(&d, &with_id(l, "signed"), authority_of(&kind_of(l))))
        .collect();
    d.publish(&log, &joined(&resigned), None);
    d.project(&log, &data);
    let st = d.json(&["account", HER, "--data", arg(&data), "--json"]);
    assert_eq!(st["benefits"][0]["paid_total"], "50000.00", "{st}");
    assert_eq!(
        st["person"]["surname"], "Forged",
        "the register's change: {st}"
    );

    // A store that took them unsigned (`--trust none`) verifies under
    // none, and breaks under the deployment's trust file.
    let open = dir.path().join("open");
    let p = d.run(
        &[
            "project",
            "--log",
            arg(&log),
            "--data",
            arg(&open),
            "--trust",
            "none",
        ],
        None,
    );
    assert!(p.status.success(), "{}", stderr(&p));
    assert!(
        stderr(&p).contains("warning: --trust none"),
        "{}",
        stderr(&p)
    );
    let v = d.run(&["verify", "--data", arg(&open), "--trust", "none"], None);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    let v = d.run(&["verify", "--data", arg(&open)], None);
    assert_eq!(v.status.code(), Some(1), "{}{}", stdout(&v), stderr(&v));
    assert!(
        stdout(&v).contains("stored outcome applied but its event gives refused"),
        "{}",
        stdout(&v)
    );
    // The trust file cannot be swapped under a store.
    let p = d.run(
        &["project", "--log", arg(&log), "--data", arg(&open)],
        Some("projector"),
    );
    assert!(!p.status.success());
    assert!(stderr(&p).contains("enforced_from"), "{}", stderr(&p));
}

/// Projecting needs an explicit trust choice; a projector whose trust file
/// gives merge transfers to an authority needs that authority's key.
#[test]
fn a_projector_starts_only_with_an_explicit_trust_choice() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    d.publish(&log, FORGED_MERGE, None);
    let mut c = si_ledger(&["project", "--log", arg(&log), "--data", arg(&data)]);
    c.env_remove("SI_LEDGER_TRUST");
    let o = c.output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--trust FILE"), "{}", stderr(&o));
    let o = d.run(&["project", "--log", arg(&log), "--data", arg(&data)], None);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("merge transfers signed by projector"),
        "{}",
        stderr(&o)
    );
    let o = d.run(
        &["project", "--log", arg(&log), "--data", arg(&data)],
        Some("operator"),
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot sign merge_transfer"),
        "{}",
        stderr(&o)
    );
    // A trust file with an error names its place.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[authority]]\nname = \"bank\"\nkinds = [\"contribution\"]\n",
    )
    .unwrap();
    let o = run(&[
        "project",
        "--log",
        arg(&log),
        "--data",
        arg(&data),
        "--trust",
        arg(&bad),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("authority[0] (\"bank\"): kinds: \"contribution\" is open"),
        "{}",
        stderr(&o)
    );
}

/// A register gateway in Python signs with the standard libraries
/// (`protobuf` classes generated by protoc, `cryptography`'s Ed25519):
/// its records are applied, with the key id the ledger derives.
#[test]
fn a_python_producer_signs_with_the_cryptography_package() {
    let python = std::env::var("SI_LEDGER_PRODUCER_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_PRODUCER_PYTHON is not set: run this test through scripts/test, which \
             installs `cryptography` and `grpcio-tools` in a virtual environment and sets it"
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.path().join("signed.jsonl");
    let py = std::process::Command::new(python)
        .arg(root.join("sign_envelope.py"))
        .arg(root.join("../proto"))
        .arg(d.key("register"))
        .arg(&out)
        .arg(HER)
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", stderr(&py));
    let key_id = stdout(&py).trim().to_string();
    let trust = std::fs::read_to_string(&d.trust).unwrap();
    assert!(
        trust.contains(&format!("id = \"{key_id}\"")),
        "the ledger's key id"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    // Published by the gateway (no key of ours), and once more tampered.
    let mut forged: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    forged["eventId"] = "py-reg-forged".into();
    forged["personChanged"]["surname"] = "Подделка".into();
    d.publish(&log, &format!("{text}{forged}\n"), None);
    d.project(&log, &data);
    let h = d.json(&["history", HER, "--data", arg(&data), "--json"]);
    let got: Vec<(&str, &str, &str)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["signature"]["key_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("py-reg-1", "applied", key_id.as_str()),
            ("py-reg-2", "applied", key_id.as_str()),
            ("py-reg-forged", "refused", key_id.as_str()),
        ]
    );
    let st = d.json(&["account", HER, "--data", arg(&data), "--json"]);
    assert_eq!(st["person"]["surname"], "Серикова", "{st}");
}

/// The same forged records on Kafka: refused alike, the unsigned month
/// close dead-lettered; a signed merge's transfers go through the topic
/// signed by the projector, and a replay of the topic decides alike.
#[test]
fn forged_records_are_refused_on_kafka_as_on_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (brokers, topic) = d.topic("authority");
    let file = dir.path().join("forged.jsonl");
    std::fs::write(&file, format!("{FORGED_MERGE}{FORGED_TRANSFER}")).unwrap();
    let (log, embedded, live) = (
        dir.path().join("log"),
        dir.path().join("embedded"),
        dir.path().join("live"),
    );
    let to_kafka = ["--brokers", brokers.as_str(), "--topic", topic.as_str()];
    let to_log = ["--log", arg(&log)];
    for to in [&to_kafka[..], &to_log[..]] {
        let mut publish = vec!["publish", arg(&file)];
        publish.extend_from_slice(to);
        d.ok(&publish, None);
        let mut close = vec!["close-month", "2025-04", "--trust", "none"];
        close.extend_from_slice(to);
        d.ok(&close, None);
    }
    let project_kafka = |d: &Deployment| {
        d.ok(
            &[
                "project",
                "--brokers",
                &brokers,
                "--topic",
                &topic,
                "--group",
                &topic,
                "--data",
                arg(&live),
                "--until-end",
                "--json",
            ],
            Some("projector"),
        )
    };
    let totals: Value = serde_json::from_str(&project_kafka(&d)).unwrap();
    assert_eq!(totals["refused"], 3, "{totals}");
    assert_eq!(
        totals["dead_letters"], 4,
        "one unsigned marker a partition: {totals}"
    );
    d.project(&log, &embedded);
    for data in [&live, &embedded] {
        assert_eq!(balance(&d, HER, data), "8500.00");
        let his: Vec<String> = d
            .outcomes(HIM, data)
            .into_iter()
            .map(|(_, o, _)| o)
            .collect();
        assert_eq!(his, ["refused", "refused"]);
        let dead = d.ok(&["dead-letters", "--data", arg(data), "--json"], None);
        assert_eq!(
            dead.matches("month_closed requires operator: unsigned")
                .count(),
            4,
            "{dead}"
        );
    }

    let m = d.run(
        &[
            "merge",
            "--from",
            HER,
            "--into",
            HIM,
            "--reason",
            "one person, two IINs",
            "--decided-on",
            "2025-05-01",
            "--brokers",
            &brokers,
            "--topic",
            &topic,
        ],
        Some("operator"),
    );
    assert!(m.status.success(), "{}", stderr(&m));
    let totals: Value = serde_json::from_str(&project_kafka(&d)).unwrap();
    assert_eq!(totals["forwarded"], 3, "{totals}");
    assert_eq!(balance(&d, HIM, &live), "8500.00");
    let v = d.run(
        &[
            "verify",
            "--data",
            arg(&live),
            "--brokers",
            &brokers,
            "--topic",
            &topic,
        ],
        None,
    );
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
}

/// A line of `iin` at `time` (RFC 3339), as `publish` takes a back-fill.
fn at(time: &str, line: &Value) -> Value {
    serde_json::json!({"timestamp": time, "envelope": line})
}

/// A contribution of `amount` under `id` for HER.
fn contribution(id: &str, iin: &str) -> Value {
    let mut l = lines(FORGED_MERGE)[0].clone();
    l["eventId"] = id.into();
    l["iin"] = iin.into();
    l
}

/// A producer sets a record's time: a back-dated record is judged at its
/// partition's clock (the latest record time that reached an account
/// there), so it cannot reach behind an `enforced_from` or a revocation
/// its partition has passed.
#[test]
fn a_back_dated_record_cannot_reach_behind_its_partitions_clock() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let trust = std::fs::read_to_string(&d.trust).unwrap();
    let fund_key_entry = |t: &str| t.find("name = \"fund\"").unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::seconds(2);
    let soon_text = soon.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    // Revocation: the Fund's key ends in two seconds.
    let i = fund_key_entry(&trust);
    let j = i + trust[i..].find("valid_from").unwrap();
    let j = j + trust[j..].find('\n').unwrap() + 1;
    let revoked = format!(
        "{}valid_until = \"{soon_text}\"\n{}",
        &trust[..j],
        &trust[j..]
    );
    std::fs::write(&d.trust, &revoked).unwrap();
    d.publish(&log, &joined(&[contribution("c-1", HER)]), None);
    d.project(&log, &data);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // A line now moves the partition's clock past the revocation; then a
    // thief's record, signed with the revoked key and dated 2025.
    d.publish(&log, &joined(&[contribution("c-2", HER)]), None);
    let mut stolen = every_kind()[3].clone();
    stolen["eventId"] = "stolen-1".into();
    let stolen = signed(&d, &stolen, "fund");
    d.publish(
        &log,
        &joined(&[at("2025-05-02T10:00:00+05:00", &stolen)]),
        None,
    );
    d.project(&log, &data);
    let got = d.outcomes(HER, &data).pop().unwrap();
    assert_eq!(got.1, "refused", "{got:?}");
    assert!(
        got.2.contains(&format!(
            "to {}",
            soon.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
                .replace('Z', "+00:00")
        )),
        "{got:?}"
    );
    d.ok(&["verify", "--data", arg(&data), "--log", arg(&log)], None);

    // enforced_from: a store that took unsigned records adopts a trust
    // file from an instant on; a back-dated unsigned record after it is
    // refused, though its own time is before it.
    let (log2, data2) = (dir.path().join("log2"), dir.path().join("data2"));
    d.publish(&log2, &joined(&[contribution("c-1", HER)]), None);
    let o = d.run(
        &[
            "project",
            "--log",
            arg(&log2),
            "--data",
            arg(&data2),
            "--trust",
            "none",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let from = chrono::Utc::now() + chrono::Duration::seconds(2);
    let enforced = format!(
        "enforced_from = \"{}\"\n{trust}",
        from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    std::fs::write(&d.trust, &enforced).unwrap();
    d.project(&log2, &data2);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    d.publish(&log2, &joined(&[contribution("c-2", HER)]), None);
    let mut unsigned = every_kind()[3].clone();
    unsigned["eventId"] = "back-dated".into();
    d.publish(
        &log2,
        &joined(&[at("2025-05-02T10:00:00+05:00", &unsigned)]),
        None,
    );
    d.project(&log2, &data2);
    let got = d.outcomes(HER, &data2).pop().unwrap();
    assert_eq!(
        (got.1.as_str(), got.2.as_str()),
        (
            "refused",
            "unauthorized: benefit_assigned requires fund: unsigned"
        )
    );
}

/// The projector's key alone cannot put a register or Fund record on an
/// account: a transfer's privileged original needs its own authority's
/// signature. And a bank's open record under the id of a privileged one,
/// published first, blocks nothing: ids are checked only between records
/// that meet (a merge, its opening, a Fund payment).
#[test]
fn the_projectors_key_and_a_banks_ids_claim_nothing_privileged() {
    use ledger_proto::v1 as pb;
    use prost::Message as _;
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    let original = pb::Envelope {
        event_id: "forged-death".into(),
        iin: "920721300011".into(),
        source: "register".into(),
        signature: None,
        payload: Some(pb::envelope::Payload::PersonChanged(
            pb::PersonDataChanged {
                surname: "Тимуров".into(),
                name: "Тимур".into(),
                birth_date: "1992-07-21".into(),
                deceased_on: "2025-01-01".into(),
                effective_on: "2025-01-01".into(),
                ..Default::default()
            },
        )),
    };
    let transfer = |id: &str, original: Vec<u8>| pb::Envelope {
        event_id: id.into(),
        iin: HIM.into(),
        source: "si-ledger/merge".into(),
        signature: None,
        payload: Some(pb::envelope::Payload::MergeTransfer(pb::MergeTransfer {
            from_iin: "920721300011".into(),
            merge_event_id: "m-forged".into(),
            reason: "x".into(),
            decided_on: "2025-05-01".into(),
            original,
            recorded_at_ms: 1_744_268_400_000,
            ..Default::default()
        })),
    };
    let opener = signed(
        &d,
        &serde_json::to_value(transfer("m-forged/into", vec![])).unwrap(),
        "projector",
    );
    let wrapped = signed(
        &d,
        &serde_json::to_value(transfer("forged-death", original.encode_to_vec())).unwrap(),
        "projector",
    );
    d.publish(&log, &joined(&[opener, wrapped]), None);
    d.project(&log, &data);
    let his = d.outcomes(HIM, &data);
    // The projector's key cannot open a merge the operator did not sign...
    assert_eq!(
        his[0].2,
        "unauthorized: merge_transfer opens a merge without the merge record it opens"
    );
    // ...nor carry a register record the register did not sign.
    assert_eq!(his[1].1, "refused", "{his:?}");
    assert_eq!(
        his[1].2,
        "unauthorized: merge_transfer carries person_changed requires register: unsigned"
    );

    // A bank squats the ids: a Fund payment's, the merge's and its opening's.
    let merge_id = "merge/2025-05-01/squatted";
    let squats = [
        contribution("fund-pay-1", HER),
        contribution(merge_id, HER),
        contribution(&format!("{merge_id}/into"), HIM),
    ];
    d.publish(&log, &joined(&squats), None);
    let mut pay = every_kind()[3].clone();
    pay["eventId"] = "fund-pay-1".into();
    d.publish(&log, &joined(&[signed(&d, &pay, "fund")]), None);
    let m = d.run(
        &[
            "merge",
            "--from",
            HER,
            "--into",
            HIM,
            "--reason",
            "one person, two IINs",
            "--decided-on",
            "2025-05-01",
            "--id",
            merge_id,
            "--log",
            arg(&log),
        ],
        Some("operator"),
    );
    assert!(m.status.success(), "{}", stderr(&m));
    d.project(&log, &data);
    let hers = d.outcomes(HER, &data);
    let of = |id: &str, on: &[(String, String, String)]| {
        on.iter()
            .filter(|(i, _, _)| i == id)
            .map(|(_, o, _)| o.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("fund-pay-1", &hers), ["applied", "applied"], "{hers:?}");
    assert_eq!(of(merge_id, &hers), ["applied", "applied"], "{hers:?}");
    let his = d.outcomes(HIM, &data);
    // HIM's own squat was judged (and returned: its birth date is hers);
    // the opening applied all the same, and both of HER's "fund-pay-1"
    // records were handed over, the line and the Fund's.
    let opening = of(&format!("{merge_id}/into"), &his);
    assert_eq!(
        opening.last().map(String::as_str),
        Some("applied"),
        "{his:?}"
    );
    assert_eq!(of("fund-pay-1", &his), ["applied", "applied"], "{his:?}");
    let st = d.json(&["account", HIM, "--data", arg(&data), "--json"]);
    let merges = st["merged_from"].as_array().unwrap();
    assert!(merges.iter().any(|m| m["event_id"] == merge_id), "{st}");
    assert_eq!(
        st["benefits"][0]["benefit_id"], "B-1",
        "the Fund's record handed over: {st}"
    );
    d.ok(&["verify", "--data", arg(&data), "--log", arg(&log)], None);
}

/// `sign --output` onto its own input replaces it whole, never empty.
#[test]
fn sign_may_write_over_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let file = dir.path().join("feed.jsonl");
    let lines = every_kind();
    std::fs::write(&file, joined(&lines[..2])).unwrap();
    let f = arg(&file);
    d.ok(&["sign", f, "--output", f], Some("register"));
    let text = std::fs::read_to_string(&file).unwrap();
    let out: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 2, "{text}");
    assert!(
        out[0].get("signature").is_none(),
        "an open kind stays as it was"
    );
    assert!(out[1]["signature"]["keyId"].is_string(), "{text}");
}

/// A second probe's findings: under a genuine merge the projector's key
/// still cannot carry another person's register record or a Fund record
/// again under another id; a back-filled Fund record applied on the old
/// identifier is not lost in the merge; a redirected line counts on one
/// identifier in as-of views; a revocation cannot reach behind the
/// store's clock when that runs ahead of the wall clock.
#[test]
fn merges_carry_only_the_old_identifiers_own_records_once() {
    use ledger_proto::v1 as pb;
    use prost::Message as _;
    let dir = tempfile::tempdir().unwrap();
    let d = Deployment::new(dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    // HER's benefit, back-filled by the Fund into 2025 (its key is valid
    // from 2000, so the key's range is no issue here) and paid once; a
    // register record of another person, genuine.
    let kinds = every_kind();
    let assigned = signed(&d, &kinds[3], "fund");
    let paid = signed(&d, &kinds[4], "fund");
    let mut other = kinds[1].clone();
    other["eventId"] = "other-reg".into();
    other["iin"] = "920721300011".into();
    other["person"]["surname"] = "Тимуров".into();
    other["person"]["birthDate"] = "1992-07-21".into();
    other["person"]["effectiveOn"] = "1992-07-21".into();
    other["person"]["sex"] = "M".into();
    let other = signed(&d, &other, "register");
    d.publish(
        &log,
        &joined(&[
            kinds[0].clone(),
            at("2025-04-26T10:00:00+05:00", &assigned),
            at("2025-05-05T10:00:00+05:00", &paid),
            other.clone(),
        ]),
        None,
    );
    let merge_id = "merge/2025-05-01/genuine";
    let m = d.run(
        &[
            "merge",
            "--from",
            HER,
            "--into",
            HIM,
            "--reason",
            "one person",
            "--decided-on",
            "2025-05-01",
            "--id",
            merge_id,
            "--log",
            arg(&log),
        ],
        Some("operator"),
    );
    assert!(m.status.success(), "{}", stderr(&m));
    // A line for HER after the merge: redirected to HIM.
    let mut late = contribution("late-line", HER);
    late["contribution"]["period"] = "2025-04".into();
    d.publish(&log, &joined(&[late]), None);
    d.project(&log, &data);
    let st = d.json(&["account", HIM, "--data", arg(&data), "--json"]);
    assert_eq!(
        st["benefits"][0]["paid_total"], "50000.00",
        "handed over: {st}"
    );

    // The projector's key replays: the other person's register record, and
    // HER's Fund payment again under a new id, both under the real merge.
    let bytes = |line: &Value| -> Vec<u8> {
        let e: pb::Envelope = serde_json::from_value(line.clone()).unwrap();
        e.encode_to_vec()
    };
    let carry = |id: &str, original: Vec<u8>| {
        let t = pb::Envelope {
            event_id: id.into(),
            iin: HIM.into(),
            source: "si-ledger/merge".into(),
            signature: None,
            payload: Some(pb::envelope::Payload::MergeTransfer(pb::MergeTransfer {
                from_iin: HER.into(),
                merge_event_id: merge_id.into(),
                reason: "one person".into(),
                decided_on: "2025-05-01".into(),
                original,
                recorded_at_ms: 1_746_421_200_000,
                ..Default::default()
            })),
        };
        signed(&d, &serde_json::to_value(t).unwrap(), "projector")
    };
    d.publish(
        &log,
        &joined(&[
            carry("other-reg", bytes(&other)),
            carry("paid-again", bytes(&paid)),
        ]),
        None,
    );
    d.project(&log, &data);
    let his = d.outcomes(HIM, &data);
    let last: Vec<&str> = his[his.len() - 2..]
        .iter()
        .map(|(_, o, _)| o.as_str())
        .collect();
    assert_eq!(last, ["refused", "refused"], "{his:?}");
    let st = d.json(&["account", HIM, "--data", arg(&data), "--json"]);
    assert_eq!(st["benefits"][0]["paid_total"], "50000.00", "{st}");
    assert_ne!(st["person"]["surname"], "Тимуров", "{st}");

    // As of April 2025 as known today: the redirected line counts on HIM,
    // not also on HER.
    let as_of = |iin: &str| {
        d.json(&[
            "account",
            iin,
            "--data",
            arg(&data),
            "--as-of",
            "2025-04-30",
            "--json",
        ])["contributions_total"]
            .clone()
    };
    let (hers, his) = (as_of(HER), as_of(HIM));
    assert_eq!(hers, "4250.00", "HER's own line only");
    assert_eq!(
        his, "8500.00",
        "HER's line handed over and the redirected one"
    );
    d.ok(&["verify", "--data", arg(&data), "--log", arg(&log)], None);

    // A line dated 50 minutes ahead (within the default tolerance) moves
    // the partition's clock ahead of the wall clock: a revocation before
    // that instant would refuse records already applied, so it is refused.
    let ahead = (chrono::Utc::now() + chrono::Duration::minutes(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    d.publish(
        &log,
        &joined(&[at(&ahead, &contribution("ahead", HIM))]),
        None,
    );
    d.project(&log, &data);
    let trust = std::fs::read_to_string(&d.trust).unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let i = trust.find("name = \"fund\"").unwrap();
    let j = i + trust[i..].find("valid_from").unwrap();
    let j = j + trust[j..].find('\n').unwrap() + 1;
    std::fs::write(
        &d.trust,
        format!("{}valid_until = \"{soon}\"\n{}", &trust[..j], &trust[j..]),
    )
    .unwrap();
    let o = d.run(
        &["project", "--log", arg(&log), "--data", arg(&data)],
        Some("projector"),
    );
    assert!(!o.status.success(), "the revocation was accepted");
    assert!(stderr(&o).contains("in the past"), "{}", stderr(&o));
}
