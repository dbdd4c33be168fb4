//! Safe wrappers for the socket calls the host performs on its own duplicates of guest
//! sockets (`pidfd_getfd`): naming, listening and sending with the host's copies of the
//! bytes. Each returns the kernel's errno on failure.

use std::os::fd::{AsRawFd, OwnedFd};

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)
}

/// The address family of `socket` (`SO_DOMAIN`).
pub fn domain(socket: &OwnedFd) -> Result<i32, i32> {
    int_option(socket, libc::SO_DOMAIN)
}

/// The type of `socket` (`SO_TYPE`: `SOCK_STREAM`, `SOCK_DGRAM`…).
pub fn kind(socket: &OwnedFd) -> Result<i32, i32> {
    int_option(socket, libc::SO_TYPE)
}

/// An `int` socket option of level `SOL_SOCKET`.
fn int_option(socket: &OwnedFd, option: libc::c_int) -> Result<i32, i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for the kernel to fill in.
    let got = unsafe { libc::getsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, option, (&mut value as *mut libc::c_int).cast(), &mut len) };
    if got == 0 { Ok(value) } else { Err(last_errno()) }
}

/// The address `socket` is bound to (`getsockname`), at most 128 bytes.
pub fn local_name(socket: &OwnedFd) -> Result<Vec<u8>, i32> {
    let mut name = [0u8; 128];
    let mut len = name.len() as libc::socklen_t;
    // SAFETY: `name` has room for `len` bytes, which the kernel fills in.
    if unsafe { libc::getsockname(socket.as_raw_fd(), name.as_mut_ptr().cast(), &mut len) } != 0 {
        return Err(last_errno());
    }
    Ok(name[..(len as usize).min(name.len())].to_vec())
}

/// `listen(socket, backlog)`.
pub fn listen(socket: &OwnedFd, backlog: i32) -> Result<(), i32> {
    // SAFETY: `socket` is an open fd; listen reads no memory.
    if unsafe { libc::listen(socket.as_raw_fd(), backlog) } == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `sendto(socket, data, flags, to)`: the bytes sent, from host buffers.
pub fn send_to(socket: &OwnedFd, data: &[u8], flags: i32, to: Option<&[u8]>) -> Result<usize, i32> {
    let (addr, addr_len) = match to {
        Some(bytes) => (bytes.as_ptr().cast::<libc::sockaddr>(), bytes.len() as libc::socklen_t),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `data` and `addr` (or null with length 0) are host buffers of the given lengths.
    let sent = unsafe { libc::sendto(socket.as_raw_fd(), data.as_ptr().cast(), data.len(), flags, addr, addr_len) };
    usize::try_from(sent).map_err(|_| last_errno())
}

/// `connect(socket, address)`, from a host buffer.
pub fn connect(socket: &OwnedFd, address: &[u8]) -> Result<(), i32> {
    // SAFETY: `address` is a host buffer of the given length.
    let done = unsafe { libc::connect(socket.as_raw_fd(), address.as_ptr().cast(), address.len() as libc::socklen_t) };
    if done == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `bind(socket, address)`, from a host buffer.
pub fn bind(socket: &OwnedFd, address: &[u8]) -> Result<(), i32> {
    // SAFETY: `address` is a host buffer of the given length.
    let done = unsafe { libc::bind(socket.as_raw_fd(), address.as_ptr().cast(), address.len() as libc::socklen_t) };
    if done == 0 { Ok(()) } else { Err(last_errno()) }
}

/// Whether `socket`'s open file is non-blocking (`O_NONBLOCK`, which the guest's fd shares).
pub fn is_nonblocking(socket: &OwnedFd) -> bool {
    // SAFETY: F_GETFL takes no argument and reads no memory.
    let status = unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_GETFL) };
    status >= 0 && status & libc::O_NONBLOCK != 0
}

/// A socket call the host performs for a guest on its duplicate of the guest's socket that
/// may wait as long as it would natively — a connect to a listener whose backlog is full, a
/// datagram to a peer whose queue is full — so a host worker thread performs it while the
/// debugger serves the other guest threads ([`crate::trap::events`]); the guest's own
/// `SO_SNDTIMEO` bounds it as natively, and the host interrupts it when the guest thread gets
/// a signal or dies.
#[derive(Debug)]
pub struct WaitingCall {
    socket: OwnedFd,
    /// The host's copy of the destination.
    address: Vec<u8>,
    /// The fd the address names the socket file through, open until the call is done.
    _named_through: OwnedFd,
    kind: Waiting,
}

#[derive(Debug)]
enum Waiting {
    Connect,
    /// sendto of the host's copy of the data, with the guest's flags.
    Send { data: Vec<u8>, flags: i32 },
}

impl WaitingCall {
    /// `connect(socket, address)`.
    pub fn connect(socket: OwnedFd, address: Vec<u8>, named_through: OwnedFd) -> WaitingCall {
        WaitingCall { socket, address, _named_through: named_through, kind: Waiting::Connect }
    }

    /// `sendto(socket, data, flags, address)`.
    pub fn send(socket: OwnedFd, data: Vec<u8>, flags: i32, address: Vec<u8>, named_through: OwnedFd) -> WaitingCall {
        WaitingCall { socket, address, _named_through: named_through, kind: Waiting::Send { data, flags } }
    }

    /// Performs the call, waiting as long as it takes: the raw result for the guest. It waits
    /// in [`crate::perform::workers::syscall`], so that an interruption is never lost.
    pub fn perform(&self) -> u64 {
        use crate::perform::workers::syscall;
        let fd = self.socket.as_raw_fd() as u64;
        let (address, address_len) = (self.address.as_ptr() as u64, self.address.len() as u64);
        // SAFETY: `fd` is the host's open socket; the address and the data are host buffers of
        // the lengths passed, alive for the call.
        let raw = unsafe {
            match &self.kind {
                Waiting::Connect => syscall(libc::SYS_connect, [fd, address, address_len, 0, 0, 0]),
                Waiting::Send { data, flags } => syscall(libc::SYS_sendto, [fd, data.as_ptr() as u64, data.len() as u64, *flags as u32 as u64, address, address_len]),
            }
        };
        raw as u64
    }
}
