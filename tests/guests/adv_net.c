/* Adversarial network attempts (tests/tests/run_adversarial.rs). Each mode prints one line
 * per attempt; the test checks on the host's side that its listeners received nothing.
 * Also a host-side helper: `reuseport-serve PORT SECONDS` (run natively by the test). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/syscall.h>

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }
static const char marker[] = "TRAPBOX-ADV-MARKER\n";

/* A sockaddr for HOST:PORT (IPv4 or IPv6 text), in *ss; its length. */
static socklen_t addr_of(const char *host, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof *v4;
    }
    inet_pton(AF_INET6, host, &v6->sin6_addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof *v6;
}

static void tcp(const char *host, int port) {
    struct sockaddr_storage ss;
    socklen_t len = addr_of(host, port, &ss);
    int s = socket(ss.ss_family, SOCK_STREAM, 0);
    if (s < 0) {
        printf("tcp %s: socket %s\n", host, strerror(errno));
        return;
    }
    int r = connect(s, (struct sockaddr *)&ss, len);
    printf("tcp %s: connect %s\n", host, err(r));
    if (r == 0) printf("tcp %s: send %s\n", host, err(send(s, marker, sizeof marker - 1, 0)));
    close(s);
    /* Fast open: the address travels with the data. */
    s = socket(ss.ss_family, SOCK_STREAM, 0);
    printf("tcp %s: fastopen %s\n", host, err(sendto(s, marker, sizeof marker - 1, MSG_FASTOPEN, (struct sockaddr *)&ss, len)));
    close(s);
}

static void udp_to(int s, const char *what, const char *host, int port) {
    struct sockaddr_storage ss;
    socklen_t len = addr_of(host, port, &ss);
    printf("%s %s: %s\n", what, host, err(sendto(s, marker, sizeof marker - 1, 0, (struct sockaddr *)&ss, len)));
}

static volatile int stop;
static struct sockaddr_in race_addr;
static struct in_addr race_good, race_bad;
static void *flip_addr(void *unused) {
    (void)unused;
    while (!stop) {
        race_addr.sin_addr = race_good;
        __asm__ volatile("" ::: "memory");
        race_addr.sin_addr = race_bad;
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *mode = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "tcp")) { /* tcp PORT HOST... */
        for (int i = 3; i < argc; i++) tcp(argv[i], atoi(argv[2]));
    } else if (!strcmp(mode, "udp")) { /* udp PORT HOST...: plain, connected+sendto, sendmmsg */
        int port = atoi(argv[2]);
        for (int i = 3; i < argc; i++) {
            struct sockaddr_storage ss;
            addr_of(argv[i], port, &ss);
            int s = socket(ss.ss_family, SOCK_DGRAM, 0);
            udp_to(s, "sendto", argv[i], port);
            /* Connected to loopback, then a datagram to the other address. */
            struct sockaddr_storage lo;
            socklen_t lolen = addr_of(ss.ss_family == AF_INET ? "127.0.0.1" : "::1", port + 1, &lo);
            printf("connect loopback: %s\n", err(connect(s, (struct sockaddr *)&lo, lolen)));
            udp_to(s, "connected sendto", argv[i], port);
            /* sendmmsg: the first message to loopback, the second to the other address. */
            struct sockaddr_storage far;
            socklen_t farlen = addr_of(argv[i], port, &far);
            struct iovec iov = {(void *)marker, sizeof marker - 1};
            struct mmsghdr m[2];
            memset(m, 0, sizeof m);
            m[0].msg_hdr = (struct msghdr){.msg_name = &lo, .msg_namelen = lolen, .msg_iov = &iov, .msg_iovlen = 1};
            m[1].msg_hdr = (struct msghdr){.msg_name = &far, .msg_namelen = farlen, .msg_iov = &iov, .msg_iovlen = 1};
            int u = socket(ss.ss_family, SOCK_DGRAM, 0);
            int sent = sendmmsg(u, m, 2, 0);
            printf("sendmmsg: %d\n", sent);
            if (sent == 1) printf("sendmmsg again: %d\n", sendmmsg(u, m + 1, 1, 0));
            /* sendmsg with the far address. */
            struct msghdr h = {.msg_name = &far, .msg_namelen = farlen, .msg_iov = &iov, .msg_iovlen = 1};
            printf("sendmsg: %s\n", err(sendmsg(u, &h, 0)));
            close(s);
            close(u);
        }
    } else if (!strcmp(mode, "lsrr")) { /* lsrr FIRSTHOP PORT: source route in a control message */
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
        inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
        unsigned char opt[8] = {IPOPT_LSRR, 7, 4};
        inet_pton(AF_INET, argv[2], opt + 3);
        char cbuf[CMSG_SPACE(8)] = {0};
        struct iovec iov = {(void *)marker, sizeof marker - 1};
        struct msghdr m = {.msg_name = &d, .msg_namelen = sizeof d, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_RETOPTS;
        c->cmsg_len = CMSG_LEN(8);
        memcpy(CMSG_DATA(c), opt, 8);
        printf("sendmsg lsrr: %s\n", err(sendmsg(s, &m, 0)));
        printf("setsockopt IP_OPTIONS: %s\n", err(setsockopt(s, IPPROTO_IP, IP_OPTIONS, opt, 8)));
        /* IP_PKTINFO: an outgoing interface and source of another host's. */
        struct in_pktinfo pi = {.ipi_ifindex = 2};
        inet_pton(AF_INET, argv[2], &pi.ipi_spec_dst);
        char cbuf2[CMSG_SPACE(sizeof pi)] = {0};
        m.msg_control = cbuf2;
        m.msg_controllen = sizeof cbuf2;
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
        printf("sendmsg pktinfo: %s\n", err(sendmsg(s, &m, 0)));
    } else if (!strcmp(mode, "addr-race")) { /* addr-race PORT GOODHOST BADHOST */
        race_addr.sin_family = AF_INET;
        race_addr.sin_port = htons(atoi(argv[2]));
        inet_pton(AF_INET, argv[3], &race_good);
        inet_pton(AF_INET, argv[4], &race_bad);
        race_addr.sin_addr = race_good;
        pthread_t t;
        pthread_create(&t, NULL, flip_addr, NULL);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        int sent = 0, tries = 0;
        for (; tries < 4000; tries++) {
            if (sendto(s, marker, sizeof marker - 1, 0, (struct sockaddr *)&race_addr, sizeof race_addr) > 0) sent++;
            if (tries % 8 == 0) {
                int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                connect(c, (struct sockaddr *)&race_addr, sizeof race_addr);
                close(c);
            }
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("addr race tries %d sent %d\n", tries, sent);
    } else if (!strcmp(mode, "listen-any")) { /* listen-any PORT: bound to every address */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_storage ss;
        socklen_t len = addr_of("0.0.0.0", atoi(argv[2]), &ss);
        printf("bind any: %s\n", err(bind(s, (struct sockaddr *)&ss, len)));
        printf("listen any: %s\n", err(listen(s, 8)));
        int u = socket(AF_INET, SOCK_STREAM, 0);
        printf("listen unbound: %s\n", err(listen(u, 8)));
        int v6 = socket(AF_INET6, SOCK_STREAM, 0);
        int zero = 0;
        setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        len = addr_of("::", atoi(argv[2]) + 1, &ss);
        printf("bind v6 any: %s\n", err(bind(v6, (struct sockaddr *)&ss, len)));
        printf("listen v6: %s\n", err(listen(v6, 8)));
        len = addr_of("::ffff:0.0.0.0", atoi(argv[2]) + 2, &ss);
        int v6b = socket(AF_INET6, SOCK_STREAM, 0);
        printf("bind mapped any: %s\n", err(bind(v6b, (struct sockaddr *)&ss, len)));
        printf("listen mapped: %s\n", err(listen(v6b, 8)));
        sleep(2); /* the test tries to connect meanwhile */
    } else if (!strcmp(mode, "reuseport")) { /* reuseport PORT SECONDS: try to join a host listener's port group (refused below --net all) */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        printf("SO_REUSEPORT: %s\n", err(setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)));
        printf("SO_REUSEADDR: %s\n", err(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)));
        struct sockaddr_storage ss;
        socklen_t len = addr_of("127.0.0.1", atoi(argv[2]), &ss);
        printf("bind: %s\n", err(bind(s, (struct sockaddr *)&ss, len)));
        printf("listen: %s\n", err(listen(s, 64)));
        int stolen = 0;
        time_t end = time(NULL) + atoi(argv[3]);
        while (time(NULL) < end) {
            struct pollfd p = {s, POLLIN, 0};
            if (poll(&p, 1, 100) == 1) {
                int c = accept(s, NULL, NULL);
                if (c >= 0) stolen++, close(c);
            }
        }
        printf("stolen %d\n", stolen);
    } else if (!strcmp(mode, "reuseport-serve")) { /* host side: reuseport-serve PORT SECONDS */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_storage ss;
        socklen_t len = addr_of("127.0.0.1", atoi(argv[2]), &ss);
        if (bind(s, (struct sockaddr *)&ss, len) || listen(s, 64)) {
            printf("serve: %s\n", strerror(errno));
            return 1;
        }
        printf("listening\n");
        int served = 0;
        time_t end = time(NULL) + atoi(argv[3]);
        while (time(NULL) < end) {
            struct pollfd p = {s, POLLIN, 0};
            if (poll(&p, 1, 100) == 1) {
                int c = accept(s, NULL, NULL);
                if (c >= 0) served++, close(c);
            }
        }
        printf("served %d\n", served);
    } else if (!strcmp(mode, "unix")) { /* unix PATH-OR-@NAME...: connect and send */
        for (int i = 2; i < argc; i++) {
            struct sockaddr_un u = {.sun_family = AF_UNIX};
            socklen_t len;
            if (argv[i][0] == '@') {
                strncpy(u.sun_path + 1, argv[i] + 1, sizeof u.sun_path - 2);
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[i] + 1));
            } else {
                strncpy(u.sun_path, argv[i], sizeof u.sun_path - 1);
                len = sizeof u;
            }
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            int r = connect(s, (struct sockaddr *)&u, len);
            printf("unix %s: connect %s\n", argv[i], err(r));
            if (r == 0) send(s, marker, sizeof marker - 1, 0);
            close(s);
            int d = socket(AF_UNIX, SOCK_DGRAM, 0);
            printf("unix %s: sendto %s\n", argv[i], err(sendto(d, marker, sizeof marker - 1, 0, (struct sockaddr *)&u, len)));
            close(d);
        }
    } else if (!strcmp(mode, "raw")) { /* raw: raw and packet sockets, other netlink families */
        printf("AF_INET SOCK_RAW: %s\n", err(socket(AF_INET, SOCK_RAW, IPPROTO_UDP)));
        printf("AF_INET6 SOCK_RAW: %s\n", err(socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)));
        printf("AF_PACKET: %s\n", err(socket(AF_PACKET, SOCK_RAW, htons(3))));
        printf("AF_PACKET dgram: %s\n", err(socket(AF_PACKET, SOCK_DGRAM, htons(3))));
        printf("SOCK_PACKET: %s\n", err(socket(AF_INET, SOCK_PACKET, htons(3))));
        printf("ICMP dgram: %s\n", err(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)));
        printf("NETLINK_SOCK_DIAG: %s\n", err(socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG)));
        printf("NETLINK_AUDIT: %s\n", err(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)));
        printf("NETLINK_KOBJECT_UEVENT: %s\n", err(socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)));
        printf("NETLINK_GENERIC: %s\n", err(socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC)));
        printf("AF_VSOCK: %s\n", err(socket(40, SOCK_STREAM, 0)));
        printf("AF_ALG: %s\n", err(socket(38, SOCK_SEQPACKET, 0)));
        printf("high-bit domain: %s\n", err(syscall(41, (1L << 32) | AF_PACKET, SOCK_RAW, 0)));
    } else if (!strcmp(mode, "netlink-write")) { /* netlink-write: RTM_NEWADDR by write and writev */
        int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
        printf("socket: %s\n", err(s));
        struct {
            struct nlmsghdr n;
            struct ifaddrmsg a;
            struct rtattr r;
            unsigned char ip[4];
        } req;
        memset(&req, 0, sizeof req);
        req.n.nlmsg_len = sizeof req;
        req.n.nlmsg_type = RTM_NEWADDR;
        req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
        req.a.ifa_family = AF_INET;
        req.a.ifa_prefixlen = 32;
        req.a.ifa_index = 1;
        req.r.rta_type = IFA_LOCAL;
        req.r.rta_len = RTA_LENGTH(4);
        inet_pton(AF_INET, "10.213.7.10", req.ip);
        struct sockaddr_nl k = {.nl_family = AF_NETLINK};
        printf("connect kernel: %s\n", err(connect(s, (struct sockaddr *)&k, sizeof k)));
        printf("write: %s\n", err(write(s, &req, sizeof req)));
        struct iovec iov[2] = {{&req, 8}, {(char *)&req + 8, sizeof req - 8}};
        printf("writev: %s\n", err(writev(s, iov, 2)));
        char ack[512];
        for (int i = 0; i < 2; i++) {
            struct pollfd p = {s, POLLIN, 0};
            if (poll(&p, 1, 500) != 1) break;
            ssize_t n = recv(s, ack, sizeof ack, 0);
            struct nlmsghdr *h = (struct nlmsghdr *)ack;
            if (n > 0 && h->nlmsg_type == NLMSG_ERROR) printf("ack: %s\n", strerror(-((struct nlmsgerr *)NLMSG_DATA(h))->error));
        }
    } else {
        return 2;
    }
    return 0;
}
