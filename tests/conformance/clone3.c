/* clone3: threads (raw, on their own stacks, and glibc's pthread_create, which starts every
 * thread with clone3), forks with CLONE_PIDFD and CLONE_CLEAR_SIGHAND, a vfork on its own
 * stack, and the kernel's errors for the struct's size, its tail, its fields and bad
 * pointers. */
#include "conf.h"
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define STACK_SIZE (64 * 1024)

static volatile int th_pid_eq, th_done, vf_ran;
static volatile long th_rdi, th_rsi;
static long me;

/* Runs on the child's own stack (no return): a thread, or the vfork child. */
__attribute__((used, noreturn)) static void thread_body(long rdi, long rsi) {
    th_rdi = rdi;
    th_rsi = rsi;
    th_pid_eq = syscall(SYS_getpid) == me;
    th_done = 1;
    for (;;) asm volatile("syscall" :: "a"(SYS_exit), "D"(0) : "rcx", "r11", "memory");
}
__attribute__((used, noreturn)) static void vfork_body(void) {
    vf_ran = 1;
    for (;;) asm volatile("syscall" :: "a"(SYS_exit_group), "D"(5) : "rcx", "r11", "memory");
}

/* clone3 from an instruction of our own; a child (on a new stack) calls `fn(rdi, rsi)` with
 * the registers the syscall left it, and never returns. */
static long raw_clone3(struct clone_args *args, size_t size, void (*fn)(void)) {
    long ret;
    asm volatile("syscall\n\t"
                 "test %%rax, %%rax\n\t"
                 "jnz 1f\n\t"
                 "call *%%rbx\n\t"
                 "1:"
                 : "=a"(ret)
                 : "0"((long)SYS_clone3), "D"(args), "S"(size), "b"(fn)
                 : "rcx", "r11", "memory");
    return ret;
}

static long clone3(struct clone_args *args, size_t size) { return syscall(SYS_clone3, args, size); }
/* For the error cases: a child made after all exits at once, its parent goes on. */
static long clone3e(struct clone_args *args, size_t size) {
    long r = clone3(args, size);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    return r > 0 ? 0 : r;
}

/* A fork through clone3 whose child exits with `code`: the parent's view of it. */
static void fork_case(const char *name, struct clone_args *args, size_t size, int code) {
    errno = 0;
    long r = clone3(args, size);
    if (r == 0) _exit(code);
    if (r < 0) { printf("%s: %s\n", name, errname(errno)); return; }
    int st;
    if (waitpid(r, &st, 0) != r) { printf("%s: wait %s\n", name, errname(errno)); return; }
    printf("%s: exit %d\n", name, WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

static void *pthread_body(void *arg) { return (void *)((intptr_t)arg + 1); }

static void on_usr1(int s) { (void)s; }

int main(int argc, char **argv) {
    setup(argc, argv);
    me = getpid();

    /* A thread by raw clone3, on its own stack: it shares the process, and sees its argument
     * registers as it passed them. */
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct clone_args t = {0};
    t.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    t.stack = (uintptr_t)stack;
    t.stack_size = STACK_SIZE;
    long tid = raw_clone3(&t, sizeof t, (void (*)(void))thread_body);
    FACT("raw thread created", tid > 0);
    while (tid > 0 && !th_done) sched_yield();
    FACT("raw thread in our process", th_pid_eq);
    FACT("raw thread rdi is the struct", th_rdi == (long)&t);
    FACT("raw thread rsi is the size", th_rsi == (long)sizeof t);

    /* glibc's threads start with clone3 (CLONE_VM|CLONE_THREAD|... and a new stack). */
    pthread_t pt;
    void *res = NULL;
    CKE("pthread_create", pthread_create(&pt, NULL, pthread_body, (void *)41));
    CKE("pthread_join", pthread_join(pt, &res));
    CK("pthread result", (long)(intptr_t)res);

    /* A vfork on its own stack: the parent waits until the child exits. */
    struct clone_args v = {0};
    v.flags = CLONE_VM | CLONE_VFORK;
    v.exit_signal = SIGCHLD;
    v.stack = (uintptr_t)stack;
    v.stack_size = STACK_SIZE;
    long vpid = raw_clone3(&v, sizeof v, vfork_body);
    FACT("vfork child ran before the parent went on", vpid > 0 && vf_ran);
    int st;
    if (vpid > 0 && waitpid(vpid, &st, 0) == vpid) CK("vfork exit", WEXITSTATUS(st));

    /* Forks. */
    struct clone_args f = {0};
    f.exit_signal = SIGCHLD;
    fork_case("fork", &f, sizeof f, 3);
    fork_case("fork size 64", &f, 64, 4);
    int pidfd = -1;
    struct clone_args p = {0};
    p.flags = CLONE_PIDFD;
    p.pidfd = (uintptr_t)&pidfd;
    p.exit_signal = SIGCHLD;
    errno = 0;
    long child = clone3(&p, sizeof p);
    if (child == 0) _exit(7);
    FACT("pidfd fork", child > 0);
    FACT("pidfd set", pidfd >= 0);
    siginfo_t info = {0};
    CK("waitid pidfd", syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, NULL));
    CK("pidfd child status", info.si_status);
    close(pidfd);

    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    struct clone_args c = {0};
    c.flags = CLONE_CLEAR_SIGHAND;
    c.exit_signal = SIGCHLD;
    errno = 0;
    child = clone3(&c, sizeof c);
    if (child == 0) {
        struct sigaction now;
        sigaction(SIGUSR1, NULL, &now);
        _exit(now.sa_handler == SIG_DFL ? 9 : 8);
    }
    if (child > 0 && waitpid(child, &st, 0) == child) CK("clear sighand child", WEXITSTATUS(st));
    c.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
    CK("clear sighand with sighand", clone3e(&c, sizeof c));

    /* A child the debugger would not trace: refused under trapbox (README). */
    struct clone_args u = {0};
    u.flags = CLONE_UNTRACED;
    u.exit_signal = SIGCHLD;
    fork_case("untraced fork", &u, sizeof u, 10);

    /* A longer struct: a zero tail is accepted, a nonzero one is E2BIG. */
    struct { struct clone_args a; uint64_t tail[2]; } big = {0};
    big.a.exit_signal = SIGCHLD;
    fork_case("size 104 zero tail", &big.a, sizeof big, 6);
    big.tail[1] = 1;
    CK("size 104 nonzero tail", clone3e(&big.a, sizeof big));
    CK("size 0", clone3e(&f, 0));
    CK("size 63", clone3e(&f, 63));
    CK("size 4097", clone3e(&f, 4097));
    CK("null struct", clone3e(NULL, sizeof f));
    CK("null struct size 0", clone3e(NULL, 0));
    CK("bad struct", clone3e((void *)1, sizeof f));
    /* The struct at the end of a mapping: the tail beyond it unreadable is EFAULT. */
    char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + 4096, 4096);
    struct clone_args *edge = (struct clone_args *)(two + 4096 - sizeof(struct clone_args));
    memset(edge, 0, sizeof *edge);
    edge->exit_signal = SIGCHLD;
    CK("tail unreadable", clone3e(edge, sizeof *edge + 8));
    CK("head unreadable", clone3e((void *)(two + 4096 - 32), 64));

    /* The fields, as the kernel checks them. */
    struct clone_args e = {0};
    e.exit_signal = 65;
    CK("exit_signal 65", clone3e(&e, sizeof e));
    e.exit_signal = 1ULL << 32 | SIGCHLD;
    CK("exit_signal high bits", clone3e(&e, sizeof e));
    memset(&e, 0, sizeof e);
    e.flags = 1ULL << 40;
    CK("unknown flag", clone3e(&e, sizeof e));
    e.flags = CLONE_THREAD;
    CK("thread without sighand", clone3e(&e, sizeof e));
    e.flags = 0;
    e.stack = (uintptr_t)stack;
    CK("stack without size", clone3e(&e, sizeof e));
    e.stack = 0;
    e.stack_size = 4096;
    CK("size without stack", clone3e(&e, sizeof e));
    e.stack_size = 0;
    pid_t tids[1] = {0};
    e.set_tid_size = 33;
    e.set_tid = (uintptr_t)tids;
    CK("set_tid_size 33", clone3e(&e, sizeof e));
    e.set_tid_size = 0;
    CK("set_tid without size", clone3e(&e, sizeof e));
    e.set_tid = 0;
    e.set_tid_size = 1;
    CK("set_tid size without array", clone3e(&e, sizeof e));
    e.set_tid = 1;
    CK("set_tid unreadable", clone3e(&e, sizeof e));
    e.set_tid = 0;
    e.set_tid_size = 0;
    e.flags = CLONE_INTO_CGROUP;
    e.cgroup = (uint64_t)-1;
    CK("cgroup fd -1", clone3e(&e, sizeof e));
    e.cgroup = 1000;
    CK("cgroup size 80", clone3e(&e, 80));
    e.exit_signal = SIGCHLD;
    CK("cgroup closed fd", clone3e(&e, sizeof e));
    return 0;
}
