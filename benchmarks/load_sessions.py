"""Ten browser sessions watching live runs at once (issue #10): do the pages keep
updating, and does the server's memory stay bounded?

Starts the real server (`streamlit run app.py`) on a fresh runs folder, launches
background runs through gan_core.jobs as the Train page does (the point and digit
quick-start presets, with enough steps to outlast the measurement; one OpenMP thread
each, as 2 cores are shared with the server and Chromium), then opens N
Chromium contexts (each its own Streamlit session) on the Train page's live view of
one of the runs, the sessions spread over the runs. For --seconds it records, in each
page, when the live view changes, and samples the resident memory of the server and
of the workers every second.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/load_sessions.py --sessions 10 --seconds 90

Two signals per session, both timed in the browser:
  visible  the live view's progress line ("Step 1,230 / 100,000 · 2,900 images/s ·
           ETA ...") or the sample grid's image changed; polled every 100 ms
  pushes   a burst of websocket messages from the server (messages less than 250 ms
           apart count as one burst): the fragment's re-run arriving, whether or not
           the numbers on it changed
A gap is the time between consecutive changes, counting from the start of the
window and up to its end, so a session that stalls shows as one long gap.
The Train page's live view re-runs every REFRESH_S = 1 s (pages/train.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_memory import CHROMIUM_ARGS, _children, _status_kb, free_port, wait_healthy  # noqa: E402

# A user with ten windows has ten foreground pages; headless Chromium would otherwise
# throttle the timers of pages it considers hidden, which is not what is measured.
NO_THROTTLING = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
STEPS = 1_000_000  # the runs are stopped when the measurement ends
BURST_S = 0.25

# Installed in every page before Streamlit's own code: timestamps (browser clock, ms)
# of websocket messages, and of changes of the live view's visible signal.
WATCH_JS = """
(() => {
  window.__pushes = [];
  window.__changes = [];
  const Native = window.WebSocket;
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => window.__pushes.push(Date.now()));
    }
  }
  window.WebSocket = Watched;
  let last = null;
  setInterval(() => {
    const bar = document.querySelector("[data-testid='stProgress']");
    const img = document.querySelector("[data-testid='stImage'] img");
    if (!bar) return;
    const now = (bar.innerText || '') + '|' + (img ? img.getAttribute('src') : '');
    if (now !== last) { window.__changes.push(Date.now()); last = now; }
  }, 100);
})();
"""


def rss_mb(pids: list[int]) -> float:
    return sum(_status_kb(p, "VmRSS") for p in pids) / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def chromium_pids() -> list[int]:
    """This script's Chromium processes (browser, GPU, renderers)."""
    out = []
    for pid in _children(os.getpid()):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().startswith("chrom"):
                    out.append(pid)
        except OSError:
            continue
    return out


def gaps(times: list[float], start: float, end: float) -> list[float]:
    """Seconds between consecutive events within [start, end], the window's edges included."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return [b - a for a, b in zip(edges, edges[1:]) if b > a]


def bursts(times: list[float]) -> list[float]:
    """The first message of each burst (messages less than BURST_S apart)."""
    out: list[float] = []
    prev = None
    for t in sorted(times):
        if prev is None or t - prev >= BURST_S:
            out.append(t)
        prev = t
    return out


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    ts, ms = zip(*samples)
    mt, mm = statistics.fmean(ts), statistics.fmean(ms)
    var = sum((t - mt) ** 2 for t in ts)
    return 60 * sum((t - mt) * (m - mm) for t, m in zip(ts, ms)) / var if var else 0.0


def launch_runs(n: int, runs_dir: Path) -> list[Path]:
    from gan_core import jobs, presets

    os.environ["OMP_NUM_THREADS"] = "1"  # one thread per worker: 2 cores, 2-3 workers, the server and Chromium
    ring, digits = presets.PRESETS["ring"].config, presets.PRESETS["digits"].config
    configs = [ring, digits, ring.replace(**{"recipe": "wgan-gp", "data.name": "grid-25"})]
    return [jobs.launch(cfg.replace(**{"train.steps": STEPS}), runs_dir) for cfg in (configs * n)[:n]]


def stop_runs(run_dirs: list[Path]) -> None:
    from gan_core import jobs, runs

    for d in run_dirs:
        jobs.stop(d)
    deadline = time.time() + 30
    while time.time() < deadline and any(runs.read_status(d)["state"] in runs.ACTIVE for d in run_dirs):
        time.sleep(0.5)
    for d in run_dirs:
        status = runs.read_status(d)
        if status["state"] in runs.ACTIVE and isinstance(status.get("pid"), int):
            os.killpg(status["pid"], signal.SIGKILL)  # each worker is its own session leader


def measure(args) -> int:
    from playwright.sync_api import sync_playwright

    from gan_core import runs

    tmp = Path(tempfile.mkdtemp(prefix="load-sessions-"))
    runs_dir = tmp / "runs"
    env = {**os.environ, "GAN_WORKBENCH_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": "1"}
    for var in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        env.pop(var, None)
    port = free_port()
    log = open(tmp / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    run_dirs: list[Path] = []
    try:
        wait_healthy(port, server, args.timeout)
        run_dirs = launch_runs(args.runs, runs_dir)
        workers = [runs.read_status(d)["pid"] for d in run_dirs]
        url = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            kwargs = {"args": CHROMIUM_ARGS + NO_THROTTLING}
            if args.chromium:
                kwargs["executable_path"] = args.chromium
            browser = p.chromium.launch(**kwargs)
            pages = []
            t_open = time.time()
            for i in range(args.sessions):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(WATCH_JS)
                page = context.new_page()
                page.set_default_timeout(args.timeout * 1000)
                page.goto(f"{url}/train?run={run_dirs[i % len(run_dirs)].name}")
                pages.append(page)
            for page in pages:
                page.locator("[data-testid='stProgress']").first.wait_for()
            print(f"{args.sessions} sessions open on the live view of {len(run_dirs)} runs in {time.time() - t_open:.1f} s",
                  flush=True)
            time.sleep(args.warmup)

            steps_before = {d.name: runs.read_status(d).get("step", 0) for d in run_dirs}
            server_mem: list[tuple[float, float]] = []
            worker_mem: list[tuple[float, float]] = []
            groups = {"server": lambda: [server.pid] + _children(server.pid), "workers": lambda: workers,
                      "Chromium": chromium_pids}
            cpu_before = {name: cpu_seconds(pids()) for name, pids in groups.items()}
            start = time.time()
            end = start + args.seconds
            while time.time() < end:
                now = time.time() - start
                server_mem.append((now, rss_mb([server.pid] + _children(server.pid))))
                worker_mem.append((now, rss_mb(workers)))
                time.sleep(max(0.0, 1.0 - (time.time() - start - now)))
            end = time.time()
            cpu = {name: 100 * (cpu_seconds(pids()) - cpu_before[name]) / (end - start) for name, pids in groups.items()}
            peak_hwm = _status_kb(server.pid, "VmHWM") / 1024
            records = [page.evaluate("() => [window.__changes, window.__pushes]") for page in pages]
            steps = {d.name: (steps_before[d.name], runs.read_status(d).get("step", 0)) for d in run_dirs}
            watched = [runs.run_info(run_dirs[i % len(run_dirs)]) for i in range(len(pages))]
            watched = [f"{r.recipe} on {r.data}" for r in watched]
            browser.close()
    finally:
        stop_runs(run_dirs)
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        except ProcessLookupError:
            pass
        log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    report(args, records, watched, start, end, server_mem, worker_mem, peak_hwm, steps, cpu)
    return 0


def report(args, records, watched, start, end, server_mem, worker_mem, peak_hwm, steps, cpu) -> None:
    print(f"\n{args.sessions} sessions, {len(steps)} live runs, {end - start:.0f} s measured "
          f"(after {args.warmup:.0f} s of warm-up); the runs trained "
          f"{', '.join(f'{(b - a) / (end - start):.0f}' for a, b in steps.values())} steps/s "
          f"(the progress line changes every 10 steps)\n")
    print("| session | watching | visible changes | median gap (s) | max gap (s) | server pushes | median gap (s) | max gap (s) |")
    print("|---|---|---|---|---|---|---|---|")
    all_visible, all_pushes = [], []
    for i, (changes, pushes) in enumerate(records, 1):
        changes = [t / 1000 for t in changes if start <= t / 1000 <= end]
        pushes = bursts([t / 1000 for t in pushes if start <= t / 1000 <= end])
        gv, gp = gaps(changes, start, end), gaps(pushes, start, end)
        all_visible += gv
        all_pushes += gp
        print(f"| {i} | {watched[i - 1]} | {len(changes)} | {statistics.median(gv):.2f} | {max(gv):.2f} | "
              f"{len(pushes)} | {statistics.median(gp):.2f} | {max(gp):.2f} |")
    print("\n| gaps over all sessions | p50 (s) | p95 (s) | max (s) | gaps over 3 s |")
    print("|---|---|---|---|---|")
    for name, g in (("visible change", all_visible), ("server push", all_pushes)):
        print(f"| {name} | {percentile(g, .5):.2f} | {percentile(g, .95):.2f} | {max(g):.2f} | {sum(x > 3 for x in g)} of {len(g)} |")
    print("\n| resident memory (MB) | start | peak | end | trend over the second half (MB/min) |")
    print("|---|---|---|---|---|")
    for name, mem in (("server", server_mem), (f"workers ({len(steps)}, together)", worker_mem)):
        values = [m for _, m in mem]
        half = [s for s in mem if s[0] >= mem[-1][0] / 2]
        print(f"| {name} | {values[0]:.0f} | {max(values):.0f} | {values[-1]:.0f} | {slope_mb_per_min(half):+.1f} |")
    print(f"\n| CPU over the window ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%) | % of one core |")
    print("|---|---|")
    for name, share in cpu.items():
        print(f"| {name} | {share:.0f}% |")
    print(f"\nThe server's high-water mark (VmHWM) at the end: {peak_hwm:.0f} MB.")
    worst = max(all_visible + all_pushes)
    print(f"Goal, an update at least every 3 s in every session: {'met' if worst <= 3 else 'missed'} "
          f"(longest gap {worst:.2f} s).")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10, help="browser sessions (Chromium contexts) watching at once")
    ap.add_argument("--seconds", type=float, default=90, help="length of the measurement")
    ap.add_argument("--runs", type=int, default=2, choices=(1, 2, 3),
                    help="live runs to watch (2, the server's default limit of concurrent runs)")
    ap.add_argument("--warmup", type=float, default=5, help="seconds after every page shows its live view, before measuring")
    ap.add_argument("--chromium", default="/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None,
                    help="Chromium executable (default: Debian's, else Playwright's own)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds to wait for the server and each page")
    ap.add_argument("--keep", action="store_true", help="keep the temporary runs folder and server log")
    args = ap.parse_args()
    if args.sessions < 1 or args.seconds <= 0:
        ap.error("--sessions must be at least 1 and --seconds positive")
    return measure(args)


if __name__ == "__main__":
    raise SystemExit(main())
