// clone3 under its debugger: threads and forks made by clone3 are traced (a hostcall, which
// only a traced task gets answered, works in each), and a second thread flipping
// CLONE_UNTRACED into the struct while the call is being decided never gets an untraced
// child: the kernel reads the host's pinned copy, whose flags are the ones judged.
//
// The race loop runs until it has seen both outcomes of the flip (calls refused because the
// flag was set when the host copied the struct, and forks that went through without it) at
// least ROUNDS times each, or BOUND calls; it prints whether the race was observed, so a run
// that never raced says so instead of passing silently.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 50
#define BOUND 20000
#define STACK_SIZE (64 * 1024)

/* The VERSION hostcall from a plain `syscall`: answered only for a task the host traces (an
 * untraced one meets the backstop's TRACE rule with no tracer: ENOSYS). */
static long version_hostcall(void) {
    long result;
    asm volatile("syscall" : "=a"(result) : "a"(0x10000000L) : "rcx", "r11", "memory");
    return result;
}

static volatile int th_traced = -1;
__attribute__((used, noreturn)) static void thread_body(void) {
    th_traced = version_hostcall() >= 0;
    for (;;) asm volatile("syscall" :: "a"(SYS_exit), "D"(0) : "rcx", "r11", "memory");
}
static long raw_clone3(struct clone_args *args, size_t size) {
    long ret;
    asm volatile("syscall\n\t"
                 "test %%rax, %%rax\n\t"
                 "jnz 1f\n\t"
                 "call thread_body\n\t"
                 "1:"
                 : "=a"(ret)
                 : "0"((long)SYS_clone3), "D"(args), "S"(size)
                 : "rcx", "r11", "memory");
    return ret;
}

static void *pthread_traced(void *arg) { (void)arg; return (void *)(intptr_t)(version_hostcall() >= 0); }

static struct clone_args shared;
static volatile int stop;
static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        __atomic_store_n(&shared.flags, (uint64_t)CLONE_UNTRACED, __ATOMIC_RELAXED);
        sched_yield();
        __atomic_store_n(&shared.flags, (uint64_t)0, __ATOMIC_RELAXED);
        sched_yield();
    }
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct clone_args t = {0};
    t.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    t.stack = (uintptr_t)stack;
    t.stack_size = STACK_SIZE;
    if (raw_clone3(&t, sizeof t) > 0)
        while (th_traced < 0) sched_yield();
    printf("clone3 thread traced: %s\n", th_traced == 1 ? "yes" : "no");
    pthread_t pt;
    void *res = NULL;
    if (pthread_create(&pt, NULL, pthread_traced, NULL) == 0) pthread_join(pt, &res);
    printf("pthread traced: %s\n", res ? "yes" : "no");
    struct clone_args f = {0};
    f.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &f, sizeof f);
    if (pid == 0) _exit(version_hostcall() >= 0 ? 0 : 1);
    int st = -1;
    if (pid > 0) waitpid(pid, &st, 0);
    printf("clone3 fork traced: %s\n", pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");

    shared.exit_signal = SIGCHLD;
    pthread_t racer;
    pthread_create(&racer, NULL, flipper, NULL);
    int refused = 0, forked = 0, escaped = 0, other = 0, calls = 0;
    while (calls < BOUND && (refused < ROUNDS || forked < ROUNDS)) {
        calls++;
        errno = 0;
        long r = syscall(SYS_clone3, &shared, sizeof shared);
        if (r == 0) _exit(version_hostcall() >= 0 ? 0 : 1); /* a rewritten untraced child dies of SIGILL */
        if (r > 0) {
            forked++;
            if (waitpid(r, &st, 0) != r || !WIFEXITED(st) || WEXITSTATUS(st) != 0) escaped++;
        } else if (errno == EPERM) {
            refused++;
        } else {
            other++;
        }
    }
    stop = 1;
    pthread_join(racer, NULL);
    printf("race observed: %s\n", refused >= ROUNDS && forked >= ROUNDS ? "yes" : "no");
    printf("untraced children: %d\n", escaped);
    printf("other errors: %d\n", other);
    fprintf(stderr, "calls %d refused %d forked %d\n", calls, refused, forked);
    return 0;
}
