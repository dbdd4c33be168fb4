#include "conf.h"
#include <dirent.h>

struct ld { unsigned long ino; long off; unsigned short reclen; unsigned char type; char name[]; };
static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
    setup(argc, argv);
    mkdir(P("d"), 0755);
    put("d/zeta", "", 0644); put("d/alpha", "", 0644); put("d/mid", "", 0644);
    mkdir(P("d/sub"), 0755);
    symlink("alpha", P("d/link"));
    int fd = open(P("d"), O_RDONLY | O_DIRECTORY);
    char buf[4096];
    char *names[32]; int count = 0;
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct ld *e = (struct ld *)(buf + off);
            char line[300];
            snprintf(line, sizeof line, "%s %s", e->name,
                     e->type == DT_DIR ? "dir" : e->type == DT_REG ? "reg" : e->type == DT_LNK ? "lnk" : "other");
            names[count++] = strdup(line);
            off += e->reclen;
        }
    }
    CK("getdents end", n);
    qsort(names, count, sizeof *names, cmp);
    for (int i = 0; i < count; i++) STR("entry", names[i]);
    CK("getdents small buf", ({ lseek(fd, 0, SEEK_SET); syscall(SYS_getdents64, fd, buf, 8); }));
    int f = open(P("d/alpha"), O_RDONLY);
    CK("getdents on file", syscall(SYS_getdents64, f, buf, sizeof buf));
    CK("getdents bad fd", syscall(SYS_getdents64, 9999, buf, sizeof buf));
    char cwd[4096];
    CK("chdir", chdir(P("d")));
    STR("getcwd tail", strrchr(getcwd(cwd, sizeof cwd), '/'));
    CK("chdir relative", chdir("sub"));
    STR("getcwd tail 2", strrchr(getcwd(cwd, sizeof cwd), '/'));
    CK("chdir dotdot", chdir(".."));
    CK("open relative after chdir", open("alpha", O_RDONLY) >= 0);
    CK("chdir file", chdir("alpha"));
    CK("chdir missing", chdir("nope"));
    CK("fchdir", fchdir(open(P("d/sub"), O_RDONLY)));
    STR("fchdir cwd tail", strrchr(getcwd(cwd, sizeof cwd), '/'));
    CK("fchdir file", fchdir(f));
    CK("fchdir bad", fchdir(9999));
    CK("fchdir path fd", fchdir(open(P("d"), O_PATH)));
    CK("getcwd small", syscall(SYS_getcwd, cwd, 2));
    CK("getcwd zero", syscall(SYS_getcwd, cwd, 0));
    long len = syscall(SYS_getcwd, cwd, sizeof cwd);
    FACT("getcwd length counts nul", len == (long)strlen(cwd) + 1);
    CK("getcwd exact", syscall(SYS_getcwd, cwd, len) == len);
    CK("getcwd one short", syscall(SYS_getcwd, cwd, len - 1));
    mkdir(P("gone"), 0755);
    chdir(P("gone"));
    rmdir(P("gone"));
    CK("getcwd deleted", syscall(SYS_getcwd, cwd, sizeof cwd));
    CK("open relative in deleted cwd", open("x", O_RDONLY));
    CK("create in deleted cwd", open("x", O_WRONLY | O_CREAT, 0644));
    return 0;
}
