"""A run's metrics as the pages read them (runs.MetricsFollower, read_metrics_thinned,
export.metrics_csv): whatever the length of metrics.jsonl, the server holds a few
thousand rows, never the file. Before, the Train page, the Runs page's curves and the
CSV read the whole file: a 50 MB metrics.jsonl cost the server +350 MB (the second
hostile review, docs/RELIABILITY.md)."""

import csv
import io
import json
import os
import tracemalloc

import numpy as np
import pytest

from conftest import tiny
from gan_core import export, runs
from gan_core.errors import RunError


def _row(step: int) -> dict:
    return {"step": step, "elapsed": step / 100, "loss_d": 1.25 + (step % 7) / 10, "loss_g": 0.75, "d_real": 0.5,
            "d_fake": 0.25, "grad_norm_d": 1.5, "grad_norm_g": 2.5, "images_per_s": 1234.5}


def _write(path, steps, mode="w"):
    with open(path, mode) as f:
        f.writelines(json.dumps(_row(s)) + "\n" for s in steps)


@pytest.fixture
def run_dir(tmp_path):
    return runs.create_run(tiny("gan", "ring-8"), tmp_path)


def test_a_short_run_gives_every_row_and_a_growing_one_only_its_new_bytes(run_dir):
    path = run_dir / "metrics.jsonl"
    follower = runs.MetricsFollower(run_dir, limit=100, recent=5)
    assert follower.update().rows == []  # no file yet
    _write(path, range(0, 500, 10))
    assert follower.update().rows == runs.read_metrics(run_dir)[0]
    assert [r["step"] for r in follower.recent] == [450, 460, 470, 480, 490]

    with open(path, "a") as f:  # a row being written: it waits for its newline
        f.write('{"step": 500, "loss_d"')
    assert follower.update().rows[-1]["step"] == 490
    offset = follower.offset
    with open(path, "a") as f:
        f.write(': 1.0}\n')
    assert follower.update().rows[-1] == {"step": 500, "loss_d": 1.0}
    assert follower.offset == os.path.getsize(path) > offset

    os.replace(path, run_dir / "old.jsonl")  # a resume rewrites the file: another inode, start over
    _write(path, range(0, 30, 10))
    assert [r["step"] for r in follower.update().rows] == [0, 10, 20]


def test_a_long_run_is_thinned_evenly_with_its_first_and_newest_rows_and_its_last_rows_exact(run_dir):
    _write(run_dir / "metrics.jsonl", range(0, 200_000, 10))  # 20,000 rows
    follower = runs.MetricsFollower(run_dir, limit=100, recent=40).update()
    steps = [r["step"] for r in follower.rows]
    assert 100 <= len(steps) <= 201
    assert steps[0] == 0 and steps[-1] == 199_990
    gaps = np.diff(steps[:-1])  # the newest row is added whatever the stride
    assert gaps.min() == gaps.max()  # evenly spaced
    assert [r["step"] for r in follower.recent] == list(range(199_600, 200_000, 10))

    _write(run_dir / "metrics.jsonl", range(200_000, 300_000, 10), mode="a")  # it grows: still bounded, still even
    steps = [r["step"] for r in follower.update().rows]
    assert len(steps) <= 201 and steps[-1] == 299_990
    assert np.diff(steps[:-1]).min() == np.diff(steps[:-1]).max()


def test_a_file_too_big_to_read_is_sampled_evenly_and_its_last_rows_are_still_exact(run_dir, monkeypatch):
    monkeypatch.setattr(runs, "MAX_METRICS_SCAN_BYTES", 256 << 10)  # a 2.5 MB file stands for a huge one
    _write(run_dir / "metrics.jsonl", range(0, 150_000, 10))
    follower = runs.MetricsFollower(run_dir, limit=50, recent=20).update()
    steps = np.array([r["step"] for r in follower.rows])
    assert 50 <= len(steps) <= 101
    assert steps[0] == 0 and steps[-1] == 149_990 and (np.diff(steps) > 0).all()
    gaps = np.diff(steps[:-1])
    assert gaps.max() <= 2.5 * np.median(gaps)  # sampled by offset, then by stride: about even
    assert [r["step"] for r in follower.recent] == list(range(149_800, 150_000, 10))


@pytest.mark.parametrize("rows_written", [120_000, 320_000])  # 20 MB, read line by line; 53 MB, sampled
def test_reading_a_big_file_holds_a_few_mb_and_skips_lines_that_are_no_rows(run_dir, rows_written):
    path = run_dir / "metrics.jsonl"
    with open(path, "w") as f:
        f.write("x" * (300 << 10))  # one 300 KB line with no row in it
        f.write("\n[1, 2]\nnot json\n")
    _write(path, range(0, 10 * rows_written, 10), mode="a")
    assert (os.path.getsize(path) < runs.MAX_METRICS_SCAN_BYTES) == (rows_written < 200_000)
    tracemalloc.start()
    try:
        rows = runs.read_metrics_thinned(run_dir)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MB"  # reading it whole took hundreds
    sampled = rows_written > 200_000  # the first row is where the first sample lands: past the junk line here
    assert rows[0]["step"] <= (0.001 * 10 * rows_written if sampled else 0) and rows[-1]["step"] == 10 * rows_written - 10
    assert runs.DISPLAY_ROWS <= len(rows) <= 2 * runs.DISPLAY_ROWS + 1


def test_a_line_too_long_to_be_a_row_is_skipped_without_being_held(run_dir):
    path = run_dir / "metrics.jsonl"
    _write(path, [0, 10])
    with open(path, "a") as f:
        f.write('{"step": 20, "pad": "' + "y" * (3 << 20) + '"}\n')  # 3 MB: longer than any row
    _write(path, [30], mode="a")
    assert [r["step"] for r in runs.read_metrics_thinned(run_dir)] == [0, 10, 30]
    assert [r["step"] for r in runs.iter_metrics(run_dir)] == [0, 10, 30]


def test_the_csv_of_runs_streams_their_rows_and_refuses_more_than_a_download_holds(tmp_path, monkeypatch):
    a = runs.create_run(tiny("gan", "ring-8"), tmp_path)
    b = runs.create_run(tiny("gan", "ring-8"), tmp_path)
    _write(a / "metrics.jsonl", range(0, 30_000, 10))
    _write(b / "metrics.jsonl", range(0, 50, 10))
    rows = list(csv.DictReader(io.StringIO(export.metrics_csv([a, b]))))
    assert len(rows) == 3_000 + 5
    assert [int(r["step"]) for r in rows if r["run"] == b.name] == [0, 10, 20, 30, 40]

    monkeypatch.setattr(export, "MAX_ZIPPED_METRICS_BYTES", os.path.getsize(a / "metrics.jsonl"))
    export.check_metrics_csv([a])  # exactly at the limit: fine
    with pytest.raises(RunError, match=r"^The selected runs' metrics are 0 MB together, over the 0 MB one download "
                                       r"holds; select fewer runs\.$"):
        export.metrics_csv([a, b])
