"""How long a run will take, said before it starts: steps x seconds per step, plus
the worker's start.

Seconds per step are measured, never guessed from a table: first from past runs
of the same shape on this machine (recipe, data, image size, batch, k, model, device:
everything that decides a step's cost; the slope of their logged wall time, so
sample grids and checkpoints are included), else by timing a few steps of the
real trainer now, on the data itself for built-in sets or on built-in images of
the same size for data read from disk (loading a large folder only to time it
would cost more than the estimate is worth).

The timing never runs in the caller's process: the dashboard's server is shared by
every visitor, and a form value (batch 4,096 at 128 px) would otherwise allocate
gigabytes there. A worker process (``python -m gan_core.estimate``) times the steps
under a memory limit (``RLIMIT_DATA``: PyTorch's allocator then fails cleanly
instead of the kernel killing someone) and a wall-clock limit, and answers in JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Config, DataKind
from .data.base import SOURCES
from .errors import ConfigError, GanError
from .jobs import active_runs, worker_env
from .recipes import RECIPES, resolve
from .runs import RunState, list_runs, read_config, read_metrics, read_metrics_thinned, read_status
from .settings import demo_mode

# A background run's worker imports PyTorch and loads its data before the first
# step: about 5 s on the build machine (docs/BENCHMARKS.md, "first live sample grid").
STARTUP_S = 5.0
TIMING_STEPS = {DataKind.IMAGE: 12, DataKind.VECTOR: 40}  # at most this many steps are timed (2-D steps are fast and noisy)
TIMING_BUDGET_S = 2.0  # ... and no more once this long has passed, so a slow recipe is timed in seconds too
WARMUP = 1  # the first step (allocations, caches) is left out of the slope, unless it is all there is
PAST_RUNS = 5  # the newest matching runs consulted
MIN_STEPS_SPAN = 20  # a past run must have logged over at least this many steps
# The timing worker's limits. Importing PyTorch and the engine takes about 0.9 GB of
# the data segment on its own (measured: 800 MB is too little to import, 1,200 MB
# runs the default dcgan timing); 1.5 GB leaves room for any run the server could
# train, and refuses the form values that would need gigabytes per step.
TIMING_MEMORY_BYTES = 1536 * 2**20
# Start-up (about 3-5 s on a busy 2-core machine) plus TIMING_BUDGET_S of steps, with
# room for a slow first step; a worker still busy after this is stopped.
TIMING_TIMEOUT_S = 120.0
_OUT_OF_MEMORY = ("can't allocate", "not enough memory", "out of memory", "DefaultCPUAllocator")


@dataclass(frozen=True)
class Estimate:
    seconds: float  # the whole run, start-up included
    per_step: float
    steps: int
    basis: str  # where per_step comes from, for the caption

    def text(self) -> str:
        return about(self.seconds)

    def detail(self) -> str:
        return f"{self.steps:,} steps × {self.per_step:.3g} s per step, {self.basis}, plus about {STARTUP_S:.0f} s to start"

    def stopped_near(self, time_limit_s: float | None) -> int | None:
        """The step near which a worker that trains at most ``time_limit_s`` at a time
        (``Settings.max_run_s``) stops this run, or None when it finishes first."""
        if time_limit_s is None or self.per_step <= 0 or self.per_step * self.steps <= time_limit_s:
            return None
        return max(1, int(time_limit_s / self.per_step))  # a stretch trains at least one step


def about(seconds: float) -> str:
    """"about 40 s", "about 1 min", "about 12 min", "about 2 h 10 min"."""
    if seconds < 50:
        return f"about {max(5, int(round(seconds / 5.0)) * 5)} s"
    minutes = int(round(seconds / 60.0))
    if minutes < 120:
        return f"about {max(1, minutes)} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


def signature(cfg: Config) -> tuple:
    """What decides the cost of one step of a resolved config."""
    d, m, lo, t = cfg.data, cfg.model, cfg.loss, cfg.train
    return (cfg.recipe, d.name, d.image_size if SOURCES.get(d.name).kind == DataKind.IMAGE else None, d.channels, d.pairs,
            m.arch, m.width, m.z_dim, t.batch_size, lo.d_steps, lo.d_update, lo.gan_weight, _device(t.device))


def _device(name: str) -> str:
    from .training import choose_device

    try:
        return choose_device(name).type
    except Exception:  # noqa: BLE001 - an unknown device is the config check's to report
        return name


def per_step_from_runs(cfg: Config, runs_dir: str | Path) -> tuple[float, int] | None:
    """(median seconds per step, runs used) over the newest past runs with the same
    signature, or None. Each run's rate is the slope of its logged wall time from its
    first to its last row, which leaves its start-up out."""
    want = signature(cfg)
    rates = []
    for info in list_runs(runs_dir):
        if len(rates) >= PAST_RUNS:
            break
        try:
            theirs = signature(read_config(info.path))
        except Exception:  # noqa: BLE001 - a broken or foreign run simply does not count
            continue
        device = read_status(info.path).get("device")  # where it really trained ("auto" may have meant a GPU)
        if isinstance(device, str) and device:
            theirs = theirs[:-1] + (device.split(":")[0],)
        if theirs != want:
            continue
        rows = [r for r in read_metrics_thinned(info.path) if isinstance(r.get("elapsed"), (int, float))]  # first and last kept
        if len(rows) < 2 or rows[-1]["step"] - rows[0]["step"] < MIN_STEPS_SPAN:
            continue
        rate = (rows[-1]["elapsed"] - rows[0]["elapsed"]) / (rows[-1]["step"] - rows[0]["step"])
        if rate > 0 and math.isfinite(rate):
            rates.append(rate)
    return (statistics.median(rates), len(rates)) if rates else None


def _timing_config(cfg: Config) -> tuple[Config, str]:
    """The config timed: ``cfg`` itself, short, for built-in data; for data read from
    disk, built-in images of the same shape (and labels, or pairs, if it needs them)."""
    source = SOURCES.get(cfg.data.name)
    short = {"train.steps": TIMING_STEPS[source.kind], "train.log_every": 1, "train.sample_every": 10**6,
             "train.checkpoint_every": 10**6, "train.n_samples": 4}
    if source.kind == DataKind.VECTOR:
        short["data.n_points"] = min(cfg.data.n_points, 4096)
    if source.builtin or source.kind == DataKind.VECTOR:
        return cfg.replace(**short), "timed just now on this machine"
    recipe = RECIPES.get(cfg.recipe)
    if recipe.conditional:
        stand_in = {"data.name": "mnist-5k", "data.channels": cfg.data.channels or 1, "data.attributes": None}
    else:
        stand_in = {"data.name": "photos", "data.channels": cfg.data.channels or 3}
    if recipe.paired:
        stand_in.update({"data.pairs": cfg.data.pairs or "blur", "data.direction": "AtoB", "data.channels": 3})
    stand_in.update({"data.path": None, "data.split": "train", "data.limit": None})
    return cfg.replace(**stand_in, **short), f"timed just now on built-in images of the same size ({stand_in['data.name']})"


def time_per_step(cfg: Config) -> tuple[float, str]:
    """(seconds per step, basis) from a few steps of the real trainer, timed by
    ``measure_step`` in a worker process with TIMING_MEMORY_BYTES and
    TIMING_TIMEOUT_S. Raises a ``GanError`` in one sentence for a config the trainer
    refuses, one that needs more memory than that, or a worker that ran out of time."""
    env = worker_env()  # as a training worker's: never joins a torchrun job, finds gan_core without an install
    try:
        proc = subprocess.run([sys.executable, "-m", "gan_core.estimate"], input=json.dumps(cfg.to_dict()),
                              capture_output=True, text=True, timeout=TIMING_TIMEOUT_S, env=env,
                              # On a GPU the limit would count the CUDA driver's own host memory, not
                              # the run's: there its out-of-memory error is the limit.
                              preexec_fn=_limit_memory if _device(cfg.train.device) == "cpu" else None)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"Timing a few steps of this run took over {TIMING_TIMEOUT_S:.0f} s, so it would be very slow "
                          "here; lower the batch size, the image size or the width.") from None
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        # Killed from outside, or crashed before it could answer (its stderr has the reason).
        raise RuntimeError(f"the timing worker ended with code {proc.returncode}: {proc.stderr.strip()[-300:]}") from None
    if "per_step" in answer:
        return float(answer["per_step"]), str(answer["basis"])
    if answer.get("memory"):
        raise ConfigError(f"One step of this run needs more than the {TIMING_MEMORY_BYTES // 2**20:,} MB this server "
                          "lets a run be timed with; lower the batch size, the image size or the width.")
    if answer.get("refused"):
        raise ConfigError(answer["refused"])
    raise RuntimeError(answer.get("error") or "the timing worker gave no answer")


def _limit_memory() -> None:  # runs in the worker, between fork and exec
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (TIMING_MEMORY_BYTES, TIMING_MEMORY_BYTES))


def _worker() -> int:
    """``python -m gan_core.estimate``: a config as JSON on stdin, one JSON line out:
    {"per_step", "basis"}, {"memory": true}, {"refused": sentence} or {"error": text}."""
    try:
        answer = dict(zip(("per_step", "basis"), measure_step(Config.from_dict(json.loads(sys.stdin.read())))))
    except GanError as e:
        answer = {"refused": str(e)}
    except MemoryError:
        answer = {"memory": True}
    except Exception as e:  # noqa: BLE001 - reported to the caller, which words it
        message = f"{type(e).__name__}: {e}"
        answer = {"memory": True} if any(s in message for s in _OUT_OF_MEMORY) else {"error": message[:500]}
    print(json.dumps(answer), flush=True)
    return 0


def measure_step(cfg: Config) -> tuple[float, str]:
    """(seconds per step, basis) from a few steps of the real trainer in a temporary
    run directory, in this process: ``time_per_step``'s worker runs it. Raises what
    the trainer raises for a config it cannot run."""
    from .runs import create_run
    from .training import train

    timing, basis = _timing_config(cfg)
    timing = resolve(timing)
    with tempfile.TemporaryDirectory(prefix="gan-timing-") as tmp:
        run_dir = create_run(timing, tmp)
        started: list[float] = []

        def enough() -> bool:  # polled before each step
            started.append(time.perf_counter())
            done, spent = len(started) - 1, started[-1] - started[0]
            # Two steps give one step after the warm-up; a step slower than the whole budget is timed alone.
            return (done >= WARMUP + 1 and spent > TIMING_BUDGET_S) or (done >= 1 and spent > 3 * TIMING_BUDGET_S)

        status = train(timing, run_dir, should_stop=enough)
        if status.get("state") not in (RunState.FINISHED, RunState.STOPPED):
            raise RuntimeError(status.get("error") or f"the timing run ended {status.get('state')}")
        rows = read_metrics(run_dir)[0]
    last = rows[-1]
    first = next((r for r in rows if r["step"] >= WARMUP), rows[0])  # the slope from the end of the warm-up
    if last["step"] == first["step"]:
        return max(last["elapsed"] / max(1, last["step"]), 1e-6), basis
    return max((last["elapsed"] - first["elapsed"]) / (last["step"] - first["step"]), 1e-6), basis


TIMING_LOCK = ".timing.lock"  # in the runs folder: held while a demo server times a config


@contextlib.contextmanager
def _one_timing(runs_dir: Path):
    """Hold the demo server's one timing slot, or refuse in one sentence when another
    visitor's settings are being timed: each timing is a worker as large as a run (three
    visitors changing settings at once started workers of 2.9 GB together)."""
    import fcntl

    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / TIMING_LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError("Another visitor's settings are being timed on this shared demo server (one at a time); "
                              "change a setting again in a few seconds for your estimate.") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def estimate(cfg: Config, runs_dir: str | Path | None = None, timer=None) -> Estimate:
    """The expected duration of ``cfg``: from past runs like it in ``runs_dir`` if
    any, else from ``timer(resolved cfg)`` (default ``time_per_step``; the dashboard
    passes a cached one), which returns (seconds per step, basis)."""
    cfg = resolve(cfg)
    past = per_step_from_runs(cfg, runs_dir) if runs_dir is not None else None
    if past is not None:
        per_step, n = past
        basis = f"measured on {n} past run{'s' if n > 1 else ''} like it here"
    else:
        if runs_dir is not None and demo_mode():
            if active_runs(runs_dir):
                # A demo server plans memory for itself and one worker (docs/DEPLOY.md); timing is a second one.
                raise ConfigError("Not timed while a run trains on this shared demo server (timing takes a process as "
                                  "large as a run's); the estimate comes once that run ends.")
            with _one_timing(Path(runs_dir)):  # and one timing at a time, whoever asks
                per_step, basis = (timer or time_per_step)(cfg)
        else:
            per_step, basis = (timer or time_per_step)(cfg)
    return Estimate(STARTUP_S + per_step * cfg.train.steps, per_step, cfg.train.steps, basis)


__all__ = ["Estimate", "about", "signature", "per_step_from_runs", "time_per_step", "measure_step", "estimate", "STARTUP_S"]


if __name__ == "__main__":
    sys.exit(_worker())
