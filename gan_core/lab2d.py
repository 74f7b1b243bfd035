"""The 2-D lab: a GAN on a point set, trained a few steps at a time so a page can
show mode collapse as it happens.

A ``Lab`` is one run of a point recipe (``gan``, ``wgan``, ``wgan-gp``, the
mode-collapse remedies, ...) built exactly as ``training.train`` builds it: the
recipe's ``build`` and ``Objective`` from a resolved ``Config``, the same seed, the
same batch stream, k D-steps then one G-step. So step N here is step N of
``python -m gan_core train`` with the same settings (a test checks it). Nothing is
written to disk.

``lab.train(n)`` advances it; ``lab.frame()`` is what the page draws at the current
step: ``modes.N_SAMPLES`` generated points from fixed noise, D's output over a grid
of the plane (a probability for the standard GAN, a score for a WGAN critic), the
direction G's loss pushes a subsample of the generated points, and the PacGAN
protocol's mode coverage. Every ``snapshot_every`` steps the frame is kept, for an
animation through training. ``Comparison`` trains several recipes on the same data
from the same seed.

The small MLPs here run fastest on one thread, and torch's global RNG is swapped
for the lab's own while it works, under a lock: a lab's run depends on its seed
alone, not on what other labs (or other browser sessions) did in between.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import modes
from .config import Config, DataConfig, DataKind
from .data import SOURCES, batch_stream, load_data
from .errors import ConfigError
from .lab1d import _one_thread  # one OpenMP thread for these small models (see there)
from .models.points import Packed
from .recipes import RECIPES, describe, in_server, make_optimizer, resolve

GRID = 60  # heat map cells per side at most: 3,600 evaluations of a small D, a few ms on a CPU
# D's work for one heat map, in multiply-adds (cells x D's weights): a 60 x 60 grid for
# the gan recipe's D (34k weights), about 30 x 30 for the remedies' 400-wide ones.
SURFACE_WORK = 1.5e8
N_ARROWS = 120  # generated points that get a gradient arrow (divisible by every pack size up to 6, and 8)
N_REAL_SHOWN = 600  # real points drawn under the generated ones: enough to show every mode and shape
MAX_SNAPSHOTS = 200  # (about 36 kB each) beyond this, every other snapshot is dropped and the interval doubles
MAX_STOP = 50_000
_VIEW_MARGIN = 1.25  # the view is the real data's bounding square, enlarged by this factor

_LOCK = threading.RLock()

# What the page opens on, chosen for the lesson each view teaches (docs/BENCHMARKS.md,
# "The 2-D lab's defaults", measured on seeds 0-4 by benchmarks/lab2d_defaults.py).
# One recipe: the plain GAN on grid-25, whose covered-mode count climbs to 21-24 of 25
# and then falls by 7 to 12 within 2,000 steps. Compare: the plain GAN against the best
# remedy on ring-8, both stopping at the plain GAN's 2,000 steps. The remedy's learning
# rate decays over the last 60% of whatever it is given, so it covers all 8 modes by
# step 2,000 (7 or 8 at step 1,500) while gan piles a loose cloud onto 4 to 6 (on every
# seed 0-4). Left at its own 11,000 steps it would still be searching at step 2,000
# (with 8,500, level with gan on some seeds); on grid-25 it needs thousands of steps
# before it pulls ahead, longer than a newcomer watches.
DEFAULT_DATA, DEFAULT_RECIPE = "grid-25", "gan"
COMPARE_DATA, COMPARE_RECIPES = "ring-8", ("gan", "minibatch-std")
COMPARE_STEPS = 2000  # every recipe of the default comparison stops here (the page's "Stop at step")


def point_recipes() -> list[dict]:
    """Recipes that train on points (``describe()`` entries), so a new one appears by itself."""
    return [r for r in describe() if "vector" in r["kinds"]]


@functools.lru_cache(maxsize=None)
def _dimension(name: str) -> int:
    return int(SOURCES.get(name).load(DataConfig(name=name, n_points=4)).shape[0])


def point_sets() -> list[dict]:
    """Built-in 2-D point sets: name, description, and whether they have discrete
    modes that coverage can count (ring-8, grid-25)."""
    out = []
    for name, source in SOURCES.items():
        if source.kind == DataKind.VECTOR and source.builtin and _dimension(name) == 2:
            out.append({"name": name, "description": source.description, "modes": "modes" in source.tags})
    return out


@functools.lru_cache(maxsize=8)
def _load(name: str, n_points: int):
    # Toy data is drawn from a fixed seed, so every lab on (name, n_points) sees the same points.
    return load_data(DataConfig(name=name, n_points=n_points))


@dataclass(frozen=True)
class Frame:
    """What the page draws at one step. Arrays are numpy, so pages need no torch."""

    step: int
    fake: np.ndarray  # (modes.N_SAMPLES, 2) generated points from the lab's fixed noise (fewer in a live frame)
    surface: np.ndarray  # (len(ys), len(xs)) of the lab: D's output at (xs[j], ys[i]) in surface[i, j]
    arrows_at: np.ndarray  # (N_ARROWS, 2) the first generated points
    arrows: np.ndarray  # (N_ARROWS, 2) -grad of G's loss with respect to each of them
    coverage: modes.Coverage | None  # None for point sets without discrete modes
    outside: int  # generated points outside the view
    losses: dict  # the last step's losses and D statistics (empty at step 0)
    coverage_step: int = -1  # the step ``coverage`` was measured at: ``step``, or a live frame's last kept snapshot

    def __post_init__(self):
        if self.coverage_step < 0:
            object.__setattr__(self, "coverage_step", self.step)


class _FixedOutput(nn.Module):
    """Stands in for G: returns given points whatever noise it is fed, so the
    objective's own G loss can be differentiated with respect to the points."""

    def __init__(self, points: torch.Tensor):
        super().__init__()
        self.points = points

    def forward(self, z: torch.Tensor, *condition) -> torch.Tensor:
        return self.points[: len(z)]


class Lab:
    """One recipe on one point set, trained in slices. Raises ``ConfigError`` (one
    sentence) for a recipe or data set the lab cannot train."""

    def __init__(self, recipe: str, data: str, seed: int = 0, *, stop_at: int | None = None,
                 snapshot_every: int = 50, n_points: int | None = None, overrides: dict | None = None):
        sets = {s["name"] for s in point_sets()}
        if data not in sets:
            raise ConfigError(f"The 2-D lab trains on point sets; use one of: {', '.join(sorted(sets))}, not {data!r}.")
        names = [r["name"] for r in point_recipes()]
        if recipe not in names:
            raise ConfigError(f"Recipe {recipe!r} does not train on points; use one of: {', '.join(names)}.")
        if snapshot_every < 1:
            raise ConfigError(f"Snapshots are kept every 1 or more steps, not {snapshot_every}.")
        changes = {"data.name": data, "train.seed": int(seed), "train.device": "cpu"}
        if stop_at is not None:
            changes["train.steps"] = stop_at
        if n_points is not None:
            changes["data.n_points"] = n_points
        changes.update(overrides or {})
        # Trained in the dashboard's process: checked against this server's budget per request (recipes.in_server).
        self.cfg = in_server(Config(recipe=recipe).replace(**changes))  # unset: the recipe's own steps, as `train` uses
        # The recipe's own number of steps, what an emptied "Stop at step" goes back to.
        self.own_steps = self.cfg.train.steps if stop_at is None else resolve(
            Config(recipe=recipe).replace(**{k: v for k, v in changes.items() if k != "train.steps"})).train.steps
        self.recipe, self.data_name, self.seed = recipe, data, int(seed)
        self._stop_at = 0
        self.stop_at = self.cfg.train.steps
        self.snapshot_every = snapshot_every
        self.wasserstein = self.cfg.wasserstein
        self._recipe = RECIPES.get(recipe)
        self._data = _load(data, self.cfg.data.n_points)
        info = self._data.info()

        with _LOCK, _one_thread():
            outer = torch.get_rng_state()
            torch.manual_seed(self.seed)  # as training.train: same seed, same initial weights
            self.G, self.D = self._recipe.build(self.cfg, info)
            self._rng = torch.get_rng_state()
            torch.set_rng_state(outer)
        self.objective = self._recipe.objective(self.cfg, info)
        self.opt_g = make_optimizer(self.cfg, self.G.parameters(), self.cfg.optim.lr_g)
        self.opt_d = make_optimizer(self.cfg, self.D.parameters(), self.cfg.optim.lr_d)
        self._stream = batch_stream(self._data, self.cfg.train.batch_size, self.seed, torch.device("cpu"))

        real = self._data.tensors["real"]
        self.real = real[:N_REAL_SHOWN].numpy().copy()
        lo, hi = real.min(0).values, real.max(0).values
        centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * _VIEW_MARGIN
        self.bounds = ((float(centre[0]) - half, float(centre[0]) + half), (float(centre[1]) - half, float(centre[1]) + half))
        self.coupling, self._group = _coupling(self.D)
        weights = sum(p.numel() for p in self.D.parameters())
        cells = int(np.clip(math.sqrt(SURFACE_WORK / max(weights, 1)), 24, GRID))
        self.xs = np.linspace(*self.bounds[0], cells, dtype=np.float32)
        self.ys = np.linspace(*self.bounds[1], cells, dtype=np.float32)
        grid = torch.cartesian_prod(torch.from_numpy(self.ys), torch.from_numpy(self.xs))  # (y, x) rows, x fastest
        self._grid = grid.flip(1).contiguous()  # as (x, y) points
        # The display's noise and real batch come from their own generator: drawing a
        # frame never moves the training RNG.
        g = torch.Generator().manual_seed(self.seed + 2_718)
        self._z = self.objective.noise(modes.N_SAMPLES, torch.device("cpu"), g)
        self._arrow_real = real[torch.randperm(len(real), generator=g)[:N_ARROWS]]

        self.step = 0
        self.error: str | None = None
        self.losses: dict = {}
        self.snapshots: list[Frame] = []
        self._frame: Frame | None = None
        self.snapshots.append(self.frame())

    # -- what the page reads ----------------------------------------------------------

    @property
    def stop_at(self) -> int:
        """The step training stops at; raising it lets a finished lab go on. (A recipe
        with a learning-rate schedule spreads it over this many steps.)"""
        return self._stop_at

    @stop_at.setter
    def stop_at(self, value: int) -> None:
        if not 1 <= value <= MAX_STOP:
            raise ConfigError(f"The lab trains for 1 to {MAX_STOP:,} steps, not {value}.")
        self._stop_at = int(value)

    @property
    def done(self) -> bool:
        """Trained to ``stop_at``, or stopped by a non-finite loss (``error`` says which)."""
        return self.step >= self.stop_at or self.error is not None

    @property
    def surface_label(self) -> str:
        what = ("critic score f(x) (not a probability: higher = judged more real)" if self.wasserstein
                else "D(x): probability that x is real")
        others = self._group - 1
        if self.coupling == "pack":
            return f"{what}, for a pack of x and {others} generated points (this D judges {self._group} samples at once)"
        if self.coupling == "group":
            return f"{what}, with x in a group with {others} generated points (this D compares samples within groups)"
        return what

    @property
    def settings(self) -> str:
        """The resolved settings in a line, for a caption."""
        c = self.cfg
        return (f"{c.recipe}: {c.optim.optimizer} lr G {c.optim.lr_g:g} / D {c.optim.lr_d:g}, batch {c.train.batch_size}, "
                f"k = {c.loss.d_steps}, width {c.model.width}, z {c.model.z_dim}"
                + (f", R1 {c.loss.r1_weight:g}" if c.loss.r1_weight else "") + f", seed {c.train.seed}")

    def coverage_history(self) -> list[tuple[int, modes.Coverage]]:
        return [(f.step, f.coverage) for f in self.snapshots if f.coverage is not None]

    @property
    def labs(self) -> dict[str, "Lab"]:
        """This lab by its recipe's name: a page treats one lab and a ``Comparison`` alike."""
        return {self.recipe: self}

    def steps_kept(self) -> list[int]:
        """The steps a page can show: every kept snapshot's, and the current step."""
        steps = [f.step for f in self.snapshots]
        return steps if self.step in steps else steps + [self.step]

    def frame_at(self, step: int) -> Frame:
        """The kept snapshot of ``step``; the current frame for any other step."""
        kept = {f.step: f for f in self.snapshots}
        return kept.get(step) or self.frame()

    def frames_at(self, step: int) -> dict[str, Frame]:
        return {self.recipe: self.frame_at(step)}

    def coverage_until(self, frame: Frame) -> list[tuple[int, modes.Coverage]]:
        """The coverage measured up to ``frame``'s step, ending with the one ``frame``
        shows (a live frame's is its last kept snapshot's), for the coverage chart."""
        rows = [(s, c) for s, c in self.coverage_history() if s <= frame.step]
        if frame.coverage is not None and (not rows or rows[-1][0] != frame.coverage_step):
            rows.append((frame.coverage_step, frame.coverage))
        return rows

    def chance(self) -> float | None:
        """How many modes 2,500 points spread evenly over this view would cover (``modes.chance_modes``)."""
        return modes.chance_modes(self.data_name, self.bounds)

    def verdict(self, frame: Frame) -> str:
        """D's verdict at ``frame`` in a line: its mean outputs on real and generated
        points, or a critic's Wasserstein estimate (its outputs are not probabilities)."""
        m = frame.losses
        if not m:
            return "untrained"
        if self.wasserstein:  # Arjovsky et al.'s estimate: W1 times the critic's Lipschitz bound, which clipping keeps tiny
            return (f"Wasserstein estimate {m.get('wasserstein', float('nan')):.3g} (the last batch's, up to the critic's "
                    "unknown scale: compare it within this run, not with another recipe)")
        return f"D(x) {m.get('d_real', float('nan')):.2f} · D(G(z)) {m.get('d_fake', float('nan')):.2f}"

    def playing_frames(self, n_points: int) -> dict[str, Frame]:
        """What a page draws each frame while this lab plays: the full frame (2,500
        points and their own coverage). ``n_points`` serves a ``Comparison`` only."""
        return {self.recipe: self.frame()}

    # -- training -----------------------------------------------------------------------

    def train(self, steps: int) -> int:
        """Train up to ``steps`` more steps (fewer at ``stop_at``); returns how many ran."""
        ran = 0
        with self._own_rng():
            while ran < steps and not self.done:
                self._step()
                ran += 1
                if self.step % self.snapshot_every == 0 or self.done:
                    self._keep_snapshot()
        return ran

    def train_for(self, seconds: float, max_steps: int = 1000) -> int:
        """Train for about ``seconds`` of wall time (at least one step, at most
        ``max_steps``): a frame's worth of training that keeps the page's frame rate
        whatever the recipe costs per step. Which steps run depends only on the step
        count, so the run is the same however it is sliced."""
        ran, deadline = 0, time.perf_counter() + seconds
        while ran < max_steps and not self.done:
            ran += self.train(1)
            if time.perf_counter() >= deadline:
                break
        return ran

    def _step(self) -> None:
        # One step of training.train's loop, on the CPU without mixed precision.
        step = self.step + 1
        if self._recipe.lr_schedule is not None:
            factor = self._recipe.lr_schedule(step, self.stop_at)
            for opt, lr in ((self.opt_g, self.cfg.optim.lr_g), (self.opt_d, self.cfg.optim.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * factor
        # (1) Update D k times: maximise log D(x) + log(1 - D(G(z))) (or the critic's objective).
        self.D.requires_grad_(True)
        for _ in range(self.cfg.loss.d_steps):
            batch = self._stream.next()
            loss_d, d_stats = 0.0, {}
            for d_update in self.objective.d_updates(self.G, self.D, batch):  # one step, or the Keras article's two halves
                loss, stats = d_update()
                self.opt_d.zero_grad(set_to_none=True)
                loss.backward()
                self.opt_d.step()
                loss_d, d_stats = loss_d + loss.detach(), {**d_stats, **stats}
            self.objective.after_d_step(self.D)
        # (2) Update G through a frozen D.
        self.D.requires_grad_(False)
        loss_g, g_stats = self.objective.g_loss(self.G, self.D, batch)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step = step
        self.losses = {"loss_d": float(loss_d), "loss_g": float(loss_g.detach()),
                       **{k: float(v) for k, v in {**d_stats, **g_stats}.items()}}
        if not (math.isfinite(self.losses["loss_d"]) and math.isfinite(self.losses["loss_g"])):
            self.error = (f"The losses became non-finite at step {step} (D {self.losses['loss_d']:g}, G {self.losses['loss_g']:g}); "
                          "reset and lower the learning rates, or try wgan-gp.")

    def _keep_snapshot(self) -> None:
        self.snapshots.append(self.frame())
        if len(self.snapshots) > MAX_SNAPSHOTS:
            # Keep step 0 and every other one after it; the last frame stays too.
            last = self.snapshots[-1]
            self.snapshots = self.snapshots[::2] + ([last] if len(self.snapshots) % 2 == 0 else [])
            self.snapshot_every *= 2

    # -- drawing ------------------------------------------------------------------------

    def frame(self) -> Frame:
        """The current step's frame (computed once per step)."""
        if self._frame is not None and self._frame.step == self.step and len(self._frame.fake) == modes.N_SAMPLES:
            return self._frame
        return self._draw(None)

    def live_frame(self, n_points: int) -> Frame:
        """A lighter frame for animation: the first ``n_points`` of the fixed noise's
        points (the same points the full frame starts with: G runs in eval mode, one
        sample at a time), D's surface and the arrows as in ``frame``, and the mode
        coverage of the last kept snapshot (``coverage_step``), since PacGAN's
        protocol needs all 2,500 samples. Generating them is most of a frame's cost,
        and a comparison draws one frame per recipe. At a kept step, the kept frame."""
        if self.snapshots and self.snapshots[-1].step == self.step:
            return self.snapshots[-1]
        if n_points >= modes.N_SAMPLES:
            return self.frame()
        n_points = max(int(n_points), N_ARROWS + 8)  # room for the arrows' points and a group's companions
        if self._frame is not None and self._frame.step == self.step and len(self._frame.fake) >= n_points:
            return self._frame
        return self._draw(n_points)

    def _draw(self, n_points: int | None) -> Frame:
        """The frame of the current step from ``n_points`` of the fixed noise (all when
        None, with their own coverage; else the last kept snapshot's), kept as ``_frame``."""
        with self._own_rng(keep=False):
            fake = self._generate(n_points)
            surface = self._surface(fake)
            arrows = self._arrows(fake[:N_ARROWS])
        fake_np = fake.numpy()
        (x0, x1), (y0, y1) = self.bounds
        inside = (fake_np[:, 0] >= x0) & (fake_np[:, 0] <= x1) & (fake_np[:, 1] >= y0) & (fake_np[:, 1] <= y1)
        if n_points is None:
            coverage, coverage_step = modes.coverage_for(self.data_name, fake_np), self.step
        else:
            coverage, coverage_step = self.snapshots[-1].coverage, self.snapshots[-1].step
        self._frame = Frame(
            step=self.step, fake=fake_np, surface=surface, arrows_at=fake_np[:N_ARROWS].copy(), arrows=arrows,
            coverage=coverage, outside=int((~inside).sum()), losses=dict(self.losses), coverage_step=coverage_step,
        )
        return self._frame

    @torch.no_grad()
    def _generate(self, n: int | None = None) -> torch.Tensor:
        # Eval mode, as the sample grids and `sample` use: batch norm's running statistics.
        self.G.eval()
        fake = self.objective.generate(self.G, {"z": self._z if n is None else self._z[:n]}).float()
        self.G.train()
        return fake.reshape(len(fake), -1)

    @torch.no_grad()
    def _surface(self, fake: torch.Tensor) -> np.ndarray:
        """D's output at every grid point. A D that judges samples together gets each
        grid point with the same companions: generated points from the current G (the
        first ones after those with arrows), as in the fake packs or groups it trains on."""
        grid, m = self._grid, self._group
        companions = fake[N_ARROWS : N_ARROWS + m - 1]  # (m - 1, 2)
        if self.coupling == "group" and _has_group_parts(self.D):
            out = _group_verdicts(self.D, grid, companions)
        elif m > 1:
            batch = torch.cat([grid[:, None, :], companions.expand(len(grid), -1, -1)], dim=1)  # (cells, m, 2)
            out = self.D(batch.reshape(len(grid) * m, -1))  # a pack: one verdict per cell
            if self.coupling == "group":
                out = out.view(len(grid), m)[:, 0]  # each grid point's own verdict
        else:
            out = self.D(grid)
        out = out.float()
        if not self.wasserstein:
            out = torch.sigmoid(out)
        return out.reshape(len(self.ys), len(self.xs)).numpy()

    def _arrows(self, points: torch.Tensor) -> np.ndarray:
        """-d(G's loss)/d(point) for each point: where G's objective, the recipe's own
        ``g_loss`` with D as it is now, would move it. Each point's share of the mean
        loss makes the vectors small; their directions and relative lengths are what count."""
        points = points.detach().clone().requires_grad_(True)
        self.D.requires_grad_(False)
        with torch.enable_grad():
            loss, _ = self.objective.g_loss(_FixedOutput(points), self.D, {"real": self._arrow_real[: len(points)]})
            (grad,) = torch.autograd.grad(loss, points)
        return torch.nan_to_num(-grad, nan=0.0, posinf=0.0, neginf=0.0).numpy()

    @contextlib.contextmanager
    def _own_rng(self, keep: bool = True):
        """Run with the lab's RNG (kept afterwards if ``keep``) on one thread, under the lock."""
        with _LOCK, _one_thread():
            outer = torch.get_rng_state()
            torch.set_rng_state(self._rng)
            try:
                yield
            finally:
                if keep:
                    self._rng = torch.get_rng_state()
                torch.set_rng_state(outer)


def _coupling(D: nn.Module) -> tuple[str, int]:
    """How D's verdict on one sample depends on others: PacGAN's packs of m,
    minibatch statistics over groups of g, or not at all."""
    if isinstance(D, Packed) and D.m > 1:
        return "pack", D.m
    group = getattr(D, "group", 0)
    if isinstance(group, int) and group > 1:
        return "group", group
    return "none", 1


def _has_group_parts(D: nn.Module) -> bool:
    return isinstance(getattr(D, "body", None), nn.Module) and isinstance(getattr(D, "head", None), nn.Module)


def _group_verdicts(D: nn.Module, points: torch.Tensor, companions: torch.Tensor) -> torch.Tensor:
    """The minibatch-std discriminator's verdict on each point in a group with the
    same ``companions``, without sending the companions through D once per point:
    features, then the group's standard deviation (per feature, averaged), then the
    head, as ``models.points.PointDiscriminator`` does (a test checks the two agree).
    Four times less work than the batched call, which made a frame 170 ms."""
    h, hc = D.body(points), D.body(companions)  # (n, F), (m - 1, F)
    m = len(companions) + 1
    mean = (h + hc.sum(0)) / m
    var = ((h - mean) ** 2 + ((hc[None] - mean[:, None]) ** 2).sum(1)) / m  # (n, F), the group's variance
    return D.head(torch.cat([h, var.sqrt().mean(1, keepdim=True)], dim=1)).squeeze(1)


@dataclass
class Comparison:
    """Several recipes on the same point set from the same seed, trained in lockstep."""

    labs: dict[str, Lab] = field(default_factory=dict)

    @classmethod
    def of(cls, recipes: list[str], data: str, seed: int = 0, **lab_options) -> "Comparison":
        if len(recipes) < 2:
            raise ConfigError("A comparison needs two or more recipes; choose at least two.")
        if len(set(recipes)) != len(recipes):
            raise ConfigError("Each recipe appears once in a comparison; remove the repeated one.")
        return cls({name: Lab(name, data, seed, **lab_options) for name in recipes})

    @property
    def step(self) -> int:
        return min(lab.step for lab in self.labs.values())

    @property
    def stop_at(self) -> int:
        return min(lab.stop_at for lab in self.labs.values())

    @stop_at.setter
    def stop_at(self, value: int) -> None:
        for lab in self.labs.values():
            lab.stop_at = value

    @property
    def done(self) -> bool:
        return all(lab.done for lab in self.labs.values())

    def train(self, steps: int) -> int:
        return max(lab.train(steps) for lab in list(self.labs.values()))

    def train_for(self, seconds: float, max_steps: int = 1000) -> int:
        """About ``seconds`` in all, in lockstep: the slowest recipe sets how many
        steps fit, and every recipe trains that many, so the panels show the same step."""
        labs = [lab for lab in self.labs.values() if not lab.done]
        if not labs:
            return 0
        t0 = time.perf_counter()
        first = labs[0].train(1)
        for lab in labs[1:]:
            lab.train(1)
        per_step = max(time.perf_counter() - t0, 1e-6)
        more = max(0, min(max_steps - 1, int(seconds / per_step) - 1))
        return first + (self.train(more) if more else 0)

    def frames(self) -> dict[str, Frame]:
        return {name: lab.frame() for name, lab in self.labs.items()}

    def live_frames(self, n_points: int) -> dict[str, Frame]:
        return {name: lab.live_frame(n_points) for name, lab in self.labs.items()}

    def playing_frames(self, n_points: int) -> dict[str, Frame]:
        """What a page draws each frame while the comparison plays: each recipe's live
        frame, ``n_points`` points with the coverage of its last kept snapshot, so that
        three recipes still refresh five times a second (generating 2,500 points costs
        15-40 ms per recipe on one core)."""
        return self.live_frames(n_points)

    def frames_at(self, step: int) -> dict[str, Frame]:
        return {name: lab.frame_at(step) for name, lab in self.labs.items()}


__all__ = ["GRID", "N_ARROWS", "Frame", "Lab", "Comparison", "point_recipes", "point_sets"]
