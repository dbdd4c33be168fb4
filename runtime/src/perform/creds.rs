//! Acting as the guest: the calls the host performs for a guest thread (directfs opens, the
//! broker's metadata changes and queries) run with that thread's filesystem credentials, so
//! after a privilege drop (`setuid`, `setfsuid`, `setgroups`, `capset`) the guest gets exactly
//! the kernel's answers, and never more than the kernel would give it.
//!
//! Credentials are per thread in Linux: the host thread about to perform the call takes the
//! guest thread's fsuid, fsgid, supplementary groups and effective capabilities for the length
//! of the call (raw system calls, which change only the calling thread) and then takes its own
//! back. That costs a read of `/proc/TID/status`, so it happens only for threads that may have
//! changed their credentials: the debugger marks every thread of a process that makes a
//! credential call or a prctl that changes what its capabilities become (bounding set,
//! securebits, keep-caps, ambient set; the mark outlives exec, where those take effect)
//! ([`mark`]); an unmarked thread has the credentials the guest started with, which are the
//! host's (the user namespace maps the invoker's ids to themselves).

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::sys::Pid;

/// Threads that made, or belong to a process that made, a credential call.
static CHANGED: Mutex<BTreeSet<Pid>> = Mutex::new(BTreeSet::new());

/// Marks `tids` as possibly acting with other credentials than the host's.
pub fn mark(tids: impl IntoIterator<Item = Pid>) {
    let mut changed = CHANGED.lock().unwrap_or_else(|e| e.into_inner());
    changed.extend(tids);
}

/// Whether thread `tid` may act with other credentials than the host's.
pub fn marked(tid: Pid) -> bool {
    CHANGED.lock().unwrap_or_else(|e| e.into_inner()).contains(&tid)
}

/// Forgets `tid` (it exited, or exec'ed a new image; its credentials stay what they became,
/// so an exec keeps the mark: only an exit calls this).
pub fn forget(tid: Pid) {
    CHANGED.lock().unwrap_or_else(|e| e.into_inner()).remove(&tid);
}

/// The credentials a filesystem call is checked with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Filesystem user id.
    pub fsuid: u32,
    /// Filesystem group id.
    pub fsgid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Effective capability set (bits of `CAP_*`).
    pub effective: u64,
}

/// What `/proc/TID/status` says of a thread's credentials.
struct Status {
    /// Its filesystem credentials (what opens, creates and metadata changes are checked with).
    filesystem: Credentials,
    /// Its real user and group ids and permitted capabilities: what `access(2)` checks with.
    real_uid: u32,
    real_gid: u32,
    permitted: u64,
}

/// The guest's own user namespace (`/proc/PID/ns/user` of its first process), whose
/// capabilities are the ones the host may act with; recorded once per run.
static GUEST_USER_NAMESPACE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Records the user namespace of the guest's first process `pid`.
pub fn record_guest_user_namespace(pid: Pid) {
    if let Ok(link) = std::fs::read_link(format!("/proc/{pid}/ns/user")) {
        let _ = GUEST_USER_NAMESPACE.set(link);
    }
}

/// Whether the guest has a user namespace of its own: then no capability it holds is one of
/// the host's user namespace (the kernel's `capable()` checks against the initial namespace
/// fail for it).
pub fn guest_has_own_user_namespace() -> bool {
    GUEST_USER_NAMESPACE.get().is_some()
}

/// Whether the capabilities of thread `tid` reach the guest's files: in the guest's own user
/// namespace they do (its ids map to the host's); in one it made itself they are that
/// namespace's, and reach a file only if its owner is mapped there: the host keeps them only
/// while root (the host's uid 0) is mapped in it, else acts with none — what the kernel
/// would allow natively (a process that unshared a user namespace without writing its maps
/// owns no file).
fn capabilities_reach_files(tid: Pid) -> bool {
    let Some(guest) = GUEST_USER_NAMESPACE.get() else { return true };
    if std::fs::read_link(format!("/proc/{tid}/ns/user")).ok().as_ref() == Some(guest) {
        return true;
    }
    // uid_map as the host reads it: `inside outside count`, outside in the host's ids.
    let maps_root = |map: &str| {
        map.lines().any(|line| {
            let n: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            n.len() == 3 && n[1] == 0 && n[2] > 0
        })
    };
    std::fs::read_to_string(format!("/proc/{tid}/uid_map")).is_ok_and(|map| maps_root(&map))
}

fn status_of(tid: Pid) -> Option<Status> {
    status_reaching(tid, capabilities_reach_files(tid))
}

/// Thread `tid`'s filesystem credentials with every capability it holds in its own user
/// namespace, for init's agent, which acts inside the guest's namespaces (where the kernel
/// itself judges what those capabilities reach: the id maps of a namespace it made).
pub fn in_own_namespace(tid: Pid) -> Result<Credentials, i32> {
    status_reaching(tid, true).map(|status| status.filesystem).ok_or(libc::ESRCH)
}

fn status_reaching(tid: Pid, reach: bool) -> Option<Status> {
    let status = crate::sys::read_proc(&format!("/proc/{tid}/status")).ok()?;
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    // Uid: real effective saved filesystem (the same for Gid).
    let nth = |name: &str, n: usize| field(name)?.split_whitespace().nth(n)?.parse().ok();
    let caps = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
    Some(Status {
        filesystem: Credentials {
            fsuid: nth("Uid:", 3)?,
            fsgid: nth("Gid:", 3)?,
            groups: field("Groups:")?.split_whitespace().filter_map(|g| g.parse().ok()).collect(),
            effective: if reach { caps("CapEff:")? } else { 0 },
        },
        real_uid: nth("Uid:", 0)?,
        real_gid: nth("Gid:", 0)?,
        permitted: if reach { caps("CapPrm:")? } else { 0 },
    })
}

/// Runs `action` for guest thread `tid`: directly when the thread cannot have changed its
/// credentials, otherwise on this host thread switched to the guest's filesystem credentials
/// and back. `Err(errno)` when they could not be read (the thread is gone: `ESRCH`) or taken.
pub fn as_guest<R>(tid: Pid, action: impl FnOnce() -> R) -> Result<R, i32> {
    switched(tid, |status| status.filesystem.clone(), action)
}

/// Like [`as_guest`], with the credentials `access(2)` checks with instead: the real user and
/// group ids, and every permitted capability for a real root, none otherwise (the kernel's
/// `access_override_creds`). The action must then ask with `AT_EACCESS`.
pub fn as_guest_for_access<R>(tid: Pid, action: impl FnOnce() -> R) -> Result<R, i32> {
    switched(
        tid,
        |status| Credentials {
            fsuid: status.real_uid,
            fsgid: status.real_gid,
            groups: status.filesystem.groups.clone(),
            effective: if status.real_uid == 0 { status.permitted } else { 0 },
        },
        action,
    )
}

fn switched<R>(tid: Pid, pick: impl FnOnce(&Status) -> Credentials, action: impl FnOnce() -> R) -> Result<R, i32> {
    if !marked(tid) {
        return Ok(action());
    }
    let guest = pick(&status_of(tid).ok_or(libc::ESRCH)?);
    with_credentials(&guest, action)
}

/// Runs `action` on this host thread with `credentials` (taken, then given back), or
/// directly when they are this thread's own. `Err(errno)` when they could not be taken.
pub fn with_credentials<R>(credentials: &Credentials, action: impl FnOnce() -> R) -> Result<R, i32> {
    let own = crate::sys::thread_credentials();
    if *credentials == own {
        return Ok(action());
    }
    crate::sys::take_thread_credentials(credentials).map_err(|e| {
        // Whatever part was taken is given back before failing.
        let _ = crate::sys::take_thread_credentials(&own);
        e.0
    })?;
    let result = action();
    if crate::sys::take_thread_credentials(&own).is_err() {
        // A host thread left with the guest's lesser credentials fails closed, but say so.
        crate::host_log!("trapbox: warning: a host thread could not take its own credentials back");
    }
    Ok(result)
}
