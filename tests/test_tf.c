// test_tf.c -- TensorFlow weight files (tfckpt.h, sstable.h, pb.h) and the TF-name mapping of
// the Inception variants (inception_tf.h).
//
// The files under tests/fixtures/tf were written by independent writers (python3-protobuf with
// the TF .proto schema, LevelDB's TableBuilder; tools/make_tf_fixtures.py); numpy wrote the
// expected tensors beside them. Hostile copies (truncated, flipped, crafted) are made in a
// scratch directory: every one must fail with a message naming the file and the offending
// place, or load exactly the original tensors, never crash.
#include "inception.h"
#include "inception_tf.h"
#include "pb.h"
#include "sha256.h"
#include "sstable.h"
#include "state_dict.h"
#include "t2i.h"
#include "test.h"
#include "tfckpt.h"
#include "weights.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TFIX "tests/fixtures/tf/"

static char tmpdir[64] = "/tmp/t2i_test_tf_XXXXXX";
static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static int write_bytes(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static int copy_file(const char *src, const char *dst) {
    uint8_t *b;
    size_t   n;
    if (t2i_read_file(src, &b, &n)) return 0;
    int ok = write_bytes(dst, b, n);
    t2i_free(b);
    return ok;
}

// Every tensor of `exp` is in `got` with the same dtype, shape and bytes, and nothing else.
static int same_tensors(const StateDict *got, const StateDict *exp, const char *what) {
    int ok = got->n == exp->n;
    CHECKF(got->n == exp->n, "%s: %d tensors, expected %d", what, got->n, exp->n);
    for (int i = 0; i < exp->n; i++) {
        const SDEntry *e = &exp->e[i], *g = sd_find(got, e->name);
        int same = g && g->dtype == e->dtype && g->ndim == e->ndim && g->numel == e->numel;
        for (int d = 0; same && d < e->ndim; d++) same = g->shape[d] == e->shape[d];
        if (same) same = memcmp(g->data, e->data, e->numel * dtype_size(e->dtype)) == 0;
        CHECKF(same, "%s: tensor '%s' differs or is missing", what, e->name);
        ok &= same;
    }
    return ok;
}

static void expect_file(const char *path, const char *expected_npz) {
    StateDict got, exp;
    int rc = weights_load_file(path, &got);
    CHECKF(rc == T2I_OK, "%s: %s", path, t2i_errmsg());
    int skipped = tf_skipped();
    CHECKF(skipped == 1, "%s: %d string tensors skipped, expected 1", path, skipped);
    rc = weights_load_file(expected_npz, &exp);
    CHECKF(rc == T2I_OK, "%s: %s", expected_npz, t2i_errmsg());
    same_tensors(&got, &exp, path);
    sd_free(&got);
    sd_free(&exp);
}

// ---- reading the independent writers' files --------------------------------------------------

TEST(v1_checkpoint_matches_numpy) {
    expect_file(TFIX "v1_small.ckpt", TFIX "v1_small.expected.npz");
    // the partitioned variable (two slices along dim 0) is assembled
    StateDict sd;
    CHECK(weights_load_file(TFIX "v1_small.ckpt", &sd) == T2I_OK);
    const SDEntry *w = sd_find(&sd, "logits/logits/weights");
    CHECK(w && w->ndim == 2 && w->shape[0] == 6 && w->shape[1] == 5);
    CHECK(w && w->f32[29] == 29.0f / 7.0f - 2.0f);
    sd_free(&sd);
}

TEST(v2_bundle_matches_numpy) {
    expect_file(TFIX "v2_small.ckpt", TFIX "v2_small.expected.npz");          // prefix form
    expect_file(TFIX "v2_small.ckpt.index", TFIX "v2_small.expected.npz");    // .index form
    char a[65], b[65], c[65];
    CHECK(weights_sha256(TFIX "v2_small.ckpt", a) == T2I_OK);
    CHECK(weights_sha256(TFIX "v2_small.ckpt.index", b) == T2I_OK);
    CHECK(sha256_file(TFIX "v2_small.ckpt.index", c) == T2I_OK);
    CHECK(strcmp(a, b) == 0);
    CHECKF(strcmp(a, c) != 0, "a bundle's digest covers its data shards too");
}

TEST(graphdef_matches_numpy) {
    expect_file(TFIX "graph_small.pb", TFIX "graph_small.expected.npz");
}

TEST(kinds_are_sniffed) {
    const char *files[] = {TFIX "v1_small.ckpt", TFIX "v2_small.ckpt.index", TFIX "graph_small.pb",
                           TFIX "v1_small.expected.npz"};
    int         kinds[] = {TF_CKPT_V1, TF_CKPT_V2, TF_GRAPHDEF, TF_NONE};
    for (int i = 0; i < 4; i++) {
        uint8_t *b;
        size_t   n;
        CHECK(t2i_read_file(files[i], &b, &n) == T2I_OK);
        CHECKF(tf_sniff(b, n) == kinds[i], "%s: kind %d", files[i], tf_sniff(b, n));
        t2i_free(b);
    }
}

// ---- hostile files ----------------------------------------------------------------------------

// A load of `path` fails with a message that names `name_in_msg` (and `also`, when given).
static void expect_error(const char *path, const char *name_in_msg, const char *also) {
    StateDict sd;
    int rc = weights_load_file(path, &sd);
    CHECKF(rc != T2I_OK, "%s loaded", path);
    if (rc == T2I_OK) {
        sd_free(&sd);
        return;
    }
    CHECKF(strstr(t2i_errmsg(), name_in_msg) != NULL, "%s: message '%s'", path, t2i_errmsg());
    if (also) CHECKF(strstr(t2i_errmsg(), also) != NULL, "%s: '%s' lacks '%s'", path,
                     t2i_errmsg(), also);
}

// Every truncation and every single-byte flip of `src` either fails with the file named or, for
// a checksummed format, loads exactly the original tensors (bytes the format ignores, e.g.
// footer padding). A GraphDef has no checksum: a flipped value byte is a valid file with
// another value, so there only the error messages (and the absence of crashes) are checked.
static void truncate_and_flip(const char *src, const char *scratch_name, int checksummed) {
    uint8_t *b;
    size_t   n;
    CHECK(t2i_read_file(src, &b, &n) == T2I_OK);
    StateDict ref;
    CHECK(weights_load_file(src, &ref) == T2I_OK);
    char p[256];
    tmp_path(p, sizeof p, scratch_name);
    int loaded = 0, bad = 0;
    for (size_t len = 0; len < n; len++) {
        write_bytes(p, b, len);
        StateDict sd;
        int rc = weights_load_file(p, &sd);
        if (rc == T2I_OK) sd_free(&sd), bad += checksummed;
        else if (!strstr(t2i_errmsg(), scratch_name)) bad++;
    }
    CHECKF(bad == 0, "%s: %d truncations loaded or failed without naming the file", src, bad);
    for (size_t i = 0; i < n; i++) {
        b[i] ^= 0x5a;
        write_bytes(p, b, n);
        b[i] ^= 0x5a;
        StateDict sd;
        int rc = weights_load_file(p, &sd);
        if (rc == T2I_OK) {
            loaded++;
            if (checksummed && !same_tensors(&sd, &ref, "flip")) bad++;
            sd_free(&sd);
        } else if (!strstr(t2i_errmsg(), scratch_name)) {
            bad++;
        }
    }
    CHECKF(bad == 0, "%s: %d flips loaded other tensors or failed without naming the file", src,
           bad);
    if (checksummed)
        CHECKF(loaded < (int)n / 10, "%s: %d of %zu flips went unnoticed", src, loaded, n);
    sd_free(&ref);
    t2i_free(b);
    unlink(p);
}

TEST(v1_truncated_and_flipped) { truncate_and_flip(TFIX "v1_small.ckpt", "v1_hostile.ckpt", 1); }
TEST(graphdef_truncated_and_flipped) { truncate_and_flip(TFIX "graph_small.pb", "g_hostile.pb", 0); }

TEST(v2_data_crc_and_missing_shard) {
    char idx[256], d0[256], d1[256];
    tmp_path(idx, sizeof idx, "b.ckpt.index");
    tmp_path(d0, sizeof d0, "b.ckpt.data-00000-of-00002");
    tmp_path(d1, sizeof d1, "b.ckpt.data-00001-of-00002");
    CHECK(copy_file(TFIX "v2_small.ckpt.index", idx));
    CHECK(copy_file(TFIX "v2_small.ckpt.data-00000-of-00002", d0));
    char pre[256];
    tmp_path(pre, sizeof pre, "b.ckpt");
    expect_error(pre, "b.ckpt.data-00001-of-00002", NULL);   // the shard is missing
    uint8_t *b;
    size_t   n;
    CHECK(t2i_read_file(TFIX "v2_small.ckpt.data-00001-of-00002", &b, &n) == T2I_OK);
    b[n / 2] ^= 1;   // one flipped bit in a tensor's bytes
    CHECK(write_bytes(d1, b, n));
    expect_error(pre, "b.ckpt.data-00001-of-00002", "CRC-32C mismatch");
    CHECK(write_bytes(d1, b, n / 2));   // truncated shard: an entry points past its end
    expect_error(pre, "b.ckpt", "outside");
    t2i_free(b);
    unlink(idx), unlink(d0), unlink(d1);
}

TEST(v2_index_truncated_and_flipped) {
    char d0[256], d1[256];
    tmp_path(d0, sizeof d0, "h.ckpt.data-00000-of-00002");
    tmp_path(d1, sizeof d1, "h.ckpt.data-00001-of-00002");
    CHECK(copy_file(TFIX "v2_small.ckpt.data-00000-of-00002", d0));
    CHECK(copy_file(TFIX "v2_small.ckpt.data-00001-of-00002", d1));
    truncate_and_flip(TFIX "v2_small.ckpt.index", "h.ckpt.index", 1);
    unlink(d0), unlink(d1);
}

// Well-formed tables (LevelDB's writer) whose contents must be refused, each with its reason.
TEST(hostile_contents_refused) {
    static const struct {
        const char *file, *msg;
    } h[] = {
        {"claim.ckpt", "more than the file's"},
        {"extent.ckpt", "outside the dimension"},
        {"overlap.ckpt", "overlap"},
        {"partial.ckpt", "slices cover 6 of its 12"},
        {"short.ckpt", "holds 5 of its 12"},
        {"unlisted.ckpt", "does not list"},
        {"bigendian.ckpt", "big-endian"},
        {"partitioned.ckpt", "partitioned"},
        {"size.ckpt", "12 bytes stored"},
        {"shard.ckpt", "shard 3 of 1"},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, TFIX "hostile/%s", h[i].file);
        expect_error(p, h[i].file, h[i].msg);
    }
}

TEST(snappy_table_refused) { expect_error(TFIX "snappy.ckpt", "snappy.ckpt", "snappy"); }

// Crafted footers and protobuf: block handles out of range, bad varints, oversized lengths.
TEST(crafted_structures) {
    uint8_t *b;
    size_t   n;
    char     p[256];
    CHECK(t2i_read_file(TFIX "v1_small.ckpt", &b, &n) == T2I_OK);
    // block handles pointing past the end: offset n*2, size 10
    uint8_t foot[48] = {0};
    size_t  o = 0;
    uint64_t vals[4] = {(uint64_t)n * 2, 10, (uint64_t)n * 2, 10};
    for (int k = 0; k < 4; k++) {
        uint64_t v = vals[k];
        do {
            foot[o++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
    }
    memcpy(foot + 40, b + n - 8, 8);   // magic
    memcpy(b + n - 48, foot, 48);
    tmp_path(p, sizeof p, "handle.ckpt");
    write_bytes(p, b, n);
    expect_error(p, "handle.ckpt", "outside the file");
    t2i_free(b);

    // GraphDef: an 11-byte varint, a length beyond the message, group wire type, field 0
    struct {
        const char   *name, *msg;
        uint8_t       bytes[16];
        size_t        len;
    } cases[] = {
        {"varint.pb", "varint", {0x0a, 0x03, 0x0a, 0x01, 0x41, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0x01}, 16},
        {"oversized.pb", "claims", {0x0a, 0x03, 0x0a, 0x01, 0x41, 0x0a, 0xff, 0xff, 0xff, 0x7f,
                                    0x0a}, 11},
        {"group.pb", "wire type", {0x0a, 0x03, 0x0a, 0x01, 0x41, 0x0b, 0x00}, 7},
        {"field0.pb", "field number", {0x0a, 0x03, 0x0a, 0x01, 0x41, 0x02, 0x00}, 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmp_path(p, sizeof p, cases[i].name);
        write_bytes(p, cases[i].bytes, cases[i].len);
        expect_error(p, cases[i].name, cases[i].msg);
        CHECKF(strstr(t2i_errmsg(), "byte") != NULL, "%s: no offset in '%s'", cases[i].name,
               t2i_errmsg());
        unlink(p);
    }
    tmp_path(p, sizeof p, "handle.ckpt");
    unlink(p);
}

// A one-node GraphDef: node "w" of operation `op` whose attr "value" is the TensorProto `tp`
// (tp_len bytes < 100).
static size_t op_graph(uint8_t *out, const char *op, const uint8_t *tp, size_t tp_len) {
    uint8_t node[200];
    size_t  k = 0, ol = strlen(op);
    node[k++] = 0x0a, node[k++] = 0x01, node[k++] = 'w';
    node[k++] = 0x12, node[k++] = (uint8_t)ol;
    memcpy(node + k, op, ol);
    k += ol;
    node[k++] = 0x2a;                           // attr map entry
    node[k++] = (uint8_t)(7 + 2 + 2 + tp_len);  // key "value" + value AttrValue{tensor}
    static const uint8_t key[] = {0x0a, 0x05, 'v', 'a', 'l', 'u', 'e'};
    memcpy(node + k, key, sizeof key);
    k += sizeof key;
    node[k++] = 0x12;
    node[k++] = (uint8_t)(2 + tp_len);
    node[k++] = 0x42;   // AttrValue.tensor
    node[k++] = (uint8_t)tp_len;
    memcpy(node + k, tp, tp_len);
    k += tp_len;
    out[0] = 0x0a;
    out[1] = (uint8_t)k;
    memcpy(out + 2, node, k);
    return k + 2;
}

static size_t const_graph(uint8_t *out, const uint8_t *tp, size_t tp_len) {
    return op_graph(out, "Const", tp, tp_len);
}

// TF's DataType numbers for the 16-bit floats (bfloat16 14, half 19) keep their dtype; a value
// list shorter than the shape repeats its last value (TensorProto semantics).
TEST(graphdef_dtypes_and_short_value_lists) {
    static const struct {
        uint8_t tf;
        DType   dt;
    } d16[] = {{14, DT_BF16}, {19, DT_F16}};
    for (int i = 0; i < 2; i++) {
        // dtype, shape [1], tensor_content 2 bytes
        uint8_t tp[] = {0x08, d16[i].tf, 0x12, 0x04, 0x12, 0x02, 0x08, 0x01, 0x22, 0x02, 0xaa, 0x3f};
        uint8_t g[200];
        size_t  n = const_graph(g, tp, sizeof tp);
        StateDict sd;
        CHECKF(tf_graphdef_parse(g, n, "d16.pb", &sd) == T2I_OK, "%s", t2i_errmsg());
        const SDEntry *e = sd_find(&sd, "w");
        CHECKF(e && e->dtype == d16[i].dt && e->numel == 1 &&
                   memcmp(e->data, tp + 10, 2) == 0,
               "TF dtype %d: dtype %d", d16[i].tf, e ? (int)e->dtype : -1);
        sd_free(&sd);
    }
    // float, shape [3], float_val 1.0, 2.0 (unpacked fixed32): [1, 2, 2]
    uint8_t tp[] = {0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08, 0x03, 0x2d, 0x00, 0x00, 0x80,
                    0x3f, 0x2d, 0x00, 0x00, 0x00, 0x40};
    uint8_t g[200];
    size_t  n = const_graph(g, tp, sizeof tp);
    StateDict sd;
    CHECKF(tf_graphdef_parse(g, n, "short.pb", &sd) == T2I_OK, "%s", t2i_errmsg());
    const SDEntry *e = sd_find(&sd, "w");
    const float *f = e ? sd_f32((SDEntry *)e) : NULL;
    CHECKF(f && e->numel == 3 && f[0] == 1.0f && f[1] == 2.0f && f[2] == 2.0f, "%g %g %g",
           f ? f[0] : -1, f ? f[1] : -1, f ? f[2] : -1);
    sd_free(&sd);
    // Only the operation named exactly "Const" is a constant.
    static const char *const ops[] = {"ConstX", "Cons", "Identity"};
    for (int i = 0; i < 3; i++) {
        n = op_graph(g, ops[i], tp, sizeof tp);
        CHECKF(tf_graphdef_parse(g, n, "ops.pb", &sd) == T2I_OK && sd.n == 0, "op %s: %d tensors",
               ops[i], sd.n);
        sd_free(&sd);
    }
}

// Every allocation of each TF loader fails in turn: T2I_ENOMEM (or success once the budget is
// large enough), no leak (LeakSanitizer under SANITIZE=1), no crash.
TEST(alloc_failures_are_clean) {
    const char *files[] = {TFIX "v1_small.ckpt", TFIX "v2_small.ckpt", TFIX "graph_small.pb"};
    const int   counts[] = {6, 49, 7};
    for (int f = 0; f < 3; f++) {
        int ok = 0;
        for (long n = 0; n < 5000 && !ok; n++) {
            t2i_alloc_fail_after(n);
            StateDict sd;
            int rc = weights_load_file(files[f], &sd);
            t2i_alloc_fail_after(-1);
            if (rc == T2I_OK) {
                ok = 1;
                CHECK(sd.n == counts[f]);
                sd_free(&sd);
            } else {
                CHECKF(rc == T2I_ENOMEM, "%s budget %ld: rc %d %s", files[f], n, rc, t2i_errmsg());
            }
        }
        CHECKF(ok, "%s never loaded", files[f]);
    }
}

TEST(pb_reader_bounds) {
    Rd       r;
    uint64_t v;
    uint8_t  ten[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    rd_init(&r, ten, 10, "mem", 0);
    CHECK(pb_varint(&r, &v) == T2I_OK && v == UINT64_MAX);
    ten[9] = 0x02;   // 65th bit
    rd_init(&r, ten, 10, "mem", 0);
    CHECK(pb_varint(&r, &v) == T2I_EFORMAT && strstr(t2i_errmsg(), "overflows"));
    rd_init(&r, ten, 3, "mem", 100);   // truncated varint reports the file offset
    CHECK(pb_varint(&r, &v) == T2I_EFORMAT && strstr(t2i_errmsg(), "byte 100"));
    CHECK(crc32c(0, "123456789", 9) == 0xe3069283u);   // the CRC-32C check value
    CHECK(crc32c_unmask(crc32c_mask(0x12345678u)) == 0x12345678u);
}

// ---- names of the TF Inceptions -------------------------------------------------------------

// An Inception of variant v (num_classes > 0 replaces the variant's count; aux: declare the aux
// head too) and the TF names it asks for, as the TF tests below start from.
typedef struct {
    InceptionConfig cfg;
    Inception      *net;
    BindList        tk;
} TfNet;

static int tfnet_open(TfNet *t, InceptionVariant v, int num_classes, int aux) {
    memset(t, 0, sizeof *t);
    inception_config(&t->cfg, v);
    if (num_classes > 0) t->cfg.num_classes = num_classes;
    if (aux) t->cfg.aux_logits = 1;
    bindlist_init(&t->tk);
    if (inception_create(&t->cfg, &t->net) != T2I_OK) return 0;
    return inception_tf_keys(&t->cfg, inception_keys(t->net), &t->tk) == T2I_OK;
}

static void tfnet_close(TfNet *t) {
    bindlist_free(&t->tk);
    inception_free(t->net);
}

// The slim TF names the network asks for are exactly the 388 restore names of the fixture
// (with the aux head declared), in name and TF shape.
TEST(slim_names_equal_fixture_manifest) {
    char path[512];
    test_fixture_path(path, sizeof path, "inception_slim/manifest.json");
    if (access(path, R_OK) != 0) {
        printf("  skip: %s not found\n", path);
        return;
    }
    TfNet t;
    CHECK(tfnet_open(&t, INCEPTION_SLIM, 51, 1));
    const BindList *tk = &t.tk;
    CHECKF(tk->n == 388, "%d TF names", tk->n);
    uint8_t *buf;
    size_t   len;
    cJSON   *m = NULL;
    if (t2i_read_file(path, &buf, &len) == T2I_OK) {
        m = cJSON_ParseWithLength((const char *)buf, len);
        t2i_free(buf);
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "hash_weight_checksums");
    CHECK(cJSON_GetArraySize(h) == 388);
    for (int i = 0; h && i < tk->n; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(h, tk->rows[i].name);
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        int same = cJSON_GetArraySize(sh) == tk->rows[i].ndim;
        for (int d = 0; same && d < tk->rows[i].ndim; d++)
            same = cJSON_GetArrayItem(sh, d)->valuedouble == (double)tk->rows[i].shape[d];
        CHECKF(e && same, "%s: missing or of another shape in the manifest", tk->rows[i].name);
    }
    cJSON_Delete(m);
    tfnet_close(&t);
}

// Values move bit for bit: conv [kh,kw,in,out] -> [out,in,kh,kw], dense [in,out] -> [out,in].
TEST(tf2015_mapping_transposes_exactly) {
    TfNet t;
    CHECK(tfnet_open(&t, INCEPTION_TF2015, 0, 0));
    const BindList *tk = &t.tk;
    StateDict sd;
    sd_init(&sd);
    for (int i = 0; i < tk->n; i++) {   // value = the flat TF index
        size_t n = 1;
        for (int d = 0; d < tk->rows[i].ndim; d++) n *= (size_t)tk->rows[i].shape[d];
        float *f = t2i_malloc_aligned(n * sizeof(float));
        for (size_t k = 0; k < n; k++) f[k] = (float)k;   // exact below 2^24
        CHECK(sd_add(&sd, tk->rows[i].name, DT_F32, tk->rows[i].ndim, tk->rows[i].shape, f) == 0);
    }
    CHECK(sd_find(&sd, "mixed_9/tower/mixed/conv_1/conv2d_params") != NULL);
    CHECK(sd_find(&sd, "mixed_10/tower_1/mixed/conv/batchnorm/gamma") != NULL);
    const SDEntry *sw = sd_find(&sd, "softmax/weights");
    CHECK(sw && sw->shape[0] == 2048 && sw->shape[1] == 1008);
    CHECK(inception_sd_is_tf(&sd));
    CHECK(inception_from_tf(&t.cfg, inception_keys(t.net), &sd, "test") == T2I_OK);
    CHECK(!inception_sd_is_tf(&sd));
    // Mixed_7b.branch3x3_2a (1x3, 384 -> 384): torch [o][i][0][w] = TF [0][w][i][o]
    const SDEntry *c = sd_find(&sd, "Mixed_7b.branch3x3_2a.conv.weight");
    CHECK(c && c->shape[0] == 384 && c->shape[1] == 384 && c->shape[2] == 1 && c->shape[3] == 3);
    if (c) {
        size_t o = 5, i = 7, w = 2;
        float  tf_index = (float)((w * 384 + i) * 384 + o);
        CHECK(c->f32[(o * 384 + i) * 3 + w] == tf_index);
    }
    const SDEntry *fc = sd_find(&sd, "fc.weight");
    CHECK(fc && fc->shape[0] == 1008 && fc->shape[1] == 2048);
    if (fc) CHECK(fc->f32[3 * 2048 + 10] == (float)(10 * 1008 + 3));
    CHECK(inception_bind(t.net, &sd, "tf2015 mapped") == T2I_OK);
    tfnet_close(&t);
}

// A TF tensor whose first dimension is off by one is named as "of another shape" (every
// dimension is compared, the first too).
TEST(tf2015_first_dimension_checked) {
    TfNet t;
    CHECK(tfnet_open(&t, INCEPTION_TF2015, 0, 0));
    const BindList *tk = &t.tk;
    StateDict sd;
    sd_init(&sd);
    int found = 0;
    for (int i = 0; i < tk->n; i++) {
        int64_t sh[T2I_MAX_DIMS];
        size_t  n = 1;
        for (int d = 0; d < tk->rows[i].ndim; d++) sh[d] = tk->rows[i].shape[d];
        if (!strcmp(tk->rows[i].name, "conv/conv2d_params")) sh[0]++, found = 1;   // [4,3,3,32]
        for (int d = 0; d < tk->rows[i].ndim; d++) n *= (size_t)sh[d];
        float *f = t2i_malloc_aligned(n * sizeof(float));
        memset(f, 0, n * sizeof(float));
        CHECK(sd_add(&sd, tk->rows[i].name, DT_F32, tk->rows[i].ndim, sh, f) == 0);
    }
    CHECK(found);
    CHECK(inception_from_tf(&t.cfg, inception_keys(t.net), &sd, "test") == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "conv/conv2d_params is [4,3,3,32]"), "%s", t2i_errmsg());
    sd_free(&sd);
    tfnet_close(&t);
}

TEST(slim_missing_moving_averages_named) {
    TfNet t;
    CHECK(tfnet_open(&t, INCEPTION_SLIM, 51, 0));
    StateDict sd;
    CHECK(hash_weights_fill_tf(&t.tk, &sd) == T2I_OK);
    // rename one average to its raw variable: the message names it and says why it matters
    StateDict cut;
    sd_init(&cut);
    for (int i = 0; i < sd.n; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s", sd.e[i].name);
        if (strcmp(name, "conv3/BatchNorm/moving_variance/ExponentialMovingAverage") == 0)
            snprintf(name, sizeof name, "conv3/BatchNorm/moving_variance");
        CHECK(sd_add(&cut, name, sd.e[i].dtype, sd.e[i].ndim, sd.e[i].shape, sd.e[i].data) == 0);
        sd.e[i].data = sd.e[i].f32 = NULL;   // owned by `cut` now
    }
    int rc = inception_from_tf(&t.cfg, inception_keys(t.net), &cut, "ema.ckpt");
    CHECK(rc == T2I_ESHAPE);
    CHECKF(strstr(t2i_errmsg(), "conv3/BatchNorm/moving_variance/ExponentialMovingAverage") &&
               strstr(t2i_errmsg(), "ema.ckpt") && strstr(t2i_errmsg(), "shadows"),
           "%s", t2i_errmsg());
    sd_free(&cut);
    sd_free(&sd);
    tfnet_close(&t);
}

// The graph's Const tensors equal pytorch-fid's converted weights bit for bit, when a user
// holds both files (T2I_TF_GRAPHDEF / T2I_PT_INCEPTION, or their default places).
TEST(tf2015_graphdef_equals_pytorch_fid_weights) {
    const char *g = getenv("T2I_TF_GRAPHDEF"), *pt = getenv("T2I_PT_INCEPTION");
    if (!g) g = "suites/evaluators/weights/classify_image_graph_def.pb";
    if (!pt) pt = "suites/evaluators/weights/pt_inception-2015-12-05-6726825d.pth";
    if (access(g, R_OK) != 0 || access(pt, R_OK) != 0) {
        printf("  skip: needs %s and %s (set T2I_TF_GRAPHDEF and T2I_PT_INCEPTION)\n", g, pt);
        return;
    }
    InceptionConfig cfg;
    inception_config(&cfg, INCEPTION_TF2015);
    Inception *net;
    CHECK(inception_create(&cfg, &net) == T2I_OK);
    StateDict a, b;
    CHECK(inception_weights_load(&cfg, inception_keys(net), g, &a) == T2I_OK);
    CHECK(weights_load_file(pt, &b) == T2I_OK);
    int differ = 0, compared = 0;
    for (int i = 0; i < a.n; i++) {
        const SDEntry *x = &a.e[i], *y = sd_find(&b, x->name);
        if (!y) continue;
        compared++;
        if (y->numel != x->numel || y->dtype != DT_F32 ||
            memcmp(x->data, y->data, x->numel * sizeof(float)) != 0)
            differ++;
    }
    CHECKF(compared == a.n && differ == 0, "%d of %d tensors differ (%d compared)", differ, a.n,
           compared);
    printf("  %d tensors bit-identical\n", compared);
    sd_free(&a), sd_free(&b);
    inception_free(net);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(v1_checkpoint_matches_numpy);
    RUN(v2_bundle_matches_numpy);
    RUN(graphdef_matches_numpy);
    RUN(kinds_are_sniffed);
    RUN(v1_truncated_and_flipped);
    RUN(graphdef_truncated_and_flipped);
    RUN(v2_data_crc_and_missing_shard);
    RUN(v2_index_truncated_and_flipped);
    RUN(hostile_contents_refused);
    RUN(snappy_table_refused);
    RUN(crafted_structures);
    RUN(alloc_failures_are_clean);
    RUN(pb_reader_bounds);
    RUN(graphdef_dtypes_and_short_value_lists);
    RUN(slim_names_equal_fixture_manifest);
    RUN(tf2015_mapping_transposes_exactly);
    RUN(slim_missing_moving_averages_named);
    RUN(tf2015_first_dimension_checked);
    RUN(tf2015_graphdef_equals_pytorch_fid_weights);
    rmdir(tmpdir);
    return test_report("test_tf");
}
