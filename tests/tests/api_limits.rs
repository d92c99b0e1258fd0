//! The API under hostile clients (issue 14, availability): the real binary
//! on loopback, flooded with idle connections past its file limit, held
//! by clients that send half a header, and capped in connections. It never
//! dies, and a slow or idle client is cut off.

use ledger_e2e::{auth_file, demo, free_port, http_get, spawn_quiet, wait_serving, Reaped};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// `serve` on a demo store with `extra` options, under `ulimit -n` when
/// given; the process and its port once `/healthz` answers.
fn serve(dir: &Path, data: &Path, nofile: Option<u32>, extra: &[&str]) -> (Reaped, u16) {
    let auth = auth_file(dir, &[("ops", "operator", OPERATOR)]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &listen,
        "--auth",
        auth.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut child = spawn_quiet(&args, nofile);
    wait_serving(port, &mut child);
    (child, port)
}

const OPERATOR: &str = "operator-token-0123456789abcdef0123456";

/// 300 idle connections, held 1.5 s, then closed.
fn flood(port: u16) -> usize {
    let flood: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    flood.len()
}

/// Waits until `/healthz` answers again, the server alive all along.
fn answers_again(port: u16, server: &mut Reaped) {
    let started = Instant::now();
    while !healthy(port) {
        assert!(
            server.child().try_wait().unwrap().is_none(),
            "the server exited"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "/healthz never answered again after the flood"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.child().try_wait().unwrap().is_none());
}

fn healthy(port: u16) -> bool {
    http_get(port, "/healthz").is_some_and(|b| b.contains("\"ok\""))
}

#[test]
fn a_flood_of_idle_connections_past_the_file_limit_never_kills_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 20, 2);
    // 256 descriptors and 300 idle connections: accept() fails with EMFILE.
    let (mut server, port) = serve(
        dir.path(),
        &data,
        Some(256),
        &["--header-read-timeout-ms", "1000"],
    );
    let n = flood(port);
    assert!(n >= 256, "{n} connections");
    // The server is still there, and answers again.
    answers_again(port, &mut server);
}

#[test]
fn a_client_that_sends_half_a_header_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 20, 2);
    let (_server, port) = serve(
        dir.path(),
        &data,
        None,
        &["--header-read-timeout-ms", "500"],
    );
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // An idle keep-alive connection is cut off the same way.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    for s in [&mut slow, &mut idle] {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut all = Vec::new();
        // Read to the end: the server closes the connection (EOF) long
        // before the 20 s read timeout.
        let r = s.read_to_end(&mut all);
        assert!(r.is_ok(), "the server closed the connection: {r:?}");
    }
    assert!(healthy(port));
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 20, 2);
    let (_server, port) = serve(
        dir.path(),
        &data,
        None,
        &[
            "--max-connections",
            "2",
            "--header-read-timeout-ms",
            "60000",
        ],
    );
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // A third request is not served while two connections are held.
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        third.read(&mut buf).is_err(),
        "served beyond the cap of 2 connections"
    );
    // Once one is freed, it is.
    drop(held);
    third
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = Vec::new();
    third.read_to_end(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer).contains("200 OK"));
}

/// The same inside a projector: `project --follow --serve` under
/// `ulimit -n 256`, flooded past it, keeps projecting and serving.
#[test]
fn a_projector_serving_the_api_survives_the_flood_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 20, 2);
    let auth = auth_file(dir.path(), &[("ops", "operator", OPERATOR)]);
    let port = free_port();
    let live = dir.path().join("live");
    let listen = format!("127.0.0.1:{port}");
    let mut projector = spawn_quiet(
        &[
            "project",
            "--log",
            data.join("log").to_str().unwrap(),
            "--data",
            live.to_str().unwrap(),
            "--follow",
            "--serve",
            &listen,
            "--auth",
            auth.to_str().unwrap(),
            "--header-read-timeout-ms",
            "1000",
        ],
        Some(256),
    );
    wait_serving(port, &mut projector);
    flood(port);
    answers_again(port, &mut projector);
}

/// When the server ends on its own (here by the debug build's fault
/// injection), `serve` exits non-zero and `project --serve` stops its
/// projector cleanly and exits non-zero: a supervisor restarts them.
#[test]
fn a_process_whose_server_ends_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 20, 2);
    let auth = auth_file(dir.path(), &[("ops", "operator", OPERATOR)]);
    let listen = format!("127.0.0.1:{}", free_port());
    let serve = ledger_e2e::si_ledger(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &listen,
        "--auth",
        auth.to_str().unwrap(),
    ])
    .env("SI_LEDGER_FAULT_API_END_MS", "300")
    .output()
    .unwrap();
    assert_eq!(serve.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("stopped on its own"));
    let listen = format!("127.0.0.1:{}", free_port());
    let project = ledger_e2e::si_ledger(&[
        "project",
        "--log",
        data.join("log").to_str().unwrap(),
        "--data",
        dir.path().join("live").to_str().unwrap(),
        "--follow",
        "--serve",
        &listen,
        "--auth",
        auth.to_str().unwrap(),
    ])
    .env("SI_LEDGER_FAULT_API_END_MS", "1500")
    .output()
    .unwrap();
    assert_eq!(project.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&project.stderr).contains("the projector stopped with it"),
        "{}",
        String::from_utf8_lossy(&project.stderr)
    );
    // It stopped cleanly: the store it leaves verifies.
    let o = ledger_e2e::run(&[
        "verify",
        "--data",
        dir.path().join("live").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", ledger_e2e::stdout(&o));
}

/// A client that sends requests and never reads the answers is cut off
/// too (the write timeout): with the cap at two, two such clients held
/// open do not keep `/healthz` from answering.
#[test]
fn clients_that_never_read_their_answers_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 20, 2);
    let (mut server, port) = serve(
        dir.path(),
        &data,
        None,
        &["--max-connections", "2", "--header-read-timeout-ms", "1000"],
    );
    let request = "GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(2000);
    let hogs: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
            // The server stops reading once its answers back up: so do we.
            let _ = s.write_all(request.as_bytes());
            s
        })
        .collect();
    answers_again(port, &mut server);
    drop(hogs);
}
