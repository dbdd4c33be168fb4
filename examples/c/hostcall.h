/* The trapbox hostcall ABI in C: no Rust, no library, just the contract of the `abi` crate.
 *
 * A hostcall is a `ud2` whose address is listed in the non-loaded section `.trapbox.sdk`
 * (a bare array of 16-byte trap-table entries: u64 link-time address, u8 kind = 1,
 * u8 flags = 0, u16 0, u32 0). The call number goes in rax, arguments in rdi rsi rdx r10 r8
 * r9, the result (or -errno) comes back in rax; rcx and r11 may be clobbered.
 * Natively (without trapbox) the ud2 raises SIGILL. */
#ifndef TRAPBOX_HOSTCALL_H
#define TRAPBOX_HOSTCALL_H

#define TRAPBOX_HOSTCALL_BASE 0x10000000L
#define TRAPBOX_HC_VERSION (TRAPBOX_HOSTCALL_BASE + 0)
#define TRAPBOX_HC_MAP_FILE (TRAPBOX_HOSTCALL_BASE + 1)
#define TRAPBOX_HC_UNMAP (TRAPBOX_HOSTCALL_BASE + 2)
#define TRAPBOX_HC_POLICY_CHECK (TRAPBOX_HOSTCALL_BASE + 3)
#define TRAPBOX_HC_LOG (TRAPBOX_HOSTCALL_BASE + 4)
#define TRAPBOX_HC_WRITE (TRAPBOX_HOSTCALL_BASE + 5)
#define TRAPBOX_HC_EXIT (TRAPBOX_HOSTCALL_BASE + 6)

static inline long trapbox_hostcall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    long result;
    __asm__ volatile(
        "1: ud2\n"
        ".pushsection .trapbox.sdk,\"\",@progbits\n"
        ".balign 8\n"
        ".quad 1b\n"
        ".byte 1, 0\n"
        ".short 0\n"
        ".long 0\n"
        ".popsection\n"
        : "=a"(result)
        : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
        : "rcx", "r11", "memory");
    return result;
}

#endif
