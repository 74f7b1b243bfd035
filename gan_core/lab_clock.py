"""The live labs' clock: how fast their frames come and how much of a frame is left
for training. Both lab pages draw a frame every few tenths of a second while they
play; this is the arithmetic they share, apart from Streamlit so it can be tested.

``FrameRate`` keeps the last few frames' times, each with one figure of the page's
choice (the seconds of work the frame took, or the step it reached), for the rate
line above the plot. ``training_budget`` is the 2-D lab's "auto" speed: each frame
trains for what drawing the last one left of the frame's time.
"""

from __future__ import annotations

import time
from collections import deque


class FrameRate:
    """The last ``keep`` frames: (time, figure) pairs. Few enough that the rate
    follows a change of speed within a few seconds, enough to smooth one slow frame."""

    def __init__(self, keep: int):
        self.ticks: deque[tuple[float, float]] = deque(maxlen=keep)

    def tick(self, figure: float, now: float | None = None) -> None:
        self.ticks.append((time.perf_counter() if now is None else now, float(figure)))

    def _span(self) -> float | None:
        # Fewer than three frames say more about the start than about the rate.
        if len(self.ticks) < 3:
            return None
        return max(self.ticks[-1][0] - self.ticks[0][0], 1e-9)

    def fps(self) -> float | None:
        """Frames per second over the kept frames, or None before there are three."""
        span = self._span()
        return None if span is None else (len(self.ticks) - 1) / span

    def mean(self) -> float | None:
        """The kept frames' mean figure (the work per frame), or None before three frames."""
        return None if self._span() is None else sum(f for _, f in self.ticks) / len(self.ticks)

    def per_second(self) -> float | None:
        """How fast the figure grew (steps per second), or None before three frames."""
        span = self._span()
        return None if span is None else (self.ticks[-1][1] - self.ticks[0][1]) / span


def training_budget(frame_s: float, drawing_s: float, least_s: float, slack_s: float = 0.01) -> float:
    """Seconds of training for the next frame: what is left of ``frame_s`` after the
    last frame's drawing and a little slack for the rest of the loop, but at least
    ``least_s``, so a machine too slow to draw in time still trains."""
    return max(least_s, frame_s - drawing_s - slack_s)


__all__ = ["FrameRate", "training_budget"]
