//! KZ-1048 as decoded here ([`ledger_mt102::encoding`]: windows-1251 from
//! `encoding_rs` with 16 letters put back) against two implementations of
//! its own: Python's `kz1048` codec and glibc's `RK1048` (`iconv`), for
//! every byte above 0x7F that they define.

use ledger_mt102::{decode, Encoding};
use std::process::Command;

fn ours() -> Vec<char> {
    let bytes: Vec<u8> = (0x80..=0xFF).collect();
    decode(&bytes, Some(Encoding::Kz1048))
        .unwrap()
        .text
        .chars()
        .collect()
}

#[test]
fn kz1048_agrees_with_pythons_codec() {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys\nfor b in range(0x80, 0x100):\n    print(bytes([b]).decode('kz1048', errors='replace'))",
        ])
        .output()
        .expect("python3 runs (the test command installs it)");
    assert!(out.status.success());
    let theirs: Vec<char> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.chars().next().unwrap_or('\n'))
        .collect();
    let ours = ours();
    assert_eq!(theirs.len(), 128);
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        // 0x98 is undefined in KZ-1048: Python refuses it (U+FFFD here);
        // windows-1251 as the WHATWG defines it gives U+0098, a control
        // character the ledger's text checks refuse.
        if *t != '\u{FFFD}' {
            assert_eq!(o, t, "byte 0x{:02X}", 0x80 + i);
        }
    }
}

#[test]
fn kz1048_agrees_with_glibc_iconv() {
    let ours = ours();
    let mut compared = 0;
    for (i, o) in ours.iter().enumerate() {
        let b = 0x80 + i as u8;
        let mut child = Command::new("iconv")
            .args(["-f", "RK1048", "-t", "UTF-8"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("iconv runs (glibc's, on Debian)");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&[b]).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            continue; // a byte glibc leaves undefined
        }
        let theirs = String::from_utf8(out.stdout).unwrap();
        assert_eq!(o.to_string(), theirs, "byte 0x{b:02X}");
        compared += 1;
    }
    assert!(
        compared >= 127,
        "glibc defined only {compared} of 128 bytes"
    );
}
