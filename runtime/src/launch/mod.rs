//! Starting a guest: the kernel's isolation underneath everything the host decides.
//!
//! [`launcher`] clones trapbox's init into the guest's own namespaces, seizes the guest and
//! locks it down before `exec`: no-new-privs, its fds, [`landlock`] (the kernel's copy of the
//! allow lists) and [`seccomp`] (the backstop filter, generated from the call table).
//! [`mounts`] makes the base environment's private mounts in the guest's mount namespace, and
//! [`view`] is how the host reaches the guest's files there (from the guest's own root), and
//! [`agent`] is init serving the host there: the opens and mounts only a process inside the
//! guest's namespaces can make.

pub mod agent;
pub mod landlock;
pub mod launcher;
pub mod mounts;
pub mod seccomp;
pub mod view;
