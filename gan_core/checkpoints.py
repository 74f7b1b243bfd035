"""Checkpoints: weights in .safetensors (loadable without pickle, config in the
metadata) for sampling and sharing; resume state in a file only the trainer writes.

    checkpoints/last.safetensors   "generator.*" and "discriminator.*" tensors;
                                   metadata: format, config JSON, data info JSON, step
    checkpoints/last.state.pt      models, optimisers, scalers, RNG (CPU + CUDA or MPS), data position, step

The resume file holds its own copy of the weights so one atomic ``os.replace``
makes a consistent resume point: a kill between the two writes cannot pair
weights from one step with optimiser state from another.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from .config import Config
from .data.base import SOURCES, DataInfo
from .errors import CheckpointError, ConfigError
from .recipes import RECIPES, resolve
from .runs import atomic_write_bytes
from .untrusted import MAX_NAME_CHARS, MAX_NAMES, shown_name, unprintable

FORMAT = "gan-workbench/1"
JUDGE_FORMAT = "gan-workbench-judge/1"  # the judge's cache (judge.py): scores images, generates none
WEIGHTS = "last.safetensors"
STATE = "last.state.pt"


def weights_bytes(cfg: Config, info: DataInfo, step: int, G: nn.Module, D: nn.Module | None) -> bytes:
    tensors = {f"generator.{k}": v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    if D is not None:
        tensors.update({f"discriminator.{k}": v.detach().cpu().contiguous() for k, v in D.state_dict().items()})
    meta = {"format": FORMAT, "config": cfg.to_json(), "data": json.dumps(info.to_dict()), "step": str(step)}
    return st_save(tensors, metadata=meta)


def save(ckpt_dir: Path, cfg: Config, info: DataInfo, step: int, G: nn.Module, D: nn.Module, state: dict) -> None:
    """Write the resume state, then the shareable weights, each atomically."""
    buf = io.BytesIO()
    torch.save({**state, "step": step, "generator": G.state_dict(), "discriminator": D.state_dict()}, buf)
    atomic_write_bytes(ckpt_dir / STATE, buf.getvalue())
    atomic_write_bytes(ckpt_dir / WEIGHTS, weights_bytes(cfg, info, step, G, D))


def rng_state(device: torch.device) -> dict:
    """The random state a resumed run needs: the CPU generator (data order, the CPU's
    noise) and the chosen accelerator's own (noise drawn on a CUDA GPU or on Apple MPS
    comes from that device's generator, not the CPU's)."""
    return {
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "rng_mps": torch.mps.get_rng_state() if device.type == "mps" else None,
    }


def restore_rng(state: dict, device: torch.device) -> None:
    """Undo ``rng_state``. A device's state is restored only on a device of the same
    kind; a checkpoint written elsewhere (or before MPS was saved) leaves it seeded."""
    torch.set_rng_state(state["rng_cpu"])
    if device.type == "cuda" and state.get("rng_cuda") is not None:
        torch.cuda.set_rng_state(state["rng_cuda"], device)
    if device.type == "mps" and state.get("rng_mps") is not None:
        torch.mps.set_rng_state(state["rng_mps"])


SCALER_KEYS = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")


def restore_scaler(scaler: torch.amp.GradScaler, saved: dict | None) -> bool:
    """Load a gradient scaler's saved state if there is one it can use; True if loaded.
    A run checkpointed without loss scaling (CPU, MPS, bfloat16, --no-amp) saves an
    empty state, which ``GradScaler.load_state_dict`` refuses; resumed where float16
    scaling is on, it starts from a fresh scale (2**16, backed off within a few steps
    if too high). A disabled scaler has nothing to restore."""
    if not scaler.is_enabled() or not isinstance(saved, dict) or not all(k in saved for k in SCALER_KEYS):
        return False
    scaler.load_state_dict(saved)
    return True


def non_finite(modules: dict[str, nn.Module]) -> str | None:
    """The name ("generator.net.0.weight") of the first floating tensor of these
    modules' state that holds NaN or infinity, or None when all are finite. One
    host-device sync for all of them; called before each checkpoint, not each step."""
    tensors = [(f"{name}.{k}", t) for name, m in modules.items() for k, t in m.state_dict().items() if t.is_floating_point()]
    if not tensors or bool(torch.stack([torch.isfinite(t).all() for _, t in tensors]).all()):
        return None
    return next(key for key, t in tensors if not bool(torch.isfinite(t).all()))


def load_state(ckpt_dir: Path) -> dict | None:
    """The resume state, or None when the run has not checkpointed yet."""
    path = Path(ckpt_dir) / STATE
    if not path.exists():
        return None
    try:
        # weights_only: tensors, dicts and numbers, no arbitrary objects, even from our own file.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise CheckpointError(f"The resume state {path} is damaged, so this run cannot continue; its last weights still sample "
                              "and export, and a new run with the same settings starts from scratch.") from None


@dataclass
class Checkpoint:
    path: Path
    config: Config
    data: DataInfo
    step: int
    tensors: dict[str, torch.Tensor]

    def part(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) + 1:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}


# A checkpoint's metadata is untrusted text (it may come from a visitor): nothing is
# built from it until every number in it is checked against these bounds and its
# config passes the rules a training config passes (``recipes.resolve``: recipe, data
# source, architecture, image sizes), and the models it describes are then built on
# PyTorch's "meta" device (shapes, no memory) and compared with the tensors actually
# in the file. The bounds are far above any model this workbench trains (DCGAN width
# 64 at 256 px; MLP width 256) and far below what would exhaust a 1 GB server.
MAX_HEADER = 16 * 1024 * 1024  # bytes of safetensors JSON header; ours are a few KB
MAX_IMAGE_SIDE = 1024  # the largest --image-size the engine trains (MLP models; recipes.resolve)
CONV_SIDES = (16, 32, 64, 128, 256)  # the sizes the engine trains conv, U-Net and encoder-decoder models at (recipes.resolve)
MAX_VECTOR_DIM = 1024  # toy points are 1-D or 2-D
MAX_Z_DIM = 4096
MAX_WIDTH = 4096
# Class and attribute names: untrusted.MAX_NAMES and MAX_NAME_CHARS, shared with the data folders.


def _damaged(name: str, what: str) -> CheckpointError:
    return CheckpointError(f"The metadata of {name} is damaged ({what}); use another checkpoint or export it again.")


def _names(value, name: str, what: str) -> list[str] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or not 0 < len(value) <= MAX_NAMES
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in value)):
        raise _damaged(name, f"{what} must be a list of at most {MAX_NAMES} short names")
    # Pages ask for a class by its name and show names in menus and captions.
    if len(set(value)) != len(value) or any(unprintable(v) for v in value):
        raise _damaged(name, f"{what} must be distinct names without control characters")
    return value


def _data_name(value, name: str) -> str:
    """A data set's name, shown in the gallery's menu: short and on one line."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS or unprintable(value):
        raise _damaged(name, "the data set's name is missing, too long or holds control characters")
    return value


def parse_metadata(meta: dict, name: str) -> tuple[Config, DataInfo, int]:
    """The (config, data info, step) of a checkpoint's metadata, every field checked
    for type and bounds; ``CheckpointError`` (one sentence) for anything else.
    Nothing here reads a path or a setting from the file for use: the data section
    only describes the shape a generator produces."""
    if isinstance(meta, dict) and meta.get("format") == JUDGE_FORMAT:
        raise CheckpointError(f"{name} is the judge's cache, which scores generated images and generates none; "
                              "use a checkpoint from a run's checkpoints/ folder.")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{name} was not made by GAN Workbench (its metadata has no config); use a checkpoint from a run's checkpoints/ folder.")
    try:
        cfg = Config.from_dict(json.loads(meta["config"]))
        data = json.loads(meta["data"])
        step = int(meta["step"])
    except ConfigError as e:
        raise _damaged(name, str(e).rstrip(".")) from None
    except (KeyError, TypeError, ValueError, RecursionError):
        raise _damaged(name, "its config, data or step cannot be read") from None
    if not isinstance(data, dict):
        raise _damaged(name, "the data section is not an object")
    kind, shape = data.get("kind"), data.get("shape")
    if not isinstance(data.get("name"), str) or kind not in ("image", "vector"):
        raise _damaged(name, "the data section has no valid name and kind")
    _data_name(data["name"], name)
    _data_name(cfg.data.name, name)
    if not isinstance(shape, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape):
        raise _damaged(name, "the data shape is not a list of whole numbers")
    if kind == "image":
        if len(shape) != 3 or shape[0] not in (1, 3) or not 8 <= shape[1] <= MAX_IMAGE_SIDE or shape[2] != shape[1]:
            raise _damaged(name, f"an image shape must be [1 or 3, S, S] with S from 8 to {MAX_IMAGE_SIDE}, not {shape}")
        if shape[1] != cfg.data.image_size:
            raise _damaged(name, f"the data shape {shape} disagrees with its image size {cfg.data.image_size}")
    elif len(shape) != 1 or not 1 <= shape[0] <= MAX_VECTOR_DIM:
        raise _damaged(name, f"a point shape must be [D] with D from 1 to {MAX_VECTOR_DIM}, not {shape}")
    if not 1 <= cfg.model.z_dim <= MAX_Z_DIM or not 1 <= (cfg.model.width or 1) <= MAX_WIDTH:
        raise _damaged(name, f"z_dim and width must lie between 1 and {MAX_Z_DIM}")
    if step < 0:
        raise _damaged(name, "its step is negative")
    info = DataInfo(data["name"], kind, tuple(shape), _names(data.get("class_names"), name, "class_names"),
                    _names(data.get("attr_names"), name, "attr_names"))
    trained_here(cfg, info, name)
    return cfg, info, step


def trained_here(cfg: Config, info: DataInfo, name: str) -> None:
    """Refuse (``CheckpointError``, one sentence naming the file and the field) a
    checkpoint this engine could not have trained: its config must pass the rules a
    training config passes (``recipes.resolve``), so a conv model declared at 1,024 px,
    a recipe without its data kind or a cgan without classes is refused before any
    model is built or any sample drawn. The form's limits on batch and k are not
    applied: they bound one dashboard run's training, and cost nothing when sampling."""
    size, arch = cfg.data.image_size, cfg.model.arch
    if info.kind == "image" and arch not in (None, "mlp") and size not in CONV_SIDES:
        sizes = f"up to {CONV_SIDES[-1]} px" if size > CONV_SIDES[-1] else f"at {', '.join(map(str, CONV_SIDES[:-1]))} or {CONV_SIDES[-1]} px"
        raise CheckpointError(f"{name} declares a {size:,}-px {arch} {cfg.recipe}; this engine trains {arch} models {sizes}, "
                              "so it cannot be one of its checkpoints.")
    if info.kind == "image" and not 8 <= size <= MAX_IMAGE_SIDE:
        raise CheckpointError(f"{name} declares {size:,}-px images; this engine trains at 8 to {MAX_IMAGE_SIDE:,} px, "
                              "so it cannot be one of its checkpoints.")
    try:
        source = SOURCES.get(cfg.data.name)
    except ConfigError:
        raise CheckpointError(f"{name} declares data source {shown_name(cfg.data.name, 40)!r}, which this engine does not have, "
                              "so it cannot be one of its checkpoints.") from None
    if source.kind != info.kind:
        raise _damaged(name, f"data source {source.name!r} holds {source.kind} data, not {info.kind} data")
    if info.kind == "image" and cfg.data.channels is not None and cfg.data.channels != info.shape[0]:
        raise _damaged(name, f"its data shape {list(info.shape)} disagrees with its {cfg.data.channels} channels")
    try:
        recipe = RECIPES.get(cfg.recipe)
    except ConfigError:
        raise CheckpointError(f"{name} names recipe {shown_name(cfg.recipe, 40)!r}, which this workbench does not have; "
                              f"use a checkpoint of {', '.join(RECIPES.names())}.") from None
    if recipe.conditional and not (info.class_names or info.attr_names):
        raise _damaged(name, f"a {cfg.recipe} checkpoint must name the classes or attributes it was conditioned on")
    try:
        resolve(cfg, memory=False)  # trained on a larger machine is still trained here
    except ConfigError as e:
        reason = str(e).rstrip(".").split("; ")[0]
        raise CheckpointError(f"{name} cannot be one of this engine's checkpoints: its config would be refused for training "
                              f"({reason[:1].lower()}{reason[1:]}); use a checkpoint trained by GAN Workbench.") from None
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        raise _damaged(name, "its config cannot be checked") from None


def _header(raw: bytes, name: str) -> dict:
    """The JSON header of safetensors bytes (``raw`` may be just the start of a file)."""
    if len(raw) < 8:
        raise ValueError("too short")
    n = int.from_bytes(raw[:8], "little")
    if not 2 <= n <= MAX_HEADER:
        raise ValueError("bad header length")
    header = json.loads(raw[8 : 8 + n])
    if not isinstance(header, dict):
        raise ValueError("bad header")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("bad metadata")
    return meta


def _not_valid(name: str) -> CheckpointError:
    return CheckpointError(f"{name} is not a valid .safetensors file; it may be truncated or of another format.")


# The tensor types a checkpoint of this engine can hold (weights in float16/bfloat16/float32,
# BatchNorm's step counts in int64, buffers such as a flag); any other is refused by name.
_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.int32, torch.int16,
                     torch.int8, torch.uint8, torch.bool})


def parse(raw: bytes, name: str, path: Path | None = None) -> Checkpoint:
    """A checkpoint from its bytes: metadata checked (``parse_metadata``) before the
    tensors are decoded; every floating tensor must be finite."""
    try:
        meta = _header(raw, name)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise _not_valid(name) from None
    cfg, info, step = parse_metadata(meta, name)
    try:
        tensors = st_load(raw)
    except Exception:  # SafetensorError and friends: all mean "not a valid file"
        raise _not_valid(name) from None
    for key, t in tensors.items():
        if t.dtype not in _DTYPES:  # float8 and friends: torch cannot even check them for finite values
            raise CheckpointError(f"{name} holds a tensor of type {str(t.dtype).removeprefix('torch.')} (in {shown_name(key)}), "
                                  "which GAN Workbench never writes; use a checkpoint saved by this workbench.")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{name} holds non-finite weights (in {shown_name(key)}); it cannot generate anything, so use an earlier checkpoint.")
    return Checkpoint(path or Path(name), cfg, info, step, tensors)


def read(path: str | Path) -> Checkpoint:
    """Read a .safetensors checkpoint with its config; one-sentence errors for
    anything that is not a sound GAN Workbench checkpoint."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path.name} is not a .safetensors file; checkpoints are accepted in that format only.")
    try:
        if not path.is_file():
            raise OSError
        raw = path.read_bytes()
    except OSError:
        raise CheckpointError(f"Checkpoint {path} does not exist or cannot be read; check the path.") from None
    return parse(raw, path.name, path)


def read_header(path: str | Path) -> tuple[Config, DataInfo, int]:
    """(config, data info, step) of a checkpoint file, reading only its header."""
    path = Path(path)
    try:
        if not path.is_file():  # never open a FIFO or a device, which could block
            raise OSError
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            raw = head + f.read(n if 2 <= n <= MAX_HEADER else 0)
    except OSError:
        raise CheckpointError(f"Checkpoint {path} does not exist or cannot be read; check the path.") from None
    try:
        meta = _header(raw, path.name)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise _not_valid(path.name) from None
    return parse_metadata(meta, path.name)


def load_into(module: nn.Module, tensors: dict[str, torch.Tensor], what: str, ckpt: Checkpoint) -> None:
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise CheckpointError(
            f"{ckpt.path.name} does not fit the {what} of recipe {ckpt.config.recipe!r} at this size; "
            "use the recipe and settings it was trained with."
        ) from None


def export_generator(src: str | Path, out: str | Path) -> int:
    """Copy a checkpoint's generator (and its metadata) without the discriminator:
    what sampling needs, at about half the size. Returns the bytes written.
    pix2pix keeps its PatchGAN (a tenth or so of the file): the
    translation page's realism map is that discriminator's verdict."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise CheckpointError(f"{shown_name(out.name)} must end in .safetensors; choose another --out name.")
    if out.exists() and not out.is_file():  # a folder, or a named pipe that would block
        raise CheckpointError(f"{shown_name(str(out), 80)} exists and is not a regular file; choose another --out path.")
    ckpt = read(src)
    meta = {"format": FORMAT, "config": ckpt.config.to_json(), "data": json.dumps(ckpt.data.to_dict()), "step": str(ckpt.step)}
    keep = ("generator", "discriminator") if ckpt.config.recipe == "pix2pix" else ("generator",)
    data = st_save({f"{part}.{k}": v.contiguous() for part in keep for k, v in ckpt.part(part).items()}, metadata=meta)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, data)
    except OSError as e:
        raise CheckpointError(f"Cannot write {shown_name(str(out), 80)} ({e.strerror}); choose another --out path.") from None
    return len(data)
