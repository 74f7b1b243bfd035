"""A run's health, read from its metrics file rather than from inside the loop.

Pure functions over the rows of ``metrics.jsonl`` (``runs.read_metrics``), so the
dashboard, the command line and tests judge a run the same way, from the same
file, whether it trained here, on a GPU server or long ago. No torch: pages import
this module. ``shown_state`` says, once for every page, what a run's state shows as
(including "stopping" and "exploded") and in which colour.

``diagnose(rows, recipe, kind, config)`` names what a learner meets, each as a
``Finding`` with what the numbers show and what to try:

    exploded     a loss is NaN, infinite or in the millions (``exploded``, below)
    d_won        standard GAN: D rejects every generated sample (D(G(z)) near 0,
                 D's loss near 0), so G learns little or nothing
    critic_won   WGAN: the Wasserstein estimate keeps growing, G falls behind
    collapse     the fixed-noise samples are nearly identical (``diversity``)
    collapse_within
                 conditional runs: within each class the samples are nearly
                 identical whatever z is (``diversity_within``)
    modes_lost   2-D mixtures: modes covered fell, or stay at half or fewer
    oscillation  D's verdict (or the Wasserstein estimate) swings without settling
    still_noise  images: after many steps the samples still have no structure

The signals are what the trainer logs: the losses, D(x) and D(G(z)) as probabilities
for the standard GAN, the critic's scores and the Wasserstein estimate for WGANs,
and at each sample grid ``diversity``, ``noise`` / ``noise_real``
(``gan_core.sample_stats``) and, where logged, ``modes`` / ``total``. Only the last
``HISTORY`` rows count: the verdict is about where the run is now.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import WASSERSTEIN, DataKind
from .runs import RunInfo, RunState, read_metrics

# Beyond this magnitude a logged loss means the training blew up. The standard
# GAN's losses are softplus of D's logits, so 1e5 would mean logits of 1e5, where
# a working D sits in the tens. WGAN losses are unbounded and their offset drifts
# (the critic's objective ignores a constant added to every score), and working
# WGAN-GP runs are reported with critic losses in the hundreds and thousands,
# so the bound is two orders of magnitude above those. A blown-up run (G loss
# 8.9 million was seen) is far beyond it.
EXPLODED = 1e5
LAST_ROWS = 5  # the end of the run: one calm row among wild ones does not make it healthy

HISTORY = 400  # rows judged: 4,000 steps at the default log_every of 10
MIN_ROWS = 5  # fewer logged rows than this: too early to judge anything but an explosion
WINDOW = 0.25  # "sustained" = over the last quarter of the history (at least MIN_ROWS rows)...
SUSTAINED = 0.8  # ...in at least 80% of its rows, so one odd batch neither makes nor breaks it
GRIDS = 3  # sample-grid signals: the last 3 grids (300 steps at the default sample_every)

# D has won: D(G(z)) at most 0.05 and D's loss at most 0.2. Loss 0.2 means
# D(x) above about 0.86 with D(G(z)) under 0.05, against log 4 = 1.386 at the
# equilibrium D = 1/2. Working runs sit far from it: a healthy gan on ring-8 logs
# D(G(z)) 0.17-0.5, DCGAN on faces 0.07-0.4 even in its first, D-led steps; a run
# whose D learns 10x faster than G logs 0.004-0.01.
D_WON_FAKE, D_WON_LOSS = 0.05, 0.2
# The Wasserstein estimate grew by a quarter or more from each quarter of the
# history to the next, three quarters running, past CRITIC_STEPS: G is falling
# behind, not catching up. Before that the estimate rises as a fresh critic learns
# (a healthy wgan on ring-8: 6e-5 to 6e-4 over its first 300 steps).
CRITIC_GROWTH, CRITIC_STEPS = 1.25, 1000
# Collapse: the samples differ from one another at most 0.3 times as much as real
# items do. Healthy runs log 0.55-1.1 (gan on ring-8) once past their start; a
# generator collapsed onto one ring mode logs 0.08-0.24. A DCGAN generator starts
# near 0.05 (the same blur for every z) and climbs, so low diversity counts as
# collapse only if it fell to half its best or persists past COLLAPSE_STEPS.
COLLAPSED, COLLAPSE_STEPS = 0.3, 1000
# D memorising the training images (Karras et al. 2020): r_t = E[sign D(x)] over the
# reals at least MEMO_RT (D calls 90% or more of them real; ADA aims for 0.6) and D(x)
# at least MEMO_GAP above D(G(z)), both sustained. Measured: dcgan on 10 faces (16 px,
# width 16, batch 32, --augment none) logs r_t 1.00 from step 10 on, D(x) 0.75-0.89 and
# D(G(z)) falling from 0.53 to 0.17, the gap past 0.4 from step ~250 (named at 400);
# the same run with --augment ada logs r_t 0.75-0.88 with p at 0.13 by step 400 (not
# named): benchmarks/augment_overfit.py, docs/BENCHMARKS.md ("Augmentation for D").
MEMO_RT, MEMO_GAP = 0.8, 0.4
# The recipes made against mode collapse, by data kind, for the advice.
ANTI_COLLAPSE = {
    DataKind.VECTOR: "pacgan (D judges packs of samples, so a generator that repeats itself is caught) or minibatch-std",
    DataKind.IMAGE: "pacgan (D judges packs of samples, so a generator that repeats itself is caught)",
}
# Modes lost: over the last GRIDS grids coverage stayed at half its best or below
# (and 2 modes or more below it); early coverage wanders (a healthy gan on ring-8
# goes 6, 5, 4, 3, 4, 6 of 8 in its first 300 steps), a collapsing one falls from
# 5 to 0 or 1. Modes missing: half of the modes or fewer after MODES_STEPS.
MODES_STEPS = 1000
# Oscillation, over the last half of the history (at least 20 rows), after a 3-row
# moving average: SWINGS or more swings, in both halves of it, each at least
# JITTERS times the median row-to-row change (the batch noise), and for D(G(z)) (a
# probability) at least OSCILLATION_SWING. The Wasserstein estimate has no natural
# scale, so for a critic the noise alone sets it. On pure noise 3x gives four such
# swings in 50 rows 0.2% of the time (2x: 22%); a healthy WGAN-GP on ring-8, whose
# estimate wanders around 0, shows 2; a sine of period 12 rows is always caught.
OSCILLATION_SWING, JITTERS, SWINGS, OSCILLATION_ROWS = 0.3, 3, 4, 20
# Still noise: neighbouring pixels differ at least 0.8 times as much as random
# pairs of pixels (1 = independent noise; real digits 0.3, faces 0.2) and at least
# twice as much as in the real images, after NOISE_STEPS.
STILL_NOISE, NOISE_STEPS = 0.8, 1000

USUAL_LR = 2e-4  # Adam's rate in DCGAN and the Keras article; advice names it when a rate is far above

LOSS_NAMES = {
    "loss_g": "generator loss",
    "loss_d": "discriminator loss",
    "loss_d_real": "discriminator loss on real data",
    "loss_d_fake": "discriminator loss on generated data",
}
SEVERITIES = ("error", "warning")  # error: the run failed; warning: it is failing and will not mend alone
HEALTHY = "healthy so far"


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a run, in words a learner reads: ``title`` names it
    ("D has won"), ``sentence`` says what the numbers show, ``advice`` what to try."""

    code: str
    severity: str
    title: str
    sentence: str
    advice: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        return cls(**{k: str(d[k]) for k in ("code", "severity", "title", "sentence", "advice")})

    def text(self) -> str:
        """The finding as one paragraph: "D has won. <sentence> Try: <advice>"."""
        return f"{self.title}. {self.sentence} Try: {self.advice}"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _finite(row: dict, key: str) -> float | None:
    value = _number(row.get(key))
    return value if value is not None and math.isfinite(value) else None


def _explosion(rows: list, last: int) -> tuple[str, str] | None:
    """(what blew up, how) for the newest loss in the last ``last`` rows that is
    NaN, infinite or beyond ``EXPLODED``."""
    tail = [r for r in rows if isinstance(r, dict)][-last:] if last > 0 else []
    for row in reversed(tail):  # the most recent symptom is the one to name
        critic = "wasserstein" in row
        for key, name in LOSS_NAMES.items():
            value = _number(row.get(key))
            if value is None or (math.isfinite(value) and abs(value) <= EXPLODED):
                continue
            if critic:
                name = name.replace("discriminator", "critic")
            step = _number(row.get("step"))
            at = f" at step {int(step):,}" if step is not None and math.isfinite(step) else ""
            if math.isfinite(value):
                what = f"was {value:,.0f}{at}, far beyond the {EXPLODED:,.0f} a working run stays under"
            else:
                what = f"became {'NaN' if math.isnan(value) else 'infinite'}{at}"
            return name, what
    return None


def exploded(rows: list, last: int = LAST_ROWS) -> str | None:
    """One sentence saying how the training blew up, if a loss in the last
    ``last`` logged rows is NaN, infinite or beyond ``EXPLODED``; else None.
    Rows that are not objects, and values that are not numbers, are skipped
    (a hand-edited or damaged file is judged on what it does hold)."""
    found = _explosion(rows, last)
    if found is None:
        return None
    name, what = found
    return f"The {name} {what}: training blew up and its samples cannot be trusted; lower the learning rates and train again."


# ----------------------------------------------------------------------------- the run's settings


@dataclass(frozen=True)
class _Settings:
    """What advice needs from the run's config; every field may be unknown."""

    critic: bool
    lr_g: float | None = None
    lr_d: float | None = None
    d_steps: int | None = None
    g_loss: str | None = None
    gan_weight: float | None = None


def _settings(rows: list[dict], recipe: str, config) -> _Settings:
    """From a Config, a config dict (config.json) or nothing; the rows decide whether D is a critic."""
    def field(section: str, name: str):
        part = config.get(section) if isinstance(config, dict) else getattr(config, section, None)
        value = part.get(name) if isinstance(part, dict) else getattr(part, name, None)
        return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None

    g_loss = field("loss", "g_loss")
    critic = (any("wasserstein" in r for r in rows) or g_loss == WASSERSTEIN
              or (g_loss is None and recipe in ("wgan", "wgan-gp")))
    return _Settings(critic, field("optim", "lr_g"), field("optim", "lr_d"), field("loss", "d_steps"), g_loss,
                     field("loss", "gan_weight"))


def _lr(value: float) -> str:
    """2e-4, 0.01, 1: as the command line takes it."""
    return f"{value:g}" if value >= 0.01 else f"{value:.0e}".replace("e-0", "e-")


# ----------------------------------------------------------------------------- helpers over rows


def _span(rows: list[dict]) -> str:
    """"the last 400 steps" for the rows' step range."""
    first, last = _number(rows[0].get("step")), _number(rows[-1].get("step"))
    if first is None or last is None or last <= first:
        return f"the last {len(rows)} logged steps"
    return f"steps {int(first):,} to {int(last):,}"


def _median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _window(rows: list[dict], fraction: float = WINDOW, at_least: int = MIN_ROWS) -> list[dict]:
    return rows[-max(at_least, math.ceil(len(rows) * fraction)):]


def _last_step(rows: list[dict]) -> int:
    step = _number(rows[-1].get("step")) if rows else None
    return int(step) if step is not None and math.isfinite(step) else 0


def _grid_values(rows: list[dict], key: str) -> list[tuple[int, float]]:
    """(step, value) of every row holding ``key`` (logged once per sample grid)."""
    out = []
    for r in rows:
        value, step = _finite(r, key), _finite(r, "step")
        if value is not None and step is not None:
            out.append((int(step), value))
    return out


# ----------------------------------------------------------------------------- the findings


def _d_won(rows: list[dict], s: _Settings, recipe: str = "") -> Finding | None:
    if s.critic or s.gan_weight == 0:  # L1-only pix2pix: G ignores D, so D's verdict harms nothing
        return None
    window = _window(rows)
    fakes, losses, hits = [], [], 0
    for r in window:
        fake = _finite(r, "d_fake")
        fake = _finite(r, "d_fake_g") if fake is None else fake
        parts = [_finite(r, "loss_d_real"), _finite(r, "loss_d_fake")]
        loss = sum(parts) if None not in parts else _finite(r, "loss_d")  # pix2pix halves loss_d; its parts are not
        if fake is None or loss is None:
            continue
        fakes.append(fake)
        losses.append(loss)
        hits += fake <= D_WON_FAKE and loss <= D_WON_LOSS
    if len(fakes) < MIN_ROWS or hits < SUSTAINED * len(fakes):
        return None
    advice = []
    if s.lr_d is not None and s.lr_g is not None and s.lr_d > s.lr_g:
        advice.append(f"lower D's learning rate from {_lr(s.lr_d)} to G's {_lr(s.lr_g)} (D learns {s.lr_d / s.lr_g:.3g}x faster now)")
    elif s.lr_d is not None and s.lr_d >= 10 * USUAL_LR:
        advice.append(f"lower D's learning rate from {_lr(s.lr_d)} ({_lr(USUAL_LR)} is usual)")
    else:
        advice.append("lower D's learning rate (e.g. to half of G's)")
    if recipe == "pix2pix":
        # A translator already takes one D step per G step and has no Wasserstein form here;
        # its L1 term keeps G learning whatever D says, so D's win costs sharpness, not the run.
        advice.append("or keep training with --l1-weight near the paper's 100, which pulls G towards the targets "
                      "whatever D says (the outputs still improve, only less sharply)")
        return _d_won_finding(window, fakes, losses, advice, "G learns little from D's verdict now: its L1 term does the teaching.")
    if s.d_steps is not None and s.d_steps > 1:
        advice.append(f"use k = 1 instead of {s.d_steps} D steps per G step")
    if s.g_loss == "minimax":
        advice.append("use the non-saturating G loss, whose gradient does not vanish when D is confident")
    advice.append("or switch to wgan-gp, whose critic keeps giving G a useful gradient however far ahead it gets")
    return _d_won_finding(window, fakes, losses, advice, "G learns little from a D this sure.")


def _d_won_finding(window: list[dict], fakes: list[float], losses: list[float], advice: list[str], closing: str) -> Finding:
    return Finding(
        "d_won", "warning", "D has won",
        f"Over {_span(window)}, D rejected the generated samples "
        f"outright: D(G(z)) {_median(fakes):.3f} and D's loss {_median(losses):.3f} (median), where a balanced game "
        f"has D(G(z)) = 1/2 and D's loss log 4 ≈ 1.386. {closing}",
        "; ".join(advice) + ".",
    )


def _memorising(rows: list[dict], s: _Settings) -> Finding | None:
    """D memorising a small training set: sure of every real image (r_t high) while its
    outputs on real and generated images stay apart. Not for a critic, whose scores
    sit above the fakes' on real images by design, nor for L1-only pix2pix (G ignores D)."""
    if s.critic or s.gan_weight == 0:
        return None
    window = _window(rows)
    signs, reals, fakes, hits = [], [], [], 0
    for r in window:
        r_t, real, fake = _finite(r, "r_t"), _finite(r, "d_real"), _finite(r, "d_fake")
        if r_t is None or real is None or fake is None:
            continue
        signs.append(r_t)
        reals.append(real)
        fakes.append(fake)
        hits += r_t >= MEMO_RT and real - fake >= MEMO_GAP
    if len(signs) < MIN_ROWS or hits < SUSTAINED * len(signs):
        return None
    r_t, p = _median(signs), _finite(window[-1], "augment_p")
    if p is None or p == 0:
        advice = ("train with adaptive augmentation (--augment ada; on the Train page, Augmentation for D: Adaptive), which "
                  "shows D shifted, recoloured and partly hidden copies of every image, real and generated, so memorising "
                  "them stops paying; or give it more images")
    elif p < 1:
        advice = (f"the adaptive augmentation is rising to meet it (p = {p:.2f} now); if it stays, use --augment diff, "
                  "full strength from the first step, or more images")
    else:
        advice = ("augmentation is already at full strength, so give it more images, or keep the samples from before "
                  "D began memorising (an earlier checkpoint) and train a shorter run")
    return Finding(
        "memorising", "warning", "D is memorising the training images",
        f"Over {_span(window)}, D called {50 * (1 + r_t):.0f}% of the training images real (r_t {r_t:.2f}, median; "
        f"adaptive augmentation aims for 0.6) and kept its outputs on real and generated images apart: D(x) "
        f"{_median(reals):.2f} against D(G(z)) {_median(fakes):.2f}. With few images this means D has learnt the "
        "training images themselves rather than what makes an image real, and G learns little from it.",
        advice + ".",
    )


def _critic_won(rows: list[dict], s: _Settings) -> Finding | None:
    if not s.critic or _last_step(rows) < CRITIC_STEPS:
        return None
    n = math.ceil(len(rows) * WINDOW)
    if n < MIN_ROWS or len(rows) < 3 * n:
        return None
    means = []
    for part in (rows[-3 * n:-2 * n], rows[-2 * n:-n], rows[-n:]):
        values = [v for v in (_finite(r, "wasserstein") for r in part) if v is not None]
        if len(values) < MIN_ROWS:
            return None
        means.append(sum(values) / len(values))
    if not (means[0] > 0 and means[1] >= CRITIC_GROWTH * means[0] and means[2] >= CRITIC_GROWTH * means[1]):
        return None
    advice = []
    if s.lr_d is not None and s.lr_g is not None and s.lr_d > s.lr_g:
        advice.append(f"lower the critic's learning rate from {_lr(s.lr_d)} to G's {_lr(s.lr_g)}")
    else:
        advice.append("lower the critic's learning rate")
    if s.d_steps is not None and s.d_steps > 5:
        advice.append(f"use the usual 5 critic steps per G step instead of {s.d_steps}")
    advice.append("or train G longer: the estimate should fall as the samples improve")
    return Finding(
        "critic_won", "warning", "The critic is pulling away",
        f"The Wasserstein estimate (the critic's loss, negated) kept growing over {_span(rows[-3 * n:])}: "
        f"{means[0]:.3g}, then {means[1]:.3g}, then {means[2]:.3g} on average. It falls as G's samples get closer "
        "to the data, so G is falling behind. (A critic's scores are not probabilities: only their difference means something.)",
        "; ".join(advice) + ".",
    )


def _collapse(rows: list[dict], s: _Settings, kind: str) -> Finding | None:
    values = _grid_values(rows, "diversity")
    recent = values[-GRIDS:]
    if len(recent) < min(GRIDS, 2) or any(v > COLLAPSED for _, v in recent):
        return None
    best_step, best = max(values, key=lambda sv: sv[1])
    now = recent[-1][1]
    fell = best >= 2 * max(v for _, v in recent) and best_step < recent[0][0]
    if not fell and _last_step(rows) < COLLAPSE_STEPS:
        return None  # a generator starts out making nearly one thing for every z (DCGAN's does); give it time
    what = "points" if kind == DataKind.VECTOR else "samples"
    real = "points" if kind == DataKind.VECTOR else "images"
    was = f"; {best:.2f} at step {best_step:,}" if fell else ""
    modes = _modes(rows)
    covers = f"; it covers {int(modes[0][-1][1])} of the {modes[1]} modes" if modes is not None else ""
    advice = []
    if s.lr_d is not None and s.lr_g is not None and s.lr_g > s.lr_d:
        advice.append(f"lower G's learning rate from {_lr(s.lr_g)} to D's {_lr(s.lr_d)} (G moves {s.lr_g / s.lr_d:.3g}x faster now)")
    else:
        advice.append("lower G's learning rate")
    advice.append(f"or switch to {ANTI_COLLAPSE[kind]}")
    return Finding(
        "collapse", "warning", "G has collapsed",
        f"The fixed-noise {what} are nearly identical: over the last {len(recent)} sample grids they differ from one "
        f"another {now:.2f} times as much as real {real} do (1 = as varied as the data{was}). G makes (almost) the "
        f"same thing whatever z is{covers}.",
        "; ".join(advice) + ".",
    )


def _collapse_within(rows: list[dict], s: _Settings) -> Finding | None:
    """A conditional G that ignores its noise: the grid varies between its class rows
    (so ``diversity`` looks fine) but not along them. The same thresholds as ``_collapse``:
    the shipped cgan demo's grid measures 0.86-1.01 (seeds 0-2); with z scaled to 0, 0.0."""
    values = _grid_values(rows, "diversity_within")
    recent = values[-GRIDS:]
    if len(recent) < min(GRIDS, 2) or any(v > COLLAPSED for _, v in recent):
        return None
    best_step, best = max(values, key=lambda sv: sv[1])
    fell = best >= 2 * max(v for _, v in recent) and best_step < recent[0][0]
    if not fell and _last_step(rows) < COLLAPSE_STEPS:
        return None  # an untrained G draws nearly the same thing for every z; give it time
    was = f"; {best:.2f} at step {best_step:,}" if fell else ""
    advice = []
    if s.lr_d is not None and s.lr_g is not None and s.lr_g > s.lr_d:
        advice.append(f"lower G's learning rate from {_lr(s.lr_g)} to D's {_lr(s.lr_d)}")
    else:
        advice.append("lower G's learning rate")
    advice.append("and check that the noise reaches G (a larger --z-dim gives it more to vary): a conditional D judges "
                  "each sample against its class, not against the other samples, so it rarely forces G to vary within a class")
    return Finding(
        "collapse_within", "warning", "G has collapsed within classes",
        f"Within each class row of the sample grid (the same class, a different z in every column) the samples differ "
        f"from one another {recent[-1][1]:.2f} times as much as real images of one class do, over the last "
        f"{len(recent)} grids (1 = as varied as the data{was}). G draws (almost) the same image for a class whatever z "
        "is; the grid as a whole still varies, from class to class.",
        "; ".join(advice) + ".",
    )


def _modes(rows: list[dict]) -> tuple[list[tuple[int, float]], int] | None:
    """(step, modes covered) of every grid, and the mixture's number of modes; None
    for runs that do not log coverage."""
    covered = _grid_values(rows, "modes")
    totals = [v for _, v in _grid_values(rows, "total")]
    if not covered or not totals or totals[-1] < 2:
        return None
    return covered, int(totals[-1])


def _modes_lost(rows: list[dict], s: _Settings) -> Finding | None:
    found = _modes(rows)
    if found is None or len(found[0]) < min(GRIDS, 2):
        return None
    covered, total = found
    recent = covered[-GRIDS:]
    most = int(max(v for _, v in recent))
    best_step, best = max(covered, key=lambda sv: sv[1])
    if most <= best / 2 and best - most >= 2 and best_step < recent[0][0]:
        title = "Modes lost"
        sentence = (f"G covered {int(best)} of the {total} modes at step {best_step:,} and at most {most} over the last "
                    f"{len(recent)} sample grids: it has stopped making parts of the data it once made.")
    elif most <= total / 2 and _last_step(rows) >= MODES_STEPS:
        title = "Modes missing"
        sentence = (f"After {_last_step(rows):,} steps G covers at most {most} of the {total} modes (last {len(recent)} "
                    "sample grids): it makes part of the data and ignores the rest.")
    else:
        return None
    advice = "lower G's learning rate" if s.lr_g is None or s.lr_d is None or s.lr_g <= s.lr_d else \
        f"lower G's learning rate from {_lr(s.lr_g)} to D's {_lr(s.lr_d)}"
    advice += f"; or switch to {ANTI_COLLAPSE['vector']}."
    return Finding("modes_lost", "warning", title, sentence, advice)


def _swings(values: list[float], amplitude: float) -> list[tuple[int, float]]:
    """Turning points (index, value) of ``values`` with hysteresis: a new extreme is
    recorded only once the series has moved ``amplitude`` back from it."""
    if not values:
        return []
    points = []
    hi_i = lo_i = 0
    direction = 0  # +1 rising, -1 falling, 0 not yet known
    for i, v in enumerate(values):
        if v > values[hi_i]:
            hi_i = i
        if v < values[lo_i]:
            lo_i = i
        if direction >= 0 and values[hi_i] - v >= amplitude:
            points.append((hi_i, values[hi_i]))
            direction, lo_i = -1, i
        elif direction <= 0 and v - values[lo_i] >= amplitude:
            points.append((lo_i, values[lo_i]))
            direction, hi_i = 1, i
    return points


def _oscillation(rows: list[dict], s: _Settings, recipe: str) -> Finding | None:
    if s.gan_weight == 0:
        return None
    window = _window(rows, 0.5, OSCILLATION_ROWS)
    key = "wasserstein" if s.critic else "d_fake"
    raw = [v for v in (_finite(r, key) for r in window) if v is not None]
    if not s.critic and not raw:
        key = "d_fake_g"
        raw = [v for v in (_finite(r, key) for r in window) if v is not None]
    if len(raw) < OSCILLATION_ROWS:
        return None
    smooth = [sum(raw[max(0, i - 1):i + 2]) / len(raw[max(0, i - 1):i + 2]) for i in range(len(raw))]
    jitter = _median([abs(b - a) for a, b in zip(raw, raw[1:])])  # batch-to-batch noise
    amplitude = max(0.0 if s.critic else OSCILLATION_SWING, JITTERS * jitter)
    if amplitude <= 0:
        return None  # a constant series
    points = _swings(smooth, amplitude)
    half = len(smooth) // 2
    if len(points) < SWINGS or not any(i < half for i, _ in points) or not any(i >= half for i, _ in points):
        return None  # not enough swings, or they stopped: the run settled
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    if s.critic:
        sentence = (f"The Wasserstein estimate swung between {lo:.3g} and {hi:.3g} {len(points)} times over "
                    f"{_span(window)} without settling: critic and G keep overtaking each other.")
        advice = ("lower both learning rates (halve them); or switch to wgan-gp, whose gradient penalty trains more steadily "
                  "than weight clipping." if recipe == "wgan" else
                  "lower both learning rates (halve them) and keep WGAN-GP's Adam settings (beta1 0, beta2 0.9).")
    else:
        sentence = (f"D(G(z)) swung between {lo:.2f} and {hi:.2f} {len(points)} times over {_span(window)} without "
                    "settling: D and G keep overtaking each other instead of approaching D = 1/2.")
        advice = "lower both learning rates (halve them); use Adam with beta1 0.5 as DCGAN does; or switch to wgan-gp."
    return Finding("oscillation", "warning", "Training oscillates", sentence, advice)


def _still_noise(rows: list[dict], s: _Settings, kind: str, recipe: str) -> Finding | None:
    if kind != DataKind.IMAGE or _last_step(rows) < NOISE_STEPS:
        return None
    noise = _grid_values(rows, "noise")[-GRIDS:]
    real = [v for _, v in _grid_values(rows, "noise_real")]
    if len(noise) < min(GRIDS, 2) or not real:
        return None
    real_noise = real[-1]
    if any(v < STILL_NOISE or v < 2 * real_noise for _, v in noise):
        return None
    advice = ["train for more steps"]
    if recipe == "gan":
        advice.append("or use dcgan, whose convolutions learn image structure much sooner than an MLP")
    if s.lr_g is not None and s.lr_g < 1e-5:
        advice.insert(0, f"raise G's learning rate from {_lr(s.lr_g)} ({_lr(USUAL_LR)} is usual)")
    return Finding(
        "still_noise", "warning", "Still noise",
        f"After {_last_step(rows):,} steps the samples have no structure yet: their neighbouring pixels differ "
        f"{noise[-1][1]:.2f} times as much as random pairs of pixels do; pure noise gives 1 and the real images "
        f"{real_noise:.2f}.",
        "; ".join(advice) + ".",
    )


BLOWN_ADVICE = ("lower both learning rates (10x is a good first step) and train again; a loss that becomes NaN often "
                "means the learning rate is far too high.")


def diagnose(rows: list, recipe: str, kind: DataKind | str, config=None, state: str | None = None,
             error: str | None = None) -> list[Finding]:
    """What is wrong with the run whose metrics rows these are, worst first; [] when
    nothing is (or it is too early to tell: see ``judged``). ``kind`` is the data's
    (a ``DataKind``, or its text); ``config`` (a Config, the dict of config.json, or None)
    only sharpens the advice, e.g. naming the learning rates to change. ``state`` and
    ``error`` (the run's, from status.json): a diverged run is always named as one, even
    when no row shows it (a weight, not a loss, became NaN: the trainer stops before
    logging)."""
    rows = [r for r in rows if isinstance(r, dict)][-HISTORY:]
    findings = []
    blown = _explosion(rows, LAST_ROWS)
    if blown is not None:
        name, what = blown
        findings.append(Finding(
            "exploded", "error", "Training blew up",
            f"The {name} {what}; the samples cannot be trusted.", BLOWN_ADVICE,
        ))
    elif state == RunState.DIVERGED:
        # The trainer's error (shown beside this on the pages) names the step: "... at step 210; ..." / "by step 210".
        at = re.search(r"\b(?:at|by) step ([0-9][0-9,]*)", error) if isinstance(error, str) else None
        when = f" by step {int(at.group(1).replace(',', '')):,}" if at else ""
        findings.append(Finding(
            "diverged", "error", "Training blew up",
            f"A loss or a weight stopped being a number (NaN or infinite){when}, so the training stopped: the updates "
            "grew without bound; the samples cannot be trusted.", BLOWN_ADVICE,
        ))
    if len(rows) < MIN_ROWS:
        return findings
    s = _settings(rows, recipe, config)
    collapse = _collapse(rows, s, kind)
    won = _d_won(rows, s, recipe)
    for found in (won, None if won else _memorising(rows, s),  # D rejecting every fake is the plainer story
                  _critic_won(rows, s), collapse,
                  None if collapse else _modes_lost(rows, s),  # collapse names the modes it covers
                  None if collapse else _collapse_within(rows, s),  # collapse says all of it
                  # Not for pix2pix: its L1 term holds G to the targets, and the PatchGAN's verdict swings
                  # from batch to batch of different pictures in good runs (edges -> faces at 64 px, 6,000
                  # steps: D(G(z)) between 0.08 and 0.43 over its last 2,000 steps, with good samples).
                  None if recipe == "pix2pix" else _oscillation(rows, s, recipe),
                  _still_noise(rows, s, kind, recipe)):
        if found is not None:
            findings.append(found)
    return findings


def judged(rows: list) -> bool:
    """Whether there are enough rows for "healthy so far" to mean something."""
    return sum(isinstance(r, dict) for r in rows) >= MIN_ROWS


# Said of a run with no finding, by what it is doing: a run still training is healthy
# *so far*; one that ended well showed no sign of trouble in all of it.
HEALTHY_ENDED = "no problems seen"
CHECKS = "D winning, collapse, oscillation or exploding losses"


def verdict(state: str | None, findings: list[Finding]) -> str | None:
    """The words for a run without findings, by its state (``RunState`` or ``Shown``):
    "healthy so far" while it is queued, running or stopping, "no problems seen" once it
    finished, stopped or was interrupted; None when it has findings, and for a run that
    failed, diverged or exploded (or whose state is unknown): never "healthy" beside a failure."""
    if findings:
        return None
    if state in (RunState.QUEUED, RunState.RUNNING, Shown.STOPPING):
        return HEALTHY
    if state in ENDED_CLEANLY:
        return HEALTHY_ENDED
    return None


def verdict_sentence(state: str | None, findings: list[Finding]) -> str | None:
    """``verdict`` with what it means, for a page: "No sign yet of ..." / "Its training showed no sign of ..."."""
    word = verdict(state, findings)
    if word is None:
        return None
    # The losses cannot show a generator that drops some modes while fooling D with the rest
    # (a ring run missing a blob read "no problems seen" beside it, helper-32): say where to look.
    if word == HEALTHY:
        return (f"Its losses show no sign yet of {CHECKS}; modes it drops do not show in the losses, "
                "so look at its samples for any it misses.")
    return (f"Its losses showed no sign of {CHECKS}; modes it dropped do not show in the losses, "
            "so look at its samples for any it missed.")


def to_status(findings: list[Finding]) -> list[dict]:
    """The diagnosis as status.json's ``health`` field: [] is healthy so far."""
    return [f.to_dict() for f in findings]


def from_status(value) -> list[Finding] | None:
    """status.json's ``health`` field back as findings; None when absent or not a list of findings."""
    if not isinstance(value, list):
        return None
    try:
        return [Finding.from_dict(d) for d in value]
    except (KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------- the state a page shows


class Shown(enum.StrEnum):
    """What a page shows as a run's state: its ``RunState``, or one of two words only
    a reader of more than status.json can say."""

    QUEUED = RunState.QUEUED.value
    RUNNING = RunState.RUNNING.value
    FINISHED = RunState.FINISHED.value
    STOPPED = RunState.STOPPED.value
    DIVERGED = RunState.DIVERGED.value
    FAILED = RunState.FAILED.value
    INTERRUPTED = RunState.INTERRUPTED.value
    UNREADABLE = RunState.UNREADABLE.value
    UNKNOWN = RunState.UNKNOWN.value
    STOPPING = "stopping"  # active, with a STOP file its worker has not acted on yet
    EXPLODED = "exploded"  # ended cleanly, but its losses blew up (``exploded``): never a green "finished"


# Streamlit's colour names (``:green-badge[...]``); a state not listed is gray.
SHOWN_COLOURS = {
    Shown.QUEUED: "blue", Shown.RUNNING: "blue", Shown.STOPPING: "orange", Shown.FINISHED: "green",
    Shown.STOPPED: "orange", Shown.INTERRUPTED: "orange", Shown.DIVERGED: "red", Shown.FAILED: "red",
    Shown.EXPLODED: "red",
}
# The same colours as text (the runs table), from Streamlit's badge palette.
# gray too: the Runs table does not render "inherit", so an unreadable run's State cell was blank.
COLOUR_CSS = {"blue": "#1c83e1", "green": "#21c354", "orange": "#e07a00", "red": "#e0353a", "gray": "#808495"}
# Ended without an error of their own: a blow-up is what there is to say about them.
ENDED_CLEANLY = (RunState.FINISHED, RunState.STOPPED, RunState.INTERRUPTED)
TAIL_BYTES = 16384  # ``exploded`` judges the last LAST_ROWS rows; a row is well under 1 KB


@dataclass(frozen=True)
class ShownState:
    """A run's state as every page shows it."""

    state: RunState  # what its files say
    shown: Shown  # what a page shows
    colour: str  # a Streamlit colour name: blue, green, orange, red or gray
    reason: str | None  # one sentence why, in red: its error, or how its training blew up

    @property
    def css(self) -> str:
        """The colour as CSS, for text outside a badge (the table's cells)."""
        return COLOUR_CSS.get(self.colour, "inherit")

    def badge(self) -> str:
        """Streamlit Markdown for the coloured badge, e.g. ``:red-badge[exploded]``."""
        return f":{self.colour}-badge[{self.shown}]"


def _last_rows(run_dir: Path) -> list[dict]:
    try:
        size = (run_dir / "metrics.jsonl").stat().st_size
    except OSError:
        return []
    # From an offset the first line is usually cut; read_metrics skips it.
    rows, _ = read_metrics(run_dir, max(0, size - TAIL_BYTES))
    return rows


def shown_state(info: RunInfo, rows: list[dict] | None = None) -> ShownState:
    """What a page shows for the run ``info``: "stopping" while an active run has a STOP
    its worker has not acted on, "exploded" for a run that ended cleanly but whose
    losses blew up (``exploded`` over its last rows), else its state; its colour; and
    the reason to show beside it. ``rows``: its metrics rows if the caller has them
    (else the end of metrics.jsonl is read)."""
    blown = exploded(_last_rows(info.path) if rows is None else rows)
    if info.active and (info.path / "STOP").exists():
        shown = Shown.STOPPING
    elif blown and info.state in ENDED_CLEANLY:
        shown = Shown.EXPLODED
    else:
        shown = Shown(info.state)
    return ShownState(info.state, shown, SHOWN_COLOURS.get(shown, "gray"), info.error or blown)


__all__ = ["EXPLODED", "HEALTHY", "HEALTHY_ENDED", "HISTORY", "LAST_ROWS", "Finding", "Shown", "ShownState", "diagnose", "exploded",
           "from_status", "judged", "shown_state", "to_status", "verdict", "verdict_sentence"]
