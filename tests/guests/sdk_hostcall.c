// A guest written against the SDK convention in C: an inline `ud2` that lists itself in the
// `.trapbox.sdk` section. Under trapbox the host recognises it (the binary was never
// rewritten) and answers the VERSION hostcall; natively the ud2 is a SIGILL.
#include <stdio.h>

static long hostcall0(long nr) {
    long result;
    __asm__ volatile(
        "1: ud2\n"
        ".pushsection .trapbox.sdk,\"\",@progbits\n"
        ".balign 8\n"
        ".quad 1b\n"
        ".byte 1, 0\n"
        ".short 0\n"
        ".long 0\n"
        ".popsection\n"
        : "=a"(result)
        : "a"(nr)
        : "rcx", "r11", "memory");
    return result;
}

int main(void) {
    printf("asking the host\n");
    fflush(stdout);
    printf("hostcall version: %ld\n", hostcall0(0x10000000L));
    printf("unknown hostcall: %ld\n", hostcall0(0x10000fffL));
    return 0;
}
