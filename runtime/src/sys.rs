//! Thin, safe wrappers over the Linux calls the host makes: ptrace, wait, guest memory access.
//!
//! This module and [`crate::launch::launcher`] are the only places with `unsafe`; everything above
//! them works with plain values and `Result<_, Errno>`.

use std::fmt;

/// A process or thread id.
pub type Pid = i32;

/// The general-purpose registers of a stopped thread, as `PTRACE_GETREGS` reports them.
pub type Regs = libc::user_regs_struct;

/// A failed call's `errno`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The thread is gone (exited, killed, or not stopped for us).
    pub const ESRCH: Errno = Errno(libc::ESRCH);
    /// `ENOENT`.
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// No traced child is left.
    pub const ECHILD: Errno = Errno(libc::ECHILD);
    /// Interrupted by a signal.
    pub const EINTR: Errno = Errno(libc::EINTR);

    fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", crate::decode::names::errno_name(self.0), std::io::Error::from_raw_os_error(self.0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

// ptrace requests, options and events (linux/ptrace.h), spelled out so the host does not
// depend on which of them a given libc version exports.
const PTRACE_PEEKDATA: u32 = 2;
const PTRACE_POKEDATA: u32 = 5;
const PTRACE_CONT: u32 = 7;
const PTRACE_GETREGS: u32 = 12;
const PTRACE_SETREGS: u32 = 13;
const PTRACE_SYSCALL: u32 = 24;
const PTRACE_SINGLESTEP: u32 = 9;
const PTRACE_GETEVENTMSG: u32 = 0x4201;
const PTRACE_GETSIGINFO: u32 = 0x4202;
const PTRACE_SEIZE: u32 = 0x4206;
const PTRACE_LISTEN: u32 = 0x4208;
const PTRACE_GETSIGMASK: u32 = 0x420a;

/// `PTRACE_O_TRACESYSGOOD`: syscall stops report `SIGTRAP | 0x80`.
pub const OPT_TRACESYSGOOD: u64 = 1;
/// `PTRACE_O_TRACEFORK`.
pub const OPT_TRACEFORK: u64 = 1 << 1;
/// `PTRACE_O_TRACEVFORK`.
pub const OPT_TRACEVFORK: u64 = 1 << 2;
/// `PTRACE_O_TRACECLONE`.
pub const OPT_TRACECLONE: u64 = 1 << 3;
/// `PTRACE_O_TRACEEXEC`.
pub const OPT_TRACEEXEC: u64 = 1 << 4;
/// `PTRACE_O_TRACESECCOMP`.
pub const OPT_TRACESECCOMP: u64 = 1 << 7;
/// `PTRACE_O_EXITKILL`: a dying host takes every guest with it.
pub const OPT_EXITKILL: u64 = 1 << 20;

/// `PTRACE_EVENT_FORK`.
pub const EVENT_FORK: i32 = 1;
/// `PTRACE_EVENT_VFORK`.
pub const EVENT_VFORK: i32 = 2;
/// `PTRACE_EVENT_CLONE`.
pub const EVENT_CLONE: i32 = 3;
/// `PTRACE_EVENT_EXEC`.
pub const EVENT_EXEC: i32 = 4;
/// `PTRACE_EVENT_SECCOMP`.
pub const EVENT_SECCOMP: i32 = 7;
/// `PTRACE_EVENT_STOP`: group-stop or the first stop of an auto-attached child (SEIZE).
pub const EVENT_STOP: i32 = 128;

fn ptrace(request: u32, tid: Pid, addr: u64, data: u64) -> Result<i64, Errno> {
    // SAFETY: every request issued through this helper either takes integer arguments or (for
    // GETREGS/SETREGS/GETEVENTMSG/GETSIGINFO/GETSIGMASK) a pointer to a live, correctly sized buffer owned
    // by the calling wrapper; the kernel validates the tid.
    let ret = unsafe { libc::ptrace(request as _, tid, addr as *mut libc::c_void, data as *mut libc::c_void) };
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Attaches to `pid` with `PTRACE_SEIZE` and sets `options`.
pub fn seize(pid: Pid, options: u64) -> Result<(), Errno> {
    ptrace(PTRACE_SEIZE, pid, 0, options).map(drop)
}

/// Resumes a stopped thread, delivering `signal` (0 for none).
pub fn cont(tid: Pid, signal: i32) -> Result<(), Errno> {
    ptrace(PTRACE_CONT, tid, 0, signal as u64).map(drop)
}

/// Resumes a stopped thread until its next syscall entry or exit.
pub fn cont_syscall(tid: Pid, signal: i32) -> Result<(), Errno> {
    ptrace(PTRACE_SYSCALL, tid, 0, signal as u64).map(drop)
}

/// Resumes a stopped thread for one instruction (a `syscall` one runs the whole call); the
/// next resume by [`cont`] or [`cont_syscall`] clears the trap flag again.
pub fn single_step(tid: Pid, signal: i32) -> Result<(), Errno> {
    ptrace(PTRACE_SINGLESTEP, tid, 0, signal as u64).map(drop)
}

/// Lets a thread in group-stop stay stopped but report further events (SEIZE only).
pub fn listen(tid: Pid) -> Result<(), Errno> {
    ptrace(PTRACE_LISTEN, tid, 0, 0).map(drop)
}

/// The registers of a stopped thread.
pub fn get_regs(tid: Pid) -> Result<Regs, Errno> {
    // SAFETY: user_regs_struct is plain integers, so all-zero is a valid value.
    let mut regs: Regs = unsafe { std::mem::zeroed() };
    ptrace(PTRACE_GETREGS, tid, 0, &mut regs as *mut Regs as u64)?;
    Ok(regs)
}

/// Sets the registers of a stopped thread.
pub fn set_regs(tid: Pid, regs: &Regs) -> Result<(), Errno> {
    ptrace(PTRACE_SETREGS, tid, 0, regs as *const Regs as u64).map(drop)
}

/// The `PTRACE_GETEVENTMSG` value (new tid at fork/clone, former tid at exec).
pub fn event_msg(tid: Pid) -> Result<u64, Errno> {
    let mut msg: libc::c_ulong = 0;
    ptrace(PTRACE_GETEVENTMSG, tid, 0, &mut msg as *mut libc::c_ulong as u64)?;
    Ok(msg)
}

/// The blocked-signal mask of the stopped thread `tid` (bit `n - 1` for signal `n`).
pub fn signal_mask(tid: Pid) -> Result<u64, Errno> {
    let mut mask: u64 = 0;
    // (addr is the size of the set: the kernel's 64 signals.)
    ptrace(PTRACE_GETSIGMASK, tid, 8, &mut mask as *mut u64 as u64)?;
    Ok(mask)
}

/// The signals process `pid` ignores (`SigIgn` of its `/proc` status; for exec, not a hot path).
pub fn ignored_signals(pid: Pid) -> Option<u64> {
    let status = read_proc(&format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("SigIgn:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The `si_code` of the signal a thread is stopped for, or an error when the stop is not a
/// signal-delivery stop (a group-stop reports `EINVAL`).
pub fn signal_code(tid: Pid) -> Result<i32, Errno> {
    // SAFETY: siginfo_t is plain data; all-zero is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ptrace(PTRACE_GETSIGINFO, tid, 0, &mut info as *mut libc::siginfo_t as u64)?;
    Ok(info.si_code)
}

/// For a thread stopped with a `SIGSYS` that a seccomp filter's `RET_TRAP` raised
/// (`si_code` `SYS_SECCOMP`): the return's data (`si_errno`), the call number and the
/// `AUDIT_ARCH_*` of the call.
pub fn seccomp_trap(tid: Pid) -> Option<(u16, i32, u32)> {
    const SYS_SECCOMP: i32 = 1;
    // SAFETY: siginfo_t is plain data; all-zero is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ptrace(PTRACE_GETSIGINFO, tid, 0, &mut info as *mut libc::siginfo_t as u64).ok()?;
    if info.si_signo != libc::SIGSYS || info.si_code != SYS_SECCOMP {
        return None;
    }
    // SAFETY: viewing the filled siginfo_t as its 128 bytes; for SYS_SECCOMP the kernel fills
    // _sigsys: _call_addr at 16, _syscall at 24, _arch at 28.
    let bytes = unsafe { std::slice::from_raw_parts((&info as *const libc::siginfo_t).cast::<u8>(), std::mem::size_of::<libc::siginfo_t>()) };
    let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((info.si_errno as u16, word(24) as i32, word(28)))
}

/// Who sent the signal `tid` is stopped with (signal-delivery-stop): `None` when the kernel
/// generated it (`si_code > 0`: the terminal's Ctrl-Z, a background read), else the sender's
/// pid as the tracee's PID namespace numbers it (0: a process outside that namespace).
pub fn signal_sender(tid: Pid) -> Result<Option<Pid>, Errno> {
    // SAFETY: siginfo_t is plain data; all-zero is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ptrace(PTRACE_GETSIGINFO, tid, 0, &mut info as *mut libc::siginfo_t as u64)?;
    if info.si_code > 0 {
        return Ok(None);
    }
    // SAFETY: for a signal a process sent (si_code <= 0: SI_USER, SI_QUEUE, SI_TKILL) the
    // kernel fills the kill fields of the union, si_pid among them.
    Ok(Some(unsafe { info.si_pid() }))
}

/// Reads one word of guest memory (ignores page protections).
pub fn peek(tid: Pid, addr: u64) -> Result<u64, Errno> {
    // PEEKDATA returns the word itself, so -1 is ambiguous: clear errno first.
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: PEEKDATA takes only integer arguments.
    let word = unsafe { libc::ptrace(PTRACE_PEEKDATA as _, tid, addr as *mut libc::c_void, std::ptr::null_mut::<libc::c_void>()) };
    if word == -1 {
        let err = Errno::last();
        if err.0 != 0 {
            return Err(err);
        }
    }
    Ok(word as u64)
}

/// Writes one word of guest memory (ignores page protections: a private page gets its own copy).
pub fn poke(tid: Pid, addr: u64, word: u64) -> Result<(), Errno> {
    ptrace(PTRACE_POKEDATA, tid, addr, word).map(drop)
}

/// Writes `bytes` into guest memory word by word, preserving the bytes around them.
pub fn poke_bytes(tid: Pid, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
    let mut offset = 0usize;
    while offset < bytes.len() {
        let at = addr + offset as u64;
        let n = (bytes.len() - offset).min(8);
        let mut word = if n == 8 { 0 } else { peek(tid, at)? }.to_le_bytes();
        word[..n].copy_from_slice(&bytes[offset..offset + n]);
        poke(tid, at, u64::from_le_bytes(word))?;
        offset += n;
    }
    Ok(())
}

/// Copies guest memory at `addr` into `buf` with `process_vm_readv`; returns how many bytes
/// were read (fewer at an unmapped page).
/// Copies `buf` into guest memory at `addr` with `process_vm_writev` (which respects the
/// guest's page protections, as the kernel writing a call's result would); returns how many
/// bytes were written.
pub fn write_memory(pid: Pid, addr: u64, buf: &[u8]) -> Result<usize, Errno> {
    let local = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` describes `buf`, which the kernel only reads; the remote iovec is only
    // interpreted by the kernel in the other process's address space.
    let n = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// The clock `clock` (a `CLOCK_*` id) in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> Result<u64, Errno> {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return Err(Errno::last());
    }
    Ok((now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64))
}

/// Exactly `len` bytes of guest memory at `addr`, or `None` when any of them is unreadable.
pub fn read_guest_bytes(pid: Pid, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    (read_memory(pid, addr, &mut buf) == Ok(len)).then_some(buf)
}

/// A duplicate, in the host, of fd `fd` of thread `pid` (`pidfd_open` + `pidfd_getfd`): of
/// any thread, not only a process's leader (`PIDFD_THREAD`, Linux 6.9; before it, a pidfd of
/// the process), and from that thread's own fd table (a thread made without `CLONE_FILES` has
/// one of its own).
pub fn take_fd(pid: Pid, fd: i32) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;
    // SAFETY: pidfd_open takes a pid and flags.
    let mut pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, PIDFD_THREAD) };
    if pidfd < 0 && Errno::last() == Errno(libc::EINVAL) {
        // SAFETY: as above.
        pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    }
    if pidfd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd takes a pidfd, a target fd number and flags.
    let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if dup < 0 {
        return Err(Errno::last());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(dup as i32) })
}

pub fn read_memory(pid: Pid, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` describes `buf`, which we own mutably for the call; the remote iovec is
    // only interpreted by the kernel in the other process's address space.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// A decoded `waitpid` status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// The thread exited with a code.
    Exited(i32),
    /// The thread was killed by a signal.
    Signaled {
        /// The signal.
        signal: i32,
        /// Whether it dumped core.
        core: bool,
    },
    /// The thread stopped: `signal` is `WSTOPSIG`, `event` is `status >> 16`.
    Stopped {
        /// `WSTOPSIG(status)`.
        signal: i32,
        /// The `PTRACE_EVENT_*` value, 0 for none.
        event: i32,
    },
    /// Anything else (continued).
    Other,
}

fn decode_status(status: i32) -> WaitStatus {
    if libc::WIFEXITED(status) {
        WaitStatus::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        WaitStatus::Signaled { signal: libc::WTERMSIG(status), core: libc::WCOREDUMP(status) }
    } else if libc::WIFSTOPPED(status) {
        WaitStatus::Stopped { signal: libc::WSTOPSIG(status), event: (status >> 16) & 0xff }
    } else {
        WaitStatus::Other
    }
}

/// One `waitpid(tid or -1, __WALL | extra)`, retried on `EINTR`: the event, or `None` when
/// `WNOHANG` found none.
fn waitpid_once(tid: Option<Pid>, extra: libc::c_int) -> Result<Option<(Pid, WaitStatus)>, Errno> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a live i32 for the kernel to fill.
        let pid = unsafe { libc::waitpid(tid.unwrap_or(-1), &mut status, libc::__WALL | extra) };
        match pid {
            0 => return Ok(None),
            p if p > 0 => return Ok(Some((p, decode_status(status)))),
            _ => {
                let err = Errno::last();
                if err != Errno::EINTR {
                    return Err(err);
                }
            }
        }
    }
}

/// Waits for the next event of any traced thread (`waitpid(-1, __WALL)`), or of one thread.
pub fn wait(tid: Option<Pid>) -> Result<(Pid, WaitStatus), Errno> {
    loop {
        if let Some(event) = waitpid_once(tid, 0)? {
            return Ok(event);
        }
    }
}

/// [`wait`], but first polls (`WNOHANG`) for up to `budget` before sleeping in `waitpid`.
///
/// A tracer asleep in `waitpid` is woken by the tracee's stop on another CPU, and in a VM that
/// wake-up is an inter-processor interrupt to a halted virtual CPU, the dearest part of an
/// unpinned ptrace stop (BENCHMARKS.md, fifth pass: 36–160 µs a stop here against ~5 µs with
/// both on one CPU); a tracer still running when the stop comes needs none.
pub fn wait_polling(tid: Option<Pid>, budget: std::time::Duration) -> Result<(Pid, WaitStatus), Errno> {
    let started = std::time::Instant::now();
    while started.elapsed() < budget {
        if let Some(event) = waitpid_once(tid, libc::WNOHANG)? {
            return Ok(event);
        }
        std::hint::spin_loop();
    }
    wait(tid)
}

/// Waits, as [`wait`]`(None)`, for the next event of any child or tracee, but leaves it to be
/// taken ([`wait_taken`]): its thread, and whether it is an exit (which taking releases).
pub fn wait_look() -> Result<(Pid, bool), Errno> {
    loop {
        // SAFETY: siginfo_t is plain data; zero is a valid value of it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // WEXITED is what waitpid implies; WNOWAIT leaves the event where it is.
        // SAFETY: `info` is a live siginfo_t for the kernel to fill.
        let done = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT | libc::__WALL) };
        if done == 0 {
            let exited = matches!(info.si_code, libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED);
            // SAFETY: waitid filled in a SIGCHLD siginfo, which carries si_pid.
            return Ok((unsafe { info.si_pid() }, exited));
        }
        let err = Errno::last();
        if err != Errno::EINTR {
            return Err(err);
        }
    }
}

/// Takes `tid`'s event that [`wait_look`] saw, if it is still there (`None`: look again).
pub fn wait_taken(tid: Pid) -> Result<Option<(Pid, WaitStatus)>, Errno> {
    match waitpid_once(Some(tid), libc::WNOHANG) {
        Err(Errno::ECHILD) => Ok(None),
        taken => taken,
    }
}

/// Sends `signal` to thread `tid` of process `tgid`.
pub fn tgkill(tgid: Pid, tid: Pid, signal: i32) -> Result<(), Errno> {
    // SAFETY: tgkill takes integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, signal) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: Pid, signal: i32) -> Result<(), Errno> {
    // SAFETY: kill takes integer arguments only.
    if unsafe { libc::kill(pid, signal) } < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Sets the host's disposition of `signal` to ignore (the host must outlive a Ctrl-C that the
/// guest handles itself).
pub fn ignore_signal(signal: i32) {
    // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
    unsafe { libc::signal(signal, libc::SIG_IGN) };
}

/// Makes the host non-dumpable: no process of its user (a guest included, which runs as that
/// user in its own namespaces) can then `ptrace` it, open its `/proc/PID/mem`, read its maps
/// or environment, or get a core of it; only `CAP_SYS_PTRACE` in the host's user namespace
/// can. Processes the host forks inherit it and set it back before they must be reachable
/// ([`crate::launch::launcher`]); an `execve` of the guest sets it back for the new image too.
pub fn make_undumpable() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The text of a small `/proc` file in one read: the kernel regenerates a file like
/// `/proc/PID/maps` at each read, and `read_to_string` would start with 32-byte reads (such a
/// file reports its size as 0).
pub fn read_proc(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(16 << 10);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// The trap ABI version of the trapbox host this process runs under, if it is a trapbox guest:
/// the `version` hostcall through a plain `syscall` is answered by an outer host (its backstop
/// sends hostcall numbers to it), while the kernel knows no such call (`ENOSYS`).
pub fn outer_trapbox_abi() -> Option<u64> {
    // SAFETY: a raw syscall with integer arguments only; the kernel answers an unknown number
    // with ENOSYS and touches nothing.
    let answer = unsafe { libc::syscall(trapbox_abi::hostcall::VERSION as libc::c_long, 0, 0, 0, 0, 0, 0) };
    (answer >= 0).then_some(answer as u64)
}

/// Whether `fd` is an open file descriptor of the host.
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD takes an integer and reads nothing.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Whether `fd` is an open fd of process `pid` (negative fds never are).
pub fn fd_of_is_open(pid: Pid, fd: i32) -> bool {
    fd >= 0 && std::fs::symlink_metadata(format!("/proc/{pid}/fd/{fd}")).is_ok()
}

/// The host's own process id.
pub fn own_pid() -> Pid {
    std::process::id() as Pid
}

/// Pins the calling thread (and so every process it forks afterwards) to the CPU it runs on
/// now; returns that CPU. A ptrace stop whose tracer and tracee sit on different CPUs costs
/// several times more (a cross-CPU wake-up per stop).
pub fn pin_to_current_cpu() -> Result<usize, Errno> {
    // SAFETY: sched_getcpu takes no arguments.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        return Err(Errno::last());
    }
    let cpu = cpu as usize;
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set` (the index is below CPU_SETSIZE, as it came
    // from the kernel).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a live cpu_set_t of the size we pass.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(Errno::last());
    }
    Ok(cpu)
}

/// Lets the calling thread run on every CPU the process may use (undoing
/// [`pin_to_current_cpu`] for this thread): `trapbox bench`'s unpinned rows.
pub fn allow_every_cpu() -> Result<(), Errno> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set` for each index below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize).for_each(|cpu| unsafe { libc::CPU_SET(cpu, &mut set) });
    // SAFETY: `set` is a live cpu_set_t of the size we pass; the kernel keeps the CPUs that exist.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// A host-side, shared, read-write mapping of a file (the pinned-argument page's writable
/// view); unmapped on drop.
#[derive(Debug)]
pub struct SharedMapping {
    addr: *mut u8,
    len: usize,
}

impl SharedMapping {
    /// Sizes the file behind `fd` to `len` bytes and maps all of it shared and writable.
    pub fn create(fd: &std::os::fd::OwnedFd, len: usize) -> Result<SharedMapping, Errno> {
        use std::os::fd::AsRawFd;
        // SAFETY: ftruncate takes an fd and a length.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(Errno::last());
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh mapping chosen by the kernel, of a file we just sized to `len`;
        // nothing else in the host refers to that address range.
        let addr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if addr == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(SharedMapping { addr: addr.cast(), len })
    }

    /// Copies `bytes` to `offset`; false when they do not fit.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> bool {
        if offset.checked_add(bytes.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        // SAFETY: the range was just checked to lie inside the mapping, which lives as long as
        // `self`; the guest's view of these pages is read-only, so only the host writes them.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.addr.add(offset), bytes.len()) };
        true
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the range `create` mapped, which nothing else refers to.
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}

/// Seals the memfd behind `fd` (`F_ADD_SEALS`).
pub fn add_seals(fd: &std::os::fd::OwnedFd, seals: i32) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl(F_ADD_SEALS) takes an fd and an integer.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The target of the symlink an `O_PATH | O_NOFOLLOW` fd names (`readlinkat(fd, "")`).
pub fn readlink_fd(fd: &std::os::fd::OwnedFd) -> Result<std::path::PathBuf, i32> {
    readlink_at(fd, c"")
}

/// The target of the symlink `name` in directory `dir` (`readlinkat`): one name looked up,
/// not a whole path.
pub fn readlink_at(dir: &std::os::fd::OwnedFd, name: &std::ffi::CStr) -> Result<std::path::PathBuf, i32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: an fd this process owns, a NUL-terminated name, and a buffer of the length passed.
    let len = unsafe { libc::readlinkat(dir.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return Err(Errno::last().0);
    }
    buf.truncate(len as usize);
    Ok(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&buf)))
}

/// The names of the symbolic links directory `dir` holds, and of entries of unknown type (a
/// filesystem that does not report types: `readlinkat` tells). Read with `getdents64` into
/// one buffer, keeping only those names (the type is in each record): std's `read_dir`
/// allocates for every entry, and the start-up scan of a grants-only root lists thousands
/// (`/usr/bin`) to find a few hundred links.
pub fn symlinks_in(dir: &std::os::fd::OwnedFd) -> Result<Vec<std::ffi::CString>, i32> {
    use std::os::fd::AsRawFd;
    const DT_UNKNOWN: u8 = 0;
    const DT_LNK: u8 = 10;
    // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[].
    const NAME_AT: usize = 19;
    let mut buf = vec![0u8; 32 << 10];
    let mut links = Vec::new();
    loop {
        // SAFETY: getdents64 writes at most `buf.len()` bytes of records into the buffer we own.
        let got = unsafe { libc::syscall(libc::SYS_getdents64, dir.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
        if got < 0 {
            return Err(Errno::last().0);
        }
        if got == 0 {
            return Ok(links);
        }
        let records = &buf[..got as usize];
        let mut at = 0;
        while let Some(record) = records.get(at..) {
            let Some(&[low, high]) = record.get(16..18) else { break };
            let len = usize::from(u16::from_le_bytes([low, high]));
            if len <= NAME_AT || len > record.len() {
                break; // (the kernel's records are never so; stop rather than misread)
            }
            if record[18] == DT_LNK || record[18] == DT_UNKNOWN {
                if let Ok(name) = std::ffi::CStr::from_bytes_until_nul(&record[NAME_AT..len]) {
                    links.push(name.to_owned());
                }
            }
            at += len;
        }
    }
}

/// `openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve})`: the host's fd, or the errno.
pub fn openat2(dirfd: i32, path: &std::ffi::CStr, flags: u64, mode: u64, resolve: u64) -> Result<std::os::fd::OwnedFd, i32> {
    use std::os::fd::FromRawFd;
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow { flags: flags | libc::O_CLOEXEC as u64, mode, resolve };
    // A scoped walk (`RESOLVE_BENEATH`, `RESOLVE_IN_ROOT`) that meets `..` while any rename or
    // mount happens anywhere on the machine fails with EAGAIN, to be retried: the host's walks
    // must not hand the guest a failure a quieter machine would not give. (With
    // RESOLVE_CACHED, EAGAIN is the answer itself; a few retries change no lasting one.)
    const RESOLVE_CACHED: u64 = 0x20;
    let mut tries = if resolve & RESOLVE_CACHED == 0 { 8 } else { 1 };
    let fd = loop {
        // SAFETY: a NUL-terminated path and an open_how of the size passed; `dirfd` is an fd
        // or AT_FDCWD, which the kernel checks.
        let fd = unsafe { libc::syscall(libc::SYS_openat2, dirfd, path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>()) };
        tries -= 1;
        if fd >= 0 || Errno::last() != Errno(libc::EAGAIN) || tries == 0 {
            break fd;
        }
    };
    if fd < 0 {
        return Err(Errno::last().0);
    }
    // SAFETY: the kernel returned a new fd nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// The mapping of process `pid` that covers `addr`, as `PROCMAP_QUERY` (Linux 6.11+) on its
/// `/proc/PID/maps` reports it: one ioctl, no text to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Whether it is executable.
    pub executable: bool,
    /// The file's inode (0 for anonymous memory).
    pub inode: u64,
    /// The file's device, encoded as `/proc/PID/maps` shows it (major << 32 | minor).
    pub device: u64,
}

/// See [`Vma`]. `Ok(None)`: no mapping covers `addr`; `Err`: the query is not available
/// (an older kernel: ENOTTY) or the process is gone.
pub fn vma_at(pid: Pid, addr: u64) -> Result<Option<Vma>, Errno> {
    /// `struct procmap_query` (include/uapi/linux/fs.h).
    #[repr(C)]
    #[derive(Default)]
    struct ProcmapQuery {
        size: u64,
        query_flags: u64,
        query_addr: u64,
        vma_start: u64,
        vma_end: u64,
        vma_flags: u64,
        vma_page_size: u64,
        vma_offset: u64,
        inode: u64,
        dev_major: u32,
        dev_minor: u32,
        vma_name_size: u32,
        build_id_size: u32,
        vma_name_addr: u64,
        build_id_addr: u64,
    }
    const PROCMAP_QUERY: libc::c_ulong = 0xC068_6611; // _IOWR('f', 17, struct procmap_query)
    const VMA_EXECUTABLE: u64 = 4;
    const _: () = assert!(std::mem::size_of::<ProcmapQuery>() == 104);
    use std::os::fd::AsRawFd;
    let maps = std::fs::File::open(format!("/proc/{pid}/maps")).map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::ESRCH)))?;
    let mut query = ProcmapQuery { size: 104, query_addr: addr, ..ProcmapQuery::default() };
    // SAFETY: PROCMAP_QUERY reads and writes exactly the `size` bytes of the struct passed, and
    // no name or build-id buffer is asked for (their sizes are 0).
    let rc = unsafe { libc::ioctl(maps.as_raw_fd(), PROCMAP_QUERY, &mut query as *mut ProcmapQuery) };
    if rc != 0 {
        let err = Errno::last();
        return if err == Errno::ENOENT { Ok(None) } else { Err(err) };
    }
    Ok(Some(Vma {
        start: query.vma_start,
        end: query.vma_end,
        executable: query.vma_flags & VMA_EXECUTABLE != 0,
        inode: query.inode,
        device: u64::from(query.dev_major) << 32 | u64::from(query.dev_minor),
    }))
}

/// `struct __user_cap_header_struct` and the two `__user_cap_data_struct`s of capability
/// version 3 (64-bit sets).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
const CAP_VERSION_3: u32 = 0x2008_0522;

fn capget() -> Result<[CapData; 2], Errno> {
    let mut header = CapHeader { version: CAP_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two data structs for version 3 into a live array.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) } != 0 {
        return Err(Errno::last());
    }
    Ok(data)
}

/// The calling thread's filesystem credentials.
pub fn thread_credentials() -> crate::perform::creds::Credentials {
    // SAFETY: setfsuid/setfsgid with an invalid id change nothing and return the current one.
    let (fsuid, fsgid) = unsafe { (libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32, libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32) };
    let mut groups = vec![0 as libc::gid_t; 65536];
    // SAFETY: getgroups writes at most `len` ids into a live buffer of that many.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(n).unwrap_or(0));
    crate::perform::creds::Credentials { fsuid, fsgid, groups, effective: effective_capabilities() }
}

/// The calling thread's effective capabilities as a bit set (bit N is capability N); none if
/// the kernel will not say.
pub fn effective_capabilities() -> u64 {
    capget().map(|d| u64::from(d[1].effective) << 32 | u64::from(d[0].effective)).unwrap_or(0)
}

/// The highest capability number this kernel knows.
pub fn last_capability() -> u32 {
    read_proc("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40).min(63)
}

/// Every capability this kernel knows, as a mask (bit N is capability N).
pub fn known_capabilities() -> u64 {
    match last_capability() {
        63 => u64::MAX,
        last => (1u64 << (last + 1)) - 1,
    }
}

/// Gives the calling thread (only: raw system calls, not glibc's process-wide wrappers) the
/// filesystem credentials `creds`, as far as its permitted capabilities allow.
pub fn take_thread_credentials(creds: &crate::perform::creds::Credentials) -> Result<(), Errno> {
    // Every permitted capability first (CAP_SETGID and CAP_SETUID may be what an earlier
    // switch took away), then groups and ids, then the effective set asked for (setfsuid
    // itself adjusts the filesystem capabilities, which the last step overrides).
    set_effective_caps(u64::MAX)?;
    // SAFETY: setgroups reads `len` ids from a live slice.
    if unsafe { libc::syscall(libc::SYS_setgroups, creds.groups.len(), creds.groups.as_ptr()) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: setfsgid/setfsuid take an integer and return the previous id.
    unsafe {
        libc::syscall(libc::SYS_setfsgid, creds.fsgid);
        libc::syscall(libc::SYS_setfsuid, creds.fsuid);
        if libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32 != creds.fsgid || libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32 != creds.fsuid {
            return Err(Errno(libc::EPERM));
        }
    }
    set_effective_caps(creds.effective)
}

/// Sets the calling thread's effective capabilities to `wanted` within its permitted set.
fn set_effective_caps(wanted: u64) -> Result<(), Errno> {
    let mut data = capget()?;
    for (i, word) in data.iter_mut().enumerate() {
        word.effective = (wanted >> (32 * i)) as u32 & word.permitted;
    }
    let mut header = CapHeader { version: CAP_VERSION_3, pid: 0 };
    // SAFETY: capset reads two data structs for version 3 from a live array.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) } != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The process (thread group) of thread `tid`, from `/proc` (for a thread the host has no
/// record of, and for trace lines); `None` if it is gone.
pub fn thread_group(tid: Pid) -> Option<Pid> {
    read_proc(&format!("/proc/{tid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:").and_then(|v| v.trim().parse().ok()))
}

/// The process group of `pid` (as the host's PID namespace numbers it); `None` if it is gone.
pub fn process_group(pid: Pid) -> Option<Pid> {
    // SAFETY: getpgid takes an integer.
    let group = unsafe { libc::getpgid(pid) };
    (group > 0).then_some(group)
}

/// What the kernel compares when one process signals another (`kill_ok_by_cred`).
#[derive(Clone, Copy, Debug)]
pub struct SignalCredentials {
    real_uid: u32,
    effective_uid: u32,
    saved_uid: u32,
    /// Whether `CAP_KILL` is in the effective set.
    can_kill: bool,
}

impl SignalCredentials {
    /// Whether a process with these credentials may signal one with `target`'s.
    pub fn may_signal(&self, target: &SignalCredentials) -> bool {
        self.can_kill
            || [self.real_uid, self.effective_uid].iter().any(|uid| *uid == target.real_uid || *uid == target.saved_uid)
    }
}

/// The signal credentials of `pid`, from `/proc/PID/status` (a rare path: group signals).
pub fn signal_credentials(pid: Pid) -> Option<SignalCredentials> {
    const CAP_KILL: u32 = 5;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let uids: Vec<u32> = field("Uid:")?.split_whitespace().filter_map(|u| u.parse().ok()).collect();
    let effective_caps = u64::from_str_radix(field("CapEff:")?, 16).ok()?;
    Some(SignalCredentials {
        real_uid: *uids.first()?,
        effective_uid: *uids.get(1)?,
        saved_uid: *uids.get(2)?,
        can_kill: effective_caps & (1 << CAP_KILL) != 0,
    })
}

/// Whether a signal waits to be delivered to thread `tid` that would interrupt a blocking
/// call of it natively: pending for it or its process, not blocked, and not ignored (by
/// `SIG_IGN`, or by default — SIGCHLD, SIGCONT, SIGURG, SIGWINCH — without a handler), from
/// `/proc/TID/status`. (A traced thread's ignored signals are queued for its tracer to see.)
pub fn signal_pending(tid: Pid) -> bool {
    const IGNORED_BY_DEFAULT: u64 = 1 << (libc::SIGCHLD - 1) | 1 << (libc::SIGCONT - 1) | 1 << (libc::SIGURG - 1) | 1 << (libc::SIGWINCH - 1);
    let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else { return false };
    let mask = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| u64::from_str_radix(v.trim(), 16).ok()).unwrap_or(0);
    let pending = mask("SigPnd:") | mask("ShdPnd:");
    let ignored = mask("SigIgn:") | (IGNORED_BY_DEFAULT & !mask("SigCgt:"));
    pending & !mask("SigBlk:") & !ignored != 0
}

/// The guest process signals sent to the host are relayed to (0: none yet).
static RELAY_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The signals a supervisor, `timeout`, a CI runner or a user sends to a program: sent to
/// trapbox, they are meant for the guest.
const RELAYED: [i32; 8] =
    [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2, libc::SIGTSTP, libc::SIGWINCH];

extern "C" fn relay(signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // A signal the kernel sent (the terminal's Ctrl-C, a hang-up, a resize) reaches the guest
    // directly, as it is in the terminal's foreground process group too: relay only what a
    // process sent (si_code <= 0: SI_USER, SI_QUEUE, SI_TKILL).
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let sent_by_a_process = !info.is_null() && unsafe { (*info).si_code } <= 0;
    let target = RELAY_TO.load(std::sync::atomic::Ordering::Relaxed);
    if sent_by_a_process && target > 0 {
        // SAFETY: kill is async-signal-safe and takes integers.
        unsafe { libc::kill(target, signal) };
    }
}

/// How many times the host has received SIGCONT.
static CONTINUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn count_continue(_signal: libc::c_int) {
    CONTINUED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// How many SIGCONTs the host has received so far (see [`relay_signals`]).
pub fn continued_count() -> u64 {
    CONTINUED.load(std::sync::atomic::Ordering::SeqCst)
}

/// From now on, the signals in [`RELAYED`] that a process sends to the host go to the guest
/// process set with [`relay_signals_to`] instead of ending the host (as an init does for its
/// container). The handlers reset to the default at every exec, so the guest keeps its own.
/// SIGCONTs are counted ([`continued_count`]), and SIGTTOU is ignored: a host message written
/// while the guest holds the terminal must not stop the host (`stty tostop`).
pub fn relay_signals() {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask; SIG_IGN is a valid
    // disposition for SIGTTOU.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_continue as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGCONT, &action, std::ptr::null_mut());
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
    }
    for signal in RELAYED {
        // SAFETY: a zeroed sigaction with a valid SA_SIGINFO handler and an empty mask.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = relay as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Where [`relay_signals`] sends what the host receives.
pub fn relay_signals_to(pid: Pid) {
    RELAY_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
}

/// Stops the host by the stop signal `signal`, as the program stopped, so that the host's
/// parent (a shell) sees its job stop as it would natively; returns once the host is continued.
/// (The kernel discards SIGTSTP, SIGTTIN and SIGTTOU for an orphaned process group, as it
/// would have for the program.)
pub fn stop_as(signal: i32) {
    // SAFETY: sigaction reads and writes live, zeroed sigaction structs (SIG_DFL is valid for
    // every stop signal); sigprocmask and raise take integers and a zeroed set.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let mut before: libc::sigaction = std::mem::zeroed();
        let catchable = signal != libc::SIGSTOP;
        if catchable {
            libc::sigaction(signal, &default, &mut before);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
        if catchable {
            libc::sigaction(signal, &before, std::ptr::null_mut());
        }
    }
}

/// Ends the host by `signal`, as the guest ended, so that the host's parent sees the guest's
/// own wait status; no core file is written. Returns if the signal does not end a process.
pub fn die_by(signal: i32) {
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: setrlimit reads a live rlimit; signal, sigprocmask and raise take integers and
    // a zeroed set.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
}

/// What a process fd names: the process (as the host numbers it) that fd `fd` of process
/// `pid` is a pidfd of, or a `/proc/PID` directory of (which `pidfd_send_signal` takes too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessFd {
    /// A live process.
    Of(Pid),
    /// A live process as a `/proc` directory numbers it: the guest's own `/proc` has its PID
    /// namespace's numbers ([`crate::launch::view::host_pid`] translates them).
    InProc(Pid),
    /// A process that has exited (the kernel answers ESRCH).
    Exited,
    /// Not a process fd at all (the kernel answers EBADF).
    NotOne,
}

/// See [`ProcessFd`]: a pidfd's fdinfo has a `Pid:` line (-1 once the process has exited); a
/// `/proc/PID` directory's link names it.
pub fn process_fd(pid: Pid, fd: i32) -> ProcessFd {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    if let Some(number) = info.lines().find_map(|l| l.strip_prefix("Pid:")).and_then(|v| v.trim().parse::<Pid>().ok()) {
        return if number > 0 { ProcessFd::Of(number) } else { ProcessFd::Exited };
    }
    // The link names the directory as its /proc numbers it: the guest's own /proc has its
    // PID namespace's numbers (crate::launch::view; the caller translates them).
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap_or_default();
    match link.to_str().and_then(|l| l.strip_prefix("/proc/")).and_then(|n| n.parse::<Pid>().ok()) {
        Some(number) if crate::launch::view::exists(std::path::Path::new(&format!("/proc/{number}"))) => ProcessFd::InProc(number),
        Some(_) => ProcessFd::Exited,
        None => ProcessFd::NotOne,
    }
}

/// `pidfd_send_signal` on a pidfd the host holds, with the host's copy of the guest's siginfo
/// if it passed one; the raw result.
pub fn pidfd_send_signal(pidfd: &std::os::fd::OwnedFd, signal: i32, info: Option<&crate::decode::siginfo::Siginfo>, flags: u32) -> u64 {
    use std::os::fd::AsRawFd;
    let info = info.map_or(std::ptr::null(), |info| info.bytes().as_ptr());
    // SAFETY: a pidfd the host owns, integers, and a null siginfo or a host buffer of
    // `sizeof(siginfo_t)` bytes.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), signal, info, flags) };
    if rc < 0 {
        trapbox_abi::errno::encode_error(Errno::last().0)
    } else {
        rc as u64
    }
}

/// The kernel's errno for `pidfd_send_signal` flags it does not take (unknown bits, or more
/// than one scope), which it answers before it looks at the fd; `None` for flags it takes.
pub fn pidfd_signal_flags_error(flags: u32) -> Option<i32> {
    // SAFETY: fd -1 is never a pidfd: the kernel judges the flags, then stops at the fd
    // (EBADF) without reading the null siginfo or sending anything.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, -1, 0, std::ptr::null::<libc::siginfo_t>(), flags) };
    match Errno::last().0 {
        _ if rc >= 0 => None,
        libc::EBADF => None,
        errno => Some(errno),
    }
}

/// Sends `bytes` as one message on the unix socket `socket`, with `fds` beside it
/// (`SCM_RIGHTS`, at most 8).
pub fn send_with_fds(socket: i32, bytes: &[u8], fds: &[i32]) -> Result<(), Errno> {
    if fds.len() > 8 {
        return Err(Errno(libc::EINVAL));
    }
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // Room for one SCM_RIGHTS message of 8 fds, 8-byte aligned as cmsg headers must be.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; every pointer set below refers to a live local or to
    // `bytes`, which sendmsg only reads; the cmsg is written within `control`.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            let size = std::mem::size_of_val(fds) as u32;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(size) as usize;
            let header = libc::CMSG_FIRSTHDR(&msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(size) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(header).cast::<i32>(), fds.len());
        }
        libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// One message received on a unix socket ([`receive_with_fd`]).
#[derive(Debug)]
pub struct Received {
    /// Its length.
    pub len: usize,
    /// The first fd that came with it (installed close-on-exec; any others are closed).
    pub fd: Option<std::os::fd::OwnedFd>,
    /// The sender's pid from its credentials (`SCM_CREDENTIALS`, with `SO_PASSCRED`), as the
    /// kernel translates it into this process's PID namespace.
    pub sender: Option<Pid>,
}

/// Receives one message from the unix socket `socket` into `buf` (see [`Received`]).
pub fn receive_with_fd(socket: i32, buf: &mut [u8]) -> Result<Received, Errno> {
    use std::os::fd::FromRawFd;
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // Room for the fds and the credentials a message may carry, 8-byte aligned as cmsg
    // headers must be.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data pointing at live locals and `buf`, which recvmsg fills
    // within their lengths.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let got = loop {
        // SAFETY: as above.
        let got = unsafe { libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if got >= 0 || Errno::last().0 != libc::EINTR {
            break got;
        }
    };
    if got < 0 {
        return Err(Errno::last());
    }
    let mut received = Received { len: got as usize, fd: None, sender: None };
    // SAFETY: the CMSG macros walk the control buffer the kernel just filled, within
    // msg_controllen; SCM_RIGHTS data are fds the kernel installed in this process, each
    // owned once here; SCM_CREDENTIALS data is a `struct ucred`.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let count = ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<i32>();
                for i in 0..count {
                    let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<i32>().add(i));
                    let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
                    if received.fd.is_none() {
                        received.fd = Some(owned);
                    }
                }
            } else if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_CREDENTIALS {
                let cred: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast());
                received.sender = (cred.pid > 0).then_some(cred.pid);
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    Ok(received)
}

/// The mount id (`STATX_MNT_ID_UNIQUE`) of the file behind `fd` (an `O_PATH` one too), and
/// whether it is that mount's root.
pub fn mount_of(fd: &std::os::fd::OwnedFd) -> Option<(u64, bool)> {
    use std::os::fd::AsRawFd;
    // SAFETY: statx writes one struct statx into the zeroed local; the path is empty and
    // NUL-terminated, with AT_EMPTY_PATH on an open fd.
    unsafe {
        let mut info: libc::statx = std::mem::zeroed();
        if libc::statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_MNT_ID_UNIQUE, &mut info) != 0 {
            return None;
        }
        Some((info.stx_mnt_id, info.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0))
    }
}

/// Forks the calling process (for [`crate::monitor`]): `Ok(0)` in the child, the child's pid
/// in the parent.
pub fn fork() -> Result<Pid, Errno> {
    // SAFETY: fork takes no arguments; the child runs only trapbox's own code, which takes no
    // lock another thread of the parent may have held (see crate::command's documentation).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(Errno::last())
    } else {
        Ok(pid)
    }
}

/// Ends this process at once with `code`: no exit handlers, no flushing of buffers (in a
/// forked monitor they are copies of the embedding program's).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an integer and does not return.
    unsafe { libc::_exit(code) }
}

/// Waits for child process `pid` to end: its raw wait status.
pub fn wait_exit(pid: Pid) -> Result<i32, Errno> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes one int into a live variable.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            return Ok(status);
        }
        if ret < 0 && Errno::last() != Errno(libc::EINTR) {
            return Err(Errno::last());
        }
    }
}

/// Closes every fd above 2 but those in `keep` (a forked monitor keeps none of the embedding
/// program's files it does not need: a pipe end it held would never see its end).
pub fn close_fds_except(keep: &[i32]) {
    let mut keep: Vec<u32> = keep.iter().filter(|&&fd| fd > 2).map(|&fd| fd as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > first {
            // SAFETY: close_range takes integers; the fds in the range are no one's in this
            // single-threaded child but the copies the fork made.
            unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0u32) };
        }
        first = fd.saturating_add(1);
    }
}

/// Gives this process an empty signal mask and the default disposition of every signal a
/// handler caught (a forked monitor must not run the embedding program's handlers).
pub fn reset_signals() {
    // SAFETY: sigaction reads and writes live, zeroed structs; SIG_DFL is valid for every
    // signal; sigprocmask reads an empty set.
    unsafe {
        for signal in 1..libc::SIGRTMAX() {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) == 0 && old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Writes all of `bytes` to fd 2 with plain `write` calls: no lock of std's (a forked
/// monitor must take no lock another thread of the embedding program may have held), and a
/// line short enough is one write, so lines of several host threads never interleave.
pub fn write_to_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write reads `bytes.len()` bytes of a live slice.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 && Errno::last() == Errno(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            return; // nowhere to report it
        }
        bytes = &bytes[n as usize..];
    }
}

/// Moves the calling thread into the namespace `fd` refers to (`setns`; `kind` is its
/// `CLONE_NEW*` type, checked by the kernel).
pub fn set_namespace(fd: std::os::fd::RawFd, kind: libc::c_int) -> std::io::Result<()> {
    // SAFETY: setns takes two integers.
    if unsafe { libc::setns(fd, kind) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes a FIFO at `path` (mode 0600).
pub fn make_fifo(path: &std::path::Path) -> std::io::Result<()> {
    let c_path = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: mkfifo reads a NUL-terminated path.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// This process's effective uid and gid.
pub fn effective_ids() -> (libc::uid_t, libc::gid_t) {
    // SAFETY: geteuid and getegid take nothing and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// A new pseudo-terminal: (master, slave), both close-on-exec, the slave opened without
/// becoming this process's controlling terminal.
pub fn open_pty() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    // SAFETY: posix_openpt takes flags and returns a new fd or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned to this process and nothing else owns it.
    let master = unsafe { std::os::fd::OwnedFd::from_raw_fd(master) };
    let mut name = [0 as libc::c_char; 64];
    // SAFETY: grantpt/unlockpt take the master fd; ptsname_r writes at most `name.len()` bytes.
    let named = unsafe {
        use std::os::fd::AsRawFd;
        libc::grantpt(master.as_raw_fd()) == 0 && libc::unlockpt(master.as_raw_fd()) == 0 && libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) == 0
    };
    if !named {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ptsname_r wrote a NUL-terminated name into `name`.
    let slave = unsafe { libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if slave < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as for the master.
    Ok((master, unsafe { std::os::fd::OwnedFd::from_raw_fd(slave) }))
}

/// Makes `fd` this process's `target` fd (`dup2`).
pub fn duplicate_onto(fd: std::os::fd::RawFd, target: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 takes two integers.
    if unsafe { libc::dup2(fd, target) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_of_a_directory_and_their_targets() {
        let dir = std::env::temp_dir().join(format!("trapbox-symlinks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink("file", dir.join("to-file")).unwrap();
        std::os::unix::fs::symlink("/nowhere/at/all", dir.join("dangling")).unwrap();
        // Enough names for the kernel to fill more than one buffer of records.
        for i in 0..3000 {
            std::fs::write(dir.join(format!("a-rather-long-file-name-to-fill-the-buffer-{i:04}")), b"").unwrap();
        }
        std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
        let opened = std::os::fd::OwnedFd::from(std::fs::File::open(&dir).unwrap());
        let mut names: Vec<String> = symlinks_in(&opened).unwrap().into_iter().map(|n| n.into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["dangling", "self", "to-file"]);
        assert_eq!(readlink_at(&opened, c"to-file").unwrap(), std::path::Path::new("file"));
        assert_eq!(readlink_at(&opened, c"dangling").unwrap(), std::path::Path::new("/nowhere/at/all"));
        assert_eq!(readlink_at(&opened, c"file"), Err(libc::EINVAL), "not a link");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
