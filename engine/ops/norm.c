// norm.c -- BatchNorm2d/1d in eval mode with the module's eps.
#include "ops.h"

#include <assert.h>
#include <math.h>

// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
// in (B,C,HW) -> out (B,C,HW): y = (x - mean) / sqrt(var + eps) * gamma + beta
void batchnorm_forward(float *out, const float *in, const BatchNorm *m, int B, int HW) {
    assert(B >= 0 && HW >= 0);
    for (int c = 0; c < m->C; c++) {
        float inv   = 1.0f / sqrtf(m->var[c] + m->eps);
        float gamma = m->weight ? m->weight[c] : 1.0f;
        float beta  = m->bias ? m->bias[c] : 0.0f;
        float mean  = m->mean[c];
        float scale = inv * gamma;
        for (int b = 0; b < B; b++) {
            size_t       off = ((size_t)b * m->C + c) * (size_t)HW;
            const float *x   = in + off;
            float       *y   = out + off;
            for (int i = 0; i < HW; i++) y[i] = (x[i] - mean) * scale + beta;
        }
    }
}
