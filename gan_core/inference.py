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
from .config import Config
from .data.base import DataInfo
from .errors import CheckpointError, ConfigError
from .recipes import RECIPES, Objective
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

    @torch.no_grad()
    def from_noise(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)


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
    if ckpt.data.kind not in r.kinds or (ckpt.config.model.arch == "conv" and ckpt.data.kind != "image"):
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


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> Generator:
    return load_generator(path)


def cached_generator(path: str | Path) -> Generator:
    """load_generator, reused while the file is unchanged (keyed by path and mtime)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise CheckpointError(f"Checkpoint {path} does not exist; pick another one.") from None
    return _cached(str(path), mtime)


def sample(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0) -> np.ndarray:
    """n samples: (n, H, W, C) uint8 images, or (n, D) float points."""
    out = gen.from_noise(gen.noise(n, seed, truncation))
    return to_uint8(out) if gen.kind == "image" else out.float().numpy()


def sample_grid(gen: Generator, n: int, seed: int = 0, truncation: float = 1.0, nrow: int | None = None) -> np.ndarray:
    """n samples as one (H, W, 3) uint8 grid image."""
    if gen.kind != "image":
        raise CheckpointError(f"{gen.path.name} generates points, not images; plot its samples instead of a grid.")
    return grid_array(gen.from_noise(gen.noise(n, seed, truncation)), nrow or max(1, int(math.ceil(math.sqrt(n)))))


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
    return to_uint8(gen.from_noise(z))
