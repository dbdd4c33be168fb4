//! Starting the guest: fork, isolate, attach, lock down, exec.
//!
//! The host clones trapbox's **init** straight into the guest's own namespaces (user, mount,
//! PID, IPC, UTS, cgroup, and network for `--net none`: [`Namespaces`]) and writes its uid and
//! gid maps from outside, as only the parent namespace can. Init is PID 1 of the new PID
//! namespace: it reaps orphans and holds the namespace up while any guest process lives
//! (non-dumpable, untraced, with no fd of the guest's); it makes the base environment's mounts
//! ([`crate::launch::mounts`]) and forks the process that becomes the guest. That process says hello on a socket whose host end has
//! `SO_PASSCRED`, so the kernel tells the host its pid as the host sees it; the host attaches
//! with `PTRACE_SEIZE` (so group-stops can be held with `PTRACE_LISTEN`) while it waits on a
//! pipe; only then does it set no-new-privileges, close every inherited fd but 0/1/2 (and those
//! of `--keep-fd`), apply the
//! policy's limits, working directory and Landlock ruleset, install the seccomp backstop and
//! exec. With `--no-namespaces` the host's child is the guest itself.
//!
//! The host is non-dumpable ([`crate::sys::make_undumpable`]) and its children inherit that:
//! init sets itself dumpable before it tells the host it is ready for its maps (an unprivileged
//! host can write the maps of a dumpable process only), the guest before its hello (to be
//! seized); init goes back to non-dumpable once the guest is forked, and the guest's exec keeps
//! it dumpable, which the host's `/proc/PID/mem` and `pidfd_getfd` access needs.
//!
//! If the host dies, each process dies with it: init by `PR_SET_PDEATHSIG` (or, before it has
//! set it, by its pipe to the host closing), the guest by `PTRACE_O_EXITKILL` (or, before it is
//! seized, by its pipe closing), and everything else in the PID namespace with its init. The children run raw libc calls
//! only (no allocation after fork): everything they need is prepared before `fork`.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::launch::seccomp::{SockFilter, SockFprog};
use crate::sys::{self, Pid};

/// The exit code of a child that could not become a guest (before exec).
pub const CHILD_SETUP_FAILED: i32 = 126;
/// The exit code of a child whose `execve` failed.
pub const CHILD_EXEC_FAILED: i32 = 127;

/// The ptrace options of every guest thread.
pub const OPTIONS: u64 = sys::OPT_EXITKILL
    | sys::OPT_TRACECLONE
    | sys::OPT_TRACEFORK
    | sys::OPT_TRACEVFORK
    | sys::OPT_TRACEEXEC
    | sys::OPT_TRACESECCOMP
    | sys::OPT_TRACESYSGOOD;

/// What the policy asks of the child before exec; all of it prepared before `fork`.
#[derive(Debug, Default)]
pub struct Confinement {
    /// A prepared Landlock ruleset to apply.
    pub landlock_fd: Option<libc::c_int>,
    /// `setrlimit` calls to make: (resource, soft limit, hard limit).
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    /// The working directory to change to.
    pub cwd: Option<CString>,
    /// The guest's environment (read from the invoker's before anything is forked).
    pub env: Vec<(OsString, OsString)>,
    /// A user-notification filter for the opens the host performs itself (directfs): the
    /// child installs it and hands its listener to the host before exec.
    pub directfs_filter: Option<Vec<SockFilter>>,
    /// The guest's own namespaces; `None` runs it in the host's (`--no-namespaces`).
    pub namespaces: Option<Namespaces>,
    /// The base environment's mounts, which init makes in the guest's mount namespace.
    pub mounts: Option<crate::launch::mounts::MountPlan>,
    /// Inherited fds above 2 that the guest keeps (`--keep-fd`), ascending, without repeats;
    /// every other one is closed before exec.
    pub keep_fds: Vec<libc::c_int>,
    /// Init waits for every guest process (`--wait-all`); by default it exits with the guest
    /// process it forked, which ends the PID namespace and every process left in it.
    pub wait_all: bool,
    /// Capabilities to drop from the guest's bounding set before exec (bit N is capability
    /// N): those trapbox itself was started without. A root guest's user namespace would
    /// otherwise grant it every capability, and a program that finds one it holds expects to
    /// use it (LTP raises its OOM score only when it sees `CAP_SYS_RESOURCE`); with the
    /// bounding set so cut, it sees just the capabilities its invoker has.
    pub drop_capabilities: u64,
    /// The fds to give the guest as its stdin, stdout and stderr (`-1`: keep the host's).
    pub stdio: [libc::c_int; 3],
    /// An fd the guest reads one byte from before it closes its inherited fds and execs: a
    /// container made by `trapbox oci create` waits there, fully set up, for `start`.
    pub start_gate: Option<libc::c_int>,
    /// The user the guest becomes before exec (an OCI `process.user`).
    pub user: Option<GuestUser>,
    /// The namespaces of a running container to put the guest in instead of new ones
    /// (`trapbox oci exec`); `namespaces` is then `None`.
    pub enter: Option<Enter>,
    /// The guest starts a session of its own whose controlling terminal is its stdin (a
    /// container's `process.terminal`).
    pub controlling_terminal: bool,
}

/// Whom the guest runs as.
#[derive(Clone, Debug, Default)]
pub struct GuestUser {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Its supplementary groups (none: an empty list).
    pub groups: Vec<libc::gid_t>,
}

/// The namespaces of a running process, opened by the host (`/proc/PID/ns/…`).
#[derive(Debug, Default)]
pub struct Enter {
    /// Its PID namespace, which an intermediate child enters to fork the guest into it.
    pub pid: Option<std::os::fd::OwnedFd>,
    /// The others, as (`CLONE_NEW*`, fd).
    pub others: Vec<(libc::c_int, std::os::fd::OwnedFd)>,
}

impl Confinement {
    /// The capabilities the calling process lacks in its effective set, up to the kernel's
    /// last: what [`Confinement::drop_capabilities`] drops for a guest it launches.
    pub fn capabilities_the_invoker_lacks() -> u64 {
        sys::known_capabilities() & !sys::effective_capabilities()
    }
}

/// The kernel isolation of a run: which namespaces the guest gets and how its user
/// namespace maps ids.
#[derive(Clone, Debug)]
pub struct Namespaces {
    /// `CLONE_NEW*` flags for `unshare`.
    pub flags: libc::c_int,
    /// `/proc/PID/uid_map` and `gid_map` lines.
    pub uid_map: String,
    /// See `uid_map`.
    pub gid_map: String,
    /// Whether `setgroups` must be denied first (an unprivileged host may map its own gid only
    /// so).
    pub deny_setgroups: bool,
    /// Namespaces to share rather than make (an OCI `linux.namespaces` entry with a `path`),
    /// as (`CLONE_NEW*`, fd): the host's launching thread enters each just for the clone.
    /// Only those a thread of a multi-threaded process may enter: network, IPC, UTS.
    pub join: Vec<(libc::c_int, std::sync::Arc<std::os::fd::OwnedFd>)>,
    /// The hostname init gives a new UTS namespace.
    pub hostname: Option<CString>,
}

impl Namespaces {
    /// What every run gets: the invoking user's ids as the guest sees them (root maps every
    /// id its own user namespace has to itself, so it stays root over files but holds
    /// capabilities only in its own namespaces; any other user maps just its own uid and gid), and a private network
    /// namespace (its own `lo` and unix sockets) unless the network policy needs the host's.
    pub fn for_invoker(private_network: bool) -> Namespaces {
        let (uid, gid) = sys::effective_ids();
        // Root keeps the ids its own user namespace has (all of them in the initial one; those
        // an engine's rootless namespace maps, inside it).
        let own = |file: &str| std::fs::read_to_string(file).ok().map(|map| identity_of(&map)).filter(|m| !m.is_empty());
        let map = |id: u32, file: &str| if uid == 0 { own(file).unwrap_or_else(|| "0 0 4294967295\n".to_string()) } else { format!("{id} {id} 1\n") };
        let mut flags = libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP;
        if private_network {
            flags |= libc::CLONE_NEWNET;
        }
        Namespaces { flags, uid_map: map(uid, "/proc/self/uid_map"), gid_map: map(gid, "/proc/self/gid_map"), deny_setgroups: uid != 0, join: Vec::new(), hostname: None }
    }

    /// Writes the maps of the process `child`, just cloned into its own user namespace.
    fn write_maps(&self, child: Pid) -> std::io::Result<()> {
        if self.deny_setgroups {
            std::fs::write(format!("/proc/{child}/setgroups"), "deny")?;
        }
        std::fs::write(format!("/proc/{child}/uid_map"), &self.uid_map)?;
        std::fs::write(format!("/proc/{child}/gid_map"), &self.gid_map)
    }
}

/// The identity map of the ids a `uid_map`/`gid_map` text gives its namespace: each line's
/// inner range mapped to itself.
fn identity_of(map: &str) -> String {
    map.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (inner, _outer, count) = (fields.next()?, fields.next()?, fields.next()?);
            Some(format!("{inner} {inner} {count}\n"))
        })
        .collect()
}

/// Finds the program like `execvp` would, and explains why it cannot be run.
pub fn resolve_program(program: &std::ffi::OsStr) -> anyhow::Result<PathBuf> {
    let as_path = Path::new(program);
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![as_path.to_path_buf()]
    } else {
        let path_var = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        std::env::split_paths(&path_var).map(|dir| dir.join(program)).collect()
    };
    let mut last_problem = None;
    for candidate in &candidates {
        match std::fs::metadata(candidate) {
            Ok(meta) if meta.is_dir() => last_problem = Some(format!("{} is a directory", candidate.display())),
            Ok(meta) => {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o111 == 0 {
                    last_problem = Some(format!("{} is not executable (permission denied)", candidate.display()));
                } else {
                    return Ok(candidate.clone());
                }
            }
            Err(err) if candidates.len() == 1 => {
                anyhow::bail!("cannot run {}: {err}", candidate.display());
            }
            Err(_) => {}
        }
    }
    match last_problem {
        Some(problem) => anyhow::bail!("cannot run {}: {problem}", as_path.display()),
        None => anyhow::bail!("cannot run {}: not found in any directory of $PATH", as_path.display()),
    }
}

fn cstring(bytes: &[u8]) -> anyhow::Result<CString> {
    CString::new(bytes).map_err(|_| anyhow::anyhow!("argument contains a NUL byte: {:?}", String::from_utf8_lossy(bytes)))
}

/// A connected pair of `SOCK_SEQPACKET` unix sockets, both ends closing on exec.
fn seqpacket_pair() -> anyhow::Result<[libc::c_int; 2]> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: socketpair fills the two-element array.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        anyhow::bail!("socketpair: {}", std::io::Error::last_os_error());
    }
    Ok(fds)
}

/// A pipe whose both ends close on exec; `[read, write]`.
fn pipe() -> anyhow::Result<[libc::c_int; 2]> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        anyhow::bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    Ok(fds)
}

/// Closes `fd` if it is one (the launcher's fds are raw: they must cross `fork`).
fn close(fd: libc::c_int) {
    if fd >= 0 {
        // SAFETY: closing an fd this process owns.
        unsafe { libc::close(fd) };
    }
}

/// What the guest process needs for its exec, all prepared before the host forks.
#[derive(Clone, Copy)]
struct Exec<'a> {
    path: &'a CString,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    fprog: &'a SockFprog,
    notif_fprog: Option<&'a SockFprog>,
    confinement: &'a Confinement,
}

/// The fds the launcher's processes talk over; each side closes the other's ends.
#[derive(Clone, Copy)]
struct Channels {
    /// Host → guest: "you are seized, go on" (1) or nothing (the host gave up).
    go: [libc::c_int; 2],
    /// Guest → host: its hello, which carries its pid (`SO_PASSCRED` on the host's end).
    hello: [libc::c_int; 2],
    /// Host → init: the maps are written (1).
    mapped: [libc::c_int; 2],
    /// Guest → host: its directfs listener's fd number.
    report: [libc::c_int; 2],
    /// Host → guest: the listener was taken (1).
    taken: [libc::c_int; 2],
    /// Host ↔ init: requests to init as the host's agent in the guest's namespaces
    /// ([`crate::launch::agent`]), and their answers.
    agent: [libc::c_int; 2],
}

/// Forks the guest into its namespaces, seizes it and lets it exec `program` with `args`
/// (argv\[0\] included) and the host's environment under the `filter`.
pub fn spawn(
    program: &Path,
    args: &[OsString],
    filter: &[SockFilter],
    confinement: &Confinement,
) -> anyhow::Result<Spawned> {
    let path = cstring(program.as_os_str().as_bytes())?;
    let argv_owned: Vec<CString> = args.iter().map(|a| cstring(a.as_bytes())).collect::<anyhow::Result<_>>()?;
    let envp_owned: Vec<CString> = confinement
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut argv: Vec<*const libc::c_char> = argv_owned.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = envp_owned.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let fprog = SockFprog { len: filter.len() as u16, filter: filter.as_ptr() };
    let notif_fprog = confinement.directfs_filter.as_ref().map(|f| SockFprog { len: f.len() as u16, filter: f.as_ptr() });

    let hello = seqpacket_pair()?;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads one int from a live variable.
    unsafe {
        libc::setsockopt(hello[0], libc::SOL_SOCKET, libc::SO_PASSCRED, (&one as *const libc::c_int).cast(), 4);
    }
    let namespaced = confinement.namespaces.is_some();
    let listens = confinement.directfs_filter.is_some();
    let none = [-1, -1];
    let ch = Channels {
        go: pipe()?,
        hello,
        mapped: if namespaced { pipe()? } else { none },
        report: if listens { pipe()? } else { none },
        taken: if listens { pipe()? } else { none },
        agent: if namespaced { seqpacket_pair()? } else { none },
    };
    let host_pid = sys::own_pid();
    // This thread enters the namespaces the guest shares for the clone alone, and returns to
    // its own after it.
    let joined = enter_for_clone(confinement)?;
    let entered_pid_namespace = confinement.enter.as_ref().and_then(|e| e.pid.as_ref()).map(std::os::fd::AsRawFd::as_raw_fd);
    let child = match (&confinement.namespaces, entered_pid_namespace) {
        // Like fork (no new stack: the child runs on a copy of this one), into new namespaces.
        // SAFETY: the child only makes async-signal-safe raw calls on memory prepared above.
        (Some(namespaces), _) => unsafe {
            libc::syscall(libc::SYS_clone, (namespaces.flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) as Pid
        },
        // SAFETY: as above.
        (None, Some(pid_namespace)) => unsafe { fork_into_pid_namespace(pid_namespace) },
        // SAFETY: as above.
        (None, None) => unsafe { libc::fork() },
    };
    if child != 0 {
        leave_after_clone(joined)?;
    }
    if child < 0 {
        let err = std::io::Error::last_os_error();
        for fd in [ch.go[0], ch.go[1], ch.hello[0], ch.hello[1], ch.mapped[0], ch.mapped[1], ch.report[0], ch.report[1], ch.taken[0], ch.taken[1], ch.agent[0], ch.agent[1]] {
            close(fd);
        }
        if namespaced {
            anyhow::bail!(
                "cannot give the guest its own namespaces (clone: {err}): this kernel or the container trapbox runs in \
                 forbids unprivileged user namespaces (see user.max_user_namespaces, kernel.unprivileged_userns_clone \
                 or an AppArmor restriction); --no-namespaces runs on the host's checks alone, which is weaker"
            );
        }
        anyhow::bail!("fork: {err}");
    }
    if child == 0 {
        let exec = Exec { path: &path, argv: &argv, envp: &envp, fprog: &fprog, notif_fprog: notif_fprog.as_ref(), confinement };
        // SAFETY: see the clone above; neither function returns.
        unsafe {
            match (&confinement.namespaces, &confinement.enter) {
                (Some(namespaces), _) => run_init(ch, namespaces, exec),
                (None, Some(enter)) => enter_container(ch, enter, exec),
                (None, None) => become_guest(ch, host_pid, exec),
            }
        }
    }
    for fd in [ch.go[0], ch.hello[1], ch.mapped[0], ch.report[1], ch.taken[0], ch.agent[1]] {
        close(fd);
    }
    // The host's ends, each closed once when no longer needed (or all of them on failure).
    let mut host_ends = HostEnds([ch.go[1], ch.hello[0], ch.mapped[1], ch.report[0], ch.taken[1], ch.agent[0]]);
    let give_up = |ends: &mut HostEnds, why: anyhow::Error| {
        ends.close_all();
        let _ = sys::kill(child, libc::SIGKILL);
        let _ = sys::wait(Some(child));
        why
    };
    if let Some(namespaces) = &confinement.namespaces {
        // Init's first message: it is dumpable now, so its map files are the invoker's to write.
        if receive_hello(ch.hello[0]) != Some(child) {
            return Err(give_up(&mut host_ends, anyhow::anyhow!("trapbox's init died before its user namespace was mapped")));
        }
        let written = namespaces.write_maps(child);
        let go = [u8::from(written.is_ok())];
        // SAFETY: one byte from a live buffer to a pipe we own.
        unsafe { libc::write(ch.mapped[1], go.as_ptr().cast(), 1) };
        host_ends.close(ch.mapped[1]);
        if let Err(err) = written {
            return Err(give_up(&mut host_ends, anyhow::anyhow!("cannot write the uid and gid maps of the guest's user namespace: {err}")));
        }
    }
    let Some(pid) = receive_hello(ch.hello[0]) else {
        return Err(give_up(&mut host_ends, anyhow::anyhow!("the guest's launcher died before the guest could be traced")));
    };
    host_ends.close(ch.hello[0]);
    let seized = sys::seize(pid, OPTIONS);
    if seized.is_ok() {
        // SAFETY: writing one byte from a live buffer to the pipe's write end.
        unsafe { libc::write(ch.go[1], [1u8].as_ptr().cast(), 1) };
    }
    host_ends.close(ch.go[1]);
    if let Err(err) = seized {
        let _ = sys::kill(pid, libc::SIGKILL);
        return Err(give_up(&mut host_ends, anyhow::anyhow!(
            "cannot trace the guest (PTRACE_SEIZE): {err}; is ptrace forbidden here (a container seccomp profile, an LSM)?"
        )));
    }
    let listener = if listens { Some(take_listener(pid, ch.report[0], ch.taken[1])?) } else { None };
    // SAFETY: the host's end of the agent's socket, owned here and handed over once.
    let agent = (ch.agent[0] >= 0).then(|| unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ch.agent[0]) });
    Ok(Spawned { pid, listener, agent })
}

/// The namespaces this thread left for the clone, to return to (`CLONE_NEW*`, fd).
type Left = Vec<(libc::c_int, std::os::fd::OwnedFd)>;

/// Enters the namespaces `confinement` shares for the next clone from this thread: the ones
/// the guest's new namespaces join, or a running container's PID namespace (`enter`), which
/// only the clone's child goes into. Returns this thread's own, to go back to.
fn enter_for_clone(confinement: &Confinement) -> anyhow::Result<Left> {
    use std::os::fd::AsRawFd;
    let mut entering: Vec<(libc::c_int, libc::c_int)> = Vec::new();
    if let Some(namespaces) = &confinement.namespaces {
        entering.extend(namespaces.join.iter().map(|(kind, fd)| (*kind, fd.as_raw_fd())));
    }
    let mut left = Left::new();
    for (kind, fd) in entering {
        let name = namespace_name(kind);
        // (A PID namespace entered is the one this thread's children get.)
        let own = std::fs::File::open(format!("/proc/thread-self/ns/{}", if kind == libc::CLONE_NEWPID { "pid_for_children" } else { name }))
            .map_err(|e| anyhow::anyhow!("cannot open this thread's own {name} namespace: {e}"))?;
        sys::set_namespace(fd, kind).map_err(|e| anyhow::anyhow!("cannot enter the container's {name} namespace (setns): {e}"))?;
        left.push((kind, own.into()));
    }
    Ok(left)
}

/// Returns this thread to the namespaces [`enter_for_clone`] left.
fn leave_after_clone(left: Left) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    for (kind, own) in left {
        match sys::set_namespace(own.as_raw_fd(), kind) {
            Ok(()) => {}
            Err(e) => anyhow::bail!("cannot return to the host's own {} namespace (setns): {e}", namespace_name(kind)),
        }
    }
    Ok(())
}

/// The name `/proc/PID/ns/` gives a `CLONE_NEW*` namespace.
pub fn namespace_name(kind: libc::c_int) -> &'static str {
    match kind {
        libc::CLONE_NEWNET => "net",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWNS => "mnt",
        libc::CLONE_NEWCGROUP => "cgroup",
        _ => "unknown",
    }
}

/// Forks a process into the PID namespace `namespace` (an fd of it) through an intermediate
/// child, which enters it and forks again: a thread whose children go to another PID
/// namespace may start no thread, and a rootless host could not come back from a container's.
/// Returns as `fork` does: 0 in the grandchild, the intermediate's pid (already reaped) in the
/// caller; the grandchild, the guest, is seized by its hello's pid.
///
/// # Safety
/// As `fork` in a multi-threaded process: the child makes raw calls only.
unsafe fn fork_into_pid_namespace(namespace: libc::c_int) -> Pid {
    // SAFETY: raw calls; the intermediate only enters the namespace, forks and exits.
    unsafe {
        let intermediate = libc::fork();
        if intermediate == 0 {
            if libc::setns(namespace, libc::CLONE_NEWPID) != 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
            match libc::fork() {
                0 => return 0,
                grandchild => libc::_exit(if grandchild < 0 { CHILD_SETUP_FAILED } else { 0 }),
            }
        }
        if intermediate > 0 {
            let mut status = 0;
            while libc::waitpid(intermediate, &mut status, 0) < 0 && *libc::__errno_location() == libc::EINTR {}
        }
        intermediate
    }
}

/// A child forked into a running container's PID namespace (`trapbox oci exec`): enters its
/// other namespaces, adds the Landlock rules its root needs, then goes on as a guest (its
/// parent, the host, is outside its PID namespace: `getppid` says 0). Raw calls only.
///
/// # Safety
/// As [`become_guest`].
unsafe fn enter_container(ch: Channels, enter: &Enter, exec: Exec<'_>) -> ! {
    use std::os::fd::AsRawFd;
    // SAFETY: raw syscalls on integers and prepared memory; see the function contract.
    unsafe {
        // Each namespace before the user namespace where the invoker may (one the engine made
        // as root is not the container's user namespace's to let in), the rest after it, with
        // the capabilities it gives.
        let mut entered = [false; 8];
        for ((kind, fd), done) in enter.others.iter().zip(entered.iter_mut()) {
            if *kind != libc::CLONE_NEWUSER {
                *done = libc::syscall(libc::SYS_setns, fd.as_raw_fd(), *kind) == 0;
            }
        }
        for (kind, fd) in &enter.others {
            if *kind == libc::CLONE_NEWUSER && libc::syscall(libc::SYS_setns, fd.as_raw_fd(), *kind) != 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        for ((kind, fd), done) in enter.others.iter().zip(entered) {
            if !done && *kind != libc::CLONE_NEWUSER && libc::syscall(libc::SYS_setns, fd.as_raw_fd(), *kind) != 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        if let Some(plan) = &exec.confinement.mounts {
            crate::launch::mounts::apply(plan, exec.confinement.landlock_fd);
        }
        become_guest(ch, 0, exec);
    }
}

/// What [`spawn`] started.
#[derive(Debug)]
pub struct Spawned {
    /// The guest's pid, as the host sees it; its first stop will be the seccomp stop of its `execve`.
    pub pid: Pid,
    /// The guest's directfs listener, when the policy has one.
    pub listener: Option<std::os::fd::OwnedFd>,
    /// The host's end of init's agent socket, when the guest has namespaces of its own.
    pub agent: Option<std::os::fd::OwnedFd>,
}

/// The host's ends of the launcher's channels: `close` marks one closed, `close_all` closes
/// the rest, so no fd is closed twice.
struct HostEnds([libc::c_int; 6]);

impl HostEnds {
    fn close(&mut self, fd: libc::c_int) {
        if let Some(slot) = self.0.iter_mut().find(|slot| **slot == fd && fd >= 0) {
            close(*slot);
            *slot = -1;
        }
    }

    fn close_all(&mut self) {
        for slot in &mut self.0 {
            close(*slot);
            *slot = -1;
        }
    }
}

/// Waits for the guest's hello on the host's end of the socket and returns the sender's pid
/// as the kernel translated it into the host's PID namespace; `None` when every sender is gone.
fn receive_hello(socket: libc::c_int) -> Option<Pid> {
    let mut byte = 0u8;
    let received = sys::receive_with_fd(socket, std::slice::from_mut(&mut byte)).ok()?;
    if received.len != 1 {
        return None;
    }
    received.sender
}

/// Reads the guest's listener fd number from `report`, duplicates that fd into the host
/// (`pidfd_getfd`) and lets the guest go on (`taken`).
fn take_listener(pid: Pid, report: libc::c_int, taken: libc::c_int) -> anyhow::Result<std::os::fd::OwnedFd> {
    let mut number = [0u8; 4];
    // SAFETY: reads into a live 4-byte buffer from a pipe we own, then closes it.
    let got = unsafe {
        let got = libc::read(report, number.as_mut_ptr().cast(), 4);
        libc::close(report);
        got
    };
    let result = (|| {
        if got != 4 {
            anyhow::bail!("the guest could not install its directfs filter (user notifications unavailable?)");
        }
        let listener = sys::take_fd(pid, i32::from_ne_bytes(number))
            .map_err(|e| anyhow::anyhow!("cannot take the guest's directfs listener (pidfd_getfd): {e}"))?;
        Ok(listener)
    })();
    let go = [u8::from(result.is_ok())];
    // SAFETY: one byte from a live buffer to a pipe we own, then closing it.
    unsafe {
        libc::write(taken, go.as_ptr().cast(), 1);
        libc::close(taken);
    }
    result
}

/// trapbox's init, PID 1 of the guest's PID namespace: waits until the host has written its
/// id maps, forks the guest, then reaps every child (the guest and the orphans the kernel hands
/// to it) until the guest has exited (or, with `--wait-all`, none is left), and exits with the
/// guest's status. The namespace, and every process still in it, ends with it. Raw syscalls
/// only.
///
/// # Safety
/// Must be called only in the child right after the host's clone, with pointers into memory
/// that the clone copied.
unsafe fn run_init(ch: Channels, namespaces: &Namespaces, exec: Exec<'_>) -> ! {
    // SAFETY: raw syscalls on integers and prepared buffers; see the function contract.
    unsafe {
        for fd in [ch.go[1], ch.hello[0], ch.mapped[1], ch.report[0], ch.taken[1], ch.agent[0]] {
            close(fd);
        }
        // Die with the host; a host that died before this line closed the pipe read next.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        // Dumpable (the host is not), so the host can write the maps and seize the guest;
        // then ready for the maps.
        libc::prctl(libc::PR_SET_DUMPABLE, 1 as libc::c_ulong, 0, 0, 0);
        let ready = 0u8;
        if libc::send(ch.hello[1], (&ready as *const u8).cast(), 1, 0) != 1 {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        let mut mapped = 0u8;
        if libc::read(ch.mapped[0], (&mut mapped as *mut u8).cast(), 1) != 1 || mapped != 1 {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        close(ch.mapped[0]);
        // The namespace's root, where its maps have one: a map that leaves the invoker's own ids
        // out (a container's `uidMappings` of 0 to another host id) would otherwise leave init
        // an unmapped owner, whose files the kernel refuses to create (EOVERFLOW). With the
        // invoker's own ids mapped this changes nothing.
        // (Raw calls: glibc's wrappers would wait for the parent's other threads, which the
        // fork did not copy, to change their ids too.)
        if namespaces.flags & libc::CLONE_NEWUSER != 0 {
            let _ = libc::syscall(libc::SYS_setresgid, 0, 0, 0) == 0 && libc::syscall(libc::SYS_setresuid, 0, 0, 0) == 0;
        }
        if let Some(name) = &namespaces.hostname {
            if libc::sethostname(name.as_ptr(), name.as_bytes().len()) != 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        // Nothing mounted in the guest's mount namespace propagates back to the host's.
        if namespaces.flags & libc::CLONE_NEWNS != 0
            && libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0
        {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        if let Some(plan) = &exec.confinement.mounts {
            crate::launch::mounts::apply(plan, exec.confinement.landlock_fd);
        }
        let guest = libc::fork();
        if guest < 0 {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        if guest == 0 {
            // The guest's parent is init, PID 1 of its namespace.
            become_guest(ch, 1, exec);
        }
        // Init keeps nothing of the guest's (a pipe it held open would never see its end) but
        // its agent's socket, and no guest can read or trace it (nor any worker it forks).
        let agent = ch.agent[1];
        if agent > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (agent - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (agent + 1).max(0) as u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0);
        // Children's ends arrive on a signalfd, so one poll waits for them and for the host.
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &chld, std::ptr::null_mut());
        let children = libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        let mut code = CHILD_SETUP_FAILED;
        'serving: loop {
            loop {
                let mut status = 0;
                let reaped = libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG);
                if reaped < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                if reaped <= 0 {
                    if reaped < 0 {
                        break 'serving; // no child left
                    }
                    break;
                }
                if reaped == guest {
                    code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
                    if !exec.confinement.wait_all {
                        break 'serving; // PID 1 exiting kills the rest of the namespace
                    }
                }
            }
            let mut ready = [
                libc::pollfd { fd: children, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: agent, events: libc::POLLIN, revents: 0 },
            ];
            // (Without a signalfd, a child's end is seen within 100 ms.)
            if libc::poll(ready.as_mut_ptr(), 2, if children < 0 { 100 } else { -1 }) < 0 {
                continue;
            }
            if ready[0].revents != 0 {
                let mut info = [0u8; 128];
                while libc::read(children, info.as_mut_ptr().cast(), info.len()) > 0 {}
            }
            if ready[1].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
                crate::launch::agent::serve(agent);
            }
        }
        libc::_exit(code);
    }
}

/// Closes every fd above 2 but those in `keep` (ascending, each above 2). Raw syscalls only.
///
/// # Safety
/// As [`become_guest`]: in the forked child, which owns its fd table alone.
unsafe fn close_all_but(keep: &[libc::c_int]) {
    let close_from_to = |first: u32, last: u32| {
        // SAFETY: close_range takes integers; closing fds of this single-threaded child.
        if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) } != 0 {
            for fd in first..=last.min(4095) {
                // SAFETY: as above.
                unsafe { libc::close(fd as libc::c_int) };
            }
        }
    };
    let mut first = 3u32;
    for &fd in keep {
        let fd = fd as u32;
        if fd > first {
            close_from_to(first, fd - 1);
        }
        first = fd + 1;
    }
    close_from_to(first, u32::MAX);
}

/// The guest's side: say hello, wait until the host has attached, lock down, exec. Raw
/// syscalls only.
///
/// # Safety
/// As [`run_init`] (in the host's forked child, or init's).
unsafe fn become_guest(ch: Channels, parent: Pid, exec: Exec<'_>) -> ! {
    let Exec { path, argv, envp, fprog, notif_fprog, confinement } = exec;
    // SAFETY: raw syscalls on integers and on the prepared buffers; see the function contract.
    unsafe {
        // (The agent's socket above all: the guest must never reach init's.)
        for fd in [ch.go[1], ch.hello[0], ch.mapped[0], ch.mapped[1], ch.report[0], ch.taken[1], ch.agent[0], ch.agent[1]] {
            close(fd);
        }
        // (Not in a running container's PID namespace, `parent` 0: its parent is the intermediate
        // of fork_into_pid_namespace, which exits at once; the go pipe, then PTRACE_O_EXITKILL,
        // end it with the host.)
        if parent != 0 {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        }
        // Forked from the non-dumpable host (--no-namespaces): the host seizes a dumpable guest.
        libc::prctl(libc::PR_SET_DUMPABLE, 1 as libc::c_ulong, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        // The kernel adds this process's credentials, pid included, to the hello.
        let hello = 1u8;
        if libc::send(ch.hello[1], (&hello as *const u8).cast(), 1, 0) != 1 {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        close(ch.hello[1]);
        let mut byte = 0u8;
        if libc::read(ch.go[0], (&mut byte as *mut u8).cast(), 1) != 1 {
            libc::_exit(CHILD_SETUP_FAILED); // the host failed to attach or died
        }
        // The host ignores some signals and Rust ignores SIGPIPE; ignored dispositions survive
        // exec, so give the guest the defaults it would have natively.
        for signal in [libc::SIGPIPE, libc::SIGINT, libc::SIGQUIT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
            libc::signal(signal, libc::SIG_DFL);
        }
        // Without CAP_SETPCAP (an unprivileged guest with no namespace of its own) there is no
        // capability to drop: exec clears them all.
        // CAP_SETPCAP (8) last: dropping one from the bounding set is what needs it.
        const CAP_SETPCAP: u32 = 8;
        for capability in (0..64u32).filter(|&c| c != CAP_SETPCAP).chain([CAP_SETPCAP]) {
            if confinement.drop_capabilities & (1u64 << capability) != 0
                && libc::prctl(libc::PR_CAPBSET_DROP, capability as libc::c_ulong, 0, 0, 0) != 0
                && *libc::__errno_location() != libc::EPERM
            {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        // A session keyring of the guest's own: the one inherited is the invoker's (its user
        // keyring is already the guest's user namespace's), linked to that user keyring as a
        // login's is (pam_keyinit), so the guest possesses its user keys. A kernel without
        // keys has none.
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_ulong = 1;
        const KEYCTL_LINK: libc::c_ulong = 8;
        const KEY_SPEC_USER_KEYRING: libc::c_long = -4;
        const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
        if confinement.namespaces.is_some() {
            let joined = libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0usize) >= 0
                && libc::syscall(libc::SYS_keyctl, KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING) >= 0;
            if !joined && *libc::__errno_location() != libc::ENOSYS {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        if confinement.controlling_terminal && (libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0) {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        if let Some(user) = &confinement.user {
            // Groups first: after setuid the process may no longer change them. A change of
            // ids resets dumpability, which the host's access to its memory needs.
            // (A user namespace an unprivileged invoker made denies setgroups: no supplementary
            // group can be there to drop, so an empty list needs no call.)
            // Raw calls, as in init: glibc's wrappers would wait for threads the fork did not copy.
            let groups_set = libc::syscall(libc::SYS_setgroups, user.groups.len(), user.groups.as_ptr()) == 0 || user.groups.is_empty();
            if !groups_set
                || libc::syscall(libc::SYS_setgid, user.gid) != 0
                || libc::syscall(libc::SYS_setuid, user.uid) != 0
                || libc::prctl(libc::PR_SET_DUMPABLE, 1 as libc::c_ulong, 0, 0, 0) != 0
            {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        if let Some(cwd) = &confinement.cwd {
            if libc::chdir(cwd.as_ptr()) != 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        // The directfs filter: its listener goes to the host (by number, which the host then
        // duplicates with pidfd_getfd) before the fds are closed.
        if let Some(notif) = notif_fprog {
            const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
            let listener = libc::syscall(libc::SYS_seccomp, 1 as libc::c_ulong, SECCOMP_FILTER_FLAG_NEW_LISTENER, notif as *const SockFprog);
            if listener < 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
            let number = (listener as libc::c_int).to_ne_bytes();
            libc::write(ch.report[1], number.as_ptr().cast(), 4);
            let mut go = 0u8;
            if libc::read(ch.taken[0], (&mut go as *mut u8).cast(), 1) != 1 || go != 1 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        // Landlock before closing fds: the ruleset is one of them.
        if let Some(ruleset) = confinement.landlock_fd {
            if crate::launch::landlock::restrict_self(ruleset).is_err() {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        // The standard streams an embedding program gave the guest ([`crate::Command::stdin`]…).
        for (target, &source) in confinement.stdio.iter().enumerate() {
            if source >= 0 && libc::dup2(source, target as libc::c_int) < 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        if let Some(gate) = confinement.start_gate {
            // Set up, waiting for `trapbox oci start` (EOF: the container was deleted).
            let mut byte = 0u8;
            loop {
                let got = libc::read(gate, (&mut byte as *mut u8).cast(), 1);
                if got == 1 {
                    break;
                }
                if got < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        close_all_but(&confinement.keep_fds);
        // Limits last, once the launcher's own fds are closed: a low open-files limit must
        // bind the guest, not the set-up (the directfs listener, the Landlock ruleset).
        for &(resource, soft, hard) in &confinement.rlimits {
            let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
            if libc::setrlimit(resource, &limit) != 0 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
        if libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0 as libc::c_ulong, fprog as *const SockFprog) != 0 {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::_exit(CHILD_EXEC_FAILED);
    }
}
