"""health.shown_state: a run's state as every page shows it, with its colour and the
reason beside it, computed once in the engine (what the Runs and Train pages showed
each in their own way)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from conftest import tiny
from gan_core import runs
from gan_core.health import Shown, ShownState, shown_state
from gan_core.recipes import resolve
from gan_core.runs import RunState

CALM = [{"step": s, "loss_d": 1.3, "loss_g": 0.8} for s in range(10, 110, 10)]
BLOWN = CALM[:-1] + [{"step": 100, "loss_d": 1.3, "loss_g": 8.9e6}]
BLOWN_SENTENCE = ("The generator loss was 8,900,000 at step 100, far beyond the 100,000 a working run stays under: "
                  "training blew up and its samples cannot be trusted; lower the learning rates and train again.")


@pytest.fixture
def run(tmp_path):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8", steps=100)), tmp_path)

    def info(state: str, rows: list[dict] | None = None, stop: bool = False, **status) -> runs.RunInfo:
        if rows is not None:
            (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if stop:
            runs.request_stop(run_dir)
        runs.write_status(run_dir, **status)
        # The state as given: a run whose worker is gone would read as interrupted.
        return dataclasses.replace(runs.run_info(run_dir), state=RunState(state))

    return info


@pytest.mark.parametrize("state, shown, colour", [
    ("queued", "queued", "blue"),
    ("running", "running", "blue"),
    ("finished", "finished", "green"),
    ("stopped", "stopped", "orange"),
    ("interrupted", "interrupted", "orange"),
    ("unknown", "unknown", "gray"),
])
def test_a_calm_run_shows_its_own_state(run, state, shown, colour):
    s = shown_state(run(state, CALM))
    assert s == ShownState(RunState(state), Shown(shown), colour, None)
    assert s.badge() == f":{colour}-badge[{shown}]"


@pytest.mark.parametrize("state", ["diverged", "failed"])
def test_a_run_that_failed_is_red_with_its_error(run, state):
    s = shown_state(run(state, BLOWN, error="The generator loss became NaN at step 100."))
    assert (s.shown, s.colour, s.reason) == (state, "red", "The generator loss became NaN at step 100.")  # its own error first


def test_an_unreadable_run_is_gray_with_what_is_wrong(run, tmp_path):
    (next(tmp_path.iterdir()) / "status.json").write_text("{not json")
    (info,) = runs.list_runs(tmp_path)
    s = shown_state(info)
    assert (s.state, s.shown, s.colour, s.css) == ("unreadable", "unreadable", "gray", "#808495")  # a colour the table renders
    assert s.reason.startswith("This run cannot be read: status.json is not valid JSON")


@pytest.mark.parametrize("state", ["queued", "running"])
def test_an_active_run_with_a_stop_request_shows_stopping(run, state):
    s = shown_state(run(state, CALM, stop=True))
    assert (s.state, s.shown, s.colour, s.reason) == (state, "stopping", "orange", None)
    assert s.badge() == ":orange-badge[stopping]"


@pytest.mark.parametrize("state", ["finished", "stopped", "interrupted"])
def test_a_run_that_ended_cleanly_but_blew_up_shows_exploded_never_finished(run, state):
    s = shown_state(run(state, BLOWN))
    assert (s.state, s.shown, s.colour, s.reason) == (state, "exploded", "red", BLOWN_SENTENCE)
    assert s.badge() == ":red-badge[exploded]" and s.css == "#e0353a"


def test_a_stop_file_left_on_an_ended_run_does_not_make_it_stopping(run):
    assert shown_state(run("stopped", CALM, stop=True)).shown == "stopped"


def test_a_run_still_training_keeps_its_state_and_says_it_blew_up(run):
    s = shown_state(run("running", BLOWN))
    assert (s.shown, s.colour, s.reason) == ("running", "blue", BLOWN_SENTENCE)


def test_only_the_last_rows_count_and_rows_given_are_used_instead_of_the_file(run):
    recovered = BLOWN[:5] + CALM[5:]  # blew up once, long before its last rows
    assert shown_state(run("finished", recovered)).shown == "finished"
    info = run("finished", CALM)
    assert shown_state(info, rows=BLOWN).shown == "exploded"  # the caller's rows, not the file's
    assert shown_state(info, rows=[]).shown == "finished"


def test_a_long_metrics_file_is_judged_by_its_end(run):
    rows = [{"step": s, "loss_d": 1.3, "loss_g": 0.8} for s in range(1, 20001)]
    rows[-1] = {"step": 20000, "loss_d": 1.3, "loss_g": math.inf}
    s = shown_state(run("stopped", rows))  # about 900 KB, judged by its last rows
    assert s.shown == "exploded" and "became infinite at step 20,000" in s.reason


def test_css_and_colours_are_the_runs_tables():
    # The colours the Runs page used for its table text, from Streamlit's badge palette.
    assert {c: ShownState(RunState.QUEUED, Shown.QUEUED, c, None).css for c in ("blue", "green", "orange", "red")} == {
        "blue": "#1c83e1", "green": "#21c354", "orange": "#e07a00", "red": "#e0353a"}
