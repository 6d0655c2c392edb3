#!/usr/bin/python3
"""torch_baseline.py -- the PyTorch baseline that `make bench` measures next to t2ibench.

Developer tool (run with Debian's /usr/bin/python3 and python3-torch). It builds the networks that
t2ibench reimplements, written here from their published definitions, with random weights:

  g_bird, g_coco     AttnGAN G_NET (GF_DIM 32 / R_NUM 2 and GF_DIM 48 / R_NUM 3)
  dmgan_bird, dmgan_coco  DM-GAN G_NET with the dynamic memory (GF_DIM 64, R_NUM 2 / 3)
  dfgan              DF-GAN NetG (nf 32, z 100, cond 256, 256 px)
  rnn_bird           DAMSM RNN_ENCODER (bi-LSTM, CUB vocabulary size), one caption per image
  damsm              DAMSM CNN_ENCODER (256 px input resized to 299, Inception trunk)
  fid_pool3          pytorch-fid's FID Inception v3 to pool3 (resize to 299, 2x-1)
  is_torchvision     torchvision's Inception v3 as IS classifier (logits and softmax)
  pipeline_bird      per image what `t2ibench run` does on a CUB suite: text encoder, G_NET bird,
                     uint8 truncation, IS classifier (256 -> 299), DAMSM text encoder on the true
                     and 99 mismatched captions, DAMSM image encoder, R-precision rank

and times them in eval mode under torch.no_grad(). Every network's structure is checked against
the reference listings of ../shared/reference (state_dict keys and shapes, parameter counts and
the conv/linear MAC counts of summary.json): `--check`.

With `--original-code DIR`, dmgan_bird, dmgan_coco and dfgan are instead built from the ORIGINAL
repository code in a checkout the user names (DM-GAN's or DF-GAN's code/ folder; the code is not
shipped): model.py (MinfengZhu/DM-GAN) or models/GAN.py (tobran/DF-GAN) is executed unmodified.
DM-GAN's imports get stand-ins only where G_NET does not need them: `miscc.config.cfg` (the
released configuration: GF_DIM 64, R_NUM 2 bird / 3 coco, Z_DIM 100, CONDITION_DIM 100,
EMBEDDING_DIM 256, BRANCH_NUM 3), `spectral` (SpectralNorm, unused by G_NET) and
`torchvision.models` (CNN_ENCODER only) when torchvision is missing; GlobalAttention.py is the
repository's. DF-GAN is NetG(ngf=32, nz=100, cond_dim=256, imsize=256, ch_size=3). The weights are
the modules' own random init. tools/make_generator_holdouts.py uses the same loaders.

Output is JSON lines on stdout, one object per measurement:
  {"network": ..., "batch": B, "threads": T, "images": N, "seconds": S, "images_per_s": R,
   "torch": "1.13.0", "gmac_per_image": G}
or {"network": ..., "error": "..."}.

Modes:
  torch_baseline.py --list
  torch_baseline.py --check [--reference DIR]
  torch_baseline.py --verify-fixtures ../shared/fixtures   outputs vs the oracle fixtures
  torch_baseline.py --network NAME [--batch 8] [--threads 2] [--iters 3] [--warmup 1]
  torch_baseline.py --network dmgan_bird|dmgan_coco|dfgan --original-code DIR [...]
  torch_baseline.py --all [--batch 8] [--threads 2]    every network at --batch and at batch 1
  torch_baseline.py --serve      one JSON request per stdin line ({"network", "batch", "threads",
                                 "iters", "warmup"}), one JSON reply line each; what
                                 `t2ibench bench --pytorch` drives, so that both are measured
                                 in one invocation, network by network.
"""

import argparse
import json
import os
import sys
import time
import types
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

Z_DIM, COND_DIM, EMB_DIM = 100, 100, 256
WORDS = {"bird": 18, "coco": 12}          # T of summary.json (training WORDS_NUM)
MISMATCHES = 99                            # R-precision: 1 true + 99 mismatched captions
VOCAB = {"bird": 5450, "coco": 27297}


# ---- AttnGAN G_NET (taoxugit/AttnGAN code/model.py, GlobalAttention.py) ------------------------

class GLU(nn.Module):
    def forward(self, x):
        half = x.size(1) // 2
        return x[:, :half] * torch.sigmoid(x[:, half:])


def conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, 1, 1, bias=False)


def conv1x1(cin, cout):
    return nn.Conv2d(cin, cout, 1, 1, 0, bias=False)


def up_block(cin, cout):
    """nearest x2, conv3x3 to 2*cout, BN, GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(cin, cout * 2),
                         nn.BatchNorm2d(cout * 2), GLU())


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.block = nn.Sequential(conv3x3(ch, ch * 2), nn.BatchNorm2d(ch * 2), GLU(),
                                   conv3x3(ch, ch), nn.BatchNorm2d(ch))

    def forward(self, x):
        return self.block(x) + x


class CANet(nn.Module):
    """fc + GLU -> mu, logvar; c = eps * exp(logvar / 2) + mu (eps drawn in eval too)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(EMB_DIM, COND_DIM * 4)
        self.relu = GLU()
        self.eps = None   # a stored eps (fixture check) in place of a fresh draw

    def forward(self, sent):
        x = self.relu(self.fc(sent))
        mu, logvar = x[:, :COND_DIM], x[:, COND_DIM:]
        eps = torch.randn_like(mu) if self.eps is None else self.eps
        return eps * torch.exp(0.5 * logvar) + mu, mu, logvar


class InitStage(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.gf = ngf
        self.fc = nn.Sequential(nn.Linear(Z_DIM + COND_DIM, ngf * 16 * 2, bias=False),
                                nn.BatchNorm1d(ngf * 16 * 2), GLU())
        self.upsample1 = up_block(ngf, ngf // 2)
        self.upsample2 = up_block(ngf // 2, ngf // 4)
        self.upsample3 = up_block(ngf // 4, ngf // 8)
        self.upsample4 = up_block(ngf // 8, ngf // 16)

    def forward(self, z, c):
        h = self.fc(torch.cat((c, z), 1)).view(-1, self.gf, 4, 4)
        return self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))


def masked_softmax_rows(scores, mask, batch, query_len):
    """scores (B*queryL, T) batch-major; the original masks row r with mask[r % B]."""
    if mask is not None:
        scores = scores.masked_fill(mask.repeat(query_len, 1), -float("inf"))
    return F.softmax(scores, dim=1)


class WordAttention(nn.Module):
    def __init__(self, idf, cdf):
        super().__init__()
        self.conv_context = conv1x1(cdf, idf)

    def forward(self, h, words, mask):
        b, _, ih, iw = h.shape
        q = ih * iw
        target_t = h.view(b, -1, q).transpose(1, 2)                      # B x q x idf
        source = self.conv_context(words.unsqueeze(3)).squeeze(3)        # B x idf x T
        attn = torch.bmm(target_t, source).view(b * q, -1)
        attn = masked_softmax_rows(attn, mask, b, q).view(b, q, -1).transpose(1, 2)
        ctx = torch.bmm(source, attn)                                    # B x idf x q
        return ctx.view(b, -1, ih, iw), attn.reshape(b, -1, ih, iw)


class NextStage(nn.Module):
    def __init__(self, ngf, r_num):
        super().__init__()
        self.att = WordAttention(ngf, EMB_DIM)
        self.residual = nn.Sequential(*[ResBlock(ngf * 2) for _ in range(r_num)])
        self.upsample = up_block(ngf * 2, ngf)

    def forward(self, h, c, words, mask):
        ctx, att = self.att(h, words, mask)
        return self.upsample(self.residual(torch.cat((h, ctx), 1))), att


class ImageHead(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.img = nn.Sequential(conv3x3(ngf, 3), nn.Tanh())

    def forward(self, h):
        return self.img(h)


class GNet(nn.Module):
    """AttnGAN G_NET, BRANCH_NUM 3; `next_stage(ngf, size)` builds stages 2 and 3."""

    def __init__(self, gf, next_stage):
        super().__init__()
        self.ca_net = CANet()
        self.h_net1 = InitStage(gf * 16)
        self.img_net1 = ImageHead(gf)
        self.h_net2 = next_stage(gf, 64)
        self.img_net2 = ImageHead(gf)
        self.h_net3 = next_stage(gf, 128)
        self.img_net3 = ImageHead(gf)

    def forward(self, z, sent, words, mask):
        c, mu, logvar = self.ca_net(sent)
        h1 = self.h_net1(z, c)
        h2, att1 = self.h_net2(h1, c, words, mask)
        h3, att2 = self.h_net3(h2, c, words, mask)
        return [self.img_net1(h1), self.img_net2(h2), self.img_net3(h3)], [att1, att2], mu, logvar


# ---- DM-GAN (MinfengZhu/DM-GAN code/model.py): the attention stage becomes a dynamic memory ----

def conv1d_relu(cin, cout):
    return nn.Sequential(nn.Conv1d(cin, cout, kernel_size=1), nn.ReLU())


class MemoryStage(nn.Module):
    def __init__(self, ngf, size, r_num):
        super().__init__()
        self.avg = nn.AvgPool2d(kernel_size=size)
        self.A = nn.Linear(EMB_DIM, 1, bias=False)
        self.B = nn.Linear(ngf, 1, bias=False)
        self.M_r = conv1d_relu(ngf, ngf * 2)
        self.M_w = conv1d_relu(EMB_DIM, ngf * 2)
        self.key = conv1d_relu(ngf * 2, ngf)
        self.value = conv1d_relu(ngf * 2, ngf)
        self.response_gate = nn.Sequential(nn.Conv2d(ngf * 2, 1, 1), nn.Sigmoid())
        self.residual = nn.Sequential(*[ResBlock(ngf * 2) for _ in range(r_num)])
        self.upsample = up_block(ngf * 2, ngf)

    def forward(self, h, c, words, mask):
        t = words.size(2)
        h_avg = self.avg(h).squeeze(3)                                    # B x ngf x 1
        gate = torch.sigmoid(self.A(words.transpose(1, 2)).transpose(1, 2) +
                             self.B(h_avg.transpose(1, 2)).repeat(1, 1, t))   # B x 1 x T
        memory = self.M_w(words) * gate + self.M_r(h_avg.repeat(1, 1, t)) * (1 - gate)
        key, value = self.key(memory), self.value(memory)
        b, _, ih, iw = h.shape
        q = ih * iw
        weight = torch.bmm(h.view(b, -1, q).transpose(1, 2), key).view(b * q, t)
        weight = masked_softmax_rows(weight, mask, b, q).view(b, q, t).transpose(1, 2)
        out = torch.bmm(value, weight).view(b, -1, ih, iw)
        r = self.response_gate(torch.cat((h, out), 1))
        h_new = h * (1 - r) + r * out
        code = self.upsample(self.residual(torch.cat((h_new, h_new), 1)))
        return code, weight.reshape(b, t, ih, iw)


# ---- DF-GAN NetG (tobran/DF-GAN code/models/GAN.py) ---------------------------------------------

def mlp(cin, cout):
    return nn.Sequential(OrderedDict([("linear1", nn.Linear(cin, cout)),
                                      ("relu1", nn.ReLU(inplace=True)),
                                      ("linear2", nn.Linear(cout, cout))]))


class Affine(nn.Module):
    def __init__(self, cond, ch):
        super().__init__()
        self.fc_gamma = mlp(cond, ch)
        self.fc_beta = mlp(cond, ch)

    def forward(self, x, y):
        g = self.fc_gamma(y)[:, :, None, None]
        b = self.fc_beta(y)[:, :, None, None]
        return g * x + b


class DFBlock(nn.Module):
    def __init__(self, cond, ch):
        super().__init__()
        self.affine0 = Affine(cond, ch)
        self.affine1 = Affine(cond, ch)

    def forward(self, x, y):
        h = F.leaky_relu(self.affine0(x, y), 0.2)
        return F.leaky_relu(self.affine1(h, y), 0.2)


class GBlock(nn.Module):
    def __init__(self, cond, cin, cout):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.fuse1 = DFBlock(cond, cin)
        self.fuse2 = DFBlock(cond, cout)
        self.c_sc = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, y):
        x = F.interpolate(x, scale_factor=2)
        h = self.c2(self.fuse2(self.c1(self.fuse1(x, y)), y))
        return (self.c_sc(x) if self.c_sc is not None else x) + h


class DFNetG(nn.Module):
    def __init__(self, nf=32, nz=100, cond=256):
        super().__init__()
        self.nf = nf
        self.fc = nn.Linear(nz, nf * 8 * 16)
        chs = [nf * m for m in (8, 8, 8, 8, 4, 2, 1)]
        self.GBlocks = nn.ModuleList(GBlock(cond + nz, a, b) for a, b in zip(chs[:-1], chs[1:]))
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(nf, 3, 3, 1, 1),
                                    nn.Tanh())

    def forward(self, noise, sent):
        out = self.fc(noise).view(noise.size(0), 8 * self.nf, 4, 4)
        cond = torch.cat((noise, sent), 1)
        for blk in self.GBlocks:
            out = blk(out, cond)
        return self.to_rgb(out)


# ---- DAMSM RNN_ENCODER (AttnGAN code/model.py) --------------------------------------------------

class RNNEncoder(nn.Module):
    def __init__(self, ntoken, ninput=300, nhidden=256):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninput)
        self.drop = nn.Dropout(0.5)
        self.rnn = nn.LSTM(ninput, nhidden // 2, 1, batch_first=True, bidirectional=True)
        self.nhidden = nhidden

    def forward(self, captions, lens):
        emb = self.drop(self.encoder(captions))
        packed = nn.utils.rnn.pack_padded_sequence(emb, lens.cpu(), batch_first=True)
        out, (h, _) = self.rnn(packed)
        out = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)[0]
        return out.transpose(1, 2), h.transpose(0, 1).reshape(-1, self.nhidden)


# ---- Inception v3 (torchvision 0.14 inception.py; pytorch-fid's FID variant) --------------------

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg3(x, fid):
    """The pool branch: torchvision counts the padding, pytorch-fid's FID blocks do not."""
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=not fid)


class InceptionA(nn.Module):
    def __init__(self, cin, pool, fid):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(avg3(x, self.fid))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, fid):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                  self.branch7x7dbl_5):
            d = m(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(avg3(x, self.fid))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = m(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """pool: 'avg' (count_include_pad), 'avg_nopad' (FID Mixed_7b), 'max' (FID Mixed_7c)."""

    def __init__(self, cin, pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        if self.pool == "max":
            p = F.max_pool2d(x, 3, 1, 1)
        else:
            p = avg3(x, self.pool == "avg_nopad")
        return torch.cat([self.branch1x1(x),
                          torch.cat([self.branch3x3_2a(a), self.branch3x3_2b(a)], 1),
                          torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1),
                          self.branch_pool(p)], 1)


class InceptionAux(nn.Module):
    """Built for the key set of the ImageNet checkpoint; not run in eval."""

    def __init__(self, cin, classes):
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, classes)


class InceptionTrunk(nn.Module):
    """Conv2d_1a_3x3 ... Mixed_7c. `head`: 'torchvision' (aux + fc 1000), 'fid' (fc 1008),
    'damsm' (emb_features on Mixed_6e, emb_cnn_code on the pooled Mixed_7c)."""

    def __init__(self, head):
        super().__init__()
        fid = head == "fid"
        self.head = head
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32, fid)
        self.Mixed_5c = InceptionA(256, 64, fid)
        self.Mixed_5d = InceptionA(288, 64, fid)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, fid)
        self.Mixed_6c = InceptionC(768, 160, fid)
        self.Mixed_6d = InceptionC(768, 160, fid)
        self.Mixed_6e = InceptionC(768, 192, fid)
        if head == "torchvision":
            self.AuxLogits = InceptionAux(768, 1000)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, "avg_nopad" if fid else "avg")
        self.Mixed_7c = InceptionE(2048, "max" if fid else "avg")
        if head == "damsm":
            self.emb_features = conv1x1(768, 256)
            self.emb_cnn_code = nn.Linear(2048, 256)
        else:
            self.fc = nn.Linear(2048, 1008 if fid else 1000)

    def forward(self, x, logits=True):
        """x: (B,3,299,299). Returns pool3 (and logits), or (features, cnn_code) for damsm."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, 2)
        for m in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                  self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = m(x)
        features = x
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        if self.head == "damsm":
            code = self.emb_cnn_code(F.avg_pool2d(x, kernel_size=8).flatten(1))
            return self.emb_features(features), code
        pool3 = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return (pool3, self.fc(pool3)) if logits else pool3


def resize299(x):
    return F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)


# ---- the original DM-GAN / DF-GAN code, from a checkout ----------------------------------------

class AttrDict(dict):
    """Minimal EasyDict: attribute access on nested dicts."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError as e:
            raise AttributeError(k) from e

    def __setattr__(self, k, v):
        self[k] = v


def load_module(name, path):
    """Executes the file `path` unmodified as the module `name` (registered in sys.modules)."""
    mod = types.ModuleType(name)
    mod.__file__ = path
    sys.modules[name] = mod
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, mod.__dict__)
    return mod


def original_dmgan(code_dir, coco):
    """DM-GAN's G_NET from `code_dir`/model.py and the cfg it reads (change the cfg and call
    sys.modules["model"].G_NET() again for other dimensions)."""
    cfg = AttrDict(
        CUDA=False, RNN_TYPE="LSTM", B_VALIDATION=False,
        GAN=AttrDict(GF_DIM=64, DF_DIM=64, Z_DIM=Z_DIM, CONDITION_DIM=COND_DIM,
                     R_NUM=3 if coco else 2, B_ATTENTION=True, B_DCGAN=False),
        TEXT=AttrDict(EMBEDDING_DIM=EMB_DIM, WORDS_NUM=WORDS["coco" if coco else "bird"],
                      CAPTIONS_PER_IMAGE=5 if coco else 10),
        TREE=AttrDict(BRANCH_NUM=3, BASE_SIZE=64),
        TRAIN=AttrDict(FLAG=False, BATCH_SIZE=10,
                       SMOOTH=AttrDict(GAMMA1=4.0, GAMMA2=5.0, GAMMA3=10.0, LAMBDA=1.0)))
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


def original_dfgan(code_dir):
    """DF-GAN's NetG from `code_dir`/models/GAN.py at the released size."""
    gan = load_module("GAN", os.path.join(code_dir, "models", "GAN.py"))
    return gan.NetG(32, Z_DIM, EMB_DIM, 256, 3)


ORIGINAL = ("dmgan_bird", "dmgan_coco", "dfgan")   # networks --original-code can replace


# ---- the measured networks -----------------------------------------------------------------------

def g_inputs(batch, t, gen):
    words = torch.randn(batch, EMB_DIM, t, generator=gen)
    mask = torch.zeros(batch, t, dtype=torch.bool)
    return (torch.randn(batch, Z_DIM, generator=gen), torch.randn(batch, EMB_DIM, generator=gen),
            words, mask)


def captions(n, t, vocab, gen):
    return torch.randint(1, vocab, (n, t), generator=gen), torch.full((n,), t, dtype=torch.long)


class Net:
    """One measured network: `model` (its state_dict is checked), `make(batch)` -> callable."""

    def __init__(self, name, ref, model, make, gmac, macs_check=None):
        self.name, self.ref, self.model, self.make, self.gmac = name, ref, model, make, gmac
        self.macs_check = macs_check  # (summary field or number, run-at-batch-1 callable maker)


def summary(ref_dir):
    with open(os.path.join(ref_dir, "summary.json")) as f:
        return json.load(f)


def build(name, ref_dir, code=None):
    """The network `name`, with random weights, in eval mode; with `code`, one of ORIGINAL built
    from the original repository's code in that folder."""
    gen = torch.Generator().manual_seed(100)
    s = summary(ref_dir)
    if code and name.startswith("dmgan_"):
        t = WORDS[name.split("_")[1]]
        model, _ = original_dmgan(code, name == "dmgan_coco")

        def make(batch):
            z, sent, words, mask = g_inputs(batch, t, gen)
            lens = torch.full((batch,), t, dtype=torch.long)
            return lambda: model(z, sent, words, mask, lens)
        ref = "DMGAN_G_NET_" + name.split("_")[1]
        return Net(name, ref, model, make, s[ref]["gmacs_per_image"])
    if name in ("g_bird", "g_coco", "dmgan_bird", "dmgan_coco"):
        cfg = name.split("_")[1]
        t = WORDS[cfg]
        r_num = 2 if cfg == "bird" else 3
        if name.startswith("g_"):
            ref = "G_NET_" + cfg
            gf = 32 if cfg == "bird" else 48
            model = GNet(gf, lambda ngf, size: NextStage(ngf, r_num))
        else:
            ref = "DMGAN_G_NET_" + cfg
            model = GNet(64, lambda ngf, size: MemoryStage(ngf, size, r_num))

        def make(batch):
            z, sent, words, mask = g_inputs(batch, t, gen)
            return lambda: model(z, sent, words, mask)
        return Net(name, ref, model, make, s[ref]["gmacs_per_image"])
    if name == "dfgan":
        model = original_dfgan(code) if code else DFNetG()

        def make(batch):
            noise = torch.randn(batch, Z_DIM, generator=gen)
            sent = torch.randn(batch, EMB_DIM, generator=gen)
            return lambda: model(noise, sent)
        return Net(name, "DFGAN_NetG_bird", model, make, s["DFGAN_NetG_bird"]["gmacs_per_image"])
    if name == "rnn_bird":
        model = RNNEncoder(VOCAB["bird"])

        def make(batch):
            cap, lens = captions(batch, WORDS["bird"], VOCAB["bird"], gen)
            return lambda: model(cap, lens)
        return Net(name, "RNN_ENCODER_bird", model, make,
                   s["RNN_ENCODER_bird"]["macs_per_token"] * WORDS["bird"] / 1e9)
    if name in ("damsm", "fid_pool3", "is_torchvision"):
        head = {"damsm": "damsm", "fid_pool3": "fid", "is_torchvision": "torchvision"}[name]
        model = InceptionTrunk(head)
        ref = {"damsm": "CNN_ENCODER", "fid_pool3": "inception_v3_fid",
               "is_torchvision": "inception_v3_torchvision"}[name]
        field = "gmacs_to_pool3" if name == "fid_pool3" else "gmacs_per_image"

        def make(batch):
            if name == "damsm":       # CNN_ENCODER upsamples the 256 px image itself
                x = torch.rand(batch, 3, 256, 256, generator=gen) * 2 - 1
                return lambda: model(resize299(x))
            if name == "fid_pool3":   # pytorch-fid InceptionV3([3]): resize, 2x-1, to pool3
                x = torch.rand(batch, 3, 299, 299, generator=gen)
                return lambda: model(2 * resize299(x) - 1, logits=False)
            x = torch.rand(batch, 3, 299, 299, generator=gen) * 2 - 1
            return lambda: F.softmax(model(x)[1], dim=1)
        return Net(name, ref, model, make, s[ref][field])
    if name == "pipeline_bird":
        return build_pipeline(ref_dir, gen, s)
    raise KeyError(name)


NETWORKS = ["g_bird", "g_coco", "dmgan_bird", "dmgan_coco", "dfgan", "rnn_bird", "damsm",
            "fid_pool3", "is_torchvision", "pipeline_bird"]


class Pipeline(nn.Module):
    def __init__(self):
        super().__init__()
        self.text = RNNEncoder(VOCAB["bird"])
        self.g = GNet(32, lambda ngf, size: NextStage(ngf, 2))
        self.is_net = InceptionTrunk("torchvision")
        self.damsm_text = RNNEncoder(VOCAB["bird"])
        self.damsm_image = InceptionTrunk("damsm")


def build_pipeline(ref_dir, gen, s):
    model = Pipeline()
    t = WORDS["bird"]

    def make(batch):
        cap, lens = captions(batch, t, VOCAB["bird"], gen)
        rp_cap, rp_lens = captions(batch * (1 + MISMATCHES), t, VOCAB["bird"], gen)
        z = torch.randn(batch, Z_DIM, generator=gen)
        mask = cap == 0

        def run():
            words, sent = model.text(cap, lens)
            img = model.g(z, sent, words, mask)[0][2]
            u8 = ((img + 1) * 127.5).to(torch.uint8).float()          # the original truncation
            probs = F.softmax(model.is_net(resize299(u8 / 127.5 - 1))[1], dim=1)
            _, cand = model.damsm_text(rp_cap, rp_lens)                 # true + 99 mismatched
            _, code = model.damsm_image(resize299(u8 / 127.5 - 1))
            cand = cand.view(batch, 1 + MISMATCHES, -1)
            sim = F.cosine_similarity(code[:, None, :], cand, dim=2)
            rank = (sim > sim[:, :1]).sum(1)
            return probs, rank
        return run
    per_image = (s["G_NET_bird"]["gmacs_per_image"] + s["inception_v3_torchvision"]["gmacs_per_image"]
                 + s["CNN_ENCODER"]["gmacs_per_image"]
                 + (2 + MISMATCHES) * s["RNN_ENCODER_bird"]["macs_per_token"] * t / 1e9)
    return Net("pipeline_bird", None, model, make, per_image)


# ---- structure check -----------------------------------------------------------------------------

def read_keys(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                key, shape, dtype = line.split()
                dims = shape.strip("()")
                out.append((key, tuple(int(d) for d in dims.split(",") if d), dtype))
    return out


def count_macs(model, run):
    """Conv1d/Conv2d/Linear MACs of one call (out_elems x in_per_group x kernel)."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            k = 1
            for d in mod.kernel_size:
                k *= d
            total[0] += out.numel() * k * mod.in_channels // mod.groups
        elif isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.in_features
    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        run()
    for h in hooks:
        h.remove()
    return total[0]


def expected_conv_macs(name, s):
    """summary.json's count minus what it adds beyond conv/linear (bmm, LSTM)."""
    if name.startswith("g_"):
        e = s["G_NET_" + name[2:]]
        return e["macs_per_image"] - sum(e["attention_bmm_macs_included"].values())
    if name.startswith("dmgan_"):
        e = s["DMGAN_G_NET_" + name[6:]]
        return e["macs_per_image"] - sum(e["memory_bmm_macs_included"].values())
    if name == "dfgan":
        return s["DFGAN_NetG_bird"]["macs_per_image"]
    if name == "damsm":
        return s["CNN_ENCODER"]["macs_per_image"]
    if name == "fid_pool3":
        return round(s["inception_v3_fid"]["gmacs_to_pool3"] * 1e9)
    if name == "is_torchvision":
        return s["inception_v3_torchvision"]["macs_per_image"]
    return None


def check(ref_dir):
    """Keys, shapes, dtypes and order of every state_dict against the reference listings, the
    parameter counts and the conv/linear MACs of summary.json. Returns the number of failures."""
    s = summary(ref_dir)
    bad = 0
    for name in NETWORKS:
        net = build(name, ref_dir)
        if net.ref is None:
            continue
        want = read_keys(os.path.join(ref_dir, s[net.ref]["keys_file"]))
        got = [(k, tuple(v.shape), str(v.dtype).replace("torch.", ""))
               for k, v in net.model.state_dict().items()]
        params = sum(p.numel() for p in net.model.parameters())
        problems = []
        if got != want:
            diff = [(a, b) for a, b in zip(got, want) if a != b]
            problems.append("state_dict differs: %d vs %d keys, first difference %s" %
                            (len(got), len(want), diff[:1] or "in length"))
        if params != s[net.ref]["n_parameters"]:
            problems.append("%d parameters, reference %d" % (params, s[net.ref]["n_parameters"]))
        exp = expected_conv_macs(name, s)
        if exp is not None:
            net.model.eval()
            macs = count_macs(net.model, net.make(1))
            if macs != exp:
                problems.append("conv/linear MACs %d, reference %d" % (macs, exp))
        print(json.dumps({"network": name, "reference": net.ref, "keys": len(got),
                          "parameters": params, "ok": not problems, "problems": problems}))
        bad += bool(problems)
    return bad


# ---- numeric check against the oracle fixtures (hash weights) ----------------------------------

def hash_state_dict(model):
    """Every entry from its key name by the fixtures' rule attngan-oracle-hash-v1."""
    import numpy as np
    mask = (1 << 64) - 1
    out = {}
    for key, t in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(t)
            continue
        h = 0xcbf29ce484222325
        for byte in key.encode():
            h = ((h ^ byte) * 0x100000001b3) & mask
        with np.errstate(over="ignore"):
            i = np.arange(1, t.numel() + 1, dtype=np.uint64)
            x = np.uint64(h) + i * np.uint64(0x9E3779B97F4A7C15)
            z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        u = ((z >> np.uint64(40)).astype(np.int64) - (1 << 23)).astype(np.float32) * np.float32(2.0 ** -23)
        if key.endswith("running_mean"):
            v = u / np.float32(8)
        elif key.endswith("running_var"):
            v = np.float32(1) + u / np.float32(4)
        elif t.dim() == 1 and key.endswith("weight"):
            v = np.float32(1) + u / np.float32(8)
        elif t.dim() == 1:
            v = u / np.float32(8)
        else:
            v = u * np.float32(np.sqrt(6.0 / (t.numel() // t.shape[0])))
        out[key] = torch.from_numpy(v.astype(np.float32).reshape(tuple(t.shape)))
    return out


def verify_fixtures(fixtures):
    """Runs the Inception-based networks on the fixture inputs with the hash weights and prints
    the max abs error of each output (the manifests' suggested tolerances are 1e-5 / 2e-5)."""
    import numpy as np
    cases = [("inception_fid", "fid", lambda m, x: m(2 * resize299(x) - 1), ("pool3", "logits")),
             ("inception_torchvision", "torchvision", lambda m, x: m(x), ("pool3", "logits")),
             ("damsm_image_encoder", "damsm", lambda m, x: m(resize299(x)),
              ("features", "cnn_code"))]
    worst = 0.0
    for case, head, run, names in cases:
        model = InceptionTrunk(head)
        model.load_state_dict(hash_state_dict(model))
        model.eval()
        x = torch.from_numpy(np.load(os.path.join(fixtures, case, "input.npy")))
        with torch.no_grad():
            got = run(model, x)
        for name, t in zip(names, got):
            ref = np.load(os.path.join(fixtures, case, name + ".npy"))
            err = float(np.abs(t.numpy() - ref).max())
            worst = max(worst, err)
            print(json.dumps({"fixture": case, "output": name, "max_abs_error": err}))
    return worst


def verify_generators(fixtures):
    """G_NET (generator_r2), DM-GAN (generator_dmgan) and DF-GAN (generator_dfgan) at the
    fixtures' small sizes, with their model.pth, on their inputs; prints max abs errors (the
    suggested tolerances are 1e-6 .. 5e-5)."""
    import numpy as np
    global Z_DIM, COND_DIM, EMB_DIM
    saved = (Z_DIM, COND_DIM, EMB_DIM)
    Z_DIM, COND_DIM, EMB_DIM = 16, 8, 16
    worst = 0.0

    def load(case, name):
        return torch.from_numpy(np.load(os.path.join(fixtures, case, name + ".npy")))

    def report(case, name, got):
        nonlocal worst
        err = float((got - load(case, name)).abs().max())
        worst = max(worst, err)
        print(json.dumps({"fixture": case, "output": name, "max_abs_error": err}))
    try:
        for case, stage in (("generator_r2", lambda ngf, size: NextStage(ngf, 2)),
                            ("generator_dmgan", lambda ngf, size: MemoryStage(ngf, size, 2))):
            model = GNet(8, stage)
            model.load_state_dict(torch.load(os.path.join(fixtures, case, "model.pth")))
            model.eval()
            model.ca_net.eps = load(case, "eps")
            mask = load(case, "mask").bool()
            with torch.no_grad():
                imgs, atts, mu, logvar = model(load(case, "z"), load(case, "sent_emb"),
                                               load(case, "words_embs"), mask)
            for name, t in zip(("fake_img_64", "fake_img_128", "fake_img_256", "att_1", "att_2",
                                "mu", "logvar"), imgs + atts + [mu, logvar]):
                report(case, name, t)
        model = DFNetG(nf=4, nz=16, cond=16)
        model.load_state_dict(torch.load(os.path.join(fixtures, "generator_dfgan", "model.pth")))
        model.eval()
        with torch.no_grad():
            img = model(load("generator_dfgan", "noise"), load("generator_dfgan", "sent_emb"))
        report("generator_dfgan", "fake_img", img)
    finally:
        Z_DIM, COND_DIM, EMB_DIM = saved
    return worst


# ---- timing --------------------------------------------------------------------------------------

class Bench:
    def __init__(self, ref_dir, code=None):
        self.ref_dir, self.code = ref_dir, code   # code: --original-code
        self.net = None

    def measure(self, req):
        name = req["network"]
        batch, threads = int(req.get("batch", 8)), int(req.get("threads", 2))
        iters, warmup = int(req.get("iters", 3)), int(req.get("warmup", 1))
        if name not in NETWORKS:
            raise KeyError("unknown network '%s' (known: %s)" % (name, ", ".join(NETWORKS)))
        if not (1 <= batch <= 4096 and 1 <= threads <= 256 and 1 <= iters and 0 <= warmup):
            raise ValueError("batch/threads/iters/warmup out of range")
        torch.set_num_threads(threads)
        if self.net is None or self.net.name != name:
            self.net = None      # free the previous network first
            self.net = build(name, self.ref_dir, self.code)
            self.net.model.eval()
        with torch.no_grad():
            run = self.net.make(batch)
            for _ in range(warmup):
                run()
            t0 = time.perf_counter()
            for _ in range(iters):
                run()
            sec = time.perf_counter() - t0
        res = {"network": name, "batch": batch, "threads": threads, "images": batch * iters,
               "seconds": round(sec, 6), "images_per_s": round(batch * iters / sec, 4),
               "gmac_per_image": self.net.gmac, "torch": torch.__version__}
        if self.code:
            res["impl"] = "original code in " + self.code
        return res


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve(bench):
    for line in sys.stdin:
        if not line.strip():
            continue
        req = None
        try:
            req = json.loads(line)
            if req.get("ping"):
                reply({"ready": True, "torch": torch.__version__})
            else:
                reply(bench.measure(req))
        except Exception as e:  # one bad request must not end the session
            reply({"network": req.get("network") if isinstance(req, dict) else None,
                   "error": "%s: %s" % (type(e).__name__, e)})


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="PyTorch baseline of the t2ibench networks "
                                "(random weights, eval, no_grad); JSON lines on stdout.")
    p.add_argument("--reference", default=os.environ.get("T2I_REFERENCE") or
                   os.path.join(here, "..", "..", "shared", "reference"),
                   help="folder with summary.json and the *.keys.txt listings")
    p.add_argument("--list", action="store_true", help="print the network names")
    p.add_argument("--check", action="store_true",
                   help="compare every network's structure with the reference listings")
    p.add_argument("--verify-fixtures", metavar="DIR",
                   help="run the Inception-based networks on the oracle fixtures in DIR "
                   "(../shared/fixtures): the Inception-based ones with hash weights, the three "
                   "generators with their model.pth; exit 1 above 5e-5")
    p.add_argument("--serve", action="store_true", help="answer JSON requests on stdin")
    p.add_argument("--all", action="store_true",
                   help="time every network at --batch (default 8) and at batch 1")
    p.add_argument("--network", choices=NETWORKS)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--original-code", metavar="DIR",
                   help="with --network %s: time the original repository code in DIR (DM-GAN's "
                   "or DF-GAN's code/ folder) instead of the definitions written here"
                   % "|".join(ORIGINAL))
    a = p.parse_args()
    if a.original_code and a.network not in ORIGINAL:
        p.error("--original-code goes with --network %s" % "|".join(ORIGINAL))
    if not os.path.isfile(os.path.join(a.reference, "summary.json")):
        p.error("no summary.json in %s (give --reference DIR or set T2I_REFERENCE)" % a.reference)
    if a.list:
        print("\n".join(NETWORKS))
        return 0
    if a.check:
        return 1 if check(a.reference) else 0
    if a.verify_fixtures:
        worst = max(verify_fixtures(a.verify_fixtures), verify_generators(a.verify_fixtures))
        return 1 if worst > 5e-5 else 0
    bench = Bench(a.reference, a.original_code)
    if a.serve:
        serve(bench)
        return 0
    if a.all:
        for name in NETWORKS:
            for batch in dict.fromkeys((a.batch, 1)):
                reply(bench.measure({"network": name, "batch": batch, "threads": a.threads,
                                     "iters": a.iters, "warmup": a.warmup}))
        return 0
    if not a.network:
        p.error("give --network NAME, --all, --serve, --check or --list")
    reply(bench.measure({"network": a.network, "batch": a.batch, "threads": a.threads,
                         "iters": a.iters, "warmup": a.warmup}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
