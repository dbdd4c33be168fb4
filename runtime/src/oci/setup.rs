//! A bundle's `config.json` turned into trapbox's model: the container's root, mounts and
//! grants ([`crate::decide::container`]), its namespaces, user, limits and capabilities
//! ([`crate::session::ContainerSetup`]).
//!
//! What the container may touch defaults to what the bundle describes: its root filesystem
//! (writable unless `root.readonly`), each mount (a bind writable unless `ro`), its own proc,
//! `/dev`, devpts and mqueue, and nothing else of the host. The annotation `dev.trapbox.policy`
//! names a TOML file whose grants replace those of the root and the binds (paths as the
//! container sees them); `dev.trapbox.net` (`none`, `loopback`, `all`) and `dev.trapbox.audit`
//! (`true`) set what `--net` and `--audit` set for `trapbox run`.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use serde::Deserialize;
use trapbox_abi::hostcall::{ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE};

use crate::decide::base::{Mount as BaseMount, MountKind};
use crate::decide::container::{ContainerBind, ContainerRoot};
use crate::decide::policy::{NetMode, Origin, Policy};
use crate::launch::launcher::{GuestUser, Namespaces};
use crate::oci::spec::{self, Spec};

const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// The annotation naming a trapbox policy file for the container.
pub const POLICY_ANNOTATION: &str = "dev.trapbox.policy";
/// The annotation setting the container's network reach.
pub const NET_ANNOTATION: &str = "dev.trapbox.net";
/// The annotation asking for every path call to be decided (and logged) by the host.
pub const AUDIT_ANNOTATION: &str = "dev.trapbox.audit";
/// The annotation naming the file the host writes its log (every refusal) to.
pub const LOG_ANNOTATION: &str = "dev.trapbox.log";

/// The size of a tmpfs whose options give none: the kernel's default is half of memory, a
/// container's should not be.
const DEFAULT_TMPFS_SIZE: u64 = 64 << 20;

/// `dev.trapbox.policy`'s file: grants in the container's own paths. (Not the policy file of
/// `trapbox run`: those paths are the host's, checked and canonicalized there, and most of its
/// keys — environment, working directory, limits — are the bundle's to say for a container.
/// Its grant lists repeat that file's rather than share them through `#[serde(flatten)]`,
/// which serde cannot combine with `deny_unknown_fields`, and a misspelt key must be refused.)
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerPolicyFile {
    #[serde(default)]
    allow_read: Vec<PathBuf>,
    #[serde(default)]
    allow_write: Vec<PathBuf>,
    #[serde(default)]
    allow_exec: Vec<PathBuf>,
    net: Option<NetMode>,
    #[serde(default)]
    audit: bool,
}

/// A container's root filesystem, canonical, checked to be a directory.
pub fn rootfs(bundle: &Path, spec: &Spec) -> anyhow::Result<PathBuf> {
    let Some(root) = &spec.root else {
        bail!("config.json: root: missing (trapbox needs the container's root filesystem)")
    };
    let path = if root.path.is_absolute() {
        root.path.clone()
    } else {
        bundle.join(&root.path)
    };
    let canonical = path
        .canonicalize()
        .with_context(|| format!("config.json: root.path: {}", path.display()))?;
    if !canonical.is_dir() {
        bail!(
            "config.json: root.path: {} is not a directory",
            canonical.display()
        );
    }
    Ok(canonical)
}

/// The guest path `path` names inside `rootfs` once every link in it is followed there (as the
/// kernel will follow them in the container), if it exists.
pub fn resolve_in_root(rootfs: &Path, path: &Path) -> Option<PathBuf> {
    let root_c = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(rootfs.as_os_str())).ok()?;
    let root = crate::sys::openat2(
        libc::AT_FDCWD,
        &root_c,
        (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
        0,
        0,
    )
    .ok()?;
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let rel_c = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(relative.as_os_str())).ok()?;
    let file = crate::sys::openat2(
        root.as_raw_fd(),
        &rel_c,
        (libc::O_PATH | libc::O_CLOEXEC) as u64,
        0,
        libc::RESOLVE_IN_ROOT,
    )
    .ok()?;
    let host = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let inside = host.strip_prefix(rootfs).ok()?;
    Some(Path::new("/").join(inside))
}

/// Finds `process.args[0]` as runc does: a name without `/` in the `PATH` of the container's
/// environment, inside its root; the result is the path the container sees.
pub fn program(rootfs: &Path, process: &spec::Process) -> anyhow::Result<PathBuf> {
    let Some(name) = process.args.first() else {
        bail!("config.json: process.args: empty (there is no program to run)")
    };
    if name.contains('/') {
        let path = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            Path::new(&process.cwd).join(name)
        };
        return match resolve_in_root(rootfs, &path) {
            Some(_) => Ok(path),
            None => bail!("exec: {name:?}: no such file or directory in the container"),
        };
    }
    let path_var = process
        .env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path_var.split(':').filter(|d| d.starts_with('/')) {
        let candidate = Path::new(dir).join(name);
        if let Some(found) = resolve_in_root(rootfs, &candidate) {
            let host = rootfs.join(found.strip_prefix("/").unwrap_or(&found));
            if std::fs::metadata(&host).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            }) {
                return Ok(candidate);
            }
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}

/// The container's policy: its root, mounts and grants, its environment and working
/// directory, from `spec` (whose root filesystem is `rootfs`) and its annotations.
pub fn policy(spec: &Spec, rootfs: &Path, process: &spec::Process) -> anyhow::Result<Policy> {
    let readonly = spec.root.as_ref().is_some_and(|r| r.readonly);
    let mut policy = Policy::default();
    let bundle = |why: &str| Origin::Base(why.to_string());
    let mut container = ContainerRoot {
        rootfs: rootfs.to_path_buf(),
        readonly,
        binds: Vec::new(),
    };
    let mut granted: Vec<(PathBuf, u64, String)> = vec![(
        PathBuf::from("/"),
        ACCESS_EXEC | if readonly { ACCESS_READ } else { ACCESS_WRITE },
        "the container's root filesystem (root.path)".to_string(),
    )];
    for (index, mount) in spec.mounts.iter().enumerate() {
        let field = |name: &str| format!("config.json: mounts[{index}].{name}");
        if !mount.destination.is_absolute() {
            bail!(
                "{}: {} is not an absolute path",
                field("destination"),
                mount.destination.display()
            );
        }
        let destination =
            crate::decide::policy::lexically_normal(&mount.destination, Path::new("/"));
        let options: Vec<&str> = mount.options.iter().map(String::as_str).collect();
        let read_only = options.contains(&"ro");
        let kind = mount.kind.as_deref().unwrap_or(
            if options.iter().any(|o| *o == "bind" || *o == "rbind") {
                "bind"
            } else {
                ""
            },
        );
        let own = |kind: MountKind, what: &str| BaseMount {
            path: destination.clone(),
            kind,
            what: what.to_string(),
        };
        match kind {
            "proc" => {
                policy.mounts.push(own(MountKind::Proc, "proc of the container's own PID namespace"));
                granted.push((destination.clone(), ACCESS_READ, "the container's proc".into()));
            }
            "tmpfs" if destination == Path::new("/dev") => {
                policy.mounts.push(own(MountKind::Dev, "the container's /dev: a tmpfs with the common devices bound into it"));
                granted.push((destination.clone(), ACCESS_READ, "the container's /dev".into()));
                for device in crate::decide::base::DEVICES {
                    if Path::new(device).exists() {
                        granted.push((PathBuf::from(device), ACCESS_WRITE, "a common device".into()));
                    }
                }
                granted.push((PathBuf::from("/dev/ptmx"), ACCESS_WRITE, "new terminals (a link to pts/ptmx)".into()));
            }
            "tmpfs" => {
                let size = options.iter().find_map(|o| o.strip_prefix("size=")).map(parse_size).transpose().with_context(|| field("options"))?;
                policy.mounts.push(own(MountKind::Tmpfs(size.unwrap_or(DEFAULT_TMPFS_SIZE)), "a tmpfs of the container's own"));
                granted.push((destination.clone(), if read_only { ACCESS_READ } else { ACCESS_WRITE }, "a tmpfs of the container's own".into()));
            }
            "devpts" => {
                policy.mounts.push(own(MountKind::Devpts, "a devpts instance of the container's own"));
                granted.push((destination.clone(), ACCESS_WRITE, "the container's terminals".into()));
            }
            "mqueue" => {
                policy.mounts.push(own(MountKind::Mqueue, "the POSIX message queues of the container's IPC namespace"));
                granted.push((destination.clone(), ACCESS_WRITE, "the container's message queues".into()));
            }
            // A sysfs of its own needs a network namespace its user namespace owns, which an
            // engine's (made by root) is not; the host's, read-only, shows the same devices.
            "sysfs" => {
                container.binds.push(ContainerBind {
                    source: PathBuf::from("/sys"),
                    destination: destination.clone(),
                    writable: false,
                    dir: true,
                    attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                });
                granted.push((destination.clone(), ACCESS_READ, "the host's /sys, read-only".into()));
            }
            // The host's cgroup tree is in the read-only /sys already.
            "cgroup" | "cgroup2" if spec.mounts.iter().any(|m| m.kind.as_deref() == Some("sysfs") && destination.starts_with(&m.destination)) => {}
            "bind" => {
                let Some(source) = &mount.source else { bail!("{}: missing (a bind mount needs one)", field("source")) };
                let source = source.canonicalize().with_context(|| format!("{}: {}", field("source"), source.display()))?;
                let mut attrs = 0;
                for (option, attr) in [("nosuid", MOUNT_ATTR_NOSUID), ("nodev", MOUNT_ATTR_NODEV), ("noexec", MOUNT_ATTR_NOEXEC)] {
                    if options.contains(&option) {
                        attrs |= attr;
                    }
                }
                let dir = source.is_dir();
                container.binds.push(ContainerBind { source: source.clone(), destination: destination.clone(), writable: !read_only, dir, attrs: attrs | MOUNT_ATTR_NODEV });
                let access = if read_only { ACCESS_READ } else { ACCESS_WRITE } | if attrs & MOUNT_ATTR_NOEXEC == 0 { ACCESS_EXEC } else { 0 };
                granted.push((destination.clone(), access, format!("bound from the host's {}", source.display())));
            }
            other => bail!("{}: {other:?} is not a mount type trapbox makes (bind, tmpfs, proc, sysfs, devpts, mqueue)", field("type")),
        }
    }
    // A policy file replaces the grants of the root and the binds (not of the container's own
    // filesystems).
    let file_policy = match spec.annotations.get(POLICY_ANNOTATION) {
        Some(file) => Some(load_policy_file(Path::new(file))?),
        None => None,
    };
    for (path, access, why) in granted {
        let from_bundle = path == Path::new("/")
            || container
                .binds
                .iter()
                .any(|b| b.destination == path && b.source != Path::new("/sys"));
        if file_policy.is_none() || !from_bundle {
            policy.add_grant(path, access, bundle(&why));
        }
    }
    if let Some(file) = &file_policy {
        let origin = Origin::File(PathBuf::from(&spec.annotations[POLICY_ANNOTATION]));
        for (paths, access) in [
            (&file.allow_read, ACCESS_READ),
            (&file.allow_write, ACCESS_WRITE),
            (&file.allow_exec, ACCESS_EXEC),
        ] {
            for path in paths {
                if !path.is_absolute() {
                    bail!(
                        "{}: {}: a container's grant is an absolute path as the container sees it",
                        spec.annotations[POLICY_ANNOTATION],
                        path.display()
                    );
                }
                policy.add_grant(
                    crate::decide::policy::lexically_normal(path, Path::new("/")),
                    access,
                    origin.clone(),
                );
            }
        }
        policy.audit = file.audit;
    }
    policy.container = Some(container);
    // The dynamic loader of the container's own libc, if it has one (a static image has none).
    if let Some(loader) = resolve_in_root(rootfs, Path::new(crate::decide::base::SYSTEM_LOADER)) {
        policy.loaders.push(loader);
    }
    policy.net = match (
        spec.annotations.get(NET_ANNOTATION),
        file_policy.as_ref().and_then(|f| f.net),
    ) {
        (Some(text), _) => net_mode(text)?,
        (None, Some(net)) => net,
        // The engine gave the container its network (its own namespace, or the host's).
        (None, None) => NetMode::All,
    };
    match spec.annotations.get(AUDIT_ANNOTATION).map(String::as_str) {
        None => {}
        Some("true") => policy.audit = true,
        Some("false") => policy.audit = false,
        Some(other) => bail!(
            "config.json: annotations.{AUDIT_ANNOTATION}: {other:?} is neither true nor false"
        ),
    }
    policy.clear_env = true;
    policy.env = environment(process)?;
    policy.cwd = Some(PathBuf::from(if process.cwd.is_empty() {
        "/"
    } else {
        &process.cwd
    }));
    if !Path::new(&process.cwd).is_absolute() && !process.cwd.is_empty() {
        bail!(
            "config.json: process.cwd: {} is not an absolute path",
            process.cwd
        );
    }
    Ok(policy)
}

/// `process.env` as variables.
fn environment(process: &spec::Process) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (index, entry) in process.env.iter().enumerate() {
        let Some((key, value)) = entry.split_once('=') else {
            bail!("config.json: process.env[{index}]: {entry:?} is not KEY=VALUE")
        };
        env.insert(key.to_string(), value.to_string());
    }
    Ok(env)
}

fn net_mode(text: &str) -> anyhow::Result<NetMode> {
    Ok(match text {
        "none" => NetMode::None,
        "loopback" => NetMode::Loopback,
        "all" => NetMode::All,
        other => bail!(
            "config.json: annotations.{NET_ANNOTATION}: {other:?} is not none, loopback or all"
        ),
    })
}

fn load_policy_file(file: &Path) -> anyhow::Result<ContainerPolicyFile> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "annotations.{POLICY_ANNOTATION}: cannot read {}",
            file.display()
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "annotations.{POLICY_ANNOTATION}: {}: {}",
            file.display(),
            e.to_string().trim_end()
        )
    })
}

/// `64m`, `65536k`, `1g` or bytes, as tmpfs's `size=` takes them.
fn parse_size(text: &str) -> anyhow::Result<u64> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| anyhow::anyhow!("size={text} is not a size"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| anyhow::anyhow!("size={text} is too large"))
}

/// The new namespaces of a container (`create`): trapbox always makes its own user, mount,
/// PID, IPC, UTS and cgroup namespaces (the guest is contained in them whatever the bundle
/// asks); it shares a network, IPC or UTS namespace the bundle names by path, makes a network
/// namespace where the bundle asks for a new one and leaves the host's where it names none.
pub fn namespaces(spec: &Spec) -> anyhow::Result<Namespaces> {
    let mut namespaces = Namespaces::for_invoker(false);
    let mut network = false;
    for (index, ns) in spec.linux.namespaces.iter().enumerate() {
        let kind = match ns.kind.as_str() {
            "network" => libc::CLONE_NEWNET,
            "ipc" => libc::CLONE_NEWIPC,
            "uts" => libc::CLONE_NEWUTS,
            "pid" => libc::CLONE_NEWPID,
            "mount" => libc::CLONE_NEWNS,
            "user" => libc::CLONE_NEWUSER,
            "cgroup" => libc::CLONE_NEWCGROUP,
            "time" => bail!(
                "config.json: linux.namespaces[{index}].type: a time namespace is not supported"
            ),
            other => bail!(
                "config.json: linux.namespaces[{index}].type: {other:?} is not a namespace type"
            ),
        };
        if kind == libc::CLONE_NEWNET {
            network = true;
        }
        let Some(path) = &ns.path else {
            if kind == libc::CLONE_NEWNET {
                namespaces.flags |= libc::CLONE_NEWNET;
            }
            continue;
        };
        if !matches!(
            kind,
            libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS
        ) {
            bail!(
                "config.json: linux.namespaces[{index}].path: trapbox shares only network, IPC and UTS namespaces; the guest always gets a {} namespace of its own",
                ns.kind
            );
        }
        let file = std::fs::File::open(path).with_context(|| {
            format!(
                "config.json: linux.namespaces[{index}].path: {}",
                path.display()
            )
        })?;
        namespaces.flags &= !kind;
        namespaces.join.push((kind, Arc::new(OwnedFd::from(file))));
    }
    let _ = network;
    let (uid, gid) = crate::sys::effective_ids();
    if spec.linux.uid_mappings.is_empty() && uid != 0 {
        // Rootless, as rootless runc: the container's root is the invoker.
        namespaces.uid_map = format!("0 {uid} 1\n");
        namespaces.gid_map = format!("0 {gid} 1\n");
    }
    if !spec.linux.uid_mappings.is_empty() {
        namespaces.uid_map = id_map(&spec.linux.uid_mappings);
        namespaces.gid_map = id_map(&spec.linux.gid_mappings);
        if spec.linux.gid_mappings.is_empty() {
            bail!("config.json: linux.gidMappings: missing while linux.uidMappings is given");
        }
    }
    if namespaces.flags & libc::CLONE_NEWUTS != 0 {
        if let Some(name) = &spec.hostname {
            namespaces.hostname = Some(
                CString::new(name.as_str())
                    .map_err(|_| anyhow::anyhow!("config.json: hostname: holds a NUL byte"))?,
            );
        }
    }
    Ok(namespaces)
}

fn id_map(mappings: &[spec::IdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// `process.user`.
pub fn user(process: &spec::Process) -> GuestUser {
    GuestUser {
        uid: process.user.uid,
        gid: process.user.gid,
        groups: process.user.additional_gids.clone(),
    }
}

/// `process.rlimits` as (resource, soft, hard).
pub fn rlimits(
    process: &spec::Process,
) -> anyhow::Result<Vec<(libc::__rlimit_resource_t, u64, u64)>> {
    let mut limits = Vec::new();
    for (index, limit) in process.rlimits.iter().enumerate() {
        let Some(resource) = spec::rlimit_resource(&limit.kind) else {
            bail!(
                "config.json: process.rlimits[{index}].type: {:?} is not a resource limit",
                limit.kind
            );
        };
        if limit.soft > limit.hard {
            bail!(
                "config.json: process.rlimits[{index}]: soft {} above hard {}",
                limit.soft,
                limit.hard
            );
        }
        limits.push((resource, limit.soft, limit.hard));
    }
    Ok(limits)
}

/// The capabilities to drop from the guest's bounding set: those `process.capabilities.bounding`
/// does not list (all of them when `process.capabilities` is absent, as runc gives none).
pub fn dropped_capabilities(process: &spec::Process) -> anyhow::Result<u64> {
    let mut kept = 0u64;
    if let Some(caps) = &process.capabilities {
        for (index, name) in caps.bounding.iter().enumerate() {
            match spec::CAPABILITIES.iter().position(|c| c == name) {
                Some(bit) => kept |= 1 << bit,
                None => bail!("config.json: process.capabilities.bounding[{index}]: {name:?} is not a capability"),
            }
        }
    }
    Ok(crate::sys::known_capabilities() & !kept)
}
