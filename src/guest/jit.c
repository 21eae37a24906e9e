/* The translation tier (the spec's "JIT compile tasks").
 *
 * A function becomes hot when its calls plus back-edges seen in tier 0 reach
 * the threshold (vmrt_guest_options.jit_threshold). The interpreter then
 * calls vg_jit_request(), which hands one translation task to the host
 * (High priority: translation must not wait behind guest threads). The task
 * builds a tier-1 code form and publishes it with a release store; callers
 * pick it up at their next call, running frames at their next back-edge
 * safepoint (OSR through the index map).
 *
 * Tier 1 is tier 0 with superinstructions, each replacing a sequence by one
 * dispatch that has the same effect on every register:
 *   - compare + jz/jnz → JLT..JNNE (the compare's destination is still
 *     written, so no liveness analysis is needed);
 *   - const + compare + jz/jnz → JLTK..JNNEK (the constant's register is
 *     still written; the branch target moves to k2);
 *   - add/sub/shr + jmp, addi + jmp (loop increments), mov + ret.
 * Both tiers use the same dispatch (handler addresses in each instruction)
 * and the same call path, which keeps counting an untranslated callee's
 * hotness (a function called only from tier-1 code must become hot too).
 * A pair is fused only when its second instruction is not a branch target,
 * so every target maps to an instruction boundary of the new form.
 *
 * Memory: tier-1 forms are never freed before the program (running frames
 * may still use a form; nothing is ever retranslated).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <vmrt/common.h>

#include "guest/engine.h"

static int fused_cmp(uint16_t cmp, bool jump_if_true)
{
    switch (cmp) {
    case VG_OP_LT:
        return jump_if_true ? VG_OP_JLT : VG_OP_JNLT;
    case VG_OP_LE:
        return jump_if_true ? VG_OP_JLE : VG_OP_JNLE;
    case VG_OP_GT:
        return jump_if_true ? VG_OP_JGT : VG_OP_JNGT;
    case VG_OP_GE:
        return jump_if_true ? VG_OP_JGE : VG_OP_JNGE;
    case VG_OP_EQ:
        return jump_if_true ? VG_OP_JEQ : VG_OP_JNEQ;
    case VG_OP_NE:
        return jump_if_true ? VG_OP_JNE : VG_OP_JNNE;
    default:
        return -1;
    }
}

static int fused_cmp_k(uint16_t cmp, bool jump_if_true)
{
    switch (cmp) {
    case VG_OP_LT:
        return jump_if_true ? VG_OP_JLTK : VG_OP_JNLTK;
    case VG_OP_LE:
        return jump_if_true ? VG_OP_JLEK : VG_OP_JNLEK;
    case VG_OP_GT:
        return jump_if_true ? VG_OP_JGTK : VG_OP_JNGTK;
    case VG_OP_GE:
        return jump_if_true ? VG_OP_JGEK : VG_OP_JNGEK;
    case VG_OP_EQ:
        return jump_if_true ? VG_OP_JEQK : VG_OP_JNEQK;
    case VG_OP_NE:
        return jump_if_true ? VG_OP_JNEK : VG_OP_JNNEK;
    default:
        return -1;
    }
}

static int arith_jmp(uint16_t op)
{
    switch (op) {
    case VG_OP_ADD:
        return VG_OP_ADD_JMP;
    case VG_OP_SUB:
        return VG_OP_SUB_JMP;
    case VG_OP_SHR:
        return VG_OP_SHR_JMP;
    default:
        return -1;
    }
}

static bool is_cond(const vg_ins *in)
{
    return in->op == VG_OP_JZ || in->op == VG_OP_JNZ;
}

static bool has_target_k(uint16_t op)
{
    switch (op) {
    case VG_OP_JMP:
    case VG_OP_JZ:
    case VG_OP_JNZ:
    case VG_OP_JLT:
    case VG_OP_JLE:
    case VG_OP_JGT:
    case VG_OP_JGE:
    case VG_OP_JEQ:
    case VG_OP_JNE:
    case VG_OP_JNLT:
    case VG_OP_JNLE:
    case VG_OP_JNGT:
    case VG_OP_JNGE:
    case VG_OP_JNEQ:
    case VG_OP_JNNE:
    case VG_OP_ADD_JMP:
    case VG_OP_SUB_JMP:
    case VG_OP_SHR_JMP:
        return true;
    default:
        return false;
    }
}

static void free_code(vg_code *c)
{
    if (!c)
        return;
    free(c->ins);
    free(c->line);
    free(c->col);
    free(c->map);
    free(c->argpool);
    free(c);
}

static vg_code *translate(const vg_func *fn)
{
    const vg_code *c0 = &fn->code0;
    uint32_t n = c0->n;
    vg_code *c1 = calloc(1, sizeof *c1);
    uint8_t *target = calloc(n + 1, 1);
    if (!c1 || !target)
        goto oom;
    c1->tier = 1;
    c1->ins = calloc(n ? n : 1, sizeof(vg_ins));
    c1->line = calloc(n ? n : 1, sizeof(uint32_t));
    c1->col = calloc(n ? n : 1, sizeof(uint32_t));
    c1->map = calloc(n ? n : 1, sizeof(uint32_t));
    size_t nargs = 0;
    for (uint32_t i = 0; i < n; i++)
        nargs += c0->ins[i].nargs;
    if (nargs)
        c1->argpool = malloc(nargs * sizeof(int32_t));
    if (!c1->ins || !c1->line || !c1->col || !c1->map || (nargs && !c1->argpool))
        goto oom;
    for (uint32_t i = 0; i < n; i++)
        if (has_target_k(c0->ins[i].op))
            target[c0->ins[i].k] = 1;
    uint32_t m = 0;
    size_t argpos = 0;
    for (uint32_t i = 0; i < n; i++) {
        const vg_ins *in = &c0->ins[i];
        const vg_ins *nx = i + 1 < n && !target[i + 1] ? &c0->ins[i + 1] : NULL;
        const vg_ins *nx2 = nx && i + 2 < n && !target[i + 2] ? &c0->ins[i + 2] : NULL;
        vg_ins out = *in;
        c1->map[i] = m;
        c1->line[m] = c0->line[i];
        c1->col[m] = c0->col[i];
        int fused = -1, fk = -1, aj = -1;
        if (in->op == VG_OP_CONST && nx2 && nx->c == in->a && is_cond(nx2) && nx2->a == nx->a)
            fk = fused_cmp_k(nx->op, nx2->op == VG_OP_JNZ);
        if (nx && is_cond(nx) && nx->a == in->a)
            fused = fused_cmp(in->op, nx->op == VG_OP_JNZ);
        if (nx && nx->op == VG_OP_JMP)
            aj = arith_jmp(in->op);
        if (fk >= 0) { /* const rK, K; cmp d, x, rK; jz/jnz d, L: one instruction */
            out = *nx;
            out.op = (uint16_t)fk;
            out.k = in->k;
            out.k2 = nx2->k;
            c1->line[m] = c0->line[i + 1]; /* errors point at the compare */
            c1->col[m] = c0->col[i + 1];
            c1->ins[m++] = out;
            c1->map[i + 1] = c1->map[i + 2] = m - 1;
            i += 2;
            continue;
        }
        if (aj >= 0) {
            out.op = (uint16_t)aj;
            out.k = nx->k;
        } else if (fused >= 0) {
            out.op = (uint16_t)fused;
            out.k = nx->k;
        } else if (nx && in->op == VG_OP_ADDI && nx->op == VG_OP_JMP) {
            out.op = VG_OP_ADDI_JMP;
            out.c = (int32_t)nx->k;
        } else if (nx && in->op == VG_OP_MOV && nx->op == VG_OP_RET && nx->a == in->a) {
            out.op = VG_OP_MOV_RET;
        } else {
            nx = NULL;
        }
        if (in->nargs) {
            memcpy(c1->argpool + argpos, in->args, in->nargs * sizeof(int32_t));
            out.args = c1->argpool + argpos;
            argpos += in->nargs;
        }
        c1->ins[m++] = out;
        if (nx) {
            i++;
            c1->map[i] = m - 1;
        }
    }
    c1->n = m;
    for (uint32_t j = 0; j < m; j++) {
        vg_ins *in = &c1->ins[j];
        if (has_target_k(in->op))
            in->k = c1->map[in->k];
        else if (in->op == VG_OP_ADDI_JMP)
            in->c = (int32_t)c1->map[in->c];
        else if (in->op >= VG_OP_JLTK && in->op <= VG_OP_JNNEK)
            in->k2 = c1->map[in->k2];
    }
    const void *const *labels = vg_interp_labels();
    if (labels)
        for (uint32_t j = 0; j < m; j++)
            c1->ins[j].handler = labels[c1->ins[j].op];
    free(target);
    return c1;
oom:
    free(target);
    free_code(c1);
    return NULL;
}

int vg_jit_translate(vg_engine *eng, vg_func *fn)
{
    uint64_t t0 = vmrt_now_ns();
    vg_code *c1 = translate(fn);
    if (!c1) {
        atomic_store(&fn->jit_state, VG_JIT_FAILED);
        return -ENOMEM;
    }
    atomic_store_explicit(&fn->code1, c1, memory_order_release);
    atomic_store(&fn->jit_state, VG_JIT_DONE);
    atomic_fetch_add(&eng->translations, 1);
    atomic_fetch_add(&eng->jit_ns, vmrt_now_ns() - t0);
    if (eng->opts.trace_jit)
        fprintf(eng->err, "jit: translated '%s' (%u → %u instructions)\n", fn->name, fn->code0.n,
                c1->n);
    return 0;
}

typedef struct jit_job {
    vg_engine *eng;
    vg_func *fn;
} jit_job;

static void jit_task(void *arg)
{
    jit_job *job = arg;
    vg_jit_translate(job->eng, job->fn);
    free(job);
}

void vg_jit_request(vg_engine *eng, vg_func *fn)
{
    int expected = VG_JIT_NONE;
    if (!atomic_compare_exchange_strong(&fn->jit_state, &expected, VG_JIT_QUEUED))
        return;
    if (eng->opts.jit_sync) {
        vg_jit_translate(eng, fn);
        return;
    }
    jit_job *job = malloc(sizeof *job);
    if (!job) {
        atomic_store(&fn->jit_state, VG_JIT_FAILED);
        return;
    }
    *job = (jit_job){eng, fn};
    if (eng->host->ops->jit_submit(eng->host, jit_task, job)) {
        free(job);
        atomic_store(&fn->jit_state, VG_JIT_FAILED);
    }
}

/* ---- listing -------------------------------------------------------------------------------- */

void vg_code_dump(const vg_program *prog, const vg_func *fn, const vg_code *code, FILE *f)
{
    fprintf(f, ".func %s %u %u  ; tier %d, %u instructions\n", fn->name, fn->arity, fn->nregs,
            code->tier, code->n);
    for (uint32_t i = 0; i < code->n; i++) {
        const vg_ins *in = &code->ins[i];
        const vg_opinfo *oi = &vg_opinfo_table[in->op];
        fprintf(f, "  %4u  %-9s", i, oi->mnemonic ? oi->mnemonic : oi->name);
        int regi = 0;
        const char *sep = " ";
        for (const char *s = oi->operands; *s; s++) {
            switch (*s) {
            case 'd':
            case 'r':
                fprintf(f, "%sr%d", sep, regi == 0 ? in->a : regi == 1 ? in->b : in->c);
                regi++;
                break;
            case 'i':
                fprintf(f, "%s%lld", sep, (long long)in->k);
                break;
            case 's':
                fprintf(f, "%s\"%s\"", sep, prog->strings[in->k].bytes);
                break;
            case 'l':
                fprintf(f, "%s@%lld", sep,
                        (long long)(in->op == VG_OP_ADDI_JMP                        ? in->c
                                    : in->op >= VG_OP_JLTK && in->op <= VG_OP_JNNEK ? in->k2
                                                                                    : in->k));
                break;
            case 'f':
                fprintf(f, "%s%s", sep, prog->funcs[in->k].name);
                break;
            case '*':
                for (uint32_t j = 0; j < in->nargs; j++)
                    fprintf(f, "%sr%d", j || *sep == ',' ? ", " : " ", in->args[j]);
                break;
            default:
                break;
            }
            sep = ", ";
        }
        fprintf(f, "    ; line %u\n", code->line[i]);
    }
    fputs(".end\n", f);
}

void vmrt_guest_dump(const vmrt_guest_program *prog, FILE *f)
{
    for (uint32_t i = 0; i < prog->nfuncs; i++) {
        const vg_func *fn = &prog->funcs[i];
        vg_code_dump(prog, fn, &fn->code0, f);
        const vg_code *c1 = atomic_load(&fn->code1);
        if (c1)
            vg_code_dump(prog, fn, c1, f);
    }
}
