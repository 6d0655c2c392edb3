// test_bounds_image.c -- the image readers' checks (image_io.c, image_formats.c) exactly at the
// boundary, on both sides: header probes (PNG IHDR, JPEG SOFn and segment lengths, BMP header
// sizes, PNM/TIFF/WebP through their decoders), the decoders' own checks (BMP bit counts, masks,
// palettes, row strides and RLE data; PNM maxval, sizes and pixel data; PNG IHDR fields, bit
// depths, palettes and chunk CRCs as libpng enforces them) and the pixel limit: exactly at the
// limit accepted, one pixel more refused from the header (no pixel buffer allocated). Every input
// is decoded from its own exactly-sized allocation so that AddressSanitizer sees a read one past
// its end (tests/SANITIZE_TESTS); every refusal must name the input.
#include "image_io.h"
#include "t2i.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <jpeglib.h>   // after stdio.h

#include "bytes_test.h"

static void b_be(Buf *b, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) b_u8(b, (uint8_t)(v >> (8 * i)));
}

// Decodes the first n bytes of b from an exact copy with pixel limit `limit` (0: default).
// Returns rc; on success *H, *W and the first pixel in px0 (when given).
static int dec(const uint8_t *b, size_t n, long long limit, int *H, int *W, uint8_t px0[3]) {
    uint8_t      *c = bytes_dup(b, n), *rgb = NULL;
    int           h = 0, w = 0;
    ImageReadOpts o = {.max_pixels = limit};
    int           rc = image_decode_rgb(c, n, "img.x", &o, &rgb, &h, &w, NULL);
    free(c);
    if (!rc) {
        if (H) *H = h;
        if (W) *W = w;
        if (px0) memcpy(px0, rgb, 3);
        t2i_free(rgb);
    }
    return rc;
}

// Decodes b[0, n) from an allocation that holds `extra` more bytes (b[n, n + extra)): a reader
// that looks one byte past its input sees those bytes (chosen to make it accept) even without
// ASan.
static int dec_hidden(const uint8_t *b, size_t n, size_t extra) {
    uint8_t *c = bytes_dup(b, n + extra), *rgb = NULL;
    int      h, w;
    int      rc = image_decode_rgb(c, n, "img.x", NULL, &rgb, &h, &w, NULL);
    free(c);
    t2i_free(rgb);
    return rc;
}

static int probe(const uint8_t *b, size_t n, long long *w, long long *h) {
    uint8_t    *c = bytes_dup(b, n);
    ImageFormat f;
    int         rc = image_probe(c, n, "img.x", &f, w, h);
    free(c);
    return rc;
}

// The limit decided from the header: w*h accepted; w*h - 1 refused with T2I_ENOMEM and the
// limit message before any t2i allocation (every one fails from the start).
static void limit_both_sides(const char *what, const uint8_t *b, size_t n, int w, int h) {
    int H = 0, W = 0;
    int rc = dec(b, n, (long long)w * h, &H, &W, NULL);
    CHECKF(rc == T2I_OK && H == h && W == w, "%s at the limit: rc %d %s", what, rc,
           rc ? t2i_errmsg() : "");
    uint8_t *c = bytes_dup(b, n), *rgb = NULL;
    ImageReadOpts o = {.max_pixels = (long long)w * h - 1};
    t2i_alloc_fail_after(0);
    rc = image_decode_rgb(c, n, "img.x", &o, &rgb, &H, &W, NULL);
    t2i_alloc_fail_after(-1);
    free(c);
    CHECKF(rc == T2I_ENOMEM && msg_has("img.x: ") && msg_has("above the limit") && rgb == NULL,
           "%s one pixel over: rc %d %s", what, rc, t2i_errmsg());
    long long pw = 0, ph = 0;
    rc = probe(b, n, &pw, &ph);
    CHECKF(rc == T2I_OK && pw == w && ph == h, "%s probe: rc %d %lldx%lld %s", what, rc, pw, ph,
           rc ? t2i_errmsg() : "");
}

// Every proper prefix of an image (each in its own allocation) is refused naming the input.
static void prefixes_refused(const char *what, const uint8_t *b, size_t n, size_t from) {
    int bad = 0;
    for (size_t k = from; k < n; k++) {
        int rc = dec(b, k, 0, NULL, NULL, NULL);
        if (rc == T2I_OK || !msg_has("img.x")) {
            if (!bad) fprintf(stderr, "  %s cut to %zu of %zu bytes: rc %d %s\n", what, k, n, rc,
                              rc ? t2i_errmsg() : "");
            bad++;
        }
    }
    CHECKF(bad == 0, "%s: %d prefixes accepted or unnamed", what, bad);
}

// ---- limits -------------------------------------------------------------------------------------

TEST(limit_check_edges) {
    CHECK(image_limit_check("f", "PNG", 1, 1, 1) == T2I_OK);
    CHECK(image_limit_check("f", "PNG", 0, 1, 0) == T2I_EFORMAT && msg_has("f: bad PNG: image "
                                                                           "size 0x1"));
    CHECK(image_limit_check("f", "PNG", 1, 0, 0) == T2I_EFORMAT && msg_has("size 1x0"));
    CHECK(image_limit_check("f", "BMP", IMAGE_MAX_SIDE, 1, 0) == T2I_OK);
    CHECK(image_limit_check("f", "BMP", IMAGE_MAX_SIDE + 1, 1, 0) == T2I_ENOMEM &&
          msg_has("f: BMP of 65537x1 pixels: a side above 65536"));
    CHECK(image_limit_check("f", "BMP", 1, IMAGE_MAX_SIDE + 1, 0) == T2I_ENOMEM &&
          msg_has("a side above"));
    CHECK(image_limit_check("f", "PPM", 100, 50, 5000) == T2I_OK);
    CHECK(image_limit_check("f", "PPM", 100, 50, 4999) == T2I_ENOMEM &&
          msg_has("f: PPM of 100x50 = 0.0 megapixels is above the limit"));
    // limit 0 is the default (100 megapixels): 10000x10000 accepted, 10000x10001 refused
    CHECK(image_limit_check("f", "PNG", 10000, 10000, 0) == T2I_OK);
    CHECK(image_limit_check("f", "PNG", 10000, 10001, 0) == T2I_ENOMEM && msg_has("megapixels"));
    // the writer's side bounds
    char dir[] = "/tmp/t2i_bimg_XXXXXX", p[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(p, sizeof p, "%s/w.png", dir);
    uint8_t *row = calloc((size_t)IMAGE_MAX_SIDE + 1, 3);
    CHECK(png_write_rgb(p, row, 1, IMAGE_MAX_SIDE) == T2I_OK);
    CHECK(png_write_rgb(p, row, 1, IMAGE_MAX_SIDE + 1) == T2I_EARG && msg_has("w.png: bad image "
                                                                              "size 65537x1"));
    CHECK(png_write_rgb(p, row, 0, 1) == T2I_EARG && msg_has("size 1x0"));
    // the written 65536-wide image reads back at the side limit
    uint8_t *px = NULL;
    int      H, W;
    CHECK(image_read_rgb_opts(p, NULL, &px, &H, &W, NULL) == T2I_OK && W == IMAGE_MAX_SIDE);
    t2i_free(px);
    free(row);
    unlink(p);
    rmdir(dir);
}

// ---- PNG ----------------------------------------------------------------------------------------

static void png_chunk(Buf *b, const char *type, const uint8_t *d, size_t n) {
    b_be(b, n, 4);
    size_t at = b->n;
    b_put(b, type, 4);
    b_put(b, d, n);
    b_be(b, crc32(0, b->p + at, (uInt)(n + 4)), 4);
}

// A PNG of w x h, colour type ct, bit depth bd; every row filter 0 with bytes `fill`; optional
// PLTE (np entries) and tRNS (nt entries).
static Buf png_make(uint32_t w, uint32_t h, int ct, int bd, uint8_t fill, int np, int nt) {
    Buf b = {0};
    b_put(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13];
    for (int i = 0; i < 4; i++) ihdr[i] = (uint8_t)(w >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) ihdr[4 + i] = (uint8_t)(h >> (24 - 8 * i));
    ihdr[8] = (uint8_t)bd, ihdr[9] = (uint8_t)ct, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    png_chunk(&b, "IHDR", ihdr, 13);
    if (np) {
        uint8_t pal[3 * 300];
        for (int i = 0; i < 3 * np; i++) pal[i] = (uint8_t)(10 + i);
        png_chunk(&b, "PLTE", pal, (size_t)(3 * np));
    }
    if (nt) {
        uint8_t tr[300];
        memset(tr, 128, sizeof tr);
        png_chunk(&b, "tRNS", tr, (size_t)nt);
    }
    int    ch = ct == 0 || ct == 3 ? 1 : ct == 4 ? 2 : ct == 2 ? 3 : 4;
    size_t rowb = ((size_t)w * ch * bd + 7) / 8 + 1, raw = rowb * h;
    uint8_t *r = malloc(raw);
    memset(r, fill, raw);
    for (uint32_t y = 0; y < h; y++) r[y * rowb] = 0;
    uLongf zn = compressBound(raw);
    uint8_t *z = malloc(zn);
    compress(z, &zn, r, raw);
    png_chunk(&b, "IDAT", z, zn);
    png_chunk(&b, "IEND", NULL, 0);
    free(r), free(z);
    return b;
}

TEST(png_ihdr_and_bit_depths) {
    // Every valid (colour type, depth) pair is read; the depths the type does not allow are not.
    static const int valid[7][6] = {{1, 2, 4, 8, 16, 0}, {0}, {8, 16, 0}, {1, 2, 4, 8, 0},
                                    {8, 16, 0},          {0}, {8, 16, 0}};
    for (int ct = 0; ct <= 7; ct++)
        for (int bd = 1; bd <= 16; bd++) {
            int ok = 0;
            for (int i = 0; ct < 7 && valid[ct][i]; i++) ok |= valid[ct][i] == bd;
            Buf b = png_make(3, 2, ct, bd, 0x55, ct == 3 ? 2 : 0, 0);
            int rc = dec(b.p, b.n, 0, NULL, NULL, NULL);
            CHECKF(ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has("img.x: bad PNG: "),
                   "colour type %d depth %d: rc %d %s", ct, bd, rc, rc ? t2i_errmsg() : "");
            free(b.p);
        }
    // Sizes: width 0 refused; the IHDR CRC checked (one bit off refused).
    Buf b = png_make(3, 2, 2, 8, 0, 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    b.p[29] ^= 1;   // IHDR CRC
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad PNG: IHDR"));
    b.p[29] ^= 1;
    b.p[33 + 3] ^= 1;   // IDAT length one off: the chunk runs into the next
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad PNG"));
    free(b.p);
    // IHDR's method bytes: compression 0, filter 0, interlace 0 or 1; one more of each refused
    // (the CRC recomputed so that only the field is wrong).
    for (int k = 0; k < 3; k++) {
        b = png_make(3, 2, 2, 8, 0, 0, 0);
        b.p[26 + k] = (uint8_t)(k == 2 ? 2 : 1);
        uint32_t c = (uint32_t)crc32(0, b.p + 12, 17);
        for (int i = 0; i < 4; i++) b.p[29 + i] = (uint8_t)(c >> (24 - 8 * i));
        CHECKF(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad PNG"),
               "IHDR byte %d: %s", 26 + k, t2i_errmsg());
        free(b.p);
    }
    b = png_make(0, 2, 2, 8, 0, 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad PNG"));
    free(b.p);
    // libpng's side limit (set to IMAGE_MAX_SIDE): 65536 wide read, 65537 refused.
    b = png_make(IMAGE_MAX_SIDE, 1, 0, 1, 0, 0, 0);
    int H, W;
    CHECKF(dec(b.p, b.n, 0, &H, &W, NULL) == T2I_OK && W == IMAGE_MAX_SIDE, "%s", t2i_errmsg());
    free(b.p);
    b = png_make(IMAGE_MAX_SIDE + 1, 1, 0, 1, 0, 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) != T2I_OK && msg_has("img.x"));
    free(b.p);
    // The probe: IHDR's width and height end at byte 24: 24 bytes give the size, 23 do not; a
    // first chunk other than IHDR gives none.
    b = png_make(5, 3, 2, 8, 7, 0, 0);
    long long pw, ph;
    CHECK(probe(b.p, 24, &pw, &ph) == T2I_OK && pw == 5 && ph == 3);
    CHECK(probe(b.p, 23, &pw, &ph) == T2I_EFORMAT &&
          msg_has("img.x: PNG: cannot read the image size"));
    b.p[12] = 'X';
    CHECK(probe(b.p, b.n, &pw, &ph) == T2I_EFORMAT && msg_has("img.x: PNG: cannot read"));
    free(b.p);
    // Every prefix of a small PNG is refused (the reader's end-of-data check).
    b = png_make(5, 3, 2, 8, 7, 0, 0);
    prefixes_refused("PNG", b.p, b.n, 1);
    limit_both_sides("PNG", b.p, b.n, 5, 3);
    free(b.p);
}

TEST(png_palette_and_trns) {
    uint8_t px[3];
    // 2 entries, 8-bit indices 0x01: the second entry (13, 14, 15).
    Buf b = png_make(2, 2, 3, 8, 1, 2, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 13 && px[1] == 14 && px[2] == 15);
    free(b.p);
    // an index past the palette (2 of 2 entries) reads black, never outside the palette
    b = png_make(2, 2, 3, 8, 2, 2, 0);
    int rc = dec(b.p, b.n, 0, NULL, NULL, px);
    CHECKF(rc == T2I_OK ? px[0] == 0 && px[1] == 0 && px[2] == 0 : msg_has("img.x"), "rc %d", rc);
    free(b.p);
    // 256 entries accepted, 257 refused; none refused (a palette image needs PLTE)
    b = png_make(2, 2, 3, 8, 255, 256, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    free(b.p);
    b = png_make(2, 2, 3, 8, 1, 257, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad PNG: PLTE"));
    free(b.p);
    b = png_make(2, 2, 3, 8, 1, 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad PNG"));
    free(b.p);
    // tRNS with as many entries as the palette: alpha dropped, colours kept; one more entry is
    // ignored by libpng (a benign error) and the colours are still read
    for (int nt = 2; nt <= 3; nt++) {
        b = png_make(2, 2, 3, 8, 1, 2, nt);
        rc = dec(b.p, b.n, 0, NULL, NULL, px);
        CHECKF(rc == T2I_OK && px[0] == 13 && px[2] == 15, "tRNS %d: rc %d %s", nt, rc,
               rc ? t2i_errmsg() : "");
        free(b.p);
    }
}

// ---- JPEG ---------------------------------------------------------------------------------------

// SOI, optional segment `m` of length field `len` (len - 2 payload bytes), SOFn (C0 default).
static Buf jpeg_head(uint8_t seg, unsigned len, uint8_t sof, uint16_t w, uint16_t h) {
    Buf b = {0};
    b_u8(&b, 0xFF), b_u8(&b, 0xD8);
    if (seg) {
        b_u8(&b, 0xFF), b_u8(&b, seg), b_be(&b, len, 2);
        for (unsigned i = 2; i < len; i++) b_u8(&b, (uint8_t)(i & 1 ? 0xFF : 0x12));
    }
    b_u8(&b, 0xFF), b_u8(&b, sof), b_be(&b, 11, 2), b_u8(&b, 8), b_be(&b, h, 2), b_be(&b, w, 2);
    b_u8(&b, 1), b_u8(&b, 1), b_u8(&b, 0x11), b_u8(&b, 0);
    return b;
}

TEST(jpeg_probe_markers) {
    long long w, h;
    // The frame header needs 9 bytes from its marker: exactly 9 read, 8 not.
    Buf b = jpeg_head(0, 0, 0xC0, 300, 200);
    CHECK(probe(b.p, 2 + 9, &w, &h) == T2I_OK && w == 300 && h == 200);
    CHECK(probe(b.p, 2 + 8, &w, &h) == T2I_EFORMAT &&
          msg_has("img.x: JPEG: cannot read the image size"));
    free(b.p);
    // Every SOFn gives the size; C4 (DHT), C8 (JPG) and CC (DAC) are segments to skip.
    for (int m = 0xC0; m <= 0xCF; m++) {
        b = jpeg_head(0, 0, (uint8_t)m, 300, 200);
        int rc = probe(b.p, b.n, &w, &h), sof = m != 0xC4 && m != 0xC8 && m != 0xCC;
        CHECKF(sof ? rc == T2I_OK && w == 300 && h == 200 : rc == T2I_EFORMAT,
               "marker %02x: rc %d", m, rc);
        free(b.p);
    }
    // A DHT segment before the frame header is skipped by its length (its bytes are not a size).
    b = jpeg_head(0xC4, 11, 0xC2, 64, 32);
    CHECK(probe(b.p, b.n, &w, &h) == T2I_OK && w == 64 && h == 32);
    // Segment lengths: one more than the segment holds lands inside the next marker: refused;
    // one fewer: refused; 2 (empty payload) accepted; 1 and 0 refused.
    b.p[5] = 12;
    CHECK(probe(b.p, b.n, &w, &h) == T2I_EFORMAT && msg_has("cannot read the image size"));
    b.p[5] = 10;
    CHECK(probe(b.p, b.n, &w, &h) == T2I_EFORMAT);
    free(b.p);
    for (unsigned len = 0; len <= 2; len++) {
        b = jpeg_head(0xE0, 2, 0xC0, 7, 5);
        b.p[5] = (uint8_t)len;
        int rc = probe(b.p, b.n, &w, &h);
        CHECKF(len == 2 ? rc == T2I_OK && w == 7 && h == 5 : rc == T2I_EFORMAT,
               "length %u: rc %d", len, rc);
        free(b.p);
    }
    // The frame header's own length field: 2 (no payload) still gives the size, 1 and 0 do not.
    for (unsigned len = 0; len <= 2; len++) {
        b = jpeg_head(0, 0, 0xC0, 7, 5);
        b.p[4] = 0, b.p[5] = (uint8_t)len;
        int rc = probe(b.p, b.n, &w, &h);
        CHECKF(len == 2 ? rc == T2I_OK && w == 7 : rc == T2I_EFORMAT && msg_has("img.x: JPEG"),
               "SOF length %u: rc %d", len, rc);
        free(b.p);
    }
    // Fill bytes and standalone markers (RSTn, TEM) pass; a scan or EOI before any frame does not.
    static const uint8_t fill[] = {0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xD0, 0xFF, 0x01, 0xFF,
                                   0xC0, 0,    11,   8,    0,    5,    0,    7};
    CHECK(probe(fill, sizeof fill, &w, &h) == T2I_OK && w == 7 && h == 5);
    static const uint8_t sos[] = {0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0xFF, 0xC0, 0, 11, 8, 0, 5, 0, 7};
    CHECK(probe(sos, sizeof sos, &w, &h) == T2I_EFORMAT);
    static const uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 2, 0x00, 0xC0, 0, 11, 8, 0, 5, 0, 7};
    CHECK(probe(junk, sizeof junk, &w, &h) == T2I_EFORMAT);
}

// A real JPEG of w x h written by libjpeg (grey, quality 90).
static Buf jpeg_real(int w, int h) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr       err;
    unsigned char              *out = NULL;
    unsigned long               len = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &len);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = 1, c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[64];
    for (int x = 0; x < w; x++) row[x] = (uint8_t)(x * 9);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    Buf b = {0};
    b_put(&b, out, len);
    free(out);
    return b;
}

TEST(jpeg_decoder_checks) {
    Buf b = jpeg_real(13, 7);
    limit_both_sides("JPEG", b.p, b.n, 13, 7);
    prefixes_refused("JPEG", b.p, b.n, 3);
    // A segment length one past its segment (the DQT after APP0): libjpeg's own check.
    size_t p = 2;
    while (p + 4 < b.n && b.p[p + 1] != 0xDB) p += 2 + ((size_t)b.p[p + 2] << 8 | b.p[p + 3]);
    CHECK(p + 4 < b.n);
    b.p[p + 3]++;
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad JPEG"));
    free(b.p);
    // The frame header found after 64 KiB of metadata (image_check_file reads the whole file
    // when the first 64 KiB hold no size), on both sides of the 64 KiB boundary.
    char dir[] = "/tmp/t2i_bimg_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/big.jpg", dir);
    for (int past = 0; past <= 1; past++) {
        Buf j = {0};
        b_u8(&j, 0xFF), b_u8(&j, 0xD8);
        // APP1 segments of 65535 + 2 bytes, the last one sized so that the SOF header's 9
        // bytes end exactly at byte 65536 (past = 0) or one byte later (past = 1)
        size_t want_sof = 65536 - 9 + (size_t)past, seg = want_sof - 10;
        b_u8(&j, 0xFF), b_u8(&j, 0xE1), b_be(&j, seg + 2, 2);
        for (size_t i = 0; i < seg; i++) b_u8(&j, 0);
        b_u8(&j, 0xFF), b_u8(&j, 0xE1), b_be(&j, 2, 2);
        CHECK(j.n == want_sof);
        b_u8(&j, 0xFF), b_u8(&j, 0xC0), b_be(&j, 11, 2), b_u8(&j, 8), b_be(&j, 40, 2),
            b_be(&j, 50, 2);
        b_u8(&j, 1), b_u8(&j, 1), b_u8(&j, 0x11), b_u8(&j, 0);
        FILE *f = fopen(path, "wb");
        fwrite(j.p, 1, j.n, f);
        fclose(f);
        ImageReadOpts at = {.max_pixels = 2000}, under = {.max_pixels = 1999};
        CHECKF(image_check_file(path, &at) == T2I_OK, "past %d: %s", past, t2i_errmsg());
        CHECKF(image_check_file(path, &under) == T2I_ENOMEM && msg_has("big.jpg: JPEG of 50x40"),
               "past %d: %s", past, t2i_errmsg());
        free(j.p);
    }
    unlink(path);
    rmdir(dir);
}

// ---- BMP ----------------------------------------------------------------------------------------

// A BMP: header size hs (12, or 40 and more), w x h (h < 0: top-down), `bits`, compression, ncolors
// palette entries written (4 bytes each, 3 for OS/2), pixel data `data` of n bytes at offset
// `off` (0: right after the palette).
static Buf bmp_make(uint32_t hs, int32_t w, int32_t h, int bits, int comp, int npal,
                    const uint8_t *data, size_t n, uint32_t off) {
    Buf b = {0};
    int pe = hs == 12 ? 3 : 4;
    uint32_t start = 14 + hs + (uint32_t)(npal * pe);
    if (!off) off = start;
    b_s(&b, "BM");
    b_le(&b, off + n, 4);
    b_le(&b, 0, 4);
    b_le(&b, off, 4);
    b_le(&b, hs, 4);
    if (hs == 12) {
        b_le(&b, (uint32_t)w, 2), b_le(&b, (uint32_t)h, 2), b_le(&b, 1, 2), b_le(&b, (uint32_t)bits, 2);
    } else {
        b_le(&b, (uint32_t)w, 4), b_le(&b, (uint32_t)h, 4), b_le(&b, 1, 2), b_le(&b, (uint32_t)bits, 2);
        b_le(&b, (uint32_t)comp, 4);
        b_le(&b, n, 4), b_le(&b, 2835, 4), b_le(&b, 2835, 4), b_le(&b, (uint32_t)npal, 4),
            b_le(&b, 0, 4);
        while (b.n < 14 + hs) b_u8(&b, 0);
    }
    for (int i = 0; i < npal; i++) {
        b_u8(&b, (uint8_t)(30 + i)), b_u8(&b, (uint8_t)(20 + i)), b_u8(&b, (uint8_t)(10 + i));
        if (pe == 4) b_u8(&b, 0);
    }
    while (b.n < off) b_u8(&b, 0);
    b_put(&b, data, n);
    return b;
}

TEST(bmp_headers) {
    uint8_t d[64];
    memset(d, 0x40, sizeof d);
    long long w, h;
    int       H, W;
    // 24-bit 1x2: stride 4, 8 bytes.
    Buf b = bmp_make(40, 1, 2, 24, 0, 0, d, 8, 0);
    CHECKF(dec(b.p, b.n, 0, &H, &W, NULL) == T2I_OK && H == 2 && W == 1, "%s", t2i_errmsg());
    limit_both_sides("BMP", b.p, b.n, 1, 2);
    CHECK(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad BMP: 7 bytes of pixel data, 8 needed"));
    prefixes_refused("BMP", b.p, b.n, 2);
    free(b.p);
    // File size: 26 bytes pass the first check (then the header size check), 25 do not.
    b = bmp_make(40, 1, 1, 24, 0, 0, d, 4, 0);
    CHECK(dec(b.p, 25, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad BMP: file of 25 bytes is too short"));
    CHECK(dec(b.p, 26, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("header of 40 bytes"));
    // The info header must be in the file: 14 + 40 bytes (then no pixel data), 53 refused.
    CHECK(dec(b.p, 54, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("pixel data offset 54"));
    CHECK(dec(b.p, 53, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad BMP: header of 40 bytes runs past the end of the file"));
    // The probe: 26 bytes give the size, 25 do not.
    CHECK(probe(b.p, 26, &w, &h) == T2I_OK && w == 1 && h == 1);
    CHECK(probe(b.p, 25, &w, &h) == T2I_EFORMAT && msg_has("img.x: BMP: cannot read"));
    free(b.p);
    // Header sizes: the seven known ones accepted (12 OS/2 1.x, 40, 52 and 56 Adobe, 64 OS/2
    // 2.x, 108 V4, 124 V5); any other refused by the decoder and by the probe alike, with the
    // file, the field and the value named.
    static const struct { uint32_t hs; int ok; } hs[] = {
        {12, 1},  {11, 0},  {13, 0},  {16, 0},  {39, 0},  {40, 1},  {41, 0},  {51, 0},
        {52, 1},  {56, 1},  {64, 1},  {100, 0}, {108, 1}, {123, 0}, {124, 1}, {125, 0}, {240, 0}};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        b = bmp_make(hs[i].hs == 12 ? 12 : 40, 1, 1, 24, 0, 0, d, 4, 0);
        if (hs[i].hs != 12) {   // rewrite the size field and pad the header to it
            Buf c = {0};
            b_put(&c, b.p, 14);
            b_put(&c, b.p + 14, 40);
            c.p[14] = (uint8_t)hs[i].hs;
            while (c.n < 14 + hs[i].hs) b_u8(&c, 0);
            b_put(&c, d, 4);
            c.p[10] = (uint8_t)(14 + hs[i].hs);
            free(b.p);
            b = c;
        }
        char want[120];
        snprintf(want, sizeof want, "img.x: bad BMP: unsupported header size %u (the header size "
                                    "field at byte 14;", hs[i].hs);
        int rc = dec(b.p, b.n, 0, NULL, NULL, NULL);
        CHECKF(hs[i].ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has(want),
               "header size %u: rc %d %s", hs[i].hs, rc, rc ? t2i_errmsg() : "");
        rc = probe(b.p, b.n, &w, &h);
        CHECKF(hs[i].ok ? rc == T2I_OK && w == 1 && h == 1 : rc == T2I_EFORMAT && msg_has(want),
               "probe hs %u: rc %d %s", hs[i].hs, rc, rc ? t2i_errmsg() : "");
        free(b.p);
    }
    // A header size far beyond the file: refused for its value, not read past the end.
    b = bmp_make(40, 1, 1, 24, 0, 0, d, 4, 0);
    b.p[17] = 0x80;   // 0x80000028
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("unsupported header size 2147483688"));
    CHECK(probe(b.p, b.n, &w, &h) == T2I_EFORMAT && msg_has("unsupported header size 2147483688"));
    free(b.p);
    // Sizes: top-down (negative height) read; width 0 and negative refused.
    b = bmp_make(40, 1, -2, 24, 0, 0, d, 8, 0);
    CHECK(dec(b.p, b.n, 0, &H, &W, NULL) == T2I_OK && H == 2);
    CHECK(probe(b.p, b.n, &w, &h) == T2I_OK && h == 2);
    free(b.p);
    b = bmp_make(40, -1, 2, 24, 0, 0, d, 8, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad BMP: image size"));
    free(b.p);
    b = bmp_make(40, 1, INT32_MIN, 24, 0, 0, d, 8, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_ENOMEM && msg_has("a side above"));
    free(b.p);
    // Pixel data offset: the last byte accepted, one past refused.
    b = bmp_make(40, 1, 1, 8, 0, 0, d, 4, 0);
    uint32_t off = 54;
    b.p[10] = (uint8_t)(off + 3);   // data = the last byte only: too little, but inside
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("1 bytes of pixel data"));
    b.p[10] = (uint8_t)(off + 4);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad BMP: pixel data offset 58 beyond the file"));
    free(b.p);
}

TEST(bmp_bits_and_masks) {
    uint8_t d[64];
    memset(d, 0, sizeof d);
    // Bit counts: 1, 4, 8, 16, 24, 32 read; the others refused.
    for (int bits = 0; bits <= 33; bits++) {
        int ok = bits == 1 || bits == 4 || bits == 8 || bits == 16 || bits == 24 || bits == 32;
        Buf b = bmp_make(40, 2, 2, bits, 0, bits <= 8 ? 2 : 0, d, 16, 0);
        int rc = dec(b.p, b.n, 0, NULL, NULL, NULL);
        CHECKF(ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has("img.x: unsupported BMP pixel "
                                                                "depth"),
               "bits %d: rc %d %s", bits, rc, rc ? t2i_errmsg() : "");
        free(b.p);
    }
    // Compression vs bits: RLE8 only with 8, RLE4 only with 4, bitfields not with <= 8, 4+ never.
    static const struct { int comp, bits, ok; const char *msg; } cb[] = {
        {1, 8, 1, NULL},  {1, 4, 0, "compression 1 with 4 bits"}, {2, 4, 1, NULL},
        {2, 8, 0, "compression 2 with 8 bits"}, {3, 8, 0, "bitfields with 8 bits"},
        {4, 24, 0, "compression 4"}};
    for (size_t i = 0; i < sizeof cb / sizeof cb[0]; i++) {
        uint8_t rle[] = {2, 1, 0, 0, 2, 1, 0, 1};
        Buf     b = bmp_make(40, 2, 2, cb[i].bits, cb[i].comp, cb[i].bits <= 8 ? 2 : 0, rle,
                             sizeof rle, 0);
        int rc = dec(b.p, b.n, 0, NULL, NULL, NULL);
        CHECKF(cb[i].ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has("img.x: ") && msg_has(cb[i].msg),
               "comp %d bits %d: rc %d %s", cb[i].comp, cb[i].bits, rc, rc ? t2i_errmsg() : "");
        free(b.p);
    }
    // Bitfield masks after a 40-byte header: 12 bytes present accepted, 11 refused.
    Buf b = bmp_make(40, 1, 1, 16, 3, 0, d, 0, 0);
    Buf c = {0};
    b_put(&c, b.p, 54);
    b_le(&c, 0xF800, 4), b_le(&c, 0x7E0, 4), b_le(&c, 0x1F, 4);
    c.p[10] = 66;
    b_le(&c, 0xFFFF, 4);   // one white 5-6-5 pixel and padding
    uint8_t px[3];
    CHECKF(dec(c.p, c.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 255 && px[1] == 255, "%s",
           t2i_errmsg());
    CHECK(dec(c.p, 65, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad BMP: bitfield masks missing"));
    CHECK(dec(c.p, 66, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("pixel data offset 66"));
    // 16-bit masks other than 5-6-5 and 5-5-5 refused
    c.p[54] = 0x01;
    CHECK(dec(c.p, c.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: unsupported BMP bitfield masks 0000f801"));
    free(b.p), free(c.p);
    // 32/24-bit masks: whole bytes only; 24-bit masks within the 3 bytes.
    for (int k = 0; k < 4; k++) {
        uint32_t m0 = k == 0 ? 0xFF0000u : k == 1 ? 0xFF000000u : k == 2 ? 0xFF00000u : 0xFF0000u;
        int      bits = k == 3 ? 24 : 32, ok = k == 0 || (k == 1 && bits == 32);
        b = bmp_make(56, 1, 1, bits, 3, 0, d, 4, 0);
        for (int i = 0; i < 4; i++) b.p[54 + i] = (uint8_t)(m0 >> (8 * i));
        uint32_t m1 = 0xFF00, m2 = 0xFF;
        for (int i = 0; i < 4; i++)
            b.p[58 + i] = (uint8_t)(m1 >> (8 * i)), b.p[62 + i] = (uint8_t)(m2 >> (8 * i));
        if (k == 3) {   // 24 bits: R mask in byte 3 is outside a 3-byte pixel
            uint32_t mr = 0xFF000000u;
            for (int i = 0; i < 4; i++) b.p[54 + i] = (uint8_t)(mr >> (8 * i));
        }
        int rc = dec(b.p, b.n, 0, NULL, NULL, NULL);
        CHECKF(ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has("unsupported BMP bitfield masks"),
               "mask case %d: rc %d %s", k, rc, rc ? t2i_errmsg() : "");
        free(b.p);
    }
}

TEST(bmp_palette_and_rle) {
    // 1-bit, 2 palette entries, pixel index 1: the entry's colour when it ends at the pixel data
    // offset, black when the offset cuts it (entries past the offset are not palette).
    uint8_t one[4] = {0x80, 0, 0, 0}, px[3];
    Buf     b = bmp_make(40, 1, 1, 1, 0, 2, one, 4, 0);   // entries at 54 and 58, data at 62
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 11 && px[1] == 21 &&
          px[2] == 31);
    b.p[62] = 0x00;   // index 0: the first entry
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 10 && px[2] == 30);
    // entry 1's B, G, R (58..60) ending exactly at the pixel data offset 61: read
    b.p[10] = 61, b.p[61] = 0x80;
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 11 && px[2] == 31);
    // the offset one byte earlier cuts entry 1: it stays black
    b.p[10] = 60, b.p[60] = 0x80;
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 0 && px[1] == 0 && px[2] == 0);
    free(b.p);
    // A palette cut by the end of the file (offset beyond): refused without reading past it.
    b = bmp_make(40, 1, 1, 8, 0, 256, one, 4, 0);
    Buf c = {0};
    b_put(&c, b.p, 14 + 40 + 5);
    c.p[10] = 0xFF, c.p[11] = 0xFF;
    CHECK(dec(c.p, c.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("beyond the file"));
    free(b.p), free(c.p);
    // RLE8 2x2: two runs and end-of-line markers cover the image exactly; one byte less does not.
    uint8_t rle[] = {2, 1, 0, 0, 2, 1, 0, 1};
    b = bmp_make(40, 2, 2, 8, 1, 2, rle, sizeof rle, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 11);
    free(b.p);
    uint8_t rle_short[] = {2, 1, 0, 0, 1, 1};   // second row one pixel short, no more data
    b = bmp_make(40, 2, 2, 8, 1, 2, rle_short, sizeof rle_short, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad BMP: RLE data ends before the image is complete"));
    free(b.p);
    uint8_t rle_full[] = {2, 1, 0, 0, 2, 1};   // a run never wraps into the next row
    b = bmp_make(40, 2, 2, 8, 1, 2, rle_full, sizeof rle_full, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    CHECK(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("RLE data ends"));
    CHECK(dec(b.p, b.n - 2, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("RLE data ends"));
    free(b.p);
    // A run longer than the row is clipped to the row: 5 of index 1 on a 2-wide row fills the
    // bottom row only; after the end of line the next run (index 0) fills the top row.
    uint8_t rle_long[] = {5, 1, 0, 0, 2, 0};
    b = bmp_make(40, 2, 2, 8, 1, 2, rle_long, sizeof rle_long, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 10);
    free(b.p);
    // Absolute runs: 4 literal pixels with all 4 bytes present read; 3 present refused.
    uint8_t abs4[] = {0, 4, 1, 0, 1, 0};
    b = bmp_make(40, 2, 2, 8, 1, 2, abs4, sizeof abs4, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    CHECK(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("RLE data ends"));
    free(b.p);
    // Delta: both offset bytes present move down a row; one missing ends the data.
    uint8_t delta[] = {0, 2, 0, 1, 2, 1, 0, 1};
    b = bmp_make(40, 2, 2, 8, 1, 2, delta, sizeof delta, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    CHECK(dec(b.p, 14 + 40 + 8 + 3, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("RLE data"));
    free(b.p);
    // A delta at the end of the data, its second byte missing: the data ends there (a reader
    // that took the next byte, 0, would complete the 2x1 image).
    uint8_t delta2[] = {0, 2, 2, 0};
    b = bmp_make(40, 2, 1, 8, 1, 2, delta2, sizeof delta2, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    CHECK(dec_hidden(b.p, b.n - 1, 1) == T2I_EFORMAT && msg_has("RLE data ends"));
    free(b.p);
    // RLE4: runs of 2 pixels alternating nibbles, exactly covering 2x2.
    uint8_t rle4[] = {2, 0x10, 0, 0, 2, 0x10};
    b = bmp_make(40, 2, 2, 4, 2, 2, rle4, sizeof rle4, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    CHECK(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("RLE data"));
    free(b.p);
}

// ---- PNM ----------------------------------------------------------------------------------------

static Buf pnm(const char *head, size_t data, uint8_t v) {
    Buf b = {0};
    b_s(&b, head);
    for (size_t i = 0; i < data; i++) b_u8(&b, v);
    return b;
}

TEST(pnm_headers_and_data) {
    int     H, W;
    uint8_t px[3];
    // maxval 1..65535: 0 and 65536 refused.
    static const struct { const char *h; size_t data; int ok; } mv[] = {
        {"P5 1 1 0 ", 1, 0}, {"P5 1 1 1 ", 1, 1}, {"P5 1 1 65535 ", 2, 1},
        {"P5 1 1 65536 ", 2, 0}};
    for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
        Buf b = pnm(mv[i].h, mv[i].data, 1);
        int rc = dec(b.p, b.n, 0, NULL, NULL, NULL);
        CHECKF(mv[i].ok ? rc == T2I_OK : rc == T2I_EFORMAT && msg_has("img.x: bad P5: maxval"),
               "'%s': rc %d %s", mv[i].h, rc, rc ? t2i_errmsg() : "");
        free(b.p);
    }
    // Header numbers up to 10^9 (then the side limit), above that a malformed header.
    Buf b = pnm("P6 1000000000 1 255 ", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_ENOMEM && msg_has("a side above"));
    free(b.p);
    b = pnm("P6 1000000001 1 255 ", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad P6 header (width, height, maxval expected)"));
    free(b.p);
    b = pnm("P4 1000000001 1 ", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad P4 header (width, height expected)"));
    free(b.p);
    // One whitespace byte after the header is required.
    b = pnm("P5 1 1 255", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad P5: no whitespace after the header"));
    free(b.p);
    // ... also when a whitespace byte and the pixel follow just past the input
    b = pnm("P5 1 1 255 \x01", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_OK);
    CHECK(dec_hidden(b.p, b.n - 2, 2) == T2I_EFORMAT && msg_has("no whitespace after the header"));
    free(b.p);
    // Binary data: exactly the bytes needed, one fewer refused; 16-bit takes 2 per sample;
    // P4 takes whole bytes per row.
    static const struct { const char *h; size_t need; int w, hgt; } bin[] = {
        {"P5 3 2 255\n", 6, 3, 2}, {"P6 3 2 255\n", 18, 3, 2}, {"P5 3 2 256\n", 12, 3, 2},
        {"P6 3 2 65535\n", 36, 3, 2}, {"P4 9 2\n", 4, 9, 2}};
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
        b = pnm(bin[i].h, bin[i].need, 0x20);
        int rc = dec(b.p, b.n, 0, &H, &W, NULL);
        CHECKF(rc == T2I_OK && H == bin[i].hgt && W == bin[i].w, "'%s': %s", bin[i].h,
               rc ? t2i_errmsg() : "");
        char want[64];
        snprintf(want, sizeof want, "%zu bytes of pixel data, %zu needed", bin[i].need - 1,
                 bin[i].need);
        CHECKF(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad P") &&
                   msg_has(want),
               "'%s' short: %s", bin[i].h, t2i_errmsg());
        limit_both_sides(bin[i].h, b.p, b.n, bin[i].w, bin[i].hgt);
        free(b.p);
    }
    // Plain formats: a value equal to maxval read as white, one above refused; data ending early.
    b = pnm("P2 2 1 15\n15 0\n", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 255);
    free(b.p);
    b = pnm("P2 2 1 15\n16 0\n", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad P2: value 16 above maxval 15"));
    free(b.p);
    b = pnm("P3 1 1 255\n1 2 3", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 1 && px[2] == 3);
    prefixes_refused("P3", b.p, b.n, 3);
    free(b.p);
    b = pnm("P1 3 1\n1 0 1", 0, 0);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, px) == T2I_OK && px[0] == 0);
    CHECK(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: bad P1: the pixel data ends early"));
    free(b.p);
    b = pnm("P1 2 1\n1#c\n2", 0, 0);   // a '2' is not a bit
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("ends early"));
    free(b.p);
    // A size taken from a name containing " of AxB" must not fool the probe.
    b = pnm("P5 2 3 255\n", 6, 1);
    uint8_t    *c = bytes_dup(b.p, b.n);
    ImageFormat f;
    long long   w = 0, h = 0;
    CHECK(image_probe(c, b.n, "x of 7x9.pgm", &f, &w, &h) == T2I_OK && w == 2 && h == 3);
    free(c), free(b.p);
    // a 1x1 image is read whole by the probe (it passes the limit of 1)
    b = pnm("P5 1 1 255\n", 1, 1);
    CHECK(probe(b.p, b.n, &w, &h) == T2I_OK && w == 1 && h == 1);
    free(b.p);
}

// ---- TIFF and WebP ------------------------------------------------------------------------------

// Little-endian TIFF, one IFD, RGB w x h of `bps`-bit samples, one strip of w*h*3 bytes (strip
// bytes `sb`).
static Buf tiff_make(uint32_t w, uint32_t h, uint32_t sb, int bps) {
    Buf b = {0};
    b_s(&b, "II*");
    b_u8(&b, 0);
    b_le(&b, 8, 4);
    static const uint16_t tags[] = {256, 257, 258, 259, 262, 273, 277, 278, 279};
    uint32_t data_off = 8 + 2 + 9 * 12 + 4 + 6;
    uint32_t vals[] = {w, h, 8, 1, 2, data_off, 3, h, sb};
    b_le(&b, 9, 2);
    for (int i = 0; i < 9; i++) {
        int is_short = tags[i] == 258 || tags[i] == 259 || tags[i] == 262 || tags[i] == 277;
        b_le(&b, tags[i], 2);
        b_le(&b, is_short ? 3 : 4, 2);
        b_le(&b, tags[i] == 258 ? 3 : 1, 4);
        if (tags[i] == 258) b_le(&b, 8 + 2 + 9 * 12 + 4, 4);   // 3 shorts, after the IFD
        else b_le(&b, vals[i], 4);
    }
    b_le(&b, 0, 4);
    b_le(&b, (uint64_t)bps, 2), b_le(&b, (uint64_t)bps, 2), b_le(&b, (uint64_t)bps, 2);
    for (uint32_t i = 0; i < w * h * 3; i++) b_u8(&b, (uint8_t)(i * 11));
    return b;
}

TEST(tiff_and_webp) {
    Buf b = tiff_make(4, 3, 36, 8);
    int H, W;
    CHECKF(dec(b.p, b.n, 0, &H, &W, NULL) == T2I_OK && H == 3 && W == 4, "%s", t2i_errmsg());
    limit_both_sides("TIFF", b.p, b.n, 4, 3);
    // the strip one byte short of its rows: refused naming the file and the row
    CHECK(dec(b.p, b.n - 1, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: bad TIFF"));
    free(b.p);
    // 12-bit samples: not a layout read by scanline, and libtiff's RGBA interface refuses them
    b = tiff_make(4, 3, 36, 12);
    CHECK(dec(b.p, b.n, 0, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("img.x: unsupported TIFF"));
    free(b.p);
    // WebP: a lossless image written by libwebp's own test vector is not needed: the fixtures
    // hold lossy, lossless and alpha files; here the VP8X header with the animation flag.
    Buf x = {0};
    b_s(&x, "RIFF");
    b_le(&x, 4 + 8 + 10 + 8 + 6, 4);
    b_s(&x, "WEBPVP8X");
    b_le(&x, 10, 4);
    b_u8(&x, 0x02);   // animation
    b_le(&x, 0, 3);
    b_le(&x, 9, 3), b_le(&x, 4, 3);   // 10 x 5
    b_s(&x, "ANIM");
    b_le(&x, 6, 4);
    b_le(&x, 0, 4), b_le(&x, 0, 2);
    CHECK(dec(x.p, x.n, 0, NULL, NULL, NULL) == T2I_EFORMAT &&
          msg_has("img.x: animated WebP is not supported"));
    long long w, h;
    CHECK(probe(x.p, x.n, &w, &h) == T2I_OK && w == 10 && h == 5);
    CHECK(dec(x.p, x.n, 50, NULL, NULL, NULL) == T2I_EFORMAT && msg_has("animated"));
    CHECK(dec(x.p, x.n, 49, NULL, NULL, NULL) == T2I_ENOMEM && msg_has("img.x: WebP of 10x5"));
    free(x.p);
    // every fixture image: decoded at its exact size limit, refused one pixel under it from the
    // header, probed to the same size
    FILE *f = fopen("tests/fixtures/images/index.tsv", "r");
    CHECK(f != NULL);
    char line[512];
    int  count = 0;
    while (f && fgets(line, sizeof line, f)) {
        char name[128], p[256];
        if (line[0] == '#' || sscanf(line, "%127s", name) != 1) continue;
        snprintf(p, sizeof p, "tests/fixtures/images/%s", name);
        uint8_t *buf = NULL, *px = NULL;
        size_t   n = 0;
        if (t2i_read_file(p, &buf, &n)) {
            CHECKF(0, "%s: %s", name, t2i_errmsg());
            continue;
        }
        CHECK(image_decode_rgb(buf, n, name, NULL, &px, &H, &W, NULL) == T2I_OK);
        t2i_free(px);
        limit_both_sides(name, buf, n, W, H);
        t2i_free(buf);
        count++;
    }
    if (f) fclose(f);
    CHECKF(count >= 60, "%d fixtures", count);
}

// The file size bound of the reader follows the limit: max_pixels * 8 + 64 MiB bytes are read
// (here: zeros, then "not an image"), one byte more is refused before reading (sparse files).
TEST(file_size_bound) {
    char dir[] = "/tmp/t2i_bimg_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/big.png", dir);
    ImageReadOpts o = {.max_pixels = 1};
    off_t cap = 8 + ((off_t)64 << 20);
    for (int past = 0; past <= 1; past++) {
        FILE *f = fopen(path, "wb");
        CHECK(f && ftruncate(fileno(f), cap + past) == 0);
        fclose(f);
        uint8_t *px = NULL;
        int      H, W;
        int      rc = image_read_rgb_opts(path, &o, &px, &H, &W, NULL);
        CHECKF(past ? rc == T2I_ENOMEM && msg_has("big.png: 67108873 bytes is more than an image "
                                                  "within the pixel limit can need")
                    : rc == T2I_EFORMAT && msg_has("big.png: not an image"),
               "past %d: rc %d %s", past, rc, t2i_errmsg());
    }
    unlink(path);
    rmdir(dir);
}

int main(void) {
    RUN(limit_check_edges);
    RUN(file_size_bound);
    RUN(png_ihdr_and_bit_depths);
    RUN(png_palette_and_trns);
    RUN(jpeg_probe_markers);
    RUN(jpeg_decoder_checks);
    RUN(bmp_headers);
    RUN(bmp_bits_and_masks);
    RUN(bmp_palette_and_rle);
    RUN(pnm_headers_and_data);
    RUN(tiff_and_webp);
    return test_report("test_bounds_image");
}
