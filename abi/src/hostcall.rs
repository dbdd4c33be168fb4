//! Hostcalls: calls that exist only under trapbox, reached through the same trap.
//!
//! They use the same registers as Linux calls. Their numbers sit far above the Linux table
//! and below the x32 bit (`0x4000_0000`), so a hostcall number can never be mistaken for a
//! Linux or an x32 system call. A hostcall that reaches a real kernel (a guest run without
//! trapbox) fails with `-ENOSYS`.
//!
//! Paths are passed as a pointer and a length (no NUL terminator needed, at most 4095 bytes);
//! the host copies them out of guest memory before it looks at them. A relative path is
//! relative to the guest's working directory.
//!
//! **Handles** are small integers naming an open file of the guest; 0, 1 and 2 are stdin,
//! stdout and stderr. Every file operation is decided by the host against the policy's grants
//! exactly as the same Linux call of a Linux-personality guest would be (the same code decides
//! both), and fails with the errno a native program would get (`EACCES` for a file outside
//! the grants, with a line in the host's log).
//!
//! Numbers are never reused: a hostcall keeps its number for as long as the ABI exists; new
//! ones are appended and raise [`crate::ABI_VERSION`]. Version 1 had `VERSION` .. `EXIT`
//! (`WRITE` on streams 1 and 2 only); version 2 adds `READ` .. `SLEEP` and lets `WRITE` take
//! any handle.

/// The first hostcall number.
pub const HOSTCALL_BASE: u64 = 0x1000_0000;
/// One past the last number reserved for hostcalls.
pub const HOSTCALL_END: u64 = HOSTCALL_BASE + 0x1000;

/// The first number of the range reserved for embedders: a program that embeds trapbox
/// (`trapbox::Command::hostcall`) serves its own hostcalls here, each with its own meaning;
/// trapbox's own hostcalls never use it. A number no handler serves fails with `-ENOSYS`.
pub const EMBEDDER_BASE: u64 = HOSTCALL_BASE + 0x800;
/// One past the embedders' last number.
pub const EMBEDDER_END: u64 = HOSTCALL_END;

/// `version() -> ABI_VERSION`.
pub const VERSION: u64 = HOSTCALL_BASE;
/// `map_file(path_ptr, path_len, flags, len_out_ptr) -> address`: the host opens the file
/// under the policy and maps it into the guest; the mapping's length is stored at
/// `len_out_ptr` (a `u64`). `flags` is [`MAP_READ`] or [`MAP_READ`]`|`[`MAP_WRITE`] (a shared
/// writable mapping, only where the policy allows writing the file).
pub const MAP_FILE: u64 = HOSTCALL_BASE + 1;
/// `unmap(address, len) -> 0`: removes a mapping made by [`MAP_FILE`].
pub const UNMAP: u64 = HOSTCALL_BASE + 2;
/// `policy_check(path_ptr, path_len, access) -> 0 or -EACCES`: asks the policy whether
/// `access` (a mask of [`ACCESS_READ`], [`ACCESS_WRITE`], [`ACCESS_EXEC`]) would be granted.
pub const POLICY_CHECK: u64 = HOSTCALL_BASE + 3;
/// `log(level, msg_ptr, msg_len) -> 0`: a structured log line written by the host.
pub const LOG: u64 = HOSTCALL_BASE + 4;
/// `write(handle, buf_ptr, len) -> bytes written`: writes to an open handle (1 is stdout, 2
/// stderr); a short count is possible, as with any write.
pub const WRITE: u64 = HOSTCALL_BASE + 5;
/// `exit(code) -> !`: ends the whole guest process with `code`.
pub const EXIT: u64 = HOSTCALL_BASE + 6;
/// `read(handle, buf_ptr, len) -> bytes read`: 0 at the end of the file (0 is stdin).
pub const READ: u64 = HOSTCALL_BASE + 7;
/// `open(path_ptr, path_len, flags) -> handle`: opens a file under the policy. `flags` is a
/// mask of `OPEN_*`: at least one of [`OPEN_READ`], [`OPEN_WRITE`]; [`OPEN_CREATE`] makes the
/// file (mode 0666 less the guest's umask) if it does not exist; [`OPEN_TRUNCATE`] empties
/// it; [`OPEN_APPEND`] makes every write go to its end. A directory opens with
/// [`OPEN_READ`], for [`READDIR`]. Unknown bits are `EINVAL`.
pub const OPEN: u64 = HOSTCALL_BASE + 8;
/// `close(handle) -> 0`.
pub const CLOSE: u64 = HOSTCALL_BASE + 9;
/// `seek(handle, offset, whence) -> new offset`: `whence` is [`SEEK_SET`], [`SEEK_CUR`] or
/// [`SEEK_END`]; `offset` is signed.
pub const SEEK: u64 = HOSTCALL_BASE + 10;
/// `stat(handle, out_ptr) -> 0`: writes a [`FileStat`] at `out_ptr`.
pub const STAT: u64 = HOSTCALL_BASE + 11;
/// `readdir(handle, buf_ptr, len, cookie) -> bytes written`: lists the directory open as
/// `handle`, sorted by name, from entry number `cookie` (0 for the first) into `buf` as
/// records (see [`DIRENT_HEADER`]); 0 when no entry is left. An entry that does not fit is
/// left for the next call (`EINVAL` if not even the first one fits).
pub const READDIR: u64 = HOSTCALL_BASE + 12;
/// `mkdir(path_ptr, path_len) -> 0`: creates a directory (mode 0777 less the umask).
pub const MKDIR: u64 = HOSTCALL_BASE + 13;
/// `remove(path_ptr, path_len, flags) -> 0`: removes a file, or with [`REMOVE_DIR`] an empty
/// directory (as `unlink` and `rmdir` do: `EISDIR`, `ENOTDIR`, `ENOTEMPTY` as natively).
pub const REMOVE: u64 = HOSTCALL_BASE + 14;
/// `rename(old_ptr, old_len, new_ptr, new_len) -> 0`: renames, replacing `new` if it exists.
pub const RENAME: u64 = HOSTCALL_BASE + 15;
/// `alloc(len) -> address`: maps `len` bytes (rounded up to whole 4 KiB pages) of zeroed,
/// readable and writable memory.
pub const ALLOC: u64 = HOSTCALL_BASE + 16;
/// `free(address, len) -> 0`: returns pages [`ALLOC`] gave (any page-aligned part of them).
pub const FREE: u64 = HOSTCALL_BASE + 17;
/// `clock(id) -> nanoseconds`: [`CLOCK_MONOTONIC`] (since an arbitrary start, never goes
/// back) or [`CLOCK_REALTIME`] (since 1970-01-01 UTC).
pub const CLOCK: u64 = HOSTCALL_BASE + 18;
/// `random(buf_ptr, len) -> bytes written`: cryptographically secure random bytes (possibly
/// fewer than asked, past 32 MiB).
pub const RANDOM: u64 = HOSTCALL_BASE + 19;
/// `sleep(nanoseconds) -> 0`: waits at least that long.
pub const SLEEP: u64 = HOSTCALL_BASE + 20;

/// [`OPEN`] flag: open for reading.
pub const OPEN_READ: u64 = 1;
/// [`OPEN`] flag: open for writing.
pub const OPEN_WRITE: u64 = 2;
/// [`OPEN`] flag: create the file if it does not exist.
pub const OPEN_CREATE: u64 = 4;
/// [`OPEN`] flag: truncate the file to length 0.
pub const OPEN_TRUNCATE: u64 = 8;
/// [`OPEN`] flag: every write appends.
pub const OPEN_APPEND: u64 = 16;
/// [`OPEN`] flag: with [`OPEN_CREATE`], fail with `EEXIST` if the file exists.
pub const OPEN_EXCLUSIVE: u64 = 32;
/// Every [`OPEN`] flag.
pub const OPEN_FLAGS: u64 = OPEN_READ | OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE | OPEN_APPEND | OPEN_EXCLUSIVE;

/// [`SEEK`]: from the start.
pub const SEEK_SET: u64 = 0;
/// [`SEEK`]: from the current offset.
pub const SEEK_CUR: u64 = 1;
/// [`SEEK`]: from the end.
pub const SEEK_END: u64 = 2;

/// [`REMOVE`] flag: remove a directory.
pub const REMOVE_DIR: u64 = 1;

/// [`CLOCK`]: monotonic nanoseconds.
pub const CLOCK_MONOTONIC: u64 = 0;
/// [`CLOCK`]: wall-clock nanoseconds since the Unix epoch.
pub const CLOCK_REALTIME: u64 = 1;

/// [`FileStat::kind`] and the kind byte of a [`READDIR`] record.
pub mod kind {
    /// Not known, or none of the others.
    pub const OTHER: u32 = 0;
    /// A regular file.
    pub const FILE: u32 = 1;
    /// A directory.
    pub const DIRECTORY: u32 = 2;
    /// A symbolic link.
    pub const SYMLINK: u32 = 3;
    /// A pipe or FIFO.
    pub const PIPE: u32 = 4;
    /// A socket.
    pub const SOCKET: u32 = 5;
    /// A character device.
    pub const CHAR_DEVICE: u32 = 6;
    /// A block device.
    pub const BLOCK_DEVICE: u32 = 7;
}

/// What [`STAT`] writes: 48 bytes, little-endian, no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// The file's inode number (with `device`, its identity).
    pub inode: u64,
    /// The device the file is on.
    pub device: u64,
    /// One of [`kind`].
    pub kind: u32,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Number of hard links.
    pub links: u64,
}

/// The size of [`FileStat`] in the guest's memory.
pub const FILE_STAT_SIZE: usize = 48;
const _: () = assert!(core::mem::size_of::<FileStat>() == FILE_STAT_SIZE);

impl FileStat {
    /// The bytes [`STAT`] writes.
    pub fn to_bytes(&self) -> [u8; FILE_STAT_SIZE] {
        let mut out = [0u8; FILE_STAT_SIZE];
        out[0..8].copy_from_slice(&self.size.to_le_bytes());
        out[8..16].copy_from_slice(&self.mtime_ns.to_le_bytes());
        out[16..24].copy_from_slice(&self.inode.to_le_bytes());
        out[24..32].copy_from_slice(&self.device.to_le_bytes());
        out[32..36].copy_from_slice(&self.kind.to_le_bytes());
        out[36..40].copy_from_slice(&self.mode.to_le_bytes());
        out[40..48].copy_from_slice(&self.links.to_le_bytes());
        out
    }
}

/// A [`READDIR`] record is this many header bytes — `u64` cookie of the next entry, `u32`
/// name length, `u8` kind ([`kind`]), 3 bytes 0 — then the name (no NUL), then zeros to a
/// multiple of 8 bytes.
pub const DIRENT_HEADER: usize = 16;

/// The length of a [`READDIR`] record whose name is `name_len` bytes long.
pub const fn dirent_len(name_len: usize) -> usize {
    (DIRENT_HEADER + name_len + 7) & !7
}

/// [`MAP_FILE`] flag: map for reading.
pub const MAP_READ: u64 = 1;
/// [`MAP_FILE`] flag: map shared and writable.
pub const MAP_WRITE: u64 = 2;

/// [`POLICY_CHECK`] access bit: read.
pub const ACCESS_READ: u64 = 1;
/// [`POLICY_CHECK`] access bit: write, create, remove.
pub const ACCESS_WRITE: u64 = 2;
/// [`POLICY_CHECK`] access bit: execute.
pub const ACCESS_EXEC: u64 = 4;

/// [`LOG`] levels.
pub mod level {
    /// Something failed.
    pub const ERROR: u64 = 1;
    /// Something looks wrong.
    pub const WARN: u64 = 2;
    /// Progress worth telling.
    pub const INFO: u64 = 3;
    /// Detail for whoever debugs the guest.
    pub const DEBUG: u64 = 4;
}

/// Whether `nr` is in the hostcall range.
pub const fn is_hostcall(nr: u64) -> bool {
    nr >= HOSTCALL_BASE && nr < HOSTCALL_END
}

/// Whether `nr` is in the range reserved for embedders ([`EMBEDDER_BASE`]).
pub const fn is_embedder_hostcall(nr: u64) -> bool {
    nr >= EMBEDDER_BASE && nr < EMBEDDER_END
}

/// The name of hostcall `nr`, for traces.
pub const fn hostcall_name(nr: u64) -> Option<&'static str> {
    Some(match nr {
        VERSION => "hc_version",
        MAP_FILE => "hc_map_file",
        UNMAP => "hc_unmap",
        POLICY_CHECK => "hc_policy_check",
        LOG => "hc_log",
        WRITE => "hc_write",
        EXIT => "hc_exit",
        READ => "hc_read",
        OPEN => "hc_open",
        CLOSE => "hc_close",
        SEEK => "hc_seek",
        STAT => "hc_stat",
        READDIR => "hc_readdir",
        MKDIR => "hc_mkdir",
        REMOVE => "hc_remove",
        RENAME => "hc_rename",
        ALLOC => "hc_alloc",
        FREE => "hc_free",
        CLOCK => "hc_clock",
        RANDOM => "hc_random",
        SLEEP => "hc_sleep",
        _ => return None,
    })
}
