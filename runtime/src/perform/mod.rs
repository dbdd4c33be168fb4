//! The calls the host performs for a guest, as the guest would: opens handed over as fds
//! ([`directfs`], on [`workers`] where they may block or must run under the guest's own
//! Landlock domain, [`guest_landlock`]), metadata changes on the host's own copies
//! ([`broker`]), socket calls on duplicates of guest sockets ([`sockets`]), all with the
//! guest thread's credentials ([`creds`]).

pub mod agent;
pub mod broker;
pub mod creds;
pub mod directfs;
pub mod guest_landlock;
pub mod sockets;
pub mod unotify;
pub mod workers;
