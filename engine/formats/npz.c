// npz.c -- see npz.h. Reading goes through the validating zip reader (zip.h) and npy_parse();
// writing emits a plain stored zip (no zip64, so each member and the archive stay < 4 GiB),
// which numpy.load reads.
#include "npz.h"
#include "rd.h"
#include "t2i.h"
#include "zip.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

void npz_free(Npz *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) {
        t2i_free(z->names[i]);
        npy_free(&z->arrays[i]);
    }
    t2i_free(z->names);
    t2i_free(z->arrays);
    memset(z, 0, sizeof *z);
}

const NpyArray *npz_get(const Npz *z, const char *name) {
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->names[i], name) == 0) return &z->arrays[i];
    return NULL;
}

int npz_parse(const uint8_t *buf, size_t len, const char *path, Npz *out) {
    memset(out, 0, sizeof *out);
    Zip zip;
    int rc = zip_open(&zip, buf, len, path);
    if (rc) return rc;
    out->names = t2i_calloc((size_t)(zip.n ? zip.n : 1), sizeof *out->names);
    out->arrays = t2i_calloc((size_t)(zip.n ? zip.n : 1), sizeof *out->arrays);
    if (!out->names || !out->arrays) {
        rc = t2i_error_prefix(T2I_ENOMEM, "%s", path);
        goto fail;
    }
    for (int i = 0; i < zip.n; i++) {
        const char *mname = zip.e[i].name;
        size_t nl = strlen(mname);
        if (nl < 5 || strcmp(mname + nl - 4, ".npy") != 0) {
            rc = t2i_error(T2I_EFORMAT, "%s: npz member '%s' is not a .npy array", path, mname);
            goto fail;
        }
        uint8_t *data;
        size_t dlen;
        if ((rc = zip_extract(&zip, i, &data, &dlen))) goto fail;
        char what[600];
        snprintf(what, sizeof what, "%s:%s", path, mname);
        rc = npy_parse(data, dlen, what, &out->arrays[out->n]);
        t2i_free(data);
        if (rc) goto fail;
        out->names[out->n] = t2i_malloc(nl - 3);
        if (!out->names[out->n]) {
            npy_free(&out->arrays[out->n]);
            rc = t2i_error_prefix(T2I_ENOMEM, "%s", path);
            goto fail;
        }
        memcpy(out->names[out->n], mname, nl - 4);
        out->names[out->n][nl - 4] = 0;
        out->n++;
    }
    zip_close(&zip);
    return T2I_OK;
fail:
    zip_close(&zip);
    npz_free(out);
    return rc;
}

static int parse_file(const uint8_t *buf, size_t len, const char *name, void *out) {
    return npz_parse(buf, len, name, out);
}

int npz_load(const char *path, Npz *out) {
    memset(out, 0, sizeof *out);
    return rd_load_file(path, parse_file, out);
}

// ---- writing ---------------------------------------------------------------------------------

static void put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t crc_of(const uint8_t *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = (uInt)(n > (1u << 30) ? (1u << 30) : n);
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

// Header of a stored member: local (sig 0x04034b50) or central (0x02014b50). DOS date 1980-01-01.
static size_t zip_header(uint8_t *h, int central, const char *name, uint32_t crc, uint32_t size,
                         uint32_t lho) {
    size_t nl = strlen(name);
    size_t fixed = central ? 46 : 30;
    memset(h, 0, fixed);
    put32(h, central ? 0x02014b50u : 0x04034b50u);
    uint8_t *q = h + 4;
    if (central) {
        put16(q, 20);  // version made by
        q += 2;
    }
    put16(q, 20);      // version needed
    put16(q + 4, 0);   // method: stored
    put16(q + 8, 0x21);  // date 1980-01-01
    put32(q + 10, crc);
    put32(q + 14, size);
    put32(q + 18, size);
    put16(q + 22, (unsigned)nl);
    if (central) put32(h + 42, lho);
    memcpy(h + fixed, name, nl);
    return fixed + nl;
}

int npz_save(const char *path, int n, const char *const *names, const NpyArray *arrays) {
    int rc = T2I_OK;
    uint8_t **imgs = t2i_calloc((size_t)(n > 0 ? n : 1), sizeof *imgs);
    size_t *lens = t2i_calloc((size_t)(n > 0 ? n : 1), sizeof *lens);
    uint32_t *offs = t2i_calloc((size_t)(n > 0 ? n : 1), sizeof *offs);
    FILE *f = NULL;
    // A regular file (or a new one) is written to PATH.tmp and renamed at the end: a failed
    // write (full disk) leaves an existing file at PATH untouched and no partial file behind.
    // Anything else (a device, a pipe) is written in place.
    struct stat sb;
    int in_place = stat(path, &sb) == 0 && !S_ISREG(sb.st_mode);
    size_t plen = strlen(path);
    char *tmp = t2i_malloc(plen + 5);
    if (tmp) memcpy(tmp, path, plen + 1);
    if (tmp && !in_place) memcpy(tmp + plen, ".tmp", 5);
    if (!imgs || !lens || !offs || !tmp) {
        rc = T2I_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (strlen(names[i]) == 0 || strlen(names[i]) > 1000) {
            rc = t2i_error(T2I_EARG, "%s: npz member name '%s' is empty or too long", path, names[i]);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                rc = t2i_error(T2I_EARG, "%s: duplicate npz member '%s'", path, names[i]);
                goto done;
            }
        if ((rc = npy_serialize(arrays[i].dtype, arrays[i].ndim, arrays[i].shape, arrays[i].data,
                                &imgs[i], &lens[i])))
            goto done;
        if (lens[i] >= 0xFFFFFFFFu) {
            rc = t2i_error(T2I_EARG, "%s: npz member '%s' exceeds 4 GiB", path, names[i]);
            goto done;
        }
    }
    f = fopen(tmp, "wb");
    if (!f) {
        rc = t2i_error(T2I_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    uint8_t hdr[46 + 1024 + 8];
    uint64_t pos = 0;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        char mname[1024 + 8];
        snprintf(mname, sizeof mname, "%s.npy", names[i]);
        if (pos >= 0xFFFFFFFFu) {
            rc = t2i_error(T2I_EARG, "%s: npz archive exceeds 4 GiB", path);
            goto done;
        }
        offs[i] = (uint32_t)pos;
        size_t hl = zip_header(hdr, 0, mname, crc_of(imgs[i], lens[i]), (uint32_t)lens[i], 0);
        ok = fwrite(hdr, 1, hl, f) == hl && fwrite(imgs[i], 1, lens[i], f) == lens[i];
        pos += hl + lens[i];
    }
    uint64_t cd_start = pos;
    for (int i = 0; i < n && ok; i++) {
        char mname[1024 + 8];
        snprintf(mname, sizeof mname, "%s.npy", names[i]);
        size_t hl = zip_header(hdr, 1, mname, crc_of(imgs[i], lens[i]), (uint32_t)lens[i], offs[i]);
        ok = fwrite(hdr, 1, hl, f) == hl;
        pos += hl;
    }
    if (pos >= 0xFFFFFFFFu || n > 0xFFFF) {
        rc = t2i_error(T2I_EARG, "%s: npz archive exceeds the plain zip limits", path);
        goto done;
    }
    uint8_t eocd[22] = {0};
    put32(eocd, 0x06054b50u);
    put16(eocd + 8, (unsigned)n);
    put16(eocd + 10, (unsigned)n);
    put32(eocd + 12, (uint32_t)(pos - cd_start));
    put32(eocd + 16, (uint32_t)cd_start);
    if (ok) ok = fwrite(eocd, 1, sizeof eocd, f) == sizeof eocd;
    if (!ok) rc = t2i_error(T2I_EIO, "%s: write failed: %s", path, strerror(errno));
done:
    if (f && fclose(f) != 0 && rc == T2I_OK)
        rc = t2i_error(T2I_EIO, "%s: write failed: %s", path, strerror(errno));
    if (f && !in_place && rc == T2I_OK && rename(tmp, path) != 0)
        rc = t2i_error(T2I_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (f && !in_place && rc) remove(tmp);
    t2i_free(tmp);
    if (imgs)
        for (int i = 0; i < n; i++) t2i_free(imgs[i]);
    t2i_free(imgs);
    t2i_free(lens);
    t2i_free(offs);
    return rc;
}
