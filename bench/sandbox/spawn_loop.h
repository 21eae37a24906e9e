/* Shared by the sandbox start-up benchmarks and their peers: run a command
 * N times (spawn + wait, output discarded) and return microseconds per run. */
#ifndef VMRT_BENCH_SPAWN_LOOP_H
#define VMRT_BENCH_SPAWN_LOOP_H

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Runs argv n times; microseconds per run. With gap_us > 0 each run
 * follows an untimed pause: a "cold" start, as when a user runs one command
 * (a tight loop keeps kernel state warm that a single run pays for, e.g. the
 * RCU grace period of the first cgroup migration after a pause).
 * Exits 1 when a run fails (a missing peer, a broken set-up). */
static inline double bench_spawn_loop_gap(char *const argv[], unsigned long n, unsigned gap_us)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    double total = 0;
    for (unsigned long i = 0; i < n; i++) {
        if (gap_us)
            usleep(gap_us);
        double t0 = bench_now_us();
        pid_t pid;
        int st;
        if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0 ||
            waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "bench: '%s' failed\n", argv[0]);
            exit(1);
        }
        total += bench_now_us() - t0;
    }
    posix_spawn_file_actions_destroy(&fa);
    return total / (double)n;
}

static inline double bench_spawn_loop(char *const argv[], unsigned long n)
{
    return bench_spawn_loop_gap(argv, n, 0);
}

/* The pause of the "-cold" cases. */
#define BENCH_COLD_GAP_US 50000u

#endif
