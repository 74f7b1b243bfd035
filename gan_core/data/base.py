"""The one interface every data source goes through.

A source turns a ``DataConfig`` into ``GanData``: either tensors held in memory
(built-in sets, toy mixtures, zips, small folders) or a lazy ``torch`` Dataset
(large folders such as CelebA). Items are dicts so conditional and paired recipes
can add keys without changing the trainer:

    "real"   (C, H, W) float in [-1, 1] for images, (D,) float for toy points
    "label"  () int64 class index, when the source has classes
    "attrs"  (A,) float 0/1, when the source has attributes (CelebA)
    "source" / "target"  paired images for pix2pix

``BatchStream`` draws batches in a seeded order that depends only on (seed, batch
index), so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from ..config import DataConfig, DataKind
from ..registry import Registry


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data; stored in checkpoints so a
    generator can be rebuilt without the data set."""

    name: str
    kind: str
    shape: tuple[int, ...]
    class_names: list[str] | None = None
    attr_names: list[str] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "class_names": self.class_names, "attr_names": self.attr_names}

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        return cls(d["name"], d["kind"], tuple(d["shape"]), d.get("class_names"), d.get("attr_names"))


@dataclass
class GanData:
    name: str
    kind: DataKind
    shape: tuple[int, ...]  # of one "real" item: (C, H, W) or (D,)
    tensors: dict[str, torch.Tensor] | None = None
    dataset: torch.utils.data.Dataset | None = None
    class_names: list[str] | None = None
    attr_names: list[str] | None = None
    skipped: int = 0  # unreadable files that were skipped
    description: str = ""
    # The pix2pix split ("val", "test") this data already is, when the source holds its
    # own held-out items (``photos``); derived pairs then take all of it.
    split: str | None = None

    def __post_init__(self):
        assert (self.tensors is None) != (self.dataset is None), "give tensors or a dataset"
        self.kind = DataKind(self.kind)  # loaders give the text; anything else is refused here

    def __len__(self) -> int:
        if self.tensors is not None:
            return len(next(iter(self.tensors.values())))
        return len(self.dataset)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def info(self) -> DataInfo:
        return DataInfo(self.name, self.kind, tuple(self.shape), self.class_names, self.attr_names)

    def item(self, index: int) -> dict[str, torch.Tensor]:
        if self.tensors is not None:
            return {k: v[index] for k, v in self.tensors.items()}
        return self.dataset[index]


@dataclass(frozen=True)
class Source:
    name: str
    kind: DataKind
    load: Callable[[DataConfig], GanData]
    description: str
    builtin: bool  # works offline with nothing but the installed packages
    needs_path: bool = False
    tags: tuple[str, ...] = field(default=())  # e.g. ("labels",), ("attrs",), ("paired",)


SOURCES: Registry[Source] = Registry("data source")


def register_source(name: str, kind: DataKind | str, description: str, builtin: bool, needs_path: bool = False, tags=()):
    def add(load: Callable[[DataConfig], GanData]):
        SOURCES.register(name)(Source(name, DataKind(kind), load, description, builtin, needs_path, tuple(tags)))
        return load

    return add


def _sequence_indices(n: int, seed: int, start: int, count: int) -> torch.Tensor:
    """Items start..start+count of an endless sequence of seeded permutations of range(n)."""
    out = []
    while count > 0:
        epoch, offset = divmod(start, n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        take = min(count, n - offset)
        out.append(perm[offset : offset + take])
        start += take
        count -= take
    return torch.cat(out)


def _shard(indices: torch.Tensor, shard: tuple[int, int]) -> torch.Tensor:
    """Process ``rank``'s contiguous share of a global batch's indices (distributed.py)."""
    rank, world = shard
    if world == 1:
        return indices
    n = len(indices) // world
    return indices[rank * n:(rank + 1) * n]


class _IndexBatches(torch.utils.data.Sampler):
    """Endless batch sampler starting at a given batch, for lazy datasets; under
    torchrun each process reads only its shard of every global batch."""

    def __init__(self, n: int, batch_size: int, seed: int, start_batch: int, shard: tuple[int, int] = (0, 1)):
        self.n, self.batch_size, self.seed, self.start, self.shard = n, batch_size, seed, start_batch, shard

    def __iter__(self):
        b = self.start
        while True:
            yield _shard(_sequence_indices(self.n, self.seed, b * self.batch_size, self.batch_size), self.shard).tolist()
            b += 1


class BatchStream:
    """Endless, resumable batches: batch i is the same for a given seed whatever came before.
    ``batch_size`` is the global batch; with ``shard=(rank, world)`` (torchrun) a process
    gets its contiguous 1/world of each, so the ranks together see the batch one
    process would."""

    def __init__(self, data: GanData, batch_size: int, seed: int, device: torch.device, start_batch: int = 0, workers: int = 0,
                 shard: tuple[int, int] = (0, 1)):
        self.data, self.batch_size, self.seed, self.device, self.shard = data, batch_size, seed, device, shard
        self.position = start_batch  # batches handed out so far; saved in checkpoints
        self._n = len(data)
        self._perm_epoch = -1
        self._perm: torch.Tensor | None = None
        self._loader: Iterator | None = None
        if data.dataset is not None:
            loader = torch.utils.data.DataLoader(
                data.dataset,
                batch_sampler=_IndexBatches(self._n, batch_size, seed, start_batch, shard),
                num_workers=workers,
                pin_memory=device.type == "cuda",
                persistent_workers=workers > 0,
                # Its own generator: iter() draws the workers' base seed from it, and from the
                # global one without it, which a resumed run has just restored, so every later
                # noise draw would shift and resume would not be exact (issue #10).
                generator=torch.Generator().manual_seed(seed * 1_000_003 + start_batch),
            )
            self._loader = iter(loader)
        else:
            # Small in-memory sets live on the device: indexing there is much cheaper than copying each batch.
            self._tensors = {k: v.to(device) for k, v in data.tensors.items()}

    def _indices(self, start: int) -> torch.Tensor:
        epoch, offset = divmod(start, self._n)
        if offset + self.batch_size <= self._n:  # fast path: one cached permutation per epoch
            if epoch != self._perm_epoch:
                self._perm = torch.randperm(self._n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
                self._perm_epoch = epoch
            return self._perm[offset : offset + self.batch_size]
        return _sequence_indices(self._n, self.seed, start, self.batch_size)

    def next(self) -> dict[str, torch.Tensor]:
        if self._loader is not None:
            batch = next(self._loader)
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        else:
            idx = _shard(self._indices(self.position * self.batch_size), self.shard).to(self.device)
            batch = {k: v.index_select(0, idx) for k, v in self._tensors.items()}
        self.position += 1
        return batch
