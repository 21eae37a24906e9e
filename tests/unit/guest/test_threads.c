/* Guest threads on the local host adapter: spawn/join results, channel
 * semantics (buffered, unbuffered, close), select with timeouts, sleep
 * ordering by timers, priorities, deadlock with several threads, file I/O. */
#include <unistd.h>

#include "../../harness.h"
#include "guest_test.h"

VT_DEFINE_GLOBALS;

static void test_spawn_join(void **state)
{
    (void)state;
    run_out r = run_src(".func sq 1 2\n  mul r1, r0, r0\n  ret r1\n.end\n"
                        ".func main 0 4\n  const r0, 7\n  spawn r1, sq, r0\n  const r0, 9\n"
                        "  spawn r2, sq, r0\n  join r3, r2\n  println r3\n  join r3, r1\n"
                        "  println r3\n  println r1\n  join r3, r1\n  println r3\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "81\n49\n1\n49\n"); /* a second join returns the result again */
    ASSERT_EQ(r.res.threads, 3);
    run_free(&r);
}

/* Buffered channels keep FIFO order; an unbuffered send waits for the receiver. */
static void test_channels(void **state)
{
    (void)state;
    run_out r =
        run_src(".func prod 2 3\n  const r2, 1\n  send r0, r2\n  puts \"sent 1\\n\"\n"
                "  const r2, 2\n  send r0, r2\n  puts \"sent 2\\n\"\n  close r0\n  ret\n.end\n"
                ".func main 0 4\n  const r0, 0\n  chan r1, r0\n  spawn r2, prod, r1, r0\n"
                "  yield\n  puts \"main receives\\n\"\n"
                "l:\n  recv r3, r1\n  jz r3, done\n  println r3\n  jmp l\n"
                "done:\n  println r3\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    /* the receiver takes 1 straight from the blocked sender and runs on first */
    ASSERT_STR_EQ(r.out, "main receives\n1\nsent 1\nsent 2\n2\nnil\n");
    run_free(&r);
    r = run_src(".func main 0 4\n  const r0, 3\n  chan r1, r0\n  const r2, 10\n  send r1, r2\n"
                "  addi r2, r2, 1\n  send r1, r2\n  addi r2, r2, 1\n  send r1, r2\n"
                "  recv r3, r1\n  println r3\n  recv r3, r1\n  println r3\n  recv r3, r1\n"
                "  println r3\n  ret\n.end\n");
    ASSERT_STR_EQ(r.out, "10\n11\n12\n");
    run_free(&r);
}

static void test_select_and_timeouts(void **state)
{
    (void)state;
    run_out r = run_src(".func late 2 3\n  sleep r1\n  const r2, 77\n  send r0, r2\n  ret\n.end\n"
                        ".func main 0 8\n  const r0, 0\n  chan r1, r0\n  chan r2, r0\n"
                        "  const r3, 0\n  select r4, r5, r3, r1, r2\n  println r4\n"
                        "  const r3, 30\n  spawn r6, late, r2, r3\n"
                        "  const r3, 5\n  time r7\n  select r4, r5, r3, r1, r2\n  println r4\n"
                        "  const r3, -1\n  select r4, r5, r3, r1, r2\n  println r4\n  println r5\n"
                        "  close r1\n  const r3, 1000\n  select r4, r5, r3, r1, r2\n"
                        "  println r4\n  println r5\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "-1\n-1\n1\n77\n0\nnil\n");
    run_free(&r);
}

/* Sleeping threads wake in deadline order. */
static void test_sleep_order(void **state)
{
    (void)state;
    run_out r = run_src(".func nap 1 1\n  sleep r0\n  println r0\n  ret\n.end\n"
                        ".func main 0 4\n  const r0, 60\n  spawn r1, nap, r0\n  const r0, 20\n"
                        "  spawn r2, nap, r0\n  const r0, 40\n  spawn r3, nap, r0\n"
                        "  join r0, r1\n  join r0, r2\n  join r0, r3\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "20\n40\n60\n");
    ASSERT_TRUE(r.res.wall_ns >= 60u * 1000000u);
    run_free(&r);
}

/* A High-priority thread made runnable runs before Medium/Low ones. */
static void test_priorities(void **state)
{
    (void)state;
    run_out r = run_src(".func w 1 1\n  prio r0\n  yield\n  println r0\n  ret\n.end\n"
                        ".func main 0 5\n  const r0, 2\n  spawn r1, w, r0\n  const r0, 1\n"
                        "  spawn r2, w, r0\n  const r0, 0\n  spawn r3, w, r0\n"
                        "  join r0, r1\n  join r0, r2\n  join r0, r3\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "0\n1\n2\n");
    run_free(&r);
    r = run_src(".func main 0 1\n  const r0, 3\n  prio r0\n  ret\n.end\n");
    ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_GUEST_ERROR);
    ASSERT_NOT_NULL(strstr(r.err, "guest error: bad priority 3 (0 high, 1 medium, 2 low)"));
    run_free(&r);
}

static void test_deadlock_many(void **state)
{
    (void)state;
    run_out r = run_src(".func w 1 2\n  recv r1, r0\n  ret\n.end\n"
                        ".func main 0 3\n  const r0, 0\n  chan r1, r0\n  spawn r2, w, r1\n"
                        "  spawn r2, w, r1\n  join r0, r2\n  ret\n.end\n");
    ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_GUEST_ERROR);
    ASSERT_STR_EQ(r.err, "guest error: deadlock: all 3 guest threads are blocked\n"
                         "  in thread 0 (waiting in join)\n  at main (t.vasm:10)\n"
                         "  in thread 1 (waiting in recv)\n  at w (t.vasm:2)\n"
                         "  in thread 2 (waiting in recv)\n  at w (t.vasm:2)\n");
    run_free(&r);
}

/* A sleeping thread is not a deadlock; an error in a spawned thread ends the run. */
static void test_error_in_thread(void **state)
{
    (void)state;
    run_out r =
        run_src(".func bad 0 2\n  const r0, 1\n  const r1, 0\n  div r0, r0, r1\n  ret r0\n.end\n"
                ".func main 0 2\n  spawn r0, bad\n  const r1, 50\n  sleep r1\n"
                "  puts \"not reached\\n\"\n  ret\n.end\n");
    ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_GUEST_ERROR);
    ASSERT_STR_EQ(r.out, "");
    ASSERT_STR_EQ(r.err, "guest error: division by zero\n  in thread 1\n  at bad (t.vasm:4)\n");
    run_free(&r);
}

static void test_file_io(void **state)
{
    (void)state;
    char path[] = "/tmp/vmrt-guest-io-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    char src[2048];
    snprintf(src, sizeof src,
             ".func main 0 6\n"
             "  str r0, \"%s\"\n"
             "  const r1, 1\n  open r2, r0, r1\n"
             "  str r3, \"hello file\\n\"\n  write r4, r2, r3\n  println r4\n  closefd r2\n"
             "  const r1, 0\n  open r2, r0, r1\n"
             "  const r1, 64\n  bytes r3, r1\n  read r4, r2, r3\n  println r4\n"
             "  slice r5, r3, r4\n  print r5\n  read r4, r2, r3\n  println r4\n  closefd r2\n"
             "  str r0, \"/nonexistent/dir/x\"\n  const r1, 0\n  open r2, r0, r1\n  println r2\n"
             "  ret\n.end\n",
             path);
    run_out r = run_src(src);
    unlink(path);
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "11\n11\nhello file\n0\n-2\n");
    ASSERT_EQ(r.res.host.io_requests, 8); /* 3 open, 2 read, 1 write, 2 close */
    run_free(&r);
}

/* Socket errors come back as negative errno values; writing to a socket
 * whose peer has gone is EPIPE, not a SIGPIPE that would kill the host. */
static void test_socket_errors(void **state)
{
    (void)state;
    run_out r = run_src(".func main 0 8\n"
                        "  const r0, 0\n  listen r1, r0\n  port r2, r1\n"
                        "  connect r3, r2\n  accept r4, r1\n  closefd r4\n"
                        "  const r5, 65536\n  bytes r5, r5\n  const r7, 0\n"
                        "again:\n  write r6, r3, r5\n  const r0, 0\n  lt r0, r6, r0\n"
                        "  jnz r0, failed\n  addi r7, r7, 1\n  const r0, 100\n  lt r0, r7, r0\n"
                        "  jnz r0, again\n  puts \"no error\\n\"\n  ret\n"
                        "failed:\n  println r6\n"
                        "  closefd r3\n  closefd r1\n"
                        "  connect r3, r2\n  println r3\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    /* EPIPE (-32) or ECONNRESET (-104), then ECONNREFUSED (-111) */
    ASSERT_TRUE(!strcmp(r.out, "-32\n-111\n") || !strcmp(r.out, "-104\n-111\n"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_join),          cmocka_unit_test(test_channels),
        cmocka_unit_test(test_select_and_timeouts), cmocka_unit_test(test_sleep_order),
        cmocka_unit_test(test_priorities),          cmocka_unit_test(test_deadlock_many),
        cmocka_unit_test(test_error_in_thread),     cmocka_unit_test(test_file_io),
        cmocka_unit_test(test_socket_errors),
    };
    VT_RUN("guest_threads", tests);
}
