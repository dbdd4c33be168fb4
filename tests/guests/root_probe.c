/* What the guest's root lets a program see: each argument is one probe, one line out,
 * "<probe>: <result>", the result the same shape natively and under trapbox:
 *   s:PATH    stat: "file", "dir", "link", "char", "other", or the errno's name
 *   S:PATH    stat, with the inode and device (for a path the guest and the host share)
 *   l:PATH    lstat: as s:
 *   r:PATH    readlink: the target, or the errno's name
 *   a:PATH:M  access with mode M (0 F_OK, 4 R_OK, 2 W_OK, 1 X_OK): "ok" or the errno's name
 *   c:PATH    chdir, then getcwd: the directory, or the errno's name
 *   o:PATH    open O_RDONLY: "ok" or the errno's name
 *   L:PATH    the names in a directory, sorted (after open O_DIRECTORY), or the errno's name
 *   h:PATH    name_to_handle_at, then open_by_handle_at: "ok" or the errno's name (of the
 *             first call that failed, with its name)
 *   f:DIR:REL open DIR O_PATH, chdir("/"), fchdir to it, then stat REL relative to it
 *   F:FD:REL  chdir("/"), fchdir to the inherited fd FD, then stat REL relative to it
 *   t:DIR:REL open DIR O_RDONLY|O_DIRECTORY, then fstatat(fd, REL): as s:
 *   m:PATH    the mount options of the mount at PATH in /proc/self/mountinfo, or "none"
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case ELOOP: return "ELOOP";
    case EBADF: return "EBADF";
    case EXDEV: return "EXDEV";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: {
        static char other[32];
        snprintf(other, sizeof other, "errno %d", e);
        return other;
    }
    }
}

static const char *kind(const struct stat *st) {
    if (S_ISREG(st->st_mode)) return "file";
    if (S_ISDIR(st->st_mode)) return "dir";
    if (S_ISLNK(st->st_mode)) return "link";
    if (S_ISCHR(st->st_mode)) return "char";
    return "other";
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (!dir) { printf("%s\n", err(errno)); return; }
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 4096) names[n++] = strdup(e->d_name);
    qsort(names, n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) printf("%s%s", i ? " " : "", names[i]);
    printf("\n");
    closedir(dir);
}

static void mount_options(const char *path) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096], found[512] = "none";
    while (f && fgets(line, sizeof line, f)) {
        char point[1024], options[512];
        /* id parent major:minor root mount-point options ... */
        if (sscanf(line, "%*s %*s %*s %*s %1023s %511s", point, options) == 2 && strcmp(point, path) == 0)
            snprintf(found, sizeof found, "%s", options); /* the last, the one on top */
    }
    if (f) fclose(f);
    printf("%s\n", found);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *path = arg + 2;
        printf("%s: ", arg);
        struct stat st;
        char buf[4096];
        switch (arg[0]) {
        case 's':
        case 'l':
            if ((arg[0] == 's' ? stat(path, &st) : lstat(path, &st)) != 0) printf("%s\n", err(errno));
            else printf("%s\n", kind(&st));
            break;
        case 'S':
            if (stat(path, &st) != 0) printf("%s\n", err(errno));
            else printf("%s ino %lu dev %lu\n", kind(&st), (unsigned long)st.st_ino, (unsigned long)st.st_dev);
            break;
        case 'r': {
            ssize_t n = readlink(path, buf, sizeof buf - 1);
            if (n < 0) printf("%s\n", err(errno));
            else printf("%.*s\n", (int)n, buf);
            break;
        }
        case 'a': {
            char *colon = strrchr(path, ':');
            if (!colon) return 2;
            *colon = 0;
            printf("%s\n", access(path, atoi(colon + 1)) == 0 ? "ok" : err(errno));
            *colon = ':';
            break;
        }
        case 'c':
            if (chdir(path) != 0) printf("%s\n", err(errno));
            else printf("%s\n", getcwd(buf, sizeof buf) ? buf : err(errno));
            break;
        case 'o': {
            int fd = open(path, O_RDONLY);
            printf("%s\n", fd >= 0 ? "ok" : err(errno));
            if (fd >= 0) close(fd);
            break;
        }
        case 'L':
            list(path);
            break;
        case 'h': {
            struct file_handle *handle = malloc(sizeof *handle + MAX_HANDLE_SZ);
            handle->handle_bytes = MAX_HANDLE_SZ;
            int mount_id;
            if (name_to_handle_at(AT_FDCWD, path, handle, &mount_id, 0) != 0) { printf("name_to_handle_at %s\n", err(errno)); break; }
            int fd = open_by_handle_at(AT_FDCWD, handle, O_RDONLY);
            printf("%s\n", fd >= 0 ? "ok" : err(errno));
            break;
        }
        case 'f':
        case 't': {
            char *colon = strchr(path, ':');
            if (!colon) return 2;
            *colon = 0;
            int fd = open(path, arg[0] == 'f' ? O_PATH | O_DIRECTORY : O_RDONLY | O_DIRECTORY);
            *colon = ':';
            if (fd < 0) { printf("open %s\n", err(errno)); break; }
            int got;
            if (arg[0] == 'f') {
                if (chdir("/") != 0 || fchdir(fd) != 0) { printf("fchdir %s\n", err(errno)); close(fd); break; }
                got = stat(colon + 1, &st);
            } else {
                got = fstatat(fd, colon + 1, &st, 0);
            }
            printf("%s\n", got == 0 ? kind(&st) : err(errno));
            close(fd);
            break;
        }
        case 'F': {
            char *colon = strchr(path, ':');
            if (!colon) return 2;
            if (chdir("/") != 0 || fchdir(atoi(path)) != 0) { printf("fchdir %s\n", err(errno)); break; }
            printf("%s\n", stat(colon + 1, &st) == 0 ? kind(&st) : err(errno));
            break;
        }
        case 'm':
            mount_options(path);
            break;
        default:
            return 2;
        }
    }
    return 0;
}
