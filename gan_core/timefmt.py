"""Times and durations in words, as the Runs page's table shows them."""

from __future__ import annotations

from datetime import datetime, timedelta


def when(t: float, now: datetime | None = None) -> str:
    """A human time: "just now", "12 min ago", "today 14:02", "yesterday 09:30", "3 Nov 18:15"."""
    now = now or datetime.now()
    then = datetime.fromtimestamp(t)
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if then.date() == now.date():
        return f"today {then:%H:%M}"
    if then.date() == (now - timedelta(days=1)).date():
        return f"yesterday {then:%H:%M}"
    return f"{then.day} {then:%b %Y %H:%M}" if then.year != now.year else f"{then.day} {then:%b %H:%M}"


def duration(seconds: float | None, short: bool = False) -> str:
    """"2 min 05 s" (or, short, "2 min"); empty when unknown."""
    if seconds is None:
        return ""
    seconds = int(round(max(0.0, seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" if short else f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
