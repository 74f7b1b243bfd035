"""Following a background run from its directory while it trains: its metrics rows,
read incrementally per session, and the end of its log. Not a page itself."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from gan_core import runs
from gan_core.health import HISTORY
from gan_core.untrusted import Unreadable, open_regular


FOLLOWED = 2  # runs whose metrics a session keeps following (a few MB each for long runs)


def follow_metrics(run_dir: Path) -> runs.MetricsFollower:
    """A run's metrics as this session follows it (``runs.MetricsFollower``): each call
    reads only the bytes added since the last one; ``rows`` (evenly thinned past a few
    thousand) for the charts, ``recent`` (the last health.HISTORY rows) for the judgement.
    A resume rewrites metrics.jsonl (new inode), which starts over."""
    cache = st.session_state.setdefault("_metrics_followers", {})
    key = str(run_dir)
    follower = cache.pop(key, None) or runs.MetricsFollower(run_dir, recent=HISTORY)
    cache[key] = follower  # the most recent last
    while len(cache) > FOLLOWED:  # a visitor clicking through many runs keeps the last two, not all of them
        cache.pop(next(iter(cache)))
    return follower.update()


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
