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

/// The capability lines `cmd` (a `busybox grep` of /proc/self/status) prints.
fn capability_lines(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout
}

/// A guest holds the capabilities its invoker holds, no more: a root guest's own user
/// namespace would grant it every one, and a program that sees one it holds expects to use it
/// (LTP raises its OOM score when it sees CAP_SYS_RESOURCE, which a container's root lacks).
/// An unprivileged guest holds none, as natively.
#[test]
fn a_guest_holds_the_capabilities_of_its_invoker() {
    let busybox = trapbox_tests::busybox();
    let bb = busybox.to_str().expect("utf-8 path");
    let grep = ["grep", "-E", "^Cap(Prm|Eff|Bnd)", "/proc/self/status"];
    let native = capability_lines(Command::new(&busybox).args(grep));
    let sandboxed = capability_lines(&mut trapbox_run(&["--allow-read", bb], &busybox, &grep));
    let effective = native.lines().find(|l| l.starts_with("CapEff:")).expect("CapEff").split_whitespace().nth(1).unwrap().to_string();
    // Bounding, permitted and effective are all the invoker's effective set.
    let expected: String = ["CapPrm", "CapEff", "CapBnd"].iter().map(|name| format!("{name}:\t{effective}\n")).collect();
    assert_eq!(sandboxed, expected, "native:\n{native}");
    if run_support::is_root() {
        let dir = scratch_dir("capabilities_rootless");
        let (host, _) = run_support::unprivileged_copies(&dir, &busybox, &[]);
        let as_nobody = |program: &Path, args: &[&str]| {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program).args(args).current_dir(&dir);
            cmd
        };
        let native = capability_lines(&mut as_nobody(&busybox, &grep));
        let sandboxed = capability_lines(&mut as_nobody(&host, &[&["run", "--allow-read", bb, "--", bb], &grep[..]].concat()));
        let eff = |text: &str| text.lines().filter(|l| !l.starts_with("CapBnd")).map(str::to_string).collect::<Vec<_>>();
        assert_eq!(eff(&sandboxed), eff(&native), "native:\n{native}\nsandboxed:\n{sandboxed}");
    }
}
