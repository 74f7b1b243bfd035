"""Fixtures for the browser tests: the real server on a free port, with its own
runs directory, and a headless Chromium driven by Playwright.

Both skip (with the reason) when Chromium or the playwright package is missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@dataclass
class Server:
    url: str
    runs_dir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"The Streamlit server exited with code {proc.returncode}; its log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"The Streamlit server did not answer within {timeout:.0f} s; its log:\n{log.read_text()[-3000:]}")


def _stop_training(runs_dir: Path) -> None:
    """Runs started through the page are their own process groups (they outlive the
    server by design): ask them to stop, then end any that are still alive."""
    pids = []
    for status in runs_dir.glob("*/status.json"):
        (status.parent / "STOP").touch()
        try:
            pid = json.loads(status.read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if isinstance(pid, int) and _our_worker(pid, runs_dir):
            pids.append(pid)
    deadline = time.monotonic() + 10
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            if _our_worker(pid, runs_dir):  # not a recycled pid
                try:
                    os.killpg(pid, signal.SIGKILL)  # each run is a session leader (start_new_session)
                except ProcessLookupError:
                    pass


def _our_worker(pid: int, runs_dir: Path) -> bool:
    """A training worker of this runs folder. A run a test trained in its own process
    records the test's pid, which never ends: waiting for it cost 10 s a teardown."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"gan_core" in cmdline and str(runs_dir).encode() in cmdline


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed; the browser test needs Debian's chromium.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("The playwright package is not installed; pip install playwright to run the browser test.")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(browser, tmp_path):
    """`streamlit run app.py` on a free port; killed (its whole process group) at teardown."""
    yield from _serve(tmp_path)


@pytest.fixture
def demo_server(browser, tmp_path):
    """The same in demo mode (GAN_WORKBENCH_DEMO=1), as on Streamlit Community Cloud."""
    yield from _serve(tmp_path, GAN_WORKBENCH_DEMO="1")


def _serve(tmp_path: Path, **settings: str):
    port = _free_port()
    runs_dir, data_root = tmp_path / "runs", tmp_path / "data"
    data_root.mkdir()
    log = tmp_path / "server.log"
    env = {**os.environ, "GAN_WORKBENCH_RUNS_DIR": str(runs_dir), "GAN_WORKBENCH_DATA_ROOT": str(data_root)}
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS", "GAN_WORKBENCH_MAX_RUN_MINUTES"):
        env.pop(name, None)
    env.update(settings)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    url = f"http://localhost:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Server(url, runs_dir, log)
    finally:
        # Killed outright: a test server keeps nothing, and SIGTERM waited up to 10 s for a
        # script thread still translating or judging (teardowns of 12 to 16 s in the suite).
        # Runs it started are their own sessions, stopped by _stop_training.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        _stop_training(runs_dir)


@pytest.fixture
def screenshots():
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
