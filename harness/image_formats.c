// image_formats.c -- BMP, PNM, TIFF and WebP readers (see image_io.h). BMP and PNM are parsed
// here with bounds checks on every read; TIFF goes through libtiff (per-handle error handlers,
// memory client procs), WebP through libwebp. Each reader checks the image size against the
// pixel limit from the header before it allocates pixel memory.
#include "image_io.h"
#include "t2i.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tiffio.h>
#include <webp/decode.h>

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// ---- BMP -----------------------------------------------------------------------------------

enum { BMP_RGB = 0, BMP_RLE8 = 1, BMP_RLE4 = 2, BMP_BITFIELDS = 3 };

int bmp_header_size_check(const char *name, uint32_t hs) {
    // OS/2 1.x core, BITMAPINFOHEADER, Adobe's V2 and V3, OS/2 2.x, V4, V5.
    static const uint32_t known[] = {12, 40, 52, 56, 64, 108, 124};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (hs == known[i]) return T2I_OK;
    return t2i_error(T2I_EFORMAT, "%s: bad BMP: unsupported header size %u (the header size field "
                                  "at byte 14; BMP headers have 12, 40, 52, 56, 64, 108 or 124 "
                                  "bytes)",
                     name, hs);
}

// Byte index (0..3) of an 8-bit mask inside a little-endian 32-bit word, -1 when not one.
static int mask_byte(uint32_t m) {
    for (int i = 0; i < 4; i++)
        if (m == 0xFFu << (8 * i)) return i;
    return -1;
}

// PIL's BmpRleDecoder: palette indices into `idx` (H*W, rows in file order), zero padding,
// absolute runs word-aligned on the file offset. Returns 0 when the data covers the image.
static int bmp_rle(const uint8_t *buf, size_t n, size_t pos, int rle4, uint8_t *idx, int W, int H) {
    size_t need = (size_t)W * H, len = 0;
    int x = 0;
    while (len < need) {
        if (pos + 2 > n) return -1;
        int cnt = buf[pos], b = buf[pos + 1];
        pos += 2;
        if (cnt) {   // encoded run
            if (x + cnt > W) cnt = W - x > 0 ? W - x : 0;
            for (int i = 0; i < cnt && len < need; i++)
                idx[len++] = (uint8_t)(rle4 ? ((i % 2) ? (b & 15) : (b >> 4)) : b);
            x += cnt;
        } else if (b == 0) {   // end of line
            while (len % (size_t)W && len < need) idx[len++] = 0;
            x = 0;
        } else if (b == 1) {   // end of bitmap
            break;
        } else if (b == 2) {   // delta
            if (pos + 2 > n) break;
            size_t skip = buf[pos] + (size_t)buf[pos + 1] * W;
            pos += 2;
            for (size_t i = 0; i < skip && len < need; i++) idx[len++] = 0;
            x = (int)(len % (size_t)W);
        } else {   // absolute run of b pixels
            size_t bytes = rle4 ? (size_t)b / 2 : (size_t)b;
            size_t avail = pos + bytes <= n ? bytes : n - pos;
            for (size_t i = 0; i < avail; i++) {
                uint8_t v = buf[pos + i];
                if (rle4) {
                    if (len < need) idx[len++] = v >> 4;
                    if (len < need) idx[len++] = v & 15;
                } else if (len < need) {
                    idx[len++] = v;
                }
            }
            pos += avail;
            if (avail < bytes) break;
            x += b;
            if (pos % 2) pos++;
        }
    }
    return len < need ? -1 : 0;
}

int bmp_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                   uint8_t **rgb, int *H, int *W) {
    if (n < 26)
        return t2i_error(T2I_EFORMAT, "%s: bad BMP: file of %zu bytes is too short", name, n);
    uint32_t off = le32(buf + 10), hs = le32(buf + 14);
    long long w, h;
    int bits, comp = BMP_RGB, pal_entry = 4;
    uint32_t ncolors = 0, masks[4] = {0, 0, 0, 0};
    int rc = bmp_header_size_check(name, hs);
    if (rc) return rc;
    if (hs == 12) {   // OS/2 1.x core header
        w = le16(buf + 18);
        h = (int16_t)le16(buf + 20);
        bits = (int)le16(buf + 24);
        pal_entry = 3;
    } else if (n >= 14 + (size_t)hs) {
        w = (int32_t)le32(buf + 18);
        h = (int32_t)le32(buf + 22);
        bits = (int)le16(buf + 28);
        comp = (int)le32(buf + 30);
        ncolors = le32(buf + 46);
        if (comp == BMP_BITFIELDS) {
            if (hs >= 52) {
                for (int i = 0; i < 3; i++) masks[i] = le32(buf + 54 + 4 * i);
                masks[3] = hs >= 56 ? le32(buf + 66) : 0;
            } else {
                if (n < 14 + (size_t)hs + 12)
                    return t2i_error(T2I_EFORMAT, "%s: bad BMP: bitfield masks missing", name);
                for (int i = 0; i < 3; i++) masks[i] = le32(buf + 14 + hs + 4 * i);
            }
        }
    } else {
        return t2i_error(T2I_EFORMAT, "%s: bad BMP: header of %u bytes runs past the end of the "
                         "file (%zu bytes)", name, hs, n);
    }
    int topdown = h < 0;
    if (topdown) h = -h;
    if ((rc = image_limit_check(name, "BMP", w, h, max_pixels))) return rc;
    if (!(bits == 1 || bits == 4 || bits == 8 || bits == 16 || bits == 24 || bits == 32))
        return t2i_error(T2I_EFORMAT, "%s: unsupported BMP pixel depth %d", name, bits);
    if (comp == BMP_RLE8 ? bits != 8 : comp == BMP_RLE4 ? bits != 4
                                                        : comp != BMP_RGB && comp != BMP_BITFIELDS)
        return t2i_error(T2I_EFORMAT, "%s: unsupported BMP compression %d with %d bits", name, comp,
                         bits);
    // Palette (bits <= 8): after the header, 4 (or 3 for OS/2) bytes B, G, R per entry.
    uint8_t pal[256][3];
    memset(pal, 0, sizeof pal);
    if (bits <= 8) {
        uint32_t np = ncolors && ncolors <= (1u << bits) ? ncolors : 1u << bits;
        size_t ps = 14 + (size_t)hs + (comp == BMP_BITFIELDS && hs < 52 ? 12 : 0);
        for (uint32_t i = 0; i < np; i++) {
            size_t p = ps + (size_t)i * pal_entry;
            if (p + 3 > n || p + 3 > off) break;
            pal[i][0] = buf[p + 2];
            pal[i][1] = buf[p + 1];
            pal[i][2] = buf[p];
        }
    }
    // Channel byte positions for 24/32 bits; 16-bit layout.
    int cb[4] = {2, 1, 0, -1};   // R, G, B bytes of BGR(X)
    int is565 = 0;
    if (comp == BMP_BITFIELDS) {
        if (bits == 32 || bits == 24) {
            for (int c = 0; c < 3; c++) cb[c] = mask_byte(masks[c]);
            if (cb[0] < 0 || cb[1] < 0 || cb[2] < 0 ||
                (bits == 24 && (cb[0] > 2 || cb[1] > 2 || cb[2] > 2)))
                return t2i_error(T2I_EFORMAT, "%s: unsupported BMP bitfield masks %08x %08x %08x",
                                 name, masks[0], masks[1], masks[2]);
        } else if (bits == 16) {
            if (masks[0] == 0xF800 && masks[1] == 0x7E0 && masks[2] == 0x1F) is565 = 1;
            else if (!(masks[0] == 0x7C00 && masks[1] == 0x3E0 && masks[2] == 0x1F))
                return t2i_error(T2I_EFORMAT, "%s: unsupported BMP bitfield masks %08x %08x %08x",
                                 name, masks[0], masks[1], masks[2]);
        } else {
            return t2i_error(T2I_EFORMAT, "%s: bad BMP: bitfields with %d bits", name, bits);
        }
    }
    if (off >= n)
        return t2i_error(T2I_EFORMAT, "%s: bad BMP: pixel data offset %u beyond the file", name,
                         off);
    size_t Wz = (size_t)w, Hz = (size_t)h;
    uint8_t *out = t2i_malloc(Wz * Hz * 3);
    if (!out) return t2i_error(T2I_ENOMEM, "%s: out of memory for %lldx%lld", name, w, h);
    if (comp == BMP_RLE8 || comp == BMP_RLE4) {
        uint8_t *idx = t2i_malloc(Wz * Hz);
        if (!idx) {
            t2i_free(out);
            return t2i_error(T2I_ENOMEM, "%s: out of memory for %lldx%lld", name, w, h);
        }
        if (bmp_rle(buf, n, off, comp == BMP_RLE4, idx, (int)w, (int)h)) {
            t2i_free(idx);
            t2i_free(out);
            return t2i_error(T2I_EFORMAT, "%s: bad BMP: RLE data ends before the image is complete",
                             name);
        }
        for (size_t y = 0; y < Hz; y++) {
            const uint8_t *src = idx + y * Wz;
            uint8_t *dst = out + (topdown ? y : Hz - 1 - y) * Wz * 3;
            for (size_t x = 0; x < Wz; x++) memcpy(dst + 3 * x, pal[src[x]], 3);
        }
        t2i_free(idx);
    } else {
        size_t stride = ((Wz * (size_t)bits + 31) / 32) * 4;
        // PIL wants every row but the last to be complete; we want all rows.
        if ((n - off) / stride < Hz) {
            t2i_free(out);
            return t2i_error(T2I_EFORMAT, "%s: bad BMP: %zu bytes of pixel data, %zu needed", name,
                             n - off, stride * Hz);
        }
        for (size_t y = 0; y < Hz; y++) {
            const uint8_t *src = buf + off + y * stride;
            uint8_t *dst = out + (topdown ? y : Hz - 1 - y) * Wz * 3;
            for (size_t x = 0; x < Wz; x++) {
                uint8_t *o = dst + 3 * x;
                if (bits <= 8) {
                    size_t bit = x * (size_t)bits;
                    unsigned v = (src[bit / 8] >> (8 - bits - (bit % 8))) & ((1u << bits) - 1);
                    memcpy(o, pal[v], 3);
                } else if (bits == 16) {
                    unsigned p = le16(src + 2 * x);
                    if (is565) {
                        o[0] = (uint8_t)(((p >> 11) & 31) * 255 / 31);
                        o[1] = (uint8_t)(((p >> 5) & 63) * 255 / 63);
                    } else {
                        o[0] = (uint8_t)(((p >> 10) & 31) * 255 / 31);
                        o[1] = (uint8_t)(((p >> 5) & 31) * 255 / 31);
                    }
                    o[2] = (uint8_t)((p & 31) * 255 / 31);
                } else {
                    const uint8_t *px = src + x * (size_t)(bits / 8);
                    for (int c = 0; c < 3; c++) o[c] = px[cb[c]];
                }
            }
        }
    }
    *rgb = out;
    *H = (int)h;
    *W = (int)w;
    return T2I_OK;
}

// ---- PNM (PBM/PGM/PPM) ---------------------------------------------------------------------

static int pnm_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Next header integer; skips whitespace and # comments. -1 on a malformed header.
static long long pnm_int(const uint8_t *b, size_t n, size_t *pos) {
    size_t p = *pos;
    for (;;) {
        while (p < n && pnm_space(b[p])) p++;
        if (p < n && b[p] == '#') {
            while (p < n && b[p] != '\n' && b[p] != '\r') p++;
            continue;
        }
        break;
    }
    if (p >= n || b[p] < '0' || b[p] > '9') return -1;
    long long v = 0;
    while (p < n && b[p] >= '0' && b[p] <= '9') {
        v = v * 10 + (b[p] - '0');
        if (v > 1000000000LL) return -1;
        p++;
    }
    *pos = p;
    return v;
}

// PIL's scaling: min(255, round(v / maxval * 255)) with round half to even.
static uint8_t pnm_scale(unsigned v, unsigned maxval) {
    if (maxval == 255) return (uint8_t)v;
    double r = nearbyint((double)v / (double)maxval * 255.0);
    return (uint8_t)(r > 255 ? 255 : r);
}

int pnm_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                   uint8_t **rgb, int *H, int *W, unsigned *warn) {
    int kind = buf[1] - '0';   // 1..6 (image_sniff checked it)
    int plain = kind <= 3, bilevel = kind == 1 || kind == 4;
    int ch = (kind == 3 || kind == 6) ? 3 : 1;
    size_t pos = 2;
    long long w = pnm_int(buf, n, &pos), h = w >= 0 ? pnm_int(buf, n, &pos) : -1;
    long long maxval = bilevel ? 1 : (h >= 0 ? pnm_int(buf, n, &pos) : -1);
    if (w < 0 || h < 0 || maxval < 0)
        return t2i_error(T2I_EFORMAT, "%s: bad P%d header (width, height%s expected)", name, kind,
                         bilevel ? "" : ", maxval");
    if (maxval < 1 || maxval > 65535)
        return t2i_error(T2I_EFORMAT, "%s: bad P%d: maxval %lld outside 1..65535", name, kind,
                         maxval);
    int rc = image_limit_check(name, kind == 1 || kind == 4 ? "PBM" : ch == 1 ? "PGM" : "PPM", w, h,
                               max_pixels);
    if (rc) return rc;
    if (pos >= n || !pnm_space(buf[pos]))
        return t2i_error(T2I_EFORMAT, "%s: bad P%d: no whitespace after the header", name, kind);
    pos++;   // exactly one whitespace byte before binary data
    if (ch == 1 && maxval > 255) *warn |= IMAGE_WARN_GRAY16;
    size_t Wz = (size_t)w, Hz = (size_t)h, npx = Wz * Hz;
    if (!plain) {
        size_t need = kind == 4 ? ((Wz + 7) / 8) * Hz : npx * ch * (maxval > 255 ? 2 : 1);
        if (n - pos < need)
            return t2i_error(T2I_EFORMAT, "%s: bad P%d: %zu bytes of pixel data, %zu needed", name,
                             kind, n - pos, need);
    }
    uint8_t *out = t2i_malloc(npx * 3);
    if (!out) return t2i_error(T2I_ENOMEM, "%s: out of memory for %lldx%lld", name, w, h);
    const uint8_t *d = buf + pos;
    for (size_t i = 0; i < npx; i++) {
        for (int c = 0; c < ch; c++) {
            unsigned v;
            if (kind == 4) {
                size_t y = i / Wz, x = i % Wz;
                v = (d[y * ((Wz + 7) / 8) + x / 8] >> (7 - x % 8)) & 1;
            } else if (kind == 1) {   // '0'/'1' characters, whitespace optional
                while (pos < n && (pnm_space(buf[pos]) || buf[pos] == '#')) {
                    if (buf[pos] == '#')
                        while (pos < n && buf[pos] != '\n') pos++;
                    else pos++;
                }
                if (pos >= n || (buf[pos] != '0' && buf[pos] != '1')) goto short_data;
                v = (unsigned)(buf[pos++] - '0');
            } else if (plain) {
                long long t = pnm_int(buf, n, &pos);
                if (t < 0) goto short_data;
                if (t > maxval) {
                    t2i_free(out);
                    return t2i_error(T2I_EFORMAT, "%s: bad P%d: value %lld above maxval %lld", name,
                                     kind, t, maxval);
                }
                v = (unsigned)t;
            } else if (maxval > 255) {
                const uint8_t *p = d + (i * ch + c) * 2;
                v = (unsigned)p[0] << 8 | p[1];
            } else {
                v = d[i * ch + c];
            }
            uint8_t u = bilevel ? (uint8_t)(v ? 0 : 255)
                                : pnm_scale(v > maxval ? (unsigned)maxval : v, (unsigned)maxval);
            if (ch == 1) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = u;
            else out[3 * i + c] = u;
        }
    }
    *rgb = out;
    *H = (int)h;
    *W = (int)w;
    return T2I_OK;
short_data:
    t2i_free(out);
    return t2i_error(T2I_EFORMAT, "%s: bad P%d: the pixel data ends early", name, kind);
}

// ---- TIFF ----------------------------------------------------------------------------------

typedef struct {
    const uint8_t *buf;
    size_t         n, pos;
    char           msg[256];
} TiffMem;

static tmsize_t tm_read(thandle_t h, void *out, tmsize_t len) {
    TiffMem *m = (TiffMem *)h;
    if (len < 0) return -1;
    size_t k = m->pos < m->n ? m->n - m->pos : 0;
    if ((size_t)len < k) k = (size_t)len;
    memcpy(out, m->buf + m->pos, k);
    m->pos += k;
    return (tmsize_t)k;
}
static tmsize_t tm_write(thandle_t h, void *p, tmsize_t len) {
    (void)h, (void)p, (void)len;
    return -1;
}
static toff_t tm_seek(thandle_t h, toff_t off, int whence) {
    TiffMem *m = (TiffMem *)h;
    uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->n;
    if (off > (toff_t)SIZE_MAX - base) return (toff_t)-1;
    m->pos = (size_t)(base + off);
    return m->pos;
}
static int tm_close(thandle_t h) { (void)h; return 0; }
static toff_t tm_size(thandle_t h) { return ((TiffMem *)h)->n; }
static int tm_map(thandle_t h, void **base, toff_t *size) {
    (void)h, (void)base, (void)size;
    return 0;
}
static void tm_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static int tm_error(TIFF *t, void *ud, const char *module, const char *fmt, va_list ap) {
    (void)t;
    TiffMem *m = ud;
    if (!m->msg[0]) {
        int k = snprintf(m->msg, sizeof m->msg, "%s: ", module ? module : "libtiff");
        if (k > 0 && (size_t)k < sizeof m->msg)
            vsnprintf(m->msg + k, sizeof m->msg - (size_t)k, fmt, ap);
    }
    return 1;
}
static int tm_warn(TIFF *t, void *ud, const char *module, const char *fmt, va_list ap) {
    (void)t, (void)ud, (void)module, (void)fmt, (void)ap;
    return 1;
}

// Scanline path for the layouts PIL reads with its own unpackers: contiguous 8/16-bit grey and
// RGB, with or without extra samples.
static int tiff_scanlines(TIFF *t, TiffMem *m, const char *name, uint32_t w, uint32_t h, int spp,
                          int bps, int photo, int assoc, uint8_t *out) {
    tmsize_t sl = TIFFScanlineSize(t);
    if (sl < (tmsize_t)((size_t)w * spp * (bps / 8)))
        return t2i_error(T2I_EFORMAT, "%s: bad TIFF: scanline of %lld bytes", name, (long long)sl);
    uint8_t *row = t2i_malloc((size_t)sl);
    if (!row) return t2i_error(T2I_ENOMEM, "%s: out of memory", name);
    for (uint32_t y = 0; y < h; y++) {
        if (TIFFReadScanline(t, row, y, 0) < 0) {
            t2i_free(row);
            return t2i_error(T2I_EFORMAT, "%s: bad TIFF: row %u: %s", name, y,
                             m->msg[0] ? m->msg : "read failed");
        }
        uint8_t *dst = out + (size_t)y * w * 3;
        for (uint32_t x = 0; x < w; x++) {
            unsigned s[4] = {0, 0, 0, 255};
            for (int c = 0; c < spp && c < 4; c++) {
                size_t i = (size_t)x * spp + c;
                s[c] = bps == 16 ? ((const uint16_t *)(const void *)row)[i] >> 8 : row[i];
            }
            uint8_t *o = dst + 3 * (size_t)x;
            if (photo == PHOTOMETRIC_RGB) {
                unsigned a = s[3];
                for (int c = 0; c < 3; c++) {
                    unsigned v = s[c];
                    if (assoc && spp >= 4) {   // PIL's RGBa unpacker divides the alpha out
                        v = a == 0 ? 0 : a == 255 ? v : v * 255 / a;
                        if (v > 255) v = 255;
                    }
                    o[c] = (uint8_t)v;
                }
            } else {
                unsigned g = photo == PHOTOMETRIC_MINISWHITE ? 255 - s[0] : s[0];
                o[0] = o[1] = o[2] = (uint8_t)g;
            }
        }
    }
    t2i_free(row);
    return T2I_OK;
}

int tiff_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                    uint8_t **rgb, int *H, int *W, unsigned *warn) {
    TiffMem m = {buf, n, 0, {0}};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return t2i_error(T2I_ENOMEM, "%s: libtiff: out of memory", name);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tm_error, &m);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tm_warn, &m);
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(max_pixels * 8 + (64 << 20)));
    TIFF *t = TIFFClientOpenExt(name, "rm", (thandle_t)&m, tm_read, tm_write, tm_seek, tm_close,
                                tm_size, tm_map, tm_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!t)
        return t2i_error(T2I_EFORMAT, "%s: bad TIFF: %s", name, m.msg[0] ? m.msg : "cannot open");
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, photo = PHOTOMETRIC_MINISBLACK, planar = PLANARCONFIG_CONTIG;
    uint16_t fmt = SAMPLEFORMAT_UINT, nextra = 0, *extra = NULL;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(t, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
    int has_photo = TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    int rc = image_limit_check(name, "TIFF", w, h, max_pixels);
    if (rc) {
        TIFFClose(t);
        return rc;
    }
    int gray = photo == PHOTOMETRIC_MINISBLACK || photo == PHOTOMETRIC_MINISWHITE;
    if (gray && bps == 16) *warn |= IMAGE_WARN_GRAY16;
    int assoc = nextra > 0 && extra && extra[0] == EXTRASAMPLE_ASSOCALPHA;
    uint8_t *out = t2i_malloc((size_t)w * h * 3);
    if (!out) {
        TIFFClose(t);
        return t2i_error(T2I_ENOMEM, "%s: out of memory for %ux%u", name, w, h);
    }
    int direct = has_photo && !TIFFIsTiled(t) && planar == PLANARCONFIG_CONTIG &&
                 fmt == SAMPLEFORMAT_UINT && (bps == 8 || bps == 16) &&
                 ((photo == PHOTOMETRIC_RGB && spp >= 3) || (gray && spp >= 1));
    if (direct) {
        rc = tiff_scanlines(t, &m, name, w, h, spp, bps, photo, assoc, out);
    } else {
        uint32_t *px = t2i_malloc((size_t)w * h * 4);
        char emsg[1024] = "";
        if (!px) rc = t2i_error(T2I_ENOMEM, "%s: out of memory for %ux%u", name, w, h);
        else if (!TIFFRGBAImageOK(t, emsg))
            rc = t2i_error(T2I_EFORMAT, "%s: unsupported TIFF: %s", name, emsg);
        else if (!TIFFReadRGBAImageOriented(t, w, h, px, ORIENTATION_TOPLEFT, 1))
            rc = t2i_error(T2I_EFORMAT, "%s: bad TIFF: %s", name, m.msg[0] ? m.msg : "read failed");
        else
            for (size_t i = 0; i < (size_t)w * h; i++) {
                out[3 * i] = (uint8_t)TIFFGetR(px[i]);
                out[3 * i + 1] = (uint8_t)TIFFGetG(px[i]);
                out[3 * i + 2] = (uint8_t)TIFFGetB(px[i]);
            }
        t2i_free(px);
    }
    TIFFClose(t);
    if (rc) {
        t2i_free(out);
        return rc;
    }
    *rgb = out;
    *H = (int)h;
    *W = (int)w;
    return T2I_OK;
}

// ---- WebP ----------------------------------------------------------------------------------

int webp_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                    uint8_t **rgb, int *H, int *W) {
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(buf, n, &f);
    if (st != VP8_STATUS_OK)
        return t2i_error(T2I_EFORMAT, "%s: bad WebP header (libwebp status %d)", name, (int)st);
    int rc = image_limit_check(name, "WebP", f.width, f.height, max_pixels);
    if (rc) return rc;
    if (f.has_animation)
        return t2i_error(T2I_EFORMAT, "%s: animated WebP is not supported", name);
    size_t npx = (size_t)f.width * f.height;
    uint8_t *rgba = t2i_malloc(npx * 4), *out = t2i_malloc(npx * 3);
    if (!rgba || !out) {
        t2i_free(rgba);
        t2i_free(out);
        return t2i_error(T2I_ENOMEM, "%s: out of memory for %dx%d", name, f.width, f.height);
    }
    // RGBA as PIL's WebPAnimDecoder (MODE_RGBA), then the alpha dropped as .convert('RGB').
    if (!WebPDecodeRGBAInto(buf, n, rgba, npx * 4, f.width * 4)) {
        t2i_free(rgba);
        t2i_free(out);
        return t2i_error(T2I_EFORMAT, "%s: bad WebP data", name);
    }
    for (size_t i = 0; i < npx; i++) memcpy(out + 3 * i, rgba + 4 * i, 3);
    t2i_free(rgba);
    *rgb = out;
    *H = f.height;
    *W = f.width;
    return T2I_OK;
}
