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
//! ([`UnderWay`], [`interrupt_where`]), so no worker waits for ever for nobody.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::perform::guest_landlock::Domain;

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

/// Calls under way on worker threads, with the thread each runs on.
static UNDER_WAY: Mutex<Vec<(UnderWayCall, libc::pthread_t)>> = Mutex::new(Vec::new());

/// An entry of the calls under way for as long as this worker thread performs one call, so
/// that [`interrupt_where`] can end its wait.
#[derive(Debug)]
pub struct UnderWay(UnderWayCall);

impl UnderWay {
    /// The calling worker thread now performs `call`.
    pub fn begin(call: UnderWayCall) -> UnderWay {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(install_interrupt_handler);
        // SAFETY: pthread_self takes nothing and cannot fail.
        let thread = unsafe { libc::pthread_self() };
        UNDER_WAY.lock().unwrap_or_else(|e| e.into_inner()).push((call, thread));
        UnderWay(call)
    }
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        UNDER_WAY.lock().unwrap_or_else(|e| e.into_inner()).retain(|&(call, _)| call != self.0);
    }
}

/// Interrupts the wait of every worker thread performing a call for which `abandoned` says
/// so: its blocking call ends with EINTR. (A thread that has not begun to wait yet misses it:
/// the owner asks again later.)
pub fn interrupt_where(mut abandoned: impl FnMut(UnderWayCall) -> bool) {
    // Held while signalling: a worker leaves UNDER_WAY (taking the lock) before it takes its
    // next job or ends, so the signal never reaches a job it was not meant for.
    let under_way = UNDER_WAY.lock().unwrap_or_else(|e| e.into_inner());
    for &(call, thread) in under_way.iter() {
        if abandoned(call) {
            // SAFETY: `thread` is a live worker thread: it is in UNDER_WAY, which it leaves
            // only under the lock held here, and before it ends.
            unsafe { libc::pthread_kill(thread, interrupt_signal()) };
        }
    }
}

/// The signal that interrupts a worker thread's wait.
fn interrupt_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

/// Makes [`interrupt_signal`] interrupt a waiting call (EINTR, not restarted) and do nothing
/// else; only [`interrupt_where`] sends it, to worker threads only.
fn install_interrupt_handler() {
    extern "C" fn interrupted(_: libc::c_int) {}
    // SAFETY: sigaction is plain data; zero is a valid value of it.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = interrupted as extern "C" fn(libc::c_int) as usize;
    action.sa_flags = 0; // no SA_RESTART: the wait ends with EINTR
    // SAFETY: installs a handler that does nothing (async-signal-safe) for a signal nothing
    // else in the host uses.
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
