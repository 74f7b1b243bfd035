"""Data-parallel training under PyTorch's own ``torchrun`` (issue #10).

    torchrun --nproc_per_node 2 -m gan_core train --recipe dcgan --data faces-lfw

``torchrun`` starts the processes and sets RANK, WORLD_SIZE and LOCAL_RANK; this
module joins them into one process group (NCCL on CUDA GPUs, gloo on CPU) and
DistributedDataParallel averages the gradients. Nothing here launches processes or
averages gradients by hand.

How a run stays one run:
- Every process builds the same models from the same seed (DDP also broadcasts rank
  0's weights when it wraps them), and every process draws the same global batch of
  the seeded stream and the same global noise, then keeps its own contiguous shard
  (``Shard``). The global batch is therefore a single-process run's batch, and the
  packs of PacGAN and the groups of the minibatch-std layer stay intact when the
  shard is a multiple of them. WGAN-GP's epsilon (``losses.gradient_penalty``) and
  dropout masks (``ShardedDropout``) are drawn the same way: for the global batch,
  then sharded.
- Only rank 0 touches the run directory: status, metrics, samples, checkpoints. The
  others get the config and the resume state from it over the process group, so on
  several machines the run directory need only exist on rank 0's.
- A stop (the STOP file, Ctrl-C, SIGTERM from torchrun) on any rank is agreed on at
  the next step (one tiny all-reduce), so all ranks stop after the same step and
  rank 0 checkpoints it.

Batch norm: CUDA runs convert it to ``SyncBatchNorm`` (statistics of the global
batch, as one process computes them). PyTorch's SyncBatchNorm runs on GPUs only, so
on CPU each process normalises its own shard and a CPU multi-process run of a
batch-norm model is not the single-process run, only a run like it (README).
"""

from __future__ import annotations

import datetime
import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .errors import ConfigError


@dataclass(frozen=True)
class Ranks:
    """Where this process sits: rank ``rank`` of ``world`` (``local`` on its machine)."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        """Rank 0, the one that writes the run directory."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


SINGLE = Ranks()


def from_environment(env=os.environ) -> Ranks:
    """The ranks torchrun describes in the environment (a single process without it)."""
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ConfigError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers; start several processes with torchrun.") from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK {rank} is outside WORLD_SIZE {world}; start several processes with torchrun.")
    return Ranks(rank, world, local)


def backend_for(device_name: str) -> str:
    """NCCL between CUDA GPUs, gloo otherwise (CPU, or a machine without CUDA)."""
    wants_cpu = device_name == "cpu" or device_name.startswith("mps")
    return "nccl" if torch.cuda.is_available() and not wants_cpu and dist.is_nccl_available() else "gloo"


def setup(device_name: str = "auto", env=os.environ) -> Ranks:
    """Join torchrun's process group; a no-op (``SINGLE``) for a plain single process."""
    ranks = from_environment(env)
    if not ranks.active or dist.is_initialized():
        return ranks
    backend = backend_for(device_name)
    if backend == "nccl":
        torch.cuda.set_device(ranks.local)  # before the group, so NCCL and object broadcasts use this GPU
    # A generous timeout: rank 0 writes checkpoints and sample grids while the others wait.
    dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return ranks


def teardown(synchronise: bool = False) -> None:
    """Leave the process group. ``synchronise``, after a run every process finished:
    first wait for the others (a barrier), so that no process destroys its group while
    another still uses it for the run's last steps and files. (Without it, a CI run of
    2026-12-07 saw gloo abort a finished process at exit, "terminate called without an
    active exception", though every step had been trained and written.)"""
    if dist.is_available() and dist.is_initialized():
        if synchronise:
            try:
                dist.barrier()
            except Exception:  # another process died: there is no one left to wait for
                pass
        dist.destroy_process_group()


def device_for(ranks: Ranks, device: torch.device) -> torch.device:
    """Each process of a CUDA run takes the GPU of its local rank (torchrun's
    convention); CPU runs share the CPU."""
    if ranks.active and device.type == "cuda":
        return torch.device("cuda", ranks.local)
    if ranks.active and device.type == "mps":
        raise ConfigError("Apple MPS cannot join a multi-process run; use --device cpu with torchrun, or train in one process.")
    return device


def check_batch(ranks: Ranks, batch_size: int, multiple_of: int = 1) -> int:
    """The batch of each process: the global --batch-size split evenly, refused if it
    does not split, or if a shard would break PacGAN's packs or minibatch-std's groups."""
    if batch_size % ranks.world:
        raise ConfigError(f"--batch-size {batch_size} does not split evenly over {ranks.world} processes; "
                          f"use a multiple of {ranks.world}.")
    local = batch_size // ranks.world
    if multiple_of > 1 and local % multiple_of:
        raise ConfigError(f"Each of the {ranks.world} processes gets {local} of the {batch_size} items in a batch, "
                          f"which is not a multiple of {multiple_of}; use a --batch-size that is a multiple of {ranks.world * multiple_of}.")
    return local


def shard(tensor: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This process's contiguous share of a global batch (all of it in one process)."""
    if not ranks.active:
        return tensor
    n = len(tensor) // ranks.world
    return tensor[ranks.rank * n:(ranks.rank + 1) * n]


class ShardedDropout(nn.Module):
    """``nn.Dropout`` for one process's shard of a global batch: the mask is drawn for the
    global batch (with the RNG state every process shares) and this process keeps its
    rows, as the noise is. Every process runs the same draw, so the RNG streams stay
    those of a single process, and the shards' masks are the single process's masks
    for those items, not one shard's mask repeated on every process."""

    def __init__(self, p: float, shard: tuple[int, int]):
        super().__init__()
        self.p, self.shard = p, shard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        rank, world = self.shard
        n = x.shape[0]
        # F.dropout of ones: the same kernel and draws as nn.Dropout on a global batch of this shape.
        mask = nn.functional.dropout(torch.ones((n * world, *x.shape[1:]), device=x.device, dtype=x.dtype), self.p, True)
        return x * mask[rank * n:(rank + 1) * n]

    def extra_repr(self) -> str:
        return f"p={self.p}, shard={self.shard}"


def shard_dropout(module: nn.Module, ranks: Ranks) -> nn.Module:
    """Replace every ``nn.Dropout`` inside ``module`` with a ``ShardedDropout`` for this
    process (in place; dropout holds no weights, so checkpoints are unchanged)."""
    for name, child in module.named_children():
        if type(child) is nn.Dropout:
            setattr(module, name, ShardedDropout(child.p, (ranks.rank, ranks.world)))
        else:
            shard_dropout(child, ranks)
    return module


def wrap(module: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``module`` (SyncBatchNorm first on CUDA, dropout
    drawn for the global batch: ``ShardedDropout``); the module itself in one process.
    Use ``unwrap`` for its weights."""
    if not ranks.active:
        return module
    shard_dropout(module, ranks)
    if device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    # A weight with one input channel (pix2pix's grey source) has two valid stride
    # layouts; DDP's warning about it is about speed, not correctness.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def broadcast(obj, ranks: Ranks):
    """Rank 0's ``obj`` on every rank (any picklable object, tensors included)."""
    if not ranks.active:
        return obj
    box = [obj if ranks.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, ranks: Ranks) -> bool:
    """True on every rank if it is True on any (a stop, a diverged loss)."""
    if not ranks.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(values: dict[str, torch.Tensor], ranks: Ranks) -> dict[str, torch.Tensor]:
    """The mean of each logged scalar over the ranks: with equal shards, the value of
    the global batch (one all-reduce, at log steps only)."""
    if not ranks.active or not values:
        return values
    names = list(values)
    stacked = torch.stack([torch.as_tensor(values[k], dtype=torch.float64).detach().cpu().reshape(()) for k in names])
    stacked = stacked.to(_collective_device())
    dist.all_reduce(stacked)
    stacked = (stacked / ranks.world).cpu()
    return {k: stacked[i] for i, k in enumerate(names)}


def replica_spread(modules: list[nn.Module], ranks: Ranks) -> float:
    """How far apart the processes' weights are: the largest difference between the
    ranks' float64 checksums of every parameter (0.0 when the replicas are identical,
    as DDP promises). One all-gather, at log steps only."""
    if not ranks.active:
        return 0.0
    params = [p.detach() for m in modules for p in unwrap(m).parameters()]
    local = torch.stack([torch.stack([p.double().sum(), p.double().abs().sum()]) for p in params]).flatten().to(_collective_device())
    gathered = [torch.empty_like(local) for _ in range(ranks.world)]
    dist.all_gather(gathered, local)
    stacked = torch.stack(gathered)
    return float((stacked.max(0).values - stacked.min(0).values).abs().max())


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")

