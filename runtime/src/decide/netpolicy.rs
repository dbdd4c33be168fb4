//! The network policy (`--net none|loopback|all`), decided on the host's own copy of every
//! address.
//!
//! `socket` is decided from its integer arguments. `connect`, `bind`, `sendto`, `sendmsg` and
//! `sendmmsg` carry a `sockaddr` in guest memory, which another guest thread could change
//! after a check; the debugger pins it first ([`crate::trap::pinned`]), so the decision here and the
//! kernel both read the host's copy. IP destinations then run natively in the guest (blocking,
//! non-blocking and signal semantics unchanged). A unix socket path is a file: in every
//! network mode it needs a write grant, and the host performs the call itself on a duplicate
//! of the guest's socket (`pidfd_getfd`), naming the file through an fd it opened beneath the
//! grant — a connect or send that may wait on a host worker thread ([`NetVerdict::Perform`]). `--net none` allows only unix sockets, `--net loopback` adds IP to loopback
//! addresses and route netlink, `--net all` decides nothing but unix paths.
//!
//! Under `--net loopback` two more calls are the host's: `listen` (an unbound inet socket
//! would be bound to every address; the host listens on its duplicate of a socket bound to
//! loopback) and sends on a route-netlink socket (only read-only `RTM_GET*` queries to the
//! kernel, checked on the host's copy and sent by the host). Socket options are decided in
//! every mode on the allow-list of [`crate::decide::requests::setsockopt`]. Integer arguments
//! (domain, type, protocol, fds, flags, backlog) are read at the kernel's width
//! ([`crate::decide::requests::int_arg`]).

use std::os::fd::{AsRawFd, OwnedFd};

use trapbox_abi::errno::{EACCES, EFAULT, EINVAL, EPERM};
use trapbox_abi::hostcall::ACCESS_WRITE;
use trapbox_abi::linux::nr;

use crate::decide::policy::{NetMode, Policy};
use crate::decide::requests::int_arg;
use crate::sys::Pid;

const AF_UNIX: i32 = libc::AF_UNIX;
const AF_INET: i32 = libc::AF_INET;
const AF_INET6: i32 = libc::AF_INET6;
const AF_NETLINK: i32 = libc::AF_NETLINK;
const AF_PACKET: i32 = libc::AF_PACKET;
const SOCK_RAW: i32 = libc::SOCK_RAW;
/// The bits of socket's `type` that name the type (the rest are SOCK_NONBLOCK/SOCK_CLOEXEC).
const SOCK_TYPE_MASK: i32 = 0xf;
const NETLINK_ROUTE: i32 = libc::NETLINK_ROUTE;
/// The most data a host-performed `sendto` copies (the guest sees a short write).
const SEND_CHUNK: usize = 64 * 1024;

/// The network policy's answer.
#[derive(Debug)]
pub enum NetVerdict {
    /// Let the kernel run the call in the guest.
    Allow,
    /// Refuse with this errno; the reason goes to the log.
    Deny(i32, String),
    /// The host ran the call itself; this is the raw result for the guest.
    Done(u64),
    /// The host performs this call, which may wait, on a worker thread.
    Perform(Box<crate::perform::sockets::WaitingCall>),
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

    fn family(&self) -> i32 {
        i32::from(u16::from_le_bytes([self.bytes[0], self.bytes[1]]))
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

    /// The address for a log line (`127.0.0.1:80`, `[::]:0`).
    fn describe(&self) -> String {
        let port = || self.bytes.get(2..4).map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
        match (self.family(), self.bytes.len()) {
            (AF_INET, 8..) => format!("{}:{}", std::net::Ipv4Addr::new(self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]), port()),
            (AF_INET6, 24..) => {
                let ip: [u8; 16] = self.bytes[8..24].try_into().unwrap_or([0; 16]);
                format!("[{}]:{}", std::net::Ipv6Addr::from(ip), port())
            }
            (family, _) => format!("an address of family {family}"),
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
fn family_allowed(mode: NetMode, family: i32) -> bool {
    match mode {
        NetMode::All => true,
        NetMode::Loopback => matches!(family, AF_UNIX | AF_INET | AF_INET6 | AF_NETLINK),
        NetMode::None => family == AF_UNIX,
    }
}

/// Decides a network call of thread `pid`.
pub fn check(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> NetVerdict {
    let mode = policy.net;
    if number == nr::SETSOCKOPT {
        return match crate::decide::requests::setsockopt(args, mode == NetMode::All) {
            Ok(()) => NetVerdict::Allow,
            Err((errno, why)) => NetVerdict::Deny(errno, why.into_owned()),
        };
    }
    if number == nr::LISTEN {
        return if mode == NetMode::Loopback { listen_on_loopback(pid, args) } else { NetVerdict::Allow };
    }
    if number == nr::SOCKET {
        // domain, type and protocol are ints.
        let (family, kind, protocol) = (int_arg(args, 0), int_arg(args, 1) & SOCK_TYPE_MASK, int_arg(args, 2));
        // A unix socket of type SOCK_RAW is a datagram socket (the kernel makes it one). Raw
        // and packet sockets get what an unprivileged program gets natively, EPERM: the
        // guest has no CAP_NET_RAW over the host's network.
        if kind == SOCK_RAW && family != AF_NETLINK && family != AF_UNIX {
            return deny(EPERM, "raw sockets are never granted");
        }
        if family == AF_PACKET {
            return deny(EPERM, "packet sockets are never granted");
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
    // Route netlink is granted for queries only: the host reads the messages once, checks
    // them and sends its own copy.
    if mode == NetMode::Loopback && matches!(number, nr::SENDTO | nr::SENDMSG | nr::SENDMMSG) {
        if let Some(socket) = netlink_socket(pid, args) {
            return netlink_send(pid, number, args, &socket);
        }
    }
    // The address argument of each call, already pinned by the debugger ([`crate::trap::pinned`]):
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
    // A stream or seqpacket socket never looks a send's address up (EISCONN, EOPNOTSUPP, or
    // the connected peer): the host sends on its duplicate, the socket it looked at, and the
    // kernel's answer reaches no file.
    if address.family() == AF_UNIX && matches!(number, nr::SENDTO | nr::SENDMSG) {
        if let Some(socket) = connection_socket(pid, args) {
            return match socket.try_clone() {
                Ok(held) => perform(pid, number, args, socket, address, held),
                Err(err) => NetVerdict::Done(trapbox_abi::errno::encode_error(err.raw_os_error().unwrap_or(libc::EMFILE))),
            };
        }
    }
    match address.family() {
        // A path names a file: the filesystem policy decides it in every network mode.
        // A unix address longer than the structure is the kernel's EINVAL.
        AF_UNIX if addr_len > std::mem::size_of::<libc::sockaddr_un>() as u64 => NetVerdict::Done(trapbox_abi::errno::encode_error(libc::EINVAL)),
        AF_UNIX => match address.unix_path() {
            Some(path) => unix_path_call(policy, pid, number, args, path),
            None if address.bytes.len() <= 2 => NetVerdict::Allow, // unnamed: autobind
            None if mode == NetMode::All => NetVerdict::Allow,
            None => deny(EACCES, format!("abstract unix sockets are not granted under --net {}", mode_name(mode))),
        },
        _ if mode == NetMode::All => NetVerdict::Allow,
        AF_INET | AF_INET6 if mode == NetMode::Loopback && address.is_loopback() => NetVerdict::Allow,
        AF_INET | AF_INET6 => deny(
            EACCES,
            format!("{} is not a loopback address, and the policy is --net {}", crate::report::trace::format_sockaddr(pid, addr_ptr, addr_len), mode_name(mode)),
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

/// listen under `--net loopback`: natively, listen on an unbound inet socket binds it to
/// every address, so a socket must be bound to a loopback address first. The host checks the
/// name of its duplicate of the socket and listens on that duplicate itself, so a racing
/// `dup2` cannot put an unbound socket behind the number after the check.
fn listen_on_loopback(pid: Pid, args: &[u64; 6]) -> NetVerdict {
    let socket = match crate::sys::take_fd(pid, int_arg(args, 0)) {
        Ok(fd) => fd,
        Err(errno) => return NetVerdict::Done(trapbox_abi::errno::encode_error(errno.0)),
    };
    let bound = match crate::perform::sockets::local_name(&socket) {
        Ok(bytes) => Address { bytes },
        Err(errno) => return NetVerdict::Done(trapbox_abi::errno::encode_error(errno)),
    };
    if bound.bytes.len() >= 2 && matches!(bound.family(), AF_INET | AF_INET6) && !bound.is_loopback() {
        return deny(
            EACCES,
            format!(
                "listen on a socket bound to {} would accept connections from other hosts under --net loopback (bind it to a loopback address first)",
                bound.describe()
            ),
        );
    }
    match crate::perform::sockets::listen(&socket, int_arg(args, 1)) {
        Ok(()) => NetVerdict::Done(0),
        Err(errno) => NetVerdict::Done(trapbox_abi::errno::encode_error(errno)),
    }
}

/// The host's duplicate of the guest's socket behind argument 0, when it is a unix stream or
/// seqpacket socket.
fn connection_socket(pid: Pid, args: &[u64; 6]) -> Option<OwnedFd> {
    let socket = crate::sys::take_fd(pid, int_arg(args, 0)).ok()?;
    let unix = crate::perform::sockets::domain(&socket) == Ok(AF_UNIX);
    let connection = crate::perform::sockets::kind(&socket).is_ok_and(|kind| kind == libc::SOCK_STREAM || kind == libc::SOCK_SEQPACKET);
    (unix && connection).then_some(socket)
}

/// The guest's socket behind argument 0 of a send call, when it is a netlink socket.
fn netlink_socket(pid: Pid, args: &[u64; 6]) -> Option<OwnedFd> {
    let socket = crate::sys::take_fd(pid, int_arg(args, 0)).ok()?;
    (crate::perform::sockets::domain(&socket) == Ok(AF_NETLINK)).then_some(socket)
}

/// The most bytes of netlink messages one send may carry (queries are a few dozen bytes).
const NETLINK_MAX: usize = 64 * 1024;
/// The most iovecs a sendmsg may have (the kernel's UIO_MAXIOV).
const UIO_MAXIOV: u64 = 1024;
const NLMSG_HDRLEN: usize = 16;
const NLM_F_REQUEST: u16 = 1;

/// The route-netlink message types that only read (the `RTM_GET*` family the kernel serves
/// without `CAP_NET_ADMIN`), and the others by name for the log.
const RTM_TYPES: &[(&str, u16, bool)] = &[
    ("RTM_NEWLINK", 16, false),
    ("RTM_DELLINK", 17, false),
    ("RTM_GETLINK", 18, true),
    ("RTM_SETLINK", 19, false),
    ("RTM_NEWADDR", 20, false),
    ("RTM_DELADDR", 21, false),
    ("RTM_GETADDR", 22, true),
    ("RTM_NEWROUTE", 24, false),
    ("RTM_DELROUTE", 25, false),
    ("RTM_GETROUTE", 26, true),
    ("RTM_NEWNEIGH", 28, false),
    ("RTM_DELNEIGH", 29, false),
    ("RTM_GETNEIGH", 30, true),
    ("RTM_NEWRULE", 32, false),
    ("RTM_DELRULE", 33, false),
    ("RTM_GETRULE", 34, true),
    ("RTM_GETQDISC", 38, true),
    ("RTM_GETTCLASS", 42, true),
    ("RTM_GETTFILTER", 46, true),
    ("RTM_GETMULTICAST", 58, true),
    ("RTM_GETANYCAST", 62, true),
    ("RTM_GETNEIGHTBL", 66, true),
    ("RTM_GETADDRLABEL", 74, true),
    ("RTM_GETNETCONF", 82, true),
    ("RTM_GETMDB", 86, true),
    ("RTM_GETNSID", 90, true),
    ("RTM_GETSTATS", 94, true),
    ("RTM_GETNEXTHOP", 106, true),
    ("RTM_GETVLAN", 114, true),
];

/// Checks every message in `data` the way the kernel walks them (`netlink_rcv_skb`): each
/// must be a read-only route query with `NLM_F_REQUEST`. Where the kernel stops (a length
/// below the header or beyond the data), so does the check.
fn netlink_queries_only(data: &[u8]) -> Result<(), String> {
    let mut rest = data;
    while rest.len() >= NLMSG_HDRLEN {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = u16::from_le_bytes([rest[4], rest[5]]);
        let flags = u16::from_le_bytes([rest[6], rest[7]]);
        if len < NLMSG_HDRLEN || len > rest.len() {
            break;
        }
        let known = RTM_TYPES.iter().find(|(_, code, _)| *code == kind);
        let name = known.map_or_else(|| format!("type {kind}"), |(name, code, _)| format!("{name} ({code})"));
        if !known.is_some_and(|(_, _, reads)| *reads) {
            return Err(format!("netlink message {name} is not a read-only route query"));
        }
        if flags & NLM_F_REQUEST == 0 {
            return Err(format!("netlink message {name} lacks NLM_F_REQUEST (flags {flags:#x})"));
        }
        let step = len.next_multiple_of(4).min(rest.len());
        rest = &rest[step..];
    }
    Ok(())
}

/// A send on a netlink socket: the host reads the data (and destination) once, lets through
/// only read-only route queries addressed to the kernel, and sends its own copy on its
/// duplicate of the socket, so another thread cannot change the messages after the check.
fn netlink_send(pid: Pid, number: u64, args: &[u64; 6], socket: &OwnedFd) -> NetVerdict {
    let (data, destination, flags) = match number {
        nr::SENDTO => {
            let len = usize::try_from(args[2]).unwrap_or(usize::MAX);
            if len > NETLINK_MAX {
                return deny(libc::EMSGSIZE, format!("netlink messages of {len} bytes are more than the host checks ({NETLINK_MAX})"));
            }
            let Some(data) = crate::sys::read_guest_bytes(pid, args[1], len) else { return deny(EFAULT, "unreadable netlink message") };
            let destination = match args[4] {
                0 => None,
                addr => match Address::read(pid, addr, args[5]) {
                    Ok(address) => Some(address),
                    Err(errno) => return deny(errno, "unreadable netlink address"),
                },
            };
            (data, destination, int_arg(args, 3))
        }
        nr::SENDMSG => match gather_msghdr(pid, args[1]) {
            Ok((data, destination)) => (data, destination, int_arg(args, 2)),
            Err((errno, why)) => return deny(errno, why),
        },
        _ => return deny(EINVAL, "sendmmsg on a netlink socket is not served; use sendmsg"),
    };
    if let Some(address) = &destination {
        let to_kernel = address.family() == AF_NETLINK && address.bytes.len() >= 12 && address.bytes[4..12] == [0; 8];
        if !to_kernel {
            return deny(EACCES, "netlink messages may go to the kernel only (nl_pid 0, no groups)");
        }
    }
    if let Err(why) = netlink_queries_only(&data) {
        return deny(EPERM, why);
    }
    match crate::perform::sockets::send_to(socket, &data, flags, destination.as_ref().map(|a| a.bytes.as_slice())) {
        Ok(sent) => NetVerdict::Done(sent as u64),
        Err(errno) => NetVerdict::Done(trapbox_abi::errno::encode_error(errno)),
    }
}

/// The data and destination of the msghdr at `msghdr`, copied once: the iovecs concatenated.
/// Control messages are refused (route queries carry none).
fn gather_msghdr(pid: Pid, msghdr: u64) -> Result<(Vec<u8>, Option<Address>), (i32, String)> {
    let word = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let header = crate::sys::read_guest_bytes(pid, msghdr, std::mem::size_of::<libc::msghdr>()).ok_or((EFAULT, "unreadable msghdr".to_string()))?;
    let (name, name_len) = (word(&header, 0), u64::from(u32::from_le_bytes(header[8..12].try_into().unwrap_or([0; 4]))));
    let (iov, iov_len, control_len) = (word(&header, 16), word(&header, 24), word(&header, 40));
    if control_len != 0 {
        return Err((EINVAL, "control messages on a netlink socket are not served".to_string()));
    }
    if iov_len > UIO_MAXIOV {
        return Err((libc::EMSGSIZE, format!("{iov_len} iovecs are more than the kernel takes")));
    }
    let iovecs = crate::sys::read_guest_bytes(pid, iov, 16 * iov_len as usize).ok_or((EFAULT, "unreadable iovecs".to_string()))?;
    let mut data = Vec::new();
    for entry in iovecs.chunks_exact(16) {
        let (base, len) = (word(entry, 0), word(entry, 8));
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > NETLINK_MAX - data.len() {
            return Err((libc::EMSGSIZE, format!("netlink messages of more than {NETLINK_MAX} bytes are more than the host checks")));
        }
        data.extend(crate::sys::read_guest_bytes(pid, base, len).ok_or((EFAULT, "unreadable netlink message".to_string()))?);
    }
    let destination = match name {
        0 => None,
        addr => Some(Address::read(pid, addr, name_len).map_err(|errno| (errno, "unreadable netlink address".to_string()))?),
    };
    Ok((data, destination))
}

/// The `msg_name` pointer and length of the msghdr at `msghdr`.
/// The host's copy of the data a sendto or a sendmsg to a unix socket path sends (at most
/// [`SEND_CHUNK`] bytes: a partial send, as a full socket buffer gives), and its flags. A
/// sendmsg's iovecs are gathered into one buffer; one with control messages (fds, credentials)
/// is refused, since the host would send them as its own.
fn outgoing(pid: Pid, number: u64, args: &[u64; 6]) -> Result<(Vec<u8>, i32), NetVerdict> {
    let fault = || NetVerdict::Done(trapbox_abi::errno::encode_error(EFAULT));
    if number != nr::SENDMSG {
        let len = usize::try_from(args[2]).unwrap_or(usize::MAX).min(SEND_CHUNK);
        let data = crate::sys::read_guest_bytes(pid, args[1], len).ok_or_else(fault)?;
        return Ok((data, int_arg(args, 3)));
    }
    // struct msghdr: name, namelen (+4), iov, iovlen, control, controllen, flags.
    let header = crate::sys::read_guest_bytes(pid, args[1], 56).ok_or_else(fault)?;
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]));
    let (iov, iovlen, controllen) = (word(16), word(24), word(40));
    if controllen != 0 {
        return Err(deny(EACCES, "sendmsg with control messages to a unix socket path is not served; connect the socket first"));
    }
    const UIO_MAXIOV: u64 = 1024;
    if iovlen > UIO_MAXIOV {
        return Err(NetVerdict::Done(trapbox_abi::errno::encode_error(libc::EMSGSIZE)));
    }
    let vectors = crate::sys::read_guest_bytes(pid, iov, iovlen as usize * 16).ok_or_else(fault)?;
    let mut data = Vec::new();
    for vector in vectors.chunks_exact(16) {
        let base = u64::from_le_bytes(vector[0..8].try_into().unwrap_or([0; 8]));
        let len = u64::from_le_bytes(vector[8..16].try_into().unwrap_or([0; 8]));
        let room = SEND_CHUNK - data.len();
        let take = usize::try_from(len).unwrap_or(usize::MAX).min(room);
        if take > 0 {
            data.extend_from_slice(&crate::sys::read_guest_bytes(pid, base, take).ok_or_else(fault)?);
        }
        if data.len() == SEND_CHUNK {
            break;
        }
    }
    Ok((data, int_arg(args, 2)))
}

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
    let Some(target) = crate::decide::confine::resolve_path(pid, None, path, !binds) else {
        return deny(EACCES, "unix socket path cannot be resolved");
    };
    let Some(grant) = policy.grants_for(&target, ACCESS_WRITE).first().map(|g| g.path.clone()) else {
        return deny(EACCES, format!("unix socket {} is not granted write", crate::report::log::path(&target)));
    };
    // `held` keeps the fd the name goes through open until the call is done; `created` is
    // the name bind creates in it.
    let (held, mut text, created) = if binds {
        match crate::perform::broker::name_beneath(policy, &target) {
            Ok(name) => (name.parent, Vec::new(), Some(name.name)),
            Err((errno, _)) if errno < 0 => return NetVerdict::Done(trapbox_abi::errno::encode_error(-errno)),
            Err((errno, reason)) => return deny(errno, reason),
        }
    } else {
        match crate::perform::broker::open_beneath(&grant, &target, libc::O_PATH as u64, 0) {
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
    let socket = match crate::sys::take_fd(pid, args[0] as i32) {
        Ok(fd) => fd,
        Err(errno) => return NetVerdict::Done(trapbox_abi::errno::encode_error(errno.0)),
    };
    let Some(name) = created else { return perform(pid, number, args, socket, Address { bytes }, held) };
    let bound = crate::perform::sockets::bind(&socket, &bytes);
    if bound.is_ok() {
        // The host's umask is 0 (directfs); give the socket file the mode the guest's umask
        // would have given it.
        let mode = 0o777 & !crate::perform::broker::guest_umask(pid);
        // SAFETY: an open directory fd and a NUL-terminated name.
        unsafe { libc::fchmodat(held.as_raw_fd(), name.as_ptr(), mode, 0) };
    }
    NetVerdict::Done(bound.map_or_else(trapbox_abi::errno::encode_error, |()| 0))
}

/// Runs connect or sendto in the host on its duplicate `socket` of the guest's, with the
/// host's copies of the address and the data, naming the socket file through `held`. A call
/// that may wait — a connect on a blocking socket (it waits while the listener's backlog is
/// full), a send on one that finds the peer's queue full — is handed to a worker thread
/// ([`NetVerdict::Perform`]), so the host never waits for it itself.
fn perform(pid: Pid, number: u64, args: &[u64; 6], socket: OwnedFd, address: Address, held: OwnedFd) -> NetVerdict {
    use crate::perform::sockets::{self, WaitingCall};
    let result = match number {
        nr::CONNECT if sockets::is_nonblocking(&socket) => sockets::connect(&socket, &address.bytes).map(|()| 0),
        nr::CONNECT => return NetVerdict::Perform(Box::new(WaitingCall::connect(socket, address.bytes, held))),
        _ => {
            let (data, flags) = match outgoing(pid, number, args) {
                Ok(outgoing) => outgoing,
                Err(verdict) => return verdict,
            };
            // Sent at once if the peer has room; otherwise it waits where the guest's would.
            match sockets::send_to(&socket, &data, flags | libc::MSG_DONTWAIT, Some(&address.bytes)) {
                Err(libc::EAGAIN) if flags & libc::MSG_DONTWAIT == 0 && !sockets::is_nonblocking(&socket) => {
                    return NetVerdict::Perform(Box::new(WaitingCall::send(socket, data, flags, address.bytes, held)));
                }
                sent => sent.map(|n| n as u64),
            }
        }
    };
    NetVerdict::Done(result.unwrap_or_else(trapbox_abi::errno::encode_error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, flags: u16, len: u32) -> Vec<u8> {
        let mut m = len.to_le_bytes().to_vec();
        m.extend(kind.to_le_bytes());
        m.extend(flags.to_le_bytes());
        m.extend([0; 8]);
        m.resize(len.max(16) as usize, 0);
        m
    }

    /// Every message the kernel would act on is checked, and the walk stops where the
    /// kernel's does.
    #[test]
    fn netlink_messages_are_walked_as_the_kernel_walks_them() {
        let dump = message(18, NLM_F_REQUEST | 0x300, 17); // RTM_GETLINK, NLM_F_DUMP, padded to 20
        assert_eq!(netlink_queries_only(&dump), Ok(()));
        let mut batch = dump.clone();
        batch.resize(20, 0);
        batch.extend(message(20, NLM_F_REQUEST, 24)); // RTM_NEWADDR after it
        assert!(netlink_queries_only(&batch).unwrap_err().contains("RTM_NEWADDR (20)"));
        assert!(netlink_queries_only(&message(18, 0, 16)).unwrap_err().contains("NLM_F_REQUEST"));
        assert!(netlink_queries_only(&message(3, NLM_F_REQUEST, 16)).is_err(), "control messages are not queries");
        // A length the kernel stops at (below the header, beyond the data): nothing after it runs.
        let mut stops = message(18, NLM_F_REQUEST, 16);
        stops[0..4].copy_from_slice(&8u32.to_le_bytes());
        stops.extend(message(20, NLM_F_REQUEST, 16));
        assert_eq!(netlink_queries_only(&stops), Ok(()));
        assert_eq!(netlink_queries_only(&[0xff; 7]), Ok(()), "shorter than a header: the kernel ignores it");
    }
}
