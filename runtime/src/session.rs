//! One run of a guest: what [`crate::Command`] asks, prepared ([`prepare`]: no process-wide
//! change, so an embedding program can do it before its monitor forks) and then hosted
//! ([`host`]: the calling process becomes the guest's debugger until the run ends).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::command::{Command, Personality, Report, Stats, Trace};
use crate::decide::policy::Policy;
use crate::launch::launcher::Confinement;
use crate::sys::{Pid, WaitStatus};
use crate::trap::debugger::{Debugger, Settings};

/// Serves the embedder's hostcalls ([`crate::Command::hostcall`]) for the debugger.
pub trait EmbedderHostcalls: Send + Sync + std::fmt::Debug {
    /// Whether `number` has a handler.
    fn handles(&self, number: u64) -> bool;
    /// The result for the guest (`-errno` on failure) of hostcall `number` made by thread
    /// `tid` of process `tgid`.
    fn serve(&self, tid: Pid, tgid: Pid, number: u64, args: [u64; 6]) -> u64;
}

/// The handlers, called in this process, reading the guest's memory directly.
pub(crate) struct DirectHostcalls(pub crate::command::Handlers);

impl std::fmt::Debug for DirectHostcalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DirectHostcalls").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

/// The memory of one guest thread, read and written by the host (its tracer).
pub(crate) struct ThreadMemory(pub Pid);

impl crate::command::GuestMemory for ThreadMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), crate::command::Errno> {
        match crate::sys::read_memory(self.0, addr, buf) {
            Ok(n) if n == buf.len() => Ok(()),
            _ => Err(crate::command::Errno::EFAULT),
        }
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), crate::command::Errno> {
        match crate::sys::write_memory(self.0, addr, bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            _ => Err(crate::command::Errno::EFAULT),
        }
    }
}

impl EmbedderHostcalls for DirectHostcalls {
    fn handles(&self, number: u64) -> bool {
        self.0.contains_key(&number)
    }

    fn serve(&self, tid: Pid, tgid: Pid, number: u64, args: [u64; 6]) -> u64 {
        let (raw, panicked) = crate::command::dispatch(&self.0, number, args, tgid as u32, &mut ThreadMemory(tid));
        if panicked {
            crate::command::log_panicked(number);
        }
        raw
    }
}

/// What a run needs that is read from the invoking process (its environment, working
/// directory, open fds) and the files the policy names: computed before anything changes.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The program's file.
    program: PathBuf,
    /// The effective policy (its grants apply only when confined).
    all: Policy,
    /// The guest's environment.
    env: Vec<(OsString, OsString)>,
    /// Inherited fds above 2 the guest keeps, ascending.
    pub keep_fds: Vec<libc::c_int>,
}

/// A container's process as [`crate::oci`] describes it: everything in the container's own
/// terms (paths as it sees them), so nothing of it is looked up on the host.
#[derive(Debug)]
pub(crate) struct ContainerSetup {
    /// The whole policy (with its [`crate::decide::container::ContainerRoot`]).
    pub policy: Policy,
    /// The program, as a path in the container.
    pub program: PathBuf,
    /// Its arguments, from argv\[0\] (`process.args`).
    pub args: Vec<String>,
    /// New namespaces (`create`); `None` with `enter`.
    pub namespaces: Option<crate::launch::launcher::Namespaces>,
    /// A running container's namespaces (`exec`), taken by the one run that uses them.
    pub enter: std::sync::Mutex<Option<crate::launch::launcher::Enter>>,
    /// What the process waits on before exec, until `start`.
    pub start_gate: Option<std::os::fd::OwnedFd>,
    /// Whom it runs as.
    pub user: Option<crate::launch::launcher::GuestUser>,
    /// Its `process.rlimits`: (resource, soft, hard).
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    /// Capabilities to drop from its bounding set besides those the invoker lacks (bit N is
    /// capability N): those `process.capabilities` does not give it.
    pub drop_capabilities: u64,
    /// Its stdin is a terminal to make its controlling one (`process.terminal`).
    pub terminal: bool,
}

/// Reads what `command` needs of this process and of the policy's files.
pub(crate) fn prepare(command: &Command) -> anyhow::Result<Prepared> {
    if let Some(container) = &command.container {
        let all = container.policy.clone();
        let env = all.env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect();
        return Ok(Prepared { program: container.program.clone(), all, env, keep_fds: Vec::new() });
    }
    // Before trapbox opens anything itself: a number it took would look inherited.
    let keep_fds = kept_fds(&command.keep_fds)?;
    let program = crate::launch::launcher::resolve_program(&command.program)?;
    let all = command.build_policy(&program)?;
    let mut env: Vec<(OsString, OsString)> = if all.clear_env { Vec::new() } else { std::env::vars_os().collect() };
    env.retain(|(k, _)| !all.env.contains_key(&*k.to_string_lossy()));
    env.extend(all.env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
    Ok(Prepared { program, all, env, keep_fds })
}

/// The inherited fds above 2 to keep, ascending, each checked to be open.
fn kept_fds(asked: &[u32]) -> anyhow::Result<Vec<libc::c_int>> {
    let mut fds = Vec::new();
    for &fd in asked {
        let Ok(fd) = libc::c_int::try_from(fd) else {
            anyhow::bail!("--keep-fd {fd}: no file descriptor has that number");
        };
        if !crate::sys::fd_is_open(fd) {
            anyhow::bail!("--keep-fd {fd}: file descriptor {fd} is not open, so there is nothing to keep");
        }
        if fd > 2 {
            fds.push(fd); // 0, 1 and 2 are always kept
        }
    }
    fds.sort_unstable();
    fds.dedup();
    Ok(fds)
}

/// What the launcher must do for `policy` (and, for a container's process, `container`).
#[allow(clippy::too_many_arguments)]
fn confinement(
    prepared: &Prepared,
    container: Option<&ContainerSetup>,
    ruleset: Option<&crate::launch::landlock::PreparedRuleset>,
    confined: bool,
    namespaces: Option<crate::launch::launcher::Namespaces>,
    mounts: Option<crate::launch::mounts::MountPlan>,
    stdio: [libc::c_int; 3],
    notified: &[u32],
    natively: &[(u32, crate::decode::syscalls::NativeWhen)],
) -> anyhow::Result<Confinement> {
    let policy = &prepared.all;
    let mut rlimits = Vec::new();
    if let Some(bytes) = policy.limits.address_space {
        rlimits.push((libc::RLIMIT_AS, bytes, bytes));
    }
    if let Some(n) = policy.limits.open_files {
        rlimits.push((libc::RLIMIT_NOFILE, n, n));
    }
    if let Some(cpu) = policy.limits.cpu_time {
        rlimits.push((libc::RLIMIT_CPU, cpu.as_secs().max(1), cpu.as_secs().max(1)));
    }
    if let Some(container) = container {
        rlimits.extend(container.rlimits.iter().copied());
    }
    let cwd = match &policy.cwd {
        Some(dir) => Some(std::ffi::CString::new(dir.as_os_str().as_bytes()).context("--cwd holds a NUL byte")?),
        None => None,
    };
    Ok(Confinement {
        landlock_fd: ruleset.map(|r| r.raw_fd()),
        rlimits,
        cwd,
        env: prepared.env.clone(),
        directfs_filter: confined.then(|| crate::perform::directfs::filter(notified, natively)),
        namespaces,
        mounts,
        keep_fds: prepared.keep_fds.clone(),
        wait_all: policy.wait_all,
        drop_capabilities: Confinement::capabilities_the_invoker_lacks() | container.map_or(0, |c| c.drop_capabilities),
        stdio,
        start_gate: container.and_then(|c| c.start_gate.as_ref()).map(std::os::fd::AsRawFd::as_raw_fd),
        user: container.and_then(|c| c.user.clone()),
        enter: container.and_then(|c| c.enter.lock().unwrap_or_else(|e| e.into_inner()).take()),
        controlling_terminal: container.is_some_and(|c| c.terminal),
    })
}

/// `--stats=json`: the same figures as the table. Field names are a stable interface.
#[derive(Debug, serde::Serialize)]
struct StatsJson<'a> {
    /// `--trap`: as-rewritten, ud2, int3 or backstop.
    mechanism: &'static str,
    /// The counters of the table's first lines.
    counters: &'a crate::trap::debugger::Stats,
    /// Per call and route, most time first.
    calls: Vec<crate::report::stats::Row>,
    /// Their sum.
    total: crate::report::stats::Tally,
}

/// Prints (or writes) the statistics of a finished run.
fn report_stats(output: &Stats, mechanism: crate::trap::debugger::Mechanism, s: &crate::trap::debugger::Stats) -> anyhow::Result<()> {
    let json = || StatsJson { mechanism: mechanism.name(), counters: s, calls: s.calls.rows(), total: s.calls.total() };
    match output {
        Stats::Json => crate::host_log!("{}", serde_json::to_string(&json())?),
        Stats::JsonFile(path) => {
            let text = serde_json::to_string_pretty(&json())?;
            std::fs::write(path, text + "\n").with_context(|| format!("--stats={}", path.display()))?;
        }
        Stats::Table => {
            crate::host_log!(
                "trapbox: stats: traps: {} answered by the host, {} run in the guest ({} fast, {} slow), {} refused; \
                 seccomp stops: {}; signals forwarded: {}; stub pages mapped: {}; injections: {} ({} cut short by the thread's death); sites untrapped: {}; maps rescans: {}",
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
                s.sites_untrapped,
                s.maps_scans
            );
            crate::host_log!(
                "trapbox: stats: mechanism: {}; trap stops: {} ud2, {} int3; seccomp stops: {}; sites re-encoded: {}",
                mechanism.name(),
                s.trap_ud2,
                s.trap_int3,
                s.backstop,
                s.sites_reencoded
            );
            for line in s.calls.table() {
                crate::host_log!("trapbox: stats: {line}");
            }
        }
    }
    Ok(())
}

/// Hosts the run `command` describes in this process, until it ends: the guest's exit
/// status, or why there is none. `stdio` gives the guest other standard streams than this
/// process's (`-1` keeps one); `started` hears the guest's pid once it is traced.
pub(crate) fn host_prepared(
    command: &Command,
    prepared: Prepared,
    hostcalls: Option<Arc<dyn EmbedderHostcalls>>,
    stdio: [libc::c_int; 3],
    started: &mut dyn FnMut(Pid),
) -> anyhow::Result<Report> {
    if let Some(abi) = crate::sys::outer_trapbox_abi() {
        // The outer host refuses ptrace to every guest (a guest tracing another would run it
        // out of the host's sight), so no inner trapbox could attach to its guest.
        anyhow::bail!(
            "cannot run under trapbox: ptrace is refused inside a sandbox (this process is a trapbox guest; its host \
             answered the version hostcall with ABI {abi})"
        );
    }
    // Before anything of the guest's exists, so no guest and no other process of this user
    // ever finds the host traceable or its memory readable.
    crate::sys::make_undumpable().context("cannot make the host non-dumpable (prctl)")?;
    if let Some(path) = &command.log_file {
        crate::report::log::to_file(path, command.container.is_some()).with_context(|| format!("--log {}", path.display()))?;
    }
    crate::report::log::set_verbose(!command.quiet);
    let resolved = &prepared.program;
    let trace_file = command.trace.as_ref().map(|t| match t {
        Trace::Stderr => None,
        Trace::File(path) => Some(path.as_path()),
    });
    let trace = match trace_file {
        None => None,
        Some(file) => Some(crate::report::trace::TraceSink::open(file, command.trace_format)?),
    };
    if command.personality == Personality::Native && command.mechanism == crate::trap::debugger::Mechanism::Backstop {
        anyhow::bail!("--trap backstop needs the linux personality: a native guest's hostcalls are its only calls, and they stay traps");
    }
    if command.keep_traps && command.mechanism == crate::trap::debugger::Mechanism::Backstop {
        anyhow::bail!("--keep-traps and --trap backstop contradict each other: one keeps every trap, the other removes them");
    }
    // The directfs thread's figures, merged with the debugger's at the end.
    let directfs_stats = Arc::new(std::sync::Mutex::new(crate::report::stats::CallStats::default()));
    let all = &prepared.all;
    let policy = (!command.unconfined).then(|| all.clone());
    let ruleset = match &policy {
        Some(policy) => {
            let ruleset = crate::launch::landlock::prepare(policy)?;
            if ruleset.is_none() {
                crate::host_log!("trapbox: warning: this kernel has no Landlock; the policy is enforced by the host's checks alone");
            }
            ruleset
        }
        None => None,
    };
    // A private network namespace unless the policy reaches the host's network (loopback
    // servers of the host, or everything): the guest's own `lo` and unix sockets only.
    let private_network = policy.as_ref().is_some_and(|p| p.net == crate::decide::policy::NetMode::None);
    let container = command.container.as_deref();
    let namespaces = match container {
        Some(container) => container.namespaces.clone(),
        None => command.namespaces.then(|| crate::launch::launcher::Namespaces::for_invoker(private_network)),
    };
    // (An exec'd process of a container joins the PID namespace of the container's init.)
    let pid_namespace = namespaces.is_some() || container.is_some();
    // The base's mounts (only under a policy, in the guest's own mount namespace), with the
    // Landlock rules that can be made only there.
    let rights = ruleset.as_ref().map(|r| move |access: u64, dir: bool, terminals: bool| r.rule_rights(access, dir, terminals));
    let mounts = match (&policy, namespaces.is_some()) {
        (Some(policy), true) => crate::launch::mounts::MountPlan::new(policy, rights.as_ref().map(|r| r as &dyn Fn(u64, bool, bool) -> u64))?,
        // A process joining a running container adds the Landlock rules of its root alone.
        (Some(policy), false) if container.is_some() => {
            crate::launch::mounts::MountPlan::new(policy, rights.as_ref().map(|r| r as &dyn Fn(u64, bool, bool) -> u64))?.map(crate::launch::mounts::MountPlan::rules_only)
        }
        _ => None,
    };
    let native_personality = command.personality == Personality::Native;
    // The fds the guest starts with: its standard streams (the host's own, or those given)
    // and the kept ones.
    let inherited: Vec<libc::c_int> = (0..3).map(|fd| if stdio[fd as usize] >= 0 { stdio[fd as usize] } else { fd }).chain(prepared.keep_fds.iter().copied()).collect();
    let grants_only_root = (container.is_some() || mounts.as_ref().is_some_and(crate::launch::mounts::MountPlan::grants_only_root))
        && crate::launch::mounts::metadata_may_run_natively(&inherited);
    let observing = command.trace.is_some() || command.stats.is_some();
    let mut routes = crate::perform::unotify::routes(command.backend, command.pin == Some(true), policy.is_some(), native_personality, observing);
    let root_natives = grants_only_root.then(|| crate::decode::syscalls::RootNatives {
        listings: policy.as_ref().is_some_and(crate::decide::base::listings_never_refused),
    });
    let mut natively = Vec::new();
    if let (Some(natives), false) = (root_natives, native_personality) {
        // The metadata calls the grants-only root lets run natively: a notification would
        // outrank the backstop's ALLOW (the kernel takes the stricter of two filters), so the
        // calls it always runs are not notified, and those it runs for some arguments are let
        // through for those.
        let in_root = || crate::decode::syscalls::native_in_grants_only_root(natives);
        routes.notified.retain(|&nr| !in_root().any(|(native, when)| native == nr && when.is_none()));
        natively.extend(in_root().filter_map(|(nr, when)| Some((nr, when?))));
    }
    let confinement = confinement(&prepared, container, ruleset.as_ref(), policy.is_some(), namespaces, mounts, stdio, &routes.notified, &natively)?;
    let mut also_decided: Vec<u64> = Vec::new();
    if policy.is_some() {
        also_decided.extend(crate::decode::syscalls::policy_decided_native_calls());
    }
    if all.limits.processes.is_some() {
        // A raw fork, vfork or plain clone would otherwise run natively, uncounted.
        also_decided.extend([trapbox_abi::linux::nr::FORK, trapbox_abi::linux::nr::VFORK, trapbox_abi::linux::nr::CLONE]);
    }
    let pinned_region = policy.is_some().then_some(crate::trap::pinned::PIN_BASE);
    let filter = crate::launch::seccomp::build_filter(native_personality, &also_decided, pinned_region, root_natives);
    if policy.is_some() {
        // The backstop sends these only when their range may reach the pinned region.
        also_decided.extend(crate::trap::pinned::GUARDED_CALLS);
    }
    // The guest decides what Ctrl-C and Ctrl-\ do (the terminal sends them to it directly);
    // the host must outlive them to report, and relays what a process sends it.
    crate::sys::relay_signals();
    if routes.pin {
        if let Err(err) = crate::sys::pin_to_current_cpu() {
            crate::host_log!("trapbox: warning: cannot pin to one CPU ({err}); stops will be slower");
        }
    }
    let crate::launch::launcher::Spawned { pid, listener, agent } =
        crate::launch::launcher::spawn(resolved, &command.argv, &filter, &confinement)?;
    if let Some(agent) = agent {
        crate::perform::agent::install(agent);
        crate::perform::creds::record_guest_user_namespace(pid);
    }
    crate::sys::relay_signals_to(pid);
    if let Some(policy) = &policy {
        // From here on the host reaches the guest's files as the guest sees them, and opens
        // the directory of every grant there now, before the guest runs any code of its own
        // (it is on its way to its first stop, the exec): it cannot race the host to swap one
        // for a symlink.
        if pid_namespace {
            crate::launch::view::attach(pid, !policy.mounts.is_empty())?;
        }
        crate::perform::broker::open_grant_roots(policy);
    }
    if let (Some(listener), Some(policy)) = (listener, policy.as_ref()) {
        let directfs_trace = match trace_file {
            None => None,
            Some(file) => Some(crate::report::trace::TraceSink::another(file, command.trace_format)?),
        };
        let stats = command.stats.is_some().then(|| directfs_stats.clone());
        crate::perform::directfs::start(listener, Arc::new(policy.clone()), directfs_trace, stats, routes.receivers);
    }
    drop(ruleset);
    if let Some(limit) = all.limits.wall_time {
        crate::trap::debugger::start_wall_time_watchdog(pid, limit);
    }
    started(pid);
    let settings = Settings {
        trace,
        stats: command.stats.is_some(),
        mechanism: command.mechanism,
        inject_probe: command.inject_probe,
        untrap_known: !command.keep_traps && !native_personality,
        policy,
        native_personality,
        task_limit: all.limits.processes,
        also_decided,
        pid_namespace,
        wait_all: all.wait_all,
        hostcalls,
    };
    // Polling for the next stop needs a CPU of its own: not pinned, and more than one.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::trap::events::spin_before_sleeping(if routes.pin || cpus < 2 { std::time::Duration::ZERO } else { command.spin_wait });
    let outcome = Debugger::new(pid, settings).run();
    // After the guest's last word and before trapbox's own (an error, or the guest's death).
    crate::report::log::summary();
    let outcome = outcome?;
    if let Some(output) = &command.stats {
        let mut stats = outcome.stats.clone();
        stats.calls.merge(&directfs_stats.lock().unwrap_or_else(|e| e.into_inner()));
        report_stats(output, command.mechanism, &stats)?;
    }
    if let Some(errno) = outcome.exec_error {
        anyhow::bail!("cannot execute {}: {}", resolved.display(), std::io::Error::from_raw_os_error(errno));
    }
    let raw = match outcome.status {
        Some(WaitStatus::Exited(code)) if !outcome.started => anyhow::bail!(
            "the guest could not be set up before exec (exit {code}): no-new-privileges, closing fds or \
             installing the seccomp filter failed"
        ),
        Some(WaitStatus::Exited(code)) => (code & 0xff) << 8,
        Some(WaitStatus::Signaled { signal, core }) => signal | if core { 0x80 } else { 0 },
        _ => anyhow::bail!("lost track of the guest (no exit status)"),
    };
    Ok(Report {
        status: std::os::unix::process::ExitStatusExt::from_raw(raw),
        denials: crate::report::log::denial_count(),
    })
}

/// Prepares and hosts `command` in this process ([`crate::Command::run_as_host`]).
pub(crate) fn host(command: &Command, started: &mut dyn FnMut(Pid)) -> anyhow::Result<Report> {
    let prepared = prepare(command)?;
    let hostcalls: Option<Arc<dyn EmbedderHostcalls>> =
        (!command.handlers.is_empty()).then(|| Arc::new(DirectHostcalls(command.handlers.clone())) as Arc<dyn EmbedderHostcalls>);
    host_prepared(command, prepared, hostcalls, [-1; 3], started)
}
