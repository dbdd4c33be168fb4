//! Why an input cannot be rewritten. Every malformed input ends here, never in a panic.

/// An error from reading, analysing or rewriting an ELF file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RewriteError {
    /// Shorter than a structure it must contain.
    #[error("truncated ELF file: {0}")]
    Truncated(&'static str),
    /// No ELF magic number.
    #[error("not an ELF file (no \\x7fELF magic number)")]
    NotElf,
    /// ELFCLASS32.
    #[error("32-bit ELF file: trapbox handles x86-64 (ELFCLASS64) only")]
    Not64Bit,
    /// ELFDATA2MSB.
    #[error("big-endian ELF file: trapbox handles little-endian x86-64 only")]
    BigEndian,
    /// An ELF class or data byte that is neither value the spec defines.
    #[error("invalid ELF identification byte {name} = {value}")]
    BadIdent {
        /// Which byte.
        name: &'static str,
        /// Its value.
        value: u8,
    },
    /// Not EM_X86_64.
    #[error("ELF machine {0} is not x86-64 (EM_X86_64 = 62)")]
    NotX86_64(u16),
    /// ET_REL, ET_CORE or an unknown type.
    #[error("ELF type {0} cannot be rewritten: only executables and shared objects (ET_EXEC, ET_DYN) can")]
    UnsupportedType(u16),
    /// Already carries a `.trapbox` section.
    #[error("already rewritten: the file has a .trapbox trap table")]
    AlreadyRewritten,
    /// A header, table or offset that does not fit the file.
    #[error("malformed ELF file: {0}")]
    Malformed(String),
    /// The file has no executable code to analyse.
    #[error("no executable code: no SHF_EXECINSTR section and no executable PT_LOAD segment")]
    NoCode,
}

impl From<object::read::Error> for RewriteError {
    fn from(err: object::read::Error) -> Self {
        RewriteError::Malformed(err.to_string())
    }
}
