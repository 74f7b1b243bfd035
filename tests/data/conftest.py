"""Fixtures for the data-source tests: tiny images in real formats, written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def write_image():
    """write_image(path, colour, size=(w, h), mode="RGB") -> path: a flat image, format from the suffix."""

    def write(path: Path, colour, size=(12, 10), mode="RGB") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF", ".tif": "TIFF", ".webp": "WEBP"}[path.suffix.lower()]
        Image.new(mode, size, colour).save(path, format=fmt)
        return path

    return write


@pytest.fixture
def write_junk():
    """write_junk(path) -> path: random bytes under an image name (an unreadable 'image')."""

    def write(path: Path, n: int = 300) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes())
        return path

    return write


@pytest.fixture
def user_error():
    """user_error(excinfo, *mentions): the message is one line, ends a sentence and names what is wrong."""

    def check(excinfo, *mentions: str) -> str:
        message = str(excinfo.value)
        assert "\n" not in message, message
        assert message.endswith("."), message
        for m in mentions:
            assert str(m) in message, f"{m!r} not in {message!r}"
        return message

    return check
