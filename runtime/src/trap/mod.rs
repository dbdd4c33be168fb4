//! Stops and registers: the host as the guest's debugger.
//!
//! [`debugger`] is the event loop (every trap, seccomp stop and exec), fed by [`events`] (its
//! `waitpid`, and the answers of calls handed to host worker threads); [`modules`] knows which
//! file is mapped where and its trap table; [`pinned`] is the host's area in every guest (the
//! pinned-argument region and the stub page); [`inject`] makes a stopped thread run the call
//! the host chose; [`hostcalls`] serves the calls only trapbox has; [`sigstate`] keeps the
//! guest's `SIGILL` disposition and mask, which a trap's fault would change.

pub mod debugger;
pub mod events;
pub mod hostcalls;
pub mod inject;
pub mod modules;
pub mod pinned;
pub mod sigstate;
