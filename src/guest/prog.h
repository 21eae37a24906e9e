/* A loaded guest program: functions in pre-decoded form, the string pool,
 * and the source positions needed by error messages and stack traces.
 *
 * Produced by the assembler (asm.c), checked by the verifier (verify.c),
 * executed by the interpreter (interp.c), and extended at run time by the
 * translation tier (jit.c), which publishes a second code form per hot
 * function. The tier-0 code and everything else here is immutable once the
 * program is verified; a function's tier-1 code is published once with a
 * release store and never changed or freed before the program is.
 */
#ifndef VMRT_GUEST_PROG_H
#define VMRT_GUEST_PROG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "guest/opcodes.h"

/* Limits checked by the assembler. */
#define VG_MAX_REGS   256u       /* registers per function */
#define VG_MAX_INS    (1u << 20) /* instructions per function */
#define VG_MAX_FUNCS  (1u << 16)
#define VG_MAX_STRING (1u << 20)

/* One pre-decoded instruction. Operand fields by operand letter (opcodes.h):
 * registers go to a, b, c in order; an integer, string index, label target
 * (instruction index) or function index goes to k; variadic registers are
 * args[0..nargs). */
typedef struct vg_ins {
    const void *handler; /* computed-goto target (filled when loaded/translated) */
    uint16_t op;         /* vg_opcode */
    uint16_t nargs;      /* variadic register count */
    int32_t a, b, c;     /* register operands */
    int64_t k;           /* immediate / string / target / function */
    union {
        const int32_t *args; /* variadic registers (owned by the code form) */
        int64_t k2;          /* tier-1 superinstructions: a second immediate (target) */
    };
} vg_ins;

/* A code form of one function: tier 0 (assembled) or tier 1 (translated). */
typedef struct vg_code {
    vg_ins *ins;
    uint32_t *line; /* source line of each instruction */
    uint32_t *col;  /* source column of each instruction */
    uint32_t n;
    int tier;         /* 0 or 1 */
    uint32_t *map;    /* tier 1 only: tier-0 index → tier-1 index (for OSR), n0 entries */
    int32_t *argpool; /* storage of the variadic registers */
} vg_code;

enum { VG_JIT_NONE = 0, VG_JIT_QUEUED, VG_JIT_DONE, VG_JIT_FAILED };

typedef struct vg_func {
    char *name;
    uint32_t index;
    uint32_t arity;           /* arguments arrive in r0..r(arity-1) */
    uint32_t nregs;           /* registers of a frame, ≥ arity */
    uint32_t line, col;       /* position of the .func directive */
    uint32_t end_line;        /* position of .end */
    vg_code code0;            /* tier 0 */
    _Atomic(vg_code *) code1; /* tier 1, NULL until published */
    _Atomic uint32_t hot;     /* calls + back-edges seen in tier 0 */
    _Atomic int jit_state;    /* VG_JIT_* */
} vg_func;

typedef struct vg_string {
    char *bytes; /* NUL-terminated copy; may contain NULs */
    uint32_t len;
} vg_string;

typedef struct vg_program {
    char *file; /* name used in messages */
    vg_func *funcs;
    uint32_t nfuncs;
    vg_string *strings;
    uint32_t nstrings;
    uint32_t main_index;
} vg_program;

/* Diagnostics: "file:line:col: message" lines, collected in memory. */
typedef struct vg_diag {
    char *text;
    size_t len, cap;
    unsigned count;
    unsigned max; /* stop collecting after this many (0 = 50) */
} vg_diag;

void vg_diag_add(vg_diag *d, const char *file, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void vg_diag_free(vg_diag *d);

/* Assembles src (len bytes, need not be NUL-terminated) into *out.
 * Returns 0, or -1 with messages in diag (then *out is NULL), or -ENOMEM. */
int vg_assemble(const char *file, const char *src, size_t len, vg_program **out, vg_diag *diag);

/* Checks the rules of docs/guest.md ("Verifier"). Returns 0 or -1 with
 * messages in diag. */
int vg_verify(const vg_program *prog, vg_diag *diag);

void vg_program_free(vg_program *prog);

/* Human-readable listing of a code form (for --dump and tests). */
void vg_code_dump(const vg_program *prog, const vg_func *fn, const vg_code *code, FILE *f);

#endif
