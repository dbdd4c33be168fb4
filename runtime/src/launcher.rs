//! Starting the guest: fork, attach, lock down, exec.
//!
//! The parent attaches with `PTRACE_SEIZE` (so group-stops can be held with `PTRACE_LISTEN`)
//! while the child waits on a pipe; only then does the child set no-new-privileges, close every
//! inherited fd but 0/1/2, apply the policy's limits, working directory and Landlock ruleset,
//! install the seccomp backstop and exec. The child runs raw libc calls only (no allocation
//! after fork): everything it needs is prepared before `fork`.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::seccomp::{SockFilter, SockFprog};
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
    /// `setrlimit` calls to make: (resource, soft and hard limit).
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64)>,
    /// The working directory to change to.
    pub cwd: Option<CString>,
    /// The environment, when the policy changes it (otherwise the host's own).
    pub env: Option<Vec<(OsString, OsString)>>,
    /// A user-notification filter for the opens the host performs itself (directfs): the
    /// child installs it and hands its listener to the host before exec.
    pub directfs_filter: Option<Vec<SockFilter>>,
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

/// Forks the guest, seizes it and lets it exec `program` with `args` (argv\[0\] included) and the
/// host's environment under the `filter`. Returns the guest's pid; its first stop will be the
/// seccomp stop of its `execve`.
pub fn spawn(
    program: &Path,
    args: &[OsString],
    filter: &[SockFilter],
    confinement: &Confinement,
) -> anyhow::Result<(Pid, Option<std::os::fd::OwnedFd>)> {
    let path = cstring(program.as_os_str().as_bytes())?;
    let argv_owned: Vec<CString> = args.iter().map(|a| cstring(a.as_bytes())).collect::<anyhow::Result<_>>()?;
    let env = confinement.env.clone().unwrap_or_else(|| std::env::vars_os().collect());
    let envp_owned: Vec<CString> = env
        .into_iter()
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

    let mut sync = [0 as libc::c_int; 2];
    let mut sync2_pair = [-1 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if confinement.directfs_filter.is_some() && unsafe { libc::pipe2(sync2_pair.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        anyhow::bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    // SAFETY: `sync` is a live two-int array for pipe2 to fill.
    if unsafe { libc::pipe2(sync.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        anyhow::bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    let host_pid = sys::own_pid();
    // SAFETY: the child only calls async-signal-safe raw syscalls on memory prepared above
    // (argv, envp, fprog, sync stay alive in the copied address space) and ends in execve or
    // _exit; it never returns into Rust code that could allocate or unwind.
    // The child reports its directfs listener's fd number here (when it installs one).
    let mut report = [-1 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if confinement.directfs_filter.is_some() && unsafe { libc::pipe2(report.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        anyhow::bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    let notif_fprog = confinement.directfs_filter.as_ref().map(|f| SockFprog { len: f.len() as u16, filter: f.as_ptr() });
    // SAFETY: the child only makes async-signal-safe raw calls on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        anyhow::bail!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see the fork above; this function never returns.
        unsafe {
            child_after_fork(sync, report[1], sync2_pair[0], host_pid, &path, &argv, &envp, &fprog, notif_fprog.as_ref(), confinement)
        }
    }
    if report[1] >= 0 {
        // SAFETY: closing our copies of the child's ends, fds we own.
        unsafe {
            libc::close(report[1]);
            libc::close(sync2_pair[0]);
        }
    }
    let sync2 = sync2_pair[1];
    // SAFETY: closing our copy of the read end, an fd we own.
    unsafe { libc::close(sync[0]) };
    let seized = sys::seize(pid, OPTIONS);
    let go = [1u8];
    // SAFETY: writing one byte from a live buffer to the pipe's write end, then closing it.
    unsafe {
        if seized.is_ok() {
            libc::write(sync[1], go.as_ptr().cast(), 1);
        }
        libc::close(sync[1]);
    }
    if let Err(err) = seized {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::wait(Some(pid));
        anyhow::bail!("cannot trace the guest (PTRACE_SEIZE): {err}; is ptrace forbidden here (Yama, a container seccomp profile)?");
    }
    let listener = if report[0] >= 0 { Some(take_listener(pid, report[0], sync2)?) } else { None };
    Ok((pid, listener))
}

/// Reads the child's listener fd number from `report`, duplicates that fd into the host
/// (`pidfd_getfd`) and lets the child go on (`sync2`).
fn take_listener(pid: Pid, report: libc::c_int, sync2: libc::c_int) -> anyhow::Result<std::os::fd::OwnedFd> {
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
        libc::write(sync2, go.as_ptr().cast(), 1);
        libc::close(sync2);
    }
    result
}

/// The child side: wait until the host has attached, lock down, exec. Raw syscalls only.
///
/// # Safety
/// Must be called only in the child right after `fork`, with pointers into memory that the
/// fork copied.
#[allow(clippy::too_many_arguments)]
unsafe fn child_after_fork(
    sync: [libc::c_int; 2],
    report_write: libc::c_int,
    sync2_read: libc::c_int,
    host_pid: Pid,
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    fprog: &SockFprog,
    notif_fprog: Option<&SockFprog>,
    confinement: &Confinement,
) -> ! {
    // SAFETY: raw syscalls on integers and on the prepared buffers; see the function contract.
    unsafe {
        libc::close(sync[1]);
        // Die with the host even before ptrace's EXITKILL is in place.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        if libc::getppid() != host_pid {
            libc::_exit(CHILD_SETUP_FAILED);
        }
        let mut byte = 0u8;
        if libc::read(sync[0], (&mut byte as *mut u8).cast(), 1) != 1 {
            libc::_exit(CHILD_SETUP_FAILED); // the host failed to attach or died
        }
        // The host ignores some signals and Rust ignores SIGPIPE; ignored dispositions survive
        // exec, so give the guest the defaults it would have natively.
        for signal in [libc::SIGPIPE, libc::SIGINT, libc::SIGQUIT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
            libc::signal(signal, libc::SIG_DFL);
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
            libc::write(report_write, number.as_ptr().cast(), 4);
            let mut go = 0u8;
            if libc::read(sync2_read, (&mut go as *mut u8).cast(), 1) != 1 || go != 1 {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        // Landlock before closing fds: the ruleset is one of them.
        if let Some(ruleset) = confinement.landlock_fd {
            if crate::landlock::restrict_self(ruleset).is_err() {
                libc::_exit(CHILD_SETUP_FAILED);
            }
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..4096 {
                libc::close(fd);
            }
        }
        // Limits last, once the launcher's own fds are closed: a low open-files limit must
        // bind the guest, not the set-up (the directfs listener, the Landlock ruleset).
        for &(resource, value) in &confinement.rlimits {
            let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
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
