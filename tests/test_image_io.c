// test_image_io.c -- PNG write/read round trip, JPEG read (written here with libjpeg), the
// AttnGAN uint8 quantisation, and errors that name the file.
#include "image_io.h"
#include "resize.h"
#include "t2i.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jpeglib.h>   // after stdio.h

// Scratch files live in a fresh directory under /tmp, made in main().
static char tmp_root[64] = "/tmp/t2i_test_image_io_XXXXXX";

static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tmp_root, name);
    return buf;
}

TEST(quantize_matches_attngan) {
    // The one float -> uint8 conversion (generate's and report's PNGs, the stored bytes):
    // ((x + 1) * 127.5).astype(uint8) in float32: truncation, clamped; (3,H,W) -> (H,W,3)
    float chw[3 * 2] = {-1.0f, 1.0f, 0.0f, 0.999f, -0.5f, 2.0f};
    uint8_t rgb[6];
    chw_pm1_to_hwc_u8(rgb, chw, 1, 2, QUANTIZE_TRUNCATE);
    CHECK(rgb[0] == 0 && rgb[3] == 255);    // channel 0 of pixels 0 and 1
    CHECK(rgb[1] == 127 && rgb[4] == 254);  // 127.5 -> 127; 254.87 -> 254
    CHECK(rgb[2] == 63 && rgb[5] == 255);   // 63.75 -> 63; 382.5 clamped
    chw_pm1_to_hwc_u8(rgb, chw, 1, 2, QUANTIZE_ROUND);
    CHECK(rgb[1] == 128 && rgb[4] == 255 && rgb[2] == 64);   // 127.5 -> 128 (half to even)
    float nan_px[3] = {NAN, -3.0f, 0.0f};
    chw_pm1_to_hwc_u8(rgb, nan_px, 1, 1, QUANTIZE_TRUNCATE);
    CHECK(rgb[0] == 0 && rgb[1] == 0);
}

TEST(png_round_trip) {
    const int H = 37, W = 53;
    uint8_t *img = t2i_malloc((size_t)H * W * 3);
    for (int i = 0; i < H * W * 3; i++) img[i] = (uint8_t)(i * 7 + i / 3);
    char p[256];
    CHECK(png_write_rgb(tmp_path(p, sizeof p, "rt.png"), img, H, W) == T2I_OK);
    uint8_t *back = NULL;
    int h = 0, w = 0;
    CHECK(image_read_rgb(p, &back, &h, &w) == T2I_OK);
    CHECK(h == H && w == W && back && memcmp(back, img, (size_t)H * W * 3) == 0);
    t2i_free(back);
    t2i_free(img);
}

static int write_jpeg(const char *path, const uint8_t *rgb, int H, int W, int gray) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)W;
    c.image_height = (JDIMENSION)H;
    c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * W * (gray ? 1 : 3));
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    return 0;
}

TEST(jpeg_read) {
    const int H = 16, W = 24;
    uint8_t img[16 * 24 * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            img[(y * W + x) * 3 + 0] = 200;
            img[(y * W + x) * 3 + 1] = (uint8_t)(x * 8);
            img[(y * W + x) * 3 + 2] = 40;
        }
    char p[256];
    CHECK(write_jpeg(tmp_path(p, sizeof p, "c.jpg"), img, H, W, 0) == 0);
    uint8_t *back = NULL;
    int h, w;
    CHECK(image_read_rgb(p, &back, &h, &w) == T2I_OK);
    CHECK(h == H && w == W);
    int maxd = 0;   // quality 100: within a few levels
    for (int i = 0; back && i < H * W * 3; i++) {
        int d = abs((int)back[i] - (int)img[i]);
        if (d > maxd) maxd = d;
    }
    CHECKF(maxd <= 8, "max jpeg difference %d", maxd);
    t2i_free(back);
    uint8_t g[16 * 24];
    memset(g, 77, sizeof g);
    CHECK(write_jpeg(tmp_path(p, sizeof p, "g.jpg"), g, H, W, 1) == 0);
    CHECK(image_read_rgb(p, &back, &h, &w) == T2I_OK);   // grey -> RGB
    CHECK(back && abs(back[0] - 77) <= 1 && back[1] == back[0] && back[2] == back[0]);
    t2i_free(back);
}

TEST(errors_name_the_file) {
    uint8_t *px = NULL;
    int h, w;
    CHECK(image_read_rgb("/nonexistent/t2i/no_such_image.png", &px, &h, &w) == T2I_EIO);
    CHECK(strstr(t2i_errmsg(), "no_such_image.png") != NULL);
    char p[256];
    FILE *f = fopen(tmp_path(p, sizeof p, "junk.png"), "wb");
    fputs("not an image at all", f);
    fclose(f);
    CHECK(image_read_rgb(p, &px, &h, &w) == T2I_EFORMAT);
    CHECK(strstr(t2i_errmsg(), "junk.png") != NULL);
    // a truncated PNG: valid signature and header, data cut off
    uint8_t img[8 * 8 * 3] = {0};
    char q[256];
    CHECK(png_write_rgb(tmp_path(q, sizeof q, "full.png"), img, 8, 8) == T2I_OK);
    uint8_t *buf;
    size_t len;
    CHECK(t2i_read_file(q, &buf, &len) == T2I_OK);
    f = fopen(tmp_path(p, sizeof p, "trunc.png"), "wb");
    fwrite(buf, 1, len / 2, f);
    fclose(f);
    t2i_free(buf);
    CHECK(image_read_rgb(p, &px, &h, &w) == T2I_EFORMAT);
    CHECKF(strstr(t2i_errmsg(), "trunc.png") != NULL, "%s", t2i_errmsg());
    CHECK(px == NULL);
    CHECK(png_write_rgb("/nonexistent/t2i/no/such/dir/x.png", img, 8, 8) == T2I_EIO);
}

int main(void) {
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(quantize_matches_attngan);
    RUN(png_round_trip);
    RUN(jpeg_read);
    RUN(errors_name_the_file);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmp_root);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    return test_report("test_image_io");
}
