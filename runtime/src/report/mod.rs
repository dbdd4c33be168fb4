//! What the host tells its user: `--trace` lines ([`trace`]) and its own messages, denials and
//! `--stats` ([`log`]), every guest-controlled byte escaped.

pub mod log;
pub mod trace;
