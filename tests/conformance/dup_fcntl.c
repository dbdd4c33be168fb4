#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "data", 0644);
    int fd = open(P("f"), O_RDWR);
    int low = dup(fd);
    FACT("dup is lowest free", low == fd + 1);
    CK("dup bad", dup(9999));
    CK("dup2 to 50", dup2(fd, 50));
    CK("dup2 same", dup2(fd, fd) == fd);
    CK("dup2 bad old", dup2(9999, 51));
    CK("dup2 same bad", dup2(9999, 9999));
    CK("dup2 huge new", dup2(fd, 1 << 30));
    CK("dup3 same fd", dup3(fd, fd, 0));
    CK("dup3 cloexec", dup3(fd, 60, O_CLOEXEC));
    CK("dup3 cloexec flag", fcntl(60, F_GETFD));
    CK("dup3 bad flag", dup3(fd, 61, O_NONBLOCK));
    CK("dup3 bad old", dup3(9999, 61, 0));
    CK("F_GETFD", fcntl(fd, F_GETFD));
    CK("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
    CK("F_GETFD after", fcntl(fd, F_GETFD));
    printf("F_GETFL: %o\n", fcntl(fd, F_GETFL) & ~O_LARGEFILE);
    CK("F_SETFL append nonblock", fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
    printf("F_GETFL after: %o\n", fcntl(fd, F_GETFL) & ~O_LARGEFILE);
    CK("F_SETFL ignores accmode", fcntl(fd, F_SETFL, O_RDONLY));
    printf("F_GETFL accmode: %o\n", fcntl(fd, F_GETFL) & O_ACCMODE);
    CK("F_DUPFD min", fcntl(fd, F_DUPFD, 70));
    CK("F_DUPFD_CLOEXEC", fcntl(fd, F_DUPFD_CLOEXEC, 80));
    CK("F_DUPFD_CLOEXEC flag", fcntl(80, F_GETFD));
    CK("F_DUPFD negative", fcntl(fd, F_DUPFD, -1));
    CK("F_DUPFD huge", fcntl(fd, F_DUPFD, 1 << 30));
    CK("fcntl bad fd", fcntl(9999, F_GETFD));
    CK("fcntl bad cmd", fcntl(fd, 9999));
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 2 };
    CK("F_SETLK write", fcntl(fd, F_SETLK, &fl));
    struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
    CK("F_GETLK own", fcntl(fd, F_GETLK, &q));
    FACT("own lock not reported", q.l_type == F_UNLCK);
    pid_t child = fork();
    if (child == 0) {
        int cfd = open(P("f"), O_RDWR);
        struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        CK("child F_SETLK conflict", fcntl(cfd, F_SETLK, &c));
        struct flock g = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        CK("child F_GETLK", fcntl(cfd, F_GETLK, &g));
        FACT("child sees write lock", g.l_type == F_WRLCK);
        CK("child sees lock start", g.l_start);
        CK("child sees lock len", g.l_len);
        FACT("child sees parent pid", g.l_pid == getppid());
        struct flock o = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 5 };
        CK("child F_SETLK disjoint", fcntl(cfd, F_SETLK, &o));
        struct flock ofd = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
        CK("child F_OFD_SETLK conflict", fcntl(cfd, F_OFD_SETLK, &ofd));
        _exit(0);
    }
    waitpid(child, NULL, 0);
    struct flock bad = { .l_type = 99, .l_whence = SEEK_SET };
    CK("F_SETLK bad type", fcntl(fd, F_SETLK, &bad));
    struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    CK("F_SETLK unlock", fcntl(fd, F_SETLK, &un));
    int rfd = open(P("f"), O_RDONLY);
    struct flock wl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    CK("F_SETLK write on rdonly", fcntl(rfd, F_SETLK, &wl));
    CK("F_GETPIPE_SZ on file", fcntl(fd, F_GETPIPE_SZ));
    CK("close", close(low));
    CK("close again", close(low));
    return 0;
}
