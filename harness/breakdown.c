// breakdown.c -- per-class / per-length metrics and worst captions (see breakdown.h).
#include "breakdown.h"

#include "inception_score.h"
#include "t2i.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int group_key(const SuiteSample *x, BreakBy by) {
    if (by == BREAK_CLASS) return x->class_id;
    int w = x->n_words > 0 ? x->n_words : x->ntok;
    return w <= 0 ? 0 : w > 25 ? 26 : ((w - 1) / 5) * 5 + 1;
}

static void group_label(BreakRow *r, BreakBy by) {
    if (by == BREAK_CLASS) snprintf(r->label, sizeof r->label, "class %d", r->key);
    else if (r->key == 0) snprintf(r->label, sizeof r->label, "no words");
    else if (r->key == 26) snprintf(r->label, sizeof r->label, "26+ words");
    else snprintf(r->label, sizeof r->label, "%d-%d words", r->key, r->key + 4);
}

static int cmp_row(const void *a, const void *b) {
    const BreakRow *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

int breakdown(const RunSamples *s, const Suite *S, const ScoreSpec *sp, BreakBy by,
              BreakRow **rows, int *n) {
    *rows = NULL;
    *n = 0;
    int cap = 0, k = sp->rp_k > 0 ? sp->rp_k : 1;
    BreakRow *r = NULL;
    int64_t *grp = t2i_malloc(sizeof(int64_t) * (size_t)(s->n + 1));
    if (!grp) return T2I_ENOMEM;
    for (int64_t i = 0; i < s->n; i++) {
        if (s->id[i] < 0 || s->id[i] >= S->n) {
            t2i_free(grp);
            t2i_free(r);
            return t2i_error(T2I_EARG, "sample %lld is not in suite %s", (long long)s->id[i],
                             S->path);
        }
        int key = group_key(&S->s[s->id[i]], by), g = 0;
        while (g < *n && r[g].key != key) g++;
        if (g == *n) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 64;
                BreakRow *nr = t2i_realloc(r, sizeof *r * (size_t)cap);
                if (!nr) {
                    t2i_free(grp);
                    t2i_free(r);
                    return T2I_ENOMEM;
                }
                r = nr;
            }
            memset(&r[g], 0, sizeof r[g]);
            r[g].key = key;
            (*n)++;
        }
        grp[i] = key;
        BreakRow *x = &r[g];
        x->n++;
        if (s->rp_rank[i] >= 0) x->hits += s->rp_rank[i] < k;
        if (s->n_rp) {
            const float *sc = s->rp_scores + (size_t)i * s->n_rp;
            float top = sc[0];
            for (int j = 1; j < s->n_rp; j++) top = sc[j] > top ? sc[j] : top;
            x->true_score += sc[0];
            x->top_score += top;
        }
    }
    qsort(r, (size_t)*n, sizeof *r, cmp_row);
    float *rows_is = s->n_is ? t2i_malloc(sizeof(float) * (size_t)(s->n + 1) * s->n_is) : NULL;
    int rc = s->n_is && !rows_is ? T2I_ENOMEM : T2I_OK;
    for (int g = 0; g < *n && !rc; g++) {
        BreakRow *x = &r[g];
        group_label(x, by);
        x->rp = s->n && s->rp_rank[0] >= 0 ? 100.0 * (double)x->hits / (double)x->n : NAN;
        x->true_score = s->n_rp ? x->true_score / (double)x->n : NAN;
        x->top_score = s->n_rp ? x->top_score / (double)x->n : NAN;
        x->is = NAN;
        x->fid = NAN;
        x->is_state = !s->n_is ? 2 : x->n < BREAKDOWN_IS_MIN ? 1 : 0;
        if (x->is_state) continue;
        int64_t m = 0;
        for (int64_t i = 0; i < s->n; i++)
            if (grp[i] == x->key)
                memcpy(rows_is + (size_t)(m++) * s->n_is, s->is + (size_t)i * s->n_is,
                       sizeof(float) * (size_t)s->n_is);
        IsOptions o = is_options_default();
        o.splits = 1;
        o.temperature = sp->is_temperature > 0 ? sp->is_temperature : 1;
        o.class_begin = sp->is_class_end > sp->is_class_begin ? sp->is_class_begin : 0;
        o.class_end = sp->is_class_end > sp->is_class_begin ? sp->is_class_end : 0;
        IsResult res;
        if (!(rc = inception_score(rows_is, DT_F32, m, s->n_is, &o, NULL, &res))) x->is = res.mean;
    }
    t2i_free(rows_is);
    t2i_free(grp);
    if (rc) {
        t2i_free(r);
        *n = 0;
        return rc;
    }
    *rows = r;
    return T2I_OK;
}

int breakdown_fid(const RunSamples *s, const Suite *S, BreakBy by, const FidStats *ref,
                  BreakRow *rows, int n) {
    if (!s->n_fid || s->n_fid != ref->D)
        return t2i_error(T2I_EARG, "FID per group: the run stores %d features per sample, the "
                                   "statistics have dimension %d", s->n_fid, ref->D);
    float *x = t2i_malloc(sizeof(float) * (size_t)(s->n + 1) * s->n_fid);
    if (!x) return T2I_ENOMEM;
    int rc = T2I_OK;
    for (int g = 0; g < n && !rc; g++) {
        int64_t m = 0;
        for (int64_t i = 0; i < s->n; i++)
            if (s->id[i] >= 0 && s->id[i] < S->n && group_key(&S->s[s->id[i]], by) == rows[g].key)
                memcpy(x + (size_t)(m++) * s->n_fid, s->fid + (size_t)i * s->n_fid,
                       sizeof(float) * (size_t)s->n_fid);
        rows[g].fid = NAN;
        if (m < 2) continue;
        FidStats a;
        FidResult r;
        memset(&a, 0, sizeof a);
        rc = fid_stats_from_features(x, DT_F32, m, s->n_fid, &a);
        if (!rc) rc = fid_from_stats(&a, ref, &r);
        if (!rc) rows[g].fid = r.fid;
        fid_stats_free(&a);
    }
    t2i_free(x);
    return rc;
}

static int cmp_worst(const void *a, const void *b) {
    const WorstRow *x = a, *y = b;
    int dx = x->rank_b - x->rank_a, dy = y->rank_b - y->rank_a;
    if (dx != dy) return dy - dx;
    if (x->rank_b != y->rank_b) return y->rank_b - x->rank_b;
    return (x->sample > y->sample) - (x->sample < y->sample);
}

int breakdown_worst(const RunSamples *a, const RunSamples *b, int top, WorstRow **rows, int *n) {
    *rows = NULL;
    *n = 0;
    if (a->n != b->n) return t2i_error(T2I_EARG, "worst captions: the runs have %lld and %lld samples",
                                       (long long)a->n, (long long)b->n);
    WorstRow *w = t2i_malloc(sizeof *w * (size_t)(a->n + 1));
    if (!w) return T2I_ENOMEM;
    int64_t m = 0;
    for (int64_t i = 0; i < a->n; i++) {
        if (a->id[i] != b->id[i]) {
            t2i_free(w);
            return t2i_error(T2I_EARG, "worst captions: the runs hold different sample ids");
        }
        if (a->rp_rank[i] < 0 || b->rp_rank[i] < 0) continue;
        w[m++] = (WorstRow){.sample = a->id[i], .rank_a = a->rp_rank[i], .rank_b = b->rp_rank[i]};
    }
    qsort(w, (size_t)m, sizeof *w, cmp_worst);
    *rows = w;
    *n = (int)(m < top ? m : top);
    return T2I_OK;
}
