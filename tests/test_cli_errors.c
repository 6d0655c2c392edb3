// test_cli_errors.c -- hostile and malformed input through the t2ibench binary (T2I_BIN, default
// build/t2ibench), one regression test per problem found in the CLI QA pass: every bad input
// gives a clear message naming the file / option and the place, the documented exit code (2
// error, 4 usage error), no crash, no partial output file, and an earlier file is kept.
// Run from the repository root. Fast: only one test runs the networks (one sample, hash
// weights); everything else fails before any network is built.
#include "test.h"

#include "db.h"
#include "npy.h"
#include "npz.h"
#include "t2i.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jpeglib.h>   // after stdio.h (test.h)

static char T[256];                    // temp dir
static const char *BIN;
static const char *WRAP = "";           // e.g. "timeout 30 " for a command that used to hang
static char OUT[1 << 15], ERR[1 << 15];  // stdout / stderr of the last command

static void slurp(const char *path, char *buf, size_t n) {
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
}

// Runs `BIN <args>` through /bin/sh with `pre` (shell commands, e.g. a ulimit) first; stdout
// and stderr land in OUT and ERR. Returns the exit status, or 128+signal.
static int cli(const char *pre, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cli(const char *pre, const char *fmt, ...) {
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s%s%s'%s' %s >'%s/stdout.txt' 2>'%s/stderr.txt'", pre ? pre : "",
             pre ? "; exec " : "", WRAP, BIN, args, T, T);
    int st = system(cmd);
    char p[300];
    snprintf(p, sizeof p, "%s/stdout.txt", T);
    slurp(p, OUT, sizeof OUT);
    snprintf(p, sizeof p, "%s/stderr.txt", T);
    slurp(p, ERR, sizeof ERR);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static int has(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static const char *tp(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", T, name);
    return buf;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int file_equals(const char *path, const char *text) {
    char buf[256];
    slurp(path, buf, sizeof buf);
    return strcmp(buf, text) == 0;
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void save_f32(const char *path, int64_t rows, int64_t cols, const float *x) {
    int64_t shape[2] = {rows, cols};
    CHECKF(npy_save(path, DT_F32, 2, shape, x) == T2I_OK, "%s", t2i_errmsg());
}

// (rows, cols) float32 features, deterministic and full rank.
static void save_features(const char *path, int64_t rows, int64_t cols, float nan_at_r,
                          float nan_at_c) {
    float *x = malloc((size_t)(rows * cols) * sizeof *x);
    for (int64_t i = 0; i < rows * cols; i++) x[i] = (float)((i * 7919 % 101) - 50) / 25.0f;
    if (nan_at_r >= 0) x[(int64_t)nan_at_r * cols + (int64_t)nan_at_c] = NAN;
    save_f32(path, rows, cols, x);
    free(x);
}

static int write_jpeg(const char *path, int H, int W) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)W;
    c.image_height = (JDIMENSION)H;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)W * 3);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < W * 3; x++)
            row[x] = (unsigned char)((x * 13 + (int)c.next_scanline * 7) & 255);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return fclose(f);
}

static void truncate_copy(const char *src, const char *dst, double frac) {
    char *buf = malloc(1 << 20);
    FILE *f = fopen(src, "rb");
    size_t n = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    FILE *g = fopen(dst, "wb");
    if (g) {
        fwrite(buf, 1, (size_t)(n * frac), g);
        fclose(g);
    }
    free(buf);
}

// ---- tests ---------------------------------------------------------------------------------

TEST(test_help_exits_0) {
    const char *cmds[] = {"tensors --help", "vocab --help", "vocab build --help", "suite --help",
                          "suite check --help", "suite freeze --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = cli(NULL, "%s", cmds[i]);
        CHECKF(rc == 0 && has(OUT, "usage"), "%s: exit %d, stdout '%s', stderr '%s'", cmds[i], rc,
               OUT, ERR);
    }
    CHECK(cli(NULL, "suite bogus") == 4);
    CHECKF(has(ERR, "unknown subcommand 'bogus'"), "stderr: %s", ERR);
}

TEST(test_duplicate_option_named) {
    char a[300];
    tp(a, sizeof a, "logits.npy");
    save_features(a, 20, 10, -1, 0);
    CHECK(cli(NULL, "metric is --logits %s --logits %s --splits 2", a, a) == 4);
    CHECKF(has(ERR, "option '--logits' given more than once"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric is --logits %s --splits=2 --splits 3", a) == 4);
    CHECKF(has(ERR, "'--splits' given more than once"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric is --logits %s --splits 2 --bogus", a) == 4);
    CHECKF(has(ERR, "unknown option '--bogus'"), "stderr: %s", ERR);
}

TEST(test_metric_option_ranges) {
    char a[300], b[300];
    tp(a, sizeof a, "logits.npy");
    tp(b, sizeof b, "feat_b.npy");
    save_features(a, 20, 10, -1, 0);
    save_features(b, 20, 10, -1, 0);
    // used to be cut to int and reported as "splits = 0 < 1" (exit 2)
    CHECK(cli(NULL, "metric is --logits %s --splits 99999999999", a) == 4);
    CHECKF(has(ERR, "--splits 99999999999 is outside"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric is --logits %s --splits -1", a) == 4);
    CHECKF(has(ERR, "--splits -1 is outside"), "stderr: %s", ERR);
    // --gamma nan was silently replaced by 1/D
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 5 --subsets 3 --gamma nan", a, b) == 4);
    CHECKF(has(ERR, "--gamma nan"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 5 --subsets 3 --gamma -1", a, b) == 4);
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 1", a, b) == 4);
    CHECKF(has(ERR, "--subset-size 1"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 5 --subsets 3 --gamma 0.5", a, b) == 0);
}

TEST(test_metric_bad_arrays_named) {
    char a[300], nan[300], d4[300], v1[300], ic[300], sc[300], c0[300], cb[300];
    tp(a, sizeof a, "feat_a.npy");
    tp(nan, sizeof nan, "feat_nan.npy");
    tp(d4, sizeof d4, "feat_d4.npy");
    tp(v1, sizeof v1, "vec.npy");
    save_features(a, 20, 8, -1, 0);
    save_features(nan, 20, 8, 1, 2);
    save_features(d4, 20, 4, -1, 0);
    float v[5] = {1, 2, 3, 4, 5};
    int64_t s1 = 5;
    CHECK(npy_save(v1, DT_F32, 1, &s1, v) == T2I_OK);
    // a NaN feature: "MMD^2 is not finite (features too large?)" named neither file nor place
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 5 --subsets 3", a, nan) == 2);
    CHECKF(has(ERR, nan) && has(ERR, "row 1 column 2 is not finite"), "stderr: %s", ERR);
    // a 1-D array was reported as "got 0 dims"
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 5", v1, a) == 2);
    CHECKF(has(ERR, v1) && has(ERR, "shape (5,)"), "stderr: %s", ERR);
    // FID dimension mismatch names both files
    CHECK(cli(NULL, "metric fid --a %s --b %s", a, d4) == 2);
    CHECKF(has(ERR, a) && has(ERR, d4) && has(ERR, "dimensions differ"), "stderr: %s", ERR);
    // R-precision: (N, 0) candidates, out-of-range candidates, shape mismatch name the files
    tp(ic, sizeof ic, "ic.npy");
    tp(sc, sizeof sc, "sc.npy");
    tp(c0, sizeof c0, "cand0.npy");
    tp(cb, sizeof cb, "cand_bad.npy");
    save_features(ic, 4, 3, -1, 0);
    save_features(sc, 4, 3, -1, 0);
    int64_t cand[8] = {0, 1, 1, 2, 2, 3, 3, 400}, sh0[2] = {4, 0}, sh2[2] = {4, 2};
    CHECK(npy_save(c0, DT_I64, 2, sh0, cand) == T2I_OK);
    CHECK(npy_save(cb, DT_I64, 2, sh2, cand) == T2I_OK);
    CHECK(cli(NULL, "metric rp --image-codes %s --sentence-codes %s --candidates %s --folds 1", ic,
              sc, c0) == 2);
    CHECKF(has(ERR, c0) && has(ERR, "shape (4, 0)"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric rp --image-codes %s --sentence-codes %s --candidates %s --folds 1", ic,
              sc, cb) == 2);
    CHECKF(has(ERR, cb) && has(ERR, "400"), "stderr: %s", ERR);
    CHECK(cli(NULL, "metric rp --image-codes %s --sentence-codes %s --candidates %s --folds 1", a,
              sc, cb) == 2);
    CHECKF(has(ERR, a) && has(ERR, sc), "stderr: %s", ERR);
}

TEST(test_save_stats_keeps_earlier_file) {
    char a[300], out[300], tmpdir[320];
    tp(a, sizeof a, "feat_s.npy");
    tp(out, sizeof out, "stats.npz");
    save_features(a, 40, 24, -1, 0);   // sigma alone is 4.6 KB: larger than `ulimit -f 1`
    write_text(out, "KEEP");
    // The statistics go to OUT.tmp first; when that cannot be written, OUT stays as it was.
    snprintf(tmpdir, sizeof tmpdir, "%s.tmp", out);
    CHECK(mkdir(tmpdir, 0755) == 0);
    CHECK(cli(NULL, "metric fid --a %s --save-stats %s", a, out) == 2);
    CHECKF(has(ERR, tmpdir), "stderr: %s", ERR);
    CHECK(file_equals(out, "KEEP"));
    rmdir(tmpdir);
    // A write that fails half way (file size limit = a full disk): OUT is kept, no .tmp left.
    CHECK(cli("trap '' XFSZ; ulimit -f 1", "metric fid --a %s --save-stats %s", a, out) == 2);
    CHECKF(has(ERR, "write failed"), "stderr: %s", ERR);
    CHECK(file_equals(out, "KEEP"));
    CHECK(!exists(tmpdir));
    // And a good write replaces it with statistics that load.
    CHECK(cli(NULL, "metric fid --a %s --save-stats %s", a, out) == 0);
    CHECK(cli(NULL, "metric fid --a %s --b %s", out, a) == 0);
    double fid = 1;
    CHECKF(sscanf(OUT, "FID %lf", &fid) == 1 && fabs(fid) < 1e-6, "stdout: %s", OUT);
    CHECK(!exists(tmpdir));
}

TEST(test_generate_png_full_disk) {
    char dir[300], png[340];
    tp(dir, sizeof dir, "gen");
    // 8 blocks of file size: the 64 px PNG of a hash-weight image does not fit.
    int rc = cli("trap '' XFSZ; ulimit -f 8",
                 "generate --model suites/models/demo_bird.json --caption 'a red bird' --out %s",
                 dir);
    CHECKF(rc == 2 && has(ERR, "g0_64.png"), "exit %d, stderr: %s", rc, ERR);
    snprintf(png, sizeof png, "%s/g0_64.png", dir);
    CHECKF(!exists(png), "a truncated %s was left behind", png);
}

TEST(test_read_directory_message) {
    CHECK(cli(NULL, "tensors %s", T) == 2);
    CHECKF(has(ERR, T) && has(ERR, "Is a directory"), "stderr: %s", ERR);
}

TEST(test_truncated_jpeg_refused) {
    char dir[300], full[340], cut[340], db[340];
    tp(dir, sizeof dir, "jpg");
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(full, sizeof full, "%s/full.jpeg", T);
    snprintf(cut, sizeof cut, "%s/0.jpg", dir);
    snprintf(db, sizeof db, "%s/ev.db", T);
    CHECK(write_jpeg(full, 256, 256) == 0);
    truncate_copy(full, cut, 0.5);
    // libjpeg pads a truncated file with grey and only warns: it used to be scored (exit 0).
    int rc = cli(NULL, "eval-images --suite suites/cub_smoke.suite --protocol "
                       "suites/protocols/smoke.json --evaluators suites/evaluators/demo_cub.json "
                       "--images %s --limit 1 --db %s -q", dir, db);
    CHECKF(rc == 2 && has(ERR, cut) && has(ERR, "bad JPEG") && has(ERR, "Premature end"),
           "exit %d, stderr: %s", rc, ERR);
    // The intact file is accepted (warnings only come from bad data).
    truncate_copy(full, cut, 1.0);
    remove(db);
    rc = cli(NULL, "eval-images --suite suites/cub_smoke.suite --protocol "
                   "suites/protocols/smoke.json --evaluators suites/evaluators/demo_cub.json "
                   "--images %s --limit 1 --db %s -q", dir, db);
    CHECKF(rc == 0, "exit %d, stderr: %s", rc, ERR);
}

TEST(test_generate_argument_errors) {
    CHECK(cli(NULL, "generate --model suites/models/demo_bird.json --caption bird --seed -1") == 4);
    CHECKF(has(ERR, "--seed must be >= 0"), "stderr: %s", ERR);
    CHECK(cli(NULL, "generate --caption bird") == 4);
    CHECKF(has(ERR, "--model and --caption are required"), "stderr: %s", ERR);
    // ntoken smaller than the vocabulary: used to fail inside the embedding without the card
    char card[300], vocab[PATH_MAX], text[1024];
    tp(card, sizeof card, "small_ntoken.json");
    CHECK(realpath("suites/vocab/cub_test.vocab.txt", vocab) != NULL);
    snprintf(text, sizeof text,
             "{\"name\": \"x\", \"dataset\": \"cub\", \"generator\": {\"weights\": "
             "\"hash:attngan-oracle-hash-v1\", \"config\": {\"GF_DIM\": 32, \"Z_DIM\": 100, "
             "\"CONDITION_DIM\": 100, \"EMBEDDING_DIM\": 256, \"R_NUM\": 2, \"BRANCH_NUM\": 3}}, "
             "\"text_encoder\": {\"weights\": \"hash:attngan-oracle-hash-v1\", \"config\": "
             "{\"ntoken\": 10, \"ninput\": 300, \"nhidden\": 256}}, \"vocabulary\": \"%s\", "
             "\"WORDS_NUM\": 18}", vocab);
    write_text(card, text);
    int rc = cli(NULL, "generate --model %s --caption 'a red bird' --out %s/g2", card, T);
    CHECKF(rc == 2 && has(ERR, card) && has(ERR, "ntoken 10"), "exit %d, stderr: %s", rc, ERR);
}

TEST(test_bench_option_ranges) {
    // --threads 4294967297 used to wrap to 1 thread and run
    CHECK(cli(NULL, "bench generator --threads 4294967297 --iters 1") == 4);
    CHECKF(has(ERR, "--threads 4294967297") && !has(OUT, "FMA peak"), "stdout %s stderr %s", OUT,
           ERR);
    // a bad --config was found after the peak measurement, with exit 2
    CHECK(cli(NULL, "bench generator --config foo --iters 1") == 4);
    CHECKF(has(ERR, "--config must be bird or coco") && !has(OUT, "FMA peak"), "stdout %s stderr %s",
           OUT, ERR);
}

TEST(test_text_vocab_message) {
    char v[300];
    tp(v, sizeof v, "bad.vocab.txt");
    write_text(v, "a\nb\n");
    // a *.txt vocabulary not starting with a digit was parsed as a pickle ("stack underflow")
    CHECK(cli(NULL, "vocab %s", v) == 2);
    CHECKF(has(ERR, v) && has(ERR, ":1: expected \"id<TAB>word\""), "stderr: %s", ERR);
    CHECK(cli(NULL, "vocab %s --sample -2", v) == 4);
    CHECKF(has(ERR, "--sample -2"), "stderr: %s", ERR);
}

TEST(test_out_not_regular_file) {
    // vocab build / suite freeze write OUT.tmp and rename it over OUT: as root that replaced
    // e.g. /dev/full by a regular file. A FIFO stands in for the device here.
    char fifo[300], caps[300];
    tp(fifo, sizeof fifo, "fifo");
    tp(caps, sizeof caps, "caps.tsv");
    CHECK(mkfifo(fifo, 0644) == 0);
    write_text(caps, "attngan_test_idx\timage_key\tclass_id\tcap_idx\tcaption\n"
                     "0\t001.A/a_1\t1\t0\ta red bird.\n");
    CHECK(cli(NULL, "vocab build --captions %s --out %s", caps, fifo) == 2);
    CHECKF(has(ERR, fifo) && has(ERR, "not a regular file"), "stderr: %s", ERR);
    struct stat sb;
    CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    CHECK(cli(NULL, "suite freeze --captions %s --protocol suites/protocols/smoke.json --vocab "
                    "suites/vocab/cub_test.vocab.txt --dataset cub --seed 1 --out %s",
              caps, fifo) == 2);
    CHECKF(has(ERR, "not a regular file"), "stderr: %s", ERR);
    CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
}

TEST(test_freeze_no_mismatch_candidates) {
    // A caption table of one class has no other-class caption: the mismatch draw looped forever.
    char caps[300], out[300];
    tp(caps, sizeof caps, "one_class.tsv");
    tp(out, sizeof out, "one_class.suite");
    write_text(caps, "attngan_test_idx\timage_key\tclass_id\tcap_idx\tcaption\n"
                     "0\t001.A/a_1\t1\t0\ta red bird.\n"
                     "1\t001.A/a_2\t1\t0\ta small red bird.\n");
    WRAP = "timeout 60 ";
    int rc = cli(NULL, "suite freeze --captions %s --protocol suites/protocols/smoke.json --vocab "
                       "suites/vocab/cub_test.vocab.txt --dataset cub --seed 1 --out %s",
                 caps, out);
    WRAP = "";
    CHECKF(rc == 2 && has(ERR, caps) && has(ERR, "no other-class caption"), "exit %d, stderr: %s",
           rc, ERR);
    CHECK(!exists(out));
}

TEST(test_invalid_results_refused) {
    // Statistics with a negative-variance sigma gave "FID -0.348703" (exit 0).
    char a[300], st[300], big[300];
    tp(a, sizeof a, "feat_v.npy");
    tp(st, sizeof st, "neg_sigma.npz");
    tp(big, sizeof big, "feat_big.npy");
    save_features(a, 20, 4, -1, 0);
    double mu[4] = {0, 0, 0, 0}, sigma[16] = {0};
    for (int i = 0; i < 4; i++) sigma[i * 5] = i == 2 ? -1.0 : 1.0;
    NpyArray arr[2];
    memset(arr, 0, sizeof arr);
    arr[0].dtype = DT_F64, arr[0].ndim = 1, arr[0].shape[0] = 4, arr[0].numel = 4, arr[0].data = mu;
    arr[1].dtype = DT_F64, arr[1].ndim = 2, arr[1].shape[0] = 4, arr[1].shape[1] = 4;
    arr[1].numel = 16, arr[1].data = sigma;
    const char *names[2] = {"mu", "sigma"};
    CHECK(npz_save(st, 2, names, arr) == T2I_OK);
    CHECK(cli(NULL, "metric fid --a %s --b %s", a, st) == 2);
    CHECKF(has(ERR, st) && has(ERR, "sigma[2][2] = -1"), "stderr: %s", ERR);
    sigma[10] = 1.0, sigma[1] = 0.5;   // now PSD diagonal but not symmetric
    CHECK(npz_save(st, 2, names, arr) == T2I_OK);
    CHECK(cli(NULL, "metric fid --a %s --b %s", a, st) == 2);
    CHECKF(has(ERR, "not symmetric: sigma[0][1]"), "stderr: %s", ERR);
    // Huge features gave "KID 8.8e+176 +- inf" (exit 0).
    float *x = malloc(20 * 4 * sizeof *x);
    for (int i = 0; i < 80; i++) x[i] = (float)((i % 7) - 3) * 1e30f;
    save_f32(big, 20, 4, x);
    free(x);
    CHECK(cli(NULL, "metric kid --a %s --b %s --subset-size 5 --subsets 4", big, a) == 2);
    CHECKF(has(ERR, big) && has(ERR, "not finite"), "stderr: %s", ERR);
    CHECKF(!has(OUT, "inf") && !has(OUT, "nan"), "stdout: %s", OUT);
}

TEST(test_stdout_write_failure) {
    // Results written to a full stdout ended with exit 0 (e.g. `export ... > file` on a full
    // disk left a truncated export behind a successful exit).
    char a[300], cmd[1200], errp[320];
    // Only the real device: where /dev/full is missing or not a character device, redirecting
    // to it would create or replace a file outside the scratch directory.
    struct stat fb;
    if (stat("/dev/full", &fb) != 0 || !S_ISCHR(fb.st_mode)) {
        fprintf(stderr, "    skipped: /dev/full is not a character device here\n");
        return;
    }
    tp(a, sizeof a, "logits_o.npy");
    save_features(a, 20, 10, -1, 0);
    snprintf(errp, sizeof errp, "%s/stderr_full.txt", T);
    snprintf(cmd, sizeof cmd, "'%s' metric is --logits %s --splits 2 --json >/dev/full 2>'%s'", BIN,
             a, errp);
    int st = system(cmd);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2);
    slurp(errp, ERR, sizeof ERR);
    CHECKF(has(ERR, "stdout failed"), "stderr: %s", ERR);
}

TEST(test_safetensors_shape_overflow) {
    // 2^40 x 2^40 float32 wraps to 0 bytes: it was refused as "need 0 bytes, data_offsets give 0"
    char p[300];
    tp(p, sizeof p, "ovf.safetensors");
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                      "\"data_offsets\":[0,0]}}";
    uint64_t n = strlen(hdr);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < 8; i++) fputc((int)((n >> (8 * i)) & 255), f);
    fputs(hdr, f);
    fclose(f);
    CHECK(cli(NULL, "tensors %s", p) == 2);
    CHECKF(has(ERR, p) && has(ERR, "header[\"a\"].shape: the byte size overflows"), "stderr: %s",
           ERR);
}

// ---- stored results (a small database written with db.h, no networks) ----------------------

static char RDB[300];   // runs 1 and 2: complete, same fingerprints; run 2 has a worse FID

static void make_results_db(const char *path) {
    Db d;
    CHECKF(db_open(&d, path, 0) == T2I_OK, "%s", t2i_errmsg());
    CHECK(db_begin(&d) == T2I_OK);
    static char prov[12000];
    int k = snprintf(prov, sizeof prov, "{\"git_describe\": \"x\", \"pad\": \"");
    for (int i = 0; i < 10000; i++) prov[k++] = 'a' + i % 26;   // export json > 8 KB
    snprintf(prov + k, sizeof prov - (size_t)k, "\"}");
    const char *fp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (int i = 0; i < 2; i++) {
        DbRun r = {.status = "running", .kind = "run", .run_key = "k", .fingerprint = fp,
                   .inputs_fingerprint = fp, .model_fingerprint = fp, .suite = "s",
                   .suite_sha256 = fp, .protocol = "p", .model = "m", .evaluators = "e",
                   .n_samples = 4, .n_blocks = 1, .block_size = 4, .provenance = prov};
        int64_t id = 0;
        CHECK(db_run_insert(&d, &r, &id) == T2I_OK && id == i + 1);
        CHECK(db_block_done(&d, id, 0, 4, 1.0) == T2I_OK);
        CHECK(db_metric_put(&d, id, "images", 4, NAN, 4, 1) == T2I_OK);
        CHECK(db_metric_put(&d, id, "is", 2.5, 0.1, 2, 1) == T2I_OK);
        CHECK(db_metric_put(&d, id, "rp", 50, 5, 2, 1) == T2I_OK);
        CHECK(db_metric_put(&d, id, "fid", i ? 40 : 30, NAN, 4, -1) == T2I_OK);
        CHECK(db_timing_add(&d, id, "generate", 0.4, 4) == T2I_OK);
        CHECK(db_run_set_status(&d, id, "complete") == T2I_OK);
    }
    CHECK(db_commit(&d) == T2I_OK);
    db_close(&d);
}

TEST(test_readonly_wal_db_readable) {
    // A WAL database without write access and no -shm: every reading command failed with
    // "PRAGMA user_version: unable to open database file".
    char dir[300], ro[340], wal[400], cmd[1400];
    snprintf(dir, sizeof dir, "%s/ro dir%%?", T);   // characters the file: URI must encode
    snprintf(ro, sizeof ro, "%s/r.db", dir);
    CHECK(mkdir(dir, 0755) == 0);
    // t2ibench leaves its databases in rollback mode when it closes them; a file a killed
    // writer left in WAL mode is what this covers, so switch the copy to WAL first.
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", RDB, ro);
    CHECK(system(cmd) == 0);
    sqlite3 *w = NULL;
    CHECK(sqlite3_open(ro, &w) == SQLITE_OK &&
          sqlite3_exec(w, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(w);
    snprintf(cmd, sizeof cmd, "chmod 444 '%s' && chmod 555 '%s' && chmod 755 '%s'", ro, dir, T);
    CHECK(system(cmd) == 0);
    snprintf(wal, sizeof wal, "%s-wal", ro);
    CHECK(!exists(wal));
    unsigned char hdr[20] = {0};
    FILE *f = fopen(ro, "rb");
    CHECK(f && fread(hdr, 1, 20, f) == 20 && hdr[18] == 2);   // WAL mode
    if (f) fclose(f);
    WRAP = getuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    int rc = cli(NULL, "list --db '%s'", ro);
    CHECKF(rc == 0 && has(OUT, "complete"), "exit %d, stdout %s stderr %s", rc, OUT, ERR);
    rc = cli(NULL, "show 2 --db '%s'", ro);
    CHECKF(rc == 0 && has(OUT, "40.0000"), "exit %d, stderr %s", rc, ERR);
    rc = cli(NULL, "export latest --format csv --db '%s'", ro);
    CHECKF(rc == 0 && has(OUT, "fid,40"), "exit %d, stderr %s", rc, ERR);
    rc = cli(NULL, "compare 1 2 --db '%s'", ro);
    CHECKF(rc == 0 && has(OUT, "+10"), "exit %d, stderr %s", rc, ERR);
    rc = cli(NULL, "check --db '%s' --run 2 --baseline 1 --fail-on fid:+50%%", ro);
    CHECKF(rc == 0 && has(OUT, "check: pass"), "exit %d, stdout %s stderr %s", rc, OUT, ERR);
    rc = cli(NULL, "fid-stats 1 --out %s/x.npz --db '%s'", T, ro);   // no features stored
    CHECKF(rc == 2 && has(ERR, "statistics need at least 2"), "exit %d, stderr %s", rc, ERR);
    CHECK(!exists(wal));
    // With a write-ahead log that cannot be read, it is refused rather than read stale.
    snprintf(cmd, sizeof cmd, "chmod 755 '%s' && echo junk > '%s' && chmod 555 '%s'", dir, wal, dir);
    CHECK(system(cmd) == 0);
    rc = cli(NULL, "list --db '%s'", ro);
    CHECKF(rc == 2 && has(ERR, "write-ahead log") && has(ERR, wal), "exit %d, stderr %s", rc, ERR);
    WRAP = "";
    snprintf(cmd, sizeof cmd, "chmod 700 '%s' '%s'", dir, T);
    CHECK(system(cmd) == 0);
}

TEST(test_export_junit_full_disk) {
    // glibc drops the buffer after a failed write, so fclose returned 0: exit 0 and a 0-byte
    // (or truncated) file.
    char out[300], junit[300], spec[400] = "", db[300], cmd[800];
    tp(out, sizeof out, "export.json");
    tp(junit, sizeof junit, "junit.xml");
    // A rollback-journal copy: reading a WAL database under `ulimit -f 1` already fails when
    // SQLite sizes its -shm file.
    tp(db, sizeof db, "results_nowal.db");
    snprintf(cmd, sizeof cmd, "cp %s %s", RDB, db);
    CHECK(system(cmd) == 0);
    sqlite3 *s = NULL;
    CHECK(sqlite3_open(db, &s) == SQLITE_OK);
    CHECK(sqlite3_exec(s, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(s);
    int rc = cli("trap '' XFSZ; ulimit -f 1", "export 1 --db %s --out %s", db, out);
    CHECKF(rc == 2 && has(ERR, out) && has(ERR, "write failed"), "exit %d, stderr %s", rc, ERR);
    CHECKF(!exists(out), "%s left behind", out);
    CHECK(cli(NULL, "export 1 --db %s --out %s", RDB, out) == 0 && exists(out));
    // 32 failing rules: a JUnit report larger than the stdio buffer.
    for (int i = 0; i < 32; i++) strcat(spec, i ? ",fid:+0" : "fid:+0");
    rc = cli("trap '' XFSZ; ulimit -f 1", "check --db %s --run 2 --baseline 1 --fail-on %s "
                                          "--junit %s", db, spec, junit);
    CHECKF(rc == 2 && has(ERR, junit) && has(ERR, "write failed"), "exit %d, stderr %s", rc, ERR);
    CHECKF(!exists(junit), "%s left behind", junit);
    rc = cli(NULL, "check --db %s --run 2 --baseline 1 --fail-on %s --junit %s", RDB, spec, junit);
    CHECK(rc == 1 && exists(junit));
}

TEST(test_check_errors_on_stderr) {
    int rc = cli(NULL, "check --db %s --baseline 999 --fail-on is:-1", RDB);
    CHECKF(rc == 2 && has(OUT, "ERROR database") && has(ERR, "ERROR database") &&
               has(ERR, "no run 999"),
           "exit %d, stdout %s, stderr %s", rc, OUT, ERR);
    rc = cli(NULL, "check --db %s --baseline 1 --fail-on time.total:+10%% --json", RDB);
    CHECKF(rc == 2 && has(ERR, "metric time.total missing") && has(OUT, "\"error\""),
           "exit %d, stdout %s, stderr %s", rc, OUT, ERR);
}

TEST(test_run_id_usage_errors) {
    const char *bad[] = {"show abc", "show 0", "compare 1 abc", "export x",
                         "fid-stats abc --out /nonexistent/x.npz", "check --run abc --baseline 1 "
                         "--fail-on is:-1", "show 99999999999999999999"};
    const char *arg[] = {"'abc'", "'0'", "'abc'", "'x'", "'abc'", "'abc'",
                         "'99999999999999999999'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cli(NULL, "%s --db %s", bad[i], RDB);
        CHECKF(rc == 4 && has(ERR, arg[i]) && has(ERR, "not a run id"), "%s: exit %d, stderr %s",
               bad[i], rc, ERR);
    }
    // A well-formed id that is not stored stays an error (exit 2).
    CHECK(cli(NULL, "show 5 --db %s", RDB) == 2 && has(ERR, "no run 5"));
    CHECK(cli(NULL, "show 1 --db %s", RDB) == 0);
}

TEST(test_fail_on_unknown_metric) {
    const char *bad[] = {"foo:1", "time.bogus:+10%", "is:-1,time.store:+1", "IS-1:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cli(NULL, "check --db %s --run 2 --baseline 1 --fail-on '%s'", RDB, bad[i]);
        CHECKF(rc == 4 && has(ERR, "unknown metric"), "%s: exit %d, stderr %s", bad[i], rc, ERR);
    }
    // Names as the tables print them, in any case.
    CHECK(cli(NULL, "check --db %s --run 2 --baseline 1 --fail-on IS:-1,Fid:+100", RDB) == 0);
    CHECK(cli(NULL, "check --db %s --run 2 --baseline 1 --fail-on is:0x10", RDB) == 4);
    CHECK(cli(NULL, "check --db %s --run 2 --baseline 1 --fail-on images:0,time.generate:+10%%,"
                    "is:-1,rp:-1%%", RDB) == 0);
}

#define RUN_ARGS "--suite suites/cub_smoke.suite --protocol suites/protocols/smoke.json "
TEST(test_run_option_messages) {
    char db[300];
    tp(db, sizeof db, "run_opts.db");
    struct { const char *args, *msg; } c[] = {
        {"--model suites/models/demo_bird.json --batch 4294967297", "--batch 4294967297"},
        {"--model suites/models/demo_bird.json --threads 4294967297", "--threads 4294967297"},
        {"--model suites/models/demo_bird.json --batch 0", "--batch 0"},
        {"--model suites/models/demo_bird.json --threads 0", "--threads 0"},
        {"--model suites/models/demo_bird.json --limit -1", "--limit -1"},
        {"--model suites/models/demo_bird.json stray", "unexpected argument 'stray'"},
        {"", "--model"},
        {"--model suites/models/demo_bird.json --kid-ref a.npy --kid-reference b.npy",
         "--kid-ref is the old spelling of --kid-reference"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc = cli(NULL, "run " RUN_ARGS "%s --db %s -q", c[i].args, db);
        CHECKF(rc == 4 && has(ERR, c[i].msg) && has(ERR, "usage:"), "%s: exit %d, stderr %s",
               c[i].args, rc, ERR);
    }
    int rc = cli(NULL, "eval-images " RUN_ARGS "--db %s -q", db);
    CHECKF(rc == 4 && has(ERR, "--images"), "exit %d, stderr %s", rc, ERR);
    rc = cli(NULL, "run --model suites/models/demo_bird.json --db %s", db);
    CHECKF(rc == 4 && has(ERR, "--suite"), "exit %d, stderr %s", rc, ERR);
    // The old spelling --kid-ref still reaches the KID reference (checked before any work).
    rc = cli(NULL, "run " RUN_ARGS "--model suites/models/demo_bird.json --kid-ref %s/no.npy "
                   "--db %s -q", T, db);
    CHECKF(rc == 2 && has(ERR, "--kid-reference") && has(ERR, "no.npy"), "exit %d, stderr %s",
           rc, ERR);
    CHECK(!exists(db));
}

// The first commands a newcomer types: a missing argument or a wrong path is said in one line
// before the usage, naming the option.
TEST(test_first_command_messages) {
    char db[300];
    tp(db, sizeof db, "first.db");
    struct { const char *args, *msg; int rc; } c[] = {
        {"compare 1", "give at least two runs to compare", 4},
        {"compare 1 2 --resamples 0", "--resamples must be 1..1000000", 4},
        {"check --baseline 1", "--baseline and --fail-on are required", 4},
        {"check 2 --baseline 1 --fail-on is:-1", "unexpected argument '2' (the run to check is "
                                                 "--run RUN)", 4},
        {"report", "give the run(s) to report", 4},
        {"report 1", "--out DIR is required", 4},
        {"report 1 --out x --worst 101", "--worst must be 0..100", 4},
        {"fid-stats /nonexistent/imgs --protocol p --evaluators e --out x.npz",
         "'/nonexistent/imgs' is not a run id (a number, or 'latest') and not a folder of "
         "images (No such file or directory)", 4},
        {"run " RUN_ARGS "--model nope.json", "--model: nope.json: cannot open", 2},
        {"run --suite nope.suite --protocol suites/protocols/smoke.json --model "
         "suites/models/demo_bird.json", "--suite: nope.suite: cannot open", 2},
        {"run " RUN_ARGS "--model suites/models/demo_bird.json --evaluators nope.json",
         "--evaluators: nope.json: cannot open", 2},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int rc = cli(NULL, "%s --db %s", c[i].args, db);
        CHECKF(rc == c[i].rc && has(ERR, c[i].msg), "%s: exit %d, stderr %s", c[i].args, rc, ERR);
    }
    // A card whose released weight file is not in place says where the README tells.
    char card[300], cwd[1024];
    tp(card, sizeof card, "missing_weights.json");
    FILE *f = fopen(card, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "{\"name\": \"m\", \"dataset\": \"cub\", \"generator\": {\"weights\": "
                   "\"%s/none.pth\", \"config\": {\"GF_DIM\": 32, \"Z_DIM\": 100, "
                   "\"CONDITION_DIM\": 100, \"EMBEDDING_DIM\": 256, \"R_NUM\": 2, "
                   "\"BRANCH_NUM\": 3}}, \"text_encoder\": {\"weights\": "
                   "\"hash:attngan-oracle-hash-v1\", \"config\": {\"ntoken\": 5450, "
                   "\"ninput\": 300, \"nhidden\": 256}}, \"vocabulary\": "
                   "\"%s/suites/vocab/cub_test.vocab.txt\", \"WORDS_NUM\": 18}\n",
                T, getcwd(cwd, sizeof cwd) ? cwd : ".");
        fclose(f);
    }
    int rc = cli(NULL, "run " RUN_ARGS "--model %s --evaluators suites/evaluators/demo_cub.json "
                       "--db %s -q", card, db);
    CHECKF(rc == 2 && has(ERR, "model.generator: ") && has(ERR, "none.pth: cannot open") &&
               has(ERR, "released weights are not shipped: README.md"),
           "exit %d, stderr %s", rc, ERR);
    CHECK(!exists(db));
}

TEST(test_eval_images_ambiguous_files) {
    // 0.jpg and 000000.jpg (or 0.png and 0.jpg): one was picked silently.
    char dir[300], a[340], b[340], db[300];
    tp(dir, sizeof dir, "dup");
    tp(db, sizeof db, "dup.db");
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(a, sizeof a, "%s/0.jpg", dir);
    snprintf(b, sizeof b, "%s/000000.jpg", dir);
    CHECK(write_jpeg(a, 256, 256) == 0 && write_jpeg(b, 256, 256) == 0);
    int rc = cli(NULL, "eval-images " RUN_ARGS "--evaluators suites/evaluators/demo_cub.json "
                       "--images %s --limit 1 --db %s -q", dir, db);
    CHECKF(rc == 2 && has(ERR, a) && has(ERR, b), "exit %d, stderr %s", rc, ERR);
    remove(b);
    snprintf(b, sizeof b, "%s/0.png", dir);
    CHECK(write_jpeg(b, 256, 256) == 0);
    rc = cli(NULL, "eval-images " RUN_ARGS "--evaluators suites/evaluators/demo_cub.json "
                   "--images %s --limit 1 --db %s -q", dir, db);
    CHECKF(rc == 2 && has(ERR, a) && has(ERR, b), "exit %d, stderr %s", rc, ERR);
}

TEST(test_export_format_default) {
    // The usage said --format was required; it defaults to json.
    CHECK(cli(NULL, "export --help") == 0 && has(OUT, "[--format json|csv|md]"));
    int rc = cli(NULL, "export 1 --db %s", RDB);
    CHECKF(rc == 0 && has(OUT, "t2ibench-run/1"), "exit %d, stderr %s", rc, ERR);
    rc = cli(NULL, "export 1 --format xml --db %s", RDB);
    CHECKF(rc == 4 && has(ERR, "--format xml"), "exit %d, stderr %s", rc, ERR);
}

TEST(test_text_metric_value_refused) {
    // A text value in metrics.value was read as 0 by show/compare.
    char h[300], cmd[800];
    tp(h, sizeof h, "hostile.db");
    snprintf(cmd, sizeof cmd, "cp %s %s", RDB, h);
    CHECK(system(cmd) == 0);
    sqlite3 *s = NULL;
    CHECK(sqlite3_open(h, &s) == SQLITE_OK);
    CHECK(sqlite3_exec(s, "UPDATE metrics SET value = 'abc' WHERE run = 2 AND name = 'fid'", NULL,
                       NULL, NULL) == SQLITE_OK);
    sqlite3_close(s);
    int rc = cli(NULL, "show 2 --db %s", h);
    CHECKF(rc == 2 && has(ERR, h) && has(ERR, "run 2") && has(ERR, "metric fid"),
           "exit %d, stdout %s stderr %s", rc, OUT, ERR);
    rc = cli(NULL, "compare 1 2 --db %s", h);
    CHECKF(rc == 2 && has(ERR, "metric fid") && !has(OUT, "-30"), "exit %d, stderr %s", rc, ERR);
    CHECK(cli(NULL, "show 1 --db %s", h) == 0);
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2i_cli_errors_XXXXXX");
    if (!mkdtemp(T)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_help_exits_0);
    RUN(test_duplicate_option_named);
    RUN(test_metric_option_ranges);
    RUN(test_metric_bad_arrays_named);
    RUN(test_save_stats_keeps_earlier_file);
    RUN(test_generate_png_full_disk);
    RUN(test_read_directory_message);
    RUN(test_truncated_jpeg_refused);
    RUN(test_generate_argument_errors);
    RUN(test_bench_option_ranges);
    RUN(test_text_vocab_message);
    RUN(test_out_not_regular_file);
    RUN(test_freeze_no_mismatch_candidates);
    RUN(test_invalid_results_refused);
    RUN(test_stdout_write_failure);
    RUN(test_safetensors_shape_overflow);
    snprintf(RDB, sizeof RDB, "%s/results.db", T);
    make_results_db(RDB);
    RUN(test_readonly_wal_db_readable);
    RUN(test_export_junit_full_disk);
    RUN(test_check_errors_on_stderr);
    RUN(test_run_id_usage_errors);
    RUN(test_fail_on_unknown_metric);
    RUN(test_run_option_messages);
    RUN(test_first_command_messages);
    RUN(test_eval_images_ambiguous_files);
    RUN(test_export_format_default);
    RUN(test_text_metric_value_refused);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", T);
    return test_report("test_cli_errors");
}
