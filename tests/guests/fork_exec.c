// fork + exec + wait, vfork + exec, and posix_spawn (clone with CLONE_VM|CLONE_VFORK on its
// own stack), each running busybox; the exit statuses are reported.
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int report(const char *how, pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    printf("%s: child exited %d\n", how, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    fflush(stdout);
    return 0;
}

int main(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/busybox", "busybox", "sh", "-c", "echo forked child says hi; exit 3", (char *)0);
        _exit(127);
    }
    if (report("fork", pid)) return 1;

    pid = vfork();
    if (pid == 0) {
        execl("/bin/busybox", "busybox", "echo", "vforked child", (char *)0);
        _exit(127);
    }
    if (report("vfork", pid)) return 1;

    char *argv[] = {"busybox", "sh", "-c", "echo spawned child; exit 5", NULL};
    if (posix_spawn(&pid, "/bin/busybox", NULL, NULL, argv, environ) != 0) {
        perror("posix_spawn");
        return 1;
    }
    if (report("posix_spawn", pid)) return 1;

    pid = fork();
    if (pid == 0) {
        printf("child pid matches getpid: %d\n", getpid() != getppid());
        fflush(stdout);
        _exit(9);
    }
    return report("fork-only", pid);
}
