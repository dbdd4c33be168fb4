// Calls that would take a guest out of its debugger's sight. Under trapbox each must be
// refused (and the guest keeps running); natively most of them succeed.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long ret) {
    printf("%s: %s\n", what, ret < 0 ? strerrorname_np(errno) : "succeeded");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    // A child the tracer would not follow.
    long pid = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, NULL, 0);
    show("clone(CLONE_UNTRACED)", pid);
    // A second filter whose USER_NOTIF would outrank the backstop's TRACE.
    show("seccomp", syscall(SYS_seccomp, 1 /* SET_MODE_FILTER */, 0, NULL));
    show("prctl(PR_SET_SECCOMP)", prctl(PR_SET_SECCOMP, 2, 0, 0, 0));
    // io_uring executes IO without system calls the filter could see.
    show("io_uring_setup", syscall(SYS_io_uring_setup, 4, NULL));
    show("ptrace(TRACEME)", ptrace(PTRACE_TRACEME, 0, 0, 0));
    // A nested user namespace is the guest's to make: it stays traced (the host answers the
    // next line).
    show("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
    // The same through clone3, whose flags live in memory (the host judges its pinned copy).
    struct { unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
        .flags = CLONE_UNTRACED, .exit_signal = SIGCHLD };
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, NULL, 0);
    show("clone3(CLONE_UNTRACED)", pid);
    printf("still running\n");
    return 0;
}
