// test_bench.c -- `t2ibench bench` without timing anything: argument checks, the JSON interchange
// with tools/torch_baseline.py, that no PyTorch figure appears unless it was measured in the
// same run, and the FMA peak's sanity. No assertion depends on a speed.
#include "test.h"
#include "cli_test.h"

#include "bench.h"
#include "t2i.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

static int have_torch;

TEST(test_parse_reply) {
    BenchResult r;
    CHECK(bench_torch_parse("{\"network\": \"g_bird\", \"batch\": 8, \"threads\": 2, \"images\": "
                            "24, \"seconds\": 4.0, \"images_per_s\": 6.0, \"gmac_per_image\": "
                            "8.25, \"torch\": \"1.13.0\"}",
                            &r) == T2I_OK);
    CHECK(strcmp(r.network, "g_bird") == 0);
    CHECK(r.batch == 8 && r.threads == 2 && r.images == 24);
    CHECK_CLOSE(r.seconds, 4.0, 0, 0);
    CHECK_CLOSE(r.images_per_s, 6.0, 0, 0);
    CHECK_CLOSE(r.gmac_per_image, 8.25, 0, 0);
    // the tool's own error is passed on
    CHECK(bench_torch_parse("{\"network\": \"g_bird\", \"error\": \"RuntimeError: out of "
                            "memory\"}", &r) == T2I_EFORMAT);
    CHECK(strstr(t2i_errmsg(), "out of memory") && strstr(t2i_errmsg(), "g_bird"));
    // not JSON, not an object, a missing field, impossible values
    CHECK(bench_torch_parse("Traceback (most recent call last):", &r) == T2I_EFORMAT);
    CHECK(strstr(t2i_errmsg(), "not a JSON object"));
    CHECK(bench_torch_parse("[1, 2]", &r) == T2I_EFORMAT);
    CHECK(bench_torch_parse("{\"network\": \"damsm\", \"batch\": 8, \"threads\": 2, "
                            "\"images\": 8, \"seconds\": 1.0}", &r) == T2I_EFORMAT);
    CHECK(strstr(t2i_errmsg(), "images_per_s"));
    CHECK(bench_torch_parse("{\"network\": \"damsm\", \"batch\": 8, \"threads\": 2, "
                            "\"images\": 8, \"seconds\": 0, \"images_per_s\": 1}", &r) ==
          T2I_EFORMAT);
    CHECK(bench_torch_parse("{\"network\": \"damsm\", \"batch\": 0, \"threads\": 2, "
                            "\"images\": 8, \"seconds\": 1, \"images_per_s\": 1}", &r) ==
          T2I_EFORMAT);
    CHECK(bench_torch_parse("{\"network\": 3, \"batch\": 8, \"threads\": 2, "
                            "\"images\": 8, \"seconds\": 1, \"images_per_s\": 1}", &r) ==
          T2I_EFORMAT);
}

TEST(test_fma_peak_positive_and_finite) {
    const char *isa = NULL;
    double      wall = -1;
    double      one = bench_fma_peak(1, &isa, &wall);
    CHECKF(one > 0 && isfinite(one), "%g", one);
    CHECKF(wall > 0 && isfinite(wall), "%g", wall);
    CHECK(isa && (strcmp(isa, "AVX-512F") == 0 || strcmp(isa, "AVX2+FMA") == 0 ||
                  strcmp(isa, "scalar") == 0));
    double all = bench_fma_peak(0, NULL, NULL);
    CHECKF(all > 0 && isfinite(all), "%g", all);
    CHECK(bench_online_cpus() >= 1);
}

// The conv columns: MACs (done, or nominal) over CPU seconds against one CPU's share of the
// peak; -1 uncounted.
TEST(test_conv_fraction) {
    BenchResult r = {.conv_macs = 50e9, .conv_macs_nominal = 125e9, .conv_cpu_seconds = 1.0};
    CHECK_CLOSE(bench_conv_fraction(&r, 0, 200.0, 2), 1.0, 1e-12, 0);   // 100 of 100 GFLOP/s
    CHECK_CLOSE(bench_conv_fraction(&r, 1, 200.0, 2), 2.5, 1e-12, 0);   // effective: 250 of 100
    CHECK_CLOSE(bench_conv_fraction(&r, 0, 250.0, 2), 0.8, 1e-12, 0);
    CHECK_CLOSE(bench_conv_fraction(&r, 0, 250.0, 1), 0.4, 1e-12, 0);
    CHECK(bench_conv_fraction(&r, 0, 0, 2) == -1);
    CHECK(bench_conv_fraction(&r, 0, 200.0, 0) == -1);
    BenchResult none = {.images_per_s = 3};
    CHECK(bench_conv_fraction(&none, 0, 200.0, 2) == -1);
    r.conv_cpu_seconds = 0;
    CHECK(bench_conv_fraction(&r, 0, 200.0, 2) == -1);
}

TEST(test_arguments) {
    CHECK(sh("%s bench --help", BIN) == 0);
    CHECK(strstr(OUT, "--pytorch"));
    CHECK(sh("%s bench", BIN) == 4);
    CHECK(sh("%s bench unet", BIN) == 4);
    CHECK(strstr(OUT, "unknown network 'unet'"));
    CHECK(sh("%s bench damsm --rounds 0", BIN) == 4);
    CHECK(strstr(OUT, "--rounds"));
    CHECK(sh("%s bench damsm --rounds 65", BIN) == 4);
    CHECK(sh("%s bench damsm --limit 0", BIN) == 4);
    CHECK(sh("%s bench generator --config flowers", BIN) == 4);
    CHECK(strstr(OUT, "flowers"));
    CHECK(sh("%s bench generator --arch stylegan", BIN) == 4);
    CHECK(strstr(OUT, "stylegan"));
    CHECK(sh("%s bench inception --variant slim2", BIN) == 4);
    CHECK(sh("%s bench damsm --threads 4294967297", BIN) == 4);
    // a tool that is not there, or an interpreter that dies: an error, no hang
    CHECK(sh("%s bench damsm --pytorch %s/missing.py", BIN, T) == 2);
    CHECK(strstr(OUT, "missing.py"));
    char tool[300];
    snprintf(tool, sizeof tool, "%s/tool.py", T);
    write_file(tool, "import sys\n");
    CHECK(sh("%s bench damsm --pytorch %s --python /bin/false", BIN, tool) == 2);
    CHECK(strstr(OUT, "ended without replying"));
}

// Without --pytorch nothing but t2ibench's own measurement is printed.
TEST(test_no_baseline_without_pytorch) {
    CHECK(sh("%s bench damsm --batch 1 --iters 1 --warmup 0", BIN) == 0);
    CHECK(strstr(OUT, "No PyTorch baseline in this run"));
    CHECK(strstr(OUT, "damsm CNN_ENCODER"));
    // the row's PyTorch and ratio columns are "-"
    const char *row = strstr(OUT, "damsm CNN_ENCODER");
    CHECK(row && strstr(row, " - "));
    CHECK(!strstr(OUT, "(x0."));
    CHECK(strstr(OUT, "conv %") && strstr(OUT, "conv eff %"));   // the header names the conv
                                                                // columns; the row ends in one
    const char *eol = row ? strchr(row, '\n') : NULL;
    CHECK(eol && eol[-1] == '%');
    CHECK(sh("%s bench damsm --batch 1 --iters 1 --warmup 0 --json", BIN) == 0);
    CHECK(strstr(OUT, "\"pytorch\": null"));
    CHECK(strstr(OUT, "\"pytorch_images_per_s\": null, \"ratio\": null"));
    CHECK(strstr(OUT, "\"fma_peak_gflops\": "));
    // the peak measured again at the end, and how far it moved
    const char *ep = strstr(OUT, "{\"fma_peak_end_gflops\": ");
    CHECK(ep && atof(ep + strlen("{\"fma_peak_end_gflops\": ")) > 0);
    CHECK(strstr(OUT, "\"fma_peak_drift\": "));
    // the convs were counted during the timed batch: a positive, finite fraction
    const char *cf = strstr(OUT, "\"conv_frac_of_fma_peak\": ");
    CHECK(cf);
    double conv = cf ? atof(cf + strlen("\"conv_frac_of_fma_peak\": ")) : 0;
    CHECKF(conv > 0 && isfinite(conv), "%g", conv);
    // the effective rate counts the direct convolutions' multiply-adds: Winograd does fewer
    const char *ef = strstr(OUT, "\"conv_effective_frac_of_fma_peak\": ");
    CHECK(ef);
    double eff = ef ? atof(ef + strlen("\"conv_effective_frac_of_fma_peak\": ")) : 0;
    CHECKF(eff > conv && isfinite(eff), "%g vs %g", eff, conv);
}

// The real tool, driven by t2ibench: the reply lands in the row (needs /usr/bin/python3 + torch).
TEST(test_pytorch_interchange) {
    if (!have_torch) {
        printf("  skip: /usr/bin/python3 has no torch (python3-torch)\n");
        return;
    }
    CHECK(sh("%s bench damsm --batch 1 --iters 1 --warmup 0 --rounds 2 --json --pytorch "
             "tools/torch_baseline.py", BIN) == 0);
    CHECK(strstr(OUT, "\"pytorch_network\": \"damsm\""));
    const char *p = strstr(OUT, "\"pytorch_images_per_s\": ");
    CHECK(p && atof(p + strlen("\"pytorch_images_per_s\": ")) > 0);
    CHECK(strstr(OUT, "\"pytorch_rounds\": ["));
    // the tool itself: every network's structure equals the reference listings
    CHECK(sh("/usr/bin/python3 tools/torch_baseline.py --check") == 0);
    CHECK(!strstr(OUT, "\"ok\": false"));
    CHECK(strstr(OUT, "\"network\": \"dmgan_coco\"") && strstr(OUT, "\"network\": \"dfgan\""));
    // an unknown network is the tool's error, passed on
    CHECK(sh("printf '{\"network\": \"nope\"}\\n' | /usr/bin/python3 tools/torch_baseline.py "
             "--serve") == 0);
    CHECK(strstr(OUT, "\"error\": \"KeyError"));
}

static int count_bench_dirs(void) {
    DIR *d = opendir("/tmp");
    int  n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "t2ibench-bench-", 15) == 0) n++;
    if (d) closedir(d);
    return n;
}

// bench run: one sample end to end; its scratch database is removed afterwards.
TEST(test_bench_run_one_sample) {
    int before = count_bench_dirs();
    CHECK(sh("%s bench run --limit 1 --batch 1 --threads 1 --json", BIN) == 0);
    CHECK(strstr(OUT, "\"network\": \"end to end (bench run)\""));
    CHECK(strstr(OUT, "\"projection\": \"cub-30000\""));
    CHECK(strstr(OUT, "\"pytorch_hours\": null"));
    CHECK(strstr(OUT, "\"conv_frac_of_fma_peak\": null"));   // not counted end to end
    CHECK(strstr(OUT, "\"conv_effective_frac_of_fma_peak\": null"));
    CHECK(count_bench_dirs() <= before);
}

// bench peak-rss: the child `bench memory` starts runs `run` in its own process and writes that
// process's peak resident memory; anything but `run` is a usage error and writes nothing.
TEST(test_peak_rss_child) {
    char out[300], db[300];
    snprintf(out, sizeof out, "%s/peak.txt", T);
    snprintf(db, sizeof db, "%s/peak.db", T);
    CHECK(sh("%s bench peak-rss %s list --db %s", BIN, out, db) == 4);
    CHECK(strstr(OUT, "peak-rss OUT run"));
    CHECK(access(out, F_OK) != 0);
    CHECK(sh("%s bench peak-rss %s run --suite %s/missing.suite --model "
             "suites/models/demo_bird.json --protocol suites/protocols/smoke.json --db %s -q",
             BIN, out, T, db) == 2);
    CHECK(access(out, F_OK) != 0);   // a failed run reports no figure
    CHECK(sh("%s bench peak-rss %s run --suite suites/cub_smoke.suite --model "
             "suites/models/demo_bird.json --protocol suites/protocols/smoke.json --evaluators "
             "suites/evaluators/demo_cub.json --db %s --limit 1 --batch 1 --threads 1 -q",
             BIN, out, db) == 0);
    uint8_t *buf = NULL;
    size_t   len = 0;
    CHECK(t2i_read_file(out, &buf, &len) == T2I_OK);
    char txt[64] = "";
    if (buf) snprintf(txt, sizeof txt, "%.*s", (int)(len < 63 ? len : 63), (const char *)buf);
    t2i_free(buf);
    // G_NET, the IS Inception and the DAMSM networks were resident: well over 100 MiB
    double bytes = atof(txt);
    CHECKF(bytes > 100.0 * 1048576 && bytes < 64.0 * 1073741824, "%s", txt);
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2i_bench_XXXXXX");
    if (!mkdtemp(T)) {
        perror("mkdtemp");
        return 1;
    }
    have_torch = access("/usr/bin/python3", X_OK) == 0 &&
                 system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
    RUN(test_parse_reply);
    RUN(test_fma_peak_positive_and_finite);
    RUN(test_conv_fraction);
    RUN(test_arguments);
    RUN(test_no_baseline_without_pytorch);
    RUN(test_pytorch_interchange);
    RUN(test_bench_run_one_sample);
    RUN(test_peak_rss_child);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", T);
    return test_report("test_bench");
}
