/* Probes of the kernel isolation underneath the host's rules: each mode makes one attempt a
 * root guest would make to reach the host's namespaces and prints what the kernel said.
 *   ns_probe ids                     the guest's view of itself (pid, parent, uid map line)
 *   ns_probe reach PID               scheduling, priority, I/O priority, affinity, signal of PID
 *   ns_probe iface                   change lo's MTU and queue length through a unix socket
 *   ns_probe netlink                 add an address to lo over route netlink
 *   ns_probe hostname NAME           sethostname, then the same from a clone(CLONE_NEWUTS) child
 *   ns_probe newns                   clone(CLONE_NEWNET|CLONE_NEWNS) child that tries mount(tmpfs)
 *   ns_probe idmap                   unshare a user and a network namespace, write its maps,
 *                                    then a network setting of its own
 *   ns_probe nested                  unshare every namespace, then, as PID 1 of the new PID
 *                                    namespace, read /etc/shadow, mount, chroot and ptrace
 *   ns_probe pidfd DIR               open a /proc/PID directory and signal it through that fd
 *   ns_probe pidfd-child             pidfd_open a child of its own and signal it
 *   ns_probe procfd-child            the same through the child's /proc/PID directory */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }

static int newns_child(void *arg) {
    (void)arg;
    long rc = mount("none", "/mnt", "tmpfs", 0, NULL);
    printf("mount tmpfs in a new mount namespace: %s\n", err(rc));
    fflush(stdout);
    return 0;
}

static int uts_child(void *name) {
    printf("sethostname in a new UTS namespace: %s\n", err(sethostname(name, strlen(name))));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "ids")) {
        printf("pid %d ppid %d\n", getpid(), getppid());
        return 0;
    }
    if (!strcmp(mode, "reach") && argc > 2) {
        pid_t target = atoi(argv[2]);
        printf("setpriority: %s\n", err(setpriority(PRIO_PROCESS, target, 19)));
        struct sched_param param = {0};
        printf("sched_setscheduler: %s\n", err(sched_setscheduler(target, SCHED_IDLE, &param)));
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        printf("sched_setaffinity: %s\n", err(sched_setaffinity(target, sizeof set, &set)));
        printf("ioprio_set: %s\n", err(syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, target, (3 << 13) /* idle */)));
        printf("kill: %s\n", err(kill(target, SIGKILL)));
        return 0;
    }
    if (!strcmp(mode, "iface")) {
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct ifreq req;
        memset(&req, 0, sizeof req);
        strcpy(req.ifr_name, "lo");
        req.ifr_mtu = 1280;
        printf("SIOCSIFMTU: %s\n", err(ioctl(s, SIOCSIFMTU, &req)));
        req.ifr_qlen = 7;
        printf("SIOCSIFTXQLEN: %s\n", err(ioctl(s, SIOCSIFTXQLEN, &req)));
        return 0;
    }
    if (!strcmp(mode, "netlink")) {
        int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
        if (s < 0) {
            printf("netlink socket: %s\n", err(s));
            return 0;
        }
        struct {
            struct nlmsghdr nh;
            struct ifaddrmsg ifa;
            struct rtattr rta;
            unsigned char addr[4];
        } req;
        memset(&req, 0, sizeof req);
        req.nh.nlmsg_len = sizeof req;
        req.nh.nlmsg_type = RTM_NEWADDR;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        req.ifa.ifa_family = AF_INET;
        req.ifa.ifa_prefixlen = 32;
        req.ifa.ifa_index = if_nametoindex("lo");
        req.rta.rta_type = IFA_LOCAL;
        req.rta.rta_len = RTA_LENGTH(4);
        memcpy(req.addr, (unsigned char[]){10, 213, 7, 9}, 4);
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        long sent = sendto(s, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel);
        if (sent < 0) {
            printf("RTM_NEWADDR: %s\n", err(sent));
            return 0;
        }
        char reply[4096];
        long got = recv(s, reply, sizeof reply, 0);
        struct nlmsghdr *nh = (struct nlmsghdr *)reply;
        if (got >= (long)sizeof *nh && nh->nlmsg_type == NLMSG_ERROR) {
            int e = -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
            printf("RTM_NEWADDR: %s\n", e ? strerrorname_np(e) : "ok");
        } else {
            printf("RTM_NEWADDR: no answer\n");
        }
        return 0;
    }
    if (!strcmp(mode, "hostname") && argc > 2) {
        printf("sethostname: %s\n", err(sethostname(argv[2], strlen(argv[2]))));
        fflush(stdout);
        static char stack[65536];
        int child = clone(uts_child, stack + sizeof stack, CLONE_NEWUTS | SIGCHLD, argv[2]);
        if (child < 0) {
            printf("clone(CLONE_NEWUTS): %s\n", err(child));
        } else {
            waitpid(child, NULL, 0);
        }
        return 0;
    }
    if (!strcmp(mode, "pidfd") && argc > 2) {
        int fd = open(argv[2], O_RDONLY | O_DIRECTORY);
        printf("open %s: %s\n", argv[2], err(fd));
        if (fd >= 0)
            printf("pidfd_send_signal: %s\n", err(syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0)));
        return 0;
    }
    if (!strcmp(mode, "pidfd-child") || !strcmp(mode, "procfd-child")) {
        pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        int fd;
        if (!strcmp(mode, "pidfd-child")) {
            fd = (int)syscall(SYS_pidfd_open, child, 0);
            printf("pidfd_open: %s\n", err(fd));
        } else {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d", (int)child);
            fd = open(path, O_RDONLY | O_DIRECTORY);
            printf("open /proc/CHILD: %s\n", err(fd));
        }
        printf("pidfd_send_signal: %s\n", err(syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0)));
        int status = 0;
        waitpid(child, &status, 0);
        printf("child: %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? "terminated" : "not signalled");
        return 0;
    }
    if (!strcmp(mode, "idmap")) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        printf("unshare user and net: %s\n", err(unshare(CLONE_NEWUSER | CLONE_NEWNET)));
        char line[64];
        const char *files[] = {"/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map", "/proc/sys/net/ipv4/ping_group_range"};
        for (int i = 0; i < 4; i++) {
            if (i == 0) snprintf(line, sizeof line, "deny");
            else if (i == 1) snprintf(line, sizeof line, "0 %d 1", uid);
            else if (i == 2) snprintf(line, sizeof line, "0 %d 1", gid);
            else snprintf(line, sizeof line, "0 0");
            int fd = open(files[i], O_WRONLY);
            long n = fd < 0 ? fd : write(fd, line, strlen(line));
            printf("write %s: %s\n", files[i], err(n));
            if (fd >= 0) close(fd);
        }
        printf("uid in the new namespace: %d\n", getuid());
        return 0;
    }
    if (!strcmp(mode, "nested")) {
        int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
        printf("unshare every namespace: %s\n", err(unshare(flags)));
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            printf("pid in the new namespace: %d\n", getpid());
            printf("open /etc/shadow: %s\n", err(open("/etc/shadow", O_RDONLY)));
            printf("mount tmpfs: %s\n", err(mount("none", "/tmp", "tmpfs", 0, NULL)));
            printf("chroot: %s\n", err(chroot("/tmp")));
            printf("ptrace the parent: %s\n", err(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0, 0)));
            fflush(stdout);
            _exit(0);
        }
        waitpid(child, NULL, 0);
        return 0;
    }
    if (!strcmp(mode, "newns")) {
        static char stack[65536];
        int child = clone(newns_child, stack + sizeof stack, CLONE_NEWNET | CLONE_NEWNS | SIGCHLD, NULL);
        if (child < 0) {
            printf("clone(CLONE_NEWNET|CLONE_NEWNS): %s\n", err(child));
        } else {
            waitpid(child, NULL, 0);
        }
        return 0;
    }
    return 2;
}
