"""Runs leaving the workbench: a run as a zip, metrics as CSV, and deleting a run.

The zip holds what someone else needs to look at or sample from a run:

    <run_id>/config.json, status.json, metrics.jsonl, experiment.json (if any)
    <run_id>/samples/step_*.png
    <run_id>/checkpoints/last.safetensors

and never ``checkpoints/last.state.pt``: the resume state is the trainer's private
file (optimiser moments, RNG state, data position), large and only meaningful to
this machine's trainer. A zip can be made while the run trains: every file the
trainer writes is replaced atomically, and a metrics line still being written is
left out.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from . import budget
from .errors import RunError
from .runs import (ACTIVE, MAX_RUN_FILE_BYTES, MAX_SAMPLE_BYTES, iter_metrics, read_run_file, read_sample, read_status,
                   regular_size, sample_images)
from .untrusted import MAX_CHECKPOINT_BYTES

RUN_FILES = ("config.json", "status.json", "experiment.json")
WEIGHTS = "checkpoints/last.safetensors"
# A run's metrics in its zip: 100,000 steps logged every step are about 30 MB; a file far
# larger is not a run's, and the zip is built in the server's memory.
MAX_ZIPPED_METRICS_BYTES = 64 << 20

# The columns a metrics row can have, in the order a reader wants them; anything
# else a future recipe logs follows, sorted by name.
METRIC_COLUMNS = (
    "step", "elapsed", "time",
    "loss_d", "loss_g", "loss_d_real", "loss_d_fake",
    "d_real", "d_fake", "d_fake_g",
    "critic_real", "critic_fake", "wasserstein", "gradient_penalty",
    "grad_norm_d", "grad_norm_g", "images_per_s",
)


def _check_run_dir(run_dir: Path) -> None:
    if not (run_dir / "config.json").is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.json); pick a run from the runs list.")


_ZIP_ENTRY = 512  # a zip entry's headers around its data, with its name twice


def _file_size(path: Path, limit: int) -> int:
    """What a run file adds to its zip: its size if it is a regular file within ``limit``, else 0 (left out)."""
    size = regular_size(path, follow_links=False)
    return size if size <= limit else 0


def _ordinal(n: int) -> str:
    """2nd, 4th, 32nd, 64th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class ZipPlan:
    """What a run's zip holds, decided from the files' sizes before anything is read."""

    grids: list[tuple[int, Path]]  # (step, path) of the sample grids it holds
    total: int  # bytes of the files it holds
    note: str | None  # said when grids are left out, or None
    room: int = 0  # what the zip may hold: a file grown since the plan is left out


def zip_plan(run_dir: str | Path) -> ZipPlan:
    """The files of a run's zip within this server's budget per request (the zip is built
    in the server's memory, then handed to the page: twice its size, so it may hold half
    the budget). Every grid when they fit; else every k-th grid and the last, k the
    smallest power of two that fits; refused in one sentence (``RunError``) when the
    weights and metrics alone do not fit."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    room = budget.limit() // 2 - 4096  # the zip's directory and LEFT_OUT.txt
    fixed = len(RUN_FILES) * _ZIP_ENTRY + (sum(_file_size(run_dir / name, MAX_RUN_FILE_BYTES) for name in RUN_FILES)
             + _file_size(run_dir / "metrics.jsonl", MAX_ZIPPED_METRICS_BYTES) + _file_size(run_dir / WEIGHTS, MAX_CHECKPOINT_BYTES))
    if fixed > room:
        raise RunError(f"Run {run_dir.name}'s weights and metrics are {budget.size_text(fixed)}, more than a zip may hold on this "
                       f"server ({budget.size_text(room)}); copy the run's folder from the server instead.")
    grids = sample_images(run_dir)
    sizes = {path: _file_size(path, MAX_SAMPLE_BYTES) + _ZIP_ENTRY for _, path in grids}
    step = 1
    while True:
        kept = [g for i, g in enumerate(grids) if i % step == 0 or i == len(grids) - 1]
        total = fixed + sum(sizes[path] for _, path in kept)
        if total <= room or step >= len(grids):
            break
        step *= 2
    if total > room:  # not even the first and the last: the last alone, or none
        last = grids[-1:]
        kept = last if last and fixed + sizes[last[0][1]] <= room else []
        total = fixed + sum(sizes[path] for _, path in kept)
    if len(kept) == len(grids):
        return ZipPlan(kept, total, None, room)
    which = "none" if not kept else "the last" if len(kept) == 1 else f"every {_ordinal(step)} and the last"
    return ZipPlan(kept, total, f"{len(kept)} of its {len(grids)} sample grids ({which}), so that the zip stays within "
                                f"{budget.size_text(room)} on this server", room)


def run_zip_bytes(run_dir: str | Path) -> bytes:
    """The run as a zip (see the module docstring for what is in it), within ``zip_plan``'s
    bound: when grids are left out, ``samples/LEFT_OUT.txt`` says which were kept."""
    run_dir = Path(run_dir)
    plan = zip_plan(run_dir)
    root = run_dir.name
    buf = io.BytesIO()
    used = 0

    def fits(data: bytes) -> bool:  # held to the plan: a file that grew since is left out
        nonlocal used
        if used + len(data) + _ZIP_ENTRY > plan.room:
            return False
        used += len(data) + _ZIP_ENTRY
        return True

    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        # Every file read as the run wrote it: a symbolic link (to /etc/shadow, say), a named
        # pipe or a file over its size is left out (runs.read_run_file), never followed.
        for name in RUN_FILES:
            data = read_run_file(run_dir / name)
            if data is not None and fits(data):
                zf.writestr(f"{root}/{name}", data)
        data = read_run_file(run_dir / "metrics.jsonl", MAX_ZIPPED_METRICS_BYTES)
        if data is not None and fits(data):
            zf.writestr(f"{root}/metrics.jsonl", data[: data.rfind(b"\n") + 1])
        # The weights before the grids: a grid grown since the plan is what is left out.
        weights = read_run_file(run_dir / WEIGHTS, MAX_CHECKPOINT_BYTES)
        if weights is not None and fits(weights):
            # PNGs and float weights barely compress: store them, save the time.
            zf.writestr(f"{root}/{WEIGHTS}", weights, compress_type=zipfile.ZIP_STORED)
        del weights
        for _, png in plan.grids:
            try:
                data = read_sample(png)  # a FIFO named like a grid would block zf.write forever; junk is left out
            except RunError:
                continue
            if fits(data):
                zf.writestr(f"{root}/samples/{png.name}", data, compress_type=zipfile.ZIP_STORED)
        if plan.note:
            zf.writestr(f"{root}/samples/LEFT_OUT.txt", f"This zip holds {plan.note}.\n")
    return buf.getvalue()


def metrics_columns(rows: Iterable[dict]) -> list[str]:
    seen: set[str] = set()
    for row in rows:
        seen.update(row)
    known = [c for c in METRIC_COLUMNS if c in seen]
    return known + sorted(seen - set(METRIC_COLUMNS))


def check_metrics_csv(run_dirs: Iterable[str | Path]) -> None:
    """Refuse, in one sentence (``RunError``), a CSV of runs whose metrics files hold more
    than MAX_ZIPPED_METRICS_BYTES together: the CSV is built in the server's memory."""
    total = sum(regular_size(Path(d) / "metrics.jsonl") for d in run_dirs)
    if total > MAX_ZIPPED_METRICS_BYTES:
        raise RunError(f"The selected runs' metrics are {total / 2**20:,.0f} MB together, over the "
                       f"{MAX_ZIPPED_METRICS_BYTES >> 20} MB one download holds; select fewer runs.")


def metrics_csv(run_dirs: Iterable[str | Path]) -> str:
    """The metrics of several runs as one CSV: a ``run`` column (the run id) first,
    then step, elapsed, time and every metric any of the runs logged; a metric a
    run does not have (the Wasserstein estimate of a standard GAN) is left empty.
    Refused over MAX_ZIPPED_METRICS_BYTES of metrics (``check_metrics_csv``); the rows
    are streamed, twice (the columns, then the lines), never held all at once."""
    run_dirs = [Path(d) for d in run_dirs]
    for run_dir in run_dirs:
        _check_run_dir(run_dir)
    check_metrics_csv(run_dirs)
    columns = metrics_columns(row for d in run_dirs for row in iter_metrics(d))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["run", *columns], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for run_dir in run_dirs:
        for row in iter_metrics(run_dir):
            writer.writerow({"run": run_dir.name, **row})
    return out.getvalue()


def delete_run(run_dir: str | Path) -> None:
    """Delete a run directory for good. A queued or running run is refused: its
    worker would keep writing into a directory that no longer exists."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    state = read_status(run_dir).get("state")
    if state in ACTIVE:
        raise RunError(f"Run {run_dir.name} is still {state}; stop it and wait until it has stopped before deleting it.")
    shutil.rmtree(run_dir)


__all__ = ["run_zip_bytes", "zip_plan", "ZipPlan", "metrics_csv", "check_metrics_csv", "metrics_columns", "delete_run", "METRIC_COLUMNS"]
