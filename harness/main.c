// main.c -- the t2ibench command-line entry point: dispatches to cmd_* (cli.h).
#include "args.h"
#include "blas.h"
#include "cli.h"
#include "t2i.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>


// One row per command, in the order `t2ibench --help` lists them.
static const Command commands[] = {
    {"version", cmd_version, "print the version, build flags and BLAS configuration"},
    {"metric", cmd_metric, "score saved arrays: is | fid | kid | rp (IS, FID, KID, R-precision)"},
    {"verify", cmd_verify, "run oracle fixture folders and report max errors per output"},
    {"generate", cmd_generate, "images (and attention maps) of a caption, or of a stored sample of a run"},
    {"tensors", cmd_tensors, "list the keys, dtypes and shapes of a weight file (+ SHA-256)"},
    {"vocab", cmd_vocab, "size and first words of a captions.pickle or vocabulary file; vocab build"},
    {"run", cmd_run, "generate and score a suite with a model card; stores the run in SQLite"},
    {"eval-images", cmd_eval_images, "score a folder of images (any size; PNG, JPEG, BMP, PPM, TIFF, WebP)"},
    {"demo", cmd_demo, "what `make demo` runs: the demo cards on the CUB smoke suite, compared, 2 reports"},
    {"suite", cmd_suite, "suite freeze: write a frozen caption suite; suite check: validate one"},
    {"list", cmd_list, "list the runs stored in the results database"},
    {"show", cmd_show, "one run: status, fingerprint, provenance, metrics, timings"},
    {"compare", cmd_compare, "runs side by side with paired bootstrap intervals (only the model may differ)"},
    {"check", cmd_check, "CI gate against a baseline run or exported file (exit 0/1/2)"},
    {"export", cmd_export, "a run as json, csv or markdown; --samples: per-sample csv, jsonl or npz"},
    {"rescore", cmd_rescore, "recompute a run's metrics from its stored rows under another protocol"},
    {"breakdown", cmd_breakdown, "per-class / per-caption-length metrics; worst captions vs a run"},
    {"report", cmd_report, "self-contained HTML report of one or more runs (images, charts)"},
    {"merge", cmd_merge, "combine shard databases (run --shard I/N) into one run with its metrics"},
    {"fid-stats", cmd_fid_stats, "FID reference statistics (.npz) from a folder of images or a run"},
    {"bench", cmd_bench, "images/s per network, FMA peak, PyTorch timed in the same run"},
};

int cmd_version(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: t2ibench version   (or t2ibench --version)\n"
               "Prints the build's git revision, compiler, compiler flags and BLAS library (with\n"
               "its thread count).\n");
        return EXIT_OK;
    }
    printf("t2ibench %s\n", t2i_build_git);
    printf("compiler: %s\n", T2I_COMPILER);
    printf("cflags:   %s\n", t2i_build_cflags);
    printf("blas:     %s (%d threads)\n", blas_config(), blas_get_threads());
    return EXIT_OK;
}

static void usage(FILE *f) {
    fprintf(f,
            "t2ibench -- evaluation and benchmarking harness for AttnGAN-family text-to-image GANs\n"
            "\nusage: t2ibench COMMAND [options]\n"
            "       t2ibench COMMAND --help    (or t2ibench help COMMAND): its options\n"
            "       t2ibench --version         (the same as t2ibench version)\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nnew here? `t2ibench demo` (= `make demo`, from the repository root) runs the whole\n"
               "pipeline on built-in hash weights, no downloads, and prints each command it uses;\n"
               "README.md explains the released checkpoints.\n"
               "\nexit codes: 0 ok, 1 regression (check), 2 error or incomplete run, 4 usage error,\n"
               "130 interrupted (after committing the block in flight)\n");
}

// Results go to stdout: a write that failed there (a full disk behind `> FILE`, /dev/full) must
// not end in exit 0 with a truncated result.
static int check_stdout(int rc) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "t2ibench: writing the results to stdout failed: %s\n",
                errno ? strerror(errno) : "I/O error");
        if (rc == EXIT_OK || rc == EXIT_REGRESSION) rc = EXIT_ERROR;
    }
    return rc;
}

int main(int argc, char **argv) {
    // `t2ibench help CMD` is `t2ibench CMD --help`.
    if (argc == 3 && strcmp(argv[1], "help") == 0) {
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                char *hargv[] = {argv[2], "--help", NULL};
                return check_stdout(commands[i].fn(2, hargv));
            }
        fprintf(stderr, "t2ibench: unknown command '%s' (see t2ibench --help)\n", argv[2]);
        return EXIT_USAGE;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return check_stdout(commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "t2ibench: unknown command '%s' (see t2ibench --help)\n", argv[1]);
    return EXIT_USAGE;
}
