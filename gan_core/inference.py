"""Using a trained generator: load it from a .safetensors checkpoint and sample.

Everything here returns numpy arrays (uint8 images, float points), so callers
such as dashboard pages never touch torch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import budget, checkpoints
from .config import Config, DataKind
from .data.base import DataInfo
from .errors import CheckpointError, ConfigError
from .untrusted import shown_name
from .objectives import ConditionalObjective, Objective
from .pictures import MAX_SIDE, grid_size, grid_view_bytes
from .recipes import RECIPES, check_seed
from .samples import to_uint8


# The truncation trick's range: 1 is none; below 0.05 its redraws (of every component
# beyond 2 x truncation) would spin for seconds on a server (0.001: 13 s for 5,000 points).
MIN_TRUNCATION = 0.05


def check_truncation(truncation) -> float:
    """``truncation`` if it is a number from MIN_TRUNCATION to 1, else one ConfigError."""
    if not (isinstance(truncation, (int, float)) and not isinstance(truncation, bool) and math.isfinite(truncation)
            and MIN_TRUNCATION <= truncation <= 1):
        raise ConfigError(f"The truncation must be from {MIN_TRUNCATION} to 1 (1: none), not {str(truncation)[:40]}.")
    return float(truncation)


def count(value, what: str, least: int = 1) -> int:
    """``value`` as an int if it is a whole number of at least ``least`` (the upper bounds
    are the memory budget's), else one ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ConfigError(f"{what} must be a whole number of at least {least}, not {str(value)[:40]}.")
    return int(value)


@dataclass
class Generator:
    """A generator ready to sample, with what it was trained on."""

    path: Path
    config: Config
    data: DataInfo
    step: int
    model: torch.nn.Module
    objective: Objective

    @property
    def kind(self) -> str:
        return self.data.kind

    def noise(self, n: int, seed: int, truncation: float = 1.0) -> torch.Tensor:
        """z for ``n`` samples from ``seed``: the same seed always gives the same faces.
        ``truncation`` < 1 redraws noise components beyond that many standard
        deviations' worth of 2.0 (the truncation trick), trading variety for quality."""
        n = count(n, "The number of samples")
        check_truncation(truncation)
        gen = torch.Generator().manual_seed(seed)
        z = self.objective.noise(n, torch.device("cpu"), gen)
        if truncation < 1.0:
            limit = 2.0 * max(truncation, 1e-3)
            bad = z.abs() > limit
            while bad.any():
                z[bad] = torch.randn(int(bad.sum()), generator=gen)
                bad = z.abs() > limit
        return z

    @property
    def conditional(self) -> bool:
        return isinstance(self.objective, ConditionalObjective)

    def random_conditions(self, n: int, seed: int) -> torch.Tensor:
        """Conditions for samples nobody asked a class of (the gallery's grid): a
        seeded uniform class, or seeded fair coin flips for attributes."""
        gen = torch.Generator().manual_seed(seed + 7919)
        k = self.objective.cond_dim
        if self.data.attr_names:
            return (torch.rand(n, k, generator=gen) < 0.5).float()
        return torch.nn.functional.one_hot(torch.randint(k, (n,), generator=gen), k).float()

    @torch.no_grad()
    def from_noise(self, z: torch.Tensor, cond: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
        if not self.conditional:
            return self.model(z)
        if cond is None:
            cond = self.random_conditions(len(z), seed)
        cond = torch.as_tensor(cond, dtype=torch.float32)
        return self.model(z, cond.expand(len(z), -1) if cond.dim() == 1 else cond)


def _fitting_generator(ckpt: checkpoints.Checkpoint):
    """The recipe and an empty generator for ``ckpt``, built only after its shapes
    are proven to match the tensors in the file: the model is first laid out on
    PyTorch's "meta" device, which computes every parameter's shape without
    allocating it, so metadata claiming a huge model costs nothing to refuse."""
    name = ckpt.path.name
    try:
        r = RECIPES.get(ckpt.config.recipe)
    except ConfigError:
        raise CheckpointError(f"{name} names recipe {ckpt.config.recipe!r}, which this workbench does not have; use a checkpoint of {', '.join(RECIPES.names())}.") from None
    if ckpt.data.kind not in r.kinds or (ckpt.config.model.arch == "conv" and ckpt.data.kind != DataKind.IMAGE):
        raise CheckpointError(f"The metadata of {name} is damaged (recipe {ckpt.config.recipe!r} cannot produce {ckpt.data.kind} data); use another checkpoint.")
    weights = ckpt.part("generator")
    try:
        with torch.device("meta"):
            layout, _ = r.build(ckpt.config, ckpt.data)
        expected = layout.state_dict()
    except (AssertionError, ValueError, RuntimeError, TypeError, ZeroDivisionError):
        raise CheckpointError(f"The metadata of {name} describes a model that cannot be built; use another checkpoint.") from None
    if set(expected) != set(weights) or any(
        tuple(weights[k].shape) != tuple(v.shape) or weights[k].dtype != v.dtype for k, v in expected.items()
    ):
        raise CheckpointError(
            f"{name} does not fit the generator of recipe {ckpt.config.recipe!r} described in its own metadata; "
            "use the checkpoint as the workbench wrote it (python -m gan_core export)."
        )
    torch.manual_seed(0)
    G, _ = r.build(ckpt.config, ckpt.data)
    return r, G


def generator_from(ckpt: checkpoints.Checkpoint) -> Generator:
    """A ready generator from a parsed checkpoint (see ``_fitting_generator``)."""
    r, G = _fitting_generator(ckpt)
    checkpoints.load_into(G, ckpt.part("generator"), "generator", ckpt)
    G.eval()
    try:
        objective = r.objective(ckpt.config, ckpt.data)
    except ConfigError as e:
        raise CheckpointError(f"The metadata of {ckpt.path.name} is damaged ({str(e).rstrip('.')}); use another checkpoint.") from None
    return Generator(ckpt.path, ckpt.config, ckpt.data, ckpt.step, G, objective)


def load_generator(path: str | Path, recipe: str | None = None) -> Generator:
    """Rebuild the generator a checkpoint was trained with; ``recipe`` (if given)
    must match, so a checkpoint never silently loads into the wrong model."""
    ckpt = checkpoints.read(path)
    if recipe is not None and ckpt.config.recipe != recipe:
        raise CheckpointError(f"{ckpt.path.name} was trained with recipe {ckpt.config.recipe!r}, not {recipe!r}; choose that recipe or another checkpoint.")
    return generator_from(ckpt)


def cached_loader(load, maxsize: int = 8):
    """``load(path)``, reused while the file is unchanged (keyed by path and mtime)."""
    cached = functools.lru_cache(maxsize=maxsize)(lambda path, mtime: load(path))

    def get(path: str | Path):
        path = Path(path)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            raise CheckpointError(f"Checkpoint {path} does not exist; pick another one.") from None
        return cached(str(path), mtime)

    return get


cached_generator = cached_loader(load_generator)


def condition_vector(gen: Generator, label: int | str | None = None, attributes: dict[str, float] | str | None = None) -> np.ndarray:
    """The condition a user asks for, as the (cond_dim,) float vector G takes.

    ``label``: a class index or name (for class-conditional models). ``attributes``:
    {name: 0 or 1} or the command-line form "Smiling=1,Male=0"; attributes not named
    are off. One-sentence ``ConfigError`` for a class or attribute the checkpoint
    does not know, and for asking a condition of an unconditional checkpoint."""
    name = gen.path.name
    if not gen.conditional:
        raise ConfigError(f"{name} is an unconditional {gen.config.recipe} generator, so it takes no class or attributes; "
                          "sample it without --label / --attributes, or in the Gallery.")
    k = gen.objective.cond_dim
    vec = np.zeros(k, dtype=np.float32)
    classes, attrs = gen.data.class_names, gen.data.attr_names
    if label is not None:
        if not classes:
            raise ConfigError(f"{name} is conditioned on attributes ({', '.join(attrs)}), not classes; use --attributes Name=1,...")
        text = str(label).strip()
        digits = text.lstrip("-")
        index = classes.index(text) if text in classes else int(text) if digits.isdigit() and len(digits) <= 9 else -1
        if not 0 <= index < k:
            raise ConfigError(f"Class {shown_name(text, 40)!r} is not one of {name}'s classes: "
                              f"{', '.join(f'{i} ({c})' if c != str(i) else c for i, c in enumerate(classes))}.")
        vec[index] = 1.0
    if attributes is not None:
        if not attrs:
            raise ConfigError(f"{name} is conditioned on classes ({', '.join(classes)}), not attributes; use --label.")
        if isinstance(attributes, str):
            attributes = _parse_attributes(attributes)
        for key, value in attributes.items():
            if key not in attrs:
                raise ConfigError(f"Attribute {key!r} is not one of {name}'s attributes: {', '.join(attrs)}.")
            if value not in (0, 1):
                raise ConfigError(f"Attribute {key} must be 0 (off) or 1 (on), not {value!r}.")
            vec[attrs.index(key)] = float(value)
    if label is None and attributes is None and classes:
        raise ConfigError(f"{name} needs a class; give one of: {', '.join(classes)}.")
    return vec


def _parse_attributes(text: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq or value.strip() not in ("0", "1"):
            raise ConfigError(f"Write attributes as Name=1 or Name=0 separated by commas (e.g. Smiling=1,Male=0), not {part!r}.")
        out[key.strip()] = float(value.strip())
    return out


def _as_cond(cond, gen: Generator) -> torch.Tensor | None:
    """A condition (one vector, or one per sample) for ``gen``: its length must be the
    model's number of classes or attributes, refused in one sentence otherwise."""
    if cond is None:
        return None
    t = torch.as_tensor(np.asarray(cond, dtype=np.float32))
    k = shape_of(gen).cond_dim
    if t.ndim not in (1, 2) or t.shape[-1] != k or not bool(torch.isfinite(t).all()):
        raise ConfigError(f"A condition for {gen.path.name} must be {k} finite numbers (one per class or attribute), "
                          f"not an array of shape {tuple(t.shape)}.")
    return t


# ----------------------------------------------------------------------------- the budget
# Every call below sizes its request with gan_core.budget before drawing any noise: the
# result must fit the server's per-request budget on its own, and the generator then runs
# in chunks whose peak fits beside it (one batch, exactly as before, when it all fits).


def shape_of(gen: Generator) -> budget.GeneratorShape:
    """What a request's cost depends on, from the checkpoint's config."""
    m = gen.config.model
    return budget.GeneratorShape(str(m.arch or "mlp"), tuple(int(x) for x in gen.data.shape), int(m.width or 0),
                                 int(m.z_dim or 0), gen.objective.cond_dim if gen.conditional else 0)


def image_hwc(gen: Generator) -> tuple[int, int, int]:
    """(height, width, channels) of one of the generator's images; (1, 1, 1) for points."""
    g = shape_of(gen)
    c, h, w = g.out_shape if g.image else (1, 1, 1)
    return h, w, c


def _uint8(images: torch.Tensor) -> np.ndarray:
    return to_uint8(images)


def _points(out: torch.Tensor) -> np.ndarray:
    return out.float().numpy()


def _generate(gen: Generator, n: int, inputs, plan: budget.Plan, convert) -> np.ndarray | torch.Tensor:
    """``convert(gen.from_noise(z, cond))`` for the samples [0, n), ``inputs(lo, hi)``
    giving (z, cond, seed) for a slice, done ``plan.chunk`` samples at a time into one
    preallocated result, so the peak is the result plus one chunk's forward pass."""
    if plan.chunk >= n:
        return convert(gen.from_noise(*inputs(0, n)))
    out = None
    for lo in range(0, n, plan.chunk):
        hi = min(n, lo + plan.chunk)
        part = convert(gen.from_noise(*inputs(lo, hi)))
        if out is None:
            shape = (n, *part.shape[1:])
            out = torch.empty(shape, dtype=part.dtype) if isinstance(part, torch.Tensor) else np.empty(shape, dtype=part.dtype)
        out[lo:hi] = part
        del part
    return out


def _sliced(z: torch.Tensor, cond: torch.Tensor | None, seed: int, gen: Generator):
    """inputs(lo, hi) over noise drawn whole (the same seed gives the same samples,
    however they are chunked); random conditions, when none is given, drawn whole too."""
    if cond is None and gen.conditional:
        cond = gen.random_conditions(len(z), seed)
    return lambda lo, hi: (z[lo:hi], None if cond is None else cond if cond.dim() == 1 else cond[lo:hi], seed)


def _sampling(gen: Generator, n: int, what: str, result_per_sample: int | None = None, kept: int = 0) -> tuple[budget.GeneratorShape, budget.Plan]:
    g = shape_of(gen)
    plan = budget.plan_samples(g, n, what=f"{what} {n:,} {g.describe()}", fix="ask for fewer samples",
                               result_per_sample=result_per_sample, kept=budget.noise_bytes(g, n) + kept)
    return g, plan


def sample_tensor(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, cond=None) -> torch.Tensor:
    """n raw samples (N, C, H, W) in [-1, 1] or (N, D); ``cond`` for conditional models.
    Refused in one sentence (``budget.BudgetError``) when the float32 result alone would
    not fit the server's budget per request; otherwise generated in chunks that fit."""
    check_seed(seed, "The seed")
    g, plan = _sampling(gen, n, "Generating", result_per_sample=shape_of(gen).out_numel * budget.FLOAT)
    return _generate(gen, n, _sliced(gen.noise(n, seed, truncation), _as_cond(cond, gen), seed, gen), plan, lambda t: t)


def sample(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, cond=None) -> np.ndarray:
    """n samples: (n, H, W, C) uint8 images, or (n, D) float points. ``cond`` (from
    ``condition_vector``) fixes what a conditional model makes; unset, it is random.
    Refused in one sentence when the result alone would not fit the budget per request;
    otherwise generated in chunks that fit."""
    check_seed(seed, "The seed")
    g, plan = _sampling(gen, n, "Sampling")
    convert = _uint8 if gen.kind == DataKind.IMAGE else _points
    return _generate(gen, n, _sliced(gen.noise(n, seed, truncation), _as_cond(cond, gen), seed, gen), plan, convert)


def grid_of(images: np.ndarray, nrow: int, padding: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (H', W', 3) uint8 grid laid out exactly as
    ``samples.grid_array`` (torchvision's make_grid) lays out the same samples: grey
    repeated to colour, white padding, ``min(nrow, N)`` columns, one image unpadded."""
    images = np.asarray(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    n, h, w, _ = images.shape
    if n == 1:
        return images[0].copy()
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + padding) + padding : (r + 1) * (h + padding), c * (w + padding) + padding : (c + 1) * (w + padding)] = images[i]
    return out


def sample_grid(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, nrow: int | None = None, cond=None) -> np.ndarray:
    """n samples as one (H, W, 3) uint8 grid image (within the budget: the samples and
    the grid must fit, the generator runs in chunks)."""
    if gen.kind != DataKind.IMAGE:
        raise CheckpointError(f"{gen.path.name} generates points, not images; plot its samples instead of a grid.")
    check_seed(seed, "The seed")
    n = count(n, "The number of samples")
    nrow = count(nrow, "The number of columns") if nrow is not None else max(1, int(math.ceil(math.sqrt(n))))
    c, h, w = gen.data.shape
    g, plan = _sampling(gen, n, "A grid of", kept=budget.grid_bytes(n, c, h, w, nrow))
    images = _generate(gen, n, _sliced(gen.noise(n, seed, truncation), _as_cond(cond, gen), seed, gen), plan, _uint8)
    return grid_of(images, nrow)


def condition_rows(gen: Generator, conds, cols: int, seed: int = 0, truncation: float = 1.0) -> np.ndarray:
    """One row per condition with the same noise in every column, so only the
    condition changes down a column: (len(conds) * cols, H, W, C) uint8, row by row.
    Refused in one sentence when the rows alone would not fit the budget per request."""
    check_seed(seed, "The seed")
    conds = torch.as_tensor(np.asarray(conds, dtype=np.float32))
    rows = len(conds)
    g = shape_of(gen)
    things = "classes" if gen.data.class_names else "rows"
    c, h, w = g.out_shape if g.image else (1, 1, 1)
    plan = budget.plan_samples(g, rows * cols, kept=budget.noise_bytes(g, cols),
                               what=f"A grid of {rows:,} {things} × {cols:,} columns at {budget.pixels_text(h, w)}",
                               fix=f"ask for fewer {things} or columns")
    z = gen.noise(cols, seed, truncation)

    def inputs(lo, hi):
        index = torch.arange(lo, hi)
        return z[index % cols], conds[index // cols], 0

    return _generate(gen, rows * cols, inputs, plan, _uint8)


def check_rows_view(gen: Generator, rows: int, cols: int, scale: int = 1) -> None:
    """Refuse, before anything is generated, a grid of ``rows`` conditions × ``cols``
    columns that could not be drawn *and* shown within the budget per request: the rows
    (``condition_rows``) and then the grid, its enlargement ``scale`` times and its PNG
    (``pictures.grid_view_bytes``), held at once. One sentence naming what to lower."""
    rows, cols = count(rows, "The number of rows", 1), count(cols, "The number of columns", 1)
    h, w, c = image_hwc(gen)
    things = "classes" if gen.data.class_names else "rows"
    height, width = grid_size(rows * cols, (h, w), cols)
    if max(height, width) > MAX_SIDE:
        raise ConfigError(f"A grid of {rows:,} {things} × {cols:,} columns at {budget.pixels_text(h, w)} would be "
                          f"{budget.pixels_text(height, width)}, more than the {MAX_SIDE:,} px a picture can be on either side; "
                          + ("use a checkpoint with fewer classes." if things == "classes" else "ask for fewer columns."))
    budget.check(f"A grid of {rows:,} {things} × {cols:,} columns at {budget.pixels_text(h, w)}",
                 grid_view_bytes(rows * cols, (h, w, c), cols, scale),
                 "ask for fewer columns" + (", or use a checkpoint with fewer classes" if things == "classes" else ""))


def morph(gen: Generator, cond_a, cond_b, steps: int = 8, seed: int = 0, index: int = 0, truncation: float = 1.0) -> np.ndarray:
    """The same noise (sample ``index`` of ``seed``) while the condition moves in a
    straight line from ``cond_a`` to ``cond_b``: (steps, H, W, C) uint8."""
    check_seed(seed, "The seed")
    steps, index = count(steps, "The number of frames", 2), count(index, "The sample's index", 0)
    g = shape_of(gen)
    plan = budget.plan_samples(g, steps, kept=budget.noise_bytes(g, index + 1) + steps * (g.z_dim + g.cond_dim) * budget.FLOAT,
                               what=f"A morph of {steps:,} steps from sample {index + 1:,}", fix="ask for fewer steps or an earlier sample")
    z = gen.noise(index + 1, seed, truncation)[index : index + 1].repeat(steps, 1)
    t = torch.linspace(0, 1, steps)[:, None]
    a, b = _as_cond(cond_a, gen), _as_cond(cond_b, gen)
    cond = (1 - t) * a + t * b
    return _generate(gen, steps, lambda lo, hi: (z[lo:hi], cond[lo:hi], 0), plan, _uint8)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: Gaussian noise lives near a sphere, and slerp stays
    on it where a straight line would pass through unlikely low-norm noise."""
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.acos((a_n * b_n).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(gen: Generator, seed_a: int, index_a: int, seed_b: int, index_b: int, steps: int = 8,
                n: int = 64, truncation: float = 1.0) -> np.ndarray:
    """Images along the slerp between sample ``index_a`` of the grid drawn with
    ``seed_a`` and sample ``index_b`` of the grid drawn with ``seed_b``: (steps, H, W, C)."""
    check_seed(seed_a, "The start's seed")
    check_seed(seed_b, "The end's seed")
    steps, n = count(steps, "The number of steps", 2), count(n, "The number of samples")
    index_a, index_b = count(index_a, "The start's sample index", 0), count(index_b, "The end's sample index", 0)
    g = shape_of(gen)
    drawn = max(n, index_a + 1) + max(n, index_b + 1)
    plan = budget.plan_samples(g, steps, kept=budget.noise_bytes(g, drawn) + steps * (g.z_dim + g.cond_dim) * budget.FLOAT,
                               what=f"An interpolation of {steps:,} steps between samples {index_a + 1:,} and {index_b + 1:,}",
                               fix="ask for fewer steps or earlier samples")
    za = gen.noise(max(n, index_a + 1), seed_a, truncation)[index_a]
    zb = gen.noise(max(n, index_b + 1), seed_b, truncation)[index_b]
    z = torch.stack([slerp(za, zb, i / (steps - 1)) for i in range(steps)])
    cond = None
    if gen.conditional:  # the two samples' own conditions, blended like the noise
        ca = gen.random_conditions(max(n, index_a + 1), seed_a)[index_a]
        cb = gen.random_conditions(max(n, index_b + 1), seed_b)[index_b]
        t = torch.linspace(0, 1, steps)[:, None]
        cond = (1 - t) * ca + t * cb
    return _generate(gen, steps, lambda lo, hi: (z[lo:hi], None if cond is None else cond[lo:hi], 0), plan, _uint8)
