"""The lab pages' frame loop, in one place: Play / Pause / Step buttons that act once
per click, the live fragment and its timer, and the frame rate line. The two lab
pages train inside their own script runs (README, "The dashboard"); what they train
and draw is theirs, how often and how they keep up is this module's. Not a page
itself (app.py lists pages explicitly).
"""

from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from gan_core.lab_clock import FrameRate
from pages.common.streamlit_internals import fragment_rerun

FRAME_S = 0.16  # a frame this often while playing (6 per second) when the machine keeps up
# One timer's rerun of the live fragment draws frames for this long, then its timer
# starts the next: a browser slower than the server falls at most this far behind.
LOOP_S = 3.0


def click_guard(page: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Call at the top of a lab page, before its buttons; returns the decorator that
    makes a button's callback act once per click.

    A click's callbacks run before the script; when another rerun (the live
    fragment's timer) cuts that run short before the page starts, Streamlit replays
    the click in the next run, and a Step would train twice. Each guarded callback
    marks itself handled once it has acted; a page run that starts (this call)
    clears the marks. A rerun can also stop a callback midway, at any session-state
    access, and then the replay must run it: so a guarded callback reads and writes
    session state first and does its one lasting act (training, a toggle) last."""
    key = f"_{page}_handled"
    st.session_state[key] = set()

    def once(callback: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            handled = st.session_state.setdefault(key, set())  # fetched first: no session access after the act
            if callback.__name__ not in handled:
                callback()
                handled.add(callback.__name__)

        run.__name__ = callback.__name__
        return run

    return once


def live(part: Callable[..., None], animating: bool, *args) -> None:
    """Run ``part(*args)`` as the page's live fragment: animating, its timer reruns it
    every FRAME_S (and ``play`` keeps drawing within each rerun); otherwise it runs
    once with the page and waits for a click."""
    st.fragment(run_every=FRAME_S if animating else None)(part)(*args)


def play(frame: Callable[[], None], animating: bool) -> None:
    """Draw ``frame()`` once in a full run of the page. Animating, in a timer's rerun
    of the live fragment, draw one every FRAME_S for up to LOOP_S into the same
    placeholders: a rerun of the fragment rebuilds its elements in the browser, a
    frame within the loop only replaces them, so the loop keeps 5 frames a second
    where one rerun per frame did not. A click stops the loop at once: Streamlit
    interrupts it for the rerun."""
    until = time.perf_counter() + (LOOP_S if animating and fragment_rerun() else 0.0)
    while True:
        started = time.perf_counter()
        frame()
        if not animating or time.perf_counter() >= until:
            return
        time.sleep(max(0.0, FRAME_S - (time.perf_counter() - started)))


def frame_rate(page: str, keep: int, restart: bool = False) -> FrameRate:
    """The session's frame rate of ``page``'s live view (a fresh one on ``restart``:
    Play starts measuring anew rather than averaging over the pause)."""
    key = f"_{page}_ticks"
    if restart or not isinstance(st.session_state.get(key), FrameRate):
        st.session_state[key] = FrameRate(keep)
    return st.session_state[key]


def rate_line(rate: FrameRate, figure: str) -> str:
    """The rate for the status line: frames per second and ``figure``, "work" (the
    mean seconds of work per frame) or "steps" (training steps per second); empty
    until there are frames enough to tell."""
    fps = rate.fps()
    if fps is None:
        return ""
    if figure == "work":
        return f"{fps:.1f} frames/s · {1000 * rate.mean():.0f} ms of work per frame"
    return f"{fps:.1f} frames/s · {rate.per_second():.0f} steps/s"


__all__ = ["FRAME_S", "LOOP_S", "click_guard", "live", "play", "frame_rate", "rate_line"]
