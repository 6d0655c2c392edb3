// test_bounds_tf.c -- every bounds check of the TensorFlow readers (pb.c, sstable.c, tfckpt.c)
// exactly at the boundary, on both sides: an input that meets the check exactly (accepted, or
// refused by a later, different check) next to one that violates it by one (refused with a
// message naming the file and the place). Tables, protobuf messages and bundles are built here
// in C (no Python at test time); each input is parsed from its own exactly-sized allocation so
// that AddressSanitizer sees any read one past its end (tests/SANITIZE_TESTS).
#include "pb.h"
#include "rd.h"
#include "sstable.h"
#include "state_dict.h"
#include "t2i.h"
#include "test.h"
#include "tfckpt.h"

#include <stdint.h>
#include <string.h>

#include "bytes_test.h"

// ---- protobuf writer --------------------------------------------------------------------------

static void pv(Buf *b, uint64_t v) {
    do {
        b_u8(b, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}
static void pkey(Buf *b, uint32_t f, int w) { pv(b, (uint64_t)f << 3 | (uint64_t)w); }
static void pvar(Buf *b, uint32_t f, uint64_t v) { pkey(b, f, PB_VARINT), pv(b, v); }
static void pbytes(Buf *b, uint32_t f, const void *p, size_t n) {
    pkey(b, f, PB_LEN);
    pv(b, n);
    b_put(b, p, n);
}
static void pmsg(Buf *b, uint32_t f, const Buf *m) { pbytes(b, f, m->p, m->n); }
static void pstr(Buf *b, uint32_t f, const char *s) { pbytes(b, f, s, strlen(s)); }
static void pfix32(Buf *b, uint32_t f, uint32_t v) { pkey(b, f, PB_I32), b_le(b, v, 4); }

// TensorShapeProto with dims d[0..nd).
static Buf shape_msg(const int64_t *d, int nd) {
    Buf s = {0};
    for (int i = 0; i < nd; i++) {
        Buf dim = {0};
        pvar(&dim, 1, (uint64_t)d[i]);
        pmsg(&s, 2, &dim);
        free(dim.p);
    }
    return s;
}

// TensorProto: dtype, shape, and either `content` bytes (content != NULL) or `nval` float_val
// values (fixed32, unpacked).
static Buf tensor_msg(uint64_t dtype, const int64_t *d, int nd, const void *content, size_t clen,
                      int nval) {
    Buf t = {0}, s = shape_msg(d, nd);
    pvar(&t, 1, dtype);
    pmsg(&t, 2, &s);
    if (content) pbytes(&t, 4, content, clen);
    for (int i = 0; i < nval; i++) pfix32(&t, 5, 0x3f800000u + (uint32_t)i);
    free(s.p);
    return t;
}

// ---- SSTable writer ---------------------------------------------------------------------------

// One block entry (shared prefix bytes `shared`, then the key delta and the value).
static void ent(Buf *blk, size_t shared, const void *delta, size_t dl, const void *val, size_t vl) {
    pv(blk, shared), pv(blk, dl), pv(blk, vl);
    b_put(blk, delta, dl);
    b_put(blk, val, vl);
}
static void blk_end(Buf *blk) { b_le(blk, 0, 4), b_le(blk, 1, 4); }   // one restart point at 0

// Appends a block and its trailer (type 0, masked CRC-32C); returns its offset and size.
static void put_block(Buf *f, const Buf *blk, uint64_t *off, uint64_t *size) {
    *off = f->n;
    *size = blk->n;
    b_put(f, blk->p, blk->n);
    uint8_t type = 0;
    b_u8(f, type);
    b_le(f, crc32c_mask(crc32c(crc32c(0, blk->p, blk->n), &type, 1)), 4);
}
static void footer(Buf *f, uint64_t mo, uint64_t ms, uint64_t io, uint64_t is) {
    Buf h = {0};
    pv(&h, mo), pv(&h, ms), pv(&h, io), pv(&h, is);
    while (h.n < 40) b_u8(&h, 0);
    b_put(f, h.p, 40);
    b_le(f, SSTABLE_MAGIC, 8);
    free(h.p);
}

// A table of the given data blocks (finished block contents), an empty metaindex block and an
// index with one entry per data block (keys "k0", "k1", ...).
static Buf table(const Buf *data, int nb) {
    Buf f = {0}, idx = {0}, meta = {0};
    for (int i = 0; i < nb; i++) {
        uint64_t o, s;
        put_block(&f, &data[i], &o, &s);
        Buf h = {0};
        pv(&h, o), pv(&h, s);
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        ent(&idx, 0, k, strlen(k), h.p, h.n);
        free(h.p);
    }
    blk_end(&idx);
    blk_end(&meta);
    uint64_t mo, ms, io, is;
    put_block(&f, &meta, &mo, &ms);
    put_block(&f, &idx, &io, &is);
    footer(&f, mo, ms, io, is);
    free(idx.p), free(meta.p);
    return f;
}

// A one-block table of (key, value) entries, keys as C strings ("" allowed).
typedef struct {
    const char *key;
    Buf         val;
} KV;
static Buf table_kv(const KV *kv, int n) {
    Buf blk = {0};
    for (int i = 0; i < n; i++) ent(&blk, 0, kv[i].key, strlen(kv[i].key), kv[i].val.p, kv[i].val.n);
    blk_end(&blk);
    Buf t = table(&blk, 1);
    free(blk.p);
    return t;
}

static int count_entry(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                       size_t off) {
    (void)k, (void)kl, (void)v, (void)vl, (void)off;
    ++*(int *)ctx;
    return 0;
}

// sstable_each over an exact copy; returns rc, *n entries visited.
static int sst_try(const Buf *b, int *n) {
    uint8_t *c = bytes_dup(b->p, b->n);
    int      cnt = 0, rc = sstable_each(c, b->n, "t.tab", count_entry, &cnt);
    free(c);
    if (n) *n = cnt;
    return rc;
}

// ---- pb.c ---------------------------------------------------------------------------------------

static int pb_on(const uint8_t *p, size_t n, int (*fn)(Rd *, void *), void *arg) {
    uint8_t *c = bytes_dup(p, n);
    Rd       r;
    rd_init(&r, c, n, "m.pb", 100);
    int rc = fn(&r, arg);
    free(c);
    return rc;
}
static int do_varint(Rd *r, void *a) { return pb_varint(r, a); }
static int do_key(Rd *r, void *a) {
    uint32_t f;
    int      w;
    int      rc = pb_key(r, &f, &w);
    if (!rc && a) *(uint32_t *)a = f;
    return rc;
}
static int do_sub(Rd *r, void *a) {
    (void)a;
    Rd s;
    return pb_sub(r, &s);
}
static int do_skip(Rd *r, void *a) { return pb_skip(r, *(int *)a); }

TEST(pb_varint_and_key_bounds) {
    uint64_t v = 0;
    // A 2-byte varint: with both bytes accepted, one byte short refused at its offset.
    const uint8_t two[2] = {0x80, 0x01};
    CHECK(pb_on(two, 2, do_varint, &v) == T2I_OK && v == 128);
    CHECK(pb_on(two, 1, do_varint, &v) == T2I_EFORMAT && msg_has("m.pb") &&
          msg_has("varint at byte 100 runs past"));
    // 10 bytes: the 10th may carry one bit (1), not two (2).
    uint8_t ten[10];
    memset(ten, 0xff, 9);
    ten[9] = 1;
    CHECK(pb_on(ten, 10, do_varint, &v) == T2I_OK && v == UINT64_MAX);
    ten[9] = 2;
    CHECK(pb_on(ten, 10, do_varint, &v) == T2I_EFORMAT && msg_has("byte 100 overflows 64 bits"));
    ten[9] = 0x81;   // continuation on the 10th byte: also more than 64 bits
    CHECK(pb_on(ten, 10, do_varint, &v) == T2I_EFORMAT && msg_has("overflows"));
    // Field numbers 1 .. 2^29-1.
    Buf b = {0};
    uint32_t f = 0;
    pkey(&b, 0x1fffffff, PB_VARINT);
    CHECK(pb_on(b.p, b.n, do_key, &f) == T2I_OK && f == 0x1fffffff);
    b.n = 0;
    pv(&b, (uint64_t)0x20000000 << 3);
    CHECK(pb_on(b.p, b.n, do_key, &f) == T2I_EFORMAT && msg_has("invalid field number 536870912 "
                                                                "at byte 100"));
    b.n = 0;
    pkey(&b, 1, PB_LEN);
    CHECK(pb_on(b.p, b.n, do_key, &f) == T2I_OK && f == 1);
    b.n = 0;
    pkey(&b, 0, PB_LEN);
    CHECK(pb_on(b.p, b.n, do_key, &f) == T2I_EFORMAT && msg_has("invalid field number 0"));
    // Wire types: 0, 1, 2, 5 accepted; 3, 4, 6, 7 refused.
    for (int w = 0; w < 8; w++) {
        b.n = 0;
        pkey(&b, 7, w);
        int ok = w == 0 || w == 1 || w == 2 || w == 5;
        int rc = pb_on(b.p, b.n, do_key, NULL);
        CHECKF(ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has("field 7 at byte 100 has wire "
                                                                "type"),
               "wire %d: rc %d %s", w, rc, t2i_errmsg());
    }
    // A truncated key is the varint's error.
    const uint8_t k1[1] = {0x88};
    CHECK(pb_on(k1, 1, do_key, &f) == T2I_EFORMAT && msg_has("runs past"));
    free(b.p);
}

TEST(pb_lengths_and_fixed_fields) {
    // Length-delimited: exactly the bytes left accepted, one more refused.
    const uint8_t sub[4] = {0x03, 'a', 'b', 'c'};
    CHECK(pb_on(sub, 4, do_sub, NULL) == T2I_OK);
    uint8_t over[4] = {0x04, 'a', 'b', 'c'};
    CHECK(pb_on(over, 4, do_sub, NULL) == T2I_EFORMAT &&
          msg_has("m.pb: protobuf: field at byte 100 claims 4 bytes, only 3 are left"));
    const uint8_t lentrunc[1] = {0x80};
    CHECK(pb_on(lentrunc, 1, do_sub, NULL) == T2I_EFORMAT && msg_has("varint"));
    // Fixed-size: 8 / 4 bytes present accepted, one fewer refused.
    uint8_t eight[8] = {0};
    int     w64 = PB_I64, w32 = PB_I32, wv = PB_VARINT, wl = PB_LEN, w3 = 3;
    CHECK(pb_on(eight, 8, do_skip, &w64) == T2I_OK);
    CHECK(pb_on(eight, 7, do_skip, &w64) == T2I_EFORMAT &&
          msg_has("fixed-size field at byte 100 runs past"));
    CHECK(pb_on(eight, 4, do_skip, &w32) == T2I_OK);
    CHECK(pb_on(eight, 3, do_skip, &w32) == T2I_EFORMAT && msg_has("fixed-size field at byte 100"));
    CHECK(pb_on(eight, 1, do_skip, &wv) == T2I_OK);
    CHECK(pb_on(sub, 4, do_skip, &wl) == T2I_OK);
    CHECK(pb_on(over, 4, do_skip, &wl) == T2I_EFORMAT && msg_has("claims 4 bytes"));
    CHECK(pb_on(eight, 8, do_skip, &w3) == T2I_EFORMAT && msg_has("wire type 3 at byte 100"));
    // Packed fixed-size elements: a multiple of the size accepted, one byte more refused.
    Rd     r;
    size_t n = 0;
    uint8_t *c = bytes_dup(eight, 8);
    rd_init(&r, c, 8, "m.pb", 10);
    CHECK(pb_packed_count(&r, 4, &n) == T2I_OK && n == 2);
    CHECK(pb_packed_count(&r, 8, &n) == T2I_OK && n == 1);
    free(c);
    c = bytes_dup(eight, 7);
    rd_init(&r, c, 7, "m.pb", 10);
    CHECK(pb_packed_count(&r, 4, &n) == T2I_EFORMAT &&
          msg_has("packed field at byte 10 has 7 bytes, not a multiple of 4"));
    free(c);
    // Packed varints: ending on a final byte accepted, on a continuation byte refused.
    const uint8_t pk[3] = {0x81, 0x01, 0x05};
    c = bytes_dup(pk, 3);
    rd_init(&r, c, 3, "m.pb", 10);
    CHECK(pb_packed_count(&r, 0, &n) == T2I_OK && n == 2);
    free(c);
    const uint8_t pk2[2] = {0x05, 0x81};
    c = bytes_dup(pk2, 2);
    rd_init(&r, c, 2, "m.pb", 10);
    CHECK(pb_packed_count(&r, 0, &n) == T2I_EFORMAT && msg_has("end inside a varint"));
    free(c);
    // pb_fields: an expected field of the wrong wire type names the field.
    Buf m = {0};
    pvar(&m, 2, 5);
    c = bytes_dup(m.p, m.n);
    rd_init(&r, c, m.n, "m.pb", 0);
    Rd      dst;
    PbField spec[] = {{2, PB_LEN, &dst, NULL, "Thing.name"}};
    CHECK(pb_fields(r, spec, 1) == T2I_EFORMAT && msg_has("Thing.name (field 2)") &&
          msg_has("wire type 0, expected 2"));
    free(c);
    // and an I32 field with 3 bytes left runs past
    m.n = 0;
    pkey(&m, 6, PB_I32);
    b_put(&m, "abc", 3);
    c = bytes_dup(m.p, m.n);
    rd_init(&r, c, m.n, "m.pb", 0);
    uint64_t crc = 0;
    PbField  s2[] = {{6, PB_I32, &crc, NULL, "crc"}};
    CHECK(pb_fields(r, s2, 1) == T2I_EFORMAT && msg_has("m.pb: truncated"));
    free(c);
    m.n = 0;
    pfix32(&m, 6, 0xdeadbeef);
    c = bytes_dup(m.p, m.n);
    rd_init(&r, c, m.n, "m.pb", 0);
    CHECK(pb_fields(r, s2, 1) == T2I_OK && crc == 0xdeadbeef);
    free(c);
    free(m.p);
}

// ---- sstable.c ----------------------------------------------------------------------------------

TEST(sstable_footer_and_handles) {
    Buf t = table(NULL, 0);   // empty metaindex and index: the smallest complete table
    int n = -1;
    CHECKF(sst_try(&t, &n) == T2I_OK && n == 0, "%s", t2i_errmsg());
    // Magic: 48 bytes (the footer alone) pass the sniff, 47 do not.
    CHECK(sstable_sniff(t.p + t.n - 48, 48) == 1);
    CHECK(sstable_sniff(t.p + t.n - 47, 47) == 0);
    Buf f48 = {0};
    b_put(&f48, t.p + t.n - 48, 48);
    CHECK(sst_try(&f48, NULL) == T2I_EFORMAT && msg_has("t.tab: metaindex block handle at byte 0 "
                                                        "points outside"));
    Buf f47 = {0};
    b_put(&f47, t.p + t.n - 47, 47);
    CHECK(sst_try(&f47, NULL) == T2I_EFORMAT && msg_has("t.tab: not a LevelDB"));
    t.p[t.n - 1] ^= 1;
    CHECK(sst_try(&t, NULL) == T2I_EFORMAT && msg_has("no table magic"));
    t.p[t.n - 1] ^= 1;
    free(f48.p), free(f47.p);

    // Handles: metaindex at 0 (8 bytes + trailer), index at 13 (8 + 5), data ends at 26.
    size_t body = t.n - 48;
    CHECK(body == 26);
    Buf h = {0};
#define WITH_FOOTER(mo, ms, io, is)                                                               \
    (h.n = 0, b_put(&h, t.p, body), footer(&h, (mo), (ms), (io), (is)), sst_try(&h, NULL))
    CHECK(WITH_FOOTER(0, 8, 13, 8) == T2I_OK);
    // the index block one byte longer: its trailer would end one byte into the footer
    CHECK(WITH_FOOTER(0, 8, 13, 9) == T2I_EFORMAT &&
          msg_has("t.tab: index block handle at byte") &&
          msg_has("points outside the file (offset 13, size 9, data ends at 26)"));
    // offset one past the data, size 0 (the size bound alone would not see it)
    CHECK(WITH_FOOTER(27, 0, 13, 8) == T2I_EFORMAT &&
          msg_has("metaindex block handle at byte") && msg_has("offset 27, size 0"));
    // size one past the data from offset 0
    CHECK(WITH_FOOTER(0, 27, 13, 8) == T2I_EFORMAT && msg_has("offset 0, size 27"));
    // offset exactly at the data end with size 0: no room for the trailer
    CHECK(WITH_FOOTER(26, 0, 13, 8) == T2I_EFORMAT && msg_has("offset 26, size 0"));
    // a block of 8 bytes whose trailer ends exactly at the footer is accepted (above); one that
    // ends 1 byte before it is read with a wrong CRC
    CHECK(WITH_FOOTER(0, 8, 12, 8) == T2I_EFORMAT && msg_has("index block at byte 12"));
#undef WITH_FOOTER
    // A footer of 0xff bytes: the first handle's varint overflows, named as the handle.
    h.n = 0;
    b_put(&h, t.p, body);
    for (int i = 0; i < 40; i++) b_u8(&h, 0xff);
    b_le(&h, SSTABLE_MAGIC, 8);
    CHECK(sst_try(&h, NULL) == T2I_EFORMAT && msg_has("t.tab: metaindex block handle") &&
          msg_has("overflows"));
    // Trailer: type 0 accepted (above), 1 refused as snappy; a flipped CRC bit refused.
    memcpy(h.p, t.p, t.n);
    h.n = t.n;
    h.p[8] = 1;
    CHECK(sst_try(&h, NULL) == T2I_EFORMAT &&
          msg_has("metaindex block at byte 0 is compressed (type 1, snappy)"));
    h.p[8] = 0;
    h.p[9] ^= 1;
    CHECK(sst_try(&h, NULL) == T2I_EFORMAT &&
          msg_has("t.tab: metaindex block at byte 0: CRC-32C mismatch"));
    h.p[9] ^= 1;
    // the CRC is stored masked: the unmasked CRC is refused
    uint32_t crc = crc32c_unmask(rd_le32(h.p + 9));
    for (int i = 0; i < 4; i++) h.p[9 + i] = (uint8_t)(crc >> (8 * i));
    CHECK(sst_try(&h, NULL) == T2I_EFORMAT && msg_has("CRC-32C mismatch"));
    free(h.p), free(t.p);
}

// A table with one data block of raw contents `raw` (not finished: the caller adds restarts).
static int one_block(const Buf *raw, int *n) {
    Buf t = table(raw, 1);
    int rc = sst_try(&t, n);
    free(t.p);
    return rc;
}

TEST(sstable_blocks_and_entries) {
    Buf b = {0};
    int n = -1;
    // Block sizes: 4 bytes (no restarts, no entries) accepted, 3 refused.
    b_le(&b, 0, 4);
    CHECKF(one_block(&b, &n) == T2I_OK && n == 0, "%s", t2i_errmsg());
    b.n = 3;
    CHECK(one_block(&b, &n) == T2I_EFORMAT && msg_has("t.tab: data block at byte 0 is too short "
                                                      "(3 bytes)"));
    // Restart count: 1 in 8 bytes fits, 2 do not.
    b.n = 0;
    blk_end(&b);
    CHECK(one_block(&b, &n) == T2I_OK && n == 0);
    b.p[4] = 2;
    CHECK(one_block(&b, &n) == T2I_EFORMAT &&
          msg_has("data block at byte 0: 2 restart points do not fit in 8 bytes"));
    // Entry lengths: key 1 + value 1 with exactly 2 bytes left accepted, value 2 refused.
    b.n = 0;
    ent(&b, 0, "a", 1, "v", 1);
    blk_end(&b);
    CHECK(one_block(&b, &n) == T2I_OK && n == 1);
    b.p[2] = 2;   // value length 2
    CHECK(one_block(&b, &n) == T2I_EFORMAT &&
          msg_has("data block entry at byte 0: lengths out of range") &&
          msg_has("key 1 + value 2 bytes, 2 left"));
    b.p[2] = 0, b.p[1] = 2;   // key 2 bytes, value 0: accepted
    CHECK(one_block(&b, &n) == T2I_OK && n == 1);
    b.p[1] = 3;               // key 3 bytes: one past
    CHECK(one_block(&b, &n) == T2I_EFORMAT && msg_has("key 3 + value 0 bytes, 2 left"));
    // Shared prefix: at most the previous key's length within the block.
    b.n = 0;
    ent(&b, 0, "a", 1, "", 0);
    ent(&b, 1, "b", 1, "", 0);   // "ab"
    blk_end(&b);
    CHECK(one_block(&b, &n) == T2I_OK && n == 2);
    b.p[4] = 2;   // shared 2 of 1
    CHECK(one_block(&b, &n) == T2I_EFORMAT &&
          msg_has("data block entry at byte 4: lengths out of range (shared 2 of 1"));
    b.n = 0;
    ent(&b, 1, "a", 1, "", 0);   // the first entry shares nothing
    blk_end(&b);
    CHECK(one_block(&b, &n) == T2I_EFORMAT && msg_has("(shared 1 of 0"));
    // An entry header cut inside a varint is named with its offset.
    b.n = 0;
    ent(&b, 0, "a", 1, "", 0);
    b_u8(&b, 0x80);
    blk_end(&b);
    CHECK(one_block(&b, &n) == T2I_EFORMAT && msg_has("t.tab: data block entry at byte 4") &&
          msg_has("varint"));
    free(b.p);
}

TEST(sstable_key_order) {
    static const struct {
        const char *a, *b;
        int         ok;
    } c[] = {{"a", "b", 1}, {"a", "a", 0}, {"b", "a", 0}, {"a", "ab", 1}, {"ab", "a", 0},
             {"", "a", 1},  {"a", "", 0}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        // within one block
        Buf b = {0};
        ent(&b, 0, c[i].a, strlen(c[i].a), "", 0);
        ent(&b, 0, c[i].b, strlen(c[i].b), "", 0);
        blk_end(&b);
        int n = 0, rc = one_block(&b, &n);
        CHECKF(c[i].ok ? rc == T2I_OK && n == 2
                       : rc == T2I_EFORMAT && msg_has("t.tab: data block entry at byte") &&
                             msg_has("not in strictly increasing order"),
               "'%s' then '%s': rc %d %s", c[i].a, c[i].b, rc, t2i_errmsg());
        // across two blocks: the order check carries the last key over
        Buf blk[2] = {{0}, {0}};
        ent(&blk[0], 0, c[i].a, strlen(c[i].a), "", 0);
        ent(&blk[1], 0, c[i].b, strlen(c[i].b), "", 0);
        blk_end(&blk[0]), blk_end(&blk[1]);
        Buf t = table(blk, 2);
        rc = sst_try(&t, &n);
        CHECKF(c[i].ok ? rc == T2I_OK && n == 2 : rc == T2I_EFORMAT && msg_has("increasing"),
               "blocks '%s' then '%s': rc %d %s", c[i].a, c[i].b, rc, t2i_errmsg());
        free(t.p), free(b.p), free(blk[0].p), free(blk[1].p);
    }
    // A block's first entry may not share a prefix with the previous block's last key.
    Buf blk[2] = {{0}, {0}};
    ent(&blk[0], 0, "a", 1, "", 0);
    ent(&blk[1], 1, "b", 1, "", 0);
    blk_end(&blk[0]), blk_end(&blk[1]);
    Buf t = table(blk, 2);
    CHECK(sst_try(&t, NULL) == T2I_EFORMAT && msg_has("(shared 1 of 0"));
    free(t.p), free(blk[0].p), free(blk[1].p);
    // An index entry whose handle is cut: named as the data block handle.
    Buf idx = {0}, meta = {0}, f = {0};
    ent(&idx, 0, "k", 1, "\x80", 1);
    blk_end(&idx), blk_end(&meta);
    uint64_t mo, ms, io, is;
    put_block(&f, &meta, &mo, &ms);
    put_block(&f, &idx, &io, &is);
    footer(&f, mo, ms, io, is);
    CHECK(sst_try(&f, NULL) == T2I_EFORMAT && msg_has("t.tab: data block handle") &&
          msg_has("runs past"));
    free(idx.p), free(meta.p), free(f.p);
}

// ---- tfckpt.c: V1 checkpoints -------------------------------------------------------------------

// SavedSliceMeta {name, shape, type} inside SavedTensorSlices.meta, as a Buf.
static void meta_tensor(Buf *meta, const char *name, const int64_t *d, int nd, uint64_t type) {
    Buf sm = {0}, s = shape_msg(d, nd);
    if (name) pstr(&sm, 1, name);
    if (d) pmsg(&sm, 2, &s);
    pvar(&sm, 3, type);
    pmsg(meta, 1, &sm);
    free(sm.p), free(s.p);
}
static Buf toc_entry(const Buf *meta) {
    Buf v = {0};
    pmsg(&v, 1, meta);
    return v;
}
// SavedTensorSlices {data: SavedSlice {name, slice (extents start/len; nx < 0: none), data}}.
static Buf slice_entry(const char *name, const int64_t *st, const int64_t *ln, int nx,
                       const Buf *tensor) {
    Buf ss = {0}, sl = {0}, v = {0};
    if (name) pstr(&ss, 1, name);
    for (int i = 0; i < nx; i++) {
        Buf e = {0};
        if (st[i] >= 0) pvar(&e, 1, (uint64_t)st[i]);
        if (ln[i] >= 0) pvar(&e, 2, (uint64_t)ln[i]);
        pmsg(&sl, 1, &e);
        free(e.p);
    }
    if (nx >= 0) pmsg(&ss, 2, &sl);
    if (tensor) pmsg(&ss, 3, tensor);
    pmsg(&v, 2, &ss);
    free(ss.p), free(sl.p);
    return v;
}

static int v1_try(const Buf *t, StateDict *sd) {
    uint8_t  *c = bytes_dup(t->p, t->n);
    StateDict tmp;
    int       rc = tf_ckpt_v1_parse(c, t->n, "t.ckpt", sd ? sd : &tmp);
    if (!rc && !sd) sd_free(&tmp);
    free(c);
    return rc;
}

// A V1 checkpoint of one float tensor "w" of shape d (nd dims) described in the table of
// contents, and slice entries kv[1..n) given by the caller (kv[0] is filled here).
static int v1_with(const int64_t *d, int nd, KV *kv, int n, StateDict *sd) {
    Buf meta = {0};
    meta_tensor(&meta, "w", d, nd, 1);
    kv[0].key = "";
    kv[0].val = toc_entry(&meta);
    Buf t = table_kv(kv, n);
    int rc = v1_try(&t, sd);
    for (int i = 0; i < n; i++) free(kv[i].val.p);
    free(meta.p), free(t.p);
    return rc;
}

TEST(v1_shapes) {
    float   four[4] = {1, 2, 3, 4};
    int64_t d1[1] = {4};
    KV      kv[3];
    // A tensor_content of exactly 16 bytes for shape (4,): accepted, values in place.
    Buf       tp = tensor_msg(1, d1, 1, four, 16, 0);
    StateDict sd;
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECKF(v1_with(d1, 1, kv, 2, &sd) == T2I_OK, "%s", t2i_errmsg());
    const SDEntry *w = sd.n == 1 ? &sd.e[0] : NULL;
    CHECK(w && w->numel == 4 && memcmp(w->data, four, 16) == 0);
    sd_free(&sd);
    free(tp.p);
    // 15 and 17 bytes: refused, naming the content's offset and both sizes.
    for (int delta = -1; delta <= 1; delta += 2) {
        uint8_t c17[17] = {0};
        tp = tensor_msg(1, d1, 1, c17, (size_t)(16 + delta), 0);
        kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
        CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT && msg_has("t.ckpt: w: tensor_content "
                                                                    "at byte") &&
              msg_has(delta < 0 ? "has 15 bytes, 4 elements of 4" : "has 17 bytes"));
        free(tp.p);
    }
    // Dimensions: T2I_MAX_DIMS (8) accepted, 9 refused.
    int64_t ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    tp = tensor_msg(1, ones, 8, four, 4, 0);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECKF(v1_with(ones, 8, kv, 2, NULL) == T2I_OK, "%s", t2i_errmsg());
    free(tp.p);
    tp = tensor_msg(1, ones, 8, four, 4, 0);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECK(v1_with(ones, 9, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: tensor shape at byte") && msg_has("more than 8 dimensions"));
    free(tp.p);
    // Dimension sizes: 0 accepted (empty tensor), -1 refused.
    int64_t z[1] = {0}, neg[1] = {-1};
    tp = tensor_msg(1, z, 1, four, 0, 0);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECKF(v1_with(z, 1, kv, 2, NULL) == T2I_OK, "%s", t2i_errmsg());
    free(tp.p);
    kv[1] = (KV){"a", {0}};
    CHECK(v1_with(neg, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("has a dimension of size -1"));
    // Element count: 2^32 x (2^32 - 1) fits in 64 bits (then refused as larger than the file),
    // 2^32 x 2^32 overflows.
    int64_t big[2] = {(int64_t)1 << 32, ((int64_t)1 << 32) - 1};
    kv[1] = (KV){"a", {0}};
    CHECK(v1_with(big, 2, kv, 2, NULL) == T2I_EFORMAT && msg_has("more than the file's"));
    big[1]++;
    kv[1] = (KV){"a", {0}};
    CHECK(v1_with(big, 2, kv, 2, NULL) == T2I_EFORMAT && msg_has("element count overflows"));
    // Unknown rank (TensorShapeProto field 3) refused.
    Buf meta = {0}, sm = {0}, s = {0};
    pstr(&sm, 1, "w");
    pvar(&s, 3, 1);
    pmsg(&sm, 2, &s);
    pmsg(&meta, 1, &sm);
    KV one[1] = {{"", toc_entry(&meta)}};
    Buf t = table_kv(one, 1);
    CHECK(v1_try(&t, NULL) == T2I_EFORMAT && msg_has("t.ckpt: tensor shape at byte") &&
          msg_has("unknown rank"));
    free(one[0].val.p), free(t.p), free(meta.p), free(sm.p), free(s.p);
}

TEST(v1_values) {
    int64_t d1[1] = {4};
    KV      kv[3];
    // float_val: 4 values for 4 elements accepted; 5 refused; 3 refused (checkpoints store all).
    Buf tp = tensor_msg(1, d1, 1, NULL, 0, 4);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECKF(v1_with(d1, 1, kv, 2, NULL) == T2I_OK, "%s", t2i_errmsg());
    free(tp.p);
    tp = tensor_msg(1, d1, 1, NULL, 0, 5);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: w: TensorProto at byte") && msg_has("holds more than its 4 elements"));
    free(tp.p);
    tp = tensor_msg(1, d1, 1, NULL, 0, 3);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT && msg_has("holds 3 of its 4 elements"));
    free(tp.p);
    // Packed float_val: 16 bytes accepted; 15 bytes: the 4th value runs past.
    for (int cut = 0; cut <= 1; cut++) {
        Buf t = {0}, s = shape_msg(d1, 1);
        pvar(&t, 1, 1);
        pmsg(&t, 2, &s);
        uint8_t vals[16] = {0};
        pbytes(&t, 5, vals, (size_t)(16 - cut));
        kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &t)};
        int rc = v1_with(d1, 1, kv, 2, NULL);
        CHECKF(cut ? rc == T2I_EFORMAT && msg_has("t.ckpt: w: value 3") : rc == T2I_OK,
               "cut %d: %s", cut, t2i_errmsg());
        free(t.p), free(s.p);
    }
    // A value of the wrong wire type (varint for float) names the field.
    Buf t = {0}, s = shape_msg(d1, 1);
    pvar(&t, 1, 1);
    pmsg(&t, 2, &s);
    pvar(&t, 5, 1);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &t)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT && msg_has("TensorProto value (field 5)"));
    free(t.p), free(s.p);
    // Slice dtype must equal the table of contents' (double for float refused).
    uint8_t z32[32] = {0};
    tp = tensor_msg(2, d1, 1, z32, 32, 0);
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: slice of 'w' at byte") && msg_has("dtype 2"));
    free(tp.p);
}

TEST(v1_slices) {
    int64_t d1[1] = {4};
    float   two[2] = {1, 2};
    KV      kv[4];
    int64_t st[2], ln[2];
    // Two halves cover the tensor: [0,2) and [2,4) accepted.
    Buf tp = tensor_msg(1, (int64_t[]){2}, 1, two, 8, 0);
    st[0] = 0, ln[0] = 2;
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    st[0] = 2;
    kv[2] = (KV){"b", slice_entry("w", st, ln, 1, &tp)};
    CHECKF(v1_with(d1, 1, kv, 3, NULL) == T2I_OK, "%s", t2i_errmsg());
    // The second one missing its length: the rest of the dimension (2) is taken.
    st[0] = 0, ln[0] = 2;
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    st[0] = 2, ln[0] = -1;
    kv[2] = (KV){"b", slice_entry("w", st, ln, 1, &tp)};
    CHECKF(v1_with(d1, 1, kv, 3, NULL) == T2I_OK, "%s", t2i_errmsg());
    // Only one half: coverage refused.
    st[0] = 0, ln[0] = 2;
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: tensor 'w': slices cover 2 of its 4 elements"));
    // The same half twice: overlap refused.
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    kv[2] = (KV){"b", slice_entry("w", st, ln, 1, &tp)};
    kv[3] = (KV){"c", slice_entry("w", st, ln, 1, &tp)};
    CHECK(v1_with(d1, 1, kv, 4, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: slices of 'w' overlap (entry at byte"));
    // Extent bounds: start 2 length 2 ends at the dimension (above); start 3 length 2 and
    // start 5 (length missing) lie outside.
    st[0] = 3, ln[0] = 2;
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("w: slice extent 0 at byte") &&
          msg_has("(start 3, length 2) is outside the dimension of size 4"));
    st[0] = 5, ln[0] = -1;
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT && msg_has("(start 5, length -1)"));
    // start 4, length 0: an empty slice at the end is inside (then the coverage is short).
    st[0] = 4, ln[0] = 0;
    Buf e0 = tensor_msg(1, (int64_t[]){0}, 1, two, 0, 0);
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &e0)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT && msg_has("slices cover 0 of its 4"));
    free(e0.p);
    // Extent count: 1 for a 1-D tensor (above); 2 refused; 1 for a 2-D tensor refused.
    st[0] = 0, ln[0] = 2, st[1] = 0, ln[1] = 1;
    kv[1] = (KV){"a", slice_entry("w", st, ln, 2, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("has more extents than the tensor has dimensions (1)"));
    int64_t d2[2] = {2, 2};
    kv[1] = (KV){"a", slice_entry("w", st, ln, 1, &tp)};
    CHECK(v1_with(d2, 2, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("has 1 extents, the tensor 2 dimensions"));
    // An empty TensorSliceProto is the whole tensor.
    float four[4] = {1, 2, 3, 4};
    Buf   t4 = tensor_msg(1, d2, 2, four, 16, 0);
    kv[1] = (KV){"a", slice_entry("w", st, ln, 0, &t4)};
    CHECKF(v1_with(d2, 2, kv, 2, NULL) == T2I_OK, "%s", t2i_errmsg());
    free(t4.p);
    free(tp.p);
}

TEST(v1_entries) {
    int64_t d1[1] = {4};
    float   four[4] = {1, 2, 3, 4};
    Buf     tp = tensor_msg(1, d1, 1, four, 16, 0);
    KV      kv[3];
    // A slice without name / without data.
    kv[1] = (KV){"a", slice_entry(NULL, NULL, NULL, -1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: slice entry at byte") && msg_has("has no name"));
    kv[1] = (KV){"a", slice_entry("w", NULL, NULL, -1, NULL)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT && msg_has("has no data"));
    // A slice of a tensor the table of contents does not list.
    kv[1] = (KV){"a", slice_entry("v", NULL, NULL, -1, &tp)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("names 'v', which the checkpoint's table of contents does not list"));
    // A table of contents under a data key.
    Buf meta = {0};
    meta_tensor(&meta, "x", d1, 1, 1);
    kv[1] = (KV){"a", toc_entry(&meta)};
    CHECK(v1_with(d1, 1, kv, 2, NULL) == T2I_EFORMAT &&
          msg_has("holds a table of contents under a data key"));
    free(meta.p);
    // First entry not the table of contents; no table of contents at all.
    KV  one[1] = {{"a", slice_entry("w", NULL, NULL, -1, &tp)}};
    Buf t = table_kv(one, 1);
    CHECK(v1_try(&t, NULL) == T2I_EFORMAT &&
          msg_has("t.ckpt: the first entry (byte") && msg_has("is not the table of contents"));
    free(t.p), free(one[0].val.p);
    t = table_kv(NULL, 0);
    CHECK(v1_try(&t, NULL) == T2I_EFORMAT && msg_has("t.ckpt: table has no table of contents"));
    free(t.p);
    // Tensor descriptions: without name, without shape, twice.
    for (int k = 0; k < 3; k++) {
        meta = (Buf){0};
        if (k == 0) meta_tensor(&meta, NULL, d1, 1, 1);
        if (k == 1) meta_tensor(&meta, "w", NULL, 0, 1);
        if (k == 2) meta_tensor(&meta, "w", d1, 1, 1), meta_tensor(&meta, "w", d1, 1, 1);
        one[0] = (KV){"", toc_entry(&meta)};
        t = table_kv(one, 1);
        CHECKF(v1_try(&t, NULL) == T2I_EFORMAT && msg_has("t.ckpt: ") &&
                   msg_has(k == 0   ? "tensor description at byte 7 has no name"
                           : k == 1 ? "tensor description at byte 7 has no shape"
                                    : "tensor 'w' is described twice"),
               "case %d: %s", k, t2i_errmsg());
        free(t.p), free(one[0].val.p), free(meta.p);
    }
    // A non-numeric tensor (DT_STRING) is skipped and counted.
    meta = (Buf){0};
    meta_tensor(&meta, "s", d1, 1, 7);
    one[0] = (KV){"", toc_entry(&meta)};
    t = table_kv(one, 1);
    StateDict sd;
    CHECK(v1_try(&t, &sd) == T2I_OK && sd.n == 0 && tf_skipped() == 1);
    sd_free(&sd);
    free(t.p), free(one[0].val.p), free(meta.p);
    free(tp.p);
}

// Element claims are bounded by the file size: a tensor of exactly as many elements as the file
// has bytes passes that bound (and fails on coverage), one more is refused before allocating.
#define PAD100                                                                                     \
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
TEST(v1_claims_against_file_size) {
    for (int extra = 0; extra <= 1; extra++) {
        int64_t d[1] = {200};   // a 2-byte varint for any size 128..16383
        Buf     meta = {0};
        meta_tensor(&meta, "w", d, 1, 1);
        pstr(&meta, 9, PAD100);   // an unknown field (skipped): the file above 128 bytes
        KV  one[1] = {{"", toc_entry(&meta)}};
        Buf t = table_kv(one, 1);
        free(meta.p), free(one[0].val.p);
        d[0] = (int64_t)t.n + extra;
        free(t.p);
        meta = (Buf){0};
        meta_tensor(&meta, "w", d, 1, 1);
        pstr(&meta, 9, PAD100);
        one[0] = (KV){"", toc_entry(&meta)};
        t = table_kv(one, 1);
        CHECK((int64_t)t.n == d[0] - extra);
        int rc = v1_try(&t, NULL);
        CHECKF(extra ? rc == T2I_EFORMAT && msg_has("t.ckpt: tensor 'w' (byte 7) claims") &&
                           msg_has("more than the file's")
                     : rc == T2I_EFORMAT && msg_has("slices cover 0 of its"),
               "extra %d: %s", extra, t2i_errmsg());
        free(t.p), free(one[0].val.p), free(meta.p);
    }
    // Names: 4096 bytes accepted, 4097 refused; a NUL inside refused.
    char *nm = malloc(4098);
    memset(nm, 'n', 4097);
    nm[4097] = 0;
    for (int len = 4096; len <= 4097; len++) {
        nm[len] = 0;
        int64_t d[1] = {1};
        Buf     meta = {0};
        meta_tensor(&meta, nm, d, 1, 1);
        KV  one[1] = {{"", toc_entry(&meta)}};
        Buf t = table_kv(one, 1);
        int rc = v1_try(&t, NULL);
        CHECKF(len == 4096 ? rc == T2I_EFORMAT && msg_has("t.ckpt: tensor 'nnnnnnnn") &&
                                 !msg_has("valid name")
                           : rc == T2I_EFORMAT && msg_has("t.ckpt: tensor name at byte") &&
                                 msg_has("is not a valid name (4097 bytes)"),
               "len %d: %s", len, t2i_errmsg());
        free(t.p), free(one[0].val.p), free(meta.p);
        nm[len] = 'n';
    }
    free(nm);
    int64_t d[1] = {1};
    Buf     meta = {0}, sm = {0}, s = shape_msg(d, 1);
    pbytes(&sm, 1, "a\0b", 3);
    pmsg(&sm, 2, &s);
    pmsg(&meta, 1, &sm);
    KV  one[1] = {{"", toc_entry(&meta)}};
    Buf t = table_kv(one, 1);
    CHECK(v1_try(&t, NULL) == T2I_EFORMAT && msg_has("is not a valid name (3 bytes)"));
    free(t.p), free(one[0].val.p), free(meta.p), free(sm.p), free(s.p);
}

// ---- tfckpt.c: V2 bundles -----------------------------------------------------------------------

static Buf header_msg(uint64_t ns, uint64_t endian) {
    Buf h = {0};
    pvar(&h, 1, ns);
    pvar(&h, 2, endian);
    pvar(&h, 3, 1);   // version {producer 1}: a message in TF; here any field is skipped
    return h;
}

typedef struct {
    uint64_t dtype, shard, offset, size;
    int64_t  dim;       // -1: no shape
    int      crc;       // 0 none, 1 masked (right), 2 unmasked (wrong)
    int      sliced;
} EntrySpec;

// BundleEntryProto; the checksum is computed from data[offset, offset+size) when that lies
// inside the dlen bytes given (else 0 is stored).
static Buf entry_msg(const EntrySpec *e, const uint8_t *data, size_t dlen) {
    Buf m = {0};
    pvar(&m, 1, e->dtype);
    if (e->dim >= 0) {
        Buf s = shape_msg(&e->dim, 1);
        pmsg(&m, 2, &s);
        free(s.p);
    }
    pvar(&m, 3, e->shard);
    pvar(&m, 4, e->offset);
    pvar(&m, 5, e->size);
    if (e->crc) {
        uint32_t c = e->offset <= dlen && e->size <= dlen - e->offset
                         ? crc32c(0, data + e->offset, (size_t)e->size)
                         : 0;
        pfix32(&m, 6, e->crc == 1 ? crc32c_mask(c) : c);
    }
    if (e->sliced) {
        Buf sl = {0};
        pmsg(&m, 7, &sl);
    }
    return m;
}

// A bundle: header (num_shards hs) and one entry "w"; two data shards of 40 and 24 bytes.
static int v2_try(uint64_t hs, const EntrySpec *e, int nshards) {
    uint8_t d0[40], d1[24];
    for (int i = 0; i < 40; i++) d0[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < 24; i++) d1[i] = (uint8_t)(i * 5 + 3);
    uint8_t       *s0 = bytes_dup(d0, 40), *s1 = bytes_dup(d1, 24);
    const uint8_t *shards[2] = {s0, s1};
    size_t         lens[2] = {40, 24};
    const char    *names[2] = {"t.data-0", "t.data-1"};
    KV             kv[2] = {{"", header_msg(hs, 0)},
                            {"w", entry_msg(e, e->shard == 1 ? d1 : d0, e->shard == 1 ? 24 : 40)}};
    Buf            t = table_kv(kv, 2);
    uint8_t       *c = bytes_dup(t.p, t.n);
    StateDict      sd;
    int            rc = tf_bundle_parse(c, t.n, "t.index", shards, lens, names, nshards, &sd);
    if (!rc) sd_free(&sd);
    free(c), free(t.p), free(kv[0].val.p), free(kv[1].val.p), free(s0), free(s1);
    return rc;
}

TEST(v2_entries) {
    // Shard 1 (the last of 2) with 6 floats at offset 0 = its 24 bytes: accepted.
    EntrySpec e = {.dtype = 1, .shard = 1, .offset = 0, .size = 24, .dim = 6, .crc = 1};
    CHECKF(v2_try(2, &e, 2) == T2I_OK, "%s", t2i_errmsg());
    e.shard = 2;   // one past the shards
    CHECK(v2_try(2, &e, 2) == T2I_EFORMAT &&
          msg_has("t.index: tensor 'w' (byte") && msg_has("is in shard 2 of 2"));
    // Extents in the shard: 5 floats ending exactly at its end accepted, one byte later refused.
    e = (EntrySpec){.dtype = 1, .shard = 1, .offset = 4, .size = 20, .dim = 5, .crc = 1};
    CHECKF(v2_try(2, &e, 2) == T2I_OK, "%s", t2i_errmsg());
    e.offset = 5;
    CHECK(v2_try(2, &e, 2) == T2I_EFORMAT &&
          msg_has("t.index: tensor 'w' (index byte") &&
          msg_has("bytes 5..25 lie outside t.data-1 (24 bytes)"));
    // An empty tensor at the shard's end accepted, one byte past it refused.
    e = (EntrySpec){.dtype = 1, .shard = 0, .offset = 40, .size = 0, .dim = 0, .crc = 1};
    CHECKF(v2_try(2, &e, 2) == T2I_OK, "%s", t2i_errmsg());
    e.offset = 41;
    CHECK(v2_try(2, &e, 2) == T2I_EFORMAT && msg_has("bytes 41..41 lie outside t.data-0"));
    // Size: exactly numel * 4 accepted (above), one more or fewer refused.
    for (int dsz = -1; dsz <= 1; dsz += 2) {
        e = (EntrySpec){.dtype = 1, .shard = 0, .offset = 0, .size = (uint64_t)(16 + dsz),
                        .dim = 4, .crc = 1};
        CHECKF(v2_try(2, &e, 2) == T2I_EFORMAT &&
                   msg_has(dsz < 0 ? "15 bytes stored, its shape needs 4 elements of 4 bytes"
                                   : "17 bytes stored"),
               "%d: %s", dsz, t2i_errmsg());
    }
    // A scalar (no shape) of 4 bytes accepted.
    e = (EntrySpec){.dtype = 1, .shard = 0, .offset = 36, .size = 4, .dim = -1, .crc = 1};
    CHECKF(v2_try(2, &e, 2) == T2I_OK, "%s", t2i_errmsg());
    // Checksums: masked accepted (above), unmasked refused, missing refused.
    e = (EntrySpec){.dtype = 1, .shard = 0, .offset = 0, .size = 16, .dim = 4, .crc = 2};
    CHECK(v2_try(2, &e, 2) == T2I_EFORMAT &&
          msg_has("t.data-0: tensor 'w' at byte 0: CRC-32C mismatch"));
    e.crc = 0;
    CHECK(v2_try(2, &e, 2) == T2I_EFORMAT && msg_has("tensor 'w' (byte") &&
          msg_has("has no checksum"));
    // Partitioned variables refused; non-numeric dtypes skipped.
    e.crc = 1, e.sliced = 1;
    CHECK(v2_try(2, &e, 2) == T2I_EFORMAT && msg_has("'w'") && msg_has("partitioned variable"));
    e.sliced = 0, e.dtype = 7;
    CHECK(v2_try(2, &e, 2) == T2I_OK && tf_skipped() == 1);
    // Header vs shards given.
    e.dtype = 1;
    CHECK(v2_try(3, &e, 2) == T2I_EFORMAT && msg_has("t.index: header says 3 data shards, 2 given"));
}

static int v2_header_try(const KV *kv, int n, int *ns) {
    Buf      t = table_kv(kv, n);
    uint8_t *c = bytes_dup(t.p, t.n);
    int      rc = tf_bundle_num_shards(c, t.n, "t.index", ns);
    free(c), free(t.p);
    return rc;
}

TEST(v2_header) {
    int ns = 0;
    static const struct {
        uint64_t shards, endian;
        int      ok;
    } c[] = {{1, 0, 1}, {0, 0, 0}, {100000, 0, 1}, {100001, 0, 0}, {1, 1, 0}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        KV  kv[1] = {{"", header_msg(c[i].shards, c[i].endian)}};
        int rc = v2_header_try(kv, 1, &ns);
        CHECKF(c[i].ok ? rc == T2I_OK && ns == (int)c[i].shards
                       : rc == T2I_EFORMAT && msg_has("t.index: bundle header: ") &&
                             msg_has(c[i].endian ? "big-endian" : "data shards"),
               "shards %llu endian %llu: rc %d %s", (unsigned long long)c[i].shards,
               (unsigned long long)c[i].endian, rc, t2i_errmsg());
        free(kv[0].val.p);
    }
    // No header: the first entry is a tensor; an empty table.
    EntrySpec e = {.dtype = 1, .size = 4, .dim = -1, .crc = 0};
    uint8_t   z[4] = {0};
    KV        kv[1] = {{"w", entry_msg(&e, z, 4)}};
    CHECK(v2_header_try(kv, 1, &ns) == T2I_EFORMAT &&
          msg_has("t.index: the first entry (byte") && msg_has("is not the bundle header"));
    free(kv[0].val.p);
    CHECK(v2_header_try(NULL, 0, &ns) == T2I_EFORMAT && msg_has("t.index: no bundle header"));
    // Names of entries: keys starting with a 0 byte (slices of partitioned variables) are
    // passed over; a key with a NUL later is refused as a name.
    uint8_t d0[4] = {0};
    const uint8_t *sh[1] = {d0};
    size_t         ln[1] = {4};
    const char    *nm[1] = {"t.data-0"};
    for (int k = 0; k < 2; k++) {
        Buf blk = {0}, h = header_msg(1, 0), m = entry_msg(&e, d0, 4);
        ent(&blk, 0, "", 0, h.p, h.n);
        ent(&blk, 0, k ? "w\0x" : "\0w", 3, m.p, m.n);
        blk_end(&blk);
        Buf       t = table(&blk, 1);
        StateDict sd;
        int       rc = tf_bundle_parse(t.p, t.n, "t.index", sh, ln, nm, 1, &sd);
        CHECKF(k ? rc == T2I_EFORMAT && msg_has("t.index: tensor name at byte") &&
                       msg_has("not a valid name")
                 : rc == T2I_OK && sd.n == 0,
               "key %d: %s", k, t2i_errmsg());
        if (!rc) sd_free(&sd);
        free(blk.p), free(h.p), free(m.p), free(t.p);
    }
}

// ---- tfckpt.c: GraphDef and sniffing ------------------------------------------------------------

static int graph_try(const Buf *g, StateDict *sd) {
    uint8_t  *c = bytes_dup(g->p, g->n);
    StateDict tmp;
    int       rc = tf_graphdef_parse(c, g->n, "g.pb", sd ? sd : &tmp);
    if (!rc && !sd) sd_free(&tmp);
    free(c);
    return rc;
}

// GraphDef with one node: name (NULL: none), op, and a "value" attr holding `tensor` (NULL: none).
static Buf graph_one(const char *name, const char *op, const char *attr, const Buf *tensor) {
    Buf node = {0}, g = {0};
    if (name) pstr(&node, 1, name);
    pstr(&node, 2, op);
    if (tensor) {
        Buf av = {0}, e = {0};
        pmsg(&av, 8, tensor);
        pstr(&e, 1, attr);
        pmsg(&e, 2, &av);
        pmsg(&node, 5, &e);
        free(av.p), free(e.p);
    }
    pmsg(&g, 1, &node);
    free(node.p);
    return g;
}

TEST(graphdef_nodes) {
    int64_t   d[1] = {4};
    Buf       tp = tensor_msg(1, d, 1, NULL, 0, 2);   // 2 values for 4: the last repeats
    StateDict sd;
    Buf       g = graph_one("c", "Const", "value", &tp);
    CHECKF(graph_try(&g, &sd) == T2I_OK && sd.n == 1, "%s", t2i_errmsg());
    if (sd.n == 1) {
        const float *v = sd.e[0].data;
        CHECK(v[1] == v[2] && v[2] == v[3] && v[0] != v[1]);
        sd_free(&sd);
    }
    free(g.p);
    g = graph_one(NULL, "Const", "value", &tp);
    CHECK(graph_try(&g, NULL) == T2I_EFORMAT && msg_has("g.pb: Const node at byte") &&
          msg_has("has no name"));
    free(g.p);
    g = graph_one("c", "Const", "valu", &tp);   // no attr named "value"
    CHECK(graph_try(&g, NULL) == T2I_EFORMAT && msg_has("g.pb: Const node 'c' (byte") &&
          msg_has("has no value"));
    free(g.p);
    g = graph_one("c", "Const", "valuee", &tp);
    CHECK(graph_try(&g, NULL) == T2I_EFORMAT && msg_has("has no value"));
    free(g.p);
    g = graph_one("c", "Cons", "value", &tp);   // not a Const: ignored
    CHECK(graph_try(&g, &sd) == T2I_OK && sd.n == 0);
    sd_free(&sd);
    free(g.p);
    free(tp.p);
    // A GraphDef.node of the wrong wire type is named.
    g = (Buf){0};
    pvar(&g, 1, 3);
    CHECK(graph_try(&g, NULL) == T2I_EFORMAT && msg_has("GraphDef.node (field 1)"));
    free(g.p);
    // Tensor size: 2^31 floats (exactly T2I_MAX_ALLOC bytes) passes the bound and fails to
    // allocate; 2^31 + 1 is refused as too large. No allocation succeeds in either case.
    for (int extra = 0; extra <= 1; extra++) {
        int64_t big[1] = {((int64_t)1 << 31) + extra};
        Buf     t = tensor_msg(1, big, 1, NULL, 0, 0);
        g = graph_one("c", "Const", "value", &t);
        uint8_t *c = bytes_dup(g.p, g.n);
        t2i_alloc_fail_after(0);
        int rc = tf_graphdef_parse(c, g.n, "g.pb", &sd);
        t2i_alloc_fail_after(-1);
        CHECKF(rc == T2I_ENOMEM && msg_has("g.pb: c: ") &&
                   msg_has(extra ? "is too large" : "out of memory"),
               "extra %d: %s", extra, t2i_errmsg());
        free(c), free(t.p), free(g.p);
    }
}

TEST(sniffing) {
    // GraphDef: a node whose first field is its name.
    Buf g = graph_one("c", "Const", "value", NULL);
    uint8_t *c = bytes_dup(g.p, g.n);
    CHECK(tf_sniff(c, g.n) == TF_GRAPHDEF);
    free(c);
    g.p[2] = 0x12;   // op first
    c = bytes_dup(g.p, g.n);
    CHECK(tf_sniff(c, g.n) == TF_NONE);
    free(c);
    c = bytes_dup(g.p, 1);
    CHECK(tf_sniff(c, 1) == TF_NONE);
    free(c), free(g.p);
    // Tables: V1 (meta first), V2 (header first), no "" key.
    int64_t d[1] = {1};
    Buf     meta = {0};
    meta_tensor(&meta, "w", d, 1, 1);
    KV  kv[1] = {{"", toc_entry(&meta)}};
    Buf t = table_kv(kv, 1);
    int kind = -1;
    c = bytes_dup(t.p, t.n);
    CHECK(tf_sniff(c, t.n) == TF_CKPT_V1);
    free(c), free(t.p), free(kv[0].val.p), free(meta.p);
    kv[0] = (KV){"", header_msg(1, 0)};
    t = table_kv(kv, 1);
    c = bytes_dup(t.p, t.n);
    CHECK(tf_sniff(c, t.n) == TF_CKPT_V2);
    free(c), free(t.p), free(kv[0].val.p);
    kv[0] = (KV){"a", header_msg(1, 0)};
    t = table_kv(kv, 1);
    c = bytes_dup(t.p, t.n);
    CHECK(tf_table_kind(c, t.n, "t.tab", &kind) == T2I_EFORMAT &&
          msg_has("t.tab: table starts with no header entry"));
    free(c), free(t.p), free(kv[0].val.p);
}

int main(void) {
    RUN(pb_varint_and_key_bounds);
    RUN(pb_lengths_and_fixed_fields);
    RUN(sstable_footer_and_handles);
    RUN(sstable_blocks_and_entries);
    RUN(sstable_key_order);
    RUN(v1_shapes);
    RUN(v1_values);
    RUN(v1_slices);
    RUN(v1_entries);
    RUN(v1_claims_against_file_size);
    RUN(v2_entries);
    RUN(v2_header);
    RUN(graphdef_nodes);
    RUN(sniffing);
    return test_report("test_bounds_tf");
}
