//! Hostcalls: the calls that exist only under trapbox (numbers in `trapbox_abi::hostcall`).
//!
//! Most hostcalls are one Linux call in disguise (`open` is `openat`, `alloc` an anonymous
//! `mmap`, `remove` `unlinkat`…): the host copies the guest's path arguments into the pinned
//! region (which the guest cannot change), builds that Linux call and hands it to the same
//! decision a Linux-personality guest's call gets ([`Injector::linux_call`]: the policy, the
//! broker, directfs and their denial lines), so a hostcall is allowed, refused or performed
//! exactly as its Linux twin, with the same errno; no path is checked here. What no Linux call
//! expresses in the ABI's own layout — `stat`, `readdir`, `clock` — the host answers itself,
//! on a duplicate of the guest's fd.
//!
//! `map_file` is the zero-copy half of the mission: the host checks the path against the
//! policy, then makes the guest thread itself open the file (from a path the host wrote into
//! a slot of the pinned-argument region, which the guest cannot change), map it and close the
//! fd, all through the injector. From then on the
//! guest reads the file as memory: no trap, no copy. The guest's own open still meets
//! Landlock, so the kernel confirms the host's decision on the file it really opens.

use std::os::unix::fs::MetadataExt;

use trapbox_abi::errno;
use trapbox_abi::hostcall::{self, ACCESS_READ, ACCESS_WRITE, MAP_WRITE};

use crate::decide::policy::Policy;
use crate::sys::{self, Pid};

/// The longest path `map_file` takes, with its NUL (`PATH_MAX`).
const PATH_SLOT_LEN: usize = 4095;

/// What serving a hostcall needs from the event loop: injecting calls into the thread.
pub trait Injector {
    /// Runs `number(args)` in thread `tid`; `None` when the thread died meanwhile.
    fn run_in_guest(&mut self, tid: Pid, number: u64, args: [u64; 6]) -> Option<u64>;
    /// The policy in force, if any.
    fn policy(&self) -> Option<&Policy>;
    /// Decides the Linux call `number(args)` for `tid` as a trapped call of the linux
    /// personality is decided, and performs it (the host's answer, a logged refusal, or the
    /// thread runs it); the raw result, `None` when the thread died meanwhile.
    fn linux_call(&mut self, tid: Pid, number: u64, args: [u64; 6]) -> Option<u64>;
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
    mappings: &mut Vec<FileMapping>,
    tid: Pid,
    number: u64,
    args: &[u64; 6],
) -> Option<u64> {
    let result: Result<u64, i32> = match number {
        hostcall::MAP_FILE => return map_file(injector, mappings, tid, args),
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
            match injector.policy() {
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
        hostcall::EXIT => {
            // The thread itself ends the process: its exit status is the guest's own.
            injector.run_in_guest(tid, trapbox_abi::linux::nr::EXIT_GROUP, [args[0] & 0xff, 0, 0, 0, 0, 0]);
            return None;
        }
        hostcall::STAT => stat(tid, args[0]).and_then(|st| poke(tid, args[1], &st.to_bytes()).map(|()| 0)),
        hostcall::READDIR => readdir(tid, args),
        _ => match answer(number, args) {
            Some(answer) => answer,
            None => return as_linux_call(injector, tid, number, args),
        },
    };
    Some(result.unwrap_or_else(errno::encode_error))
}

/// The hostcalls the host answers from its own state, with no injector: served on both
/// entries (the listed trap and a plain `syscall` stop). `None` for the others.
pub fn answer(number: u64, args: &[u64; 6]) -> Option<Result<u64, i32>> {
    Some(match number {
        hostcall::VERSION => Ok(u64::from(trapbox_abi::ABI_VERSION)),
        hostcall::CLOCK => match args[0] {
            hostcall::CLOCK_MONOTONIC => sys::clock_ns(libc::CLOCK_MONOTONIC).map_err(|e| e.0),
            hostcall::CLOCK_REALTIME => sys::clock_ns(libc::CLOCK_REALTIME).map_err(|e| e.0),
            _ => Err(errno::EINVAL),
        },
        _ => return None,
    })
}

/// The longest single read, write or random fill (a short count beyond, as a pipe gives):
/// it bounds how long one injected call keeps the thread.
const IO_CHUNK: u64 = 1 << 30;
/// Nanoseconds in a second.
const NANOS: u64 = 1_000_000_000;

/// A hostcall that is one Linux call: its arguments translated (paths pinned), then decided
/// and performed as that Linux call.
fn as_linux_call(injector: &mut dyn Injector, tid: Pid, number: u64, args: &[u64; 6]) -> Option<u64> {
    use trapbox_abi::linux::nr;
    let fail = |e: i32| Some(errno::encode_error(e));
    let at_fdcwd = libc::AT_FDCWD as u64;
    // Pinned slots stay taken until the call has run (dropped at the end of this function).
    let mut pins = Vec::new();
    let mut pin = |injector: &mut dyn Injector, ptr: u64, len: u64| -> Result<u64, i32> {
        let path = read_bytes(tid, ptr, len, PATH_SLOT_LEN)?;
        if path.is_empty() {
            return Err(errno::ENOENT); // as open("") answers
        }
        if path.contains(&0) {
            return Err(errno::EINVAL);
        }
        let (slot, at) = injector.pin_path(tid, &path)?;
        pins.push(slot);
        Ok(at)
    };
    let call = match number {
        hostcall::READ => Ok((nr::READ, [args[0], args[1], args[2].min(IO_CHUNK), 0, 0, 0])),
        hostcall::WRITE => Ok((nr::WRITE, [args[0], args[1], args[2].min(IO_CHUNK), 0, 0, 0])),
        hostcall::CLOSE => Ok((nr::CLOSE, [args[0], 0, 0, 0, 0, 0])),
        hostcall::SEEK if args[2] <= hostcall::SEEK_END => Ok((nr::LSEEK, [args[0], args[1], args[2], 0, 0, 0])),
        hostcall::SEEK => Err(errno::EINVAL),
        hostcall::OPEN => open_flags(args[2]).and_then(|flags| {
            pin(injector, args[0], args[1]).map(|path| (nr::OPENAT, [at_fdcwd, path, flags, 0o666, 0, 0]))
        }),
        hostcall::MKDIR => pin(injector, args[0], args[1]).map(|path| (nr::MKDIRAT, [at_fdcwd, path, 0o777, 0, 0, 0])),
        hostcall::REMOVE => match args[2] {
            0 | hostcall::REMOVE_DIR => {
                let flags = if args[2] == hostcall::REMOVE_DIR { libc::AT_REMOVEDIR as u64 } else { 0 };
                pin(injector, args[0], args[1]).map(|path| (nr::UNLINKAT, [at_fdcwd, path, flags, 0, 0, 0]))
            }
            _ => Err(errno::EINVAL),
        },
        hostcall::RENAME => pin(injector, args[0], args[1])
            .and_then(|old| pin(injector, args[2], args[3]).map(|new| (nr::RENAMEAT, [at_fdcwd, old, at_fdcwd, new, 0, 0]))),
        hostcall::ALLOC if args[0] == 0 => Err(errno::EINVAL),
        hostcall::ALLOC => {
            let (prot, flags) = ((libc::PROT_READ | libc::PROT_WRITE) as u64, (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64);
            Ok((nr::MMAP, [0, args[0], prot, flags, u64::MAX, 0]))
        }
        hostcall::FREE => Ok((nr::MUNMAP, [args[0], args[1], 0, 0, 0, 0])),
        hostcall::RANDOM => Ok((nr::GETRANDOM, [args[0], args[1].min(IO_CHUNK), 0, 0, 0, 0])),
        hostcall::SLEEP => {
            // The timespec is the host's, pinned where the guest cannot change it.
            let mut timespec = [0u8; 16];
            timespec[..8].copy_from_slice(&(args[0] / NANOS).to_le_bytes());
            timespec[8..].copy_from_slice(&(args[0] % NANOS).to_le_bytes());
            injector.pin_path(tid, &timespec).map(|(slot, at)| {
                pins.push(slot);
                (nr::CLOCK_NANOSLEEP, [libc::CLOCK_MONOTONIC as u64, 0, at, 0, 0, 0])
            })
        }
        _ => Err(errno::ENOSYS),
    };
    match call {
        Ok((linux, linux_args)) => injector.linux_call(tid, linux, linux_args),
        Err(e) => fail(e),
    }
}

/// The Linux `open` flags of [`hostcall::OPEN`]'s `flags`, or `EINVAL`.
fn open_flags(flags: u64) -> Result<u64, i32> {
    use trapbox_abi::hostcall::{OPEN_APPEND, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_FLAGS, OPEN_READ, OPEN_TRUNCATE, OPEN_WRITE};
    if flags & !OPEN_FLAGS != 0 {
        return Err(errno::EINVAL);
    }
    let access = match flags & (OPEN_READ | OPEN_WRITE) {
        OPEN_READ => libc::O_RDONLY,
        OPEN_WRITE => libc::O_WRONLY,
        0 => return Err(errno::EINVAL),
        _ => libc::O_RDWR,
    };
    let bit = |flag: u64, linux: i32| if flags & flag != 0 { linux } else { 0 };
    let linux = access
        | libc::O_CLOEXEC
        | libc::O_NOCTTY
        | bit(OPEN_CREATE, libc::O_CREAT)
        | bit(OPEN_TRUNCATE, libc::O_TRUNC)
        | bit(OPEN_APPEND, libc::O_APPEND)
        | bit(OPEN_EXCLUSIVE, libc::O_EXCL);
    Ok(linux as u64)
}

/// Writes `bytes` at `addr` of the guest as the kernel writes a call's result (the page
/// protections hold), or `EFAULT`.
fn poke(tid: Pid, addr: u64, bytes: &[u8]) -> Result<(), i32> {
    match sys::write_memory(tid, addr, bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        _ => Err(errno::EFAULT),
    }
}

/// The host's duplicate of the guest's open file `handle` (`EBADF` when there is none).
fn guest_file(tid: Pid, handle: u64) -> Result<std::os::fd::OwnedFd, i32> {
    let fd = i32::try_from(handle).map_err(|_| errno::EBADF)?;
    sys::take_fd(tid, fd).map_err(|e| if e.0 == libc::ESRCH { libc::ESRCH } else { errno::EBADF })
}

/// The ABI's kind of a file of mode `mode` (the `S_IFMT` bits).
fn kind_of(mode: libc::mode_t) -> u32 {
    use trapbox_abi::hostcall::kind;
    match mode & libc::S_IFMT {
        libc::S_IFREG => kind::FILE,
        libc::S_IFDIR => kind::DIRECTORY,
        libc::S_IFLNK => kind::SYMLINK,
        libc::S_IFIFO => kind::PIPE,
        libc::S_IFSOCK => kind::SOCKET,
        libc::S_IFCHR => kind::CHAR_DEVICE,
        libc::S_IFBLK => kind::BLOCK_DEVICE,
        _ => kind::OTHER,
    }
}

/// `stat` of the guest's open file `handle`, as the ABI lays it out.
fn stat(tid: Pid, handle: u64) -> Result<hostcall::FileStat, i32> {
    let st = crate::perform::directfs::file_stat(&guest_file(tid, handle)?)?;
    Ok(hostcall::FileStat {
        size: st.st_size as u64,
        mtime_ns: st.st_mtime.saturating_mul(1_000_000_000).saturating_add(st.st_mtime_nsec),
        inode: st.st_ino,
        device: st.st_dev,
        kind: kind_of(st.st_mode),
        mode: st.st_mode & 0o7777,
        links: st.st_nlink,
    })
}

/// The most one `readdir` writes (a bigger buffer is used up to this).
const READDIR_CHUNK: usize = 1 << 20;
/// The most entries a directory listed by `readdir` may have (the host sorts them all).
const MAX_DIR_ENTRIES: usize = 1 << 20;

/// `readdir(handle, buf, len, cookie)`: the directory's entries sorted by name, from number
/// `cookie`, as records. The host lists the directory the guest holds (reopened through the
/// host's duplicate of its fd, with the guest's credentials), so it reaches nothing the guest
/// could not list itself.
fn readdir(tid: Pid, args: &[u64; 6]) -> Result<u64, i32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let dir = guest_file(tid, args[0])?;
    let st = crate::perform::directfs::file_stat(&dir)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(libc::ENOTDIR);
    }
    let link = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let listing = crate::perform::creds::as_guest(tid, || std::fs::read_dir(&link))?.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let mut entries = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        if entries.len() == MAX_DIR_ENTRIES {
            return Err(libc::EOVERFLOW);
        }
        // (The entry's own type, not its target's: a symlink lists as a symlink.)
        let kind = entry.metadata().map_or(hostcall::kind::OTHER, |m| kind_of(m.mode()));
        entries.push((entry.file_name().as_bytes().to_vec(), kind));
    }
    entries.sort_unstable();
    let room = usize::try_from(args[2]).unwrap_or(usize::MAX).min(READDIR_CHUNK);
    let first = usize::try_from(args[3]).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (index, (name, kind)) in entries.iter().enumerate().skip(first) {
        let len = hostcall::dirent_len(name.len());
        if out.len() + len > room {
            if out.is_empty() {
                return Err(errno::EINVAL);
            }
            break;
        }
        out.extend_from_slice(&(index as u64 + 1).to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&[*kind as u8, 0, 0, 0]);
        out.extend_from_slice(name);
        out.resize(out.len().next_multiple_of(8), 0);
    }
    poke(tid, args[1], &out)?;
    Ok(out.len() as u64)
}

fn map_file(
    injector: &mut dyn Injector,
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
    let resolved = match check_path(injector.policy(), tid, "hc_map_file", &path, access) {
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
