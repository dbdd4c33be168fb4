//! Error paths under a policy are the kernel's: a differential run of small guests, natively
//! and under trapbox with what they touch granted (static and rewritten).

mod run_support;

use std::process::Command;

use run_support::{guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir};

#[test]
fn errnos_of_readlink_mkdir_and_bad_dirfds_are_the_kernels() {
    let (plain, rewritten) = guest_pair("errno_probe.c");
    let dir = scratch_dir("fidelity_errno");
    std::fs::write(dir.join("f"), "f\n").unwrap();
    std::os::unix::fs::symlink("f", dir.join("l")).unwrap();
    let path = dir.to_str().expect("utf-8 path");
    let native = run(Command::new(&plain).arg(path));
    assert_eq!(native.status, 0, "{native:?}");
    assert!(native.stdout.contains("readlink of a file: EINVAL\n"), "{}", native.stdout);
    for program in [&plain, &rewritten] {
        // Read only: a create of an existing, visible name must still say EEXIST.
        let out = run(&mut trapbox_run(&["--allow-read", path], program, &[path]));
        assert_eq!(out.stdout, native.stdout, "{}: {}", program.display(), out.stderr);
    }
}
