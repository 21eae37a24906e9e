/* Every guest program of examples/guest/ runs through the engine and prints
 * exactly its expected output (NAME.out), in three modes: the default
 * (translation on hot functions), the plain interpreter (no translation),
 * translation of every function at its first call (tier 1 everywhere), and
 * a host safepoint at every poll (most interleavings of guest threads).
 * Parameterised runs check the size arguments; the vmrt-guest driver is
 * checked for its exit codes. */
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../harness.h"
#include "../../unit/guest/guest_test.h"

VT_DEFINE_GLOBALS;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

enum { MODE_DEFAULT, MODE_NO_JIT, MODE_JIT_ALL, MODE_PREEMPT_ALL };

static run_out run_example(const char *name, int argc, char **argv, int mode)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.vasm", GUEST_EXAMPLES_DIR, name);
    run_out r;
    memset(&r, 0, sizeof r);
    size_t no = 0, ne = 0;
    FILE *fo = open_memstream(&r.out, &no);
    FILE *fe = open_memstream(&r.err, &ne);
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.out = fo;
    o.err = fe;
    o.argc = argc;
    o.argv = argv;
    if (mode == MODE_NO_JIT)
        o.jit_threshold = 0;
    if (mode == MODE_JIT_ALL) {
        o.jit_threshold = 1;
        o.jit_sync = true;
    }
    if (mode == MODE_PREEMPT_ALL)
        o.poll_interval = 1; /* a host safepoint at every back-edge and call */
    r.rc = vmrt_guest_run_file(path, &o, &r.res);
    fclose(fo);
    fclose(fe);
    return r;
}

static void check_example_with(const char *name, int argc, char **argv, char *want)
{
    for (int mode = MODE_DEFAULT; mode <= MODE_PREEMPT_ALL; mode++) {
        run_out r = run_example(name, argc, argv, mode);
        if (r.rc || strcmp(r.out, want))
            fprintf(stderr, "%s (mode %d): rc %d\nstdout:\n%s\nstderr:\n%s\n", name, mode, r.rc,
                    r.out, r.err);
        ASSERT_EQ(r.rc, 0);
        ASSERT_STR_EQ(r.out, want);
        ASSERT_STR_EQ(r.err, "");
        if (mode == MODE_NO_JIT)
            ASSERT_EQ(r.res.translations, 0);
        if (mode == MODE_JIT_ALL)
            ASSERT_TRUE(r.res.translations >= 1);
        run_free(&r);
    }
}

static void check_example(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.out", GUEST_EXAMPLES_DIR, name);
    char *want = slurp(path);
    ASSERT_NOT_NULL(want);
    check_example_with(name, 0, NULL, want);
    free(want);
}

#define EXAMPLE_TEST(fn, name)                                                                     \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        check_example(name);                                                                       \
    }

EXAMPLE_TEST(test_binary_trees, "binary-trees")
/* TSan counts every coroutine (fiber) against its limit of 8128 threads:
 * there the default size (11111 threads) becomes 1000 (1111 threads). */
static void test_skynet(void **state)
{
    (void)state;
    const char *cfg = getenv("VMRT_TEST_CONFIG");
    if (cfg && !strcmp(cfg, "tsan")) {
        char *argv[] = {"1000", NULL};
        check_example_with("skynet", 1, argv, "skynet sum: 499500\n");
        return;
    }
    check_example("skynet");
}
EXAMPLE_TEST(test_ping_pong, "ping-pong")
EXAMPLE_TEST(test_thread_ring, "thread-ring")
EXAMPLE_TEST(test_spinner, "spinner")
EXAMPLE_TEST(test_echo_server, "echo-server")
EXAMPLE_TEST(test_producer_consumer, "producer-consumer")
EXAMPLE_TEST(test_gc_heavy, "gc-heavy")

static void expect_with_arg(const char *name, const char *arg, const char *want)
{
    char *argv[] = {(char *)arg, NULL};
    run_out r = run_example(name, 1, argv, MODE_DEFAULT);
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, want);
    run_free(&r);
}

static void test_parameters(void **state)
{
    (void)state;
    expect_with_arg("skynet", "1000", "skynet sum: 499500\n");
    /* Sizes that are not powers of 10 split unevenly (once recursed forever). */
    expect_with_arg("skynet", "0", "skynet sum: 0\n");
    expect_with_arg("skynet", "5", "skynet sum: 10\n");
    expect_with_arg("skynet", "123", "skynet sum: 7503\n");
    expect_with_arg("skynet", "1234", "skynet sum: 760761\n");
    expect_with_arg("thread-ring", "1000", "thread-ring: token reached 0 at thread 498\n");
    expect_with_arg("ping-pong", "10", "ping-pong: ball = 20, pong played 10\n");
    expect_with_arg("binary-trees", "6",
                    "stretch tree of depth 7\t check: 255\n"
                    "64\t trees of depth 4\t check: 1984\n"
                    "16\t trees of depth 6\t check: 2032\n"
                    "long lived tree of depth 6\t check: 127\n");
    expect_with_arg("gc-heavy", "10", "checksum: 1247570\ntable sum: 1247500\n");
    expect_with_arg("echo-server", "5",
                    "echo: hello from client 0\necho: hello from client 1\n"
                    "echo: hello from client 2\necho: hello from client 3\n"
                    "echo: hello from client 4\necho-server: served 5 clients\n");
}

/* The spinner is only fair because of safepoints: it shows preemptions. */
static void test_spinner_preempted(void **state)
{
    (void)state;
    run_out r = run_example("spinner", 0, NULL, MODE_DEFAULT);
    ASSERT_EQ(r.rc, 0);
    ASSERT_TRUE(r.res.host.preemptions >= 3);
    run_free(&r);
}

static int run_driver(const char *const *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        /* In a cross build run under an emulator (Meson's exe wrapper, e.g.
         * qemu-aarch64), the driver needs the wrapper too. */
        const char *wrapper = getenv("MESON_EXE_WRAPPER");
        if (wrapper && *wrapper) {
            const char *wargs[16] = {wrapper};
            for (int i = 0; i < 14 && args[i]; i++)
                wargs[i + 1] = args[i];
            execv(wrapper, (char *const *)wargs);
        } else {
            execv(VMRT_GUEST_EXE, (char *const *)args);
        }
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_driver_exit_codes(void **state)
{
    (void)state;
    const char *cfg = getenv("VMRT_TEST_CONFIG");
    if (cfg && !strcmp(cfg, "aarch64")) {
        VT_SKIP("the driver is exec'd directly, which qemu-user cannot do for a foreign binary");
        return;
    }
    char ex[1024];
    snprintf(ex, sizeof ex, "%s/ping-pong.vasm", GUEST_EXAMPLES_DIR);
    const char *ok[] = {VMRT_GUEST_EXE, ex, "10", NULL};
    ASSERT_EQ(run_driver(ok), 0);
    const char *check[] = {VMRT_GUEST_EXE, "--check", ex, NULL};
    ASSERT_EQ(run_driver(check), 0);
    char bad[] = "/tmp/vmrt-guest-bad-XXXXXX";
    int fd = mkstemp(bad);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, ".func main 0 1\n  nope\n.end\n", 27), 27);
    close(fd);
    const char *badp[] = {VMRT_GUEST_EXE, bad, NULL};
    ASSERT_EQ(run_driver(badp), VMRT_GUEST_EXIT_BAD_PROGRAM);
    unlink(bad);
    const char *missing[] = {VMRT_GUEST_EXE, "/nonexistent.vasm", NULL};
    ASSERT_EQ(run_driver(missing), VMRT_GUEST_EXIT_NO_INPUT);
    const char *usage[] = {VMRT_GUEST_EXE, "--bogus", NULL};
    ASSERT_EQ(run_driver(usage), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_trees),      cmocka_unit_test(test_skynet),
        cmocka_unit_test(test_ping_pong),         cmocka_unit_test(test_thread_ring),
        cmocka_unit_test(test_spinner),           cmocka_unit_test(test_echo_server),
        cmocka_unit_test(test_producer_consumer), cmocka_unit_test(test_gc_heavy),
        cmocka_unit_test(test_parameters),        cmocka_unit_test(test_spinner_preempted),
        cmocka_unit_test(test_driver_exit_codes),
    };
    VT_RUN("guest_examples", tests);
}
