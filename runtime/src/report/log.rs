//! Where the host's own messages go: denials, notes, warnings and `--stats`. With `--log FILE`,
//! every one goes to that file (created or truncated), so the guest's stderr stays exactly what
//! it would be natively. Without it, standard error gets every message, each denial
//! (`trapbox: denied …`, `trapbox: refused …`) as it happens; with `--quiet` the denials and
//! notes are counted instead, and [`summary`] prints one line at exit (how many, and how to
//! see them), for programs that probe for many optional files.
//!
//! A denial repeated word for word (a guest retrying a refused call in a loop) is printed
//! [`SHOWN_REPEATS`] times, then again each time its count doubles, with the count; at exit
//! [`summary`] gives the final count of each such line. Every refusal is still counted and
//! accounted for, but a loop cannot fill the disk or bury the other lines.
//!
//! Every message is one line, whatever text the guest put into it. Paths, socket names and
//! hostcall messages come from guest memory, so the sink itself renders every character that
//! could end a line or drive a terminal (see [`is_unsafe`]) as an escape: no caller can
//! forget, and a path holding `\n` and ESC sequences cannot forge a `trapbox: …` line or
//! repaint the user's terminal. Callers that show guest bytes use [`escape`], which also keeps
//! invalid UTF-8 and backslashes unambiguous; its output passes the sink unchanged.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

static FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();
/// Denials and notes go to stderr when there is no `--log` (unless `--quiet`).
static VERBOSE: AtomicBool = AtomicBool::new(true);
/// Denials logged so far (every thread of the host counts here).
static DENIALS: AtomicU64 = AtomicU64::new(0);
/// How many times each denial line was seen, for those seen more than once.
static REPEATS: OnceLock<Mutex<std::collections::HashMap<String, u64>>> = OnceLock::new();
/// How many copies of one denial line are printed before only doublings are.
pub const SHOWN_REPEATS: u64 = 8;
/// The distinct denial lines whose repeats are tracked; lines beyond these are all printed.
const TRACKED_LINES: usize = 4096;

/// What a message is, by the one shape each kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A call the host refused: `trapbox: denied …` or `trapbox: refused …`.
    Denial,
    /// Something the host did for the guest that changes nothing it sees: `trapbox: note: …`.
    Note,
    /// Everything else: warnings, errors, statistics, the guest's own log lines.
    Always,
}

fn kind_of(text: &str) -> Kind {
    if text.starts_with("trapbox: denied ") || text.starts_with("trapbox: refused ") {
        Kind::Denial
    } else if text.starts_with("trapbox: note: ") {
        Kind::Note
    } else {
        Kind::Always
    }
}

/// Whether every denial and note is printed on stderr (when there is no `--log`): all but `--quiet`.
pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

/// How many calls the host has refused with a log line so far.
pub fn denial_count() -> u64 {
    DENIALS.load(Ordering::Relaxed)
}

/// The line for the end of a run whose denials were neither printed nor written to a file:
/// how many, and how to see them. Nothing when every denial was shown, or there was none.
pub fn summary() {
    if let Some(repeats) = REPEATS.get() {
        let repeats = repeats.lock().unwrap_or_else(|e| e.into_inner());
        let mut final_counts: Vec<(&String, &u64)> = repeats.iter().filter(|(_, &n)| n > SHOWN_REPEATS && !n.is_power_of_two()).collect();
        final_counts.sort();
        for (text, n) in final_counts {
            emit(Kind::Denial, &format!("{text} [{n} times in all]"));
        }
    }
    let count = denial_count();
    if count == 0 || FILE.get().is_some() || VERBOSE.load(Ordering::Relaxed) {
        return;
    }
    let calls = if count == 1 { "call was" } else { "calls were" };
    emit(Kind::Always, &format!("trapbox: {count} {calls} denied by the policy; without --quiet each is printed, --log FILE writes them to FILE"));
}

/// Sends every later message to `path`.
pub fn to_file(path: &std::path::Path, append: bool) -> std::io::Result<()> {
    // (Appending: each line is one write, so the hosts of one container's processes share a log.)
    let file = if append { std::fs::OpenOptions::new().create(true).append(true).open(path)? } else { std::fs::File::create(path)? };
    let _ = FILE.set(Mutex::new(file));
    Ok(())
}

/// Writes one message line (used through [`host_log!`](crate::host_log)), with every
/// character that could break the line or reach the terminal escaped ([`one_line`]).
pub fn line(args: std::fmt::Arguments<'_>) {
    let text = match args.as_str() {
        Some(constant) => Cow::Borrowed(constant),
        None => Cow::Owned(args.to_string()),
    };
    let text = one_line(&text);
    let kind = kind_of(&text);
    if kind == Kind::Denial {
        DENIALS.fetch_add(1, Ordering::Relaxed);
        match times_seen(&text) {
            n if n <= SHOWN_REPEATS => {}
            n if n.is_power_of_two() => return emit(kind, &format!("{text} [{n} times so far]")),
            _ => return,
        }
    }
    emit(kind, &text);
}

/// How many times the denial line `text` has been seen, this one included.
fn times_seen(text: &str) -> u64 {
    let mut repeats = REPEATS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = repeats.get_mut(text) {
        *n += 1;
        return *n;
    }
    if repeats.len() < TRACKED_LINES {
        repeats.insert(text.to_string(), 1);
    }
    1
}

/// Writes `text`, a message of `kind`, where messages go.
fn emit(kind: Kind, text: &str) {
    match FILE.get() {
        Some(file) => {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            // One write per line: several hosts may append to one file.
            let _ = file.write_all(format!("{text}\n").as_bytes());
        }
        None if kind == Kind::Always || VERBOSE.load(Ordering::Relaxed) => {
            let mut line = String::with_capacity(text.len() + 1);
            line.push_str(text);
            line.push('\n');
            crate::sys::write_to_stderr(line.as_bytes());
        }
        None => {}
    }
}

/// The host's standard error without std's lock ([`crate::sys::write_to_stderr`]), for
/// writers that buffer a line and then write it whole.
#[derive(Debug)]
pub struct RawStderr;

impl Write for RawStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        crate::sys::write_to_stderr(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `eprintln!` for the host's messages: to `--log FILE` when given, else standard error (denials
/// and notes counted instead with `--quiet`: see the module's documentation).
#[macro_export]
macro_rules! host_log {
    ($($arg:tt)*) => {
        $crate::report::log::line(format_args!($($arg)*))
    };
}

/// The line `trapbox: denied CALL: REASON` for call `number` of thread `tid`: the one shape of
/// every refusal the host decides.
pub fn denied(tid: crate::sys::Pid, number: u64, args: &[u64; 6], reason: &str) {
    crate::host_log!("trapbox: denied {}: {reason}", crate::report::trace::format_call(tid, number, args));
}

/// Whether `c` must not appear raw in a log or trace line: control characters (C0, DEL and
/// C1, which include newline, carriage return, ESC and the 8-bit CSI), the Unicode line and
/// paragraph separators, and the bidirectional overrides and isolates that make a line read
/// differently from what it holds.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Appends the escape for an unsafe character: `\n`, `\r`, `\t`, `\x1b` below U+0080,
/// `\u{202e}` above.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `text` with every [unsafe](is_unsafe) character escaped; borrowed when there is none (the
/// common case, and always for text made by [`escape`]). Backslashes are left alone: text
/// that needs them unambiguous was built with [`escape`].
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Guest bytes (a path, a name, a message) as text for a log line: printable UTF-8 as it is,
/// a backslash doubled, every [unsafe](is_unsafe) character escaped and every byte that is not
/// valid UTF-8 shown as `\xNN`, so distinct bytes always show distinctly.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if is_unsafe(c) => push_escaped(&mut out, c),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A path for a log line, escaped as [`escape`] does (a path without unusual bytes reads as
/// `Path::display` would show it).
pub fn path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_and_notes_are_told_apart_from_what_is_always_shown() {
        assert_eq!(kind_of("trapbox: denied openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY): outside"), Kind::Denial);
        assert_eq!(kind_of("trapbox: refused `int 0x80` at 0x401000 in pid 2: …"), Kind::Denial);
        assert_eq!(kind_of("trapbox: note: thread 2 restricted itself"), Kind::Note);
        for always in ["trapbox: warning: no Landlock", "trapbox: stats: traps: 1", "trapbox: guest 2 info: hi", "trapbox: guest killed by SIGKILL"] {
            assert_eq!(kind_of(always), Kind::Always, "{always}");
        }
    }

    #[test]
    fn a_repeated_denial_is_counted_but_printed_only_at_doublings() {
        let text = "trapbox: denied kill(7, SIGKILL): a test of repeats";
        let printed: Vec<u64> = (1..=100).filter(|_| {
            let n = times_seen(text);
            n <= SHOWN_REPEATS || n.is_power_of_two()
        }).collect();
        assert_eq!(printed.len(), 8 + 3, "1..=8, then 16, 32 and 64");
        assert_eq!(REPEATS.get().unwrap().lock().unwrap()[text], 100);
    }

    #[test]
    fn nothing_a_guest_writes_breaks_a_line() {
        let forged = "/etc/\n\x1b[2Ktrapbox: allowed everything\x1b]0;pwned\x07";
        assert_eq!(one_line(forged), "/etc/\\n\\x1b[2Ktrapbox: allowed everything\\x1b]0;pwned\\x07");
        assert_eq!(one_line("a\r\u{9b}b\u{2028}c\u{202e}d\u{7f}"), "a\\r\\u{9b}b\\u{2028}c\\u{202e}d\\x7f");
        assert!(matches!(one_line("/usr/share/dict/words é"), Cow::Borrowed(_)), "ordinary text is not copied");
        assert_eq!(escape(b"/tmp/a\\n\n\xff\xc3\xa9"), "/tmp/a\\\\n\\n\\xff\u{e9}", "a literal backslash-n and a newline differ");
        assert_eq!(one_line(&escape(forged.as_bytes())), escape(forged.as_bytes()), "escaped text passes the sink unchanged");
        assert_eq!(path(std::path::Path::new("/usr/lib/x86_64-linux-gnu")), "/usr/lib/x86_64-linux-gnu");
    }
}
