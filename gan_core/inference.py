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

from . import checkpoints
from .config import Config, DataKind
from .data.base import DataInfo
from .errors import CheckpointError, ConfigError
from .objectives import ConditionalObjective, Objective
from .recipes import RECIPES
from .samples import grid_array, to_uint8


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
        index = classes.index(text) if text in classes else int(text) if text.lstrip("-").isdigit() else -1
        if not 0 <= index < k:
            raise ConfigError(f"Class {text!r} is not one of {name}'s classes: "
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


def _as_cond(cond) -> torch.Tensor | None:
    return None if cond is None else torch.as_tensor(np.asarray(cond, dtype=np.float32))


def sample_tensor(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, cond=None) -> torch.Tensor:
    """n raw samples (N, C, H, W) in [-1, 1] or (N, D); ``cond`` for conditional models."""
    return gen.from_noise(gen.noise(n, seed, truncation), _as_cond(cond), seed)


def sample(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, cond=None) -> np.ndarray:
    """n samples: (n, H, W, C) uint8 images, or (n, D) float points. ``cond`` (from
    ``condition_vector``) fixes what a conditional model makes; unset, it is random."""
    out = sample_tensor(gen, n, seed, truncation, cond)
    return to_uint8(out) if gen.kind == DataKind.IMAGE else out.float().numpy()


def sample_grid(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, nrow: int | None = None, cond=None) -> np.ndarray:
    """n samples as one (H, W, 3) uint8 grid image."""
    if gen.kind != DataKind.IMAGE:
        raise CheckpointError(f"{gen.path.name} generates points, not images; plot its samples instead of a grid.")
    return grid_array(sample_tensor(gen, n, seed, truncation, cond), nrow or max(1, int(math.ceil(math.sqrt(n)))))


def condition_rows(gen: Generator, conds, cols: int, seed: int = 0, truncation: float = 1.0) -> np.ndarray:
    """One row per condition with the same noise in every column, so only the
    condition changes down a column: (len(conds) * cols, H, W, C) uint8, row by row."""
    conds = torch.as_tensor(np.asarray(conds, dtype=np.float32))
    z = gen.noise(cols, seed, truncation).repeat(len(conds), 1)
    return to_uint8(gen.from_noise(z, conds.repeat_interleave(cols, dim=0)))


def morph(gen: Generator, cond_a, cond_b, steps: int = 8, seed: int = 0, index: int = 0, truncation: float = 1.0) -> np.ndarray:
    """The same noise (sample ``index`` of ``seed``) while the condition moves in a
    straight line from ``cond_a`` to ``cond_b``: (steps, H, W, C) uint8."""
    z = gen.noise(index + 1, seed, truncation)[index : index + 1].repeat(steps, 1)
    t = torch.linspace(0, 1, steps)[:, None]
    a, b = _as_cond(cond_a), _as_cond(cond_b)
    return to_uint8(gen.from_noise(z, (1 - t) * a + t * b))


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
    za = gen.noise(max(n, index_a + 1), seed_a, truncation)[index_a]
    zb = gen.noise(max(n, index_b + 1), seed_b, truncation)[index_b]
    z = torch.stack([slerp(za, zb, i / (steps - 1)) for i in range(steps)])
    cond = None
    if gen.conditional:  # the two samples' own conditions, blended like the noise
        ca = gen.random_conditions(max(n, index_a + 1), seed_a)[index_a]
        cb = gen.random_conditions(max(n, index_b + 1), seed_b)[index_b]
        t = torch.linspace(0, 1, steps)[:, None]
        cond = (1 - t) * ca + t * cb
    return to_uint8(gen.from_noise(z, cond))
