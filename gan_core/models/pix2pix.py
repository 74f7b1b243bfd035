"""Pix2Pix (Isola et al. 2017) as in junyanz/pytorch-CycleGAN-and-pix2pix.

U-Net generator
    ``depth`` = log2(crop size) stride-2 4x4 convolutions take a crop down to 1 x 1
    (the reference's unet_256 is depth 8 for 256 px, unet_128 depth 7); channels
    double from ``width`` up to 8 x width and stay there. The decoder mirrors the
    encoder with transposed convolutions; with skips (``skips=True``), each decoder
    block also sees the encoder features of its level, concatenated on the channel
    axis. The encoder-decoder of the paper's ablation is the same network without
    them. LeakyReLU(0.2) down, ReLU up, no norm on the outermost down conv and the
    innermost down conv, tanh out. Dropout(0.5) in the decoder blocks of up to three
    levels just above the innermost one, never in the two outermost levels (decoder
    block i is level i; the innermost is depth - 1). At 256 px (depth 8) these are
    the reference's three. The reference's rule (its num_downs - 5 blocks of 8 x width
    above the innermost: levels 4 to depth - 2) gives fewer below 256 px and none
    below 64; this model keeps dropout, pix2pix's only randomness, in small models too:

        crop    depth   dropout at levels   the reference's
        16 px   4       2                   none
        32 px   5       2, 3                none
        64 px   6       2, 3, 4             4
        128 px  7       3, 4, 5             4, 5
        256 px  8       4, 5, 6             4, 5, 6

    ``residual=True`` (restoration kinds such as sr4, ``paired.PairKind.residual``):
    the output is the input plus the network's tanh correction, clamped to [-1, 1],
    so an untrained model starts as the identity and every level only learns what the
    input lacks. Same parameters, so checkpoints of other kinds load unchanged.

    Fully convolutional: a generator of depth d runs on any H x W that are
    multiples of 2^d (the bottleneck is then (H / 2^d) x (W / 2^d) instead of 1 x 1).

    ``innermost`` > 1 stops the encoder at that side (at the crop size) instead of
    1 x 1: ``innermost=2`` is one level fewer. A 1 x 1 innermost level at the crop
    size is one number per channel for the whole crop, so the network learns where
    the crop's borders are and colours them differently (the grey model's band at the
    right border, docs/BENCHMARKS.md); at 2 x 2 and above every innermost value comes
    from a padded border and from the inside alike.

    ``lab=True`` (the ``lab`` pair kind, the reference's colorization_model): the
    source is a grey picture (1 channel) and the network predicts only its CIELAB
    a*b* (2 channels, ``chroma``); ``compose`` puts them together with the grey
    picture's own lightness L* into RGB, so brightness and structure are the input's
    whatever the network does. ``forward`` is ``compose(x, chroma(x))``, so the
    objective, the discriminator and the live grid see RGB as for any colour model.
    The buffer ``default_strength`` is the colour strength chosen on the validation
    photographs (benchmarks/colour_eval.py writes it into the shipped file); a
    checkpoint carries it.

PatchGAN discriminator (the reference's NLayerDiscriminator)
    Sees the channel-concatenation of (source, target or output) and returns one
    logit per overlapping patch: with n_layers = 3 each output sees 70 x 70 input
    pixels and a 256 px pair gives a 30 x 30 map. A 16 px crop is too small for
    three stride-2 layers, so crops under 32 px use n_layers = 2 (34 x 34 patches).

Norm: BatchNorm (the reference's default for pix2pix, convs then have no bias) or
InstanceNorm without affine parameters (``--norm instance`` in the reference, convs
with bias; ``--norm`` on the command line). Inference runs in eval mode: BatchNorm
uses its running statistics, which are the same for every tile of a large image, so
tiled translation has no seams (see translate.py). A batch-norm model trained at
batch 1-2 (the paper's setting) normalised each picture by its own statistics in
training and is translated with running averages that fit no one picture (the
reference has the same choice: its ``--eval``); train such a model with
``--norm instance``, which normalises the same way in training and translation.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def unet_depth(image_size: int) -> int:
    """Stride-2 levels that take a crop of ``image_size`` down to 1 x 1."""
    depth = int(round(math.log2(image_size)))
    if 2**depth != image_size or depth < 4:
        raise ValueError(f"pix2pix crops must be a power of two of at least 16 pixels, not {image_size}")
    return depth


def patch_layers(image_size: int) -> int:
    """The PatchGAN's stride-2 layers: 3 (70 x 70 patches) from 32 px up, 2 below."""
    return 3 if image_size >= 32 else 2


AB_SCALE = 110.0  # a*b* = tanh * AB_SCALE: the sRGB gamut's a* and b* lie within about +-110
# sRGB (D65) linear RGB <-> XYZ, and the white point (Xn, Yn, Zn).
_XYZ_TO_RGB = ((3.2404542, -1.5371385, -0.4985314), (-0.9692660, 1.8760108, 0.0415560), (0.0556434, -0.2040259, 1.0572252))
_WHITE = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def srgb_to_linear(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v <= 0.04045, v / 12.92, ((v.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v <= 0.0031308, v * 12.92, 1.055 * v.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _DELTA, t.clamp(min=_DELTA) ** 3, 3 * _DELTA**2 * (t - 4.0 / 29.0))


def lab_compose(grey: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """A grey picture's lightness with colour: grey (N, 1, H, W) in [-1, 1] and a*b*
    (N, 2, H, W) in CIELAB units -> RGB (N, 3, H, W) in [-1, 1]. The lightness L* is the
    grey picture's (a grey pixel g has L* of sRGB (g, g, g)); with ab = 0 the result is
    the grey picture itself (the matrix is normalised so that white maps to white
    exactly). Out-of-gamut colours are clipped in linear RGB."""
    y = srgb_to_linear((grey + 1) / 2)  # (N, 1, H, W): relative luminance Y of the grey pixel
    fy = torch.where(y > _DELTA**3, y.clamp(min=_DELTA**3) ** (1 / 3), y / (3 * _DELTA**2) + 4.0 / 29.0)
    fx, fz = fy + ab[:, :1] / 500.0, fy - ab[:, 1:2] / 200.0
    xyz = torch.cat([_WHITE[0] * _f_inv(fx), y, _WHITE[2] * _f_inv(fz)], dim=1)
    m = torch.tensor(_XYZ_TO_RGB, dtype=xyz.dtype, device=xyz.device)
    white = m @ torch.tensor(_WHITE, dtype=xyz.dtype, device=xyz.device)
    rgb = torch.einsum("ij,njhw->nihw", m / white[:, None], xyz).clamp(0.0, 1.0)
    return linear_to_srgb(rgb) * 2 - 1


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    raise ValueError(f"unknown norm {kind!r}")


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, image_size: int, width: int = 64,
                 skips: bool = True, norm: str = "batch", dropout: float = 0.5, residual: bool = False,
                 innermost: int = 1, lab: bool = False):
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError("a residual U-Net needs as many input channels as output channels")
        if lab and (in_channels, out_channels) != (1, 3):
            raise ValueError("a Lab U-Net takes a grey picture and makes a colour one")
        self.depth = unet_depth(image_size) - int(round(math.log2(innermost)))
        if 2 ** int(round(math.log2(innermost))) != innermost or self.depth < 3:
            raise ValueError(f"the innermost side must be a power of two well below the crop, not {innermost}")
        self.skips = skips
        self.residual = residual
        self.lab = lab
        if lab:
            self.register_buffer("default_strength", torch.tensor(1.0))
            out_channels = 2  # a*b*: the lightness is the input's
        d = self.depth
        bias = norm != "batch"
        ch = [width * 2 ** min(i, 3) for i in range(d)]  # output channels of encoder level i
        down = []
        for i in range(d):
            if i == 0:
                # in_channels x H x W -> ch0 x H/2 x W/2: no norm on the outermost conv
                down.append(nn.Sequential(nn.Conv2d(in_channels, ch[0], 4, 2, 1, bias=bias)))
            elif i == d - 1:
                # ch[d-2] x 2i x 2i -> ch[d-1] x i x i (i = innermost, at the crop size): the innermost has no norm
                down.append(nn.Sequential(nn.LeakyReLU(0.2, True), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias)))
            else:
                # ch[i-1] x s x s -> ch[i] x s/2 x s/2
                down.append(nn.Sequential(nn.LeakyReLU(0.2, True), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias),
                                          _norm(norm, ch[i])))
        dropped = set(range(max(2, d - 4), d - 1))  # up to three blocks above the innermost, not in levels 0 and 1
        up = []
        for i in range(d):
            # Decoder block i takes level i's resolution back to level i-1's, doubling H and W.
            into = ch[i] if (i == d - 1 or not skips) else 2 * ch[i]  # the innermost has nothing to concatenate
            if i == 0:
                # (2 x) ch0 x H/2 x W/2 -> out_channels x H x W in [-1, 1]
                up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(into, out_channels, 4, 2, 1), nn.Tanh()))
            else:
                # (2 x) ch[i] x s x s -> ch[i-1] x 2s x 2s
                block = [nn.ReLU(True), nn.ConvTranspose2d(into, ch[i - 1], 4, 2, 1, bias=bias), _norm(norm, ch[i - 1])]
                if i in dropped and dropout > 0:
                    block.append(nn.Dropout(dropout))
                up.append(nn.Sequential(*block))
        self.down = nn.ModuleList(down)
        self.up = nn.ModuleList(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, in_channels, H, W) with H, W multiples of 2^depth -> (N, out_channels, H, W)
        if self.lab:
            return lab_compose(x, self.chroma(x))
        return self._unet(x)

    def chroma(self, x: torch.Tensor) -> torch.Tensor:
        """A Lab model's a*b* for grey x: (N, 1, H, W) in [-1, 1] -> (N, 2, H, W) in CIELAB units."""
        return self._unet(x) * AB_SCALE

    def _unet(self, x: torch.Tensor) -> torch.Tensor:
        features = []
        h = x
        for block in self.down:
            h = block(h)
            features.append(h)  # level i: (N, ch[i], H / 2^(i+1), W / 2^(i+1))
        for i in reversed(range(self.depth)):
            if self.skips and i < self.depth - 1:
                h = torch.cat([features[i], h], dim=1)  # the skip connection: (N, 2 ch[i], ...)
            h = self.up[i](h)
        if self.residual:
            return (x + h).clamp(-1.0, 1.0)  # the input plus the learned correction
        return h  # (N, out_channels, H, W) in [-1, 1]


class PatchDiscriminator(nn.Module):
    def __init__(self, source_channels: int, target_channels: int, image_size: int, width: int = 64,
                 norm: str = "batch", n_layers: int | None = None):
        super().__init__()
        n_layers = n_layers or patch_layers(image_size)
        bias = norm != "batch"
        # (source + target) x H x W -> width x H/2 x W/2, no norm on the first layer
        layers = [nn.Conv2d(source_channels + target_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            # width*mult x s x s -> width*min(2^n, 8) x s/2 x s/2
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(width * prev, width * mult, 4, 2, 1, bias=bias), _norm(norm, width * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        # stride 1: s x s -> (s-1) x (s-1)
        layers += [nn.Conv2d(width * prev, width * mult, 4, 1, 1, bias=bias), _norm(norm, width * mult), nn.LeakyReLU(0.2, True)]
        # stride 1: (s-1) -> (s-2), one logit per patch (30 x 30 for 256 px and n_layers 3)
        layers.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        # (N, Cs, H, W) + (N, Ct, H, W) -> (N, 1, H / 2^n_layers - 2, W / 2^n_layers - 2) patch logits
        return self.net(torch.cat([source, image.to(source.dtype)], dim=1))
