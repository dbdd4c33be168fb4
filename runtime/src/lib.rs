//! The trapbox host: the guest's debugger, and trapbox as a library.
//!
//! An embedding program runs a sandboxed program with [`Command`], shaped like
//! [`std::process::Command`], under a [`Policy`], and can serve the programs it sandboxes
//! hostcalls of its own ([`Command::hostcall`]); see [`command`]. `trapbox run` is built on the
//! same type ([`cli`]), and one run's hosting is [`session`].
//!
//! ```
//! let out = trapbox::Command::new("/bin/busybox")
//!     .args(["cat", "/etc/hostname"])
//!     .policy(trapbox::Policy::new().allow_read("/etc/hostname"))
//!     .output()?;
//! assert_eq!(out.stdout, std::fs::read("/etc/hostname")?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A guest's call flows through the layers in the order of the folders: registers are
//! [`decode`]d once (each argument at the kernel's width, copied once from the guest), the
//! policy [`decide`]s, the host or the guest's own thread [`perform`]s it, and the result goes
//! back with a line for whoever asked ([`report`]). Underneath, [`launch`] gives every guest its
//! kernel isolation (namespaces, Landlock, the seccomp backstop); [`trap`] is the debugger
//! that catches each stop; [`sys`] wraps the host's raw Linux calls; [`cli`] is `trapbox run`;
//! [`bench_cmd`] is `trapbox bench`, the interception mechanisms of the machine side by side;
//! [`oci`] is `trapbox oci`, an OCI runtime with runc's command line for container engines.
//!
//! Where the `unsafe` is (each block with a `// SAFETY:` line): [`sys`] (ptrace, wait, guest
//! memory, credentials, `PROCMAP_QUERY`, fd passing, directory listings and links read by name, the fork of a [`Command`]'s monitor), [`launch::launcher`] (the raw calls of the forked
//! children), [`launch::agent`] (init's raw calls as the host's agent, and the request's bytes),
//! [`perform::agent`] (the reply's bytes), [`launch::mounts`] (init's raw mount calls for the base environment),
//! [`launch::landlock`] (its three system calls), [`perform::broker`] (the host's
//! own `*at` calls on fds it opened beneath a grant), [`perform::directfs`] (the
//! user-notification ioctls, `fstat`/`fstatfs`/`fcntl` of the files it opens),
//! [`perform::workers`] (the signal that interrupts a worker's wait, and the raw call it waits in),
//! [`perform::guest_landlock`] (no-new-privs on its worker threads), [`decode::openat2`] (the
//! raw call that judges a guest's `open_how`), [`perform::sockets`] (socket calls on the
//! host's duplicates of guest sockets), [`decide::netpolicy`] (the mode of a socket file it
//! bound) and [`bench_cmd`] (its measuring loops' inline assembly, the forked traced child's
//! raw calls, the measuring seccomp filters and their listener's ioctls). No other module has
//! any.

pub mod bench_cmd;
pub mod cli;
pub mod command;
pub mod decide;
pub mod decode;
pub mod launch;
mod monitor;
pub mod oci;
pub mod perform;
pub mod report;
pub mod session;
pub mod sys;
pub mod trap;

pub use command::{Backend, Child, Command, Errno, Error, Hostcall, HostcallHandler, Mechanism, NetMode, Output, Personality, Policy, Report, Stats, Stdio, Trace, TraceFormat};
pub use trapbox_abi::hostcall::{EMBEDDER_BASE, EMBEDDER_END};
