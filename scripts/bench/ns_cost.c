/* The kernel's share of a sandbox's start-up, measured inside one process (no exec, no
 * interpreter): what clone() into each set of namespaces costs, what writing the uid and gid
 * maps costs, what the mounts of a private /tmp, /proc and /dev cost inside a fresh user,
 * mount and PID namespace, and how long after its last instruction a child in each set of
 * namespaces is reaped (the teardown its parent waits for). Medians of ROUNDS rounds, in microseconds, one "name value" line
 * each. Needs root (or unprivileged user namespaces) and a kernel that allows them.
 *   ns_cost [ROUNDS] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror(path);
        exit(1);
    }
    close(fd);
}

/* The child's mount timings, sent back over a pipe. */
struct mounts {
    double tmp, proc, dev;
    int failed;
};

static void child_mounts(int to_parent, int from_parent) {
    char go;
    if (read(from_parent, &go, 1) != 1) _exit(1); /* maps written */
    struct mounts m = {0};
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) m.failed = 1;
    double t = now_us();
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) m.failed |= 2;
    m.tmp = now_us() - t;
    t = now_us();
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) m.failed |= 4;
    m.proc = now_us() - t;
    /* A /dev of its own: a tmpfs and the usual devices bound from the host's. */
    t = now_us();
    static const char *devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
    int host_dev = open("/dev", O_PATH | O_DIRECTORY);
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755") != 0) m.failed |= 8;
    for (unsigned i = 0; i < sizeof devices / sizeof *devices; i++) {
        char from[64], to[64];
        snprintf(from, sizeof from, "/proc/self/fd/%d/%s", host_dev, devices[i]);
        snprintf(to, sizeof to, "/dev/%s", devices[i]);
        int fd = open(to, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd >= 0) close(fd);
        if (mount(from, to, NULL, MS_BIND, NULL) != 0) m.failed |= 16;
    }
    m.dev = now_us() - t;
    if (write(to_parent, &m, sizeof m) != sizeof m) _exit(1);
    _exit(0);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    const int base = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    struct { const char *name; int flags; } sets[] = {
        {"clone_plain", 0},
        {"clone_user", CLONE_NEWUSER},
        {"clone_user_mount", CLONE_NEWUSER | CLONE_NEWNS},
        {"clone_user_pid", CLONE_NEWUSER | CLONE_NEWPID},
        {"clone_user_ipc_uts_cgroup", CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP},
        {"clone_user_net", CLONE_NEWUSER | CLONE_NEWNET},
        {"clone_trapbox_no_net", base},
        {"clone_trapbox_net", base | CLONE_NEWNET},
    };
    /* Rounds are spaced out: a namespace torn down frees its parts after an RCU grace period
     * (milliseconds in a VM), and a clone right behind it would measure that backlog, which a
     * single sandbox start does not pay. */
    double *create = calloc(rounds, sizeof *create), *reaped = calloc(rounds, sizeof *reaped);
    for (unsigned s = 0; s < sizeof sets / sizeof *sets; s++) {
        for (int r = 0; r < rounds; r++) {
            int p[2];
            if (pipe(p)) return 1;
            usleep(5000);
            double t0 = now_us();
            long pid = syscall(SYS_clone, (unsigned long)(sets[s].flags | SIGCHLD), 0, 0, 0, 0);
            if (pid == 0) {
                double t = now_us();
                if (write(p[1], &t, sizeof t) != sizeof t) _exit(1);
                _exit(0);
            }
            double t1 = now_us();
            if (pid < 0) {
                perror(sets[s].name);
                return 1;
            }
            double exiting;
            if (read(p[0], &exiting, sizeof exiting) != sizeof exiting) return 1;
            waitpid(pid, NULL, 0);
            create[r] = t1 - t0;
            reaped[r] = now_us() - exiting;
            close(p[0]), close(p[1]);
        }
        printf("%s %.1f\n%s_exit_to_reaped %.1f\n", sets[s].name, median(create, rounds), sets[s].name, median(reaped, rounds));
    }
    /* The maps, written from outside as trapbox does; then the mounts, inside. */
    double *maps = calloc(rounds, sizeof *maps), *tmp = calloc(rounds, sizeof *tmp), *proc = calloc(rounds, sizeof *proc),
           *dev = calloc(rounds, sizeof *dev);
    for (int r = 0; r < rounds; r++) {
        int up[2], down[2];
        if (pipe(up) || pipe(down)) return 1;
        long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD), 0, 0, 0, 0);
        if (pid == 0) child_mounts(up[1], down[0]);
        char path[64], map[64];
        snprintf(map, sizeof map, "0 %d 1\n", getuid());
        double t = now_us();
        if (getuid() != 0) {
            snprintf(path, sizeof path, "/proc/%ld/setgroups", pid);
            write_file(path, "deny");
        }
        snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
        write_file(path, map);
        snprintf(map, sizeof map, "0 %d 1\n", getgid());
        snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
        write_file(path, map);
        maps[r] = now_us() - t;
        if (write(down[1], "g", 1) != 1) return 1;
        struct mounts m;
        if (read(up[0], &m, sizeof m) != sizeof m || m.failed) {
            fprintf(stderr, "mounts failed (%d)\n", m.failed);
            return 1;
        }
        tmp[r] = m.tmp, proc[r] = m.proc, dev[r] = m.dev;
        waitpid(pid, NULL, 0);
        close(up[0]), close(up[1]), close(down[0]), close(down[1]);
    }
    printf("write_uid_gid_maps %.1f\nmount_tmpfs_tmp %.1f\nmount_proc %.1f\nmount_dev_tmpfs_and_6_binds %.1f\n", median(maps, rounds),
           median(tmp, rounds), median(proc, rounds), median(dev, rounds));
    return 0;
}
