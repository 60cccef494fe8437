"""Writes the web map's icons (web/icon-32.png for the tab, icon-192.png and icon-512.png for the app): a rust-red square
with a white ring and dot, as PNG, with the standard library only. Run once; the icons are
committed."""
import struct
import sys
import zlib
from pathlib import Path


def icon(size):
    rows = []
    c = (size - 1) / 2
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            r = ((x - c) ** 2 + (y - c) ** 2) ** 0.5 / size
            if 0.24 <= r <= 0.31 or r <= 0.08:
                row += bytes((255, 255, 255, 255))
            else:
                row += bytes((0xA6, 0x36, 0x03, 255))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


out = Path(sys.argv[1] if len(sys.argv) > 1 else "web")
for size in (32, 192, 512):
    (out / f"icon-{size}.png").write_bytes(icon(size))
