// sstable.c -- see sstable.h.
#include "sstable.h"
#include "pb.h"
#include "rd.h"
#include "t2i.h"

#include <pthread.h>
#include <string.h>

// ---- CRC-32C --------------------------------------------------------------------------------

static uint32_t       crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t n) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = buf;
    uint32_t       c = ~crc;
    while (n >= 8) {   // slicing-by-8
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
            crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
uint32_t crc32c_unmask(uint32_t m) {
    uint32_t r = m - 0xa282ead8u;
    return (r >> 17) | (r << 15);
}

// ---- table ----------------------------------------------------------------------------------

int sstable_sniff(const uint8_t *buf, size_t len) {
    return len >= 48 && rd_le64(buf + len - 8) == SSTABLE_MAGIC;
}

typedef struct {
    const uint8_t *buf;
    size_t         len;
    const char    *name;
} Table;

// A block handle (offset, size varints) read from `r`; the block plus its trailer must lie in
// the file before the footer. Returns a reader over the block contents, CRC checked.
static int read_block(const Table *t, Rd *r, const char *what, Rd *blk) {
    size_t   off = rd_off(r);
    uint64_t bo, bs;
    int      rc;
    if ((rc = pb_varint(r, &bo)) || (rc = pb_varint(r, &bs)))
        return t2i_error_prefix(rc, "%s: %s block handle", t->name, what);
    size_t limit = t->len - 48;
    if (bo > limit || bs > limit - bo || limit - bo - bs < 5)
        return t2i_error(T2I_EFORMAT, "%s: %s block handle at byte %zu points outside the file "
                         "(offset %llu, size %llu, data ends at %zu)", t->name, what, off,
                         (unsigned long long)bo, (unsigned long long)bs, limit);
    const uint8_t *b = t->buf + bo;
    uint8_t        type = b[bs];
    if (type != 0)
        return t2i_error(T2I_EFORMAT, "%s: %s block at byte %llu is compressed (type %d%s); "
                         "TensorFlow checkpoints are written uncompressed", t->name, what,
                         (unsigned long long)bo, type, type == 1 ? ", snappy" : "");
    uint32_t want = crc32c_unmask(rd_le32(b + bs + 1));
    uint32_t got = crc32c(crc32c(0, b, (size_t)bs), &type, 1);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    got = want;   // fuzz builds only: let mutated blocks reach the entry parser
#endif
    if (want != got)
        return t2i_error(T2I_EFORMAT, "%s: %s block at byte %llu: CRC-32C mismatch (stored "
                         "%08x, computed %08x)", t->name, what, (unsigned long long)bo, want, got);
    rd_init(blk, b, (size_t)bs, t->name, (size_t)bo);
    return T2I_OK;
}

// Walks the entries of one block. Keys are rebuilt into *key (grown as needed, capacity *cap).
typedef int (*EntryFn)(void *ctx, const uint8_t *key, size_t klen, Rd *val);

static int walk_block(const Table *t, Rd *blk, const char *what, uint8_t **key, size_t *cap,
                      size_t *klen, int *have_prev, EntryFn fn, void *ctx) {
    size_t n = rd_left(blk), base = rd_off(blk);
    if (n < 4)
        return t2i_error(T2I_EFORMAT, "%s: %s block at byte %zu is too short (%zu bytes)", t->name,
                         what, base, n);
    uint32_t nr = rd_le32(blk->p + n - 4);
    if (nr > (n - 4) / 4)
        return t2i_error(T2I_EFORMAT, "%s: %s block at byte %zu: %u restart points do not fit "
                         "in %zu bytes", t->name, what, base, nr, n);
    Rd e;
    rd_init(&e, blk->p, n - 4 - 4 * (size_t)nr, t->name, base);
    size_t in_block = 0;   // bytes of *key valid as a prefix source within this block
    while (!rd_eof(&e)) {
        size_t   at = rd_off(&e);
        uint64_t shared, ns, vl;
        int      rc;
        if ((rc = pb_varint(&e, &shared)) || (rc = pb_varint(&e, &ns)) || (rc = pb_varint(&e, &vl)))
            return t2i_error_prefix(rc, "%s: %s block entry at byte %zu", t->name, what, at);
        if (shared > in_block || ns > rd_left(&e) || vl > rd_left(&e) - ns)
            return t2i_error(T2I_EFORMAT, "%s: %s block entry at byte %zu: lengths out of range "
                             "(shared %llu of %zu, key %llu + value %llu bytes, %zu left)",
                             t->name, what, at, (unsigned long long)shared, in_block,
                             (unsigned long long)ns, (unsigned long long)vl, rd_left(&e));
        size_t kl = (size_t)shared + (size_t)ns;
        if (kl > *cap) {
            size_t   nc = kl * 2 + 64;
            uint8_t *nk = t2i_realloc(*key, nc);
            if (!nk) return t2i_error(T2I_ENOMEM, "%s: out of memory for a key", t->name);
            *key = nk;
            *cap = nc;
        }
        // New key = previous key [0, shared) + delta: compare the previous key's tail with the
        // delta before it is overwritten.
        const uint8_t *delta = e.p;
        if (*have_prev) {
            size_t pl = *klen - (size_t)shared, dl = (size_t)ns, mn = pl < dl ? pl : dl;
            int    c = mn ? memcmp(*key + shared, delta, mn) : 0;
            if (c == 0) c = pl < dl ? -1 : pl > dl ? 1 : 0;
            if (c >= 0)
                return t2i_error(T2I_EFORMAT, "%s: %s block entry at byte %zu: keys are not in "
                                 "strictly increasing order", t->name, what, at);
        }
        if (ns) memmove(*key + shared, delta, (size_t)ns);
        e.p += ns;
        *klen = in_block = kl;
        *have_prev = 1;
        Rd v;
        rd_init(&v, e.p, (size_t)vl, t->name, rd_off(&e));
        e.p += vl;
        static const uint8_t empty[1] = {0};
        if ((rc = fn(ctx, kl ? *key : empty, kl, &v))) return rc;
    }
    return T2I_OK;
}

typedef struct {
    const Table *t;
    SSTableVisit fn;
    void        *ctx;
    uint8_t     *key;      // data keys (carried across blocks for the order check)
    size_t       cap, klen;
    int          have_prev;
} Walk;

static int data_entry(void *ctx, const uint8_t *key, size_t klen, Rd *val) {
    Walk *w = ctx;
    return w->fn(w->ctx, key, klen, val->p, rd_left(val), rd_off(val));
}

static int index_entry(void *ctx, const uint8_t *key, size_t klen, Rd *val) {
    (void)key, (void)klen;
    Walk *w = ctx;
    Rd    blk;
    int   rc = read_block(w->t, val, "data", &blk);
    if (rc) return rc;
    // keys continue across blocks: the order check compares with the last key of the previous
    // block, still in w->key
    return walk_block(w->t, &blk, "data", &w->key, &w->cap, &w->klen, &w->have_prev, data_entry,
                      w);
}

int sstable_each(const uint8_t *buf, size_t len, const char *name, SSTableVisit fn, void *ctx) {
    if (!sstable_sniff(buf, len))
        return t2i_error(T2I_EFORMAT, "%s: not a LevelDB/TensorFlow table (no table magic in the "
                         "last 8 bytes)", name);
    Table t = {.buf = buf, .len = len, .name = name};
    Rd    foot, meta, idx;
    rd_init(&foot, buf + len - 48, 40, name, len - 48);
    int rc = read_block(&t, &foot, "metaindex", &meta);
    if (!rc) rc = read_block(&t, &foot, "index", &idx);
    if (rc) return rc;
    Walk     w = {.t = &t, .fn = fn, .ctx = ctx};
    uint8_t *ikey = NULL;
    size_t   icap = 0, iklen = 0;
    int      ihave = 0;
    rc = walk_block(&t, &idx, "index", &ikey, &icap, &iklen, &ihave, index_entry, &w);
    t2i_free(ikey);
    t2i_free(w.key);
    return rc;
}
