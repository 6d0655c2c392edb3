#!/usr/bin/python3
"""Writes the small loader fixtures under tests/fixtures/loaders/ (run from the repo root).

numpy only (torch is not installed): .npz archives (stored and deflated) with reference .npy
copies of each member, a hand-built safetensors file with its reference .npy members, the
captions.pickle fixture re-pickled with protocols 0-5, and hostile pickles / checkpoints.
"""
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

OUT = "tests/fixtures/loaders"
FIX = os.environ.get("T2I_FIXTURES", "../shared/fixtures")


def w(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261126)

    # pytorch-fid style statistics: mu (D,), sigma (D,D) float64.
    d = 16
    mu = rng.standard_normal(d)
    a = rng.standard_normal((d, d))
    sigma = a @ a.T / d
    np.savez(os.path.join(OUT, "stats_stored.npz"), mu=mu, sigma=sigma)
    np.savez_compressed(os.path.join(OUT, "stats_deflate.npz"), mu=mu, sigma=sigma)
    np.save(os.path.join(OUT, "stats_mu.npy"), mu)
    np.save(os.path.join(OUT, "stats_sigma.npy"), sigma)

    # Mixed dtypes, deflated.
    mixed = {
        "f4": rng.standard_normal((3, 5)).astype("<f4"),
        "i8": np.arange(-6, 6, dtype="<i8").reshape(3, 4),
        "f2": rng.standard_normal((7,)).astype("<f2"),
        "u1": np.arange(10, dtype="u1"),
        "b1": np.array([True, False, True]),
        "scalar": np.array(3.25, dtype="<f8"),
    }
    np.savez_compressed(os.path.join(OUT, "mixed.npz"), **mixed)
    for k, v in mixed.items():
        np.save(os.path.join(OUT, "mixed_%s.npy" % k), v)

    # safetensors, built by hand (spec: 8-byte LE header size, JSON header, data).
    st = [
        ("conv.weight", "F32", rng.standard_normal((4, 3, 3, 3)).astype("<f4")),
        ("conv.bias", "F32", rng.standard_normal((4,)).astype("<f4")),
        ("bn.num_batches_tracked", "I64", np.array(7, dtype="<i8")),
        ("emb.half", "F16", rng.standard_normal((5, 2)).astype("<f2")),
        ("stats.double", "F64", rng.standard_normal((3,)).astype("<f8")),
    ]
    header = {"__metadata__": {"format": "pt", "made_by": "make_loader_fixtures.py"}}
    blob = b""
    for name, dt, arr in st:
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape),
                        "data_offsets": [len(blob), len(blob) + len(b)]}
        blob += b
        np.save(os.path.join(OUT, "st_%s.npy" % name.replace(".", "_")), arr)
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    w("small.safetensors", struct.pack("<Q", len(hj)) + hj + blob)

    # captions.pickle content re-pickled with every protocol (coverage of the pickle VM).
    with open(os.path.join(FIX, "vocab_pickle/captions.pickle"), "rb") as f:
        content = pickle.load(f)
    for proto in range(0, 6):
        w("captions_p%d.pickle" % proto, pickle.dumps(content, protocol=proto))

    # Hostile: the classic `os system` pickle, protocol 0 and 2.
    w("evil_os_system_p0.pickle", b"cos\nsystem\n(S'echo pwned'\ntR.")
    w("evil_os_system_p2.pickle",
      b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.")
    # ... and inside a torch zip checkpoint (data.pkl replaced).
    src = os.path.join(FIX, "text_encoder/model.pth")
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
            zout.writestr(info.filename, data)
    w("evil_zip.pth", buf.getvalue())
    # ... and as the state_dict pickle of a legacy checkpoint (first three pickles kept).
    with open(os.path.join(FIX, "text_encoder/model_legacy.pth"), "rb") as f:
        raw = f.read()
    fb = io.BytesIO(raw)
    for _ in range(3):
        pickle.load(fb)
    head = raw[:fb.tell()]
    w("evil_legacy.pth", head + b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.")
    # Fuzz seeds: the state_dict pickles of a zip and of a py2 legacy checkpoint.
    with zipfile.ZipFile(os.path.join(FIX, "text_encoder/model.pth")) as z:
        w("seed_zip_data.pickle", z.read("model/data.pkl"))
    with open(os.path.join(FIX, "text_encoder/model_legacy_py2.pth"), "rb") as f:
        raw = f.read()
    fb = io.BytesIO(raw)
    for _ in range(3):
        pickle.load(fb)
    start = fb.tell()
    import pickletools
    end = start + [p for _, _, p in pickletools.genops(io.BytesIO(raw[start:]))][-1] + 1
    w("seed_py2_state_dict.pickle", raw[start:end])
    print("wrote", len(os.listdir(OUT)), "files to", OUT)


if __name__ == "__main__":
    sys.exit(main())
