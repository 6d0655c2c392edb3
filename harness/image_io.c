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

#define IMAGE_MAX_SIDE 65536

void image_quantize(uint8_t *rgb, const float *chw, int H, int W, ImageQuant q) {
    size_t HW = (size_t)H * W;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < HW; i++) {
            float v = (chw[c * HW + i] + 1.0f) * 127.5f;   // float32, as numpy does on float32
            if (q == QUANT_ROUND) v = nearbyintf(v);
            uint8_t u;
            if (!(v > 0.0f))
                u = 0;   // also NaN
            else if (v >= 255.0f)
                u = 255;
            else
                u = (uint8_t)v;   // truncation toward zero (astype(uint8))
            rgb[i * 3 + c] = u;
        }
}

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

// The parts of the reader that may longjmp; locals that must survive are in `st`.
typedef struct {
    png_structp png;
    png_infop   info;
    uint8_t    *pix;
    png_bytep  *rows;
    int         H, W;
} PngRead;

static int png_read_body(PngRead *st, FILE *f, PngErr *err, const char *path) {
    if (setjmp(png_jmpbuf(st->png))) return t2i_error(T2I_EFORMAT, "%s: bad PNG: %s", path, err->msg);
    png_init_io(st->png, f);
    png_set_user_limits(st->png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
    png_read_info(st->png, st->info);
    png_uint_32 w = png_get_image_width(st->png, st->info), h = png_get_image_height(st->png, st->info);
    int ct = png_get_color_type(st->png, st->info), bd = png_get_bit_depth(st->png, st->info);
    if (bd == 16) png_set_strip_16(st->png);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(st->png);
    if ((ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) && bd < 8)
        png_set_expand_gray_1_2_4_to_8(st->png);
    if (png_get_valid(st->png, st->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(st->png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(st->png);
    png_set_strip_alpha(st->png);
    png_set_interlace_handling(st->png);
    png_read_update_info(st->png, st->info);
    if (png_get_rowbytes(st->png, st->info) != (size_t)w * 3)
        return t2i_error(T2I_EFORMAT, "%s: unsupported PNG layout", path);
    st->H = (int)h;
    st->W = (int)w;
    st->pix = t2i_malloc((size_t)w * h * 3);
    st->rows = t2i_malloc(sizeof(png_bytep) * h);
    if (!st->pix || !st->rows) return T2I_ENOMEM;
    for (png_uint_32 y = 0; y < h; y++) st->rows[y] = st->pix + (size_t)y * w * 3;
    png_read_image(st->png, st->rows);
    png_read_end(st->png, NULL);
    return T2I_OK;
}

int png_read_rgb(const char *path, uint8_t **rgb, int *H, int *W) {
    *rgb = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    PngErr err = {{0}};
    PngRead st;
    memset(&st, 0, sizeof st);
    st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_err_fn, png_warn_fn);
    st.info = st.png ? png_create_info_struct(st.png) : NULL;
    int rc = (!st.png || !st.info) ? t2i_error(T2I_ENOMEM, "%s: libpng: out of memory", path)
                                   : png_read_body(&st, f, &err, path);
    png_destroy_read_struct(&st.png, &st.info, NULL);
    fclose(f);
    t2i_free(st.rows);
    if (rc) {
        t2i_free(st.pix);
        return rc;
    }
    *rgb = st.pix;
    *H = st.H;
    *W = st.W;
    return T2I_OK;
}

// ---- JPEG ---------------------------------------------------------------------------------

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
} JpegRead;

static int jpeg_read_body(JpegRead *st, JpegErr *err, FILE *f, const char *path) {
    if (setjmp(err->jb)) return t2i_error(T2I_EFORMAT, "%s: bad JPEG: %s", path, err->msg);
    jpeg_create_decompress(&st->cinfo);
    jpeg_stdio_src(&st->cinfo, f);
    jpeg_read_header(&st->cinfo, TRUE);
    if (st->cinfo.jpeg_color_space == JCS_CMYK || st->cinfo.jpeg_color_space == JCS_YCCK)
        return t2i_error(T2I_EFORMAT, "%s: CMYK JPEG is not supported", path);
    st->cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&st->cinfo);
    JDIMENSION w = st->cinfo.output_width, h = st->cinfo.output_height;
    if (w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE || st->cinfo.output_components != 3)
        return t2i_error(T2I_EFORMAT, "%s: unsupported JPEG (%ux%u, %d components)", path, w, h,
                         st->cinfo.output_components);
    st->pix = t2i_malloc((size_t)w * h * 3);
    if (!st->pix) return T2I_ENOMEM;
    while (st->cinfo.output_scanline < h) {
        JSAMPROW row = st->pix + (size_t)st->cinfo.output_scanline * w * 3;
        jpeg_read_scanlines(&st->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&st->cinfo);
    if (err->pub.num_warnings)
        return t2i_error(T2I_EFORMAT, "%s: bad JPEG (truncated): %s", path,
                         err->msg[0] ? err->msg : "premature end of file");
    return T2I_OK;
}

int jpeg_read_rgb(const char *path, uint8_t **rgb, int *H, int *W) {
    *rgb = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    JpegErr err;
    memset(&err, 0, sizeof err);
    JpegRead st;
    memset(&st, 0, sizeof st);
    st.cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_err_exit;
    err.pub.output_message = jpeg_silent;
    err.pub.emit_message = jpeg_emit;
    int rc = jpeg_read_body(&st, &err, f, path);
    int h = (int)st.cinfo.output_height, w = (int)st.cinfo.output_width;
    jpeg_destroy_decompress(&st.cinfo);
    fclose(f);
    if (rc) {
        t2i_free(st.pix);
        return rc;
    }
    *rgb = st.pix;
    *H = h;
    *W = w;
    return T2I_OK;
}

int image_read_rgb(const char *path, uint8_t **rgb, int *H, int *W) {
    *rgb = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return t2i_error(T2I_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    fclose(f);
    if (n >= 8 && png_sig_cmp(sig, 0, 8) == 0) return png_read_rgb(path, rgb, H, W);
    if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF)
        return jpeg_read_rgb(path, rgb, H, W);
    return t2i_error(T2I_EFORMAT, "%s: neither a PNG nor a JPEG file", path);
}
