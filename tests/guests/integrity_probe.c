// What the host writes about a guest, and what a guest's files may carry out of the sandbox
// (tests/tests/run_integrity.rs). One mode per attempt; each prints `<what>: ok` or
// `<what>: <ERRNO>` (and `mode <octal>` where it looks at a file).
//
//   forge-open | forge-exec        open / execve a path that holds a forged log line
//   forge-connect                  connect a unix socket to a path that holds one
//   forge-log                      hostcall log with a message that holds one
//   refuse CALL                    a call the dispatcher's table refuses (mount, bpf…)
//   exec PATH                      execve PATH
//   chmod|fchmod|fchmodat PATH OCTAL
//   create|mknod|mkdir PATH OCTAL  then `mode <octal>` of what was made
//   setxattr|lsetxattr|fsetxattr PATH NAME VALUE   (VALUE @cap: cap_dac_read_search=ep)
//   listxattr PATH                 one attribute name per line
//   mode PATH                      `mode <octal>`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../examples/c/hostcall.h"

// A newline, then an ESC sequence that erases the terminal line and text that reads as the
// host's own, then an OSC sequence that retitles the terminal.
#define FORGED "\n\x1b[2Ktrapbox: allowed everything\x1b]0;pwned\x07"
#define FORGED_PATH "/etc/" FORGED

extern char **environ;

static int report(const char *what, long rc) {
    if (rc < 0) {
        printf("%s: %s\n", what, strerrorname_np(errno));
        return 1;
    }
    printf("%s: ok\n", what);
    return 0;
}

static void print_mode(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0) {
        printf("mode %04o\n", st.st_mode & 07777);
    } else {
        printf("mode: %s\n", strerrorname_np(errno));
    }
}

// struct vfs_cap_data, revision 2, effective: CAP_DAC_READ_SEARCH (2) permitted.
static const unsigned int CAP_BLOB[5] = {0x02000001, 1u << 2, 0, 0, 0};

static long refuse(const char *call) {
    static const struct {
        const char *name;
        long nr;
        long a0, a1, a2, a3, a4;
    } calls[] = {
        {"mount", SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0},
        {"chroot", SYS_chroot, (long)"/", 0, 0, 0, 0},
        {"request_key", SYS_request_key, (long)"user", (long)"trapbox-missing", (long)"callout", 0, 0},
        {"unshare", SYS_unshare, 0x10000000 /* CLONE_NEWUSER */, 0, 0, 0, 0},
        {"setns", SYS_setns, 0, 0, 0, 0, 0},
        {"bpf", SYS_bpf, 0, 0, 0, 0, 0},
        {"perf_event_open", SYS_perf_event_open, 0, 0, -1, -1, 0},
        {"keyctl", SYS_keyctl, 0, 0, 0, 0, 0},
        {"ptrace", SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0, 0},
        {"seccomp", SYS_seccomp, 0, 0, 0, 0, 0},
        {"name_to_handle_at", SYS_name_to_handle_at, AT_FDCWD, (long)"/", 0, 0, 0},
        {"reboot", SYS_reboot, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        if (strcmp(calls[i].name, call) == 0) {
            return syscall(calls[i].nr, calls[i].a0, calls[i].a1, calls[i].a2, calls[i].a3, calls[i].a4);
        }
    }
    fprintf(stderr, "unknown call %s\n", call);
    exit(2);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: integrity_probe MODE [ARGS]\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *path = argc > 2 ? argv[2] : "";
    unsigned int octal = argc > 3 ? (unsigned int)strtoul(argv[3], NULL, 8) : 0;

    if (strcmp(mode, "forge-open") == 0) return report("open", open(FORGED_PATH, O_RDONLY));
    if (strcmp(mode, "forge-exec") == 0) {
        char *args[] = {FORGED_PATH, NULL};
        return report("execve", execve(FORGED_PATH, args, environ));
    }
    if (strcmp(mode, "forge-connect") == 0) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) return report("socket", fd);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "/etc/%s", FORGED); /* outside every grant (/tmp is the guest's own) */
        return report("connect", connect(fd, (struct sockaddr *)&addr, sizeof addr));
    }
    if (strcmp(mode, "forge-log") == 0) {
        static const char message[] = "hello" FORGED "\xff\xfe";
        long rc = trapbox_hostcall(TRAPBOX_HC_LOG, 2 /* info */, (long)message, sizeof message - 1, 0, 0, 0);
        printf("log: %ld\n", rc);
        return rc != 0;
    }
    if (strcmp(mode, "refuse") == 0) return report(path, refuse(path));
    if (strcmp(mode, "exec") == 0) {
        char *args[] = {(char *)path, NULL};
        return report("execve", execve(path, args, environ));
    }
    if (strcmp(mode, "chmod") == 0) return report("chmod", chmod(path, octal));
    if (strcmp(mode, "fchmodat") == 0) return report("fchmodat", fchmodat(AT_FDCWD, path, octal, 0));
    if (strcmp(mode, "fchmod") == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) return report("open", fd);
        return report("fchmod", fchmod(fd, octal));
    }
    if (strcmp(mode, "create") == 0) {
        int rc = report("create", open(path, O_CREAT | O_EXCL | O_WRONLY, octal));
        print_mode(path);
        return rc;
    }
    if (strcmp(mode, "mknod") == 0) {
        int rc = report("mknod", mknod(path, S_IFREG | octal, 0));
        print_mode(path);
        return rc;
    }
    if (strcmp(mode, "mkdir") == 0) {
        int rc = report("mkdir", mkdir(path, octal));
        print_mode(path);
        return rc;
    }
    if (strcmp(mode, "setxattr") == 0 || strcmp(mode, "lsetxattr") == 0 || strcmp(mode, "fsetxattr") == 0) {
        if (argc < 5) return 2;
        const char *name = argv[3];
        const void *value = argv[4];
        size_t size = strlen(argv[4]);
        if (strcmp(argv[4], "@cap") == 0) {
            value = CAP_BLOB;
            size = sizeof CAP_BLOB;
        }
        if (mode[0] == 's') return report(mode, setxattr(path, name, value, size, 0));
        if (mode[0] == 'l') return report(mode, lsetxattr(path, name, value, size, 0));
        int fd = open(path, O_RDONLY);
        if (fd < 0) return report("open", fd);
        return report(mode, fsetxattr(fd, name, value, size, 0));
    }
    if (strcmp(mode, "listxattr") == 0) {
        char names[4096];
        ssize_t len = listxattr(path, names, sizeof names);
        if (len < 0) return report("listxattr", len);
        for (ssize_t at = 0; at < len; at += (ssize_t)strlen(names + at) + 1) {
            printf("%s\n", names + at);
        }
        return 0;
    }
    if (strcmp(mode, "mode") == 0) {
        print_mode(path);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
