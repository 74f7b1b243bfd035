"""The run directory: the contract between the trainer and everything that watches it.

    runs/<run_id>/
      config.json     the resolved config, enough to rebuild every model
      status.json     state, step, total, eta, error, health; replaced atomically
      metrics.jsonl   one JSON object per logged step; readers skip a torn last line
      samples/        fixed-noise grids, step_000100.png
      checkpoints/    last.safetensors (weights + config) and last.state.pt (resume)
      STOP            present = stop at the next step boundary
      train.log       the worker's output, for background runs
      experiment.json optional: the experiment a run belongs to (gan_core.experiments)

Everything the dashboard shows comes from here, so a refreshed browser, a second
tab or a restarted server all see the same truth. A run's state is a ``RunState``.
Beside the runs, ``runs/.slots.lock`` is the lock ``gan_core.jobs`` holds while it
counts active runs and creates one (it is not a run: it has no config.json).
"""

from __future__ import annotations

import enum
import io
import json
import math
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from . import budget
from .config import Config
from .errors import RunError
from .untrusted import Unreadable, open_image, open_regular, shown_name  # Unreadable: a run file that exists but cannot be used



class RunState(enum.StrEnum):
    """What a run is doing or how it ended. A ``StrEnum``, so status.json keeps plain
    strings and ``state == "running"`` still holds for code that compares text."""

    QUEUED = "queued"  # created, waiting for its worker (or its turn in a queue)
    RUNNING = "running"
    FINISHED = "finished"  # all its steps
    STOPPED = "stopped"  # on request; resumable
    DIVERGED = "diverged"  # a non-finite loss or weight; the last good checkpoint is kept
    FAILED = "failed"  # an error the worker recorded
    # Derived on read, never written: the worker of a queued or running run is gone...
    INTERRUPTED = "interrupted"
    # ...its status.json or config.json cannot be used...
    UNREADABLE = "unreadable"
    # ...or it has no status.json at all.
    UNKNOWN = "unknown"

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = (RunState.QUEUED, RunState.RUNNING)
FINAL = (RunState.FINISHED, RunState.STOPPED, RunState.DIVERGED, RunState.FAILED, RunState.INTERRUPTED)


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


def prepare_runs_dir(runs_dir: str | Path) -> Path:
    """The runs folder, created if missing; ``RunError`` in one sentence if it cannot be."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunError(f"The runs folder {runs_dir} is a file, not a folder; set --runs-dir or GAN_WORKBENCH_RUNS_DIR to a folder.")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _cannot_create(runs_dir, e) from None
    return runs_dir


def _cannot_create(runs_dir: Path, e: OSError) -> RunError:
    return RunError(f"Cannot create a run in {runs_dir} ({e.strerror or e}); set --runs-dir or GAN_WORKBENCH_RUNS_DIR "
                    "to a folder you can write to, with free space.")


def create_run(cfg: Config, runs_dir: str | Path) -> Path:
    runs_dir = prepare_runs_dir(runs_dir)
    run_dir = runs_dir / new_run_id(cfg)
    try:
        run_dir.mkdir()
        (run_dir / "samples").mkdir()
        (run_dir / "checkpoints").mkdir()
        atomic_write_bytes(run_dir / "config.json", cfg.to_json().encode())
        write_status(run_dir, state=RunState.QUEUED, step=0, total=cfg.train.steps, created=time.time())
    except OSError as e:
        shutil.rmtree(run_dir, ignore_errors=True)  # half a run directory would list as a broken run
        raise _cannot_create(runs_dir, e) from None
    return run_dir


def discard_unstarted(run_dir: str | Path) -> bool:
    """Remove a run directory that was refused before its first step (bad device or
    data), so a refused command leaves nothing behind. A run with any metrics, sample
    or checkpoint is kept: it holds work. Returns whether it was removed."""
    run_dir = Path(run_dir)
    try:
        if (run_dir / "metrics.jsonl").exists() or any((run_dir / "checkpoints").iterdir()) or any((run_dir / "samples").iterdir()):
            return False
    except OSError:
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True


def remove_orphaned_temp_files(run_dir: str | Path, older_than: float = 5.0) -> int:
    """Delete the ``.<name>*.tmp`` files of atomic writes killed half-way. Called when a
    worker starts and when it ends, when no one else writes the run's checkpoints and
    samples; in the run directory itself the age margin spares a write another process
    (the launcher recording the worker's pid) may be finishing."""
    run_dir = Path(run_dir)
    now = time.time()
    removed = 0
    for folder, margin in ((run_dir, older_than), (run_dir / "checkpoints", 0.0), (run_dir / "samples", 0.0)):
        for p in folder.glob(".*.tmp"):
            try:
                if p.is_file() and p.stat().st_mtime <= now - margin:
                    p.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def read_config(run_dir: str | Path) -> Config:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.json); pick one listed by 'gan_core runs'.")
    return Config.from_json_file(path)


# config.json and status.json are a few KB; anything far larger is not ours, and is
# not read whole on every refresh of every page.
MAX_RUN_FILE_BYTES = 1 << 20


def _read_regular(path: Path, limit: int = MAX_RUN_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; a symbolic link, a named
    pipe or a device is ``Unreadable`` (a run writes none of them)."""
    with open_regular(path, follow_links=False) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise Unreadable(f"{path.name} is {size:,} bytes, larger than the {limit:,} a run file may be")
        return f.read(limit + 1)


def read_run_file(path: str | Path, limit: int = MAX_RUN_FILE_BYTES) -> bytes | None:
    """A file of a run (its log, its experiment record, its weights for a zip) as the
    run wrote it: None when it is missing, a symbolic link, not a regular file, unreadable
    or over ``limit`` bytes. Never follows a link out of the run, never blocks on a pipe."""
    try:
        return _read_regular(Path(path), limit)
    except (OSError, Unreadable):  # Unreadable is not an OSError
        return None


def _read_json(path: Path) -> dict:
    """A JSON object file: {} when it does not exist, ``Unreadable`` when it is not
    readable UTF-8 JSON holding an object."""
    try:
        raw = _read_regular(path)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise Unreadable(f"{path.name} cannot be read ({e.strerror or e})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Unreadable(f"{path.name} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise Unreadable(f"{path.name} is not valid JSON (line {e.lineno})") from None
    except RecursionError:  # "[[[[..." thousands deep: no file the engine writes
        raise Unreadable(f"{path.name} is nested too deeply to be a run's file") from None
    if not isinstance(data, dict):
        raise Unreadable(f"{path.name} holds a JSON {type(data).__name__}, not an object")
    return data


def write_status(run_dir: str | Path, **fields) -> dict:
    """Merge ``fields`` into status.json and replace it atomically."""
    path = Path(run_dir) / "status.json"
    try:
        status = _read_json(path)
    except Unreadable:
        status = {}  # the writer owns the status: a mangled one is replaced, not merged
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


def _proc_start(pid: int) -> int | None:
    """When process ``pid`` started (field 22 of /proc/<pid>/stat, clock ticks since
    boot); None where /proc is absent or the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # comm (field 2) may hold spaces and parentheses: count from its closing one.
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def worker_identity(pid: int) -> dict:
    """Status fields that tell a run's worker from a later process given the same pid
    (pids are reused, and after a reboot they start over)."""
    return {"pid": pid, "host": socket.gethostname(), "pid_start": _proc_start(pid), "boot_id": _boot_id()}


def _worker_alive(status: dict) -> bool:
    pid = status["pid"]
    if pid < 1:
        return False  # kill(0) and kill(-1) would ask about whole process groups
    boot = status.get("boot_id")
    if boot is not None and _boot_id() not in (None, boot):
        return False  # the machine rebooted since: whatever has this pid now is not the worker
    if not _alive(pid):
        return False
    start = status.get("pid_start")
    now = _proc_start(pid) if start is not None else None
    return now is None or now == start  # without /proc the pid is all there is to go on


# Known status fields: what each must be (JSON null is allowed for the optional ones).
_WHOLE, _NUMBER, _TEXT = "a whole number", "a number", "text"
_FINDINGS = "a list of findings (objects with text code, severity, title, sentence and advice)"
_FINDING_KEYS = ("code", "severity", "title", "sentence", "advice")  # gan_core.health.Finding
_STATUS_FIELDS = {
    "state": (_TEXT, False), "step": (_WHOLE, False), "total": (_WHOLE, False), "created": (_NUMBER, False),
    "updated": (_NUMBER, False), "started": (_NUMBER, True), "elapsed": (_NUMBER, True), "eta": (_NUMBER, True),
    "images_per_s": (_NUMBER, True), "pid": (_WHOLE, True), "pid_start": (_WHOLE, True), "host": (_TEXT, True),
    "boot_id": (_TEXT, True), "device": (_TEXT, True), "error": (_TEXT, True), "message": (_TEXT, True),
    "health": (_FINDINGS, True),  # gan_core.health's diagnosis; [] is healthy so far
}


def _check_status(status: dict) -> None:
    state = status.get("state")
    if isinstance(state, str) and state not in RunState.__members__.values():
        shown = repr(state) if len(repr(state)) <= 40 else repr(state)[:37] + "..."
        raise Unreadable(f"status.json field 'state' is {shown}, not one of {', '.join(RunState)}")
    for key, (kind, nullable) in _STATUS_FIELDS.items():
        if key not in status or (nullable and status[key] is None):
            continue
        value = status[key]
        if kind == _TEXT:
            ok = isinstance(value, str)
        elif kind == _WHOLE:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif kind == _FINDINGS:
            ok = isinstance(value, list) and all(
                isinstance(f, dict) and all(isinstance(f.get(k), str) for k in _FINDING_KEYS) for f in value)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok:
            shown = repr(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise Unreadable(f"status.json field '{key}' is {shown}, not {kind}")


def read_status(run_dir: str | Path) -> dict:
    """status.json, with a run whose worker died (SIGKILL, crash, reboot) reported
    as "interrupted": it says "running" but its process on this host is gone. A
    status.json that cannot be used gives {"state": "unreadable", "error": reason}:
    one broken run must never break a page that lists every run."""
    try:
        status = _read_json(Path(run_dir) / "status.json")
        _check_status(status)
    except Unreadable as e:
        return {"state": RunState.UNREADABLE, "error": unreadable_message(str(e))}
    if "state" in status:
        status["state"] = RunState(status["state"])
    if status.get("state") in ACTIVE and status.get("host") == socket.gethostname():
        if isinstance(status.get("pid"), int) and not _worker_alive(status):
            status["state"] = RunState.INTERRUPTED
    return status


def unreadable_message(reason: str) -> str:
    return f"This run cannot be read: {reason}; delete it, or repair the file by hand."


def read_metrics(run_dir: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """Rows of metrics.jsonl from byte ``offset``; returns (rows, next offset). It reads
    to the end: for the worker and for reads of a file's last bytes. A page's charts use
    ``MetricsFollower`` / ``read_metrics_thinned``, whose memory is bounded.
    A last line without its newline is being written (or was torn by a kill): it
    is left for the next call rather than parsed half-way."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        with open_regular(path) as f:
            f.seek(offset)
            data = f.read()
    except (FileNotFoundError, Unreadable):
        return [], offset
    end = data.rfind(b"\n") + 1
    rows = []
    for line in data[:end].splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, "[[[[..." thousands deep
            continue  # a line mangled by a crash mid-write; skip it, keep the rest
        if _is_metrics_row(row):
            rows.append(row)
    return rows, offset + end


# What a chart of a run's metrics holds: 2,000 to 4,000 points per curve look the same on
# a screen as every row (TensorBoard keeps 1,000 points per scalar for the same reason),
# whatever the run's length; a 50 MB metrics.jsonl read whole cost the server +350 MB.
DISPLAY_ROWS = 2000
# Unread bytes past this are sampled at evenly spaced offsets rather than read line by line.
MAX_METRICS_SCAN_BYTES = 32 << 20
MAX_ROW_BYTES = 64 << 10  # the trainer's rows are well under 1 KB; a longer line is skipped
_CHUNK = 1 << 20


def parse_metrics_row(line: bytes) -> dict | None:
    """One line of metrics.jsonl as a row, or None: torn, too long, or not the trainer's."""
    if len(line) > MAX_ROW_BYTES:
        return None
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError (a line torn by a crash), "[[[[..."
        return None
    return row if _is_metrics_row(row) else None


class MetricsFollower:
    """A run's metrics.jsonl followed as it grows, in memory bounded whatever the file's size:

    - ``rows``, for charts: every row while there are fewer than 2 x ``limit``; past that,
      every stride-th row, the stride doubling each time 2 x ``limit`` are kept, and
      always the newest row (so a chart shows the whole run, evenly thinned);
    - ``recent``: the last ``recent`` rows exactly (what gan_core.health judges).

    ``update()`` reads only the bytes added since the last call, in chunks; a file
    replaced by a resume (another inode) or cut shorter starts over. When more than
    MAX_METRICS_SCAN_BYTES are unread (a huge file, seen for the first time), the rows
    before its last MAX_METRICS_SCAN_BYTES / 4 are sampled at 2 x ``limit`` evenly spaced
    offsets instead of read. A last line without its newline is being written (or was
    torn by a kill): it waits for the next call. A line over MAX_ROW_BYTES is skipped.
    Kept in a page's session state, so the Train page redraws a long run's curves every
    few seconds from the new bytes alone."""

    def __init__(self, run_dir: str | Path, limit: int = DISPLAY_ROWS, recent: int = 1):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.limit = max(1, int(limit))
        self._recent_size = max(1, int(recent))
        self._start(None)

    def _start(self, inode) -> None:
        self.inode, self.offset, self.stride, self.seen = inode, 0, 1, 0
        self._kept: list[dict] = []
        self.recent: deque[dict] = deque(maxlen=self._recent_size)
        self._skip_line = False  # the line at the offset was cut by a jump past sampled rows

    def _add(self, row: dict) -> None:
        if self.seen % self.stride == 0:
            self._kept.append(row)
            self._thin()
        self.seen += 1
        self.recent.append(row)

    def _thin(self) -> None:
        """Every other kept row dropped, and the stride doubled, while 2 x ``limit`` are kept."""
        while len(self._kept) >= 2 * self.limit:
            del self._kept[1::2]
            self.stride *= 2

    @property
    def rows(self) -> list[dict]:
        """The rows to chart, oldest first, the newest always among them."""
        if self.recent and (not self._kept or self._kept[-1] is not self.recent[-1]):
            return [*self._kept, self.recent[-1]]
        return list(self._kept)

    def update(self) -> "MetricsFollower":
        try:
            with open_regular(self.path) as f:
                st = os.fstat(f.fileno())
                if st.st_ino != self.inode or st.st_size < self.offset:
                    self._start(st.st_ino)
                size = st.st_size
                if size - self.offset > MAX_METRICS_SCAN_BYTES:
                    tail = size - MAX_METRICS_SCAN_BYTES // 4
                    self._sample(f, self.offset, tail)
                    self.offset, self._skip_line = tail, True  # the tail's first line is cut
                self._read(f, size)
        except (OSError, Unreadable):  # missing, a pipe, a directory: no rows (yet)
            pass
        return self

    def _sample(self, f, start: int, stop: int) -> None:
        """Rows at 2 x ``limit`` evenly spaced offsets of [start, stop); then the stride set
        to the rows they stand for (estimated from their lines' length), so the rows read
        after them are kept as densely as these."""
        n, lengths = 2 * self.limit, []
        for k in range(n):
            at = start + (stop - start) * k // n
            f.seek(at)
            if at:
                f.readline(MAX_ROW_BYTES)  # the rest of the line the offset cut
            line = f.readline(MAX_ROW_BYTES)
            row = parse_metrics_row(line.rstrip(b"\n"))
            if row is not None and (not self.recent or row["step"] > self.recent[-1]["step"]):
                self._kept.append(row)
                self.recent.append(row)
                lengths.append(len(line))
        if lengths:
            per_sample = (stop - start) / (sum(lengths) / len(lengths)) / len(lengths)  # rows each one stands for
            self.stride = 1 << max(0, math.ceil(math.log2(max(per_sample, 1.0))))
            self.seen = self.stride * len(self._kept)
            self._thin()

    def _read(self, f, end: int) -> None:
        for line, after in _lines(f, self.offset, end, self._skip_line):
            self._skip_line = False
            row = parse_metrics_row(line)
            if row is not None:
                self._add(row)
            self.offset = after


def _lines(f, pos: int, end: int, skip_first: bool = False):
    """(line, offset just after it) for each complete line of ``f`` from ``pos`` to ``end``,
    read in chunks; a last line without its newline is not yielded. A line over
    MAX_ROW_BYTES (no row is) is yielded empty, as is the first one when ``skip_first``
    (an offset that cut it), so memory stays at a chunk and a row."""
    f.seek(pos)
    buf, skip = b"", skip_first
    while pos < end:
        chunk = f.read(min(_CHUNK, end - pos))
        if not chunk:
            return
        pos += len(chunk)
        lines = (buf + chunk).split(b"\n")
        buf = lines.pop()
        after = pos - len(buf) - sum(len(line) + 1 for line in lines)
        for line in lines:
            after += len(line) + 1
            yield (b"" if skip or len(line) > MAX_ROW_BYTES else line), after
            skip = False
        if len(buf) > MAX_ROW_BYTES:  # no row is this long: its rest up to the newline is skipped
            buf, skip = b"", True


def iter_metrics(run_dir: str | Path):
    """Every row of a run's metrics.jsonl, streamed (for a download): none when it is
    missing or not a regular file; a torn or foreign line is skipped."""
    try:
        with open_regular(Path(run_dir) / "metrics.jsonl") as f:
            for line, _ in _lines(f, 0, os.fstat(f.fileno()).st_size):
                row = parse_metrics_row(line)
                if row is not None:
                    yield row
    except (OSError, Unreadable):
        return


def read_metrics_thinned(run_dir: str | Path, limit: int = DISPLAY_ROWS) -> list[dict]:
    """A run's metrics rows for a chart or an estimate: all of them up to 2 x ``limit``,
    evenly thinned past that (``MetricsFollower``), the first and the last always kept."""
    return MetricsFollower(run_dir, limit).update().rows


MAX_INT = 2**53  # a whole number a float holds exactly; a 401-digit one overflowed every page's arithmetic


def _is_metrics_row(row) -> bool:
    """What the trainer writes: an object of numbers with a whole step. Anything else
    (edited by hand, another tool's line) is skipped rather than break every chart."""
    return (isinstance(row, dict) and isinstance(row.get("step"), int) and not isinstance(row["step"], bool)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, float) or abs(v) <= MAX_INT)
                    for v in row.values()))


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
    """(step, path) of every entry named like a saved sample grid, oldest first. What
    is at a path is only checked when it is read (``read_sample``), so that one bad
    entry is one note beside the others."""
    out = []
    for p in (Path(run_dir) / "samples").glob("step_*.png"):
        try:
            out.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return sorted(out)


def regular_size(path: str | Path, follow_links: bool = True) -> int:
    """The size of a regular file at ``path``; 0 when it is missing or anything else (a
    directory, a pipe, and a symbolic link when not ``follow_links``). Nothing is opened."""
    try:
        st = os.stat(path) if follow_links else os.lstat(path)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def grids_to_show(paths: list[Path], room: int | None = None) -> tuple[list[Path], list[Path]]:
    """(shown, left out): the sample grids a page may show at once, in order, while their
    files' sizes add up to at most ``room`` bytes (half this server's budget per request
    by default: each is held by the page's session until its next redraw). The first is
    always shown (``read_sample`` bounds it); the rest wait for a smaller selection."""
    room = budget.limit() // 2 if room is None else room
    shown, left, total = [], [], 0
    for path in paths:
        size = regular_size(path, follow_links=False)  # anything else: read_sample says what is wrong with it
        if shown and total + size > room:
            left.append(path)
            continue
        shown.append(path)
        total += size
    return shown, left


# A sample grid is a PNG of at most 64 x 64 samples of 256 px: tens of MB at the most.
MAX_SAMPLE_BYTES = 64 << 20


def read_sample(path: str | Path) -> bytes:
    """The PNG bytes of a saved sample grid, for a page or a zip. Anything else named
    like one (a symbolic link, a directory, a named pipe, an empty or damaged file, an
    image of another kind, a file over MAX_SAMPLE_BYTES) raises ``RunError`` with one
    sentence naming the file; a named pipe is refused without waiting for a writer."""
    path = Path(path)

    def refuse(reason: str) -> RunError:
        return RunError(f"The sample grid {shown_name(path.name)} cannot be shown: {reason}; "
                        "delete it from the run's samples folder.")

    try:
        if path.is_symlink():
            raise refuse("it is a symbolic link, not a grid the run saved")
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_SAMPLE_BYTES:
                raise refuse(f"it is {size:,} bytes, more than the {MAX_SAMPLE_BYTES:,} a grid may be")
            data = f.read(MAX_SAMPLE_BYTES + 1)
    except Unreadable:
        raise refuse("it is not a regular file") from None
    except OSError as e:
        raise refuse(f"it cannot be read ({e.strerror or type(e).__name__})") from None
    if not data:
        raise refuse("it is empty")
    try:
        with open_image(io.BytesIO(data), "The grid") as img:
            if img.format != "PNG":
                raise ValueError(img.format)
            img.load()
    except Exception:  # noqa: BLE001 - whatever the decoder says of these bytes, they are no grid
        raise refuse("it is not a readable PNG image") from None
    return data


def request_stop(run_dir: str | Path) -> None:
    (Path(run_dir) / "STOP").touch()


@dataclass(frozen=True)
class RunInfo:
    id: str
    path: Path
    state: RunState
    step: int
    total: int
    recipe: str
    data: str
    created: float
    updated: float
    eta: float | None
    images_per_s: float | None
    error: str | None
    stopped_after_s: float | None = None  # a run the server's worker stopped for time: the stretch it trained

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


# Each run folder's config as last parsed, with the version of its file (inode, size,
# modification time): one entry per run folder, so a runs folder larger than any fixed
# LRU size is not re-parsed on every listing (an LRU scanned in order by more keys than
# it holds never hits). Cleared whole past MAX_CACHED_CONFIGS (deleted runs' entries).
_CONFIGS: dict[Path, tuple[tuple[int, int, int], Config]] = {}
MAX_CACHED_CONFIGS = 100_000


def _config_of(run_dir: Path) -> Config:
    """The run's config, or ``Unreadable`` with what is wrong with config.json. Parsed once
    per version of the file: listing a runs folder of thousands of runs every few seconds
    re-read every config (1.2 ms each)."""
    path = run_dir / "config.json"
    try:
        st = os.stat(path)
        version = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        version = None  # _parse_config says what is wrong
    if version is not None:
        hit = _CONFIGS.get(path)
        if hit is not None and hit[0] == version:
            return hit[1]
    cfg = _parse_config(path)
    if version is not None:
        if len(_CONFIGS) >= MAX_CACHED_CONFIGS:
            _CONFIGS.clear()
        _CONFIGS[path] = (version, cfg)
    return cfg


def _parse_config(path: Path) -> Config:
    from .errors import ConfigError

    data = _read_json(path)
    try:
        return Config.from_dict(data)
    except ConfigError as e:
        raise Unreadable(f"config.json is invalid ({str(e).rstrip('.')})") from None


def run_info(run_dir: str | Path) -> RunInfo:
    """What a run is, from its files. A run whose config.json or status.json cannot be
    used has state "unreadable" and the reason as its error, never an exception."""
    run_dir = Path(run_dir)
    mtime = run_dir.stat().st_mtime
    status = read_status(run_dir)
    try:
        cfg = _config_of(run_dir)
    except Unreadable as e:
        cfg = None
        # A live worker keeps its run active (not deletable under it); the error says what is wrong.
        live = status.get("state") in ACTIVE and isinstance(status.get("pid"), int)
        state = status["state"] if live else RunState.UNREADABLE
        status = {**status, "state": state, "error": unreadable_message(str(e)), "eta": None}
    return RunInfo(
        id=run_dir.name,
        path=run_dir,
        state=status.get("state", RunState.UNKNOWN),
        step=int(status.get("step", 0)),
        total=int(status.get("total", (cfg.train.steps or 0) if cfg else 0)),  # unset in an unresolved config
        recipe=cfg.recipe if cfg else "?",
        data=cfg.data.name if cfg else "?",
        created=float(status.get("created", mtime)),
        updated=float(status.get("updated", mtime)),
        eta=status.get("eta"),
        images_per_s=status.get("images_per_s"),
        error=status.get("error"),
        stopped_after_s=_stopped_for_time(status),
    )


def _stopped_for_time(status: dict) -> float | None:
    """``stopped_after_s`` of a stopped run's status (``training.train``'s time limit), or
    None; a hand-edited value that is not a plain number of seconds (inf, NaN, a string) is none."""
    limit = status.get("stopped_after_s") if status.get("state") == RunState.STOPPED else None
    return float(limit) if type(limit) in (int, float) and 0 < limit < 1e9 else None


def list_runs(runs_dir: str | Path, keep: Callable[[Path], bool] | None = None) -> list[RunInfo]:
    """Every run under ``runs_dir``, newest first; broken ones included as "unreadable".
    ``keep``: which run folders to read at all (a demo visitor's own, say: the others'
    files are then never opened)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = []
    for p in runs_dir.iterdir():
        try:
            if (keep is None or keep(p)) and (p / "config.json").is_file():
                runs.append(run_info(p))
        except OSError:
            continue  # deleted while listing
    return sorted(runs, key=lambda r: r.created, reverse=True)
