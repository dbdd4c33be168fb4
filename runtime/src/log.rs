//! Where the host's own messages go: denials, warnings and `--stats`. Standard error by
//! default, interleaved with the guest's own; with `--log FILE`, that file (created or
//! truncated), so the guest's stderr stays exactly what it would be natively.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Sends every later message to `path`.
pub fn to_file(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let _ = FILE.set(Mutex::new(file));
    Ok(())
}

/// Writes one message line (used through [`host_log!`](crate::host_log)).
pub fn line(args: std::fmt::Arguments<'_>) {
    match FILE.get() {
        Some(file) => {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(file, "{args}");
        }
        None => eprintln!("{args}"),
    }
}

/// `eprintln!` for the host's messages: to `--log FILE` when given, else standard error.
#[macro_export]
macro_rules! host_log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}
