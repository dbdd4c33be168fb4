//! Whether a call may happen: the [`policy`] model and the host's checks against it —
//! paths ([`confine`]), request codes ([`requests`]), the interpreters an exec runs
//! ([`interp`]), the network ([`netpolicy`]) and mounts in the guest's own namespace ([`mounts`]). [`base`] is what every guest gets without
//! asking (its own `/tmp`, `/dev`, `/proc`, locale data…).

pub mod base;
pub mod confine;
pub mod container;
pub mod interp;
pub mod mounts;
pub mod netpolicy;
pub mod policy;
pub mod requests;
