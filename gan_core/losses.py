"""GAN objectives as pure functions of discriminator outputs (logits).

Goodfellow et al.: min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],
with D = sigmoid(logit). Written with softplus, which is log(1 + e^t), because
log(sigmoid(t)) = -softplus(-t) and log(1 - sigmoid(t)) = -softplus(t) stay
finite where the naive forms overflow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_real(real_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)]: D is pushed to call real data real (label 1)."""
    return F.softplus(-real_logits).mean()


def d_loss_fake(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log(1 - D(G(z)))]: D is pushed to call fakes fake (label 0)."""
    return F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))], minimised by G: the paper's objective. Its gradient
    vanishes when D confidently rejects fakes, i.e. early in training."""
    return -F.softplus(fake_logits).mean()


def g_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: same fixed point, strong gradients early (the paper's advice)."""
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic: minimise E[f(G(z))] - E[f(x)]; its negation estimates W1 (up to scale)."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, *critic_args,
                     shard: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): E[(||grad f(x_hat)||_2 - 1)^2] on random
    interpolates x_hat between real and fake samples. ``shard`` = (rank, processes)
    under torchrun: epsilon is drawn for the global batch and this process keeps its
    rows, as the noise is (objectives.Objective.noise), so the processes together use
    the epsilons one process would, and none repeats another's."""
    rank, world = shard
    n = len(real)
    eps = torch.rand((n * world,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    eps = eps[rank * n:(rank + 1) * n]
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(x_hat, *critic_args)
    (grads,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grads.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(real: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, "Which training methods for GANs do actually
    converge?"): E ||grad_x D(x)||^2 over the real batch, from D's logits on ``real``,
    which must have been computed with ``real.requires_grad_()``. Differentiable, so
    D's step also lowers it."""
    (grads,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grads.flatten(1).pow(2).sum(dim=1).mean()


def l1(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (fake - target).abs().mean()


G_LOSSES = {"non-saturating": g_loss_non_saturating, "minimax": g_loss_minimax}
