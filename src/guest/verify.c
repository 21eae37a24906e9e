/* The verifier: every rule the interpreter relies on, checked before a
 * program runs (docs/guest.md, "Verifier").
 *
 * Pass 1 (structure, every instruction): opcode known and not translation-
 * only, register operands below the function's register count, branch
 * targets inside the function, callee exists and gets exactly its arity,
 * string and field operands in range.
 *
 * Pass 2 (data flow, reachable code): a forward analysis over basic blocks
 * computes for every register the set of types it may hold (bit set; the
 * UNDEF bit means "may not be written yet"). It runs to a fixpoint first and
 * reports afterwards, once per instruction:
 *   - a register read while it may be unwritten (the register-machine form of
 *     "stack depth consistency": every path into an instruction agrees that
 *     its inputs exist);
 *   - an operand whose every possible type is wrong for the instruction;
 *   - a path that runs off the end of the function without 'ret'.
 * Types that are merely possible (e.g. "int or nil") pass; the interpreter
 * checks them at run time.
 */
#include <stdlib.h>
#include <string.h>

#include "guest/prog.h"

enum {
    T_UNDEF = 1,
    T_INT = 2,
    T_NIL = 4,
    T_REC = 8,
    T_ARR = 16,
    T_BYTES = 32,
    T_CHAN = 64,
    T_ANY = T_INT | T_NIL | T_REC | T_ARR | T_BYTES | T_CHAN,
};

#define VERIFY_STATE_MAX (64u << 20) /* bytes of analysis state per function */

static uint8_t accepted(char c)
{
    switch (c) {
    case 'i':
    case 't':
        return T_INT;
    case 'b':
        return T_BYTES;
    case 'a':
        return T_ARR;
    case 'r':
        return T_REC;
    case 'c':
        return T_CHAN;
    case 'l':
        return T_ARR | T_BYTES;
    default:
        return T_ANY;
    }
}

static uint8_t result_type(char c)
{
    switch (c) {
    case 'i':
        return T_INT;
    case 'b':
        return T_BYTES;
    case 'a':
        return T_ARR;
    case 'r':
        return T_REC;
    case 'c':
        return T_CHAN;
    case 'n':
        return T_NIL;
    default:
        return T_ANY;
    }
}

static const char *type_words(uint8_t t)
{
    switch (t & T_ANY) {
    case T_INT:
        return "int";
    case T_NIL:
        return "nil";
    case T_REC:
        return "record";
    case T_ARR:
        return "array";
    case T_BYTES:
        return "bytes";
    case T_CHAN:
        return "channel";
    default:
        return "a value of another type";
    }
}

static const char *accept_words(char c)
{
    switch (c) {
    case 'i':
        return "int";
    case 't':
        return "int (thread id)";
    case 'b':
        return "bytes";
    case 'a':
        return "array";
    case 'r':
        return "record";
    case 'c':
        return "channel";
    case 'l':
        return "array or bytes";
    default:
        return "any value";
    }
}

typedef struct vctx {
    const vg_program *prog;
    const vg_func *fn;
    vg_diag *diag;
    bool failed;
} vctx;

#define VERR(vc, i, ...)                                                                           \
    do {                                                                                           \
        vg_diag_add((vc)->diag, (vc)->prog->file, (vc)->fn->code0.line[i], (vc)->fn->code0.col[i], \
                    __VA_ARGS__);                                                                  \
        (vc)->failed = true;                                                                       \
    } while (0)

static bool is_branch(uint16_t op)
{
    return op == VG_OP_JMP || op == VG_OP_JZ || op == VG_OP_JNZ;
}

static bool ends_flow(uint16_t op)
{
    return op == VG_OP_JMP || op == VG_OP_RET || op == VG_OP_RET0 || op == VG_OP_FAIL;
}

/* Register operand j (0-based over a, b, c) of in. */
static int32_t reg_at(const vg_ins *in, int j)
{
    return j == 0 ? in->a : j == 1 ? in->b : in->c;
}

static void check_structure(vctx *vc, uint32_t i)
{
    const vg_func *fn = vc->fn;
    const vg_ins *in = &fn->code0.ins[i];
    if (in->op >= VG_OP_COUNT || !vg_opinfo_table[in->op].mnemonic) {
        VERR(vc, i, "invalid opcode %u", in->op);
        return;
    }
    const vg_opinfo *oi = &vg_opinfo_table[in->op];
    int regi = 0;
    for (const char *s = oi->operands; *s; s++) {
        switch (*s) {
        case 'd':
        case 'r': {
            int32_t r = reg_at(in, regi++);
            if (r < 0 || (uint32_t)r >= fn->nregs)
                VERR(vc, i, "register r%d out of range: function '%s' has %u register%s", r,
                     fn->name, fn->nregs, fn->nregs == 1 ? "" : "s");
            break;
        }
        case 'l':
            if (in->k < 0 || in->k >= (int64_t)fn->code0.n)
                VERR(vc, i, "branch target %lld outside function '%s'", (long long)in->k, fn->name);
            break;
        case 's':
            if (in->k < 0 || in->k >= (int64_t)vc->prog->nstrings)
                VERR(vc, i, "string operand out of range");
            break;
        case 'f':
            if (in->k < 0 || in->k >= (int64_t)vc->prog->nfuncs) {
                VERR(vc, i, "call to an unknown function");
            } else {
                const vg_func *callee = &vc->prog->funcs[in->k];
                if (in->nargs != callee->arity)
                    VERR(vc, i, "%s of '%s' passes %u argument%s, it takes %u", oi->mnemonic,
                         callee->name, in->nargs, in->nargs == 1 ? "" : "s", callee->arity);
            }
            break;
        case '*':
            for (uint32_t j = 0; j < in->nargs; j++)
                if (in->args[j] < 0 || (uint32_t)in->args[j] >= fn->nregs)
                    VERR(vc, i, "register r%d out of range: function '%s' has %u register%s",
                         in->args[j], fn->name, fn->nregs, fn->nregs == 1 ? "" : "s");
            break;
        default:
            break;
        }
    }
    if ((in->op == VG_OP_REC || in->op == VG_OP_GETF || in->op == VG_OP_SETF) &&
        (in->k < 0 || in->k > 65535))
        VERR(vc, i, "field %s %lld out of range [0, 65535]",
             in->op == VG_OP_REC ? "count" : "index", (long long)in->k);
    if (in->op == VG_OP_SELECT && in->nargs == 0)
        VERR(vc, i, "select needs at least one channel");
    if (in->op == VG_OP_SELECT && in->a == in->b)
        VERR(vc, i, "select writes its index and value to the same register r%d", in->a);
}

/* Applies instruction i to state st (nregs bytes); reports if report is set. */
static void transfer(vctx *vc, uint32_t i, uint8_t *st, bool report)
{
    const vg_ins *in = &vc->fn->code0.ins[i];
    const vg_opinfo *oi = &vg_opinfo_table[in->op];
    int regi = 0, ti = 0;
    uint8_t first_src = T_ANY;
    bool have_src = false;
    for (const char *s = oi->operands; *s; s++, ti++) {
        if (*s == '*') {
            for (uint32_t j = 0; j < in->nargs; j++)
                if (report && (st[in->args[j]] & T_UNDEF))
                    VERR(vc, i, "register r%d may be read before it is written", in->args[j]);
            break;
        }
        if (*s == 'd') {
            regi++;
            continue;
        }
        if (*s != 'r')
            continue;
        int32_t r = reg_at(in, regi++);
        uint8_t t = st[r];
        if (!have_src) {
            first_src = t & T_ANY;
            have_src = true;
        }
        if (!report)
            continue;
        char want = oi->types[ti];
        if (t & T_UNDEF) {
            VERR(vc, i, "register r%d may be read before it is written", r);
        } else if ((t & accepted(want)) == 0) {
            VERR(vc, i, "'%s' operand %d: r%d holds %s, expected %s", oi->mnemonic, ti + 1, r,
                 type_words(t), accept_words(want));
        }
    }
    /* writes */
    regi = 0;
    bool first_dest = true;
    for (const char *s = oi->operands; *s && *s != '*'; s++) {
        if (*s == 'd') {
            int32_t r = reg_at(in, regi);
            uint8_t t = oi->result == '=' ? first_src : result_type(oi->result);
            if (in->op == VG_OP_SELECT && first_dest)
                t = T_INT;
            st[r] = t ? t : T_ANY;
            first_dest = false;
        }
        if (*s == 'd' || *s == 'r')
            regi++;
    }
}

static bool merge(uint8_t *dst, const uint8_t *src, uint32_t n, bool *first)
{
    if (*first) {
        memcpy(dst, src, n);
        *first = false;
        return true;
    }
    bool changed = false;
    for (uint32_t r = 0; r < n; r++) {
        uint8_t m = dst[r] | src[r];
        if (m != dst[r]) {
            dst[r] = m;
            changed = true;
        }
    }
    return changed;
}

static void check_flow(vctx *vc)
{
    const vg_func *fn = vc->fn;
    const vg_code *c = &fn->code0;
    uint32_t n = c->n, nr = fn->nregs ? fn->nregs : 1;
    if (n == 0) {
        vg_diag_add(vc->diag, vc->prog->file, fn->line, fn->col,
                    "function '%s' is empty: control reaches its end without 'ret'", fn->name);
        vc->failed = true;
        return;
    }
    /* leaders */
    uint32_t *block_of = calloc(n, sizeof(uint32_t));
    uint8_t *is_leader = calloc(n, 1);
    if (!block_of || !is_leader)
        goto oom;
    is_leader[0] = 1;
    for (uint32_t i = 0; i < n; i++) {
        const vg_ins *in = &c->ins[i];
        if (is_branch(in->op))
            is_leader[in->k] = 1;
        if ((is_branch(in->op) || ends_flow(in->op)) && i + 1 < n)
            is_leader[i + 1] = 1;
    }
    uint32_t nblocks = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (is_leader[i])
            nblocks++;
        block_of[i] = nblocks - 1;
    }
    if ((size_t)nblocks * nr > VERIFY_STATE_MAX) {
        vg_diag_add(vc->diag, vc->prog->file, fn->line, fn->col,
                    "function '%s' is too large to verify", fn->name);
        vc->failed = true;
        goto out;
    }
    uint8_t *in_state = calloc((size_t)nblocks, nr);
    uint8_t *seen = calloc(nblocks, 1);
    uint32_t *start = calloc(nblocks, sizeof(uint32_t));
    uint32_t *work = calloc(nblocks + 1, sizeof(uint32_t));
    uint8_t *queued = calloc(nblocks, 1);
    uint8_t *cur = calloc(nr, 1);
    if (!in_state || !seen || !start || !work || !queued || !cur) {
        free(in_state), free(seen), free(start), free(work), free(queued), free(cur);
        goto oom;
    }
    for (uint32_t i = 0; i < n; i++)
        if (is_leader[i])
            start[block_of[i]] = i;
    for (uint32_t r = 0; r < nr; r++)
        in_state[r] = r < fn->arity ? T_ANY : T_UNDEF;
    seen[0] = 1;
    uint32_t head = 0, tail = 0;
    work[tail++] = 0;
    queued[0] = 1;
    bool falls_off = false;
    uint32_t fall_ins = 0;
    while (head != tail) {
        uint32_t b = work[head];
        head = (head + 1) % (nblocks + 1);
        queued[b] = 0;
        memcpy(cur, in_state + (size_t)b * nr, nr);
        uint32_t i = start[b];
        for (;;) {
            transfer(vc, i, cur, false);
            const vg_ins *in = &c->ins[i];
            uint32_t succ[2], ns = 0;
            if (is_branch(in->op))
                succ[ns++] = (uint32_t)in->k;
            if (!ends_flow(in->op)) {
                if (i + 1 >= n) {
                    falls_off = true;
                    fall_ins = i;
                } else if (is_leader[i + 1]) {
                    succ[ns++] = i + 1;
                } else {
                    i++;
                    continue;
                }
            }
            for (uint32_t s = 0; s < ns; s++) {
                uint32_t sb = block_of[succ[s]];
                bool first = !seen[sb];
                seen[sb] = 1;
                if (merge(in_state + (size_t)sb * nr, cur, nr, &first) && !queued[sb]) {
                    queued[sb] = 1;
                    work[tail] = sb;
                    tail = (tail + 1) % (nblocks + 1);
                }
            }
            break;
        }
    }
    /* report, once per reachable instruction */
    for (uint32_t b = 0; b < nblocks; b++) {
        if (!seen[b])
            continue;
        memcpy(cur, in_state + (size_t)b * nr, nr);
        for (uint32_t i = start[b]; i < n && block_of[i] == b; i++)
            transfer(vc, i, cur, true);
    }
    if (falls_off)
        VERR(vc, fall_ins, "control reaches the end of function '%s' without 'ret'", fn->name);
    free(in_state), free(seen), free(start), free(work), free(queued), free(cur);
out:
    free(block_of);
    free(is_leader);
    return;
oom:
    free(block_of);
    free(is_leader);
    vg_diag_add(vc->diag, vc->prog->file, fn->line, fn->col, "out of memory while verifying");
    vc->failed = true;
}

int vg_verify(const vg_program *prog, vg_diag *diag)
{
    bool failed = false;
    for (uint32_t f = 0; f < prog->nfuncs; f++) {
        vctx vc = {.prog = prog, .fn = &prog->funcs[f], .diag = diag};
        for (uint32_t i = 0; i < vc.fn->code0.n; i++)
            check_structure(&vc, i);
        if (!vc.failed)
            check_flow(&vc);
        failed |= vc.failed;
    }
    return failed ? -1 : 0;
}
