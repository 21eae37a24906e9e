/* The engine around the interpreter: guest threads, guest errors with stack
 * traces, value printing, and the public entry points of guest.h.
 *
 * The first guest error wins: it is formatted with the failing thread's
 * stack trace into eng->error under eng->lock, eng->failed is set, and the
 * host is asked to stop. Everything after that (other threads failing,
 * threads still blocked) is ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <vmrt/common.h>

#include "guest/engine.h"
#include "vmrt_config.h"

/* ---- values --------------------------------------------------------------------------------- */

const char *vg_type_name(vg_value v)
{
    if (v == VG_NIL)
        return "nil";
    if (vg_is_int(v))
        return "int";
    switch ((vg_kind)vg_obj_of(v)->kind) {
    case VG_KIND_RECORD:
        return "record";
    case VG_KIND_ARRAY:
        return "array";
    case VG_KIND_BYTES:
        return "bytes";
    case VG_KIND_CHAN:
        return "channel";
    default:
        return "object";
    }
}

void vg_print_value(FILE *f, vg_value v, int depth)
{
    if (v == VG_NIL) {
        fputs("nil", f);
        return;
    }
    if (vg_is_int(v)) {
        fprintf(f, "%" PRId64, vg_int(v));
        return;
    }
    vg_obj *o = vg_obj_of(v);
    switch ((vg_kind)o->kind) {
    case VG_KIND_BYTES:
        fwrite(vg_bytes(o), 1, o->len, f);
        return;
    case VG_KIND_CHAN:
        fputs("<channel>", f);
        return;
    case VG_KIND_RECORD:
    case VG_KIND_ARRAY: {
        bool rec = o->kind == VG_KIND_RECORD;
        if (depth >= 3) {
            fputs(rec ? "{...}" : "[...]", f);
            return;
        }
        fputc(rec ? '{' : '[', f);
        uint32_t n = o->len < 16 ? o->len : 16;
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                fputs(", ", f);
            vg_print_value(f, vg_slots(o)[i], depth + 1);
        }
        if (o->len > n)
            fputs(", ...", f);
        fputc(rec ? '}' : ']', f);
        return;
    }
    default:
        fputs("<object>", f);
        return;
    }
}

/* ---- threads -------------------------------------------------------------------------------- */

int vg_thread_new(vg_engine *eng, const vg_func *fn, const vg_value *args, uint32_t nargs,
                  vg_thread **out)
{
    vg_thread *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->eng = eng;
    t->prio = VG_PRIO_MEDIUM;
    t->stack_cap = fn->nregs > 16 ? fn->nregs : 16;
    t->stack = calloc(t->stack_cap, sizeof(vg_value));
    t->frames_cap = 8;
    t->frames = calloc(t->frames_cap, sizeof(vg_frame));
    if (!t->stack || !t->frames) {
        free(t->stack);
        free(t->frames);
        free(t);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < nargs; i++)
        t->stack[i] = args[i];
    t->sp = fn->nregs;
    if (eng->opts.jit_threshold) { /* a thread's entry counts as a call */
        vg_func *f = (vg_func *)fn;
        uint32_t h = atomic_fetch_add_explicit(&f->hot, 1, memory_order_relaxed) + 1;
        if (h >= eng->opts.jit_threshold)
            vg_jit_request(eng, f);
    }
    const vg_code *c = atomic_load_explicit(&fn->code1, memory_order_acquire);
    t->frames[0] = (vg_frame){.fn = fn, .code = c ? c : &fn->code0, .ret_reg = -1};
    t->nframes = 1;
    pthread_mutex_lock(&eng->lock);
    if (eng->nthreads == eng->threads_cap) {
        uint64_t cap = eng->threads_cap ? eng->threads_cap * 2 : 64;
        vg_thread **tt = realloc(eng->threads, cap * sizeof *tt);
        if (!tt) {
            pthread_mutex_unlock(&eng->lock);
            free(t->stack);
            free(t->frames);
            free(t);
            return -ENOMEM;
        }
        eng->threads = tt;
        eng->threads_cap = cap;
    }
    t->id = eng->nthreads;
    eng->threads[eng->nthreads++] = t;
    pthread_mutex_unlock(&eng->lock);
    *out = t;
    return 0;
}

void vg_thread_release_stacks(vg_thread *t)
{
    free(t->stack);
    free(t->frames);
    t->stack = NULL;
    t->frames = NULL;
    t->sp = t->stack_cap = t->nframes = t->frames_cap = 0;
}

vg_thread *vg_engine_thread(vg_engine *eng, int64_t id)
{
    vg_thread *t = NULL;
    pthread_mutex_lock(&eng->lock);
    if (id >= 0 && (uint64_t)id < eng->nthreads)
        t = eng->threads[id];
    pthread_mutex_unlock(&eng->lock);
    return t;
}

void vg_thread_body(vg_thread *t)
{
    atomic_store(&t->state, VG_T_RUNNING);
    if (!atomic_load(&t->eng->halt))
        vg_interp_run(t);
    if (!atomic_load(&t->eng->failed))
        vg_thread_release_stacks(t);
    atomic_store(&t->state, VG_T_DONE);
}

/* ---- errors --------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends "  at fn (file:line)" per frame, innermost first (at most 20 + the outermost 5). */
static void trace(sbuf *b, const vg_engine *eng, const vg_thread *t)
{
    uint32_t n = t->nframes;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = n - 1 - k;
        if (n > 25 && k == 20) {
            sb_printf(b, "  ... %u more frames ...\n", n - 25);
            k = n - 6;
            continue;
        }
        const vg_frame *f = &t->frames[i];
        uint32_t pc = f->pc < f->code->n ? f->pc : f->code->n - 1;
        sb_printf(b, "  at %s (%s:%u)\n", f->fn->name, eng->prog->file,
                  f->code->n ? f->code->line[pc] : f->fn->line);
    }
}

void vg_engine_fail(vg_engine *eng, vg_thread *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&eng->lock);
    if (atomic_load(&eng->failed)) {
        pthread_mutex_unlock(&eng->lock);
        return;
    }
    sbuf b = {0};
    sb_printf(&b, "guest error: %s\n", msg);
    if (t) {
        sb_printf(&b, "  in thread %" PRIu64 "\n", t->id);
        trace(&b, eng, t);
    }
    eng->error = b.p;
    atomic_store(&eng->failed, true);
    atomic_store(&eng->halt, true);
    pthread_mutex_unlock(&eng->lock);
    eng->host->ops->stop(eng->host);
}

void vg_engine_halt(vg_engine *eng)
{
    atomic_store(&eng->halt, true);
}

void vg_engine_deadlock(vg_engine *eng)
{
    pthread_mutex_lock(&eng->lock);
    if (atomic_load(&eng->failed)) {
        pthread_mutex_unlock(&eng->lock);
        return;
    }
    sbuf b = {0};
    uint64_t blocked = 0;
    for (uint64_t i = 0; i < eng->nthreads; i++)
        if (atomic_load(&eng->threads[i]->state) != VG_T_DONE)
            blocked++;
    sb_printf(&b, "guest error: deadlock: all %" PRIu64 " guest thread%s blocked\n", blocked,
              blocked == 1 ? " is" : "s are");
    uint64_t shown = 0;
    for (uint64_t i = 0; i < eng->nthreads && shown < 8; i++) {
        vg_thread *t = eng->threads[i];
        if (atomic_load(&t->state) == VG_T_DONE || !t->frames)
            continue;
        sb_printf(&b, "  in thread %" PRIu64 " (waiting in %s)\n", t->id,
                  t->waiting ? t->waiting : "?");
        trace(&b, eng, t);
        shown++;
    }
    if (blocked > shown)
        sb_printf(&b, "  ... and %" PRIu64 " more blocked threads\n", blocked - shown);
    eng->error = b.p;
    atomic_store(&eng->failed, true);
    atomic_store(&eng->halt, true);
    pthread_mutex_unlock(&eng->lock);
    eng->host->ops->stop(eng->host);
}

/* ---- public API ----------------------------------------------------------------------------- */

void vmrt_guest_options_init(vmrt_guest_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->jit_threshold = 1000;
    opts->poll_interval = VMRT_STRESS_PREEMPT ? 1 : 1000; /* -Dstress_preempt: at every poll */
    opts->max_frames = 10000;
}

static void prepare(vg_program *prog)
{
    const void *const *labels = vg_interp_labels();
    if (!labels)
        return;
    for (uint32_t f = 0; f < prog->nfuncs; f++)
        for (uint32_t i = 0; i < prog->funcs[f].code0.n; i++)
            prog->funcs[f].code0.ins[i].handler = labels[prog->funcs[f].code0.ins[i].op];
}

int vmrt_guest_load_string(const char *name, const char *src, size_t len, vmrt_guest_program **out,
                           FILE *diag)
{
    vg_diag d = {0};
    vg_program *prog = NULL;
    int rc = vg_assemble(name, src, len, &prog, &d);
    if (rc == 0 && vg_verify(prog, &d)) {
        vg_program_free(prog);
        prog = NULL;
        rc = -1;
    }
    if (rc == -1) {
        if (diag) {
            fputs(d.text ? d.text : "", diag);
            if (d.count > (d.max ? d.max : 50))
                fprintf(diag, "%s: too many errors (%u), stopping\n", name, d.count);
        }
        rc = VMRT_GUEST_EXIT_BAD_PROGRAM;
    }
    vg_diag_free(&d);
    if (rc)
        return rc;
    prepare(prog);
    *out = prog;
    return 0;
}

int vmrt_guest_load_file(const char *path, vmrt_guest_program **out, FILE *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (diag)
            fprintf(diag, "%s: cannot open: %s\n", path, strerror(errno));
        return VMRT_GUEST_EXIT_NO_INPUT;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        cap *= 2;
        char *nb = cap <= (64u << 20) ? realloc(buf, cap) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        if (diag)
            fprintf(diag, "%s: cannot read (too large or I/O error)\n", path);
        return VMRT_GUEST_EXIT_NO_INPUT;
    }
    int rc = vmrt_guest_load_string(path, buf, len, out, diag);
    free(buf);
    return rc;
}

void vmrt_guest_program_free(vmrt_guest_program *prog)
{
    vg_program_free(prog);
}

static void engine_free(vg_engine *eng)
{
    for (uint64_t i = 0; i < eng->nthreads; i++) {
        vg_thread_release_stacks(eng->threads[i]);
        free(eng->threads[i]);
    }
    free(eng->threads);
    free(eng->error);
    pthread_mutex_destroy(&eng->lock);
    free(eng);
}

static void first_line(char *dst, size_t cap, const char *src)
{
    size_t n = strcspn(src, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int vmrt_guest_run(const vmrt_guest_program *prog, const vmrt_guest_options *opts,
                   vmrt_guest_result *out)
{
    vmrt_guest_result res;
    memset(&res, 0, sizeof res);
    vg_engine *eng = calloc(1, sizeof *eng);
    if (!eng)
        return VMRT_GUEST_EXIT_HOST_ERROR;
    if (opts)
        eng->opts = *opts;
    else
        vmrt_guest_options_init(&eng->opts);
    if (eng->opts.poll_interval == 0)
        eng->opts.poll_interval = 1000;
    if (eng->opts.max_frames == 0)
        eng->opts.max_frames = 10000;
    eng->prog = prog;
    eng->out = eng->opts.out ? eng->opts.out : stdout;
    eng->err = eng->opts.err ? eng->opts.err : stderr;
    eng->labels = vg_interp_labels();
    pthread_mutex_init(&eng->lock, NULL);
    vg_host_new_fn host_new = eng->opts.host_new ? eng->opts.host_new : vg_host_local_new;
    int rc = host_new(&eng->host, eng);
    if (rc) {
        fprintf(eng->err, "guest: cannot create the host adapter: %s\n", vmrt_strerror(rc));
        engine_free(eng);
        return VMRT_GUEST_EXIT_HOST_ERROR;
    }
    if (eng->host->poll_interval < 1)
        eng->host->poll_interval = 1;
    vg_thread *main_t;
    uint64_t t0 = vmrt_now_ns();
    rc = vg_thread_new(eng, &prog->funcs[prog->main_index], NULL, 0, &main_t);
    if (rc == 0)
        rc = eng->host->ops->run(eng->host, main_t);
    res.wall_ns = vmrt_now_ns() - t0;
    fflush(eng->out);
    if (atomic_load(&eng->failed)) {
        fputs(eng->error ? eng->error : "guest error\n", eng->err);
        first_line(res.message, sizeof res.message, eng->error ? eng->error : "guest error");
        res.exit_code = VMRT_GUEST_EXIT_GUEST_ERROR;
    } else if (rc) {
        snprintf(res.message, sizeof res.message, "guest: host adapter '%s' failed: %s",
                 eng->host->ops->name, vmrt_strerror(rc));
        fprintf(eng->err, "%s\n", res.message);
        res.exit_code = VMRT_GUEST_EXIT_HOST_ERROR;
    } else {
        vg_value r = main_t->result;
        res.main_returned_int = vg_is_int(r);
        res.main_result = vg_is_int(r) ? vg_int(r) : 0;
        res.exit_code = vg_is_int(r) ? (int)(((vg_int(r) % 64) + 64) % 64) : 0;
    }
    eng->host->ops->stats(eng->host, &res.host);
    eng->host->ops->destroy(eng->host);
    res.threads = eng->nthreads;
    res.translations = atomic_load(&eng->translations);
    res.jit_ns = atomic_load(&eng->jit_ns);
    engine_free(eng);
    if (out)
        *out = res;
    return res.exit_code;
}

int vmrt_guest_run_file(const char *path, const vmrt_guest_options *opts, vmrt_guest_result *out)
{
    vmrt_guest_program *prog;
    FILE *err = opts && opts->err ? opts->err : stderr;
    int rc = vmrt_guest_load_file(path, &prog, err);
    if (rc) {
        if (out) {
            memset(out, 0, sizeof *out);
            out->exit_code = rc < 0 ? VMRT_GUEST_EXIT_HOST_ERROR : rc;
            snprintf(out->message, sizeof out->message, "%s: cannot load program", path);
        }
        return rc < 0 ? VMRT_GUEST_EXIT_HOST_ERROR : rc;
    }
    rc = vmrt_guest_run(prog, opts, out);
    vg_program_free(prog);
    return rc;
}

int vmrt_guest_run_string(const char *name, const char *src, const vmrt_guest_options *opts,
                          vmrt_guest_result *out)
{
    vmrt_guest_program *prog;
    FILE *err = opts && opts->err ? opts->err : stderr;
    int rc = vmrt_guest_load_string(name, src, strlen(src), &prog, err);
    if (rc) {
        if (out) {
            memset(out, 0, sizeof *out);
            out->exit_code = rc < 0 ? VMRT_GUEST_EXIT_HOST_ERROR : rc;
            snprintf(out->message, sizeof out->message, "%s: cannot load program", name);
        }
        return rc < 0 ? VMRT_GUEST_EXIT_HOST_ERROR : rc;
    }
    rc = vmrt_guest_run(prog, opts, out);
    vg_program_free(prog);
    return rc;
}
