// zip.c -- see zip.h. Layout facts from PKWARE APPNOTE.TXT 6.3 (sections 4.3.7, 4.3.12, 4.3.14-16,
// 4.5.3 for the zip64 extra field).
#include "zip.h"
#include "rd.h"
#include "t2i.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL   0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD    0x06054b50u
#define SIG_EOCD64  0x06064b50u
#define SIG_LOC64   0x07064b50u

int zip_sniff(const uint8_t *buf, size_t len) {
    return len >= 4 && (rd_le32(buf) == SIG_LOCAL || rd_le32(buf) == SIG_EOCD);
}

void zip_close(Zip *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) t2i_free(z->e[i].name);
    t2i_free(z->e);
    t2i_free(z->by_name);
    memset(z, 0, sizeof *z);
}

int zip_find(const Zip *z, const char *name) {
    int lo = 0, hi = z->n - 1;
    while (lo <= hi && z->by_name) {
        int mid = lo + (hi - lo) / 2, c = strcmp(z->e[z->by_name[mid]].name, name);
        if (c == 0) return z->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

// Finds the end-of-central-directory record; the comment must end exactly at EOF.
static int find_eocd(const Zip *z, size_t *pos) {
    if (z->len < 22) return t2i_error(T2I_EFORMAT, "%s: zip: file of %zu bytes is too short (end record at byte 0)",
                                        z->name, z->len);
    size_t lo = z->len > 22 + 65535 ? z->len - 22 - 65535 : 0;
    for (size_t p = z->len - 22 + 1; p-- > lo;) {
        if (rd_le32(z->buf + p) == SIG_EOCD && rd_le16(z->buf + p + 20) == z->len - p - 22) {
            *pos = p;
            return T2I_OK;
        }
    }
    return t2i_error(T2I_EFORMAT,
                     "%s: zip: no end-of-central-directory record between byte %zu and the end "
                     "(%zu bytes; truncated?)", z->name, lo, z->len);
}

// Reads the zip64 EOCD through its locator (20 bytes before the classic EOCD).
static int read_eocd64(const Zip *z, size_t eocd, uint64_t *count, uint64_t *cd_size,
                       uint64_t *cd_off) {
    if (eocd < 20 || rd_le32(z->buf + eocd - 20) != SIG_LOC64)
        return t2i_error(T2I_EFORMAT, "%s: zip: zip64 fields without a zip64 locator at byte %zu",
                         z->name, eocd >= 20 ? eocd - 20 : 0);
    const uint8_t *loc = z->buf + eocd - 20;
    uint64_t off = rd_le64(loc + 8);
    if (rd_le32(loc + 4) != 0 || rd_le32(loc + 16) > 1)
        return t2i_error(T2I_EFORMAT, "%s: zip: multi-disk archives are not supported", z->name);
    if (off > eocd - 20 || eocd - 20 - off < 56 || rd_le32(z->buf + off) != SIG_EOCD64)
        return t2i_error(T2I_EFORMAT, "%s: zip: bad zip64 end record offset %llu", z->name,
                         (unsigned long long)off);
    const uint8_t *r = z->buf + off;
    if (rd_le32(r + 16) != 0 || rd_le32(r + 20) != 0 || rd_le64(r + 24) != rd_le64(r + 32))
        return t2i_error(T2I_EFORMAT, "%s: zip: multi-disk archives are not supported", z->name);
    *count = rd_le64(r + 32);
    *cd_size = rd_le64(r + 40);
    *cd_off = rd_le64(r + 48);
    return T2I_OK;
}

// Applies the zip64 extra field (id 1) of a central header to the 0xFFFFFFFF fields.
static int apply_zip64_extra(const Zip *z, ZipEntry *e, const uint8_t *ex, size_t exlen,
                             int need_u, int need_c, int need_o, size_t at) {
    while (exlen >= 4) {
        uint16_t id = rd_le16(ex), sz = rd_le16(ex + 2);
        if ((size_t)sz > exlen - 4)
            return t2i_error(T2I_EFORMAT, "%s: zip: extra field of '%s' overruns at byte %zu",
                             z->name, e->name, at);
        if (id == 1) {
            const uint8_t *q = ex + 4;
            size_t left = sz;
            uint64_t *dst[3] = {need_u ? &e->usize : NULL, need_c ? &e->csize : NULL,
                                need_o ? &e->lho : NULL};
            for (int k = 0; k < 3; k++) {
                if (!dst[k]) continue;
                if (left < 8)
                    return t2i_error(T2I_EFORMAT, "%s: zip: short zip64 extra for '%s' at byte %zu",
                                     z->name, e->name, at);
                *dst[k] = rd_le64(q);
                q += 8;
                left -= 8;
            }
            return T2I_OK;
        }
        ex += 4 + sz;
        exlen -= 4 + (size_t)sz;
    }
    if (need_u || need_c || need_o)
        return t2i_error(T2I_EFORMAT, "%s: zip: '%s' lacks its zip64 extra field (byte %zu)",
                         z->name, e->name, at);
    return T2I_OK;
}

static int cmp_lho(const void *a, const void *b) {
    const ZipEntry *x = *(const ZipEntry *const *)a, *y = *(const ZipEntry *const *)b;
    return x->lho < y->lho ? -1 : x->lho > y->lho;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const ZipEntry *const *)a)->name, (*(const ZipEntry *const *)b)->name);
}

static int check_layout(Zip *z, uint64_t cd_off) {
    int rc = T2I_OK;
    ZipEntry **order = t2i_malloc((size_t)(z->n ? z->n : 1) * sizeof *order);
    if (!order) return t2i_error_prefix(T2I_ENOMEM, "%s", z->name);
    for (int i = 0; i < z->n; i++) order[i] = &z->e[i];
    qsort(order, (size_t)z->n, sizeof *order, cmp_lho);
    for (int i = 0; i + 1 < z->n; i++) {
        if (order[i]->data_off + order[i]->csize > order[i + 1]->lho) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: members '%s' and '%s' overlap at byte %llu",
                           z->name, order[i]->name, order[i + 1]->name,
                           (unsigned long long)order[i + 1]->lho);
            break;
        }
    }
    // Unique names, checked on the name-sorted index that zip_find searches.
    z->by_name = rc ? NULL : t2i_malloc((size_t)(z->n ? z->n : 1) * sizeof *z->by_name);
    if (!rc && !z->by_name) rc = t2i_error_prefix(T2I_ENOMEM, "%s", z->name);
    if (!rc) {
        for (int i = 0; i < z->n; i++) order[i] = &z->e[i];
        qsort(order, (size_t)z->n, sizeof *order, cmp_name);
        for (int i = 0; i < z->n; i++) z->by_name[i] = (int)(order[i] - z->e);
        for (int i = 0; i + 1 < z->n && !rc; i++)
            if (strcmp(order[i]->name, order[i + 1]->name) == 0)
                rc = t2i_error(T2I_EFORMAT, "%s: zip: duplicate member '%s'", z->name, order[i]->name);
    }
    (void)cd_off;
    t2i_free(order);
    return rc;
}

int zip_open(Zip *z, const uint8_t *buf, size_t len, const char *name) {
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->len = len;
    z->name = name ? name : "<memory>";
    size_t eocd = 0;
    int rc = find_eocd(z, &eocd);
    if (rc) return rc;
    const uint8_t *r = buf + eocd;
    uint64_t count = rd_le16(r + 10), cd_size = rd_le32(r + 12), cd_off = rd_le32(r + 16);
    if (rd_le16(r + 4) != 0 || rd_le16(r + 6) != 0 || rd_le16(r + 8) != rd_le16(r + 10))
        return t2i_error(T2I_EFORMAT, "%s: zip: multi-disk archives are not supported", z->name);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        rc = read_eocd64(z, eocd, &count, &cd_size, &cd_off);
        if (rc) return rc;
    }
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return t2i_error(T2I_EFORMAT,
                         "%s: zip: central directory (%llu bytes at byte %llu) lies outside the file",
                         z->name, (unsigned long long)cd_size, (unsigned long long)cd_off);
    if (count > cd_size / 46 || count > INT32_MAX)
        return t2i_error(T2I_EFORMAT, "%s: zip: %llu members cannot fit in a %llu-byte directory",
                         z->name, (unsigned long long)count, (unsigned long long)cd_size);
    z->e = t2i_calloc(count ? (size_t)count : 1, sizeof *z->e);
    if (!z->e) return t2i_error_prefix(T2I_ENOMEM, "%s", z->name);
    Rd rd;
    rd_init(&rd, buf + cd_off, (size_t)cd_size, z->name, (size_t)cd_off);
    for (uint64_t i = 0; i < count; i++) {
        size_t at = rd_off(&rd);
        const uint8_t *h;
        if ((rc = rd_bytes(&rd, 46, &h))) goto fail;
        if (rd_le32(h) != SIG_CENTRAL) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: bad central header signature at byte %zu", z->name, at);
            goto fail;
        }
        ZipEntry *e = &z->e[z->n];
        e->flags = rd_le16(h + 8);
        e->method = rd_le16(h + 10);
        e->crc = rd_le32(h + 16);
        e->csize = rd_le32(h + 20);
        e->usize = rd_le32(h + 24);
        size_t nlen = rd_le16(h + 28), xlen = rd_le16(h + 30), clen = rd_le16(h + 32);
        e->lho = rd_le32(h + 42);
        const uint8_t *nm, *ex, *cm;
        if ((rc = rd_bytes(&rd, nlen, &nm)) || (rc = rd_bytes(&rd, xlen, &ex)) ||
            (rc = rd_bytes(&rd, clen, &cm)))
            goto fail;
        if (nlen == 0 || memchr(nm, 0, nlen)) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: empty or NUL-containing member name at byte %zu",
                           z->name, at);
            goto fail;
        }
        e->name = t2i_malloc(nlen + 1);
        if (!e->name) {
            rc = t2i_error_prefix(T2I_ENOMEM, "%s", z->name);
            goto fail;
        }
        memcpy(e->name, nm, nlen);
        e->name[nlen] = 0;
        z->n++;
        if ((rc = apply_zip64_extra(z, e, ex, xlen, e->usize == 0xFFFFFFFFu,
                                    e->csize == 0xFFFFFFFFu, e->lho == 0xFFFFFFFFu, at)))
            goto fail;
        if (e->flags & 1) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: member '%s' is encrypted", z->name, e->name);
            goto fail;
        }
        if (e->method == 0 && e->csize != e->usize) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: stored member '%s' has sizes %llu != %llu",
                           z->name, e->name, (unsigned long long)e->csize,
                           (unsigned long long)e->usize);
            goto fail;
        }
        // Local header: inside the file, before the central directory, same name.
        if (e->lho > cd_off || cd_off - e->lho < 30 || rd_le32(buf + e->lho) != SIG_LOCAL) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: bad local header offset %llu for '%s'", z->name,
                           (unsigned long long)e->lho, e->name);
            goto fail;
        }
        const uint8_t *lh = buf + e->lho;
        uint64_t lname = rd_le16(lh + 26), lextra = rd_le16(lh + 28);
        e->data_off = e->lho + 30 + lname + lextra;
        if (e->data_off > cd_off || e->csize > cd_off - e->data_off) {
            rc = t2i_error(T2I_EFORMAT,
                           "%s: zip: data of '%s' (%llu bytes at byte %llu) runs past the central "
                           "directory at byte %llu",
                           z->name, e->name, (unsigned long long)e->csize,
                           (unsigned long long)e->data_off, (unsigned long long)cd_off);
            goto fail;
        }
        if (lname != nlen || memcmp(lh + 30, e->name, nlen) != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: local name at byte %llu differs from '%s'",
                           z->name, (unsigned long long)e->lho + 30, e->name);
            goto fail;
        }
        if (rd_le16(lh + 8) != e->method) {
            rc = t2i_error(T2I_EFORMAT, "%s: zip: local and central method of '%s' differ", z->name,
                           e->name);
            goto fail;
        }
    }
    if (!rd_eof(&rd)) {
        rc = t2i_error(T2I_EFORMAT, "%s: zip: %zu stray bytes at the end of the central directory (byte %zu)",
                       z->name, rd_left(&rd), rd_off(&rd));
        goto fail;
    }
    if ((rc = check_layout(z, cd_off))) goto fail;
    return T2I_OK;
fail:
    zip_close(z);
    return rc;
}

static int check_crc(const Zip *z, const ZipEntry *e, const uint8_t *data, size_t len) {
    uLong c = crc32(0L, Z_NULL, 0);
    size_t done = 0;
    while (done < len) {  // zlib takes uInt lengths
        uInt chunk = (uInt)(len - done > (1u << 30) ? (1u << 30) : len - done);
        c = crc32(c, data + done, chunk);
        done += chunk;
    }
    if ((uint32_t)c != e->crc)
        return t2i_error(T2I_EFORMAT, "%s: zip: CRC-32 mismatch in '%s' (0x%08x, header says 0x%08x)",
                         z->name, e->name, (unsigned)c, (unsigned)e->crc);
    return T2I_OK;
}

int zip_span(const Zip *z, int i, const uint8_t **data, size_t *len) {
    const ZipEntry *e = &z->e[i];
    if (e->method != 0)
        return t2i_error(T2I_EFORMAT, "%s: zip: member '%s' is compressed (method %u); stored expected",
                         z->name, e->name, e->method);
    int rc = check_crc(z, e, z->buf + e->data_off, (size_t)e->csize);
    if (rc) return rc;
    *data = z->buf + e->data_off;
    *len = (size_t)e->csize;
    return T2I_OK;
}

static int inflate_member(const Zip *z, const ZipEntry *e, uint8_t *out) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
        return t2i_error(T2I_ENOMEM, "%s: zip: zlib init failed", z->name);
    const uint8_t *in = z->buf + e->data_off;
    size_t in_left = (size_t)e->csize, out_left = (size_t)e->usize;
    int zr = Z_OK;
    s.next_out = out;
    while (zr == Z_OK) {
        if (s.avail_in == 0 && in_left) {
            s.avail_in = (uInt)(in_left > (1u << 30) ? (1u << 30) : in_left);
            s.next_in = (Bytef *)(uintptr_t)in;  // zlib does not write through next_in
            in += s.avail_in;
            in_left -= s.avail_in;
        }
        if (s.avail_out == 0 && out_left) {
            s.avail_out = (uInt)(out_left > (1u << 30) ? (1u << 30) : out_left);
            out_left -= s.avail_out;
        }
        uInt before_in = s.avail_in, before_out = s.avail_out;
        zr = inflate(&s, Z_NO_FLUSH);
        if (zr == Z_BUF_ERROR && (before_in == s.avail_in && before_out == s.avail_out)) break;
        if (zr == Z_BUF_ERROR) zr = Z_OK;
    }
    size_t produced = (size_t)s.total_out;
    inflateEnd(&s);
    if (zr != Z_STREAM_END || produced != e->usize || s.avail_in != 0 || in_left != 0)
        return t2i_error(T2I_EFORMAT,
                         "%s: zip: deflate data of '%s' at byte %llu is corrupt or has the wrong "
                         "size (%zu of %llu bytes)",
                         z->name, e->name, (unsigned long long)e->data_off, produced,
                         (unsigned long long)e->usize);
    return T2I_OK;
}

int zip_extract(const Zip *z, int i, uint8_t **data, size_t *len) {
    const ZipEntry *e = &z->e[i];
    *data = NULL;
    *len = 0;
    if (e->method != 0 && e->method != 8)
        return t2i_error(T2I_EFORMAT, "%s: zip: member '%s' uses unsupported method %u", z->name,
                         e->name, e->method);
    // Deflate expands at most ~1032:1; a larger claim is a lie, refused before allocating.
    if (e->method == 8 && e->usize / 1032 > e->csize + 1)
        return t2i_error(T2I_EFORMAT, "%s: zip: '%s' claims %llu bytes from %llu compressed",
                         z->name, e->name, (unsigned long long)e->usize,
                         (unsigned long long)e->csize);
    if (e->usize > T2I_MAX_ALLOC - 1)
        return t2i_error(T2I_ENOMEM, "%s: zip: member '%s' of %llu bytes exceeds the size limit",
                         z->name, e->name, (unsigned long long)e->usize);
    uint8_t *out = t2i_malloc((size_t)e->usize + 1);
    if (!out) return t2i_error_prefix(T2I_ENOMEM, "%s", z->name);
    int rc;
    if (e->method == 0) {
        memcpy(out, z->buf + e->data_off, (size_t)e->usize);
        rc = T2I_OK;
    } else {
        rc = inflate_member(z, e, out);
    }
    if (!rc) rc = check_crc(z, e, out, (size_t)e->usize);
    if (rc) {
        t2i_free(out);
        return rc;
    }
    out[e->usize] = 0;
    *data = out;
    *len = (size_t)e->usize;
    return T2I_OK;
}
