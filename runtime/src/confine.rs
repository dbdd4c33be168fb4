//! The host's check of path-taking calls against the policy: the first layer of the sandbox.
//!
//! For every call that names a path (open family, exec, and the calls that create, remove,
//! rename or change the metadata of a file), the host reads the path from the guest, resolves
//! it as the kernel will (against the guest's working directory or the `dirfd` argument,
//! following symlinks), and asks the policy whether a grant gives the access the call needs. If none does, the call is refused with
//! `EACCES` before it runs and one line says what was denied and why.
//!
//! This layer decides and explains; it does not contain. Containment is the kernel's: the
//! guest runs under a Landlock ruleset that mirrors the grants ([`crate::landlock`]), which
//! checks the file the kernel actually resolves — after symlinks, `..` and any change another
//! guest thread makes to the path buffer after this check. What Landlock does not cover
//! (metadata changes such as chmod, chown, utimes and xattrs) relies on this check alone, and
//! so is open to a second thread rewriting the path between check and use until the
//! filesystem broker executes path calls on the host's own copy.

use std::path::{Path, PathBuf};

use trapbox_abi::hostcall::{ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE};
use trapbox_abi::linux::nr;

use crate::policy::{access_names, lexically_normal, Policy};
use crate::sys::Pid;

const AT_FDCWD: i32 = -100;
const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
/// Longest path the host reads from the guest (Linux's PATH_MAX).
const PATH_MAX: usize = 4096;

/// How a call's needed access is found.
#[derive(Clone, Copy, Debug)]
enum Need {
    Fixed(u64),
    /// From `open` flags in argument N.
    OpenFlags(usize),
    /// From `struct open_how` (flags first) pointed to by argument N.
    OpenHow(usize),
}

/// A path argument: the index of its `dirfd` argument (if any) and of the path pointer.
type PathArg = (Option<usize>, usize);

fn path_args(number: u64) -> Option<(&'static [PathArg], Need)> {
    const W: Need = Need::Fixed(ACCESS_WRITE);
    Some(match number {
        nr::OPEN => (&[(None, 0)], Need::OpenFlags(1)),
        nr::OPENAT => (&[(Some(0), 1)], Need::OpenFlags(2)),
        nr::OPENAT2 => (&[(Some(0), 1)], Need::OpenHow(2)),
        nr::CREAT => (&[(None, 0)], W),
        nr::EXECVE => (&[(None, 0)], Need::Fixed(ACCESS_EXEC)),
        nr::EXECVEAT => (&[(Some(0), 1)], Need::Fixed(ACCESS_EXEC)),
        nr::MKDIR | nr::RMDIR | nr::UNLINK | nr::MKNOD | nr::TRUNCATE | nr::CHMOD | nr::CHOWN | nr::LCHOWN
        | nr::UTIME | nr::UTIMES | nr::SETXATTR | nr::LSETXATTR | nr::REMOVEXATTR | nr::LREMOVEXATTR => (&[(None, 0)], W),
        nr::MKDIRAT | nr::UNLINKAT | nr::MKNODAT | nr::FCHMODAT | nr::FCHMODAT2 | nr::FCHOWNAT | nr::FUTIMESAT
        | nr::UTIMENSAT => (&[(Some(0), 1)], W),
        nr::RENAME | nr::LINK => (&[(None, 0), (None, 1)], W),
        nr::RENAMEAT | nr::RENAMEAT2 | nr::LINKAT => (&[(Some(0), 1), (Some(2), 3)], W),
        nr::SYMLINK => (&[(None, 1)], W),
        nr::SYMLINKAT => (&[(Some(1), 2)], W),
        _ => return None,
    })
}

fn access_from_open_flags(flags: u64) -> u64 {
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
    let joined = match joined.strip_prefix("/proc/self").or_else(|_| joined.strip_prefix("/proc/thread-self")) {
        Ok(rest) => Path::new(&format!("/proc/{pid}")).join(rest),
        Err(_) => joined,
    };
    if let Ok(real) = joined.canonicalize() {
        return Some(real);
    }
    let parent = joined.parent().and_then(|p| p.canonicalize().ok());
    match (parent, joined.file_name()) {
        (Some(parent), Some(name)) => Some(parent.join(name)),
        _ => Some(lexically_normal(&joined, Path::new("/"))),
    }
}

/// Why a call is refused: the errno and the sentence for the log.
#[derive(Debug, PartialEq, Eq)]
pub struct Denial {
    /// What the guest gets.
    pub errno: i32,
    /// Why, naming the path and the rule.
    pub reason: String,
}

/// Checks call `number` of thread `pid` against `policy`; `None` lets it run (Landlock still
/// applies), `Some` refuses it.
pub fn check(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> Option<Denial> {
    let (paths, need) = path_args(number)?;
    let access = match need {
        Need::Fixed(access) => access,
        Need::OpenFlags(index) => access_from_open_flags(args[index]),
        Need::OpenHow(index) => {
            let mut flags = [0u8; 8];
            match crate::sys::read_memory(pid, args[index], &mut flags) {
                Ok(8) => access_from_open_flags(u64::from_le_bytes(flags)),
                _ => return Some(Denial { errno: trapbox_abi::errno::EFAULT, reason: "unreadable open_how".into() }),
            }
        }
    };
    for &(dirfd_index, path_index) in paths {
        let Some((bytes, truncated)) = crate::trace::read_guest_string(pid, args[path_index], PATH_MAX) else {
            continue; // a bad pointer: the kernel answers EFAULT itself
        };
        if truncated {
            return Some(Denial { errno: trapbox_abi::errno::ENAMETOOLONG, reason: "path longer than PATH_MAX".into() });
        }
        if bytes.is_empty() {
            continue; // AT_EMPTY_PATH: the call acts on the fd itself, which the guest holds
        }
        let Some(path) = resolve(pid, dirfd_index.map(|i| args[i]), &bytes) else { continue };
        if !policy.grants_for(&path, access).is_empty() {
            continue;
        }
        let weaker: Vec<&crate::policy::Grant> =
            policy.grants.iter().filter(|g| path.starts_with(&g.path)).collect();
        let reason = match weaker.first() {
            None => format!("{} is outside every allowed path", path.display()),
            Some(grant) => format!(
                "{} needs {} access, but {} is granted {} only",
                path.display(),
                access_names(access),
                grant.path.display(),
                access_names(grant.access)
            ),
        };
        return Some(Denial { errno: trapbox_abi::errno::EACCES, reason });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_call_has_a_rule() {
        for number in [nr::OPENAT, nr::EXECVE, nr::RENAMEAT2, nr::SYMLINKAT, nr::FCHMODAT2, nr::UTIMENSAT] {
            assert!(path_args(number).is_some(), "{number}");
        }
        assert!(path_args(nr::READ).is_none());
        assert_eq!(access_from_open_flags(0), ACCESS_READ);
        assert_eq!(access_from_open_flags(0o1), ACCESS_WRITE);
        assert_eq!(access_from_open_flags(O_CREAT), ACCESS_WRITE);
    }
}
