//! What the host tells its user: `--trace` lines ([`trace`]) and its own messages, denials and
//! `--stats` ([`log`]), every guest-controlled byte escaped; the per-call figures of `--stats` ([`stats`]).

pub mod log;
pub mod stats;
pub mod trace;
