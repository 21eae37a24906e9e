/* Interpreter: arithmetic, branches, calls, heap objects, printing, runtime
 * errors with guest stack traces and exit codes, the translation tier
 * (same results, OSR), safepoints and the write barrier hook. */
#include "../../harness.h"
#include "guest_test.h"

VT_DEFINE_GLOBALS;

static void test_arith(void **state)
{
    (void)state;
    run_out r = run_src(".func main 0 4\n"
                        "  const r0, 7\n  const r1, -3\n"
                        "  add r2, r0, r1\n  println r2\n"
                        "  sub r2, r0, r1\n  println r2\n"
                        "  mul r2, r0, r1\n  println r2\n"
                        "  div r2, r0, r1\n  println r2\n"
                        "  mod r2, r0, r1\n  println r2\n"
                        "  neg r2, r1\n  println r2\n"
                        "  and r2, r0, r1\n  println r2\n"
                        "  or r2, r0, r1\n  println r2\n"
                        "  xor r2, r0, r1\n  println r2\n"
                        "  const r3, 4\n  shl r2, r0, r3\n  println r2\n"
                        "  shr r2, r1, r3\n  println r2\n"
                        "  addi r2, r0, 100\n  println r2\n"
                        "  lt r2, r1, r0\n  println r2\n"
                        "  ge r2, r1, r0\n  println r2\n"
                        "  eq r2, r0, r0\n  println r2\n"
                        "  not r2, r0\n  println r2\n"
                        /* 63-bit wrap-around */
                        "  const r0, 4611686018427387903\n  addi r2, r0, 1\n  println r2\n"
                        "  const r0, 0\n  ret r0\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "4\n10\n-21\n-2\n1\n3\n5\n-1\n-6\n112\n-1\n107\n1\n0\n1\n0\n"
                         "-4611686018427387904\n");
    run_free(&r);
}

static const char *fib_src = ".func fib 1 3\n"
                             "  const r1, 2\n"
                             "  lt r2, r0, r1\n"
                             "  jz r2, rec\n"
                             "  ret r0\n"
                             "rec:\n"
                             "  addi r1, r0, -1\n"
                             "  call r1, fib, r1\n"
                             "  addi r2, r0, -2\n"
                             "  call r2, fib, r2\n"
                             "  add r0, r1, r2\n"
                             "  ret r0\n"
                             ".end\n"
                             ".func main 0 2\n"
                             "  const r0, 20\n"
                             "  call r1, fib, r0\n"
                             "  println r1\n"
                             "  ret r1\n"
                             ".end\n";

static void test_recursion_and_exit_code(void **state)
{
    (void)state;
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.jit_threshold = 0;
    run_out r = run_src_opts(fib_src, &o);
    ASSERT_STR_EQ(r.out, "6765\n");
    ASSERT_EQ(r.rc, 6765 % 64);
    ASSERT_TRUE(r.res.main_returned_int);
    ASSERT_EQ(r.res.main_result, 6765);
    ASSERT_EQ(r.res.translations, 0);
    run_free(&r);
}

/* Tier 1 gives the same results; a hot function is translated by a task. */
static void test_translation_tier(void **state)
{
    (void)state;
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.jit_threshold = 50;
    run_out r = run_src_opts(fib_src, &o);
    ASSERT_STR_EQ(r.out, "6765\n");
    ASSERT_EQ(r.res.translations, 1);
    ASSERT_EQ(r.res.host.jit_tasks, 1);
    run_free(&r);
    o.jit_threshold = 1;
    o.jit_sync = true;
    r = run_src_opts(fib_src, &o);
    ASSERT_STR_EQ(r.out, "6765\n");
    ASSERT_EQ(r.res.translations, 2); /* main's entry counts as its first call */
    ASSERT_EQ(r.res.host.jit_tasks, 0);
    run_free(&r);
}

/* A long loop in main (called once) is translated through back-edge
 * hotness and continues in tier 1 (on-stack replacement). */
static void test_osr(void **state)
{
    (void)state;
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.jit_threshold = 100;
    o.poll_interval = 50;
    run_out r = run_src_opts(".func main 0 4\n"
                             "  const r0, 0\n  const r1, 0\n  const r2, 100000\n"
                             "loop:\n"
                             "  add r1, r1, r0\n"
                             "  addi r0, r0, 1\n"
                             "  lt r3, r0, r2\n"
                             "  jnz r3, loop\n"
                             "  println r1\n"
                             "  println r3\n"
                             "  const r0, 0\n  ret r0\n.end\n",
                             &o);
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "4999950000\n0\n");
    ASSERT_EQ(r.res.translations, 1);
    run_free(&r);
}

/* Every superinstruction of tier 1 computes what the tier-0 sequence does,
 * including the registers the fused instructions still write, and reports
 * errors at the source line of the compare. */
static const char *fused_src = ".func f 1 8\n"
                               "  const r1, 0\n"
                               "  const r2, 0\n"
                               "loop:\n"
                               "  const r3, 10\n"
                               "  lt r4, r1, r3\n"
                               "  jz r4, done\n"
                               "  const r5, 3\n"
                               "  eq r6, r1, r5\n"
                               "  jnz r6, three\n"
                               "  add r2, r2, r1\n"
                               "  jmp next\n"
                               "three:\n"
                               "  const r5, 1\n"
                               "  shr r7, r0, r5\n"
                               "  sub r2, r2, r7\n"
                               "  jmp next\n"
                               "next:\n"
                               "  addi r1, r1, 1\n"
                               "  jmp loop\n"
                               "done:\n"
                               "  le r6, r2, r0\n"
                               "  jnz r6, small\n"
                               "  mov r7, r2\n"
                               "  ret r7\n"
                               "small:\n"
                               "  add r6, r6, r4\n"
                               "  ret r6\n"
                               ".end\n"
                               ".func main 0 3\n"
                               "  const r0, 100\n"
                               "  call r1, f, r0\n"
                               "  println r1\n"
                               "  const r0, -1000\n"
                               "  call r1, f, r0\n"
                               "  println r1\n"
                               "  nil r0\n"
                               "  call r1, f, r0\n"
                               "  ret\n"
                               ".end\n";

static void test_superinstructions(void **state)
{
    (void)state;
    const char *want_out = "1\n542\n";
    const char *want_err = "guest error: wrong type: 'shr' expects int, got nil\n"
                           "  in thread 0\n  at f (t.vasm:15)\n  at main (t.vasm:38)\n";
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.jit_threshold = 0;
    run_out r = run_src_opts(fused_src, &o);
    ASSERT_STR_EQ(r.out, want_out);
    ASSERT_STR_EQ(r.err, want_err);
    run_free(&r);
    o.jit_threshold = 1;
    o.jit_sync = true;
    r = run_src_opts(fused_src, &o);
    ASSERT_STR_EQ(r.out, want_out);
    ASSERT_STR_EQ(r.err, want_err);
    ASSERT_EQ(r.res.translations, 2);
    run_free(&r);
    /* the fused const+compare+branch reports at the compare's line */
    const char *src = ".func main 0 3\n  const r0, 1\n  arr r2, r0\n  const r0, 0\n"
                      "  aget r0, r2, r0\n  const r1, 5\n  lt r2, r0, r1\n  jz r2, x\nx:\n"
                      "  ret\n.end\n";
    r = run_src_opts(src, &o);
    ASSERT_STR_EQ(r.err, "guest error: wrong type: 'lt' expects int, got nil\n  in thread 0\n"
                         "  at main (t.vasm:7)\n");
    run_free(&r);
}

static void test_objects_and_print(void **state)
{
    (void)state;
    run_out r = run_src(".func main 0 8\n"
                        "  rec r0, 3\n"
                        "  const r1, 42\n  setf r0, 0, r1\n"
                        "  str r2, \"abc\"\n  setf r0, 1, r2\n"
                        "  println r0\n"
                        "  const r1, 3\n  arr r3, r1\n"
                        "  const r4, 1\n  aset r3, r4, r0\n"
                        "  println r3\n"
                        "  len r5, r3\n  println r5\n"
                        "  str r6, \"def\"\n  cat r6, r2, r6\n  println r6\n"
                        "  const r1, 2\n  slice r7, r6, r1\n  println r7\n"
                        "  bget r1, r6, r4\n  println r1\n"
                        "  const r1, 90\n  bset r6, r4, r1\n  println r6\n"
                        "  const r1, -12\n  itos r7, r1\n  println r7\n"
                        "  str r1, \"aZcdef\"\n  beq r7, r1, r6\n  println r7\n"
                        "  type r7, r3\n  println r7\n"
                        "  nil r7\n  println r7\n"
                        "  const r0, 0\n  ret r0\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "{42, abc, nil}\n[nil, {42, abc, nil}, nil]\n3\nabcdef\nab\n98\naZcdef\n"
                         "-12\n1\n3\nnil\n");
    ASSERT_TRUE(r.res.host.objects >= 8);
    ASSERT_EQ(r.res.host.barriers, 3); /* two setf + one aset */
    run_free(&r);
}

typedef struct err_case {
    const char *src;
    const char *want_err; /* full stderr */
} err_case;

static const err_case err_cases[] = {
    {".func f 2 3\n  div r2, r0, r1\n  ret r2\n.end\n"
     ".func main 0 3\n  const r0, 1\n  const r1, 0\n  call r2, f, r0, r1\n  ret r2\n.end\n",
     "guest error: division by zero\n  in thread 0\n  at f (t.vasm:2)\n  at main (t.vasm:8)\n"},
    {".func main 0 3\n  const r0, 2\n  arr r1, r0\n  const r0, 5\n  aget r2, r1, r0\n  ret "
     "r2\n.end\n",
     "guest error: bad index 5: array length is 2\n  in thread 0\n  at main (t.vasm:5)\n"},
    {".func main 0 3\n  const r0, 2\n  arr r1, r0\n  const r0, 0\n  aget r2, r1, r0\n"
     "  add r2, r2, r0\n  ret r2\n.end\n",
     "guest error: wrong type: 'add' expects int, got nil\n  in thread 0\n  at main (t.vasm:6)\n"},
    {".func main 0 3\n  rec r0, 1\n  getf r1, r0, 0\n  getf r2, r1, 0\n  ret r2\n.end\n",
     "guest error: wrong type: 'getf' expects record, got nil\n  in thread 0\n  at main "
     "(t.vasm:4)\n"},
    {".func main 0 2\n  rec r0, 1\n  getf r1, r0, 1\n  ret r1\n.end\n",
     "guest error: bad field index 1: record has 1 fields\n  in thread 0\n  at main (t.vasm:3)\n"},
    {".func main 0 2\n  fail \"custom failure\"\n.end\n",
     "guest error: custom failure\n  in thread 0\n  at main (t.vasm:2)\n"},
    {".func main 0 2\n  const r0, 0\n  chan r1, r0\n  recv r0, r1\n  ret r0\n.end\n",
     "guest error: deadlock: all 1 guest thread is blocked\n  in thread 0 (waiting in recv)\n"
     "  at main (t.vasm:4)\n"},
    {".func main 0 2\n  const r0, 1\n  chan r1, r0\n  close r1\n  send r1, r0\n  ret r0\n.end\n",
     "guest error: send on a closed channel\n  in thread 0\n  at main (t.vasm:5)\n"},
    {".func main 0 2\n  const r0, 1\n  chan r1, r0\n  close r1\n  close r1\n  ret r0\n.end\n",
     "guest error: close of a closed channel\n  in thread 0\n  at main (t.vasm:5)\n"},
    {".func main 0 2\n  const r0, 9\n  join r1, r0\n  ret r1\n.end\n",
     "guest error: bad thread id 9\n  in thread 0\n  at main (t.vasm:3)\n"},
    {".func main 0 2\n  self r0\n  join r1, r0\n  ret r1\n.end\n",
     "guest error: thread 0 joins itself\n  in thread 0\n  at main (t.vasm:3)\n"},
    {".func main 0 2\n  const r0, 3\n  const r1, 300\n  bytes r0, r0\n  const r1, 300\n"
     "  bset r0, r1, r1\n  ret r1\n.end\n",
     "guest error: bad index 300: bytes length is 3\n  in thread 0\n  at main (t.vasm:6)\n"},
};

static void test_runtime_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        run_out r = run_src(err_cases[i].src);
        if (strcmp(r.err, err_cases[i].want_err))
            fprintf(stderr, "case %zu: got:\n%s\nwant:\n%s\n", i, r.err, err_cases[i].want_err);
        ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_GUEST_ERROR);
        ASSERT_STR_EQ(r.err, err_cases[i].want_err);
        ASSERT_EQ(r.res.exit_code, VMRT_GUEST_EXIT_GUEST_ERROR);
        run_free(&r);
    }
}

/* Unbounded recursion is a guest error with a shortened trace, not a crash. */
static void test_stack_overflow(void **state)
{
    (void)state;
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.max_frames = 500;
    run_out r =
        run_src_opts(".func down 1 2\n  addi r1, r0, 1\n  call r1, down, r1\n  ret r1\n.end\n"
                     ".func main 0 1\n  const r0, 0\n  call r0, down, r0\n  ret r0\n.end\n",
                     &o);
    ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_GUEST_ERROR);
    ASSERT_NOT_NULL(strstr(r.err,
                           "guest error: stack overflow: guest call depth exceeds 500 frames\n"
                           "  in thread 0\n  at down (t.vasm:3)\n"));
    ASSERT_NOT_NULL(strstr(r.err, "  ... 475 more frames ...\n"));
    ASSERT_NOT_NULL(strstr(r.err, "  at main (t.vasm:8)\n"));
    run_free(&r);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.heap_max = 1 << 20;
    run_out r =
        run_src_opts(".func main 0 2\n  const r0, 1000000\n  arr r1, r0\n  ret r0\n.end\n", &o);
    ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_GUEST_ERROR);
    ASSERT_NOT_NULL(strstr(r.err, "guest error: out of memory (arr of 1000000)"));
    run_free(&r);
}

static void test_exit_codes(void **state)
{
    (void)state;
    run_out r = run_src(".func main 0 1\n  const r0, 3\n  ret r0\n.end\n");
    ASSERT_EQ(r.rc, 3);
    run_free(&r);
    r = run_src(".func main 0 1\n  const r0, 100\n  ret r0\n.end\n");
    ASSERT_EQ(r.rc, 36);
    run_free(&r);
    r = run_src(".func main 0 1\n  ret\n.end\n");
    ASSERT_EQ(r.rc, 0);
    ASSERT_FALSE(r.res.main_returned_int);
    run_free(&r);
    r = run_src(".func main 0 1\n  bogus\n.end\n");
    ASSERT_EQ(r.rc, VMRT_GUEST_EXIT_BAD_PROGRAM);
    ASSERT_STR_EQ(r.err, "t.vasm:2:3: unknown instruction 'bogus'\n");
    run_free(&r);
    vmrt_guest_result res;
    ASSERT_EQ(vmrt_guest_run_file("/nonexistent/x.vasm", NULL, &res), VMRT_GUEST_EXIT_NO_INPUT);
}

static void test_args(void **state)
{
    (void)state;
    char *argv[] = {"12", "x", NULL};
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.argc = 2;
    o.argv = argv;
    run_out r =
        run_src_opts(".func main 0 3\n  argc r0\n  println r0\n  const r1, 0\n  const r2, 5\n"
                     "  arg r0, r1, r2\n  println r0\n  const r1, 1\n  arg r0, r1, r2\n"
                     "  println r0\n  const r1, 7\n  arg r0, r1, r2\n  println r0\n"
                     "  ret\n.end\n",
                     &o);
    ASSERT_STR_EQ(r.out, "2\n12\n5\n5\n");
    run_free(&r);
}

/* A thread that never yields is preempted at back-edge safepoints. */
static void test_safepoint_preemption(void **state)
{
    (void)state;
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    o.poll_interval = 10;
    run_out r = run_src_opts(".func spin 0 1\n  const r0, 0\nl:\n  addi r0, r0, 1\n  jmp l\n.end\n"
                             ".func main 0 2\n  spawn r0, spin\n  const r1, 0\n"
                             "m:\n  yield\n  addi r1, r1, 1\n  const r0, 5\n  lt r0, r1, r0\n"
                             "  jnz r0, m\n  println r1\n  ret\n.end\n",
                             &o);
    ASSERT_EQ(r.rc, 0);
    ASSERT_STR_EQ(r.out, "5\n");
    ASSERT_TRUE(r.res.host.preemptions >= 5);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_recursion_and_exit_code),
        cmocka_unit_test(test_translation_tier),
        cmocka_unit_test(test_osr),
        cmocka_unit_test(test_superinstructions),
        cmocka_unit_test(test_objects_and_print),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_stack_overflow),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_safepoint_preemption),
    };
    VT_RUN("guest_interp", tests);
}
