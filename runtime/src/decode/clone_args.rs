//! clone3's `struct clone_args`, copied once as the kernel copies it
//! (`copy_clone_args_from_user`), and the flag word of every call that makes a task.
//!
//! The kernel takes `size` bytes: more than a page is `E2BIG`, fewer than the first published
//! struct (64 bytes) `EINVAL`; bytes beyond the struct it knows must be zero (`E2BIG`), and
//! any byte it must read that is unreadable is `EFAULT`. The host reads it the same way, so
//! its copy, and the errors, are the kernel's. The copy (and the `set_tid` array it points
//! to, see [`CloneArgs::set_tid`]) is what the pinned-argument region hands the kernel
//! ([`crate::trap::pinned`]), so the flags the host judged are the flags the kernel runs.

use trapbox_abi::linux::nr;

use crate::sys::Pid;

/// `CLONE_ARGS_SIZE_VER0`: the first published struct, the least the kernel accepts.
const SIZE_VER0: u64 = 64;
/// `sizeof(struct clone_args)` as this kernel generation knows it (`CLONE_ARGS_SIZE_VER2`:
/// up to `cgroup`); longer structs must have a zero tail.
pub const KNOWN_LEN: usize = 88;
/// The most bytes the kernel looks at (`PAGE_SIZE`).
const SIZE_MAX: u64 = 4096;
/// Where `set_tid` and `set_tid_size` are in the struct.
const SET_TID_AT: usize = 64;
const SET_TID_SIZE_AT: usize = 72;
/// `MAX_PID_NS_LEVEL`: the most entries `set_tid` may have (more is the kernel's `EINVAL`).
pub const SET_TID_MAX: u64 = 32;

/// The host's copy of a guest's `struct clone_args`: the bytes the guest's `size` names, up
/// to [`KNOWN_LEN`] (a longer struct's tail was checked to be zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloneArgs {
    bytes: Vec<u8>,
}

impl CloneArgs {
    /// Copies the struct of `size` bytes at `addr` of guest `pid`, or the kernel's errno.
    pub fn read(pid: Pid, addr: u64, size: u64) -> Result<CloneArgs, i32> {
        if size > SIZE_MAX {
            return Err(libc::E2BIG);
        }
        if size < SIZE_VER0 {
            return Err(libc::EINVAL);
        }
        // (size is at most a page here: the casts are exact.)
        if size as usize > KNOWN_LEN {
            let tail = crate::sys::read_guest_bytes(pid, addr.wrapping_add(KNOWN_LEN as u64), size as usize - KNOWN_LEN)
                .ok_or(libc::EFAULT)?;
            if tail.iter().any(|&b| b != 0) {
                return Err(libc::E2BIG);
            }
        }
        let bytes = crate::sys::read_guest_bytes(pid, addr, (size as usize).min(KNOWN_LEN)).ok_or(libc::EFAULT)?;
        Ok(CloneArgs { bytes })
    }

    fn field(&self, at: usize) -> u64 {
        self.bytes.get(at..at + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// The 64-bit flag word.
    pub fn flags(&self) -> u64 {
        self.field(0)
    }

    /// `(set_tid, set_tid_size)` when the struct has them (80 bytes or more).
    pub fn set_tid(&self) -> (u64, u64) {
        (self.field(SET_TID_AT), self.field(SET_TID_SIZE_AT))
    }

    /// Points `set_tid` at `addr` (the host's copy of the array).
    pub fn move_set_tid(&mut self, addr: u64) {
        if let Some(field) = self.bytes.get_mut(SET_TID_AT..SET_TID_AT + 8) {
            field.copy_from_slice(&addr.to_le_bytes());
        }
    }

    /// The bytes, for the kernel to read; their length is the size to pass it.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The flag word of call `number` that makes a task, as the kernel reads it: clone's first
/// argument (an `unsigned long`: the whole register), clone3's `flags` field (read from
/// guest `pid`'s memory at the call's pointer: on the pinned copy when the call is pinned),
/// none for fork and vfork. `None` for any other call; `Some(Err(errno))` when clone3's
/// struct is one the kernel would refuse.
pub fn task_flags(pid: Pid, number: u64, args: &[u64; 6]) -> Option<Result<u64, i32>> {
    const CLONE_VM: u64 = 0x100;
    const CLONE_VFORK: u64 = 0x4000;
    match number {
        nr::CLONE => Some(Ok(args[0])),
        nr::CLONE3 => Some(CloneArgs::read(pid, args[0], args[1]).map(|a| a.flags())),
        nr::FORK => Some(Ok(0)),
        nr::VFORK => Some(Ok(CLONE_VM | CLONE_VFORK)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read from this test's own memory, as the kernel would read a guest's.
    fn read(bytes: &[u8], size: u64) -> Result<CloneArgs, i32> {
        CloneArgs::read(crate::sys::own_pid(), bytes.as_ptr() as u64, size)
    }

    #[test]
    fn sizes_and_tails_as_the_kernel_judges_them() {
        let mut args = [0u8; 128];
        args[..8].copy_from_slice(&0x0080_0000u64.to_le_bytes());
        assert_eq!(read(&args, 0), Err(libc::EINVAL));
        assert_eq!(read(&args, 63), Err(libc::EINVAL));
        assert_eq!(read(&args, 4097), Err(libc::E2BIG));
        assert_eq!(read(&args, 64).map(|a| (a.flags(), a.bytes().len())), Ok((0x0080_0000, 64)));
        assert_eq!(read(&args, 128).map(|a| a.bytes().len()), Ok(KNOWN_LEN), "a zero tail is dropped");
        args[100] = 1;
        assert_eq!(read(&args, 128), Err(libc::E2BIG));
        assert_eq!(CloneArgs::read(crate::sys::own_pid(), 8, 64), Err(libc::EFAULT));
        assert_eq!(task_flags(crate::sys::own_pid(), nr::CLONE, &[7, 0, 0, 0, 0, 0]), Some(Ok(7)));
        assert_eq!(task_flags(crate::sys::own_pid(), nr::GETPID, &[7, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn set_tid_moves_with_the_copy() {
        let mut args = [0u8; KNOWN_LEN];
        args[SET_TID_AT..SET_TID_AT + 8].copy_from_slice(&0x1234u64.to_le_bytes());
        args[SET_TID_SIZE_AT..SET_TID_SIZE_AT + 8].copy_from_slice(&2u64.to_le_bytes());
        let mut copy = read(&args, KNOWN_LEN as u64).expect("readable");
        assert_eq!(copy.set_tid(), (0x1234, 2));
        copy.move_set_tid(0x5500_0000_0000);
        assert_eq!(copy.set_tid(), (0x5500_0000_0000, 2));
        assert_eq!(read(&args, 64).expect("readable").set_tid(), (0, 0), "a version-0 struct has none");
    }
}
