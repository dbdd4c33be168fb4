//! `openat2` as the kernel judges it: the guest's `struct open_how` and its `RESOLVE_*` flags.
//!
//! The host never reimplements the kernel's rules here; it asks the kernel, on its own copies:
//!
//! - [`read_open_how`]: the size rules (`EINVAL` below 24 bytes, `E2BIG` above a page or with
//!   a nonzero tail) and the field rules (unknown flag or resolve bits, a mode without a
//!   create, `RESOLVE_BENEATH` with `RESOLVE_IN_ROOT`, `RESOLVE_CACHED` with a create…) are
//!   the kernel's answer to an `openat2` of the empty path with the host's copy of the bytes —
//!   the kernel checks the struct before it reads the path, so that call touches no file;
//! - [`resolve`]: with resolve flags, the kernel resolves the guest's path from the guest's own
//!   starting point (the directory behind its `dirfd`, or its working directory) with
//!   the guest's resolve flags and `O_PATH`; a refusal is the guest's answer (`EXDEV` for
//!   `..` or an absolute path under `RESOLVE_BENEATH`, `ELOOP` for a symlink under
//!   `RESOLVE_NO_SYMLINKS`…), and what it found is what the host checks against the grants
//!   and then opens (directfs compares the identity of the file it opens with this one).

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::Pid;

/// `OPEN_HOW_SIZE_VER0`: the first version of the struct, which the kernel reads at least.
const OPEN_HOW_MIN: u64 = 24;
/// The kernel refuses a larger struct (`PAGE_SIZE`) with `E2BIG` before reading it.
const OPEN_HOW_MAX: u64 = 4096;

/// The three fields of `struct open_how` the kernel knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenHow {
    /// `O_*` flags.
    pub flags: u64,
    /// The mode of a created file.
    pub mode: u64,
    /// `RESOLVE_*` flags.
    pub resolve: u64,
}

/// Reads the guest's `open_how` of `size` bytes at `addr` and has the kernel judge it: the
/// fields, or the errno `openat2` gives the guest before looking at any path.
pub fn read_open_how(pid: Pid, addr: u64, size: u64) -> Result<OpenHow, i32> {
    // The kernel refuses these sizes before reading anything; so does the host.
    let bytes = if (OPEN_HOW_MIN..=OPEN_HOW_MAX).contains(&size) {
        crate::sys::read_guest_bytes(pid, addr, size as usize).ok_or(libc::EFAULT)?
    } else {
        vec![0; OPEN_HOW_MIN as usize]
    };
    judge_open_how(&bytes, size)
}

/// The kernel's verdict on `bytes` passed as an `open_how` of `size` bytes.
fn judge_open_how(bytes: &[u8], size: u64) -> Result<OpenHow, i32> {
    // SAFETY: the struct the kernel may read is `bytes`, of at least `size` bytes whenever the
    // kernel reads it (it reads nothing for a size outside 24..=4096); the path is the empty
    // string, so the call stops at the path (ENOENT) once the struct is valid, with no fd
    // (-1 is never one) and no file touched.
    let rc = unsafe { libc::syscall(libc::SYS_openat2, -1, c"".as_ptr(), bytes.as_ptr(), size as usize) };
    let errno = if rc < 0 { std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL) } else { libc::ENOENT };
    if errno != libc::ENOENT {
        return Err(errno);
    }
    let word = |i: usize| bytes.get(i * 8..i * 8 + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_le_bytes);
    Ok(OpenHow { flags: word(0), mode: word(1), resolve: word(2) })
}

/// A file's identity: device and inode numbers.
pub type FileId = (u64, u64);

/// What the kernel resolved a path to under the guest's resolve flags.
#[derive(Debug)]
pub struct Resolved {
    /// The file's path as the host sees it: what the grants are checked against.
    pub path: PathBuf,
    /// The file found, or `None` when the last name does not exist yet (a create; its
    /// directory was resolved under the same flags).
    pub file: Option<FileId>,
}

/// Has the kernel resolve `path` for guest thread `pid` as its `openat2(dirfd, path, how)`
/// would: from the guest's own `dirfd` (or working directory), with its resolve flags.
pub fn resolve(pid: Pid, dirfd: u64, path: &[u8], how: &OpenHow) -> Result<Resolved, i32> {
    let scoped = how.resolve & (libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT) != 0;
    // An absolute path starts at the root unless the lookup is scoped (the kernel ignores
    // `dirfd` then, and answers EXDEV for one under RESOLVE_BENEATH itself): the guest's root,
    // where its own /tmp, /dev and /proc are; `/proc/self` there is the guest, not the host.
    let (base, path): (Option<OwnedFd>, Vec<u8>) = if path.starts_with(b"/") && !scoped {
        let relative = guest_proc_self(pid, path);
        let relative = relative.iter().position(|&b| b != b'/').map_or(b".".to_vec(), |start| relative[start..].to_vec());
        (Some(guest_root(pid)?), relative)
    } else {
        (Some(starting_point(pid, dirfd)?), path.to_vec())
    };
    let base_fd = base.as_ref().map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    let creates_exclusively = how.flags & (libc::O_CREAT | libc::O_EXCL) as u64 == (libc::O_CREAT | libc::O_EXCL) as u64;
    let nofollow = if creates_exclusively { libc::O_NOFOLLOW as u64 } else { how.flags & libc::O_NOFOLLOW as u64 };
    let lookup = |path: &[u8], extra: u64| {
        let c_path = CString::new(path).map_err(|_| libc::EINVAL)?;
        crate::sys::openat2(base_fd, &c_path, libc::O_PATH as u64 | extra, 0, how.resolve)
    };
    match lookup(&path, nofollow | (how.flags & libc::O_DIRECTORY as u64)) {
        Ok(file) => Ok(Resolved { path: host_path(&file)?, file: Some(identity(&file)?) }),
        Err(libc::ENOENT) if how.flags & libc::O_CREAT as u64 != 0 => {
            // The file is to be created: its directory must resolve under the same flags.
            let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
                Some(0) => (&b"/"[..], &path[1..]),
                Some(slash) => (&path[..slash], &path[slash + 1..]),
                None => (&b"."[..], &path[..]),
            };
            if matches!(name, b"" | b"." | b"..") {
                return Err(libc::ENOENT); // a directory's name: nothing to create there
            }
            let directory = lookup(parent, libc::O_DIRECTORY as u64)?;
            Ok(Resolved { path: host_path(&directory)?.join(OsStr::from_bytes(name)), file: None })
        }
        Err(errno) => Err(errno),
    }
}

/// Where a relative (or scoped) lookup of guest thread `pid` starts: its `dirfd`, or its
/// working directory for `AT_FDCWD`, as the host's own `O_PATH` fd of that directory (opened
/// through `/proc/PID/fd/N` or `/proc/PID/cwd`, so a `dup2` or `chdir` after this moment
/// changes nothing).
fn starting_point(pid: Pid, dirfd: u64) -> Result<OwnedFd, i32> {
    let link = match crate::decide::requests::int_arg(&[dirfd, 0, 0, 0, 0, 0], 0) {
        libc::AT_FDCWD => format!("/proc/{pid}/cwd"),
        fd if fd < 0 => return Err(libc::EBADF),
        fd => format!("/proc/{pid}/fd/{fd}"),
    };
    let link = CString::new(link).map_err(|_| libc::EINVAL)?;
    // No such fd is the guest's EBADF; a base that is not a directory gets the kernel's
    // ENOTDIR from the lookup itself.
    crate::sys::openat2(libc::AT_FDCWD, &link, libc::O_PATH as u64, 0, 0).map_err(|_| libc::EBADF)
}

/// The root directory of guest thread `pid` (in its mount namespace), as the host's `O_PATH` fd.
fn guest_root(pid: Pid) -> Result<OwnedFd, i32> {
    let link = CString::new(format!("/proc/{pid}/root")).map_err(|_| libc::EINVAL)?;
    crate::sys::openat2(libc::AT_FDCWD, &link, libc::O_PATH as u64, 0, 0).map_err(|_| libc::ENOENT)
}

/// `path` with a leading `/proc/self` or `/proc/thread-self` naming guest thread `pid` (as the
/// guest's `/proc` numbers it).
fn guest_proc_self(pid: Pid, path: &[u8]) -> Vec<u8> {
    for own in ["/proc/self", "/proc/thread-self"] {
        if let Some(rest) = path.strip_prefix(own.as_bytes()).filter(|rest| rest.is_empty() || rest.starts_with(b"/")) {
            return [crate::launch::view::own_proc_dir(pid, Path::new(own)).as_os_str().as_bytes(), rest].concat();
        }
    }
    path.to_vec()
}

/// The path of the file behind the host's fd `file`.
fn host_path(file: &OwnedFd) -> Result<PathBuf, i32> {
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ok()
        .filter(|p| p.is_absolute())
        .ok_or(libc::ENOENT)
}

/// The identity of the file behind `file`.
pub fn identity(file: &OwnedFd) -> Result<FileId, i32> {
    crate::perform::directfs::file_stat(file).map(|st| (st.st_dev, st.st_ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn how(flags: u64, mode: u64, resolve: u64) -> Vec<u8> {
        [flags, mode, resolve].iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// The kernel's own rules for the struct, on the host's copy.
    #[test]
    fn the_kernel_judges_the_struct() {
        let valid = how(0, 0, libc::RESOLVE_BENEATH);
        assert_eq!(judge_open_how(&valid, 24), Ok(OpenHow { flags: 0, mode: 0, resolve: libc::RESOLVE_BENEATH }));
        assert_eq!(judge_open_how(&valid, 8), Err(libc::EINVAL), "shorter than the first version");
        assert_eq!(judge_open_how(&valid, 8192), Err(libc::E2BIG), "larger than a page");
        let mut long = valid.clone();
        long.resize(4096, 0);
        assert!(judge_open_how(&long, 4096).is_ok(), "a zero tail is fine");
        long[4095] = 1;
        assert_eq!(judge_open_how(&long, 4096), Err(libc::E2BIG), "a nonzero tail");
        assert_eq!(judge_open_how(&how(0, 0, 1 << 40), 24), Err(libc::EINVAL), "an unknown resolve bit");
        assert_eq!(judge_open_how(&how(0, 0o644, 0), 24), Err(libc::EINVAL), "a mode without a create");
        let both = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
        assert_eq!(judge_open_how(&how(0, 0, both), 24), Err(libc::EINVAL));
        let cached_create = how(libc::O_CREAT as u64, 0, libc::RESOLVE_CACHED);
        assert_eq!(judge_open_how(&cached_create, 24), Err(libc::EAGAIN));
    }

    #[test]
    fn proc_self_names_the_guest() {
        assert_eq!(guest_proc_self(42, b"/proc/self/fd/3"), b"/proc/42/fd/3");
        assert_eq!(guest_proc_self(42, b"/proc/self"), b"/proc/42");
        assert_eq!(guest_proc_self(42, b"/proc/selfish"), b"/proc/selfish");
    }
}
