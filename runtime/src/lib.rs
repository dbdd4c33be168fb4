//! The trapbox host: the guest's debugger.
//!
//! - [`launcher`]: fork, seize, lock down (no-new-privs, fds, seccomp), exec;
//! - [`seccomp`]: the backstop filter, generated from [`syscalls`];
//! - [`syscalls`]: the dispatcher's table of every x86-64 call and its disposition;
//! - [`debugger`]: the ptrace event loop, trap recognition, per-process and per-thread state;
//! - [`inject`]: the stub page and the injector; [`hostcalls`]: the calls only trapbox has;
//! - [`modules`]: which file is mapped where, and its trap table;
//! - [`trace`]: `--trace` lines; [`log`]: where the host's messages go (`--log`);
//! - [`pinned`]: the region where the host pins the paths and addresses it decides on;
//! - [`policy`]: the policy model (flags and TOML), [`confine`]: the host's checks of path
//!   calls against it, [`broker`]: the host performing the path calls Landlock does not
//!   cover, [`directfs`]: opens performed by the host and handed over as fds,
//!   [`netpolicy`]: the network policy, [`landlock`]: the kernel's copy of the allow lists;
//! - [`sys`]: safe wrappers over ptrace, wait and guest memory (with [`launcher`], the only `unsafe`).

pub mod broker;
pub mod cli;
pub mod confine;
pub mod creds;
pub mod debugger;
pub mod directfs;
pub mod guest_landlock;
pub mod hostcalls;
pub mod inject;
pub mod interp;
pub mod landlock;
pub mod log;
pub mod launcher;
pub mod modules;
pub mod names;
pub mod netpolicy;
pub mod openat2;
pub mod pinned;
pub mod policy;
pub mod requests;
pub mod seccomp;
pub mod sockets;
pub mod sys;
pub mod syscalls;
pub mod trace;
pub mod workers;
