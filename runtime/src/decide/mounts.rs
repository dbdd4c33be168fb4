//! Mounts inside the guest's own mount namespace: a tmpfs on a directory of a write grant,
//! remounts and unmounts of the mounts the guest made so, and propagation changes of any
//! mount it sees.
//!
//! Landlock forbids a confined guest every mount, and the guest's mount namespace is the
//! host's view of its files, so the host decides each one and init makes it there
//! ([`crate::perform::agent`]). A tmpfs is new, empty memory: it adds no file of the host's
//! and replaces nothing the guest could not already write; each is bounded as the guest's
//! `/tmp` is (`--tmp-size`), and a guest holds at most 16. Everything else stays refused: bind
//! mounts and moves (they would show one grant's files under another's rules), other file
//! systems, and any change to the base environment's mounts (`/proc`, `/dev`, `/tmp`), to
//! what lies above a grant, or to a grant's own directory (the host holds those open).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::decide::policy::Policy;
use trapbox_abi::hostcall::ACCESS_WRITE;
use crate::sys::Pid;
use trapbox_abi::linux::nr;

/// The mounts the guest made, by the path it made them on, the last one on top.
static MADE: Mutex<Option<HashMap<PathBuf, Vec<u64>>>> = Mutex::new(None);

const MS_RDONLY: u64 = 1;
const MS_NOSUID: u64 = 2;
const MS_NODEV: u64 = 4;
const MS_NOEXEC: u64 = 8;
const MS_SYNCHRONOUS: u64 = 16;
const MS_REMOUNT: u64 = 32;
const MS_MANDLOCK: u64 = 64;
const MS_DIRSYNC: u64 = 128;
const MS_NOSYMFOLLOW: u64 = 256;
const MS_NOATIME: u64 = 1024;
const MS_NODIRATIME: u64 = 2048;
const MS_BIND: u64 = 4096;
const MS_MOVE: u64 = 8192;
const MS_REC: u64 = 16384;
const MS_SILENT: u64 = 32768;
const MS_UNBINDABLE: u64 = 1 << 17;
const MS_PRIVATE: u64 = 1 << 18;
const MS_SLAVE: u64 = 1 << 19;
const MS_SHARED: u64 = 1 << 20;
const MS_RELATIME: u64 = 1 << 21;
const MS_STRICTATIME: u64 = 1 << 24;
const MS_LAZYTIME: u64 = 1 << 25;
/// The magic number old programs put in the top half of the flags (ignored by the kernel).
const MS_MGC_VAL: u64 = 0xC0ED_0000;
const MS_MGC_MSK: u64 = 0xFFFF_0000;

/// The flags a new tmpfs or a remount may carry.
const MOUNT_OPTIONS: u64 = MS_RDONLY
    | MS_NOSUID
    | MS_NODEV
    | MS_NOEXEC
    | MS_SYNCHRONOUS
    | MS_MANDLOCK
    | MS_DIRSYNC
    | MS_NOSYMFOLLOW
    | MS_NOATIME
    | MS_NODIRATIME
    | MS_SILENT
    | MS_RELATIME
    | MS_STRICTATIME
    | MS_LAZYTIME;
const PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

/// The umount2 flags: MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW.
const UMOUNT_FLAGS: u32 = 1 | 2 | 4 | 8;
const UMOUNT_NOFOLLOW: u32 = 8;

/// A refusal: the errno and why (empty for an answer that is the kernel's own).
pub type Refusal = (i32, String);

/// Decides and performs mount or umount2 `args` of thread `pid`: the raw result for the guest,
/// or a refusal to log.
pub fn perform(policy: &Policy, pid: Pid, number: u64, args: &[u64; 6]) -> Result<u64, Refusal> {
    let raw = |r: Result<(), i32>| r.map_or_else(trapbox_abi::errno::encode_error, |()| 0);
    if number == nr::UMOUNT2 {
        let flags = crate::decide::requests::uint_arg(args, 1);
        if flags & !UMOUNT_FLAGS != 0 || (flags & 4 != 0 && flags & 3 != 0) {
            return Ok(trapbox_abi::errno::encode_error(libc::EINVAL));
        }
        let target = target(pid, args[0], flags & UMOUNT_NOFOLLOW == 0)?;
        let id = made_at(&target)?;
        let done = crate::perform::agent::change_mount(pid, &target, id, Some(flags), 0, b"");
        if done.is_ok() {
            forget(&target);
        }
        return Ok(raw(done));
    }
    let flags = match args[3] {
        f if f & MS_MGC_MSK == MS_MGC_VAL => f & !MS_MGC_MSK,
        f => f,
    };
    let data = string(pid, args[4], 1023)?;
    if flags & PROPAGATION != 0 && flags & !(PROPAGATION | MS_REC | MS_SILENT) == 0 {
        // Propagation alone, of any mount the guest sees: how mounts spread among its own
        // mount namespaces (init made the guest's private from the host's before it ran).
        if (flags & PROPAGATION).count_ones() != 1 {
            return Ok(trapbox_abi::errno::encode_error(libc::EINVAL));
        }
        let target = target(pid, args[1], true)?;
        return Ok(raw(crate::perform::agent::propagate(pid, &target, flags)));
    }
    if flags & (MS_REMOUNT | PROPAGATION) != 0 {
        // A change of a mount the guest made: options (MS_REMOUNT, maybe MS_BIND for the
        // per-mount flags) or propagation, nothing else.
        let allowed = if flags & MS_REMOUNT != 0 { MOUNT_OPTIONS | MS_REMOUNT | MS_BIND } else { PROPAGATION | MS_REC | MS_SILENT };
        if flags & !allowed != 0 {
            return Err((libc::EPERM, format!("mount flags {flags:#x}: only options and propagation of a mount the guest made may change")));
        }
        let target = target(pid, args[1], true)?;
        let id = made_at(&target)?;
        let data = if flags & MS_REMOUNT != 0 && flags & MS_BIND == 0 { capped_size(policy, &data) } else { data };
        return Ok(raw(crate::perform::agent::change_mount(pid, &target, id, None, flags, &data)));
    }
    if flags & (MS_BIND | MS_MOVE) != 0 {
        return Err((libc::EPERM, "bind mounts and moves are refused: they would show files under another grant's rules".into()));
    }
    let fstype = string(pid, args[2], 255)?;
    if fstype != b"tmpfs" {
        let shown = crate::report::log::escape(&fstype);
        return Err((libc::EPERM, format!("only tmpfs is mounted for a guest, not {shown:?}")));
    }
    if flags & !MOUNT_OPTIONS != 0 {
        return Err((libc::EINVAL, String::new()));
    }
    let target = target(pid, args[1], true)?;
    may_mount_on(policy, &target)?;
    let live: usize = MADE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |made| made.values().map(Vec::len).sum());
    if live >= MAX_MOUNTS {
        return Err((libc::EPERM, format!("the guest already has {live} tmpfs mounts of its own, the most it may hold")));
    }
    let source = if args[0] == 0 { Vec::new() } else { string(pid, args[0], 255)? };
    let data = capped_size(policy, &data);
    let id = crate::perform::agent::mount_tmpfs(pid, &target, flags, &source, &data).map_err(|errno| (errno, String::new()))?;
    MADE.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new).entry(target).or_default().push(id);
    Ok(0)
}

/// The most tmpfs mounts of its own a guest holds at once.
const MAX_MOUNTS: usize = 16;

/// tmpfs options `data` with their `size` at most the base's `/tmp` size (`--tmp-size`): a
/// guest's memory file systems are bounded as its `/tmp` is (a size in `%` of the host's
/// memory, or one that does not parse, is replaced by that bound too).
fn capped_size(policy: &Policy, data: &[u8]) -> Vec<u8> {
    let bound = policy.tmp_size.unwrap_or(crate::decide::base::DEFAULT_TMP_SIZE);
    let text = String::from_utf8_lossy(data);
    let parse = |value: &str| -> Option<u64> {
        let (digits, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
        let scale: u64 = match unit.to_ascii_lowercase().as_str() {
            "" => 1,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            "t" => 1 << 40,
            _ => return None,
        };
        digits.parse::<u64>().ok()?.checked_mul(scale)
    };
    let mut options: Vec<String> = text.split(',').filter(|o| !o.is_empty() && !o.starts_with("size=")).map(str::to_string).collect();
    let asked = text.split(',').filter_map(|o| o.strip_prefix("size=")).next_back().and_then(parse);
    options.push(format!("size={}", asked.map_or(bound, |size| size.min(bound))));
    options.join(",").into_bytes()
}

/// A NUL-terminated string argument of at most `limit` bytes (empty for NULL).
fn string(pid: Pid, addr: u64, limit: usize) -> Result<Vec<u8>, Refusal> {
    if addr == 0 {
        return Ok(Vec::new());
    }
    match crate::report::trace::read_guest_string(pid, addr, limit + 1) {
        Some((bytes, false)) if bytes.len() <= limit => Ok(bytes),
        Some(_) => Err((libc::ENAMETOOLONG, String::new())),
        None => Err((libc::EFAULT, String::new())),
    }
}

/// The path argument at `addr`, resolved as the guest's kernel would.
fn target(pid: Pid, addr: u64, follow: bool) -> Result<PathBuf, Refusal> {
    let bytes = match crate::report::trace::read_guest_string(pid, addr, 4096) {
        Some((bytes, false)) => bytes,
        Some(_) => return Err((libc::ENAMETOOLONG, String::new())),
        None => return Err((libc::EFAULT, String::new())),
    };
    if bytes.is_empty() {
        return Err((libc::ENOENT, String::new()));
    }
    crate::decide::confine::resolve_path(pid, None, &bytes, follow).ok_or((libc::ENOENT, String::new()))
}

/// Whether a tmpfs may go on `target`: a directory strictly inside a write grant, above no
/// grant's own directory, outside `/proc`, `/sys` and `/dev`.
fn may_mount_on(policy: &Policy, target: &Path) -> Result<(), Refusal> {
    let shown = crate::report::log::path(target);
    if !crate::launch::view::is_dir(target) {
        let errno = if crate::launch::view::exists(target) { libc::ENOTDIR } else { libc::ENOENT };
        return Err((errno, String::new()));
    }
    if ["/proc", "/sys", "/dev"].iter().any(|kernel| target.starts_with(kernel)) {
        return Err((libc::EPERM, format!("{shown} is the kernel's or the base environment's: no mount goes on it")));
    }
    if policy.grants_for(target, ACCESS_WRITE).is_empty() {
        return Err((libc::EPERM, format!("{shown} is not in a write grant: a mount would replace what the guest may not write")));
    }
    if let Some(grant) = policy.grants.iter().find(|g| g.path.starts_with(target)) {
        return Err((
            libc::EPERM,
            format!("a mount on {shown} would cover the granted directory {}, which the host holds open", crate::report::log::path(&grant.path)),
        ));
    }
    Ok(())
}

/// The id of the topmost mount the guest made on `target`; `EINVAL` (the kernel's answer)
/// for a directory that is no mount's, `EPERM` with a reason for a mount the guest did not make.
fn made_at(target: &Path) -> Result<u64, Refusal> {
    if let Some(&id) = MADE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(target)).and_then(|ids| ids.last()) {
        return Ok(id);
    }
    match crate::launch::view::open(target, (libc::O_PATH | libc::O_NOFOLLOW) as u64, 0).ok().and_then(|fd| crate::sys::mount_of(&fd)) {
        Some((_, true)) => Err((libc::EPERM, format!("{} is a mount the guest did not make", crate::report::log::path(target)))),
        Some((_, false)) => Err((libc::EINVAL, String::new())),
        None => Err((libc::ENOENT, String::new())),
    }
}

/// Whether `target` is where the guest mounted something (a mount point in its namespace).
pub fn is_mount_point(target: &Path) -> bool {
    MADE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|made| made.contains_key(target))
}

/// Forgets the topmost mount the guest made on `target`, now unmounted.
fn forget(target: &Path) {
    if let Some(made) = MADE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        if let Some(ids) = made.get_mut(target) {
            ids.pop();
            if ids.is_empty() {
                made.remove(target);
            }
        }
    }
}
