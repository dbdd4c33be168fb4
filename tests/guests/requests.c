/* Request-code probe: ioctl, fcntl, setsockopt, prctl, listen and netlink sends. Each line
 * names an attempt and what it got (ok, a value, or the errno's name). Arguments with high
 * bits set go through syscall(2), since libc's prototypes would truncate them to an int.
 *   requests pty              allocate a pty, set it raw, then try to type into it (TIOCSTI)
 *   requests prctl            PR_SET_SECCOMP (with high bits), syscall user dispatch, others
 *   requests ioctl FILE       terminal requests on a socket, file flags, interface queries
 *   requests freeze DIR       FIFREEZE/FITHAW/FS_IOC_SHUTDOWN on DIR (only if it is a tmpfs)
 *   requests fcntl FILE       ordinary fcntl: locks, flags, dup, pipe size, seals, owner
 *   requests lease FILE DIR   F_SETLEASE on FILE (read-only), F_NOTIFY on DIR, then creates
 *                             DIR/ready and waits (10 s at most) for DIR/done
 *   requests sockopt          socket options: refused (SO_BINDTODEVICE, IP_OPTIONS…), ordinary
 *   requests listen           listen on an unbound inet socket, then on one bound to loopback
 *   requests netlink          route netlink: RTM_NEWADDR (sendto, sendmsg, in a batch), a dump
 *   requests onpty PROG ARG…  run PROG in a new session on a new pty (33x99) as its controlling
 *                             terminal; copy what it writes there to stdout */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define HIGH (1UL << 32)

static const char *errno_name(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOTTY: return "ENOTTY";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOENT: return "ENOENT";
    case EAGAIN: return "EAGAIN";
    default: return strerror(e);
    }
}

static void report(const char *what, long rc) {
    if (rc >= 0)
        printf("%s: ok\n", what);
    else
        printf("%s: %s\n", what, errno_name(errno));
}

static int pty(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    report("openpt", m);
    if (m < 0) return 1;
    report("grantpt", grantpt(m));
    report("unlockpt", unlockpt(m));
    const char *name = ptsname(m);
    int s = open(name ? name : "/nonexistent", O_RDWR | O_NOCTTY);
    report("open slave", s);
    if (s < 0) return 1;
    struct termios t;
    report("tcgetattr", tcgetattr(s, &t));
    cfmakeraw(&t);
    report("tcsetattr raw", tcsetattr(s, TCSANOW, &t));
    struct winsize ws = {.ws_row = 33, .ws_col = 99};
    report("set winsize (high bits in fd and request)", syscall(SYS_ioctl, HIGH | s, HIGH | TIOCSWINSZ, &ws));
    memset(&ws, 0, sizeof ws);
    ioctl(m, TIOCGWINSZ, &ws);
    printf("winsize: %dx%d\n", ws.ws_row, ws.ws_col);
    report("isatty", isatty(s) ? 0 : -1);
    char c = 'X';
    report("tiocsti (high bits)", syscall(SYS_ioctl, s, HIGH | TIOCSTI, &c));
    report("tiocsti", ioctl(s, TIOCSTI, &c));
    int pending = -1;
    ioctl(s, FIONREAD, &pending);
    printf("typed into the terminal: %d\n", pending);
    int ldisc = 13; /* N_HDLC */
    report("tiocsetd", ioctl(s, TIOCSETD, &ldisc));
    report("tiocvhangup", ioctl(s, TIOCVHANGUP));
    return 0;
}

static int prctls(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF), /* would outrank the backstop */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = 4, .filter = filter};
    report("seccomp (high bits)", syscall(SYS_prctl, HIGH | PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
    report("seccomp", syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
    char block = 1; /* SYSCALL_DISPATCH_FILTER_BLOCK */
    report("syscall user dispatch", syscall(SYS_prctl, 59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1, 0, 0, &block));
    report("syscall user dispatch (high bits)", syscall(SYS_prctl, HIGH | 59, 1, 0, 0, &block));
    long parent = syscall(SYS_getppid);
    printf("later call: %s\n", parent > 0 ? "ok" : errno_name(errno));
    report("set mm", syscall(SYS_prctl, PR_SET_MM, PR_SET_MM_START_BRK, 0x10000, 0, 0));
    report("ambient raise", syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 13, 0, 0));
    report("ambient clear", syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    report("unknown option", syscall(SYS_prctl, 0x7777, 0, 0, 0, 0));
    report("set name (high bits)", syscall(SYS_prctl, HIGH | PR_SET_NAME, "renamed", 0, 0, 0));
    char name[17] = {0};
    prctl(PR_GET_NAME, name);
    printf("name: %s\n", name);
    report("no new privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    printf("dumpable: %d\n", prctl(PR_GET_DUMPABLE));
    return 0;
}

static int ioctls(const char *path) {
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    struct winsize ws = {.ws_row = 1, .ws_col = 1};
    report("set winsize on a socket", ioctl(sp[0], TIOCSWINSZ, &ws));
    report("set winsize on fd -1", ioctl(-1, TIOCSWINSZ, &ws));
    report("set winsize on fd -1 (high bits)", syscall(SYS_ioctl, HIGH | 0xffffffffUL, TIOCSWINSZ, &ws));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    report("SIOCGIFINDEX lo", ioctl(sp[0], SIOCGIFINDEX, &ifr));
    printf("lo index: %d\n", ifr.ifr_ifindex);
    report("SIOCGIFMTU lo", ioctl(sp[0], SIOCGIFMTU, &ifr));
    /* The same MTU again: no change even if it were allowed. */
    report("SIOCSIFMTU lo", ioctl(sp[0], SIOCSIFMTU, &ifr));
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    report("open file", fd);
    if (fd < 0) return 1;
    int flags = 0;
    report("FS_IOC_GETFLAGS", ioctl(fd, FS_IOC_GETFLAGS, &flags));
    int append = flags | FS_APPEND_FL;
    report("FS_IOC_SETFLAGS append-only", ioctl(fd, FS_IOC_SETFLAGS, &append));
    report("FS_IOC_SETFLAGS append-only (high bits)", syscall(SYS_ioctl, fd, HIGH | FS_IOC_SETFLAGS, &append));
    int immutable = flags | FS_IMMUTABLE_FL;
    report("FS_IOC_SETFLAGS immutable", ioctl(fd, FS_IOC_SETFLAGS, &immutable));
    flags = 0;
    ioctl(fd, FS_IOC_GETFLAGS, &flags);
    printf("append-only or immutable: %s\n", flags & (FS_APPEND_FL | FS_IMMUTABLE_FL) ? "yes" : "no");
    report("FIOCLEX", ioctl(fd, FIOCLEX));
    report("FIONCLEX (high bits)", syscall(SYS_ioctl, fd, HIGH | FIONCLEX));
    report("unknown request", ioctl(fd, 0x12345678, 0));
    report("TCGETS on a file", ioctl(fd, TCGETS, &(struct termios){0}));
    report("tiocsti on a file (high bits)", syscall(SYS_ioctl, fd, HIGH | TIOCSTI, "X"));
    return 0;
}

static int freeze(const char *dir) {
    struct statfs fs;
    if (statfs(dir, &fs) != 0 || fs.f_type != 0x01021994 /* TMPFS_MAGIC */) {
        printf("%s is not a tmpfs: not freezing it\n", dir);
        return 2;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    report("open dir", fd);
    int zero = 0;
    report("FIFREEZE", ioctl(fd, FIFREEZE, &zero));
    report("FIFREEZE (high bits)", syscall(SYS_ioctl, fd, HIGH | FIFREEZE, &zero));
    report("FITHAW", ioctl(fd, FITHAW, &zero));
    uint32_t how = 0;
    report("FS_IOC_SHUTDOWN", ioctl(fd, 0x8004587D /* XFS_IOC_GOINGDOWN */, &how));
    return 0;
}

static int fcntls(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    report("open", fd);
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    report("F_SETLK", fcntl(fd, F_SETLK, &lock));
    lock.l_type = F_RDLCK;
    report("F_GETLK", fcntl(fd, F_GETLK, &lock));
    struct flock ofd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 5};
    report("F_OFD_SETLK", fcntl(fd, F_OFD_SETLK, &ofd));
    int fl = fcntl(fd, F_GETFL);
    report("F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, fl | O_NONBLOCK));
    printf("nonblocking: %s\n", fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no");
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    printf("F_DUPFD_CLOEXEC: %s\n", dup >= 10 && (fcntl(dup, F_GETFD) & FD_CLOEXEC) ? "ok" : errno_name(errno));
    report("F_GETFD (high bits)", syscall(SYS_fcntl, fd, HIGH | F_GETFD));
    int p[2];
    pipe(p);
    report("F_SETPIPE_SZ", fcntl(p[0], F_SETPIPE_SZ, 65536));
    printf("pipe size: %d\n", fcntl(p[0], F_GETPIPE_SZ));
    int mem = memfd_create("sealed", MFD_ALLOW_SEALING);
    report("F_ADD_SEALS", fcntl(mem, F_ADD_SEALS, F_SEAL_GROW));
    printf("grow sealed: %s\n", fcntl(mem, F_GET_SEALS) & F_SEAL_GROW ? "yes" : "no");
    report("F_SETOWN self", fcntl(p[0], F_SETOWN, getpid()));
    printf("owner is self: %s\n", fcntl(p[0], F_GETOWN) == getpid() ? "yes" : "no");
    report("F_SETSIG", fcntl(p[0], F_SETSIG, SIGUSR1));
    report("F_GETLEASE", fcntl(fd, F_GETLEASE));
    return 0;
}

static int lease(const char *file, const char *dir) {
    int fd = open(file, O_RDONLY);
    report("open read-only", fd);
    report("F_SETLEASE read", fcntl(fd, F_SETLEASE, F_RDLCK));
    report("F_SETLEASE read (high bits)", syscall(SYS_fcntl, fd, HIGH | F_SETLEASE, F_RDLCK));
    printf("lease held: %s\n", fcntl(fd, F_GETLEASE) == F_RDLCK ? "yes" : "no");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    report("F_NOTIFY", fcntl(dfd, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
    report("F_SETOWN init", fcntl(fd, F_SETOWN, 1));
    report("F_SETOWN_EX", fcntl(fd, F_SETOWN_EX, &(struct f_owner_ex){.type = F_OWNER_PID, .pid = getpid()}));
    report("unknown command", syscall(SYS_fcntl, fd, 0x7777, 0));
    fflush(stdout);
    char path[4096];
    snprintf(path, sizeof path, "%s/ready", dir);
    close(open(path, O_WRONLY | O_CREAT, 0644));
    snprintf(path, sizeof path, "%s/done", dir);
    for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++) usleep(10000);
    return 0;
}

static int sockopts(void) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    report("udp socket", u);
    report("SO_BINDTODEVICE lo", setsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3));
    report("SO_BINDTODEVICE lo (high bits)", syscall(SYS_setsockopt, u, HIGH | SOL_SOCKET, HIGH | SO_BINDTODEVICE, "lo", 3));
    char device[IFNAMSIZ] = {0};
    socklen_t len = sizeof device;
    getsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, device, &len);
    printf("bound to device: '%s'\n", device);
    /* Loose source route through 10.1.2.3: IPOPT_NOP, IPOPT_LSRR, length 7, pointer 4. */
    unsigned char route[8] = {1, 131, 7, 4, 10, 1, 2, 3};
    report("IP_OPTIONS source route", setsockopt(u, IPPROTO_IP, IP_OPTIONS, route, sizeof route));
    report("IP_OPTIONS source route (high bits)", syscall(SYS_setsockopt, u, HIGH | IPPROTO_IP, HIGH | IP_OPTIONS, route, sizeof route));
    unsigned char options[40];
    len = sizeof options;
    getsockopt(u, IPPROTO_IP, IP_OPTIONS, options, &len);
    printf("ip options set: %u bytes\n", len);
    int one = 1;
    report("SO_MARK", setsockopt(u, SOL_SOCKET, SO_MARK, &one, sizeof one));
    report("IP_TRANSPARENT", setsockopt(u, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof one));
    struct sock_filter accept_all = BPF_STMT(BPF_RET | BPF_K, 0xffff);
    struct sock_fprog prog = {.len = 1, .filter = &accept_all};
    report("SO_ATTACH_FILTER", setsockopt(u, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog));
    report("unknown option", setsockopt(u, SOL_SOCKET, 9999, &one, sizeof one));
    report("SO_REUSEADDR", setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    report("SO_BROADCAST", setsockopt(u, SOL_SOCKET, SO_BROADCAST, &one, sizeof one));
    int tos = 0x10;
    report("IP_TOS", setsockopt(u, IPPROTO_IP, IP_TOS, &tos, sizeof tos));
    struct timeval tv = {.tv_sec = 5};
    report("SO_RCVTIMEO", setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    int t = socket(AF_INET, SOCK_STREAM, 0);
    report("TCP_NODELAY", setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    int idle = 30;
    report("TCP_KEEPIDLE", setsockopt(t, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
    return 0;
}

static int listens(void) {
    int t = socket(AF_INET, SOCK_STREAM, 0);
    report("listen unbound", listen(t, 4));
    struct sockaddr_in name;
    socklen_t len = sizeof name;
    getsockname(t, (struct sockaddr *)&name, &len);
    printf("name: %s:%d\n", inet_ntoa(name.sin_addr), ntohs(name.sin_port));
    int b = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    report("bind loopback", bind(b, (struct sockaddr *)&lo, sizeof lo));
    report("listen bound", listen(b, 4));
    len = sizeof name;
    getsockname(b, (struct sockaddr *)&name, &len);
    printf("name: %s\n", inet_ntoa(name.sin_addr));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(c, (struct sockaddr *)&name, len));
    return 0;
}

/* RTM_NEWADDR 127.0.0.213/32 on interface 1 (lo). */
struct addr_request {
    struct nlmsghdr header;
    struct ifaddrmsg body;
    struct rtattr local_attr;
    struct in_addr local;
};

static struct addr_request new_address(void) {
    struct addr_request r;
    memset(&r, 0, sizeof r);
    r.header.nlmsg_len = sizeof r;
    r.header.nlmsg_type = RTM_NEWADDR;
    r.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
    r.header.nlmsg_seq = 1;
    r.body.ifa_family = AF_INET;
    r.body.ifa_prefixlen = 32;
    r.body.ifa_scope = RT_SCOPE_HOST;
    r.body.ifa_index = 1;
    r.local_attr.rta_len = RTA_LENGTH(sizeof(struct in_addr));
    r.local_attr.rta_type = IFA_LOCAL;
    inet_pton(AF_INET, "127.0.0.213", &r.local);
    return r;
}

static int netlinks(void) {
    int n = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    report("route netlink socket", n);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct addr_request add = new_address();
    report("RTM_NEWADDR by sendto", sendto(n, &add, sizeof add, 0, (struct sockaddr *)&kernel, sizeof kernel));
    struct iovec iov = {.iov_base = &add, .iov_len = sizeof add};
    struct msghdr msg = {.msg_name = &kernel, .msg_namelen = sizeof kernel, .msg_iov = &iov, .msg_iovlen = 1};
    report("RTM_NEWADDR by sendmsg", sendmsg(n, &msg, 0));
    struct {
        struct nlmsghdr header;
        struct rtgenmsg body;
        char pad[3];
        struct addr_request add;
    } batch;
    memset(&batch, 0, sizeof batch);
    batch.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg));
    batch.header.nlmsg_type = RTM_GETLINK;
    batch.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    batch.body.rtgen_family = AF_UNSPEC;
    batch.add = new_address();
    report("RTM_GETLINK then RTM_NEWADDR in one send", sendto(n, &batch, sizeof batch, 0, NULL, 0));
    struct sockaddr_nl other = {.nl_family = AF_NETLINK, .nl_pid = 1234};
    report("RTM_GETLINK to another process", sendto(n, &batch, batch.header.nlmsg_len, 0, (struct sockaddr *)&other, sizeof other));
    struct mmsghdr one = {.msg_hdr = msg};
    report("sendmmsg", syscall(SYS_sendmmsg, n, &one, 1, 0));
    report("RTM_GETLINK dump", sendto(n, &batch, batch.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel));
    char reply[8192];
    long got = recv(n, reply, sizeof reply, 0);
    printf("dump reply: %s\n", got > (long)sizeof(struct nlmsghdr) && ((struct nlmsghdr *)reply)->nlmsg_type == RTM_NEWLINK ? "links" : "none");
    struct ifaddrs *list;
    int found = 0;
    if (getifaddrs(&list) == 0) {
        for (struct ifaddrs *i = list; i; i = i->ifa_next) found |= i->ifa_name && !strcmp(i->ifa_name, "lo");
        freeifaddrs(list);
    }
    printf("getifaddrs sees lo: %s\n", found ? "yes" : "no");
    report("xfrm netlink socket", socket(AF_NETLINK, SOCK_RAW, NETLINK_XFRM));
    return 0;
}

static int onpty(char **argv) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || !ptsname(m)) {
        printf("no pty: %s\n", errno_name(errno));
        return 1;
    }
    char name[64];
    snprintf(name, sizeof name, "%s", ptsname(m));
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int s = open(name, O_RDWR);
        if (s < 0 || ioctl(s, TIOCSCTTY, 0) != 0) _exit(126);
        struct winsize ws = {.ws_row = 33, .ws_col = 99};
        ioctl(s, TIOCSWINSZ, &ws);
        dup2(s, 0), dup2(s, 1), dup2(s, 2);
        if (s > 2) close(s);
        close(m);
        execv(argv[0], argv);
        _exit(127);
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(m, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("exit: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "pty")) return pty();
    if (!strcmp(mode, "prctl")) return prctls();
    if (!strcmp(mode, "ioctl") && argc > 2) return ioctls(argv[2]);
    if (!strcmp(mode, "freeze") && argc > 2) return freeze(argv[2]);
    if (!strcmp(mode, "fcntl") && argc > 2) return fcntls(argv[2]);
    if (!strcmp(mode, "lease") && argc > 3) return lease(argv[2], argv[3]);
    if (!strcmp(mode, "sockopt")) return sockopts();
    if (!strcmp(mode, "listen")) return listens();
    if (!strcmp(mode, "netlink")) return netlinks();
    if (!strcmp(mode, "onpty") && argc > 2) return onpty(argv + 2);
    fprintf(stderr, "usage: requests pty|prctl|ioctl FILE|freeze DIR|fcntl FILE|lease FILE DIR|sockopt|listen|netlink\n");
    return 64;
}
