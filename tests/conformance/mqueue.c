/* POSIX message queues: the guest's own, in its own IPC namespace (natively the host's). */
#include "conf.h"
#include <mqueue.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    char name[64];
    snprintf(name, sizeof name, "/trapbox_conf_%d", (int)getpid());
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 16;
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    FACT("mq_open create", q >= 0);
    CK("mq_open exclusive again", mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr));
    CK("mq_send", mq_send(q, "hello", 5, 1));
    char buf[16] = {0};
    unsigned prio = 0;
    CK("mq_receive", mq_receive(q, buf, sizeof buf, &prio));
    STR("message", buf);
    CK("priority", prio);
    struct mq_attr got;
    CK("mq_getattr", mq_getattr(q, &got));
    CK("maxmsg", got.mq_maxmsg);
    CK("mq_receive small buffer", mq_receive(q, buf, 4, &prio));
    mqd_t again = mq_open(name, O_RDONLY);
    FACT("mq_open existing", again >= 0);
    CK("mq_close", mq_close(again));
    CK("mq_close", mq_close(q));
    CK("mq_unlink", mq_unlink(name));
    CK("mq_unlink again", mq_unlink(name));
    CK("mq_open missing", mq_open(name, O_RDONLY));
    CK("mq_open bad name", mq_open("/a/b", O_CREAT | O_RDWR, 0600, &attr));
    return 0;
}
