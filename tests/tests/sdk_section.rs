//! The SDK's hostcall stubs list themselves in `.trapbox.sdk`, so a host can tell a hostcall
//! trap from a genuine `ud2` crash. Checked on this very test binary, which links the stubs.

use trapbox_abi::table::{sdk_entries, SDK_SECTION_NAME};
use trapbox_rewriter::ElfImage;

/// This process's load bias: where the kernel put the program headers minus their link address.
fn load_bias(image: &ElfImage<'_>) -> u64 {
    let auxv = std::fs::read("/proc/self/auxv").unwrap();
    let at_phdr = auxv
        .chunks_exact(16)
        .map(|pair| (u64::from_le_bytes(pair[..8].try_into().unwrap()), u64::from_le_bytes(pair[8..].try_into().unwrap())))
        .find(|&(kind, _)| kind == 3)
        .expect("AT_PHDR")
        .1;
    let pt_phdr = image.segments().iter().find(|s| s.p_type.get(object::LittleEndian) == object::elf::PT_PHDR).expect("PT_PHDR");
    at_phdr - pt_phdr.p_vaddr.get(object::LittleEndian)
}

#[test]
fn the_live_stub_is_listed_and_stale_entries_are_dropped() {
    // Keep a stub in the binary without executing it (that needs a trapbox host).
    let version: fn() -> Result<u32, trapbox_abi::sdk::HostError> = trapbox_abi::sdk::version;
    let version = std::hint::black_box(version);

    let exe = std::fs::read("/proc/self/exe").unwrap();
    let image = ElfImage::parse(&exe).unwrap();
    let (_, section) = image.section_data_by_name(SDK_SECTION_NAME).unwrap().expect("a .trapbox.sdk section");
    let raw_entries = sdk_entries(section).count();
    let sites = trapbox_rewriter::sdk_sites(&exe).unwrap();
    assert!(!sites.is_empty() && sites.len() <= raw_entries);

    let version_link_addr = version as usize as u64 - load_bias(&image);
    assert!(
        sites.iter().any(|s| (version_link_addr..version_link_addr + 64).contains(&s.addr)),
        "no listed site inside sdk::version at {version_link_addr:#x}: {sites:?}"
    );
    for site in &sites {
        assert_eq!(image.bytes_at_vaddr(site.addr, 2), Some(&[0x0f, 0x0b][..]));
    }
}
