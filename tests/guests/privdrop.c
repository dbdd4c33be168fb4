/* Privilege drops and what the kernel answers afterwards: run as root in a directory holding
 *   secret (0600 root), public (0644 root), closed/ (0700 root), open/ (0777)
 * it drops to nobody in the way argv[1] names (setuid, setresuid, setfsuid: the last is
 * per-thread and changes only filesystem checks), then opens, creates, stats and removes.
 * Natively and under trapbox the lines must be the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    printf("%s: %s\n", what, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *how = argv[1];
    gid_t none[1] = {65534};
    if (!strcmp(how, "setuid")) {
        report("setgroups", setgroups(1, none));
        report("setgid", setgid(65534));
        report("setuid", setuid(65534));
    } else if (!strcmp(how, "setresuid")) {
        report("setresgid", setresgid(65534, 65534, 65534));
        report("setresuid", setresuid(65534, 65534, 0));
    } else if (!strcmp(how, "setfsuid")) {
        /* Raw and per thread: only this thread's filesystem checks change. */
        syscall(SYS_setfsgid, 65534);
        syscall(SYS_setfsuid, 65534);
        report("setfsuid", (long)syscall(SYS_setfsuid, -1) == 65534 ? 0 : -1);
    } else {
        return 2;
    }
    report("open secret", open("secret", O_RDONLY));
    report("open public", open("public", O_RDONLY));
    report("open public for writing", open("public", O_WRONLY));
    report("create in closed", open("closed/new", O_CREAT | O_WRONLY, 0644));
    report("create in open", open("open/new", O_CREAT | O_WRONLY | O_EXCL, 0644));
    struct stat st;
    report("stat closed/inner", stat("closed/inner", &st));
    report("stat open/new", stat("open/new", &st));
    printf("open/new owner: %u\n", (unsigned)st.st_uid);
    report("mkdir in closed", mkdir("closed/dir", 0755));
    report("mkdir in open", mkdir("open/dir", 0755));
    report("chmod public", chmod("public", 0600));
    report("unlink in open", unlink("open/new"));
    report("rmdir in open", rmdir("open/dir"));
    report("access secret", access("secret", R_OK));
    return 0;
}
