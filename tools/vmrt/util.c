/* vmrt CLI helpers: dying with a message; option values (sizes and durations
 * through the library's vmrt_parse_size/_duration). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmrt/common.h>
#include <vmrt/sandbox.h>

#include "cli.h"

static void vwarn_prefix(const char *fmt, va_list ap, int saved_errno)
{
    fputs("vmrt: ", stderr);
    vfprintf(stderr, fmt, ap);
    if (saved_errno)
        fprintf(stderr, ": %s", strerror(saved_errno));
    fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn_prefix(fmt, ap, 0);
    va_end(ap);
    exit(VMRT_EXIT_FAILURE);
}

void die_errno(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vwarn_prefix(fmt, ap, saved);
    va_end(ap);
    exit(VMRT_EXIT_FAILURE);
}

void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn_prefix(fmt, ap, 0);
    va_end(ap);
    fputs("Try 'vmrt --help' for more information.\n", stderr);
    exit(VMRT_EXIT_USAGE);
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int parse_size(const char *s, uint64_t *out)
{
    return vmrt_parse_size(s, out) == 0 ? 0 : -1;
}

int parse_duration(const char *s, uint64_t *out_ns)
{
    return vmrt_parse_duration(s, out_ns) == 0 ? 0 : -1;
}

struct timespec timespec_in(clockid_t clk, long ns)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec += ns % 1000000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

int print_sandbox_report(bool json, const struct vmrt_sandbox_report *r, FILE *out)
{
    if (!json)
        return vmrt_sandbox_report_print(r, out);
    char *s = vmrt_sandbox_report_json(r);
    if (!s)
        return -ENOMEM;
    fprintf(out, "%s\n", s);
    free(s);
    return ferror(out) ? -EIO : 0;
}

int sandbox_end_status(const struct vmrt_sandbox_report *r)
{
    switch (r->reason) {
    case VMRT_END_EXITED:
        return r->exit_code;
    case VMRT_END_SIGNALED:
        return 128 + r->signal;
    case VMRT_END_SETUP_FAILED:
        if (!strcmp(r->setup_step, "execve"))
            return r->setup_errno == ENOENT ? 127 : 126;
        return 125;
    case VMRT_END_OUT_OF_MEMORY:
        return 240;
    case VMRT_END_SECCOMP_VIOLATION:
        return 241;
    case VMRT_END_CPU_TIME_LIMIT:
        return 242;
    case VMRT_END_WALL_TIME_LIMIT:
        return 243;
    case VMRT_END_DISK_IO_LIMIT:
        return 244;
    case VMRT_END_PROCESS_LIMIT:
        return 245;
    case VMRT_END_FILE_SIZE_LIMIT:
        return 246;
    case VMRT_END_KILLED:
        return 247;
    case VMRT_END_RUNNING:
    default:
        return VMRT_EXIT_FAILURE;
    }
}
