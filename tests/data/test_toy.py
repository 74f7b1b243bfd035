import math

import pytest
import torch

from gan_core.config import DataConfig
from gan_core.data import load_data, mode_centres, mode_sigma


def nearest_mode(points: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = torch.cdist(points, centres)
    dist, which = d.min(dim=1)
    return dist, which


def test_ring_8_follows_pacgan():
    data = load_data(DataConfig(name="ring-8", n_points=4000))
    x = data.tensors["real"]
    assert data.kind == "vector" and data.shape == (2,) and x.shape == (4000, 2) and x.dtype == torch.float32
    assert ((x.norm(dim=1) - 1).abs() < 0.1).all()
    centres = mode_centres("ring-8")
    assert centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.ones(8), atol=1e-6)
    # Evenly spaced: neighbouring centres are 45 degrees apart.
    angles = torch.atan2(centres[:, 1], centres[:, 0]).sort().values
    assert torch.allclose(angles.diff(), torch.full((7,), math.pi / 4), atol=1e-5)
    assert mode_sigma("ring-8") == 0.01
    dist, which = nearest_mode(x, centres)
    assert which.unique().numel() == 8
    # sigma 0.01: practically every point is "high quality" (within 3 sigma of its centre in each axis).
    assert (dist < 3 * 0.01 * math.sqrt(2)).float().mean() > 0.98


def test_grid_25_follows_pacgan():
    data = load_data(DataConfig(name="grid-25", n_points=5000))
    x = data.tensors["real"]
    centres = mode_centres("grid-25")
    assert centres.shape == (25, 2)
    assert sorted(set(centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert mode_sigma("grid-25") == 0.05
    dist, which = nearest_mode(x, centres)
    assert which.unique().numel() == 25
    assert dist.max() < 0.5


def test_toy_1d_has_three_separated_modes():
    data = load_data(DataConfig(name="toy-1d", n_points=3000))
    x = data.tensors["real"]
    assert data.shape == (1,) and x.shape == (3000, 1)
    centres = mode_centres("toy-1d")
    assert centres.flatten().tolist() == [-3.0, 0.0, 3.0]
    _, which = nearest_mode(x, centres)
    counts = torch.bincount(which, minlength=3)
    assert (counts > 800).all()
    assert abs(x[which == 0].std().item() - mode_sigma("toy-1d")) < 0.05


@pytest.mark.parametrize("name", ["spiral", "moons"])
def test_shapes_without_modes(name):
    data = load_data(DataConfig(name=name, n_points=1001))
    x = data.tensors["real"]
    assert x.shape == (1001, 2) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert mode_centres(name) is None and mode_sigma(name) is None


def test_spiral_winds_outwards():
    x = load_data(DataConfig(name="spiral", n_points=2000)).tensors["real"]
    r = x.norm(dim=1)
    assert r.max() < 2.3 and r.min() < 0.3  # from the centre out to radius ~2


def test_moons_are_two_half_circles():
    x = load_data(DataConfig(name="moons", n_points=2000)).tensors["real"] + torch.tensor([0.5, 0.25])
    upper_centre, lower_centre = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.5])
    on_upper = ((x - upper_centre).norm(dim=1) - 1).abs() < 0.25
    on_lower = ((x - lower_centre).norm(dim=1) - 1).abs() < 0.25
    assert (on_upper | on_lower).float().mean() > 0.99
    # Shuffled, so the first points (what --limit keeps) come from both moons.
    first = x[:100]
    assert (first[:, 1] > 0.5).any() and (first[:, 1] < 0).any()


@pytest.mark.parametrize("name", ["toy-1d", "ring-8", "grid-25", "spiral", "moons"])
def test_toy_data_is_the_same_every_time(name):
    a = load_data(DataConfig(name=name, n_points=500)).tensors["real"]
    torch.manual_seed(123)  # the global RNG must not matter
    b = load_data(DataConfig(name=name, n_points=500)).tensors["real"]
    assert torch.equal(a, b)


def test_mode_centres_is_a_copy():
    c = mode_centres("ring-8")
    c.zero_()
    assert mode_centres("ring-8").abs().sum() > 0
