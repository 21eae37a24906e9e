/* vmrt CLI: shared helpers and the subcommand entry points. */
#ifndef VMRT_CLI_H
#define VMRT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Exit codes shared by every subcommand. */
enum {
    VMRT_EXIT_OK = 0,
    VMRT_EXIT_FAILURE = 1,
    VMRT_EXIT_USAGE = 2, /* bad command line */
};

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void die_errno(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void die_usage(const char *fmt, ...);

/* "64M", "1G", "4096", "2k": bytes. Returns 0 or -1 (malformed/overflow). */
int parse_size(const char *s, uint64_t *out);
/* "10ms", "2s", "500us", "1.5" (seconds): nanoseconds. */
int parse_duration(const char *s, uint64_t *out_ns);
/* Plain unsigned decimal within [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The time ns from now on clock clk, for pthread_cond_timedwait. */
struct timespec timespec_in(clockid_t clk, long ns);

struct vmrt_sandbox_report;
/* The exit status for a sandbox's end report, as `vmrt exec` and `vmrt run`
 * document it: the guest's code; 128+N for signal N; 125 set-up failed (126
 * not executable, 127 not found); 240 out of memory, 241 seccomp violation,
 * 242 CPU time, 243 wall time, 244 disk I/O, 245 process limit, 246 file
 * size, 247 killed. */
int sandbox_end_status(const struct vmrt_sandbox_report *r);
/* Prints the report as text or one JSON line; 0, -ENOMEM or -EIO. */
int print_sandbox_report(bool json, const struct vmrt_sandbox_report *r, FILE *out);

int cmd_run(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
