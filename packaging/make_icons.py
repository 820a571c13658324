"""Render the application icon (an SVG, named in pyproject [tool.opsconsole] icon)
to what each platform wants, with Qt (PySide6.QtSvg, no other dependency):

    python packaging/make_icons.py OUTDIR

writes OUTDIR/hicolor/<N>x<N>/apps/<name>.png (16..512) and
OUTDIR/hicolor/scalable/apps/<name>.svg (the Linux icon theme layout),
OUTDIR/<name>.ico (Windows: PNG-compressed entries) and OUTDIR/<name>.icns
(macOS: PNG entries). Runs headless (QT_QPA_PLATFORM=offscreen is set here).
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import meta
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def render(renderer: QSvgRenderer, size: int) -> bytes:
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(p)
    p.end()
    buf = QByteArray()
    dev = QBuffer(buf)
    dev.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(dev, "PNG"):
        raise SystemExit(f"make_icons: could not encode a {size}px PNG")
    dev.close()
    return bytes(buf.data())


def write_ico(path: Path, pngs: dict[int, bytes]) -> None:
    sizes = [s for s in ICO_SIZES if s in pngs]
    head = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(head) + 16 * len(sizes)
    entries, blobs = b"", b""
    for s in sizes:
        data = pngs[s]
        dim = 0 if s >= 256 else s  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
        blobs += data
    path.write_bytes(head + entries + blobs)


def write_icns(path: Path, pngs: dict[int, bytes]) -> None:
    body = b"".join(struct.pack(">4sI", t, 8 + len(pngs[s])) + pngs[s]
                    for s, t in ICNS_TYPES.items() if s in pngs)
    path.write_bytes(struct.pack(">4sI", b"icns", 8 + len(body)) + body)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    m = meta.load()
    svg = Path(m["icon"])
    _app = QGuiApplication.instance() or QGuiApplication(["make_icons"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        print(f"make_icons: {svg}: not a valid SVG", file=sys.stderr)
        return 1
    pngs = {s: render(renderer, s) for s in SIZES}
    for s, data in pngs.items():
        d = out / "hicolor" / f"{s}x{s}" / "apps"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{m['name']}.png").write_bytes(data)
    scalable = out / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable / f"{m['name']}.svg")
    write_ico(out / f"{m['name']}.ico", pngs)
    write_icns(out / f"{m['name']}.icns", pngs)
    print(f"make_icons: {svg.name} -> {out} ({len(pngs)} PNG sizes, .ico, .icns)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
