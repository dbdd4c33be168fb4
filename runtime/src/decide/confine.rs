//! The host's check of path-taking calls against the policy: the first layer of the sandbox.
//!
//! For every call that names a path (open family, exec, and the calls that create, remove,
//! rename or change the metadata of a file), the host reads the path from the guest, resolves
//! it as the guest's kernel will (against its working directory or the `dirfd` argument,
//! following symlinks, `/proc/self` meaning the guest's), and asks the policy whether a grant
//! gives the access the call needs. If none does, the call is refused with `EACCES` before it
//! runs and one line says what was denied and why.
//!
//! This layer decides and explains; it does not contain. The kernel never acts on a path the
//! guest can still change after this check: the broker performs metadata changes and name
//! changes itself ([`crate::perform::broker`]), directfs performs opens ([`crate::perform::directfs`]), and the
//! calls the kernel must run in the guest (exec, chdir, `O_PATH` opens, inotify watches, the
//! xattr queries…) read the host's copy of the path from the pinned-argument region
//! ([`crate::trap::pinned`]), checked there; changes the kernel would make itself (setxattrat and
//! kin) are not served. Containment against the filesystem changing under a
//! checked path (a symlink swapped in a writable directory) is the kernel's: the broker's
//! `openat2` beneath the grant, and the Landlock ruleset that mirrors the grants
//! ([`crate::launch::landlock`]), which checks the file the kernel actually resolves.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use trapbox_abi::hostcall::{ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE};
use trapbox_abi::linux::nr;

use crate::decide::policy::{access_names, lexically_normal, Policy};
use crate::sys::Pid;

const AT_FDCWD: i32 = libc::AT_FDCWD;
const O_ACCMODE: u64 = libc::O_ACCMODE as u64;
const O_CREAT: u64 = libc::O_CREAT as u64;
const O_TRUNC: u64 = libc::O_TRUNC as u64;
/// Longest path the host reads from the guest.
const PATH_MAX: usize = libc::PATH_MAX as usize;

pub use crate::decode::syscalls::{follows_last_symlink, takes_empty_path};
use crate::decode::syscalls::{path_args, Need};

/// The (dirfd argument, path argument) pairs of a call the kernel may run in the guest after
/// the host's check (a path call the broker does not always perform itself): the host pins
/// them ([`crate::trap::pinned`]) so the kernel reads exactly what was checked. Empty for every other
/// call.
pub fn kernel_read_paths(number: u64, args: &[u64; 6]) -> Vec<(Option<usize>, usize)> {
    match path_args(number) {
        Some((paths, _)) if !crate::perform::broker::performs_always(number, args) => paths.to_vec(),
        _ => Vec::new(),
    }
}

/// The access an open with these flags needs: writing, creating or truncating needs write.
pub fn access_from_open_flags(flags: u64) -> u64 {
    if flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0 {
        ACCESS_WRITE
    } else {
        ACCESS_READ
    }
}

/// The file a guest path names, resolved the way the kernel will resolve it for that guest:
/// against `dirfd` or the guest's working directory, with `/proc/self` meaning the guest and
/// symlinks (magic links included) followed, so the check sees the file Landlock will see.
/// A last component that does not exist yet (a file being created) is kept as written.
/// `None` when the base cannot be known (the kernel and Landlock then decide alone).
pub fn resolve(pid: Pid, dirfd: Option<u64>, path: &[u8]) -> Option<PathBuf> {
    resolve_seen(pid, dirfd, path).map(|(path, _)| path)
}

/// [`resolve`], and in the common case (a path the kernel walks without meeting a symlink or
/// `..`) the host's `O_PATH` fd of the file it found on the way, free to look at: what kind of
/// file it is (directfs decides from it whether an open may block). Only to look at — the fd
/// was not opened beneath any grant.
pub fn resolve_seen(pid: Pid, dirfd: Option<u64>, path: &[u8]) -> Option<(PathBuf, Option<std::os::fd::OwnedFd>)> {
    use std::os::unix::ffi::OsStrExt;
    let path = Path::new(std::ffi::OsStr::from_bytes(path));
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let base = match dirfd.map(|fd| fd as i32) {
            None | Some(AT_FDCWD) => std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?,
            Some(fd) if fd >= 0 => std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?,
            Some(_) => return None,
        };
        if !base.is_absolute() {
            return None;
        }
        base.join(path)
    };
    let own = ["/proc/self", "/proc/thread-self"].into_iter().find_map(|own| joined.strip_prefix(own).ok().map(|rest| (own, rest)));
    let joined = match own {
        Some((own, rest)) => crate::launch::view::own_proc_dir(pid, Path::new(own)).join(rest),
        None => joined,
    };
    // The common case in one call: a path without `..` that the kernel walks without meeting
    // a symlink is its own resolution (`.` and repeated slashes aside).
    if !joined.components().any(|c| c == std::path::Component::ParentDir) {
        if let Some(resolved) = resolved_lexically(lexically_normal(&joined, Path::new("/"))) {
            return Some(resolved);
        }
    }
    // Otherwise walk it as the guest's kernel would.
    Some(walk(pid, &joined))
}

/// Most symlinks one resolution follows, as the kernel's limit (then ELOOP).
const MAX_SYMLINKS: u32 = 40;

/// Resolves the absolute `path` component by component from the guest's point of view: `..`
/// pops, each symlink met is read and followed, and `/proc/self` and `/proc/thread-self` —
/// reached directly or through a symlink — mean the guest's `/proc/PID`, never the host's
/// (whose fds and cwd differ). The first component that does not exist (or a symlink loop)
/// ends the walk, and the rest is kept as written: a file being created, a path probed for.
/// With the resolution, what it found (an `O_PATH` fd) when the rest after a symlink resolved
/// in one call.
fn walk(pid: Pid, path: &Path) -> (PathBuf, Option<std::os::fd::OwnedFd>) {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;
    let parts = |p: &Path| -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    };
    use crate::launch::view::Entry;
    let mut out = PathBuf::from("/");
    // An O_PATH fd of `out` while the walk goes down from it (opened again after a `..` or a
    // jump): each name is then looked up in its directory alone.
    let mut dir: Option<std::os::fd::OwnedFd> = None;
    let mut pending: VecDeque<OsString> = parts(path).into();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            out.pop();
            dir = None;
            continue;
        }
        let candidate = out.join(&name);
        if candidate == Path::new("/proc/self") || candidate == Path::new("/proc/thread-self") {
            out = crate::launch::view::own_proc_dir(pid, &candidate);
            dir = None;
            continue;
        }
        // The guest's /proc is looked up by path: it hides processes that are not the guest's.
        let entry = if crate::decide::base::beneath(&candidate, Path::new("/proc")) {
            crate::launch::view::entry_at(&candidate)
        } else {
            if dir.is_none() {
                dir = crate::launch::view::open(&out, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0).ok();
            }
            dir.as_ref().map_or(Entry::Missing, |dir| crate::launch::view::entry_in(dir, &name))
        };
        match entry {
            Entry::Link(target) if links < MAX_SYMLINKS => {
                links += 1;
                // An fd's link to a pipe, socket or anonymous inode (`pipe:[123]`) and a
                // namespace's link (`uts:[4026531838]`) name no path: the walk ends at the link
                // itself (see [`own_fd_link`] and [`own_namespace_link`]).
                if !target.is_absolute() && (is_proc_entry(&candidate, "fd", true) || is_proc_entry(&candidate, "ns", false)) {
                    out = candidate;
                    dir = None;
                    continue;
                }
                if target.is_absolute() {
                    out = PathBuf::from("/");
                    dir = None;
                }
                for part in parts(&target).into_iter().rev() {
                    pending.push_front(part);
                }
                if let Some(resolved) = resolved_at_once(&out, &pending) {
                    return resolved;
                }
            }
            Entry::Directory(fd) => {
                out = candidate;
                dir = fd;
            }
            Entry::Other => {
                out = candidate;
                dir = None;
            }
            // Missing, not a directory, or a loop: the kernel answers; the rest as written.
            Entry::Link(_) | Entry::Missing => {
                pending.push_front(name);
                break;
            }
        }
    }
    for name in pending {
        if name == ".." {
            out.pop();
        } else {
            out.push(name);
        }
    }
    (out, None)
}

/// The rest of a walk from `out` (resolved) in one call, if the kernel meets no symlink on it
/// and it has no `..`: then it is its own resolution, as in [`resolve_seen`]'s first try.
/// After the one symlink of a merged `/usr` (`/lib -> usr/lib`, `/bin -> usr/bin`) that is
/// the whole path: one lookup instead of one or two per name. The guest's /proc is left to
/// the walk (its own entries, its hidden processes).
fn resolved_at_once(out: &Path, pending: &std::collections::VecDeque<std::ffi::OsString>) -> Option<(PathBuf, Option<std::os::fd::OwnedFd>)> {
    if pending.iter().any(|name| name == "..") {
        return None;
    }
    let mut path = out.to_path_buf();
    path.extend(pending);
    if crate::decide::base::beneath(&path, Path::new("/proc")) {
        return None;
    }
    resolved_lexically(path)
}

/// `path` (absolute, normal, without `..`) as its own resolution, if the kernel's lookup meets
/// no symlink on it: with what it found, or without when a name on it is missing (or not a
/// directory), for the kernel met no symlink before that name and the walk keeps the rest as
/// written. `None`: a symlink is on the way (or another failure): walk it.
fn resolved_lexically(path: PathBuf) -> Option<(PathBuf, Option<std::os::fd::OwnedFd>)> {
    match crate::launch::view::open(&path, libc::O_PATH as u64, libc::RESOLVE_NO_SYMLINKS) {
        Ok(seen) => Some((path, Some(seen))),
        Err(libc::ENOENT | libc::ENOTDIR) => Some((path, None)),
        Err(_) => None,
    }
}

/// Whether `path` is an entry of a `/proc/N/KIND` or `/proc/N/task/T/KIND` directory (`fd`,
/// `ns`), its name a number if `numbered_entry`.
fn is_proc_entry(path: &Path, kind: &str, numbered_entry: bool) -> bool {
    let Some(dir) = path.parent() else { return false };
    let numbered = |p: Option<&Path>| p.and_then(|p| p.file_name()).and_then(|n| n.to_str()).is_some_and(|n| n.parse::<u32>().is_ok());
    let Ok(rest) = dir.strip_prefix("/proc") else { return false };
    let parts: Vec<_> = rest.components().map(|c| c.as_os_str()).collect();
    dir.file_name().is_some_and(|n| n == kind)
        && (!numbered_entry || numbered(Some(path)))
        && match parts.len() {
            2 => parts[0].to_str().is_some_and(|n| n.parse::<u32>().is_ok()),
            4 => parts[1] == "task" && numbered(dir.parent()),
            _ => false,
        }
}

/// The fd number when `target` (a resolved path) is the calling thread's own `/proc/self/fd/N`
/// link to an object that has no path (a pipe: `/dev/fd/63` of a shell's `<(…)`): reopening
/// it reaches nothing the guest does not hold, so directfs serves it without a grant
/// ([`crate::perform::directfs`], which opens the link in the host's `/proc` and keeps the
/// result only if it is a pipe).
pub fn own_fd_link(pid: Pid, target: &Path) -> Option<i32> {
    let fd = own_fd_number(pid, target)?;
    let link = crate::launch::view::read_link(target).ok()?;
    (!link.is_absolute()).then_some(fd)
}

/// The guest process whose namespace `target` (a resolved path) names, when it is a
/// `/proc/N/ns/NAME` (or `/proc/N/task/T/ns/NAME`) link of a guest process: the calling
/// thread's own, or, when `/proc` is the guest's own, any process it lists but trapbox's init.
/// Such a link names no path (`uts:[4026531838]`); opened, it is the namespace's file, which
/// holds nothing of the host's, so it is served without a grant
/// ([`crate::perform::directfs`] opens it and keeps it only if it is one). Returns the link's
/// directory and name.
pub fn own_namespace_link(pid: Pid, target: &Path) -> Option<(PathBuf, std::ffi::OsString)> {
    if !is_proc_entry(target, "ns", false) {
        return None;
    }
    let process: Pid = target.strip_prefix("/proc").ok()?.components().next()?.as_os_str().to_str()?.parse().ok()?;
    let own = crate::launch::view::in_own_proc_dir(pid, target);
    if !own && crate::launch::view::own_proc_holds_guest(process) != Some(true) {
        return None;
    }
    let link = crate::launch::view::read_link(target).ok()?;
    (!link.is_absolute()).then(|| (target.parent().map(Path::to_path_buf).unwrap_or_default(), target.file_name().unwrap_or_default().to_os_string()))
}

/// The `/proc/sys` settings that belong to the namespaces of whoever opens them (IPC, UTS,
/// user, PID), not to the host's kernel.
const NAMESPACE_SETTINGS: [&str; 14] = [
    "kernel/hostname",
    "kernel/domainname",
    "kernel/msgmax",
    "kernel/msgmnb",
    "kernel/msgmni",
    "kernel/msg_next_id",
    "kernel/sem",
    "kernel/sem_next_id",
    "kernel/shmall",
    "kernel/shmmax",
    "kernel/shmmni",
    "kernel/shm_next_id",
    "kernel/shm_rmid_forced",
    "kernel/ns_last_pid",
];

/// Whether `target` (a resolved path) is a file of thread `pid`'s own namespaces rather than
/// of the filesystem: an IPC, UTS, user or PID setting under `/proc/sys` (every network one,
/// when the guest's network namespace is its own), or the id maps of a guest process. Opened
/// by the host they would show the host's namespaces (or be refused, the maps), so init opens
/// them inside the guest's ([`crate::perform::agent`]); each reaches nothing beyond the
/// guest's namespaces, so no grant is needed.
pub fn namespace_file(pid: Pid, target: &Path) -> bool {
    if let Ok(setting) = target.strip_prefix("/proc/sys") {
        let own_network = || std::fs::read_link(format!("/proc/{pid}/ns/net")).ok() != std::fs::read_link("/proc/self/ns/net").ok();
        return NAMESPACE_SETTINGS.iter().any(|s| setting == Path::new(s))
            || setting.starts_with("fs/mqueue")
            || setting.starts_with("user")
            || (setting.starts_with("net") && own_network());
    }
    let Ok(rest) = target.strip_prefix("/proc") else { return false };
    let parts: Vec<&str> = rest.components().filter_map(|c| c.as_os_str().to_str()).collect();
    let (process, file) = match parts.as_slice() {
        [process, file] | [process, "task", _, file] => (*process, *file),
        _ => return false,
    };
    matches!(file, "uid_map" | "gid_map" | "projid_map" | "setgroups")
        && process.parse::<Pid>().is_ok_and(|n| crate::launch::view::own_proc_holds_guest(n) == Some(true))
}

/// The fd number when `target` (a resolved path, its last component not followed) is the
/// calling thread's own `/proc/self/fd/N`.
pub fn own_fd_number(pid: Pid, target: &Path) -> Option<i32> {
    let parent = target.parent()?;
    // Only a `/proc/…/fd/N` can be: the thread's own directories are read from its `/proc`
    // status, which costs more than the rest of most opens' decisions.
    if !parent.starts_with("/proc") || parent.file_name() != Some(std::ffi::OsStr::new("fd")) {
        return None;
    }
    if parent != crate::launch::view::proc_dir(pid).join("fd") && parent != crate::launch::view::thread_proc_dir(pid).join("fd") {
        return None;
    }
    target.file_name()?.to_str()?.parse().ok()
}

/// The kernel's errno for a path that could not be resolved: a relative path against a
/// `dirfd` that is no open fd gets `EBADF`, against one that is no directory `ENOTDIR`;
/// anything else `ENOENT`.
pub fn unresolved_errno(pid: Pid, dirfd: Option<u64>, path: &[u8]) -> i32 {
    match dirfd.map(|fd| fd as i32) {
        Some(fd) if fd != AT_FDCWD && !path.starts_with(b"/") => match std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) {
            Err(_) => libc::EBADF,
            Ok(meta) if !meta.is_dir() => libc::ENOTDIR,
            Ok(_) => libc::ENOENT,
        },
        _ => libc::ENOENT,
    }
}

/// [`resolve`], optionally without following the last component (`O_NOFOLLOW`, `lchown`…):
/// then the parent is resolved and the name kept.
pub fn resolve_path(pid: Pid, dirfd: Option<u64>, path: &[u8], follow: bool) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    if follow {
        return resolve(pid, dirfd, path);
    }
    let as_path = Path::new(std::ffi::OsStr::from_bytes(path));
    // A path ending in `.`, `..` or `/` names a directory: there is no last symlink to keep.
    let Some(name) = as_path.file_name().filter(|_| !path.ends_with(b"/") && !path.ends_with(b"/.")) else {
        return resolve(pid, dirfd, path);
    };
    let parent = as_path.parent().map(|p| p.as_os_str().as_bytes()).filter(|p| !p.is_empty()).unwrap_or(b".");
    Some(resolve(pid, dirfd, parent)?.join(name))
}

/// The files of its own `/proc/PID` directory every guest process may read where it has no
/// `/proc` of its own (`--no-namespaces`; see [`crate::decide::base::self_root`]): what a
/// program learns about itself natively (sanitizers and runtimes read several at start).
/// `mem`, `fd/`, `root`, `cwd` and the rest are not among them; `--print-policy` lists these.
pub const OWN_PROC_FILES: [&str; 11] =
    ["auxv", "cmdline", "comm", "environ", "limits", "maps", "smaps", "smaps_rollup", "stat", "statm", "status"];

/// The guest's processes and threads as the host numbers them, for the paths under `/proc`
/// the host opens for a guest (kept by the debugger as it follows each one).
static GUEST_TASKS: std::sync::Mutex<std::collections::BTreeSet<Pid>> = std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Signalled when the guest comes to have a second task ([`wait_for_guest_tasks`]).
static TASKS_GREW: std::sync::Condvar = std::sync::Condvar::new();

/// Records `tid` as a guest process or thread.
pub fn register_guest_task(tid: Pid) {
    let mut tasks = GUEST_TASKS.lock().unwrap_or_else(|e| e.into_inner());
    if tasks.insert(tid) && tasks.len() == 2 {
        TASKS_GREW.notify_all();
    }
}

/// Waits until the guest has more than one process or thread: what the notification pool's
/// further receivers wait for (with one guest task they would only be woken with the first
/// receiver for each call, and go back to sleep).
pub fn wait_for_a_second_guest_task() {
    let mut tasks = GUEST_TASKS.lock().unwrap_or_else(|e| e.into_inner());
    while tasks.len() < 2 {
        tasks = TASKS_GREW.wait(tasks).unwrap_or_else(|e| e.into_inner());
    }
}

/// Forgets `tid` (it exited).
pub fn forget_guest_task(tid: Pid) {
    GUEST_TASKS.lock().unwrap_or_else(|e| e.into_inner()).remove(&tid);
}

/// Character devices the host opens for a guest: the ones every program may use.
const COMMON_DEVICES: [&str; 8] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/console"];

/// What the host never reaches for a guest, whatever the grants say, because it would do so
/// with more privilege than the guest has (the host is root, or the guest's owner, in the
/// host's own namespaces; the guest only in its own): another process's `/proc/PID` (it does
/// not exist in the guest's PID namespace: the host's own memory was reachable through
/// `/proc/HOST/mem` under `--allow-write /`), kernel memory and symbols, kernel settings in
/// `/proc/sys` and `/sys` for writing, and devices other than the common ones.
pub fn host_reach_denial(target: &Path, access: u64) -> Option<Denial> {
    host_reach_denial_of(target, access, None)
}

/// [`host_reach_denial`] when the caller already looked at the file: `stat` of what `target`
/// resolves to, if anything, saving a lookup per open.
pub fn host_reach_denial_of(target: &Path, access: u64, stat: Option<Option<&libc::stat>>) -> Option<Denial> {
    let shown = crate::report::log::path(target);
    if let Ok(rest) = target.strip_prefix("/proc") {
        let first = rest.components().next().and_then(|c| c.as_os_str().to_str());
        if let Some(owner) = first.and_then(|f| f.parse::<Pid>().ok()) {
            let guest = crate::launch::view::own_proc_holds_guest(owner)
                .unwrap_or_else(|| GUEST_TASKS.lock().unwrap_or_else(|e| e.into_inner()).contains(&owner));
            return (!guest).then(|| Denial {
                errno: trapbox_abi::errno::ENOENT,
                reason: format!("{shown}: process {owner} does not exist in the guest's PID namespace"),
            });
        }
        let secret = matches!(first, Some("kcore" | "kallsyms" | "kmsg" | "kpagecount" | "kpageflags" | "kpagecgroup" | "sysrq-trigger"));
        if secret || (access & ACCESS_WRITE != 0) {
            return Some(Denial { errno: trapbox_abi::errno::EACCES, reason: format!("{shown} is the host kernel's, not the guest's") });
        }
        return None;
    }
    if target.starts_with("/sys") && access & ACCESS_WRITE != 0 {
        return Some(Denial { errno: trapbox_abi::errno::EACCES, reason: format!("{shown}: kernel settings are the host's, not the guest's") });
    }
    use std::os::unix::fs::FileTypeExt;
    let device = match stat {
        Some(stat) => stat.is_some_and(|st| matches!(st.st_mode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK)),
        None => crate::launch::view::metadata(target).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_block_device()),
    };
    let common = COMMON_DEVICES.iter().any(|d| target == Path::new(d)) || target.starts_with("/dev/pts");
    if device && !common {
        return Some(Denial { errno: trapbox_abi::errno::EACCES, reason: format!("{shown} is a device the host does not open for a guest") });
    }
    None
}

/// Why a call is refused: the errno and the sentence for the log.
#[derive(Debug, PartialEq, Eq)]
pub struct Denial {
    /// What the guest gets.
    pub errno: i32,
    /// Why, naming the path and the rule; empty for an answer that is the kernel's own (an
    /// ioctl of another kind of fd), which is no denial and leaves no log line.
    pub reason: String,
}

/// Checks call `number` of thread `pid` against `policy`; `None` lets it run (Landlock still
/// applies), `Some` refuses it.
pub fn check(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> Option<Denial> {
    if number == nr::IOCTL {
        let refusal = crate::decide::requests::ioctl_on_fd(pid, args).err()?;
        return Some(Denial { errno: refusal.0, reason: refusal.1.into_owned() });
    }
    if let Some(verdict) = crate::decide::requests::guest_filter(pid, number, args) {
        let refusal = verdict.err()?;
        return Some(Denial { errno: refusal.0, reason: refusal.1.into_owned() });
    }
    let (paths, _) = path_args(number)?;
    for &(dirfd_index, path_index) in paths {
        // Linux 6.11+ takes a NULL path with AT_EMPTY_PATH as the empty one.
        let null_empty = args[path_index] == 0 && takes_empty_path(number, args);
        let read = if null_empty { Some((Vec::new(), false)) } else { crate::report::trace::read_guest_string(pid, args[path_index], PATH_MAX) };
        // Unreadable: refused as the kernel would refuse it (EFAULT), never waved through — the
        // kernel's own read might succeed a moment later.
        let Some((bytes, truncated)) = read else {
            return Some(Denial { errno: trapbox_abi::errno::EFAULT, reason: "the path is not readable".into() });
        };
        if truncated {
            return Some(Denial { errno: trapbox_abi::errno::ENAMETOOLONG, reason: "path longer than PATH_MAX".into() });
        }
        if let Some(denial) = check_path(policy, pid, number, args, (dirfd_index, path_index), &bytes) {
            return Some(denial);
        }
    }
    None
}

/// [`check`] of one path argument of call `number` (`at`: its dirfd and path arguments), on the
/// host's copy of the path, `bytes`: whoever acts on that same copy acts on what was checked.
pub fn check_path(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6], at: crate::decode::syscalls::PathArg, bytes: &[u8]) -> Option<Denial> {
    let (dirfd_index, path_index) = at;
    let (_, need) = path_args(number)?;
    let access = match need {
        Need::Write => ACCESS_WRITE,
        Need::Exec => ACCESS_EXEC,
        Need::Read | Need::Metadata | Need::Watch => ACCESS_READ,
    };
    // A change the kernel would make itself (the broker performs all the others on its own
    // copies): by path, its walk could follow a symlink swapped in after the check; by fd,
    // another thread could dup2 a different file onto the number; and Landlock covers
    // neither. So setxattrat, removexattrat and file_setattr are not served.
    if access == ACCESS_WRITE && !crate::perform::broker::performs_always(number, args) {
        return Some(Denial {
            errno: trapbox_abi::errno::ENOSYS,
            reason: "not served under a policy; use setxattr, fsetxattr, removexattr or fremovexattr, which the host performs on its own copies".into(),
        });
    }
    if bytes.is_empty() {
        // AT_EMPTY_PATH: the call acts on the file behind the fd. Reading its metadata is
        // the guest's business (it holds the fd); executing it needs the exec grant (and a
        // dup2 race cannot help: memfds are never executable, Landlock checks the rest).
        if let (Some(index), Need::Read | Need::Write | Need::Exec) = (dirfd_index, need) {
            match fd_path(pid, args[index]) {
                Some(path) if policy.grants_for(&path, access).is_empty() => {
                    return Some(denial_for(policy, &path, access));
                }
                Some(path) if access == ACCESS_EXEC => {
                    if let Some(denial) = crate::decide::interp::ungranted_interpreter(policy, pid, &path) {
                        return Some(denial);
                    }
                }
                // Not an open fd: the kernel's EBADF, no denial.
                None if !crate::sys::fd_of_is_open(pid, args[index] as i32) => {
                    return Some(Denial { errno: trapbox_abi::errno::EBADF, reason: String::new() });
                }
                None if access == ACCESS_EXEC => {
                    return Some(Denial { errno: trapbox_abi::errno::EACCES, reason: "the fd names no file a grant could cover".into() });
                }
                _ => {}
            }
        }
        return None;
    }
    // A metadata query is judged by what its path leads to, the last symlink followed
    // (the guest's own /proc links, exe, cwd, fd/N, are judged by what they name).
    let follow = crate::decode::syscalls::follows(number, args, path_index) || matches!(need, Need::Metadata);
    let Some(path) = resolve_path(pid, dirfd_index.map(|i| args[i]), bytes, follow) else {
        return Some(Denial { errno: trapbox_abi::errno::EBADF, reason: "the directory the path is relative to cannot be known".into() });
    };
    if !policy.grants_for(&path, access).is_empty() || crate::decide::base::self_root(policy, pid, &path, access).is_some() {
        // Granted; the kernel will also execute its interpreter, which Landlock checks.
        if access == ACCESS_EXEC {
            if let Some(denial) = crate::decide::interp::ungranted_interpreter(policy, pid, &path) {
                return Some(denial);
            }
        }
        return None;
    }
    // The directories on the way to a grant may be looked at (not listed): programs stat
    // their way down to what they were given, and the user named those paths.
    let leads_to_a_grant = policy.grants.iter().any(|g| g.path.starts_with(&path));
    if matches!(need, Need::Metadata) && leads_to_a_grant {
        return None;
    }
    if matches!(need, Need::Watch) && leads_to_a_grant {
        return Some(Denial {
            errno: trapbox_abi::errno::EACCES,
            reason: format!(
                "a watch on {} would report the names and opens of files outside the allowed paths; only a path inside a read grant may be watched",
                crate::report::log::path(&path)
            ),
        });
    }
    Some(denial_for(policy, &path, access))
}

/// Why `access` to `path` is refused, and with which errno. Outside every grant the world
/// is consistent: a path no grant covers does not exist (`ENOENT`, for an open or an exec as
/// for a stat), except the directories on the way to a grant, which may be looked at and so
/// exist (`EACCES`); inside a grant too weak for the access, `EACCES` with the rule that fell
/// short.
pub fn denial_for(policy: &Policy, path: &Path, access: u64) -> Denial {
    let weaker = policy.grants.iter().find(|g| path.starts_with(&g.path));
    let shown = crate::report::log::path(path);
    match weaker {
        None if policy.grants.iter().any(|g| g.path.starts_with(path)) => Denial {
            errno: trapbox_abi::errno::EACCES,
            reason: format!("{shown} is outside every allowed path (a directory on the way to one: it may be looked at only)"),
        },
        None => Denial { errno: trapbox_abi::errno::ENOENT, reason: format!("{shown} is outside every allowed path (reported as absent)") },
        Some(grant) => Denial {
            errno: if read_only_container_mount(policy, path, access) { libc::EROFS } else { trapbox_abi::errno::EACCES },
            reason: format!(
                "{} needs {} access, but {} is granted {} only",
                crate::report::log::path(path),
                access_names(access),
                crate::report::log::path(&grant.path),
                access_names(grant.access)
            ),
        },
    }
}

/// Whether a write to `path` is refused because it lies in a read-only mount of a container
/// (`root.readonly`, a bind with `ro`): the kernel says `EROFS` there, and so does the host.
fn read_only_container_mount(policy: &Policy, path: &Path, access: u64) -> bool {
    if policy.container.is_none() || access & trapbox_abi::hostcall::ACCESS_WRITE == 0 {
        return false;
    }
    let innermost = policy.grants.iter().filter(|g| path.starts_with(&g.path)).max_by_key(|g| g.path.components().count());
    innermost.is_some_and(|g| matches!(g.origin, crate::decide::policy::Origin::Base(_)) && g.access & trapbox_abi::hostcall::ACCESS_WRITE == 0)
}

/// What the policy says of a call that is neither a path call nor answered elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Allowed: it reaches nothing the guest does not already hold, or the kernel confines it.
    Allow,
    /// Denied: the errno, and why (naming the request, for calls that take one).
    Deny(i32, Cow<'static, str>),
    /// Signals or handles: the target (argument N, a pid) must be a guest process.
    GuestTarget(usize),
    /// A change to the metadata of the file behind an fd: needs write access to it; the
    /// broker performs it on its own duplicate of the fd.
    FdMetadata,
    /// Network: decided by the network policy.
    Network,
    /// Decided by [`check`], which reads the guest: the path check, and ioctl requests whose
    /// allow-list depends on the kind of fd ([`crate::decide::requests::ioctl_on_fd`]).
    Path,
    /// A signal through the pidfd at argument 0: it must name a guest process.
    PidfdTarget,
    /// Allowed in the guest's own PID namespace; denied with the errno and reason otherwise.
    InOwnPidNamespace(i32, &'static str),
    /// A mount or an unmount, decided and made by [`crate::decide::mounts`].
    Mount,
}

/// `MFD_EXEC` and `MFD_NOEXEC_SEAL` (linux/memfd.h); memfd_create's flags are an `unsigned int`.
pub const MFD_EXEC: u32 = 0x10;
/// See [`MFD_EXEC`].
pub const MFD_NOEXEC_SEAL: u64 = 0x8;

/// A [`Rule`] from the verdict of an allow-list in [`crate::decide::requests`].
fn allowed_or_denied(verdict: Result<(), crate::decide::requests::Refusal>) -> Rule {
    match verdict {
        Ok(()) => Rule::Allow,
        Err((errno, why)) => Rule::Deny(errno, why),
    }
}

/// The policy's rule for a call the host sees, from the [`Ask`](crate::decode::syscalls::Ask)
/// column of the call table: every call the host must see has one there, and a call with none
/// is refused.
pub fn rule(number: u64, args: &[u64; 6]) -> Rule {
    use crate::decide::requests::{self, FcntlUse};
    use crate::decode::syscalls::{Ask, Requests};
    use trapbox_abi::errno::{ENOSYS, EPERM};
    let ask = crate::decode::syscalls::entry(number).map_or(Ask::Refuse(ENOSYS, "no x86-64 call has this number"), |e| e.ask);
    if let Ask::Path(_) = ask {
        return Rule::Path;
    }
    if let Some(why) = requests::escapes_the_debugger(number, args) {
        return Rule::Deny(EPERM, why.into());
    }
    // With callout information a missing key is made by the kernel's upcall: the host's
    // /sbin/request-key, run as root in the host's namespaces.
    if number == nr::REQUEST_KEY && args[2] != 0 {
        return Rule::Deny(EPERM, "request_key with callout information would run the host's /sbin/request-key".into());
    }
    match ask {
        // (Without the guest's own namespaces the debugger refuses OwnNamespace calls first.)
        Ask::Nothing | Ask::Directfs | Ask::OwnNamespace(_) => Rule::Allow,
        Ask::Mount => Rule::Mount,
        Ask::Path(_) => Rule::Path,
        // A filter of the guest's own is judged on its program, which [`check`] reads.
        Ask::Request(Requests::Prctl | Requests::Seccomp) if requests::installs_filter(number, args).is_some() => Rule::Path,
        Ask::Request(Requests::Prctl) => allowed_or_denied(requests::prctl(args)),
        Ask::Request(Requests::Seccomp) => Rule::Allow,
        Ask::Request(Requests::Ioctl) => match requests::ioctl_by_code(args) {
            Some(verdict) => allowed_or_denied(verdict),
            None => Rule::Path, // the kind of fd decides: [`check`]
        },
        Ask::Request(Requests::Fcntl) => match requests::fcntl(args) {
            Ok(FcntlUse::Native) => Rule::Allow,
            Ok(FcntlUse::NamesProcess) => Rule::GuestTarget(requests::FCNTL_PROCESS_ARG),
            Ok(FcntlUse::InOwnPidNamespace(errno, why)) => Rule::InOwnPidNamespace(errno, why),
            Ok(FcntlUse::OnHostCopy) => Rule::FdMetadata,
            Ok(FcntlUse::Never(errno, why)) => Rule::Deny(errno, why.into()),
            Err((errno, why)) => Rule::Deny(errno, why),
        },
        // A memfd is a file no grant covers (and Landlock does not see): it may hold data and
        // code, but never be exec'ed; the debugger adds MFD_NOEXEC_SEAL to every one.
        Ask::Request(Requests::Memfd) if requests::uint_arg(args, 1) & MFD_EXEC != 0 => {
            Rule::Deny(EPERM, "executable memfds are never granted".into())
        }
        Ask::Request(Requests::Memfd) => Rule::Allow,
        Ask::GuestTarget(index) => Rule::GuestTarget(index),
        Ask::PidfdTarget => Rule::PidfdTarget,
        Ask::FdMetadata => Rule::FdMetadata,
        Ask::Network => Rule::Network,
        Ask::Refuse(errno, why) => Rule::Deny(errno, why.into()),
    }
}

/// The path of the file behind guest fd `fd`, for checks on fd-based metadata changes.
/// (`AT_FDCWD` names the working directory.)
pub fn fd_path(pid: Pid, fd: u64) -> Option<PathBuf> {
    let link = match fd as i32 {
        AT_FDCWD => format!("/proc/{pid}/cwd"),
        fd => format!("/proc/{pid}/fd/{fd}"),
    };
    std::fs::read_link(link).ok().filter(|p| p.is_absolute())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symlink into /proc/self is followed in the guest's /proc/PID, not the host's: here a
    /// child whose working directory differs from this test's.
    #[test]
    fn walks_symlinks_from_the_guests_point_of_view() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("trapbox-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/proc/self/cwd", dir.join("cwd-link")).unwrap();
        std::os::unix::fs::symlink("a/b", dir.join("rel-link")).unwrap();
        let mut child = std::process::Command::new("sleep").arg("30").current_dir(dir.join("a")).spawn().unwrap();
        let pid = child.id() as Pid;
        assert_eq!(walk(pid, &dir.join("cwd-link/x")).0, dir.join("a/x"));
        assert_eq!(walk(pid, &dir.join("rel-link/../b/c")).0, dir.join("a/b/c"));
        assert_eq!(walk(pid, &dir.join("missing/../a")).0, dir.join("a"), "after a missing name, `..` pops lexically");
        assert_eq!(walk(pid, Path::new("/proc/self/fd")).0, Path::new(&format!("/proc/{pid}/fd")));
        // After a symlink the rest resolves in one lookup, and what it found comes back.
        std::fs::write(dir.join("a/b/f"), b"").unwrap();
        let (found, seen) = walk(pid, &dir.join("rel-link/f"));
        assert_eq!(found, dir.join("a/b/f"));
        let seen = seen.expect("the file the one lookup found");
        assert_eq!(crate::perform::directfs::file_stat(&seen).unwrap().st_ino, std::fs::metadata(dir.join("a/b/f")).unwrap().ino());
        let (missing, none) = walk(pid, &dir.join("rel-link/gone/x"));
        assert_eq!((missing, none.is_none()), (dir.join("a/b/gone/x"), true), "a missing name: the rest as written");
        let as_bytes = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();
        let (probe, none) = resolve_seen(pid, None, &as_bytes(&dir.join("a/nothing/x"))).unwrap();
        assert_eq!((probe, none.is_none()), (dir.join("a/nothing/x"), true));
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A directory above a grant may be looked at, not watched; inside a read grant it may be.
    #[test]
    fn watches_need_a_read_grant() {
        use crate::decide::policy::Origin;
        let mut policy = Policy::default();
        policy.allow(Path::new("/usr/share"), Path::new("/"), ACCESS_READ, Origin::CommandLine).unwrap();
        let watch = |path: &'static std::ffi::CStr| {
            let args = [0, path.as_ptr() as u64, libc::IN_CREATE as u64, 0, 0, 0];
            check(&policy, crate::sys::own_pid(), nr::INOTIFY_ADD_WATCH, &args)
        };
        let above = watch(c"/usr").expect("a watch above the grant is refused");
        assert_eq!(above.errno, trapbox_abi::errno::EACCES);
        assert!(above.reason.contains("watch on /usr"), "{}", above.reason);
        assert!(watch(c"/usr/share/doc").is_none(), "inside the grant");
        assert_eq!(watch(c"/etc").map(|d| d.errno), Some(trapbox_abi::errno::ENOENT), "outside every grant: absent");
        let stat = [c"/usr".as_ptr() as u64, 0, 0, 0, 0, 0];
        assert!(check(&policy, crate::sys::own_pid(), nr::STAT, &stat).is_none(), "a look is still allowed");
    }

    /// fanotify is never served: no rule allows its marks, and the table refuses its init.
    #[test]
    fn fanotify_is_refused() {
        assert!(matches!(rule(nr::FANOTIFY_MARK, &[0; 6]), Rule::Deny(..)));
        let init = crate::decode::syscalls::entry(nr::FANOTIFY_INIT).expect("in the table");
        assert!(matches!(init.disposition, crate::decode::syscalls::Disposition::Refuse(_)));
    }

    #[test]
    fn every_path_call_has_a_rule() {
        for number in [nr::EXECVE, nr::RENAMEAT2, nr::SYMLINKAT, nr::FCHMODAT2, nr::UTIMENSAT] {
            assert!(path_args(number).is_some(), "{number}");
        }
        assert!(path_args(nr::READ).is_none() && path_args(nr::OPENAT2).is_none());
        assert_eq!(kernel_read_paths(nr::EXECVE, &[0; 6]), [(None, 0)]);
        assert_eq!(kernel_read_paths(nr::OPENAT, &[0; 6]), [(Some(0), 1)]);
        assert!(kernel_read_paths(nr::RENAMEAT2, &[0; 6]).is_empty(), "the broker performs it");
        assert_eq!(kernel_read_paths(nr::NEWFSTATAT, &[0; 6]), [(Some(0), 1)], "a query the kernel may answer");
        assert_eq!(access_from_open_flags(0), ACCESS_READ);
        assert_eq!(access_from_open_flags(0o1), ACCESS_WRITE);
        assert_eq!(access_from_open_flags(O_CREAT), ACCESS_WRITE);
    }
}
