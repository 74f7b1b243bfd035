"""Visitors of a public demo: who owns which run and upload, and what each may see and do.

With ``GAN_WORKBENCH_DEMO=1`` strangers share one server. Each browser session is a
visitor, known only by an owner id: a hash of a secret the browser holds (the page
layer derives it), so a path or file on disk never carries text a visitor typed,
and knowing an owner id does not let anyone act as that visitor.

    runs/<run_id>/owner.json        {"owner": "<owner id>"}, written before the worker starts
    runs/uploads/<owner id>/        that visitor's uploads: upload-<hash>.zip, ckpt-<hash>.safetensors

In demo mode a visitor sees, stops, resumes, downloads and deletes only their own
runs (plus the shipped demo checkpoints); a run without an owner (started from the
command line, or before demo mode was on) belongs to no visitor. Outside demo mode
(someone's own machine) everything is everyone's, as it always was.

Uploads are removed once no longer used (``sweep_uploads``), and visitors' runs once
they have not changed for a day or the demo's room for runs is full (``sweep_runs``),
because a public demo has little disk and strangers' files must not pile up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Iterable

from .budget import size_text
from .errors import RunError
from .runs import ACTIVE, RunInfo, atomic_write_json, read_status
from .untrusted import Unreadable, open_regular

UPLOADS = "uploads"  # folder under the runs directory; list_runs ignores it (no config.json)
OWNER_FILE = "owner.json"
# An upload nobody has used for this long is removed, whoever it belongs to: a visitor
# who closed the tab never comes back to tidy up.
UPLOAD_IDLE_S = 3 * 3600
# A half-written upload (``.ckpt-*.tmp``, ``.upload-*.tmp``: runs.atomic_write_bytes's
# temporary file) older than this was left by a server killed mid-write: saving a
# 200 MB upload takes seconds. Swept, so the visitor's folder can go too.
TEMP_STALE_S = 600
UPLOAD_KINDS = (".zip", ".safetensors")  # one "newest" per kind: a training zip, a gallery checkpoint
_OWNER = re.compile(r"[0-9a-f]{32}")
# Upload file names (uploads.py: a hash of the bytes). Found in a run's config.json as
# text, so a config that no longer parses still protects the upload it names.
_UPLOAD_NAME = re.compile(rb"(?:upload|ckpt)-[0-9a-f]{20}\.(?:zip|safetensors)")
MAX_CONFIG_BYTES = 1 << 20


def owner_id(secret: str | bytes) -> str:
    """The owner id of a visitor holding ``secret`` (a browser's random token)."""
    if isinstance(secret, str):
        secret = secret.encode()
    return hashlib.sha256(b"gan-workbench-visitor\0" + secret).hexdigest()[:32]


def check_owner(owner: str) -> str:
    """``owner`` if it is an owner id; anything else is a programming error, never
    turned into a path."""
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise ValueError(f"not an owner id: {owner!r}")
    return owner


def write_owner(run_dir: str | Path, owner: str) -> None:
    atomic_write_json(Path(run_dir) / OWNER_FILE, {"owner": check_owner(owner)})


def run_owner(run_dir: str | Path) -> str | None:
    """The owner id recorded in the run directory, or None (no owner, or unreadable)."""
    try:
        with open_regular(Path(run_dir) / OWNER_FILE) as f:  # a FIFO must not hang every page
            data = json.loads(f.read(4096))
    except (OSError, ValueError, RecursionError, Unreadable):
        return None
    owner = data.get("owner") if isinstance(data, dict) else None
    return owner if isinstance(owner, str) and _OWNER.fullmatch(owner) else None


def _path(run: RunInfo | str | Path) -> Path:
    return run.path if isinstance(run, RunInfo) else Path(run)


def may_act(run: RunInfo | str | Path, owner: str | None, settings) -> bool:
    """Whether the visitor ``owner`` may see, stop, resume, download or delete ``run``.
    ``settings`` is ``gan_core.settings.Settings``; outside demo mode, always."""
    if not settings.demo:
        return True
    return owner is not None and run_owner(_path(run)) == owner


def visible_runs(all_runs: Iterable[RunInfo], owner: str | None, settings) -> list[RunInfo]:
    """The runs of ``all_runs`` that ``owner`` may see, in the same order."""
    return [r for r in all_runs if may_act(r, owner, settings)]


def uploads_dir(runs_dir: str | Path, owner: str) -> Path:
    """The folder of ``owner``'s uploads (not created here)."""
    return Path(runs_dir) / UPLOADS / check_owner(owner)


def referenced_uploads(runs_dir: str | Path) -> set[str]:
    """File names of the uploads that some run's config.json points at, whatever
    the run's state: such an upload is that run's training data."""
    names: set[str] = set()
    root = Path(runs_dir)
    if not root.is_dir():
        return names
    for config in root.glob("*/config.json"):
        try:
            with open_regular(config) as f:
                names.update(m.decode() for m in _UPLOAD_NAME.findall(f.read(MAX_CONFIG_BYTES)))
        except (OSError, Unreadable):
            continue
    return names


def sweep_uploads(runs_dir: str | Path, owner: str | None, keep: Iterable[str | Path | None] = (),
                  now: float | None = None, idle_s: float = UPLOAD_IDLE_S) -> list[Path]:
    """Remove uploads no longer used and return what was removed.

    Never removed: an upload a run's config points at, or one in ``keep`` (what
    ``owner``'s session uses now: the zip in the Train form, the checkpoint shown in
    the gallery), whose time is refreshed so "idle" counts from its last use.
    ``owner``'s own uploads go as soon as a newer one of the same kind replaces them;
    anyone's go after ``idle_s`` seconds unused. Only owner folders are swept: the
    shared uploads of a server outside demo mode are left alone.
    """
    root = Path(runs_dir) / UPLOADS
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    keep_paths = {Path(p).resolve() for p in keep if p}
    used = referenced_uploads(runs_dir)
    removed = []
    for folder in root.iterdir():
        if not _OWNER.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
            continue
        mine = folder.name == owner
        try:
            entries = list(folder.iterdir())
        except OSError:  # removed by another page load's sweep meanwhile
            continue
        files = {}
        for f in entries:
            if f.name.startswith(".") and f.suffix == ".tmp":
                try:
                    if f.is_file() and not f.is_symlink() and now - f.stat().st_mtime > TEMP_STALE_S:
                        f.unlink()
                        removed.append(f)
                except OSError:
                    pass
                continue
            if f.suffix in UPLOAD_KINDS and not f.name.startswith(".") and f.is_file() and not f.is_symlink():
                try:  # (another page load may be sweeping the same file right now)
                    if mine and f.resolve() in keep_paths:
                        os.utime(f, (now, now))
                    files[f] = f.stat().st_mtime
                except OSError:
                    continue
        newest = {}
        for f, mtime in files.items():
            if f.suffix not in newest or (mtime, f.name) > (files[newest[f.suffix]], newest[f.suffix].name):
                newest[f.suffix] = f
        for f, mtime in files.items():
            if f.name in used or (mine and f.resolve() in keep_paths):
                continue
            if (mine and newest[f.suffix] != f) or now - mtime > idle_s:
                try:
                    f.unlink(missing_ok=True)
                except OSError:
                    continue
                removed.append(f)
        try:
            # An empty folder goes once it has been still for as long (only if empty:
            # rmdir refuses otherwise), so a folder is never pulled from under an upload being saved.
            if now - folder.stat().st_mtime > idle_s:
                folder.rmdir()
        except OSError:
            pass
    return removed


# A sweep keeps visitors' runs within this share of the demo's room, so the run that
# starts next has the rest (a default demo run is 8.6 MB, far below a tenth of 2 GB).
RUNS_FILL = 0.9
# And at most this many visitors' runs, whatever their size: Start then Stop leaves a run
# of a few KB, and a script doing that all day left 20,000 runs that every later sweep
# walked under the slots lock (2.2 s each). The sweep walks about this many at most.
MAX_DEMO_RUNS = 1000


def _run_bytes(run_dir: Path) -> int:
    """The bytes of the regular files under ``run_dir``, symbolic links not followed."""
    total, todo = 0, [run_dir]
    while todo:
        try:
            with os.scandir(todo.pop()) as entries:
                for e in entries:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            todo.append(Path(e.path))
                        elif e.is_file(follow_symlinks=False):
                            total += e.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _last_change(run_dir: Path) -> float:
    """When the run last changed: its status file is rewritten at every logged step."""
    times = []
    for path in (run_dir / "status.json", run_dir):
        try:
            times.append(os.lstat(path).st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def _visitor_run(path: Path) -> bool:
    """A run folder a demo visitor started: a real folder with a config and an owner."""
    return (not path.name.startswith(".") and path.name != UPLOADS and not path.is_symlink() and path.is_dir()
            and (path / "config.json").is_file() and run_owner(path) is not None)


def sweep_runs(runs_dir: str | Path, max_bytes: int, keep_s: float, now: float | None = None,
               keep: Path | None = None) -> list[Path]:
    """On a demo server, remove visitors' runs nobody needs any more, and return them.

    Never removed: a run that is queued or training, ``keep`` (the run being resumed),
    and a run without an owner (the command line's, or the server owner's). First every
    visitor's run unchanged for ``keep_s`` seconds goes; then, while the visitors' runs
    together hold more than ``RUNS_FILL`` of ``max_bytes`` or number more than
    ``MAX_DEMO_RUNS`` - 1, the longest-unchanged idle run goes, whoever made it. When
    the runs that must stay fill that room alone, nothing is removed and the start is
    refused in one sentence. Called under ``jobs.slots``, so no run starts or resumes
    meanwhile."""
    root = Path(runs_dir)
    now = time.time() if now is None else now
    room = int(RUNS_FILL * max_bytes)
    staying, idle = 0, []
    try:
        folders = [p for p in root.iterdir() if _visitor_run(p)]
    except OSError:
        return []
    for run_dir in folders:
        size = _run_bytes(run_dir)
        if read_status(run_dir).get("state") in ACTIVE or (keep is not None and run_dir.name == Path(keep).name):
            staying += size
        else:
            idle.append((_last_change(run_dir), run_dir.name, run_dir, size))
    if staying > room:
        also = " and the run you are resuming" if keep is not None else ""
        raise RunError(f"The runs queued or training on this demo server{also} hold {size_text(staying)}, more than the "
                       f"{size_text(room)} it keeps for runs; try again when one of them has finished.")
    idle.sort()
    held, count, removed = staying + sum(size for *_, size in idle), len(folders), []
    for changed, _, run_dir, size in idle:
        if now - changed <= keep_s and held <= room and count < MAX_DEMO_RUNS:
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        if not run_dir.exists():
            removed.append(run_dir)
            held -= size
            count -= 1
    return removed


__all__ = [
    "sweep_runs", "RUNS_FILL", "MAX_DEMO_RUNS",
    "UPLOADS", "OWNER_FILE", "UPLOAD_IDLE_S", "TEMP_STALE_S", "owner_id", "check_owner", "write_owner", "run_owner", "may_act",
    "visible_runs", "uploads_dir", "referenced_uploads", "sweep_uploads",
]
