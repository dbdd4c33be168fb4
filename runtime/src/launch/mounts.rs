//! The base environment's mounts, made by trapbox's init in the guest's own mount namespace
//! before it forks the guest ([`crate::decide::base`] says what and why).
//!
//! Everything is prepared in the host ([`MountPlan::new`]); init, a forked child, makes raw
//! calls only (no allocation). Host files shown inside the private mounts are copied as
//! detached mounts (`open_tree(OPEN_TREE_CLONE)`) first, while nothing covers them, made
//! read-only where no grant gives write (`mount_setattr`), and attached at their own paths
//! (`move_mount`) once the tmpfs is there. Then the Landlock rules of the guest's own mounts
//! are added to the run's ruleset (their inodes exist only here; the host adds the rest), and
//! init returns to its working directory as the new mounts show it.
//!
//! Nothing here gives the guest anything new: init holds capabilities only in the guest's own
//! user namespace, the mounts exist only in its mount namespace (already private), and the
//! guest still may not mount (the call table refuses mount, and its seccomp backstop is
//! installed before exec). A failure ends the run before the guest exists, with one line.
//!
//! **A grants-only root** ([`crate::decide::base::grants_only_root`]: every run with the base's
//! mounts but `--audit`): init assembles a fresh root on a tmpfs at [`STAGING`] before the
//! base's mounts: a detached clone of each granted host path at its own path
//! ([`crate::decide::base::root_binds`]; read-only where no write grant covers it, and never
//! honouring setuid bits or device nodes), the directories on the way to them, empty, with
//! the host's modes (each holds only the next names on the way), and the host's symbolic links
//! there that lead into what the root holds ([`crate::decide::base::root_layout`]). The base's
//! mounts go in beneath it, the tmpfs itself becomes read-only, and init `pivot_root`s into it
//! and detaches the host's root (after the new `/proc`, which the kernel lets a user namespace
//! mount only while a full one is in sight). What no grant names then does not exist for the
//! guest, nor for the host acting for it ([`crate::launch::view`] starts at the guest's root),
//! so the kernel can answer the guest's metadata calls itself
//! ([`crate::decode::syscalls::native_in_grants_only_root`]).
//!
//! When a grant shows the host's `/` whole (`--allow-read /`), that root is the tree the
//! guest's mount namespace already holds (the kernel copied every mount of the host's into it):
//! init gives those mounts the attributes the clone of `/` would get (`mount_setattr`,
//! recursively: read-only unless `/` is writable, never setuid bits or device nodes), attaches
//! the clones of the grants that differ from it (a writable directory inside), and makes the
//! base's mounts over it, with no staging tmpfs, no second copy of the tree and no
//! `pivot_root` (~0.7 ms of start-up). The guest sees the same files as through a clone; a
//! clone would leave out only unbindable mounts and bound mount-namespace files, which the
//! grant of `/` names too.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::decide::base::{Bind, MountKind};
use crate::decide::policy::Policy;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// Where init assembles a grants-only root before it becomes the guest's `/`: a directory
/// every host has, covered only in init's own mount namespace (clones of host files beneath
/// it are taken before).
pub const STAGING: &str = "/tmp";

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// One filesystem to mount.
#[derive(Debug)]
struct Filesystem {
    target: CString,
    fstype: CString,
    flags: libc::c_ulong,
    data: CString,
    /// Created first (inside an earlier mount).
    mkdir: bool,
    /// Directories to make on the way first, outermost first (a container's mount point in
    /// its root, as runc makes them).
    parents: Vec<CString>,
}

/// A host file or directory to show at its own path, in a private mount or a grants-only root.
#[derive(Debug)]
struct Shown {
    /// Where the host has it.
    from: CString,
    /// Where init attaches it (beneath [`STAGING`] while it assembles a grants-only root).
    to: CString,
    /// The directories to create on the way, outermost first.
    parents: Vec<CString>,
    /// The mount attributes its copy gets (`MOUNT_ATTR_*`; none: as the host's).
    attrs: u64,
    dir: bool,
    /// The detached copy, once taken.
    slot: AtomicI32,
}

impl Shown {
    fn new(from: &Path, to: &Path, parents: Vec<CString>, attrs: u64, dir: bool) -> anyhow::Result<Shown> {
        Ok(Shown { from: c(from)?, to: c(to)?, parents, attrs, dir, slot: AtomicI32::new(-1) })
    }
}

/// A grants-only root, assembled at [`STAGING`].
#[derive(Debug)]
struct Root {
    staging: CString,
    /// The directories on the way to the grants, outermost first, with their modes.
    dirs: Vec<(CString, libc::mode_t)>,
    /// The grants, outermost first.
    shown: Vec<Shown>,
    /// Symbolic links: (link, target).
    links: Vec<(CString, CString)>,
    /// The mount attributes the root gets once everything is in it (none: it stays as made).
    seal: u64,
}

/// A grants-only root that is the host's `/` whole (see the module's notes).
#[derive(Debug)]
struct WholeRoot {
    /// The `MOUNT_ATTR_*` every mount of the namespace's tree gets.
    attrs: u64,
    /// The grants shown otherwise than `/` (writable inside a read-only root), at their own
    /// paths, outermost first.
    shown: Vec<Shown>,
}

/// The mount attributes of a grants-only root's copy of a granted host path.
fn root_attrs(bind: &Bind) -> u64 {
    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | if bind.writable { 0 } else { MOUNT_ATTR_RDONLY }
}

/// Everything init does for the base, prepared before the host forks.
#[derive(Debug, Default)]
pub struct MountPlan {
    filesystems: Vec<Filesystem>,
    shown: Vec<Shown>,
    /// Symbolic links to create: (link, target).
    links: Vec<(CString, CString)>,
    /// Landlock rules to add: (path, rights).
    rules: Vec<(CString, u64)>,
    /// The working directory to return to.
    cwd: Option<CString>,
    /// The guest's root, when it holds only the grants, assembled at [`STAGING`]...
    root: Option<Root>,
    /// ...or when they show the host's `/` whole.
    whole_root: Option<WholeRoot>,
}

/// The directories on the way to `path` (not `/`, not `path`), outermost first, where init
/// reaches them (`staged`).
fn parents_on_the_way(path: &Path, staged: &dyn Fn(&Path) -> std::path::PathBuf) -> anyhow::Result<Vec<CString>> {
    let mut ancestors: Vec<&Path> = path.ancestors().skip(1).filter(|a| *a != Path::new("/")).collect();
    ancestors.reverse();
    ancestors.into_iter().map(|a| c(&staged(a))).collect()
}

fn c(path: &Path) -> anyhow::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| anyhow::anyhow!("path holds a NUL byte: {}", path.display()))
}

impl MountPlan {
    /// The plan for `policy`'s private mounts, or `None` when it has none. `rules_rights`
    /// gives the Landlock rights of a grant of the guest's own (access, is a directory), when
    /// the run has a ruleset.
    pub fn new(policy: &Policy, rule_rights: Option<&dyn Fn(u64, bool, bool) -> u64>) -> anyhow::Result<Option<MountPlan>> {
        if policy.mounts.is_empty() {
            return Ok(None);
        }
        let mut plan = MountPlan::default();
        // (A container's root is its bundle's, never one of the host's grants.)
        let root_binds = if policy.container.is_none() && crate::decide::base::grants_only_root(policy) { Some(crate::decide::base::root_binds(policy)) } else { None };
        let whole = root_binds.as_ref().and_then(|binds| binds.first()).filter(|b| b.path == Path::new("/"));
        let staging = (policy.container.is_some() || (root_binds.is_some() && whole.is_none())).then(|| Path::new(STAGING));
        // Where init reaches a guest path while it assembles the root.
        let staged = |path: &Path| match staging {
            Some(at) => at.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        };
        if let (Some(container), Some(at)) = (&policy.container, staging) {
            // The container's root filesystem itself becomes the root, its own mount points
            // made in it (as runc makes them) before it is sealed read-only if asked.
            let rootfs = Shown::new(&container.rootfs, at, Vec::new(), MOUNT_ATTR_NODEV, true)?;
            let seal = if container.readonly { MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV } else { 0 };
            plan.root = Some(Root { staging: c(at)?, dirs: Vec::new(), shown: vec![rootfs], links: Vec::new(), seal });
        }
        if let (Some(root), Some(binds)) = (whole, &root_binds) {
            let mut shown = Vec::new();
            for bind in &binds[1..] {
                shown.push(Shown::new(&bind.path, &bind.path, Vec::new(), root_attrs(bind), bind.dir)?);
            }
            plan.whole_root = Some(WholeRoot { attrs: root_attrs(root), shown });
        }
        if let (Some(at), Some(binds)) = (staging, &root_binds) {
            let (dirs, links) = crate::decide::base::root_layout(policy, binds);
            let seal = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
            let mut root = Root { staging: c(at)?, dirs: Vec::new(), shown: Vec::new(), links: Vec::new(), seal };
            for (dir, mode) in &dirs {
                root.dirs.push((c(&staged(dir))?, *mode));
            }
            for bind in binds {
                root.shown.push(Shown::new(&bind.path, &staged(&bind.path), Vec::new(), root_attrs(bind), bind.dir)?);
            }
            for (link, target) in &links {
                root.links.push((c(&staged(link))?, c(target)?));
            }
            plan.root = Some(root);
        }
        for mount in &policy.mounts {
            let (fstype, flags, data) = match mount.kind {
                MountKind::Proc => ("proc", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, "hidepid=ptraceable".to_string()),
                MountKind::Tmpfs(size) => ("tmpfs", libc::MS_NOSUID | libc::MS_NODEV, format!("mode=1777,size={size}")),
                MountKind::Dev => ("tmpfs", libc::MS_NOSUID | libc::MS_NOEXEC, "mode=755,size=64k".to_string()),
                MountKind::Devpts => ("devpts", libc::MS_NOSUID | libc::MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620".to_string()),
                MountKind::Mqueue => ("mqueue", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, String::new()),
            };
            let mkdir = staging.is_some() || policy.mounts.iter().any(|outer| mount.path.starts_with(&outer.path) && outer.path != mount.path);
            let parents = if policy.container.is_some() { parents_on_the_way(&mount.path, &staged)? } else { Vec::new() };
            plan.filesystems.push(Filesystem { target: c(&staged(&mount.path))?, fstype: CString::new(fstype)?, flags, data: CString::new(data)?, mkdir, parents });
            if mount.kind == MountKind::Dev {
                for (link, target) in [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
                    plan.links.push((c(&staged(&mount.path.join(link)))?, CString::new(target)?));
                }
            }
        }
        for Bind { path, writable, dir } in crate::decide::base::binds(policy) {
            let mount = policy.mounts.iter().filter(|m| path.starts_with(&m.path)).max_by_key(|m| m.path.components().count());
            let mut parents = Vec::new();
            if let (Some(mount), Some(parent)) = (mount, path.parent()) {
                let mut at = mount.path.clone();
                for part in parent.strip_prefix(&mount.path).unwrap_or(Path::new("")).components() {
                    at.push(part);
                    parents.push(c(&staged(&at))?);
                }
            }
            plan.shown.push(Shown::new(&path, &staged(&path), parents, if writable { 0 } else { MOUNT_ATTR_RDONLY }, dir)?);
        }
        if let Some(container) = &policy.container {
            for bind in &container.binds {
                let attrs = bind.attrs | if bind.writable { 0 } else { MOUNT_ATTR_RDONLY };
                // Its mount point is made in the container's root, and the directories on the
                // way there (as runc makes them).
                let parents = parents_on_the_way(&bind.destination, &staged)?;
                plan.shown.push(Shown::new(&bind.source, &staged(&bind.destination), parents, attrs, bind.dir)?);
            }
        }
        // Whether a grant names a directory as the guest will see it.
        let is_dir = |path: &Path| match &policy.container {
            Some(container) => path == Path::new("/") || container.binds.iter().any(|b| b.destination == path && b.dir),
            None => path.is_dir(),
        };
        if let Some(rights) = rule_rights {
            for grant in policy.grants.iter().filter(|g| own_inode(policy, &g.path)) {
                let dir = policy.mounts.iter().any(|m| m.path == grant.path) || is_dir(&grant.path);
                let terminals = policy.mounts.iter().any(|m| m.kind == MountKind::Devpts && grant.path.starts_with(&m.path));
                plan.rules.push((c(&grant.path)?, rights(grant.access, dir, terminals)));
            }
        }
        if let (Some(_), Some(rights)) = (&policy.container, rule_rights) {
            // The host's ruleset cannot name the container's loaders (they are its files).
            for loader in &policy.loaders {
                plan.rules.push((c(loader)?, rights(trapbox_abi::hostcall::ACCESS_EXEC, false, false)));
            }
        }
        plan.cwd = Some(match &policy.container {
            Some(_) => c(Path::new("/"))?,
            None => c(&std::env::current_dir()?)?,
        });
        Ok(Some(plan))
    }
}

impl MountPlan {
    /// The plan's Landlock rules and working directory alone: what a process that joins a
    /// running container's mount namespace does there (`trapbox oci exec`).
    pub fn rules_only(self) -> MountPlan {
        MountPlan { rules: self.rules, cwd: self.cwd, ..MountPlan::default() }
    }

    /// Whether the guest's root will hold only its grants (see the module's notes).
    pub fn grants_only_root(&self) -> bool {
        self.root.is_some() || self.whole_root.is_some()
    }
}

/// Whether the kernel may answer the guest's metadata calls in a grants-only root: only if no
/// fd the guest inherits (`inherited`: the host's fds that become its 0, 1, 2 and kept ones)
/// is a directory. Such a directory lies in the host's tree, not the guest's: `fchdir` to it
/// and a relative `stat` of `../..` would walk the host's files, so its calls go to the host
/// instead, which decides each as `--audit` does.
pub fn metadata_may_run_natively(inherited: &[libc::c_int]) -> bool {
    inherited.iter().all(|fd| !std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|m| m.is_dir()))
}

/// Whether the Landlock rule of a grant of `path` must be added inside the guest's mount
/// namespace: `path` is one of the private mounts, or lies in the guest's own proc or devpts,
/// whose inodes the host's namespace does not have. (Host files shown in the mounts are the
/// host's inodes: the host's ruleset covers them.)
pub fn own_inode(policy: &Policy, path: &Path) -> bool {
    if crate::decide::base::is_self_path(path) {
        return false; // no rule can name "the calling process": the host decides these alone
    }
    if policy.container.is_some() {
        return true; // a container's paths exist only in its own root
    }
    policy.mounts.iter().any(|m| path == m.path || (path.starts_with(&m.path) && !m.shows_host()))
}

/// Writes `parts` to stderr and ends init: the guest cannot have its base.
///
/// # Safety
/// Only in init (a forked child): raw calls only.
unsafe fn fail(what: &[u8], path: &std::ffi::CStr) -> ! {
    // SAFETY: errno is thread-local; write and _exit take plain buffers and integers.
    unsafe {
        let errno = *libc::__errno_location();
        let mut digits = [0u8; 12];
        let mut at = digits.len();
        let mut n = errno.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 || at == 0 {
                break;
            }
        }
        let path = path.to_bytes();
        for part in [b"trapbox: cannot set up the guest's base environment: ".as_slice(), what, b" ", path, b": errno ", &digits[at..], b" (--bare runs without it; --audit without the grants-only root)\n"] {
            libc::write(2, part.as_ptr().cast(), part.len());
        }
        libc::_exit(crate::launch::launcher::CHILD_SETUP_FAILED);
    }
}

/// Makes the plan's mounts in the calling process's mount namespace and adds its Landlock
/// rules to `ruleset`; on failure, says which and exits.
///
/// # Safety
/// Only in trapbox's init, after its mount namespace was made private: raw calls only, on
/// memory prepared before the fork.
pub unsafe fn apply(plan: &MountPlan, ruleset: Option<libc::c_int>) {
    // SAFETY: raw syscalls on the prepared NUL-terminated strings and plain structs.
    unsafe {
        // Every copy first, while the host's files are in sight at their own paths.
        let root_shown = plan.root.iter().flat_map(|r| &r.shown).chain(plan.whole_root.iter().flat_map(|w| &w.shown));
        for shown in root_shown.chain(&plan.shown) {
            take_copy(shown);
        }
        if let Some(whole) = &plan.whole_root {
            // Before anything is attached: the differing grants and the base's own mounts keep
            // theirs.
            let attr = MountAttr { attr_set: whole.attrs, attr_clr: 0, propagation: 0, userns_fd: 0 };
            if libc::syscall(libc::SYS_mount_setattr, libc::AT_FDCWD, c"/".as_ptr(), AT_RECURSIVE, &attr as *const MountAttr, std::mem::size_of::<MountAttr>()) != 0 {
                fail(b"mount_setattr", c"/");
            }
            for shown in &whole.shown {
                attach(shown);
            }
        }
        if let Some(root) = &plan.root {
            if libc::mount(c"tmpfs".as_ptr(), root.staging.as_ptr(), c"tmpfs".as_ptr(), libc::MS_NOSUID | libc::MS_NODEV, c"mode=755,size=4m".as_ptr().cast()) != 0 {
                fail(b"mount the root's tmpfs on", &root.staging);
            }
            for (dir, mode) in &root.dirs {
                // chmod too: mkdir's mode passes through the umask.
                if (libc::mkdir(dir.as_ptr(), 0o700) != 0 && *libc::__errno_location() != libc::EEXIST) || libc::chmod(dir.as_ptr(), *mode) != 0 {
                    fail(b"mkdir", dir);
                }
            }
            for shown in &root.shown {
                attach(shown);
            }
            for (link, target) in &root.links {
                if libc::symlink(target.as_ptr(), link.as_ptr()) != 0 {
                    fail(b"symlink", link);
                }
            }
        }
        for fs in &plan.filesystems {
            for parent in &fs.parents {
                libc::mkdir(parent.as_ptr(), 0o755); // (exists already, as a rule)
            }
            if fs.mkdir {
                libc::mkdir(fs.target.as_ptr(), 0o755);
            }
            if libc::mount(fs.fstype.as_ptr(), fs.target.as_ptr(), fs.fstype.as_ptr(), fs.flags, fs.data.as_ptr().cast()) != 0 {
                fail(b"mount", &fs.target);
            }
        }
        for (link, target) in &plan.links {
            if libc::symlink(target.as_ptr(), link.as_ptr()) != 0 {
                fail(b"symlink", link);
            }
        }
        for shown in &plan.shown {
            attach(shown);
        }
        if let Some(root) = &plan.root {
            // Nothing more is made in it: the directories on the way become read-only too.
            let attr = MountAttr { attr_set: root.seal, attr_clr: 0, propagation: 0, userns_fd: 0 };
            if root.seal != 0 && libc::syscall(libc::SYS_mount_setattr, libc::AT_FDCWD, root.staging.as_ptr(), 0u32, &attr as *const MountAttr, std::mem::size_of::<MountAttr>()) != 0 {
                fail(b"mount_setattr read-only", &root.staging);
            }
            // The new root on top, the host's stacked on it as "." until detached whole.
            if libc::chdir(root.staging.as_ptr()) != 0
                || libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0
                || libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0
                || libc::chdir(c"/".as_ptr()) != 0
            {
                fail(b"pivot_root into", &root.staging);
            }
        }
        if let Some(ruleset) = ruleset {
            for (path, rights) in &plan.rules {
                let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
                if fd < 0 {
                    continue; // nothing there in the guest's view: nothing to allow
                }
                let added = crate::launch::landlock::add_rule(ruleset, fd, *rights);
                libc::close(fd);
                if added.is_err() {
                    fail(b"landlock_add_rule", path);
                }
            }
        }
        if let Some(cwd) = &plan.cwd {
            libc::chdir(cwd.as_ptr()); // where it was, now through the new mounts (if they show it)
        }
    }
}

/// Takes the detached copy of `shown` (with its attributes), or says why not and exits.
///
/// # Safety
/// As [`apply`].
unsafe fn take_copy(shown: &Shown) {
    // SAFETY: raw syscalls on the prepared strings and a plain struct.
    unsafe {
        let flags = OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint;
        let fd = libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, shown.from.as_ptr(), flags) as libc::c_int;
        if fd < 0 {
            fail(b"open_tree", &shown.from);
        }
        shown.slot.store(fd, Ordering::Relaxed);
        if shown.attrs != 0 {
            let attr = MountAttr { attr_set: shown.attrs, attr_clr: 0, propagation: 0, userns_fd: 0 };
            let at = (libc::AT_EMPTY_PATH as libc::c_uint) | AT_RECURSIVE;
            if libc::syscall(libc::SYS_mount_setattr, fd, c"".as_ptr(), at, &attr as *const MountAttr, std::mem::size_of::<MountAttr>()) != 0 {
                fail(b"mount_setattr", &shown.from);
            }
        }
    }
}

/// Attaches the copy of `shown` at its place, making the way and the mount point first.
///
/// # Safety
/// As [`apply`], after [`take_copy`] of `shown`.
unsafe fn attach(shown: &Shown) {
    // SAFETY: raw syscalls on the prepared strings.
    unsafe {
        for parent in &shown.parents {
            libc::mkdir(parent.as_ptr(), 0o755); // exists already inside an earlier bind
        }
        if shown.dir {
            libc::mkdir(shown.to.as_ptr(), 0o755);
        } else {
            let fd = libc::open(shown.to.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o600);
            if fd >= 0 {
                libc::close(fd);
            }
        }
        let fd = shown.slot.load(Ordering::Relaxed);
        if libc::syscall(libc::SYS_move_mount, fd, c"".as_ptr(), libc::AT_FDCWD, shown.to.as_ptr(), MOVE_MOUNT_F_EMPTY_PATH) != 0 {
            fail(b"move_mount", &shown.to);
        }
        libc::close(fd);
    }
}
