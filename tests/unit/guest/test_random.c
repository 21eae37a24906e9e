/* Random programs: thousands of generated programs that pass the verifier
 * run under tight limits (safepoint polls, call depth, heap) in all tiers.
 * Whatever they do — type errors, bad indexes, deadlocks, threads, channels,
 * recursion — the host must survive and report one of the documented exit
 * codes. Deterministic (fixed seed); VMRT_GUEST_RANDOM_N sets the count. */
#include <inttypes.h>

#include "../../harness.h"
#include "guest/opcodes.h"
#include "guest_test.h"

VT_DEFINE_GLOBALS;

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const vg_opcode body_ops[] = {
    VG_OP_CONST, VG_OP_MOV,   VG_OP_NIL,   VG_OP_ADD,    VG_OP_SUB,   VG_OP_MUL,  VG_OP_DIV,
    VG_OP_MOD,   VG_OP_AND,   VG_OP_OR,    VG_OP_XOR,    VG_OP_SHL,   VG_OP_SHR,  VG_OP_ADDI,
    VG_OP_NEG,   VG_OP_NOT,   VG_OP_EQ,    VG_OP_NE,     VG_OP_LT,    VG_OP_LE,   VG_OP_GT,
    VG_OP_GE,    VG_OP_JMP,   VG_OP_JZ,    VG_OP_JNZ,    VG_OP_CALL,  VG_OP_RET,  VG_OP_PRINT,
    VG_OP_TYPE,  VG_OP_REC,   VG_OP_GETF,  VG_OP_SETF,   VG_OP_ARR,   VG_OP_AGET, VG_OP_ASET,
    VG_OP_LEN,   VG_OP_BYTES, VG_OP_BGET,  VG_OP_BSET,   VG_OP_STR,   VG_OP_CAT,  VG_OP_ITOS,
    VG_OP_BEQ,   VG_OP_SLICE, VG_OP_SPAWN, VG_OP_JOIN,   VG_OP_YIELD, VG_OP_SELF, VG_OP_CHAN,
    VG_OP_SEND,  VG_OP_RECV,  VG_OP_CLOSE, VG_OP_SELECT, VG_OP_PRIO,  VG_OP_FAIL,
};

typedef struct gen {
    char *buf;
    size_t len, cap;
} gen;

static void emit(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (g->len + (size_t)n + 1 > g->cap) {
        g->cap = (g->cap + (size_t)n + 1) * 2;
        g->buf = realloc(g->buf, g->cap);
    }
    memcpy(g->buf + g->len, tmp, (size_t)n + 1);
    g->len += (size_t)n;
}

/* A register whose tracked type fits `want` (an opcodes.h type letter), or
 * any register if none does: most generated programs then pass the
 * verifier's type check, some do not. */
static bool fits(char t, char want)
{
    return want == 'x' || want == '-' || t == 'x' ||
           (want == 't'   ? t == 'i'
            : want == 'l' ? (t == 'a' || t == 'b')
                          : t == want);
}

static unsigned pick(const char *ty, unsigned nregs, char want)
{
    unsigned start = rnd(nregs);
    for (unsigned k = 0; k < nregs; k++)
        if (fits(ty[(start + k) % nregs], want))
            return (start + k) % nregs;
    return start;
}

/* Whether every source operand of op has some register of a fitting type. */
static bool feasible(const vg_opinfo *oi, const char *ty, unsigned nregs)
{
    for (const char *s = oi->operands; *s; s++) {
        if (*s != 'r')
            continue;
        bool any = false;
        for (unsigned r = 0; r < nregs && !any; r++)
            any = fits(ty[r], oi->types[s - oi->operands]);
        if (!any)
            return false;
    }
    return true;
}

/* One function: initialise every register, then a random body with labels. */
static void gen_func(gen *g, const char *name, unsigned arity, unsigned nregs)
{
    emit(g, ".func %s %u %u\n", name, arity, nregs);
    char ty[8];
    for (unsigned r = 0; r < arity; r++)
        ty[r] = 'x';
    for (unsigned r = arity; r < nregs; r++) {
        static const char kinds[] = "nbracii";
        ty[r] = kinds[rnd(sizeof kinds - 1)];
        switch (ty[r]) {
        case 'n':
            emit(g, "  nil r%u\n", r);
            break;
        case 'b':
            emit(g, "  str r%u, \"ab\"\n", r);
            break;
        case 'r':
            emit(g, "  rec r%u, 2\n", r);
            break;
        case 'a':
            emit(g, "  const r%u, 3\n  arr r%u, r%u\n", r, r, r);
            break;
        case 'c':
            emit(g, "  const r%u, 1\n  chan r%u, r%u\n", r, r, r);
            break;
        default:
            emit(g, "  const r%u, %d\n", r, (int)rnd(12) - 2);
            break;
        }
    }
    unsigned nlabels = 1 + rnd(4), n = 4 + rnd(28);
    unsigned *at = calloc(nlabels, sizeof *at);
    for (unsigned l = 0; l < nlabels; l++)
        at[l] = rnd(n + 1);
    for (unsigned i = 0; i <= n; i++) {
        for (unsigned l = 0; l < nlabels; l++)
            if (at[l] == i)
                emit(g, "L%u:\n", l);
        if (i == n)
            break;
        vg_opcode op;
        const vg_opinfo *oi;
        do { /* mostly type-correct programs: the verifier rejects the rest */
            op = body_ops[rnd(sizeof body_ops / sizeof body_ops[0])];
            oi = &vg_opinfo_table[op];
        } while (rnd(8) && !feasible(oi, ty, nregs));
        if (op == VG_OP_SELECT) { /* timeout set right before: never a long wait */
            unsigned t = rnd(nregs), d1 = rnd(nregs), d2 = (d1 + 1 + rnd(nregs - 1)) % nregs;
            emit(g, "  const r%u, %d\n  select r%u, r%u, r%u, r%u", t, (int)rnd(3) - 1, d1, d2, t,
                 rnd(nregs));
            if (rnd(2))
                emit(g, ", r%u", rnd(nregs));
            emit(g, "\n");
            continue;
        }
        emit(g, "  %s", oi->mnemonic);
        const char *sep = " ";
        unsigned callee_arity = 0;
        int dest = -1;
        char first_src = 'x';
        for (const char *s = oi->operands; *s; s++) {
            unsigned r;
            switch (*s) {
            case 'd':
                dest = (int)rnd(nregs);
                emit(g, "%sr%d", sep, dest);
                break;
            case 'r':
                r = pick(ty, nregs, oi->types[s - oi->operands]);
                if (first_src == 'x')
                    first_src = ty[r];
                emit(g, "%sr%u", sep, r);
                break;
            case 'i':
                emit(g, "%s%d", sep,
                     op == VG_OP_REC || op == VG_OP_GETF || op == VG_OP_SETF ? (int)rnd(3)
                                                                             : (int)rnd(12) - 3);
                break;
            case 's':
                emit(g, "%s\"x\"", sep);
                break;
            case 'l':
                emit(g, "%sL%u", sep, rnd(nlabels));
                break;
            case 'f':
                callee_arity = 1 + rnd(2);
                emit(g, "%s%s", sep, callee_arity == 1 ? "f" : "g");
                break;
            case '*':
                for (unsigned k = 0; k < callee_arity; k++)
                    emit(g, ", r%u", rnd(nregs));
                break;
            default:
                break;
            }
            sep = ", ";
        }
        if (dest >= 0)
            ty[dest] = oi->result == '=' ? first_src : oi->result == 'n' ? 'n' : oi->result;
        emit(g, "\n");
    }
    emit(g, "  ret r0\n.end\n");
    free(at);
}

static void test_random_programs(void **state)
{
    (void)state;
    const char *cfg = getenv("VMRT_TEST_CONFIG");
    const char *ns = getenv("VMRT_GUEST_RANDOM_N");
    unsigned total = ns ? (unsigned)atoi(ns)
                        : (cfg && (!strcmp(cfg, "tsan") || !strcmp(cfg, "aarch64")) ? 400 : 3000);
    FILE *null = fopen("/dev/null", "w");
    ASSERT_NOT_NULL(null);
    unsigned accepted = 0, by_rc[256] = {0};
    for (unsigned i = 0; i < total; i++) {
        gen g = {0};
        gen_func(&g, "main", 0, 2 + rnd(5));
        gen_func(&g, "f", 1, 2 + rnd(5));
        gen_func(&g, "g", 2, 2 + rnd(5));
        vmrt_guest_program *p = NULL;
        int rc = vmrt_guest_load_string("rand.vasm", g.buf, g.len, &p,
                                        getenv("VMRT_GUEST_RANDOM_DIAG") ? stderr : NULL);
        if (rc == VMRT_GUEST_EXIT_BAD_PROGRAM) {
            free(g.buf);
            continue;
        }
        ASSERT_EQ(rc, 0);
        accepted++;
        vmrt_guest_options o;
        vmrt_guest_options_init(&o);
        o.out = null;
        o.err = null;
        o.max_polls = 40;
        o.poll_interval = 8;
        o.max_frames = 64;
        o.heap_max = 8u << 20;
        o.jit_threshold = i % 3 == 0 ? 0 : 3;
        o.jit_sync = i % 3 == 1;
        vmrt_guest_result res;
        rc = vmrt_guest_run(p, &o, &res);
        if (!(rc >= 0 && rc < 64) && rc != VMRT_GUEST_EXIT_GUEST_ERROR) {
            fprintf(stderr, "program %u: exit %d (%s)\n%s", i, rc, res.message, g.buf);
            ASSERT_TRUE(false);
        }
        by_rc[rc]++;
        vmrt_guest_program_free(p);
        free(g.buf);
    }
    fclose(null);
    fprintf(stderr,
            "random programs: %u generated, %u verified and run: %u exit 0, %u guest errors\n",
            total, accepted, by_rc[0], by_rc[VMRT_GUEST_EXIT_GUEST_ERROR]);
    ASSERT_TRUE(accepted >= total / 10);
    ASSERT_TRUE(by_rc[VMRT_GUEST_EXIT_GUEST_ERROR] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_programs),
    };
    VT_RUN("guest_random", tests);
}
