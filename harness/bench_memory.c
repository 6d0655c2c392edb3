// bench_memory.c -- `t2ibench bench memory`: the peak resident memory of a `t2ibench run` with
// every evaluator loaded (see bench.h), and `bench peak-rss`, the child that measures it.
//
// Everything runs through the real commands, each in a child process started from this binary,
// inside a scratch folder under /tmp that is removed afterwards:
//   1. `run` of the CUB smoke suite with the demo AttnGAN card, --images-out: 32 images;
//   2. `fid-stats` over them with the slim-cub demo evaluator card: FID statistics (.npz) and
//      the reference features for KID (.npy);
//   3. per generator (AttnGAN, DM-GAN, DF-GAN on hash weights), `bench peak-rss OUT run ...` of
//      the attngan-2018 protocol and suite with the demo_cub_slim evaluator card (the IS
//      classifier slim-cub, the FID Inception tf2015 -- a second network --, the DAMSM image and
//      text encoders), --fid-stats and --kid-reference: IS, FID, KID and R-precision all computed.
// The child reads its own high-water mark (VmHWM of /proc/self/status) after `run` returns: the
// figure of that process alone, not of this one (an exec'd child's getrusage maxrss would
// include the memory of the process that started it).
#include "bench.h"
#include "args.h"
#include "cli.h"
#include "db.h"
#include "results.h"
#include "t2i.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MEM_EVALUATORS "suites/evaluators/demo_cub_slim.json"

// The protocol and suite of every measurement: attngan-2018 enables all four metrics (dfgan-2022
// disables IS and R-precision; its generator runs under attngan-2018 too).
#define MEM_SUITE "suites/cub_test_attngan.suite"
#define MEM_PROTOCOL "suites/protocols/attngan-2018.json"

static const struct {
    const char *name, *model;
} MEM_ITEMS[BENCH_MEMORY_N] = {
    {"AttnGAN bird", "suites/models/demo_bird.json"},
    {"DM-GAN bird", "suites/models/demo_dmgan_bird.json"},
    {"DF-GAN bird", "suites/models/demo_dfgan_bird.json"},
};

// VmHWM of this process in bytes (0 when /proc is not there).
static double vm_hwm_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char   line[256];
    double kib = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kib = strtod(line + 6, NULL);
    fclose(f);
    return kib * 1024.0;
}

int bench_peak_rss_child(int argc, char **argv) {
    // argv: peak-rss OUT run ARGS...
    if (argc < 3 || strcmp(argv[2], "run") != 0) {
        fprintf(stderr, "usage: t2ibench bench peak-rss OUT run ARGS...\n"
                        "  runs `t2ibench run ARGS...` in this process, then writes its peak "
                        "resident memory\n  (bytes, VmHWM) to the file OUT\n");
        return EXIT_USAGE;
    }
    int rc = cmd_run(argc - 2, argv + 2);
    if (rc != EXIT_OK) return rc;
    double hwm = vm_hwm_bytes();
    FILE  *f = fopen(argv[1], "w");
    if (!f || fprintf(f, "%.0f\n", hwm) < 0 || fclose(f) != 0) {
        fprintf(stderr, "t2ibench: bench peak-rss: cannot write %s: %s\n", argv[1],
                strerror(errno));
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

// Runs this binary with argv (argv[0] ignored) in the repository root, its stdout and stderr
// appended to `log`; T2I_EIO with the log's tail when it fails. The child execs /proc/self/exe,
// the image this process runs, so a rebuild that replaces the file meanwhile does not matter.
static int spawn_self(char **argv, const char *log) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return t2i_error(T2I_EIO, "bench memory: cannot find this binary (/proc/self/exe)");
    exe[n] = 0;
    argv[0] = exe;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int   e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) return t2i_error(T2I_EIO, "bench memory: cannot start %s: %s", exe, strerror(e));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return t2i_error(T2I_EIO, "bench memory: waitpid: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return T2I_OK;
    char     tail[1024] = "";
    uint8_t *buf;
    size_t   len;
    if (!t2i_read_file(log, &buf, &len)) {
        size_t k = len > sizeof tail - 1 ? len - (sizeof tail - 1) : 0;
        memcpy(tail, buf + k, len - k);
        tail[len - k] = 0;
        t2i_free(buf);
    }
    return t2i_error(T2I_EIO, "bench memory: `t2ibench %s %s ...` failed (%s %d); its output "
                              "ends:\n%s",
                     argv[1], argv[2], WIFEXITED(st) ? "exit" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), tail);
}

// Checks that the run in `db` computed every metric the measurement claims.
static int check_metrics(const char *db, const char *network) {
    static const char *const need[] = {"is", "fid", "kid", "rp"};
    Db d;
    memset(&d, 0, sizeof d);
    ResRun r;
    memset(&r, 0, sizeof r);
    int64_t id = 0;
    int     rc = db_open(&d, db, 1);
    if (!rc) rc = db_run_latest(&d, &id);
    if (!rc) rc = res_load(&d, id, &r);
    for (size_t i = 0; !rc && i < sizeof need / sizeof *need; i++)
        if (!res_metric(&r, need[i]))
            rc = t2i_error(T2I_EDB, "bench memory: the %s run stored no %s metric", network,
                           need[i]);
    res_free(&r);
    db_close(&d);
    return rc;
}

// Removes the scratch folder's files and sub-folders (one level: the images), then the folder.
static void remove_tree(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat sb;
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && depth > 0) remove_tree(p, depth - 1);
            else unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int bench_memory(const BenchOpts *o, BenchMemory out[BENCH_MEMORY_N]) {
    struct stat sb;
    if (stat(MEM_EVALUATORS, &sb) != 0)
        return t2i_error(T2I_EIO, "bench memory: %s not found: run it from the repository root",
                         MEM_EVALUATORS);
    char dir[] = "/tmp/t2ibench-mem-XXXXXX";
    if (!mkdtemp(dir)) return t2i_error(T2I_EIO, "bench memory: mkdtemp: %s", strerror(errno));
    char log[600], imgs[600], gdb[600], stats[600], feat[600], rss[600], mdb[600], th[16], ba[16];
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(imgs, sizeof imgs, "%s/images", dir);
    snprintf(gdb, sizeof gdb, "%s/images.db", dir);
    snprintf(stats, sizeof stats, "%s/fid_stats.npz", dir);
    snprintf(feat, sizeof feat, "%s/kid_ref.npy", dir);
    snprintf(rss, sizeof rss, "%s/peak_rss.txt", dir);
    snprintf(th, sizeof th, "%d", o->threads);
    snprintf(ba, sizeof ba, "%d", o->batch);
    // 1 + 2: reference images and their statistics.
    char *gen[] = {NULL, "run", "--suite", "suites/cub_smoke.suite", "--model",
                   "suites/models/demo_bird.json", "--protocol", "suites/protocols/smoke.json",
                   "--evaluators", "suites/evaluators/demo_cub.json", "--db", gdb, "--limit", "32",
                   "--threads", th, "--images-out", imgs, "-q", NULL};
    char *fs[] = {NULL, "fid-stats", imgs, "--protocol", MEM_PROTOCOL,
                  "--evaluators", MEM_EVALUATORS, "--out", stats, "--features", feat,
                  "--threads", th, "-q", NULL};
    int rc = spawn_self(gen, log);
    if (!rc) rc = spawn_self(fs, log);
    // 3: one measured child per generator; --limit: every worker computes whole batches, and
    // 32 samples at least (IS's 10 splits and R-precision's 10 folds need a few each).
    int  unit = o->batch * o->threads;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", (32 + unit - 1) / unit * unit);
    for (int i = 0; i < BENCH_MEMORY_N && !rc; i++) {
        snprintf(mdb, sizeof mdb, "%s/run%d.db", dir, i);
        char *cmd[] = {NULL, "bench", "peak-rss", rss, "run", "--suite", MEM_SUITE,
                       "--model", (char *)MEM_ITEMS[i].model, "--protocol", MEM_PROTOCOL,
                       "--evaluators", MEM_EVALUATORS, "--fid-stats", stats,
                       "--kid-reference", feat,
                       "--db", mdb, "--limit", lim, "--batch", ba, "--threads", th, "-q", NULL};
        if ((rc = spawn_self(cmd, log)) || (rc = check_metrics(mdb, MEM_ITEMS[i].name))) break;
        uint8_t *buf;
        size_t   len;
        if ((rc = t2i_read_file(rss, &buf, &len))) break;
        char txt[64];
        snprintf(txt, sizeof txt, "%.*s", (int)(len < 63 ? len : 63), (const char *)buf);
        t2i_free(buf);
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].network, sizeof out[i].network, "%s", MEM_ITEMS[i].name);
        out[i].peak_rss_bytes = strtod(txt, NULL);
        out[i].workers = o->threads;
        out[i].batch = o->batch;
        out[i].samples = atoi(lim);
        if (!(out[i].peak_rss_bytes > 0))
            rc = t2i_error(T2I_EIO, "bench memory: no peak memory reported (no /proc?)");
    }
    remove_tree(dir, 1);
    return rc;
}
