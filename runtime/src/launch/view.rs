//! The guest's filesystem as the host reaches it.
//!
//! The guest has a mount namespace of its own, where the base environment mounts its own
//! `/tmp`, `/dev` and `/proc` ([`crate::launch::mounts`]); the host stays in its own, where
//! those paths are the host's. So every path the host resolves, looks at or opens *for a
//! guest* goes through here: from the guest's root (its `/proc/PID/root`, opened once before
//! the guest runs) with `RESOLVE_IN_ROOT`, so absolute symlinks and `..` resolve as the guest's
//! kernel resolves them. The host's own business (`/proc/PID/...` of a guest, by host pid;
//! its own fds) does not: the host's `/proc` is its own.
//!
//! Without an attached view (`--unconfined`, `--no-namespaces`, the unit tests) every
//! function is the plain host call: the two views are the same.
//!
//! The guest's own `/proc` numbers processes as its PID namespace does; [`proc_ids`] gives
//! those numbers for a guest thread the host knows by its host tid.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::sys::Pid;

struct View {
    /// The guest's root directory (`O_PATH`), in its mount namespace.
    root: OwnedFd,
    /// Whether `/proc` there is the guest's own (its PID namespace's numbers).
    own_proc: bool,
    /// Which of the `NSpid:` numbers in the host's `/proc/PID/status` of a guest process is
    /// the guest PID namespace's: a process in a namespace the guest made lists more, inner,
    /// ones after it.
    pid_level: usize,
}

static VIEW: OnceLock<View> = OnceLock::new();

/// Takes the guest's root as the base of every path the host resolves for a guest: `guest` is
/// the guest's first process (host pid), not yet running its program; `own_proc` says whether
/// its `/proc` is one of its own. Once per run.
pub fn attach(guest: Pid, own_proc: bool) -> anyhow::Result<()> {
    let link = std::ffi::CString::new(format!("/proc/{guest}/root")).expect("no NUL in a number");
    let root = crate::sys::openat2(libc::AT_FDCWD, &link, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0, 0)
        .map_err(|errno| anyhow::anyhow!("cannot open the guest's root directory ({}): {}", link.to_string_lossy(), std::io::Error::from_raw_os_error(errno)))?;
    let pid_level = std::fs::read_to_string(format!("/proc/{guest}/status"))
        .ok()
        .and_then(|status| status.lines().find_map(|l| l.strip_prefix("NSpid:")).map(|ids| ids.split_whitespace().count().saturating_sub(1)))
        .unwrap_or(0);
    if VIEW.set(View { root, own_proc, pid_level }).is_err() {
        anyhow::bail!("the guest's view is already attached");
    }
    Ok(())
}

/// Whether the guest has a `/proc` of its own (numbered by its PID namespace).
pub fn own_proc() -> bool {
    VIEW.get().is_some_and(|v| v.own_proc)
}

/// Opens the absolute guest path `path` (`openat2` with `flags` and `resolve`), in the guest's
/// view: beneath its root, `RESOLVE_IN_ROOT` added.
pub fn open(path: &Path, flags: u64, resolve: u64) -> Result<OwnedFd, i32> {
    let Some(view) = VIEW.get() else {
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
        return crate::sys::openat2(libc::AT_FDCWD, &c_path, flags, 0, resolve);
    };
    // What the guest's /proc hides from the guest (trapbox's init) does not exist for the host
    // acting for it either (the host, as root or the init's owner, would see it).
    let process = path.strip_prefix("/proc").ok().and_then(|rest| rest.components().next()).and_then(|c| c.as_os_str().to_str()?.parse::<Pid>().ok());
    if view.own_proc && process.is_some_and(|number| own_proc_holds_guest(number) == Some(false)) {
        return Err(libc::ENOENT);
    }
    let relative = {
        let mut rest = path.as_os_str().as_bytes();
        while let [b'/', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() { b".".as_slice() } else { rest }
    };
    let c_path = std::ffi::CString::new(relative).map_err(|_| libc::EINVAL)?;
    crate::sys::openat2(view.root.as_raw_fd(), &c_path, flags, 0, resolve | libc::RESOLVE_IN_ROOT)
}

fn io(errno: i32) -> std::io::Error {
    std::io::Error::from_raw_os_error(errno)
}

/// `lstat` of a guest path.
pub fn symlink_metadata(path: &Path) -> std::io::Result<std::fs::Metadata> {
    if VIEW.get().is_none() {
        return std::fs::symlink_metadata(path);
    }
    let fd = open(path, (libc::O_PATH | libc::O_NOFOLLOW) as u64, 0).map_err(io)?;
    std::fs::File::from(fd).metadata()
}

/// `stat` of a guest path.
pub fn metadata(path: &Path) -> std::io::Result<std::fs::Metadata> {
    if VIEW.get().is_none() {
        return std::fs::metadata(path);
    }
    let fd = open(path, libc::O_PATH as u64, 0).map_err(io)?;
    std::fs::File::from(fd).metadata()
}

/// `readlink` of a guest path.
pub fn read_link(path: &Path) -> std::io::Result<PathBuf> {
    if VIEW.get().is_none() {
        return std::fs::read_link(path);
    }
    let fd = open(path, (libc::O_PATH | libc::O_NOFOLLOW) as u64, 0).map_err(io)?;
    crate::sys::readlink_fd(&fd).map_err(io)
}

/// What one name of a directory is, for a walk through the guest's view that resolves
/// symlinks itself ([`crate::decide::confine`]).
#[derive(Debug)]
pub enum Entry {
    /// A directory, with an `O_PATH` fd of it when it was looked up from its parent's fd.
    Directory(Option<OwnedFd>),
    /// A symbolic link, with its text.
    Link(PathBuf),
    /// Anything else that exists.
    Other,
    /// Nothing there (or nothing the host may look at for the guest): the kernel answers.
    Missing,
}

/// What `name` (one component: no slash, not `.` or `..`) is in the directory `dir`, an
/// `O_PATH` fd from [`open`]: one lookup of one name, so a walk costs one call per directory
/// on the way instead of a lookup of the whole prefix per component. The name is never
/// followed (a symlink is looked at, not through).
pub fn entry_in(dir: &OwnedFd, name: &std::ffi::OsStr) -> Entry {
    let Ok(name) = std::ffi::CString::new(name.as_bytes()) else { return Entry::Missing };
    let nofollow = (libc::O_PATH | libc::O_NOFOLLOW) as u64;
    match crate::sys::openat2(dir.as_raw_fd(), &name, nofollow | libc::O_DIRECTORY as u64, 0, libc::RESOLVE_BENEATH) {
        Ok(fd) => return Entry::Directory(Some(fd)),
        Err(libc::ENOTDIR) => {}
        Err(_) => return Entry::Missing,
    }
    let Ok(fd) = crate::sys::openat2(dir.as_raw_fd(), &name, nofollow, 0, libc::RESOLVE_BENEATH) else { return Entry::Missing };
    match crate::perform::directfs::file_stat(&fd) {
        Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFLNK => crate::sys::readlink_fd(&fd).map_or(Entry::Missing, Entry::Link),
        Ok(_) => Entry::Other,
        Err(_) => Entry::Missing,
    }
}

/// [`entry_in`] by the whole path, for the places a walk looks up by path (the guest's
/// `/proc`, whose hidden processes [`open`] knows).
pub fn entry_at(path: &Path) -> Entry {
    match symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => read_link(path).map_or(Entry::Missing, Entry::Link),
        Ok(meta) if meta.is_dir() => Entry::Directory(None),
        Ok(_) => Entry::Other,
        Err(_) => Entry::Missing,
    }
}

/// Whether a guest path names a directory.
pub fn is_dir(path: &Path) -> bool {
    metadata(path).is_ok_and(|m| m.is_dir())
}

/// Whether a guest path names something (following symlinks).
pub fn exists(path: &Path) -> bool {
    metadata(path).is_ok()
}

/// Opens a guest path for reading (following symlinks), as a file of the host's.
pub fn open_file(path: &Path, flags: i32) -> std::io::Result<std::fs::File> {
    open(path, (libc::O_RDONLY | flags) as u64, 0).map(std::fs::File::from).map_err(io)
}

/// The process and thread ids of guest thread `tid` (a host tid) as the guest's `/proc`
/// numbers them: (tgid, tid). `None` once the thread is gone.
pub fn proc_ids(tid: Pid) -> Option<(Pid, Pid)> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let (tgid_key, pid_key, level) = match VIEW.get() {
        Some(view) if view.own_proc => ("NStgid:", "NSpid:", view.pid_level),
        _ => ("Tgid:", "Pid:", 0),
    };
    // The NS lines list the ids from the host's namespace inwards, to the guest's and then to
    // those of namespaces the guest made.
    let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().nth(level)).and_then(|v| v.parse::<Pid>().ok());
    Some((field(tgid_key)?, field(pid_key)?))
}

/// `/proc/TID` of guest thread `tid` as the guest's `/proc` names it: what `/proc/self`
/// means for that thread.
pub fn proc_dir(tid: Pid) -> PathBuf {
    let own = if own_proc() { proc_ids(tid).map_or(0, |(_, t)| t) } else { tid };
    PathBuf::from(format!("/proc/{own}"))
}

/// `/proc/PID/task/TID` of guest thread `tid` as the guest's `/proc` names it: what
/// `/proc/thread-self` means for that thread (a thread's directory, which has no `task/`).
pub fn thread_proc_dir(tid: Pid) -> PathBuf {
    let (tgid, own) = if own_proc() { proc_ids(tid).unwrap_or((0, 0)) } else { (crate::sys::thread_group(tid).unwrap_or(0), tid) };
    PathBuf::from(format!("/proc/{tgid}/task/{own}"))
}

/// What `/proc/self` or `/proc/thread-self` (`own`, exactly one of them) means for guest
/// thread `tid`.
pub fn own_proc_dir(tid: Pid, own: &Path) -> PathBuf {
    if own == Path::new("/proc/thread-self") {
        thread_proc_dir(tid)
    } else {
        proc_dir(tid)
    }
}

/// Whether `path` is in guest thread `tid`'s own `/proc` directory, reached as `/proc/self`
/// or as `/proc/thread-self`.
pub fn in_own_proc_dir(tid: Pid, path: &Path) -> bool {
    path.starts_with(proc_dir(tid)) || path.starts_with(thread_proc_dir(tid))
}

/// What `readlink` of `/proc/self` or `/proc/thread-self` (`path`, unfollowed) gives guest
/// thread `tid`: its process's id, or `PID/task/TID`, as its `/proc` numbers them. (The host
/// cannot ask the kernel: in the guest's `/proc` the host itself has no number.)
pub fn self_link(tid: Pid, path: &Path) -> Option<String> {
    let (tgid, own) = proc_ids(tid)?;
    if path == Path::new("/proc/self") {
        Some(tgid.to_string())
    } else if path == Path::new("/proc/thread-self") {
        Some(format!("{tgid}/task/{own}"))
    } else {
        None
    }
}

/// Whether process `number` of the guest's own `/proc` is a guest process the host may open
/// entries of: every process of its PID namespace but trapbox's init (PID 1), which the guest
/// may not inspect (`hidepid=ptraceable` hides it from the guest itself). `None` when `/proc`
/// is the host's (the caller then checks its own list of guest processes).
pub fn own_proc_holds_guest(number: Pid) -> Option<bool> {
    own_proc().then_some(number != 1)
}

/// The host pid of the guest process that the guest's own `/proc` numbers `number`, among
/// `candidates` (host pids of guest processes); `number` itself when `/proc` is the host's.
pub fn host_pid(number: Pid, candidates: impl IntoIterator<Item = Pid>) -> Option<Pid> {
    if !own_proc() {
        return Some(number);
    }
    candidates.into_iter().find(|&host| proc_ids(host).is_some_and(|(tgid, _)| tgid == number))
}
