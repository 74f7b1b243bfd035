"""Low-dimensional toy distributions, the standard test beds for mode collapse.

Each source draws ``cfg.n_points`` points once from a ``torch.Generator`` seeded by a
fixed constant, so a given ``n_points`` always gives the same data set; the training
seed only changes the order batches are drawn in.

``ring-8`` and ``grid-25`` follow the PacGAN protocol (Lin et al., 2018): 8 Gaussians
evenly on a circle of radius 1 with sigma 0.01, and 25 Gaussians centred on
{-4, -2, 0, 2, 4}^2 with sigma 0.05. A generated sample is "high quality" if it lies
within 3 sigma of its nearest centre and a mode is "covered" if at least one high-quality
sample is nearest to it (``gan_core.modes``);
``mode_centres`` and ``mode_sigma`` give a metrics module what it needs to count both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import DataConfig
from .base import GanData, register_source

_SEED = 20_240_601  # fixed: the toy data sets must not change from run to run


@dataclass(frozen=True)
class Mixture:
    """Equal-weight Gaussian mixture with isotropic sigma."""

    centres: torch.Tensor  # (K, D)
    sigma: float

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(self.centres), (n,), generator=generator)
        noise = torch.randn(n, self.centres.shape[1], generator=generator)
        return self.centres[which] + self.sigma * noise


def _ring(k: int = 8, radius: float = 1.0) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def _grid(values=(-4.0, -2.0, 0.0, 2.0, 4.0)) -> torch.Tensor:
    v = torch.tensor(values)
    return torch.cartesian_prod(v, v)


# Modes 6 sigma apart, so the 3-sigma "high quality" windows touch but never overlap.
TOY_1D = Mixture(torch.tensor([[-3.0], [0.0], [3.0]]), 0.5)
RING_8 = Mixture(_ring(), 0.01)
GRID_25 = Mixture(_grid(), 0.05)
_MIXTURES = {"toy-1d": TOY_1D, "ring-8": RING_8, "grid-25": GRID_25}


def mode_centres(name: str) -> torch.Tensor | None:
    """Centres (K, D) of a mixture source, or None for sources without discrete modes."""
    mix = _MIXTURES.get(name)
    return None if mix is None else mix.centres.clone()


def mode_sigma(name: str) -> float | None:
    """Standard deviation of each mixture component, or None for sources without modes."""
    mix = _MIXTURES.get(name)
    return None if mix is None else mix.sigma


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(_SEED)


def _points(name: str, points: torch.Tensor, description: str) -> GanData:
    points = points.float().contiguous()
    return GanData(name, "vector", tuple(points.shape[1:]), tensors={"real": points}, description=description)


@register_source(
    "toy-1d",
    "vector",
    "1-D mixture of 3 Gaussians with means -3, 0, 3 and sd 0.5",
    builtin=True,
    tags=("modes",),
)
def load_toy_1d(cfg: DataConfig) -> GanData:
    return _points("toy-1d", TOY_1D.sample(cfg.n_points, _generator()), f"{cfg.n_points} points from 3 Gaussians at -3, 0, 3 (sd 0.5)")


@register_source(
    "ring-8",
    "vector",
    "8 Gaussians on a circle of radius 1, sigma 0.01 (PacGAN's 2D-ring)",
    builtin=True,
    tags=("modes",),
)
def load_ring_8(cfg: DataConfig) -> GanData:
    return _points("ring-8", RING_8.sample(cfg.n_points, _generator()), f"{cfg.n_points} points from 8 Gaussians on the unit circle (sigma 0.01)")


@register_source(
    "grid-25",
    "vector",
    "25 Gaussians on the grid {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN's 2D-grid)",
    builtin=True,
    tags=("modes",),
)
def load_grid_25(cfg: DataConfig) -> GanData:
    return _points("grid-25", GRID_25.sample(cfg.n_points, _generator()), f"{cfg.n_points} points from 25 Gaussians on a 5x5 grid (sigma 0.05)")


@register_source(
    "spiral",
    "vector",
    "2-D Archimedean spiral of 1.5 turns out to radius 2, noise sd 0.05",
    builtin=True,
)
def load_spiral(cfg: DataConfig) -> GanData:
    g = _generator()
    # The arc length of r = t grows like t^2, so t = sqrt(u) spreads points evenly along the curve.
    t = 3 * math.pi * torch.rand(cfg.n_points, generator=g).sqrt()
    xy = torch.stack([t * t.cos(), t * t.sin()], dim=1) * (2 / (3 * math.pi))
    xy = xy + 0.05 * torch.randn(cfg.n_points, 2, generator=g)
    return _points("spiral", xy, f"{cfg.n_points} points on a noisy 2-D spiral")


@register_source(
    "moons",
    "vector",
    "two interleaving half circles (the shape of scikit-learn's make_moons), noise sd 0.05, centred",
    builtin=True,
)
def load_moons(cfg: DataConfig) -> GanData:
    g = _generator()
    n_upper = cfg.n_points // 2
    n_lower = cfg.n_points - n_upper
    a = math.pi * torch.rand(n_upper, generator=g)
    b = math.pi * torch.rand(n_lower, generator=g)
    upper = torch.stack([a.cos(), a.sin()], dim=1)
    lower = torch.stack([1 - b.cos(), 0.5 - b.sin()], dim=1)
    xy = torch.cat([upper, lower]) - torch.tensor([0.5, 0.25])  # centre the pair on the origin
    xy = xy + 0.05 * torch.randn(cfg.n_points, 2, generator=g)
    # Shuffle so that "first N points" (--limit) still contains both moons.
    xy = xy[torch.randperm(cfg.n_points, generator=g)]
    return _points("moons", xy, f"{cfg.n_points} points on two interleaving half circles")
