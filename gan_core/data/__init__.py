"""Data sources: toy point sets, built-in offline images, the user's folders and zips,
CelebA and torchvision's MNIST / Fashion-MNIST / CIFAR-10; and image pairs for pix2pix
(``paired.py``: A|B files or A/ B/ folders on disk, or pairs derived from any image
source with ``--pairs``), streamed by ``batch_stream`` with a seeded random crop.

Importing this package registers every source in ``SOURCES``; ``load_data`` is the
one entry point the trainer and the dashboard use.
"""

from __future__ import annotations

import dataclasses

import torch

from ..config import DataConfig
from ..errors import ConfigError, DataError
from . import builtin, folder, paired, torchvision_sets, toy  # noqa: F401 - importing registers the sources
from .base import SOURCES, BatchStream, GanData, Source, register_source
from .paired import PairedData, batch_stream
from .toy import mode_centres, mode_sigma

__all__ = [
    "SOURCES",
    "BatchStream",
    "GanData",
    "PairedData",
    "batch_stream",
    "Source",
    "list_sources",
    "load_data",
    "mode_centres",
    "mode_sigma",
    "register_source",
]


def list_sources() -> list[Source]:
    """Every registered source for menus: built-in toy sets, built-in images, then sources read from disk."""
    return sorted((source for _, source in SOURCES.items()), key=lambda s: (not s.builtin, s.kind != "vector"))


def _check(cfg: DataConfig, source: Source) -> None:
    if source.needs_path and not cfg.path:
        raise DataError(f"Data source '{source.name}' reads from disk; give its location with --data-path.")
    if cfg.limit is not None and cfg.limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {cfg.limit}.")
    if source.kind == "vector" and cfg.n_points < 1:
        raise ConfigError(f"--n-points must be at least 1, not {cfg.n_points}.")
    if source.kind == "image" and cfg.image_size < 1:
        raise ConfigError(f"--image-size must be at least 1, not {cfg.image_size}.")
    if cfg.channels not in (None, 1, 3):
        raise ConfigError(f"--channels must be 1 (grey) or 3 (colour), not {cfg.channels}.")


def _first(data: GanData, n: int) -> GanData:
    if data.tensors is not None:
        return dataclasses.replace(data, tensors={k: v[:n] for k, v in data.tensors.items()})
    return dataclasses.replace(data, dataset=torch.utils.data.Subset(data.dataset, range(n)))


def _select_attributes(data: GanData, wanted: str) -> GanData:
    """Keep only the named attribute columns (in the order given), so a conditional
    model is conditioned on, and its checkpoint lists, exactly those."""
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    if not data.attr_names:
        raise ConfigError(f"Data source '{data.name}' has no attributes, so --attributes does not apply; leave it unset.")
    unknown = [n for n in names if n not in data.attr_names]
    if unknown or not names or len(set(names)) != len(names):
        shown = ", ".join(data.attr_names)
        raise ConfigError(f"--attributes must name distinct attributes of '{data.name}' ({shown}), not {wanted!r}.")
    columns = torch.tensor([data.attr_names.index(n) for n in names])
    if data.tensors is not None:
        tensors = {**data.tensors, "attrs": data.tensors["attrs"].index_select(1, columns)}
        return dataclasses.replace(data, tensors=tensors, attr_names=names)
    return dataclasses.replace(data, dataset=_AttributeColumns(data.dataset, columns), attr_names=names)


class _AttributeColumns(torch.utils.data.Dataset):
    def __init__(self, dataset, columns: torch.Tensor):
        self.dataset, self.columns = dataset, columns

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.dataset[index])
        item["attrs"] = item["attrs"].index_select(0, self.columns)
        return item


def load_data(cfg: DataConfig) -> GanData:
    """Load the source ``cfg.name`` names, keeping its first ``cfg.limit`` items if set.

    Raises ``ConfigError`` for an unknown name or an invalid setting and ``DataError``
    for missing, malformed or empty data.
    """
    source = SOURCES.get(cfg.name)
    _check(cfg, source)
    # Pairs for pix2pix (paired.py): from disk, or derived from this source's images.
    data = paired.load_pairs(cfg) if paired.is_paired(cfg) else source.load(cfg)
    if cfg.attributes is not None:
        data = _select_attributes(data, cfg.attributes)
    if cfg.limit is not None and cfg.limit < len(data):
        data = _first(data, cfg.limit)
    if len(data) == 0:
        raise DataError(f"Data source '{cfg.name}' yielded no items; check the data it reads.")
    return data
