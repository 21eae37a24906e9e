/* Verifier: register bounds, definite assignment, operand types, call
 * arity, branch targets, return on every path — each with file:line:col. */
#include "../../harness.h"
#include "guest/prog.h"
#include "guest_test.h"

VT_DEFINE_GLOBALS;

typedef struct vcase {
    const char *src;
    const char *want;
} vcase;

static const vcase cases[] = {
    {".func main 0 2\n  mov r0, r5\n  ret r0\n.end\n",
     "t.vasm:2:3: register r5 out of range: function 'main' has 2 registers"},
    {".func main 0 2\n  add r0, r1, r1\n  ret r0\n.end\n",
     "t.vasm:2:3: register r1 may be read before it is written"},
    /* written on one path only */
    {".func main 0 3\n  const r0, 1\n  jz r0, skip\n  const r1, 2\nskip:\n  add r2, r1, r0\n"
     "  ret r2\n.end\n",
     "t.vasm:6:3: register r1 may be read before it is written"},
    {".func main 0 2\n  str r0, \"x\"\n  add r1, r0, r0\n  ret r1\n.end\n",
     "t.vasm:3:3: 'add' operand 2: r0 holds bytes, expected int"},
    {".func main 0 2\n  const r0, 1\n  aget r1, r0, r0\n  ret r1\n.end\n",
     "t.vasm:3:3: 'aget' operand 2: r0 holds int, expected array"},
    {".func main 0 2\n  rec r0, 1\n  send r0, r0\n  ret r0\n.end\n",
     "t.vasm:3:3: 'send' operand 1: r0 holds record, expected channel"},
    {".func f 2 2\n  ret r0\n.end\n.func main 0 2\n  const r1, 1\n  call r0, f, r1\n"
     "  ret r0\n.end\n",
     "t.vasm:6:3: call of 'f' passes 1 argument, it takes 2"},
    {".func f 1 1\n  ret r0\n.end\n.func main 0 2\n  const r1, 1\n  spawn r0, f\n"
     "  ret r0\n.end\n",
     "t.vasm:6:3: spawn of 'f' passes 0 arguments, it takes 1"},
    {".func main 0 1\n  const r0, 1\n.end\n",
     "t.vasm:2:3: control reaches the end of function 'main' without 'ret'"},
    {".func main 0 1\n  const r0, 1\n  jz r0, out\n  ret r0\nout:\n  nop\n.end\n",
     "t.vasm:6:3: control reaches the end of function 'main' without 'ret'"},
    {".func main 0 1\n.end\n",
     "t.vasm:1:1: function 'main' is empty: control reaches its end without 'ret'"},
    {".func main 0 2\n  const r0, 1\n  chan r1, r0\n  select r0, r0, r0, r1\n  ret r0\n.end\n",
     "t.vasm:4:3: select writes its index and value to the same register r0"},
    {".func main 0 2\n  rec r0, 70000\n  ret r0\n.end\n",
     "t.vasm:2:3: field count 70000 out of range [0, 65535]"},
    {".func main 0 2\n  const r0, 1\n  spawn r1, main, r0\n  ret r0\n.end\n",
     "t.vasm:3:3: spawn of 'main' passes 1 argument, it takes 0"},
};

static void test_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        char *d = load_diag(cases[i].src, &rc);
        char first[512];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(d ? d : "", "\n"), d ? d : "");
        if (strcmp(first, cases[i].want))
            fprintf(stderr, "case %zu: got '%s'\n      want '%s'\n", i, first, cases[i].want);
        ASSERT_EQ(rc, VMRT_GUEST_EXIT_BAD_PROGRAM);
        ASSERT_STR_EQ(first, cases[i].want);
        free(d);
    }
}

/* Loops, merges and "maybe nil" values are accepted. */
static void test_accepts(void **state)
{
    (void)state;
    const char *src = ".func main 0 6\n"
                      "  const r0, 0\n"
                      "  nil r3\n"
                      "loop:\n"
                      "  const r1, 10\n"
                      "  ge r2, r0, r1\n"
                      "  jnz r2, done\n"
                      "  rec r4, 1\n"
                      "  setf r4, 0, r3\n"
                      "  mov r3, r4\n" /* r3: nil or record */
                      "  addi r0, r0, 1\n"
                      "  jmp loop\n"
                      "done:\n"
                      "  getf r5, r3, 0\n" /* may be nil at run time: checked there */
                      "  ret r0\n"
                      ".end\n";
    int rc;
    char *d = load_diag(src, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_TRUE(d == NULL || d[0] == '\0');
    free(d);
}

/* Structural checks also hold for code not produced by the assembler. */
static void test_structure(void **state)
{
    (void)state;
    const char *src = ".func main 0 1\n  const r0, 1\nl:\n  jz r0, l\n  ret r0\n.end\n";
    vg_diag d = {0};
    vg_program *p = NULL;
    ASSERT_OK(vg_assemble("t.vasm", src, strlen(src), &p, &d));
    p->funcs[0].code0.ins[1].k = 99;
    ASSERT_EQ(vg_verify(p, &d), -1);
    ASSERT_NOT_NULL(strstr(d.text, "t.vasm:4:3: branch target 99 outside function 'main'"));
    vg_diag_free(&d);
    p->funcs[0].code0.ins[1].k = 1;
    p->funcs[0].code0.ins[1].op = VG_OP_JLT; /* translation-only opcode */
    ASSERT_EQ(vg_verify(p, &d), -1);
    ASSERT_NOT_NULL(strstr(d.text, "invalid opcode"));
    vg_diag_free(&d);
    vg_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_structure),
    };
    VT_RUN("guest_verify", tests);
}
