"""Every request has a budget: its peak memory, computed from its shape before anything is allocated.

Pure arithmetic (no torch, no numpy). The engine's calls that allocate in proportion
to what a visitor asks for (``inference``'s sampling, grids, rows and morphs;
``translate``'s pictures; ``pictures``' grids, enlargements and GIFs; a training run's
sizes, below) ask this module
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

A training run has a budget too (``training_peak``, which ``recipes.resolve`` checks
before a run directory exists, for the Train page's Start and the command line's
``train`` alike, against what a run may use: ``recipes.training_memory``, a worker's cap
or the GPU's or machine's memory, not the per-request limit of the dashboard's server,
since a run is a process of its own): its models' parameters, gradients and optimiser state, the copies a
checkpoint makes of them, one step's activations for the batch, the sample grid and its
noise, and the data whose size the config decides (toy points, built-in sets). Measured
against the peak RSS growth of ``training.train`` over two steps with a grid and a
checkpoint (fresh process, 1 thread, data already loaded once), torch 2.14.1 CPU:

    run                                             estimated   measured   estimate / measured
    dcgan faces-lfw 32 px, the defaults                 79 MB      54 MB     1.5
    dcgan photos 64 px, width 64, batch 64 / 256   344 / 933 MB   334 / 773 MB   1.0 / 1.2
    dcgan photos 128 px, width 64, batch 32 / 128  1.1 / 2.0 GB   1.0 / 1.5 GB   1.1 / 1.3
    dcgan 32 px, width 256 / --z-dim 20000, batch 16  1.1 / 1.9 GB  0.9 / 1.4 GB  1.2 / 1.3
    dcgan 32 px, --n-samples 4096                      1.1 GB     491 MB     2.3
    gan mnist-5k 28 px, batch 64 / 2048            156 / 236 MB   55 / 101 MB   2.8 / 2.3
    wgan-gp photos 32 px, batch 64 / 256           175 / 473 MB   131 / 401 MB  1.3 / 1.2
    pix2pix photos 64 px blur, batch 16; 128 px, batch 8  1.5 / 2.1 GB  1.2 / 1.8 GB  1.3 / 1.2
    pix2pix faces-lfw 32 px edges, the defaults        271 MB     253 MB     1.1
    gan ring-8, 4,000,000 points / --n-samples 8000  210 / 348 MB  184 / 283 MB  1.1 / 1.2
    pacgan, minibatch-std, wgan-gp on ring-8        90 / 60 / 59 MB   73 / 44 / 50 MB   1.2 to 1.4
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


def _safe(n: int) -> int:
    """``n`` x SAFETY, rounded up, in whole numbers: a float would overflow past 1e308,
    and a visitor's batch or width may be any size."""
    num, den = SAFETY.as_integer_ratio()
    return -(-n * num // den)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def limit() -> int:
    """This server's memory budget per request, in bytes."""
    return memory_budget_mb() * MB


def size_text(n: int | float) -> str:
    """Bytes as a person reads them: 840 KB, 256 MB, 6.3 GB."""
    if n >= 2**60:  # no machine's: whole gigabytes, in whole numbers (a float overflows past 1e308)
        return f"{n // 2**30:,} GB"
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
    return _safe(max(steps) * FLOAT)


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
    return _safe(peak * FLOAT)


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
    return _safe((live + peak + 3 * th * tw) * FLOAT)


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


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingShape:
    """What a training run's memory depends on, from its resolved config alone
    (``recipes.training_shape`` makes one; ``recipes.resolve`` checks it)."""

    arch: str  # "conv" (DCGAN's G and D), "mlp", "points" (PacGAN's toy models) or "unet" (pix2pix's U-Net and PatchGAN)
    item_shape: tuple[int, ...]  # one real item (pix2pix: its target): (C, H, W) or (D,)
    width: int
    z_dim: int
    batch: int
    n_samples: int  # the fixed-noise grid, generated whole at every sample step
    cond_dim: int = 0
    pack: int = 1  # PacGAN: D judges this many items at once
    source_channels: int = 0  # pix2pix: the source half's channels
    skips: bool = True  # pix2pix: U-Net (True) or the encoder-decoder ablation
    optimizer_slots: int = 2  # floats per parameter an optimiser keeps: Adam 2, RMSProp 1, SGD with momentum 1, without 0
    double_backward: bool = False  # a gradient penalty (WGAN-GP's, R1) differentiates D twice
    data_floats: int = 0  # data held in memory for the whole run whose size the config decides (toy points, built-in sets)

    @property
    def out_numel(self) -> int:
        return math.prod(self.item_shape)

    def describe(self) -> str:
        if len(self.item_shape) == 3:
            c, h, w = self.item_shape
            return f"{'grey' if c == 1 else 'colour'} images of {pixels_text(h, w)}"
        return f"{self.item_shape[0]}-D points"


@dataclass(frozen=True)
class _Net:
    """One network of a training run: parameters, floats its forward pass keeps per item
    for the backward pass, and the largest layer's output (per item)."""

    params: int
    kept: int
    largest: int


def _dcgan_nets(t: TrainingShape) -> tuple[_Net, _Net]:
    """DCGAN's G and D (models/dcgan.py; cgan's projection D adds a cond_dim x channels embedding)."""
    c, size, _ = t.item_shape
    n = max(2, int(round(math.log2(max(size, 16)))) - 2)
    ch, s = t.width * 2 ** (n - 1), 4
    params = (t.z_dim + t.cond_dim) * ch * 16 + 2 * ch
    out = ch * s * s
    kept, largest = t.z_dim + t.cond_dim + 2 * out, out  # each layer keeps its output and its norm's (ReLU in place)
    for _ in range(n - 1):
        params += ch * (ch // 2) * 16 + ch
        ch, s = ch // 2, s * 2
        out = ch * s * s
        kept, largest = kept + 2 * out, max(largest, out)
    params += ch * c * 16
    kept, largest = kept + 2 * c * size * size, max(largest, c * size * size)  # the image, and its tanh
    g = _Net(params, kept, largest)
    # D: the image (pack of them: its first layer is pack x wider), then width, 2 x width, ... down to 4 x 4.
    ch, s = t.width, size // 2
    params = c * t.pack * ch * 16 + ch
    hidden = ch * s * s  # per packed item
    largest = hidden
    for _ in range(n - 1):
        params += ch * 2 * ch * 16 + 4 * ch
        ch, s = 2 * ch, s // 2
        hidden += 2 * ch * s * s
        largest = max(largest, ch * s * s)
    params += ch * 16 + 1 + t.cond_dim * ch
    return g, _Net(params, c * size * size + _ceil_div(hidden, t.pack), max(c * size * size, largest))


def _mlp_nets(t: TrainingShape) -> tuple[_Net, _Net]:
    """The fully connected G (3 blocks of w, 2w, 4w: Linear, LeakyReLU, BatchNorm) and D (2w, w) of models/mlp.py."""
    out, w = t.out_numel, t.width
    prev, params, kept = t.z_dim + t.cond_dim, 0, t.z_dim + t.cond_dim
    for width in (w, 2 * w, 4 * w):
        params += prev * width + 3 * width
        kept += 3 * width
        prev = width
    params += prev * out + out
    g = _Net(params, kept + 2 * out, max(4 * w, out))
    d_in = out * t.pack + t.cond_dim
    d = _Net(d_in * 2 * w + 2 * w * w + 4 * w + 1, out + _ceil_div(4 * w, t.pack) + _ceil_div(2 * w, t.pack), max(out, 2 * w))
    return g, d


def _point_nets(t: TrainingShape) -> tuple[_Net, _Net]:
    """PacGAN's toy models (models/points.py): G of 4 x (Linear, BatchNorm, ReLU) of width w,
    D of 3 maxout layers of w / 2 units with 5 pieces each."""
    out, w, depth = t.out_numel, t.width, 4
    g = _Net(t.z_dim * w + (depth - 1) * w * w + depth * 3 * w + w * out + out, t.z_dim + depth * 3 * w + out, w)
    h, pieces = max(1, w // 2), 5
    d_in = out * t.pack
    params = d_in * h * pieces + 2 * h * h * pieces + 3 * h * pieces + h + 2
    return g, _Net(params, out + _ceil_div(3 * (pieces + 1) * h, t.pack), h * pieces)


def _pix2pix_nets(t: TrainingShape) -> tuple[_Net, _Net]:
    """pix2pix's U-Net and PatchGAN (models/pix2pix.py), laid out as ``unet_peak`` lays them."""
    ct, size, _ = t.item_shape
    cs = t.source_channels or ct
    depth = max(3, int(round(math.log2(max(size, 16)))))
    ch = [t.width * 2 ** min(i, 3) for i in range(depth)]
    params, kept, largest = 0, cs * size * size, 0
    c, s = cs, size
    for i in range(depth):  # each level keeps its conv's output and its norm's (LeakyReLU in place)
        s = max(1, s // 2)
        params += c * ch[i] * 16 + 3 * ch[i]
        kept, largest = kept + 2 * ch[i] * s * s, max(largest, ch[i] * s * s)
        c = ch[i]
    for i in reversed(range(depth)):  # the skip's concatenation, the transposed conv, its norm and dropout
        into = ch[i] * (2 if t.skips and i < depth - 1 else 1)
        oc = ch[i - 1] if i else ct
        s = min(size, 2 * s)
        params += into * oc * 16 + 3 * oc
        kept, largest = kept + into * (s // 2) ** 2 + 4 * oc * s * s, max(largest, oc * s * s)
    g = _Net(params, kept + 4 * ct * size * size, largest)  # the output and its conversions (Lab, residual)
    c = cs + ct
    layers = 3 if size >= 32 else 2
    params, kept, s, prev = c * t.width * 16 + t.width, c * size * size + t.width * (size // 2) ** 2, size // 2, 1
    largest = max(c * size * size, t.width * s * s)
    for n in range(1, layers + 1):
        mult = min(2**n, 8)
        s = s // 2 if n < layers else max(1, s - 1)  # the last of them has stride 1
        params += t.width * prev * t.width * mult * 16 + 3 * t.width * mult
        kept, largest = kept + 2 * t.width * mult * s * s, max(largest, t.width * mult * s * s)
        prev = mult
    params += t.width * prev * 16 + 1
    return g, _Net(params, kept + s * s, largest)


def _training_nets(t: TrainingShape) -> tuple[_Net, _Net]:
    if t.arch == "unet":
        return _pix2pix_nets(t)
    if t.arch == "points":
        return _point_nets(t)
    if t.arch == "conv" and len(t.item_shape) == 3:
        return _dcgan_nets(t)
    return _mlp_nets(t)


def training_parts(t: TrainingShape) -> dict[str, int]:
    """Estimated bytes of a training run, by what a visitor would lower to shrink it:

    model   G's and D's parameters, gradients and optimiser state, held all run, plus a
            checkpoint's copies of them (the resume state serialised into a buffer and
            read out of it, then the weights file) while it is written
    batch   one step: the activations the networks keep for their backward pass, the
            largest layer's output and gradient, and the batch with its augmented copies
    grid    the fixed noise (or pix2pix's fixed pairs) and the real items it is compared
            with, held all run, plus a sample step: the generator's forward pass over all of
            them at once, the grid, and the pairwise distances of the diversity statistic
    data    toy points (and built-in images) held in memory all run

    and by when: ``held`` all run, then ``checkpoint``, the step (``batch``) and
    ``sample_step``, which come one after another, so that ``training_peak`` is what is
    held plus the largest of the three."""
    g, d = _training_nets(t)
    params = g.params + d.params
    held_model = params * (2 + t.optimizer_slots) * FLOAT
    checkpoint = params * (2 * (1 + t.optimizer_slots) + 2) * FLOAT
    out = t.out_numel
    # D's step keeps D's activations on the real and the fake batch (and a penalty's graph
    # of their gradients: measured as four more), G's step G's and D's on the fake batch;
    # then the largest layer's output and its gradient at once, and the batch with its
    # copies, real and fake (augmented: colour, translation, cut-out; packed; halved).
    d_step = (6 if t.double_backward else 2) * d.kept + g.largest
    per_item = max(d_step, g.kept + d.kept) + 2 * max(g.largest, d.largest) + 8 * out
    step = _safe(t.batch * per_item * FLOAT)
    n = t.n_samples
    if t.arch == "unet":  # n // 3 fixed (source, target) pairs, shown as source | output | target
        u = UNetShape(t.source_channels or t.item_shape[0], t.item_shape[0], max(3, int(round(math.log2(max(t.item_shape[1], 16))))),
                      t.width, t.skips)
        n = max(1, n // 3)
        forward = unet_peak(u, t.item_shape[1], t.item_shape[2])
        held_grid = n * (u.source_channels + u.target_channels) * t.item_shape[1] * t.item_shape[2] * FLOAT
        shown, pairs = 3 * n, 0
    else:  # n noise vectors, and n real items their samples are compared with
        arch = "conv" if t.arch == "conv" else "mlp"
        forward = generator_peak(GeneratorShape(arch, t.item_shape, t.width, t.z_dim, t.cond_dim))
        held_grid = n * ((t.z_dim + t.cond_dim) + out) * FLOAT
        shown, pairs = n, 8 * n * (n - 1) // 2  # the diversity statistic's pairwise distances, float64
    picture = 0
    if len(t.item_shape) == 3:
        c, h, w = t.item_shape
        picture = shown * 3 * (h + 2) * (w + 2) * (FLOAT + 1)  # make_grid's float grid and its uint8 copy
    sample_step = n * (forward + 3 * out * FLOAT) + picture + pairs
    return {"model": held_model + checkpoint, "batch": step, "grid": held_grid + sample_step, "data": t.data_floats * FLOAT,
            "held": held_model + held_grid + t.data_floats * FLOAT, "checkpoint": checkpoint, "sample_step": sample_step}


# A run's own change beyond its parts, whatever its size: the libraries' first use (oneDNN's
# scratch, matplotlib for point plots, the PNG and safetensors writers), measured at 40 to 55 MB.
TRAINING_OVERHEAD = 48 * MB


def training_peak(t: TrainingShape) -> int:
    """Estimated peak bytes a training run adds to its process (``training_parts``)."""
    p = training_parts(t)
    return p["held"] + max(p["checkpoint"], p["batch"], p["sample_step"]) + TRAINING_OVERHEAD


# ----------------------------------------------------------------------------- the judge's classifier
#
# The judge (judge.JudgeNet: two stride-2 3 x 3 convolutions of 32 and 64 channels, each
# with its ReLU, pooled to 4 x 4) trains and reads in the dashboard's process, for "Score
# this checkpoint". Per image of C x S x S: the input and every activation (32 channels at
# S/2 and 64 at S/4, 8 + 4 floats per input pixel, each with its ReLU's copy: 24) live at
# once while reading; a training step holds their gradients too (twice that). Measured
# against peak RSS growth per image (the slope between batches of 16 and 64, fresh process,
# 1 thread, torch 2.14.1 CPU):
#
#     images              training step: estimated  measured     reading: estimated  measured
#     28 px grey                         191 KB     168 KB                96 KB      (within the overhead)
#     64 px grey / colour          1,000 / 1,080 KB  813 / 869 KB    500 / 540 KB   - / 400 KB
#     128 px grey                        3.9 MB     3.3 to 4.0 MB        2.0 MB      1.3 MB
#     256 px colour                     16.9 MB     7.7 MB (12.6 MB per image at batch 16)  8.4 MB  5.0 to 5.7 MB
#
# The network, Adam's state and the libraries' scratch are JUDGE_OVERHEAD.
JUDGE_OVERHEAD = 16 * MB


def judge_image_peak(channels: int, size: int, training: bool) -> int:
    """Estimated peak bytes one C x S x S image adds to the judge's training step
    (``training``) or to its reading of a batch under no_grad."""
    floats = (channels + 24) * size * size * (2 if training else 1)
    return _safe(floats * FLOAT)


__all__ = ["FLOAT", "JUDGE_OVERHEAD", "MB", "BudgetError", "GeneratorShape", "Plan", "TrainingShape", "UNetShape", "check",
           "generator_peak", "grid_bytes", "judge_image_peak", "limit", "noise_bytes", "patch_peak", "pixels_text",
           "plan_samples", "refuse", "size_text", "training_parts", "training_peak", "translation_peak", "unet_peak"]
