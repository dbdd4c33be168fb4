//! The one table of calls: every x86-64 Linux system call with how the kernel reads each of
//! its arguments ([`Arg`]), its disposition (native, seen by the host, refused), what the
//! policy asks of it ([`Ask`]) and a note, in the spirit of gVisor's syscall table.
//!
//! This table is the single source of truth: the seccomp backstop's allow-list is generated
//! from the [`Disposition::Native`] rows (and, for traced calls that take a request code, from
//! the requests their [`NativeWhen`] names); the trap dispatcher, the seccomp-stop handler and
//! the policy look calls up here; traces show arguments as the signatures say; the path
//! arguments of a call, whether it follows a last symlink and whether it takes
//! `AT_EMPTY_PATH` are read off its signature. It is a `static` built at compile time, so a
//! lookup is an index.

use trapbox_abi::linux::{nr::*, SYSCALL_COUNT};

/// What the host does with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Acts only on resources the guest already holds: the backstop lets it run natively,
    /// and from a trap it runs in the guest through the stub page.
    Native,
    /// Takes a path, an address or reaches beyond the guest: always seen by the host. For now
    /// the host logs it and lets it run; this is where the policy will decide.
    Traced,
    /// Never executed: the guest gets this errno.
    Refuse(i32),
}

/// The requests of a [`Disposition::Traced`] call that the backstop lets run natively all the
/// same: argument tests on the low 32 bits only, for arguments the kernel reads as `int`s
/// (the lists live with the host's allow-lists, in [`crate::decide::requests`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeWhen {
    /// The low word of argument `arg` is one of `codes`.
    Code {
        /// The argument holding the request code.
        arg: usize,
        /// The request codes that run natively.
        codes: &'static [u32],
    },
    /// The low words of arguments `first` and `second` are one of `pairs`.
    CodePair {
        /// The argument holding the first half (setsockopt's level).
        first: usize,
        /// The argument holding the second half (setsockopt's option name).
        second: usize,
        /// The (first, second) pairs that run natively.
        pairs: &'static [(u32, u32)],
    },
    /// The low word of argument `arg`, masked with `mask`, is `value`: flag bits (an open's
    /// flags, an `int`), where only the listed bits may be set beside `value`'s.
    Flags {
        /// The argument holding the flags.
        arg: usize,
        /// The bits tested: every bit but those that may be set freely.
        mask: u32,
        /// What the tested bits must be.
        value: u32,
    },
}

impl NativeWhen {
    /// Whether `args` run natively, as the backstop decides it.
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        use crate::decide::requests::uint_arg;
        match *self {
            NativeWhen::Code { arg, codes } => codes.contains(&uint_arg(args, arg)),
            NativeWhen::CodePair { first, second, pairs } => pairs.contains(&(uint_arg(args, first), uint_arg(args, second))),
            NativeWhen::Flags { arg, mask, value } => uint_arg(args, arg) & mask == value,
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The disposition.
    pub disposition: Disposition,
    /// Why.
    pub note: &'static str,
    /// For a traced call, the requests the backstop still lets run natively.
    pub native_when: Option<NativeWhen>,
    /// How the kernel reads each argument.
    pub args: &'static [Arg],
    /// What the policy asks of it.
    pub ask: Ask,
    /// Its path arguments, read off [`Entry::args`].
    pub paths: PathArgs,
    /// Who performs it under a policy.
    pub route: Route,
    /// Which stop brings it to the host under a policy with `--backend unotify`.
    pub stop: Stop,
}

const fn native(note: &'static str) -> Entry {
    Entry { disposition: Disposition::Native, note, native_when: None, args: &[], ask: Ask::Nothing, paths: NO_PATHS, route: Route::Guest, stop: Stop::Debugger }
}
const fn traced(note: &'static str) -> Entry {
    Entry { disposition: Disposition::Traced, note, native_when: None, args: &[], ask: Ask::Nothing, paths: NO_PATHS, route: Route::Guest, stop: Stop::Debugger }
}
/// Traced, except the harmless, frequent requests `native_when` names.
const fn traced_unless(native_when: NativeWhen, note: &'static str) -> Entry {
    Entry { disposition: Disposition::Traced, note, native_when: Some(native_when), args: &[], ask: Ask::Nothing, paths: NO_PATHS, route: Route::Guest, stop: Stop::Debugger }
}
const fn refuse(errno: i32, note: &'static str) -> Entry {
    Entry { disposition: Disposition::Refuse(errno), note, native_when: None, args: &[], ask: Ask::Nothing, paths: NO_PATHS, route: Route::Guest, stop: Stop::Debugger }
}

/// How the kernel reads one argument (its C type in the kernel's `SYSCALL_DEFINE`), which is
/// also how the host reads it and how a trace shows it. An `int` is the low 32 bits of its
/// register, sign-extended; an `unsigned int` or a flag word the low 32 bits; `umode_t` the
/// low 16; pointers, `long`s and `size_t`s the whole register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// `int fd` (or `unsigned int fd`).
    Fd,
    /// `int dfd` anchoring the path argument right after it (`AT_FDCWD` for the working directory).
    DirFd,
    /// A path the kernel resolves, following a symlink in its last component (unless the
    /// call's flags say otherwise).
    Path,
    /// A path whose last component the kernel never follows (lstat, readlink, unlink, rename,
    /// mkdir, the `l*` calls), unless `AT_SYMLINK_FOLLOW` (linkat) asks for it.
    LinkPath,
    /// A string that names no file: an attribute or module name, a symlink's target.
    Str,
    /// `int`.
    Int,
    /// `unsigned int`.
    UInt,
    /// `long`, `off_t`, `loff_t`.
    Long,
    /// `unsigned long`, `size_t`.
    ULong,
    /// A flag word or request code the kernel reads as an `int` or `unsigned int`.
    Flags,
    /// A flag word the kernel reads as an `unsigned long` (clone, mmap, mremap, unshare…).
    LongFlags,
    /// A pointer into the guest's memory.
    Ptr,
    /// `pid_t`: an `int`, negative for process groups where the call allows it.
    Pid,
    /// A signal number (`int`).
    Signal,
    /// `umode_t`: the low 16 bits.
    Mode,
    /// `uid_t` or `gid_t`: the low 32 bits, `-1` for "unchanged".
    Id,
    /// The `int flags` of an open: `O_NOFOLLOW` keeps the last symlink unfollowed.
    OpenFlags,
    /// `int flags` taking `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`.
    AtFlags,
    /// `int flags` taking `AT_SYMLINK_NOFOLLOW` only.
    NoFollowFlags,
    /// linkat's `int flags`: `AT_SYMLINK_FOLLOW` and `AT_EMPTY_PATH`.
    LinkFlags,
    /// inotify's `u32 mask`: `IN_DONT_FOLLOW` keeps the last symlink unfollowed.
    WatchMask,
    /// A NULL-terminated array of strings (argv, envp).
    Argv,
    /// A `struct sockaddr *`; its length is the next argument.
    SockAddr,
}

impl Arg {
    /// How many low bits of its register the kernel reads.
    const fn width(self) -> u32 {
        match self {
            Arg::Fd | Arg::DirFd | Arg::Int | Arg::Pid | Arg::Signal | Arg::OpenFlags | Arg::AtFlags
            | Arg::NoFollowFlags | Arg::LinkFlags | Arg::UInt | Arg::Flags | Arg::Id | Arg::WatchMask => 32,
            Arg::Mode => 16,
            Arg::Path | Arg::LinkPath | Arg::Str | Arg::Long | Arg::ULong | Arg::LongFlags | Arg::Ptr | Arg::Argv
            | Arg::SockAddr => 64,
        }
    }

    /// Whether the argument is signed (an `int`), so its reading is sign-extended.
    const fn signed(self) -> bool {
        matches!(self, Arg::Fd | Arg::DirFd | Arg::Int | Arg::Pid | Arg::Signal | Arg::OpenFlags | Arg::AtFlags | Arg::NoFollowFlags | Arg::LinkFlags)
    }

    /// The value of a register holding this argument, as the kernel reads it: the low
    /// [`width`](Arg::width) bits, sign-extended for an `int`.
    pub const fn read(self, raw: u64) -> u64 {
        let shift = 64 - self.width();
        if self.signed() {
            (((raw << shift) as i64) >> shift) as u64
        } else {
            (raw << shift) >> shift
        }
    }

    /// Whether the register holds bits the kernel ignores for this argument: neither the
    /// zero- nor the sign-extension of what it reads.
    pub const fn ignores_bits_of(self, raw: u64) -> bool {
        let shift = 64 - self.width();
        raw != (raw << shift) >> shift && raw != ((((raw << shift) as i64) >> shift) as u64)
    }
}

/// The arguments of every call, as the kernel declares them.
const fn known_signature(nr: u64) -> Option<&'static [Arg]> {
    use Arg::*;
    Some(match nr {
        READ | WRITE => &[Fd, Ptr, ULong],
        OPEN => &[Path, OpenFlags, Mode],
        CLOSE | DUP | FSYNC | FDATASYNC | FCHDIR | SYNCFS => &[Fd],
        STAT | STATFS => &[Path, Ptr],
        LSTAT => &[LinkPath, Ptr],
        FSTAT | FSTATFS | TIMERFD_GETTIME => &[Fd, Ptr],
        POLL => &[Ptr, UInt, Int],
        LSEEK => &[Fd, Long, UInt],
        MMAP => &[Ptr, ULong, LongFlags, LongFlags, Fd, ULong],
        MPROTECT => &[Ptr, ULong, LongFlags],
        MUNMAP | MLOCK | MUNLOCK => &[Ptr, ULong],
        BRK | SHMDT | SET_THREAD_AREA | GET_THREAD_AREA | SET_TID_ADDRESS | TIME | PIPE | UNAME | SYSINFO | TIMES
        | ADJTIMEX | _SYSCTL => &[Ptr],
        RT_SIGACTION => &[Signal, Ptr, Ptr, ULong],
        RT_SIGPROCMASK => &[Int, Ptr, Ptr, ULong],
        IOCTL | FCNTL => &[Fd, Flags, LongFlags],
        PREAD64 | PWRITE64 => &[Fd, Ptr, ULong, Long],
        READV | WRITEV => &[Fd, Ptr, ULong],
        ACCESS => &[Path, Int],
        SELECT => &[Int, Ptr, Ptr, Ptr, Ptr],
        MREMAP => &[Ptr, ULong, ULong, LongFlags, Ptr],
        MSYNC | MADVISE => &[Ptr, ULong, Int],
        MINCORE => &[Ptr, ULong, Ptr],
        SHMGET => &[Int, ULong, Flags],
        SHMAT => &[Int, Ptr, Flags],
        SHMCTL | MSGCTL => &[Int, Int, Ptr],
        DUP2 => &[Fd, Fd],
        NANOSLEEP | GETTIMEOFDAY | SETTIMEOFDAY | SIGALTSTACK | CAPGET | CAPSET => &[Ptr, Ptr],
        GETITIMER | GETRUSAGE | CLOCK_SETTIME | CLOCK_GETTIME | CLOCK_GETRES | CLOCK_ADJTIME | TIMER_GETTIME => &[Int, Ptr],
        ALARM | EVENTFD | IOPL | PERSONALITY => &[UInt],
        SETITIMER => &[Int, Ptr, Ptr],
        SENDFILE => &[Fd, Fd, Ptr, ULong],
        SOCKET => &[Int, Int, Int],
        CONNECT | BIND => &[Fd, SockAddr, Int],
        ACCEPT | GETSOCKNAME | GETPEERNAME => &[Fd, Ptr, Ptr],
        SENDTO => &[Fd, Ptr, ULong, Flags, SockAddr, Int],
        RECVFROM => &[Fd, Ptr, ULong, Flags, Ptr, Ptr],
        SENDMSG | RECVMSG => &[Fd, Ptr, Flags],
        SHUTDOWN | LISTEN => &[Fd, Int],
        SOCKETPAIR => &[Int, Int, Int, Ptr],
        SETSOCKOPT => &[Fd, Int, Int, Ptr, Int],
        GETSOCKOPT => &[Fd, Int, Int, Ptr, Ptr],
        CLONE => &[LongFlags, Ptr, Ptr, Ptr, Ptr],
        EXECVE => &[Path, Argv, Argv],
        EXIT | EXIT_GROUP | EPOLL_CREATE | MLOCKALL | SCHED_GET_PRIORITY_MAX | SCHED_GET_PRIORITY_MIN | PKEY_FREE
        | TIMER_GETOVERRUN | TIMER_DELETE => &[Int],
        WAIT4 => &[Pid, Ptr, Int, Ptr],
        KILL | TKILL => &[Pid, Signal],
        SEMGET => &[Int, Int, Flags],
        SEMOP => &[Int, Ptr, UInt],
        SEMCTL => &[Int, Int, Int, ULong],
        MSGGET => &[Int, Flags],
        MSGSND => &[Int, Ptr, ULong, Flags],
        MSGRCV => &[Int, Ptr, ULong, Long, Flags],
        FLOCK => &[Fd, UInt],
        TRUNCATE => &[Path, Long],
        FTRUNCATE => &[Fd, ULong],
        GETDENTS | GETDENTS64 => &[Fd, Ptr, UInt],
        GETCWD => &[Ptr, ULong],
        CHDIR | CHROOT | ACCT | SWAPOFF | USELIB => &[Path],
        RENAME | LINK => &[LinkPath, LinkPath],
        MKDIR => &[LinkPath, Mode],
        RMDIR | UNLINK => &[LinkPath],
        CREAT | CHMOD => &[Path, Mode],
        SYMLINK => &[Str, LinkPath],
        READLINK => &[LinkPath, Ptr, Int],
        FCHMOD => &[Fd, Mode],
        CHOWN => &[Path, Id, Id],
        FCHOWN => &[Fd, Id, Id],
        LCHOWN => &[LinkPath, Id, Id],
        UMASK => &[Mode],
        GETRLIMIT | SETRLIMIT => &[UInt, Ptr],
        PTRACE => &[Long, Pid, Ptr, Ptr],
        SYSLOG => &[Int, Ptr, Int],
        SETUID | SETGID | SETFSUID | SETFSGID => &[Id],
        SETREUID | SETREGID => &[Id, Id],
        SETRESUID | SETRESGID => &[Id, Id, Id],
        GETRESUID | GETRESGID | GETCPU => &[Ptr, Ptr, Ptr],
        SETPGID => &[Pid, Pid],
        GETPGID | GETSID | SCHED_GETSCHEDULER => &[Pid],
        GETGROUPS | SETGROUPS => &[Int, Ptr],
        RT_SIGPENDING | RT_SIGSUSPEND | SET_ROBUST_LIST => &[Ptr, ULong],
        RT_SIGTIMEDWAIT => &[Ptr, Ptr, Ptr, ULong],
        RT_SIGQUEUEINFO => &[Pid, Signal, Ptr],
        UTIME | UTIMES => &[Path, Ptr],
        MKNOD => &[LinkPath, Mode, UInt],
        USTAT => &[UInt, Ptr],
        SYSFS => &[Int, ULong, ULong],
        GETPRIORITY | IOPRIO_GET => &[Int, Int],
        SETPRIORITY | IOPRIO_SET => &[Int, Int, Int],
        SCHED_SETPARAM | SCHED_GETPARAM | SCHED_RR_GET_INTERVAL => &[Pid, Ptr],
        SCHED_SETSCHEDULER => &[Pid, Int, Ptr],
        MODIFY_LDT => &[Int, Ptr, ULong],
        PIVOT_ROOT => &[Path, Path],
        PRCTL => &[Int, LongFlags, LongFlags, LongFlags, LongFlags],
        ARCH_PRCTL => &[Int, Ptr],
        MOUNT => &[Str, Path, Str, LongFlags, Ptr],
        UMOUNT2 => &[Path, Flags],
        SWAPON => &[Path, Flags],
        REBOOT => &[Int, Int, UInt, Ptr],
        SETHOSTNAME | SETDOMAINNAME => &[Str, Int],
        IOPERM => &[ULong, ULong, Int],
        INIT_MODULE => &[Ptr, ULong, Str],
        DELETE_MODULE => &[Str, Flags],
        QUOTACTL => &[UInt, Str, Id, Ptr],
        READAHEAD => &[Fd, Long, ULong],
        SETXATTR => &[Path, Str, Ptr, ULong, Flags],
        LSETXATTR => &[LinkPath, Str, Ptr, ULong, Flags],
        FSETXATTR => &[Fd, Str, Ptr, ULong, Flags],
        GETXATTR => &[Path, Str, Ptr, ULong],
        LGETXATTR => &[LinkPath, Str, Ptr, ULong],
        FGETXATTR => &[Fd, Str, Ptr, ULong],
        LISTXATTR => &[Path, Ptr, ULong],
        LLISTXATTR => &[LinkPath, Ptr, ULong],
        FLISTXATTR => &[Fd, Ptr, ULong],
        REMOVEXATTR => &[Path, Str],
        LREMOVEXATTR => &[LinkPath, Str],
        FREMOVEXATTR => &[Fd, Str],
        FUTEX => &[Ptr, Int, UInt, Ptr, Ptr, UInt],
        SCHED_SETAFFINITY | SCHED_GETAFFINITY => &[Pid, UInt, Ptr],
        IO_SETUP => &[UInt, Ptr],
        IO_DESTROY => &[ULong],
        IO_GETEVENTS => &[ULong, Long, Long, Ptr, Ptr],
        IO_SUBMIT => &[ULong, Long, Ptr],
        IO_CANCEL => &[ULong, Ptr, Ptr],
        LOOKUP_DCOOKIE => &[ULong, Ptr, ULong],
        REMAP_FILE_PAGES => &[Ptr, ULong, ULong, ULong, LongFlags],
        SEMTIMEDOP => &[Int, Ptr, UInt, Ptr],
        FADVISE64 => &[Fd, Long, ULong, Int],
        TIMER_CREATE => &[Int, Ptr, Ptr],
        TIMER_SETTIME => &[Int, Flags, Ptr, Ptr],
        CLOCK_NANOSLEEP => &[Int, Flags, Ptr, Ptr],
        EPOLL_WAIT => &[Fd, Ptr, Int, Int],
        EPOLL_CTL => &[Fd, Int, Fd, Ptr],
        TGKILL => &[Pid, Pid, Signal],
        MBIND => &[Ptr, ULong, ULong, Ptr, ULong, Flags],
        SET_MEMPOLICY => &[Int, Ptr, ULong],
        GET_MEMPOLICY => &[Ptr, Ptr, ULong, Ptr, LongFlags],
        MQ_OPEN => &[Str, OpenFlags, Mode, Ptr],
        MQ_UNLINK => &[Str],
        MQ_TIMEDSEND => &[Fd, Ptr, ULong, UInt, Ptr],
        MQ_TIMEDRECEIVE => &[Fd, Ptr, ULong, Ptr, Ptr],
        MQ_NOTIFY => &[Fd, Ptr],
        MQ_GETSETATTR => &[Fd, Ptr, Ptr],
        KEXEC_LOAD => &[ULong, ULong, Ptr, LongFlags],
        WAITID => &[Int, Pid, Ptr, Flags, Ptr],
        ADD_KEY => &[Str, Str, Ptr, ULong, Int],
        REQUEST_KEY => &[Str, Str, Str, Int],
        KEYCTL => &[Int, ULong, ULong, ULong, ULong],
        INOTIFY_ADD_WATCH => &[Fd, Path, WatchMask],
        INOTIFY_RM_WATCH => &[Fd, Int],
        MIGRATE_PAGES => &[Pid, ULong, Ptr, Ptr],
        OPENAT => &[DirFd, Path, OpenFlags, Mode],
        MKDIRAT => &[DirFd, LinkPath, Mode],
        MKNODAT => &[DirFd, LinkPath, Mode, UInt],
        FCHOWNAT => &[DirFd, Path, Id, Id, AtFlags],
        FUTIMESAT => &[DirFd, Path, Ptr],
        NEWFSTATAT => &[DirFd, Path, Ptr, AtFlags],
        UNLINKAT => &[DirFd, LinkPath, Flags],
        RENAMEAT => &[DirFd, LinkPath, DirFd, LinkPath],
        LINKAT => &[DirFd, LinkPath, DirFd, LinkPath, LinkFlags],
        SYMLINKAT => &[Str, DirFd, LinkPath],
        READLINKAT => &[DirFd, LinkPath, Ptr, Int],
        FCHMODAT => &[DirFd, Path, Mode],
        FACCESSAT => &[DirFd, Path, Int],
        PSELECT6 => &[Int, Ptr, Ptr, Ptr, Ptr, Ptr],
        PPOLL => &[Ptr, UInt, Ptr, Ptr, ULong],
        UNSHARE => &[LongFlags],
        GET_ROBUST_LIST => &[Pid, Ptr, Ptr],
        SPLICE => &[Fd, Ptr, Fd, Ptr, ULong, Flags],
        TEE => &[Fd, Fd, ULong, Flags],
        SYNC_FILE_RANGE => &[Fd, Long, Long, Flags],
        VMSPLICE => &[Fd, Ptr, ULong, Flags],
        MOVE_PAGES => &[Pid, ULong, Ptr, Ptr, Ptr, Flags],
        UTIMENSAT => &[DirFd, Path, Ptr, NoFollowFlags],
        EPOLL_PWAIT => &[Fd, Ptr, Int, Int, Ptr, ULong],
        SIGNALFD => &[Fd, Ptr, ULong],
        TIMERFD_CREATE => &[Int, Flags],
        FALLOCATE => &[Fd, Int, Long, Long],
        TIMERFD_SETTIME => &[Fd, Flags, Ptr, Ptr],
        ACCEPT4 => &[Fd, Ptr, Ptr, Flags],
        SIGNALFD4 => &[Fd, Ptr, ULong, Flags],
        EVENTFD2 => &[UInt, Flags],
        EPOLL_CREATE1 | INOTIFY_INIT1 | USERFAULTFD | MEMFD_SECRET => &[Flags],
        DUP3 => &[Fd, Fd, Flags],
        PIPE2 => &[Ptr, Flags],
        PREADV | PWRITEV => &[Fd, Ptr, ULong, ULong, ULong],
        RT_TGSIGQUEUEINFO => &[Pid, Pid, Signal, Ptr],
        PERF_EVENT_OPEN => &[Ptr, Pid, Int, Fd, LongFlags],
        RECVMMSG => &[Fd, Ptr, UInt, Flags, Ptr],
        FANOTIFY_INIT => &[Flags, Flags],
        FANOTIFY_MARK => &[Fd, Flags, LongFlags, DirFd, Path],
        PRLIMIT64 => &[Pid, UInt, Ptr, Ptr],
        NAME_TO_HANDLE_AT => &[DirFd, Path, Ptr, Ptr, AtFlags],
        OPEN_BY_HANDLE_AT => &[Fd, Ptr, OpenFlags],
        SENDMMSG => &[Fd, Ptr, UInt, Flags],
        SETNS => &[Fd, Int],
        PROCESS_VM_READV | PROCESS_VM_WRITEV => &[Pid, Ptr, ULong, Ptr, ULong, LongFlags],
        KCMP => &[Pid, Pid, Int, ULong, ULong],
        FINIT_MODULE => &[Fd, Str, Flags],
        SCHED_SETATTR => &[Pid, Ptr, Flags],
        SCHED_GETATTR => &[Pid, Ptr, UInt, Flags],
        RENAMEAT2 => &[DirFd, LinkPath, DirFd, LinkPath, Flags],
        SECCOMP => &[UInt, Flags, Ptr],
        GETRANDOM => &[Ptr, ULong, Flags],
        MEMFD_CREATE => &[Str, Flags],
        KEXEC_FILE_LOAD => &[Fd, Fd, ULong, Str, LongFlags],
        BPF => &[Int, Ptr, UInt],
        EXECVEAT => &[DirFd, Path, Argv, Argv, AtFlags],
        MEMBARRIER => &[Int, Flags, Int],
        MLOCK2 => &[Ptr, ULong, Flags],
        COPY_FILE_RANGE => &[Fd, Ptr, Fd, Ptr, ULong, Flags],
        PREADV2 | PWRITEV2 => &[Fd, Ptr, ULong, ULong, ULong, Flags],
        PKEY_MPROTECT => &[Ptr, ULong, LongFlags, Int],
        PKEY_ALLOC => &[ULong, ULong],
        STATX => &[DirFd, Path, AtFlags, Flags, Ptr],
        IO_PGETEVENTS => &[ULong, Long, Long, Ptr, Ptr, Ptr],
        RSEQ => &[Ptr, UInt, Flags, UInt],
        PIDFD_SEND_SIGNAL => &[Fd, Signal, Ptr, Flags],
        IO_URING_SETUP => &[UInt, Ptr],
        IO_URING_ENTER => &[Fd, UInt, UInt, Flags, Ptr, ULong],
        IO_URING_REGISTER => &[Fd, UInt, Ptr, UInt],
        OPEN_TREE | FSPICK => &[DirFd, Path, Flags],
        MOVE_MOUNT => &[DirFd, Path, DirFd, Path, Flags],
        FSOPEN => &[Str, Flags],
        FSCONFIG => &[Fd, UInt, Str, Ptr, Int],
        FSMOUNT => &[Fd, Flags, Flags],
        PIDFD_OPEN => &[Pid, Flags],
        CLONE3 => &[Ptr, ULong],
        CLOSE_RANGE => &[UInt, UInt, Flags],
        OPENAT2 => &[DirFd, Path, Ptr, ULong],
        PIDFD_GETFD => &[Fd, Int, Flags],
        FACCESSAT2 => &[DirFd, Path, Int, AtFlags],
        PROCESS_MADVISE => &[Fd, Ptr, ULong, Int, Flags],
        EPOLL_PWAIT2 => &[Fd, Ptr, Int, Ptr, Ptr, ULong],
        MOUNT_SETATTR => &[DirFd, Path, Flags, Ptr, ULong],
        QUOTACTL_FD => &[Fd, UInt, Id, Ptr],
        LANDLOCK_CREATE_RULESET => &[Ptr, ULong, Flags],
        LANDLOCK_ADD_RULE => &[Fd, UInt, Ptr, Flags],
        LANDLOCK_RESTRICT_SELF | PROCESS_MRELEASE => &[Fd, Flags],
        FUTEX_WAITV => &[Ptr, UInt, Flags, Ptr, Int],
        SET_MEMPOLICY_HOME_NODE => &[ULong, ULong, ULong, LongFlags],
        CACHESTAT => &[Fd, Ptr, Ptr, Flags],
        FCHMODAT2 => &[DirFd, Path, Mode, NoFollowFlags],
        MAP_SHADOW_STACK => &[Ptr, ULong, Flags],
        FUTEX_WAKE => &[Ptr, ULong, Int, Flags],
        FUTEX_WAIT => &[Ptr, ULong, ULong, Flags, Ptr, Int],
        FUTEX_REQUEUE => &[Ptr, Flags, Int, Int],
        STATMOUNT | LISTMOUNT => &[Ptr, Ptr, ULong, Flags],
        LSM_GET_SELF_ATTR => &[UInt, Ptr, Ptr, Flags],
        LSM_SET_SELF_ATTR => &[UInt, Ptr, ULong, Flags],
        LSM_LIST_MODULES => &[Ptr, Ptr, Flags],
        MSEAL => &[Ptr, ULong, LongFlags],
        SETXATTRAT | GETXATTRAT => &[DirFd, Path, AtFlags, Str, Ptr, ULong],
        LISTXATTRAT => &[DirFd, Path, AtFlags, Ptr, ULong],
        REMOVEXATTRAT => &[DirFd, Path, AtFlags, Str],
        OPEN_TREE_ATTR => &[DirFd, Path, Flags, Ptr, ULong],
        FILE_GETATTR | FILE_SETATTR => &[DirFd, Path, Ptr, ULong, AtFlags],
        GETPID | GETTID | GETPPID | GETUID | GETGID | GETEUID | GETEGID | GETPGRP | SETSID | FORK | VFORK
        | SCHED_YIELD | PAUSE | SYNC | MUNLOCKALL | VHANGUP | INOTIFY_INIT | RT_SIGRETURN | RESTART_SYSCALL
        | CREATE_MODULE | GET_KERNEL_SYMS | QUERY_MODULE | NFSSERVCTL | GETPMSG | PUTPMSG | AFS_SYSCALL | TUXCALL
        | SECURITY | VSERVER | EPOLL_CTL_OLD | EPOLL_WAIT_OLD => &[],
        _ => return None,
    })
}

/// What a trace shows for a number no row describes: six registers.
const UNKNOWN: &[Arg] = &[Arg::ULong; 6];

/// The access a path call needs of the grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Read (an `O_PATH` open: every other open is decided by directfs).
    Read,
    /// Write: the calls that create, remove, rename or change a file.
    Write,
    /// Execute.
    Exec,
    /// Metadata of the path (stat, access, readlink…): read access; outside every grant the
    /// path is reported as absent, so its existence does not leak.
    Metadata,
    /// A watch (inotify_add_watch): read access to the watched path itself. More than a look:
    /// a watch on a directory reports the names and opens of everything in it, so the
    /// directories leading to a grant, which may be looked at, may not be watched.
    Watch,
}

/// The allow-lists of request codes (in [`crate::decide::requests`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requests {
    /// ioctl: per request, and per kind of fd for the requests that depend on it.
    Ioctl,
    /// fcntl: the commands acting on the fd alone; owners name a process.
    Fcntl,
    /// prctl: per option.
    Prctl,
    /// memfd_create: never executable.
    Memfd,
    /// seccomp: a filter of the guest's own may only restrict it further.
    Seccomp,
}

/// What the policy asks of a call under a policy (the host's decision; Landlock, the
/// namespaces and the backstop lie underneath it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Nothing: it reaches nothing the guest does not already hold, or the kernel confines it
    /// (the guest's own namespaces, Landlock).
    Nothing,
    /// An open that directfs's filter meets wherever it comes from (the stub's `syscall`
    /// included): decided and performed there.
    Directfs,
    /// Its path arguments need this access of the grants.
    Path(Need),
    /// The process (pid) at this argument must be a guest's.
    GuestTarget(usize),
    /// A signal through the pidfd at argument 0: it must name a guest process.
    PidfdTarget,
    /// A change to the metadata of the file behind the fd at argument 0: needs write access
    /// to it; the broker performs it on its own duplicate.
    FdMetadata,
    /// The network policy decides the socket, its address or its option.
    Network,
    /// An allow-list of request codes decides.
    Request(Requests),
    /// Safe in the guest's own namespaces, which the kernel keeps apart from the host's (its
    /// IPC objects, its host name): allowed there; refused without them
    /// (`--no-namespaces`), for the reason given.
    OwnNamespace(&'static str),
    /// A mount or an unmount in the guest's own mount namespace, which the host decides and
    /// init makes ([`crate::decide::mounts`]); refused without the namespaces.
    Mount,
    /// Refused under a policy, with this errno and reason.
    Refuse(i32, &'static str),
}

const EACCES: i32 = trapbox_abi::errno::EACCES;

const fn policy_question(nr: u64, disposition: Disposition) -> Ask {
    use Need::*;
    match nr {
        OPEN | OPENAT => Ask::Path(Read),
        EXECVE | EXECVEAT => Ask::Path(Exec),
        MKDIR | RMDIR | UNLINK | MKNOD | TRUNCATE | CHMOD | CHOWN | LCHOWN | UTIME | UTIMES | SETXATTR | LSETXATTR
        | REMOVEXATTR | LREMOVEXATTR | MKDIRAT | UNLINKAT | MKNODAT | FCHMODAT | FCHMODAT2 | FCHOWNAT | FUTIMESAT
        | UTIMENSAT | RENAME | LINK | RENAMEAT | RENAMEAT2 | LINKAT | SYMLINK | SYMLINKAT | SETXATTRAT | REMOVEXATTRAT
        | FILE_SETATTR => Ask::Path(Write),
        STAT | LSTAT | ACCESS | READLINK | STATFS | CHDIR | GETXATTR | LGETXATTR | LISTXATTR | LLISTXATTR | NEWFSTATAT
        | STATX | FACCESSAT | FACCESSAT2 | READLINKAT | GETXATTRAT | LISTXATTRAT | FILE_GETATTR => Ask::Path(Metadata),
        INOTIFY_ADD_WATCH => Ask::Path(Watch),
        OPENAT2 | CREAT => Ask::Directfs,
        CLONE | CLONE3 | FORK | VFORK | GETCWD | FCHDIR | SYNC | SYNCFS | UNAME | SYSINFO | SETPGID | SETSID | SETRLIMIT
        | SETPRIORITY | SCHED_SETAFFINITY | SCHED_SETPARAM | SCHED_SETSCHEDULER | SCHED_SETATTR | IOPRIO_SET
        | IOPRIO_GET | PERSONALITY | SETUID | SETGID | SETREUID | SETREGID | SETRESUID | SETRESGID | SETFSUID
        | SETFSGID | SETGROUPS | CAPSET | IO_SETUP | IO_DESTROY | IO_GETEVENTS | IO_SUBMIT | IO_CANCEL | IO_PGETEVENTS
        | LANDLOCK_CREATE_RULESET | LANDLOCK_ADD_RULE | LANDLOCK_RESTRICT_SELF | LSM_GET_SELF_ATTR | LSM_LIST_MODULES
        | GET_THREAD_AREA | SET_THREAD_AREA | MBIND | SET_MEMPOLICY | GET_MEMPOLICY | SET_MEMPOLICY_HOME_NODE
        | REMAP_FILE_PAGES | CACHESTAT | MEMFD_SECRET => Ask::Nothing,
        PRCTL => Ask::Request(Requests::Prctl),
        IOCTL => Ask::Request(Requests::Ioctl),
        FCNTL => Ask::Request(Requests::Fcntl),
        MEMFD_CREATE => Ask::Request(Requests::Memfd),
        SECCOMP => Ask::Request(Requests::Seccomp),
        KILL | TKILL | TGKILL | PIDFD_OPEN | RT_SIGQUEUEINFO | RT_TGSIGQUEUEINFO | PRLIMIT64 | MIGRATE_PAGES
        | MOVE_PAGES | PROCESS_VM_READV | PROCESS_VM_WRITEV | KCMP => Ask::GuestTarget(0),
        // A pidfd may also come from opening a /proc/PID directory: the host checks whose it is.
        PIDFD_SEND_SIGNAL => Ask::PidfdTarget,
        // In the guest's own PID namespace a pidfd names a guest process or trapbox's init,
        // which the kernel will not let the guest inspect (it is not dumpable).
        PIDFD_GETFD => Ask::OwnNamespace("takes fds out of another process, which may be the host's (no PID namespace of the guest's own)"),
        FCHMOD | FCHOWN | FSETXATTR | FREMOVEXATTR => Ask::FdMetadata,
        SOCKET | CONNECT | BIND | SENDTO | SENDMSG | SENDMMSG | LISTEN | SETSOCKOPT => Ask::Network,
        SHMGET | SHMAT | SHMCTL | SHMDT | SEMGET | SEMOP | SEMCTL | SEMTIMEDOP | MSGGET | MSGSND | MSGRCV | MSGCTL
        | MQ_OPEN | MQ_UNLINK | MQ_TIMEDSEND | MQ_TIMEDRECEIVE | MQ_NOTIFY | MQ_GETSETATTR => {
            Ask::OwnNamespace("System V and POSIX IPC objects would be shared with the host's IPC namespace")
        }
        SETHOSTNAME | SETDOMAINNAME => Ask::OwnNamespace("it would rename the host (no UTS namespace of the guest's own)"),
        UNSHARE | SETNS => Ask::OwnNamespace("the guest has no namespaces of its own for new ones to nest in"),
        MOUNT | UMOUNT2 => Ask::Mount,
        ADD_KEY | REQUEST_KEY | KEYCTL => {
            Ask::OwnNamespace("keys would be the invoker's: its session keyring, and its user keyring (no user namespace of the guest's own)")
        }
        STATMOUNT | LISTMOUNT | LSM_SET_SELF_ATTR | PROCESS_MADVISE | PROCESS_MRELEASE => {
            Ask::Refuse(EPERM, "reaches beyond the guest's own processes and files")
        }
        // A native row acts only on what the guest holds: nothing to ask.
        _ if matches!(disposition, Disposition::Native) => Ask::Nothing,
        _ => Ask::Refuse(EACCES, "the policy names no rule for this call"),
    }
}

/// Who performs a call under a policy once the policy allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The kernel, in the guest: natively, through the stub page, or let through after a stop
    /// with its path arguments pinned ([`crate::trap::pinned`]).
    Guest,
    /// directfs: the host opens the file and hands the guest an fd (`O_PATH` opens, which
    /// the kernel will not hand over, are made by the guest on the pinned path).
    Directfs,
    /// The broker changes the metadata of the file at the path, beneath the grant (through
    /// the fd when the call acts on its dirfd: [`acts_on_dirfd`]).
    BrokerChange,
    /// The broker answers a metadata query at the path (the kernel answers one on an fd).
    BrokerQuery,
    /// The broker creates, removes or renames names in directories it opened beneath the grants.
    BrokerNames,
    /// The broker changes the metadata of the file behind the fd, on its own duplicate.
    BrokerFd,
    /// The network policy decides on the host's copy of the address, and the host performs
    /// the calls the kernel must not re-read ([`crate::decide::netpolicy`]).
    Network,
}

const fn route(nr: u64) -> Route {
    match nr {
        OPEN | OPENAT | OPENAT2 | CREAT => Route::Directfs,
        CHMOD | CHOWN | LCHOWN | UTIME | UTIMES | SETXATTR | LSETXATTR | REMOVEXATTR | LREMOVEXATTR | TRUNCATE
        | FCHMODAT | FCHMODAT2 | FUTIMESAT | FCHOWNAT | UTIMENSAT => Route::BrokerChange,
        STAT | LSTAT | ACCESS | STATFS | READLINK | GETXATTR | LGETXATTR | LISTXATTR | LLISTXATTR | NEWFSTATAT
        | FACCESSAT | FACCESSAT2 | STATX | READLINKAT => Route::BrokerQuery,
        MKDIR | RMDIR | UNLINK | MKNOD | MKDIRAT | UNLINKAT | MKNODAT | RENAME | LINK | RENAMEAT | RENAMEAT2 | LINKAT
        | SYMLINK | SYMLINKAT => Route::BrokerNames,
        FCHMOD | FCHOWN | FSETXATTR | FREMOVEXATTR => Route::BrokerFd,
        SOCKET | CONNECT | BIND | SENDTO | SENDMSG | SENDMMSG | LISTEN | SETSOCKOPT => Route::Network,
        _ => Route::Guest,
    }
}

/// Which of the host's stops serves a call the backstop does not run natively, under a policy
/// with the unotify backend (`trapbox run --backend unotify`; with `--backend ptrace` every
/// such call but the opens is a ptrace stop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A ptrace stop of the debugger: the call needs the guest's registers changed (pinned
    /// arguments, the stub page, a skipped call), follows exec, clone or signals, or is
    /// decided on the debugger's own state (the guest's processes and threads).
    Debugger,
    /// A user notification served by the host's pool of notification threads
    /// ([`crate::perform::unotify`], opens by [`crate::perform::directfs`]): the host decides on
    /// its copy of the arguments and answers, writing results into guest memory itself, or lets
    /// a call that has no pointer the kernel would read run on; the guest's registers never
    /// change, so no ptrace stop and no CPU to share with the debugger.
    Notification,
}

/// The calls the notification pool serves: the opens (always, [`Route::Directfs`]), the
/// metadata queries the broker answers on its own copy of the path (reading the path once,
/// resolving and opening beneath the grant, writing the result), and calls the policy lets
/// run that carry no pointer the kernel reads (a working-directory change by fd, the working
/// directory's name, the host's identity, a sync). Everything else stays on ptrace: path
/// calls the kernel runs on a pinned copy (chdir, exec), calls that make tasks or follow
/// signals, calls decided on the guest's processes, and socket calls whose address the kernel
/// reads from pinned memory. (The changes the broker performs would fit too; they are rare in
/// the workloads measured and stay on ptrace for now.)
const fn stop(nr: u64, route: Route) -> Stop {
    match route {
        Route::Directfs | Route::BrokerQuery => Stop::Notification,
        Route::Guest if matches!(nr, FCHDIR | GETCWD | UNAME | SYSINFO | SYNC | SYNCFS) => Stop::Notification,
        _ => Stop::Debugger,
    }
}

/// A path argument: the index of its `dirfd` argument (if any) and of the path pointer.
pub type PathArg = (Option<usize>, usize);

/// The path arguments of a call, found in its signature: each [`Arg::Path`] or
/// [`Arg::LinkPath`], anchored by the [`Arg::DirFd`] right before it.
#[derive(Clone, Copy, Debug)]
pub struct PathArgs {
    list: [PathArg; 2],
    len: usize,
}

impl PathArgs {
    const fn of(args: &[Arg]) -> PathArgs {
        let mut out = PathArgs { list: [(None, 0); 2], len: 0 };
        let mut i = 0;
        while i < args.len() {
            if matches!(args[i], Arg::Path | Arg::LinkPath) && out.len < 2 {
                let dirfd = if i > 0 && matches!(args[i - 1], Arg::DirFd) { Some(i - 1) } else { None };
                out.list[out.len] = (dirfd, i);
                out.len += 1;
            }
            i += 1;
        }
        out
    }

    /// The (dirfd argument, path argument) pairs, in argument order.
    pub fn as_slice(&self) -> &[PathArg] {
        &self.list[..self.len]
    }
}

const EPERM: i32 = trapbox_abi::errno::EPERM;
const ENOSYS: i32 = trapbox_abi::errno::ENOSYS;

const fn classify(nr: u64) -> Entry {
    match nr {
        READ | WRITE | READV | WRITEV | PREAD64 | PWRITE64 | PREADV | PWRITEV | PREADV2 | PWRITEV2 | LSEEK => {
            native("IO on an fd the guest holds")
        }
        CLOSE | DUP | DUP2 | DUP3 | CLOSE_RANGE | FLOCK => native("manages fds the guest holds"),
        FSTAT | FSTATFS | GETDENTS | GETDENTS64 | FADVISE64 | READAHEAD | FSYNC | FDATASYNC | SYNC_FILE_RANGE
        | FTRUNCATE | FALLOCATE | FCHMOD | FCHOWN | FGETXATTR | FLISTXATTR => native("acts on an open fd only"),
        PIPE | PIPE2 | EVENTFD | EVENTFD2 | SOCKETPAIR | MEMFD_CREATE | EPOLL_CREATE | EPOLL_CREATE1
        | TIMERFD_CREATE | SIGNALFD | SIGNALFD4 | INOTIFY_INIT | INOTIFY_INIT1 => {
            native("creates a new anonymous fd, reaching nothing outside the guest")
        }
        POLL | PPOLL | SELECT | PSELECT6 | EPOLL_WAIT | EPOLL_PWAIT | EPOLL_PWAIT2 | EPOLL_CTL | TIMERFD_SETTIME
        | TIMERFD_GETTIME | INOTIFY_RM_WATCH => native("waits on or configures fds the guest holds"),
        SENDFILE | SPLICE | TEE | VMSPLICE | COPY_FILE_RANGE => native("moves data between fds the guest holds"),
        RECVFROM | RECVMSG | RECVMMSG | SHUTDOWN | GETSOCKNAME | GETPEERNAME | GETSOCKOPT | ACCEPT | ACCEPT4 => {
            native("socket operation on a socket the guest holds")
        }
        LISTEN => native("socket operation on a socket the guest holds (under a policy the host checks the binding)"),
        MMAP | MUNMAP | MPROTECT | MREMAP | MADVISE | MSYNC | MINCORE | BRK | MLOCK | MLOCK2 | MUNLOCK
        | MLOCKALL | MUNLOCKALL | PKEY_MPROTECT | PKEY_ALLOC | PKEY_FREE | MSEAL | MAP_SHADOW_STACK => {
            native("the guest's own memory (a file mapping needs an fd it already holds)")
        }
        FUTEX | FUTEX_WAITV | FUTEX_WAKE | FUTEX_WAIT | FUTEX_REQUEUE | SET_ROBUST_LIST | GET_ROBUST_LIST
        | SET_TID_ADDRESS | RSEQ | MEMBARRIER => native("thread synchronisation inside the guest"),
        CLOCK_GETTIME | CLOCK_GETRES | CLOCK_NANOSLEEP | GETTIMEOFDAY | TIME | NANOSLEEP | TIMES | GETITIMER
        | SETITIMER | ALARM | TIMER_CREATE | TIMER_SETTIME | TIMER_GETTIME | TIMER_GETOVERRUN | TIMER_DELETE => {
            native("clocks and the guest's own timers")
        }
        EXIT | EXIT_GROUP => native("ends the calling thread or process"),
        RT_SIGACTION | RT_SIGPROCMASK | RT_SIGRETURN | SIGALTSTACK | RT_SIGPENDING | RT_SIGSUSPEND
        | RT_SIGTIMEDWAIT | PAUSE | RESTART_SYSCALL => native("the guest's own signal state"),
        SCHED_YIELD | SCHED_GETAFFINITY | SCHED_GETPARAM | SCHED_GETSCHEDULER | SCHED_GET_PRIORITY_MAX
        | SCHED_GET_PRIORITY_MIN | SCHED_RR_GET_INTERVAL | SCHED_GETATTR | GETCPU | GETPRIORITY => {
            native("scheduler queries about the guest itself")
        }
        GETPPID | GETUID | GETGID | GETEUID | GETEGID | GETRESUID | GETRESGID | GETGROUPS | GETPGRP | GETPGID
        | GETSID | GETRLIMIT | GETRUSAGE | UMASK | CAPGET => native("a query about the guest's own credentials or limits"),
        ARCH_PRCTL => native("sets the calling thread's FS/GS base"),
        GETRANDOM => native("entropy; reaches no resource"),
        WAIT4 | WAITID => native("waits for the guest's own children (all of them guests)"),
        FORK | VFORK => native("the child is auto-attached by PTRACE_O_TRACEFORK/VFORK"),

        // In its own PID namespace the kernel's numbers are the guest's; without one they
        // are the host's, which is what the guest sees natively too.
        GETPID | GETTID => native("the caller's own ids"),

        // The child is traced from its first instruction either way (PTRACE_O_TRACECLONE and
        // friends), and the host learns of it at the fork event; only CLONE_UNTRACED needs the
        // host's judgment (the kernel reads the low word of the flags).
        CLONE => traced_unless(
            NativeWhen::Flags { arg: 0, mask: CLONE_UNTRACED_FLAG, value: 0 },
            "the host checks the flags: CLONE_UNTRACED would escape the debugger (the rest run natively, the child auto-attached)",
        ),
        EXECVE | EXECVEAT => traced("loads a program: the host reloads the trap tables and the stub page"),
        OPEN | OPENAT | OPENAT2 | CREAT | STAT | LSTAT | NEWFSTATAT | STATX | ACCESS | FACCESSAT | FACCESSAT2
        | READLINK | READLINKAT | TRUNCATE | CHDIR | GETCWD | STATFS | UTIME | UTIMES | FUTIMESAT | UTIMENSAT => {
            traced("takes a path: the policy decides")
        }
        MKDIR | MKDIRAT | RMDIR | UNLINK | UNLINKAT | RENAME | RENAMEAT | RENAMEAT2 | LINK | LINKAT | SYMLINK
        | SYMLINKAT | CHMOD | FCHMODAT | FCHMODAT2 | CHOWN | LCHOWN | FCHOWNAT | MKNOD | MKNODAT => {
            traced("changes the file system at a path: the policy decides")
        }
        SETXATTR | LSETXATTR | FSETXATTR | GETXATTR | LGETXATTR | LISTXATTR | LLISTXATTR | REMOVEXATTR
        | LREMOVEXATTR | FREMOVEXATTR | SETXATTRAT | GETXATTRAT | LISTXATTRAT | REMOVEXATTRAT | FILE_GETATTR
        | FILE_SETATTR | INOTIFY_ADD_WATCH | FANOTIFY_MARK => traced("extended attributes or watches by path"),
        FCHDIR | SYNC | SYNCFS => traced("process-wide file-system state"),
        SOCKET | CONNECT | BIND | SENDTO | SENDMSG | SENDMMSG => {
            traced("reaches the network or carries an address or fds: the policy decides")
        }
        IOCTL => traced_unless(
            NativeWhen::Code { arg: 1, codes: crate::decide::requests::IOCTL_NATIVE },
            "device control: an allow-list per kind of fd decides each request (TIOCSTI and friends are refused)",
        ),
        FCNTL => traced_unless(
            NativeWhen::Code { arg: 1, codes: crate::decide::requests::FCNTL_NATIVE },
            "fd control: the commands that act on the fd alone run natively; leases, dnotify and owners are decided",
        ),
        SETSOCKOPT => traced_unless(
            NativeWhen::CodePair { first: 1, second: 2, pairs: crate::decide::requests::SETSOCKOPT_NATIVE },
            "socket options: an allow-list decides; source routing, device binding and filters are refused",
        ),
        KILL | TKILL | TGKILL | RT_SIGQUEUEINFO | RT_TGSIGQUEUEINFO | PIDFD_SEND_SIGNAL | PIDFD_OPEN | PIDFD_GETFD => {
            traced("signals or handles on other processes")
        }
        SETUID | SETGID | SETREUID | SETREGID | SETRESUID | SETRESGID | SETFSUID | SETFSGID | SETGROUPS | CAPSET
        | SETPGID | SETSID | SETRLIMIT | SETPRIORITY | SCHED_SETAFFINITY | SCHED_SETPARAM
        | SCHED_SETSCHEDULER | SCHED_SETATTR | IOPRIO_SET | IOPRIO_GET | PERSONALITY => {
            traced("changes credentials, limits or scheduling")
        }
        // glibc's getrlimit is prlimit64(0, resource, NULL, old), in every program's start.
        PRLIMIT64 => traced_unless(
            NativeWhen::Code { arg: 0, codes: &[0] },
            "limits of a process: the caller's own (pid 0) run natively, as the host would let them; another's is decided",
        ),
        PRCTL => traced_unless(
            NativeWhen::Code { arg: 0, codes: crate::decide::requests::PRCTL_NATIVE },
            "many options: an allow-list decides; PR_SET_SECCOMP and syscall user dispatch are refused (queries run natively)",
        ),
        UNAME | SYSINFO => traced("host identity: the policy may virtualise it"),
        SHMGET | SHMAT | SHMCTL | SHMDT | SEMGET | SEMOP | SEMCTL | SEMTIMEDOP | MSGGET | MSGSND | MSGRCV | MSGCTL
        | MQ_OPEN | MQ_UNLINK | MQ_TIMEDSEND | MQ_TIMEDRECEIVE | MQ_NOTIFY | MQ_GETSETATTR => {
            traced("System V / POSIX IPC: the guest's own objects, in its own IPC namespace")
        }
        SETHOSTNAME | SETDOMAINNAME => traced("names the guest's own UTS namespace"),
        MBIND | SET_MEMPOLICY | GET_MEMPOLICY | MIGRATE_PAGES | MOVE_PAGES | SET_MEMPOLICY_HOME_NODE | REMAP_FILE_PAGES
        | PROCESS_MADVISE | PROCESS_MRELEASE | CACHESTAT | MEMFD_SECRET | KCMP | PROCESS_VM_READV
        | PROCESS_VM_WRITEV => traced("memory policy or another process's memory"),
        IO_SETUP | IO_DESTROY | IO_GETEVENTS | IO_SUBMIT | IO_CANCEL | IO_PGETEVENTS => {
            traced("Linux AIO: works on fds, but submits IO from pointers")
        }
        LANDLOCK_CREATE_RULESET | LANDLOCK_ADD_RULE | LANDLOCK_RESTRICT_SELF | LSM_GET_SELF_ATTR
        | LSM_SET_SELF_ATTR | LSM_LIST_MODULES | STATMOUNT | LISTMOUNT => traced("security or mount queries"),
        GET_THREAD_AREA | SET_THREAD_AREA => traced("32-bit TLS descriptors"),

        CLONE3 => traced("the host judges the flags on its pinned copy of struct clone_args: CLONE_UNTRACED would escape the debugger"),
        SECCOMP => traced("a filter of the guest's own: judged on the host's pinned copy, it may only restrict further"),
        PTRACE => refuse(EPERM, "the guest already has a debugger: the host"),
        IO_URING_SETUP | IO_URING_ENTER | IO_URING_REGISTER => refuse(ENOSYS, "io_uring operations bypass seccomp"),
        // Namespaces nested in the guest's own: its processes stay traced and filtered, and the
        // kernel gives a nested namespace no more than its parent (Landlock forbids mounts).
        UNSHARE | SETNS => traced("namespaces of the guest's own, nested in those it runs in"),
        OPEN_BY_HANDLE_AT | NAME_TO_HANDLE_AT => refuse(EPERM, "file handles bypass path checks"),
        KEXEC_LOAD | KEXEC_FILE_LOAD | INIT_MODULE | FINIT_MODULE | DELETE_MODULE | REBOOT | SWAPON | SWAPOFF
        | ACCT | SYSLOG | VHANGUP | IOPL | IOPERM | QUOTACTL | QUOTACTL_FD => refuse(EPERM, "administers the host machine"),
        // tmpfs mounts, and changes of the guest's own mounts, in its own mount namespace.
        MOUNT | UMOUNT2 => traced("mounts of the guest's own, in its own mount namespace"),
        PIVOT_ROOT | CHROOT | OPEN_TREE | OPEN_TREE_ATTR | MOVE_MOUNT | FSOPEN | FSCONFIG | FSMOUNT
        | FSPICK | MOUNT_SETATTR => refuse(EPERM, "mount namespace changes"),
        SETTIMEOFDAY | CLOCK_SETTIME | ADJTIMEX | CLOCK_ADJTIME => refuse(EPERM, "changes the host's clocks"),
        // Keys of the guest's own: it has a session keyring of its own, and a user keyring per
        // user namespace (confine::rule refuses a request_key that would call the host's
        // /sbin/request-key).
        ADD_KEY | REQUEST_KEY | KEYCTL => traced("keys in the guest's own session and user keyrings"),
        BPF | PERF_EVENT_OPEN | USERFAULTFD | FANOTIFY_INIT | LOOKUP_DCOOKIE => {
            refuse(EPERM, "kernel facilities with a large attack surface")
        }
        MODIFY_LDT => refuse(ENOSYS, "16/32-bit segments have no place in a 64-bit guest"),
        // Filesystem type names, and the free space of a filesystem the guest names by device
        // number (statfs of any granted path tells as much).
        USTAT | SYSFS => native("filesystem type names and free space: nothing of any file"),
        USELIB | _SYSCTL | CREATE_MODULE | GET_KERNEL_SYMS | QUERY_MODULE | NFSSERVCTL | GETPMSG
        | PUTPMSG | AFS_SYSCALL | TUXCALL | SECURITY | VSERVER | EPOLL_CTL_OLD | EPOLL_WAIT_OLD => {
            refuse(ENOSYS, "obsolete or never implemented")
        }
        _ => refuse(ENOSYS, "no x86-64 call has this number"),
    }
}

const NO_PATHS: PathArgs = PathArgs { list: [(None, 0); 2], len: 0 };

const fn build() -> [Entry; SYSCALL_COUNT] {
    let mut table = [refuse(ENOSYS, ""); SYSCALL_COUNT];
    let mut nr = 0;
    while nr < SYSCALL_COUNT {
        let mut entry = classify(nr as u64);
        entry.args = match known_signature(nr as u64) {
            Some(args) => args,
            None => UNKNOWN,
        };
        entry.ask = policy_question(nr as u64, entry.disposition);
        entry.route = route(nr as u64);
        entry.stop = stop(nr as u64, entry.route);
        if let Ask::Path(_) = entry.ask {
            entry.paths = PathArgs::of(entry.args);
        }
        table[nr] = entry;
        nr += 1;
    }
    table
}

/// The disposition of every call number below [`SYSCALL_COUNT`].
pub static TABLE: [Entry; SYSCALL_COUNT] = build();

/// The row for `nr`, or `None` for a number beyond the Linux table.
pub fn entry(nr: u64) -> Option<&'static Entry> {
    TABLE.get(usize::try_from(nr).ok()?)
}

/// How a trace shows the arguments of `nr` (six registers for a number no row describes).
pub fn signature(nr: u64) -> &'static [Arg] {
    entry(nr).map_or(UNKNOWN, |e| e.args)
}

/// Argument `index` of call `nr` as the kernel reads it ([`Arg::read`]).
pub fn arg(nr: u64, args: &[u64; 6], index: usize) -> u64 {
    signature(nr).get(index).map_or(args[index], |kind| kind.read(args[index]))
}

/// The path arguments of a path call (its [`Ask::Path`]) and the access they need.
pub fn path_args(nr: u64) -> Option<(&'static [PathArg], Need)> {
    let entry = entry(nr)?;
    match entry.ask {
        Ask::Path(need) => Some((entry.paths.as_slice(), need)),
        _ => None,
    }
}

/// The flag word of call `nr` of the given kind, as the kernel reads it, if it has one.
fn flag_word(nr: u64, args: &[u64; 6], kind: Arg) -> Option<u64> {
    let at = signature(nr).iter().position(|&k| k == kind)?;
    Some(kind.read(args[at]))
}

/// Whether call `nr` follows a symlink in the last component of its path argument
/// `path_index` (the one place this is decided: the check, the pin and the broker all ask here).
pub fn follows(nr: u64, args: &[u64; 6], path_index: usize) -> bool {
    const AT_SYMLINK_FOLLOW: u64 = libc::AT_SYMLINK_FOLLOW as u64;
    const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
    let sig = signature(nr);
    match sig.get(path_index) {
        // linkat follows its first path only when asked to.
        Some(Arg::LinkPath) => {
            let first = sig.iter().position(|&k| k == Arg::LinkPath) == Some(path_index);
            first && flag_word(nr, args, Arg::LinkFlags).is_some_and(|f| f & AT_SYMLINK_FOLLOW != 0)
        }
        Some(Arg::Path) => {
            let unset = |kind: Arg, bit: u64| flag_word(nr, args, kind).is_none_or(|f| f & bit == 0);
            unset(Arg::OpenFlags, libc::O_NOFOLLOW as u64)
                && unset(Arg::AtFlags, AT_SYMLINK_NOFOLLOW)
                && unset(Arg::NoFollowFlags, AT_SYMLINK_NOFOLLOW)
                && unset(Arg::WatchMask, libc::IN_DONT_FOLLOW as u64)
        }
        _ => true,
    }
}

/// [`follows`] for the first path argument of `nr`.
pub fn follows_last_symlink(nr: u64, args: &[u64; 6]) -> bool {
    let first = signature(nr).iter().position(|&k| matches!(k, Arg::Path | Arg::LinkPath));
    first.is_none_or(|at| follows(nr, args, at))
}

/// Whether call `nr` has `AT_EMPTY_PATH` set (it then acts on its dirfd when the path is
/// empty, or NULL on Linux 6.11+).
pub fn takes_empty_path(nr: u64, args: &[u64; 6]) -> bool {
    const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
    [Arg::AtFlags, Arg::LinkFlags].into_iter().any(|kind| flag_word(nr, args, kind).is_some_and(|f| f & AT_EMPTY_PATH != 0))
}

/// Whether call `nr` acts on the file behind its dirfd instead of a path: `AT_EMPTY_PATH`,
/// or utimensat's NULL path (futimens).
pub fn acts_on_dirfd(nr: u64, args: &[u64; 6]) -> bool {
    // (utimensat with a NULL path acts on its dirfd, but on AT_FDCWD the kernel reads the
    // NULL path: EFAULT, as glibc's utimes(NULL, …) gets.)
    takes_empty_path(nr, args) || (nr == UTIMENSAT && args[1] == 0 && args[0] as i32 != libc::AT_FDCWD)
}

/// Who performs call `nr` under a policy ([`Route::Guest`] for a number no row describes).
pub fn route_of(nr: u64) -> Route {
    entry(nr).map_or(Route::Guest, |e| e.route)
}

/// The calls the notification pool serves besides the opens (which directfs's filter always
/// sends there): what `--backend unotify` adds to that filter. When a trace or `--stats` must
/// see each call's result, the calls the pool would let run (whose result only the kernel
/// knows, after the answer) stay on ptrace, which stops at their exit.
pub fn notified_calls(observing: bool) -> impl Iterator<Item = u32> {
    TABLE
        .iter()
        .enumerate()
        .filter(move |(_, e)| e.stop == Stop::Notification && e.route != Route::Directfs && !(observing && e.route == Route::Guest))
        .map(|(nr, _)| nr as u32)
}

/// Why call `nr` needs the guest's own namespaces, if it is safe only there ([`Ask::OwnNamespace`]).
pub fn needs_own_namespace(nr: u64) -> Option<&'static str> {
    match entry(nr)?.ask {
        Ask::OwnNamespace(why) => Some(why),
        Ask::Mount => Some("a mount would change the host's mount namespace (no mount namespace of the guest's own)"),
        _ => None,
    }
}

/// The native calls the policy still decides (metadata changes through an fd, memfd_create,
/// listen): the rows whose [`Ask`] is not [`Ask::Nothing`].
pub fn policy_decided_native_calls() -> impl Iterator<Item = u64> {
    TABLE.iter().enumerate().filter(|(_, e)| e.disposition == Disposition::Native && e.ask != Ask::Nothing).map(|(nr, _)| nr as u64)
}

/// The name of `nr`, for traces.
pub fn name(nr: u64) -> Option<&'static str> {
    trapbox_abi::linux::syscall_name(nr)
}

/// The calls the backstop lets run natively, in increasing order.
pub fn native_calls() -> impl Iterator<Item = u32> {
    TABLE.iter().enumerate().filter(|(_, e)| e.disposition == Disposition::Native).map(|(nr, _)| nr as u32)
}

/// What a grants-only root lets run natively besides the metadata calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootNatives {
    /// The opens of directories to list them: only where no listing can be refused (the
    /// policy reads the whole root, [`crate::decide::base::listings_never_refused`]), as the
    /// kernel's refusal would leave no log line.
    pub listings: bool,
}

/// The metadata calls the backstop lets run natively when the guest's root holds only what
/// the policy grants ([`crate::launch::mounts`]): there the kernel's own lookup finds nothing
/// outside the grants (`ENOENT`), and what it finds the guest may read. `access` runs natively
/// for existence and reading only (`F_OK`, `R_OK`): a read-only mount answers `W_OK` with
/// `EROFS` and a read grant cannot answer `X_OK`, where the host answers `EACCES` as it
/// decides the exec or write itself. With `natives.listings`, a directory opened to be listed
/// (`O_DIRECTORY`, read-only, no creation) runs natively too: its fd gives what `getdents` and
/// the stat family already give natively there, Landlock's `READ_DIR` decides it as the host
/// would, and every open through it (`openat(dirfd, …)`) still goes to the host. File opens,
/// exec and every change still go to the host.
pub fn native_in_grants_only_root(natives: RootNatives) -> impl Iterator<Item = (u32, Option<NativeWhen>)> {
    const EXISTS_OR_READABLE: &[u32] = &[libc::F_OK as u32, libc::R_OK as u32];
    let plain = [STAT, LSTAT, NEWFSTATAT, STATX, READLINK, READLINKAT, STATFS, GETXATTR, LGETXATTR, LISTXATTR, LLISTXATTR, CHDIR];
    let by_mode = [(ACCESS, 1), (FACCESSAT, 2), (FACCESSAT2, 2)];
    let by_flags = [(OPEN, 1), (OPENAT, 2)];
    plain
        .into_iter()
        .map(|nr| (nr as u32, None))
        .chain(by_mode.into_iter().map(|(nr, arg)| (nr as u32, Some(NativeWhen::Code { arg, codes: EXISTS_OR_READABLE }))))
        .chain(by_flags.into_iter().filter(move |_| natives.listings).map(move |(nr, arg)| (nr as u32, Some(NativeWhen::Flags { arg, mask: !DIRECTORY_LISTING_FREE_FLAGS, value: libc::O_DIRECTORY as u32 }))))
}

/// `CLONE_UNTRACED`: a child the debugger would not attach ([`crate::decide::requests::untraced_child`]).
const CLONE_UNTRACED_FLAG: u32 = 0x0080_0000;

/// The open flags a directory opened to be listed may carry beside `O_DIRECTORY`: none of them
/// writes, creates, truncates or makes an `O_PATH` or `O_TMPFILE` file. `O_LARGEFILE` is the
/// kernel's value (musl sets it on every open; glibc's header says 0 on x86-64).
const DIRECTORY_LISTING_FREE_FLAGS: u32 = (libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOATIME) as u32 | KERNEL_O_LARGEFILE;
const KERNEL_O_LARGEFILE: u32 = 0o100000;

/// The traced calls the backstop lets run natively for some requests, with those requests.
pub fn native_when_calls() -> impl Iterator<Item = (u32, NativeWhen)> {
    TABLE.iter().enumerate().filter_map(|(nr, e)| Some((nr as u32, e.native_when?)))
}

/// Of the [`policy_decided_native_calls`], those the backstop still lets run natively for the
/// requests where the policy's decision is to run the call unchanged. A memfd asked never
/// to be executable (`MFD_NOEXEC_SEAL` without `MFD_EXEC`) is what the host would make it
/// ([`crate::decide::confine`]): the kernel keeps it so (its exec seal), and the host's own
/// memfd for each new image's area, injected at every exec, costs no stop.
pub fn policy_native_when_calls() -> impl Iterator<Item = (u32, NativeWhen)> {
    use crate::decide::confine::{MFD_EXEC, MFD_NOEXEC_SEAL};
    let never_executable = NativeWhen::Flags { arg: 1, mask: MFD_NOEXEC_SEAL as u32 | MFD_EXEC, value: MFD_NOEXEC_SEAL as u32 };
    [(MEMFD_CREATE as u32, never_executable)].into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use trapbox_abi::linux::SYSCALL_NAMES;

    /// A call the notification pool serves needs no register change: an open (directfs), a
    /// metadata query the broker answers on its own copy, or a call the policy lets run that
    /// has no pointer the kernel reads (nothing to pin, so letting it run re-reads nothing).
    #[test]
    fn the_notification_pool_serves_only_calls_that_need_no_register_change() {
        let mut served = 0;
        for (nr, e) in TABLE.iter().enumerate() {
            if e.stop != Stop::Notification {
                continue;
            }
            served += 1;
            assert_eq!(e.disposition, Disposition::Traced, "{:?}", name(nr as u64));
            match (e.route, e.ask) {
                (Route::Directfs, _) | (Route::BrokerQuery, Ask::Path(Need::Metadata)) => {}
                (Route::Guest, Ask::Nothing) => {
                    assert!(e.paths.as_slice().is_empty(), "{:?}", name(nr as u64));
                    assert!(crate::trap::pinned::plan(nr as u64, &[1; 6]).is_none(), "{:?} has something to pin", name(nr as u64));
                }
                other => panic!("{:?} is served by notification but is {other:?}", name(nr as u64)),
            }
        }
        assert_eq!(notified_calls(false).count() + 4, served, "the four opens are directfs's own");
        assert!(notified_calls(true).all(|nr| TABLE[nr as usize].route == Route::BrokerQuery), "observed: only what the host answers");
    }

    #[test]
    fn every_named_call_is_classified_on_purpose() {
        for (nr, name) in SYSCALL_NAMES.iter().enumerate() {
            let e = &TABLE[nr];
            if name.is_empty() {
                assert_eq!(e.disposition, Disposition::Refuse(ENOSYS), "unused number {nr}");
            } else {
                assert_ne!(e.note, "no x86-64 call has this number", "{name} ({nr}) falls through to the default");
                assert!(!e.note.is_empty());
            }
        }
    }

    #[test]
    fn every_named_call_has_its_kernel_signature() {
        for (nr, name) in SYSCALL_NAMES.iter().enumerate() {
            if !name.is_empty() {
                assert!(known_signature(nr as u64).is_some(), "{name} ({nr}) has no signature");
            }
        }
    }

    #[test]
    fn arguments_are_read_at_the_kernels_width() {
        let high = 1u64 << 32;
        // ioctl's cmd is an unsigned int: the high word is not part of it.
        assert_eq!(arg(IOCTL, &[0, high | 0x5412, 0, 0, 0, 0], 1), 0x5412);
        // kill's pid is an int: 0xffff_ffff is -1 (every process), not 4294967295.
        assert_eq!(arg(KILL, &[0xffff_ffff, 0, 0, 0, 0, 0], 0) as i64, -1);
        // chmod's mode is a umode_t.
        assert_eq!(arg(CHMOD, &[0, 0x1_0000 | 0o755, 0, 0, 0, 0], 1), 0o755);
        // lseek's offset is a long.
        assert_eq!(arg(LSEEK, &[0, u64::MAX, 0, 0, 0, 0], 1), u64::MAX);
        assert!(Arg::Flags.ignores_bits_of(high | 0x5412) && !Arg::Flags.ignores_bits_of(0x5412));
        assert!(!Arg::Int.ignores_bits_of(u64::MAX) && !Arg::Int.ignores_bits_of(0xffff_ffff), "-1 either way");
        assert!(!Arg::Ptr.ignores_bits_of(u64::MAX));
    }

    #[test]
    fn path_arguments_and_their_symlinks_come_from_the_signature() {
        assert_eq!(path_args(OPENAT).map(|(p, n)| (p.to_vec(), n)), Some((vec![(Some(0), 1)], Need::Read)));
        assert_eq!(path_args(SYMLINKAT).map(|(p, _)| p.to_vec()), Some(vec![(Some(1), 2)]), "the target names no file");
        assert_eq!(path_args(RENAMEAT2).map(|(p, _)| p.to_vec()), Some(vec![(Some(0), 1), (Some(2), 3)]));
        assert_eq!(path_args(SETXATTR).map(|(p, n)| (p.to_vec(), n)), Some((vec![(None, 0)], Need::Write)));
        assert!(path_args(MOUNT).is_none(), "refused, never checked as a path call");
        let nofollow = u64::from(libc::AT_SYMLINK_NOFOLLOW as u32);
        assert!(follows(NEWFSTATAT, &[0, 0, 0, 0, 0, 0], 1));
        assert!(!follows(NEWFSTATAT, &[0, 0, 0, nofollow, 0, 0], 1));
        assert!(follows(NEWFSTATAT, &[0, 0, 0, nofollow << 32, 0, 0], 1), "flags are an int");
        assert!(!follows(OPEN, &[0, libc::O_NOFOLLOW as u64, 0, 0, 0, 0], 0));
        assert!(!follows(LSTAT, &[0; 6], 0) && !follows(UNLINK, &[0; 6], 0) && !follows(RENAME, &[0; 6], 1));
        let link_follow = libc::AT_SYMLINK_FOLLOW as u64;
        assert!(follows(LINKAT, &[0, 0, 0, 0, link_follow, 0], 1) && !follows(LINKAT, &[0, 0, 0, 0, link_follow, 0], 3));
        assert!(!follows(LINKAT, &[0; 6], 1));
        let empty = libc::AT_EMPTY_PATH as u64;
        assert!(takes_empty_path(STATX, &[0, 0, empty, 0, 0, 0]) && !takes_empty_path(STATX, &[0, 0, empty << 32, 0, 0, 0]));
        assert!(acts_on_dirfd(UTIMENSAT, &[3, 0, 0, 0, 0, 0]) && !acts_on_dirfd(UTIMENSAT, &[3, 0x1000, 0, 0, 0, 0]));
    }

    #[test]
    fn the_policy_decides_four_native_calls() {
        let decided: Vec<u64> = policy_decided_native_calls().collect();
        assert_eq!(decided, [LISTEN, FCHMOD, FCHOWN, MEMFD_CREATE]);
    }

    #[test]
    fn dangerous_calls_never_run_natively() {
        for nr in [EXECVE, OPENAT, CLONE, CLONE3, PTRACE, SECCOMP, IOCTL, KILL, SOCKET, CONNECT, IO_URING_SETUP] {
            assert_ne!(TABLE[nr as usize].disposition, Disposition::Native, "{}", SYSCALL_NAMES[nr as usize]);
        }
        assert_eq!(TABLE[READ as usize].disposition, Disposition::Native);
        assert_eq!(TABLE[GETPID as usize].disposition, Disposition::Native);
    }
}
