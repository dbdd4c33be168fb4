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
    // The base grants the guest's own /proc for reading only.
    assert!(denials(&out).iter().any(|l| l.contains("/mem needs write access, but /proc is granted read only")), "{}", out.stderr);
}

#[test]
fn the_hosts_proc_directory_is_out_of_reach() {
    let host = std::process::id();
    let out = sandboxed_sh("escape_proc_host", &format!("cat /proc/$PPID/environ /proc/{host}/cmdline && echo READ"));
    assert!(!out.stdout.contains("READ"), "{out:?}");
    // The guest's /proc is its PID namespace's: its parent is trapbox's init (refused and
    // logged), and the host's pid names no process there.
    assert!(denials(&out).iter().any(|l| l.contains("/proc/1/environ: process 1 does not exist in the guest's PID namespace")), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("can't open '/proc/{host}/cmdline': No such file or directory")), "{}", out.stderr);
}

#[test]
fn hard_links_and_renames_cannot_cross_the_grant() {
    let out = sandboxed_sh("escape_link", "ln /etc/passwd out/pw && echo LINKED");
    assert!(!out.stdout.contains("LINKED"), "{out:?}");
    // busybox ln looks at the source first; that look is already refused (and logged).
    assert!(denials(&out).iter().any(|l| l.contains("\"/etc/passwd\"")), "{}", out.stderr);

    let out = sandboxed_sh("escape_rename", "mv out/mine /var/tmp/trapbox-escaped && echo MOVED");
    assert!(!out.stdout.contains("MOVED") && !std::path::Path::new("/var/tmp/trapbox-escaped").exists(), "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("rename") && l.contains("/var/tmp/trapbox-escaped")), "{}", out.stderr);
    // /tmp is the guest's own: a move there stays there (a copy across filesystems, as
    // natively from another one), and the host's /tmp never sees it.
    let out = sandboxed_sh("escape_rename_tmp", "mv out/mine /tmp/trapbox-escaped && cat /tmp/trapbox-escaped && echo MOVED");
    assert_eq!(out.stdout, "mine\nMOVED\n", "{out:?}");
    assert!(!std::path::Path::new("/tmp/trapbox-escaped").exists(), "{out:?}");
}

/// A file the guest holds open from a read grant is linked through its /proc/self/fd magic
/// link (linkat with AT_SYMLINK_FOLLOW, which links the fd's file) only if it is in a write grant.
#[test]
fn a_read_granted_file_cannot_be_linked_into_a_write_grant_through_its_fd() {
    let dir = scratch_dir("escape_fdlink");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::create_dir_all(dir.join("ro")).unwrap();
    std::fs::write(dir.join("ro/file"), "read only\n").unwrap();
    let (plain, _) = guest_pair("escape_probe.c");
    let out = run(trapbox_run(&["--allow-write", "./out", "--allow-read", "./ro"], &plain, &["fdlink", "ro/file", "out"]).current_dir(&dir));
    assert_eq!(out.stdout, "open: ok\nfd link: denied\n", "{}", out.stderr);
    assert!(!dir.join("out/stolen").exists());
    assert!(denials(&out).iter().any(|l| l.contains("ro/file (behind fd 3) is not granted write")), "{}", out.stderr);
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
            "read: ok\nwrite: fault\nmprotect: Operation not permitted\nmprotect none: Operation not permitted\nmunmap: Operation not permitted\n\
             mmap fixed: Operation not permitted\nmmap fixed from below: Operation not permitted\n\
             mremap onto: Operation not permitted\nmadvise dontfork: Operation not permitted\n\
             munmap everything: Operation not permitted\nmunmap own page: succeeded\n",
            "{}",
            program.display()
        );
        let refused = denials(&out).iter().filter(|l| l.contains("pinned-argument region")).count();
        assert_eq!(refused, 8, "each host refusal is logged: {}", out.stderr);
    }
}

#[test]
fn the_host_cannot_be_traced_signalled_or_read() {
    // The guest's parent: trapbox's init in the guest's PID namespace, the host itself without it.
    let (plain, rewritten) = guest_pair("policy_probe.c");
    for (program, namespaces) in [(&plain, "--net=none"), (&rewritten, "--net=none"), (&plain, "--no-namespaces")] {
        let out = run(trapbox_run(&["--allow-read", "/usr/share", namespaces], program, &["host"]).current_dir(scratch_dir("escape_host")));
        assert_eq!(
            out.stdout,
            "ptrace attach: EPERM\nptrace seize: EPERM\nkill: EPERM\ntgkill: EPERM\npidfd_open: EPERM\nprocess_vm_readv: EPERM\nstill here: ok\n",
            "{}",
            out.stderr
        );
        assert_eq!(out.status, 0, "{out:?}");
        assert!(denials(&out).iter().filter(|l| l.contains("not part of the guest")).count() >= 4, "{}", out.stderr);
    }
}

#[test]
fn an_fd_swapped_to_a_memfd_never_execs_outside_the_exec_grants() {
    // The allowed program is granted but not executable (mode 0644): the kernel refuses it, so
    // every one of the 3000 rounds is tried, and the only exec that could succeed is the memfd.
    let dir = scratch_dir("escape_exec_memfd");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy(trapbox_tests::busybox(), dir.join("bin/not-executable")).unwrap();
    std::fs::set_permissions(dir.join("bin/not-executable"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (plain, _) = guest_pair("fd_race.c");
    let fixtures = plain.parent().unwrap().to_str().unwrap().to_string();
    let out = run(trapbox_run(&["--allow-exec", "./bin", "--allow-read", &fixtures], &plain, &["exec", "bin/not-executable", plain.to_str().unwrap()])
        .current_dir(&dir));
    assert_eq!((out.status, out.stdout.as_str()), (1, "no exec succeeded\n"), "{}", out.stderr);
    assert!(denials(&out).iter().any(|l| l.contains("execveat(") && l.contains("memfd:payload")), "{}", out.stderr);
}

#[test]
fn an_fd_number_swapped_by_a_racing_thread_never_changes_a_read_only_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("escape_fd_race");
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::create_dir_all(dir.join("ro")).unwrap();
    let (plain, _) = guest_pair("fd_race.c");
    for mode in ["fchmod", "futimens"] {
        for file in ["w/f", "ro/f"] {
            std::fs::write(dir.join(file), "x").unwrap();
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let before = std::fs::metadata(dir.join("ro/f")).unwrap();
        let out = run(trapbox_run(&["--allow-write", "./w", "--allow-read", "./ro"], &plain, &[mode, "w/f", "ro/f"]).current_dir(&dir));
        assert_eq!((out.status, out.stdout.clone()), (0, format!("{mode}: the read-only file is unchanged\n")), "{}", out.stderr);
        let after = std::fs::metadata(dir.join("ro/f")).unwrap();
        assert_eq!((after.permissions().mode(), after.modified().unwrap()), (before.permissions().mode(), before.modified().unwrap()), "{mode}");
        assert!(denials(&out).iter().any(|l| l.contains("ro/f (behind fd 100) is not granted write")), "{mode}: {}", out.stderr);
    }
    // A relative path checked against one directory must not be walked from another: the
    // kernel gets the absolute path the host resolved.
    // From a/b, ../../secret is g/secret (granted); from a it is the outside ./secret (outside
    // the working directory g, which the base makes readable).
    use std::os::unix::fs::MetadataExt;
    std::fs::create_dir_all(dir.join("g/a/b")).unwrap();
    std::fs::write(dir.join("g/secret"), "granted").unwrap();
    std::fs::write(dir.join("secret"), "outside").unwrap();
    let outside = std::fs::metadata(dir.join("secret")).unwrap().ino().to_string();
    let out = run(trapbox_run(&["--allow-read", "."], &plain, &["openat", "a/b", "a", "../../secret", &outside]).current_dir(dir.join("g")));
    assert_eq!((out.status, out.stdout.as_str()), (0, "openat: never reached the forbidden file\n"), "{}", out.stderr);
}

/// The injector cannot be hijacked: the stub page it sends threads to is the host's sealed
/// code, which no guest call (its own or a CLONE_VM child's) can make writable, replace or
/// move, and a dispatch mode that would turn the injected call into a signal fails the
/// hostcall instead of looping.
#[test]
fn the_injectors_stub_page_cannot_be_changed_or_replaced() {
    let dir = scratch_dir("escape_stub_page");
    let (plain, rewritten) = guest_pair("stub_attack.c");
    for program in [plain, rewritten] {
        let out = run(trapbox_run(&["--allow-read", "/usr/share"], &program, &["/usr/share/common-licenses/GPL-3"]).current_dir(&dir));
        assert_eq!(out.status, 0, "{out:?}");
        let (before_dispatch, dispatch) = out.stdout.rsplit_once("syscall user dispatch: ").expect("the guest got to the end");
        assert_eq!(
            before_dispatch,
            "stub is the host's: yes\nwrite: fault\nmprotect rwx: Operation not permitted\npkey_mprotect rwx: Operation not permitted\n\
             mmap fixed over it: Operation not permitted\nmunmap: Operation not permitted\nmremap away: Operation not permitted\n\
             process_vm_writev: Bad address\nCLONE_VM child mprotect: refused\nstub still the host's: yes\nmap_file: mapped\n",
            "{}",
            program.display()
        );
        assert!(dispatch == "refused\n" || dispatch == "map_file failed\n", "dispatch mode: {dispatch:?}, {}", out.stderr);
        let refused = denials(&out).iter().filter(|l| l.contains("host's stub page")).count();
        assert_eq!(refused, 6, "each host refusal is logged: {}", out.stderr);
    }
}

#[test]
fn clone3_children_are_traced_and_a_racing_flip_of_clone_untraced_never_escapes() {
    // The guest loops until it has seen both outcomes of the flip 50 times each (or a bound
    // of calls) and says whether it did: "race observed: yes" is part of what must match.
    let dir = scratch_dir("escape_clone3_race");
    let (plain, rewritten) = guest_pair("clone3_race.c");
    let expected = "clone3 thread traced: yes\npthread traced: yes\nclone3 fork traced: yes\nrace observed: yes\n\
                    untraced children: 0\nother errors: 0\n";
    for program in [&plain, &rewritten] {
        // (No policy flag: trapbox_run adds --unconfined.)
        for flags in [&[][..], &["--allow-read", "/usr/share"], &["--keep-traps", "--allow-read", "/usr/share"]] {
            let out = run(trapbox_run(flags, program, &[]).current_dir(&dir));
            assert_eq!((out.status, out.stdout.as_str()), (0, expected), "{} {flags:?}: {}", program.display(), out.stderr);
            if flags.contains(&"--allow-read") {
                assert!(denials(&out).iter().any(|l| l.contains("clone3(") && l.contains("CLONE_UNTRACED")), "refusals are logged: {}", out.stderr);
            }
        }
    }
}
