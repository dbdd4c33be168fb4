//! directfs: under a policy, the host performs every open itself and hands the guest the file
//! as an fd.
//!
//! The guest's `open`, `openat`, `openat2` and `creat` meet a seccomp user-notification filter
//! (it outranks the backstop's TRACE), so the guest thread waits in the kernel while a host
//! thread decides. The host reads the path once, resolves it as the kernel would, checks the
//! policy, opens the file itself with `openat2` beneath the grant's directory
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`) and installs the open file
//! in the guest with `SECCOMP_IOCTL_NOTIF_ADDFD`, closes its own copy, and answers the call
//! with the fd (so the guest's close is the file's last, as natively). The guest's own call never runs, so nothing it changes in its memory after the
//! check matters; later `read`, `write` and `mmap` on the fd run natively.
//!
//! **No guest thread waits for another.** An open can block: a FIFO waits for its other end, a
//! device for its driver, a file on a remote filesystem for the network. So the directfs
//! thread receives every notification and decides it, then first opens the target `O_PATH`
//! beneath the grant (a lookup, which opens nothing) and looks at what it found: a regular
//! file or a directory on a local filesystem, a memory device (`/dev/null`, `/dev/zero`,
//! `/dev/urandom`…), a FIFO opened read-write or non-blocking, or a new file being created
//! cannot block, and is opened right there, with no thread hop — the common case. Anything
//! else (a FIFO waiting for its partner, other devices, files of a filesystem not known to be
//! local) is handed to a bounded pool of host threads ([`crate::perform::workers`]), where it may wait
//! as long as it would natively while the directfs thread serves the next call. Past the
//! pool's bound (64 waiting calls) a call is queued, never lost and never failed: the guest
//! thread waits for it, as it would natively. A FIFO opened write-only finds out without
//! waiting whether a reader is there (a non-blocking open), so a writer that would not block
//! natively never queues behind readers that wait for it. A worker whose guest thread stops
//! waiting (killed, or interrupted by a signal, after which the call comes again) is
//! interrupted in turn within a second, so a FIFO nobody opens again does not keep it.
//!
//! The file finally opened is the one the lookup found: it is reopened through the host's
//! `O_PATH` fd (`/proc/self/fd/N`), so no rename between the lookup and the open can swap in a
//! FIFO that would block the directfs thread, or a file outside the grant.
//!
//! **As the guest would.** Every open runs with the guest thread's credentials
//! ([`crate::perform::creds`]); `openat2`'s `struct open_how` and `RESOLVE_*` flags are judged by the
//! kernel on the host's copy ([`crate::decode::openat2`]); and a guest thread that restricted itself
//! with Landlock has its opens performed on a host thread that entered the same Landlock
//! domain ([`crate::perform::guest_landlock`]), so the kernel refuses it what it would refuse the guest.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use trapbox_abi::errno::{EACCES, EFAULT, ENAMETOOLONG};
use trapbox_abi::linux::nr;

use crate::perform::creds::Credentials;
use crate::perform::guest_landlock::Domain;
use crate::decode::openat2::{FileId, OpenHow};
use crate::decide::policy::Policy;
use crate::report::stats::CallStats;
use crate::report::trace::{CallEnd, Handling, Route, Stamp, TraceSink};
use crate::launch::seccomp::{SockFilter, AUDIT_ARCH_X86_64};
use crate::perform::workers::{DomainExecutors, Executor, Readiness, UnderWay, UnderWayCall};

const SECCOMP_RET_USER_NOTIF: u32 = crate::launch::seccomp::RET_USER_NOTIF;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub(crate) const IOCTL_NOTIF_RECV: libc::c_ulong = 0xC050_2100;
pub(crate) const IOCTL_NOTIF_SEND: libc::c_ulong = 0xC018_2101;
const IOCTL_NOTIF_ID_VALID: libc::c_ulong = 0x4008_2102;
const IOCTL_NOTIF_ADDFD: libc::c_ulong = 0x4018_2103;
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: the guest's own call runs.
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// The user-notification filter: the open family goes to the host's directfs threads, and so
/// do the calls in `notified` (the unotify route's: [`crate::decode::syscalls::notified_calls`])
/// unless they come from the stub page's `syscall` (trapped calls the debugger decided at their
/// trap and runs there: they stay on its route); every other call falls through to the backstop
/// (the kernel runs the strictest verdict of all). `O_PATH` opens by open and openat fall
/// through too: the kernel will not install an `O_PATH` file with ADDFD, so the debugger checks
/// them and lets the kernel open them on the host's pinned copy of the path
/// ([`crate::trap::pinned`]). So do the requests of `natively` (calls the backstop lets run
/// for some arguments: a grants-only root's directory listings and `access(R_OK)`), which a
/// notification would otherwise outrank.
pub fn filter(notified: &[u32], natively: &[(u32, crate::decode::syscalls::NativeWhen)]) -> Vec<SockFilter> {
    let stmt = |code: u16, k: u32| SockFilter { code, jt: 0, jf: 0, k };
    let jeq = |k: u32, jt: u8, jf: u8| SockFilter { code: 0x15, jt, jf, k };
    let jset = |k: u32, jt: u8, jf: u8| SockFilter { code: 0x45, jt, jf, k };
    let flags_low_word = |arg: u32| stmt(0x20, 16 + 8 * arg);
    let o_path = libc::O_PATH as u32;
    // An open's own way: `O_PATH` falls through to the backstop, any other open is notified.
    let open_by_flags = |arg: u32| [flags_low_word(arg), jset(o_path, 0, 1), stmt(0x06, SECCOMP_RET_ALLOW), stmt(0x06, SECCOMP_RET_USER_NOTIF)];
    // A call of another architecture falls through to the backstop, which never runs it
    // (its RET_TRAP outranks this ALLOW).
    let mut prog = vec![stmt(0x20, 4), jeq(AUDIT_ARCH_X86_64, 1, 0), stmt(0x06, SECCOMP_RET_ALLOW), stmt(0x20, 0)];
    // [nr] a call with requests the backstop runs → its block: those requests allowed, the
    // rest on the call's own way.
    for &(number, when) in natively {
        let otherwise: Vec<SockFilter> = match u64::from(number) {
            nr::OPEN => open_by_flags(1).to_vec(),
            nr::OPENAT => open_by_flags(2).to_vec(),
            _ if notified.contains(&number) => notified_unless_from_the_stub().to_vec(),
            _ => continue,
        };
        let block = crate::launch::seccomp::conditional_block(when, &otherwise);
        prog.push(jeq(number, 0, u8::try_from(block.len()).expect("a request block stays within 8-bit jumps")));
        prog.extend(block);
    }
    if !notified.is_empty() {
        // [nr] one of `notified` → the stub check, else on to the opens.
        let count = notified.len();
        assert!(count < 250, "the notified calls outgrew 8-bit jumps");
        for (i, &number) in notified.iter().enumerate() {
            prog.push(jeq(number, (count - i) as u8, 0));
        }
        let tail = notified_unless_from_the_stub();
        prog.push(SockFilter { code: crate::launch::seccomp::JA, jt: 0, jf: 0, k: tail.len() as u32 }); // → the opens
        prog.extend(tail);
    }
    // [nr] open → its flags' way (+4), openat → its own (+7), openat2/creat → notify, else allow.
    prog.extend([jeq(nr::OPEN as u32, 4, 0), jeq(nr::OPENAT as u32, 7, 0), jeq(nr::OPENAT2 as u32, 10, 0), jeq(nr::CREAT as u32, 9, 0), stmt(0x06, SECCOMP_RET_ALLOW)]);
    prog.extend(open_by_flags(1));
    prog.extend(open_by_flags(2));
    prog.push(stmt(0x06, SECCOMP_RET_USER_NOTIF));
    prog
}

/// The end of a notified call's way: a call from the stub page's `syscall` (one the debugger
/// decided at its trap) falls through to the backstop, any other is notified.
fn notified_unless_from_the_stub() -> [SockFilter; 7] {
    use crate::trap::{inject, pinned::STUB_BASE};
    let stmt = |code: u16, k: u32| SockFilter { code, jt: 0, jf: 0, k };
    let jeq = |k: u32, jt: u8, jf: u8| SockFilter { code: 0x15, jt, jf, k };
    let stub_low = STUB_BASE as u32;
    [
        stmt(0x20, 12),                      // instruction pointer, high word
        jeq((STUB_BASE >> 32) as u32, 0, 3), // not the stub's → notify
        stmt(0x20, 8),                       // low word
        jeq(stub_low + inject::FAST_RETURN as u32, 2, 0),
        jeq(stub_low + inject::SLOW_RETURN as u32, 1, 0),
        stmt(0x06, SECCOMP_RET_USER_NOTIF),
        stmt(0x06, SECCOMP_RET_ALLOW),
    ]
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct SeccompData {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct Notif {
    pub(crate) id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
pub(crate) struct NotifResp {
    pub(crate) id: u64,
    pub(crate) val: i64,
    pub(crate) error: i32,
    pub(crate) flags: u32,
}

#[repr(C)]
struct NotifAddfd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

/// How many threads receive notifications, and how they are woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receivers {
    /// One thread (the opens alone: `--backend ptrace`, where everything else is pinned to the
    /// debugger's CPU anyway).
    One,
    /// A pool of threads, one per CPU and at least two, so that guest threads on two CPUs are
    /// served at once, on a listener flagged `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (the unotify
    /// route).
    Pool,
}

/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS` and its one flag (Linux 6.6+).
const IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;

/// Flags `listener` so that a notification wakes its receiver on the notifying thread's CPU
/// and the answer wakes that thread on the receiver's (`SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`):
/// without it, unpinned, every round trip crosses CPUs. The errno if the kernel lacks it.
pub fn wake_synchronously(listener: &OwnedFd) -> Result<(), i32> {
    // SAFETY: SET_FLAGS takes the flag word by value.
    if unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_SET_FLAGS, USER_NOTIF_FD_SYNC_WAKE_UP) } != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL));
    }
    Ok(())
}

/// Starts the directfs threads on `listener`; they end when no guest process is left. With a
/// trace sink, each call they serve gets a trace line; with `stats`, its figures go there.
pub fn start(listener: OwnedFd, policy: Arc<Policy>, trace: Option<TraceSink>, stats: Option<Arc<Mutex<CallStats>>>, receivers: Receivers) {
    // Created files get exactly the mode the guest asked for, filtered by the guest's umask.
    // SAFETY: umask takes an integer.
    unsafe { libc::umask(0) };
    let threads = match receivers {
        Receivers::One => 1,
        Receivers::Pool => {
            if let Err(errno) = wake_synchronously(&listener) {
                crate::host_log!("trapbox: warning: the notification listener cannot wake on the guest's CPU (errno {errno}); unpinned calls will cross CPUs");
            }
            std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
        }
    };
    let service = Arc::new(Service {
        listener,
        policy,
        trace: trace.map(Mutex::new),
        stats,
        pool: Executor::new(perform_handed_over, None),
        domains: DomainExecutors::new(perform_handed_over),
    });
    for first in (0..threads).map(|n| n == 0) {
        let service = Arc::clone(&service);
        std::thread::spawn(move || serve(&service, first));
    }
}

/// Once a second, interrupts the wait of every worker whose guest thread no longer waits for
/// it (killed, or interrupted by a signal, after which its call starts again as a new
/// notification): a FIFO nobody will open again must not hold a pool thread for ever.
fn reap(service: &Service) {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        crate::perform::workers::interrupt_where(|call| match call {
            UnderWayCall::Notification(id) => {
                // SAFETY: ID_VALID reads a u64.
                let valid = unsafe { libc::ioctl(service.listener.as_raw_fd(), IOCTL_NOTIF_ID_VALID, &id as *const u64) } == 0;
                !valid
            }
            UnderWayCall::HandedOver(_) => false,
        });
    }
}

/// What every thread serving opens shares.
struct Service {
    listener: OwnedFd,
    policy: Arc<Policy>,
    trace: Option<Mutex<TraceSink>>,
    /// `--stats`: the figures of every open served here.
    stats: Option<Arc<Mutex<CallStats>>>,
    /// Opens that may block.
    pool: Arc<Executor<Job>>,
    /// Opens of guest threads under a Landlock domain of their own.
    domains: DomainExecutors<Job>,
}

/// An open handed to a worker thread.
struct Job {
    service: Arc<Service>,
    /// Its entry among the calls under way, from the hand-over on (the reaper finds it there).
    under_way: UnderWay,
    open: Box<Open>,
    reply: Reply,
}

/// Whether devices (by `st_dev`) hold a filesystem where a lookup or open never waits for
/// anything but the local machine; filled as devices are met.
type LocalDevices = HashMap<u64, bool>;

/// Receives and serves notifications until no guest process is left. Every receiver but the
/// `first` waits while the guest has a single task: a notification wakes every thread waiting
/// in RECV (on the guest's CPU, under SYNC_WAKE_UP), and with one guest task the others
/// would only be woken for nothing, a context switch per call.
fn serve(service: &Arc<Service>, first: bool) {
    let mut local_devices = LocalDevices::new();
    loop {
        if !first {
            crate::decide::confine::wait_for_a_second_guest_task();
        }
        // RECV waits for a notification (it is woken with the notifying thread, on its CPU,
        // under SYNC_WAKE_UP: no poll before it, which would cost a second wake-up).
        let mut notif = Notif::default();
        // SAFETY: RECV fills a seccomp_notif of exactly this layout.
        if unsafe { libc::ioctl(service.listener.as_raw_fd(), IOCTL_NOTIF_RECV, &mut notif as *mut Notif) } != 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // The caller died meanwhile, or no task uses the filter any more: a listener
                // whose filter no task uses reports a hang-up (RECV would fail at once, every time).
                Some(libc::ENOENT) if !hung_up(&service.listener) => continue,
                _ => return,
            }
        }
        // Described before deciding: once the fd is installed the guest runs on and may be gone.
        // (The clock is read only when someone will see the latency.)
        let stamp = (service.trace.is_some() || service.stats.is_some()).then(Stamp::now);
        let (tid, number) = (notif.pid as i32, notif.data.nr as u64);
        let call = service.trace.is_some().then(|| {
            let started = std::time::Instant::now();
            let call = crate::report::trace::describe_call(tid, number, &notif.data.args);
            let pid = crate::sys::thread_group(tid).unwrap_or(tid);
            (call, pid, u64::try_from(started.elapsed().as_nanos()).unwrap_or(0))
        });
        let reply = Reply { id: notif.id, pid: tid, number, call, stamp };
        if crate::decode::syscalls::route_of(number) != crate::decode::syscalls::Route::Directfs {
            service.answer_notified(&notif, &reply);
            continue;
        }
        match decide(service, &notif, &mut local_devices) {
            Step::Done(answer, cloexec) => service.finish(&reply, answer, cloexec),
            Step::HandOver(open, domain) => hand_over(service, reply, open, domain),
        }
    }
}

/// Whether no task uses `listener`'s filter any more (every guest process is gone).
fn hung_up(listener: &OwnedFd) -> bool {
    let mut ready = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll reads and writes one live pollfd; it does not wait.
    let polled = unsafe { libc::poll(&mut ready, 1, 0) };
    polled < 0 || ready.revents & libc::POLLHUP != 0
}

/// Where the answer to one notification goes.
struct Reply {
    id: u64,
    pid: i32,
    number: u64,
    /// When tracing: the call as a trace line shows it, its process, and the nanoseconds
    /// spent decoding it (left out of its latency).
    call: Option<(crate::report::trace::Described, i32, u64)>,
    /// When tracing or counting: when the notification came.
    stamp: Option<Stamp>,
}

impl Service {
    /// Serves a notification of the unotify route ([`crate::perform::unotify`]) and answers it.
    fn answer_notified(&self, notif: &Notif, reply: &Reply) {
        use crate::perform::unotify::Served;
        let served = crate::perform::unotify::serve(&self.policy, reply.pid, reply.number, &notif.data.args);
        // The guest memory the host read and wrote was this thread's, not a reused pid's: the
        // notification is still live, so its thread was there all along (a call let run read
        // nothing). An answer to a dead one would fail harmlessly; it gets no trace line.
        // SAFETY: ID_VALID reads a u64.
        if served != Served::Continue && unsafe { libc::ioctl(self.listener.as_raw_fd(), IOCTL_NOTIF_ID_VALID, &notif.id as *const u64) } != 0 {
            return;
        }
        let (end, handling) = match served {
            Served::Answer(raw) => (CallEnd::Value(raw), Handling::Host),
            Served::Refused(errno) => (CallEnd::Value(trapbox_abi::errno::encode_error(errno)), Handling::Refused),
            Served::Continue => (CallEnd::Unknown, Handling::Executed),
        };
        // Recorded before the answer: once answered, the guest runs on (and may exit).
        self.record(reply, Route::Unotify, end, handling);
        let resp = match served {
            Served::Answer(raw) => match trapbox_abi::errno::decode(raw) {
                Ok(value) => NotifResp { id: reply.id, val: value as i64, error: 0, flags: 0 },
                Err(errno) => NotifResp { id: reply.id, val: 0, error: -errno, flags: 0 },
            },
            Served::Refused(errno) => NotifResp { id: reply.id, val: 0, error: -errno, flags: 0 },
            Served::Continue => NotifResp { id: reply.id, val: 0, error: 0, flags: USER_NOTIF_FLAG_CONTINUE },
        };
        // SAFETY: SEND reads a seccomp_notif_resp of exactly this layout. (It fails only when
        // the guest's call is gone: interrupted, or its thread killed.)
        unsafe { libc::ioctl(self.listener.as_raw_fd(), IOCTL_NOTIF_SEND, &resp as *const NotifResp) };
    }

    /// The call's trace line and figures, when someone asked for them.
    fn record(&self, reply: &Reply, route: Route, end: CallEnd, handling: Handling) {
        let Some(stamp) = reply.stamp else { return };
        let format_ns = reply.call.as_ref().map_or(0, |c| c.2);
        let latency_ns = stamp.elapsed_ns().saturating_sub(format_ns);
        if let Some(stats) = &self.stats {
            stats.lock().unwrap_or_else(|e| e.into_inner()).add(reply.number, route, handling, end, latency_ns);
        }
        if let (Some(sink), Some((call, pid, _))) = (self.trace.as_ref(), reply.call.as_ref()) {
            let record = crate::report::trace::Record { pid: *pid, tid: reply.pid, number: reply.number, call, end, route, handling, stamp, latency_ns };
            sink.lock().unwrap_or_else(|e| e.into_inner()).record(&record);
        }
    }

    /// Completes the notification: the file installed as the call's result, or the errno.
    fn finish(&self, reply: &Reply, answer: Result<OwnedFd, i32>, cloexec: bool) {
        let answer = match answer {
            Ok(file) => self.install(reply.id, file, cloexec),
            Err(errno) => Answer::Fail(errno),
        };
        let (end, handling) = match answer {
            Answer::Installed(fd) => (CallEnd::Value(fd as u64), Handling::Executed),
            Answer::Fail(errno) => (CallEnd::Value(trapbox_abi::errno::encode_error(errno)), Handling::Refused),
        };
        self.record(reply, Route::Directfs, end, handling);
        if let Answer::Fail(errno) = answer {
            let resp = NotifResp { id: reply.id, val: 0, error: -errno, flags: 0 };
            // SAFETY: SEND reads a seccomp_notif_resp of exactly this layout. (It fails only
            // when the guest thread is gone, which leaves nothing to answer.)
            unsafe { libc::ioctl(self.listener.as_raw_fd(), IOCTL_NOTIF_SEND, &resp as *const NotifResp) };
        }
    }

    /// Installs `file` in the guest as the result of notification `id`: ADDFD, then the
    /// host's own copy is closed, then the answer is sent. The guest runs on only after the
    /// host's reference is gone, so the guest's own close is the file's last, as natively:
    /// inotify's `IN_CLOSE_WRITE`/`IN_CLOSE_NOWRITE` come from the last close, and would come
    /// late (or after the watcher looked) from a host close racing the guest's. (ADDFD with
    /// `SEND` would wake the guest while the host still holds the file.) The price: a guest call
    /// a signal interrupts in the microseconds between the two steps keeps the installed fd
    /// (a file it was allowed to open) besides the answer of its restarted call.
    fn install(&self, id: u64, file: OwnedFd, cloexec: bool) -> Answer {
        let addfd = NotifAddfd {
            id,
            flags: 0,
            srcfd: file.as_raw_fd() as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: ADDFD reads a seccomp_notif_addfd of exactly this layout; `file` is open.
        let remote = unsafe { libc::ioctl(self.listener.as_raw_fd(), IOCTL_NOTIF_ADDFD, &addfd as *const NotifAddfd) };
        if remote < 0 {
            return Answer::Fail(std::io::Error::last_os_error().raw_os_error().unwrap_or(EACCES));
        }
        drop(file);
        let resp = NotifResp { id, val: i64::from(remote), error: 0, flags: 0 };
        // SAFETY: SEND reads a seccomp_notif_resp of exactly this layout. (It fails only when
        // the guest's call is gone: interrupted, or its thread killed.)
        unsafe { libc::ioctl(self.listener.as_raw_fd(), IOCTL_NOTIF_SEND, &resp as *const NotifResp) };
        Answer::Installed(i64::from(remote))
    }
}

#[derive(Clone, Copy)]
enum Answer {
    /// Installed in the guest as this fd, which is the call's result.
    Installed(i64),
    Fail(i32),
}

/// What the directfs thread made of a notification.
enum Step {
    /// Answered right here: the file to install (close-on-exec in the guest when the bool
    /// says so), or the errno.
    Done(Result<OwnedFd, i32>, bool),
    /// To be opened on a worker thread: of the pool, or of this Landlock domain.
    HandOver(Box<Open>, Option<Arc<Domain>>),
}

/// An open decided and looked up, ready to perform.
struct Open {
    grant: PathBuf,
    target: PathBuf,
    flags: u64,
    mode: u64,
    found: Found,
    /// The guest thread's credentials when they may differ from the host's (a worker thread
    /// cannot read them itself once it is under the guest's Landlock domain).
    credentials: Option<Credentials>,
}

/// What the lookup beneath the grant found at the target.
enum Found {
    /// The file, as the host's `O_PATH` fd, and what it is.
    File { handle: OwnedFd, stat: libc::stat },
    /// Nothing yet: the open creates it.
    Missing,
}

/// Why an open was not performed.
enum Failure {
    /// The kernel's (or the host's) errno for the guest.
    Errno(i32),
    /// It would wait: for a worker thread.
    WouldBlock,
}

impl From<i32> for Failure {
    fn from(errno: i32) -> Failure {
        Failure::Errno(errno)
    }
}

/// Whether the open may wait (the directfs thread must not), or must not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Allowed,
    Refused,
}

/// What one open asks for: path argument, dirfd argument and `open_how` (flags and mode,
/// and for openat2 its resolve flags). Flags and mode are an `int` and a `umode_t` to the
/// kernel for open, openat and creat.
fn request(notif: &Notif, pid: i32) -> Result<(u64, Option<u64>, OpenHow), i32> {
    let a = &notif.data.args;
    let word = |i: usize| u64::from(crate::decide::requests::uint_arg(a, i));
    let how = |flags: u64, mode: u64| OpenHow { flags, mode, resolve: 0 };
    Ok(match notif.data.nr as u64 {
        nr::OPEN => (a[0], None, how(word(1), word(2))),
        nr::CREAT => (a[0], None, how((libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64, word(1))),
        nr::OPENAT => (a[1], Some(a[0]), how(word(2), word(3))),
        // openat2: the kernel judges the struct first, before it reads the path.
        _ => (a[1], Some(a[0]), crate::decode::openat2::read_open_how(pid, a[2], a[3])?),
    })
}

fn decide(service: &Service, notif: &Notif, local_devices: &mut LocalDevices) -> Step {
    match decide_open(service, notif, local_devices) {
        Ok(step) => step,
        Err(errno) => Step::Done(Err(errno), false),
    }
}

fn decide_open(service: &Service, notif: &Notif, local_devices: &mut LocalDevices) -> Result<Step, i32> {
    let pid = notif.pid as i32;
    let (path_ptr, dirfd, how) = request(notif, pid)?;
    let flags = how.flags;
    let (bytes, truncated) = crate::report::trace::read_guest_string(pid, path_ptr, 4096).ok_or(EFAULT)?;
    // The notification must still be live: the pid may have died and been reused meanwhile.
    // SAFETY: ID_VALID reads a u64.
    if unsafe { libc::ioctl(service.listener.as_raw_fd(), IOCTL_NOTIF_ID_VALID, &notif.id as *const u64) } != 0 {
        return Err(libc::ENOENT);
    }
    if truncated {
        return Err(ENAMETOOLONG);
    }
    if bytes.is_empty() {
        return Err(libc::ENOENT);
    }
    // Under resolve flags the kernel resolves the path first, from the guest's own starting
    // point and with its credentials; what it found is what the grants are checked against
    // and what is opened.
    let resolved = match (how.resolve, dirfd) {
        (0, _) | (_, None) => None,
        (_, Some(dirfd)) => Some(crate::perform::creds::as_guest(pid, || crate::decode::openat2::resolve(pid, dirfd, &bytes, &how))??),
    };
    let nofollow = flags & libc::O_NOFOLLOW as u64 != 0 || creates_exclusively(flags);
    let (target, seen) = match &resolved {
        Some(resolved) => (resolved.path.clone(), None),
        None if nofollow => {
            (crate::decide::confine::resolve_path(pid, dirfd, &bytes, false).ok_or_else(|| crate::decide::confine::unresolved_errno(pid, dirfd, &bytes))?, None)
        }
        None => crate::decide::confine::resolve_seen(pid, dirfd, &bytes).ok_or_else(|| crate::decide::confine::unresolved_errno(pid, dirfd, &bytes))?,
    };
    let plain_create = flags & libc::O_CREAT as u64 != 0 && !creates_exclusively(flags);
    // What is there now decides three kernel answers before any permission; looked at once,
    // and only when one of them can apply.
    let existing = (plain_create || bytes.ends_with(b"/")).then(|| crate::launch::view::metadata(&target).ok().map(|m| m.is_dir()));
    if plain_create && existing == Some(Some(true)) {
        return Err(libc::EISDIR); // the kernel's answer to O_CREAT of a directory
    }
    // A trailing slash names a directory: a file there is ENOTDIR, and nothing may be created
    // (EISDIR), as the kernel answers (the resolved path has lost the slash).
    if bytes.ends_with(b"/") && existing != Some(Some(true)) {
        return Err(match existing.flatten() {
            Some(_) => libc::ENOTDIR,
            None if creates(flags) => libc::EISDIR,
            None => libc::ENOENT,
        });
    }
    // O_CREAT of a file that exists (without O_EXCL) only opens it, and needs only the access
    // its mode asks; the host then opens it without O_CREAT, so nothing is ever created under
    // a read grant (a file removed meanwhile is ENOENT rather than made).
    let flags = if plain_create && existing.flatten().is_some() { flags & !(libc::O_CREAT as u64) } else { flags };
    let access = crate::decide::confine::access_from_open_flags(flags);
    let policy = &service.policy;
    // A magic link is followed only if the open follows the last symlink (O_NOFOLLOW: ELOOP,
    // from the kernel below).
    if let Some(fd) = crate::decide::confine::own_fd_link(pid, &target).filter(|_| !nofollow) {
        let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
        return Ok(Step::Done(reopen_own_pipe(pid, fd, flags, notif), cloexec));
    }
    if let Some((dir, name)) = crate::decide::confine::own_namespace_link(pid, &target).filter(|_| !nofollow) {
        let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
        return Ok(Step::Done(open_namespace_link(pid, &dir, &name, flags, notif), cloexec));
    }
    if crate::perform::agent::available() && crate::decide::confine::namespace_file(pid, &target) {
        let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
        let mode = if creates(flags) { how.mode } else { 0 };
        return Ok(Step::Done(crate::perform::agent::open(pid, &target, flags, mode), cloexec));
    }
    let grant = policy.grants_for(&target, access).first().map(|g| g.path.clone());
    let Some(grant) = grant.or_else(|| crate::decide::base::self_root(policy, pid, &target, access)) else {
        let denial = crate::decide::confine::denial_for(policy, &target, access);
        crate::report::log::denied(pid, notif.data.nr as u64, &notif.data.args, &denial.reason);
        return Err(denial.errno);
    };
    // What the resolution saw, looked at once: for the device check here and whether it
    // opens at once below.
    let seen_stat = seen.as_ref().map(|seen| file_stat(seen).ok());
    if let Some(denial) = crate::decide::confine::host_reach_denial_of(&target, access, seen_stat.as_ref().map(Option::as_ref)) {
        crate::report::log::denied(pid, notif.data.nr as u64, &notif.data.args, &denial.reason);
        return Err(denial.errno);
    }
    // The kernel will not install an O_PATH file with ADDFD (it takes only files with content
    // access), and letting the guest's own call run would have the kernel re-read the path
    // from guest memory. open and openat with O_PATH never come here (the filter sends them
    // to the debugger, which pins the path); openat2's flags live in memory the filter cannot
    // see, so it is answered ENOSYS, which callers of openat2 take as "use openat".
    if flags & libc::O_PATH as u64 != 0 {
        crate::host_log!("trapbox: refused openat2 with O_PATH on {} (ENOSYS): under a policy, O_PATH opens go through openat", crate::report::log::path(&target));
        return Err(libc::ENOSYS);
    }
    // Only a create uses the mode (and so the guest's umask, read from /proc); a file the
    // guest creates never gets the setuid or setgid bit (see crate::perform::broker).
    // (openat2 refuses a mode without O_CREAT, which may have just been taken off.)
    let mode = if creates(flags) { crate::perform::broker::created_mode(pid, how.mode, &target) } else { 0 };
    let domain = crate::perform::guest_landlock::domain_of(pid);
    let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
    // Every open and lookup below runs with the guest thread's own credentials: after a
    // privilege drop the kernel answers the host exactly as it would the guest.
    if domain.is_none() {
        // The common case: what the path resolution saw on its way cannot block. Opened right
        // here in one call (see open_at_once), with no second lookup.
        if let Some(seen) = seen.filter(|seen| seen_stat.flatten().is_some_and(|stat| opens_at_once(seen, &stat, local_devices))) {
            drop(seen); // only looked at: it was not opened beneath the grant
            match crate::perform::creds::as_guest(pid, || open_at_once(&grant, &target, flags, mode))? {
                Ok(Some(file)) => return Ok(Step::Done(Ok(file), cloexec)),
                Ok(None) => {} // not what was seen, or held by a lease: the careful way below
                Err(errno) => return Err(errno),
            }
        }
    }
    let attempt = crate::perform::creds::as_guest(pid, || -> Result<Result<OwnedFd, Open>, i32> {
        let found = look_up(&grant, &target, flags, nofollow)?;
        if let Some(resolved) = &resolved {
            if found.identity() != resolved.file {
                crate::host_log!(
                    "trapbox: openat2 of {} answered EAGAIN: the file changed between the kernel's resolution and the host's open (a racing rename); openat2 answers a racing `..` so too, and the caller may retry",
                    crate::report::log::path(&target)
                );
                return Err(libc::EAGAIN);
            }
        }
        let open = Open { grant: grant.clone(), target: target.clone(), flags, mode, found, credentials: None };
        if domain.is_some() || open.found.may_block(flags, local_devices) {
            return Ok(Err(open));
        }
        match open.perform(Waiting::Refused) {
            Ok(file) => Ok(Ok(file)),
            Err(Failure::Errno(errno)) => Err(errno),
            Err(Failure::WouldBlock) => Ok(Err(open)),
        }
    });
    match attempt {
        Ok(Ok(Ok(file))) => Ok(Step::Done(Ok(file), cloexec)),
        Ok(Ok(Err(mut open))) => {
            // A worker thread needs the credentials in hand (see Open::credentials).
            if crate::perform::creds::marked(pid) {
                open.credentials = Some(crate::perform::creds::as_guest(pid, crate::sys::thread_credentials)?);
            }
            Ok(Step::HandOver(Box::new(open), domain))
        }
        Ok(Err(errno)) | Err(errno) => Err(errno),
    }
}

/// The magic number of nsfs, the filesystem of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;
/// The magic number of procfs.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Opens the namespace link `name` of the guest's `/proc/N/ns` directory `dir` (see
/// [`crate::decide::confine::own_namespace_link`]) as the kernel would: the directory is found
/// in the guest's view, then the kernel follows the link itself, with the guest's credentials
/// and flags. The file is kept only if it is a namespace's (another process may have taken
/// the number since the check).
fn open_namespace_link(pid: i32, dir: &std::path::Path, name: &std::ffi::OsStr, flags: u64, notif: &Notif) -> Result<OwnedFd, i32> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(name.as_bytes()).map_err(|_| libc::ENOENT)?;
    let kept = flags & !((libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_NOFOLLOW) as u64);
    let file = crate::perform::creds::as_guest(pid, || {
        let parent = crate::launch::view::open(dir, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0)?;
        // The kernel follows the link only from a real /proc directory: one a guest made
        // (nothing may be mounted on /proc for it, but twice is cheap) would be any symlink.
        if filesystem_type(&parent) != Some(PROC_SUPER_MAGIC) {
            return Err(libc::ENOENT);
        }
        crate::sys::openat2(parent.as_raw_fd(), &name, kept | libc::O_CLOEXEC as u64, 0, 0)
    })??;
    if filesystem_type(&file) == Some(NSFS_MAGIC) {
        return Ok(file);
    }
    crate::report::log::denied(pid, notif.data.nr as u64, &notif.data.args, &format!("{} is no longer a namespace's link", crate::report::log::path(&dir.join(std::ffi::OsStr::from_bytes(name.as_bytes())))));
    Err(libc::EACCES)
}

/// Reopens the calling thread's fd `fd` through its `/proc` link, as the kernel does for
/// `/proc/self/fd/N`, with the guest's credentials and flags, and keeps the new file only if it
/// is a pipe (another thread may have put any file on the number since the check: a regular
/// file reopened for writing would be more than the guest holds).
fn reopen_own_pipe(pid: i32, fd: i32, flags: u64, notif: &Notif) -> Result<OwnedFd, i32> {
    let link = std::ffi::CString::new(format!("/proc/{pid}/fd/{fd}")).map_err(|_| libc::EINVAL)?;
    // Never a create or a truncate of the link itself; the access mode and the status flags
    // are the guest's.
    let kept = flags & !((libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_NOFOLLOW) as u64);
    let file = crate::perform::creds::as_guest(pid, || crate::sys::openat2(libc::AT_FDCWD, &link, kept | libc::O_CLOEXEC as u64, 0, 0))??;
    match file_stat(&file) {
        Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFIFO => Ok(file),
        _ => {
            crate::report::log::denied(pid, notif.data.nr as u64, &notif.data.args, &format!("fd {fd} is no longer a pipe: only a pipe of the guest's is reopened through /proc/self/fd"));
            Err(libc::EACCES)
        }
    }
}

/// Gives `open` to a worker thread: of `domain`'s executor, or of the pool.
fn hand_over(service: &Arc<Service>, reply: Reply, open: Box<Open>, domain: Option<Arc<Domain>>) {
    let executor = match &domain {
        None => Arc::clone(&service.pool),
        Some(domain) => service.domains.for_domain(domain),
    };
    // The reaper watches the workers' opens: started with the first (most runs hand over none).
    static REAPER: std::sync::Once = std::sync::Once::new();
    REAPER.call_once(|| {
        let reaper = Arc::clone(service);
        std::thread::spawn(move || reap(&reaper));
    });
    let under_way = UnderWay::register(UnderWayCall::Notification(reply.id), reply.pid);
    let job = Job { service: Arc::clone(service), under_way, open, reply };
    if let Err(job) = executor.submit(job) {
        job.service.finish(&job.reply, Err(libc::EAGAIN), false);
    }
}

/// Performs a handed-over open on a worker thread (which may wait in it as long as the open
/// would natively), with the guest thread's credentials, and completes the notification.
fn perform_handed_over(job: Job, readiness: Readiness) {
    let Job { service, under_way, open, reply } = job;
    // Interrupted before a worker took it: its guest thread no longer waits for it.
    let readiness = if under_way.start() { Err(libc::EINTR) } else { readiness };
    let cloexec = open.flags & libc::O_CLOEXEC as u64 != 0;
    let answer = readiness.and_then(|()| {
        // (A worker may be unable to read the guest's credentials itself: the directfs thread
        // took them, see crate::perform::creds::as_guest.)
        let performed = match open.credentials.as_ref() {
            Some(credentials) => crate::perform::creds::with_credentials(credentials, || open.perform(Waiting::Allowed))?,
            None => open.perform(Waiting::Allowed),
        };
        performed.map_err(|failure| match failure {
            Failure::Errno(errno) => errno,
            Failure::WouldBlock => libc::EAGAIN, // not with Waiting::Allowed
        })
    });
    service.finish(&reply, answer, cloexec);
}

impl Open {
    /// Opens the file the lookup found (or creates it) with the guest's flags. With
    /// `Waiting::Refused`, an open that could wait is not attempted (`WouldBlock`).
    fn perform(&self, waiting: Waiting) -> Result<OwnedFd, Failure> {
        let flags = self.flags;
        let (handle, stat) = match &self.found {
            // A new regular file cannot block, and O_EXCL makes sure it is new: created by a
            // racing thread meanwhile, it is opened (as natively) by a worker thread.
            Found::Missing if waiting == Waiting::Refused && !creates_exclusively(flags) => {
                let excl = flags | libc::O_EXCL as u64;
                return match crate::perform::broker::open_beneath(&self.grant, &self.target, excl, self.mode) {
                    Err(libc::EEXIST) => Err(Failure::WouldBlock),
                    other => Ok(other?),
                };
            }
            Found::Missing => return Ok(crate::perform::broker::open_beneath(&self.grant, &self.target, flags, self.mode)?),
            Found::File { handle, stat } => (handle, stat),
        };
        if creates_exclusively(flags) {
            return Err(Failure::Errno(libc::EEXIST));
        }
        if file_type(stat) == libc::S_IFLNK {
            return Err(Failure::Errno(libc::ELOOP)); // O_NOFOLLOW met a symlink
        }
        if flags & crate::perform::broker::O_TMPFILE_BIT != 0 {
            // An unnamed file in the directory found: nothing to wait for, nothing to race.
            return Ok(crate::perform::broker::open_beneath(&self.grant, &self.target, flags, self.mode)?);
        }
        // The file exists: no create, and the lookup already applied O_NOFOLLOW.
        let flags = flags & !((libc::O_CREAT | libc::O_NOFOLLOW) as u64);
        let fifo_writer = file_type(stat) == libc::S_IFIFO && flags & libc::O_ACCMODE as u64 == libc::O_WRONLY as u64;
        if fifo_writer && flags & libc::O_NONBLOCK as u64 == 0 {
            // Natively this returns at once when a reader is there: find out without waiting.
            match reopen(handle, flags | libc::O_NONBLOCK as u64) {
                Ok(file) => return Ok(blocking_again(file, flags)?),
                Err(libc::ENXIO) if waiting == Waiting::Refused => return Err(Failure::WouldBlock),
                Err(libc::ENXIO) => {}
                Err(errno) => return Err(Failure::Errno(errno)),
            }
        }
        Ok(reopen(handle, flags)?)
    }
}

impl Found {
    /// The identity of the file found, if any.
    fn identity(&self) -> Option<FileId> {
        match self {
            Found::File { stat, .. } => Some((stat.st_dev, stat.st_ino)),
            Found::Missing => None,
        }
    }

    /// Whether opening what was found with `flags` may wait for anything but this machine's
    /// memory and local disks.
    fn may_block(&self, flags: u64, local_devices: &mut LocalDevices) -> bool {
        let Found::File { handle, stat } = self else {
            return false; // a create: a new regular file
        };
        if opens_at_once(handle, stat, local_devices) {
            return false;
        }
        let nonblocking = flags & libc::O_NONBLOCK as u64 != 0;
        match file_type(stat) {
            libc::S_IFREG | libc::S_IFDIR | libc::S_IFCHR => true,
            // A FIFO opened read-write or non-blocking does not wait; a write-only open finds
            // out without waiting whether it would (Open::perform).
            libc::S_IFIFO => !(nonblocking || flags & libc::O_ACCMODE as u64 != libc::O_RDONLY as u64),
            // A symlink (O_NOFOLLOW) or a socket fails at once (ELOOP, ENXIO).
            libc::S_IFLNK | libc::S_IFSOCK => false,
            _ => true,
        }
    }
}

/// Whether a file of this kind opens at once, whatever the flags, `O_NONBLOCK` making no
/// difference to the open: a regular file or directory on a local filesystem, or a memory
/// device (major 1: null, zero, full, random, urandom, kmsg).
fn opens_at_once(handle: &OwnedFd, stat: &libc::stat, local_devices: &mut LocalDevices) -> bool {
    match file_type(stat) {
        libc::S_IFREG | libc::S_IFDIR => on_local_filesystem(handle, stat.st_dev, local_devices),
        libc::S_IFCHR => libc::major(stat.st_rdev) == 1,
        _ => false,
    }
}

/// Opens `target` beneath `grant` for the directfs thread, which must never wait: with
/// `O_NONBLOCK` added, so that a file swapped in after the resolution saw one that
/// [`opens_at_once`] (a FIFO, a device) cannot make it wait either (a regular file or
/// directory opens the same with or without it, bar a lease, which answers EAGAIN); the flag
/// is then taken off again unless the guest asked for it. `Ok(None)` when what was opened is
/// not such a file, or a lease holds it: for the careful way, which may hand it to a worker.
fn open_at_once(grant: &std::path::Path, target: &std::path::Path, flags: u64, mode: u64) -> Result<Option<OwnedFd>, i32> {
    let nonblocking = flags & libc::O_NONBLOCK as u64 != 0;
    let file = match crate::perform::broker::open_beneath(grant, target, flags | libc::O_NONBLOCK as u64, mode) {
        Ok(file) => file,
        Err(libc::EAGAIN) if !nonblocking => return Ok(None),
        Err(errno) => return Err(errno),
    };
    let stat = file_stat(&file)?;
    let kind = file_type(&stat);
    if !(kind == libc::S_IFREG || kind == libc::S_IFDIR || (kind == libc::S_IFCHR && libc::major(stat.st_rdev) == 1)) {
        return Ok(None);
    }
    if nonblocking {
        Ok(Some(file))
    } else {
        blocking_again(file, flags).map(Some)
    }
}

/// Looks `target` up beneath `grant` (`O_PATH`, which opens nothing and cannot block on what
/// it finds), honouring O_NOFOLLOW and O_DIRECTORY: a missing file to be created is
/// `Found::Missing`; any other failure is the guest's answer.
fn look_up(grant: &std::path::Path, target: &std::path::Path, flags: u64, nofollow: bool) -> Result<Found, i32> {
    let lookup = libc::O_PATH as u64 | if nofollow { libc::O_NOFOLLOW as u64 } else { 0 } | (flags & libc::O_DIRECTORY as u64);
    match crate::perform::broker::open_beneath(grant, target, lookup, 0) {
        Ok(handle) => {
            let stat = file_stat(&handle)?;
            Ok(Found::File { handle, stat })
        }
        Err(libc::ENOENT) if flags & libc::O_CREAT as u64 != 0 => Ok(Found::Missing),
        Err(errno) => Err(errno),
    }
}

/// Opens the very file behind the host's `O_PATH` fd `handle` with `flags`.
fn reopen(handle: &OwnedFd, flags: u64) -> Result<OwnedFd, i32> {
    let path = std::ffi::CString::new(format!("/proc/self/fd/{}", handle.as_raw_fd())).map_err(|_| libc::EINVAL)?;
    crate::sys::openat2(libc::AT_FDCWD, &path, flags, 0, 0)
}

/// `file` without the O_NONBLOCK the host opened it with.
fn blocking_again(file: OwnedFd, flags: u64) -> Result<OwnedFd, i32> {
    // F_SETFL sets the status flags below (and O_NONBLOCK, O_ASYNC): the open's own, without
    // the O_NONBLOCK added, in one call. O_ASYNC asked at open is kept but inactive, which
    // F_SETFL cannot express: then the kernel's flags are read and only O_NONBLOCK taken off.
    let settable = (libc::O_APPEND | libc::O_DIRECT | libc::O_NOATIME) as u64;
    // SAFETY: fcntl F_GETFL/F_SETFL on an fd this function owns, with integer arguments.
    let done = unsafe {
        if flags & libc::O_ASYNC as u64 == 0 {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, (flags & settable) as libc::c_int) == 0
        } else {
            let status = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            status >= 0 && libc::fcntl(file.as_raw_fd(), libc::F_SETFL, status & !libc::O_NONBLOCK) == 0
        }
    };
    if done {
        Ok(file)
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

/// Whether the filesystem holding `handle` (on device `device`) is one where opens wait only
/// for this machine: asked once per device.
fn on_local_filesystem(handle: &OwnedFd, device: u64, local_devices: &mut LocalDevices) -> bool {
    /// Magic numbers (linux/magic.h) of filesystems kept in memory or on local disks.
    const LOCAL: [i64; 22] = [
        0xEF53,      // ext2, ext3, ext4
        0x0102_1994, // tmpfs (and devtmpfs)
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0x794C_7630, // overlayfs
        0x9FA0,      // proc
        0x6265_6572, // sysfs
        0x8584_58F6, // ramfs
        0x7371_7368, // squashfs
        0x4D44,      // vfat
        0x2011_BAB0, // exfat
        0xF2F5_2010, // f2fs
        0xE0F5_E1E2, // erofs
        0x9660,      // iso9660
        0x6367_7270, // cgroup2
        0x0027_E0EB, // cgroup
        0x1CD1,      // devpts
        0x7472_6163, // tracefs
        0x6462_6720, // debugfs
        0x7363_6673, // securityfs
        0x9584_58F6, // hugetlbfs
        0xCAFE_4A11, // bpf
    ];
    *local_devices.entry(device).or_insert_with(|| filesystem_type(handle).is_some_and(|kind| LOCAL.contains(&kind)))
}

/// The magic number of the filesystem `file` is on (`statfs.f_type`).
fn filesystem_type(file: &OwnedFd) -> Option<i64> {
    // SAFETY: fstatfs writes one statfs into the zeroed struct we own.
    let mut info: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `file` is an open fd.
    (unsafe { libc::fstatfs(file.as_raw_fd(), &mut info) } == 0).then_some(info.f_type as i64)
}

/// `fstat` of the host's fd `file` (an `O_PATH` one too).
pub(crate) fn file_stat(file: &OwnedFd) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data, zero is a valid value of it.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one stat into the struct we own; `file` is an open fd.
    if unsafe { libc::fstat(file.as_raw_fd(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
    }
    Ok(stat)
}

fn file_type(stat: &libc::stat) -> libc::mode_t {
    stat.st_mode & libc::S_IFMT
}

/// Whether an open with `flags` may create a file (O_CREAT, or O_TMPFILE).
fn creates(flags: u64) -> bool {
    flags & (libc::O_CREAT as u64 | crate::perform::broker::O_TMPFILE_BIT) != 0
}

/// Whether `flags` ask for a file that must not exist yet (O_CREAT with O_EXCL).
fn creates_exclusively(flags: u64) -> bool {
    let both = (libc::O_CREAT | libc::O_EXCL) as u64;
    flags & both == both
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::seccomp::evaluate;

    #[test]
    fn filter_routes_opens() {
        let prog = filter(&[], &[]);
        let o_path = libc::O_PATH as u64;
        let run = |nr: u64, args: [u64; 6]| evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32, &args);
        assert_eq!(run(nr::OPEN, [0, 0, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::OPEN, [0, o_path, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "O_PATH goes on to the backstop");
        assert_eq!(run(nr::OPENAT, [0, 0, 0o101, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::OPENAT, [0, 0, o_path | 0o400000, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(run(nr::OPENAT2, [0, 0, 0, 24, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::CREAT, [0, 0o644, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::READ, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(evaluate(&prog, 0x4000_0003, 5, &[0; 6]), SECCOMP_RET_ALLOW, "i386 open: the backstop refuses it");
    }

    /// With the unotify route's calls, those come to the pool too, except from the stub page's
    /// `syscall` (the debugger's route); the opens are routed as before.
    #[test]
    fn filter_routes_notified_calls_but_not_from_the_stub() {
        use crate::launch::seccomp::evaluate_at;
        use crate::trap::{inject, pinned::STUB_BASE};
        let notified: Vec<u32> = crate::decode::syscalls::notified_calls(false).collect();
        let prog = filter(&notified, &[]);
        let run = |nr: u64, ip: u64, args: [u64; 6]| evaluate_at(&prog, AUDIT_ARCH_X86_64, nr as u32, ip, &args);
        let guest_ip = 0x40_1000;
        assert_eq!(run(nr::NEWFSTATAT, guest_ip, [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::STATX, guest_ip, [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::FCHDIR, guest_ip, [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::NEWFSTATAT, STUB_BASE + inject::FAST_RETURN, [0; 6]), SECCOMP_RET_ALLOW, "from the stub: the debugger's");
        assert_eq!(run(nr::NEWFSTATAT, STUB_BASE + inject::SLOW_RETURN, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(nr::NEWFSTATAT, STUB_BASE + 0x100, [0; 6]), SECCOMP_RET_USER_NOTIF, "elsewhere in the stub's page: notified");
        assert_eq!(run(nr::NEWFSTATAT, (STUB_BASE & 0xFFFF_FFFF) + inject::FAST_RETURN, [0; 6]), SECCOMP_RET_USER_NOTIF, "the low word alone is not the stub");
        assert_eq!(run(nr::CHDIR, guest_ip, [0; 6]), SECCOMP_RET_ALLOW, "chdir stays on ptrace");
        assert_eq!(run(nr::EXECVE, guest_ip, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(run(nr::OPENAT, guest_ip, [0, 0, 0o101, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::OPENAT, guest_ip, [0, 0, libc::O_PATH as u64, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(run(nr::READ, guest_ip, [0; 6]), SECCOMP_RET_ALLOW);
    }

    /// Under a grants-only root the requests the backstop runs natively fall through to it
    /// (a directory opened to be listed, `access` for existence or reading); every other open
    /// and access is routed as before, from the stub page too.
    #[test]
    fn filter_lets_through_what_a_grants_only_root_runs_natively() {
        use crate::launch::seccomp::evaluate_at;
        use crate::trap::{inject, pinned::STUB_BASE};
        use crate::decode::syscalls::{native_in_grants_only_root, RootNatives};
        let natives = RootNatives { listings: true };
        let natively: Vec<_> = native_in_grants_only_root(natives).filter_map(|(nr, when)| Some((nr, when?))).collect();
        let notified: Vec<u32> = crate::decode::syscalls::notified_calls(false).filter(|nr| !native_in_grants_only_root(natives).any(|(n, when)| n == *nr && when.is_none())).collect();
        let prog = filter(&notified, &natively);
        let run = |nr: u64, ip: u64, args: [u64; 6]| evaluate_at(&prog, AUDIT_ARCH_X86_64, nr as u32, ip, &args);
        let guest_ip = 0x40_1000;
        let listing = (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
        assert_eq!(run(nr::OPENAT, guest_ip, [0, 0, listing, 0, 0, 0]), SECCOMP_RET_ALLOW, "opendir: the backstop runs it");
        assert_eq!(run(nr::OPEN, guest_ip, [0, listing | 0o100000 | libc::O_NONBLOCK as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "musl's opendir");
        assert_eq!(run(nr::OPENAT, guest_ip, [0, 0, (1 << 32) | listing, 0, 0, 0]), SECCOMP_RET_ALLOW, "flags are an int");
        for flags in [0, libc::O_CLOEXEC, libc::O_DIRECTORY | libc::O_WRONLY, libc::O_DIRECTORY | libc::O_RDWR, libc::O_DIRECTORY | libc::O_CREAT, libc::O_TMPFILE | libc::O_RDWR, libc::O_DIRECTORY | libc::O_TRUNC, libc::O_DIRECTORY | libc::O_APPEND, libc::O_DIRECTORY | libc::O_SYNC] {
            assert_eq!(run(nr::OPENAT, guest_ip, [0, 0, flags as u64, 0, 0, 0]), SECCOMP_RET_USER_NOTIF, "openat flags {flags:#o}");
            assert_eq!(run(nr::OPEN, guest_ip, [0, flags as u64, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF, "open flags {flags:#o}");
        }
        assert_eq!(run(nr::OPENAT, guest_ip, [0, 0, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0, 0, 0]), SECCOMP_RET_ALLOW, "O_PATH: on to the debugger");
        assert_eq!(run(nr::OPENAT2, guest_ip, [0, 0, 0, 24, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::ACCESS, guest_ip, [0, libc::R_OK as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(run(nr::FACCESSAT2, guest_ip, [0, 0, libc::F_OK as u64, 0, 0, 0]), SECCOMP_RET_ALLOW);
        if notified.contains(&(nr::ACCESS as u32)) {
            assert_eq!(run(nr::ACCESS, guest_ip, [0, libc::X_OK as u64, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF, "X_OK: the pool answers it");
            assert_eq!(run(nr::FACCESSAT, guest_ip, [0, 0, libc::W_OK as u64, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
            assert_eq!(run(nr::ACCESS, STUB_BASE + inject::FAST_RETURN, [0, libc::X_OK as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "from the stub: the debugger's");
        }
        assert_eq!(run(nr::NEWFSTATAT, guest_ip, [0; 6]), SECCOMP_RET_ALLOW, "not notified: the backstop runs it");
        assert_eq!(run(nr::READ, guest_ip, [0; 6]), SECCOMP_RET_ALLOW);
    }
}
