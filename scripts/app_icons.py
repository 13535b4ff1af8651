"""Draw the installable web app's icons (portal/static/portal/icons/icon-192.png and icon-512.png) from the
favicon's shapes: the blue rounded square with the white "L". Pure Python (zlib), no image library.

    .venv/bin/python scripts/app_icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLUE = (0x31, 0x40, 0xB5)
WHITE = (0xFF, 0xFF, 0xFF)
# In the favicon's 32 x 32 grid: the square's corner radius, the "L" (a polyline) and its stroke half-width.
CORNER = 8.0
L_POINTS = [(11.0, 8.0), (11.0, 24.0), (22.0, 24.0)]
HALF_STROKE = 1.75
SAMPLES = 3  # per axis: 9 samples a pixel for smooth edges


def _in_square(x: float, y: float) -> bool:
    cx = min(max(x, CORNER), 32 - CORNER)
    cy = min(max(y, CORNER), 32 - CORNER)
    return (x - cx) ** 2 + (y - cy) ** 2 <= CORNER**2


def _on_l(x: float, y: float) -> bool:
    for (ax, ay), (bx, by) in zip(L_POINTS, L_POINTS[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        if (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 <= HALF_STROKE**2:
            return True
    return False


def _pixel(px: int, py: int, size: int) -> bytes:
    scale = 32 / size
    blue = white = 0
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x, y = (px + (sx + 0.5) / SAMPLES) * scale, (py + (sy + 0.5) / SAMPLES) * scale
            if _in_square(x, y):
                if _on_l(x, y):
                    white += 1
                else:
                    blue += 1
    total = SAMPLES * SAMPLES
    alpha = (blue + white) / total
    if not alpha:
        return b"\x00\x00\x00\x00"
    rgb = [round((b * blue + w * white) / (blue + white)) for b, w in zip(BLUE, WHITE, strict=True)]
    return bytes([*rgb, round(alpha * 255)])


def png(size: int) -> bytes:
    rows = b"".join(b"\x00" + b"".join(_pixel(x, y, size) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def main() -> None:
    folder = Path(__file__).resolve().parent.parent / "portal" / "static" / "portal" / "icons"
    folder.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (folder / f"icon-{size}.png").write_bytes(png(size))
        print(f"wrote {folder / f'icon-{size}.png'}")


if __name__ == "__main__":
    main()
