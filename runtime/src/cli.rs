//! `trapbox run`: placeholder until the runtime lands.

/// The exit status trapbox itself uses when it fails (not the guest).
pub const HOST_ERROR_EXIT: u8 = 125;

/// Arguments of `trapbox run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, required = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// Runs the guest and returns its exit status.
pub fn run(_args: RunArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`trapbox run` is not implemented yet")
}
