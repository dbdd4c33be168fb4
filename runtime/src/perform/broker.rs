//! The filesystem broker for the path calls Landlock does not cover: metadata changes.
//!
//! chmod, chown, utimes and xattr changes by path are not checked by Landlock, so letting the
//! kernel re-read the guest's path after the host's check would let a second guest thread
//! swap in another file. For these calls the host does the work itself, on its own copy of
//! every argument: it opens the file it resolved with `openat2` beneath the grant's directory
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, so the kernel confines the
//! walk even if the tree changes underneath), applies the change to that file and hands the
//! result back. The guest's own call never runs.
//!
//! The host acts with its own credentials, which equal the guest's until the guest changes
//! them; after a guest's setuid-family call the broker refuses (EPERM) rather than act with
//! rights the guest no longer has.
//!
//! No privilege leaves the sandbox through the files it writes: a file in a write grant never
//! becomes setuid or setgid (chmod, fchmod and fchmodat naming those bits are refused and
//! logged; create modes lose them, see [`unprivileged`]; a setgid directory, which only passes
//! its group on, is kept), and never gets a `security.*` or `trusted.*` attribute (file
//! capabilities, security labels, overlayfs metadata: refused and logged). Otherwise a guest
//! running as root could leave a setuid-root or `cap_dac_read_search` copy of a program for
//! any user of the host to run.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use trapbox_abi::errno::{EFAULT, EINVAL, ENAMETOOLONG, EPERM};
use trapbox_abi::hostcall::{ACCESS_READ, ACCESS_WRITE};
use trapbox_abi::linux::nr;

use crate::decode::syscalls::{self, Route};

use crate::decide::policy::Policy;
use crate::sys::Pid;

const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const AT_EACCESS: u64 = libc::AT_EACCESS as u64;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
/// `__O_TMPFILE`, the bit of `O_TMPFILE` that is not `O_DIRECTORY`.
pub(crate) const O_TMPFILE_BIT: u64 = 0o20_000_000;
const XATTR_NAME_MAX: usize = 255;
const XATTR_SIZE_MAX: usize = 65536;
const S_ISUID: u64 = libc::S_ISUID as u64;
const S_ISGID: u64 = libc::S_ISGID as u64;

/// The privilege a mode would give a file, named for the log: setuid anywhere, setgid on
/// anything but a directory (where it only makes new entries inherit the group).
fn privilege_in_mode(mode: u64, is_directory: bool) -> Option<&'static str> {
    if mode & S_ISUID != 0 {
        Some("setuid (S_ISUID)")
    } else if mode & S_ISGID != 0 && !is_directory {
        Some("setgid (S_ISGID)")
    } else {
        None
    }
}

/// A create mode (open, creat, mknod) without the setuid and setgid bits: a file the guest
/// creates never runs with more privilege than its caller. Returns the mode kept and, for the
/// log, the bits dropped (`None` when there were none).
pub(crate) fn unprivileged(mode: u64) -> (u64, Option<&'static str>) {
    let dropped = match mode & (S_ISUID | S_ISGID) {
        0 => None,
        S_ISGID => Some("S_ISGID"),
        S_ISUID => Some("S_ISUID"),
        _ => Some("S_ISUID and S_ISGID"),
    };
    (mode & !(S_ISUID | S_ISGID), dropped)
}

/// Whether an extended attribute named `name` may never be set by a guest: `security.*`
/// (file capabilities such as `security.capability`, SELinux, Smack, IMA and EVM labels) and
/// `trusted.*` (overlayfs metadata and other attributes only privileged programs trust).
/// `user.*` and the POSIX ACLs (`system.posix_acl_*`, read, write and execute bits only) may.
fn privileged_xattr(name: &[u8]) -> bool {
    name.starts_with(b"security.") || name.starts_with(b"trusted.")
}

/// The mode a chmod-family call asks for.
fn chmod_mode(number: u64, args: &[u64; 6]) -> Option<u64> {
    match number {
        nr::CHMOD | nr::FCHMOD => Some(args[1]),
        nr::FCHMODAT | nr::FCHMODAT2 => Some(args[2]),
        _ => None,
    }
}

/// Refuses a chmod-family call that would make `file` (shown as `shown`) setuid or setgid.
/// The host never changes the metadata (mode, owner, times, extended attributes) of a device
/// node: it is shared with the whole host whatever grant names it (the startup grant of
/// `/dev/null` is a grant to write data to it, not to make it the guest's).
fn refuse_device_node(file: &OwnedFd, shown: &Path) -> Result<(), (i32, String)> {
    use std::os::unix::fs::FileTypeExt;
    match file_type(file) {
        Some(t) if !(t.is_char_device() || t.is_block_device()) => Ok(()),
        Some(_) => Err((EPERM, format!("{} is a device node: the host never changes a device's metadata", crate::report::log::path(shown)))),
        None => Err((EPERM, format!("{} cannot be inspected", crate::report::log::path(shown)))),
    }
}

fn file_type(file: &OwnedFd) -> Option<std::fs::FileType> {
    file.try_clone().map(std::fs::File::from).and_then(|f| f.metadata()).map(|m| m.file_type()).ok()
}

fn refuse_privileged_mode(number: u64, args: &[u64; 6], file: &OwnedFd, shown: &Path) -> Result<(), (i32, String)> {
    let Some(mode) = chmod_mode(number, args) else { return Ok(()) };
    let is_directory = file.try_clone().map(std::fs::File::from).and_then(|f| f.metadata()).is_ok_and(|m| m.is_dir());
    match privilege_in_mode(mode, is_directory) {
        None => Ok(()),
        Some(bit) => Err((
            EPERM,
            format!(
                "mode {mode:04o} would make {} {bit}; files in a write grant never gain privilege",
                crate::report::log::path(shown),
                mode = mode & 0o7777
            ),
        )),
    }
}

/// The path a call's route makes the broker act at: (dirfd argument, path argument, follows
/// the last symlink), for calls on `route` that do not act on their dirfd.
fn at_path(number: u64, args: &[u64; 6], route: Route) -> Option<(Option<usize>, usize, bool)> {
    if syscalls::route_of(number) != route || syscalls::acts_on_dirfd(number, args) {
        return None;
    }
    let &(dirfd, path) = syscalls::path_args(number)?.0.first()?;
    Some((dirfd, path, syscalls::follows(number, args, path)))
}

/// The metadata changes the broker performs at a path.
fn brokered(number: u64, args: &[u64; 6]) -> Option<(Option<usize>, usize, bool)> {
    at_path(number, args, Route::BrokerChange)
}

/// Metadata queries the broker answers itself (with an empty path the kernel answers on the fd).
fn queried(number: u64, args: &[u64; 6]) -> Option<(Option<usize>, usize, bool)> {
    at_path(number, args, Route::BrokerQuery)
}

/// Calls that create, remove or rename names: each (dirfd argument, path argument) they
/// name, whose last component is never followed.
fn namespace_change(number: u64) -> Option<&'static [(Option<usize>, usize)]> {
    (syscalls::route_of(number) == Route::BrokerNames).then(|| syscalls::path_args(number).map(|(paths, _)| paths)).flatten()
}

/// Whether the broker performs `number` with these arguments.
pub fn handles(number: u64, args: &[u64; 6]) -> bool {
    performs_always(number, args) || queried(number, args).is_some()
}

/// Whether the broker performs the call in every case (changes); a metadata query may be
/// handed back to the kernel (see [`perform`]).
pub fn performs_always(number: u64, args: &[u64; 6]) -> bool {
    brokered(number, args).is_some() || namespace_change(number).is_some() || changes_through_fd(number, args)
}

/// Metadata changes through an fd: fchmod, fchown, fsetxattr, fremovexattr, futimens
/// (utimensat with a NULL path) and fchownat with `AT_EMPTY_PATH`. The host performs them on
/// its own duplicate of the guest's fd, so the file it checks is the file it changes, whatever
/// another guest thread does to the fd number meanwhile (`dup2`).
fn changes_through_fd(number: u64, args: &[u64; 6]) -> bool {
    match syscalls::route_of(number) {
        Route::BrokerFd => true,
        _ if number == nr::FCNTL => crate::decide::requests::fcntl(args) == Ok(crate::decide::requests::FcntlUse::OnHostCopy),
        Route::BrokerChange => syscalls::acts_on_dirfd(number, args),
        _ => false,
    }
}

/// Performs a change through an fd (see [`changes_through_fd`]) on the host's duplicate.
fn change_through_fd(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> Result<u64, (i32, String)> {
    let fd = args[0] as i32;
    if number == nr::FCHOWNAT {
        // With a path, the kernel would walk it: not served (the broker performs fchownat
        // without AT_EMPTY_PATH beneath the grant instead).
        let null_is_empty = args[1] == 0; // Linux 6.11+: NULL with AT_EMPTY_PATH
        match crate::report::trace::read_guest_string(pid, args[1], 1) {
            _ if null_is_empty => {}
            Some((path, _)) if path.is_empty() => {}
            Some(_) => {
                return Err((EPERM, "not served with a path under a policy; use fchown on the fd, or a path without AT_EMPTY_PATH, which the host performs beneath the grant".into()))
            }
            None => return Ok(trapbox_abi::errno::encode_error(EFAULT)),
        }
    }
    let file = match crate::sys::take_fd(pid, fd) {
        Ok(file) => file,
        Err(errno) => return Ok(trapbox_abi::errno::encode_error(errno.0)),
    };
    let at = proc_path(&file);
    // A file with a path needs the write grant; an anonymous object (pipe, socket: no path
    // a grant could name) is the guest's own; one whose link cannot be read is refused.
    let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
        return Err((EPERM, format!("the file behind fd {fd} cannot be named")));
    };
    if path.is_absolute() && policy.grants_for(&path, ACCESS_WRITE).is_empty() {
        // (A lease the kernel refuses gets EACCES; a metadata change, EPERM.)
        let errno = if number == nr::FCNTL { libc::EACCES } else { EPERM };
        return Err((errno, format!("{} (behind fd {fd}) is not granted write", crate::report::log::path(&path))));
    }
    // SAFETY: F_GETFL on an fd the host holds.
    let opened_path_only = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) } & libc::O_PATH != 0;
    if opened_path_only && matches!(number, nr::FCHMOD | nr::FCHOWN | nr::FSETXATTR | nr::FREMOVEXATTR | nr::UTIMENSAT) {
        return Ok(trapbox_abi::errno::encode_error(libc::EBADF)); // as the kernel says for an O_PATH fd
    }
    refuse_privileged_mode(number, args, &file, &path)?;
    if path.is_absolute() {
        refuse_device_node(&file, &path)?;
    }
    let empty = c"";
    let done = match number {
        // SAFETY: a NUL-terminated /proc/self/fd path of an fd the host holds.
        nr::FCHMOD => result_of(unsafe { libc::chmod(at.as_ptr(), args[1] as libc::mode_t) }),
        nr::FCHOWN | nr::FCHOWNAT => {
            let (uid, gid) = if number == nr::FCHOWN { (args[1], args[2]) } else { (args[2], args[3]) };
            // SAFETY: an open fd, an empty NUL-terminated path and integer arguments.
            result_of(unsafe { libc::fchownat(file.as_raw_fd(), empty.as_ptr(), uid as u32, gid as u32, AT_EMPTY_PATH as libc::c_int) })
        }
        nr::UTIMENSAT => times_of(pid, number, args[2]).and_then(|times| {
            let ptr = times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
            // SAFETY: a /proc/self/fd path and a host copy of the times (or null).
            result_of(unsafe { libc::utimensat(libc::AT_FDCWD, at.as_ptr(), ptr, 0) })
        }),
        // F_SETLEASE: the lease is the open file's, which the duplicate shares.
        // SAFETY: fcntl with integer arguments on an fd the host holds.
        nr::FCNTL => result_of(unsafe { libc::fcntl(file.as_raw_fd(), crate::decide::requests::uint_arg(args, 1) as libc::c_int, args[2] as libc::c_int) }),
        _ => xattr(pid, number, args, &at, &path)?,
    };
    Ok(done.unwrap_or_else(trapbox_abi::errno::encode_error))
}

/// A name the host will create, remove or rename: its parent directory, opened beneath the
/// write grant that covers it, and the last component.
pub(crate) struct Name {
    pub(crate) parent: OwnedFd,
    pub(crate) name: CString,
    /// The whole path, for messages.
    pub(crate) target: PathBuf,
}

fn open_name(policy: &Policy, pid: Pid, args: &[u64; 6], dirfd: Option<usize>, path: usize, follow: bool) -> Result<Name, (i32, String)> {
    // A path the kernel could not read or resolve either: its own errno, no denial.
    let target = target_of(pid, args, dirfd, path, follow).map_err(|e| (-e, String::new()))?;
    name_beneath(policy, &target)
}

/// The parent of `target` opened beneath the write grant that covers it, and its last
/// component; `Err` is a denial to log, or a negative errno (the kernel's answer).
pub(crate) fn name_beneath(policy: &Policy, target: &Path) -> Result<Name, (i32, String)> {
    let target = target.to_path_buf();
    let grant = policy.grants_for(&target, ACCESS_WRITE).first().map(|g| g.path.clone()).ok_or_else(|| {
        let denial = crate::decide::confine::denial_for(policy, &target, ACCESS_WRITE);
        (denial.errno, denial.reason)
    })?;
    if let Some(denial) = crate::decide::confine::host_reach_denial(&target, ACCESS_WRITE) {
        return Err((denial.errno, denial.reason));
    }
    // The grant itself (its own name) is the user's, not the guest's, to remove or rename.
    if target == grant {
        return Err((EPERM, format!("{} is a granted path itself", crate::report::log::path(&target))));
    }
    let parent_path = target.parent().ok_or((EINVAL, "no parent".to_string()))?;
    let name = CString::new(target.file_name().ok_or((EINVAL, "no name".to_string()))?.as_bytes()).map_err(|_| (EINVAL, String::new()))?;
    let flags = (libc::O_PATH | libc::O_DIRECTORY) as u64;
    match open_beneath(&grant, parent_path, flags, 0) {
        Ok(parent) => Ok(Name { parent, name, target }),
        Err(errno) => Err((-errno, String::new())),
    }
}

/// Whether path `index` of call `number` is a name the call creates.
fn creates_name(number: u64, index: usize) -> bool {
    match number {
        nr::MKDIR | nr::MKDIRAT | nr::MKNOD | nr::MKNODAT | nr::SYMLINK | nr::SYMLINKAT => index == 0,
        nr::LINK | nr::LINKAT => index == 1,
        _ => false,
    }
}

/// Whether the path exists and lies inside a read grant or on the way to a grant (so its
/// existence is no secret: a stat of it is answered too).
fn visible_and_present(policy: &Policy, pid: Pid, args: &[u64; 6], dirfd: Option<usize>, path: usize) -> bool {
    target_of(pid, args, dirfd, path, false).is_ok_and(|target| {
        let visible = !policy.grants_for(&target, ACCESS_READ).is_empty() || policy.grants.iter().any(|g| g.path.starts_with(&target));
        visible && crate::launch::view::symlink_metadata(&target).is_ok()
    })
}

/// Performs mkdir, mknod, unlink, rmdir, rename, link and symlink in the host, on parent
/// directories opened beneath the write grants.
/// What a path's last component says before any permission: a name operation whose path ends
/// in `/`, `/.` or `/..` is answered as the kernel answers it (the host resolves names to a
/// parent and a last component, where those endings would be lost: `unlink("f/.")` must not
/// remove `f`). `None` when nothing in the ending decides the call.
fn trailing_errno(pid: Pid, number: u64, args: &[u64; 6], paths: &[(Option<usize>, usize)]) -> Option<i32> {
    let removes_dir = number == nr::RMDIR || (number == nr::UNLINKAT && args[2] as u32 & libc::AT_REMOVEDIR as u32 != 0);
    let unlinks = matches!(number, nr::UNLINK | nr::UNLINKAT) && !removes_dir;
    let renames = matches!(number, nr::RENAME | nr::RENAMEAT | nr::RENAMEAT2);
    let mut source_is_dir = None;
    for (index, &(dirfd, path)) in paths.iter().enumerate() {
        let (bytes, _) = crate::report::trace::read_guest_string(pid, args[path], 4096)?;
        let dots = bytes.rsplit(|&b| b == b'/').next().filter(|last| *last == b"." || *last == b"..");
        let slash = bytes.ends_with(b"/");
        if dots.is_none() && !slash {
            if renames && index == 0 {
                let target = crate::decide::confine::resolve_path(pid, dirfd.map(|i| args[i]), &bytes, false)?;
                source_is_dir = Some(crate::launch::view::symlink_metadata(&target).is_ok_and(|m| m.is_dir()));
            }
            continue;
        }
        let target = crate::decide::confine::resolve(pid, dirfd.map(|i| args[i]), &bytes)?;
        let meta = crate::launch::view::metadata(&target);
        match meta {
            Ok(meta) if !meta.is_dir() => return Some(libc::ENOTDIR),
            Ok(_) if dots == Some(b"..") && removes_dir => return Some(libc::ENOTEMPTY),
            Ok(_) if dots.is_some() && removes_dir => return Some(libc::EINVAL),
            Ok(_) if dots.is_some() && renames => return Some(libc::EBUSY),
            Ok(_) if unlinks => return Some(libc::EISDIR),
            Ok(_) if dots.is_some() => return Some(libc::EEXIST), // creating "dir/."
            Ok(meta) => source_is_dir = source_is_dir.or(Some(meta.is_dir())),
            // Missing, with a trailing slash: only a directory may be made so.
            Err(_) if renames && index == 1 && source_is_dir == Some(false) => return Some(libc::ENOTDIR),
            Err(_) if matches!(number, nr::MKDIR | nr::MKDIRAT) || (renames && index == 1) => {}
            Err(_) => return Some(libc::ENOENT),
        }
    }
    None
}

fn change_names(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> Result<u64, (i32, String)> {
    let paths = namespace_change(number).ok_or((EINVAL, String::new()))?;
    let mut names = Vec::with_capacity(2);
    // linkat(AT_SYMLINK_FOLLOW) links the file its source's symlinks lead to: the host resolves
    // them (as for any path it checks) and links that name, still without following.
    let follow_source = number == nr::LINKAT && args[4] as u32 & libc::AT_SYMLINK_FOLLOW as u32 != 0;
    // Followed, the caller's own /proc/self/fd/N is a magic link to the file behind fd N,
    // which may have no name (an O_TMPFILE): linked as that file.
    if let Some(fd) = follow_source.then(|| target_of(pid, args, Some(0), 1, false).ok()).flatten().and_then(|t| crate::decide::confine::own_fd_number(pid, &t)) {
        return link_file_behind_fd(policy, pid, args, fd);
    }
    if let Some(errno) = trailing_errno(pid, number, args, paths) {
        return Ok(trapbox_abi::errno::encode_error(errno));
    }
    for (index, &(dirfd, path)) in paths.iter().enumerate() {
        match open_name(policy, pid, args, dirfd, path, follow_source && index == 0) {
            Ok(name) => names.push(name),
            // A negative errno here is an answer (the kernel's), not a denial to log.
            Err((errno, _)) if errno < 0 => return Ok(trapbox_abi::errno::encode_error(-errno)),
            // Creating a name the guest can see exists is EEXIST, as the kernel checks that
            // before any permission (`mkdir -p` of a read-granted directory must work).
            Err(_) if creates_name(number, index) && visible_and_present(policy, pid, args, dirfd, path) => {
                return Ok(trapbox_abi::errno::encode_error(libc::EEXIST));
            }
            Err(denial) => return Err(denial),
        }
    }
    // A mount point of the guest's (a tmpfs it mounted) is busy in its mount namespace; the
    // host, which removes and renames in its own, would not see that.
    let removes_or_moves = matches!(number, nr::RMDIR | nr::UNLINK | nr::UNLINKAT | nr::RENAME | nr::RENAMEAT | nr::RENAMEAT2);
    if removes_or_moves && names.iter().any(|name| crate::decide::mounts::is_mount_point(&name.target)) {
        return Ok(trapbox_abi::errno::encode_error(libc::EBUSY));
    }
    // What the call needs of the guest (a symlink's target, the mode under its umask) is read
    // here; the call itself runs under the guest's own Landlock domain if it has one.
    let symlink_target = match number {
        nr::SYMLINK | nr::SYMLINKAT => {
            let (bytes, truncated) = crate::report::trace::read_guest_string(pid, args[0], 4096).ok_or((EFAULT, String::new()))?;
            if truncated {
                return Ok(trapbox_abi::errno::encode_error(ENAMETOOLONG));
            }
            Some(CString::new(bytes).map_err(|_| (EINVAL, String::new()))?)
        }
        _ => None,
    };
    let mode = match number {
        nr::MKDIR | nr::MKDIRAT => u64::from(args[if number == nr::MKDIR { 1 } else { 2 }] as libc::mode_t & !guest_umask(pid)),
        nr::MKNOD | nr::MKNODAT => {
            let mode = if number == nr::MKNOD { args[1] } else { args[2] };
            let kind = mode as libc::mode_t & libc::S_IFMT;
            if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
                return Err((EPERM, "device nodes are never granted".into()));
            }
            created_mode(pid, mode, &names[0].target)
        }
        _ => 0,
    };
    let names = &names;
    let perform = || {
        let at = |i: usize| (names[i].parent.as_raw_fd(), names[i].name.as_ptr());
        let (fd0, name0) = at(0);
        let rc = match number {
            // SAFETY: open directory fds and NUL-terminated host copies of the names.
            nr::MKDIR | nr::MKDIRAT => unsafe { libc::mkdirat(fd0, name0, mode as libc::mode_t) },
            nr::MKNOD | nr::MKNODAT => {
                let dev = if number == nr::MKNOD { args[2] } else { args[3] };
                // SAFETY: open directory fds and NUL-terminated host copies of the names.
                unsafe { libc::mknodat(fd0, name0, mode as libc::mode_t, dev) }
            }
            // SAFETY: open directory fds and NUL-terminated host copies of the names.
            nr::UNLINK => unsafe { libc::unlinkat(fd0, name0, 0) },
            // SAFETY: open directory fds and NUL-terminated host copies of the names.
            nr::RMDIR => unsafe { libc::unlinkat(fd0, name0, libc::AT_REMOVEDIR) },
            // SAFETY: open directory fds and NUL-terminated host copies of the names.
            nr::UNLINKAT => unsafe { libc::unlinkat(fd0, name0, (args[2] as libc::c_int) & libc::AT_REMOVEDIR) },
            nr::SYMLINK | nr::SYMLINKAT => match &symlink_target {
                // SAFETY: open directory fds and NUL-terminated host copies of the names.
                Some(target) => unsafe { libc::symlinkat(target.as_ptr(), fd0, name0) },
                None => return Err(EINVAL),
            },
            nr::RENAME | nr::RENAMEAT | nr::RENAMEAT2 => {
                let (fd1, name1) = at(1);
                let flags = if number == nr::RENAMEAT2 { args[4] as libc::c_uint } else { 0 };
                // SAFETY: open directory fds and NUL-terminated host copies of the names.
                unsafe { libc::renameat2(fd0, name0, fd1, name1, flags) }
            }
            nr::LINK | nr::LINKAT => {
                let (fd1, name1) = at(1);
                // Hard links never follow: the host links exactly the name it checked.
                // SAFETY: open directory fds and NUL-terminated host copies of the names.
                unsafe { libc::linkat(fd0, name0, fd1, name1, 0) }
            }
            _ => return Err(EINVAL),
        };
        // (errno is this thread's: read it here, on the thread that made the call)
        result_of(rc)
    };
    let done = crate::perform::guest_landlock::within_domain_of(pid, perform).and_then(|r| r);
    Ok(done.unwrap_or_else(trapbox_abi::errno::encode_error))
}

/// `linkat(…, "/proc/self/fd/N", newdirfd, newpath, AT_SYMLINK_FOLLOW)` for thread `pid`:
/// links the file behind its fd `fd` (an `O_TMPFILE` included, which has no name to check)
/// at the new name, beneath the write grant, as the kernel does through the magic link. The
/// file must be in a write grant as for any link's source (a file with no path, a pipe or a
/// socket, cannot be linked: the kernel answers `EXDEV`); the host links its own duplicate
/// through its own `/proc/self/fd`, so the file checked is the file linked.
fn link_file_behind_fd(policy: &Policy, pid: Pid, args: &[u64; 6], fd: i32) -> Result<u64, (i32, String)> {
    let file = match crate::sys::take_fd(pid, fd) {
        Ok(file) => file,
        // No such fd: the magic link does not exist.
        Err(_) => return Ok(trapbox_abi::errno::encode_error(trapbox_abi::errno::ENOENT)),
    };
    let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
        return Err((EPERM, format!("the file behind fd {fd} cannot be named")));
    };
    if path.is_absolute() && policy.grants_for(&path, ACCESS_WRITE).is_empty() {
        let denial = crate::decide::confine::denial_for(policy, &path, ACCESS_WRITE);
        return Err((denial.errno, format!("{} (behind fd {fd}) is not granted write", crate::report::log::path(&path))));
    }
    let name = match open_name(policy, pid, args, Some(2), 3, false) {
        Ok(name) => name,
        Err((errno, _)) if errno < 0 => return Ok(trapbox_abi::errno::encode_error(-errno)),
        Err(denial) => return Err(denial),
    };
    let source = proc_path(&file);
    let perform = || {
        // SAFETY: a NUL-terminated /proc/self/fd path of an fd the host holds, an open
        // directory fd and a NUL-terminated host copy of the name.
        result_of(unsafe { libc::linkat(libc::AT_FDCWD, source.as_ptr(), name.parent.as_raw_fd(), name.name.as_ptr(), libc::AT_SYMLINK_FOLLOW) })
    };
    let done = crate::perform::guest_landlock::within_domain_of(pid, perform).and_then(|r| r);
    Ok(done.unwrap_or_else(trapbox_abi::errno::encode_error))
}

/// A memfd that guest thread `tid` created without `MFD_ALLOW_SEALING`, as fd `fd`, gets
/// `F_SEAL_SEAL`, as natively: the host created it with `MFD_NOEXEC_SEAL` (never
/// executable), which implies sealing. Done on the host's own duplicate; the thread is still
/// stopped at the call's exit, so only another of its threads could have put another file on
/// the number meanwhile (a seal then restricts that file of the guest's, or fails on a file
/// that is no memfd).
pub fn seal_like_native(tid: Pid, fd: i32) {
    if let Ok(dup) = crate::sys::take_fd(tid, fd) {
        let _ = crate::sys::add_seals(&dup, libc::F_SEAL_SEAL);
    }
}

/// The mode a file the host creates for guest `pid` at `target` gets: the guest's `mode`
/// filtered by its umask, without privilege ([`unprivileged`]; dropped bits are logged).
pub(crate) fn created_mode(pid: Pid, mode: u64, target: &Path) -> u64 {
    let (kept, dropped) = unprivileged(mode & !u64::from(guest_umask(pid) & 0o777));
    if let Some(bits) = dropped {
        crate::host_log!(
            "trapbox: warning: {} is created without {bits} (asked for mode {:04o}); files in a write grant never gain privilege",
            crate::report::log::path(target),
            mode & 0o7777
        );
    }
    kept
}

/// The guest's umask (from /proc/PID/status; 0o022 if unreadable).
pub fn guest_umask(pid: Pid) -> libc::mode_t {
    crate::sys::read_proc(&format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
        .and_then(|v| libc::mode_t::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

fn errno_now() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(EINVAL)
}

fn read_guest(pid: Pid, addr: u64, len: usize) -> Result<Vec<u8>, i32> {
    crate::sys::read_guest_bytes(pid, addr, len).ok_or(EFAULT)
}

/// Opens `target` (absolute, resolved) with `flags` and `mode`, the kernel confining the walk
/// beneath `grant` (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`): whatever
/// changes in the tree after the host resolved the path, the file reached lies beneath the
/// grant. A grant that is a file is reached from its directory. The host's fd is always
/// close-on-exec.
pub fn open_beneath(grant: &Path, target: &Path, flags: u64, mode: u64) -> Result<OwnedFd, i32> {
    let (root, root_fd) = grant_root(grant)?;
    let relative = target.strip_prefix(&root).map_err(|_| EPERM)?;
    if root != grant && target != grant {
        return Err(EPERM); // a file grant reaches that file only
    }
    let relative = if relative.as_os_str().is_empty() { Path::new(".") } else { relative };
    let relative_c = CString::new(relative.as_os_str().as_bytes()).map_err(|_| EINVAL)?;
    // openat2 insists on a zero mode unless a file may be created (O_TMPFILE includes
    // O_DIRECTORY, so test its own bit).
    let creates = flags & (libc::O_CREAT as u64 | O_TMPFILE_BIT) != 0;
    let mode = if creates { mode & 0o7777 } else { 0 };
    let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    crate::sys::openat2(root_fd.as_raw_fd(), &relative_c, flags, mode, resolve)
}

/// Opens the directory of every grant that exists now, before the guest runs (see
/// [`grant_root`]): the guest cannot race the host to swap one of them for a symlink.
pub fn open_grant_roots(policy: &Policy) {
    for grant in &policy.grants {
        let _ = grant_root(&grant.path);
    }
}

/// The directory a grant is reached from (the grant, or a file grant's directory) and an
/// `O_PATH` fd of it, opened before the guest starts ([`open_grant_roots`]; a grant created
/// later, at first use) and kept: every open beneath the grant starts from that directory, as
/// the Landlock rules (also opened once, at start) do.
fn grant_root(grant: &Path) -> Result<(PathBuf, Arc<OwnedFd>), i32> {
    static ROOTS: Mutex<Vec<(PathBuf, PathBuf, Arc<OwnedFd>)>> = Mutex::new(Vec::new());
    let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    // (Compared as bytes: equal bytes are the same path, and a grant's path is always spelled
    // the one way, canonical; a `Path` comparison walks components, for every grant at start.)
    if let Some((_, root, fd)) = roots.iter().find(|(g, _, _)| g.as_os_str() == grant.as_os_str()) {
        return Ok((root.clone(), Arc::clone(fd)));
    }
    // Opened as the guest sees it (its own /tmp, /dev, /proc: crate::launch::view), in one
    // lookup for a directory; the file grants of one directory share its fd.
    let itself = crate::launch::view::open(grant, libc::O_PATH as u64, 0);
    let is_dir = itself.as_ref().is_ok_and(|fd| crate::perform::directfs::file_stat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR));
    let root = if is_dir { grant } else { grant.parent().ok_or(EINVAL)? };
    let fd = match (is_dir, itself) {
        (true, Ok(fd)) => Arc::new(fd),
        _ => match roots.iter().find(|(_, r, _)| r.as_os_str() == root.as_os_str()) {
            Some((_, _, fd)) => Arc::clone(fd),
            None => Arc::new(crate::launch::view::open(root, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0)?),
        },
    };
    // A process's /proc directory (a guest's own files) lives as long as the process: kept,
    // it would pin a dead pid's directory and grow with every process.
    let per_process = root.strip_prefix("/proc").ok().and_then(|r| r.iter().next()).is_some_and(|c| c.to_str().is_some_and(|c| c.parse::<u32>().is_ok()));
    if !per_process {
        roots.push((grant.to_path_buf(), root.to_path_buf(), Arc::clone(&fd)));
    }
    Ok((root.to_path_buf(), fd))
}

/// `O_PATH` (not following the last symlink unless `follow`) for the metadata calls.
fn open_path(grant: &Path, target: &Path, follow: bool) -> Result<OwnedFd, i32> {
    let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
    open_beneath(grant, target, flags as u64, 0)
}

/// `/proc/self/fd/N` for an fd of the host: a path that names exactly that open file.
fn proc_path(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

fn result_of(rc: libc::c_int) -> Result<u64, i32> {
    if rc < 0 {
        Err(errno_now())
    } else {
        Ok(rc as u64)
    }
}

/// The file a brokered call names: resolved like the kernel would, following the last
/// symlink or not.
fn target_of(pid: Pid, args: &[u64; 6], dirfd: Option<usize>, path: usize, follow: bool) -> Result<PathBuf, i32> {
    target_from(pid, args, dirfd, crate::report::trace::read_guest_string(pid, args[path], 4096).as_ref(), follow)
}

/// [`target_of`] on the host's copy of the path (`read`: its bytes and whether they were
/// truncated, `None` if unreadable).
fn target_from(pid: Pid, args: &[u64; 6], dirfd: Option<usize>, read: Option<&(Vec<u8>, bool)>, follow: bool) -> Result<PathBuf, i32> {
    let (bytes, truncated) = read.ok_or(EFAULT)?;
    if *truncated {
        return Err(ENAMETOOLONG);
    }
    if bytes.is_empty() {
        return Err(trapbox_abi::errno::ENOENT);
    }
    crate::decide::confine::resolve_path(pid, dirfd.map(|i| args[i]), bytes, follow)
        .ok_or_else(|| crate::decide::confine::unresolved_errno(pid, dirfd.map(|i| args[i]), bytes))
}

/// Whether the flags argument of a call the broker performs has bits the kernel rejects with
/// `EINVAL` before it looks at any path (the host must not act on a call the kernel refuses:
/// an `unlinkat` with an unknown flag would otherwise remove the file).
fn invalid_at_flags(number: u64, args: &[u64; 6]) -> bool {
    const AT_REMOVEDIR: u64 = libc::AT_REMOVEDIR as u64;
    const AT_SYMLINK_FOLLOW: u64 = libc::AT_SYMLINK_FOLLOW as u64;
    const AT_NO_AUTOMOUNT: u64 = libc::AT_NO_AUTOMOUNT as u64;
    const AT_STATX_SYNC_TYPE: u64 = 0x6000;
    // The kernel reads every flags argument as an int.
    let flags = |i: usize| u64::from(args[i] as u32);
    match number {
        nr::UNLINKAT => flags(2) & !AT_REMOVEDIR != 0,
        nr::LINKAT => flags(4) & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0,
        nr::FCHOWNAT => flags(4) & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0,
        nr::UTIMENSAT => flags(3) & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0,
        nr::FCHMODAT2 => flags(3) & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0,
        nr::NEWFSTATAT => flags(3) & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0,
        nr::STATX => {
            let f = flags(2);
            f & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
                || f & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        }
        _ => false,
    }
}

/// The kernel's answer to `rmdir` (or `unlinkat(AT_REMOVEDIR)`) of a path whose last
/// component is `.` (`EINVAL`) or `..` (`ENOTEMPTY`): the host resolves the path lexically
/// and would otherwise remove the directory itself, or refuse its parent.
fn rmdir_of_dot(pid: Pid, number: u64, args: &[u64; 6]) -> Option<i32> {
    let path = match number {
        nr::RMDIR => args[0],
        nr::UNLINKAT if args[2] as u32 & libc::AT_REMOVEDIR as u32 != 0 => args[1],
        _ => return None,
    };
    let (bytes, _) = crate::report::trace::read_guest_string(pid, path, 4096)?;
    let trimmed = bytes.strip_suffix(b"/").unwrap_or(&bytes);
    let last = trimmed.rsplit(|&b| b == b'/').next()?;
    match last {
        b"." => Some(EINVAL),
        b".." => Some(libc::ENOTEMPTY),
        _ => None,
    }
}

/// Whether the path at argument `path`, followed to its end, is readable under a grant.
fn leads_into_a_grant(policy: &Policy, pid: Pid, args: &[u64; 6], dirfd: Option<usize>, read: Option<&(Vec<u8>, bool)>) -> bool {
    target_from(pid, args, dirfd, read, true).is_ok_and(|followed| !policy.grants_for(&followed, ACCESS_READ).is_empty())
}

/// Performs a brokered call for thread `pid`: `Ok` is the raw result for the guest, `Err` a
/// denial (errno and reason) to log, or errno 0 for "not the broker's to answer: check it and
/// let the kernel run it" (a directory above a grant). The caller runs it with the guest
/// thread's credentials ([`crate::perform::creds::as_guest`]), so the kernel's permission checks on the
/// host's calls are the guest's.
pub fn perform(
    policy: &Policy,
    pid: Pid,
    number: u64,
    args: &[u64; 6],
) -> Result<u64, (i32, String)> {
    if number == nr::UTIMENSAT {
        // The kernel reads the times before anything else, and with both omitted there is
        // nothing to do: it does not even look at the path (or the flags).
        match times_of(pid, number, args[2]) {
            Err(errno) => return Ok(trapbox_abi::errno::encode_error(errno)),
            Ok(Some([atime, mtime])) if atime.tv_nsec == libc::UTIME_OMIT && mtime.tv_nsec == libc::UTIME_OMIT => return Ok(0),
            Ok(_) => {}
        }
    }
    if let Some(errno) = xattr_arguments_error(pid, number, args) {
        return Ok(trapbox_abi::errno::encode_error(errno));
    }
    if invalid_at_flags(number, args) {
        return Ok(trapbox_abi::errno::encode_error(EINVAL));
    }
    if let Some(errno) = rmdir_of_dot(pid, number, args) {
        return Ok(trapbox_abi::errno::encode_error(errno));
    }
    if changes_through_fd(number, args) {
        return change_through_fd(policy, pid, number, args);
    }
    if let Some((dirfd, path, follow)) = queried(number, args) {
        return query(policy, pid, number, args, dirfd, path, follow);
    }
    if namespace_change(number).is_some() {
        return change_names(policy, pid, number, args);
    }
    let (dirfd, path, follow) = brokered(number, args).ok_or((EINVAL, "not a brokered call".to_string()))?;
    let target = match target_of(pid, args, dirfd, path, follow) {
        Ok(target) => target,
        Err(errno) => return Ok(trapbox_abi::errno::encode_error(errno)), // the kernel's own answer
    };
    let grant = policy
        .grants_for(&target, ACCESS_WRITE)
        .first()
        .map(|g| g.path.clone())
        .ok_or_else(|| {
            let denial = crate::decide::confine::denial_for(policy, &target, ACCESS_WRITE);
            (denial.errno, denial.reason)
        })?;
    if let Some(denial) = crate::decide::confine::host_reach_denial(&target, ACCESS_WRITE) {
        return Err((denial.errno, denial.reason));
    }
    let raw = |r: Result<u64, i32>| r.unwrap_or_else(trapbox_abi::errno::encode_error);
    let file = match open_path(&grant, &target, follow) {
        Ok(file) => file,
        Err(errno) => return Ok(trapbox_abi::errno::encode_error(errno)),
    };
    refuse_privileged_mode(number, args, &file, &target)?;
    refuse_device_node(&file, &target)?;
    let at = proc_path(&file);
    let empty = c"";
    let done = match number {
        nr::CHMOD | nr::FCHMODAT => {
            let mode = chmod_mode(number, args).unwrap_or(0) as libc::mode_t;
            // SAFETY: a NUL-terminated /proc/self/fd path of an fd the host holds.
            result_of(unsafe { libc::chmod(at.as_ptr(), mode) })
        }
        // SAFETY: as above.
        nr::FCHMODAT2 if follow => result_of(unsafe { libc::chmod(at.as_ptr(), args[2] as libc::mode_t) }),
        nr::FCHMODAT2 => {
            let flags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;
            // SAFETY: an open fd, an empty NUL-terminated path and integer arguments.
            let rc = unsafe { libc::syscall(nr::FCHMODAT2 as libc::c_long, file.as_raw_fd(), empty.as_ptr(), args[2], flags) };
            result_of(rc as libc::c_int)
        }
        nr::CHOWN | nr::LCHOWN | nr::FCHOWNAT => {
            let (uid, gid) = if number == nr::FCHOWNAT { (args[2], args[3]) } else { (args[1], args[2]) };
            // SAFETY: an open fd, an empty NUL-terminated path and integer arguments.
            result_of(unsafe { libc::fchownat(file.as_raw_fd(), empty.as_ptr(), uid as u32, gid as u32, AT_EMPTY_PATH as libc::c_int) })
        }
        nr::UTIME | nr::UTIMES | nr::FUTIMESAT | nr::UTIMENSAT => {
            let times_arg = if matches!(number, nr::UTIME | nr::UTIMES) { args[1] } else { args[2] };
            times_of(pid, number, times_arg).and_then(|times| {
                let ptr = times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
                if follow {
                    // SAFETY: a /proc/self/fd path and a host copy of the times (or null).
                    result_of(unsafe { libc::utimensat(libc::AT_FDCWD, at.as_ptr(), ptr, 0) })
                } else {
                    // A symlink itself is reached through its parent, not /proc/self/fd.
                    utimes_nofollow(&grant, &target, ptr)
                }
            })
        }
        nr::SETXATTR | nr::LSETXATTR | nr::REMOVEXATTR | nr::LREMOVEXATTR => xattr(pid, number, args, &at, &target)?,
        // Only a regular file is opened (the kernel's answers for the rest, as vfs_truncate
        // gives them), and without blocking: a FIFO swapped in meanwhile cannot stall the host.
        nr::TRUNCATE => match file_type(&file) {
            Some(t) if t.is_dir() => Err(libc::EISDIR),
            Some(t) if !t.is_file() => Err(EINVAL),
            // (Under the guest's own Landlock domain, if any: it judges truncation at the open.)
            _ => crate::perform::guest_landlock::within_domain_of(pid, || match open_beneath(&grant, &target, (libc::O_WRONLY | libc::O_NONBLOCK) as u64, 0) {
                Ok(writable) if grows_past_file_size_limit(pid, &writable, args[1]) => {
                    // The kernel's answer to the guest's own call: SIGXFSZ, then EFBIG.
                    if let Some(tgid) = crate::sys::thread_group(pid) {
                        let _ = crate::sys::tgkill(tgid, pid, libc::SIGXFSZ);
                    }
                    Err(libc::EFBIG)
                }
                // SAFETY: an fd the host opened for writing; the length is an integer.
                Ok(writable) => result_of(unsafe { libc::ftruncate(writable.as_raw_fd(), args[1] as libc::off_t) }),
                Err(errno) => Err(errno),
            })
            .and_then(|done| done),
        },
        _ => Err(EINVAL),
    };
    Ok(raw(done))
}

/// Whether truncating `file` to `length` would grow it past thread `pid`'s `RLIMIT_FSIZE`:
/// the host's own limit is not the guest's, so the host checks the guest's as the kernel would
/// (`inode_newsize_ok`).
fn grows_past_file_size_limit(pid: Pid, file: &OwnedFd, length: u64) -> bool {
    let Some(limit) = file_size_limit(pid) else { return false };
    let size = crate::perform::directfs::file_stat(file).map_or(0, |st| st.st_size as u64);
    length > size && length > limit
}

/// Thread `pid`'s soft `RLIMIT_FSIZE`, `None` when unlimited (or unknown).
fn file_size_limit(pid: Pid) -> Option<u64> {
    let limits = crate::sys::read_proc(&format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max file size"))?;
    line["Max file size".len()..].split_whitespace().next()?.parse().ok()
}

fn utimes_nofollow(grant: &Path, target: &Path, times: *const libc::timespec) -> Result<u64, i32> {
    let parent = target.parent().ok_or(EINVAL)?;
    let dir = open_path(grant, parent, true)?;
    let name = CString::new(target.file_name().ok_or(EINVAL)?.as_bytes()).map_err(|_| EINVAL)?;
    // SAFETY: an open directory fd, a NUL-terminated name and a host copy of the times.
    result_of(unsafe { libc::utimensat(dir.as_raw_fd(), name.as_ptr(), times, libc::AT_SYMLINK_NOFOLLOW) })
}

/// The times argument of a utime-family call as two timespecs (`None` for "now").
fn times_of(pid: Pid, number: u64, addr: u64) -> Result<Option<[libc::timespec; 2]>, i32> {
    if addr == 0 {
        return Ok(None);
    }
    let word = |b: &[u8], i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Ok(Some(match number {
        nr::UTIME => {
            let b = read_guest(pid, addr, 16)?; // struct utimbuf { actime, modtime }
            [libc::timespec { tv_sec: word(&b, 0), tv_nsec: 0 }, libc::timespec { tv_sec: word(&b, 1), tv_nsec: 0 }]
        }
        nr::UTIMES | nr::FUTIMESAT => {
            let b = read_guest(pid, addr, 32)?; // struct timeval[2]
            // The kernel refuses microseconds outside a second before it converts them (a
            // product that overflowed could otherwise land on a valid time).
            let nanoseconds = |usec: i64| if (0..1_000_000).contains(&usec) { Ok(usec * 1000) } else { Err(libc::EINVAL) };
            [
                libc::timespec { tv_sec: word(&b, 0), tv_nsec: nanoseconds(word(&b, 1))? },
                libc::timespec { tv_sec: word(&b, 2), tv_nsec: nanoseconds(word(&b, 3))? },
            ]
        }
        _ => {
            let b = read_guest(pid, addr, 32)?; // struct timespec[2]
            [libc::timespec { tv_sec: word(&b, 0), tv_nsec: word(&b, 1) }, libc::timespec { tv_sec: word(&b, 2), tv_nsec: word(&b, 3) }]
        }
    }))
}

/// The kernel's error for a path xattr call's own arguments, which it copies before it looks
/// the path up: setxattr's flags (`EINVAL`), the name (`EFAULT`; `ERANGE` empty or too
/// long), then setxattr's value (`E2BIG`, `EFAULT`).
fn xattr_arguments_error(pid: Pid, number: u64, args: &[u64; 6]) -> Option<i32> {
    let setting = matches!(number, nr::SETXATTR | nr::LSETXATTR);
    if !setting && !matches!(number, nr::GETXATTR | nr::LGETXATTR | nr::REMOVEXATTR | nr::LREMOVEXATTR) {
        return None;
    }
    const XATTR_CREATE_OR_REPLACE: u32 = (libc::XATTR_CREATE | libc::XATTR_REPLACE) as u32;
    if setting && args[4] as u32 & !XATTR_CREATE_OR_REPLACE != 0 {
        return Some(EINVAL);
    }
    match crate::report::trace::read_guest_string(pid, args[1], XATTR_NAME_MAX + 1) {
        None => return Some(EFAULT),
        Some((name, truncated)) if truncated || name.is_empty() || name.len() > XATTR_NAME_MAX => return Some(libc::ERANGE),
        Some(_) => {}
    }
    if setting && args[3] != 0 {
        let size = usize::try_from(args[3]).unwrap_or(usize::MAX);
        if size > XATTR_SIZE_MAX {
            return Some(libc::E2BIG);
        }
        if let Err(errno) = read_guest(pid, args[2], size) {
            return Some(errno);
        }
    }
    None
}

/// Sets or removes an extended attribute of the file the host opened (`at`, shown as
/// `shown`): `Ok` is the kernel's answer, `Err` a denial to log (a [privileged](privileged_xattr)
/// name to set).
fn xattr(pid: Pid, number: u64, args: &[u64; 6], at: &CString, shown: &Path) -> Result<Result<u64, i32>, (i32, String)> {
    let Some((name, truncated)) = crate::report::trace::read_guest_string(pid, args[1], XATTR_NAME_MAX + 1) else {
        return Ok(Err(EFAULT));
    };
    if truncated || name.len() > XATTR_NAME_MAX {
        return Ok(Err(libc::ERANGE));
    }
    let setting = matches!(number, nr::SETXATTR | nr::LSETXATTR | nr::FSETXATTR);
    if setting && privileged_xattr(&name) {
        return Err((
            EPERM,
            format!(
                "{} may not get the attribute {}: security.* and trusted.* attributes (file capabilities, security labels) carry privilege out of the sandbox",
                crate::report::log::path(shown),
                crate::report::log::escape(&name)
            ),
        ));
    }
    let Ok(name) = CString::new(name) else { return Ok(Err(EINVAL)) };
    if !setting {
        // SAFETY: a host copy of the name and a /proc/self/fd path.
        return Ok(result_of(unsafe { libc::removexattr(at.as_ptr(), name.as_ptr()) }));
    }
    let Ok(size) = usize::try_from(args[3]) else { return Ok(Err(EINVAL)) };
    if size > XATTR_SIZE_MAX {
        return Ok(Err(libc::E2BIG));
    }
    let value = match read_guest(pid, args[2], size) {
        Ok(value) => value,
        Err(errno) => return Ok(Err(errno)),
    };
    // SAFETY: host copies of the name and value, and a /proc/self/fd path.
    Ok(result_of(unsafe { libc::setxattr(at.as_ptr(), name.as_ptr(), value.as_ptr().cast(), size, args[4] as libc::c_int) }))
}

/// Answers a metadata query on the host's own copy: stat, statx, access, readlink, statfs.
/// The result structure is written into the guest's buffer as the kernel would have.
fn query(
    policy: &Policy,
    pid: Pid,
    number: u64,
    args: &[u64; 6],
    dirfd: Option<usize>,
    path: usize,
    follow: bool,
) -> Result<u64, (i32, String)> {
    // Read once: the decision and the answer are both on this copy.
    let read = crate::report::trace::read_guest_string(pid, args[path], 4096);
    let bytes = read.as_ref().map(|(b, _)| b.as_slice()).unwrap_or_default();
    // readlinkat(fd, "") reads the symlink behind the fd (an O_PATH fd of a link): the guest's
    // own fd, which the kernel answers on (as for any AT_EMPTY_PATH query).
    if number == nr::READLINKAT && bytes.is_empty() && args[path] != 0 {
        return Err((0, String::new()));
    }
    let target = match target_from(pid, args, dirfd, read.as_ref(), follow) {
        Ok(target) => target,
        Err(errno) => return Ok(trapbox_abi::errno::encode_error(errno)),
    };
    if let Some(text) = matches!(number, nr::READLINK | nr::READLINKAT).then(|| crate::launch::view::self_link(pid, &target)).flatten() {
        let (addr, size) = if number == nr::READLINK { (args[1], args[2]) } else { (args[2], args[3]) };
        // bufsiz is an int; the link's text, truncated to it, without a NUL.
        let Ok(size) = usize::try_from(size as i32).map_err(|_| ()).and_then(|s| if s == 0 { Err(()) } else { Ok(s) }) else {
            return Ok(trapbox_abi::errno::encode_error(EINVAL));
        };
        let text = &text.as_bytes()[..text.len().min(size)];
        return Ok(match crate::sys::write_memory(pid, addr, text) {
            Ok(n) if n == text.len() => text.len() as u64,
            _ => trapbox_abi::errno::encode_error(EFAULT),
        });
    }
    // The guest's own /proc links (exe, cwd, fd/N) are judged by what they point to: the host
    // checks the followed path and the kernel answers. (Looked up only under /proc: finding
    // the guest's own number reads the thread's /proc status.)
    if target.starts_with("/proc") && crate::launch::view::in_own_proc_dir(pid, &target) {
        return Err((0, String::new()));
    }
    let grant = policy.grants_for(&target, ACCESS_READ).first().map(|g| g.path.clone());
    // A symlink outside the grants that leads into one (`/bin` to `usr/bin` under `--allow-read
    // /usr`): every path through it already reaches the grant, so the link itself is seen, as
    // the check sees it (by what it points to); the kernel answers on the pinned copy.
    if grant.is_none() && !follow && leads_into_a_grant(policy, pid, args, dirfd, read.as_ref()) {
        return Err((0, String::new()));
    }
    let Some(grant) = grant else {
        // The directories leading to a grant may be looked at; the kernel answers on the
        // host's pinned copy of the path (crate::trap::pinned), so the answer is about this path.
        if policy.grants.iter().any(|g| g.path.starts_with(&target)) {
            return Err((0, String::new()));
        }
        let denial = crate::decide::confine::denial_for(policy, &target, ACCESS_READ);
        return Err((denial.errno, denial.reason));
    };
    // A look at one of the kernel's own files (/proc/kcore, /proc/kallsyms…) is what any
    // process gets natively: an O_PATH fd and its fstat read nothing of them.
    let kernel_file = target.strip_prefix("/proc").ok().and_then(|r| r.components().next()).is_some_and(|c| c.as_os_str().to_str().is_some_and(|n| n.parse::<Pid>().is_err()));
    if let Some(denial) = crate::decide::confine::host_reach_denial(&target, ACCESS_READ).filter(|_| !kernel_file) {
        return Err((denial.errno, denial.reason));
    }
    let file = match open_path(&grant, &target, follow) {
        Ok(file) => file,
        Err(errno) => return Ok(trapbox_abi::errno::encode_error(errno)),
    };
    Ok(answer_query(pid, number, args, &file, bytes))
}

/// Answers metadata query `number` (path `bytes` as the guest gave it) on `file`, the host's
/// fd of the file the query names: the result structure written into the guest's buffer as
/// the kernel would have; the raw result.
fn answer_query(pid: Pid, number: u64, args: &[u64; 6], file: &OwnedFd, bytes: &[u8]) -> u64 {
    // A trailing slash asks for a directory: the host's resolution drops it, the kernel's
    // walk answers ENOTDIR for anything else.
    if bytes.ends_with(b"/") && file_type(file).is_some_and(|t| !t.is_dir()) {
        return trapbox_abi::errno::encode_error(libc::ENOTDIR);
    }
    let fd = file.as_raw_fd();
    let empty = c"";
    let out = |bytes: &[u8], addr: u64| match crate::sys::write_memory(pid, addr, bytes) {
        Ok(n) if n == bytes.len() => Ok(0),
        _ => Err(EFAULT),
    };
    let result: Result<u64, i32> = match number {
        nr::STAT | nr::LSTAT | nr::NEWFSTATAT => {
            // SAFETY: a zeroed stat is a valid value; fstatat fills it.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: an open fd, an empty path and a stat buffer the host owns.
            match result_of(unsafe { libc::fstatat(fd, empty.as_ptr(), &mut st, AT_EMPTY_PATH as libc::c_int) }) {
                // SAFETY: viewing the filled stat as its bytes.
                Ok(_) => out(unsafe { std::slice::from_raw_parts((&st as *const libc::stat).cast::<u8>(), std::mem::size_of::<libc::stat>()) }, args[if number == nr::NEWFSTATAT { 2 } else { 1 }]),
                Err(e) => Err(e),
            }
        }
        nr::STATX => {
            let mut buf = [0u8; 256];
            let flags = (args[2] & !AT_SYMLINK_NOFOLLOW) | AT_EMPTY_PATH;
            // SAFETY: an open fd, an empty path and a 256-byte statx buffer the host owns.
            match result_of(unsafe { libc::syscall(nr::STATX as libc::c_long, fd, empty.as_ptr(), flags, args[3], buf.as_mut_ptr()) as libc::c_int }) {
                Ok(_) => out(&buf, args[4]),
                Err(e) => Err(e),
            }
        }
        nr::ACCESS | nr::FACCESSAT | nr::FACCESSAT2 => {
            let mode = args[if number == nr::ACCESS { 1 } else { 2 }];
            let flags = if number == nr::FACCESSAT2 { args[3] & !AT_SYMLINK_NOFOLLOW } else { 0 } | AT_EMPTY_PATH;
            // SAFETY: an open fd, an empty path and integer arguments.
            let ask = |flags: u64| result_of(unsafe { libc::syscall(nr::FACCESSAT2 as libc::c_long, fd, empty.as_ptr(), mode, flags) as libc::c_int });
            if flags & AT_EACCESS != 0 {
                ask(flags)
            } else {
                // access(2) checks with the real ids, which the host's thread does not take:
                // it takes them as its filesystem ids and asks with AT_EACCESS.
                crate::perform::creds::as_guest_for_access(pid, || ask(flags | AT_EACCESS)).unwrap_or_else(Err)
            }
        }
        nr::READLINK | nr::READLINKAT => {
            let (addr, size) = if number == nr::READLINK { (args[1], args[2]) } else { (args[2], args[3]) };
            // readlink of anything but a symlink is EINVAL (readlinkat of an empty path on
            // such an fd would say ENOENT, which realpath and Java take for a missing file).
            if !file_type(file).is_some_and(|t| t.is_symlink()) {
                return trapbox_abi::errno::encode_error(EINVAL);
            }
            let mut buf = vec![0u8; usize::try_from(size).unwrap_or(0).min(4096)];
            // SAFETY: an open fd, an empty path and a host buffer of the length passed.
            let n = unsafe { libc::readlinkat(fd, empty.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                Err(errno_now())
            } else {
                out(&buf[..n as usize], addr).map(|_| n as u64)
            }
        }
        nr::GETXATTR | nr::LGETXATTR | nr::LISTXATTR | nr::LLISTXATTR => {
            let listing = matches!(number, nr::LISTXATTR | nr::LLISTXATTR);
            let (buf_addr, size) = if listing { (args[1], args[2]) } else { (args[2], args[3]) };
            let mut buf = vec![0u8; usize::try_from(size).unwrap_or(0).min(XATTR_SIZE_MAX)];
            let at = proc_path(file);
            let n = if listing {
                // SAFETY: a /proc/self/fd path and a host buffer of the length passed.
                unsafe { libc::listxattr(at.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
            } else {
                // (Checked before the lookup; changed since, it is unreadable or too long.)
                match crate::report::trace::read_guest_string(pid, args[1], XATTR_NAME_MAX + 1).map(|(name, truncated)| (CString::new(name), truncated)) {
                    // SAFETY: a /proc/self/fd path, a host copy of the name and a host buffer.
                    Some((Ok(name), false)) => unsafe { libc::getxattr(at.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) },
                    Some(_) => return trapbox_abi::errno::encode_error(libc::ERANGE),
                    None => return trapbox_abi::errno::encode_error(EFAULT),
                }
            };
            if n < 0 {
                Err(errno_now())
            } else if buf.is_empty() {
                Ok(n as u64) // a size query: no buffer to fill
            } else {
                out(&buf[..n as usize], buf_addr).map(|_| n as u64)
            }
        }
        nr::STATFS => {
            // SAFETY: a zeroed statfs is a valid value; fstatfs fills it.
            let mut st: libc::statfs = unsafe { std::mem::zeroed() };
            // SAFETY: an open fd and a statfs buffer the host owns.
            match result_of(unsafe { libc::fstatfs(fd, &mut st) }) {
                // SAFETY: viewing the filled statfs as its bytes.
                Ok(_) => out(unsafe { std::slice::from_raw_parts((&st as *const libc::statfs).cast::<u8>(), std::mem::size_of::<libc::statfs>()) }, args[1]),
                Err(e) => Err(e),
            }
        }
        _ => Err(EINVAL),
    };
    result.unwrap_or_else(trapbox_abi::errno::encode_error)
}

/// Performs a metadata query that the broker does not answer beneath a grant ([`perform`]'s
/// errno 0, or a query on the dirfd with `AT_EMPTY_PATH`), for a route that cannot let the
/// kernel run it on a pinned copy of the path (user notification: the guest's registers stay
/// as they are). The host reads the path once, checks that copy
/// ([`crate::decide::confine::check_path`]: `Err` is the denial) and answers on a file it opens
/// itself from the same copy: the guest's fd (its own duplicate) for an empty path with
/// `AT_EMPTY_PATH` or `readlinkat(fd, "")`; otherwise the resolved path in the guest's view,
/// with no symlink followed on the way (the resolution followed those the kernel would), and a
/// magic link of the guest's own `/proc` through the host's `/proc` entry of the same thread,
/// which the kernel follows to the same file. Run with the guest thread's credentials.
pub fn query_in_view(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> Result<u64, (i32, String)> {
    let encode = trapbox_abi::errno::encode_error;
    let Some(&(dirfd, path)) = syscalls::path_args(number).and_then(|(paths, _)| paths.first()) else { return Ok(encode(EINVAL)) };
    let follow = syscalls::follows(number, args, path);
    // (NULL with AT_EMPTY_PATH is the empty path on Linux 6.11+.)
    let bytes = match (args[path], crate::report::trace::read_guest_string(pid, args[path], 4096)) {
        (0, _) if syscalls::takes_empty_path(number, args) => Vec::new(),
        (_, Some((_, true))) => return Err((ENAMETOOLONG, "path longer than PATH_MAX".into())),
        (_, Some((bytes, false))) => bytes,
        (_, None) => return Err((EFAULT, "the path is not readable".into())),
    };
    if let Some(denial) = crate::decide::confine::check_path(policy, pid, number, args, (dirfd, path), &bytes) {
        return Err((denial.errno, denial.reason));
    }
    let on_dirfd = bytes.is_empty() && (syscalls::takes_empty_path(number, args) || number == nr::READLINKAT);
    let file = if on_dirfd {
        let fd = dirfd.map_or(libc::AT_FDCWD, |i| args[i] as i32);
        if fd == libc::AT_FDCWD {
            let cwd = CString::new(format!("/proc/{pid}/cwd")).expect("no NUL in a number");
            crate::sys::openat2(libc::AT_FDCWD, &cwd, libc::O_PATH as u64, 0, 0)
        } else {
            crate::sys::take_fd(pid, fd).map_err(|e| e.0)
        }
    } else {
        let target = match crate::decide::confine::resolve_path(pid, dirfd.map(|i| args[i]), &bytes, follow) {
            Some(target) => target,
            None => return Ok(encode(crate::decide::confine::unresolved_errno(pid, dirfd.map(|i| args[i]), &bytes))),
        };
        let flags = (libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW }) as u64;
        // The thread's own /proc directory, reached as /proc/self or /proc/thread-self.
        let own_proc = [crate::launch::view::thread_proc_dir(pid), crate::launch::view::proc_dir(pid)]; // the longer first
        let own_rest = || own_proc.iter().find_map(|own| target.strip_prefix(own).ok());
        match crate::launch::view::open(&target, flags, libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS) {
            Err(libc::ELOOP) if follow && own_rest().is_some() => {
                let rest = own_rest().unwrap_or(Path::new(""));
                match CString::new(Path::new(&format!("/proc/{pid}")).join(rest).as_os_str().as_bytes()) {
                    Ok(host_entry) => crate::sys::openat2(libc::AT_FDCWD, &host_entry, flags, 0, 0),
                    Err(_) => Err(EINVAL),
                }
            }
            opened => opened,
        }
    };
    Ok(match file {
        // readlinkat(fd, "") of what is no symlink: the kernel's ENOENT (by path, EINVAL).
        Ok(file) if on_dirfd && number == nr::READLINKAT && !file_type(&file).is_some_and(|t| t.is_symlink()) => encode(libc::ENOENT),
        Ok(file) => answer_query(pid, number, args, &file, &bytes),
        Err(errno) => encode(errno),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_mode_or_attribute_gives_a_file_privilege() {
        assert_eq!(privilege_in_mode(0o4755, false), Some("setuid (S_ISUID)"));
        assert_eq!(privilege_in_mode(0o4755, true), Some("setuid (S_ISUID)"));
        assert_eq!(privilege_in_mode(0o2755, false), Some("setgid (S_ISGID)"));
        assert_eq!(privilege_in_mode(0o2755, true), None, "a setgid directory only passes its group on");
        assert_eq!(privilege_in_mode(0o1777, false), None, "the sticky bit is no privilege");
        assert_eq!(privilege_in_mode(0o755 | 1 << 40, false), None, "bits above the kernel's umode_t are ignored");
        assert_eq!(unprivileged(0o6755), (0o755, Some("S_ISUID and S_ISGID")));
        assert_eq!(unprivileged(u64::from(libc::S_IFREG) | 0o2644), (u64::from(libc::S_IFREG) | 0o644, Some("S_ISGID")));
        assert_eq!(unprivileged(0o644), (0o644, None));
        for name in ["security.capability", "security.selinux", "security.ima", "trusted.overlay.opaque", "trusted.x"] {
            assert!(privileged_xattr(name.as_bytes()), "{name}");
        }
        for name in ["user.mime_type", "system.posix_acl_access", "system.posix_acl_default", "Security.capability"] {
            assert!(!privileged_xattr(name.as_bytes()), "{name}");
        }
    }
}
