/* Probes for the policy's default deny and network rules: each subcommand attempts one
 * thing and prints "NAME: ok" or "NAME: <errno name>". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static void report(const char *what, int rc) {
    if (rc >= 0) printf("%s: ok\n", what);
    else printf("%s: %s\n", what, errno == EACCES ? "EACCES" : errno == EPERM ? "EPERM" : errno == ENOENT ? "ENOENT" : strerror(errno));
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "fchmod")) {
        int fd = open(argv[2], O_RDONLY);
        report("open", fd);
        report("fchmod", fchmod(fd, 0600));
    } else if (!strcmp(cmd, "xattr")) {
        report("setxattr", setxattr(argv[2], "user.trapbox", "v1", 2, 0));
        char value[16] = {0};
        ssize_t n = getxattr(argv[2], "user.trapbox", value, sizeof value);
        printf("getxattr: %zd %s\n", n, n > 0 ? value : "-");
        char names[256] = {0};
        ssize_t m = listxattr(argv[2], names, sizeof names);
        printf("listxattr: %s\n", m > 0 && memmem(names, (size_t)m, "user.trapbox", 12) ? "listed" : "missing");
        report("getxattr outside", (int)getxattr("/etc/shadow", "user.trapbox", value, sizeof value));
    } else if (!strcmp(cmd, "fexecve")) {
        /* execveat(fd, "", AT_EMPTY_PATH): the file behind the fd needs the exec grant. */
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        report("open", fd);
        char *args[] = {argv[2], NULL};
        fexecve(fd, args, environ);
        report("fexecve", -1);
    } else if (!strcmp(cmd, "atchanges")) {
        /* Metadata changes the kernel would make by path: the host does not serve them so. */
        report("fchownat AT_EMPTY_PATH with a path", fchownat(AT_FDCWD, argv[2], (uid_t)-1, (gid_t)-1, AT_EMPTY_PATH));
        struct { unsigned long long value; unsigned int size, flags; } args = {(unsigned long long)(unsigned long)"v", 1, 0};
        long rc = syscall(463 /* setxattrat */, AT_FDCWD, argv[2], 0, "user.trapbox", &args, sizeof args);
        printf("setxattrat: %s\n", rc == 0 ? "ok" : errno == ENOSYS ? "ENOSYS" : strerror(errno));
    } else if (!strcmp(cmd, "host")) {
        /* Everything a guest could try on the host, its parent: each must be refused. */
        pid_t host = getppid();
        report("ptrace attach", (int)ptrace(PTRACE_ATTACH, host, 0, 0));
        report("ptrace seize", (int)ptrace(PTRACE_SEIZE, host, 0, 0));
        report("kill", kill(host, SIGKILL));
        report("tgkill", (int)syscall(SYS_tgkill, host, host, SIGKILL));
        report("pidfd_open", (int)syscall(SYS_pidfd_open, host, 0));
        char buf[8];
        struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
        report("process_vm_readv", (int)process_vm_readv(host, &local, 1, &remote, 1, 0));
        report("still here", 0);
    } else if (!strcmp(cmd, "kill")) {
        report("kill", kill(atoi(argv[2]), 0));
    } else if (!strcmp(cmd, "shm")) {
        report("shmget", shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    } else if (!strcmp(cmd, "net")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        report("inet socket", s);
        if (s >= 0) {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            report("bind loopback", bind(s, (struct sockaddr *)&a, sizeof a));
            report("listen", listen(s, 4));
            socklen_t len = sizeof a;
            getsockname(s, (struct sockaddr *)&a, &len);
            int c = socket(AF_INET, SOCK_STREAM, 0);
            report("connect loopback", connect(c, (struct sockaddr *)&a, sizeof a));
            int peer = accept(s, NULL, NULL);
            report("accept", peer);
            report("send", (int)write(c, "ping", 4));
            char buf[8] = {0};
            report("receive ping", read(peer, buf, 4) == 4 && !memcmp(buf, "ping", 4) ? 0 : -1);
            struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9)};
            inet_pton(AF_INET, "10.255.255.1", &far.sin_addr);
            int d = socket(AF_INET, SOCK_DGRAM, 0);
            report("sendto non-loopback", (int)sendto(d, "x", 1, 0, (struct sockaddr *)&far, sizeof far));
        }
        report("packet socket", socket(AF_PACKET, SOCK_RAW, 0));
        int u = socket(AF_UNIX, SOCK_STREAM, 0);
        report("unix socket", u);
        struct sockaddr_un abstract = {.sun_family = AF_UNIX};
        memcpy(abstract.sun_path, "\0trapbox-probe", 14);
        report("abstract bind", bind(u, (struct sockaddr *)&abstract, sizeof(sa_family_t) + 14));
    }
    return 0;
}
