//! trapbox's init as the host's agent inside the guest's namespaces.
//!
//! Some files are the namespace's, not the filesystem's: `/proc/sys/kernel/msgmni` and the
//! other IPC, UTS and network settings show and change the namespaces of whoever *opens* them,
//! and `/proc/PID/uid_map` may be written only by an opener in the user namespace or its
//! parent. The host, in the host's namespaces, would open the host's (and is refused the
//! maps); and a mount is made in the mount namespace of whoever makes it. So the host asks
//! init, which lives in every namespace of the guest, is not confined by Landlock, and cannot
//! be traced, signalled or read by any guest process (it is PID 1 and not dumpable; see
//! [`crate::launch::launcher`]). For each request init forks a worker that joins the
//! caller's namespaces (the host passes their fds), takes the caller's credentials, does the
//! one thing asked (on a path the host has already decided, walked without following any
//! symlink) and sends back the result and, for an open, the fd.
//!
//! This module holds the request's wire format and init's side (raw calls only, like the
//! rest of init); the host's side is [`crate::perform::agent`].

/// Open `path` with `flags` and `mode`; the reply carries the fd.
pub const OP_OPEN: u32 = 1;
/// Mount a tmpfs on the directory `path` with `mount_flags` and the options in `data`.
pub const OP_MOUNT_TMPFS: u32 = 2;
/// Remount the mount `mount_id`, which must be the one on `path`, with `mount_flags` and `data`.
pub const OP_REMOUNT: u32 = 3;
/// Unmount the mount `mount_id`, which must be the one on `path`, with the umount2 `flags`.
pub const OP_UMOUNT: u32 = 4;
/// Change the propagation of the mount at `path` to `mount_flags` (shared, slave, private,
/// unbindable; recursively with MS_REC): it changes only how mounts spread among the guest's
/// own mount namespaces.
pub const OP_PROPAGATE: u32 = 5;

/// The most supplementary groups a request carries.
pub const MAX_GROUPS: usize = 64;
/// The most namespace fds a request carries (mount, IPC, UTS, network, PID for children).
pub const MAX_NAMESPACES: usize = 5;

/// One request, sent as its bytes in one `SOCK_SEQPACKET` message, the namespace fds beside
/// it (`SCM_RIGHTS`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub op: u32,
    /// open(2) flags, or umount2(2) flags.
    pub flags: u32,
    pub mode: u32,
    pub groups_len: u32,
    pub mount_flags: u64,
    /// For a remount or an unmount: the mount (`STATX_MNT_ID_UNIQUE`) that must be at `path`.
    pub mount_id: u64,
    pub uid: u32,
    pub gid: u32,
    /// The caller's effective capabilities, which become the worker's only ones.
    pub capabilities: u64,
    pub groups: [u32; MAX_GROUPS],
    /// NUL-terminated, absolute, as the guest's mount namespace names it.
    pub path: [u8; 4096],
    /// NUL-terminated mount options.
    pub data: [u8; 1024],
    /// NUL-terminated: the mount's source, as `/proc/mounts` will show it.
    pub source: [u8; 256],
}

/// The worker's answer: the call's result (or `-errno`) and, after a mount, the new mount's id.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Reply {
    pub result: i64,
    pub mount_id: u64,
}

impl Request {
    /// A zeroed request for `op`.
    pub fn new(op: u32) -> Request {
        // SAFETY: every field is an integer or an array of them; zero is valid for each.
        let mut request: Request = unsafe { std::mem::zeroed() };
        request.op = op;
        request
    }
}

/// Serves one request waiting on `socket` (init's end): receives it, forks the worker that
/// performs it and answers, and reaps that worker. Raw calls only; never returns an error
/// (a malformed request, which only the host could send, is dropped).
///
/// # Safety
/// In trapbox's init only, which owns `socket`, after the guest was forked.
pub unsafe fn serve(socket: libc::c_int) {
    // SAFETY: raw calls on init's own socket and on buffers on this stack; see the contract.
    unsafe {
        let mut request = Request::new(0);
        let mut fds = [-1 as libc::c_int; MAX_NAMESPACES];
        let got = receive(socket, &mut request, &mut fds);
        let well_formed = got == std::mem::size_of::<Request>() as isize;
        if well_formed {
            let worker = libc::fork();
            if worker == 0 {
                let reply = perform(&request, &fds);
                let opened = if request.op == OP_OPEN && reply.result >= 0 { reply.result as libc::c_int } else { -1 };
                answer(socket, &reply, opened);
                libc::_exit(0);
            }
            if worker < 0 {
                answer(socket, &Reply { result: -(libc::EAGAIN as i64), mount_id: 0 }, -1);
            } else {
                let mut status = 0;
                while libc::waitpid(worker, &mut status, libc::__WALL) < 0 && *libc::__errno_location() == libc::EINTR {}
            }
        } else if got == 0 {
            // The host closed its end: it is gone, and init with it (PR_SET_PDEATHSIG).
            libc::_exit(1);
        }
        for fd in fds {
            if fd >= 0 {
                libc::close(fd);
            }
        }
    }
}

/// Receives a request and up to [`MAX_NAMESPACES`] fds; the byte count, or -1.
unsafe fn receive(socket: libc::c_int, request: &mut Request, fds: &mut [libc::c_int; MAX_NAMESPACES]) -> isize {
    // SAFETY: recvmsg writes only into the buffers the header describes, all live locals; the
    // CMSG walk stays within the control length the kernel returned.
    unsafe {
        let mut iov = libc::iovec { iov_base: (request as *mut Request).cast(), iov_len: std::mem::size_of::<Request>() };
        let mut control = [0u64; 8];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let got = loop {
            let got = libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if got >= 0 || *libc::__errno_location() != libc::EINTR {
                break got;
            }
        };
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header) as *const libc::c_int;
                let count = ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<libc::c_int>();
                for (i, slot) in fds.iter_mut().enumerate().take(count) {
                    *slot = std::ptr::read_unaligned(data.add(i));
                }
                // More fds than a request carries: close the rest (only the host sends).
                for i in MAX_NAMESPACES..count {
                    libc::close(std::ptr::read_unaligned(data.add(i)));
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
        got as isize
    }
}

/// Sends `reply`, and the fd `opened` beside it if it is one.
unsafe fn answer(socket: libc::c_int, reply: &Reply, opened: libc::c_int) {
    // SAFETY: sendmsg reads only the buffers the header describes, all live locals.
    unsafe {
        let mut iov = libc::iovec { iov_base: (reply as *const Reply as *mut Reply).cast(), iov_len: std::mem::size_of::<Reply>() };
        let mut control = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if opened >= 0 {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) as usize;
            let header = libc::CMSG_FIRSTHDR(&msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(header) as *mut libc::c_int, opened);
        }
        libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL);
    }
}

/// `-errno` of the last failed call.
unsafe fn failed() -> i64 {
    // SAFETY: errno is this thread's.
    -(unsafe { *libc::__errno_location() } as i64)
}

/// The worker: joins the namespaces, takes the credentials, performs the request.
unsafe fn perform(request: &Request, namespaces: &[libc::c_int; MAX_NAMESPACES]) -> Reply {
    let fail = |result: i64| Reply { result, mount_id: 0 };
    // SAFETY: raw calls on integers and on the request's NUL-terminated buffers (each
    // terminated below before use), in a single-threaded forked worker.
    unsafe {
        for &fd in namespaces.iter().filter(|&&fd| fd >= 0) {
            if libc::setns(fd, 0) != 0 {
                return fail(failed());
            }
        }
        let groups = (request.groups_len as usize).min(MAX_GROUPS);
        // Groups only when they differ: a user namespace an unprivileged invoker maps denies
        // setgroups altogether, and there they are the same.
        let mut current_groups = [0u32; MAX_GROUPS];
        let current_len = libc::syscall(libc::SYS_getgroups, MAX_GROUPS, current_groups.as_mut_ptr());
        let same_groups = usize::try_from(current_len).is_ok_and(|n| n == groups && current_groups[..n] == request.groups[..n]);
        if (!same_groups && libc::syscall(libc::SYS_setgroups, groups, request.groups.as_ptr()) != 0)
            || libc::syscall(libc::SYS_setresgid, request.gid, request.gid, request.gid) != 0
            || libc::syscall(libc::SYS_setresuid, request.uid, request.uid, request.uid) != 0
        {
            return fail(failed());
        }
        // The caller's capabilities and no other (a uid change to non-root has already
        // cleared them all; capset can only lower them further).
        let header = [0x2008_0522u32, 0];
        let mut current = [0u32; 6];
        libc::syscall(libc::SYS_capget, header.as_ptr(), current.as_mut_ptr());
        let (low, high) = (request.capabilities as u32, (request.capabilities >> 32) as u32);
        let wanted = [low & current[1], low & current[1], 0, high & current[4], high & current[4], 0];
        if libc::syscall(libc::SYS_capset, header.as_ptr(), wanted.as_ptr()) != 0 {
            return fail(failed());
        }
        let mut path = request.path;
        path[path.len() - 1] = 0;
        let mut data = request.data;
        data[data.len() - 1] = 0;
        let how_no_symlinks = |flags: u64| OpenHow { flags, mode: u64::from(request.mode), resolve: libc::RESOLVE_NO_SYMLINKS };
        let open = |flags: u64| -> libc::c_int {
            let how = how_no_symlinks(flags | libc::O_CLOEXEC as u64);
            libc::syscall(libc::SYS_openat2, libc::AT_FDCWD, path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>()) as libc::c_int
        };
        match request.op {
            OP_OPEN => {
                let fd = open(u64::from(request.flags) & !(libc::O_PATH as u64));
                Reply { result: if fd < 0 { failed() } else { i64::from(fd) }, mount_id: 0 }
            }
            OP_MOUNT_TMPFS => {
                let target = open((libc::O_PATH | libc::O_DIRECTORY) as u64);
                if target < 0 {
                    return fail(failed());
                }
                let mut through = [0u8; 32];
                fd_path(target, &mut through);
                let options = if data[0] == 0 { std::ptr::null() } else { data.as_ptr().cast() };
                let mut source = request.source;
                source[source.len() - 1] = 0;
                let source = if source[0] == 0 { c"none".as_ptr() } else { source.as_ptr().cast() };
                if libc::mount(source, through.as_ptr().cast(), c"tmpfs".as_ptr(), request.mount_flags as libc::c_ulong, options) != 0 {
                    return fail(failed());
                }
                let mounted = open((libc::O_PATH | libc::O_DIRECTORY) as u64);
                Reply { result: 0, mount_id: mount_of(mounted, c"".as_ptr(), libc::AT_EMPTY_PATH).map_or(0, |(id, _)| id) }
            }
            OP_PROPAGATE => {
                let target = open(libc::O_PATH as u64);
                if target < 0 {
                    return fail(failed());
                }
                let mut through = [0u8; 32];
                fd_path(target, &mut through);
                let rc = libc::mount(std::ptr::null(), through.as_ptr().cast(), std::ptr::null(), request.mount_flags as libc::c_ulong, std::ptr::null());
                Reply { result: if rc != 0 { failed() } else { 0 }, mount_id: 0 }
            }
            OP_REMOUNT | OP_UMOUNT => {
                // The parent, walked without symlinks, and the last name, which the mount's
                // id must be on: no walk is left between the check and the call.
                let Some(slash) = path.iter().position(|&b| b == 0).and_then(|end| path[..end].iter().rposition(|&b| b == b'/')) else {
                    return fail(-(libc::EINVAL as i64));
                };
                let mut parent_path = path;
                parent_path[slash.max(1)] = 0;
                let how = how_no_symlinks((libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64);
                let parent = libc::syscall(libc::SYS_openat2, libc::AT_FDCWD, parent_path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>()) as libc::c_int;
                let name = path.as_ptr().add(slash + 1).cast::<libc::c_char>();
                match mount_of(parent, name, libc::AT_SYMLINK_NOFOLLOW) {
                    Some((id, true)) if id == request.mount_id => {}
                    Some(_) => return fail(-(libc::EINVAL as i64)),
                    None => return fail(failed()),
                }
                if libc::fchdir(parent) != 0 {
                    return fail(failed());
                }
                let rc = if request.op == OP_UMOUNT {
                    libc::umount2(name, request.flags as libc::c_int | libc::UMOUNT_NOFOLLOW)
                } else {
                    let options = if data[0] == 0 { std::ptr::null() } else { data.as_ptr().cast() };
                    libc::mount(std::ptr::null(), name, std::ptr::null(), request.mount_flags as libc::c_ulong, options)
                };
                Reply { result: if rc != 0 { failed() } else { 0 }, mount_id: request.mount_id }
            }
            _ => fail(-(libc::EINVAL as i64)),
        }
    }
}

/// The kernel's `struct open_how`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `/proc/self/fd/FD` into `out`, NUL-terminated.
fn fd_path(fd: libc::c_int, out: &mut [u8; 32]) {
    let prefix = b"/proc/self/fd/";
    out[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let (mut n, mut len) = (fd.max(0) as u32, 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        out[prefix.len() + i] = digits[len - 1 - i];
    }
    out[prefix.len() + len] = 0;
}

/// The mount id (`STATX_MNT_ID_UNIQUE`) of `name` at `dirfd`, and whether it is that mount's
/// root; `None` when statx fails.
unsafe fn mount_of(dirfd: libc::c_int, name: *const libc::c_char, flags: libc::c_int) -> Option<(u64, bool)> {
    // SAFETY: statx writes one struct statx into the zeroed local; `name` is NUL-terminated.
    unsafe {
        let mut info: libc::statx = std::mem::zeroed();
        if libc::statx(dirfd, name, flags, libc::STATX_MNT_ID_UNIQUE, &mut info) != 0 {
            return None;
        }
        Some((info.stx_mnt_id, info.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0))
    }
}
