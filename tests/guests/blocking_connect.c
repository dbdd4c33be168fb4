/* A unix-socket connect that waits (the listener's backlog is full) must hold up no other
 * guest thread, and must end as natively when a signal comes or its process dies.
 *
 *   blocking_connect stall DIR N     thread A connects to DIR/sock, whose backlog is full, and
 *                                    waits; once it waits in that connect, the main thread
 *                                    makes N calls the host decides (stat, kill(pid, 0), a
 *                                    connect to a second listener with room) and looks whether
 *                                    A still waits; then it accepts, which lets A's connect in.
 *   blocking_connect eintr DIR       A waits so; a signal whose handler has no SA_RESTART
 *                                    interrupts it (EINTR).
 *   blocking_connect restart DIR     A waits so; a signal whose handler has SA_RESTART runs
 *                                    the handler and A waits again, until the accept.
 *   blocking_connect abandon DIR N   N child processes in turn wait so, and each is killed
 *                                    while it waits; then a last child's connect must go
 *                                    through once there is room.
 *   blocking_connect send DIR N      thread A sends datagrams to DIR/dgram.sock, which nobody
 *                                    reads, until one waits (the receiver's queue is full);
 *                                    the main thread makes N calls meanwhile, as for stall,
 *                                    then reads, which lets A's send through.
 *
 * "Waits in that connect" is read from the thread's /proc/thread-self/syscall (the call it is
 * inside: connect) and its state in /proc/thread-self/stat (asleep, or stopped by its
 * debugger), which it opened before: the same natively and under trapbox. Lines are printed
 * by the main thread only, in a fixed order. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un full_address, roomy_address, dgram_address;
static volatile int connect_result = 1, connect_errno, handler_ran;
static volatile int syscall_fd = -1, stat_fd = -1;

static void name(struct sockaddr_un *address, const char *dir, const char *file) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    snprintf(address->sun_path, sizeof address->sun_path, "%s/%s", dir, file);
}

/* A listener at `address` with a backlog of one connection only. */
static int listener(const struct sockaddr_un *address) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(address->sun_path);
    if (fd < 0 || bind(fd, (const struct sockaddr *)address, sizeof *address) != 0 || listen(fd, 0) != 0) {
        printf("listener %s: %s\n", address->sun_path, strerrorname_np(errno));
        exit(1);
    }
    return fd;
}

static int connect_to(const struct sockaddr_un *address) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (connect(fd, (const struct sockaddr *)address, sizeof *address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* A listener whose backlog is full: one connection waits in it, never accepted. */
static int full_listener(void) {
    int fd = listener(&full_address);
    if (connect_to(&full_address) < 0) {
        printf("filling the backlog: %s\n", strerrorname_np(errno));
        exit(1);
    }
    return fd;
}

static void pread_all(int fd, char *buf, size_t size) {
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = 0;
}

/* The call the connecting (or sending) thread is to wait in. */
static int waited_call = SYS_connect;

/* Whether the thread whose /proc files these are waits inside that call. */
static int waits_in_connect(int syscall_file, int stat_file) {
    char text[256];
    if (syscall_file < 0 || stat_file < 0) return 0;
    pread_all(syscall_file, text, sizeof text);
    if (atoi(text) != waited_call) return 0;
    pread_all(stat_file, text, sizeof text);
    char *state = strrchr(text, ')');
    return state && state[1] == ' ' && (state[2] == 'S' || state[2] == 't');
}

/* Waits (a bound only for a failure: 60 s) until the connecting thread waits in connect. */
static int until_it_waits(void) {
    for (int i = 0; i < 60000; i++) {
        if (waits_in_connect(syscall_fd, stat_fd)) return 1;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 0;
}

static void *connecting_thread(void *arg) {
    (void)arg;
    stat_fd = open("/proc/thread-self/stat", O_RDONLY);
    syscall_fd = open("/proc/thread-self/syscall", O_RDONLY);
    int fd = connect_to(&full_address);
    connect_errno = errno;
    connect_result = fd < 0 ? -1 : 0;
    return NULL;
}

static void on_signal(int signo) {
    (void)signo;
    handler_ran = 1;
}

static const char *outcome(void) { return connect_result == 0 ? "ok" : strerrorname_np(connect_errno); }

/* Rounds of calls the host decides while thread A waits: how many failed. */
static int calls_meanwhile(const char *dir, int calls) {
    int roomy = listener(&roomy_address);
    int failed = 0;
    for (int i = 0; i < calls; i++) {
        struct stat st;
        failed += stat(dir, &st) != 0;
        failed += kill(getpid(), 0) != 0;
        int fd = connect_to(&roomy_address);
        failed += fd < 0;
        if (fd >= 0) close(fd);
        int peer = accept(roomy, NULL, NULL);
        failed += peer < 0;
        if (peer >= 0) close(peer);
    }
    close(roomy);
    return failed;
}

/* Once thread A waits in its `call`, makes the main thread's calls and says whether A still
 * waited after them; 0 if A ever waited. */
static int calls_while_it_waits(const char *call, const char *dir, int calls) {
    if (!until_it_waits()) {
        printf("thread A never waited in %s\n", call);
        return 1;
    }
    int failed = calls_meanwhile(dir, calls);
    int still_waiting = connect_result == 1 && waits_in_connect(syscall_fd, stat_fd);
    printf("%d calls of the main thread: %d failed; thread A still waited in its %s: %s\n", calls, failed, call, still_waiting ? "yes" : "no");
    return 0;
}

static int stall(const char *dir, int calls) {
    int full = full_listener();
    pthread_t a;
    pthread_create(&a, NULL, connecting_thread, NULL);
    if (calls_while_it_waits("connect", dir, calls) != 0) return 1;
    int peer = accept(full, NULL, NULL);
    pthread_join(a, NULL);
    printf("after an accept (%s), thread A's connect: %s\n", peer >= 0 ? "ok" : strerrorname_np(errno), outcome());
    return 0;
}

static volatile int sending_done;

/* Sends datagrams until one has waited for room and gone through, and the main thread said
 * stop. */
static void *sending_thread(void *arg) {
    (void)arg;
    stat_fd = open("/proc/thread-self/stat", O_RDONLY);
    syscall_fd = open("/proc/thread-self/syscall", O_RDONLY);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    while (!sending_done) {
        if (sendto(fd, "x", 1, 0, (const struct sockaddr *)&dgram_address, sizeof dgram_address) != 1) {
            connect_errno = errno;
            connect_result = -1;
            return NULL;
        }
    }
    connect_result = 0;
    return NULL;
}

static int send_stall(const char *dir, int calls) {
    int receiver = socket(AF_UNIX, SOCK_DGRAM, 0);
    unlink(dgram_address.sun_path);
    if (receiver < 0 || bind(receiver, (const struct sockaddr *)&dgram_address, sizeof dgram_address) != 0) {
        printf("receiver: %s\n", strerrorname_np(errno));
        return 1;
    }
    waited_call = SYS_sendto;
    pthread_t a;
    pthread_create(&a, NULL, sending_thread, NULL);
    if (calls_while_it_waits("sendto", dir, calls) != 0) return 1;
    sending_done = 1;
    char byte;
    while (recv(receiver, &byte, 1, MSG_DONTWAIT) == 1) {}
    pthread_join(a, NULL);
    printf("after reading, thread A's sends: %s\n", outcome());
    return 0;
}

static int interrupted(int restart) {
    int full = full_listener();
    struct sigaction action = {.sa_handler = on_signal, .sa_flags = restart ? SA_RESTART : 0};
    sigaction(SIGUSR1, &action, NULL);
    pthread_t a;
    pthread_create(&a, NULL, connecting_thread, NULL);
    if (!until_it_waits()) {
        printf("thread A never waited in connect\n");
        return 1;
    }
    pthread_kill(a, SIGUSR1);
    if (restart) {
        /* The handler runs, then the connect starts again and waits again. */
        while (!handler_ran) sched_yield();
        if (!until_it_waits()) {
            printf("thread A's connect did not start again\n");
            return 1;
        }
        printf("the handler ran; thread A waits in its connect again: %s\n", connect_result == 1 ? "yes" : "no");
        int peer = accept(full, NULL, NULL);
        if (peer < 0) printf("accept: %s\n", strerrorname_np(errno));
    }
    pthread_join(a, NULL);
    printf("thread A's connect after a signal (%s): %s; handler ran: %s\n", restart ? "SA_RESTART" : "no SA_RESTART", outcome(), handler_ran ? "yes" : "no");
    return 0;
}

static int abandon(int children) {
    int full = full_listener();
    for (int i = 0; i < children; i++) {
        int waiting[2];
        if (pipe(waiting) != 0) return 1;
        pid_t child = fork();
        if (child == 0) {
            /* A thread waits in connect; the main thread says so, and both wait to be killed. */
            pthread_t a;
            pthread_create(&a, NULL, connecting_thread, NULL);
            char said = until_it_waits() ? 'w' : 'n';
            if (write(waiting[1], &said, 1) != 1) _exit(1);
            pause();
            _exit(1);
        }
        char said = 0;
        if (read(waiting[0], &said, 1) != 1 || said != 'w') {
            printf("child %d never waited in connect\n", i);
            return 1;
        }
        close(waiting[0]);
        close(waiting[1]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    printf("%d children waited in connect and were killed\n", children);
    /* Room for one more: the last child's connect goes through. */
    int peer = accept(full, NULL, NULL);
    pid_t last = fork();
    if (last == 0) _exit(connect_to(&full_address) < 0 ? 1 : 0);
    int status;
    waitpid(last, &status, 0);
    printf("after an accept (%s), the last child's connect: %s\n", peer >= 0 ? "ok" : strerrorname_np(errno),
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    name(&full_address, argv[2], "full.sock");
    name(&roomy_address, argv[2], "roomy.sock");
    name(&dgram_address, argv[2], "dgram.sock");
    if (!strcmp(argv[1], "stall") && argc == 4) return stall(argv[2], atoi(argv[3]));
    if (!strcmp(argv[1], "eintr")) return interrupted(0);
    if (!strcmp(argv[1], "restart")) return interrupted(1);
    if (!strcmp(argv[1], "abandon") && argc == 4) return abandon(atoi(argv[3]));
    if (!strcmp(argv[1], "send") && argc == 4) return send_stall(argv[2], atoi(argv[3]));
    return 2;
}
