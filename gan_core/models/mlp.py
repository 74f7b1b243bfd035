"""The original fully-connected GAN, shaped like the Keras article in the seeds.

G: z (100) -> 3 blocks of Dense -> LeakyReLU(0.2) -> BatchNorm with growing width
   (256, 512, 1024 at width 256) -> Dense to the flattened output -> tanh for images.
D: flatten -> Dense 2w -> LeakyReLU -> Dense w -> LeakyReLU -> Dense 1 (a logit;
   the sigmoid lives in the loss, which is the numerically stable form of BCE).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int = 256, image: bool = True, cond_dim: int = 0):
        super().__init__()
        self.z_dim, self.out_shape, self.cond_dim = z_dim, tuple(out_shape), cond_dim
        # cGAN (Mirza & Osindero): the condition vector y is joined to z at the input.
        layers, width_in = [], z_dim + cond_dim
        for i in range(3):
            width_out = width * 2**i
            # Keras BatchNormalization(momentum=0.8) keeps 80% of the old statistic: torch's momentum 0.2.
            layers += [nn.Linear(width_in, width_out), nn.LeakyReLU(0.2), nn.BatchNorm1d(width_out, momentum=0.2)]
            width_in = width_out
        layers.append(nn.Linear(width_in, math.prod(self.out_shape)))
        if image:
            layers.append(nn.Tanh())  # images live in [-1, 1]; toy points are unbounded
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            z = torch.cat([z, cond.to(z.dtype)], dim=1)
        return self.net(z).view(len(z), *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], width: int = 256, cond_dim: int = 0):
        super().__init__()
        self.cond_dim = cond_dim  # cGAN: y is joined to the flattened x
        self.net = nn.Sequential(
            nn.Linear(math.prod(in_shape) + cond_dim, 2 * width),
            nn.LeakyReLU(0.2),
            nn.Linear(2 * width, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, 1),
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = x.flatten(1)
        if self.cond_dim:
            x = torch.cat([x, cond.to(x.dtype)], dim=1)
        return self.net(x).squeeze(1)  # (N,) logits
