// Reopening the guest's own fds through /proc/self/fd.
//   fd_reopen race FILE ROUNDS   one thread puts FILE (opened read-only) and a pipe on fd 7 in
//                                turn, another opens /proc/self/fd/7 for writing: it may get
//                                the pipe, never the file
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int file_fd, pipe_fd;
static volatile int running = 1;

static void *swap(void *arg) {
    (void)arg;
    while (running) {
        dup2(file_fd, 7);
        dup2(pipe_fd, 7);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "race"))
        return 2;
    file_fd = open(argv[2], O_RDONLY);
    int p[2];
    if (file_fd < 0 || pipe(p) < 0)
        return 3;
    pipe_fd = p[1];
    dup2(pipe_fd, 7);
    pthread_t t;
    pthread_create(&t, NULL, swap, NULL);
    int rounds = atoi(argv[3]), pipes = 0, files = 0, refused = 0;
    for (int i = 0; i < rounds; i++) {
        int fd = open("/proc/self/fd/7", O_WRONLY);
        if (fd < 0) {
            refused++;
            continue;
        }
        struct stat st;
        fstat(fd, &st);
        if (S_ISFIFO(st.st_mode))
            pipes++;
        else
            files++, (void)!write(fd, "X", 1);
        close(fd);
    }
    running = 0;
    pthread_join(t, NULL);
    printf("reopened pipes %d, files %d, refused %d\n", pipes, files, refused);
    return 0;
}
