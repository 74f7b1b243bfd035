"""Augmentation of every image D sees, for small data sets.

With a few hundred images a discriminator memorises the training set and stops
giving G a useful signal. Two published answers, both here:

- **DiffAugment** (Zhao et al. 2020, mit-han-lab/data-efficient-gans,
  ``DiffAugment_pytorch.py``): colour (brightness, saturation, contrast), translation
  and cutout, written as differentiable tensor operations and applied to *every*
  image D judges, real and generated, in D's step and in G's step. Augmenting only
  the reals would teach G to make augmented-looking images ("leaking").
- **Adaptive strength** (Karras et al. 2020, StyleGAN2-ADA): each image gets each
  transform with probability p, and p follows the overfitting signal
  r_t = E[sign(D(x_real))] towards a target (0.6): up when D is too sure of the
  reals, down when it is not.

The functions take their random parameters as arguments (``draw`` makes them), so a
test can give them chosen values and the trainer's own generator keeps runs and
resumes exact. Where this departs from the reference implementation:

- each of the five transforms is applied to an image with probability p (1 for
  ``diff``, which is then exactly the reference's sampling); the reference has no p;
- random numbers come from a ``torch.Generator`` of the trainer's (saved in the
  checkpoint), drawn on the CPU, never from the global generator;
- cutout builds its mask from comparisons instead of a scatter (same region: the
  reference's clamped indices cover exactly the part of the square inside the image);
- pairs (pix2pix): the geometric transforms move the source and the image together,
  and the colour transforms change the image only (a grey source beside a colour
  image has no saturation to share);
- p is clamped to [0, 1] (ADA only floors it at 0) and moves from 0 to 1 in
  ``ADA_IMAGES`` = 100,000 real images rather than ADA's 500,000: runs here are
  thousands of steps, not millions of images;
- for a critic (wgan, wgan-gp, ``--g-loss wasserstein``), whose scores have no zero
  to take a sign against, r_t is E[sign(f(x_real) - mean f(G(z)))]: the share of
  reals scored above the average fake, minus the share below.

Like the reference, nothing is clamped: brightness moves pixels by up to 0.5 and
saturation or contrast scale them around a mean, so an augmented image may leave
[-1, 1] (clamping would stop gradients at every saturated pixel). Translation and
cutout only move pixels or put 0 (mid-grey in [-1, 1]) in their place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

POLICY = ("color", "translation", "cutout")  # DiffAugment's policy for 100-shot and small data
MODES = ("none", "diff", "ada")
# The default turns adaptive augmentation on at or below this many training items.
# DiffAugment's and ADA's gains are largest on 100 to a few thousand images (100-shot,
# 10-20% of CIFAR-10, 1k-10k FFHQ subsets) and fade by tens of thousands, where p
# stays near 0 anyway; adaptive p only rises when D does overfit, so the cost on a set
# just under the line that does not need it is the small overhead measured in
# docs/BENCHMARKS.md. 10,000 takes in every built-in image set and most uploads.
SMALL_DATA = 10_000
ADA_TARGET = 0.6  # Karras et al.'s target for r_t
ADA_INTERVAL = 4  # generator steps between adjustments of p (ADA's ada_interval)
ADA_IMAGES = 100_000  # real images D sees while p moves from 0 to 1 at most (ADA: 500k)
TRANSLATION_RATIO = 8  # shifts of up to 1/8 of the image's side, as in the reference
CUTOUT_RATIO = 2  # a square of half the image's side, as in the reference


# --- the transforms: differentiable in the image, parameters given --------------------

def brightness(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Add ``shift`` (N,) to every pixel of each image (reference: U(-0.5, 0.5))."""
    return x + shift.to(x.dtype).view(-1, 1, 1, 1)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's distance from its mean over the channels by ``factor`` (N,)
    (reference: U(0, 2)); a grey image has none to scale."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * factor.to(x.dtype).view(-1, 1, 1, 1) + mean


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale each image's distance from its own mean by ``factor`` (N,) (reference: U(0.5, 1.5))."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor.to(x.dtype).view(-1, 1, 1, 1) + mean


def translation(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift each image by whole pixels (``dy``, ``dx``: (N,) integers); what comes in
    from outside is 0. Differentiable in ``x`` (a gather), not in the shifts."""
    n, _, h, w = x.shape
    rows = (torch.arange(h, device=x.device).view(1, h, 1) - dy.to(x.device).view(-1, 1, 1) + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) - dx.to(x.device).view(-1, 1, 1) + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the border of zeros every shifted-out index lands on
    batch = torch.arange(n, device=x.device).view(-1, 1, 1)
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)


def cutout(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, on: torch.Tensor | None = None) -> torch.Tensor:
    """Put 0 in a square of half the image's side centred at (``cy``, ``cx``) (N,),
    cut off where it leaves the image; ``on`` (N,) bool: which images get one."""
    n, _, h, w = x.shape
    sh, sw = h // CUTOUT_RATIO, w // CUTOUT_RATIO
    top = cy.to(x.device).view(-1, 1) - sh // 2
    left = cx.to(x.device).view(-1, 1) - sw // 2
    ys, xs = torch.arange(h, device=x.device).view(1, h), torch.arange(w, device=x.device).view(1, w)
    in_rows = (ys >= top) & (ys < top + sh)  # (N, H)
    in_cols = (xs >= left) & (xs < left + sw)  # (N, W)
    cut = in_rows[:, :, None] & in_cols[:, None, :]
    if on is not None:
        cut = cut & on.to(x.device).view(-1, 1, 1)
    return x * (~cut).to(x.dtype).unsqueeze(1)


# --- random parameters -----------------------------------------------------------------

@dataclass
class Params:
    """One draw for a batch: each transform's parameter per image, already the identity
    (shift 0, factor 1, no move, no cut) for images the transform skips."""

    brightness: torch.Tensor
    saturation: torch.Tensor
    contrast: torch.Tensor
    dy: torch.Tensor
    dx: torch.Tensor
    cy: torch.Tensor
    cx: torch.Tensor
    cut: torch.Tensor

    def rows(self, start: int, stop: int) -> "Params":
        return Params(**{name: getattr(self, name)[start:stop] for name in self.__dataclass_fields__})


def draw(n: int, h: int, w: int, p: float, generator: torch.Generator) -> Params:
    """Parameters for ``n`` images of ``h`` x ``w``, with DiffAugment's ranges; each
    transform is applied to each image with probability ``p``. The same number of
    random values is drawn whatever ``p`` is, so a resumed run draws what an
    uninterrupted one does."""
    def chosen() -> torch.Tensor:
        return torch.rand(n, generator=generator) < p  # rand is below 1, so p = 1 is every image

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    def integers(low: int, high: int) -> torch.Tensor:  # high excluded
        return torch.randint(low, high, (n,), generator=generator)

    shift_y, shift_x = h // TRANSLATION_RATIO, w // TRANSLATION_RATIO
    b, s, c = uniform(-0.5, 0.5), uniform(0.0, 2.0), uniform(0.5, 1.5)
    dy, dx = integers(-shift_y, shift_y + 1), integers(-shift_x, shift_x + 1)
    # The reference's centres: 0 .. side (inclusive when the cut's side is even).
    cy = integers(0, h + (1 - (h // CUTOUT_RATIO) % 2))
    cx = integers(0, w + (1 - (w // CUTOUT_RATIO) % 2))
    on_b, on_s, on_c, on_t, on_cut = chosen(), chosen(), chosen(), chosen(), chosen()
    return Params(
        brightness=torch.where(on_b, b, 0.0), saturation=torch.where(on_s, s, 1.0), contrast=torch.where(on_c, c, 1.0),
        dy=torch.where(on_t, dy, 0), dx=torch.where(on_t, dx, 0), cy=cy, cx=cx, cut=on_cut,
    )


def apply(image: torch.Tensor, params: Params, source: torch.Tensor | None = None,
          policy: tuple[str, ...] = POLICY) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``image`` (N, C, H, W) through the policy's transforms with ``params``. With a
    ``source`` (pix2pix), returns (source, image): both moved and cut alike, the
    colour changed on the image only."""
    if "color" in policy:
        image = contrast(saturation(brightness(image, params.brightness), params.saturation), params.contrast)
    split = None
    if source is not None:
        split = source.shape[1]
        image = torch.cat([source.to(image.dtype), image], dim=1)
    if "translation" in policy:
        image = translation(image, params.dy, params.dx)
    if "cutout" in policy:
        image = cutout(image, params.cy, params.cx, params.cut)
    image = image.contiguous()
    if split is None:
        return image
    return image[:, :split], image[:, split:]


# --- the trainer's side: the strength p, its adjustment and its state ------------------

def default_mode(n_items: int) -> str:
    """What an unset ``--augment`` means for data of ``n_items`` images."""
    return "ada" if n_items <= SMALL_DATA else "none"


def why(mode: str, n_items: int, chosen: bool) -> str | None:
    """The sentence a run (and the Train page) gives for its augmentation, or None
    when there is nothing to say (off because the data are large and nobody asked)."""
    if chosen:
        return None
    if mode == "ada":
        return (f"Adaptive augmentation is on because the data have {n_items:,} images (at most {SMALL_DATA:,}), "
                "few enough for D to memorise them; --augment none turns it off.")
    return None


class Augmenter:
    """The augmentation of one run: its mode, its probability p, its own random
    generator and the r_t observed since p was last adjusted. Everything in
    ``state_dict`` goes into the checkpoint, so a resumed run continues exactly."""

    def __init__(self, mode: str, seed: int, images_per_step: int, policy: tuple[str, ...] = POLICY,
                 shard: tuple[int, int] = (0, 1)):
        if mode not in ("diff", "ada"):
            raise ValueError(f"An Augmenter is for diff or ada, not {mode!r}.")
        self.mode, self.policy, self.images_per_step = mode, policy, images_per_step
        # (rank, processes) under torchrun: every process draws the parameters of the global
        # batch from the same generator and keeps its shard's, as the noise is drawn
        # (objectives.py), so the processes together augment as one process would.
        self.shard = shard
        self.p = 1.0 if mode == "diff" else 0.0
        self.generator = torch.Generator().manual_seed(seed)
        self.r_sum = torch.zeros((), dtype=torch.float64)
        self.r_count = 0

    def __call__(self, image: torch.Tensor, source: torch.Tensor | None = None):
        """Augment a batch D is about to judge (nothing drawn while p is 0)."""
        if self.p <= 0:
            return image if source is None else (source, image)
        n, _, h, w = image.shape
        rank, world = self.shard
        params = draw(n * world, h, w, self.p, self.generator)
        if world > 1:
            params = params.rows(rank * n, (rank + 1) * n)
        return apply(image, params, source, self.policy)

    def observe(self, r_t: torch.Tensor) -> None:
        """Add one D step's r_t = E[sign(D(x_real))] (a tensor: no device sync here)."""
        self.r_sum = self.r_sum + r_t.detach().to("cpu", torch.float64)
        self.r_count += 1

    def due(self, step: int) -> bool:
        return self.mode == "ada" and step % ADA_INTERVAL == 0 and self.r_count > 0

    def adjust(self, r_t: float) -> None:
        """ADA's rule: p moves by sign(r_t - target) * (images since the last
        adjustment) / ADA_IMAGES, within [0, 1]; the observations start again."""
        step = (ADA_INTERVAL * self.images_per_step) / ADA_IMAGES
        direction = (r_t > ADA_TARGET) - (r_t < ADA_TARGET)
        self.p = min(1.0, max(0.0, self.p + direction * step))
        self.r_sum = torch.zeros((), dtype=torch.float64)
        self.r_count = 0

    def mean_r_t(self) -> torch.Tensor:
        return self.r_sum / max(self.r_count, 1)

    def state_dict(self) -> dict:
        return {"mode": self.mode, "p": self.p, "rng": self.generator.get_state(), "r_sum": self.r_sum.clone(), "r_count": self.r_count}

    def load_state_dict(self, state: dict) -> None:
        self.p = float(state["p"])
        self.generator.set_state(state["rng"])
        self.r_sum, self.r_count = state["r_sum"].clone(), int(state["r_count"])


class AugmentedD:
    """D as the objectives see it: every image it judges goes through the augmenter
    first (DiffAugment's rule: reals and fakes, D's step and G's step, the gradient
    penalty's interpolates too). ``paired``: D takes (source, image), as pix2pix's does."""

    def __init__(self, D, augmenter: Augmenter, paired: bool):
        self.D, self.augmenter, self.paired = D, augmenter, paired

    def __call__(self, image: torch.Tensor, *rest):
        if self.paired:  # pix2pix's D(source, image)
            source, target = self.augmenter(rest[0], source=image)
            return self.D(source, target)
        return self.D(self.augmenter(image), *rest)  # a condition (cgan) passes as it is


def real_sign(real_logits: torch.Tensor, fake_scores: torch.Tensor | None = None) -> torch.Tensor:
    """r_t of one batch: E[sign(D(x_real))], or for a critic (``fake_scores`` given)
    E[sign(f(x_real) - mean f(G(z)))]."""
    real = real_logits.detach().float()
    if fake_scores is not None:
        real = real - fake_scores.detach().float().mean()
    return torch.sign(real).mean()


__all__ = ["POLICY", "MODES", "SMALL_DATA", "ADA_TARGET", "ADA_INTERVAL", "ADA_IMAGES", "brightness", "saturation", "contrast",
           "translation", "cutout", "Params", "draw", "apply", "default_mode", "why", "Augmenter", "AugmentedD", "real_sign"]
