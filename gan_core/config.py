"""The run config: frozen dataclasses that round-trip through plain JSON.

Fields left at ``None`` mean "the recipe's default" and are filled in by
``recipes.resolve`` before a run starts, so ``config.json`` in a run directory
always holds concrete values that rebuild every model.

Each field's ``metadata`` carries its command-line help (and, where the field name
would be ambiguous, its flag), so ``--help`` and the config can never drift apart.
The way back, a config as the command that starts the same run (``command_line``,
``torchrun_command``), lives here too: the flags are the fields' own, and the
dashboard shows it without importing the command line's argparse and signals.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import shlex
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


def _f(default: Any, help: str, flag: str | None = None, choices: tuple | None = None):
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices})


@dataclass(frozen=True)
class DataConfig:
    name: str = _f("faces-lfw", "data source: a built-in set (works offline) or folder / zip / celeba / a torchvision set", flag="data")
    path: str | None = _f(None, "folder, .zip or dataset root, for sources that read from disk", flag="data-path")
    image_size: int = _f(32, "images are resized and centre-cropped to this square size (a power of two for conv models)")
    channels: int | None = _f(None, "1 = grey, 3 = colour; unset keeps the source's own", choices=(1, 3))
    limit: int | None = _f(None, "use at most this many items (quick experiments)")
    download: bool = _f(False, "let torchvision download MNIST / Fashion-MNIST / CIFAR-10 (needs a network)")
    attributes: str | None = _f(None, "attribute sources (CelebA): comma-separated attributes to keep and condition on, e.g. Smiling,Young,Male,Eyeglasses; unset keeps all")
    n_points: int = _f(20000, "toy sources: how many points are drawn once, then shuffled like a data set")
    workers: int = _f(0, "data loader worker processes, for sources read lazily from disk")
    pairs: str | None = _f(None, "pix2pix: derive (source, target) pairs from any image source: its images are the targets and the "
                           "sources are their edge maps, grey versions, blurred or masked copies, or 4x smaller copies enlarged back (sr4); lab: grey into colour predicting only CIELAB a*b*",
                           choices=("edges", "grey", "blur", "mask", "sr4", "lab"))
    direction: str = _f("AtoB", "pix2pix on --data paired: translate the A images (left halves, or folder A/) into the B images, or the reverse",
                        choices=("AtoB", "BtoA"))
    split: str = _f("train", "pix2pix pairs: train, or the held-out val / test pairs (a sub-folder of --data paired; "
                    "one item in ten of derived pairs) for evaluation", choices=("train", "val", "test"))


@dataclass(frozen=True)
class ModelConfig:
    arch: str | None = _f(None, "mlp or conv; for pix2pix unet or encoder-decoder (no skips, the paper's ablation); unset = the recipe's choice",
                          choices=("mlp", "conv", "unet", "encoder-decoder"))
    z_dim: int | None = _f(None, "noise vector size; unset = the recipe's choice (100 as in the Keras article and DCGAN; "
                                 "2 for the mode-collapse remedies on points, as in PacGAN's experiments)")
    width: int | None = _f(None, "base channels of conv models (DCGAN's ngf/ndf) or first hidden width of MLPs")
    pack: int | None = _f(None, "pacgan: the discriminator judges this many samples at once, joined side by side (PacGAN's m; "
                                "2 or 4 in the paper), so a generator that repeats itself is easy to catch; --batch-size must be a multiple")
    norm: str | None = _f(None, "pix2pix: batch norm (the reference's default) or instance norm (the reference's --norm instance); "
                                "instance suits batches of 1-2, the paper's, whose batch-norm running statistics fit no one picture "
                                "at translation; unset = batch", choices=("batch", "instance"))


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str | None = _f(None, "adam, rmsprop or sgd (the three the Keras article compares)", choices=("adam", "rmsprop", "sgd"))
    lr_g: float | None = _f(None, "generator learning rate")
    lr_d: float | None = _f(None, "discriminator / critic learning rate")
    beta1: float | None = _f(None, "Adam beta1 (0.5 in DCGAN, 0 in WGAN-GP)")
    beta2: float | None = _f(None, "Adam beta2")
    momentum: float = _f(0.0, "SGD momentum")
    rho: float = _f(0.99, "RMSProp smoothing constant: the share of the running average of squared gradients kept at each "
                          "step (PyTorch's alpha, whose default is 0.99; the Keras article used Keras's 0.9)")


WASSERSTEIN = "wasserstein"  # the G loss that makes D a critic: what "is a WGAN" means
MAX_CONFIG_BYTES = 1 << 20  # a config is a few KB: a file far larger (or /dev/zero) is not one


class DataKind(enum.StrEnum):
    """What one item of a data source is (``data.SOURCES``). A ``StrEnum``: checkpoints
    and code that compare with "image" keep working."""

    IMAGE = "image"  # (C, H, W) pixels in [-1, 1]
    VECTOR = "vector"  # (D,) numbers: 2-D points, 1-D samples


@dataclass(frozen=True)
class LossConfig:
    g_loss: str | None = _f(
        None,
        "generator loss: non-saturating -log D(G(z)) (used in practice), minimax log(1 - D(G(z))) (the paper's), "
        "or wasserstein -D(G(z)) (WGAN's; cgan may train with it)",
        choices=("non-saturating", "minimax", WASSERSTEIN),
    )
    d_steps: int | None = _f(None, "k: discriminator steps per generator step (Goodfellow et al.'s algorithm)")
    d_update: str = _f("joint", "how D learns from a batch: joint = one step on the real and the fake batch together "
                                "(Goodfellow et al.'s algorithm); halves = the Keras article's: one step on a real half-batch, "
                                "then one on a fake half-batch (standard GAN loss only)", choices=("joint", "halves"))
    clip: float | None = _f(None, "WGAN critic weight clipping bound")
    gp_weight: float | None = _f(None, "WGAN-GP gradient penalty weight lambda")
    r1_weight: float | None = _f(None, "minibatch-std on points: weight gamma of the R1 penalty (Mescheder et al. 2018), "
                                       "gamma/2 E||grad_x D(x)||^2 over the real batch, which keeps D from sharpening without "
                                       "bound at the real points; 0 = off; unset = the recipe's choice (1)")
    l1_weight: float | None = _f(None, "pix2pix: weight lambda of the L1 loss (100 as in the paper; 0 = cGAN only)")
    gan_weight: float | None = _f(None, "pix2pix: weight of the cGAN loss (1; 0 = L1 only, the paper's ablation: D still trains but G ignores it)")

    @property
    def wasserstein(self) -> bool:
        """Whether D is a critic of the Wasserstein estimate (wgan, wgan-gp, or any recipe
        given ``--g-loss wasserstein``). Unset before ``recipes.resolve`` fills the recipe's
        default, so ask a resolved config."""
        return self.g_loss == WASSERSTEIN


@dataclass(frozen=True)
class TrainConfig:
    steps: int | None = _f(None, "generator updates to train for; unset = the recipe's choice (2000 for most)")
    batch_size: int | None = _f(None, "images (or points) per batch; unset = the recipe's choice (64 for most)")
    seed: int = _f(0, "seed for weights, data order and noise; same seed + same device = same run")
    device: str = _f("auto", "auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps")
    amp: bool = _f(True, "mixed precision on CUDA (ignored elsewhere)")
    deterministic: bool = _f(False, "bit-identical runs and resumes on CUDA: deterministic cuDNN and PyTorch algorithms, "
                                    "cuBLAS workspace :4096:8; slower, and an op with no deterministic kernel stops the run "
                                    "with an error naming it (CPU runs are deterministic anyway)")
    log_every: int = _f(10, "write a metrics line every N steps")
    sample_every: int = _f(100, "save a fixed-noise sample grid every N steps")
    checkpoint_every: int = _f(250, "save a resumable checkpoint every N steps")
    n_samples: int = _f(64, "images in each fixed-noise sample grid")
    # Unset: decided when the run loads its data (augment.default_mode), and recorded
    # in the checkpoint so that a resume keeps it even if the folder has grown.
    augment: str | None = _f(None, "augment every image D sees, real and generated (image data): diff = DiffAugment's colour, "
                                   "translation and cutout on every image; ada = the same with a strength p adapted to D's "
                                   "overfitting (StyleGAN2-ADA); none = off; unset = ada for data of at most 10,000 images, "
                                   "else none", choices=("none", "diff", "ada"))


@dataclass(frozen=True)
class Config:
    recipe: str = _f("dcgan", "what to train: gan, dcgan, wgan, wgan-gp, pacgan, minibatch-std, cgan or pix2pix "
                              "('python -m gan_core info' describes each)")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> "Config":
        if not isinstance(data, dict):
            raise ConfigError("A config must be a JSON object with sections such as 'data' and 'train'.")
        return _build(cls, data, "")

    @classmethod
    def from_json_file(cls, path: str | Path) -> "Config":
        from .untrusted import Unreadable, open_regular, shown_name

        path = Path(path)
        shown = shown_name(str(path), 80)
        try:
            with open_regular(path) as f:  # never waits on a pipe; a device (/dev/zero) is not a config
                raw = f.read(MAX_CONFIG_BYTES + 1)
        except (OSError, Unreadable):
            raise ConfigError(f"Config file {shown} cannot be read (it must be a regular file); check the path.") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"Config file {shown} is larger than {MAX_CONFIG_BYTES // 2**20} MB, which no config is; "
                              "give a JSON config file (e.g. a run's config.json).")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"Config file {path} is not UTF-8 text; give a JSON config file (e.g. a run's config.json).") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"Config file {path} is not valid JSON (line {e.lineno}); fix it or export a fresh one.") from None
        except RecursionError:
            raise ConfigError(f"Config file {path} is nested too deeply to be a config; fix it or export a fresh one.") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "Config":
        """Replace fields by dotted name: ``cfg.replace(**{"train.steps": 10})``."""
        return self.from_dict(_set_dotted(self.to_dict(), changes))

    @property
    def wasserstein(self) -> bool:
        """Whether this (resolved) config trains a WGAN: ``LossConfig.wasserstein``."""
        return self.loss.wasserstein


SECTIONS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "loss": LossConfig, "train": TrainConfig}


def _set_dotted(d: dict, changes: dict) -> dict:
    for key, value in changes.items():
        section, _, name = key.rpartition(".")
        target = d[section] if section else d
        target[name] = value
    return d


def iter_fields():
    """Yield (dotted name, dataclasses.Field, python type) for every leaf field."""
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            sub = SECTIONS[f.name]
            sub_hints = typing.get_type_hints(sub)
            for sf in dataclasses.fields(sub):
                yield f"{f.name}.{sf.name}", sf, sub_hints[sf.name]
        else:
            yield f.name, f, hints[f.name]


def flag_name(dotted: str, f: dataclasses.Field) -> str:
    return "--" + (f.metadata.get("flag") or dotted.rpartition(".")[2].replace("_", "-"))


def _unwrap_optional(tp):
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return tp, False


def base_type(tp) -> type:
    """A field's value type without its ``| None``: int for ``int | None``."""
    return _unwrap_optional(tp)[0]


def coerce(value: Any, tp, where: str) -> Any:
    """Check a JSON value against a field type; ints are accepted for floats."""
    base, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"Config field '{where}' cannot be empty; give it a value.")
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    ok = (
        (base is bool and isinstance(value, bool))
        or (base is int and isinstance(value, int) and not isinstance(value, bool))
        or (base is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (base is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(f"Config field '{where}' must be {names[base]}, not {value!r}.")
    return float(value) if base is float else value


def _build(cls, data: dict, prefix: str):
    hints = typing.get_type_hints(cls)
    valid = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = prefix + key
        if key not in valid:
            raise ConfigError(f"Unknown config field '{where}'; valid fields here: {', '.join(valid)}.")
        if key in SECTIONS and cls is Config:
            if not isinstance(value, dict):
                raise ConfigError(f"Config section '{where}' must be an object of fields.")
            kwargs[key] = _build(SECTIONS[key], value, where + ".")
            continue
        value = coerce(value, hints[key], where)
        choices = valid[key].metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise ConfigError(f"Config field '{where}' must be one of {', '.join(map(str, choices))}, not {value!r}.")
        kwargs[key] = value
    return cls(**kwargs)


def command_line(cfg, runs_dir: str | None = None) -> str:
    """The shell command that starts the same run, e.g. on a GPU server: every
    field that differs from the plain defaults becomes a flag."""
    base = Config().to_dict()
    mine = cfg.to_dict()
    parts = ["python", "-m", "gan_core", "train"]
    for dotted, f, _ in iter_fields():
        section, _, name = dotted.rpartition(".")
        value = mine[section][name] if section else mine[name]
        default = base[section][name] if section else base[name]
        if value == default or value is None:
            continue
        flag = flag_name(dotted, f)
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        else:
            parts += [flag, str(value)]
    if runs_dir:
        parts += ["--runs-dir", str(runs_dir)]
    return " ".join(shlex.quote(p) for p in parts)


def torchrun_command(cfg, nproc: int | str = "NUM_GPUS", runs_dir: str | None = None) -> str:
    """``command_line`` in its data-parallel form: one process per GPU under torchrun
    (README, "Several GPUs, or several machines")."""
    single = command_line(cfg, runs_dir)
    return f"torchrun --nproc_per_node {nproc} -m gan_core " + single[len("python -m gan_core "):]
