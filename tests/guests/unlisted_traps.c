/* A guest that raises many SIGILLs from `ud2` instructions no trap table lists (in its own
 * code and in anonymous executable memory) and survives each with a handler that steps over
 * it. Natively and under trapbox it prints the same count; the host must treat each as the
 * genuine crash it is without re-reading the guest's whole memory map every time.
 * argv[1]: how many of each. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

static volatile long caught;

static void step_over(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    ucontext_t *uc = context;
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    caught++;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = step_over;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    for (long i = 0; i < n; i++)
        __asm__ volatile("ud2");
    unsigned char *jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (jit == MAP_FAILED)
        return 1;
    memcpy(jit, (unsigned char[]){0x0F, 0x0B, 0xC3}, 3); /* ud2; ret */
    for (long i = 0; i < n; i++)
        ((void (*)(void))jit)();
    printf("caught %ld\n", caught);
    return 0;
}
