// args.c -- see args.h.
#include "args.h"
#include "t2i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_init(Args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    if (argc > 255) return t2i_error(T2I_EARG, "too many arguments (%d)", argc);
    a->argc = argc;
    a->argv = argv;
    if (argc > 0) a->used[0] = 1;
    return T2I_OK;
}

// Finds "--name" or "--name=..."; returns the index or -1.
static int find(Args *a, const char *name, const char **inline_val) {
    size_t n = strlen(name);
    for (int i = 1; i < a->argc; i++) {
        if (a->used[i]) continue;
        const char *s = a->argv[i];
        if (strcmp(s, "--") == 0) break;
        if (strncmp(s, name, n) == 0 && (s[n] == 0 || s[n] == '=')) {
            *inline_val = s[n] == '=' ? s + n + 1 : NULL;
            return i;
        }
    }
    return -1;
}

const char *args_str(Args *a, const char *name, const char *def) {
    const char *iv;
    int i = find(a, name, &iv);
    if (i < 0) return def;
    a->used[i] = 1;
    if (iv) return iv;
    if (i + 1 >= a->argc) {
        a->bad = 1;
        t2i_error(T2I_EARG, "option %s needs a value", name);
        return def;
    }
    a->used[i + 1] = 1;
    return a->argv[i + 1];
}

int args_flag(Args *a, const char *name) {
    const char *iv;
    int i = find(a, name, &iv);
    if (i < 0) return 0;
    a->used[i] = 1;
    if (iv) {
        a->bad = 1;
        t2i_error(T2I_EARG, "option %s takes no value", name);
    }
    return 1;
}

long args_long(Args *a, const char *name, long def) {
    const char *s = args_str(a, name, NULL);
    if (!s) return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        a->bad = 1;
        t2i_error(T2I_EARG, "option %s: '%s' is not an integer", name, s);
        return def;
    }
    return v;
}

double args_double(Args *a, const char *name, double def) {
    const char *s = args_str(a, name, NULL);
    if (!s) return def;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        a->bad = 1;
        t2i_error(T2I_EARG, "option %s: '%s' is not a number", name, s);
        return def;
    }
    return v;
}

int args_rest(Args *a, char **pos, int max) {
    if (a->bad) return -1;
    int n = 0, dashdash = 0;
    for (int i = 1; i < a->argc; i++) {
        if (a->used[i]) continue;
        const char *s = a->argv[i];
        if (!dashdash && strcmp(s, "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (!dashdash && s[0] == '-' && s[1] != 0) {
            size_t len = strcspn(s, "=");
            for (int j = 1; j < a->argc; j++)
                if (j != i && a->used[j] && strncmp(a->argv[j], s, len) == 0 &&
                    (a->argv[j][len] == 0 || a->argv[j][len] == '=')) {
                    t2i_error(T2I_EARG, "option '%.*s' given more than once", (int)len, s);
                    return -1;
                }
            t2i_error(T2I_EARG, "unknown option '%s'", s);
            return -1;
        }
        if (n == max) {
            t2i_error(T2I_EARG, "unexpected argument '%s'", s);
            return -1;
        }
        pos[n++] = a->argv[i];
    }
    return n;
}

int cli_fail(const char *cmd, int status) {
    fprintf(stderr, "t2ibench %s: %s\n", cmd, t2i_errmsg());
    return status == T2I_EINTR ? EXIT_INTERRUPTED : EXIT_ERROR;
}

int cli_usage(const char *cmd, const char *usage) {
    if (*t2i_errmsg()) fprintf(stderr, "t2ibench %s: %s\n", cmd, t2i_errmsg());
    fprintf(stderr, "usage: %s\n", usage);
    return EXIT_USAGE;
}
