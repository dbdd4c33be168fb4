//! What a call is: the table of every x86-64 call ([`syscalls`]), with how each argument is
//! read, and the names of calls, signals and errnos ([`names`]); `open_how` and `RESOLVE_*`
//! as the kernel reads them ([`openat2`]); a guest's `siginfo_t` copied once ([`siginfo`]);
//! the kernel's own errors of the clock-setting calls the table refuses ([`clocks`]); clone3's
//! `struct clone_args` and the flags of every call that makes a task ([`clone_args`]).

pub mod clocks;
pub mod clone_args;
pub mod names;
pub mod openat2;
pub mod siginfo;
pub mod syscalls;
