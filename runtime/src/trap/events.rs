//! Where the debugger's next event comes from: its own `waitpid`, and the answers of host
//! worker threads performing calls that may wait.
//!
//! A call the host performs that may wait (a connect to a listener whose backlog is full:
//! [`crate::perform::sockets::WaitingCall`]) is handed to a worker thread while its guest thread
//! stays stopped, and the debugger goes on serving the other guest threads. It must then hear
//! of two things at once — the next ptrace event, and the worker's answer — and `waitpid` can
//! wait for only the first. So while any such call is out, a waiter thread makes the `waitpid`
//! calls instead (the kernel reports a tracee's stops to every thread of its tracer's process;
//! only the tracer thread may then act on them, which the debugger still does) and queues each
//! event where the workers queue their answers; the debugger waits on that queue, waking also
//! every [`TICK`] to look for signals that arrived for the threads it keeps waiting.
//!
//! Only one thread waits in `waitpid` at any time: the waiter starts when the debugger hands a
//! call over (the debugger is then busy with a stop, not in `waitpid`), and stops right after
//! an event came once no call is out; the debugger takes its own `waitpid` back only when the
//! waiter has stopped. When no call is out, nothing of this runs: every stop costs what it did.
//!
//! The waiter takes a thread's exit only once the calls workers perform for it have ended
//! ([`crate::perform::workers::end_calls_of`]): the guest sees a thread die only after it was
//! released, and must then find its call over, as natively.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::perform::creds::Credentials;
use crate::perform::sockets::WaitingCall;
use crate::perform::workers::{Executor, Readiness, UnderWay, UnderWayCall};
use crate::sys::{self, Errno, Pid, WaitStatus};

/// How long the debugger polls for the next stop before it sleeps ([`sys::wait_polling`]);
/// zero: it sleeps at once. Set once, before the debugger starts ([`spin_before_sleeping`]).
static SPIN_BUDGET_NS: AtomicU64 = AtomicU64::new(0);
/// Whether the last stop came within the budget: only then does the next wait poll, so a
/// guest that runs long between stops (CPU-bound, or asleep) costs no polling after the first.
static SPIN_ARMED: AtomicBool = AtomicBool::new(true);

/// Makes the debugger poll up to `budget` for each next stop while stops come that fast
/// (`trapbox run --spin-wait`). Not for a pinned run: the poller would hold the guest's CPU.
pub fn spin_before_sleeping(budget: Duration) {
    SPIN_BUDGET_NS.store(u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The next event of any guest thread from the debugger's own `waitpid`: polling first while
/// stops come within the spin budget, sleeping at once otherwise.
fn wait_any() -> Result<(Pid, WaitStatus), Errno> {
    let budget = Duration::from_nanos(SPIN_BUDGET_NS.load(Ordering::Relaxed));
    if budget.is_zero() {
        return sys::wait(None);
    }
    let started = std::time::Instant::now();
    let event = if SPIN_ARMED.load(Ordering::Relaxed) { sys::wait_polling(None, budget) } else { sys::wait(None) };
    SPIN_ARMED.store(started.elapsed() < budget, Ordering::Relaxed);
    event
}

/// How often the debugger looks at the guest threads whose calls are out (for a signal that
/// should interrupt them) while any is.
pub const TICK: Duration = Duration::from_millis(100);

/// What the debugger is to handle next.
#[derive(Debug)]
pub enum Event {
    /// A ptrace event or exit of a guest thread (from `waitpid`).
    Stop(Pid, WaitStatus),
    /// A worker finished the call handed over as `serial`: its raw result for the guest.
    Answer {
        /// The call's serial, from [`submit`].
        serial: u64,
        /// Its result (`-errno` on failure).
        raw: u64,
        /// Its guest thread is gone (the waiter ended the call to take its exit, which may
        /// already be taken): the answer goes nowhere, and the thread's id is no longer its.
        gone: bool,
    },
    /// [`TICK`] passed with calls out.
    Tick,
}

#[derive(Debug)]
struct Relay {
    /// Calls handed over whose answer the debugger has not taken yet.
    out: usize,
    /// The waiter thread waits in `waitpid` (or is about to): the debugger must not.
    relaying: bool,
    waiter_started: bool,
    next_serial: u64,
    events: VecDeque<Result<(Pid, WaitStatus), Errno>>,
    answers: VecDeque<(u64, u64)>,
    /// Serials of calls the waiter ended because their guest thread exited ([`Event::Answer`]'s
    /// `gone`), until their answer is taken.
    gone: Vec<u64>,
    /// When the debugger last got an [`Event::Tick`] (`None`: not since calls went out).
    last_tick: Option<std::time::Instant>,
}

static RELAY: Mutex<Relay> = Mutex::new(Relay {
    out: 0,
    relaying: false,
    waiter_started: false,
    next_serial: 0,
    events: VecDeque::new(),
    answers: VecDeque::new(),
    gone: Vec::new(),
    last_tick: None,
});
/// Wakes the debugger: an event or an answer was queued.
static QUEUED: Condvar = Condvar::new();
/// Wakes the waiter thread: relaying starts.
static RELAYING: Condvar = Condvar::new();

fn relay() -> std::sync::MutexGuard<'static, Relay> {
    RELAY.lock().unwrap_or_else(|e| e.into_inner())
}

/// One more call is out: returns its serial, for [`answer`]. From now until its answer is
/// taken, events come through the waiter thread (if it could be started).
fn hand_over() -> u64 {
    let mut relay = relay();
    relay.out += 1;
    relay.next_serial += 1;
    if !relay.relaying {
        relay.relaying = true;
        if !relay.waiter_started {
            relay.waiter_started = true;
            let started = std::thread::Builder::new().name("trapbox-waiter".into()).spawn(wait_for_the_debugger);
            if let Err(err) = started {
                crate::host_log!("trapbox: warning: cannot start the host's waiter thread ({err})");
                relay.waiter_started = false;
                relay.relaying = false;
            }
        }
        RELAYING.notify_one();
    }
    relay.next_serial
}

/// A worker's answer to the call handed over as `serial`.
fn answer(serial: u64, raw: u64) {
    relay().answers.push_back((serial, raw));
    QUEUED.notify_one();
}

/// The waiter thread: while relaying, waits for the next event of any guest thread and queues
/// it; stops relaying after an event once no call is out (or no guest is left).
fn wait_for_the_debugger() {
    let mut relay = relay();
    loop {
        while !relay.relaying {
            relay = RELAYING.wait(relay).unwrap_or_else(|e| e.into_inner());
        }
        drop(relay);
        let event = wait_ending_calls_first();
        relay = self::relay();
        if relay.out == 0 || event.is_err() {
            relay.relaying = false;
        }
        relay.events.push_back(event);
        QUEUED.notify_one();
    }
}

/// The next event of any guest thread, as `sys::wait(None)` gives it, except that a thread's
/// exit is taken only once the calls workers perform for it have ended
/// ([`crate::perform::workers::end_calls_of`]): taking it releases the thread, after which its
/// process's exit can reach the guest, and nothing the guest then does may still meet the dead
/// thread's call. (Only while calls are out, when this thread waits for the debugger: an exit
/// costs one call more to look at first.)
fn wait_ending_calls_first() -> Result<(Pid, WaitStatus), Errno> {
    loop {
        let (tid, exited) = sys::wait_look()?;
        if exited {
            // Each recorded while its worker is still in it, so before its answer comes.
            crate::perform::workers::end_calls_of(tid, |call| {
                if let UnderWayCall::HandedOver(serial) = call {
                    relay().gone.push(serial);
                }
            });
        }
        if let Some(event) = sys::wait_taken(tid)? {
            return Ok(event);
        }
    }
}

/// The debugger's next event: an answer, a queued event, or its own `waitpid`'s when no call
/// is out; [`Event::Tick`] when calls are out and nothing came for a [`TICK`].
pub fn next() -> Result<Event, Errno> {
    let mut relay = relay();
    loop {
        // A tick is due every TICK while calls are out, however busy the events keep the
        // debugger: a signal for a thread whose call is out is seen only at a tick, and a
        // stream of events must not starve it.
        if relay.out > 0 {
            let now = std::time::Instant::now();
            match relay.last_tick {
                Some(at) if now.duration_since(at) >= TICK => {
                    relay.last_tick = Some(now);
                    return Ok(Event::Tick);
                }
                None => relay.last_tick = Some(now),
                Some(_) => {}
            }
        } else {
            relay.last_tick = None;
        }
        if let Some((serial, raw)) = relay.answers.pop_front() {
            relay.out -= 1;
            let gone = match relay.gone.iter().position(|&s| s == serial) {
                Some(at) => {
                    relay.gone.swap_remove(at);
                    true
                }
                None => false,
            };
            return Ok(Event::Answer { serial, raw, gone });
        }
        if let Some(event) = relay.events.pop_front() {
            return event.map(|(pid, status)| Event::Stop(pid, status));
        }
        if !relay.relaying {
            drop(relay);
            return wait_any().map(|(pid, status)| Event::Stop(pid, status));
        }
        if relay.out == 0 {
            // The last answer is taken; the waiter stops after the next event.
            relay = QUEUED.wait(relay).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let (woken, waited) = QUEUED.wait_timeout(relay, TICK).unwrap_or_else(|e| e.into_inner());
        relay = woken;
        if waited.timed_out() && relay.answers.is_empty() && relay.events.is_empty() {
            relay.last_tick = Some(std::time::Instant::now());
            return Ok(Event::Tick);
        }
    }
}

/// The next ptrace event or exit of any guest thread, for the injector, which waits for one
/// thread's stops while it runs a call in it; answers stay queued for [`next`].
pub fn next_stop() -> Result<(Pid, WaitStatus), Errno> {
    let mut relay = relay();
    loop {
        if let Some(event) = relay.events.pop_front() {
            return event;
        }
        if !relay.relaying {
            drop(relay);
            return wait_any();
        }
        relay = QUEUED.wait(relay).unwrap_or_else(|e| e.into_inner());
    }
}

/// A call handed to a worker thread.
struct HandedOver {
    serial: u64,
    /// Its entry among the calls under way, from the hand-over on.
    under_way: UnderWay,
    call: Box<WaitingCall>,
    /// The guest thread's credentials when they may differ from the host's.
    credentials: Option<Credentials>,
}

/// The worker threads of handed-over calls (their own executor: a call here never waits
/// behind directfs's opens; all share the bound on worker threads).
static WORKERS: std::sync::OnceLock<std::sync::Arc<Executor<HandedOver>>> = std::sync::OnceLock::new();

/// Hands `call` of guest thread `tid`, which stays stopped, to a worker thread, to be performed
/// with `credentials` (the guest thread's, when they may differ from the host's): its serial, for
/// the [`Event::Answer`] that comes when it is done. `Err(EAGAIN)` when no thread can take it
/// (the host is out of threads).
pub fn submit(tid: Pid, call: Box<WaitingCall>, credentials: Option<Credentials>) -> Result<u64, i32> {
    let workers = WORKERS.get_or_init(|| Executor::new(perform, None));
    let serial = hand_over();
    if !relay().relaying {
        withdraw();
        return Err(libc::EAGAIN); // no waiter thread: nobody would see the answer come
    }
    if workers.submit(HandedOver { serial, under_way: UnderWay::register(UnderWayCall::HandedOver(serial), tid), call, credentials }).is_err() {
        withdraw();
        return Err(libc::EAGAIN);
    }
    Ok(serial)
}

/// A handed-over call that never reached a worker.
fn withdraw() {
    relay().out -= 1;
}

/// Performs a handed-over call on a worker thread, as long as it waits (unless interrupted:
/// [`crate::perform::workers::interrupt_where`]), and answers it.
fn perform(job: HandedOver, _: Readiness) {
    let HandedOver { serial, under_way, call, credentials } = job;
    under_way.start(); // (interrupted already, the call returns EINTR at once)
    let raw = match &credentials {
        Some(credentials) => crate::perform::creds::with_credentials(credentials, || call.perform()).unwrap_or_else(trapbox_abi::errno::encode_error),
        None => call.perform(),
    };
    drop(under_way); // before the answer: see crate::perform::workers::end_calls_of
    drop(call); // the host's duplicate of the socket is closed before the guest runs on
    answer(serial, raw);
}
