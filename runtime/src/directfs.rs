//! directfs: under a policy, the host performs every open itself and hands the guest the file
//! as an fd.
//!
//! The guest's `open`, `openat`, `openat2` and `creat` meet a seccomp user-notification filter
//! (it outranks the backstop's TRACE), so the guest thread waits in the kernel while a host
//! thread decides. The host reads the path once, resolves it as the kernel would, checks the
//! policy, opens the file itself with `openat2` beneath the grant's directory
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`) and installs the open file
//! in the guest with `SECCOMP_IOCTL_NOTIF_ADDFD` (`SEND`: the fd is the call's result,
//! atomically). The guest's own call never runs, so nothing it changes in its memory after the
//! check matters; later `read`, `write` and `mmap` on the fd run natively.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use trapbox_abi::errno::{EACCES, EFAULT, EINVAL, ENAMETOOLONG};
use trapbox_abi::linux::nr;

use crate::policy::Policy;
use crate::trace::{Handling, Route, TraceSink};
use crate::seccomp::{SockFilter, AUDIT_ARCH_X86_64};

const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const IOCTL_NOTIF_RECV: libc::c_ulong = 0xC050_2100;
const IOCTL_NOTIF_SEND: libc::c_ulong = 0xC018_2101;
const IOCTL_NOTIF_ID_VALID: libc::c_ulong = 0x4008_2102;
const IOCTL_NOTIF_ADDFD: libc::c_ulong = 0x4018_2103;
const ADDFD_FLAG_SEND: u32 = 1 << 1;

/// The user-notification filter: the open family goes to the host's directfs thread, every
/// other call falls through to the backstop (the kernel runs the strictest verdict of all).
/// `O_PATH` opens by open and openat fall through too: the kernel will not install an
/// `O_PATH` file with ADDFD, so the debugger checks them and lets the kernel open them on the
/// host's pinned copy of the path ([`crate::pinned`]).
pub fn filter() -> Vec<SockFilter> {
    let stmt = |code: u16, k: u32| SockFilter { code, jt: 0, jf: 0, k };
    let jeq = |k: u32, jt: u8, jf: u8| SockFilter { code: 0x15, jt, jf, k };
    let jset = |k: u32, jt: u8, jf: u8| SockFilter { code: 0x45, jt, jf, k };
    let flags_low_word = |arg: u32| stmt(0x20, 16 + 8 * arg);
    let o_path = libc::O_PATH as u32;
    let mut prog = vec![stmt(0x20, 4), jeq(AUDIT_ARCH_X86_64, 1, 0), stmt(0x06, SECCOMP_RET_KILL_PROCESS), stmt(0x20, 0)];
    // [nr] open → +4, openat → +5, openat2/creat → notify, else allow.
    prog.extend([
        jeq(nr::OPEN as u32, 4, 0),
        jeq(nr::OPENAT as u32, 5, 0),
        jeq(nr::OPENAT2 as u32, 7, 0),
        jeq(nr::CREAT as u32, 6, 0),
        stmt(0x06, SECCOMP_RET_ALLOW),
        flags_low_word(1),
        jset(o_path, 2, 3),
        flags_low_word(2),
        jset(o_path, 0, 1),
        stmt(0x06, SECCOMP_RET_ALLOW),
        stmt(0x06, SECCOMP_RET_USER_NOTIF),
    ]);
    prog
}

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[repr(C)]
struct NotifAddfd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

/// Starts the directfs thread on `listener`; it ends when no guest process is left. With a
/// trace sink, each open it serves gets a trace line.
pub fn start(listener: OwnedFd, policy: Arc<Policy>, trace: Option<TraceSink>) {
    // Created files get exactly the mode the guest asked for, filtered by the guest's umask.
    // SAFETY: umask takes an integer.
    unsafe { libc::umask(0) };
    std::thread::spawn(move || serve(listener, policy, trace));
}

fn serve(listener: OwnedFd, policy: Arc<Policy>, mut trace: Option<TraceSink>) {
    loop {
        let mut notif = Notif::default();
        // SAFETY: RECV fills a seccomp_notif of exactly this layout.
        if unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_RECV, &mut notif as *mut Notif) } != 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) | Some(libc::ENOENT) => continue, // the caller died meanwhile
                _ => return,                                         // no guest process is left
            }
        }
        // Described before deciding: once the fd is installed the guest runs on and may be gone.
        let call = trace.is_some().then(|| crate::trace::format_call(notif.pid as i32, notif.data.nr as u64, &notif.data.args));
        let answer = decide(&listener, &policy, &notif);
        if let (Some(sink), Some(call)) = (trace.as_mut(), call) {
            let (result, handling) = match answer {
                Answer::Installed(fd) => (fd.to_string(), Handling::Executed),
                Answer::Fail(errno) => (crate::trace::format_result(trapbox_abi::errno::encode_error(errno)), Handling::Refused),
            };
            sink.line(notif.pid as i32, &call, &result, crate::trace::tag(Route::Directfs, handling));
        }
        let (val, error, flags) = match answer {
            Answer::Installed(_) => continue, // ADDFD with SEND already completed the call
            Answer::Fail(errno) => (0, -errno, 0),
        };
        let resp = NotifResp { id: notif.id, val, error, flags };
        // SAFETY: SEND reads a seccomp_notif_resp of exactly this layout.
        unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_SEND, &resp as *const NotifResp) };
    }
}

#[derive(Clone, Copy)]
enum Answer {
    /// Installed in the guest as this fd, which is the call's result.
    Installed(i64),
    Fail(i32),
}

/// What one open asks for: path argument, dirfd argument, flags and mode.
fn request(notif: &Notif, pid: i32) -> Result<(u64, Option<u64>, u64, u64), i32> {
    let a = &notif.data.args;
    Ok(match notif.data.nr as u64 {
        nr::OPEN => (a[0], None, a[1], a[2]),
        nr::CREAT => (a[0], None, (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64, a[1]),
        nr::OPENAT => (a[1], Some(a[0]), a[2], a[3]),
        _ => {
            // openat2: flags, mode and resolve come in a struct; the guest's own resolve
            // restrictions only narrow what the host allows, so they are honoured too.
            if a[3] < 24 {
                return Err(EINVAL);
            }
            let how = crate::sys::read_guest_bytes(pid, a[2], 24).ok_or(EFAULT)?;
            let word = |i: usize| u64::from_le_bytes(how[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            (a[1], Some(a[0]), word(0), word(1))
        }
    })
}

fn decide(listener: &OwnedFd, policy: &Policy, notif: &Notif) -> Answer {
    let pid = notif.pid as i32;
    let (path_ptr, dirfd, flags, mode) = match request(notif, pid) {
        Ok(r) => r,
        Err(errno) => return Answer::Fail(errno),
    };
    let Some((bytes, truncated)) = crate::trace::read_guest_string(pid, path_ptr, 4096) else {
        return Answer::Fail(EFAULT);
    };
    // The notification must still be live: the pid may have died and been reused meanwhile.
    // SAFETY: ID_VALID reads a u64.
    if unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_ID_VALID, &notif.id as *const u64) } != 0 {
        return Answer::Fail(libc::ENOENT);
    }
    if truncated {
        return Answer::Fail(ENAMETOOLONG);
    }
    if bytes.is_empty() {
        return Answer::Fail(libc::ENOENT);
    }
    let nofollow = flags & libc::O_NOFOLLOW as u64 != 0 || flags & (libc::O_CREAT | libc::O_EXCL) as u64 == (libc::O_CREAT | libc::O_EXCL) as u64;
    let Some(target) = crate::confine::resolve_path(pid, dirfd, &bytes, !nofollow) else {
        return Answer::Fail(libc::ENOENT);
    };
    let access = crate::confine::access_from_open_flags(flags);
    let grant = policy.grants_for(&target, access).first().map(|g| g.path.clone());
    let Some(grant) = grant.or_else(|| crate::confine::own_proc_root(pid, &target, access)) else {
        let denial = crate::confine::denial_for(policy, &target, access, false);
        crate::log::denied(pid, notif.data.nr as u64, &notif.data.args, &denial.reason);
        return Answer::Fail(denial.errno);
    };
    // The kernel will not install an O_PATH file with ADDFD (it takes only files with content
    // access), and letting the guest's own call run would have the kernel re-read the path
    // from guest memory. open and openat with O_PATH never come here (the filter sends them
    // to the debugger, which pins the path); openat2's flags live in memory the filter cannot
    // see, so it is answered ENOSYS, which callers of openat2 take as "use openat".
    if flags & libc::O_PATH as u64 != 0 {
        crate::host_log!("trapbox: refused openat2 with O_PATH on {} (ENOSYS): under a policy, O_PATH opens go through openat", crate::log::path(&target));
        return Answer::Fail(libc::ENOSYS);
    }
    // Only a create uses the mode (and so the guest's umask, read from /proc); a file the
    // guest creates never gets the setuid or setgid bit (see crate::broker).
    let creates = flags & (libc::O_CREAT as u64 | crate::broker::O_TMPFILE_BIT) != 0;
    let mode = if creates { crate::broker::created_mode(pid, mode, &target) } else { mode };
    // With the guest thread's own credentials: after a privilege drop the kernel answers the
    // host's open exactly as it would the guest's.
    let file = match crate::creds::as_guest(pid, || crate::broker::open_beneath(&grant, &target, flags, mode)) {
        Ok(Ok(file)) => file,
        Ok(Err(errno)) | Err(errno) => return Answer::Fail(errno),
    };
    let addfd = NotifAddfd {
        id: notif.id,
        flags: ADDFD_FLAG_SEND,
        srcfd: file.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: (flags & libc::O_CLOEXEC as u64) as u32,
    };
    // SAFETY: ADDFD reads a seccomp_notif_addfd of exactly this layout; `file` is open.
    let remote = unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_ADDFD, &addfd as *const NotifAddfd) };
    if remote < 0 {
        return Answer::Fail(std::io::Error::last_os_error().raw_os_error().unwrap_or(EACCES));
    }
    Answer::Installed(i64::from(remote))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::evaluate;

    #[test]
    fn filter_routes_opens() {
        let prog = filter();
        let o_path = libc::O_PATH as u64;
        let run = |nr: u64, args: [u64; 6]| evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32, &args);
        assert_eq!(run(nr::OPEN, [0, 0, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::OPEN, [0, o_path, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "O_PATH goes on to the backstop");
        assert_eq!(run(nr::OPENAT, [0, 0, 0o101, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::OPENAT, [0, 0, o_path | 0o400000, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(run(nr::OPENAT2, [0, 0, 0, 24, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::CREAT, [0, 0o644, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(run(nr::READ, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(evaluate(&prog, 0x4000_0003, 5, &[0; 6]), SECCOMP_RET_KILL_PROCESS);
    }
}
