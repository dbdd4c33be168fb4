//! The error convention: a result in `-4095..=-1` is `-errno`, as in the Linux kernel.
//!
//! The values are Linux's; only the ones the ABI itself names are listed here.

/// Operation not permitted.
pub const EPERM: i32 = 1;
/// No such file or directory.
pub const ENOENT: i32 = 2;
/// Interrupted system call.
pub const EINTR: i32 = 4;
/// Input/output error.
pub const EIO: i32 = 5;
/// Bad file descriptor.
pub const EBADF: i32 = 9;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Bad address.
pub const EFAULT: i32 = 14;
/// File exists.
pub const EEXIST: i32 = 17;
/// Not a directory.
pub const ENOTDIR: i32 = 20;
/// Is a directory.
pub const EISDIR: i32 = 21;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// Read-only file system.
pub const EROFS: i32 = 30;
/// File name too long.
pub const ENAMETOOLONG: i32 = 36;
/// Function not implemented: the answer to a number no personality defines.
pub const ENOSYS: i32 = 38;
/// Directory not empty.
pub const ENOTEMPTY: i32 = 39;

/// The symbolic name of the errnos listed here (and of a few more a file call may give).
pub const fn name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EIO => "EIO",
        EBADF => "EBADF",
        11 => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EEXIST => "EEXIST",
        18 => "EXDEV",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        28 => "ENOSPC",
        EROFS => "EROFS",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOSYS => "ENOSYS",
        ENOTEMPTY => "ENOTEMPTY",
        40 => "ELOOP",
        _ => return None,
    })
}

/// The largest errno a result can carry.
pub const MAX_ERRNO: u64 = 4095;

/// Whether a raw `rax` result is an error (`-4095..=-1`).
pub const fn is_error(raw: u64) -> bool {
    raw > u64::MAX - MAX_ERRNO
}

/// Splits a raw `rax` result into a value or an errno.
pub const fn decode(raw: u64) -> Result<u64, i32> {
    if is_error(raw) {
        Err((raw as i64).wrapping_neg() as i32)
    } else {
        Ok(raw)
    }
}

/// The raw `rax` value that carries `errno` back to the guest.
pub const fn encode_error(errno: i32) -> u64 {
    (errno as i64).wrapping_neg() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_and_values_are_not_errors() {
        assert_eq!(decode(encode_error(EACCES)), Err(EACCES));
        assert_eq!(decode(encode_error(4095)), Err(4095));
        assert_eq!(decode(0), Ok(0));
        assert_eq!(decode(u64::MAX - 4095), Ok(u64::MAX - 4095));
        assert!(is_error(u64::MAX));
    }
}
