#!/usr/bin/python3
"""pytorch-fid's pipeline in torch, as the reference for t2ibench's eval-images / fid-stats.

Run with Debian's /usr/bin/python3 (python3-torch, numpy, scipy, PIL):
    /usr/bin/python3 tools/fid_reference.py prepare SRC_DIR tests/fixtures/holdout
    /usr/bin/python3 tools/fid_reference.py reference tests/fixtures/holdout

prepare: copies real photographs of assorted sizes from SRC_DIR into the holdout folder as
    small files (crops re-encoded as JPEG / PNG / WebP; see PHOTOS below). Used once with the
    photographs Debian's python3-skimage ships (/usr/lib/python3/dist-packages/skimage/data);
    the C test only needs the committed result.
reference: for every image of the holdout folder (sorted by path), pytorch-fid's steps:
    PIL.Image.open(path).convert('RGB') -> torchvision ToTensor (x / 255, CHW float32)
    -> F.interpolate(size=(299, 299), mode='bilinear', align_corners=False) -> 2x - 1
    -> FID Inception (FIDInceptionA..E: avg pools without padding in the count, a max pool in
       the last block) on hash weights (attngan-oracle-hash-v1, ../shared/fixtures/README.md)
    -> pool3 (2048).
    Writes features.npy (n, 2048) float32 and reference.json: the file order, and FID between
    the two halves of the set (first half vs second half, in path order) computed as pytorch-fid
    does (np.cov, scipy.linalg.sqrtm, real part, 1e-6 offset retry when not finite), and KID
    (torch-fidelity's unbiased cubic-kernel MMD^2) with subsets as large as the halves, where
    every subset is the whole half and no random draw matters.
    Before anything, the network is checked against the inception_fid fixture (pool3 within 1e-5).
The network is written here from the architecture description (torchvision Inception3 with
pytorch-fid's FID blocks), not imported: pytorch-fid and torchvision are not Debian packages.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "shared", "fixtures", "inception_fid")

# ---- hash weights (attngan-oracle-hash-v1) ---------------------------------------------------

M64 = (1 << 64) - 1


def fnv1a64(key):
    h = 0xCBF29CE484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def hash_u(key, numel):
    with np.errstate(over="ignore"):
        i = np.arange(1, numel + 1, dtype=np.uint64)
        x = np.uint64(fnv1a64(key)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    k = (z >> np.uint64(40)).astype(np.int64)
    return ((k - 8388608).astype(np.float32) * np.float32(2.0 ** -23))


def hash_tensor(key, shape):
    numel = int(np.prod(shape)) if len(shape) else 1
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.int64)
    u = hash_u(key, numel).astype(np.float64)
    if key.endswith("running_mean"):
        v = (u / 8).astype(np.float32)
    elif key.endswith("running_var"):
        v = (1 + u / 4).astype(np.float32)
    elif len(shape) == 1 and key.endswith("weight"):
        v = (1 + u / 8).astype(np.float32)
    elif len(shape) == 1 and key.endswith("bias"):
        v = (u / 8).astype(np.float32)
    elif len(shape) >= 2 and key.endswith("weight"):
        s = np.float32(np.sqrt(6.0 / (numel / shape[0])))
        v = u.astype(np.float32) * s
    else:
        raise ValueError(f"no hash rule for {key} {shape}")
    return torch.from_numpy(np.ascontiguousarray(v.reshape(shape)))


# ---- the FID Inception -----------------------------------------------------------------------

class Conv(nn.Module):
    """conv (no bias) + BatchNorm(eps 0.001) + ReLU, keys .conv and .bn"""

    def __init__(self, cin, cout, k, stride=1, pad=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg3(x):   # the FID blocks leave the padding out of the average
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.branch1x1 = Conv(cin, 64, 1)
        self.branch5x5_1 = Conv(cin, 48, 1)
        self.branch5x5_2 = Conv(48, 64, 5, pad=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, pad=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, pad=1)
        self.branch_pool = Conv(cin, pool, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(avg3(x))
        return torch.cat([a, b, c, d], 1)


class BlockB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, pad=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = Conv(cin, 192, 1)
        self.branch7x7_1 = Conv(cin, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, (1, 7), pad=(0, 3))
        self.branch7x7_3 = Conv(c7, 192, (7, 1), pad=(3, 0))
        self.branch7x7dbl_1 = Conv(cin, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), pad=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), pad=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), pad=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, 192, (1, 7), pad=(0, 3))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = x
        for m in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                  self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = m(c)
        d = self.branch_pool(avg3(x))
        return torch.cat([a, b, c, d], 1)


class BlockD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = Conv(cin, 192, 1)
        self.branch3x3_2 = Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Conv(cin, 192, 1)
        self.branch7x7x3_2 = Conv(192, 192, (1, 7), pad=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, (7, 1), pad=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    def __init__(self, cin, last):
        super().__init__()
        self.last = last
        self.branch1x1 = Conv(cin, 320, 1)
        self.branch3x3_1 = Conv(cin, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), pad=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), pad=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, 448, 1)
        self.branch3x3dbl_2 = Conv(448, 384, 3, pad=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), pad=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), pad=(1, 0))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], 1)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], 1)
        # first E block: average without the padding; second: a max pool (pytorch-fid's fix)
        p = F.max_pool2d(x, 3, stride=1, padding=1) if self.last else avg3(x)
        return torch.cat([a, b, c, self.branch_pool(p)], 1)


class FidInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = Conv(32, 64, 3, pad=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, last=False)
        self.Mixed_7c = BlockE(2048, last=True)
        self.fc = nn.Linear(2048, 1008)

    def pool3(self, x):
        """x in [0, 1] at any size -> (B, 2048), pytorch-fid InceptionV3([3]) forward."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for m in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                  self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                  self.Mixed_7c):
            x = m(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def load_net():
    net = FidInception()
    keys_file = os.path.join(HERE, "..", "..", "shared", "reference", "inception_v3_fid.keys.txt")
    want = [ln.split()[0] for ln in open(keys_file)]
    have = list(net.state_dict().keys())
    if sorted(want) != sorted(have):
        raise SystemExit(f"state_dict keys differ from {keys_file}: "
                         f"{sorted(set(want) ^ set(have))[:10]}")
    sd = {k: hash_tensor(k, tuple(v.shape)) for k, v in net.state_dict().items()}
    net.load_state_dict(sd, strict=True)
    return net.eval()


def check_fixture(net):
    x = torch.from_numpy(np.load(os.path.join(FIXTURE, "input.npy")))
    want = np.load(os.path.join(FIXTURE, "pool3.npy"))
    with torch.no_grad():
        got = net.pool3(x).numpy()
    err = float(np.abs(got - want).max())
    print(f"inception_fid fixture: pool3 max |diff| {err:.3g}")
    if err > 1e-5:
        raise SystemExit("the torch FID Inception does not match the fixture")


# ---- FID as pytorch-fid ------------------------------------------------------------------------

def frechet(mu1, s1, mu2, s2, eps=1e-6):
    import scipy.linalg
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + off).dot(s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid_full_sets(a, b, degree=3, coef0=1.0):
    """torch-fidelity's unbiased polynomial MMD^2 with one subset holding every row of both
    sets (equal sizes): then no random draw is involved."""
    gamma = 1.0 / a.shape[1]
    kxx = (gamma * a.dot(a.T) + coef0) ** degree
    kyy = (gamma * b.dot(b.T) + coef0) ** degree
    kxy = (gamma * a.dot(b.T) + coef0) ** degree
    m = a.shape[0]
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.sum() / (m * m))


def list_images(d):
    out = []
    for root, _, files in os.walk(d):
        for f in files:
            if os.path.splitext(f)[1].lower() in (".jpg", ".png", ".webp", ".bmp", ".tif", ".ppm"):
                out.append(os.path.join(root, f))
    return sorted(out)


def reference(d):
    torch.set_num_threads(2)
    net = load_net()
    check_fixture(net)
    paths = list_images(d)
    feats = []
    with torch.no_grad():
        for p in paths:
            img = np.asarray(Image.open(p).convert("RGB"), dtype=np.uint8)
            x = torch.from_numpy(img.transpose(2, 0, 1).copy()).float().div(255).unsqueeze(0)
            feats.append(net.pool3(x)[0].numpy())
            print(f"{os.path.relpath(p, d)}: {img.shape[1]}x{img.shape[0]}")
    feats = np.stack(feats).astype(np.float32)
    np.save(os.path.join(d, "features.npy"), feats)
    h = len(paths) // 2
    a, b = feats[:h].astype(np.float64), feats[h:].astype(np.float64)
    fid = frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    ref = {"generated_by": "tools/fid_reference.py (pytorch-fid pipeline in torch "
                           + torch.__version__ + ", PIL " + Image.__version__ + ")",
           "files": [os.path.relpath(p, d) for p in paths],
           "sizes": [list(Image.open(p).size) for p in paths],
           "fid_first_half_vs_second_half": fid, "split": h,
           "kid_first_half_vs_second_half": kid_full_sets(a, b)}
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"FID(first {h} vs last {len(paths) - h}) = {fid:.10g}")


# Real photographs of assorted sizes: (source, crop box (left, top, right, bottom) or None,
# output name). Sizes cover CUB-like 500x375, portrait, a 299x299 identity resize, small images
# that are upsampled and one larger than 700 px.
PHOTOS = [
    ("chelsea.png", None, "cat/chelsea_451x300.jpg"),
    ("coffee.png", (50, 20, 550, 395), "coffee_500x375.jpg"),
    ("astronaut.png", (80, 0, 455, 500), "people/astronaut_375x500.jpg"),
    ("motorcycle_left.png", None, "motorcycle_741x500.jpg"),
    ("rocket.jpg", (170, 60, 469, 359), "rocket_299x299.png"),
    ("hubble_deep_field.jpg", (300, 300, 500, 450), "space/hubble_200x150.webp"),
    ("coffee.png", (250, 100, 314, 148), "coffee_crop_64x48.png"),
    ("camera.png", (100, 60, 356, 260), "camera_gray_256x200.jpg"),
    ("motorcycle_right.png", (100, 50, 433, 300), "motorcycle_right_333x250.jpg"),
    ("astronaut.png", (0, 256, 512, 512), "people/astronaut_512x256.webp"),
]


def prepare(src, d):
    for name, box, out in PHOTOS:
        im = Image.open(os.path.join(src, name))
        im = im.convert("L" if im.mode == "L" else "RGB")
        if box:
            im = im.crop(box)
        path = os.path.join(d, out)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if out.endswith(".jpg"):
            im.save(path, quality=80)
        elif out.endswith(".webp"):
            im.save(path, quality=75)
        else:
            im.save(path, optimize=True)
        print(f"{out}: {im.size[0]}x{im.size[1]} {os.path.getsize(path)} bytes "
              f"(sha256 of source {hashlib.sha256(open(os.path.join(src, name), 'rb').read()).hexdigest()[:12]})")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "reference":
        reference(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
