/* The reference guest engine — entry points for the CLI and embedders.
 *
 * A small bytecode VM (docs/guest.md): .vasm text is assembled into a
 * pre-decoded form, verified, then run by a threaded interpreter whose guest
 * threads, heap, channels and I/O all go through a host adapter (host.h).
 * Hot functions are translated into a superinstruction form by a separate
 * translation task.
 *
 * Exit codes (vmrt_guest_run_* return value and vmrt_guest_result.exit_code),
 * chosen from sysexits.h so that a shell can tell them apart:
 *   0..63  the guest's own status: main's return value if it is an int in
 *          [0, 63] (other ints are reduced modulo 64; nil or an object → 0)
 *   65     VMRT_GUEST_EXIT_BAD_PROGRAM: assembly or verification errors
 *   66     VMRT_GUEST_EXIT_NO_INPUT: the program file cannot be read
 *   70     VMRT_GUEST_EXIT_GUEST_ERROR: a guest runtime error (bad index, wrong
 *          type, division by zero, stack overflow, deadlock, 'fail', ...)
 *   71     VMRT_GUEST_EXIT_HOST_ERROR: the host adapter failed (out of memory,
 *          cannot create a coroutine, ...)
 * Messages go to options.err: "file:line:col: message" for bad programs, and
 * "guest error: message" followed by one line per frame of the failing guest
 * thread ("  at fn (file:line)") for runtime errors.
 */
#ifndef VMRT_GUEST_H
#define VMRT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "guest/host.h"

enum {
    VMRT_GUEST_EXIT_OK = 0,
    VMRT_GUEST_EXIT_BAD_PROGRAM = 65,
    VMRT_GUEST_EXIT_NO_INPUT = 66,
    VMRT_GUEST_EXIT_GUEST_ERROR = 70,
    VMRT_GUEST_EXIT_HOST_ERROR = 71,
};

typedef struct vmrt_guest_options {
    size_t size;             /* sizeof(vmrt_guest_options), set by _init */
    int argc;                /* guest arguments, read by 'argc'/'arg' */
    char **argv;             /* (argv[0] is the first argument, not the program) */
    FILE *out;               /* guest output ('print', ...); NULL → stdout */
    FILE *err;               /* diagnostics and guest errors; NULL → stderr */
    uint32_t jit_threshold;  /* calls + back-edges before translation; 0 = never */
    uint32_t poll_interval;  /* safepoint polls between host safepoint calls; default 1000 */
    uint32_t max_frames;     /* guest call depth limit (stack overflow); default 10000 */
    size_t heap_max;         /* bytes of guest objects (local adapter); 0 → 1 GiB */
    uint64_t max_polls;      /* execution limit: host safepoint polls of all threads
                                together (each is poll_interval back-edges/calls);
                                0 = none; beyond it: guest error */
    bool jit_sync;           /* translate in the calling thread at the threshold (tests) */
    bool trace_jit;          /* print a line to err per translated function */
    vg_host_new_fn host_new; /* adapter; NULL → the local adapter */
} vmrt_guest_options;

typedef struct vmrt_guest_result {
    int exit_code;       /* as returned, see above */
    int64_t main_result; /* main's return value if it was an int */
    bool main_returned_int;
    uint64_t threads;      /* guest threads created (main included) */
    uint64_t translations; /* functions translated by the JIT tier */
    uint64_t jit_ns;       /* time spent translating */
    uint64_t wall_ns;      /* run time (without assembly/verification) */
    vg_host_stats host;    /* the adapter's counters */
    char message[512];     /* first line of the error, "" if none */
} vmrt_guest_result;

void vmrt_guest_options_init(vmrt_guest_options *opts);

typedef struct vg_program vmrt_guest_program;

/* Assembles and verifies src; on errors writes the diagnostics to diag (may
 * be NULL) and returns VMRT_GUEST_EXIT_BAD_PROGRAM, or -ENOMEM. 0 and *out
 * on success. name is used in messages. */
int vmrt_guest_load_string(const char *name, const char *src, size_t len, vmrt_guest_program **out,
                           FILE *diag);

/* The same for a file; VMRT_GUEST_EXIT_NO_INPUT if it cannot be read. */
int vmrt_guest_load_file(const char *path, vmrt_guest_program **out, FILE *diag);

void vmrt_guest_program_free(vmrt_guest_program *prog);

/* Runs a loaded program; returns the exit code (see above). opts and out may
 * be NULL. */
int vmrt_guest_run(const vmrt_guest_program *prog, const vmrt_guest_options *opts,
                   vmrt_guest_result *out);

/* Load + run: the single entry point for `vmrt run PROGRAM`. */
int vmrt_guest_run_file(const char *path, const vmrt_guest_options *opts, vmrt_guest_result *out);
int vmrt_guest_run_string(const char *name, const char *src, const vmrt_guest_options *opts,
                          vmrt_guest_result *out);

/* Prints the pre-decoded code of every function (tier 0, and tier 1 where
 * translated) to f. */
void vmrt_guest_dump(const vmrt_guest_program *prog, FILE *f);

#endif
