"""The Train page remembers the visitor's run (issue #21): opened from the sidebar
without ?run=, and after a refresh, its live view shows the latest run, stopped with
Resume, instead of "No run is training now". In Chromium against a real server."""

from __future__ import annotations

import pytest

from gan_core import runs
from gan_core.config import Config
from gan_core.recipes import resolve
from gan_core.training import train

pytestmark = pytest.mark.e2e


def stopped_run(runs_dir):
    """A real run of a few steps, stopped by the user at step 3 (STOP), as a visitor leaves it."""
    cfg = resolve(Config(recipe="gan").replace(**{
        "data.name": "ring-8", "data.n_points": 512, "model.width": 8, "train.steps": 50, "train.batch_size": 16,
        "train.log_every": 1, "train.sample_every": 2, "train.device": "cpu"}))
    run_dir = runs.create_run(cfg, runs_dir)
    status = train(cfg, run_dir, on_progress=lambda step, total, row: step >= 3 and (run_dir / "STOP").touch())
    assert status["state"] == "stopped", status
    return run_dir


def test_a_later_visit_and_a_refresh_show_the_latest_run_with_resume(server, browser, screenshots):
    run_dir = stopped_run(server.runs_dir)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.set_default_timeout(60_000)
    try:
        page.goto(server.url + "/")
        page.get_by_role("link", name="Train").click()  # a later visit: from the sidebar, no ?run= in the address
        page.get_by_role("button", name="Resume").wait_for()
        assert f"run={run_dir.name}" in page.url
        assert page.get_by_text("gan on ring-8").count() >= 1
        assert page.get_by_text("No run is training now").count() == 0
        page.reload()
        page.get_by_role("button", name="Resume").wait_for()
        assert page.get_by_text("No run is training now").count() == 0
        page.screenshot(path=screenshots / "train-remembers-run.png", full_page=True)
    except BaseException:
        page.screenshot(path=screenshots / "train-remembers-failure.png", full_page=True)
        print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")
        raise
