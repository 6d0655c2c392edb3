// cli_test.h -- helpers for the tests that drive the t2ibench binary through a shell
// (tests/test_harness*.c): a temp dir T, the binary BIN ($T2I_BIN, default build/t2ibench), sh()
// to run a command line with stdout+stderr captured into OUT, small file helpers, and read-only
// queries of a results database. Include after test.h; each test sets T and BIN in main().
#ifndef T2I_CLI_TEST_H
#define T2I_CLI_TEST_H

#include "fid.h"
#include "t2i.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char T[256];        // temp dir
static const char *BIN;
static char OUT[1 << 16];  // stdout+stderr of the last command

// Runs a shell command line (stdout+stderr captured into OUT); returns the exit status.
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...) {
    char cmd[8192], full[8400], path[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/out.txt", T);
    snprintf(full, sizeof full, "(%s) >%s 2>&1", cmd, path);
    int st = system(full);
    OUT[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(OUT, 1, sizeof OUT - 1, f);
        OUT[n] = 0;
        fclose(f);
    }
    if (getenv("T2I_TEST_VERBOSE")) fprintf(stderr, "$ %s\n%s", cmd, OUT);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static inline char *read_all(const char *path) {
    uint8_t *d = NULL;
    size_t n = 0;
    if (t2i_read_file(path, &d, &n)) return NULL;
    return (char *)d;
}

// Replaces the first occurrence of `a` by `b` in file src, writing dst. Returns 1 on success.
static inline int patch_file(const char *src, const char *dst, const char *a, const char *b) {
    char *s = read_all(src);
    if (!s) return 0;
    char *p = strstr(s, a);
    if (!p) {
        t2i_free(s);
        return 0;
    }
    FILE *f = fopen(dst, "w");
    if (!f) {
        t2i_free(s);
        return 0;
    }
    fwrite(s, 1, (size_t)(p - s), f);
    fputs(b, f);
    fputs(p + strlen(a), f);
    fclose(f);
    t2i_free(s);
    return 1;
}

// An evaluator card in T: the demo instruments (suites/evaluators/demo_cub.json) plus the FID
// Inception on hash weights with statistics T/stats.npz of 16 synthetic feature vectors; its
// path goes to eval (n bytes). Returns 1 on success.
static inline int make_fid_eval_card(char *eval, size_t n) {
    char voc[PATH_MAX], rep[PATH_MAX + 8], tmp[300], npz[300];
    if (!realpath("suites/vocab/cub_test.vocab.txt", voc)) return 0;
    snprintf(rep, sizeof rep, "\"%s\"", voc);
    snprintf(tmp, sizeof tmp, "%s/e0.json", T);
    snprintf(eval, n, "%s/eval.json", T);
    if (!patch_file("suites/evaluators/demo_cub.json", tmp, "\"../vocab/cub_test.vocab.txt\"", rep))
        return 0;
    if (!patch_file(tmp, eval, "\"fid\": null",
                    "\"fid\": {\"variant\": \"tf2015\", \"weights\": "
                    "\"hash:attngan-oracle-hash-v1\", \"statistics\": \"stats.npz\"}"))
        return 0;
    enum { NF = 16, D = 2048 };
    float *x = t2i_malloc(sizeof(float) * NF * D);
    if (!x) return 0;
    uint32_t s = 12345;
    for (int i = 0; i < NF * D; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 65536.0f;
    }
    FidStats fs;
    memset(&fs, 0, sizeof fs);
    snprintf(npz, sizeof npz, "%s/stats.npz", T);
    int ok = fid_stats_from_features(x, DT_F32, NF, D, &fs) == T2I_OK &&
             fid_stats_save(npz, &fs) == T2I_OK;
    fid_stats_free(&fs);
    t2i_free(x);
    return ok;
}

// ---- database helpers ----------------------------------------------------------------------

// Opens `path` read-only (busy timeout 5 s), with the database attach1 attached as a1 when
// it is not NULL.
static inline sqlite3 *dbo(const char *path, const char *attach1) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    if (attach1) {
        char *sql = sqlite3_mprintf("ATTACH %Q AS a1", attach1);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
    }
    return db;
}

// First column of the first row of `sql` as an integer, -1 when there is none.
static inline long long q_int2(const char *path, const char *attach1, const char *sql) {
    sqlite3 *db = dbo(path, attach1);
    long long v = -1;
    sqlite3_stmt *st;
    if (db && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    } else if (db) {
        fprintf(stderr, "    SQL error: %s\n", sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return v;
}

static inline long long q_int(const char *path, const char *sql) { return q_int2(path, NULL, sql); }

// First column of the first row of `sql` as text into buf ("" when there is none).
static inline void q_text(const char *path, const char *sql, char *buf, size_t n) {
    sqlite3 *db = dbo(path, NULL);
    sqlite3_stmt *st;
    buf[0] = 0;
    if (db && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

#endif
