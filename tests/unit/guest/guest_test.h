/* Helpers shared by the guest engine tests: run a program from a string and
 * capture its output, diagnostics and result. */
#ifndef VMRT_GUEST_TEST_H
#define VMRT_GUEST_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"

typedef struct run_out {
    int rc;
    char *out;
    char *err;
    vmrt_guest_result res;
} run_out;

/* Runs src (named "t.vasm") with opts (NULL: defaults). */
static inline run_out run_src_opts(const char *src, const vmrt_guest_options *opts)
{
    run_out r;
    memset(&r, 0, sizeof r);
    size_t no = 0, ne = 0;
    FILE *fo = open_memstream(&r.out, &no);
    FILE *fe = open_memstream(&r.err, &ne);
    vmrt_guest_options o;
    if (opts)
        o = *opts;
    else
        vmrt_guest_options_init(&o);
    o.out = fo;
    o.err = fe;
    r.rc = vmrt_guest_run_string("t.vasm", src, &o, &r.res);
    fclose(fo);
    fclose(fe);
    return r;
}

static inline run_out run_src(const char *src)
{
    return run_src_opts(src, NULL);
}

static inline void run_free(run_out *r)
{
    free(r->out);
    free(r->err);
}

/* Assembles + verifies src; returns the diagnostics (malloc'ed) and the code in *rc. */
static inline char *load_diag(const char *src, int *rc)
{
    char *d = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&d, &n);
    vmrt_guest_program *p = NULL;
    *rc = vmrt_guest_load_string("t.vasm", src, strlen(src), &p, f);
    fclose(f);
    vmrt_guest_program_free(p);
    return d;
}

#endif
