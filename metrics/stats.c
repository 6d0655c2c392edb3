// stats.c -- see stats.h.
#include "stats.h"
#include "t2i.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

// LAPACK (Fortran ABI, exported by libopenblas): the two trailing size_t are the hidden lengths
// of the character arguments that gfortran passes.
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

// ---- exact fixed-point sums -----------------------------------------------------------------

static void neg192(uint64_t t[3]) {
    uint64_t c = 1;
    for (int i = 0; i < 3; i++) {
        t[i] = ~t[i] + c;
        c = c && t[i] == 0;
    }
}

static int add192(uint64_t *s, const uint64_t t[3]) {
    unsigned sa = (unsigned)(s[2] >> 63), st = (unsigned)(t[2] >> 63);
    uint64_t c = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t x = s[i] + t[i];
        uint64_t c1 = x < s[i];
        uint64_t y = x + c;
        uint64_t c2 = y < x;
        s[i] = y;
        c = c1 | c2;
    }
    unsigned sr = (unsigned)(s[2] >> 63);
    return sa == st && sr != sa;
}

int xsum_add(XSum *s, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int ex = (int)((bits >> 52) & 0x7ff);
    if (ex == 0x7ff) return 1;   // inf or nan
    if (ex == 0) return 0;       // zero or subnormal (< 2^-1022): rounds to zero
    if (ex - 1023 >= 76) return 1;   // |v| >= 2^76
    uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);   // 2^52 <= m < 2^53
    int sh = ex - 1075 + XSUM_FRAC_BITS;   // |v| 2^112 = m 2^sh
    uint64_t t[3] = {0, 0, 0};
    if (sh >= 0) {
        int limb = sh / 64, bit = sh % 64;
        t[limb] = m << bit;
        if (bit && limb + 1 < 3) t[limb + 1] = m >> (64 - bit);
    } else {
        int r = -sh;
        if (r >= 54) return 0;   // m < 2^53 <= 2^(r-1): rounds to zero
        uint64_t q = m >> r, rem = m & ((UINT64_C(1) << r) - 1), half = UINT64_C(1) << (r - 1);
        if (rem > half || (rem == half && (q & 1))) q++;   // round half to even
        t[0] = q;
    }
    if (bits >> 63) neg192(t);
    return add192(s->w, t);
}

int xsum_merge(XSum *dst, const XSum *src) { return add192(dst->w, src->w); }

// Bits [lo, lo+63] of a 192-bit magnitude (lo may be negative: zero-filled below bit 0).
static uint64_t bits64(const uint64_t a[3], int lo) {
    if (lo < 0) return a[0] << (-lo);
    int limb = lo / 64, b = lo % 64;
    uint64_t x = a[limb] >> b;
    if (b && limb + 1 < 3) x |= a[limb + 1] << (64 - b);
    return x;
}

double xsum_value(const XSum *s) {
    uint64_t a[3] = {s->w[0], s->w[1], s->w[2]};
    int neg = (int)(a[2] >> 63);
    if (neg) neg192(a);
    int limb = 2;
    while (limb >= 0 && a[limb] == 0) limb--;
    if (limb < 0) return 0.0;
    int p = 64 * limb + 63 - __builtin_clzll(a[limb]);   // top set bit
    int lo = p - 63;
    uint64_t x = bits64(a, lo);
    int sticky = 0;
    if (lo > 0) {
        int l = lo / 64, b = lo % 64;
        for (int i = 0; i < l; i++) sticky |= a[i] != 0;
        if (b) sticky |= (a[l] & ((UINT64_C(1) << b) - 1)) != 0;
    }
    // 64 bits hold the 53-bit mantissa, the round bit and 10 sticky bits: folding the lower
    // sticky information into bit 0 keeps the hardware's round-to-nearest-even correct.
    x |= (uint64_t)sticky;
    double r = ldexp((double)x, lo - XSUM_FRAC_BITS);
    return neg ? -r : r;
}

// ---- dtype conversion -----------------------------------------------------------------------

int stats_to_f64(double *dst, const void *src, DType dt, size_t n) {
    switch (dt) {
    case DT_F64:
        memcpy(dst, src, n * sizeof(double));
        return T2I_OK;
    case DT_F32: {
        const float *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (double)s[i];
        return T2I_OK;
    }
    case DT_F16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (double)f16_to_f32(s[i]);
        return T2I_OK;
    }
    default:
        return t2i_error(T2I_EARG, "expected float64, float32 or float16 values, got %s",
                         dtype_name(dt));
    }
}

// ---- streaming mean and covariance ----------------------------------------------------------

void meancov_free(MeanCov *mc) {
    if (!mc) return;
    t2i_free(mc->sum);
    t2i_free(mc->gram);
    t2i_free(mc->pending);
    t2i_free(mc->scratch);
    memset(mc, 0, sizeof *mc);
}

int meancov_init(MeanCov *mc, int D, int block_rows) {
    memset(mc, 0, sizeof *mc);
    if (D < 1) return t2i_error(T2I_EARG, "meancov: feature dimension %d < 1", D);
    if (block_rows <= 0) block_rows = MEANCOV_BLOCK_ROWS;
    if (block_rows > MEANCOV_MAX_BLOCK)
        return t2i_error(T2I_EARG, "meancov: block_rows %d > %d", block_rows, MEANCOV_MAX_BLOCK);
    mc->D = D;
    mc->block_rows = block_rows;
    size_t d = (size_t)D, npk, nsq, npend;
    if (!t2i_mul_size(d, d + 1, &npk) || !t2i_mul_size(d, d, &nsq) ||
        !t2i_mul_size((size_t)block_rows, d, &npend))
        return t2i_error(T2I_ENOMEM, "meancov: D=%d too large", D);
    npk /= 2;
    mc->sum = t2i_calloc(d, sizeof(XSum));
    mc->gram = t2i_calloc(npk, sizeof(XSum));
    mc->pending = t2i_calloc(npend, sizeof(double));
    mc->scratch = t2i_calloc(nsq, sizeof(double));
    if (!mc->sum || !mc->gram || !mc->pending || !mc->scratch) {
        meancov_free(mc);
        return t2i_error(T2I_ENOMEM, "meancov: out of memory for D=%d", D);
    }
    return T2I_OK;
}

// Column sums of rows (nrows, D) in row order, in double.
static void col_sums(const double *rows, int nrows, int D, double *out) {
    for (int j = 0; j < D; j++) out[j] = 0.0;
    for (int r = 0; r < nrows; r++) {
        const double *x = rows + (size_t)r * D;
        for (int j = 0; j < D; j++) out[j] += x[j];
    }
}

// Upper triangle of rows^T rows (D, D) into g (row-major).
static void block_gram(const double *rows, int nrows, int D, double *g) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, D, nrows, 1.0, rows, D, 0.0, g, D);
}

// Folds rows (nrows, D) into the exact sums as one block.
static void fold_block(MeanCov *mc, const double *rows, int nrows) {
    int D = mc->D;
    double *g = mc->scratch;
    col_sums(rows, nrows, D, g);   // scratch row 0 holds the column sums for a moment
    for (int j = 0; j < D; j++) mc->overflow |= xsum_add(&mc->sum[j], g[j]);
    block_gram(rows, nrows, D, g);
    size_t k = 0;
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) mc->overflow |= xsum_add(&mc->gram[k++], g[(size_t)i * D + j]);
    mc->n_folded += nrows;
}

int meancov_add(MeanCov *mc, const void *x, DType dt, int64_t n) {
    if (n < 0) return t2i_error(T2I_EARG, "meancov: negative row count %lld", (long long)n);
    if (dt != DT_F64 && dt != DT_F32 && dt != DT_F16)
        return t2i_error(T2I_EARG, "meancov: features must be float64/32/16, got %s",
                         dtype_name(dt));
    int D = mc->D;
    size_t esz = dtype_size(dt);
    const unsigned char *p = x;
    for (int64_t r = 0; r < n; r++) {
        double *dst = mc->pending + (size_t)mc->n_pending * D;
        stats_to_f64(dst, p + (size_t)r * D * esz, dt, (size_t)D);
        for (int j = 0; j < D; j++) {
            if (!isfinite(dst[j]))
                return t2i_error(T2I_EARG, "meancov: feature row %lld column %d is not finite (%g)",
                                 (long long)r, j, dst[j]);
            if (fabs(dst[j]) >= MEANCOV_MAX_ABS)
                return t2i_error(T2I_EARG, "meancov: feature row %lld column %d is %g; |x| must "
                                           "stay below 2^32 for the exact sums", (long long)r, j,
                                 dst[j]);
        }
        mc->n_pending++;
        mc->n++;
        if (mc->n_pending == mc->block_rows) {
            fold_block(mc, mc->pending, mc->n_pending);
            mc->n_pending = 0;
        }
    }
    if (mc->overflow)
        return t2i_error(T2I_EARG, "meancov: feature magnitudes too large for the exact sums "
                                   "(|x|^2 block sums must stay below 2^76)");
    return T2I_OK;
}

int meancov_merge(MeanCov *dst, const MeanCov *src) {
    if (dst->D != src->D || dst->block_rows != src->block_rows)
        return t2i_error(T2I_ESHAPE, "meancov merge: D %d vs %d, block_rows %d vs %d", dst->D,
                         src->D, dst->block_rows, src->block_rows);
    if (dst->n_pending > 0) {
        fold_block(dst, dst->pending, dst->n_pending);
        dst->n_pending = 0;
    }
    int D = dst->D;
    for (int j = 0; j < D; j++) dst->overflow |= xsum_merge(&dst->sum[j], &src->sum[j]);
    size_t npk = (size_t)D * ((size_t)D + 1) / 2;
    for (size_t k = 0; k < npk; k++) dst->overflow |= xsum_merge(&dst->gram[k], &src->gram[k]);
    memcpy(dst->pending, src->pending, (size_t)src->n_pending * D * sizeof(double));
    dst->n_pending = src->n_pending;
    dst->n += src->n;
    dst->n_folded += src->n_folded;
    dst->overflow |= src->overflow;
    if (dst->overflow) return t2i_error(T2I_EARG, "meancov merge: exact sums overflowed");
    return T2I_OK;
}

int meancov_finalize(const MeanCov *mc, double *mu, double *sigma) {
    if (mc->overflow) return t2i_error(T2I_EARG, "meancov: exact sums overflowed");
    if (mc->n < 2)
        return t2i_error(T2I_EARG, "covariance needs at least 2 rows (ddof 1), got %lld",
                         (long long)mc->n);
    int D = mc->D;
    double n = (double)mc->n;
    // Pending rows enter as one more block, computed into the output buffers (mc unchanged).
    if (mc->n_pending > 0) {
        col_sums(mc->pending, mc->n_pending, D, mu);
        block_gram(mc->pending, mc->n_pending, D, sigma);
    }
    double *s = mu;   // s_j overwritten by mu_j after use below; keep exact totals first
    for (int j = 0; j < D; j++) {
        XSum t = mc->sum[j];
        if (mc->n_pending > 0 && xsum_add(&t, s[j]))
            return t2i_error(T2I_EARG, "meancov: exact sums overflowed");
        s[j] = xsum_value(&t);
    }
    size_t k = 0;
    for (int i = 0; i < D; i++) {
        for (int j = i; j < D; j++, k++) {
            XSum t = mc->gram[k];
            if (mc->n_pending > 0 && xsum_add(&t, sigma[(size_t)i * D + j]))
                return t2i_error(T2I_EARG, "meancov: exact sums overflowed");
            double q = xsum_value(&t);
            double c = (q - s[i] * (s[j] / n)) / (n - 1.0);
            sigma[(size_t)i * D + j] = c;
            sigma[(size_t)j * D + i] = c;
        }
    }
    for (int j = 0; j < D; j++) mu[j] = s[j] / n;
    return T2I_OK;
}

// ---- symmetric eigendecomposition -----------------------------------------------------------

int sym_eig(int n, double *a, double *w, int vectors) {
    if (n < 1) return t2i_error(T2I_EARG, "sym_eig: n = %d", n);
    const char jobz = vectors ? 'V' : 'N', uplo = 'L';   // column-major L = row-major upper
    int lda = n, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0;
    dsyevd_(&jobz, &uplo, &n, a, &lda, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    if (info != 0) return t2i_error(T2I_EFORMAT, "dsyevd workspace query failed (info %d)", info);
    lwork = (int)wq;
    liwork = iwq;
    double *work = t2i_malloc((size_t)lwork * sizeof(double));
    int *iwork = t2i_malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        t2i_free(work);
        t2i_free(iwork);
        return t2i_error(T2I_ENOMEM, "sym_eig: no memory for LAPACK workspace (n=%d)", n);
    }
    dsyevd_(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    t2i_free(work);
    t2i_free(iwork);
    if (info != 0)
        return t2i_error(T2I_EFORMAT, "dsyevd did not converge (info %d, n=%d)", info, n);
    return T2I_OK;
}
