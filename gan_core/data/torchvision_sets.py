"""MNIST, Fashion-MNIST and CIFAR-10 training sets through torchvision.datasets.

``--data-path`` is torchvision's ``root`` (the folder holding ``MNIST/``,
``FashionMNIST/`` or ``cifar-10-batches-py/``); pointing at that inner folder works
too. Nothing is downloaded unless ``--download`` is given. The whole training set
is converted to tensors at once with batched torch ops on the raw uint8 array,
which is far faster than going through PIL image by image.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from ..config import DataConfig
from ..errors import DataError
from ._images import arrays_to_real
from .base import GanData, register_source


@dataclass(frozen=True)
class _Set:
    name: str
    title: str  # as people write it, for messages
    cls: type
    folder: str  # what torchvision keeps under root
    channels: int


_SETS = {
    "mnist": _Set("mnist", "MNIST", datasets.MNIST, "MNIST", 1),
    "fashion-mnist": _Set("fashion-mnist", "Fashion-MNIST", datasets.FashionMNIST, "FashionMNIST", 1),
    "cifar10": _Set("cifar10", "CIFAR-10", datasets.CIFAR10, "cifar-10-batches-py", 3),
}

# What torchvision's readers raise on files that exist but are truncated or garbled.
_READ_ERRORS = (OSError, ValueError, TypeError, AssertionError, EOFError, KeyError, IndexError, pickle.UnpicklingError)


def _root(spec: _Set, cfg: DataConfig) -> Path:
    path = Path(cfg.path).expanduser()
    return path.parent if path.name == spec.folder else path


def _open(spec: _Set, root: Path, given: str, download: bool):
    try:
        return spec.cls(root=str(root), train=True, download=False)
    except (*_READ_ERRORS, RuntimeError) as e:
        # torchvision says "Dataset [metadata file] not found [or corrupted]" when files are absent
        # (or fail CIFAR's MD5 check); other errors come from reading files that are there.
        if not (isinstance(e, RuntimeError) and "not found" in str(e)):
            raise DataError(f"The {spec.title} files under {root / spec.folder} are damaged; delete them and copy or download them again.") from None
    if not download:
        raise DataError(f"{spec.title} was not found under {given}; point --data-path at your copy or add --download on a machine with a network.")
    try:
        return spec.cls(root=str(root), train=True, download=True)
    except Exception as e:  # noqa: BLE001 - network and archive failures come in many types; all mean "download failed"
        raise DataError(
            f"Downloading {spec.title} into {root} failed ({type(e).__name__}); check the network or copy the files there by hand."
        ) from None


def _load(spec: _Set, cfg: DataConfig) -> GanData:
    root = _root(spec, cfg)
    ds = _open(spec, root, cfg.path, cfg.download)
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # (N, H, W) or (N, H, W, C)
    real = arrays_to_real(images, cfg.image_size, cfg.channels or spec.channels)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    class_names = [str(d) for d in range(10)] if spec.name == "mnist" else list(ds.classes)
    return GanData(
        spec.name,
        "image",
        tuple(real.shape[1:]),
        tensors={"real": real, "label": labels},
        class_names=class_names,
        description=f"{spec.title} training set ({len(real)} images) from {root}",
    )


def _register(spec: _Set, description: str) -> None:
    register_source(spec.name, "image", description, builtin=False, needs_path=True, tags=("labels",))(lambda cfg: _load(spec, cfg))


_register(_SETS["mnist"], "MNIST handwritten digits (60,000 training images), from a local copy or --download")
_register(_SETS["fashion-mnist"], "Fashion-MNIST clothing (60,000 training images, 10 classes), from a local copy or --download")
_register(_SETS["cifar10"], "CIFAR-10 colour photos (50,000 training images, 10 classes), from a local copy or --download")
