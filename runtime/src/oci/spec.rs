//! The part of an OCI bundle's `config.json` (runtime-spec 1.x) trapbox reads. Fields it does
//! not know are ignored, as runc ignores them; a field it knows with the wrong type, or a value
//! it cannot honour, is an error that names the field (`process.user.uid`, `mounts[3].type`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The runtime-spec version trapbox implements.
pub const OCI_VERSION: &str = "1.0.2";

/// A bundle's `config.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub oci_version: String,
    pub process: Option<Process>,
    pub root: Option<Root>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub linux: Linux,
    /// Hooks trapbox does not run: a bundle that names any is refused rather than run without them.
    #[serde(default)]
    pub hooks: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `process`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
}

/// `process.user`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    #[serde(default)]
    pub umask: Option<u32>,
}

/// One of `process.rlimits`.
#[derive(Clone, Debug, Deserialize)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

/// `process.capabilities`: trapbox reads the bounding set (the others are subsets of it for
/// a process that runs no setuid program, which no trapbox guest can).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub bounding: Vec<String>,
}

/// `root`.
#[derive(Debug, Default, Deserialize)]
pub struct Root {
    pub path: PathBuf,
    #[serde(default)]
    pub readonly: bool,
}

/// One of `mounts`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Mount {
    pub destination: PathBuf,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub source: Option<PathBuf>,
    #[serde(default)]
    pub options: Vec<String>,
}

/// `linux`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub uid_mappings: Vec<IdMapping>,
    #[serde(default)]
    pub gid_mappings: Vec<IdMapping>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub cgroups_path: Option<String>,
    #[serde(default)]
    pub masked_paths: Vec<PathBuf>,
    #[serde(default)]
    pub readonly_paths: Vec<PathBuf>,
}

/// One of `linux.namespaces`.
#[derive(Clone, Debug, Deserialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// One of `linux.uidMappings` / `gidMappings`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

/// `linux.resources`: what trapbox enforces through the container's cgroup. (A missing
/// `Option` field is `None` without `#[serde(default)]`.)
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Resources {
    pub memory: Option<MemoryResources>,
    pub pids: Option<PidsResources>,
    pub cpu: Option<CpuResources>,
}

/// `linux.resources.memory`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MemoryResources {
    pub limit: Option<i64>,
    pub swap: Option<i64>,
}

/// `linux.resources.pids`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PidsResources {
    pub limit: Option<i64>,
}

/// `linux.resources.cpu`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CpuResources {
    pub quota: Option<i64>,
    pub period: Option<u64>,
    pub shares: Option<u64>,
}

/// The runtime-spec's `process` document alone (`trapbox oci exec --process FILE`).
pub fn load_process(file: &Path) -> anyhow::Result<Process> {
    let text =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    parse(&text, file)
}

/// Reads `DIR/config.json`.
pub fn load(bundle: &Path) -> anyhow::Result<Spec> {
    let file = bundle.join("config.json");
    let text =
        std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let spec: Spec = parse(&text, &file)?;
    if spec.oci_version.is_empty() {
        anyhow::bail!("{}: ociVersion: missing", file.display());
    }
    if let Some(kind) = spec.hooks.iter().flatten().find(|(_, list)| list.as_array().is_some_and(|l| !l.is_empty())).map(|(k, _)| k) {
        anyhow::bail!("{}: hooks.{kind}: trapbox-oci runs no hooks, and a container whose hooks did not run would not be what the bundle describes", file.display());
    }
    if !spec.oci_version.starts_with("1.") {
        anyhow::bail!("{}: ociVersion: {} is not a 1.x version of the runtime spec, which trapbox implements ({OCI_VERSION})", file.display(), spec.oci_version);
    }
    Ok(spec)
}

/// Parses JSON, naming the field of any error (`mounts[2].options[0]: invalid type: …`).
fn parse<T: serde::de::DeserializeOwned>(text: &[u8], file: &Path) -> anyhow::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        if field == "." {
            anyhow::anyhow!("{}: {inner}", file.display())
        } else {
            anyhow::anyhow!("{}: {field}: {inner}", file.display())
        }
    })
}

/// The resource `setrlimit` takes for an rlimit's `type` (`RLIMIT_NOFILE`).
pub fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

/// The capabilities by name, in the kernel's numbering (`CAP_CHOWN` is 0).
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];
