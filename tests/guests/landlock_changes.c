/* A guest that restricts itself with its own Landlock ruleset, handling the rights to create,
 * remove, rename and truncate but granting beneath SCRATCH only reading, then tries each such
 * change there. Natively the kernel refuses them all; under trapbox the host performs these
 * calls for it, and must refuse them exactly the same way.
 *   landlock_changes SCRATCH   (SCRATCH holds a file `f`) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* Landlock ABI 3; older headers lack it */
#endif
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    printf("%s: %s\n", what, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char **argv) {
    if (argc != 2 || chdir(argv[1]) != 0)
        return 2;
    struct landlock_ruleset_attr attr = {
        .handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_WRITE_FILE |
                             LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |
                             LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                             LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE,
    };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    struct landlock_path_beneath_attr beneath = {
        .allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
        .parent_fd = open(".", O_PATH | O_CLOEXEC),
    };
    report("add rule", syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0));
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    report("restrict self", syscall(SYS_landlock_restrict_self, ruleset, 0));
    report("mkdir", mkdir("d", 0755));
    report("mkfifo", mkfifo("p", 0600));
    report("symlink", symlink("f", "s"));
    report("unlink", unlink("f"));
    report("rename", rename("f", "g"));
    report("link", link("f", "h"));
    report("truncate", truncate("f", 0));
    struct stat st;
    report("f is still there", stat("f", &st));
    printf("f size: %lld\n", (long long)st.st_size);
    return 0;
}
