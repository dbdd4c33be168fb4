/* The floor of following a program's processes with ptrace: what any debugger that follows
 * every fork and exec pays on this machine, with no decision, no table and no policy.
 *
 *   gcc -O2 -o exec_floor scripts/bench/exec_floor.c
 *   ./exec_floor sleep|poll INJECTIONS PROGRAM [ARGS...]
 *
 * Runs PROGRAM with the ptrace events trapbox follows (fork, vfork, clone, exec, seccomp) and a
 * seccomp filter that stops each execve and execveat (trapbox decides every exec). Each stop is
 * resumed at once; at each exec's exit the tracer single-steps INJECTIONS getppid calls from
 * the vDSO's `syscall`, as trapbox sets up a new image with four injected calls. `sleep` waits
 * in waitpid; `poll` polls waitpid(WNOHANG) for up to 100 us first (trapbox's --spin-wait).
 * Exits with PROGRAM's status. A shell loop of 300 execs under it, beside the same loop under
 * trapbox, shows how much of trapbox's cost per exec is the stops themselves. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int polling;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static pid_t wait_for(pid_t pid, int *status) {
    if (polling) {
        double until = now_us() + 100;
        while (now_us() < until) {
            pid_t got = waitpid(pid, status, WNOHANG | __WALL);
            if (got != 0)
                return got;
        }
    }
    return waitpid(pid, status, __WALL);
}

/* The address of a `syscall` instruction in `pid`'s vDSO (0 if none). */
static unsigned long vdso_syscall(pid_t pid) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *maps = fopen(path, "r");
    if (!maps)
        return 0;
    unsigned long start = 0, end = 0;
    while (fgets(line, sizeof line, maps))
        if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2)
            break;
    fclose(maps);
    if (!start || end - start > 65536)
        return 0;
    static unsigned char bytes[65536];
    struct iovec local = {bytes, end - start}, remote = {(void *)start, end - start};
    ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    for (ssize_t i = 0; i + 1 < got; i++)
        if (bytes[i] == 0x0f && bytes[i + 1] == 0x05)
            return start + i;
    return 0;
}

/* Single-steps `count` getppid calls in `pid` from its vDSO, then puts its registers back. */
static void inject(pid_t pid, int count) {
    struct user_regs_struct saved, regs;
    unsigned long at = vdso_syscall(pid);
    if (!at || ptrace(PTRACE_GETREGS, pid, 0, &saved) != 0)
        return;
    for (int i = 0; i < count; i++) {
        regs = saved;
        regs.rax = SYS_getppid;
        regs.orig_rax = -1;
        regs.rip = at;
        int status;
        if (ptrace(PTRACE_SETREGS, pid, 0, &regs) != 0 || ptrace(PTRACE_SINGLESTEP, pid, 0, 0) != 0 ||
            wait_for(pid, &status) != pid || !WIFSTOPPED(status))
            return;
    }
    ptrace(PTRACE_SETREGS, pid, 0, &saved);
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "sleep") && strcmp(argv[1], "poll"))) {
        fprintf(stderr, "usage: %s sleep|poll INJECTIONS PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    polling = strcmp(argv[1], "poll") == 0;
    int injections = atoi(argv[2]);
    pid_t child = fork();
    if (child == 0) {
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 2, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
        };
        struct sock_fprog prog = {sizeof code / sizeof code[0], code};
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
            _exit(126);
        raise(SIGSTOP);
        execvp(argv[3], argv + 3);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, 0,
           PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
               PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP);
    ptrace(PTRACE_CONT, child, 0, 0);
    int exit_code = 0;
    /* Processes that exec'ed and wait for their exec's exit stop; new children still to start. */
    static unsigned char exec_exit[1 << 22], started[1 << 22];
    for (;;) {
        pid_t pid = wait_for(-1, &status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: every tracee is gone */
        }
        unsigned slot = (unsigned)pid % sizeof started;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child)
                exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            started[slot] = 0;
            continue;
        }
        int signal = WSTOPSIG(status), event = status >> 16;
        if (event == PTRACE_EVENT_SECCOMP) {
            ptrace(PTRACE_SYSCALL, pid, 0, 0); /* the exec's exit, should it fail */
        } else if (event == PTRACE_EVENT_EXEC) {
            exec_exit[slot] = 1;
            ptrace(PTRACE_SYSCALL, pid, 0, 0);
        } else if (event != 0) {
            ptrace(PTRACE_CONT, pid, 0, 0); /* fork, vfork, clone */
        } else if (signal == (SIGTRAP | 0x80)) {
            if (exec_exit[slot])
                inject(pid, injections);
            exec_exit[slot] = 0;
            ptrace(PTRACE_CONT, pid, 0, 0);
        } else if (signal == SIGSTOP && !started[slot] && pid != child) {
            started[slot] = 1; /* an auto-attached child's first stop */
            ptrace(PTRACE_CONT, pid, 0, 0);
        } else {
            ptrace(PTRACE_CONT, pid, 0, signal);
        }
    }
    return exit_code;
}
