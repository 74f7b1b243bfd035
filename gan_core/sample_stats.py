"""Cheap numbers about the fixed-noise samples, for gan_core.health to judge a run by.

At every sample-grid step the trainer already generates the fixed-noise batch; these
functions compare it with a fixed set of real items (spread evenly over the data, so
no random numbers are drawn and a resumed run logs the same values) and add these
numbers to the metrics row:

    diversity  mean pairwise distance between the samples / the same between real
               items: near 0 when G makes (nearly) the same thing for every z.
    noise      images only: how unlike a picture the samples are, from 0 to about
               1: the mean difference between neighbouring pixels divided by the
               mean difference between random pairs of pixels of the same image.
               Pictures are smooth, so neighbours are far closer than random pairs
               (0.3 for MNIST digits, 0.2 for faces at 32 px); in noise every pair
               is alike and it is 1, whatever the contrast.
    noise_real the same for the real items, to judge ``noise`` against.
    diversity_within
               conditional grids only: the same distance inside each class row of the
               grid (one y, a different z in every column), averaged over the rows,
               divided by the same inside each class of the real items (over all
               real items when the data has attributes, not classes). The grid's
               ``diversity`` counts the distance between classes and so cannot see a
               generator that ignores its noise and draws the same 7 every time;
               this is near 0 for one.

Together they cost a few milliseconds for 64 images, once per grid.
"""

from __future__ import annotations

import math

import torch

from .data.base import GanData


def reference_batch(data: GanData, n: int) -> torch.Tensor | None:
    """``n`` real items spread evenly over the data, (n, ...) on the CPU; None when
    the data has fewer than two items or no ``real`` key (paired data)."""
    count = len(data)
    n = min(n, count)
    if n < 2:
        return None
    items = [data.item(int(i)) for i in torch.linspace(0, count - 1, n).round().long()]
    if "real" not in items[0]:
        return None
    return torch.stack([item["real"].float() for item in items])


def reference_labels(data: GanData, n: int) -> torch.Tensor | None:
    """The class labels of ``reference_batch(data, n)``'s items, (n,); None when the data
    has no class labels (attributes, or none at all)."""
    count = len(data)
    n = min(n, count)
    if n < 2 or not data.class_names:
        return None
    items = [data.item(int(i)) for i in torch.linspace(0, count - 1, n).round().long()]
    if "label" not in items[0]:
        return None
    return torch.stack([torch.as_tensor(item["label"]).long() for item in items])


def _mean_distance(x: torch.Tensor) -> float:
    return float(torch.pdist(x.flatten(1).double()).mean())


def _within(x: torch.Tensor, groups: torch.Tensor) -> float | None:
    """Mean pairwise distance inside each group of at least two items, averaged over the groups."""
    spreads = [_mean_distance(x[groups == g]) for g in groups.unique() if int((groups == g).sum()) >= 2]
    return sum(spreads) / len(spreads) if spreads else None


def _noise(images: torch.Tensor) -> float | None:
    """Neighbouring-pixel difference over random-pair difference of (N, C, H, W); None
    for images without contrast (every pixel alike)."""
    flat = images.flatten(1)
    pairs = torch.randperm(flat.shape[1], generator=torch.Generator().manual_seed(0))  # fixed: same pairs every time
    spread = float((flat - flat[:, pairs]).abs().mean())
    if spread <= 1e-6:
        return None
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return float((dx + dy) / 2) / spread


@torch.no_grad()
def sample_stats(fake: torch.Tensor, real: torch.Tensor | None, groups: torch.Tensor | None = None,
                 real_labels: torch.Tensor | None = None) -> dict[str, float]:
    """``diversity`` of ``fake`` relative to ``real``, both (N, ...) with the same item
    shape, and for images ``noise`` and ``noise_real``; values that cannot be formed
    (fewer than two items, items all alike, non-finite samples) are left out.
    ``groups`` (len(fake),): the class row of each sample of a conditional grid, for
    ``diversity_within``, against ``real_labels`` (len(real),) when the data has classes."""
    if real is None or len(fake) < 2 or fake.shape[1:] != real.shape[1:]:
        return {}
    fake, real = fake.detach().float().cpu(), real.float().cpu()
    if not torch.isfinite(fake).all():
        return {}
    out = {}
    real_spread = _mean_distance(real)
    if real_spread > 0:
        out["diversity"] = _mean_distance(fake) / real_spread
    if groups is not None and len(groups) == len(fake):
        within = _within(fake, groups.cpu())
        real_within = _within(real, real_labels.cpu()) if real_labels is not None and len(real_labels) == len(real) else real_spread
        if within is not None and real_within:
            out["diversity_within"] = within / real_within
    if fake.dim() == 4 and min(fake.shape[-2:]) > 1:
        noise, noise_real = _noise(fake), _noise(real)
        if noise is not None and noise_real is not None:
            out.update(noise=noise, noise_real=noise_real)
    return {k: round(v, 4) for k, v in out.items() if math.isfinite(v)}


__all__ = ["reference_batch", "reference_labels", "sample_stats"]
