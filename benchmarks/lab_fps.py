"""Frame rates of the two lab pages while they train, as a browser sees them.

Starts the real server, opens each lab view in headless Chromium, presses Play, lets
it settle for 3 s, then counts for ``--seconds`` every change of the page's step line
("G step N" on the 1-D page, "Step N" on the 2-D page): one change is one frame shown.
Reports frames per second (frames - 1 over the time between the first and the last)
and training steps per second, per view and repeat, then the median of the repeats.

    .venv/bin/python benchmarks/lab_fps.py --seconds 10 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MAIN = "[data-testid='stMain']"
# (page link, view radio label, the step line's pattern in JavaScript and Python)
VIEWS = {
    "1-D, one GAN": ("Lab: GAN theory in 1-D", "One GAN", "G step [\\d,]+", r"G step ([\d,]+)"),
    "1-D, minimax vs non-saturating": ("Lab: GAN theory in 1-D", "Minimax vs non-saturating", "G step [\\d,]+", r"G step ([\d,]+)"),
    "2-D, one recipe": ("Lab: mode collapse in 2-D", "One recipe", "Step [\\d,]+", r"^Step ([\d,]+)"),
    "2-D, compare recipes": ("Lab: mode collapse in 2-D", "Compare recipes", "Step [\\d,]+", r"^Step ([\d,]+)"),
    "2-D, compare three recipes": ("Lab: mode collapse in 2-D", "Compare recipes", "Step [\\d,]+", r"^Step ([\d,]+)"),
}
# Recipes added to the comparison's defaults (gan, minibatch-std) before Play.
ADDED = {"2-D, compare three recipes": ["wgan-gp"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GAN_WORKBENCH_RUNS_DIR": runs_dir, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def measure(browser, url: str, view: str, seconds: float) -> tuple[float, float]:
    link, label, js_step, py_step = VIEWS[view]
    step_re = re.compile(py_step)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(90_000)
    try:
        page.goto(url + "/")
        page.get_by_role("link", name=link).click()
        main = page.locator(MAIN)
        main.get_by_text(step_re).first.wait_for()
        main.get_by_text(label, exact=True).click()
        page.wait_for_timeout(1500)
        for recipe in ADDED.get(view, []):
            box = main.locator("[data-testid='stMultiSelect'] input").first
            box.click()
            box.fill(recipe)
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            main.get_by_text(f"{recipe}:", exact=False).first.wait_for()
            page.wait_for_timeout(1500)
        main.get_by_role("button", name="Play", exact=True).click()
        main.get_by_role("button", name="Pause", exact=True).wait_for()
        page.wait_for_timeout(3000)

        def step() -> int:
            return int(step_re.search(main.get_by_text(step_re).first.inner_text()).group(1).replace(",", ""))

        page.evaluate(f"() => {{ window.__frames = []; let last = ''; const main = document.querySelector(\"{MAIN}\"); "
                      f"new MutationObserver(() => {{ const m = main.innerText.match(/{js_step}/); "
                      "if (m && m[0] !== last) { last = m[0]; window.__frames.push(performance.now()); } })"
                      ".observe(main, {subtree: true, childList: true, characterData: true}); }")
        s0, t0 = step(), time.monotonic()
        page.wait_for_timeout(seconds * 1000)
        s1, t1 = step(), time.monotonic()
        frames = page.evaluate("() => window.__frames")
        fps = (len(frames) - 1) / ((frames[-1] - frames[0]) / 1000) if len(frames) > 2 else 0.0
        return fps, (s1 - s0) / (t1 - t0)
    finally:
        page.close()


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--view", action="append", help="measure only this view (repeatable): " + "; ".join(VIEWS))
    args = parser.parse_args()
    views = args.view or list(VIEWS)
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        parser.error(f"unknown view(s): {', '.join(unknown)}")
    results = {v: [] for v in views}
    with tempfile.TemporaryDirectory() as runs:
        proc, url = start_server(runs)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                for r in range(args.repeats):
                    for view in views:
                        fps, steps = measure(browser, url, view, args.seconds)
                        results[view].append((fps, steps))
                        print(f"repeat {r + 1}: {view}: {fps:.1f} frames/s, {steps:.0f} steps/s", flush=True)
                browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    print()
    print("| view | frames/s (median) | each repeat | steps/s (median) |")
    print("|---|---|---|---|")
    for view, values in results.items():
        fps = [f for f, _ in values]
        print(f"| {view} | {statistics.median(fps):.1f} | {', '.join(f'{f:.1f}' for f in fps)} | "
              f"{statistics.median(s for _, s in values):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
