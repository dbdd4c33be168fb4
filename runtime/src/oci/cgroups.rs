//! `linux.resources` through the container's cgroup: memory, pids and CPU limits written to
//! a cgroup made at `linux.cgroupsPath` (cgroup v2 where the unified hierarchy is mounted at
//! `/sys/fs/cgroup`, otherwise each v1 controller's hierarchy), which the container's init and
//! process join before its program starts. Nothing is made when the bundle asks no limit.
//! Where the engine does not delegate a controller to trapbox (no such hierarchy, or not
//! writable), asking its limit is an error that names the field.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::oci::spec::Spec;
use crate::sys::Pid;

const ROOT: &str = "/sys/fs/cgroup";

/// The cgroup directories to make and what to write in each.
#[derive(Debug, Default)]
pub struct Plan {
    dirs: Vec<(PathBuf, Vec<(&'static str, String)>)>,
    /// `linux.cgroupsPath` in every other hierarchy, made where trapbox may (as runc makes it
    /// whether or not a limit is asked): an engine reads the container's statistics and OOM
    /// events from the cgroup of the pid it was given, the monitor's.
    best_effort: Vec<PathBuf>,
}

/// The hierarchies a cgroup can be made in: the unified one, or each v1 hierarchy but cpuset
/// (whose new cgroups take no process before their cpus and mems are set).
fn hierarchies(unified: bool) -> Vec<PathBuf> {
    if unified {
        return vec![PathBuf::from(ROOT)];
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "cpuset") && p.join("cgroup.procs").exists())
        .collect();
    found.sort();
    found
}

/// `linux.cgroupsPath` as a path beneath each hierarchy: `slice:prefix:name` (the systemd
/// form engines pass with `--systemd-cgroup`) becomes `/slice/prefix-name.scope`.
fn relative_path(spec: &Spec, id: &str) -> PathBuf {
    match spec.linux.cgroups_path.as_deref() {
        Some(path) if path.starts_with('/') => PathBuf::from(path.trim_start_matches('/')),
        Some(path) => match path.split(':').collect::<Vec<_>>().as_slice() {
            [slice, prefix, name] => Path::new(slice).join(format!("{prefix}-{name}.scope")),
            _ => PathBuf::from(path),
        },
        None => Path::new("trapbox-oci").join(id),
    }
}

impl Plan {
    /// What `spec` asks; an empty plan when it asks no limit.
    pub fn new(spec: &Spec, id: &str) -> anyhow::Result<Plan> {
        let relative = relative_path(spec, id);
        if relative.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            bail!("config.json: linux.cgroupsPath: {} leaves the cgroup hierarchy (no `..` or empty parts)", relative.display());
        }
        let unified = Path::new(ROOT).join("cgroup.controllers").exists();
        let mut plan = Plan::default();
        if spec.linux.cgroups_path.is_some() {
            plan.best_effort = hierarchies(unified).into_iter().map(|h| h.join(&relative)).collect();
        }
        let Some(resources) = &spec.linux.resources else {
            return Ok(plan);
        };
        let best_effort = std::mem::take(&mut plan.best_effort);
        let mut want = |controller: &str,
                        field: &str,
                        file: &'static str,
                        value: String|
         -> anyhow::Result<()> {
            let base = if unified {
                PathBuf::from(ROOT)
            } else {
                Path::new(ROOT).join(controller)
            };
            let available = if unified {
                std::fs::read_to_string(base.join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|n| n == controller))
            } else {
                base.join("cgroup.procs").exists()
            };
            if !available {
                bail!("config.json: linux.resources.{field}: this host has no {controller} cgroup controller trapbox can use");
            }
            let dir = base.join(&relative);
            match plan.dirs.iter_mut().find(|(d, _)| *d == dir) {
                Some((_, writes)) => writes.push((file, value)),
                None => plan.dirs.push((dir, vec![(file, value)])),
            }
            Ok(())
        };
        if let Some(limit) = resources
            .memory
            .as_ref()
            .and_then(|m| m.limit)
            .filter(|l| *l > 0)
        {
            want(
                "memory",
                "memory.limit",
                if unified {
                    "memory.max"
                } else {
                    "memory.limit_in_bytes"
                },
                limit.to_string(),
            )?;
            if unified {
                // The limit holds for the memory itself, as without swap.
                if let Some(swap) = resources
                    .memory
                    .as_ref()
                    .and_then(|m| m.swap)
                    .filter(|s| *s >= limit)
                {
                    want(
                        "memory",
                        "memory.swap",
                        "memory.swap.max",
                        (swap - limit).to_string(),
                    )?;
                }
            }
        }
        if let Some(limit) = resources
            .pids
            .as_ref()
            .and_then(|p| p.limit)
            .filter(|l| *l > 0)
        {
            want("pids", "pids.limit", "pids.max", limit.to_string())?;
        }
        if let Some(cpu) = &resources.cpu {
            let period = cpu.period.unwrap_or(100_000);
            if let Some(quota) = cpu.quota.filter(|q| *q > 0) {
                if unified {
                    want("cpu", "cpu.quota", "cpu.max", format!("{quota} {period}"))?;
                } else {
                    want("cpu", "cpu.period", "cpu.cfs_period_us", period.to_string())?;
                    want("cpu", "cpu.quota", "cpu.cfs_quota_us", quota.to_string())?;
                }
            }
            if let Some(shares) = cpu.shares.filter(|s| *s > 0) {
                if unified {
                    // runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
                    let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
                    want("cpu", "cpu.shares", "cpu.weight", weight.to_string())?;
                } else {
                    want("cpu", "cpu.shares", "cpu.shares", shares.to_string())?;
                }
            }
        }
        plan.best_effort = best_effort.into_iter().filter(|d| !plan.dirs.iter().any(|(dir, _)| dir == d)).collect();
        Ok(plan)
    }

    /// Makes the cgroups, writes the limits, and moves the container's monitor, its init (the
    /// guest's parent) and its process `guest` into them; the directories made, to remove on
    /// delete. (The monitor's few MiB and threads count against the limits, as a runc
    /// container's `runc init` does until it execs.)
    pub fn make_and_join(&self, monitor: Pid, guest: Pid) -> anyhow::Result<Vec<PathBuf>> {
        let init = std::fs::read_to_string(format!("/proc/{guest}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .and_then(|p| p.trim().parse::<Pid>().ok())
            });
        let mut made = Vec::new();
        for (dir, writes) in &self.dirs {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot make the container's cgroup {}", dir.display()))?;
            made.push(dir.clone());
            for (file, value) in writes {
                std::fs::write(dir.join(file), value).with_context(|| {
                    format!("cannot write {value} to {}", dir.join(file).display())
                })?;
            }
            for pid in [monitor].into_iter().chain(init).chain([guest]) {
                std::fs::write(dir.join("cgroup.procs"), pid.to_string())
                    .with_context(|| format!("cannot move process {pid} into {}", dir.display()))?;
            }
        }
        for dir in &self.best_effort {
            if !dir.exists() && std::fs::create_dir_all(dir).is_err() {
                continue;
            }
            made.push(dir.clone());
            for pid in [monitor].into_iter().chain(init).chain([guest]) {
                let _ = std::fs::write(dir.join("cgroup.procs"), pid.to_string());
            }
        }
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(path: &str) -> Spec {
        let mut spec = Spec::default();
        spec.linux.cgroups_path = Some(path.to_string());
        spec.linux.resources = Some(crate::oci::spec::Resources::default());
        spec
    }

    #[test]
    fn cgroup_paths_stay_in_the_hierarchy() {
        assert_eq!(relative_path(&spec_with("/libpod_parent/libpod-x"), "x"), Path::new("libpod_parent/libpod-x"));
        assert_eq!(relative_path(&spec_with("machine.slice:libpod:abc"), "abc"), Path::new("machine.slice/libpod-abc.scope"));
        for bad in ["/../../etc", "a/../../b", "machine.slice:..:x/../../.."] {
            assert!(Plan::new(&spec_with(bad), "x").is_err(), "{bad}");
        }
    }
}
