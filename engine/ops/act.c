// act.c -- elementwise activations, GLU and row softmax.
#include "ops.h"

#include <assert.h>
#include <math.h>
#include <string.h>

void relu_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void leaky_relu_forward(float *out, const float *in, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : in[i] * slope;
}

// https://pytorch.org/docs/stable/generated/torch.nn.Sigmoid.html
void sigmoid_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

void tanh_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
}

// https://pytorch.org/docs/stable/generated/torch.nn.GLU.html (dim=1)
// in (B,2C,HW) -> out (B,C,HW)
void glu_forward(float *out, const float *in, int B, int C, int HW) {
    assert(out != in);
    size_t half = (size_t)C * HW;
    for (int b = 0; b < B; b++) {
        const float *a = in + (size_t)b * 2 * half;
        const float *g = a + half;
        float       *y = out + (size_t)b * half;
        for (size_t i = 0; i < half; i++) y[i] = a[i] * (1.0f / (1.0f + expf(-g[i])));
    }
}

// in (rows, cols) -> out (rows, cols); exp and sum in double.
void softmax_rows(float *out, const float *in, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * cols;
        float       *y = out + (size_t)r * cols;
        double mx = -INFINITY;
        for (int c = 0; c < cols; c++)
            if (x[c] > mx || isnan(x[c])) mx = x[c];
        double sum = 0.0;
        for (int c = 0; c < cols; c++) sum += exp((double)x[c] - mx);
        for (int c = 0; c < cols; c++) y[c] = (float)(exp((double)x[c] - mx) / sum);
    }
}
