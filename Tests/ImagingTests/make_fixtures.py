#!/usr/bin/env python3
"""Writes the tiny image fixtures that ImagingTests decode.

    python3 Tests/ImagingTests/make_fixtures.py

Needs numpy and libjpeg-turbo's cjpeg/djpeg; pillow only for the CMYK JPEG
(libjpeg's tools cannot write CMYK). The expected pixels of each JPEG are
djpeg's output, committed beside it, so the tests never need these tools.
PNGs are written chunk by chunk with zlib so every byte is under control.
"""
import os
import struct
import subprocess
import zlib

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures")


def path(name):
    return os.path.join(HERE, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def ppm(rgb):
    h, w, _ = rgb.shape
    return b"P6\n%d %d\n255\n" % (w, h) + rgb.astype(np.uint8).tobytes()


def run(*args):
    return subprocess.run(args, check=True, capture_output=True).stdout


def pattern(w, h):
    """Smooth gradients plus a sharp square: exercises both JPEG and resizing."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 8 % 256], axis=-1)
    rgb[h // 4 : h // 2, w // 4 : w // 2] = [250, 20, 30]
    return rgb.astype(np.uint8)


# --- JPEG -------------------------------------------------------------------

def jpegs():
    rgb = pattern(16, 12)
    write("pattern.ppm", ppm(rgb))
    src = path("pattern.ppm")
    write("rgb.jpg", run("cjpeg", "-quality", "90", src))
    write("rgb.ppm", run("djpeg", "-ppm", path("rgb.jpg")))
    write("grey.jpg", run("cjpeg", "-quality", "90", "-grayscale", src))
    write("grey.pgm", run("djpeg", "-pnm", path("grey.jpg")))
    write("progressive.jpg", run("cjpeg", "-quality", "90", "-progressive", src))
    write("progressive.ppm", run("djpeg", "-ppm", path("progressive.jpg")))

    # EXIF orientation: an APP1 segment after SOI, one file per byte order.
    # IFD0 holds a Make tag first, so the parser must walk past an entry.
    small = pattern(5, 3)
    tmp = path("small.ppm")
    with open(tmp, "wb") as f:
        f.write(ppm(small))
    base = run("cjpeg", "-quality", "95", "-sample", "1x1", tmp)
    os.remove(tmp)
    for name, order, orientation in (("exif_mm.jpg", ">", 6), ("exif_ii.jpg", "<", 8)):
        magic = b"MM\x00\x2a" if order == ">" else b"II\x2a\x00"
        tiff = magic + struct.pack(order + "I", 8) + struct.pack(order + "H", 2)
        tiff += struct.pack(order + "HHI", 0x010F, 2, 4) + b"Tst\x00"
        tiff += struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0)
        tiff += struct.pack(order + "I", 0)
        payload = b"Exif\x00\x00" + tiff
        app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
        write(name, base[:2] + app1 + base[2:])

    # CMYK as Photoshop writes it: Adobe APP14 marker, inverted samples.
    from PIL import Image  # only here: libjpeg's tools cannot write CMYK

    cmyk = np.zeros((8, 16, 4), np.uint8)
    cmyk[:, :8] = [255, 0, 0, 0]
    cmyk[:, 8:] = [0, 128, 255, 64]
    Image.fromarray(cmyk, "CMYK").save(path("cmyk.jpg"), quality=95)

    write("scans_500.jpg", many_scans(500))
    write("scans_501.jpg", many_scans(501))


def many_scans(count):
    """A valid progressive JPEG of one flat 8x8 grey block split into `count`
    scans (a "scan bomb" whose progression is consistent, so only a scan limit
    stops it): the DC scan, then each AC coefficient k in a first scan at
    Al = 9 and nine refinement scans down to Al = 0. Written by hand because
    jpegtran's scan scripts stop at 100 scans. Every coefficient is zero, so each
    scan's data is one Huffman code "0" (DC category 0, or end-of-band) padded
    with ones: the byte 0x7F."""
    def segment(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload

    table = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1 for symbol 0
    out = b"\xff\xd8"
    out += segment(0xDB, b"\x00" + bytes([1] * 64))  # quantisation table 0: all ones
    out += segment(0xC2, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")  # SOF2, one component
    out += segment(0xC4, b"\x00" + table + b"\x10" + table)  # DC table 0, AC table 0
    scans = [(0, 0, 0, 0)] + [(k, k, ah, al) for k in range(1, 64)
                              for ah, al in [(0, 9)] + [(a + 1, a) for a in range(8, -1, -1)]]
    for ss, se, ah, al in scans[:count]:
        out += segment(0xDA, b"\x01\x01\x00" + bytes([ss, se, ah << 4 | al])) + b"\x7f"
    return out + b"\xff\xd9"


# --- PNG --------------------------------------------------------------------

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, depth, color_type, raw_rows, extra=b"", interlace=0):
    """raw_rows: the already-filtered scanline bytes (filter byte included)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(raw_rows, 9)) + chunk(b"IEND", b""))


def rows(array):
    """Prefixes each row with filter type 0 (None)."""
    return b"".join(b"\x00" + row.tobytes() for row in array)


def adam7(array):
    """The seven Adam7 passes of an (h, w, c) uint8 array, each filtered with 0."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = b""
    for x0, y0, dx, dy in passes:
        sub = array[y0::dy, x0::dx]
        if sub.size:
            out += rows(sub)
    return out


def pngs():
    rgb = pattern(16, 12)
    write("pattern.png", png(16, 12, 8, 2, rows(rgb)))

    # 16-bit RGB: 25828/257 = 100.498 and 25829/257 = 100.502 tell rounding
    # from truncation (both have high byte 100).
    rgb16 = np.array([[[0, 65535, 25828], [25829, 257 * 7, 1000]]], dtype=">u2")
    write("rgb16.png", png(2, 1, 16, 2, rows(rgb16)))

    # Palette with transparency (tRNS): alphas 255, 128, 0 and one entry without alpha.
    palette = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    trns = bytes([255, 128, 0])
    indices = np.array([[0, 1, 2, 3]], np.uint8)
    write("palette.png", png(4, 1, 8, 3, rows(indices),
                             extra=chunk(b"PLTE", palette) + chunk(b"tRNS", trns)))

    # Grey + alpha, 8-bit.
    ga = np.array([[[0, 255], [0, 0]], [[100, 128], [200, 51]]], np.uint8)
    write("grey_alpha.png", png(2, 2, 8, 4, rows(ga)))

    # RGBA, 8-bit.
    rgba = np.array([[[10, 20, 30, 255], [200, 100, 50, 77]]], np.uint8)
    write("rgba.png", png(2, 1, 8, 6, rows(rgba)))

    # 1-bit grey: 0b10110001 -> 255, 0, 255, 255, 0, 0, 0, 255.
    write("grey1.png", png(8, 1, 1, 0, b"\x00\xb1"))

    # Adam7 interlaced copy of the pattern.
    write("interlaced.png", png(16, 12, 8, 2, adam7(rgb), interlace=1))

    # An ancillary tEXt chunk with a valid CRC (tests corrupt that CRC).
    write("text.png", png(2, 1, 8, 2, rows(np.zeros((1, 2, 3), np.uint8)),
                          extra=chunk(b"tEXt", b"Comment\x00hello")))

    # IHDR declares 100000 x 100000; the IDAT is never reached.
    write("huge.png", png(100000, 100000, 8, 2, b"\x00"))


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    jpegs()
    pngs()
