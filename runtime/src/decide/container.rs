//! What a container's root is made of ([`crate::oci`] reads it from an OCI bundle): its root
//! filesystem and the host files and directories its `config.json` binds into it. The
//! filesystems it mounts of its own (proc, tmpfs, devpts, mqueue) are the policy's
//! [`crate::decide::base::Mount`]s; this is what the mount plan
//! ([`crate::launch::mounts::MountPlan`]) needs besides.

use std::path::PathBuf;

/// A container's root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerRoot {
    /// The host directory that becomes the guest's `/` (the bundle's `root.path`).
    pub rootfs: PathBuf,
    /// `root.readonly`: the root is made read-only once its mount points exist.
    pub readonly: bool,
    /// Host paths shown inside it, in the order `config.json` lists them.
    pub binds: Vec<ContainerBind>,
}

/// One host file or directory shown in a container (a `bind` mount of `config.json`, or the
/// host's `/sys`, read-only, for a `sysfs` one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerBind {
    /// The host path.
    pub source: PathBuf,
    /// Where the guest sees it (absolute, in the container).
    pub destination: PathBuf,
    /// Writable; otherwise read-only.
    pub writable: bool,
    /// A directory (otherwise a file).
    pub dir: bool,
    /// `nosuid`, `nodev`, `noexec` as `MOUNT_ATTR_*` bits of the mount API.
    pub attrs: u64,
}
