"""Experiments: several runs launched together to answer one question, tagged so
the dashboard can show them together again later.

The optimiser comparison reproduces the Keras article's study: the same MLP GAN
(recipe ``gan``), data, seed and every other setting, trained once with SGD, once
with RMSProp and once with Adam. Only the optimiser and its learning rate differ:

    SGD      lr 0.01     Keras's default, which the article used (no momentum)
    RMSProp  lr 0.001    Keras's default, which the article used
    Adam     lr 0.0002   beta1 0.5: Radford et al.'s GAN setting and the gan recipe's
                         own; Keras's Adam default (0.001, beta1 0.9) is known to
                         make GAN training oscillate, and the article's point is
                         that Adam *tuned for GANs* is the one that works

Each optimiser keeps the step size it is normally used with, so the comparison asks
"which optimiser, used as people use it", not "which one at an arbitrary shared lr"
(a shared 0.01 would make Adam diverge; a shared 0.0002 would leave SGD standing still).

Every run of an experiment carries ``experiment.json`` (the run directory contract
allows extra files):

    {"id": ..., "kind": "optimizer-comparison", "label": ..., "variant": "sgd",
     "variant_label": "SGD, lr 0.01", "runs": [run ids, in order], "created": ...}

Launching respects the concurrency limit. With three free training slots the runs
train side by side (three ``jobs.launch``). With one or two free slots (the default
limit is 2) they are queued instead: one background worker trains them one after
another, so the comparison takes a single slot, and each run's wall-time curve is
measured with the same machine to itself. Runs waiting in the queue are "queued"
(and count as active) until the worker gets to them; a STOP on one of them makes
the worker skip it, and if the worker dies they show as "interrupted" and can be
resumed one by one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path

from . import jobs
from .config import Config
from .errors import RunError
from .recipes import resolve
from .runs import atomic_write_json, create_run, list_runs, read_status, worker_identity, write_status

EXPERIMENT_FILE = "experiment.json"
KIND_OPTIMIZERS = "optimizer-comparison"

# (optimizer, learning rate, label); the module docstring says why these rates.
OPTIMIZERS: tuple[tuple[str, float, str], ...] = (
    ("sgd", 0.01, "SGD, lr 0.01"),
    ("rmsprop", 0.001, "RMSProp, lr 0.001"),
    ("adam", 0.0002, "Adam, lr 0.0002, β1 0.5"),
)
ADAM_BETA1 = 0.5


def comparison_configs(base_cfg: Config) -> list[tuple[str, str, Config]]:
    """(optimizer, label, resolved config) for each optimiser: ``base_cfg`` with only
    the optimiser and its learning rates changed (and Adam's beta1 set to 0.5)."""
    base = resolve(base_cfg)  # a bad base config fails here, before anything is launched
    out = []
    for name, lr, label in OPTIMIZERS:
        changes = {"optim.optimizer": name, "optim.lr_g": lr, "optim.lr_d": lr}
        if name == "adam":
            changes["optim.beta1"] = ADAM_BETA1
        out.append((name, label, resolve(base.replace(**changes))))
    return out


def free_slots(runs_dir: str | Path, max_active: int | None) -> int | None:
    """How many more runs may train now (None = no limit)."""
    if max_active is None:
        return None
    return max(0, max_active - len(jobs.active_runs(runs_dir)))


def optimizer_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None) -> list[Path]:
    """Launch the SGD / RMSProp / Adam comparison of ``base_cfg`` and return the three
    run directories (in that order). Raises ``ConfigError`` for a bad base config and
    ``RunError`` when no training slot is free."""
    runs_dir = Path(runs_dir)
    configs = comparison_configs(base_cfg)
    free = free_slots(runs_dir, max_active)
    if free == 0:
        active = len(jobs.active_runs(runs_dir))
        raise RunError(
            f"The optimiser comparison needs one free training slot, but {active} run(s) are already training "
            f"and the limit is {max_active}; stop one or wait for it to finish."
        )
    base = configs[0][2]
    experiment = {
        "id": f"{datetime.now():%Y%m%d-%H%M%S}-optimizers-{secrets.token_hex(2)}",
        "kind": KIND_OPTIMIZERS,
        "label": f"Optimisers: {base.recipe} on {base.data.name}, {base.train.steps} steps, seed {base.train.seed}",
        "created": time.time(),
    }
    if free is None or free >= len(configs):
        run_dirs = [jobs.launch(cfg, runs_dir, max_active) for _, _, cfg in configs]
        _tag(run_dirs, configs, experiment)
    else:
        run_dirs = [create_run(cfg, runs_dir) for _, _, cfg in configs]
        _tag(run_dirs, configs, experiment)
        _spawn_queue(run_dirs)
    return run_dirs


def _tag(run_dirs: list[Path], configs, experiment: dict) -> None:
    ids = [d.name for d in run_dirs]
    for run_dir, (name, label, _) in zip(run_dirs, configs):
        atomic_write_json(run_dir / EXPERIMENT_FILE, {**experiment, "variant": name, "variant_label": label, "runs": ids})


def read_experiment(run_dir: str | Path) -> dict | None:
    """The run's experiment.json, or None for a run that is not part of one."""
    try:
        data = json.loads((Path(run_dir) / EXPERIMENT_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), str) else None


def list_experiments(runs_dir: str | Path) -> list[dict]:
    """Experiments with at least one run left, newest first: id, kind, label,
    created, ``runs`` (the run directories that still exist, in launch order) and
    ``runs_launched`` (the ids of every run it launched)."""
    found: dict[str, dict] = {}
    for info in list_runs(runs_dir):
        exp = read_experiment(info.path)
        if exp is None:
            continue
        launched = exp.get("runs") if isinstance(exp.get("runs"), list) else []
        entry = found.setdefault(exp["id"], {**exp, "runs_launched": launched, "runs": []})
        entry["runs"].append(info.path)
    for entry in found.values():
        order = entry.get("runs_launched") or []
        entry["runs"].sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
        entry.pop("variant", None)
        entry.pop("variant_label", None)
    return sorted(found.values(), key=lambda e: e.get("created", 0), reverse=True)


# --- the queue: one worker process training an experiment's runs one after another


def _spawn_queue(run_dirs: list[Path]) -> None:
    env = jobs.worker_env(len(jobs.active_runs(run_dirs[0].parent)) - len(run_dirs))
    with open(run_dirs[0] / "train.log", "ab") as log:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gan_core.experiments", "queue", *map(str, run_dirs)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # a Ctrl-C to the server does not kill the queue
            )
        except OSError as e:
            for run_dir in run_dirs:
                write_status(run_dir, state="failed", error=f"The training worker could not start ({e.strerror}).")
            raise RunError(f"The training worker could not start ({e.strerror}); check the server's Python.") from None
    # Reap the worker when it exits so it does not linger as a zombie in the server.
    threading.Thread(target=proc.wait, daemon=True).start()
    for run_dir in run_dirs:
        # The worker's pid on every queued run: if the worker dies, they read as "interrupted".
        write_status(run_dir, **worker_identity(proc.pid))  # pid, host and start time: pid reuse is not mistaken for it


@contextlib.contextmanager
def _output_to(log_path: Path):
    """Send this process's output to ``log_path``: Python's sys.stdout / sys.stderr
    and file descriptors 1 and 2 (for anything C code or a subprocess prints)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])


def train_queue(run_dirs: list[str | Path]) -> list[str]:
    """Train queued runs one after another in this process; returns their final states.

    A run that is no longer queued (resumed or deleted meanwhile) is left alone; a
    queued run with a STOP request is marked stopped without training."""
    from .training import resume  # imports torch: only the worker pays for it

    states = []
    run_dirs = [Path(d) for d in run_dirs]
    for i, run_dir in enumerate(run_dirs, 1):
        if not (run_dir / "config.json").is_file():
            states.append("missing")
            continue
        with _output_to(run_dir / "train.log"):
            state = read_status(run_dir).get("state")
            if state != "queued":
                print(f"Queue: skipping {run_dir.name}, which is {state}.", flush=True)
                states.append(state)
                continue
            if (run_dir / "STOP").exists():
                write_status(run_dir, state="stopped", eta=None,
                             message="Stopped before it started; resume trains it from the start.")
                print(f"Queue: {run_dir.name} was stopped before it started.", flush=True)
                states.append("stopped")
                continue
            print(f"Queue: training {run_dir.name} ({i} of {len(run_dirs)})", flush=True)
            try:
                status = resume(run_dir)
            except Exception:  # train() has recorded the failure in status.json
                traceback.print_exc()
                states.append(read_status(run_dir).get("state", "failed"))
                continue
            print(f"Queue: {run_dir.name} {status.get('state')} at step {status.get('step')}", flush=True)
            states.append(status.get("state"))
    return states


def _main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "queue":
        print("usage: python -m gan_core.experiments queue RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    train_queue(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


__all__ = [
    "OPTIMIZERS",
    "comparison_configs",
    "optimizer_comparison",
    "read_experiment",
    "list_experiments",
    "free_slots",
    "train_queue",
]
