// 8 threads make system calls concurrently: pipes, reads, writes, getpid/gettid, clock_gettime,
// open/close. Prints a summary that must be the same natively and under trapbox.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 300

static pid_t main_pid;

static void *worker(void *arg) {
    long id = (long)arg;
    long ok = 0;
    for (int i = 0; i < ROUNDS; i++) {
        int fds[2];
        if (pipe(fds) != 0) return (void *)-1;
        char out[32], in[32] = {0};
        int n = snprintf(out, sizeof out, "t%ld-%d", id, i);
        if (write(fds[1], out, n) != n) return (void *)-2;
        if (read(fds[0], in, sizeof in) != n || memcmp(in, out, n) != 0) return (void *)-3;
        close(fds[0]);
        close(fds[1]);
        if (getpid() != main_pid) return (void *)-4;
        if (syscall(SYS_gettid) == main_pid && id != -1) return (void *)-5;
        struct timespec ts;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return (void *)-6;
        int fd = open("/proc/self/stat", O_RDONLY);
        if (fd < 0) return (void *)-7;
        close(fd);
        ok++;
    }
    return (void *)ok;
}

int main(void) {
    main_pid = getpid();
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) {
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    long total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(threads[i], &ret);
        if ((long)ret < 0) {
            printf("thread %d failed at step %ld\n", i, -(long)ret);
            return 2;
        }
        total += (long)ret;
    }
    printf("threads done: %ld rounds\n", total);
    return 0;
}
