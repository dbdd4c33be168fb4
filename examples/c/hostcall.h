/* The trapbox hostcall ABI in C: no Rust, no library, just the contract of the `abi` crate.
 *
 * A hostcall is a `ud2` whose address is listed in the non-loaded section `.trapbox.sdk`
 * (a bare array of 16-byte trap-table entries: u64 link-time address, u8 kind = 1,
 * u8 flags = 0, u16 0, u32 0). The call number goes in rax, arguments in rdi rsi rdx r10 r8
 * r9, the result (or -errno) comes back in rax; rcx and r11 may be clobbered.
 * Natively (without trapbox) the ud2 raises SIGILL.
 *
 * The `trapbox_<name>` wrappers below are the C SDK: one per hostcall, each `long` result a
 * value or -errno (the errno a native program would get), paths NUL-terminated. Handles 0, 1
 * and 2 are stdin, stdout and stderr. Arguments and environment are on the initial stack as
 * on any ELF: argc at (%rsp), then argv[], NULL, envp[], NULL (see wc_map.c's _start).
 *
 * Define TRAPBOX_ON_LINUX before including this file to build the same program for plain
 * Linux instead: each wrapper is then the Linux system call it stands for (for comparing
 * an SDK guest with a native build; see scripts/bench/sdk.sh). */
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
#define TRAPBOX_HC_READ (TRAPBOX_HOSTCALL_BASE + 7)
#define TRAPBOX_HC_OPEN (TRAPBOX_HOSTCALL_BASE + 8)
#define TRAPBOX_HC_CLOSE (TRAPBOX_HOSTCALL_BASE + 9)
#define TRAPBOX_HC_SEEK (TRAPBOX_HOSTCALL_BASE + 10)
#define TRAPBOX_HC_STAT (TRAPBOX_HOSTCALL_BASE + 11)
#define TRAPBOX_HC_READDIR (TRAPBOX_HOSTCALL_BASE + 12)
#define TRAPBOX_HC_MKDIR (TRAPBOX_HOSTCALL_BASE + 13)
#define TRAPBOX_HC_REMOVE (TRAPBOX_HOSTCALL_BASE + 14)
#define TRAPBOX_HC_RENAME (TRAPBOX_HOSTCALL_BASE + 15)
#define TRAPBOX_HC_ALLOC (TRAPBOX_HOSTCALL_BASE + 16)
#define TRAPBOX_HC_FREE (TRAPBOX_HOSTCALL_BASE + 17)
#define TRAPBOX_HC_CLOCK (TRAPBOX_HOSTCALL_BASE + 18)
#define TRAPBOX_HC_RANDOM (TRAPBOX_HOSTCALL_BASE + 19)
#define TRAPBOX_HC_SLEEP (TRAPBOX_HOSTCALL_BASE + 20)
/* The range a program that embeds trapbox serves its own hostcalls in (trapbox::Command::hostcall):
 * call them with trapbox_hostcall(TRAPBOX_HC_EMBEDDER_BASE + n, ...). Unserved: -ENOSYS. */
#define TRAPBOX_HC_EMBEDDER_BASE (TRAPBOX_HOSTCALL_BASE + 0x800)
#define TRAPBOX_HC_EMBEDDER_END (TRAPBOX_HOSTCALL_BASE + 0x1000)

#define TRAPBOX_OPEN_READ 1
#define TRAPBOX_OPEN_WRITE 2
#define TRAPBOX_OPEN_CREATE 4
#define TRAPBOX_OPEN_TRUNCATE 8
#define TRAPBOX_OPEN_APPEND 16
#define TRAPBOX_OPEN_EXCLUSIVE 32

#define TRAPBOX_MAP_READ 1
#define TRAPBOX_MAP_WRITE 2

#define TRAPBOX_SEEK_SET 0
#define TRAPBOX_SEEK_CUR 1
#define TRAPBOX_SEEK_END 2

#define TRAPBOX_REMOVE_DIR 1

#define TRAPBOX_CLOCK_MONOTONIC 0
#define TRAPBOX_CLOCK_REALTIME 1

#define TRAPBOX_ACCESS_READ 1
#define TRAPBOX_ACCESS_WRITE 2
#define TRAPBOX_ACCESS_EXEC 4

#define TRAPBOX_LOG_ERROR 1
#define TRAPBOX_LOG_WARN 2
#define TRAPBOX_LOG_INFO 3
#define TRAPBOX_LOG_DEBUG 4

/* What trapbox_stat writes (48 bytes). kind: 0 other, 1 file, 2 directory, 3 symlink,
 * 4 pipe, 5 socket, 6 character device, 7 block device. */
struct trapbox_stat {
    unsigned long size;
    long mtime_ns;
    unsigned long inode;
    unsigned long device;
    unsigned int kind;
    unsigned int mode;
    unsigned long links;
};

/* One trapbox_readdir record: then the name (name_len bytes, no NUL), padded to 8 bytes. */
struct trapbox_dirent {
    unsigned long next_cookie;
    unsigned int name_len;
    unsigned char kind;
    unsigned char reserved[3];
};

/* A plain `syscall` instruction: the Linux build's calls, and the ABI's other entry. */
static inline long trapbox_syscall_(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return result;
}

#ifdef TRAPBOX_SYSCALL_ENTRY
/* The ABI's other entry: a plain `syscall` instruction with the hostcall number, served with
 * identical results (a seccomp stop instead of a trap: cheaper where a ud2 costs a hypervisor
 * exit; `trapbox bench` measures both). Define TRAPBOX_SYSCALL_ENTRY to take it. */
static inline long trapbox_hostcall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    return trapbox_syscall_(nr, a0, a1, a2, a3, a4, a5);
}
#else
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

static inline unsigned long trapbox_strlen_(const char *s) {
    unsigned long n = 0;
    while (s[n]) n++;
    return n;
}

#ifdef TRAPBOX_ON_LINUX
/* The same API on plain Linux: each wrapper is its Linux call. */
static inline long trapbox_version(void) { return 2; }
static inline long trapbox_write(long handle, const void *buf, unsigned long len) { return trapbox_syscall_(1, handle, (long)buf, (long)len, 0, 0, 0); }
static inline long trapbox_read(long handle, void *buf, unsigned long len) { return trapbox_syscall_(0, handle, (long)buf, (long)len, 0, 0, 0); }
static inline long trapbox_open(const char *path, unsigned long flags) {
    long lflags = (flags & 3) == 3 ? 2 : (flags & 2) ? 1 : 0;
    if (flags & TRAPBOX_OPEN_CREATE) lflags |= 0100;
    if (flags & TRAPBOX_OPEN_TRUNCATE) lflags |= 01000;
    if (flags & TRAPBOX_OPEN_APPEND) lflags |= 02000;
    if (flags & TRAPBOX_OPEN_EXCLUSIVE) lflags |= 0200;
    return trapbox_syscall_(257, -100, (long)path, lflags | 02000000, 0666, 0, 0);
}
static inline long trapbox_close(long handle) { return trapbox_syscall_(3, handle, 0, 0, 0, 0, 0); }
static inline void *trapbox_alloc(unsigned long len) {
    long p = trapbox_syscall_(9, 0, (long)len, 3, 0x22, -1, 0);
    return p < 0 && p > -4096 ? (void *)0 : (void *)p;
}
static inline long trapbox_free(void *p, unsigned long len) { return trapbox_syscall_(11, (long)p, (long)len, 0, 0, 0, 0); }
static inline long trapbox_clock(unsigned long id) {
    long ts[2];
    long r = trapbox_syscall_(228, id == 0 ? 1 : 0, (long)ts, 0, 0, 0, 0);
    return r < 0 ? r : ts[0] * 1000000000L + ts[1];
}
static inline long trapbox_random(void *buf, unsigned long len) { return trapbox_syscall_(318, (long)buf, (long)len, 0, 0, 0, 0); }
static inline const void *trapbox_map_file(const char *path, unsigned long flags, unsigned long *len) {
    long fd = trapbox_syscall_(257, -100, (long)path, (flags & TRAPBOX_MAP_WRITE ? 2 : 0) | 02000000, 0, 0, 0);
    if (fd < 0) return (const void *)0;
    long st[18];
    if (trapbox_syscall_(5, fd, (long)st, 0, 0, 0, 0) < 0) { trapbox_close(fd); return (const void *)0; }
    *len = (unsigned long)st[6];
    long p = *len ? trapbox_syscall_(9, 0, st[6], flags & TRAPBOX_MAP_WRITE ? 3 : 1, flags & TRAPBOX_MAP_WRITE ? 1 : 2, fd, 0) : 0;
    trapbox_close(fd);
    if (p < 0 && p > -4096) return (const void *)0;
    return p ? (const void *)p : (const void *)"";
}
static inline long trapbox_unmap(const void *p, unsigned long len) { return len ? trapbox_syscall_(11, (long)p, (long)len, 0, 0, 0, 0) : 0; }
static inline void trapbox_exit(long code) {
    trapbox_syscall_(231, code, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}
static inline long trapbox_seek(long handle, long offset, unsigned long whence) { return trapbox_syscall_(8, handle, offset, (long)whence, 0, 0, 0); }
static inline long trapbox_stat(long handle, struct trapbox_stat *out) {
    unsigned long st[18];
    long r = trapbox_syscall_(5, handle, (long)st, 0, 0, 0, 0);
    if (r < 0) return r;
    unsigned int mode = (unsigned int)st[3], type = mode & 0170000;
    out->size = st[6];
    out->mtime_ns = (long)st[11] * 1000000000L + (long)st[12];
    out->inode = st[1];
    out->device = st[0];
    out->kind = type == 0100000 ? 1 : type == 0040000 ? 2 : type == 0120000 ? 3 : type == 0010000 ? 4 : type == 0140000 ? 5 : type == 0020000 ? 6 : type == 0060000 ? 7 : 0;
    out->mode = mode & 07777;
    out->links = st[2];
    return 0;
}
static inline long trapbox_readdir(long handle, void *buf, unsigned long len, unsigned long cookie) { (void)handle; (void)buf; (void)len; (void)cookie; return -38; }
static inline long trapbox_mkdir(const char *path) { return trapbox_syscall_(258, -100, (long)path, 0777, 0, 0, 0); }
static inline long trapbox_remove(const char *path, unsigned long flags) { return trapbox_syscall_(263, -100, (long)path, flags & TRAPBOX_REMOVE_DIR ? 0x200 : 0, 0, 0, 0); }
static inline long trapbox_rename(const char *from, const char *to) { return trapbox_syscall_(264, -100, (long)from, -100, (long)to, 0, 0); }
static inline long trapbox_sleep(unsigned long nanoseconds) {
    long ts[2] = {(long)(nanoseconds / 1000000000UL), (long)(nanoseconds % 1000000000UL)};
    return trapbox_syscall_(230, 1, 0, (long)ts, 0, 0, 0);
}
static inline long trapbox_log(unsigned long level, const char *message) { (void)level; trapbox_write(2, message, trapbox_strlen_(message)); return trapbox_write(2, "\n", 1) < 0 ? -5 : 0; }
static inline long trapbox_policy_check(const char *path, unsigned long access) { (void)path; (void)access; return 0; }
#else
/* Every long result is a value or -errno. */
static inline long trapbox_version(void) { return trapbox_hostcall(TRAPBOX_HC_VERSION, 0, 0, 0, 0, 0, 0); }
static inline long trapbox_write(long handle, const void *buf, unsigned long len) {
    return trapbox_hostcall(TRAPBOX_HC_WRITE, handle, (long)buf, (long)len, 0, 0, 0);
}
static inline long trapbox_read(long handle, void *buf, unsigned long len) {
    return trapbox_hostcall(TRAPBOX_HC_READ, handle, (long)buf, (long)len, 0, 0, 0);
}
/* flags: TRAPBOX_OPEN_*; returns a handle. */
static inline long trapbox_open(const char *path, unsigned long flags) {
    return trapbox_hostcall(TRAPBOX_HC_OPEN, (long)path, (long)trapbox_strlen_(path), (long)flags, 0, 0, 0);
}
static inline long trapbox_close(long handle) { return trapbox_hostcall(TRAPBOX_HC_CLOSE, handle, 0, 0, 0, 0, 0); }
/* Zeroed pages, or NULL. */
static inline void *trapbox_alloc(unsigned long len) {
    long p = trapbox_hostcall(TRAPBOX_HC_ALLOC, (long)len, 0, 0, 0, 0, 0);
    return p < 0 && p > -4096 ? (void *)0 : (void *)p;
}
static inline long trapbox_free(void *p, unsigned long len) { return trapbox_hostcall(TRAPBOX_HC_FREE, (long)p, (long)len, 0, 0, 0, 0); }
/* Nanoseconds of TRAPBOX_CLOCK_MONOTONIC or TRAPBOX_CLOCK_REALTIME. */
static inline long trapbox_clock(unsigned long id) { return trapbox_hostcall(TRAPBOX_HC_CLOCK, (long)id, 0, 0, 0, 0, 0); }
static inline long trapbox_random(void *buf, unsigned long len) {
    return trapbox_hostcall(TRAPBOX_HC_RANDOM, (long)buf, (long)len, 0, 0, 0, 0);
}
/* flags: TRAPBOX_MAP_READ, or TRAPBOX_MAP_READ | TRAPBOX_MAP_WRITE (shared, where writing is
 * granted). The file's bytes, with their count in *len, or NULL (an empty file maps as a
 * non-NULL address with *len 0). */
static inline const void *trapbox_map_file(const char *path, unsigned long flags, unsigned long *len) {
    *len = 0;
    long p = trapbox_hostcall(TRAPBOX_HC_MAP_FILE, (long)path, (long)trapbox_strlen_(path), (long)flags, (long)len, 0, 0);
    if (p < 0 && p > -4096) return (const void *)0;
    return p ? (const void *)p : (const void *)""; /* an empty file: no bytes, not a failure */
}
static inline long trapbox_unmap(const void *p, unsigned long len) {
    return len ? trapbox_hostcall(TRAPBOX_HC_UNMAP, (long)p, (long)len, 0, 0, 0, 0) : 0;
}
static inline void trapbox_exit(long code) {
    trapbox_hostcall(TRAPBOX_HC_EXIT, code, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}
static inline long trapbox_seek(long handle, long offset, unsigned long whence) {
    return trapbox_hostcall(TRAPBOX_HC_SEEK, handle, offset, (long)whence, 0, 0, 0);
}
static inline long trapbox_stat(long handle, struct trapbox_stat *out) {
    return trapbox_hostcall(TRAPBOX_HC_STAT, handle, (long)out, 0, 0, 0, 0);
}
/* Records (struct trapbox_dirent + name) from entry number `cookie`; 0 at the end. */
static inline long trapbox_readdir(long handle, void *buf, unsigned long len, unsigned long cookie) {
    return trapbox_hostcall(TRAPBOX_HC_READDIR, handle, (long)buf, (long)len, (long)cookie, 0, 0);
}
static inline long trapbox_mkdir(const char *path) {
    return trapbox_hostcall(TRAPBOX_HC_MKDIR, (long)path, (long)trapbox_strlen_(path), 0, 0, 0, 0);
}
static inline long trapbox_remove(const char *path, unsigned long flags) {
    return trapbox_hostcall(TRAPBOX_HC_REMOVE, (long)path, (long)trapbox_strlen_(path), (long)flags, 0, 0, 0);
}
static inline long trapbox_rename(const char *from, const char *to) {
    return trapbox_hostcall(TRAPBOX_HC_RENAME, (long)from, (long)trapbox_strlen_(from), (long)to, (long)trapbox_strlen_(to), 0, 0);
}
static inline long trapbox_sleep(unsigned long nanoseconds) {
    return trapbox_hostcall(TRAPBOX_HC_SLEEP, (long)nanoseconds, 0, 0, 0, 0, 0);
}
static inline long trapbox_log(unsigned long level, const char *message) {
    return trapbox_hostcall(TRAPBOX_HC_LOG, (long)level, (long)message, (long)trapbox_strlen_(message), 0, 0, 0);
}
static inline long trapbox_policy_check(const char *path, unsigned long access) {
    return trapbox_hostcall(TRAPBOX_HC_POLICY_CHECK, (long)path, (long)trapbox_strlen_(path), (long)access, 0, 0, 0);
}
#endif

/* Define TRAPBOX_START before including this file in a program built with -nostdlib: it
 * gets a _start that reads argc, argv and envp from the initial stack, calls
 * `int main(int argc, char **argv, char **envp)` and exits with its result, and the memcpy,
 * memmove, memset and memcmp the compiler may call. */
#ifdef TRAPBOX_START
int main(int argc, char **argv, char **envp);
__attribute__((used)) static void trapbox_start_(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    trapbox_exit(main((int)argc, argv, argv + argc + 1));
}
__asm__(".text\n.globl _start\n_start:\n    xor %ebp, %ebp\n    mov %rsp, %rdi\n    and $-16, %rsp\n    call trapbox_start_\n    ud2\n");
__attribute__((weak)) void *memcpy(void *dst, const void *src, unsigned long n) {
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}
__attribute__((weak)) void *memmove(void *dst, const void *src, unsigned long n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    while (n--) {
        __asm__ volatile("" ::: "memory"); /* stays a loop: no call back into memmove */
        d[n] = s[n];
    }
    return dst;
}
__attribute__((weak)) void *memset(void *dst, int c, unsigned long n) {
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}
__attribute__((weak)) int memcmp(const void *a, const void *b, unsigned long n) {
    const unsigned char *x = a, *y = b;
    for (unsigned long i = 0; i < n; i++) {
        __asm__ volatile("" ::: "memory");
        if (x[i] != y[i]) return x[i] - y[i];
    }
    return 0;
}
#endif

#endif
