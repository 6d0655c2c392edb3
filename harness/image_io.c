// image_io.c -- see image_io.h. libpng's longjmp error handling stays inside this file.
#include "image_io.h"
#include "t2i.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>   // after stdio.h: it uses FILE
#include <jerror.h>

#include <fcntl.h>
#include <unistd.h>

// ---- PNG ----------------------------------------------------------------------------------

typedef struct {
    char msg[256];
} PngErr;

static void png_err_fn(png_structp png, png_const_charp msg) {
    PngErr *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

// No truncated PNG is left behind after a failed write (e.g. a full disk); only a regular file
// is removed (never a device such as /dev/full).
static void remove_partial(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) remove(path);
}

int png_write_rgb(const char *path, const uint8_t *rgb, int H, int W) {
    if (H < 1 || W < 1 || H > IMAGE_MAX_SIDE || W > IMAGE_MAX_SIDE)
        return t2i_error(T2I_EARG, "%s: bad image size %dx%d", path, W, H);
    FILE *f = fopen(path, "wb");
    if (!f) return t2i_error(T2I_EIO, "%s: cannot create: %s", path, strerror(errno));
    PngErr err = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_err_fn, png_warn_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return t2i_error(T2I_ENOMEM, "%s: libpng: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove_partial(path);
        return t2i_error(T2I_EIO, "%s: PNG write failed: %s", path, err.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < H; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * W * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        int rc = t2i_error(T2I_EIO, "%s: write failed: %s", path, strerror(errno));
        remove_partial(path);
        return rc;
    }
    return T2I_OK;
}

// ---- limits --------------------------------------------------------------------------------

int image_limit_check(const char *name, const char *fmt, long long w, long long h,
                      long long max_pixels) {
    if (max_pixels <= 0) max_pixels = IMAGE_DEFAULT_MAX_PIXELS;
    if (w < 1 || h < 1)
        return t2i_error(T2I_EFORMAT, "%s: bad %s: image size %lldx%lld", name, fmt, w, h);
    if (w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE)
        return t2i_error(T2I_ENOMEM, "%s: %s of %lldx%lld pixels: a side above %d is refused", name,
                         fmt, w, h, IMAGE_MAX_SIDE);
    if (w * h > max_pixels)
        return t2i_error(T2I_ENOMEM, "%s: %s of %lldx%lld = %.1f megapixels is above the limit of "
                                     "%.1f megapixels (refused before decoding; --max-pixels N "
                                     "raises it)",
                         name, fmt, w, h, (double)(w * h) / 1e6, (double)max_pixels / 1e6);
    return T2I_OK;
}

const char *image_warn_text(unsigned warn) {
    if (warn & IMAGE_WARN_GRAY16)
        return "16-bit greyscale: t2ibench keeps the high byte of each sample; PIL's "
               ".convert('RGB') (pytorch-fid, torch-fidelity) clips values above 255 to white, "
               "so those tools see another image";
    return "";
}

// ---- PNG (from memory) ---------------------------------------------------------------------

typedef struct {
    const uint8_t *buf;
    size_t         n, pos;
} MemSrc;

static void png_mem_read(png_structp png, png_bytep out, size_t len) {
    MemSrc *m = png_get_io_ptr(png);
    if (len > m->n - m->pos) png_error(png, "unexpected end of file");
    memcpy(out, m->buf + m->pos, len);
    m->pos += len;
}

// The parts of the reader that may longjmp; locals that must survive are in `st`.
typedef struct {
    png_structp png;
    png_infop   info;
    uint8_t    *pix;
    png_bytep  *rows;
    int         H, W;
    unsigned    warn;
} PngRead;

static int png_read_body(PngRead *st, MemSrc *src, PngErr *err, const char *name,
                         long long max_pixels) {
    if (setjmp(png_jmpbuf(st->png)))
        return t2i_error(T2I_EFORMAT, "%s: bad PNG: %s", name, err->msg);
    png_set_read_fn(st->png, src, png_mem_read);
    png_set_user_limits(st->png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
    png_read_info(st->png, st->info);
    png_uint_32 w = png_get_image_width(st->png, st->info),
                h = png_get_image_height(st->png, st->info);
    int rc = image_limit_check(name, "PNG", w, h, max_pixels);
    if (rc) return rc;
    int ct = png_get_color_type(st->png, st->info), bd = png_get_bit_depth(st->png, st->info);
    if (bd == 16 && ct == PNG_COLOR_TYPE_GRAY) st->warn |= IMAGE_WARN_GRAY16;
    if (bd == 16) png_set_strip_16(st->png);   // high byte, as PIL's ;16B unpackers
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(st->png);
    if ((ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) && bd < 8)
        png_set_expand_gray_1_2_4_to_8(st->png);
    if (png_get_valid(st->png, st->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(st->png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(st->png);
    png_set_strip_alpha(st->png);
    png_set_interlace_handling(st->png);
    png_read_update_info(st->png, st->info);
    if (png_get_rowbytes(st->png, st->info) != (size_t)w * 3)
        return t2i_error(T2I_EFORMAT, "%s: unsupported PNG layout", name);
    st->H = (int)h;
    st->W = (int)w;
    st->pix = t2i_malloc((size_t)w * h * 3);
    st->rows = t2i_malloc(sizeof(png_bytep) * h);
    if (!st->pix || !st->rows)
        return t2i_error(T2I_ENOMEM, "%s: out of memory for %ux%u", name, w, h);
    for (png_uint_32 y = 0; y < h; y++) st->rows[y] = st->pix + (size_t)y * w * 3;
    png_read_image(st->png, st->rows);
    png_read_end(st->png, NULL);
    return T2I_OK;
}

static int png_decode(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                      uint8_t **rgb, int *H, int *W, unsigned *warn) {
    PngErr err = {{0}};
    PngRead st;
    memset(&st, 0, sizeof st);
    MemSrc src = {buf, n, 0};
    st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_err_fn, png_warn_fn);
    st.info = st.png ? png_create_info_struct(st.png) : NULL;
    int rc = (!st.png || !st.info) ? t2i_error(T2I_ENOMEM, "%s: libpng: out of memory", name)
                                   : png_read_body(&st, &src, &err, name, max_pixels);
    png_destroy_read_struct(&st.png, &st.info, NULL);
    t2i_free(st.rows);
    if (rc) {
        t2i_free(st.pix);
        return rc;
    }
    *rgb = st.pix;
    *H = st.H;
    *W = st.W;
    *warn |= st.warn;
    return T2I_OK;
}

// ---- JPEG (from memory) --------------------------------------------------------------------

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf               jb;
    char                  msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_err_exit(j_common_ptr cinfo) {
    JpegErr *e = (JpegErr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

// A truncated file is only a warning for libjpeg (JWRN_JPEG_EOF: it pads the missing rows with
// grey and goes on). Count that one and keep its message, so that the reader can refuse the file
// (as PIL does); other corrupt-data warnings are tolerated like PIL does (real data sets such as
// COCO have a few such files); trace messages are dropped.
static void jpeg_emit(j_common_ptr cinfo, int level) {
    JpegErr *e = (JpegErr *)cinfo->err;
    if (level >= 0 || cinfo->err->msg_code != JWRN_JPEG_EOF) return;
    if (!e->pub.num_warnings) (*cinfo->err->format_message)(cinfo, e->msg);
    e->pub.num_warnings++;
}

typedef struct {
    struct jpeg_decompress_struct cinfo;
    uint8_t *pix;
    uint8_t *row4;   // one CMYK row
} JpegRead;

// PIL's CMYK -> RGB (Convert.c cmyk2rgb) on samples already inverted as PIL's "CMYK;I" does.
static inline uint8_t muldiv255_sub(int nk, int c) {
    int t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int jpeg_read_body(JpegRead *st, JpegErr *err, const uint8_t *buf, size_t n,
                          const char *name, long long max_pixels) {
    if (setjmp(err->jb)) return t2i_error(T2I_EFORMAT, "%s: bad JPEG: %s", name, err->msg);
    jpeg_create_decompress(&st->cinfo);
    jpeg_mem_src(&st->cinfo, buf, (unsigned long)n);
    jpeg_read_header(&st->cinfo, TRUE);
    int rc = image_limit_check(name, "JPEG", st->cinfo.image_width, st->cinfo.image_height,
                               max_pixels);
    if (rc) return rc;
    int cmyk = st->cinfo.jpeg_color_space == JCS_CMYK || st->cinfo.jpeg_color_space == JCS_YCCK;
    st->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&st->cinfo);
    JDIMENSION w = st->cinfo.output_width, h = st->cinfo.output_height;
    if (st->cinfo.output_components != (cmyk ? 4 : 3))
        return t2i_error(T2I_EFORMAT, "%s: unsupported JPEG (%d components)", name,
                         st->cinfo.output_components);
    st->pix = t2i_malloc((size_t)w * h * 3);
    st->row4 = cmyk ? t2i_malloc((size_t)w * 4) : NULL;
    if (!st->pix || (cmyk && !st->row4))
        return t2i_error(T2I_ENOMEM, "%s: out of memory for %ux%u", name, w, h);
    while (st->cinfo.output_scanline < h) {
        uint8_t *dst = st->pix + (size_t)st->cinfo.output_scanline * w * 3;
        JSAMPROW row = cmyk ? st->row4 : dst;
        if (jpeg_read_scanlines(&st->cinfo, &row, 1) != 1) break;
        if (cmyk)
            for (JDIMENSION x = 0; x < w; x++) {
                const uint8_t *p = st->row4 + 4 * (size_t)x;
                int nk = p[3];   // 255 - (255 - k): the inverted K
                for (int c = 0; c < 3; c++) dst[3 * (size_t)x + c] = muldiv255_sub(nk, 255 - p[c]);
            }
    }
    jpeg_finish_decompress(&st->cinfo);
    if (err->pub.num_warnings)
        return t2i_error(T2I_EFORMAT, "%s: bad JPEG (truncated): %s", name,
                         err->msg[0] ? err->msg : "premature end of file");
    return T2I_OK;
}

static int jpeg_decode(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                       uint8_t **rgb, int *H, int *W) {
    JpegErr err;
    memset(&err, 0, sizeof err);
    JpegRead st;
    memset(&st, 0, sizeof st);
    st.cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_err_exit;
    err.pub.output_message = jpeg_silent;
    err.pub.emit_message = jpeg_emit;
    int rc = jpeg_read_body(&st, &err, buf, n, name, max_pixels);
    int h = (int)st.cinfo.output_height, w = (int)st.cinfo.output_width;
    jpeg_destroy_decompress(&st.cinfo);
    t2i_free(st.row4);
    if (rc) {
        t2i_free(st.pix);
        return rc;
    }
    *rgb = st.pix;
    *H = h;
    *W = w;
    return T2I_OK;
}

// ---- dispatch ------------------------------------------------------------------------------

ImageFormat image_sniff(const uint8_t *b, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n >= 8 && memcmp(b, png_sig, 8) == 0) return IMG_PNG;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return IMG_JPEG;
    if (n >= 14 && b[0] == 'B' && b[1] == 'M') return IMG_BMP;
    if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' &&
        (b[2] == ' ' || b[2] == '\t' || b[2] == '\n' || b[2] == '\r' || b[2] == '#'))
        return IMG_PNM;
    if (n >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
                   (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43))))
        return IMG_TIFF;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return IMG_WEBP;
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) return IMG_GIF;
    return IMG_NONE;
}

const char *image_format_name(ImageFormat f) {
    static const char *const names[] = {"unknown", "PNG",  "JPEG", "BMP",
                                        "PNM",     "TIFF", "WebP", "GIF"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

int image_decode_rgb(const uint8_t *buf, size_t n, const char *name, const ImageReadOpts *opt,
                     uint8_t **rgb, int *H, int *W, unsigned *warn) {
    unsigned wdummy = 0;
    if (!warn) warn = &wdummy;
    *warn = 0;
    *rgb = NULL;
    *H = *W = 0;
    long long mp = opt && opt->max_pixels > 0 ? opt->max_pixels : IMAGE_DEFAULT_MAX_PIXELS;
    switch (image_sniff(buf, n)) {
    case IMG_PNG: return png_decode(buf, n, name, mp, rgb, H, W, warn);
    case IMG_JPEG: return jpeg_decode(buf, n, name, mp, rgb, H, W);
    case IMG_BMP: return bmp_decode_rgb(buf, n, name, mp, rgb, H, W);
    case IMG_PNM: return pnm_decode_rgb(buf, n, name, mp, rgb, H, W, warn);
    case IMG_TIFF: return tiff_decode_rgb(buf, n, name, mp, rgb, H, W, warn);
    case IMG_WEBP: return webp_decode_rgb(buf, n, name, mp, rgb, H, W);
    case IMG_GIF:
        return t2i_error(T2I_EFORMAT, "%s: GIF is not supported (convert it to PNG)", name);
    default: break;
    }
    return t2i_error(T2I_EFORMAT, "%s: not an image (PNG, JPEG, BMP, PPM/PGM, TIFF or WebP "
                                  "expected from its first bytes)",
                     name);
}

// Reads a whole regular file; the size bound follows the pixel limit (16-bit RGBA raw data of
// max_pixels, plus room for metadata).
static int read_file_bounded(const char *path, long long max_pixels, uint8_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return t2i_error(T2I_EIO, "%s: not a regular file", path);
    }
    unsigned long long cap = (unsigned long long)max_pixels * 8ULL + (64ULL << 20);
    if ((unsigned long long)sb.st_size > cap) {
        close(fd);
        return t2i_error(T2I_ENOMEM, "%s: %lld bytes is more than an image within the pixel limit "
                                     "can need (--max-pixels raises it)",
                         path, (long long)sb.st_size);
    }
    size_t sz = (size_t)sb.st_size;
    uint8_t *b = t2i_malloc(sz ? sz : 1);
    if (!b) {
        close(fd);
        return t2i_error(T2I_ENOMEM, "%s: out of memory for %zu bytes", path, sz);
    }
    size_t got = 0;
    while (got < sz) {
        ssize_t r = read(fd, b + got, sz - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *out = b;
    *n = got;
    return T2I_OK;
}

int image_read_rgb_opts(const char *path, const ImageReadOpts *opt, uint8_t **rgb, int *H, int *W,
                        unsigned *warn) {
    long long mp = opt && opt->max_pixels > 0 ? opt->max_pixels : IMAGE_DEFAULT_MAX_PIXELS;
    uint8_t *buf = NULL;
    size_t n = 0;
    *rgb = NULL;
    int rc = read_file_bounded(path, mp, &buf, &n);
    if (rc) return rc;
    rc = image_decode_rgb(buf, n, path, opt, rgb, H, W, warn);
    t2i_free(buf);
    return rc;
}

int image_read_rgb(const char *path, uint8_t **rgb, int *H, int *W) {
    unsigned warn = 0;
    int rc = image_read_rgb_opts(path, NULL, rgb, H, W, &warn);
    if (!rc && warn) fprintf(stderr, "t2ibench: warning: %s: %s\n", path, image_warn_text(warn));
    return rc;
}

// ---- header probe --------------------------------------------------------------------------

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }
static uint32_t rd_le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd_le32(const uint8_t *p) { return rd_le16(p) | rd_le16(p + 2) << 16; }

// JPEG: markers from SOI to the first SOFn (C0..CF without C4 DHT, C8 JPG, CC DAC).
static int jpeg_probe(const uint8_t *b, size_t n, long long *w, long long *h) {
    size_t p = 2;
    while (p + 4 <= n) {
        if (b[p] != 0xFF) return -1;
        uint8_t m = b[p + 1];
        if (m == 0xFF) {   // fill byte
            p++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            p += 2;
            continue;
        }
        uint32_t len = be16(b + p + 2);
        if (len < 2) return -1;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (p + 9 > n) return 1;
            *h = be16(b + p + 5);
            *w = be16(b + p + 7);
            return 0;
        }
        if (m == 0xD9 || m == 0xDA) return -1;   // no frame header before the scan
        p += 2 + (size_t)len;
    }
    return 1;   // need more bytes
}

int image_probe(const uint8_t *b, size_t n, const char *name, ImageFormat *fmt, long long *w,
                long long *h) {
    *fmt = image_sniff(b, n);
    *w = *h = -1;
    int r = -1;
    switch (*fmt) {
    case IMG_PNG:
        if (n >= 24 && !memcmp(b + 12, "IHDR", 4)) *w = be32(b + 16), *h = be32(b + 20), r = 0;
        break;
    case IMG_JPEG: r = jpeg_probe(b, n, w, h); break;
    case IMG_BMP: {
        uint32_t hs = n >= 18 ? rd_le32(b + 14) : 0;
        if (n >= 18 && bmp_header_size_check(name, hs)) return T2I_EFORMAT;
        if (hs == 12 && n >= 26) *w = rd_le16(b + 18), *h = rd_le16(b + 20), r = 0;
        else if (hs >= 40 && n >= 26) {
            *w = (int32_t)rd_le32(b + 18);
            *h = (int32_t)rd_le32(b + 22);
            if (*h < 0) *h = -*h;
            r = 0;
        }
        break;
    }
    case IMG_PNM:
    case IMG_TIFF:
    case IMG_WEBP: {
        // The decoders stop at the limit check: a limit of 0 pixels refuses every image right
        // after its header, and the message carries the size.
        uint8_t *px = NULL;
        int H = 0, W = 0;
        unsigned warn = 0;
        int rc = *fmt == IMG_PNM    ? pnm_decode_rgb(b, n, name, 1, &px, &H, &W, &warn)
                 : *fmt == IMG_TIFF ? tiff_decode_rgb(b, n, name, 1, &px, &H, &W, &warn)
                                    : webp_decode_rgb(b, n, name, 1, &px, &H, &W);
        t2i_free(px);
        const char *m = t2i_errmsg();
        const char *of = strlen(m) > strlen(name) ? strstr(m + strlen(name), " of ") : NULL;
        if (rc == T2I_ENOMEM && of && sscanf(of, " of %lldx%lld", w, h) == 2) r = 0;
        else if (rc == T2I_OK) *w = W, *h = H, r = 0;   // a 1-pixel image
        break;
    }
    default: break;
    }
    if (r == 0) return T2I_OK;
    return t2i_error(T2I_EFORMAT, "%s: %s: cannot read the image size from the header", name,
                     image_format_name(*fmt));
}

int image_check_file(const char *path, const ImageReadOpts *opt) {
    long long mp = opt && opt->max_pixels > 0 ? opt->max_pixels : IMAGE_DEFAULT_MAX_PIXELS;
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[65536];
    ssize_t k = read(fd, head, sizeof head);
    close(fd);
    if (k < 0) return t2i_error(T2I_EIO, "%s: read failed: %s", path, strerror(errno));
    ImageFormat f;
    long long w, h;
    int rc;
    rc = image_probe(head, (size_t)k, path, &f, &w, &h);
    if (rc && (f == IMG_TIFF || (size_t)k == sizeof head)) {
        // TIFF directories may sit at the end; a JPEG's frame header may follow large metadata
        uint8_t *all = NULL;
        size_t n = 0;
        if ((rc = read_file_bounded(path, mp, &all, &n))) return rc;
        rc = image_probe(all, n, path, &f, &w, &h);
        t2i_free(all);
    }
    if (rc) return rc;
    return image_limit_check(path, image_format_name(f), w, h, mp);
}
