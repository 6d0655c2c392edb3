// main.c -- the t2ibench command-line entry point: dispatches to cmd_* (cli.h).
#include "args.h"
#include "cli.h"
#include "t2i.h"

#include <stdio.h>
#include <string.h>

#ifndef T2I_GIT_DESCRIBE
#define T2I_GIT_DESCRIBE "unknown"
#endif

// One row per command, in the order `t2ibench --help` lists them.
static const Command commands[] = {
    {"version", cmd_version, "print the version, build flags and BLAS configuration"},
};

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("t2ibench %s\n", T2I_GIT_DESCRIBE);
    return EXIT_OK;
}

static void usage(FILE *f) {
    fprintf(f,
            "t2ibench -- evaluation and benchmarking harness for AttnGAN-family text-to-image GANs\n"
            "\nusage: t2ibench COMMAND [options]   (t2ibench COMMAND --help for its options)\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 regression (check), 2 error or incomplete run, 4 usage error,\n"
               "130 interrupted (after committing the block in flight)\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "t2ibench: unknown command '%s' (see t2ibench --help)\n", argv[1]);
    return EXIT_USAGE;
}
