"""Conditional GANs: G(z, y) and D(x, y), where y is a condition vector.

One representation for every kind of condition: y is a float vector of length
``cond_dim``, one-hot for a class (K classes -> K entries) and 0/1 per chosen
attribute for multi-label data (CelebA's Smiling, Young, ...). Because y is a
plain vector, a morph between two conditions is a straight line between two such
vectors, fed to the same G.

MLP (Mirza & Osindero 2014): y is joined to z in G and to the flattened x in D
(models/mlp.py with ``cond_dim``). Conv: y is joined to z as extra input channels of
G's first transposed conv (models/dcgan.py with ``cond_dim``: a learned linear
embedding of the label, like the paper's joint hidden layer), and D is a projection
discriminator (Miyato & Koyama 2018), here:
    D(x, y) = psi(phi(x)) + <E y, sum_hw phi(x)>
which asks D "is this a real x *of class y*" without concatenating y to pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from .dcgan import DCGANDiscriminator


class ProjectionDiscriminator(DCGANDiscriminator):
    """DCGAN's discriminator whose last layer is psi, plus the class embedding E:
    phi(x) is everything before that last layer, (width * 2^(n-1)) x 4 x 4."""

    def __init__(self, channels: int, cond_dim: int, image_size: int, width: int = 64, norm: str = "batch"):
        super().__init__(channels, image_size, width, norm)
        self.embed = nn.Linear(cond_dim, self.net[-1].in_channels, bias=False)  # one row per class / attribute

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.net[:-1](x)
        projection = (self.embed(cond.to(h.dtype)) * h.sum(dim=(2, 3))).sum(dim=1)
        return self.net[-1](h).view(len(x)) + projection
