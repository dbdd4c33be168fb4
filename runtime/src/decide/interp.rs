//! The interpreters the kernel runs a program with, so the host can check them at `execve`.
//!
//! Executing a script makes the kernel open the interpreter of its `#!` line for execution
//! (which may be a script again, or a dynamically linked ELF file), and executing a dynamically
//! linked ELF file makes it open the `PT_INTERP` loader for execution too. Landlock checks each
//! of those opens against the exec grants, so an interpreter outside every `--allow-exec` path
//! fails the exec with `EACCES` — but in the kernel, where the host sees no reason to log. The
//! host therefore reads the chain itself when it approves an exec and refuses, with a line
//! naming the interpreter, before the kernel tries. (The check reads the file by path, as the
//! kernel will a moment later; Landlock stays the enforcer of what the kernel really opens.)

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use trapbox_abi::hostcall::ACCESS_EXEC;

use crate::decide::confine::Denial;
use crate::decide::policy::Policy;
use crate::sys::Pid;

/// How many bytes of a file the kernel looks at for a `#!` line (`BINPRM_BUF_SIZE`).
const BINPRM_BUF_SIZE: usize = 256;
/// Longest interpreter path read from a `PT_INTERP` segment (the kernel's limit is `PATH_MAX`).
const PATH_MAX: u64 = libc::PATH_MAX as u64;
/// How many interpreters deep the kernel goes (binfmt recursion: a script run by a script…).
pub const MAX_DEPTH: usize = 5;

/// What the kernel opens, besides the file itself, to execute a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Interpreter {
    /// The interpreter of a `#!` line.
    Script(PathBuf),
    /// The loader a dynamically linked ELF file names (`PT_INTERP`).
    Loader(PathBuf),
}

impl Interpreter {
    /// The interpreter's path as written in the file.
    pub fn path(&self) -> &Path {
        match self {
            Interpreter::Script(path) | Interpreter::Loader(path) => path,
        }
    }
}

/// The interpreter `file` names: a `#!` line, an ELF `PT_INTERP` segment, or `None` (a static
/// ELF file, or anything the kernel will not run through an interpreter of its own).
pub fn interpreter_of(file: &std::fs::File) -> io::Result<Option<Interpreter>> {
    let mut head = [0u8; BINPRM_BUF_SIZE];
    let len = read_at_most(file, 0, &mut head)?;
    let head = &head[..len];
    if let Some(path) = shebang(head) {
        return Ok(Some(Interpreter::Script(path)));
    }
    Ok(elf_loader(head, |offset, buf| read_at_most(file, offset, buf))?.map(Interpreter::Loader))
}

/// `path` opened for reading if it is a regular file. Never blocks (a FIFO swapped in
/// meanwhile opens at once with `O_NONBLOCK`, and is then not regular) and never becomes the
/// host's controlling terminal.
/// The path is the guest's ([`crate::launch::view`]).
fn open_regular(path: &Path) -> Option<std::fs::File> {
    if !crate::launch::view::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let file = crate::launch::view::open_file(path, libc::O_NONBLOCK | libc::O_NOCTTY).ok()?;
    file.metadata().is_ok_and(|m| m.is_file()).then_some(file)
}

/// Reads at `offset` until `buf` is full or the file ends; the number of bytes read.
fn read_at_most(file: &std::fs::File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The interpreter of a `#!` line as the kernel parses it (`binfmt_script`): after `#!`,
/// blanks, then the name up to the next blank or the end of the line (or of a file shorter
/// than the head). `None` when the line names none, or when the name runs past the bytes the
/// kernel reads (it then refuses the file itself).
fn shebang(head: &[u8]) -> Option<PathBuf> {
    let rest = head.strip_prefix(b"#!")?;
    let line_end = rest.iter().position(|&b| b == b'\n');
    let line = &rest[..line_end.unwrap_or(rest.len())];
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b))?;
    let name = &line[start..];
    let end = name.iter().position(|b| blank(b) || *b == 0);
    // The kernel reads the head into a zeroed buffer: a file shorter than it ends the name.
    if end.is_none() && line_end.is_none() && head.len() >= BINPRM_BUF_SIZE {
        return None; // truncated: the kernel answers ENOEXEC
    }
    let name = &name[..end.unwrap_or(name.len())];
    (!name.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(name)))
}

/// The `PT_INTERP` path of a little-endian ELF64 file whose first bytes are `head`; `read`
/// reads more of the file at an offset (the program headers and the segment may lie beyond
/// the head). Every offset and size is checked: the file is the guest's.
fn elf_loader(head: &[u8], mut read: impl FnMut(u64, &mut [u8]) -> io::Result<usize>) -> io::Result<Option<PathBuf>> {
    const PT_INTERP: u32 = 3;
    const PHDR_SIZE: usize = 56;
    let u16_at = |b: &[u8], at: usize| b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], at: usize| b.get(at..at + 4).and_then(|s| s.try_into().ok()).map(u32::from_le_bytes);
    let u64_at = |b: &[u8], at: usize| b.get(at..at + 8).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes);
    // ELFCLASS64, ELFDATA2LSB: the only kind an x86-64 kernel runs through this loader.
    if head.len() < 64 || &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return Ok(None);
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(head, 32), u16_at(head, 54), u16_at(head, 56)) else {
        return Ok(None);
    };
    if usize::from(phentsize) != PHDR_SIZE || phnum == 0 {
        return Ok(None);
    }
    let mut headers = vec![0u8; PHDR_SIZE * usize::from(phnum)];
    if read(phoff, &mut headers)? != headers.len() {
        return Ok(None);
    }
    for header in headers.chunks_exact(PHDR_SIZE) {
        if u32_at(header, 0) != Some(PT_INTERP) {
            continue;
        }
        let (Some(offset), Some(size)) = (u64_at(header, 8), u64_at(header, 32)) else { return Ok(None) };
        // The kernel wants 2..=PATH_MAX bytes ending in NUL.
        if !(2..=PATH_MAX).contains(&size) {
            return Ok(None);
        }
        let mut path = vec![0u8; size as usize];
        if read(offset, &mut path)? != path.len() || path.last() != Some(&0) {
            return Ok(None);
        }
        let name = path.split(|&b| b == 0).next().unwrap_or_default();
        return Ok((!name.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(name))));
    }
    Ok(None)
}

/// The refusal for an exec of `program` (resolved, already granted exec) by thread `pid` when
/// an interpreter the kernel would run it with is outside every exec grant; `None` when each
/// is granted, or when the chain cannot be read (the kernel and Landlock then decide alone).
pub fn ungranted_interpreter(policy: &Policy, pid: Pid, program: &Path) -> Option<Denial> {
    // Where the whole root may be executed every interpreter is granted: nothing to read.
    if !policy.grants_for(Path::new("/"), ACCESS_EXEC).is_empty() {
        return None;
    }
    let mut file = program.to_path_buf();
    for _ in 0..MAX_DEPTH {
        let opened = open_regular(&file)?;
        // A file without an execute bit the kernel refuses (EACCES) before it reads it, for
        // root too: it names no interpreter then.
        use std::os::unix::fs::PermissionsExt;
        if opened.metadata().ok()?.permissions().mode() & 0o111 == 0 {
            return None;
        }
        let interpreter = interpreter_of(&opened).ok()??;
        // The kernel opens it as the exec'ing process would: relative to its working directory.
        let resolved = crate::decide::confine::resolve(pid, None, interpreter.path().as_os_str().as_bytes())?;
        // The base's system loader runs any exec-granted program that names it.
        let implied = matches!(interpreter, Interpreter::Loader(_)) && policy.loaders.contains(&resolved);
        if policy.grants_for(&resolved, ACCESS_EXEC).is_empty() && !implied {
            let (what, source) = match interpreter {
                Interpreter::Script(_) => ("interpreter", "#! line"),
                Interpreter::Loader(_) => ("dynamic loader", "PT_INTERP"),
            };
            let resolves = if resolved == interpreter.path() {
                String::new()
            } else {
                format!("; resolves to {}", crate::report::log::path(&resolved))
            };
            // As for any path: absent outside every grant (the kernel's ENOENT for a missing
            // interpreter), EACCES where a weaker grant shows it.
            return Some(Denial {
                errno: crate::decide::confine::denial_for(policy, &resolved, ACCESS_EXEC).errno,
                reason: format!(
                    "{}: its {what} {} ({source}{resolves}) is outside every --allow-exec path",
                    crate::report::log::path(&file),
                    crate::report::log::path(interpreter.path())
                ),
            });
        }
        file = resolved;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::policy::Origin;

    #[test]
    fn reads_shebang_lines_as_the_kernel_does() {
        assert_eq!(shebang(b"#!/bin/sh\necho"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(shebang(b"#! \t/usr/bin/env python3 -u\n"), Some(PathBuf::from("/usr/bin/env")));
        assert_eq!(shebang(b"#!/bin/sh"), Some(PathBuf::from("/bin/sh")), "a file that ends on the name");
        assert_eq!(shebang(b"#!rel/interp\n"), Some(PathBuf::from("rel/interp")));
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"#!   \n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
        let long = [b"#!/".as_slice(), &[b'a'; 300]].concat();
        assert_eq!(shebang(&long[..BINPRM_BUF_SIZE]), None, "a name the kernel cannot read whole");
    }

    #[test]
    fn finds_the_loader_of_elf_files() {
        let open = |p: &str| interpreter_of(&std::fs::File::open(p).unwrap()).unwrap();
        // /usr/bin/id is dynamically linked on every machine this runs on; busybox-static is not.
        match open("/usr/bin/id") {
            Some(Interpreter::Loader(path)) => assert!(path.to_string_lossy().contains("ld-linux-x86-64"), "{path:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(open("/bin/busybox"), None);
        // Malformed headers are answered, never trusted.
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[32..40].copy_from_slice(&u64::MAX.to_le_bytes()); // phoff beyond any file
        elf[54..56].copy_from_slice(&56u16.to_le_bytes());
        elf[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        let none = |_: u64, _: &mut [u8]| Ok(0);
        assert_eq!(elf_loader(&elf, none).unwrap(), None);
        // One PT_INTERP header pointing past the end of what can be read.
        elf[32..40].copy_from_slice(&64u64.to_le_bytes());
        elf[56..58].copy_from_slice(&1u16.to_le_bytes());
        let mut phdr = vec![0u8; 56];
        phdr[..4].copy_from_slice(&3u32.to_le_bytes());
        phdr[8..16].copy_from_slice(&(1u64 << 62).to_le_bytes());
        phdr[32..40].copy_from_slice(&28u64.to_le_bytes());
        let file = [elf.clone(), phdr].concat();
        let read = |offset: u64, buf: &mut [u8]| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(file.len());
            let n = buf.len().min(file.len() - start);
            buf[..n].copy_from_slice(&file[start..start + n]);
            Ok(n)
        };
        assert_eq!(elf_loader(&elf, read).unwrap(), None);
    }

    #[test]
    fn an_interpreter_outside_the_exec_grants_is_named() {
        let dir = std::env::temp_dir().join(format!("trapbox-interp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("script");
        std::fs::write(&script, "#!/bin/busybox sh\necho hi\n").unwrap();
        // Without an execute bit the kernel refuses the script itself (EACCES) first.
        let me = std::process::id() as Pid;
        let unset = Policy::default();
        assert_eq!(ungranted_interpreter(&unset, me, &script), None, "mode 0644: the kernel's EACCES");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut policy = Policy::default();
        policy.allow(&script, Path::new("/"), ACCESS_EXEC, Origin::CommandLine).unwrap();
        let denial = ungranted_interpreter(&policy, me, &script).expect("busybox is not granted");
        assert_eq!(denial.errno, trapbox_abi::errno::ENOENT, "no grant shows it: absent, as natively a missing interpreter");
        assert!(denial.reason.contains("its interpreter /bin/busybox") && denial.reason.contains("outside every --allow-exec path"), "{}", denial.reason);
        policy.allow(Path::new("/bin/busybox"), Path::new("/"), ACCESS_EXEC, Origin::CommandLine).unwrap();
        assert_eq!(ungranted_interpreter(&policy, me, &script), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
