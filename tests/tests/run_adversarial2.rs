//! The second red team's suite: attacks on the surfaces added with the host's worker pool
//! (blocking opens on host threads, the reaper), openat2 judged by the kernel, the guest's own
//! Landlock domains, the host acting with the guest's credentials, and trapbox's init and
//! signal handling. Each attempt here was contained; each checks evidence on the host's side
//! (files unchanged, the host's hostname, wall time, exit status, the host's log). Attempts
//! that succeeded are not tests: they are written up in the red team's report. Guest:
//! tests/guests/adv2_host.c.

mod run_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use run_support::{denials, guest_pair, is_root, routes, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// A scratch tree: `out/` (write grant, holding `s`), `ro/` (read grant: `s`, and `locked`
/// with mode 000), `secret/s` (no grant).
fn tree(test: &str) -> PathBuf {
    let dir = scratch_dir(test);
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["out", "ro", "secret"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("out/s"), "MINE\n").unwrap();
    std::fs::write(dir.join("ro/s"), "RO\n").unwrap();
    std::fs::write(dir.join("ro/rootonly"), "ROOTONLY\n").unwrap();
    std::fs::write(dir.join("secret/s"), "SECRET-DATA\n").unwrap();
    for (f, mode) in [("out/s", 0o644), ("ro/s", 0o644), ("ro/rootonly", 0o600), ("secret/s", 0o644)] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `program args` in `dir/out` under the tree's policy (out writable, ro and /usr readable).
fn confined(dir: &Path, extra: &[&str], program: &Path, args: &[&str]) -> Outcome {
    let out = dir.join("out");
    let ro = dir.join("ro");
    let mut flags = vec!["--allow-read", "/usr", "--allow-write", s(&out), "--allow-read", s(&ro), "--limit-wall", "120s"];
    flags.extend_from_slice(extra);
    run(trapbox_run(&flags, program, args).current_dir(&out))
}

/// The number after `prefix` on the line of `text` that starts with it.
fn number_after(text: &str, prefix: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    line[prefix.len()..].split_whitespace().next()?.parse().ok()
}

fn assert_ro_untouched(dir: &Path, out: &Outcome) {
    assert_eq!(std::fs::read_to_string(dir.join("ro/s")).unwrap(), "RO\n", "ro/s changed: {out:?}");
    let names: Vec<_> = std::fs::read_dir(dir.join("ro")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "a file appeared in ro/: {names:?}");
    assert!(!out.stdout.contains("SECRET") && !out.stderr.contains("SECRET-DATA"), "the secret was read: {out:?}");
    assert_eq!(std::fs::read_to_string(dir.join("secret/s")).unwrap(), "SECRET-DATA\n");
}

fn dev_null_intact() {
    let m = std::fs::metadata("/dev/null").unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o666, 0, 0), "/dev/null's mode or owner changed");
}

// ---- the worker pool ------------------------------------------------------------------------

/// 100 threads of one process wait on a FIFO nobody writes (more than the pool's 64 host
/// threads): another process's plain open and /dev/null open are served at once, and once the
/// holder is killed, its workers are released and a FIFO pair opens promptly.
#[test]
fn a_process_holding_the_whole_worker_pool_delays_no_one_else() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_pool");
        let started = Instant::now();
        let out = confined(&dir, &[], &program, &["pool", s(&dir.join("out")), "100"]);
        assert!(out.stdout.contains("plain open while held: ok in 0.0 s"), "{}: {out:?}", program.display());
        assert!(out.stdout.contains("dev null while held: ok"), "{out:?}");
        let pair = number_after(&out.stdout, "fifo pair after the holder died: ").expect("the pair opened");
        assert!(pair < 5.0, "the FIFO pair waited {pair} s for workers of a dead process: {out:?}");
        assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());
        assert_eq!(out.status, 0, "{out:?}");
    }
}

/// A thread's blocking FIFO open interrupted 300 times by a signal without SA_RESTART: each
/// interruption leaves a host worker waiting for a guest thread that no longer waits; the
/// reaper must release them all, so the pool still serves a FIFO pair afterwards.
#[test]
fn interrupted_fifo_opens_do_not_leak_workers() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_interrupt");
        let out = confined(&dir, &[], &program, &["interrupt", s(&dir.join("out")), "300"]);
        let interrupted = number_after(&out.stdout, "interrupted opens: ").expect("the loop ended");
        assert!(interrupted >= 300.0, "the window (an interrupted open) opened only {interrupted} times: {out:?}");
        let pair = number_after(&out.stdout, "fifo pair after the interrupts: ").expect("the pair opened");
        assert!(pair < 10.0, "the FIFO pair waited {pair} s: workers leaked: {out:?}");
    }
}

/// A FIFO and a regular file swapped under one name by a thread while the main thread opens
/// it 3000 times: the directfs thread never opens the FIFO blocking (which would hang every
/// open of the guest), and the run ends promptly.
#[test]
fn a_fifo_renamed_over_a_file_never_blocks_the_directfs_thread() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_swap");
        let started = Instant::now();
        let out = confined(&dir, &[], &program, &["swap", s(&dir.join("out")), "3000"]);
        assert!(out.stdout.starts_with("swap opens: "), "{out:?}");
        let regular = number_after(&out.stdout, "swap opens: regular ").unwrap_or(0.0);
        assert!(regular > 0.0, "the race never saw the regular file: {out:?}");
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}: {out:?}", started.elapsed());
    }
}

// ---- openat2 ----------------------------------------------------------------------------------

/// openat2 from dirfds a guest may try to hold outside the grants (an O_PATH of the secret
/// directory, of the grant's parent), RESOLVE_IN_ROOT above a grant and with `/..`, a
/// /proc/self/fd magic link climbing out, and a dirfd a thread swaps between the write grant
/// and the read-only one 2000 times while the main thread opens "s" for writing: the secret
/// is never read and ro/ never written.
#[test]
fn openat2_dirfds_outside_or_swapped_never_reach_outside_or_write_read_only() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_openat2");
        let out = confined(&dir, &[], &program, &["openat2", s(&dir.join("out")), s(&dir.join("secret")), s(&dir.join("ro")), "2000"]);
        assert_ro_untouched(&dir, &out);
        for line in out.stdout.lines().filter(|l| l.contains("secret") || l.contains("above") || l.contains("dotdot") || l.contains("proc fd")) {
            assert!(!line.contains(": fd ["), "{line}: {out:?}");
        }
        let written = number_after(&out.stdout, "dirfd race: written ").expect("the race ran");
        assert!(written > 0.0, "the race never opened the write grant's file: {out:?}");
        assert!(out.stdout.contains("dirfd race:"), "{out:?}");
    }
}

/// The size of `struct open_how` as the kernel judges it: a zero tail up to a page is fine, a
/// nonzero tail and a size above a page are E2BIG, a struct straddling an unmapped page EFAULT.
#[test]
fn openat2_size_games_get_the_kernels_answers() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_openat2_size");
        let out = confined(&dir, &[], &program, &["openat2", s(&dir.join("out")), s(&dir.join("secret")), s(&dir.join("ro")), "1"]);
        assert!(out.stdout.contains("size 4096 nonzero tail: Argument list too long"), "{out:?}");
        assert!(out.stdout.contains("size -1: Argument list too long"), "{out:?}");
        assert!(out.stdout.contains("straddling struct: Bad address"), "{out:?}");
        assert_eq!(out.status, 0, "{out:?}");
    }
}

// ---- the guest's own Landlock ----------------------------------------------------------------

/// 20 restrictions: 15 take (16 layers with trapbox's), the rest get E2BIG, and the last that
/// took (it allows reading only the write grant) still binds the host's opens.
#[test]
fn landlock_layers_beyond_the_kernels_limit_keep_the_last_that_took() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_layers");
        let out = confined(&dir, &[], &program, &["landlock-layers", s(&dir.join("ro/s")), s(&dir.join("out"))]);
        assert!(out.stdout.contains("layers taken: 15"), "{out:?}");
        assert!(out.stdout.contains("after layers: Permission denied"), "the host opened outside the guest's own rules: {out:?}");
    }
}

/// A thread dup2s a ruleset and /dev/null in turn onto the fd another thread passes to
/// landlock_restrict_self: in no round does the kernel restrict the process while the host
/// performs its opens without the rules (30 rounds: below the 32 domains the host keeps).
#[test]
fn a_ruleset_fd_swapped_during_restrict_self_never_leaves_the_host_unrestricted() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_llrace");
        let exe = s(&program).to_string();
        let out = confined(&dir, &["--allow-exec", &exe], &program, &["landlock-race", s(&dir.join("ro/s")), s(&dir.join("out")), "30"]);
        let line = out.stdout.lines().find(|l| l.starts_with("landlock race:")).unwrap_or_else(|| panic!("{out:?}"));
        assert!(line.starts_with("landlock race: restricted-but-read 0 "), "{line}: {out:?}");
        // Which way each round went (the window between the host's look and the kernel's).
        eprintln!("{}: {line}", program.display());
    }
}

// ---- credentials -------------------------------------------------------------------------------

/// One thread drops its uid with a raw setresuid (only that thread changes), then opens a
/// root-only file, and a raw clone(CLONE_THREAD) child of it does too: both get EACCES, while
/// the root thread still reads it.
#[test]
fn a_raw_per_thread_uid_drop_and_its_raw_clone_child_keep_the_guests_credentials() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_threadcreds");
        let out = confined(&dir, &[], &program, &["thread-creds", s(&dir.join("ro/rootonly"))]);
        assert!(out.stdout.contains("dropped thread: Permission denied"), "{out:?}");
        assert!(out.stdout.contains("raw clone child of the dropped thread: Permission denied"), "{out:?}");
        assert!(out.stdout.contains("root thread: ok"), "{out:?}");
        assert!(!out.stdout.contains("ROOTONLY"), "{out:?}");
    }
}

// ---- signals, init, terminal, namespaces ---------------------------------------------------------

/// kill(0) from a child that dropped to nobody does not reach its root parent (the host's
/// emulation of kill(0) checks the caller may signal each target); kill(0) of SIGTERM and
/// SIGHUP, kill(-1) and 50 kill(0, SIGUSR2) leave trapbox and its init alive, and kill(1) is
/// refused and logged.
#[test]
fn kill_zero_as_nobody_and_group_signals_reach_only_whom_they_may() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_killgroup");
        let out = confined(&dir, &[], &program, &["kill-group"]);
        assert!(out.stdout.contains("root parent got 0"), "{out:?}");
        assert!(out.stdout.contains("kill(1, SIGKILL): Operation not permitted"), "{out:?}");
        assert!(out.stdout.ends_with("group signals done\n"), "{out:?}");
        assert_eq!(out.status, 0, "{out:?}");
        assert!(denials(&out).iter().any(|l| l.contains("kill(1, SIGKILL)")), "{out:?}");
    }
}

/// SIGTSTP, SIGTTOU and SIGTTIN to the caller's group (trapbox's own: the host emulates it)
/// stop only guests; a child in a group of its own continues the parent; the host never stops.
#[test]
fn stop_signals_to_the_shared_process_group_never_stop_the_host() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_stopgroup");
        let started = Instant::now();
        let out = confined(&dir, &[], &program, &["stop-group"]);
        assert_eq!((out.status, out.stdout.as_str()), (0, "stop group done\n"), "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    }
}

/// setsid, then TIOCSCTTY on the inherited fds, TIOCSPGRP to pid 1, /dev/tty and /dev/ptmx: no
/// terminal is stolen, no foreground group moved to init. (The base's /dev/ptmx allocates a pty
/// of the guest's own devpts, which it may make its terminal: see the next test. Bare, and
/// without a grant, /dev/ptmx is refused.)
#[test]
fn a_new_session_cannot_take_a_terminal_or_move_its_foreground_group() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_tty");
        for bare in [false, true] {
            let out = confined(&dir, if bare { &["--bare"] } else { &[] }, &program, &["tty"]);
            assert!(out.stdout.contains("setsid: ok"), "{out:?}");
            let own_pty = |l: &str| !bare && (l.starts_with("ptmx") || l.starts_with("TIOCSCTTY on pts"));
            for line in out.stdout.lines().filter(|l| l.starts_with("TIOC") || l.starts_with("open /dev/tty") || l.starts_with("ptmx")) {
                assert!(!line.ends_with(": ok") || own_pty(line), "{line}: {out:?}");
            }
            assert!(out.stdout.ends_with("tty games done\n"), "{out:?}");
        }
    }
}

/// On a real terminal — a pty that `script` makes the controlling terminal of trapbox's
/// session — a guest in a session of its own cannot take it: its TIOCSCTTY with force (which
/// the host lets through to the kernel where the guest has a user namespace of its own) is
/// refused by the kernel (stealing a terminal needs CAP_SYS_ADMIN of the host's user
/// namespace), and the session keeps its terminal.
#[test]
fn a_guest_cannot_steal_the_terminal_it_runs_on() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_steal_tty");
        let (host, guest) = (trapbox_tests::trapbox_bin(), program.clone());
        let plain = |p: &Path| p.to_str().is_some_and(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b)));
        assert!(plain(&host) && plain(&guest), "paths a shell command line takes as they are");
        // Without namespaces of its own a root guest holds the host's CAP_SYS_ADMIN: the host
        // refuses the request itself, with a line.
        for flags in ["", "--no-namespaces"] {
            let run_it = format!("{} run {flags} --allow-read /usr -- {} tty </dev/tty; tty", host.display(), guest.display());
            let out = run(Command::new("script").args(["-qec", &run_it, "/dev/null"]).current_dir(&dir));
            let text = out.stdout.replace("\r\n", "\n");
            assert!(text.contains("setsid: ok\n"), "{out:?}");
            assert!(text.contains("TIOCSCTTY on 0: Operation not permitted\n"), "{out:?}");
            assert_eq!(text.contains("trapbox: denied ioctl(0, 0x540e"), !flags.is_empty(), "{out:?}");
            assert!(text.trim_end().lines().last().is_some_and(|l| l.starts_with("/dev/pts/")), "the session lost its terminal: {out:?}");
        }
    }
}

/// A nested user namespace by unshare and by raw clone(CLONE_NEWUSER) is the guest's to make
/// (and to map), but leads nowhere: no setns into init's or the host's user namespace (their
/// files do not exist for the guest), and the host's hostname is unchanged.
#[test]
fn nested_user_namespaces_lead_nowhere() {
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_userns");
        let out = confined(&dir, &[], &program, &["userns"]);
        let escapes = out.stdout.lines().filter(|l| l.starts_with("open init userns:") || l.starts_with("setns:"));
        for line in escapes {
            assert!(!line.ends_with(": ok"), "{line}: {out:?}");
        }
        assert!(out.stdout.ends_with("userns done\n"), "{out:?}");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), before);
}

// ---- the fuzzer, other seeds ------------------------------------------------------------------

/// The host's fuzzer (tests/guests/fuzz_calls.c) with seeds the suite does not use: the host
/// survives (the guest's "fuzz: done"), logs no panic and leaves no process.
#[test]
fn the_fuzzer_with_other_seeds_leaves_the_host_standing() {
    let (plain, rewritten) = guest_pair("fuzz_calls.c");
    for (seed, program) in [("1009", &plain), ("2027", &rewritten), ("31337", &plain)] {
        let dir = scratch_dir(&format!("adv2_fuzz{seed}"));
        let log = dir.join("host.log");
        let out = run(trapbox_run(
            &["--allow-read", "/usr", "--allow-write", s(&dir), "--limit-processes", "32", "--limit-memory", "1G", "--limit-wall", "200s", "--log", s(&log)],
            program,
            &[seed, "40"],
        )
        .current_dir(&dir));
        assert_eq!(out.stdout.trim_end(), "fuzz: done", "seed {seed}: {out:?}");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains("panicked"), "seed {seed}: {text}");
    }
    dev_null_intact();
}

// ---- rootless -----------------------------------------------------------------------------------


/// As an unprivileged invoker (copies of trapbox and the guest run by nobody): the worker
/// pool held by 100 readers and 300 interrupted opens behave as for root.
#[test]
fn an_unprivileged_invoker_gets_the_same_worker_pool() {
    if !is_root() {
        return;
    }
    let dir = tree("adv2_rootless");
    let (plain, _) = guest_pair("adv2_host.c");
    let (host, guest) = run_support::unprivileged_copies(&dir, &plain, &[&dir.join("out"), &dir.join("ro")]);
    let as_nobody = |args: &[&str]| {
        run(Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&host)
            .args(["run", "--allow-read", "/usr", "--allow-write", s(&dir.join("out")), "--allow-read", s(&dir.join("ro")), "--limit-wall", "120s", "--"])
            .arg(&guest)
            .args(args)
            .current_dir(dir.join("out")))
    };
    let out = as_nobody(&["pool", s(&dir.join("out")), "100"]);
    assert!(out.stdout.contains("plain open while held: ok in 0.0 s"), "{out:?}");
    let pair = number_after(&out.stdout, "fifo pair after the holder died: ").expect("the pair opened");
    assert!(pair < 5.0, "{out:?}");
    let out = as_nobody(&["interrupt", s(&dir.join("out")), "300"]);
    let pair = number_after(&out.stdout, "fifo pair after the interrupts: ").expect("the pair opened");
    assert!(pair < 10.0, "{out:?}");
    let out = as_nobody(&["openat2", s(&dir.join("out")), s(&dir.join("secret")), s(&dir.join("ro")), "500"]);
    assert_ro_untouched(&dir, &out);
}

// ---- /proc of the host, a pty of the guest's own -------------------------------------------------

/// The host's processes stay unreadable: no environ, maps or mem of the trapbox host or of
/// trapbox's init (a fork of the host), no kcore, /dev/mem, /dev/port or kallsyms. With the
/// base, /proc is the guest's own (its PID namespace's, where neither the host nor init is
/// listed) and /dev the base's (no /dev/mem there); bare, without a grant of /proc, the host's
/// /proc mount is refused as a whole. Each refusal the host decides is logged.
#[test]
fn the_hosts_processes_and_kernel_memory_stay_unreadable_without_a_grant() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_prochost");
        for bare in [false, true] {
            let out = confined(&dir, if bare { &["--bare"] } else { &[] }, &program, &["proc-host"]);
            assert!(out.stdout.contains("trapbox processes seen: 0"), "{out:?}");
            for line in out.stdout.lines() {
                assert!(!line.contains(": ok"), "{line}: {out:?}");
            }
            let refused: &[&str] = if bare { &["/proc is outside", "/proc/kcore", "/dev/mem", "/proc/kallsyms"] } else { &["/proc/1/environ", "/proc/kallsyms"] };
            for what in refused {
                assert!(denials(&out).iter().any(|l| l.contains(what)), "{what}: {out:?}");
            }
            if !bare {
                assert!(out.stdout.contains("init environ: No such file or directory"), "{out:?}");
                assert!(out.stdout.contains("dev mem: No such file or directory"), "{out:?}");
            }
        }
    }
}

/// A pty of its own (the base's devpts instance; bare, the host's with /dev/ptmx and /dev/pts
/// granted): after setsid it may make the slave its controlling terminal (as natively), but
/// never hang it up, never steal the inherited terminal, and the host goes on (the slave open
/// runs on a worker thread).
#[test]
fn a_pty_of_the_guests_own_gives_no_hold_on_the_hosts_terminal() {
    for program in routes("adv2_host.c") {
        for extra in [&[][..], &["--bare", "--allow-write", "/dev/ptmx", "--allow-write", "/dev/pts"]] {
            let dir = tree("adv2_pty");
            let started = Instant::now();
            let out = confined(&dir, extra, &program, &["tty"]);
            assert!(out.stdout.contains("ptmx: ok") && out.stdout.contains("pts slave: ok"), "{out:?}");
            assert!(out.stdout.contains("TIOCVHANGUP on pts: Operation not permitted"), "{out:?}");
            assert!(out.stdout.lines().any(|l| l.starts_with("TIOCSCTTY on 0: ") && !l.ends_with(": ok")), "{out:?}");
            assert!(out.stdout.ends_with("tty games done\n"), "{out:?}");
            assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
        }
    }
    dev_null_intact();
}

// ---- findings of the second red team, fixed ----------------------------------------------

/// Under `--allow-write /` the guest found the trapbox host in `/proc` and read and wrote its
/// memory through `/proc/HOST/mem` (the host opened it, as root or as the host's own user).
/// Another process's `/proc/PID` does not exist in the guest's PID namespace, and kernel
/// memory and symbols are the host's: the host never opens them for a guest.
#[test]
fn the_hosts_own_memory_and_the_kernels_are_out_of_reach_whatever_the_grants() {
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_proc_host_fixed");
        let out = run(trapbox_run(&["--allow-write", "/", "--limit-wall", "60s"], &program, &["proc-host"]).current_dir(dir.join("out")));
        assert_eq!(out.status, 0, "{}: {out:?}", program.display());
        assert!(out.stdout.starts_with("trapbox processes seen: 0\n"), "{}: {}", program.display(), out.stdout);
        for line in ["kcore: Permission denied", "kallsyms: Permission denied"] {
            assert!(out.stdout.lines().any(|l| l == line), "{}: {line}\n{}", program.display(), out.stdout);
        }
        assert!(!out.stdout.contains("host mem") && !out.stdout.contains("host environ"), "{}", out.stdout);
        assert!(out.stderr.contains("does not exist in the guest's PID namespace"), "logged: {}", out.stderr);
        assert!(out.stderr.contains("/proc/kcore is the host kernel's"), "logged: {}", out.stderr);
    }
}

/// A root guest that drops every capability from its bounding set (or sets SECBIT_NOROOT) and
/// execs itself has no capability left: the host, performing its opens, must not lend it its
/// own (it read a mode-000 file for it).
#[test]
fn capabilities_dropped_by_prctl_stay_dropped_for_the_hosts_calls() {
    for how in ["bounding", "securebits"] {
        for program in routes("adv2_host.c") {
            let dir = tree("adv2_cap_exec");
            let locked = dir.join("ro/locked");
            std::fs::write(&locked, "locked\n").unwrap();
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
            let exec_dir = program.parent().expect("fixture dir").to_path_buf();
            let out = confined(&dir, &["--allow-exec", s(&exec_dir)], &program, &["cap-exec", how, s(&locked)]);
            assert!(out.stdout.contains("CapEff:\t0000000000000000"), "{how}, {}: {out:?}", program.display());
            assert!(out.stdout.contains("locked file: Permission denied\n"), "{how}, {}: {}", program.display(), out.stdout);
            assert!(out.stdout.contains("access: Permission denied\n"), "{how}, {}: {}", program.display(), out.stdout);
        }
    }
}

/// After a drop to nobody, the unix socket paths the host binds and connects for the guest are
/// checked with the guest's credentials: a bind in a root-owned 0755 directory and a connect to
/// a root-only socket get the kernel's EACCES, and the host's listener receives nothing.
#[test]
fn unix_socket_paths_after_a_privilege_drop_get_the_kernels_answers() {
    if !is_root() {
        return; // the drop to nobody is the point; an unprivileged run has nothing to drop
    }
    for program in routes("adv2_host.c") {
        let dir = tree("adv2_unix_creds");
        let out_dir = dir.join("out");
        std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let root_socket = out_dir.join("rootsock");
        let listener = std::os::unix::net::UnixListener::bind(&root_socket).expect("host listener");
        std::fs::set_permissions(&root_socket, std::fs::Permissions::from_mode(0o600)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let bind_path = out_dir.join("nobody.sock");
        let out = confined(&dir, &[], &program, &["unix-creds", s(&bind_path), s(&root_socket)]);
        assert!(out.stdout.contains("bind: Permission denied\n"), "{}: {out:?}", program.display());
        assert!(out.stdout.contains("connect: Permission denied\n"), "{}: {}", program.display(), out.stdout);
        assert!(!bind_path.exists(), "no socket was created as root for nobody");
        assert!(listener.accept().is_err(), "the host's listener got a connection");
    }
}
