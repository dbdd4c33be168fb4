/* Asks the host for its trap-ABI version through a hostcall, from C.
 *
 *   gcc -O2 -o abi_version examples/c/abi_version.c
 *   trapbox run -- ./abi_version          # prints: trapbox ABI version 1
 *   ./abi_version                         # natively: the ud2 is a genuine SIGILL */
#include <stdio.h>
#include "hostcall.h"

int main(void) {
    long version = trapbox_hostcall(TRAPBOX_HC_VERSION, 0, 0, 0, 0, 0, 0);
    if (version < 0) {
        fprintf(stderr, "VERSION hostcall failed: %ld\n", version);
        return 1;
    }
    printf("trapbox ABI version %ld\n", version);
    return 0;
}
