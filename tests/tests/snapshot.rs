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
