/* Second red team: attacks on the host's new surfaces (worker pool, openat2 judged by the
 * kernel, the guest's own Landlock domains, credentials, init and signals). Each subcommand
 * prints what it got; the test decides on the host's side. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *self_path;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Opens `path` read-only and prints "label: ok <first line>" or "label: <error>". */
static void try_read(const char *label, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: %s\n", label, strerror(errno));
        return;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        printf("%s: opened, read %s\n", label, strerror(errno));
        return;
    }
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0 || buf[i] == '\n') buf[i] = ' ';
    printf("%s: ok %zd [%.120s]\n", label, n, buf);
}

/* ---- /proc of the host ------------------------------------------------------------------ */

/* Host pids of processes named `comm` (the guest's /proc is the host's mount). */
static int find_comm(const char *comm, int *pids, int max) {
    DIR *d = opendir("/proc");
    if (!d) {
        printf("opendir /proc: %s\n", strerror(errno));
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        int pid = atoi(e->d_name);
        if (pid <= 0) continue;
        char p[64], c[64] = {0};
        snprintf(p, sizeof p, "/proc/%d/comm", pid);
        int fd = open(p, O_RDONLY);
        if (fd < 0) continue;
        ssize_t r = read(fd, c, sizeof c - 1);
        close(fd);
        if (r > 0 && c[r - 1] == '\n') c[r - 1] = 0;
        if (strcmp(c, comm) == 0) pids[n++] = pid;
    }
    closedir(d);
    return n;
}

static int proc_host(void) {
    int pids[16];
    int n = find_comm("trapbox", pids, 16);
    printf("trapbox processes seen: %d\n", n);
    char self[64] = {0};
    readlink("/proc/self", self, sizeof self - 1);
    for (int i = 0; i < n; i++) {
        char p[96], label[96];
        snprintf(p, sizeof p, "/proc/%d/environ", pids[i]);
        snprintf(label, sizeof label, "host environ");
        try_read(label, p);
        /* The host's memory: the first mapping of its maps. */
        snprintf(p, sizeof p, "/proc/%d/maps", pids[i]);
        FILE *f = fopen(p, "r");
        unsigned long lo = 0;
        if (f) {
            if (fscanf(f, "%lx", &lo) != 1) lo = 0;
            fclose(f);
        }
        printf("host maps: %s\n", lo ? "ok" : "unreadable");
        snprintf(p, sizeof p, "/proc/%d/mem", pids[i]);
        int fd = open(p, O_RDONLY);
        if (fd < 0) {
            printf("host mem: %s\n", strerror(errno));
        } else {
            unsigned char b[4];
            ssize_t r = lo ? pread(fd, b, 4, (off_t)lo) : -1;
            printf("host mem: %s\n", r == 4 ? (memcmp(b, "\177ELF", 4) == 0 ? "ok ELF" : "ok bytes") : "opened, unread");
            close(fd);
        }
        snprintf(p, sizeof p, "/proc/%d/mem", pids[i]);
        fd = open(p, O_RDWR);
        printf("host mem rw: %s\n", fd < 0 ? strerror(errno) : "ok");
        if (fd >= 0 && lo) {
            /* the same 4 bytes written back: proof of write access that changes nothing */
            unsigned char b[4];
            if (pread(fd, b, 4, (off_t)lo) == 4)
                printf("host mem write: %s\n", pwrite(fd, b, 4, (off_t)lo) == 4 ? "ok 4 bytes" : strerror(errno));
        }
        if (fd >= 0) close(fd);
    }
    try_read("init environ", "/proc/1/environ");
    try_read("kcore", "/proc/kcore");
    try_read("dev mem", "/dev/mem");
    try_read("dev port", "/dev/port");
    try_read("kallsyms", "/proc/kallsyms");
    return 0;
}

/* ---- credentials -------------------------------------------------------------------------- */

static void print_cap_eff(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "Uid:", 4) == 0) fputs(line, stdout);
    if (f) fclose(f);
}

/* Drops the capability bounding set (or sets SECBIT_NOROOT), then execs itself: the new image
 * runs as root without CAP_DAC_OVERRIDE, with no credential call the host marks. */
static int cap_exec(const char *how, const char *file) {
    if (strcmp(how, "bounding") == 0) {
        for (int cap = 0; cap <= 40; cap++)
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
                printf("PR_CAPBSET_DROP %d: %s\n", cap, strerror(errno));
                return 1;
            }
    } else {
        if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0) != 0) {
            printf("PR_SET_SECUREBITS: %s\n", strerror(errno));
            return 1;
        }
    }
    execl(self_path, self_path, "cap-open", file, (char *)0);
    printf("exec: %s\n", strerror(errno));
    return 1;
}

static int cap_open(const char *file) {
    print_cap_eff();
    try_read("locked file", file);
    /* The kernel's own answer for this image (a call the host never performs). */
    printf("access: %s\n", access(file, R_OK) == 0 ? "ok" : strerror(errno));
    return 0;
}

static int unix_sock(int type) {
    return socket(AF_UNIX, type, 0);
}

static int unix_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s", path);
    return sizeof *a;
}

/* After dropping to uid/gid 65534, binds a socket in a root-owned 0755 directory of the write
 * grant and connects to a root-owned 0600 listener: natively both are EACCES. */
static int unix_creds(const char *bind_path, const char *connect_path) {
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
        printf("drop: %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_un a;
    int s = unix_sock(SOCK_STREAM);
    int len = unix_addr(&a, bind_path);
    printf("bind: %s\n", bind(s, (struct sockaddr *)&a, len) == 0 ? "ok" : strerror(errno));
    int c = unix_sock(SOCK_STREAM);
    len = unix_addr(&a, connect_path);
    printf("connect: %s\n", connect(c, (struct sockaddr *)&a, len) == 0 ? "ok" : strerror(errno));
    if (c >= 0) {
        write(c, "FROM-GUEST\n", 11);
    }
    int d = unix_sock(SOCK_DGRAM);
    printf("sendto: %s\n", sendto(d, "DGRAM-FROM-GUEST\n", 17, 0, (struct sockaddr *)&a, len) >= 0 ? "ok" : strerror(errno));
    /* the same drop, then a plain open and a mkdir, which the host does switch for */
    printf("mkdir: %s\n", mkdir("mk-as-nobody", 0755) == 0 ? "ok" : strerror(errno));
    return 0;
}

/* A thread changes only its own uid with a raw call; another thread and a raw-clone child of
 * the changed thread then open a root-only file. */
static const char *cred_file;
static volatile int cred_stage;

static int raw_child(void *arg) {
    (void)arg;
    int fd = syscall(SYS_open, cred_file, O_RDONLY);
    char buf[64] = {0};
    if (fd >= 0) read(fd, buf, 63);
    printf("raw clone child of the dropped thread: %s%s\n", fd >= 0 ? "ok " : strerror(errno), fd >= 0 ? buf : "");
    fflush(stdout);
    syscall(SYS_exit, 0);
    return 0;
}

static void *dropper(void *arg) {
    (void)arg;
    if (syscall(SYS_setresuid, 65534, 65534, 65534) != 0) printf("raw setresuid: %s\n", strerror(errno));
    int fd = open(cred_file, O_RDONLY);
    printf("dropped thread: %s\n", fd >= 0 ? "ok" : strerror(errno));
    if (fd >= 0) close(fd);
    static char stack[65536] __attribute__((aligned(16)));
    int tid = clone(raw_child, stack + sizeof stack, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, NULL);
    if (tid < 0) printf("clone: %s\n", strerror(errno));
    usleep(300000);
    fflush(stdout);
    cred_stage = 1;
    return NULL;
}

static int thread_creds(const char *file) {
    cred_file = file;
    pthread_t t;
    pthread_create(&t, NULL, dropper, NULL);
    while (!cred_stage) usleep(1000);
    int fd = open(file, O_RDONLY);
    printf("root thread: %s\n", fd >= 0 ? "ok" : strerror(errno));
    fflush(stdout);
    _exit(0);
}

/* ---- the worker pool ---------------------------------------------------------------------- */

static const char *fifo_path;

static void *fifo_reader(void *arg) {
    (void)arg;
    int fd = open(fifo_path, O_RDONLY);
    if (fd >= 0) close(fd);
    return NULL;
}

/* Opens `path` as a FIFO pair (reader thread + writer) and says how long it took. */
static double fifo_pair(const char *path) {
    double t0 = now();
    pthread_t r;
    fifo_path = path;
    pthread_create(&r, NULL, fifo_reader, NULL);
    int w = open(path, O_WRONLY);
    if (w >= 0) close(w);
    pthread_join(r, NULL);
    return now() - t0;
}

/* `n` readers of a FIFO nobody writes hold the pool in a child process; then another process
 * opens a file, and, once the holder is killed, a FIFO pair. */
static int pool(const char *dir, int n) {
    char f[512], g[512], plain[512];
    snprintf(f, sizeof f, "%s/held", dir);
    snprintf(g, sizeof g, "%s/pair", dir);
    snprintf(plain, sizeof plain, "%s/plain", dir);
    mkfifo(f, 0600);
    mkfifo(g, 0600);
    int p = open(plain, O_CREAT | O_WRONLY, 0600);
    close(p);
    pid_t holder = fork();
    if (holder == 0) {
        fifo_path = f;
        for (int i = 0; i < n; i++) {
            pthread_t t;
            pthread_create(&t, NULL, fifo_reader, NULL);
        }
        pause();
        _exit(0);
    }
    sleep(2);
    double t0 = now();
    int fd = open(plain, O_RDONLY);
    printf("plain open while held: %s in %.1f s\n", fd >= 0 ? "ok" : strerror(errno), now() - t0);
    if (fd >= 0) close(fd);
    fd = open("/dev/null", O_WRONLY);
    printf("dev null while held: %s\n", fd >= 0 ? "ok" : strerror(errno));
    if (fd >= 0) close(fd);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    double took = fifo_pair(g);
    printf("fifo pair after the holder died: %.1f s\n", took);
    return 0;
}

/* A thread's FIFO open interrupted by a signal without SA_RESTART, `n` times: each leaves a
 * host worker waiting for a guest thread that no longer waits. */
static void on_usr1(int s) { (void)s; }

static void *interrupted_opener(void *arg) {
    int *count = arg;
    for (;;) {
        int fd = open(fifo_path, O_RDONLY);
        if (fd >= 0) {
            close(fd);
            continue;
        }
        if (errno == EINTR) __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int interrupt(const char *dir, int n) {
    char f[512], g[512];
    snprintf(f, sizeof f, "%s/intr", dir);
    snprintf(g, sizeof g, "%s/pair2", dir);
    mkfifo(f, 0600);
    mkfifo(g, 0600);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t child = fork();
    if (child == 0) {
        static int count;
        fifo_path = f;
        pthread_t t;
        pthread_create(&t, NULL, interrupted_opener, &count);
        double t0 = now();
        while (__atomic_load_n(&count, __ATOMIC_RELAXED) < n && now() - t0 < 60) {
            pthread_kill(t, SIGUSR1);
            usleep(2000);
        }
        printf("interrupted opens: %d\n", __atomic_load_n(&count, __ATOMIC_RELAXED));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    double took = fifo_pair(g);
    printf("fifo pair after the interrupts: %.1f s\n", took);
    return 0;
}

/* A thread swaps a FIFO and a regular file under one name while the main thread opens it. */
static volatile int stop_swap;
static char swap_a[512], swap_b[512], swap_name[512];

static void *swapper(void *arg) {
    (void)arg;
    while (!stop_swap) {
        rename(swap_a, swap_name);
        rename(swap_name, swap_a);
        rename(swap_b, swap_name);
        rename(swap_name, swap_b);
    }
    return NULL;
}

static int swap(const char *dir, int rounds) {
    snprintf(swap_a, sizeof swap_a, "%s/regular", dir);
    snprintf(swap_b, sizeof swap_b, "%s/fifo", dir);
    snprintf(swap_name, sizeof swap_name, "%s/x", dir);
    int fd = open(swap_a, O_CREAT | O_WRONLY, 0644);
    write(fd, "REGULAR\n", 8);
    close(fd);
    mkfifo(swap_b, 0644);
    pthread_t t;
    pthread_create(&t, NULL, swapper, NULL);
    int ok = 0, fifo = 0, other = 0;
    for (int i = 0; i < rounds; i++) {
        int fd = open(swap_name, O_RDONLY | O_NONBLOCK);
        if (fd >= 0) {
            struct stat st;
            fstat(fd, &st);
            if (S_ISFIFO(st.st_mode)) fifo++; else ok++;
            close(fd);
        } else {
            other++;
        }
    }
    stop_swap = 1;
    pthread_join(t, NULL);
    printf("swap opens: regular %d fifo %d failed %d\n", ok, fifo, other);
    return 0;
}

/* ---- openat2 -------------------------------------------------------------------------------- */

static long openat2_(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
    struct open_how how = {.flags = flags, .resolve = resolve};
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static void report_fd(const char *label, long fd) {
    if (fd < 0) {
        printf("%s: %s\n", label, strerror(errno));
        return;
    }
    char buf[64] = {0};
    ssize_t n = read((int)fd, buf, 63);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n') buf[i] = ' ';
    printf("%s: fd [%s]\n", label, n > 0 ? buf : "");
    close((int)fd);
}

static volatile int stop_dup;
static int dup_a, dup_b, dup_target;

static void *dup_swapper(void *arg) {
    (void)arg;
    while (!stop_dup) {
        dup2(dup_a, dup_target);
        dup2(dup_b, dup_target);
    }
    return NULL;
}

static int openat2_attacks(const char *out, const char *secret_dir, const char *ro_dir, int rounds) {
    int outfd = open(out, O_PATH | O_DIRECTORY);
    int secfd = open(secret_dir, O_PATH | O_DIRECTORY);
    printf("O_PATH of the secret dir: %s\n", secfd >= 0 ? "ok" : strerror(errno));
    if (secfd >= 0) {
        report_fd("beneath secret dirfd", openat2_(secfd, "s", O_RDONLY, RESOLVE_BENEATH));
        report_fd("in-root secret dirfd", openat2_(secfd, "s", O_RDONLY, RESOLVE_IN_ROOT));
        report_fd("no-xdev secret dirfd", openat2_(secfd, "s", O_RDONLY, RESOLVE_NO_XDEV));
    }
    char parent[512];
    snprintf(parent, sizeof parent, "%s/..", out);
    int up = open(parent, O_PATH | O_DIRECTORY);
    report_fd("in-root above the grant", openat2_(up, "secret/s", O_RDONLY, RESOLVE_IN_ROOT));
    report_fd("in-root dotdot", openat2_(outfd, "/../secret/s", O_RDONLY, RESOLVE_IN_ROOT));
    report_fd("beneath via proc fd", openat2_(AT_FDCWD, "/proc/self/fd/3/../secret/s", O_RDONLY, RESOLVE_NO_SYMLINKS));
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d/s", secfd);
    report_fd("magic link through secret O_PATH", openat2_(AT_FDCWD, link, O_RDONLY, RESOLVE_NO_XDEV));
    /* size games */
    char big[8192] = {0};
    struct open_how *how = (struct open_how *)big;
    how->resolve = RESOLVE_BENEATH;
    long r = syscall(SYS_openat2, outfd, "mine", big, 4096);
    report_fd("size 4096 zero tail", r);
    big[4095] = 1;
    r = syscall(SYS_openat2, outfd, "mine", big, 4096);
    printf("size 4096 nonzero tail: %s\n", r < 0 ? strerror(errno) : "opened");
    r = syscall(SYS_openat2, outfd, "mine", big, (size_t)-1);
    printf("size -1: %s\n", r < 0 ? strerror(errno) : "opened");
    /* a struct straddling an unmapped page */
    char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(pages + 4096, 4096);
    struct open_how *edge = (struct open_how *)(pages + 4096 - 16);
    memset(edge, 0, 16);
    r = syscall(SYS_openat2, outfd, "mine", edge, sizeof(struct open_how));
    printf("straddling struct: %s\n", r < 0 ? strerror(errno) : "opened");
    /* the dirfd swapped by a thread between the grant and the secret dir */
    dup_a = outfd;
    dup_b = open(ro_dir, O_PATH | O_DIRECTORY);
    dup_target = 100;
    dup2(outfd, dup_target);
    pthread_t t;
    pthread_create(&t, NULL, dup_swapper, NULL);
    int mine = 0, secret = 0, failed = 0;
    for (int i = 0; i < rounds; i++) {
        long fd = openat2_(dup_target, "s", O_WRONLY | O_APPEND, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
        if (fd < 0) {
            failed++;
            continue;
        }
        write((int)fd, "W", 1);
        struct stat st;
        fstat((int)fd, &st);
        close((int)fd);
        if (st.st_mode & S_IWOTH) secret++; else mine++;
    }
    stop_dup = 1;
    pthread_join(t, NULL);
    printf("dirfd race: written %d failed %d\n", mine + secret, failed);
    return 0;
}

/* ---- the guest's own Landlock -------------------------------------------------------------- */

static int ruleset_reading(const char *dir, int exec_too) {
    struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE | (exec_too ? LANDLOCK_ACCESS_FS_EXECUTE : 0)};
    int rs = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0) return -1;
    if (dir) {
        struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE};
        pb.parent_fd = open(dir, O_PATH | O_DIRECTORY);
        syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
        close(pb.parent_fd);
    }
    return rs;
}

static int abi(void) { return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION); }

static volatile int stop_ll;
static int ll_strict, ll_target, ll_other;

static void *ll_swapper(void *arg) {
    (void)arg;
    while (!stop_ll) {
        dup2(ll_strict, ll_target);
        dup2(ll_other, ll_target);
    }
    return NULL;
}

/* A thread restricts itself (TSYNC where the kernel has it) with a ruleset fd another thread
 * closes and dup2s back in a loop: a child tries each round; the outcome that matters is a
 * process the kernel restricted (its exec of a program is refused) whose opens the host still
 * performs unrestricted (it reads `file`). */
static int landlock_race(const char *file, const char *allowed_dir, int rounds) {
    int v = abi();
    printf("landlock abi %d\n", v);
    int gained = 0, restricted = 0, free_ = 0, took = 0;
    for (int i = 0; i < rounds; i++) {
        pid_t c = fork();
        if (c == 0) {
            ll_strict = ruleset_reading(allowed_dir, 1);
            ll_other = open("/dev/null", O_RDONLY);
            ll_target = 200;
            dup2(ll_strict, ll_target);
            pthread_t t;
            pthread_create(&t, NULL, ll_swapper, NULL);
            usleep(200 + (i % 7) * 50);
            long rc = syscall(SYS_landlock_restrict_self, ll_target, v >= 8 ? (1U << 3) : 0);
            if (rc != 0 && i == 0) printf("restrict_self: %s (strict %d other %d)\n", strerror(errno), ll_strict, ll_other);
            stop_ll = 1;
            pthread_join(t, NULL);
            int fd = open(file, O_RDONLY);
            /* the kernel's own verdict: exec of this program (EXECUTE is handled, no rule) */
            pid_t e = fork();
            if (e == 0) {
                execl(self_path, self_path, "exit0", (char *)0);
                _exit(errno == EACCES ? 13 : 14);
            }
            int st;
            waitpid(e, &st, 0);
            int kernel_restricted = WIFEXITED(st) && WEXITSTATUS(st) == 13;
            _exit((rc == 0 ? 1 : 0) | (fd >= 0 ? 2 : 0) | (kernel_restricted ? 4 : 0));
        }
        int st;
        waitpid(c, &st, 0);
        int x = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
        if (x & 1) took++;
        if ((x & 4) && (x & 2)) gained++;
        else if (x & 4) restricted++;
        else free_++;
    }
    printf("landlock race: restricted-but-read %d restricted %d unrestricted %d (restrict_self succeeded %d)\n", gained, restricted, free_, took);
    return 0;
}

/* `n` processes each restrict themselves with a ruleset of their own and open a file; then a
 * further process (a different program, as a sibling would be) does the same. */
static int landlock_many(const char *dir, const char *file, int n) {
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            int rs = ruleset_reading(dir, 0);
            if (syscall(SYS_landlock_restrict_self, rs, 0) != 0) _exit(3);
            int fd = open(file, O_RDONLY);
            _exit(fd >= 0 ? 0 : 1);
        }
        int st;
        waitpid(c, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("process %d: open refused\n", i);
    }
    printf("landlock many: done\n");
    return 0;
}

/* 20 layers: only the first 15 the guest adds can take; the last that took forbids `file`. */
static int landlock_layers(const char *file, const char *other_dir) {
    int took = 0;
    for (int i = 0; i < 20; i++) {
        int rs = ruleset_reading(i < 14 ? "/" : other_dir, 0);
        if (syscall(SYS_landlock_restrict_self, rs, 0) == 0) took++;
        else printf("layer %d: %s\n", i + 2, strerror(errno));
        close(rs);
    }
    printf("layers taken: %d\n", took);
    try_read("after layers", file);
    return 0;
}

/* ---- signals, init, namespaces -------------------------------------------------------------- */

static volatile sig_atomic_t got;
static void on_sig(int s) { (void)s; got++; }

static int kill_group(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_sig;
    sigaction(SIGUSR2, &sa, NULL);
    /* a child that drops to nobody signals the group: the root parent must not get it */
    pid_t c = fork();
    if (c == 0) {
        signal(SIGUSR2, SIG_IGN);
        if (setresuid(65534, 65534, 65534) != 0) _exit(2);
        int r = kill(0, SIGUSR2);
        printf("kill(0) as nobody: %s\n", r == 0 ? "ok" : strerror(errno));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    usleep(200000);
    printf("root parent got %d\n", (int)got);
    /* the group as root: every guest of the group, and only them */
    signal(SIGUSR2, SIG_IGN);
    for (int i = 0; i < 50; i++) kill(0, SIGUSR2);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    kill(0, SIGTERM);
    kill(0, SIGHUP);
    kill(-1, SIGTERM);
    printf("kill(1, SIGKILL): %s\n", kill(1, SIGKILL) == 0 ? "ok" : strerror(errno));
    printf("kill(-1, SIGSTOP): %s\n", kill(-1, SIGSTOP) == 0 ? "ok" : strerror(errno));
    usleep(100000);
    printf("group signals done\n");
    return 0;
}

/* The group stopped with SIGTSTP / SIGTTOU / SIGTTIN sent to pgrp 0: the host must stay. */
static int stop_group(void) {
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        for (int i = 0; i < 8; i++) {
            usleep(500000);
            kill(getppid(), SIGCONT);
        }
        _exit(0);
    }
    setpgid(c, c);
    usleep(100000);
    kill(0, SIGTSTP);
    kill(0, SIGTTOU);
    kill(0, SIGTTIN);
    waitpid(c, NULL, 0);
    printf("stop group done\n");
    return 0;
}

/* A terminal of its own (a pty), made the controlling terminal of a new session; the host's
 * session and terminal must be untouched. */
static int tty_games(void) {
    int r = setsid();
    printf("setsid: %s\n", r >= 0 ? "ok" : strerror(errno));
    int fd = open("/dev/tty", O_RDWR);
    printf("open /dev/tty: %s\n", fd >= 0 ? "ok" : strerror(errno));
    printf("TIOCSCTTY on 0: %s\n", ioctl(0, TIOCSCTTY, 1) == 0 ? "ok" : strerror(errno));
    printf("TIOCSCTTY on 2: %s\n", ioctl(2, TIOCSCTTY, 1) == 0 ? "ok" : strerror(errno));
    pid_t pg = 1;
    printf("TIOCSPGRP 1 on 0: %s\n", ioctl(0, TIOCSPGRP, &pg) == 0 ? "ok" : strerror(errno));
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    printf("ptmx: %s\n", m >= 0 ? "ok" : strerror(errno));
    if (m >= 0) {
        int unlock = 0;
        ioctl(m, TIOCSPTLCK, &unlock);
        char name[64] = {0};
        ioctl(m, TIOCGPTN, &r);
        snprintf(name, sizeof name, "/dev/pts/%d", r);
        int s = open(name, O_RDWR);
        printf("pts slave: %s\n", s >= 0 ? "ok" : strerror(errno));
        if (s >= 0) printf("TIOCSCTTY on pts: %s\n", ioctl(s, TIOCSCTTY, 0) == 0 ? "ok" : strerror(errno));
        if (s >= 0) printf("TIOCVHANGUP on pts: %s\n", ioctl(s, TIOCVHANGUP, 0) == 0 ? "ok" : strerror(errno));
    }
    printf("tty games done\n");
    return 0;
}

/* A nested user namespace: write its maps, try to reach the host with setns. */
static int userns(void) {
    int r = unshare(CLONE_NEWUSER);
    printf("unshare(CLONE_NEWUSER): %s\n", r == 0 ? "ok" : strerror(errno));
    pid_t c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (c == 0) {
        int fd = open("/proc/self/uid_map", O_WRONLY);
        printf("nested uid_map: %s\n", fd >= 0 && write(fd, "0 0 1\n", 6) == 6 ? "ok" : strerror(errno));
        int ns = open("/proc/1/ns/user", O_RDONLY);
        printf("open init userns: %s\n", ns >= 0 ? "ok" : strerror(errno));
        printf("setns: %s\n", ns >= 0 && setns(ns, CLONE_NEWUSER) == 0 ? "ok" : strerror(errno));
        printf("sethostname in nested: %s\n", sethostname("adv2-pwned", 10) == 0 ? "ok" : strerror(errno));
        fflush(stdout);
        _exit(0);
    }
    if (c > 0) waitpid(c, NULL, 0);
    else printf("clone(CLONE_NEWUSER): %s\n", strerror(errno));
    printf("userns done\n");
    return 0;
}

/* Unix connects that block (a full backlog), performed by the host: how long does another
 * thread's traced call wait meanwhile? */
static volatile int stop_probe;
static double worst_gap;

static void *prober(void *arg) {
    (void)arg;
    double last = now();
    struct stat st;
    while (!stop_probe) {
        stat("/", &st);
        double t = now();
        if (t - last > worst_gap) worst_gap = t - last;
        last = t;
    }
    return NULL;
}

static int connect_stall(const char *dir, int n) {
    char path[512];
    snprintf(path, sizeof path, "%s/listener", dir);
    struct sockaddr_un a;
    int len = unix_addr(&a, path);
    int l = unix_sock(SOCK_STREAM);
    if (bind(l, (struct sockaddr *)&a, len) != 0 || listen(l, 0) != 0) {
        printf("listener: %s\n", strerror(errno));
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, prober, NULL);
    double t0 = now();
    int done = 0;
    for (int i = 0; i < n; i++) {
        int c = unix_sock(SOCK_STREAM);
        if (connect(c, (struct sockaddr *)&a, len) == 0) done++;
    }
    double took = now() - t0;
    stop_probe = 1;
    pthread_join(t, NULL);
    printf("connects %d ok of %d in %.1f s; worst gap of another thread's stat %.1f s\n", done, n, took, worst_gap);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    self_path = argv[0];
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "exit0")) return 0;
    if (!strcmp(cmd, "proc-host")) return proc_host();
    if (!strcmp(cmd, "cap-exec") && argc > 3) return cap_exec(argv[2], argv[3]);
    if (!strcmp(cmd, "cap-open") && argc > 2) return cap_open(argv[2]);
    if (!strcmp(cmd, "unix-creds") && argc > 3) return unix_creds(argv[2], argv[3]);
    if (!strcmp(cmd, "thread-creds") && argc > 2) return thread_creds(argv[2]);
    if (!strcmp(cmd, "pool") && argc > 3) return pool(argv[2], atoi(argv[3]));
    if (!strcmp(cmd, "interrupt") && argc > 3) return interrupt(argv[2], atoi(argv[3]));
    if (!strcmp(cmd, "swap") && argc > 3) return swap(argv[2], atoi(argv[3]));
    if (!strcmp(cmd, "openat2") && argc > 5) return openat2_attacks(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (!strcmp(cmd, "landlock-race") && argc > 4) return landlock_race(argv[2], argv[3], atoi(argv[4]));
    if (!strcmp(cmd, "landlock-many") && argc > 4) return landlock_many(argv[2], argv[3], atoi(argv[4]));
    if (!strcmp(cmd, "landlock-layers") && argc > 3) return landlock_layers(argv[2], argv[3]);
    if (!strcmp(cmd, "kill-group")) return kill_group();
    if (!strcmp(cmd, "stop-group")) return stop_group();
    if (!strcmp(cmd, "tty")) return tty_games();
    if (!strcmp(cmd, "userns")) return userns();
    if (!strcmp(cmd, "connect-stall") && argc > 3) return connect_stall(argv[2], atoi(argv[3]));
    return 2;
}
