// A SA_RESTART handler runs while the main thread is blocked in read(); the read is restarted
// and completes with the data a child writes afterwards. A second handler without SA_RESTART
// makes the next read fail with EINTR.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_signal(int sig) {
    (void)sig;
    handled++;
    write(1, "handler\n", 8);
}

// What /proc/PID/wchan says `pid` waits in: 1 a pipe read, 0 something else, -1 unknown (a
// kernel that does not name it prints 0).
static int waits_in_pipe_read(pid_t pid) {
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/wchan", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (n == 0 || strcmp(buf, "0") == 0) return -1;
    return strstr(buf, "pipe_read") != NULL;
}

// Waits until `pid` sleeps in the kernel (state S) in read() of the pipe: a sleep anywhere
// else (a debugger's stop on the way there) would take the signal before the read began.
static void wait_until_blocked(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    for (;;) {
        FILE *f = fopen(path, "r");
        if (!f) exit(90);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        if (p && p[2] == 'S' && waits_in_pipe_read(pid) != 0) return;
        usleep(1000);
    }
}

static void round_trip(int flags, const char *label) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
    // The kernel's own view of the action now, so that a run whose read is not interrupted
    // says whether the handler still had SA_RESTART.
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    printf("%s: SA_RESTART %s\n", label, (now.sa_flags & SA_RESTART) ? "on" : "off");
    int fds[2];
    if (pipe(fds) != 0) exit(91);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        wait_until_blocked(parent);
        kill(parent, SIGUSR1);
        usleep(20000);
        write(fds[1], "data", 4);
        _exit(0);
    }
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
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    round_trip(SA_RESTART, "restart");
    round_trip(0, "no-restart");
    return 0;
}
