"""gan_core.timefmt: the Runs table's times and durations, at known instants."""

from datetime import datetime

from gan_core.timefmt import duration, when

NOW = datetime(2026, 3, 10, 14, 30)


def at(*args) -> float:
    return datetime(*args).timestamp()


def test_when():
    assert when(at(2026, 3, 10, 14, 29, 30), NOW) == "just now"
    assert when(at(2026, 3, 10, 14, 18), NOW) == "12 min ago"
    assert when(at(2026, 3, 10, 9, 5), NOW) == "today 09:05"
    assert when(at(2026, 3, 9, 23, 59), NOW) == "yesterday 23:59"
    assert when(at(2026, 2, 3, 18, 15), NOW) == "3 Feb 18:15"
    assert when(at(2025, 11, 3, 18, 15), NOW) == "3 Nov 2025 18:15"  # another year names it


def test_duration():
    assert duration(None) == ""
    assert duration(-3) == "0 s" and duration(59.4) == "59 s"
    assert duration(125) == "2 min 05 s" and duration(125, short=True) == "2 min"
    assert duration(2 * 3600 + 7 * 60 + 30) == "2 h 07 min"
