//! `trapbox bench`: the interception mechanisms of this machine, side by side.
//!
//! Each mechanism serves a loop of `getpid` calls; the figure is the cost per call (median,
//! min and max over rounds, rounds interleaved so drift hits every mechanism alike):
//!
//! - `native`: the plain `syscall` instruction, no tracer;
//! - `ud2`, `int3`: the trap stop alone, under the least a ptrace tracer can do (read the
//!   registers, answer, step past the trap, continue), in a forked child;
//! - `seccomp-stop`: a `SECCOMP_RET_TRACE` filter on `getpid` and a tracer that continues
//!   each stop (the kernel then runs the call);
//! - `user-notif`, `user-notif-sync`: a `SECCOMP_RET_USER_NOTIF` filter on one thread and a
//!   listener thread that answers each notification, without and with
//!   `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6+; unavailable where the kernel lacks it),
//!   both pinned, and again unpinned (`-unpinned`: both threads may run on every CPU, as the
//!   unotify backend's do);
//! - `trapbox-ud2`, `trapbox-int3`, `trapbox-backstop`: trapbox's own path, `trapbox run
//!   --unconfined --no-namespaces` of a tiny generated static program, rewritten with each
//!   trap (`--keep-traps`: every `getpid` a trap, served through the stub page), or
//!   unrewritten, calling `fchdir(-1)` (a call the backstop stops; `getpid` runs natively
//!   there); `trapbox-hostcall-ud2`, `trapbox-hostcall-syscall`: the `version` hostcall
//!   through each entry the ABI allows, its listed `ud2` trap and a plain `syscall`. Per
//!   call: the run of N calls less the run of one, over N − 1;
//! - `trapbox-unotify`, `trapbox-ptrace-policy`: the same unrewritten `fchdir(-1)` loop under a
//!   policy (`--allow-read` the program's directory), served by the unotify backend's pool
//!   (unpinned: `--no-pin`) and by the ptrace backend (pinned): a call the host decides,
//!   measured against the bare user-notification round trip of the same run.
//!
//! Everything else is pinned to the CPU the bench starts on (host and guest on one CPU, as
//! the ptrace backend does: a stop across CPUs costs several times more).

use std::arch::asm;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::Context;
use trapbox_abi::linux::nr;

use crate::launch::seccomp::{one_call_filter, SockFilter, SockFprog, RET_TRACE, RET_USER_NOTIF};
use crate::sys::{self, WaitStatus};

/// Arguments of `trapbox bench`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = BENCH_HELP)]
pub struct BenchArgs {
    /// Print JSON instead of the table (the same figures; field names are stable).
    #[arg(long)]
    pub json: bool,
    /// A short run (fewer calls and rounds, a second or two): for CI and a first look.
    #[arg(long)]
    pub quick: bool,
    /// Rounds per mechanism (default 5, 3 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: Option<u32>,
}

const BENCH_HELP: &str = "\
Mechanisms (each serves a loop of getpid calls; µs per call, median and min/max over rounds):
  native            the syscall instruction, no tracer
  ud2, int3         a trap stop under a minimal ptrace tracer (GETREGS, answer, SETREGS, continue)
  seccomp-stop      a SECCOMP_RET_TRACE filter; the tracer continues each stop
  user-notif        a SECCOMP_RET_USER_NOTIF filter; a listener thread answers each call
  user-notif-sync   the same with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6+)
  user-notif-unpinned, user-notif-sync-unpinned   the same two, both threads on every CPU
  trapbox-ud2       trapbox run --keep-traps of a generated program rewritten with ud2
  trapbox-int3      the same rewritten with int3
  trapbox-backstop  trapbox run of the unrewritten program, calling fchdir(-1) (stopped by the backstop)
  trapbox-hostcall-ud2      the version hostcall at a ud2 trap site (the SDK's listed entry)
  trapbox-hostcall-syscall  the version hostcall by a plain syscall (the ABI's other entry)
  trapbox-unotify   the same under a policy, --backend unotify --no-pin: decided by the host's pool
  trapbox-ptrace-policy   the same under a policy, --backend ptrace (pinned)
Everything else runs on the CPU the bench starts on. A mechanism this machine lacks is listed
as unavailable, with the reason.

Examples:
  trapbox bench
  trapbox bench --quick --json > bench.json";

/// One mechanism's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measured {
    /// A stable name (`native`, `ud2`, ...).
    pub id: &'static str,
    /// What it measures.
    pub label: &'static str,
    /// Whether it could be measured here.
    pub available: bool,
    /// Calls per round.
    pub calls: u64,
    /// µs per call: median, min and max over rounds (`null` when unavailable).
    pub median_us: Option<f64>,
    /// See `median_us`.
    pub min_us: Option<f64>,
    /// See `median_us`.
    pub max_us: Option<f64>,
    /// Why it is unavailable, or a note on how it was measured.
    pub note: Option<String>,
}

/// The whole report (`--json`).
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// `uname -r`.
    pub kernel: String,
    /// The CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// The CPU everything ran on, if pinning worked.
    pub pinned_cpu: Option<usize>,
    /// Whether this was `--quick`.
    pub quick: bool,
    /// Rounds per mechanism.
    pub rounds: u32,
    /// Every mechanism, in the order of the table.
    pub mechanisms: Vec<Measured>,
}

/// A way of serving the loop, measured once per round.
#[derive(Clone, Copy, Debug)]
enum Mechanism {
    Native,
    Trap(Trap),
    SeccompStop,
    UserNotif { sync_wake_up: bool, pinned: bool },
    Trapbox(TrapboxRun),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trap {
    Ud2,
    Int3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TrapboxRun {
    Ud2,
    Int3,
    Backstop,
    /// The `version` hostcall at a `ud2` trap site.
    HostcallUd2,
    /// The `version` hostcall by a plain `syscall` (a seccomp stop): the ABI's other entry.
    HostcallSyscall,
    /// The backstop program under a policy, on the unotify backend.
    Unotify,
    /// The backstop program under a policy, on the ptrace backend.
    PtracePolicy,
}

const MECHANISMS: [(&str, &str, Mechanism); 15] = [
    ("native", "native syscall (getpid)", Mechanism::Native),
    ("ud2", "ud2 trap, bare ptrace tracer", Mechanism::Trap(Trap::Ud2)),
    ("int3", "int3 trap, bare ptrace tracer", Mechanism::Trap(Trap::Int3)),
    ("seccomp-stop", "ptrace seccomp stop (RET_TRACE)", Mechanism::SeccompStop),
    ("user-notif", "seccomp user notification", Mechanism::UserNotif { sync_wake_up: false, pinned: true }),
    ("user-notif-sync", "seccomp user notification, sync wake-up", Mechanism::UserNotif { sync_wake_up: true, pinned: true }),
    ("user-notif-unpinned", "seccomp user notification, unpinned", Mechanism::UserNotif { sync_wake_up: false, pinned: false }),
    ("user-notif-sync-unpinned", "user notification, sync wake-up, unpinned", Mechanism::UserNotif { sync_wake_up: true, pinned: false }),
    ("trapbox-ud2", "trapbox run: ud2 trap (stub page)", Mechanism::Trapbox(TrapboxRun::Ud2)),
    ("trapbox-int3", "trapbox run: int3 trap (stub page)", Mechanism::Trapbox(TrapboxRun::Int3)),
    ("trapbox-backstop", "trapbox run: backstop seccomp stop", Mechanism::Trapbox(TrapboxRun::Backstop)),
    ("trapbox-hostcall-ud2", "trapbox run: version hostcall, ud2 trap", Mechanism::Trapbox(TrapboxRun::HostcallUd2)),
    ("trapbox-hostcall-syscall", "trapbox run: version hostcall, plain syscall", Mechanism::Trapbox(TrapboxRun::HostcallSyscall)),
    ("trapbox-unotify", "trapbox run, policy: unotify pool, unpinned", Mechanism::Trapbox(TrapboxRun::Unotify)),
    ("trapbox-ptrace-policy", "trapbox run, policy: ptrace backstop, pinned", Mechanism::Trapbox(TrapboxRun::PtracePolicy)),
];

impl Mechanism {
    /// Calls per round: enough that the per-round overhead (fork, a trapbox start) is noise.
    fn calls(self, quick: bool) -> u64 {
        match (self, quick) {
            (Mechanism::Native, false) => 1_000_000,
            (Mechanism::Native, true) => 100_000,
            (_, false) => 20_000,
            (_, true) => 2_000,
        }
    }
}

/// Runs `trapbox bench`; returns the exit status.
pub fn bench(args: &BenchArgs) -> anyhow::Result<u8> {
    let rounds = args.rounds.unwrap_or(if args.quick { 3 } else { 5 });
    let pinned_cpu = sys::pin_to_current_cpu().ok();
    let programs = Programs::write(args.quick).context("cannot write the benchmark's programs")?;
    let mut samples: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); MECHANISMS.len()];
    for _ in 0..rounds {
        for (i, &(_, _, mechanism)) in MECHANISMS.iter().enumerate() {
            let Ok(list) = &mut samples[i] else { continue };
            let calls = mechanism.calls(args.quick);
            match measure(mechanism, calls, &programs) {
                Ok(per_call) => list.push(per_call.as_secs_f64() * 1e6 / calls as f64),
                Err(why) => samples[i] = Err(why),
            }
        }
    }
    let mechanisms = MECHANISMS
        .iter()
        .zip(samples)
        .map(|(&(id, label, mechanism), sampled)| {
            let calls = mechanism.calls(args.quick);
            match sampled {
                Ok(mut list) => {
                    list.sort_by(f64::total_cmp);
                    let median = list[list.len() / 2];
                    let note = matches!(mechanism, Mechanism::Trapbox(_)).then(|| "a run of N calls less a run of one, over N - 1".to_string());
                    Measured { id, label, available: true, calls, median_us: Some(median), min_us: list.first().copied(), max_us: list.last().copied(), note }
                }
                Err(why) => Measured { id, label, available: false, calls, median_us: None, min_us: None, max_us: None, note: Some(why) },
            }
        })
        .collect();
    let report = Report { kernel: kernel_release(), cpu: cpu_model(), pinned_cpu, quick: args.quick, rounds, mechanisms };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(0)
}

fn print_table(report: &Report) {
    println!(
        "trapbox bench: {} rounds{}; kernel {}; {}; pinned to CPU {}",
        report.rounds,
        if report.quick { " (quick)" } else { "" },
        report.kernel,
        report.cpu,
        report.pinned_cpu.map_or("none".to_string(), |c| c.to_string())
    );
    let native = report.mechanisms.iter().find(|m| m.id == "native").and_then(|m| m.median_us);
    println!("{:<24} {:<46} {:>10} {:>9} {:>9} {:>9} {:>8}", "id", "mechanism", "median µs", "min µs", "max µs", "calls", "x native");
    for m in &report.mechanisms {
        match (m.median_us, m.min_us, m.max_us) {
            (Some(median), Some(min), Some(max)) => {
                let ratio = native.filter(|n| *n > 0.0).map_or(String::new(), |n| format!("{:.0}", median / n));
                println!("{:<24} {:<46} {median:>10.2} {min:>9.2} {max:>9.2} {:>9} {ratio:>8}", m.id, m.label, m.calls);
            }
            _ => println!("{:<24} {:<46} unavailable: {}", m.id, m.label, m.note.as_deref().unwrap_or("?")),
        }
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "?".to_string(), |s| s.trim().to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())))
        .unwrap_or_else(|| "?".to_string())
}

/// One round of `mechanism`: the time `calls` calls took.
fn measure(mechanism: Mechanism, calls: u64, programs: &Programs) -> Result<Duration, String> {
    match mechanism {
        Mechanism::Native => {
            let started = Instant::now();
            getpid_loop(calls);
            Ok(started.elapsed())
        }
        Mechanism::Trap(trap) => traced_child(Child::Trap(trap), calls),
        Mechanism::SeccompStop => traced_child(Child::SeccompStop, calls),
        Mechanism::UserNotif { sync_wake_up, pinned } => user_notification(calls, sync_wake_up, pinned),
        Mechanism::Trapbox(run) => programs.time_trapbox(run, calls),
    }
}

/// `calls` (at least one) `getpid` calls through `syscall`.
fn getpid_loop(calls: u64) {
    // SAFETY: getpid reads and writes no memory; the asm clobbers only the registers it names.
    unsafe {
        asm!("2:", "mov eax, 39", "syscall", "dec {n}", "jnz 2b",
            n = inout(reg) calls.max(1) => _, out("rax") _, out("rcx") _, out("r11") _, options(nostack));
    }
}

/// `calls` (at least one) `getpid` traps: `ud2` (0F 0B) or `int3; nop` (CC 90), the
/// encodings `trapbox rewrite` writes; a tracer must serve each.
fn trap_loop(trap: Trap, calls: u64) {
    // SAFETY: each trap stops the thread for its tracer, which puts getpid's result in rax
    // and moves rip past the two bytes; the asm clobbers only the registers it names.
    unsafe {
        match trap {
            Trap::Ud2 => asm!("2:", "mov eax, 39", "ud2", "dec {n}", "jnz 2b",
                n = inout(reg) calls.max(1) => _, out("rax") _, options(nostack)),
            Trap::Int3 => asm!("2:", "mov eax, 39", "int3", "nop", "dec {n}", "jnz 2b",
                n = inout(reg) calls.max(1) => _, out("rax") _, options(nostack)),
        }
    }
}

/// What a traced child does.
#[derive(Clone, Copy, Debug)]
enum Child {
    Trap(Trap),
    SeccompStop,
}

/// Forks a child that is traced by this process and runs `calls` calls the tracer serves
/// (the least it can do for each); the child's own clock times its loop, sent back on a pipe.
fn traced_child(child: Child, calls: u64) -> Result<Duration, String> {
    let filter = one_call_filter(nr::GETPID as u32, RET_TRACE);
    let prog = SockFprog { len: filter.len() as u16, filter: filter.as_ptr() };
    let (read_end, write_end) = pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child runs only async-signal-safe calls (ptrace, raise, prctl, seccomp,
    // the clock, write, _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see the fork; `prog` points at the live filter; the pipe's fd is open.
        unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
            if matches!(child, Child::SeccompStop) {
                let installed = libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
                    && libc::syscall(libc::SYS_seccomp, 1 as libc::c_ulong, 0 as libc::c_ulong, &prog as *const SockFprog) == 0;
                if !installed {
                    libc::_exit(3);
                }
            }
            let started = Instant::now();
            match child {
                Child::Trap(trap) => trap_loop(trap, calls),
                Child::SeccompStop => getpid_loop(calls),
            }
            let ns = started.elapsed().as_nanos() as u64;
            let sent = libc::write(write_end.as_raw_fd(), (&ns as *const u64).cast(), 8) == 8;
            libc::_exit(if sent { 0 } else { 4 });
        }
    }
    drop(write_end);
    let served = serve_traced_child(pid, child);
    let mut ns = [0u8; 8];
    let got = std::io::Read::read(&mut std::fs::File::from(read_end), &mut ns).unwrap_or(0);
    match served {
        Ok(()) if got == 8 => Ok(Duration::from_nanos(u64::from_ne_bytes(ns))),
        Ok(()) => Err("the measuring child sent no time".to_string()),
        Err(why) => Err(why),
    }
}

/// The tracer's loop for [`traced_child`], until the child exits.
fn serve_traced_child(pid: sys::Pid, child: Child) -> Result<(), String> {
    const EXITKILL_AND_SECCOMP: u64 = (libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESECCOMP) as u64;
    let fail = |why: String| {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::wait(Some(pid));
        Err(why)
    };
    match sys::wait(Some(pid)) {
        Ok((_, WaitStatus::Stopped { signal: libc::SIGSTOP, .. })) => {}
        other => return fail(format!("the measuring child did not stop: {other:?}")),
    }
    // SAFETY: PTRACE_SETOPTIONS on our stopped tracee takes the options as its data word.
    if unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, EXITKILL_AND_SECCOMP) } != 0 {
        return fail(format!("PTRACE_SETOPTIONS: {}", std::io::Error::last_os_error()));
    }
    let mut deliver = 0;
    loop {
        if let Err(err) = sys::cont(pid, deliver) {
            return fail(format!("PTRACE_CONT: {err:?}"));
        }
        deliver = 0;
        match sys::wait(Some(pid)) {
            Ok((_, WaitStatus::Exited(0))) => return Ok(()),
            Ok((_, WaitStatus::Exited(3))) => return Err("cannot install a seccomp filter".to_string()),
            Ok((_, WaitStatus::Exited(code))) => return Err(format!("the measuring child exited with {code}")),
            Ok((_, WaitStatus::Signaled { signal, .. })) => return Err(format!("the measuring child was killed by signal {signal}")),
            // A seccomp stop: the kernel runs the call once continued.
            Ok((_, WaitStatus::Stopped { event: sys::EVENT_SECCOMP, .. })) => {}
            Ok((_, WaitStatus::Stopped { signal, event: 0 })) if matches!((child, signal), (Child::Trap(Trap::Ud2), libc::SIGILL) | (Child::Trap(Trap::Int3), libc::SIGTRAP)) => {
                let Ok(mut regs) = sys::get_regs(pid) else { return fail("PTRACE_GETREGS failed".to_string()) };
                regs.rax = pid as u64;
                // ud2 stops at itself, int3 one byte in: resume after the two bytes.
                regs.rip += if signal == libc::SIGILL { 2 } else { 1 };
                if sys::set_regs(pid, &regs).is_err() {
                    return fail("PTRACE_SETREGS failed".to_string());
                }
            }
            Ok((_, WaitStatus::Stopped { signal, .. })) => deliver = signal,
            Ok((_, WaitStatus::Other)) => {}
            Err(err) => return Err(format!("waitpid: {err:?}")),
        }
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `calls` getpid calls on a thread whose filter notifies a listener, which this thread
/// answers (pinned), or a thread of its own (unpinned: both may run on every CPU); the filtered
/// thread times its own loop. The filter dies with that thread (it is installed without TSYNC,
/// so no other thread of the bench is filtered).
fn user_notification(calls: u64, sync_wake_up: bool, pinned: bool) -> Result<Duration, String> {
    const FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
    const IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
    const USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;
    let (listener_tx, listener_rx) = std::sync::mpsc::channel::<Result<OwnedFd, String>>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<bool>();
    let filtered = std::thread::spawn(move || -> Option<Duration> {
        if !pinned && sys::allow_every_cpu().is_err() {
            let _ = listener_tx.send(Err("cannot unpin the filtered thread".to_string()));
            return None;
        }
        let filter: Vec<SockFilter> = one_call_filter(nr::GETPID as u32, RET_USER_NOTIF);
        let prog = SockFprog { len: filter.len() as u16, filter: filter.as_ptr() };
        // SAFETY: prctl takes integers; seccomp reads the live program `prog` points at.
        let fd = unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                -1
            } else {
                libc::syscall(libc::SYS_seccomp, 1 as libc::c_ulong, FILTER_FLAG_NEW_LISTENER, &prog as *const SockFprog) as i32
            }
        };
        if fd < 0 {
            let _ = listener_tx.send(Err(format!("cannot install a notifying filter: {}", std::io::Error::last_os_error())));
            return None;
        }
        // SAFETY: the kernel just created the listener; nothing else owns it.
        let _ = listener_tx.send(Ok(unsafe { OwnedFd::from_raw_fd(fd) }));
        if go_rx.recv() != Ok(true) {
            return None; // the listener could not be set up: make no call it would wait for
        }
        let started = Instant::now();
        getpid_loop(calls);
        Some(started.elapsed())
    });
    let listener = match listener_rx.recv() {
        Ok(Ok(fd)) => fd,
        Ok(Err(why)) => {
            let _ = filtered.join();
            return Err(why);
        }
        Err(_) => return Err("the filtered thread ended early".to_string()),
    };
    if sync_wake_up {
        // SAFETY: SET_FLAGS takes the flag word by value.
        if unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_SET_FLAGS, USER_NOTIF_FD_SYNC_WAKE_UP) } != 0 {
            let why = std::io::Error::last_os_error();
            let _ = go_tx.send(false);
            let _ = filtered.join();
            return Err(format!("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: {why} (needs Linux 6.6)"));
        }
    }
    let _ = go_tx.send(true);
    if pinned {
        answer_notifications(&listener, calls);
    } else {
        let answering = std::thread::spawn(move || {
            let _ = sys::allow_every_cpu();
            answer_notifications(&listener, calls);
        });
        let _ = answering.join();
    }
    match filtered.join() {
        Ok(Some(took)) => Ok(took),
        _ => Err("the filtered thread failed".to_string()),
    }
}

/// Answers `calls` getpid notifications on `listener` (fewer if the filtered thread is gone).
fn answer_notifications(listener: &OwnedFd, calls: u64) {
    let pid = sys::own_pid();
    let mut answered = 0;
    while answered < calls.max(1) {
        // RECV wants a zeroed buffer.
        let mut notif = crate::perform::directfs::Notif::default();
        // SAFETY: RECV fills a seccomp_notif of exactly this layout.
        if unsafe { libc::ioctl(listener.as_raw_fd(), crate::perform::directfs::IOCTL_NOTIF_RECV, &mut notif as *mut _) } != 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break; // the filtered thread is gone: its join below says so
        }
        let resp = crate::perform::directfs::NotifResp { id: notif.id, val: i64::from(pid), error: 0, flags: 0 };
        // SAFETY: SEND reads a seccomp_notif_resp of exactly this layout.
        unsafe { libc::ioctl(listener.as_raw_fd(), crate::perform::directfs::IOCTL_NOTIF_SEND, &resp as *const _) };
        answered += 1;
    }
}

/// The generated programs for the `trapbox run` rows, in a directory of their own.
struct Programs {
    dir: std::path::PathBuf,
}

/// Where the generated program loads (a classic `ET_EXEC`, as the static binaries trapbox
/// meets), and where its code starts: right after the headers, in the same page.
const LOAD_BASE: u64 = 0x40_0000;
const CODE_OFFSET: u64 = 64 + 56;

/// A static x86-64 program of two headers and a loop: `calls` times `number(arg0)`, then
/// `exit(0)`. No section headers; its one `PT_LOAD` is exactly the code, so the rewriter
/// sweeps nothing but instructions.
fn loop_program(calls: u32, number: u32, arg0: i32) -> Vec<u8> {
    let mut code = Vec::new();
    code.push(0xBB); // mov ebx, calls
    code.extend(calls.max(1).to_le_bytes());
    let top = code.len();
    code.push(0xB8); // mov eax, number
    code.extend(number.to_le_bytes());
    code.extend([0x48, 0xC7, 0xC7]); // mov rdi, arg0 (sign-extended)
    code.extend(arg0.to_le_bytes());
    code.extend([0x0F, 0x05, 0xFF, 0xCB]); // syscall; dec ebx
    let back = i8::try_from(top as i64 - (code.len() as i64 + 2)).expect("a short loop");
    code.extend([0x75, back as u8]); // jnz top
    code.extend([0x31, 0xFF, 0xB8, 60, 0, 0, 0, 0x0F, 0x05, 0xF4]); // xor edi, edi; mov eax, 60; syscall; hlt

    let mut elf = Vec::new();
    elf.extend(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(0x3Eu16.to_le_bytes()); // EM_X86_64
    elf.extend(1u32.to_le_bytes());
    elf.extend((LOAD_BASE + CODE_OFFSET).to_le_bytes()); // e_entry
    elf.extend(64u64.to_le_bytes()); // e_phoff
    elf.extend(0u64.to_le_bytes()); // e_shoff
    elf.extend(0u32.to_le_bytes()); // e_flags
    elf.extend([64, 0, 56, 0, 1, 0, 64, 0, 0, 0, 0, 0]); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    elf.extend(1u32.to_le_bytes()); // PT_LOAD
    elf.extend(5u32.to_le_bytes()); // R + X
    elf.extend(CODE_OFFSET.to_le_bytes()); // p_offset
    elf.extend((LOAD_BASE + CODE_OFFSET).to_le_bytes()); // p_vaddr
    elf.extend((LOAD_BASE + CODE_OFFSET).to_le_bytes()); // p_paddr
    elf.extend((code.len() as u64).to_le_bytes()); // p_filesz
    elf.extend((code.len() as u64).to_le_bytes()); // p_memsz
    elf.extend(0x1000u64.to_le_bytes()); // p_align
    debug_assert_eq!(elf.len() as u64, CODE_OFFSET);
    elf.extend(code);
    elf
}

impl Programs {
    /// Writes, for the call counts of this run (`n` and 1), the `getpid` loop rewritten with
    /// `ud2` and with `int3` and the unrewritten `fchdir(-1)` loop.
    fn write(quick: bool) -> anyhow::Result<Programs> {
        let dir = std::env::temp_dir().join(format!("trapbox-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let n = Mechanism::Trapbox(TrapboxRun::Ud2).calls(quick) as u32;
        for calls in [n, 1] {
            let getpid = loop_program(calls, nr::GETPID as u32, 0);
            for (name, encoding) in [("ud2", trapbox_abi::trap::TrapEncoding::Ud2), ("int3", trapbox_abi::trap::TrapEncoding::Int3)] {
                let options = trapbox_rewriter::RewriteOptions { encoding, cross_check: false };
                let rewritten = trapbox_rewriter::rewrite(&getpid, &options)?;
                anyhow::ensure!(rewritten.analysis.sites.len() == 2, "the rewriter found {} sites in the loop, not 2", rewritten.analysis.sites.len());
                write_executable(&dir.join(format!("loop-{name}-{calls}")), &rewritten.output)?;
            }
            write_executable(&dir.join(format!("loop-backstop-{calls}")), &loop_program(calls, nr::FCHDIR as u32, -1))?;
            // The hostcall's two entries: the listed trap (rewritten, a `.trapbox` site) and
            // the plain `syscall` the backstop stops.
            let version = loop_program(calls, trapbox_abi::hostcall::VERSION as u32, 0);
            let options = trapbox_rewriter::RewriteOptions { encoding: trapbox_abi::trap::TrapEncoding::Ud2, cross_check: false };
            write_executable(&dir.join(format!("loop-hostcall-ud2-{calls}")), &trapbox_rewriter::rewrite(&version, &options)?.output)?;
            write_executable(&dir.join(format!("loop-hostcall-syscall-{calls}")), &version)?;
        }
        Ok(Programs { dir })
    }

    /// One round of a `trapbox run` row: the run of `calls` calls less the run of one.
    fn time_trapbox(&self, run: TrapboxRun, calls: u64) -> Result<Duration, String> {
        let name = match run {
            TrapboxRun::Ud2 => "ud2",
            TrapboxRun::Int3 => "int3",
            TrapboxRun::Backstop | TrapboxRun::Unotify | TrapboxRun::PtracePolicy => "backstop",
            TrapboxRun::HostcallUd2 => "hostcall-ud2",
            TrapboxRun::HostcallSyscall => "hostcall-syscall",
        };
        let once = self.time_run(run, &format!("loop-{name}-1"))?;
        let all = self.time_run(run, &format!("loop-{name}-{calls}"))?;
        // (Scaled to `calls` so the per-call division above is the same for every row.)
        let per_call = all.saturating_sub(once).as_secs_f64() / (calls.max(2) - 1) as f64;
        Ok(Duration::from_secs_f64(per_call * calls as f64))
    }

    fn time_run(&self, run: TrapboxRun, program: &str) -> Result<Duration, String> {
        let me = std::env::current_exe().map_err(|e| format!("cannot find trapbox itself: {e}"))?;
        let mut command = std::process::Command::new(me);
        match run {
            TrapboxRun::Ud2 | TrapboxRun::Int3 | TrapboxRun::HostcallUd2 => command.args(["run", "--unconfined", "--no-namespaces", "--keep-traps"]),
            TrapboxRun::Backstop | TrapboxRun::HostcallSyscall => command.args(["run", "--unconfined", "--no-namespaces"]),
            TrapboxRun::Unotify | TrapboxRun::PtracePolicy => {
                let (backend, cpus) = if run == TrapboxRun::Unotify { ("unotify", "--no-pin") } else { ("ptrace", "--pin") };
                command.args(["run", "--backend", backend, cpus, "--allow-read"]).arg(&self.dir)
            }
        };
        command.arg("--").arg(self.dir.join(program));
        command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        // The unotify row runs unpinned, as its backend does by default: started from a thread
        // that may run on every CPU (a child inherits its creator's CPUs).
        let unpinned = run == TrapboxRun::Unotify;
        let (out, took) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if unpinned {
                        sys::allow_every_cpu().map_err(|e| format!("cannot unpin: {e:?}"))?;
                    }
                    let started = Instant::now();
                    let out = command.output().map_err(|e| format!("cannot run trapbox: {e}"))?;
                    Ok::<_, String>((out, started.elapsed()))
                })
                .join()
                .map_err(|_| "the thread running trapbox failed".to_string())?
        })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(format!("trapbox run failed ({}): {}", out.status, said.lines().last().unwrap_or("")));
        }
        Ok(took)
    }
}

impl Drop for Programs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_executable(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_loop_is_found_by_the_rewriter_with_its_numbers() {
        let program = loop_program(5, nr::GETPID as u32, 0);
        let analysis = trapbox_rewriter::analyse(&program, &trapbox_rewriter::RewriteOptions::default()).unwrap();
        let numbers: Vec<Option<u32>> = analysis.sites.iter().map(|s| s.nr).collect();
        assert_eq!(numbers, [Some(39), Some(60)], "{:?}", analysis.sites);
        assert!(analysis.disagreements.is_empty(), "{:?}", analysis.disagreements);
    }

    #[test]
    fn the_native_loop_and_a_user_notification_round_trip_work() {
        getpid_loop(3);
        // Where the kernel allows a filter (it may not in a restricted container), every
        // notified call is answered and the loop ends.
        if let Ok(took) = user_notification(10, false, true) {
            assert!(took > Duration::ZERO);
        }
    }
}
