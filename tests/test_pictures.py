"""gan_core.pictures: the images and files pages show and hand out (enlargements, grids,
strips, GIFs, PNGs, zips of samples), on numpy arrays alone."""

from __future__ import annotations

import io
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from gan_core import pictures


def random_images(n: int, h: int = 8, w: int = 8, c: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


def test_gif_decodes_with_the_right_number_of_frames_and_size():
    frames = random_images(5, 8, 8, 1)
    gif = pictures.gif_bytes(frames, scale=4, bounce=True)
    img = Image.open(io.BytesIO(gif))
    assert img.format == "GIF" and img.size == (32, 32)
    assert img.n_frames == 8  # 0 1 2 3 4 3 2 1, then it loops
    assert img.info.get("loop") == 0
    img.seek(4)
    assert np.array_equal(np.asarray(img.convert("L"))[::4, ::4], frames[4][..., 0])

    colour = pictures.gif_bytes(random_images(6, 8, 8, 3), scale=2, bounce=False)
    img = Image.open(io.BytesIO(colour))
    assert img.n_frames == 6 and img.size == (16, 16)


def test_zip_holds_one_png_per_sample_numbered_from_one():
    images = random_images(12, 8, 8, 3)
    with zipfile.ZipFile(io.BytesIO(pictures.samples_zip(images, "faces"))) as z:
        names = z.namelist()
        assert names == [f"faces_{i:03d}.png" for i in range(1, 13)]
        for i, name in enumerate(names):
            png = Image.open(io.BytesIO(z.read(name)))
            assert png.format == "PNG" and np.array_equal(np.asarray(png), images[i])
    grey = random_images(3)
    with zipfile.ZipFile(io.BytesIO(pictures.samples_zip(grey))) as z:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(z.read("sample_001.png")))), grey[0][..., 0])


def test_grid_layout_matches_the_engines_grid_and_its_cells():
    images = random_images(7, 8, 8, 3)
    grid = pictures.make_grid(images)
    assert grid.shape == (3 * 10 + 2, 3 * 10 + 2, 3)  # 3 x 3 cells of 8 px, 2 px padding
    for i, (x0, y0, x1, y1) in enumerate(pictures.grid_cells(7, (8, 8))):
        assert np.array_equal(grid[y0:y1, x0:x1], images[i])
    assert (grid[:2] == 255).all()


def test_upscale_is_crisp_by_default_and_smooth_on_request():
    img = random_images(1, 4, 5, 1)[0]
    big = pictures.upscale(img, 3)
    assert big.shape == (12, 15)
    assert np.array_equal(big[::3, ::3], img[..., 0]) and np.array_equal(big[2::3, 2::3], img[..., 0])
    assert pictures.upscale(random_images(1, 4, 4, 3)[0], 2, smooth=True).shape == (8, 8, 3)
    assert pictures.upscale(img, 1).shape == (4, 5)



def test_grid_shape_is_as_square_as_possible_or_as_asked():
    assert pictures.grid_shape(1) == (1, 1)
    assert pictures.grid_shape(7) == (3, 3)
    assert pictures.grid_shape(16) == (4, 4)
    assert pictures.grid_shape(17) == (5, 4)
    assert pictures.grid_shape(7, nrow=2) == (2, 4)


def test_png_bytes_round_trip_grey_and_colour():
    grey, colour = random_images(1, 5, 7, 1)[0], random_images(1, 5, 7, 3, seed=1)[0]
    back = Image.open(io.BytesIO(pictures.png_bytes(grey)))
    assert back.mode == "L" and np.array_equal(np.asarray(back), grey[..., 0])
    back = Image.open(io.BytesIO(pictures.image_png(colour)))
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), colour)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(pictures.image_png(grey[..., 0])))), grey[..., 0])  # 2-D too


def test_a_gif_of_no_frames_is_refused():
    with pytest.raises(ValueError):
        pictures.gif_bytes(np.zeros((0, 4, 4, 1), dtype=np.uint8))


def test_pictures_never_imports_torch():
    """Pages import this module at the top; it must not cost them torch."""
    import subprocess
    from pathlib import Path

    code = "import sys, gan_core.pictures; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
