"""Pictures a page shows or a visitor takes away: enlargements, grids, strips, GIFs, PNGs, zips.

Pure numpy and Pillow on uint8 images (H, W, C) with C = 1 (grey) or 3, returning
arrays or bytes, so every page that shows samples uses the same grid layout and
files without touching torch (this module does not import it).
"""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
from PIL import Image

from . import budget


def png_bytes(array: np.ndarray) -> bytes:
    """(H, W, C) or (H, W) uint8 -> PNG bytes; one channel is saved as grey."""
    buf = io.BytesIO()
    Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array).save(buf, format="PNG")
    return buf.getvalue()


def _pil(image: np.ndarray) -> Image.Image:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return Image.fromarray(np.ascontiguousarray(image))


def upscale(image: np.ndarray, factor: int, smooth: bool = False) -> np.ndarray:
    """Blow an image up ``factor`` times: nearest-neighbour by default, so each
    generated pixel becomes a crisp square (a 32 px face is visible at 4x), or
    Lanczos (``smooth``), which hides the pixel grid. Grey images come back 2-D,
    which every image widget shows as grey."""
    factor = max(1, int(factor))
    shape = np.shape(image)
    budget.check(f"Enlarging a {shape[1]:,} × {shape[0]:,} px image {factor:,} times",
                 shape[0] * shape[1] * factor * factor * (shape[2] if len(shape) == 3 else 1) * 3, "ask for a smaller enlargement")
    img = _pil(image)
    if factor > 1:
        method = Image.Resampling.LANCZOS if smooth else Image.Resampling.NEAREST
        img = img.resize((img.width * factor, img.height * factor), method)
    return np.asarray(img)


def grid_shape(n: int, nrow: int | None = None) -> tuple[int, int]:
    """(columns, rows) of a grid of ``n`` images: as square as possible."""
    cols = nrow or max(1, int(math.ceil(math.sqrt(n))))
    return cols, max(1, int(math.ceil(n / cols)))


def make_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (H', W', C) grid, filled row by row like
    torchvision's make_grid (so sample i sits at column i % nrow, row i // nrow)."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    cols, rows = grid_shape(n, nrow)
    budget.check(f"A grid of {n:,} images in rows of {cols:,}", (rows * (h + padding) + padding) * (cols * (w + padding) + padding) * c,
                 "ask for fewer images or columns")
    out = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y : y + h, x : x + w] = images[i]
    return out


def grid_size(n: int, image_hw: tuple[int, int], nrow: int | None = None, padding: int = 2) -> tuple[int, int]:
    """(height, width) in pixels of ``make_grid``'s grid of ``n`` images of (H, W)."""
    h, w = image_hw
    cols, rows = grid_shape(n, nrow)
    return rows * (h + padding) + padding, cols * (w + padding) + padding


MAX_SIDE = 65_535  # the longest side a picture can be encoded at (JPEG's and WebP's limit) and shown


def side_scale(scale: int, height: int, width: int) -> int:
    """``scale`` lowered, if need be, so that a picture of ``height`` × ``width`` enlarged by
    it stays within MAX_SIDE (at least 1)."""
    return max(1, min(int(scale), MAX_SIDE // max(1, height, width)))


def grid_view_bytes(n: int, image_hwc: tuple[int, int, int], nrow: int | None, scale: int, padding: int = 2) -> int:
    """The peak of showing ``n`` images (H, W, C) as a grid enlarged ``scale`` times: the
    images, the grid (``make_grid``), its enlargement with PIL's copies (as ``upscale``
    counts them) and its PNG (at most the enlargement's size)."""
    h, w, c = image_hwc
    height, width = grid_size(n, (h, w), nrow, padding)
    grid = height * width * c
    big = grid * max(1, int(scale)) ** 2
    return n * h * w * c + grid + 3 * big + big


def grid_cells(n: int, image_hw: tuple[int, int], nrow: int | None = None, padding: int = 2) -> list[tuple[int, int, int, int]]:
    """Where each image sits in ``make_grid``'s output: (x0, y0, x1, y1) pixel boxes."""
    h, w = image_hw
    cols, _ = grid_shape(n, nrow)
    boxes = []
    for i in range(n):
        r, col = divmod(i, cols)
        x0, y0 = padding + col * (w + padding), padding + r * (h + padding)
        boxes.append((x0, y0, x0 + w, y0 + h))
    return boxes


def strip(frames: np.ndarray, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """Frames side by side in one row, for showing an interpolation at a glance."""
    return make_grid(frames, nrow=len(frames), padding=padding, pad_value=pad_value)


def gif_bytes(frames: np.ndarray, scale: int = 4, duration_ms: int = 120, bounce: bool = True) -> bytes:
    """An endlessly looping animated GIF of ``frames`` (T, H, W, C) uint8, each
    enlarged ``scale`` times with nearest-neighbour. ``bounce`` plays forward then
    back (2T - 2 frames) so the loop has no jump. Identical neighbouring frames
    are merged by the GIF encoder, as GIF allows."""
    frames = np.asarray(frames)
    if len(frames) == 0:
        raise ValueError("no frames")
    order = list(range(len(frames)))
    if bounce and len(frames) > 2:
        order += list(range(len(frames) - 2, 0, -1))
    _, h, w = frames.shape[:3]
    scale = max(1, int(scale))
    budget.check(f"A GIF of {len(order):,} frames of {w * scale:,} × {h * scale:,} px", len(order) * h * w * scale * scale * 5,
                 "ask for fewer frames or a smaller enlargement")  # Pillow's frames and the encoder's palette copies
    pics = [_pil(upscale(frames[i], scale)) for i in order]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=duration_ms, loop=0, disposal=1)
    return buf.getvalue()


def samples_zip(images: np.ndarray, stem: str = "sample") -> bytes:
    """Every sample as its own PNG at its native size, numbered from 1 like the gallery."""
    buf = io.BytesIO()
    width = max(3, len(str(len(images))))
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for i, image in enumerate(images, start=1):
            z.writestr(f"{stem}_{i:0{width}d}.png", png_bytes(np.asarray(image)))
    return buf.getvalue()


def image_png(image: np.ndarray) -> bytes:
    """One image (grey 2-D or (H, W, C)) as PNG bytes."""
    image = np.asarray(image)
    return png_bytes(image if image.ndim == 3 else image[..., None])


__all__ = ["png_bytes", "upscale", "grid_shape", "make_grid", "grid_size", "grid_view_bytes", "MAX_SIDE", "side_scale", "grid_cells", "strip", "gif_bytes", "samples_zip", "image_png"]
