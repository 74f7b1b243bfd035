"""Translating images with a pix2pix checkpoint: any size and aspect, returned at its own size.

Everything here takes and returns numpy (uint8 (H, W, C) images, float32 (H, W) maps),
so pages never touch torch. ``translate_picture`` is what the Pix2Pix page and the
``translate`` command both call: A|B pairs, the "as trained" scale, the derived input,
the error against the target and the realism map, in one ``Translation``. Images a visitor sends come through
``untrusted.read_image`` first (limits before decoding, EXIF rotation, alpha on white).

Any size: the U-Net of depth d needs sides that are multiples of 2^d. An image up to
``TILE`` (512) pixels a side is reflect-padded to the next multiple and translated in
one pass, then cropped back: never squashed. A larger one is cut into TILE x TILE
tiles that overlap by at least ``OVERLAP`` pixels; each tile's output is weighted by a
ramp that falls to zero towards a neighbour's side, and the weighted outputs are
averaged, so no seam shows. BatchNorm runs on its training statistics (eval mode),
the same for every tile, so tiles agree wherever the network sees the same pixels.
Tiles are done one row of tiles at a time and only one row's sums are held, so
memory stays bounded (a few tens of MB beyond the image itself) whatever the size.
A super-resolution model sees the picture with a mirrored margin (``PairKind.margin``),
so its edges are restored from a reflection rather than from zero padding.

Dropout is off at inference (eval mode): a given image always gives the same output.
The paper keeps it on as a noise source; here a reproducible answer matters more.

A Lab colouriser (the ``lab`` pair kind, ``Translator.lab``) predicts only a grey
picture's a*b* and keeps its lightness, and says how sure it is: ``colourise`` runs it
``PASSES`` times with dropout on (the paper's own test-time noise) and on the mirrored
picture, and each pixel's colour is shrunk by the passes' agreement,
|m|^2 / (|m|^2 + var) (a Wiener gain: the mean colour m as the signal, the spread
between passes as the noise; Gal and Ghahramani 2016 read that spread as the model's
uncertainty). Where the passes disagree, the colour fades to grey. A ``strength``
(0: the grey input itself, 1: the model's colour) scales what is left; its default is
the one the model's file carries, chosen on the validation photographs
(benchmarks/colour_eval.py). The passes' dropout masks are seeded, so a given picture
always gives the same output.

The realism map is the PatchGAN's verdict on (source, image), one sigmoid per 70 x 70
patch, upsampled to the image. It needs the discriminator, so pix2pix exports keep it
(``checkpoints.export_generator``); a file without it simply has no realism map
(``Translator.has_discriminator``). D runs in eval mode here, as G does, while in
training it ran in train mode: a batch-norm D then normalised each batch by its own
statistics, and here by its running averages, so the map is D's verdict under a
slightly different normalisation than the one its training loss saw (a guide to
where the output looks wrong, not that loss's number). Train mode here would instead
normalise each tile by itself, so tiles would disagree. With ``--norm instance``
the two modes are the same.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import budget, checkpoints
from .data.builtin import TILE_SCALES
from .data.paired import PAIR_KINDS, bicubic_resize, derive, enlarge_factor, source_channels, to_grey
from .errors import CheckpointError, ConfigError, DataError
from .inference import Generator, cached_loader, generator_from
from .recipes import RECIPES
from .untrusted import MAX_IMAGE_PIXELS

TILE = 512  # tile side, and the largest side translated in one pass
_BAND_PIXELS = 1 << 20  # pixels per band of the error map and the heat map (about 30 MB of float64 colours)
OVERLAP = 64  # least overlap between neighbouring tiles


@dataclass
class Translator:
    """A pix2pix generator (and its discriminator, if the file has it) ready to translate."""

    gen: Generator
    discriminator: torch.nn.Module | None

    @property
    def path(self) -> Path:
        return self.gen.path

    @property
    def pairs(self) -> str | None:
        """How the training sources were derived (edges, grey, blur, mask), or None for pairs from disk."""
        return self.gen.config.data.pairs

    @property
    def direction(self) -> str:
        """AtoB or BtoA: which half of an uploaded A|B pair is the source (``split_pair``)."""
        return self.gen.config.data.direction

    @property
    def target_channels(self) -> int:
        return self.gen.data.shape[0]

    @property
    def source_channels(self) -> int:
        return source_channels(self.pairs, self.target_channels)

    @property
    def multiple(self) -> int:
        """Sides are padded to a multiple of this: 2^depth of the U-Net."""
        return 2**self.gen.model.depth

    @property
    def enlarge(self) -> int:
        """How many times this model enlarges a picture: 4 for sr4 (``translate_picture(enlarge=4)``), else 1."""
        return enlarge_factor(self.pairs)

    @property
    def margin(self) -> int:
        """Reflected pixels seen around a picture (``_tiled``): 8 for super-resolution, else 0 (``PairKind.margin``)."""
        kind = PAIR_KINDS.get(self.pairs) if self.pairs else None
        return kind.margin if kind is not None else 0

    @property
    def lab(self) -> bool:
        """A Lab colouriser: it predicts a grey picture's a*b* and keeps its lightness (``colourise``)."""
        return bool(getattr(self.gen.model, "lab", False))

    @property
    def default_strength(self) -> float | None:
        """A Lab colouriser's colour strength unless told otherwise (chosen on validation photographs), else None."""
        return float(self.gen.model.default_strength) if self.lab else None

    def strength(self, strength: float | None) -> float | None:
        """``strength`` checked (0 to 1), or the default; refused in one sentence for a model without one."""
        if strength is None:
            return self.default_strength
        if not self.lab:
            raise ConfigError(f"{self.path.name} is not a Lab colouriser, so it has no colour strength; leave the strength unset.")
        if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0 <= strength <= 1):
            raise ConfigError(f"The colour strength must be a number from 0 (the grey input) to 1 (the model's colour), not {str(strength)[:40]!r}.")
        return float(strength)

    @property
    def has_discriminator(self) -> bool:
        return self.discriminator is not None

    def describe(self) -> str:
        c = self.gen.config
        what = f"{c.data.pairs} -> image pairs of {c.data.name}" if c.data.pairs else f"pairs from {c.data.name} ({c.data.direction})"
        return f"pix2pix ({c.model.arch}, {c.data.image_size} px crops) on {what}, step {self.gen.step}"


def translator_from(ckpt: checkpoints.Checkpoint) -> Translator:
    """A translator from a parsed checkpoint. The generator goes through
    ``inference.generator_from`` (shapes proven on the meta device before anything is
    allocated); the discriminator, when the file has one, gets the same check here."""
    name = ckpt.path.name
    try:
        recipe = RECIPES.get(ckpt.config.recipe)
    except ConfigError:
        recipe = None
    if recipe is not None and not recipe.paired:
        raise CheckpointError(f"{name} is a {ckpt.config.recipe} generator, which makes images from noise rather than "
                              "translating them; choose a pix2pix checkpoint.")
    gen = generator_from(ckpt)
    if getattr(gen.model, "lab", False):  # the page's slider and every translation start from the file's default strength
        s = float(gen.model.default_strength)
        if not (math.isfinite(s) and 0 <= s <= 1):
            raise CheckpointError(f"{name} carries a default colour strength of {s:.3g}, outside 0 to 1, which this "
                                  "workbench never saves; use the checkpoint as benchmarks/colour_eval.py --write left it.")
    tensors = ckpt.part("discriminator")
    D = None
    if tensors:
        with torch.device("meta"):
            _, layout = recipe.build(ckpt.config, ckpt.data)
        expected = layout.state_dict()
        if set(expected) != set(tensors) or any(tuple(tensors[k].shape) != tuple(v.shape) or tensors[k].dtype != v.dtype
                                                for k, v in expected.items()):
            raise CheckpointError(f"{name} holds a discriminator that does not fit recipe {ckpt.config.recipe!r} as its metadata "
                                  "describes it; use the checkpoint as the workbench wrote it (python -m gan_core export).")
        D = layout.to_empty(device="cpu")  # every parameter and buffer is then overwritten by the file's
        checkpoints.load_into(D, tensors, "discriminator", ckpt)
        D.eval()
    return Translator(gen, D)


def load_translator(path: str | Path) -> Translator:
    return translator_from(checkpoints.read(path))


cached_translator = cached_loader(load_translator, maxsize=4)


# ----------------------------------------------------------------------------- images


def _hwc(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise DataError("An image must be a uint8 array of height x width x 1, 3 or 4 channels; read it with untrusted.read_image.")
    return image[..., :3] if image.shape[2] == 4 else image


def as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (H, W, 1 or 3) -> (H, W, channels): grey repeated, or colour to luminance."""
    image = _hwc(image)
    if image.shape[2] == channels:
        return image
    return np.repeat(image, 3, axis=2) if channels == 3 else to_grey(image)


def source_for(tr: Translator, image: np.ndarray) -> np.ndarray:
    """What the generator takes for ``image``: for a model trained on derived pairs, the
    same derivation as in training (its edge map, grey version, blurred or masked copy);
    otherwise the image itself in the model's source channels."""
    image = _hwc(image)
    if tr.pairs is not None:
        image = derive(tr.pairs, as_channels(image, tr.target_channels))
    return as_channels(image, tr.source_channels)


# Photographs to try a translator on at once (no download): the three held-out ones
# (scikit-learn's and matplotlib's, which no shipped model trained on) first, then
# scikit-image's. "astronaut-face" is the astronaut's face cropped about as tightly as
# the LFW faces (forehead to chin).
SAMPLE_PHOTOS = ("china", "flower", "grace_hopper", "astronaut", "astronaut-face", "coffee", "chelsea")
_SAMPLE_CROPS = {"astronaut-face": ("astronaut", (slice(55, 175), slice(175, 295)))}
_HELD_OUT_SAMPLES = {"china": "china.jpg", "flower": "flower.jpg", "grace_hopper": "grace_hopper.jpg"}


def sample_photo(name: str) -> np.ndarray:
    """One of ``SAMPLE_PHOTOS`` as uint8 (H, W, 3)."""
    if name not in SAMPLE_PHOTOS:
        raise ConfigError(f"There is no sample photo {name!r}; use one of: {', '.join(SAMPLE_PHOTOS)}.")
    if name in _HELD_OUT_SAMPLES:
        from .data.builtin import held_out_photos

        return np.array(held_out_photos()[_HELD_OUT_SAMPLES[name]], dtype=np.uint8)
    import skimage.data

    source, crop = _SAMPLE_CROPS.get(name, (name, (slice(None), slice(None))))
    return np.ascontiguousarray(getattr(skimage.data, source)()[crop], dtype=np.uint8)


def sample_seen(tr: Translator, name: str) -> bool | None:
    """Whether sample photograph ``name`` (or the photograph it is cut from) was among
    ``tr``'s training pictures: True, False, or None when its training data are a
    folder or file this cannot look into."""
    from .data import builtin

    photo = _SAMPLE_CROPS.get(name, (name, None))[0]
    data = tr.gen.config.data
    if data.name == "photos":
        return photo in builtin._PHOTOS and data.split == "train"
    if data.name == "colour-photos":
        return photo in builtin.colour_photos(data.split)
    return False if data.name in ("faces-lfw", "mnist-5k") else None


def trained_on(tr: Translator) -> str:
    """What ``tr`` learned from, in words: the photographs its tiles were cut from, or its data source's description."""
    from .data.base import SOURCES

    from .data import builtin

    data = tr.gen.config.data
    if data.name in ("photos", "colour-photos") and data.split == "train":
        names = builtin._PHOTOS if data.name == "photos" else tuple(builtin.colour_photos("train"))
        return f"tiles of {len(names)} photographs ({', '.join(n.replace('_', ' ') for n in names)})"
    try:
        return f"{SOURCES.get(data.name).description} ({data.name})"
    except ConfigError:
        return data.name


def samples_in_order(tr: Translator) -> list[str]:
    """``SAMPLE_PHOTOS`` with the ones ``tr`` never saw in training first."""
    return sorted(SAMPLE_PHOTOS, key=lambda n: sample_seen(tr, n) is not False)


def training_scale(tr: Translator, width: int, height: int) -> float:
    """The scale (at most 1) at which a whole picture of ``width`` x ``height`` is about
    as large as the pictures the model learned from (1 for a super-resolution model,
    which works at the picture's own size): a short side of one training crop,
    or for the ``photos`` source 3 crops (its tiles cut each photo at 2, 3 and 4 a
    short side). A model trained on 64 px faces then sees a face photo at 64 px, as one
    crop: the U-Net's innermost level is then 1 x 1 as in training. (At the 1.12-crop
    load size instead, a 32 px model's input was padded up to 64 px, and what it made
    of a face was noise.)"""

    data = tr.gen.config.data
    if tr.enlarge > 1:
        return 1.0  # a super-resolution model restores detail pixel for pixel: at the picture's own size
    tiled = data.name in ("photos", "colour-photos")  # sources cut into tiles at TILE_SCALES
    short = data.image_size * (sorted(TILE_SCALES)[len(TILE_SCALES) // 2] if tiled else 1)
    return min(1.0, short / max(1, min(width, height)))


def split_pair(image: np.ndarray, direction: str = "AtoB", name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An A|B side-by-side image -> (source, target) for ``direction`` (the reference's
    aligned format: A is the left half; an odd last column belongs to neither).
    ``name``, if given, names the picture in the refusal."""
    image = _hwc(image)
    h, w = image.shape[:2]
    if w < 16 or h < 8:
        raise DataError(f"An A|B pair must be two images side by side, and {name or 'this one'} is only {w} x {h} pixels; "
                        "use a wider image, or translate it as a single picture.")
    half = w // 2
    a, b = image[:, :half], image[:, half : 2 * half]
    return (b, a) if direction == "BtoA" else (a, b)


def _spans(length: int, tile: int, multiple: int, overlap: int) -> tuple[list[int], int]:
    """Start of each tile along one side, and the tile's length there (a multiple of ``multiple``)."""
    if length <= tile:
        return [0], math.ceil(length / multiple) * multiple
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)], tile


def _ramp(starts: list[int], size: int, length: int, index: int) -> np.ndarray:
    """Weights along one side of tile ``index``: rising across the overlap with the tile
    before, falling across the overlap with the tile after, 1 elsewhere (and at image borders)."""
    lo, hi = starts[index], min(starts[index] + size, length)
    x = np.arange(lo, hi, dtype=np.float32) + 0.5
    w = np.ones(hi - lo, dtype=np.float32)
    if index > 0:
        prev_end = starts[index - 1] + size
        w = np.minimum(w, np.clip((x - lo) / max(prev_end - lo, 1), 0, 1))
    if index + 1 < len(starts):
        nxt = starts[index + 1]
        w = np.minimum(w, np.clip((hi - x) / max(hi - nxt, 1), 0, 1))
    return w


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Indices into a side of ``n`` pixels reflected at its ends as numpy's "reflect"
    padding does (the edge pixel not repeated), for indices as far out as you like."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    index = np.abs(index) % period
    return np.where(index >= n, period - index, index)


def _tiled(fn: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray, out_channels: int, multiple: int,
           write: Callable[[int, np.ndarray], None], tile: int = TILE, overlap: int = OVERLAP,
           progress: Callable[[float], None] | None = None, margin: int = 0) -> None:
    """Apply ``fn`` ((1, C, h, w) in [-1, 1] -> (1, out_channels, h, w)) to ``image``
    (uint8 (H, W, C)) tile by tile, blending overlaps; ``write(top, rows)`` receives the
    finished rows of float32 output, top to bottom, each row of tiles as soon as it is done.

    ``margin``: the picture is seen with that many reflected pixels around it (a mirror
    at its edges, not the network's zero padding), tiled as one larger picture, and only
    the picture's own pixels are written. No padded copy is made: each tile gathers its
    pixels through mirrored indices, so memory is what it was without the margin."""
    h, w = image.shape[:2]
    tile = max(tile, multiple)
    overlap = min(overlap, tile // 2)
    m = max(0, int(margin))
    H, W = h + 2 * m, w + 2 * m  # the picture with its margin, which the tiles cover
    ys, th = _spans(H, tile, multiple, overlap)
    xs, tw = _spans(W, tile, multiple, overlap)
    wx = [_ramp(xs, tw, W, j) for j in range(len(xs))]
    band_h = min(th, H)
    acc = np.zeros((band_h, W, out_channels), dtype=np.float32)
    weight = np.zeros((band_h, W, 1), dtype=np.float32)

    def emit(top: int, rows: np.ndarray) -> None:  # rows of the picture with its margin -> the picture's own
        lo, hi = max(top, m), min(top + len(rows), m + h)
        if hi > lo:
            write(lo - m, rows[lo - top : hi - top, m : m + w])

    done, total = 0, len(ys) * len(xs)
    for i, top in enumerate(ys):
        wy = _ramp(ys, th, H, i)
        for j, left in enumerate(xs):
            if m:
                rows, cols = np.arange(top, min(top + th, H)) - m, np.arange(left, min(left + tw, W)) - m
                crop = image[np.ix_(_mirror(rows, h), _mirror(cols, w))]
            else:
                crop = image[top : top + th, left : left + tw]
            ch, cw = crop.shape[:2]
            pt, pl = (th - ch) // 2, (tw - cw) // 2
            if (ch, cw) != (th, tw):  # reflect-pad up to the tile's multiple, centred
                crop = np.pad(crop, ((pt, th - ch - pt), (pl, tw - cw - pl), (0, 0)), mode="reflect")
            x = torch.from_numpy(np.array(crop.transpose(2, 0, 1)))[None].float().div_(127.5).sub_(1.0)  # a copy: crops of read-only pictures too
            with torch.inference_mode():
                y = fn(x)[0, :, pt : pt + ch, pl : pl + cw].float().permute(1, 2, 0).numpy()
            wt = wy[:, None, None] * wx[j][None, :, None]
            acc[:ch, left : left + cw] += y * wt
            weight[:ch, left : left + cw] += wt
            done += 1
            if progress is not None:
                progress(done / total)
        last = i + 1 == len(ys)
        finished = (H - top) if last else ys[i + 1] - top
        emit(top, acc[:finished] / np.maximum(weight[:finished], 1e-8))
        if not last:  # carry the rows the next row of tiles also covers
            carry = band_h - finished
            acc[:carry], weight[:carry] = acc[finished:].copy(), weight[finished:].copy()
            acc[carry:], weight[carry:] = 0, 0


PASSES = 4  # a Lab colouriser's passes per picture: 2 dropout masks, each on the picture and its mirror image
_PASS_SEED = 0x1AB


def colour_confidence(passes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, 2, H, W) a*b* of K passes -> (mean a*b* (2, H, W), confidence (1, H, W) in [0, 1]):
    the Wiener gain |m|^2 / (|m|^2 + var), 1 where the passes agree, towards 0 where
    they scatter as widely as the colour they agree on."""
    mean = passes.mean(dim=0)
    spread = (passes - mean).pow(2).sum(dim=1).mean(dim=0, keepdim=True)
    power = mean.pow(2).sum(dim=0, keepdim=True)
    return mean, power / (power + spread).clamp(min=1e-6)


def colourise(model: torch.nn.Module, grey: torch.Tensor, strength: float, passes: int = PASSES) -> torch.Tensor:
    """A Lab colouriser's colour for grey (1, 1, H, W) in [-1, 1]: a*b* (1, 2, H, W),
    strength x confidence x the passes' mean (``lab_compose`` puts it on the grey)."""
    flips = torch.arange(passes) % 2 == 1  # every other pass sees the mirror image
    batch = grey.expand(passes, -1, -1, -1).clone()
    batch[flips] = batch[flips].flip(-1)
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_PASS_SEED)  # the same masks for the same picture: reproducible
        for m in dropouts:
            m.train()
        try:
            ab = model.chroma(batch)
        finally:
            for m in dropouts:
                m.eval()
    ab[flips] = ab[flips].flip(-1)
    mean, confidence = colour_confidence(ab)
    return (strength * confidence * mean)[None]


def lab_colour(tr: Translator, source: np.ndarray, strength: float, tile: int = TILE, overlap: int = OVERLAP,
               progress: Callable[[float], None] | None = None) -> np.ndarray:
    """A Lab colouriser's a*b* for a grey source (uint8 (h, w, 1)): float32 (h, w, 2)."""
    h, w = source.shape[:2]
    ab = np.empty((h, w, 2), dtype=np.float32)

    def write(top, rows):
        ab[top : top + len(rows)] = rows

    _tiled(lambda x: colourise(tr.gen.model, x, strength), source, 2, tr.multiple, write, tile, overlap, progress)
    # No colour cast over the whole picture: its mean a*b* is taken out, so only the colour
    # differences the model sees between regions stay (the grey-world assumption). Trained
    # on ten warm photographs, the model tints everything it is unsure of the same warm
    # way; on the validation sky (rocket) that cast alone cost 1 dB at strength 0.1
    # (docs/BENCHMARKS.md, "The Lab colouriser"). Over the whole picture, not per tile,
    # so tiles stay seamless.
    ab -= ab.reshape(-1, 2).mean(axis=0)
    return ab


def _bilinear(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of a bilinear resize along one side (half-pixel centres, edges clamped)."""
    x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(x).astype(np.int64)
    return lo, np.minimum(lo + 1, n_in - 1), (x - lo).astype(np.float32)


def lab_picture(grey: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """A grey picture (uint8 (H, W, 1)) with a*b* (float32 (h, w, 2), at any smaller size:
    resized bilinearly) -> uint8 (H, W, 3) with the grey picture's own lightness. Done in
    bands of rows, so memory stays bounded; where ab is 0 the pixel is the grey one."""
    from .models.pix2pix import lab_compose

    grey = _hwc(grey)[..., :1]
    h, w = grey.shape[:2]
    y0, y1, wy = _bilinear(h, ab.shape[0])
    x0, x1, wx = _bilinear(w, ab.shape[1])
    out = np.empty((h, w, 3), dtype=np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, w))
    for top in range(0, h, rows):
        band = slice(top, min(h, top + rows))
        v = wy[band, None, None]
        r = ab[y0[band]] * (1 - v) + ab[y1[band]] * v  # (rows, w_ab, 2)
        r = r[:, x0] * (1 - wx[None, :, None]) + r[:, x1] * wx[None, :, None]  # (rows, W, 2)
        g = torch.from_numpy(np.ascontiguousarray(grey[band].transpose(2, 0, 1)))[None].float().div_(127.5).sub_(1.0)
        with torch.inference_mode():
            rgb = lab_compose(g, torch.from_numpy(np.ascontiguousarray(r.transpose(2, 0, 1)))[None])
        out[band] = np.clip(np.rint((rgb[0].permute(1, 2, 0).numpy() + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return out


def translate(tr: Translator, source: np.ndarray, tile: int = TILE, overlap: int = OVERLAP,
              progress: Callable[[float], None] | None = None, strength: float | None = None) -> np.ndarray:
    """The generator's output for ``source`` (uint8 (H, W, C), as from ``source_for``):
    uint8 (H, W, target channels), the same height and width, any size and aspect.
    ``strength``: a Lab colouriser's colour strength (``Translator.strength``; None: its default)."""
    source = as_channels(source, tr.source_channels)
    h, w = source.shape[:2]
    out = np.empty((h, w, tr.target_channels), dtype=np.uint8)

    def write(top, rows):
        out[top : top + len(rows)] = np.clip(np.rint((rows + 1.0) * 127.5), 0, 255).astype(np.uint8)

    if tr.lab:
        s = tr.strength(strength)
        if s == 0:
            return np.repeat(source, 3, axis=2)  # the grey input itself, exactly
        return lab_picture(source, lab_colour(tr, source, s, tile, overlap, progress))
    tr.strength(strength)  # None, or refused in one sentence
    _tiled(tr.gen.model, source, tr.target_channels, tr.multiple, write, tile, overlap, progress, margin=tr.margin)
    return out


@dataclass(frozen=True, eq=False)
class Translation:
    """One picture through a translator. Images are uint8 (H, W, C) and maps float32
    (H, W) in [0, 1], all at the picture's own height and width, whatever it was
    translated at."""

    picture: np.ndarray  # what was translated: the picture, or an A|B pair's source half
    source: np.ndarray  # what the generator took: the derived input (edge map, grey...) or the picture in its source channels
    output: np.ndarray  # the translation, in the model's target channels
    derived: bool  # ``source`` was derived from the picture, as in training (else the picture is the source)
    target: np.ndarray | None = None  # what the output should be: a pair's other half, or the picture a source was derived from
    error: np.ndarray | None = None  # L1 between output and target per pixel (0: equal, 1: black against white)
    realism: np.ndarray | None = None  # the PatchGAN's belief that each patch of the output is real (1: looks real)
    work_size: tuple[int, int] | None = None  # (width, height) it was translated at, when not the picture's own

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the picture, and of every image and map here."""
        return self.picture.shape[1], self.picture.shape[0]

    @property
    def mean_error(self) -> float | None:
        return None if self.error is None else float(self.error.mean())

    @property
    def mean_realism(self) -> float | None:
        return None if self.realism is None else float(self.realism.mean())


def translate_image(tr: Translator, image: np.ndarray, scale: float = 1.0, derive_source: bool = True,
                    progress: Callable[[float], None] | None = None, tile: int | None = None,
                    strength: float | None = None) -> Translation:
    """Translate a picture as a user means it: for derived-pair models the source is
    derived from it first (unless ``derive_source`` is False: the image already is a
    source, e.g. a hand-drawn edge map). ``scale`` < 1 works on a smaller copy, closer
    to the scale of the training crops, and returns both images at the original size.
    ``strength``: a Lab colouriser's colour strength (None: its default).
    No target, error or realism map: ``translate_picture`` adds those."""
    image = _hwc(image)
    h, w = image.shape[:2]
    if not (math.isfinite(scale) and 0 < scale <= 4):
        raise ConfigError(f"The scale must be above 0 and at most 4, not {scale}.")
    work = image
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    if (sw, sh) != (w, h):
        if sw * sh > MAX_IMAGE_PIXELS:
            raise ConfigError(f"Scaling {w} x {h} pixels by {scale} exceeds the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; use a smaller scale.")
    if tile is None:  # called directly: the budget of this translation alone (translate_picture checks its own)
        tile = budget_tile(tr, h, w, image.shape[2], sh, sw, target=False, realism=False,
                           derived=derive_source and tr.pairs is not None)
    if (sw, sh) != (w, h):
        work = _resize(image, sw, sh)
    derived = derive_source and tr.pairs is not None
    source = source_for(tr, work) if derived else as_channels(work, tr.source_channels)
    if tr.lab and (sw, sh) != (w, h):
        # The colour is worked out at the training scale and laid on the full-size grey
        # picture: its lightness and detail stay the picture's own at every scale.
        s = tr.strength(strength)
        full = source_for(tr, image) if derived else as_channels(image, 1)
        output = np.repeat(full, 3, axis=2) if s == 0 else lab_picture(full, lab_colour(tr, source, s, tile=tile, progress=progress))
        return Translation(picture=image, source=full, output=output, derived=derived, work_size=(sw, sh))
    output = translate(tr, source, tile=tile, progress=progress, strength=strength)
    if (sw, sh) != (w, h):
        source, output = _resize(source, w, h), _resize(output, w, h)
    return Translation(picture=image, source=source, output=output, derived=derived,
                       work_size=None if (sw, sh) == (w, h) else (sw, sh))


# The scales a picture can be translated at, as the Pix2Pix page's menu and the
# translate command offer them: AS_TRAINED first, the default of both.
AS_TRAINED = "as trained"
SCALES: tuple[str | float, ...] = (AS_TRAINED, 1.0, 0.5, 0.25, 0.125)
_SCALE_WORDS = {"as trained": AS_TRAINED, "as-trained": AS_TRAINED, "full": 1.0}


def parse_scale(text: str | float) -> str | float:
    """A scale as a person writes it: "as-trained" (or "as trained"), "full", or a
    factor above 0 and at most 4 ("0.5": half size); AS_TRAINED or a float."""
    word = str(text).strip().lower()
    if word in _SCALE_WORDS:
        return _SCALE_WORDS[word]
    try:
        factor = float(word)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and 0 < factor <= 4):
        raise ConfigError(f"The scale must be as-trained, full or a factor above 0 and at most 4 (0.5 is half size), not {str(text)[:40]!r}.")
    return factor


def require_discriminator(tr: Translator) -> None:
    """Refuse, in one sentence, a realism map from a checkpoint saved without its discriminator."""
    if tr.discriminator is None:
        raise CheckpointError(f"{tr.path.name} has no discriminator (it was exported without it), so it has no realism map; "
                              "use the run's own checkpoint or a pix2pix export.")


def check_enlarge(tr: Translator, width: int, height: int, enlarge: int, name: str | None = None) -> None:
    """Refuse, in one sentence and before anything is allocated, an enlargement the
    model does not make or whose output would pass ``MAX_IMAGE_PIXELS``."""
    if enlarge == 1:
        return
    if enlarge != tr.enlarge:
        if tr.enlarge == 1:
            raise ConfigError(f"{tr.path.name} was not trained to enlarge pictures; choose a super-resolution checkpoint, or leave the enlargement off.")
        raise ConfigError(f"{tr.path.name} enlarges pictures {tr.enlarge}x, not {enlarge}x; use {tr.enlarge}x or leave the enlargement off.")
    if width * height * enlarge * enlarge > MAX_IMAGE_PIXELS:
        shrink = math.sqrt(MAX_IMAGE_PIXELS / (width * height * enlarge * enlarge))
        fit_w, fit_h = max(1, math.floor(width * shrink)), max(1, math.floor(height * shrink))
        raise ConfigError(f"Enlarging {name or 'this picture'} ({width} x {height} pixels) {enlarge}x would make "
                          f"{width * height * enlarge * enlarge / 1e6:.0f} megapixels, over the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; "
                          f"use a picture of at most {fit_w} x {fit_h} pixels, or leave the enlargement off.")


def translate_picture(tr: Translator, picture: np.ndarray, *, pair: bool = False, scale: str | float = AS_TRAINED,
                      derive: bool = True, realism: bool = False, name: str | None = None, enlarge: int = 1,
                      strength: float | None = None, progress: Callable[[float], None] | None = None) -> Translation:
    """Translate one picture (uint8 (H, W, C), as from ``untrusted.read_image``) the way the
    Pix2Pix page and ``python -m gan_core translate`` both do.

    ``pair``: the picture is an A|B pair, split by the model's direction; its source
    half is taken as it is and the other half is the target. ``scale``: AS_TRAINED
    (the picture made about as large as the training pictures, ``training_scale``) or a
    factor; the results come back at the picture's size either way. ``derive`` False:
    the picture already is a source (an edge map drawn by hand). A model trained on
    derived pairs that derives its source from the picture gets the picture as its
    target, so the error says how well it gives the picture back. ``realism``: add the
    discriminator's map (refused in one sentence for a file without one). ``name``
    (safe to show) names the picture in a refusal. ``enlarge`` (a super-resolution
    model's factor, ``Translator.enlarge``): the picture is enlarged that many times by
    bicubic and the enlargement translated as it is (no derivation: it already is what
    the model restores), so the result is ``enlarge`` times the picture's size; the
    output's pixels are checked against the limit before anything is allocated.
    ``strength`` (a Lab colouriser's, 0 to 1; None: the default its file carries):
    0 gives the grey input back exactly, 1 the model's colour where it is sure.
    Raises GanError (one sentence) for what cannot be translated."""
    if realism:
        require_discriminator(tr)  # before the work, not after it
    tr.strength(strength)  # refused before the work
    picture = _hwc(picture)
    tile = _picture_budget(tr, picture, pair=pair, scale=scale, derive=derive, realism=realism, enlarge=enlarge, name=name)
    target = None
    if enlarge != 1:
        if pair:
            raise ConfigError("An A|B pair cannot be enlarged; translate pairs at their own size.")
        check_enlarge(tr, picture.shape[1], picture.shape[0], enlarge, name)
        picture = bicubic_resize(picture, picture.shape[1] * enlarge, picture.shape[0] * enlarge)
        derive = False
    if pair:
        picture, target = split_pair(picture, tr.direction, name)
    h, w = picture.shape[:2]
    scale = parse_scale(scale)
    factor = training_scale(tr, w, h) if scale == AS_TRAINED else scale
    result = translate_image(tr, picture, scale=factor, derive_source=derive and not pair, progress=progress, tile=tile,
                             strength=strength)
    if target is None and result.derived and picture.shape[2] >= tr.target_channels:
        target = as_channels(picture, tr.target_channels)  # a grey picture cannot be the target of a colour model
    return dataclasses.replace(
        result, target=target,
        error=None if target is None else l1_error_map(result.output, target),
        realism=realism_map(tr, result.source, result.output, tile=tile) if realism else None,
    )


# ----------------------------------------------------------------------------- the budget


def unet_shape(tr: Translator) -> budget.UNetShape:
    from .models.pix2pix import patch_layers

    c = tr.gen.config
    # A Lab colouriser runs PASSES pictures at once (``colourise``): activations grow with
    # the batch as they grow with the width, so its shape is counted as PASSES times as wide.
    width = int(c.model.width or 1) * (PASSES if tr.lab else 1)
    return budget.UNetShape(tr.source_channels, tr.target_channels, tr.gen.model.depth, width,
                            skips=c.model.arch != "encoder-decoder", patch_layers=patch_layers(c.data.image_size))


def _derive_bytes(pairs: str | None, pixels: int) -> int:
    """Deriving a source from ``pixels`` pixels (data/paired.derive): grey converts the
    whole picture through float32; edges and blur work in float bands of about 4 MP
    (Canny's float64 arrays measured at about 48 bytes a pixel); a mask copies it."""
    if pairs in ("grey", "lab"):
        return pixels * 20
    if pairs in ("edges", "blur"):
        return min(pixels, (1 << 22) + (1 << 20)) * 48
    return pixels * 3 if pairs else 0


def budget_tile(tr: Translator, h: int, w: int, channels: int, sh: int, sw: int, *, target: bool, realism: bool,
                name: str | None = None, extra: int = 0, derived: bool = False, pair: bool = False, enlarge: int = 1) -> int:
    """The tile side a picture of ``w`` x ``h`` translated at ``sw`` x ``sh`` is done with
    (``TILE``, or smaller when one tile's model peak would not fit beside the full-size
    results: the fall-back to tiles), or a refusal in one sentence (``budget.BudgetError``)
    naming the picture, its cost and this server's budget per request. Nothing is
    allocated here: ``budget.translation_peak`` is arithmetic over the sizes."""
    u, limit = unet_shape(tr), budget.limit()
    ct = tr.target_channels  # a target in other channels is a copy (grey: through float32, about 20 bytes a pixel)

    def need(tile: int, with_realism: bool, k: float = 1.0) -> int:
        """The peak for this request, or for the same one with a picture ``k`` times as wide and high."""
        hk, wk, shk, swk = (h, w, sh, sw) if k == 1.0 else (max(1, round(v * k)) for v in (h, w, sh, sw))
        copy = 0 if not target or pair or channels == ct else hk * wk * ct
        return round(extra * k * k) + budget.translation_peak(  # ``extra`` (decoding, an enlarged copy) grows with the pixels
            height=hk, width=wk, channels=channels, work_height=shk, work_width=swk, u=u, tile=tile, target=copy,
            convert=copy * 20 if channels > ct else copy, error=target, realism=with_realism,
            derive=_derive_bytes(tr.pairs, shk * swk) if derived else 0)

    full = need(TILE, realism)
    if full <= limit:
        return TILE
    smallest = TILE // 8
    for tile in (TILE // 2, TILE // 4, smallest):  # the fall-back to smaller tiles
        if tile >= tr.multiple and need(tile, realism) <= limit:
            return tile
    if realism and need(smallest, False) <= limit:
        fix = "leave the realism map off, or send a smaller picture"
    else:
        # The largest picture of this shape that would be taken, by bisection over the same
        # arithmetic (the smallest tile needs least), in megapixels as the visitor sends it.
        lo, hi = 0.0, 1.0
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if need(max(smallest, tr.multiple), False, mid) <= limit else (lo, mid)
        fits = math.floor(h * w * lo * lo / (enlarge * enlarge) / 1e5) / 10  # rounded down: the advice is always taken
        side_w, side_h = math.floor(w * lo / enlarge), math.floor(h * lo / enlarge)
        if fits >= 0.1:
            fix = f"send a picture of at most about {fits:.1f} megapixels"
        elif min(side_w, side_h) >= 16:
            fix = f"send a picture of at most about {side_w:,} × {side_h:,} pixels"
        else:
            fix = "use a smaller model on this server"
    what = f"Translating {name or 'this picture'} ({w:,} × {h:,} pixels{', with the realism map' if realism else ''})"
    if enlarge != 1:
        what = (f"Enlarging {name or 'this picture'} ({w // enlarge:,} × {h // enlarge:,} pixels) {enlarge}x"
                f"{' with the realism map' if realism else ''}")
    raise budget.refuse(what, full, fix, limit)


# Decoding: Pillow holds a decoded colour picture at 4 bytes a pixel while it is copied
# into the uint8 array that translation_peak counts as the picture itself.
DECODE_BYTES_PER_PIXEL = 4


def check_picture_size(tr: Translator, width: int, height: int, channels: int, *, name: str | None = None,
                       pair: bool = False, scale: str | float = AS_TRAINED, derive: bool = True, realism: bool = False,
                       enlarge: int = 1, **_other) -> None:
    """``translate_picture``'s budget check from a picture's header alone, decoding
    counted too: called by ``untrusted.read_image`` before a pixel is decoded, so a
    48-megapixel photo that the server cannot afford is refused in one sentence before
    it costs the ~340 MB its decoding takes (issue #17: three of them took a demo server
    from 960 MB to 1.38 GB before their translations were refused)."""
    _picture_budget(tr, (height, width, channels), pair=pair, scale=scale, derive=derive, realism=realism,
                    enlarge=enlarge, name=name, decode=DECODE_BYTES_PER_PIXEL * width * height)


def _picture_budget(tr: Translator, picture: np.ndarray | tuple[int, int, int], *, pair: bool, scale, derive: bool,
                    realism: bool, enlarge: int, name: str | None, decode: int = 0) -> int:
    """``budget_tile`` for ``translate_picture``'s request, from the sizes alone (a
    picture, or its (height, width, channels) before it is decoded, with ``decode``
    bytes for the decoding), before anything (an enlargement, a split, a scaled copy)
    is allocated."""
    h, w, channels = picture if isinstance(picture, tuple) else picture.shape
    extra = decode
    if enlarge != 1:
        if enlarge < 1 or h * w * enlarge * enlarge > MAX_IMAGE_PIXELS:
            return TILE  # translate_picture refuses it in its own words
        h, w = h * enlarge, w * enlarge
        extra += h * w * channels  # the enlarged copy
    if pair:
        w = max(1, w // 2)
    try:
        s = parse_scale(scale)
    except ConfigError:
        return TILE  # refused below in its own words
    factor = training_scale(tr, w, h) if s == AS_TRAINED else s
    sw, sh = max(1, round(w * factor)), max(1, round(h * factor))
    if (sw, sh) != (w, h) and sw * sh > MAX_IMAGE_PIXELS:
        return TILE  # refused by translate_image in its own words
    derived = derive and not pair and enlarge == 1 and tr.pairs is not None
    target = pair or (derived and channels >= tr.target_channels)
    return budget_tile(tr, h, w, channels, sh, sw, target=target, realism=realism, name=name, extra=extra, derived=derived,
                       pair=pair, enlarge=enlarge)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    out = np.asarray(pil.resize((width, height), Image.Resampling.BICUBIC if width * height > image.shape[0] * image.shape[1] else Image.Resampling.LANCZOS))
    return out[..., None] if out.ndim == 2 else out


# ----------------------------------------------------------------------------- maps


def l1_error_map(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute difference over channels, float32 (H, W) in [0, 1]."""
    output, target = _hwc(output), _hwc(target)
    if output.shape[:2] != target.shape[:2]:
        raise DataError(f"The output ({output.shape[1]} x {output.shape[0]}) and the target ({target.shape[1]} x {target.shape[0]}) "
                        "differ in size; compare images of the same size.")
    c = max(output.shape[2], target.shape[2])
    out = np.empty(output.shape[:2], dtype=np.float32)
    rows = max(1, _BAND_PIXELS // output.shape[1])  # in bands: the int16 copies of a 48 MP picture were 0.9 GB at once
    for top in range(0, output.shape[0], rows):
        diff = np.abs(as_channels(output[top : top + rows], c).astype(np.int16) - as_channels(target[top : top + rows], c).astype(np.int16))
        out[top : top + rows] = diff.mean(axis=2, dtype=np.float32) / 255.0
    return out


BORDER = 4  # the strip, in pixels, whose error ``border_ratio`` weighs


def border_ratio(error: np.ndarray, strip: int = BORDER) -> float:
    """How much worse a translation is at its borders: the mean error of the worst of the
    four outermost strips (``strip`` columns on the left and right, rows at the top and
    bottom) over the median column's mean error. 1: no worse at the edge; the shipped
    translators aim at most 1.3 (docs/BENCHMARKS.md)."""
    error = np.asarray(error, dtype=np.float64)
    if error.ndim == 3:
        error = error.mean(axis=2)
    columns = error.mean(axis=0)
    sides = (error[:, :strip], error[:, -strip:], error[:strip], error[-strip:])
    return float(max(side.mean() for side in sides) / max(float(np.median(columns)), 1e-12))


def realism_map(tr: Translator, source: np.ndarray, image: np.ndarray, tile: int = TILE, overlap: int = OVERLAP) -> np.ndarray:
    """The discriminator's belief that each patch of ``image`` is a real target for
    ``source``: float32 (H, W) in [0, 1] (1 = looks real), its patch logits upsampled."""
    require_discriminator(tr)
    source = as_channels(source, tr.source_channels)
    image = as_channels(image, tr.target_channels)
    if source.shape[:2] != image.shape[:2]:
        raise DataError("The source and the image differ in size; give the pair at one size.")
    pair = np.concatenate([source, image], axis=2)
    cs = tr.source_channels
    D = tr.discriminator

    def judge(x):
        logits = D(x[:, :cs], x[:, cs:])
        return torch.sigmoid(torch.nn.functional.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False))

    out = np.empty(pair.shape[:2], dtype=np.float32)

    def write(top, rows):
        out[top : top + len(rows)] = rows[..., 0]

    _tiled(judge, pair, 1, tr.multiple, write, tile, overlap)
    return out


def heatmap(values: np.ndarray, image: np.ndarray | None = None, alpha: float = 0.5, cmap: str = "magma") -> np.ndarray:
    """A float map in [0, 1] as a uint8 RGB picture, laid over ``image`` with ``alpha`` if given."""
    from matplotlib import colormaps

    out = np.empty((*values.shape[:2], 3), dtype=np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, values.shape[1]))  # in bands: the float64 colours of a 48 MP map were 1.5 GB at once
    for top in range(0, values.shape[0], rows):
        colours = colormaps[cmap](np.clip(values[top : top + rows], 0, 1))[..., :3]
        if image is not None:
            base = as_channels(image[top : top + rows], 3).astype(np.float32) / 255.0
            colours = (1 - alpha) * base + alpha * colours
        out[top : top + rows] = np.clip(np.rint(colours * 255), 0, 255).astype(np.uint8)
    return out


def realism_overlay(realism: np.ndarray, output: np.ndarray) -> np.ndarray:
    """A realism map as the Pix2Pix page and the translate command show it: laid over
    the output it judges, green where it looks real, red where it looks fake."""
    return heatmap(realism, output, alpha=0.55, cmap="RdYlGn")


__all__ = [
    "AS_TRAINED",
    "OVERLAP",
    "PASSES",
    "SAMPLE_PHOTOS",
    "SCALES",
    "TILE",
    "Translation",
    "Translator",
    "BORDER",
    "as_channels",
    "border_ratio",
    "cached_translator",
    "check_enlarge",
    "colour_confidence",
    "colourise",
    "lab_colour",
    "lab_picture",
    "heatmap",
    "l1_error_map",
    "load_translator",
    "parse_scale",
    "realism_map",
    "realism_overlay",
    "require_discriminator",
    "sample_photo",
    "sample_seen",
    "samples_in_order",
    "source_for",
    "split_pair",
    "training_scale",
    "translate",
    "translate_image",
    "translate_picture",
    "translator_from",
]
