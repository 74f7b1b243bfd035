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

It trains and scores in the caller's process (the dashboard's server, for "Score this
checkpoint"), so the whole request has the server's budget per request
(``budget.limit()``): the real images take at most half of it (a folder or zip is read
only in part, a seeded sample across its listing: ``memorisation.rebuild_items``), and
what is left sizes the training batch, the images read at once and the generated
pieces (``budget.judge_image_peak``, ``budget.generator_peak``).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import nn

from . import budget
from .checkpoints import JUDGE_FORMAT
from .config import DataConfig, DataKind
from .data.base import GanData
from .errors import DataError
from .inference import Generator, condition_vector, shape_of
from .memorisation import REBUILD_BYTES_PER_VALUE, Rebuild, check_rebuild, image_values, load_rebuild, rebuild_items, rebuild_limit
from .runs import atomic_write_bytes

VERSION = 1  # bump when the judge's architecture or training changes: old caches are ignored
FEATURES = 128
MAX_TRAIN = 10_000  # real images the judge learns from: enough for MNIST-like sets, seconds on a CPU
EPOCHS = 6
BATCH = 128  # the training batch, where the budget leaves room for it (at 256 px a batch of 128 is over 1 GB)
READ = 512  # real or generated images the judge reads at once, likewise
# And at most this much work at once (budget.judge_image_peak): on a CPU a larger step is
# slower per image, not faster (measured, 1 thread: at 256 px 18 ms an image in batches of
# 32 to 128, 5 to 8 ms in batches of 4 to 8; at 128 px 4.9 ms at 128, 1.7 ms at 8 to 32;
# at 64 px 0.76 ms at 128, 0.44 ms at 16 to 64). It keeps batches of 128 up to 32 px.
STEP_BYTES = 64 * 2**20
MIN_N, MAX_N = 10, 20_000  # generated samples scored: below 10 the figures mean nothing; 20,000 is minutes on a CPU
# Generated images are made, read and dropped a chunk at a time: at most this many
# bytes of them (float32) exist at once, whatever the size the checkpoint declares.
CHUNK_BYTES = 64 * 1024 * 1024
# One judge works at a time in a process. A dashboard server's visitors share its cores
# and its memory, and each judge may hold up to the budget per request (training one on
# a 256 px set is 16 to 20 s of CPU): a second visitor's scoring waits for the first,
# at most this long, then says so.
JUDGE_WAIT_S = 120.0


class _TurnLock:
    """A lock its waiters get in the order they asked. A plain ``threading.Lock`` lets the
    thread that releases it take it straight back: the Runs page judges each selected run
    in turn, so one visitor scoring several runs went before another who had been waiting,
    who could then wait out JUDGE_WAIT_S and be refused."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._waiting: collections.deque[object] = collections.deque()
        self._held = False

    def acquire(self, timeout: float | None = None) -> bool:
        """True once held; False past ``timeout`` seconds (None or negative: no end, as a Lock's -1)."""
        timeout = None if timeout is not None and timeout < 0 else timeout
        me, deadline = object(), None if timeout is None else time.monotonic() + timeout
        with self._turns:
            self._waiting.append(me)
            try:
                while self._held or self._waiting[0] is not me:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._turns.wait(left)
                self._held = True
                return True
            finally:
                self._waiting.remove(me)  # served, refused or interrupted: never left blocking the line
                self._turns.notify_all()

    def release(self) -> None:
        with self._turns:
            if not self._held:
                raise RuntimeError("release of an unheld judge lock")
            self._held = False
            self._turns.notify_all()

    def locked(self) -> bool:
        """Held, or promised to a waiter: a new arrival would wait either way."""
        return self._held or bool(self._waiting)

    def __enter__(self) -> "_TurnLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


_ONE_JUDGE = _TurnLock()
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


def _cache_key(data_cfg: DataConfig, used: Rebuild | None = None, batch: int = BATCH) -> str:
    """The data the judge learned from and how: a judge trained on part of a folder, or in
    smaller batches (the budget decides both), is not the one trained on all of it."""
    key = {"v": VERSION, "data": data_cfg.__dict__}
    if used is not None and used.keep is not None:
        key["images"] = [used.count, used.total]
    if batch != BATCH:
        key["batch"] = batch
    raw = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _targets(data: GanData, tensors: dict) -> tuple[torch.Tensor, str]:
    if data.attr_names:
        return tensors["attrs"].float(), "attributes"
    if data.class_names:
        return tensors["label"].long(), "classes"
    raise DataError(f"Data set {data.name!r} has no class labels or attributes, so there is nothing for a judge to check.")


def _real_count(data: GanData, limit: int) -> int:
    """How many real items ``_real`` takes: up to ``limit``, and never more than
    ``rebuild_limit()`` of images (a folder of large images gives fewer)."""
    per_item = budget.FLOAT * math.prod(data.shape)
    return min(len(data), limit, max(1, rebuild_limit() // per_item))


def _real(data: GanData, limit: int) -> tuple[dict, torch.Tensor]:
    """(tensors, order): up to ``_real_count`` real items in a seeded order, as rows
    ``order`` of ``tensors``. Data held in memory is indexed where it lies, never copied
    whole; data read lazily decodes just those items, into one preallocated copy."""
    n = _real_count(data, limit)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
    if data.tensors is not None:
        return data.tensors, order
    out: dict = {}
    for row, i in enumerate(order.tolist()):
        item = data.item(i)
        if not out:
            out = {k: torch.empty((n, *v.shape), dtype=v.dtype) for k, v in item.items()}
        for k, v in item.items():
            out[k][row] = v
    return out, torch.arange(n)


def _load(data_cfg: DataConfig, who: str, most: int) -> tuple[GanData, Rebuild | None]:
    """The real images, within half the request's budget: of a folder or zip only a
    seeded sample across its listing (``rebuild_items``), read at
    ``REBUILD_BYTES_PER_VALUE`` a value; the rest of the budget is the steps'."""
    check_rebuild(data_cfg, who)
    room = (budget.limit() - budget.JUDGE_OVERHEAD) // 2
    used = rebuild_items(data_cfg, room, REBUILD_BYTES_PER_VALUE * image_values(data_cfg), most, spread=True)
    return load_rebuild(data_cfg, used), used


@dataclass(frozen=True)
class Steps:
    """How the judge works within the budget once its real images are held."""

    batch: int  # training images a step
    read: int  # images read at once
    work: int  # bytes one step's work may take


def _steps(data: GanData, kept: int, what: str) -> Steps:
    """The batch and reading sizes whose work fits half the room ``kept`` bytes leave in
    the budget (the other half is left to the allocator, as for chunked samples:
    ``budget.plan_samples``) and ``STEP_BYTES``; or a refusal in one sentence, naming
    ``what`` ("Judging x.safetensors"), when not even one image's training step fits."""
    c, size = data.shape[0], data.shape[-1]
    per_item = budget.FLOAT * math.prod(data.shape)
    room = budget.limit() - budget.JUDGE_OVERHEAD - kept
    train = budget.judge_image_peak(c, size, training=True) + per_item  # with its copy in the batch
    read = budget.judge_image_peak(c, size, training=False) + per_item
    work = min(STEP_BYTES, room // 2)
    if work < train:
        raise budget.refuse(f"{what} with {len(data):,} real images of {budget.pixels_text(size, size)}",
                            kept + budget.JUDGE_OVERHEAD + 2 * train, "use a checkpoint trained at a smaller size")
    return Steps(min(BATCH, work // train), min(READ, work // read), work)


def _kept(data: GanData, limit: int) -> int:
    """Bytes of real images held while the judge works: the data in memory (or, read
    lazily, the items ``_real`` decodes) and the held-out tenth's copy."""
    per_item = budget.FLOAT * math.prod(data.shape)
    n = _real_count(data, limit)
    return (len(data) if data.tensors is not None else n) * per_item + max(1, n // 10) * per_item


def _rows(images: torch.Tensor, rows: torch.Tensor, read: int, fn) -> list:
    """``fn`` over ``images[rows]``, ``read`` rows at a time: only that many are copied at once."""
    return [fn(images[rows[i : i + read]]) for i in range(0, len(rows), read)]


class Judge:
    def __init__(self, net: JudgeNet, kind: str, held_out: dict, real_accuracy: float, note: str | None = None,
                 read: int = READ):
        self.net, self.kind, self.held_out, self.real_accuracy = net.eval(), kind, held_out, real_accuracy
        self.note = note  # one sentence when the trained judge could not be cached, or learned from part of the set
        self.read = read  # images read at once (``Steps.read``)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        step = self.read
        return torch.cat([self.net.features(images[i : i + step]) for i in range(0, len(images), step)]).double().numpy()

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        step = self.read
        out = torch.cat([self.net(images[i : i + step]) for i in range(0, len(images), step)])
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
    a read-only folder) the judge is still returned, with a one-sentence ``note``.
    Without ``data``, the real images are read within this server's budget per request
    (``_load``), and the batch is sized from what they leave of it."""
    used = None
    if data is None:
        data, used = _load(data_cfg, "This checkpoint", MAX_TRAIN + 1000)
    if data.kind != DataKind.IMAGE:
        raise DataError(f"Data set {data.name!r} holds points, not images; the judge scores images.")
    steps = _steps(data, _kept(data, MAX_TRAIN + 1000), f"Training a judge for {data_cfg.name}")
    return _judge(data_cfg, cache_dir, data, used, steps)


def _subset_note(used: Rebuild | None, size: int) -> str | None:
    if used is None or used.keep is None:
        return None
    return (f"The judge learned from and was checked on {used.count:,} of the {used.total:,} training images, as many as this "
            f"server reads at {size:,} px for one request, so its figures are rougher than all of them would give.")


def _judge(data_cfg: DataConfig, cache_dir, data: GanData, used: Rebuild | None, steps: Steps) -> Judge:
    """The judge for ``data`` (images, ``used`` of the set's listing), trained in ``steps``."""
    tensors, order = _real(data, MAX_TRAIN + 1000)
    targets, kind = _targets(data, tensors)
    images = tensors["real"]
    # The first tenth of the seeded order is held out (the judge's own real-image accuracy); rows are
    # picked from the images where they lie, a batch at a time, never copied whole.
    split = max(1, len(order) // 10)
    test_rows, train_rows = order[:split], order[split:]
    test_x, test_y = images[test_rows], targets[test_rows]
    outputs = targets.shape[1] if kind == "attributes" else len(data.class_names)
    net = JudgeNet(images.shape[1], images.shape[-1], outputs)
    subset = _subset_note(used, data_cfg.image_size)
    path = Path(cache_dir) / f"judge-{_cache_key(data_cfg, used, steps.batch)}.safetensors" if cache_dir else None
    if path is not None and path.is_file():
        try:
            net.load_state_dict(load_file(path))
        except Exception:  # a damaged or stale cache is retrained, never trusted
            path.unlink(missing_ok=True)
        else:
            return _finish(net, kind, test_x, test_y, subset, steps.read)
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = nn.BCEWithLogitsLoss() if kind == "attributes" else nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(train_rows), generator=gen).split(steps.batch):
            rows = train_rows[idx]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(images[rows]), targets[rows]).backward()
            opt.step()
    note = None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, st_save({k: v.contiguous() for k, v in net.state_dict().items()},
                                              metadata={"format": JUDGE_FORMAT}))
        except OSError as e:
            note = (f"The trained judge could not be saved for next time ({e.strerror or 'write failed'}), "
                    "so it will be trained again then; these figures are complete.")
    return _finish(net, kind, test_x, test_y, " ".join(n for n in (subset, note) if n) or None, steps.read)


def _finish(net: JudgeNet, kind: str, test_x, test_y, note: str | None = None, read: int = READ) -> Judge:
    judge = Judge(net, kind, {"images": test_x, "targets": test_y}, 0.0, note, read)
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


def busy() -> bool:
    """Whether a judge is working in this process now (a new scoring would wait for it)."""
    return _ONE_JUDGE.locked()


@contextlib.contextmanager
def _one_at_a_time(wait_s: float | None = None):
    """Hold the process's one judge slot (``JUDGE_WAIT_S``), or refuse in one sentence."""
    wait_s = JUDGE_WAIT_S if wait_s is None else wait_s
    if not _ONE_JUDGE.acquire(timeout=wait_s):
        raise DataError(f"Another checkpoint is being judged on this server (one at a time) and it has not finished within "
                        f"{wait_s:.0f} s; try again in a minute.")
    try:
        yield
    finally:
        _ONE_JUDGE.release()


def evaluate(gen: Generator, data_cfg: DataConfig, n: int = 1000, seed: int = 0, cache_dir: str | Path | None = None) -> Evaluation:
    """Score a conditional generator against the real data of ``data_cfg``: see
    ``_evaluate``. One judge works at a time in a process (``JUDGE_WAIT_S``): the
    others wait for it, or are refused in one sentence past that."""
    with _one_at_a_time():
        return _evaluate(gen, data_cfg, n, seed, cache_dir)


def _evaluate(gen: Generator, data_cfg: DataConfig, n: int, seed: int, cache_dir: str | Path | None) -> Evaluation:
    """Score a conditional generator against the real data of ``data_cfg`` (which the
    caller vouches for: see memorisation.comparison_data for data named by an upload).
    The data is rebuilt only at a size and colour it holds, within
    ``memorisation.rebuild_limit()`` (``check_rebuild``, before anything is loaded); a
    folder or zip only in the part that fits half this server's budget per request, which
    ``Evaluation.note`` then says; the training batch, the images read at once and the
    generated pieces fit the rest (``_steps``), and generated images exist ``CHUNK_BYTES``
    at a time."""
    if not MIN_N <= n <= MAX_N:
        raise DataError(f"The judge scores {MIN_N} to {MAX_N:,} generated samples, not {n:,}; ask for a number in that range.")
    if gen.config.recipe == "pix2pix":
        raise DataError(f"{gen.path.name} is a pix2pix translator, which the judge does not score; translate pictures it never "
                        "saw with it and compare them with their targets (benchmarks/pix2pix_eval.py does).")
    if not gen.conditional:
        raise DataError(f"{gen.path.name} is an unconditional {gen.config.recipe} generator; the judge scores conditional (cgan) "
                        "models, and evaluate scores 2-D point runs by their modes.")
    if gen.kind != DataKind.IMAGE:
        raise DataError(f"{gen.path.name} generates points; the judge scores images.")
    data, used = _load(data_cfg, gen.path.name, max(MAX_TRAIN + 1000, 2 * n))
    if tuple(data.shape) != tuple(gen.data.shape):  # before the judge trains on them
        raise DataError(f"The real images are {tuple(data.shape)} but {gen.path.name} makes {tuple(gen.data.shape)}; evaluate at the size it was trained at.")
    if data.kind != DataKind.IMAGE:
        raise DataError(f"Data set {data.name!r} holds points, not images; the judge scores images.")
    # Held while the judge works: the real images (with the held-out tenth), and, if read lazily,
    # the ones decoded again for the distances; the features kept (fake and real, float64).
    per_item = budget.FLOAT * math.prod(data.shape)
    kept = _kept(data, MAX_TRAIN + 1000) + (0 if data.tensors is not None else _real_count(data, 2 * n) * per_item)
    kept += 4 * n * FEATURES * 8
    steps = _steps(data, kept, f"Judging {gen.path.name}")
    judge = _judge(data_cfg, cache_dir, data, used, steps)
    tensors, order = _real(data, 2 * n)
    classes, attrs = gen.data.class_names, gen.data.attr_names
    if judge.kind == "classes":
        if not classes or classes != data.class_names:
            raise DataError(f"The classes of {gen.path.name} do not match those of the data {data.name!r}; evaluate on the data it was trained on.")
        wanted = torch.arange(n) % len(classes)
        cond = torch.nn.functional.one_hot(wanted, len(classes)).float()
    else:
        if not attrs or attrs != data.attr_names:
            raise DataError(f"The attributes of {gen.path.name} do not match those of the data {data.name!r}; evaluate on the data it was trained on.")
        rows = tensors["attrs"][order].float()
        wanted = rows[torch.arange(n) % len(rows)]  # real combinations of attributes, as they occur
        cond = wanted
    images = tensors["real"]
    half = min(n, len(order) // 2)
    # The noise of each block of 500 is seeded as before; G runs on pieces of a block small
    # enough that CHUNK_BYTES bounds the generated images held at once, and that a piece's
    # forward pass (or its reading by the judge) fits the room the steps have. Only the
    # judge's reading of them is kept: its predictions, and the features of the first ``half``.
    out_bytes = budget.FLOAT * math.prod(gen.data.shape)
    forward = budget.generator_peak(shape_of(gen)) if isinstance(gen, Generator) else out_bytes
    reading = budget.judge_image_peak(gen.data.shape[0], gen.data.shape[-1], training=False) + out_bytes
    piece = max(1, min(500, CHUNK_BYTES // out_bytes, steps.work // max(forward, reading)))
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
    first = np.concatenate(_rows(images, order[:half], judge.read, judge.features))
    second = np.concatenate(_rows(images, order[half : 2 * half], judge.read, judge.features))
    frechet = frechet_distance(np.concatenate(fake_features), first)
    floor = frechet_distance(first, second)
    return Evaluation(judge.kind, accuracy, judge.real_accuracy, frechet, floor, n, per, judge.note)


__all__ = ["busy", "JUDGE_WAIT_S", "Evaluation", "Judge", "attribute_accuracy", "evaluate", "frechet_distance", "load_judge", "condition_vector", "MIN_N", "MAX_N",
           "CHUNK_BYTES", "BATCH", "READ", "STEP_BYTES"]
