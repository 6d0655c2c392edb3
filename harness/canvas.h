// canvas.h -- small RGB canvases for the HTML report's composed figures (stage strips,
// AttnGAN-style attention grids): fill, image blits with nearest / box scaling, the
// attention overlay, and text in an embedded 5x7 bitmap font (lower-case letters, digits and a
// little punctuation; upper case is drawn as lower case, anything else as '?'), so that no font
// library or font file is needed.
#ifndef T2I_CANVAS_H
#define T2I_CANVAS_H

#include <stdint.h>

typedef struct {
    int      W, H;
    uint8_t *px;   // (H, W, 3)
} Canvas;

int  canvas_init(Canvas *c /* OUT */, int W, int H, uint8_t grey);
void canvas_free(Canvas *c);   // accepts a zeroed Canvas

// Draws src (sh, sw, 3) into the box (x, y, w, h): nearest sampling when enlarging, box average
// when shrinking by an integer factor (w = sw / f), nearest otherwise. Clipped to the canvas.
void canvas_blit(Canvas *c, int x, int y, int w, int h, const uint8_t *src, int sw, int sh);

// Overlays an attention map a (R, R) on the box (x, y, w, h) already drawn, as the AttnGAN
// figures do (build_super_images): the map, normalised by (mn, mx) (the min and max over all
// words of the row) and nearest-upsampled, is pasted as a grey image at opacity 210/255 over
// the image, so attended regions are bright and the rest dark.
void canvas_attention(Canvas *c, int x, int y, int w, int h, const float *a, int R, float mn,
                      float mx);

// Text with the top-left corner at (x, y); glyphs are 5x7 dots scaled by `scale`, 1 dot
// between letters. Returns the width drawn. canvas_text_width gives it without drawing.
int  canvas_text(Canvas *c, int x, int y, const char *s, int scale, uint8_t r, uint8_t g, uint8_t b);
int  canvas_text_width(const char *s, int scale);

#endif
