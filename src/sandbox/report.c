/* The end report: names, text ("key: value" lines) and JSON (jansson). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "sandbox_internal.h"

static const char *const level_names[] = {"none", "process", "container", "full"};

static const char *const reason_names[] = {
    [VMRT_END_RUNNING] = "running",
    [VMRT_END_EXITED] = "exited",
    [VMRT_END_SIGNALED] = "signaled",
    [VMRT_END_OUT_OF_MEMORY] = "out_of_memory",
    [VMRT_END_SECCOMP_VIOLATION] = "seccomp_violation",
    [VMRT_END_CPU_TIME_LIMIT] = "cpu_time_limit",
    [VMRT_END_WALL_TIME_LIMIT] = "wall_time_limit",
    [VMRT_END_DISK_IO_LIMIT] = "disk_io_limit",
    [VMRT_END_PROCESS_LIMIT] = "process_limit",
    [VMRT_END_FILE_SIZE_LIMIT] = "file_size_limit",
    [VMRT_END_SETUP_FAILED] = "setup_failed",
    [VMRT_END_KILLED] = "killed",
};

const char *vmrt_isolation_name(vmrt_isolation_t level)
{
    return (unsigned)level <= VMRT_ISOLATION_FULL ? level_names[level] : "unknown";
}

int vmrt_isolation_parse(const char *name, vmrt_isolation_t *out)
{
    for (unsigned i = 0; name && i <= VMRT_ISOLATION_FULL; i++)
        if (!strcmp(name, level_names[i])) {
            *out = (vmrt_isolation_t)i;
            return 0;
        }
    return -EINVAL;
}

const char *vmrt_end_reason_name(vmrt_end_reason_t reason)
{
    return (unsigned)reason <= VMRT_END_KILLED ? reason_names[reason] : "unknown";
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

int vmrt_sandbox_report_print(const vmrt_sandbox_report_t *r, FILE *out)
{
    fprintf(out, "reason: %s\n", vmrt_end_reason_name(r->reason));
    if (r->reason == VMRT_END_EXITED || r->exit_code)
        fprintf(out, "exit_code: %d\n", r->exit_code);
    if (r->signal)
        fprintf(out, "signal: %d (%s)\n", r->signal, strsignal(r->signal));
    if (r->reason == VMRT_END_SECCOMP_VIOLATION)
        fprintf(out, "syscall: %s (%d)\n", r->syscall_name[0] ? r->syscall_name : "unknown",
                r->syscall_nr);
    if (r->reason == VMRT_END_SETUP_FAILED)
        fprintf(out, "setup_step: %s (%s)\n", r->setup_step, strerror(r->setup_errno));
    fprintf(out, "isolation: %s\n", vmrt_isolation_name(r->level));
    fprintf(out, "cpu_user: %.3f s\ncpu_sys: %.3f s\nwall: %.3f s\n", secs(r->cpu_user_ns),
            secs(r->cpu_sys_ns), secs(r->wall_ns));
    if (r->peak_memory_known)
        fprintf(out, "peak_memory: %llu bytes\n", (unsigned long long)r->peak_memory);
    else
        fputs("peak_memory: unknown (no memory cgroup; see max_rss)\n", out);
    fprintf(out, "max_rss: %llu bytes\n", (unsigned long long)r->max_rss);
    fprintf(out, "io_read: %llu bytes\nio_write: %llu bytes\n",
            (unsigned long long)r->io_read_bytes, (unsigned long long)r->io_write_bytes);
    if (r->processes_known)
        fprintf(out, "processes: %llu\n", (unsigned long long)r->processes);
    else
        fputs("processes: unknown (no pids cgroup; --max-procs makes one)\n", out);
    fprintf(out, "context_switches: %llu\n", (unsigned long long)r->ctx_switches);
    if (r->net_out_bytes || r->net_in_bytes || r->net_refused_packets)
        fprintf(out, "net_out: %llu bytes\nnet_in: %llu bytes\nnet_refused: %llu packets\n",
                (unsigned long long)r->net_out_bytes, (unsigned long long)r->net_in_bytes,
                (unsigned long long)r->net_refused_packets);
    for (unsigned i = 0; i < r->n_notes && i < VMRT_SANDBOX_MAX_NOTES; i++)
        fprintf(out, "note: %s\n", r->notes[i]);
    return ferror(out) ? -EIO : 0;
}

static int set(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

char *vmrt_sandbox_report_json(const vmrt_sandbox_report_t *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = set(o, "reason", json_string(vmrt_end_reason_name(r->reason)));
    bad |= set(o, "exit_code", json_integer(r->exit_code));
    bad |= set(o, "signal", json_integer(r->signal));
    if (r->reason == VMRT_END_SECCOMP_VIOLATION) {
        bad |= set(o, "syscall", r->syscall_name[0] ? json_string(r->syscall_name) : json_null());
        bad |= set(o, "syscall_nr", json_integer(r->syscall_nr));
    }
    if (r->reason == VMRT_END_SETUP_FAILED) {
        bad |= set(o, "setup_step", json_string(r->setup_step));
        bad |= set(o, "setup_errno", json_integer(r->setup_errno));
        bad |= set(o, "setup_error", json_string(strerror(r->setup_errno)));
    }
    bad |= set(o, "isolation", json_string(vmrt_isolation_name(r->level)));
    bad |= set(o, "pid", json_integer(r->pid));
    bad |= set(o, "cpu_user_ns", json_integer((json_int_t)r->cpu_user_ns));
    bad |= set(o, "cpu_sys_ns", json_integer((json_int_t)r->cpu_sys_ns));
    bad |= set(o, "wall_ns", json_integer((json_int_t)r->wall_ns));
    bad |= set(o, "peak_memory_bytes",
               r->peak_memory_known ? json_integer((json_int_t)r->peak_memory) : json_null());
    bad |= set(o, "max_rss_bytes", json_integer((json_int_t)r->max_rss));
    bad |= set(o, "io_read_bytes", json_integer((json_int_t)r->io_read_bytes));
    bad |= set(o, "io_write_bytes", json_integer((json_int_t)r->io_write_bytes));
    bad |= set(o, "processes",
               r->processes_known ? json_integer((json_int_t)r->processes) : json_null());
    bad |= set(o, "context_switches", json_integer((json_int_t)r->ctx_switches));
    bad |= set(o, "net_out_bytes", json_integer((json_int_t)r->net_out_bytes));
    bad |= set(o, "net_in_bytes", json_integer((json_int_t)r->net_in_bytes));
    bad |= set(o, "net_refused_packets", json_integer((json_int_t)r->net_refused_packets));
    json_t *notes = json_array();
    for (unsigned i = 0; notes && i < r->n_notes && i < VMRT_SANDBOX_MAX_NOTES; i++)
        bad |= json_array_append_new(notes, json_string(r->notes[i]));
    bad |= set(o, "notes", notes);
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
