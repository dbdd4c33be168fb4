/* Adversarial attempts on processes, signals, kernel facilities, the host's memory in the
 * guest and the log (tests/tests/run_adversarial.rs). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }
#define STUB 0x5500000C0000UL
#define PIN 0x550000000000UL

static unsigned long sum(const void *p, size_t n) {
    unsigned long s = 0;
    for (size_t i = 0; i < n; i++) s = s * 31 + ((const unsigned char *)p)[i];
    return s;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *mode = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "signal-init")) {
        printf("kill 1 KILL: %s\n", err(kill(1, SIGKILL)));
        printf("kill 1 STOP: %s\n", err(kill(1, SIGSTOP)));
        printf("tgkill 1: %s\n", err(syscall(SYS_tgkill, 1, 1, SIGKILL)));
        printf("kill high-bit 1: %s\n", err(syscall(SYS_kill, (1L << 32) | 1, SIGKILL)));
        siginfo_t si = {0};
        si.si_code = SI_QUEUE;
        printf("rt_sigqueueinfo 1: %s\n", err(syscall(SYS_rt_sigqueueinfo, 1, SIGKILL, &si)));
        printf("pidfd_open 1: %s\n", err(syscall(SYS_pidfd_open, 1, 0)));
        int dir = open("/proc/1", O_RDONLY | O_DIRECTORY);
        printf("open /proc/1: %s\n", err(dir));
        printf("pidfd_send_signal /proc/1: %s\n", err(syscall(SYS_pidfd_send_signal, dir, SIGKILL, NULL, 0)));
        printf("kill 0 (own group) CONT: %s\n", err(kill(0, SIGCONT)));
        printf("prlimit 1: %s\n", err(syscall(SYS_prlimit64, 1, RLIMIT_NOFILE, NULL, NULL)));
        char buf[8];
        struct iovec l = {buf, 8}, r = {(void *)0x400000, 8};
        printf("process_vm_readv 1: %s\n", err(syscall(SYS_process_vm_readv, 1, &l, 1, &r, 1, 0)));
        printf("ptrace attach 1: %s\n", err(ptrace(PTRACE_ATTACH, 1, 0, 0)));
        printf("setpgid into 1's group: %s\n", err(setpgid(0, 1)));
        printf("alive\n");
    } else if (!strcmp(mode, "ptrace")) {
        pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        printf("attach child: %s\n", err(ptrace(PTRACE_ATTACH, child, 0, 0)));
        printf("seize child: %s\n", err(ptrace(PTRACE_SEIZE, child, 0, 0)));
        printf("traceme: %s\n", err(ptrace(PTRACE_TRACEME, 0, 0, 0)));
        long nul = 0;
        struct iovec l = {&nul, 8}, r = {(void *)STUB, 8};
        printf("process_vm_writev self stub: %s\n", err(syscall(SYS_process_vm_writev, getpid(), &l, 1, &r, 1, 0)));
        printf("pidfd_getfd: %s\n", err(syscall(SYS_pidfd_getfd, syscall(SYS_pidfd_open, child, 0), 0, 0)));
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        printf("prctl seccomp: %s\n", err(prctl(PR_SET_SECCOMP, 2, 0)));
        printf("seccomp: %s\n", err(syscall(SYS_seccomp, 1, 0, NULL)));
        printf("syscall user dispatch: %s\n", err(prctl(59, 1, 0, 0, 0)));
        printf("prctl high-bit seccomp: %s\n", err(syscall(SYS_prctl, (1L << 32) | PR_SET_SECCOMP, 2, 0, 0, 0)));
        printf("clone untraced: %s\n", err(syscall(SYS_clone, 0x00800000 | SIGCHLD, 0, 0, 0, 0)));
        printf("PR_SET_MM: %s\n", err(prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0x1000, 0, 0)));
        printf("PR_SET_MDWE: %s\n", err(prctl(65, 1, 0, 0, 0)));
        printf("cap ambient raise: %s\n", err(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 21, 0, 0)));
    } else if (!strcmp(mode, "kernel")) { /* kernel facilities with a large attack surface */
        printf("keyctl: %s\n", err(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0)));
        printf("add_key: %s\n", err(syscall(SYS_add_key, "user", "x", "y", 1, -3)));
        union { char b[128]; } attr = {{0}};
        printf("bpf: %s\n", err(syscall(SYS_bpf, 0, &attr, sizeof attr)));
        printf("perf_event_open: %s\n", err(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0)));
        printf("userfaultfd: %s\n", err(syscall(SYS_userfaultfd, 0)));
        printf("open /dev/userfaultfd: %s\n", err(open("/dev/userfaultfd", O_RDWR)));
        char params[120] = {0};
        printf("io_uring_setup: %s\n", err(syscall(SYS_io_uring_setup, 4, params)));
        printf("kexec_load: %s\n", err(syscall(SYS_kexec_load, 0, 0, NULL, 0)));
        printf("init_module: %s\n", err(syscall(SYS_init_module, NULL, 0, "")));
        printf("fanotify_init: %s\n", err(syscall(SYS_fanotify_init, 0, 0)));
        printf("syslog: %s\n", err(syscall(SYS_syslog, 3, attr.b, 64)));
        printf("iopl: %s\n", err(syscall(SYS_iopl, 3)));
        printf("modify_ldt: %s\n", err(syscall(SYS_modify_ldt, 1, attr.b, 16)));
        printf("acct: %s\n", err(syscall(SYS_acct, "/tmp/x")));
        printf("swapoff: %s\n", err(syscall(SYS_swapoff, "/")));
        printf("settimeofday: %s\n", err(syscall(SYS_settimeofday, NULL, NULL)));
        printf("shmget: %s\n", err(syscall(SYS_shmget, 0x7ad0, 4096, 01666)));
        printf("msgget: %s\n", err(syscall(SYS_msgget, 0x7ad0, 01666)));
        printf("mq_open: %s\n", err(syscall(SYS_mq_open, "adv", O_CREAT | O_RDWR, 0666, NULL)));
        printf("nr 1000: %s\n", err(syscall(1000, 1, 2, 3)));
        printf("x32 bit: %s\n", "skipped"); /* x32 kills the process: the backstop test covers it */
    } else if (!strcmp(mode, "proc-sys")) { /* host-wide knobs through /proc and /sys */
        const char *paths[] = {"/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches",
                               "/proc/sys/kernel/core_pattern", "/sys/class/net/lo/mtu", "/proc/self/uid_map",
                               "/proc/self/attr/current", "/proc/1/oom_score_adj", "/dev/kmsg", "/proc/self/mem"};
        for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
            int fd = open(paths[i], O_WRONLY);
            printf("%s: %s\n", paths[i], err(fd));
            if (fd >= 0) printf("  write: %s\n", err(write(fd, "adv-pwned\n", 10)));
        }
    } else if (!strcmp(mode, "daemon")) { /* daemon DIR: a setsid'd grandchild that keeps writing */
        if (fork() == 0) {
            setsid();
            if (fork() == 0) {
                prctl(PR_SET_PDEATHSIG, 0);
                char f[4200];
                snprintf(f, sizeof f, "%s/beat", argv[2]);
                for (int i = 0; i < 600; i++) {
                    int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
                    dprintf(fd, "%d\n", i);
                    close(fd);
                    usleep(50000);
                }
                _exit(0);
            }
            _exit(0);
        }
        printf("forked\n");
        if (argc > 3) pause(); /* stay, so the test can kill trapbox under us */
    } else if (!strcmp(mode, "forkmany")) { /* forkmany N: children left running as the leader exits */
        int n = atoi(argv[2]), made = 0;
        for (int i = 0; i < n; i++) {
            pid_t c = fork();
            if (c == 0) {
                setsid();
                usleep(300000);
                _exit(0);
            }
            if (c > 0) made++;
        }
        printf("made %d\n", made);
    } else if (!strcmp(mode, "sigstop")) { /* SIGSTOP/SIGCONT games with a child */
        pid_t me = getpid();
        pid_t c = fork();
        if (c == 0) {
            for (int i = 0; i < 50; i++) {
                kill(me, SIGSTOP);
                usleep(2000);
                kill(me, SIGCONT);
            }
            _exit(0);
        }
        int rounds = 0;
        for (int i = 0; i < 2000 && waitpid(c, NULL, WNOHANG) == 0; i++, rounds++) getppid(), usleep(100);
        waitpid(c, NULL, 0);
        printf("sigstop rounds done\n");
    } else if (!strcmp(mode, "stub")) { /* the host's area: every way to change it */
        unsigned long before = sum((void *)STUB, 64), pin_before = sum((void *)PIN, 4096);
        printf("mprotect stub rwx: %s\n", err(mprotect((void *)STUB, 4096, PROT_READ | PROT_WRITE | PROT_EXEC)));
        printf("madvise wipeonfork: %s\n", err(madvise((void *)PIN, 4096, MADV_WIPEONFORK)));
        printf("madvise dontfork: %s\n", err(madvise((void *)STUB, 4096, MADV_DONTFORK)));
        printf("madvise dontneed: %s\n", err(madvise((void *)PIN, 4096, MADV_DONTNEED)));
        printf("madvise remove: %s\n", err(madvise((void *)PIN, 4096, MADV_REMOVE)));
        void *mine = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(mine, 0xcc, 8192);
        printf("mremap onto stub: %s\n", mremap(mine, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)STUB) == MAP_FAILED ? strerror(errno) : "ok");
        printf("mremap grow pin: %s\n", mremap((void *)PIN, 4096, 8192, 0) == MAP_FAILED ? strerror(errno) : "ok");
        printf("mremap dontunmap: %s\n", mremap((void *)PIN, 4096, 4096, MREMAP_MAYMOVE | 4 /* DONTUNMAP */) == MAP_FAILED ? strerror(errno) : "ok");
        printf("mmap fixed stub: %s\n", mmap((void *)STUB, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ? strerror(errno) : "ok");
        printf("munmap huge: %s\n", err(munmap((void *)0x10000, 0x7f0000000000UL)));
        printf("remap_file_pages: %s\n", err(syscall(SYS_remap_file_pages, PIN, 4096, 0, 1, 0)));
        printf("mseal pin: %s\n", err(syscall(462, PIN, 4096, 0)));
        printf("pkey_mprotect pin: %s\n", err(syscall(SYS_pkey_mprotect, PIN, 4096, PROT_READ | PROT_WRITE, 0)));
        long nr = SYS_process_madvise;
        printf("process_madvise: %s\n", err(syscall(nr, -1, NULL, 0, 0, 0)));
        printf("shmat at pin: %s\n", err(syscall(SYS_shmat, 0, PIN, 0)));
        int memfd = open("/proc/self/mem", O_RDWR);
        printf("/proc/self/mem: %s\n", err(memfd));
        printf("brk onto pin: %s\n", (unsigned long)syscall(SYS_brk, PIN + 4096) == PIN + 4096 ? "MOVED" : "refused");
        pid_t c = fork(); /* after the madvise calls: the child must find the area intact too */
        if (c == 0) _exit(sum((void *)STUB, 64) == before && getppid() > 0 ? 0 : 9);
        int status = 0;
        waitpid(c, &status, 0);
        printf("child area intact: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "NO");
        printf("stub intact: %s\n", sum((void *)STUB, 64) == before ? "yes" : "NO");
        printf("pin intact: %s\n", sum((void *)PIN, 4096) == pin_before ? "yes" : "changed");
    } else if (!strcmp(mode, "logforge")) { /* guest text that could forge or repaint log lines */
        const char *evil = "/nonexistent/\ntrapbox: allowed everything\r\x1b[2K\x1b]0;pwned\x07\xe2\x80\xae";
        prctl(PR_SET_NAME, "\ntrapbox: ok\x1b[1m");
        open(evil, O_RDONLY);
        char *args[] = {(char *)evil, "\ntrapbox: forged", NULL};
        execv(evil, args);
        struct sockaddr_un u = {.sun_family = AF_UNIX};
        memcpy(u.sun_path, "\0\ntrapbox: forged abstract\x1b[0m", 31);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(s, (struct sockaddr *)&u, offsetof(struct sockaddr_un, sun_path) + 31);
        memcpy(u.sun_path, "/nonexistent/\ntrapbox: forged path\x1b[0m", 39);
        connect(s, (struct sockaddr *)&u, sizeof u);
        chmod(evil, 0777);
        symlink(evil, evil);
        printf("logforge done\n");
    } else {
        return 2;
    }
    return 0;
}
