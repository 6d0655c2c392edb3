#!/usr/bin/python3
"""make_tf2015_pair.py -- writes a stand-in pair for the check "classify_image_graph_def.pb
equals pytorch-fid's pt_inception-2015-12-05 weights" when the real files are not at hand:

    /usr/bin/python3 tools/make_tf2015_pair.py OUT_DIR [KEY_LISTING]

OUT_DIR/pt_inception.pth is written by torch.save from random float32 values for every key of
pytorch-fid's FID Inception (KEY_LISTING defaults to ../shared/reference/
inception_v3_fid.keys.txt), and OUT_DIR/classify_image_graph_def.pb is a GraphDef
(python3-protobuf, the schema of tools/tf_proto) holding the same values as Const nodes under
the TF 2015 graph's names and layouts (conv2d_params [kh,kw,in,out], batchnorm/{gamma,beta,
moving_mean,moving_variance}, softmax/weights [2048,1008]), the mapping published with
torch-fidelity's conversion script, written here independently of t2ibench's C table. Then

    T2I_TF_GRAPHDEF=OUT_DIR/classify_image_graph_def.pb T2I_PT_INCEPTION=OUT_DIR/pt_inception.pth \\
        make test TESTS=test_tf

runs the bit-identity test at full size. About 190 MB; not committed.
"""
import os
import re
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tf_fixtures as mtf  # noqa: E402

STEM = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
        "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4"}
BLOCK = {"Mixed_5b": "mixed", "Mixed_5c": "mixed_1", "Mixed_5d": "mixed_2", "Mixed_6a": "mixed_3",
         "Mixed_6b": "mixed_4", "Mixed_6c": "mixed_5", "Mixed_6d": "mixed_6", "Mixed_6e": "mixed_7",
         "Mixed_7a": "mixed_8", "Mixed_7b": "mixed_9", "Mixed_7c": "mixed_10"}


def branch_scope(block, br):
    """TF scope of a torchvision branch conv inside a block."""
    kind = block[6:]
    if br == "branch1x1" or (kind == "6a" and br == "branch3x3"):
        return "conv"
    if br == "branch_pool":
        return "tower_2/conv"
    m = re.match(r"(branch\w+?)_(\d)([ab]?)$", br)
    name, k, ab = m.group(1), int(m.group(2)), m.group(3)
    first = {"5": ("branch5x5", "branch3x3dbl"), "6a": ("branch3x3dbl", None),
             "6": ("branch7x7", "branch7x7dbl"), "7a": ("branch3x3", "branch7x7x3"),
             "7": ("branch3x3", "branch3x3dbl")}
    key = kind if kind in ("6a", "7a") else kind[0]
    tower = "tower" if name == first[key][0] else "tower_1"
    if ab:   # the 1x3 / 3x1 pair of the 2048 blocks
        return "%s/mixed/%s" % (tower, "conv" if ab == "a" else "conv_1")
    return "%s/%s" % (tower, "conv" if k == 1 else "conv_%d" % (k - 1))


def tf_name(key):
    mod, _, param = key.rpartition(".")
    if key.startswith("fc."):
        return "softmax/" + ("weights" if param == "weight" else "biases")
    owner, _, kind = mod.rpartition(".")   # kind: conv or bn
    if owner in STEM:
        scope = STEM[owner]
    else:
        block, _, br = owner.partition(".")
        scope = BLOCK[block] + "/" + branch_scope(block, br)
    if kind == "conv":
        return scope + "/conv2d_params"
    return scope + "/batchnorm/" + {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                                    "running_var": "moving_variance"}[param]


def main():
    out = sys.argv[1]
    listing = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference",
        "inception_v3_fid.keys.txt")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2015)
    sd = {}
    with tempfile.TemporaryDirectory() as tmp:
        pb, _ = mtf.build_tools(tmp)
        g = pb.GraphDef()
        g.versions.producer = 9
        for line in open(listing):
            key, shape, dtype = line.split()
            shape = [int(v) for v in shape.strip("()").split(",") if v]
            if key.endswith("num_batches_tracked"):
                sd[key] = torch.zeros((), dtype=torch.int64)
                continue
            a = rng.standard_normal(shape).astype(np.float32)
            sd[key] = torch.from_numpy(a)
            if a.ndim == 4:
                t = a.transpose(2, 3, 1, 0)   # (O,I,KH,KW) -> [KH,KW,I,O]
            elif a.ndim == 2:
                t = a.T
            else:
                t = a
            n = g.node.add()
            n.name = tf_name(key)
            n.op = "Const"
            n.attr["dtype"].type = 1
            n.attr["value"].tensor.dtype = 1
            n.attr["value"].tensor.tensor_shape.CopyFrom(mtf.shape_proto(pb, t.shape))
            n.attr["value"].tensor.tensor_content = np.ascontiguousarray(t).astype("<f4").tobytes()
        for name, vals in (("Sub/y", [128.0]), ("Mul/y", [0.0078125])):
            n = g.node.add()
            n.name = name
            n.op = "Const"
            n.attr["value"].tensor.dtype = 1
            n.attr["value"].tensor.float_val.extend(vals)
        n = g.node.add()
        n.name = "ResizeBilinear/size"
        n.op = "Const"
        n.attr["value"].tensor.dtype = 3
        n.attr["value"].tensor.tensor_shape.CopyFrom(mtf.shape_proto(pb, [2]))
        n.attr["value"].tensor.int_val.extend([299, 299])
        with open(os.path.join(out, "classify_image_graph_def.pb"), "wb") as f:
            f.write(g.SerializeToString())
    torch.save(sd, os.path.join(out, "pt_inception.pth"))
    print("wrote", out, len(sd), "torch keys")


if __name__ == "__main__":
    main()
