//! The bundled examples do what their README says.

use std::process::Command;

use trapbox_tests::{build_c, run, trapbox_bin, workspace_root};

#[test]
fn c_hostcall_example_asks_the_host_for_the_abi_version() {
    let src = workspace_root().join("examples/c/abi_version.c");
    let bin = build_c(&src, &["-O2"]);
    let under_trapbox = run(Command::new(trapbox_bin()).arg("run").arg("--").arg(&bin));
    assert_eq!(under_trapbox.status, 0, "{under_trapbox:?}");
    assert_eq!(under_trapbox.stdout, format!("trapbox ABI version {}\n", trapbox_abi::ABI_VERSION));
    // Natively the hostcall's ud2 is a genuine illegal instruction.
    let native = run(&mut Command::new(&bin));
    assert_eq!(native.status, 128 + 4, "{native:?}");
}
