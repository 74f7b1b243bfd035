"""End to end in a real browser: the lab pages. Each test opens its page from the
sidebar, presses Play and sees the plots move between two reads of the page.

Screenshots go to tests/e2e/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.e2e

MAIN = "[data-testid='stMain']"
PLOT = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def _fail_with_context(page, screenshots, server, name: str) -> None:
    page.screenshot(path=screenshots / f"{name}-failure.png", full_page=True)
    print(f"\nserver log tail:\n{server.log.read_text()[-2000:]}")


def _full_page(page, path) -> None:
    """Streamlit scrolls its main block, not the document: grow the viewport to the content first."""
    height = page.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": 1500, "height": max(1100, int(height) + 80)})
    page.wait_for_timeout(500)
    page.screenshot(path=path, full_page=True)


# ------------------------------------------------------------------------------ 1-D

# Paused, Figure 1 is a Plotly chart: the p_g curve (its second trace) as drawn, an
# SVG path. Playing, the view is one picture (st.image), named by a media URL that
# changes with its content.
P_G_PATH = f"() => {{ const g = document.querySelectorAll(\"{MAIN} {PLOT}\")[0]; " \
           "const p = g && g.querySelectorAll('.scatterlayer .trace path.js-line')[1]; return p ? p.getAttribute('d') : null; }"
LIVE_PICTURE = f"() => {{ const i = document.querySelector(\"{MAIN} [data-testid='stImage'] img\"); " \
               "return i && i.complete && i.naturalWidth > 0 ? i.src : null; }"
G_STEP = re.compile(r"G step ([\d,]+)")


def _watch(step_pattern: str) -> str:
    """JavaScript recording every change of the step line, with its time (the frames
    the browser shows), and at each animation frame whether the live picture is on
    screen (no blank flashes)."""
    return (f"() => {{ window.__frames = []; window.__shown = [0, 0]; let last = ''; "
            f"const main = document.querySelector(\"{MAIN}\"); "
            f"new MutationObserver(() => {{ const m = main.innerText.match(/{step_pattern}/); "
            "if (m && m[0] !== last) { last = m[0]; window.__frames.push(performance.now()); } })"
            ".observe(main, {subtree: true, childList: true, characterData: true}); "
            "const tick = () => { const i = main.querySelector(\"[data-testid='stImage'] img\"); "
            "window.__shown[i && i.complete && i.getBoundingClientRect().width > 100 ? 0 : 1]++; requestAnimationFrame(tick); }; "
            "requestAnimationFrame(tick); }")


def _g_step(page) -> int:
    return int(G_STEP.search(page.locator(MAIN).get_by_text(G_STEP).first.inner_text()).group(1).replace(",", ""))


def test_lab_1d_plots_move(server, browser, screenshots):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(90_000)
    try:
        page.goto(server.url + "/")
        page.get_by_role("link", name="Lab: GAN theory in 1-D").click()
        page.wait_for_url("**/lab_1d*")
        main = page.locator(MAIN)
        main.get_by_text("G step 0").wait_for()
        page.wait_for_function(P_G_PATH)
        paused_before = page.evaluate(P_G_PATH)

        main.get_by_role("button", name="Play", exact=True).click()
        main.get_by_role("button", name="Pause", exact=True).wait_for()
        # Two reads of the live picture: training redraws it.
        first = page.wait_for_function(LIVE_PICTURE).json_value()
        page.wait_for_function(f"(old) => {{ const d = ({LIVE_PICTURE})(); return d && d !== old; }}", arg=first)
        page.evaluate(_watch("G step [\\d,]+"))
        steps_then, t_then = _g_step(page), time.monotonic()
        page.wait_for_timeout(4000)
        steps_now, t_now = _g_step(page), time.monotonic()
        frames, (shown, blank) = page.evaluate("() => window.__frames"), page.evaluate("() => window.__shown")
        assert steps_now > steps_then, "playing keeps training"
        page.wait_for_function(f"(old) => {{ const d = ({LIVE_PICTURE})(); return d && d !== old; }}", arg=first, timeout=30_000)
        assert shown / (shown + blank) > 0.6, f"the picture stays on screen while it plays ({shown} of {shown + blank} frames)"
        rate = main.get_by_text(re.compile(r"frames/s")).first.inner_text()
        browser_fps = (len(frames) - 1) / ((frames[-1] - frames[0]) / 1000) if len(frames) > 2 else 0.0
        print(f"\n1-D lab while playing: {rate} (server); {browser_fps:.1f} frames/s shown by this browser; "
              f"{(steps_now - steps_then) / (t_now - t_then):.0f} G steps/s; picture on screen in {shown} of {shown + blank} "
              "animation frames")
        _full_page(page, screenshots / "lab-1d-playing.png")

        main.get_by_role("button", name="Pause", exact=True).click()
        main.get_by_role("button", name="Play", exact=True).wait_for()
        # Paused, Plotly again, with G's density as trained.
        page.wait_for_function(f"(old) => {{ const d = ({P_G_PATH})(); return d && d !== old; }}", arg=paused_before)
        _full_page(page, screenshots / "lab-1d-paused.png")
    except BaseException:
        _fail_with_context(page, screenshots, server, "lab-1d")
        raise


# ------------------------------------------------------------------------------ 2-D

# Paused, the plane is a Plotly figure whose picture (heat map, real and generated
# points, arrows) is an SVG <image> under its axes; the tail of the data URI differs
# whenever the picture does. Playing, the plane is one picture (st.image), named by
# a media URL that changes with its content.
PAUSED_PLANE = f"() => {{ const i = document.querySelector(\"{MAIN} {PLOT} .imagelayer image\"); " \
               "const h = i && (i.getAttribute('href') || i.getAttribute('xlink:href')); " \
               "return h && h.startsWith('data:image/') ? h.slice(-400) : null; }"
STEP = re.compile(r"^Step ([\d,]+)")


def _step_2d(page) -> int:
    return int(STEP.search(page.locator(MAIN).get_by_text(STEP).first.inner_text()).group(1).replace(",", ""))


def test_lab_2d_plots_move(server, browser, screenshots):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(90_000)
    try:
        page.goto(server.url + "/")
        page.get_by_role("link", name="Lab: mode collapse in 2-D").click()
        page.wait_for_url("**/lab_2d*")
        main = page.locator(MAIN)
        main.get_by_text(STEP).first.wait_for()
        page.wait_for_function(PAUSED_PLANE)
        paused_before = page.evaluate(PAUSED_PLANE)
        assert _step_2d(page) == 0

        main.get_by_role("button", name="Play", exact=True).click()
        main.get_by_role("button", name="Pause", exact=True).wait_for()
        first = page.wait_for_function(LIVE_PICTURE).json_value()
        page.wait_for_function(f"(old) => {{ const d = ({LIVE_PICTURE})(); return d && d !== old; }}", arg=first)
        page.evaluate(_watch("Step [\\d,]+"))
        steps_then, t_then = _step_2d(page), time.monotonic()
        page.wait_for_timeout(4000)
        steps_now, t_now = _step_2d(page), time.monotonic()
        frames, (shown, blank) = page.evaluate("() => window.__frames"), page.evaluate("() => window.__shown")
        assert steps_now > steps_then, "playing keeps training"
        # Still redrawing (waited for: a frame may be mid-load, so momentarily no picture, under load).
        page.wait_for_function(f"(old) => {{ const d = ({LIVE_PICTURE})(); return d && d !== old; }}", arg=first, timeout=30_000)
        assert shown / (shown + blank) > 0.6, f"the plane stays on screen while it plays ({shown} of {shown + blank} frames)"
        rate = main.get_by_text(re.compile(r"frames/s")).first.inner_text()
        browser_fps = (len(frames) - 1) / ((frames[-1] - frames[0]) / 1000) if len(frames) > 2 else 0.0
        print(f"\n2-D lab while playing: {rate} (server); {browser_fps:.1f} frames/s shown by this browser; "
              f"{(steps_now - steps_then) / (t_now - t_then):.0f} steps/s; plane on screen in {shown} of {shown + blank} animation frames")
        _full_page(page, screenshots / "lab-2d-playing.png")

        main.get_by_role("button", name="Pause", exact=True).click()
        main.get_by_role("button", name="Play", exact=True).wait_for()
        page.wait_for_function(f"(old) => {{ const d = ({PAUSED_PLANE})(); return d && d !== old; }}", arg=paused_before)
    except BaseException:
        _fail_with_context(page, screenshots, server, "lab-2d")
        raise
