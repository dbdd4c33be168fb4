//! Host robustness: a guest SIGKILLed while it traps, the host SIGKILLed (the guest must die
//! with it, PTRACE_O_EXITKILL), and a guest that exits while the host is injecting a call.

mod run_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use run_support::{guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir};

/// Starts `trapbox run -- spin.trapped` and returns the host process and the guest's pid
/// (the guest prints it first).
fn start_spinning_guest(test: &str) -> (Child, i32) {
    let dir = scratch_dir(test);
    let (_, spin) = guest_pair("spin.c");
    let mut host = trapbox_run(&[], &spin, &[])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start trapbox");
    let mut line = String::new();
    BufReader::new(host.stdout.take().expect("stdout")).read_line(&mut line).expect("read the guest's pid");
    let pid = line.trim().parse().unwrap_or_else(|_| panic!("guest printed {line:?}, not a pid"));
    (host, pid)
}

fn kill(pid: i32, signal: &str) {
    let status = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Whether `pid` is gone or a zombie.
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn guest_killed_by_sigkill_mid_trap() {
    let (host, pid) = start_spinning_guest("robust_guest_sigkill");
    kill(pid, "KILL");
    let out = host.wait_with_output().expect("wait for trapbox");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // trapbox dies by the guest's signal, so its parent sees the native wait status.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(9), "stderr: {stderr}");
    assert_eq!(stderr.trim(), "trapbox: guest killed by SIGKILL");
}

#[test]
fn host_killed_takes_the_guest_with_it() {
    let (mut host, pid) = start_spinning_guest("robust_host_sigkill");
    assert!(!is_dead(pid), "the guest should be running");
    host.kill().expect("SIGKILL the host");
    host.wait().expect("reap the host");
    // EXITKILL delivers SIGKILL as the host dies; give the kernel time to tear the guest down.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !is_dead(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(is_dead(pid), "guest {pid} survived its host");
}

#[test]
fn guest_exits_while_a_call_is_being_injected() {
    // --inject-probe makes the host inject a getpid into the trapping thread before serving
    // every trap, so most of the main thread's stops belong to an injection; the second
    // thread's exit_group(5) kills it wherever it is. The host must report 5 without a panic
    // or a hang, and (over rounds, until it happens: a race, won in a few rounds of ten here)
    // `--stats` must show an injection cut short.
    let (_, spin) = guest_pair("spin.c");
    let mut cut_short_seen = false;
    for round in 0..ROUNDS_TO_CUT_SHORT {
        let dir = scratch_dir("robust_inject_exit");
        let out = run(trapbox_run(&["--inject-probe", "--stats"], &spin, &["5"]).current_dir(dir));
        assert_eq!(out.status, 5, "round {round}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "round {round}: {out:?}");
        assert!(!out.stderr.contains("warning"), "round {round}: {out:?}");
        let cut_short = out
            .stderr
            .split("injections: ")
            .nth(1)
            .and_then(|rest| rest.split(" (").nth(1))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no injection counters in {:?}", out.stderr));
        if cut_short > 0 {
            cut_short_seen = true;
            break;
        }
    }
    assert!(cut_short_seen, "in {ROUNDS_TO_CUT_SHORT} rounds the exit never landed during an injection");
}

/// Rounds enough that the race is won on any machine (each ends as soon as it is).
const ROUNDS_TO_CUT_SHORT: u32 = 300;

#[test]
fn injections_preserve_registers_under_threads_and_signals() {
    for source in ["threads.c", "sigrestart.c", "fork_exec.c"] {
        let (plain, rewritten) = guest_pair(source);
        let dir = scratch_dir("robust_inject_probe");
        let expected = run(std::process::Command::new(&plain).current_dir(&dir));
        let got = run(trapbox_run(&["--inject-probe"], &rewritten, &[]).current_dir(&dir));
        assert_eq!(got, expected, "{source} under --inject-probe");
    }
}

/// A guest that loops on `ud2`s no trap table lists (stepping over each in a SIGILL handler)
/// gets each SIGILL as natively, and costs the host one cheap query per trap: the host reads
/// its memory map again only for a file mapping it has not seen (here: never).
#[test]
fn unlisted_traps_do_not_make_the_host_reread_the_memory_map() {
    let (plain, rewritten) = guest_pair("unlisted_traps.c");
    let dir = scratch_dir("robust_unlisted_traps");
    let native = run(std::process::Command::new(&plain).arg("2000").current_dir(&dir));
    assert_eq!(native.stdout, "caught 4000\n");
    for program in [plain, rewritten] {
        let out = run(trapbox_run(&["--stats", "--allow-read", "/usr"], &program, &["2000"]).current_dir(&dir));
        assert_eq!(out.stdout, native.stdout, "{out:?}");
        let rescans: u64 = out
            .stderr
            .split("maps rescans: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no rescan counter in {}", out.stderr));
        assert_eq!(rescans, 0, "4000 unlisted traps, {rescans} rescans of /proc/PID/maps");
    }
}

/// The host's fuzzer: random call numbers with hostile arguments (bad and unterminated
/// pointers, pointers into the host's area, huge lengths, high bits over int arguments), from
/// fixed seeds, static and rewritten. The host must keep serving to the end: the guest finishes
/// its batches, trapbox exits with the guest's status, and nothing panicked. A longer run:
/// `bash scripts/fuzz-host.sh SEEDS BATCHES`.
#[test]
fn random_calls_with_hostile_arguments_leave_the_host_serving() {
    let (plain, rewritten) = guest_pair("fuzz_calls.c");
    for (seed, program) in [(1, &plain), (2, &rewritten), (3, &plain)] {
        let dir = scratch_dir("robust_fuzz");
        let flags = ["--allow-read", "/usr", "--allow-write", ".", "--limit-processes", "32", "--limit-memory", "1G", "--limit-wall", "120s"];
        let out = run(trapbox_run(&flags, program, &[&seed.to_string(), "40"]).current_dir(&dir));
        assert_eq!((out.status, out.stdout.as_str()), (0, "fuzz: done\n"), "seed {seed}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "seed {seed}: {}", out.stderr);
    }
}

/// Signals a process sends to trapbox (a supervisor's SIGTERM, `timeout`, `kill`) reach the
/// guest, whose handlers run as natively; when the guest dies by a signal, trapbox dies by the
/// same one, so its parent sees the native wait status.
#[test]
fn signals_sent_to_trapbox_are_the_guests_and_its_death_is_trapboxs() {
    use std::os::unix::process::ExitStatusExt;
    let (plain, rewritten) = guest_pair("signal_relay.c");
    for program in [plain, rewritten] {
        let mut host = trapbox_run(&["--allow-read", "/usr"], &program, &[])
            .current_dir(scratch_dir("robust_signal_relay"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start trapbox");
        let mut stdout = BufReader::new(host.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready");
        assert_eq!(line, "ready\n");
        for (signal, name) in [(libc_signal::TERM, "TERM"), (libc_signal::USR1, "USR1")] {
            kill(host.id() as i32, name);
            line.clear();
            stdout.read_line(&mut line).expect("the guest's handler ran");
            assert_eq!(line, format!("got {signal}\n"), "{}", program.display());
        }
        kill(host.id() as i32, "TERM");
        let status = host.wait().expect("wait");
        assert_eq!(status.signal(), Some(libc_signal::TERM), "trapbox died by the guest's signal: {status:?}");
    }
}

mod libc_signal {
    pub const USR1: i32 = 10;
    pub const TERM: i32 = 15;
}
