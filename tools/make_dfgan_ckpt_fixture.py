#!/usr/bin/python3
"""Writes tests/fixtures/loaders/dfgan_ckpt.pth: a tiny checkpoint laid out like DF-GAN's
training checkpoints (lib/utils.py save_models): {'model': {'netG', 'netD', 'netC'},
'optimizers': {...}, 'epoch': N}, with DataParallel 'module.' keys. Tests check that the loader
takes ['model']['netG'] and that the generator loader strips the prefix; the fuzz_pth corpus is
seeded with it (tests/fuzz_seeds.sh takes every .pth of that folder).

    /usr/bin/python3 tools/make_dfgan_ckpt_fixture.py
"""
import collections
import torch

g = torch.Generator().manual_seed(5)


def sd(keys):
    return collections.OrderedDict(
        ("module." + k, torch.rand(s, generator=g)) for k, s in keys)


netG = sd([("fc.weight", (4, 3)), ("fc.bias", (4,))])
netD = sd([("conv_img.weight", (2, 3, 1, 1))])
netC = sd([("joint_conv.0.weight", (1, 2, 1, 1))])
opt = {"state": {0: {"step": torch.tensor(1.0), "exp_avg": torch.zeros(4, 3)}},
       "param_groups": [{"lr": 1e-4, "betas": (0.0, 0.9), "params": [0]}]}
torch.save({"model": {"netG": netG, "netD": netD, "netC": netC},
            "optimizers": {"optimizer_G": opt}, "epoch": 7},
           "tests/fixtures/loaders/dfgan_ckpt.pth")
print("wrote tests/fixtures/loaders/dfgan_ckpt.pth")
