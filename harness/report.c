// report.c -- `t2ibench report RUN [RUN...] --out DIR`: one self-contained HTML page.
//
// DIR/index.html with PNG files in DIR/img/ (no network access, no JavaScript, charts as inline
// SVG, figure text drawn with the embedded bitmap font of canvas.h). Sections, each a
// <section id=...>: metrics, comparison (paired statistics of every run against the first, with
// not-comparable marks), samples (grid: each run's image of the chosen samples, caption under
// it), stages (64/128/256 px strips) and attention (AttnGAN-style: a row per attention stage,
// each word's map overlaid on the image, the word above it), classes (per-class and per-length
// tables), worst (worst captions between the first two runs, with both images), timings (bar
// chart), history (the metrics of every complete run of the same suite and protocol in the
// database, line chart), provenance. Images are regenerated from the stored runs (regen.h) and
// shown only when their hash equals the stored one.
#include "args.h"
#include "breakdown.h"
#include "canvas.h"
#include "cli.h"
#include "image_io.h"
#include "paired_runs.h"
#include "regen.h"
#include "resize.h"
#include "results.h"
#include "samples.h"
#include "t2i.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 8
#define MAX_GRID 32
#define FIG_SAMPLES 2     // samples with stage strips and attention figures
#define TILE 128

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};

typedef struct {
    ResRun     r;
    RunSamples s;
    ScoreSpec  sp;
    int        have_spec;
    Regen     *g;
    char       regen_err[512];   // why images of this run cannot be shown ("" = they can)
    PairedRuns pr;               // against run 0 (runs 1..)
} RRun;

typedef struct {
    int64_t id;
    char    model[128];
    double  v[3];   // is, rp, fid (NaN when absent)
} HistRow;

typedef struct {
    const char *out;
    FILE       *f;
    RRun       *runs;
    int         n;
    Suite       S;
    int64_t     grid[MAX_GRID];
    int         n_grid;
    HistRow    *hist;
    int         n_hist;
    WorstRow   *worst;
    int         n_worst;
    char        worst_err[256];
} Report;

// ---- small helpers -------------------------------------------------------------------------


static void fmt_num(char *b, size_t n, double v) {
    if (!isfinite(v)) snprintf(b, n, "-");
    else snprintf(b, n, "%.5g", v);
}

static int64_t pos_of(const RunSamples *s, int64_t id) {
    for (int64_t i = 0; i < s->n; i++)
        if (s->id[i] == id) return i;
    return -1;
}

static int write_png(const Report *R, const char *name, const uint8_t *rgb, int H, int W) {
    char path[4096];
    snprintf(path, sizeof path, "%s/img/%s", R->out, name);
    return png_write_rgb(path, rgb, H, W);
}

// ---- figures -------------------------------------------------------------------------------

// img/r<run>_s<id>.png (256 px, the stored bytes), and for figures the stage strip and the
// attention grid. Returns T2I_OK with *shown = 0 when the run cannot show the sample (reason in
// msg), an error only for I/O failures.
static int draw_sample(Report *R, RRun *x, int64_t id, int figures, int *shown, char *msg,
                       size_t msgn) {
    *shown = 0;
    msg[0] = 0;
    if (!x->g) {
        snprintf(msg, msgn, "%s", x->regen_err);
        return T2I_OK;
    }
    int64_t p = pos_of(&x->s, id);
    if (p < 0) {
        snprintf(msg, msgn, "sample %lld is not stored in run %lld", (long long)id, (long long)x->r.id);
        return T2I_OK;
    }
    RegenSample rs;
    if (regen_sample(x->g, id, x->s.sha[p], &rs)) {
        snprintf(msg, msgn, "not shown: %s", t2i_errmsg());
        return T2I_OK;
    }
    char name[128];
    snprintf(name, sizeof name, "r%lld_s%lld.png", (long long)x->r.id, (long long)id);
    int rc = write_png(R, name, rs.u8, 256, 256);
    // Stage strips and attention figures need the stage images and maps (not DF-GAN).
    if (rc || !figures || !rs.img[0] || !rs.img[1] || !rs.att[0] || !rs.att[1]) {
        *shown = !rc;
        return rc;
    }
    // Stage strip: 64, 128, 256 px at their own sizes, bottom-aligned, size above each.
    uint8_t *rgb = t2i_malloc((size_t)256 * 256 * 3);
    Canvas c;
    memset(&c, 0, sizeof c);
    if (!rgb || canvas_init(&c, 64 + 128 + 256 + 4 * 8, 256 + 28, 255)) {
        t2i_free(rgb);
        return T2I_ENOMEM;
    }
    int xo = 8;
    for (int s = 0; s < 3; s++) {
        int px = 64 << s;
        if (s < 2) chw_pm1_to_hwc_u8(rgb, rs.img[s], px, px, QUANTIZE_TRUNCATE);
        canvas_blit(&c, xo, 24 + 256 - px, px, px, s < 2 ? rgb : rs.u8, px, px);
        char lab[16];
        snprintf(lab, sizeof lab, "%d px", px);
        canvas_text(&c, xo, 24 + 256 - px - 18, lab, 2, 40, 40, 40);
        xo += px + 8;
    }
    snprintf(name, sizeof name, "r%lld_s%lld_stages.png", (long long)x->r.id, (long long)id);
    rc = write_png(R, name, c.px, c.H, c.W);
    canvas_free(&c);
    // Attention: row s-1 = attention stage s (maps R = 32<<s over the 64<<s px image), tiles
    // of TILE px; column 0 the image itself, then one column per word with the word above.
    int cols = 1 + rs.len, band = 22;
    if (!rc && canvas_init(&c, cols * (TILE + 8) + 4, 2 * (TILE + band + 4) + 4, 255)) rc = T2I_ENOMEM;
    for (int s = 1; !rc && s < 3; s++) {
        int px = 64 << s, Rm = 32 << s, y = 4 + (s - 1) * (TILE + band + 4) + band;
        if (s < 2) chw_pm1_to_hwc_u8(rgb, rs.img[s], px, px, QUANTIZE_TRUNCATE);
        const uint8_t *im = s < 2 ? rgb : rs.u8;
        char lab[16];
        snprintf(lab, sizeof lab, "%d px", px);
        canvas_text(&c, 4, y - band + 4, lab, 2, 40, 40, 40);
        canvas_blit(&c, 4, y, TILE, TILE, im, px, px);
        // One normalisation over the words of the row, as the AttnGAN figures.
        const float *am = rs.att[s - 1];
        float mn = am[0], mx = am[0];
        for (size_t q = 0; q < (size_t)rs.len * Rm * Rm; q++) {
            mn = am[q] < mn ? am[q] : mn;
            mx = am[q] > mx ? am[q] : mx;
        }
        for (int t = 0; t < rs.len; t++) {
            int xt = 4 + (t + 1) * (TILE + 8);
            canvas_blit(&c, xt, y, TILE, TILE, im, px, px);
            canvas_attention(&c, xt, y, TILE, TILE, am + (size_t)t * Rm * Rm, Rm, mn, mx);
            int sc = canvas_text_width(rs.words[t], 2) <= TILE ? 2 : 1;   // a gap to the next word
            canvas_text(&c, xt, y - band + (sc == 2 ? 4 : 8), rs.words[t], sc, 20, 20, 20);
        }
    }
    if (!rc) {
        snprintf(name, sizeof name, "r%lld_s%lld_att.png", (long long)x->r.id, (long long)id);
        rc = write_png(R, name, c.px, c.H, c.W);
    }
    canvas_free(&c);
    t2i_free(rgb);
    *shown = !rc;
    return rc;
}

// ---- sections ------------------------------------------------------------------------------

static const char *metric_title(const char *n) {
    if (!strcmp(n, "is")) return "IS";
    if (!strcmp(n, "rp")) return "R-precision (%)";
    if (!strcmp(n, "fid")) return "FID";
    if (!strcmp(n, "kid")) return "KID";
    if (!strcmp(n, "images")) return "images";
    return n;
}

static void sec_metrics(Report *R) {
    FILE *f = R->f;
    fprintf(f, "<section id=\"metrics\"><h2>Metrics</h2>\n<table><tr><th></th>");
    for (int i = 0; i < R->n; i++)
        fprintf(f, "<th style=\"color:%s\">run %lld</th>", palette[i % 8], (long long)R->runs[i].r.id);
    fprintf(f, "</tr>\n");
    const char *rows[] = {"model", "status", "samples", "suite", "protocol", "evaluators",
                          "fingerprint"};
    for (int k = 0; k < 7; k++) {
        fprintf(f, "<tr><td>%s</td>", rows[k]);
        for (int i = 0; i < R->n; i++) {
            const ResRun *r = &R->runs[i].r;
            char b[160];
            const char *v = k == 0 ? r->model : k == 1 ? r->status : k == 3 ? r->suite
                          : k == 4 ? r->protocol : k == 5 ? r->evaluators : b;
            if (k == 2) snprintf(b, sizeof b, "%lld of %lld", (long long)r->samples_done,
                                 (long long)r->n_samples);
            if (k == 6) snprintf(b, sizeof b, "%.16s", r->fingerprint);
            fprintf(f, "<td%s>", k == 6 ? " class=\"mono\"" : "");
            xml_escape(f, v);
            fprintf(f, "</td>");
        }
        fprintf(f, "</tr>\n");
    }
    const char *names[] = {"images", "is", "rp", "fid", "kid"};
    for (int k = 0; k < 5; k++) {
        int any = 0;
        for (int i = 0; i < R->n; i++) any |= res_metric(&R->runs[i].r, names[k]) != NULL;
        if (!any) continue;
        fprintf(f, "<tr><td>%s</td>", metric_title(names[k]));
        for (int i = 0; i < R->n; i++) {
            const ResMetric *m = res_metric(&R->runs[i].r, names[k]);
            char v[32], s[32];
            if (!m) {
                fprintf(f, "<td>-</td>");
                continue;
            }
            fmt_num(v, sizeof v, m->value);
            fmt_num(s, sizeof s, m->std);
            fprintf(f, "<td><b>%s</b>%s%s <span class=\"dim\">(n %lld%s)</span></td>", v,
                    isfinite(m->std) ? " &plusmn; " : "", isfinite(m->std) ? s : "",
                    (long long)m->n, !strcmp(names[k], "is") || !strcmp(names[k], "rp") ? " splits/folds" : "");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n<p class=\"dim\">value &plusmn; std over the protocol's splits (IS) or "
               "folds (R-precision); n = splits, folds or samples.</p></section>\n");
}

static void sec_comparison(Report *R) {
    FILE *f = R->f;
    fprintf(f, "<section id=\"comparison\"><h2>Paired comparison</h2>\n");
    if (R->n < 2) {
        fprintf(f, "<p>One run: give several runs to compare them sample by sample.</p></section>\n");
        return;
    }
    fprintf(f, "<p>Each run against run %lld over the same samples: paired bootstrap (seed %d, "
               "resample the sample ids, recompute the metric on both runs) with 95%% intervals; "
               "<b>significant</b> only when the interval excludes zero. McNemar's exact test on "
               "the R-precision hits.</p>\n<table><tr><th>run</th><th>metric</th><th>first</th>"
               "<th>this</th><th>difference</th><th>95%% interval</th><th>resamples</th>"
               "<th>verdict</th></tr>\n",
            (long long)R->runs[0].r.id, PAIRED_DEFAULT_SEED);
    for (int i = 1; i < R->n; i++) {
        RRun *x = &R->runs[i];
        int fp = strcmp(x->r.fingerprint, R->runs[0].r.fingerprint) != 0;
        if (x->pr.refused || fp || x->r.shard_count > 1) {
            fprintf(f, "<tr class=\"nc\"><td>run %lld</td><td colspan=\"7\">NOT COMPARABLE: ",
                    (long long)x->r.id);
            if (x->pr.refused) xml_escape(f, x->pr.why);
            else if (x->r.shard_count > 1) fprintf(f, "a shard run (partial metrics)");
            else fprintf(f, "fingerprints differ (suite, protocol, evaluators or build: %.12s vs "
                            "%.12s)", x->r.fingerprint, R->runs[0].r.fingerprint);
            fprintf(f, "</td></tr>\n");
            if (x->pr.refused) continue;
        }
        for (int k = 0; k < x->pr.nd; k++) {
            const PairedDiff *d = &x->pr.d[k];
            fprintf(f, "<tr%s><td>run %lld</td><td>%s</td><td>%.6g</td><td>%.6g</td><td>%+.4g</td>"
                       "<td>[%+.4g, %+.4g]</td><td>%d%s</td><td>%s</td></tr>\n",
                    d->significant ? " class=\"sig\"" : "", (long long)x->r.id,
                    metric_title(d->metric), d->a, d->b, d->diff, d->lo, d->hi, d->resamples,
                    !strcmp(d->metric, "fid") && d->resamples < x->pr.d[0].resamples
                        ? " (FID: cost-limited)" : "",
                    d->significant ? "significant" : "not significant");
        }
        if (x->pr.have_mcnemar)
            fprintf(f, "<tr><td>run %lld</td><td colspan=\"7\">R-precision hits (top-%d): both "
                       "%lld, only first %lld, only this %lld, neither %lld; McNemar exact p = "
                       "%.4g</td></tr>\n",
                    (long long)x->r.id, x->pr.rp_k, (long long)x->pr.mc.both,
                    (long long)x->pr.mc.a_only, (long long)x->pr.mc.b_only,
                    (long long)x->pr.mc.neither, x->pr.mc.p);
    }
    fprintf(f, "</table></section>\n");
}

static const SuiteSample *sample_of(const Report *R, int64_t id) {
    return id >= 0 && id < R->S.n ? &R->S.s[id] : NULL;
}

static int sec_samples(Report *R) {
    FILE *f = R->f;
    int rc = T2I_OK;
    fprintf(f, "<section id=\"samples\"><h2>Samples</h2>\n<p>Each run's 256 px image of the same "
               "sample (same caption, word subset and noise) side by side, runs in the order ");
    for (int i = 0; i < R->n; i++) {
        fprintf(f, "%s<b style=\"color:%s\">run %lld</b> (", i ? ", " : "", palette[i % 8],
                (long long)R->runs[i].r.id);
        xml_escape(f, R->runs[i].r.model);
        fprintf(f, ")");
    }
    fprintf(f, ". Images are regenerated from the stored runs and shown only when their SHA-256 "
               "equals the stored image hash.</p>\n<div class=\"cards\">\n");
    for (int k = 0; k < R->n_grid && !rc; k++) {
        int64_t id = R->grid[k];
        const SuiteSample *x = sample_of(R, id);
        fprintf(f, "<figure class=\"card\" id=\"s%lld\"><div class=\"row\">", (long long)id);
        for (int i = 0; i < R->n && !rc; i++) {
            int shown = 0;
            char msg[600];
            rc = draw_sample(R, &R->runs[i], id, k < FIG_SAMPLES, &shown, msg, sizeof msg);
            if (shown)
                fprintf(f, "<a href=\"img/r%lld_s%lld.png\"><img src=\"img/r%lld_s%lld.png\" "
                           "width=\"160\" height=\"160\" alt=\"run %lld sample %lld\" "
                           "style=\"border-color:%s\"></a>",
                        (long long)R->runs[i].r.id, (long long)id, (long long)R->runs[i].r.id,
                        (long long)id, (long long)R->runs[i].r.id, (long long)id, palette[i % 8]);
            else {
                fprintf(f, "<div class=\"nc missing\">run %lld: ", (long long)R->runs[i].r.id);
                xml_escape(f, msg);
                fprintf(f, "</div>");
            }
        }
        fprintf(f, "</div><figcaption><b>sample %lld</b>", (long long)id);
        if (x) {
            fprintf(f, " <span class=\"dim\">class %d</span><br>", x->class_id);
            xml_escape(f, x->caption);
        }
        fprintf(f, "</figcaption></figure>\n");
    }
    fprintf(f, "</div></section>\n");
    return rc;
}

static int exists(const Report *R, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/img/%s", R->out, name);
    FILE *q = fopen(path, "rb");
    if (q) fclose(q);
    return q != NULL;
}

static void sec_figures(Report *R) {
    FILE *f = R->f;
    for (int pass = 0; pass < 2; pass++) {
        fprintf(f, pass ? "<section id=\"attention\"><h2>Attention maps</h2>\n<p>As in the AttnGAN "
                          "paper's figures: one row per attention stage (maps of 64&times;64 over "
                          "the 128 px image, 128&times;128 over the 256 px image), each word's map "
                          "over the image (bright = attended; one normalisation per row), the word "
                          "above it."
                          "</p>\n"
                        : "<section id=\"stages\"><h2>Stages</h2>\n<p>The 64 &rarr; 128 &rarr; 256 "
                          "px refinement of the generator's three stages.</p>\n");
        int any = 0;
        for (int k = 0; k < R->n_grid && k < FIG_SAMPLES; k++)
            for (int i = 0; i < R->n; i++) {
                char name[128];
                snprintf(name, sizeof name, "r%lld_s%lld_%s.png", (long long)R->runs[i].r.id,
                         (long long)R->grid[k], pass ? "att" : "stages");
                if (!exists(R, name)) continue;
                any = 1;
                fprintf(f, "<figure><img src=\"img/%s\" alt=\"%s\" class=\"fig\"><figcaption>run "
                           "%lld (",
                        name, name, (long long)R->runs[i].r.id);
                xml_escape(f, R->runs[i].r.model);
                fprintf(f, "), <a href=\"#s%lld\">sample %lld</a></figcaption></figure>\n",
                        (long long)R->grid[k], (long long)R->grid[k]);
            }
        if (!any) fprintf(f, "<p>None: no sample was regenerated (see the sample grid for the "
                             "reason), or the generators have no stages and attention maps "
                             "(DF-GAN).</p>\n");
        fprintf(f, "</section>\n");
    }
}

static int grid_index_of_class(const Report *R, int cls) {
    for (int k = 0; k < R->n_grid; k++) {
        const SuiteSample *x = sample_of(R, R->grid[k]);
        if (x && x->class_id == cls) return k;
    }
    return -1;
}

static int sec_classes(Report *R) {
    FILE *f = R->f;
    fprintf(f, "<section id=\"classes\"><h2>Per class and per caption length</h2>\n<p>R-precision "
               "(%%), mean DAMSM cosine of the true caption and of the top-1 candidate, IS over the "
               "group's samples (1 split; only for groups of at least %d samples). Class labels link "
               "to a sample of the class in the grid when there is one.</p>\n",
            BREAKDOWN_IS_MIN);
    int rc = T2I_OK;
    for (int by = 0; by < 2 && !rc; by++) {
        BreakRow *rows[MAX_RUNS] = {0};
        int nr[MAX_RUNS] = {0};
        for (int i = 0; i < R->n && !rc; i++)
            rc = breakdown(&R->runs[i].s, &R->S, &R->runs[i].sp, by ? BREAK_LENGTH : BREAK_CLASS,
                           &rows[i], &nr[i]);
        if (!rc) {
            fprintf(f, "<table><tr><th rowspan=\"2\">%s</th><th rowspan=\"2\">n</th>",
                    by ? "words" : "class");
            for (int i = 0; i < R->n; i++)
                fprintf(f, "<th colspan=\"4\" style=\"color:%s\">run %lld</th>", palette[i % 8],
                        (long long)R->runs[i].r.id);
            fprintf(f, "</tr>\n<tr>");
            for (int i = 0; i < R->n; i++)
                fprintf(f, "<th>R-prec %%</th><th>true cos</th><th>top-1 cos</th><th>IS</th>");
            fprintf(f, "</tr>\n");
            for (int g = 0; g < nr[0]; g++) {
                const BreakRow *b0 = &rows[0][g];
                int gi = by ? -1 : grid_index_of_class(R, b0->key);
                fprintf(f, "<tr><td>");
                if (gi >= 0) fprintf(f, "<a href=\"#s%lld\">%s</a>", (long long)R->grid[gi], b0->label);
                else fprintf(f, "%s", b0->label);
                fprintf(f, "</td><td>%lld</td>", (long long)b0->n);
                for (int i = 0; i < R->n; i++) {
                    const BreakRow *b = NULL;
                    for (int q = 0; q < nr[i]; q++)
                        if (rows[i][q].key == b0->key) b = &rows[i][q];
                    if (!b) {
                        fprintf(f, "<td colspan=\"4\">-</td>");
                        continue;
                    }
                    char v[4][32];
                    fmt_num(v[0], 32, b->rp);
                    fmt_num(v[1], 32, b->true_score);
                    fmt_num(v[2], 32, b->top_score);
                    if (b->is_state == 1) snprintf(v[3], 32, "too few samples");
                    else fmt_num(v[3], 32, b->is);
                    fprintf(f, "<td>%s</td><td>%s</td><td>%s</td><td%s>%s</td>", v[0], v[1], v[2],
                            b->is_state == 1 ? " class=\"dim\"" : "", v[3]);
                }
                fprintf(f, "</tr>\n");
            }
            fprintf(f, "</table>\n");
        }
        for (int i = 0; i < R->n; i++) t2i_free(rows[i]);
    }
    fprintf(f, "</section>\n");
    return rc;
}

static int sec_worst(Report *R) {
    FILE *f = R->f;
    int rc = T2I_OK;
    fprintf(f, "<section id=\"worst\"><h2>Worst captions</h2>\n");
    if (R->n < 2 || R->worst_err[0]) {
        fprintf(f, "<p>%s</p></section>\n", R->n < 2 ? "Needs two runs over the same samples."
                                                     : R->worst_err);
        return T2I_OK;
    }
    fprintf(f, "<p>Samples whose R-precision rank of the true caption grew most from run %lld to "
               "run %lld (paired by sample id; rank 0 = the true caption scored best of the 1 + M "
               "candidates).</p>\n<table><tr><th>sample</th><th>rank</th><th>caption</th>"
               "<th>run %lld</th><th>run %lld</th></tr>\n",
            (long long)R->runs[0].r.id, (long long)R->runs[1].r.id, (long long)R->runs[0].r.id,
            (long long)R->runs[1].r.id);
    for (int k = 0; k < R->n_worst && !rc; k++) {
        const WorstRow *w = &R->worst[k];
        const SuiteSample *x = sample_of(R, w->sample);
        fprintf(f, "<tr><td>%lld</td><td>%d &rarr; %d</td><td class=\"cap\">", (long long)w->sample,
                w->rank_a, w->rank_b);
        if (x) xml_escape(f, x->caption);
        fprintf(f, "</td>");
        for (int i = 0; i < 2 && !rc; i++) {
            char name[128], msg[600];
            int shown = 0;
            snprintf(name, sizeof name, "r%lld_s%lld.png", (long long)R->runs[i].r.id,
                     (long long)w->sample);
            if (exists(R, name)) shown = 1;
            else rc = draw_sample(R, &R->runs[i], w->sample, 0, &shown, msg, sizeof msg);
            if (shown)
                fprintf(f, "<td><a href=\"img/%s\"><img src=\"img/%s\" width=\"96\" height=\"96\" "
                           "alt=\"%s\"></a></td>",
                        name, name, name);
            else {
                fprintf(f, "<td class=\"nc\">");
                xml_escape(f, msg);
                fprintf(f, "</td>");
            }
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table></section>\n");
    return rc;
}

static void sec_timings(Report *R) {
    FILE *f = R->f;
    static const char *const st[] = {"text", "generate", "is", "rp", "fid", "store", "total"};
    double mx = 0;
    for (int i = 0; i < R->n; i++)
        for (int k = 0; k < 7; k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "time.%s", st[k]);
            const ResMetric *m = res_metric(&R->runs[i].r, nm);
            if (m && isfinite(m->value) && m->value > mx) mx = m->value;
        }
    fprintf(f, "<section id=\"timings\"><h2>Timings</h2>\n<p>Seconds per image by stage (one "
               "worker's time per image; total = wall time of a block per image).</p>\n");
    if (!(mx > 0)) {
        fprintf(f, "<p>No timings stored.</p></section>\n");
        return;
    }
    int present[7] = {0}, np = 0;
    for (int k = 0; k < 7; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "time.%s", st[k]);
        for (int i = 0; i < R->n; i++) present[k] |= res_metric(&R->runs[i].r, nm) != NULL;
        np += present[k];
    }
    int bh = 12, lw = 80, cw = 520, y = 8, H = np * (R->n * bh + 10) + 30;
    fprintf(f, "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timings\">\n",
            lw + cw + 90, H, lw + cw + 90, H);
    for (int k = 0; k < 7; k++) {
        if (!present[k]) continue;
        fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"12\">%s</text>\n", y + R->n * bh / 2 + 4, st[k]);
        for (int i = 0; i < R->n; i++, y += bh) {
            char nm[32];
            snprintf(nm, sizeof nm, "time.%s", st[k]);
            const ResMetric *m = res_metric(&R->runs[i].r, nm);
            double v = m && isfinite(m->value) ? m->value : 0;
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                       "<title>run %lld %s: %.4g s/image</title></rect>"
                       "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%.3g</text>\n",
                    lw, y, cw * v / mx, bh - 2, palette[i % 8], (long long)R->runs[i].r.id, st[k],
                    v, lw + cw * v / mx + 4, y + bh - 3, v);
        }
        y += 10;
    }
    for (int i = 0; i < R->n; i++)
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
                   "y=\"%d\" font-size=\"11\">run %lld</text>\n",
                lw + i * 90, y + 4, palette[i % 8], lw + i * 90 + 14, y + 13,
                (long long)R->runs[i].r.id);
    fprintf(f, "</svg></section>\n");
}

static void sec_history(Report *R) {
    FILE *f = R->f;
    static const char *const nm[3] = {"IS", "R-precision (%)", "FID"};
    fprintf(f, "<section id=\"history\"><h2>Metric history</h2>\n<p>Every complete run of suite "
               "<b>");
    xml_escape(f, R->runs[0].r.suite);
    fprintf(f, "</b> with protocol <b>");
    xml_escape(f, R->runs[0].r.protocol);
    fprintf(f, "</b> in the database, in run order; one line per model.</p>\n");
    // Models in order of first appearance.
    const char *models[16];
    int nm_ = 0;
    for (int h = 0; h < R->n_hist; h++) {
        int seen = 0;
        for (int q = 0; q < nm_; q++) seen |= !strcmp(models[q], R->hist[h].model);
        if (!seen && nm_ < 16) models[nm_++] = R->hist[h].model;
    }
    // The legend: LEG_W px per model, as many per row as the plot is wide, names cut to fit.
    enum { LEG_W = 170, LEG_CHARS = 26 };
    int W = 520, H = 160, L = 60, T = 22, any = 0, per_row = W / LEG_W;
    int leg_rows = (nm_ + per_row - 1) / per_row, SH = H + T + 36 + 14 * (leg_rows - 1);
    for (int k = 0; k < 3; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int h = 0; h < R->n_hist; h++)
            if (isfinite(R->hist[h].v[k])) {
                lo = fmin(lo, R->hist[h].v[k]);
                hi = fmax(hi, R->hist[h].v[k]);
            }
        if (!isfinite(lo)) continue;
        any = 1;
        if (hi - lo < 1e-12) {   // a flat series: a visible band around it (not below 0 for
            double pad = fmax(fabs(lo) * 0.05, 0.5);   // the metrics that cannot be negative)
            lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
            hi += pad;
        }
        int n = R->n_hist;
        fprintf(f, "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"%s history\">\n"
                   "<text x=\"%d\" y=\"13\" font-size=\"12\" font-weight=\"bold\">%s</text>\n"
                   "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
                   "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
                   "<text x=\"2\" y=\"%d\" font-size=\"10\">%.6g</text>"
                   "<text x=\"2\" y=\"%d\" font-size=\"10\">%.6g</text>\n"
                   "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#777\">run</text>\n",
                W + L + 20, SH, W + L + 20, SH, nm[k], L, nm[k], L, T, L, T + H, L, T + H, L + W,
                T + H, T + 8, hi, T + H, lo, L - 24, T + H + 12);
        for (int q = 0; q < nm_; q++) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                    palette[q % 8]);
            for (int h = 0; h < n; h++)
                if (!strcmp(R->hist[h].model, models[q]) && isfinite(R->hist[h].v[k]))
                    fprintf(f, "%.1f,%.1f ", L + W * (n > 1 ? (double)h / (n - 1) : 0.5),
                            T + H - H * (R->hist[h].v[k] - lo) / (hi - lo));
            fprintf(f, "\"/>\n");
        }
        for (int h = 0; h < n; h++) {
            if (!isfinite(R->hist[h].v[k])) continue;
            int q = 0;
            while (q < nm_ && strcmp(models[q], R->hist[h].model)) q++;
            double px = L + W * (n > 1 ? (double)h / (n - 1) : 0.5);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>run %lld (",
                    px, T + H - H * (R->hist[h].v[k] - lo) / (hi - lo), palette[q % 8],
                    (long long)R->hist[h].id);
            xml_escape(f, R->hist[h].model);
            fprintf(f, "): %.6g</title></circle><text x=\"%.1f\" y=\"%d\" font-size=\"9\" "
                       "text-anchor=\"middle\">%lld</text>\n",
                    R->hist[h].v[k], px, T + H + 12, (long long)R->hist[h].id);
        }
        for (int q = 0; q < nm_; q++) {
            int lx = L + (q % per_row) * LEG_W, ly = T + H + 20 + 14 * (q / per_row);
            char name[LEG_CHARS + 4];
            if (strlen(models[q]) > LEG_CHARS) snprintf(name, sizeof name, "%.*s~", LEG_CHARS - 1,
                                                        models[q]);
            else snprintf(name, sizeof name, "%s", models[q]);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                       "<text x=\"%d\" y=\"%d\" font-size=\"10\"><title>",
                    lx, ly, palette[q % 8], lx + 14, ly + 9);
            xml_escape(f, models[q]);
            fprintf(f, "</title>");
            xml_escape(f, name);
            fprintf(f, "</text>\n");
        }
        fprintf(f, "</svg>\n");
    }
    if (!any) fprintf(f, "<p>No metric values stored.</p>\n");
    fprintf(f, "</section>\n");
}

static void sec_provenance(Report *R) {
    FILE *f = R->f;
    fprintf(f, "<section id=\"provenance\"><h2>Provenance</h2>\n");
    for (int i = 0; i < R->n; i++) {
        const ResRun *r = &R->runs[i].r;
        cJSON *pv = cJSON_Parse(r->provenance);
        fprintf(f, "<h3>run %lld (", (long long)r->id);
        xml_escape(f, r->model);
        fprintf(f, "), started %s, finished %s</h3>\n<table>", r->started, r->finished);
        const char *keys[] = {"git_describe", "compiler", "cflags", "blas", "blas_threads", "cpu"};
        for (int k = 0; pv && k < 6; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(pv, keys[k]);
            fprintf(f, "<tr><td>%s</td><td class=\"mono\">", keys[k]);
            if (cJSON_IsString(v)) xml_escape(f, v->valuestring);
            else if (cJSON_IsNumber(v)) fprintf(f, "%d", v->valueint);
            fprintf(f, "</td></tr>\n");
        }
        const cJSON *files = pv ? cJSON_GetObjectItemCaseSensitive(pv, "files") : NULL;
        for (const cJSON *x = files ? files->child : NULL; x; x = x->next) {
            const cJSON *ro = cJSON_GetObjectItemCaseSensitive(x, "role");
            const cJSON *pa = cJSON_GetObjectItemCaseSensitive(x, "path");
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(x, "sha256");
            if (!cJSON_IsString(ro) || !cJSON_IsString(pa) || !cJSON_IsString(sh)) continue;
            fprintf(f, "<tr><td>");
            xml_escape(f, ro->valuestring);
            fprintf(f, "</td><td class=\"mono\">%.16s&hellip; ", sh->valuestring);
            xml_escape(f, pa->valuestring);
            fprintf(f, "</td></tr>\n");
        }
        fprintf(f, "<tr><td>fingerprint</td><td class=\"mono\">%s</td></tr></table>\n", r->fingerprint);
        cJSON_Delete(pv);
    }
    fprintf(f, "</section>\n");
}

static const char css[] =
    "body{font-family:sans-serif;margin:24px;max-width:1400px;color:#222}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;"
    "margin-top:28px}h3{font-size:14px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;"
    "font-size:13px;vertical-align:top;text-align:left}th{background:#f3f3f3}"
    ".dim{color:#777;font-size:12px}.mono{font-family:monospace;font-size:12px}"
    ".nc{background:#fde8e8;color:#900}.sig{background:#e8f4e8}"
    ".cap{max-width:260px}.cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{margin:0;border:1px solid #ddd;padding:6px;width:min-content}"
    ".card .row{display:flex;gap:6px}.card img{border:2px solid;display:block}"
    ".card figcaption{font-size:13px;margin-top:4px;min-width:220px}"
    ".missing{width:160px;height:160px;font-size:11px;overflow:hidden}"
    "p{font-size:14px}"
    "figure{display:inline-block;margin:6px 12px 6px 0}"
    "img.fig{max-width:100%;height:auto;border:1px solid #ddd}"
    "nav a{margin-right:10px;font-size:13px}";

// ---- command -------------------------------------------------------------------------------

static int load_history(Db *d, Report *R) {
    sqlite3_stmt *st = NULL;
    const char *sql =
        "SELECT r.id, r.model, (SELECT value FROM metrics WHERE run = r.id AND name = 'is'),"
        " (SELECT value FROM metrics WHERE run = r.id AND name = 'rp'),"
        " (SELECT value FROM metrics WHERE run = r.id AND name = 'fid')"
        " FROM runs r WHERE r.suite = ? AND r.protocol = ? AND r.status = 'complete'"
        " ORDER BY r.id LIMIT 500";
    if (sqlite3_prepare_v2(db_handle(d), sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(d, "read run history");
    sqlite3_bind_text(st, 1, R->runs[0].r.suite, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, R->runs[0].r.protocol, -1, SQLITE_TRANSIENT);
    R->hist = t2i_calloc(500, sizeof(HistRow));
    if (!R->hist) {
        sqlite3_finalize(st);
        return T2I_ENOMEM;
    }
    while (sqlite3_step(st) == SQLITE_ROW && R->n_hist < 500) {
        HistRow *h = &R->hist[R->n_hist++];
        h->id = sqlite3_column_int64(st, 0);
        const unsigned char *m = sqlite3_column_text(st, 1);
        snprintf(h->model, sizeof h->model, "%s", m ? (const char *)m : "");
        for (int k = 0; k < 3; k++)
            h->v[k] = sqlite3_column_type(st, 2 + k) == SQLITE_NULL ? NAN
                                                                    : sqlite3_column_double(st, 2 + k);
    }
    sqlite3_finalize(st);
    return T2I_OK;
}

static int parse_ids(const char *s, Report *R) {
    R->n_grid = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || (*end && *end != ',') || R->n_grid >= MAX_GRID)
            return t2i_error(T2I_EARG, "--samples '%s': expected up to %d sample ids, e.g. 0,5,17",
                             s, MAX_GRID);
        R->grid[R->n_grid++] = v;
        p = *end ? end + 1 : end;
    }
    return R->n_grid ? T2I_OK : t2i_error(T2I_EARG, "--samples: no ids");
}

int cmd_report(int argc, char **argv) {
    static const char *usage =
        "t2ibench report RUN [RUN...] --out DIR [--db FILE] [--samples ID,...] [--worst N]\n"
        "                [--resamples N]\n"
        "  Writes DIR/index.html (self-contained: PNGs in DIR/img, inline SVG charts, no network\n"
        "  or JavaScript): metrics, the paired comparison of every run against the first,\n"
        "  a sample grid (default: 8 samples spread over the run), stage strips and attention\n"
        "  maps, per-class / per-length tables, worst captions (first two runs), timings,\n"
        "  metric history of the suite, provenance. Images are regenerated from the stored runs\n"
        "  (run it from the directory the runs were started in).\n"
        "  --samples ID,...  the sample ids of the grid   --worst N  worst captions (default 5)\n"
        "  --resamples N     bootstrap resamples of the paired comparison (default 1000)";
    Args a;
    char *pos[MAX_RUNS + 1];
    if (args_init(&a, argc, argv)) return cli_usage("report", usage);
    if (args_flag(&a, "--help")) return printf("usage: %s\n", usage), EXIT_OK;
    const char *out = args_str(&a, "--out", NULL);
    const char *dbp = args_str(&a, "--db", "results/t2ibench.db");
    const char *samples = args_str(&a, "--samples", NULL);
    long worst = args_long(&a, "--worst", 5);
    long resamples = args_long(&a, "--resamples", PAIRED_DEFAULT_RESAMPLES);
    int n = args_rest(&a, pos, MAX_RUNS + 1);
    if (n < 1 || n > MAX_RUNS || !out || worst < 0 || worst > 100 || resamples < 1 ||
        resamples > 1000000) {
        if (n > MAX_RUNS) t2i_error(T2I_EARG, "at most %d runs", MAX_RUNS);
        else if (n == 0) t2i_error(T2I_EARG, "give the run(s) to report, e.g. `report latest`");
        else if (n > 0 && !out) t2i_error(T2I_EARG, "--out DIR is required (the report's folder)");
        else if (n > 0) t2i_error(T2I_EARG, "--worst must be 0..100 and --resamples 1..1000000");
        return cli_usage("report", usage);
    }
    for (int i = 0; i < n; i++) {
        int64_t id;
        if (res_run_arg(pos[i], &id)) return cli_usage("report", usage);
    }
    Report R;
    memset(&R, 0, sizeof R);
    R.out = out;
    if (samples && parse_ids(samples, &R)) return cli_usage("report", usage);
    static RRun runs[MAX_RUNS];
    memset(runs, 0, sizeof runs);
    R.runs = runs;
    Db d;
    memset(&d, 0, sizeof d);
    int rc = db_open(&d, dbp, 1);
    for (int i = 0; i < n && !rc; i++) {
        int64_t id;
        if ((rc = res_parse_run(&d, pos[i], &id)) || (rc = res_load(&d, id, &runs[i].r))) break;
        R.n++;
        if ((rc = run_samples_load(&d, id, &runs[i].s))) break;
        runs[i].have_spec = run_score_spec(runs[i].r.provenance, &runs[i].sp) == T2I_OK;
        if (!runs[i].have_spec) memset(&runs[i].sp, 0, sizeof runs[i].sp);
        if (i > 0) rc = paired_runs(&d, &runs[0].r, &runs[i].r, PAIRED_DEFAULT_SEED,
                                    (int)resamples, &runs[i].pr);
    }
    if (!rc) rc = load_history(&d, &R);
    db_close(&d);
    if (!rc) rc = run_suite_load(runs[0].r.provenance, &R.S);
    if (!rc && !samples) {   // 8 samples spread evenly over the first run
        int64_t m = runs[0].s.n;
        for (int k = 0; k < 8 && k < m; k++)
            R.grid[R.n_grid++] = runs[0].s.id[m <= 8 ? k : k * (m - 1) / 7];
    }
    if (!rc && n >= 2) {
        if (runs[1].pr.refused) snprintf(R.worst_err, sizeof R.worst_err, "Runs %lld and %lld cover different sample sets.",
                                         (long long)runs[0].r.id, (long long)runs[1].r.id);
        else rc = breakdown_worst(&runs[0].s, &runs[1].s, (int)worst, &R.worst, &R.n_worst);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/img", out);
    if (!rc) rc = dir_make(dir);
    for (int i = 0; i < R.n && !rc; i++) {
        if (regen_open(&runs[i].g, runs[i].r.provenance)) {
            snprintf(runs[i].regen_err, sizeof runs[i].regen_err, "no images: %s", t2i_errmsg());
            runs[i].g = NULL;
        }
    }
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/index.html", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!rc && !(R.f = fopen(tmp, "w"))) rc = t2i_error(T2I_EIO, "%s: cannot create", tmp);
    if (!rc) {
        FILE *f = R.f;
        fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<title>t2ibench report</title><style>%s</style></head><body>\n"
                   "<h1>t2ibench report: ", css);
        for (int i = 0; i < R.n; i++) {
            fprintf(f, "%srun %lld (", i ? ", " : "", (long long)runs[i].r.id);
            xml_escape(f, runs[i].r.model);
            fprintf(f, ")");
        }
        fprintf(f, "</h1>\n<nav><a href=\"#metrics\">metrics</a><a href=\"#comparison\">comparison"
                   "</a><a href=\"#samples\">samples</a><a href=\"#stages\">stages</a><a href=\""
                   "#attention\">attention</a><a href=\"#classes\">classes</a><a href=\"#worst\">"
                   "worst captions</a><a href=\"#timings\">timings</a><a href=\"#history\">history"
                   "</a><a href=\"#provenance\">provenance</a></nav>\n");
        sec_metrics(&R);
        sec_comparison(&R);
        rc = sec_samples(&R);
        if (!rc) sec_figures(&R);
        if (!rc) rc = sec_classes(&R);
        if (!rc) rc = sec_worst(&R);
        if (!rc) {
            sec_timings(&R);
            sec_history(&R);
            sec_provenance(&R);
            fprintf(f, "<p class=\"dim\">written by t2ibench %s</p>\n</body></html>\n", t2i_build_git);
        }
        int werr = ferror(f);
        if (fclose(f) != 0 || werr) {
            if (!rc) rc = t2i_error(T2I_EIO, "%s: write failed", tmp);
        }
        if (rc) remove(tmp);
        else if (rename(tmp, path) != 0) rc = t2i_error(T2I_EIO, "%s: cannot rename to %s", tmp, path);
    }
    if (!rc) printf("%s\n", path);
    for (int i = 0; i < MAX_RUNS; i++) {
        regen_close(runs[i].g);
        run_samples_free(&runs[i].s);
        res_free(&runs[i].r);
    }
    suite_free(&R.S);
    t2i_free(R.hist);
    t2i_free(R.worst);
    return rc ? cli_fail("report", rc) : EXIT_OK;
}
