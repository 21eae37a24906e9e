/* The floor of a container start-up on this host: what any tool pays for
 * the namespaces of `vmrt exec --isolation container` and two program starts,
 * with none of the sandbox's own work. Usage: peer-ns-floor N
 * Prints microseconds per spawn + wait of `peer-ns-floor --once`, which
 * creates user, pid, mount, ipc, uts, cgroup and network namespaces in one
 * clone (CLONE_VM|CLONE_VFORK: no page-table copy), execs /bin/true there
 * and waits. No new root, no mounts, no seccomp filter, no report. Linked
 * statically where the toolchain can (as `vmrt` is), so its own start costs
 * what a launcher's start costs at least. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../sandbox/spawn_loop.h"

static char stack[64 * 1024] __attribute__((aligned(16)));

static int child(void *arg)
{
    (void)arg;
    char *argv[] = {"/bin/true", NULL};
    execv(argv[0], argv);
    _exit(127);
}

static int once(void)
{
    int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
                CLONE_NEWCGROUP | CLONE_NEWNET | CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = clone(child, stack + sizeof stack, flags, NULL);
    int st;
    if (pid < 0) {
        perror("peer-ns-floor: clone");
        return 1;
    }
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return 1;
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--once"))
        return once();
    unsigned long n = argc == 2 ? strtoul(argv[1], NULL, 10) : 0;
    if (n == 0) {
        fprintf(stderr, "usage: peer-ns-floor N\n");
        return 2;
    }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("peer-ns-floor: /proc/self/exe");
        return 1;
    }
    self[len] = '\0';
    char *a[] = {self, "--once", NULL};
    printf("%.1f\n", bench_spawn_loop(a, n));
    return 0;
}
