/* Adversarial filesystem attempts (tests/tests/run_adversarial.rs). Each mode prints one
 * line per attempt; the test checks the evidence on the host's side (files outside the
 * grants unread and unchanged, no privilege bits, no device nodes, mounts unchanged).
 *   adv_fs MODE ARGS...   (see main) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

/* Prints what reading fd gives: READ:<first line> when the file was read. */
static void show_read(const char *what, int fd) {
    if (fd < 0) {
        printf("%s: open %s\n", what, strerror(errno));
        return;
    }
    char buf[256] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
        buf[strcspn(buf, "\n")] = 0;
        printf("%s: READ:%s\n", what, buf);
    } else {
        printf("%s: read %s\n", what, n < 0 ? strerror(errno) : "empty");
    }
    close(fd);
}

static void try_write(const char *what, int fd) {
    if (fd < 0) {
        printf("%s: open %s\n", what, strerror(errno));
        return;
    }
    ssize_t n = write(fd, "PWNED\n", 6);
    printf("%s: write %s\n", what, n == 6 ? "WROTE" : strerror(errno));
    close(fd);
}

/* ---- races ---------------------------------------------------------------------------- */

static volatile int stop;
static char race_path[4096];
static const char *race_a, *race_b;

static void *flip_path(void *unused) {
    (void)unused;
    while (!stop) {
        strcpy(race_path, race_a);
        __asm__ volatile("" ::: "memory");
        strcpy(race_path, race_b);
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

static int race_fd_a, race_fd_b, race_target;
static void *flip_fd(void *unused) {
    (void)unused;
    while (!stop) {
        dup2(race_fd_a, race_target);
        dup2(race_fd_b, race_target);
    }
    return NULL;
}

static char link_dir[4096];
static const char *link_to_secret;
static void *flip_symlink(void *unused) {
    (void)unused;
    char a[4200], b[4200], tmp[4200];
    snprintf(a, sizeof a, "%s/l", link_dir);
    snprintf(b, sizeof b, "%s/mine", link_dir);
    snprintf(tmp, sizeof tmp, "%s/l.tmp", link_dir);
    while (!stop) {
        unlink(tmp);
        symlink(link_to_secret, tmp);
        rename(tmp, a);
        unlink(tmp);
        symlink(b, tmp);
        rename(tmp, a);
    }
    return NULL;
}

static struct open_how_ { unsigned long long flags, mode, resolve; } how;
static void *flip_how(void *unused) {
    (void)unused;
    while (!stop) {
        how.flags = O_RDONLY;
        __asm__ volatile("" ::: "memory");
        how.flags = O_RDWR;
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *mode = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "read")) { /* read PATH... */
        for (int i = 2; i < argc; i++) show_read(argv[i], open(argv[i], O_RDONLY));
    } else if (!strcmp(mode, "opath-climb")) { /* opath-climb DIR REL */
        int dir = open(argv[2], O_PATH | O_DIRECTORY);
        printf("opath: %s\n", err(dir));
        show_read("openat", openat(dir, argv[3], O_RDONLY));
        int up = openat(dir, "..", O_PATH | O_DIRECTORY);
        printf("opath ..: %s\n", err(up));
        if (up >= 0) show_read("openat(..)", openat(up, argv[3] + 3, O_RDONLY));
        if (fchdir(dir) == 0) show_read("fchdir+open", open(argv[3], O_RDONLY));
        struct open_how_ h = { O_RDONLY, 0, 0 };
        show_read("openat2", (int)syscall(SYS_openat2, dir, argv[3], &h, sizeof h));
    } else if (!strcmp(mode, "procfd-reopen")) { /* procfd-reopen FILE */
        int fd = open(argv[2], O_RDONLY);
        printf("open ro: %s\n", err(fd));
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        try_write("reopen rw", open(p, O_RDWR));
        try_write("reopen wronly", open(p, O_WRONLY | O_APPEND));
        int op = open(argv[2], O_PATH);
        snprintf(p, sizeof p, "/proc/self/fd/%d", op);
        try_write("opath reopen rw", open(p, O_RDWR));
        snprintf(p, sizeof p, "/proc/%d/fd/%d", getpid(), fd);
        try_write("proc/pid reopen", open(p, O_WRONLY));
    } else if (!strcmp(mode, "proc-root")) { /* proc-root ABSPATH */
        const char *pids[] = {"1", "2", "self", "thread-self"};
        for (int i = 0; i < 4; i++) {
            char p[4200];
            snprintf(p, sizeof p, "/proc/%s/root%s", pids[i], argv[2]);
            show_read(p, open(p, O_RDONLY));
            snprintf(p, sizeof p, "/proc/%s/cwd", pids[i]);
            int cwd = open(p, O_PATH);
            printf("%s: %s\n", p, err(cwd));
        }
        int ns = open("/proc/1/ns/mnt", O_RDONLY);
        printf("/proc/1/ns/mnt: %s\n", err(ns));
        if (ns >= 0) printf("setns: %s\n", err(setns(ns, 0)));
    } else if (!strcmp(mode, "symlink-out")) { /* symlink-out DIR TARGET */
        char l[4200];
        snprintf(l, sizeof l, "%s/l", argv[2]);
        printf("symlink: %s\n", err(symlink(argv[3], l)));
        show_read("via symlink", open(l, O_RDONLY));
        int op = open(l, O_PATH);
        printf("opath symlink: %s\n", err(op));
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", op);
        show_read("via opath fd", open(p, O_RDONLY));
        int nf = open(l, O_PATH | O_NOFOLLOW);
        printf("opath nofollow: %s\n", err(nf));
        snprintf(p, sizeof p, "/proc/self/fd/%d", nf);
        show_read("via nofollow fd", open(p, O_RDONLY));
        struct open_how_ h = { O_RDONLY, 0, 0 };
        show_read("openat2 symlink", (int)syscall(SYS_openat2, AT_FDCWD, l, &h, sizeof h));
    } else if (!strcmp(mode, "link-out")) { /* link-out SRC DSTDIR */
        char d[4200];
        snprintf(d, sizeof d, "%s/hard", argv[3]);
        printf("link: %s\n", err(link(argv[2], d)));
        snprintf(d, sizeof d, "%s/hard2", argv[3]);
        int op = open(argv[2], O_PATH);
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", op);
        printf("linkat follow: %s\n", err(linkat(AT_FDCWD, p, AT_FDCWD, d, AT_SYMLINK_FOLLOW)));
        snprintf(d, sizeof d, "%s/hard3", argv[3]);
        printf("linkat empty: %s\n", err(linkat(op, "", AT_FDCWD, d, AT_EMPTY_PATH)));
        snprintf(d, sizeof d, "%s/moved", argv[3]);
        printf("rename: %s\n", err(rename(argv[2], d)));
        printf("renameat2 exchange: %s\n", err(syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[4], RENAME_EXCHANGE)));
    } else if (!strcmp(mode, "setuid")) { /* setuid DIR: every way to a setuid or setgid file */
        char f[4200];
        snprintf(f, sizeof f, "%s/created", argv[2]);
        int fd = open(f, O_CREAT | O_WRONLY, 06755);
        printf("create 06755: %s\n", err(fd));
        printf("fchmod 04755: %s\n", err(fchmod(fd, 04755)));
        printf("chmod 06755: %s\n", err(chmod(f, 06755)));
        printf("fchmodat 02755: %s\n", err(fchmodat(AT_FDCWD, f, 02755, 0)));
        printf("fchmodat2 04711: %s\n", err(syscall(452, AT_FDCWD, f, 04711, 0)));
        printf("fchmodat2 empty: %s\n", err(syscall(452, fd, "", 04711, AT_EMPTY_PATH)));
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        printf("chmod procfd: %s\n", err(chmod(p, 04755)));
        snprintf(f, sizeof f, "%s/mknod", argv[2]);
        printf("mknod reg 06755: %s\n", err(mknod(f, S_IFREG | 06755, 0)));
        snprintf(f, sizeof f, "%s/creat", argv[2]);
        printf("creat 04777: %s\n", err(creat(f, 04777)));
        int tmp = open(argv[2], O_TMPFILE | O_WRONLY, 04755);
        printf("tmpfile 04755: %s\n", err(tmp));
        snprintf(f, sizeof f, "%s/tmplinked", argv[2]);
        snprintf(p, sizeof p, "/proc/self/fd/%d", tmp);
        printf("tmpfile link: %s\n", err(linkat(AT_FDCWD, p, AT_FDCWD, f, AT_SYMLINK_FOLLOW)));
        printf("fchmod tmpfile: %s\n", err(fchmod(tmp, 04755)));
        /* A setgid directory is allowed; a file created inside must not be setgid. */
        snprintf(f, sizeof f, "%s/sgid", argv[2]);
        mkdir(f, 0755);
        printf("chmod dir 02755: %s\n", err(chmod(f, 02775)));
        snprintf(f, sizeof f, "%s/sgid/inner", argv[2]);
        printf("create in sgid dir 02755: %s\n", err(open(f, O_CREAT | O_WRONLY, 02755)));
        printf("setxattr cap: %s\n", err(setxattr(argv[2], "security.capability", "\x01\x00\x00\x02\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0", 20, 0)));
        snprintf(f, sizeof f, "%s/created", argv[2]);
        printf("setxattr cap file: %s\n", err(setxattr(f, "security.capability", "\x01\x00\x00\x02\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0", 20, 0)));
        printf("fsetxattr cap: %s\n", err(fsetxattr(fd, "security.capability", "\x01\x00\x00\x02\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0", 20, 0)));
        printf("lsetxattr trusted: %s\n", err(lsetxattr(f, "trusted.overlay.opaque", "y", 1, 0)));
        printf("setxattr Security: %s\n", err(setxattr(f, "security.ima", "x", 1, 0)));
        /* A device node, every way. */
        snprintf(f, sizeof f, "%s/mem", argv[2]);
        printf("mknod c 1 1: %s\n", err(mknod(f, S_IFCHR | 0666, makedev(1, 1))));
        snprintf(f, sizeof f, "%s/sda", argv[2]);
        printf("mknodat b 8 0: %s\n", err(mknodat(AT_FDCWD, f, S_IFBLK | 0666, makedev(8, 0))));
    } else if (!strcmp(mode, "ro-meta")) { /* ro-meta FILE: a file granted read only */
        const char *f = argv[2];
        printf("chmod: %s\n", err(chmod(f, 0777)));
        printf("chown: %s\n", err(chown(f, 65534, 65534)));
        printf("lchown: %s\n", err(lchown(f, 65534, 65534)));
        struct timeval tv[2] = {{1, 0}, {1, 0}};
        printf("utimes: %s\n", err(utimes(f, tv)));
        printf("truncate: %s\n", err(truncate(f, 0)));
        printf("setxattr user: %s\n", err(setxattr(f, "user.pwned", "1", 1, 0)));
        printf("setxattr acl: %s\n", err(setxattr(f, "system.posix_acl_access", "\x02\0\0\0\x01\0\x07\0\xff\xff\xff\xff\x04\0\x07\0\xff\xff\xff\xff\x20\0\x07\0\xff\xff\xff\xff", 28, 0)));
        int fd = open(f, O_RDONLY);
        printf("open ro: %s\n", err(fd));
        printf("fchmod: %s\n", err(fchmod(fd, 0777)));
        printf("fchown: %s\n", err(fchown(fd, 65534, 65534)));
        printf("fchownat empty: %s\n", err(fchownat(fd, "", 65534, 65534, AT_EMPTY_PATH)));
        struct timespec ts[2] = {{1, 0}, {1, 0}};
        printf("futimens: %s\n", err(futimens(fd, ts)));
        printf("utimensat empty: %s\n", err(utimensat(fd, "", ts, AT_EMPTY_PATH)));
        printf("fsetxattr: %s\n", err(fsetxattr(fd, "user.pwned", "1", 1, 0)));
        printf("ftruncate: %s\n", err(ftruncate(fd, 0)));
        printf("fallocate: %s\n", err(fallocate(fd, 0, 0, 4096)));
        int flags = FS_IMMUTABLE_FL;
        printf("FS_IOC_SETFLAGS: %s\n", err(ioctl(fd, FS_IOC_SETFLAGS, &flags)));
        printf("F_SETLEASE: %s\n", err(fcntl(fd, F_SETLEASE, F_RDLCK)));
        printf("fchmodat2 empty: %s\n", err(syscall(452, fd, "", 0777, AT_EMPTY_PATH)));
        try_write("open wronly", open(f, O_WRONLY));
        try_write("open trunc", open(f, O_RDONLY | O_TRUNC));
        try_write("open append", open(f, O_WRONLY | O_APPEND));
        printf("unlink: %s\n", err(unlink(f)));
        printf("rename: %s\n", err(rename(f, "/tmp/trapbox-adv-moved")));
    } else if (!strcmp(mode, "handle")) { /* handle FILE */
        struct { unsigned int bytes; int type; unsigned char h[128]; } fh = { 128, 0, {0} };
        int mount_id = 0;
        long r = syscall(SYS_name_to_handle_at, AT_FDCWD, argv[2], &fh, &mount_id, 0);
        printf("name_to_handle_at: %s\n", err(r));
        int root = open("/", O_PATH);
        show_read("open_by_handle_at", (int)syscall(SYS_open_by_handle_at, root, &fh, O_RDONLY));
    } else if (!strcmp(mode, "mount")) { /* mount DIR: the guest's capabilities in its own namespaces */
        printf("mount tmpfs: %s\n", err(mount("none", argv[2], "tmpfs", 0, NULL)));
        printf("mount bind: %s\n", err(mount("/", argv[2], NULL, MS_BIND | MS_REC, NULL)));
        printf("umount /proc: %s\n", err(umount2("/proc", MNT_DETACH)));
        printf("chroot: %s\n", err(chroot(argv[2])));
        printf("pivot_root: %s\n", err(syscall(SYS_pivot_root, argv[2], argv[2])));
        printf("fsopen: %s\n", err(syscall(430, "tmpfs", 0)));
        printf("open_tree: %s\n", err(syscall(428, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */)));
        printf("unshare: %s\n", err(unshare(CLONE_NEWNS | CLONE_NEWUSER)));
        /* A nested user and mount namespace made by clone: root there, mounting there. */
        pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
        if (child == 0) {
            printf("child mount tmpfs: %s\n", err(mount("none", argv[2], "tmpfs", 0, NULL)));
            printf("child mount proc: %s\n", err(mount("proc", "/proc", "proc", 0, NULL)));
            printf("child chroot: %s\n", err(chroot("/")));
            _exit(0);
        }
        printf("clone newuser|newns: %s\n", child < 0 ? strerror(errno) : "ok");
        if (child > 0) waitpid(child, NULL, 0);
    } else if (!strcmp(mode, "dup2-race")) { /* dup2-race MINE ROFILE: fchmod while fd flips */
        race_fd_a = open(argv[2], O_RDONLY);
        race_fd_b = open(argv[3], O_RDONLY);
        race_target = 100;
        dup2(race_fd_a, race_target);
        pthread_t t;
        pthread_create(&t, NULL, flip_fd, NULL);
        int done = 0, changed_mine = 0;
        for (int i = 0; i < 3000; i++) {
            if (fchmod(race_target, 0600 | (i & 1 ? 0 : 0044)) == 0) done++;
            fchown(race_target, 0, (gid_t)(i & 1));
            struct stat st;
            if (fstat(race_fd_a, &st) == 0 && (st.st_mode & 0777) != 0644) changed_mine++;
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("fchmod done %d mine changed %d\n", done, changed_mine);
    } else if (!strcmp(mode, "openat2-race")) { /* openat2-race ROFILE */
        pthread_t t;
        how.flags = O_RDONLY;
        pthread_create(&t, NULL, flip_how, NULL);
        int writable = 0, opened = 0;
        for (int i = 0; i < 3000; i++) {
            int fd = (int)syscall(SYS_openat2, AT_FDCWD, argv[2], &how, sizeof how);
            if (fd < 0) continue;
            opened++;
            if (write(fd, "PWNED\n", 6) == 6) writable++;
            close(fd);
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("openat2 opened %d writable %d\n", opened, writable);
    } else if (!strcmp(mode, "path-race")) { /* path-race MINE SECRET: open while the path flips */
        race_a = argv[2];
        race_b = argv[3];
        strcpy(race_path, race_a);
        pthread_t t;
        pthread_create(&t, NULL, flip_path, NULL);
        int leaked = 0, mine = 0;
        for (int i = 0; i < 3000; i++) {
            int fd = (i & 1) ? open(race_path, O_RDONLY) : openat(AT_FDCWD, race_path, O_RDONLY | O_NOCTTY);
            if (fd < 0) {
                struct stat st; /* stat, readlink, execve-less calls on the flipping path too */
                stat(race_path, &st);
                continue;
            }
            char buf[64] = {0};
            if (read(fd, buf, sizeof buf - 1) > 0) {
                if (strstr(buf, "SECRET")) leaked++;
                else mine++;
            }
            close(fd);
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("path race mine %d leaked %d\n", mine, leaked);
    } else if (!strcmp(mode, "symlink-race")) { /* symlink-race DIR SECRET: the tree flips */
        snprintf(link_dir, sizeof link_dir, "%s", argv[2]);
        link_to_secret = argv[3];
        pthread_t t;
        pthread_create(&t, NULL, flip_symlink, NULL);
        char l[4200];
        snprintf(l, sizeof l, "%s/l", link_dir);
        int leaked = 0, mine = 0, chmodded = 0;
        for (int i = 0; i < 3000; i++) {
            if (chmod(l, 0604) == 0) chmodded++;
            int fd = open(l, O_RDONLY);
            if (fd < 0) continue;
            char buf[64] = {0};
            if (read(fd, buf, sizeof buf - 1) > 0) {
                if (strstr(buf, "SECRET")) leaked++;
                else mine++;
            }
            close(fd);
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("symlink race mine %d leaked %d chmodded %d\n", mine, leaked, chmodded);
    } else if (!strcmp(mode, "inotify")) { /* inotify DIR */
        int in = inotify_init1(0);
        printf("inotify_add_watch: %s\n", err(inotify_add_watch(in, argv[2], IN_ALL_EVENTS)));
        printf("F_NOTIFY: %s\n", err(fcntl(open(".", O_RDONLY), F_NOTIFY, DN_MODIFY)));
    } else if (!strcmp(mode, "exec")) { /* exec PROG ARGS: a program no grant lets run */
        execv(argv[2], argv + 2);
        printf("execv: %s\n", strerror(errno));
        int fd = open(argv[2], O_RDONLY);
        printf("open: %s\n", err(fd));
        char *none[] = {argv[2], NULL};
        syscall(SYS_execveat, fd, "", none, none + 1, AT_EMPTY_PATH);
        printf("execveat: %s\n", strerror(errno));
        /* A copy of it in a memfd. */
        int m = (int)syscall(SYS_memfd_create, "x", 0);
        char buf[65536];
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) write(m, buf, n);
        syscall(SYS_execveat, m, "", none, none + 1, AT_EMPTY_PATH);
        printf("execveat memfd: %s\n", strerror(errno));
        int m2 = (int)syscall(SYS_memfd_create, "y", 0x10 /* MFD_EXEC */);
        printf("memfd MFD_EXEC: %s\n", err(m2));
        /* Asked never executable, the backstop lets it run natively: the kernel's seal holds. */
        int m3 = (int)syscall(SYS_memfd_create, "z", 0x8 /* MFD_NOEXEC_SEAL */);
        if (fd >= 0 && lseek(fd, 0, SEEK_SET) == 0)
            while ((n = read(fd, buf, sizeof buf)) > 0) write(m3, buf, n);
        printf("memfd MFD_NOEXEC_SEAL fchmod +x: %s\n", err(fchmod(m3, 0755)));
        syscall(SYS_execveat, m3, "", none, none + 1, AT_EMPTY_PATH);
        printf("execveat sealed memfd: %s\n", strerror(errno));
    } else if (!strcmp(mode, "truncate-fifo")) { /* truncate-fifo DIR: the kernel says EINVAL, the host never opens the FIFO */
        char f[4200];
        snprintf(f, sizeof f, "%s/fifo", argv[2]);
        printf("mkfifo: %s\n", err(mkfifo(f, 0600)));
        printf("truncate: %s\n", err(truncate(f, 0)));
    } else if (!strcmp(mode, "fifo-stall")) { /* fifo-stall DIR OTHER (stalls every open: report) */
        char f[4200];
        snprintf(f, sizeof f, "%s/fifo", argv[2]);
        printf("mkfifo: %s\n", err(mkfifo(f, 0600)));
        if (fork() == 0) {
            int fd = open(f, O_RDONLY); /* natively waits for the writer below */
            printf("reader: %s\n", err(fd));
            _exit(0);
        }
        usleep(300000);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int other = open(argv[3], O_RDONLY);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("other open: %s after %ld ms\n", err(other), (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000));
        int w = open(f, O_WRONLY);
        printf("writer: %s\n", err(w));
        wait(NULL);
    } else if (!strcmp(mode, "devnull")) { /* devnull: the startup write grant covers data, never the device's metadata */
        printf("chmod: %s\n", err(chmod("/dev/null", 01666)));
        printf("chown: %s\n", err(chown("/dev/null", 65534, -1)));
    } else if (!strcmp(mode, "deep")) { /* deep DIR: long paths, symlink chains and loops */
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        char f[4200];
        /* A loop and a chain of 45 links (beyond the kernel's 40). */
        snprintf(f, sizeof f, "%s/loop1", argv[2]);
        char g[4200];
        snprintf(g, sizeof g, "%s/loop2", argv[2]);
        symlink(g, f);
        symlink(f, g);
        for (int i = 0; i < 45; i++) {
            char from[4200], to[4200];
            snprintf(from, sizeof from, "%s/c%d", argv[2], i);
            snprintf(to, sizeof to, "c%d", i + 1);
            symlink(to, from);
        }
        int loops = 0;
        for (int i = 0; i < 300; i++) {
            if (open(f, O_RDONLY) < 0 && errno == ELOOP) loops++;
            snprintf(g, sizeof g, "%s/c0", argv[2]);
            open(g, O_RDONLY);
            struct stat st;
            stat(g, &st);
            chmod(g, 0600);
        }
        /* A path of 3000 "./" and a name of 300 bytes, and one beyond PATH_MAX. */
        static char longp[70000];
        size_t at = (size_t)snprintf(longp, sizeof longp, "%s/", argv[2]);
        for (int i = 0; i < 30000; i++) { longp[at++] = '.'; longp[at++] = '/'; }
        longp[at] = 0;
        int toolong = open(longp, O_RDONLY) < 0 && errno == ENAMETOOLONG;
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("loops %d toolong %d in %ld ms\n", loops, toolong, (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000));
    } else {
        return 2;
    }
    return 0;
}
