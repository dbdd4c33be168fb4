#include "conf.h"

static void mode(const char *name, const char *rel) {
    struct stat st;
    if (lstat(P(rel), &st)) printf("%s: %s\n", name, errname(errno));
    else printf("%s: %o\n", name, st.st_mode & 07777);
}

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "x", 0644);
    mkdir(P("d"), 0755);
    symlink("f", P("l"));
    int sfd = open(scratch, O_RDONLY | O_DIRECTORY);
    CK("chmod", chmod(P("f"), 0600));
    mode("mode after chmod", "f");
    CK("chmod missing", chmod(P("nope"), 0600));
    CK("chmod via symlink", chmod(P("l"), 0640));
    mode("target mode", "f");
    CK("chmod sticky dir", chmod(P("d"), 01755));
    mode("dir mode", "d");
    CK("chmod setgid dir", chmod(P("d"), 02755));
    mode("setgid dir mode", "d");
    int fd = open(P("f"), O_RDWR);
    CK("fchmod", fchmod(fd, 0604));
    mode("fchmod mode", "f");
    CK("fchmod bad fd", fchmod(9999, 0600));
    CK("fchmodat", fchmodat(sfd, "f", 0614, 0));
    mode("fchmodat mode", "f");
    CK("fchmodat bad dirfd", fchmodat(9999, "f", 0600, 0));
    CK("fchmodat raw bad flag", syscall(SYS_fchmodat, sfd, "f", 0600, AT_SYMLINK_NOFOLLOW));
    CK("chmod setuid", chmod(P("f"), 04755));
    mode("setuid mode", "f");
    CK("fchmod setgid file", fchmod(fd, 02755));
    mode("setgid mode", "f");
    chmod(P("f"), 0644);
    struct stat st;
    stat(P("f"), &st);
    uid_t u = st.st_uid; gid_t g = st.st_gid;
    CK("chown unchanged", chown(P("f"), -1, -1));
    CK("chown same ids", chown(P("f"), u, g));
    stat(P("f"), &st);
    FACT("ids kept", st.st_uid == u && st.st_gid == g);
    CK("chown missing", chown(P("nope"), -1, -1));
    CK("lchown symlink", lchown(P("l"), -1, -1));
    CK("fchown", fchown(fd, u, -1));
    CK("fchown bad fd", fchown(9999, -1, -1));
    CK("fchownat", fchownat(sfd, "f", -1, g, 0));
    CK("fchownat nofollow", fchownat(sfd, "l", -1, -1, AT_SYMLINK_NOFOLLOW));
    CK("fchownat empty path", fchownat(fd, "", -1, -1, AT_EMPTY_PATH));
    CK("fchownat bad flag", fchownat(sfd, "f", -1, -1, 0x1));
    CK("fchownat bad dirfd", fchownat(9999, "f", -1, -1, 0));
    return 0;
}
