// test_image_formats.c -- every format and bit depth against PIL, and the pixel limit.
//
// tests/fixtures/images (made by tools/make_image_fixtures.py with Debian's PIL): each NAME.EXT
// with NAME.rgb = PIL.Image.open(NAME.EXT).convert('RGB') as raw bytes; compared byte for byte.
// For 16-bit greyscale (warn = 1) NAME.rgb is the high byte that t2ibench keeps and NAME.pil.rgb
// PIL's clipped reading: the reader must raise IMAGE_WARN_GRAY16 and the two must differ.
// Bomb headers (PNG, JPEG, BMP, PNM, TIFF, WebP) claiming 20000x20000 are refused from the
// header: with only the file buffer allowed to be allocated, the limit message still comes.
#include "image_io.h"
#include "t2i.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <jpeglib.h>   // after stdio.h
#include <tiffio.h>

#define IDIR "tests/fixtures/images/"

static int read_all(const char *path, uint8_t **buf, size_t *n) {
    return t2i_read_file(path, buf, n);
}

TEST(every_format_matches_pil) {
    FILE *f = fopen(IDIR "index.tsv", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int count = 0, warned = 0;
    int formats[8] = {0};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[128], writer[64];
        int w, h, warn;
        if (sscanf(line, "%127s %d %d %d %63s", name, &w, &h, &warn, writer) != 5) continue;
        char path[256], ref[256];
        snprintf(path, sizeof path, IDIR "%s", name);
        snprintf(ref, sizeof ref, IDIR "%.*s.rgb", (int)(strrchr(name, '.') - name), name);
        uint8_t *px = NULL, *want = NULL;
        size_t nw = 0;
        int H = 0, W = 0;
        unsigned wb = 0;
        int rc = image_read_rgb_opts(path, NULL, &px, &H, &W, &wb);
        CHECKF(rc == T2I_OK, "%s: %s", name, t2i_errmsg());
        CHECK(read_all(ref, &want, &nw) == T2I_OK);
        if (!rc && want) {
            CHECKF(H == h && W == w, "%s: %dx%d, PIL %dx%d", name, W, H, w, h);
            CHECKF(nw == (size_t)w * h * 3 && memcmp(px, want, nw) == 0, "%s: pixels differ from "
                   "PIL's .convert('RGB')", name);
            CHECKF(((wb & IMAGE_WARN_GRAY16) != 0) == (warn == 1), "%s: warn bits %u", name, wb);
            ImageReadOpts exact = {.max_pixels = (long long)w * h},
                          less = {.max_pixels = (long long)w * h - 1};
            CHECKF(image_check_file(path, &exact) == T2I_OK, "%s: header probe: %s", name,
                   t2i_errmsg());
            CHECKF(image_check_file(path, &less) == T2I_ENOMEM, "%s: header probe vs limit", name);
            size_t nb = 0;
            uint8_t *raw = NULL;
            if (!read_all(path, &raw, &nb)) {
                formats[image_sniff(raw, nb)]++;
                t2i_free(raw);
            }
        }
        if (warn == 1 && !rc) {
            char pil[256];
            uint8_t *pp = NULL;
            size_t np = 0;
            snprintf(pil, sizeof pil, IDIR "%.*s.pil.rgb", (int)(strrchr(name, '.') - name), name);
            CHECK(read_all(pil, &pp, &np) == T2I_OK);
            CHECKF(pp && np == nw && memcmp(pp, px, np) != 0, "%s: PIL should differ here", name);
            t2i_free(pp);
            warned++;
        }
        t2i_free(px);
        t2i_free(want);
        count++;
    }
    fclose(f);
    CHECKF(count >= 60, "%d fixture images", count);
    CHECK(warned >= 3);
    for (int k = IMG_PNG; k <= IMG_WEBP; k++)
        CHECKF(formats[k] >= 3, "%d files of %s", formats[k], image_format_name((ImageFormat)k));
    printf("  %d images byte-identical to PIL (%d with the 16-bit grey warning)\n", count, warned);
}

// ---- bombs ---------------------------------------------------------------------------------

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}
static void put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

static size_t png_bomb(uint8_t *b, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
    memcpy(b, sig, 8);
    put_be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    put_be32(b + 16, w);
    put_be32(b + 20, h);
    b[24] = 8, b[25] = 2, b[26] = 0, b[27] = 0, b[28] = 0;
    put_be32(b + 29, (uint32_t)crc32(0, b + 12, 17));
    // an empty IDAT: libpng reads the chunks up to the first IDAT before the size check
    put_be32(b + 33, 0);
    memcpy(b + 37, "IDAT", 4);
    put_be32(b + 41, (uint32_t)crc32(0, b + 37, 4));
    return 45;
}

static size_t jpeg_bomb(uint8_t *b, uint16_t w, uint16_t h) {
    // SOI, DQT (one table), progressive SOF2 with 3 components, then nothing
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xD8;
    b[n++] = 0xFF, b[n++] = 0xDB, b[n++] = 0, b[n++] = 67, b[n++] = 0;
    for (int i = 0; i < 64; i++) b[n++] = 1;
    b[n++] = 0xFF, b[n++] = 0xC2, b[n++] = 0, b[n++] = 17, b[n++] = 8;
    b[n++] = (uint8_t)(h >> 8), b[n++] = (uint8_t)h, b[n++] = (uint8_t)(w >> 8),
    b[n++] = (uint8_t)w;
    b[n++] = 3;
    for (int c = 1; c <= 3; c++) b[n++] = (uint8_t)c, b[n++] = 0x11, b[n++] = 0;
    // DHT + SOS so that jpeg_read_header returns
    static const uint8_t dht[] = {0xFF, 0xC4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0, 0, 0,
                                  0,    0,    0, 0,  0,    0, 0, 0, 0};
    memcpy(b + n, dht, sizeof dht);
    n += sizeof dht;
    static const uint8_t sos[] = {0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 0, 0};
    memcpy(b + n, sos, sizeof sos);
    n += sizeof sos;
    return n;
}

static size_t bmp_bomb(uint8_t *b, int32_t w, int32_t h) {
    memset(b, 0, 64);
    b[0] = 'B', b[1] = 'M';
    put_le32(b + 10, 54);
    put_le32(b + 14, 40);
    put_le32(b + 18, (uint32_t)w);
    put_le32(b + 22, (uint32_t)h);
    b[26] = 1, b[28] = 24;
    return 64;
}

static size_t tiff_bomb(uint8_t *b, uint32_t w, uint32_t h) {
    // little-endian TIFF, one IFD: width, length, bps 8, photometric RGB, spp 3, strip offset/count
    memset(b, 0, 256);
    b[0] = 'I', b[1] = 'I', b[2] = 42;
    put_le32(b + 4, 8);
    uint16_t tags[][2] = {{256, 4}, {257, 4}, {258, 3}, {262, 3}, {273, 4}, {277, 3}, {279, 4}};
    uint32_t vals[] = {w, h, 8, 2, 200, 3, 16};
    int nt = 7;
    b[8] = (uint8_t)nt;
    for (int i = 0; i < nt; i++) {
        uint8_t *e = b + 10 + 12 * i;
        e[0] = (uint8_t)tags[i][0], e[1] = (uint8_t)(tags[i][0] >> 8);
        e[2] = (uint8_t)tags[i][1];
        put_le32(e + 4, 1);
        put_le32(e + 8, vals[i]);
    }
    return 256;
}

static size_t webp_bomb(uint8_t *b, uint32_t w, uint32_t h) {
    // VP8L (lossless) header: signature 0x2f, 14-bit width-1 and height-1
    memset(b, 0, 64);
    memcpy(b, "RIFF", 4);
    put_le32(b + 4, 56);
    memcpy(b + 8, "WEBPVP8L", 8);
    put_le32(b + 16, 36);
    b[20] = 0x2f;
    uint32_t bits = (w - 1) | ((h - 1) << 14);
    put_le32(b + 21, bits);
    return 64;
}

static void expect_refused(const char *fmt, const uint8_t *buf, size_t n, long long limit) {
    uint8_t *px = NULL;
    int H = 0, W = 0;
    ImageReadOpts o = {.max_pixels = limit};
    // No pixel buffer may be allocated: every allocation fails from here on.
    t2i_alloc_fail_after(0);
    int rc = image_decode_rgb(buf, n, "bomb-file", &o, &px, &H, &W, NULL);
    t2i_alloc_fail_after(-1);
    CHECKF(rc == T2I_ENOMEM && strstr(t2i_errmsg(), "bomb-file") &&
               (strstr(t2i_errmsg(), "megapixels") || strstr(t2i_errmsg(), "side above")),
           "%s: rc %d: %s", fmt, rc, t2i_errmsg());
    CHECK(px == NULL);
}

TEST(bombs_refused_from_the_header) {
    uint8_t b[512];
    size_t n;
    n = png_bomb(b, 20000, 20000);
    expect_refused("PNG", b, n, 0);
    n = jpeg_bomb(b, 20000, 20000);
    expect_refused("JPEG", b, n, 0);
    n = bmp_bomb(b, 20000, 20000);
    expect_refused("BMP", b, n, 0);
    n = bmp_bomb(b, 20000, -20000);   // top-down
    expect_refused("BMP top-down", b, n, 0);
    n = (size_t)snprintf((char *)b, sizeof b, "P6\n20000 20000\n255\n");
    expect_refused("PPM", b, n, 0);
    n = (size_t)snprintf((char *)b, sizeof b, "P5\n100000 3\n255\n");
    expect_refused("PGM side", b, n, 0);
    n = tiff_bomb(b, 20000, 20000);
    expect_refused("TIFF", b, n, 0);
    n = webp_bomb(b, 16000, 16000);
    expect_refused("WebP", b, n, 0);
    // A small limit refuses a small image too; raising it lets the same file through.
    n = png_bomb(b, 300, 200);
    expect_refused("PNG 60k vs limit 50k", b, n, 50000);
}

TEST(limit_is_configurable) {
    uint8_t *px = NULL;
    int H = 0, W = 0;
    ImageReadOpts o = {.max_pixels = 13 * 7 - 1};
    CHECK(image_read_rgb_opts(IDIR "png_rgb8.png", &o, &px, &H, &W, NULL) == T2I_ENOMEM);
    CHECK(strstr(t2i_errmsg(), "png_rgb8.png") != NULL);
    o.max_pixels = 13 * 7;
    CHECK(image_read_rgb_opts(IDIR "png_rgb8.png", &o, &px, &H, &W, NULL) == T2I_OK);
    CHECK(H == 7 && W == 13);
    t2i_free(px);
}

TEST(non_images_and_devices) {
    uint8_t *px = NULL;
    int H, W;
    CHECK(image_read_rgb_opts(IDIR "index.tsv", NULL, &px, &H, &W, NULL) == T2I_EFORMAT);
    CHECK(strstr(t2i_errmsg(), "index.tsv") && strstr(t2i_errmsg(), "not an image"));
    CHECK(image_read_rgb_opts("/dev/null", NULL, &px, &H, &W, NULL) == T2I_EIO);
    CHECK(strstr(t2i_errmsg(), "not a regular file") != NULL);
    CHECK(image_read_rgb_opts(IDIR, NULL, &px, &H, &W, NULL) == T2I_EIO);
    // every fixture cut short is refused with an error naming it (never a crash)
    static const char *const names[] = {
        "png_rgb8_adam7.png",    "jpeg_progressive.jpg", "bmp_rle8.bmp",     "ppm_p6_16.ppm",
        "tiff_rgb_tiff_lzw.tif", "webp_lossy.webp",      "pgm_p2_max15.pgm", "bmp_rgb24.bmp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, IDIR "%s", names[i]);
        uint8_t *buf = NULL;
        size_t n = 0;
        CHECK(read_all(p, &buf, &n) == T2I_OK);
        for (size_t cut = 1; buf && cut < 4; cut++) {
            size_t len = n * cut / 4;
            int rc = image_decode_rgb(buf, len, names[i], NULL, &px, &H, &W, NULL);
            if (rc == T2I_OK) t2i_free(px);
            CHECKF(rc == T2I_EFORMAT && strstr(t2i_errmsg(), names[i]), "%s cut to %zu: rc %d %s",
                   names[i], len, rc, rc ? t2i_errmsg() : "");
        }
        t2i_free(buf);
    }
}

// A 4-component JPEG written by libjpeg as CMYK or as YCCK (Adobe transform 2), quality 100,
// no subsampling. PIL cannot write YCCK, so the YCCK file is checked against the CMYK one.
static size_t write_cmyk_jpeg(uint8_t **buf, const uint8_t *cmyk, int H, int W, int ycck) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned long len = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    *buf = NULL;
    jpeg_mem_dest(&c, buf, &len);
    c.image_width = (JDIMENSION)W;
    c.image_height = (JDIMENSION)H;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, ycck ? JCS_YCCK : JCS_CMYK);
    for (int k = 0; k < 4; k++) c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(cmyk + (size_t)c.next_scanline * W * 4);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (size_t)len;
}

TEST(ycck_jpeg_reads_like_cmyk) {
    enum { H = 16, W = 24 };
    uint8_t cmyk[H * W * 4];
    for (int i = 0; i < H * W; i++) {
        cmyk[4 * i] = (uint8_t)(i * 3), cmyk[4 * i + 1] = (uint8_t)(255 - i % 200);
        cmyk[4 * i + 2] = (uint8_t)(i % W * 10), cmyk[4 * i + 3] = (uint8_t)(60 + i % H * 8);
    }
    uint8_t *a = NULL, *b = NULL, *ra = NULL, *rb = NULL;
    size_t na = write_cmyk_jpeg(&a, cmyk, H, W, 0), nb = write_cmyk_jpeg(&b, cmyk, H, W, 1);
    int h1, w1, h2, w2;
    CHECK(image_decode_rgb(a, na, "cmyk.jpg", NULL, &ra, &h1, &w1, NULL) == T2I_OK);
    CHECK(image_decode_rgb(b, nb, "ycck.jpg", NULL, &rb, &h2, &w2, NULL) == T2I_OK);
    int maxd = 0;
    for (int i = 0; ra && rb && i < H * W * 3; i++) {
        int d = abs((int)ra[i] - (int)rb[i]);
        if (d > maxd) maxd = d;
    }
    CHECKF(ra && rb && maxd <= 6, "YCCK vs CMYK: max difference %d", maxd);
    // and the CMYK reading follows PIL's rule on the stored (Adobe-inverted) samples
    int maxe = 0;
    for (int i = 0; ra && i < H * W; i++) {
        int nk = cmyk[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            int t = (255 - cmyk[4 * i + c]) * nk + 128, v = nk - (((t >> 8) + t) >> 8);
            int d = abs(v - (int)ra[3 * i + c]);
            if (d > maxe) maxe = d;
        }
    }
    CHECKF(maxe <= 6, "CMYK vs PIL's formula on the written samples: %d", maxe);
    free(a);
    free(b);
    t2i_free(ra);
    t2i_free(rb);
}

TEST(short_headers_are_refused) {
    // Each format's magic with too few bytes after it (the fuzzer's first find was a 14-byte BMP):
    // the probe and the decoder both refuse, naming the input, never reading past the end.
    static const char *const heads[] = {"BM\xe8\0\0\0\0\0\0\0v\0\xff\xd8", "\x89PNG\r\n\x1a\n\0\0",
                                        "\xff\xd8\xff\xe0\0\x10JFIF", "P6\n12", "II*\0\x08\0\0\0",
                                        "RIFF\x10\0\0\0WEBPVP8 "};
    static const size_t lens[] = {14, 10, 10, 5, 8, 16};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *b = t2i_malloc(lens[i]);   // exact size: ASan sees any read past it
        memcpy(b, heads[i], lens[i]);
        ImageFormat f;
        long long w, h;
        uint8_t *px = NULL;
        int H, W;
        CHECKF(image_probe(b, lens[i], "short-head", &f, &w, &h) == T2I_EFORMAT, "head %zu", i);
        CHECKF(image_decode_rgb(b, lens[i], "short-head", NULL, &px, &H, &W, NULL) != T2I_OK &&
                   strstr(t2i_errmsg(), "short-head"),
               "head %zu: %s", i, t2i_errmsg());
        t2i_free(b);
    }
}

// TIFF layouts PIL cannot write, made with libtiff: tiled, planar-separate and 16-bit RGB.
// Expected pixels are the written samples (16 bit: the high byte, as PIL's RGB;16 unpackers).
static int write_tiff(const char *path, int W, int H, int bps, int tiled, int planar,
                      uint8_t *expect) {
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bps);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
    uint16_t s16[64 * 64 * 3];
    uint8_t s8[64 * 64 * 3];
    for (int i = 0; i < W * H * 3; i++) {
        unsigned v = (unsigned)(i * 2654435761u) >> 16;
        s16[i] = (uint16_t)v;
        s8[i] = (uint8_t)v;
        expect[i] = bps == 16 ? (uint8_t)(v >> 8) : (uint8_t)v;
    }
    int ok = 1;
    if (tiled) {   // 16x16 tiles, contiguous 8-bit
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
        uint8_t tile[16 * 16 * 3];
        for (int ty = 0; ty < H; ty += 16)
            for (int tx = 0; tx < W; tx += 16) {
                memset(tile, 0, sizeof tile);
                for (int y = 0; y < 16 && ty + y < H; y++)
                    for (int x = 0; x < 16 && tx + x < W; x++)
                        memcpy(tile + (y * 16 + x) * 3, s8 + ((ty + y) * W + tx + x) * 3, 3);
                ok &= TIFFWriteTile(t, tile, (uint32_t)tx, (uint32_t)ty, 0, 0) >= 0;
            }
    } else if (planar) {   // one plane per sample, 8-bit
        uint8_t row[64];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) row[x] = s8[(y * W + x) * 3 + c];
                ok &= TIFFWriteScanline(t, row, (uint32_t)y, (uint16_t)c) >= 0;
            }
    } else {
        for (int y = 0; y < H; y++)
            ok &= TIFFWriteScanline(
                      t, bps == 16 ? (void *)(s16 + y * W * 3) : (void *)(s8 + y * W * 3),
                      (uint32_t)y, 0) >= 0;
    }
    TIFFClose(t);
    return ok ? 0 : -1;
}

TEST(tiff_layouts_pil_cannot_write) {
    char dir[] = "/tmp/t2i_tiff_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static const struct { const char *name; int bps, tiled, planar; } cases[] = {
        {"tiled.tif", 8, 1, 0}, {"planar.tif", 8, 0, 1}, {"rgb16.tif", 16, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, cases[i].name);
        uint8_t want[40 * 37 * 3];
        CHECK(write_tiff(p, 40, 37, cases[i].bps, cases[i].tiled, cases[i].planar, want) == 0);
        uint8_t *px = NULL;
        int H = 0, W = 0;
        CHECKF(image_read_rgb_opts(p, NULL, &px, &H, &W, NULL) == T2I_OK, "%s", t2i_errmsg());
        CHECKF(px && H == 37 && W == 40 && memcmp(px, want, sizeof want) == 0, "%s differs",
               cases[i].name);
        CHECK(image_check_file(p, NULL) == T2I_OK);
        t2i_free(px);
        remove(p);
    }
    rmdir(dir);
}

int main(void) {
    RUN(every_format_matches_pil);
    RUN(bombs_refused_from_the_header);
    RUN(limit_is_configurable);
    RUN(non_images_and_devices);
    RUN(ycck_jpeg_reads_like_cmyk);
    RUN(short_headers_are_refused);
    RUN(tiff_layouts_pil_cannot_write);
    return test_report("test_image_formats");
}
