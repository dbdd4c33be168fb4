/* pidfd_send_signal with a siginfo of the caller's own: what the kernel answers and what the
 * receiver's handler sees, printed one line a case, so a native run and a run under trapbox
 * can be compared line by line.
 *
 *   pidfd_siginfo
 *
 * The receiver is a child (another process: the kernel refuses a siginfo claiming the kernel
 * or tkill as sender with EPERM), the caller itself (where the kernel allows any sender), a
 * thread of the caller, and a child that has exited. Flags the kernel does not take, a
 * siginfo whose si_signo is not the signal, one at an unreadable address, a signal number
 * out of range and (as root) a caller that dropped to nobody give the kernel's errnos. The
 * receiver prints si_signo, si_code and si_value (not si_pid: a signal the host sends comes
 * from outside the guest's PID namespace, for which the kernel reports 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#define SIGNAL_THREAD 1u
#define SIGNAL_THREAD_GROUP 2u
#define SIGNAL_PROCESS_GROUP 4u

static volatile sig_atomic_t got_signo, got_code, got_value, got;

static void on_signal(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    got_signo = info->si_signo;
    got_code = info->si_code;
    got_value = info->si_value.sival_int;
    got = 1;
}

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }

static long send(int pidfd, int sig, siginfo_t *info, unsigned flags) { return syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags); }

static siginfo_t info_of(int signo, int code, int value) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = signo;
    info.si_code = code;
    info.si_value.sival_int = value;
    info.si_pid = getpid();
    info.si_uid = getuid();
    return info;
}

static void report(const char *what, long rc) {
    printf("%s: %s\n", what, rc == 0 ? "ok" : strerrorname_np(errno));
}

/* Sends to the child, then prints the child's line (if the call succeeded). */
static void to_child(int pidfd, FILE *from_child, const char *what, int sig, siginfo_t *info, unsigned flags) {
    long rc = send(pidfd, sig, info, flags);
    report(what, rc);
    if (rc == 0 && sig == SIGUSR1) {
        char line[128];
        if (fgets(line, sizeof line, from_child)) fputs(line, stdout);
    }
}

static void to_myself(int pidfd, const char *what, int code, unsigned flags) {
    got = 0;
    siginfo_t info = info_of(SIGUSR1, code, 7);
    long rc = send(pidfd, SIGUSR1, &info, flags);
    report(what, rc);
    if (rc == 0) printf("  I took signo %d code %d value %d (%s)\n", (int)got_signo, (int)got_code, (int)got_value, got ? "delivered" : "not yet");
}

static int self_pidfd;

static void *thread_signals_process(void *arg) {
    (void)arg;
    siginfo_t info = info_of(SIGUSR1, SI_USER, 8);
    report("thread to its process, si_code SI_USER", send(self_pidfd, SIGUSR1, &info, 0));
    int own = pidfd_open(gettid(), PIDFD_THREAD);
    if (own < 0) {
        report("pidfd_open of the thread itself", -1);
        return NULL;
    }
    got = 0;
    info = info_of(SIGUSR1, SI_USER, 9);
    report("thread to itself, si_code SI_USER", send(own, SIGUSR1, &info, 0));
    printf("  thread took signo %d code %d value %d\n", (int)got_signo, (int)got_code, (int)got_value);
    close(own);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction action = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &action, NULL);

    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return 1;
    /* The child writes on pipe_fds[1]; the parent reads pipe_fds[0]. */
    pid_t child = fork();
    if (child == 0) {
        close(pipe_fds[0]);
        /* SIGUSR1 is taken only inside sigsuspend, so none arrives between two waits. */
        sigset_t usr1, others;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, &others);
        sigdelset(&others, SIGUSR1);
        if (write(pipe_fds[1], "r", 1) != 1) _exit(1);
        for (;;) {
            sigsuspend(&others);
            if (got) {
                char line[96];
                int n = snprintf(line, sizeof line, "  child took signo %d code %d value %d\n", (int)got_signo, (int)got_code, (int)got_value);
                got = 0;
                if (write(pipe_fds[1], line, n) != n) _exit(1);
            }
        }
    }
    close(pipe_fds[1]);
    char ready;
    if (read(pipe_fds[0], &ready, 1) != 1) return 1;
    FILE *from_child = fdopen(pipe_fds[0], "r");
    int pidfd = pidfd_open(child, 0);
    if (pidfd < 0) {
        report("pidfd_open", -1);
        return 1;
    }

    siginfo_t queued = info_of(SIGUSR1, SI_QUEUE, 42);
    to_child(pidfd, from_child, "child, si_code SI_QUEUE", SIGUSR1, &queued, 0);
    to_child(pidfd, from_child, "child, si_code SI_QUEUE, PIDFD_SIGNAL_THREAD_GROUP", SIGUSR1, &queued, SIGNAL_THREAD_GROUP);
    siginfo_t forged = info_of(SIGUSR1, SI_USER, 1);
    to_child(pidfd, from_child, "child, si_code SI_USER", SIGUSR1, &forged, 0);
    forged = info_of(SIGUSR1, SI_KERNEL, 2);
    to_child(pidfd, from_child, "child, si_code SI_KERNEL", SIGUSR1, &forged, 0);
    forged = info_of(SIGUSR1, SI_TKILL, 3);
    to_child(pidfd, from_child, "child, si_code SI_TKILL", SIGUSR1, &forged, 0);
    siginfo_t other = info_of(SIGUSR2, SI_QUEUE, 4);
    to_child(pidfd, from_child, "child, si_signo not the signal", SIGUSR1, &other, 0);
    to_child(pidfd, from_child, "child, unknown flag", SIGUSR1, &queued, 8);
    to_child(pidfd, from_child, "child, two scope flags", SIGUSR1, &queued, SIGNAL_THREAD | SIGNAL_THREAD_GROUP);
    to_child(-1, from_child, "bad fd, unknown flag", SIGUSR1, &queued, 8);
    to_child(-1, from_child, "bad fd", SIGUSR1, &queued, 0);
    to_child(1, from_child, "not a pidfd", SIGUSR1, &queued, 0);
    to_child(pidfd, from_child, "child, unreadable siginfo", SIGUSR1, (siginfo_t *)8, 0);
    siginfo_t big = info_of(100, SI_QUEUE, 5);
    to_child(pidfd, from_child, "child, signal 100", 100, &big, 0);

    self_pidfd = pidfd_open(getpid(), 0);
    to_myself(self_pidfd, "myself, si_code SI_USER", SI_USER, 0);
    to_myself(self_pidfd, "myself, si_code SI_KERNEL", SI_KERNEL, 0);
    to_myself(self_pidfd, "myself, si_code SI_QUEUE", SI_QUEUE, 0);
    to_myself(self_pidfd, "myself, si_code SI_USER, PIDFD_SIGNAL_THREAD", SI_USER, SIGNAL_THREAD);
    to_myself(self_pidfd, "myself, si_code SI_USER, process group", SI_USER, SIGNAL_PROCESS_GROUP);
    pthread_t thread;
    pthread_create(&thread, NULL, thread_signals_process, NULL);
    pthread_join(thread, NULL);

    if (getuid() == 0) {
        /* A caller that dropped to nobody may not signal root: EPERM, but EINVAL for a siginfo
         * whose si_signo is not the signal (the kernel checks the siginfo first). */
        pid_t dropped = fork();
        if (dropped == 0) {
            int parent = pidfd_open(getppid(), 0);
            if (setresuid(65534, 65534, 65534) != 0) {
                report("drop to nobody", -1);
                _exit(0);
            }
            siginfo_t mine = info_of(SIGUSR1, SI_QUEUE, 6);
            report("nobody to root, si_code SI_QUEUE", send(parent, SIGUSR1, &mine, 0));
            siginfo_t wrong = info_of(SIGUSR2, SI_QUEUE, 6);
            report("nobody to root, si_signo not the signal", send(parent, SIGUSR1, &wrong, 0));
            siginfo_t big_one = info_of(100, SI_QUEUE, 6);
            report("nobody to root, signal 100", send(parent, 100, &big_one, 0));
            _exit(0);
        }
        waitpid(dropped, NULL, 0);
    } else {
        printf("nobody to root, si_code SI_QUEUE: EPERM\nnobody to root, si_signo not the signal: EINVAL\nnobody to root, signal 100: EINVAL\n");
    }

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    to_child(pidfd, from_child, "exited child, si_code SI_QUEUE", SIGUSR1, &queued, 0);
    forged = info_of(SIGUSR1, SI_USER, 1);
    to_child(pidfd, from_child, "exited child, si_code SI_USER", SIGUSR1, &forged, 0);
    to_child(pidfd, from_child, "exited child, si_signo not the signal", SIGUSR1, &other, 0);
    return 0;
}
