"""Image pairs for pix2pix: (source, target) items, read from disk or derived.

On disk: ``--data paired --data-path FOLDER_OR_ZIP``, in either layout people have
    aligned    each file holds A | B side by side (the reference implementation's
               format: facades, maps, edges2shoes); the left half is A.
    A/ and B/  two folders whose files match by name (the extension may differ).
    Either may sit in train/ val/ test/ sub-folders (``root/train/x.jpg`` or
    ``root/A/train/x.jpg``); ``--split`` picks one, and a flat layout is all
    ``train``. ``--direction AtoB`` (default) translates A into B, ``BtoA`` the reverse.
    Zips are read member by member through ``store.ZipStore``, so the upload limits
    (entries, sizes, compression ratio) hold; images open through
    ``untrusted.open_image`` (pixel and aspect limits before decoding). Files that
    cannot be read, and A/ or B/ files without a partner, are skipped and counted.

Derived: ``--data <any image source> --pairs edges|grey|blur|mask|sr4``: the source's
    images are the targets and the sources are made from them by ``derive``:
    edges  Canny edges (scikit-image, sigma 1) as black lines on white, 1 channel
    grey   the luminance (ITU-R 601, as Pillow's "L"), 1 channel; needs colour targets
    lab    the same grey source; the generator predicts only CIELAB a*b* and keeps the
           grey picture's lightness (``models.pix2pix.lab_compose``), as the reference's
           colorization_model does; its U-Net stops at 2 x 2 (``PairKind.innermost``)
    blur   a Gaussian blur of sigma 1.5 pixels
    mask   a square hole (1/4 to 1/2 of the side, mid-grey) at a random place per item
    sr4    the image shrunk by 4 (bicubic, antialiased) and enlarged back by 4 (bicubic)
           to its own size: SRCNN's pre-upsampled input for x4 super-resolution. Its
           generator is residual (output = input + a learned correction, ``residual``)
           and translates at the picture's own scale (``translate.training_scale``).
    ``translate.source_for`` applies the same function to an uploaded photo. One item
    in ten (indices 9, 19, ...) is held out: ``--split val`` (or test) selects those,
    ``train`` the rest. The ``photos`` source holds out whole photographs instead
    (its tiles overlap across scales, so a held-out tile would be an unseen crop of a
    photograph that was trained on): ``--split val`` there is the tiles of three
    photographs that ship with scikit-learn and matplotlib (``GanData.split``).

Jitter (the reference's resize to 286 then random 256 crop, and random flip): items
are stored as uint8 at ``load_size(crop)`` (1.12 x the crop) and ``PairedBatchStream``
cuts the same random crop and flip from both halves of every item. The offsets come
from a generator seeded by (seed, batch index), so a resumed run sees exactly the
crops an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import torch
from PIL import ImageOps

from ..config import DataConfig
from ..errors import ConfigError, DataError
from ..untrusted import native_channels, open_image
from . import store as stores
from ._images import convert_channels, pil_to_uint8
from .base import SOURCES, BatchStream, GanData, Source, register_source


@dataclass(frozen=True)
class PairKind:
    """One way pix2pix gets its (source, target) pairs: derived from single images by
    ``derive`` (``--pairs NAME``), or read from files (``--data paired``). Every page
    and command that names, explains or offers a kind reads it from here."""

    name: str  # the --pairs value; FROM_FILES for pairs read from disk
    label: str  # a menu entry: "edges → picture"
    note: str  # how the pairs are made, one sentence
    model_input: str  # what the generator is given, capitalised: "Edge map"
    turns: str  # what a model of this kind does: "edge maps into pictures"
    already: str  # pictures that need no derivation: "Uploads are edge maps"
    derived: bool  # made from any image source by ``derive``; else the data must hold pairs (a folder or zip)
    grey_source: bool  # the source has one channel whatever the target's (edge maps, grey versions)
    needs_colour: bool  # the images must be in colour (their grey version is the source)
    residual: bool = False  # the generator adds a correction to its input (restoration of a picture it is given at full size)
    lab: bool = False  # the generator predicts CIELAB a*b* and keeps the grey source's lightness (``UNetGenerator(lab=True)``)
    expect: str = ""  # what to expect of a small demo model of this kind, one clause for the Pix2Pix page
    innermost: int = 1  # the U-Net's innermost side at the crop size (2: one level fewer, no 1 x 1 level whose border band shows)
    enlarge: int = 1  # the source is the picture shrunk by this factor and enlarged back: a model of this kind enlarges pictures by it
    # Reflected pixels a picture is seen with at inference (translate._tiled): a restoring model then finds a
    # mirror at the picture's edge, not zero padding (Real-ESRGAN's pre_pad); 0 for kinds whose U-Net would
    # change its whole output with the input's size (docs/BENCHMARKS.md, borders).
    margin: int = 0


FROM_FILES = "files"
PAIR_KINDS: dict[str, PairKind] = {k.name: k for k in (
    PairKind("edges", "edges → picture", "The images are the targets; each source is the image's edge map (Canny, black lines on white).",
             "Edge map", "edge maps into pictures", "edge maps", derived=True, grey_source=True, needs_colour=False,
             expect="expect a blurred picture of the kind it learned (a face for the faces demo) drawn along the edges, not a photograph"),
    PairKind("grey", "grey → colour", "The images are the targets; each source is the image's grey version, so the images must be in colour.",
             "Grey version", "grey into colour", "grey already", derived=True, grey_source=True, needs_colour=True,
             expect="expect plausible colours only on things like its training pictures, and wrong colour casts elsewhere"),
    PairKind("blur", "blurred → sharp", "The images are the targets; each source is a blurred copy (Gaussian, σ 1.5 pixels).",
             "Blurred copy", "blurred into sharp", "blurred already", derived=True, grey_source=False, needs_colour=False),
    PairKind("mask", "masked → filled", "The images are the targets; each source is a copy with a grey square hole, "
             "somewhere different in each.", "Masked copy", "masked into filled-in", "masked already",
             derived=True, grey_source=False, needs_colour=False),
    PairKind("sr4", "4x smaller → sharp (super-resolution)", "The images are the targets; each source is the image shrunk "
             "to a quarter of its width and height (bicubic) and enlarged back to its size, so a model learns to sharpen a "
             "picture enlarged 4x.", "Bicubic 4x enlargement", "pictures enlarged 4x into sharp ones", "enlarged 4x",
             derived=True, grey_source=False, needs_colour=False, residual=True, enlarge=4, margin=8,
             expect="expect sharper edges than a plain bicubic enlargement, and no invented fine texture"),
    PairKind("lab", "grey → colour (Lab, lightness kept)", "The images are the targets; each source is the image's grey "
             "version, and the model predicts only its colour (CIELAB a*b*), keeping the grey picture's lightness.",
             "Grey version", "grey into colour, keeping its lightness", "grey already",
             derived=True, grey_source=True, needs_colour=True, lab=True, innermost=2,
             expect="expect a faint tint at the default strength, never a vivid recolouring and never much worse than "
                    "the grey picture; raise the strength to see the model's guesses, which are often wrong"),
    PairKind(FROM_FILES, "pairs in the files", "Pairs you made: A|B side-by-side images (pix2pix's aligned format), or folders "
             "A/ and B/ whose files have matching names; either may sit in train/ val/ test/ sub-folders.",
             "Source half", "one half of each pair into the other", "source halves already",
             derived=False, grey_source=False, needs_colour=False),
)}
# The --pairs choices (config.DataConfig.pairs lists the same; a test holds them equal).
DERIVED_KINDS = tuple(k.name for k in PAIR_KINDS.values() if k.derived)
EDGE_SIGMA = 1.0
BLUR_SIGMA = 1.5
MASK_VALUE = 128  # mid-grey fill of the hole
HOLDOUT = 10  # derived pairs: every tenth item is held out (val / test)
SPLITS = ("train", "val", "test")
EAGER_BYTES = 1 << 30  # uint8 pairs decoded up front when they fit in 1 GiB, else read lazily
_BAND_PIXELS = 1 << 22  # derive large images in bands of about 4 megapixels


def enlarge_factor(pairs: str | None) -> int:
    """How many times a model trained on ``pairs`` enlarges a picture (1: it does not)."""
    kind = PAIR_KINDS.get(pairs) if pairs else None
    return kind.enlarge if kind is not None else 1


def bicubic_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W, C) -> uint8 (height, width, C) by Pillow's bicubic filter, which is
    antialiased when it shrinks (its support grows with the factor)."""
    from PIL import Image

    pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    out = np.asarray(pil.resize((width, height), Image.Resampling.BICUBIC))
    return out[..., None] if out.ndim == 2 else out


def degrade(image: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (H, W, C) -> the same size, shrunk by ``factor`` and enlarged back (bicubic both ways)."""
    h, w = image.shape[:2]
    small = bicubic_resize(image, max(1, round(w / factor)), max(1, round(h / factor)))
    return bicubic_resize(small, w, h)


def derived_kind(name: str) -> PairKind:
    """The derived kind ``name`` (``--pairs``), or a one-sentence refusal naming the others."""
    if name not in DERIVED_KINDS:
        raise ConfigError(f"Unknown pairs {name!r}; use one of: {', '.join(DERIVED_KINDS)}.")
    return PAIR_KINDS[name]


def load_size(crop: int) -> int:
    """The size items are resized to before the random crop: 286 for 256, as in the reference."""
    return int(round(crop * 286 / 256))


def source_channels(pairs: str | None, target_channels: int) -> int:
    """Channels of the source half: edge maps and grey images are single-channel; blurred
    and masked copies, and pairs from disk (both halves converted alike), match the target."""
    kind = PAIR_KINDS.get(pairs) if pairs else None
    return 1 if kind is not None and kind.grey_source else target_channels


# ----------------------------------------------------------------------------- derivation


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 or float (H, W, C) -> (H, W, 1) luminance, ITU-R 601 as Pillow's convert("L")."""
    if image.shape[-1] == 1:
        return image
    grey = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if image.dtype == np.uint8:
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)[..., None]
    return grey[..., None]


def mask_box(height: int, width: int, rng: np.random.Generator | None = None) -> tuple[int, int, int]:
    """(top, left, side) of the hole: random in training (side 1/4 to 1/2 of the short
    side), centred and 3/8 of the short side for translation."""
    short = min(height, width)
    if rng is None:
        side = max(1, round(short * 3 / 8))
        return (height - side) // 2, (width - side) // 2, side
    side = int(rng.integers(max(1, short // 4), max(1, short // 2) + 1))
    return int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1)), side


def _derive_float(kind: str, image: np.ndarray) -> np.ndarray:
    """float32 (H, W, C) in [0, 1] -> the derived source, float32 (H, W, Cs) in [0, 1]."""
    if kind == "edges":
        from skimage.feature import canny

        edges = canny(to_grey(image)[..., 0].astype(np.float64), sigma=EDGE_SIGMA, mode="nearest")
        return (1.0 - edges.astype(np.float32))[..., None]  # black lines on white, like a sketch
    if kind == "blur":
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(image, sigma=(BLUR_SIGMA, BLUR_SIGMA, 0), mode="nearest")
    raise ValueError(kind)


def derive(kind: str, image: np.ndarray, box: tuple[int, int, int] | None = None) -> np.ndarray:
    """The source half made from a target image: uint8 (H, W, C) -> uint8 (H, W, Cs).

    The one function used for training items and for uploads (``translate.source_for``).
    Large images are done in bands of rows with a margin wider than the filters reach,
    so memory stays bounded and the result equals the whole-image one away from the
    rare Canny edge whose hysteresis would continue across a band. ``box`` (mask only)
    is the hole; unset, the centred one of ``mask_box``."""
    derived_kind(kind)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if kind in ("grey", "lab"):
        return to_grey(image)
    if PAIR_KINDS[kind].enlarge > 1:
        return degrade(image, PAIR_KINDS[kind].enlarge)
    h, w = image.shape[:2]
    if kind == "mask":
        top, left, side = box if box is not None else mask_box(h, w)
        out = image.copy()
        out[top : top + side, left : left + side] = MASK_VALUE
        return out
    margin = int(4 * max(EDGE_SIGMA, BLUR_SIGMA)) + 4
    rows = max(64, _BAND_PIXELS // max(w, 1))
    out = np.empty((h, w, 1 if kind == "edges" else image.shape[2]), dtype=np.uint8)
    for top in range(0, h, rows):
        lo, hi = max(0, top - margin), min(h, top + rows + margin)
        band = _derive_float(kind, image[lo:hi].astype(np.float32) / 255.0)
        keep = band[top - lo : top - lo + min(rows, h - top)]
        out[top : top + keep.shape[0]] = np.clip(np.rint(keep * 255.0), 0, 255).astype(np.uint8)
    return out


def _chw(image: np.ndarray) -> torch.Tensor:
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))
    # A read-only array (a picture Pillow decoded) would give a tensor PyTorch warns it cannot write to.
    return torch.from_numpy(chw if chw.flags.writeable else chw.copy())


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()


def _real_to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _derived_item(kind: str, target: torch.Tensor, index: int) -> torch.Tensor:
    """uint8 (C, L, L) target -> uint8 (Cs, L, L) source; the mask's place is seeded by the item."""
    img = _hwc(target)
    box = mask_box(*img.shape[:2], np.random.default_rng([index, 0x3A5C])) if kind == "mask" else None
    return _chw(derive(kind, img, box))


# ----------------------------------------------------------------------------- the data


@dataclass
class PairedData(GanData):
    """GanData whose items are {"source", "target"}: uint8 (C, L, L) with L = load_size(crop).
    ``shape`` is the target's at the crop size, what the generator makes."""

    crop: int = 0
    source_channels: int = 0

    def _to_real(self, batch: dict, tops, lefts, flips) -> dict:
        s = self.crop
        out = {}
        for key in ("source", "target"):
            x = batch[key]
            n, dev = len(x), x.device
            ar = torch.arange(s, device=dev)
            rows = torch.as_tensor(tops, device=dev)[:, None] + ar
            cols = torch.as_tensor(lefts, device=dev)[:, None] + torch.where(torch.as_tensor(flips, device=dev)[:, None], s - 1 - ar, ar)
            # (N, C, L, L) -> (N, S, S, C): one crop (and flip) per item, the same for both halves
            cut = x[torch.arange(n, device=dev)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
            out[key] = cut.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()
        return out

    def jitter(self, batch: dict, seed: int, index: int, shard: tuple[int, int] = (0, 1)) -> dict:
        """Random crop and flip of batch ``index``, seeded by (seed, index) -> float pairs in [-1, 1].
        A process's shard of a global batch (torchrun) gets its share of the global
        batch's crops and flips, so together the processes jitter as one would."""
        n, size = len(batch["target"]), batch["target"].shape[-1]
        rank, world = shard
        rng = np.random.default_rng([seed, index, 0x9A12])
        part = slice(rank * n, (rank + 1) * n)
        tops, lefts = rng.integers(0, size - self.crop + 1, (2, n * world))[:, part]
        flips = (rng.random(n * world) < 0.5)[part]
        return self._to_real(batch, tops, lefts, flips)

    def center(self, batch: dict) -> dict:
        """The centre crop, unflipped: for the live grid and evaluation."""
        n, size = len(batch["target"]), batch["target"].shape[-1]
        offset = np.full(n, (size - self.crop) // 2)
        return self._to_real(batch, offset, offset, np.zeros(n, dtype=bool))

    def fixed(self, n: int) -> dict:
        """``n`` items spread evenly over the data, centre-cropped: the live grid's pairs."""
        n = max(1, min(n, len(self)))
        picks = np.linspace(0, len(self) - 1, n).round().astype(int)
        items = [self.item(int(i)) for i in picks]
        return self.center({k: torch.stack([it[k] for it in items]) for k in ("source", "target")})


class PairedBatchStream(BatchStream):
    """``BatchStream`` whose batches are jittered float pairs at the crop size."""

    def next(self) -> dict[str, torch.Tensor]:
        index = self.position
        return self.data.jitter(super().next(), self.seed, index, self.shard)


# ----------------------------------------------------------------------------- derived pairs


class _DerivedDataset(torch.utils.data.Dataset):
    """Derived pairs of a lazily read source, made per item."""

    def __init__(self, base, indices: list[int], kind: str, channels: int):
        self.base, self.indices, self.kind, self.channels = base, indices, kind, channels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        j = self.indices[i]
        target = _real_to_uint8(convert_channels(self.base[j]["real"], self.channels))
        return {"source": _derived_item(self.kind, target, j), "target": target}


def _held_out(indices, split: str) -> list[int]:
    if split == "train":
        return [i for i in indices if i % HOLDOUT != HOLDOUT - 1]
    return [i for i in indices if i % HOLDOUT == HOLDOUT - 1]


def _derived(cfg: DataConfig, source: Source) -> PairedData:
    kind, crop = cfg.pairs, cfg.image_size
    base = source.load(dataclasses.replace(cfg, image_size=load_size(crop), pairs=None, limit=None))
    if base.kind != "image":
        raise ConfigError(f"--pairs derives image pairs, and {cfg.name!r} is points; use an image source.")
    channels = base.shape[0]
    if derived_kind(kind).needs_colour and channels == 1:
        others = [k for k in DERIVED_KINDS if not PAIR_KINDS[k].needs_colour]
        raise ConfigError(f"--pairs {kind} pairs grey images with their colours, and {cfg.name!r} is grey; "
                          f"use photos or a folder of colour images, or --pairs {', '.join(others[:-1])} or {others[-1]}.")
    keep = list(range(len(base))) if base.split == cfg.split else _held_out(range(len(base)), cfg.split)
    if cfg.limit is not None:
        keep = keep[: cfg.limit]
    if not keep:
        raise DataError(f"Data source {cfg.name!r} has too few items to hold one in {HOLDOUT} out for --split {cfg.split}; "
                        "use more images or --split train.")
    cs = source_channels(kind, channels)
    common = dict(crop=crop, source_channels=cs, skipped=base.skipped,
                  description=f"{base.description or cfg.name}, {kind} -> image pairs ({cfg.split})")
    shape = (channels, crop, crop)
    if base.tensors is not None:
        target = _real_to_uint8(base.tensors["real"][torch.tensor(keep)])
        src = torch.stack([_derived_item(kind, t, j) for t, j in zip(target, keep)])
        return PairedData(base.name, "image", shape, tensors={"source": src, "target": target}, **common)
    return PairedData(base.name, "image", shape, dataset=_DerivedDataset(base.dataset, keep, kind, channels), **common)


# ----------------------------------------------------------------------------- pairs on disk


def _decode_pair(store, entry, size: int, channels: int | None):
    """One pair -> (A, B) uint8 (C, size, size) each, or None if unreadable or over the limits."""
    try:
        if entry[0] == "aligned":
            with store.open(entry[1]) as f, open_image(f) as img:
                img.draft(None, (2 * size, size))
                img.load()
                ImageOps.exif_transpose(img, in_place=True)
                w, h = img.size
                if w < 2:
                    return None
                c = channels or native_channels(img.mode)
                half = w // 2  # an odd last column belongs to neither half, as in the reference
                return (pil_to_uint8(img.crop((0, 0, half, h)), size, c), pil_to_uint8(img.crop((half, 0, 2 * half, h)), size, c))
        a = stores.decode(store, entry[1], size, channels)
        b = stores.decode(store, entry[2], size, channels)
        if a is None or b is None:
            return None
        c = max(a.shape[0], b.shape[0])
        return convert_channels(a, c), convert_channels(b, c)
    except Exception:  # noqa: BLE001 - any failure on a user's file means "unreadable", which is counted
        return None


def _modes(store, entry) -> list[str] | None:
    modes = [stores.header_mode(store, name) for name in entry[1:]]
    return None if None in modes else modes


class _PairFileDataset(torch.utils.data.Dataset):
    """Pairs decoded per item; an unreadable pair is replaced by the next readable one."""

    def __init__(self, store, entries: list, size: int, channels: int, swap: bool):
        self.store, self.entries, self.size, self.channels, self.swap = store, entries, size, channels, swap
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        n = len(self.entries)
        for step in range(n):
            i = (index + step) % n
            if i in self._bad:
                continue
            pair = _decode_pair(self.store, self.entries[i], self.size, self.channels)
            if pair is None:
                self._bad.add(i)
                continue
            a, b = (convert_channels(x, self.channels) for x in pair)
            return {"source": b, "target": a} if self.swap else {"source": a, "target": b}
        raise DataError(f"None of the {n} image pairs in {self.store.where} can be decoded any more; check that the files are intact.")


def _layout(paths: list[str], split: str, where: str) -> tuple[list[tuple], int]:
    """Entries ("aligned", i) or ("ab", i_a, i_b) (indices into ``paths``) and the number
    of files left without a partner, per the layouts in the module docstring."""
    parts = [PurePosixPath(p.replace("\\", "/")).parts for p in paths]
    while parts and all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1 and parts[0][0] not in ("A", "B", *SPLITS):
        parts = [p[1:] for p in parts]  # look through one wrapping folder (faces.zip -> faces/...)
    tops = {p[0] for p in parts if len(p) > 1}

    def pick(rows: list[tuple[int, tuple]], what: str) -> list[tuple[int, tuple]]:
        splits = {p[0] for _, p in rows if len(p) > 1 and p[0] in SPLITS}
        if splits:
            chosen = [(i, p[1:]) for i, p in rows if len(p) > 1 and p[0] == split]
            if not chosen:
                raise DataError(f"{where} has no {split}/ folder{what} (it has {', '.join(sorted(splits))}); choose --split {sorted(splits)[0]}.")
            return chosen
        if split != "train":
            raise DataError(f"{where} has no {split}/ folder{what}, so it holds no held-out pairs; "
                            "point --data-path at a folder of held-out pairs with --split train, or add a val/ folder.")
        return rows

    if {"A", "B"} <= tops:
        a = pick([(i, p[1:]) for i, p in enumerate(parts) if len(p) > 1 and p[0] == "A"], " in A/")
        b = pick([(i, p[1:]) for i, p in enumerate(parts) if len(p) > 1 and p[0] == "B"], " in B/")

        def by_name(rows):
            out: dict[str, list[int]] = {}
            for i, p in rows:
                out.setdefault(str(PurePosixPath(*p).with_suffix("")), []).append(i)
            return out

        na, nb = by_name(a), by_name(b)
        # A name that occurs twice on one side (x.jpg and x.png) has no single partner.
        keys = sorted(k for k in na.keys() & nb.keys() if len(na[k]) == len(nb[k]) == 1)
        return [("ab", na[k][0], nb[k][0]) for k in keys], len(a) + len(b) - 2 * len(keys)
    rows = pick(list(enumerate(parts)), "")
    return [("aligned", i) for i, _ in rows], 0


@register_source(
    "paired",
    "image",
    "image pairs for pix2pix: A|B side by side (the reference's aligned format) or folders A/ and B/ with matching names; a folder or .zip",
    builtin=False,
    needs_path=True,
    tags=("paired",),
)
def load_paired(cfg: DataConfig) -> PairedData:
    path = stores.user_path(cfg)
    if path.is_dir():
        store = stores.DirStore(path)
        names, skipped = stores.list_dir(path)
        paths = names
    elif path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        store = stores.ZipStore(path)
        names, skipped = stores.list_zip(store), 0
        paths = [m.filename for m in names]
    else:
        raise DataError(f"{path} is neither a folder nor a .zip file; point --data-path at a folder or .zip of image pairs.")
    layout, unmatched = _layout(paths, cfg.split, str(path))
    if not layout:
        raise DataError(f"{path} holds no image pairs; give A|B side-by-side images (pix2pix's aligned format) "
                        "or folders A/ and B/ whose files have matching names.")
    entries = [(e[0], *(names[i] for i in e[1:])) for e in layout]
    if cfg.limit is not None:
        entries = entries[: cfg.limit]
    crop, size = cfg.image_size, load_size(cfg.image_size)
    swap = cfg.direction == "BtoA"
    what = "A|B images" if entries[0][0] == "aligned" else "A/ and B/ pairs"
    common = dict(crop=crop, description=f"{len(entries)} {what} from {path} ({cfg.split}, {cfg.direction})")
    eager = len(entries) <= stores.EAGER_LIMIT and len(entries) * 6 * size * size <= EAGER_BYTES
    if eager:
        pairs = stores.parallel(lambda e: _decode_pair(store, e, size, cfg.channels), entries)
        store.close()
        keep = [i for i, p in enumerate(pairs) if p is not None]
    else:
        modes = stores.parallel(lambda e: _modes(store, e), entries)
        keep = [i for i, m in enumerate(modes) if m is not None]
    if not keep:
        files = [n for e in entries[:20] for n in e[1:]]
        reason = stores.over_limit(store, files)
        if reason:
            raise DataError(f"None of the {len(entries)} image pairs in {path} can be used: {reason}")
        raise DataError(f"None of the {len(entries)} image pairs in {path} could be read; check that they are valid, complete images.")
    skipped += unmatched + len(entries) - len(keep)
    if eager:
        channels = cfg.channels or max(pairs[i][0].shape[0] for i in keep)
        a = torch.stack([convert_channels(pairs[i][0], channels) for i in keep])
        b = torch.stack([convert_channels(pairs[i][1], channels) for i in keep])
        src, tgt = (b, a) if swap else (a, b)
        return PairedData("paired", "image", (channels, crop, crop), tensors={"source": src, "target": tgt},
                          skipped=skipped, source_channels=channels, **common)
    channels = cfg.channels or max(native_channels(m) for i in keep for m in modes[i])
    dataset = _PairFileDataset(store, [entries[i] for i in keep], size, channels, swap)
    return PairedData("paired", "image", (channels, crop, crop), dataset=dataset, skipped=skipped, source_channels=channels, **common)


def load_pairs(cfg: DataConfig) -> PairedData:
    """The pairs ``cfg`` asks for: from disk (``--data paired``) or derived (``--pairs``)."""
    source = SOURCES.get(cfg.name)
    if cfg.pairs is not None:
        if "paired" in source.tags:
            raise ConfigError(f"--pairs derives pairs from single images, and {cfg.name!r} already holds pairs; leave --pairs unset.")
        return _derived(cfg, source)
    if "paired" not in source.tags:
        raise ConfigError(f"Data source {cfg.name!r} holds single images, not pairs; add --pairs {', '.join(DERIVED_KINDS[:-1])} or {DERIVED_KINDS[-1]}, or use --data paired.")
    return source.load(cfg)


def is_paired(cfg: DataConfig) -> bool:
    return cfg.pairs is not None or "paired" in SOURCES.get(cfg.name).tags


def batch_stream(data: GanData, batch_size: int, seed: int, device: torch.device, start_batch: int = 0, workers: int = 0,
                 shard: tuple[int, int] = (0, 1)) -> BatchStream:
    cls = PairedBatchStream if isinstance(data, PairedData) else BatchStream
    return cls(data, batch_size, seed, device, start_batch=start_batch, workers=workers, shard=shard)


__all__ = [
    "DERIVED_KINDS",
    "FROM_FILES",
    "PAIR_KINDS",
    "PairKind",
    "PairedBatchStream",
    "PairedData",
    "batch_stream",
    "bicubic_resize",
    "degrade",
    "derive",
    "derived_kind",
    "enlarge_factor",
    "is_paired",
    "load_pairs",
    "load_size",
    "mask_box",
    "source_channels",
    "to_grey",
]
