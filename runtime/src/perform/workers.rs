//! Host threads that perform guest calls off the directfs thread and the debugger, so that one
//! guest thread's call that waits (an open of a FIFO with no partner, a device, a file on a
//! filesystem that may be slow; a connect to a listener whose backlog is full) never holds up
//! another's, and so that the opens of a guest that restricted itself with Landlock run on a
//! host thread under the same Landlock domain.
//!
//! An [`Executor`] is a queue of jobs and the threads that take them. It starts a thread when a
//! job arrives and none is idle — its first always, further ones while the [`SHARED_WORKERS`]
//! budget shared by every executor lasts — and otherwise keeps the job queued, first come first
//! served, until a thread is free: a call is never lost, and what waits is a guest thread whose
//! call would block natively too. Threads stay until their executor is closed; then each ends
//! once the queue is empty, giving its share of the budget back.
//!
//! An executor made for a guest Landlock domain has each of its threads enter that domain before
//! its first job ([`crate::perform::guest_landlock::Domain::enter`]); [`DomainExecutors`] keeps
//! one for each of at most [`MAX_DOMAINS`] domains that some guest thread still holds, closes
//! the executor of a domain no guest thread holds any more (its processes exited), and past the
//! bound gives each job a transient executor of its own, whose one thread enters the domain,
//! performs the job and ends: slower (a thread start per call), never a wrong answer.
//!
//! A call whose guest thread stops waiting for it (the thread is killed, or a signal
//! interrupts it) is interrupted in turn: its worker is signalled out of its wait
//! ([`UnderWay`], [`interrupt_where`]), so no worker waits for ever for nobody, and the call of
//! a thread that died ends before the guest can see it die ([`end_calls_of`]). The debugger's
//! handed-over calls wait only in [`syscall`], where no interruption is lost however early it
//! comes (directfs's opens do not yet: its reaper asks again every second).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::perform::guest_landlock::Domain;
use crate::sys::Pid;

/// Threads that all executors together may start beyond the first of each: the bound on host
/// calls that wait at once (64, as the bound on calls in flight in the pinned region).
pub const SHARED_WORKERS: usize = 64;
/// Guest Landlock domains held by live guest threads that the host keeps threads for at once
/// (one idle thread each at least); the opens of further ones get a thread per call.
pub const MAX_DOMAINS: usize = 32;

/// Threads of [`SHARED_WORKERS`] started so far.
static SHARED_STARTED: AtomicUsize = AtomicUsize::new(0);

fn take_shared_slot() -> bool {
    SHARED_STARTED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < SHARED_WORKERS).then_some(n + 1)).is_ok()
}

fn give_back_shared_slot() {
    SHARED_STARTED.fetch_sub(1, Ordering::Relaxed);
}

/// What a worker thread is ready for: `Ok`, or the errno every job it takes is refused with
/// (it could not enter its Landlock domain, so it must not act for the guest at all).
pub type Readiness = Result<(), i32>;

/// A queue of jobs of type `J` and the host threads that run them with `handler`.
#[allow(missing_debug_implementations)] // jobs hold notifications and fds, nothing to print
pub struct Executor<J: Send + 'static> {
    handler: fn(J, Readiness),
    domain: Option<Arc<Domain>>,
    state: Mutex<State<J>>,
    wake: Condvar,
}

struct State<J> {
    queue: VecDeque<J>,
    /// Threads waiting for a job.
    idle: usize,
    /// Threads started and not ended: the first of them is the executor's own, each other
    /// holds a share of [`SHARED_WORKERS`].
    threads: usize,
    /// Threads end once the queue is empty (the executor is no longer needed).
    closing: bool,
}

impl<J: Send + 'static> Executor<J> {
    /// An executor whose threads run each job with `handler`, inside `domain` when one is given.
    pub fn new(handler: fn(J, Readiness), domain: Option<Arc<Domain>>) -> Arc<Executor<J>> {
        Self::with_state(handler, domain, false)
    }

    /// An executor for one job: its thread ends when the job is done.
    pub fn transient(handler: fn(J, Readiness), domain: Option<Arc<Domain>>) -> Arc<Executor<J>> {
        Self::with_state(handler, domain, true)
    }

    fn with_state(handler: fn(J, Readiness), domain: Option<Arc<Domain>>, closing: bool) -> Arc<Executor<J>> {
        let state = State { queue: VecDeque::new(), idle: 0, threads: 0, closing };
        Arc::new(Executor { handler, domain, state: Mutex::new(state), wake: Condvar::new() })
    }

    /// From now on each thread ends once the queue is empty (jobs queued are still done).
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.closing = true;
        self.wake.notify_all();
    }

    /// The Landlock domain this executor's threads enter.
    pub fn domain(&self) -> Option<&Arc<Domain>> {
        self.domain.as_ref()
    }

    /// Queues `job` for a thread of this executor, starting one if none is idle and the budget
    /// allows. `Err(job)` only when no thread exists nor can be started (the host is out of
    /// threads), so nothing would ever take it: the caller answers it.
    pub fn submit(self: &Arc<Self>, job: J) -> Result<(), J> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(job);
        if state.queue.len() <= state.idle {
            self.wake.notify_one();
            return Ok(());
        }
        if state.threads == 0 || take_shared_slot() {
            let executor = Arc::clone(self);
            let started = std::thread::Builder::new().name("trapbox-worker".into()).spawn(move || executor.work());
            match started {
                Ok(_) => state.threads += 1,
                Err(err) if state.threads == 0 => {
                    crate::host_log!("trapbox: warning: cannot start a host worker thread ({err})");
                    return Err(state.queue.pop_back().expect("the job just queued"));
                }
                Err(_) => {} // the threads there are take it in turn
            }
        }
        Ok(())
    }

    fn work(self: Arc<Self>) {
        let readiness = match &self.domain {
            Some(domain) => domain.enter().map_err(|errno| {
                crate::host_log!(
                    "trapbox: warning: a host thread could not enter a guest's Landlock domain (errno {errno}); the opens it takes are refused"
                );
                libc::EACCES
            }),
            None => Ok(()),
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                (self.handler)(job, readiness);
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if state.closing {
                state.threads -= 1;
                if state.threads > 0 {
                    give_back_shared_slot();
                }
                return;
            }
            state.idle += 1;
            state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
        }
    }
}

/// The executors of guest Landlock domains (see the module doc).
#[allow(missing_debug_implementations)] // see Executor
pub struct DomainExecutors<J: Send + 'static> {
    handler: fn(J, Readiness),
    executors: Mutex<Vec<Arc<Executor<J>>>>,
}

impl<J: Send + 'static> DomainExecutors<J> {
    /// No executor yet; each will run its jobs with `handler`.
    pub fn new(handler: fn(J, Readiness)) -> DomainExecutors<J> {
        DomainExecutors { handler, executors: Mutex::new(Vec::new()) }
    }

    /// The executor for a job of a guest thread under `domain`: the domain's own (made now if
    /// it has none and fewer than [`MAX_DOMAINS`] have one), or a transient one past that
    /// bound. Executors of domains no guest thread holds any more are closed first.
    pub fn for_domain(&self, domain: &Arc<Domain>) -> Arc<Executor<J>> {
        let mut executors = self.executors.lock().unwrap_or_else(|e| e.into_inner());
        executors.retain(|executor| {
            let held = executor.domain().is_some_and(|d| d.is_held());
            if !held {
                executor.close();
            }
            held
        });
        if let Some(executor) = executors.iter().find(|e| e.domain().is_some_and(|d| Arc::ptr_eq(d, domain))) {
            return Arc::clone(executor);
        }
        if executors.len() >= MAX_DOMAINS {
            return Executor::transient(self.handler, Some(Arc::clone(domain)));
        }
        let executor = Executor::new(self.handler, Some(Arc::clone(domain)));
        executors.push(Arc::clone(&executor));
        executor
    }

    /// How many domains have an executor of their own (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.executors.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A call a worker thread is performing for a guest thread, by the name its owner knows it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnderWayCall {
    /// directfs's open answering this user notification.
    Notification(u64),
    /// The debugger's call handed over with this serial ([`crate::trap::events`]).
    HandedOver(u64),
}

/// One call under way: handed to an executor, then performed on a worker thread.
struct Entry {
    call: UnderWayCall,
    /// The guest thread it is performed for.
    guest: Pid,
    /// The worker thread performing it, once one took it.
    thread: Option<libc::pthread_t>,
    /// Set (non-zero) once the call is to be interrupted: [`syscall`] then does not begin to
    /// wait, or stops waiting, however the signal and the worker's steps interleave.
    interrupted: Arc<AtomicU32>,
}

/// Calls under way, from their hand-over to their end.
static UNDER_WAY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
/// Wakes [`end_calls_of`]: a call left [`UNDER_WAY`].
static LEFT: Condvar = Condvar::new();

thread_local! {
    /// The interruption flag of the call this thread performs, for [`syscall`].
    static CURRENT: std::cell::RefCell<Option<Arc<AtomicU32>>> = const { std::cell::RefCell::new(None) };
}

fn under_way() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    UNDER_WAY.lock().unwrap_or_else(|e| e.into_inner())
}

/// An entry of the calls under way, made when a call is handed over (before any worker takes
/// it: a guest thread may die while its call waits in a queue) and dropped when it is done, so
/// that [`interrupt_where`] and [`end_calls_of`] find it all along.
#[derive(Debug)]
pub struct UnderWay {
    call: UnderWayCall,
    interrupted: Arc<AtomicU32>,
}

impl UnderWay {
    /// `call` for guest thread `guest` is handed over; its job carries this entry.
    pub fn register(call: UnderWayCall, guest: Pid) -> UnderWay {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(install_interrupt_handler);
        let interrupted = Arc::new(AtomicU32::new(0));
        under_way().push(Entry { call, guest, thread: None, interrupted: Arc::clone(&interrupted) });
        UnderWay { call, interrupted }
    }

    /// The calling worker thread performs the call from now on; the calls in it that may wait
    /// go through [`syscall`]. Whether it was interrupted already (then there is no point).
    pub fn start(&self) -> bool {
        // SAFETY: pthread_self takes nothing and cannot fail.
        let thread = unsafe { libc::pthread_self() };
        let mut under_way = under_way();
        if let Some(entry) = under_way.iter_mut().find(|entry| entry.call == self.call) {
            entry.thread = Some(thread);
        }
        drop(under_way);
        CURRENT.with(|current| *current.borrow_mut() = Some(Arc::clone(&self.interrupted)));
        self.interrupted.load(Ordering::Acquire) != 0
    }
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        under_way().retain(|entry| entry.call != self.call);
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            if current.as_ref().is_some_and(|flag| Arc::ptr_eq(flag, &self.interrupted)) {
                *current = None;
            }
        });
        LEFT.notify_all();
    }
}

/// Marks `entry` interrupted and signals its thread out of a wait it is in.
fn interrupt(entry: &Entry) {
    // The flag first: a worker that has not begun to wait yet sees it and does not begin.
    entry.interrupted.store(1, Ordering::Release);
    if let Some(thread) = entry.thread {
        // SAFETY: `thread` is a live worker thread: its call is in UNDER_WAY, whose lock the
        // caller holds, and leaves it (under that lock) before the thread takes another or ends.
        unsafe { libc::pthread_kill(thread, interrupt_signal()) };
    }
}

/// Interrupts every worker thread's call for which `abandoned` says so: the call it waits in,
/// or is about to wait in, ends with EINTR (see [`syscall`]).
pub fn interrupt_where(mut abandoned: impl FnMut(UnderWayCall) -> bool) {
    // Held while signalling: a worker leaves UNDER_WAY (taking the lock) before it takes its
    // next job or ends, so the signal never reaches a job it was not meant for.
    let under_way = under_way();
    for entry in under_way.iter() {
        if abandoned(entry.call) {
            interrupt(entry);
        }
    }
}

/// Guest thread `guest` is gone (its exit is about to be taken): interrupts every call a
/// worker performs for it, telling `ended` of each while the worker is still in it (so before
/// the worker answers), and, for the debugger's handed-over calls, waits until their workers
/// have left them (a call no worker took yet is not waited for: whoever takes it finds it
/// interrupted before it begins).
///
/// Natively a thread's wait ends when it is killed, before anyone can see it exit; the host
/// must not let its worker's call outlive that either. Otherwise, once the guest sees the
/// exit (its parent's `waitpid`), what it does next can meet the worker's call still under
/// way: an accept that makes room in a listener's backlog lets the dead thread's connect in,
/// and the next connect waits for ever (run_host_calls' abandon test, unpinned). A
/// handed-over call waits only in [`syscall`], so its worker leaves at once; directfs's opens
/// are interrupted but not waited for (an open of a slow filesystem may wait in calls that no
/// signal ends).
pub fn end_calls_of(guest: Pid, mut ended: impl FnMut(UnderWayCall)) {
    let mut under_way = under_way();
    for entry in under_way.iter().filter(|entry| entry.guest == guest) {
        ended(entry.call);
        interrupt(entry);
    }
    let waited_for = |entry: &Entry| entry.guest == guest && entry.thread.is_some() && matches!(entry.call, UnderWayCall::HandedOver(_));
    while under_way.iter().any(waited_for) {
        under_way = LEFT.wait(under_way).unwrap_or_else(|e| e.into_inner());
    }
}

/// The raw call `number(args)` (the result or `-errno`), for a call a worker may wait in: one
/// that [`interrupt_where`] or [`end_calls_of`] interrupts ends with `-EINTR`, whether the
/// signal comes while it waits or before it began to (a flag checked after the signal could
/// come would still leave a moment between the check and the call; here the signal handler
/// itself moves a thread caught in that moment to the `-EINTR` exit). Outside a call under
/// way, a plain raw call.
///
/// # Safety
/// As for `libc::syscall`: the arguments must be what call `number` takes (pointers to memory
/// valid for what the kernel reads or writes there).
pub unsafe fn syscall(number: libc::c_long, args: [u64; 6]) -> i64 {
    static NEVER: AtomicU32 = AtomicU32::new(0);
    CURRENT.with(|current| {
        let current = current.borrow();
        let flag = current.as_deref().unwrap_or(&NEVER);
        // SAFETY: the stub reads the live flag, then makes the raw call with the six arguments
        // the caller vouches for; it clobbers only what the C ABI lets a callee clobber.
        unsafe { trapbox_interruptible_syscall(flag.as_ptr(), number, args.as_ptr()) }
    })
}

extern "C" {
    /// `interruptible_syscall(flag, number, args)`: `-EINTR` if `*flag` is non-zero, else the
    /// raw call `number(args[0..6])`.
    fn trapbox_interruptible_syscall(flag: *const u32, number: libc::c_long, args: *const u64) -> i64;
    /// The first instruction at which the flag is not yet read (from here up to and including
    /// the `syscall` instruction, the call has not begun).
    static trapbox_interruptible_window: u8;
    /// The `syscall` instruction.
    static trapbox_interruptible_entry: u8;
    /// Where a call interrupted before it began returns `-EINTR`.
    static trapbox_interruptible_cancelled: u8;
}

// The flag's address stays in rbx, which the kernel leaves alone (rcx and r11 the `syscall`
// instruction takes), so the handler finds it there at any point of the window.
std::arch::global_asm!(
    ".pushsection .text.trapbox_interruptible,\"ax\",@progbits",
    ".p2align 4",
    ".globl trapbox_interruptible_syscall",
    ".hidden trapbox_interruptible_syscall",
    ".type trapbox_interruptible_syscall,@function",
    "trapbox_interruptible_syscall:",
    "push rbx",
    "mov rbx, rdi",
    "mov rax, rsi",
    "mov r11, rdx",
    "mov rdi, [r11]",
    "mov rsi, [r11 + 8]",
    "mov rdx, [r11 + 16]",
    "mov r10, [r11 + 24]",
    "mov r8, [r11 + 32]",
    "mov r9, [r11 + 40]",
    ".globl trapbox_interruptible_window",
    ".hidden trapbox_interruptible_window",
    "trapbox_interruptible_window:",
    "cmp dword ptr [rbx], 0",
    "jne trapbox_interruptible_cancelled",
    ".globl trapbox_interruptible_entry",
    ".hidden trapbox_interruptible_entry",
    "trapbox_interruptible_entry:",
    "syscall",
    "pop rbx",
    "ret",
    ".globl trapbox_interruptible_cancelled",
    ".hidden trapbox_interruptible_cancelled",
    "trapbox_interruptible_cancelled:",
    "mov rax, -4",
    "pop rbx",
    "ret",
    ".size trapbox_interruptible_syscall, . - trapbox_interruptible_syscall",
    ".popsection",
);

/// The signal that interrupts a worker thread's wait.
fn interrupt_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

/// Makes [`interrupt_signal`] interrupt a waiting call (EINTR, not restarted) and move a
/// thread about to begin one whose flag is set to [`syscall`]'s `-EINTR` exit; only
/// [`interrupt`] sends it, to worker threads only.
fn install_interrupt_handler() {
    extern "C" fn interrupted(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
        // SAFETY: the kernel passes the interrupted thread's ucontext, valid for the handler's
        // run; only the addresses of the stub's labels are taken.
        unsafe {
            let gregs = &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs;
            let rip = gregs[libc::REG_RIP as usize] as usize;
            let window = std::ptr::addr_of!(trapbox_interruptible_window) as usize;
            let entry = std::ptr::addr_of!(trapbox_interruptible_entry) as usize;
            if (window..=entry).contains(&rip) {
                // In the window rbx holds the flag's address (see the stub). A signal meant
                // for an earlier call of this thread finds the flag clear and changes nothing.
                let flag = &*(gregs[libc::REG_RBX as usize] as *const AtomicU32);
                if flag.load(Ordering::Acquire) != 0 {
                    gregs[libc::REG_RIP as usize] = std::ptr::addr_of!(trapbox_interruptible_cancelled) as i64;
                }
            }
        }
    }
    // SAFETY: sigaction is plain data; zero is a valid value of it.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = interrupted as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
    action.sa_flags = libc::SA_SIGINFO; // no SA_RESTART: a wait ends with EINTR
    // SAFETY: installs a handler that only reads and moves the interrupted context
    // (async-signal-safe) for a signal nothing else in the host uses.
    unsafe { libc::sigaction(interrupt_signal(), &action, std::ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    static DONE: Mutex<Option<mpsc::Sender<u32>>> = Mutex::new(None);

    fn report(job: (u32, Arc<(Mutex<bool>, Condvar)>), _: Readiness) {
        let (id, gate) = job;
        let (open, cond) = &*gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cond.wait(open).unwrap();
        }
        if let Some(tx) = DONE.lock().unwrap().as_ref() {
            let _ = tx.send(id);
        }
    }

    /// Jobs that wait do not hold up the next one: each gets a thread of its own.
    #[test]
    fn a_waiting_job_does_not_hold_up_the_next() {
        let (tx, rx) = mpsc::channel();
        *DONE.lock().unwrap() = Some(tx);
        let executor = Executor::new(report, None);
        let closed = Arc::new((Mutex::new(false), Condvar::new()));
        let open = Arc::new((Mutex::new(true), Condvar::new()));
        assert!(executor.submit((1, Arc::clone(&closed))).is_ok());
        assert!(executor.submit((2, open)).is_ok());
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Ok(2), "the second job ran while the first waited");
        *closed.0.lock().unwrap() = true;
        closed.1.notify_all();
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Ok(1));
    }

    type Gate = Arc<(Mutex<bool>, Condvar)>;

    fn after_gate(job: (Gate, mpsc::Sender<()>), _: Readiness) {
        let (gate, done) = job;
        let mut open = gate.0.lock().unwrap();
        while !*open {
            open = gate.1.wait(open).unwrap();
        }
        let _ = done.send(());
    }

    fn threads_of<J: Send + 'static>(executor: &Executor<J>) -> usize {
        executor.state.lock().unwrap().threads
    }

    /// A closed executor still does every job queued, then each of its threads ends.
    #[test]
    fn a_closed_executor_finishes_its_queue_then_ends_its_threads() {
        let executor = Executor::new(after_gate, None);
        let gate: Gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (tx, rx) = mpsc::channel();
        for _ in 0..3 {
            assert!(executor.submit((Arc::clone(&gate), tx.clone())).is_ok());
        }
        assert!(threads_of(&executor) >= 1);
        executor.close();
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        for job in 0..3 {
            assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Ok(()), "job {job} was done");
        }
        // Each thread ends as it finds the queue empty (a bound only for a failure).
        let ended = (0..1000).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            threads_of(&executor) == 0
        });
        assert!(ended, "{} threads still run", threads_of(&executor));
    }

    /// A pipe's two ends, the read end first.
    fn pipe() -> [i32; 2] {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        fds
    }

    fn close(fd: i32) {
        // SAFETY: `fd` is this test's own.
        unsafe { libc::close(fd) };
    }

    /// A read of an empty pipe waits in [`syscall`] until its call is interrupted, and ends
    /// with EINTR wherever the worker is when the interruption comes: not yet begun, just
    /// before the `syscall` instruction, or waiting in it. (Before the flag, a signal that came
    /// before the wait began was lost, and the worker waited for ever.) The rounds cover the
    /// orders; none may hang.
    #[test]
    fn an_interruption_is_never_lost_however_early_it_comes() {
        for round in 0..300u64 {
            let [read_end, write_end] = pipe();
            let call = UnderWayCall::Notification(u64::MAX - round);
            let under_way = UnderWay::register(call, -1);
            let worker = std::thread::spawn(move || {
                under_way.start();
                let mut byte = 0u8;
                // SAFETY: a one-byte read into a live byte.
                unsafe { syscall(libc::SYS_read, [read_end as u64, &mut byte as *mut u8 as u64, 1, 0, 0, 0]) }
            });
            if round % 3 == 1 {
                std::thread::yield_now();
            }
            interrupt_where(|c| c == call);
            assert_eq!(worker.join().unwrap(), -i64::from(libc::EINTR), "round {round}");
            close(read_end);
            close(write_end);
        }
    }

    /// [`end_calls_of`] returns only once the handed-over calls of the guest thread that died
    /// have left their workers (those of other threads go on), and tells of each.
    #[test]
    fn ending_a_dead_threads_calls_waits_until_their_workers_left_them() {
        for round in 0..100u64 {
            let [read_end, write_end] = pipe();
            let (dead, alive) = (UnderWayCall::HandedOver(u64::MAX - 2 * round), UnderWayCall::HandedOver(u64::MAX - 2 * round - 1));
            let (started, ready) = mpsc::channel();
            let workers: Vec<_> = [(dead, 7_000_001), (alive, 7_000_002)]
                .into_iter()
                .map(|(call, guest)| {
                    let under_way = UnderWay::register(call, guest);
                    let started = started.clone();
                    std::thread::spawn(move || {
                        under_way.start();
                        let _ = started.send(());
                        let mut byte = 0u8;
                        // SAFETY: a one-byte read into a live byte.
                        unsafe { syscall(libc::SYS_read, [read_end as u64, &mut byte as *mut u8 as u64, 1, 0, 0, 0]) }
                    })
                })
                .collect();
            ready.recv().unwrap();
            ready.recv().unwrap();
            let mut told = Vec::new();
            end_calls_of(7_000_001, |call| told.push(call));
            assert_eq!(told, [dead]);
            let left = |call| !under_way().iter().any(|entry| entry.call == call);
            assert!(left(dead), "round {round}: the dead thread's call is over");
            assert!(!left(alive), "round {round}: the other still waits");
            // SAFETY: a one-byte write from a live byte into this test's pipe.
            assert_eq!(unsafe { libc::write(write_end, [1u8].as_ptr().cast(), 1) }, 1);
            let results: Vec<i64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
            assert_eq!(results, [-i64::from(libc::EINTR), 1], "round {round}");
            close(read_end);
            close(write_end);
        }
    }

    /// The executor of a domain no guest thread holds any more is closed, one domain keeps
    /// one executor, and past MAX_DOMAINS held at once a job gets a transient executor.
    #[test]
    fn executors_are_kept_for_held_domains_only_and_never_past_the_bound() {
        use crate::perform::guest_landlock::testing::held_domain;
        let executors = DomainExecutors::new(after_gate);
        let (first, first_record) = held_domain();
        let kept = executors.for_domain(&first);
        assert!(Arc::ptr_eq(&kept, &executors.for_domain(&first)), "one domain, one executor");
        drop(first_record);
        let (second, _second_record) = held_domain();
        executors.for_domain(&second);
        assert_eq!(executors.kept(), 1, "only the held domain keeps an executor");
        assert!(kept.state.lock().unwrap().closing, "the other was closed");
        let held: Vec<_> = (1..MAX_DOMAINS).map(|_| held_domain()).collect();
        for (domain, _) in &held {
            assert!(!executors.for_domain(domain).state.lock().unwrap().closing);
        }
        assert_eq!(executors.kept(), MAX_DOMAINS);
        let (one_more, _record) = held_domain();
        assert!(executors.for_domain(&one_more).state.lock().unwrap().closing, "past the bound: an executor for the one job");
        assert_eq!(executors.kept(), MAX_DOMAINS);
    }
}
