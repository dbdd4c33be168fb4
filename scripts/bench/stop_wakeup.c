/* What an unpinned ptrace stop costs, and where: a guest loop of traced getppid calls (one
 * seccomp stop each) under a bare tracer that waits for each stop one of four ways.
 *
 *   gcc -O2 -o stop_wakeup scripts/bench/stop_wakeup.c && ./stop_wakeup [STOPS] [ROUNDS]
 *
 *   sleep    waitpid sleeps: the stop wakes the tracer, the resume wakes the guest, each
 *            possibly on the other CPU (trapbox --spin-wait 0)
 *   poll     the tracer polls waitpid(WNOHANG) for up to 100 us before it sleeps, so the
 *            stop needs no wake-up of the tracer (trapbox's default)
 *   pinned   tracer and guest on one CPU: neither wake-up crosses CPUs (trapbox --pin)
 *   idle     the tracer is SCHED_IDLE: the guest it resumes is placed on the tracer's CPU
 *            (a CPU running only SCHED_IDLE tasks counts as idle for wake-up placement) and
 *            preempts it, as pinned, without an affinity; kept out of trapbox, because a
 *            SCHED_IDLE debugger starves whenever its CPU has other work, and an
 *            unprivileged one cannot switch back (RLIMIT_NICE).
 *
 * Rounds interleave the modes; each prints the median microseconds per stop. */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { SLEEP, POLL, PINNED, IDLE, MODES };
static const char *names[MODES] = { "sleep", "poll", "pinned", "idle" };

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void on_one_cpu(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sched_getcpu(), &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* The guest: stops at each getppid; returns the microseconds per call, over a pipe. */
static void guest(int stops, int report) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
        _exit(1);
    double start = now_us();
    for (int i = 0; i < stops; i++)
        syscall(SYS_getppid);
    double per_stop = (now_us() - start) / stops;
    if (write(report, &per_stop, sizeof per_stop) != sizeof per_stop)
        _exit(1);
    _exit(0);
}

/* One run in `mode`, in a fresh tracer process (so a mode's affinity or policy does not
 * leak into the next); the microseconds per stop, or a negative number on failure. */
static double run(enum mode mode, int stops) {
    int report[2];
    if (pipe(report))
        return -1;
    pid_t tracer = fork();
    if (tracer == 0) {
        if (mode == PINNED)
            on_one_cpu();
        pid_t child = fork();
        if (child == 0)
            guest(stops, report[1]);
        if (mode == IDLE) { /* after the fork: the guest stays an ordinary task */
            struct sched_param idle = { 0 };
            if (sched_setscheduler(0, SCHED_IDLE, &idle))
                _exit(1);
        }
        int status;
        waitpid(child, &status, 0);
        ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL);
        ptrace(PTRACE_CONT, child, 0, 0);
        for (;;) {
            pid_t got = 0;
            if (mode == POLL) {
                double until = now_us() + 100;
                while ((got = waitpid(child, &status, __WALL | WNOHANG)) == 0 && now_us() < until)
                    ;
            }
            if (got <= 0 && waitpid(child, &status, __WALL) < 0)
                _exit(1);
            if (WIFEXITED(status) || WIFSIGNALED(status))
                _exit(0);
            int deliver = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
            ptrace(PTRACE_CONT, child, 0, deliver);
        }
    }
    close(report[1]);
    double per_stop = -1;
    if (read(report[0], &per_stop, sizeof per_stop) != sizeof per_stop)
        per_stop = -1;
    close(report[0]);
    int status;
    waitpid(tracer, &status, 0);
    return per_stop;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int stops = argc > 1 ? atoi(argv[1]) : 5000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    if (stops <= 0 || rounds <= 0 || rounds > 100) {
        fprintf(stderr, "usage: %s [STOPS] [ROUNDS (1-100)]\n", argv[0]);
        return 2;
    }
    double figures[MODES][100];
    for (int r = 0; r < rounds; r++)
        for (int m = 0; m < MODES; m++)
            figures[m][r] = run((enum mode)m, stops);
    printf("%d seccomp stops per run, median of %d interleaved rounds (us per stop):\n", stops, rounds);
    for (int m = 0; m < MODES; m++) {
        qsort(figures[m], rounds, sizeof(double), by_value);
        printf("  %-7s %8.2f   (min %.2f, max %.2f)\n", names[m], figures[m][rounds / 2], figures[m][0], figures[m][rounds - 1]);
    }
    return 0;
}
