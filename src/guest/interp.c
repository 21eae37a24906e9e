/* The interpreter: threaded dispatch over the pre-decoded form.
 *
 * With GCC/Clang, each instruction carries the address of its handler
 * (computed goto, "direct threading"); elsewhere, or with
 * -DVG_NO_COMPUTED_GOTO, a switch does the same job. Both tiers run through
 * this one loop: tier 0 (assembled code, with profiling) and tier 1 (code
 * from the translation tier, with superinstructions and no profiling).
 *
 * Safepoints: every taken backward branch and every call decrements a budget
 * kept in a local; when it reaches zero the slow path (label `poll`) calls
 * the host's safepoint hook, feeds the hotness counter of the running
 * function, and switches a tier-0 frame to tier-1 code if its translation
 * has been published meanwhile (on-stack replacement at a branch target,
 * through the translation's index map).
 *
 * [VG-MOVE] R (the current frame's registers) points into the thread's
 * register stack, which is not moved by the collector (it only updates the
 * values in it); it moves only when the stack grows at a call, after which R
 * is recomputed. Object pointers are never kept across a host call that may
 * collect: they are re-read from R.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <vmrt/common.h>

#include "guest/engine.h"

#if defined(__GNUC__) && !defined(VG_NO_COMPUTED_GOTO)
#define VG_THREADED 1
#else
#define VG_THREADED 0
#endif

#define VG_STACK_MAX (1u << 24) /* registers per guest thread */

/* Mnemonic for messages, also for superinstructions. */
static const char *op_word(uint16_t op)
{
    switch (op) {
    case VG_OP_JLT:
    case VG_OP_JNLT:
        return "lt";
    case VG_OP_JLE:
    case VG_OP_JNLE:
        return "le";
    case VG_OP_JGT:
    case VG_OP_JNGT:
        return "gt";
    case VG_OP_JGE:
    case VG_OP_JNGE:
        return "ge";
    case VG_OP_JEQ:
    case VG_OP_JNEQ:
        return "eq";
    case VG_OP_JNE:
    case VG_OP_JNNE:
        return "ne";
    case VG_OP_JLTK:
    case VG_OP_JNLTK:
        return "lt";
    case VG_OP_JLEK:
    case VG_OP_JNLEK:
        return "le";
    case VG_OP_JGTK:
    case VG_OP_JNGTK:
        return "gt";
    case VG_OP_JGEK:
    case VG_OP_JNGEK:
        return "ge";
    case VG_OP_JEQK:
    case VG_OP_JNEQK:
        return "eq";
    case VG_OP_JNEK:
    case VG_OP_JNNEK:
        return "ne";
    case VG_OP_ADD_JMP:
        return "add";
    case VG_OP_SUB_JMP:
        return "sub";
    case VG_OP_SHR_JMP:
        return "shr";
    case VG_OP_ADDI_JMP:
        return "addi";
    case VG_OP_MOV_RET:
        return "ret";
    default:
        return op < VG_OP_COUNT && vg_opinfo_table[op].mnemonic ? vg_opinfo_table[op].mnemonic
                                                                : "?";
    }
}

static int grow_stack(vg_thread *t, uint32_t need)
{
    if (need > VG_STACK_MAX)
        return -1;
    uint32_t cap = t->stack_cap ? t->stack_cap : 64;
    while (cap < need)
        cap *= 2;
    vg_value *s = realloc(t->stack, (size_t)cap * sizeof(vg_value));
    if (!s)
        return -ENOMEM;
    memset(s + t->stack_cap, 0, (size_t)(cap - t->stack_cap) * sizeof(vg_value));
    t->stack = s;
    t->stack_cap = cap;
    return 0;
}

static int grow_frames(vg_thread *t)
{
    uint32_t cap = t->frames_cap ? t->frames_cap * 2 : 16;
    vg_frame *f = realloc(t->frames, (size_t)cap * sizeof(vg_frame));
    if (!f)
        return -ENOMEM;
    t->frames = f;
    t->frames_cap = cap;
    return 0;
}

/* A malloc'ed NUL-terminated copy of a bytes object, or NULL (embedded NUL / OOM). */
static char *bytes_cstr(vg_obj *o)
{
    if (memchr(vg_bytes(o), 0, o->len))
        return NULL;
    char *s = malloc((size_t)o->len + 1);
    if (s) {
        memcpy(s, vg_bytes(o), o->len);
        s[o->len] = '\0';
    }
    return s;
}

static bool is_kind(vg_value v, vg_kind k)
{
    return vg_is_obj(v) && vg_obj_of(v)->kind == (uint32_t)k;
}

static int64_t arg_int(const vg_engine *eng, int64_t idx, int64_t dflt)
{
    if (idx < 0 || idx >= eng->opts.argc || !eng->opts.argv || !eng->opts.argv[idx])
        return dflt;
    const char *s = eng->opts.argv[idx];
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || end == s || *end || v > ((INT64_C(1) << 62) - 1) || v < -(INT64_C(1) << 62))
        return dflt;
    return v;
}

static void do_io(vg_thread *t, vg_io_req *req)
{
    req->result = -ENOSYS;
    t->waiting = "I/O";
    t->eng->host->ops->io(t->eng->host, t, req);
    t->waiting = NULL;
}

/* Runs t; with t == NULL, returns the dispatch table instead. */
static const void *const *interp(vg_thread *t)
{
#if VG_THREADED
#define VG_LABEL(name, mn, ops, types, res) &&L_##name,
    static const void *const labels[VG_OP_COUNT] = {VG_OPCODES(VG_LABEL)};
#undef VG_LABEL
    if (!t)
        return labels;
#define CASE(name) L_##name:
#define DISPATCH() goto * ip->handler
#else
    if (!t)
        return NULL;
#define CASE(name) case VG_OP_##name:
#define DISPATCH() goto dispatch
#endif
#define NEXT()                                                                                     \
    do {                                                                                           \
        ip++;                                                                                      \
        DISPATCH();                                                                                \
    } while (0)
#define SAVE() (fr->pc = (uint32_t)(ip - code))
#define RELOAD()                                                                                   \
    do {                                                                                           \
        fr = &t->frames[t->nframes - 1];                                                           \
        code = fr->code->ins;                                                                      \
        ip = code + fr->pc;                                                                        \
        R = t->stack + fr->base;                                                                   \
    } while (0)
#define ERR(...)                                                                                   \
    do {                                                                                           \
        SAVE();                                                                                    \
        vg_engine_fail(eng, t, __VA_ARGS__);                                                       \
        goto out;                                                                                  \
    } while (0)
#define TYPE_ERR(v, want)                                                                          \
    ERR("wrong type: '%s' expects %s, got %s", op_word(ip->op), want, vg_type_name(v))
#define NEED_INT(v)                                                                                \
    do {                                                                                           \
        if (!vg_is_int(v))                                                                         \
            TYPE_ERR(v, "int");                                                                    \
    } while (0)
#define NEED_KIND(v, kind, word)                                                                   \
    do {                                                                                           \
        if (!is_kind(v, kind))                                                                     \
            TYPE_ERR(v, word);                                                                     \
    } while (0)
#define JUMP(target)                                                                               \
    do {                                                                                           \
        const vg_ins *to_ = code + (target);                                                       \
        if (to_ <= ip && --budget <= 0) {                                                          \
            ip = to_;                                                                              \
            goto poll;                                                                             \
        }                                                                                          \
        ip = to_;                                                                                  \
        DISPATCH();                                                                                \
    } while (0)
#define AFTER_BLOCK()                                                                              \
    do {                                                                                           \
        t->waiting = NULL;                                                                         \
        if (atomic_load_explicit(&eng->halt, memory_order_relaxed))                                \
            goto out;                                                                              \
    } while (0)
#define CMP_JUMP(cond, jump_if)                                                                    \
    do {                                                                                           \
        vg_value x_ = R[ip->b], y_ = R[ip->c];                                                     \
        bool r_ = (cond);                                                                          \
        R[ip->a] = r_ ? vg_from_int(1) : vg_from_int(0);                                           \
        if (r_ == (jump_if))                                                                       \
            JUMP(ip->k);                                                                           \
        NEXT();                                                                                    \
    } while (0)
#define INT_CMP(op_, jump_if)                                                                      \
    do {                                                                                           \
        if (!(R[ip->b] & R[ip->c] & 1u))                                                           \
            goto type_err_bc;                                                                      \
        CMP_JUMP((int64_t)x_ op_(int64_t) y_, jump_if);                                            \
    } while (0)

#define INT_CMP_K(op_, jump_if, check)                                                             \
    do {                                                                                           \
        vg_value y_ = vg_from_int(ip->k);                                                          \
        R[ip->c] = y_;                                                                             \
        vg_value x_ = R[ip->b];                                                                    \
        if ((check) && !(x_ & 1u))                                                                 \
            goto type_err_b;                                                                       \
        bool r_ = (int64_t)x_ op_(int64_t) y_;                                                     \
        R[ip->a] = r_ ? vg_from_int(1) : vg_from_int(0);                                           \
        if (r_ == (jump_if))                                                                       \
            JUMP(ip->k2);                                                                          \
        NEXT();                                                                                    \
    } while (0)

    vg_engine *eng = t->eng;
    vg_host *host = eng->host;
    const vg_program *prog = eng->prog;
    const uint32_t threshold = eng->opts.jit_threshold;
    const uint32_t max_frames = eng->opts.max_frames;
    int32_t budget = host->poll_interval;
    vg_frame *fr;
    const vg_ins *code, *ip;
    vg_value *R;
    vg_value v;
    const vg_func *callee;
    const vg_code *cc;
    RELOAD();
    DISPATCH();

#if !VG_THREADED
dispatch:
    switch ((vg_opcode)ip->op) {
#endif

        CASE(NOP) NEXT();
        CASE(CONST)
        {
            R[ip->a] = vg_from_int(ip->k);
            NEXT();
        }
        CASE(MOV)
        {
            R[ip->a] = R[ip->b];
            NEXT();
        }
        CASE(NIL)
        {
            R[ip->a] = VG_NIL;
            NEXT();
        }
        CASE(ADD)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = x + y - 1u;
            NEXT();
        }
        CASE(SUB)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = x - y + 1u;
            NEXT();
        }
        CASE(MUL)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            uint64_t p = (uint64_t)vg_int(x) * (uint64_t)vg_int(y);
            R[ip->a] = (p << 1) | 1u;
            NEXT();
        }
        CASE(DIV)
        CASE(MOD)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            int64_t a = vg_int(x), b = vg_int(y);
            if (b == 0)
                ERR("division by zero");
            R[ip->a] = vg_from_int(ip->op == VG_OP_DIV ? a / b : a % b);
            NEXT();
        }
        CASE(AND)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = x & y;
            NEXT();
        }
        CASE(OR)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = x | y;
            NEXT();
        }
        CASE(XOR)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = (x ^ y) | 1u;
            NEXT();
        }
        CASE(SHL)
        CASE(SHR)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            int64_t s = vg_int(y);
            if (s < 0 || s > 62)
                ERR("shift count %" PRId64 " out of range [0, 62]", s);
            R[ip->a] = ip->op == VG_OP_SHL ? (((uint64_t)vg_int(x) << s) << 1) | 1u
                                           : vg_from_int(vg_int(x) >> s);
            NEXT();
        }
        CASE(ADDI)
        {
            vg_value x = R[ip->b];
            NEED_INT(x);
            R[ip->a] = x + ((uint64_t)ip->k << 1);
            NEXT();
        }
        CASE(NEG)
        {
            vg_value x = R[ip->b];
            NEED_INT(x);
            R[ip->a] = ((0 - (uint64_t)vg_int(x)) << 1) | 1u;
            NEXT();
        }
        CASE(NOT)
        {
            vg_value x = R[ip->b];
            R[ip->a] = vg_from_int(x == VG_NIL || x == vg_from_int(0));
            NEXT();
        }
        CASE(EQ)
        {
            R[ip->a] = vg_from_int(R[ip->b] == R[ip->c]);
            NEXT();
        }
        CASE(NE)
        {
            R[ip->a] = vg_from_int(R[ip->b] != R[ip->c]);
            NEXT();
        }
        CASE(LT)
        CASE(LE)
        CASE(GT)
        CASE(GE)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            int64_t a = (int64_t)x, b = (int64_t)y;
            bool r = ip->op == VG_OP_LT   ? a < b
                     : ip->op == VG_OP_LE ? a <= b
                     : ip->op == VG_OP_GT ? a > b
                                          : a >= b;
            R[ip->a] = vg_from_int(r);
            NEXT();
        }
        CASE(JMP) JUMP(ip->k);
        CASE(JZ)
        {
            vg_value x = R[ip->a];
            if (x == VG_NIL || x == vg_from_int(0))
                JUMP(ip->k);
            NEXT();
        }
        CASE(JNZ)
        {
            vg_value x = R[ip->a];
            if (!(x == VG_NIL || x == vg_from_int(0)))
                JUMP(ip->k);
            NEXT();
        }
        CASE(CALL)
        {
            callee = &prog->funcs[ip->k];
            cc = atomic_load_explicit(&callee->code1, memory_order_acquire);
            if (!cc) {
                cc = &callee->code0;
                uint32_t h =
                    atomic_load_explicit(&((vg_func *)callee)->hot, memory_order_relaxed) + 1;
                atomic_store_explicit(&((vg_func *)callee)->hot, h, memory_order_relaxed);
                if (threshold && h == threshold) {
                    SAVE();
                    vg_jit_request(eng, (vg_func *)callee);
                    cc = atomic_load_explicit(&callee->code1, memory_order_acquire);
                    if (!cc)
                        cc = &callee->code0;
                }
            }
            goto do_call;
        }
        CASE(RET)
        {
            v = R[ip->a];
            goto do_ret;
        }
        CASE(RET0)
        {
            v = VG_NIL;
            goto do_ret;
        }
        CASE(MOV_RET)
        {
            v = R[ip->b];
            goto do_ret;
        }
        CASE(PRINT)
        CASE(PRINTLN)
        {
            vg_print_value(eng->out, R[ip->a], 0);
            if (ip->op == VG_OP_PRINTLN)
                fputc('\n', eng->out);
            NEXT();
        }
        CASE(PUTS)
        {
            const vg_string *s = &prog->strings[ip->k];
            fwrite(s->bytes, 1, s->len, eng->out);
            NEXT();
        }
        CASE(FAIL) ERR("%s", prog->strings[ip->k].bytes);
        CASE(TYPE)
        {
            vg_value x = R[ip->b];
            R[ip->a] = vg_from_int(x == VG_NIL    ? 0
                                   : vg_is_int(x) ? 1
                                                  : (int64_t)vg_obj_of(x)->kind + 1);
            NEXT();
        }
        CASE(REC)
        {
            SAVE();
            vg_obj *o = host->ops->alloc(host, t, VG_KIND_RECORD, (uint32_t)ip->k);
            if (!o)
                ERR("out of memory (record of %" PRId64 " fields)", ip->k);
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(GETF)
        {
            vg_value o = R[ip->b];
            NEED_KIND(o, VG_KIND_RECORD, "record");
            if ((uint64_t)ip->k >= vg_obj_of(o)->len)
                ERR("bad field index %" PRId64 ": record has %u fields", ip->k, vg_obj_of(o)->len);
            R[ip->a] = vg_slot_load(&vg_slots(vg_obj_of(o))[ip->k]);
            NEXT();
        }
        CASE(SETF)
        {
            vg_value o = R[ip->a];
            NEED_KIND(o, VG_KIND_RECORD, "record");
            if ((uint64_t)ip->k >= vg_obj_of(o)->len)
                ERR("bad field index %" PRId64 ": record has %u fields", ip->k, vg_obj_of(o)->len);
            vg_value *slot = &vg_slots(vg_obj_of(o))[ip->k];
            vg_host_barrier(host, vg_obj_of(o), slot, R[ip->b]);
            vg_slot_store(slot, R[ip->b]);
            NEXT();
        }
        CASE(ARR)
        CASE(BYTES)
        {
            vg_value n = R[ip->b];
            NEED_INT(n);
            if (vg_int(n) < 0 || vg_int(n) > (int64_t)VG_MAX_LEN)
                ERR("bad length %" PRId64 " for '%s' (0..%u)", vg_int(n), op_word(ip->op),
                    VG_MAX_LEN);
            SAVE();
            vg_obj *o = host->ops->alloc(
                host, t, ip->op == VG_OP_ARR ? VG_KIND_ARRAY : VG_KIND_BYTES, (uint32_t)vg_int(n));
            if (!o)
                ERR("out of memory (%s of %" PRId64 ")", op_word(ip->op), vg_int(n));
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(AGET)
        {
            vg_value o = R[ip->b], i = R[ip->c];
            NEED_KIND(o, VG_KIND_ARRAY, "array");
            NEED_INT(i);
            if ((uint64_t)vg_int(i) >= vg_obj_of(o)->len)
                ERR("bad index %" PRId64 ": array length is %u", vg_int(i), vg_obj_of(o)->len);
            R[ip->a] = vg_slot_load(&vg_slots(vg_obj_of(o))[vg_int(i)]);
            NEXT();
        }
        CASE(ASET)
        {
            vg_value o = R[ip->a], i = R[ip->b];
            NEED_KIND(o, VG_KIND_ARRAY, "array");
            NEED_INT(i);
            if ((uint64_t)vg_int(i) >= vg_obj_of(o)->len)
                ERR("bad index %" PRId64 ": array length is %u", vg_int(i), vg_obj_of(o)->len);
            vg_value *slot = &vg_slots(vg_obj_of(o))[vg_int(i)];
            vg_host_barrier(host, vg_obj_of(o), slot, R[ip->c]);
            vg_slot_store(slot, R[ip->c]);
            NEXT();
        }
        CASE(LEN)
        {
            vg_value o = R[ip->b];
            if (!is_kind(o, VG_KIND_ARRAY) && !is_kind(o, VG_KIND_BYTES))
                TYPE_ERR(o, "array or bytes");
            R[ip->a] = vg_from_int(vg_obj_of(o)->len);
            NEXT();
        }
        CASE(BGET)
        {
            vg_value o = R[ip->b], i = R[ip->c];
            NEED_KIND(o, VG_KIND_BYTES, "bytes");
            NEED_INT(i);
            if ((uint64_t)vg_int(i) >= vg_obj_of(o)->len)
                ERR("bad index %" PRId64 ": bytes length is %u", vg_int(i), vg_obj_of(o)->len);
            R[ip->a] =
                vg_from_int(__atomic_load_n(&vg_bytes(vg_obj_of(o))[vg_int(i)], __ATOMIC_RELAXED));
            NEXT();
        }
        CASE(BSET)
        {
            vg_value o = R[ip->a], i = R[ip->b], x = R[ip->c];
            NEED_KIND(o, VG_KIND_BYTES, "bytes");
            NEED_INT(i);
            NEED_INT(x);
            if ((uint64_t)vg_int(i) >= vg_obj_of(o)->len)
                ERR("bad index %" PRId64 ": bytes length is %u", vg_int(i), vg_obj_of(o)->len);
            if (vg_int(x) < 0 || vg_int(x) > 255)
                ERR("byte value %" PRId64 " out of range [0, 255]", vg_int(x));
            __atomic_store_n(&vg_bytes(vg_obj_of(o))[vg_int(i)], (uint8_t)vg_int(x),
                             __ATOMIC_RELAXED);
            NEXT();
        }
        CASE(STR)
        {
            const vg_string *s = &prog->strings[ip->k];
            SAVE();
            vg_obj *o = host->ops->alloc(host, t, VG_KIND_BYTES, s->len);
            if (!o)
                ERR("out of memory (string of %u bytes)", s->len);
            memcpy(vg_bytes(o), s->bytes, s->len);
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(CAT)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            NEED_KIND(x, VG_KIND_BYTES, "bytes");
            NEED_KIND(y, VG_KIND_BYTES, "bytes");
            uint64_t n = (uint64_t)vg_obj_of(x)->len + vg_obj_of(y)->len;
            if (n > VG_MAX_LEN)
                ERR("'cat' result too long (%" PRIu64 " bytes)", n);
            SAVE();
            vg_obj *o = host->ops->alloc(host, t, VG_KIND_BYTES, (uint32_t)n);
            if (!o)
                ERR("out of memory (string of %" PRIu64 " bytes)", n);
            vg_obj *xo = vg_obj_of(R[ip->b]), *yo = vg_obj_of(R[ip->c]); /* reloaded: [VG-MOVE] */
            memcpy(vg_bytes(o), vg_bytes(xo), xo->len);
            memcpy(vg_bytes(o) + xo->len, vg_bytes(yo), yo->len);
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(ITOS)
        {
            vg_value x = R[ip->b];
            NEED_INT(x);
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%" PRId64, vg_int(x));
            SAVE();
            vg_obj *o = host->ops->alloc(host, t, VG_KIND_BYTES, (uint32_t)n);
            if (!o)
                ERR("out of memory");
            memcpy(vg_bytes(o), buf, (size_t)n);
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(BEQ)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            NEED_KIND(x, VG_KIND_BYTES, "bytes");
            NEED_KIND(y, VG_KIND_BYTES, "bytes");
            vg_obj *xo = vg_obj_of(x), *yo = vg_obj_of(y);
            R[ip->a] =
                vg_from_int(xo->len == yo->len && !memcmp(vg_bytes(xo), vg_bytes(yo), xo->len));
            NEXT();
        }
        CASE(SLICE)
        {
            vg_value x = R[ip->b], n = R[ip->c];
            NEED_KIND(x, VG_KIND_BYTES, "bytes");
            NEED_INT(n);
            if (vg_int(n) < 0 || (uint64_t)vg_int(n) > vg_obj_of(x)->len)
                ERR("bad slice length %" PRId64 ": bytes length is %u", vg_int(n),
                    vg_obj_of(x)->len);
            SAVE();
            vg_obj *o = host->ops->alloc(host, t, VG_KIND_BYTES, (uint32_t)vg_int(n));
            if (!o)
                ERR("out of memory (string of %" PRId64 " bytes)", vg_int(n));
            memcpy(vg_bytes(o), vg_bytes(vg_obj_of(R[ip->b])), (size_t)vg_int(n)); /* [VG-MOVE] */
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(SPAWN)
        {
            vg_value args[VG_MAX_REGS];
            for (uint32_t i = 0; i < ip->nargs; i++)
                args[i] = R[ip->args[i]];
            SAVE();
            vg_thread *nt;
            int rc = vg_thread_new(eng, &prog->funcs[ip->k], args, ip->nargs, &nt);
            if (rc == 0) {
                rc = host->ops->thread_start(host, nt);
                if (rc)
                    vg_thread_release_stacks(nt);
            }
            if (rc)
                ERR("cannot spawn a guest thread: %s", vmrt_strerror(rc));
            R[ip->a] = vg_from_int((int64_t)nt->id);
            NEXT();
        }
        CASE(JOIN)
        {
            vg_value id = R[ip->b];
            NEED_INT(id);
            vg_thread *target = vg_engine_thread(eng, vg_int(id));
            if (!target)
                ERR("bad thread id %" PRId64, vg_int(id));
            if (target == t)
                ERR("thread %" PRIu64 " joins itself", t->id);
            SAVE();
            t->waiting = "join";
            host->ops->thread_join(host, t, target);
            AFTER_BLOCK();
            R[ip->a] = target->result;
            NEXT();
        }
        CASE(YIELD)
        {
            SAVE();
            host->ops->yield(host, t);
            AFTER_BLOCK();
            NEXT();
        }
        CASE(SLEEP)
        {
            vg_value ms = R[ip->a];
            NEED_INT(ms);
            if (vg_int(ms) < 0)
                ERR("negative sleep time %" PRId64, vg_int(ms));
            SAVE();
            t->waiting = "sleep";
            host->ops->sleep(host, t, (uint64_t)vg_int(ms) * 1000000u);
            AFTER_BLOCK();
            NEXT();
        }
        CASE(SELF)
        {
            R[ip->a] = vg_from_int((int64_t)t->id);
            NEXT();
        }
        CASE(PRIO)
        {
            vg_value p = R[ip->a];
            NEED_INT(p);
            if (vg_int(p) < VG_PRIO_HIGH || vg_int(p) > VG_PRIO_LOW)
                ERR("bad priority %" PRId64 " (0 high, 1 medium, 2 low)", vg_int(p));
            t->prio = (int)vg_int(p);
            host->ops->set_priority(host, t, t->prio);
            NEXT();
        }
        CASE(CHAN)
        {
            vg_value n = R[ip->b];
            NEED_INT(n);
            if (vg_int(n) < 0 || vg_int(n) > (1 << 20))
                ERR("bad channel capacity %" PRId64 " (0..%d)", vg_int(n), 1 << 20);
            SAVE();
            vg_obj *o = host->ops->alloc(host, t, VG_KIND_CHAN, 0);
            vg_chan *ch = NULL;
            if (!o || host->ops->chan_new(host, (uint32_t)vg_int(n), &ch))
                ERR("out of memory (channel)");
            memcpy(vg_slots(o), &ch, sizeof ch);
            R[ip->a] = vg_from_obj(o);
            NEXT();
        }
        CASE(SEND)
        {
            vg_value c = R[ip->a];
            NEED_KIND(c, VG_KIND_CHAN, "channel");
            vg_chan *ch;
            memcpy(&ch, vg_slots(vg_obj_of(c)), sizeof ch);
            SAVE();
            t->waiting = "send";
            int rc = host->ops->chan_send(host, t, ch, R[ip->b]);
            AFTER_BLOCK();
            if (rc == VMRT_ECLOSED)
                ERR("send on a closed channel");
            NEXT();
        }
        CASE(RECV)
        {
            vg_value c = R[ip->b];
            NEED_KIND(c, VG_KIND_CHAN, "channel");
            vg_chan *ch;
            memcpy(&ch, vg_slots(vg_obj_of(c)), sizeof ch);
            SAVE();
            t->waiting = "recv";
            int rc = host->ops->chan_recv(host, t, ch, &v);
            AFTER_BLOCK();
            R[ip->a] = rc == 0 ? v : VG_NIL;
            NEXT();
        }
        CASE(CLOSE)
        {
            vg_value c = R[ip->a];
            NEED_KIND(c, VG_KIND_CHAN, "channel");
            vg_chan *ch;
            memcpy(&ch, vg_slots(vg_obj_of(c)), sizeof ch);
            if (host->ops->chan_close(host, ch) == VMRT_ECLOSED)
                ERR("close of a closed channel");
            NEXT();
        }
        CASE(SELECT)
        {
            vg_value to = R[ip->c];
            NEED_INT(to);
            vg_chan *chans[VG_MAX_REGS];
            for (uint32_t i = 0; i < ip->nargs; i++) {
                vg_value c = R[ip->args[i]];
                NEED_KIND(c, VG_KIND_CHAN, "channel");
                memcpy(&chans[i], vg_slots(vg_obj_of(c)), sizeof chans[i]);
            }
            int64_t ms = vg_int(to);
            uint32_t idx = 0;
            SAVE();
            t->waiting = "select";
            int rc = host->ops->chan_select(host, t, chans, ip->nargs, ms < 0 ? -1 : ms * 1000000,
                                            &idx, &v);
            AFTER_BLOCK();
            R[ip->a] = vg_from_int(rc == VMRT_ETIMEOUT ? -1 : (int64_t)idx);
            R[ip->b] = rc == 0 ? v : VG_NIL;
            NEXT();
        }
        CASE(OPEN)
        {
            vg_value p = R[ip->b], m = R[ip->c];
            NEED_KIND(p, VG_KIND_BYTES, "bytes");
            NEED_INT(m);
            static const int modes[] = {O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC,
                                        O_WRONLY | O_CREAT | O_APPEND, O_RDWR | O_CREAT};
            if (vg_int(m) < 0 || vg_int(m) > 3)
                ERR("bad open mode %" PRId64 " (0 read, 1 write, 2 append, 3 read-write)",
                    vg_int(m));
            char *path = bytes_cstr(vg_obj_of(p));
            if (!path) {
                R[ip->a] = vg_from_int(-EINVAL);
                NEXT();
            }
            vg_io_req req = {.op = VG_IO_OPEN, .path = path, .flags = modes[vg_int(m)]};
            SAVE();
            do_io(t, &req);
            free(path);
            AFTER_BLOCK();
            R[ip->a] = vg_from_int(req.result);
            NEXT();
        }
        CASE(READ)
        CASE(WRITE)
        {
            vg_value fd = R[ip->b], b = R[ip->c];
            NEED_INT(fd);
            NEED_KIND(b, VG_KIND_BYTES, "bytes");
            uint32_t len = vg_obj_of(b)->len;
            void *buf = malloc(len ? len : 1);
            if (!buf)
                ERR("out of memory (I/O buffer)");
            bool rd = ip->op == VG_OP_READ;
            if (!rd)
                memcpy(buf, vg_bytes(vg_obj_of(b)), len);
            vg_io_req req = {
                .op = rd ? VG_IO_READ : VG_IO_WRITE, .fd = (int)vg_int(fd), .buf = buf, .len = len};
            SAVE();
            do_io(t, &req);
            if (rd && req.result > 0) /* reload the buffer object: [VG-MOVE] */
                memcpy(vg_bytes(vg_obj_of(R[ip->c])), buf, (size_t)req.result);
            free(buf);
            AFTER_BLOCK();
            R[ip->a] = vg_from_int(req.result);
            NEXT();
        }
        CASE(CLOSEFD)
        {
            vg_value fd = R[ip->a];
            NEED_INT(fd);
            vg_io_req req = {.op = VG_IO_CLOSE, .fd = (int)vg_int(fd)};
            SAVE();
            do_io(t, &req);
            AFTER_BLOCK();
            NEXT();
        }
        CASE(LISTEN)
        CASE(PORT)
        CASE(ACCEPT)
        CASE(CONNECT)
        {
            vg_value x = R[ip->b];
            NEED_INT(x);
            vg_io_req req = {0};
            switch (ip->op) {
            case VG_OP_LISTEN:
                req.op = VG_IO_LISTEN, req.port = (int)vg_int(x);
                break;
            case VG_OP_CONNECT:
                req.op = VG_IO_CONNECT, req.port = (int)vg_int(x);
                break;
            case VG_OP_PORT:
                req.op = VG_IO_PORT, req.fd = (int)vg_int(x);
                break;
            default:
                req.op = VG_IO_ACCEPT, req.fd = (int)vg_int(x);
                break;
            }
            if ((ip->op == VG_OP_LISTEN || ip->op == VG_OP_CONNECT) &&
                (vg_int(x) < 0 || vg_int(x) > 65535))
                ERR("bad port %" PRId64, vg_int(x));
            SAVE();
            do_io(t, &req);
            AFTER_BLOCK();
            R[ip->a] = vg_from_int(req.result);
            NEXT();
        }
        CASE(ARGC)
        {
            R[ip->a] = vg_from_int(eng->opts.argc);
            NEXT();
        }
        CASE(ARG)
        {
            vg_value i = R[ip->b], d = R[ip->c];
            NEED_INT(i);
            NEED_INT(d);
            R[ip->a] = vg_from_int(arg_int(eng, vg_int(i), vg_int(d)));
            NEXT();
        }
        CASE(TIME)
        {
            R[ip->a] = vg_from_int((int64_t)(vmrt_now_ns() / 1000000u));
            NEXT();
        }
        /* ---- superinstructions (translation tier) ---- */
        CASE(JLT) INT_CMP(<, true);
        CASE(JLE) INT_CMP(<=, true);
        CASE(JGT) INT_CMP(>, true);
        CASE(JGE) INT_CMP(>=, true);
        CASE(JNLT) INT_CMP(<, false);
        CASE(JNLE) INT_CMP(<=, false);
        CASE(JNGT) INT_CMP(>, false);
        CASE(JNGE) INT_CMP(>=, false);
        CASE(JEQ) CMP_JUMP(x_ == y_, true);
        CASE(JNE) CMP_JUMP(x_ != y_, true);
        CASE(JNEQ) CMP_JUMP(x_ == y_, false);
        CASE(JNNE) CMP_JUMP(x_ != y_, false);
        CASE(JLTK) INT_CMP_K(<, true, 1);
        CASE(JLEK) INT_CMP_K(<=, true, 1);
        CASE(JGTK) INT_CMP_K(>, true, 1);
        CASE(JGEK) INT_CMP_K(>=, true, 1);
        CASE(JEQK) INT_CMP_K(==, true, 0);
        CASE(JNEK) INT_CMP_K(!=, true, 0);
        CASE(JNLTK) INT_CMP_K(<, false, 1);
        CASE(JNLEK) INT_CMP_K(<=, false, 1);
        CASE(JNGTK) INT_CMP_K(>, false, 1);
        CASE(JNGEK) INT_CMP_K(>=, false, 1);
        CASE(JNEQK) INT_CMP_K(==, false, 0);
        CASE(JNNEK) INT_CMP_K(!=, false, 0);
        CASE(ADD_JMP)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = x + y - 1u;
            JUMP(ip->k);
        }
        CASE(SUB_JMP)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            R[ip->a] = x - y + 1u;
            JUMP(ip->k);
        }
        CASE(SHR_JMP)
        {
            vg_value x = R[ip->b], y = R[ip->c];
            if (!(x & y & 1u))
                goto type_err_bc;
            int64_t sh = vg_int(y);
            if (sh < 0 || sh > 62)
                ERR("shift count %" PRId64 " out of range [0, 62]", sh);
            R[ip->a] = vg_from_int(vg_int(x) >> sh);
            JUMP(ip->k);
        }
        CASE(ADDI_JMP)
        {
            vg_value x = R[ip->b];
            NEED_INT(x);
            R[ip->a] = x + ((uint64_t)ip->k << 1);
            JUMP(ip->c);
        }

#if !VG_THREADED
    case VG_OP_COUNT:
    default:
        goto out;
    }
#endif

do_call:
    if (t->nframes >= max_frames)
        ERR("stack overflow: guest call depth exceeds %u frames", max_frames);
    {
        uint32_t new_base = fr->base + fr->fn->nregs;
        uint32_t need = new_base + callee->nregs;
        SAVE();
        if (need > t->stack_cap) {
            int rc = grow_stack(t, need);
            if (rc == -ENOMEM)
                ERR("out of memory (guest stack)");
            if (rc)
                ERR("stack overflow: guest register stack exceeds %u values", VG_STACK_MAX);
            R = t->stack + fr->base;
        }
        if (t->nframes == t->frames_cap && grow_frames(t))
            ERR("out of memory (guest stack)");
        vg_value *nr = t->stack + new_base;
        for (uint32_t i = 0; i < ip->nargs; i++)
            nr[i] = R[ip->args[i]];
        for (uint32_t i = ip->nargs; i < callee->nregs; i++)
            nr[i] = VG_NIL;
        vg_frame *nf = &t->frames[t->nframes++];
        *nf = (vg_frame){.fn = callee, .code = cc, .pc = 0, .base = new_base, .ret_reg = ip->a};
        t->sp = need;
        RELOAD();
        if (--budget <= 0)
            goto poll;
        DISPATCH();
    }

do_ret : {
    int32_t rr = fr->ret_reg;
    t->nframes--;
    if (t->nframes == 0) {
        t->result = v;
        t->sp = 0;
        goto out;
    }
    RELOAD();
    t->sp = fr->base + fr->fn->nregs;
    R[rr] = v;
    NEXT();
}

poll:
    budget = host->poll_interval;
    SAVE();
    if (eng->opts.max_polls &&
        atomic_fetch_add_explicit(&eng->polls, 1, memory_order_relaxed) >= eng->opts.max_polls)
        ERR("execution limit exceeded (%" PRIu64 " safepoint polls of %d back-edges/calls)",
            eng->opts.max_polls, host->poll_interval);
    if (fr->code->tier == 0 && threshold) {
        vg_func *f = (vg_func *)fr->fn;
        uint32_t h = atomic_load_explicit(&f->hot, memory_order_relaxed);
        uint32_t nh = h + (uint32_t)host->poll_interval;
        atomic_store_explicit(&f->hot, nh < h ? UINT32_MAX : nh, memory_order_relaxed);
        if (nh >= threshold)
            vg_jit_request(eng, f);
    }
    host->ops->safepoint(host, t);
    if (atomic_load_explicit(&eng->halt, memory_order_relaxed))
        goto out;
    if (fr->code->tier == 0) {
        const vg_code *c1 = atomic_load_explicit(&fr->fn->code1, memory_order_acquire);
        if (c1) { /* on-stack replacement at a branch target or entry */
            fr->pc = c1->map[fr->pc];
            fr->code = c1;
        }
    }
    RELOAD();
    DISPATCH();

type_err_b:
    TYPE_ERR(R[ip->b], "int");

type_err_bc:
    if (!vg_is_int(R[ip->b]))
        TYPE_ERR(R[ip->b], "int");
    TYPE_ERR(R[ip->c], "int");

out:
    return NULL;
#undef CASE
#undef DISPATCH
#undef NEXT
#undef SAVE
#undef RELOAD
#undef ERR
#undef TYPE_ERR
#undef NEED_INT
#undef NEED_KIND
#undef JUMP
#undef AFTER_BLOCK
#undef CMP_JUMP
#undef INT_CMP
#undef INT_CMP_K
}

void vg_interp_run(vg_thread *t)
{
    (void)interp(t);
}

const void *const *vg_interp_labels(void)
{
    return interp(NULL);
}
