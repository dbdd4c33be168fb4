//! The guest's own Landlock domains, so that an open the host performs for a guest thread meets
//! the Landlock rules the guest's own open would have met.
//!
//! A Landlock domain belongs to a thread's credentials: `landlock_restrict_self` restricts the
//! calling thread (with `LANDLOCK_RESTRICT_SELF_TSYNC`, every thread of its process), the
//! threads and processes it creates afterwards inherit the domain, and exec keeps it. A domain
//! cannot be read back, but the host sees every `landlock_restrict_self` at its seccomp stop
//! (the debugger calls [`on_restrict_self`] before the call runs and [`settle`] at its exit)
//! and every new thread and process ([`inherit`]). So it records, for each guest thread that
//! has one, the chain of rulesets it restricted itself with — the host's own `pidfd_getfd`
//! duplicates of the guest's ruleset fds — and directfs performs that thread's opens on a host
//! thread that entered the same chain, in the same order ([`Domain::enter`],
//! [`crate::perform::workers`]): the kernel then judges the host's open by the guest's own rules.
//!
//! The record is made before the call runs and undone if the kernel refuses it (a ruleset fd
//! that is no ruleset, a 17th layer, unknown flags): while the call is under way, the threads
//! it restricts — all of them under TSYNC, which the kernel applies at once — get no host open
//! with fewer rules than the kernel may already apply, and afterwards exactly the kernel's.
//!
//! The records are of live threads only: the debugger reports each thread that ends
//! ([`forget`]), so a domain whose processes have all exited is held by nobody, and its host
//! threads are released ([`Domain::is_held`], [`crate::perform::workers::DomainExecutors`]);
//! an `execve` keeps the domain (the exec'ing thread's record passes to the id it takes).
//!
//! **The ruleset fd is read twice**, by the host at the call's entry and by the kernel when the
//! call runs, so another thread of the process can `dup2` a different file onto that number in
//! between. Such a thread is not yet under the new domain (nobody is before the kernel applies
//! it), and it could as well have put that other ruleset there before the call, natively too:
//! whichever ruleset each side sees is one the guest chose, so the race lets it choose nothing
//! it could not natively (tested: `a_ruleset_fd_swapped_during_restrict_self…` in
//! `tests/tests/run_adversarial2.rs`). Where the host finds no ruleset at all but the kernel
//! accepts the call, the host cannot know the rules, and the opens it performs for the
//! restricted threads fail closed ([`settle`]).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::sys::Pid;

/// `landlock_restrict_self` flags by Landlock ABI: the three audit-log flags came with ABI 7,
/// `LANDLOCK_RESTRICT_SELF_TSYNC` with ABI 8. Other bits get EINVAL from the kernel.
const LOG_FLAGS: u32 = 0b111;
const TSYNC: u32 = 1 << 3;

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

/// A `landlock_restrict_self` under way: recorded before the call runs ([`on_restrict_self`]),
/// so no open of a thread it restricts is ever performed with fewer rules than the kernel may
/// already apply, and settled by the kernel's answer at the call's exit ([`settle`]).
#[derive(Debug)]
pub struct Restriction {
    tid: Pid,
    ruleset_fd: i32,
    /// With `LANDLOCK_RESTRICT_SELF_TSYNC`: every thread of the process is restricted.
    every_thread: bool,
    /// `None` when the host found no ruleset behind the fd (the kernel will refuse the call,
    /// unless another thread puts one there first).
    recorded: Option<Recorded>,
}

/// The domain a `landlock_restrict_self` under way was recorded with.
#[derive(Debug)]
struct Recorded {
    domain: Arc<Domain>,
    /// Each restricted thread's record before it.
    previous: Vec<(Pid, Option<Held>)>,
}

/// Guest thread `tid` (whose process's threads are `threads`) is about to call
/// `landlock_restrict_self(args[0], args[1])`: records the domain it will hold if the kernel
/// accepts, for [`settle`] to keep or undo. `None` for a call that adds no layer (unknown
/// flags, which the kernel refuses; fd -1 with audit-log flags only).
pub fn on_restrict_self(tid: Pid, threads: impl IntoIterator<Item = Pid>, args: &[u64; 6]) -> Option<Restriction> {
    let ruleset_fd = crate::decide::requests::int_arg(args, 0);
    let flags = crate::decide::requests::uint_arg(args, 1);
    let known = match crate::launch::landlock::abi_version() {
        Some(abi) if abi >= 8 => LOG_FLAGS | TSYNC,
        Some(7) => LOG_FLAGS,
        _ => 0,
    };
    if flags & !known != 0 || ruleset_fd == -1 {
        return None;
    }
    let every_thread = flags & TSYNC != 0;
    let restricted: Vec<Pid> = if every_thread { threads.into_iter().collect() } else { vec![tid] };
    let recorded = crate::sys::take_fd(tid, ruleset_fd).ok().filter(is_ruleset).map(|ruleset| {
        let parent = domain_of(tid);
        // trapbox's own ruleset is the first layer of every guest.
        let depth = parent.as_ref().map_or(2, |p| p.depth + 1);
        let domain = Arc::new(Domain { parent, ruleset, depth, holders: AtomicUsize::new(0) });
        let previous = with_domains(|domains| {
            restricted.iter().map(|&thread| (thread, domains.insert(thread, Held::new(Arc::clone(&domain))))).collect()
        });
        Recorded { domain, previous }
    });
    Some(Restriction { tid, ruleset_fd, every_thread, recorded })
}

/// The `landlock_restrict_self` of `restriction` has returned, successfully or not; the
/// threads of its process are now `threads`. A refused call's records are undone (threads
/// started meanwhile inherited the recorded domain: they get the one below it). A call the
/// kernel accepted although the host found no ruleset behind its fd (another thread put one
/// there in between) restricted the threads by rules the host cannot know: their opens are
/// then performed under a ruleset that grants no file access, so they fail closed (EACCES).
pub fn settle(restriction: Restriction, succeeded: bool, threads: impl IntoIterator<Item = Pid>) {
    let Restriction { tid, ruleset_fd, every_thread, recorded } = restriction;
    match (succeeded, recorded) {
        (true, Some(Recorded { domain, .. })) => crate::host_log!(
            "trapbox: note: thread {tid} restricted itself with a Landlock ruleset ({} layers with trapbox's); the host performs its opens under the same rules",
            domain.depth
        ),
        (false, Some(Recorded { domain, previous })) => with_domains(|domains| {
            for (thread, before) in previous {
                if domains.get(&thread).is_some_and(|held| Arc::ptr_eq(&held.0, &domain)) {
                    match before {
                        Some(held) => domains.insert(thread, held),
                        None => domains.remove(&thread),
                    };
                }
            }
            let below = domain.parent.clone().map(Held::new);
            domains.retain(|_, held| !Arc::ptr_eq(&held.0, &domain) || below.is_some());
            for held in domains.values_mut().filter(|held| Arc::ptr_eq(&held.0, &domain)) {
                if let Some(below) = &below {
                    *held = below.clone();
                }
            }
        }),
        (false, None) => {}
        (true, None) => fail_closed(tid, ruleset_fd, if every_thread { threads.into_iter().collect() } else { vec![tid] }),
    }
}

/// See [`settle`]: `restricted` hold a domain the host cannot know.
fn fail_closed(tid: Pid, ruleset_fd: i32, restricted: Vec<Pid>) {
    crate::host_log!(
        "trapbox: warning: thread {tid} restricted itself with a Landlock ruleset that was not behind fd {ruleset_fd} when the host looked (another thread replaced it); the host cannot know its rules, so the opens it performs for {} thread(s) fail closed",
        restricted.len()
    );
    let ruleset = match crate::launch::landlock::ruleset_granting_no_file_access() {
        Ok(ruleset) => ruleset,
        Err(errno) => {
            // A stand-in no host thread can enter (it is no ruleset): every open under it is
            // refused all the same (workers::Readiness).
            crate::host_log!("trapbox: warning: cannot make a ruleset that grants nothing (errno {errno})");
            match std::fs::File::open("/dev/null") {
                Ok(file) => OwnedFd::from(file),
                Err(_) => return,
            }
        }
    };
    let parent = domain_of(tid);
    let depth = parent.as_ref().map_or(2, |p| p.depth + 1);
    let domain = Arc::new(Domain { parent, ruleset, depth, holders: AtomicUsize::new(0) });
    with_domains(|domains| {
        for thread in restricted {
            domains.insert(thread, Held::new(Arc::clone(&domain)));
        }
    });
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
