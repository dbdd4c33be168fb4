//! Names of signals and errno values, for messages and traces.

/// `SIGHUP`..`SIGSYS` by number; real-time signals are named `SIGRT<n>`.
const SIGNAL_NAMES: [&str; 32] = [
    "SIG0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
    "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
    "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
    "SIGSYS",
];

/// The conventional name of `signal`.
pub fn signal_name(signal: i32) -> String {
    match usize::try_from(signal).ok().and_then(|s| SIGNAL_NAMES.get(s)) {
        Some(name) => (*name).to_string(),
        // Values come from guest registers: anything outside the real-time range is a number.
        None if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&signal) => format!("SIGRT{}", signal - libc::SIGRTMIN()),
        None => signal.to_string(),
    }
}

/// The number of signal `name` (`SIGTERM`, `TERM`; also `SIGIOT` and `SIGPOLL`, the older
/// names of `SIGABRT` and `SIGIO`), or `None`.
pub fn signal_number(name: &str) -> Option<i32> {
    let full = if name.starts_with("SIG") { name.to_string() } else { format!("SIG{name}") };
    let full = match full.as_str() {
        "SIGIOT" => "SIGABRT",
        "SIGPOLL" => "SIGIO",
        other => other,
    };
    SIGNAL_NAMES.iter().skip(1).position(|n| *n == full).map(|i| i as i32 + 1)
}

/// Symbolic names of the errno values a trace shows most, by number.
const ERRNO_NAMES: [&str; 41] = [
    "0", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD", "EAGAIN",
    "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR", "EINVAL",
    "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE",
    "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP",
];

/// The symbolic name of `errno` (`E<n>` for the ones not listed, kernel-internal restart codes
/// by their kernel names).
pub fn errno_name(errno: i32) -> String {
    match errno {
        512 => "ERESTARTSYS".into(),
        513 => "ERESTARTNOINTR".into(),
        514 => "ERESTARTNOHAND".into(),
        516 => "ERESTART_RESTARTBLOCK".into(),
        95 => "EOPNOTSUPP".into(),
        110 => "ETIMEDOUT".into(),
        111 => "ECONNREFUSED".into(),
        _ => match usize::try_from(errno).ok().and_then(|e| ERRNO_NAMES.get(e)) {
            Some(name) => (*name).to_string(),
            None => format!("E{errno}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name() {
        assert_eq!([signal_number("SIGTERM"), signal_number("TERM"), signal_number("KILL"), signal_number("SIGSYS")], [Some(15), Some(15), Some(9), Some(31)]);
        assert_eq!((signal_number("IOT"), signal_number("SIGPOLL")), (Some(libc::SIGABRT), Some(libc::SIGIO)));
        for bad in ["SIG0", "0", "NOPE", "", "SIG"] {
            assert_eq!(signal_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(i32::MIN), i32::MIN.to_string());
        assert_eq!(signal_name(-1), "-1");
        assert_eq!(errno_name(38), "ENOSYS");
        assert_eq!(errno_name(2), "ENOENT");
        assert_eq!(errno_name(4000), "E4000");
    }
}
