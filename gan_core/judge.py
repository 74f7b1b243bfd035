"""An independent judge of conditional generators.

A small CNN classifier is trained by the project on the real training images
(never the GAN's discriminator, which co-adapted with G and would be a lenient
judge), then scores generated samples:

- accuracy: how often the judge sees the class that was asked for; for attribute
  models, each attribute's balanced accuracy (the mean of its hit rate where it was
  asked on and where it was asked off), averaged over attributes. Plain accuracy over
  (sample, attribute) pairs would hide a rare attribute: a generator that never draws
  Eyeglasses (about 6.5% of CelebA) would score about 93% on it; balanced, it scores 50%;
- a Fréchet distance between generated and real images in the judge's feature
  space (its 128-wide penultimate layer; the FID recipe with a judge trained on
  this data instead of Inception, which this offline machine does not have);
- the floors that make both numbers mean something: the judge's accuracy on held-out
  real images, and the Fréchet distance between two disjoint halves of real images
  of the same size as the generated set.

The judge trains in a few CPU-seconds and is cached as a .safetensors file keyed
by the data it was trained on, so the second evaluation starts at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import nn

from .config import DataConfig, DataKind
from .data import load_data
from .data.base import GanData
from .errors import DataError
from .inference import Generator, condition_vector
from .memorisation import MAX_REBUILD_BYTES, check_rebuild
from .runs import atomic_write_bytes

VERSION = 1  # bump when the judge's architecture or training changes: old caches are ignored
FEATURES = 128
MAX_TRAIN = 10_000  # real images the judge learns from: enough for MNIST-like sets, seconds on a CPU
EPOCHS = 6
MIN_N, MAX_N = 10, 20_000  # generated samples scored: below 10 the figures mean nothing; 20,000 is minutes on a CPU
# Generated images are made, read and dropped a chunk at a time: at most this many
# bytes of them (float32) exist at once, whatever the size the checkpoint declares.
CHUNK_BYTES = 64 * 1024 * 1024
IMAGINARY_TOLERANCE = 1e-3  # pytorch-fid's limit on the imaginary part of sqrtm's diagonal


class JudgeNet(nn.Module):
    def __init__(self, channels: int, size: int, outputs: int):
        super().__init__()
        self.features = nn.Sequential(
            # C x S x S -> 32 x S/2 x S/2 -> 64 x S/4 x S/4 -> 64 x 4 x 4 -> 128
            nn.Conv2d(channels, 32, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(64 * 16, FEATURES), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class Evaluation:
    kind: str  # "classes" or "attributes"
    accuracy: float  # generated samples judged as requested
    real_accuracy: float  # the judge on held-out real images: the ceiling accuracy can be read against
    frechet: float  # generated vs real, in the judge's feature space
    frechet_floor: float  # real vs real, two disjoint halves of the same size
    n: int  # generated samples scored
    per_condition: dict[str, float]  # accuracy per class, or balanced accuracy per attribute
    note: str | None = None  # one sentence when something beside the figures went wrong (the judge could not be cached)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        what = "the requested class" if self.kind == "classes" else "the requested attributes (balanced accuracy, per attribute)"
        return [
            f"Judged as {what}: {self.accuracy:.1%} of {self.n} samples (the judge gets {self.real_accuracy:.1%} of held-out real images right)",
            f"Fréchet distance to real images in the judge's features: {self.frechet:.2f} (real vs real: {self.frechet_floor:.2f})",
        ]


def _cache_key(data_cfg: DataConfig) -> str:
    raw = json.dumps({"v": VERSION, "data": data_cfg.__dict__}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _targets(data: GanData, tensors: dict) -> tuple[torch.Tensor, str]:
    if data.attr_names:
        return tensors["attrs"].float(), "attributes"
    if data.class_names:
        return tensors["label"].long(), "classes"
    raise DataError(f"Data set {data.name!r} has no class labels or attributes, so there is nothing for a judge to check.")


def _real_tensors(data: GanData, limit: int) -> dict:
    """Up to ``limit`` real items in a seeded order, and never more than
    ``MAX_REBUILD_BYTES`` of images (a folder of large images gives fewer)."""
    per_item = 4 * math.prod(data.shape)
    n = min(len(data), limit, max(1, MAX_REBUILD_BYTES // per_item))
    if data.tensors is not None:
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
        return {k: v.index_select(0, order) for k, v in data.tensors.items()}
    items = [data.item(i) for i in torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n].tolist()]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


class Judge:
    def __init__(self, net: JudgeNet, kind: str, held_out: dict, real_accuracy: float, note: str | None = None):
        self.net, self.kind, self.held_out, self.real_accuracy = net.eval(), kind, held_out, real_accuracy
        self.note = note  # one sentence when the trained judge could not be cached

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        return torch.cat([self.net.features(images[i : i + 512]) for i in range(0, len(images), 512)]).double().numpy()

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        out = torch.cat([self.net(images[i : i + 512]) for i in range(0, len(images), 512)])
        return (out > 0).float() if self.kind == "attributes" else out.argmax(1)


def attribute_accuracy(predicted: torch.Tensor, wanted: torch.Tensor) -> list[float]:
    """Each attribute's balanced accuracy over (N, A) 0/1 tensors: the mean of its hit
    rate on the samples where it was wanted on and on those where it was wanted off
    (one of the two alone when the other never occurs)."""
    out = []
    for j in range(wanted.shape[1]):
        on = wanted[:, j] > 0.5
        rates = [float((predicted[mask, j] == wanted[mask, j]).float().mean()) for mask in (on, ~on) if mask.any()]
        out.append(sum(rates) / len(rates) if rates else float("nan"))
    return out


def _accuracy(predicted: torch.Tensor, wanted: torch.Tensor) -> float:
    """Classes: the share of samples read as their class; attributes: the mean over
    attributes of each one's balanced accuracy (``attribute_accuracy``)."""
    if wanted.dim() == 2:
        per = [a for a in attribute_accuracy(predicted, wanted) if not math.isnan(a)]
        return sum(per) / len(per) if per else float("nan")
    return float((predicted == wanted).float().mean())


def load_judge(data_cfg: DataConfig, cache_dir: str | Path | None = None, data: GanData | None = None) -> Judge:
    """The judge for this data: from the cache, or trained now (a few CPU-seconds).
    The cache is written whole or not at all; when it cannot be written (a full disk,
    a read-only folder) the judge is still returned, with a one-sentence ``note``."""
    if data is None:
        check_rebuild(data_cfg)
        data = load_data(data_cfg)
    if data.kind != DataKind.IMAGE:
        raise DataError(f"Data set {data.name!r} holds points, not images; the judge scores images.")
    real = _real_tensors(data, MAX_TRAIN + 1000)
    targets, kind = _targets(data, real)
    images = real["real"]
    split = max(1, len(images) // 10)  # the last tenth is held out: the judge's own real-image accuracy
    train_x, train_y, test_x, test_y = images[split:], targets[split:], images[:split], targets[:split]
    outputs = targets.shape[1] if kind == "attributes" else len(data.class_names)
    net = JudgeNet(images.shape[1], images.shape[-1], outputs)
    path = Path(cache_dir) / f"judge-{_cache_key(data_cfg)}.safetensors" if cache_dir else None
    if path is not None and path.is_file():
        try:
            net.load_state_dict(load_file(path))
        except Exception:  # a damaged or stale cache is retrained, never trusted
            path.unlink(missing_ok=True)
        else:
            return _finish(net, kind, test_x, test_y)
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = nn.BCEWithLogitsLoss() if kind == "attributes" else nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(train_x), generator=gen).split(128):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(train_x[idx]), train_y[idx]).backward()
            opt.step()
    note = None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, st_save({k: v.contiguous() for k, v in net.state_dict().items()}))
        except OSError as e:
            note = (f"The trained judge could not be saved for next time ({e.strerror or 'write failed'}), "
                    "so it will be trained again then; these figures are complete.")
    return _finish(net, kind, test_x, test_y, note)


def _finish(net: JudgeNet, kind: str, test_x, test_y, note: str | None = None) -> Judge:
    judge = Judge(net, kind, {"images": test_x, "targets": test_y}, 0.0, note)
    judge.real_accuracy = _accuracy(judge.predict(test_x), test_y)
    return judge


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2), as in FID (Heusel et al. 2017)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    # ReLU features that never fire make the covariances singular; a tiny ridge (as
    # pytorch-fid adds when sqrtm fails) keeps the square root well defined.
    ridge = 1e-6 * np.eye(a.shape[1])
    sa, sb = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sa @ sb)
    # The square root of a product of covariances is real in exact arithmetic; a numerical
    # one can come out complex. pytorch-fid refuses when the imaginary part of its diagonal
    # exceeds 1e-3 (the trace taken next would then be guesswork), and so does this.
    if np.iscomplexobj(covmean):
        imaginary = float(np.abs(np.diagonal(covmean).imag).max())
        if imaginary > IMAGINARY_TOLERANCE:
            raise DataError(f"The Fréchet distance cannot be trusted here: the square root of the feature covariances came "
                            f"out with an imaginary part of {imaginary:.3g} (above pytorch-fid's {IMAGINARY_TOLERANCE:g}), which "
                            f"happens with too few samples for {a.shape[1]} features; score more samples.")
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * covmean))


def evaluate(gen: Generator, data_cfg: DataConfig, n: int = 1000, seed: int = 0, cache_dir: str | Path | None = None) -> Evaluation:
    """Score a conditional generator against the real data of ``data_cfg`` (which the
    caller vouches for: see memorisation.comparison_data for data named by an upload).
    The data is rebuilt only at a size and colour it holds, within
    ``memorisation.MAX_REBUILD_BYTES`` (``check_rebuild``, before anything is loaded),
    and generated images exist ``CHUNK_BYTES`` at a time."""
    if not MIN_N <= n <= MAX_N:
        raise DataError(f"The judge scores {MIN_N} to {MAX_N:,} generated samples, not {n:,}; ask for a number in that range.")
    if not gen.conditional:
        raise DataError(f"{gen.path.name} is an unconditional {gen.config.recipe} generator; the judge scores conditional (cgan) models.")
    if gen.kind != DataKind.IMAGE:
        raise DataError(f"{gen.path.name} generates points; the judge scores images.")
    check_rebuild(data_cfg, gen.path.name)
    data = load_data(data_cfg)
    if tuple(data.shape) != tuple(gen.data.shape):  # before the judge trains on them
        raise DataError(f"The real images are {tuple(data.shape)} but {gen.path.name} makes {tuple(gen.data.shape)}; evaluate at the size it was trained at.")
    judge = load_judge(data_cfg, cache_dir, data)
    real = _real_tensors(data, 2 * n)
    classes, attrs = gen.data.class_names, gen.data.attr_names
    if judge.kind == "classes":
        if not classes or classes != data.class_names:
            raise DataError(f"The classes of {gen.path.name} do not match those of the data {data.name!r}; evaluate on the data it was trained on.")
        wanted = torch.arange(n) % len(classes)
        cond = torch.nn.functional.one_hot(wanted, len(classes)).float()
    else:
        if not attrs or attrs != data.attr_names:
            raise DataError(f"The attributes of {gen.path.name} do not match those of the data {data.name!r}; evaluate on the data it was trained on.")
        rows = real["attrs"].float()
        wanted = rows[torch.arange(n) % len(rows)]  # real combinations of attributes, as they occur
        cond = wanted
    images = real["real"]
    half = min(n, len(images) // 2)
    # The noise of each block of 500 is seeded as before; G runs on pieces of a block small
    # enough that CHUNK_BYTES bounds the generated images held at once. Only the judge's
    # reading of them is kept: its predictions, and the features of the first ``half``.
    piece = max(1, min(500, CHUNK_BYTES // (4 * math.prod(gen.data.shape))))
    predictions, fake_features, made = [], [], 0
    for i, block in enumerate(cond.split(500)):
        for z, c in zip(gen.noise(len(block), seed + i).split(piece), block.split(piece)):
            fake = gen.from_noise(z, c)
            predictions.append(judge.predict(fake))
            if made < half:
                fake_features.append(judge.features(fake[: half - made]))
            made += len(fake)
            del fake
    predicted = torch.cat(predictions)
    per = {}
    if judge.kind == "classes":
        for k, name in enumerate(classes):
            mask = wanted == k
            per[name] = float((predicted[mask] == k).float().mean()) if mask.any() else float("nan")
    else:
        per = dict(zip(attrs, attribute_accuracy(predicted, wanted)))
    accuracy = _accuracy(predicted, wanted)
    # Both distances between sets of the same size: the estimate is biased by sample size.
    frechet = frechet_distance(np.concatenate(fake_features), judge.features(images[:half]))
    floor = frechet_distance(judge.features(images[:half]), judge.features(images[half : 2 * half]))
    return Evaluation(judge.kind, accuracy, judge.real_accuracy, frechet, floor, n, per, judge.note)


__all__ = ["Evaluation", "Judge", "attribute_accuracy", "evaluate", "frechet_distance", "load_judge", "condition_vector", "MIN_N", "MAX_N", "CHUNK_BYTES"]
