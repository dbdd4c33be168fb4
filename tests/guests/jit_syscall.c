// JIT: write a raw `syscall; ret` into an executable page at run time and call it with
// getpid's number. The rewriter never saw this code, so the seccomp backstop must mediate it.
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
    long result;
    __asm__ volatile("call *%1" : "=a"(result) : "r"(code), "a"(39L) : "rcx", "r11", "memory");
    printf("jit getpid matches: %d\n", result == (long)getpid());
    return 0;
}
