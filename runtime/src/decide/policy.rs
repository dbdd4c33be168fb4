//! The policy model: what a guest may touch. Anything it does not name is denied.
//!
//! One model, two sources: command-line flags (`--allow-read PATH`, …) and a TOML file
//! (`--policy FILE`) whose keys are the flags' names with `_` for `-`. Flags add to the file's
//! lists and override its single values. Every grant remembers where it came from, so
//! `--print-policy` shows why each path is reachable — including the grants trapbox adds for
//! the program itself, which are never hidden behind a wildcard.
//!
//! ```toml
//! allow_read  = ["/usr/share"]          # read files and list directories beneath
//! allow_write = ["out"]                 # also create, write, remove and rename beneath (implies read)
//! allow_exec  = ["/usr/bin"]            # execute programs beneath (implies read)
//! net = "none"                          # none | loopback | all
//! clear_env = true
//! env = { LANG = "C" }
//! cwd = "out"
//! bare = false                          # true: no base environment (see crate::decide::base)
//! tmp_size = "1G"                       # the guest's own /tmp and /dev/shm, each at most this
//! wait_all = false                      # true: the run ends with the last guest process, not the program
//! audit = false                         # true: the host sees every path call and logs every denial (no grants-only root)
//! [limits]
//! processes = 64
//! address_space = "4G"                  # bytes, or with K/M/G/T (powers of 1024)
//! open_files = 256
//! cpu_time = "60s"                      # seconds, or with ms/s/m/h
//! wall_time = "5m"
//! ```
//!
//! Relative paths in a file are relative to the file's directory; on the command line, to
//! the current directory. Every path must exist when the policy is loaded and is stored in
//! canonical form (symlinks in the granted path itself resolved once, by the user's choice).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use trapbox_abi::hostcall::{ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE};

/// Where a grant came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    CommandLine,
    /// A policy file.
    File(PathBuf),
    /// Added by trapbox so the program can start; the text says why.
    Startup(String),
    /// The base environment every guest gets unless `--bare` ([`crate::decide::base`]); the
    /// text says what it is for.
    Base(String),
}

/// Access to everything beneath one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Canonical absolute path.
    pub path: PathBuf,
    /// A mask of `ACCESS_READ`, `ACCESS_WRITE`, `ACCESS_EXEC` (write and exec include read).
    pub access: u64,
    /// Why the grant exists.
    pub origin: Origin,
}

/// Network reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// Unix sockets only (paths need a write grant; no abstract names).
    #[default]
    None,
    /// Also IPv4/IPv6 to and from the loopback addresses, and route netlink.
    Loopback,
    /// Any destination (unix socket paths still need a write grant).
    All,
}

impl NetMode {
    fn name(self) -> &'static str {
        match self {
            NetMode::None => "none",
            NetMode::Loopback => "loopback",
            NetMode::All => "all",
        }
    }
}

/// Resource limits; `None` leaves the host's own limit in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Processes and threads the guest's user may have (RLIMIT_NPROC).
    pub processes: Option<u64>,
    /// Address space per process in bytes (RLIMIT_AS).
    pub address_space: Option<u64>,
    /// Open file descriptors per process (RLIMIT_NOFILE).
    pub open_files: Option<u64>,
    /// CPU time per process (RLIMIT_CPU).
    pub cpu_time: Option<Duration>,
    /// Wall-clock time for the whole run; the host kills the guest when it runs out.
    pub wall_time: Option<Duration>,
}

/// The effective policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Filesystem grants, in the order they were added.
    pub grants: Vec<Grant>,
    /// Network reach.
    pub net: NetMode,
    /// Start the guest with an empty environment (before `env`).
    pub clear_env: bool,
    /// Variables to set in the guest's environment.
    pub env: BTreeMap<String, String>,
    /// The guest's working directory.
    pub cwd: Option<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
    /// No base environment: only the grants given and what the program needs to start.
    pub bare: bool,
    /// The size of the guest's own `/tmp` and `/dev/shm` (each), in bytes; `None` is
    /// [`crate::decide::base::DEFAULT_TMP_SIZE`].
    pub tmp_size: Option<u64>,
    /// The base environment's private mounts in the guest's mount namespace (none with
    /// `--bare` or `--no-namespaces`), set by [`crate::decide::base::add`].
    pub mounts: Vec<crate::decide::base::Mount>,
    /// Whether each guest process may read its own `/proc/self/{…}` files of
    /// [`crate::decide::confine::OWN_PROC_FILES`] beyond the grants: the base's stand-in for
    /// a `/proc` of its own, where it has none (`--no-namespaces`).
    pub own_proc_files: bool,
    /// The dynamic loaders the kernel may run the guest's exec-granted programs through, and
    /// never as a program of their own (a loader runs any file it is given): the base's
    /// system loader, set by [`crate::decide::base::add`].
    pub loaders: Vec<PathBuf>,
    /// The run ends when the last guest process has exited, not when the program has (the
    /// others are then killed).
    pub wait_all: bool,
    /// Every path call goes to the host, which logs each denial: the guest's root is the
    /// host's (with the base's mounts), not one that holds only the grants
    /// ([`crate::launch::mounts`]), so no metadata call runs natively.
    pub audit: bool,
    /// The guest's `/` is a container's root filesystem ([`crate::oci`]), not the host's:
    /// every grant, mount and loader names a path as the guest sees it there, and their
    /// Landlock rules are added inside the guest's mount namespace
    /// ([`crate::launch::mounts::own_inode`]).
    pub container: Option<crate::decide::container::ContainerRoot>,
}

/// A size: bytes, or a string with a K/M/G/T suffix (powers of 1024).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// A duration: seconds, or a string with an ms/s/m/h suffix.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    processes: Option<u64>,
    address_space: Option<SizeValue>,
    open_files: Option<u64>,
    cpu_time: Option<DurationValue>,
    wall_time: Option<DurationValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    allow_read: Vec<PathBuf>,
    #[serde(default)]
    allow_write: Vec<PathBuf>,
    #[serde(default)]
    allow_exec: Vec<PathBuf>,
    net: Option<NetMode>,
    clear_env: Option<bool>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    bare: Option<bool>,
    tmp_size: Option<SizeValue>,
    wait_all: Option<bool>,
    audit: Option<bool>,
    #[serde(default)]
    limits: LimitsFile,
}

/// Parses `512`, `64K`, `4G`, `1.5G`, `2GiB` into bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: f64 = number.parse().with_context(|| format!("`{text}` is not a size (like 4096, 64K, 4G)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => bail!("`{text}`: unknown size unit `{unit}` (use K, M, G or T)"),
    };
    let bytes = number * multiplier as f64;
    if !(0.0..=u64::MAX as f64).contains(&bytes) {
        bail!("`{text}` is out of range");
    }
    Ok(bytes as u64)
}

/// Parses `30`, `30s`, `500ms`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: f64 = number.parse().with_context(|| format!("`{text}` is not a duration (like 30s, 5m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => bail!("`{text}`: unknown time unit `{other}` (use ms, s, m or h)"),
    };
    Duration::try_from_secs_f64(seconds).with_context(|| format!("`{text}` is out of range"))
}

impl SizeValue {
    fn bytes(&self) -> Result<u64> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(t) => parse_size(t),
        }
    }
}

impl DurationValue {
    fn duration(&self) -> Result<Duration> {
        match self {
            DurationValue::Seconds(n) => Ok(Duration::from_secs(*n)),
            DurationValue::Text(t) => parse_duration(t),
        }
    }
}

/// The access a grant of `access` also implies: writing and executing need reading.
fn with_implied(access: u64) -> u64 {
    if access & (ACCESS_WRITE | ACCESS_EXEC) != 0 {
        access | ACCESS_READ
    } else {
        access
    }
}

/// Whether `path` is `root` or lies beneath it, comparing whole components. Both must be
/// absolute and normal (see [`lexically_normal`]): then whole components compare as bytes,
/// which every call's grant lookup does for every grant ([`crate::decide::base::beneath`]).
pub fn is_beneath(path: &Path, root: &Path) -> bool {
    crate::decide::base::beneath(path, root)
}

/// `path` made absolute against `cwd`, with `.` dropped and `..` applied to the components
/// before it. This picks the candidate grant only: the host then opens the path with the
/// kernel confining the walk beneath the grant's directory, so a symlink or a `..` that a
/// lexical view gets wrong still cannot leave it.
pub fn lexically_normal(path: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    let joined = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    for component in joined.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out
}

impl Policy {
    /// Adds a grant for `path` (resolved against `base`), which must exist.
    /// `/proc/self` and `/proc/thread-self` stay as written: they mean each guest process's
    /// own (the host's own pid is no grant of the guest's; see [`crate::decide::base::self_root`]).
    pub fn allow(&mut self, path: &Path, base: &Path, access: u64, origin: Origin) -> Result<()> {
        let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
        let normal = lexically_normal(&joined, Path::new("/"));
        let canonical = if crate::decide::base::is_self_path(&normal) {
            // Must name something every process has (checked on the host's own /proc/self).
            std::fs::symlink_metadata(&normal).with_context(|| format!("cannot grant {}: {}", access_names(access), joined.display()))?;
            normal
        } else {
            joined.canonicalize().with_context(|| format!("cannot grant {}: {}", access_names(access), joined.display()))?
        };
        self.add_grant(canonical, access, origin);
        Ok(())
    }

    /// Adds a grant for the absolute, canonical `path` as it is (nothing checked on the host:
    /// the base's private mounts exist only in the guest's mount namespace).
    pub fn add_grant(&mut self, canonical: PathBuf, access: u64, origin: Origin) {
        let access = with_implied(access);
        // Canonical paths are equal exactly when their bytes are (a `Path` comparison walks
        // components, and a policy's ~50 grants are compared pairwise at every start).
        match self.grants.iter_mut().find(|g| g.path.as_os_str() == canonical.as_os_str() && g.origin == origin) {
            Some(existing) => existing.access |= access,
            None => self.grants.push(Grant { path: canonical, access, origin }),
        }
    }

    /// Reads a policy file into this policy. Errors name the file, and a syntax or schema
    /// error its line and column.
    pub fn load_file(&mut self, file: &Path) -> Result<()> {
        let text = std::fs::read_to_string(file).with_context(|| format!("{}: cannot read policy", file.display()))?;
        let parsed: PolicyFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.to_string().trim_end()))?;
        let base = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let origin = Origin::File(file.to_path_buf());
        let context = |what: &str| format!("{}: {what}", file.display());
        for (paths, access) in [(&parsed.allow_read, ACCESS_READ), (&parsed.allow_write, ACCESS_WRITE), (&parsed.allow_exec, ACCESS_EXEC)] {
            for path in paths {
                self.allow(path, base, access, origin.clone()).with_context(|| context("allow list"))?;
            }
        }
        if let Some(net) = parsed.net {
            self.net = net;
        }
        if let Some(clear) = parsed.clear_env {
            self.clear_env = clear;
        }
        self.env.extend(parsed.env);
        if let Some(cwd) = parsed.cwd {
            let joined = base.join(cwd);
            self.cwd = Some(joined.canonicalize().with_context(|| context(&format!("cwd {}", joined.display())))?);
        }
        if let Some(bare) = parsed.bare {
            self.bare = bare;
        }
        if let Some(audit) = parsed.audit {
            self.audit = audit;
        }
        if let Some(wait_all) = parsed.wait_all {
            self.wait_all = wait_all;
        }
        let limits = &parsed.limits;
        let size = |v: &Option<SizeValue>, name: &str| v.as_ref().map(|v| v.bytes().with_context(|| context(name))).transpose();
        let time = |v: &Option<DurationValue>, name: &str| v.as_ref().map(|v| v.duration().with_context(|| context(name))).transpose();
        self.tmp_size = size(&parsed.tmp_size, "tmp_size")?.or(self.tmp_size);
        self.limits.processes = limits.processes.or(self.limits.processes);
        self.limits.open_files = limits.open_files.or(self.limits.open_files);
        self.limits.address_space = size(&limits.address_space, "limits.address_space")?.or(self.limits.address_space);
        self.limits.cpu_time = time(&limits.cpu_time, "limits.cpu_time")?.or(self.limits.cpu_time);
        self.limits.wall_time = time(&limits.wall_time, "limits.wall_time")?.or(self.limits.wall_time);
        Ok(())
    }

    /// The grants that give `access` to `path` (absolute, lexically normal), deepest first:
    /// the candidates a broker tries, each with the kernel confining the walk beneath it.
    ///
    /// A grant of one of the base's private mounts (the guest's own `/tmp`) covers that mount
    /// only, not the host's files shown in it ([`crate::decide::base::Mount::shows_host`]).
    pub fn grants_for(&self, path: &Path, access: u64) -> Vec<&Grant> {
        let mut found: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|g| g.access & access == access && is_beneath(path, &g.path) && !crate::decide::base::stops_at_host_files(self, g, path))
            .collect();
        found.sort_by_key(|g| std::cmp::Reverse(g.path.components().count()));
        found
    }

    /// The policy as a TOML file that loads back to the same grants, with where each came from.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("# effective trapbox policy; anything not listed is denied\n");
        for (key, access) in [("allow_read", ACCESS_READ), ("allow_write", ACCESS_WRITE), ("allow_exec", ACCESS_EXEC)] {
            let _ = writeln!(out, "{key} = [");
            for grant in self.grants.iter().filter(|g| g.access & access != 0) {
                let exact = grant.access == with_implied(access) || access != ACCESS_READ;
                if access == ACCESS_READ && !exact {
                    continue; // shown under write/exec, which imply read
                }
                let why = match &grant.origin {
                    Origin::CommandLine => "command line".to_string(),
                    Origin::File(f) => format!("policy file {}", f.display()),
                    Origin::Startup(reason) => format!("startup: {reason}"),
                    Origin::Base(reason) => format!("base: {reason}"),
                };
                let _ = writeln!(out, "    {:?},  # {why}", grant.path.display().to_string());
            }
            let _ = writeln!(out, "]");
        }
        if self.own_proc_files {
            let _ = writeln!(
                out,
                "# base: always readable by each guest process: its own /proc/self/{{{}}}",
                crate::decide::confine::OWN_PROC_FILES.join(",")
            );
        }
        for loader in &self.loaders {
            let _ = writeln!(out, "# base: runs only as the dynamic loader of a program an exec grant covers, never by itself: {}", loader.display());
        }
        for mount in &self.mounts {
            let _ = writeln!(out, "# base: mounted in the guest's own mount namespace: {} ({})", mount.path.display(), mount.what);
        }
        if crate::decide::base::grants_only_root(self) {
            let _ = writeln!(out, "# the guest's root holds only the grants above and the base's mounts (metadata calls answered by the kernel; audit = true keeps the host's root)");
        }
        let _ = writeln!(out, "bare = {}", self.bare);
        if let Some(size) = self.tmp_size {
            let _ = writeln!(out, "tmp_size = {size}");
        }
        let _ = writeln!(out, "net = {:?}", self.net.name());
        let _ = writeln!(out, "clear_env = {}", self.clear_env);
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k:?} = {v:?}")).collect();
        let _ = writeln!(out, "env = {{ {} }}", env.join(", "));
        if let Some(cwd) = &self.cwd {
            let _ = writeln!(out, "cwd = {:?}", cwd.display().to_string());
        }
        let _ = writeln!(out, "wait_all = {}", self.wait_all);
        let _ = writeln!(out, "audit = {}", self.audit);
        let _ = writeln!(out, "[limits]");
        let l = &self.limits;
        let mut limit = |name: &str, value: Option<String>| {
            let _ = match value {
                Some(v) => writeln!(out, "{name} = {v}"),
                None => writeln!(out, "# {name}: inherited from the host"),
            };
        };
        limit("processes", l.processes.map(|v| v.to_string()));
        limit("address_space", l.address_space.map(|v| v.to_string()));
        limit("open_files", l.open_files.map(|v| v.to_string()));
        limit("cpu_time", l.cpu_time.map(|d| format!("\"{}ms\"", d.as_millis())));
        limit("wall_time", l.wall_time.map(|d| format!("\"{}ms\"", d.as_millis())));
        out
    }
}

/// Adds, visibly, what `program` needs to start: execute itself and the interpreters the
/// kernel runs it through (a `#!` line's interpreter, and that one's own, as deep as the kernel
/// goes), and, when one of them is dynamically linked, its loader and the system's library
/// directories. Only the head and program headers of each file are read
/// ([`crate::decide::interp::interpreter_of`]). (`/dev/null` and the rest of what ordinary
/// programs use is the base environment's: [`crate::decide::base`].)
pub fn add_startup_grants(policy: &mut Policy, program: &Path) -> Result<()> {
    let root = Path::new("/");
    let here = std::env::current_dir().context("the current directory")?;
    policy.allow(program, &here, ACCESS_EXEC, Origin::Startup("the program".into()))?;
    let mut file = program.to_path_buf();
    for _ in 0..crate::decide::interp::MAX_DEPTH {
        let opened = std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
        match crate::decide::interp::interpreter_of(&opened).with_context(|| format!("cannot read {}", file.display()))? {
            Some(crate::decide::interp::Interpreter::Script(interpreter)) => {
                let why = Origin::Startup(format!("the interpreter of {}", file.display()));
                policy.allow(&interpreter, &here, ACCESS_EXEC, why)?;
                file = here.join(interpreter);
            }
            Some(crate::decide::interp::Interpreter::Loader(loader)) => {
                let why = |what: &str| Origin::Startup(format!("{what} of the dynamically linked {}", file.display()));
                policy.allow(&loader, root, ACCESS_EXEC, why("the dynamic loader"))?;
                for dir in ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/etc/ld.so.cache"] {
                    if Path::new(dir).exists() {
                        policy.allow(Path::new(dir), root, ACCESS_READ, why("shared libraries"))?;
                    }
                }
                break;
            }
            None => break,
        }
    }
    Ok(())
}

/// `read`, `write`, `exec` or a combination, for messages.
pub fn access_names(access: u64) -> String {
    let names: Vec<&str> = [(ACCESS_READ, "read"), (ACCESS_WRITE, "write"), (ACCESS_EXEC, "exec")]
        .into_iter()
        .filter(|(bit, _)| access & bit != 0)
        .map(|(_, name)| name)
        .collect();
    names.join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trapbox-policy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        dir
    }

    #[test]
    fn a_file_loads_with_paths_relative_to_it_and_prints_back() {
        let dir = scratch("load");
        let file = dir.join("p.toml");
        std::fs::write(
            &file,
            "allow_read = [\"/usr\"]\nallow_write = [\"out\"]\nnet = \"loopback\"\nclear_env = true\nenv = { LANG = \"C\" }\nwait_all = true\n\
             [limits]\nprocesses = 8\naddress_space = \"1G\"\ncpu_time = \"1m\"\nwall_time = 90\n",
        )
        .unwrap();
        let mut policy = Policy::default();
        policy.load_file(&file).unwrap();
        let out = dir.join("out").canonicalize().unwrap();
        assert_eq!(policy.grants[1].path, out);
        assert_eq!(policy.grants[1].access, ACCESS_WRITE | ACCESS_READ);
        assert_eq!(policy.net, NetMode::Loopback);
        assert_eq!(policy.limits.address_space, Some(1 << 30));
        assert_eq!(policy.limits.cpu_time, Some(Duration::from_secs(60)));
        assert_eq!(policy.limits.wall_time, Some(Duration::from_secs(90)));

        let printed = dir.join("printed.toml");
        std::fs::write(&printed, policy.to_toml()).unwrap();
        let mut again = Policy::default();
        again.load_file(&printed).unwrap();
        let strip = |p: &Policy| p.grants.iter().map(|g| (g.path.clone(), g.access)).collect::<Vec<_>>();
        assert_eq!(strip(&again), strip(&policy));
        assert_eq!((again.net, again.clear_env, &again.env, &again.limits), (policy.net, policy.clear_env, &policy.env, &policy.limits));
        assert!(again.wait_all && policy.wait_all);
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let dir = scratch("errors");
        let file = dir.join("bad.toml");
        std::fs::write(&file, "allow_read = [\"/usr\"]\nallow_wrte = [\"out\"]\n").unwrap();
        let err = format!("{:#}", Policy::default().load_file(&file).unwrap_err());
        assert!(err.contains("bad.toml") && err.contains("line 2, column 1") && err.contains("allow_wrte"), "{err}");
        std::fs::write(&file, "net = \"sometimes\"\n").unwrap();
        let err = format!("{:#}", Policy::default().load_file(&file).unwrap_err());
        assert!(err.contains("line 1, column 7"), "{err}");
        std::fs::write(&file, "allow_read = [\"no-such-dir\"]\n").unwrap();
        let err = format!("{:#}", Policy::default().load_file(&file).unwrap_err());
        assert!(err.contains("bad.toml") && err.contains("no-such-dir"), "{err}");
    }

    #[test]
    fn grants_are_matched_by_whole_components_deepest_first() {
        let mut policy = Policy::default();
        policy.allow(Path::new("/usr"), Path::new("/"), ACCESS_READ, Origin::CommandLine).unwrap();
        policy.allow(Path::new("/usr/share"), Path::new("/"), ACCESS_READ, Origin::CommandLine).unwrap();
        let found = policy.grants_for(Path::new("/usr/share/doc"), ACCESS_READ);
        assert_eq!(found.iter().map(|g| g.path.to_str().unwrap()).collect::<Vec<_>>(), ["/usr/share", "/usr"]);
        assert!(policy.grants_for(Path::new("/usrlocal/x"), ACCESS_READ).is_empty());
        assert!(policy.grants_for(Path::new("/usr/share/doc"), ACCESS_WRITE).is_empty());
    }

    #[test]
    fn lexical_normalisation_and_units() {
        assert_eq!(lexically_normal(Path::new("../etc/./shadow"), Path::new("/usr/share")), PathBuf::from("/usr/etc/shadow"));
        assert_eq!(lexically_normal(Path::new("/../../etc"), Path::new("/x")), PathBuf::from("/etc"));
        assert_eq!(parse_size("64K").unwrap(), 65536);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("-1s").is_err());
    }
}
