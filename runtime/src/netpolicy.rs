//! The network policy (`--net none|loopback|all`), decided on the host's own copy of every
//! address.
//!
//! `socket` is decided from its integer arguments. `connect`, `bind`, `sendto`, `sendmsg` and
//! `sendmmsg` carry a `sockaddr` in guest memory, which another guest thread could change
//! after a check; the debugger pins it first ([`crate::pinned`]), so the decision here and the
//! kernel both read the host's copy. IP destinations then run natively in the guest (blocking,
//! non-blocking and signal semantics unchanged). A unix socket path is a file: in every
//! network mode it needs a write grant, and the host performs the call itself on a duplicate
//! of the guest's socket (`pidfd_getfd`), naming the file through an fd it opened beneath the
//! grant. `--net none` allows only unix sockets, `--net loopback` adds IP to loopback
//! addresses and route netlink, `--net all` decides nothing but unix paths.

use std::os::fd::{AsRawFd, OwnedFd};

use trapbox_abi::errno::{EACCES, EFAULT, EINVAL};
use trapbox_abi::hostcall::ACCESS_WRITE;
use trapbox_abi::linux::nr;

use crate::policy::{NetMode, Policy};
use crate::sys::Pid;

const AF_UNIX: u64 = libc::AF_UNIX as u64;
const AF_INET: u64 = libc::AF_INET as u64;
const AF_INET6: u64 = libc::AF_INET6 as u64;
const AF_NETLINK: u64 = libc::AF_NETLINK as u64;
const SOCK_RAW: u64 = libc::SOCK_RAW as u64;
const NETLINK_ROUTE: u64 = libc::NETLINK_ROUTE as u64;
/// The most data a host-performed `sendto` copies (the guest sees a short write).
const SEND_CHUNK: usize = 64 * 1024;

/// The network policy's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum NetVerdict {
    /// Let the kernel run the call in the guest.
    Allow,
    /// Refuse with this errno; the reason goes to the log.
    Deny(i32, String),
    /// The host ran the call itself; this is the raw result for the guest.
    Done(u64),
}

fn deny(errno: i32, reason: impl Into<String>) -> NetVerdict {
    NetVerdict::Deny(errno, reason.into())
}

/// A socket address copied out of the guest.
struct Address {
    bytes: Vec<u8>,
}

impl Address {
    fn read(pid: Pid, addr: u64, len: u64) -> Result<Address, i32> {
        // The kernel's addrlen is an int: only the low 32 bits count.
        let len = usize::try_from(len as u32 as i32).map_err(|_| EINVAL)?;
        if !(2..=128).contains(&len) {
            return Err(EINVAL);
        }
        crate::sys::read_guest_bytes(pid, addr, len).map(|bytes| Address { bytes }).ok_or(EFAULT)
    }

    fn family(&self) -> u64 {
        u64::from(u16::from_le_bytes([self.bytes[0], self.bytes[1]]))
    }

    fn is_loopback(&self) -> bool {
        match (self.family(), self.bytes.len()) {
            (AF_INET, 8..) => self.bytes[4] == 127,
            (AF_INET6, 24..) => {
                let ip: [u8; 16] = self.bytes[8..24].try_into().expect("16 bytes");
                let v6 = std::net::Ipv6Addr::from(ip);
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            _ => false,
        }
    }

    /// The path of a unix socket address; `None` for an abstract or unnamed one.
    fn unix_path(&self) -> Option<&[u8]> {
        let path = self.bytes.get(2..)?;
        if path.first().is_none_or(|&b| b == 0) {
            return None;
        }
        Some(path.split(|&b| b == 0).next().unwrap_or(path))
    }
}

/// Whether this family may be used at all under `mode`.
fn family_allowed(mode: NetMode, family: u64) -> bool {
    match mode {
        NetMode::All => true,
        NetMode::Loopback => matches!(family, AF_UNIX | AF_INET | AF_INET6 | AF_NETLINK),
        NetMode::None => family == AF_UNIX,
    }
}

/// Decides a network call of thread `pid`.
pub fn check(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> NetVerdict {
    let mode = policy.net;
    if number == nr::SOCKET {
        let (family, kind, protocol) = (args[0], args[1] & 0xf, args[2]);
        if kind == SOCK_RAW && family != AF_NETLINK {
            return deny(EACCES, "raw sockets are never granted");
        }
        if family == AF_NETLINK && protocol != NETLINK_ROUTE && mode != NetMode::All {
            return deny(EACCES, "only NETLINK_ROUTE netlink sockets are granted below --net all");
        }
        return if family_allowed(mode, family) {
            NetVerdict::Allow
        } else {
            deny(EACCES, format!("address family {family} is not granted under --net {}", mode_name(mode)))
        };
    }
    // The address argument of each call, already pinned by the debugger ([`crate::pinned`]):
    // what is read here is what the kernel will read.
    let (addr_ptr, addr_len) = match number {
        nr::CONNECT | nr::BIND => (args[1], args[2]),
        nr::SENDTO => (args[4], args[5]),
        nr::SENDMSG => match msghdr_name(pid, args[1]) {
            Ok(name) => name,
            Err(errno) => return deny(errno, "unreadable msghdr"),
        },
        // The debugger runs a sendmmsg as a sendmsg of its first message; one that reaches
        // here had no message to send.
        _ => return NetVerdict::Allow,
    };
    if addr_ptr == 0 {
        return NetVerdict::Allow; // a connected socket: no address to decide
    }
    let address = match Address::read(pid, addr_ptr, addr_len) {
        Ok(address) => address,
        Err(errno) => return deny(errno, "unreadable socket address"),
    };
    match address.family() {
        // A path names a file: the filesystem policy decides it in every network mode.
        AF_UNIX => match address.unix_path() {
            Some(path) if number == nr::SENDMSG => deny(
                EACCES,
                format!("sendmsg to the unix socket path {} is not served; connect the socket first", crate::log::escape(path)),
            ),
            Some(path) => unix_path_call(policy, pid, number, args, path),
            None if address.bytes.len() <= 2 => NetVerdict::Allow, // unnamed: autobind
            None if mode == NetMode::All => NetVerdict::Allow,
            None => deny(EACCES, format!("abstract unix sockets are not granted under --net {}", mode_name(mode))),
        },
        _ if mode == NetMode::All => NetVerdict::Allow,
        AF_INET | AF_INET6 if mode == NetMode::Loopback && address.is_loopback() => NetVerdict::Allow,
        AF_INET | AF_INET6 => deny(
            EACCES,
            format!("{} is not a loopback address, and the policy is --net {}", crate::trace::format_sockaddr(pid, addr_ptr, addr_len), mode_name(mode)),
        ),
        family if family_allowed(mode, family) => NetVerdict::Allow,
        family => deny(EACCES, format!("address family {family} is not granted under --net {}", mode_name(mode))),
    }
}

fn mode_name(mode: NetMode) -> &'static str {
    match mode {
        NetMode::None => "none",
        NetMode::Loopback => "loopback",
        NetMode::All => "all",
    }
}

/// The `msg_name` pointer and length of the msghdr at `msghdr`.
fn msghdr_name(pid: Pid, msghdr: u64) -> Result<(u64, u64), i32> {
    let header = crate::sys::read_guest_bytes(pid, msghdr, 16).ok_or(EFAULT)?;
    let name = u64::from_le_bytes(header[0..8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    Ok((name, u64::from(len)))
}

/// connect, sendto or bind on a unix socket path: it needs a write grant (natively, connect
/// needs write permission on the socket file; bind creates one). The host performs the call
/// on a duplicate of the guest's socket, naming the file through an fd it opened beneath the
/// grant (`/proc/self/fd/N`, or `/proc/self/fd/N/name` for bind), so the kernel confines the
/// walk even if a symlink is swapped in after the check.
fn unix_path_call(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6], path: &[u8]) -> NetVerdict {
    let binds = number == nr::BIND;
    let Some(target) = crate::confine::resolve_path(pid, None, path, !binds) else {
        return deny(EACCES, "unix socket path cannot be resolved");
    };
    let Some(grant) = policy.grants_for(&target, ACCESS_WRITE).first().map(|g| g.path.clone()) else {
        return deny(EACCES, format!("unix socket {} is not granted write", crate::log::path(&target)));
    };
    // `held` keeps the fd the name goes through open until the call is done; `created` is
    // the name bind creates in it.
    let (held, mut text, created) = if binds {
        match crate::broker::name_beneath(policy, &target) {
            Ok(name) => (name.parent, Vec::new(), Some(name.name)),
            Err((errno, _)) if errno < 0 => return NetVerdict::Done(trapbox_abi::errno::encode_error(-errno)),
            Err((errno, reason)) => return deny(errno, reason),
        }
    } else {
        match crate::broker::open_beneath(&grant, &target, libc::O_PATH as u64, 0) {
            Ok(fd) => (fd, Vec::new(), None),
            Err(errno) => return NetVerdict::Done(trapbox_abi::errno::encode_error(errno)),
        }
    };
    text.extend_from_slice(format!("/proc/self/fd/{}", held.as_raw_fd()).as_bytes());
    if let Some(name) = &created {
        text.push(b'/');
        text.extend_from_slice(name.as_bytes());
    }
    let mut bytes = (libc::AF_UNIX as u16).to_le_bytes().to_vec();
    bytes.extend_from_slice(&text);
    bytes.push(0);
    if bytes.len() > std::mem::size_of::<libc::sockaddr_un>() {
        return NetVerdict::Done(trapbox_abi::errno::encode_error(trapbox_abi::errno::ENAMETOOLONG));
    }
    let verdict = perform(pid, number, args, &Address { bytes });
    if let (Some(name), NetVerdict::Done(0)) = (&created, &verdict) {
        // The host's umask is 0 (directfs); give the socket file the mode the guest's umask
        // would have given it.
        let mode = 0o777 & !crate::broker::guest_umask(pid);
        // SAFETY: an open directory fd and a NUL-terminated name.
        unsafe { libc::fchmodat(held.as_raw_fd(), name.as_ptr(), mode, 0) };
    }
    verdict
}

/// Runs connect, bind or sendto in the host on a duplicate of the guest's socket, with the
/// host's copies of the address and the data.
fn perform(pid: Pid, number: u64, args: &[u64; 6], address: &Address) -> NetVerdict {
    let socket = match crate::sys::take_fd(pid, args[0] as i32) {
        Ok(fd) => fd,
        Err(errno) => return NetVerdict::Done(trapbox_abi::errno::encode_error(errno.0)),
    };
    let addr = address.bytes.as_ptr().cast::<libc::sockaddr>();
    let addr_len = address.bytes.len() as libc::socklen_t;
    // The host must not block for long on the guest's behalf: bound a blocking connect or
    // send with a send timeout for the duration of the call, then restore the guest's own.
    let _bounded = SendTimeout::bound(&socket, HOST_CALL_TIMEOUT_SECS);
    let result = match number {
        // SAFETY: `socket` is an open fd; `addr` points to `addr_len` bytes the host owns.
        nr::CONNECT => unsafe { libc::connect(socket.as_raw_fd(), addr, addr_len) as isize },
        // SAFETY: as above.
        nr::BIND => unsafe { libc::bind(socket.as_raw_fd(), addr, addr_len) as isize },
        _ => {
            let len = usize::try_from(args[2]).unwrap_or(usize::MAX).min(SEND_CHUNK);
            let Some(data) = crate::sys::read_guest_bytes(pid, args[1], len) else {
                return NetVerdict::Done(trapbox_abi::errno::encode_error(EFAULT));
            };
            // SAFETY: `data` and `addr` are host buffers of the given lengths.
            unsafe { libc::sendto(socket.as_raw_fd(), data.as_ptr().cast(), len, args[3] as i32, addr, addr_len) }
        }
    };
    if result < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(EINVAL);
        NetVerdict::Done(trapbox_abi::errno::encode_error(errno))
    } else {
        NetVerdict::Done(result as u64)
    }
}

/// How long a host-performed connect or send may block.
const HOST_CALL_TIMEOUT_SECS: i64 = 5;

/// A socket's `SO_SNDTIMEO`, lowered for one host-performed call and restored on drop.
struct SendTimeout<'a> {
    socket: &'a OwnedFd,
    saved: Option<libc::timeval>,
}

impl<'a> SendTimeout<'a> {
    fn bound(socket: &'a OwnedFd, seconds: i64) -> SendTimeout<'a> {
        let mut saved = libc::timeval { tv_sec: 0, tv_usec: 0 };
        let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        let fd = socket.as_raw_fd();
        // SAFETY: `saved` and `len` are valid for the kernel to fill in.
        let got = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, (&mut saved as *mut libc::timeval).cast(), &mut len) };
        let bounded = libc::timeval { tv_sec: seconds, tv_usec: 0 };
        let keep = got == 0 && (saved.tv_sec != 0 || saved.tv_usec != 0) && saved.tv_sec < seconds;
        if got == 0 && !keep {
            // SAFETY: `bounded` is a valid timeval of the given size.
            unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, (&bounded as *const libc::timeval).cast(), len) };
        }
        SendTimeout { socket, saved: (got == 0 && !keep).then_some(saved) }
    }
}

impl Drop for SendTimeout<'_> {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            let len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
            // SAFETY: restores the timeval read in `bound`.
            unsafe { libc::setsockopt(self.socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDTIMEO, (&saved as *const libc::timeval).cast(), len) };
        }
    }
}
