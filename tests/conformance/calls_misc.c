/* Odd corners of the call interface: a unix SOCK_RAW socket (a datagram socket), readlink of
 * /proc/self and /proc/thread-self, numbers no table has, a sigtimedwait that times out, kill
 * of invalid, zombie and reaped pids and of the caller's own group, getpid in a raw
 * clone(CLONE_THREAD) child. */
#include "conf.h"
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>

static long child_pid = -1;
static int child_fn(void *arg) {
    (void)arg;
    child_pid = syscall(SYS_getpid);
    return 0;
}

int main(int argc, char **argv) {
    setup(argc, argv);
    int s = socket(AF_UNIX, SOCK_RAW, 0);
    OK("unix raw socket", s);
    int type = 0;
    socklen_t len = sizeof type;
    CK("unix raw getsockopt", getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len));
    CK("unix raw is dgram", type == SOCK_DGRAM);
    char buf[64] = {0}, want[64];
    long n = readlink("/proc/self", buf, sizeof buf - 1);
    snprintf(want, sizeof want, "%d", getpid());
    FACT("readlink /proc/self is the pid", n > 0 && !strcmp(buf, want));
    CK("readlink /proc/self short", readlink("/proc/self", buf, 1));
    CK("readlink /proc/self zero", syscall(SYS_readlink, "/proc/self", buf, 0));
    memset(buf, 0, sizeof buf);
    n = readlink("/proc/thread-self", buf, sizeof buf - 1);
    snprintf(want, sizeof want, "%d/task/%ld", getpid(), (long)syscall(SYS_gettid));
    FACT("readlink /proc/thread-self", n > 0 && !strcmp(buf, want));
    CK("syscall -1", syscall(-1));
    CK("syscall 1000", syscall(1000));
    CK("syscall x32 bit", syscall(0x40000000L | SYS_getpid));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    CK("sigtimedwait timeout", sigtimedwait(&set, NULL, &(struct timespec){ 0, 1000000 }));
    CK("kill invalid pid", kill(999999, 0));
    CK("kill bad signal", kill(getpid(), 99));
    CK("kill own group", kill(0, 0));
    CK("kill own pgid", kill(-getpgrp(), 0));
    pid_t c = fork();
    if (c == 0) _exit(0);
    siginfo_t si;
    CK("wait zombie", waitid(P_PID, c, &si, WEXITED | WNOWAIT));
    CK("kill zombie", kill(c, 0));
    waitpid(c, NULL, 0);
    CK("kill reaped", kill(c, 0));
    static char stack[65536] __attribute__((aligned(16)));
    int tid = clone(child_fn, stack + sizeof stack, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_FS | CLONE_FILES, NULL);
    for (int i = 0; i < 2000 && child_pid == -1; i++) usleep(1000);
    FACT("clone thread getpid is the process's", tid > 0 && child_pid == getpid());
    return 0;
}
