// test_loaders.c -- rd, zip, npz, pickle, .pth (zip / legacy / legacy py2), safetensors, vocab,
// sha256 and weights_load against ../shared/fixtures and tests/fixtures/loaders, plus hostile
// input: truncation, byte flips, `os system` pickles, huge size claims, allocation failures.
#include "npz.h"
#include "pickle.h"
#include "pth.h"
#include "rd.h"
#include "safetensors.h"
#include "sha256.h"
#include "state_dict.h"
#include "t2i.h"
#include "test.h"
#include "vocab.h"
#include "weights.h"
#include "zip.h"

#include "bytes_test.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define LFIX "tests/fixtures/loaders/"

// Per-process scratch directory (tests may run concurrently), made by main().
static char tmpdir[64] = "/tmp/t2i_test_loaders_XXXXXX";
static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

// ---- helpers ----------------------------------------------------------------------------------

// pickle BINUNICODE
static void pk_str(Buf *b, const char *s) {
    b_u8(b, 'X');
    b_le(b, strlen(s), 4);
    b_s(b, s);
}
// pickle int: BININT (4 bytes) or LONG1 8 bytes
static void pk_int(Buf *b, int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
        b_u8(b, 'J');
        b_le(b, (uint64_t)v, 4);
    } else {
        b_u8(b, 0x8a);
        b_u8(b, 8);
        b_le(b, (uint64_t)v, 8);
    }
}

static uint8_t *slurp(const char *path, size_t *len) {
    uint8_t *d;
    if (t2i_read_file(path, &d, len)) return NULL;
    return d;
}

static int write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(d, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static cJSON *load_json(const char *path) {
    size_t n;
    uint8_t *d = slurp(path, &n);
    if (!d) return NULL;
    cJSON *j = cJSON_Parse((const char *)d);
    t2i_free(d);
    return j;
}

// A plain stored zip (the layout torch.save writes, without the 64-byte padding).
static void build_zip(Buf *b, int n, const char *const *names, const uint8_t *const *data,
                      const size_t *lens) {
    size_t *offs = calloc((size_t)n + 1, sizeof *offs);
    for (int i = 0; i < n; i++) {
        offs[i] = b->n;
        uint32_t crc = (uint32_t)crc32(0, data[i], (uInt)lens[i]);
        b_le(b, 0x04034b50u, 4);
        b_le(b, 20, 2); b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, 0x21, 2);
        b_le(b, crc, 4); b_le(b, lens[i], 4); b_le(b, lens[i], 4);
        b_le(b, strlen(names[i]), 2); b_le(b, 0, 2);
        b_s(b, names[i]);
        b_put(b, data[i], lens[i]);
    }
    size_t cd = b->n;
    for (int i = 0; i < n; i++) {
        uint32_t crc = (uint32_t)crc32(0, data[i], (uInt)lens[i]);
        b_le(b, 0x02014b50u, 4);
        b_le(b, 20, 2); b_le(b, 20, 2); b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, 0x21, 2);
        b_le(b, crc, 4); b_le(b, lens[i], 4); b_le(b, lens[i], 4);
        b_le(b, strlen(names[i]), 2); b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, 0, 2);
        b_le(b, 0, 4); b_le(b, offs[i], 4);
        b_s(b, names[i]);
    }
    size_t cdlen = b->n - cd;
    b_le(b, 0x06054b50u, 4);
    b_le(b, 0, 2); b_le(b, 0, 2); b_le(b, (uint64_t)n, 2); b_le(b, (uint64_t)n, 2);
    b_le(b, cdlen, 4); b_le(b, cd, 4); b_le(b, 0, 2);
    free(offs);
}

// One tensor of a hand-built checkpoint: `key` views storage `skey` of `stype`.
typedef struct {
    const char *key, *skey, *stype;
    int64_t     snumel, offset;
    int         nd;
    int64_t     size[4], stride[4];
} TSpec;

// The state_dict pickle (protocol 2, torch 1.13 style); legacy adds a 6th persid field.
static void build_sd_pickle(Buf *b, const TSpec *t, int nt, int legacy) {
    b_s(b, "\x80\x02" "ccollections\nOrderedDict\n)R(");
    for (int i = 0; i < nt; i++) {
        pk_str(b, t[i].key);
        b_s(b, "ctorch._utils\n_rebuild_tensor_v2\n((");
        pk_str(b, "storage");
        b_s(b, "ctorch\n");
        b_s(b, t[i].stype);
        b_s(b, "\n");
        pk_str(b, t[i].skey);
        pk_str(b, "cpu");
        pk_int(b, t[i].snumel);
        if (legacy) b_u8(b, 'N');
        b_s(b, "tQ");
        pk_int(b, t[i].offset);
        b_u8(b, '(');
        for (int d = 0; d < t[i].nd; d++) pk_int(b, t[i].size[d]);
        b_s(b, "t(");
        for (int d = 0; d < t[i].nd; d++) pk_int(b, t[i].stride[d]);
        b_s(b, "t\x89" "ccollections\nOrderedDict\n)RtR");
    }
    b_s(b, "u.");
}

typedef struct {
    const char    *key;
    int64_t        numel;
    size_t         es;
    const uint8_t *data;
} SSpec;

static void build_legacy(Buf *b, const TSpec *t, int nt, const SSpec *s, int ns) {
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    b_s(b, "\x80\x02\x8a\x0a");
    b_put(b, magic, 10);
    b_s(b, ".\x80\x02M\xe9\x03.\x80\x02}(");
    pk_str(b, "little_endian");
    b_s(b, "\x88u.");
    build_sd_pickle(b, t, nt, 1);
    b_s(b, "\x80\x02](");
    for (int i = 0; i < ns; i++) pk_str(b, s[i].key);
    b_s(b, "e.");
    for (int i = 0; i < ns; i++) {
        b_le(b, (uint64_t)s[i].numel, 8);
        b_put(b, s[i].data, (size_t)s[i].numel * s[i].es);
    }
}

static void build_zip_pth(Buf *b, const TSpec *t, int nt, const SSpec *s, int ns) {
    Buf pk = {0};
    build_sd_pickle(&pk, t, nt, 0);
    const char *names[64];
    const uint8_t *data[64];
    size_t lens[64];
    char nbuf[64][64];
    names[0] = "archive/data.pkl";
    data[0] = pk.p;
    lens[0] = pk.n;
    for (int i = 0; i < ns; i++) {
        snprintf(nbuf[i], sizeof nbuf[i], "archive/data/%s", s[i].key);
        names[i + 1] = nbuf[i];
        data[i + 1] = s[i].data;
        lens[i + 1] = (size_t)s[i].numel * s[i].es;
    }
    names[ns + 1] = "archive/version";
    data[ns + 1] = (const uint8_t *)"3\n";
    lens[ns + 1] = 2;
    build_zip(b, ns + 2, names, data, lens);
    free(pk.p);
}

// ---- sha256 / rd -----------------------------------------------------------------------------

TEST(sha256_vectors) {
    char hex[65];
    sha256_hex("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(m, strlen(m), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    // one million 'a', fed in uneven pieces
    Sha256 s;
    uint8_t d[32], a[997];
    memset(a, 'a', sizeof a);
    sha256_init(&s);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof a ? left : (left % 7) + 1 + (left % 500);
        if (k > left) k = left;
        sha256_update(&s, a, k);
        left -= k;
    }
    sha256_final(&s, d);
    char h2[65];
    for (int i = 0; i < 32; i++) snprintf(h2 + 2 * i, 3, "%02x", d[i]);
    CHECK(strcmp(h2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    CHECK(sha256_file("/nonexistent/x", hex) == T2I_EIO);
    CHECK(sha256_file(LFIX "small.safetensors", hex) == T2I_OK);
    CHECK(strcmp(hex, "814790e6758c384174492278788358e886bb412923e5ceee340b7106d0fdfe42") == 0);
}

TEST(rd_bounds) {
    const uint8_t buf[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, '\n', 'x'};
    Rd r;
    rd_init(&r, buf, sizeof buf, "mem.bin", 100);
    uint32_t u;
    uint64_t q;
    const uint8_t *p;
    size_t n;
    CHECK(rd_u32le(&r, &u) == T2I_OK && u == 0x04030201u);
    CHECK(rd_off(&r) == 104);
    CHECK(rd_u64le(&r, &q) == T2I_EFORMAT);
    CHECK(msg_has("mem.bin") && msg_has("byte 104"));
    CHECK(rd_off(&r) == 104);  // a failed read does not move
    CHECK(rd_line(&r, &p, &n) == T2I_OK && n == 5 && p[0] == 5);
    CHECK(rd_line(&r, &p, &n) == T2I_EFORMAT && msg_has("byte 110"));
    CHECK(rd_bytes(&r, SIZE_MAX, &p) == T2I_EFORMAT);
    CHECK(rd_skip(&r, 1) == T2I_OK && rd_eof(&r));
}

// ---- zip / npz -------------------------------------------------------------------------------

TEST(zip_torch_fixture) {
    char path[512];
    size_t len;
    uint8_t *buf = slurp(test_fixture_path(path, sizeof path, "text_encoder/model.pth"), &len);
    CHECK(buf != NULL);
    if (!buf) return;
    Zip z;
    CHECKF(zip_open(&z, buf, len, path) == T2I_OK, "%s", t2i_errmsg());
    CHECK(z.n == 11);
    CHECK(zip_find(&z, "model/data.pkl") == 0 && zip_find(&z, "model/version") == z.n - 1);
    for (int i = 0; i < z.n; i++) CHECK(z.e[i].method == 0 && z.e[i].data_off % 64 == 0);
    const uint8_t *p;
    size_t n;
    int v = zip_find(&z, "model/version");
    CHECK(zip_span(&z, v, &p, &n) == T2I_OK && n == 2 && memcmp(p, "3\n", 2) == 0);
    uint8_t *x;
    CHECK(zip_extract(&z, 0, &x, &n) == T2I_OK && n == z.e[0].usize && x[0] == 0x80);
    t2i_free(x);
    zip_close(&z);
    zip_close(&z);  // idempotent
    t2i_free(buf);
}

TEST(zip_rejects_corruption) {
    const char *names[2] = {"a.npy", "b/c.bin"};
    const uint8_t *data[2] = {(const uint8_t *)"hello", (const uint8_t *)"world!!"};
    size_t lens[2] = {5, 7};
    Buf b = {0};
    build_zip(&b, 2, names, data, lens);
    Zip z;
    CHECKF(zip_open(&z, b.p, b.n, "ok.zip") == T2I_OK, "%s", t2i_errmsg());
    const uint8_t *p;
    size_t n;
    CHECK(zip_span(&z, 1, &p, &n) == T2I_OK && n == 7 && memcmp(p, "world!!", 7) == 0);
    zip_close(&z);
    size_t cd = rd_le32(b.p + b.n - 6);
    struct {
        size_t off;
        uint8_t val;
        const char *what;
    } cases[] = {
        {30 + 5 + 1, 'X', "CRC"},                 // data byte of a.npy
        {30 + 1, 'x', "local name"},               // local name differs
        {cd + 42, 0x40, "local header"},           // central: local header offset
        {cd + 20, 0x7f, "has sizes"},              // central: csize (stored: csize != usize)
        {b.n - 6, 0xff, "central directory"},      // EOCD: cd offset
        {b.n - 10, 0x01, "directory"},             // EOCD: cd size
        {cd, 'Q', "signature"},                    // central header signature
        {cd + 10, 12, "method"},                   // central method
        {cd + 8, 1, "encrypted"},                  // encryption flag
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *c = malloc(b.n);
        memcpy(c, b.p, b.n);
        c[cases[i].off] = cases[i].val;
        int rc = zip_open(&z, c, b.n, "bad.zip");
        if (rc == T2I_OK) {  // corruption found at read time
            rc = zip_span(&z, 0, &p, &n);
            if (!rc) rc = zip_span(&z, 1, &p, &n);
            zip_close(&z);
        }
        CHECKF(rc == T2I_EFORMAT && msg_has("bad.zip") && msg_has(cases[i].what),
               "case %zu (%s): rc %d: %s", i, cases[i].what, rc, t2i_errmsg());
        free(c);
    }
    // The last member's sizes (both) one byte past the data before the central directory.
    {
        uint8_t *c = malloc(b.n);
        memcpy(c, b.p, b.n);
        size_t h1 = cd + 46 + strlen(names[0]);
        c[h1 + 20] = 8, c[h1 + 24] = 8;
        int rc = zip_open(&z, c, b.n, "bad.zip");
        CHECKF(rc == T2I_EFORMAT && msg_has("runs past the central directory"), "rc %d: %s", rc,
               t2i_errmsg());
        if (rc == T2I_OK) zip_close(&z);
        free(c);
    }
    // duplicate names and overlapping members
    const char *dn[2] = {"same", "same"};
    Buf d = {0};
    build_zip(&d, 2, dn, data, lens);
    CHECK(zip_open(&z, d.p, d.n, "dup.zip") == T2I_EFORMAT && msg_has("duplicate"));
    free(d.p);
    // truncation at every length
    for (size_t l = 0; l < b.n; l++) {
        uint8_t *c = malloc(l ? l : 1);
        memcpy(c, b.p, l);
        int rc = zip_open(&z, c, l, "cut.zip");
        CHECK(rc == T2I_EFORMAT);
        if (rc == T2I_OK) zip_close(&z);
        free(c);
    }
    free(b.p);
}

static void check_same_array(const NpyArray *a, const char *ref_path) {
    NpyArray r;
    int rc = npy_load(ref_path, &r);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    CHECKF(a && a->dtype == r.dtype && a->ndim == r.ndim && a->numel == r.numel, "%s", ref_path);
    if (a && a->numel == r.numel && a->dtype == r.dtype)
        CHECKF(memcmp(a->data, r.data, r.numel * dtype_size(r.dtype)) == 0, "%s data", ref_path);
    npy_free(&r);
}

TEST(npz_numpy_files) {
    const char *files[] = {LFIX "stats_stored.npz", LFIX "stats_deflate.npz"};
    for (int f = 0; f < 2; f++) {
        Npz z;
        int rc = npz_load(files[f], &z);
        CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
        if (rc) continue;
        CHECK(z.n == 2 && npz_get(&z, "nope") == NULL);
        const NpyArray *mu = npz_get(&z, "mu"), *sigma = npz_get(&z, "sigma");
        CHECK(mu && mu->dtype == DT_F64 && mu->ndim == 1 && mu->shape[0] == 16);
        CHECK(sigma && sigma->ndim == 2 && sigma->shape[0] == 16 && sigma->shape[1] == 16);
        check_same_array(mu, LFIX "stats_mu.npy");
        check_same_array(sigma, LFIX "stats_sigma.npy");
        npz_free(&z);
        npz_free(&z);
    }
    Npz z;
    int rc = npz_load(LFIX "mixed.npz", &z);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    const char *keys[] = {"f4", "i8", "f2", "u1", "b1", "scalar"};
    for (int i = 0; i < 6 && !rc; i++) {
        char ref[256];
        snprintf(ref, sizeof ref, LFIX "mixed_%s.npy", keys[i]);
        check_same_array(npz_get(&z, keys[i]), ref);
    }
    npz_free(&z);
    CHECK(npz_load(LFIX "nonexistent.npz", &z) == T2I_EIO);
    CHECK(npz_load(LFIX "small.safetensors", &z) == T2I_EFORMAT);
}

TEST(npz_save_roundtrip) {
    double mu[3] = {1.5, -2, 3.25};
    double sigma[9] = {1, 0.5, 0, 0.5, 2, 0.1, 0, 0.1, 3};
    NpyArray arr[2] = {{.dtype = DT_F64, .ndim = 1, .shape = {3}, .numel = 3, .data = mu},
                       {.dtype = DT_F64, .ndim = 2, .shape = {3, 3}, .numel = 9, .data = sigma}};
    const char *names[2] = {"mu", "sigma"};
    char pbuf[128];
    const char *path = tmp_path(pbuf, sizeof pbuf, "rt.npz");
    CHECKF(npz_save(path, 2, names, arr) == T2I_OK, "%s", t2i_errmsg());
    Npz z;
    int rc = npz_load(path, &z);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        const NpyArray *s = npz_get(&z, "sigma");
        CHECK(s && s->ndim == 2 && s->shape[1] == 3 && memcmp(s->data, sigma, sizeof sigma) == 0);
        CHECK(npz_get(&z, "mu") && memcmp(npz_get(&z, "mu")->data, mu, sizeof mu) == 0);
    }
    npz_free(&z);
    const char *dup[2] = {"mu", "mu"};
    CHECK(npz_save(path, 2, dup, arr) == T2I_EARG);
    CHECK(npz_save("/nonexistent/dir/x.npz", 2, names, arr) == T2I_EIO);
    // a zip member that is not .npy
    const char *zn[1] = {"readme.txt"};
    const uint8_t *zd[1] = {(const uint8_t *)"hi"};
    size_t zl[1] = {2};
    Buf b = {0};
    build_zip(&b, 1, zn, zd, zl);
    CHECK(npz_parse(b.p, b.n, "txt.npz", &z) == T2I_EFORMAT && msg_has("readme.txt"));
    free(b.p);
}

// ---- pickle ----------------------------------------------------------------------------------

static int parse_bytes(const char *bytes, size_t n, Pickle *pk) {
    return pickle_parse((const uint8_t *)bytes, n, "mem.pkl", 0, pk);
}
#define PARSE(lit, pk) parse_bytes(lit, sizeof(lit) - 1, pk)

TEST(pickle_values) {
    Pickle pk;
    // protocol 2: (None, True, -5, 300, 1.5, 'ab', b'xy', [1, 2], {'k': 3})
    const char p2[] = "\x80\x02(N\x88J\xfb\xff\xff\xffM,\x01G?\xf8\x00\x00\x00\x00\x00\x00"
                      "X\x02\x00\x00\x00" "abC\x02xy]q\x00(K\x01K\x02" "e}q\x01X\x01\x00\x00\x00kK\x03st.";
    int rc = PARSE(p2, &pk);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        const PkVal *t = pk.root;
        int64_t i;
        CHECK(t->kind == PK_TUPLE && pk_len(t) == 9);
        CHECK(pk_item(t, 0)->kind == PK_NONE);
        CHECK(pk_item(t, 1)->kind == PK_BOOL && pk_item(t, 1)->u.i == 1);
        CHECK(pk_as_int(pk_item(t, 2), &i) && i == -5);
        CHECK(pk_as_int(pk_item(t, 3), &i) && i == 300);
        CHECK(pk_item(t, 4)->kind == PK_FLOAT && pk_item(t, 4)->u.f == 1.5);
        CHECK(pk_is_str(pk_item(t, 5), "ab"));
        CHECK(pk_item(t, 6)->kind == PK_BYTES && pk_item(t, 6)->u.str.n == 2);
        CHECK(pk_item(t, 7)->kind == PK_LIST && pk_len(pk_item(t, 7)) == 2);
        CHECK(pk_as_int(pk_get(pk_item(t, 8), "k"), &i) && i == 3);
        CHECK(pk.end == sizeof p2 - 1);
    }
    pickle_free(&pk);
    // protocol 0 text opcodes: (I42, L-7L, F0.25, S'a\'b\x41', V\u00e9, I01, memo PUT/GET)
    const char p0[] = "(I42\nL-7L\nF0.25\nS'a\\'b\\x41'\np0\nVcaf\\u00e9\np1\nI01\ng0\nt.";
    rc = PARSE(p0, &pk);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        const PkVal *t = pk.root;
        int64_t i;
        CHECK(pk_len(t) == 7);
        CHECK(pk_as_int(pk_item(t, 0), &i) && i == 42);
        CHECK(pk_as_int(pk_item(t, 1), &i) && i == -7);
        CHECK(pk_item(t, 2)->u.f == 0.25);
        CHECK(pk_is_str(pk_item(t, 3), "a'bA") && (pk_item(t, 3)->flags & PK_F_PY2STR));
        CHECK(pk_is_str(pk_item(t, 4), "caf\xc3\xa9"));
        CHECK(pk_item(t, 5)->kind == PK_BOOL);
        CHECK(pk_item(t, 6) == pk_item(t, 3));  // GET returns the memoized object
    }
    pickle_free(&pk);
    // LONG1: negative and the 10-byte legacy magic; protocol 4 framing + MEMOIZE + STACK_GLOBAL
    const char p4[] = "\x95\x00\x00\x00\x00\x00\x00\x00\x00\x80\x04(\x8a\x01\xff\x8a\x02\x00\x80"
                      "\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94h\x01t.";
    rc = PARSE(p4, &pk);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        int64_t i;
        CHECK(pk_as_int(pk_item(pk.root, 0), &i) && i == -1);
        CHECK(pk_as_int(pk_item(pk.root, 1), &i) && i == -32768);
        CHECK(pk_item(pk.root, 2)->kind == PK_DICT);
        CHECK(pk_is_str(pk_item(pk.root, 3), "OrderedDict"));
    }
    pickle_free(&pk);
    // _codecs.encode(str, 'latin1') -> bytes; set()
    const char pc[] = "\x80\x02(c_codecs\nencode\nX\x04\x00\x00\x00\xc3\xa9zzX\x06\x00\x00\x00latin1\x86R"
                      "c__builtin__\nset\n]K\x07" "a\x85Rt.";
    rc = PARSE(pc, &pk);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        const PkVal *b = pk_item(pk.root, 0);
        CHECK(b->kind == PK_BYTES && b->u.str.n == 3 && (uint8_t)b->u.str.s[0] == 0xe9);
        CHECK(pk_item(pk.root, 1)->kind == PK_SET && pk_len(pk_item(pk.root, 1)) == 1);
    }
    pickle_free(&pk);
    // numpy int64 scalar: scalar(dtype('i8', False, True) + BUILD state, raw bytes)
    const char pn[] = "\x80\x02" "cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00i8\x89\x88\x87R"
                      "(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbC\x08"
                      "\x39\x05\x00\x00\x00\x00\x00\x00\x86R.";
    rc = PARSE(pn, &pk);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    int64_t nv = 0;
    CHECK(rc == T2I_OK && pk_as_int(pk.root, &nv) && nv == 1337);
    pickle_free(&pk);
}

TEST(pickle_rejects_hostile) {
    static const struct {
        const char *bytes;
        size_t      n;
        const char *msg;
    } cases[] = {
#define C(lit, m) {lit, sizeof(lit) - 1, m}
        C("cos\nsystem\n(S'echo pwned'\ntR.", "global 'os.system' at byte 0"),
        C("\x80\x02" "cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.", "'posix.system' at byte 2"),
        C("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93.", "'builtins.eval'"),
        C("\x80\x02" "ctorch\nload\n.", "'torch.load'"),
        C("\x80\x02" "ctorch\nFloatStorage\n)R.", "may not be called"),
        C("\x80\x02\xff.", "unknown opcode 0xff at byte 2"),
        C("\x80\x06N.", "protocol 6"),
        C("\x80\x02h\x05.", "memo entry 5 is not set at byte 2"),
        C("\x80\x02Nj\x00\x00\x00\x01.", "memo entry 16777216"),
        C("\x80\x02Nr\xff\xff\xff\xff.", "memo index 4294967295 out of range"),
        C("\x80\x02X\xff\xff\xff\x7f", "runs past the end"),
        C("\x80\x02\x8b\xff\xff\xff\xff", "negative length"),
        C("\x80\x02T\x00\x00\x00\x80", "negative length"),
        C("\x80\x02" "a.", "stack underflow"),
        C("\x80\x02}K\x01K\x02u.", "MARK expected"),
        C("\x80\x02NN.", "more than one value"),
        C("\x80\x02(N.", "open MARK"),
        C("\x80\x02" "(i__main__\nFoo\n.", "INST/OBJ"),
        C("\x80\x02\x82\x01.", "EXT1"),
        C("\x80\x02]N\x85R.", "non-global callable"),
        C("\x80\x02N", "before STOP"),
        C("", "before STOP"),
        C("\x80\x02]\x94\x94\x94\x94NNNs.", "SETITEM on a non-dict"),
        C("I12345678901234567890123\n.", "decimal"),
        C("\x80\x02]N\x62.", "BUILD on a value without state"),
        C("\x80\x02}N\x62N\x62.", "BUILD applied twice"),
        C("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", "OrderedDict argument"),
#undef C
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Pickle pk;
        int rc = parse_bytes(cases[i].bytes, cases[i].n, &pk);
        CHECKF(rc == T2I_EFORMAT && msg_has("mem.pkl") && msg_has(cases[i].msg),
               "case %zu: rc %d, message '%s', expected '%s'", i, rc, t2i_errmsg(), cases[i].msg);
        if (rc == T2I_OK) pickle_free(&pk);
    }
    // MARK nesting beyond the limit
    size_t n = PK_MAX_MARK_DEPTH + 10;
    char *deep = malloc(n + 2);
    memset(deep, '(', n);
    memcpy(deep + n, "N.", 2);
    Pickle pk;
    CHECK(parse_bytes(deep, n + 2, &pk) == T2I_EFORMAT && msg_has("too deep"));
    free(deep);
    // a list that contains itself parses (the tree is a graph; walkers never recurse blindly)
    CHECK(PARSE("\x80\x02]q\x00h\x00" "a.", &pk) == T2I_OK && pk_item(pk.root, 0) == pk.root);
    pickle_free(&pk);
}

TEST(pickle_protocols_agree) {
    // captions.pickle re-pickled with protocols 0..5 decodes to the same vocabulary
    Vocab ref;
    char path[512];
    int rc = vocab_load(test_fixture_path(path, sizeof path, "vocab_pickle/captions.pickle"), &ref);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    for (int p = 0; p <= 5 && !rc; p++) {
        char f[128];
        snprintf(f, sizeof f, LFIX "captions_p%d.pickle", p);
        Vocab v;
        int r2 = vocab_load_pickle(f, &v);
        CHECKF(r2 == T2I_OK, "protocol %d: %s", p, t2i_errmsg());
        if (r2) continue;
        CHECK(v.n_words == ref.n_words && v.train.n == ref.train.n && v.test.n == ref.test.n);
        for (int i = 0; i < v.n_words && v.n_words == ref.n_words; i++) {
            CHECK(strcmp(v.ixtoword[i], ref.ixtoword[i]) == 0);
            CHECK(vocab_lookup(&v, ref.ixtoword[i]) == vocab_lookup(&ref, ref.ixtoword[i]));
        }
        for (int i = 0; i < v.train.n && v.train.n == ref.train.n; i++)
            CHECK(v.train.lens[i] == ref.train.lens[i] &&
                  memcmp(v.train.ids[i], ref.train.ids[i], sizeof(int64_t) * (size_t)v.train.lens[i]) == 0);
        vocab_free(&v);
    }
    vocab_free(&ref);
}

// ---- .pth fixtures ---------------------------------------------------------------------------

static const char *cases[] = {"text_encoder", "generator_r1", "generator_r2"};

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

TEST(pth_fixtures_match_manifest) {
    for (int c = 0; c < 3; c++) {
        char path[512], rel[256];
        snprintf(rel, sizeof rel, "%s/manifest.json", cases[c]);
        cJSON *m = load_json(test_fixture_path(path, sizeof path, rel));
        CHECKF(m != NULL, "%s", path);
        if (!m) continue;
        const cJSON *wf;
        StateDict first;
        int have_first = 0;
        cJSON_ArrayForEach(wf, cJSON_GetObjectItemCaseSensitive(m, "weight_files")) {
            const char *file = cJSON_GetObjectItemCaseSensitive(wf, "file")->valuestring;
            int py2 = strstr(file, "py2") != NULL;
            snprintf(rel, sizeof rel, "%s/%s", cases[c], file);
            StateDict sd;
            int rc = pth_load(test_fixture_path(path, sizeof path, rel), &sd);
            CHECKF(rc == T2I_OK, "%s: %s", rel, t2i_errmsg());
            if (rc) continue;
            // keys, dtypes and shapes in state_dict order (py2 files predate num_batches_tracked)
            int k = 0;
            const cJSON *row;
            cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(wf, "state_dict")) {
                const char *key = cJSON_GetObjectItemCaseSensitive(row, "key")->valuestring;
                if (py2 && ends_with(key, "num_batches_tracked")) continue;
                CHECKF(k < sd.n && strcmp(sd.e[k].name, key) == 0, "%s: key %d is '%s', manifest '%s'",
                       rel, k, k < sd.n ? sd.e[k].name : "(none)", key);
                if (k >= sd.n) break;
                const char *dt = cJSON_GetObjectItemCaseSensitive(row, "dtype")->valuestring;
                CHECKF(strcmp(dtype_name(sd.e[k].dtype), dt) == 0, "%s: %s dtype", rel, key);
                const cJSON *shape = cJSON_GetObjectItemCaseSensitive(row, "shape");
                int nd = cJSON_GetArraySize(shape), ok = nd == sd.e[k].ndim;
                for (int d = 0; ok && d < nd; d++)
                    ok = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble == sd.e[k].shape[d];
                CHECKF(ok, "%s: %s shape", rel, key);
                k++;
            }
            CHECKF(k == sd.n, "%s: %d keys, manifest lists %d", rel, sd.n, k);
            // every format of the case holds bit-identical tensors (shared keys)
            if (!have_first) {
                first = sd;
                have_first = 1;
                continue;
            }
            int shared = 0;
            for (int i = 0; i < sd.n; i++) {
                const SDEntry *a = &sd.e[i], *b = sd_find(&first, a->name);
                CHECKF(b != NULL, "%s: '%s' missing from the zip file", rel, a->name);
                if (!b) continue;
                shared++;
                CHECKF(a->dtype == b->dtype && a->numel == b->numel &&
                       memcmp(a->data, b->data, a->numel * dtype_size(a->dtype)) == 0,
                       "%s: '%s' differs from the zip checkpoint", rel, a->name);
            }
            CHECK(shared == sd.n && (py2 || sd.n == first.n));
            sd_free(&sd);
        }
        if (have_first) {
            // num_batches_tracked is int64 and scalar; a float tensor converts to float32
            for (int i = 0; i < first.n; i++)
                if (ends_with(first.e[i].name, "num_batches_tracked"))
                    CHECK(first.e[i].dtype == DT_I64 && first.e[i].ndim == 0);
            sd_free(&first);
        }
        cJSON_Delete(m);
    }
}

TEST(weights_dispatch) {
    char path[512];
    const char *rels[] = {"text_encoder/model.pth", "text_encoder/model_legacy.pth",
                          "text_encoder/model_legacy_py2.pth"};
    for (int i = 0; i < 3; i++) {
        StateDict sd;
        int rc = weights_load(test_fixture_path(path, sizeof path, rels[i]), NULL, &sd);
        CHECKF(rc == T2I_OK && sd.n == 9 && sd_find(&sd, "rnn.bias_hh_l0_reverse"), "%s: %s",
               rels[i], t2i_errmsg());
        sd_free(&sd);
    }
    StateDict sd;
    CHECKF(weights_load_file(LFIX "mixed.npz", &sd) == T2I_OK && sd.n == 6, "%s", t2i_errmsg());
    const SDEntry *e = sd_find(&sd, "i8");
    CHECK(e && e->dtype == DT_I64 && e->shape[0] == 3 && ((int64_t *)e->data)[0] == -6);
    sd_free(&sd);
    CHECKF(weights_load_file(LFIX "small.safetensors", &sd) == T2I_OK && sd.n == 5, "%s", t2i_errmsg());
    sd_free(&sd);
    CHECK(weights_load("hash:nope", NULL, &sd) == T2I_EARG && msg_has("hash:nope"));
    CHECK(weights_load_file(LFIX "stats_mu.npy", &sd) == T2I_EFORMAT && msg_has("stats_mu.npy"));
    CHECK(weights_load_file(LFIX "missing.pth", &sd) == T2I_EIO);
    CHECK(weights_load_file(LFIX "evil_zip.pth", &sd) == T2I_EFORMAT && msg_has("posix.system"));
    CHECK(weights_load_file(LFIX "evil_legacy.pth", &sd) == T2I_EFORMAT && msg_has("os.system") &&
          msg_has("at byte 139"));
    CHECK(pth_load(LFIX "evil_zip.pth", &sd) == T2I_EFORMAT && msg_has("evil_zip.pth") &&
          msg_has("at byte"));
}

// ---- hand-built checkpoints: dtypes, offsets, views, nesting -----------------------------------

TEST(pth_views_and_dtypes) {
    float f[12];
    for (int i = 0; i < 12; i++) f[i] = (float)i + 0.5f;
    double dd[3] = {1.25, -2.5, 1e300};
    uint16_t h[4] = {0x3c00, 0xc000, 0x3555, 0x7bff};  // 1, -2, ~1/3, 65504
    int64_t l[2] = {-9, INT64_MAX};
    const SSpec st[] = {{"0", 12, 4, (const uint8_t *)f}, {"1", 3, 8, (const uint8_t *)dd},
                        {"2", 4, 2, (const uint8_t *)h}, {"3", 2, 8, (const uint8_t *)l}};
    const TSpec ts[] = {
        {"plain", "0", "FloatStorage", 12, 0, 2, {3, 4}, {4, 1}},
        {"offset", "0", "FloatStorage", 12, 5, 1, {3}, {1}},        // storage offset
        {"transposed", "0", "FloatStorage", 12, 0, 2, {4, 3}, {1, 4}},  // strided view
        {"strided", "0", "FloatStorage", 12, 1, 2, {2, 2}, {6, 2}},
        {"scalar", "0", "FloatStorage", 12, 11, 0, {0}, {0}},
        {"empty", "0", "FloatStorage", 12, 0, 2, {0, 4}, {4, 1}},
        {"double", "1", "DoubleStorage", 3, 0, 1, {3}, {1}},
        {"half", "2", "HalfStorage", 4, 0, 2, {2, 2}, {2, 1}},
        {"long", "3", "LongStorage", 2, 0, 1, {2}, {1}},
    };
    for (int layout = 0; layout < 2; layout++) {
        Buf b = {0};
        if (layout) build_zip_pth(&b, ts, 9, st, 4);
        else build_legacy(&b, ts, 9, st, 4);
        StateDict sd;
        int rc = pth_parse(b.p, b.n, "views.pth", &sd);
        CHECKF(rc == T2I_OK, "layout %d: %s", layout, t2i_errmsg());
        free(b.p);
        if (rc) continue;
        CHECK(sd.n == 9);
        const SDEntry *e = sd_find(&sd, "offset");
        CHECK(e && e->numel == 3 && ((float *)e->data)[0] == 5.5f && ((float *)e->data)[2] == 7.5f);
        e = sd_find(&sd, "transposed");
        // transposed[i][j] = plain[j][i] = f[4j + i]
        int ok = e && e->ndim == 2 && e->shape[0] == 4 && e->shape[1] == 3;
        for (int i = 0; ok && i < 4; i++)
            for (int j = 0; j < 3; j++) ok &= ((float *)e->data)[i * 3 + j] == f[4 * j + i];
        CHECK(ok);
        e = sd_find(&sd, "strided");
        CHECK(e && ((float *)e->data)[0] == f[1] && ((float *)e->data)[1] == f[3] &&
              ((float *)e->data)[2] == f[7] && ((float *)e->data)[3] == f[9]);
        e = sd_find(&sd, "scalar");
        CHECK(e && e->ndim == 0 && e->numel == 1 && ((float *)e->data)[0] == 11.5f);
        e = sd_find(&sd, "empty");
        CHECK(e && e->numel == 0 && e->shape[0] == 0);
        e = sd_find(&sd, "double");
        CHECK(e && e->dtype == DT_F64 && ((double *)e->data)[2] == 1e300);
        SDEntry *he = (SDEntry *)sd_find(&sd, "half");
        float *hf = he ? sd_f32(he) : NULL;
        CHECK(he && he->dtype == DT_F16 && hf && hf[0] == 1.0f && hf[1] == -2.0f && hf[3] == 65504.0f);
        e = sd_find(&sd, "long");
        CHECK(e && e->dtype == DT_I64 && ((int64_t *)e->data)[1] == INT64_MAX);
        sd_free(&sd);
    }
    // a checkpoint dict holding exactly one state_dict ({'epoch': 3, 'model': {...}})
    Buf b = {0};
    Buf inner = {0};
    build_sd_pickle(&inner, ts, 1, 0);
    b_s(&b, "\x80\x02}(");
    pk_str(&b, "epoch");
    pk_int(&b, 3);
    pk_str(&b, "model");
    b_put(&b, inner.p + 2, inner.n - 3);  // the OrderedDict without PROTO and STOP
    b_s(&b, "u.");
    const char *names[2] = {"ckpt/data.pkl", "ckpt/data/0"};
    const uint8_t *data[2] = {b.p, (const uint8_t *)f};
    size_t lens[2] = {b.n, sizeof f};
    Buf z = {0};
    build_zip(&z, 2, names, data, lens);
    StateDict sd;
    CHECKF(pth_parse(z.p, z.n, "nested.pth", &sd) == T2I_OK && sd.n == 1 && sd_find(&sd, "plain"),
           "%s", t2i_errmsg());
    sd_free(&sd);
    free(z.p);
    free(b.p);
    free(inner.p);
}

TEST(pth_refuses_huge_and_inconsistent) {
    float f[4] = {1, 2, 3, 4};
    const SSpec st[] = {{"0", 4, 4, (const uint8_t *)f}};
    struct {
        TSpec       t;
        SSpec       s;
        const char *msg;
    } bad[] = {
        // a 10^12-element tensor over a 4-element storage
        {{"w", "0", "FloatStorage", 4, 0, 2, {1000000, 1000000}, {1000000, 1}}, st[0], "claims"},
        // a storage that claims 10^12 elements (legacy: the data section is 16 bytes)
        {{"w", "0", "FloatStorage", 1000000000000LL, 0, 1, {4}, {1}}, {"0", 1000000000000LL, 4, NULL},
         "elements"},
        // a view reaching past its storage
        {{"w", "0", "FloatStorage", 4, 2, 1, {3}, {1}}, st[0], "reads element"},
        {{"w", "0", "FloatStorage", 4, 0, 2, {2, 2}, {3, 1}}, st[0], "reads element"},
        // huge strides: past the storage, and past 2^64
        {{"w", "0", "FloatStorage", 4, 0, 2, {2, 2}, {INT64_MAX, 1}}, st[0], "reads element"},
        {{"w", "0", "FloatStorage", 4, INT64_MAX, 2, {2, 2}, {INT64_MAX, INT64_MAX}}, st[0], "overflows"},
        // storage size that disagrees with the data section
        {{"w", "0", "FloatStorage", 3, 0, 1, {3}, {1}}, st[0], "elements"},
        // a storage type the state_dict does not declare in the zip
        {{"w", "9", "FloatStorage", 4, 0, 1, {4}, {1}}, st[0], "unknown"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int layout = 0; layout < 2; layout++) {
            Buf b = {0};
            SSpec s = bad[i].s;
            if (!s.data) {  // the claim is in the header; the bytes are only 4 floats
                s.data = (const uint8_t *)f;
                s.numel = 4;
                if (layout == 0) {
                    build_legacy(&b, &bad[i].t, 1, &s, 1);
                    rd_le64(b.p);  // numel field of the data section claims 10^12 as well
                    memcpy(b.p + b.n - 16 - 8, &bad[i].s.numel, 8);
                } else {
                    build_zip_pth(&b, &bad[i].t, 1, &s, 1);
                }
            } else if (layout == 0) {
                build_legacy(&b, &bad[i].t, 1, &s, 1);
            } else {
                build_zip_pth(&b, &bad[i].t, 1, &s, 1);
            }
            StateDict sd;
            int rc = pth_parse(b.p, b.n, "huge.pth", &sd);
            // zip layout reports storage mismatches as "bytes"/"missing" instead
            CHECKF(rc == T2I_EFORMAT && msg_has("huge.pth"), "case %zu layout %d: rc %d %s", i,
                   layout, rc, t2i_errmsg());
            if (layout == 0 && i != 7)
                CHECKF(msg_has(bad[i].msg), "case %zu: '%s' lacks '%s'", i, t2i_errmsg(), bad[i].msg);
            free(b.p);
        }
    }
    // Both sides of the element bounds: a view ending on the storage's last element, and a
    // stride-0 tensor of exactly the storage's element count, load; one element more does not.
    struct {
        TSpec t;
        int   ok;
        const char *msg;
    } edge[] = {
        {{"w", "0", "FloatStorage", 4, 1, 1, {3}, {1}}, 1, NULL},
        {{"w", "0", "FloatStorage", 4, 2, 1, {3}, {1}}, 0, "reads element"},
        {{"w", "0", "FloatStorage", 4, 0, 1, {4}, {0}}, 1, NULL},
        {{"w", "0", "FloatStorage", 4, 0, 1, {5}, {0}}, 0, "claims"},
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        for (int layout = 0; layout < 2; layout++) {
            Buf b = {0};
            if (layout == 0)
                build_legacy(&b, &edge[i].t, 1, st, 1);
            else
                build_zip_pth(&b, &edge[i].t, 1, st, 1);
            StateDict sd;
            int rc = pth_parse(b.p, b.n, "edge.pth", &sd);
            if (edge[i].ok) {
                CHECKF(rc == T2I_OK, "edge %zu layout %d: %s", i, layout, t2i_errmsg());
                if (!rc) sd_free(&sd);
            } else {
                CHECKF(rc == T2I_EFORMAT && msg_has("edge.pth") && msg_has(edge[i].msg),
                       "edge %zu layout %d: rc %d %s", i, layout, rc, t2i_errmsg());
            }
            free(b.p);
        }
    }
    // safetensors and npy claiming 10^12 elements
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],"
                      "\"data_offsets\":[0,4000000000000]}}";
    Buf b = {0};
    b_le(&b, strlen(hdr), 8);
    b_s(&b, hdr);
    b_put(&b, f, 16);
    StateDict sd;
    CHECK(safetensors_parse(b.p, b.n, "huge.safetensors", &sd) == T2I_EFORMAT &&
          msg_has("huge.safetensors"));
    free(b.p);
    // a deflated zip member that claims 10^12 bytes
    const char *nm[1] = {"x.npy"};
    const uint8_t *dt[1] = {(const uint8_t *)"abc"};
    size_t ln[1] = {3};
    Buf z = {0};
    build_zip(&z, 1, nm, dt, ln);
    size_t cd = rd_le32(z.p + z.n - 6);
    z.p[8] = 8;             // local method: deflate
    z.p[cd + 10] = 8;       // central method: deflate
    uint32_t big = 0xfffffff0u;
    memcpy(z.p + cd + 24, &big, 4);  // central usize
    Zip zz;
    CHECK(zip_open(&zz, z.p, z.n, "bomb.zip") == T2I_OK);
    uint8_t *out;
    size_t olen;
    CHECK(zip_extract(&zz, 0, &out, &olen) == T2I_EFORMAT && msg_has("claims"));
    zip_close(&zz);
    free(z.p);
}

// ---- hostile fixtures: truncation, byte flips, allocation failure ------------------------------

static const char *weight_files[] = {
    "text_encoder/model.pth",  "text_encoder/model_legacy.pth",  "text_encoder/model_legacy_py2.pth",
    "generator_r1/model.pth",  "generator_r1/model_legacy.pth",  "generator_r2/model.pth",
    "generator_r2/model_legacy.pth", "generator_r2/model_legacy_py2.pth",
};

// Offset one past the end of the checkpoint's (last) pickle.
static size_t pickle_end(const uint8_t *buf, size_t len) {
    if (pth_sniff(buf, len) == 1) {
        Zip z;
        size_t end = 0;
        if (zip_open(&z, buf, len, "x") == T2I_OK) {
            for (int i = 0; i < z.n; i++)
                if (ends_with(z.e[i].name, "/data.pkl")) end = (size_t)(z.e[i].data_off + z.e[i].csize);
            zip_close(&z);
        }
        return end;
    }
    size_t pos = 0;
    for (int i = 0; i < 5; i++) {
        Pickle pk;
        if (pickle_parse(buf + pos, len - pos, "x", pos, &pk)) return 0;
        pos += pk.end;
        pickle_free(&pk);
    }
    return pos;
}

TEST(pth_truncated_everywhere) {
    for (size_t f = 0; f < sizeof weight_files / sizeof weight_files[0]; f++) {
        char path[512];
        size_t len;
        uint8_t *buf = slurp(test_fixture_path(path, sizeof path, weight_files[f]), &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        size_t pend = pickle_end(buf, len);
        CHECKF(pend > 100 && pend < len, "%s: pickle ends at %zu", weight_files[f], pend);
        size_t tried = 0, bad_msgs = 0;
        for (size_t l = 0; l < len; l += l < pend ? 1 : 4093) {
            uint8_t *c = malloc(l ? l : 1);  // exact size, so ASan sees any over-read
            memcpy(c, buf, l);
            StateDict sd;
            int rc = pth_parse(c, l, "cut.pth", &sd);
            if (rc != T2I_EFORMAT || !msg_has("cut.pth") || !msg_has("byte")) {
                if (bad_msgs++ < 3)
                    fprintf(stderr, "  %s cut at %zu: rc %d '%s'\n", weight_files[f], l, rc, t2i_errmsg());
            }
            if (rc == T2I_OK) sd_free(&sd);
            free(c);
            tried++;
        }
        CHECKF(bad_msgs == 0, "%s: %zu of %zu truncations without a clean error", weight_files[f],
               bad_msgs, tried);
        t2i_free(buf);
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

// 1 when two state dicts hold the same names, dtypes, shapes and data bytes (in order).
static int sd_same(const StateDict *a, const StateDict *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        const SDEntry *x = &a->e[i], *y = &b->e[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->ndim != y->ndim ||
            x->numel != y->numel || memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim) ||
            memcmp(x->data, y->data, x->numel * dtype_size(x->dtype)))
            return 0;
    }
    return 1;
}

TEST(pth_random_byte_flips) {
    // A flipped file is refused with a message naming it, or loads. The zip format guards the
    // pickle and every tensor with a CRC-32, so a zip file that still loads must give exactly the
    // original tensors (the flips hit only unchecked header fields). A legacy file has no checksum:
    // one that loads must still be a well-formed state dict (names, shapes within its bytes).
    int loaded = 0, refused = 0;
    for (size_t f = 0; f < sizeof weight_files / sizeof weight_files[0]; f++) {
        char path[512];
        size_t len;
        uint8_t *buf = slurp(test_fixture_path(path, sizeof path, weight_files[f]), &len);
        if (!buf) continue;
        size_t pend = pickle_end(buf, len);
        StateDict orig;
        int orc = pth_parse(buf, len, "orig.pth", &orig);
        CHECKF(orc == T2I_OK, "%s: %s", weight_files[f], t2i_errmsg());
        int is_zip = len > 4 && memcmp(buf, "PK\x03\x04", 4) == 0;
        uint8_t *c = malloc(len);
        for (int it = 0; it < 150; it++) {
            memcpy(c, buf, len);
            int flips = 1 + (int)(rnd() % 8);
            for (int k = 0; k < flips; k++) {
                // mostly inside the pickle / zip headers, sometimes anywhere
                size_t at = (k % 3 == 2) ? rnd() % len : rnd() % pend;
                c[at] ^= (uint8_t)(1 + rnd() % 255);
            }
            StateDict sd;
            int rc = pth_parse(c, len, "flip.pth", &sd);
            if (rc == T2I_OK) {
                loaded++;
                if (is_zip) {
                    CHECKF(orc == T2I_OK && sd_same(&sd, &orig), "%s: flipped zip loaded with "
                           "different tensors (iteration %d)", weight_files[f], it);
                } else {
                    int ok = sd.n > 0;
                    for (int i = 0; i < sd.n; i++)
                        ok &= sd.e[i].name[0] != 0 && sd.e[i].numel * dtype_size(sd.e[i].dtype) <= len;
                    CHECKF(ok, "%s: flipped legacy file loaded malformed (iteration %d)",
                           weight_files[f], it);
                }
                sd_free(&sd);
            } else {
                refused++;
                CHECKF(msg_has("flip.pth"), "rc %d message '%s'", rc, t2i_errmsg());
            }
        }
        free(c);
        if (!orc) sd_free(&orig);
        t2i_free(buf);
    }
    CHECK(refused > 0);
    if (getenv("T2I_TEST_VERBOSE")) fprintf(stderr, "  flips: %d loaded, %d refused\n", loaded, refused);
}

TEST(alloc_failures_are_clean) {
    // Every allocation of each loader fails in turn; each must give T2I_ENOMEM (or succeed once
    // the budget is large enough) without leaking (LeakSanitizer checks under SANITIZE=1).
    char path[512];
    const char *files[] = {"text_encoder/model.pth", "text_encoder/model_legacy_py2.pth"};
    for (int f = 0; f < 2; f++) {
        test_fixture_path(path, sizeof path, files[f]);
        int ok = 0;
        for (long n = 0; n < 5000 && !ok; n++) {
            t2i_alloc_fail_after(n);
            StateDict sd;
            int rc = weights_load_file(path, &sd);
            t2i_alloc_fail_after(-1);
            if (rc == T2I_OK) {
                ok = 1;
                CHECK(sd.n == 9);
                sd_free(&sd);
            } else {
                CHECKF(rc == T2I_ENOMEM, "budget %ld: rc %d %s", n, rc, t2i_errmsg());
            }
        }
        CHECK(ok);
    }
    test_fixture_path(path, sizeof path, "vocab_pickle/captions.pickle");
    int ok = 0;
    for (long n = 0; n < 5000 && !ok; n++) {
        t2i_alloc_fail_after(n);
        Vocab v;
        int rc = vocab_load(path, &v);
        t2i_alloc_fail_after(-1);
        if (rc == T2I_OK) {
            ok = 1;
            vocab_free(&v);
        } else {
            CHECKF(rc == T2I_ENOMEM, "vocab budget %ld: rc %d %s", n, rc, t2i_errmsg());
        }
    }
    CHECK(ok);
    const char *others[] = {LFIX "stats_deflate.npz", LFIX "small.safetensors"};
    for (int f = 0; f < 2; f++) {
        ok = 0;
        for (long n = 0; n < 5000 && !ok; n++) {
            t2i_alloc_fail_after(n);
            StateDict sd;
            int rc = weights_load_file(others[f], &sd);
            t2i_alloc_fail_after(-1);
            if (rc == T2I_OK) {
                ok = 1;
                sd_free(&sd);
            } else {
                CHECKF(rc == T2I_ENOMEM, "%s budget %ld: rc %d %s", others[f], n, rc, t2i_errmsg());
            }
        }
        CHECK(ok);
    }
}

TEST(fuzz_regressions) {
    // Inputs libFuzzer found (tests/fixtures/loaders/regress/): each must parse or fail cleanly.
    const char *files[] = {LFIX "regress/pickle_null_stack.pickle", LFIX "regress/pth_null_stack.pth"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        uint8_t *buf = slurp(files[i], &len);
        CHECKF(buf != NULL, "%s", files[i]);
        if (!buf) continue;
        Pickle pk;
        // Both are well-formed pickles (the crash was in the NULL stack of an empty unpickler);
        // only the .pth structure around them is wrong.
        int rc = pickle_parse(buf, len, files[i], 0, &pk);
        CHECKF(rc == T2I_OK, "%s: pickle_parse rc %d %s", files[i], rc, t2i_errmsg());
        if (!rc) pickle_free(&pk);
        StateDict sd;
        rc = pth_parse(buf, len, files[i], &sd);
        CHECKF(rc == T2I_EFORMAT && msg_has(files[i]), "%s: rc %d %s", files[i], rc, t2i_errmsg());
        t2i_free(buf);
    }
}

// ---- safetensors -----------------------------------------------------------------------------

TEST(safetensors_file) {
    StateDict sd;
    int rc = safetensors_load(LFIX "small.safetensors", &sd);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    const char *keys[] = {"conv.weight", "conv.bias", "bn.num_batches_tracked", "emb.half", "stats.double"};
    CHECK(sd.n == 5);
    for (int i = 0; i < 5 && sd.n == 5; i++) {
        CHECK(strcmp(sd.e[i].name, keys[i]) == 0);  // header order
        char ref[256], fn[64];
        snprintf(fn, sizeof fn, "%s", keys[i]);
        for (char *p = fn; *p; p++)
            if (*p == '.') *p = '_';
        snprintf(ref, sizeof ref, LFIX "st_%s.npy", fn);
        NpyArray a = {.dtype = sd.e[i].dtype, .ndim = sd.e[i].ndim, .numel = sd.e[i].numel,
                      .data = sd.e[i].data};
        memcpy(a.shape, sd.e[i].shape, sizeof a.shape);
        check_same_array(&a, ref);
    }
    sd_free(&sd);
}

static int st_try(const char *hdr, size_t data_len) {
    Buf b = {0};
    b_le(&b, strlen(hdr), 8);
    b_s(&b, hdr);
    for (size_t i = 0; i < data_len; i++) b_u8(&b, (uint8_t)i);
    StateDict sd;
    int rc = safetensors_parse(b.p, b.n, "t.safetensors", &sd);
    if (rc == T2I_OK) sd_free(&sd);
    free(b.p);
    return rc;
}

TEST(safetensors_rejects_bad_headers) {
    CHECK(st_try("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}", 9) == T2I_OK);
    CHECK(st_try("{}", 0) == T2I_OK);
    static const struct {
        const char *hdr;
        size_t      data;
        const char *msg;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 9, "data bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, "data bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}", 9, "gap or overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap or overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "need 12 bytes"},
        {"{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "not supported"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unknown"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "needs dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", 8, "duplicate"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "malformed JSON"},
        {"[1,2]", 0, "not a JSON object"},
        {"{\"a\":3}", 0, "not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = st_try(bad[i].hdr, bad[i].data);
        CHECKF(rc == T2I_EFORMAT && msg_has("t.safetensors") && msg_has(bad[i].msg),
               "case %zu: rc %d '%s' (wanted '%s')", i, rc, t2i_errmsg(), bad[i].msg);
    }
    // header size beyond the file, and an over-limit header size
    uint8_t small[16] = {0xff, 0xff, 0xff, 0, 0, 0, 0, 0, '{', '}'};
    StateDict sd;
    CHECK(safetensors_parse(small, sizeof small, "t.safetensors", &sd) == T2I_EFORMAT);
    // truncation at every length
    size_t len;
    uint8_t *buf = slurp(LFIX "small.safetensors", &len);
    for (size_t l = 0; buf && l < len; l++) {
        uint8_t *c = malloc(l ? l : 1);
        memcpy(c, buf, l);
        int rc = safetensors_parse(c, l, "t.safetensors", &sd);
        CHECK(rc == T2I_EFORMAT);
        if (!rc) sd_free(&sd);
        free(c);
    }
    t2i_free(buf);
}

// ---- vocab -----------------------------------------------------------------------------------

static void check_vocab_content(const Vocab *v, const cJSON *exp, const char *what) {
    const char *lists[2] = {"train_captions", "test_captions"};
    const CaptionList *cl[2] = {&v->train, &v->test};
    for (int l = 0; l < 2; l++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(exp, lists[l]);
        CHECKF(cJSON_GetArraySize(arr) == cl[l]->n, "%s %s: %d captions, expected %d", what,
               lists[l], cl[l]->n, cJSON_GetArraySize(arr));
        int i = 0, bad = 0;
        const cJSON *cap;
        cJSON_ArrayForEach(cap, arr) {
            if (i >= cl[l]->n) break;
            int ok = cJSON_GetArraySize(cap) == cl[l]->lens[i];
            for (int k = 0; ok && k < cl[l]->lens[i]; k++)
                ok = (int64_t)cJSON_GetArrayItem(cap, k)->valuedouble == cl[l]->ids[i][k];
            bad += !ok;
            i++;
        }
        CHECKF(bad == 0, "%s %s: %d captions differ", what, lists[l], bad);
    }
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(exp, "ixtoword");
    const cJSON *wi = cJSON_GetObjectItemCaseSensitive(exp, "wordtoix");
    CHECKF(cJSON_GetArraySize(ix) == v->n_words, "%s: %d words, expected %d", what, v->n_words,
           cJSON_GetArraySize(ix));
    const cJSON *e;
    int bad = 0, n = 0;
    cJSON_ArrayForEach(e, ix) {
        long id = strtol(e->string, NULL, 10);
        bad += !(id >= 0 && id < v->n_words && strcmp(v->ixtoword[id], e->valuestring) == 0);
    }
    cJSON_ArrayForEach(e, wi) {
        bad += vocab_lookup(v, e->string) != (int64_t)e->valuedouble;
        n++;
    }
    CHECKF(bad == 0 && n == (int)v->nkeys, "%s: %d ixtoword/wordtoix mismatches, %d vs %zu keys",
           what, bad, n, v->nkeys);
    const cJSON *nw = cJSON_GetObjectItemCaseSensitive(exp, "n_words");
    if (nw) CHECK((int)nw->valuedouble == v->n_words);
}

TEST(vocab_pickles_match_expected) {
    char path[512];
    cJSON *m = load_json(test_fixture_path(path, sizeof path, "vocab_pickle/manifest.json"));
    CHECK(m != NULL);
    Vocab v;
    int rc = vocab_load(test_fixture_path(path, sizeof path, "vocab_pickle/captions.pickle"), &v);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc && m) {
        check_vocab_content(&v, cJSON_GetObjectItemCaseSensitive(m, "expected_pickle_content"),
                            "captions.pickle");
        CHECK(vocab_lookup(&v, "<end>") == 0 && vocab_lookup(&v, "no-such-word") == -1);
    }
    vocab_free(&v);
    vocab_free(&v);
    cJSON_Delete(m);
    m = load_json(test_fixture_path(path, sizeof path, "vocab_pickle/captions_large.expected.json"));
    CHECK(m != NULL);
    rc = vocab_load(test_fixture_path(path, sizeof path, "vocab_pickle/captions_large.pickle"), &v);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc && m) {
        check_vocab_content(&v, m, "captions_large.pickle");
        CHECK(v.n_words == 1457 && v.train.n == 1015 && v.test.n == 155);
    }
    vocab_free(&v);
    cJSON_Delete(m);
}

TEST(vocab_text_roundtrip_and_errors) {
    char path[512];
    Vocab v, t;
    int rc = vocab_load(test_fixture_path(path, sizeof path, "vocab_pickle/captions_large.pickle"), &v);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (rc) return;
    char tbuf[128];
    const char *tp = tmp_path(tbuf, sizeof tbuf, "vocab.txt");
    CHECK(vocab_save_text(&v, tp) == T2I_OK);
    rc = vocab_load(tp, &t);
    CHECKF(rc == T2I_OK, "%s", t2i_errmsg());
    if (!rc) {
        CHECK(t.n_words == v.n_words && t.train.n == 0 && t.test.n == 0);
        int bad = 0;
        for (int i = 0; i < v.n_words && t.n_words == v.n_words; i++)
            bad += strcmp(t.ixtoword[i], v.ixtoword[i]) != 0 ||
                   vocab_lookup(&t, v.ixtoword[i]) != vocab_lookup(&v, v.ixtoword[i]);
        CHECK(bad == 0);
        vocab_free(&t);
    }
    vocab_free(&v);
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"0\t<end>\n2\tbird\n", "next dense id 1"},
        {"0\t<end>\n1\tbird\n2\tbird\n", "duplicate word 'bird'"},
        {"0\tbird\n", "must be \"<end>\""},
        {"0\t<end>\n1 bird\n", "id<TAB>word"},
        {"0\t<end>\n1\t\n", "id<TAB>word"},
        {"0\t<end>\n1\ta b\n", "id<TAB>word"},
        {"0\t<end>\nx\tbird\n", "is not plain decimal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(tp, bad[i].text, strlen(bad[i].text));
        rc = vocab_load(tp, &t);
        CHECKF(rc == T2I_EFORMAT && msg_has("vocab.txt") && msg_has(bad[i].msg),
               "case %zu: rc %d '%s'", i, rc, t2i_errmsg());
    }
    write_file(tp, "0\t<end>\r\n1\tbird", 15);  // CRLF and no final newline are fine
    CHECKF(vocab_load(tp, &t) == T2I_OK && t.n_words == 2 && vocab_lookup(&t, "bird") == 1, "%s",
           t2i_errmsg());
    vocab_free(&t);
    // hostile pickles
    CHECK(vocab_load(LFIX "evil_os_system_p0.pickle", &t) == T2I_EFORMAT && msg_has("os.system") &&
          msg_has("at byte 0"));
    CHECK(vocab_load(LFIX "evil_os_system_p2.pickle", &t) == T2I_EFORMAT && msg_has("os.system") &&
          msg_has("at byte 2"));
    // structurally wrong pickles: ids out of range, wrong shapes
    const char *wrong[] = {
        "\x80\x02](]]}}e.",                                            // empty ixtoword
        "\x80\x02](]](K\x05" "e]}K\x00X\x05\x00\x00\x00<end>s}e.",    // caption id 5 >= n_words
        "\x80\x02](]]}K\x01X\x01\x00\x00\x00" "as}e.",                 // ixtoword id 1 of 1 word
        "\x80\x02]K\x01" "a.",                                         // not 4 items
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        write_file(tp, wrong[i], strlen(wrong[i]) + (i == 0 ? 0 : 0));
        rc = vocab_load(tp, &t);
        CHECKF(rc == T2I_EFORMAT && msg_has("vocab.txt"), "wrong %zu: rc %d '%s'", i, rc, t2i_errmsg());
    }
    // truncation of the large pickle at every length
    size_t len;
    uint8_t *buf = slurp(test_fixture_path(path, sizeof path, "vocab_pickle/captions_large.pickle"), &len);
    int unclean = 0;
    for (size_t l = 0; buf && l < len; l += 1 + l / 64) {
        write_file(tp, buf, l);
        rc = vocab_load_pickle(tp, &t);
        unclean += rc != T2I_EFORMAT || !msg_has("vocab.txt");
        if (!rc) vocab_free(&t);
    }
    CHECK(unclean == 0);
    t2i_free(buf);
}

// ---- load time of a 30 MB checkpoint (reported, never asserted) ----------------------------------

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(load_30mb_checkpoint) {
    enum { NT = 30, NEL = 262144 };  // 30 tensors x 1 MiB = 30 MiB
    float *data = malloc(sizeof(float) * NEL * NT);
    for (size_t i = 0; i < (size_t)NEL * NT; i++) data[i] = (float)(i % 1000) * 0.001f;
    TSpec ts[NT];
    SSpec ss[NT];
    char keys[NT][32], skeys[NT][8];
    for (int i = 0; i < NT; i++) {
        snprintf(keys[i], sizeof keys[i], "layer%d.weight", i);
        snprintf(skeys[i], sizeof skeys[i], "%d", i);
        ts[i] = (TSpec){keys[i], skeys[i], "FloatStorage", NEL, 0, 2, {512, 512}, {512, 1}};
        ss[i] = (SSpec){skeys[i], NEL, 4, (const uint8_t *)(data + (size_t)i * NEL)};
    }
    const char *kinds[3] = {"zip .pth", "legacy .pth", "safetensors"};
    for (int k = 0; k < 3; k++) {
        Buf b = {0};
        if (k == 0) build_zip_pth(&b, ts, NT, ss, NT);
        if (k == 1) build_legacy(&b, ts, NT, ss, NT);
        if (k == 2) {
            Buf h = {0};
            b_s(&h, "{");
            for (int i = 0; i < NT; i++) {
                char e[200];
                snprintf(e, sizeof e, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[512,512],\"data_offsets\":[%zu,%zu]}",
                         i ? "," : "", keys[i], (size_t)i * NEL * 4, (size_t)(i + 1) * NEL * 4);
                b_s(&h, e);
            }
            b_s(&h, "}");
            b_le(&b, h.n, 8);
            b_put(&b, h.p, h.n);
            b_put(&b, data, sizeof(float) * NEL * NT);
            free(h.p);
        }
        char pbuf[128];
        const char *p = tmp_path(pbuf, sizeof pbuf, "big.bin");
        CHECK(write_file(p, b.p, b.n));
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            StateDict sd;
            double t0 = now_s();
            int rc = weights_load_file(p, &sd);
            double dt = now_s() - t0;
            CHECKF(rc == T2I_OK && sd.n == NT, "%s: %s", kinds[k], t2i_errmsg());
            if (!rc) CHECK(memcmp(sd.e[NT - 1].data, data + (size_t)(NT - 1) * NEL, 4 * NEL) == 0);
            sd_free(&sd);
            if (dt < best) best = dt;
        }
        printf("load_30mb_checkpoint: %s %.1f MB in %.1f ms (best of 3)\n", kinds[k], b.n / 1e6,
               best * 1e3);
        free(b.p);
        unlink(p);
    }
    free(data);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(sha256_vectors);
    RUN(rd_bounds);
    RUN(zip_torch_fixture);
    RUN(zip_rejects_corruption);
    RUN(npz_numpy_files);
    RUN(npz_save_roundtrip);
    RUN(pickle_values);
    RUN(pickle_rejects_hostile);
    RUN(pickle_protocols_agree);
    RUN(pth_fixtures_match_manifest);
    RUN(weights_dispatch);
    RUN(pth_views_and_dtypes);
    RUN(pth_refuses_huge_and_inconsistent);
    RUN(pth_truncated_everywhere);
    RUN(pth_random_byte_flips);
    RUN(alloc_failures_are_clean);
    RUN(fuzz_regressions);
    RUN(safetensors_file);
    RUN(safetensors_rejects_bad_headers);
    RUN(vocab_pickles_match_expected);
    RUN(vocab_text_roundtrip_and_errors);
    RUN(load_30mb_checkpoint);
    char p[128];
    unlink(tmp_path(p, sizeof p, "rt.npz"));
    unlink(tmp_path(p, sizeof p, "vocab.txt"));
    rmdir(tmpdir);
    return test_report("test_loaders");
}
