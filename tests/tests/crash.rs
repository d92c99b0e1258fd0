//! Crash tests with real processes: a projector killed with SIGKILL at
//! arbitrary moments, restarted each time, ends with exactly the accounts of
//! an uninterrupted run. Nothing lost, nothing counted twice.

use ledger_e2e::{kill_after, run, si_ledger, stderr, stdout};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn sigkill_mid_projection_loses_nothing_and_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    // The demo writes a realistic events file (duplicates, conflicts, late
    // and returned lines, refunds, benefits) and its clean projection.
    let o = run(&[
        "demo",
        "--participants",
        "600",
        "--months",
        "12",
        "--data",
        demo.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events = demo.join("events.jsonl");
    let log = dir.path().join("log");
    let p = run(&[
        "publish",
        "--log",
        log.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(
        p.status.code(),
        Some(2),
        "the demo's bad lines are refused: {}",
        stderr(&p)
    );

    let data = dir.path().join("killed");
    let (log_s, data_s) = (log.to_str().unwrap(), data.to_str().unwrap());
    let mut kills_mid_run = 0;
    for round in 0..12u64 {
        let child = si_ledger(&[
            "project",
            "--log",
            log_s,
            "--data",
            data_s,
            "--batch-size",
            "37",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        if kill_after(child, Duration::from_millis(40 + round * 23)) {
            kills_mid_run += 1;
        }
    }
    assert!(
        kills_mid_run >= 3,
        "the projector must have been killed mid-run ({kills_mid_run} times)"
    );
    let fin = run(&["project", "--log", log_s, "--data", data_s]);
    assert!(fin.status.success(), "{}", stderr(&fin));

    let killed = run(&["accounts", "--data", data_s]);
    let clean = run(&["accounts", "--data", demo.to_str().unwrap()]);
    assert!(killed.status.success() && clean.status.success());
    let (k, c) = (stdout(&killed), stdout(&clean));
    assert_eq!(k.lines().count(), 600);
    assert!(
        k == c,
        "accounts after {kills_mid_run} SIGKILLs differ from an uninterrupted projection"
    );
    let dl_k = stdout(&run(&["dead-letters", "--data", data_s, "--json"]));
    let dl_c = stdout(&run(&[
        "dead-letters",
        "--data",
        demo.to_str().unwrap(),
        "--json",
    ]));
    let strip_ts = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("\"timestamp\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip_ts(&dl_k), strip_ts(&dl_c), "dead letters differ");
}
