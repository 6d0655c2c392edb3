#!/usr/bin/python3
"""make_metrics_fixtures.py -- reference inputs and values for tests/test_metrics.c.

Writes small deterministic inputs (.npy / .npz) and expected.json under tests/fixtures/metrics/
(or the directory given as argv[1]). Every expected value is computed here with numpy/scipy using
the *original* formulas of the published code, written out literally (see each ref_* function):

  IS   improved-gan inception_score/model.py and StackGAN-inception-model inception_score.py:
       softmax, contiguous splits [k*N//splits, (k+1)*N//splits), KL(p || mean p) per split,
       exp(mean KL), mean and population std (np.std, ddof 0) over splits. CUB variant: the
       background logit 0 is dropped (logits[:, 1:51]). IS* (TISE): logits / T before softmax.
  FID  pytorch-fid src/pytorch_fid/fid_score.py calculate_frechet_distance with
       mu = np.mean(act, axis=0), sigma = np.cov(act, rowvar=False) (ddof 1).
  KID  torch-fidelity metric_kid.py: polynomial kernel (x.y * gamma + coef0) ** degree with
       gamma = 1/D, coef0 = 1, degree 3; unbiased MMD^2 per subset; mean and np.std over subsets.
       Subsets are explicit index lists (kid_subsets_a/b.npy) because torch-fidelity's
       np.random.RandomState draws cannot be reproduced in C; plus one "full" subset (all rows).
  RP   DM-GAN code/trainer.py (R-precision): cosine = dot / clamp(|img| |sent|, min=1e-8),
       hit when argmax over [true; mismatches] == 0; folds "contiguous" R[i*N//F:(i+1)*N//F] and
       "dmgan" R[i*n:(i+1)*n-1] with n = N//F; mean of fold means and np.std (ddof 0).
       No shuffle of R (DM-GAN shuffles R with numpy's global RNG first; we fold in row order).

Run with the Debian interpreter:  /usr/bin/python3 tools/make_metrics_fixtures.py
Re-running reproduces every byte except the zip timestamps inside stats_a.npz (np.savez, the
writer pytorch-fid uses, stamps the current time).
Inputs are stored as float16/float32/int32 to keep the folder small; every reference value is
computed from the stored values cast to float64, which is what the C code reads.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.linalg as linalg

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics")
SEED = 20261126
T_CUB = 0.5980541706085205   # tise-toolbox image_realism/IS/bird/inception_score_star_bird.py:192
T_COCO = 0.9091363549232483  # tise-toolbox image_realism/IS/coco/inception_score_star_coco.py:107


# ---- reference formulas (literal transcriptions) ----------------------------------------------

def softmax64(logits, temperature=1.0):
    x = logits.astype(np.float64) / temperature
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def ref_inception_score(preds, splits):
    # StackGAN-inception-model inception_score.py / improved-gan inception_score/model.py
    scores = []
    n = preds.shape[0]
    for i in range(splits):
        part = preds[(i * n // splits):((i + 1) * n // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        kl = np.mean(np.sum(kl, 1))
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores)), [float(s) for s in scores]


def ref_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    # pytorch-fid calculate_frechet_distance
    mu1 = np.atleast_1d(mu1)
    mu2 = np.atleast_1d(mu2)
    sigma1 = np.atleast_2d(sigma1)
    sigma2 = np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    offset_used = False
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
        offset_used = True
    max_imag = 0.0
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
        max_imag = float(np.max(np.abs(covmean.imag)))
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    fid = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean
    return float(fid), offset_used, max_imag


def ref_fid_stats(act):
    act = act.astype(np.float64)
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def eig_frechet(mu1, s1, mu2, s2):
    # Independent cross-check of the C method: tr sqrt(sqrt(S1) S2 sqrt(S1)) via eigh.
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = r @ s2 @ r
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    d = mu1 - mu2
    return float(d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())


def polynomial_kernel(X, Y, degree=3, gamma=None, coef0=1):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (np.matmul(X, Y.T) * gamma + coef0) ** degree


def mmd2_unbiased(K_XX, K_XY, K_YY):
    m = K_XX.shape[0]
    diag_X = np.diagonal(K_XX)
    diag_Y = np.diagonal(K_YY)
    Kt_XX_sums = K_XX.sum(axis=1) - diag_X
    Kt_YY_sums = K_YY.sum(axis=1) - diag_Y
    K_XY_sums_0 = K_XY.sum(axis=0)
    Kt_XX_sum = Kt_XX_sums.sum()
    Kt_YY_sum = Kt_YY_sums.sum()
    K_XY_sum = K_XY_sums_0.sum()
    return (Kt_XX_sum + Kt_YY_sum) / (m * (m - 1)) - 2 * K_XY_sum / (m * m)


def ref_kid(f1, f2, idx1, idx2):
    mmds = np.zeros(len(idx1))
    for i in range(len(idx1)):
        a = f1[idx1[i]]
        b = f2[idx2[i]]
        mmds[i] = mmd2_unbiased(polynomial_kernel(a, a), polynomial_kernel(a, b),
                                polynomial_kernel(b, b))
    return float(np.mean(mmds)), float(np.std(mmds)), [float(x) for x in mmds]


def ref_rp_hits(img, sent, cand):
    R = np.zeros(img.shape[0])
    margins = np.zeros(img.shape[0])
    for i in range(img.shape[0]):
        codes = sent[cand[i]]
        scores = codes @ img[i]
        norm = np.linalg.norm(img[i]) * np.linalg.norm(codes, axis=1)
        s0 = scores / np.maximum(norm, 1e-8)
        if np.argmax(s0) == 0:
            R[i] = 1
        margins[i] = abs(s0[0] - np.max(s0[1:]))
    return R, margins


def ref_rp_folds(R, folds, rule):
    n_all = R.shape[0]
    s = np.zeros(folds)
    for i in range(folds):
        if rule == "contiguous":
            s[i] = np.average(R[i * n_all // folds:(i + 1) * n_all // folds])
        else:
            n = n_all // folds
            s[i] = np.average(R[i * n:(i + 1) * n - 1])
    return float(np.average(s)), float(np.std(s)), [float(x) for x in s]


# ---- inputs ---------------------------------------------------------------------------------

def peaked_logits(rng, n, c, n_modes, scale, spread):
    modes = rng.integers(0, c, size=n)
    x = rng.normal(0.0, spread, size=(n, c))
    x[np.arange(n), modes] += scale * (1.0 + 0.5 * rng.random(n))
    return x


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    exp = {
        "generator": "tools/make_metrics_fixtures.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "seed": SEED,
        "note": "values are float64 computed from the stored inputs cast to float64",
    }
    files = {}

    def save(name, arr):
        np.save(os.path.join(OUT, name), arr)
        files[name] = {"dtype": str(arr.dtype), "shape": list(arr.shape)}

    # -- Inception Score -------------------------------------------------------------------
    # CUB-like: 51 logits (0 = background), N = 997 (not divisible by 10: uneven splits).
    cub = peaked_logits(rng, 997, 51, 50, 6.0, 1.5).astype(np.float32)
    save("is_logits_cub.npy", cub)
    # COCO-like: 1008 logits, N = 250, stored as float16 to stay small.
    coco = peaked_logits(rng, 250, 1008, 1008, 9.0, 2.0).astype(np.float16)
    save("is_logits_coco.npy", coco)

    is_cases = {}

    def is_case(name, logits_file, logits, splits, temperature, cls_begin, cls_end, variant):
        preds = softmax64(logits[:, cls_begin:cls_end], temperature)
        m, s, per = ref_inception_score(preds, splits)
        is_cases[name] = {
            "logits": logits_file, "splits": splits, "temperature": temperature,
            "class_begin": cls_begin, "class_end": cls_end, "n": int(logits.shape[0]),
            "variant": variant, "mean": m, "std": s, "split_scores": per,
        }

    is_case("cub_s10", "is_logits_cub.npy", cub, 10, 1.0, 1, 51,
            "StackGAN-inception-model: softmax(logits[:,1:51]), 10 contiguous splits")
    is_case("cub_s1", "is_logits_cub.npy", cub, 1, 1.0, 1, 51,
            "StackGAN-inception-model, 1 split")
    is_case("cub_star_s10", "is_logits_cub.npy", cub, 10, T_CUB, 1, 51,
            "TISE IS*: softmax(logits[:,1:51] / 0.5980541706085205), 10 splits")
    is_case("cub_all51_s10", "is_logits_cub.npy", cub, 10, 1.0, 0, 51,
            "all 51 logits (background kept), 10 splits")
    is_case("coco_s10", "is_logits_coco.npy", coco, 10, 1.0, 0, 1008,
            "improved-gan: softmax over 1008 logits, 10 splits")
    is_case("coco_s1", "is_logits_coco.npy", coco, 1, 1.0, 0, 1008, "improved-gan, 1 split")
    is_case("coco_star_s10", "is_logits_coco.npy", coco, 10, T_COCO, 0, 1008,
            "TISE IS*: softmax(logits / 0.9091363549232483), 10 splits")
    is_case("coco_s7", "is_logits_coco.npy", coco, 7, 1.0, 0, 1008,
            "7 splits of 250 (uneven: 35/36)")
    exp["inception_score"] = {
        "formula": "p = softmax(logits[:, class_begin:class_end] / T) in float64; for k in "
                   "range(splits): part = p[k*N//splits:(k+1)*N//splits]; "
                   "IS_k = exp(mean_i sum_c part*(log part - log mean(part, 0))); "
                   "mean = np.mean(IS_k), std = np.std(IS_k) (ddof 0)",
        "source": "StackGAN-inception-model inception_score.py; openai/improved-gan "
                  "inception_score/model.py; TISE IS* = logits / T",
        "cases": is_cases,
    }

    # -- FID --------------------------------------------------------------------------------
    D = 64
    A = rng.normal(size=(D, D)) / np.sqrt(D)
    B = A + 0.3 * rng.normal(size=(D, D)) / np.sqrt(D)
    fa = (np.abs(rng.normal(size=(400, D)) @ A + 0.5)).astype(np.float32)
    fb = (np.abs(rng.normal(size=(400, D)) @ B + 0.6)).astype(np.float32)
    fc = (np.abs(rng.normal(size=(40, D)) @ B + 0.55)).astype(np.float32)  # N=40 < D: rank 39
    save("feat_a.npy", fa)
    save("feat_b.npy", fb)
    save("feat_c.npy", fc)
    mu_a, s_a = ref_fid_stats(fa)
    mu_b, s_b = ref_fid_stats(fb)
    mu_c, s_c = ref_fid_stats(fc)
    np.savez(os.path.join(OUT, "stats_a.npz"), mu=mu_a, sigma=s_a)
    files["stats_a.npz"] = {"members": {"mu": [D], "sigma": [D, D]}, "dtype": "float64"}
    fid_cases = {}
    for name, (m1, s1, m2, s2, f1, f2) in {
        "a_vs_b": (mu_a, s_a, mu_b, s_b, "feat_a.npy", "feat_b.npy"),
        "a_vs_a": (mu_a, s_a, mu_a, s_a, "feat_a.npy", "feat_a.npy"),
        "a_vs_c": (mu_a, s_a, mu_c, s_c, "feat_a.npy", "feat_c.npy"),
        "c_vs_a": (mu_c, s_c, mu_a, s_a, "feat_c.npy", "feat_a.npy"),
    }.items():
        v, off, imag = ref_frechet_distance(m1, s1, m2, s2)
        fid_cases[name] = {
            "a": f1, "b": f2, "fid": v, "offset_retry_used": off, "max_abs_imag_discarded": imag,
            "eigh_crosscheck": eig_frechet(m1, s1, m2, s2),
        }
    fid_cases["a_vs_a"]["trace_sigma_a"] = float(np.trace(s_a))
    fid_cases["a_vs_c"]["rank_sigma_c"] = int(np.linalg.matrix_rank(s_c))
    exp["fid"] = {
        "formula": "mu = np.mean(act.astype(float64), 0); sigma = np.cov(act, rowvar=False) (ddof 1);"
                   " pytorch-fid calculate_frechet_distance: |mu1-mu2|^2 + tr S1 + tr S2 - "
                   "2 tr Re sqrtm(S1 S2) (scipy.linalg.sqrtm disp=False; +1e-6 I retry if not finite)",
        "source": "mseitzer/pytorch-fid src/pytorch_fid/fid_score.py",
        "stats_a": {"file": "stats_a.npz", "trace_sigma": float(np.trace(s_a)),
                    "mu_sum": float(mu_a.sum())},
        "cases": fid_cases,
    }

    # -- KID --------------------------------------------------------------------------------
    fa64, fb64 = fa.astype(np.float64), fb.astype(np.float64)
    n_sub, sub = 4, 200
    ia = np.stack([rng.choice(fa.shape[0], sub, replace=False) for _ in range(n_sub)]).astype(np.int32)
    ib = np.stack([rng.choice(fb.shape[0], sub, replace=False) for _ in range(n_sub)]).astype(np.int32)
    save("kid_subsets_a.npy", ia)
    save("kid_subsets_b.npy", ib)
    m, s, per = ref_kid(fa64, fb64, ia, ib)
    full = ref_kid(fa64, fb64, [np.arange(400)], [np.arange(400)])
    self_full = ref_kid(fa64, fa64, [np.arange(400)], [np.arange(400)])
    exp["kid"] = {
        "formula": "torch-fidelity: K = (X Y^T / D + 1)^3; mmd2 = (sum offdiag Kxx + sum offdiag Kyy)"
                   "/(m(m-1)) - 2 sum Kxy/(m m); mean and np.std over subsets",
        "source": "toshas/torch-fidelity torch_fidelity/metric_kid.py",
        "subsets_a_vs_b": {"a": "feat_a.npy", "b": "feat_b.npy", "index_a": "kid_subsets_a.npy",
                           "index_b": "kid_subsets_b.npy", "subsets": n_sub, "subset_size": sub,
                           "mean": m, "std": s, "per_subset": per},
        "full_a_vs_b": {"a": "feat_a.npy", "b": "feat_b.npy", "subsets": 1, "subset_size": 400,
                        "mean": full[0], "std": full[1]},
        "full_a_vs_a": {"a": "feat_a.npy", "b": "feat_a.npy", "mean": self_full[0]},
    }

    # -- R-precision ------------------------------------------------------------------------
    n_img, cpi, E, K = 205, 5, 32, 99
    img = rng.normal(size=(n_img, E))
    sent = np.repeat(img, cpi, axis=0) * 0.35 + rng.normal(size=(n_img * cpi, E))
    img = img.astype(np.float32)
    sent = sent.astype(np.float32)
    cls = (np.arange(n_img) // 5).astype(np.int32)  # 41 "classes" of 5 images
    cand = np.zeros((n_img, 1 + K), dtype=np.int32)
    for i in range(n_img):
        cand[i, 0] = i * cpi + rng.integers(0, cpi)
        j = 1
        while j <= K:  # DM-GAN get_mis_caption: uniform image, reject same class, uniform caption
            idx = rng.integers(0, n_img)
            if cls[idx] == cls[i]:
                continue
            cand[i, j] = idx * cpi + rng.integers(0, cpi)
            j += 1
    # An exact tie: in the first row that is a hit, duplicate the true candidate index into the
    # first mismatch slot; argmax returns the first maximum, so the row stays a hit.
    R0, _ = ref_rp_hits(img.astype(np.float64), sent.astype(np.float64), cand)
    tie_row = int(np.nonzero(R0)[0][0])
    cand[tie_row, 1] = cand[tie_row, 0]
    save("rp_image_codes.npy", img)
    save("rp_sentence_codes.npy", sent)
    save("rp_candidates.npy", cand)
    save("rp_class_ids.npy", cls)
    R, margins = ref_rp_hits(img.astype(np.float64), sent.astype(np.float64), cand)
    close = [int(i) for i in np.nonzero(margins < 1e-9)[0]]
    assert close == [tie_row], close  # no accidental near-ties (only the intended one)
    folds = {}
    for F in (10, 8):
        for rule in ("contiguous", "dmgan"):
            mu, sd, per = ref_rp_folds(R, F, rule)
            folds["%s_f%d" % (rule, F)] = {"folds": F, "rule": rule, "mean": mu, "std": sd,
                                           "fold_means": per}
    exp["r_precision"] = {
        "formula": "s = (sent[cand[i]] @ img[i]) / max(|img[i]| |sent[cand[i]]|, 1e-8); hit if "
                   "argmax(s) == 0 (first index wins ties); exact fold f = R[f*N//F:(f+1)*N//F]; "
                   "dmgan fold f = R[f*n:(f+1)*n-1], n = N//F; mean = np.average(fold means), "
                   "std = np.std(fold means)",
        "source": "MinfengZhu/DM-GAN code/trainer.py (R-precision), code/datasets.py get_mis_caption",
        "n": n_img, "captions_per_image": cpi, "K": K, "R": 1,
        "hits": int(R.sum()),
        "hit_indices_first_20": [int(i) for i in np.nonzero(R)[0][:20]],
        "tie_rows": close,
        "min_margin_excluding_ties": float(np.min(np.delete(margins, close))),
        "folds": folds,
    }
    np.save(os.path.join(OUT, "rp_hits.npy"), R.astype(np.uint8))
    files["rp_hits.npy"] = {"dtype": "uint8", "shape": [n_img]}

    exp["files"] = files
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print("wrote %s (%d files, %d bytes)" % (OUT, len(os.listdir(OUT)), total))


if __name__ == "__main__":
    main()
