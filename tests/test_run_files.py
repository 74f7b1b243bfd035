"""Issue #17, files in a run and in the uploads folder, at the engine: sample grids
opened as regular PNG files with one sentence each (runs.read_sample), metrics rows
without a wall time left out of that axis (curves), and half-written uploads of a
killed server swept (visitors.sweep_uploads)."""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny
from gan_core import curves, export, runs, visitors
from gan_core.errors import RunError
from gan_core.recipes import resolve

OWNER = "a" * 32


def png(value: int = 90, size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def bad_samples(samples: Path) -> dict[str, Path]:
    """One of every kind of entry a page was given as a sample grid, named like one."""
    samples.mkdir(parents=True, exist_ok=True)
    made = {}
    made["random"] = samples / "step_0000010.png"
    made["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    made["empty"] = samples / "step_0000020.png"
    made["empty"].write_bytes(b"")
    made["link"] = samples / "step_0000030.png"
    made["link"].symlink_to("/etc/passwd")
    made["directory"] = samples / "step_0000040.png"
    made["directory"].mkdir()
    made["fifo"] = samples / "step_0000050.png"
    os.mkfifo(made["fifo"])
    made["jpeg"] = samples / "step_0000060.png"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="JPEG")
    made["jpeg"].write_bytes(buf.getvalue())
    return made


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_every_bad_sample_grid_is_one_sentence_and_a_fifo_never_blocks(tmp_path):
    made = bad_samples(tmp_path / "samples")
    good = tmp_path / "samples" / "step_0000070.png"
    good.write_bytes(png())
    assert [s for s, _ in runs.sample_images(tmp_path)] == [10, 20, 30, 40, 50, 60, 70]  # listed; checked when read
    reasons = {"random": "not a readable PNG", "empty": "is empty", "link": "symbolic link",
               "directory": "not a regular file", "fifo": "not a regular file", "jpeg": "not a readable PNG"}
    for kind, path in made.items():
        done = []
        reader = threading.Thread(target=lambda: done.append(_refusal(path)), daemon=True)
        reader.start()
        reader.join(5)
        assert done, f"reading the {kind} blocked"  # before: open() on the FIFO waited for a writer forever
        message = done[0]
        assert message.startswith(f"The sample grid {path.name} cannot be shown: ") and reasons[kind] in message, message
        assert "\n" not in message and message.endswith("delete it from the run's samples folder.")
    assert runs.read_sample(good) == good.read_bytes()


def _refusal(path: Path) -> str:
    try:
        runs.read_sample(path)
    except RunError as e:
        return str(e)
    return "accepted"


def test_a_sample_grid_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "step_0000010.png"
    path.write_bytes(png(size=64))
    monkeypatch.setattr(runs, "MAX_SAMPLE_BYTES", 100)
    with pytest.raises(RunError, match="more than the 100 a grid may be"):
        runs.read_sample(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_run_zip_leaves_bad_grids_out_and_never_blocks(tmp_path):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path)
    bad_samples(run_dir / "samples")
    (run_dir / "samples" / "step_0000070.png").write_bytes(png())
    done = []
    worker = threading.Thread(target=lambda: done.append(export.run_zip_bytes(run_dir)), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "zipping the run blocked on the FIFO"
    with zipfile.ZipFile(io.BytesIO(done[0])) as z:
        assert [n for n in z.namelist() if "/samples/" in n] == [f"{run_dir.name}/samples/step_0000070.png"]


def test_rows_without_a_wall_time_are_left_out_of_that_axis():
    rows = [{"step": 1, "loss_d": 1.0}, {"step": 2, "loss_d": 0.9, "elapsed": 4.0}, {"step": 3, "loss_d": 0.8}]
    x, y, smooth = curves.curve(curves.column(rows, "elapsed"), curves.column(rows, "loss_d"), 0.0)
    assert x.tolist() == [4.0] and y.tolist() == [0.9] and smooth.tolist() == [0.9]
    # No row has it at all (the page's frame has no such column): an empty curve, not a KeyError.
    x, y, smooth = curves.curve(None, curves.column(rows, "loss_d"), 0.6)
    assert len(x) == len(y) == len(smooth) == 0
    assert curves.column([{"elapsed": True}, {"elapsed": "3"}], "elapsed").tolist() == [pytest.approx(np.nan, nan_ok=True)] * 2


def test_half_written_uploads_of_a_killed_server_are_swept_and_the_folder_goes(tmp_path):
    now = time.time()
    folder = visitors.uploads_dir(tmp_path, OWNER)
    folder.mkdir(parents=True)
    stale = folder / (".ckpt-" + "1" * 20 + ".safetensorsabc123.tmp")
    fresh = folder / (".upload-" + "2" * 20 + ".zipdef456.tmp")  # being written right now
    for path, age in ((stale, visitors.TEMP_STALE_S + 5), (fresh, 1)):
        path.write_bytes(b"half")
        os.utime(path, (now - age, now - age))
    assert visitors.sweep_uploads(tmp_path, None, now=now) == [stale]
    assert fresh.exists()
    later = now + visitors.UPLOAD_IDLE_S + visitors.TEMP_STALE_S
    assert visitors.sweep_uploads(tmp_path, None, now=later) == [fresh]
    assert not folder.exists()  # before: the temp file kept the visitor's folder for ever


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_comparison_figure_notes_a_bad_grid_and_never_blocks(tmp_path):
    from gan_core.experiments.figure import comparison_figure

    run_dir = runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path / "runs")
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "loss_d": 1.3, "loss_g": 0.7}\n')
    os.mkfifo(run_dir / "samples" / "step_0000001.png")
    done = []
    worker = threading.Thread(target=lambda: done.append(comparison_figure([run_dir], tmp_path / "c.png")), daemon=True)
    worker.start()
    worker.join(60)
    assert done and Image.open(done[0]).size[0] > 0  # before: imread waited on the FIFO for ever
