/* Namespaces of the guest's own: its /proc/self/ns links open to the namespace files, the
 * NS_GET_* and pidfd namespace queries answer as the kernel does (an ancestor outside the
 * caller's namespaces is EPERM, natively for the host's first namespaces and in the guest
 * for the host's), and unshare and setns make and join namespaces nested in the caller's. */
#include "conf.h"
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <linux/nsfs.h>

#ifndef PIDFD_GET_UTS_NAMESPACE
#define PIDFD_GET_UTS_NAMESPACE _IO(0xFF, 10)
#endif

/* A child that unshares `flags` and reports on it through its exit status; 0 is success. */
static int in_child(int (*body)(void)) {
    pid_t child = fork();
    if (child == 0) _exit(body());
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int new_uts(void) {
    if (unshare(CLONE_NEWUTS) != 0) return 10 + errno;
    if (sethostname("nested", 6) != 0) return 100 + errno;
    struct utsname u;
    uname(&u);
    return strcmp(u.nodename, "nested") == 0 ? 0 : 1;
}

static int new_ipc(void) { return unshare(CLONE_NEWIPC) == 0 ? 0 : errno; }

static int new_user(void) {
    if (unshare(CLONE_NEWUSER) != 0) return errno;
    /* Unmapped until someone writes the maps: the overflow ids. */
    return getuid() == 65534 ? 0 : 1;
}

/* In a user namespace of its own (no maps written) a process owns no file: its capabilities
 * there override no permission of a file outside (0555, not writable). */
static const char *read_only_path;
static int write_read_only(void) {
    if (unshare(CLONE_NEWUSER) != 0) return 100 + errno;
    int fd = open(read_only_path, O_WRONLY);
    if (fd >= 0) return 0;
    int e = errno;
    return truncate(read_only_path, 0) == 0 ? 1 : e;
}

static int join_own_uts(void) {
    int fd = open("/proc/self/ns/uts", O_RDONLY);
    if (fd < 0) return 200 + errno;
    return setns(fd, CLONE_NEWUTS) == 0 ? 0 : errno;
}

int main(int argc, char **argv) {
    setup(argc, argv);
    int pidns, userns, utsns;
    OK("open ns pid", pidns = open("/proc/self/ns/pid", O_RDONLY));
    OK("open ns user", userns = open("/proc/self/ns/user", O_RDONLY));
    OK("open ns uts", utsns = open("/proc/self/ns/uts", O_RDONLY));
    CK("NS_GET_NSTYPE pid", ioctl(pidns, NS_GET_NSTYPE) == CLONE_NEWPID);
    CK("NS_GET_NSTYPE uts", ioctl(utsns, NS_GET_NSTYPE) == CLONE_NEWUTS);
    CK("NS_GET_PARENT of the first pid namespace", ioctl(pidns, NS_GET_PARENT));
    CK("NS_GET_USERNS of the first user namespace", ioctl(userns, NS_GET_USERNS));
    uid_t owner = 12345;
    CK("NS_GET_OWNER_UID of a non-user namespace", ioctl(utsns, NS_GET_OWNER_UID, &owner));
    CK("NS_GET_NSTYPE on a regular file", ioctl(open(argv[0], O_RDONLY), NS_GET_NSTYPE));
    struct utsname before, after;
    uname(&before);
    CK("unshare uts, sethostname in it", in_child(new_uts));
    uname(&after);
    FACT("host name unchanged outside the child", strcmp(before.nodename, after.nodename) == 0);
    CK("unshare ipc", in_child(new_ipc));
    CK("unshare user", in_child(new_user));
    CK("setns to its own uts namespace", in_child(join_own_uts));
    put("read-only", "keep\n", 0555);
    read_only_path = P("read-only");
    CK("nested user namespace writes a 0555 file", in_child(write_read_only));
    FACT("the 0555 file kept its data", access(P("read-only"), F_OK) == 0);
    CK("setns with a non-namespace fd", setns(0, 0));
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    int pidfd = syscall(SYS_pidfd_open, child, 0);
    int child_uts;
    OK("PIDFD_GET_UTS_NAMESPACE", child_uts = ioctl(pidfd, PIDFD_GET_UTS_NAMESPACE, 0));
    CK("its NS_GET_NSTYPE", ioctl(child_uts, NS_GET_NSTYPE) == CLONE_NEWUTS);
    struct stat mine, childs;
    fstat(utsns, &mine);
    fstat(child_uts, &childs);
    FACT("the child shares the uts namespace", mine.st_ino == childs.st_ino);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
