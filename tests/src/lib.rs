//! Helpers for the end-to-end tests: find and run the real `si-ledger`
//! binary that `cargo test --workspace` builds.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `si-ledger` binary of this build (debug or release, whichever the
/// test run built), or `SI_LEDGER_BIN` when set.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SI_LEDGER_BIN") {
        return PathBuf::from(p);
    }
    // tests/ → workspace root → target/<profile>/si-ledger, next to this
    // test executable's own profile directory.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("si-ledger");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p si-ledger`, as scripts/test does) or set SI_LEDGER_BIN",
        bin.display()
    );
    bin
}

pub fn si_ledger(args: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.args(args).env("SI_LEDGER_LOG", "warn");
    c
}

/// Runs and returns output; panics with stderr if it could not start.
pub fn run(args: &[&str]) -> Output {
    si_ledger(args).output().expect("si-ledger runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
