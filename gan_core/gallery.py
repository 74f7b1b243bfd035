"""What the gallery (generated faces, digits, points) needs besides sampling: which checkpoints
there are, the training images nearest to a sample (a rough memorisation check),
and the files a user takes away (grid PNG, zip of samples, interpolation GIF).

Everything returns numpy arrays, bytes or plain dataclasses, so the dashboard
page never touches torch. Images are uint8 (H, W, C) with C = 1 (grey) or 3.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import checkpoints
from .config import Config, DataConfig
from .errors import CheckpointError, ConfigError, DataError
from .runs import ACTIVE, read_status
from .samples import png_bytes
from .uploads import UPLOADS

# Training images compared with a sample: enough for every built-in set, bounded
# for large folders so the check stays quick and small on a 1 GB server.
MAX_POOL_IMAGES = 10_000
MAX_POOL_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointEntry:
    """One checkpoint the gallery can show: a shipped demo or a run's last weights."""

    path: Path
    label: str  # for menus
    shipped: bool  # True: checkpoints/ of the repository; False: a run's checkpoints/
    mtime: float
    recipe: str | None = None
    data: str | None = None
    kind: str | None = None  # "image" or "vector"
    shape: tuple[int, ...] | None = None
    step: int | None = None
    run_id: str | None = None
    training: bool = False  # the run is still writing this file
    error: str | None = None  # why it cannot be used, one sentence

    @property
    def key(self) -> str:
        return str(self.path)

    def summary(self) -> str:
        """One line about what the checkpoint holds, for captions."""
        if self.error:
            return self.error
        what = ""
        if self.kind == "image" and self.shape:
            c, h, w = self.shape
            what = f", {h}\u00d7{w} {'grey' if c == 1 else 'colour'} images"
        elif self.kind == "vector" and self.shape:
            what = f", {self.shape[0]}-D points"
        origin = "shipped demo checkpoint" if self.shipped else f"run {self.run_id}" if self.run_id else "uploaded checkpoint"
        live = " (still training: newer weights appear as they are saved)" if self.training else ""
        return f"{self.recipe} trained on {self.data} for {self.step:,} steps{what}; {origin}{live}."


@functools.lru_cache(maxsize=512)
def _describe(path_str: str, mtime: float, size: int, shipped: bool) -> CheckpointEntry:
    path = Path(path_str)
    uploaded = path.parent.parent.name == UPLOADS
    run_id = None if shipped or uploaded else path.parent.parent.name
    try:
        cfg, info, step = checkpoints.read_header(path)
    except CheckpointError as e:  # a bad file is one unusable entry, never a broken page
        name = f"{run_id}/{path.name}" if run_id else path.name
        return CheckpointEntry(path, f"{name} (cannot be read)", shipped, mtime, run_id=run_id, error=str(e))
    what = f"{cfg.recipe} on {cfg.data.name}, step {step:,}"
    label = f"{what} (demo)" if shipped else f"{what} (uploaded)" if uploaded else f"{what} (run {_run_time(run_id)})"
    return CheckpointEntry(path, label, shipped, mtime, cfg.recipe, cfg.data.name, info.kind, tuple(info.shape), step, run_id)


def _run_time(run_id: str) -> str:
    """'20261121-235518-dcgan-faces-lfw-bd8c' -> '2026-11-21 23:55 bd8c': short, and still unique."""
    m = re.match(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-.*?([0-9a-f]{4})$", run_id)
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]} {m[6]}" if m else run_id


def describe_checkpoint(path: str | Path, shipped: bool = False) -> CheckpointEntry:
    """What a checkpoint holds, from its metadata only (cached while the file is unchanged)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise CheckpointError(f"Checkpoint {path} does not exist; pick another one.") from None
    return _describe(str(path), st.st_mtime, st.st_size, shipped)


def list_checkpoints(checkpoints_dir: str | Path, runs_dir: str | Path, owner: str | None = None,
                     isolated: bool = False) -> list[CheckpointEntry]:
    """Shipped demo checkpoints first (faces first), then uploaded ones, then every
    run's ``checkpoints/last.safetensors``, most recently written first.

    ``isolated`` (demo mode): besides the shipped ones, only the uploads and runs of
    the visitor ``owner`` (gan_core.visitors); nobody else's file is even opened."""
    from . import visitors

    shipped = []
    cdir = Path(checkpoints_dir)
    if cdir.is_dir():
        for p in sorted(cdir.glob("*.safetensors")):
            try:
                shipped.append(describe_checkpoint(p, shipped=True))
            except CheckpointError:
                continue  # deleted while listing
        shipped.sort(key=lambda e: (e.error is not None, e.data != "faces-lfw", e.kind != "image", e.path.name))
    uploaded = []
    # uploads/checkpoints/ (outside demo mode) and uploads/<owner>/ (a demo visitor's)
    if not isolated:
        found = (Path(runs_dir) / UPLOADS).glob("*/*.safetensors")
    else:
        found = visitors.uploads_dir(runs_dir, owner).glob("*.safetensors") if owner else []
    for p in found:
        try:
            uploaded.append(describe_checkpoint(p))
        except CheckpointError:
            continue  # deleted while listing
    uploaded.sort(key=lambda e: e.mtime, reverse=True)
    runs = []
    rdir = Path(runs_dir)
    if rdir.is_dir():
        for p in rdir.glob(f"*/checkpoints/{checkpoints.WEIGHTS}"):
            if isolated and not (owner and visitors.run_owner(p.parent.parent) == owner):
                continue
            try:
                entry = describe_checkpoint(p)
            except CheckpointError:
                continue
            if read_status(p.parent.parent).get("state") in ACTIVE:
                entry = dataclasses.replace(entry, training=True, label=entry.label if entry.error else entry.label + " (training)")
            runs.append(entry)
        runs.sort(key=lambda e: e.mtime, reverse=True)
    return shipped + uploaded + runs


TRANSLATORS = ("pix2pix",)  # recipes whose generator maps an image to an image, not noise to an image


def default_checkpoint(entries: list[CheckpointEntry]) -> CheckpointEntry | None:
    """The shipped faces checkpoint when there is one, else the first usable entry."""
    usable = [e for e in entries if e.error is None]
    for e in usable:
        if e.shipped and e.data == "faces-lfw" and e.kind == "image" and e.recipe not in TRANSLATORS:
            return e
    images = [e for e in usable if e.kind == "image"]
    return (images or usable or entries or [None])[0]


# ------------------------------------------------------------ nearest training images


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


def _as_uint8(real) -> np.ndarray:
    """(N, C, H, W) float in [-1, 1] (a torch tensor) -> (N, H, W, C) uint8."""
    from .samples import to_uint8

    return to_uint8(real)


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
    from .data.base import SOURCES
    from .settings import check_server_path

    d = cfg.data
    try:
        source = SOURCES.get(d.name)
    except ConfigError:
        raise DataError(f"This checkpoint was trained on data this server does not know ({d.name[:40]!r}), so there are no training images to compare.") from None
    channels = d.channels if d.channels in (1, 3) else None
    if source.builtin:
        return DataConfig(name=d.name, image_size=d.image_size, channels=channels, n_points=min(d.n_points, 100_000))
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


def _own_upload(entry: CheckpointEntry, upload: Path, settings) -> bool:
    """In demo mode an upload is only compared for a run of the visitor who sent it."""
    if not settings.demo:
        return True
    from . import visitors

    owner = visitors.run_owner(entry.path.parent.parent) if entry.run_id else None
    return owner is not None and upload.parent == visitors.uploads_dir(settings.runs_dir, owner).resolve()


@functools.lru_cache(maxsize=2)
def training_pool(data_cfg: DataConfig) -> TrainingPool:
    """The training images of a checkpoint's data config, loaded once per config.
    Raises DataError / ConfigError (one sentence) when the data is not available here."""
    import torch

    from .data import load_data

    data = load_data(data_cfg)
    if data.kind != "image":
        raise DataError(f"Data source '{data_cfg.name}' holds points, not images; there are no training images to compare.")
    per_image = int(np.prod(data.shape))
    n = min(len(data), MAX_POOL_IMAGES, max(1, MAX_POOL_BYTES // per_image))
    if data.tensors is not None:
        images = _as_uint8(data.tensors["real"][:n])
    else:
        chunks = []
        for start in range(0, n, 256):
            batch = torch.stack([data.item(i)["real"] for i in range(start, min(n, start + 256))])
            chunks.append(_as_uint8(batch))
        images = np.concatenate(chunks)
    images.flags.writeable = False
    return TrainingPool(images, len(data), data_cfg.name)


def training_points(data_cfg: DataConfig, n: int = 2000) -> np.ndarray:
    """Up to ``n`` real points of a toy data set, (n, D) float, for scatter plots."""
    pool = _points(data_cfg)
    return pool[:n]


@functools.lru_cache(maxsize=4)
def _points(data_cfg: DataConfig) -> np.ndarray:
    from .data import load_data

    data = load_data(data_cfg)
    if data.kind != "vector" or data.tensors is None:
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


# ----------------------------------------------------------------- images and files


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
    img = _pil(image)
    factor = max(1, int(factor))
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
    out = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y : y + h, x : x + w] = images[i]
    return out


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
