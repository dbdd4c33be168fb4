//! The guest's own Landlock domains, so that an open the host performs for a guest thread meets
//! the Landlock rules the guest's own open would have met.
//!
//! A Landlock domain belongs to a thread's credentials: `landlock_restrict_self` restricts the
//! calling thread (with `LANDLOCK_RESTRICT_SELF_TSYNC`, every thread of its process), the
//! threads and processes it creates afterwards inherit the domain, and exec keeps it. A domain
//! cannot be read back, but the host sees every `landlock_restrict_self` (the debugger calls
//! [`on_restrict_self`] before the call runs) and every new thread and process ([`inherit`]).
//! So it records, for each guest thread that has one, the chain of rulesets it restricted
//! itself with — the host's own `pidfd_getfd` duplicates of the guest's ruleset fds — and
//! directfs performs that thread's opens on a host thread that entered the same chain, in the
//! same order ([`Domain::enter`], [`crate::perform::workers`]): the kernel then judges the host's open
//! by the guest's own rules.
//!
//! The same ruleset applied again on top of itself is recorded once (a rewritten guest's call
//! is decided at its trap and again at its seccomp stop; the rules are the same either way,
//! though the kernel counts one more layer towards its limit of 16).
//!
//! The records are of live threads only: the debugger reports each thread that ends
//! ([`forget`]), so a domain whose processes have all exited is held by nobody, and its host
//! threads are released ([`Domain::is_held`], [`crate::perform::workers::DomainExecutors`]);
//! an `execve` keeps the domain (the exec'ing thread's record passes to the id it takes).
//!
//! The ruleset is taken by its fd number before
//! the call runs, so another thread could `dup2` a different ruleset onto that number in
//! between; only a thread that is not itself under the domain could, and it can open what it
//! likes anyway.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::sys::Pid;

/// `landlock_restrict_self` flags by Landlock ABI: the three audit-log flags came with ABI 7,
/// `LANDLOCK_RESTRICT_SELF_TSYNC` with ABI 8. Other bits get EINVAL from the kernel.
const LOG_FLAGS: u32 = 0b111;
const TSYNC: u32 = 1 << 3;
/// Most domain layers a thread may hold (the kernel's `LANDLOCK_MAX_NUM_LAYERS`); trapbox's
/// own ruleset is one of them.
const MAX_LAYERS: usize = 16;

/// One Landlock domain: the domain it was stacked on and the ruleset added to it. Each
/// successful `landlock_restrict_self` makes one, as in the kernel; threads that inherited it
/// share it (the same `Arc`), so "the same domain" is pointer identity.
#[derive(Debug)]
pub struct Domain {
    parent: Option<Arc<Domain>>,
    ruleset: OwnedFd,
    depth: usize,
    /// Guest threads whose record is this domain ([`Held`]).
    holders: AtomicUsize,
}

impl Domain {
    /// Whether a live guest thread holds this very domain (not one stacked on it): while
    /// none does, no open is performed under it, and the host need keep no thread for it.
    pub fn is_held(&self) -> bool {
        self.holders.load(Ordering::Relaxed) > 0
    }

    /// The rulesets of this domain, oldest first: the order the guest applied them in.
    fn chain(&self) -> Vec<&OwnedFd> {
        let mut chain = match &self.parent {
            Some(parent) => parent.chain(),
            None => Vec::new(),
        };
        chain.push(&self.ruleset);
        chain
    }

    /// Restricts the calling host thread with this domain's rulesets, in order (after setting
    /// its own no-new-privileges flag, which Landlock asks for and which changes only this
    /// thread). From then on the kernel judges every open of this thread by the guest's rules.
    pub fn enter(&self) -> Result<(), i32> {
        // SAFETY: prctl with constant integer arguments; it changes only the calling thread.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EPERM));
        }
        self.chain().into_iter().try_for_each(|ruleset| crate::launch::landlock::restrict_self(ruleset.as_raw_fd()))
    }
}

/// Runs `action` for guest thread `tid` under the guest's own Landlock domain, if it has one:
/// on a short-lived host thread that enters the domain first (a restriction cannot be undone,
/// so not on the caller's), which inherits the caller's credentials. For the calls the broker
/// performs that Landlock judges (creating, removing, renaming and linking names, truncating);
/// whatever `action` needs of the guest's memory must be read before (a thread in the
/// guest's domain cannot read it). `Err(errno)` when the domain cannot be entered.
pub fn within_domain_of<R: Send>(tid: Pid, action: impl FnOnce() -> R + Send) -> Result<R, i32> {
    let Some(domain) = domain_of(tid) else { return Ok(action()) };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                domain.enter()?;
                Ok(action())
            })
            .join()
            .unwrap_or(Err(libc::EIO))
    })
}

/// A guest thread's record of its domain, counted in the domain's holders.
#[derive(Debug)]
struct Held(Arc<Domain>);

impl Held {
    fn new(domain: Arc<Domain>) -> Held {
        domain.holders.fetch_add(1, Ordering::Relaxed);
        Held(domain)
    }
}

impl Clone for Held {
    fn clone(&self) -> Held {
        Held::new(Arc::clone(&self.0))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.holders.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The domain of each live guest thread that has one (see the module doc): the debugger
/// reports every new thread ([`inherit`]) and every thread that ends ([`forget`]).
static DOMAINS: Mutex<BTreeMap<Pid, Held>> = Mutex::new(BTreeMap::new());

fn with_domains<R>(action: impl FnOnce(&mut BTreeMap<Pid, Held>) -> R) -> R {
    action(&mut DOMAINS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The Landlock domain guest thread `tid` restricted itself with (or inherited), if any.
pub fn domain_of(tid: Pid) -> Option<Arc<Domain>> {
    with_domains(|domains| domains.get(&tid).map(|held| Arc::clone(&held.0)))
}

/// Thread `child` was just created by thread `parent`: it holds the parent's domain (or none;
/// a thread id the kernel reuses so loses the record of the thread that had it before).
pub fn inherit(parent: Pid, child: Pid) {
    with_domains(|domains| match domains.get(&parent).cloned() {
        Some(held) => {
            domains.insert(child, held);
        }
        None => {
            domains.remove(&child);
        }
    });
}

/// Thread `tid` ended (exited, or was ended by another thread's exec): it holds no domain
/// any more, and a domain no live thread holds has its host threads released
/// ([`crate::perform::workers::DomainExecutors`]).
pub fn forget(tid: Pid) {
    with_domains(|domains| domains.remove(&tid));
}

/// Guest thread `tid` of process `tgid` (whose threads are `threads`) is about to call
/// `landlock_restrict_self(args[0], args[1])`: records the domain it will hold afterwards. Only
/// a call the kernel will accept is recorded — a ruleset fd, flags this kernel knows, room for
/// one more layer — so the host never judges the guest by rules it does not have. (The guest
/// always has no-new-privileges, so the kernel's EPERM cannot happen.)
pub fn on_restrict_self(tid: Pid, tgid: Pid, threads: impl IntoIterator<Item = Pid>, args: &[u64; 6]) {
    let ruleset_fd = crate::decide::requests::int_arg(args, 0);
    let flags = crate::decide::requests::uint_arg(args, 1);
    let known = match crate::launch::landlock::abi_version() {
        Some(abi) if abi >= 8 => LOG_FLAGS | TSYNC,
        Some(7) => LOG_FLAGS,
        _ => 0,
    };
    if flags & !known != 0 || ruleset_fd == -1 {
        return; // refused by the kernel, or only audit-log flags: no new layer
    }
    let Ok(ruleset) = crate::sys::take_fd(tgid, ruleset_fd) else { return };
    if !is_ruleset(&ruleset) {
        return; // the kernel answers EBADF or EBADFD
    }
    let parent = domain_of(tid);
    // A rewritten guest's call is decided twice (at its trap and at its seccomp stop); the same
    // ruleset again on top of itself changes no access, so it is recorded once.
    if parent.as_ref().is_some_and(|p| same_file(&p.ruleset, &ruleset)) {
        return;
    }
    // trapbox's own ruleset is the first layer of every guest.
    let depth = parent.as_ref().map_or(2, |p| p.depth + 1);
    if depth > MAX_LAYERS {
        return; // E2BIG
    }
    let domain = Arc::new(Domain { parent, ruleset, depth, holders: AtomicUsize::new(0) });
    let restricted: Vec<Pid> = if flags & TSYNC != 0 { threads.into_iter().collect() } else { vec![tid] };
    with_domains(|domains| {
        for thread in restricted {
            domains.insert(thread, Held::new(Arc::clone(&domain)));
        }
    });
    crate::host_log!(
        "trapbox: note: thread {tid} restricted itself with a Landlock ruleset ({depth} layers with trapbox's); the host performs its opens under the same rules"
    );
}

/// Whether two fds of the host are the same open file (`kcmp(KCMP_FILE)`).
fn same_file(a: &OwnedFd, b: &OwnedFd) -> bool {
    const KCMP_FILE: libc::c_int = 0;
    let me = std::process::id();
    // SAFETY: kcmp compares two fds of this process; it takes integers only.
    unsafe { libc::syscall(libc::SYS_kcmp, me, me, KCMP_FILE, a.as_raw_fd(), b.as_raw_fd()) == 0 }
}

/// Whether `fd` is a Landlock ruleset (an anonymous inode of that name).
fn is_ruleset(fd: &OwnedFd) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).is_ok_and(|target| target.as_os_str() == "anon_inode:[landlock-ruleset]")
}

/// Domains for the host's own unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A domain (over a stand-in for its ruleset: it is never entered) and one thread's record
    /// of it, which holds it until dropped.
    pub(crate) fn held_domain() -> (Arc<Domain>, impl Sized) {
        let ruleset = OwnedFd::from(std::fs::File::open("/dev/null").expect("/dev/null"));
        let domain = Arc::new(Domain { parent: None, ruleset, depth: 2, holders: AtomicUsize::new(0) });
        let record = Held::new(Arc::clone(&domain));
        (domain, record)
    }
}
