"""The run directory: the contract between the trainer and everything that watches it.

    runs/<run_id>/
      config.json     the resolved config, enough to rebuild every model
      status.json     state, step, total, eta, error; replaced atomically
      metrics.jsonl   one JSON object per logged step; readers skip a torn last line
      samples/        fixed-noise grids, step_000100.png
      checkpoints/    last.safetensors (weights + config) and last.state.pt (resume)
      STOP            present = stop at the next step boundary
      train.log       the worker's output, for background runs
      experiment.json optional: the experiment a run belongs to (gan_core.experiments)

Everything the dashboard shows comes from here, so a refreshed browser, a second
tab or a restarted server all see the same truth.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .config import Config
from .errors import RunError

ACTIVE = ("queued", "running")
FINAL = ("finished", "stopped", "diverged", "failed", "interrupted")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are meant to be read by other tools
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2).encode())


def new_run_id(cfg: Config) -> str:
    """Generated, never taken from user text: timestamp, recipe, data, random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{cfg.recipe}-{cfg.data.name}".lower()).strip("-")[:40]
    return f"{datetime.now():%Y%m%d-%H%M%S}-{slug}-{secrets.token_hex(2)}"


def create_run(cfg: Config, runs_dir: str | Path) -> Path:
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_dir = runs_dir / new_run_id(cfg)
    run_dir.mkdir()
    (run_dir / "samples").mkdir()
    (run_dir / "checkpoints").mkdir()
    atomic_write_bytes(run_dir / "config.json", cfg.to_json().encode())
    write_status(run_dir, state="queued", step=0, total=cfg.train.steps, created=time.time())
    return run_dir


def read_config(run_dir: str | Path) -> Config:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.json); pick one listed by 'gan_core runs'.")
    return Config.from_json_file(path)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_status(run_dir: str | Path, **fields) -> dict:
    """Merge ``fields`` into status.json and replace it atomically."""
    path = Path(run_dir) / "status.json"
    status = _read_json(path)
    status.update(fields, updated=time.time())
    atomic_write_json(path, status)
    return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def read_status(run_dir: str | Path) -> dict:
    """status.json, with a run whose worker died (SIGKILL, crash, reboot) reported
    as "interrupted": it says "running" but its process on this host is gone."""
    status = _read_json(Path(run_dir) / "status.json")
    if status.get("state") in ACTIVE and status.get("host") == socket.gethostname():
        pid = status.get("pid")
        if isinstance(pid, int) and not _alive(pid):
            status["state"] = "interrupted"
    return status


def read_metrics(run_dir: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """Rows of metrics.jsonl from byte ``offset``; returns (rows, next offset).
    A last line without its newline is being written (or was torn by a kill): it
    is left for the next call rather than parsed half-way."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    rows = []
    for line in data[:end].splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line mangled by a crash mid-write; skip it, keep the rest
    return rows, offset + end


def truncate_metrics(run_dir: str | Path, last_step: int) -> None:
    """Keep rows up to ``last_step`` (the checkpoint a resume starts from), so the
    resumed run appends without duplicated or lost steps."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return
    rows, _ = read_metrics(run_dir)
    kept = b"".join(json.dumps(r).encode() + b"\n" for r in rows if r.get("step", 0) <= last_step)
    atomic_write_bytes(path, kept)


def sample_images(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every saved sample grid, oldest first."""
    out = []
    for p in (Path(run_dir) / "samples").glob("step_*.png"):
        try:
            out.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return sorted(out)


def request_stop(run_dir: str | Path) -> None:
    (Path(run_dir) / "STOP").touch()


@dataclass(frozen=True)
class RunInfo:
    id: str
    path: Path
    state: str
    step: int
    total: int
    recipe: str
    data: str
    created: float
    updated: float
    eta: float | None
    images_per_s: float | None
    error: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def run_info(run_dir: str | Path) -> RunInfo:
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    cfg = _read_json(run_dir / "config.json")
    return RunInfo(
        id=run_dir.name,
        path=run_dir,
        state=status.get("state", "unknown"),
        step=int(status.get("step", 0)),
        total=int(status.get("total", cfg.get("train", {}).get("steps", 0))),
        recipe=cfg.get("recipe", "?"),
        data=cfg.get("data", {}).get("name", "?"),
        created=float(status.get("created", run_dir.stat().st_mtime)),
        updated=float(status.get("updated", run_dir.stat().st_mtime)),
        eta=status.get("eta"),
        images_per_s=status.get("images_per_s"),
        error=status.get("error"),
    )


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run under ``runs_dir``, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [run_info(p) for p in runs_dir.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda r: r.created, reverse=True)
