"""Objectives: how a batch becomes the discriminator's and the generator's losses.

An ``Objective`` knows the models but nothing of optimisers, devices or logging, so
the trainer stays the same for every recipe. A recipe (``recipes.py``) pairs one of
these with an architecture and defaults; sampling (``inference.py``) uses an
objective's ``generate`` and ``fixed_inputs`` to draw what a generator makes.

    Objective                  standard GAN: D does logistic regression real-vs-fake
    WassersteinObjective       WGAN: a critic without sigmoid, weights clipped
    GradientPenaltyObjective   WGAN-GP: a gradient penalty instead of clipping
    ConditionalObjective       cGAN: G and D both see the class or attributes y
    Pix2PixObjective           image-to-image: cGAN on (source, image) pairs plus L1
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from . import losses
from .augment import real_sign
from .config import Config
from .data.base import GanData

Stats = dict[str, torch.Tensor]


class Objective:
    """Standard GAN: D does logistic regression real-vs-fake, G tries to fool it."""

    def __init__(self, cfg: Config, data: GanData):
        self.cfg = cfg
        self.z_dim = cfg.model.z_dim
        self.g_loss_fn = losses.G_LOSSES.get(cfg.loss.g_loss)

    # (rank, processes) under torchrun: training noise is drawn for the global batch and
    # each process keeps its shard, so the processes together draw what one would.
    shard = (0, 1)

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        rank, world = self.shard if generator is None else (0, 1)
        z = torch.randn(n * world, self.z_dim, device=device, generator=generator)
        return z[rank * n:(rank + 1) * n] if world > 1 else z

    @property
    def r1_weight(self) -> float:
        return self.cfg.loss.r1_weight or 0.0  # unset: a recipe without R1

    def real_loss(self, D: nn.Module, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | float, Stats]:
        """D's loss on a real batch, its logits, and the R1 term to add to D's loss
        (gamma/2 times the penalty with ``--r1-weight``, else 0; computed in float32,
        since it differentiates through D twice) with its logged statistic."""
        if not self.r1_weight:
            logits = D(real)
            return losses.d_loss_real(logits), logits, 0.0, {}
        with torch.autocast(real.device.type, enabled=False):
            real = real.detach().float().requires_grad_(True)
            logits = D(real)
            penalty = losses.r1_penalty(real, logits)
        return losses.d_loss_real(logits), logits, 0.5 * self.r1_weight * penalty, {"r1": penalty.detach()}

    def d_loss(self, G: nn.Module, D: nn.Module, batch: dict) -> tuple[torch.Tensor, Stats]:
        # (1) Update D: maximise log D(x) + log(1 - D(G(z)))
        real = batch["real"]
        with torch.no_grad():
            fake = G(self.noise(len(real), real.device))
        loss_real, real_logits, r1, extra = self.real_loss(D, real)
        fake_logits = D(fake)
        loss_fake = losses.d_loss_fake(fake_logits)
        stats = {
            "loss_d_real": loss_real.detach(),
            "loss_d_fake": loss_fake.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
            "r_t": real_sign(real_logits),  # ADA's overfitting signal (augment.py)
            **extra,
        }
        return loss_real + loss_fake + r1, stats

    def d_updates(self, G: nn.Module, D: nn.Module, batch: dict) -> list[Callable[[], tuple[torch.Tensor, Stats]]]:
        """D's optimiser steps for one of its k steps on ``batch``, in order: each
        callable returns (loss, stats) and the trainer takes one step on its loss before
        calling the next. ``--d-update joint`` is one step on ``d_loss``; ``halves`` is
        the Keras article's two ``train_on_batch`` calls: a step on a real half-batch
        alone, then one on a fake half-batch alone (fakes drawn after the first step)."""
        if self.cfg.loss.d_update != "halves":
            return [lambda: self.d_loss(G, D, batch)]
        real = batch["real"][: len(batch["real"]) // 2]

        def on_real() -> tuple[torch.Tensor, Stats]:
            loss_real, real_logits, r1, extra = self.real_loss(D, real)
            return loss_real + r1, {"loss_d_real": loss_real.detach(), "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
                                    "r_t": real_sign(real_logits), **extra}

        def on_fake() -> tuple[torch.Tensor, Stats]:
            with torch.no_grad():
                fake = G(self.noise(len(real), real.device))
            fake_logits = D(fake)
            loss_fake = losses.d_loss_fake(fake_logits)
            return loss_fake, {"loss_d_fake": loss_fake.detach(), "d_fake": torch.sigmoid(fake_logits.detach().float()).mean()}

        return [on_real, on_fake]

    def g_loss(self, G: nn.Module, D: nn.Module, batch: dict) -> tuple[torch.Tensor, Stats]:
        # (2) Update G: minimise log(1 - D(G(z))) or, non-saturating, maximise log D(G(z))
        n = len(batch["real"])
        fake_logits = D(G(self.noise(n, batch["real"].device)))
        return self.g_loss_fn(fake_logits), {"d_fake_g": torch.sigmoid(fake_logits.detach().float()).mean()}

    def after_d_step(self, D: nn.Module) -> None:
        pass

    # True: the trainer passes data= (the GanData) to fixed_inputs, for grids of real items.
    fixed_from_data = False

    def fixed_inputs(self, n: int, device: torch.device, seed: int) -> dict:
        """The inputs of the fixed-noise sample grid: drawn from their own generator
        so that sampling never moves the training RNG."""
        gen = torch.Generator(device="cpu").manual_seed(seed + 12345)
        return {"z": self.noise(n, torch.device("cpu"), gen).to(device)}

    @torch.no_grad()
    def generate(self, G: nn.Module, inputs: dict) -> torch.Tensor:
        return G(inputs["z"])


def critic_stats(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> Stats:
    """A critic's logged means and its W1 estimate E[f(x)] - E[f(G(z))], in float32:
    under autocast the scores (and the loss) are bfloat16, whose 8-bit mantissa
    rounds a mean near 100 to a multiple of 0.5, while the estimate is a small
    difference of two such means."""
    critic_real, critic_fake = real_scores.detach().float().mean(), fake_scores.detach().float().mean()
    return {"critic_real": critic_real, "critic_fake": critic_fake, "wasserstein": critic_real - critic_fake,
            "r_t": real_sign(real_scores, fake_scores)}


class WassersteinObjective(Objective):
    """WGAN (Arjovsky et al.): a critic f without sigmoid estimates W1 between data
    and generator; weight clipping keeps f (roughly) Lipschitz."""

    def d_loss(self, G, D, batch):
        real = batch["real"]
        with torch.no_grad():
            fake = G(self.noise(len(real), real.device))
        real_scores, fake_scores = D(real), D(fake)
        loss = losses.critic_loss(real_scores, fake_scores)
        stats = critic_stats(real_scores, fake_scores)
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
            return losses.gradient_penalty(D, real.float(), fake.float(), shard=self.shard)

    def after_d_step(self, D):
        pass


class ConditionalObjective(Objective):
    """cGAN (Mirza & Osindero 2014): G and D both see the condition y of each real
    batch (a one-hot class or 0/1 attributes, see models/conditional.py), so D judges
    "a real x of this y" and G learns to make what y asks for. With
    ``--g-loss wasserstein`` the same models train as a WGAN-GP critic instead."""

    def __init__(self, cfg: Config, data: GanData):
        super().__init__(cfg, data)
        self.class_names, self.attr_names = data.class_names, data.attr_names
        self.cond_dim = condition_dim(data)
        self.wasserstein = cfg.wasserstein

    def condition(self, batch: dict) -> torch.Tensor:
        if self.attr_names:
            return batch["attrs"].float()
        return nn.functional.one_hot(batch["label"].long(), self.cond_dim).float()

    def d_loss(self, G, D, batch):
        # (1) Update D: real pairs (x, y) are real, (G(z, y), y) are fake.
        real, cond = batch["real"], self.condition(batch)
        with torch.no_grad():
            fake = G(self.noise(len(real), real.device), cond)
        real_out, fake_out = D(real, cond), D(fake, cond)
        if self.wasserstein:
            loss = losses.critic_loss(real_out, fake_out)
            stats = critic_stats(real_out, fake_out)
            with torch.autocast(real.device.type, enabled=False):
                penalty = losses.gradient_penalty(D, real.float(), fake.float(), cond.float(), shard=self.shard)
            stats["gradient_penalty"] = penalty.detach()
            return loss + self.cfg.loss.gp_weight * penalty, stats
        loss_real, loss_fake = losses.d_loss_real(real_out), losses.d_loss_fake(fake_out)
        return loss_real + loss_fake, {
            "loss_d_real": loss_real.detach(), "loss_d_fake": loss_fake.detach(),
            "d_real": torch.sigmoid(real_out.detach().float()).mean(), "d_fake": torch.sigmoid(fake_out.detach().float()).mean(),
            "r_t": real_sign(real_out),
        }

    def g_loss(self, G, D, batch):
        # (2) Update G: make D take (G(z, y), y) for real.
        real, cond = batch["real"], self.condition(batch)
        fake_out = D(G(self.noise(len(real), real.device), cond), cond)
        if self.wasserstein:
            return losses.g_loss_wasserstein(fake_out), {}
        return self.g_loss_fn(fake_out), {"d_fake_g": torch.sigmoid(fake_out.detach().float()).mean()}

    def grid_conditions(self, n: int) -> tuple[torch.Tensor, int]:
        """Conditions of the fixed sample grid and its number of columns: one row per
        class (or, for attributes, a row with all off and one row per attribute
        switched on alone, up to 7), the same noise down every column."""
        rows = torch.eye(self.cond_dim) if not self.attr_names else torch.cat([torch.zeros(1, self.cond_dim), torch.eye(self.cond_dim)[:7]])
        cols = max(1, n // len(rows))
        return rows.repeat_interleave(cols, dim=0), cols

    def fixed_inputs(self, n, device, seed):
        cond, cols = self.grid_conditions(n)
        gen = torch.Generator(device="cpu").manual_seed(seed + 12345)
        z = self.noise(cols, torch.device("cpu"), gen).repeat(len(cond) // cols, 1)
        return {"z": z.to(device), "cond": cond.to(device), "nrow": cols}

    @torch.no_grad()
    def generate(self, G, inputs):
        return G(inputs["z"], inputs["cond"])

    def after_d_step(self, D):
        pass


class Pix2PixObjective(Objective):
    """Pix2Pix (Isola et al. 2017): D judges (source, image) pairs patch by patch; G
    minimises gan_weight * cGAN + l1_weight * L1(G(source), target). As in the
    reference, G runs once per step: D learns from the detached output, then G from
    the same output through the updated D, and D's objective is halved.

    ``--gan-weight 0`` is the paper's L1-only ablation (D still trains, so its
    realism map and D(G(x)) show how a judge sees L1-only outputs, but G ignores it);
    ``--l1-weight 0`` is cGAN only."""

    fixed_from_data = True

    def __init__(self, cfg: Config, data: GanData):
        super().__init__(cfg, data)
        self.l1_weight, self.gan_weight = cfg.loss.l1_weight, cfg.loss.gan_weight
        self._last: tuple[dict, torch.Tensor] | None = None

    def d_loss(self, G, D, batch):
        # (1) Update D: (source, target) is real, (source, G(source)) is fake; halved, as in the reference.
        source, target = batch["source"], batch["target"]
        fake = G(source)
        self._last = (batch, fake)  # kept, with its graph, for G's update on this batch
        real_logits, fake_logits = D(source, target), D(source, fake.detach())
        loss_real, loss_fake = losses.d_loss_real(real_logits), losses.d_loss_fake(fake_logits)
        stats = {
            "loss_d_real": loss_real.detach(), "loss_d_fake": loss_fake.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
            "r_t": real_sign(real_logits),
        }
        return 0.5 * (loss_real + loss_fake), stats

    def g_loss(self, G, D, batch):
        # (2) Update G: fool D on (source, G(source)) and stay close to the target in L1.
        source, target = batch["source"], batch["target"]
        fake = self._last[1] if self._last is not None and self._last[0] is batch else G(source)
        self._last = None
        l1 = losses.l1(fake, target)
        stats = {"l1": l1.detach()}
        loss = self.l1_weight * l1
        if self.gan_weight > 0:
            fake_logits = D(source, fake)
            adversarial = self.g_loss_fn(fake_logits)
            loss = loss + self.gan_weight * adversarial
            stats.update(loss_g_gan=adversarial.detach(), d_fake_g=torch.sigmoid(fake_logits.detach().float()).mean())
        return loss, stats

    def fixed_inputs(self, n, device, seed, data=None):
        """Real pairs spread over the data (no noise, so nothing draws random numbers):
        the grid shows source | output | target triplets, several to a row."""
        triplets = max(1, n // 3)
        cols = max(1, math.ceil(math.sqrt(triplets)))
        pairs = data.fixed(cols * max(1, triplets // cols))
        return {"source": pairs["source"].to(device), "target": pairs["target"].to(device), "nrow": 3 * cols}

    @torch.no_grad()
    def generate(self, G, inputs):
        source, target = inputs["source"], inputs["target"]
        out = G(source)
        c = max(source.shape[1], out.shape[1])  # a grey source beside a colour output: repeat its channel
        return torch.stack([x.expand(-1, c, -1, -1) for x in (source, out, target.to(out.dtype))], dim=1).flatten(0, 1)


def condition_dim(data: GanData) -> int:
    """Length of the condition vector: attributes if the data has them, else classes."""
    return len(data.attr_names) if data.attr_names else data.num_classes


__all__ = ["Stats", "Objective", "WassersteinObjective", "GradientPenaltyObjective", "ConditionalObjective", "Pix2PixObjective",
           "critic_stats", "condition_dim"]
