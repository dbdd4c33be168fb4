/* The bare cost of a ptrace trap stop: the least a trap debugger can do per trap.
 *
 *   bare_tracer ud2|int3 ./getpid_loop.trapped
 *
 * Runs the guest under ptrace; at every SIGILL (ud2) or SIGTRAP (int3) stop it reads the
 * registers, answers getpid from a cached value, steps past the two-byte trap, writes the
 * registers back and continues. An exit trap ends the run. No trap table, no policy, no
 * checks: the floor that trapbox's own trap handling is measured against. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "ud2") && strcmp(argv[1], "int3"))) {
        fprintf(stderr, "usage: %s ud2|int3 PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    int int3 = strcmp(argv[1], "int3") == 0;
    int trap_signal = int3 ? SIGTRAP : SIGILL;
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC);
    long traps = 0;
    int deliver = 0;
    for (;;) {
        ptrace(PTRACE_CONT, child, 0, deliver);
        deliver = 0;
        if (waitpid(child, &status, 0) < 0) return 1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) continue;
        int sig = WSTOPSIG(status);
        if (sig != trap_signal) { deliver = sig == SIGSTOP ? 0 : sig; continue; }
        struct user_regs_struct regs;
        ptrace(PTRACE_GETREGS, child, 0, &regs);
        unsigned long site = int3 ? regs.rip - 1 : regs.rip;
        if (regs.orig_rax != (unsigned long)-1) { /* a real syscall-exit SIGTRAP: not ours */ continue; }
        if (regs.rax == 60 || regs.rax == 231) {
            fprintf(stderr, "bare_tracer: %ld traps\n", traps);
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            return (int)regs.rdi;
        }
        traps++;
        regs.rax = regs.rax == 39 ? (unsigned long)child : (unsigned long)-ENOSYS;
        regs.rip = site + 2;
        ptrace(PTRACE_SETREGS, child, 0, &regs);
    }
}
