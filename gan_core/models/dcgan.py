"""DCGAN (Radford et al. 2015): strided (transposed) convolutions, batch norm,
ReLU in G and LeakyReLU(0.2) in D, no pooling or fully-connected hidden layers.

Sizes are powers of two from 16 up: G starts at 4 x 4 and doubles until
image_size; D mirrors it. The critic of WGAN-GP must not use batch norm (the
penalty is per sample), so D takes ``norm="none"`` or ``"layer"`` for it.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _doublings(image_size: int) -> int:
    n = int(math.log2(image_size)) - 2  # 4 x 4 -> image_size
    assert 2 ** (n + 2) == image_size and n >= 2, f"image_size must be a power of two >= 16, got {image_size}"
    return n


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, image_size: int, width: int = 64, cond_dim: int = 0):
        super().__init__()
        self.z_dim, self.cond_dim = z_dim, cond_dim
        n = _doublings(image_size)
        ch = width * 2 ** (n - 1)
        # z (joined by a cGAN's condition y): (z_dim + cond_dim) x 1 x 1 -> (width * 2^(n-1)) x 4 x 4
        layers = [nn.ConvTranspose2d(z_dim + cond_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            # ch x s x s -> (ch/2) x 2s x 2s
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        # width x (size/2) x (size/2) -> channels x size x size, in [-1, 1]
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            z = torch.cat([z, cond.to(z.dtype)], dim=1)
        return self.net(z.view(len(z), self.z_dim + self.cond_dim, 1, 1))


def _norm(kind: str, ch: int, size: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)  # layer norm over (C, H, W), what the WGAN-GP paper suggests
    return nn.Identity()


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, image_size: int, width: int = 64, norm: str = "batch"):
        super().__init__()
        n = _doublings(image_size)
        # channels x size x size -> width x size/2 x size/2 (no norm on the first layer, as in DCGAN)
        layers = [nn.Conv2d(channels, width, 4, 2, 1, bias=norm != "batch"), nn.LeakyReLU(0.2, True)]
        ch, size = width, image_size // 2
        for _ in range(n - 1):
            # ch x s x s -> 2ch x s/2 x s/2
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"), _norm(norm, ch * 2, size // 2), nn.LeakyReLU(0.2, True)]
            ch, size = ch * 2, size // 2
        # (width * 2^(n-1)) x 4 x 4 -> 1 x 1 x 1: one logit / critic value per image
        layers.append(nn.Conv2d(ch, 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(len(x))


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN init: conv weights ~ N(0, 0.02); norm scales ~ N(1, 0.02), shifts 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
