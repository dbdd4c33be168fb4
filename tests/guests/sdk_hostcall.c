// A guest written against the SDK convention in C: an inline `ud2` that lists itself in the
// `.trapbox.sdk` section. Under trapbox the host recognises it (the binary was never
// rewritten) and answers the VERSION hostcall; natively the ud2 is a SIGILL.
#include <stdio.h>
#include "../../examples/c/hostcall.h"

static long hostcall0(long nr) {
    return trapbox_hostcall(nr, 0, 0, 0, 0, 0, 0);
}

int main(void) {
    printf("asking the host\n");
    fflush(stdout);
    printf("hostcall version: %ld\n", hostcall0(0x10000000L));
    printf("unknown hostcall: %ld\n", hostcall0(0x10000fffL));
    return 0;
}
