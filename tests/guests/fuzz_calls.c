/* The host's fuzzer: system calls with random numbers and hostile arguments (bad pointers,
 * huge lengths, unterminated strings, pointers into the host's area, high bits set in int
 * arguments), from a deterministic seed. Each batch runs in a child with an alarm, so a call
 * that blocks or kills the caller ends only that child; the parent goes on until its time is up
 * and ends every process a batch left behind. Run it in trapbox's PID namespace only (it
 * kills -1 at the end). The host must keep serving throughout: no panic, no hang.
 *   fuzz_calls SEED BATCHES   (the same seed and count make the same calls) */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t state;
static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

/* Calls never made: those that end or replace the fuzzing child on purpose, and those whose
 * only effect on a healthy host would be to wait. Everything else, refused or not, is fair. */
static int skipped(long nr) {
    switch (nr) {
    case SYS_exit: case SYS_exit_group: case SYS_execve: case SYS_execveat: case SYS_rt_sigreturn:
    case SYS_pause: case SYS_vfork: case SYS_reboot: case SYS_kexec_load: case SYS_kexec_file_load:
    /* Signals could end the fuzzer itself (kill(-1), its own group); the escape tests cover them. */
    case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
    case SYS_pidfd_send_signal:
        return 1;
    }
    return 0;
}

static char *area;      /* a readable, writable scratch page, filled with junk (no NUL) */
static char *unmapped;  /* a page that is not mapped */

static long argument(void) {
    switch (next() % 12) {
    case 0: return 0;
    case 1: return -1;
    case 2: return (long)(next() % 4096);
    case 3: return (long)area;                       /* an unterminated string, a junk struct */
    case 4: return (long)unmapped;                   /* EFAULT territory */
    case 5: return (long)0x550000000000UL + (long)(next() % 0xC1000); /* the host's area */
    case 6: return (long)((1UL << 32) | (next() & 0xffff)); /* a high bit over a small int */
    case 7: return (long)0x7fffffffffffUL;
    case 8: return (long)(next() | 0x8000000000000000UL);
    case 9: return (long)area + 4090;                /* a struct that runs off the page */
    case 10: return (long)(next() % 8) + 3;          /* a plausible fd */
    default: return (long)next();
    }
}

static void batch(int calls) {
    alarm(1);
    for (int i = 0; i < calls; i++) {
        long nr = (long)(next() % 470);
        if (next() % 16 == 0)
            nr |= (long)(next() << 32);              /* numbers with junk in the high bits */
        if (skipped(nr & 0xffffffff) || skipped(nr))
            continue;
        syscall(nr, argument(), argument(), argument(), argument(), argument(), argument());
    }
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    uint64_t seed = strtoull(argv[1], NULL, 0);
    long count = atol(argv[2]);
    area = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(unmapped, 4096);
    memset(area, 'A', 4096);
    long batches = 0;
    while (batches < count) {
        state = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)batches + 1;
        pid_t child = fork();
        if (child == 0) {
            batch(200);
            _exit(0);
        }
        /* A batch whose child ended as a thread group leader while a thread of its own blocks
         * would never be reaped: give each two seconds, then end it whole. */
        for (int waited = 0; child > 0 && waitpid(child, NULL, WNOHANG) != child; waited++) {
            if (waited == 200)
                kill(child, SIGKILL);
            usleep(10000);
        }
        batches++;
    }
    /* Children of batches that forked and then blocked: in the guest's PID namespace this
     * reaches exactly them (never init, never this process). */
    kill(-1, SIGKILL);
    printf("fuzz: done\n");
    fprintf(stderr, "fuzz: ran %ld batches of 200 calls\n", batches);
    return 0;
}
