//! Hostcalls: calls that exist only under trapbox, reached through the same trap.
//!
//! They use the same registers as Linux calls. Their numbers sit far above the Linux table
//! and below the x32 bit (`0x4000_0000`), so a hostcall number can never be mistaken for a
//! Linux or an x32 system call. A hostcall that reaches a real kernel (a guest run without
//! trapbox) fails with `-ENOSYS`.
//!
//! Paths are passed as a pointer and a length (no NUL terminator needed); the host copies
//! them out of guest memory before it looks at them.

/// The first hostcall number.
pub const HOSTCALL_BASE: u64 = 0x1000_0000;
/// One past the last number reserved for hostcalls.
pub const HOSTCALL_END: u64 = HOSTCALL_BASE + 0x1000;

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
/// `write(stream, buf_ptr, len) -> bytes written`: writes to the guest's stdout (1) or
/// stderr (2) without a Linux call, for guests that run with no Linux personality.
pub const WRITE: u64 = HOSTCALL_BASE + 5;
/// `exit(code) -> !`: ends the whole guest process with `code`.
pub const EXIT: u64 = HOSTCALL_BASE + 6;

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
        _ => return None,
    })
}
