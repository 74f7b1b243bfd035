"""Named recipes: an architecture plus an objective plus defaults.

Adding a recipe is one model file (if it needs a new architecture) and one
``RECIPES.register`` entry here; the registry-wide test then trains it. The
objectives (how a batch becomes D's and G's losses) are in ``objectives.py``;
``resolve`` fills a config's defaults from its recipe and refuses what cannot train.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from . import budget
from .config import Config, DataKind
from .data.base import SOURCES, GanData
from .data.paired import DERIVED_KINDS, PAIR_KINDS, source_channels
from .errors import ConfigError, GanError
from .models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, init_dcgan_weights
from .models.conditional import ProjectionDiscriminator
from .models.pix2pix import PatchDiscriminator, UNetGenerator
from .models.points import Packed, PointDiscriminator, PointGenerator
from .objectives import (
    ConditionalObjective,
    GradientPenaltyObjective,
    Objective,
    Pix2PixObjective,
    WassersteinObjective,
    condition_dim,
)
from .registry import Registry


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    kinds: tuple[str, ...]  # data kinds it trains on: "image", "vector"
    defaults: Callable[[str, Config], dict]  # (data kind, config) -> {dotted field: value} for unset fields
    build: Callable[[Config, GanData], tuple[nn.Module, nn.Module]]
    objective: type[Objective]
    any_loss: bool = False  # trains with the BCE losses or as a WGAN-GP critic, by --g-loss
    conditional: bool = False  # needs class labels or attributes in the data
    paired: bool = False  # trains on (source, target) pairs (data/paired.py), and only on them
    archs: tuple[str, ...] = ("mlp", "conv")  # the --arch values it builds
    # (step, total steps) -> factor on both learning rates; a pure function of the step, so resuming is exact
    lr_schedule: Callable[[int, int], float] | None = None
    # Its --arch mlp models normalise each feature over the batch's items (BatchNorm1d in
    # the MLP and point generators), which PyTorch refuses for a batch of one item.
    mlp_batch_norm: bool = True
    point_models: bool = False  # on points it builds PacGAN's toy models (models/points.py), not the MLPs


RECIPES: Registry[Recipe] = Registry("recipe")


def _adam(lr: float, beta1: float, beta2: float) -> dict:
    return {"optim.optimizer": "adam", "optim.lr_g": lr, "optim.lr_d": lr, "optim.beta1": beta1, "optim.beta2": beta2}


def _build_mlp_or_conv(critic_norm: str):
    def build(cfg: Config, data: GanData):
        m = cfg.model
        if m.arch == "mlp":
            G = MLPGenerator(m.z_dim, data.shape, m.width, image=data.kind == DataKind.IMAGE)
            D = MLPDiscriminator(data.shape, m.width)
        else:
            channels, size = data.shape[0], data.shape[-1]
            G = DCGANGenerator(m.z_dim, channels, size, m.width)
            D = DCGANDiscriminator(channels, size, m.width, norm=critic_norm)
            G.apply(init_dcgan_weights)
            D.apply(init_dcgan_weights)
        return G, D

    return build


RECIPES.register("gan")(Recipe(
    "gan",
    "The original GAN (Goodfellow et al. 2014) with MLPs shaped like the Keras article: Dense -> LeakyReLU -> BatchNorm blocks.",
    ("image", "vector"),
    lambda kind, cfg: {"model.arch": "mlp", "model.width": 256 if kind == DataKind.IMAGE else 128,
                  **_adam(2e-4, 0.5, 0.999), "loss.g_loss": "non-saturating", "loss.d_steps": 1},
    _build_mlp_or_conv("batch"),
    Objective,
))

RECIPES.register("dcgan")(Recipe(
    "dcgan",
    "Deep convolutional GAN (Radford et al. 2015): strided convs, batch norm, N(0, 0.02) init, Adam 2e-4 / beta1 0.5.",
    ("image",),
    # Radford et al. use 64 base channels at 64 x 64; at 32 x 32 and below, 32 learns as
    # well on small data sets and trains about 2.3x faster on a CPU.
    lambda kind, cfg: {"model.arch": "conv", "model.width": 32 if cfg.data.image_size <= 32 else 64, **_adam(2e-4, 0.5, 0.999),
                  "loss.g_loss": "non-saturating", "loss.d_steps": 1},
    _build_mlp_or_conv("batch"),
    Objective,
))

RECIPES.register("wgan")(Recipe(
    "wgan",
    "Wasserstein GAN (Arjovsky et al. 2017): critic without sigmoid, weight clipping 0.01, 5 critic steps, RMSProp 5e-5.",
    ("image", "vector"),
    lambda kind, cfg: {"model.arch": "conv" if kind == DataKind.IMAGE else "mlp", "model.width": 64 if kind == DataKind.IMAGE else 128,
                  "optim.optimizer": "rmsprop", "optim.lr_g": 5e-5, "optim.lr_d": 5e-5,
                  "loss.g_loss": "wasserstein", "loss.d_steps": 5, "loss.clip": 0.01},
    _build_mlp_or_conv("batch"),
    WassersteinObjective,
))

RECIPES.register("wgan-gp")(Recipe(
    "wgan-gp",
    "WGAN with gradient penalty (Gulrajani et al. 2017): lambda 10, critic without batch norm, Adam 1e-4 / (0, 0.9).",
    ("image", "vector"),
    lambda kind, cfg: {"model.arch": "conv" if kind == DataKind.IMAGE else "mlp", "model.width": 64 if kind == DataKind.IMAGE else 128,
                  **_adam(1e-4, 0.0, 0.9), "loss.g_loss": "wasserstein", "loss.d_steps": 5, "loss.gp_weight": 10.0},
    _build_mlp_or_conv("layer"),
    GradientPenaltyObjective,
))


# The mode-collapse remedies. On points, pacgan uses PacGAN's toy models (G 4 x 400 ReLU
# with batch norm, D 3 x 200 maxout), Adam 1e-3 with a batch of 128; minibatch-std the
# same shapes at 128 / 64 wide, G without batch norm, Adam 2e-3 and a batch of 256.
# Both decay their learning rates to zero over the second half so the generator
# settles on the modes' centres instead of jittering around them. How close they come
# to PacGAN's Table 1 on ring-8 and grid-25 is measured in docs/BENCHMARKS.md ("Mode
# coverage"). On images they keep DCGAN's settings.
POINT_G_DEPTH, POINT_D_DEPTH, MAXOUT_PIECES = 4, 3, 5  # PacGAN's toy models: G 4 deep, D 3 deep with maxout (5)


def _point_models(cfg: Config, data: GanData, d_inputs: int, group: int = 0, batch_norm: bool = True):
    """G of width ``--width``, D of half that, as in PacGAN's 2-D experiments."""
    width = cfg.model.width
    G = PointGenerator(cfg.model.z_dim, data.shape, width, POINT_G_DEPTH, batch_norm=batch_norm)
    D = PointDiscriminator(d_inputs, max(1, width // 2), POINT_D_DEPTH, pieces=MAXOUT_PIECES, group=group)
    return G, D


def _remedy_defaults(extra: dict):
    def defaults(kind: str, cfg: Config) -> dict:
        if kind == DataKind.IMAGE:  # DCGAN's settings (or the gan recipe's MLP width for --arch mlp)
            width = 256 if cfg.model.arch == "mlp" else 32 if cfg.data.image_size <= 32 else 64
            return {"model.arch": "conv", "model.width": width, **_adam(2e-4, 0.5, 0.999),
                    "loss.g_loss": "non-saturating", "loss.d_steps": 1, **extra}
        return {"model.arch": "mlp", "model.width": 400, "model.z_dim": 2, **_adam(1e-3, 0.5, 0.999), "loss.g_loss": "non-saturating",
                "loss.d_steps": 1, "train.steps": 5000, "train.batch_size": 128, **extra}

    return defaults


def _build_packed(cfg: Config, data: GanData):
    """G as usual; D built for m samples side by side, behind ``Packed``."""
    m, width = cfg.model.pack, cfg.model.width
    if data.kind == DataKind.VECTOR:
        G, D = _point_models(cfg, data, m * math.prod(data.shape))
        return G, Packed(D, m)
    channels, size = data.shape[0], data.shape[-1]
    if cfg.model.arch == "mlp":
        G = MLPGenerator(cfg.model.z_dim, data.shape, width, image=True)
        D = MLPDiscriminator((m * channels, *data.shape[1:]), width)
    else:
        G = DCGANGenerator(cfg.model.z_dim, channels, size, width)
        D = DCGANDiscriminator(m * channels, size, width, norm="batch")
        G.apply(init_dcgan_weights)
        D.apply(init_dcgan_weights)
    return G, Packed(D, m)


def _cosine_after(step: int, total: int, start: int) -> float:
    """Full learning rates up to ``start``, then a cosine down towards 0 at ``total``
    (the last step still moves, by a sliver)."""
    return 1.0 if step <= start else 0.5 * (1 + math.cos(math.pi * (step - start) / (total - start + 1)))


def decay_second_half(step: int, total: int) -> float:
    """Full learning rates for the first half, then the cosine over the second."""
    return _cosine_after(step, total, total // 2)


def decay_last_three_fifths(step: int, total: int) -> float:
    """Full learning rates for the first 40% of the steps, then the cosine over the last 60%."""
    return _cosine_after(step, total, total - round(0.6 * total))


RECIPES.register("pacgan")(Recipe(
    "pacgan",
    "PacGAN (Lin et al. 2018): D judges --pack samples at once, all real or all fake, so a generator that repeats itself is caught.",
    ("image", "vector"),
    _remedy_defaults({"model.pack": 4}),
    _build_packed,
    Objective,
    lr_schedule=decay_second_half,
    point_models=True,
))


def _build_minibatch_std(cfg: Config, data: GanData):
    # G without batch norm: in training mode batch norm moves each point by the noise
    # of its batch's statistics (about 0.5 units at a batch of 256, ten times
    # grid-25's sigma), which blurs the modes that the minibatch std works to keep apart.
    return _point_models(cfg, data, math.prod(data.shape), group=MINIBATCH_STD_GROUP, batch_norm=False)


MINIBATCH_STD_GROUP = 4  # Karras et al.'s group size

RECIPES.register("minibatch-std")(Recipe(
    "minibatch-std",
    "Minibatch standard deviation (Karras et al. 2018): D also sees how much its features vary within groups of 4 samples, "
    "so a collapsed generator stands out; with the R1 penalty on D (Mescheder et al. 2018).",
    ("vector",),
    # Narrower models (G 128, D 64) at twice the learning rate and batch; the R1 penalty
    # (gamma 1) keeps every mode of grid-25 on every seed 0-4, where without it a mode
    # was lost in the first phase on one seed; 11,000 steps, the last 60% decaying: about
    # 190 CPU-s on one thread (docs/BENCHMARKS.md, "Mode coverage"). Adam's beta2 is
    # 0.99, the value of Karras et al.'s own training: with 0.999, seeds 2 and 4 of
    # grid-25 ended 1 to 1.5 points under 94% high quality (points left on the bridges
    # between modes).
    _remedy_defaults({"model.width": 128, **_adam(2e-3, 0.5, 0.99), "train.batch_size": 256, "train.steps": 11000,
                      "loss.r1_weight": 1.0}),
    _build_minibatch_std,
    Objective,
    archs=("mlp",),
    lr_schedule=decay_last_three_fifths,
    mlp_batch_norm=False,
    point_models=True,
))



def _cgan_defaults(kind: str, cfg: Config) -> dict:
    size = cfg.data.image_size
    conv = cfg.model.arch != "mlp" and 16 <= size <= 256 and not size & (size - 1)
    width = (32 if cfg.data.image_size <= 32 else 64) if conv else 256
    if cfg.wasserstein:  # WGAN-GP's settings (Gulrajani et al.)
        return {"model.arch": "conv" if conv else "mlp", "model.width": width, **_adam(1e-4, 0.0, 0.9),
                "loss.d_steps": 5, "loss.gp_weight": 10.0}
    return {"model.arch": "conv" if conv else "mlp", "model.width": width, **_adam(2e-4, 0.5, 0.999),
            "loss.g_loss": "non-saturating", "loss.d_steps": 1}


def _build_conditional(cfg: Config, data: GanData):
    cond_dim = condition_dim(data)
    if cond_dim == 0:
        raise ConfigError(f"Data set {data.name!r} has no class labels or attributes, so cgan has nothing to condition on; "
                          "use mnist-5k, a folder or zip with one sub-folder per class, or CelebA.")
    m = cfg.model
    if m.arch == "mlp":
        return MLPGenerator(m.z_dim, data.shape, m.width, cond_dim=cond_dim), MLPDiscriminator(data.shape, m.width, cond_dim=cond_dim)
    channels, size = data.shape[0], data.shape[-1]
    G = DCGANGenerator(m.z_dim, channels, size, m.width, cond_dim=cond_dim)
    D = ProjectionDiscriminator(channels, cond_dim, size, m.width, norm="layer" if cfg.wasserstein else "batch")
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    return G, D


RECIPES.register("cgan")(Recipe(
    "cgan",
    "Conditional GAN (Mirza & Osindero 2014): G and D see a class or attributes; MLP as in the paper or conv with a projection D.",
    ("image",),
    _cgan_defaults,
    _build_conditional,
    ConditionalObjective,
    any_loss=True,
    conditional=True,
))


def _pix2pix_defaults(kind: str, cfg: Config) -> dict:
    # The reference's 64 base channels; 32 at 32 px and below, which is about 3x
    # faster on a CPU.
    return {"model.arch": "unet", "model.width": 32 if cfg.data.image_size <= 32 else 64, **_adam(2e-4, 0.5, 0.999),
            "loss.g_loss": "non-saturating", "loss.d_steps": 1, "loss.l1_weight": 100.0, "loss.gan_weight": 1.0,
            "model.norm": "batch"}


def _build_pix2pix(cfg: Config, data: GanData):
    target = data.shape[0]
    source = source_channels(cfg.data.pairs, target)
    size, width = cfg.data.image_size, cfg.model.width
    norm = cfg.model.norm or "batch"  # unset in checkpoints saved before --norm existed: they are batch norm
    kind = PAIR_KINDS.get(cfg.data.pairs) if cfg.data.pairs else None
    residual = kind is not None and kind.residual  # sr4: output = input + correction
    G = UNetGenerator(source, target, size, width, skips=cfg.model.arch != "encoder-decoder", norm=norm, residual=residual,
                      innermost=kind.innermost if kind else 1, lab=kind is not None and kind.lab)  # lab: a*b* only
    D = PatchDiscriminator(source, target, size, width, norm=norm)
    G.apply(init_dcgan_weights)  # the reference's "normal" init: N(0, 0.02), norm scales N(1, 0.02)
    D.apply(init_dcgan_weights)
    return G, D


def linear_decay_half(step: int, total: int) -> float:
    """The reference's "linear" policy in steps: constant for the first half, then
    linearly down to 0 (the last step still moves, by 1 / (second half))."""
    half = total // 2
    return 1.0 if step <= half else (total - step + 1) / (total - half)


RECIPES.register("pix2pix")(Recipe(
    "pix2pix",
    "Pix2Pix (Isola et al. 2017): U-Net G, 70x70 PatchGAN D on (source, target), cGAN + 100 x L1, Adam 2e-4 / 0.5, linear decay.",
    ("image",),
    _pix2pix_defaults,
    _build_pix2pix,
    Pix2PixObjective,
    paired=True,
    archs=("unet", "encoder-decoder"),
    lr_schedule=linear_decay_half,
))


# Noise size, training length and batch for recipes whose defaults leave them out.
GENERAL_DEFAULTS = {"model.z_dim": 100, "train.steps": 2000, "train.batch_size": 64}


def as_trained(cfg: Config) -> Config:
    """A saved run's config (``runs.read_config``), for resuming it, with the fields added
    since it was saved set to what the run trained with, not to today's defaults:
    ``--r1-weight`` did not exist before 2026-12-07, and minibatch-std then trained
    without the penalty. (Its learning-rate schedule is the recipe's own, not saved: an
    older run resumed now decays over its last 60% of steps, not its second half.)"""
    if cfg.loss.r1_weight is not None:
        return cfg
    try:
        takes_r1 = "loss.r1_weight" in RECIPES.get(cfg.recipe).defaults(SOURCES.get(cfg.data.name).kind, cfg)
    except GanError:
        return cfg  # resolve says what is wrong with it
    return cfg.replace(**{"loss.r1_weight": 0.0}) if takes_r1 else cfg


def resolve(cfg: Config, *, memory: bool = True) -> Config:
    """Fill every unset field from the recipe's defaults and check that the
    combination makes sense, with one-sentence errors for what does not; a run whose
    sizes would not fit the memory a run may use here is refused too (``check_memory``),
    unless ``memory`` is False: a checkpoint trained on a larger machine is still one of
    this engine's, to sample from."""
    recipe = RECIPES.get(cfg.recipe)
    source = SOURCES.get(cfg.data.name)
    if source.kind not in recipe.kinds:
        fits = ", ".join(name for name, r in RECIPES.items() if source.kind in r.kinds)
        what = "images" if source.kind == DataKind.IMAGE else "points (vectors)"
        raise ConfigError(f"Recipe {cfg.recipe!r} cannot train on {cfg.data.name!r}, which is {what}; use one of: {fits}.")
    if recipe.conditional and source.builtin and not {"labels", "attrs"} & set(source.tags):
        labelled = ", ".join(n for n, s in SOURCES.items() if {"labels", "attrs"} & set(s.tags))
        raise ConfigError(f"Recipe {cfg.recipe!r} needs class labels or attributes, which {cfg.data.name!r} does not have; "
                          f"use one of: {labelled}, or a folder / zip with one sub-folder per class.")
    _check_pairs(cfg, recipe, source)
    d = cfg.to_dict()
    defaults = recipe.defaults(source.kind, cfg)
    for key, value in {**GENERAL_DEFAULTS, **defaults}.items():
        section, name = key.split(".")
        if d[section][name] is None:
            d[section][name] = value
    _drop_unused_options(cfg, d, defaults, source.kind)
    out = Config.from_dict(d)

    wasserstein = out.wasserstein if recipe.any_loss else issubclass(recipe.objective, WassersteinObjective)
    if wasserstein and not out.wasserstein:
        raise ConfigError(f"Recipe {cfg.recipe!r} trains with the Wasserstein loss; leave --g-loss unset or use gan / dcgan for {out.loss.g_loss!r}.")
    if not wasserstein and out.wasserstein:
        raise ConfigError(f"The Wasserstein loss needs a critic; use --recipe wgan or wgan-gp instead of {cfg.recipe!r}.")
    if out.model.arch not in recipe.archs:
        raise ConfigError(f"--arch {out.model.arch} is not an architecture of recipe {cfg.recipe!r}; use {' or '.join(recipe.archs)}.")
    if out.model.norm is not None and not recipe.paired:
        raise ConfigError(f"--norm chooses pix2pix's normalisation; recipe {cfg.recipe!r} has its own, so leave --norm unset.")
    if out.model.arch == "conv" and source.kind != DataKind.IMAGE:
        raise ConfigError(f"Convolutional models need images, but {cfg.data.name!r} is points; use --arch mlp.")
    if out.loss.r1_weight and source.kind == DataKind.VECTOR and out.data.n_points < 2:
        # Each group of real points minibatch-std compares would be one point repeated, and
        # R1 differentiates its zero spread twice (NaN at the first step).
        raise ConfigError("The R1 penalty needs 2 or more data points, since on one point every group of real samples "
                          "has no spread to differentiate; use --n-points 2 or more, or --r1-weight 0.")
    if out.train.augment not in (None, "none") and source.kind != DataKind.IMAGE:
        raise ConfigError(f"--augment {out.train.augment} transforms images and {cfg.data.name!r} is points; leave it unset or use --augment none.")
    size = out.data.image_size
    if out.model.arch != "mlp" and (size < 16 or size > 256 or size & (size - 1)):
        raise ConfigError(f"Convolutional models need --image-size 16, 32, 64, 128 or 256, not {size}.")
    if source.kind == DataKind.IMAGE and not 8 <= size <= 1024:
        raise ConfigError(f"--image-size must be between 8 and 1024, not {size}.")
    t = out.train
    for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "n_samples"):
        if getattr(t, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(t, name)}.")
    if t.steps > MAX_STEPS:  # more than any machine trains: a typo, which would also print as a 20-digit total
        raise ConfigError(f"--steps must be at most {MAX_STEPS:,}, not {t.steps:,}.")
    if out.data.workers < 0:
        raise ConfigError(f"--workers must be 0 (read data in the training process) or more, not {out.data.workers}.")
    if out.loss.d_steps < 1:
        raise ConfigError(f"--d-steps must be at least 1, not {out.loss.d_steps}.")
    if out.model.pack is not None:
        if out.model.pack < 1:
            raise ConfigError(f"--pack must be at least 1 (1 = no packing), not {out.model.pack}.")
        # D sees the batch (or, with --d-update halves, each half of it) in packs.
        unit = out.model.pack * (2 if out.loss.d_update == "halves" else 1)
        if t.batch_size % unit:
            fit = max(unit, t.batch_size // unit * unit)
            halves = " in each half (--d-update halves)" if unit > out.model.pack else ""
            raise ConfigError(f"--batch-size {t.batch_size} does not split into packs of {out.model.pack}{halves}; "
                              f"use a multiple of {unit}, e.g. {fit}.")
    if out.model.width < 1 or out.model.z_dim < 1:
        raise ConfigError("--width and --z-dim must be at least 1.")
    _check_numbers(out)
    if out.loss.d_update == "halves":
        if recipe.objective is not Objective:
            raise ConfigError(f"--d-update halves is the Keras article's update for the standard GAN loss, which recipe {cfg.recipe!r} "
                              "does not train with; leave it unset or use --recipe gan or dcgan.")
        if t.batch_size < 2:
            raise ConfigError(f"--d-update halves splits each batch into a real and a fake half, so --batch-size must be at least 2, "
                              f"not {t.batch_size}.")
    if recipe.paired and out.loss.l1_weight == 0 and out.loss.gan_weight == 0:
        raise ConfigError("--l1-weight and --gan-weight are both 0, which leaves pix2pix nothing to learn; keep at least one above 0.")
    _check_batch(out, recipe)
    check_seed(t.seed)
    if memory:
        check_memory(out)
    return out


def _check_batch(cfg: Config, recipe: Recipe) -> None:
    """Batches PyTorch or the trainer would refuse at the first step, refused before a run
    directory exists: batch norm over one item, groups or packs a batch does not fill."""
    t = cfg.train
    if t.batch_size < 2 and cfg.model.arch == "mlp" and recipe.mlp_batch_norm:
        raise ConfigError(f"Recipe {cfg.recipe!r} with --arch mlp normalises over the items of each batch (batch norm), "
                          "which needs at least 2 of them; use --batch-size 2 or more.")
    unit = batch_multiple(cfg)  # what training.py's distributed.check_batch asks of one process's batch
    if t.batch_size % unit:
        fit = max(unit, t.batch_size // unit * unit)
        why = (f"compares samples in groups of {MINIBATCH_STD_GROUP}" if cfg.recipe == "minibatch-std"
               else "splits each batch into a real and a fake half (--d-update halves)")
        raise ConfigError(f"Recipe {cfg.recipe!r} {why}, so --batch-size must be a multiple of {unit}, not {t.batch_size}; "
                          f"use e.g. {fit}.")


def _check_pairs(cfg: Config, recipe: Recipe, source) -> None:
    """Pairs (data/paired.py) go with the recipes that train on them, and only those."""
    d = cfg.data
    has_pairs = "paired" in source.tags or d.pairs is not None
    if recipe.paired and not has_pairs:
        raise ConfigError(f"Recipe {cfg.recipe!r} learns from image pairs and {d.name!r} holds single images; "
                          f"add --pairs {', '.join(DERIVED_KINDS[:-1])} or {DERIVED_KINDS[-1]} to derive pairs from them, or use --data paired.")
    if not recipe.paired and has_pairs:
        users = " or ".join(name for name, r in RECIPES.items() if r.paired)
        what = "--pairs" if d.pairs is not None else f"--data {d.name}"
        raise ConfigError(f"{what} gives image pairs, which recipe {cfg.recipe!r} does not train on; use --recipe {users}.")
    if d.pairs is not None and "paired" in source.tags:
        raise ConfigError(f"--pairs derives pairs from single images, and {d.name!r} already holds pairs; leave --pairs unset.")
    if d.direction != "AtoB" and "paired" not in source.tags:
        raise ConfigError("--direction chooses between the halves of pairs read from disk; leave it unset or use --data paired.")
    if d.split != "train" and not has_pairs:
        raise ConfigError("--split selects held-out image pairs for pix2pix; leave it unset for other data.")


# Options only some recipes use: what each is, for the refusal.
_RECIPE_OPTIONS = {"loss.clip": "the WGAN weight-clipping bound", "loss.gp_weight": "the WGAN-GP gradient-penalty weight",
                   "loss.l1_weight": "the pix2pix L1 weight", "loss.gan_weight": "the pix2pix weight of the cGAN loss",
                   "model.pack": "PacGAN's packing of samples for the discriminator",
                   "loss.r1_weight": "the weight of the R1 penalty on the discriminator"}
_UNSET = {"optim.momentum": 0.0, "optim.rho": 0.99}  # fields whose "not set" value is not None


def _drop_unused_options(cfg: Config, d: dict, defaults: dict, kind: str) -> None:
    """Options the run would ignore are refused when the user set them, so config.json
    never records a setting that did nothing. A value equal to the recipe's own
    default is cleared instead: that is the recipe's filling-in (e.g. Adam's betas in a
    config resolved before --optimizer sgd was chosen), not a choice."""

    def clear(key: str, refusal: str) -> None:
        section, name = key.split(".")
        given = getattr(getattr(cfg, section), name)
        unset = _UNSET.get(key)
        if given is not None and given != unset and given != defaults.get(key):
            raise ConfigError(refusal)
        d[section][name] = unset

    for key, what in _RECIPE_OPTIONS.items():
        if key in defaults:
            continue
        flag = "--" + key.split(".")[1].replace("_", "-")
        users = [name for name, r in RECIPES.items() if kind in r.kinds and key in r.defaults(kind, cfg)]
        hint = f" or use --recipe {' or '.join(users)}" if users else ""
        clear(key, f"{flag} is {what}, which recipe {cfg.recipe!r} does not use; leave it unset{hint}.")
    optimizer = d["optim"]["optimizer"]
    if optimizer != "adam":
        for name in ("beta1", "beta2"):
            clear(f"optim.{name}", f"--{name} is an Adam setting and the optimizer is {optimizer}; leave it unset or use --optimizer adam.")
    if optimizer != "sgd":
        clear("optim.momentum", f"--momentum is an SGD setting and the optimizer is {optimizer}; leave it unset or use --optimizer sgd.")
    if optimizer != "rmsprop":
        clear("optim.rho", f"--rho is an RMSProp setting and the optimizer is {optimizer}; leave it unset or use --optimizer rmsprop.")


# The seeds a run or a sample may be given: what the dashboard's seed boxes allow, and
# what every seed derived from one (the data order's seed * 1,000,003 + epoch, the grid's
# seed + 12,345) keeps within the 64 bits torch.manual_seed takes.
MAX_SEED = 2**31 - 1
MAX_STEPS = 10**9  # a run's longest: about 30 years at 1 step a second
# The largest learning rate a run may ask for: far past any rate that trains (GANs train
# at 1e-5 to 1e-2; 1e8 is the blow-up the health diagnosis is shown on), and far below
# what float32 holds (3.4e38), which Adam's step lr / (1 - beta1) must stay under: 1e308
# stopped PyTorch's Adam mid-step with "value cannot be converted to type float".
MAX_LR = 1e8


def check_seed(seed, name: str = "--seed") -> int:
    """``seed`` as an int if it is a whole number from 0 to MAX_SEED, else a ConfigError naming ``name``."""
    whole = isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    if not whole or not 0 <= seed <= MAX_SEED:
        shown = f"{int(seed):,}" if whole else repr(seed)
        raise ConfigError(f"{name} must be a whole number from 0 to {MAX_SEED:,}, not {shown}.")
    return int(seed)


def _check_numbers(cfg: Config) -> None:
    """Values PyTorch would reject mid-run with a traceback, or accept and do nonsense with."""
    o, lo = cfg.optim, cfg.loss
    for name in ("lr_g", "lr_d"):
        value = getattr(o, name)
        if not value > 0:  # NaN too
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive learning rate, not {value}.")
        if value > MAX_LR:  # inf too
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive learning rate of at most {MAX_LR:,.0f} "
                              f"(e.g. 0.0002), not {value}.")
    for name in ("beta1", "beta2"):
        value = getattr(o, name)
        if value is not None and not 0 <= value < 1:
            raise ConfigError(f"--{name} must be at least 0 and below 1 (e.g. 0.5 or 0.999), not {value}.")
    if not 0 <= o.momentum < 1:
        raise ConfigError(f"--momentum must be at least 0 and below 1 (e.g. 0.9), not {o.momentum}.")
    if not 0 <= o.rho < 1:
        raise ConfigError(f"--rho must be at least 0 and below 1 (e.g. 0.9 or 0.99), not {o.rho}.")
    if lo.clip is not None and not (math.isfinite(lo.clip) and lo.clip > 0):
        raise ConfigError(f"--clip must be a positive bound on the critic's weights (e.g. 0.01), not {lo.clip}.")
    for name in ("gp_weight", "r1_weight", "l1_weight", "gan_weight"):
        value = getattr(lo, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be zero or a positive weight, not {value}.")


def training_shape(cfg: Config) -> budget.TrainingShape:
    """What a resolved config's training run costs in memory depends on (``budget.training_parts``):
    the item's shape, the models' sizes, the batch, the sample grid, the optimiser and the
    data held whose size the config decides. Where the config does not say (a source's own
    colour, a folder's classes) it takes the larger: colour. Points have their mixture's dimension."""
    from .data.builtin import HELD  # built-in sets' item counts
    from .data.toy import mode_centres

    recipe, source = RECIPES.get(cfg.recipe), SOURCES.get(cfg.data.name)
    d, m, o = cfg.data, cfg.model, cfg.optim
    sources = 0  # pix2pix: the source halves' channels
    if source.kind == DataKind.VECTOR:
        centres = mode_centres(d.name)  # the mixtures' own dimension (toy-1d: 1); else the larger, 2
        dim = centres.shape[1] if centres is not None else 2
        item, data = (dim,), d.n_points * dim * 5  # drawn with about 5 copies' worth of indices, draws and sums
        arch = "points" if recipe.point_models else "mlp"
    else:
        held = HELD.get(d.name) if source.builtin else None
        channels = d.channels or (held[2] if held else 1 if source.builtin and "colour" not in source.tags else 3)
        item = (channels, d.image_size, d.image_size)
        sources = source_channels(d.pairs, channels) if recipe.paired else 0
        items = min(held[0], d.limit or held[0]) if held else 0
        data = items * (channels + sources) * d.image_size**2
        arch = "unet" if recipe.paired else "conv" if m.arch == "conv" else "mlp"
    cond = 0
    if recipe.conditional:
        named = [a for a in (d.attributes or "").split(",") if a.strip()]
        cond = len(named) or (40 if "attrs" in source.tags else 10)  # CelebA's 40 attributes; 10 classes
    slots = {"adam": 2, "rmsprop": 1}.get(o.optimizer, 1 if o.momentum else 0)
    return budget.TrainingShape(
        arch, item, m.width, m.z_dim, cfg.train.batch_size, cfg.train.n_samples, cond_dim=cond, pack=m.pack or 1,
        source_channels=sources, skips=m.arch != "encoder-decoder",
        optimizer_slots=slots, double_backward=bool(cfg.loss.gp_weight or cfg.loss.r1_weight), data_floats=data)


# A training worker's own PyTorch and engine, in its data segment before its first step
# (settings.DEMO_WORKER_MEMORY_MB's note: about 0.9 GB), which its cap also counts.
WORKER_ENGINE_MB = 900


def training_memory(device: str) -> tuple[int, str]:
    """(bytes, how a sentence names them) that one training run may hold beyond the engine
    itself. A run is a process of its own, not a request to the dashboard's server, so its
    limit is the worker's: the cap a CPU worker is given (``settings.worker_memory_mb``:
    1.5 GB on a demo, or GAN_WORKBENCH_WORKER_MEMORY_MB) less the engine's own, else the
    GPU's memory for a CUDA run, else the machine's. A GPU server then trains the large
    models it is there for, and only sizes no machine here could hold are refused."""
    from .settings import worker_memory_mb

    name = str(device)
    cuda = torch.cuda.is_available() and (name == "auto" or name.startswith("cuda"))
    index = int(name.split(":")[1]) if cuda and ":" in name and name.split(":")[1].isdigit() else 0
    index = index if cuda and index < torch.cuda.device_count() else 0  # a GPU it lacks: the trainer says so
    dev = torch.device("cuda", index) if cuda else torch.device("cpu")  # MPS shares the machine's memory
    cap = worker_memory_mb()
    if dev.type == "cpu" and cap is not None:
        room = max(1, cap - WORKER_ENGINE_MB) * budget.MB
        return room, f"the {budget.size_text(room)} a training run may use on this server"
    if dev.type == "cuda":
        total = torch.cuda.get_device_properties(dev.index or 0).total_memory
        return total, f"this GPU's {budget.size_text(total)}"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total, f"this machine's {budget.size_text(total)} of memory"


def in_server(cfg: Config) -> Config:
    """``resolve`` for a run the dashboard's own process trains (the 1-D and 2-D labs): its
    sizes are checked against this server's budget per request (``budget.limit()``), not
    against what a training worker may use, since no worker holds them."""
    out = resolve(cfg, memory=False)
    room = budget.limit()
    check_memory(out, (room, f"this server's {budget.size_text(room)} per request"))
    return out


def check_memory(cfg: Config, room: tuple[int, str] | None = None) -> None:
    """Refuse, in one sentence naming what to lower, a resolved config whose training run
    would need more memory than a run may use here (``training_memory``), from its sizes
    alone (``budget.training_peak``), before anything is allocated: the dashboard's Start
    and the command line's ``train`` both come through ``resolve``."""
    t = training_shape(cfg)
    need = budget.training_peak(t)
    room, where = training_memory(cfg.train.device) if room is None else room
    if need <= room:
        return
    parts = budget.training_parts(t)
    largest = max(("model", "batch", "grid", "data"), key=parts.get)
    image = len(t.item_shape) == 3
    if largest == "model":
        fewer_z = budget.training_parts(dataclasses.replace(t, z_dim=min(t.z_dim, 100)))["model"]
        fix = ("lower the noise size (--z-dim)" if 2 * fewer_z < parts["model"]
               else "lower the width" + (" or the image size" if image else ""))
    elif largest == "batch":
        fix = "lower the batch size, the image size or the width" if image else "lower the batch size or the width"
    elif largest == "grid":
        fix = "lower the samples in each grid (--n-samples)"
    else:
        fix = "lower the image size" if image else "draw fewer points (--n-points)"
    raise budget.BudgetError(f"Training {cfg.recipe} on {t.describe()} with batch {t.batch:,} needs about "
                             f"{budget.size_text(need)}, more than {where}; {fix}.")


def batch_multiple(cfg: Config) -> int:
    """What each process's share of a batch must be a multiple of under torchrun, so
    that D's packs (pacgan) and minibatch-std's groups are the single-process ones."""
    unit = (cfg.model.pack or 1) * (2 if cfg.loss.d_update == "halves" else 1)
    return math.lcm(unit, MINIBATCH_STD_GROUP) if cfg.recipe == "minibatch-std" else unit


def make_optimizer(cfg: Config, params, lr: float) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(o.beta1 if o.beta1 is not None else 0.9, o.beta2 if o.beta2 is not None else 0.999))
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=o.rho)
    return torch.optim.SGD(params, lr=lr, momentum=o.momentum)


def describe() -> list[dict]:
    """Recipes for menus: name, description, data kinds."""
    return [{"name": r.name, "description": r.description, "kinds": list(r.kinds)} for _, r in RECIPES.items()]


__all__ = ["RECIPES", "Recipe", "MAX_LR", "MAX_SEED", "as_trained", "check_memory", "check_seed", "in_server", "resolve", "make_optimizer",
           "describe", "training_shape"]
