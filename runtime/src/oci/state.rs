//! Where `trapbox oci` keeps what it knows of each container between its commands: a
//! directory per container under the runtime's root (`--root`, `/run/trapbox-oci` by
//! default), holding `state.json` (this module's [`Record`]) and, until `start`, the FIFO the
//! container's process waits on.
//!
//! The status is read from the processes themselves, never only from the file: `stopped` once
//! the container's monitor (the host that traces it, whose pid engines get) is gone (its pid
//! and start time are recorded, so a pid reused by another process is not mistaken for it),
//! `created` while the FIFO exists, `running` otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::sys::Pid;

/// The runtime's default state root (runc's is `/run/runc`).
pub const DEFAULT_ROOT: &str = "/run/trapbox-oci";

/// The state root when `--root` is not given: runc's rule, for trapbox. An engine's rootless
/// runtime runs as root of a user namespace of the engine's, where `/run` is not its own.
pub fn default_root() -> PathBuf {
    let initial_root = crate::sys::effective_ids().0 == 0
        && std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !initial_root && !dir.is_empty() => Path::new(&dir).join("trapbox-oci"),
        _ => PathBuf::from(DEFAULT_ROOT),
    }
}

/// What `state.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    /// The host process that traces the container (the pid engines wait for).
    pub monitor: Pid,
    /// Its start time (field 22 of `/proc/PID/stat`).
    pub monitor_start: u64,
    /// The container's process (its program), as the host numbers it.
    pub guest: Pid,
    pub annotations: BTreeMap<String, String>,
    /// Set by the monitor as it exits.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The cgroup directories made for the container (removed by `delete`).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
}

/// A container's status, as the runtime spec names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// The OCI state document `trapbox oci state` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: &'a str,
    pub pid: Pid,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: &'a str,
}

/// One container's directory.
#[derive(Clone, Debug)]
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    /// The directory of container `id` under `root`; `id` must be a plain name.
    pub fn of(root: &Path, id: &str) -> anyhow::Result<Dir> {
        let valid = !id.is_empty()
            && id != "."
            && id != ".."
            && id.len() <= 1024
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
        if !valid {
            bail!("invalid container id {id:?}: letters, digits and _+-. only");
        }
        Ok(Dir {
            path: root.join(id),
        })
    }

    pub fn state_file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    pub fn gate(&self) -> PathBuf {
        self.path.join("start")
    }

    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    /// Reads the record; an unknown container is an error that says so.
    pub fn load(&self, id: &str) -> anyhow::Result<Record> {
        let text = match std::fs::read(self.state_file()) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("container {id:?} does not exist")
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read {}", self.state_file().display()))
            }
        };
        serde_json::from_slice(&text).with_context(|| {
            format!(
                "{}: not a trapbox container's state",
                self.state_file().display()
            )
        })
    }

    /// Writes the record whole (a new file renamed over the old: a reader sees one or the other).
    pub fn save(&self, record: &Record) -> anyhow::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let temporary = self.path.join(".state.json.new");
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| {
                std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(record)?)
            });
        written.with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, self.state_file())
            .with_context(|| format!("cannot write {}", self.state_file().display()))
    }

    /// The container's status now.
    pub fn status(&self, record: &Record) -> Status {
        if !process_is(record.monitor, record.monitor_start) {
            Status::Stopped
        } else if self.gate().exists() {
            Status::Created
        } else {
            Status::Running
        }
    }
}

/// The start time of process `pid` (field 22 of its `stat`), if it exists.
pub fn start_time(pid: Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow
    // the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is still the process that started at `start` (and not a zombie).
pub fn process_is(pid: Pid, start: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next();
    state != Some("Z") && state != Some("X") && start_time(pid) == Some(start)
}

/// Now as RFC 3339 in UTC, with nanoseconds (as runc writes `created`).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_names() {
        let root = Path::new("/run/x");
        assert!(Dir::of(root, "abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(Dir::of(root, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn this_process_is_itself_and_not_another() {
        let me = crate::sys::own_pid();
        let start = start_time(me).expect("own stat");
        assert!(process_is(me, start));
        assert!(!process_is(me, start + 1));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-12-01T22:26:57.123456789Z".len(), "{now}");
        assert!(
            now.starts_with("20") && now.ends_with('Z') && &now[10..11] == "T",
            "{now}"
        );
    }
}
