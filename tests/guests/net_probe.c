/* Network policy probe. Each line names an attempt and what it got (ok, a number, or the
 * errno's name).
 *   net_probe unix FORBIDDEN   unix socket paths: bind in ./out (relative), connect outside
 *                              the grants, sendmsg with a path, sendto in ./out, abstract
 *   net_probe udp              loopback datagrams: sendmsg and sendmmsg with a destination,
 *                              sendto a non-loopback address
 *   net_probe race ABSTRACT FORBIDDEN ROUNDS
 *                              one thread flips a destination between an abstract name and a
 *                              path outside the grants while the other sends datagrams to it */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    if (rc >= 0) {
        printf("%s: ok\n", what);
        return;
    }
    const char *name = errno == EACCES ? "EACCES" : errno == EPERM ? "EPERM" : errno == ECONNREFUSED ? "ECONNREFUSED"
                     : errno == ENOENT ? "ENOENT" : strerror(errno);
    printf("%s: %s\n", what, name);
}

static socklen_t unix_address(struct sockaddr_un *a, const char *path, int abstract) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    memcpy(a->sun_path + (abstract ? 1 : 0), path, n);
    return (socklen_t)(sizeof(sa_family_t) + n + (abstract ? 1 : 1));
}

static struct sockaddr_un flip;
static volatile int stop;
static const char *flip_abstract, *flip_path;

static void *flipper(void *arg) {
    (void)arg;
    struct sockaddr_un a, p;
    unix_address(&a, flip_abstract, 1);
    unix_address(&p, flip_path, 0);
    while (!stop) {
        memcpy(&flip, &a, sizeof a);
        memcpy(&flip, &p, sizeof p);
    }
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 2 && !strcmp(argv[1], "unix")) {
        struct sockaddr_un a;
        int d = socket(AF_UNIX, SOCK_DGRAM, 0);
        socklen_t len = unix_address(&a, "out/s.sock", 0);
        report("bind in out", bind(d, (struct sockaddr *)&a, len));
        struct stat st;
        if (stat("out/s.sock", &st) == 0) printf("mode %o\n", st.st_mode & 0777);
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        len = unix_address(&a, argv[2], 0);
        report("connect outside", connect(c, (struct sockaddr *)&a, len));
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        len = unix_address(&a, "out/s.sock", 0);
        struct iovec iov = {.iov_base = "m", .iov_len = 1};
        struct msghdr m = {.msg_name = &a, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
        report("sendmsg to a path", sendmsg(s, &m, 0));
        char buf[4] = {0};
        report("receive sendmsg", recv(d, buf, sizeof buf, MSG_DONTWAIT) == 1 && buf[0] == 'm' ? 0 : -1);
        struct sockaddr_un outside;
        m.msg_name = &outside;
        m.msg_namelen = unix_address(&outside, argv[2], 0);
        report("sendmsg outside", sendmsg(s, &m, 0));
        report("sendto in out", sendto(s, "t", 1, 0, (struct sockaddr *)&a, len));
        report("receive", recv(d, buf, sizeof buf, MSG_DONTWAIT) == 1 && buf[0] == 't' ? 0 : -1);
        int b = socket(AF_UNIX, SOCK_STREAM, 0);
        len = unix_address(&a, "trapbox-probe-nobody", 1);
        report("abstract connect", connect(b, (struct sockaddr *)&a, len));
    } else if (argc > 1 && !strcmp(argv[1], "udp")) {
        int r = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        report("bind loopback", bind(r, (struct sockaddr *)&a, sizeof a));
        socklen_t len = sizeof a;
        getsockname(r, (struct sockaddr *)&a, &len);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct iovec iov[3] = {{.iov_base = "one", .iov_len = 3}, {.iov_base = "four", .iov_len = 4}, {.iov_base = "seven", .iov_len = 5}};
        struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = iov, .msg_iovlen = 1};
        report("sendmsg loopback", sendmsg(s, &m, 0));
        /* Three messages: each is decided on its own, the third's destination is not loopback. */
        struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9)};
        inet_pton(AF_INET, "10.255.255.1", &far.sin_addr);
        struct mmsghdr mm[3];
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < 3; i++) {
            mm[i].msg_hdr.msg_name = i < 2 ? &a : &far;
            mm[i].msg_hdr.msg_namelen = sizeof a;
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_len = 99;
        }
        int sent = sendmmsg(s, mm, 2, 0);
        printf("sendmmsg loopback: %d, msg_len %u %u\n", sent, mm[0].msg_len, mm[1].msg_len);
        mm[0].msg_len = mm[1].msg_len = 99;
        sent = sendmmsg(s, mm, 3, 0);
        printf("sendmmsg to loopback and beyond: %d, msg_len %u %u %u\n", sent, mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
        char buf[8];
        int got = 0;
        while (recv(r, buf, sizeof buf, MSG_DONTWAIT) > 0) got++;
        printf("received %d\n", got);
        m.msg_name = &far;
        report("sendmsg non-loopback", sendmsg(s, &m, 0));
    } else if (argc > 4 && !strcmp(argv[1], "race")) {
        flip_abstract = argv[2];
        flip_path = argv[3];
        int rounds = atoi(argv[4]);
        unix_address(&flip, flip_abstract, 1);
        pthread_t t;
        pthread_create(&t, NULL, flipper, NULL);
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        int sent = 0;
        for (int i = 0; i < rounds; i++)
            if (sendto(s, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&flip, sizeof flip) == 1) sent++;
        stop = 1;
        pthread_join(t, NULL);
        printf("sent %d\n", sent);
    } else {
        fprintf(stderr, "usage: net_probe unix FORBIDDEN | udp | race ABSTRACT FORBIDDEN ROUNDS\n");
        return 2;
    }
    return 0;
}
