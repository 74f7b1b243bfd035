"""Training data beside a checkpoint's samples: a rough memorisation check, and real points.

``comparison_data`` decides which training data the server may read for a checkpoint
(rebuilt from what the server vouches for, never a path taken from a visitor's
metadata); ``training_pool`` and ``training_points`` load it once per config;
``nearest_training_images`` finds the training images closest to a sample.

Apart from the catalogue (``catalog.py``) because this is the expensive, trusting
part: it loads whole data sets (torch, the data sources) on request, where listing
checkpoints reads headers only. Everything returns numpy arrays or plain dataclasses,
so a page never touches torch. Images are uint8 (H, W, C) with C = 1 (grey) or 3.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import visitors
from .catalog import CheckpointEntry
from .config import Config, DataConfig, DataKind
from .data import load_data
from .data.base import SOURCES
from .data.builtin import HELD
from .errors import ConfigError, DataError
from .samples import to_uint8
from .settings import check_server_path
from .visitors import UPLOADS

# Training images compared with a sample: enough for every built-in set, bounded
# for large folders so the check stays quick and small on a 1 GB server.
MAX_POOL_IMAGES = 10_000
MAX_POOL_BYTES = 64 * 1024 * 1024
# Rebuilding a set at a checkpoint's size and colour allocates it whole as float32
# before anything is compared or judged, and the size and colour come from the
# checkpoint's metadata (a visitor's text for an upload): mnist-5k declared at 1,024 px
# in colour asked for 62.9 GB. So what a set holds is known here, the rebuild's bytes
# are computed first, and a rebuild over this is refused. 256 MB is mnist-5k up to
# 64 px or faces-lfw up to 256 px in colour; the shipped checkpoints need under 16 MB.
MAX_REBUILD_BYTES = 256_000_000


@dataclass(frozen=True)
class TrainingPool:
    """Training images as a generator saw them, for comparisons."""

    images: np.ndarray  # (N, H, W, C) uint8
    total: int  # items in the whole data set (images holds the first N)
    name: str


@dataclass(frozen=True)
class Neighbour:
    index: int  # in the training data
    distance: float  # L2 over pixels scaled to [0, 1]
    rms: float  # root-mean-square pixel difference in [0, 1]: distance / sqrt(pixels)
    image: np.ndarray  # (H, W, C) uint8


def comparison_data(entry: CheckpointEntry, cfg: Config, settings) -> DataConfig:
    """The training data the gallery may compare ``entry``'s samples with, rebuilt
    from what the server itself vouches for; never a path, download or loader
    setting taken as given from a checkpoint's metadata, which for an uploaded file
    is a visitor's text.

    Built-in sets (by name, at the checkpoint's size and colour) are always fine.
    Data read from disk is used only for a checkpoint this server trained (a shipped
    one or a run's own) and only where it lies under the data root or is that run's
    own upload; never with downloads. ``settings`` is ``gan_core.settings.Settings``.
    Raises DataError (one sentence) otherwise."""
    d = cfg.data
    try:
        source = SOURCES.get(d.name)
    except ConfigError:
        raise DataError(f"This checkpoint was trained on data this server does not know ({d.name[:40]!r}), so there are no training images to compare.") from None
    channels = d.channels if d.channels in (1, 3) else None
    if source.builtin:
        out = DataConfig(name=d.name, image_size=d.image_size, channels=channels, n_points=min(d.n_points, 100_000))
        check_rebuild(out)  # at the size and colour a set holds, within MAX_REBUILD_BYTES
        return out
    if not entry.shipped and entry.run_id is None:
        raise DataError(f"This checkpoint was uploaded and trained on a {d.name} data set elsewhere, so its training images are not on this server; "
                        "training images are compared only for built-in data and for runs trained here.")
    raw = d.path or ""
    uploads_dir = (Path(settings.runs_dir) / UPLOADS).resolve()
    try:
        where = Path(raw).resolve()
        if raw and where.is_file() and uploads_dir in where.parents and _own_upload(entry, where, settings):
            path = where  # the run's own uploaded zip
        else:
            path = check_server_path(raw, settings) if raw else None
    except (ConfigError, OSError, ValueError):
        path = None
    if path is None:
        raise DataError(f"This run's training data is not under the server's data folder {settings.data_root}, so it is not compared; "
                        "put the data there to compare with it.")
    # The attributes it was conditioned on (names only, checked against the data by the loader): without
    # them a CelebA run is judged against all 40 columns and never matches.
    return DataConfig(name=d.name, path=str(path), image_size=d.image_size, channels=channels, download=False,
                      attributes=d.attributes)


def byte_size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def check_rebuild(data_cfg: DataConfig, who: str = "This checkpoint") -> int:
    """Refuse (``DataError``, one sentence) to rebuild ``data_cfg``'s set at a size or
    colour it does not hold, or when the float32 copy would exceed
    ``MAX_REBUILD_BYTES``; else the bytes that copy takes (0 when not known before
    loading). Called before ``load_data`` by every rebuild for comparing or judging."""
    held = HELD.get(data_cfg.name)
    if held is None:
        return 0
    items, side, channels = held
    wanted = data_cfg.channels or channels
    if wanted > channels:
        raise DataError(f"{who} asks for {data_cfg.name} in colour, but {data_cfg.name} holds grey {side}-px images, "
                        "so its training images cannot be rebuilt that way; use a grey checkpoint of it.")
    size = data_cfg.image_size
    need = items * wanted * size * size * 4
    if need > MAX_REBUILD_BYTES:
        raise DataError(f"{who} asks for {data_cfg.name} at {size:,} px, where its {items:,} {side}-px images would take "
                        f"{byte_size(need)}, more than the {byte_size(MAX_REBUILD_BYTES)} this server rebuilds training images in; "
                        "use a checkpoint trained at a smaller size.")
    return need


def _own_upload(entry: CheckpointEntry, upload: Path, settings) -> bool:
    """In demo mode an upload is only compared for a run of the visitor who sent it."""
    if not settings.demo:
        return True
    owner = visitors.run_owner(entry.path.parent.parent) if entry.run_id else None
    return owner is not None and upload.parent == visitors.uploads_dir(settings.runs_dir, owner).resolve()


@functools.lru_cache(maxsize=2)
def training_pool(data_cfg: DataConfig) -> TrainingPool:
    """The training images of a checkpoint's data config, loaded once per config.
    Raises DataError / ConfigError (one sentence) when the data is not available here,
    or not at this size and colour (``check_rebuild``)."""
    check_rebuild(data_cfg)
    data = load_data(data_cfg)
    if data.kind != DataKind.IMAGE:
        raise DataError(f"Data source '{data_cfg.name}' holds points, not images; there are no training images to compare.")
    per_image = int(np.prod(data.shape))
    n = min(len(data), MAX_POOL_IMAGES, max(1, MAX_POOL_BYTES // per_image))
    if data.tensors is not None:
        images = to_uint8(data.tensors["real"][:n])
    else:
        chunks = []
        for start in range(0, n, 256):
            batch = torch.stack([data.item(i)["real"] for i in range(start, min(n, start + 256))])
            chunks.append(to_uint8(batch))
        images = np.concatenate(chunks)
    images.flags.writeable = False
    return TrainingPool(images, len(data), data_cfg.name)


def training_points(data_cfg: DataConfig, n: int = 2000) -> np.ndarray:
    """Up to ``n`` real points of a toy data set, (n, D) float, for scatter plots."""
    pool = _points(data_cfg)
    return pool[:n]


@functools.lru_cache(maxsize=4)
def _points(data_cfg: DataConfig) -> np.ndarray:
    data = load_data(data_cfg)
    if data.kind != DataKind.VECTOR or data.tensors is None:
        raise DataError(f"Data source '{data_cfg.name}' holds images, not points.")
    pts = data.tensors["real"][:5000].float().numpy()
    pts.flags.writeable = False
    return pts


def nearest_training_images(image: np.ndarray, pool: np.ndarray, k: int = 3) -> list[Neighbour]:
    """The ``k`` training images closest to ``image`` by Euclidean distance in pixel
    space (pixels scaled to [0, 1]), nearest first. Pixel distance is a rough
    memorisation check: a shifted copy is far, a plain face near many."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    pool = np.asarray(pool)
    if pool.ndim == 3:
        pool = pool[..., None]
    if pool.shape[1:] != image.shape:
        raise DataError(
            f"The training images are {pool.shape[1]}\u00d7{pool.shape[2]}\u00d7{pool.shape[3]} but the sample is "
            f"{image.shape[0]}\u00d7{image.shape[1]}\u00d7{image.shape[2]}; the data changed since training."
        )
    if len(pool) == 0:
        return []
    x = image.reshape(-1).astype(np.float32) / 255.0
    d2 = np.empty(len(pool), dtype=np.float64)
    for start in range(0, len(pool), 1024):  # bounded float copies for large pools
        chunk = pool[start : start + 1024].reshape(-1, x.size).astype(np.float32) / 255.0
        d2[start : start + len(chunk)] = ((chunk - x) ** 2).sum(axis=1)
    k = min(k, len(pool))
    order = np.argpartition(d2, k - 1)[:k]
    order = order[np.argsort(d2[order], kind="stable")]
    return [Neighbour(int(i), float(math.sqrt(d2[i])), float(math.sqrt(d2[i] / x.size)), pool[i]) for i in order]


__all__ = ["TrainingPool", "Neighbour", "comparison_data", "check_rebuild", "training_pool", "training_points",
           "nearest_training_images", "MAX_POOL_IMAGES", "MAX_POOL_BYTES", "MAX_REBUILD_BYTES", "HELD"]
