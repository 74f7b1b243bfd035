"""The catalogue of checkpoints: which ones there are and what each holds, from metadata alone.

Shipped demos (``checkpoints/`` of the repository), uploaded ones (``<runs>/uploads/``)
and every run's last weights, as ``CheckpointEntry`` rows for menus and captions. Only
a file's safetensors header is read (cached while the file is unchanged), so listing
is cheap on every page load and a damaged file is one unusable entry, never a broken
page. Which training data a checkpoint may be compared with, and loading it, is
``memorisation.py``'s job: that reads data sets, the catalogue never does.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from . import checkpoints, visitors
from .config import DataKind
from .data.paired import PAIR_KINDS
from .errors import CheckpointError
from .health import TAIL_BYTES, exploded
from .runs import ACTIVE, read_metrics, read_status
from .visitors import UPLOADS


@dataclass(frozen=True)
class CheckpointEntry:
    """One checkpoint the gallery can show: a shipped demo or a run's last weights."""

    path: Path
    label: str  # for menus
    shipped: bool  # True: checkpoints/ of the repository; False: a run's checkpoints/
    mtime: float
    recipe: str | None = None
    data: str | None = None
    kind: str | None = None  # "image" or "vector"
    shape: tuple[int, ...] | None = None
    step: int | None = None
    run_id: str | None = None
    training: bool = False  # the run is still writing this file
    error: str | None = None  # why it cannot be used, one sentence
    exploded: str | None = None  # the run's losses blew up (health.exploded's sentence): its samples show a broken generator
    note: str | None = None  # a shipped demo's one line: trained on what, at what size, for how long, what to expect

    @property
    def key(self) -> str:
        return str(self.path)

    def summary(self) -> str:
        """One line about what the checkpoint holds, for captions."""
        if self.error:
            return self.error
        what = ""
        if self.kind == DataKind.IMAGE and self.shape:
            c, h, w = self.shape
            what = f", {h}\u00d7{w} {'grey' if c == 1 else 'colour'} images"
        elif self.kind == DataKind.VECTOR and self.shape:
            what = f", {self.shape[0]}-D points"
        origin = "shipped demo checkpoint" if self.shipped else f"run {self.run_id}" if self.run_id else "uploaded checkpoint"
        live = " (still training: newer weights appear as they are saved)" if self.training else ""
        blown = ", whose losses exploded, so expect noise rather than samples" if self.exploded else ""
        return f"{self.recipe} trained on {self.data} for {self.step:,} steps{what}; {origin}{blown}{live}."


@functools.lru_cache(maxsize=512)
def _describe(path_str: str, mtime: float, size: int, shipped: bool) -> CheckpointEntry:
    path = Path(path_str)
    uploaded = path.parent.parent.name == UPLOADS
    run_id = None if shipped or uploaded else path.parent.parent.name
    try:
        cfg, info, step = checkpoints.read_header(path)
    except CheckpointError as e:  # a bad file is one unusable entry, never a broken page
        name = f"{run_id}/{path.name}" if run_id else path.name
        return CheckpointEntry(path, f"{name} (cannot be read)", shipped, mtime, run_id=run_id, error=str(e))
    kind = PAIR_KINDS.get(cfg.data.pairs or "")
    # Two translators of one data set (grey -> colour and super-resolution, both on photos) must differ in the menu.
    does = f" ({kind.turns})" if kind is not None else ""
    # A menu label never changes while its file is offered: Streamlit sends a menu's choice back
    # as its label, so a label that moved on (a run's step, "training", "exploded") matched no
    # option at the next click and the visitor's choice fell back to the first. A run's step
    # and state are in its summary, under the menu.
    what = f"{cfg.recipe}{does} on {cfg.data.name}"
    label = f"{what}, step {step:,} (demo)" if shipped else f"{what}, step {step:,} (uploaded)" if uploaded else f"{what} (run {_run_time(run_id)})"
    return CheckpointEntry(path, label, shipped, mtime, cfg.recipe, cfg.data.name, info.kind, tuple(info.shape), step, run_id,
                           note=SHIPPED_NOTES.get(path.name) if shipped else None)


def _run_time(run_id: str) -> str:
    """'20261121-235518-dcgan-faces-lfw-bd8c' -> '2026-11-21 23:55 bd8c': short, and still unique."""
    m = re.match(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-.*?([0-9a-f]{4})$", run_id)
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]} {m[6]}" if m else run_id


def describe_checkpoint(path: str | Path, shipped: bool = False) -> CheckpointEntry:
    """What a checkpoint holds, from its metadata only (cached while the file is unchanged)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise CheckpointError(f"Checkpoint {path} does not exist; pick another one.") from None
    return _describe(str(path), st.st_mtime, st.st_size, shipped)


def list_checkpoints(checkpoints_dir: str | Path, runs_dir: str | Path, owner: str | None = None,
                     isolated: bool = False) -> list[CheckpointEntry]:
    """Shipped demo checkpoints first (faces first), then uploaded ones, then every
    run's ``checkpoints/last.safetensors``, most recently written first.

    ``isolated`` (demo mode): besides the shipped ones, only the uploads and runs of
    the visitor ``owner`` (gan_core.visitors); nobody else's file is even opened."""
    shipped = []
    cdir = Path(checkpoints_dir)
    if cdir.is_dir():
        for p in sorted(cdir.glob("*.safetensors")):
            try:
                shipped.append(describe_checkpoint(p, shipped=True))
            except CheckpointError:
                continue  # deleted while listing
        shipped.sort(key=lambda e: (e.error is not None, e.data != "faces-lfw", e.kind != DataKind.IMAGE, e.path.name))
    uploaded = []
    # uploads/checkpoints/ (outside demo mode) and uploads/<owner>/ (a demo visitor's)
    if not isolated:
        found = (Path(runs_dir) / UPLOADS).glob("*/*.safetensors")
    else:
        found = visitors.uploads_dir(runs_dir, owner).glob("*.safetensors") if owner else []
    for p in found:
        try:
            uploaded.append(describe_checkpoint(p))
        except CheckpointError:
            continue  # deleted while listing
    uploaded.sort(key=lambda e: e.mtime, reverse=True)
    runs = []
    rdir = Path(runs_dir)
    if rdir.is_dir():
        for p in rdir.glob(f"*/checkpoints/{checkpoints.WEIGHTS}"):
            if isolated and not (owner and visitors.run_owner(p.parent.parent) == owner):
                continue
            try:
                entry = describe_checkpoint(p)
            except CheckpointError:
                continue
            blown = None if entry.error else _blew_up(p.parent.parent)
            if blown:
                entry = dataclasses.replace(entry, exploded=blown)
            if read_status(p.parent.parent).get("state") in ACTIVE:
                entry = dataclasses.replace(entry, training=True)
            runs.append(entry)
        runs.sort(key=lambda e: e.mtime, reverse=True)
    return shipped + uploaded + runs


def _blew_up(run_dir: Path) -> str | None:
    """health.exploded's sentence over the end of a run's metrics, or None (cached while the file is unchanged)."""
    try:
        st = (run_dir / "metrics.jsonl").stat()
    except OSError:
        return None
    return _blew_up_cached(str(run_dir), st.st_mtime, st.st_size)


@functools.lru_cache(maxsize=512)
def _blew_up_cached(run_dir: str, mtime: float, size: int) -> str | None:
    rows, _ = read_metrics(Path(run_dir), max(0, size - TAIL_BYTES))  # from an offset the first, cut line is skipped
    return exploded(rows)


# What each shipped demo that draws from noise is, in one line (README "The demo checkpoints",
# docs/BENCHMARKS.md): small models trained on this project's 2-core CPU, not 1024-px photographs.
SHIPPED_NOTES = {
    "dcgan-faces-lfw.safetensors":
        "Trained on faces-lfw's 100 grey face crops at 32\u00d732 pixels for 2,000 steps with adaptive augmentation "
        "(6 min 11 s on a shared 2-core CPU): "
        "expect small, blurry grey faces, some lopsided, not photographs.",
    "cgan-mnist.safetensors":
        "Trained on 5,000 MNIST digits at 28\u00d728 pixels for 10,000 steps (4 min 17 s on a 2-core CPU, the paper's MLP): "
        "expect the digit asked for nearly every time, in slightly rougher strokes than handwriting.",
}
# Figures measured elsewhere for a shipped demo, for pages that show their own reading of the same thing.
SHIPPED_ACCURACY = {
    "cgan-mnist.safetensors": ("98.5%", "a plain SVM fitted on the real digits (README; benchmarks/cgan_accuracy.py)"),
}

TRANSLATORS = ("pix2pix",)  # recipes whose generator maps an image to an image, not noise to an image


def default_checkpoint(entries: list[CheckpointEntry]) -> CheckpointEntry | None:
    """The shipped faces checkpoint when there is one, else the first usable entry."""
    usable = [e for e in entries if e.error is None]
    for e in usable:
        if e.shipped and e.data == "faces-lfw" and e.kind == DataKind.IMAGE and e.recipe not in TRANSLATORS:
            return e
    images = [e for e in usable if e.kind == DataKind.IMAGE]
    return (images or usable or entries or [None])[0]


__all__ = ["CheckpointEntry", "SHIPPED_ACCURACY", "SHIPPED_NOTES", "TRANSLATORS", "describe_checkpoint", "list_checkpoints", "default_checkpoint"]
