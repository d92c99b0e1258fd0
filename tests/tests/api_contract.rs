//! The API against its own contract: Schemathesis (`--checks all`,
//! installed by `scripts/test`, which sets `SI_LEDGER_SCHEMATHESIS`)
//! generates requests from `docs/openapi.json`, valid IINs drawn from the
//! store (`tests/schemathesis_hooks.py`), and checks every answer: status
//! codes and bodies as documented, schema-valid requests accepted, invalid
//! ones refused, every error in the JSON format.

use ledger_e2e::{auth_file, demo, free_port, spawn_quiet, statements, wait_serving};

const AUDITOR: &str = "contract-auditor-0123456789abcdef0123";

#[test]
fn the_api_keeps_its_openapi_contract() {
    let schemathesis = std::env::var("SI_LEDGER_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "SI_LEDGER_SCHEMATHESIS is not set: run this test through scripts/test, which \
             installs Schemathesis in a virtual environment and sets it"
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 50, 3);
    let d = data.to_str().unwrap();
    let iins: Vec<String> = statements(&data)
        .iter()
        .map(|v| v["iin"].as_str().expect("an IIN").to_string())
        .collect();
    assert!(iins.len() > 40);
    let iins_file = dir.path().join("iins.json");
    std::fs::write(&iins_file, serde_json::to_string(&iins).unwrap()).unwrap();
    let auth = auth_file(dir.path(), &[("contract", "auditor", AUDITOR)]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = spawn_quiet(
        &[
            "serve",
            "--data",
            d,
            "--listen",
            &listen,
            "--auth",
            auth.to_str().unwrap(),
        ],
        None,
    );
    wait_serving(port, &mut server);
    let hooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // Schemathesis keeps a cache of what it found in its working
    // directory: the test's own, never the source tree.
    let o = std::process::Command::new(&schemathesis)
        .current_dir(dir.path())
        .args([
            "run",
            &format!("http://127.0.0.1:{port}/openapi.json"),
            "--checks",
            "all",
            "--max-examples",
            "50",
            "--seed",
            "2026",
            "-H",
            &format!("Authorization: Bearer {AUDITOR}"),
        ])
        .env("SI_LEDGER_IINS", &iins_file)
        .env("PYTHONPATH", hooks)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .output()
        .expect("schemathesis runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(" passed"), "{out}");
    // Reads succeeded, and were checked: the access log has them.
    let records = std::fs::read_to_string(data.join("access-log.jsonl")).unwrap();
    assert!(records.contains("\"outcome\":200"), "no successful read");
}
