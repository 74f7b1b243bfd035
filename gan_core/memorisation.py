"""Training data beside a checkpoint's samples: a rough memorisation check, and real points.

``comparison_data`` decides which training data the server may read for a checkpoint
(rebuilt from what the server vouches for, never a path taken from a visitor's
metadata); ``training_pool`` and ``training_points`` load it once per config;
``nearest_training_images`` finds the training images closest to a sample.

Apart from the catalogue (``catalog.py``) because this is the expensive, trusting
part: it loads data sets (torch, the data sources) on request, where listing
checkpoints reads headers only. What a rebuild costs is known before it loads
(``check_rebuild``): a built-in set's from ``HELD``, a folder's or zip's from its
listing, of which only the images that fit a request's budget are read
(``rebuild_items``). Everything returns numpy arrays or plain dataclasses, so a page
never touches torch. Images are uint8 (H, W, C) with C = 1 (grey) or 3.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import budget, visitors
from .catalog import CheckpointEntry
from .config import Config, DataConfig, DataKind
from .data import load_data
from .data.base import GanData, SOURCES
from .data.builtin import HELD
from .data.folder import count_images, load_folder
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
# A folder or zip (a visitor's upload, for a run trained on it) holds as many images as
# its listing says, at the size the run was trained at: 1,365 tiny PNGs in a 500 KB zip
# are 1 GB of float32 at 256 px. It is counted from its listing before anything is
# decoded, and only as many images as fit are read (``rebuild_items``). Reading them
# (folder.build_image_data) holds, per channel-pixel, the float32 copy and the uint8
# decode it is made from: 5 bytes; the gallery's pool keeps a uint8 copy besides.
REBUILD_BYTES_PER_VALUE = 5
# What a rebuild adds beyond its images: the listing, the decoders' buffers, the libraries' scratch.
REBUILD_OVERHEAD = 16 * budget.MB
POOL_CHUNK_BYTES = 8 * budget.MB  # float32 images turned into the pool's uint8 at once


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


def rebuild_limit() -> int:
    """The float32 bytes one rebuild of training images may take: ``MAX_REBUILD_BYTES``,
    or this server's budget per request (``budget.limit()``) where that is smaller. A
    rebuild runs in the server's process for one visitor's request (the gallery's
    neighbours, "Score this checkpoint"), so the request's budget binds; on a server
    with a larger budget (2 GB by default) ``MAX_REBUILD_BYTES`` stays the ceiling, since
    comparing with or judging against more images than that costs CPU-seconds for every
    visitor without making a rough check or a judge's figures much better."""
    return min(MAX_REBUILD_BYTES, budget.limit())


def _reads_listing(data_cfg: DataConfig) -> bool:
    """A folder or zip, whose images can be counted from its listing and read in part."""
    return data_cfg.name == "folder" and data_cfg.pairs is None and data_cfg.attributes is None


def image_values(data_cfg: DataConfig) -> int:
    """Values of one image as rebuilt: channels x size^2, at 3 channels when the config
    leaves colour to the images (a folder with one colour image is colour)."""
    return (data_cfg.channels or 3) * data_cfg.image_size * data_cfg.image_size


def check_rebuild(data_cfg: DataConfig, who: str = "This checkpoint") -> int:
    """Before anything is loaded, by every rebuild for comparing or judging: the float32
    bytes of the whole set at ``data_cfg``'s size and colour (0 when the source's size is
    not known before loading).

    A built-in set is refused (``DataError``, one sentence) at a size or colour it does
    not hold, or when that copy would exceed ``rebuild_limit()``. A folder or zip is
    counted from its listing (``folder.count_images``: a zip's central directory, a
    folder's entries; nothing decoded) and is not refused for its size, since its callers
    read only as many images as fit (``rebuild_items``); only one whose single image
    would not fit is refused."""
    if _reads_listing(data_cfg):
        items = count_images(data_cfg)
        if data_cfg.limit is not None:
            items = min(items, data_cfg.limit)
        one = image_values(data_cfg) * budget.FLOAT
        if one > rebuild_limit():
            raise DataError(f"{who} asks for its training images at {data_cfg.image_size:,} px, where one image would take "
                            f"{byte_size(one)}, more than the {byte_size(rebuild_limit())} this server rebuilds training images in; "
                            "use a checkpoint trained at a smaller size.")
        return items * one
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
    if need > rebuild_limit():
        raise DataError(f"{who} asks for {data_cfg.name} at {size:,} px, where its {items:,} {side}-px images would take "
                        f"{byte_size(need)}, more than the {byte_size(rebuild_limit())} this server rebuilds training images in; "
                        "use a checkpoint trained at a smaller size.")
    return need


@dataclass(frozen=True)
class Rebuild:
    """Which of a set's images a rebuild reads, decided from its listing before any is decoded."""

    total: int  # images in the set (its listing)
    keep: list[int] | None  # positions in the listing to read, in order; None: all of them

    @property
    def count(self) -> int:
        return self.total if self.keep is None else len(self.keep)


def rebuild_items(data_cfg: DataConfig, room: int, per_image: int, most: int, spread: bool = False) -> Rebuild | None:
    """For a folder or zip (else None: the set is loaded whole, ``check_rebuild`` having
    bounded it): which images to read so that they take at most ``room`` bytes at
    ``per_image`` each and at most ``rebuild_limit()`` as float32, and no more than
    ``most``. ``spread``: a seeded sample across the listing (class folders are listed one
    after another, so the first images would all be of the first class); else the first
    ones, as the gallery's caption says. Call ``check_rebuild`` first."""
    if not _reads_listing(data_cfg):
        return None
    listed = count_images(data_cfg)
    total = listed if data_cfg.limit is None else min(listed, data_cfg.limit)
    n = min(total, most, room // max(1, per_image), rebuild_limit() // (image_values(data_cfg) * budget.FLOAT))
    if n >= listed:
        return Rebuild(total, None)
    if n < 1:
        size = data_cfg.image_size
        raise DataError(f"One training image at {size:,} px takes about {budget.size_text(per_image)} to read, more than this "
                        f"server's {budget.size_text(budget.limit())} per request leaves for it; use a checkpoint trained at a smaller size.")
    if spread:
        keep = sorted(torch.randperm(total, generator=torch.Generator().manual_seed(0))[:n].tolist())
    else:
        keep = list(range(n))
    return Rebuild(total, keep)


def load_rebuild(data_cfg: DataConfig, plan: Rebuild | None) -> GanData:
    """``data_cfg``'s set as ``rebuild_items`` planned it: only the planned images of a
    folder or zip are opened (the labels are the whole listing's), else ``load_data``."""
    if plan is None or plan.keep is None:
        return load_data(data_cfg)
    return load_folder(data_cfg, keep=plan.keep)


def _own_upload(entry: CheckpointEntry, upload: Path, settings) -> bool:
    """In demo mode an upload is only compared for a run of the visitor who sent it."""
    if not settings.demo:
        return True
    owner = visitors.run_owner(entry.path.parent.parent) if entry.run_id else None
    return owner is not None and upload.parent == visitors.uploads_dir(settings.runs_dir, owner).resolve()


@functools.lru_cache(maxsize=2)
def training_pool(data_cfg: DataConfig) -> TrainingPool:
    """The training images of a checkpoint's data config, loaded once per config: at most
    ``MAX_POOL_IMAGES`` and ``MAX_POOL_BYTES`` of them, and of a folder or zip only the
    first ones whose reading fits this server's budget per request (``rebuild_items``).
    Raises DataError / ConfigError (one sentence) when the data is not available here,
    or not at this size and colour (``check_rebuild``)."""
    check_rebuild(data_cfg)
    values = image_values(data_cfg)
    # Reading, then the pool's uint8 copy of each image beside it, in half the budget's room: as
    # for chunked samples (budget.plan_samples), freed blocks do not all come back (measured: a
    # pool planned on the whole room of a demo's 256 MB peaked at 281 MB).
    plan = rebuild_items(data_cfg, (budget.limit() - REBUILD_OVERHEAD) // 2, (REBUILD_BYTES_PER_VALUE + 1) * values,
                         min(MAX_POOL_IMAGES, max(1, MAX_POOL_BYTES // values)))
    data = load_rebuild(data_cfg, plan)
    if data.kind != DataKind.IMAGE:
        raise DataError(f"Data source '{data_cfg.name}' holds points, not images; there are no training images to compare.")
    per_image = int(np.prod(data.shape))
    n = min(len(data), MAX_POOL_IMAGES, max(1, MAX_POOL_BYTES // per_image))
    c, h, w = data.shape
    images = np.empty((n, h, w, c), dtype=np.uint8)
    step = max(1, min(256, POOL_CHUNK_BYTES // (4 * per_image)))  # to_uint8 makes two float copies of what it is given
    for start in range(0, n, step):
        stop = min(n, start + step)
        if data.tensors is not None:
            batch = data.tensors["real"][start:stop]
        else:
            batch = torch.stack([data.item(i)["real"] for i in range(start, stop)])
        images[start:stop] = to_uint8(batch)
    images.flags.writeable = False
    # A whole set read gives the images that could be read; part of a listing, the listing's count.
    total = len(data) if plan is None or plan.keep is None else plan.total
    return TrainingPool(images, total, data_cfg.name)


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


__all__ = ["TrainingPool", "Neighbour", "Rebuild", "comparison_data", "check_rebuild", "rebuild_limit", "rebuild_items",
           "load_rebuild", "image_values", "training_pool", "training_points", "nearest_training_images", "MAX_POOL_IMAGES",
           "MAX_POOL_BYTES", "MAX_REBUILD_BYTES", "REBUILD_BYTES_PER_VALUE", "REBUILD_OVERHEAD", "HELD"]
