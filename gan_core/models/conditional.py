"""Conditional GANs: G(z, y) and D(x, y), where y is a condition vector.

One representation for every kind of condition: y is a float vector of length
``cond_dim``, one-hot for a class (K classes -> K entries) and 0/1 per chosen
attribute for multi-label data (CelebA's Smiling, Young, ...). Because y is a
plain vector, a morph between two conditions is a straight line between two such
vectors, fed to the same G.

MLP (Mirza & Osindero 2014): y is joined to z in G and to the flattened x in D.
Conv: y is joined to z as extra input channels of G's first transposed conv (a
learned linear embedding of the label, like the paper's joint hidden layer), and
D is a projection discriminator (Miyato & Koyama 2018):
    D(x, y) = psi(phi(x)) + <E y, sum_hw phi(x)>
which asks D "is this a real x *of class y*" without concatenating y to pixels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .dcgan import _doublings, _norm


class CondMLPGenerator(nn.Module):
    def __init__(self, z_dim: int, cond_dim: int, out_shape: tuple[int, ...], width: int = 256, image: bool = True):
        super().__init__()
        self.z_dim, self.cond_dim, self.out_shape = z_dim, cond_dim, tuple(out_shape)
        layers, width_in = [], z_dim + cond_dim
        for i in range(3):
            width_out = width * 2**i
            layers += [nn.Linear(width_in, width_out), nn.LeakyReLU(0.2), nn.BatchNorm1d(width_out, momentum=0.2)]
            width_in = width_out
        layers.append(nn.Linear(width_in, math.prod(self.out_shape)))
        if image:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # (N, z_dim) + (N, cond_dim) -> (N, *out_shape)
        return self.net(torch.cat([z, cond.to(z.dtype)], dim=1)).view(len(z), *self.out_shape)


class CondMLPDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], cond_dim: int, width: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(math.prod(in_shape) + cond_dim, 2 * width), nn.LeakyReLU(0.2),
            nn.Linear(2 * width, width), nn.LeakyReLU(0.2),
            nn.Linear(width, 1),
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), cond.to(x.dtype)], dim=1)).squeeze(1)  # (N,) logits


class CondDCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, cond_dim: int, channels: int, image_size: int, width: int = 64):
        super().__init__()
        self.z_dim, self.cond_dim = z_dim, cond_dim
        n = _doublings(image_size)
        ch = width * 2 ** (n - 1)
        # (z_dim + cond_dim) x 1 x 1 -> (width * 2^(n-1)) x 4 x 4: the condition enters with the noise
        layers = [nn.ConvTranspose2d(z_dim + cond_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            # ch x s x s -> (ch/2) x 2s x 2s
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        # width x (size/2) x (size/2) -> channels x size x size, in [-1, 1]
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        zc = torch.cat([z, cond.to(z.dtype)], dim=1)
        return self.net(zc.view(len(z), self.z_dim + self.cond_dim, 1, 1))


class ProjectionDiscriminator(nn.Module):
    def __init__(self, channels: int, cond_dim: int, image_size: int, width: int = 64, norm: str = "batch"):
        super().__init__()
        n = _doublings(image_size)
        # channels x size x size -> width x size/2 x size/2 (no norm on the first layer, as in DCGAN)
        layers = [nn.Conv2d(channels, width, 4, 2, 1, bias=norm != "batch"), nn.LeakyReLU(0.2, True)]
        ch, size = width, image_size // 2
        for _ in range(n - 1):
            # ch x s x s -> 2ch x s/2 x s/2
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"), _norm(norm, ch * 2, size // 2), nn.LeakyReLU(0.2, True)]
            ch, size = ch * 2, size // 2
        self.features = nn.Sequential(*layers)  # phi(x): (width * 2^(n-1)) x 4 x 4
        self.out = nn.Conv2d(ch, 1, 4, 1, 0)  # psi: the unconditional realism logit
        self.embed = nn.Linear(cond_dim, ch, bias=False)  # E: one row per class / attribute

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        projection = (self.embed(cond.to(h.dtype)) * h.sum(dim=(2, 3))).sum(dim=1)
        return self.out(h).view(len(x)) + projection
