// npy.c -- see npy.h. Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include "npy.h"
#include "rd.h"
#include "t2i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void npy_free(NpyArray *a) {
    if (!a) return;
    t2i_free(a->data);
    memset(a, 0, sizeof *a);
}

static const struct {
    const char *descr;
    DType       dtype;
} descrs[] = {
    {"<f4", DT_F32}, {"<f8", DT_F64}, {"<f2", DT_F16}, {"<i8", DT_I64}, {"<i4", DT_I32},
    {"<i2", DT_I16}, {"|i1", DT_I8},  {"|u1", DT_U8},  {"|b1", DT_BOOL},
};

static const char *descr_of(DType t) {
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (descrs[i].dtype == t) return descrs[i].descr;
    return NULL;
}

// Cursor over the header text.
typedef struct {
    const char *p, *end, *start;
    size_t      base;   // byte offset of the header text in the file
} Hdr;

static void skip_ws(Hdr *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n')) h->p++;
}

static size_t hoff(const Hdr *h) { return h->base + (size_t)(h->p - h->start); }

static int expect(Hdr *h, char c, const char *name) {
    skip_ws(h);
    if (h->p >= h->end || *h->p != c)
        return t2i_error(T2I_EFORMAT, "%s: npy header: expected '%c' at byte %zu", name, c, hoff(h));
    h->p++;
    return T2I_OK;
}

static int parse_str(Hdr *h, char *out, size_t cap, const char *name) {
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return t2i_error(T2I_EFORMAT, "%s: npy header: expected a string at byte %zu", name,
                         hoff(h));
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (n + 1 >= cap)
            return t2i_error(T2I_EFORMAT, "%s: npy header: string too long at byte %zu", name,
                             hoff(h));
        out[n++] = *h->p++;
    }
    if (h->p >= h->end)
        return t2i_error(T2I_EFORMAT, "%s: npy header: unterminated string at byte %zu", name,
                         hoff(h));
    h->p++;
    out[n] = 0;
    return T2I_OK;
}

static int parse_header(Hdr *h, const char *name, NpyArray *out) {
    int have_descr = 0, have_order = 0, have_shape = 0, rc;
    if ((rc = expect(h, '{', name))) return rc;
    for (;;) {
        skip_ws(h);
        if (h->p < h->end && *h->p == '}') break;
        char key[32], val[32];
        if ((rc = parse_str(h, key, sizeof key, name))) return rc;
        if ((rc = expect(h, ':', name))) return rc;
        skip_ws(h);
        if (strcmp(key, "descr") == 0) {
            size_t at = hoff(h);
            if ((rc = parse_str(h, val, sizeof val, name))) return rc;
            int found = 0;
            for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++) {
                if (strcmp(val, descrs[i].descr) == 0 ||
                    (val[0] == '=' && strcmp(val + 1, descrs[i].descr + 1) == 0) ||
                    (descrs[i].descr[0] == '|' && val[0] == '<' &&
                     strcmp(val + 1, descrs[i].descr + 1) == 0)) {
                    out->dtype = descrs[i].dtype;
                    found = 1;
                }
            }
            if (!found)
                return t2i_error(T2I_EFORMAT,
                                 "%s: npy dtype '%s' at byte %zu is not supported (need <f4 <f8 "
                                 "<f2 <i8 <i4 <i2 |i1 |u1 |b1)",
                                 name, val, at);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(h->end - h->p) >= 5 && memcmp(h->p, "False", 5) == 0) {
                h->p += 5;
            } else if ((size_t)(h->end - h->p) >= 4 && memcmp(h->p, "True", 4) == 0) {
                return t2i_error(T2I_EFORMAT,
                                 "%s: npy array at byte %zu is in Fortran order (only C order is "
                                 "supported)",
                                 name, hoff(h));
            } else {
                return t2i_error(T2I_EFORMAT, "%s: npy header: bad fortran_order at byte %zu",
                                 name, hoff(h));
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if ((rc = expect(h, '(', name))) return rc;
            out->ndim = 0;
            for (;;) {
                skip_ws(h);
                if (h->p < h->end && *h->p == ')') {
                    h->p++;
                    break;
                }
                if (out->ndim == T2I_MAX_DIMS)
                    return t2i_error(T2I_EFORMAT, "%s: npy shape has more than %d dims", name,
                                     T2I_MAX_DIMS);
                int64_t v = 0;
                int digits = 0;
                while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
                    if (v > (INT64_MAX - 9) / 10)
                        return t2i_error(T2I_EFORMAT, "%s: npy shape value too large at byte %zu",
                                         name, hoff(h));
                    v = v * 10 + (*h->p++ - '0');
                    digits++;
                }
                if (!digits)
                    return t2i_error(T2I_EFORMAT, "%s: npy header: bad shape at byte %zu", name,
                                     hoff(h));
                if (h->p < h->end && *h->p == 'L') h->p++;
                out->shape[out->ndim++] = v;
                skip_ws(h);
                if (h->p < h->end && *h->p == ',') h->p++;
            }
            have_shape = 1;
        } else {
            return t2i_error(T2I_EFORMAT, "%s: npy header: unknown key '%s' at byte %zu", name,
                             key, hoff(h));
        }
        skip_ws(h);
        if (h->p < h->end && *h->p == ',') h->p++;
    }
    if (!have_descr || !have_order || !have_shape)
        return t2i_error(T2I_EFORMAT, "%s: npy header lacks %s", name,
                         !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
    return T2I_OK;
}

int npy_parse(const uint8_t *buf, size_t len, const char *name, NpyArray *out) {
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return t2i_error(T2I_EFORMAT, "%s: not a .npy file (bad magic at byte 0)", name);
    int major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return t2i_error(T2I_EFORMAT, "%s: truncated .npy header", name);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return t2i_error(T2I_EFORMAT, "%s: unsupported .npy version %d.%d at byte 6", name, major,
                         buf[7]);
    }
    if (hlen > len - hstart)
        return t2i_error(T2I_EFORMAT, "%s: .npy header of %zu bytes runs past the end (%zu bytes)",
                         name, hlen, len);
    Hdr h = {.p = (const char *)buf + hstart, .end = (const char *)buf + hstart + hlen,
             .start = (const char *)buf + hstart, .base = hstart};
    int rc = parse_header(&h, name, out);
    if (rc) return rc;
    size_t numel, bytes;
    if (!shape_numel(out->ndim, out->shape, &numel) ||
        !t2i_mul_size(numel, dtype_size(out->dtype), &bytes))
        return t2i_error(T2I_EFORMAT, "%s: .npy shape overflows", name);
    size_t data_off = hstart + hlen;
    if (bytes != len - data_off)
        return t2i_error(T2I_EFORMAT,
                         "%s: .npy data is %zu bytes at byte %zu, but the header's shape needs %zu",
                         name, len - data_off, data_off, bytes);
    out->numel = numel;
    out->data = t2i_malloc_aligned(bytes);
    if (!out->data) return t2i_error_prefix(T2I_ENOMEM, "%s", name);
    if (bytes) memcpy(out->data, buf + data_off, bytes);
    return T2I_OK;
}

static int parse_file(const uint8_t *buf, size_t len, const char *name, void *out) {
    return npy_parse(buf, len, name, out);
}

int npy_load(const char *path, NpyArray *out) {
    memset(out, 0, sizeof *out);
    return rd_load_file(path, parse_file, out);
}

int npy_load_f32(const char *path, NpyArray *out) {
    int rc = npy_load(path, out);
    if (rc || out->dtype == DT_F32) return rc;
    size_t bytes;
    if (!t2i_mul_size(out->numel, 4, &bytes)) return t2i_error(T2I_ENOMEM, "%s: too large", path);
    float *f = t2i_malloc_aligned(bytes);
    if (!f) {
        npy_free(out);
        return t2i_error_prefix(T2I_ENOMEM, "%s", path);
    }
    dtype_to_f32(f, out->data, out->dtype, out->numel);
    t2i_free(out->data);
    out->data = f;
    out->dtype = DT_F32;
    return T2I_OK;
}

int npy_serialize(DType dtype, int ndim, const int64_t *shape, const void *data, uint8_t **buf,
                  size_t *len) {
    const char *descr = descr_of(dtype);
    if (!descr) return t2i_error(T2I_EARG, "npy: dtype %s cannot be written", dtype_name(dtype));
    char dict[1024];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)shape[i],
                      (i + 1 < ndim) ? " " : "");
    if (ndim > 1) n--;  // numpy writes (2, 3) but (4,) for one dim
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t numel, bytes;
    if (!shape_numel(ndim, shape, &numel) || !t2i_mul_size(numel, dtype_size(dtype), &bytes))
        return t2i_error(T2I_EARG, "npy: shape overflows");
    int v2 = (size_t)n + 1 + 10 > 65535;
    size_t pre = v2 ? 12 : 10;
    size_t hlen = ((pre + (size_t)n + 1 + 63) / 64) * 64 - pre;  // pad so data is 64-aligned
    size_t total = pre + hlen + bytes;
    uint8_t *b = t2i_malloc(total);
    if (!b) return T2I_ENOMEM;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = v2 ? 2 : 1;
    b[7] = 0;
    if (v2) {
        for (int i = 0; i < 4; i++) b[8 + i] = (uint8_t)(hlen >> (8 * i));
    } else {
        b[8] = (uint8_t)hlen;
        b[9] = (uint8_t)(hlen >> 8);
    }
    memcpy(b + pre, dict, (size_t)n);
    memset(b + pre + n, ' ', hlen - (size_t)n - 1);
    b[pre + hlen - 1] = '\n';
    if (bytes) memcpy(b + pre + hlen, data, bytes);
    *buf = b;
    *len = total;
    return T2I_OK;
}

int npy_save(const char *path, DType dtype, int ndim, const int64_t *shape, const void *data) {
    uint8_t *buf;
    size_t len;
    int rc = npy_serialize(dtype, ndim, shape, data, &buf, &len);
    if (rc) return rc;
    FILE *f = fopen(path, "wb");
    if (!f) {
        t2i_free(buf);
        return t2i_error(T2I_EIO, "%s: cannot create: %s", path, strerror(errno));
    }
    size_t w = fwrite(buf, 1, len, f);
    int cerr = fclose(f);
    t2i_free(buf);
    if (w != len || cerr != 0) {
        rc = t2i_error(T2I_EIO, "%s: write failed: %s", path, strerror(errno));
        struct stat sb;   // no truncated .npy is left behind (only a regular file is removed)
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) remove(path);
        return rc;
    }
    return T2I_OK;
}
