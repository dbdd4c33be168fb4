/* /proc/self is the calling process's directory and /proc/thread-self the calling thread's
 * (beneath its process's task/, with no task/ of its own), from the main thread and another. */
#include "conf.h"
#include <pthread.h>

static void probe(const char *who) {
    char name[128], link[64];
    const char *paths[] = {"/proc/thread-self/task", "/proc/thread-self/status", "/proc/thread-self/fd/1", "/proc/self/task",
                           "/proc/thread-self/comm", "/proc/self/status", NULL};
    struct stat st;
    for (int i = 0; paths[i]; i++) {
        snprintf(name, sizeof name, "%s stat %s", who, paths[i]);
        CK(name, stat(paths[i], &st));
    }
    ssize_t n = readlink("/proc/thread-self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    snprintf(name, sizeof name, "%s thread-self links beneath task/", who);
    FACT(name, strstr(link, "/task/") != NULL);
    int fd = open("/proc/thread-self/status", O_RDONLY);
    char buf[256] = {0};
    snprintf(name, sizeof name, "%s reads its status", who);
    FACT(name, fd >= 0 && read(fd, buf, sizeof buf - 1) > 0 && strncmp(buf, "Name:", 5) == 0);
    if (fd >= 0) close(fd);
}

static void *thread(void *unused) {
    (void)unused;
    probe("thread");
    return NULL;
}

int main(int argc, char **argv) {
    setup(argc, argv);
    probe("main");
    pthread_t t;
    pthread_create(&t, NULL, thread, NULL);
    pthread_join(t, NULL);
    return 0;
}
