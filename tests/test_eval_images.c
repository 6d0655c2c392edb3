// test_eval_images.c -- eval-images on any folder and fid-stats from a folder, checked against
// pytorch-fid's pipeline on real photographs.
//
// tests/fixtures/holdout: ten real photographs of assorted sizes (64x48 ... 741x500; JPEG, PNG,
// WebP, one greyscale; crops of the photographs Debian's python3-skimage ships) and the outputs
// of tools/fid_reference.py, which runs pytorch-fid's steps in torch (PIL, ToTensor, bilinear
// F.interpolate to 299 with align_corners=False, 2x-1, the FID Inception on hash weights):
// features.npy (per image pool3) and reference.json (file order, FID of the first half against
// the second half). Tolerances of the issue: per-image features 1e-4, FID 1e-4 relative.
// Also: the folder mode (recursion, sort order, skipped entries and symlink loops reported),
// the --mapping file, the pixel limit and --fid-stats from the command line.
#include "test.h"
#include "cli_test.h"

#include "evaluators.h"
#include "fid.h"
#include "image_io.h"
#include "image_set.h"
#include "inception.h"
#include "npy.h"
#include "protocol.h"
#include "runner_images.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDIR "tests/fixtures/holdout/"
#define PROTO_PTFID "suites/protocols/pytorch-fid.json"
#define EVAL_TF "suites/evaluators/demo_cub_tf2015.json"

static cJSON *ref_json;
static NpyArray ref_feat;
static int n_files;

static const char *ref_file(int i) {
    return cJSON_GetArrayItem(cJSON_GetObjectItem(ref_json, "files"), i)->valuestring;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;   // NaN propagates
    }
    return m;
}

TEST(holdout_features_and_fid_match_pytorch_fid) {
    Protocol P;
    EvalCard E;
    memset(&P, 0, sizeof P);
    memset(&E, 0, sizeof E);
    CHECK(protocol_load(PROTO_PTFID, &P) == T2I_OK);
    CHECK(evalcard_load(EVAL_TF, &E) == T2I_OK);
    Inception *net = NULL;
    U8Map map;
    CHECKF(runner_fid_net(&P, &E, &net, &map) == T2I_OK, "%s", t2i_errmsg());
    float *feat = t2i_calloc((size_t)n_files * 2048, sizeof(float));
    float *x = t2i_malloc(sizeof(float) * 3 * 299 * 299);
    double worst = 0;
    for (int i = 0; net && i < n_files; i++) {
        char p[512];
        snprintf(p, sizeof p, HDIR "%s", ref_file(i));
        uint8_t *px = NULL;
        int H = 0, W = 0;
        CHECKF(image_read_rgb_opts(p, NULL, &px, &H, &W, NULL) == T2I_OK, "%s", t2i_errmsg());
        CHECK(image_to_input(px, H, W, P.fid_resize, map, 299, 299, x) == T2I_OK);
        InceptionOut io;
        memset(&io, 0, sizeof io);
        io.pool3 = feat + (size_t)i * 2048;
        CHECK(inception_forward(net, x, 1, &io) == T2I_OK);
        double d = max_abs_diff(io.pool3, (const float *)ref_feat.data + (size_t)i * 2048, 2048);
        CHECKF(d <= 1e-4, "%s (%dx%d): pool3 max |diff| %.3g", ref_file(i), W, H, d);
        if (!(d <= worst)) worst = d;
        t2i_free(px);
    }
    int h = cJSON_GetObjectItem(ref_json, "split")->valueint;
    double want = cJSON_GetObjectItem(ref_json, "fid_first_half_vs_second_half")->valuedouble;
    FidStats a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    FidResult fr;
    memset(&fr, 0, sizeof fr);
    CHECK(fid_stats_from_features(feat, DT_F32, h, 2048, &a) == T2I_OK);
    CHECK(fid_stats_from_features(feat + (size_t)h * 2048, DT_F32, n_files - h, 2048, &b) ==
          T2I_OK);
    CHECK(fid_from_stats(&a, &b, &fr) == T2I_OK);
    CHECK_CLOSE(fr.fid, want, 0, 1e-4);
    printf("  holdout: %d photographs, pool3 max |diff| %.3g (tol 1e-4), FID %.8g vs pytorch-fid "
           "%.8g (rel %.2g, tol 1e-4)\n",
           n_files, worst, fr.fid, want, fabs(fr.fid - want) / fabs(want));
    fid_stats_free(&a);
    fid_stats_free(&b);
    t2i_free(feat);
    t2i_free(x);
    inception_free(net);
    evalcard_free(&E);
    protocol_free(&P);
}

static double q_double(const char *db, const char *sql) {
    char v[64];
    q_text(db, sql, v, sizeof v);
    return v[0] ? atof(v) : NAN;
}

TEST(holdout_through_the_command_line) {
    // The folder as eval-images sees it: every feature row in sorted-path order equals the
    // reference; fid-stats on one half and eval-images --fid-stats on the other give the FID.
    char db[300], a[300], b[300], npz[300];
    snprintf(db, sizeof db, "%s/h.db", T);
    snprintf(a, sizeof a, "%s/half_a", T);
    snprintf(b, sizeof b, "%s/half_b", T);
    snprintf(npz, sizeof npz, "%s/b.npz", T);
    int rc = sh("%s eval-images " HDIR " --protocol " PROTO_PTFID " --evaluators " EVAL_TF
                " --db %s -q --threads 2",
                BIN, db);
    CHECKF(rc == 0, "%s", OUT);
    sqlite3 *d = dbo(db, NULL);
    sqlite3_stmt *st = NULL;
    int rows = 0;
    double worst = 0;
    if (d && sqlite3_prepare_v2(d, "SELECT sample, fid_feat FROM samples WHERE run = 1 ORDER BY "
                                   "sample", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            int s = sqlite3_column_int(st, 0);
            if (s >= n_files || sqlite3_column_bytes(st, 1) != 2048 * 4) break;
            double m = max_abs_diff(sqlite3_column_blob(st, 1),
                                    (const float *)ref_feat.data + (size_t)s * 2048, 2048);
            if (!(m <= worst)) worst = m;
            rows++;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(d);
    CHECKF(rows == n_files && worst <= 1e-4, "%d rows, max |diff| %.3g", rows, worst);
    int h = cJSON_GetObjectItem(ref_json, "split")->valueint;
    CHECK(sh("mkdir -p %s %s", a, b) == 0);
    for (int i = 0; i < n_files; i++)   // flattened names keep the order within each half
        sh("cp " HDIR "%s %s/%02d_%s", ref_file(i), i < h ? a : b, i,
           strrchr(ref_file(i), '/') ? strrchr(ref_file(i), '/') + 1 : ref_file(i));
    rc = sh("%s fid-stats %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --out %s --features %s/b.npy -q",
            BIN, b, npz, T);
    CHECKF(rc == 0 && strstr(OUT, "from 5 images"), "%s", OUT);
    rc = sh("%s eval-images %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --fid-stats %s --kid-reference %s/b.npy --db %s -q",
            BIN, a, npz, T, db);
    CHECKF(rc == 0, "%s", OUT);
    double fid = q_double(db, "SELECT value FROM metrics WHERE run = 2 AND name = 'fid'");
    double want = cJSON_GetObjectItem(ref_json, "fid_first_half_vs_second_half")->valuedouble;
    CHECK_CLOSE(fid, want, 0, 1e-4);
    // KID with subsets as large as the halves: every subset is the whole half, no draw matters.
    double kid = q_double(db, "SELECT value FROM metrics WHERE run = 2 AND name = 'kid'");
    double kwant = cJSON_GetObjectItem(ref_json, "kid_first_half_vs_second_half")->valuedouble;
    CHECK_CLOSE(kid, kwant, 1e-9, 1e-4);
    printf("  holdout KID %.9g vs torch-fidelity's estimator in numpy %.9g\n", kid, kwant);
    char prov[8192];
    q_text(db, "SELECT provenance FROM runs WHERE id = 2", prov, sizeof prov);
    CHECKF(strstr(prov, "b.npz") != NULL, "the statistics file is in the provenance");
    // A missing statistics file is named.
    rc = sh("%s eval-images %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --fid-stats %s/nope.npz --db %s -q",
            BIN, a, T, db);
    CHECKF(rc != 0 && strstr(OUT, "nope.npz"), "%s", OUT);
    rc =
        sh("%s run --suite suites/cub_smoke.suite --model suites/models/demo_bird.json "
           "--protocol " PROTO_PTFID " --evaluators " EVAL_TF " --fid-stats %s/nope.npz --db %s -q",
           BIN, T, db);
    CHECKF(rc != 0 && strstr(OUT, "--fid-stats") && strstr(OUT, "nope.npz"), "%s", OUT);
    // Another batch size and thread count give the same bytes (run 3 vs run 1; --new: the
    // same command of a complete run is otherwise a no-op).
    rc = sh("%s eval-images " HDIR " --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --db %s -q --threads 1 --batch 3 --new",
            BIN, db);
    CHECKF(rc == 0, "%s", OUT);
    CHECK(q_int(db, "SELECT count(*) FROM samples x JOIN samples y ON x.sample = y.sample WHERE"
                    " x.run = 1 AND y.run = 3 AND x.fid_feat = y.fid_feat AND"
                    " x.image_sha256 = y.image_sha256") == n_files);
    // --flip: each image and its mirror
    rc = sh("%s fid-stats %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --out %s/f.npz --features %s/f.npy --flip -q",
            BIN, b, T, T);
    CHECKF(rc == 0 && strstr(OUT, "flip-augmented") && strstr(OUT, "features (10, 2048)"), "%s",
           OUT);
}

TEST(folder_mode_lists_sorts_and_reports) {
    char dir[300], db[300];
    snprintf(dir, sizeof dir, "%s/folder", T);
    snprintf(db, sizeof db, "%s/f.db", T);
    // b/ before c.png, nested folders, a text file, a GIF, a symlink loop and a broken link
    CHECK(sh("mkdir -p %s/b/deeper %s/a && cp tests/fixtures/images/png_rgb8.png %s/c.png && "
             "cp tests/fixtures/images/jpeg_gray.jpg %s/b/x.jpg && "
             "cp tests/fixtures/images/webp_lossy.webp %s/b/deeper/y.webp && "
             "cp tests/fixtures/images/bmp_rle4.bmp %s/a/z.bmp && echo hello > %s/notes.txt && "
             "printf 'GIF89a....' > %s/anim.gif && ln -s .. %s/b/deeper/up && "
             "ln -s missing %s/dangling.png",
             dir, dir, dir, dir, dir, dir, dir, dir, dir, dir) == 0);
    ImageSet s;
    int rc = image_set_scan(dir, 1, &s);
    CHECKF(rc == T2I_OK && s.n == 4 && s.n_skipped == 4, "rc %d n %lld skipped %lld", rc,
           (long long)s.n, (long long)s.n_skipped);
    if (!rc && s.n == 4) {
        CHECK(strstr(s.path[0], "/a/z.bmp") && strstr(s.path[1], "/b/deeper/y.webp") &&
              strstr(s.path[2], "/b/x.jpg") && strstr(s.path[3], "/c.png"));
    }
    image_set_free(&s);
    rc = sh("%s eval-images %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF " --db %s", BIN,
            dir, db);
    CHECKF(rc == 0 && strstr(OUT, "notes.txt: not an image") && strstr(OUT, "anim.gif: GIF") &&
               strstr(OUT, "symlink loop") && strstr(OUT, "dangling.png: broken symlink") &&
               strstr(OUT, "4 images, 4 entries skipped"),
           "%s", OUT);
    CHECK(q_int(db, "SELECT count(*) FROM samples WHERE run = 1 AND length(fid_feat) = 8192") == 4);
    char kind[64], suite[64];
    q_text(db, "SELECT kind FROM runs WHERE id = 1", kind, sizeof kind);
    q_text(db, "SELECT suite FROM runs WHERE id = 1", suite, sizeof suite);
    CHECK(!strcmp(kind, "eval-images") && !strcmp(suite, "folder"));
    // The same command again resumes/finds the complete run rather than scoring other files.
    // A sample image that is a symlink loop is named as such (suite mode).
    rc = sh("mkdir -p %s/loop && ln -s 0.png %s/loop/0.png.tmp && mv %s/loop/0.png.tmp "
            "%s/loop/0.png && %s eval-images %s/loop --suite suites/cub_smoke.suite --protocol "
            "suites/protocols/smoke.json --evaluators suites/evaluators/demo_cub.json --db %s -q "
            "--limit 1",
            T, T, T, T, BIN, T, db);
    CHECKF(rc != 0 && strstr(OUT, "0.png") && strstr(OUT, "symbolic links"), "%s", OUT);
    // A folder without images, and no --evaluators without a suite, are clear errors.
    rc = sh("mkdir -p %s/empty && %s eval-images %s/empty --protocol " PROTO_PTFID
            " --evaluators " EVAL_TF " --db %s -q",
            T, BIN, T, db);
    CHECKF(rc != 0 && strstr(OUT, "no image found"), "%s", OUT);
    rc = sh("%s eval-images %s --protocol " PROTO_PTFID " --db %s -q", BIN, dir, db);
    CHECKF(rc != 0 && strstr(OUT, "--evaluators"), "%s", OUT);
}

TEST(pixel_limit_from_the_command_line) {
    char dir[300], db[300];
    snprintf(dir, sizeof dir, "%s/big", T);
    snprintf(db, sizeof db, "%s/p.db", T);
    CHECK(sh("mkdir -p %s && cp " HDIR "coffee_500x375.jpg " HDIR "coffee_crop_64x48.png %s/", dir,
             dir) == 0);
    int rc = sh("%s eval-images %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
                " --db %s -q --max-pixels 100000",
                BIN, dir, db);
    CHECKF(rc != 0 && strstr(OUT, "coffee_500x375.jpg") && strstr(OUT, "megapixels") &&
               strstr(OUT, "--max-pixels"),
           "%s", OUT);
    // refused from the headers before the run is even created
    CHECK(q_int(db, "SELECT count(*) FROM runs") <= 0);
    rc = sh("%s eval-images %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --db %s -q --max-pixels 187500",
            BIN, dir, db);
    CHECKF(rc == 0, "%s", OUT);
    rc = sh("%s fid-stats %s --protocol " PROTO_PTFID " --evaluators " EVAL_TF
            " --out %s/x.npz --max-pixels 1000",
            BIN, dir, T);
    CHECKF(rc != 0 && strstr(OUT, "coffee_500x375.jpg"), "%s", OUT);
}

// eval-images with mapping `text` must fail with both strings in its message.
static int map_refused(const char *lay, const char *suite, const char *map, const char *db,
                       int limit, const char *text, const char *s1, const char *s2) {
    write_file(map, text);
    int rc = sh("%s eval-images %s --suite %s --mapping %s --protocol suites/protocols/smoke.json "
                "--evaluators suites/evaluators/demo_cub.json --db %s -q --limit %d",
                BIN, lay, suite, map, db, limit);
    if (rc != 0 && strstr(OUT, s1) && strstr(OUT, s2)) return 1;
    fprintf(stderr, "    mapping \"%s\": exit %d: %s", text, rc, OUT);
    return 0;
}

TEST(mapping_file_matches_any_layout) {
    // A suite run with --images-out writes <id>.png; moving them into AttnGAN's class/xxx_s0.png
    // layout and giving a mapping must reproduce the by-id results exactly.
    char suite[300], db[300], img[300], lay[300], map[300];
    snprintf(suite, sizeof suite, "%s/m.suite", T);
    snprintf(db, sizeof db, "%s/m.db", T);
    snprintf(img, sizeof img, "%s/m_img", T);
    snprintf(lay, sizeof lay, "%s/m_layout", T);
    snprintf(map, sizeof map, "%s/map.tsv", T);
    int rc = sh("%s suite freeze --captions suites/data/cub/test_captions.tsv --protocol "
                "suites/protocols/smoke.json --vocab suites/vocab/cub_test.vocab.txt --dataset cub "
                "--seed 3 --images 6 --block-size 3 --name m --out %s",
                BIN, suite);
    CHECKF(rc == 0, "%s", OUT);
    rc = sh("%s run --suite %s --model suites/models/demo_bird.json --protocol "
            "suites/protocols/smoke.json --evaluators suites/evaluators/demo_cub.json --db %s -q "
            "--limit 6 --images-out %s",
            BIN, suite, db, img);
    CHECKF(rc == 0, "%s", OUT);
    FILE *f = fopen(map, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "path\tsample_id\n# AttnGAN layout\n");
    for (int i = 5; i >= 0; i--) {   // any order
        sh("mkdir -p %s/%03d.Class && cp %s/%d.png %s/%03d.Class/bird_%d_s0.png", lay, i % 2, img,
           i, lay, i % 2, i);
        fprintf(f, "%03d.Class/bird_%d_s0.png\t%d\n", i % 2, i, i);
    }
    fclose(f);
    rc = sh("%s eval-images %s --suite %s --protocol suites/protocols/smoke.json "
            "--evaluators suites/evaluators/demo_cub.json --db %s -q --limit 6",
            BIN, img, suite, db);
    CHECKF(rc == 0, "%s", OUT);
    rc = sh("%s eval-images %s --suite %s --mapping %s --protocol suites/protocols/smoke.json "
            "--evaluators suites/evaluators/demo_cub.json --db %s -q --limit 6",
            BIN, lay, suite, map, db);
    CHECKF(rc == 0, "%s", OUT);
    // run 1 (generated) vs 3 (mapping): IS logits and image bytes (R-precision of a run scores
    // the float images); run 2 (by id) vs 3 (mapping): everything.
    CHECK(q_int(db, "SELECT count(*) FROM samples x JOIN samples y ON x.sample = y.sample WHERE"
                    " x.run = 1 AND y.run = 3 AND x.is_logits = y.is_logits AND"
                    " x.image_sha256 = y.image_sha256") == 6);
    CHECK(q_int(db, "SELECT count(*) FROM samples x JOIN samples y ON x.sample = y.sample WHERE"
                    " x.run = 2 AND y.run = 3 AND x.is_logits = y.is_logits AND x.rp_scores ="
                    " y.rp_scores AND x.rp_rank = y.rp_rank AND x.image_sha256 = y.image_sha256")
          == 6);
    // Errors name the mapping file and the line.
    CHECK(map_refused(lay, suite, map, db, 2,
                      "000.Class/bird_0_s0.png\t0\n000.Class/bird_0_s0.png\t0\n", "map.tsv:2",
                      "already has an image"));
    CHECK(map_refused(lay, suite, map, db, 2, "000.Class/bird_0_s0.png\t0\n", "map.tsv",
                      "no line for sample 1"));
    CHECK(map_refused(lay, suite, map, db, 1, "000.Class/bird_0_s0.png 0\n", "map.tsv:1",
                      "PATH<TAB>SAMPLE_ID"));
    CHECK(map_refused(lay, suite, map, db, 1, "nope.png\t0\n", "map.tsv:1", "nope.png"));
    CHECK(map_refused(lay, suite, map, db, 1, "000.Class/bird_0_s0.png\t99999\n", "map.tsv:1",
                      "not in the suite"));
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2i_evalimg_XXXXXX");
    if (!mkdtemp(T)) return perror("mkdtemp"), 1;
    char *js = read_all(HDIR "reference.json");
    ref_json = js ? cJSON_Parse(js) : NULL;
    t2i_free(js);
    if (!ref_json || npy_load_f32(HDIR "features.npy", &ref_feat)) {
        fprintf(stderr, "cannot read the holdout reference in " HDIR "\n");
        return 1;
    }
    n_files = cJSON_GetArraySize(cJSON_GetObjectItem(ref_json, "files"));
    RUN(holdout_features_and_fid_match_pytorch_fid);
    RUN(holdout_through_the_command_line);
    RUN(folder_mode_lists_sorts_and_reports);
    RUN(pixel_limit_from_the_command_line);
    RUN(mapping_file_matches_any_layout);
    cJSON_Delete(ref_json);
    npy_free(&ref_feat);
    if (!test_failed) sh("rm -rf %s", T);
    return test_report("test_eval_images");
}
