"""untrusted.read_image on the image kinds people actually upload: CMYK JPEGs,
16-bit greys, palettes, and animated GIFs (their first frame)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gan_core import untrusted


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_cmyk_jpeg_becomes_rgb():
    out = untrusted.read_image(encoded(Image.new("CMYK", (6, 4), (0, 255, 255, 0)), "JPEG"), "cmyk.jpg")
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    assert out[..., 0].mean() > 200 and out[..., 1].mean() < 60  # cyan 0, magenta+yellow full: red


def test_sixteen_bit_grey_is_scaled_not_clipped():
    img = Image.fromarray(np.full((5, 7), 32768, dtype=np.uint16))
    out = untrusted.read_image(encoded(img, "PNG"), "deep.png")
    assert out.shape == (5, 7, 1) and abs(int(out.mean()) - 128) <= 1


def test_palette_image_keeps_its_colours():
    img = Image.new("P", (4, 4))
    img.putpalette([0, 0, 255] + [0] * 765)
    out = untrusted.read_image(encoded(img, "PNG"), "palette.png")
    assert out.shape == (4, 4, 3) and tuple(out[0, 0]) == (0, 0, 255)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out = untrusted.read_image(data, "anim.gif")
    assert out.shape[:2] == (8, 8) and out[..., 0].mean() > 200 and out[..., 1].mean() < 50


def test_an_image_past_pillows_own_bomb_guard_names_our_limit():
    """Pillow refuses images over about 179 megapixels itself; the sentence must still name the limit."""
    import struct
    import zlib

    import pytest

    from gan_core.errors import DataError

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")
    with pytest.raises(DataError, match="megapixel limit"):
        untrusted.read_image(png, "huge.png")
