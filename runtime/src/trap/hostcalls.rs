//! Hostcalls: the calls that exist only under trapbox (numbers in `trapbox_abi::hostcall`).
//!
//! `map_file` is the zero-copy half of the mission: the host checks the path against the
//! policy, then makes the guest thread itself open the file (from a path the host wrote into
//! a slot of the pinned-argument region, which the guest cannot change), map it and close the
//! fd, all through the injector. From then on the
//! guest reads the file as memory: no trap, no copy. The guest's own open still meets
//! Landlock, so the kernel confirms the host's decision on the file it really opens.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt;

use trapbox_abi::errno;
use trapbox_abi::hostcall::{self, ACCESS_READ, ACCESS_WRITE, MAP_WRITE};

use crate::decide::policy::Policy;
use crate::sys::{self, Pid};

/// The longest path `map_file` takes, with its NUL (`PATH_MAX`).
const PATH_SLOT_LEN: usize = 4095;
/// The most a single `write` hostcall copies (a partial write, as a pipe would do).
const WRITE_CHUNK: usize = 1 << 20;

/// What serving a hostcall needs from the event loop: injecting calls into the thread.
pub trait Injector {
    /// Runs `number(args)` in thread `tid`; `None` when the thread died meanwhile.
    fn run_in_guest(&mut self, tid: Pid, number: u64, args: [u64; 6]) -> Option<u64>;
    /// Copies `path` where the guest can read but not change it, for an injected call; the
    /// slot and the guest address, or the errno to fail with.
    fn pin_path(&mut self, tid: Pid, path: &[u8]) -> Result<(crate::trap::pinned::PinSlot, u64), i32>;
}

/// A mapping `map_file` made, which `unmap` may remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMapping {
    /// Start address in the guest.
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Reads `len` bytes at `addr` of the guest (a path or a message), at most `limit`.
fn read_bytes(tid: Pid, addr: u64, len: u64, limit: usize) -> Result<Vec<u8>, i32> {
    let len = usize::try_from(len).map_err(|_| errno::EINVAL)?;
    if len > limit {
        return Err(errno::ENAMETOOLONG);
    }
    sys::read_guest_bytes(tid, addr, len).ok_or(errno::EFAULT)
}

/// The policy's answer for `path` (guest bytes) and `access`: the resolved path, or the errno
/// with a log line. Without a policy everything is allowed.
fn check_path(policy: Option<&Policy>, tid: Pid, call: &str, path: &[u8], access: u64) -> Result<std::path::PathBuf, i32> {
    let resolved = crate::decide::confine::resolve(tid, None, path).ok_or(errno::ENOENT)?;
    if let Some(denial) = policy.and_then(|_| crate::decide::confine::host_reach_denial(&resolved, access)) {
        crate::report::log::denied(tid, hostcall::MAP_FILE, &[0; 6], &denial.reason);
        return Err(denial.errno);
    }
    if let Some(policy) = policy {
        if policy.grants_for(&resolved, access).is_empty() {
            crate::host_log!(
                "trapbox: denied {call}(\"{}\", {}): {} is not granted",
                crate::report::log::escape(path),
                crate::decide::policy::access_names(access),
                crate::report::log::path(&resolved)
            );
            return Err(errno::EACCES);
        }
    }
    Ok(resolved)
}

/// Serves hostcall `number` for thread `tid`; `None` when the thread is gone (or exited).
pub fn serve(
    injector: &mut dyn Injector,
    policy: Option<&Policy>,
    mappings: &mut Vec<FileMapping>,
    tid: Pid,
    number: u64,
    args: &[u64; 6],
) -> Option<u64> {
    let result: Result<u64, i32> = match number {
        hostcall::VERSION => Ok(u64::from(trapbox_abi::ABI_VERSION)),
        hostcall::MAP_FILE => return map_file(injector, policy, mappings, tid, args),
        hostcall::UNMAP => {
            let wanted = FileMapping { addr: args[0], len: args[1] };
            match mappings.iter().position(|m| *m == wanted) {
                None => Err(errno::EINVAL),
                Some(index) => {
                    let raw = injector.run_in_guest(tid, trapbox_abi::linux::nr::MUNMAP, [wanted.addr, wanted.len, 0, 0, 0, 0])?;
                    if !errno::is_error(raw) {
                        mappings.swap_remove(index);
                    }
                    Ok(raw)
                }
            }
        }
        hostcall::POLICY_CHECK => read_bytes(tid, args[0], args[1], 4096).and_then(|path| {
            let access = args[2] & (hostcall::ACCESS_READ | hostcall::ACCESS_WRITE | hostcall::ACCESS_EXEC);
            let resolved = crate::decide::confine::resolve(tid, None, &path).ok_or(errno::ENOENT)?;
            match policy {
                Some(policy) if policy.grants_for(&resolved, access).is_empty() => Err(errno::EACCES),
                _ => Ok(0),
            }
        }),
        hostcall::LOG => read_bytes(tid, args[1], args[2], 64 * 1024).map(|message| {
            let level = match args[0] {
                hostcall::level::ERROR => "error",
                hostcall::level::WARN => "warn",
                hostcall::level::INFO => "info",
                _ => "debug",
            };
            crate::host_log!("trapbox: guest {tid} {level}: {}", crate::report::log::escape(&message));
            0
        }),
        hostcall::WRITE => {
            let len = args[2].min(WRITE_CHUNK as u64);
            read_bytes(tid, args[1], len, WRITE_CHUNK).and_then(|bytes| {
                let written = match args[0] {
                    1 => std::io::stdout().lock().write(&bytes).and_then(|n| std::io::stdout().flush().map(|()| n)),
                    2 => std::io::stderr().lock().write(&bytes),
                    _ => return Err(errno::EBADF),
                };
                written.map(|n| n as u64).map_err(|e| e.raw_os_error().unwrap_or(errno::EINVAL))
            })
        }
        hostcall::EXIT => {
            // The thread itself ends the process: its exit status is the guest's own.
            injector.run_in_guest(tid, trapbox_abi::linux::nr::EXIT_GROUP, [args[0] & 0xff, 0, 0, 0, 0, 0]);
            return None;
        }
        _ => Err(errno::ENOSYS),
    };
    Some(result.unwrap_or_else(errno::encode_error))
}

fn map_file(
    injector: &mut dyn Injector,
    policy: Option<&Policy>,
    mappings: &mut Vec<FileMapping>,
    tid: Pid,
    args: &[u64; 6],
) -> Option<u64> {
    let fail = |e: i32| Some(errno::encode_error(e));
    let writable = args[2] & MAP_WRITE != 0;
    let access = if writable { ACCESS_WRITE } else { ACCESS_READ };
    let path = match read_bytes(tid, args[0], args[1], PATH_SLOT_LEN) {
        Ok(path) if !path.is_empty() && !path.contains(&0) => path,
        Ok(_) => return fail(errno::EINVAL),
        Err(e) => return fail(e),
    };
    let resolved = match check_path(policy, tid, "hc_map_file", &path, access) {
        Ok(resolved) => resolved,
        Err(e) => return fail(e),
    };
    let size = match crate::launch::view::metadata(&resolved) {
        Ok(meta) if meta.is_file() => meta.size(),
        Ok(_) => return fail(errno::EINVAL),
        Err(e) => return fail(e.raw_os_error().unwrap_or(errno::ENOENT)),
    };
    // The guest opens exactly the file the host resolved, from the host's pinned copy of it.
    use std::os::unix::ffi::OsStrExt;
    let (_slot, path_at) = match injector.pin_path(tid, resolved.as_os_str().as_bytes()) {
        Ok(pinned) => pinned,
        Err(e) => return fail(e),
    };
    use trapbox_abi::linux::nr;
    let flags = (libc::O_CLOEXEC | libc::O_NOFOLLOW | if writable { libc::O_RDWR } else { libc::O_RDONLY }) as u64;
    let fd = injector.run_in_guest(tid, nr::OPENAT, [libc::AT_FDCWD as u64, path_at, flags, 0, 0, 0])?;
    if errno::is_error(fd) {
        return Some(fd);
    }
    let mapped = if size == 0 {
        0
    } else {
        let prot = (libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 }) as u64;
        let share = (if writable { libc::MAP_SHARED } else { libc::MAP_PRIVATE }) as u64;
        injector.run_in_guest(tid, nr::MMAP, [0, size, prot, share, fd, 0])?
    };
    injector.run_in_guest(tid, nr::CLOSE, [fd, 0, 0, 0, 0, 0])?;
    if errno::is_error(mapped) {
        return Some(mapped);
    }
    if args[3] != 0 && sys::poke_bytes(tid, args[3], &size.to_le_bytes()).is_err() {
        if size != 0 {
            injector.run_in_guest(tid, nr::MUNMAP, [mapped, size, 0, 0, 0, 0])?;
        }
        return fail(errno::EFAULT);
    }
    if size != 0 {
        mappings.push(FileMapping { addr: mapped, len: size });
    }
    Some(mapped)
}
