//! `trapbox run`: start a program under the trap debugger.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::debugger::{Debugger, Settings};
use crate::sys::WaitStatus;

/// The exit status trapbox itself uses when it fails (not the guest).
pub const HOST_ERROR_EXIT: u8 = 125;

/// Shown after `trapbox run --help`.
pub const RUN_EXAMPLES: &str = "\
How it works:
  trapbox forks the program, attaches to it as its debugger (ptrace), sets no-new-privileges,
  closes every inherited file descriptor but 0, 1 and 2, installs a seccomp filter (the
  backstop) and execs it. From then on every system call is decided by this host process:

  - in a rewritten binary (`trapbox rewrite`), each `syscall` instruction is a trap (`ud2` or
    `int3`); the host catches it, looks the address up in the binary's trap table and answers
    the call itself, runs it in the guest through a host-owned stub page, or refuses it;
  - calls from code that was not rewritten (other binaries, JIT code, the vDSO fallback) meet
    the seccomp filter: calls that only touch what the guest already holds (read/write on an
    fd, futex, clocks, anonymous memory, ...) run natively, everything else stops in the host;
  - 32-bit calls (`int 0x80`, `sysenter`) and x32 calls are never honoured: refused at a trap
    site, and the backstop kills a process that makes them.

  The exit status is the program's; a program killed by a signal gives 128+N and a one-line
  message naming the signal. trapbox's own failures exit with 125.

Examples:
  trapbox rewrite /bin/busybox -o busybox.trapped
  trapbox run -- ./busybox.trapped sh -c 'seq 1 100000 | sort -rn | head -3; exit 7'
  trapbox run -- /bin/busybox ls -la /             # never rewritten: mediated by the backstop
  trapbox run --trace -- ./busybox.trapped cat /etc/hostname
  trapbox run --trace=calls.txt --stats -- ./my-program arg1

  By default the host and the guest are pinned to one CPU (ptrace stops across CPUs cost
  several times more); --no-pin lets a parallel, compute-bound guest use every CPU.

Trace lines look like strace's, plus how the call was handled:
  [pid 42] openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY) = 3 <trap>
  [pid 42] getpid() = 42 <trap host>
  <trap> ran in the guest after a trap   <backstop> stopped by the seccomp filter
  host: answered by the host             refused: never executed";

/// Arguments of `trapbox run`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Print one strace-style line per mediated call, to stderr or to FILE.
    ///
    /// Each line shows the call's name, its decoded arguments, the result and the path it took
    /// (`<trap>`, `<backstop>`, `host`, `refused`). Tracing sends trapped calls through the
    /// stub's slow path so their results can be seen.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
    pub trace: Option<PathBuf>,
    /// Print counters at exit.
    ///
    /// Traps answered by the host, run in the guest (fast and slow stub path) and refused;
    /// seccomp stops; injections; and the calls that stopped most.
    #[arg(long)]
    pub stats: bool,
    /// Let the guest and the host run on any CPU.
    ///
    /// By default both are pinned to the CPU the host starts on: a ptrace stop across CPUs
    /// costs several times more (measured here: ~120 µs instead of ~15-25 µs per trapped
    /// call), which outweighs the parallelism a multi-threaded guest loses.
    #[arg(long)]
    pub no_pin: bool,
    /// Serve every trap site as a trap, even where a restored `syscall` is cheaper.
    ///
    /// By default the host gives their original `syscall` back (when the program or library
    /// is loaded) to the trap sites that gain nothing from trapping: those whose call number
    /// the rewriter inferred and which the seccomp filter runs natively (a trap would cost a
    /// stop instead of none) or stops anyway (a trap would cost a trap stop plus the seccomp
    /// stop). Sites with an unknown number, calls the host answers or refuses, and hostcalls
    /// stay traps. This is safe — a restored `syscall` still meets the filter — and measured
    /// faster here (BENCHMARKS.md). `--keep-traps` is for measuring the trap mechanism itself.
    #[arg(long)]
    pub keep_traps: bool,
    /// Test hook: before serving each trap, run a getpid in the guest through the injector.
    #[arg(long, hide = true)]
    pub inject_probe: bool,
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<OsString>,
}

/// Runs the guest and returns its exit status.
pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let Some(program) = args.command.first() else {
        anyhow::bail!("no program given");
    };
    let resolved = crate::launcher::resolve_program(program)?;
    let trace = match args.trace.as_deref() {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(crate::trace::TraceSink::open(None)?),
        Some(p) => Some(crate::trace::TraceSink::open(Some(p))?),
    };
    let filter = crate::seccomp::build_filter();
    // The guest decides what Ctrl-C and Ctrl-\ do; the host must outlive them to report.
    crate::sys::ignore_signal(libc::SIGINT);
    crate::sys::ignore_signal(libc::SIGQUIT);
    if !args.no_pin {
        if let Err(err) = crate::sys::pin_to_current_cpu() {
            eprintln!("trapbox: warning: cannot pin to one CPU ({err}); stops will be slower");
        }
    }
    let pid = crate::launcher::spawn(&resolved, &args.command, &filter)?;
    let settings = Settings { trace, inject_probe: args.inject_probe, untrap_known: !args.keep_traps };
    let outcome = Debugger::new(pid, settings).run()?;
    if args.stats {
        let s = &outcome.stats;
        eprintln!(
            "trapbox: stats: traps: {} answered by the host, {} run in the guest ({} fast, {} slow), {} refused; \
             seccomp stops: {}; signals forwarded: {}; stub pages mapped: {}; injections: {} ({} cut short by the thread's death); sites untrapped: {}",
            s.trap_host,
            s.trap_fast + s.trap_slow,
            s.trap_fast,
            s.trap_slow,
            s.trap_refused,
            s.backstop,
            s.signals_forwarded,
            s.stubs_mapped,
            s.injections,
            s.injections_lost,
            s.sites_untrapped
        );
        for (name, traps, stops) in s.busiest(12) {
            eprintln!("trapbox: stats: {name:>18}: {traps:>9} traps {stops:>9} seccomp stops");
        }
    }
    if let Some(errno) = outcome.exec_error {
        anyhow::bail!("cannot execute {}: {}", resolved.display(), std::io::Error::from_raw_os_error(errno));
    }
    match outcome.status {
        Some(WaitStatus::Exited(code)) if !outcome.started => anyhow::bail!(
            "the guest could not be set up before exec (exit {code}): no-new-privileges, closing fds or \
             installing the seccomp filter failed"
        ),
        Some(WaitStatus::Exited(code)) => Ok(code as u8),
        Some(WaitStatus::Signaled { signal, core }) => {
            eprintln!(
                "trapbox: guest killed by {}{}",
                crate::names::signal_name(signal),
                if core { " (core dumped)" } else { "" }
            );
            Ok((128 + signal) as u8)
        }
        _ => anyhow::bail!("lost track of the guest (no exit status)"),
    }
}
