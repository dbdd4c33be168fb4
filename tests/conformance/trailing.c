/* Paths that end in `/`, `/.` or `/..`: the last component decides before any permission,
 * and a call that natively fails must not change anything (unlink("f/.") removes nothing). */
#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    if (chdir(scratch) != 0) return 99;
    put("f", "x", 0644);
    mkdir("d", 0755);
    mkdir("e", 0755);
    CK("unlink f/.", unlink("f/."));
    CK("unlink f/", unlink("f/"));
    CK("unlink d/.", unlink("d/."));
    CK("unlink d/", unlink("d/"));
    CK("rmdir d/.", rmdir("d/."));
    CK("rmdir d/..", rmdir("d/.."));
    CK("rmdir f/", rmdir("f/"));
    CK("rename d/. x", rename("d/.", "x"));
    CK("rename f/ y", rename("f/", "y"));
    CK("rename e d/.", rename("e", "d/."));
    CK("rename f z/", rename("f", "z/"));
    CK("open missing/ creat", open("missing/", O_CREAT | O_WRONLY, 0644));
    CK("open f/ read", open("f/", O_RDONLY));
    CK("open missing/ read", open("missing/", O_RDONLY));
    OK("mkdir new/", mkdir("new/", 0755));
    CK("mkdir d/.", mkdir("d/.", 0755));
    CK("symlink t new2/", symlink("t", "new2/"));
    CK("link f g/", link("f", "g/"));
    CK("mknod n/", mknod("n/", S_IFREG | 0644, 0));
    CK("f still there", access("f", F_OK));
    CK("d still there", access("d", F_OK));
    CK("e still there", access("e", F_OK));
    CK("nothing named missing", access("missing", F_OK));
    OK("rename dir e to e2/", rename("e", "e2/"));
    return 0;
}
