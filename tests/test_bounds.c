// test_bounds.c -- every bounds check of the loaders, exactly at the boundary, on both sides:
// a crafted input that violates the check by one byte (refused with a message naming the file)
// next to one that meets it exactly (accepted, or refused by a later, different check). Each
// input lives in its own exactly-sized allocation (bytes_dup) so that AddressSanitizer sees any
// read one past its end (tests/SANITIZE_TESTS runs this file under ASan).
#include "npy.h"
#include "npz.h"
#include "pickle.h"
#include "pth.h"
#include "safetensors.h"
#include "state_dict.h"
#include "t2i.h"
#include "test.h"
#include "zip.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "bytes_test.h"

// ---- helpers ----------------------------------------------------------------------------------

// ---- npy ---------------------------------------------------------------------------------------

static int npy_try(const uint8_t *img, size_t n) {
    uint8_t *c = bytes_dup(img, n);
    NpyArray a;
    int rc = npy_parse(c, n, "b.npy", &a);
    if (!rc) npy_free(&a);
    free(c);
    return rc;
}

// A v1 image with header text `h` (length field = hlen_field) followed by `data` bytes.
static Buf npy_img(int major, const char *h, size_t hlen_field, size_t data) {
    Buf b = {0};
    b_put(&b, "\x93NUMPY", 6);
    uint8_t v[2] = {(uint8_t)major, 0};
    b_put(&b, v, 2);
    b_le(&b, hlen_field, major == 1 ? 2 : 4);
    b_s(&b, h);
    for (size_t i = 0; i < data; i++) b_put(&b, "\x01", 1);
    return b;
}

TEST(npy_header_boundaries) {
    const char *h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    size_t hl = strlen(h);
    // Header length exactly the rest of the file, shape (0,): no data, accepted.
    const char *h0 = "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }";
    Buf b = npy_img(1, h0, strlen(h0), 0);
    CHECKF(npy_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    // One byte longer than the file holds: refused before the parser reads it.
    b.p[8] = (uint8_t)(strlen(h0) + 1);
    CHECK(npy_try(b.p, b.n) == T2I_EFORMAT && msg_has("b.npy") && msg_has("runs past the end"));
    free(b.p);
    // The same for format 2.0 (4-byte length).
    b = npy_img(2, h0, strlen(h0), 0);
    CHECKF(npy_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    b.p[8] = (uint8_t)(strlen(h0) + 1);
    CHECK(npy_try(b.p, b.n) == T2I_EFORMAT && msg_has("runs past the end"));
    free(b.p);
    // Data: exactly 8 bytes for (2,) <f4; one more or one fewer is refused.
    b = npy_img(1, h, hl, 8);
    CHECKF(npy_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    CHECK(npy_try(b.p, b.n - 1) == T2I_EFORMAT && msg_has("data is 7 bytes"));
    free(b.p);
    b = npy_img(1, h, hl, 9);
    CHECK(npy_try(b.p, b.n) == T2I_EFORMAT && msg_has("data is 9 bytes"));
    free(b.p);
    // The fixed prefix: 10 bytes for 1.0 (9 is "not a .npy file"), 12 for 2.0.
    b = npy_img(1, "", 0, 0);
    CHECK(b.n == 10);
    CHECK(npy_try(b.p, 9) == T2I_EFORMAT && msg_has("bad magic"));
    CHECK(npy_try(b.p, 10) == T2I_EFORMAT && !msg_has("bad magic") && msg_has("expected '{'"));
    free(b.p);
    b = npy_img(2, "", 0, 0);
    CHECK(b.n == 12);
    CHECK(npy_try(b.p, 11) == T2I_EFORMAT && msg_has("truncated .npy header"));
    CHECK(npy_try(b.p, 12) == T2I_EFORMAT && msg_has("expected '{'"));
    free(b.p);
    // Versions: 1, 2 and 3 are read; 0 and 4 are refused.
    for (int v = 0; v <= 4; v++) {
        b = npy_img(v == 1 ? 1 : 2, h0, strlen(h0), 0);
        b.p[6] = (uint8_t)v;
        int rc = npy_try(b.p, b.n);
        CHECKF((v >= 1 && v <= 3) ? rc == T2I_OK : (rc == T2I_EFORMAT && msg_has("version")),
               "version %d: rc %d %s", v, rc, t2i_errmsg());
        free(b.p);
    }
}

TEST(npy_dims_and_strings) {
    // T2I_MAX_DIMS dims are read, one more is refused.
    char h[256];
    for (int extra = 0; extra <= 1; extra++) {
        int nd = T2I_MAX_DIMS + extra, o;
        o = snprintf(h, sizeof h, "{'descr': '|u1', 'fortran_order': False, 'shape': (");
        for (int d = 0; d < nd; d++) o += snprintf(h + o, sizeof h - (size_t)o, "1, ");
        snprintf(h + o, sizeof h - (size_t)o, "), }");
        Buf b = npy_img(1, h, strlen(h), 1);
        int rc = npy_try(b.p, b.n);
        CHECKF(extra ? rc == T2I_EFORMAT && msg_has("more than") : rc == T2I_OK, "%d dims: %s",
               nd, t2i_errmsg());
        free(b.p);
    }
    // A string value of 32 characters does not fit the 32-byte buffer; 31 do (and are then an
    // unsupported dtype).
    for (int len = 31; len <= 32; len++) {
        char v[40];
        memset(v, 'a', (size_t)len);
        v[len] = 0;
        snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }", v);
        Buf b = npy_img(1, h, strlen(h), 1);
        int rc = npy_try(b.p, b.n);
        CHECKF(rc == T2I_EFORMAT && msg_has(len == 32 ? "too long" : "is not supported"),
               "len %d: %s", len, t2i_errmsg());
        free(b.p);
    }
    // Unterminated string / dict at the header's last byte.
    const char *cut[] = {"{'descr': '<f4", "{'descr'", "{'descr': '<f4', 'fortran_order': Fals",
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (1,"};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        Buf b = npy_img(1, cut[i], strlen(cut[i]), 0);
        CHECKF(npy_try(b.p, b.n) == T2I_EFORMAT && msg_has("b.npy"), "cut %zu: %s", i,
               t2i_errmsg());
        free(b.p);
    }
}

TEST(npy_every_prefix_own_allocation) {
    const float v[3] = {1, 2, 3};
    const int64_t shape[1] = {3};
    uint8_t *buf;
    size_t len;
    CHECK(npy_serialize(DT_F32, 1, shape, v, &buf, &len) == T2I_OK);
    size_t hl = (size_t)buf[8] | (size_t)buf[9] << 8;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = npy_try(buf, cut);
        // The message names the place: the magic, the header, or the data size.
        const char *want = cut < 10 ? "bad magic" : cut < 10 + hl ? "runs past the end" : "data is";
        CHECKF(rc == T2I_EFORMAT && msg_has("b.npy") && msg_has(want), "cut %zu: rc %d %s", cut, rc,
               t2i_errmsg());
    }
    CHECK(npy_try(buf, len) == T2I_OK);
    t2i_free(buf);
}

// ---- pickle ------------------------------------------------------------------------------------

static int pk_try(const char *bytes, size_t n) {
    uint8_t *c = bytes_dup((const uint8_t *)bytes, n);
    Pickle pk;
    int rc = pickle_parse(c, n, "b.pkl", 0, &pk);
    if (!rc) pickle_free(&pk);
    free(c);
    return rc;
}
#define PK(lit) pk_try(lit, sizeof lit - 1)

TEST(pickle_memo_boundaries) {
    // BINGET 0 with an empty memo (memo_cap 0): refused, not a NULL read.
    CHECK(PK("\x80\x02h\x00.") == T2I_EFORMAT && msg_has("memo entry 0 is not set"));
    // After BINPUT 0 the memo holds 64 slots: slot 63 is empty, slot 64 is past the end.
    CHECK(PK("\x80\x02Nq\x00" "0h\x00.") == T2I_OK);
    CHECK(PK("\x80\x02Nq\x00" "0h\x3f.") == T2I_EFORMAT && msg_has("memo entry 63"));
    CHECK(PK("\x80\x02Nq\x00" "0h\x40.") == T2I_EFORMAT && msg_has("memo entry 64"));
    CHECK(PK("\x80\x02Nq\x00" "0j\x40\x00\x00\x00.") == T2I_EFORMAT && msg_has("memo entry 64"));
    // MEMOIZE numbers densely: the second object is entry 1.
    CHECK(PK("\x80\x04N\x94N\x94" "00h\x01.") == T2I_OK);
    CHECK(PK("\x80\x04N\x94" "0h\x01.") == T2I_EFORMAT && msg_has("memo entry 1"));
}

TEST(pickle_tuple_underflow) {
    // TUPLE1/2/3 need 1/2/3 items: one fewer (0/1/2 items) is a stack underflow, exact is fine.
    CHECK(PK("\x80\x02\x85.") == T2I_EFORMAT && msg_has("stack underflow"));
    CHECK(PK("\x80\x02N\x85.") == T2I_OK);
    CHECK(PK("\x80\x02N\x86.") == T2I_EFORMAT && msg_has("stack underflow"));
    CHECK(PK("\x80\x02NN\x86.") == T2I_OK);
    CHECK(PK("\x80\x02NN\x87.") == T2I_EFORMAT && msg_has("stack underflow"));
    CHECK(PK("\x80\x02NNN\x87.") == T2I_OK);
    // Items below a MARK do not count.
    CHECK(PK("\x80\x02N(N\x86.") == T2I_EFORMAT && msg_has("stack underflow"));
    CHECK(PK("\x80\x02NN(\x85.") == T2I_EFORMAT && msg_has("stack underflow"));
    // Ops that pop: nothing on the stack, or nothing above the innermost MARK.
    CHECK(PK("\x80\x02R.") == T2I_EFORMAT && msg_has("stack underflow"));
    CHECK(PK("\x80\x02N(R.") == T2I_EFORMAT && msg_has("stack underflow"));
    CHECK(PK("\x80\x02}(s.") == T2I_EFORMAT && msg_has("stack underflow"));
    // POP / STOP on an empty stack.
    CHECK(PK("\x80\x02" "0.") == T2I_EFORMAT);
    CHECK(PK("\x80\x02.") == T2I_EFORMAT && msg_has("empty stack"));
    CHECK(PK("\x80\x02NN.") == T2I_EFORMAT && msg_has("more than one value"));
}

TEST(pickle_lengths_at_the_end) {
    // SHORT_BINUNICODE / BINUNICODE / BINBYTES whose length is exactly the rest, or one more.
    CHECK(PK("\x80\x02\x8c\x03" "abc.") == T2I_OK);
    CHECK(PK("\x80\x02\x8c\x04" "abc.") == T2I_EFORMAT && msg_has("b.pkl"));
    CHECK(PK("\x80\x02X\x03\x00\x00\x00" "abc.") == T2I_OK);
    CHECK(PK("\x80\x02X\x05\x00\x00\x00" "abc.") == T2I_EFORMAT && msg_has("b.pkl"));
    CHECK(PK("\x80\x03" "C\x03" "abc.") == T2I_OK);
    CHECK(PK("\x80\x03" "C\x05" "abc.") == T2I_EFORMAT && msg_has("b.pkl"));
    // FRAME of exactly the rest, and one more.
    CHECK(PK("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.") == T2I_OK);
    CHECK(PK("\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N.") == T2I_EFORMAT &&
          msg_has("FRAME longer"));
    // Every prefix of a valid pickle, each in its own allocation.
    static const char full[] = "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01K\x05X\x01\x00\x00\x00"
                               "bq\x02\x8c\x02xy\x85q\x03u.";
    CHECK(pk_try(full, sizeof full - 1) == T2I_OK);
    for (size_t n = 0; n + 1 < sizeof full; n++)
        CHECKF(pk_try(full, n) == T2I_EFORMAT && msg_has("b.pkl"), "prefix %zu: %s", n,
               t2i_errmsg());
}

// ---- zip ---------------------------------------------------------------------------------------

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
} Member;

// Stored zip; member `which` gets size_delta added to its central csize/usize, and the end
// record a comment of comment_len bytes, so that a test can move one field by one.
static Buf zip_build(const Member *m, int n, int which, long size_delta, int comment_len) {
    Buf b = {0};
    size_t offs[8];
    for (int i = 0; i < n; i++) {
        offs[i] = b.n;
        uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].len);
        b_le(&b, 0x04034b50u, 4);
        b_le(&b, 20, 2), b_le(&b, 0, 2), b_le(&b, 0, 2), b_le(&b, 0, 2), b_le(&b, 0, 2);
        b_le(&b, crc, 4), b_le(&b, m[i].len, 4), b_le(&b, m[i].len, 4);
        b_le(&b, strlen(m[i].name), 2), b_le(&b, 0, 2);
        b_s(&b, m[i].name);
        b_put(&b, m[i].data, m[i].len);
    }
    size_t cd = b.n;
    for (int i = 0; i < n; i++) {
        uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].len);
        size_t sz = m[i].len + (size_t)(i == which ? size_delta : 0);
        b_le(&b, 0x02014b50u, 4);
        b_le(&b, 20, 2), b_le(&b, 20, 2), b_le(&b, 0, 2), b_le(&b, 0, 2);
        b_le(&b, 0, 2), b_le(&b, 0, 2);
        b_le(&b, crc, 4), b_le(&b, sz, 4), b_le(&b, sz, 4);
        b_le(&b, strlen(m[i].name), 2), b_le(&b, 0, 2), b_le(&b, 0, 2), b_le(&b, 0, 2);
        b_le(&b, 0, 2), b_le(&b, 0, 4), b_le(&b, offs[i], 4);
        b_s(&b, m[i].name);
    }
    size_t cdlen = b.n - cd;
    b_le(&b, 0x06054b50u, 4);
    b_le(&b, 0, 2), b_le(&b, 0, 2), b_le(&b, (uint64_t)n, 2), b_le(&b, (uint64_t)n, 2);
    b_le(&b, cdlen, 4), b_le(&b, cd, 4), b_le(&b, (uint64_t)comment_len, 2);
    for (int i = 0; i < comment_len; i++) b_put(&b, "c", 1);
    return b;
}

// Opens and reads every member; returns the first error.
static int zip_try(const uint8_t *img, size_t n) {
    uint8_t *c = bytes_dup(img, n);
    Zip z;
    int rc = zip_open(&z, c, n, "b.zip");
    if (!rc) {
        for (int i = 0; !rc && i < z.n; i++) {
            uint8_t *d;
            size_t dl;
            rc = zip_extract(&z, i, &d, &dl);
            if (!rc) t2i_free(d);
        }
        zip_close(&z);
    }
    free(c);
    return rc;
}

static const Member two[2] = {{"a.bin", (const uint8_t *)"hello", 5},
                              {"b/c.bin", (const uint8_t *)"world!!", 7}};

TEST(zip_member_sizes_at_the_directory) {
    Buf b = zip_build(two, 2, -1, 0, 0);
    CHECKF(zip_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    free(b.p);
    // The last member claims one byte more than the file holds before the central directory.
    b = zip_build(two, 2, 1, 1, 0);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("b.zip") &&
          msg_has("runs past the central directory"));
    free(b.p);
    // The first member claims one byte more: it overlaps the next local header.
    b = zip_build(two, 2, 0, 1, 0);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("overlap"));
    free(b.p);
    // One byte fewer: the CRC of the shorter data differs.
    b = zip_build(two, 2, 1, -1, 0);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("CRC"));
    free(b.p);
}

TEST(zip_end_record_boundaries) {
    // The comment ends exactly at the end of the file; one byte more or less and there is no
    // end record.
    Buf b = zip_build(two, 2, -1, 0, 3);
    CHECKF(zip_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    CHECK(zip_try(b.p, b.n - 1) == T2I_EFORMAT && msg_has("no end-of-central-directory"));
    b_put(&b, "x", 1);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("no end-of-central-directory"));
    free(b.p);
    // An empty archive is 22 bytes; 21 are too short.
    b = zip_build(two, 0, -1, 0, 0);
    CHECK(b.n == 22);
    CHECKF(zip_try(b.p, 22) == T2I_OK, "%s", t2i_errmsg());
    CHECK(zip_try(b.p, 21) == T2I_EFORMAT && msg_has("too short"));
    free(b.p);
    // Central directory size: one byte more than the records runs into the end record; one
    // fewer cuts the last record.
    b = zip_build(two, 2, -1, 0, 0);
    size_t eocd = b.n - 22;
    uint32_t cds = (uint32_t)b.p[eocd + 12] | (uint32_t)b.p[eocd + 13] << 8;
    b.p[eocd + 12] = (uint8_t)(cds + 1);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("lies outside the file"));
    b.p[eocd + 12] = (uint8_t)(cds - 1);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("b.zip") && msg_has("truncated"));
    b.p[eocd + 12] = (uint8_t)cds;
    // Member count: one more than the directory can hold (46 bytes per record at least), and
    // one more than it holds while still fitting.
    b.p[eocd + 8] = 3, b.p[eocd + 10] = 3;
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("cannot fit"));
    b.p[eocd + 8] = 1, b.p[eocd + 10] = 1;
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("stray bytes"));
    b.p[eocd + 8] = 2, b.p[eocd + 10] = 2;
    CHECKF(zip_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    // Every prefix, each in its own allocation.
    for (size_t n = 0; n < b.n; n++)
        CHECKF(zip_try(b.p, n) == T2I_EFORMAT && msg_has("b.zip"), "prefix %zu: %s", n,
               t2i_errmsg());
    free(b.p);
}

// A one-member zip whose member is deflated; usize_claim replaces the real size in both headers.
static Buf zip_deflated(const uint8_t *d, size_t n, uint64_t usize_claim) {
    uint8_t comp[4096];
    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    s.next_in = (Bytef *)d;
    s.avail_in = (uInt)n;
    s.next_out = comp;
    s.avail_out = sizeof comp;
    deflate(&s, Z_FINISH);
    size_t cn = sizeof comp - s.avail_out;
    deflateEnd(&s);
    uint32_t crc = (uint32_t)crc32(0, d, (uInt)n);
    Buf b = {0};
    const char *name = "m.npy";
    for (int central = 0; central <= 1; central++) {
        b_le(&b, central ? 0x02014b50u : 0x04034b50u, 4);
        if (central) b_le(&b, 20, 2);
        b_le(&b, 20, 2), b_le(&b, 0, 2), b_le(&b, 8, 2), b_le(&b, 0, 2), b_le(&b, 0, 2);
        b_le(&b, crc, 4), b_le(&b, cn, 4), b_le(&b, usize_claim, 4);
        b_le(&b, strlen(name), 2), b_le(&b, 0, 2);
        if (central) {
            b_le(&b, 0, 2), b_le(&b, 0, 2), b_le(&b, 0, 2), b_le(&b, 0, 4), b_le(&b, 0, 4);
            b_s(&b, name);
        } else {
            b_s(&b, name);
            b_put(&b, comp, cn);
        }
    }
    size_t cd = 30 + strlen(name) + cn, cdlen = b.n - cd;
    b_le(&b, 0x06054b50u, 4);
    b_le(&b, 0, 4), b_le(&b, 1, 2), b_le(&b, 1, 2);
    b_le(&b, cdlen, 4), b_le(&b, cd, 4), b_le(&b, 0, 2);
    return b;
}

TEST(zip_deflate_claims) {
    uint8_t d[3000];
    for (size_t i = 0; i < sizeof d; i++) d[i] = (uint8_t)(i % 7);
    Buf b = zip_deflated(d, sizeof d, sizeof d);
    CHECKF(zip_try(b.p, b.n) == T2I_OK, "%s", t2i_errmsg());
    size_t cn = (size_t)b.p[18] | (size_t)b.p[19] << 8;
    free(b.p);
    // The claimed size one byte short or long of what inflates: refused by the inflate check.
    b = zip_deflated(d, sizeof d, sizeof d + 1);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("b.zip"));
    free(b.p);
    b = zip_deflated(d, sizeof d, sizeof d - 1);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("b.zip"));
    free(b.p);
    // The expansion limit: usize / 1032 > csize + 1 is refused before allocating; one below is
    // allowed (and then fails to inflate to that size).
    uint64_t lim = (uint64_t)(cn + 2) * 1032;
    b = zip_deflated(d, sizeof d, lim);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && msg_has("claims"));
    free(b.p);
    b = zip_deflated(d, sizeof d, lim - 1);
    CHECK(zip_try(b.p, b.n) == T2I_EFORMAT && !msg_has("claims") && msg_has("b.zip"));
    free(b.p);
    // The small .npz whose member claims 64 MiB.
    b = zip_deflated(d, sizeof d, 64u << 20);
    uint8_t *c = bytes_dup(b.p, b.n);
    Npz z;
    CHECK(npz_parse(c, b.n, "b.npz", &z) == T2I_EFORMAT && msg_has("b.npz"));
    free(c);
    free(b.p);
}

// ---- safetensors -------------------------------------------------------------------------------

static int st_try(const char *hdr, size_t hdr_len_field, size_t data) {
    Buf b = {0};
    b_le(&b, hdr_len_field, 8);
    b_s(&b, hdr);
    for (size_t i = 0; i < data; i++) b_put(&b, "\x02", 1);
    uint8_t *c = bytes_dup(b.p, b.n);
    StateDict sd;
    int rc = safetensors_parse(c, b.n, "b.safetensors", &sd);
    if (!rc) sd_free(&sd);
    free(c);
    free(b.p);
    return rc;
}

TEST(safetensors_boundaries) {
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(h);
    CHECKF(st_try(h, hl, 8) == T2I_OK, "%s", t2i_errmsg());
    // Header length one past the file.
    CHECK(st_try(h, hl + 9, 8) == T2I_EFORMAT && msg_has("exceeds the file"));
    CHECK(st_try(h, hl + 8, 8) == T2I_EFORMAT && !msg_has("exceeds the file"));
    // Data one byte longer or shorter than the offsets.
    CHECK(st_try(h, hl, 9) == T2I_EFORMAT && msg_has("holds 9 data bytes"));
    CHECK(st_try(h, hl, 7) == T2I_EFORMAT && msg_has("b.safetensors"));
    // Offsets one off the shape's size.
    const char *h9 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9]}}";
    CHECK(st_try(h9, strlen(h9), 9) == T2I_EFORMAT && msg_has("need 8 bytes"));
    const char *g = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}";
    CHECK(st_try(g, strlen(g), 9) == T2I_EFORMAT && msg_has("gap or overlap"));
    // The 8-byte length field: 7 bytes are too short; 8 with an empty header are not.
    uint8_t eight[8] = {0};
    uint8_t *c = bytes_dup(eight, 7);
    StateDict sd;
    CHECK(safetensors_parse(c, 7, "b.safetensors", &sd) == T2I_EFORMAT && msg_has("too short"));
    free(c);
    c = bytes_dup(eight, 8);
    CHECK(safetensors_parse(c, 8, "b.safetensors", &sd) == T2I_EFORMAT && !msg_has("too short"));
    free(c);
}

int main(void) {
    RUN(npy_header_boundaries);
    RUN(npy_dims_and_strings);
    RUN(npy_every_prefix_own_allocation);
    RUN(pickle_memo_boundaries);
    RUN(pickle_tuple_underflow);
    RUN(pickle_lengths_at_the_end);
    RUN(zip_member_sizes_at_the_directory);
    RUN(zip_end_record_boundaries);
    RUN(zip_deflate_claims);
    RUN(safetensors_boundaries);
    return test_report("test_bounds");
}
