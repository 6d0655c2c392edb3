// test_argsort.c -- argsort_numpy_i64 (engine/text/tokenizer.c) against numpy 1.24's np.argsort on
// tests/fixtures/argsort (tools/make_argsort_fixture.py: 320 int64 arrays of 1..300 keys with
// many ties, sorted runs, and McIlroy adversaries that reach numpy's heapsort fallback), and the
// caption order of token_batch_build (np.argsort(cap_lens)[::-1]) on batches longer than 16.
#include "npy.h"
#include "t2i.h"
#include "test.h"
#include "tokenizer.h"
#include "vocab.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    NpyArray keys, sizes, order;
    int      ok;
} Fixture;

static Fixture fx;

static void fixture_load(void) {
    const char *dir = "tests/fixtures/argsort";
    char p[1024];
    snprintf(p, sizeof p, "%s/keys.npy", dir);
    int rc = npy_load(p, &fx.keys);
    snprintf(p, sizeof p, "%s/sizes.npy", dir);
    if (!rc) rc = npy_load(p, &fx.sizes);
    snprintf(p, sizeof p, "%s/argsort.npy", dir);
    if (!rc) rc = npy_load(p, &fx.order);
    if (rc) {
        fprintf(stderr, "argsort fixture: %s\n", t2i_errmsg());
        return;
    }
    int64_t total = 0;
    for (size_t i = 0; i < fx.sizes.numel; i++) total += ((const int64_t *)fx.sizes.data)[i];
    fx.ok = fx.keys.dtype == DT_I64 && fx.sizes.dtype == DT_I64 && fx.order.dtype == DT_I64 &&
            (size_t)total == fx.keys.numel && fx.keys.numel == fx.order.numel;
}

// Stable ascending argsort (what a naive implementation would do), to show that the fixture
// tells the two apart.
static void argsort_stable(int *order, const int64_t *v, int n) {
    for (int i = 0; i < n; i++) {
        int k = i;
        while (k > 0 && v[order[k - 1]] > v[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
}

TEST(argsort_matches_numpy_fixture) {
    CHECK(fx.ok);
    if (!fx.ok) return;
    const int64_t *keys = fx.keys.data, *sizes = fx.sizes.data, *want = fx.order.data;
    CHECK(fx.sizes.numel == 320);
    size_t off = 0;
    int bad = 0, differs_from_stable = 0, cases = 0;
    int *got = t2i_malloc(sizeof(int) * 512), *st = t2i_malloc(sizeof(int) * 512);
    for (size_t c = 0; c < fx.sizes.numel; c++) {
        int n = (int)sizes[c];
        CHECK(n >= 1 && n <= 512);
        if (n < 1 || n > 512) break;
        for (int i = 0; i < n; i++) got[i] = -1;
        argsort_numpy_i64(got, keys + off, n);
        int same = 1;
        for (int i = 0; i < n; i++) same &= got[i] == want[off + i];
        if (!same && bad++ < 5) {
            fprintf(stderr, "    case %zu (n %d): first difference", c, n);
            for (int i = 0; i < n; i++)
                if (got[i] != want[off + i]) {
                    fprintf(stderr, " at %d: got %d, numpy %lld\n", i, got[i],
                            (long long)want[off + i]);
                    break;
                }
        }
        argsort_stable(st, keys + off, n);
        int stable_same = 1;
        for (int i = 0; i < n; i++) stable_same &= st[i] == want[off + i];
        differs_from_stable += !stable_same;
        if (n <= 16) CHECKF(stable_same, "case %zu: numpy is an insertion sort up to 16", c);
        off += (size_t)n;
        cases++;
    }
    CHECKF(bad == 0, "%d of %d cases differ from numpy", bad, cases);
    CHECKF(differs_from_stable > 200, "only %d cases tell numpy's order from a stable sort",
           differs_from_stable);
    if (getenv("T2I_TEST_VERBOSE"))
        printf("argsort: %d cases, %d exact, %d of them differ from a stable sort\n", cases,
               cases - bad, differs_from_stable);
    t2i_free(got);
    t2i_free(st);
}

TEST(argsort_edge_cases) {
    int o[3] = {7, 7, 7};
    argsort_numpy_i64(o, NULL, 0);   // n = 0 writes nothing
    CHECK(o[0] == 7);
    int64_t one = 5;
    argsort_numpy_i64(o, &one, 1);
    CHECK(o[0] == 0);
    // extremes of int64 compare as signed
    int64_t v[20];
    for (int i = 0; i < 20; i++) v[i] = (i % 3 == 0) ? INT64_MIN : (i % 3 == 1) ? INT64_MAX : 0;
    int p[20];
    argsort_numpy_i64(p, v, 20);
    for (int i = 1; i < 20; i++) CHECK(v[p[i - 1]] <= v[p[i]]);
    int seen[20] = {0};
    for (int i = 0; i < 20; i++) seen[p[i]]++;
    for (int i = 0; i < 20; i++) CHECK(seen[i] == 1);
}

// token_batch_build orders rows as np.argsort(cap_lens)[::-1]: captions whose lengths are the
// keys of fixture cases with n > 16 and keys <= 18 must come out in numpy's reversed order.
TEST(caption_batch_order_matches_numpy) {
    CHECK(fx.ok);
    if (!fx.ok) return;
    char p[1024];
    Vocab v;
    CHECKF(vocab_load_pickle(test_fixture_path(p, sizeof p, "vocab_pickle/captions.pickle"),
                             &v) == T2I_OK, "%s", t2i_errmsg());
    if (test_cur_failed) return;
    CHECK(vocab_lookup(&v, "bird") >= 0);
    const int64_t *keys = fx.keys.data, *sizes = fx.sizes.data, *want = fx.order.data;
    size_t off = 0;
    int used = 0;
    for (size_t c = 0; c < fx.sizes.numel && used < 12; c++) {
        int n = (int)sizes[c];
        int64_t mx = 0;
        for (int i = 0; i < n; i++) mx = keys[off + i] > mx ? keys[off + i] : mx;
        if (n > 16 && n <= 120 && mx <= 18) {
            char **caps = t2i_calloc((size_t)n, sizeof *caps);
            for (int i = 0; i < n; i++) {
                caps[i] = t2i_malloc(5 * (size_t)keys[off + i] + 1);
                caps[i][0] = '\0';
                for (int k = 0; k < keys[off + i]; k++) strcat(caps[i], "bird ");
            }
            TokenBatch tb;
            CHECK(token_batch_build(&v, (const char *const *)caps, n, 0, TRUNC_HEAD, NULL, 0,
                                    &tb) == T2I_OK);
            int same = tb.n == n;
            for (int r = 0; same && r < n; r++) same = tb.order[r] == want[off + n - 1 - r];
            CHECKF(same, "case %zu (n %d): batch order differs from argsort[::-1]", c, n);
            for (int r = 0; same && r < n; r++) CHECK(tb.lens[r] == keys[off + tb.order[r]]);
            token_batch_free(&tb);
            for (int i = 0; i < n; i++) t2i_free(caps[i]);
            t2i_free(caps);
            used++;
        }
        off += (size_t)n;
    }
    CHECK(used >= 10);
    vocab_free(&v);
}

int main(void) {
    fixture_load();
    RUN(argsort_matches_numpy_fixture);
    RUN(argsort_edge_cases);
    RUN(caption_batch_order_matches_numpy);
    npy_free(&fx.keys);
    npy_free(&fx.sizes);
    npy_free(&fx.order);
    return test_report("test_argsort");
}
