/* Overflowing a coroutine's stack prints a message naming the coroutine and
 * aborts; it is never a bare SIGSEGV. Runs the overflow in a child process. */
#include "harness.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static __attribute__((noinline)) unsigned long bottomless(unsigned long n)
{
    volatile char frame[512];
    frame[n % sizeof frame] = (char)n;
    return bottomless(n + 1) + frame[0];
}

static void *overflow(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)bottomless(0);
}

static void test_overflow_message(void **state)
{
    (void)state;
    int pfd[2];
    ASSERT_OK(pipe(pfd));
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], STDERR_FILENO);
        close(pfd[0]);
        vmrt_coro_attr_t attr;
        vmrt_coro_attr_init(&attr);
        attr.name = "deep-thought";
        attr.stack_size = 64 * 1024;
        vmrt_coro_t *co;
        if (vmrt_coro_create(&co, &attr, overflow, NULL) != 0)
            _exit(3);
        vmrt_coro_resume(co);
        _exit(4); /* not reached */
    }
    close(pfd[1]);
    char buf[8192] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(pfd[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), SIGABRT);
    if (!strstr(buf, "vmrt: stack overflow in coroutine 'deep-thought' (64 KiB stack)"))
        fail_msg("unexpected stderr: %s", buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_message),
    };
    VT_RUN("stack_overflow", tests);
}
