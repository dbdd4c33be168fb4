//! Calls the host performs for a guest give the guest the kernel's answers, and none of them
//! holds up another guest thread: socket calls that wait run on host worker threads while the
//! debugger serves everyone else, a guest's own Landlock domains bind the host's opens however
//! many processes sandbox themselves, and `pidfd_send_signal` takes the guest's siginfo. Each
//! test runs a C guest natively and under trapbox on the three routes (static: the backstop;
//! rewritten: traps; dynamic) and compares; as root, also as an unprivileged invoker.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{denials, is_root, routes, trapbox_run, unprivileged_copies};
use trapbox_tests::{run, scratch_dir, Outcome};

/// The policy flags of a run: `grants`, a wall-time limit (a run that hangs fails there
/// instead of holding the suite), and what the dynamic guest's loader reads (`/usr`,
/// `/etc/ld.so.cache`, and no `LD_LIBRARY_PATH` of the test runner's to search).
fn policy<'a>(grants: &[&'a str]) -> Vec<&'a str> {
    let mut flags = grants.to_vec();
    flags.extend(["--allow-read", "/usr", "--allow-read", "/etc", "--clear-env", "--limit-wall=120s"]);
    flags
}

/// Runs `trapbox run FLAGS -- GUEST ARGS` as nobody, with copies of trapbox and the guest in
/// `dir` (which nobody may then write) that nobody may run.
fn as_nobody(dir: &Path, guest: &Path, flags: &[&str], args: &[&str]) -> Outcome {
    let (host, guest) = unprivileged_copies(dir, guest, &[]);
    run(run_support::as_nobody_command(&host)
        .arg("run")
        .args(flags)
        .arg("--")
        .arg(&guest)
        .args(args))
}

/// Checks a run under trapbox printed what the native run printed, exited 0 and left no
/// denial (every refusal was the kernel's).
fn assert_as_native(program: &Path, native: &Outcome, out: &Outcome) {
    assert_eq!((out.status, out.stdout.as_str()), (0, native.stdout.as_str()), "{}: {}", program.display(), out.stderr);
    assert!(denials(out).is_empty(), "{}: {}", program.display(), out.stderr);
}

/// Runs each of `programs` (the routes) with `args` under trapbox with `flags`, and as root the
/// first also as nobody (copies in `dir`), checking every run against `native`.
fn assert_every_run_as_native(programs: &[PathBuf], native: &Outcome, flags: &[&str], args: &[&str], dir: &Path) {
    for program in programs {
        let out = run(&mut trapbox_run(flags, program, args));
        assert_as_native(program, native, &out);
    }
    if is_root() {
        let out = as_nobody(dir, &programs[0], flags, args);
        assert_as_native(&programs[0], native, &out);
    }
}

// ---- socket calls that wait ------------------------------------------------------------------

/// Runs `blocking_connect MODE DIR [N]` natively and under trapbox (DIR granted write, for its
/// sockets; /proc read, where the guest sees its threads wait), as root and as nobody, and
/// checks each run prints what the native run printed, which must hold `expected`.
fn blocking_connect_as_native(test: &str, mode: &str, count: Option<&str>, expected: &[&str]) {
    let programs = routes("blocking_connect.c");
    let dir = scratch_dir(test);
    let dir_arg = dir.to_str().expect("utf-8");
    let mut args = vec![mode, dir_arg];
    args.extend(count);
    let native = run(Command::new(&programs[0]).args(&args));
    assert_eq!(native.status, 0, "{native:?}");
    for line in expected {
        assert!(native.stdout.lines().any(|l| l == *line), "the native run itself: {line}\n{}", native.stdout);
    }
    let flags = policy(&["--allow-write", dir_arg, "--allow-read", "/proc"]);
    assert_every_run_as_native(&programs, &native, &flags, &args, &dir);
}

/// Thread A's connect waits (the listener's backlog is full) while the main thread makes 100
/// rounds of calls the host decides — stat, kill(pid, 0), a connect to a listener with room
/// and its accept — and finds A still waiting after them; an accept then lets A in. The host
/// performs A's connect on a worker thread, A staying stopped until it answers. Before, the
/// debugger performed it itself, so the main thread's calls waited behind it until the host's
/// 5 s bound made A's connect fail with EAGAIN.
#[test]
fn a_connect_waiting_for_a_full_backlog_holds_up_no_other_thread() {
    blocking_connect_as_native(
        "host_calls_connect_stall",
        "stall",
        Some("100"),
        &["100 calls of the main thread: 0 failed; thread A still waited in its connect: yes", "after an accept (ok), thread A's connect: ok"],
    );
}

/// The same for a datagram sent to a unix socket path whose receiver's queue is full: the
/// host's send waits on a worker thread, and the reading lets it through.
#[test]
fn a_send_waiting_for_a_full_receiver_holds_up_no_other_thread() {
    blocking_connect_as_native(
        "host_calls_send_stall",
        "send",
        Some("100"),
        &["100 calls of the main thread: 0 failed; thread A still waited in its sendto: yes", "after reading, thread A's sends: ok"],
    );
}

/// A signal to a thread whose connect waits interrupts it as natively: EINTR after a handler
/// without SA_RESTART, and after one with it the connect starts again and waits until the
/// accept. (The host interrupts its worker and lets the kernel judge `-ERESTARTSYS` at the
/// call's exit.) Before, the host's own 5 s bound ended the connect with EAGAIN either way.
#[test]
fn a_signal_interrupts_a_waiting_connect_as_natively() {
    blocking_connect_as_native("host_calls_connect_eintr", "eintr", None, &["thread A's connect after a signal (no SA_RESTART): EINTR; handler ran: yes"]);
    blocking_connect_as_native(
        "host_calls_connect_restart",
        "restart",
        None,
        &["the handler ran; thread A waits in its connect again: yes", "thread A's connect after a signal (SA_RESTART): ok; handler ran: yes"],
    );
}

/// 70 processes in turn wait in a connect and are killed meanwhile — more than the host has
/// worker threads — and a last connect still goes through once there is room: the worker of a
/// killed thread is interrupted, not left waiting for ever.
#[test]
fn workers_waiting_in_connects_of_killed_processes_are_released() {
    blocking_connect_as_native(
        "host_calls_connect_abandon",
        "abandon",
        Some("70"),
        &["70 children waited in connect and were killed", "after an accept (ok), the last child's connect: ok"],
    );
}

// ---- pidfd_send_signal with a siginfo --------------------------------------------------------

/// The guest's siginfo is copied once and sent by the host on its copy, where the kernel
/// applies its rules: a queued signal arrives with its si_code and value; a siginfo claiming
/// the kernel or tkill as sender is refused towards another process (EPERM) but taken by the
/// caller itself (which the host lets the kernel do on the pinned copy), a thread's own
/// process is another target than the thread; a wrong si_signo, unknown flags (before a bad
/// fd), an unreadable siginfo and signal 100 get EINVAL, EINVAL, EFAULT, EINVAL; an exited
/// child ESRCH after the siginfo's own checks; a caller dropped to nobody EPERM, or EINVAL
/// where the siginfo or the number is wrong. Before, every siginfo was refused.
#[test]
fn pidfd_signals_with_a_siginfo_get_the_kernels_answers() {
    let programs = routes("pidfd_siginfo.c");
    let native = run(&mut Command::new(&programs[0]));
    assert_eq!(native.status, 0, "{native:?}");
    for expected in ["child, si_code SI_QUEUE: ok", "  child took signo 10 code -1 value 42", "child, si_code SI_USER: EPERM", "myself, si_code SI_USER: ok", "thread to its process, si_code SI_USER: EPERM", "exited child, si_code SI_QUEUE: ESRCH"] {
        assert!(native.stdout.lines().any(|l| l == expected), "the native run itself: {expected}\n{}", native.stdout);
    }
    assert_every_run_as_native(&programs, &native, &policy(&[]), &[], &scratch_dir("host_calls_pidfd_rootless"));
}

// ---- the guest's own Landlock domains ---------------------------------------------------------

/// Runs `landlock_many MODE N DIR OTHER` natively and under trapbox (reads granted beneath
/// `dir`, where each child's ruleset also allows reading), as root and as nobody: every child
/// must get the kernel's answers (its own file opens; the file outside and /dev/null EACCES).
fn many_self_sandboxed(test: &str, mode: &str, children: &str) {
    let programs = routes("landlock_many.c");
    let dir = scratch_dir(test);
    std::fs::write(dir.join("inside"), "in scratch\n").unwrap();
    let other = Path::new("/usr/share/common-licenses/GPL-3");
    assert!(other.exists(), "Debian's base-files provide {}", other.display());
    let args = [mode, children, dir.to_str().expect("utf-8"), other.to_str().expect("utf-8")];
    let native = run(Command::new(&programs[0]).args(args));
    let kernels = format!("inside ok, other EACCES, /dev/null EACCES: {children} of {children} children (first: child 0)\n");
    assert_eq!((native.status, native.stdout.as_str()), (0, kernels.as_str()), "the native run itself: {native:?}");
    let flags = policy(&["--allow-read", dir.to_str().expect("utf-8")]);
    assert_every_run_as_native(&programs, &native, &flags, &args, &dir);
}

/// 100 processes one after another each restrict themselves with a ruleset of their own
/// (100 distinct domains). The host's threads for a domain are released when its process
/// exits; before, past the 32nd domain every open of a self-sandboxed process got EACCES.
#[test]
fn a_hundred_self_sandboxing_processes_one_after_another_get_the_kernels_answers() {
    many_self_sandboxed("host_calls_landlock_sequential", "sequential", "100");
}

/// 40 processes restrict themselves and only then open, all alive at once: more domains than
/// the 32 the host keeps threads for, so the opens of the others each get a host thread of
/// their own, under the right domain. Before, they got EACCES.
#[test]
fn forty_live_self_sandboxed_processes_get_the_kernels_answers() {
    many_self_sandboxed("host_calls_landlock_concurrent", "concurrent", "40");
}

/// A thread swaps the ruleset and /dev/null behind the fd another thread passes to
/// landlock_restrict_self, so the host's look at the call's entry and the kernel's own read
/// often disagree: in no round does the host's open answer differ from what the kernel's
/// verdict implies (refused when restricted, allowed when not: the host's record of a refused
/// call is undone, and a ruleset it never saw fails closed). Rounds go on until the kernel
/// went each way 100 times. Before, a host that had seen the ruleset kept it after the
/// kernel refused the call, and the guest got EACCES for what it may open.
#[test]
fn a_ruleset_fd_swapped_during_restrict_self_gets_the_kernels_answers() {
    let programs = routes("landlock_many.c");
    let dir = scratch_dir("host_calls_landlock_swapped");
    let other = "/usr/share/common-licenses/GPL-3";
    let args = ["swapped", "5000", dir.to_str().expect("utf-8"), other];
    let native = run(Command::new(&programs[0]).args(args));
    assert_eq!((native.status, native.stdout.as_str()), (0, "wrong answers: 0\nrace seen: yes\n"), "the native run itself: {native:?}");
    let flags = policy(&["--allow-read", dir.to_str().expect("utf-8")]);
    assert_every_run_as_native(&programs, &native, &flags, &args, &dir);
}
