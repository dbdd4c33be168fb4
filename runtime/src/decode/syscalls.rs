//! The dispatcher's table: every x86-64 Linux system call with its disposition and a note,
//! in the spirit of gVisor's syscall table.
//!
//! This table is the single source of truth: the seccomp backstop's allow-list is generated
//! from the [`Disposition::Native`] rows (and, for traced calls that take a request code, from
//! the requests their [`NativeWhen`] names), and the trap dispatcher and the seccomp-stop
//! handler both look calls up here. It is a `static` built at compile time, so a lookup is an index.

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
}

impl NativeWhen {
    /// Whether `args` run natively, as the backstop decides it.
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        use crate::decide::requests::uint_arg;
        match *self {
            NativeWhen::Code { arg, codes } => codes.contains(&uint_arg(args, arg)),
            NativeWhen::CodePair { first, second, pairs } => pairs.contains(&(uint_arg(args, first), uint_arg(args, second))),
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
}

const fn native(note: &'static str) -> Entry {
    Entry { disposition: Disposition::Native, note, native_when: None }
}
const fn traced(note: &'static str) -> Entry {
    Entry { disposition: Disposition::Traced, note, native_when: None }
}
/// Traced, except the harmless, frequent requests `native_when` names.
const fn traced_unless(native_when: NativeWhen, note: &'static str) -> Entry {
    Entry { disposition: Disposition::Traced, note, native_when: Some(native_when) }
}
const fn refuse(errno: i32, note: &'static str) -> Entry {
    Entry { disposition: Disposition::Refuse(errno), note, native_when: None }
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

        CLONE => traced("the host checks the flags: CLONE_UNTRACED would escape the debugger"),
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
        | SETPGID | SETSID | SETRLIMIT | PRLIMIT64 | SETPRIORITY | SCHED_SETAFFINITY | SCHED_SETPARAM
        | SCHED_SETSCHEDULER | SCHED_SETATTR | IOPRIO_SET | IOPRIO_GET | PERSONALITY => {
            traced("changes credentials, limits or scheduling")
        }
        PRCTL => traced("many options: an allow-list decides; PR_SET_SECCOMP and syscall user dispatch are refused"),
        UNAME | SYSINFO => traced("host identity: the policy may virtualise it"),
        SHMGET | SHMAT | SHMCTL | SHMDT | SEMGET | SEMOP | SEMCTL | SEMTIMEDOP | MSGGET | MSGSND | MSGRCV | MSGCTL
        | MQ_OPEN | MQ_UNLINK | MQ_TIMEDSEND | MQ_TIMEDRECEIVE | MQ_NOTIFY | MQ_GETSETATTR => {
            traced("System V / POSIX IPC objects are shared with the host's namespace")
        }
        MBIND | SET_MEMPOLICY | GET_MEMPOLICY | MIGRATE_PAGES | MOVE_PAGES | SET_MEMPOLICY_HOME_NODE | REMAP_FILE_PAGES
        | PROCESS_MADVISE | PROCESS_MRELEASE | CACHESTAT | MEMFD_SECRET | KCMP | PROCESS_VM_READV
        | PROCESS_VM_WRITEV => traced("memory policy or another process's memory"),
        IO_SETUP | IO_DESTROY | IO_GETEVENTS | IO_SUBMIT | IO_CANCEL | IO_PGETEVENTS => {
            traced("Linux AIO: works on fds, but submits IO from pointers")
        }
        LANDLOCK_CREATE_RULESET | LANDLOCK_ADD_RULE | LANDLOCK_RESTRICT_SELF | LSM_GET_SELF_ATTR
        | LSM_SET_SELF_ATTR | LSM_LIST_MODULES | STATMOUNT | LISTMOUNT => traced("security or mount queries"),
        GET_THREAD_AREA | SET_THREAD_AREA => traced("32-bit TLS descriptors"),

        CLONE3 => refuse(ENOSYS, "flags live in memory (unverifiable); libc falls back to clone"),
        SECCOMP => refuse(EPERM, "a guest filter returning USER_NOTIF would outrank the backstop"),
        PTRACE => refuse(EPERM, "the guest already has a debugger: the host"),
        IO_URING_SETUP | IO_URING_ENTER | IO_URING_REGISTER => refuse(ENOSYS, "io_uring operations bypass seccomp"),
        UNSHARE | SETNS => refuse(EPERM, "new namespaces could hide calls from the host"),
        OPEN_BY_HANDLE_AT | NAME_TO_HANDLE_AT => refuse(EPERM, "file handles bypass path checks"),
        KEXEC_LOAD | KEXEC_FILE_LOAD | INIT_MODULE | FINIT_MODULE | DELETE_MODULE | REBOOT | SWAPON | SWAPOFF
        | ACCT | SYSLOG | VHANGUP | IOPL | IOPERM | QUOTACTL | QUOTACTL_FD => refuse(EPERM, "administers the host machine"),
        MOUNT | UMOUNT2 | PIVOT_ROOT | CHROOT | OPEN_TREE | OPEN_TREE_ATTR | MOVE_MOUNT | FSOPEN | FSCONFIG | FSMOUNT
        | FSPICK | MOUNT_SETATTR => refuse(EPERM, "mount namespace changes"),
        SETTIMEOFDAY | CLOCK_SETTIME | ADJTIMEX | CLOCK_ADJTIME | SETHOSTNAME | SETDOMAINNAME => {
            refuse(EPERM, "changes host-wide clocks or names")
        }
        BPF | PERF_EVENT_OPEN | USERFAULTFD | FANOTIFY_INIT | ADD_KEY | REQUEST_KEY | KEYCTL | LOOKUP_DCOOKIE => {
            refuse(EPERM, "kernel facilities with a large attack surface")
        }
        MODIFY_LDT => refuse(ENOSYS, "16/32-bit segments have no place in a 64-bit guest"),
        USELIB | USTAT | SYSFS | _SYSCTL | CREATE_MODULE | GET_KERNEL_SYMS | QUERY_MODULE | NFSSERVCTL | GETPMSG
        | PUTPMSG | AFS_SYSCALL | TUXCALL | SECURITY | VSERVER | EPOLL_CTL_OLD | EPOLL_WAIT_OLD => {
            refuse(ENOSYS, "obsolete or never implemented")
        }
        _ => refuse(ENOSYS, "no x86-64 call has this number"),
    }
}

const fn build() -> [Entry; SYSCALL_COUNT] {
    let mut table = [refuse(ENOSYS, ""); SYSCALL_COUNT];
    let mut nr = 0;
    while nr < SYSCALL_COUNT {
        table[nr] = classify(nr as u64);
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

/// The name of `nr`, for traces.
pub fn name(nr: u64) -> Option<&'static str> {
    trapbox_abi::linux::syscall_name(nr)
}

/// The calls the backstop lets run natively, in increasing order.
pub fn native_calls() -> impl Iterator<Item = u32> {
    TABLE.iter().enumerate().filter(|(_, e)| e.disposition == Disposition::Native).map(|(nr, _)| nr as u32)
}

/// The traced calls the backstop lets run natively for some requests, with those requests.
pub fn native_when_calls() -> impl Iterator<Item = (u32, NativeWhen)> {
    TABLE.iter().enumerate().filter_map(|(nr, e)| Some((nr as u32, e.native_when?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trapbox_abi::linux::SYSCALL_NAMES;

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
    fn dangerous_calls_never_run_natively() {
        for nr in [EXECVE, OPENAT, CLONE, CLONE3, PTRACE, SECCOMP, IOCTL, KILL, SOCKET, CONNECT, IO_URING_SETUP] {
            assert_ne!(TABLE[nr as usize].disposition, Disposition::Native, "{}", SYSCALL_NAMES[nr as usize]);
        }
        assert_eq!(TABLE[READ as usize].disposition, Disposition::Native);
        assert_eq!(TABLE[GETPID as usize].disposition, Disposition::Native);
    }
}
