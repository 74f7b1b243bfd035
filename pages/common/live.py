"""Following a background run from its directory while it trains: its metrics rows,
read incrementally per session, and the end of its log. Not a page itself."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from gan_core import runs
from gan_core.untrusted import Unreadable, open_regular


def read_all_metrics(run_dir: Path) -> list[dict]:
    """Every metrics row of a run, reading only the bytes added since the last call
    in this session. A resume rewrites metrics.jsonl (new inode), which starts over."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return []
    cache = st.session_state.setdefault("_metrics_cache", {})
    key = str(run_dir)
    entry = cache.get(key)
    if entry is None or entry["inode"] != stat.st_ino or entry["offset"] > stat.st_size:
        entry = {"inode": stat.st_ino, "offset": 0, "rows": []}
    rows, entry["offset"] = runs.read_metrics(run_dir, entry["offset"])
    entry["rows"].extend(rows)
    cache[key] = entry
    return entry["rows"]


def log_tail(run_dir: Path, lines: int = 30) -> str:
    """The last lines of a background run's train.log, read from its end."""
    path = Path(run_dir) / "train.log"
    try:  # as the run wrote it: a link (to /etc/passwd, say), a pipe or /dev/zero shows nothing
        with open_regular(path, follow_links=False) as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read(16384).decode("utf-8", errors="replace")
    except (OSError, Unreadable):
        return ""
    return "\n".join(text.splitlines()[-lines:])
