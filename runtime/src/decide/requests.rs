//! Calls that take a request code — `ioctl`, `fcntl`, `setsockopt`, `prctl` — decoded as the
//! kernel decodes them and decided on allow-lists; what is not listed is refused and logged.
//!
//! Width first: a register holds 64 bits, but the kernel reads an `int` or `unsigned int`
//! argument as its low 32 bits (`ioctl`'s `cmd`, `fcntl`'s `cmd`, `prctl`'s `option`,
//! `setsockopt`'s `level` and `optname`, `socket`'s `domain`, `type` and `protocol`, fds and
//! pids). Every decision here and in [`crate::decide::netpolicy`] reads such an argument through
//! [`int_arg`] or [`uint_arg`], never as `args[n]`, so `(1 << 32) | TIOCSTI` is `TIOCSTI`.
//! The backstop's argument tests ([`crate::launch::seccomp`]) load the same low words from the same
//! lists ([`IOCTL_NATIVE`], [`FCNTL_NATIVE`], [`SETSOCKOPT_NATIVE`]).
//!
//! Then the allow-lists. An ioctl request means something only to the code behind the fd, so
//! its list is per kind of fd (terminal, socket, file): the host looks the kind up (one
//! `stat` of `/proc/PID/fd/N`) only for requests whose number alone does not decide. The kind
//! is read before the kernel runs the call, so a racing `dup2` can put another fd behind the
//! number; every listed request is therefore harmless on every kind of fd a guest can hold
//! (the kernel answers `ENOTTY` where the driver does not implement it), and the kind only
//! gives the refusal its errno and its sentence.

use std::borrow::Cow;

use crate::decode::syscalls::Arg;

use trapbox_abi::errno::{EBADF, EINVAL, EPERM};

/// "Inappropriate ioctl for device": what the kernel answers for a request the fd's code does
/// not implement.
const ENOTTY: i32 = libc::ENOTTY;
/// "Protocol not available": what the kernel answers for a socket option it does not know.
const ENOPROTOOPT: i32 = libc::ENOPROTOOPT;

/// Argument `index` as the kernel reads an `int` (fds, pids, commands, options): its low 32
/// bits, signed.
pub fn int_arg(args: &[u64; 6], index: usize) -> i32 {
    args[index] as u32 as i32
}

/// Argument `index` as the kernel reads a request code or flag word ([`Arg::Flags`], ioctl's
/// `cmd`): its low 32 bits.
pub fn uint_arg(args: &[u64; 6], index: usize) -> u32 {
    Arg::Flags.read(args[index]) as u32
}

/// A refusal: the errno the guest gets and the sentence for the log.
pub type Refusal = (i32, Cow<'static, str>);

// ---- ioctl ------------------------------------------------------------------------------

/// What a guest fd is, as far as an ioctl request cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A terminal or pseudo-terminal (either side), `/dev/tty` and `/dev/ptmx` included.
    Terminal,
    /// A socket.
    Socket,
    /// A regular file.
    RegularFile,
    /// A directory.
    Directory,
    /// A pipe or FIFO.
    Pipe,
    /// Any other device.
    Device,
    /// A namespace's file (opened through `/proc/PID/ns`, or handed out by `NS_GET_*`).
    Namespace,
    /// A pidfd (pidfd_open, clone's `CLONE_PIDFD`, or a `/proc/PID` directory).
    Pidfd,
    /// Anything else (eventfd, epoll, timerfd, memfd-less anonymous inodes…).
    Other,
}

impl FdKind {
    fn name(self) -> &'static str {
        match self {
            FdKind::Terminal => "a terminal",
            FdKind::Socket => "a socket",
            FdKind::RegularFile => "a regular file",
            FdKind::Directory => "a directory",
            FdKind::Pipe => "a pipe",
            FdKind::Device => "a device",
            FdKind::Namespace => "a namespace",
            FdKind::Pidfd => "a pidfd",
            FdKind::Other => "this kind of fd",
        }
    }
}

/// Character-device majors of terminals: `/dev/ttyN` (4), `/dev/tty`, `/dev/console` and
/// `/dev/ptmx` (5), pty slaves (136–143).
fn is_terminal_major(major: u32) -> bool {
    matches!(major, 4 | 5 | 136..=143)
}

/// The kind of guest fd `fd` of thread `pid`, from the file the kernel holds (a `stat`
/// through the `/proc/PID/fd/N` magic link); `None` when the fd is not open.
pub fn fd_kind(pid: crate::sys::Pid, fd: i32) -> Option<FdKind> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    if fd < 0 {
        return None;
    }
    let meta = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let kind = meta.file_type();
    // Namespaces (regular files of nsfs) and pidfds (anonymous inodes) are known by their
    // links: `uts:[4026531838]`, `anon_inode:[pidfd]`.
    let link = || std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
    const NAMESPACES: [&str; 8] = ["cgroup:[", "ipc:[", "mnt:[", "net:[", "pid:[", "time:[", "user:[", "uts:["];
    Some(if kind.is_socket() {
        FdKind::Socket
    } else if kind.is_fifo() {
        FdKind::Pipe
    } else if kind.is_file() {
        let link = link();
        if NAMESPACES.iter().any(|prefix| link.starts_with(prefix)) { FdKind::Namespace } else { FdKind::RegularFile }
    } else if kind.is_dir() {
        FdKind::Directory
    } else if kind.is_char_device() && is_terminal_major(libc::major(meta.rdev())) {
        FdKind::Terminal
    } else if kind.is_char_device() || kind.is_block_device() {
        FdKind::Device
    } else {
        let link = link();
        if link == "anon_inode:[pidfd]" || link.starts_with("pidfd:") { FdKind::Pidfd } else { FdKind::Other }
    })
}

/// Where an ioctl request may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Served by the VFS for every fd before any driver sees it (`do_vfs_ioctl`), or a
    /// harmless query every kind answers: allowed on any fd.
    AnyFd,
    /// Terminal settings and queries.
    Terminal,
    /// Socket queries (`SIOCG*`).
    Socket,
    /// The queue-length queries terminals and sockets share.
    TerminalOrSocket,
    /// File-system queries and clones into a file the guest opened for writing.
    File,
    /// Queries of a namespace (`NS_GET_*`): the kernel hands out only namespaces within the
    /// caller's own (an ancestor outside them is `EPERM`).
    Namespace,
    /// Queries of the process behind a pidfd, which names a guest process.
    Pidfd,
    /// Never, whatever the fd: the reason.
    Never(&'static str),
}

/// One ioctl request the host knows by name.
#[derive(Clone, Copy, Debug)]
struct Request {
    name: &'static str,
    code: u32,
    scope: Scope,
}

const fn req(name: &'static str, code: u32, scope: Scope) -> Request {
    Request { name, code, scope }
}

const TCGETS: u32 = 0x5401;
const TIOCGWINSZ: u32 = 0x5413;
const FIONREAD: u32 = 0x541B;
const FIOCLEX: u32 = 0x5451;
const FIONCLEX: u32 = 0x5450;
const TIOCSCTTY: u32 = 0x540E;

const FIONBIO: u32 = 0x5421;

/// The ioctl requests the backstop lets run natively, matched on the low 32 bits of `cmd`:
/// the most frequent harmless ones (isatty, window size, bytes pending, close-on-exec,
/// non-blocking mode).
pub const IOCTL_NATIVE: &[u32] = &[TCGETS, TIOCGWINSZ, FIONREAD, FIOCLEX, FIONCLEX, FIONBIO];

const TYPES_INTO_TERMINAL: &str = "it types into or takes over the terminal, which the host shares";
const CHANGES_NETWORK: &str = "it changes the network configuration the host shares";
const CHANGES_FILESYSTEM: &str = "it changes a file system or file flags no grant covers (append-only, immutable)";

/// Every ioctl request the host knows by name: the allow-list, and the requests refused
/// whatever the fd with the reason. A request not here is refused as unknown.
const IOCTLS: &[Request] = {
    use Scope::*;
    &[
        // Generic: the VFS answers them for any fd.
        req("FIOCLEX", FIOCLEX, AnyFd),
        req("FIONCLEX", FIONCLEX, AnyFd),
        req("FIONBIO", FIONBIO, AnyFd),
        req("FIOASYNC", 0x5452, AnyFd),
        req("FIONREAD", FIONREAD, AnyFd),
        req("FIOQSIZE", 0x5460, AnyFd),
        req("FIGETBSZ", 0x2, AnyFd),
        // Terminals: what shells, editors, pagers and pty allocation use.
        req("TCGETS", TCGETS, Terminal),
        req("TCSETS", 0x5402, Terminal),
        req("TCSETSW", 0x5403, Terminal),
        req("TCSETSF", 0x5404, Terminal),
        req("TCGETA", 0x5405, Terminal),
        req("TCSETA", 0x5406, Terminal),
        req("TCSETAW", 0x5407, Terminal),
        req("TCSETAF", 0x5408, Terminal),
        req("TCSBRK", 0x5409, Terminal),
        req("TCXONC", 0x540A, Terminal),
        req("TCFLSH", 0x540B, Terminal),
        req("TIOCEXCL", 0x540C, Terminal),
        req("TIOCNXCL", 0x540D, Terminal),
        // With argument 0 only (see `ioctl`): a non-zero one steals a terminal from its session.
        req("TIOCSCTTY", TIOCSCTTY, Terminal),
        req("TIOCGPGRP", 0x540F, Terminal),
        // The kernel allows only a process group of the caller's own session.
        req("TIOCSPGRP", 0x5410, Terminal),
        req("TIOCOUTQ", 0x5411, TerminalOrSocket),
        req("TIOCGWINSZ", TIOCGWINSZ, Terminal),
        req("TIOCSWINSZ", 0x5414, Terminal),
        req("TIOCMGET", 0x5415, Terminal),
        req("TIOCGSOFTCAR", 0x5419, Terminal),
        req("TIOCNOTTY", 0x5422, Terminal),
        req("TIOCGETD", 0x5424, Terminal),
        req("TCSBRKP", 0x5425, Terminal),
        req("TIOCGSID", 0x5429, Terminal),
        req("TCGETS2", 0x802C_542A, Terminal),
        req("TCSETS2", 0x402C_542B, Terminal),
        req("TCSETSW2", 0x402C_542C, Terminal),
        req("TCSETSF2", 0x402C_542D, Terminal),
        req("TIOCGPTN", 0x8004_5430, Terminal),
        req("TIOCSPTLCK", 0x4004_5431, Terminal),
        req("TIOCGPKT", 0x8004_5438, Terminal),
        req("TIOCGPTLCK", 0x8004_5439, Terminal),
        req("TIOCGEXCL", 0x8004_5440, Terminal),
        req("TIOCGPTPEER", 0x5441, Terminal),
        req("TIOCSTI", 0x5412, Never(TYPES_INTO_TERMINAL)),
        req("TIOCLINUX", 0x541C, Never(TYPES_INTO_TERMINAL)),
        req("TIOCCONS", 0x541D, Never("it redirects the host's console")),
        req("TIOCSSERIAL", 0x541F, Never("it reconfigures a serial port")),
        req("TIOCSETD", 0x5423, Never("it changes the line discipline (loading kernel code)")),
        req("TIOCVHANGUP", 0x5437, Never("it hangs up the terminal for every process using it")),
        req("TIOCSIG", 0x4004_5436, Never("it signals the foreground group of another terminal")),
        req("TIOCMSET", 0x5418, Never("it sets modem control lines")),
        req("TIOCMBIS", 0x5416, Never("it sets modem control lines")),
        req("TIOCMBIC", 0x5417, Never("it sets modem control lines")),
        // Sockets: queries only.
        req("FIOGETOWN", 0x8903, Socket),
        req("SIOCGPGRP", 0x8904, Socket),
        req("SIOCATMARK", 0x8905, Socket),
        req("SIOCGSTAMP_OLD", 0x8906, Socket),
        req("SIOCGSTAMPNS_OLD", 0x8907, Socket),
        req("SIOCGIFNAME", 0x8910, Socket),
        req("SIOCGIFCONF", 0x8912, Socket),
        req("SIOCGIFFLAGS", 0x8913, Socket),
        req("SIOCGIFADDR", 0x8915, Socket),
        req("SIOCGIFDSTADDR", 0x8917, Socket),
        req("SIOCGIFBRDADDR", 0x8919, Socket),
        req("SIOCGIFNETMASK", 0x891B, Socket),
        req("SIOCGIFMETRIC", 0x891D, Socket),
        req("SIOCGIFMTU", 0x8921, Socket),
        req("SIOCGIFHWADDR", 0x8927, Socket),
        req("SIOCGIFINDEX", 0x8933, Socket),
        req("SIOCGIFPFLAGS", 0x8935, Socket),
        req("SIOCGIFTXQLEN", 0x8942, Socket),
        req("SIOCOUTQNSD", 0x894B, Socket),
        req("SIOCGIFMAP", 0x8970, Socket),
        // Setting an owner names a process to signal: F_SETOWN (decided) does that.
        req("FIOSETOWN", 0x8901, Never("it names a process to signal; use fcntl F_SETOWN")),
        req("SIOCSPGRP", 0x8902, Never("it names a process to signal; use fcntl F_SETOWN")),
        req("SIOCADDRT", 0x890B, Never(CHANGES_NETWORK)),
        req("SIOCDELRT", 0x890C, Never(CHANGES_NETWORK)),
        req("SIOCSIFFLAGS", 0x8914, Never(CHANGES_NETWORK)),
        req("SIOCSIFADDR", 0x8916, Never(CHANGES_NETWORK)),
        req("SIOCSIFDSTADDR", 0x8918, Never(CHANGES_NETWORK)),
        req("SIOCSIFBRDADDR", 0x891A, Never(CHANGES_NETWORK)),
        req("SIOCSIFNETMASK", 0x891C, Never(CHANGES_NETWORK)),
        req("SIOCSIFMETRIC", 0x891E, Never(CHANGES_NETWORK)),
        req("SIOCSIFMTU", 0x8922, Never(CHANGES_NETWORK)),
        req("SIOCSIFNAME", 0x8923, Never(CHANGES_NETWORK)),
        req("SIOCSIFHWADDR", 0x8924, Never(CHANGES_NETWORK)),
        req("SIOCSIFTXQLEN", 0x8943, Never(CHANGES_NETWORK)),
        req("SIOCETHTOOL", 0x8946, Never(CHANGES_NETWORK)),
        req("SIOCDARP", 0x8953, Never(CHANGES_NETWORK)),
        req("SIOCSARP", 0x8955, Never(CHANGES_NETWORK)),
        // Files: queries, and clones into an fd the guest opened for writing (the kernel
        // checks the destination is open for writing and the source for reading: as a write).
        req("FS_IOC_GETFLAGS", 0x8008_6601, File),
        req("FS_IOC_GETVERSION", 0x8008_7601, File),
        req("FS_IOC_FIEMAP", 0xC020_660B, File),
        req("FS_IOC_FSGETXATTR", 0x801C_581F, File),
        req("FS_IOC_GETFSLABEL", 0x8100_9431, File),
        req("FICLONE", 0x4004_9409, File),
        req("FICLONERANGE", 0x4020_940D, File),
        req("FS_IOC_SETFLAGS", 0x4008_6602, Never(CHANGES_FILESYSTEM)),
        req("FS_IOC_SETVERSION", 0x4008_7602, Never(CHANGES_FILESYSTEM)),
        req("FS_IOC_FSSETXATTR", 0x401C_5820, Never(CHANGES_FILESYSTEM)),
        req("FS_IOC_SETFSLABEL", 0x4100_9432, Never(CHANGES_FILESYSTEM)),
        // Dedupe may target a file open read-only (for its owner or an admin).
        req("FIDEDUPERANGE", 0xC018_9436, Never("it rewrites the extents of a file that may be open read-only")),
        req("FIFREEZE", 0xC004_5877, Never("it freezes a whole file system the host uses")),
        req("FITHAW", 0xC004_5878, Never("it thaws a whole file system the host uses")),
        req("FITRIM", 0xC018_5879, Never("it discards the free blocks of a whole file system")),
        req("FS_IOC_SHUTDOWN", 0x8004_587D, Never("it shuts a whole file system down (XFS_IOC_GOINGDOWN)")),
        // linux/nsfs.h
        req("NS_GET_USERNS", 0xB701, Namespace),
        req("NS_GET_PARENT", 0xB702, Namespace),
        req("NS_GET_NSTYPE", 0xB703, Namespace),
        req("NS_GET_OWNER_UID", 0xB704, Namespace),
        req("NS_GET_MNTNS_ID", 0x8008_B705, Namespace),
        req("NS_GET_PID_FROM_PIDNS", 0x8004_B706, Namespace),
        req("NS_GET_TGID_FROM_PIDNS", 0x8004_B707, Namespace),
        req("NS_GET_PID_IN_PIDNS", 0x8004_B708, Namespace),
        req("NS_GET_TGID_IN_PIDNS", 0x8004_B709, Namespace),
        req("NS_MNT_GET_INFO", 0x8010_B70A, Namespace),
        req("NS_MNT_GET_NEXT", 0x8010_B70B, Namespace),
        req("NS_MNT_GET_PREV", 0x8010_B70C, Namespace),
        // linux/pidfd.h: the namespaces of the process (the kernel checks the caller may
        // inspect it) and its information (two sizes of struct pidfd_info so far).
        req("PIDFD_GET_CGROUP_NAMESPACE", 0xFF01, Pidfd),
        req("PIDFD_GET_IPC_NAMESPACE", 0xFF02, Pidfd),
        req("PIDFD_GET_MNT_NAMESPACE", 0xFF03, Pidfd),
        req("PIDFD_GET_NET_NAMESPACE", 0xFF04, Pidfd),
        req("PIDFD_GET_PID_NAMESPACE", 0xFF05, Pidfd),
        req("PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE", 0xFF06, Pidfd),
        req("PIDFD_GET_TIME_NAMESPACE", 0xFF07, Pidfd),
        req("PIDFD_GET_TIME_FOR_CHILDREN_NAMESPACE", 0xFF08, Pidfd),
        req("PIDFD_GET_USER_NAMESPACE", 0xFF09, Pidfd),
        req("PIDFD_GET_UTS_NAMESPACE", 0xFF0A, Pidfd),
        req("PIDFD_GET_INFO", 0xC040_FF0B, Pidfd),
        req("PIDFD_GET_INFO", 0xC048_FF0B, Pidfd),
    ]
};

fn known_ioctl(code: u32) -> Option<&'static Request> {
    IOCTLS.iter().find(|r| r.code == code)
}

/// The name of ioctl request `code` for logs: its name and number.
fn ioctl_name(code: u32) -> String {
    match known_ioctl(code) {
        Some(request) => format!("{} ({code:#x})", request.name),
        None => format!("{code:#x}"),
    }
}

/// Whether ioctl `args` is decided by its request code alone: `Some(verdict)`; `None` when
/// the kind of fd decides ([`ioctl_on_fd`]).
pub fn ioctl_by_code(args: &[u64; 6]) -> Option<Result<(), Refusal>> {
    let code = uint_arg(args, 1);
    let request = known_ioctl(code)?;
    match request.scope {
        Scope::AnyFd => Some(Ok(())),
        Scope::Never(why) => Some(Err((EPERM, format!("ioctl request {} is never allowed: {why}", ioctl_name(code)).into()))),
        // `int arg` of TIOCSCTTY: 1 steals the terminal from another session, which the kernel
        // lets only CAP_SYS_ADMIN of the host's user namespace do: a guest in a user namespace
        // of its own never holds it (the kernel refuses, or the terminal was nobody's and
        // the argument changes nothing: `script` passes 1), one in the host's may.
        Scope::Terminal if code == TIOCSCTTY && int_arg(args, 2) != 0 && !crate::perform::creds::guest_has_own_user_namespace() => Some(Err((
            EPERM,
            "ioctl request TIOCSCTTY (0x540e) with a non-zero argument would steal a terminal from another session".into(),
        ))),
        Scope::Terminal | Scope::Socket | Scope::TerminalOrSocket | Scope::File | Scope::Namespace | Scope::Pidfd => None,
    }
}

/// Decides ioctl `args` of thread `pid` by the kind of its fd: a listed request is allowed on
/// the kinds it is listed for; on another kind it gets `ENOTTY`, as the kernel would answer
/// (with an empty reason: not a denial, no log line); an unknown request gets `ENOTTY` too
/// (what every caller of an optional ioctl handles), logged.
pub fn ioctl_on_fd(pid: crate::sys::Pid, args: &[u64; 6]) -> Result<(), Refusal> {
    if let Some(verdict) = ioctl_by_code(args) {
        return verdict;
    }
    let (fd, code) = (int_arg(args, 0), uint_arg(args, 1));
    // Not open now: refused rather than left to the kernel, which a racing thread could make
    // run it on an fd opened meanwhile.
    let Some(kind) = fd_kind(pid, fd) else {
        return Err((EBADF, format!("ioctl request {} on fd {fd}, which is not open", ioctl_name(code)).into()));
    };
    let allowed = match known_ioctl(code).map(|r| r.scope) {
        Some(Scope::Terminal) => kind == FdKind::Terminal,
        Some(Scope::Socket) => kind == FdKind::Socket,
        Some(Scope::TerminalOrSocket) => matches!(kind, FdKind::Terminal | FdKind::Socket),
        Some(Scope::File) => matches!(kind, FdKind::RegularFile | FdKind::Directory),
        Some(Scope::Namespace) => kind == FdKind::Namespace,
        Some(Scope::Pidfd) => kind == FdKind::Pidfd,
        Some(Scope::AnyFd) => true,
        Some(Scope::Never(_)) | None => false,
    };
    match known_ioctl(code).map(|r| r.scope) {
        _ if allowed => Ok(()),
        // A request of a kind of fd used on another: the kernel's own ENOTTY, which is no
        // denial (bash asks stderr for its process group whatever stderr is), so no line.
        Some(Scope::Terminal | Scope::Socket | Scope::TerminalOrSocket | Scope::File | Scope::Namespace | Scope::Pidfd) => Err((ENOTTY, Cow::Borrowed(""))),
        _ => Err((ENOTTY, format!("ioctl request {} is not on the allow-list for {}", ioctl_name(code), kind.name()).into())),
    }
}

// ---- fcntl ------------------------------------------------------------------------------

/// How the host treats an fcntl command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FcntlUse {
    /// Acts on the fd or the open file only: runs natively.
    Native,
    /// Names a process to signal (argument 2, a pid, or a negated process group): it must be
    /// part of the guest.
    NamesProcess,
    /// Names a process through guest memory the kernel reads after any check: allowed only in
    /// the guest's own PID namespace, where every pid it can name is a guest's; refused
    /// otherwise with the errno and the reason.
    InOwnPidNamespace(i32, &'static str),
    /// Acts on the file beyond the guest's fd (a lease holds back every other opener of the
    /// file, outside the sandbox too): needs write access to the file, and the host performs
    /// it on its own duplicate of the fd, as for the metadata changes through an fd.
    OnHostCopy,
    /// Refused: the errno and the reason.
    Never(i32, &'static str),
}

const F_SETOWN: u32 = 8;

/// Every fcntl command the host knows (`cmd` is an `unsigned int`: the low 32 bits).
const FCNTLS: &[(&str, u32, FcntlUse)] = {
    use FcntlUse::*;
    &[
        ("F_DUPFD", 0, Native),
        ("F_GETFD", 1, Native),
        ("F_SETFD", 2, Native),
        ("F_GETFL", 3, Native),
        ("F_SETFL", 4, Native),
        ("F_GETLK", 5, Native),
        ("F_SETLK", 6, Native),
        ("F_SETLKW", 7, Native),
        ("F_SETOWN", F_SETOWN, NamesProcess),
        ("F_GETOWN", 9, Native),
        ("F_SETSIG", 10, Native),
        ("F_GETSIG", 11, Native),
        // The owner lives in guest memory the kernel reads after the check.
        ("F_SETOWN_EX", 15, InOwnPidNamespace(EINVAL, "fcntl command F_SETOWN_EX (15) is refused without a PID namespace of the guest's own: its owner is read from guest memory after the check; use F_SETOWN")),
        ("F_GETOWN_EX", 16, Native),
        ("F_GETOWNER_UIDS", 17, Native),
        ("F_OFD_GETLK", 36, Native),
        ("F_OFD_SETLK", 37, Native),
        ("F_OFD_SETLKW", 38, Native),
        // A lease holds back every other opener of the file, outside the sandbox too, until the
        // guest lets go or the kernel's lease-break-time passes: only on a file the guest may
        // write anyway.
        ("F_SETLEASE", 1024, OnHostCopy),
        ("F_GETLEASE", 1025, Native),
        // dnotify signals that a directory the guest holds open changed, without names: no
        // more than reading the directory again tells.
        ("F_NOTIFY", 1026, Native),
        ("F_DUPFD_QUERY", 1027, Native),
        ("F_CREATED_QUERY", 1028, Native),
        ("F_DUPFD_CLOEXEC", 1030, Native),
        ("F_SETPIPE_SZ", 1031, Native),
        ("F_GETPIPE_SZ", 1032, Native),
        ("F_ADD_SEALS", 1033, Native),
        ("F_GET_SEALS", 1034, Native),
        ("F_GET_RW_HINT", 1035, Native),
        ("F_SET_RW_HINT", 1036, Native),
        ("F_GET_FILE_RW_HINT", 1037, Native),
        ("F_SET_FILE_RW_HINT", 1038, Native),
    ]
};

/// The fcntl commands the backstop lets run natively (every [`FcntlUse::Native`] one).
pub const FCNTL_NATIVE: &[u32] = &[0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 16, 17, 36, 37, 38, 1025, 1026, 1027, 1028, 1030, 1031, 1032, 1033, 1034, 1035, 1036, 1037, 1038];

/// What the host does with fcntl `args`; an unknown command is refused with `EINVAL`, as the
/// kernel answers a command it does not know.
pub fn fcntl(args: &[u64; 6]) -> Result<FcntlUse, Refusal> {
    let cmd = uint_arg(args, 1);
    match FCNTLS.iter().find(|(_, code, _)| *code == cmd) {
        Some((name, _, FcntlUse::Never(errno, why))) => Err((*errno, format!("fcntl command {name} ({cmd}) is refused: {why}").into())),
        Some((_, _, use_)) => Ok(*use_),
        None => Err((EINVAL, format!("fcntl command {cmd} is not on the allow-list").into())),
    }
}

/// The argument of an fcntl command that names a process ([`FcntlUse::NamesProcess`]).
pub const FCNTL_PROCESS_ARG: usize = 2;

// ---- setsockopt -------------------------------------------------------------------------

/// How the host treats a socket option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptUse {
    /// Tunes the guest's own socket.
    Allow,
    /// Changes where or how packets travel beyond the socket (routing, multicast, binding to
    /// a device): only under `--net all`, which grants the network.
    NetAll,
    /// Never: privileged, kernel attack surface, or acting for the host.
    Never(&'static str),
}

const SOL_SOCKET: u32 = 1;
const IPPROTO_IP: u32 = 0;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_IPV6: u32 = 41;
const SOL_NETLINK: u32 = 270;

/// The socket options the backstop lets run natively, by (level, optname) low words: the
/// most frequent ones.
pub const SETSOCKOPT_NATIVE: &[(u32, u32)] = &[
    (SOL_SOCKET, 2),  // SO_REUSEADDR
    (SOL_SOCKET, 7),  // SO_SNDBUF
    (SOL_SOCKET, 8),  // SO_RCVBUF
    (SOL_SOCKET, 9),  // SO_KEEPALIVE
    (IPPROTO_TCP, 1), // TCP_NODELAY
    (IPPROTO_IPV6, 26), // IPV6_V6ONLY
];

const FILTERS: &str = "socket filters and BPF programs are kernel code the policy does not grant";
const ADMIN: &str = "it needs network administration rights";

/// Every socket option the host knows, by level.
const SOCKOPTS: &[(u32, &str, u32, OptUse)] = {
    use OptUse::*;
    &[
        (SOL_SOCKET, "SO_DEBUG", 1, Allow),
        (SOL_SOCKET, "SO_REUSEADDR", 2, Allow),
        (SOL_SOCKET, "SO_DONTROUTE", 5, NetAll),
        (SOL_SOCKET, "SO_BROADCAST", 6, Allow),
        (SOL_SOCKET, "SO_SNDBUF", 7, Allow),
        (SOL_SOCKET, "SO_RCVBUF", 8, Allow),
        (SOL_SOCKET, "SO_KEEPALIVE", 9, Allow),
        (SOL_SOCKET, "SO_OOBINLINE", 10, Allow),
        (SOL_SOCKET, "SO_NO_CHECK", 11, Allow),
        (SOL_SOCKET, "SO_PRIORITY", 12, Allow),
        (SOL_SOCKET, "SO_LINGER", 13, Allow),
        // Joins the port group of any socket of the same user on the address: below --net all
        // that could be a listener of the host's on 127.0.0.1, whose connections it would share.
        (SOL_SOCKET, "SO_REUSEPORT", 15, NetAll),
        (SOL_SOCKET, "SO_PASSCRED", 16, Allow),
        (SOL_SOCKET, "SO_RCVLOWAT", 18, Allow),
        (SOL_SOCKET, "SO_SNDLOWAT", 19, Allow),
        (SOL_SOCKET, "SO_RCVTIMEO_OLD", 20, Allow),
        (SOL_SOCKET, "SO_SNDTIMEO_OLD", 21, Allow),
        (SOL_SOCKET, "SO_BINDTODEVICE", 25, NetAll),
        (SOL_SOCKET, "SO_ATTACH_FILTER", 26, Never(FILTERS)),
        (SOL_SOCKET, "SO_DETACH_FILTER", 27, Allow),
        (SOL_SOCKET, "SO_TIMESTAMP_OLD", 29, Allow),
        (SOL_SOCKET, "SO_SNDBUFFORCE", 32, Never(ADMIN)),
        (SOL_SOCKET, "SO_RCVBUFFORCE", 33, Never(ADMIN)),
        (SOL_SOCKET, "SO_PASSSEC", 34, Allow),
        (SOL_SOCKET, "SO_TIMESTAMPNS_OLD", 35, Allow),
        (SOL_SOCKET, "SO_MARK", 36, Never(ADMIN)),
        (SOL_SOCKET, "SO_TIMESTAMPING_OLD", 37, Allow),
        (SOL_SOCKET, "SO_RXQ_OVFL", 40, Allow),
        (SOL_SOCKET, "SO_PEEK_OFF", 42, Allow),
        (SOL_SOCKET, "SO_LOCK_FILTER", 44, Allow),
        (SOL_SOCKET, "SO_SELECT_ERR_QUEUE", 45, Allow),
        (SOL_SOCKET, "SO_MAX_PACING_RATE", 47, Allow),
        (SOL_SOCKET, "SO_INCOMING_CPU", 49, Allow),
        (SOL_SOCKET, "SO_ATTACH_BPF", 50, Never(FILTERS)),
        (SOL_SOCKET, "SO_ATTACH_REUSEPORT_CBPF", 51, Never(FILTERS)),
        (SOL_SOCKET, "SO_ATTACH_REUSEPORT_EBPF", 52, Never(FILTERS)),
        (SOL_SOCKET, "SO_ZEROCOPY", 60, Allow),
        (SOL_SOCKET, "SO_BINDTOIFINDEX", 62, NetAll),
        (SOL_SOCKET, "SO_TIMESTAMP_NEW", 63, Allow),
        (SOL_SOCKET, "SO_TIMESTAMPNS_NEW", 64, Allow),
        (SOL_SOCKET, "SO_TIMESTAMPING_NEW", 65, Allow),
        (SOL_SOCKET, "SO_RCVTIMEO_NEW", 66, Allow),
        (SOL_SOCKET, "SO_SNDTIMEO_NEW", 67, Allow),
        (SOL_SOCKET, "SO_BUF_LOCK", 72, Allow),
        (SOL_SOCKET, "SO_PASSPIDFD", 76, Allow),
        (IPPROTO_TCP, "TCP_NODELAY", 1, Allow),
        (IPPROTO_TCP, "TCP_MAXSEG", 2, Allow),
        (IPPROTO_TCP, "TCP_CORK", 3, Allow),
        (IPPROTO_TCP, "TCP_KEEPIDLE", 4, Allow),
        (IPPROTO_TCP, "TCP_KEEPINTVL", 5, Allow),
        (IPPROTO_TCP, "TCP_KEEPCNT", 6, Allow),
        (IPPROTO_TCP, "TCP_SYNCNT", 7, Allow),
        (IPPROTO_TCP, "TCP_LINGER2", 8, Allow),
        (IPPROTO_TCP, "TCP_DEFER_ACCEPT", 9, Allow),
        (IPPROTO_TCP, "TCP_WINDOW_CLAMP", 10, Allow),
        (IPPROTO_TCP, "TCP_QUICKACK", 12, Allow),
        (IPPROTO_TCP, "TCP_CONGESTION", 13, Never("an unloaded algorithm makes the kernel load a module")),
        (IPPROTO_TCP, "TCP_THIN_LINEAR_TIMEOUTS", 16, Allow),
        (IPPROTO_TCP, "TCP_USER_TIMEOUT", 18, Allow),
        (IPPROTO_TCP, "TCP_REPAIR", 19, Never(ADMIN)),
        (IPPROTO_TCP, "TCP_FASTOPEN", 23, Allow),
        (IPPROTO_TCP, "TCP_NOTSENT_LOWAT", 25, Allow),
        (IPPROTO_TCP, "TCP_FASTOPEN_CONNECT", 30, Allow),
        (IPPROTO_TCP, "TCP_ULP", 31, Never("upper-layer protocols (kTLS) are kernel code the policy does not grant")),
        (IPPROTO_TCP, "TCP_FASTOPEN_NO_COOKIE", 34, Allow),
        (IPPROTO_TCP, "TCP_INQ", 36, Allow),
        (IPPROTO_UDP, "UDP_CORK", 1, Allow),
        (IPPROTO_UDP, "UDP_SEGMENT", 103, Allow),
        (IPPROTO_UDP, "UDP_GRO", 104, Allow),
        (IPPROTO_IP, "IP_TOS", 1, Allow),
        (IPPROTO_IP, "IP_TTL", 2, Allow),
        // Source routing: the options steer a datagram to an approved address on to another host.
        (IPPROTO_IP, "IP_OPTIONS", 4, NetAll),
        (IPPROTO_IP, "IP_RECVOPTS", 6, Allow),
        (IPPROTO_IP, "IP_RETOPTS", 7, Allow),
        (IPPROTO_IP, "IP_PKTINFO", 8, Allow),
        (IPPROTO_IP, "IP_MTU_DISCOVER", 10, Allow),
        (IPPROTO_IP, "IP_RECVERR", 11, Allow),
        (IPPROTO_IP, "IP_RECVTTL", 12, Allow),
        (IPPROTO_IP, "IP_RECVTOS", 13, Allow),
        (IPPROTO_IP, "IP_FREEBIND", 15, NetAll),
        (IPPROTO_IP, "IP_TRANSPARENT", 19, Never(ADMIN)),
        (IPPROTO_IP, "IP_RECVORIGDSTADDR", 20, Allow),
        (IPPROTO_IP, "IP_MINTTL", 21, Allow),
        (IPPROTO_IP, "IP_BIND_ADDRESS_NO_PORT", 24, Allow),
        (IPPROTO_IP, "IP_RECVFRAGSIZE", 25, Allow),
        (IPPROTO_IP, "IP_RECVERR_RFC4884", 26, Allow),
        (IPPROTO_IP, "IP_MULTICAST_IF", 32, NetAll),
        (IPPROTO_IP, "IP_MULTICAST_TTL", 33, Allow),
        (IPPROTO_IP, "IP_MULTICAST_LOOP", 34, Allow),
        (IPPROTO_IP, "IP_ADD_MEMBERSHIP", 35, NetAll),
        (IPPROTO_IP, "IP_DROP_MEMBERSHIP", 36, Allow),
        // Joining a group (any source) changes what the host's interfaces receive: --net all;
        // leaving, blocking and unblocking sources only narrow it.
        (IPPROTO_IP, "IP_UNBLOCK_SOURCE", 37, Allow),
        (IPPROTO_IP, "IP_BLOCK_SOURCE", 38, Allow),
        (IPPROTO_IP, "IP_ADD_SOURCE_MEMBERSHIP", 39, NetAll),
        (IPPROTO_IP, "IP_DROP_SOURCE_MEMBERSHIP", 40, Allow),
        (IPPROTO_IP, "IP_MSFILTER", 41, NetAll),
        (IPPROTO_IP, "MCAST_JOIN_GROUP", 42, NetAll),
        (IPPROTO_IP, "MCAST_BLOCK_SOURCE", 43, Allow),
        (IPPROTO_IP, "MCAST_UNBLOCK_SOURCE", 44, Allow),
        (IPPROTO_IP, "MCAST_LEAVE_GROUP", 45, Allow),
        (IPPROTO_IP, "MCAST_JOIN_SOURCE_GROUP", 46, NetAll),
        (IPPROTO_IP, "MCAST_LEAVE_SOURCE_GROUP", 47, Allow),
        (IPPROTO_IP, "MCAST_MSFILTER", 48, NetAll),
        (IPPROTO_IP, "IP_MULTICAST_ALL", 49, Allow),
        (IPPROTO_IP, "IP_UNICAST_IF", 50, NetAll),
        (IPPROTO_IP, "IP_LOCAL_PORT_RANGE", 51, Allow),
        (IPPROTO_IPV6, "IPV6_2292PKTINFO", 2, Allow),
        (IPPROTO_IPV6, "IPV6_2292HOPOPTS", 3, NetAll),
        (IPPROTO_IPV6, "IPV6_2292DSTOPTS", 4, NetAll),
        (IPPROTO_IPV6, "IPV6_2292RTHDR", 5, NetAll),
        (IPPROTO_IPV6, "IPV6_2292HOPLIMIT", 8, Allow),
        (IPPROTO_IPV6, "IPV6_NEXTHOP", 9, NetAll),
        (IPPROTO_IPV6, "IPV6_UNICAST_HOPS", 16, Allow),
        (IPPROTO_IPV6, "IPV6_MULTICAST_IF", 17, NetAll),
        (IPPROTO_IPV6, "IPV6_MULTICAST_HOPS", 18, Allow),
        (IPPROTO_IPV6, "IPV6_MULTICAST_LOOP", 19, Allow),
        (IPPROTO_IPV6, "IPV6_ADD_MEMBERSHIP", 20, NetAll),
        (IPPROTO_IPV6, "IPV6_DROP_MEMBERSHIP", 21, Allow),
        (IPPROTO_IPV6, "IPV6_MTU_DISCOVER", 23, Allow),
        (IPPROTO_IPV6, "IPV6_RECVERR", 25, Allow),
        (IPPROTO_IPV6, "IPV6_V6ONLY", 26, Allow),
        (IPPROTO_IPV6, "IPV6_RECVERR_RFC4884", 31, Allow),
        (IPPROTO_IPV6, "IPV6_RECVPKTINFO", 49, Allow),
        (IPPROTO_IPV6, "IPV6_PKTINFO", 50, NetAll),
        (IPPROTO_IPV6, "IPV6_RECVHOPLIMIT", 51, Allow),
        (IPPROTO_IPV6, "IPV6_HOPOPTS", 54, NetAll),
        (IPPROTO_IPV6, "IPV6_RTHDRDSTOPTS", 55, NetAll),
        (IPPROTO_IPV6, "IPV6_RECVRTHDR", 56, Allow),
        (IPPROTO_IPV6, "IPV6_RTHDR", 57, NetAll),
        (IPPROTO_IPV6, "IPV6_RECVDSTOPTS", 58, Allow),
        (IPPROTO_IPV6, "IPV6_DSTOPTS", 59, NetAll),
        (IPPROTO_IPV6, "IPV6_RECVPATHMTU", 60, Allow),
        (IPPROTO_IPV6, "IPV6_DONTFRAG", 62, Allow),
        (IPPROTO_IPV6, "IPV6_RECVTCLASS", 66, Allow),
        (IPPROTO_IPV6, "IPV6_TCLASS", 67, Allow),
        (IPPROTO_IPV6, "IPV6_AUTOFLOWLABEL", 70, Allow),
        (IPPROTO_IPV6, "IPV6_ADDR_PREFERENCES", 72, Allow),
        (IPPROTO_IPV6, "IPV6_RECVORIGDSTADDR", 74, Allow),
        (IPPROTO_IPV6, "IPV6_TRANSPARENT", 75, Never(ADMIN)),
        (IPPROTO_IPV6, "IPV6_UNICAST_IF", 76, NetAll),
        (IPPROTO_IPV6, "IPV6_FREEBIND", 78, NetAll),
        // Route netlink: subscribing to events and asking for better errors only reads.
        (SOL_NETLINK, "NETLINK_ADD_MEMBERSHIP", 1, Allow),
        (SOL_NETLINK, "NETLINK_DROP_MEMBERSHIP", 2, Allow),
        (SOL_NETLINK, "NETLINK_PKTINFO", 3, Allow),
        (SOL_NETLINK, "NETLINK_BROADCAST_ERROR", 4, Allow),
        (SOL_NETLINK, "NETLINK_NO_ENOBUFS", 5, Allow),
        (SOL_NETLINK, "NETLINK_CAP_ACK", 10, Allow),
        (SOL_NETLINK, "NETLINK_EXT_ACK", 11, Allow),
        (SOL_NETLINK, "NETLINK_GET_STRICT_CHK", 12, Allow),
    ]
};

fn level_name(level: u32) -> Cow<'static, str> {
    match level {
        SOL_SOCKET => "SOL_SOCKET".into(),
        IPPROTO_IP => "IPPROTO_IP".into(),
        IPPROTO_TCP => "IPPROTO_TCP".into(),
        IPPROTO_UDP => "IPPROTO_UDP".into(),
        IPPROTO_IPV6 => "IPPROTO_IPV6".into(),
        SOL_NETLINK => "SOL_NETLINK".into(),
        other => format!("level {}", other as i32).into(),
    }
}

/// Decides setsockopt `args` (`level` and `optname` are `int`s: their low 32 bits). With
/// `net_all` (`--net all`) options that steer packets beyond the socket are allowed too. An
/// unknown option gets `ENOPROTOOPT`, the kernel's answer for an option it does not know;
/// the refused known ones `EPERM`.
pub fn setsockopt(args: &[u64; 6], net_all: bool) -> Result<(), Refusal> {
    let (level, name) = (uint_arg(args, 1), uint_arg(args, 2));
    let Some(&(_, opt, _, use_)) = SOCKOPTS.iter().find(|(l, _, n, _)| *l == level && *n == name) else {
        return Err((ENOPROTOOPT, format!("socket option {} {} is not on the allow-list", level_name(level), name as i32).into()));
    };
    match use_ {
        OptUse::Allow => Ok(()),
        OptUse::NetAll if net_all => Ok(()),
        OptUse::NetAll => Err((EPERM, format!("socket option {opt} ({}, {name}) steers packets beyond the socket; it needs --net all", level_name(level)).into())),
        OptUse::Never(why) => Err((EPERM, format!("socket option {opt} ({}, {name}) is never allowed: {why}", level_name(level)).into())),
    }
}

// ---- prctl ------------------------------------------------------------------------------

const PR_SET_SECCOMP: u32 = 22;
const PR_CAP_AMBIENT: u32 = 47;
const PR_SET_SYSCALL_USER_DISPATCH: u32 = 59;
/// `PR_CAP_AMBIENT` sub-operations that never add a capability (`arg2`, an `unsigned long`).
const PR_CAP_AMBIENT_IS_SET: u64 = 1;
const PR_CAP_AMBIENT_LOWER: u64 = 3;
const PR_CAP_AMBIENT_CLEAR_ALL: u64 = 4;

/// The prctl options a guest may use: each acts on the calling process or thread only, and
/// none reaches the host's machinery.
const PRCTL_ALLOWED: &[(&str, u32)] = &[
    ("PR_SET_PDEATHSIG", 1),
    ("PR_GET_PDEATHSIG", 2),
    ("PR_GET_DUMPABLE", 3),
    ("PR_SET_DUMPABLE", 4),
    ("PR_GET_KEEPCAPS", 7),
    ("PR_SET_KEEPCAPS", 8),
    ("PR_GET_TIMING", 13),
    ("PR_SET_NAME", 15),
    ("PR_GET_NAME", 16),
    ("PR_GET_SECCOMP", 21),
    ("PR_CAPBSET_READ", 23),
    ("PR_CAPBSET_DROP", 24),
    ("PR_GET_TSC", 25),
    ("PR_SET_TSC", 26),
    ("PR_GET_SECUREBITS", 27),
    ("PR_SET_SECUREBITS", 28),
    ("PR_SET_TIMERSLACK", 29),
    ("PR_GET_TIMERSLACK", 30),
    ("PR_TASK_PERF_EVENTS_DISABLE", 31),
    ("PR_TASK_PERF_EVENTS_ENABLE", 32),
    ("PR_MCE_KILL", 33),
    ("PR_MCE_KILL_GET", 34),
    ("PR_SET_CHILD_SUBREAPER", 36),
    ("PR_GET_CHILD_SUBREAPER", 37),
    ("PR_SET_NO_NEW_PRIVS", 38),
    ("PR_GET_NO_NEW_PRIVS", 39),
    ("PR_GET_TID_ADDRESS", 40),
    ("PR_SET_THP_DISABLE", 41),
    ("PR_GET_THP_DISABLE", 42),
    ("PR_GET_FP_MODE", 46),
    ("PR_CAP_AMBIENT", PR_CAP_AMBIENT),
    ("PR_GET_SPECULATION_CTRL", 52),
    ("PR_SET_SPECULATION_CTRL", 53),
    ("PR_SET_TAGGED_ADDR_CTRL", 55),
    ("PR_GET_TAGGED_ADDR_CTRL", 56),
    ("PR_GET_IO_FLUSHER", 58),
    ("PR_GET_MDWE", 66),
    ("PR_GET_MEMORY_MERGE", 68),
    ("PR_FUTEX_HASH", 78),
    // Names anonymous memory of the caller (shown in its /proc/self/maps).
    ("PR_SET_VMA", 0x5356_4d41),
    // Yama: lets a process trace the caller; the guest cannot ptrace anything.
    ("PR_SET_PTRACER", 0x5961_6d61),
    ("PR_GET_AUXV", 0x4155_5856),
];

/// The prctl options the backstop runs natively: queries of the caller's own state and its
/// thread's name, which the host would allow and need not see (the ones that change
/// credentials, limits on the caller or filters stop in the host, which follows them).
pub const PRCTL_NATIVE: &[u32] = &[2, 3, 7, 13, 15, 16, 21, 23, 25, 27, 30, 34, 37, 39, 40, 42, 46, 52, 56, 58, 66, 68, 0x4155_5856];

/// The prctl options refused with a reason of their own.
const PRCTL_REFUSED: &[(&str, u32, &str)] = &[
    ("PR_SET_MM", 35, "it rewrites the memory map the host relies on"),
    ("PR_SET_IO_FLUSHER", 57, "it changes how the kernel reclaims memory for everyone"),
    ("PR_SET_SYSCALL_USER_DISPATCH", PR_SET_SYSCALL_USER_DISPATCH, "it would send the host's injected calls back to the guest"),
    ("PR_SCHED_CORE", 62, "core-scheduling cookies reach other processes"),
    ("PR_SET_MDWE", 65, "it would stop the host mapping its stub page"),
    ("PR_SET_MEMORY_MERGE", 67, "memory merging across processes needs the host's consent"),
];

/// Whether a prctl would take the guest out of the host's sight whatever the policy (also
/// refused `--unconfined`): syscall user dispatch. (A seccomp filter of the guest's own is
/// judged by [`guest_filter`].)
pub fn escapes_the_debugger(number: u64, args: &[u64; 6]) -> Option<&'static str> {
    use trapbox_abi::linux::nr;
    // (A child the host would not trace is judged, for clone and clone3 alike, on the flags
    // the kernel reads: see the debugger's judgment of new tasks and [`untraced_child`].)
    match number {
        nr::PRCTL => match uint_arg(args, 0) {
            PR_SET_SYSCALL_USER_DISPATCH => Some(
                "prctl option PR_SET_SYSCALL_USER_DISPATCH (59) is never allowed: it would send the host's injected calls back to the guest",
            ),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the flag word of a call that makes a task (clone's register, clone3's field: see
/// [`crate::decode::clone_args::task_flags`]) asks for a child the host would not trace.
pub fn untraced_child(flags: u64) -> Option<&'static str> {
    const CLONE_UNTRACED: u64 = 0x0080_0000;
    (flags & CLONE_UNTRACED != 0).then_some("CLONE_UNTRACED would take the child out of the host's sight")
}

/// Decides prctl `args` (`option` is an `int`: its low 32 bits). Unknown options get
/// `EINVAL`, the kernel's answer for an option it does not know; refused known ones `EPERM`.
pub fn prctl(args: &[u64; 6]) -> Result<(), Refusal> {
    let option = uint_arg(args, 0);
    if let Some(&(name, _, why)) = PRCTL_REFUSED.iter().find(|(_, code, _)| *code == option) {
        return Err((EPERM, format!("prctl option {name} ({option}) is never allowed: {why}").into()));
    }
    if option == PR_CAP_AMBIENT && ![PR_CAP_AMBIENT_IS_SET, PR_CAP_AMBIENT_LOWER, PR_CAP_AMBIENT_CLEAR_ALL].contains(&args[1]) {
        return Err((EPERM, format!("prctl option PR_CAP_AMBIENT ({option}) with operation {} may only query, lower or clear", args[1]).into()));
    }
    if PRCTL_ALLOWED.iter().any(|(_, code)| *code == option) || option == PR_SET_SECCOMP {
        Ok(())
    } else {
        Err((EINVAL, format!("prctl option {} is not on the allow-list", option as i32).into()))
    }
}

// ---- seccomp filters of the guest's own --------------------------------------------------

/// `SECCOMP_SET_MODE_FILTER` (seccomp's operation) and `SECCOMP_MODE_FILTER` (prctl's mode).
const SECCOMP_SET_MODE_FILTER: u32 = 1;
const SECCOMP_MODE_FILTER: u64 = 2;
/// The seccomp flags that hand calls to a listener of the guest's (`NEW_LISTENER`, and
/// `WAIT_KILLABLE_RECV`, which only goes with one).
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;
/// The actions that hand a call to someone else instead of ending it in the kernel.
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
/// Most instructions of a guest filter the host's pinned copy holds (a path slot less the
/// `sock_fprog` header); the kernel's own limit is 4096.
pub const FILTER_MAX_PINNED: usize = (8192 - FPROG_LEN) / 8;
/// `sizeof(struct sock_fprog)`, padded.
pub const FPROG_LEN: usize = 16;

/// Where the `struct sock_fprog` of a filter the guest installs lies (argument 2 of
/// `seccomp(SECCOMP_SET_MODE_FILTER, …)` and of `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, …)`),
/// or `None` for any other call.
pub fn installs_filter(number: u64, args: &[u64; 6]) -> Option<usize> {
    use trapbox_abi::linux::nr;
    let filter = match number {
        nr::SECCOMP => uint_arg(args, 0) == SECCOMP_SET_MODE_FILTER,
        // prctl's mode is an unsigned long.
        nr::PRCTL => uint_arg(args, 0) == PR_SET_SECCOMP && args[1] == SECCOMP_MODE_FILTER,
        _ => false,
    };
    filter.then_some(2)
}

/// Decides a seccomp filter the guest installs, on the `sock_fprog` at `args[2]`: a filter may
/// only restrict the guest further. Every return must be a constant (the kernel runs the
/// strictest verdict of all filters, and the host's backstop traces what it must see) and none
/// may hand the call to a listener (`USER_NOTIF` outranks the backstop's `TRACE`) or to a
/// tracer (`TRACE`: the host would take it as its own stop); no listener may be asked for. The
/// debugger judges the host's pinned copy ([`crate::trap::pinned`]), the one the kernel then
/// installs. `None` for calls that install no filter (strict mode, the queries).
pub fn guest_filter(pid: crate::sys::Pid, number: u64, args: &[u64; 6]) -> Option<Result<(), Refusal>> {
    let at = installs_filter(number, args)?;
    if number == trapbox_abi::linux::nr::SECCOMP {
        let flags = uint_arg(args, 1);
        if flags & (SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) != 0 {
            return Some(Err((EPERM, "a filter with a listener of the guest's would decide calls the host must see".into())));
        }
    }
    Some(judge_filter(pid, args[at]))
}

fn judge_filter(pid: crate::sys::Pid, fprog: u64) -> Result<(), Refusal> {
    // What the kernel answers itself (an unreadable or empty program) is no denial: no line.
    let kernel = |errno: i32| Err((errno, Cow::Borrowed("")));
    let Some(header) = crate::sys::read_guest_bytes(pid, fprog, FPROG_LEN) else { return kernel(libc::EFAULT) };
    let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
    let filter = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    if len == 0 || len > 4096 {
        return kernel(EINVAL);
    }
    if len > FILTER_MAX_PINNED {
        return Err((EINVAL, format!("a filter of {len} instructions is longer than the host's checked copy holds ({FILTER_MAX_PINNED})").into()));
    }
    let Some(code) = crate::sys::read_guest_bytes(pid, filter, len * 8) else { return kernel(libc::EFAULT) };
    for (index, insn) in code.chunks_exact(8).enumerate() {
        let op = u16::from_le_bytes([insn[0], insn[1]]);
        let k = u32::from_le_bytes(insn[4..8].try_into().expect("4 bytes"));
        // BPF_RET is class 6; BPF_K (0) returns the constant k, BPF_A (0x10) the accumulator.
        if op & 0x07 != 0x06 {
            continue;
        }
        if op & 0x18 != 0 {
            return Err((EPERM, format!("instruction {index} of the filter returns a computed verdict, which the host cannot check").into()));
        }
        match k & 0xffff_0000 {
            SECCOMP_RET_USER_NOTIF => return Err((EPERM, format!("instruction {index} of the filter hands calls to a listener (SECCOMP_RET_USER_NOTIF)").into())),
            SECCOMP_RET_TRACE => return Err((EPERM, format!("instruction {index} of the filter hands calls to a tracer (SECCOMP_RET_TRACE)").into())),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[(usize, u64)]) -> [u64; 6] {
        let mut args = [0; 6];
        for &(i, v) in values {
            args[i] = v;
        }
        args
    }

    #[test]
    fn int_arguments_are_read_at_the_kernels_width() {
        assert_eq!(int_arg(&with(&[(0, 0xffff_ffff)]), 0), -1, "a 32-bit -1 fd");
        assert_eq!(int_arg(&with(&[(0, 0x1_0000_0005)]), 0), 5);
        assert_eq!(uint_arg(&with(&[(1, (1 << 32) | 0x5412)]), 1), 0x5412);
        let high_tiocsti = with(&[(1, (1 << 32) | 0x5412)]);
        assert!(matches!(ioctl_by_code(&high_tiocsti), Some(Err((EPERM, _)))), "TIOCSTI with high bits is TIOCSTI");
        let high_seccomp = with(&[(0, (1 << 32) | 22), (1, 2)]);
        assert_eq!(installs_filter(trapbox_abi::linux::nr::PRCTL, &high_seccomp), Some(2), "PR_SET_SECCOMP with high bits installs a filter");
        assert!(prctl(&with(&[(0, (7 << 32) | 15)])).is_ok(), "PR_SET_NAME with high bits is PR_SET_NAME");
        for &option in PRCTL_NATIVE {
            let name = PRCTL_ALLOWED.iter().find(|(_, code)| *code == option).map(|(name, _)| *name);
            assert!(name.is_some_and(|n| n.starts_with("PR_GET_") || n == "PR_SET_NAME" || n == "PR_CAPBSET_READ" || n == "PR_MCE_KILL_GET"), "{option}: only allowed queries run natively");
        }
    }

    #[test]
    fn every_native_request_is_on_its_allow_list() {
        for &code in IOCTL_NATIVE {
            let request = known_ioctl(code).expect("named");
            assert!(matches!(request.scope, Scope::AnyFd | Scope::Terminal), "{}", request.name);
        }
        for &cmd in FCNTL_NATIVE {
            assert_eq!(fcntl(&with(&[(1, u64::from(cmd))])), Ok(FcntlUse::Native), "fcntl {cmd}");
        }
        let natives = FCNTLS.iter().filter(|(_, _, u)| *u == FcntlUse::Native).count();
        assert_eq!(natives, FCNTL_NATIVE.len(), "FCNTL_NATIVE lists every native command");
        for &(level, name) in SETSOCKOPT_NATIVE {
            assert_eq!(setsockopt(&with(&[(1, u64::from(level)), (2, u64::from(name))]), false), Ok(()), "{level} {name}");
        }
        let mut codes: Vec<u32> = IOCTLS.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), IOCTLS.len(), "one entry per request code");
    }

    #[test]
    fn refusals_name_the_request_and_use_the_kernels_errnos() {
        let (errno, why) = ioctl_by_code(&with(&[(1, 0x4008_6602)])).unwrap().unwrap_err();
        assert_eq!(errno, EPERM);
        assert!(why.contains("FS_IOC_SETFLAGS (0x40086602)"), "{why}");
        assert_eq!(ioctl_by_code(&with(&[(1, 0x5451)])), Some(Ok(())), "FIOCLEX on any fd");
        assert_eq!(ioctl_by_code(&with(&[(1, 0x5401)])), None, "TCGETS depends on the fd");
        assert!(matches!(ioctl_by_code(&with(&[(1, 0x540E), (2, 1)])), Some(Err((EPERM, _)))), "TIOCSCTTY steal");
        assert_eq!(fcntl(&with(&[(1, 1024)])), Ok(FcntlUse::OnHostCopy), "F_SETLEASE");
        assert_eq!(fcntl(&with(&[(1, 15)])), Ok(FcntlUse::InOwnPidNamespace(EINVAL, "fcntl command F_SETOWN_EX (15) is refused without a PID namespace of the guest's own: its owner is read from guest memory after the check; use F_SETOWN")));
        assert_eq!(fcntl(&with(&[(1, 8)])), Ok(FcntlUse::NamesProcess));
        assert_eq!(fcntl(&with(&[(1, 9999)])).unwrap_err().0, EINVAL);
        let ip_options = with(&[(1, 0), (2, 4)]);
        assert_eq!(setsockopt(&ip_options, false).unwrap_err().0, EPERM);
        assert_eq!(setsockopt(&ip_options, true), Ok(()));
        assert_eq!(setsockopt(&with(&[(1, 1), (2, 25)]), false).unwrap_err().0, EPERM, "SO_BINDTODEVICE");
        assert_eq!(setsockopt(&with(&[(1, 1), (2, 9999)]), true).unwrap_err().0, ENOPROTOOPT);
        assert_eq!(prctl(&with(&[(0, 59)])).unwrap_err().0, EPERM);
        assert_eq!(prctl(&with(&[(0, 47), (1, 2)])).unwrap_err().0, EPERM, "ambient raise");
        assert_eq!(prctl(&with(&[(0, 47), (1, 4)])), Ok(()), "ambient clear");
        assert_eq!(prctl(&with(&[(0, 1234)])).unwrap_err().0, EINVAL);
    }

    #[test]
    fn the_kind_of_an_fd_comes_from_the_file_the_kernel_holds() {
        let me = crate::sys::own_pid();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(fd_kind(me, file.as_raw_fd()), Some(FdKind::RegularFile));
        assert_eq!(fd_kind(me, socket.as_raw_fd()), Some(FdKind::Socket));
        assert_eq!(fd_kind(me, -1), None);
        assert_eq!(fd_kind(me, 999_999), None);
        let tcgets_on_socket = [socket.as_raw_fd() as u64, 0x5401, 0, 0, 0, 0];
        let (errno, why) = ioctl_on_fd(me, &tcgets_on_socket).unwrap_err();
        assert_eq!(errno, ENOTTY);
        assert!(why.is_empty(), "the kernel's own answer for a terminal request on a socket, not a denial: {why}");
        assert_eq!(ioctl_on_fd(me, &[file.as_raw_fd() as u64, 0x8008_6601, 0, 0, 0, 0]), Ok(()), "FS_IOC_GETFLAGS on a file");
    }
}
