//! The auditors' console in a real headless Chromium (issue 18): a demo
//! store (signed under the tests' trust file) with a merge, a returned
//! line, a refund and closed months; what the command line says of them
//! (`account --json`, `report monthly --json`, `--csv`); and `tests/console/console.mjs`, which signs in with
//! the tokens `si-ledger demo` printed and checks every page against it,
//! records every request (loopback only, no IIN in a URL), runs axe-core
//! (WCAG 2.1 A and AA) on every page and saves a screenshot of each page
//! in `target/console-screenshots/`.
//!
//! Needs Debian's `chromium`, and `playwright-core` and `axe-core` (from
//! npm, pinned in `tests/console/package-lock.json`): `scripts/test`
//! installs them and sets `SI_CONSOLE_NODE_MODULES`.

use ledger_e2e::{
    demo_output, free_port, run, spawn_quiet, statements, stderr, stdout, tampered, wait_serving,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `si-ledger args`, which must succeed: its output. The tests' trust
/// file and key sign what it writes (`ledger_e2e::test_env`).
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).expect("JSON")
}

/// Where the browser and its driver are: panics, saying how to get them,
/// when they are not there (the test is never skipped).
fn tools() -> (PathBuf, PathBuf) {
    let chromium = PathBuf::from(
        std::env::var("SI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    let modules = std::env::var("SI_CONSOLE_NODE_MODULES")
        .map(PathBuf::from)
        .expect(
            "SI_CONSOLE_NODE_MODULES is not set: run scripts/test, which installs Chromium \
             and playwright-core for the console test",
        );
    assert!(
        chromium.exists(),
        "{} is missing: apt-get install chromium (scripts/test does)",
        chromium.display()
    );
    for package in ["playwright-core", "axe-core"] {
        assert!(
            modules.join(package).exists(),
            "no {package} in {}: run scripts/test",
            modules.display()
        );
    }
    (chromium, modules)
}

#[test]
fn the_console_shows_what_the_command_line_says() {
    let (chromium, modules) = tools();
    let dir = tempfile::tempdir().unwrap();
    let (data, printed) = demo_output(dir.path(), 200, 12);
    // The tokens the demo printed, one per role, and its auth file.
    let token = |role: &str| -> String {
        printed
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(role)).then(|| w.next().map(str::to_string))?
            })
            .unwrap_or_else(|| panic!("the demo prints a {role} token: {printed}"))
    };
    let auth = data.join("auth.toml");
    let auth_text = std::fs::read_to_string(&auth).unwrap();
    assert!(
        !auth_text.contains(&token("auditor")),
        "only the token's SHA-256 is stored"
    );

    // Accounts to look at: one refunded, one with a line returned to its
    // payer (the merge's target), one to merge into it.
    let accounts = statements(&data);
    let money = |a: &Value, f: &str| a[f].as_str().unwrap() != "0.00";
    let refunded = accounts
        .iter()
        .find(|a| money(a, "refunds_total"))
        .expect("the demo refunds someone");
    let returned = accounts
        .iter()
        .find(|a| money(a, "returned_total") && !a["rejections"].as_array().unwrap().is_empty())
        .expect("the demo returns a line");
    let iin = |a: &Value| a["iin"].as_str().unwrap().to_string();
    let other = accounts
        .iter()
        .find(|a| iin(a) != iin(refunded) && iin(a) != iin(returned))
        .unwrap();
    let (r, x, m) = (iin(refunded), iin(returned), iin(other));

    // The merge, and two closed months, through the demo's authorities.
    let log = data.join("log");
    let merge_reason = "one person, two IINs (console test)";
    ok(&[
        "merge",
        "--from",
        &m,
        "--into",
        &x,
        "--reason",
        merge_reason,
        "--decided-on",
        "2026-10-20",
        "--log",
        arg(&log),
    ]);
    let periods: Vec<String> = returned["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["period"].as_str().unwrap().to_string())
        .collect();
    let period = periods[periods.len() - 2].clone();
    for p in [&periods[periods.len() - 3], &period] {
        ok(&["close-month", p, "--log", arg(&log), "--by", "test"]);
    }
    ok(&["project", "--log", arg(&log), "--data", arg(&data)]);

    // What the command line says.
    let statement = |iin: &str, known: Option<&str>| {
        let mut a = vec!["account", iin, "--data", arg(&data), "--json"];
        if let Some(k) = known {
            a.extend(["--as-known-on", k]);
        }
        json_of(&a)
    };
    let merged = statement(&x, None);
    assert!(
        merged["merged_from"]
            .as_array()
            .is_some_and(|v| !v.is_empty()),
        "the merge applied: {merged}"
    );
    let history = json_of(&["history", &r, "--data", arg(&data), "--json"]);
    let refund_at = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "refund" && e["outcome"] == "applied")
        .expect("a refund in the history")["recorded_at"]
        .as_str()
        .unwrap()
        .to_string();
    let day = chrono::DateTime::parse_from_rfc3339(&refund_at)
        .unwrap()
        .date_naive();
    let before = (day - chrono::Days::new(2)).to_string();
    let after = (day + chrono::Days::new(2)).to_string();
    let (then, now) = (statement(&r, Some(&before)), statement(&r, Some(&after)));
    assert_ne!(
        then["refunds_total"], now["refunds_total"],
        "the refund is known after, not before"
    );
    let csv = dir.path().join("report.csv");
    let o = run(&[
        "report",
        "monthly",
        &period,
        "--data",
        arg(&data),
        "--json",
        "--csv",
        arg(&csv),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let returned_reason = returned["rejections"][0]["reason"].as_str().unwrap();

    // A copy of the store with one byte of one history entry flipped (the
    // audit test's tampering), and whose account that entry is.
    let (flipped, at) = tampered(&data, dir.path(), "flipped", |e| {
        let mid = e[3].event.len() / 2;
        e[3].event[mid] ^= 0x20;
        vec![e[3].position.offset]
    });
    let owner = {
        let store = ledger_store::LedgerStore::open(&flipped.join("store")).unwrap();
        let mut owner = None;
        store
            .for_each_account(|p, a| {
                if p == 0 && owner.is_none() {
                    let rec = store.account_record(0, &a.iin).unwrap().unwrap();
                    if rec.refs.iter().any(|rf| rf.offset == at[0]) {
                        owner = Some(a.iin.to_string());
                    }
                }
            })
            .unwrap();
        owner.expect("the flipped entry has an account")
    };

    // The projector's verifier keys, for the proofs the browser downloads
    // (read before a server holds the store).
    let o = run(&["checkpoint", "--data", arg(&data), "--vkeys"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let vkeys = dir.path().join("vkeys");
    std::fs::write(&vkeys, &o.stdout).unwrap();

    // The two servers, with the demo's auth file.
    let serve = |data: &Path| {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut child = spawn_quiet(
            &[
                "serve",
                "--data",
                arg(data),
                "--auth",
                arg(&auth),
                "--listen",
                &listen,
            ],
            None,
        );
        wait_serving(port, &mut child);
        (child, format!("http://127.0.0.1:{port}"))
    };
    let (_a, base) = serve(&data);
    let (_b, tampered_base) = serve(&flipped);

    let expect = json!({
        "base": base,
        "iins": [r, x, m, owner],
        "merged": {
            "iin": x, "statement": merged, "merge_reason": merge_reason,
            "returned_reason": returned_reason,
        },
        "refund": {
            "iin": r,
            "before": {"date": before, "statement": then},
            "after": {"date": after, "statement": now},
        },
        "monthly": {
            "period": period, "report": report,
            "csv": std::fs::read_to_string(&csv).unwrap(),
        },
        "tampered": {"base": tampered_base, "iin": owner, "offset": at[0]},
        "origin": "si-ledger.example.kz/test",
    });
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    // Tokens go in a file (0600 by the tempdir), never in argv.
    let tokens_path = dir.path().join("tokens.json");
    let auditor_name = auth_text
        .lines()
        .find_map(|l| l.strip_prefix("name = \"demo-auditor"))
        .map(|_| "demo-auditor")
        .expect("the demo's auditor is named demo-auditor");
    std::fs::write(
        &tokens_path,
        json!({
            "auditor": token("auditor"), "reporter": token("reporter"),
            "auditor_name": auditor_name,
        })
        .to_string(),
    )
    .unwrap();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shots = root.join("target").join("console-screenshots");
    let o = std::process::Command::new("node")
        .arg(root.join("tests/console/console.mjs"))
        .env("SI_CONSOLE_NODE_MODULES", &modules)
        .env("SI_CHROMIUM", &chromium)
        .env("SI_CONSOLE_EXPECT", &expect_path)
        .env("SI_CONSOLE_TOKENS", &tokens_path)
        .env("SI_CONSOLE_SHOTS", &shots)
        .output()
        .expect("node runs");
    assert!(
        o.status.success(),
        "the browser test failed:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    println!("{}", stdout(&o));
    // The proofs the browser proved and downloaded verify offline too.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let t = std::process::Command::new("tar")
        .arg("-xf")
        .arg(shots.join("proofs.tar"))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .expect("tar runs");
    assert!(t.success());
    let proofs = std::fs::read_dir(&unpacked)
        .unwrap()
        .next()
        .expect("the archive holds a directory")
        .unwrap()
        .path();
    let o = run(&["verify-proof", arg(&proofs), "--vkeys", arg(&vkeys)]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}
