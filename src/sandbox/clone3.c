/* clone3() with CLONE_INTO_CGROUP: the child is born in the sandbox's
 * cgroup v2 instead of writing its pid to cgroup.procs.
 *
 * Why: a write to cgroup.procs migrates a task, which takes the global
 * cgroup_threadgroup_rwsem for writing; when nobody migrated a task in the
 * last few milliseconds that lock first waits for an RCU grace period —
 * 10-25 ms here for the first `vmrt exec` after a pause (a tight benchmark
 * loop keeps the lock warm and hides it). A child created directly in the
 * cgroup only takes that lock for reading, as every fork does.
 *
 * glibc has no clone3 wrapper. Sharing the parent's memory (CLONE_VM) needs
 * the child to start on its own stack, which C cannot express around a raw
 * system call, so x86-64 uses a few instructions of assembly; elsewhere (and
 * where CLONE_VM is not wanted) the child is a fork-like copy that returns
 * from syscall() on its copy of the stack.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_internal.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ull
#endif

/* The kernel's struct clone_args up to the cgroup field (CLONE_ARGS_SIZE_VER2). */
typedef struct sb_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
} sb_clone_args_t;

#if defined(__x86_64__)
/* clone3 whose child calls fn(arg) on the stack in args, then exits. */
static long clone3_on_stack(sb_clone_args_t *args, int (*fn)(void *), void *arg)
{
    register long rax __asm__("rax") = SYS_clone3;
    register sb_clone_args_t *rdi __asm__("rdi") = args;
    register long rsi __asm__("rsi") = (long)sizeof *args;
    register int (*r12)(void *) __asm__("r12") = fn;
    register void *r13 __asm__("r13") = arg;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     /* child: rsp is the new stack's top (16-byte aligned) */
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov $60, %%eax\n\t" /* SYS_exit */
                     "syscall\n\t"
                     "hlt\n"
                     "1:\n\t"
                     : "+r"(rax)
                     : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
                     : "rcx", "r11", "memory", "cc");
    return rax;
}
#define SB_HAVE_CLONE3_STACK 1
#else
#define SB_HAVE_CLONE3_STACK 0
#endif

pid_t vmrt__sb_clone_into(unsigned long flags, int cgroup_fd, void *stack, size_t stack_size,
                          bool share_vm, int (*fn)(void *), void *arg, int *pidfd)
{
    sb_clone_args_t ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = (uint64_t)flags | CLONE_PIDFD | CLONE_INTO_CGROUP;
    ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    ca.exit_signal = SIGCHLD;
    ca.cgroup = (uint64_t)cgroup_fd;
#if SB_HAVE_CLONE3_STACK
    if (share_vm) {
        ca.flags |= CLONE_VM;
        ca.stack = (uint64_t)(uintptr_t)stack;
        ca.stack_size = stack_size;
        long r = clone3_on_stack(&ca, fn, arg);
        if (r < 0) {
            errno = (int)-r;
            return -1;
        }
        return (pid_t)r;
    }
#endif
    (void)share_vm; /* (without a stack-switching clone3: a fork-like copy) */
    (void)stack;
    (void)stack_size;
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0)
        _exit(fn(arg));
    return (pid_t)r;
}
