/* What the base environment gives a guest, one line per path with the exact result:
 *
 *   base_probe OP:PATH...
 *
 * OP is `r` (open O_RDONLY and read a byte), `w` (open O_WRONLY|O_CREAT|O_TRUNC and write a
 * byte), `d` (open a directory and list it), `s` (stat), `x` (open O_RDWR, as a terminal
 * multiplexer opens /dev/ptmx). Each line is `OP:PATH: ok` or `OP:PATH: ENAME`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case ENXIO: return "ENXIO";
    case EIO: return "EIO";
    default: return strerror(e);
    }
}

static int probe(char op, const char *path) {
    struct stat st;
    char byte = 'x';
    int fd;
    switch (op) {
    case 'r':
        fd = open(path, O_RDONLY);
        if (fd < 0) return errno;
        if (read(fd, &byte, 1) < 0) return errno;
        close(fd);
        return 0;
    case 'w':
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return errno;
        if (write(fd, &byte, 1) != 1) return errno;
        close(fd);
        return 0;
    case 'd': {
        DIR *d = opendir(path);
        if (!d) return errno;
        errno = 0;
        while (readdir(d)) {
        }
        int e = errno;
        closedir(d);
        return e;
    }
    case 's':
        return stat(path, &st) == 0 ? 0 : errno;
    case 'x':
        fd = open(path, O_RDWR | O_NOCTTY);
        if (fd < 0) return errno;
        close(fd);
        return 0;
    }
    return EINVAL;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strlen(argv[i]) < 3 || argv[i][1] != ':') {
            fprintf(stderr, "usage: base_probe OP:PATH...\n");
            return 2;
        }
        printf("%s: %s\n", argv[i], name(probe(argv[i][0], argv[i] + 2)));
    }
    return 0;
}
