//! C guests (static glibc, built by the test setup) run natively and under `trapbox run`,
//! unrewritten and rewritten: threads, fork/vfork/posix_spawn + exec, signals with and
//! without SA_RESTART, a genuine `ud2`, JIT code, and the 32-bit and x32 gates.

mod run_support;

use run_support::{guest_int3, guest_pair, native, split_death_message, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// Runs `source`'s guest natively and under trapbox — unrewritten, rewritten with every site
/// kept a trap (`--keep-traps`, `ud2` and `int3`; with the debugger polling for each next stop,
/// the default, and sleeping for it, `--spin-wait 0`), rewritten with `--trace` (which takes the
/// stub's slow path), and rewritten as run by default (known sites given their `syscall` back) —
/// all must agree on stdout and status, and trapbox may add only `extra_stderr` lines.
fn same_everywhere(source: &str, test: &str, extra_stderr: &[&str]) -> Outcome {
    let dir = scratch_dir(test);
    let (plain, rewritten) = guest_pair(source);
    let int3 = guest_int3(source);
    let expected = native(&plain, &[], &dir);
    let trace_flag = format!("--trace={}", dir.join("trace.txt").display());
    let variants: [(&str, &std::path::Path, &[&str]); 7] = [
        ("unrewritten", &plain, &[]),
        ("rewritten, traps kept", &rewritten, &["--keep-traps"]),
        // The debugger polls for the next stop by default; this one sleeps in waitpid at once.
        ("rewritten, traps kept, sleeping waits", &rewritten, &["--keep-traps", "--spin-wait", "0"]),
        ("int3, traps kept", &int3, &["--keep-traps"]),
        ("traced, traps kept", &rewritten, &["--keep-traps", trace_flag.as_str()]),
        ("rewritten", &rewritten, &[]),
        ("int3", &int3, &[]),
    ];
    for (label, program, flags) in variants {
        let got = run(trapbox_run(flags, program, &[]).current_dir(&dir));
        let (guest_stderr, ours) = split_death_message(&got.stderr);
        assert_eq!(got.status, expected.status, "{label} {source}: status; got {got:?}");
        assert_eq!(got.stdout, expected.stdout, "{label} {source}: stdout");
        assert_eq!(guest_stderr, expected.stderr, "{label} {source}: stderr");
        assert_eq!(ours, extra_stderr, "{label} {source}: trapbox's messages");
    }
    expected
}

#[test]
fn eight_threads_make_calls_concurrently() {
    let out = same_everywhere("threads.c", "guest_threads", &[]);
    assert_eq!(out.stdout, "threads done: 2400 rounds\n");
}

#[test]
fn fork_vfork_posix_spawn_exec_and_wait() {
    let out = same_everywhere("fork_exec.c", "guest_fork_exec", &[]);
    assert!(out.stdout.contains("posix_spawn: child exited 5"), "{out:?}");
    assert!(out.stdout.contains("vfork: child exited 0"), "{out:?}");
    assert!(out.stdout.contains("fork-only: child exited 9"), "{out:?}");
}

#[test]
fn sa_restart_handler_across_a_blocking_read() {
    let out = same_everywhere("sigrestart.c", "guest_sigrestart", &[]);
    assert!(out.stdout.contains("restart: SA_RESTART on\n") && out.stdout.contains("no-restart: SA_RESTART off\n"), "{out:?}");
    assert!(out.stdout.contains("restart: read 4 bytes: data (handled 1)"), "{out:?}");
    assert!(out.stdout.contains("no-restart: read failed: Interrupted system call"), "{out:?}");
}

#[test]
fn a_genuine_ud2_dies_by_sigill_as_natively() {
    let out = same_everywhere("builtin_trap.c", "guest_builtin_trap", &["trapbox: guest killed by SIGILL"]);
    assert_eq!(out.status, 132);
    assert_eq!(out.stdout, "before the trap\n");
}

#[test]
fn jit_syscall_is_mediated_by_the_backstop() {
    let out = same_everywhere("jit_syscall.c", "guest_jit", &[]);
    assert_eq!(out.stdout, "jit getcwd matches: 1\n");
    // The raw `syscall` written at run time shows up in the trace as a backstop stop, in
    // the rewritten binary too (the rewriter never saw it).
    let (_, rewritten) = guest_pair("jit_syscall.c");
    let trace = scratch_dir("guest_jit_trace").join("trace.txt");
    let flag = format!("--trace={}", trace.display());
    let got = run(&mut trapbox_run(&["--keep-traps", &flag], &rewritten, &[]));
    assert_eq!(got.status, 0, "{got:?}");
    let lines = std::fs::read_to_string(&trace).unwrap();
    assert!(lines.lines().any(|l| l.contains("] getcwd(") && l.ends_with("<backstop>")), "{lines}");
    assert!(lines.lines().any(|l| l.contains("] getcwd(") && l.ends_with("<trap>")), "{lines}");
    assert!(lines.lines().any(|l| l.contains("] mmap(") && l.ends_with("<trap>")), "{lines}");
}

#[test]
fn int80_is_never_honoured() {
    let dir = scratch_dir("guest_int80");
    let (plain, rewritten) = guest_pair("int80.c");
    // Unrewritten: the backstop stops the i386-arch call before it runs; the host answers
    // ENOSYS (the guest never sees the SIGSYS) and logs it, under a policy or not.
    for flags in [&[][..], &["--allow-read", "/usr"][..]] {
        let got = run(trapbox_run(flags, &plain, &[]).current_dir(&dir));
        assert_eq!(got.status, 0, "{got:?}");
        assert_eq!(got.stdout, "calling int 0x80\nint 0x80 returned -38\n");
        assert!(got.stderr.contains("denied call 0x14") && got.stderr.contains("the i386 ABI"), "{got:?}");
    }
    // Rewritten: the site is in the trap table as int80 and refused with ENOSYS, logged.
    for program in [rewritten, guest_int3("int80.c")] {
        let got = run(trapbox_run(&[], &program, &[]).current_dir(&dir));
        assert_eq!(got.status, 0, "{got:?}");
        assert_eq!(got.stdout, "calling int 0x80\nint 0x80 returned -38\n");
        assert!(got.stderr.contains("refused `int80`"), "{got:?}");
    }
}

/// An x32 call (and syscall(-1), which has the x32 bit) is never executed: ENOSYS, as a
/// kernel without x32 answers, and a log line, instead of a SIGSYS kill.
#[test]
fn x32_calls_are_refused_with_enosys() {
    let dir = scratch_dir("guest_x32");
    let (plain, rewritten) = guest_pair("x32.c");
    for program in [plain, rewritten, guest_int3("x32.c")] {
        let got = run(trapbox_run(&[], &program, &[]).current_dir(&dir));
        assert_eq!(got.status, 0, "{}: {got:?}", program.display());
        assert_eq!(got.stdout, "calling x32 getpid\nx32 getpid returned -38\n");
        assert!(got.stderr.contains("trapbox: denied call 0x40000027") || got.stderr.contains("no x86-64 call has this number"), "{got:?}");
    }
}

#[test]
fn calls_that_would_escape_the_debugger_are_refused() {
    let dir = scratch_dir("guest_escapes");
    let (plain, rewritten) = guest_pair("escapes.c");
    let expected = "clone(CLONE_UNTRACED): EPERM\nseccomp: EPERM\nprctl(PR_SET_SECCOMP): EPERM\nio_uring_setup: ENOSYS\n\
                    ptrace(TRACEME): EPERM\nunshare(CLONE_NEWUSER): succeeded\nclone3(CLONE_UNTRACED): EPERM\nstill running\n";
    for program in [plain, rewritten, guest_int3("escapes.c")] {
        let got = run(trapbox_run(&[], &program, &[]).current_dir(&dir));
        assert_eq!((got.status, got.stdout.as_str(), got.stderr.as_str()), (0, expected, ""), "{}", program.display());
    }
}

/// How many traps `--stats` says were run in the guest.
fn traps_run_in_guest(stderr: &str) -> u64 {
    stderr
        .split("answered by the host, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no stats in {stderr:?}"))
}

#[test]
fn a_rewritten_shared_libc_is_found_at_its_load_address() {
    // A dynamically linked guest whose libc.so.6 is a rewritten copy: the library is mapped by
    // ld.so at a random base after exec, so the host finds it on a cache miss and applies
    // its load bias.
    let libc = std::path::Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let lib_dir = trapbox_tests::fixture_dir().join("rewritten-libc");
    std::fs::create_dir_all(&lib_dir).unwrap();
    let rewritten_libc = run_support::rewritten(libc, "rewritten-libc/libc.so.6", &[]);
    assert!(rewritten_libc.starts_with(&lib_dir));
    let dynamic = {
        let _serial = run_support::fixture_lock();
        trapbox_tests::build_guest("fork_exec.c", &["-O2"])
    };
    let dir = scratch_dir("guest_shared_libc");
    let expected = native(&dynamic, &[], &dir);
    let env_arg = format!("LD_LIBRARY_PATH={}", lib_dir.display());
    let dynamic_arg = dynamic.to_str().expect("utf-8 path");
    // busybox env (static) sets the variable for the guest only, not for trapbox itself.
    let got = run(trapbox_run(&["--stats"], &trapbox_tests::busybox(), &["env", &env_arg, dynamic_arg]).current_dir(&dir));
    let (guest_stderr, ours) = split_death_message(&got.stderr);
    assert_eq!((got.status, &got.stdout, &guest_stderr), (expected.status, &expected.stdout, &expected.stderr));
    assert!(traps_run_in_guest(&ours.join("\n")) > 0, "no trap in the rewritten libc: {ours:?}");
    // By default the library's known sites get their `syscall` back when the host
    // first meets the library (after exec, other threads possibly running: ud2 only).
    let got = run(trapbox_run(&["--stats"], &trapbox_tests::busybox(), &["env", &env_arg, dynamic_arg]).current_dir(&dir));
    let (guest_stderr, ours) = split_death_message(&got.stderr);
    assert_eq!((got.status, &got.stdout, &guest_stderr), (expected.status, &expected.stdout, &expected.stderr));
    let untrapped: u64 = ours
        .join("\n")
        .split("sites untrapped: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no untrap counter in {ours:?}"));
    assert!(untrapped > 100, "{ours:?}");
}

#[test]
fn exec_between_rewritten_and_unrewritten_binaries() {
    let dir = scratch_dir("guest_exec_mix");
    let trapped_busybox = run_support::busybox_trapped();
    let t = trapped_busybox.to_str().expect("utf-8 path");
    let script = format!("{t} echo a; /bin/busybox echo b; exec {t} sh -c 'echo c; exec /bin/busybox echo d'");
    for outer in [trapbox_tests::busybox(), trapped_busybox.clone()] {
        let got = run(trapbox_run(&["--stats"], &outer, &["sh", "-c", &script]).current_dir(&dir));
        assert_eq!((got.status, got.stdout.as_str()), (0, "a\nb\nc\nd\n"), "{}: {got:?}", outer.display());
        assert!(traps_run_in_guest(&got.stderr) > 0, "{got:?}");
    }
}

#[test]
fn exec_from_a_non_leader_thread() {
    let out = same_everywhere("thread_exec.c", "guest_thread_exec", &[]);
    assert_eq!((out.status, out.stdout.as_str()), (4, "main thread starts\nexec from a thread\n"));
}

#[test]
fn the_version_hostcall_answers_on_both_routes() {
    let dir = scratch_dir("guest_hostcall");
    let (plain, rewritten) = guest_pair("hostcall_version.c");
    let native_out = native(&plain, &[], &dir);
    assert_eq!(native_out.stdout, "version hostcall: -38\nunknown hostcall: -38\n");
    let expected = format!("version hostcall: {}\nunknown hostcall: -38\n", trapbox_abi::ABI_VERSION);
    for program in [plain, rewritten, guest_int3("hostcall_version.c")] {
        let got = run(trapbox_run(&[], &program, &[]).current_dir(&dir));
        assert_eq!((got.status, got.stdout.as_str(), got.stderr.as_str()), (0, expected.as_str(), ""), "{}", program.display());
    }
}

#[test]
fn sdk_hostcall_stubs_are_traps_without_rewriting() {
    // The stub's ud2 lists itself in `.trapbox.sdk`: natively a SIGILL, under trapbox a
    // hostcall the host answers — in a fixed-address and in a position-independent build.
    let dir = scratch_dir("guest_sdk_hostcall");
    let fixed = {
        let _serial = run_support::fixture_lock();
        trapbox_tests::build_guest("sdk_hostcall.c", &["-static", "-O2"])
    };
    let pie = {
        let _serial = run_support::fixture_lock();
        trapbox_tests::build_guest("sdk_hostcall.c", &["-static-pie", "-O2"])
    };
    let natively = native(&fixed, &[], &dir);
    assert_eq!((natively.status, natively.stdout.as_str()), (132, "asking the host\n"));
    let expected = format!("asking the host\nhostcall version: {}\nunknown hostcall: -38\n", trapbox_abi::ABI_VERSION);
    for program in [fixed, pie] {
        let got = run(trapbox_run(&[], &program, &[]).current_dir(&dir));
        assert_eq!((got.status, got.stdout.as_str(), got.stderr.as_str()), (0, expected.as_str(), ""), "{}", program.display());
    }
}

#[test]
fn go_style_raw_clone_threads_on_their_own_stacks() {
    let out = same_everywhere("raw_clone.c", "guest_raw_clone", &[]);
    assert!(out.stdout.ends_with("raw thread 3 says hi\nall 4 raw threads ran\n"), "{out:?}");
}
