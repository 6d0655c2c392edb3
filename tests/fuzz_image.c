// fuzz_image.c -- libFuzzer entry for the image readers (image_decode_rgb: PNG, JPEG, BMP, PNM,
// TIFF, WebP, picked by the first bytes as for a file). A 4-megapixel limit keeps hostile headers
// from asking for more; the header paths must refuse anything larger before allocating.
// image_probe (the size from the header alone) runs on every input too.
#include "image_io.h"
#include "t2i.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ImageReadOpts o = {.max_pixels = 4000000};
    uint8_t *rgb = NULL;
    int H = 0, W = 0;
    unsigned warn = 0;
    ImageFormat f;
    long long w, h;
    (void)image_probe(data, size, "fuzz.img", &f, &w, &h);   // the header-only path
    if (image_decode_rgb(data, size, "fuzz.img", &o, &rgb, &H, &W, &warn) == T2I_OK) {
        volatile uint8_t sink = rgb[(size_t)H * W * 3 - 1];   // the whole buffer is there
        (void)sink;
        t2i_free(rgb);
    }
    return 0;
}
