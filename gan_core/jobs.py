"""Background runs: launch, stop, resume. A run is a separate process
(``python -m gan_core train --resume RUN_DIR``) writing its run directory, so it
outlives the dashboard script run, browser tab or even server that started it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from . import visitors
from .config import Config
from .errors import RunError
from .recipes import resolve
from .runs import RunInfo, create_run, list_runs, read_status, request_stop, worker_identity, write_status

_children: list[subprocess.Popen] = []  # kept so finished workers are reaped, not left as zombies


def active_runs(runs_dir: str | Path) -> list[RunInfo]:
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)
    return [r for r in list_runs(runs_dir) if r.active]


def _check_capacity(runs_dir: Path, max_active: int | None) -> int:
    """Refuse when the limit is reached; return how many runs are active."""
    n = len(active_runs(runs_dir))
    if max_active is not None and n >= max_active:
        raise RunError(f"{n} run(s) are already training or queued and the limit is {max_active}; wait for one to finish, or stop one of your own.")
    return n


def worker_env(active: int = 0) -> dict[str, str]:
    """The environment of a background training process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A dashboard started inside a torchrun job must not make its runs join that job's process group.
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    # Share the cores among concurrent runs: PyTorch gives every process one thread
    # per core, and oversubscribed OpenMP threads spin-wait (measured: tiny models
    # ran 12x slower on 2 busy cores). The first run gets every core.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // (max(0, active) + 1))))
    root = Path(__file__).resolve().parent.parent  # so `-m gan_core` works without an install
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


def _spawn(run_dir: Path, active: int = 0) -> None:
    env = worker_env(active)
    try:
        with open(run_dir / "train.log", "ab") as log:
            # --worker: this process only starts what was queued; a STOP pressed meanwhile is honoured.
            proc = subprocess.Popen(
                [sys.executable, "-m", "gan_core", "train", "--resume", str(run_dir), "--no-progress", "--worker"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # a Ctrl-C to the server does not kill its runs
            )
        _children.append(proc)
        write_status(run_dir, **worker_identity(proc.pid))
    except OSError as e:
        with contextlib.suppress(OSError):
            write_status(run_dir, state="failed", error=f"The worker process could not start ({e.strerror or e}).")
        raise RunError(f"Cannot start the training process for {run_dir.name} ({e.strerror or e}); check the runs folder "
                       "has free space and can be written.") from None


def launch(cfg: Config, runs_dir: str | Path, max_active: int | None = None, owner: str | None = None) -> Path:
    """Validate ``cfg``, create its run directory and start training it in the background.
    ``owner``: the demo visitor it belongs to (gan_core.visitors), recorded before it starts."""
    runs_dir = Path(runs_dir)
    cfg = resolve(cfg)  # a bad config fails here, before a run directory exists
    active = _check_capacity(runs_dir, max_active)
    run_dir = create_run(cfg, runs_dir)
    if owner is not None:
        visitors.write_owner(run_dir, owner)
    _spawn(run_dir, active)
    return run_dir


def stop(run_dir: str | Path) -> None:
    """Ask a run to stop at its next step; it checkpoints first."""
    request_stop(run_dir)


def resume(run_dir: str | Path, max_active: int | None = None) -> None:
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    state = status.get("state")
    if state == "unreadable":
        raise RunError(status["error"])
    if state in ("queued", "running"):
        raise RunError(f"Run {run_dir.name} is still {state}; stop it before resuming.")
    if state == "finished":
        raise RunError(f"Run {run_dir.name} has finished all its steps; start a new run to train longer.")
    active = _check_capacity(run_dir.parent, max_active)
    (run_dir / "STOP").unlink(missing_ok=True)
    write_status(run_dir, state="queued", error=None, message=None)
    _spawn(run_dir, active)
