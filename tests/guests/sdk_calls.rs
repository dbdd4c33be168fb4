// The Rust SDK's wrappers over every hostcall, success and error paths, one line each (a
// no_std guest: entry!, the page allocator, println!). Run like sdk_calls.c: a write grant on
// `w/`, a read grant on `r/` (holding `data`), stdin fed "input\n".
#![no_std]
#![no_main]
extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use trapbox_abi::hostcall::{kind, level};
use trapbox_abi::println;
use trapbox_abi::sdk::fs::{self, File, OpenOptions, SeekFrom};
use trapbox_abi::sdk::{self, rt};

trapbox_abi::entry!(main);

fn main() -> i32 {
    println!("version {:?}", sdk::version());
    println!("args {:?}", rt::args().skip(1).collect::<Vec<_>>());
    println!("env SDK_TEST={:?}", rt::env("SDK_TEST"));

    // The allocator: many small blocks, a large one, growth, reuse.
    let mut strings: Vec<String> = (0..2000).map(|i| format!("item {i}")).collect();
    strings.retain(|s| s.ends_with('7'));
    let big = vec![0u8; 3 << 20];
    println!("allocator {} {} {}", strings.len(), strings[3], big.iter().all(|&b| b == 0));
    drop(big);
    println!("pages {:?}", sdk::alloc_pages(0).err());

    let mut input = String::new();
    let mut buf = [0u8; 64];
    let n = File::stdin().read(&mut buf).unwrap_or(0);
    input.push_str(core::str::from_utf8(&buf[..n]).unwrap_or("?"));
    println!("stdin {input:?}");
    println!("bad handle {:?}", sdk::read(77, &mut buf));

    let mut f = File::create("w/file").expect("create");
    f.write_all(b"0123456789").unwrap();
    println!("seek {:?} {:?}", f.seek(SeekFrom::Start(2)), f.seek(SeekFrom::Current(-100)));
    println!("read write-only {:?}", f.read(&mut buf));
    println!("stat {:?}", f.stat().map(|s| (s.size, s.kind == kind::FILE, s.mode & 0o600)));
    println!("close {:?}", f.close());
    let mut f = OpenOptions::new().append(true).open("w/file").unwrap();
    f.write_all(b"ab").unwrap();
    drop(f);
    println!("read back {:?}", fs::read("w/file").map(|b| String::from_utf8_lossy(&b).into_owned()));
    println!("create_new {:?}", OpenOptions::new().write(true).create_new(true).open("w/file").err());
    println!("no mode {:?}", OpenOptions::new().open("w/file").err());
    println!("create_dir {:?} {:?}", fs::create_dir("w/d"), fs::create_dir("w/d"));
    fs::write("w/d/b", b"b").unwrap();
    fs::create_dir("w/d/a").unwrap();
    println!("rename {:?} {:?}", fs::rename("w/file", "w/d/c"), fs::rename("w/file", "w/d/c"));
    let listing: Vec<_> = fs::read_dir("w/d").unwrap().map(|e| e.map(|e| (e.name_lossy(), e.kind))).collect();
    println!("read_dir {listing:?}");
    println!("read_dir of a file {:?}", fs::read_dir("w/d/b").map(|mut d| d.next()));
    println!("remove_dir not empty {:?}", fs::remove_dir("w/d"));
    println!("remove_file dir {:?}", fs::remove_file("w/d/a"));
    println!(
        "removes {:?} {:?} {:?} {:?}",
        fs::remove_dir("w/d/a"),
        fs::remove_file("w/d/b"),
        fs::remove_file("w/d/c"),
        fs::remove_dir("w/d")
    );
    println!("missing {:?}", File::open("w/missing").err());

    println!("read grant {:?}", fs::read("r/data").map(|b| b.len()));
    println!("write in read grant {:?}", fs::write("r/data", b"x").err());
    println!("mkdir in read grant {:?}", fs::create_dir("r/d").err());
    println!("outside {:?}", File::open("/etc/shadow").err().map(|e| format!("{e}")));
    println!("map {:?}", sdk::map_file("r/data").map(|m| m.bytes().len()));
    println!("map writable in read grant {:?}", sdk::map_file_writable("r/data").err());
    let mut m = sdk::map_file_writable("w/mapped").err();
    if m.is_some() {
        fs::write("w/mapped", b"abc").unwrap();
        let mut map = sdk::map_file_writable("w/mapped").unwrap();
        map.bytes_mut().unwrap()[0] = b'X';
        drop(map);
        m = None;
    }
    println!("map writable {:?} {:?}", m, fs::read("w/mapped").map(|b| String::from_utf8_lossy(&b).into_owned()));

    let t0 = sdk::monotonic_ns().unwrap();
    sdk::sleep_ns(10_000_000).unwrap();
    let t1 = sdk::monotonic_ns().unwrap();
    println!("slept {}", t1 - t0 >= 10_000_000);
    println!("realtime {}", sdk::realtime_ns().unwrap() > 1_577_836_800 * 1_000_000_000);
    let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
    sdk::random(&mut a).unwrap();
    sdk::random(&mut b).unwrap();
    println!("random {}", a != b);
    sdk::log(level::INFO, "sdk_calls.rs logs").unwrap();
    if rt::args().nth(1) == Some("panic") {
        let v: Vec<u32> = Vec::new();
        println!("{}", v[core::hint::black_box(3)]);
    }
    7
}
