#!/usr/bin/python3
"""PyTorch baseline for `t2ibench bench generator --arch dmgan|dfgan`: the ORIGINAL generator
code, timed on this machine with the same rules as the C bench (released full-size
configuration, eval mode, no_grad, batch B, T words (18 bird, 12 coco), `warmup` untimed then
`iters` timed forwards, torch.set_num_threads(threads)).

The original repositories are not shipped; point the tool at a checkout:

    /usr/bin/python3 tools/bench_torch_generators.py --arch dmgan --code ~/src/DM-GAN/code
    /usr/bin/python3 tools/bench_torch_generators.py --arch dfgan --code ~/src/DF-GAN/code

DM-GAN (MinfengZhu/DM-GAN code/model.py): G_NET with cfg GF_DIM 64, R_NUM 2 (bird) / 3 (coco),
Z_DIM 100, CONDITION_DIM 100, EMBEDDING_DIM 256, BRANCH_NUM 3. model.py is executed unmodified;
its imports get stand-ins only where they are not needed to build G_NET: `miscc.config.cfg`
(the values above), `spectral` (SpectralNorm, unused by G_NET) and `torchvision.models` (used by
CNN_ENCODER only) when torchvision is missing. GlobalAttention.py is the repository's.
DF-GAN (tobran/DF-GAN code/models/GAN.py): NetG(ngf=32, nz=100, cond_dim=256, imsize=256,
ch_size=3), executed unmodified. Weights are the modules' own random init (speed does not
depend on them). Prints one line per measurement, or JSON with --json.
"""
import argparse
import json
import os
import sys
import time
import types

import torch


class AttrDict(dict):
    """Minimal EasyDict: attribute access on nested dicts."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError as e:
            raise AttributeError(k) from e

    def __setattr__(self, k, v):
        self[k] = v


def load_module(name, path, extra=None):
    mod = types.ModuleType(name)
    mod.__file__ = path
    if extra:
        mod.__dict__.update(extra)
    sys.modules[name] = mod
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, mod.__dict__)
    return mod


def build_dmgan(code_dir, coco):
    cfg = AttrDict(
        CUDA=False, RNN_TYPE="LSTM", B_VALIDATION=False,
        GAN=AttrDict(GF_DIM=64, DF_DIM=64, Z_DIM=100, CONDITION_DIM=100, R_NUM=3 if coco else 2,
                     B_ATTENTION=True, B_DCGAN=False),
        TEXT=AttrDict(EMBEDDING_DIM=256, WORDS_NUM=12 if coco else 18, CAPTIONS_PER_IMAGE=5 if coco else 10),
        TREE=AttrDict(BRANCH_NUM=3, BASE_SIZE=64),
        TRAIN=AttrDict(FLAG=False, BATCH_SIZE=10, SMOOTH=AttrDict(GAMMA1=4.0, GAMMA2=5.0, GAMMA3=10.0,
                                                                  LAMBDA=1.0)))
    miscc = types.ModuleType("miscc")
    config = types.ModuleType("miscc.config")
    config.cfg = cfg
    miscc.config = config
    sys.modules["miscc"] = miscc
    sys.modules["miscc.config"] = config
    spectral = types.ModuleType("spectral")
    spectral.SpectralNorm = None   # imported by model.py, not used by G_NET
    sys.modules["spectral"] = spectral
    try:
        import torchvision  # noqa: F401
    except ImportError:       # CNN_ENCODER needs it, G_NET does not
        tv = types.ModuleType("torchvision")
        tv.models = types.ModuleType("torchvision.models")
        sys.modules["torchvision"] = tv
        sys.modules["torchvision.models"] = tv.models
    ga = os.path.join(code_dir, "GlobalAttention.py")   # imported by model.py
    if os.path.exists(ga):
        load_module("GlobalAttention", ga)
    model = load_module("model", os.path.join(code_dir, "model.py"))
    return model.G_NET(), cfg


def build_dfgan(code_dir):
    gan = load_module("GAN", os.path.join(code_dir, "models", "GAN.py"))
    return gan.NetG(32, 100, 256, 256, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=["dmgan", "dfgan"], required=True)
    ap.add_argument("--code", required=True, help="the repository's code/ folder")
    ap.add_argument("--config", choices=["bird", "coco"], default="bird")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, T, coco = a.batch, 12 if a.config == "coco" else 18, a.config == "coco"
    if a.arch == "dmgan":
        net, _ = build_dmgan(a.code, coco)
        z, sent = torch.randn(B, 100), torch.randn(B, 256) * 0.3
        words = torch.randn(B, 256, T) * 0.3
        mask = torch.zeros(B, T, dtype=torch.bool)   # no padding, as the C bench
        lens = torch.full((B,), T, dtype=torch.long)
        run = lambda: net(z, sent, words, mask, lens)   # noqa: E731
    else:
        net = build_dfgan(a.code)
        z, sent = torch.randn(B, 100), torch.randn(B, 256) * 0.3
        run = lambda: net(z, sent)   # noqa: E731
    net.eval()
    with torch.no_grad():
        for _ in range(a.warmup):
            run()
        t0 = time.perf_counter()
        for _ in range(a.iters):
            run()
        secs = time.perf_counter() - t0
    ips = B * a.iters / secs
    name = "%s_%s" % (a.arch, a.config)
    res = {"network": name, "impl": "pytorch-original", "torch": torch.__version__, "batch": B,
           "threads": a.threads, "images_per_s": ips}
    if a.json:
        print(json.dumps(res))
    else:
        print("%-28s batch %2d threads %d: %7.2f img/s  (PyTorch %s, original code)"
              % (name, B, a.threads, ips, torch.__version__))


if __name__ == "__main__":
    main()
