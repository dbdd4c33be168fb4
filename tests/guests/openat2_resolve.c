/* openat2's struct and RESOLVE_* flags, case by case: each line names the case and what the
 * call gave (the errno's name, or the first line of the file it opened).
 *
 *   openat2_resolve DIR   where DIR holds x ("outside"), inner/x ("inside"),
 *                         inner/link -> x and inner/sub/ */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int inner = -1;

static void report(const char *name, long fd) {
    if (fd < 0) {
        printf("%s: %s\n", name, strerrorname_np(errno));
        return;
    }
    char buf[64] = {0};
    ssize_t n = read((int)fd, buf, sizeof buf - 1);
    if (n < 0) {
        printf("%s: opened, read %s\n", name, strerrorname_np(errno));
    } else {
        buf[strcspn(buf, "\n")] = 0;
        printf("%s: opened \"%s\"\n", name, buf);
    }
    close((int)fd);
}

static void attempt(const char *name, int dirfd, const char *path, unsigned long long resolve) {
    struct open_how how = {.flags = O_RDONLY, .resolve = resolve};
    report(name, syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/inner", argv[1]);
    inner = open(path, O_RDONLY | O_DIRECTORY);
    if (inner < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        return 1;
    }
    attempt("plain x", inner, "x", 0);
    attempt("beneath ../x", inner, "../x", RESOLVE_BENEATH);
    snprintf(path, sizeof path, "%s/inner/x", argv[1]);
    attempt("beneath absolute", inner, path, RESOLVE_BENEATH);
    attempt("beneath sub/../x", inner, "sub/../x", RESOLVE_BENEATH);
    attempt("in-root /x", inner, "/x", RESOLVE_IN_ROOT);
    attempt("in-root ../../x", inner, "../../x", RESOLVE_IN_ROOT);
    attempt("no-symlinks link", inner, "link", RESOLVE_NO_SYMLINKS);
    attempt("symlink followed", inner, "link", 0);
    int held = openat(inner, "x", O_RDONLY);
    snprintf(path, sizeof path, "/proc/self/fd/%d", held);
    attempt("no-magiclinks /proc/self/fd/N", AT_FDCWD, path, RESOLVE_NO_MAGICLINKS);
    attempt("magic link followed", AT_FDCWD, path, 0);
    close(held);
    attempt("no-xdev /proc/version", AT_FDCWD, "/proc/version", RESOLVE_NO_XDEV);
    attempt("no-xdev x", inner, "x", RESOLVE_NO_XDEV);
    attempt("cached x", inner, "x", RESOLVE_CACHED);
    attempt("beneath and in-root", inner, "x", RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    attempt("unknown resolve bit", inner, "x", 1ULL << 40);
    attempt("bad dirfd", 999, "x", RESOLVE_BENEATH);

    struct open_how how = {.flags = O_RDONLY};
    report("size 8", syscall(SYS_openat2, inner, "x", &how, (size_t)8));
    static unsigned char page[4096];
    memcpy(page, &how, sizeof how);
    report("size 4096, zero tail", syscall(SYS_openat2, inner, "x", page, sizeof page));
    page[4095] = 1;
    report("size 4096, nonzero tail", syscall(SYS_openat2, inner, "x", page, sizeof page));
    report("size 8192", syscall(SYS_openat2, inner, "x", page, (size_t)8192));
    struct open_how create_cached = {.flags = O_RDWR | O_CREAT, .mode = 0644, .resolve = RESOLVE_CACHED};
    report("cached create", syscall(SYS_openat2, inner, "new", &create_cached, sizeof create_cached));
    struct open_how mode_without_create = {.flags = O_RDONLY, .mode = 0644};
    report("mode without create", syscall(SYS_openat2, inner, "x", &mode_without_create, sizeof mode_without_create));
    struct open_how create_beneath = {.flags = O_RDWR | O_CREAT | O_EXCL, .mode = 0600, .resolve = RESOLVE_BENEATH};
    report("create beneath sub/new", syscall(SYS_openat2, inner, "sub/new", &create_beneath, sizeof create_beneath));
    report("create beneath ../new", syscall(SYS_openat2, inner, "../new", &create_beneath, sizeof create_beneath));
    return 0;
}
