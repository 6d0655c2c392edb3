#!/usr/bin/python3
"""Reference outputs for engine/ops/resize.c, written to tests/fixtures/resize/ (tests need no Python).

Run with Debian's python3 (numpy + PIL):  /usr/bin/python3 tools/make_resize_fixtures.py

* PIL bilinear on uint8: Image.fromarray(rgb).resize((OW, OH), Image.BILINEAR), which is what
  scipy.misc.imresize(img, (OH, OW), 'bilinear') did for uint8 RGB input and what torchvision's
  Resize does on PIL images. Up, down (PIL widens its filter), mixed and one-axis cases.
* TF1 ResizeBilinear, align_corners=False, half_pixel_centers=False, in float32 exactly as the
  TF1 kernel computes it (the formula of PROTOCOLS.md §2/§5; torch-fidelity's
  interpolate_bilinear_2d_like_tensorflow1x):
      scale = float32(in/out); src = float32(dst * scale); lo = floor(src);
      hi = min(ceil(src), in-1); lerp = src - lo
      top = tl + (tr - tl) * xl; bottom = bl + (br - bl) * xl; out = top + (bottom - top) * yl
* torch bilinear align_corners=True (F.interpolate, antialias off), float32:
      scale = float32((in-1)/(out-1)); src = scale * dst (double); l1 = float32(src - floor(src))
  (align_corners=False is checked bit for bit against ../shared/fixtures/damsm_image_encoder/x299).
* Quantization of [-1,1] float32: truncate ((x+1)*127.5).astype(uint8) and round (np.rint,
  half to even), both with float32 arithmetic, and the uint8 -> float mappings.
"""
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "resize")
f32 = np.float32


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr))


def pil_case(rng, name, h, w, oh, ow):
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    # smooth structure plus noise, and saturated corners so clipping is exercised
    yy, xx = np.mgrid[0:h, 0:w]
    img[..., 0] = ((xx * 255) // max(w - 1, 1)).astype(np.uint8)
    img[: h // 4, : w // 4] = 255
    img[-(h // 4):, -(w // 4):] = 0
    out = np.asarray(Image.fromarray(img, "RGB").resize((ow, oh), Image.BILINEAR))
    save(name + "_in", img)
    save(name + "_out", out)


def tf1_axis(n_in, n_out):
    scale = f32(n_in) / f32(n_out)
    src = (np.arange(n_out).astype(f32) * scale).astype(f32)
    lo = np.floor(src)
    hi = np.minimum(np.ceil(src), n_in - 1).astype(np.int64)
    lerp = (src - lo).astype(f32)
    return np.maximum(lo, 0).astype(np.int64), hi, lerp


def tf1_resize(x, oh, ow):
    n, h, w = x.shape
    y0, y1, yl = tf1_axis(h, oh)
    x0, x1, xl = tf1_axis(w, ow)
    tl = x[:, y0][:, :, x0]
    tr = x[:, y0][:, :, x1]
    bl = x[:, y1][:, :, x0]
    br = x[:, y1][:, :, x1]
    top = (tl + ((tr - tl) * xl).astype(f32)).astype(f32)
    bottom = (bl + ((br - bl) * xl).astype(f32)).astype(f32)
    return (top + ((bottom - top) * yl[:, None]).astype(f32)).astype(f32)


def torch_ac_axis(n_in, n_out):
    scale = float(f32(n_in - 1) / f32(n_out - 1)) if n_out > 1 else 0.0
    src = scale * np.arange(n_out, dtype=np.float64)
    i0 = src.astype(np.int64)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    l1 = np.clip((src - i0).astype(f32), 0, 1).astype(f32)
    return i0, i1, (f32(1) - l1).astype(f32), l1


def fma32(a, b, c):
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(f32)


def torch_ac_resize(x, oh, ow):
    y0, y1, h0, h1 = torch_ac_axis(x.shape[1], oh)
    x0, x1, w0, w1 = torch_ac_axis(x.shape[2], ow)
    a = x[:, y0][:, :, x0]
    b = x[:, y0][:, :, x1]
    c = x[:, y1][:, :, x0]
    d = x[:, y1][:, :, x1]
    t0 = fma32(a, w0, (b * w1).astype(f32))
    t1 = fma32(c, w0, (d * w1).astype(f32))
    return fma32(t0, h0[:, None], (t1 * h1[:, None]).astype(f32))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261126)
    pil_case(rng, "pil_up", 64, 48, 299, 299)       # upscale (generator 64 px -> 299)
    pil_case(rng, "pil_down", 160, 171, 149, 151)   # mild downscale, filter support > 1
    pil_case(rng, "pil_down2", 150, 97, 37, 23)     # strong downscale (support ~4)
    pil_case(rng, "pil_mixed", 40, 120, 77, 53)     # up in y, down in x
    pil_case(rng, "pil_xonly", 30, 50, 30, 77)      # horizontal pass only
    pil_case(rng, "pil_yonly", 50, 30, 77, 30)      # vertical pass only

    planes = rng.uniform(-1, 1, size=(3, 37, 45)).astype(f32)
    save("float_in", planes)
    save("tf1_up", tf1_resize(planes, 101, 113))
    save("tf1_down", tf1_resize(planes, 20, 31))
    save("torch_ac_up", torch_ac_resize(planes, 101, 113))
    save("torch_ac_down", torch_ac_resize(planes, 20, 31))

    q = rng.uniform(-1, 1, size=4096).astype(f32)
    edges = np.array([-1.0, 1.0, 0.0, -0.9999999, 0.9999999], dtype=f32)
    # values whose (x+1)*127.5 is exactly k + 0.5 (round-half-to-even cases)
    halves = ((np.arange(0, 255, dtype=f32) + f32(0.5)) / f32(127.5) - f32(1)).astype(f32)
    q = np.concatenate([q, edges, halves]).astype(f32)
    save("quant_in", q)
    scaled = ((q + f32(1)) * f32(127.5)).astype(f32)
    save("quant_truncate", scaled.astype(np.uint8))
    save("quant_round", np.clip(np.rint(scaled), 0, 255).astype(np.uint8))

    u = np.arange(256, dtype=np.uint8)
    uf = u.astype(f32)
    save("u8_pm1_127", (uf / f32(127.5) - f32(1)).astype(f32))
    save("u8_unit", (uf / f32(255)).astype(f32))
    save("u8_pm1_norm", ((uf / f32(255) - f32(0.5)) / f32(0.5)).astype(f32))
    save("u8_tf_128", ((uf - f32(128)) / f32(128)).astype(f32))


if __name__ == "__main__":
    main()
