/* Escape attempt on the pinned-argument region (trapbox's read-only page where the host puts
 * the paths it checked): write it, make it writable, unmap it, map over it, move a mapping
 * onto it, exclude it from fork. Each line says what the attempt got; the host must refuse
 * every one and the region must keep its bytes. Exits 0 after the last attempt. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PIN ((char *)0x550000000000UL)

static sigjmp_buf env;
static void on_segv(int sig) { (void)sig; siglongjmp(env, 1); }

static void report(const char *what, long rc) {
    printf("%s: %s\n", what, rc == -1 ? strerror(errno) : "succeeded");
}

int main(void) {
    signal(SIGSEGV, on_segv);
    if (sigsetjmp(env, 1) == 0) {
        volatile char c = PIN[0];
        (void)c;
        puts("read: ok");
    } else {
        puts("read: fault");
    }
    if (sigsetjmp(env, 1) == 0) {
        PIN[0] = 'x';
        puts("write: succeeded");
    } else {
        puts("write: fault");
    }
    report("mprotect", mprotect(PIN, 4096, PROT_READ | PROT_WRITE));
    report("mprotect none", mprotect(PIN, 4096, PROT_NONE));
    report("munmap", munmap(PIN, 4096));
    report("mmap fixed", mmap(PIN, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    report("mmap fixed from below", mmap(PIN - 0x100000000UL, 0x200000000UL, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED ? -1 : 0);
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report("mremap onto", mremap(page, 4096, 4096, MREMAP_FIXED | MREMAP_MAYMOVE, PIN) == MAP_FAILED ? -1 : 0);
    report("madvise dontfork", madvise(PIN, 4096, MADV_DONTFORK));
    report("munmap everything", munmap((void *)0x10000, 0x7f0000000000UL));
    report("munmap own page", munmap(page, 4096));
    return 0;
}
