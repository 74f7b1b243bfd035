"""How much memory does the dashboard's server need? (Streamlit Community Cloud
gives an app about 1 GB.) Starts the real server, opens the gallery page in
headless Chromium so the generator and the nearest-neighbour training images are
loaded, then sums the resident memory (RSS) of the server's process tree.

    python benchmarks/server_memory.py --repeats 3

Each repeat is a fresh server. Reported per repeat, then the median:
  idle     the server after start-up, before any browser connects
  gallery  after the gallery has rendered its faces for one visitor
  peak     the server process's high-water mark (VmHWM) at that point
A training run started from the dashboard is a separate worker process with its
own PyTorch (see docs/DEPLOY.md); it is not part of these figures.
"""

from __future__ import annotations

import argparse
import os
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid``, from /proc (no psutil needed)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (psutil if installed)."""
    try:
        import psutil

        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
        return sum(q.memory_info().rss for q in procs) / 2**20
    except ImportError:
        return sum(_status_kb(q, "VmRSS") for q in [pid] + _children(pid)) / 1024


CUDA_LIBS = ("/nvidia/", "libtorch_cuda", "libc10_cuda", "/triton/", "libcudnn", "libnccl")


def cuda_rss_mb(pid: int) -> float:
    """Resident memory of the CUDA libraries a CUDA build of PyTorch maps into ``pid``
    (and Triton); the +cpu wheels Streamlit Community Cloud installs have none."""
    total, counting = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split(maxsplit=5)
                if len(head) >= 5 and "-" in head[0] and ":" in head[3]:  # a mapping's header line
                    counting = len(head) == 6 and any(k in head[5] for k in CUDA_LIBS)
                elif counting and line.startswith("Rss:"):
                    total += int(line.split()[1])
    except OSError:
        return 0.0
    return total / 1024


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"The server exited with code {proc.returncode}; run the command by hand to see why.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"The server did not answer on port {port} within {timeout:.0f} s.")


def open_gallery(port: int, chromium: str | None, timeout_s: float) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        kwargs = {"args": CHROMIUM_ARGS}
        if chromium:
            kwargs["executable_path"] = chromium
        browser = p.chromium.launch(**kwargs)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", timeout=timeout_s * 1000)
            page.wait_for_selector(".stPlotlyChart .main-svg", timeout=timeout_s * 1000)  # the face grid
            page.get_by_text("Nearest training images").wait_for(timeout=timeout_s * 1000)
            page.get_by_text("Animated, there and back").wait_for(timeout=timeout_s * 1000)
            page.wait_for_timeout(2000)  # let the last script run finish
        finally:
            browser.close()


def one_run(entry: str, chromium: str | None, runs_dir: str, timeout_s: float) -> dict:
    port = free_port()
    env = {**os.environ, "GAN_WORKBENCH_RUNS_DIR": runs_dir, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", entry, "--server.headless", "true", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(port, proc, timeout_s)
        time.sleep(1.0)
        idle = tree_rss_mb(proc.pid)
        t0 = time.perf_counter()
        open_gallery(port, chromium, timeout_s)
        seconds = time.perf_counter() - t0
        gallery = tree_rss_mb(proc.pid)
        peak = _status_kb(proc.pid, "VmHWM") / 1024
        return {"idle": idle, "gallery": gallery, "peak": peak, "cuda": cuda_rss_mb(proc.pid), "seconds": seconds}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own session: only what this script started
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="fresh servers to measure (median reported)")
    ap.add_argument("--entry", default="app.py", help="script to serve, relative to the repository (or deploy/streamlit_app.py)")
    ap.add_argument("--chromium", default="/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None,
                    help="Chromium executable (default: Debian's, else Playwright's own)")
    ap.add_argument("--runs-dir", default=None, help="runs folder to list (default: an empty temporary one, so only the shipped checkpoints show)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server and the page")
    args = ap.parse_args()

    if not any((ROOT / "checkpoints").glob("*.safetensors")) and args.runs_dir is None:
        print("No shipped checkpoint in checkpoints/: the gallery would have nothing to load; pass --runs-dir.", file=sys.stderr)
        return 1
    try:
        import psutil  # noqa: F401

        how = "psutil"
    except ImportError:
        how = "/proc/<pid>/status VmRSS"
    print(f"server: streamlit run {args.entry}; memory of the server process tree from {how}")
    results = []
    with tempfile.TemporaryDirectory() as empty_runs:
        for i in range(args.repeats):
            r = one_run(args.entry, args.chromium, args.runs_dir or empty_runs, args.timeout)
            results.append(r)
            print(f"run {i + 1}: idle {r['idle']:.0f} MB, gallery {r['gallery']:.0f} MB, peak {r['peak']:.0f} MB, "
                  f"of which CUDA libraries {r['cuda']:.0f} MB (gallery rendered in {r['seconds']:.1f} s)", flush=True)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"median of {len(results)}: idle {med['idle']:.0f} MB, gallery {med['gallery']:.0f} MB, peak {med['peak']:.0f} MB, "
          f"of which CUDA libraries {med['cuda']:.0f} MB; gallery rendered in {med['seconds']:.1f} s")
    if med["cuda"] > 0:
        print(f"This PyTorch is a CUDA build; with the +cpu wheels of deploy/requirements.txt the gallery figure "
              f"would be about {med['gallery'] - med['cuda']:.0f} MB.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
