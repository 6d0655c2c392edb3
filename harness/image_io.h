// image_io.h -- image files <-> uint8 RGB (H,W,3), and float (3,H,W) images -> uint8.
//
// Reading: the format is detected from the first bytes (never from the name):
//   PNG   libpng: bit depths 1/2/4/8/16, grey, grey+alpha, palette (with tRNS), RGB, RGBA,
//         Adam7 interlace. 16-bit samples keep their high byte (PIL does the same for RGB,
//         RGBA and grey+alpha).
//   JPEG  libjpeg(-turbo): baseline, progressive, arithmetic, grey, YCbCr, CMYK and YCCK.
//         CMYK is read as PIL does: samples inverted (PIL always assumes the Adobe polarity),
//         then PIL's cmyk2rgb: c' = (255 - k) - (c (255 - k) + 128 ...)/255 (MULDIV255).
//   BMP   own reader: 1/4/8-bit palette, 16-bit 5-5-5 / 5-6-5, 24-bit, 32-bit (BGRX/BGRA
//         bitfields), RLE8 and RLE4, bottom-up and top-down; PIL's unpackers for 16 bit.
//   PNM   own reader: P1..P6, maxval 1..65535; samples scaled as PIL does,
//         round(v / maxval * 255) half to even.
//   TIFF  libtiff: 8/16-bit contiguous RGB(A) and grey read by scanline with PIL's rules
//         (high byte; associated alpha divided out as PIL's RGBa unpacker; MinIsWhite
//         inverted); every other layout (palette, 1/2/4 bit, tiled, planar, YCbCr, JPEG-in-TIFF,
//         CMYK) through libtiff's RGBA interface.
//   WebP  libwebp: lossy, lossless, alpha (decoded as RGBA, alpha dropped, as PIL does);
//         animated files are refused.
// Conversion to RGB is PIL's .convert('RGB'): alpha dropped (not composited), grey replicated,
// palette looked up. Where PIL differs from the sensible reading, the reader keeps the sensible
// one and says so through IMAGE_WARN_*: 16-bit greyscale (PNG, PGM, TIFF), which PIL opens as
// mode "I" and whose .convert('RGB') clips every value above 255 to white.
//
// Size limits are checked from the header, before any pixel memory is allocated: a side above
// IMAGE_MAX_SIDE or more than max_pixels pixels (IMAGE_DEFAULT_MAX_PIXELS when 0) is refused
// with T2I_ENOMEM naming the file and the size. Only regular files are read (no FIFO or device),
// up to a file size bound derived from max_pixels.
//
// Errors are T2I_EIO (open/read) or T2I_EFORMAT (not an image, corrupt data, including a
// truncated JPEG, which libjpeg itself only warns about) and name the file. A failed PNG write
// removes the partial file. Not supported: GIF, animation (APNG frames after the first, animated
// WebP), colour management (pixels are returned as stored, like PIL without ImageCms).
#ifndef T2I_IMAGE_IO_H
#define T2I_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

// (3,H,W) floats in [-1,1] become (H,W,3) bytes with chw_pm1_to_hwc_u8 (engine/ops/resize.h).

// Writes an 8-bit RGB PNG (rgb (H,W,3), rows top to bottom).
int png_write_rgb(const char *path, const uint8_t *rgb, int H, int W);

#define IMAGE_MAX_SIDE           65536
#define IMAGE_DEFAULT_MAX_PIXELS 100000000LL   // 100 megapixels

#define IMAGE_WARN_GRAY16 1u   // 16-bit greyscale: high byte kept, PIL would clip at 255

typedef enum {
    IMG_NONE = 0, IMG_PNG, IMG_JPEG, IMG_BMP, IMG_PNM, IMG_TIFF, IMG_WEBP, IMG_GIF
} ImageFormat;

// Format from the first bytes (n >= 12 recommended); IMG_NONE when not an image we know.
ImageFormat image_sniff(const uint8_t *buf, size_t n);
const char *image_format_name(ImageFormat f);

typedef struct {
    long long max_pixels;   // 0 = IMAGE_DEFAULT_MAX_PIXELS
} ImageReadOpts;

// Decodes an image held in memory; `name` is used in messages. *rgb is t2i_malloc'd (H,W,3).
// *warn (optional) receives IMAGE_WARN_* bits.
int image_decode_rgb(const uint8_t *buf, size_t n, const char *name, const ImageReadOpts *opt,
                     uint8_t **rgb /* OUT */, int *H /* OUT */, int *W /* OUT */,
                     unsigned *warn /* OUT, may be NULL */);

// Reads a file (regular files only) and decodes it.
int image_read_rgb_opts(const char *path, const ImageReadOpts *opt, uint8_t **rgb /* OUT */,
                        int *H /* OUT */, int *W /* OUT */, unsigned *warn /* OUT, may be NULL */);
// The same with the default limits; warnings are printed to stderr.
int image_read_rgb(const char *path, uint8_t **rgb /* OUT */, int *H /* OUT */, int *W /* OUT */);

// Width and height from the header only (no pixel decoding), for checking a whole folder before
// any work: PNG IHDR, JPEG SOFn, BMP, PNM and WebP headers from the first bytes, TIFF through
// libtiff's directory reading. buf/n may be a prefix of the file except for TIFF (whole file);
// T2I_EFORMAT when the header is not there or is malformed.
int image_probe(const uint8_t *buf, size_t n, const char *name, ImageFormat *fmt /* OUT */,
                long long *w /* OUT */, long long *h /* OUT */);
// Reads as much of the file as the header needs and checks the size against the pixel limit
// (the same message as decoding gives).
int image_check_file(const char *path, const ImageReadOpts *opt);

// One line describing the warning bits (for messages), "" when none.
const char *image_warn_text(unsigned warn);

// ---- per-format decoders (image_formats.c); buf/n is the whole file, name for messages ------
// Each checks the size against `max_pixels` from its header before allocating pixels.
int image_limit_check(const char *name, const char *fmt, long long w, long long h,
                      long long max_pixels);
// The BMP header size (the 32-bit field at byte 14) must be a known one: 12, 40, 52, 56, 64,
// 108 or 124; else an error naming `name`, the field and the value (decoder and probe).
int bmp_header_size_check(const char *name, uint32_t hs);
int bmp_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                   uint8_t **rgb, int *H, int *W);
int pnm_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                   uint8_t **rgb, int *H, int *W, unsigned *warn);
int tiff_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                    uint8_t **rgb, int *H, int *W, unsigned *warn);
int webp_decode_rgb(const uint8_t *buf, size_t n, const char *name, long long max_pixels,
                    uint8_t **rgb, int *H, int *W);

#endif
