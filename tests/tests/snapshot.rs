//! Snapshots end to end: a store snapshotted mid-log, restored, and
//! projected on to the log's end equals a full replay, on each engine; a
//! damaged snapshot is refused and leaves nothing behind.

use ledger_e2e::{demo, digest, on_each_engine, run, stderr, stdout};
use std::path::Path;

fn publish(log: &Path, lines: &Path) {
    let p = run(&[
        "publish",
        "--log",
        log.to_str().unwrap(),
        lines.to_str().unwrap(),
    ]);
    // The demo's events include lines `publish` refuses (exit 2).
    assert!(
        matches!(p.status.code(), Some(0 | 2)),
        "publish: {}",
        stderr(&p)
    );
}

fn project(log: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "project",
        "--log",
        log.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "project: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).expect("--json totals")
}

fn accounts(data: &Path) -> String {
    let o = run(&["accounts", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "accounts: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn a_store_restored_from_a_snapshot_mid_log_projects_on_to_a_full_replay() {
    on_each_engine(|engine| {
        let dir = tempfile::tempdir().unwrap();
        let demo = demo(dir.path(), 300, 12);
        let events = std::fs::read_to_string(demo.join("events.jsonl")).unwrap();
        let lines: Vec<&str> = events.lines().collect();
        let (head, tail) = lines.split_at(lines.len() / 2);
        let (first, second) = (
            dir.path().join("first.jsonl"),
            dir.path().join("second.jsonl"),
        );
        std::fs::write(&first, head.join("\n") + "\n").unwrap();
        std::fs::write(&second, tail.join("\n") + "\n").unwrap();

        // A projector over the first half, snapshotted.
        let log = dir.path().join("log");
        publish(&log, &first);
        let lost = dir.path().join("lost");
        let before = project(&log, &lost, &[]);
        let snap = dir.path().join("mid.snapshot");
        let s = run(&[
            "snapshot",
            "--data",
            lost.to_str().unwrap(),
            "--out",
            snap.to_str().unwrap(),
            "--json",
        ]);
        assert!(s.status.success(), "snapshot: {}", stderr(&s));
        let info: serde_json::Value = serde_json::from_str(stdout(&s).trim()).unwrap();
        assert_eq!(info["digest"].as_str().unwrap(), digest(&lost), "{engine}");

        // The log goes on; a new instance starts from the snapshot.
        publish(&log, &second);
        let seeded = dir.path().join("seeded");
        let o = run(&[
            "project",
            "--log",
            log.to_str().unwrap(),
            "--data",
            seeded.to_str().unwrap(),
            "--restore-from",
            dir.path().to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "project --restore-from: {}", stderr(&o));
        assert!(
            stderr(&o).contains("restored partition 0 from"),
            "{}",
            stderr(&o)
        );
        let tail_totals: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();

        // The reference: everything replayed from offset 0.
        let full = dir.path().join("full");
        let all = project(&log, &full, &[]);
        assert_eq!(
            tail_totals["records"].as_u64().unwrap() + before["records"].as_u64().unwrap(),
            all["records"].as_u64().unwrap(),
            "{engine}: the seeded projector read only the tail"
        );
        assert_eq!(digest(&seeded), digest(&full), "{engine}: digests");
        assert_eq!(accounts(&seeded), accounts(&full), "{engine}: accounts");
        let v = run(&[
            "verify",
            "--data",
            seeded.to_str().unwrap(),
            "--against",
            full.to_str().unwrap(),
        ]);
        assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
        assert_eq!(ledger_e2e::engine_of(&seeded), engine);

        // Restoring into the other engine is how a store changes engines.
        let other = if engine == "fjall" { "sled" } else { "fjall" };
        let moved = dir.path().join("moved");
        let r = run(&[
            "--store",
            other,
            "restore",
            snap.to_str().unwrap(),
            "--data",
            moved.to_str().unwrap(),
        ]);
        assert!(r.status.success(), "restore: {}", stderr(&r));
        assert_eq!(ledger_e2e::engine_of(&moved), other);
        // Read with its own engine named (the thread's SI_LEDGER_STORE
        // names the other, which a store refuses).
        let read = |cmd: &[&str]| {
            let mut args = vec!["--store", other];
            args.extend_from_slice(cmd);
            args.extend_from_slice(&["--data", moved.to_str().unwrap()]);
            let o = run(&args);
            assert!(o.status.success(), "{cmd:?}: {}", stderr(&o));
            stdout(&o)
        };
        let d: serde_json::Value =
            serde_json::from_str(read(&["digest", "--json"]).trim()).unwrap();
        assert_eq!(
            d["digest"].as_str().unwrap(),
            digest(&lost),
            "{engine} → {other}"
        );
        assert_eq!(read(&["accounts"]), accounts(&lost), "{engine} → {other}");
    });
}

#[test]
fn a_snapshot_with_a_flipped_byte_is_refused_and_leaves_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 50, 3);
    let snap = dir.path().join("s.snapshot");
    let s = run(&[
        "snapshot",
        "--data",
        demo.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
    ]);
    assert!(s.status.success(), "snapshot: {}", stderr(&s));
    let mut bytes = std::fs::read(&snap).unwrap();
    let at = bytes.len() * 2 / 3;
    bytes[at] ^= 0x01;
    std::fs::write(&snap, &bytes).unwrap();
    let target = dir.path().join("target");
    let r = run(&[
        "restore",
        snap.to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains("checksum mismatch") || err.contains("damaged"),
        "{err}"
    );
    assert!(
        !target.join("store").exists(),
        "a refused restore leaves no store"
    );
    // A projector pointed at it refuses to start rather than replay wrong.
    let p = run(&[
        "project",
        "--log",
        demo.join("log").to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
        "--restore-from",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(p.status.code(), Some(1), "{}", stderr(&p));
    assert!(stderr(&p).contains("checksum mismatch"), "{}", stderr(&p));
}

/// A projector that keeps running writes the snapshot at a batch boundary
/// when asked: restored, and projected on to the log's end, it equals the
/// running projector's store.
#[test]
fn a_running_projector_writes_a_snapshot_at_a_batch_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 200, 12);
    let log = dir.path().join("log");
    publish(&log, &demo.join("events.jsonl"));
    let live = dir.path().join("live");
    let mut projector = ledger_e2e::Reaped(Some(
        ledger_e2e::si_ledger(&[
            "project",
            "--follow",
            "--batch-size",
            "97",
            "--log",
            log.to_str().unwrap(),
            "--data",
            live.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap(),
    ));
    // Wait for the projector to hold its store (it creates the engine file
    // just before it takes the lock; nothing else opens it meanwhile).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !live.join("store").join("engine").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the projector never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let held = run(&["digest", "--data", live.to_str().unwrap()]);
    assert!(
        stderr(&held).contains("in use by another process"),
        "{}",
        stderr(&held)
    );
    let snap = dir.path().join("live.snapshot");
    let s = run(&[
        "snapshot",
        "--data",
        live.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
        "--wait",
        "60",
    ]);
    assert!(s.status.success(), "snapshot: {}", stderr(&s));
    assert!(
        stderr(&s).contains("asked it for the snapshot"),
        "the running projector wrote it: {}",
        stderr(&s)
    );
    // Still running: the snapshot did not stop it.
    assert!(projector.child().try_wait().unwrap().is_none());
    ledger_e2e::sigterm(projector.child());
    let stopped = projector.take().wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("at a batch boundary"),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    // The live store, finished; and one seeded from the snapshot.
    project(&log, &live, &[]);
    let seeded = dir.path().join("seeded");
    project(&log, &seeded, &["--restore-from", snap.to_str().unwrap()]);
    assert_eq!(digest(&seeded), digest(&live));
    assert_eq!(accounts(&seeded), accounts(&live));
    // Nobody is asked when nobody runs: the store is read directly.
    let again = run(&[
        "snapshot",
        "--data",
        live.to_str().unwrap(),
        "--out",
        dir.path().join("again.snapshot").to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!stderr(&again).contains("asked"), "{}", stderr(&again));
}

/// `n` contribution lines of `amount` for `n` people, the first IIN of
/// the generator from serial `seed` on: one deployment's log.
fn deployment_lines(path: &Path, name: &str, seed: u16, n: u16, amount: &str) {
    use ledger_core::{Iin, Sex};
    let mut lines = String::new();
    let mut serial = seed;
    for k in 0..n {
        let birth = chrono::NaiveDate::from_ymd_opt(1980, 1, u32::from(k % 28) + 1).unwrap();
        let iin = loop {
            serial += 1;
            if let Some(iin) = Iin::generate(birth, Sex::Male, serial) {
                break iin;
            }
        };
        lines.push_str(&format!(
            r#"{{"timestamp":"2025-04-10T15:00:00+05:00","envelope":{{"eventId":"{name}-{k}","iin":"{}","source":"bank","contribution":{{"payment":{{"receivedOn":"2025-04-10","ppc":"012","payerId":"150340000179"}},"period":"2025-03","amount":"{amount}","person":{{"surname":"Тест","name":"Тест","birthDate":"{birth}"}}}}}}}}"#,
            iin.as_str()
        ));
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

/// Issue 25, case 5: two deployments sharing a trust file. A's snapshot,
/// restored, must not be projected on from B's log (A's offsets would skip
/// B's first records), and `--restore-from` passes it over for B's log.
#[test]
fn a_snapshot_of_another_deployments_log_seeds_nothing() {
    on_each_engine(|engine| {
        let dir = tempfile::tempdir().unwrap();
        let d = |name: &str| dir.path().join(name);
        let s = |p: &Path| p.to_str().unwrap().to_string();
        deployment_lines(&d("a.jsonl"), "a", 100, 40, "1000.00");
        deployment_lines(&d("b.jsonl"), "b", 300, 200, "2000.00");
        publish(&d("loga"), &d("a.jsonl"));
        publish(&d("logb"), &d("b.jsonl"));
        project(&d("loga"), &d("deploy-a"), &[]);
        project(&d("logb"), &d("deploy-b"), &[]);
        std::fs::create_dir(d("snaps")).unwrap();
        let snap = d("snaps").join("a.snapshot");
        let o = run(&["snapshot", "--data", &s(&d("deploy-a")), "--out", &s(&snap)]);
        assert!(o.status.success(), "snapshot: {}", stderr(&o));

        // Restored (restore has no log to check against) …
        let o = run(&["restore", &s(&snap), "--data", &s(&d("b-restored"))]);
        assert!(o.status.success(), "restore: {}", stderr(&o));
        // … it is refused by B's log before anything is read.
        let o = run(&[
            "project",
            "--log",
            &s(&d("logb")),
            "--data",
            &s(&d("b-restored")),
        ]);
        assert_eq!(o.status.code(), Some(1), "{engine}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(
            err.contains("this store was projected from another log")
                && err.contains("offset 0 has hash"),
            "{engine}: {err}"
        );

        // Nor is A's own store, pointed at B's log by mistake.
        let o = run(&[
            "project",
            "--log",
            &s(&d("logb")),
            "--data",
            &s(&d("deploy-a")),
        ]);
        assert_eq!(o.status.code(), Some(1), "{engine}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("this store was projected from another log"),
            "{engine}: {}",
            stderr(&o)
        );

        // Nor by a copy of A's log that went its own way (a staging copy):
        // it begins as A's did.
        let a_lines = std::fs::read_to_string(d("a.jsonl")).unwrap();
        deployment_lines(&d("c.jsonl"), "c", 500, 20, "3000.00");
        let copy: Vec<&str> = a_lines.lines().take(20).collect();
        let c_lines = std::fs::read_to_string(d("c.jsonl")).unwrap();
        std::fs::write(d("copy.jsonl"), copy.join("\n") + "\n" + &c_lines).unwrap();
        publish(&d("logcopy"), &d("copy.jsonl"));
        let o = run(&[
            "project",
            "--log",
            &s(&d("logcopy")),
            "--data",
            &s(&d("deploy-a")),
        ]);
        assert_eq!(o.status.code(), Some(1), "{engine}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("this store was projected from another log"),
            "{engine}: {}",
            stderr(&o)
        );

        // Named on its own, `--restore-from` refuses it; in a directory it
        // is passed over, and B's log is projected whole.
        let o = run(&[
            "project",
            "--log",
            &s(&d("logb")),
            "--data",
            &s(&d("b-one")),
            "--restore-from",
            &s(&snap),
        ]);
        assert_eq!(o.status.code(), Some(1), "{engine}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("a snapshot of another log"),
            "{engine}: {}",
            stderr(&o)
        );
        let o = run(&[
            "project",
            "--log",
            &s(&d("logb")),
            "--data",
            &s(&d("b-dir")),
            "--restore-from",
            &s(&d("snaps")),
            "--json",
        ]);
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("passing over") && stderr(&o).contains("a snapshot of another log"),
            "{engine}: {}",
            stderr(&o)
        );
        let totals: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(totals["records"], 200, "{engine}: B's log, whole");
        assert_eq!(accounts(&d("b-dir")), accounts(&d("deploy-b")), "{engine}");
    });
}

/// A copy of snapshot `snap` whose first account's contributions_total is
/// raised by 1,000,000.00, with the checksum recomputed and the seal kept,
/// as a forger without the projector's key would write it (the layout of
/// `ledger_store::snapshot`). Returns the account's IIN.
fn forge(snap: &Path, out: &Path) -> String {
    use sha2::Digest as _;
    let d = std::fs::read(snap).unwrap();
    let at = |i: usize| u32::from_be_bytes(d[i..i + 4].try_into().unwrap()) as usize;
    let mut i = b"si-ledger snapshot 2\n".len();
    i += 4 + at(i);
    let mut f = d[..i].to_vec();
    let mut iin = None;
    while d[i] == 1 {
        let kl = at(i + 1);
        let k = &d[i + 5..i + 5 + kl];
        let vs = i + 5 + kl;
        let vl = at(vs);
        let mut v = d[vs + 4..vs + 4 + vl].to_vec();
        if iin.is_none() && k[0] == b'A' {
            let mut rec: ledger_store::AccountRecord = postcard::from_bytes(&v).unwrap();
            let more = ledger_core::Money::parse("1000000.00").unwrap();
            rec.account.contributions_total =
                rec.account.contributions_total.checked_add(more).unwrap();
            iin = Some(rec.account.iin.as_str().to_string());
            v = postcard::to_stdvec(&rec).unwrap();
        }
        f.push(1);
        f.extend((k.len() as u32).to_be_bytes());
        f.extend(k);
        f.extend((v.len() as u32).to_be_bytes());
        f.extend(&v);
        i = vs + 4 + vl;
    }
    let end = i + 1 + 4 + at(i + 1);
    f.extend(&d[i..end]);
    let sum = sha2::Sha256::digest(&f);
    f.extend(sum);
    f.extend(&d[end + 32..]);
    std::fs::write(out, f).unwrap();
    iin.expect("an account")
}

/// Issue 25, case 6: a snapshot whose balance was edited and its SHA-256
/// recomputed. Its seal no longer verifies; under `--trust none` (no seal
/// checked) recomputing the account from its history refuses it. Either
/// way no store is left and no digest is printed.
#[test]
fn a_forged_snapshot_is_refused_and_leaves_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 50, 3);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let snap = dir.path().join("s.snapshot");
    let o = run(&["snapshot", "--data", &s(&demo), "--out", &s(&snap)]);
    assert!(o.status.success(), "snapshot: {}", stderr(&o));
    assert!(stdout(&o).contains("signed by key"), "{}", stdout(&o));
    let forged = dir.path().join("forged.snapshot");
    let iin = forge(&snap, &forged);

    let target = dir.path().join("target");
    let o = run(&["restore", &s(&forged), "--data", &s(&target)]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("its signature is not the projector's")
            && stderr(&o).contains("does not verify"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("digest"), "{}", stdout(&o));
    assert!(
        !target.join("store").exists(),
        "a refused restore leaves no store"
    );

    // With no signature checked, the account recomputed from its history
    // gives it away.
    let o = run(&[
        "--trust",
        "none",
        "restore",
        &s(&forged),
        "--data",
        &s(&target),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("signatures are not checked"), "{err}");
    assert!(
        err.contains("does not follow from its own history")
            && err.contains("contributions_total")
            && err.contains("nothing was restored"),
        "{err}"
    );
    assert!(!err.contains(&iin), "the IIN is masked: {err}");
    assert!(!stdout(&o).contains("digest"), "{}", stdout(&o));
    assert!(!target.join("store").exists());
    // The same through `project --restore-from`: nothing is projected.
    // `project --restore-from FROM` of the demo's log into `data`.
    let restoring = |data: &std::path::Path, from: &std::path::Path| {
        run(&[
            "--trust",
            "none",
            "project",
            "--log",
            &s(&demo.join("log")),
            "--data",
            &s(data),
            "--restore-from",
            &s(from),
        ])
    };
    let o = restoring(&target, &forged);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("does not follow from its own history")
            && stderr(&o).contains("nothing of it was kept"),
        "{}",
        stderr(&o)
    );
    // In a directory beside the genuine one, the forged snapshot (it sorts
    // first, reaching as far) is passed over and the genuine one restores.
    let both = dir.path().join("both");
    std::fs::create_dir(&both).unwrap();
    std::fs::copy(&forged, both.join("a.snapshot")).unwrap();
    std::fs::copy(&snap, both.join("b.snapshot")).unwrap();
    let o = restoring(&dir.path().join("from-both"), &both);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("passing over") && err.contains("a.snapshot") && err.contains("b.snapshot"),
        "{err}"
    );

    // The genuine snapshot restores, verified.
    let o = run(&[
        "restore",
        &s(&snap),
        "--data",
        &s(&dir.path().join("genuine")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("verified: every restored account"),
        "{}",
        stdout(&o)
    );
}

/// A snapshot is signed by the projector's key and checked against the
/// trust file: an unsigned one, or one signed by a key the file does not
/// list, is refused (`--trust none` takes them, saying so); with no trust
/// file at all a restore is refused.
#[test]
fn only_a_snapshot_signed_by_the_projector_of_this_trust_file_restores() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 50, 3);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let restore = |snap: &Path, name: &str, trust: Option<&str>| {
        let target = dir.path().join(name);
        let mut args = vec![];
        if let Some(t) = trust {
            args.extend(["--trust", t]);
        }
        let (snap, target) = (s(snap), s(&target));
        args.extend(["restore", &snap, "--data", &target]);
        run(&args)
    };
    // Unsigned: written only under --trust none, with no key.
    let unsigned = dir.path().join("unsigned.snapshot");
    let o = ledger_e2e::si_ledger(&[
        "--trust",
        "none",
        "snapshot",
        "--data",
        &s(&demo),
        "--out",
        &s(&unsigned),
    ])
    .env_remove("SI_LEDGER_SIGNING_KEY_FILE")
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the snapshot is unsigned"),
        "{}",
        stderr(&o)
    );
    let o = ledger_e2e::si_ledger(&["snapshot", "--data", &s(&demo), "--out", &s(&unsigned)])
        .env_remove("SI_LEDGER_SIGNING_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "no key, no --trust none: refused");
    let o = restore(&unsigned, "u1", None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("it is unsigned"), "{}", stderr(&o));
    let o = restore(&unsigned, "u2", Some("none"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("signatures are not checked"),
        "{}",
        stderr(&o)
    );

    // Signed by another deployment's projector (a demo run without the
    // tests' keys writes its own): a key the tests' trust file does not list.
    let other = dir.path().join("other");
    let o = ledger_e2e::si_ledger(&["demo", "--participants", "5", "--data", &s(&other)])
        .env_remove("SI_LEDGER_TRUST")
        .env_remove("SI_LEDGER_SIGNING_KEY_FILE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let foreign = dir.path().join("foreign.snapshot");
    let o = run(&[
        "--trust",
        &s(&other.join("trust.toml")),
        "--signing-key",
        &s(&other.join("keys").join("projector.key")),
        "snapshot",
        "--data",
        &s(&demo),
        "--out",
        &s(&foreign),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = restore(&foreign, "f1", None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("which the trust file does not list"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("f1").join("store").exists());
    let o = restore(&foreign, "f2", Some(&s(&other.join("trust.toml"))));
    assert!(
        o.status.success(),
        "its own trust file takes it: {}",
        stderr(&o)
    );

    // No trust file named at all.
    let o = ledger_e2e::si_ledger(&[
        "restore",
        &s(&foreign),
        "--data",
        &s(&dir.path().join("f3")),
    ])
    .env_remove("SI_LEDGER_TRUST")
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("give it with --trust FILE"),
        "{}",
        stderr(&o)
    );
}
