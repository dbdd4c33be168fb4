#include "conf.h"
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>

static volatile int th_eq, th_tid_diff, th_done;
static int me;
/* The raw CLONE_THREAD child runs here on its own stack and never returns. */
__attribute__((used, noreturn)) static void thread_body(void) {
    th_eq = syscall(SYS_getpid) == me;
    th_tid_diff = syscall(SYS_gettid) != me;
    th_done = 1;
    for (;;) asm volatile("syscall" :: "a"(SYS_exit), "D"(0) : "rcx", "r11", "memory");
}
static long raw_clone(unsigned long flags, void *stack_top) {
    long ret;
    asm volatile("syscall\n\t"
                 "test %%rax, %%rax\n\t"
                 "jnz 1f\n\t"
                 "call thread_body\n\t"
                 "1:"
                 : "=a"(ret)
                 : "0"((long)SYS_clone), "D"(flags), "S"(stack_top), "d"(0L)
                 : "rcx", "r11", "r8", "r10", "memory");
    return ret;
}

int main(int argc, char **argv) {
    setup(argc, argv);
    int st;
    pid_t c = fork();
    if (c == 0) _exit(42);
    CK("wait exit", waitpid(c, &st, 0) == c);
    FACT("exited", WIFEXITED(st)); CK("exit code", WEXITSTATUS(st));
    c = fork();
    if (c == 0) { raise(SIGTERM); _exit(0); }
    waitpid(c, &st, 0);
    FACT("signaled", WIFSIGNALED(st)); CK("term sig", WTERMSIG(st));
    c = fork();
    /* The child waits after it is continued, so the parent's WCONTINUED wait cannot meet its exit instead. */
    if (c == 0) { raise(SIGSTOP); for (;;) pause(); }
    CK("wait untraced", waitpid(c, &st, WUNTRACED) == c);
    FACT("stopped", WIFSTOPPED(st)); CK("stop sig", WSTOPSIG(st));
    kill(c, SIGCONT);
    CK("wait continued", waitpid(c, &st, WCONTINUED) == c);
    FACT("continued", WIFCONTINUED(st));
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    CK("killed after continue", WTERMSIG(st));
    CK("wait no child", waitpid(-1, &st, 0));
    CK("wait nohang none", waitpid(-1, &st, WNOHANG));
    CK("wait bad options", waitpid(-1, &st, 0x40000));
    c = fork();
    if (c == 0) { pause(); _exit(0); }
    CK("wait nohang running", waitpid(c, &st, WNOHANG));
    kill(c, SIGKILL); waitpid(c, &st, 0);
    CK("killed sig", WTERMSIG(st));
    put("noexec", "#!/bin/sh\necho hi\n", 0644);
    put("garbage", "\x01\x02\x03 not an elf, no shebang\n", 0755);
    put("badinterp", "#!/nonexistent/interp\n", 0755);
    mkdir(P("dir"), 0755);
    char *av[] = { "x", NULL }, *ev[] = { NULL };
    CK("execve missing", execve(P("nope"), av, ev));
    CK("execve not executable", execve(P("noexec"), av, ev));
    CK("execve garbage", execve(P("garbage"), av, ev));
    CK("execve bad interp", execve(P("badinterp"), av, ev));
    CK("execve dir", execve(P("dir"), av, ev));
    CK("execve enotdir", execve(P("garbage/x"), av, ev));
    CK("execve empty", execve("", av, ev));
    CK("execveat bad fd", syscall(SYS_execveat, 9999, "x", av, ev, 0));
    CK("execveat bad flag", syscall(SYS_execveat, AT_FDCWD, P("garbage"), av, ev, 0x1));
    c = fork();
    if (c == 0) { execve(argv[0], (char *[]){ argv[0], NULL }, ev); _exit(9); }
    waitpid(c, &st, 0);
    CK("re-exec self without scratch", WEXITSTATUS(st));
    volatile int shared = 0;
    c = vfork();
    if (c == 0) { shared = 7; _exit(11); }
    waitpid(c, &st, 0);
    CK("vfork exit", WEXITSTATUS(st));
    CK("vfork shares memory", shared);
    c = fork();
    if (c == 0) {
        FACT("child ppid is parent", 1);
        FACT("child pid differs", 1);
        _exit(getppid() > 0 ? 0 : 1);
    }
    waitpid(c, &st, 0); CK("child getppid", WEXITSTATUS(st));
    me = getpid();
    char *stack = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    long t = raw_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, stack + 65536);
    FACT("clone thread", t > 0);
    while (t > 0 && !th_done) sched_yield();
    FACT("thread getpid equals parent", th_eq);
    FACT("thread gettid differs", th_tid_diff);
    FACT("main gettid equals getpid", gettid() == getpid());
    CK("clone thread without sighand", syscall(SYS_clone, CLONE_THREAD | CLONE_VM, stack + 32768, NULL, NULL, 0));
    CK("clone sighand without vm", syscall(SYS_clone, CLONE_SIGHAND, stack + 32768, NULL, NULL, 0));
    CK("getpgid bad", getpgid(99999));
    CK("getsid bad", getsid(99999));
    CK("setpgid bad", setpgid(99999, 0));
    CK("getpgid self equals getpgrp", getpgid(0) == getpgrp());
    return 0;
}
