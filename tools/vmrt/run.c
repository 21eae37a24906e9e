/* vmrt run — boot a VM on the runtime and run a guest program.
 *
 * Until the runtime and the reference guest engine land (see the README
 * status table), the main job is the coroutine benchmark. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_run(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("Usage: vmrt run [OPTIONS] [PROGRAM]\n\n"
             "The guest engine is not built yet: 'vmrt run' runs the coroutine benchmark.");
        return VMRT_EXIT_OK;
    }
    for (int i = 1; i < argc; i++)
        die_usage("run: the guest engine is not built yet; '%s' is not accepted", argv[i]);
    fputs("vmrt run: the runtime is under construction; running the coroutine benchmark\n", stderr);
    char *bench_argv[] = {"bench", "coro", "--quick", NULL};
    return cmd_bench(3, bench_argv);
}
