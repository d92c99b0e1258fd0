//! Auditors' guarantees, with the real binary: replays give the live
//! store's digest; an archive replays offline to the same digest; and a
//! record flipped, deleted or swapped in the store or the archive makes
//! `verify` fail, naming the first broken link.

use ledger_e2e::{copy_dir, demo, digest, run, stderr, stdout, tampered};
use ledger_store::LedgerStore;

fn verify(args: &[&str]) -> (i32, String) {
    let o = run(&[&["verify"], args].concat());
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&o), stderr(&o)),
    )
}

#[test]
fn replays_archives_and_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo(dir.path(), 120, 3);
    let d = data.to_str().unwrap();
    let log = data.join("log");
    let live = digest(&data);
    let (code, out) = verify(&["--data", d]);
    assert_eq!(code, 0, "{out}");

    // Two replays, and a replay of an offline archive, give the live digest.
    for name in ["replay-1", "replay-2"] {
        let to = dir.path().join(name);
        let o = run(&[
            "replay",
            "--log",
            log.to_str().unwrap(),
            "--data",
            to.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(digest(&to), live);
    }
    let archive = dir.path().join("ledger.archive.jsonl");
    let a = archive.to_str().unwrap();
    let o = run(&["export", "--log", log.to_str().unwrap(), "--out", a]);
    assert!(o.status.success(), "{}", stderr(&o));
    let from_archive = dir.path().join("from-archive");
    let o = run(&[
        "replay",
        "--archive",
        a,
        "--data",
        from_archive.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(digest(&from_archive), live);
    let (code, out) = verify(&["--data", d, "--archive", a]);
    assert_eq!(code, 0, "{out}");
    let o = run(&[
        "replay",
        "--archive",
        a,
        "--data",
        from_archive.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success(),
        "replay refuses a data directory that holds a store"
    );

    // The store: one byte of one event flipped.
    let (flipped, at) = tampered(&data, dir.path(), "flipped", |e| {
        let mid = e[3].event.len() / 2;
        e[3].event[mid] ^= 0x20;
        vec![e[3].position.offset]
    });
    let (code, out) = verify(&["--data", flipped.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!("first broken link: p0@{}:", at[0])),
        "{out}"
    );

    // One entry deleted.
    let (deleted, at) = tampered(&data, dir.path(), "deleted", |e| {
        let gone = e.remove(3);
        vec![gone.position.offset, e[3].position.offset]
    });
    let (code, out) = verify(&["--data", deleted.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let first = out.lines().next().unwrap();
    assert!(
        first.contains(&format!("refs name offsets [{}]", at[0])),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "p0@{}: account update: link does not follow from offset {}",
            at[1],
            at[0] - 1
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("[{}]", at[0])),
        "the account misses it: {out}"
    );

    // Two entries swapped.
    let (swapped, at) = tampered(&data, dir.path(), "swapped", |e| {
        e.swap(3, 4);
        vec![e[3].position.offset, e[4].position.offset]
    });
    let (code, out) = verify(&["--data", swapped.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    // Breaks are listed by offset: the lower of the two swapped comes first.
    let lower = at[0].min(at[1]);
    assert!(
        out.starts_with(&format!(
            "first broken link: p0@{lower}: stored after offset"
        )),
        "{out}"
    );

    // An account's stored balance edited: its history does not give it.
    let edited = dir.path().join("edited");
    copy_dir(&data, &edited);
    {
        let store = LedgerStore::open(&edited.join("store")).unwrap();
        let mut first = None;
        store
            .for_each_account(|p, a| {
                if first.is_none() && a.contributions_total > ledger_core::Money::ZERO {
                    first = Some((p, a.iin));
                }
            })
            .unwrap();
        let (p, iin) = first.unwrap();
        let mut r = store.account_record(p, &iin).unwrap().unwrap();
        r.account.late_recordings += 1;
        store
            .write(&ledger_store::WriteBatch {
                accounts: vec![(p, r)],
                ..Default::default()
            })
            .unwrap();
    }
    let (code, out) = verify(&["--data", edited.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("late_recordings"), "{out}");

    // The archive: a line edited, deleted, or two swapped. Line 1 is the
    // header; records start at line 2.
    let text = std::fs::read_to_string(&archive).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let variants: [(&str, Vec<String>, usize); 3] = [
        (
            "edited",
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if i == 5 {
                        l.replacen("\"ts\":", "\"ts\":1", 1)
                    } else {
                        l.to_string()
                    }
                })
                .collect(),
            6,
        ),
        (
            "deleted",
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 5)
                .map(|(_, l)| l.to_string())
                .collect(),
            6,
        ),
        (
            "swapped",
            {
                let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                v.swap(5, 6);
                v
            },
            6,
        ),
    ];
    for (name, content, line) in variants {
        let bad = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&bad, content.join("\n") + "\n").unwrap();
        let (code, out) = verify(&["--data", d, "--archive", bad.to_str().unwrap()]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains(&format!("line {line}:")), "{name}: {out}");
        assert!(out.contains("link does not follow"), "{name}: {out}");
    }
}
