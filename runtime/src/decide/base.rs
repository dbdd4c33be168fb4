//! The base environment: what every guest gets under a policy without asking, so that
//! ordinary programs run as they do natively (`--bare` turns all of it off).
//!
//! In the guest's own mount namespace (every run but `--no-namespaces`), trapbox's init mounts
//! before the guest starts ([`crate::launch::mounts`]):
//! - `/tmp`: an empty tmpfs of the guest's own (at most `tmp_size`, 1 GiB by default), readable
//!   and writable; the host's `/tmp` is out of sight, and two runs never share one;
//! - `/dev`: a tmpfs holding `null`, `zero`, `full`, `random`, `urandom` and `tty` (the host's
//!   devices, bound one by one), `pts/` (a devpts instance of the guest's own, so `/dev/ptmx`,
//!   a link to `pts/ptmx`, allocates terminals only the guest sees), `shm/` (a tmpfs of its
//!   own, like `/tmp`) and the links `fd`, `stdin`, `stdout`, `stderr` into `/proc/self/fd`;
//! - `/proc`: a proc of the guest's own PID namespace (`hidepid=ptraceable`: a process the
//!   reader may not inspect is not listed, whatever its groups — so trapbox's init, PID 1, is
//!   not), readable: `ps` shows the guest's processes only, and `/proc/self` is the calling
//!   process. Kernel memory and settings stay refused by the host, but for a look at their
//!   metadata ([`crate::decide::confine::host_reach_denial`]); `subset=pid` would hide them
//!   too, and with them what `ps`, `top`, `free` and `uptime` read (`stat`, `meminfo`, `uptime`).
//!
//! Host files the policy grants beneath `/tmp` or `/dev` (a granted directory, the program, the
//! working directory) are bound into those mounts at their own paths, read-only unless a grant
//! gives write, and the private mount's own grant stops at them ([`stops_at_host_files`]): a
//! read grant of `/tmp/data` stays read-only inside a writable `/tmp`. A grant of the mount
//! point itself (`--allow-exec /tmp`) applies to the guest's own mount.
//!
//! Read everywhere: locale data, time zones, the few `/etc` files name resolution and TLS
//! read ([`READABLE`]), and the working directory (unless it is `/`). With `--no-namespaces`
//! there are no private mounts: the guest gets the host's common devices and, in place of a
//! `/proc` of its own, its own `/proc/self/{…}` files ([`crate::decide::confine::OWN_PROC_FILES`]).
//! Every item is a grant with [`Origin::Base`], so `--print-policy` lists each with its reason.

use std::path::{Path, PathBuf};

use anyhow::Result;
use trapbox_abi::hostcall::{ACCESS_READ, ACCESS_WRITE};

use crate::decide::policy::{Grant, Origin, Policy};
use crate::sys::Pid;

/// The size of the guest's own `/tmp` and `/dev/shm` (each) unless the policy says otherwise.
pub const DEFAULT_TMP_SIZE: u64 = 1 << 30;

/// The host's devices every guest may read and write, as natively.
pub const DEVICES: [&str; 6] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];

/// Host files and directories readable by every guest, with what reads them (measured with
/// strace on `ls`, `date`, `sort`, `id`, `getent`, `python3`, `git`, `curl`): glibc's
/// `setlocale` (`/usr/lib/locale/<name>/LC_*`, `locale.alias`, message catalogues), time zones
/// (`/etc/localtime` links into zoneinfo), NSS and the resolver, TLS trust stores and
/// OpenSSL's configuration, terminal descriptions (ncurses). Each is granted if it exists.
pub const READABLE: [(&str, &str); 24] = [
    ("/usr/lib/locale", "locale data (setlocale)"),
    ("/usr/share/locale", "locale aliases and message catalogues"),
    ("/etc/locale.alias", "locale aliases (/usr/share/locale/locale.alias links here)"),
    ("/etc/localtime", "the time zone"),
    ("/etc/timezone", "the time zone's name"),
    ("/usr/share/zoneinfo", "time zone data"),
    ("/etc/nsswitch.conf", "name service switch"),
    ("/etc/passwd", "user names (getpwuid)"),
    ("/etc/group", "group names (getgrgid)"),
    ("/etc/hosts", "host names (getaddrinfo)"),
    ("/etc/host.conf", "resolver options"),
    ("/etc/resolv.conf", "resolver configuration"),
    ("/etc/gai.conf", "getaddrinfo's address order"),
    ("/etc/services", "service names (getservbyname)"),
    ("/etc/protocols", "protocol names (getprotobyname)"),
    ("/etc/ssl/certs", "TLS trust store"),
    ("/usr/share/ca-certificates", "the certificates /etc/ssl/certs links to"),
    ("/etc/ssl/openssl.cnf", "OpenSSL's configuration"),
    ("/usr/lib/ssl", "OpenSSL's directory (links into /etc/ssl)"),
    ("/usr/share/terminfo", "terminal descriptions"),
    ("/etc/terminfo", "terminal descriptions"),
    ("/usr/lib/terminfo", "terminal descriptions"),
    ("/sys/devices/system/cpu", "the CPU count (sysconf, nproc, os.cpu_count)"),
    ("/etc/alternatives", "Debian's alternatives, which /usr/bin/awk, cc, editor, pager… link through"),
];

/// Files ordinary programs probe for at start, which most hosts do not have: readable where
/// they exist, and where they do not, granted as the path they would have (the kernel then
/// answers `ENOENT` as natively, with no log line for a probe that finds nothing). Measured:
/// the dynamic loader (every dynamically linked program), libselinux (`ls`, `id`, `cp`…),
/// glibc's name service lookups (`getent`, `id`, `ls -l`), which try the nscd daemon's socket
/// first and read the files above when it is not there.
pub const PROBED: [(&str, &str); 5] = [
    ("/etc/ld.so.preload", "the dynamic loader's preload list"),
    ("/etc/selinux/config", "SELinux's configuration (libselinux)"),
    ("/sys/fs/selinux", "whether SELinux is on (libselinux)"),
    ("/selinux", "whether SELinux is on (libselinux, old location)"),
    ("/run/nscd/socket", "the name service cache (nscd), which serves what the files above hold"),
];

/// The system's shared libraries and the loader's cache of them.
pub const LIBRARIES: [(&str, &str); 5] = [
    ("/lib/x86_64-linux-gnu", "shared libraries of dynamically linked programs"),
    ("/usr/lib/x86_64-linux-gnu", "shared libraries of dynamically linked programs"),
    ("/lib64", "the dynamic loader's directory"),
    ("/usr/lib64", "the dynamic loader's directory"),
    ("/etc/ld.so.cache", "the dynamic loader's cache of the libraries"),
];

/// The x86-64 dynamic loader every glibc program names as its `PT_INTERP`.
pub const SYSTEM_LOADER: &str = "/lib64/ld-linux-x86-64.so.2";

/// What a private mount is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// An empty tmpfs (mode 1777) of at most this many bytes.
    Tmpfs(u64),
    /// `/dev`: a small tmpfs with the host's common devices bound into it.
    Dev,
    /// A devpts instance of the guest's own.
    Devpts,
    /// A proc of the guest's own PID namespace.
    Proc,
    /// The POSIX message queues of the guest's own IPC namespace (`mq_open` creates them in
    /// the same file system; this mount lets them be listed and lets its Landlock rule cover
    /// them).
    Mqueue,
}

/// A mount the base makes in the guest's own mount namespace, in the order made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where (absolute, in the guest's view).
    pub path: PathBuf,
    /// What is mounted there.
    pub kind: MountKind,
    /// For `--print-policy`.
    pub what: String,
}

impl Mount {
    /// Whether host files granted beneath this mount are bound into it at their own paths
    /// (tmpfs mounts; never beneath the guest's own proc or devpts, which name its own).
    pub fn shows_host(&self) -> bool {
        matches!(self.kind, MountKind::Tmpfs(_) | MountKind::Dev)
    }
}

/// A host file or directory the base shows inside a private mount, at its own path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// Its path, on the host and in the guest.
    pub path: PathBuf,
    /// Writable (some grant gives write to it); otherwise bound read-only.
    pub writable: bool,
    /// A directory (otherwise a file or device).
    pub dir: bool,
}

/// Whether `path` (absolute, lexically normal) names the calling process's own `/proc` entry
/// (`/proc/self`, `/proc/thread-self`, or beneath).
pub fn is_self_path(path: &Path) -> bool {
    path.starts_with("/proc/self") || path.starts_with("/proc/thread-self")
}

/// Adds the base environment to `policy` (nothing with `bare`): the private mounts when the
/// guest has a mount namespace of its own (`namespaced`), and the grants.
pub fn add(policy: &mut Policy, namespaced: bool) -> Result<()> {
    policy.mounts.clear();
    policy.own_proc_files = false;
    policy.loaders.clear();
    if policy.bare {
        return Ok(());
    }
    let root = Path::new("/");
    let base = |why: &str| Origin::Base(why.to_string());
    let size = policy.tmp_size.unwrap_or(DEFAULT_TMP_SIZE);
    let shown = size_text(size);
    for device in DEVICES {
        present(policy.allow(Path::new(device), root, ACCESS_WRITE, base("a common device, as natively")))?;
    }
    if namespaced {
        let mounts = [
            ("/proc", MountKind::Proc, "proc of the guest's own PID namespace, hidepid=ptraceable".to_string(), ACCESS_READ),
            ("/tmp", MountKind::Tmpfs(size), format!("an empty tmpfs of its own, at most {shown}"), ACCESS_WRITE),
            ("/dev", MountKind::Dev, format!("a tmpfs with the devices {} bound into it", DEVICES.join(", ")), ACCESS_READ),
            ("/dev/pts", MountKind::Devpts, "a devpts instance of its own; /dev/ptmx links to pts/ptmx".to_string(), ACCESS_WRITE),
            ("/dev/shm", MountKind::Tmpfs(size), format!("an empty tmpfs of its own, at most {shown}"), ACCESS_WRITE),
            ("/dev/mqueue", MountKind::Mqueue, "the POSIX message queues of its own IPC namespace".to_string(), ACCESS_WRITE),
        ];
        for (path, kind, what, access) in mounts {
            if access != 0 {
                policy.add_grant(PathBuf::from(path), access, base(&format!("the guest's own {path}")));
            }
            policy.mounts.push(Mount { path: PathBuf::from(path), kind, what });
        }
        policy.add_grant(PathBuf::from("/dev/ptmx"), ACCESS_WRITE, base("new terminals (a link to pts/ptmx)"));
    } else {
        policy.own_proc_files = true;
    }
    for (path, why) in READABLE {
        present(policy.allow(Path::new(path), root, ACCESS_READ, base(why)))?;
    }
    // What every dynamically linked program the exec grants cover needs, whoever execs it (a
    // static shell, a script): its libraries, readable, and the loader, which the kernel may
    // run for such a program only, never alone (it would run any readable file).
    for (path, why) in LIBRARIES {
        present(policy.allow(Path::new(path), root, ACCESS_READ, base(why)))?;
    }
    if let Ok(loader) = std::fs::canonicalize(SYSTEM_LOADER) {
        policy.loaders.push(loader);
    }
    // Debian's JDKs keep their configuration in /etc/java-N-openjdk, linked from the JDK.
    for entry in std::fs::read_dir("/etc").into_iter().flatten().flatten() {
        if entry.file_name().to_str().is_some_and(|name| name.starts_with("java-") && name.ends_with("-openjdk")) {
            present(policy.allow(&entry.path(), root, ACCESS_READ, base("a JDK's configuration (its conf/ and lib/ link here)")))?;
        }
    }
    for (path, why) in PROBED {
        // A socket is connected to: that needs write, as for any unix socket path.
        let access = if path.ends_with("socket") { ACCESS_WRITE } else { ACCESS_READ };
        match Path::new(path).exists() {
            true => policy.allow(Path::new(path), root, access, base(why))?,
            false => policy.add_grant(as_it_would_be(Path::new(path)), access, base(&format!("{why}; absent here"))),
        }
    }
    let cwd = match &policy.cwd {
        Some(cwd) => cwd.clone(),
        None => std::env::current_dir()?,
    };
    if cwd != root {
        policy.allow(&cwd, root, ACCESS_READ, base("the working directory"))?;
    }
    Ok(())
}

/// `1 GiB`, `256 MiB`, `1536 KiB` or bytes: a size as `--print-policy` shows it.
fn size_text(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// The result of granting a path that may not exist on this host: its absence is no error.
fn present(granted: Result<()>) -> Result<()> {
    match granted {
        Err(err) if err.root_cause().downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) => Ok(()),
        other => other,
    }
}

/// The canonical path `path` would have if it existed: its deepest existing ancestor resolved
/// (`/var/run` is often a link to `/run`), the rest as written.
fn as_it_would_be(path: &Path) -> PathBuf {
    let mut ancestor = path;
    let mut rest = Vec::new();
    while let Some(parent) = ancestor.parent() {
        rest.push(ancestor.file_name().unwrap_or_default().to_os_string());
        ancestor = parent;
        if let Ok(canonical) = ancestor.canonicalize() {
            return rest.iter().rev().fold(canonical, |at, name| at.join(name));
        }
    }
    path.to_path_buf()
}

/// The private mount `grant` is the grant of, if it is one of the base's own mount points that
/// shows host files.
fn private_mount<'a>(policy: &'a Policy, grant: &Grant) -> Option<&'a Mount> {
    if !matches!(grant.origin, Origin::Base(_)) {
        return None;
    }
    policy.mounts.iter().find(|m| m.path == grant.path && m.shows_host())
}

/// The host files and directories shown inside the private mounts: every other grant beneath
/// a mount that shows host files (not beneath the guest's own proc or devpts, and not
/// `/dev/ptmx`, which is the guest's own link), parents first.
pub fn binds(policy: &Policy) -> Vec<Bind> {
    let shown_by = |path: &Path| {
        let inner = policy.mounts.iter().filter(|m| path.starts_with(&m.path) && path != m.path).max_by_key(|m| m.path.components().count());
        inner.is_some_and(Mount::shows_host) && !policy.mounts.iter().any(|m| m.path == path)
    };
    let mut binds: Vec<Bind> = Vec::new();
    let mut paths: Vec<&PathBuf> = policy.grants.iter().map(|g| &g.path).filter(|p| shown_by(p) && p.as_path() != Path::new("/dev/ptmx")).collect();
    paths.sort_by_key(|p| p.components().count());
    paths.dedup();
    for path in paths {
        if binds.iter().any(|b| &b.path == path) {
            continue;
        }
        let writable = writable(policy, path);
        // What the host has there now (a grant must exist when the policy is made).
        let dir = path.is_dir();
        binds.push(Bind { path: path.clone(), writable, dir });
    }
    binds
}

/// Whether some grant gives write to `path` (the base's private mounts give nothing in the
/// host files shown in them).
fn writable(policy: &Policy, path: &Path) -> bool {
    policy.grants.iter().any(|g| g.access & ACCESS_WRITE != 0 && beneath(path, &g.path) && private_mount(policy, g).is_none())
}

/// Whether the guest's root holds only what the policy grants ([`crate::launch::mounts`]):
/// with the base's private mounts (namespaces of its own, not `--bare`) and not `audit`.
pub fn grants_only_root(policy: &Policy) -> bool {
    !policy.audit && !policy.mounts.is_empty()
}

/// Whether no directory of a grants-only root can be refused to a listing: the policy reads
/// the whole root, so Landlock gives `READ_DIR` everywhere in it (a narrower policy has
/// directories on the way, or grants without read, whose listing the host refuses and logs).
pub fn listings_never_refused(policy: &Policy) -> bool {
    !policy.grants_for(Path::new("/"), ACCESS_READ).is_empty()
}

/// The host files and directories a grants-only root shows at their own paths: every grant
/// that is not one of the base's mounts or beneath one (those are [`binds`]) and exists on the
/// host, outermost first; a grant inside another that shows it alike (same writability) adds
/// nothing.
pub fn root_binds(policy: &Policy) -> Vec<Bind> {
    let mut paths: Vec<&PathBuf> = policy.grants.iter().map(|g| &g.path).filter(|p| !is_self_path(p) && !policy.mounts.iter().any(|m| beneath(p, &m.path))).collect();
    paths.sort_by_cached_key(|p| p.components().count());
    paths.dedup();
    let mut binds: Vec<Bind> = Vec::new();
    for path in paths {
        let writable = writable(policy, path);
        let shown_alike = binds.iter().rev().find(|b| beneath(path, &b.path)).is_some_and(|outer| outer.writable == writable);
        // Only a path shown by a bind of its own is looked at on the host (most of a wide
        // grant's are inside it): what is not there now is no bind.
        if !shown_alike {
            if let Ok(meta) = std::fs::metadata(path).or_else(|_| std::fs::symlink_metadata(path)) {
                binds.push(Bind { path: path.clone(), writable, dir: meta.is_dir() });
            }
        }
    }
    binds
}

/// A directory a grants-only root makes on the way to a grant, with the host's mode for it.
pub type LayoutDir = (PathBuf, u32);
/// A symbolic link a grants-only root keeps: its path and its own target.
pub type LayoutLink = (PathBuf, PathBuf);

/// What a grants-only root makes besides `binds`: the directories on the way to them and to
/// the grants of paths this host lacks (empty, with the host's modes, so each lists only the
/// next names on the way; outermost first, `/` excluded), and the host's symbolic links in
/// those directories and in the root's own that lead into what the root holds: a grant, a
/// directory on the way or one of the base's mounts (`/lib64` → `usr/lib64`, `/etc/localtime`
/// → zoneinfo, `/etc/mtab` → `/proc/self/mounts`, `/var/run` → `/run`), as (link, the link's
/// own target): a link whose text names a place there and whose chain ends there. Any other
/// path of the host's does not exist there.
pub fn root_layout(policy: &Policy, binds: &[Bind]) -> (Vec<LayoutDir>, Vec<LayoutLink>) {
    let root = Path::new("/");
    if binds.iter().any(|b| b.path == root) {
        return (Vec::new(), Vec::new()); // the host's root is shown whole, its links with it
    }
    let shown = |path: &Path| binds.iter().any(|b| beneath(path, &b.path));
    let mounted = |path: &Path| policy.mounts.iter().any(|m| beneath(path, &m.path));
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let made = |dirs: &[(PathBuf, u32)], path: &Path| path.as_os_str() == "/" || dirs.iter().any(|(d, _)| d.as_os_str() == path.as_os_str());
    let make_way = |dirs: &mut Vec<(PathBuf, u32)>, to: &Path| {
        for ancestor in to.ancestors().collect::<Vec<_>>().into_iter().rev().skip(1) {
            if shown(ancestor) || made(dirs, ancestor) {
                continue;
            }
            if let Some(mode) = std::fs::metadata(ancestor).ok().filter(|m| m.is_dir()).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777) {
                dirs.push((ancestor.to_path_buf(), mode));
            }
        }
    };
    for bind in binds {
        make_way(&mut dirs, bind.path.parent().unwrap_or(root));
    }
    for grant in policy.grants.iter().filter(|g| !mounted(&g.path) && std::fs::symlink_metadata(&g.path).is_err()) {
        make_way(&mut dirs, &grant.path);
    }
    let leads_in = |dirs: &[(PathBuf, u32)], target: &Path| made(dirs, target) || shown(target) || mounted(target);
    // The root's own directories too: a link one level down leads into it as often (`/var/run`).
    let mut scanned: Vec<PathBuf> = std::iter::once(root.to_path_buf()).chain(dirs.iter().map(|(d, _)| d.clone())).collect();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let dir = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !shown(&dir) && !mounted(&dir) && !scanned.contains(&dir) {
            scanned.push(dir);
        }
    }
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    for dir in scanned {
        // Each link read by its name in the directory (one lookup, not the whole path).
        let Ok(opened) = std::fs::File::open(&dir).map(std::os::fd::OwnedFd::from) else { continue };
        for name in crate::sys::symlinks_in(&opened).unwrap_or_default() {
            use std::os::unix::ffi::OsStrExt;
            let link = dir.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
            if shown(&link) {
                continue;
            }
            let Ok(target) = crate::sys::readlink_at(&opened, &name) else { continue };
            if ends_in(&target, &dir, &|path| leads_in(&dirs, path)) {
                make_way(&mut dirs, &dir);
                links.push((link, target));
            }
        }
    }
    dirs.sort_by_key(|(d, _)| d.components().count());
    (dirs, links)
}

/// Whether the absolute, normal `path` is `dir` or lies beneath it, compared as bytes: the
/// start-up scan compares thousands of paths, where `Path::starts_with` walks components.
pub(crate) fn beneath(path: &Path, dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (path, dir) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    dir == b"/" || path.starts_with(dir) && (path.len() == dir.len() || path[dir.len()] == b'/')
}

/// Whether the chain of links that starts with a link in `dir` saying `target` ends where
/// `inside` holds, each hop's text checked before it is followed: a directory of programs
/// holds hundreds of links (`/usr/bin/awk` → `/etc/alternatives/awk` → `/usr/bin/mawk`), and
/// resolving each whole would cost start-up milliseconds. (A link beneath a grant is the
/// kernel's to follow in the guest's root, where it can lead nowhere else.)
fn ends_in(target: &Path, dir: &Path, inside: &dyn Fn(&Path) -> bool) -> bool {
    let mut at = crate::decide::policy::lexically_normal(target, dir);
    for _ in 0..8 {
        if !inside(&at) {
            return false;
        }
        match std::fs::read_link(&at) {
            Ok(next) => at = crate::decide::policy::lexically_normal(&next, at.parent().unwrap_or(Path::new("/"))),
            Err(_) => return std::fs::symlink_metadata(&at).is_ok(),
        }
    }
    false
}

/// Whether `grant` (one of the base's private mounts) stops short of `path` because `path`
/// lies in a host file or directory bound into that mount: the guest's own writable `/tmp`
/// gives nothing in the host's `/tmp/data` shown in it (only `/tmp/data`'s own grants do).
pub fn stops_at_host_files(policy: &Policy, grant: &Grant, path: &Path) -> bool {
    if private_mount(policy, grant).is_none() || path == grant.path {
        return false;
    }
    policy
        .grants
        .iter()
        .any(|other| other.path != grant.path && other.path.starts_with(&grant.path) && path.starts_with(&other.path) && private_mount(policy, other).is_none())
}

/// The directory to open `path` beneath when it is the calling thread `pid`'s own `/proc`
/// entry and the policy lets it be read or written so: a `/proc/self` grant (`--allow-read
/// /proc/self` means each guest process's own), or, with the base and no `/proc` of the
/// guest's own, one of [`crate::decide::confine::OWN_PROC_FILES`] (read only). `path` is as
/// the guest's `/proc` numbers processes ([`crate::launch::view::proc_ids`]).
pub fn self_root(policy: &Policy, pid: Pid, path: &Path, access: u64) -> Option<PathBuf> {
    let rest = path.strip_prefix("/proc").ok()?;
    let mut parts = rest.components();
    let owner: Pid = parts.next()?.as_os_str().to_str()?.parse().ok()?;
    let (tgid, tid) = crate::launch::view::proc_ids(pid)?;
    if owner != tgid && owner != tid {
        return None;
    }
    let mut own = Path::new("/proc").join(owner.to_string());
    let mut inside = parts.as_path();
    // `/proc/thread-self` is the thread's directory beneath its process's.
    let thread_dir = Path::new("task").join(tid.to_string());
    if owner == tgid && inside.starts_with(&thread_dir) {
        own = own.join(&thread_dir);
        inside = inside.strip_prefix(&thread_dir).ok()?;
    }
    for grant in policy.grants.iter().filter(|g| g.access & access == access && is_self_path(&g.path)) {
        let granted = grant.path.strip_prefix("/proc/self").or_else(|_| grant.path.strip_prefix("/proc/thread-self")).ok()?;
        if inside.starts_with(granted) {
            return Some(own.join(granted));
        }
    }
    let mut names = inside.components();
    let name = names.next()?.as_os_str().to_str()?;
    let own_file = policy.own_proc_files && access == ACCESS_READ && names.next().is_none() && crate::decide::confine::OWN_PROC_FILES.contains(&name);
    own_file.then_some(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn based(namespaced: bool, extra: &[(&str, u64)]) -> Policy {
        let mut policy = Policy::default();
        for (path, access) in extra {
            policy.allow(Path::new(path), Path::new("/"), *access, Origin::CommandLine).unwrap();
        }
        policy.cwd = Some(PathBuf::from("/usr"));
        add(&mut policy, namespaced).unwrap();
        policy
    }

    #[test]
    fn the_base_lists_its_mounts_and_grants() {
        let policy = based(true, &[]);
        let paths: Vec<_> = policy.mounts.iter().map(|m| m.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["/proc", "/tmp", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"]);
        assert_eq!(policy.grants_for(Path::new("/tmp/x"), ACCESS_WRITE).len(), 1);
        assert_eq!(policy.grants_for(Path::new("/proc/2/stat"), ACCESS_READ).len(), 1);
        assert!(policy.grants_for(Path::new("/proc/2/stat"), ACCESS_WRITE).is_empty());
        assert!(!policy.grants_for(Path::new("/usr/bin/ls"), ACCESS_READ).is_empty(), "the working directory");
        assert!(policy.grants_for(Path::new("/usr/bin/ls"), ACCESS_WRITE).is_empty());
        assert!(!policy.own_proc_files);
        let printed = policy.to_toml();
        assert!(printed.contains("\"/tmp\",  # base: the guest's own /tmp"), "{printed}");
        assert!(printed.contains("# base: mounted in the guest's own mount namespace: /tmp (an empty tmpfs of its own, at most 1 GiB)"), "{printed}");

        let bare = { let mut p = Policy { bare: true, ..Policy::default() }; add(&mut p, true).unwrap(); p };
        assert!(bare.grants.is_empty() && bare.mounts.is_empty() && !bare.own_proc_files);

        let hostns = based(false, &[]);
        assert!(hostns.mounts.is_empty() && hostns.own_proc_files);
        assert!(hostns.grants_for(Path::new("/tmp/x"), ACCESS_READ).is_empty(), "no private /tmp: the host's is not granted");
    }

    #[test]
    fn a_grants_only_root_shows_the_grants_the_way_to_them_and_the_links_into_them() {
        let rooted = |extra: &[(&str, u64)]| {
            let mut policy = Policy { cwd: Some(PathBuf::from("/")), ..Policy::default() };
            for (path, access) in extra {
                policy.allow(Path::new(path), Path::new("/"), *access, Origin::CommandLine).unwrap();
            }
            add(&mut policy, true).unwrap();
            policy
        };
        let policy = rooted(&[("/usr/share", ACCESS_READ), ("/usr/share/doc", ACCESS_READ)]);
        assert!(grants_only_root(&policy));
        let binds = root_binds(&policy);
        let paths: Vec<&Path> = binds.iter().map(|b| b.path.as_path()).collect();
        assert!(paths.contains(&Path::new("/usr/share")) && !paths.contains(&Path::new("/usr/share/doc")), "a grant inside one alike adds nothing: {paths:?}");
        assert!(!paths.iter().any(|p| p.starts_with("/tmp") || p.starts_with("/proc") || p.starts_with("/dev")), "the base's mounts are not the host's: {paths:?}");
        assert!(binds.iter().all(|b| !b.writable));
        let (dirs, links) = root_layout(&policy, &binds);
        assert!(dirs.iter().any(|(d, _)| d == Path::new("/usr")) && !dirs.iter().any(|(d, _)| d.starts_with("/usr/share")), "{dirs:?}");
        if Path::new("/lib64").is_symlink() {
            assert!(links.iter().any(|(l, _)| l == Path::new("/lib64")), "merged /usr: the loader's link: {links:?}");
        }
        assert!(links.iter().all(|(l, _)| !binds.iter().any(|b| &b.path == l)));
        let audited = { let mut p = policy.clone(); p.audit = true; p };
        assert!(!grants_only_root(&audited) && !grants_only_root(&based(false, &[])));
        let whole = rooted(&[("/", ACCESS_READ)]);
        assert_eq!(root_layout(&whole, &root_binds(&whole)), (Vec::new(), Vec::new()), "the host's root shown whole brings its own");
    }

    #[test]
    fn host_files_in_a_private_mount_keep_their_own_grants() {
        let dir = std::env::temp_dir().join(format!("trapbox-base-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let policy = based(true, &[(dir.to_str().unwrap(), ACCESS_READ), (dir.join("out").to_str().unwrap(), ACCESS_WRITE)]);
        let binds = binds(&policy);
        let tmp_root = Path::new("/tmp");
        if dir.starts_with(tmp_root) {
            let in_tmp: Vec<_> = binds.iter().filter(|b| b.path.starts_with(tmp_root)).cloned().collect();
            assert_eq!(in_tmp, [Bind { path: dir.clone(), writable: false, dir: true }, Bind { path: dir.join("out"), writable: true, dir: true }]);
            assert!(policy.grants_for(&dir.join("f"), ACCESS_WRITE).is_empty(), "the private /tmp's grant stops at the host's directory");
            assert_eq!(policy.grants_for(&dir.join("out/f"), ACCESS_WRITE).len(), 1);
            assert_eq!(policy.grants_for(Path::new("/tmp/other"), ACCESS_WRITE).len(), 1);
        }
        let devices: Vec<_> = binds.iter().filter(|b| b.path.starts_with("/dev")).map(|b| b.path.to_str().unwrap().to_string()).collect();
        assert_eq!(devices, DEVICES, "the common devices are bound, /dev/ptmx and the private mounts are not");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
