//! The trapbox host: the guest's debugger.
//!
//! - [`launcher`]: the guest's namespaces, trapbox's init, seize, lock down (no-new-privs,
//!   fds, Landlock, seccomp), exec;
//! - [`seccomp`]: the backstop filter, generated from [`syscalls`];
//! - [`syscalls`]: the dispatcher's table of every x86-64 call and its disposition;
//! - [`debugger`]: the ptrace event loop, trap recognition, per-process and per-thread state;
//! - [`inject`]: the stub page and the injector; [`hostcalls`]: the calls only trapbox has;
//! - [`modules`]: which file is mapped where, and its trap table;
//! - [`trace`]: `--trace` lines; [`log`]: where the host's messages go (`--log`), escaped;
//! - [`pinned`]: the host's area in every guest: the region where the host pins the paths and
//!   addresses it decides on, and the stub page;
//! - [`policy`]: the policy model (flags and TOML), [`confine`]: the host's checks of path
//!   calls against it, [`requests`]: the allow-lists of request-code calls (ioctl, fcntl,
//!   setsockopt, prctl) at the kernel's width, [`interp`]: the interpreters an exec runs,
//!   [`broker`]: the host performing the path calls Landlock does not cover, [`directfs`]:
//!   opens performed by the host and handed over as fds, [`workers`]: the host threads that
//!   perform the opens that may block or that run under a guest's own Landlock domain
//!   ([`guest_landlock`]), [`openat2`]: `open_how` and `RESOLVE_*` as the kernel judges them,
//!   [`creds`]: performing calls with the guest thread's credentials, [`netpolicy`] and
//!   [`sockets`]: the network policy and the
//!   host's socket calls on guest duplicates, [`landlock`]: the kernel's copy of the allow lists;
//! - [`sys`]: safe wrappers over ptrace, wait, guest memory and thread credentials.
//!
//! Where the `unsafe` is (each block with a `// SAFETY:` line): [`sys`] (ptrace, wait, guest
//! memory, credentials, `PROCMAP_QUERY`), [`launcher`] (the raw calls of the forked children),
//! [`broker`] (the host's own `*at` calls on fds it opened beneath a grant), [`directfs`]
//! (the user-notification ioctls, `fstat`/`fstatfs`/`fcntl` of the files it opens, the signal
//! that releases a worker), [`landlock`] (its three system calls), [`guest_landlock`]
//! (no-new-privs on its worker threads, `kcmp`), [`openat2`] (the raw call that judges a
//! guest's `open_how`), [`netpolicy`] and [`sockets`] (socket calls on the host's duplicates
//! of guest sockets). No other module has any.

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
