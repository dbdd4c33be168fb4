/* Keys of the guest's own.
 *   keys_probe probe DESC    adds a key to its session keyring and to its user keyring and
 *                            reads both back; looks for the key DESC in its session keyring;
 *                            asks for a missing key with callout information (which would
 *                            run the host's /sbin/request-key)
 *   keys_probe session DESC PROG ARGS...
 *                            starts a session keyring linked to its user keyring (as a
 *                            login's is), adds the key DESC to it and execs PROG */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *err(long rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }

static void add_and_read(const char *ring_name, int ring) {
    long key = syscall(SYS_add_key, "user", ring_name, "payload", 7, ring);
    printf("add_key %s: %s\n", ring_name, err(key));
    char buf[32] = {0};
    long n = syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof buf - 1);
    printf("keyctl read %s: %s %s\n", ring_name, err(n), n > 0 ? buf : "");
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (!strcmp(argv[1], "session") && argc > 3) {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0
            || syscall(SYS_keyctl, KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING) < 0
            || syscall(SYS_add_key, "user", argv[2], "x", 1, KEY_SPEC_SESSION_KEYRING) < 0) {
            perror("session keyring");
            return 1;
        }
        execv(argv[3], argv + 3);
        perror("execv");
        return 1;
    }
    add_and_read("session", KEY_SPEC_SESSION_KEYRING);
    add_and_read("user", KEY_SPEC_USER_KEYRING);
    printf("the invoker's session key: %s\n", err(syscall(SYS_request_key, "user", argv[2], NULL, 0)));
    printf("request_key with callout: %s\n", err(syscall(SYS_request_key, "user", "trapbox-missing", "info", 0)));
    return 0;
}
