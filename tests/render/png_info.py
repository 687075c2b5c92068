#!/usr/bin/python3
"""Decode a PNG with zlib + struct only (independent of o2o's encoder) and print
"WIDTH HEIGHT VARIANCE" (variance of all 8-bit samples). With a second argument, the
decoded RGB must equal that raw file byte for byte (exit 1 otherwise).
Supports what o2o writes and ffmpeg's usual PNGs: 8-bit RGB/RGBA, no interlace."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG signature")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            sys.exit(f"{path}: bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype})")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)  # also checks the Adler-32
    stride = w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            elif f == 4:
                q = a + b - c
                pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                p = 0
            row[x] = (row[x] + p) & 255
        out += row
        prev = row
    if bpp == 4:
        out = bytearray(v for i, v in enumerate(out) if i % 4 != 3)
    return w, h, bytes(out)


def main():
    w, h, rgb = decode(sys.argv[1])
    n = len(rgb)
    mean = sum(rgb) / n
    var = sum((v - mean) ** 2 for v in rgb) / n
    print(w, h, f"{var:.3f}")
    if len(sys.argv) > 2 and open(sys.argv[2], "rb").read() != rgb:
        sys.exit(f"{sys.argv[1]}: decoded pixels differ from {sys.argv[2]}")


main()
