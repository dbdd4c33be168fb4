#include "conf.h"
#include <poll.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    int p[2], q[2];
    CK("pipe", pipe(p));
    CK("pipe2 bad flag", pipe2(q, 0x1));
    CK("pipe2", pipe2(q, O_CLOEXEC | O_NONBLOCK));
    CK("pipe2 cloexec", fcntl(q[0], F_GETFD));
    printf("pipe2 fl: %o\n", fcntl(q[0], F_GETFL));
    CK("read empty nonblock", read(q[0], (char[4]){0}, 4));
    CK("write", write(p[1], "hello", 5));
    struct pollfd pf[2] = { { p[0], POLLIN, 0 }, { q[0], POLLIN, 0 } };
    CK("poll", poll(pf, 2, 0));
    printf("poll revents: %x %x\n", pf[0].revents, pf[1].revents);
    CK("poll bad fd", ({ struct pollfd b = { 9999, POLLIN, 0 }; int r = poll(&b, 1, 0); printf("bad revents: %x\n", b.revents); r; }));
    CK("poll negative fd ignored", ({ struct pollfd b = { -1, POLLIN, 0 }; poll(&b, 1, 0); }));
    char buf[16] = {0};
    CK("tee", tee(p[0], q[1], 5, 0));
    CK("tee kept data", read(p[0], buf, 2));
    CK("splice", splice(q[0], NULL, p[1], NULL, 5, 0));
    memset(buf, 0, sizeof buf);
    CK("read after splice", read(p[0], buf, sizeof buf));
    STR("data", buf);
    CK("splice bad fd", splice(9999, NULL, p[1], NULL, 5, 0));
    CK("tee same pipe", tee(p[0], p[1], 5, 0));
    put("f", "file-data", 0644);
    int f = open(P("f"), O_RDONLY);
    loff_t off = 5;
    CK("splice from file", splice(f, &off, p[1], NULL, 4, 0));
    CK("splice offset advanced", off);
    memset(buf, 0, sizeof buf);
    read(p[0], buf, sizeof buf);
    STR("spliced", buf);
    CK("splice file to file", splice(f, NULL, open(P("f"), O_WRONLY), NULL, 4, 0));
    CK("tee non pipe", tee(f, p[1], 4, 0));
    CK("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
    CK("F_SETPIPE_SZ", fcntl(p[0], F_SETPIPE_SZ, 8192));
    CK("F_SETPIPE_SZ too big", fcntl(p[0], F_SETPIPE_SZ, 1 << 30));
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    CK("write no reader", write(p[1], "x", 1));
    struct pollfd w = { p[1], POLLOUT, 0 };
    poll(&w, 1, 0);
    printf("poll no reader revents: %x\n", w.revents);
    close(q[1]);
    CK("read eof", read(q[0], buf, sizeof buf));
    struct pollfd h = { q[0], POLLIN, 0 };
    poll(&h, 1, 0);
    printf("poll hup revents: %x\n", h.revents);
    CK("ppoll timeout", ppoll(NULL, 0, &(struct timespec){ 0, 1000 }, NULL));
    CK("ppoll bad timeout", ppoll(NULL, 0, &(struct timespec){ 0, -1 }, NULL));
    return 0;
}
