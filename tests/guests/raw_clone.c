// Go-style threads: raw clone(CLONE_VM|CLONE_THREAD|...) on a stack the program allocated,
// no libc in the child (it makes raw system calls and ends with a raw exit). The parent
// waits on a flag each child sets.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define CHILDREN 4
#define STACK_SIZE (64 * 1024)

static volatile int done[CHILDREN];
static volatile int next_child;

static long raw_syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static void child_main(void) {
    int me = __atomic_fetch_add(&next_child, 1, __ATOMIC_SEQ_CST);
    char line[] = "raw thread X says hi\n";
    line[11] = (char)('0' + me);
    // getpid must be the parent's (same thread group), gettid must differ.
    long pid = raw_syscall3(39, 0, 0, 0), tid = raw_syscall3(186, 0, 0, 0);
    if (pid != tid) raw_syscall3(1, 1, (long)line, sizeof line - 1);
    __atomic_store_n(&done[me], 1, __ATOMIC_SEQ_CST);
}

static long raw_clone(unsigned long flags, void *stack_top, void (*fn)(void)) {
    long ret;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "call *%%rbx\n\t"          /* the child, on its own stack */
        "mov $60, %%eax\n\t"
        "xor %%edi, %%edi\n\t"
        "syscall\n\t"              /* raw exit of this thread only */
        "hlt\n"
        "1:\n\t"
        : "=a"(ret)
        : "a"(56L), "D"(flags), "S"(stack_top), "d"(0L), "b"(fn)
        : "rcx", "r11", "r8", "r9", "r10", "memory");
    return ret;
}

int main(void) {
    unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    for (int i = 0; i < CHILDREN; i++) {
        char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (stack == MAP_FAILED) return 1;
        long tid = raw_clone(flags, stack + STACK_SIZE, child_main);
        if (tid <= 0) {
            printf("clone failed: %ld\n", tid);
            return 2;
        }
        while (!done[i]) sched_yield();  /* one at a time, so the output order is fixed */
    }
    printf("all %d raw threads ran\n", CHILDREN);
    return 0;
}
