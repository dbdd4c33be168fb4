// System V and POSIX IPC in the guest's own IPC namespace.
//   ipc_probe create KEY NAME   create a shm segment, a semaphore set, a message queue (key
//                               KEY) and a POSIX queue NAME, use each, and leave them in place
//   ipc_probe absent KEY NAME   report whether each of them exists here (after a guest run:
//                               none may, in the host's namespace)
//   ipc_probe remove KEY NAME   remove them (after a native run)
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static void report(const char *what, long rc) {
    if (rc < 0)
        printf("%s: %s\n", what, strerror(errno));
    else
        printf("%s: ok\n", what);
}

int main(int argc, char **argv) {
    if (argc != 4)
        return 2;
    key_t key = (key_t)strtol(argv[2], NULL, 0);
    const char *name = argv[3];
    if (!strcmp(argv[1], "create")) {
        int shm = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
        report("shmget", shm);
        char *p = shm >= 0 ? shmat(shm, NULL, 0) : (void *)-1;
        report("shmat", p == (void *)-1 ? -1 : 0);
        if (p != (void *)-1) {
            strcpy(p, "shared");
            struct shmid_ds ds;
            report("shmctl IPC_STAT", shmctl(shm, IPC_STAT, &ds));
            printf("segment: %s, %zu bytes, %lu attached\n", p, ds.shm_segsz, (unsigned long)ds.shm_nattch);
            report("shmdt", shmdt(p));
        }
        int sem = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
        report("semget", sem);
        struct sembuf up = {0, 2, 0};
        report("semop", semop(sem, &up, 1));
        printf("semaphore: %d\n", semctl(sem, 0, GETVAL));
        int msq = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
        report("msgget", msq);
        struct { long type; char text[16]; } out = {7, "message"}, in = {0, ""};
        report("msgsnd", msgsnd(msq, &out, sizeof out.text, 0));
        report("msgrcv", msgrcv(msq, &in, sizeof in.text, 7, 0));
        printf("message: %s\n", in.text);
        struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};
        mqd_t mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
        report("mq_open", mq);
        report("mq_send", mq_send(mq, "queued", 7, 1));
        char buf[32] = "";
        report("mq_receive", mq_receive(mq, buf, sizeof buf, NULL));
        printf("queue: %s\n", buf);
        return 0;
    }
    if (!strcmp(argv[1], "absent")) {
        report("shm here", shmget(key, 0, 0));
        report("sem here", semget(key, 0, 0));
        report("msq here", msgget(key, 0));
        report("mq here", mq_open(name, O_RDONLY));
        return 0;
    }
    if (!strcmp(argv[1], "remove")) {
        shmctl(shmget(key, 0, 0), IPC_RMID, NULL);
        semctl(semget(key, 0, 0), 0, IPC_RMID);
        msgctl(msgget(key, 0), IPC_RMID, NULL);
        mq_unlink(name);
        return 0;
    }
    return 2;
}
