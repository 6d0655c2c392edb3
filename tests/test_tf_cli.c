// test_tf_cli.c -- the TensorFlow weight files through the t2ibench binary: `tensors` on each TF
// file kind (V1 file, V2 prefix and .index, GraphDef) and on a damaged one, `verify` on the
// inception_slim fixture, and the attngan-2018 / dmgan-2020 protocols end to end on the CUB
// slim-cub demo card (hash weights under the TF names), plus a slim-cub card whose TF file lacks
// the classifier's variables.
#include "test.h"
#include "cli_test.h"

#include <unistd.h>

#define TFIX "tests/fixtures/tf/"

TEST(tensors_lists_every_kind) {
    struct {
        const char *file, *format, *name;
    } k[] = {{TFIX "v1_small.ckpt", "tf-checkpoint-v1", "conv0/weights/ExponentialMovingAverage"},
             {TFIX "v2_small.ckpt", "tf-checkpoint-v2", "many/t39"},
             {TFIX "v2_small.ckpt.index", "tf-checkpoint-v2", "b/big"},
             {TFIX "graph_small.pb", "tf-graphdef", "conv/conv2d_params"}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        int rc = sh("%s tensors %s", BIN, k[i].file);
        CHECKF(rc == 0 && strstr(OUT, k[i].format) && strstr(OUT, k[i].name) &&
                   strstr(OUT, "skipped 1 tensor"),
               "%s: rc %d: %s", k[i].file, rc, OUT);
    }
    int rc = sh("%s tensors --json %s", BIN, TFIX "v2_small.ckpt");
    CHECKF(rc == 0 && strstr(OUT, "\"skipped_non_numeric\":\t1"), "%s", OUT);
}

TEST(tensors_refuses_damaged_file) {
    char p[512];
    snprintf(p, sizeof p, "%s/cut.ckpt", T);
    CHECK(sh("head -c 1000 %s > %s", TFIX "v1_small.ckpt", p) == 0);
    int rc = sh("%s tensors %s", BIN, p);
    CHECKF(rc == 2 && strstr(OUT, "cut.ckpt"), "rc %d: %s", rc, OUT);
    rc = sh("%s tensors %s/nothing.ckpt", BIN, T);   // neither a file nor a V2 prefix
    CHECKF(rc == 2 && strstr(OUT, "nothing.ckpt"), "rc %d: %s", rc, OUT);
}

TEST(verify_slim_fixture) {
    char dir[512];
    test_fixture_path(dir, sizeof dir, "inception_slim");
    if (access(dir, R_OK) != 0) {
        printf("  skip: %s not found\n", dir);
        return;
    }
    int rc = sh("%s verify %s", BIN, dir);
    CHECKF(rc == 0 && strstr(OUT, "0 failing output(s), 0 error(s)"), "rc %d: %s", rc, OUT);
}

// Both published CUB protocols run on the slim-cub card; the IS rows hold the 51 logits.
TEST(protocols_run_on_slim_cub_card) {
    const char *protos[] = {"attngan-2018", "dmgan-2020"};
    for (int i = 0; i < 2; i++) {
        char db[512];
        snprintf(db, sizeof db, "%s/%s.db", T, protos[i]);
        int rc = sh("%s run --suite suites/cub_smoke.suite --model suites/models/demo_bird.json "
                    "--protocol suites/protocols/%s.json --evaluators "
                    "suites/evaluators/demo_cub_slim.json --db %s --limit 2 -q",
                    BIN, protos[i], db);
        CHECKF(rc == 0, "%s: rc %d: %s", protos[i], rc, OUT);
        CHECK(q_int(db, "SELECT count(*) FROM samples WHERE length(is_logits) = 51 * 4") == 2);
        CHECK(q_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'") == 1);
    }
}

// Without --evaluators, a protocol that wants slim-cub on CUB gets the slim-cub card.
TEST(default_card_follows_classifier) {
    char db[512];
    snprintf(db, sizeof db, "%s/default.db", T);
    int rc = sh("%s run --suite suites/cub_smoke.suite --model suites/models/demo_bird.json "
                "--protocol suites/protocols/attngan-2018.json --db %s --limit 1",
                BIN, db);
    CHECKF(rc == 0 && strstr(OUT, "using suites/evaluators/demo_cub_slim.json"), "rc %d: %s", rc,
           OUT);
}

TEST(slim_card_with_wrong_tf_file) {
    char card[512], cwd[2048];
    snprintf(card, sizeof card, "%s/bad_slim.json", T);
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    FILE *f = fopen(card, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f,
            "{\"format\": \"t2ibench-evaluators/1\", \"name\": \"bad-slim\", \"dataset\": \"cub\",\n"
            " \"notes\": \"a TF checkpoint without the classifier's variables\",\n"
            " \"inception_score\": {\"variant\": \"slim-cub\", \"weights\": \"%s/" TFIX
            "v1_small.ckpt\", \"num_classes\": 51, \"first_class\": 1, \"classes\": 50},\n"
            " \"damsm\": {\"image_encoder\": \"hash:attngan-oracle-hash-v1\", \"text_encoder\": "
            "\"hash:attngan-oracle-hash-v1\", \"text_encoder_config\": {\"ntoken\": 5450, "
            "\"ninput\": 300, \"nhidden\": 256}, \"vocabulary\": "
            "\"%s/suites/vocab/cub_test.vocab.txt\"},\n"
            " \"fid\": {\"variant\": \"tf2015\", \"weights\": \"hash:attngan-oracle-hash-v1\", "
            "\"statistics\": null}}\n",
            cwd, cwd);
    fclose(f);
    char db[512];
    snprintf(db, sizeof db, "%s/bad.db", T);
    int rc = sh("%s run --suite suites/cub_smoke.suite --model suites/models/demo_bird.json "
                "--protocol suites/protocols/attngan-2018.json --evaluators %s --db %s --limit 2 -q",
                BIN, card, db);
    CHECKF(rc == 2 && strstr(OUT, "v1_small.ckpt") && strstr(OUT, "TensorFlow tensor(s) missing") &&
               strstr(OUT, "conv1/weights/ExponentialMovingAverage"),
           "rc %d: %s", rc, OUT);
}

int main(void) {
    BIN = getenv("T2I_BIN") && *getenv("T2I_BIN") ? getenv("T2I_BIN") : "build/t2ibench";
    snprintf(T, sizeof T, "/tmp/t2i_test_tf_cli_XXXXXX");
    if (!mkdtemp(T)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(tensors_lists_every_kind);
    RUN(tensors_refuses_damaged_file);
    RUN(verify_slim_fixture);
    RUN(protocols_run_on_slim_cub_card);
    RUN(default_card_follows_classifier);
    RUN(slim_card_with_wrong_tf_file);
    sh("rm -rf %s", T);
    return test_report("test_tf_cli");
}
