/* Assembler: every malformed input gets "file:line:col: message"; well-formed
 * input is decoded as written. */
#include "../../harness.h"
#include "guest/prog.h"
#include "guest_test.h"

VT_DEFINE_GLOBALS;

typedef struct bad_case {
    const char *src;
    const char *want; /* the first diagnostic line */
} bad_case;

#define MAIN(body) ".func main 0 4\n" body "ret r0\n.end\n"

static const bad_case bad_cases[] = {
    {MAIN("    foo r1\n"), "t.vasm:2:5: unknown instruction 'foo'"},
    {MAIN("const r0, 1\nadd r0, r1, 5\n"), "t.vasm:3:13: expected a register, got integer '5'"},
    {MAIN("const r0, 1\njmp nowhere\n"),
     "t.vasm:3:5: undefined label 'nowhere' in function 'main'"},
    {MAIN("call r0, nope\n"), "t.vasm:2:10: undefined function 'nope'"},
    {MAIN("a:\nconst r0, 1\n  a: nop\n"),
     "t.vasm:4:3: duplicate label 'a' (first defined at line 2)"},
    {MAIN("const r0, 12x\n"), "t.vasm:2:11: bad integer literal '12x'"},
    {MAIN("const r0, 99999999999999999999\n"),
     "t.vasm:2:11: integer literal '99999999999999999999' out of range (63-bit)"},
    {MAIN("const r0, 4611686018427387904\n"),
     "t.vasm:2:11: integer literal '4611686018427387904' out of range (63-bit)"},
    {MAIN("puts \"abc\n"), "t.vasm:2:6: unterminated string literal"},
    {MAIN("puts \"a\\qc\"\n"), "t.vasm:2:8: bad escape '\\q' in string literal"},
    {MAIN("puts \"\\x4\"\n"), "t.vasm:2:7: bad escape: \\x needs two hex digits"},
    {MAIN("const r0, 1\nadd r0, r1\n"), "t.vasm:3:1: 'add' expects 3 operands, got 2"},
    {MAIN("const r0, 1\nadd r0 r1, r2\n"), "t.vasm:3:8: expected ',' between operands, got name"},
    {MAIN("const r0, 1\nadd r0, , r2\n"), "t.vasm:3:9: expected an operand, got ','"},
    {MAIN("const r0, 1\nadd r0, r1,\n"), "t.vasm:3:12: expected an operand after ','"},
    {"nop\n" MAIN(""), "t.vasm:1:1: instruction 'nop' outside of a function"},
    {".func main 0 1\nconst r0, 0\nret r0\n", "t.vasm:1:1: function 'main' has no .end"},
    {".func f 0 1\nconst r0, 0\nret r0\n.end\n", "t.vasm:1:1: no function 'main'"},
    {".func main 1 1\nret r0\n.end\n", "t.vasm:1:1: function 'main' must take 0 arguments, not 1"},
    {MAIN("") MAIN(""), "t.vasm:4:7: duplicate function 'main'"},
    {".frob 1\n" MAIN(""), "t.vasm:1:1: unknown directive '.frob'"},
    {MAIN("const r0, N\n"), "t.vasm:2:11: undefined constant 'N'"},
    {".const S \"x\"\n" MAIN("const r0, S\n"),
     "t.vasm:3:11: constant 'S' is a string, expected an integer"},
    {".const N 3\n" MAIN("puts N\n"), "t.vasm:3:6: constant 'N' is an integer, expected a string"},
    {".const N 3\n.const N 4\n" MAIN(""), "t.vasm:2:8: duplicate constant 'N'"},
    {".func f 3 2\nret r0\n.end\n" MAIN(""),
     "t.vasm:1:1: function 'f' takes 3 arguments but declares only 2 registers"},
    {MAIN("const r0, 1 @\n"), "t.vasm:2:13: unexpected character '@'"},
    {MAIN("const r999, 1\n"), "t.vasm:2:7: register 'r999' out of range (at most 256 registers)"},
    {MAIN("jmp r1\n"), "t.vasm:2:5: expected a label, got name 'r1'"},
    {MAIN("call r0, 5\n"), "t.vasm:2:10: expected a function name, got integer '5'"},
    {".end\n" MAIN(""), "t.vasm:1:1: .end without .func"},
    {".func main 0 1\n.func g 0 1\n.end\n", "t.vasm:2:1: nested .func (missing .end for 'main')"},
    {".func main 0 99999\n.end\n", "t.vasm:1:14: register count 99999 out of range [0, 256]"},
    {".func main x 1\n.end\n", "t.vasm:1:12: expected arity (an integer), got name"},
    {"r1: nop\n" MAIN(""), "t.vasm:1:1: label 'r1' outside of a function"},
    {MAIN("spawn r0\n"), "t.vasm:2:1: 'spawn' expects at least 2 operands, got 1"},
    {MAIN("const r0, \xff\n"), "t.vasm:2:11: unexpected byte 0xff"},
};

static void test_bad_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        int rc;
        char *d = load_diag(bad_cases[i].src, &rc);
        ASSERT_EQ(rc, VMRT_GUEST_EXIT_BAD_PROGRAM);
        ASSERT_NOT_NULL(d);
        char first[512];
        size_t n = strcspn(d, "\n");
        snprintf(first, sizeof first, "%.*s", (int)n, d);
        if (strcmp(first, bad_cases[i].want))
            fprintf(stderr, "case %zu: got '%s'\n      want '%s'\n", i, first, bad_cases[i].want);
        ASSERT_STR_EQ(first, bad_cases[i].want);
        free(d);
    }
}

/* One run reports many errors, each with its own position. */
static void test_many_errors(void **state)
{
    (void)state;
    int rc;
    char *d = load_diag(".func main 0 2\n  foo\n  bar r0\n  const r0, zz\n  ret r0\n.end\n", &rc);
    ASSERT_EQ(rc, VMRT_GUEST_EXIT_BAD_PROGRAM);
    ASSERT_NOT_NULL(strstr(d, "t.vasm:2:3: unknown instruction 'foo'\n"));
    ASSERT_NOT_NULL(strstr(d, "t.vasm:3:3: unknown instruction 'bar'\n"));
    ASSERT_NOT_NULL(strstr(d, "t.vasm:4:13: undefined constant 'zz'\n"));
    free(d);
}

static void test_decode(void **state)
{
    (void)state;
    const char *src = "; comment\n"
                      ".const K 0x10\n"
                      ".const MSG \"hi\\n\"\n"
                      ".func add3 3 4\n"
                      "    add r3, r0, r1\n"
                      "    add r3, r3, r2\n"
                      "    ret r3\n"
                      ".end\n"
                      ".func main 0 4\n"
                      "top: const r0, K   # trailing comment\n"
                      "    const r1, -7\n"
                      "    call r2, add3, r0, r1, r1\n"
                      "    puts MSG\n"
                      "    jnz r2, top\n"
                      "    ret\n"
                      ".end\n";
    vg_diag d = {0};
    vg_program *p = NULL;
    ASSERT_OK(vg_assemble("t.vasm", src, strlen(src), &p, &d));
    ASSERT_EQ(d.count, 0);
    ASSERT_EQ(p->nfuncs, 2);
    ASSERT_EQ(p->main_index, 1);
    const vg_code *c = &p->funcs[1].code0;
    ASSERT_EQ(c->n, 6);
    ASSERT_EQ(c->ins[0].op, VG_OP_CONST);
    ASSERT_EQ(c->ins[0].k, 16);
    ASSERT_EQ(c->ins[1].k, -7);
    ASSERT_EQ(c->ins[2].op, VG_OP_CALL);
    ASSERT_EQ(c->ins[2].k, 0);
    ASSERT_EQ(c->ins[2].nargs, 3);
    ASSERT_EQ(c->ins[2].args[2], 1);
    ASSERT_EQ(c->ins[3].op, VG_OP_PUTS);
    ASSERT_STR_EQ(p->strings[c->ins[3].k].bytes, "hi\n");
    ASSERT_EQ(c->ins[4].op, VG_OP_JNZ);
    ASSERT_EQ(c->ins[4].k, 0);
    ASSERT_EQ(c->ins[5].op, VG_OP_RET0);
    ASSERT_EQ(c->line[0], 10);
    ASSERT_EQ(c->col[0], 6);
    ASSERT_OK(vg_verify(p, &d));
    vg_program_free(p);
    vg_diag_free(&d);
}

/* Forward calls resolve; the same string literal is pooled once. */
static void test_forward_and_pool(void **state)
{
    (void)state;
    const char *src = ".func main 0 1\n call r0, later\n puts \"x\"\n puts \"x\"\n ret r0\n.end\n"
                      ".func later 0 1\n const r0, 5\n ret r0\n.end\n";
    vg_diag d = {0};
    vg_program *p = NULL;
    ASSERT_OK(vg_assemble("t.vasm", src, strlen(src), &p, &d));
    ASSERT_EQ(p->funcs[0].code0.ins[0].k, 1);
    ASSERT_EQ(p->nstrings, 1);
    vg_program_free(p);
    vg_diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_forward_and_pool),
    };
    VT_RUN("guest_asm", tests);
}
