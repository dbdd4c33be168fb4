//! Landlock: the kernel's own copy of the allow lists, applied to the guest before `exec`.
//!
//! The broker decides every path the guest names; Landlock is defense in depth underneath it.
//! Whatever the guest's own threads make the kernel open (the program and its interpreter at
//! `execve`, a call the broker wrongly let through) is checked against rules that mirror the
//! policy's grants, so a broker bug still cannot reach a file outside them. Newer kernels add
//! more: TCP bind/connect (ABI 4, used for `--net none`) and scoping (ABI 6: no abstract unix
//! socket and no signal outside the sandbox, so a guest cannot signal its host).
//!
//! The ruleset is built in the host (it opens each granted path); the child only calls
//! `landlock_restrict_self`, which is async-signal-safe.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result};
use trapbox_abi::hostcall::{ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE};

use crate::decide::policy::{NetMode, Policy};

const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = libc::SYS_landlock_create_ruleset;
const SYS_LANDLOCK_ADD_RULE: libc::c_long = libc::SYS_landlock_add_rule;
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = libc::SYS_landlock_restrict_self;
const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_DIR: u64 = 1 << 4;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_CHAR: u64 = 1 << 6;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
const FS_MAKE_SOCK: u64 = 1 << 9;
const FS_MAKE_FIFO: u64 = 1 << 10;
const FS_MAKE_BLOCK: u64 = 1 << 11;
const FS_MAKE_SYM: u64 = 1 << 12;
const FS_REFER: u64 = 1 << 13; // ABI 2
const FS_TRUNCATE: u64 = 1 << 14; // ABI 3
const FS_IOCTL_DEV: u64 = 1 << 15; // ABI 5
const NET_BIND_TCP: u64 = 1 << 0; // ABI 4
const NET_CONNECT_TCP: u64 = 1 << 1; // ABI 4
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0; // ABI 6
const SCOPE_SIGNAL: u64 = 1 << 1; // ABI 6

/// Rights that apply to a regular file (a rule on a file may name only these).
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version the running kernel offers, or `None` without Landlock.
pub fn abi_version() -> Option<u32> {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call only returns the
    // ABI version (or an error); it touches no memory.
    let version = unsafe {
        libc::syscall(SYS_LANDLOCK_CREATE_RULESET, std::ptr::null::<RulesetAttr>(), 0usize, CREATE_RULESET_VERSION)
    };
    u32::try_from(version).ok().filter(|&v| v > 0)
}

/// Every filesystem right the kernel's ABI knows: all of them are handled (denied unless a
/// rule grants them).
fn handled_fs(abi: u32) -> u64 {
    let mut rights = FS_EXECUTE
        | FS_WRITE_FILE
        | FS_READ_FILE
        | FS_READ_DIR
        | FS_REMOVE_DIR
        | FS_REMOVE_FILE
        | FS_MAKE_CHAR
        | FS_MAKE_DIR
        | FS_MAKE_REG
        | FS_MAKE_SOCK
        | FS_MAKE_FIFO
        | FS_MAKE_BLOCK
        | FS_MAKE_SYM;
    if abi >= 2 {
        rights |= FS_REFER;
    }
    if abi >= 3 {
        rights |= FS_TRUNCATE;
    }
    if abi >= 5 {
        rights |= FS_IOCTL_DEV;
    }
    rights
}

/// The Landlock rights that mirror a grant's access mask.
fn rights_for(access: u64) -> u64 {
    let mut rights = 0;
    if access & ACCESS_READ != 0 {
        rights |= FS_READ_FILE | FS_READ_DIR;
    }
    if access & ACCESS_WRITE != 0 {
        rights |= FS_WRITE_FILE
            | FS_REMOVE_DIR
            | FS_REMOVE_FILE
            | FS_MAKE_DIR
            | FS_MAKE_REG
            | FS_MAKE_SOCK
            | FS_MAKE_FIFO
            | FS_MAKE_SYM
            | FS_REFER
            | FS_TRUNCATE;
    }
    if access & ACCESS_EXEC != 0 {
        rights |= FS_EXECUTE;
    }
    rights
}

/// A ruleset ready to be applied in the child.
#[derive(Debug)]
pub struct PreparedRuleset {
    fd: OwnedFd,
    /// The kernel's Landlock ABI version.
    pub abi: u32,
}

impl PreparedRuleset {
    /// The ruleset's fd, for the child to pass to [`restrict_self`].
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The rights of a rule that mirrors a grant of `access` on a directory (`dir`) or a file,
    /// for the rules added in the guest's mount namespace ([`crate::launch::mounts`]).
    pub fn rule_rights(&self, access: u64, dir: bool, own_terminals: bool) -> u64 {
        // Ioctls on the guest's own terminals (the peer `TIOCGPTPEER` opens in the guest's
        // devpts: the kernel opens it for the guest, so the guest's domain judges it): the host
        // still decides each request by its allow-list; without the right every one of them
        // were EACCES (a pty's TCSETS).
        let devices = if own_terminals { FS_IOCTL_DEV } else { 0 };
        let allowed = (rights_for(access) | devices) & handled_fs(self.abi);
        if dir { allowed } else { allowed & FILE_RIGHTS }
    }
}

/// Adds a path-beneath rule for the file `parent_fd` names to the ruleset `ruleset`, with
/// `rights`. Async-signal-safe (init calls it); the errno on failure.
pub fn add_rule(ruleset: RawFd, parent_fd: RawFd, rights: u64) -> Result<(), i32> {
    let rule = PathBeneathAttr { allowed_access: rights, parent_fd };
    // SAFETY: `rule` is a valid landlock_path_beneath_attr; the kernel checks both fds.
    let added = unsafe { libc::syscall(SYS_LANDLOCK_ADD_RULE, ruleset, RULE_PATH_BENEATH, &rule as *const PathBeneathAttr, 0u32) };
    if added < 0 {
        // SAFETY: errno is thread-local and readable right after the failed call.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(())
    }
}

fn errno_result(value: libc::c_long, what: &str) -> Result<libc::c_long> {
    if value < 0 {
        Err(std::io::Error::last_os_error()).context(what.to_string())
    } else {
        Ok(value)
    }
}

/// Builds the ruleset that mirrors `policy`, or `None` when the kernel has no Landlock.
pub fn prepare(policy: &Policy) -> Result<Option<PreparedRuleset>> {
    let Some(abi) = abi_version() else { return Ok(None) };
    let handled = handled_fs(abi);
    let attr = RulesetAttr {
        handled_access_fs: handled,
        handled_access_net: if abi >= 4 && policy.net == NetMode::None { NET_BIND_TCP | NET_CONNECT_TCP } else { 0 },
        scoped: if abi >= 6 { SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL } else { 0 },
    };
    let attr_size = if abi >= 6 {
        std::mem::size_of::<RulesetAttr>()
    } else if abi >= 4 {
        16
    } else {
        8
    };
    // SAFETY: `attr` is a valid landlock_ruleset_attr of which the kernel reads `attr_size`
    // bytes (the prefix its ABI version knows).
    let fd = errno_result(unsafe { libc::syscall(SYS_LANDLOCK_CREATE_RULESET, &attr as *const RulesetAttr, attr_size, 0u32) }, "landlock_create_ruleset")?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // The guest's own mounts (and "the calling process's /proc") have no inode here: their
    // rules are added in the guest's mount namespace (crate::launch::mounts), or none at all.
    // Outermost first: a rule beneath one that was added and gives at least its rights adds
    // nothing (a layer allows what any rule along the path allows), so none is made for it
    // (under --allow-read / that is every grant of the base's: ~40 opens and rules at start).
    let mut ruled: Vec<&crate::decide::policy::Grant> =
        policy.grants.iter().filter(|g| !crate::launch::mounts::own_inode(policy, &g.path) && !crate::decide::base::is_self_path(&g.path)).collect();
    ruled.sort_by_cached_key(|g| g.path.components().count());
    let mut added: Vec<(&std::path::Path, u64)> = Vec::new();
    for grant in ruled {
        let rights = rights_for(grant.access) & handled;
        let covered = added.iter().any(|&(outer, given)| given & rights == rights && crate::decide::base::beneath(&grant.path, outer));
        if !covered && add_rule_for(&fd, &grant.path, rights)? {
            added.push((&grant.path, rights));
        }
    }
    // The loaders the kernel runs exec-granted programs through (the host refuses an exec of
    // one by itself: crate::decide::interp).
    for loader in policy.loaders.iter().filter(|_| policy.container.is_none()) {
        add_rule_for(&fd, loader, rights_for(ACCESS_EXEC) & handled & FILE_RIGHTS)?;
    }
    Ok(Some(PreparedRuleset { fd, abi }))
}

/// Adds to `ruleset` a rule giving `rights` beneath `path` (only the file rights among them
/// unless it is a directory); a path that does not exist (the base's probes) gets none.
/// Whether a rule with all of `rights` was added (one beneath a directory).
fn add_rule_for(ruleset: &OwnedFd, path: &std::path::Path, rights: u64) -> Result<bool> {
    let c_path = CString::new(path.as_os_str().as_bytes()).context("grant path holds a NUL byte")?;
    // SAFETY: `c_path` is a NUL-terminated string; O_PATH opens no file content.
    let parent = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if parent < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOENT) {
            return Ok(false);
        }
        return Err(err).with_context(|| format!("landlock: {}", path.display()));
    }
    // SAFETY: `open` returned a new fd that nothing else owns.
    let parent = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(parent) });
    // What was opened decides, in no second lookup: the kernel refuses directory rights on a
    // file's rule.
    let dir = parent.metadata().is_ok_and(|m| m.is_dir());
    let rule = PathBeneathAttr { allowed_access: if dir { rights } else { rights & FILE_RIGHTS }, parent_fd: parent.as_raw_fd() };
    // SAFETY: `rule` is a valid landlock_path_beneath_attr and both fds are open.
    let added = unsafe { libc::syscall(SYS_LANDLOCK_ADD_RULE, ruleset.as_raw_fd(), RULE_PATH_BENEATH, &rule as *const PathBeneathAttr, 0u32) };
    errno_result(added, "landlock_add_rule").with_context(|| path.display().to_string())?;
    Ok(dir)
}

/// A ruleset that handles every filesystem right the kernel's ABI knows and grants none: a
/// thread restricted with it opens nothing. The errno when the kernel has no Landlock or
/// refuses.
pub fn ruleset_granting_no_file_access() -> Result<OwnedFd, i32> {
    let abi = abi_version().ok_or(libc::EOPNOTSUPP)?;
    let attr = RulesetAttr { handled_access_fs: handled_fs(abi), handled_access_net: 0, scoped: 0 };
    // SAFETY: `attr` is a valid landlock_ruleset_attr of which the kernel reads the first 8
    // bytes (handled_access_fs, known to every ABI).
    let fd = unsafe { libc::syscall(SYS_LANDLOCK_CREATE_RULESET, &attr as *const RulesetAttr, 8usize, 0u32) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Applies a prepared ruleset to the calling process (the child, after `PR_SET_NO_NEW_PRIVS`
/// and before `execve`). Async-signal-safe; returns the errno on failure.
pub fn restrict_self(ruleset_fd: RawFd) -> Result<(), i32> {
    // SAFETY: the call takes an fd and flags only.
    let result = unsafe { libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0u32) };
    if result < 0 {
        // SAFETY: errno is thread-local and readable right after the failed call.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::policy::Origin;
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::Command;

    /// Runs static busybox with `args`, confined by `policy`; returns (exit code, stderr).
    fn confined_busybox(policy: &Policy, args: &[&str]) -> (i32, String) {
        let ruleset = prepare(policy).unwrap().expect("this machine kind has Landlock");
        let fd = ruleset.raw_fd();
        let mut cmd = Command::new("/bin/busybox");
        cmd.args(args);
        let pre_exec = move || {
            // SAFETY: prctl with constant arguments.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            restrict_self(fd).map_err(std::io::Error::from_raw_os_error)
        };
        // SAFETY: the closure runs between fork and exec and makes two raw syscalls only.
        unsafe {
            cmd.pre_exec(pre_exec);
        }
        let out = cmd.output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    #[test]
    fn confines_the_guest_to_the_grants() {
        assert!(abi_version().is_some_and(|v| v >= 1));
        let mut policy = Policy::default();
        policy.allow(Path::new("/usr/share"), Path::new("/"), ACCESS_READ, Origin::CommandLine).unwrap();
        policy.allow(Path::new("/bin/busybox"), Path::new("/"), ACCESS_EXEC, Origin::CommandLine).unwrap();
        assert_eq!(confined_busybox(&policy, &["ls", "/usr/share"]).0, 0);
        let (code, err) = confined_busybox(&policy, &["cat", "/etc/hostname"]);
        assert!(code != 0 && err.contains("Permission denied"), "{code} {err}");
        let (code, err) = confined_busybox(&policy, &["touch", "/usr/share/trapbox-landlock-test"]);
        assert!(code != 0 && err.contains("Permission denied"), "{code} {err}");
    }

    /// A grant inside another that gives no more gets no rule of its own, and still allows
    /// what it grants; one that gives more gets its own.
    #[test]
    fn a_grant_inside_a_wider_one_allows_as_its_own_rule_would() {
        let dir = std::env::temp_dir().join(format!("trapbox-landlock-nested-{}", std::process::id()));
        for sub in ["read/inner", "read/writable"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("read/inner/file"), "x").unwrap();
        let mut policy = Policy::default();
        for (path, access) in [("read", ACCESS_READ), ("read/inner", ACCESS_READ), ("read/writable", ACCESS_WRITE)] {
            policy.allow(&dir.join(path), Path::new("/"), access, Origin::CommandLine).unwrap();
        }
        policy.allow(Path::new("/bin/busybox"), Path::new("/"), ACCESS_EXEC, Origin::CommandLine).unwrap();
        let at = |p: &str| dir.join(p).to_str().unwrap().to_string();
        assert_eq!(confined_busybox(&policy, &["cat", &at("read/inner/file")]).0, 0, "the covered grant reads");
        assert_eq!(confined_busybox(&policy, &["touch", &at("read/writable/new")]).0, 0, "the wider grant inside writes");
        let (code, err) = confined_busybox(&policy, &["touch", &at("read/inner/new")]);
        assert!(code != 0 && err.contains("Permission denied"), "{code} {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
