/* Default vCPU count: the CPUs this process may run on (sched_getaffinity,
 * which reflects cpusets), capped by the cgroup CPU bandwidth quota —
 * cgroup v2 cpu.max and cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us,
 * checked on the process's cgroup and every ancestor up to the mount point
 * (a parent's quota limits its children). Hybrid hosts have both. */
#include "sched/sched_internal.h"

#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double vmrt__cpu_quota_parse(const char *quota, const char *period);

/* CPUs allowed by a quota/period pair ("max" or -1 = none): 0 if unlimited. */
double vmrt__cpu_quota_parse(const char *quota, const char *period)
{
    if (!quota || !period || !strncmp(quota, "max", 3))
        return 0;
    char *end;
    double q = strtod(quota, &end), p = strtod(period, NULL);
    if (end == quota || q <= 0 || p <= 0)
        return 0;
    return q / p;
}

static bool read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* Finds the mount point of the hierarchy: v2 (fstype cgroup2) or the v1
 * hierarchy carrying controller "cpu". root receives the mount's root. */
static bool find_mount(bool v2, char *mnt, size_t mn, char *root, size_t rn)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        char fstype[64], source[256], opts[1024] = "";
        if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, opts) < 2)
            continue;
        char r[1024], m[1024];
        if (sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2)
            continue;
        if (v2 ? strcmp(fstype, "cgroup2") != 0 : strcmp(fstype, "cgroup") != 0)
            continue;
        if (!v2) {
            bool cpu = false;
            for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ","))
                cpu |= !strcmp(tok, "cpu");
            if (!cpu)
                continue;
        }
        snprintf(mnt, mn, "%s", m);
        snprintf(root, rn, "%s", r);
        found = true;
    }
    fclose(f);
    return found;
}

/* The cgroup path of this process in the v2 (controller "") or v1 "cpu"
 * hierarchy, from /proc/self/cgroup. */
static bool cgroup_path(bool v2, char *out, size_t n)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1;
        bool match = false;
        if (v2) {
            match = !strcmp(line, "0") && !*ctrls;
        } else {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", ctrls);
            for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ","))
                match |= !strcmp(tok, "cpu");
        }
        if (match) {
            snprintf(out, n, "%s", c2 + 1);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* Smallest quota (in CPUs) on the path from the cgroup up to the mount. */
static double hierarchy_quota(bool v2)
{
    char mnt[1024], root[1024], path[2048];
    if (!find_mount(v2, mnt, sizeof mnt, root, sizeof root) || !cgroup_path(v2, path, sizeof path))
        return 0;
    const char *rel = path;
    size_t rl = strlen(root);
    if (strcmp(root, "/") && !strncmp(path, root, rl))
        rel = path + rl;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s", mnt, rel);
    double best = 0;
    for (;;) {
        char file[4200], a[128], b[128];
        double q = 0;
        if (v2) {
            snprintf(file, sizeof file, "%s/cpu.max", dir);
            if (read_line(file, a, sizeof a)) {
                char *sp = strchr(a, ' ');
                if (sp) {
                    *sp = '\0';
                    q = vmrt__cpu_quota_parse(a, sp + 1);
                }
            }
        } else {
            snprintf(file, sizeof file, "%s/cpu.cfs_quota_us", dir);
            bool ok = read_line(file, a, sizeof a);
            snprintf(file, sizeof file, "%s/cpu.cfs_period_us", dir);
            if (ok && read_line(file, b, sizeof b) && strcmp(a, "-1"))
                q = vmrt__cpu_quota_parse(a, b);
        }
        if (q > 0 && (best == 0 || q < best))
            best = q;
        if (strlen(dir) <= strlen(mnt))
            break;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
    }
    return best;
}

unsigned vmrt_sched_default_vcpus(void)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    double q2 = hierarchy_quota(true), q1 = hierarchy_quota(false);
    double q = q2 > 0 && (q1 <= 0 || q2 < q1) ? q2 : q1;
    if (q > 0 && ceil(q) < (double)n)
        n = (long)ceil(q);
    if (n > VMRT_SCHED_MAX_VCPUS)
        n = VMRT_SCHED_MAX_VCPUS;
    return (unsigned)n;
}
