/* What one injected system call costs a tracer, by how it follows the call: stopping at the
 * call's entry and at its exit (PTRACE_SYSCALL twice, what trapbox's injector does for a
 * thread that may have run code of its own), single-stepping the `syscall` instruction (one
 * stop after the call: what it does right after exec), or continuing to an `int3` placed after
 * the instruction (one stop, but nothing checks the call before it runs). Each injection sets
 * the registers, runs getppid from a `syscall` in the child's code, checks the result and puts
 * the registers back. Microseconds per injection, best of ROUNDS rounds of COUNT.
 *
 *   gcc -O2 -o injection_cost scripts/bench/injection_cost.c && ./injection_cost [COUNT] [ROUNDS]
 *
 * Run it also under `taskset -c 0` to see the cost without a cross-CPU wake-up. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The child's `syscall` instruction, and an int3 after it. */
extern char injected_syscall[];
__asm__(".globl injected_syscall\ninjected_syscall: syscall\nint3\n");

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

enum follow { ENTRY_AND_EXIT, SINGLE_STEP, CONT_TO_INT3 };

static const char *names[] = { "entry and exit stops (PTRACE_SYSCALL x2)", "single-step (PTRACE_SINGLESTEP)", "continue to an int3 (PTRACE_CONT)" };

static void resume_and_wait(pid_t child, int request) {
    int status;
    if (ptrace(request, child, 0, 0) != 0 || waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
        perror("ptrace");
        exit(1);
    }
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 2000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        for (;;) pause();
    }
    int status;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
    struct user_regs_struct saved, regs;
    ptrace(PTRACE_GETREGS, child, 0, &saved);
    for (enum follow follow = ENTRY_AND_EXIT; follow <= CONT_TO_INT3; follow++) {
        double best = 1e18;
        for (int round = 0; round < rounds; round++) {
            double start = now_us();
            for (int i = 0; i < count; i++) {
                regs = saved;
                regs.rax = SYS_getppid;
                regs.orig_rax = -1;
                regs.rip = (unsigned long)injected_syscall;
                ptrace(PTRACE_SETREGS, child, 0, &regs);
                if (follow == ENTRY_AND_EXIT) {
                    resume_and_wait(child, PTRACE_SYSCALL);
                    ptrace(PTRACE_GETREGS, child, 0, &regs); /* the entry's check */
                    resume_and_wait(child, PTRACE_SYSCALL);
                } else {
                    resume_and_wait(child, follow == SINGLE_STEP ? PTRACE_SINGLESTEP : PTRACE_CONT);
                }
                ptrace(PTRACE_GETREGS, child, 0, &regs);
                if (regs.rax != (unsigned long long)getpid()) {
                    fprintf(stderr, "%s: getppid gave %llx\n", names[follow], regs.rax);
                    return 1;
                }
                ptrace(PTRACE_SETREGS, child, 0, &saved);
            }
            double per = (now_us() - start) / count;
            if (per < best) best = per;
        }
        printf("%-42s %6.2f us per injection\n", names[follow], best);
    }
    kill(child, SIGKILL);
    return 0;
}
