"""The HTML report of a change, rendered by headless Chromium: the redline's colours show."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter

import pytest
from test_crawl import NAME, seed_page

from monitor.diff import compare
from monitor.normalize import normalize
from monitor.report import html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSERTED = (0xD7, 0xF5, 0xDD)  # report.INSERTED_STYLE background
DELETED = (0xFB, 0xE0, 0xE0)  # report.DELETED_STYLE background


def png_pixels(data: bytes) -> Counter:
    """Colour counts of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    counts: Counter = Counter()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
        counts.update(tuple(line[i : i + 3]) for i in range(0, stride, channels))
        previous = line
    return counts


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt chromium)")
def test_report_renders_with_the_redline_colours(tmp_path):
    old = normalize(seed_page().encode(), content_type="text/html", url="https://example.com/p")
    new = normalize(
        seed_page(edited=True).encode(), content_type="text/html", url="https://example.com/p"
    )
    page = html_report(
        NAME, "https://example.com/p", compare(old, new), title=f"{NAME}: material change"
    )
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    shot = tmp_path / "shot.png"

    subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--screenshot={shot}", "--window-size=1200,900", report.as_uri(),
        ],
        capture_output=True, timeout=90, check=True,
    )  # fmt: skip

    pixels = png_pixels(shot.read_bytes())
    assert pixels[INSERTED] > 500 and pixels[DELETED] > 500
    assert sum(pixels.values()) == 1200 * 900
