"""Checkpoints: weights in .safetensors (loadable without pickle, config in the
metadata) for sampling and sharing; resume state in a file only the trainer writes.

    checkpoints/last.safetensors   "generator.*" and "discriminator.*" tensors;
                                   metadata: format, config JSON, data info JSON, step
    checkpoints/last.state.pt      models, optimisers, scaler, RNG, data position, step

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
from .data.base import DataInfo
from .errors import CheckpointError, ConfigError
from .runs import atomic_write_bytes

FORMAT = "gan-workbench/1"
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


def load_state(ckpt_dir: Path) -> dict | None:
    """The resume state, or None when the run has not checkpointed yet."""
    path = Path(ckpt_dir) / STATE
    if not path.exists():
        return None
    try:
        # weights_only: tensors, dicts and numbers, no arbitrary objects, even from our own file.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise CheckpointError(f"The resume state {path} is damaged; start a new run from its weights or from scratch.") from None


@dataclass
class Checkpoint:
    path: Path
    config: Config
    data: DataInfo
    step: int
    tensors: dict[str, torch.Tensor]

    def part(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) + 1:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}


def read(path: str | Path) -> Checkpoint:
    """Read a .safetensors checkpoint with its config; one-sentence errors for
    anything that is not a GAN Workbench checkpoint."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path.name} is not a .safetensors file; checkpoints are accepted in that format only.")
    try:
        raw = path.read_bytes()
    except OSError:
        raise CheckpointError(f"Checkpoint {path} does not exist or cannot be read; check the path.") from None
    try:
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8 : 8 + header_len]).get("__metadata__") or {}
    except Exception:  # SafetensorError, a bad header length, bad JSON: all mean "not a valid file"
        raise CheckpointError(f"{path.name} is not a valid .safetensors file; it may be truncated or of another format.") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} was not made by GAN Workbench (its metadata has no config); use a checkpoint from a run's checkpoints/ folder.")
    try:
        cfg = Config.from_dict(json.loads(meta["config"]))
        info = DataInfo.from_dict(json.loads(meta["data"]))
        step = int(meta["step"])
    except (KeyError, ValueError, ConfigError):
        raise CheckpointError(f"The metadata of {path.name} is damaged; use another checkpoint.") from None
    return Checkpoint(path, cfg, info, step, tensors)


MAX_HEADER = 100 * 1024 * 1024  # a header larger than this is not a checkpoint of ours


def read_metadata(path: Path) -> dict:
    """The __metadata__ of a .safetensors file, reading only its header."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("too short")
        n = int.from_bytes(head, "little")
        if not 2 <= n <= MAX_HEADER:
            raise ValueError("bad header length")
        header = json.loads(f.read(n))
    if not isinstance(header, dict):
        raise ValueError("bad header")
    return header.get("__metadata__") or {}


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
    what sampling needs, at about half the size. Returns the bytes written."""
    ckpt = read(src)
    out = Path(out)
    if out.suffix != ".safetensors":
        raise CheckpointError(f"{out.name} must end in .safetensors; choose another --out name.")
    meta = {"format": FORMAT, "config": ckpt.config.to_json(), "data": json.dumps(ckpt.data.to_dict()), "step": str(ckpt.step)}
    data = st_save({f"generator.{k}": v.contiguous() for k, v in ckpt.part("generator").items()}, metadata=meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, data)
    return len(data)
