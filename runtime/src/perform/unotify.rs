//! The unotify route (`trapbox run --backend unotify`): the calls the call table marks
//! [`Stop::Notification`](crate::decode::syscalls::Stop) besides the opens meet directfs's
//! user-notification filter, and a pool of host threads serves them
//! ([`crate::perform::directfs`] receives; this module decides and performs). The listener is
//! flagged `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, so the host thread that takes a call runs on
//! the guest thread's CPU and the answer wakes the guest there: no ptrace stop, no CPU shared
//! with the debugger, so the guest need not be pinned.
//!
//! The host never changes the guest's registers here, so it serves only what it can finish
//! itself: a metadata query is answered by the broker on the host's copy of the path
//! ([`crate::perform::broker::perform`], or [`crate::perform::broker::query_in_view`] where the
//! ptrace route would let the kernel run it on a pinned copy), the result written into guest
//! memory by the host; a call the policy allows that carries no pointer the kernel reads is let
//! run (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`: nothing to re-read). The decision is the ptrace
//! route's, made by the same functions with the same denial lines.

use crate::decide::confine::Rule;
use crate::decide::policy::Policy;
use crate::sys::Pid;

/// What the host made of one notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// The host performed the call on its own copy: this raw result (a value or `-errno`).
    Answer(u64),
    /// Refused with this errno, nothing performed.
    Refused(i32),
    /// The guest's own call runs: it carries no pointer the kernel reads.
    Continue,
}

/// Decides and, where the host performs it, performs guest thread `tid`'s call `number`
/// with the arguments of its notification.
pub fn serve(policy: &Policy, tid: Pid, number: u64, args: &[u64; 6]) -> Served {
    match crate::decide::confine::rule(number, args) {
        // Nothing the kernel reads from guest memory: letting it run re-reads nothing.
        Rule::Allow if crate::trap::pinned::plan(number, args).is_none() => Served::Continue,
        Rule::Path => query(policy, tid, number, args),
        Rule::Deny(errno, why) => refuse(tid, number, args, (errno, why.into_owned())),
        // (The call table sends no other call here: see its unit test.)
        _ => refuse(tid, number, args, (libc::ENOSYS, "the notification route does not serve this call".into())),
    }
}

/// A metadata query, as the debugger decides it: the broker answers beneath the grant, or
/// says the kernel should (errno 0), which this route does on the host's own copy.
fn query(policy: &Policy, tid: Pid, number: u64, args: &[u64; 6]) -> Served {
    let as_guest = |action: &dyn Fn() -> Result<u64, (i32, String)>| crate::perform::creds::as_guest(tid, action).unwrap_or_else(|errno| Err((errno, String::new())));
    let performed = if crate::perform::broker::handles(number, args) {
        as_guest(&|| crate::perform::broker::perform(policy, tid, number, args))
    } else {
        Err((0, String::new()))
    };
    match performed {
        Ok(raw) => Served::Answer(raw),
        Err((0, _)) => match as_guest(&|| crate::perform::broker::query_in_view(policy, tid, number, args)) {
            Ok(raw) => Served::Answer(raw),
            Err(denial) => refuse(tid, number, args, denial),
        },
        Err(denial) => refuse(tid, number, args, denial),
    }
}

/// Refuses with the denial's errno, logging its reason (an empty reason is the kernel's own
/// answer, which is no denial), as the debugger does.
fn refuse(tid: Pid, number: u64, args: &[u64; 6], (errno, reason): (i32, String)) -> Served {
    if !reason.is_empty() {
        crate::report::log::denied(tid, number, args, &reason);
    }
    Served::Refused(errno)
}

/// What stops the guest's calls (`trapbox run --backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Every call the host sees is a ptrace stop of the debugger (the opens excepted, which
    /// directfs serves). Not pinned unless `--pin` asks (a stop is cheapest with host and
    /// guest on one CPU, a parallel guest fastest on every CPU).
    Ptrace,
    /// The calls the call table marks for notification are served by a pool of host threads
    /// woken on the guest's CPU (`SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, Linux 6.6+); the rest
    /// stay ptrace stops. Not pinned unless `--pin` asks.
    Unotify,
}

/// How a run's calls reach the host, from `--backend`, `--pin` and `--no-pin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// The calls directfs's filter sends to the notification pool besides the opens.
    pub notified: Vec<u32>,
    /// How many threads receive the notifications.
    pub receivers: crate::perform::directfs::Receivers,
    /// Whether host and guest are pinned to the host's CPU.
    pub pin: bool,
}

/// What a run does with the backend asked for (`None`: the default, unotify where it can
/// serve anything). The unotify route serves calls under a policy only (its listener is
/// directfs's); without one, in the native personality (every call refused but hostcalls, on
/// ptrace) or on a kernel without `SYNC_WAKE_UP` the run is ptrace (with a note where unotify
/// was asked for, or the kernel is what stands in the way). Either backend pins host and guest
/// to one CPU only where `pin` (`--pin`) asks. `observing`: a trace or `--stats` must see
/// every call's result.
pub fn routes(asked: Option<Backend>, pin: bool, confined: bool, native_personality: bool, observing: bool) -> Routes {
    use crate::perform::directfs::Receivers;
    let ptrace = Routes { notified: Vec::new(), receivers: Receivers::One, pin };
    if asked == Some(Backend::Ptrace) {
        return ptrace;
    }
    if !confined || native_personality {
        if asked == Some(Backend::Unotify) {
            crate::host_log!("trapbox: note: --backend unotify serves calls under a policy in the linux personality only; this run uses ptrace");
        }
        return ptrace;
    }
    if !kernel_wakes_synchronously() {
        crate::host_log!("trapbox: note: this kernel lacks SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6+): this run uses --backend ptrace");
        return ptrace;
    }
    Routes { notified: crate::decode::syscalls::notified_calls(observing).collect(), receivers: Receivers::Pool, pin }
}

/// Whether the running kernel is Linux 6.6 or later, which has `SYNC_WAKE_UP` (the listener
/// is flagged once the guest made it; a failure there is a warning, see
/// [`crate::perform::directfs::start`]).
fn kernel_wakes_synchronously() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release.trim().split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (6, 6)
}
