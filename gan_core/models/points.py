"""Models of the mode-collapse remedies (recipes ``pacgan`` and ``minibatch-std``).

PacGAN (Lin et al. 2018) changes only what the discriminator sees: m samples at
once, joined side by side, all real or all generated. ``Packed`` wraps any
discriminator built for m times the channels (or coordinates) of one sample, so
the objectives and the trainer stay the recipe-agnostic ones: a batch of N items
becomes N / m packed items before D sees it.

The minibatch standard deviation (Karras et al. 2018, "Progressive growing of
GANs", section 3) gives D one more feature: how much its features vary within a
small group of the batch. A generator that sends a group to one place makes that
number small, which D learns to reject.

On points both remedies build the models of PacGAN's (and VEEGAN's) 2-D
experiments: G of 4 ReLU layers with batch norm from a 2-D noise, D of 3 maxout
layers. A maxout D resolves the modes' tight clusters (sigma 0.05 on a grid 8
wide) far sooner than a ReLU D of the same cost, which matters for the share of
samples that land within 3 sigma of a mode (docs/BENCHMARKS.md, "Mode coverage").
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Maxout(nn.Module):
    """Linear to ``pieces`` x ``width`` units, then the max over each unit's pieces
    (Goodfellow et al. 2013): a learned convex piecewise-linear activation, the
    discriminator's unit in PacGAN's and VEEGAN's 2-D experiments."""

    def __init__(self, width_in: int, width: int, pieces: int):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(width_in, width * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), -1, self.pieces).amax(dim=2)  # (N, width)


class PointGenerator(nn.Module):
    """z -> ``depth`` x (Linear -> [BatchNorm] -> ReLU) of ``width`` -> Linear to the point."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int, depth: int = 3, batch_norm: bool = True):
        super().__init__()
        self.out_shape = tuple(out_shape)
        layers, width_in = [], z_dim
        for _ in range(depth):
            layers += [nn.Linear(width_in, width), *([nn.BatchNorm1d(width)] if batch_norm else []), nn.ReLU()]
            width_in = width
        self.net = nn.Sequential(*layers, nn.Linear(width, math.prod(self.out_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.out_shape)


class PointDiscriminator(nn.Module):
    """x (N, D) -> ``depth`` hidden layers of ``width`` maxout units (``pieces`` each;
    0 = ReLU) -> a logit (N,). ``group`` > 0 joins the minibatch standard deviation
    of the last hidden features to them before the logit."""

    def __init__(self, in_dim: int, width: int, depth: int = 2, pieces: int = 0, group: int = 0):
        super().__init__()
        self.group = group
        layers, width_in = [], in_dim
        for _ in range(depth):
            layers += [Maxout(width_in, width, pieces)] if pieces else [nn.Linear(width_in, width), nn.ReLU()]
            width_in = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width + (1 if group else 0), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x.flatten(1))  # (N, width)
        if self.group:
            h = torch.cat([h, minibatch_std(h, self.group)], dim=1)  # (N, width + 1)
        return self.head(h).squeeze(1)


def minibatch_std(h: torch.Tensor, group: int) -> torch.Tensor:
    """(N, F) features -> (N, 1): in each group of consecutive items (``group``
    items, or the largest divisor of N below it), the standard deviation of each
    feature over the group, averaged over features and given to every member."""
    n = len(h)
    g = math.gcd(n, group)
    std = h.view(n // g, g, -1).std(dim=1, unbiased=False).mean(dim=1, keepdim=True)  # (N / g, 1)
    return std.repeat_interleave(g, dim=0)


class Packed(nn.Module):
    """PacGAN's packing: (N, C, ...) -> (N / m, m * C, ...) before ``discriminator``,
    which was built for m * C input channels (or coordinates). Each packed item
    holds m consecutive samples, which are independent draws, all real or all fake."""

    def __init__(self, discriminator: nn.Module, m: int):
        super().__init__()
        self.m = m
        self.net = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        if n % self.m:
            raise ValueError(f"a batch of {n} does not split into packs of {self.m}")
        return self.net(x.reshape(n // self.m, self.m * x.shape[1], *x.shape[2:]))  # (N / m,) logits
