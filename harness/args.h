// args.h -- tiny long-option parser shared by every t2ibench command.
//
// Options are "--name VALUE", "--name=VALUE" or boolean "--flag"; short aliases are separate
// names ("-q"). Query every option first, then call args_rest() for the positional arguments:
// it fails (usage error) on any argument that starts with '-' and was not consumed, so a typo
// never silently falls back to a default.
#ifndef T2I_ARGS_H
#define T2I_ARGS_H

typedef struct {
    int            argc;
    char         **argv;
    unsigned char  used[256];
    int            bad;          // a value failed to parse; message in t2i_errmsg()
} Args;

// argv[0] is the command name (not parsed). At most 255 arguments.
int         args_init(Args *a, int argc, char **argv);
const char *args_str(Args *a, const char *name, const char *def);
int         args_flag(Args *a, const char *name);
long        args_long(Args *a, const char *name, long def);     // sets a->bad on junk
double      args_double(Args *a, const char *name, double def); // sets a->bad on junk
// Collects the unused arguments into pos (at most max); returns their count, or -1 with a
// message when an unknown option remains or a->bad is set.
int         args_rest(Args *a, char **pos, int max);

// Exit codes of DESIGN.md §9.
enum { EXIT_OK = 0, EXIT_REGRESSION = 1, EXIT_ERROR = 2, EXIT_USAGE = 4, EXIT_INTERRUPTED = 130 };

// Maps a T2I_* status to an exit code (T2I_EARG -> EXIT_USAGE? no: bad input files are errors,
// so only the caller decides usage errors) and prints "t2ibench CMD: message" on stderr.
int         cli_fail(const char *cmd, int status);
int         cli_usage(const char *cmd, const char *usage);

#endif
