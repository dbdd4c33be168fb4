//! The escape suite: each attempt must fail under a policy and, where the host decides it,
//! be logged. (Other attempts live beside the features they attack: path races and symlinks
//! in run_policy.rs, ptrace/unshare/io_uring/seccomp in run_guests.rs, limits in run_policy.rs.)

mod run_support;

use run_support::{busybox_trapped, denials, guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// Runs a busybox shell script with `./out` writable and /usr/share readable.
fn sandboxed_sh(test: &str, script: &str) -> Outcome {
    let dir = scratch_dir(test);
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/mine"), "mine\n").unwrap();
    run(trapbox_run(&["--allow-write", "./out", "--allow-read", "/usr/share"], &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir))
}

#[test]
fn writing_proc_self_mem_is_refused() {
    let out = sandboxed_sh("escape_proc_mem", "echo x > /proc/self/mem && echo WROTE");
    assert!(!out.stdout.contains("WROTE"), "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("/mem is outside every allowed path")), "{}", out.stderr);
}

#[test]
fn the_hosts_proc_directory_is_out_of_reach() {
    let host = std::process::id();
    let out = sandboxed_sh("escape_proc_host", &format!("cat /proc/$PPID/environ /proc/{host}/cmdline && echo READ"));
    assert!(!out.stdout.contains("READ"), "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("/environ is outside every allowed path")), "{}", out.stderr);
}

#[test]
fn hard_links_and_renames_cannot_cross_the_grant() {
    let out = sandboxed_sh("escape_link", "ln /etc/passwd out/pw && echo LINKED");
    assert!(!out.stdout.contains("LINKED"), "{out:?}");
    // busybox ln looks at the source first; that look is already refused (and logged).
    assert!(denials(&out).iter().any(|l| l.contains("\"/etc/passwd\"")), "{}", out.stderr);

    let out = sandboxed_sh("escape_rename", "mv out/mine /tmp/trapbox-escaped && echo MOVED");
    assert!(!out.stdout.contains("MOVED") && !std::path::Path::new("/tmp/trapbox-escaped").exists(), "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("rename") && l.contains("/tmp/trapbox-escaped")), "{}", out.stderr);
}

#[test]
fn o_path_and_at_calls_cannot_climb_out_of_a_granted_directory() {
    let dir = scratch_dir("escape_opath");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let (plain, _) = guest_pair("escape_probe.c");
    let out = run(trapbox_run(&["--allow-write", "./out"], &plain, &["opath", "out"]).current_dir(&dir));
    assert_eq!(out.stdout, "opath dir: ok\nopenat escape: denied\n", "{}", out.stderr);
    assert!(denials(&out).iter().any(|l| l.contains("/etc/shadow is outside every allowed path")), "{}", out.stderr);
}

#[test]
fn a_symlink_swapped_by_a_racing_thread_never_reaches_outside() {
    let dir = scratch_dir("escape_symlink_race");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/mine"), "mine\n").unwrap();
    let (plain, rewritten) = guest_pair("escape_probe.c");
    let out_dir = dir.join("out");
    for program in [plain, rewritten] {
        let out = run(trapbox_run(&["--allow-write", "./out"], &program, &["symlink-race", out_dir.to_str().unwrap()]).current_dir(&dir));
        assert_eq!(out.status, 0, "{out:?}");
        assert!(out.stdout.ends_with("leaked 0\n"), "{}: {}", program.display(), out.stdout);
    }
}

#[test]
fn a_setuid_program_does_not_raise_privileges() {
    let dir = scratch_dir("escape_suid");
    let suid = dir.join("busybox-suid");
    std::fs::copy("/bin/busybox", &suid).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let (plain, _) = guest_pair("escape_probe.c");
    let out = run(trapbox_run(&["--allow-exec", suid.to_str().unwrap()], &plain, &["suid", suid.to_str().unwrap()]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.as_str()), (0, "65534\n"), "no-new-privileges keeps the setuid bit inert: {out:?}");
}

/// The region's fixed address must not collide with the fixed layouts sanitizer runtimes
/// reserve (ASan's shadow and gap, TSan's and MSan's shadow and meta ranges).
#[test]
fn sanitizer_builds_run_confined_beside_the_pinned_region() {
    let dir = scratch_dir("escape_pin_sanitizers");
    for sanitizer in ["-fsanitize=address", "-fsanitize=thread"] {
        let program = {
            let _serial = run_support::fixture_lock();
            trapbox_tests::build_guest("hello.c", &[sanitizer, "-O1"])
        };
        // LeakSanitizer refuses to run under any tracer (strace and gdb alike).
        let out = run(trapbox_run(&["--allow-read", "/usr/share"], &program, &["7"]).env("ASAN_OPTIONS", "detect_leaks=0").env_remove("LD_LIBRARY_PATH").current_dir(&dir));
        assert_eq!(out.status, 7, "{sanitizer}: {out:?}");
        assert!(out.stdout.starts_with("hello from guest"), "{sanitizer}: {out:?}");
        assert!(!out.stderr.contains("Sanitizer"), "{sanitizer}: {}", out.stderr);
    }
}

#[test]
fn the_pinned_argument_region_cannot_be_written_unmapped_or_replaced() {
    let dir = scratch_dir("escape_pin_region");
    let (plain, rewritten) = guest_pair("pin_attack.c");
    for program in [plain, rewritten] {
        let out = run(trapbox_run(&["--allow-read", "/usr/share"], &program, &[]).current_dir(&dir));
        assert_eq!(out.status, 0, "{out:?}");
        assert_eq!(
            out.stdout,
            "read: ok\nwrite: fault\nmprotect: Permission denied\nmunmap: Operation not permitted\n\
             mmap fixed: Operation not permitted\nmmap fixed from below: Operation not permitted\n\
             mremap onto: Operation not permitted\nmadvise dontfork: Operation not permitted\n\
             munmap everything: Operation not permitted\nmunmap own page: succeeded\n",
            "{}",
            program.display()
        );
        let refused = denials(&out).iter().filter(|l| l.contains("pinned-argument region")).count();
        assert_eq!(refused, 6, "each host refusal is logged: {}", out.stderr);
    }
}

#[test]
fn the_host_cannot_be_traced_signalled_or_read() {
    let (plain, rewritten) = guest_pair("policy_probe.c");
    for program in [plain, rewritten] {
        let out = run(trapbox_run(&["--allow-read", "/usr/share"], &program, &["host"]).current_dir(scratch_dir("escape_host")));
        assert_eq!(
            out.stdout,
            "ptrace attach: EPERM\nptrace seize: EPERM\nkill: EPERM\ntgkill: EPERM\npidfd_open: EPERM\nprocess_vm_readv: EPERM\nstill here: ok\n",
            "{}",
            out.stderr
        );
        assert_eq!(out.status, 0, "{out:?}");
        assert!(denials(&out).iter().filter(|l| l.contains("is not part of the guest")).count() >= 4, "{}", out.stderr);
    }
}
