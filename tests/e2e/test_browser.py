"""End to end in a real browser: start a DCGAN on the built-in faces from the Train
page, watch the loss curves and sample grid arrive, refresh and leave the page and
come back (the run carries on and is re-attached), stop it, then open the
gallery page and see an image.

Prints the seconds from clicking Start to the first sample grid on screen, with a
breakdown from the run's files. The dashboard promises under 20 s on a 2-core CPU;
on a machine busy with other work, raise the bar with GAN_E2E_FIRST_GRID_LIMIT=<s>.
Screenshots go to tests/e2e/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
import json
import os
import time

import pytest

pytestmark = pytest.mark.e2e

# 20 s alone; `make test` runs two test processes side by side (pytest-xdist), and the
# other one's work shares the 2 cores (21.3 s measured once that way), so 30 s there.
FIRST_GRID_LIMIT_S = float(os.environ.get("GAN_E2E_FIRST_GRID_LIMIT",
                                          "20" if os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") == "1" else "30"))
GRID = "[data-testid='stImage'] img"
CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def test_train_watch_stop_then_gallery(server, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(90_000)
    try:
        _flow(page, server, screenshots)
    except BaseException:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")
        raise


def _flow(page, server, screenshots):
    # Open the app as a user does, at its home page, then go to Train from the sidebar.
    page.goto(server.url + "/")
    page.get_by_role("link", name="Train").click()
    start = page.get_by_role("button", name="Start training")
    start.wait_for()
    page.wait_for_url("**/train*")

    # A short run: 500 steps samples every 25 steps, as the default 2000-step run does.
    steps = page.get_by_role("spinbutton", name="Steps", exact=True)
    steps.fill("500")
    steps.press("Enter")
    page.locator("[data-testid='stCode']", has_text=re.compile(r"--steps 500 .*--sample-every 25")).first.wait_for()  # the command; the torchrun form below it matches too
    page.screenshot(path=screenshots / "train-1-before.png", full_page=True)

    clicked, clicked_wall = time.monotonic(), time.time()
    start.click()
    page.locator(CHART).first.wait_for()
    first_curve = time.monotonic() - clicked
    page.locator(GRID).first.wait_for()
    first_grid = time.monotonic() - clicked
    print(f"\nclick to first loss curve: {first_curve:.1f} s; click to first sample grid: {first_grid:.1f} s")
    assert "run=" in page.url, "the watched run is kept in the URL so a refresh re-attaches"
    run_id = page.url.split("run=")[1].split("&")[0]
    run_dir = server.runs_dir / run_id
    assert (run_dir / "config.json").is_file()
    print(_breakdown(run_dir, clicked_wall, first_grid))
    page.get_by_text("running", exact=True).first.wait_for()
    page.locator("[data-testid='stProgress']").first.wait_for()
    page.screenshot(path=screenshots / "train-2-live.png", full_page=True)

    # A refresh re-attaches to the same run, and so does a visit to another page and back.
    page.reload()
    page.locator(GRID).first.wait_for()
    assert run_id in page.url
    page.get_by_role("link", name="Runs and loss curves").click()
    page.wait_for_url(lambda url: "/train" not in url)
    page.locator("[data-testid='stMain'] h1").first.wait_for()
    page.get_by_role("link", name="Train").click()
    page.wait_for_url(f"**/train?run={run_id}*")  # coming back re-attaches to the run this tab watched
    page.get_by_role("button", name="Start training").wait_for()
    page.locator(GRID).first.wait_for()

    main = page.locator("[data-testid='stMain']")  # not the header's own "Stop" (of a script run)
    main.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("stopped", exact=True).first.wait_for()
    page.get_by_text("resume continues from there").first.wait_for()
    status = json.loads((server.runs_dir / run_id / "status.json").read_text())
    assert status["state"] == "stopped" and 0 < status["step"] < 500
    assert (server.runs_dir / run_id / "checkpoints" / "last.safetensors").is_file()
    main.get_by_role("button", name="Resume").wait_for()
    page.screenshot(path=screenshots / "train-3-stopped.png", full_page=True)

    # The stopped run's checkpoint is on the gallery page.
    page.get_by_role("link", name="Gallery").click()
    page.wait_for_url(lambda url: "/train" not in url)
    picture = page.locator("[data-testid='stMain'] img, [data-testid='stMain'] svg image").first
    try:
        picture.wait_for(timeout=60_000)
    except Exception:  # noqa: BLE001 - turned into a clear failure below
        page.screenshot(path=screenshots / "gallery-failed.png", full_page=True)
        pytest.fail("The gallery page showed no image within 60 s although the stopped run saved "
                    f"{run_id}/checkpoints/last.safetensors; see tests/e2e/screenshots/gallery-failed.png.")
    page.screenshot(path=screenshots / "gallery.png", full_page=True)

    # Upload the stopped run's weights as a checkpoint of one's own: it is kept and selected.
    main.get_by_text("Use a checkpoint of your own").click()
    main.locator("input[type=file]").set_input_files(str(server.runs_dir / run_id / "checkpoints" / "last.safetensors"))
    main.get_by_text("uploaded checkpoint").first.wait_for(timeout=60_000)  # the caption of the selected one
    assert len(list((server.runs_dir / "uploads" / "checkpoints").glob("*.safetensors"))) == 1
    page.screenshot(path=screenshots / "gallery-uploaded.png", full_page=True)

    assert first_grid < FIRST_GRID_LIMIT_S, (
        f"The first sample grid took {first_grid:.1f} s after Start (limit {FIRST_GRID_LIMIT_S:.0f} s); "
        "is the machine busy with other work?")


def _breakdown(run_dir, clicked_wall: float, first_grid: float) -> str:
    """Where the seconds to the first grid went, from the run's own files."""
    status = json.loads((run_dir / "status.json").read_text())
    grid = min((run_dir / "samples").glob("step_*.png"))
    shown = clicked_wall + first_grid
    return (f"  worker started training {status['started'] - clicked_wall:.1f} s after the click (process start, torch import, data);"
            f" first grid ({grid.stem}) written at {grid.stat().st_mtime - clicked_wall:.1f} s;"
            f" on screen {shown - grid.stat().st_mtime:.1f} s after it was written")
