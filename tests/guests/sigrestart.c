// A SA_RESTART handler runs while the main thread is blocked in read(); the read is restarted
// and completes with the data a child writes afterwards. A second handler without SA_RESTART
// makes the next read fail with EINTR. The child signals until the handler says it
// interrupted the read, so a signal that lands before the read began (the parent is slow to
// get there, natively or not) is not mistaken for a restart.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
// The write end of the pipe on which the handler tells the signalling child what it
// interrupted: 'y' the read (restarted or failing with EINTR), 'n' anything else.
static int verdict_fd = -1;

// Whether the round's handler has SA_RESTART.
static volatile sig_atomic_t restarting;

// Whether the context the signal interrupted is the blocked read, as the kernel left it for
// the handler: without SA_RESTART the call failed with EINTR (the ip after its `syscall`);
// with it the call is to run again (the ip back on the `syscall`, rax the call's number
// again), which is also what a signal that came just before the `syscall` looks like: then
// the read simply begins after the handler, and the round's output is the same.
static int interrupted_the_read(const ucontext_t *uc) {
    const unsigned char *ip = (const unsigned char *)uc->uc_mcontext.gregs[REG_RIP];
    long long rax = uc->uc_mcontext.gregs[REG_RAX];
    if (restarting) return rax == SYS_read && ip[0] == 0x0f && ip[1] == 0x05;
    return rax == -EINTR && ip[-2] == 0x0f && ip[-1] == 0x05;
}

static void on_signal(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    int saved = errno;
    int hit = interrupted_the_read(context);
    if (hit) {
        handled++;
        write(1, "handler\n", 8);
    }
    write(verdict_fd, hit ? "y" : "n", 1);
    errno = saved;
}

// Waits until `pid` sleeps (state S). A hint only, to send few signals: it may be asleep
// elsewhere (a debugger's or the scheduler's doing), and /proc/PID/wchan, which would say
// where, needs ptrace access to it, which a kernel may refuse a child (it then prints 0).
static void wait_until_asleep(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    for (;;) {
        FILE *f = fopen(path, "r");
        if (!f) exit(90);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        if (p && p[2] == 'S') return;
        usleep(1000);
    }
}

// The child signals the parent until a signal lands in the parent's blocked read (one that
// lands before the read began says 'n'), then writes the data the read waits for.
static void signal_until_the_read_is_hit(pid_t parent, int data_fd, int verdict_read_fd) {
    for (;;) {
        wait_until_asleep(parent);
        kill(parent, SIGUSR1);
        char verdict = 0;
        if (read(verdict_read_fd, &verdict, 1) != 1) _exit(92);
        if (verdict == 'y') break;
    }
    usleep(20000);
    write(data_fd, "data", 4);
    _exit(0);
}

static void round_trip(int flags, const char *label) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | flags;
    restarting = (flags & SA_RESTART) != 0;
    sigaction(SIGUSR1, &sa, NULL);
    // The kernel's own view of the action now.
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    printf("%s: SA_RESTART %s\n", label, (now.sa_flags & SA_RESTART) ? "on" : "off");
    int fds[2], verdicts[2];
    if (pipe(fds) != 0 || pipe(verdicts) != 0) exit(91);
    verdict_fd = verdicts[1];
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) signal_until_the_read_is_hit(parent, fds[1], verdicts[0]);
    char buf[8] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0) {
        printf("%s: read failed: %s\n", label, strerror(errno));
        n = read(fds[0], buf, sizeof buf);
    }
    printf("%s: read %zd bytes: %s (handled %d)\n", label, n, buf, (int)handled);
    fflush(stdout);
    waitpid(child, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    close(verdicts[0]);
    close(verdicts[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    round_trip(SA_RESTART, "restart");
    round_trip(0, "no-restart");
    return 0;
}
