// image_io.h -- PNG/JPEG files <-> uint8 RGB (H,W,3), and float (3,H,W) images -> uint8.
//
// PNG through libpng (its setjmp error handling is confined to image_io.c), JPEG through
// libjpeg(-turbo). Reading converts palette, grey, grey+alpha, RGBA (alpha dropped) and
// 16-bit PNGs to 8-bit RGB, and grey/CMYK-free JPEGs to RGB. Errors are T2I_EIO (open/read) or
// T2I_EFORMAT (corrupt data, including a truncated JPEG, which libjpeg itself only warns about)
// and name the file. A failed PNG write removes the partial file. Not supported: CMYK JPEG,
// APNG animation, gamma/colour-profile conversion (pixels are returned as stored).
#ifndef T2I_IMAGE_IO_H
#define T2I_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    QUANT_TRUNCATE = 0,   // the original AttnGAN: ((x + 1) * 127.5).astype(uint8), float32 math
    QUANT_ROUND    = 1,   // round half to even of (x + 1) * 127.5
} ImageQuant;

// chw (3,H,W) in [-1,1] -> rgb (H,W,3). Values are clamped to [0,255] after scaling (NaN -> 0).
void image_quantize(uint8_t *rgb, const float *chw, int H, int W, ImageQuant q);

// Writes an 8-bit RGB PNG (rgb (H,W,3), rows top to bottom).
int png_write_rgb(const char *path, const uint8_t *rgb, int H, int W);

// Reads a PNG or JPEG (detected by its first bytes) into a t2i_malloc'd (H,W,3) buffer.
int image_read_rgb(const char *path, uint8_t **rgb /* OUT */, int *H /* OUT */, int *W /* OUT */);
int png_read_rgb(const char *path, uint8_t **rgb /* OUT */, int *H /* OUT */, int *W /* OUT */);
int jpeg_read_rgb(const char *path, uint8_t **rgb /* OUT */, int *H /* OUT */, int *W /* OUT */);

#endif
