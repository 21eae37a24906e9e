/* vmrt — command-line tool: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include <vmrt/vmrt.h>

#include "cli.h"

static const char usage[] =
    "Usage: vmrt [--help] [--version] COMMAND [ARGS]\n"
    "\n"
    "The runtime of a virtual machine: coroutines, an M:N scheduler, a GC and a sandbox.\n"
    "\n"
    "Commands:\n"
    "  run   [OPTIONS] [PROGRAM]   boot a VM on the runtime and run a guest program\n"
    "  exec  [OPTIONS] -- CMD ...  run a native command inside a SandboxedVm\n"
    "  bench [SUITE] [OPTIONS]     run the benchmark suites with peers side by side\n"
    "\n"
    "Run 'vmrt COMMAND --help' for the options of a command.\n";

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"run", cmd_run},
    {"exec", cmd_exec},
    {"bench", cmd_bench},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return VMRT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return VMRT_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("vmrt %s\n", vmrt_version());
        return VMRT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (cmd[0] == '-')
        die_usage("unknown option '%s'", cmd);
    die_usage("unknown command '%s'", cmd);
}
