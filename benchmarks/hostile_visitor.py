"""Issue #17's whole hostile list, sent through a real demo server by headless Chromium,
with the server's memory watched all along (the figures in docs/RELIABILITY.md).

    .venv/bin/python benchmarks/hostile_visitor.py            # about 4 minutes on 2 cores

A demo server (GAN_WORKBENCH_DEMO=1: 256 MB per request, 32 MB per uploaded file, 64 MB
of uploads per visitor) starts on an empty runs folder. A first visitor opens every page
and leaves, so that what the server loads once for everyone (PyTorch, the shipped models)
is in the baseline: "before" is the server's memory 60 s after that visitor left. Then a
hostile visitor, in a fresh browser context, does in turn:

  1. Gallery and Conditional: upload a 1.6 MB conv cgan checkpoint that declares 1,024 px
     colour, and a conv cgan declaring 1,000 classes at 256 px;
  2. Train: the dcgan recipe with batch 256, then 4,096 (the duration estimate);
  3. Pix2Pix at full size with the realism map: three 48-megapixel phone-size JPEGs;
  4. a 631-byte JPEG whose header claims 7,000 x 7,000 pixels (the rest cut off);
  5. three 190 MB junk files named .png;
  6. 200 small pictures, then the realism map off and on again.

For each step: what the page said (its first alert, or the uploader's own message), the
server process's resident memory (RSS) when the step ended, and the highest RSS sampled
during it (every 0.1 s; "tree" adds the server's child processes, e.g. the duration
estimate's worker). Then the browser closes and the script waits 60 s: "after" is the RSS
then. A training worker of the demo's faces preset runs beside it all, started the way the
Train page starts one (gan_core.jobs), and its own peak is reported too, for the memory
plan in docs/DEPLOY.md.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from server_memory import CHROMIUM_ARGS, _children, _status_kb, free_port, wait_healthy  # noqa: E402

MAIN = "[data-testid='stMain']"


class Watch:
    """Samples the server's RSS (alone and with its children) every 0.1 s in a thread."""

    def __init__(self, pid: int):
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            alone = _status_kb(self.pid, "VmRSS") / 1024
            tree = alone + sum(_status_kb(c, "VmRSS") for c in _children(self.pid)) / 1024
            self.samples.append((time.monotonic(), alone, tree))
            time.sleep(0.1)

    def now(self) -> tuple[float, float]:
        return self.samples[-1][1:]

    def peak_since(self, t0: float) -> tuple[float, float]:
        rows = [s for s in self.samples if s[0] >= t0] or self.samples[-1:]
        return max(r[1] for r in rows), max(r[2] for r in rows)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def hostile_files(folder: Path) -> dict[str, Path]:
    """The files of the issue, built here: the checkpoints from a real 2-step cgan."""
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.torch import save as st_save
    from skimage import data as skdata

    from gan_core import checkpoints
    from gan_core.config import Config
    from gan_core.recipes import resolve
    from gan_core.runs import create_run
    from gan_core.training import train

    cfg = resolve(Config(recipe="cgan").replace(**{
        "data.name": "mnist-5k", "data.image_size": 16, "model.width": 8, "model.z_dim": 8, "train.steps": 2,
        "train.batch_size": 8, "train.sample_every": 2, "train.checkpoint_every": 2, "train.n_samples": 4,
        "train.device": "cpu"}))
    run_dir = create_run(cfg, folder / "runs")
    train(cfg, run_dir)
    ckpt = checkpoints.read(run_dir / "checkpoints" / "last.safetensors")
    good = {"tensors": ckpt.part("generator"), "config": ckpt.config.to_dict(), "data": ckpt.data.to_dict()}

    def declaring(size: int, channels: int, classes: list[str] | None = None) -> bytes:
        c = json.loads(json.dumps(good["config"]))
        c["data"].update(image_size=size)
        d = {**good["data"], "shape": [channels, size, size]}
        tensors = dict(good["tensors"])
        if classes is not None:
            d["classes"] = classes
        pad = torch.zeros(400_000)  # about 1.6 MB, as the file
        meta = {"format": checkpoints.FORMAT, "config": json.dumps(c), "data": json.dumps(d), "step": "2"}
        return st_save({**{f"generator.{k}": v.contiguous() for k, v in tensors.items()}, "generator.pad": pad}, metadata=meta)

    out = {"conv1024": folder / "conv-cgan-1024px.safetensors", "classes1000": folder / "cgan-1000-classes.safetensors"}
    out["conv1024"].write_bytes(declaring(1024, 3))
    out["classes1000"].write_bytes(declaring(256, 3, [f"class {i}" for i in range(1000)]))
    # Three 48-megapixel phone-size JPEGs (8000 x 6000): a photograph enlarged, with grain.
    photo = Image.fromarray(skdata.astronaut()).resize((8000, 6000), Image.BICUBIC)
    grain = np.random.default_rng(0).integers(-6, 7, (6000, 8000, 1), dtype=np.int16)
    photo = Image.fromarray(np.clip(np.asarray(photo, np.int16) + grain, 0, 255).astype(np.uint8))
    for i in range(3):
        path = folder / f"phone-{i}.jpg"
        photo.rotate(180 * i).save(path, quality=80)
        out[f"phone{i}"] = path
    # 631 bytes of a JPEG whose header says 7000 x 7000.
    buf = io.BytesIO()
    Image.new("L", (7000, 7000), 128).save(buf, "JPEG")
    out["truncated"] = folder / "claims-49mp.jpg"
    out["truncated"].write_bytes(buf.getvalue()[:631])
    for i in range(3):
        out[f"junk{i}"] = folder / f"junk-{i}.png"
        with open(out[f"junk{i}"], "wb") as f:
            for _ in range(190):
                f.write(os.urandom(2**20))
    small = folder / "small"
    small.mkdir()
    rng = np.random.default_rng(1)
    for i in range(200):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(small / f"p{i:03d}.jpg", quality=85)
    return out


def said(page) -> str:
    """What the page says about the last request: its warnings and errors (not the page's
    standing "info" notes), then what the uploader says on each file it refused."""
    alerts = [" ".join(t.split()) for t in page.locator(f"{MAIN} [data-testid='stAlert']").all_inner_texts() if t.strip()]
    texts = [t for t in alerts if not t.startswith("info")]
    files = [" ".join(t.split()) for t in page.locator(f"{MAIN} [data-testid='stFileUploaderFile']").all_inner_texts()]
    texts += [f"uploader: {t}" for t in files if any(w in t.lower() for w in ("must be", "error", "too large", "at most"))]
    return " | ".join(texts)[:500] or "(nothing)"


def settle(page, seconds: float = 1.5, limit: float = 240) -> None:
    """Until the script run ends (no "Running" indicator) and stays ended a moment."""
    deadline = time.monotonic() + limit
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator("[data-testid='stStatusWidget']").count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= seconds:
            return
        page.wait_for_timeout(200)


def upload_checkpoint(page, url: str, path: str, file: Path) -> None:
    page.goto(url + path)
    page.get_by_text("Checkpoint (.safetensors)").first.wait_for(state="attached", timeout=120_000)
    expander = page.locator(f"{MAIN} [data-testid='stExpander'] summary").filter(has_text="own")
    if expander.count():
        expander.first.click()
    page.locator(f"{MAIN} input[type='file']").first.set_input_files(str(file))
    settle(page)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` (its text contains it) in the select box labelled ``label``."""
    select = page.locator(f"{MAIN} [data-testid='stSelectbox']").filter(has=page.get_by_text(label, exact=True))
    select.first.wait_for(timeout=120_000)
    select.first.click()
    page.get_by_role("option").filter(has_text=option).first.click()


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds after the browser closes before 'after'")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from gan_core import jobs
    from gan_core.config import Config
    from gan_core.recipes import resolve

    tmp = Path(tempfile.mkdtemp(prefix="hostile-"))
    files = hostile_files(tmp / "files")
    runs_dir = tmp / "runs"
    env = {**os.environ, "GAN_WORKBENCH_DEMO": "1", "GAN_WORKBENCH_RUNS_DIR": str(runs_dir),
           "GAN_WORKBENCH_DATA_ROOT": str(tmp), "PYTHONUNBUFFERED": "1"}
    for name in ("GAN_WORKBENCH_MEMORY_BUDGET", "GAN_WORKBENCH_MAX_UPLOAD_MB", "GAN_WORKBENCH_VISITOR_UPLOADS_MB"):
        env.pop(name, None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false",
                             "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    rows: list[tuple[str, str, float, float, float]] = []
    worker_pid = None
    try:
        wait_healthy(port, proc, 120)
        watch = Watch(proc.pid)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            first = browser.new_context(viewport={"width": 1400, "height": 1200})
            page = first.new_page()
            for path in ("/", "/conditional", "/pix2pix", "/train", "/runs"):
                page.goto(url + path)
                page.wait_for_selector(MAIN, timeout=120_000)
                settle(page, 3)
            first.close()
            os.environ.update({k: env[k] for k in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_RUNS_DIR")})
            faces = resolve(Config(recipe="dcgan").replace(**{"data.name": "faces-lfw", "train.steps": 300}))
            run = jobs.launch(faces, runs_dir, max_active=1)
            worker_pid = json.loads((run / "status.json").read_text()).get("pid")
            worker = Watch(worker_pid)
            time.sleep(args.wait)
            before_alone, before_tree = watch.now()
            print(f"before the hostile visitor (60 s after a first visitor opened every page): server {before_alone:.0f} MB, "
                  f"with children {before_tree:.0f} MB", flush=True)

            ctx = browser.new_context(viewport={"width": 1400, "height": 1200})
            page = ctx.new_page()
            page.set_default_timeout(240_000)

            def step(name: str, action) -> None:
                t0 = time.monotonic()
                try:
                    action()
                    message = said(page)
                except Exception as e:  # a step the script could not drive is reported, not hidden
                    message = f"(not driven: {type(e).__name__}: {str(e).splitlines()[0][:160]})"
                alone, tree = watch.peak_since(t0)
                rows.append((name, message, watch.now()[0], alone, tree))
                print(f"{name}: {time.monotonic() - t0:.0f} s, now {watch.now()[0]:.0f} MB, peak {alone:.0f} MB "
                      f"(tree {tree:.0f} MB): {message}", flush=True)

            step("Gallery: 1.6 MB checkpoint declaring a 1,024-px colour cgan",
                 lambda: upload_checkpoint(page, url, "/", files["conv1024"]))
            step("Conditional: the same checkpoint", lambda: upload_checkpoint(page, url, "/conditional", files["conv1024"]))
            step("Conditional: a cgan declaring 1,000 classes at 256 px",
                 lambda: upload_checkpoint(page, url, "/conditional", files["classes1000"]))

            def train_batch(batch: int) -> None:
                if batch == 256:
                    page.goto(url + "/train")
                    choose(page, "Recipe", "dcgan")
                    settle(page)
                box = page.get_by_role("spinbutton", name="Batch size", exact=True)
                box.fill(str(batch))
                box.press("Enter")
                settle(page, 3)

            step("Train: dcgan, batch 256", lambda: train_batch(256))
            step("Train: dcgan, batch 4,096", lambda: train_batch(4096))

            def pix2pix(paths: list[Path], full: bool = False) -> None:
                page.goto(url + "/pix2pix")
                page.locator(f"{MAIN} input[type='file']").last.wait_for(state="attached", timeout=120_000)
                if full:
                    choose(page, "Translate at", "Full size")
                    settle(page)
                    page.get_by_text("Overlay the realism map").first.click()
                    settle(page)
                page.locator(f"{MAIN} input[type='file']").last.set_input_files([str(x) for x in paths])
                settle(page, 3)

            step("Pix2Pix: three 48 MP JPEGs at full size with the realism map",
                 lambda: pix2pix([files["phone0"], files["phone1"], files["phone2"]], full=True))
            step("Pix2Pix: 631-byte JPEG claiming 7,000 x 7,000", lambda: pix2pix([files["truncated"]]))
            step("Pix2Pix: three 190 MB junk .png files", lambda: pix2pix([files["junk0"], files["junk1"], files["junk2"]]))
            step("Pix2Pix: 200 pictures", lambda: pix2pix(sorted((tmp / "files" / "small").glob("*.jpg"))))

            def toggle() -> None:
                for _ in range(2):
                    page.get_by_text("Overlay the realism map").first.click()
                    settle(page, 3)

            step("Pix2Pix: realism map off and on again", toggle)
            ctx.close()
            browser.close()
        t_closed = time.monotonic()
        time.sleep(args.wait)
        after_alone, after_tree = watch.now()
        watch.stop()
        worst = max(r[3] for r in rows)
        print()
        print("| request (demo server, Chromium) | what the page said | server RSS after | peak during |")
        print("|---|---|---|---|")
        for name, message, now, alone, tree in rows:
            print(f"| {name} | {message} | {now:.0f} MB | {alone:.0f} MB (tree {tree:.0f} MB) |")
        print()
        print(f"before {before_alone:.0f} MB; highest during the visit {worst:.0f} MB (+{worst - before_alone:.0f} MB); "
              f"{args.wait:.0f} s after the browser closed {after_alone:.0f} MB "
              f"({100 * (after_alone - before_alone) / before_alone:+.1f}% of before)")
        if worker_pid:
            worker.stop()
            print(f"the training worker beside it (dcgan on the 100 faces, 300 steps, as the demo allows): "
                  f"peak {max(s[1] for s in worker.samples):.0f} MB")
        print(f"(measured {time.strftime('%Y-%m-%d')}, {time.monotonic() - t_closed:.0f} s after close)")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        if worker_pid:
            try:
                os.killpg(worker_pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        log.close()
        print(f"server log and files: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
