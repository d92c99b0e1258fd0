//! Issue 27 with the real binary: an auditor with only the projector's
//! verifier keys, a checkpoint saved earlier and a proof directory checks
//! every entry of a statement and that the log only grew; a store edited
//! after signing cannot prove; a forked history cannot show itself
//! consistent with the true one; replays sign the same checkpoints.

use ledger_e2e::{checkpoints, copy_dir, demo, run, stderr, stdout, tampered};
use ledger_store::LedgerStore;
use std::path::{Path, PathBuf};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn ok(args: &[&str]) -> std::process::Output {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    o
}

/// Runs, expecting a failure; its standard error.
fn refused(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} succeeded: {}", stdout(&o));
    stderr(&o)
}

/// The independent verifier `tests/go-verifier` (Go's
/// `golang.org/x/mod/sumdb/note` and `sumdb/tlog`), which `scripts/test`
/// builds and names in `SI_LEDGER_GO_VERIFIER`.
fn go_verifier(args: &[&Path]) -> std::process::Output {
    let bin = std::env::var_os("SI_LEDGER_GO_VERIFIER").expect(
        "SI_LEDGER_GO_VERIFIER is not set: run this test through scripts/test, which builds \
         tests/go-verifier",
    );
    std::process::Command::new(bin)
        .args(args)
        .output()
        .expect("the Go verifier runs")
}

/// `si-ledger verify-proof DIR --vkeys KEYS` with `extra` arguments.
fn verify_proof(dir: &Path, keys: &Path, extra: &[&str]) -> std::process::Output {
    run(&[&["verify-proof", arg(dir), "--vkeys", arg(keys)], extra].concat())
}

/// `si-ledger consistency` of partition `p` from the saved checkpoint `old`.
fn consistency(data: &Path, p: &str, old: &Path) -> std::process::Output {
    run(&[
        "consistency",
        "--data",
        arg(data),
        "--partition",
        p,
        "--old",
        arg(old),
    ])
}

fn vkeys(data: &Path, dir: &Path) -> PathBuf {
    let o = ok(&["checkpoint", "--data", arg(data), "--vkeys"]);
    let f = dir.join("vkeys");
    std::fs::write(&f, &o.stdout).unwrap();
    f
}

/// The IIN of the account with the longest history in `data`.
fn busiest(data: &Path) -> String {
    let mut all = ledger_e2e::statements(data);
    all.sort_by_key(|s| std::cmp::Reverse(s["history_len"].as_u64().unwrap()));
    all[0]["iin"].as_str().unwrap().to_string()
}

fn publish_and_project(lines: &Path, log: &Path, data: &Path, batch: &str) {
    // The demo's file ends with lines refused at the door (exit 1): the
    // others are published.
    let o = run(&["publish", "--log", arg(log), arg(lines)]);
    assert!(
        stdout(&o).contains("published"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    ok(&[
        "project",
        "--log",
        arg(log),
        "--data",
        arg(data),
        "--batch-size",
        batch,
    ]);
}

/// The demo's events, split in two halves at a line boundary.
fn halves(demo: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(demo.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let (fa, fb) = (dir.join("first.jsonl"), dir.join("second.jsonl"));
    std::fs::write(&fa, a.join("\n") + "\n").unwrap();
    std::fs::write(&fb, b.join("\n") + "\n").unwrap();
    (fa, fb)
}

#[test]
fn an_auditor_checks_a_statement_and_the_logs_growth_offline() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 150, 4);
    let (first, second) = halves(&demo, dir.path());
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    publish_and_project(&first, &log, &data, "500");
    let iin = busiest(&data);
    let p = {
        let o = ok(&["account", &iin, "--data", arg(&data), "--json"]);
        let _: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // The partition, from a proof written now.
        let early = dir.path().join("early-proofs");
        ok(&["prove", &iin, "--data", arg(&data), "--out", arg(&early)]);
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(early.join("statement.json")).unwrap()).unwrap();
        st["partition"].as_u64().unwrap().to_string()
    };
    // The auditor saves the checkpoint of today.
    let saved = dir.path().join("saved.checkpoint");
    let o = ok(&["checkpoint", "--data", arg(&data), "--partition", &p]);
    std::fs::write(&saved, &o.stdout).unwrap();
    // The log grows.
    publish_and_project(&second, &log, &data, "500");
    let keys = vkeys(&data, dir.path());
    let key_text = std::fs::read_to_string(&keys).unwrap();
    assert!(
        key_text.contains(&format!("si-ledger.example.kz/test/p{p}+")),
        "{key_text}"
    );
    let proofs = dir.path().join("proofs");
    ok(&["prove", &iin, "--data", arg(&data), "--out", arg(&proofs)]);
    let body = dir.path().join("consistency");
    let o = consistency(&data, &p, &saved);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&body, &o.stdout).unwrap();
    assert!(stdout(&o).starts_with("old "), "{}", stdout(&o));
    let verify = |dir: &Path, extra: &[&str]| {
        let growth = ["--checkpoint", arg(&saved), "--consistency", arg(&body)];
        verify_proof(dir, &keys, &[&growth[..], extra].concat())
    };
    let o = verify(&proofs, &["--json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // The same, with the consistency proof in the directory (`prove --old`).
    let with_old = dir.path().join("proofs-with-old");
    ok(&[
        "prove",
        &iin,
        "--data",
        arg(&data),
        "--out",
        arg(&with_old),
        "--old",
        arg(&saved),
    ]);
    let in_dir = verify_proof(&with_old, &keys, &["--checkpoint", arg(&saved)]);
    assert!(in_dir.status.success(), "{}", stderr(&in_dir));
    assert!(
        stdout(&in_dir).contains("extends the saved checkpoint"),
        "{}",
        stdout(&in_dir)
    );
    // The Go checksum database's own note and tlog packages agree.
    let go = go_verifier(&[&keys, &proofs, &saved, &body]);
    assert!(go.status.success(), "{}{}", stdout(&go), stderr(&go));
    assert!(
        stdout(&go).contains("extends the saved checkpoint"),
        "{}",
        stdout(&go)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let st = ok(&["account", &iin, "--data", arg(&data), "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["statement"], st, "the figures recomputed from the proofs");
    let n = st["history_len"].as_u64().unwrap();
    assert_eq!(v["entries"].as_u64().unwrap(), n);
    assert_eq!(v["extends"].as_array().unwrap().len(), 1);
    let files: Vec<String> = std::fs::read_dir(&proofs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len() as u64, n + 1, "{files:?}");
    assert!(files.iter().all(|f| f == "statement.json"
        || (f.starts_with(&format!("p{p}-")) && f.ends_with(".tlog-proof"))));

    // Each way of lying is caught, and named.
    let broken = |name: &str, edit: &dyn Fn(&Path)| -> String {
        let copy = dir.path().join(name);
        copy_dir(&proofs, &copy);
        edit(&copy);
        let o = verify(&copy, &[]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        stderr(&o)
    };
    let mut proof_files: Vec<PathBuf> = std::fs::read_dir(&proofs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|e| e == "tlog-proof"))
        .collect();
    proof_files.sort();
    let one = proof_files[1]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let e = broken("flipped-leaf", &|d| {
        let f = d.join(&one);
        let text = std::fs::read_to_string(&f).unwrap();
        let extra = text.lines().nth(1).unwrap();
        let flipped: String = extra
            .char_indices()
            .map(|(i, c)| {
                if i == 30 {
                    if c == 'A' {
                        'B'
                    } else {
                        'A'
                    }
                } else {
                    c
                }
            })
            .collect();
        std::fs::write(&f, text.replacen(extra, &flipped, 1)).unwrap();
    });
    assert!(e.contains(&one), "{e}");
    let flipped = dir.path().join("flipped-leaf");
    let go = go_verifier(&[&keys, &flipped]);
    assert_eq!(go.status.code(), Some(1), "{}", stdout(&go));
    assert!(stderr(&go).contains(&one), "{}", stderr(&go));
    // A sign on the index, and statement members that are not the
    // proofs' (the hostile auditor's finds).
    let e = broken("signed-index", &|d| {
        let f = d.join(&one);
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, text.replacen("\nindex ", "\nindex +", 1)).unwrap();
    });
    assert!(e.contains("not a decimal"), "{e}");
    let edit_statement = |d: &Path, edit: &dyn Fn(&mut serde_json::Value)| {
        let f = d.join("statement.json");
        let mut st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        edit(&mut st);
        std::fs::write(&f, serde_json::to_vec(&st).unwrap()).unwrap();
    };
    let e = broken("size-restated", &|d| {
        edit_statement(d, &|st| st["checkpoint_size"] = 7.into())
    });
    assert!(e.contains("checkpoint size 7"), "{e}");
    let e = broken("member-added", &|d| {
        edit_statement(d, &|st| st["note"] = "trust me".into())
    });
    assert!(e.contains("unknown field"), "{e}");
    let e = broken("iin-restated", &|d| {
        edit_statement(d, &|st| st["statement"]["iin"] = "900517400055".into())
    });
    assert!(e.contains("iin: differs"), "{e}");
    assert!(
        !e.contains("900517400055") && !e.contains(&iin),
        "no IIN in clear: {e}"
    );
    let e = broken("figure-changed", &|d| {
        let f = d.join("statement.json");
        let mut st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        st["statement"]["contributions_total"] = "999999.00".into();
        std::fs::write(&f, serde_json::to_vec(&st).unwrap()).unwrap();
    });
    assert!(e.contains("contributions_total"), "{e}");
    let e = broken("entry-dropped", &|d| {
        let f = d.join("statement.json");
        let mut st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        st["entries"].as_array_mut().unwrap().remove(1);
        std::fs::write(&f, serde_json::to_vec(&st).unwrap()).unwrap();
    });
    assert!(e.contains("previous link"), "{e}");
    let e = broken("event-swapped", &|d| {
        let f = d.join("statement.json");
        let mut st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let other = st["entries"][0]["event"].clone();
        st["entries"][1]["event"] = other;
        std::fs::write(&f, serde_json::to_vec(&st).unwrap()).unwrap();
    });
    assert!(e.contains("content hash"), "{e}");
    // Another key (a fresh one under the same names) verifies nothing.
    let other_keys = dir.path().join("other-vkeys");
    let forged: String = key_text
        .lines()
        .map(|l| {
            let (name, rest) = l.split_once('+').unwrap();
            let (_, key) = rest.split_once('+').unwrap();
            let mut k: Vec<char> = key.chars().collect();
            k[10] = if k[10] == 'A' { 'B' } else { 'A' };
            format!("{name}+00000000+{}\n", k.into_iter().collect::<String>())
        })
        .collect();
    std::fs::write(&other_keys, forged).unwrap();
    let o = verify_proof(&proofs, &other_keys, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // Bad keys files are named with their line.
    let garbage = dir.path().join("garbage-vkeys");
    std::fs::write(&garbage, format!("{key_text}not a key\n")).unwrap();
    let o = verify_proof(&proofs, &garbage, &[]);
    assert!(!o.status.success());
    let lines = key_text.lines().count() + 1;
    assert!(
        stderr(&o).contains(&format!("garbage-vkeys line {lines}")),
        "{}",
        stderr(&o)
    );
    // An endless file is refused, not read to the end.
    let o = run(&["verify-proof", arg(&proofs), "--vkeys", "/dev/zero"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("more than"), "{}", stderr(&o));
    // Only a checkpoint this log signed is extended: not one stripped of
    // its signature, nor another partition's.
    let unsigned = dir.path().join("unsigned");
    let text = std::fs::read_to_string(&saved).unwrap();
    let (body_text, _) = text.rsplit_once("\n\n").unwrap();
    std::fs::write(
        &unsigned,
        format!("{body_text}\n\n— si-ledger.example.kz/test/p{p} AAAAAA==\n"),
    )
    .unwrap();
    let e = stderr(&consistency(&data, &p, &unsigned));
    assert!(e.contains("signed"), "{e}");
    let other = if p == "0" { "1" } else { "0" };
    let e = stderr(&consistency(&data, other, &saved));
    assert!(e.contains(&format!("partition {p}'s checkpoint")), "{e}");
    // A saved checkpoint without a proof that the proofs' one extends it
    // is not taken on trust.
    let o = verify_proof(&proofs, &keys, &["--checkpoint", arg(&saved)]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("consistency"), "{}", stderr(&o));
}

#[test]
fn a_store_edited_after_signing_cannot_prove() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 80, 3);
    // An entry of partition 0 changed in place: its amount's outcome
    // reason, as an insider with the store's files could.
    let mut victim = String::new();
    let (edited, _) = tampered(&demo, dir.path(), "edited", |entries| {
        let e = &mut entries[0];
        let d = ledger_proto::decode_canonical(&e.event).unwrap();
        victim = d.envelope.iin.as_str().to_string();
        e.timestamp_ms += 1;
        vec![e.position.offset]
    });
    let e = refused(&[
        "prove",
        &victim,
        "--data",
        arg(&edited),
        "--out",
        arg(&dir.path().join("p1")),
    ]);
    assert!(
        e.contains("partition 0") && e.contains("changed after"),
        "{e}"
    );
    assert!(!e.contains(&victim), "the IIN stays masked: {e}");
    assert!(!dir.path().join("p1").exists());
    // Into a dangling symbolic link: refused, and nothing left behind.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
    let e = refused(&[
        "prove",
        &busiest(&demo),
        "--data",
        arg(&demo),
        "--out",
        arg(&link),
    ]);
    assert!(e.contains("exists"), "{e}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".prove-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A tree hash rewritten: the store's tree no longer has the signed root.
    let data = dir.path().join("tile");
    copy_dir(&demo, &data);
    {
        let store = LedgerStore::open(&data.join("store")).unwrap();
        let mut k = vec![b'K'];
        k.extend(0u32.to_be_bytes());
        k.push(0);
        k.extend(0u64.to_be_bytes());
        let mut tile = ledger_store::Kv::get(store.backend(), &k).unwrap().unwrap();
        tile[0] ^= 1;
        let mut b = ledger_store::KvBatch::default();
        b.put(k, tile);
        ledger_store::Kv::write(store.backend(), b).unwrap();
    }
    let e = refused(&[
        "prove",
        &victim,
        "--data",
        arg(&data),
        "--out",
        arg(&dir.path().join("p2")),
    ]);
    assert!(
        e.contains("partition 0") && e.contains("changed after"),
        "{e}"
    );
}

#[test]
fn a_history_forked_early_cannot_prove_itself_consistent_with_the_true_one() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 100, 3);
    let text = std::fs::read_to_string(demo.join("events.jsonl")).unwrap();
    // One amount changed on the first contribution line.
    let at = text.find("\"amount\":\"").expect("a contribution line") + 10;
    let end = at + text[at..].find('"').unwrap();
    let forked_text = format!("{}1{}", &text[..at], &text[at..]);
    assert_ne!(&text[at..end], &forked_text[at..end + 1]);
    let fork_lines = dir.path().join("fork.jsonl");
    std::fs::write(&fork_lines, forked_text).unwrap();
    let true_data = dir.path().join("true");
    let fork_data = dir.path().join("fork");
    publish_and_project(
        &demo.join("events.jsonl"),
        &dir.path().join("true-log"),
        &true_data,
        "40",
    );
    publish_and_project(&fork_lines, &dir.path().join("fork-log"), &fork_data, "40");
    let keys = vkeys(&true_data, dir.path());
    // Per partition: a checkpoint of the true history from the middle of
    // its run (after the early fork), saved.
    let first_sizes: Vec<(u32, u64)> = {
        let store = LedgerStore::open(&true_data.join("store")).unwrap();
        (0..4)
            .map(|p| {
                let sizes = store.checkpoint_sizes(p).unwrap();
                assert!(sizes.len() > 4, "{sizes:?}");
                (p, sizes[sizes.len() / 2])
            })
            .collect()
    };
    let mut forked = 0;
    for (p, size) in first_sizes {
        let saved = dir.path().join(format!("saved-{p}"));
        let o = ok(&[
            "checkpoint",
            "--data",
            arg(&true_data),
            "--partition",
            &p.to_string(),
            "--size",
            &size.to_string(),
        ]);
        std::fs::write(&saved, &o.stdout).unwrap();
        let o = consistency(&fork_data, &p.to_string(), &saved);
        if o.status.success() {
            // An untouched partition: its history is the true one.
            continue;
        }
        forked += 1;
        let e = stderr(&o);
        assert!(
            e.contains(&format!("partition {p}")) && e.contains(&format!("size {size}")),
            "{e}"
        );
        // The fork's own proof from its checkpoint of that size does not
        // verify from the true one either.
        let fork_saved = dir.path().join(format!("fork-saved-{p}"));
        let o = ok(&[
            "checkpoint",
            "--data",
            arg(&fork_data),
            "--partition",
            &p.to_string(),
            "--size",
            &size.to_string(),
        ]);
        std::fs::write(&fork_saved, &o.stdout).unwrap();
        assert_ne!(o.stdout, std::fs::read(&saved).unwrap());
        let body = dir.path().join(format!("fork-body-{p}"));
        let o = consistency(&fork_data, &p.to_string(), &fork_saved);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::write(&body, &o.stdout).unwrap();
        let proofs = dir.path().join(format!("fork-proofs-{p}"));
        // Any account of that partition will do: the busiest of the fork.
        let iin = ledger_e2e::statements(&fork_data)
            .into_iter()
            .map(|s| s["iin"].as_str().unwrap().to_string())
            .find(|iin| {
                let o = run(&[
                    "prove",
                    iin,
                    "--data",
                    arg(&fork_data),
                    "--out",
                    arg(&proofs),
                ]);
                let mine = o.status.success()
                    && std::fs::read_to_string(proofs.join("statement.json"))
                        .unwrap()
                        .contains(&format!("\"partition\": {p}"));
                if !mine {
                    let _ = std::fs::remove_dir_all(&proofs);
                }
                mine
            })
            .expect("an account on the forked partition");
        let _ = iin;
        // Its proofs verify alone (the fork is signed with the same key)...
        let o = verify_proof(&proofs, &keys, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        // ...but not as an extension of the true history.
        let o = verify_proof(
            &proofs,
            &keys,
            &["--checkpoint", arg(&saved), "--consistency", arg(&body)],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(stderr(&o).contains("does not extend"), "{}", stderr(&o));
    }
    assert_eq!(forked, 1, "exactly the partition with the changed amount");
}

#[test]
fn a_replay_signs_the_same_checkpoints_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 120, 3);
    let replayed = dir.path().join("replayed");
    ok(&[
        "replay",
        "--log",
        arg(&demo.join("log")),
        "--data",
        arg(&replayed),
        "--batch-size",
        "37",
    ]);
    let live = checkpoints(&demo);
    assert_eq!(live.len(), 4);
    assert_eq!(checkpoints(&replayed), live);
    // Every size signed on both runs has the same bytes.
    let (a, b) = (
        LedgerStore::open(&demo.join("store")).unwrap(),
        LedgerStore::open(&replayed.join("store")).unwrap(),
    );
    let mut common = 0;
    for p in 0..4 {
        let sizes = a.checkpoint_sizes(p).unwrap();
        for s in b.checkpoint_sizes(p).unwrap() {
            if sizes.contains(&s) {
                assert_eq!(a.checkpoint(p, s).unwrap(), b.checkpoint(p, s).unwrap());
                common += 1;
            }
        }
        // The replay, cut in batches of 37, signed many checkpoints.
        assert!(b.checkpoint_sizes(p).unwrap().len() > 3);
    }
    assert!(common >= 4);
    drop((a, b));
    // And the digest note is the same too.
    let note = |d: &Path| ok(&["digest", "--data", arg(d), "--note"]).stdout;
    assert_eq!(note(&demo), note(&replayed));
    let text = String::from_utf8(note(&demo)).unwrap();
    assert!(
        text.starts_with("si-ledger.example.kz/test\ndigest\np0 "),
        "{text}"
    );
}

/// `method path` with a bearer token and an optional JSON body; the
/// status and body.
fn request(port: u16, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let body_part = body.map_or(String::new(), |b| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    });
    let head_end = if body.is_some() { "" } else { "\r\n" };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n{body_part}{head_end}"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

#[test]
fn the_api_serves_what_an_auditor_verifies_offline() {
    const AUDITOR: &str = "auditor-token-1-0123456789abcdef0123";
    const OPERATOR: &str = "operator-token-1-0123456789abcdef012";
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 60, 3);
    let iin = busiest(&demo);
    // Read before the server holds the store.
    let signed = checkpoints(&demo);
    let auth = ledger_e2e::auth_file(
        dir.path(),
        &[
            ("audit-office", "auditor", AUDITOR),
            ("ops", "operator", OPERATOR),
        ],
    );
    let port = ledger_e2e::free_port();
    let mut child = ledger_e2e::spawn_quiet(
        &[
            "serve",
            "--data",
            arg(&demo),
            "--auth",
            arg(&auth),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        None,
    );
    ledger_e2e::wait_serving(port, &mut child);
    let body = format!("{{\"iin\":\"{iin}\"}}");
    // An operator may not; every attempt is recorded.
    let (status, _) = request(port, "POST", "/v1/accounts/proof", OPERATOR, Some(&body));
    assert_eq!(status, 403);
    let (status, text) = request(port, "POST", "/v1/accounts/proof", AUDITOR, Some(&body));
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(&format!("\"iin\":\"{iin}\",\"partition\"")));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let proofs = dir.path().join("from-api");
    std::fs::create_dir(&proofs).unwrap();
    for (name, content) in v["files"].as_object().unwrap() {
        std::fs::write(proofs.join(name), content.as_str().unwrap()).unwrap();
    }
    let (status, text) = request(port, "GET", "/v1/checkpoints/vkeys", AUDITOR, None);
    assert_eq!(status, 200, "{text}");
    let keys: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vkeys = dir.path().join("vkeys");
    let lines: Vec<&str> = keys["vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    std::fs::write(&vkeys, lines.join("\n") + "\n").unwrap();
    let p = v["partition"].as_u64().unwrap();
    let (status, text) = request(port, "GET", &format!("/v1/checkpoints/{p}"), AUDITOR, None);
    assert_eq!(status, 200, "{text}");
    let cp: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        cp["checkpoint"].as_str().unwrap().as_bytes(),
        signed[p as usize].as_slice()
    );
    let saved = dir.path().join("saved");
    std::fs::write(&saved, cp["checkpoint"].as_str().unwrap()).unwrap();
    let q = serde_json::json!({ "old": cp["checkpoint"] }).to_string();
    let (status, text) = request(
        port,
        "POST",
        &format!("/v1/checkpoints/{p}/consistency"),
        AUDITOR,
        Some(&q),
    );
    assert_eq!(status, 200, "{text}");
    let c: serde_json::Value = serde_json::from_str(&text).unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, c["body"].as_str().unwrap()).unwrap();
    let o = verify_proof(
        &proofs,
        &vkeys,
        &[
            "--checkpoint",
            arg(&saved),
            "--consistency",
            arg(&body_file),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    drop(child);
    let log = std::fs::read_to_string(demo.join("access-log.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |endpoint: &str, outcome: u64| {
        records
            .iter()
            .any(|r| r["endpoint"] == endpoint && r["outcome"] == outcome)
    };
    assert!(has("POST /v1/accounts/proof", 403), "{log}");
    assert!(has("POST /v1/accounts/proof", 200), "{log}");
    assert!(records
        .iter()
        .any(|r| r["endpoint"] == "POST /v1/accounts/proof" && r["iin"] == iin.as_str()));
    assert!(has("GET /v1/checkpoints/vkeys", 200), "{log}");
    assert!(has("GET /v1/checkpoints/{partition}", 200), "{log}");
    assert!(
        has("POST /v1/checkpoints/{partition}/consistency", 200),
        "{log}"
    );
}

#[test]
fn an_origin_named_later_signs_the_trees_kept_all_along() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path(), 40, 2);
    let keys = ledger_e2e::keys_dir();
    let with = keys.join("trust.toml");
    let text = std::fs::read_to_string(&with).unwrap();
    let without = dir.path().join("no-origin.toml");
    std::fs::write(
        &without,
        text.lines()
            .filter(|l| !l.starts_with("origin"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let (log, data) = (demo.join("log"), dir.path().join("data"));
    let o = run(&[
        "--trust",
        arg(&without),
        "project",
        "--log",
        arg(&log),
        "--data",
        arg(&data),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = refused(&["checkpoint", "--data", arg(&data), "--partition", "0"]);
    assert!(e.contains("no signed checkpoint"), "{e}");
    // The same store, its trust file now naming the origin: the start signs.
    let o = run(&[
        "--trust",
        arg(&with),
        "project",
        "--log",
        arg(&log),
        "--data",
        arg(&data),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(checkpoints(&data), checkpoints(&demo));
    let iin = busiest(&data);
    ok(&[
        "prove",
        &iin,
        "--data",
        arg(&data),
        "--out",
        arg(&dir.path().join("p")),
    ]);
}
