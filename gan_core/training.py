"""The training loop: ``train(config, run_dir, should_stop, on_progress)``.

It knows nothing of its caller (command line, dashboard worker, a test): it reads
a config, writes the run directory of ``runs.py`` and returns the final status.
Bookkeeping (metrics, status, samples, checkpoints) happens only every
``log_every`` / ``sample_every`` / ``checkpoint_every`` steps, so between them the
loop costs what a plain PyTorch loop costs (docs/BENCHMARKS.md measures it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import time
from collections import deque
from pathlib import Path
from typing import Callable

import torch

from . import augment, checkpoints, distributed, timefmt
from .config import Config, DataKind
from .data import batch_stream, load_data
from .data.toy import mode_centres
from .distributed import SINGLE, Ranks
from .errors import ConfigError, GanError, RunError
from .health import HISTORY, diagnose, to_status
from .modes import N_SAMPLES, coverage_for
from .recipes import RECIPES, as_trained, batch_multiple, make_optimizer, resolve
from .runs import (RunState, read_config, read_metrics, remove_orphaned_temp_files, truncate_metrics, worker_identity,
                   write_status)
from .sample_stats import reference_batch, reference_labels, sample_stats
from .samples import save_samples


def available_devices() -> list[tuple[str, str]]:
    """(device id, label) of every device this machine can train on, best first."""
    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"CUDA {i}: {torch.cuda.get_device_name(i)}"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append(("mps", "Apple MPS"))
    out.append(("cpu", f"CPU ({os.cpu_count()} cores)"))
    return out


def choose_device(name: str = "auto") -> torch.device:
    """auto = CUDA, then Apple MPS, then CPU; an explicit choice is checked."""
    if name == "auto":
        return torch.device(available_devices()[0][0])
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"Unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"Device {name!r} was requested but this machine has no such CUDA GPU; use --device auto or cpu.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("Device 'mps' was requested but Apple MPS is not available here; use --device auto or cpu.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"Unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps.")
    return device


def amp_dtype_for(capability: tuple[int, int], native_bf16: bool = True) -> torch.dtype:
    """bfloat16 on GPUs that compute it natively (compute capability 8.0 and up: A100,
    RTX 30xx and later), else float16 with loss scaling. T4 (7.5) and V100 (7.0) only
    emulate bfloat16, slowly, though ``torch.cuda.is_bf16_supported()`` says True there."""
    return torch.bfloat16 if native_bf16 and tuple(capability) >= (8, 0) else torch.float16


def cuda_amp_dtype(device: torch.device) -> torch.dtype:
    """``amp_dtype_for`` the chosen GPU, not whichever GPU is current."""
    capability = torch.cuda.get_device_capability(device)
    with torch.cuda.device(device):  # is_bf16_supported asks the current GPU
        try:
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # PyTorch before 2.3 has no such argument: the capability decides
            native = True
    return amp_dtype_for(capability, native)


def mixed_precision(device: torch.device, amp: bool) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether losses are scaled) of a run on ``device``:
    mixed precision on CUDA only; loss scaling with float16 only."""
    if not amp or device.type != "cuda":
        return None, False
    dtype = cuda_amp_dtype(device)
    return dtype, dtype == torch.float16


CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")  # the two workspace settings NVIDIA documents as deterministic


@contextlib.contextmanager
def deterministic_mode(on: bool):
    """--deterministic: cuDNN's deterministic algorithms without autotuning, every op
    with a nondeterministic CUDA kernel switched to a deterministic one (or an error
    naming it), and the fixed cuBLAS workspace that makes matrix products repeatable.
    PyTorch reads CUBLAS_WORKSPACE_CONFIG when it first uses cuBLAS, so ``train``
    enters this before touching the GPU. The switches are process-wide: put back on exit."""
    if not on:
        yield
        return
    cudnn = torch.backends.cudnn
    before = (cudnn.deterministic, cudnn.benchmark, torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    if before[4] not in CUBLAS_DETERMINISTIC:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_DETERMINISTIC[0]
    cudnn.deterministic, cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = before[0], before[1]
        torch.use_deterministic_algorithms(before[2], warn_only=before[3])
        if before[4] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = before[4]


def _grad_norm(module: torch.nn.Module) -> torch.Tensor:
    return torch.nn.utils.get_total_norm([p.grad for p in module.parameters() if p.grad is not None])


class Diverged(Exception):
    pass


def train(
    cfg: Config,
    run_dir: str | Path,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int, dict | None], None] | None = None,
    ranks: Ranks = SINGLE,
    time_limit_s: float | None = None,
    clear_stop: bool = False,
) -> dict:
    """Train (or continue, if the run has a checkpoint) and return the final status.

    ``should_stop()`` is polled once per step, as is the run's STOP file;
    ``on_progress(step, total, metrics_row_or_None)`` is called after every step.
    ``time_limit_s``: stop, checkpointed and resumable as a Stop is, once this
    call has trained this long (a server's ``Settings.max_run_s``, which its workers pass).
    A STOP already there (pressed while the run was queued) stops it before it starts,
    unless ``clear_stop`` (a person's own ``train --resume``, which overrides an old Stop;
    removed only once this process holds the run, never under another trainer).
    Under torchrun every process calls this with its ``ranks`` (distributed.py); only
    rank 0 reads or writes ``run_dir``.
    """
    run_dir = Path(run_dir)
    with _trainer_of(run_dir, ranks, should_stop):
        if clear_stop and ranks.main:
            try:
                (run_dir / "STOP").unlink(missing_ok=True)
            except OSError as e:
                raise RunError(f"Run {run_dir.name}'s folder cannot be written ({e.strerror}), and training writes its "
                               "checkpoints there; make it writable, or copy the run to a folder you can write.") from None
        return _train_held(cfg, run_dir, should_stop, on_progress, ranks, time_limit_s)


TRAINER_LOCK = ".trainer.lock"  # in a run directory: held by the process training it, released by the kernel when it dies
# A trainer that has just written "stopped" may still be exiting when Resume starts the next one:
# the lock is waited for this long before another process is taken to be training the run.
TRAINER_WAIT_S = 15.0


def _open_lock(path: Path) -> int | None:
    """A descriptor to lock ``path`` with, never through a link: read-write (to record the
    holder's pid), else read-only (flock needs no more; a lock file another user owns);
    None where the folder cannot hold one (read-only, gone), which fails later with its own sentence."""
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise RunError(f"{path.parent.name}/{TRAINER_LOCK} is a symbolic link, which this run's trainer does not "
                               "follow; remove it, then resume.") from None
    return None


@contextlib.contextmanager
def _trainer_of(run_dir: Path, ranks: Ranks, should_stop=None):
    """Hold the run's trainer lock (rank 0) while this process trains it: a second
    ``train --resume`` of a run another process is training (a shell's, the dashboard's
    worker) waits for it, then is refused in one sentence before it reads or writes anything.
    The holder's pid is written into the lock file, so the refusal names the right process."""
    fd, refusal = None, None
    if ranks.main:
        fd = _open_lock(run_dir / TRAINER_LOCK)
        deadline = time.monotonic() + TRAINER_WAIT_S
        while fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if should_stop is not None and should_stop():
                    os.close(fd)
                    raise KeyboardInterrupt from None  # Ctrl-C while waiting: nothing of the run was touched
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                try:
                    pid = int(os.pread(fd, 32, 0).decode().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                by = f" (pid {pid})" if pid > 0 else ""
                refusal = (f"Run {run_dir.name} is being trained by another process{by}; stop that one, or wait for it to "
                           "finish, before resuming it.")
                break
            except OSError:
                break  # a file system without locks: train as before
        if fd is not None and refusal is None:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:
                pass  # a read-only descriptor: the lock holds, the pid is not said
    refusal = distributed.broadcast(refusal, ranks)
    if refusal:
        if fd is not None:
            os.close(fd)
        raise RunError(refusal)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _train_held(cfg: Config, run_dir: Path, should_stop, on_progress, ranks: Ranks, time_limit_s: float | None) -> dict:
    stop_file = run_dir / "STOP"
    if distributed.broadcast(ranks.main and stop_file.exists(), ranks):
        return _stopped_before_start(run_dir) if ranks.main else {"state": RunState.STOPPED, "step": 0}
    try:
        if ranks.main:
            remove_orphaned_temp_files(run_dir)  # left by a worker killed mid-write; this one now owns the run
            write_status(run_dir, state=RunState.RUNNING, **worker_identity(os.getpid()), error=None, message=None,
                         stopped_after_s=None)
        with deterministic_mode(cfg.train.deterministic):
            return _train(resolve(cfg), run_dir, should_stop or (lambda: False), on_progress, ranks, time_limit_s)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # recorded for the dashboard, then re-raised for the log
        if isinstance(e, OSError):
            # Disk full, permissions, a vanished folder: the user's to fix, so one sentence, no traceback.
            where = f" {e.filename}" if e.filename else ""
            msg = f"Training stopped on a file error ({e.strerror or e}{where}); free disk space or fix the permissions, then resume."
        elif _out_of_memory(e):
            from .settings import worker_memory_mb

            cap = worker_memory_mb()
            msg = ("This run needs more memory than this machine" + (f" lets a run use ({cap:,} MB)" if cap else " has")
                   + "; lower the batch size, the image size or the width, then start it again.")
        else:
            msg = str(e) if isinstance(e, GanError) else f"Training crashed ({type(e).__name__}: {e}); see train.log for the details."
        try:
            if ranks.main:
                write_status(run_dir, state=RunState.FAILED, error=msg, eta=None)
        except OSError:
            pass  # the disk is still full: the dead worker's pid makes the run read as interrupted
        if isinstance(e, OSError):
            raise RunError(msg) from e
        raise


def _out_of_memory(e: BaseException) -> bool:
    """PyTorch's allocator out of memory (past the worker's RLIMIT_DATA, or the machine's)."""
    text = f"{type(e).__name__}: {e}"
    return isinstance(e, MemoryError) or any(s in text for s in ("can't allocate memory", "DefaultCPUAllocator", "out of memory"))


def _stopped_before_start(run_dir: Path) -> dict:
    """Honour a Stop pressed while the run waited for its worker: nothing trained."""
    resumable = (run_dir / "checkpoints" / checkpoints.STATE).exists()
    where = "resume continues from its last checkpoint" if resumable else "resume trains it from the start"
    status = write_status(run_dir, state=RunState.STOPPED, eta=None, error=None, message=f"Stopped before it started; {where}.",
                          stopped_after_s=None)
    (run_dir / "STOP").unlink(missing_ok=True)  # acted on
    return status


def resume(run_dir: str | Path, should_stop=None, on_progress=None, time_limit_s: float | None = None) -> dict:
    """Continue a run from its last checkpoint (or from the start if it has none).
    A pending STOP is honoured, never cleared here: whoever resumes on purpose (the
    Resume button, a person typing --resume) clears it first."""
    run_dir = Path(run_dir)
    cfg = as_trained(read_config(run_dir))
    return train(cfg, run_dir, should_stop, on_progress, time_limit_s=time_limit_s)


def k_images(cfg: Config) -> int:
    """Real images D sees per generator step (ADA's adjustment speed counts them)."""
    return cfg.train.batch_size * cfg.loss.d_steps


def _augmenter(cfg: Config, data, state: dict | None, ranks: Ranks, images_per_step: int) -> tuple[augment.Augmenter | None, str | None]:
    """The run's augmentation (``--augment``; unset: ``augment.default_mode`` of the data's
    size) and the sentence saying why it is on when the user did not choose it. A
    resumed run keeps the mode and p its checkpoint holds; one checkpointed before
    augmentation existed goes on without it unless ``--augment`` asks."""
    saved = (state or {}).get("augment")
    if saved is not None:
        mode = saved["mode"]
    elif data.kind != DataKind.IMAGE:
        mode = "none"
    elif state is not None:
        mode = cfg.train.augment or "none"
    else:
        mode = cfg.train.augment or augment.default_mode(len(data))
    if mode == "none":
        return None, None
    # Its own generator, so the augmentation never moves the training RNG; the same in every
    # process, each keeping its shard of the global batch's parameters.
    augmenter = augment.Augmenter(mode, seed=cfg.train.seed * 1009 + 7919, images_per_step=images_per_step,
                                  shard=(ranks.rank, ranks.world))
    if saved is not None:
        augmenter.load_state_dict(saved)
    return augmenter, augment.why(mode, len(data), cfg.train.augment is not None) if state is None else None


def _train(cfg: Config, run_dir: Path, should_stop, on_progress, ranks: Ranks, time_limit_s: float | None = None) -> dict:
    t = cfg.train
    main = ranks.main  # rank 0 (the only process of a plain run) writes the run directory
    device = distributed.device_for(ranks, choose_device(t.device))
    distributed.check_batch(ranks, t.batch_size, batch_multiple(cfg))
    recipe = RECIPES.get(cfg.recipe)
    data = load_data(cfg.data)
    info = data.info()
    data_note = f"Skipped {data.skipped} unreadable file(s) in the data." if data.skipped else None
    if data_note and main:
        write_status(run_dir, message=data_note)

    torch.manual_seed(t.seed)
    G, D = recipe.build(cfg, info)
    G, D = G.to(device), D.to(device)
    objective = recipe.objective(cfg, info)
    objective.shard = (ranks.rank, ranks.world)
    opt_g = make_optimizer(cfg, G.parameters(), cfg.optim.lr_g)
    opt_d = make_optimizer(cfg, D.parameters(), cfg.optim.lr_d)

    # Mixed precision on CUDA only: bfloat16 where the GPU computes it natively (no loss
    # scaling needed), else float16 with one gradient scaler per optimiser.
    amp_dtype, scale = mixed_precision(device, t.amp)
    scaler_d = torch.amp.GradScaler(device.type, enabled=scale)
    scaler_g = torch.amp.GradScaler(device.type, enabled=scale)
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype is not None else contextlib.nullcontext

    ckpt_dir = run_dir / "checkpoints"
    if main:
        ckpt_dir.mkdir(exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
    # Rank 0 reads the resume state and hands it to the others (a checkpoint of a
    # single-process run resumes in several, and the other way round).
    state = distributed.broadcast(checkpoints.load_state(ckpt_dir) if main else None, ranks)
    start, position, elapsed0 = 0, 0, 0.0
    if state is not None:
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["optim_g"])
        opt_d.load_state_dict(state["optim_d"])
        checkpoints.restore_scaler(scaler_g, state.get("scaler_g"))
        checkpoints.restore_scaler(scaler_d, state.get("scaler_d"))
        checkpoints.restore_rng(state, device)
        start, position, elapsed0 = state["step"], state["position"], state["elapsed"]
    augmenter, augment_note = _augmenter(cfg, data, state, ranks, images_per_step=k_images(cfg))
    if augment_note and main:
        data_note = " ".join(filter(None, [data_note, augment_note]))
        write_status(run_dir, message=data_note)
    if main:
        truncate_metrics(run_dir, start)  # drop rows logged after the checkpoint we resume from
    history = deque(read_metrics(run_dir)[0][-HISTORY:] if main else [], maxlen=HISTORY)  # the rows gan_core.health judges
    # After the weights are loaded: DDP starts every process from rank 0's.
    Gw, Dw = distributed.wrap(G, ranks, device), distributed.wrap(D, ranks, device)

    stream = batch_stream(data, t.batch_size, t.seed, device, start_batch=position, workers=cfg.data.workers,
                          shard=(ranks.rank, ranks.world))
    fixed = real_points = real_ref = grid_rows = real_labels = None
    if main:
        # Grids of real items (pix2pix's source | output | target) take them from the data.
        fixed = objective.fixed_inputs(t.n_samples, device, t.seed, **({"data": data} if objective.fixed_from_data else {}))
        if data.kind == DataKind.VECTOR:
            real_points = data.tensors["real"][:2000].numpy() if data.tensors is not None else None
        # Real items the fixed-noise samples are compared with (diversity, noise: sample_stats.py);
        # none for pix2pix, whose grid is source | output | target triplets.
        real_ref = None if objective.fixed_from_data else reference_batch(data, t.n_samples)
        # Conditional grids: each sample's class row (one y, z varying along it), for diversity
        # within classes, judged against the real items' own classes.
        grid_rows = torch.arange(len(fixed["cond"])) // fixed["nrow"] if "cond" in fixed else None
        real_labels = reference_labels(data, t.n_samples) if grid_rows is not None else None
    pending_stats: dict[str, float] = {}  # of the last grid, for the next metrics row
    # Point runs on a mixture (ring-8, grid-25, toy-1d) log their mode coverage (modes.py,
    # PacGAN's protocol) with each grid, on 2,500 samples of noise of their own: one
    # forward pass of a small MLP, a few milliseconds.
    mode_noise = None
    if main and data.kind == DataKind.VECTOR and mode_centres(cfg.data.name) is not None:
        mode_noise = objective.noise(N_SAMPLES, torch.device("cpu"), torch.Generator().manual_seed(t.seed + 54321)).to(device)

    k = cfg.loss.d_steps
    # What the objectives call D: the module itself, or (--augment) the module behind the augmentation.
    def D_seen(module):
        return module if augmenter is None else augment.AugmentedD(module, augmenter, recipe.paired)

    last_ckpt = start
    loss_d = loss_g = None
    t_start = time.perf_counter()
    t_tick, step_tick = t_start, start

    def elapsed() -> float:
        return elapsed0 + time.perf_counter() - t_start

    def check_finite(step: int) -> None:
        values = {name: float(loss.detach()) for name, loss in (("discriminator", loss_d), ("generator", loss_g)) if loss is not None}
        bad = [(name, v) for name, v in values.items() if not math.isfinite(v)]
        if distributed.any_rank(bool(bad), ranks):  # all processes stop together, whichever saw it
            name, value = bad[0] if bad else ("discriminator or generator", "non-finite in another process")
            raise Diverged(
                f"The {name} loss became {value} at step {step}; the last good checkpoint is from step {last_ckpt}. "
                "Lower the learning rates or try wgan-gp."
            )

    def save_checkpoint(step: int) -> None:
        nonlocal last_ckpt
        # The losses checked so far were computed before this step's updates; the
        # weights after them are what a checkpoint holds, so they are checked too.
        bad = checkpoints.non_finite({"generator": G, "discriminator": D})
        if bad is not None:
            raise Diverged(
                f"The weight {bad} became non-finite by step {step}; the last good checkpoint is from step {last_ckpt}. "
                "Lower the learning rates or try wgan-gp."
            )
        last_ckpt = step
        if not main:
            return
        resume_state = {
            "optim_g": opt_g.state_dict(),
            "optim_d": opt_d.state_dict(),
            "scaler_g": scaler_g.state_dict(),
            "scaler_d": scaler_d.state_dict(),
            **checkpoints.rng_state(device),
            "position": stream.position,
            "elapsed": elapsed(),
            "augment": augmenter.state_dict() if augmenter is not None else {"mode": "none"},
        }
        checkpoints.save(ckpt_dir, cfg, info, step, G, D, resume_state)

    def judge(error: str | None = None) -> list[dict]:
        """The run's health (gan_core.health) for status.json; a few milliseconds, so once per grid.
        ``error``: the Diverged message of a run that is stopping as diverged."""
        state = RunState.DIVERGED if error is not None else None
        return to_status(diagnose(list(history), cfg.recipe, data.kind, cfg, state=state, error=error))

    def generate_fixed() -> torch.Tensor:
        G.eval()
        fake = objective.generate(G, fixed)
        G.train()
        return fake

    def save_grid(step: int, fake: torch.Tensor | None = None) -> None:
        fake = generate_fixed() if fake is None else fake
        save_samples(fake, run_dir / "samples" / f"step_{step:07d}.png", real_points, f"step {step}", nrow=fixed.get("nrow"))

    stop_file = run_dir / "STOP"
    stopped_by_file = False
    step = start
    final = RunState.FINISHED
    message = data_note
    if main:
        where = f"{device} x {ranks.world} processes" if ranks.active else str(device)
        now = time.time()  # ``stops_by``: when this server's time limit ends the stretch, for the live view's ETA
        write_status(run_dir, state=RunState.RUNNING, step=start, total=t.steps, device=where, started=now,
                     stops_by=None if time_limit_s is None else now + time_limit_s)
    began = time.monotonic()
    out_of_time = lambda: time_limit_s is not None and time.monotonic() - began >= time_limit_s  # noqa: E731
    timed_out = False
    try:
        with open(run_dir / "metrics.jsonl", "a") if main else contextlib.nullcontext() as metrics:
            for step in range(start + 1, t.steps + 1):
                # The time is rank 0's alone (any_rank passes its stop on), so rank 0 knows why every process stopped.
                stop_now = should_stop() or (main and (stop_file.exists() or out_of_time()))
                if distributed.any_rank(stop_now, ranks):  # every process stops after the same step
                    step -= 1
                    final = RunState.STOPPED
                    stopped_by_file = main and stop_file.exists()
                    timed_out = main and not stopped_by_file and out_of_time()
                    break
                log_now = step % t.log_every == 0 or step == t.steps
                if recipe.lr_schedule is not None:  # a function of the step alone: a resumed run gets the same rates
                    factor = recipe.lr_schedule(step, t.steps)
                    for opt, lr in ((opt_g, cfg.optim.lr_g), (opt_d, cfg.optim.lr_d)):
                        for group in opt.param_groups:
                            group["lr"] = lr * factor

                # (1) Update D k times: maximise log D(x) + log(1 - D(G(z))) (or the critic's objective).
                # Gw and Dw are G and D, or their DistributedDataParallel wrappers under torchrun.
                D.requires_grad_(True)
                for i in range(k):
                    batch = stream.next()
                    loss_d, d_stats = 0.0, {}
                    # One optimiser step on real + fake, or (--d-update halves, the Keras article's)
                    # one on a real half-batch, then one on a fake half-batch; the losses add up.
                    for d_update in objective.d_updates(Gw, D_seen(Dw), batch):
                        with autocast():
                            loss, stats = d_update()
                        opt_d.zero_grad(set_to_none=True)
                        scaler_d.scale(loss).backward()
                        if log_now and i == k - 1:
                            scaler_d.unscale_(opt_d)
                            grad_norm_d = _grad_norm(D)  # of the last of the steps
                        scaler_d.step(opt_d)
                        scaler_d.update()
                        loss_d, d_stats = loss_d + loss.detach(), {**d_stats, **stats}
                    objective.after_d_step(D)
                    if augmenter is not None and "r_t" in d_stats:
                        augmenter.observe(d_stats["r_t"])

                # (2) Update G through a frozen D (the plain module: a frozen D has no gradients to average).
                D.requires_grad_(False)
                with autocast():
                    loss_g, g_stats = objective.g_loss(Gw, D_seen(D), batch)
                opt_g.zero_grad(set_to_none=True)
                scaler_g.scale(loss_g).backward()
                if log_now:
                    scaler_g.unscale_(opt_g)
                    grad_norm_g = _grad_norm(G)
                scaler_g.step(opt_g)
                scaler_g.update()
                if augmenter is not None and augmenter.due(step):
                    # ADA: p follows r_t over the last steps (the mean over the processes under torchrun).
                    augmenter.adjust(float(distributed.mean_over_ranks({"r_t": augmenter.mean_r_t()}, ranks)["r_t"]))

                sample_now = main and (step % t.sample_every == 0 or step == t.steps)
                fake_fixed = generate_fixed() if sample_now else None
                if sample_now and real_ref is not None:
                    pending_stats = sample_stats(fake_fixed, real_ref, grid_rows, real_labels)
                if sample_now and mode_noise is not None:
                    G.eval()
                    covered = coverage_for(cfg.data.name, objective.generate(G, {"z": mode_noise}))
                    G.train()
                    pending_stats.update(modes=covered.modes, total=covered.total, high_quality=covered.high_quality, reverse_kl=covered.reverse_kl)
                if log_now:
                    # Under torchrun: the means over the processes, i.e. over the global batch.
                    logged = distributed.mean_over_ranks({"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), **d_stats, **g_stats}, ranks)
                    loss_d, loss_g = logged["loss_d"], logged["loss_g"]
                    now = time.perf_counter()
                    ips = (step - step_tick) * t.batch_size * k / max(now - t_tick, 1e-9)
                    t_tick, step_tick = now, step
                    row = {"step": step, "time": time.time(), "elapsed": round(elapsed(), 3)}
                    row.update({name: float(v) for name, v in logged.items()})
                    if data.kind != DataKind.IMAGE:  # points are drawn afresh every step: no training set to memorise
                        row.pop("r_t", None)
                    row.update(grad_norm_d=float(grad_norm_d), grad_norm_g=float(grad_norm_g), images_per_s=round(ips, 1))
                    if ranks.active:  # 0.0: every process holds the same weights, as DDP promises
                        row.update(processes=ranks.world, replica_spread=distributed.replica_spread([G, D], ranks))
                    if recipe.lr_schedule is not None:
                        row["lr_g"] = opt_g.param_groups[0]["lr"]
                    if augmenter is not None:
                        row["augment_p"] = round(augmenter.p, 6)
                    row.update(pending_stats)
                    pending_stats = {}
                    if main:
                        metrics.write(json.dumps(row) + "\n")
                        metrics.flush()
                        history.append(row)
                        done = step - start
                        eta = (t.steps - step) * (time.perf_counter() - t_start) / done
                        write_status(run_dir, step=step, eta=round(eta, 1), images_per_s=row["images_per_s"], elapsed=row["elapsed"],
                                     **({"health": judge()} if sample_now else {}))
                    # After the row is written: a NaN or infinite loss is logged, so the diagnosis
                    # (gan_core.health) names it, then the run stops as diverged.
                    check_finite(step)
                if sample_now:
                    save_grid(step, fake_fixed)
                if step % t.checkpoint_every == 0 or step == t.steps:
                    check_finite(step)
                    save_checkpoint(step)
                if on_progress is not None:
                    on_progress(step, t.steps, row if log_now else None)
    except KeyboardInterrupt:
        # Interrupted mid-step (the command line turns the first Ctrl-C into a clean
        # stop, so this is a second one): the step is half done, so keep the last
        # checkpoint rather than save a state no uninterrupted run would have.
        if main:
            write_status(run_dir, state=RunState.STOPPED, step=last_ckpt, eta=None,
                         message=f"Interrupted; resume continues from step {last_ckpt}.")
        raise
    except Diverged as e:
        if main:
            write_status(run_dir, state=RunState.DIVERGED, error=str(e), eta=None, health=judge(str(e)))
        return {"state": RunState.DIVERGED, "step": step, "error": str(e)}

    if final == RunState.STOPPED:
        # A stop between steps: everything up to `step` is complete, so checkpoint it.
        if step > last_ckpt:
            try:
                check_finite(step)
                save_checkpoint(step)
                if main and step % t.sample_every:
                    save_grid(step)  # so the last grid shown is where the run stopped
            except Diverged as e:
                if main:
                    write_status(run_dir, state=RunState.DIVERGED, error=str(e), eta=None, health=judge(str(e)))
                return {"state": RunState.DIVERGED, "step": step, "error": str(e)}
        why = f" after {timefmt.duration(time_limit_s, short=True)} of training, this server's time for it at a stretch" if timed_out else ""
        message = " ".join(filter(None, [data_note, f"Stopped at step {step}{why}; resume continues from there."]))
    if not main:
        return {"state": final, "step": step, "message": message}
    remove_orphaned_temp_files(run_dir)  # a kill mid-write just before this worker started left them
    status = write_status(run_dir, state=final, step=step, eta=None if final != RunState.FINISHED else 0, message=message, health=judge(),
                          stopped_after_s=time_limit_s if timed_out else None)  # the Runs page says why it stopped
    if stopped_by_file:
        stop_file.unlink(missing_ok=True)  # acted on: the run is stopped and checkpointed
    return status
