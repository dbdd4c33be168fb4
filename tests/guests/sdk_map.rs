// A Rust guest on the SDK (trapbox_abi::sdk): version, policy_check, map_file, log, write.
// Built by the test setup with rustc against the abi crate's source.
use trapbox_abi::hostcall::{level, ACCESS_READ};
use trapbox_abi::sdk;

fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    println!("abi version {:?}", sdk::version());
    println!("may read {path}: {:?}", sdk::policy_check(&path, ACCESS_READ));
    println!("may read /etc/shadow: {:?}", sdk::policy_check("/etc/shadow", ACCESS_READ));
    match sdk::map_file(&path) {
        Ok(file) => {
            let lines = file.bytes().iter().filter(|&&b| b == b'\n').count();
            println!("mapped {} bytes, {lines} lines", file.len());
        }
        Err(e) => println!("map_file failed: {e:?}"),
    }
    println!("denied: {:?}", sdk::map_file("/etc/shadow").map(|f| f.len()));
    sdk::log(level::INFO, "hello from the guest").unwrap();
    sdk::write(1, b"written by a hostcall\n").unwrap();
}
