//! The host's side of init's agent ([`crate::launch::agent`]): the opens and mounts that only
//! a process inside the guest's namespaces can make, asked of init for one guest thread, with
//! that thread's namespaces and credentials. The host has decided each one before it asks (a
//! path it resolved, a grant it found); init only carries it out where the host cannot.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use crate::launch::agent::{Reply, Request, MAX_GROUPS, OP_MOUNT_TMPFS, OP_OPEN, OP_PROPAGATE, OP_REMOUNT, OP_UMOUNT};
use crate::sys::Pid;

static AGENT: OnceLock<Mutex<OwnedFd>> = OnceLock::new();

/// Hands the host's end of init's socket to this module, once per run.
pub fn install(socket: OwnedFd) {
    let _ = AGENT.set(Mutex::new(socket));
}

/// Whether init serves as the agent (the guest has namespaces of its own).
pub fn available() -> bool {
    AGENT.get().is_some()
}

/// The namespaces of thread `tid` that a request is carried out in: the mount namespace (its
/// paths), and those whose files `/proc/sys` shows.
const NAMESPACES: [&str; 4] = ["mnt", "ipc", "uts", "net"];

/// A request for thread `tid`, filled with its credentials and `path`.
fn request_for(tid: Pid, op: u32, path: &Path) -> Result<Request, i32> {
    let mut request = Request::new(op);
    let credentials = crate::perform::creds::in_own_namespace(tid)?;
    request.uid = credentials.fsuid;
    request.gid = credentials.fsgid;
    request.capabilities = credentials.effective;
    if credentials.groups.len() > MAX_GROUPS {
        return Err(libc::EINVAL);
    }
    request.groups_len = credentials.groups.len() as u32;
    request.groups[..credentials.groups.len()].copy_from_slice(&credentials.groups);
    copy_terminated(&mut request.path, path.as_os_str().as_bytes())?;
    Ok(request)
}

/// Copies `bytes` into `field` with a NUL after them; `ENAMETOOLONG` if they do not fit.
fn copy_terminated(field: &mut [u8], bytes: &[u8]) -> Result<(), i32> {
    if bytes.len() >= field.len() || bytes.contains(&0) {
        return Err(libc::ENAMETOOLONG);
    }
    field[..bytes.len()].copy_from_slice(bytes);
    field[bytes.len()] = 0;
    Ok(())
}

/// Sends `request` for thread `tid` with its namespaces and waits for the answer; the reply,
/// and the fd that came with it.
fn call(tid: Pid, request: &Request) -> Result<(Reply, Option<OwnedFd>), i32> {
    let agent = AGENT.get().ok_or(libc::ENOSYS)?;
    // A namespace the guest shares with the host (the network, under --net all) is init's
    // already, and joining it would need the host's privileges over it: only the others.
    let own = |kind: &&&str| std::fs::read_link(format!("/proc/{tid}/ns/{kind}")).ok() != std::fs::read_link(format!("/proc/self/ns/{kind}")).ok();
    let namespaces: Vec<OwnedFd> = NAMESPACES
        .iter()
        .filter(own)
        .map(|kind| std::fs::File::open(format!("/proc/{tid}/ns/{kind}")).map(OwnedFd::from).map_err(|e| e.raw_os_error().unwrap_or(libc::ESRCH)))
        .collect::<Result<_, _>>()?;
    let raw: Vec<libc::c_int> = namespaces.iter().map(|fd| fd.as_raw_fd()).collect();
    let socket = agent.lock().unwrap_or_else(|e| e.into_inner());
    crate::sys::send_with_fds(socket.as_raw_fd(), as_bytes(request), &raw).map_err(|e| e.0)?;
    let mut reply = Reply::default();
    // SAFETY: Reply is plain integers; any bytes the worker wrote are a valid value.
    let reply_bytes = unsafe { std::slice::from_raw_parts_mut((&mut reply as *mut Reply).cast::<u8>(), std::mem::size_of::<Reply>()) };
    let received = crate::sys::receive_with_fd(socket.as_raw_fd(), reply_bytes).map_err(|e| e.0)?;
    if received.len != std::mem::size_of::<Reply>() {
        return Err(libc::EIO); // init died, or its worker did (a guest cannot kill either)
    }
    Ok((reply, received.fd))
}

fn as_bytes(request: &Request) -> &[u8] {
    // SAFETY: Request is plain integers and byte arrays (repr(C)); reading its bytes is sound.
    unsafe { std::slice::from_raw_parts((request as *const Request).cast::<u8>(), std::mem::size_of::<Request>()) }
}

/// Opens `path` (absolute, decided, walked without symlinks) with `flags` and `mode` as thread
/// `tid` would, inside its namespaces.
pub fn open(tid: Pid, path: &Path, flags: u64, mode: u64) -> Result<OwnedFd, i32> {
    let mut request = request_for(tid, OP_OPEN, path)?;
    request.flags = flags as u32;
    request.mode = mode as u32;
    match call(tid, &request)? {
        (reply, Some(fd)) if reply.result >= 0 => Ok(fd),
        (reply, _) if reply.result < 0 => Err(-reply.result as i32),
        _ => Err(libc::EIO),
    }
}

/// Mounts a tmpfs on the directory `target` in thread `tid`'s mount namespace; the new
/// mount's id.
pub fn mount_tmpfs(tid: Pid, target: &Path, flags: u64, source: &[u8], data: &[u8]) -> Result<u64, i32> {
    let mut request = request_for(tid, OP_MOUNT_TMPFS, target)?;
    request.mount_flags = flags;
    copy_terminated(&mut request.source, source).map_err(|_| libc::EINVAL)?;
    copy_terminated(&mut request.data, data).map_err(|_| libc::EINVAL)?;
    let (reply, _) = call(tid, &request)?;
    if reply.result < 0 {
        return Err(-reply.result as i32);
    }
    Ok(reply.mount_id)
}

/// Remounts (`umount` false) or unmounts the mount `mount_id`, which must be the one at
/// `target`, in thread `tid`'s mount namespace.
pub fn change_mount(tid: Pid, target: &Path, mount_id: u64, umount: Option<u32>, flags: u64, data: &[u8]) -> Result<(), i32> {
    let mut request = request_for(tid, if umount.is_some() { OP_UMOUNT } else { OP_REMOUNT }, target)?;
    request.mount_id = mount_id;
    request.flags = umount.unwrap_or(0);
    request.mount_flags = flags;
    copy_terminated(&mut request.data, data).map_err(|_| libc::EINVAL)?;
    let (reply, _) = call(tid, &request)?;
    if reply.result < 0 {
        return Err(-reply.result as i32);
    }
    Ok(())
}

/// Changes the propagation of the mount at `target` in thread `tid`'s mount namespace.
pub fn propagate(tid: Pid, target: &Path, flags: u64) -> Result<(), i32> {
    let mut request = request_for(tid, OP_PROPAGATE, target)?;
    request.mount_flags = flags;
    let (reply, _) = call(tid, &request)?;
    if reply.result < 0 {
        return Err(-reply.result as i32);
    }
    Ok(())
}
