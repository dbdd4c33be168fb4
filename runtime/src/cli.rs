//! `trapbox run`: its flags, turned into a [`crate::Command`], which the CLI runs with this
//! process as the guest's host ([`crate::Command::run_as_host`]): one implementation for the
//! CLI and the library.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::command::{Command, Personality, Policy, Stats, Trace};

/// The exit status trapbox itself uses when it fails (not the guest).
pub const HOST_ERROR_EXIT: u8 = 125;

/// Shown after `trapbox run --help`.
pub const RUN_EXAMPLES: &str = "\
How it works:
  trapbox forks the program, attaches to it as its debugger (ptrace), sets no-new-privileges,
  closes every inherited file descriptor but 0, 1 and 2 (and those named by --keep-fd),
  installs a seccomp filter (the backstop) and execs it. From then on every system call is decided by this host process:

  - in a rewritten binary (`trapbox rewrite`), each `syscall` instruction is a trap (`ud2` or
    `int3`); the host catches it, looks the address up in the binary's trap table and answers
    the call itself, runs it in the guest through a host-owned stub page, or refuses it;
  - calls from code that was not rewritten (other binaries, JIT code, the vDSO fallback) meet
    the seccomp filter: calls that only touch what the guest already holds (read/write on an
    fd, futex, clocks, anonymous memory, ...) run natively, everything else stops in the host;
  - 32-bit calls (`int 0x80`, `sysenter`) and x32 calls are never honoured: refused at a trap
    site, and stopped by the backstop before they run: each gets ENOSYS and a log line.

  The exit status is the program's, reported as soon as the program exits: processes it left
  behind are killed then (the container convention: trapbox's init is PID 1 of the guest's
  PID namespace), unless --wait-all. When the program is killed by a signal, trapbox names the
  signal in one line and dies by the same signal (no core file), so a shell or supervisor sees
  what it would natively. Signals a process sends to trapbox (SIGTERM, SIGHUP, SIGINT, SIGUSR1…) are
  relayed to the program. trapbox's own failures exit with 125.

Examples:
  trapbox rewrite /bin/busybox -o busybox.trapped
  trapbox run -- ./busybox.trapped sh -c 'seq 1 100000 | sort -rn | head -3; exit 7'
  trapbox run --allow-read / -- /bin/busybox ls -la /      # never rewritten: mediated by the backstop
  trapbox run --allow-read /etc/hostname --trace -- ./busybox.trapped cat /etc/hostname
  trapbox run --unconfined --trace=calls.txt --stats -- ./my-program arg1
  trapbox run --allow-read /usr/share --allow-write ./out -- ./busybox.trapped cp /usr/share/common-licenses/GPL-3 out/
  trapbox run --policy examples/policies/readonly-usr.toml --print-policy -- /usr/bin/sort
  trapbox run --quiet --allow-read /usr -- /usr/bin/ls /etc   # denials counted in one line
  trapbox run --wait-all -- ./busybox.trapped sh -c 'sleep 1 & exit 4'   # 4, after the sleep
  trapbox run --keep-fd 3 --keep-fd 4 --allow-exec /usr/bin -- make   # an outer make's jobserver

Policy (default deny):
  The guest may touch only what is granted (--allow-read/--allow-write/--allow-exec, --net,
  --policy FILE) plus what its program needs to start and the base environment, all shown by
  --print-policy with the reason for each. The base: a /tmp of its own (an empty tmpfs,
  --tmp-size), a /dev of its own (null, zero, full, random, urandom, tty, its own pts/ and
  ptmx, shm/), a /proc of its own PID namespace (readable; ps shows the guest only), locale
  data, time zones, the /etc files of name resolution and TLS, and the working directory,
  readable. --bare starts without it. With --no-namespaces there are no mounts of its own:
  the base is the host's common devices, those files and each process's own /proc/self files.
  Otherwise the guest's / holds only the grants (read-only where no write grant covers them,
  nosuid, nodev) and the base, so the kernel answers its metadata calls (stat, readlink,
  statfs, chdir, access for reading) natively: ENOENT outside the grants, with no log line.
  --audit (or audit = true) keeps the host's root and sends every path call to the host.
  Opens and most path calls are performed by the host on its own copy of the arguments; the
  calls the kernel must run in the guest (exec, chdir, connect…) read the host's copy from a
  read-only region it pins at 0x550000000000. A denial is refused with EACCES (ENOENT for metadata) and
  logged with the call and the reason, one line each: on stderr as it happens, or in
  --log FILE (then the guest's stderr is its own); with --quiet one line at exit counts
  them (\"trapbox: 6 calls were denied by the policy; ...\"). Underneath, a Landlock ruleset mirrors
  the grants. See the README for which layer enforces what.
  --unconfined turns the policy off: every call is still mediated and may be traced.

CPU:
  Under a policy on Linux 6.6+ (the unotify backend, the default) opens, the stat family,
  readlink, access and a few calls with nothing to re-read are served by a pool of host
  threads woken on the guest thread's own CPU; the calls that still stop in the debugger
  (exec, clone, chdir, signals, sockets) cost several times more across CPUs. On both
  backends the guest runs on every CPU by default; --pin pins the host and the guest to one
  CPU, where those stops are cheapest (a single-threaded job that execs a lot gains).
  --backend ptrace is the all-ptrace route. Without a policy (--unconfined), or where the
  kernel lacks SYNC_WAKE_UP, the run is ptrace.

Trace lines look like strace's, plus how the call was handled:
  [pid 42] openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY) = 3 <trap>
  [pid 42] getpid() = 42 <trap host>
  <trap> ran in the guest after a trap   <backstop> stopped by the seccomp filter
  <directfs> an open the host performed  <unotify> served by the notification pool
  host: answered by the host   refused: never executed

Research:
  trapbox run --unconfined --trace=calls.jsonl --trace-format json -- ./prog   # one JSON object per call
  trapbox run --unconfined --stats -- ./prog          # strace -c-style table: calls, errors, µs, route
  trapbox run --unconfined --stats=stats.json -- ./prog
  trapbox run --unconfined --trap int3 --keep-traps --stats -- ./busybox.trapped true   # int3 over ud2 sites
  trapbox run --unconfined --trap backstop --stats -- ./busybox.trapped true   # every call through the backstop
  trapbox bench                                       # the mechanisms side by side on this machine";

/// Arguments of `trapbox run`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Print one strace-style line per mediated call, to stderr or to FILE.
    ///
    /// Each line shows the call's name, its decoded arguments, the result and the path it took
    /// (`<trap>`, `<backstop>`, `<directfs>`, `host`, `refused`). Tracing sends trapped calls
    /// through the stub's slow path so their results can be seen.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
    pub trace: Option<PathBuf>,
    /// How --trace writes each call: `text` (strace-shaped) or `json` (one object per line).
    ///
    /// A JSON line has `time_ns` (CLOCK_REALTIME when the host saw the stop), `pid`, `tid`,
    /// `call`, `nr`, `args` (each decoded as the text line shows it), `result` (the value, or
    /// -errno; null when the thread died first), `error` (the errno's name), `route` (`trap`,
    /// `backstop` or `directfs`: how the call reached the host), `handling` (`executed`,
    /// `host` or `refused`) and `latency_ns` (from the stop or notification to the answer,
    /// the host's own trace formatting left out).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text", requires = "trace")]
    pub trace_format: crate::report::trace::TraceFormat,
    /// Write the host's own messages (every denial, notes, warnings, --stats) to FILE instead
    /// of stderr.
    ///
    /// Each denial is one line: `trapbox: denied CALL: REASON`. With `--log`, the guest's
    /// stderr carries only what the guest itself writes, as it would natively.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Count denials instead of printing each: one line at exit says how many.
    ///
    /// By default every denial (and the host's notes) is printed on stderr as it happens, one
    /// line each, so every refusal leaves its line; `--log FILE` writes them to FILE instead
    /// and leaves the guest's stderr its own. With `--quiet` (and no `--log`) they are counted
    /// and one line at exit says how many (`trapbox: 6 calls were denied by the policy; ...`),
    /// for programs that probe for many optional files. Warnings and errors are always
    /// printed. The summary line never changes the exit status.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print statistics at exit: `--stats` a table, `--stats=json` JSON, `--stats=FILE` JSON into FILE.
    ///
    /// The counters (traps answered by the host, run in the guest and refused; seccomp stops;
    /// injections), the trap mechanism with the trap stops of each kind, then an `strace
    /// -c`-shaped table: per call and route, the calls, the errors, and the total and mean
    /// time from the stop to the answer, in µs. The figures are those of the calls a trace
    /// shows (so, like --trace, trapped calls take the stub's slow path to be seen). The table
    /// goes where the host's messages go (stderr or --log); JSON has the same figures (a
    /// FILE named `json` is `--stats=./json`).
    #[arg(long, value_name = "json|FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub stats: Option<String>,
    /// The trap mechanism: what the host leaves at the trap sites of rewritten code.
    ///
    /// `as-rewritten` (the default) keeps each file's own trap (`trapbox rewrite --trap`);
    /// `ud2` or `int3` writes that trap over every site when the code is loaded, so one
    /// rewritten binary compares both; `backstop` gives every site its `syscall` back, so every
    /// call meets the seccomp backstop as in an unrewritten binary (hostcall sites stay traps).
    /// --stats shows the mechanism and the trap stops of each kind.
    #[arg(long = "trap", value_enum, value_name = "MECHANISM", default_value = "as-rewritten")]
    pub mechanism: crate::trap::debugger::Mechanism,
    /// Let the guest and the host run on any CPU (the default; the opposite of --pin).
    #[arg(long, conflicts_with = "pin")]
    pub no_pin: bool,
    /// Pin the guest and the host to the CPU the host starts on.
    ///
    /// A ptrace stop across CPUs costs several times more (measured here: ~120 µs instead of
    /// ~15-25 µs per trapped call), so a single-threaded guest that stops in the debugger a
    /// lot (exec, clone, signals; every call on --backend ptrace) runs faster pinned; a
    /// parallel guest gets one CPU. The unotify backend's pool is woken on the guest's own
    /// CPU either way.
    #[arg(long)]
    pub pin: bool,
    /// How long, in microseconds, the debugger polls for the guest's next stop before it
    /// sleeps (0: it sleeps at once).
    ///
    /// An unpinned ptrace stop is dearest where the debugger sleeps: the stop must wake it on
    /// another CPU, which in a VM is an interrupt to a halted virtual CPU (measured here: a
    /// trapped call 110–140 µs sleeping, ~50 µs polling, ~25 µs pinned). The debugger polls
    /// only while stops come within this time, so a guest that runs long between stops costs
    /// one miss, and never when pinned (--pin) or on one CPU, where polling would hold the
    /// guest's CPU.
    #[arg(long, value_name = "MICROSECONDS", default_value_t = crate::command::DEFAULT_SPIN_WAIT.as_micros() as u64)]
    pub spin_wait: u64,
    /// What stops the guest's calls: `unotify` (the default under a policy on Linux 6.6+) or
    /// `ptrace`.
    ///
    /// `unotify` serves the calls the host answers without touching the guest's registers
    /// (opens, the stat family, readlink, access…) through seccomp user notification, on a
    /// pool of host threads woken on the guest's CPU; the rest stay ptrace stops. `ptrace` is the all-ptrace route. Where unotify cannot serve
    /// (no policy, the native personality, a kernel without SYNC_WAKE_UP) the run is ptrace.
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub backend: Option<crate::perform::unotify::Backend>,
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
    /// Run the guest in the host's namespaces, with the host's checks as its only boundary.
    ///
    /// By default every guest gets its own user, mount, PID, IPC, UTS and cgroup namespaces
    /// (and network namespace under `--net none`), so no capability it holds reaches an object
    /// of the host's: root inside is root over files (as its uid is), but interface, mount,
    /// filesystem-freeze or terminal hang-up requests fail in the kernel even where a host rule
    /// were missing. Where the kernel or a container forbids user namespaces, trapbox refuses to
    /// run unless given this flag: the sandbox is then weaker (one layer instead of two).
    #[arg(long)]
    pub no_namespaces: bool,
    /// Keep inherited file descriptor N open in the guest (repeatable).
    ///
    /// Every inherited fd but 0, 1 and 2 is closed before the program starts; this one stays,
    /// with the same number, for fds the caller hands over on purpose: an outer make's
    /// jobserver (`MAKEFLAGS` names it: `--jobserver-auth=R,W`), a pipe the program reads.
    /// N must be open in trapbox: an fd that is not is an error that names it. What the fd
    /// reaches is the caller's grant; reads and writes on it run natively.
    #[arg(long = "keep-fd", value_name = "N")]
    pub keep_fds: Vec<u32>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Which calls the guest may make: `linux` (the Linux system calls, mediated) or `native`
    /// (hostcalls only, for guests written against the SDK: every Linux call is refused).
    #[arg(long, value_enum, default_value = "linux")]
    pub personality: Personality,
    /// Test hook: before serving each trap, run a getpid in the guest through the injector.
    #[arg(long, hide = true)]
    pub inject_probe: bool,
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub command: Vec<OsString>,
}

/// The policy flags of `trapbox run`. A policy is always in force (default deny: the guest may
/// touch only what is granted, see `--print-policy`) unless `--unconfined` is given.
#[derive(Debug, Default, clap::Args)]
pub struct PolicyArgs {
    /// Run without a policy: every call is still mediated by the host (and shown by --trace),
    /// but nothing is confined. The trap-debugger mode, for tracing and measuring programs.
    #[arg(
        long,
        help_heading = "Policy",
        conflicts_with_all = ["allow_read", "allow_write", "allow_exec", "policy", "net", "print_policy", "bare", "tmp_size", "audit"]
    )]
    pub unconfined: bool,
    /// Start without the base environment: no /tmp, /dev or /proc of the guest's own, no locale
    /// data, /etc files or working directory; only the grants given and what the program
    /// needs to start (its file, loader and libraries). See --print-policy for the base.
    #[arg(long, help_heading = "Policy")]
    pub bare: bool,
    /// The size of the guest's own /tmp and /dev/shm (each; default 1G), e.g. 256M or 4G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, help_heading = "Policy")]
    pub tmp_size: Option<u64>,
    /// Let the guest read files and list directories beneath PATH (repeatable).
    #[arg(long, value_name = "PATH", help_heading = "Policy")]
    pub allow_read: Vec<PathBuf>,
    /// Let the guest also create, write, remove and rename beneath PATH (implies read; repeatable).
    #[arg(long, value_name = "PATH", help_heading = "Policy")]
    pub allow_write: Vec<PathBuf>,
    /// Let the guest execute programs beneath PATH (implies read; repeatable).
    #[arg(long, value_name = "PATH", help_heading = "Policy")]
    pub allow_exec: Vec<PathBuf>,
    /// Load a policy file (TOML, the same keys as these flags; see README). Flags add to it.
    #[arg(long, value_name = "FILE", help_heading = "Policy")]
    pub policy: Option<PathBuf>,
    /// Network reach: `none` (unix sockets only), `loopback` (also IPv4/IPv6 to and from
    /// loopback addresses) or `all`. Each destination is decided on the host's pinned copy;
    /// a unix socket path needs a write grant in every mode; abstract unix names need `all`.
    #[arg(long, value_enum, value_name = "REACH", help_heading = "Policy")]
    pub net: Option<crate::decide::policy::NetMode>,
    /// Print the effective policy, with where each grant comes from, and exit.
    #[arg(long, help_heading = "Policy")]
    pub print_policy: bool,
    /// Set a variable in the guest's environment (repeatable).
    #[arg(long, value_name = "K=V", value_parser = parse_env, help_heading = "Policy")]
    pub env: Vec<(String, String)>,
    /// Start the guest with an empty environment (before --env).
    #[arg(long, help_heading = "Policy")]
    pub clear_env: bool,
    /// The guest's working directory.
    #[arg(long, value_name = "DIR", help_heading = "Policy")]
    pub cwd: Option<PathBuf>,
    /// End the run when the last guest process exits, not when the program does.
    ///
    /// By default trapbox exits with the program's status as soon as the program exits, and
    /// the guest processes it leaves behind (`sh -c 'sleep 3 & exit 4'`) are killed: the
    /// container convention (trapbox's init is PID 1 of the guest's PID namespace, and its
    /// exit ends the namespace). With this flag trapbox waits for them, and still exits with
    /// the program's status. Also `wait_all = true` in a policy file.
    #[arg(long, help_heading = "Policy")]
    pub wait_all: bool,
    /// Send every path call to the host and log every denial, as without a grants-only root.
    ///
    /// By default, under a policy with namespaces of its own (not --bare), the guest's root
    /// holds only what the policy grants (read-only where no write grant covers it), so the
    /// kernel answers stat, lstat, statx, readlink, statfs, getxattr, listxattr, chdir and
    /// access for existence or reading natively: ENOENT outside the grants, with no log line.
    /// Opens, exec and every change are still decided and logged by the host. --audit keeps
    /// the host's root and the host's answer (and line) for every one. Also `audit = true`.
    #[arg(long, help_heading = "Policy")]
    pub audit: bool,
    /// At most N guest processes and threads at once; more forks fail with EAGAIN.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub limit_processes: Option<u64>,
    /// Address space per process (RLIMIT_AS), e.g. 512M or 4G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, help_heading = "Limits")]
    pub limit_memory: Option<u64>,
    /// Open file descriptors per process (RLIMIT_NOFILE).
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub limit_open_files: Option<u64>,
    /// CPU time per process (RLIMIT_CPU), e.g. 30s or 5m.
    #[arg(long, value_name = "TIME", value_parser = parse_duration_arg, help_heading = "Limits")]
    pub limit_cpu: Option<std::time::Duration>,
    /// Wall-clock time for the whole run; the guest is killed when it runs out.
    #[arg(long, value_name = "TIME", value_parser = parse_duration_arg, help_heading = "Limits")]
    pub limit_wall: Option<std::time::Duration>,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not K=V")),
    }
}

fn parse_size_arg(text: &str) -> Result<u64, String> {
    crate::decide::policy::parse_size(text).map_err(|e| e.to_string())
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::decide::policy::parse_duration(text).map_err(|e| e.to_string())
}

impl PolicyArgs {
    /// The policy these flags describe (`--env`, `--cwd` and `--clear-env` go to the command).
    fn policy(&self) -> Policy {
        let mut policy = Policy::new();
        if let Some(file) = &self.policy {
            policy = policy.file(file);
        }
        for path in &self.allow_read {
            policy = policy.allow_read(path);
        }
        for path in &self.allow_write {
            policy = policy.allow_write(path);
        }
        for path in &self.allow_exec {
            policy = policy.allow_exec(path);
        }
        if let Some(net) = self.net {
            policy = policy.net(net);
        }
        if self.bare {
            policy = policy.bare();
        }
        if let Some(bytes) = self.tmp_size {
            policy = policy.tmp_size(bytes);
        }
        if let Some(n) = self.limit_processes {
            policy = policy.limit_processes(n);
        }
        if let Some(bytes) = self.limit_memory {
            policy = policy.limit_memory(bytes);
        }
        if let Some(n) = self.limit_open_files {
            policy = policy.limit_open_files(n);
        }
        if let Some(time) = self.limit_cpu {
            policy = policy.limit_cpu(time);
        }
        if let Some(time) = self.limit_wall {
            policy = policy.limit_wall(time);
        }
        policy.wait_all(self.wait_all).audit(self.audit)
    }
}

impl RunArgs {
    /// The command these flags describe.
    pub fn command(&self) -> anyhow::Result<Command> {
        let Some((program, args)) = self.command.split_first() else {
            anyhow::bail!("no program given");
        };
        let mut command = Command::new(program);
        command.args(args).policy(self.policy.policy());
        if self.policy.unconfined {
            command.unconfined();
        }
        for (key, value) in &self.policy.env {
            command.env(key, value);
        }
        if self.policy.clear_env {
            command.env_clear();
        }
        if let Some(dir) = &self.policy.cwd {
            command.current_dir(dir);
        }
        if let Some(path) = &self.trace {
            command.trace(if path.as_os_str() == "-" { Trace::Stderr } else { Trace::File(path.clone()) });
        }
        command.trace_format(self.trace_format);
        if let Some(stats) = &self.stats {
            command.stats(match stats.as_str() {
                "" => Stats::Table,
                "json" => Stats::Json,
                file => Stats::JsonFile(PathBuf::from(file)),
            });
        }
        if let Some(path) = &self.log {
            command.log_file(path);
        }
        command
            .quiet(self.quiet)
            .mechanism(self.mechanism)
            .pinning(if self.pin { Some(true) } else if self.no_pin { Some(false) } else { None })
            .spin_wait(std::time::Duration::from_micros(self.spin_wait))
            .keep_traps(self.keep_traps)
            .namespaces(!self.no_namespaces)
            .personality(self.personality)
            .backend(self.backend)
            .inject_probe(self.inject_probe);
        for &fd in &self.keep_fds {
            command.keep_fd(fd);
        }
        Ok(command)
    }
}

/// Runs the guest with this process as its host and returns its exit status.
pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let command = args.command()?;
    if args.policy.print_policy {
        print!("{}", command.effective_policy()?);
        return Ok(0);
    }
    let report = command.run_as_host()?;
    use std::os::unix::process::ExitStatusExt;
    match (report.status.code(), report.status.signal()) {
        (Some(code), _) => Ok(code as u8),
        (None, Some(signal)) => {
            crate::host_log!(
                "trapbox: guest killed by {}{}",
                crate::decode::names::signal_name(signal),
                if report.status.core_dumped() { " (core dumped)" } else { "" }
            );
            // The host's parent sees the guest's own wait status (a shell prints "Terminated",
            // `timeout` and supervisors see the signal); 128+N only if the host survives it.
            crate::sys::die_by(signal);
            Ok((128 + signal) as u8)
        }
        (None, None) => anyhow::bail!("lost track of the guest (no exit status)"),
    }
}
