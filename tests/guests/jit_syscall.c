// JIT: write a raw `syscall; ret` into an executable page at run time and call it with
// getcwd's number (a call the backstop always stops). The rewriter never saw this code, so the
// seccomp backstop must mediate it.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    const unsigned char syscall_ret[] = {0x0F, 0x05, 0xC3};
    memcpy(code, syscall_ret, sizeof syscall_ret);
    static char jit_cwd[4096], libc_cwd[4096];
    long result;
    __asm__ volatile("call *%1"
                     : "=a"(result)
                     : "r"(code), "a"(79L), "D"(jit_cwd), "S"(sizeof jit_cwd)
                     : "rcx", "r11", "memory");
    getcwd(libc_cwd, sizeof libc_cwd);
    printf("jit getcwd matches: %d\n", result == (long)strlen(libc_cwd) + 1 && strcmp(jit_cwd, libc_cwd) == 0);
    return 0;
}
