#!/usr/bin/python3
"""Writes two small holdout-style fixtures for `t2ibench verify`, made by running the ORIGINAL
generator code with dimensions and batch sizes that differ from ../shared/fixtures:

  tests/fixtures/generators/dmgan_b3/   DM-GAN G_NET, GF_DIM 4, Z_DIM 7, CONDITION_DIM 5,
      EMBEDDING_DIM 6, R_NUM 1, BRANCH_NUM 2, batch 3, T 5 -- queryL (4096) % B != 0, so the
      original's mask[r % B] coupling gives a different pattern than in the B=4 fixture
  tests/fixtures/generators/dfgan_64/   DF-GAN NetG(ngf 3, nz 7, cond_dim 6, imsize 64, ch 3),
      batch 2 (three G_Blocks)

Same layout as ../shared/fixtures (npy + manifest.json with f32_vs_f64 suggested_atol = 10x the
float32-vs-float64 difference, one significant digit, floor 1e-6). The repositories are not
shipped; point the tool at checkouts:

    /usr/bin/python3 tools/make_generator_holdouts.py --dmgan-code ~/src/DM-GAN/code \\
        --dfgan-code ~/src/DF-GAN/code

DM-GAN's model.py runs unmodified with the stand-ins of tools/torch_baseline.py, except
that CA_NET.reparametrize uses a stored eps (same op order: eps.mul(logvar.mul(0.5).exp_())
.add_(mu)), as the shared fixtures do. BatchNorm statistics and DF-GAN's affine output layers
are re-drawn so that every part of the networks matters.
"""
import argparse
import copy
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_baseline as tb  # noqa: E402


def atol_of(d):
    a = 10.0 * d
    if a <= 1e-6:
        return 1e-6
    e = math.floor(math.log10(a))
    return round(a / 10 ** e) * 10 ** e


class Writer:
    def __init__(self, out):
        os.makedirs(out, exist_ok=True)
        self.out, self.tensors, self.f32f64 = out, [], {}

    def put(self, name, t, role):
        a = t.detach().cpu().numpy()
        a = a.astype(np.int64) if a.dtype in (np.bool_, np.int64) else a.astype(np.float32)
        np.save(os.path.join(self.out, name + ".npy"), a)
        self.tensors.append({"name": name, "file": name + ".npy", "dtype": str(a.dtype),
                             "shape": list(a.shape), "role": role})

    def diff(self, name, x32, x64):
        d = float((x32.double() - x64).abs().max())
        self.f32f64[name] = {"max_abs_diff": d, "suggested_atol": atol_of(d)}

    def weights(self, net, fname="model.pth"):
        sd = net.state_dict()
        torch.save(sd, os.path.join(self.out, fname))
        return {"file": fname, "role": "weight-file", "format": "zip",
                "state_dict": [{"key": k, "dtype": str(v.dtype).replace("torch.", ""),
                                "shape": list(v.shape)} for k, v in sd.items()]}

    def manifest(self, case, config, weight_files, notes):
        m = {"case": case, "generated_by": "tools/make_generator_holdouts.py (original code)",
             "versions": {"torch": torch.__version__, "numpy": np.__version__},
             "config": config, "tensors": self.tensors, "weight_files": weight_files,
             "f32_vs_f64": self.f32f64, "notes": notes}
        with open(os.path.join(self.out, "manifest.json"), "w") as f:
            json.dump(m, f, indent=1)


def dmgan(code, out):
    torch.manual_seed(1234)
    gnet, cfg = tb.original_dmgan(code, False)
    cfg.GAN.GF_DIM, cfg.GAN.Z_DIM, cfg.GAN.CONDITION_DIM, cfg.GAN.R_NUM = 4, 7, 5, 1
    cfg.TEXT.EMBEDDING_DIM, cfg.TREE.BRANCH_NUM = 6, 2
    model = sys.modules["model"]
    net = model.G_NET()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm1d) or isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.7, 1.3)
            m.bias.data.uniform_(-0.2, 0.2)
        if isinstance(m, model.NEXT_STAGE_G):   # keep keys and values alive through the ReLUs
            for seq in (m.M_w, m.M_r, m.key, m.value):
                seq[0].bias.data.uniform_(0.1, 0.5)
            m.key[0].weight.data *= 3
    net.eval()
    B, T = 3, 5
    lens = [5, 3, 4]
    z, sent = torch.randn(B, 7), torch.randn(B, 6) * 0.5
    words = torch.randn(B, 6, T) * 0.5
    mask = torch.zeros(B, T, dtype=torch.bool)
    for b, n in enumerate(lens):
        words[b, :, n:] = 0
        mask[b, n:] = True
    eps = torch.randn(B, 5)
    holder = {"eps": eps}

    def reparametrize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        return holder["eps"].to(std.dtype).mul(std).add_(mu)

    model.CA_NET.reparametrize = reparametrize
    w = Writer(out)
    capl = torch.tensor(lens)
    with torch.no_grad():
        imgs, atts, mu, logvar = net(z, sent, words, mask, capl)
        net64 = copy.deepcopy(net).double()
        imgs64, atts64, mu64, lv64 = net64(z.double(), sent.double(), words.double(), mask, capl)
    c_code = eps.mul(logvar.mul(0.5).exp()).add(mu)
    c_code64 = eps.double().mul(lv64.mul(0.5).exp()).add(mu64)
    for n, t in [("z", z), ("sent_emb", sent), ("words_embs", words), ("mask", mask),
                 ("eps", eps), ("cap_lens", capl)]:
        w.put(n, t, "input")
    outs = [("fake_img_64", imgs[0], imgs64[0]), ("fake_img_128", imgs[1], imgs64[1]),
            ("att_1", atts[0], atts64[0]), ("mu", mu, mu64), ("logvar", logvar, lv64),
            ("c_code", c_code, c_code64)]
    for n, a, b in outs:
        w.put(n, a, "output")
        w.diff(n, a, b)
    cfgd = {"GAN.GF_DIM": 4, "GAN.Z_DIM": 7, "TEXT.EMBEDDING_DIM": 6, "GAN.CONDITION_DIM": 5,
            "GAN.R_NUM": 1, "TREE.BRANCH_NUM": 2}
    w.manifest("holdout_dmgan_b3", {"class_": "model.G_NET (DM-GAN)", "cfg": cfgd, "batch": B,
                                    "T": T}, [w.weights(net)],
               ["batch 3, T 5, cap_lens [5, 3, 4]: queryL 4096 % 3 = 1, so query q of sample b "
                "is masked with mask[(b*4096 + q) % 3] (the original's mask.repeat(queryL, 1))"])


def dfgan(code, out):
    torch.manual_seed(4321)
    gan = tb.load_module("GAN", os.path.join(code, "models", "GAN.py"))
    net = gan.NetG(3, 7, 6, 64, 3)
    g = torch.Generator().manual_seed(99)
    for m in net.modules():
        if isinstance(m, gan.Affine):
            for j, lin in enumerate([m.fc_gamma.linear2, m.fc_beta.linear2]):
                c = lin.weight.shape[0]
                lin.weight.data = (torch.rand(lin.weight.shape, generator=g) * 2 - 1) / math.sqrt(c)
                lin.bias.data = (1.0 if j == 0 else 0.0) + (torch.rand(c, generator=g) * 0.2 - 0.1)
    net.to_rgb[1].weight.data *= 4
    net.eval()
    B = 2
    noise = torch.tensor(np.clip(np.random.RandomState(7).randn(B, 7), -2, 2) * 0.88,
                         dtype=torch.float32)
    sent = torch.randn(B, 6) * 0.4
    w = Writer(out)
    with torch.no_grad():
        fake = net(noise, sent)
        fake64 = copy.deepcopy(net).double()(noise.double(), sent.double())
    w.put("noise", noise, "input")
    w.put("sent_emb", sent, "input")
    w.put("fake_img", fake, "output")
    w.diff("fake_img", fake, fake64)
    w.manifest("holdout_dfgan_64", {"class_": "models.GAN.NetG (DF-GAN)",
                                    "ctor": {"ngf": 3, "nz": 7, "cond_dim": 6, "imsize": 64,
                                             "ch_size": 3}, "batch": B},
               [w.weights(net)], ["imsize 64: three G_Blocks, channels 24-24-12-6-3"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dmgan-code", required=True)
    ap.add_argument("--dfgan-code", required=True)
    ap.add_argument("--out", default="tests/fixtures/generators")
    a = ap.parse_args()
    dmgan(a.dmgan_code, os.path.join(a.out, "dmgan_b3"))
    dfgan(a.dfgan_code, os.path.join(a.out, "dfgan_64"))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
