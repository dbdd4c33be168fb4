// A Linux-personality guest of an embedding program's hostcalls (tests/tests/embed.rs): the
// same custom hostcall through both entries the ABI allows, the listed `ud2` trap and a
// plain `syscall` instruction, then each error path.
//   upper TEXT     hostcall BASE+0(ptr, len) upper-cases TEXT in place: prints both results
//   errors         BASE+1 answers EACCES; BASE+2 panics in the embedder; BASE+0x7ff has no
//                  handler; BASE+0 with an unmapped pointer
#include <stdio.h>
#include <string.h>

#include "../../examples/c/hostcall.h"

#define UPPER (TRAPBOX_HC_EMBEDDER_BASE + 0)

static long by_syscall(long nr, long a0, long a1) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(nr), "D"(a0), "S"(a1) : "rcx", "r11", "memory");
    return result;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "upper") == 0) {
        char trap[256], plain[256];
        snprintf(trap, sizeof trap, "%s", argv[2]);
        snprintf(plain, sizeof plain, "%s", argv[2]);
        long a = trapbox_hostcall(UPPER, (long)trap, (long)strlen(trap), 0, 0, 0, 0);
        long b = by_syscall(UPPER, (long)plain, (long)strlen(plain));
        printf("trap: %ld %s\nsyscall: %ld %s\n", a, trap, b, plain);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "errors") == 0) {
        printf("refused: %ld\n", trapbox_hostcall(TRAPBOX_HC_EMBEDDER_BASE + 1, 0, 0, 0, 0, 0, 0));
        printf("panicked: %ld\n", trapbox_hostcall(TRAPBOX_HC_EMBEDDER_BASE + 2, 0, 0, 0, 0, 0, 0));
        printf("unserved: %ld\n", trapbox_hostcall(TRAPBOX_HC_EMBEDDER_BASE + 0x7ff, 0, 0, 0, 0, 0, 0));
        printf("unserved by syscall: %ld\n", by_syscall(TRAPBOX_HC_EMBEDDER_BASE + 0x7ff, 0, 0));
        printf("bad pointer: %ld\n", trapbox_hostcall(UPPER, 16, 8, 0, 0, 0, 0));
        return 0;
    }
    fprintf(stderr, "usage: embed_entries upper TEXT | errors\n");
    return 2;
}
