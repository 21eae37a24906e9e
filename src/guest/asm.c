/* The .vasm assembler: text → vg_program (pre-decoded tier-0 code).
 *
 * One pass over the lines, function by function. Labels are resolved when a
 * function's .end is reached, function names when the file ends (calls may
 * go forward). Constants must be defined before use. Every malformed input
 * produces "file:line:col: message" in the diagnostics; after an error the
 * rest of the line is skipped and assembly continues, so one run reports many
 * errors. The syntax is described in docs/guest.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "guest/prog.h"

/* ---- diagnostics ---------------------------------------------------------------------------- */

void vg_diag_add(vg_diag *d, const char *file, uint32_t line, uint32_t col, const char *fmt, ...)
{
    unsigned max = d->max ? d->max : 50;
    d->count++;
    if (d->count > max)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s:%u:%u: %s\n", file, line, col, msg);
    if (n < 0)
        return;
    size_t need = d->len + (size_t)n + 1;
    if (need > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t)
            return;
        d->text = t;
        d->cap = cap;
    }
    memcpy(d->text + d->len, buf, (size_t)n + 1);
    d->len += (size_t)n;
}

void vg_diag_free(vg_diag *d)
{
    free(d->text);
    memset(d, 0, sizeof *d);
}

/* ---- growable arrays ------------------------------------------------------------------------ */

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *t = realloc(*p, (size_t)c * elem);
    if (!t)
        return -ENOMEM;
    *p = t;
    *cap = c;
    return 0;
}

/* ---- lexer ---------------------------------------------------------------------------------- */

typedef enum { T_END, T_IDENT, T_INT, T_STRING, T_COMMA, T_COLON, T_ERROR } tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *p; /* start in the source */
    uint32_t n;    /* length in the source */
    uint32_t col;
    int64_t ival; /* T_INT */
    char *sval;   /* T_STRING: decoded, malloc'ed */
    uint32_t slen;
} tok;

typedef struct lexer {
    const char *p, *end; /* rest of the current line */
    const char *line_start;
    uint32_t line;
} lexer;

#define VG_INT_MAX ((int64_t)((UINT64_C(1) << 62) - 1))
#define VG_INT_MIN (-VG_INT_MAX - 1)

typedef struct asm_state asm_state;
static void err(asm_state *st, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '$';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct asm_state {
    const char *file;
    vg_diag *diag;
    lexer lx;
    bool oom;
    /* constants */
    struct aconst {
        char *name;
        bool is_string;
        int64_t ival;
        uint32_t sidx;
    } * consts;
    uint32_t nconsts, consts_cap;
    /* program being built */
    vg_program *prog;
    uint32_t funcs_cap, strings_cap;
    /* current function */
    vg_func *fn;
    uint32_t ins_cap;
    int32_t *argpool;
    uint32_t nargpool, argpool_cap;
    struct alabel {
        char *name;
        uint32_t target, line, col;
    } * labels;
    uint32_t nlabels, labels_cap;
    struct afix {
        char *name;
        uint32_t func, ins, line, col;
    } * lfix, *ffix;
    uint32_t nlfix, lfix_cap, nffix, ffix_cap;
};

static void err(asm_state *st, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg_diag_add(st->diag, st->file, line, col, "%s", msg);
}

static uint32_t col_of(const asm_state *st, const char *p)
{
    return (uint32_t)(p - st->lx.line_start) + 1;
}

/* Decodes a string literal starting at the opening quote. */
static int lex_string(asm_state *st, tok *t)
{
    const char *p = st->lx.p + 1;
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    if (!out) {
        st->oom = true;
        return -1;
    }
    for (;;) {
        if (p >= st->lx.end) {
            err(st, st->lx.line, t->col, "unterminated string literal");
            free(out);
            return -1;
        }
        char c = *p++;
        if (c == '"')
            break;
        if (c == '\\') {
            if (p >= st->lx.end) {
                err(st, st->lx.line, col_of(st, p - 1), "unterminated string literal");
                free(out);
                return -1;
            }
            char e = *p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case '0':
                c = '\0';
                break;
            case '\\':
                c = '\\';
                break;
            case '"':
                c = '"';
                break;
            case 'x': {
                int h1 = p < st->lx.end ? hexval(p[0]) : -1;
                int h2 = p + 1 < st->lx.end ? hexval(p[1]) : -1;
                if (h1 < 0 || h2 < 0) {
                    err(st, st->lx.line, col_of(st, p - 2), "bad escape: \\x needs two hex digits");
                    free(out);
                    return -1;
                }
                c = (char)(h1 * 16 + h2);
                p += 2;
                break;
            }
            default:
                err(st, st->lx.line, col_of(st, p - 2), "bad escape '\\%c' in string literal",
                    e >= 32 && e < 127 ? e : '?');
                free(out);
                return -1;
            }
        }
        if (n + 2 > cap) {
            cap *= 2;
            char *tmp = realloc(out, cap);
            if (!tmp) {
                free(out);
                st->oom = true;
                return -1;
            }
            out = tmp;
        }
        if (n >= VG_MAX_STRING) {
            err(st, st->lx.line, t->col, "string literal longer than %u bytes", VG_MAX_STRING);
            free(out);
            return -1;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    t->kind = T_STRING;
    t->sval = out;
    t->slen = (uint32_t)n;
    t->n = (uint32_t)(p - st->lx.p);
    st->lx.p = p;
    return 0;
}

static int lex_number(asm_state *st, tok *t)
{
    const char *p = st->lx.p;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    int base = 10;
    if (p + 1 < st->lx.end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    const char *digits = p;
    uint64_t v = 0;
    bool overflow = false;
    while (p < st->lx.end && is_ident_char(*p)) {
        int d = hexval(*p);
        if (d < 0 || d >= base) {
            while (p < st->lx.end && is_ident_char(*p))
                p++;
            t->n = (uint32_t)(p - st->lx.p);
            err(st, st->lx.line, t->col, "bad integer literal '%.*s'", (int)t->n, st->lx.p);
            st->lx.p = p;
            return -1;
        }
        if (v > (UINT64_C(1) << 62) / (uint64_t)base)
            overflow = true;
        v = v * (uint64_t)base + (uint64_t)d;
        p++;
    }
    t->n = (uint32_t)(p - st->lx.p);
    if (p == digits) {
        err(st, st->lx.line, t->col, "bad integer literal '%.*s'", (int)t->n, st->lx.p);
        st->lx.p = p;
        return -1;
    }
    if (overflow || v > (uint64_t)VG_INT_MAX + (neg ? 1u : 0u)) {
        err(st, st->lx.line, t->col, "integer literal '%.*s' out of range (63-bit)", (int)t->n,
            st->lx.p);
        st->lx.p = p;
        return -1;
    }
    t->kind = T_INT;
    t->ival = neg ? (int64_t)(0 - v) : (int64_t)v;
    st->lx.p = p;
    return 0;
}

/* Reads the next token of the current line. Returns -1 after reporting a lexical error. */
static int lex(asm_state *st, tok *t)
{
    lexer *lx = &st->lx;
    memset(t, 0, sizeof *t);
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r'))
        lx->p++;
    t->p = lx->p;
    t->col = col_of(st, lx->p);
    if (lx->p >= lx->end || *lx->p == ';' || *lx->p == '#') {
        t->kind = T_END;
        return 0;
    }
    char c = *lx->p;
    if (c == ',' || c == ':') {
        t->kind = c == ',' ? T_COMMA : T_COLON;
        t->n = 1;
        lx->p++;
        return 0;
    }
    if (c == '"')
        return lex_string(st, t);
    if ((c >= '0' && c <= '9') || c == '-' || c == '+')
        return lex_number(st, t);
    if (is_ident_start(c)) {
        const char *p = lx->p;
        while (p < lx->end && is_ident_char(*p))
            p++;
        t->kind = T_IDENT;
        t->n = (uint32_t)(p - lx->p);
        lx->p = p;
        return 0;
    }
    if ((unsigned char)c >= 32 && (unsigned char)c < 127)
        err(st, lx->line, t->col, "unexpected character '%c'", c);
    else
        err(st, lx->line, t->col, "unexpected byte 0x%02x", (unsigned char)c);
    t->kind = T_ERROR;
    return -1;
}

static bool tok_is(const tok *t, const char *s)
{
    return t->kind == T_IDENT && strlen(s) == t->n && memcmp(t->p, s, t->n) == 0;
}

static char *tok_dup(asm_state *st, const tok *t)
{
    char *s = strndup(t->p, t->n);
    if (!s)
        st->oom = true;
    return s;
}

static const char *tok_desc(const tok *t)
{
    switch (t->kind) {
    case T_END:
        return "end of line";
    case T_IDENT:
        return "name";
    case T_INT:
        return "integer";
    case T_STRING:
        return "string";
    case T_COMMA:
        return "','";
    case T_COLON:
        return "':'";
    case T_ERROR:
        return "error";
    default:
        return "token";
    }
}

/* ---- program building ----------------------------------------------------------------------- */

static struct aconst *find_const(asm_state *st, const tok *t)
{
    for (uint32_t i = 0; i < st->nconsts; i++)
        if (strlen(st->consts[i].name) == t->n && !memcmp(st->consts[i].name, t->p, t->n))
            return &st->consts[i];
    return NULL;
}

static int add_string(asm_state *st, char *bytes, uint32_t len, uint32_t *idx)
{
    vg_program *pr = st->prog;
    for (uint32_t i = 0; i < pr->nstrings; i++) {
        if (pr->strings[i].len == len && !memcmp(pr->strings[i].bytes, bytes, len)) {
            free(bytes);
            *idx = i;
            return 0;
        }
    }
    if (grow((void **)&pr->strings, &st->strings_cap, pr->nstrings + 1, sizeof(vg_string))) {
        free(bytes);
        st->oom = true;
        return -ENOMEM;
    }
    pr->strings[pr->nstrings] = (vg_string){bytes, len};
    *idx = pr->nstrings++;
    return 0;
}

static vg_func *find_func(const vg_program *pr, const char *name, size_t n)
{
    for (uint32_t i = 0; i < pr->nfuncs; i++)
        if (strlen(pr->funcs[i].name) == n && !memcmp(pr->funcs[i].name, name, n))
            return &pr->funcs[i];
    return NULL;
}

/* Parses "rN"; returns -1 if t is not a register name. */
static int64_t parse_reg(const tok *t)
{
    if (t->kind != T_IDENT || t->n < 2 || t->p[0] != 'r')
        return -1;
    int64_t v = 0;
    for (uint32_t i = 1; i < t->n; i++) {
        if (t->p[i] < '0' || t->p[i] > '9')
            return -1;
        v = v * 10 + (t->p[i] - '0');
        if (v > 1000000)
            return 1000000;
    }
    return v;
}

static void directive_const(asm_state *st, const tok *dir)
{
    tok name, val;
    if (lex(st, &name))
        return;
    if (name.kind != T_IDENT || parse_reg(&name) >= 0) {
        err(st, st->lx.line, name.col, "expected a constant name after .const, got %s",
            tok_desc(&name));
        free(name.sval);
        return;
    }
    if (find_const(st, &name)) {
        err(st, st->lx.line, name.col, "duplicate constant '%.*s'", (int)name.n, name.p);
        return;
    }
    if (lex(st, &val))
        return;
    if (val.kind != T_INT && val.kind != T_STRING) {
        err(st, st->lx.line, val.col, "expected an integer or string value for .const, got %s",
            tok_desc(&val));
        return;
    }
    tok end;
    if (lex(st, &end)) {
        free(val.sval);
        return;
    }
    if (end.kind != T_END) {
        err(st, st->lx.line, end.col, "unexpected %s after .const value", tok_desc(&end));
        free(end.sval);
        free(val.sval);
        return;
    }
    if (grow((void **)&st->consts, &st->consts_cap, st->nconsts + 1, sizeof *st->consts)) {
        st->oom = true;
        free(val.sval);
        return;
    }
    struct aconst *c = &st->consts[st->nconsts];
    memset(c, 0, sizeof *c);
    c->name = tok_dup(st, &name);
    if (!c->name) {
        free(val.sval);
        return;
    }
    c->is_string = val.kind == T_STRING;
    c->ival = val.ival;
    if (c->is_string && add_string(st, val.sval, val.slen, &c->sidx)) {
        free(c->name);
        return;
    }
    st->nconsts++;
    (void)dir;
}

static bool expect_uint(asm_state *st, const char *what, uint32_t max, uint32_t *out)
{
    tok t;
    if (lex(st, &t))
        return false;
    if (t.kind != T_INT) {
        err(st, st->lx.line, t.col, "expected %s (an integer), got %s", what, tok_desc(&t));
        free(t.sval);
        return false;
    }
    if (t.ival < 0 || t.ival > (int64_t)max) {
        err(st, st->lx.line, t.col, "%s %lld out of range [0, %u]", what, (long long)t.ival, max);
        return false;
    }
    *out = (uint32_t)t.ival;
    return true;
}

static void directive_func(asm_state *st, const tok *dir)
{
    if (st->fn) {
        err(st, st->lx.line, dir->col, "nested .func (missing .end for '%s')", st->fn->name);
        return;
    }
    tok name;
    if (lex(st, &name))
        return;
    if (name.kind != T_IDENT || parse_reg(&name) >= 0) {
        err(st, st->lx.line, name.col, "expected a function name after .func, got %s",
            tok_desc(&name));
        free(name.sval);
        return;
    }
    if (find_func(st->prog, name.p, name.n)) {
        err(st, st->lx.line, name.col, "duplicate function '%.*s'", (int)name.n, name.p);
        return;
    }
    uint32_t arity, nregs;
    if (!expect_uint(st, "arity", VG_MAX_REGS, &arity) ||
        !expect_uint(st, "register count", VG_MAX_REGS, &nregs))
        return;
    if (nregs < arity) {
        err(st, st->lx.line, dir->col,
            "function '%.*s' takes %u arguments but declares only %u "
            "registers",
            (int)name.n, name.p, arity, nregs);
        return;
    }
    tok end;
    if (lex(st, &end))
        return;
    if (end.kind != T_END) {
        err(st, st->lx.line, end.col, "unexpected %s after .func", tok_desc(&end));
        free(end.sval);
        return;
    }
    vg_program *pr = st->prog;
    if (pr->nfuncs >= VG_MAX_FUNCS) {
        err(st, st->lx.line, dir->col, "too many functions (max %u)", VG_MAX_FUNCS);
        return;
    }
    if (grow((void **)&pr->funcs, &st->funcs_cap, pr->nfuncs + 1, sizeof(vg_func))) {
        st->oom = true;
        return;
    }
    vg_func *fn = &pr->funcs[pr->nfuncs];
    memset(fn, 0, sizeof *fn);
    fn->name = tok_dup(st, &name);
    if (!fn->name)
        return;
    fn->index = pr->nfuncs++;
    fn->arity = arity;
    fn->nregs = nregs;
    fn->line = st->lx.line;
    fn->col = dir->col;
    st->fn = fn;
    st->ins_cap = 0;
    st->nargpool = 0;
    st->nlabels = 0;
}

static vg_ins *new_ins(asm_state *st, uint32_t col)
{
    vg_func *fn = st->fn;
    vg_code *c = &fn->code0;
    if (c->n >= VG_MAX_INS) {
        err(st, st->lx.line, col, "function '%s' has too many instructions", fn->name);
        return NULL;
    }
    uint32_t cap = st->ins_cap;
    if (grow((void **)&c->ins, &cap, c->n + 1, sizeof(vg_ins))) {
        st->oom = true;
        return NULL;
    }
    uint32_t cap2 = st->ins_cap;
    if (grow((void **)&c->line, &cap2, c->n + 1, sizeof(uint32_t))) {
        st->oom = true;
        return NULL;
    }
    uint32_t cap3 = st->ins_cap;
    if (grow((void **)&c->col, &cap3, c->n + 1, sizeof(uint32_t))) {
        st->oom = true;
        return NULL;
    }
    st->ins_cap = cap;
    vg_ins *in = &c->ins[c->n];
    memset(in, 0, sizeof *in);
    c->line[c->n] = st->lx.line;
    c->col[c->n] = col;
    return in;
}

static void add_fix(asm_state *st, struct afix **arr, uint32_t *n, uint32_t *cap, const tok *t)
{
    if (grow((void **)arr, cap, *n + 1, sizeof **arr)) {
        st->oom = true;
        return;
    }
    struct afix *f = &(*arr)[*n];
    f->name = tok_dup(st, t);
    if (!f->name)
        return;
    f->func = st->fn->index;
    f->ins = st->fn->code0.n;
    f->line = st->lx.line;
    f->col = t->col;
    (*n)++;
}

static const char *operand_word(char c)
{
    switch (c) {
    case 'd':
        return "a destination register";
    case 'r':
        return "a register";
    case 'i':
        return "an integer";
    case 's':
        return "a string";
    case 'l':
        return "a label";
    case 'f':
        return "a function name";
    default:
        return "an operand";
    }
}

/* Parses one operand of kind c into in; regi counts register operands so far. */
static bool parse_operand(asm_state *st, char c, const tok *t, vg_ins *in, int *regi)
{
    uint32_t line = st->lx.line;
    switch (c) {
    case 'd':
    case 'r': {
        int64_t r = parse_reg(t);
        if (r < 0) {
            err(st, line, t->col, "expected %s, got %s%s%.*s%s", operand_word(c), tok_desc(t),
                t->kind == T_END ? "" : " '", t->kind == T_END ? 0 : (int)t->n, t->p,
                t->kind == T_END ? "" : "'");
            return false;
        }
        if (r >= (int64_t)VG_MAX_REGS) {
            err(st, line, t->col, "register '%.*s' out of range (at most %u registers)", (int)t->n,
                t->p, VG_MAX_REGS);
            return false;
        }
        int32_t *slot = *regi == 0 ? &in->a : *regi == 1 ? &in->b : &in->c;
        *slot = (int32_t)r;
        (*regi)++;
        return true;
    }
    case 'i':
        if (t->kind == T_INT) {
            in->k = t->ival;
            return true;
        }
        if (t->kind == T_IDENT && parse_reg(t) < 0) {
            struct aconst *k = find_const(st, t);
            if (!k) {
                err(st, line, t->col, "undefined constant '%.*s'", (int)t->n, t->p);
                return false;
            }
            if (k->is_string) {
                err(st, line, t->col, "constant '%s' is a string, expected an integer", k->name);
                return false;
            }
            in->k = k->ival;
            return true;
        }
        break;
    case 's':
        if (t->kind == T_STRING) {
            uint32_t idx;
            char *copy = t->sval;
            if (add_string(st, copy, t->slen, &idx))
                return false;
            ((tok *)t)->sval = NULL; /* owned by the pool now */
            in->k = idx;
            return true;
        }
        if (t->kind == T_IDENT && parse_reg(t) < 0) {
            struct aconst *k = find_const(st, t);
            if (!k) {
                err(st, line, t->col, "undefined constant '%.*s'", (int)t->n, t->p);
                return false;
            }
            if (!k->is_string) {
                err(st, line, t->col, "constant '%s' is an integer, expected a string", k->name);
                return false;
            }
            in->k = k->sidx;
            return true;
        }
        break;
    case 'l':
        if (t->kind == T_IDENT && parse_reg(t) < 0) {
            add_fix(st, &st->lfix, &st->nlfix, &st->lfix_cap, t);
            return true;
        }
        break;
    case 'f':
        if (t->kind == T_IDENT && parse_reg(t) < 0) {
            add_fix(st, &st->ffix, &st->nffix, &st->ffix_cap, t);
            return true;
        }
        break;
    default:
        break;
    }
    err(st, line, t->col, "expected %s, got %s%s%.*s%s", operand_word(c), tok_desc(t),
        t->kind == T_END ? "" : " '", t->kind == T_END ? 0 : (int)t->n, t->p,
        t->kind == T_END ? "" : "'");
    return false;
}

/* Collects the operand tokens of an instruction line (up to 64). */
static int lex_operands(asm_state *st, tok *ops, int max, int *n)
{
    *n = 0;
    tok t;
    if (lex(st, &t))
        return -1;
    if (t.kind == T_END)
        return 0;
    for (;;) {
        if (t.kind == T_COMMA || t.kind == T_COLON) {
            err(st, st->lx.line, t.col, "expected an operand, got %s", tok_desc(&t));
            return -1;
        }
        if (*n >= max) {
            err(st, st->lx.line, t.col, "too many operands (max %d)", max);
            free(t.sval);
            return -1;
        }
        ops[(*n)++] = t;
        tok sep;
        if (lex(st, &sep))
            return -1;
        if (sep.kind == T_END)
            return 0;
        if (sep.kind != T_COMMA) {
            err(st, st->lx.line, sep.col, "expected ',' between operands, got %s", tok_desc(&sep));
            free(sep.sval);
            return -1;
        }
        if (lex(st, &t))
            return -1;
        if (t.kind == T_END) {
            err(st, st->lx.line, t.col, "expected an operand after ','");
            return -1;
        }
    }
}

static void instruction(asm_state *st, const tok *mn)
{
    if (!st->fn) {
        err(st, st->lx.line, mn->col, "instruction '%.*s' outside of a function", (int)mn->n,
            mn->p);
        return;
    }
    int first = -1, chosen = -1;
    tok ops[64];
    int nops = 0;
    for (int i = 0; i < VG_OP_COUNT; i++) {
        const char *m = vg_opinfo_table[i].mnemonic;
        if (m && strlen(m) == mn->n && !memcmp(m, mn->p, mn->n)) {
            first = i;
            break;
        }
    }
    if (first < 0) {
        err(st, st->lx.line, mn->col, "unknown instruction '%.*s'", (int)mn->n, mn->p);
        return;
    }
    if (lex_operands(st, ops, 64, &nops)) {
        for (int i = 0; i < nops; i++)
            free(ops[i].sval);
        return;
    }
    for (int i = first; i < VG_OP_COUNT; i++) {
        const vg_opinfo *oi = &vg_opinfo_table[i];
        if (!oi->mnemonic || strcmp(oi->mnemonic, vg_opinfo_table[first].mnemonic))
            continue;
        size_t fixed = strlen(oi->operands);
        bool var = fixed && oi->operands[fixed - 1] == '*';
        if (var)
            fixed--;
        if ((size_t)nops == fixed || (var && (size_t)nops >= fixed)) {
            chosen = i;
            break;
        }
    }
    if (chosen < 0) {
        const vg_opinfo *oi = &vg_opinfo_table[first];
        size_t fixed = strlen(oi->operands);
        bool var = fixed && oi->operands[fixed - 1] == '*';
        err(st, st->lx.line, mn->col, "'%s' expects %s%zu operand%s, got %d", oi->mnemonic,
            var ? "at least " : "", var ? fixed - 1 : fixed,
            (var ? fixed - 1 : fixed) == 1 ? "" : "s", nops);
        for (int i = 0; i < nops; i++)
            free(ops[i].sval);
        return;
    }
    vg_ins *in = new_ins(st, mn->col);
    if (!in) {
        for (int i = 0; i < nops; i++)
            free(ops[i].sval);
        return;
    }
    in->op = (uint16_t)chosen;
    const char *sig = vg_opinfo_table[chosen].operands;
    int regi = 0;
    bool ok = true;
    int oi = 0;
    for (const char *s = sig; *s && ok; s++) {
        if (*s == '*') {
            uint32_t start = st->nargpool;
            for (; oi < nops && ok; oi++) {
                int64_t r = parse_reg(&ops[oi]);
                if (r < 0 || r >= (int64_t)VG_MAX_REGS) {
                    ok = parse_operand(st, 'r', &ops[oi], in, &(int){3});
                    break;
                }
                if (grow((void **)&st->argpool, &st->argpool_cap, st->nargpool + 1,
                         sizeof(int32_t))) {
                    st->oom = true;
                    ok = false;
                    break;
                }
                st->argpool[st->nargpool++] = (int32_t)r;
            }
            in->nargs = (uint16_t)(st->nargpool - start);
            in->args = (const int32_t *)(uintptr_t)start; /* offset until the function ends */
            break;
        }
        ok = parse_operand(st, *s, &ops[oi], in, &regi);
        oi++;
    }
    for (int i = 0; i < nops; i++)
        free(ops[i].sval);
    if (ok)
        st->fn->code0.n++;
}

static void label_def(asm_state *st, const tok *name)
{
    if (!st->fn) {
        err(st, st->lx.line, name->col, "label '%.*s' outside of a function", (int)name->n,
            name->p);
        return;
    }
    if (parse_reg(name) >= 0) {
        err(st, st->lx.line, name->col, "register name '%.*s' cannot be a label", (int)name->n,
            name->p);
        return;
    }
    for (uint32_t i = 0; i < st->nlabels; i++) {
        if (strlen(st->labels[i].name) == name->n &&
            !memcmp(st->labels[i].name, name->p, name->n)) {
            err(st, st->lx.line, name->col, "duplicate label '%.*s' (first defined at line %u)",
                (int)name->n, name->p, st->labels[i].line);
            return;
        }
    }
    if (grow((void **)&st->labels, &st->labels_cap, st->nlabels + 1, sizeof *st->labels)) {
        st->oom = true;
        return;
    }
    struct alabel *l = &st->labels[st->nlabels];
    l->name = tok_dup(st, name);
    if (!l->name)
        return;
    l->target = st->fn->code0.n;
    l->line = st->lx.line;
    l->col = name->col;
    st->nlabels++;
}

/* Resolves the labels of the current function and fixes the variadic pointers. */
static void end_function(asm_state *st, uint32_t line)
{
    vg_func *fn = st->fn;
    vg_code *c = &fn->code0;
    fn->end_line = line;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < st->nlfix; i++) {
        struct afix *f = &st->lfix[i];
        if (f->func != fn->index) {
            st->lfix[keep++] = *f;
            continue;
        }
        bool found = false;
        for (uint32_t j = 0; j < st->nlabels; j++) {
            if (!strcmp(st->labels[j].name, f->name)) {
                c->ins[f->ins].k = st->labels[j].target;
                found = true;
                break;
            }
        }
        if (!found)
            err(st, f->line, f->col, "undefined label '%s' in function '%s'", f->name, fn->name);
        free(f->name);
    }
    st->nlfix = keep;
    for (uint32_t j = 0; j < st->nlabels; j++)
        free(st->labels[j].name);
    st->nlabels = 0;
    c->tier = 0;
    if (st->nargpool) {
        c->argpool = malloc(st->nargpool * sizeof(int32_t));
        if (!c->argpool) {
            st->oom = true;
        } else {
            memcpy(c->argpool, st->argpool, st->nargpool * sizeof(int32_t));
        }
    }
    for (uint32_t i = 0; i < c->n; i++) {
        size_t sl = strlen(vg_opinfo_table[c->ins[i].op].operands);
        if (sl && vg_opinfo_table[c->ins[i].op].operands[sl - 1] == '*')
            c->ins[i].args = c->argpool ? c->argpool + (uintptr_t)c->ins[i].args : NULL;
    }
    st->fn = NULL;
}

static void line_stmt(asm_state *st)
{
    tok t;
    if (lex(st, &t) || t.kind == T_END)
        return;
    if (t.kind != T_IDENT) {
        err(st, st->lx.line, t.col, "expected an instruction, directive or label, got %s",
            tok_desc(&t));
        free(t.sval);
        return;
    }
    const char *save = st->lx.p;
    tok next;
    if (lex(st, &next))
        return;
    if (next.kind == T_COLON) {
        label_def(st, &t);
        tok rest;
        if (lex(st, &rest))
            return;
        if (rest.kind == T_END)
            return;
        if (rest.kind != T_IDENT) {
            err(st, st->lx.line, rest.col, "expected an instruction after label, got %s",
                tok_desc(&rest));
            free(rest.sval);
            return;
        }
        t = rest;
        save = st->lx.p;
    } else {
        free(next.sval);
    }
    st->lx.p = save;
    if (t.p[0] == '.') {
        if (tok_is(&t, ".const")) {
            if (st->fn)
                err(st, st->lx.line, t.col, ".const inside function '%s'", st->fn->name);
            else
                directive_const(st, &t);
        } else if (tok_is(&t, ".func")) {
            directive_func(st, &t);
        } else if (tok_is(&t, ".end")) {
            tok e;
            if (lex(st, &e))
                return;
            if (e.kind != T_END) {
                err(st, st->lx.line, e.col, "unexpected %s after .end", tok_desc(&e));
                free(e.sval);
            }
            if (!st->fn)
                err(st, st->lx.line, t.col, ".end without .func");
            else
                end_function(st, st->lx.line);
        } else {
            err(st, st->lx.line, t.col, "unknown directive '%.*s'", (int)t.n, t.p);
        }
        return;
    }
    instruction(st, &t);
}

static void resolve_calls(asm_state *st)
{
    vg_program *pr = st->prog;
    for (uint32_t i = 0; i < st->nffix; i++) {
        struct afix *f = &st->ffix[i];
        vg_func *callee = find_func(pr, f->name, strlen(f->name));
        if (!callee)
            err(st, f->line, f->col, "undefined function '%s'", f->name);
        else if (f->func < pr->nfuncs && f->ins < pr->funcs[f->func].code0.n)
            pr->funcs[f->func].code0.ins[f->ins].k = callee->index;
        free(f->name);
    }
    st->nffix = 0;
}

static void free_state(asm_state *st)
{
    for (uint32_t i = 0; i < st->nconsts; i++)
        free(st->consts[i].name);
    free(st->consts);
    for (uint32_t i = 0; i < st->nlabels; i++)
        free(st->labels[i].name);
    free(st->labels);
    for (uint32_t i = 0; i < st->nlfix; i++)
        free(st->lfix[i].name);
    free(st->lfix);
    for (uint32_t i = 0; i < st->nffix; i++)
        free(st->ffix[i].name);
    free(st->ffix);
    free(st->argpool);
}

int vg_assemble(const char *file, const char *src, size_t len, vg_program **out, vg_diag *diag)
{
    *out = NULL;
    asm_state st = {.file = file, .diag = diag};
    unsigned errors_before = diag->count;
    st.prog = calloc(1, sizeof(vg_program));
    if (!st.prog)
        return -ENOMEM;
    st.prog->file = strdup(file);
    if (!st.prog->file) {
        free(st.prog);
        return -ENOMEM;
    }
    const char *p = src, *end = src + len;
    uint32_t line = 0;
    while (p < end && !st.oom) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        line++;
        st.lx = (lexer){.p = p, .end = eol, .line_start = p, .line = line};
        line_stmt(&st);
        p = eol + 1;
    }
    if (st.fn) {
        err(&st, st.fn->line, st.fn->col, "function '%s' has no .end", st.fn->name);
        end_function(&st, line);
    }
    resolve_calls(&st);
    vg_func *main_fn = find_func(st.prog, "main", 4);
    if (!main_fn && diag->count == errors_before)
        err(&st, 1, 1, "no function 'main'");
    else if (main_fn && main_fn->arity != 0)
        err(&st, main_fn->line, main_fn->col, "function 'main' must take 0 arguments, not %u",
            main_fn->arity);
    if (main_fn)
        st.prog->main_index = main_fn->index;
    free_state(&st);
    if (st.oom) {
        vg_program_free(st.prog);
        return -ENOMEM;
    }
    if (diag->count != errors_before) {
        vg_program_free(st.prog);
        return -1;
    }
    *out = st.prog;
    return 0;
}

void vg_program_free(vg_program *prog)
{
    if (!prog)
        return;
    for (uint32_t i = 0; i < prog->nfuncs; i++) {
        vg_func *fn = &prog->funcs[i];
        free(fn->name);
        free(fn->code0.ins);
        free(fn->code0.line);
        free(fn->code0.col);
        free(fn->code0.argpool);
        vg_code *c1 = atomic_load(&fn->code1);
        if (c1) {
            free(c1->ins);
            free(c1->line);
            free(c1->col);
            free(c1->map);
            free(c1->argpool);
            free(c1);
        }
    }
    free(prog->funcs);
    for (uint32_t i = 0; i < prog->nstrings; i++)
        free(prog->strings[i].bytes);
    free(prog->strings);
    free(prog->file);
    free(prog);
}
