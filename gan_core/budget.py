"""Every request has a budget: its peak memory, computed from its shape before anything is allocated.

Pure arithmetic (no torch, no numpy). The engine's calls that allocate in proportion
to what a visitor asks for (``inference``'s sampling, grids, rows and morphs;
``translate``'s pictures; ``pictures``' grids, enlargements and GIFs) ask this module
what the request will cost and then either do it, do it in chunks whose peak fits
(when the result itself is small), or refuse in one sentence naming the request and
the limit. The limit is ``settings.memory_budget_mb()`` (``GAN_WORKBENCH_MEMORY_BUDGET``,
256 MB in demo mode, 2048 MB otherwise; docs/DEPLOY.md says why).

The model of a generator's forward pass (``generator_peak``): under no_grad each layer
holds its input and its output at once, and a transposed convolution on the CPU also a
column buffer of 4 x its output (k = 4, stride 2: C_out * 16 * H_in * W_in); the peak
is the largest layer's sum, times ``SAFETY``. Measured against peak RSS growth per
sample (``benchmarks/budget_peaks.py``: the slope between two batch sizes, each in a
fresh process, 1 thread) on torch 2.14.1 CPU:

    generator                              estimated   measured   estimate / measured
    dcgan 32 px grey, width 32 (dcgan-faces-lfw)  220 KB     127 KB     1.7
    dcgan 64 px colour, width 64                   2.0 MB     1.0 MB     1.7
    dcgan 128 px colour, width 64                  6.9 MB     3.8 MB     1.8
    dcgan 256 px colour, width 64                   28 MB      10 MB     2.3 to 3.0 (two runs)
    mlp 28 px grey, width 256, 10 classes (cgan-mnist)  13 KB  12 KB     1.1
    mlp 64 px colour, width 256                    125 KB     102 KB     1.2

(RELIABILITY "Every request has a budget" has the command and the end-to-end peaks.)
So the estimate is conservative (never under) and within about 3x: a request the
model refuses would have needed at least a third of what the sentence says. Chunks
are sized to half the room the result leaves (``plan_samples``), because freed
blocks do not always come back whole; translations are 1.3 to 1.7x their measured
peaks (RELIABILITY).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError
from .settings import memory_budget_mb

MB = 2**20
FLOAT = 4  # bytes of a float32
SAFETY = 1.25  # over the layer model: the allocator's slack and buffers the model does not name
OVERHEAD = 2 * MB  # any sampling request's own small change: index tensors, numpy views, the libraries' scratch


def limit() -> int:
    """This server's memory budget per request, in bytes."""
    return memory_budget_mb() * MB


def size_text(n: int | float) -> str:
    """Bytes as a person reads them: 840 KB, 256 MB, 6.3 GB."""
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GB"
    if n >= MB:
        return f"{n / MB:,.0f} MB"
    return f"{max(1, math.ceil(n / 1024)):,} KB"


class BudgetError(ConfigError):
    """A request that would need more memory than this server allows one request."""


def refuse(what: str, need: int, fix: str, budget: int | None = None) -> BudgetError:
    """The one sentence: "<what> needs about <need>, more than this server's <budget> per
    request; <fix>." (returned, for the caller to raise)."""
    budget = limit() if budget is None else budget
    return BudgetError(f"{what} needs about {size_text(need)}, more than this server's {size_text(budget)} per request; {fix}.")


def check(what: str, need: int, fix: str, budget: int | None = None) -> None:
    """Refuse (``BudgetError``) when ``need`` bytes exceed the budget."""
    budget = limit() if budget is None else budget
    if need > budget:
        raise refuse(what, need, fix, budget)


def pixels_text(height: int, width: int) -> str:
    return f"{width:,} × {height:,} px" if height != width else f"{width:,} px"


# ----------------------------------------------------------------------------- generators


@dataclass(frozen=True)
class GeneratorShape:
    """What the cost of a generator depends on, from its config alone."""

    arch: str  # "conv" (DCGAN), anything else is fully connected (MLP, PacGAN's points)
    out_shape: tuple[int, ...]  # (C, H, W) for images, (D,) for points
    width: int  # the model's width (DCGAN's ngf; the MLP's first hidden layer)
    z_dim: int
    cond_dim: int = 0

    @property
    def image(self) -> bool:
        return len(self.out_shape) == 3

    @property
    def out_numel(self) -> int:
        return math.prod(self.out_shape)

    def describe(self) -> str:
        if self.image:
            c, h, w = self.out_shape
            return f"{'grey' if c == 1 else 'colour'} images of {pixels_text(h, w)}"
        return f"{self.out_shape[0]}-D points"


def _conv_layers(g: GeneratorShape) -> list[int]:
    """Floats live at each step of DCGAN's generator (models/dcgan.py), per sample."""
    c, size, _ = g.out_shape
    n = max(2, int(round(math.log2(max(size, 16)))) - 2)
    ch, s = g.width * 2 ** (n - 1), 4
    out = ch * s * s
    steps = [g.z_dim + g.cond_dim + out + out, 2 * out]  # 1 x 1 -> 4 x 4 (columns = its output), BatchNorm
    for _ in range(n - 1):
        prev, ch, s = out, ch // 2, s * 2
        out = ch * s * s
        steps += [prev + out + 4 * out, 2 * out]  # transposed conv with its column buffer; BatchNorm
    last = c * size * size
    steps += [out + last + 4 * last, 2 * last]  # to the image; tanh
    return steps


def _mlp_layers(g: GeneratorShape) -> list[int]:
    """Floats live at each step of the fully-connected generators (models/mlp.py; points.py is narrower)."""
    widths = [g.width, 2 * g.width, 4 * g.width]
    steps, prev = [], g.z_dim + g.cond_dim
    for w in widths:
        steps += [prev + 2 * w, 2 * w, 2 * w]  # Linear (its output and the bias's broadcast), LeakyReLU, BatchNorm
        prev = w
    return steps + [prev + 2 * g.out_numel, 2 * g.out_numel]


def generator_peak(g: GeneratorShape) -> int:
    """Estimated peak bytes of one sample's forward pass (including its float32 output)."""
    steps = _conv_layers(g) if g.arch == "conv" and g.image else _mlp_layers(g)
    return math.ceil(max(steps) * FLOAT * SAFETY)


@dataclass(frozen=True)
class Plan:
    """How a request of ``n`` samples is done: in chunks of ``chunk``, peaking near ``peak`` bytes."""

    n: int
    chunk: int
    peak: int


def plan_samples(g: GeneratorShape, n: int, *, what: str, fix: str, result_per_sample: int | None = None,
                 kept: int = 0, budget: int | None = None) -> Plan:
    """Chunks for generating ``n`` samples of ``g`` within the budget, or a refusal.

    ``result_per_sample``: bytes of the result each sample leaves behind (default its
    uint8 image, or float32 point); ``kept``: other bytes held for the whole request
    (the noise, a grid). The result and ``kept`` must fit on their own; the rest of the
    budget bounds the chunk, whose transient cost is the forward pass, or the float
    copies that turn its output into uint8, whichever is larger."""
    budget = limit() if budget is None else budget
    if n < 1:
        raise ConfigError(f"{what} asks for {n:,} samples; ask for at least one.")
    per_result = result_per_sample if result_per_sample is not None else g.out_numel * (1 if g.image else FLOAT)
    held = n * per_result + kept + OVERHEAD
    transient = max(generator_peak(g), 3 * g.out_numel * FLOAT + g.out_numel)
    if held + transient > budget:
        raise refuse(what, held + transient, fix, budget)
    # Half the room is left to the allocator: the chunks' freed blocks do not always come
    # back whole (measured: 100 classes x 8 columns at 256 px peaked 5% over a plan sized
    # to the whole room; 20,000 cgan-mnist digits 13% over a 32 MB budget with an eighth
    # left, and 2% over 64 MB with a quarter left).
    chunk = max(1, min(n, (budget - held) // 2 // transient))
    return Plan(n, chunk, held + chunk * transient)


def noise_bytes(g: GeneratorShape, n: int) -> int:
    """The noise (and random one-hot conditions, drawn as int64 first) for ``n`` samples."""
    return n * (g.z_dim * FLOAT + g.cond_dim * (FLOAT + 8) + 8)


def grid_bytes(n: int, channels: int, height: int, width: int, nrow: int, padding: int = 2) -> int:
    """A uint8 grid of ``n`` images in rows of ``nrow`` (torchvision's layout, colour)."""
    cols = max(1, min(nrow, n))
    rows = math.ceil(n / cols)
    return 3 * (rows * (height + padding) + padding) * (cols * (width + padding) + padding) if n > 1 else max(3, channels) * height * width


# ----------------------------------------------------------------------------- translation


@dataclass(frozen=True)
class UNetShape:
    """A pix2pix U-Net (models/pix2pix.py) and its PatchGAN, from the config alone."""

    source_channels: int
    target_channels: int
    depth: int
    width: int
    skips: bool = True
    patch_layers: int = 3


def _conv_down(c_in: int, c_out: int, h_out: int, w_out: int) -> int:
    """Floats of a stride-2 4 x 4 conv's output (oneDNN runs it without an im2col buffer:
    measured: the U-Net estimate is then about 1.9x its peak at 512 px, the PatchGAN 1.1 to 1.6x)."""
    return c_out * h_out * w_out


def unet_peak(u: UNetShape, th: int, tw: int) -> int:
    """Estimated peak bytes of the U-Net on one th x tw tile (batch 1): every encoder
    level is kept for the skips while the decoder runs."""
    ch = [u.width * 2 ** min(i, 3) for i in range(u.depth)]
    live = u.source_channels * th * tw
    features, peak = 0, live
    h, w, c = th, tw, u.source_channels
    for i in range(u.depth):
        h, w = max(1, h // 2), max(1, w // 2)
        peak = max(peak, live + features + _conv_down(c, ch[i], h, w) + ch[i] * h * w)
        features += ch[i] * h * w
        c = ch[i]
    for i in reversed(range(u.depth)):
        into = ch[i] * h * w * (2 if u.skips and i < u.depth - 1 else 1)
        oc = ch[i - 1] if i else u.target_channels
        out = oc * (2 * h) * (2 * w)
        peak = max(peak, live + features + 2 * into + out + 4 * out, live + features + 2 * out)
        h, w = 2 * h, 2 * w
    return math.ceil(peak * FLOAT * SAFETY)


def patch_peak(u: UNetShape, th: int, tw: int) -> int:
    """Estimated peak bytes of the PatchGAN's realism map on one tile (its input pair twice,
    each layer with its im2col buffer, the map upsampled to the tile and its sigmoid)."""
    c = u.source_channels + u.target_channels
    live = 2 * c * th * tw
    h, w, peak = th, tw, 0
    mult_prev = 0
    for n in range(u.patch_layers):
        h, w = max(1, h // 2), max(1, w // 2)
        co = u.width * min(2**n, 8)
        peak = max(peak, _conv_down(c if n == 0 else u.width * mult_prev, co, h, w) + (c if n == 0 else u.width * mult_prev) * 4 * h * w // 4)
        mult_prev = min(2**n, 8)
    return math.ceil((live + peak + 3 * th * tw) * FLOAT * SAFETY)


def translation_peak(*, height: int, width: int, channels: int, work_height: int, work_width: int,
                     u: UNetShape, tile: int, error: bool, realism: bool, target: int = 0, convert: int = 0,
                     derive: int = 0) -> int:
    """Estimated peak bytes of ``translate.translate_picture`` for a picture of
    ``width`` x ``height`` (already decoded: not counted) translated at ``work_width`` x
    ``work_height``: what the translation keeps (the work copy, its source and output;
    both brought back to the picture's size; a target copy of ``target`` bytes; the
    error and realism maps) plus the largest of the passing costs, which come one
    after another (deriving the source, ``derive``; one tile through the model with the
    band of float sums; Pillow's copies while resizing; making the target, ``convert``;
    the realism map's (source, output) pair with its band and the PatchGAN's tile)."""
    p, pw = height * width, work_height * work_width
    cs, ct = u.source_channels, u.target_channels
    scaled = (work_height, work_width) != (height, width)
    kept = pw * (cs + ct) + target + (p * FLOAT if error else 0) + (p * FLOAT if realism else 0)
    passing = [derive, convert, unet_peak(u, tile, tile) + min(tile, work_height) * work_width * (ct + 1) * FLOAT * 3]
    if scaled:
        kept += pw * channels + p * (cs + ct)
        passing += [(p + pw) * channels, p * 4 * 2]  # Pillow's copies (RGB held as 4 bytes a pixel) down and back up
    if realism:
        passing.append(p * (cs + ct) + min(tile, height) * width * 2 * FLOAT * 3 + patch_peak(u, tile, tile))
    return kept + max(passing)


__all__ = ["FLOAT", "MB", "BudgetError", "GeneratorShape", "Plan", "UNetShape", "check", "generator_peak", "grid_bytes",
           "limit", "noise_bytes", "patch_peak", "pixels_text", "plan_samples", "refuse", "size_text", "translation_peak",
           "unet_peak"]
