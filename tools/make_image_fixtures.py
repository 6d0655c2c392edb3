#!/usr/bin/python3
"""Writes small test images in every format t2ibench reads, with PIL's decoding as reference.

Run with Debian's /usr/bin/python3 (python3-pil, python3-numpy):
    /usr/bin/python3 tools/make_image_fixtures.py tests/fixtures/images

For each image NAME.EXT it writes NAME.rgb: the raw (H, W, 3) uint8 bytes of
PIL.Image.open(NAME.EXT).convert('RGB'), and one line in index.tsv:
    file  width  height  warn  writer
warn = 1 marks 16-bit greyscale, where PIL's .convert('RGB') clips values above 255 (mode "I")
and t2ibench keeps the high byte instead: there NAME.rgb holds the high byte (computed here from
the samples written) and NAME.pil.rgb what PIL gives, so the C test can show the difference.
Files are written by PIL where PIL can write the variant, else by the small writers below
(PNG chunks with zlib, BMP and PNM by struct packing); the reference is always PIL's decoding.
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

W, H = 13, 7   # odd sizes catch stride and padding mistakes


def content(h=H, w=W, seed=0):
    """Smooth gradients plus noise: every byte value region is exercised."""
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = ((x + y) * 37) % 256
    img = np.stack([r, g, b], -1).astype(np.int32) + rs.randint(-20, 21, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


# ---- PNG writer (any colour type, bit depth, Adam7) ------------------------------------------

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def pack_row(samples, bits):
    """samples: 1-D array of ints for one row (all channels interleaved)."""
    if bits == 8:
        return bytes(samples.astype(np.uint8))
    if bits == 16:
        return samples.astype(">u2").tobytes()
    out = bytearray()
    per = 8 // bits
    for i in range(0, len(samples), per):
        v = 0
        chunk = list(samples[i:i + per]) + [0] * (per - len(samples[i:i + per]))
        for s in chunk:
            v = (v << bits) | int(s)
        out.append(v)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, arr, color_type, bits, palette=None, trns=None, interlace=False):
    """arr: (H, W, C) ints (C = channels of the colour type; palette indices for type 3)."""
    h, w = arr.shape[:2]
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\x00" + pack_row(row.reshape(-1), bits)
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += png_chunk(b"tRNS", trns)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


# ---- BMP writer (16-bit, RLE, top-down, OS/2) -------------------------------------------------

def bmp_file(header, palette_bytes, pixels):
    off = 14 + len(header) + len(palette_bytes)
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + header + palette_bytes + pixels


def info_header(w, h, bits, comp, size_img, ncolors=0, hsize=40):
    return struct.pack("<IiiHHIIiiII", hsize, w, h, 1, bits, comp, size_img, 2835, 2835, ncolors, 0)


def rle8_encode(idx):
    """Rows bottom-up; mixes encoded runs and absolute runs (odd lengths padded)."""
    out = bytearray()
    for row in idx[::-1]:
        row = list(row)
        i = 0
        while i < len(row):
            j = i
            while j < len(row) and row[j] == row[i] and j - i < 255:
                j += 1
            if j - i >= 2:
                out += bytes([j - i, row[i]])
                i = j
            else:
                k = min(len(row), i + 5)
                if k - i >= 3:
                    out += bytes([0, k - i]) + bytes(row[i:k])
                    if (k - i) % 2:
                        out += b"\x00"
                else:
                    out += bytes([1, row[i]])
                    k = i + 1
                i = k
        out += b"\x00\x00"
    out += b"\x00\x01"
    return bytes(out)


def rle4_encode(idx):
    out = bytearray()
    for row in idx[::-1]:
        row = list(row)
        i = 0
        while i < len(row):
            n = min(len(row) - i, 6)
            if n >= 4 and i % 3 == 0:   # absolute run of n pixels, padded to a 16-bit word
                px = row[i:i + n] + [0] * (n % 2)
                body = bytes((px[k] << 4) | px[k + 1] for k in range(0, len(px), 2))
                out += bytes([0, n]) + body + (b"\x00" if len(body) % 2 else b"")
                i += n
            else:   # encoded run of two alternating values
                m = min(len(row) - i, 2)
                a, b2 = row[i], row[i + 1] if m > 1 else 0
                out += bytes([m, (a << 4) | b2])
                i += m
        out += b"\x00\x00"
    out += b"\x00\x01"
    return bytes(out)


def rows_bmp(arr_bytes_rows, topdown=False):
    rows = arr_bytes_rows if topdown else arr_bytes_rows[::-1]
    out = bytearray()
    for r in rows:
        out += r + b"\x00" * ((-len(r)) % 4)
    return bytes(out)


# ---- main ------------------------------------------------------------------------------------

def main(out):
    os.makedirs(out, exist_ok=True)
    rgb = content()
    gray = (rgb[..., 0].astype(np.int32) * 3 + rgb[..., 1].astype(np.int32) * 5) // 8
    alpha = ((np.arange(H * W).reshape(H, W) * 29) % 256).astype(np.uint8)
    rs = np.random.RandomState(7)
    index = []

    def add(name, writer, warn=0, high=None):
        path = os.path.join(out, name)
        im = Image.open(path)
        ref = np.asarray(im.convert("RGB"), np.uint8)
        stem = os.path.splitext(name)[0]
        if warn:
            ref.tofile(os.path.join(out, stem + ".pil.rgb"))
            np.repeat(high[..., None], 3, -1).astype(np.uint8).tofile(os.path.join(out, stem + ".rgb"))
        else:
            ref.tofile(os.path.join(out, stem + ".rgb"))
        index.append(f"{name}\t{ref.shape[1]}\t{ref.shape[0]}\t{warn}\t{writer}")

    # PNG: every colour type and bit depth, palette + tRNS, alpha, interlace
    for bits in (1, 2, 4, 8, 16):
        g = (gray >> (8 - bits)) if bits < 8 else gray if bits == 8 else gray.astype(np.int64) * 257 + rs.randint(0, 256, gray.shape)
        for il in (0, 1):
            name = f"png_gray{bits}{'_adam7' if il else ''}.png"
            write_png(os.path.join(out, name), g[..., None], 0, bits, interlace=bool(il))
            add(name, "tools-png", warn=1 if bits == 16 else 0, high=(g >> 8) if bits == 16 else None)
    for bits in (1, 2, 4, 8):
        n = 1 << bits
        pal = rs.randint(0, 256, (n, 3))
        idx = rs.randint(0, n, (H, W, 1))
        write_png(os.path.join(out, f"png_pal{bits}.png"), idx, 3, bits, palette=pal)
        add(f"png_pal{bits}.png", "tools-png")
    pal = rs.randint(0, 256, (16, 3))
    write_png(os.path.join(out, "png_pal8_trns.png"), rs.randint(0, 16, (H, W, 1)), 3, 8, palette=pal,
              trns=bytes(range(0, 160, 10)))
    add("png_pal8_trns.png", "tools-png")
    for bits in (8, 16):
        big = rgb.astype(np.int64) * (257 if bits == 16 else 1) + (rs.randint(0, 256, rgb.shape) if bits == 16 else 0)
        for il in (0, 1):
            name = f"png_rgb{bits}{'_adam7' if il else ''}.png"
            write_png(os.path.join(out, name), big, 2, bits, interlace=bool(il))
            add(name, "tools-png")
        a = alpha.astype(np.int64) * (257 if bits == 16 else 1)
        write_png(os.path.join(out, f"png_rgba{bits}.png"), np.concatenate([big, a[..., None]], -1), 6, bits)
        add(f"png_rgba{bits}.png", "tools-png")
        ga = np.stack([gray.astype(np.int64) * (257 if bits == 16 else 1), a], -1)
        write_png(os.path.join(out, f"png_graya{bits}.png"), ga, 4, bits)
        add(f"png_graya{bits}.png", "tools-png")
    write_png(os.path.join(out, "png_rgb8_trns.png"), rgb, 2, 8, trns=struct.pack(">HHH", rgb[0, 0, 0], rgb[0, 0, 1], rgb[0, 0, 2]))
    add("png_rgb8_trns.png", "tools-png")

    # JPEG: baseline, progressive, grey, CMYK (PIL writes Adobe-inverted CMYK), 4:2:0 / 4:4:4
    im = Image.fromarray(rgb)
    big = Image.fromarray(content(37, 29, seed=3))
    im.save(os.path.join(out, "jpeg_baseline.jpg"), quality=90)
    add("jpeg_baseline.jpg", "PIL")
    big.save(os.path.join(out, "jpeg_progressive.jpg"), quality=85, progressive=True)
    add("jpeg_progressive.jpg", "PIL")
    big.save(os.path.join(out, "jpeg_444.jpg"), quality=95, subsampling=0)
    add("jpeg_444.jpg", "PIL")
    Image.fromarray(gray.astype(np.uint8)).save(os.path.join(out, "jpeg_gray.jpg"), quality=90)
    add("jpeg_gray.jpg", "PIL")
    big.convert("CMYK").save(os.path.join(out, "jpeg_cmyk.jpg"), quality=90)
    add("jpeg_cmyk.jpg", "PIL")
    cm = np.asarray(big.convert("CMYK")).copy()
    cm[..., 3] = (np.arange(cm.shape[0] * cm.shape[1]).reshape(cm.shape[:2]) * 7) % 200
    Image.fromarray(cm, "CMYK").save(os.path.join(out, "jpeg_cmyk_k.jpg"), quality=90, progressive=True)
    add("jpeg_cmyk_k.jpg", "PIL")

    # BMP: PIL writes 1/8-bit palette, grey, 24-bit, 32-bit BGRA; the rest written here
    Image.fromarray(rgb).save(os.path.join(out, "bmp_rgb24.bmp"))
    add("bmp_rgb24.bmp", "PIL")
    Image.fromarray(np.concatenate([rgb, alpha[..., None]], -1), "RGBA").save(os.path.join(out, "bmp_rgba32.bmp"))
    add("bmp_rgba32.bmp", "PIL")
    Image.fromarray(gray.astype(np.uint8)).save(os.path.join(out, "bmp_gray8.bmp"))
    add("bmp_gray8.bmp", "PIL")
    Image.fromarray(rgb).quantize(16).save(os.path.join(out, "bmp_pal8.bmp"))
    add("bmp_pal8.bmp", "PIL")
    Image.fromarray(gray.astype(np.uint8)).convert("1").save(os.path.join(out, "bmp_1bit.bmp"))
    add("bmp_1bit.bmp", "PIL")
    pal16 = rs.randint(0, 256, (16, 3))
    idx4 = rs.randint(0, 16, (H, W))
    pal_bytes = b"".join(bytes([b, g_, r, 0]) for r, g_, b in pal16)
    rows4 = [bytes((int(r[k]) << 4) | (int(r[k + 1]) if k + 1 < W else 0) for k in range(0, W, 2)) for r in idx4]
    with open(os.path.join(out, "bmp_pal4.bmp"), "wb") as f:
        px = rows_bmp(rows4)
        f.write(bmp_file(info_header(W, H, 4, 0, len(px), 16), pal_bytes, px))
    add("bmp_pal4.bmp", "tools-bmp")
    with open(os.path.join(out, "bmp_rgb24_topdown.bmp"), "wb") as f:
        px = rows_bmp([bytes(r[:, ::-1].reshape(-1)) for r in rgb], topdown=True)
        f.write(bmp_file(info_header(W, -H, 24, 0, len(px)), b"", px))
    add("bmp_rgb24_topdown.bmp", "tools-bmp")
    r5, g5, b5 = (rgb[..., 0] >> 3).astype(np.int32), (rgb[..., 1] >> 3).astype(np.int32), (rgb[..., 2] >> 3).astype(np.int32)
    with open(os.path.join(out, "bmp_rgb555.bmp"), "wb") as f:
        px = rows_bmp([struct.pack(f"<{W}H", *[int(v) for v in (r5[y] << 10 | g5[y] << 5 | b5[y])]) for y in range(H)])
        f.write(bmp_file(info_header(W, H, 16, 0, len(px)), b"", px))
    add("bmp_rgb555.bmp", "tools-bmp")
    g6 = (rgb[..., 1] >> 2).astype(np.int32)
    with open(os.path.join(out, "bmp_rgb565.bmp"), "wb") as f:
        px = rows_bmp([struct.pack(f"<{W}H", *[int(v) for v in (r5[y] << 11 | g6[y] << 5 | b5[y])]) for y in range(H)])
        f.write(bmp_file(info_header(W, H, 16, 3, len(px)), struct.pack("<III", 0xF800, 0x7E0, 0x1F), px))
    add("bmp_rgb565.bmp", "tools-bmp")
    idx8 = rs.randint(0, 4, (H, W))
    idx8[:, :6] = 2   # runs
    pal256 = rs.randint(0, 256, (256, 3))
    pal_bytes = b"".join(bytes([b, g_, r, 0]) for r, g_, b in pal256)
    with open(os.path.join(out, "bmp_rle8.bmp"), "wb") as f:
        px = rle8_encode(idx8)
        f.write(bmp_file(info_header(W, H, 8, 1, len(px), 256), pal_bytes, px))
    add("bmp_rle8.bmp", "tools-bmp")
    pal_bytes16 = b"".join(bytes([b, g_, r, 0]) for r, g_, b in pal16)
    with open(os.path.join(out, "bmp_rle4.bmp"), "wb") as f:
        px = rle4_encode(idx4)
        f.write(bmp_file(info_header(W, H, 4, 2, len(px), 16), pal_bytes16, px))
    add("bmp_rle4.bmp", "tools-bmp")
    with open(os.path.join(out, "bmp_os2.bmp"), "wb") as f:
        pal_os2 = b"".join(bytes([b, g_, r]) for r, g_, b in pal256)
        rows8 = [bytes(int(v) for v in r) for r in idx8]
        px = rows_bmp(rows8)
        f.write(bmp_file(struct.pack("<IHHHH", 12, W, H, 1, 8), pal_os2, px))
    add("bmp_os2.bmp", "tools-bmp")

    # PNM: binary and plain, 8 and 16 bit, odd maxvals
    Image.fromarray(rgb).save(os.path.join(out, "ppm_p6.ppm"))
    add("ppm_p6.ppm", "PIL")
    Image.fromarray(gray.astype(np.uint8)).save(os.path.join(out, "pgm_p5.pgm"))
    add("pgm_p5.pgm", "PIL")
    Image.fromarray(gray.astype(np.uint8)).convert("1").save(os.path.join(out, "pbm_p4.pbm"))
    add("pbm_p4.pbm", "PIL")

    def pnm(name, magic, maxval, samples, plain, comment=False):
        hdr = f"P{magic}\n" + ("# made by make_image_fixtures\n" if comment else "") + f"{W} {H}\n"
        if magic not in (1, 4):
            hdr += f"{maxval}\n"
        if plain:
            body = "\n".join(" ".join(str(int(v)) for v in row.reshape(-1)) for row in samples) + "\n"
            data = hdr.encode() + body.encode()
        else:
            data = hdr.encode() + (samples.astype(">u2").tobytes() if maxval > 255 else samples.astype(np.uint8).tobytes())
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    s16 = rgb.astype(np.int64) * 257 + rs.randint(0, 256, rgb.shape)
    pnm("ppm_p6_16.ppm", 6, 65535, s16, False)
    add("ppm_p6_16.ppm", "tools-pnm")
    pnm("ppm_p6_max1000.ppm", 6, 1000, (rgb.astype(np.int64) * 1000) // 255, False, comment=True)
    add("ppm_p6_max1000.ppm", "tools-pnm")
    pnm("pgm_p5_max100.pgm", 5, 100, (gray * 100) // 255, False)
    add("pgm_p5_max100.pgm", "tools-pnm")
    g16 = gray.astype(np.int64) * 257 + rs.randint(0, 256, gray.shape)
    pnm("pgm_p5_16.pgm", 5, 65535, g16, False)
    add("pgm_p5_16.pgm", "tools-pnm", warn=1, high=np.round(g16 / 65535 * 255).astype(np.int64))
    pnm("ppm_p3.ppm", 3, 255, rgb, True, comment=True)
    add("ppm_p3.ppm", "tools-pnm")
    pnm("pgm_p2_max15.pgm", 2, 15, gray >> 4, True)
    add("pgm_p2_max15.pgm", "tools-pnm")
    pnm("pbm_p1.pbm", 1, 1, (gray > 128).astype(np.int64), True)
    add("pbm_p1.pbm", "tools-pnm")

    # TIFF (libtiff through PIL): compressions, modes, 16-bit
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"):
        Image.fromarray(rgb).save(os.path.join(out, f"tiff_rgb_{comp}.tif"), compression=comp)
        add(f"tiff_rgb_{comp}.tif", "PIL/libtiff")
    Image.fromarray(np.concatenate([rgb, alpha[..., None]], -1), "RGBA").save(os.path.join(out, "tiff_rgba.tif"), compression="tiff_lzw")
    add("tiff_rgba.tif", "PIL/libtiff")
    Image.fromarray(gray.astype(np.uint8)).save(os.path.join(out, "tiff_gray.tif"), compression="tiff_adobe_deflate")
    add("tiff_gray.tif", "PIL/libtiff")
    Image.fromarray(gray.astype(np.uint8)).convert("1").save(os.path.join(out, "tiff_1bit.tif"), compression="group4")
    add("tiff_1bit.tif", "PIL/libtiff")
    Image.fromarray(rgb).quantize(16).save(os.path.join(out, "tiff_pal.tif"), compression="tiff_lzw")
    add("tiff_pal.tif", "PIL/libtiff")
    Image.fromarray(rgb).convert("CMYK").save(os.path.join(out, "tiff_cmyk.tif"))
    add("tiff_cmyk.tif", "PIL/libtiff")
    Image.fromarray(content(37, 29, seed=4)).save(os.path.join(out, "tiff_jpeg.tif"), compression="jpeg")
    add("tiff_jpeg.tif", "PIL/libtiff")
    Image.fromarray(g16.astype(np.uint16), "I;16").save(os.path.join(out, "tiff_gray16.tif"))
    add("tiff_gray16.tif", "PIL/libtiff", warn=1, high=g16 >> 8)

    # WebP: lossy, lossless, with alpha
    big.save(os.path.join(out, "webp_lossy.webp"), quality=80)
    add("webp_lossy.webp", "PIL/libwebp")
    Image.fromarray(rgb).save(os.path.join(out, "webp_lossless.webp"), lossless=True)
    add("webp_lossless.webp", "PIL/libwebp")
    Image.fromarray(np.concatenate([rgb, np.maximum(alpha, 1)[..., None]], -1), "RGBA").save(
        os.path.join(out, "webp_alpha_lossless.webp"), lossless=True, exact=True)
    add("webp_alpha_lossless.webp", "PIL/libwebp")
    Image.fromarray(np.concatenate([content(37, 29, seed=5), np.full((37, 29, 1), 200, np.uint8)], -1), "RGBA").save(
        os.path.join(out, "webp_alpha_lossy.webp"), quality=80)
    add("webp_alpha_lossy.webp", "PIL/libwebp")

    with open(os.path.join(out, "index.tsv"), "w") as f:
        f.write("# file\twidth\theight\twarn\twriter  (tools/make_image_fixtures.py; reference = PIL "
                + Image.__version__ + " .convert('RGB'))\n")
        f.write("\n".join(index) + "\n")
    print(f"{len(index)} images in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/images")
