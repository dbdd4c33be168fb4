/* Escape attempt on the injector (the adversarial suite's finding 1): make the host's stub
 * page writable, or replace it, then ask for a hostcall that the host serves by sending this
 * thread into the stub. A CLONE_VM child tries the same on its parent's memory, and syscall
 * user dispatch tries to turn the injected call into a signal the injector would loop on.
 * Each line says what the attempt got; the stub's bytes must stay the host's, and the
 * map_file hostcall must either work as designed or fail, never run the guest's code.
 * argv[1]: a file the policy grants for reading. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../examples/c/hostcall.h"

/* The host's area: the pinned-argument region (768 KiB) and the stub page after it. */
#define STUB ((unsigned char *)0x5500000C0000UL)
static const unsigned char stub_code[5] = {0x0F, 0x05, 0xC2, 0x80, 0x00};
/* What the attacker would run instead: exit_group(66), unmediated. */
static const unsigned char evil[] = {0xB8, 0xE7, 0, 0, 0, 0xBF, 66, 0, 0, 0, 0x0F, 0x05};

static sigjmp_buf env;
static void on_segv(int sig) { (void)sig; siglongjmp(env, 1); }

static void report(const char *what, long rc) {
    printf("%s: %s\n", what, rc == -1 ? strerror(errno) : "succeeded");
}

static int child_attack(void *arg) {
    (void)arg;
    /* Shares the parent's memory: a change here would be the parent's too. */
    _exit(mprotect(STUB, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0 ? 1 : 0);
}

static long map_file(const char *path, unsigned long *len) {
    return trapbox_hostcall(TRAPBOX_HC_MAP_FILE, (long)path, (long)strlen(path), 0, (long)len, 0, 0);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    signal(SIGSEGV, on_segv);
    signal(SIGBUS, on_segv);
    printf("stub is the host's: %s\n", memcmp(STUB, stub_code, sizeof stub_code) == 0 ? "yes" : "no");
    if (sigsetjmp(env, 1) == 0) {
        memcpy(STUB + 8, evil, sizeof evil);
        puts("write: succeeded");
    } else {
        puts("write: fault");
    }
    report("mprotect rwx", mprotect(STUB, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
    report("pkey_mprotect rwx", pkey_mprotect(STUB, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, 0));
    report("mmap fixed over it", mmap(STUB, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    report("munmap", munmap(STUB, 4096));
    report("mremap away", mremap(STUB, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)0x10000000UL) == MAP_FAILED ? -1 : 0);
    struct iovec local = {(void *)evil, sizeof evil}, remote = {STUB + 8, sizeof evil};
    report("process_vm_writev", process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
    static char stack[16384];
    int child = clone(child_attack, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
    int status = 0;
    waitpid(child, &status, 0);
    printf("CLONE_VM child mprotect: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "refused" : "succeeded");
    printf("stub still the host's: %s\n", memcmp(STUB, stub_code, sizeof stub_code) == 0 ? "yes" : "no");

    unsigned long len = 0;
    long mapped = map_file(argv[1], &len);
    printf("map_file: %s\n", mapped > 0 && len > 0 && ((char *)mapped)[0] != 0 ? "mapped" : "failed");
    fflush(stdout);

    /* Syscall user dispatch: every syscall outside [0, 1) raises SIGSYS while the selector
     * says block. Either the host refuses to set it up, or the injected call fails closed. */
    static volatile char selector = 1; /* SYSCALL_DISPATCH_FILTER_BLOCK */
    signal(SIGSYS, SIG_IGN);
    long sud = prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1 /* ON */, 0UL, 1UL, &selector);
    if (sud != 0) {
        printf("syscall user dispatch: refused\n");
    } else {
        long again = map_file(argv[1], &len);
        selector = 0; /* allow */
        prctl(59, 0, 0, 0, 0);
        printf("syscall user dispatch: map_file %s\n", again > 0 && again < 4096 ? "ran" : again < 0 && again > -4096 ? "failed" : "mapped");
    }
    return 0;
}
