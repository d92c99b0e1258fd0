//! The access log as evidence, through the real binary: a torn line (what
//! a crash or a full disk leaves) never makes it unreadable, a read that
//! cannot be recorded leaves no bytes, the chain names a damaged line, and
//! `access-log` never reads a mistyped store as "nobody read anything".

use ledger_e2e::{auth_file, demo, free_port, run, stderr, stdout, test_env, wait_serving, Reaped};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

const AUDITOR: &str = "auditor-token-0123456789abcdef0123456789";

/// `si-ledger serve` over `data`, its files limited to `fsize_blocks` of
/// 512 bytes when given (SIGXFSZ ignored, so a write past it fails with
/// EFBIG, as on a full disk).
fn serve(dir: &Path, data: &Path, fsize_blocks: Option<u32>) -> (Reaped, u16) {
    let auth = auth_file(dir, &[("audit-office", "auditor", AUDITOR)]);
    let port = free_port();
    let limit = fsize_blocks
        .map(|b| format!("trap '' XFSZ; ulimit -f {b} && "))
        .unwrap_or_default();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("{limit}exec \"$0\" \"$@\""))
        .arg(ledger_e2e::binary())
        .args(["serve", "--data", data.to_str().unwrap(), "--auth"])
        .arg(&auth)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    test_env(&mut c);
    let mut server = Reaped(Some(
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_serving(port, &mut server);
    (server, port)
}

/// `GET path` with the auditor's token: status, lowercased header block, body.
fn get(port: u16, path: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {AUDITOR}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn stop(server: Reaped) {
    let mut child = server.take();
    ledger_e2e::sigterm(&child);
    child.wait().unwrap();
}

fn first_iin(data: &Path) -> String {
    ledger_e2e::statements(data)[0]["iin"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Case 1 of wave 3: a torn fragment at the end of the log made every
/// later read of it fail (500 from the API, an error from the CLI), and the
/// next record was glued onto the fragment.
#[test]
fn a_torn_line_never_makes_the_access_log_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 30, 2);
    let d = data.to_str().unwrap();
    let iin = first_iin(&data);
    let log = data.join("access-log.jsonl");
    // A record from before the chain, then what a crash mid-append leaves.
    let old = r#"{"at":"2026-12-01T08:00:00.000Z","who":"old-office","role":"auditor","iin":null,"endpoint":"GET /v1/access-log"}"#;
    std::fs::write(
        &log,
        format!("{old}\n{{\"at\":\"2026-12-06T09:03:00.000Z\",\"who\":\"x\",\"role\":\"aud"),
    )
    .unwrap();

    let (server, port) = serve(dir.path(), &data, None);
    assert_eq!(get(port, &format!("/v1/accounts/{iin}")).0, 200);
    let (status, _, body) = get(port, "/v1/access-log?limit=1000");
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["unreadable"], serde_json::json!([]), "{body}");
    let who: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["who"].as_str().unwrap())
        .collect();
    assert_eq!(
        who,
        ["old-office", "audit-office", "audit-office"],
        "{body}"
    );
    stop(server);

    // The fragment is gone, and every line is a record on its own.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.ends_with('\n') && !text.contains(r#""who":"x""#),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3);
    let o = run(&["access-log", "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&iin), "{}", stdout(&o));
    let o = run(&["access-log", "--data", d, "--verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("line 1: 1 record(s) from before the chain began"),
        "{out}"
    );
    assert!(
        out.contains("2 record(s) follow") && out.contains("chain intact"),
        "{out}"
    );

    // A line in the middle damaged: both readers name it and go on, the
    // server chains on, and the chain names the place.
    let lines: Vec<&str> = text.lines().collect();
    let damaged = format!("{}\nnot a record\n{}\n", lines[0], lines[2]);
    std::fs::write(&log, &damaged).unwrap();
    let (server, port) = serve(dir.path(), &data, None);
    let (status, _, body) = get(port, "/v1/access-log?limit=1000");
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    let unreadable = page["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1, "{body}");
    assert_eq!(
        unreadable[0]["offset"],
        (old.len() + 1).to_string(),
        "{body}"
    );
    assert!(unreadable[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("not an access record"));
    assert_eq!(page["records"].as_array().unwrap().len(), 3, "{body}");
    stop(server);
    let o = run(&["access-log", "--data", d]);
    assert_eq!(o.status.code(), Some(1), "a damaged trail is a finding");
    assert!(stdout(&o).contains("old-office"), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!("line 2 (byte {})", old.len() + 1)),
        "{}",
        stderr(&o)
    );
    let o = run(&["access-log", "--data", d, "--verify"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let broken: Vec<&str> = out.lines().filter(|l| l.contains("BROKEN")).collect();
    assert_eq!(broken.len(), 2, "{out}");
    assert!(
        broken[0].contains("line 2 ") && broken[1].contains("line 3 "),
        "{out}"
    );
    assert!(
        out.contains("1 record(s) follow"),
        "the new record chains on: {out}"
    );
}

/// A full disk: the reads whose record could not be written are refused,
/// and leave no byte behind (before, the failed write left a fragment that
/// the next record was glued to). RLIMIT_FSIZE makes the real file's write
/// fail part way, as ENOSPC does.
#[test]
fn a_read_that_cannot_be_recorded_is_refused_and_leaves_no_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 30, 2);
    let iin = first_iin(&data);
    let log = data.join("access-log.jsonl");
    // 2 KiB: a few records fit, then a write runs past the limit.
    let (server, port) = serve(dir.path(), &data, Some(4));
    let (mut served, mut refused) = (0, 0);
    for _ in 0..20 {
        let before = std::fs::metadata(&log).unwrap().len();
        let (status, head, body) = get(port, &format!("/v1/accounts/{iin}"));
        match status {
            200 => served += 1,
            503 => {
                refused += 1;
                assert!(body.contains("access_log"), "{body}");
                assert!(head.contains("cache-control: no-store"), "{head}");
                assert_eq!(
                    std::fs::metadata(&log).unwrap().len(),
                    before,
                    "a refused read left bytes"
                );
            }
            s => panic!("{s}: {body}"),
        }
    }
    stop(server);
    assert!(
        served >= 3 && refused >= 1,
        "{served} served, {refused} refused"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    assert!(text.len() <= 2048);
    assert_eq!(text.lines().count(), served, "one record per read served");
    let o = run(&["access-log", "--data", data.to_str().unwrap(), "--verify"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("chain intact"), "{}", stdout(&o));
}

/// Case 12 of wave 3: `access-log --data <missing dir>` printed nothing and
/// exited 0, as though nobody had read anything.
#[test]
fn access_log_says_when_there_is_no_store_or_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let m = missing.to_str().unwrap();
    for args in [
        vec!["access-log", "--data", m],
        vec!["access-log", "--data", m, "--verify"],
        vec!["access-log", "--data", m, "--json"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("no store at"), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    let o = run(&["access-log", "--access-log", m]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no access log at"), "{}", stderr(&o));
    // A store no server has served: nothing was read, and it says so.
    let data = demo(dir.path(), 10, 1);
    let o = run(&["access-log", "--data", data.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("no API server has served"),
        "{}",
        stderr(&o)
    );
    // Verifying it verifies nothing: no pass (a log removed must not pass).
    let o = run(&["access-log", "--data", data.to_str().unwrap(), "--verify"]);
    assert_eq!(o.status.code(), Some(1));
    // Nor does an empty log, or one whose records all lack their chain.
    let log = data.join("access-log.jsonl");
    for text in [
        String::new(),
        "{\"at\":\"2026-12-06T09:00:00.000Z\",\"who\":\"a\",\"role\":\"auditor\",\"iin\":null,\"endpoint\":\"/v1/x\"}\n".repeat(3),
    ] {
        std::fs::write(&log, &text).unwrap();
        let o = run(&["access-log", "--data", data.to_str().unwrap(), "--verify"]);
        assert_eq!(o.status.code(), Some(1), "{text:?}: {}", stdout(&o));
        assert!(!stdout(&o).contains("chain intact"), "{}", stdout(&o));
        assert!(stderr(&o).contains("nothing was verified"), "{}", stderr(&o));
    }
}
