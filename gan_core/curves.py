"""Training curves: which metrics are drawn together, what they should look like, and
the maths that prepares them for a chart (smoothing, the Keras article's D loss, the
wall-time axis). Pure numpy over metrics rows; the Runs page only draws what this gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

ARTICLE_GROUP = "Losses as the Keras article plots them"
WASSERSTEIN_GROUP = "Wasserstein estimate"
AUGMENT_GROUP = "Augmentation and overfitting"
GROUPS = {
    "Losses": ("loss_d", "loss_g", "loss_d_real", "loss_d_fake"),
    ARTICLE_GROUP: ("loss_d_mean", "loss_g"),
    "D outputs": ("d_real", "d_fake"),
    "Gradient norms": ("grad_norm_d", "grad_norm_g"),
    WASSERSTEIN_GROUP: ("wasserstein", "gradient_penalty"),
    AUGMENT_GROUP: ("augment_p", "r_t"),
}
# Groups a WGAN run has too: its losses and gradients, but no probabilities.
WGAN_GROUPS = ("Losses", "Gradient norms", WASSERSTEIN_GROUP)
LABELS = {
    "loss_d": "D loss (real + fake)",
    "loss_d_mean": "D loss: mean of real and fake (the article's d_loss)",
    "loss_g": "G loss",
    "loss_d_real": "D loss on real: −log D(x)",
    "loss_d_fake": "D loss on fakes: −log(1 − D(G(z)))",
    "d_real": "D(x): mean output on real",
    "d_fake": "D(G(z)): mean output on fakes",
    "grad_norm_d": "‖∇D‖: discriminator gradient norm",
    "grad_norm_g": "‖∇G‖: generator gradient norm",
    "wasserstein": "Wasserstein estimate (−critic loss)",
    "gradient_penalty": "Gradient penalty (WGAN-GP)",
    "augment_p": "p: augmentation strength for D",
    "r_t": "r_t = E[sign D(x)] on real: D's overfitting",
}
LOG4, LOG2 = math.log(4), math.log(2)
# Goodfellow et al.'s equilibrium (D* = 1/2 everywhere) for the standard GAN.
EQUILIBRIUM = {"loss_d": LOG4, "loss_d_mean": LOG2, "loss_d_real": LOG2, "loss_d_fake": LOG2, "d_real": 0.5, "d_fake": 0.5}
# Levels that hold for every run, WGANs too: ADA's target for r_t (gan_core.augment.ADA_TARGET).
TARGETS = {"r_t": 0.6}
# Past five minutes a run's wall time reads better in minutes.
MINUTES_AFTER_S = 300

NOTES = {
    "Losses": f"""
**Healthy.** A GAN's losses do not fall like a classifier's: the two players balance.
At Goodfellow et al.'s equilibrium the best discriminator is D\\*(x) = ½ everywhere,
so D's loss hovers near **log 4 ≈ {LOG4:.3f}** (log 2 on real plus log 2 on fakes,
the dotted lines) and the non-saturating G loss near log 2 ≈ {LOG2:.3f}. Wobbling
around those values is normal.

**Failing.** D loss sliding to **0 while the G loss climbs**: D has won, it rejects
every fake with certainty and G's gradients vanish; lower D's learning rate or try
WGAN-GP. Swings that never settle, or a jump to NaN (the run is marked *diverged*):
the learning rate is too high.
""",
    ARTICLE_GROUP: f"""
**As in the Keras article.** Its loss figures plot D's loss as the **mean** of the
real and fake parts, Keras's d_loss = 0.5 × (d_loss_real + d_loss_fake), beside G's
loss; the other Losses view shows their sum. At D\\*(x) = ½ both sit near
**log 2 ≈ {LOG2:.3f}** (dotted). The article's curve labelled "Discriminator Loss -
Fake" is really D's accuracy (its code logs d_loss[1]), so it has no match here.

**Failing.** D's mean loss sliding to 0 while G's climbs: D has won.
""",
    "D outputs": """
**Healthy.** D(x) is D's mean probability that a real image is real, D(G(z)) the same
for fakes. When G's distribution matches the data, the best D can do is
D\\*(x) = p_data / (p_data + p_G) = **½**, so both curves drift towards 0.5 (dotted).

**Failing.** D(x) → 1 and D(G(z)) → 0 and staying there: D separates the two perfectly
and G learns nothing (vanishing gradients). D(G(z)) stuck near 1: D has collapsed.
""",
    "Gradient norms": """
**Healthy.** Both norms stay within an order of magnitude or so of where they started;
smoothing helps read them.

**Failing.** ‖∇G‖ shrinking towards 0 while D wins means vanishing gradients (with
the minimax loss especially). Spikes that grow run after run usually come right
before a divergence: lower the learning rate.
""",
    WASSERSTEIN_GROUP: """
**WGAN.** The critic's loss, negated, estimates the Wasserstein-1 distance between
the data and G's samples (up to the critic's Lipschitz constant). Unlike the
standard GAN loss it means something: it should **fall as the samples improve**.
With weight clipping its scale is arbitrary; compare its trend, not its value.
WGAN-GP's gradient penalty should stay small (well under 1): a large one means the
critic is far from 1-Lipschitz.
""",
    AUGMENT_GROUP: """
**r_t** = E[sign D(x)] over real images (for a critic: the share of reals scored above
the average fake, minus the share below): how sure D is of the training images. Near
1, D calls every one of them real: with a small data set, that means D has
**memorised** them and G gets little use out of it.

**p** is the probability that each augmentation (colour, shift, cut-out) is applied to
each image D sees, real and generated. With `--augment ada` it rises while r_t is
above the dotted target (0.6, StyleGAN2-ADA's) and falls below it; with `diff` it is 1
throughout. **Healthy:** r_t hovering near 0.6 with p steady. **Failing:** r_t pinned
near 1 with p at 0 (no augmentation), or p climbing to 1 and r_t still high: D
memorises anyway; use more images or a shorter run.
""",
}
COLLAPSE_NOTE = """
**Mode collapse does not show in the losses**: G can fool D with a few outputs and the
curves look healthy. Look at the samples below: the same digit or face over and over
is collapse.
"""


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first
    points are not pulled towards zero; missing values stay missing."""
    if weight <= 0:
        return values
    out = np.full(len(values), np.nan)
    last, n = 0.0, 0
    for i, v in enumerate(values):
        if not np.isfinite(v):
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out[i] = last / (1 - weight**n)
    return out


def with_loss_d_mean(rows: Iterable[dict]) -> list[dict]:
    """The rows with D's loss as the Keras article plots it, 0.5 × (real + fake)
    (Keras's d_loss), on each row that logged both parts."""
    out = []
    for row in rows:
        real, fake = row.get("loss_d_real"), row.get("loss_d_fake")
        out.append({**row, "loss_d_mean": 0.5 * (real + fake)} if real is not None and fake is not None else row)
    return out


def x_axis(x_key: str, longest_elapsed: float = 0.0) -> tuple[float, str]:
    """(divisor, title) of the x axis: by step, or by wall time in seconds or, for
    runs longer than MINUTES_AFTER_S, in minutes."""
    if x_key != "elapsed":
        return 1.0, "step"
    return (60.0, "wall time (min)") if longest_elapsed > MINUTES_AFTER_S else (1.0, "wall time (s)")


def curve(x: Sequence[float] | None, y: Sequence[float] | None, smoothing: float,
          scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One run's curve ready to draw: (x / scale, raw y, smoothed y), leaving out the
    rows where either is missing: a value of None or NaN, or the whole column (None:
    rows written without ``elapsed`` by an older version or by hand have no wall time).
    Smoothed over every point, so thinning for the browser afterwards never changes
    the smoothed line."""
    if x is None or y is None:
        empty = np.empty(0)
        return empty, empty, empty
    x = np.asarray(x, dtype=float).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} values and y {len(y)}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep] / scale, y[keep]
    return x, y, ema(y, smoothing)


def column(rows: Iterable[dict], key: str) -> np.ndarray:
    """``key`` of every row as floats, NaN where a row lacks it: what ``curve`` leaves out."""
    return np.array([v if isinstance(v := row.get(key), (int, float)) and not isinstance(v, bool) else np.nan
                     for row in rows], dtype=float)


def equilibrium(metric: str, standard_g_losses: Sequence[str | None]) -> float | None:
    """Where ``metric`` sits at Goodfellow et al.'s equilibrium (or, r_t, at ADA's target, for every run), for the standard-GAN
    runs drawn (their G losses given; WGANs have none), or None: no level, or no such run.
    G's loss has one only when every run uses the non-saturating -log D(G(z)) (log 2 at D = 1/2)."""
    if metric in TARGETS:
        return TARGETS[metric]
    if not standard_g_losses:
        return None
    if metric == "loss_g":
        return LOG2 if all(g == "non-saturating" for g in standard_g_losses) else None
    return EQUILIBRIUM.get(metric)


def available_groups(columns: set[str], wasserstein: Sequence[bool], article_style: Sequence[bool]) -> list[str]:
    """The metric groups worth offering for the runs drawn: those whose metrics some run
    logged, or will log (a WGAN run that has not logged yet still offers the
    Wasserstein group); the Keras article's view only for runs of its study or trained
    its way (``article_style``). ``wasserstein`` and ``article_style`` have one entry per run."""
    out = []
    for group, metrics in GROUPS.items():
        if group == ARTICLE_GROUP:
            if any(article_style):
                out.append(group)
            continue
        if group == AUGMENT_GROUP:  # runs logged before r_t existed have neither
            if columns.intersection(metrics):
                out.append(group)
            continue
        expected = any(wasserstein) if group == WASSERSTEIN_GROUP else (not all(wasserstein) or group in WGAN_GROUPS)
        if columns.intersection(metrics) or expected:
            out.append(group)
    return out
