"""Named recipes: an architecture plus an objective plus defaults.

Adding a recipe is one model file (if it needs a new architecture) and one
``RECIPES.register`` entry here; the registry-wide test then trains it.

An ``Objective`` turns a batch into the discriminator's and the generator's
losses. It knows the models but nothing of optimisers, devices or logging, so
the trainer stays the same for every recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from . import losses
from .config import Config
from .data.base import SOURCES, GanData
from .errors import ConfigError
from .models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, init_dcgan_weights
from .registry import Registry

Stats = dict[str, torch.Tensor]


class Objective:
    """Standard GAN: D does logistic regression real-vs-fake, G tries to fool it."""

    def __init__(self, cfg: Config, data: GanData):
        self.cfg = cfg
        self.z_dim = cfg.model.z_dim
        self.g_loss_fn = losses.G_LOSSES.get(cfg.loss.g_loss)

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def d_loss(self, G: nn.Module, D: nn.Module, batch: dict) -> tuple[torch.Tensor, Stats]:
        # (1) Update D: maximise log D(x) + log(1 - D(G(z)))
        real = batch["real"]
        with torch.no_grad():
            fake = G(self.noise(len(real), real.device))
        real_logits, fake_logits = D(real), D(fake)
        loss_real, loss_fake = losses.d_loss_real(real_logits), losses.d_loss_fake(fake_logits)
        stats = {
            "loss_d_real": loss_real.detach(),
            "loss_d_fake": loss_fake.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
        }
        return loss_real + loss_fake, stats

    def g_loss(self, G: nn.Module, D: nn.Module, batch: dict) -> tuple[torch.Tensor, Stats]:
        # (2) Update G: minimise log(1 - D(G(z))) or, non-saturating, maximise log D(G(z))
        n = len(batch["real"])
        fake_logits = D(G(self.noise(n, batch["real"].device)))
        return self.g_loss_fn(fake_logits), {"d_fake_g": torch.sigmoid(fake_logits.detach().float()).mean()}

    def after_d_step(self, D: nn.Module) -> None:
        pass

    def fixed_inputs(self, n: int, device: torch.device, seed: int) -> dict:
        """The inputs of the fixed-noise sample grid: drawn from their own generator
        so that sampling never moves the training RNG."""
        gen = torch.Generator(device="cpu").manual_seed(seed + 12345)
        return {"z": self.noise(n, torch.device("cpu"), gen).to(device)}

    @torch.no_grad()
    def generate(self, G: nn.Module, inputs: dict) -> torch.Tensor:
        return G(inputs["z"])


class WassersteinObjective(Objective):
    """WGAN (Arjovsky et al.): a critic f without sigmoid estimates W1 between data
    and generator; weight clipping keeps f (roughly) Lipschitz."""

    def d_loss(self, G, D, batch):
        real = batch["real"]
        with torch.no_grad():
            fake = G(self.noise(len(real), real.device))
        real_scores, fake_scores = D(real), D(fake)
        loss = losses.critic_loss(real_scores, fake_scores)
        stats = {
            "critic_real": real_scores.detach().float().mean(),
            "critic_fake": fake_scores.detach().float().mean(),
            "wasserstein": -loss.detach().float(),
        }
        penalty = self.penalty(D, real, fake)
        if penalty is not None:
            stats["gradient_penalty"] = penalty.detach()
            loss = loss + self.cfg.loss.gp_weight * penalty
        return loss, stats

    def penalty(self, D, real, fake):
        return None

    def g_loss(self, G, D, batch):
        n = len(batch["real"])
        return losses.g_loss_wasserstein(D(G(self.noise(n, batch["real"].device)))), {}

    @torch.no_grad()
    def after_d_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.cfg.loss.clip, self.cfg.loss.clip)


class GradientPenaltyObjective(WassersteinObjective):
    """WGAN-GP (Gulrajani et al.): a gradient penalty replaces clipping."""

    def penalty(self, D, real, fake):
        # The penalty differentiates through D twice; keep it in float32 under AMP.
        with torch.autocast(real.device.type, enabled=False):
            return losses.gradient_penalty(D, real.float(), fake.float())

    def after_d_step(self, D):
        pass


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    kinds: tuple[str, ...]  # data kinds it trains on: "image", "vector"
    defaults: Callable[[str, Config], dict]  # (data kind, config) -> {dotted field: value} for unset fields
    build: Callable[[Config, GanData], tuple[nn.Module, nn.Module]]
    objective: type[Objective]


RECIPES: Registry[Recipe] = Registry("recipe")


def _adam(lr: float, beta1: float, beta2: float) -> dict:
    return {"optim.optimizer": "adam", "optim.lr_g": lr, "optim.lr_d": lr, "optim.beta1": beta1, "optim.beta2": beta2}


def _build_mlp_or_conv(critic_norm: str):
    def build(cfg: Config, data: GanData):
        m = cfg.model
        if m.arch == "mlp":
            G = MLPGenerator(m.z_dim, data.shape, m.width, image=data.kind == "image")
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
    lambda kind, cfg: {"model.arch": "mlp", "model.width": 256 if kind == "image" else 128,
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
    lambda kind, cfg: {"model.arch": "conv" if kind == "image" else "mlp", "model.width": 64 if kind == "image" else 128,
                  "optim.optimizer": "rmsprop", "optim.lr_g": 5e-5, "optim.lr_d": 5e-5,
                  "loss.g_loss": "wasserstein", "loss.d_steps": 5, "loss.clip": 0.01},
    _build_mlp_or_conv("batch"),
    WassersteinObjective,
))

RECIPES.register("wgan-gp")(Recipe(
    "wgan-gp",
    "WGAN with gradient penalty (Gulrajani et al. 2017): lambda 10, critic without batch norm, Adam 1e-4 / (0, 0.9).",
    ("image", "vector"),
    lambda kind, cfg: {"model.arch": "conv" if kind == "image" else "mlp", "model.width": 64 if kind == "image" else 128,
                  **_adam(1e-4, 0.0, 0.9), "loss.g_loss": "wasserstein", "loss.d_steps": 5, "loss.gp_weight": 10.0},
    _build_mlp_or_conv("layer"),
    GradientPenaltyObjective,
))


def resolve(cfg: Config) -> Config:
    """Fill every unset field from the recipe's defaults and check that the
    combination makes sense, with one-sentence errors for what does not."""
    recipe = RECIPES.get(cfg.recipe)
    source = SOURCES.get(cfg.data.name)
    if source.kind not in recipe.kinds:
        fits = ", ".join(name for name, r in RECIPES.items() if source.kind in r.kinds)
        what = "images" if source.kind == "image" else "points (vectors)"
        raise ConfigError(f"Recipe {cfg.recipe!r} cannot train on {cfg.data.name!r}, which is {what}; use one of: {fits}.")
    d = cfg.to_dict()
    for key, value in recipe.defaults(source.kind, cfg).items():
        section, name = key.split(".")
        if d[section][name] is None:
            d[section][name] = value
    out = Config.from_dict(d)

    wasserstein = issubclass(recipe.objective, WassersteinObjective)
    if wasserstein and out.loss.g_loss != "wasserstein":
        raise ConfigError(f"Recipe {cfg.recipe!r} trains with the Wasserstein loss; leave --g-loss unset or use gan / dcgan for {out.loss.g_loss!r}.")
    if not wasserstein and out.loss.g_loss == "wasserstein":
        raise ConfigError(f"The Wasserstein loss needs a critic; use --recipe wgan or wgan-gp instead of {cfg.recipe!r}.")
    if out.model.arch == "conv" and source.kind != "image":
        raise ConfigError(f"Convolutional models need images, but {cfg.data.name!r} is points; use --arch mlp.")
    size = out.data.image_size
    if out.model.arch == "conv" and (size < 16 or size > 256 or size & (size - 1)):
        raise ConfigError(f"Convolutional models need --image-size 16, 32, 64, 128 or 256, not {size}.")
    if source.kind == "image" and not 8 <= size <= 1024:
        raise ConfigError(f"--image-size must be between 8 and 1024, not {size}.")
    t = out.train
    for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "n_samples"):
        if getattr(t, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(t, name)}.")
    if out.loss.d_steps < 1:
        raise ConfigError(f"--d-steps must be at least 1, not {out.loss.d_steps}.")
    for name in ("lr_g", "lr_d"):
        if not getattr(out.optim, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive learning rate, not {getattr(out.optim, name)}.")
    if out.model.width < 1 or out.model.z_dim < 1:
        raise ConfigError("--width and --z-dim must be at least 1.")
    return out


def make_optimizer(cfg: Config, params, lr: float) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(o.beta1 if o.beta1 is not None else 0.9, o.beta2 if o.beta2 is not None else 0.999))
    if o.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=o.momentum)


def describe() -> list[dict]:
    """Recipes for menus: name, description, data kinds."""
    return [{"name": r.name, "description": r.description, "kinds": list(r.kinds)} for _, r in RECIPES.items()]


__all__ = ["RECIPES", "Recipe", "Objective", "resolve", "make_optimizer", "describe"]
