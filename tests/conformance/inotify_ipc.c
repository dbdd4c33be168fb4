#include "conf.h"
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static void drain(int in) {
    char buf[4096] __attribute__((aligned(8)));
    long n = read(in, buf, sizeof buf);
    if (n < 0) { printf("events: %s\n", errname(errno)); return; }
    for (char *p = buf; p < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)p;
        printf("event %s%s%s%s%s%s%s: %s\n", e->mask & IN_CREATE ? "CREATE" : "", e->mask & IN_MODIFY ? "MODIFY" : "",
               e->mask & IN_CLOSE_WRITE ? "CLOSE_WRITE" : "", e->mask & IN_CLOSE_NOWRITE ? "CLOSE_NOWRITE" : "",
               e->mask & IN_DELETE ? "DELETE" : "",
               e->mask & IN_OPEN ? "OPEN" : "", e->mask & IN_ATTRIB ? "ATTRIB" : "", e->len ? e->name : "-");
        p += sizeof *e + e->len;
    }
}

int main(int argc, char **argv) {
    setup(argc, argv);
    mkdir(P("w"), 0755);
    int in = inotify_init1(IN_NONBLOCK);
    OK("inotify_init1", in);
    CK("inotify_init1 bad flag", inotify_init1(0x1));
    int wd = inotify_add_watch(in, P("w"), IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY);
    CK("add watch", wd);
    CK("add watch missing", inotify_add_watch(in, P("nope"), IN_CREATE));
    CK("add watch no mask", inotify_add_watch(in, P("w"), 0));
    CK("add watch onlydir on file", ({ put("plain", "", 0644); inotify_add_watch(in, P("plain"), IN_ONLYDIR | IN_OPEN); }));
    CK("read no events", read(in, (char[64]){0}, 64));
    put("w/file", "abc", 0644);
    drain(in);
    /* The close of a file opened read-only (by the host, under a policy) is the guest's. */
    CK("add watch nowrite", inotify_add_watch(in, P("w"), IN_CREATE | IN_DELETE | IN_CLOSE | IN_MODIFY));
    close(open(P("w/file"), O_RDONLY));
    drain(in);
    unlink(P("w/file"));
    drain(in);
    CK("rm watch", inotify_rm_watch(in, wd));
    CK("rm watch again", inotify_rm_watch(in, wd));
    CK("rm watch bad fd", inotify_rm_watch(9999, 1));
    int sh = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    OK("shmget", sh);
    char *m = shmat(sh, NULL, 0);
    FACT("shmat", m != (void *)-1);
    strcpy(m, "shared");
    struct shmid_ds ds;
    CK("shmctl stat", shmctl(sh, IPC_STAT, &ds));
    CK("shm size", ds.shm_segsz);
    CK("shm nattch", ds.shm_nattch);
    CK("shmdt", shmdt(m));
    CK("shmdt again", shmdt(m));
    CK("shmctl rmid", shmctl(sh, IPC_RMID, NULL));
    CK("shmget excl", ({ int k = shmget(0x1234, 4096, IPC_CREAT | 0600); long r = shmget(0x1234, 4096, IPC_CREAT | IPC_EXCL | 0600); shmctl(k, IPC_RMID, NULL); r; }));
    CK("shmget missing key", shmget(0x4321, 4096, 0));
    CK("shmget too big", shmget(IPC_PRIVATE, (size_t)1 << 62, IPC_CREAT | 0600));
    CK("shmctl bad id", shmctl(999999, IPC_STAT, &ds));
    int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    OK("semget", sem);
    CK("semctl setval", semctl(sem, 0, SETVAL, 3));
    CK("semctl getval", semctl(sem, 0, GETVAL));
    struct sembuf op = { 0, -2, 0 };
    CK("semop", semop(sem, &op, 1));
    CK("semctl getval after", semctl(sem, 0, GETVAL));
    struct sembuf wouldblock = { 1, -1, IPC_NOWAIT };
    CK("semop nowait", semop(sem, &wouldblock, 1));
    struct sembuf badnum = { 5, 1, 0 };
    CK("semop bad semnum", semop(sem, &badnum, 1));
    CK("semtimedop timeout", semtimedop(sem, &(struct sembuf){ 1, -1, 0 }, 1, &(struct timespec){ 0, 1000 }));
    CK("semctl rmid", semctl(sem, 0, IPC_RMID));
    CK("semop removed", semop(sem, &op, 1));
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    OK("msgget", q);
    struct { long type; char text[16]; } msg = { 2, "message" }, got;
    CK("msgsnd", msgsnd(q, &msg, sizeof msg.text, 0));
    CK("msgrcv wrong type", msgrcv(q, &got, sizeof got.text, 3, IPC_NOWAIT));
    CK("msgrcv", msgrcv(q, &got, sizeof got.text, 2, 0));
    STR("msg text", got.text);
    CK("msgrcv empty", msgrcv(q, &got, sizeof got.text, 0, IPC_NOWAIT));
    msgsnd(q, &msg, sizeof msg.text, 0);
    CK("msgrcv too small", msgrcv(q, &got, 2, 0, IPC_NOWAIT));
    CK("msgrcv noerror", msgrcv(q, &got, 2, 0, IPC_NOWAIT | MSG_NOERROR));
    CK("msgsnd bad type", msgsnd(q, &(struct { long t; char c[4]; }){ 0, "x" }, 4, 0));
    CK("msgctl rmid", msgctl(q, IPC_RMID, NULL));
    CK("msgsnd removed", msgsnd(q, &msg, sizeof msg.text, 0));
    return 0;
}
