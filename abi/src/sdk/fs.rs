//! Files, directories and the standard handles, over the file hostcalls.
//!
//! Every path is decided by the host against the policy's grants, as the same Linux call of
//! a Linux-personality guest would be; a refusal is the errno a native program would get
//! (`EACCES`, or `ENOENT` for a path outside every grant, which the guest cannot see) and a
//! line in the host's log.
//!
//! ```no_run
//! use trapbox_abi::sdk::fs::{File, OpenOptions};
//! use core::fmt::Write as _;
//!
//! fn copy(from: &str, to: &str) -> trapbox_abi::sdk::Result<u64> {
//!     let mut source = File::open(from)?;
//!     let mut target = OpenOptions::new().write(true).create(true).truncate(true).open(to)?;
//!     let mut buf = [0u8; 65536];
//!     let mut total = 0;
//!     loop {
//!         let n = source.read(&mut buf)?;
//!         if n == 0 {
//!             return Ok(total);
//!         }
//!         target.write_all(&buf[..n])?;
//!         total += n as u64;
//!     }
//! }
//! # let _ = copy;
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use super::{call, HostError, Result};
use crate::hostcall::{self, FileStat};

pub use crate::hostcall::kind;

/// Where [`File::seek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start of the file.
    Start(u64),
    /// From its end.
    End(i64),
    /// From the current offset.
    Current(i64),
}

/// How to open a file: [`OpenOptions::new`], then the flags, then [`OpenOptions::open`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    flags: u64,
}

impl OpenOptions {
    /// No flags yet (opening needs at least `read` or `write`).
    pub fn new() -> OpenOptions {
        OpenOptions { flags: 0 }
    }

    fn flag(mut self, flag: u64, on: bool) -> OpenOptions {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
        self
    }

    /// Open for reading.
    pub fn read(self, on: bool) -> OpenOptions {
        self.flag(hostcall::OPEN_READ, on)
    }

    /// Open for writing.
    pub fn write(self, on: bool) -> OpenOptions {
        self.flag(hostcall::OPEN_WRITE, on)
    }

    /// Every write goes to the end (implies writing).
    pub fn append(self, on: bool) -> OpenOptions {
        self.flag(hostcall::OPEN_APPEND | hostcall::OPEN_WRITE, on)
    }

    /// Create the file if it does not exist.
    pub fn create(self, on: bool) -> OpenOptions {
        self.flag(hostcall::OPEN_CREATE, on)
    }

    /// Create the file, failing with `EEXIST` if it exists.
    pub fn create_new(self, on: bool) -> OpenOptions {
        self.flag(hostcall::OPEN_CREATE | hostcall::OPEN_EXCLUSIVE, on)
    }

    /// Empty the file.
    pub fn truncate(self, on: bool) -> OpenOptions {
        self.flag(hostcall::OPEN_TRUNCATE, on)
    }

    /// Opens `path` with these options.
    pub fn open(&self, path: &str) -> Result<File> {
        let handle = call(hostcall::OPEN, [path.as_ptr() as u64, path.len() as u64, self.flags, 0, 0, 0])?;
        Ok(File { handle, owned: true })
    }
}

/// An open file of the guest, closed on drop (the standard handles are never closed).
#[derive(Debug)]
pub struct File {
    handle: u64,
    owned: bool,
}

impl File {
    /// Opens `path` for reading.
    pub fn open(path: &str) -> Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates `path` for writing, or empties it if it exists.
    pub fn create(path: &str) -> Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// Handle 0.
    pub fn stdin() -> File {
        File { handle: 0, owned: false }
    }

    /// Handle 1.
    pub fn stdout() -> File {
        File { handle: 1, owned: false }
    }

    /// Handle 2.
    pub fn stderr() -> File {
        File { handle: 2, owned: false }
    }

    /// The handle, for the raw hostcalls.
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// Reads into `buf`; 0 at the end of the file.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        super::read(self.handle, buf)
    }

    /// Reads everything left into `out`; the count read.
    pub fn read_to_end(&mut self, out: &mut Vec<u8>) -> Result<usize> {
        let start = out.len();
        loop {
            if out.capacity() - out.len() < 8192 {
                out.reserve((out.len() - start).max(65536));
            }
            let len = out.len();
            out.resize(out.capacity(), 0);
            match self.read(&mut out[len..]) {
                Ok(0) => {
                    out.truncate(len);
                    return Ok(len - start);
                }
                Ok(n) => out.truncate(len + n),
                Err(e) => {
                    out.truncate(len);
                    return Err(e);
                }
            }
        }
    }

    /// Writes `bytes`; the count written, which may be short.
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize> {
        super::write(self.handle, bytes)
    }

    /// Writes all of `bytes`.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            match self.write(bytes)? {
                0 => return Err(HostError(crate::errno::EIO)),
                n => bytes = &bytes[n..],
            }
        }
        Ok(())
    }

    /// Moves the offset; the new offset from the start.
    pub fn seek(&mut self, to: SeekFrom) -> Result<u64> {
        let (offset, whence) = match to {
            SeekFrom::Start(n) => (n, hostcall::SEEK_SET),
            SeekFrom::End(n) => (n as u64, hostcall::SEEK_END),
            SeekFrom::Current(n) => (n as u64, hostcall::SEEK_CUR),
        };
        call(hostcall::SEEK, [self.handle, offset, whence, 0, 0, 0])
    }

    /// The file's size, kind, permissions, times and identity.
    pub fn stat(&self) -> Result<FileStat> {
        let mut stat = FileStat::default();
        // (The host writes one FileStat, which `stat` is, for the call.)
        call(hostcall::STAT, [self.handle, &mut stat as *mut FileStat as u64, 0, 0, 0, 0])?;
        Ok(stat)
    }

    /// Closes the file now, reporting the host's answer (drop closes too, silently).
    pub fn close(mut self) -> Result<()> {
        self.owned = false;
        call(hostcall::CLOSE, [self.handle, 0, 0, 0, 0, 0]).map(drop)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if self.owned {
            let _ = call(hostcall::CLOSE, [self.handle, 0, 0, 0, 0, 0]);
        }
    }
}

impl core::fmt::Write for File {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_all(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// The whole content of `path`.
pub fn read(path: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    File::open(path)?.read_to_end(&mut out)?;
    Ok(out)
}

/// Creates or replaces `path` with `bytes`.
pub fn write(path: &str, bytes: &[u8]) -> Result<()> {
    File::create(path)?.write_all(bytes)
}

/// Creates the directory `path`.
pub fn create_dir(path: &str) -> Result<()> {
    call(hostcall::MKDIR, [path.as_ptr() as u64, path.len() as u64, 0, 0, 0, 0]).map(drop)
}

/// Removes the file `path`.
pub fn remove_file(path: &str) -> Result<()> {
    call(hostcall::REMOVE, [path.as_ptr() as u64, path.len() as u64, 0, 0, 0, 0]).map(drop)
}

/// Removes the empty directory `path`.
pub fn remove_dir(path: &str) -> Result<()> {
    call(hostcall::REMOVE, [path.as_ptr() as u64, path.len() as u64, hostcall::REMOVE_DIR, 0, 0, 0]).map(drop)
}

/// Renames `from` to `to`, replacing `to` if it exists.
pub fn rename(from: &str, to: &str) -> Result<()> {
    call(hostcall::RENAME, [from.as_ptr() as u64, from.len() as u64, to.as_ptr() as u64, to.len() as u64, 0, 0]).map(drop)
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name (the bytes the filesystem holds, which need not be UTF-8).
    pub name: Vec<u8>,
    /// One of [`kind`].
    pub kind: u32,
}

impl DirEntry {
    /// The name as text (invalid UTF-8 replaced).
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// The entries of a directory, sorted by name (from [`read_dir`]).
#[derive(Debug)]
pub struct ReadDir {
    dir: File,
    cookie: u64,
    buf: Vec<u8>,
    at: usize,
    done: bool,
}

/// Lists the directory `path` ("." and ".." are not listed).
pub fn read_dir(path: &str) -> Result<ReadDir> {
    Ok(ReadDir { dir: File::open(path)?, cookie: 0, buf: Vec::new(), at: 0, done: false })
}

impl Iterator for ReadDir {
    type Item = Result<DirEntry>;

    fn next(&mut self) -> Option<Result<DirEntry>> {
        if self.at >= self.buf.len() {
            if self.done {
                return None;
            }
            self.buf.resize(16384, 0);
            let (ptr, len) = (self.buf.as_mut_ptr() as u64, self.buf.len() as u64);
            // (The host writes at most `len` bytes into `buf`, ours for the call.)
            match call(hostcall::READDIR, [self.dir.handle, ptr, len, self.cookie, 0, 0]) {
                Ok(0) => {
                    self.done = true;
                    self.buf.clear();
                    return None;
                }
                Ok(n) => {
                    self.buf.truncate(n as usize);
                    self.at = 0;
                }
                Err(e) => {
                    self.done = true;
                    self.buf.clear();
                    return Some(Err(e));
                }
            }
        }
        let record = &self.buf[self.at..];
        let header = record.get(..hostcall::DIRENT_HEADER)?;
        let cookie = u64::from_le_bytes(header[0..8].try_into().ok()?);
        let name_len = u32::from_le_bytes(header[8..12].try_into().ok()?) as usize;
        let name = record.get(hostcall::DIRENT_HEADER..hostcall::DIRENT_HEADER + name_len)?.to_vec();
        let kind = u32::from(header[12]);
        self.at += hostcall::dirent_len(name_len);
        self.cookie = cookie;
        Some(Ok(DirEntry { name, kind }))
    }
}
