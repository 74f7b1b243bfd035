"""Background runs: launch, stop, resume. A run is a separate process
(``python -m gan_core train --resume RUN_DIR``) writing its run directory, so it
outlives the dashboard script run, browser tab or even server that started it.

The engine holds the server's limits here, whoever calls: the longest run
(``GAN_WORKBENCH_MAX_STEPS``) is refused before anything is created, and a training
slot is reserved atomically across processes: counting the active runs and creating
the new run directories happen under one exclusive lock on ``<runs_dir>/.slots.lock``,
so two browsers pressing Start in the same moment cannot both take the last slot.
A demo visitor's ``owner.json`` is written under that lock too, before any worker
can start.

Turns (a demo's visitors, who share its few slots): ``<runs_dir>/.turns.json`` records
who was refused a slot while whose runs held them. The visitors whose runs held them
cannot start or resume a run until the one they kept waiting has started one, or for
``TURN_KEPT_S`` after a slot came free (enough of those runs stopped). Without it, a run
stopped for time (``GAN_WORKBENCH_MAX_RUN_MINUTES``) could be resumed at once, forever,
and the limit would share nothing.

Several runs can be launched as one group (``launch_group``, the comparisons): all
of them reserved at once or none; side by side when a slot is free for each, else
queued in one worker (``python -m gan_core.jobs RUN_DIR ...``) that trains them one
after another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Iterator, Sequence

from . import visitors
from .config import Config
from .errors import GanError, RunError
from .recipes import as_trained, resolve
from .runs import (ACTIVE, RunInfo, RunState, create_run, list_runs, prepare_runs_dir, read_config, read_status,
                   request_stop, worker_identity, write_status)
from .settings import load_settings, worker_memory_mb, worker_nice
from .timefmt import duration
from .untrusted import Unreadable, open_regular

SLOTS_LOCK = ".slots.lock"  # in the runs folder; list_runs ignores it (not a run directory)
TURNS_FILE = ".turns.json"  # beside it, written only under it: who is owed the next slot
TURN_KEPT_S = 120.0  # how long a freed slot is kept for the visitor who was refused it
TURN_MAX_AGE_S = 3600.0  # and a claim is forgotten after this, whatever happened
MAX_TURNS = 500  # claims kept at most: past it, a newly refused visitor is promised nothing (the earlier keep theirs)

_children: list[subprocess.Popen] = []  # kept so finished workers are reaped, not left as zombies


def active_runs(runs_dir: str | Path) -> list[RunInfo]:
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)
    # Only the active runs' configs are read: a runs folder of thousands of finished runs
    # costs a status file each (this is counted on every Runs and Train page redraw).
    return [r for r in list_runs(runs_dir, keep=lambda p: read_status(p).get("state") in ACTIVE) if r.active]


def free_slots(runs_dir: str | Path, max_active: int | None) -> int | None:
    """How many more runs may train now (None = no limit)."""
    if max_active is None:
        return None
    return max(0, max_active - len(active_runs(runs_dir)))


@contextlib.contextmanager
def slots(runs_dir: str | Path) -> Iterator[int]:
    """Hold the runs folder's slot lock and yield how many runs are active. Whoever
    creates a run under it counts it before the next holder counts: flock is released
    by the kernel when the holder dies, so a killed server never leaves it held."""
    runs_dir = prepare_runs_dir(runs_dir)
    try:
        fd = os.open(runs_dir / SLOTS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise RunError(f"Cannot reserve a training slot in {runs_dir} ({e.strerror or e}); set --runs-dir or "
                       "GAN_WORKBENCH_RUNS_DIR to a folder you can write to.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield len(active_runs(runs_dir))
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _refuse_if_full(active: int, max_active: int | None, what: str | None = None,
                    runs_dir: Path | None = None, owner: str | None = None) -> None:
    """Refuse, in one sentence, when every slot is taken (under ``slots``). A demo visitor
    (``owner``) refused so is owed the next slot (``_claim``); one whose run kept another
    visitor waiting is refused until that visitor starts a run or lets the turn lapse (``turn_owed``)."""
    if max_active is not None and active >= max_active:
        runs_are = "1 run is" if active == 1 else f"{active} runs are"
        head = (f"{runs_are} already training or queued and the limit is {max_active}" if what is None else
                f"The {what} needs one free training slot, but {runs_are} already training and the limit is {max_active}")
        holders = _claim(runs_dir, owner, max_active) if runs_dir is not None and owner is not None else 0
        wait = f"{duration(TURN_KEPT_S, short=True)} before starting another, so try again then"
        then = (f"when it finishes, its owner waits {wait}" if holders and active == 1 else
                f"when they finish, their owner waits {wait}" if holders == 1 else
                f"when a slot comes free, the visitors whose runs hold them wait {wait}" if holders else
                "wait for one to finish, or stop one of your own" if what is None else "stop one or wait for it to finish")
        raise RunError(f"{head}; {then}.")
    if runs_dir is not None and owner is not None:
        refusal = _owed(_keep_turns(runs_dir), owner)  # freed times fixed, lapsed turns dropped, under the lock
        if refusal:
            raise RunError(refusal)


# --- turns: a visitor refused a slot is owed the next one (demo servers, where runs have owners)
#
# A claim is {"who": the refused visitor, "holders": the owners of the runs that held the
# slots, "behind": those runs' ids, "stops": how many of them must stop before a slot is
# free (all of them under a limit of 1; one, when as many runs as the limit held the
# slots), "at": when, "freed": when a slot came free, or None}. A comparison's queue
# counts as its runs, so it frees no slot until its last runs stop; a run deleted counts as
# stopped when that is first seen. The turn lasts TURN_KEPT_S from when a slot came free,
# and a claim whose turn is over is dropped.

_RUN_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,199}")


def _read_turns(runs_dir: Path) -> list[dict]:
    """The claims on disk; anything malformed (or a link, a FIFO, a huge file) is dropped."""
    try:
        with open_regular(runs_dir / TURNS_FILE, follow_links=False) as f:
            data = json.loads(f.read(1 << 20))
    except (OSError, ValueError, RecursionError, Unreadable):
        return []
    now, out = time.time(), []
    for t in data if isinstance(data, list) else []:
        try:
            who, holders, behind = t["who"], list(t["holders"]), list(t["behind"])
            at, freed = min(float(t["at"]), now), t.get("freed")  # a clock stepped back: not a claim from the future
            freed = None if freed is None else min(float(freed), now)
            stops = t.get("stops", len(behind))  # claims written before "stops": every run behind
            if not (isinstance(stops, int) and not isinstance(stops, bool) and 1 <= stops <= len(behind)):
                stops = len(behind)
            visitors.check_owner(who)
            for h in holders:
                visitors.check_owner(h)
        except (TypeError, KeyError, ValueError, OverflowError, AttributeError):
            continue
        if (behind and holders and all(isinstance(b, str) and _RUN_NAME.fullmatch(b) for b in behind)
                and now - TURN_MAX_AGE_S < at and at == at and (freed is None or freed == freed)):
            out.append({"who": who, "holders": holders, "behind": behind, "stops": stops, "at": at, "freed": freed})
    return out[:MAX_TURNS]


def _write_turns(runs_dir: Path, turns: list[dict]) -> bool:
    """Whether the claims were written (a claim that could not be is promised to no one)."""
    from .runs import atomic_write_json

    try:
        atomic_write_json(runs_dir / TURNS_FILE, turns[:MAX_TURNS])
    except OSError:
        return False
    return True


def _claim(runs_dir: Path, owner: str, max_active: int) -> int:
    """Record that ``owner`` was refused a slot while the active runs held the ``max_active``. How many
    visitors now owe ``owner`` a turn: 0 when ``owner`` holds one of the active runs, when
    no visitor does, or when the claim could not be kept on disk (nothing is promised)."""
    active = active_runs(runs_dir)
    holders = sorted({o for o in (visitors.run_owner(r.path) for r in active) if o is not None})
    if not holders or owner in holders:
        return 0  # their own run holds the slot, or nobody's does: nothing is owed
    turns, behind = _settled(runs_dir, _read_turns(runs_dir), {r.id for r in active}), sorted(r.id for r in active)
    if any(t["who"] == owner and t["behind"] == behind for t in turns):
        return len(holders)  # asking again behind the same runs does not push the turn later
    if len(turns) >= MAX_TURNS:
        return 0  # the earlier claims are kept, and this visitor is promised nothing
    stops = min(len(behind), max(1, len(behind) - max_active + 1))  # the first of them to stop frees a slot when they fill the limit
    turns.append({"who": owner, "holders": holders, "behind": behind, "stops": stops, "at": time.time(), "freed": None})
    return len(holders) if _write_turns(runs_dir, turns) else 0


def _freed(runs_dir: Path, turn: dict, active: set[str], now: float) -> float | None:
    """When a slot came free for a claim: its recorded time, else the stop of the runs it
    waited behind that freed one (the ``stops``-th to stop; a deleted run: now); None while
    too many of them still train or wait in a queue."""
    if turn["freed"] is not None:
        return turn["freed"]
    done = [name for name in turn["behind"] if name not in active]
    if len(done) < turn["stops"]:
        return None
    ended = []
    for name in done:
        updated = read_status(runs_dir / name).get("updated") if (runs_dir / name / "config.json").is_file() else None
        ok = isinstance(updated, (int, float)) and not isinstance(updated, bool) and updated == updated
        ended.append(min(float(updated), now) if ok else now)
    return max(turn["at"], sorted(ended)[turn["stops"] - 1])


def _settled(runs_dir: Path, turns: list[dict], active: set[str] | None = None) -> list[dict]:
    """The claims with their freed times filled in, and those whose turn is over dropped.
    ``active``: the ids of the active runs, when the caller has them."""
    if not turns:
        return turns
    if active is None:
        active = {r.id for r in active_runs(runs_dir)}
    now, kept = time.time(), []
    for t in turns:
        freed = _freed(runs_dir, t, active, now)
        if freed is None or now < freed + TURN_KEPT_S:
            kept.append({**t, "freed": freed})
    return kept


def turn_owed(runs_dir: str | Path, owner: str | None) -> str | None:
    """Why ``owner`` must let another visitor have a slot first, in one sentence, or None
    (the Runs page says it beside Resume; a start or resume is refused with it)."""
    if owner is None:
        return None
    runs_dir = Path(runs_dir)
    return _owed(_settled(runs_dir, _read_turns(runs_dir)), owner)


def _owed(settled: list[dict], owner: str) -> str | None:
    """``turn_owed``'s sentence from claims already settled (``_settled``)."""
    owed = [t for t in settled if t["who"] != owner and owner in t["holders"]]
    if not owed:
        return None
    waiting = [t for t in owed if t["freed"] is None]
    if waiting:
        when = "your runs stopping" if all(t["stops"] == len(t["behind"]) for t in waiting) else "a training slot coming free"
        return ("Another visitor asked for a training slot while your run trained, so the next turn is theirs; "
                f"you can start or resume a run again within {duration(TURN_KEPT_S, short=True)} of {when}.")
    minutes = max(1, math.ceil((max(t["freed"] for t in owed) + TURN_KEPT_S - time.time()) / 60))
    return ("Another visitor asked for a training slot while your run trained, so the next turn is theirs; "
            f"you can start or resume a run again within {minutes} min.")


def _keep_turns(runs_dir: Path) -> list[dict]:
    """Under ``slots``: write back the claims' freed times, drop those whose turn is over,
    and return what is kept."""
    turns = _read_turns(runs_dir)
    settled = _settled(runs_dir, turns)
    if settled != turns:
        _write_turns(runs_dir, settled)
    return settled


def _took_turn(runs_dir: Path, owner: str | None) -> None:
    """``owner`` has started a run (under ``slots``): what they were owed is settled."""
    if owner is None:
        return
    turns = _read_turns(runs_dir)
    kept = [t for t in turns if t["who"] != owner]
    if len(kept) != len(turns):
        _write_turns(runs_dir, kept)


def _make_room(runs_dir: Path, resuming: Path | None = None) -> None:
    """On a demo server, before a run starts or resumes (under ``slots``): sweep visitors'
    runs that are a day unchanged or past the demo's room (``visitors.sweep_runs``; never
    the run ``resuming``), which refuses in one sentence, removing nothing, when the runs
    that must stay fill it."""
    settings = load_settings()
    if settings.demo:
        visitors.sweep_runs(runs_dir, settings.demo_runs_bytes, settings.demo_keep_s, keep=resuming)


def check_steps(cfgs: Sequence[Config], what: str | None = None) -> None:
    """Refuse, in one sentence, runs longer than the server allows (``GAN_WORKBENCH_MAX_STEPS``).
    ``cfgs`` are resolved; ``what`` names a group ("the optimiser comparison")."""
    limit = load_settings().max_steps
    longest = max((c.train.steps or 0 for c in cfgs), default=0)
    if limit is None or longest <= limit:
        return
    if what is None:
        raise RunError(f"This server trains at most {limit:,} steps per run, not {longest:,}; choose {limit:,} steps or fewer.")
    raise RunError(f"The {what} would train {longest:,} steps per run and this server trains at most {limit:,}; "
                   f"choose {limit:,} steps or fewer.")


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


def memory_limit(device: str) -> Callable[[], None] | None:
    """A ``preexec_fn`` that caps a worker's data segment (``RLIMIT_DATA``) at
    ``settings.worker_memory_mb()`` (1.5 GB on a demo), or None where there is no limit
    or the work runs on a GPU (there the limit would count the CUDA driver's own host
    memory, and CUDA's out-of-memory error is the limit). Past the cap PyTorch's
    allocator fails cleanly in the worker, which says so in one sentence, instead of the
    machine's memory running out for the server and every visitor."""
    mb = worker_memory_mb()
    if mb is None or device != "cpu":
        return None

    def limit() -> None:  # runs in the child, between fork and exec
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (mb * 2**20, mb * 2**20))

    return limit


def _preexec(device: str) -> Callable[[], None] | None:
    """What a worker process does between fork and exec: the memory cap (``memory_limit``)
    and, when the operator asks (``settings.worker_nice``), a lower CPU priority."""
    cap, nice = memory_limit(device), worker_nice()
    if nice is None:
        return cap

    def both() -> None:
        if cap is not None:
            cap()
        os.nice(nice)

    return both


def _worker_device(run_dir: Path) -> str:
    """Where the run will compute: "cpu" unless its config asks for a GPU this machine has."""
    try:
        device = read_config(run_dir).train.device
    except (GanError, OSError, ValueError):
        return "cpu"
    if device == "cpu":
        return "cpu"
    import torch

    has_gpu = torch.cuda.is_available() or (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
    return "gpu" if has_gpu else "cpu"


def _start(command: list[str], run_dirs: list[Path], active: int) -> None:
    """Start a worker process with its output in the first run's train.log, and record
    its identity on every run it will train: if it dies, they read as "interrupted"."""
    try:
        with _open_log(run_dirs[0] / "train.log") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", *command, *map(str, run_dirs)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=worker_env(active),
                start_new_session=True,  # a Ctrl-C to the server does not kill its runs
                preexec_fn=_preexec(_worker_device(run_dirs[0])),
            )
        _children.append(proc)
        for run_dir in run_dirs:
            write_status(run_dir, **worker_identity(proc.pid))  # pid, host and start time: a reused pid is not it
    except OSError as e:
        for run_dir in run_dirs:
            with contextlib.suppress(OSError):
                write_status(run_dir, state=RunState.FAILED, error=f"The worker process could not start ({e.strerror or e}).")
        raise RunError(f"Cannot start the training process for {run_dirs[0].name} ({e.strerror or e}); check the runs "
                       "folder has free space and can be written.") from None


def _open_log(path: Path):
    """The run's train.log for appending, made if missing: never a symbolic link followed
    nor a named pipe waited on (an open for writing blocks until a reader comes), which
    raise ``OSError`` (ELOOP, or ENXIO for a pipe without a reader) or are refused here."""
    import stat

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "ab")


def _spawn(run_dir: Path, active: int = 0) -> None:
    # --worker: this process only starts what was queued; a STOP pressed meanwhile is honoured.
    _start(["gan_core", "train", "--no-progress", "--worker", "--resume"], [run_dir], active)


def _spawn_queue(run_dirs: list[Path], active: int = 0) -> None:
    """One worker training ``run_dirs`` one after another (``train_queue``)."""
    _start(["gan_core.jobs"], run_dirs, active)


def _create(cfg: Config, runs_dir: Path, owner: str | None) -> Path:
    run_dir = create_run(cfg, runs_dir)
    if owner is not None:
        visitors.write_owner(run_dir, owner)
    return run_dir


def launch(cfg: Config, runs_dir: str | Path, max_active: int | None = None, owner: str | None = None) -> Path:
    """Validate ``cfg``, create its run directory and start training it in the background.
    ``max_active``: refuse when this many runs are active (None: no limit). ``owner``: the
    demo visitor it belongs to (gan_core.visitors), recorded before it starts."""
    runs_dir = Path(runs_dir)
    cfg = resolve(cfg)  # a bad config fails here, before a run directory exists
    check_steps([cfg])
    with slots(runs_dir) as active:
        _refuse_if_full(active, max_active, runs_dir=runs_dir, owner=owner)
        _make_room(runs_dir)
        run_dir = _create(cfg, runs_dir, owner)
        _took_turn(runs_dir, owner)
    _spawn(run_dir, active)  # the queued run already holds its slot: the lock need not wait for the process
    return run_dir


def launch_group(cfgs: Sequence[Config], runs_dir: str | Path, max_active: int | None = None, owner: str | None = None,
                 what: str = "group of runs", tag: Callable[[list[Path]], None] | None = None) -> list[Path]:
    """Create every run of ``cfgs`` at once, or none, and start them: side by side (a
    worker each) when a slot is free for each, else queued in one worker that trains
    them in order. ``tag(run_dirs)`` writes what the group's runs share (experiment.json)
    before any worker starts. Refused in one sentence naming ``what`` when no slot is free."""
    runs_dir = Path(runs_dir)
    cfgs = [resolve(c) for c in cfgs]
    check_steps(cfgs, what)
    with slots(runs_dir) as active:
        _refuse_if_full(active, max_active, what, runs_dir=runs_dir, owner=owner)
        _make_room(runs_dir)
        run_dirs: list[Path] = []
        try:
            for cfg in cfgs:
                run_dirs.append(_create(cfg, runs_dir, owner))
            if tag is not None:
                tag(run_dirs)
        except BaseException:
            for run_dir in run_dirs:  # none, rather than part of a group
                _remove(run_dir)
            raise
        _took_turn(runs_dir, owner)
    if max_active is None or max_active - active >= len(run_dirs):
        for i, run_dir in enumerate(run_dirs):
            _spawn(run_dir, active + i)
    else:
        _spawn_queue(run_dirs, active)
    return run_dirs


def _remove(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)


def stop(run_dir: str | Path) -> None:
    """Ask a run to stop at its next step; it checkpoints first."""
    request_stop(run_dir)


def _check_resumable(run_dir: Path) -> None:
    if not (run_dir / "config.json").is_file():  # deleted, or swept on a demo while this waited for the lock
        raise RunError(f"Run {run_dir.name} no longer exists (deleted, or removed on a demo to make room); start a new run.")
    status = read_status(run_dir)
    state = status.get("state")
    if state == RunState.UNREADABLE:
        raise RunError(status["error"])
    if state in ACTIVE:
        raise RunError(f"Run {run_dir.name} is still {state}; stop it before resuming.")
    if state == RunState.FINISHED:
        raise RunError(f"Run {run_dir.name} has finished all its steps; start a new run to train longer.")
    refusal = resume_refusal(run_dir)
    if refusal:
        raise RunError(refusal)


def resume_refusal(run_dir: str | Path) -> str | None:
    """Why resuming a failed run would fail the same way again, in one sentence, or None:
    its settings are ones the engine now refuses (a run started before the refusal
    existed, e.g. batch norm over a batch of one item, crashes at its first step every time)."""
    if read_status(Path(run_dir)).get("state") != RunState.FAILED:
        return None
    try:
        resolve(as_trained(read_config(Path(run_dir))))
    except GanError as e:
        reason = str(e)
        return f"This run would fail the same way if resumed, because {reason[:1].lower()}{reason[1:].rstrip('.')} in a new run."
    return None


def resume(run_dir: str | Path, max_active: int | None = None) -> None:
    """Queue a stopped, interrupted, failed or diverged run again and start its worker."""
    run_dir = Path(run_dir)
    _check_resumable(run_dir)
    limit = load_settings().max_steps
    steps = (read_config(run_dir).train.steps or 0) if limit is not None else 0
    if limit is not None and steps > limit:
        raise RunError(f"Run {run_dir.name} trains {steps:,} steps and this server trains at most {limit:,} per run; "
                       f"start a new run of {limit:,} steps or fewer.")
    owner = visitors.run_owner(run_dir)
    with slots(run_dir.parent) as active:
        _check_resumable(run_dir)  # again: another process may have resumed it while this one waited
        _refuse_if_full(active, max_active, runs_dir=run_dir.parent, owner=owner)
        _make_room(run_dir.parent, resuming=run_dir)
        (run_dir / "STOP").unlink(missing_ok=True)
        # The old worker's identity goes with it: kept, it would read "interrupted" (its pid
        # is dead) until the new worker is recorded, to the slot count and to a sweep alike.
        write_status(run_dir, state=RunState.QUEUED, error=None, message=None, pid=None, pid_start=None, host=None, boot_id=None,
                     stopped_after_s=None)
        _took_turn(run_dir.parent, owner)
    _spawn(run_dir, active)


# --- the queue: one worker process training a group's runs one after another


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


def train_queue(run_dirs: Sequence[str | Path], time_limit_s: float | None = None) -> list[str]:
    """Train queued runs one after another in this process; returns their final states.

    A run that is no longer queued (resumed or deleted meanwhile) is left alone; a
    queued run with a STOP request is marked stopped without training. ``time_limit_s``
    (the server's worker passes ``Settings.max_run_s``): the whole queue trains at most
    this long, each run the time left shared by the runs left, so a comparison holds the
    server's slot no longer than one run may and its runs get even shares."""
    from .training import resume as train_resume  # imports torch: only the worker pays for it

    states: list[str] = []
    run_dirs = [Path(d) for d in run_dirs]
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    for i, run_dir in enumerate(run_dirs, 1):
        if not (run_dir / "config.json").is_file():
            states.append("missing")
            continue
        with _output_to(run_dir / "train.log"):
            state = read_status(run_dir).get("state")
            if state != RunState.QUEUED:
                print(f"Queue: skipping {run_dir.name}, which is {state}.", flush=True)
                states.append(state)
                continue
            if (run_dir / "STOP").exists():
                write_status(run_dir, state=RunState.STOPPED, eta=None,
                             message="Stopped before it started; resume trains it from the start.")
                print(f"Queue: {run_dir.name} was stopped before it started.", flush=True)
                states.append(RunState.STOPPED)
                continue
            print(f"Queue: training {run_dir.name} ({i} of {len(run_dirs)})", flush=True)
            try:
                share = None if deadline is None else max(0.0, deadline - time.monotonic()) / (len(run_dirs) - i + 1)
                status = train_resume(run_dir, time_limit_s=share)
            except Exception:  # train() has recorded the failure in status.json
                traceback.print_exc()
                states.append(read_status(run_dir).get("state", RunState.FAILED))
                continue
            print(f"Queue: {run_dir.name} {status.get('state')} at step {status.get('step')}", flush=True)
            states.append(status.get("state"))
    return states


def _main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m gan_core.jobs RUN_DIR [RUN_DIR ...]  (trains queued runs one after another)", file=sys.stderr)
        return 2
    train_queue(argv, time_limit_s=load_settings().max_run_s)  # the server's worker: its time limit
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
