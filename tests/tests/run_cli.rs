//! `trapbox run` as a user meets it: help, errors that name the file and the reason, the
//! trace, and the lock-down the launcher applies (fds, no-new-privs, seccomp).

mod run_support;

use std::process::Command;

use run_support::{busybox_trapped, trapbox_run};
use trapbox_tests::{busybox, run, scratch_dir, trapbox_bin};

#[test]
fn help_explains_and_shows_examples() {
    let out = run(Command::new(trapbox_bin()).args(["run", "--help"]));
    assert_eq!(out.status, 0, "{out:?}");
    for needle in ["How it works", "seccomp", "Examples:", "--trace", "busybox.trapped", "dies by the same signal", "--no-namespaces"] {
        assert!(out.stdout.contains(needle), "help lacks {needle:?}:\n{}", out.stdout);
    }
}

#[test]
fn a_missing_program_is_named_with_the_reason() {
    let dir = scratch_dir("cli_missing");
    let out = run(trapbox_run(&[], std::path::Path::new("./does-not-exist"), &[]).current_dir(&dir));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("cannot run ./does-not-exist: No such file or directory"), "{out:?}");

    std::fs::write(dir.join("not-executable"), "#!/bin/sh\n").unwrap();
    let out = run(trapbox_run(&[], std::path::Path::new("./not-executable"), &[]).current_dir(&dir));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("not-executable is not executable"), "{out:?}");

    std::fs::write(dir.join("garbage"), "not a program\n").unwrap();
    let chmod = run(Command::new("chmod").arg("755").arg(dir.join("garbage")));
    assert_eq!(chmod.status, 0);
    let out = run(trapbox_run(&[], std::path::Path::new("./garbage"), &[]).current_dir(&dir));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("cannot execute ./garbage: Exec format error"), "{out:?}");

    let out = run(&mut trapbox_run(&[], std::path::Path::new("no-such-command-anywhere"), &[]));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("no-such-command-anywhere: not found in any directory of $PATH"), "{out:?}");

    let out = run(Command::new(trapbox_bin()).args(["run", "--trace=/no/such/dir/trace.txt", "--", "/bin/true"]));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("cannot create trace file /no/such/dir/trace.txt"), "{out:?}");
}

#[test]
fn programs_are_found_on_path() {
    let out = run(&mut trapbox_run(&[], std::path::Path::new("busybox"), &["echo", "found"]));
    assert_eq!((out.status, out.stdout.as_str()), (0, "found\n"), "{out:?}");
}

#[test]
fn trace_shows_decoded_calls_and_their_route() {
    // Rewritten, traps kept: openat is a trap, run in the guest through the stub, seen by the host.
    let out = run(&mut trapbox_run(&["--trace", "--keep-traps"], &busybox_trapped(), &["cat", "/etc/hostname"]));
    assert_eq!(out.status, 0, "{out:?}");
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap();
    assert_eq!(out.stdout, hostname);
    let line = out.stderr.lines().find(|l| l.contains("openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY)")).unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(line.starts_with("[pid ") && line.ends_with("= 3 <trap>"), "{line}");
    // busybox cat copies with sendfile, a native call here: the trace still shows it.
    assert!(out.stderr.lines().any(|l| l.starts_with("[pid ") && l.contains("] sendfile(1, 3, ") && l.ends_with("<trap>")), "{}", out.stderr);
    assert!(out.stderr.lines().any(|l| l.ends_with("] close(3) = 0 <trap>")), "{}", out.stderr);
    let exec = out.stderr.lines().next().unwrap_or_default();
    assert!(exec.contains("] execve(\"") && exec.contains("\", \"cat\", \"/etc/hostname\"], 0x") && exec.ends_with("= 0 <backstop>"), "{exec}");

    // Unrewritten: the same call meets the seccomp backstop.
    let out = run(&mut trapbox_run(&["--trace"], &busybox(), &["cat", "/etc/hostname"]));
    assert_eq!(out.status, 0, "{out:?}");
    let line = out.stderr.lines().find(|l| l.contains("openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY)")).unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(line.ends_with("= 3 <backstop>"), "{line}");
    // sendfile and close on a held fd run natively under the backstop: no line for them.
    assert!(!out.stderr.contains("] sendfile(") && !out.stderr.contains("] close(3)"), "{}", out.stderr);

    // Errors are shown strace-style.
    let out = run(&mut trapbox_run(&["--trace", "--keep-traps"], &busybox_trapped(), &["cat", "/no/such/file"]));
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.lines().any(|l| l.contains("\"/no/such/file\"") && l.contains("= -1 ENOENT <trap>")), "{}", out.stderr);
}

#[test]
fn the_guest_starts_locked_down() {
    // Only 0, 1 and 2 survive (fd 7 is open in the shell that starts trapbox), no new
    // privileges, and a seccomp filter is in force.
    let script = format!(
        "exec 7</etc/hostname; {} run --unconfined -- /bin/busybox sh -c 'ls /proc/self/fd; grep -E \"^(NoNewPrivs|Seccomp):\" /proc/self/status'",
        trapbox_bin().display()
    );
    let out = run(Command::new(busybox()).args(["sh", "-c", &script]));
    assert_eq!(out.status, 0, "{out:?}");
    let mut lines = out.stdout.lines();
    let fds: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("NoNewPrivs")).collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "fd 3 is ls's own directory fd; got {:?}", out.stdout);
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{}", out.stdout);
    assert!(out.stdout.contains("Seccomp:\t2"), "{}", out.stdout);
}

#[test]
fn getpid_is_the_kernels_answer_in_the_guests_pid_namespace_or_the_hosts() {
    // In its own PID namespace the guest is pid 2 (trapbox's init is 1).
    let out = run(&mut trapbox_run(&["--trace", "--stats"], &busybox_trapped(), &["sh", "-c", "echo $$"]));
    assert_eq!((out.status, out.stdout.as_str()), (0, "2\n"), "{out:?}");
    assert!(out.stderr.contains("trapbox: stats: traps: "), "{}", out.stderr);
    // In the host's namespaces its pid is the host's, the one trace lines name.
    let out = run(&mut trapbox_run(&["--no-namespaces", "--trace"], &busybox_trapped(), &["sh", "-c", "echo $$"]));
    assert_eq!(out.status, 0, "{out:?}");
    let pid = out.stdout.trim();
    assert!(out.stderr.starts_with(&format!("[pid {pid}] execve(")), "{}", out.stderr);
}

/// The `sites untrapped: N` counter of `--stats`.
fn sites_untrapped(stderr: &str) -> u64 {
    stderr
        .split("sites untrapped: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no untrap counter in {stderr:?}"))
}

#[test]
fn known_sites_get_their_syscall_back_unless_traps_are_kept() {
    let trace = scratch_dir("cli_untrap").join("trace.txt");
    let flag = format!("--trace={}", trace.display());
    let out = run(&mut trapbox_run(&["--stats", &flag], &busybox_trapped(), &["cat", "/etc/hostname"]));
    assert_eq!(out.status, 0, "{out:?}");
    assert!(sites_untrapped(&out.stderr) > 100, "{}", out.stderr);
    let lines = std::fs::read_to_string(&trace).unwrap();
    // openat's site has a known number: it is a `syscall` again and meets the backstop once.
    assert!(lines.lines().any(|l| l.contains("openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY) = 3 <backstop>")), "{lines}");
    // With --keep-traps nothing is untrapped.
    let out = run(&mut trapbox_run(&["--keep-traps", "--stats"], &busybox_trapped(), &["cat", "/etc/hostname"]));
    assert_eq!(sites_untrapped(&out.stderr), 0, "{}", out.stderr);
}

#[test]
fn log_sends_the_hosts_messages_to_a_file_and_leaves_stderr_to_the_guest() {
    let dir = scratch_dir("cli_log");
    let script = "cat /etc/shadow; echo after >&2";
    let out = run(trapbox_run(&["--allow-read", "/usr/share", "--log", "host.log"], &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stderr, "cat: can't open '/etc/shadow': No such file or directory\nafter\n", "only the guest's own stderr");
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap();
    // (The shell also looks at its working directory, which is not granted: a line of its own.)
    assert!(log.lines().all(|l| l.starts_with("trapbox: denied ")), "{log}");
    assert!(
        log.lines().any(|l| l == "trapbox: denied openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY): /etc/shadow is outside every allowed path (reported as absent)"),
        "{log}"
    );
    let out = run(trapbox_run(&["--log", "/nonexistent-dir/host.log"], &busybox_trapped(), &["true"]).current_dir(&dir));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("--log /nonexistent-dir/host.log"), "{}", out.stderr);
}
