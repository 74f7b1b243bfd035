"""The comparisons and their configs: what each asks, its variants (the fields it
changes), its data, its default length and the notes said wherever it is shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import Config
from ..errors import ConfigError
from ..recipes import resolve

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
    quick_steps: int = 0  # the quick size: runs that finish in a few minutes on a 2-core CPU, enough to see the curves part


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
        notes=ARTICLE_DIFFERENCES + (D_LOSS_AS_ARTICLE,), reset=_OPTIM_UNSET, quick_steps=1000,
    ),
    Comparison(
        KIND_LOSSES, "losses", "G-loss comparison", "G loss: minimax vs non-saturating (Goodfellow et al. 2014)",
        "Does G learn when it minimises log(1 − D(G(z))), the paper's objective, or only with −log D(G(z))?",
        (Variant("non-saturating", "non-saturating: −log D(G(z))", {"loss.g_loss": "non-saturating"}),
         Variant("minimax", "minimax: log(1 − D(G(z)))", {"loss.g_loss": "minimax"})),
        ("mnist-5k", "ring-8", "faces-lfw"), 2000, _plain_base("gan", 28), quick_steps=500,
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
        quick_steps=600,
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
