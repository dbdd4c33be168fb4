//! The host acts as the guest: after a privilege drop, the calls the host performs for the
//! guest (opens, creates, metadata queries and changes) get exactly the kernel's answers, as
//! a native run of the same program gets them — not the host's root privileges, and not a
//! blanket refusal either.

mod run_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use run_support::{denials, guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir};

/// secret (0600), public (0644), closed/ (0700) with closed/inner, open/ (0777).
fn lay_out(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("closed")).unwrap();
    std::fs::create_dir_all(dir.join("open")).unwrap();
    std::fs::write(dir.join("secret"), "s\n").unwrap();
    std::fs::write(dir.join("public"), "p\n").unwrap();
    std::fs::write(dir.join("closed/inner"), "").unwrap();
    for (name, mode) in [("secret", 0o600), ("public", 0o644), ("closed", 0o700), ("open", 0o777)] {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn same_as_native(how: &str) {
    let (plain, rewritten) = guest_pair("privdrop.c");
    let dir = scratch_dir(&format!("credentials_{how}"));
    let work = dir.join("work");
    lay_out(&work);
    let native = run(Command::new(&plain).arg(how).current_dir(&work));
    assert_eq!(native.status, 0, "{native:?}");
    for program in [&plain, &rewritten] {
        lay_out(&work);
        let grant = work.to_str().expect("utf-8 path");
        let out = run(trapbox_run(&["--allow-write", grant], program, &[how]).current_dir(&work));
        assert_eq!(out.stdout, native.stdout, "{how}, {}: {}", program.display(), out.stderr);
        assert!(!out.stderr.contains("changed its credentials"), "{}", out.stderr);
        // The refusals are the kernel's, not the host's.
        assert!(denials(&out).is_empty(), "{}", out.stderr);
    }
}

#[test]
fn after_setuid_the_host_acts_with_the_guests_ids() {
    same_as_native("setuid");
}

#[test]
fn after_setresuid_keeping_root_saved_the_host_acts_with_the_effective_ids() {
    same_as_native("setresuid");
}

#[test]
fn a_per_thread_setfsuid_changes_the_hosts_checks_for_that_thread() {
    same_as_native("setfsuid");
}
