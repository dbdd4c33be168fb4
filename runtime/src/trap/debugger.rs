//! The event loop: the host as the guest's debugger.
//!
//! One `waitpid(-1, __WALL)` loop serves every guest thread. Each stop is one of:
//!
//! - a **trap** (SIGILL for `ud2`, SIGTRAP for `int3`) at a site listed in the trap table of the
//!   module mapped there → the dispatcher decides; any other SIGILL/SIGTRAP is forwarded;
//! - a **seccomp stop** (the backstop sent a call the host must see) → the dispatcher decides;
//! - fork/vfork/clone/exec **events** → per-process and per-thread state follows;
//! - a **group-stop** (SEIZE semantics) → `PTRACE_LISTEN`, so SIGSTOP/SIGCONT work;
//! - a **signal-delivery stop** → the signal is forwarded unchanged;
//! - a **syscall-exit stop** (only when the host asked for one: `--trace`) → the trace line.
//!
//! Every ptrace call may fail with ESRCH (the thread died under us); that is never fatal.
//!
//! A trapped call that must execute in the guest goes through the stub page (see
//! [`crate::trap::inject`]): the fast path (`syscall; ret 128`, return address stored below the red
//! zone) costs no extra stop; `vfork`, `clone` (the child runs on another stack or shares
//! ours), `rt_sigreturn` (reads its frame at `rsp`), traced calls and a stack page that is
//! not mapped below `rsp` take the slow path (`syscall; int3`, one extra stop). A child
//! created from the slow path starts right after the stub's `syscall`: its first stop (the
//! auto-attach stop) moves it to the resume address. The stub is mapped lazily, at the first
//! trap of a process that needs it (so an unrewritten program never gets one); fork children
//! inherit it with the rest of the address space, and exec drops it with the module cache.

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use trapbox_abi::errno;
use trapbox_abi::hostcall;
use trapbox_abi::linux::nr;
use trapbox_abi::trap::{SiteKind, TrapEncoding, TRAP_LEN};

use crate::trap::events::{self, Event};
use crate::trap::inject::{self, InjectError};
use crate::trap::modules::{self, ImageCache, Module};
use crate::trap::pinned::{AfterExit, PinError, PinPage, PinSlot};
use crate::launch::seccomp::X32_SYSCALL_BIT;
use crate::decode::syscalls::{self, Disposition};
use crate::perform::workers::UnderWayCall;
use crate::sys::{self, Errno, Pid, Regs, WaitStatus};
use crate::report::trace::{self, CallEnd, Handling, Route, Stamp, TraceSink};

const CLONE_THREAD: u64 = 0x0001_0000;
const EAGAIN: i32 = 11;
/// The kernel's "restart if the handler has SA_RESTART, else EINTR" (never seen by a guest).
const ERESTARTSYS: i32 = 512;
/// Calls after which the guest's credentials may differ from the host's.
const CREDENTIAL_CALLS: [u64; 10] =
    [nr::SETUID, nr::SETGID, nr::SETREUID, nr::SETREGID, nr::SETRESUID, nr::SETRESGID, nr::SETFSUID, nr::SETFSGID, nr::SETGROUPS, nr::CAPSET];
/// Whether prctl call `args` changes what the thread's capabilities will be (the bounding
/// set, the securebits, keep-caps, the ambient set): after it, as after a setuid, the host
/// acts with the thread's own credentials ([`crate::perform::creds`]), exec included.
fn changes_capabilities(number: u64, args: &[u64; 6]) -> bool {
    const PR_SET_KEEPCAPS: u32 = 8;
    const PR_CAPBSET_DROP: u32 = 24;
    const PR_SET_SECUREBITS: u32 = 28;
    const PR_CAP_AMBIENT: u32 = 47;
    const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
    // (Entering another user namespace changes what the capabilities reach: see
    // crate::perform::creds.)
    (number == nr::PRCTL && [PR_SET_KEEPCAPS, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT].contains(&(args[0] as u32)))
        || (number == nr::UNSHARE && args[0] & CLONE_NEWUSER != 0)
        || number == nr::SETNS
}

/// Slow-path redirects a thread may have outstanding (nested signal handlers); older ones are
/// dropped (a handler that longjmp'ed out leaves them stale).
const MAX_REDIRECTS: usize = 64;

/// What the host decided about one call.
#[derive(Debug)]
enum Verdict {
    /// Let the kernel execute it in the guest.
    Execute,
    /// The host's answer (a value or `-errno`), nothing executed.
    Answer(u64),
    /// Refused with this errno, nothing executed.
    Refuse(i32),
    /// The host performs it, and it may wait: on a worker thread, while the guest thread
    /// stays stopped and the debugger serves the others ([`crate::trap::events`]).
    Perform(Box<crate::perform::sockets::WaitingCall>),
}

/// A call whose result the host wants to see (trace line, or the first exec's outcome).
#[derive(Debug)]
struct PendingCall {
    number: u64,
    text: Option<trace::Described>,
    route: Route,
    /// When the host saw it (only while tracing or counting).
    stamp: Option<Stamp>,
    /// Nanoseconds spent decoding it for the trace, left out of its latency.
    format_ns: u64,
}

/// A slow-path redirect: when the thread reaches the stub's `int3` with this `rsp`, it resumes
/// at `resume_at`.
#[derive(Debug)]
struct Redirect {
    rsp: u64,
    resume_at: u64,
    call: Option<PendingCall>,
}

#[derive(Debug)]
struct Thread {
    tgid: Pid,
    /// Still waiting for its first stop (an auto-attached child), with where to start it.
    unstarted: Option<Option<u64>>,
    /// And with which argument registers (a child of a pinned clone3: the guest's own).
    start_args: Option<[u64; 6]>,
    /// Whether the guest blocks `SIGILL` in this thread, as far as its own calls go (a trap's
    /// fault unblocks it: [`crate::trap::sigstate`]).
    ill_blocked: bool,
    redirects: Vec<Redirect>,
    /// A seccomp-path call awaiting its syscall-exit stop.
    pending: Option<PendingCall>,
    /// Signals that arrived during an injection, delivered at the next resume.
    held_signals: Vec<i32>,
    /// The pinned copy of the paths of the call it is running (see [`crate::trap::pinned`]).
    pinned: Option<PinSlot>,
    /// Just exec'ed under a policy: gets its pinned-argument region at the exec's exit.
    wants_pin_region: bool,
    /// Argument registers the host changed for a running call (not pinned), given back at
    /// its exit.
    restore_args: Option<[u64; 6]>,
    /// A memfd_create without `MFD_ALLOW_SEALING` it is running: sealed at its exit, as the
    /// kernel seals it natively ([`crate::perform::broker::seal_like_native`]).
    seals_its_memfd: bool,
    /// A `landlock_restrict_self` it is running, settled by the kernel's answer at its exit.
    restricting: Option<crate::perform::guest_landlock::Restriction>,
    /// The call of its seccomp stop that a host worker performs; it stays stopped until then.
    handed_over: Option<HandedOver>,
    /// Its registers at the seccomp stop of a handed-over call a signal interrupted: at the
    /// (skipped) call's exit they come back with `-ERESTARTSYS`, so the kernel restarts the
    /// call or answers `EINTR` as it would have natively ([`Debugger::on_answer`]).
    restart_after_signal: Option<Regs>,
    /// A `sendmmsg` under way, one message at a time: the call is run again for each.
    sendmmsg: Option<SendmmsgProgress>,
    /// A hostcall made with a plain `syscall` that needs the injector: skipped at its seccomp
    /// stop and served at the (skipped) call's exit, where the thread may run injected calls
    /// ([`Debugger::serve_hostcall_at_exit`]).
    hostcall_at_exit: Option<(u64, [u64; 6], PendingCall)>,
}

/// Where a `sendmmsg` run one message at a time has got to (see
/// [`crate::trap::pinned::sendmmsg_message`]): the thread executes the call again from the
/// same instruction with the same registers until every message went or one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SendmmsgProgress {
    /// The guest's registers: a call that is not this one again starts afresh.
    guest_args: [u64; 6],
    /// The `syscall` instruction it runs from.
    at: u64,
    /// Messages sent so far.
    sent: u32,
}

/// A call handed to a host worker thread ([`crate::trap::events`]).
#[derive(Debug)]
struct HandedOver {
    serial: u64,
    /// The thread's registers at its seccomp stop.
    regs: Regs,
    /// For the trace line at its answer.
    call: PendingCall,
    /// A signal came for the thread meanwhile: the worker's wait was interrupted.
    interrupted: bool,
}

impl Thread {
    fn new(tgid: Pid) -> Thread {
        Thread {
            tgid,
            unstarted: None,
            start_args: None,
            ill_blocked: false,
            redirects: Vec::new(),
            pending: None,
            held_signals: Vec::new(),
            pinned: None,
            wants_pin_region: false,
            restore_args: None,
            seals_its_memfd: false,
            restricting: None,
            handed_over: None,
            restart_after_signal: None,
            sendmmsg: None,
            hostcall_at_exit: None,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Process {
    modules: Vec<Module>,
    /// Its vDSO's range, from the last scan of its maps.
    vdso: Option<(u64, u64)>,
    stub: Option<u64>,
    /// Start addresses of the modules whose known sites were given back their `syscall`.
    untrapped: Vec<u64>,
    /// Files mapped by the `map_file` hostcall, which `unmap` may remove.
    mappings: Vec<crate::trap::hostcalls::FileMapping>,
    /// Its pinned-argument region (shared with the children that inherit the mapping).
    pin_region: Option<Rc<PinPage>>,
    /// Its signal actions as far as `SIGILL` goes ([`crate::trap::sigstate`]).
    signals: crate::trap::sigstate::ProcessSignals,
    /// Whether the host's signal-state filter is stacked on its backstop (inherited by
    /// children and kept across exec, as the kernel keeps filters): then the shadow is followed.
    signal_filter: SignalFilter,
}

/// The host's signal-state filter in a process ([`Debugger::follow_signal_state`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SignalFilter {
    /// Not asked for yet (no trap sites seen).
    #[default]
    Absent,
    /// Stacked: the shadow is followed.
    Stacked,
    /// The kernel refused it (a filter of the guest's own may refuse `seccomp`): not asked
    /// again, and the shadow is not followed.
    Refused,
}

/// The injector as hostcalls see it: calls run from the stub's slow-path `syscall`.
struct StubInjector<'a> {
    debugger: &'a mut Debugger,
    stub: u64,
}

impl crate::trap::hostcalls::Injector for StubInjector<'_> {
    fn run_in_guest(&mut self, tid: Pid, number: u64, args: [u64; 6]) -> Option<u64> {
        self.debugger.inject(tid, self.stub + inject::SLOW, number, args)
    }

    fn policy(&self) -> Option<&crate::decide::policy::Policy> {
        self.debugger.settings.policy.as_ref()
    }

    fn linux_call(&mut self, tid: Pid, number: u64, args: [u64; 6]) -> Option<u64> {
        match self.debugger.decide_linux(tid, number, &args) {
            Verdict::Execute => self.run_in_guest(tid, number, args),
            Verdict::Answer(raw) => Some(raw),
            Verdict::Refuse(e) => Some(errno::encode_error(e)),
            // (Only network calls wait on a worker, and no hostcall is one.)
            Verdict::Perform(_) => Some(errno::encode_error(errno::ENOSYS)),
        }
    }

    fn pin_path(&mut self, tid: Pid, path: &[u8]) -> Result<(PinSlot, u64), i32> {
        let tgid = self.debugger.tgid(tid);
        let region = self.debugger.processes.get(&tgid).and_then(|p| p.pin_region.clone()).ok_or(errno::ENOSYS)?;
        region.pin_host_path(path).map_err(|e| match e {
            PinError::Argument(errno) => errno,
            PinError::Busy => EAGAIN,
        })
    }
}

/// Set by the wall-time watchdog ([`start_wall_time_watchdog`]) when the limit has passed.
pub static WALL_TIME_UP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Kills the guest `leader` after `limit`, and makes the event loop kill every other guest
/// process as soon as it wakes (the leader's death wakes it).
pub fn start_wall_time_watchdog(leader: Pid, limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        crate::host_log!("trapbox: wall time limit of {:.1}s reached; killing the guest", limit.as_secs_f64());
        WALL_TIME_UP.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = sys::kill(leader, libc::SIGKILL);
    });
}

/// Counters for `--stats`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Traps answered by the host.
    pub trap_host: u64,
    /// Traps run in the guest through the stub's fast path.
    pub trap_fast: u64,
    /// Traps run in the guest through the stub's slow path.
    pub trap_slow: u64,
    /// Traps refused.
    pub trap_refused: u64,
    /// Seccomp stops.
    pub backstop: u64,
    /// Signals forwarded to the guest.
    pub signals_forwarded: u64,
    /// Stub pages mapped.
    pub stubs_mapped: u64,
    /// Times `/proc/PID/maps` was parsed after an exec, for a trap from an unknown mapping.
    pub maps_scans: u64,
    /// Calls injected into a guest thread (stub mappings included).
    pub injections: u64,
    /// Injections cut short because the thread died meanwhile.
    pub injections_lost: u64,
    /// Trap sites given back their original `syscall` (`--untrap-known`).
    pub sites_untrapped: u64,
    /// Trap sites whose trap the host re-encoded at load (`--trap ud2` or `int3`).
    pub sites_reencoded: u64,
    /// Trap stops served, by the trap that stopped: `ud2` (SIGILL).
    pub trap_ud2: u64,
    /// `int3` (SIGTRAP).
    pub trap_int3: u64,
    /// Per call and route, while tracing or counting (`--stats`): what the trace shows.
    #[serde(skip)]
    pub calls: crate::report::stats::CallStats,
}

/// The trap mechanism of a run (`trapbox run --trap`): what the host leaves at the sites of
/// rewritten code when it is loaded. Unrewritten code always meets the seccomp backstop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mechanism {
    /// Each file's own trap, as `trapbox rewrite` wrote it (`ud2` or `int3`).
    #[default]
    AsRewritten,
    /// `ud2` (SIGILL) at every site, whatever the file was rewritten with.
    Ud2,
    /// `int3; nop` (SIGTRAP) at every site.
    Int3,
    /// No trap at all: every `syscall` site gets its instruction back, so every call meets
    /// the seccomp backstop, as in an unrewritten binary (hostcall sites stay traps).
    Backstop,
}

impl Mechanism {
    /// The trap it writes over every site, if it re-encodes them.
    pub const fn encoding(self) -> Option<TrapEncoding> {
        match self {
            Mechanism::Ud2 => Some(TrapEncoding::Ud2),
            Mechanism::Int3 => Some(TrapEncoding::Int3),
            Mechanism::AsRewritten | Mechanism::Backstop => None,
        }
    }

    /// Its name on the command line and in `--stats`.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::AsRewritten => "as-rewritten",
            Mechanism::Ud2 => "ud2",
            Mechanism::Int3 => "int3",
            Mechanism::Backstop => "backstop",
        }
    }
}

/// How the host runs.
#[derive(Debug, Default)]
pub struct Settings {
    /// Where trace lines go, if tracing.
    pub trace: Option<TraceSink>,
    /// Count every call's figures (`--stats`): like tracing, this sees each call's result.
    pub stats: bool,
    /// The trap mechanism of the run (`--trap`).
    pub mechanism: Mechanism,
    /// Test hook: before serving each trap, inject a `getpid` through the injector and check it.
    pub inject_probe: bool,
    /// Give sites whose call number is known and which the backstop runs natively or stops
    /// anyway their original `syscall` back (the default; `--keep-traps` turns it off).
    pub untrap_known: bool,
    /// The policy, when one is in force: path calls are checked against it, and its process
    /// and wall-time limits are the host's to enforce.
    pub policy: Option<crate::decide::policy::Policy>,
    /// At most this many guest processes and threads at once (the policy's process limit).
    pub task_limit: Option<u64>,
    /// Calls the table runs natively that this run's policy or limits must decide (the seccomp
    /// filter sends them to the host too).
    pub also_decided: Vec<u64>,
    /// The native personality: only hostcalls are served; every Linux call after the first
    /// exec is refused with ENOSYS (the host's own injected calls excepted).
    pub native_personality: bool,
    /// The guest has a PID namespace of its own: the pids it names and sees are the kernel's
    /// numbers in that namespace, not the host's, and the kernel confines every call that
    /// names a process to it (no process outside exists for the guest).
    pub pid_namespace: bool,
    /// Serve the guest until its last process has exited (`--wait-all`). By default the run
    /// ends with the program: when the first guest process exits, every other one is killed
    /// (the container convention; trapbox's init, PID 1 of the guest's namespace, exits with
    /// it, which ends the namespace).
    pub wait_all: bool,
    /// The embedding program's hostcalls ([`crate::Command::hostcall`]), if it has any.
    pub hostcalls: Option<std::sync::Arc<dyn crate::session::EmbedderHostcalls>>,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The first guest process's wait status.
    pub status: Option<WaitStatus>,
    /// The first `execve` failed with this errno (the program never started).
    pub exec_error: Option<i32>,
    /// Whether the guest program was ever exec'ed.
    pub started: bool,
    /// Counters.
    pub stats: Stats,
}

/// The host's state.
#[derive(Debug)]
pub struct Debugger {
    threads: HashMap<Pid, Thread>,
    processes: HashMap<Pid, Process>,
    /// First stops of children whose creation event has not been seen yet.
    early: HashSet<Pid>,
    /// Events other threads reported while the host waited for an injection.
    deferred: VecDeque<(Pid, WaitStatus)>,
    images: ImageCache,
    leader: Pid,
    leader_status: Option<WaitStatus>,
    /// The program has exited and the rest of the guest is being killed (not `--wait-all`).
    ending: bool,
    /// [`sys::continued_count`] at the program's last event, and whether it changed then: a
    /// group-stop reported after a SIGCONT reached the host is over already (a shell's
    /// `kill -STOP`/`kill -CONT` of the whole job, trapbox included).
    leader_conts: u64,
    continued_since_leader_event: bool,
    /// The stop signal last delivered to the program came from outside the guest (the
    /// terminal, the shell that started trapbox, a supervisor): whoever stopped it will
    /// continue it, and must see trapbox stop too. A guest process stopping the program (and
    /// continuing it) is the guest's own business.
    leader_stopped_from_outside: bool,
    /// Stop signals the host sent the program on a guest's behalf (a group kill, a pidfd
    /// signal) and not yet seen arrive: they come from the guest, though their sender, the
    /// host, is outside it.
    stops_sent_for_guest: std::cell::Cell<u32>,
    exec_seen: bool,
    exec_error: Option<i32>,
    settings: Settings,
    stats: Stats,
    /// Serials of handed-over calls whose thread is gone, until their answer comes.
    abandoned: Vec<u64>,
    /// When the stop being served was seen (only while tracing or counting).
    stop_stamp: Option<Stamp>,
}

fn args_of(regs: &Regs) -> [u64; 6] {
    [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9]
}

fn set_args(regs: &mut Regs, args: &[u64; 6]) {
    [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9] = *args;
}

impl Debugger {
    /// A debugger for the freshly spawned, seized guest `pid`.
    pub fn new(pid: Pid, settings: Settings) -> Debugger {
        let mut threads = HashMap::new();
        threads.insert(pid, Thread::new(pid));
        crate::decide::confine::register_guest_task(pid);
        let mut processes = HashMap::new();
        processes.insert(pid, Process::default());
        Debugger {
            threads,
            processes,
            early: HashSet::new(),
            deferred: VecDeque::new(),
            images: ImageCache::default(),
            leader: pid,
            leader_status: None,
            ending: false,
            leader_conts: sys::continued_count(),
            continued_since_leader_event: false,
            leader_stopped_from_outside: false,
            stops_sent_for_guest: std::cell::Cell::new(0),
            exec_seen: false,
            exec_error: None,
            settings,
            stats: Stats::default(),
            abandoned: Vec::new(),
            stop_stamp: None,
        }
    }

    /// Serves the guest until no traced thread is left.
    pub fn run(mut self) -> anyhow::Result<Outcome> {
        let mut killed_for_time = false;
        loop {
            if !killed_for_time && WALL_TIME_UP.load(std::sync::atomic::Ordering::Relaxed) {
                // The watchdog killed the first guest process; the rest go too.
                killed_for_time = true;
                for &tgid in self.processes.keys() {
                    let _ = sys::kill(tgid, libc::SIGKILL);
                }
            }
            let next = match self.deferred.pop_front() {
                Some((tid, status)) => Ok(Event::Stop(tid, status)),
                None => events::next(),
            };
            let (tid, status) = match next {
                Ok(Event::Stop(tid, status)) => (tid, status),
                Ok(Event::Answer { serial, raw, gone }) => {
                    if let Err(err) = self.on_answer(serial, raw, gone) {
                        if err != Errno::ESRCH {
                            crate::host_log!("trapbox: warning: answering a call a host thread performed: {err}");
                        }
                    }
                    continue;
                }
                Ok(Event::Tick) => {
                    self.interrupt_handed_over_calls();
                    continue;
                }
                Err(err) if err == Errno::ECHILD => break,
                Err(err) => anyhow::bail!("waitpid: {err}"),
            };
            if tid == self.leader {
                let conts = sys::continued_count();
                self.continued_since_leader_event = conts != self.leader_conts;
                self.leader_conts = conts;
            }
            match status {
                WaitStatus::Exited(_) | WaitStatus::Signaled { .. } => self.on_exit(tid, status),
                WaitStatus::Stopped { signal, event } => {
                    if let Err(err) = self.on_stop(tid, signal, event) {
                        if err != Errno::ESRCH {
                            crate::host_log!("trapbox: warning: thread {tid}: {err}; resuming it");
                            let _ = sys::cont(tid, 0);
                        }
                    }
                }
                WaitStatus::Other => {}
            }
        }
        if let Some(sink) = self.settings.trace.as_mut() {
            sink.flush();
        }
        Ok(Outcome { status: self.leader_status, exec_error: self.exec_error, started: self.exec_seen, stats: self.stats })
    }

    fn on_exit(&mut self, tid: Pid, status: WaitStatus) {
        self.early.remove(&tid);
        crate::perform::creds::forget(tid);
        crate::decide::confine::forget_guest_task(tid);
        crate::perform::guest_landlock::forget(tid);
        if let Some(mut thread) = self.threads.remove(&tid) {
            self.abandon(&mut thread);
            let pending = thread.pending.into_iter().chain(thread.redirects.into_iter().filter_map(|r| r.call));
            for call in pending {
                // (Its record is gone: its process comes from the thread removed.)
                self.emit_as(thread.tgid, tid, &call, CallEnd::Unknown, Handling::Executed);
            }
            if thread.tgid == tid {
                self.processes.remove(&tid);
            }
        }
        if tid == self.leader {
            self.leader_status = Some(status);
            if !self.settings.wait_all {
                self.end_the_rest();
            }
        }
    }

    /// Whether the program has exited (its exit may still wait among the deferred events), so
    /// that, unless `--wait-all`, every other guest process is being killed: a call that
    /// fails for one of them is no news.
    fn program_gone(&self) -> bool {
        let leader_exit = |&(tid, status): &(Pid, WaitStatus)| {
            tid == self.leader && matches!(status, WaitStatus::Exited(_) | WaitStatus::Signaled { .. })
        };
        !self.settings.wait_all && (self.ending || self.deferred.iter().any(leader_exit))
    }

    /// The program has exited: its status is the run's, and every other guest process is
    /// killed (their last events are still reaped, so none is left a zombie of the host's).
    fn end_the_rest(&mut self) {
        self.ending = true;
        let left: HashSet<Pid> = self.processes.keys().chain(self.threads.keys()).chain(self.early.iter()).copied().collect();
        for pid in left {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
    }

    fn on_stop(&mut self, tid: Pid, signal: i32, event: i32) -> Result<(), Errno> {
        // The clock is read only when someone will see the latency.
        self.stop_stamp = self.observing().then(Stamp::now);
        if self.ending {
            // A process the kill has not reached yet (a child just forked): it goes too. A
            // killed tracee leaves its stop by itself.
            return sys::kill(tid, libc::SIGKILL);
        }
        if !self.threads.contains_key(&tid) {
            if event == sys::EVENT_STOP {
                // A new child reported before its parent's fork/clone event: wait for that.
                self.early.insert(tid);
                return Ok(());
            }
            self.adopt(tid);
        }
        match event {
            sys::EVENT_SECCOMP => self.on_seccomp(tid),
            sys::EVENT_FORK | sys::EVENT_VFORK | sys::EVENT_CLONE => self.on_new_child(tid, event),
            sys::EVENT_EXEC => self.on_exec(tid),
            sys::EVENT_STOP => self.on_event_stop(tid, signal),
            0 if signal == libc::SIGTRAP | 0x80 => self.on_syscall_exit(tid),
            0 => self.on_signal(tid, signal),
            _ => self.resume(tid, 0),
        }
    }

    /// A thread we have no record of (should not happen): find its process and serve it.
    fn adopt(&mut self, tid: Pid) {
        let tgid = sys::thread_group(tid).unwrap_or(tid);
        self.threads.insert(tid, Thread::new(tgid));
        self.processes.entry(tgid).or_default();
        crate::decide::confine::register_guest_task(tid);
    }

    fn thread(&mut self, tid: Pid) -> &mut Thread {
        self.threads.entry(tid).or_insert_with(|| Thread::new(tid))
    }

    fn tgid(&self, tid: Pid) -> Pid {
        self.threads.get(&tid).map_or(tid, |t| t.tgid)
    }

    /// The threads of `tid`'s process.
    fn threads_of(&self, tid: Pid) -> Vec<Pid> {
        let tgid = self.tgid(tid);
        self.threads.iter().filter(|(_, t)| t.tgid == tgid).map(|(&t, _)| t).collect()
    }

    /// The process id of `tid` as the guest sees it (the last `NSpid` entry in its own PID
    /// namespace). For the injector probe only: it reads `/proc`.
    fn guest_visible_pid(&self, tid: Pid) -> Pid {
        let tgid = self.tgid(tid);
        if !self.settings.pid_namespace {
            return tgid;
        }
        std::fs::read_to_string(format!("/proc/{tgid}/status"))
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("NSpid:").and_then(|v| v.split_whitespace().last()?.parse().ok())))
            .unwrap_or(tgid)
    }

    fn stub(&self, tid: Pid) -> Option<u64> {
        self.processes.get(&self.tgid(tid)).and_then(|p| p.stub)
    }

    /// Resumes `tid`, delivering `signal`, or a signal held back during an injection.
    fn resume(&mut self, tid: Pid, signal: i32) -> Result<(), Errno> {
        let signal = if signal == 0 { self.thread(tid).held_signals.pop().unwrap_or(0) } else { signal };
        sys::cont(tid, signal)
    }

    /// Whether each call's result and latency are wanted (`--trace`, `--stats`): such calls
    /// take the stub's slow path and the syscall-exit stop, so their results are seen.
    fn observing(&self) -> bool {
        self.settings.trace.is_some() || self.settings.stats
    }

    /// The call has ended: its trace line and its figures.
    fn emit(&mut self, tid: Pid, call: &PendingCall, end: CallEnd, handling: Handling) {
        self.emit_as(self.tgid(tid), tid, call, end, handling);
    }

    /// [`Debugger::emit`] for thread `tid` of process `pid`.
    fn emit_as(&mut self, pid: Pid, tid: Pid, call: &PendingCall, end: CallEnd, handling: Handling) {
        let Some(stamp) = call.stamp else { return };
        let latency_ns = stamp.elapsed_ns().saturating_sub(call.format_ns);
        if self.settings.stats {
            self.stats.calls.add(call.number, call.route, handling, end, latency_ns);
        }
        if let (Some(sink), Some(text)) = (self.settings.trace.as_mut(), call.text.as_ref()) {
            let record = trace::Record { pid, tid, number: call.number, call: text, end, route: call.route, handling, stamp, latency_ns };
            sink.record(&record);
        }
    }

    fn describe(&self, tid: Pid, number: u64, args: &[u64; 6], route: Route) -> PendingCall {
        let (text, format_ns) = match (&self.settings.trace, self.stop_stamp) {
            (Some(_), Some(_)) => {
                let started = std::time::Instant::now();
                let text = trace::describe_call(tid, number, args);
                (Some(text), u64::try_from(started.elapsed().as_nanos()).unwrap_or(0))
            }
            _ => (None, 0),
        };
        PendingCall { number, text, route, stamp: self.stop_stamp, format_ns }
    }

    /// The dispatcher: one decision for both routes (trap and backstop).
    fn decide(&self, tid: Pid, number: u64, args: &[u64; 6]) -> Verdict {
        if self.settings.native_personality && self.exec_seen && !hostcall::is_hostcall(number) {
            crate::host_log!(
                "trapbox: refused {} in the native personality: only hostcalls are served",
                trace::format_call(tid, number, args)
            );
            return Verdict::Refuse(errno::ENOSYS);
        }
        if hostcall::is_embedder_hostcall(number) {
            return match &self.settings.hostcalls {
                Some(hostcalls) if hostcalls.handles(number) => Verdict::Answer(hostcalls.serve(tid, self.tgid(tid), number, *args)),
                _ => Verdict::Refuse(errno::ENOSYS),
            };
        }
        if hostcall::is_hostcall(number) {
            return match crate::trap::hostcalls::answer(number, args) {
                Some(answer) => Verdict::Answer(answer.unwrap_or_else(errno::encode_error)),
                None => Verdict::Refuse(errno::ENOSYS),
            };
        }
        self.decide_linux(tid, number, args)
    }

    /// The decision on a Linux call, whoever makes it: a trapped or stopped call of the
    /// guest, or the Linux call a hostcall stands for ([`crate::trap::hostcalls`]).
    fn decide_linux(&self, tid: Pid, number: u64, args: &[u64; 6]) -> Verdict {
        let Some(entry) = syscalls::entry(number) else {
            if self.settings.policy.is_some() {
                crate::report::log::denied(tid, number, args, "no x86-64 call has this number");
            }
            return Verdict::Refuse(errno::ENOSYS);
        };
        match entry.disposition {
            Disposition::Native if self.settings.also_decided.contains(&number) => self.policy(tid, number, args),
            Disposition::Native => Verdict::Execute,
            Disposition::Refuse(e) => {
                // A clock change the kernel would refuse before its permission check gets the
                // kernel's answer, and is no denial.
                if crate::decode::clocks::sets_a_clock(number) {
                    let exists = |pid| crate::launch::view::host_pid(pid, self.processes.keys().copied()).is_some_and(|p| self.processes.contains_key(&p));
                    if let Some(first) = crate::decode::clocks::error_before_permission(tid, number, args, exists) {
                        return Verdict::Refuse(first);
                    }
                }
                if self.settings.policy.is_some() {
                    crate::report::log::denied(tid, number, args, entry.note);
                }
                Verdict::Refuse(e)
            }
            Disposition::Traced => self.policy(tid, number, args),
        }
    }

    /// The policy's decision on a call the host must see: refuse what would take a guest out
    /// of the host's sight, enforce the process limit, and check path calls against the
    /// grants (see [`crate::decide::confine`]); a denial is logged with the call and the reason.
    fn policy(&self, tid: Pid, number: u64, args: &[u64; 6]) -> Verdict {
        match number {
            // Under a policy, confine::rule refuses these too, with a log line.
            _ if self.settings.policy.is_none() && crate::decide::requests::escapes_the_debugger(number, args).is_some() => return Verdict::Refuse(errno::EPERM),
            // Without a policy there is no pinned copy to judge a filter of the guest's on.
            _ if self.settings.policy.is_none() && crate::decide::requests::installs_filter(number, args).is_some() => return Verdict::Refuse(errno::EPERM),
            _ => {}
        }
        if let Some(flags) = crate::decode::clone_args::task_flags(tid, number, args) {
            if let Some(refusal) = self.judge_new_task(tid, number, args, flags) {
                return refusal;
            }
        }
        // Safe in the guest's own namespaces only: refused without them, confined or not.
        if let Some(why) = syscalls::needs_own_namespace(number).filter(|_| !self.settings.pid_namespace) {
            if self.settings.policy.is_some() {
                crate::report::log::denied(tid, number, args, why);
            }
            return Verdict::Refuse(errno::EPERM);
        }
        let Some(policy) = &self.settings.policy else { return Verdict::Execute };
        if crate::trap::pinned::GUARDED_CALLS.contains(&number) {
            let guarded = self.processes.get(&self.tgid(tid)).is_some_and(|p| p.pin_region.is_some());
            if guarded && crate::trap::pinned::touches_region(number, args) {
                crate::host_log!(
                    "trapbox: denied {}: it would unmap, replace or re-protect the host's stub page and pinned-argument region at {:#x}..{:#x}",
                    trace::format_call(tid, number, args),
                    crate::trap::pinned::PIN_BASE,
                    crate::trap::pinned::AREA_END
                );
                return Verdict::Refuse(errno::EPERM);
            }
            return Verdict::Execute;
        }
        use crate::decide::confine::Rule;
        let denial = match crate::decide::confine::rule(number, args) {
            Rule::Allow if CREDENTIAL_CALLS.contains(&number) || changes_capabilities(number, args) => {
                // From now on the host performs this process's calls with its threads' own
                // credentials (glibc changes every thread's; a raw call only the caller's).
                crate::perform::creds::mark(self.threads_of(tid));
                None
            }
            Rule::Allow => None,
            Rule::Path if crate::perform::broker::handles(number, args) => {
                match crate::perform::creds::as_guest(tid, || crate::perform::broker::perform(policy, tid, number, args)).unwrap_or_else(|e| Err((e, String::new()))) {
                    Ok(raw) => return Verdict::Answer(raw),
                    Err((0, _)) => crate::decide::confine::check(policy, tid, number, args).map(|d| (d.errno, d.reason)),
                    Err(denial) => Some(denial),
                }
            }
            Rule::Path => crate::decide::confine::check(policy, tid, number, args).map(|d| (d.errno, d.reason)),
            Rule::Deny(errno, why) => Some((errno, why.to_string())),
            Rule::Mount => match crate::decide::mounts::perform(policy, tid, number, args) {
                Ok(raw) => return Verdict::Answer(raw),
                Err(denial) => Some(denial),
            },
            Rule::InOwnPidNamespace(_, _) if self.settings.pid_namespace => None,
            Rule::InOwnPidNamespace(errno, why) => Some((errno, why.to_string())),
            // The kernel resolves the pid in the guest's own PID namespace, where only guest
            // processes (and trapbox's init, which no guest can trace or kill) exist: a pid of
            // the host's gets the kernel's own ESRCH.
            Rule::PidfdTarget => match self.signal_through_pidfd(tid, args) {
                Ok(Some(raw)) => return Verdict::Answer(raw),
                Ok(None) => None,
                Err(denial) => Some(denial),
            },
            Rule::GuestTarget(index) if self.settings.pid_namespace => match syscalls::arg(number, args, index) as i32 {
                1 => Some((errno::EPERM, "process 1 is trapbox's init, not part of the guest".to_string())),
                // The guest's own process group may be trapbox's (the terminal's job): the
                // kernel would signal the host too, so the host signals the group's guests.
                0 if number == nr::KILL && sys::process_group(self.tgid(tid)) == sys::process_group(sys::own_pid()) => {
                    let group = sys::process_group(self.tgid(tid));
                    return Verdict::Answer(self.signal_guests(tid, syscalls::arg(number, args, 1) as i32, |pid| sys::process_group(pid) == group));
                }
                _ => None,
            },
            // In the host's PID namespace the kernel would reach any process: the host signals
            // the guest processes a group kill names (a group without any does not exist for
            // the guest), and every guest process but the caller for kill(-1), as in a PID
            // namespace of its own.
            Rule::GuestTarget(0) if number == nr::KILL && (syscalls::arg(number, args, 0) as i32) <= 0 => {
                let (target, signal) = (syscalls::arg(number, args, 0) as i32, syscalls::arg(number, args, 1) as i32);
                let caller = self.tgid(tid);
                let group = match target {
                    0 => sys::process_group(caller),
                    -1 => None,
                    // (i32::MIN has no group; the kernel answers ESRCH.)
                    negative => negative.checked_neg(),
                };
                return Verdict::Answer(match target {
                    -1 => self.signal_guests(tid, signal, |pid| pid != caller),
                    _ if group.is_none() => errno::encode_error(libc::ESRCH),
                    _ => self.signal_guests(tid, signal, |pid| sys::process_group(pid) == group),
                });
            }
            Rule::GuestTarget(index) => {
                let target = syscalls::arg(number, args, index) as i32;
                // Pid 0 is the caller itself for these (for fcntl, no owner at all).
                let itself = target == 0 && matches!(number, nr::PRLIMIT64 | nr::MIGRATE_PAGES | nr::MOVE_PAGES | nr::FCNTL);
                let ours = itself || target > 0 && (self.processes.contains_key(&target) || self.threads.contains_key(&target));
                (!ours).then(|| (errno::EPERM, format!("process {target} is not part of the guest")))
            }
            Rule::FdMetadata => {
                match crate::perform::creds::as_guest(tid, || crate::perform::broker::perform(policy, tid, number, args)).unwrap_or_else(|e| Err((e, String::new()))) {
                    Ok(raw) => return Verdict::Answer(raw),
                    Err(denial) => Some(denial),
                }
            }
            // (Unix socket paths the host binds or connects for the guest: with its credentials.)
            Rule::Network => match crate::perform::creds::as_guest(tid, || crate::decide::netpolicy::check(policy, tid, number, args)) {
                Ok(crate::decide::netpolicy::NetVerdict::Allow) => None,
                Ok(crate::decide::netpolicy::NetVerdict::Done(raw)) => return Verdict::Answer(raw),
                Ok(crate::decide::netpolicy::NetVerdict::Deny(errno, reason)) => Some((errno, reason)),
                Ok(crate::decide::netpolicy::NetVerdict::Perform(call)) => return Verdict::Perform(call),
                Err(errno) => return Verdict::Refuse(errno),
            },
        };
        match denial {
            // An empty reason: the kernel's own answer, which the host knows (no denial).
            Some((errno, reason)) if reason.is_empty() => Verdict::Refuse(errno),
            Some((errno, reason)) => {
                crate::host_log!("trapbox: denied {}: {reason}", trace::format_call(tid, number, args));
                Verdict::Refuse(errno)
            }
            None => Verdict::Execute,
        }
    }

    /// The one judgment of every call that makes a task (clone, clone3, fork, vfork), on the
    /// flag word the kernel reads (clone3's from the host's pinned copy, when it is the copy
    /// the kernel will read: see [`Debugger::on_seccomp`]): a struct the kernel would refuse
    /// gets its errno, a child the host would not trace is refused whatever the policy (with
    /// a line under one), and the policy's task limit holds. `None`: the call may run.
    fn judge_new_task(&self, tid: Pid, number: u64, args: &[u64; 6], flags: Result<u64, i32>) -> Option<Verdict> {
        let flags = match flags {
            Ok(flags) => flags,
            Err(errno) => return Some(Verdict::Refuse(errno)), // the kernel's own answer
        };
        if let Some(why) = crate::decide::requests::untraced_child(flags) {
            if self.settings.policy.is_some() {
                crate::host_log!("trapbox: denied {}: {why}", trace::format_call(tid, number, args));
            }
            return Some(Verdict::Refuse(errno::EPERM));
        }
        let limit = self.settings.task_limit?;
        if self.threads.len() as u64 >= limit {
            crate::host_log!(
                "trapbox: denied {}: the guest already runs {} processes and threads (limit {limit})",
                trace::format_call(tid, number, args),
                self.threads.len()
            );
            return Some(Verdict::Refuse(EAGAIN));
        }
        None
    }

    /// A kill that names several processes, performed by the host on the guest processes
    /// `chosen` picks: each gets `signal` if the caller may signal it (the kernel's rule: a
    /// matching real or effective uid against the target's real or saved one, or `CAP_KILL`);
    /// never the host or any other process. The raw result, as the kernel gives it: 0 if any
    /// was signalled, EPERM if some were chosen but none permitted, else ESRCH.
    fn signal_guests(&self, tid: Pid, signal: i32, chosen: impl Fn(Pid) -> bool) -> u64 {
        if !(0..=64).contains(&signal) {
            return errno::encode_error(libc::EINVAL);
        }
        let Some(caller) = sys::signal_credentials(tid) else { return errno::encode_error(libc::ESRCH) };
        let mut result = Err(libc::ESRCH);
        for &tgid in self.processes.keys() {
            if !chosen(tgid) {
                continue;
            }
            let allowed = sys::signal_credentials(tgid).is_some_and(|target| caller.may_signal(&target));
            if !allowed {
                result = result.or(Err(libc::EPERM));
                continue;
            }
            if sys::kill(tgid, signal).is_ok() {
                self.note_sent_for_guest(tgid, signal);
                result = Ok(0);
            }
        }
        result.unwrap_or_else(errno::encode_error)
    }

    /// Remembers a stop signal the host sent the program for a guest (see
    /// [`Debugger::stops_sent_for_guest`]).
    fn note_sent_for_guest(&self, target: Pid, signal: i32) {
        if target == self.leader && is_stop_signal(signal) {
            self.stops_sent_for_guest.set(self.stops_sent_for_guest.get() + 1);
        }
    }

    /// `pidfd_send_signal(fd, signal, info, flags)` for thread `tid`, checked in the kernel's
    /// order (flags, fd, siginfo, target, permission). The host performs it on its own
    /// duplicate of the fd, so the process checked is the process signalled (a pidfd may come
    /// from opening a `/proc/PID` directory, and another thread may `dup2` over the number),
    /// and with its own copy of the siginfo, on which the kernel applies its rules (`si_signo`
    /// must be the signal; a siginfo claiming the kernel or `tkill` as its sender is refused
    /// towards any other target than the caller itself): only to a guest process, and only
    /// to one the caller may signal. `Ok(Some(raw))` is the host's answer; `Ok(None)` means
    /// the thread signals itself with such a siginfo, which the kernel allows only to the
    /// caller itself: its own call runs, on the siginfo pinned ([`crate::trap::pinned`]).
    fn signal_through_pidfd(&self, tid: Pid, args: &[u64; 6]) -> Result<Option<u64>, (i32, String)> {
        const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 4;
        /// The kernel's `_NSIG`: signal numbers above it are EINVAL.
        const LAST_SIGNAL: i32 = 64;
        let (signal, flags) = (args[1] as i32, args[3] as u32);
        let answer = |errno: i32| Ok(Some(errno::encode_error(errno)));
        if let Some(errno) = sys::pidfd_signal_flags_error(flags) {
            return answer(errno);
        }
        let dup = match sys::take_fd(tid, args[0] as i32) {
            Ok(dup) => dup,
            Err(err) => return answer(err.0),
        };
        use std::os::fd::AsRawFd;
        let target = sys::process_fd(sys::own_pid(), dup.as_raw_fd());
        if target == sys::ProcessFd::NotOne {
            return answer(libc::EBADF);
        }
        let info = match args[2] {
            0 => None,
            addr => match crate::decode::siginfo::Siginfo::read(tid, addr) {
                Ok(info) => Some(info),
                Err(errno) => return answer(errno),
            },
        };
        let target = match target {
            sys::ProcessFd::Of(target) => target,
            sys::ProcessFd::InProc(number) => match crate::launch::view::host_pid(number, self.processes.keys().copied()) {
                Some(target) => target,
                None => return Err((errno::EPERM, format!("the fd names process {number} of the guest's /proc, which is not part of the guest"))),
            },
            // Gone (nothing can be signalled): the kernel judges the siginfo, then says ESRCH.
            _ => return Ok(Some(sys::pidfd_send_signal(&dup, signal, info.as_ref(), flags))),
        };
        if !(self.processes.contains_key(&target) || self.threads.contains_key(&target)) {
            return Err((errno::EPERM, format!("the pidfd names process {target}, which is not part of the guest")));
        }
        let allowed = match (sys::signal_credentials(tid), sys::signal_credentials(target)) {
            (Some(caller), Some(target)) => caller.may_signal(&target),
            _ => false,
        };
        if !allowed {
            // The kernel's answer for the caller: the siginfo's rules and the signal number
            // come before the permission.
            let errno = match &info {
                Some(info) if info.signo() != signal => libc::EINVAL,
                Some(info) if info.claims_kernel_or_tkill() => libc::EPERM,
                _ if !(0..=LAST_SIGNAL).contains(&signal) => libc::EINVAL,
                _ => libc::EPERM,
            };
            return answer(errno);
        }
        let to_itself = target == tid && flags & PIDFD_SIGNAL_PROCESS_GROUP == 0;
        if to_itself && info.as_ref().is_some_and(|info| info.claims_kernel_or_tkill()) {
            return Ok(None);
        }
        let raw = sys::pidfd_send_signal(&dup, signal, info.as_ref(), flags);
        if errno::decode(raw).is_ok() {
            self.note_sent_for_guest(target, signal);
        }
        Ok(Some(raw))
    }

    // ---- pinned paths ------------------------------------------------------------------

    /// Whether calls get the arguments the host decides on pinned: under a policy, once the
    /// guest program runs (the launcher's own exec needs none).
    fn pins_arguments(&self) -> bool {
        self.settings.policy.is_some() && !self.settings.native_personality && self.exec_seen
    }

    /// Pins what `plan` names for `tid`'s call `number`; on failure, the errno to refuse it
    /// with (logged when it is the host's, not the kernel's answer).
    fn pin_arguments(&self, tid: Pid, number: u64, plan: &crate::trap::pinned::Plan) -> Result<(PinSlot, [u64; 6]), i32> {
        let region = self.processes.get(&self.tgid(tid)).and_then(|p| p.pin_region.clone());
        let refuse = |errno: i32, why: &str| {
            crate::host_log!("trapbox: denied {}: {why}", trace::format_call(tid, number, &plan.args));
            errno
        };
        let Some(region) = region else {
            return Err(refuse(errno::EPERM, "this process has no pinned-argument region, so the call cannot be decided safely"));
        };
        match region.pin(tid, number, plan) {
            Ok(pinned) => Ok(pinned),
            Err(PinError::Argument(errno)) => Err(errno), // EFAULT, ENAMETOOLONG or EINVAL, as the kernel would say
            Err(PinError::Busy) => Err(refuse(EAGAIN, "every pinned-argument slot is in use by a running call")),
        }
    }

    /// Maps the host's area (pinned-argument region and stub page) into the process `tid`
    /// just exec'ed into, through the vDSO's `syscall`: the process has run none of its own
    /// code yet, so that instruction is still the kernel's.
    fn create_pin_region(&mut self, tid: Pid) {
        let tgid = self.tgid(tid);
        let known = self.processes.get(&tgid).and_then(|p| p.vdso);
        let x86_64 = self.processes.get(&tgid).is_some_and(|p| !p.modules.is_empty() && p.modules.iter().all(|m| m.image.x86_64));
        let Some((syscall_at, nul_byte)) = inject::vdso_points(tgid, known, x86_64) else {
            if self.program_gone() {
                return; // the process is being killed with the rest of the guest
            }
            crate::host_log!("trapbox: warning: pid {tgid} has no vDSO to set up the host's area; its trapped, exec, chdir and O_PATH calls will be refused");
            return;
        };
        // The registers are read once and put back once for the whole set-up (four or five
        // calls), not around each call.
        let Ok(saved) = sys::get_regs(tid) else { return };
        let created = crate::trap::pinned::create(tid, nul_byte, |number, args| {
            let call = inject::InjectedCall { syscall_at, number, args, follow: inject::Follow::SingleStep };
            self.injecting(tid, |held, deferred| inject::inject_leaving_registers(tid, &saved, call, held, deferred))
        });
        if self.threads.contains_key(&tid) {
            let _ = sys::set_regs(tid, &saved);
        }
        match created {
            Ok(region) => {
                self.stats.stubs_mapped += 1;
                if let Some(process) = self.processes.get_mut(&tgid) {
                    process.pin_region = Some(Rc::new(region));
                    process.stub = Some(crate::trap::pinned::STUB_BASE);
                }
            }
            // (Or the program has exited and this process is being killed with the rest.)
            Err(_) if self.program_gone() || !self.threads.contains_key(&tid) => {}
            Err(why) => crate::host_log!(
                "trapbox: warning: no host area for pid {tgid} ({why}); its trapped, exec, chdir and O_PATH calls will be refused"
            ),
        }
    }

    // ---- seccomp stops (the backstop) -------------------------------------------------

    fn on_seccomp(&mut self, tid: Pid) -> Result<(), Errno> {
        self.stats.backstop += 1;
        let mut regs = sys::get_regs(tid)?;
        let mut number = regs.orig_rax;
        let mut args = args_of(&regs);
        let from_stub = self
            .stub(tid)
            .is_some_and(|stub| regs.rip == stub + inject::FAST_RETURN || regs.rip == stub + inject::SLOW_RETURN);
        let route = if from_stub { Route::Trap } else { Route::Backstop };
        if hostcall::is_hostcall(number) && !hostcall::is_embedder_hostcall(number) && crate::trap::hostcalls::answer(number, &args).is_none() {
            // Served as at its trap, but from the call's exit: no injection can start from a
            // seccomp stop (the thread is inside the call).
            let call = self.describe(tid, number, &args, route);
            self.thread(tid).hostcall_at_exit = Some((number, args, call));
            regs.orig_rax = u64::MAX;
            sys::set_regs(tid, &regs)?;
            return sys::cont_syscall(tid, 0);
        }
        // An exec's path is pinned as the guest spelled it, so the decision on the pinned copy
        // is the decision on the guest's: it is made once, on the copy.
        let pin_first = self.pins_arguments() && matches!(number, nr::EXECVE | nr::EXECVEAT);
        let mut verdict = if pin_first { None } else { Some(self.decide(tid, number, &args)) };
        // A call the kernel will run, whose decision read guest memory the kernel would read
        // again, is pinned and decided again on the pinned copy: that second decision is the
        // one that counts (a sendmmsg becomes a sendmsg of its first message). Calls the host
        // answered or refused read nothing twice.
        let mut pinned = None;
        // A sendmmsg is sent one message at a time: the next one, when this is its call again.
        let progress = self.thread(tid).sendmmsg.take().filter(|p| number == nr::SENDMMSG && p.guest_args == args && p.at == regs.rip.wrapping_sub(2));
        // clone3 is pinned even unconfined: the flags judged must be the ones the kernel reads.
        let executes = verdict.as_ref().is_none_or(|v| matches!(v, Verdict::Execute));
        if executes && (self.pins_arguments() || number == nr::CLONE3) {
            let plan = match progress {
                Some(progress) => Some(crate::trap::pinned::sendmmsg_message(&args, progress.sent)),
                None => crate::trap::pinned::plan(number, &args),
            };
            if let Some(plan) = plan {
                verdict = Some(match self.pin_arguments(tid, number, &plan) {
                    Ok((slot, moved)) => {
                        pinned = Some(slot);
                        args = moved;
                        number = plan.number;
                        self.decide(tid, number, &args)
                    }
                    // An exec not decided yet is decided on the guest's arguments, for the
                    // refusal (and log line) any call gets for a path it cannot have; what
                    // that lets run is refused as the pinning said.
                    Err(errno) if pin_first => match self.decide(tid, number, &args) {
                        Verdict::Execute => Verdict::Refuse(errno),
                        refused => refused,
                    },
                    Err(errno) => Verdict::Refuse(errno),
                });
            }
        }
        // (Not pinned after all: decided on the guest's arguments.)
        let mut verdict = match verdict {
            Some(verdict) => verdict,
            None => self.decide(tid, number, &args),
        };
        // A later message refused: the call reports the messages sent (the kernel's rule for
        // an error after the first).
        if let (Some(progress), Verdict::Refuse(_)) = (progress, &verdict) {
            verdict = Verdict::Answer(u64::from(progress.sent));
        }
        match verdict {
            Verdict::Execute => {
                // (From the stub, the signal-state filter lets them pass: followed at the trap.)
                if crate::trap::sigstate::follows(number) && !from_stub {
                    self.follow_signal_call(tid, number, &args, regs.rsp);
                }
                let watch_exec = !self.exec_seen && tid == self.leader && (number == nr::EXECVE || number == nr::EXECVEAT);
                let mut restores = pinned.is_some();
                if let Some(slot) = pinned {
                    regs.orig_rax = number;
                    set_args(&mut regs, &args);
                    sys::set_regs(tid, &regs)?;
                    self.thread(tid).pinned = Some(slot); // the registers come back at the exit
                } else if number == nr::MEMFD_CREATE && self.settings.policy.is_some() {
                    // Never executable (see confine::rule); the guest's flags come back at the exit.
                    const MFD_ALLOW_SEALING: u64 = libc::MFD_ALLOW_SEALING as u64;
                    self.thread(tid).restore_args = Some(args);
                    self.thread(tid).seals_its_memfd = syscalls::arg(number, &args, 1) & MFD_ALLOW_SEALING == 0;
                    regs.rsi |= crate::decide::confine::MFD_NOEXEC_SEAL;
                    sys::set_regs(tid, &regs)?;
                    restores = true;
                } else if number == nr::LANDLOCK_RESTRICT_SELF && self.settings.policy.is_some() {
                    // The host performs this thread's opens under the domain it enters (see
                    // crate::perform::guest_landlock): recorded now, settled at the exit.
                    let restriction = crate::perform::guest_landlock::on_restrict_self(tid, self.threads_of(tid), &args);
                    restores = restriction.is_some();
                    self.thread(tid).restricting = restriction;
                }
                if self.observing() || watch_exec || restores {
                    if self.observing() || watch_exec {
                        let call = self.describe(tid, number, &args, route);
                        self.thread(tid).pending = Some(call);
                    }
                    sys::cont_syscall(tid, 0)
                } else {
                    self.resume(tid, 0)
                }
            }
            Verdict::Perform(call) => {
                let call_text = self.describe(tid, number, &args, route);
                // The guest thread's credentials, in hand for the worker (taken here, not
                // while switched to them: threads the submission starts would keep them).
                let credentials = match crate::perform::creds::marked(tid) {
                    true => crate::perform::creds::as_guest(tid, sys::thread_credentials).map(Some),
                    false => Ok(None),
                };
                match credentials.and_then(|credentials| events::submit(tid, call, credentials)) {
                    Ok(serial) => {
                        // The thread stays in its seccomp stop until the worker answers.
                        self.thread(tid).handed_over = Some(HandedOver { serial, regs, call: call_text, interrupted: false });
                        Ok(())
                    }
                    Err(errno) => self.answer_seccomp(tid, regs, &call_text, errno::encode_error(errno), Handling::Refused),
                }
            }
            Verdict::Answer(raw) => {
                let call = self.describe(tid, number, &args, route);
                self.answer_seccomp(tid, regs, &call, raw, Handling::Host)
            }
            Verdict::Refuse(e) => {
                let call = self.describe(tid, number, &args, route);
                self.answer_seccomp(tid, regs, &call, errno::encode_error(e), Handling::Refused)
            }
        }
    }

    /// Skips the call of `tid`'s seccomp stop (whose registers are `regs`) with `raw` as its
    /// result, and resumes the thread.
    fn answer_seccomp(&mut self, tid: Pid, mut regs: Regs, call: &PendingCall, raw: u64, handling: Handling) -> Result<(), Errno> {
        regs.orig_rax = u64::MAX; // skip the call; rax carries our result
        regs.rax = raw;
        sys::set_regs(tid, &regs)?;
        self.emit(tid, call, CallEnd::Value(raw), handling);
        self.resume(tid, 0)
    }

    // ---- calls handed to host worker threads -------------------------------------------

    /// The worker's answer to the call handed over as `serial`: the thread that waits for it
    /// runs on with it. One that a signal interrupted (the worker's wait ended with EINTR) is
    /// skipped and stopped at its exit, where [`Debugger::on_syscall_exit`] gives the kernel
    /// `-ERESTARTSYS` to judge: restarted after a handler with `SA_RESTART` or a stop, `EINTR`
    /// after one without, as natively.
    /// `gone`: the thread exited (its exit is queued or handled): the answer goes nowhere.
    fn on_answer(&mut self, serial: u64, raw: u64, gone: bool) -> Result<(), Errno> {
        if let Some(at) = self.abandoned.iter().position(|&s| s == serial) {
            self.abandoned.swap_remove(at);
            return Ok(());
        }
        let waiting = self.threads.iter().find(|(_, t)| t.handed_over.as_ref().is_some_and(|h| h.serial == serial)).map(|(&tid, _)| tid);
        let Some(tid) = waiting else { return Ok(()) };
        let Some(handed) = self.thread(tid).handed_over.take() else { return Ok(()) };
        if gone {
            // Its id may already name another thread: nothing is done with it.
            return Ok(());
        }
        if handed.interrupted && raw == errno::encode_error(libc::EINTR) {
            self.emit(tid, &handed.call, CallEnd::Interrupted, Handling::Host);
            let mut regs = handed.regs;
            regs.orig_rax = u64::MAX;
            sys::set_regs(tid, &regs)?;
            self.thread(tid).restart_after_signal = Some(handed.regs);
            return sys::cont_syscall(tid, 0);
        }
        self.answer_seccomp(tid, handed.regs, &handed.call, raw, Handling::Host)
    }

    /// Every [`events::TICK`] while calls are out: a thread whose call a worker performs and
    /// that has a signal waiting gets its call interrupted, as the signal would interrupt it
    /// natively. Once is enough: an interruption is never lost (see
    /// [`crate::perform::workers::syscall`]).
    fn interrupt_handed_over_calls(&mut self) {
        let mut interrupted = Vec::new();
        for (&tid, thread) in self.threads.iter_mut() {
            if let Some(handed) = thread.handed_over.as_mut() {
                if !handed.interrupted && sys::signal_pending(tid) {
                    handed.interrupted = true;
                    interrupted.push(handed.serial);
                }
            }
        }
        if !interrupted.is_empty() {
            crate::perform::workers::interrupt_where(|call| matches!(call, UnderWayCall::HandedOver(serial) if interrupted.contains(&serial)));
        }
    }

    /// `thread` is gone: the call a worker performs for it, if any, is interrupted (its answer
    /// goes nowhere), so no worker waits for ever for a thread that no longer does. (A thread
    /// that exited had its call ended before its exit was taken, see
    /// [`crate::perform::workers::end_calls_of`]; this is for those an exec ends, whose exit
    /// the kernel does not report.)
    fn abandon(&mut self, thread: &mut Thread) {
        if let Some(handed) = thread.handed_over.take() {
            self.abandoned.push(handed.serial);
            crate::perform::workers::interrupt_where(|call| call == UnderWayCall::HandedOver(handed.serial));
        }
    }

    fn on_syscall_exit(&mut self, tid: Pid) -> Result<(), Errno> {
        if let Some((number, args, call)) = self.thread(tid).hostcall_at_exit.take() {
            return self.serve_hostcall_at_exit(tid, number, &args, &call);
        }
        if let Some(mut regs) = self.thread(tid).restart_after_signal.take() {
            // See on_answer. Should the signal have gone meanwhile (another thread took a
            // process-wide one), the call simply starts again.
            if sys::signal_pending(tid) {
                regs.rax = errno::encode_error(ERESTARTSYS);
            } else {
                regs.rax = regs.orig_rax;
                regs.rip = regs.rip.wrapping_sub(2);
            }
            sys::set_regs(tid, &regs)?;
            return self.resume(tid, 0);
        }
        if let Some(slot) = self.thread(tid).pinned.take() {
            // The guest's own argument registers again (a syscall preserves them).
            let mut regs = sys::get_regs(tid)?;
            regs.orig_rax = slot.original_number; // what a restart after a signal runs again
            set_args(&mut regs, &slot.original_args);
            if let AfterExit::OfSendmmsg { vector, index } = slot.after {
                self.after_sendmmsg_message(tid, &mut regs, vector, index, &slot.original_args);
            }
            sys::set_regs(tid, &regs)?;
        }
        if let Some(args) = self.thread(tid).restore_args.take() {
            let mut regs = sys::get_regs(tid)?;
            set_args(&mut regs, &args);
            sys::set_regs(tid, &regs)?;
            if std::mem::take(&mut self.thread(tid).seals_its_memfd) {
                if let Ok(fd) = errno::decode(regs.rax) {
                    crate::perform::broker::seal_like_native(tid, fd as i32);
                }
            }
        }
        if let Some(restriction) = self.thread(tid).restricting.take() {
            let succeeded = errno::decode(sys::get_regs(tid)?.rax).is_ok();
            crate::perform::guest_landlock::settle(restriction, succeeded, self.threads_of(tid));
        }
        if std::mem::take(&mut self.thread(tid).wants_pin_region) {
            self.create_pin_region(tid);
            // A program with trap sites: its SIGILL state is followed from its first
            // instruction (exec's state is exact: read at the exec event).
            let tgid = self.tgid(tid);
            let trapped = self.processes.get(&tgid).is_some_and(|p| {
                p.modules.iter().any(|m| m.image.table.is_some_and(|t| t.encoding() == TrapEncoding::Ud2))
            });
            if trapped {
                self.follow_signal_state(tid, inject::Follow::SingleStep);
            }
        }
        if let Some(call) = self.thread(tid).pending.take() {
            let regs = sys::get_regs(tid)?;
            if (call.number == nr::EXECVE || call.number == nr::EXECVEAT) && !self.exec_seen && tid == self.leader {
                if let Err(e) = errno::decode(regs.rax) {
                    self.exec_error = Some(e);
                }
            }
            self.emit(tid, &call, CallEnd::Value(regs.rax), Handling::Executed);
        }
        self.resume(tid, 0)
    }

    /// At the exit of message `index` of a guest's `sendmmsg`: its `msg_len` into the guest's
    /// vector, then the next message (the thread runs the call again from the same
    /// `syscall`), or the kernel's result: the number of messages sent, or the first one's
    /// error when none went.
    fn after_sendmmsg_message(&mut self, tid: Pid, regs: &mut sys::Regs, vector: u64, index: u32, guest_args: &[u64; 6]) {
        use crate::trap::pinned::{MMSGHDR_LEN, MMSGHDR_MSG_LEN_AT};
        // vlen is an unsigned int, and the kernel sends at most UIO_MAXIOV messages a call.
        let vlen = (guest_args[2] as u32).min(1024);
        match errno::decode(regs.rax) {
            Ok(bytes) => {
                let msg_len = vector.wrapping_add(u64::from(index) * MMSGHDR_LEN + MMSGHDR_MSG_LEN_AT);
                let stored = sys::write_memory(tid, msg_len, &(bytes as u32).to_le_bytes()) == Ok(4);
                let sent = index + 1;
                if stored && sent < vlen {
                    self.thread(tid).sendmmsg = Some(SendmmsgProgress { guest_args: *guest_args, at: regs.rip.wrapping_sub(2), sent });
                    regs.rip = regs.rip.wrapping_sub(2); // the same `syscall` again, for the next message
                    regs.rax = nr::SENDMMSG;
                } else {
                    regs.rax = u64::from(sent);
                }
            }
            // After the first, an error ends the call with the count sent (the kernel reports
            // the error at the next call).
            Err(_) if index > 0 => regs.rax = u64::from(index),
            Err(_) => {}
        }
    }

    // ---- processes and threads --------------------------------------------------------

    fn on_new_child(&mut self, parent: Pid, event: i32) -> Result<(), Errno> {
        let child = sys::event_msg(parent)? as Pid;
        let regs = sys::get_regs(parent)?;
        let tgid = self.tgid(parent);
        // (clone3's flags from the pinned copy its registers point to, which the guest cannot change.)
        let flags = crate::decode::clone_args::task_flags(parent, regs.orig_rax, &args_of(&regs)).and_then(Result::ok).unwrap_or(0);
        let is_thread = event == sys::EVENT_CLONE && flags & CLONE_THREAD != 0;
        // A pinned call (clone3) leaves the child the registers pointing at the pinned copy:
        // it starts with the guest's own, as it would natively.
        let start_args = self.threads.get(&parent).and_then(|t| t.pinned.as_ref()).map(|slot| slot.original_args);
        let stub = self.stub(parent);
        // A fork/clone run through the stub's slow path: the child starts right after the
        // `syscall` in the stub, on its own stack; send it straight to the resume address.
        let start_at = match stub {
            Some(stub) if regs.rip == stub + inject::SLOW_RETURN => {
                self.threads.get(&parent).and_then(|t| t.redirects.last()).map(|r| r.resume_at)
            }
            _ => None,
        };
        let child_tgid = if is_thread { tgid } else { child };
        if !is_thread {
            let process = self.processes.get(&tgid).cloned().unwrap_or_default();
            self.processes.insert(child, process);
        }
        crate::decide::confine::register_guest_task(child);
        const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
        if crate::perform::creds::marked(parent) || flags & CLONE_NEWUSER != 0 {
            crate::perform::creds::mark([child]); // credentials are inherited, or a new user namespace's
        }
        crate::perform::guest_landlock::inherit(parent, child); // and so is a Landlock domain
        const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
        if !is_thread && flags & CLONE_CLEAR_SIGHAND != 0 {
            if let Some(process) = self.processes.get_mut(&child) {
                process.signals = process.signals.cleared_handlers();
            }
        }
        let mut thread = Thread::new(child_tgid);
        thread.unstarted = Some(start_at);
        thread.start_args = start_args;
        // The child's mask is its parent thread's.
        thread.ill_blocked = self.threads.get(&parent).is_some_and(|t| t.ill_blocked);
        self.threads.insert(child, thread);
        if self.early.remove(&child) {
            // Its first stop already came: start it now.
            if let Err(err) = self.start_child(child) {
                if err != Errno::ESRCH {
                    crate::host_log!("trapbox: warning: cannot start thread {child}: {err}");
                }
            }
        }
        // The parent is still in its call: if its exit was to be seen (a pinned clone3's
        // registers to put back, a traced result), it must stop there too.
        self.resume_in_call(parent)
    }

    /// Resumes `tid`, stopped at an event inside a call (a fork's or clone's), so that it
    /// stops again at the call's exit when the host has work there: pinned arguments or
    /// arguments to restore, a result to record, a Landlock restriction to settle. (A plain
    /// resume would skip that exit stop, and the next call's exit would get this one's work.)
    fn resume_in_call(&mut self, tid: Pid) -> Result<(), Errno> {
        let thread = self.thread(tid);
        let exit_work = thread.pinned.is_some() || thread.pending.is_some() || thread.restore_args.is_some() || thread.restricting.is_some();
        if exit_work {
            sys::cont_syscall(tid, 0)
        } else {
            self.resume(tid, 0)
        }
    }

    fn start_child(&mut self, tid: Pid) -> Result<(), Errno> {
        let start_at = self.thread(tid).unstarted.take().flatten();
        let start_args = self.thread(tid).start_args.take();
        if start_at.is_some() || start_args.is_some() {
            let mut regs = sys::get_regs(tid)?;
            if let Some(addr) = start_at {
                regs.rip = addr;
            }
            if let Some(args) = start_args {
                set_args(&mut regs, &args);
            }
            sys::set_regs(tid, &regs)?;
        }
        self.resume(tid, 0)
    }

    fn on_event_stop(&mut self, tid: Pid, signal: i32) -> Result<(), Errno> {
        if self.thread(tid).unstarted.is_some() {
            return self.start_child(tid);
        }
        match signal {
            // Group-stop: stay stopped until SIGCONT, still reporting events.
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => {
                sys::listen(tid)?;
                if tid == self.leader && self.leader_stopped_from_outside && !self.continued_since_leader_event {
                    self.stop_with_the_program(signal);
                }
                Ok(())
            }
            _ => self.resume(tid, 0),
        }
    }

    /// The program stopped by a signal from outside the guest (Ctrl-Z, a read from the
    /// terminal in the background, a SIGSTOP or SIGTSTP to trapbox's job): the host stops too,
    /// by the same signal, so the shell that started trapbox sees its job stop
    /// and takes the terminal back, as it would for the program. A shell's `fg` or `bg`
    /// continues the job's process group, which holds the program too, unless the program
    /// left it for a group of its own: then the host passes the SIGCONT on.
    fn stop_with_the_program(&mut self, signal: i32) {
        sys::stop_as(signal);
        let group = sys::process_group(self.leader);
        if group.is_some() && group != sys::process_group(sys::own_pid()) {
            let _ = sys::kill(self.leader, libc::SIGCONT);
        }
    }

    fn on_exec(&mut self, tid: Pid) -> Result<(), Errno> {
        self.exec_seen = true;
        let former = sys::event_msg(tid).map(|m| m as Pid).unwrap_or(tid);
        if former != tid {
            // A non-leader thread exec'ed and took the leader's id: its credentials and
            // Landlock domain are what the process has now.
            if crate::perform::creds::marked(former) {
                crate::perform::creds::mark([tid]);
            }
            crate::perform::guest_landlock::inherit(former, tid);
        }
        // After exec the thread is its process's leader; every other thread is gone.
        let mut thread = self.threads.remove(&former).or_else(|| self.threads.remove(&tid)).unwrap_or_else(|| Thread::new(tid));
        let ended: Vec<Pid> = self.threads.iter().filter(|(_, t)| t.tgid == tid).map(|(&t, _)| t).collect();
        for other in ended {
            if let Some(mut gone) = self.threads.remove(&other) {
                self.abandon(&mut gone);
            }
            // (`tid` itself lives on as the exec'ing thread, whatever its id was before.)
            if other != tid {
                crate::perform::guest_landlock::forget(other);
            }
        }
        if former != tid {
            crate::perform::guest_landlock::forget(former);
        }
        thread.tgid = tid;
        thread.redirects.clear();
        thread.unstarted = None;
        thread.pinned = None; // the old image's region is gone with it
        // Every process gets the host's area (stub page and pinned-argument region) at its
        // exec's exit, before it runs any code of its own.
        thread.wants_pin_region = true;
        // Exec keeps the mask and an ignored SIGILL, and makes every handler the default.
        thread.ill_blocked = sys::signal_mask(tid).is_ok_and(|mask| mask & (1 << (libc::SIGILL - 1)) != 0);
        self.threads.insert(tid, thread);
        let modules::Scan { modules, vdso } = self.images.scan(tid);
        let signals = crate::trap::sigstate::ProcessSignals::after_exec(sys::ignored_signals(tid).unwrap_or(0));
        let signal_filter = self.processes.get(&tid).map_or(SignalFilter::Absent, |p| p.signal_filter);
        self.processes.insert(tid, Process { modules, vdso, signals, signal_filter, ..Process::default() });
        self.prepare_sites(tid, true);
        if self.thread(tid).pending.is_some() || self.thread(tid).wants_pin_region {
            sys::cont_syscall(tid, 0) // the exec's result for the trace, or its exit for the region
        } else {
            self.resume(tid, 0)
        }
    }

    // ---- signals and traps --------------------------------------------------------------

    fn on_signal(&mut self, tid: Pid, signal: i32) -> Result<(), Errno> {
        if signal == libc::SIGSYS {
            if let Some((crate::launch::seccomp::FOREIGN_CALL, number, arch)) = sys::seccomp_trap(tid) {
                return self.refuse_foreign_call(tid, number, arch);
            }
        }
        if signal == libc::SIGILL || signal == libc::SIGTRAP {
            let regs = sys::get_regs(tid)?;
            if signal == libc::SIGTRAP {
                if let Some(stub) = self.stub(tid) {
                    if regs.rip == stub + inject::SLOW_TRAP_IP {
                        return self.finish_redirect(tid, regs);
                    }
                }
            }
            let encoding = if signal == libc::SIGILL { TrapEncoding::Ud2 } else { TrapEncoding::Int3 };
            let site_addr = encoding.site_from_stop_ip(regs.rip);
            if let Some(kind) = self.lookup_site(tid, site_addr, encoding) {
                match encoding {
                    TrapEncoding::Ud2 => self.stats.trap_ud2 += 1,
                    TrapEncoding::Int3 => self.stats.trap_int3 += 1,
                }
                if signal == libc::SIGILL {
                    let filter = self.processes.get(&self.tgid(tid)).map_or(SignalFilter::Absent, |p| p.signal_filter);
                    if filter == SignalFilter::Stacked {
                        self.undo_forced_sigill(tid);
                    } else if filter == SignalFilter::Absent {
                        // Trap sites in a module loaded since exec: followed from now on
                        // (this first trap's change, already made, stays: see README).
                        self.follow_signal_state(tid, inject::Follow::EntryAndExit);
                    }
                    if !self.threads.contains_key(&tid) {
                        return Ok(()); // it died meanwhile
                    }
                }
                return self.on_trap(tid, regs, site_addr, kind);
            }
        }
        if is_stop_signal(signal) && self.tgid(tid) == self.leader {
            let sent_for_guest = || {
                let pending = self.stops_sent_for_guest.get();
                self.stops_sent_for_guest.set(pending.saturating_sub(1));
                pending > 0
            };
            self.leader_stopped_from_outside = match sys::signal_sender(tid) {
                Ok(None) => true, // the terminal
                // From outside the PID namespace (0), or the host itself without one.
                Ok(Some(sender)) if sender == 0 || sender == sys::own_pid() => !sent_for_guest(),
                Ok(Some(_)) if self.settings.pid_namespace => false, // a guest process
                Ok(Some(sender)) => !self.processes.contains_key(&sender),
                Err(_) => false,
            };
        }
        self.stats.signals_forwarded += 1;
        self.note_delivery(tid, signal);
        sys::cont(tid, signal)
    }

    // ---- the guest's SIGILL state (see crate::trap::sigstate) ---------------------------

    /// `tid`'s call `number` that changes its signal state is about to run: the shadow follows
    /// (in a process whose state is followed at all).
    fn follow_signal_call(&mut self, tid: Pid, number: u64, args: &[u64; 6], rsp: u64) {
        use crate::trap::sigstate;
        let tgid = self.tgid(tid);
        if !self.processes.get(&tgid).is_some_and(|p| p.signal_filter == SignalFilter::Stacked) {
            return;
        }
        match number {
            nr::RT_SIGACTION => {
                if let Some(process) = self.processes.get_mut(&tgid) {
                    process.signals.on_sigaction(tid, args);
                }
            }
            nr::RT_SIGPROCMASK => {
                let thread = self.thread(tid);
                thread.ill_blocked = sigstate::after_sigprocmask(tid, args, thread.ill_blocked);
            }
            nr::RT_SIGRETURN => {
                let thread = self.thread(tid);
                thread.ill_blocked = sigstate::after_sigreturn(tid, rsp, thread.ill_blocked);
            }
            _ => {}
        }
    }

    /// `signal` is about to be delivered to `tid` from its delivery stop: if a handler takes
    /// it, the mask it runs with is the kernel's now (a `sigsuspend`'s or `ppoll`'s temporary
    /// one included) plus what the handler blocks.
    fn note_delivery(&mut self, tid: Pid, signal: i32) {
        let tgid = self.tgid(tid);
        let Some(process) = self.processes.get_mut(&tgid) else { return };
        if process.signal_filter != SignalFilter::Stacked || !process.signals.is_handled(signal) {
            return;
        }
        let Ok(mask) = sys::signal_mask(tid) else { return };
        let blocked = process.signals.on_delivery(signal, mask);
        self.thread(tid).ill_blocked = blocked;
    }

    /// Stacks the host's signal-state filter on the backstop of `tid`'s process (all its
    /// threads: `SECCOMP_FILTER_FLAG_TSYNC`), injected from the stub with the program copied
    /// into the pinned region, so that its new signal actions and masks stop in the host.
    /// Without it (no host area, or the kernel refused) the state is not followed. `follow`:
    /// see [`inject::Follow`] (single-stepped at the exec's exit).
    fn follow_signal_state(&mut self, tid: Pid, follow: inject::Follow) {
        use crate::launch::seccomp;
        const SECCOMP_SET_MODE_FILTER: u64 = 1;
        const SECCOMP_FILTER_FLAG_TSYNC: u64 = 1;
        let tgid = self.tgid(tid);
        let Some(process) = self.processes.get(&tgid) else { return };
        if process.signal_filter != SignalFilter::Absent {
            return;
        }
        let (Some(stub), Some(region)) = (process.stub, process.pin_region.clone()) else { return };
        let prog = seccomp::signal_state_filter();
        let Ok((_code_slot, code_at)) = region.pin_host_bytes(&seccomp::filter_bytes(&prog), true) else { return };
        // struct sock_fprog: the instruction count, padding, the instructions' address.
        let mut header = [0u8; 16];
        header[..2].copy_from_slice(&(prog.len() as u16).to_le_bytes());
        header[8..].copy_from_slice(&code_at.to_le_bytes());
        let Ok((_header_slot, header_at)) = region.pin_host_bytes(&header, true) else { return };
        let args = [SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, header_at, 0, 0, 0];
        let result = self.inject_following(tid, stub + inject::SLOW, nr::SECCOMP, args, follow);
        let outcome = match result {
            Some(0) => SignalFilter::Stacked,
            Some(raw) if self.threads.contains_key(&tid) => {
                crate::host_log!("trapbox: warning: pid {tgid}: the signal-state filter was refused ({raw:#x}); a trap may change its SIGILL handling");
                SignalFilter::Refused
            }
            _ => return, // the thread is gone
        };
        if let Some(process) = self.processes.get_mut(&tgid) {
            process.signal_filter = outcome;
        }
    }

    /// At a `ud2` trap of `tid`: the kernel's fault made an ignored or blocked `SIGILL` the
    /// default and unblocked it; the guest's own state goes back, through the injector, with
    /// the action and the set copied into the pinned region. Nothing to do (and no cost) when
    /// the guest neither ignored nor blocked it.
    fn undo_forced_sigill(&mut self, tid: Pid) {
        use crate::trap::sigstate::Forced;
        let blocked = self.threads.get(&tid).is_some_and(|t| t.ill_blocked);
        let Some(process) = self.processes.get(&self.tgid(tid)) else { return };
        let Some(forced) = Forced::undo(&process.signals, blocked) else { return };
        let (Some(stub), Some(region)) = (process.stub, process.pin_region.clone()) else { return };
        let sigill = libc::SIGILL as u64;
        if let Some(action) = forced.action {
            if let Ok((_slot, at)) = region.pin_host_bytes(&action, true) {
                self.inject(tid, stub + inject::SLOW, nr::RT_SIGACTION, [sigill, at, 0, 8, 0, 0]);
            }
        }
        if forced.block && self.threads.contains_key(&tid) {
            const SIG_BLOCK: u64 = 0;
            if let Ok((_slot, at)) = region.pin_host_bytes(&Forced::block_set(), true) {
                self.inject(tid, stub + inject::SLOW, nr::RT_SIGPROCMASK, [SIG_BLOCK, at, 0, 8, 0, 0]);
            }
        }
    }

    /// A call of another ABI than x86-64's (x32, i386 through `int 0x80`, a number with the
    /// x32 bit such as -1) that the backstop stopped before it ran (its `SIGSYS`, which the
    /// guest never gets): answered `ENOSYS`, as natively for a number no table has, and logged.
    fn refuse_foreign_call(&mut self, tid: Pid, number: i32, arch: u32) -> Result<(), Errno> {
        let mut regs = sys::get_regs(tid)?;
        regs.rax = errno::encode_error(errno::ENOSYS);
        sys::set_regs(tid, &regs)?;
        let abi = match arch {
            crate::launch::seccomp::AUDIT_ARCH_X86_64 if number as u32 & X32_SYSCALL_BIT != 0 => "the x32 ABI bit",
            crate::launch::seccomp::AUDIT_ARCH_X86_64 => "an unknown number",
            _ => "the i386 ABI (int 0x80 or sysenter)",
        };
        crate::host_log!("trapbox: denied call {number:#x} at {:#x} ({abi}): only x86-64 calls are served", regs.rip.wrapping_sub(2));
        self.resume(tid, 0)
    }

    /// The kind of the trap site at `addr`, if the module mapped there lists it. Rescans the
    /// maps once on a miss (a library loaded since, or a region remapped).
    fn lookup_site(&mut self, tid: Pid, addr: u64, encoding: TrapEncoding) -> Option<SiteKind> {
        let tgid = self.tgid(tid);
        let process = self.processes.entry(tgid).or_default();
        let known = modules::find(&process.modules, addr).copied();
        let served_as = self.settings.mechanism.encoding();
        if let Some(site) = known.and_then(|m| m.site(addr, encoding, served_as)) {
            return Some(site.kind);
        }
        // Rescan only for a file mapping the host has not seen: an unlisted trap in anonymous
        // memory or in a module already read is a genuine one.
        match sys::vma_at(tgid, addr) {
            Ok(None) => return None,
            Ok(Some(vma)) if !vma.executable || vma.inode == 0 => return None,
            Ok(Some(vma))
                if known.is_some_and(|m| (m.start, m.end, m.inode, m.device) == (vma.start, vma.end, vma.inode, vma.device)) =>
            {
                return None
            }
            _ => {}
        }
        self.stats.maps_scans += 1;
        let modules::Scan { modules, vdso } = self.images.scan(tgid);
        let process = self.processes.entry(tgid).or_default();
        process.modules = modules;
        process.vdso = vdso;
        let kind = modules::find(&process.modules, addr).and_then(|m| m.site(addr, encoding, served_as)).map(|s| s.kind);
        self.prepare_sites(tgid, false);
        kind
    }

    /// Makes the trap sites of `tgid`'s modules what this run serves: by default
    /// (`untrap_known`) the original `syscall` back over every site whose call number the
    /// rewriter inferred and whose disposition is `Native` (the backstop runs it with no stop
    /// at all) or `Traced` (the backstop stops it once, where a trap costs a trap stop plus
    /// that seccomp stop) — measured on this machine kind, a `find /usr` in rewritten busybox
    /// takes 3.6x as long as in the unrewritten one without this; with `--trap backstop`,
    /// `syscall` back at every site but the hostcalls'; with `--trap ud2` or `int3`, that trap
    /// over every other site. Safe by the backstop: a restored `syscall` reached with another
    /// number in `rax` is still filtered. Other threads may run meanwhile (`at_exec` false: a
    /// library loaded since), so the bytes are written in an order where every state between
    /// is a trap the host serves (see [`write_site`]).
    fn prepare_sites(&mut self, tgid: Pid, at_exec: bool) {
        let (mechanism, untrap_known) = (self.settings.mechanism, self.settings.untrap_known);
        if !untrap_known && mechanism == Mechanism::AsRewritten {
            return;
        }
        let Some(process) = self.processes.get_mut(&tgid) else { return };
        // (Most programs have no trap table: nothing to write, nothing to open.)
        if !process.modules.iter().any(|m| m.image.table.is_some() && !process.untrapped.contains(&m.start)) {
            return;
        }
        let Ok(mem) = std::fs::OpenOptions::new().write(true).open(format!("/proc/{tgid}/mem")) else { return };
        let (mut restored, mut reencoded) = (0u64, 0u64);
        for module in &process.modules {
            let Some(table) = module.image.table else { continue };
            if process.untrapped.contains(&module.start) {
                continue;
            }
            process.untrapped.push(module.start);
            let from = table.encoding().bytes();
            for site in table.iter() {
                let addr = site.addr.wrapping_add(module.bias);
                if addr < module.start || addr.saturating_add(TRAP_LEN) > module.end {
                    continue;
                }
                let Some(to) = site_bytes(mechanism, untrap_known, &site, table.encoding()) else { continue };
                if write_site(&mem, addr, from, to, at_exec).is_ok() {
                    if to == trapbox_abi::trap::SYSCALL_BYTES {
                        restored += 1;
                    } else {
                        reencoded += 1;
                    }
                }
            }
        }
        self.stats.sites_untrapped += restored;
        self.stats.sites_reencoded += reencoded;
    }

    fn finish_redirect(&mut self, tid: Pid, mut regs: Regs) -> Result<(), Errno> {
        let thread = self.thread(tid);
        while let Some(redirect) = thread.redirects.pop() {
            if redirect.rsp == regs.rsp {
                regs.rip = redirect.resume_at;
                sys::set_regs(tid, &regs)?;
                if let Some(call) = redirect.call {
                    self.emit(tid, &call, CallEnd::Value(regs.rax), Handling::Executed);
                }
                return self.resume(tid, 0);
            }
        }
        // Not ours: the guest jumped into the stub by itself; it gets its SIGTRAP.
        sys::cont(tid, libc::SIGTRAP)
    }

    /// Serves, at the exit of the skipped call, a hostcall a plain `syscall` made: the same
    /// service, result and trace line as at its trap.
    fn serve_hostcall_at_exit(&mut self, tid: Pid, number: u64, args: &[u64; 6], call: &PendingCall) -> Result<(), Errno> {
        let (raw, handling) = match self.stub_or_refusal(tid, number, args) {
            None => (errno::encode_error(errno::ENOSYS), Handling::Refused),
            Some(stub) => match self.serve_hostcall(tid, stub, number, args) {
                Some(raw) => (raw, Handling::Host),
                // The injection failed but the thread lives (its registers are restored).
                None if self.threads.contains_key(&tid) => (errno::encode_error(libc::EIO), Handling::Refused),
                None => return Ok(()), // the thread is gone (or asked to exit)
            },
        };
        let mut regs = sys::get_regs(tid)?;
        regs.rax = raw;
        sys::set_regs(tid, &regs)?;
        self.emit(tid, call, CallEnd::Value(raw), handling);
        self.resume(tid, 0)
    }

    /// Serves a hostcall that needs the injector (see [`crate::trap::hostcalls`]).
    fn serve_hostcall(&mut self, tid: Pid, stub: u64, number: u64, args: &[u64; 6]) -> Option<u64> {
        let tgid = self.tgid(tid);
        let mut mappings = self.processes.get_mut(&tgid).map(|p| std::mem::take(&mut p.mappings)).unwrap_or_default();
        let result = {
            let mut injector = StubInjector { debugger: self, stub };
            crate::trap::hostcalls::serve(&mut injector, &mut mappings, tid, number, args)
        };
        if let Some(process) = self.processes.get_mut(&tgid) {
            process.mappings = mappings;
        }
        result
    }

    /// Injects through the stub (or the vDSO before the stub exists); on the thread's death
    /// records its exit and reports `None`.
    fn inject(&mut self, tid: Pid, syscall_at: u64, number: u64, args: [u64; 6]) -> Option<u64> {
        self.inject_following(tid, syscall_at, number, args, inject::Follow::EntryAndExit)
    }

    /// [`Debugger::inject`], followed as `follow` says ([`inject::Follow::SingleStep`] only
    /// right after exec, before the process has run any code of its own).
    fn inject_following(&mut self, tid: Pid, syscall_at: u64, number: u64, args: [u64; 6], follow: inject::Follow) -> Option<u64> {
        let call = inject::InjectedCall { syscall_at, number, args, follow };
        self.injecting(tid, |held, deferred| inject::inject_syscall(tid, call, held, deferred))
    }

    /// Runs one injection into `tid` (with the signals held for it and the queue for other
    /// threads' events) and settles its outcome.
    fn injecting(
        &mut self,
        tid: Pid,
        injection: impl FnOnce(&mut Vec<i32>, &mut VecDeque<(Pid, WaitStatus)>) -> Result<u64, InjectError>,
    ) -> Option<u64> {
        let mut held = std::mem::take(&mut self.thread(tid).held_signals);
        let result = injection(&mut held, &mut self.deferred);
        self.thread(tid).held_signals = held;
        self.settle_injection(tid, result)
    }

    fn settle_injection(&mut self, tid: Pid, result: Result<u64, InjectError>) -> Option<u64> {
        self.stats.injections += 1;
        if matches!(result, Err(InjectError::Gone(_) | InjectError::Replaced(_))) {
            self.stats.injections_lost += 1;
        }
        match result {
            Ok(value) => Some(value),
            Err(InjectError::Gone(Some(status))) => {
                self.on_exit(tid, status);
                None
            }
            Err(InjectError::Gone(None)) => None,
            Err(InjectError::Replaced(status)) => {
                // The thread is gone; its id is the exec'ing thread's now, whose exec event the
                // loop takes as it came (its record moves to this id there).
                if let Some(mut gone) = self.threads.remove(&tid) {
                    self.abandon(&mut gone);
                }
                self.deferred.push_back((tid, status));
                None
            }
            Err(_) if self.program_gone() => None, // killed with the rest of the guest
            Err(err @ (InjectError::Failed(_) | InjectError::Diverted(_))) => {
                crate::host_log!("trapbox: warning: injection into thread {tid} failed: {err}");
                None
            }
        }
    }

    /// The stub page of `tid`'s process: made with the pinned-argument region right after exec
    /// ([`crate::trap::pinned::create`]); a process where that failed has none, and its calls that
    /// would need it are refused.
    fn stub_or_refusal(&self, tid: Pid, number: u64, args: &[u64; 6]) -> Option<u64> {
        let stub = self.stub(tid);
        if stub.is_none() {
            crate::host_log!(
                "trapbox: refused {}: this process has no stub page (see the warning at its exec), so the call cannot be run for it",
                trace::format_call(tid, number, args)
            );
        }
        stub
    }

    fn on_trap(&mut self, tid: Pid, mut regs: Regs, site: u64, kind: SiteKind) -> Result<(), Errno> {
        let resume_at = TrapEncoding::resume_ip(site);
        let number = regs.rax;
        let args = args_of(&regs);
        if kind != SiteKind::Syscall {
            self.stats.trap_refused += 1;
            crate::host_log!(
                "trapbox: refused `{}` at {site:#x} in pid {tid}: a 64-bit guest may not use the 32-bit system-call gate",
                kind.name()
            );
            return self.answer_trap(tid, regs, resume_at, number, &args, errno::encode_error(errno::ENOSYS), Handling::Refused);
        }
        let no_stub = errno::encode_error(errno::ENOSYS);
        if self.settings.inject_probe {
            let Some(stub) = self.stub_or_refusal(tid, number, &args) else {
                return self.answer_trap(tid, regs, resume_at, number, &args, no_stub, Handling::Refused);
            };
            let tgid = self.guest_visible_pid(tid);
            match self.inject(tid, stub + inject::SLOW, nr::GETPID, [0; 6]) {
                Some(pid) if pid == tgid as u64 => {}
                Some(other) => crate::host_log!("trapbox: injector probe: getpid returned {other:#x}, expected {tgid}"),
                None => return Ok(()), // the thread is gone
            }
        }
        if hostcall::is_hostcall(number) && !hostcall::is_embedder_hostcall(number) && crate::trap::hostcalls::answer(number, &args).is_none() {
            let Some(stub) = self.stub_or_refusal(tid, number, &args) else {
                return self.answer_trap(tid, regs, resume_at, number, &args, no_stub, Handling::Refused);
            };
            return match self.serve_hostcall(tid, stub, number, &args) {
                Some(raw) => {
                    self.stats.trap_host += 1;
                    self.answer_trap(tid, regs, resume_at, number, &args, raw, Handling::Host)
                }
                // The injection failed but the thread lives (its registers are restored):
                // the hostcall fails, it never hangs.
                None if self.threads.contains_key(&tid) => {
                    self.answer_trap(tid, regs, resume_at, number, &args, errno::encode_error(libc::EIO), Handling::Refused)
                }
                None => Ok(()), // the thread is gone (or asked to exit)
            };
        }
        // The x32 bit: run it through the stub so the backstop kills the process, exactly as
        // it would for an unrewritten `syscall`.
        let verdict = if number & u64::from(X32_SYSCALL_BIT) != 0 && number < (1 << 32) {
            Verdict::Execute
        } else {
            self.decide(tid, number, &args)
        };
        match verdict {
            Verdict::Answer(v) => {
                self.stats.trap_host += 1;
                self.answer_trap(tid, regs, resume_at, number, &args, v, Handling::Host)
            }
            Verdict::Refuse(e) => {
                self.stats.trap_refused += 1;
                self.answer_trap(tid, regs, resume_at, number, &args, errno::encode_error(e), Handling::Refused)
            }
            // A call that may wait goes through the stub too: at its seccomp stop there it is
            // handed to a worker thread (this first look performed nothing of it).
            Verdict::Execute | Verdict::Perform(_) => {
                if crate::trap::sigstate::follows(number) {
                    self.follow_signal_call(tid, number, &args, regs.rsp);
                }
                let Some(stub) = self.stub_or_refusal(tid, number, &args) else {
                    return self.answer_trap(tid, regs, resume_at, number, &args, no_stub, Handling::Refused);
                };
                let traced_native = self.observing()
                    && syscalls::entry(number).is_some_and(|e| e.disposition == Disposition::Native);
                // These cannot use the fast path: vfork's child and clone's or clone3's child
                // would `ret` through a stack they do not own, and rt_sigreturn reads its frame
                // at rsp.
                let needs_slow = matches!(number, nr::VFORK | nr::CLONE | nr::CLONE3 | nr::RT_SIGRETURN) || traced_native;
                if !needs_slow {
                    let slot = regs.rsp.wrapping_sub(inject::FAST_STACK_DROP);
                    if sys::poke(tid, slot, resume_at).is_ok() {
                        self.stats.trap_fast += 1;
                        regs.rsp = slot;
                        regs.rip = stub + inject::FAST;
                        sys::set_regs(tid, &regs)?;
                        return self.resume(tid, 0);
                    }
                    // The stack page below rsp is not mapped yet (ptrace does not grow stacks).
                }
                self.stats.trap_slow += 1;
                if number != nr::RT_SIGRETURN {
                    let call = traced_native.then(|| self.describe(tid, number, &args, Route::Trap));
                    let thread = self.thread(tid);
                    if thread.redirects.len() >= MAX_REDIRECTS {
                        thread.redirects.remove(0);
                    }
                    thread.redirects.push(Redirect { rsp: regs.rsp, resume_at, call });
                }
                regs.rip = stub + inject::SLOW;
                sys::set_regs(tid, &regs)?;
                self.resume(tid, 0)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_trap(
        &mut self,
        tid: Pid,
        mut regs: Regs,
        resume_at: u64,
        number: u64,
        args: &[u64; 6],
        raw: u64,
        handling: Handling,
    ) -> Result<(), Errno> {
        regs.rax = raw;
        regs.rip = resume_at;
        sys::set_regs(tid, &regs)?;
        if self.observing() {
            let call = self.describe(tid, number, args, Route::Trap);
            self.emit(tid, &call, CallEnd::Value(raw), handling);
        }
        self.resume(tid, 0)
    }
}

const _: () = assert!(TRAP_LEN == 2);

/// What the run leaves at a trap `site` of a table written with `encoding`, if not the
/// table's own trap (see [`Debugger::prepare_sites`]). The 32-bit gates stay traps (refused
/// with ENOSYS); so do hostcall sites under `--trap backstop` (a plain `syscall` serves only
/// `version`).
fn site_bytes(mechanism: Mechanism, untrap_known: bool, site: &trapbox_abi::table::TrapSite, encoding: TrapEncoding) -> Option<[u8; 2]> {
    let number = site.nr.map(u64::from);
    let restore = site.kind == SiteKind::Syscall
        && match mechanism {
            Mechanism::Backstop => !number.is_some_and(hostcall::is_hostcall),
            _ => untrap_known && number.and_then(syscalls::entry).is_some_and(|e| matches!(e.disposition, Disposition::Native | Disposition::Traced)),
        };
    if restore {
        return Some(trapbox_abi::trap::SYSCALL_BYTES);
    }
    mechanism.encoding().filter(|&served| served != encoding).map(TrapEncoding::bytes)
}

/// Writes `to` over the two bytes `from` at `addr` of a guest's memory. At exec (no other
/// thread) both at once; otherwise one byte at a time, in the order that keeps every state
/// between a trap the host serves or the final bytes: an `int3` first byte (`CC`) goes last,
/// so `CC 90` passes through `CC 0B` or `CC 05` (still an `int3`); any other first byte goes
/// first, so `0F 0B` becomes `CC 0B` (an `int3`) or `0F 05` directly.
fn write_site(mem: &std::fs::File, addr: u64, from: [u8; 2], to: [u8; 2], at_exec: bool) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    if at_exec {
        return mem.write_all_at(&to, addr);
    }
    let order = if from[0] == 0xCC { [1, 0] } else { [0, 1] };
    for i in order {
        if from[i] != to[i] {
            mem.write_all_at(&to[i..=i], addr + i as u64)?;
        }
    }
    Ok(())
}

/// The signals that stop a process (job control's and SIGSTOP).
fn is_stop_signal(signal: i32) -> bool {
    matches!(signal, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}
