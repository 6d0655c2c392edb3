// pool.c -- max/avg pooling (floor mode), global average pooling, nearest x2 upsampling.
#include "ops.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int pool_out(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

// ---- 3x3 fast paths (Inception's pools) -------------------------------------------------------
// Separable: a vertical pass over whole rows (4-wide vectors, GCC vector extensions so that the
// generic x86-64 build vectorizes without -O3), then a horizontal pass over that row.
typedef float v4f __attribute__((vector_size(16)));
typedef int   v4i __attribute__((vector_size(16)));
static inline v4f ld4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st4(float *p, v4f v) { memcpy(p, &v, sizeof v); }
// max that propagates NaN from either side, as PyTorch's max pool does
static inline v4f vmax_nan(v4f a, v4f b) {
    v4i take_b = (b > a) | (b != b);
    return (v4f)((take_b & (v4i)b) | (~take_b & (v4i)a));
}
static inline float max_nan(float a, float b) { return (b > a || isnan(b)) ? b : a; }

#define POOL_ROW_MAX 2048

// Rows [h0, h1) of plane x combined into row (W floats).
static void rows_max(float *row, const float *x, int W, int h0, int h1) {
    memcpy(row, x + (size_t)h0 * W, sizeof(float) * (size_t)W);
    for (int h = h0 + 1; h < h1; h++) {
        const float *r = x + (size_t)h * W;
        int          i = 0;
        for (; i + 4 <= W; i += 4) st4(row + i, vmax_nan(ld4(row + i), ld4(r + i)));
        for (; i < W; i++) row[i] = max_nan(row[i], r[i]);
    }
}

static void rows_sum(float *row, const float *x, int W, int h0, int h1) {
    memcpy(row, x + (size_t)h0 * W, sizeof(float) * (size_t)W);
    for (int h = h0 + 1; h < h1; h++) {
        const float *r = x + (size_t)h * W;
        int          i = 0;
        for (; i + 4 <= W; i += 4) st4(row + i, ld4(row + i) + ld4(r + i));
        for (; i < W; i++) row[i] += r[i];
    }
}

static void maxpool3(float *out, const float *in, size_t planes, int H, int W, int s, int p) {
    int   OH = pool_out(H, 3, s, p), OW = pool_out(W, 3, s, p);
    float row[POOL_ROW_MAX], pm[POOL_ROW_MAX];
    for (size_t bc = 0; bc < planes; bc++) {
        const float *x = in + bc * H * W;
        float       *y = out + bc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * s - p, h1 = h0 + 3;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            rows_max(row, x, W, h0, h1);
            // pairwise maxima pm[i] = max(row[i], row[i+1]);
            // a full window is max(pm[w0], row[w0+2])
            int i = 0;
            for (; i + 4 <= W - 1; i += 4) st4(pm + i, vmax_nan(ld4(row + i), ld4(row + i + 1)));
            for (; i < W - 1; i++) pm[i] = max_nan(row[i], row[i + 1]);
            float *yr = y + (size_t)oh * OW;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * s - p, w1 = w0 + 3;
                if (w0 >= 0 && w1 <= W) {
                    yr[ow] = max_nan(pm[w0], row[w0 + 2]);
                    continue;
                }
                if (w0 < 0) w0 = 0;
                if (w1 > W) w1 = W;
                float m = row[w0];
                for (int w = w0 + 1; w < w1; w++) m = max_nan(m, row[w]);
                yr[ow] = m;
            }
        }
    }
}

// 3x3 stride 1 pad 1 average (the Inception pool branch).
static void avgpool3s1(float *out, const float *in, size_t planes, int H, int W,
                       int count_include_pad) {
    float row[POOL_ROW_MAX];
    for (size_t bc = 0; bc < planes; bc++) {
        const float *x = in + bc * H * W;
        float       *y = out + bc * H * W;
        for (int oh = 0; oh < H; oh++) {
            int h0 = oh - 1, h1 = oh + 2;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            rows_sum(row, x, W, h0, h1);
            float *yr = y + (size_t)oh * W;
            int    nh = h1 - h0;
            for (int ow = 0; ow < W; ow++) {
                int   w0 = ow - 1 < 0 ? 0 : ow - 1, w1 = ow + 2 > W ? W : ow + 2;
                float sum = row[w0];
                for (int w = w0 + 1; w < w1; w++) sum += row[w];
                int div = count_include_pad ? 9 : nh * (w1 - w0);
                yr[ow] = sum / (float)div;
            }
        }
    }
}

// https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
// in (B,C,H,W) -> out (B,C,OH,OW); padded positions never win (PyTorch pads with -inf).
void maxpool2d_forward(float *out, const float *in, int B, int C, int H, int W, int k, int s,
                       int p) {
    assert(out != in);
    if (k == 3 && p <= 1 && W <= POOL_ROW_MAX) {
        maxpool3(out, in, (size_t)B * C, H, W, s, p);
        return;
    }
    int OH = pool_out(H, k, s, p), OW = pool_out(W, k, s, p);
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = in + bc * H * W;
        float       *y = out + bc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * s - p, h1 = h0 + k;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * s - p, w1 = w0 + k;
                if (w0 < 0) w0 = 0;
                if (w1 > W) w1 = W;
                float m = -INFINITY;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        float v = x[(size_t)ih * W + iw];
                        if (v > m || isnan(v)) m = v;
                    }
                y[(size_t)oh * OW + ow] = m;
            }
        }
    }
}

// https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html
// The divisor follows PyTorch: with count_include_pad the window clipped to the padded extent,
// otherwise the window clipped to the input.
void avgpool2d_forward(float *out, const float *in, int B, int C, int H, int W, int k, int s,
                       int p, int count_include_pad) {
    assert(out != in);
    if (k == 3 && s == 1 && p == 1 && W <= POOL_ROW_MAX) {
        avgpool3s1(out, in, (size_t)B * C, H, W, count_include_pad);
        return;
    }
    int OH = pool_out(H, k, s, p), OW = pool_out(W, k, s, p);
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = in + bc * H * W;
        float       *y = out + bc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * s - p, h1 = h0 + k;
            if (h1 > H + p) h1 = H + p;
            int ph = h1 - h0;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * s - p, w1 = w0 + k;
                if (w1 > W + p) w1 = W + p;
                int pwid = w1 - w0;
                if (w0 < 0) w0 = 0;
                if (w1 > W) w1 = W;
                float sum = 0.0f;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) sum += x[(size_t)ih * W + iw];
                int div = count_include_pad ? ph * pwid : (h1 - h0) * (w1 - w0);
                y[(size_t)oh * OW + ow] = sum / (float)div;
            }
        }
    }
}

// in (B,C,HW) -> out (B,C)
void global_avgpool_forward(float *out, const float *in, int B, int C, int HW) {
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = in + bc * HW;
        double sum = 0.0;
        for (int i = 0; i < HW; i++) sum += x[i];
        out[bc] = (float)(sum / HW);
    }
}

// in (B,C,H,W) -> out (B,C,2H,2W)
void upsample_nearest2x_forward(float *out, const float *in, int B, int C, int H, int W) {
    assert(out != in);
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = in + bc * H * W;
        float       *y = out + bc * 4 * H * W;
        for (int oh = 0; oh < 2 * H; oh++) {
            const float *xr = x + (size_t)(oh / 2) * W;
            float       *yr = y + (size_t)oh * 2 * W;
            for (int ow = 0; ow < W; ow++) yr[2 * ow] = yr[2 * ow + 1] = xr[ow];
        }
    }
}
