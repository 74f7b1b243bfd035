"""Experiments: several runs launched together to answer one question, tagged so
the dashboard can show them together again later. Three ship, each one click on
the Runs page and one command here (``python -m gan_core.experiments --help``):

**optimizers**: the Keras article's study (seeds/002; its code is
miranthajayatilake/GANwKeras, ``keras_gan.py``). The same MLP GAN (recipe ``gan``:
G = 3 x (Dense -> LeakyReLU 0.2 -> BatchNorm, Keras momentum 0.8) of 256/512/1024 from
z of 100 -> tanh, D = flatten -> Dense 512 -> Dense 256 -> sigmoid) trained three times
with the article's own settings, only the optimiser changing:

    SGD      lr 0.01,   momentum 0.5        SGD(lr=0.01, momentum=0.5)
    RMSProp  lr 0.0002, rho 0.9             RMSprop(lr=0.0002, rho=0.9)
    Adam     lr 0.0002, beta1 0.5, 0.999    Adam(lr=0.0002, beta_1=0.5, beta_2=0.999)

and, as in its ``train``: batches of 32; D learns from a real half-batch (16) and
then, in a separate step, from a fake half-batch (16) (``--d-update halves``); G
then learns from 32 fakes; 28 x 28 x 3 images; 5,000 steps (its "epochs" are
steps); a 5 x 5 sample grid every 200 steps; every step logged.

What differs, and is said wherever the comparison is shown (``ARTICLE_DIFFERENCES``):
its 5,000 CelebA faces are not available offline, so the default data are the 100
grey LFW faces that ship with scikit-image, given to the same 28 x 28 x 3 network
(the grey repeated in the three channels); ``photos`` (colour tiles) and
``mnist-5k`` are offered too. Keras's weight initialisation (Glorot), epsilons and
batch-norm epsilon differ from PyTorch's defaults, and its ``generator.predict``
made D's fakes with batch norm in inference mode, where this trainer uses the
batch's statistics.

How the article plots D's loss: its ``d_loss`` is ``0.5 * (d_loss_real +
d_loss_fake)``, the **mean** of the real and fake parts, and that is the curve its
figures label "Discriminator Loss - Real". The curve labelled "Discriminator Loss -
Fake" is ``d_loss[1]``, D's accuracy, not a loss. This workbench logs D's loss as
the sum (``loss_d``) and both parts; the comparison's figures plot the mean, as the
article does (``D_LOSS_AS_ARTICLE``).

**losses**: minimax vs non-saturating G loss (Goodfellow et al. 2014, section 3):
the same recipe, data, seed and settings, only ``--g-loss`` differing.

**wgans**: GAN vs WGAN vs WGAN-GP on ``ring-8``: each recipe with its own
defaults (WGANs take 5 critic steps per generator step), same data, seed, batch and
number of generator steps.

Every run of an experiment carries ``experiment.json`` (the run directory contract
allows extra files):

    {"id": ..., "kind": "optimizer-comparison", "label": ..., "variant": "sgd",
     "variant_label": "SGD, lr 0.01, momentum 0.5", "runs": [run ids, in order], "created": ...}

Launching respects the concurrency limit. With a free training slot per run the
runs train side by side (one ``jobs.launch`` each). With fewer free slots (the
default limit is 2) they are queued instead: one background worker trains them one
after another, so the comparison takes a single slot, and each run's wall-time curve
is measured with the same machine to itself. Runs waiting in the queue are "queued"
(and count as active) until the worker gets to them; a STOP on one of them makes
the worker skip it, and if the worker dies they show as "interrupted" and can be
resumed one by one.

``summarise`` turns finished runs into figures a person can compare (the end of the
curves, plotted as the article plots them, and how close the samples are to the
data), ``verdict`` into sentences, and ``comparison_figure`` into one picture.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from . import jobs
from .config import Config
from .errors import ConfigError, GanError, RunError
from .recipes import resolve
from .runs import atomic_write_json, create_run, list_runs, read_config, read_metrics, read_status, worker_identity, write_status

EXPERIMENT_FILE = "experiment.json"
KIND_OPTIMIZERS = "optimizer-comparison"
KIND_LOSSES = "loss-comparison"
KIND_WGANS = "wgan-comparison"

D_LOSS_AS_ARTICLE = ("D's loss is plotted as the Keras article plots it: the mean of its real and fake parts, "
                     "0.5 × (−log D(x) − log(1 − D(G(z)))), as Keras's d_loss = 0.5 × (d_loss_real + d_loss_fake); "
                     "at D = ½ it is log 2 ≈ 0.693, like the non-saturating G loss. (The article's curve labelled "
                     "\"Discriminator Loss - Fake\" is D's accuracy, d_loss[1], not a loss.)")
ARTICLE_DIFFERENCES = (
    "The article trained on 5,000 CelebA faces in colour, which are not available offline. The default here is "
    "the 100 grey LFW faces of scikit-image (photos: colour tiles that are not faces; mnist-5k: digits), given to "
    "the same 28 × 28 × 3 network with grey repeated in the three channels. With 100 faces, D sees each one about "
    "800 times in 5,000 steps, where the article's D saw each of its faces about 16 times.",
    "PyTorch's layer initialisation, Adam/RMSProp epsilon (1e-8) and batch-norm epsilon (1e-5) replace Keras's "
    "(Glorot uniform, 1e-7, 1e-3).",
    "The article's D judged fakes made by generator.predict, batch norm in inference mode; here G makes them "
    "with the batch's statistics, as in its own update.",
    "Batches are drawn as seeded shuffles of the data instead of with replacement.",
)


@dataclass(frozen=True)
class Variant:
    name: str  # experiment.json "variant"
    label: str  # legends and captions
    changes: dict[str, Any]  # dotted config fields applied to the base


@dataclass(frozen=True)
class Comparison:
    kind: str  # experiment.json "kind"
    command: str  # python -m gan_core.experiments COMMAND
    short: str  # for labels, toasts and errors: "the optimiser comparison"
    title: str
    question: str  # one sentence: what it asks
    variants: tuple[Variant, ...]
    data: tuple[str, ...]  # data sets offered; the first is the default
    steps: int  # default number of (generator) steps
    base: Callable[[str, int, int], Config]  # (data, steps, seed) -> the base config
    notes: tuple[str, ...] = ()  # what differs from the source, how to read it
    reset: dict[str, Any] = field(default_factory=dict)  # fields cleared before a variant's changes


# Every optimiser field, back to "unset": a variant sets the ones it uses, so a base
# config resolved with another optimiser (Adam's betas) never leaks into SGD's run.
_OPTIM_UNSET = {"optim.optimizer": None, "optim.lr_g": None, "optim.lr_d": None, "optim.beta1": None, "optim.beta2": None,
                "optim.momentum": 0.0, "optim.rho": 0.99}


def _optim(name: str, lr: float, **extra) -> dict:
    return {"optim.optimizer": name, "optim.lr_g": lr, "optim.lr_d": lr, **{f"optim.{k}": v for k, v in extra.items()}}


# The article's optimisers, exactly as its keras_gan.py builds them (one optimiser
# object for D and the combined model, so G and D share the settings).
OPTIMIZERS: tuple[Variant, ...] = (
    Variant("sgd", "SGD, lr 0.01, momentum 0.5", _optim("sgd", 0.01, momentum=0.5)),
    Variant("rmsprop", "RMSProp, lr 0.0002, ρ 0.9", _optim("rmsprop", 0.0002, rho=0.9)),
    Variant("adam", "Adam, lr 0.0002, β1 0.5", _optim("adam", 0.0002, beta1=0.5, beta2=0.999)),
)

ARTICLE_STEPS = 5000
ARTICLE_IMAGE = {"data.image_size": 28, "data.channels": 3}


def article_config(data: str = "faces-lfw", steps: int = ARTICLE_STEPS, seed: int = 0) -> Config:
    """The Keras article's run, optimiser left to the variants: recipe gan (its MLPs),
    28 x 28 x 3 images, batch 32, D on a real then a fake half-batch, a 5 x 5 grid every
    200 steps, every step logged (its loss lists hold every step)."""
    return Config(recipe="gan").replace(**{
        "data.name": data, **ARTICLE_IMAGE, "train.batch_size": 32, "loss.d_update": "halves",
        "train.steps": steps, "train.seed": seed, "train.log_every": 1, "train.n_samples": 25,
        "train.sample_every": max(1, min(200, steps // 10)),
    })


def _plain_base(recipe: str, image_size: int) -> Callable[[str, int, int], Config]:
    def base(data: str, steps: int, seed: int) -> Config:
        return Config(recipe=recipe).replace(**{
            "data.name": data, "data.image_size": image_size, "train.steps": steps, "train.seed": seed,
            "train.sample_every": max(10, steps // 20),
        })

    return base


COMPARISONS: dict[str, Comparison] = {c.command: c for c in (
    Comparison(
        KIND_OPTIMIZERS, "optimizers", "optimiser comparison", "Optimisers: SGD vs RMSProp vs Adam (the Keras article's study)",
        "Which optimiser trains the article's MLP GAN best, with the article's own settings?",
        OPTIMIZERS, ("faces-lfw", "photos", "mnist-5k"), ARTICLE_STEPS, article_config,
        notes=ARTICLE_DIFFERENCES + (D_LOSS_AS_ARTICLE,), reset=_OPTIM_UNSET,
    ),
    Comparison(
        KIND_LOSSES, "losses", "G-loss comparison", "G loss: minimax vs non-saturating (Goodfellow et al. 2014)",
        "Does G learn when it minimises log(1 − D(G(z))), the paper's objective, or only with −log D(G(z))?",
        (Variant("non-saturating", "non-saturating: −log D(G(z))", {"loss.g_loss": "non-saturating"}),
         Variant("minimax", "minimax: log(1 − D(G(z)))", {"loss.g_loss": "minimax"})),
        ("mnist-5k", "ring-8", "faces-lfw"), 2000, _plain_base("gan", 28),
        notes=("Both train recipe gan with its defaults (Adam 2e-4, β1 0.5, k = 1); only G's loss differs. Early on D "
               "rejects fakes easily, where log(1 − D(G(z))) is flat: the paper's reason to train G on −log D(G(z)).",),
    ),
    Comparison(
        KIND_WGANS, "wgans", "GAN vs WGAN comparison", "GAN vs WGAN vs WGAN-GP on 2-D points (ring-8)",
        "How do the standard GAN, weight-clipped WGAN and WGAN-GP cover the modes of a ring (or grid) of Gaussians?",
        tuple(Variant(r, label, {"recipe": r}) for r, label in (
            ("gan", "GAN (non-saturating, Adam 2e-4)"), ("wgan", "WGAN (clip 0.01, RMSProp 5e-5, 5 critic steps)"),
            ("wgan-gp", "WGAN-GP (λ 10, Adam 1e-4, 5 critic steps)"))),
        ("ring-8", "grid-25"), 3000, _plain_base("gan", 32),
        notes=("Each recipe keeps its own defaults: architecture width, optimiser, loss and critic steps; the data, "
               "seed, batch and number of generator steps are the same. A WGAN step holds 5 critic steps, so it costs more.",),
        reset={**_OPTIM_UNSET, "loss.g_loss": None, "loss.d_steps": None, "loss.clip": None, "loss.gp_weight": None,
               "model.arch": None, "model.width": None},
    ),
)}
BY_KIND = {c.kind: c for c in COMPARISONS.values()}


def comparison(name: str) -> Comparison:
    """A comparison by command (``optimizers``) or kind (``optimizer-comparison``)."""
    found = COMPARISONS.get(name) or BY_KIND.get(name)
    if found is None:
        raise ConfigError(f"Unknown comparison {name!r}; use one of: {', '.join(COMPARISONS)}.")
    return found


def base_config(name: str, data: str | None = None, steps: int | None = None, seed: int = 0) -> Config:
    """The comparison's base config for this data, steps and seed (defaults: its own)."""
    c = comparison(name)
    return c.base(data or c.data[0], int(steps or c.steps), int(seed))


def variant_configs(name: str, base_cfg: Config) -> list[tuple[Variant, Config]]:
    """(variant, resolved config) for each variant of the comparison: ``base_cfg``
    with only the variant's fields changed. A bad config fails here, before
    anything is launched."""
    c = comparison(name)
    resolve(base_cfg)  # the base itself must make sense, whatever the variants change
    return [(v, resolve(base_cfg.replace(**{**c.reset, **v.changes}))) for v in c.variants]


def comparison_configs(base_cfg: Config) -> list[tuple[str, str, Config]]:
    """The optimiser comparison's (optimizer, label, resolved config), in order."""
    return [(v.name, v.label, cfg) for v, cfg in variant_configs("optimizers", base_cfg)]


def free_slots(runs_dir: str | Path, max_active: int | None) -> int | None:
    """How many more runs may train now (None = no limit)."""
    if max_active is None:
        return None
    return max(0, max_active - len(jobs.active_runs(runs_dir)))


def _experiment(c: Comparison, base: Config) -> dict:
    what = base.data.name if c.kind == KIND_WGANS else f"{base.recipe} on {base.data.name}"
    return {
        "id": f"{datetime.now():%Y%m%d-%H%M%S}-{c.command}-{secrets.token_hex(2)}",
        "kind": c.kind,
        "label": f"{c.short[0].upper() + c.short[1:]}: {what}, {base.train.steps} steps, seed {base.train.seed}",
        "created": time.time(),
    }


def create(name: str, base_cfg: Config, runs_dir: str | Path) -> list[Path]:
    """Create and tag the comparison's runs without starting them (state queued);
    ``train_queue`` trains them, as the command line does."""
    c = comparison(name)
    configs = variant_configs(name, base_cfg)
    run_dirs = [create_run(cfg, runs_dir) for _, cfg in configs]
    _tag(run_dirs, configs, _experiment(c, configs[0][1]))
    return run_dirs


def launch_comparison(name: str, base_cfg: Config, runs_dir: str | Path, max_active: int | None = None) -> list[Path]:
    """Launch a comparison in the background and return its run directories, in the
    order of its variants: side by side when a slot is free for each, else queued in
    one worker. Raises ``ConfigError`` for a bad base config and ``RunError`` when
    no training slot is free."""
    c = comparison(name)
    runs_dir = Path(runs_dir)
    configs = variant_configs(name, base_cfg)
    free = free_slots(runs_dir, max_active)
    if free == 0:
        active = len(jobs.active_runs(runs_dir))
        raise RunError(
            f"The {c.short} needs one free training slot, but {active} run(s) are already training "
            f"and the limit is {max_active}; stop one or wait for it to finish."
        )
    experiment = _experiment(c, configs[0][1])
    if free is None or free >= len(configs):
        run_dirs = [jobs.launch(cfg, runs_dir, max_active) for _, cfg in configs]
        _tag(run_dirs, configs, experiment)
    else:
        run_dirs = [create_run(cfg, runs_dir) for _, cfg in configs]
        _tag(run_dirs, configs, experiment)
        _spawn_queue(run_dirs)
    return run_dirs


def optimizer_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None) -> list[Path]:
    """The SGD / RMSProp / Adam comparison of ``base_cfg`` (``article_config()`` for the
    article's own settings); see ``launch_comparison``."""
    return launch_comparison("optimizers", base_cfg, runs_dir, max_active)


def loss_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None) -> list[Path]:
    """Non-saturating vs minimax G loss on ``base_cfg``; see ``launch_comparison``."""
    return launch_comparison("losses", base_cfg, runs_dir, max_active)


def wgan_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None) -> list[Path]:
    """GAN vs WGAN vs WGAN-GP on ``base_cfg``'s data; see ``launch_comparison``."""
    return launch_comparison("wgans", base_cfg, runs_dir, max_active)


def _tag(run_dirs: list[Path], configs, experiment: dict) -> None:
    ids = [d.name for d in run_dirs]
    for run_dir, (variant, _) in zip(run_dirs, configs):
        atomic_write_json(run_dir / EXPERIMENT_FILE, {**experiment, "variant": variant.name, "variant_label": variant.label, "runs": ids})


def read_experiment(run_dir: str | Path) -> dict | None:
    """The run's experiment.json, or None for a run that is not part of one."""
    try:
        data = json.loads((Path(run_dir) / EXPERIMENT_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), str) else None


def list_experiments(runs_dir: str | Path) -> list[dict]:
    """Experiments with at least one run left, newest first: id, kind, label,
    created, ``runs`` (the run directories that still exist, in launch order) and
    ``runs_launched`` (the ids of every run it launched)."""
    found: dict[str, dict] = {}
    for info in list_runs(runs_dir):
        exp = read_experiment(info.path)
        if exp is None:
            continue
        launched = exp.get("runs") if isinstance(exp.get("runs"), list) else []
        entry = found.setdefault(exp["id"], {**exp, "runs_launched": launched, "runs": []})
        entry["runs"].append(info.path)
    for entry in found.values():
        order = entry.get("runs_launched") or []
        entry["runs"].sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
        entry.pop("variant", None)
        entry.pop("variant_label", None)
    return sorted(found.values(), key=lambda e: e.get("created", 0), reverse=True)


# --- what the runs show: figures, a verdict, a picture


TAIL = 0.1  # the end of a run: its last 10% of logged rows


def _mean(values) -> float | None:
    values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def d_loss_as_article(row: dict) -> float | None:
    """D's loss as the Keras article plots it: the mean of the real and fake parts."""
    real, fake = row.get("loss_d_real"), row.get("loss_d_fake")
    return None if real is None or fake is None else 0.5 * (real + fake)


def curve_summary(rows: list[dict], tail: float = TAIL) -> dict:
    """Means over the last ``tail`` of the logged rows (a single row is noisy)."""
    end = rows[-max(1, int(round(len(rows) * tail))):] if rows else []
    out = {"d_loss_mean": _mean(d_loss_as_article(r) for r in end)}
    for key in ("loss_g", "d_real", "d_fake", "wasserstein"):
        out[key] = _mean(r.get(key) for r in end)
    return out


def nearest_ratios(real, fake) -> dict:
    """Nearest-neighbour distances between real items and samples (tensors of the same
    number of rows, any shape), each as a ratio to the distance from a real item to
    its nearest other real item (``real_to_real``, root mean square per coordinate):

    - ``fake_to_real``: median distance from a sample to its nearest real item.
      About 1: samples sit among the data as real items do; well above 1: off the
      data (noise, artefacts); well below 1: near-copies of training items.
    - ``real_to_fake``: median distance from a real item to its nearest sample.
      Well above 1: parts of the data no sample comes near (modes dropped, collapse)."""
    import torch

    real, fake = real.flatten(1).float(), fake.flatten(1).float()
    scale = math.sqrt(real.shape[1])
    real_real = torch.cdist(real, real)
    real_real.fill_diagonal_(math.inf)
    fake_real = torch.cdist(fake, real)
    reference = real_real.min(1).values.median().item() / scale
    return {
        "fake_to_real": fake_real.min(1).values.median().item() / scale / reference,
        "real_to_fake": fake_real.min(0).values.median().item() / scale / reference,
        "real_to_real": reference,
    }


def sample_distances(run_dir: str | Path, n: int = 2000, seed: int = 0) -> dict | None:
    """``nearest_ratios`` of the run's last weights against its training data, in the
    data's own space (pixels in [-1, 1], or the points), with as many samples as real
    items (up to ``n``), so both directions search sets of the same size. None when
    the run has no checkpoint or its data are not held in memory."""
    import torch

    from . import inference
    from .data import load_data

    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoints" / "last.safetensors"
    if not ckpt.is_file():
        return None
    data = load_data(read_config(run_dir).data)
    if data.tensors is None:
        return None
    real = data.tensors["real"]
    real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]]
    fake = inference.sample_tensor(inference.load_generator(ckpt), len(real), seed)
    return nearest_ratios(real, fake)


def mode_figures(run_dir: str | Path, seed: int = 0) -> dict | None:
    """For a run on a mixture with separate modes (ring-8, grid-25, toy-1d): the PacGAN
    protocol's figures (``gan_core.modes``) for its last weights; else None."""
    from . import inference
    from .modes import N_SAMPLES, coverage_for

    ckpt = Path(run_dir) / "checkpoints" / "last.safetensors"
    if not ckpt.is_file():
        return None
    gen = inference.load_generator(ckpt)
    if gen.kind != "vector":
        return None
    found = coverage_for(gen.config.data.name, inference.sample_tensor(gen, N_SAMPLES, seed))
    if found is None:
        return None
    return {"modes": found.modes, "modes_total": found.total, "high_quality": found.high_quality, "reverse_kl": found.reverse_kl}


def summarise(run_dirs: list[str | Path], samples: bool = True) -> list[dict]:
    """One dict per run: variant, label, state, steps, seconds, the curves' ends
    (``curve_summary``) and, for runs with a checkpoint (``samples``), how its samples
    fare: mode coverage on a mixture with separate modes (``mode_figures``), else
    nearest-neighbour distances to the data (``sample_distances``)."""
    out = []
    for run_dir in map(Path, run_dirs):
        exp = read_experiment(run_dir) or {}
        status = read_status(run_dir)
        rows, _ = read_metrics(run_dir)
        entry = {"run": run_dir.name, "variant": exp.get("variant", run_dir.name), "label": exp.get("variant_label", run_dir.name),
                 "state": status.get("state"), "step": status.get("step"), "elapsed": status.get("elapsed"),
                 **curve_summary(rows)}
        if samples:
            entry.update(mode_figures(run_dir) or sample_distances(run_dir) or {})
        out.append(entry)
    return out


def _fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


# (key, header, how to show it): a column is shown when some run has a value for it.
COLUMNS = (
    ("d_loss_mean", "D loss: mean of real and fake", lambda s: _fmt(s.get("d_loss_mean"))),
    ("wasserstein", "critic's W1 estimate", lambda s: _fmt(s.get("wasserstein"))),
    ("loss_g", "G loss", lambda s: _fmt(s.get("loss_g"))),
    ("d_real", "D(x)", lambda s: _fmt(s.get("d_real"))),
    ("d_fake", "D(G(z))", lambda s: _fmt(s.get("d_fake"))),
    ("modes", "modes covered", lambda s: "n/a" if s.get("modes") is None else f"{s['modes']}/{s['modes_total']}"),
    ("high_quality", "high quality", lambda s: "n/a" if s.get("high_quality") is None else f"{s['high_quality']:.1%}"),
    ("reverse_kl", "reverse KL", lambda s: _fmt(s.get("reverse_kl"))),
    ("fake_to_real", "sample → nearest real", lambda s: _fmt(s.get("fake_to_real"), ".2f")),
    ("real_to_fake", "real → nearest sample", lambda s: _fmt(s.get("real_to_fake"), ".2f")),
)


def summary_table(summary: list[dict]) -> str:
    """The summary as a Markdown table (for docs/BENCHMARKS.md and the terminal); the
    curve columns are means over the last 10% of logged steps."""
    shown = [c for c in COLUMNS if any(s.get(c[0]) is not None for s in summary)]
    head = "| run | state | steps | time | " + " | ".join(header for _, header, _ in shown) + " |"
    lines = [head, "|" + "---|" * (4 + len(shown))]
    for s in summary:
        minutes = f"{s['elapsed'] / 60:.1f} min" if s.get("elapsed") else "n/a"
        lines.append(f"| {s['label']} | {s['state']} | {s['step']} | {minutes} | " + " | ".join(show(s) for _, _, show in shown) + " |")
    return "\n".join(lines)


def verdict(summary: list[dict]) -> list[str]:
    """What the figures say, as sentences: runs that did not finish, runs whose D won
    outright, and which run's samples cover the modes best (points) or sit closest
    to the data and cover it best (images). The figures decide; the words only read
    them out."""
    words = []
    for s in summary:
        if s["state"] != "finished":
            words.append(f"{s['label']} did not finish ({s['state']} at step {s['step']}).")
        elif s.get("d_real") is not None and s.get("d_fake") is not None and s["d_real"] > 0.95 and s["d_fake"] < 0.05:
            words.append(f"{s['label']}: D won outright (D(x) {s['d_real']:.2f}, D(G(z)) {s['d_fake']:.2f} at the end), "
                         "so G was left without a useful gradient.")
    finished = [s for s in summary if s["state"] == "finished"]
    with_modes = [s for s in finished if s.get("modes") is not None]
    if with_modes:
        best = max(with_modes, key=lambda s: (s["modes"], -s["reverse_kl"], s["high_quality"]))
        words.append(f"Most modes covered: {best['label']} ({best['modes']}/{best['modes_total']} modes, "
                     f"{best['high_quality']:.1%} of samples high quality, reverse KL {best['reverse_kl']:.3f}; PacGAN's protocol).")
    scored = [s for s in finished if s.get("fake_to_real") is not None]
    if scored:
        # Both ratios near 1 is the goal; the one further from 1 (on a log scale) decides.
        best = min(scored, key=lambda s: max(abs(math.log(s["fake_to_real"])), abs(math.log(s["real_to_fake"]))))
        words.append(f"Samples closest to the data and covering it best: {best['label']} (a sample's nearest real item is "
                     f"{best['fake_to_real']:.2f}x, a real item's nearest sample {best['real_to_fake']:.2f}x, the distance "
                     "between real neighbours).")
        for s in scored:
            if s["fake_to_real"] < 0.5:
                words.append(f"{s['label']}: its samples are unusually close to training items ({s['fake_to_real']:.2f}x): "
                             "look for copies of them.")
    return words


def comparison_figure(run_dirs: list[str | Path], out: str | Path, title: str = "") -> Path:
    """One PNG: per run, its curves (D's loss as the article plots it, the mean of
    real and fake, or a WGAN's critic estimate, and G's loss, raw and smoothed) above
    its last sample grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    from .runs import sample_images

    run_dirs = [Path(d) for d in run_dirs]
    fig, axes = plt.subplots(2, len(run_dirs), figsize=(4.6 * len(run_dirs), 8.6), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 1.25]})
    shown: list[float] = []  # every value drawn, for one y range over all runs
    for col, run_dir in enumerate(run_dirs):
        exp = read_experiment(run_dir) or {}
        rows, _ = read_metrics(run_dir)
        ax = axes[0][col]
        d_key = "D loss: mean of real and fake" if any("loss_d_real" in r for r in rows) else "Wasserstein estimate"
        for name, values in ((d_key, [d_loss_as_article(r) if "loss_d_real" in r else r.get("wasserstein") for r in rows]),
                             ("G loss", [r.get("loss_g") for r in rows])):
            pairs = [(r["step"], v) for r, v in zip(rows, values) if v is not None and math.isfinite(v)]
            if not pairs:
                continue
            steps, ys = zip(*pairs)
            shown.extend(ys)
            every = max(1, len(steps) // 1500)  # the faint raw curve, thinned: the file stays small
            line = ax.plot(steps[::every], ys[::every], linewidth=0.6, alpha=0.3)[0]
            smooth, last = [], 0.0
            for n, y in enumerate(ys, 1):  # TensorBoard's debiased moving average, for the trend
                last = 0.97 * last + 0.03 * y
                smooth.append(last / (1 - 0.97**n))
            ax.plot(steps, smooth, color=line.get_color(), linewidth=1.8, label=name)
        if d_key.startswith("D loss"):
            ax.axhline(math.log(2), color="grey", linestyle=":", linewidth=1.2, label="log 2 (D = ½)")
        ax.set_title(exp.get("variant_label", run_dir.name), fontsize=11)
        ax.set_xlabel("step")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
        grids = sample_images(run_dir)
        axes[1][col].axis("off")
        if grids:
            step, path = grids[-1]
            axes[1][col].imshow(imread(path))
            axes[1][col].set_title(f"samples at step {step:,}", fontsize=10)
    if shown:  # the same scale for every run, so the curves compare at a glance; rare spikes may leave it
        shown.sort()
        low, high = shown[int(0.005 * (len(shown) - 1))], shown[int(0.995 * (len(shown) - 1))]
        pad = 0.05 * (high - low or 1.0)
        for ax in axes[0]:
            ax.set_ylim(min(low, 0.0) - pad, high + pad)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    from PIL import Image

    with Image.open(out) as img:  # 256 colours are plenty for curves and sample grids, at a quarter of the size
        img.convert("RGB").quantize(256).save(out, optimize=True)
    return out


# --- the queue: one worker process training an experiment's runs one after another


def _spawn_queue(run_dirs: list[Path]) -> None:
    env = jobs.worker_env(len(jobs.active_runs(run_dirs[0].parent)) - len(run_dirs))
    with open(run_dirs[0] / "train.log", "ab") as log:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gan_core.experiments", "queue", *map(str, run_dirs)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # a Ctrl-C to the server does not kill the queue
            )
        except OSError as e:
            for run_dir in run_dirs:
                write_status(run_dir, state="failed", error=f"The training worker could not start ({e.strerror}).")
            raise RunError(f"The training worker could not start ({e.strerror}); check the server's Python.") from None
    # Reap the worker when it exits so it does not linger as a zombie in the server.
    threading.Thread(target=proc.wait, daemon=True).start()
    for run_dir in run_dirs:
        # The worker's pid on every queued run: if the worker dies, they read as "interrupted".
        write_status(run_dir, **worker_identity(proc.pid))  # pid, host and start time: pid reuse is not mistaken for it


@contextlib.contextmanager
def _output_to(log_path: Path):
    """Send this process's output to ``log_path``: Python's sys.stdout / sys.stderr
    and file descriptors 1 and 2 (for anything C code or a subprocess prints)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])


def train_queue(run_dirs: list[str | Path]) -> list[str]:
    """Train queued runs one after another in this process; returns their final states.

    A run that is no longer queued (resumed or deleted meanwhile) is left alone; a
    queued run with a STOP request is marked stopped without training."""
    from .training import resume  # imports torch: only the worker pays for it

    states = []
    run_dirs = [Path(d) for d in run_dirs]
    for i, run_dir in enumerate(run_dirs, 1):
        if not (run_dir / "config.json").is_file():
            states.append("missing")
            continue
        with _output_to(run_dir / "train.log"):
            state = read_status(run_dir).get("state")
            if state != "queued":
                print(f"Queue: skipping {run_dir.name}, which is {state}.", flush=True)
                states.append(state)
                continue
            if (run_dir / "STOP").exists():
                write_status(run_dir, state="stopped", eta=None,
                             message="Stopped before it started; resume trains it from the start.")
                print(f"Queue: {run_dir.name} was stopped before it started.", flush=True)
                states.append("stopped")
                continue
            print(f"Queue: training {run_dir.name} ({i} of {len(run_dirs)})", flush=True)
            try:
                status = resume(run_dir)
            except Exception:  # train() has recorded the failure in status.json
                traceback.print_exc()
                states.append(read_status(run_dir).get("state", "failed"))
                continue
            print(f"Queue: {run_dir.name} {status.get('state')} at step {status.get('step')}", flush=True)
            states.append(status.get("state"))
    return states


def _run_one_after_another(run_dirs: list[Path]) -> list[str]:
    """Train the runs here, one after another, saying on the terminal which one is
    training (each run's own output goes to its train.log)."""
    states = []
    for i, run_dir in enumerate(run_dirs, 1):
        variant = (read_experiment(run_dir) or {}).get("variant_label", "")
        print(f"[{i}/{len(run_dirs)}] {variant}: training {run_dir} (progress in its train.log)", flush=True)
        t0 = time.time()
        (state,) = train_queue([run_dir])
        print(f"[{i}/{len(run_dirs)}] {variant}: {state} in {(time.time() - t0) / 60:.1f} min", flush=True)
        states.append(state)
    return states


def report(run_dirs: list[Path], figure: Path | None, title: str = "") -> str:
    """The summary table, the verdict's sentences and the figure, as printed by the
    command line."""
    ids = {(read_experiment(d) or {}).get("id") for d in run_dirs}
    if len(ids) == 1 and None not in ids:  # one experiment's runs: in the order it launched them, under its label
        order = (read_experiment(run_dirs[0]) or {}).get("runs") or []
        title = title or (read_experiment(run_dirs[0]) or {}).get("label", "")
        run_dirs = sorted(run_dirs, key=lambda d: order.index(d.name) if d.name in order else len(order))
    summary = summarise(run_dirs)
    lines = [summary_table(summary), ""] + [f"- {w}" for w in verdict(summary)]
    if figure is not None:
        lines += ["", f"Figure: {comparison_figure(run_dirs, figure, title)}"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gan_core.experiments",
        description="Comparisons in one command: create the runs, train them here one after another, then print "
                    "the figures and the verdict and save one picture of curves and samples.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join([*COMPARISONS, "summary"]) + "}")
    for c in COMPARISONS.values():
        p = sub.add_parser(c.command, help=c.question, description=c.title + ". " + c.question)
        p.add_argument("--data", default=c.data[0], choices=c.data, help=f"data set (default: {c.data[0]})")
        p.add_argument("--steps", type=int, default=c.steps, help=f"generator steps per run (default: {c.steps:,})")
        p.add_argument("--seed", type=int, default=0, help="the seed of every run (default: 0)")
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
        p.add_argument("--runs-dir", metavar="DIR", help="where the runs go (default: GAN_WORKBENCH_RUNS_DIR or ./runs)")
        p.add_argument("--figure", metavar="PNG", help="where the picture goes (default: <runs dir>/<experiment id>.png)")
    s = sub.add_parser("summary", help="figures, verdict and picture of runs already trained")
    s.add_argument("runs", nargs="+", metavar="RUN_DIR")
    s.add_argument("--figure", metavar="PNG", help="also save the picture of curves and samples here")
    return parser


def _main(argv: list[str]) -> int:
    if argv[:1] == ["queue"]:  # the dashboard's background worker: queue RUN_DIR [RUN_DIR ...]
        if len(argv) < 2:
            print("usage: python -m gan_core.experiments queue RUN_DIR [RUN_DIR ...]", file=sys.stderr)
            return 2
        train_queue(argv[1:])
        return 0
    args = _parser().parse_args(argv)
    try:
        if args.command == "summary":
            for d in map(Path, args.runs):
                read_config(d)  # a path that is not a run directory is refused in one sentence
            print(report([Path(d) for d in args.runs], Path(args.figure) if args.figure else None))
            return 0
        from .settings import load_settings

        c = comparison(args.command)
        runs_dir = Path(args.runs_dir).expanduser() if args.runs_dir else load_settings().runs_dir
        base = base_config(c.command, args.data, args.steps, args.seed).replace(**{"train.device": args.device})
        run_dirs = create(c.command, base, runs_dir)
        experiment = read_experiment(run_dirs[0])
        print(f"{experiment['label']}: {len(run_dirs)} runs in {runs_dir}", flush=True)
        for note in c.notes:
            print(f"  note: {note}")
        _run_one_after_another(run_dirs)
        figure = Path(args.figure) if args.figure else runs_dir / f"{experiment['id']}.png"
        print(report(run_dirs, figure, experiment["label"]))
    except GanError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


__all__ = [
    "COMPARISONS",
    "OPTIMIZERS",
    "ARTICLE_DIFFERENCES",
    "D_LOSS_AS_ARTICLE",
    "article_config",
    "base_config",
    "comparison",
    "comparison_configs",
    "variant_configs",
    "create",
    "launch_comparison",
    "optimizer_comparison",
    "loss_comparison",
    "wgan_comparison",
    "read_experiment",
    "list_experiments",
    "free_slots",
    "train_queue",
    "nearest_ratios",
    "sample_distances",
    "mode_figures",
    "summarise",
    "summary_table",
    "verdict",
    "comparison_figure",
]
