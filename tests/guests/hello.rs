// A Rust guest for the rewriter tests, built with `rustc -C target-feature=+crt-static`,
// so glibc's raw syscall sites are linked into the binary.
use std::io::Read;

fn main() {
    let mut stat = String::new();
    let read = std::fs::File::open("/proc/self/stat").and_then(|mut f| f.read_to_string(&mut stat)).is_ok();
    let handle = std::thread::spawn(|| std::process::id());
    let pid = handle.join().unwrap_or(0);
    println!("hello from rust: pid>0={} stat read={}", pid > 0, read);
}
