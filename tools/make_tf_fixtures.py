#!/usr/bin/python3
"""make_tf_fixtures.py -- writes the small TensorFlow weight files of tests/fixtures/tf with
writers that are not t2ibench's: protobuf messages by python3-protobuf (the .proto text in
tools/tf_proto/tf_subset.proto, compiled by protoc at run time) and SSTables by LevelDB's own
TableBuilder (tools/sstable_write.cc, built against libleveldb). The expected tensors are saved
beside each file as NAME.expected.npz by numpy.

    /usr/bin/python3 tools/make_tf_fixtures.py [OUT_DIR]    (default tests/fixtures/tf)

Needs protobuf-compiler, python3-protobuf, libleveldb-dev, g++, python3-numpy. Layouts follow
TensorFlow: V1 checkpoints (SavedTensorSlices: table of contents under key "", one SavedSlice per
slice, TensorProto values in float_val/int64_val/... with no dtype or shape, as
TensorSliceWriter writes them), V2 bundles (BundleHeaderProto under "", BundleEntryProto per
tensor with the masked CRC-32C of its bytes, raw little-endian data shards), GraphDef (Const
nodes with the tensor in attr "value"). Tables are uncompressed (kNoCompression) as TensorFlow
writes them, except snappy.ckpt, which LevelDB compresses on purpose (a reader must refuse it).
hostile/ holds well-formed tables whose contents a reader must refuse (size claims, extents,
overlapping or missing slices, big-endian or partitioned bundles, entries outside the shards).
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def build_tools(tmp):
    subprocess.run(["protoc", "--python_out=" + tmp, "-I", os.path.join(HERE, "tf_proto"),
                    os.path.join(HERE, "tf_proto", "tf_subset.proto")], check=True)
    exe = os.path.join(tmp, "sstable_write")
    subprocess.run(["g++", "-O1", "-o", exe, os.path.join(HERE, "sstable_write.cc"),
                    "-lleveldb"], check=True)
    sys.path.insert(0, tmp)
    import tf_subset_pb2
    return tf_subset_pb2, exe


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def mask(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def write_table(exe, path, items, block_size=256, compression="none"):
    recs = bytearray()
    for k, v in sorted(items):
        recs += struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v
    subprocess.run([exe, path, str(block_size), compression], input=bytes(recs), check=True)


def shape_proto(pb, shape):
    s = pb.TensorShapeProto()
    for d in shape:
        s.dim.add().size = d
    return s


DT = {np.float32: 1, np.float64: 2, np.int32: 3, np.uint8: 4, np.int16: 5, np.int8: 6,
      np.int64: 9, np.bool_: 10, np.float16: 19}


def v1_checkpoint(pb, exe, out, compression="none"):
    # name -> (array, list of slices as ((start, length|None) per dim))
    w = (np.arange(3 * 3 * 2 * 4, dtype=np.float32) * 0.25 - 4.0).reshape(3, 3, 2, 4)
    mm = np.array([0.5, -0.125, 3.0, 1e-3], dtype=np.float32)
    lw = (np.arange(30, dtype=np.float32) / 7.0 - 2.0).reshape(6, 5)
    gs = np.array(123456789012, dtype=np.int64)
    dd = np.array([[1.0 / 3, -2.5], [1e300, -0.0]], dtype=np.float64)
    ii = np.array([-7, 0, 2147483647, -2147483648, 42], dtype=np.int32)
    tensors = {
        "conv0/weights/ExponentialMovingAverage": (w, [None]),
        "conv0/BatchNorm/moving_mean/ExponentialMovingAverage": (mm, [None]),
        # rows 0-3 in two column slices (a slice that is not contiguous in the tensor), rows 4-5
        "logits/logits/weights": (lw, [((0, 4), (0, 3)), ((0, 4), (3, None)), ((4, 2), (0, None))]),
        "global_step": (gs, [None]),
        "some_double": (dd, [None]),
        "int_table": (ii, [None]),
    }
    meta = pb.SavedTensorSlices()
    items = []
    for name, (arr, slices) in sorted(tensors.items()):
        m = meta.meta.tensor.add()
        m.name = name
        m.shape.CopyFrom(shape_proto(pb, arr.shape))
        m.type = DT[arr.dtype.type]
        for si, sl in enumerate(slices):
            sp = pb.TensorSliceProto()
            part = arr
            if sl is not None:
                idx = []
                for (start, length) in sl:
                    e = sp.extent.add()
                    e.start = start
                    if length is not None:
                        e.length = length
                    idx.append(slice(start, None if length is None else start + length))
                part = arr[tuple(idx)]
            m.slice.add().CopyFrom(sp)
            ss = pb.SavedTensorSlices()
            ss.data.name = name
            ss.data.slice.CopyFrom(sp)
            flat = part.reshape(-1)
            if arr.dtype == np.float32:
                ss.data.data.float_val.extend(flat.tolist())
            elif arr.dtype == np.float64:
                ss.data.data.double_val.extend(flat.tolist())
            elif arr.dtype == np.int64:
                ss.data.data.int64_val.extend(flat.tolist())
            else:
                ss.data.data.int_val.extend(flat.tolist())
            items.append((b"\x00" + name.encode() + b"\x00" + bytes([si]), ss.SerializeToString()))
    # a string tensor: listed, never loaded as a weight
    m = meta.meta.tensor.add()
    m.name = "model_name"
    m.shape.CopyFrom(shape_proto(pb, [1]))
    m.type = 7
    ss = pb.SavedTensorSlices()
    ss.data.name = "model_name"
    ss.data.data.string_val.append(b"birds")
    items.append((b"\x00model_name\x00\x00", ss.SerializeToString()))
    meta.meta.versions.producer = 1
    items.append((b"", meta.SerializeToString()))
    write_table(exe, out, items, compression=compression)
    return {k: v[0] for k, v in tensors.items()}


def v2_bundle(pb, exe, prefix):
    rng = np.random.default_rng(7)
    tensors = {
        "a/kernel": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "a/bias": np.array([0.1, -0.2, 0.3, 4.0], dtype=np.float32),
        "b/big": rng.standard_normal((64, 33)).astype(np.float32),
        "global_step": np.array(9, dtype=np.int64),
        "half_t": np.array([1.0, -2.5, 65504.0], dtype=np.float16),
        "flags": np.array([True, False, False, True]),
        "u8": np.arange(5, dtype=np.uint8) * 50,
        "i16": np.array([-300, 300], dtype=np.int16),
        "dbl": np.array([[2.0 ** -30]], dtype=np.float64),
    }
    for i in range(40):   # many small entries: several data blocks, shared key prefixes
        tensors["many/t%02d" % i] = np.full((i % 5 + 1,), i * 0.5, dtype=np.float32)
    shards = [bytearray(), bytearray()]
    items = []
    for n, (name, arr) in enumerate(sorted(tensors.items())):
        sid = n % 2
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        e = pb.BundleEntryProto()
        e.dtype = DT[arr.dtype.type]
        e.shape.CopyFrom(shape_proto(pb, arr.shape))
        e.shard_id = sid
        e.offset = len(shards[sid])
        e.size = len(data)
        e.crc32c = mask(crc32c(data))
        shards[sid] += data
        items.append((name.encode(), e.SerializeToString()))
    # a string tensor: skipped by the reader
    e = pb.BundleEntryProto()
    e.dtype = 7
    e.shape.CopyFrom(shape_proto(pb, [1]))
    e.shard_id = 0
    e.offset = len(shards[0])
    blob = b"\x05" + b"hello"
    e.size = len(blob)
    e.crc32c = mask(crc32c(blob))
    shards[0] += blob
    items.append((b"zz_label", e.SerializeToString()))
    h = pb.BundleHeaderProto()
    h.num_shards = 2
    h.version.producer = 1
    items.append((b"", h.SerializeToString()))
    write_table(exe, prefix + ".index", items)
    for i, s in enumerate(shards):
        with open("%s.data-%05d-of-%05d" % (prefix, i, 2), "wb") as f:
            f.write(bytes(s))
    return tensors


def graphdef(pb, out):
    g = pb.GraphDef()
    g.versions.producer = 9
    expected = {}

    def const(name, arr, how):
        n = g.node.add()
        n.name = name
        n.op = "Const"
        n.attr["dtype"].type = DT[arr.dtype.type] if arr.dtype.type in DT else 7
        t = n.attr["value"].tensor
        t.dtype = DT[arr.dtype.type]
        t.tensor_shape.CopyFrom(shape_proto(pb, arr.shape))
        if how == "content":
            t.tensor_content = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        elif how == "float":
            t.float_val.extend(arr.reshape(-1).tolist())
        return t

    n = g.node.add()
    n.name = "input"
    n.op = "Placeholder"
    n.attr["dtype"].type = 1
    n.attr["shape"].shape.CopyFrom(shape_proto(pb, [1, 299, 299, 3]))
    w = (np.arange(54, dtype=np.float32) - 20.5).reshape(3, 3, 3, 2) / 8
    const("conv/conv2d_params", w, "content")
    expected["conv/conv2d_params"] = w
    gm = np.array([1.5, -2.0], dtype=np.float32)
    const("conv/batchnorm/gamma", gm, "float")
    expected["conv/batchnorm/gamma"] = gm
    t = const("fill", np.zeros((2, 3), dtype=np.float32), None)
    t.float_val.append(0.75)   # one value for all six elements
    expected["fill"] = np.full((2, 3), 0.75, dtype=np.float32)
    t = const("partial", np.zeros(5, dtype=np.float32), None)
    t.float_val.extend([1.0, 2.0])   # the last value repeats
    expected["partial"] = np.array([1, 2, 2, 2, 2], dtype=np.float32)
    t = const("shape_i32", np.zeros(2, dtype=np.int32), None)
    t.int_val.extend([-1, 2048])
    expected["shape_i32"] = np.array([-1, 2048], dtype=np.int32)
    t = const("scalar_i64", np.zeros((), dtype=np.int64), None)
    t.int64_val.append(-5)
    expected["scalar_i64"] = np.array(-5, dtype=np.int64)
    n = g.node.add()
    n.name = "label_str"
    n.op = "Const"
    n.attr["value"].tensor.dtype = 7
    n.attr["value"].tensor.string_val.append(b"n01440764")
    n = g.node.add()
    n.name = "conv/Conv2D"
    n.op = "Conv2D"
    n.input.extend(["input", "conv/conv2d_params"])
    n.attr["padding"].s = b"VALID"
    n.attr["strides"].list.i.extend([1, 2, 2, 1])
    n.attr["T"].type = 1
    data = bytearray(g.SerializeToString(deterministic=True))   # map entries in key order
    # a Const whose float_val is written unpacked (one key per value)
    up = pb.TensorProtoUnpacked()
    up.dtype = 1
    up.tensor_shape.CopyFrom(shape_proto(pb, [3]))
    up.float_val.extend([0.5, -1.25, 8.0])
    raw = pb.NodeDefRaw()
    raw.name = "unpacked"
    raw.op = "Const"
    raw.attr["value"].tensor = up.SerializeToString()
    rb = raw.SerializeToString(deterministic=True)
    data += b"\x0a" + encode_varint(len(rb)) + rb   # GraphDef.node (field 1)
    expected["unpacked"] = np.array([0.5, -1.25, 8.0], dtype=np.float32)
    with open(out, "wb") as f:
        f.write(bytes(data))
    return expected


def hostile(pb, exe, out):
    """Well-formed tables with contents a reader must refuse (name -> expected message part)."""
    def v1(path, metas, slices):
        meta = pb.SavedTensorSlices()
        for name, shape in metas:
            m = meta.meta.tensor.add()
            m.name = name
            m.shape.CopyFrom(shape_proto(pb, shape))
            m.type = 1
        items = [(b"", meta.SerializeToString())]
        for i, (name, extents, values) in enumerate(slices):
            ss = pb.SavedTensorSlices()
            ss.data.name = name
            for start, length in extents:
                e = ss.data.slice.extent.add()
                e.start = start
                if length is not None:
                    e.length = length
            ss.data.data.float_val.extend(values)
            items.append((b"\x00" + name.encode() + bytes([0, i]), ss.SerializeToString()))
        write_table(exe, os.path.join(out, path), items)

    # a tiny file claiming a 2^40-element tensor
    v1("claim.ckpt", [("w", [1 << 20, 1 << 20])], [("w", [(0, 1), (0, 1)], [1.0])])
    # an extent outside its dimension
    v1("extent.ckpt", [("w", [4, 3])], [("w", [(3, 2), (0, None)], [0.0] * 6)])
    # two slices covering the same rows
    v1("overlap.ckpt", [("w", [4, 3])], [("w", [(0, 3), (0, None)], [0.0] * 9),
                                         ("w", [(2, 2), (0, None)], [0.0] * 6)])
    # rows 2..3 never stored
    v1("partial.ckpt", [("w", [4, 3])], [("w", [(0, 2), (0, None)], [1.0] * 6)])
    # fewer values than the slice holds
    v1("short.ckpt", [("w", [4, 3])], [("w", [], [1.0] * 5)])
    # a slice of a tensor the table of contents does not list
    v1("unlisted.ckpt", [("w", [2])], [("v", [], [1.0, 2.0])])

    def v2(path, header, entries, data=b""):
        items = [(b"", header.SerializeToString())]
        items += [(k.encode(), e.SerializeToString()) for k, e in entries]
        write_table(exe, os.path.join(out, path + ".index"), items)
        with open(os.path.join(out, path + ".data-00000-of-00001"), "wb") as f:
            f.write(data)

    h = pb.BundleHeaderProto()
    h.num_shards = 1
    e = pb.BundleEntryProto()
    e.dtype = 1
    e.shape.CopyFrom(shape_proto(pb, [2]))
    e.size = 8
    e.crc32c = mask(crc32c(bytes(8)))
    big = pb.BundleHeaderProto()
    big.CopyFrom(h)
    big.endianness = 1
    v2("bigendian.ckpt", big, [("w", e)], bytes(8))
    part = pb.BundleEntryProto()
    part.CopyFrom(e)
    part.slices.add().extent.add().length = 1
    v2("partitioned.ckpt", h, [("w", part)], bytes(8))
    wrong = pb.BundleEntryProto()
    wrong.CopyFrom(e)
    wrong.size = 12   # shape [2] float needs 8 bytes
    v2("size.ckpt", h, [("w", wrong)], bytes(12))
    far = pb.BundleEntryProto()
    far.CopyFrom(e)
    far.shard_id = 3
    v2("shard.ckpt", h, [("w", far)], bytes(8))


def encode_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures", "tf")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pb, exe = build_tools(tmp)
        exp = v1_checkpoint(pb, exe, os.path.join(out, "v1_small.ckpt"))
        np.savez(os.path.join(out, "v1_small.expected.npz"), **exp)
        v1_checkpoint(pb, exe, os.path.join(out, "snappy.ckpt"), compression="snappy")
        exp = v2_bundle(pb, exe, os.path.join(out, "v2_small.ckpt"))
        np.savez(os.path.join(out, "v2_small.expected.npz"), **exp)
        exp = graphdef(pb, os.path.join(out, "graph_small.pb"))
        np.savez(os.path.join(out, "graph_small.expected.npz"), **exp)
        hdir = os.path.join(out, "hostile")
        os.makedirs(hdir, exist_ok=True)
        hostile(pb, exe, hdir)
    print("wrote", sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
