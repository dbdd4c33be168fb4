// A non-leader thread calls execve while the main thread is blocked: the kernel kills the
// other threads and the exec'ing thread takes over the process id.
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *exec_from_thread(void *arg) {
    (void)arg;
    execl("/bin/busybox", "busybox", "sh", "-c", "echo exec from a thread; exit 4", (char *)0);
    perror("execl");
    return NULL;
}

int main(void) {
    printf("main thread starts\n");
    fflush(stdout);
    pthread_t t;
    pthread_create(&t, NULL, exec_from_thread, NULL);
    for (;;) pause();
}
