# Draws Redflag's icon (a white pennant on a red rounded square) as RGBA PNGs, with the standard library only.
import math, struct, sys, zlib

def png(size):
    rows = []
    r = size * 0.18  # corner radius
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            cx, cy = x + 0.5, y + 0.5
            # rounded square mask with 1px antialias
            dx = max(r - cx, 0, cx - (size - r)); dy = max(r - cy, 0, cy - (size - r))
            d = math.hypot(dx, dy) - r if (dx > 0 and dy > 0) else -min(cx, cy, size - cx, size - cy)
            a = max(0.0, min(1.0, 0.5 - d))
            col = (200, 40, 40)
            u, v = cx / size, cy / size
            pole = 0.30 <= u <= 0.36 and 0.20 <= v <= 0.82
            # flag: triangle from the pole top to the right
            flag = 0.36 <= u <= 0.76 and 0.20 <= v <= 0.56 and (v - 0.20) >= (u - 0.36) * 0.45 and (0.56 - v) >= (u - 0.36) * 0.45
            if pole or flag:
                col = (255, 255, 255)
            row += bytes([*col, int(a * 255)])
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

out = sys.argv[1]
for name, size in [("icon.png", 512), ("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256)]:
    open(f"{out}/{name}", "wb").write(png(size))
