//! `trapbox`: rewrite, inspect and run x86-64 Linux programs under a trap debugger.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod rewrite_cmd;

/// Run x86-64 Linux programs with every system call decided by a host process.
///
/// trapbox replaces each `syscall` instruction of a binary with a two-byte trap (`ud2`) and
/// runs the program under its own debugger, which catches every trap, decides, and performs
/// or refuses the call. A seccomp filter installed before exec catches what the rewriter
/// missed, so unrewritten programs run too, every call still mediated.
#[derive(Debug, Parser)]
#[command(name = "trapbox", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replace every syscall instruction of an ELF file with a trap and record each site in
    /// a trap table (a non-loaded `.trapbox` section).
    #[command(after_help = rewrite_cmd::REWRITE_EXAMPLES)]
    Rewrite(rewrite_cmd::RewriteArgs),
    /// Print the trap table of a rewritten ELF file: address, symbol+offset, kind and the
    /// statically known call number of each site.
    #[command(after_help = rewrite_cmd::INSPECT_EXAMPLES)]
    Inspect(rewrite_cmd::InspectArgs),
    /// Run a program under the trap debugger.
    Run(Box<trapbox::cli::RunArgs>),
    /// Measure the interception mechanisms of this machine side by side: native call, ud2 and
    /// int3 trap stops, ptrace seccomp stop, seccomp user notification, and trapbox's own path.
    Bench(trapbox::bench_cmd::BenchArgs),
    /// An OCI runtime with runc's command line, for podman and containerd (`trapbox oci
    /// --help`; also run as `trapbox-oci`, a link to trapbox).
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Oci {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// Whether this process was started as `trapbox-oci` (engines call a runtime by path).
fn called_as_oci_runtime() -> bool {
    std::env::args_os().next().is_some_and(|arg0| std::path::Path::new(&arg0).file_name().is_some_and(|name| name == "trapbox-oci"))
}

fn main() -> ExitCode {
    if called_as_oci_runtime() {
        return ExitCode::from(trapbox::oci::main(std::env::args_os()));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rewrite(args) => rewrite_cmd::rewrite(&args).map(|()| 0),
        Command::Inspect(args) => rewrite_cmd::inspect(&args).map(|()| 0),
        Command::Run(args) => trapbox::cli::run(*args),
        Command::Bench(args) => trapbox::bench_cmd::bench(&args),
        Command::Oci { args } => {
            let argv = std::iter::once(std::ffi::OsString::from("trapbox oci")).chain(args);
            return ExitCode::from(trapbox::oci::main(argv));
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("trapbox: error: {err:#}");
            ExitCode::from(trapbox::cli::HOST_ERROR_EXIT)
        }
    }
}
