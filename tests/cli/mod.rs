//! Running the `plastifit` binary from a test.

use std::process::{Command, Output};

pub fn plastifit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plastifit"))
        .args(args)
        .output()
        .expect("running plastifit")
}

/// Runs a command that must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = plastifit(args);
    assert!(
        out.status.success(),
        "plastifit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; its standard error.
pub fn failing(args: &[&str]) -> String {
    let out = plastifit(args);
    assert!(!out.status.success(), "plastifit {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}
