#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "x", 0644);
    mkdir(P("d"), 0755);
    symlink("target-of-link", P("l"));
    symlink("f", P("d/inner"));
    char buf[64];
    long n;
    CK("readlink", n = readlink(P("l"), buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("readlink text", buf); }
    CK("readlink small buf", n = readlink(P("l"), buf, 6));
    if (n > 0) { buf[n] = 0; STR("readlink small text", buf); }
    CK("readlink zero buf", readlink(P("l"), buf, 0));
    CK("readlink file", readlink(P("f"), buf, sizeof buf));
    CK("readlink dir", readlink(P("d"), buf, sizeof buf));
    CK("readlink missing", readlink(P("nope"), buf, sizeof buf));
    CK("readlink enotdir", readlink(P("f/x"), buf, sizeof buf));
    CK("readlink empty", readlink("", buf, sizeof buf));
    int dfd = open(P("d"), O_RDONLY | O_DIRECTORY);
    CK("readlinkat", n = readlinkat(dfd, "inner", buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("readlinkat text", buf); }
    CK("readlinkat bad dirfd", readlinkat(9999, "inner", buf, sizeof buf));
    CK("readlinkat empty path on dir", readlinkat(dfd, "", buf, sizeof buf));
    int lfd = open(P("l"), O_PATH | O_NOFOLLOW);
    CK("readlinkat empty path on link", n = readlinkat(lfd, "", buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("readlinkat empty text", buf); }
    CK("readlink null buf", syscall(SYS_readlink, P("l"), NULL, 10));
    /* A namespace's magic link names no path: opening it follows the link to the namespace's
     * file (what setns and the NS_GET ioctls take); its inode is the number in the link. */
    CK("readlink ns uts", n = readlink("/proc/self/ns/uts", buf, sizeof buf));
    if (n > 0) { buf[n] = 0; FACT("readlink ns uts shape", strncmp(buf, "uts:[", 5) == 0 && buf[n - 1] == ']'); }
    int nsfd;
    CK("open ns uts", nsfd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC));
    struct stat by_fd, by_path;
    if (nsfd >= 0 && fstat(nsfd, &by_fd) == 0 && stat("/proc/self/ns/uts", &by_path) == 0) {
        char number[32];
        snprintf(number, sizeof number, "%lu]", (unsigned long)by_fd.st_ino);
        FACT("open ns uts is the namespace", by_fd.st_ino == by_path.st_ino && n > 0 && strstr(buf, number) != NULL);
    }
    CK("read ns uts", read(nsfd, buf, sizeof buf));
    close(nsfd);
    CK("open ns net", nsfd = open("/proc/self/ns/net", O_RDONLY));
    close(nsfd);
    CK("open thread-self ns pid", nsfd = open("/proc/thread-self/ns/pid", O_RDONLY));
    close(nsfd);
    CK("open ns missing", open("/proc/self/ns/nonesuch", O_RDONLY));
    CK("open ns nofollow", open("/proc/self/ns/uts", O_RDONLY | O_NOFOLLOW));
    return 0;
}
