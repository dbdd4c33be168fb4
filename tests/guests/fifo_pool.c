/* Opens that block in the host must not block other guest threads.
 *
 *   fifo_pool pair FIFO FILE   thread A opens FIFO for reading (no writer yet: it waits);
 *                              once A waits in that open, thread B and a child process each
 *                              read FILE, then thread C opens FIFO for writing, which
 *                              unblocks A.
 *   fifo_pool many FIFO FILE N N threads wait in an open of FIFO for reading; once all wait,
 *                              the main thread reads FILE, then opens FIFO for writing, which
 *                              unblocks them all.
 *   fifo_pool abandon FIFO FILE N FIFO2
 *                              N threads wait in an open of FIFO for reading, and a signal
 *                              interrupts each (EINTR; nobody ever opens FIFO for writing);
 *                              then one thread opens FIFO2 for reading and the main thread
 *                              opens it for writing: both open.
 *
 * "Waits in that open" is read from the thread's /proc/thread-self/syscall (the number of the
 * call it is inside: openat) and its state in /proc/thread-self/stat (S), which it opened
 * before: the same natively and under trapbox (where the guest's thread ids, in its own PID
 * namespace, are not the ones /proc shows). Every line is printed by the main thread, in a
 * fixed order. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_READERS 256

static const char *fifo, *file;
/* Each reader's /proc/thread-self/syscall and stat, opened before it waits. */
static volatile int syscall_fds[MAX_READERS], stat_fds[MAX_READERS];
static int results[MAX_READERS];
static char through_fifo[128];
static int pair_mode; /* thread A reads what C writes */
static const char *second_fifo; /* read by the last reader in the abandon mode */
static long readers;

static void read_all(int fd, char *buf, size_t size) {
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0) got += n;
    buf[got] = 0;
}

static void *reader(void *arg) {
    long i = (long)arg;
    int stat_fd = open("/proc/thread-self/stat", O_RDONLY);
    stat_fds[i] = stat_fd;
    syscall_fds[i] = open("/proc/thread-self/syscall", O_RDONLY);
    int fd = open(i == readers && second_fifo ? second_fifo : fifo, O_RDONLY);
    if (fd < 0) {
        results[i] = errno;
        return NULL;
    }
    if (pair_mode) read_all(fd, through_fifo, sizeof through_fifo);
    close(fd);
    return NULL;
}

static void pread_all(int fd, char *buf, size_t size) {
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = 0;
}

/* Whether reader `i` waits inside openat. */
static int waits_in_open(long i) {
    char text[256];
    if (syscall_fds[i] <= 0 || stat_fds[i] <= 0) return 0;
    pread_all(syscall_fds[i], text, sizeof text);
    if (atoi(text) != SYS_openat) return 0;
    pread_all(stat_fds[i], text, sizeof text);
    char *state = strrchr(text, ')');
    return state && state[1] == ' ' && state[2] == 'S';
}

static void wait_until_waiting(long i) {
    for (int tries = 0; tries < 20000; tries++) {
        if (waits_in_open(i)) return;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    printf("thread %ld never waited in its open\n", i);
    exit(3);
}

static void print_file(const char *who) {
    char buf[256];
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        printf("%s: open %s: %s\n", who, file, strerror(errno));
        return;
    }
    read_all(fd, buf, sizeof buf);
    close(fd);
    printf("%s read: %s", who, buf);
}

static void *regular_reader(void *arg) {
    (void)arg;
    print_file("thread B");
    return NULL;
}

static void *writer(void *arg) {
    (void)arg;
    int fd = open(fifo, O_WRONLY);
    if (fd < 0) {
        printf("thread C: open for writing: %s\n", strerror(errno));
        return NULL;
    }
    const char *text = "through the fifo\n";
    if (write(fd, text, strlen(text)) < 0) printf("thread C: write: %s\n", strerror(errno));
    close(fd);
    return NULL;
}

/* Starts readers 0..n-1 (small stacks: there may be hundreds) and returns once all wait. */
static void start_waiting_readers(pthread_t *threads, long n) {
    for (long i = 0; i < n; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        pthread_create(&threads[i], &attr, reader, (void *)i);
    }
    for (long i = 0; i < n; i++) wait_until_waiting(i);
}

static void interrupted(int signal) { (void)signal; }

/* N readers of `fifo` interrupted while they wait; then reader N on `second_fifo` and a writer. */
static int abandon(long n) {
    struct sigaction action = {.sa_handler = interrupted}; /* no SA_RESTART: EINTR */
    sigaction(SIGUSR1, &action, NULL);
    pthread_t threads[MAX_READERS];
    start_waiting_readers(threads, n);
    for (long i = 0; i < n; i++) pthread_kill(threads[i], SIGUSR1);
    int eintr = 0;
    for (long i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        if (results[i] == EINTR) eintr++;
    }
    printf("%d of %ld waiting opens interrupted (EINTR)\n", eintr, n);
    pthread_t last;
    pthread_create(&last, NULL, reader, (void *)n);
    wait_until_waiting(n);
    int w = open(second_fifo, O_WRONLY);
    printf("second fifo: writer %s\n", w >= 0 ? "opened" : strerror(errno));
    pthread_join(last, NULL);
    printf("second fifo: reader %s\n", results[n] ? strerror(results[n]) : "opened");
    if (w >= 0) close(w);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    fifo = argv[2];
    file = argv[3];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (strcmp(argv[1], "pair") == 0) {
        pthread_t a, b, c;
        pair_mode = 1;
        pthread_create(&a, NULL, reader, (void *)0);
        wait_until_waiting(0);
        pthread_create(&b, NULL, regular_reader, NULL);
        pthread_join(b, NULL);
        pid_t child = fork();
        if (child == 0) {
            print_file("child process");
            _exit(0);
        }
        waitpid(child, NULL, 0);
        pthread_create(&c, NULL, writer, NULL);
        pthread_join(c, NULL);
        pthread_join(a, NULL);
        printf("thread A read: %s", results[0] ? strerror(results[0]) : through_fifo);
        return 0;
    }
    long n = argc > 4 ? atol(argv[4]) : 100;
    if (n < 1 || n >= MAX_READERS) return 2;
    readers = n;
    if (strcmp(argv[1], "abandon") == 0 && argc > 5) {
        second_fifo = argv[5];
        return abandon(n);
    }
    pthread_t threads[MAX_READERS];
    start_waiting_readers(threads, n);
    printf("%ld readers wait\n", n);
    print_file("main thread");
    int w = open(fifo, O_WRONLY);
    if (w < 0) printf("main thread: open for writing: %s\n", strerror(errno));
    int failed = 0;
    for (long i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        if (results[i]) failed++;
    }
    if (w >= 0) close(w);
    printf("%ld readers opened, %d failed\n", n - failed, failed);
    return 0;
}
