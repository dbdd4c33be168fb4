// Prints its pid as the host sees it (its /proc/self: in its own PID namespace getpid() would
// say 2), then makes system calls forever (getppid: a trap in a rewritten build).
// With an argument N, a second thread ends the whole process with exit_group(N) after a
// while, whatever the first thread is doing at that moment.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *ender(void *arg) {
    for (int i = 0; i < 2000; i++) syscall(SYS_getppid);
    syscall(SYS_exit_group, (long)arg);
    return NULL;
}

int main(int argc, char **argv) {
    char self[32] = {0};
    if (readlink("/proc/self", self, sizeof self - 1) <= 0)
        snprintf(self, sizeof self, "%d", getpid());
    printf("%s\n", self);
    fflush(stdout);
    if (argc > 1) {
        pthread_t t;
        pthread_create(&t, NULL, ender, (void *)strtol(argv[1], NULL, 10));
    }
    for (;;) syscall(SYS_getppid);
}
