// cli.h -- the t2ibench commands. Each takes (argc, argv) with argv[0] = the command name
// and returns a process exit code (args.h). Only main.c calls exit().
#ifndef T2I_CLI_H
#define T2I_CLI_H

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} Command;

int cmd_version(int argc, char **argv);

#endif
