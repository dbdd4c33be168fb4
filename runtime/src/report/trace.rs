//! `--trace`: one strace-shaped line per mediated call, with the path it took.
//!
//! ```text
//! [pid 4242] openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3 <backstop>
//! [pid 4242] getpid() = 4242 <trap host>
//! ```
//!
//! or, with `--trace-format json`, one JSON object per line with the same call, arguments and
//! result, and the time, process, route and latency ([`JsonLine`]). Both come from one
//! [`Record`] and one decoder ([`describe_call`]): the JSON `args` are the text line's.
//!
//! Arguments are decoded when the call is seen (pointer arguments must be read before the
//! call runs); the line is written when the result is known.

use std::borrow::Cow;
use std::io::Write;
use std::time::Instant;

use crate::decode::syscalls::Arg;
use crate::sys::{self, Pid};

/// How a call reached the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// A trap at a rewritten site.
    Trap,
    /// A seccomp stop: code the rewriter did not patch (unrewritten binary, JIT, vDSO fallback).
    Backstop,
    /// An open served by directfs (the host opened the file and handed over the fd).
    Directfs,
    /// A user notification served by the host's notification pool (`--backend unotify`): the
    /// host answered on its copy of the arguments, or let a call with nothing to re-read run.
    Unotify,
}

/// What the host did with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    /// Executed by the kernel on the guest's behalf (natively, through the stub page, or let
    /// through after a seccomp stop).
    Executed,
    /// Answered by the host without executing anything.
    Host,
    /// Refused with an errno.
    Refused,
}

impl Route {
    /// The route's name in JSON traces and statistics.
    pub const fn name(self) -> &'static str {
        match self {
            Route::Trap => "trap",
            Route::Backstop => "backstop",
            Route::Directfs => "directfs",
            Route::Unotify => "unotify",
        }
    }
}

impl Handling {
    /// The handling's name in JSON traces and statistics.
    pub const fn name(self) -> &'static str {
        match self {
            Handling::Executed => "executed",
            Handling::Host => "host",
            Handling::Refused => "refused",
        }
    }
}

/// The tag at the end of a trace line.
pub fn tag(route: Route, handling: Handling) -> &'static str {
    match (route, handling) {
        (Route::Trap, Handling::Executed) => "<trap>",
        (Route::Trap, Handling::Host) => "<trap host>",
        (Route::Trap, Handling::Refused) => "<trap refused>",
        (Route::Backstop, Handling::Executed) => "<backstop>",
        (Route::Backstop, Handling::Host) => "<backstop host>",
        (Route::Backstop, Handling::Refused) => "<backstop refused>",
        (Route::Directfs, Handling::Executed) => "<directfs>",
        (Route::Directfs, _) => "<directfs refused>",
        (Route::Unotify, Handling::Executed) => "<unotify>",
        (Route::Unotify, Handling::Host) => "<unotify host>",
        (Route::Unotify, Handling::Refused) => "<unotify refused>",
    }
}

fn open_flags(flags: u64) -> String {
    let mut out = String::from(match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    let names: [(u64, &str); 12] = [
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
        (0o20200000, "O_TMPFILE"),
        (0o1000000, "O_NOATIME"),
    ];
    let mut rest = flags & !3;
    for (bit, name) in names {
        if rest & bit == bit && bit != 0 {
            out.push('|');
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push_str(&format!("|{rest:#o}"));
    }
    out
}

/// Reads a NUL-terminated string from guest memory, at most `limit` bytes, without crossing
/// into an unmapped page.
pub fn read_guest_string(pid: Pid, addr: u64, limit: usize) -> Option<(Vec<u8>, bool)> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < limit {
        let page_left = (0x1000 - (at & 0xfff)) as usize;
        let mut chunk = [0u8; 256];
        let want = page_left.min(chunk.len()).min(limit - out.len());
        let got = sys::read_memory(pid, at, &mut chunk[..want]).ok()?;
        if got == 0 {
            return if out.is_empty() { None } else { Some((out, true)) };
        }
        if let Some(nul) = chunk[..got].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Some((out, false));
        }
        out.extend_from_slice(&chunk[..got]);
        at = at.wrapping_add(got as u64);
    }
    Some((out, true))
}

/// A socket address as `{AF_INET, 127.0.0.1:80}`, `{AF_UNIX, "path"}`, `{AF_UNIX, @"name"}`
/// (abstract); the pointer in hex when it cannot be read.
pub fn format_sockaddr(pid: Pid, addr: u64, len: u64) -> String {
    let Some(bytes) = (addr != 0 && (2..=128).contains(&len)).then(|| sys::read_guest_bytes(pid, addr, len as usize)).flatten() else {
        return format!("{addr:#x}");
    };
    let family = i32::from(u16::from_le_bytes([bytes[0], bytes[1]]));
    let port = |at: usize| bytes.get(at..at + 2).map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
    match family {
        libc::AF_UNIX => {
            let path = &bytes[2..];
            match path.first() {
                None => "{AF_UNIX}".to_string(),
                Some(0) => {
                    let name = &path[1..];
                    format!("{{AF_UNIX, @{}}}", quote(name.split(|&b| b == 0).next().unwrap_or(name), false))
                }
                Some(_) => format!("{{AF_UNIX, {}}}", quote(path.split(|&b| b == 0).next().unwrap_or(path), false)),
            }
        }
        libc::AF_INET if bytes.len() >= 8 => {
            format!("{{AF_INET, {}:{}}}", std::net::Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]), port(2))
        }
        libc::AF_INET6 if bytes.len() >= 24 => {
            let ip: [u8; 16] = bytes[8..24].try_into().unwrap_or([0; 16]);
            format!("{{AF_INET6, [{}]:{}}}", std::net::Ipv6Addr::from(ip), port(2))
        }
        family => format!("{{family {family}}}"),
    }
}

/// Guest bytes as strace quotes them: printable ASCII as it is, `"` and `\\` escaped, every
/// other byte (controls, non-ASCII) as `\n`, `\t` or `\xNN`, so the result never breaks a line.
fn quote(bytes: &[u8], truncated: bool) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if truncated {
        s.push_str("...");
    }
    s
}

/// An argv-style array of strings, as strace shows it (at most 32 entries).
fn format_argv(pid: Pid, addr: u64) -> String {
    const MAX_ENTRIES: usize = 32;
    let mut parts = Vec::new();
    for i in 0..MAX_ENTRIES {
        let mut word = [0u8; 8];
        if sys::read_memory(pid, addr.wrapping_add(8 * i as u64), &mut word) != Ok(8) {
            return format!("{addr:#x}");
        }
        let ptr = u64::from_le_bytes(word);
        if ptr == 0 {
            return format!("[{}]", parts.join(", "));
        }
        parts.push(match read_guest_string(pid, ptr, 256) {
            Some((bytes, truncated)) => quote(&bytes, truncated),
            None => format!("{ptr:#x}"),
        });
    }
    format!("[{}, ...]", parts.join(", "))
}

/// A call as a trace shows it: its name and each argument as the text line prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    /// The call's name (`syscall_0x...` for a number no table names).
    pub name: Cow<'static, str>,
    /// Each argument, decoded as the table's signature says.
    pub args: Vec<String>,
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, self.args.join(", "))
    }
}

/// `name(args)` for call `nr` of `pid`.
pub fn format_call(pid: Pid, nr: u64, args: &[u64; 6]) -> String {
    describe_call(pid, nr, args).to_string()
}

/// The name of call `nr`: the Linux table's, a hostcall's, or `syscall_0x...`.
pub fn call_name(nr: u64) -> Cow<'static, str> {
    match crate::decode::syscalls::name(nr).or_else(|| trapbox_abi::hostcall::hostcall_name(nr)) {
        Some(name) => Cow::Borrowed(name),
        None if trapbox_abi::hostcall::is_embedder_hostcall(nr) => Cow::Owned(format!("hc_embedder_{:#x}", nr - trapbox_abi::hostcall::EMBEDDER_BASE)),
        None => Cow::Owned(format!("syscall_{nr:#x}")),
    }
}

/// The one decoder of a call's arguments, for text and JSON traces and log lines alike.
pub fn describe_call(pid: Pid, nr: u64, args: &[u64; 6]) -> Described {
    let name = call_name(nr);
    let mut kinds = crate::decode::syscalls::signature(nr);
    // Like strace: open's mode argument only means something with O_CREAT or O_TMPFILE.
    if let Some(flags_at) = kinds.iter().position(|k| *k == Arg::OpenFlags) {
        if args[flags_at] & (0o100 | 0o20000000) == 0 && kinds.last() == Some(&Arg::Mode) {
            kinds = &kinds[..kinds.len() - 1];
        }
    }
    let mut parts = Vec::with_capacity(kinds.len());
    for (index, (&kind, &raw)) in kinds.iter().zip(args.iter()).enumerate() {
        let value = kind.read(raw);
        let shown = match kind {
            Arg::DirFd if value as i32 == libc::AT_FDCWD => "AT_FDCWD".to_string(),
            Arg::Fd | Arg::DirFd | Arg::Int | Arg::Pid | Arg::Long => (value as i64).to_string(),
            // -1 ("unchanged") reads better than 4294967295.
            Arg::Id => (value as u32 as i32).to_string(),
            Arg::UInt | Arg::ULong => value.to_string(),
            Arg::Path | Arg::LinkPath | Arg::Str => match read_guest_string(pid, value, 4096) {
                Some((bytes, truncated)) => quote(&bytes, truncated),
                None => format!("{value:#x}"),
            },
            Arg::OpenFlags => open_flags(value as u32 as u64),
            Arg::Flags | Arg::LongFlags | Arg::Ptr | Arg::AtFlags | Arg::NoFollowFlags | Arg::LinkFlags | Arg::WatchMask => {
                format!("{value:#x}")
            }
            Arg::Mode => format!("0{value:o}"),
            Arg::Signal => crate::decode::names::signal_name(value as i32),
            // argv in full; the environment as a pointer, as strace shows it by default.
            Arg::Argv if kinds[..index].contains(&Arg::Argv) => format!("{value:#x}"),
            Arg::Argv => format_argv(pid, value),
            Arg::SockAddr => format_sockaddr(pid, value, args.get(index + 1).copied().unwrap_or(0)),
        };
        // The kernel's reading, and the register too when the kernel ignores some of its bits
        // (a guest setting high bits to slip past a 64-bit compare leaves the evidence).
        parts.push(if kind.ignores_bits_of(raw) { format!("{shown} (register {raw:#x})") } else { shown });
    }
    Described { name, args: parts }
}

/// A result as strace shows it.
pub fn format_result(raw: u64) -> String {
    match trapbox_abi::errno::decode(raw) {
        Err(errno) => format!("-1 {}", crate::decode::names::errno_name(errno)),
        Ok(value) if value > 0xffff_ffff => format!("{value:#x}"),
        Ok(value) => value.to_string(),
    }
}

/// How trace lines are written (`--trace-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// strace-shaped lines: `[pid N] call(args) = result <route>`.
    #[default]
    Text,
    /// One JSON object per line ([`JsonLine`]).
    Json,
}

/// When the host saw a stop (or a notification): taken only while tracing or counting, so
/// the hot path reads no clock otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    /// `CLOCK_REALTIME`, in nanoseconds since the epoch (to line up with other logs).
    pub wall_ns: u64,
    /// The monotonic instant, for the latency.
    pub at: Instant,
}

impl Stamp {
    /// Now.
    pub fn now() -> Stamp {
        let wall_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Stamp { wall_ns, at: Instant::now() }
    }

    /// Nanoseconds since the stamp.
    pub fn elapsed_ns(&self) -> u64 {
        u64::try_from(self.at.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// How a traced call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallEnd {
    /// With this raw result (a value or `-errno`).
    Value(u64),
    /// Unknown: the thread died first.
    Unknown,
    /// A signal interrupted the wait of a call a host worker performed.
    Interrupted,
}

impl CallEnd {
    /// Whether it failed (a `-errno` result).
    pub fn failed(self) -> bool {
        matches!(self, CallEnd::Value(raw) if trapbox_abi::errno::decode(raw).is_err())
    }
}

/// One call, ended, as every trace format and the statistics see it.
#[derive(Debug)]
pub struct Record<'a> {
    /// The process (thread group) as the host sees it.
    pub pid: Pid,
    /// The thread.
    pub tid: Pid,
    /// The call number.
    pub number: u64,
    /// The call, decoded.
    pub call: &'a Described,
    /// Its result.
    pub end: CallEnd,
    /// How it reached the host.
    pub route: Route,
    /// What the host did with it.
    pub handling: Handling,
    /// When the host saw it.
    pub stamp: Stamp,
    /// From the stop (or notification) to the answer, the host's own trace formatting left out.
    pub latency_ns: u64,
}

/// A `--trace-format json` line. Field names are a stable interface for scripts.
#[derive(Debug, serde::Serialize)]
pub struct JsonLine<'a> {
    /// When the host saw the stop, `CLOCK_REALTIME` nanoseconds.
    pub time_ns: u64,
    /// The process (the host's numbering).
    pub pid: Pid,
    /// The thread.
    pub tid: Pid,
    /// The call's name.
    pub call: &'a str,
    /// The call's number.
    pub nr: u64,
    /// The arguments, each as the text trace shows it.
    pub args: &'a [String],
    /// The result as a signed value (`-errno` on failure); `null` when unknown.
    pub result: Option<i64>,
    /// The errno's name on failure.
    pub error: Option<String>,
    /// `trap`, `backstop` or `directfs`.
    pub route: &'static str,
    /// `executed`, `host` or `refused`.
    pub handling: &'static str,
    /// Stop (or notification) to answer, nanoseconds.
    pub latency_ns: u64,
}

/// Where trace lines go.
#[derive(Debug)]
pub struct TraceSink {
    out: std::io::BufWriter<Box<dyn WriteDebug>>,
    to_terminal_stream: bool,
    format: TraceFormat,
}

/// `Write` plus `Debug` (so the sink can derive `Debug`) and `Send` (the directfs thread has one).
pub trait WriteDebug: Write + std::fmt::Debug + Send {}
impl<T: Write + std::fmt::Debug + Send> WriteDebug for T {}

impl TraceSink {
    /// Trace to stderr (`None`) or to a file.
    pub fn open(file: Option<&std::path::Path>, format: TraceFormat) -> anyhow::Result<TraceSink> {
        Ok(match file {
            None => TraceSink { out: std::io::BufWriter::new(Box::new(crate::report::log::RawStderr)), to_terminal_stream: true, format },
            Some(path) => {
                std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot create trace file {}: {e}", path.display()))?;
                TraceSink::append(path, format)?
            }
        })
    }

    /// A second writer to the same trace (the directfs thread's): to stderr, or appending to
    /// the file, so each writer's lines land whole at the end.
    pub fn another(file: Option<&std::path::Path>, format: TraceFormat) -> anyhow::Result<TraceSink> {
        match file {
            None => TraceSink::open(None, format),
            Some(path) => TraceSink::append(path, format),
        }
    }

    fn append(path: &std::path::Path, format: TraceFormat) -> anyhow::Result<TraceSink> {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open trace file {}: {e}", path.display()))?;
        // Line-buffered in effect: each line is flushed, so two writers interleave by line.
        Ok(TraceSink { out: std::io::BufWriter::new(Box::new(f)), to_terminal_stream: true, format })
    }

    /// Writes one call: `[pid N] call = result <tag>`, or its [`JsonLine`]. The call's strings
    /// are already quoted ([`describe_call`]); the text sink escapes whatever could still
    /// break the line ([`crate::report::log::one_line`]), as the log does, and JSON escapes
    /// every control character itself.
    pub fn record(&mut self, record: &Record<'_>) {
        match self.format {
            TraceFormat::Text => {
                let result = match record.end {
                    CallEnd::Value(raw) => format_result(raw),
                    CallEnd::Unknown => "?".to_string(),
                    CallEnd::Interrupted => "? (interrupted by a signal)".to_string(),
                };
                let call = record.call.to_string();
                let call = crate::report::log::one_line(&call);
                let _ = writeln!(self.out, "[pid {}] {call} = {result} {}", record.tid, tag(record.route, record.handling));
            }
            TraceFormat::Json => {
                let (result, error) = match record.end {
                    CallEnd::Value(raw) => match trapbox_abi::errno::decode(raw) {
                        Err(errno) => (Some(-i64::from(errno)), Some(crate::decode::names::errno_name(errno))),
                        Ok(_) => (Some(raw as i64), None),
                    },
                    CallEnd::Unknown | CallEnd::Interrupted => (None, None),
                };
                let line = JsonLine {
                    time_ns: record.stamp.wall_ns,
                    pid: record.pid,
                    tid: record.tid,
                    call: &record.call.name,
                    nr: record.number,
                    args: &record.call.args,
                    result,
                    error,
                    route: record.route.name(),
                    handling: record.handling.name(),
                    latency_ns: record.latency_ns,
                };
                // (Serialising plain strings and numbers cannot fail; a write error is the
                // trace file's, ignored as for text lines.)
                if serde_json::to_writer(&mut self.out, &line).is_ok() {
                    let _ = self.out.write_all(b"\n");
                }
            }
        }
        if self.to_terminal_stream {
            // Interleave sensibly with the guest's own stderr.
            let _ = self.out.flush();
        }
    }

    /// Writes a free-form note line (escaped as [`TraceSink::line`] is).
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.out, "{}", crate::report::log::one_line(text));
        if self.to_terminal_stream {
            let _ = self.out.flush();
        }
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trapbox_abi::linux::nr;

    #[test]
    fn socket_addresses_read_from_a_process() {
        let me = std::process::id() as Pid;
        let show = |bytes: &[u8]| format_sockaddr(me, bytes.as_ptr() as u64, bytes.len() as u64);
        let mut inet = vec![2, 0, 0x1f, 0x90, 127, 0, 0, 1];
        inet.extend([0; 8]);
        assert_eq!(show(&inet), "{AF_INET, 127.0.0.1:8080}");
        let mut inet6 = vec![10, 0, 0, 53, 0, 0, 0, 0];
        inet6.extend([0; 15]);
        inet6.extend([1, 0, 0, 0, 0]);
        assert_eq!(show(&inet6), "{AF_INET6, [::1]:53}");
        assert_eq!(show(b"\x01\x00/run/x.sock\0"), "{AF_UNIX, \"/run/x.sock\"}");
        assert_eq!(show(b"\x01\x00\0name"), "{AF_UNIX, @\"name\"}");
        assert_eq!(format_sockaddr(me, 0x10, 16), "0x10", "an unreadable address stays a pointer");
        assert_eq!(show(&[1, 0]), "{AF_UNIX}");
    }

    #[test]
    fn formats() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(0o2000000 | 0o100 | 1), "O_WRONLY|O_CREAT|O_CLOEXEC");
        assert_eq!(format_result(3), "3");
        assert_eq!(format_result(trapbox_abi::errno::encode_error(2)), "-1 ENOENT");
        assert_eq!(format_call(0, nr::CLOSE, &[3, 0, 0, 0, 0, 0]), "close(3)");
        assert_eq!(format_call(0, nr::KILL, &[u64::from(-12605i32 as u32), 0, 0, 0, 0, 0]), "kill(-12605, SIG0)", "pid_t is 32 bits");
        assert_eq!(format_call(0, nr::FCHMOD, &[3, 0o4755, 0, 0, 0, 0]), "fchmod(3, 04755)");
        assert_eq!(quote(b"a\"b\n", true), "\"a\\\"b\\n\"...");
        let forged = c"/etc/\n\x1b[2Ktrapbox: allowed everything\x1b]0;pwned\x07";
        let me = std::process::id() as Pid;
        assert_eq!(
            format_call(me, nr::OPEN, &[forged.as_ptr() as u64, 0, 0, 0, 0, 0]),
            "open(\"/etc/\\n\\x1b[2Ktrapbox: allowed everything\\x1b]0;pwned\\x07\", O_RDONLY)"
        );
    }
}
