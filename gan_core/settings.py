"""Where things live and what a deployment allows, from environment variables.

    GAN_WORKBENCH_RUNS_DIR     run directories (default: ./runs next to app.py)
    GAN_WORKBENCH_DATA_ROOT    server folders users may train on must be under it
                               (default: ./data next to app.py)
    GAN_WORKBENCH_DEMO         1 = public demo: short runs, one at a time
    GAN_WORKBENCH_MAX_RUNS     concurrent background runs (default 2, demo 1)
    GAN_WORKBENCH_MAX_STEPS    longest run allowed (default none, demo 2000); a demo's
                               form starts at 300 steps (``Settings.default_steps``)
    GAN_WORKBENCH_MAX_RUN_MINUTES  how long a background worker trains a run before it
                               stops it, checkpointed and resumable (default none, demo 3)
    GAN_WORKBENCH_MEMORY_BUDGET  memory one request may use, in MB (default 2048,
                               demo 256; ``gan_core.budget`` holds every request to it)
    GAN_WORKBENCH_MAX_UPLOAD_MB  one uploaded file, in MB (default 200, demo 32); the
                               server refuses a larger body while it arrives
    GAN_WORKBENCH_VISITOR_UPLOADS_MB  all the files one visitor's browser holds on the
                               server at once, in MB (default 600, demo 64)
    GAN_WORKBENCH_WORKER_MEMORY_MB  the data segment a CPU training or timing worker may
                               use, in MB (default none, demo 1536); a run that needs
                               more fails in one sentence instead of the server's machine
    GAN_WORKBENCH_DEMO_RUNS_MB  demo only: the disk every visitor's runs may hold together
                               (default 2048); past it the longest-unchanged ones go
    GAN_WORKBENCH_DEMO_KEEP_HOURS  demo only: how long a visitor's run is kept after it
                               last changed (default 24)

The dashboard and the command line read the same settings, so a GPU server and
the dashboard browsing its runs agree on where runs are. The engine enforces the
limits whoever calls it: ``gan_core.jobs`` refuses runs longer than MAX_STEPS in
launches, resumes and comparisons; a worker it starts stops its run after
MAX_RUN_MINUTES (``training.train``'s ``time_limit_s``); MAX_RUNS is the ``max_active`` the dashboard
passes to them (``None`` there means no limit, as for the command line's own runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent  # the repository (app.py, checkpoints/)


@dataclass(frozen=True)
class Settings:
    runs_dir: Path
    data_root: Path
    checkpoints_dir: Path  # demo checkpoints shipped with the repository
    demo: bool
    max_active_runs: int
    max_steps: int | None
    memory_budget_mb: int = 2048  # DEFAULT_MEMORY_BUDGET_MB; a field with a default, so Settings(...) built by hand still works
    demo_runs_bytes: int = 2048 << 20  # DEMO_RUNS_MB: what every visitor's runs may hold together on a demo
    demo_keep_s: float = 24 * 3600.0  # DEMO_KEEP_HOURS: how long a visitor's run is kept after it last changed
    max_run_s: float | None = None  # MAX_RUN_MINUTES: a background worker stops a run after this long, resumable
    default_steps: int | None = None  # the longest run the Train page's form starts at (a demo's), before a visitor changes it


# A public demo's runs (docs/DEPLOY.md, "What demo mode does"). What a demo must protect
# is its cores' time, shared by every visitor through its one training slot, and a step
# is a poor measure of it: the quick starts' 2,000 steps of the original GAN on 2-D
# points take 14 s here, 300 steps of the default DCGAN 21 s, its 2,000 about 140 s. So
# a run may have up to DEMO_MAX_STEPS steps, and a worker stops it, checkpointed, after
# DEMO_MAX_RUN_MINUTES of training at a stretch (Resume continues it); the form starts at
# DEMO_DEFAULT_STEPS, the run that shows faces in about 20 s.
DEMO_MAX_STEPS = 2000
DEMO_MAX_RUN_MINUTES = 3
DEMO_DEFAULT_STEPS = 300
MAX_RUN_MINUTES = 100_000  # about ten weeks: more is no limit, and past float range it was a traceback


# Per-request memory (GAN_WORKBENCH_MEMORY_BUDGET, MB). The demo's figure fits Community
# Cloud's ~1 GB beside the server's own ~530 MB (CPU wheels) and leaves the one training
# worker its ~520 MB only while nobody asks for much: docs/DEPLOY.md "Memory budget".
DEFAULT_MEMORY_BUDGET_MB = 2048
DEMO_MEMORY_BUDGET_MB = 256


def demo_mode() -> bool:
    return os.environ.get("GAN_WORKBENCH_DEMO", "").lower() in ("1", "true", "yes", "on")


def memory_budget_mb() -> int:
    """The memory one request may use, in MB: GAN_WORKBENCH_MEMORY_BUDGET, else the
    demo or the ordinary default. Read on every call (no other variable is parsed), so
    the engine's budget checks cost nothing and follow the environment."""
    return _int("GAN_WORKBENCH_MEMORY_BUDGET", DEMO_MEMORY_BUDGET_MB if demo_mode() else DEFAULT_MEMORY_BUDGET_MB)


# Uploads. Streamlit keeps every uploaded file in the server's memory for as long as the
# visitor's session holds it (until the file is removed from its widget or the session
# ends, 30 s after the browser goes: .streamlit/config.toml), so what the visitors send
# is memory the server pays for. Per file: the demo's 32 MB takes a 48-megapixel phone
# JPEG (5-25 MB), a demo-sized checkpoint (the shipped ones are 0.1-7 MB) and a zip of a
# few hundred small pictures; 200 MB is the ordinary server's (a 256-px DCGAN checkpoint
# is about 190 MB). Per visitor: the demo's 64 MB is the Pix2Pix page's 10 pictures at
# about 6 MB each; three 190 MB junk files (2.16 GB peak before this limit) are refused
# as each body arrives, and 200 pictures stop at the 64 MB mark.
DEFAULT_UPLOAD_MB, DEMO_UPLOAD_MB = 200, 32
DEFAULT_VISITOR_UPLOADS_MB, DEMO_VISITOR_UPLOADS_MB = 600, 64


@dataclass(frozen=True)
class UploadLimits:
    file_bytes: int  # one file
    visitor_bytes: int  # every file one visitor's session holds on the server at once


def upload_limits() -> UploadLimits:
    """What one file and one visitor may upload: GAN_WORKBENCH_MAX_UPLOAD_MB and
    GAN_WORKBENCH_VISITOR_UPLOADS_MB, else the demo or the ordinary defaults. A file is
    never allowed more than a visitor is. Read on every call, like the memory budget."""
    demo = demo_mode()
    file_mb = _int("GAN_WORKBENCH_MAX_UPLOAD_MB", DEMO_UPLOAD_MB if demo else DEFAULT_UPLOAD_MB)
    visitor_mb = _int("GAN_WORKBENCH_VISITOR_UPLOADS_MB", DEMO_VISITOR_UPLOADS_MB if demo else DEFAULT_VISITOR_UPLOADS_MB)
    return UploadLimits(file_bytes=min(file_mb, visitor_mb) * 2**20, visitor_bytes=visitor_mb * 2**20)


# A worker (a training run, or the few steps that time one) is a process of its own with
# its own PyTorch: importing it and the engine takes about 0.9 GB of the data segment
# (RLIMIT_DATA counts mappings, not resident pages); 1.5 GB runs every default config
# (the default dcgan's timing needs 1.2 GB) and refuses form values that would need
# gigabytes a step (dcgan at 128 px with batch 4,096 took a worker to 2.3 GB).
DEMO_WORKER_MEMORY_MB = 1536


def worker_memory_mb() -> int | None:
    """GAN_WORKBENCH_WORKER_MEMORY_MB, else 1536 in demo mode and no limit otherwise."""
    return _int("GAN_WORKBENCH_WORKER_MEMORY_MB", DEMO_WORKER_MEMORY_MB if demo_mode() else None)


def worker_nice() -> int | None:
    """GAN_WORKBENCH_WORKER_NICE (1 to 19): how much lower a training worker's CPU priority
    is than the dashboard's, so its pages stay quick while runs train on the same cores
    (a worker alone on an idle machine runs at full speed whatever its niceness). Unset:
    the workers' priority is the server's."""
    return _int("GAN_WORKBENCH_WORKER_NICE", None, most=19)


# A public demo's disk (docs/RELIABILITY.md, "Disk: a demo's runs are swept"): visitors'
# runs are swept when a run starts or resumes (gan_core.visitors.sweep_runs), the
# unchanged ones after a day and, past 90% of this many MB (or 1,000 runs) for every
# visitor together, the longest-unchanged first: a visitor who leaves never deletes
# their runs, and nothing else bounded a demo's disk.
DEMO_RUNS_MB = 2048
DEMO_KEEP_HOURS = 24


def demo_runs_limits() -> tuple[int, float]:
    """(bytes every visitor's runs may hold together, seconds a run is kept after it last
    changed) on a demo server: GAN_WORKBENCH_DEMO_RUNS_MB and GAN_WORKBENCH_DEMO_KEEP_HOURS."""
    return (_int("GAN_WORKBENCH_DEMO_RUNS_MB", DEMO_RUNS_MB) << 20,
            _int("GAN_WORKBENCH_DEMO_KEEP_HOURS", DEMO_KEEP_HOURS) * 3600.0)


def demo_keeping(settings: "Settings") -> str:
    """How long a demo keeps a visitor's runs, as the pages say it after "kept"."""
    return (f"for {settings.demo_keep_s / 3600:g} hours after they last change (sooner, oldest first, when the demo's "
            f"{settings.demo_runs_bytes >> 20:,} MB for runs are nearly full)")


def run_time_limit(settings: "Settings") -> str | None:
    """How long a worker trains a run at a time on this server, as the pages say it
    ("3 min"), or None where runs are not stopped for time."""
    from .timefmt import duration

    return None if settings.max_run_s is None else duration(settings.max_run_s, short=True)


def run_limits(settings: "Settings") -> str:
    """What this server allows one run, as the pages say it after "runs ..."."""
    steps = f"may have up to {settings.max_steps:,} steps" if settings.max_steps else None
    time = run_time_limit(settings)
    if time is None:
        return steps or "are not capped in length"
    return f"{steps + ' and ' if steps else ''}train for {time} at a stretch (Resume continues them)"


def _int(name: str, default: int | None, most: int | None = None) -> int | None:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"Environment variable {name} must be a whole number, not {raw!r}.") from None
    if value < 1:
        raise ConfigError(f"Environment variable {name} must be at least 1, not {value}.")
    if most is not None and value > most:
        raise ConfigError(f"Environment variable {name} must be at most {most:,}, not {raw[:20]}{'…' if len(raw) > 20 else ''}.")
    return value


def load_settings() -> Settings:
    demo = demo_mode()
    max_steps = _int("GAN_WORKBENCH_MAX_STEPS", DEMO_MAX_STEPS if demo else None)
    minutes = _int("GAN_WORKBENCH_MAX_RUN_MINUTES", DEMO_MAX_RUN_MINUTES if demo else None, most=MAX_RUN_MINUTES)
    return Settings(
        runs_dir=Path(os.environ.get("GAN_WORKBENCH_RUNS_DIR") or ROOT / "runs").expanduser().resolve(),
        data_root=Path(os.environ.get("GAN_WORKBENCH_DATA_ROOT") or ROOT / "data").expanduser().resolve(),
        checkpoints_dir=ROOT / "checkpoints",
        demo=demo,
        max_active_runs=_int("GAN_WORKBENCH_MAX_RUNS", 1 if demo else 2),
        max_steps=max_steps,
        memory_budget_mb=memory_budget_mb(),
        max_run_s=None if minutes is None else minutes * 60.0,
        default_steps=min(DEMO_DEFAULT_STEPS, max_steps or DEMO_DEFAULT_STEPS) if demo else None,
        # Read here, so a bad value is the dashboard's one sentence (settings_or_stop), not a caption's traceback.
        **dict(zip(("demo_runs_bytes", "demo_keep_s"), demo_runs_limits())) if demo else {},
    )


def check_server_path(path: str, settings: Settings) -> Path:
    """A folder or zip on the server that a dashboard user may train on: it must
    exist and lie under the data root (no reading arbitrary server files)."""
    from .untrusted import shown_name  # typed by a visitor: shown shortened, its control characters made visible

    shown = shown_name(str(path), 80)
    try:
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = settings.data_root / p
        p = p.resolve()
        inside = p == settings.data_root or settings.data_root in p.parents
        exists = inside and p.exists()
    except (OSError, RuntimeError, ValueError, UnicodeError):  # a name too long, a loop of links, a NUL, a lone surrogate
        raise ConfigError(f"{shown} cannot be a path on this server (too long, a loop of links, or a character no file name "
                          f"holds); type the name of a folder or .zip under {settings.data_root}.") from None
    if not inside:
        raise ConfigError(f"{shown} is outside the data folder {settings.data_root}; put your data there or set GAN_WORKBENCH_DATA_ROOT.")
    if not exists:
        raise ConfigError(f"{shown} does not exist under {settings.data_root}; check the name.")
    return p
