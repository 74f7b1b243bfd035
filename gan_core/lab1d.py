"""The 1-D GAN lab: Goodfellow et al.'s theory, computed exactly where it can be.

In one dimension every quantity of the paper's proofs can be put on a grid:

    p_data(x)   the target, a Gaussian mixture the user edits (``Target``)
    p_g(x)      the density of G(z), z ~ N(0, 1): z's evenly spaced quantiles pushed
                through G, with G taken as linear between neighbouring ones
    D(x)        the discriminator, evaluated on the grid
    D*(x)       = p_data / (p_data + p_g), the best D for the current G (Prop. 1)
    V(G, D)     = E_data[log D(x)] + E_z[log(1 - D(G(z)))]
    C(G)        = max_D V(G, D) = -log 4 + 2 JSD(p_data || p_g)   (Theorem 1)

so a learner sees D chase D*, V(G, D) approach C(G) as D nears its optimum, and G
lower C(G) towards -log 4, where p_g = p_data and D* = 1/2 everywhere.

``Lab1D`` holds one small GAN and trains it a step at a time, in process: the
models are the ``gan`` recipe's MLPs (with z of size 1, so that z -> x can be drawn
as in the paper's Figure 1), the objective is that recipe's ``Objective`` with its
minimax or non-saturating G loss, and the optimisers come from
``recipes.make_optimizer``. Unlike a run, nothing is written to disk: a step takes
a millisecond or a few on one CPU core, so a page can hold the object and train a
slice of steps per frame (``train(rounds, budget_s)``). Settings (k, learning rates,
loss, optimiser) and the target can change between any two steps.

Training here is in process, unlike the dashboard's runs, because it is small and
bounded: each call does a budgeted slice and returns, and the whole state lives in
the object (a page keeps it in the session), so nothing is lost when a script run
ends.
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from . import losses
from .config import Config
from .data.base import DataInfo
from .errors import ConfigError
from .recipes import RECIPES, in_server, make_optimizer

MAX_MODES = 5
POSITION_LIMIT = 8.0  # modes sit in [-8, 8]: the plot stays readable and G's tanh-free output reaches them
SD_RANGE = (0.1, 3.0)
LOG4 = math.log(4.0)
N_QUANTILES = 2000  # generator samples per snapshot: z at evenly spaced normal quantiles
N_LINES = 31  # z -> x mapping lines drawn, as in Figure 1
INFO = DataInfo("lab-1d", "vector", (1,))
G_LOSSES = ("non-saturating", "minimax")
# Labs of several browser sessions share torch's global RNG and thread setting.
_LOCK = threading.RLock()
# Every call trains under _LOCK, which every visitor's 1-D lab waits on, so the engine
# bounds each call's work: a step takes about 0.8 ms on one core, a fitting step 1.8 ms.
MAX_STEPS = 2_000  # D and G steps one ``train`` call may take (about 2 s)
MAX_HEAD_START = 2_000  # D steps of D's head start in a ``Comparison`` (the page's slider goes this far)
MAX_MATCH_STEPS = 1_000  # regression steps of one ``match_target``


# ---------------------------------------------------------------------------- target


@dataclass(frozen=True)
class Target:
    """An equal-weight mixture of 1-D Gaussians: p_data."""

    means: tuple[float, ...] = (-3.0, 0.0, 3.0)
    sds: tuple[float, ...] = (0.5, 0.5, 0.5)

    def __post_init__(self):
        means, sds = tuple(float(m) for m in self.means), tuple(float(s) for s in self.sds)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "sds", sds)
        if not 1 <= len(means) <= MAX_MODES:
            raise ConfigError(f"The target needs between 1 and {MAX_MODES} modes, not {len(means)}.")
        if len(sds) != len(means):
            raise ConfigError(f"Give one width per mode: {len(means)} positions but {len(sds)} widths.")
        for m in means:
            if not (math.isfinite(m) and abs(m) <= POSITION_LIMIT):
                raise ConfigError(f"Mode positions must lie between -{POSITION_LIMIT:g} and {POSITION_LIMIT:g}, not {m}.")
        for s in sds:
            if not (math.isfinite(s) and SD_RANGE[0] <= s <= SD_RANGE[1]):
                raise ConfigError(f"Mode widths (standard deviations) must lie between {SD_RANGE[0]:g} and {SD_RANGE[1]:g}, not {s}.")

    def pdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)[..., None]
        mu, sd = np.array(self.means), np.array(self.sds)
        return (np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))).mean(axis=-1)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))[..., None]
        mu, sd = torch.tensor(self.means, dtype=torch.float64), torch.tensor(self.sds, dtype=torch.float64)
        return torch.special.ndtr((x - mu) / sd).mean(dim=-1).numpy()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, 1) points."""
        which = torch.randint(len(self.means), (n,), generator=generator)
        noise = torch.randn(n, generator=generator)
        return (torch.tensor(self.means)[which] + torch.tensor(self.sds)[which] * noise)[:, None]

    def quantile_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(F(x), x) on a fine grid: ``np.interp(u, *table)`` is the inverse CDF, and
        x = F^-1(Phi(z)) turns normal noise into exact p_data samples (what a perfect G learns)."""
        lo, hi = self.span(6.0)
        xs = np.linspace(lo, hi, 8001)
        return self.cdf(xs), xs

    def span(self, n_sd: float = 4.0) -> tuple[float, float]:
        mu, sd = np.array(self.means), np.array(self.sds)
        return float((mu - n_sd * sd).min()), float((mu + n_sd * sd).max())


# -------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class LabSettings:
    """What the lab's controls change. k, the learning rates and the loss can change
    while it trains; width, batch size and seed take effect on a new lab."""

    g_loss: str = "non-saturating"  # or "minimax", the paper's log(1 - D(G(z)))
    k: int = 1  # D steps per G step (Goodfellow et al.'s Algorithm 1)
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    batch_size: int = 128
    width: int = 32  # G: 32 -> 64 -> 128 hidden units; D: 64 -> 32
    seed: int = 0
    optimizer: str = "adam"  # or "sgd" (momentum 0.5), where the minimax loss's vanishing gradient shows in G's progress

    def config(self) -> Config:
        """The ``gan`` recipe's config for these settings, resolved (so bad values get
        the engine's usual one-sentence errors)."""
        if self.g_loss not in G_LOSSES:
            raise ConfigError(f"The lab's G loss is minimax or non-saturating, not {self.g_loss!r}.")
        if not 1 <= self.k <= 100:
            raise ConfigError(f"k (D steps per G step) must be between 1 and 100, not {self.k}.")
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"The lab's optimizer is adam or sgd, not {self.optimizer!r}.")
        cfg = Config(recipe="gan").replace(**{
            "data.name": "toy-1d", "model.arch": "mlp", "model.z_dim": 1, "model.width": self.width,
            "optim.optimizer": self.optimizer, "optim.lr_d": self.lr_d, "optim.lr_g": self.lr_g,
            **({"optim.beta1": 0.5, "optim.beta2": 0.999} if self.optimizer == "adam" else {"optim.momentum": 0.5}),
            "loss.g_loss": self.g_loss, "loss.d_steps": self.k,
            "train.batch_size": self.batch_size, "train.seed": self.seed, "train.device": "cpu",
        })
        return in_server(cfg)  # the lab trains in the dashboard's process: this server's budget per request


# -------------------------------------------------------------------------- snapshot


@dataclass
class Snapshot:
    """Everything Figure 1 and the curves need, as numpy arrays and floats."""

    x: np.ndarray  # (n,) grid
    p_data: np.ndarray
    p_g: np.ndarray  # G's density on the grid (the push-forward of N(0, 1), ``_density``)
    d: np.ndarray  # D(x)
    d_star: np.ndarray  # p_data / (p_data + p_g); NaN where neither has mass
    z_line: np.ndarray  # (N_LINES,) where each drawn z sits on the lower line (its quantile, spread over the grid's width)
    x_line: np.ndarray  # (N_LINES,) G(z) for those z
    g_outside: float  # fraction of G's samples beyond the grid
    row: dict  # the history row: step counts, V, C(G), JSD, gap, gradient norm, ...


# ------------------------------------------------------------------------------ lab


class Lab1D:
    """One small GAN on a 1-D target, trained a step at a time.

    A loss or a weight that stops being a finite number (too high a learning rate)
    stops the lab: ``error`` then says so in a sentence, and training does nothing
    more until a new lab replaces it."""

    error: str | None = None  # why the lab stopped; a class default, so a lab pickled before it existed reads None

    def __init__(self, target: Target | None = None, settings: LabSettings | None = None):
        self.target = target or Target()
        self.settings = settings or LabSettings()
        self.cfg = self.settings.config()
        recipe = RECIPES.get("gan")
        # The lab draws its own random numbers, so that a page full of other work (or a
        # second lab) never changes what this one does.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.settings.seed)
            self.G, self.D = recipe.build(self.cfg, INFO)
            self._rng = torch.get_rng_state()
        self.objective = recipe.objective(self.cfg, INFO)
        self.opt_g = make_optimizer(self.cfg, self.G.parameters(), self.cfg.optim.lr_g)
        self.opt_d = make_optimizer(self.cfg, self.D.parameters(), self.cfg.optim.lr_d)
        self._real_gen = torch.Generator().manual_seed(self.settings.seed + 1)
        self.d_steps = self.g_steps = 0
        self.freeze_g = False  # True: only D trains (G fixed), to watch D approach D*
        self.g_grad_norm = float("nan")  # of G's parameters, at the last G step
        self.loss_d = self.loss_g = float("nan")
        self.history: list[dict] = []
        self._set_grid()
        u = (torch.arange(N_QUANTILES, dtype=torch.float64) + 0.5) / N_QUANTILES
        # Evenly spaced normal quantiles: a sample of N(0, 1) with no sampling noise, so
        # p_g's estimate moves only when G does.
        self._z = torch.special.ndtri(u).float()[:, None]
        # z's tails beyond the outermost quantiles (1/(2N) of its mass each), where G is
        # evaluated too, so that p_g's tails follow G's own kinks there.
        steps = 0.05 * 2.0 ** np.arange(7)  # 0.05 to 3.2 past the outermost quantile
        below, above = float(self._z[0]) - steps[::-1], float(self._z[-1]) + steps
        self._z_tails = torch.tensor(np.concatenate([below, above]), dtype=torch.float32)[:, None]
        self._z_all = np.concatenate([below, self._z[:, 0].double().numpy(), above])  # every z p_g is pushed from, in order
        self._line_index = np.linspace(0, N_QUANTILES - 1, N_LINES).round().astype(int)

    # -- settings ---------------------------------------------------------------

    def configure(self, **changes) -> None:
        """Change g_loss, k, lr_d, lr_g or the optimizer in place; training continues
        from here (a new optimizer starts with fresh moments)."""
        fixed = {"batch_size", "width", "seed"} & set(changes)
        if fixed:
            raise ConfigError(f"{', '.join(sorted(fixed))} only change on a new lab; press Reset.")
        settings = replace(self.settings, **changes)
        if settings == self.settings:
            return
        self.cfg = settings.config()
        if settings.optimizer != self.settings.optimizer:
            self.opt_g = make_optimizer(self.cfg, self.G.parameters(), self.cfg.optim.lr_g)
            self.opt_d = make_optimizer(self.cfg, self.D.parameters(), self.cfg.optim.lr_d)
        self.settings = settings
        for group in self.opt_d.param_groups:
            group["lr"] = settings.lr_d
        for group in self.opt_g.param_groups:
            group["lr"] = settings.lr_g
        self.objective = RECIPES.get("gan").objective(self.cfg, INFO)

    def set_target(self, target: Target) -> None:
        if target != self.target:
            self.target = target
            self._set_grid()

    def _set_grid(self) -> None:
        lo, hi = self.target.span(4.0)
        # At least [-7, 7]: room beside the data for a G that starts off it.
        lo, hi = min(lo, -6.0) - 1.0, max(hi, 6.0) + 1.0
        # Fine enough for the narrowest mode (eight points per standard deviation).
        n = int(np.clip((hi - lo) / (min(self.target.sds) / 8), 300, 1200))
        self.x = np.linspace(lo, hi, n)
        self.dx = self.x[1] - self.x[0]
        self.p_data = self.target.pdf(self.x)
        self.p_data /= self.p_data.sum() * self.dx  # the grid holds all but ~1e-4 of the mass
        self._x_t = torch.tensor(self.x, dtype=torch.float32)[:, None]

    # -- training ---------------------------------------------------------------

    def _batch(self) -> dict:
        return {"real": self.target.sample(self.settings.batch_size, self._real_gen)}

    def _d_step(self) -> None:
        self.opt_d.zero_grad(set_to_none=True)
        loss, _ = self.objective.d_loss(self.G, self.D, self._batch())
        loss.backward()
        self.opt_d.step()
        self.objective.after_d_step(self.D)
        self.d_steps += 1
        self.loss_d = float(loss.detach())
        if not math.isfinite(self.loss_d):
            self._stop("D's loss")

    def _g_step(self) -> None:
        self.opt_g.zero_grad(set_to_none=True)
        loss, _ = self.objective.g_loss(self.G, self.D, self._batch())
        loss.backward()
        self.g_grad_norm = float(torch.nn.utils.get_total_norm([p.grad for p in self.G.parameters() if p.grad is not None]))
        self.opt_g.step()
        self.g_steps += 1
        self.loss_g = float(loss.detach())
        if not math.isfinite(self.loss_g):
            self._stop("G's loss")

    def _round(self) -> None:
        # Algorithm 1: k D steps, then one G step (D alone while G is frozen), up to a non-finite loss.
        for _ in range(self.settings.k):
            self._d_step()
            if self.error:
                return
        if not self.freeze_g:
            self._g_step()

    def _stop(self, what: str) -> None:
        self.error = (f"Training diverged: {what} became non-finite at G step {self.g_steps:,}, D step {self.d_steps:,}; "
                      "lower the learning rates and press Reset.")

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for model in (self.G, self.D) for p in model.parameters())

    @contextlib.contextmanager
    def _own_rng(self):
        """Run with the lab's own random state, on one thread, under the lock."""
        with _LOCK, _one_thread(), torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._rng)
            yield
            self._rng = torch.get_rng_state()

    def _with_rng(self, fn) -> None:
        """A slice of training: nothing once the lab has stopped, and the weights checked after it."""
        if self.error:
            return
        with self._own_rng():
            fn()
            if not self.error and not self._weights_finite():
                self._stop("the weights")

    def d_step(self) -> None:
        """One D update on a real batch and a fake batch (maximise V over D)."""
        self._with_rng(self._d_step)

    def g_step(self) -> None:
        """One G update through the current D (minimise V over G, or the non-saturating stand-in)."""
        self._with_rng(self._g_step)

    def single_step(self) -> None:
        """One D step, then one G step (unless G is frozen)."""

        def run():
            self._d_step()
            if not self.freeze_g and not self.error:
                self._g_step()

        self._with_rng(run)

    def train(self, rounds: int, budget_s: float | None = None) -> int:
        """Up to ``rounds`` rounds of Algorithm 1 (k D steps, then one G step; D steps
        only while G is frozen), stopping early once ``budget_s`` seconds are spent
        or at a non-finite loss. At most MAX_STEPS steps in all. Returns the rounds done."""
        per_round = self.settings.k + (0 if self.freeze_g else 1)
        if not (isinstance(rounds, numbers.Integral) and 0 <= rounds * per_round <= MAX_STEPS):
            raise ConfigError(f"The lab trains 0 to {MAX_STEPS // per_round:,} rounds per call with k = {self.settings.k}"
                              f"{' and G frozen' if self.freeze_g else ''} ({MAX_STEPS:,} steps at most), not {rounds}; "
                              "ask for a number in that range.")
        done = 0
        start = time.perf_counter()

        def run():
            nonlocal done
            while done < rounds and not self.error and (budget_s is None or done == 0 or time.perf_counter() - start < budget_s):
                self._round()
                done += 1

        self._with_rng(run)
        return done

    def match_target(self, steps: int = 300) -> float:
        """Fit G so that p_g = p_data: regress G(z) onto F^-1(Phi(z)), the map that
        turns normal noise into p_data exactly. D is left as it is. Returns the final
        mean squared error. The starting point of Figure 1(d). A stopped lab stays
        as it is (its D is not finite either) and returns NaN."""
        if not (isinstance(steps, numbers.Integral) and 1 <= steps <= MAX_MATCH_STEPS):
            raise ConfigError(f"Fitting G to p_data takes 1 to {MAX_MATCH_STEPS:,} steps, not {steps}; choose a number in that range.")
        if self.error:
            return float("nan")
        opt = torch.optim.Adam(self.G.parameters(), lr=1e-2)
        # Linear decay to 0: the last steps settle instead of jittering around the fit.
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps)
        gen = torch.Generator().manual_seed(self.settings.seed + 2)
        table = self.target.quantile_table()
        loss = torch.tensor(float("nan"))
        with _LOCK, _one_thread():
            for _ in range(steps):
                z = torch.randn(512, 1, generator=gen)
                x = torch.tensor(np.interp(torch.special.ndtr(z.double()).numpy(), *table), dtype=torch.float32)
                opt.zero_grad(set_to_none=True)
                loss = F.mse_loss(self.G(z), x)
                loss.backward()
                opt.step()
                schedule.step()
        self.opt_g = make_optimizer(self.cfg, self.G.parameters(), self.cfg.optim.lr_g)  # stale moments would kick G off at once
        return float(loss.detach())

    @torch.no_grad()
    def place_generator(self, centre: float, spread: float = 0.3) -> None:
        """Rescale and shift G's output layer so that its samples centre on ``centre``
        with standard deviation ``spread``: a G that starts clearly off the data, as
        early in training. The shape of p_g is kept."""
        with _LOCK, _one_thread():
            fake = self.G(self._z)
            scale = spread / max(float(fake.std()), 1e-6)
            out = self.G.net[-1]  # MLPGenerator's output layer (no tanh for points)
            out.weight *= scale
            out.bias *= scale
            out.bias += centre - scale * float(fake.mean())

    def far_point(self) -> float:
        """A place for G to start clearly off the data: 1 inside whichever end of the
        grid lies more standard deviations from every mode."""
        mu, sd = np.array(self.target.means), np.array(self.target.sds)
        ends = (self.x[0] + 1.0, self.x[-1] - 1.0)
        return float(max(ends, key=lambda e: (np.abs(e - mu) / sd).min()))

    @property
    def labs(self) -> dict[str, "Lab1D"]:
        """This lab by its G loss: a page treats one lab and a ``Comparison`` alike."""
        return {self.settings.g_loss: self}

    def clone(self) -> "Lab1D":
        """An independent copy (models, optimisers, random state, history): the same start for a comparison."""
        return copy.deepcopy(self)

    # -- the theory on a grid ---------------------------------------------------

    @torch.no_grad()
    def snapshot(self, record: bool = True) -> Snapshot:
        """p_data, p_g, D, D* and the paper's quantities for the current G and D;
        with ``record`` the row is appended to ``history``."""
        with _LOCK, _one_thread():
            # G at the quantiles (batch norm over a batch with exactly N(0, 1)'s statistics), and at z's tails on the same function
            fake, beyond = self._g_with_tails()
            d_grid_logits = self.D(self._x_t).double()
            d_fake_logits = self.D(fake[:, None]).double()
            push = self._push(fake)
        fake_np = fake.double().numpy()

        below, above = np.split(beyond.double().numpy(), 2)
        p_g, outside = self._density(np.concatenate([below, fake_np, above]))
        d = torch.sigmoid(d_grid_logits).numpy()
        total = self.p_data + p_g
        has_mass = total > 1e-4 * total.max()
        d_star = np.where(has_mass, self.p_data / np.where(has_mass, total, 1.0), np.nan)

        # V(G, D): the data term integrated against the exact p_data, the G term over G's samples.
        v_data = float((self.p_data * -F.softplus(-d_grid_logits).numpy()).sum() * self.dx)
        v_fake = float(-F.softplus(d_fake_logits).mean())
        # NaN samples are no distribution and NaN outputs no discriminator: the figures that
        # compare them are no numbers either (log 2 would read as "far off", and a gap of 0,
        # nansum's over nothing, as "D reached D*").
        finite = bool(np.isfinite(fake_np).all() and torch.isfinite(d_grid_logits).all())
        jsd = self._jsd(p_g, outside) if finite else float("nan")
        weight = np.where(has_mass, total, 0.0)
        gap = float(np.nansum(np.abs(d - d_star) * weight) / weight.sum())
        half_gap = float((np.abs(d - 0.5) * self.p_data).sum() / self.p_data.sum())
        row = {
            "g_steps": self.g_steps, "d_steps": self.d_steps,
            "value": v_data + v_fake,  # V(G, D)
            "value_at_optimum": -LOG4 + 2 * jsd,  # C(G) = max_D V(G, D)
            "jsd": jsd,
            "gap_to_optimum": gap if finite else float("nan"),  # mean |D - D*| where p_data or p_g has mass
            "distance_from_half": half_gap if finite else float("nan"),  # mean |D - 1/2| over p_data
            "d_real": float((d * self.p_data).sum() / self.p_data.sum()) if finite else float("nan"),  # E_data[D(x)]
            "d_fake": float(torch.sigmoid(d_fake_logits).mean()),  # E_z[D(G(z))]
            "g_mean": float(fake_np.mean()), "g_sd": float(fake_np.std()),  # where G's samples are
            "g_grad_norm": self.g_grad_norm,
            "push": push[self.settings.g_loss],  # what G's own loss gives
            **{f"push_{name.replace('-', '_')}": value for name, value in push.items()},
            "loss_d": self.loss_d, "loss_g": self.loss_g,
        }
        if record:
            last = self.history[-1] if self.history else None
            if last is not None and (last["g_steps"], last["d_steps"]) == (self.g_steps, self.d_steps):
                self.history[-1] = row  # no step since (a redraw, a new target): one row per state
            else:
                self.history.append(row)
            if len(self.history) > 4000:  # a long session: keep every other old row
                self.history = self.history[:2000:2] + self.history[2000:]
        lines = self._line_index
        span = self.x[-1] - self.x[0]
        z_line = self.x[0] + span * (lines + 0.5) / N_QUANTILES
        return Snapshot(self.x, self.p_data, p_g, d, d_star, z_line, fake_np[lines], outside, row)

    @torch.enable_grad()
    def _push(self, fake: torch.Tensor) -> dict[str, float]:
        """How hard each G loss pushes G's samples: the mean over samples of
        |d loss / d x| at x = G(z), per sample. Every gradient G's weights receive is
        this push times dG/dtheta, so it is the learning signal before the network
        shapes it. With l(x) D's logit, the minimax loss's is D(x) |l'(x)|: it vanishes
        where D confidently says "fake"; the non-saturating one's is (1 - D(x)) |l'(x)|."""
        x = fake.detach()[:, None].requires_grad_(True)
        logits = self.D(x)
        out = {}
        for name in G_LOSSES:
            (grad,) = torch.autograd.grad(losses.G_LOSSES[name](logits), x, retain_graph=True)
            out[name] = float(grad.abs().mean() * len(x))
        return out

    @torch.no_grad()
    def _g_with_tails(self) -> tuple[torch.Tensor, torch.Tensor]:
        """G's outputs at the quantiles ``self._z`` (its batch norm layers in training mode,
        as G trains, over a batch with exactly N(0, 1)'s statistics), and at z's tails
        ``self._z_tails`` on the same function: normalised with the quantile batch's own
        statistics, recorded as it passed (G of a batch of 14 tail points would be another
        function)."""
        layers = list(getattr(self.G, "net", [self.G]))
        stats = {}

        def record(layer, inputs):
            x = inputs[0]
            mean = x.mean(0)
            stats[layer] = (mean, ((x * x).mean(0) - mean * mean).clamp_min(0.0))  # torch's var(0) is 30x slower

        hooks = [layer.register_forward_pre_hook(record) for layer in layers
                 if isinstance(layer, torch.nn.BatchNorm1d) and layer.training]
        try:
            fake = self.G(self._z)[:, 0]
        finally:
            for hook in hooks:
                hook.remove()
        h = self._z_tails
        for layer in layers:
            if layer in stats:
                mean, var = stats[layer]
                h = (h - mean) * (layer.weight / (var + layer.eps).sqrt()) + layer.bias
            else:
                h = layer(h)
        return fake, h[:, 0]

    def _density(self, samples: np.ndarray) -> tuple[np.ndarray, float]:
        """p_g on the grid (the mean density over each grid step) and the share of G's mass
        beyond the grid, from G's outputs at ``self._z_all`` (z's evenly spaced quantiles and
        a few points in each of its tails, in order): the push-forward of N(0, 1) through G
        taken as linear between neighbouring points, and continued as the line through its
        two outermost outputs beyond them. That is exact wherever G (an MLP of leaky
        ReLUs, piecewise linear) has no kink between two of them. No smoothing: a
        G narrower than a grid step is one step wide, a G that matches p_data matches it in
        its tails and between its modes too, and every share of mass is counted, on the
        grid or beyond it. Non-finite outputs, and the intervals that touch them, count as
        beyond the grid."""
        z = self._z_all
        phi = _phi(z)
        mass = np.diff(phi)  # z's share between neighbouring points: 1/N between quantiles
        edges = np.concatenate([self.x - self.dx / 2, [self.x[-1] + self.dx / 2]])
        xa, xb = samples[:-1], samples[1:]
        lo, hi = np.minimum(xa, xb), np.maximum(xa, xb)
        width = hi - lo
        ok = np.isfinite(width)
        point = ok & (width <= self.dx * 1e-3)  # G flat there: the interval's share at its middle
        even = ok & ~point & (width <= self.dx)  # within a grid step: spread evenly, as finely as the grid shows
        wide = ok & (width > self.dx)  # wider: spread as z's normal density along G's line
        cdf = _steps(((lo + hi) / 2)[point], mass[point], edges)
        # An evenly spread interval [a, b] adds (relu(e - a) - relu(e - b)) / (b - a) of its
        # share at edge e: a sum of ramps, e K(e) - S(e) with K and S cumulative sums over
        # the ramps' corners in order, so the cost is a sort, not intervals x edges.
        slope = mass[even] / width[even]
        corners, rates = np.concatenate([lo[even], hi[even]]), np.concatenate([slope, -slope])
        order = np.argsort(corners)
        corners, rates = corners[order], rates[order]
        at = np.searchsorted(corners, edges, side="right")
        cdf += edges * np.concatenate([[0.0], np.cumsum(rates)])[at] - np.concatenate([[0.0], np.cumsum(rates * corners)])[at]
        cdf += self._wide(edges, np.flatnonzero(wide), z, phi, xa, xb, lo, hi)
        cdf += self._tail(edges, z[0], samples[0], samples[1], z[1], lower=True)
        cdf += self._tail(edges, z[-1], samples[-1], samples[-2], z[-2], lower=False)
        cdf = np.clip(np.maximum.accumulate(cdf), 0.0, 1.0)  # rounding never makes a share negative
        density = np.diff(cdf) / self.dx
        return density, float(np.clip(1.0 - (cdf[-1] - cdf[0]), 0.0, 1.0))

    @staticmethod
    def _wide(edges: np.ndarray, rows: np.ndarray, z: np.ndarray, phi: np.ndarray, xa: np.ndarray, xb: np.ndarray,
              lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The share at or below each edge of the intervals ``rows`` (z[i] to z[i + 1], mapped
        by G's line onto xa[i] to xb[i]), spread as z's normal density along that line.
        Each adds its whole share at the edges past its upper end and a part only at the
        edges inside it, so the cost is the edges the intervals cover, not intervals x edges."""
        out = np.zeros_like(edges)
        if not len(rows):
            return out
        phi_a, phi_b = phi[rows], phi[rows + 1]
        out += _steps(hi[rows], phi_b - phi_a, edges)  # whole shares: a step at each interval's upper end
        first, stop = np.searchsorted(edges, lo[rows], side="right"), np.searchsorted(edges, hi[rows], side="left")
        counts = np.maximum(stop - first, 0)
        if counts.sum():
            which = np.repeat(np.arange(len(rows)), counts)  # interval, and each edge inside it
            at = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
            r = rows[which]
            z_at = _phi(z[r] + (edges[at] - xa[r]) / (xb[r] - xa[r]) * (z[r + 1] - z[r]))  # where G's line meets the edge
            part = np.where(xb[r] > xa[r], z_at - phi_a[which], phi_b[which] - z_at)
            out += np.bincount(at, weights=part, minlength=len(edges))
        return out

    def _tail(self, edges: np.ndarray, z_end: float, x_end: float, x_next: float, z_next: float, lower: bool) -> np.ndarray:
        """The share of z's tail beyond ``z_end`` (below it, or above it) that G, continued as
        the line through (z_next, x_next) and (z_end, x_end), puts at or below each edge."""
        mass = _phi(z_end) if lower else _phi(-z_end)
        if not (math.isfinite(x_end) and math.isfinite(x_next)):
            return np.zeros_like(edges)  # beyond the grid, with the outputs that are no numbers
        slope = (x_end - x_next) / (z_end - z_next)
        if abs(x_end - x_next) <= self.dx * 1e-3:  # flat there: the tail is a point
            return np.where(edges >= x_end, mass, 0.0)
        z_at = z_end + (edges - x_end) / slope  # the z that G's line maps to each edge
        if lower:
            return _phi(np.minimum(z_end, z_at)) if slope > 0 else np.where(edges >= x_end, mass - _phi(np.minimum(z_end, z_at)), 0.0)
        return np.where(edges >= x_end, _phi(np.maximum(z_end, z_at)) - (1.0 - mass), 0.0) if slope > 0 else _phi(-np.maximum(z_end, z_at))

    def _jsd(self, p_g: np.ndarray, outside: float) -> float:
        """JSD(p_data || p_g) in nats, by numerical integration on the grid. G's mass
        beyond the grid meets no data there and adds (outside / 2) log 2 exactly."""
        p, q = self.p_data, p_g
        m = (p + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum() * self.dx
            kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum() * self.dx
        return float(np.clip(0.5 * (kl_p + kl_q) + 0.5 * outside * math.log(2), 0.0, math.log(2)))


def _steps(at: np.ndarray, shares: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """At each edge, the sum of the ``shares`` placed at or below it (each a step at ``at``)."""
    order = np.argsort(at)
    return np.concatenate([[0.0], np.cumsum(shares[order])])[np.searchsorted(at[order], edges, side="right")]


def _phi(z):
    """The standard normal's distribution function, of a number or an array."""
    return torch.special.ndtr(torch.as_tensor(z, dtype=torch.float64)).numpy() if isinstance(z, np.ndarray) else \
        0.5 * math.erfc(-z / math.sqrt(2.0))


@contextlib.contextmanager
def _one_thread():
    # Models this small gain nothing from a second thread, and on a busy 2-core
    # machine two OpenMP threads spin-wait on each other: one thread is 5-20x faster.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------- side by side


@dataclass
class Comparison:
    """Minimax and non-saturating G losses from one start, stepped in lockstep.

    The start is the situation of the paper's remark: early in training G is poor
    and D rejects its samples with high confidence. G is placed off the data and D
    trained ``head_start`` D steps against it (whatever k); from there log(1 - D(G(z)))
    is flat, so the minimax G gets almost no push while the non-saturating one is
    pushed hard."""

    labs: dict[str, Lab1D] = field(default_factory=dict)

    @classmethod
    def start(cls, target: Target, settings: LabSettings, head_start: int = 300, g_start: float | None = None) -> "Comparison":
        if not (isinstance(head_start, numbers.Integral) and 0 <= head_start <= MAX_HEAD_START):
            raise ConfigError(f"D's head start is 0 to {MAX_HEAD_START:,} D steps, not {head_start}; choose a number in that range.")
        base = Lab1D(target, replace(settings, g_loss="non-saturating", k=1))  # k = 1 while G is frozen: head_start counts D steps
        # Narrow, so that D is about equally sure of every sample: a wide G would have a
        # tail D doubts, and the minimax loss would push that tail alone.
        base.place_generator(base.far_point() if g_start is None else g_start, spread=0.1)
        base.freeze_g = True
        base.train(int(head_start))
        base.freeze_g = False
        base.configure(k=settings.k)
        base.snapshot()
        labs = {}
        for loss in G_LOSSES[::-1]:  # minimax first, as the paper states it
            lab = base.clone()
            lab.configure(g_loss=loss)
            lab.history[-1] = lab.snapshot(record=False).row  # the start, seen through this side's own loss
            labs[loss] = lab
        return cls(labs)

    @property
    def error(self) -> str | None:
        """Why the comparison stopped (a side's losses or weights stopped being finite), in a sentence; None while it runs."""
        stopped = [name for name, lab in self.labs.items() if lab.error]
        if not stopped:
            return None
        error = self.labs[stopped[0]].error
        if len(stopped) == len(self.labs):
            return error
        return f"On the {stopped[0]} side, {error[0].lower()}{error[1:]}"

    def configure(self, **changes) -> None:
        changes.pop("g_loss", None)  # each side keeps its own loss
        for lab in self.labs.values():
            lab.configure(**changes)

    def set_target(self, target: Target) -> None:
        for lab in self.labs.values():
            lab.set_target(target)

    def train(self, rounds: int, budget_s: float | None = None) -> int:
        """The same number of rounds on each side, within ``budget_s`` seconds in all;
        none once either side has stopped, so that both show the same step."""
        if self.error:
            return 0
        sides = list(self.labs.values())
        done = sides[0].train(rounds, None if budget_s is None else budget_s / len(sides))
        for lab in sides[1:]:
            lab.train(done)
        return done

    def single_step(self) -> None:
        if self.error:
            return
        for lab in self.labs.values():
            lab.single_step()

    def snapshots(self) -> dict[str, Snapshot]:
        return {name: lab.snapshot() for name, lab in self.labs.items()}


# ------------------------------------------------------------------------- captions


def _diverged(snap: Snapshot) -> bool:
    return not all(math.isfinite(snap.row[k]) for k in ("value", "jsd", "push", "d_fake"))


def summary(snap: Snapshot) -> str:
    """The paper's quantities at ``snap`` in one line, and the share of G's samples the
    view leaves out once it is worth saying (over 1%): p_g is drawn from the rest."""
    row = snap.row
    if _diverged(snap):
        return "Diverged: G's samples or D's outputs are no longer numbers, so there are no figures to show; press Reset."
    line = (f"V(G, D) {row['value']:.3f} · C(G) {row['value_at_optimum']:.3f} · JSD {row['jsd']:.3f} · "
            f"mean |D − D*| {row['gap_to_optimum']:.3f} · E[D(x)] {row['d_real']:.2f} · E[D(G(z))] {row['d_fake']:.3f}")
    return line + (f" · {snap.g_outside:.0%} of G's samples lie beyond the view" if snap.g_outside > 0.01 else "")


def pair_summary(snaps: dict[str, Snapshot]) -> str:
    """Per G loss of a comparison, the figures that tell the losses apart: the push G's
    samples get, how surely D rejects them, and how far p_g still is from p_data."""
    return " · ".join(f"{name}: diverged, no figures (press Reset)" if _diverged(s) else
                      f"{name}: push {s.row['push']:.2g}, E[D(G(z))] {s.row['d_fake']:.4f}, JSD {s.row['jsd']:.3f}"
                      for name, s in snaps.items())


__all__ = ["Target", "LabSettings", "Lab1D", "Snapshot", "Comparison", "MAX_MODES", "POSITION_LIMIT", "SD_RANGE", "G_LOSSES", "LOG4",
           "MAX_STEPS", "MAX_HEAD_START", "MAX_MATCH_STEPS", "summary", "pair_summary"]
