"""A run as a zip (without the trainer-private resume state), metrics of several
runs as one CSV, and deleting a run (never an active one)."""

import csv
import dataclasses
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny
from gan_core import export, runs
from gan_core.errors import RunError
from gan_core.training import train


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A standard GAN and a WGAN-GP, each really trained for a few steps."""
    root = tmp_path_factory.mktemp("export-runs")
    out = []
    for recipe in ("gan", "wgan-gp"):
        cfg = tiny(recipe, "ring-8", steps=6, **{"train.log_every": 2, "train.sample_every": 3, "train.checkpoint_every": 3})
        run_dir = runs.create_run(cfg, root)
        assert train(cfg, run_dir)["state"] == "finished"
        out.append(run_dir)
    return out


def test_zip_has_the_run_files_and_not_the_resume_state(two_runs):
    run_dir = two_runs[0]
    (run_dir / "STOP").touch()
    (run_dir / "train.log").write_text("worker output\n")
    try:
        data = export.run_zip_bytes(run_dir)
    finally:
        (run_dir / "STOP").unlink()
        (run_dir / "train.log").unlink()
    assert (run_dir / "checkpoints" / "last.state.pt").exists()  # it exists, and yet is not exported

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        root = run_dir.name
        assert names == {
            f"{root}/config.json", f"{root}/status.json", f"{root}/metrics.jsonl",
            f"{root}/samples/step_0000003.png", f"{root}/samples/step_0000006.png",
            f"{root}/checkpoints/last.safetensors",
        }
        assert zf.read(f"{root}/checkpoints/last.safetensors") == (run_dir / "checkpoints" / "last.safetensors").read_bytes()
        assert json.loads(zf.read(f"{root}/config.json"))["recipe"] == "gan"
        assert zf.read(f"{root}/metrics.jsonl") == (run_dir / "metrics.jsonl").read_bytes()
        assert zf.testzip() is None


def test_zip_of_a_training_run_leaves_out_a_half_written_metrics_line(two_runs, tmp_path):
    import shutil

    run_dir = tmp_path / two_runs[1].name
    shutil.copytree(two_runs[1], run_dir)
    (run_dir / "experiment.json").write_text(json.dumps({"id": "x", "label": "an experiment"}))
    complete = (run_dir / "metrics.jsonl").read_bytes()
    with open(run_dir / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 8, "loss_')
    with zipfile.ZipFile(io.BytesIO(export.run_zip_bytes(run_dir))) as zf:
        assert zf.read(f"{run_dir.name}/metrics.jsonl") == complete
        assert json.loads(zf.read(f"{run_dir.name}/experiment.json"))["label"] == "an experiment"


def test_zip_of_something_that_is_not_a_run_is_a_one_sentence_error(tmp_path):
    with pytest.raises(RunError, match="not a run directory"):
        export.run_zip_bytes(tmp_path)


def test_metrics_csv_has_a_run_column_and_every_metric(two_runs):
    gan, wgan = two_runs
    text = export.metrics_csv([gan, wgan])
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["run", "step", "elapsed", "time"]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "wasserstein", "gradient_penalty"} <= set(header)
    assert header.index("loss_d") < header.index("d_real") < header.index("wasserstein") < header.index("images_per_s")

    gan_rows = [r for r in rows if r["run"] == gan.name]
    wgan_rows = [r for r in rows if r["run"] == wgan.name]
    assert [int(r["step"]) for r in gan_rows] == [2, 4, 6] == [int(r["step"]) for r in wgan_rows]
    expected = runs.read_metrics(gan)[0]
    assert [float(r["loss_d"]) for r in gan_rows] == [m["loss_d"] for m in expected]
    assert all(r["wasserstein"] == "" for r in gan_rows)  # a standard GAN has no Wasserstein estimate
    assert all(r["d_real"] == "" and r["wasserstein"] != "" for r in wgan_rows)


def test_metrics_csv_of_a_run_without_metrics_is_just_the_header(tmp_path):
    run_dir = runs.create_run(tiny("gan", "ring-8"), tmp_path)
    assert export.metrics_csv([run_dir]) == "run\n"


def test_delete_refuses_an_active_run_and_deletes_a_finished_one(tmp_path, two_runs):
    import shutil

    queued = runs.create_run(tiny("gan", "ring-8"), tmp_path)  # queued: a worker may be about to write into it
    with pytest.raises(RunError, match="still queued"):
        export.delete_run(queued)
    runs.write_status(queued, state="running")
    with pytest.raises(RunError, match="still running"):
        export.delete_run(queued)
    assert queued.is_dir()

    finished = tmp_path / two_runs[0].name
    shutil.copytree(two_runs[0], finished)
    export.delete_run(finished)
    assert not finished.exists()
    assert [r.id for r in runs.list_runs(tmp_path)] == [queued.name]

    with pytest.raises(RunError, match="not a run directory"):
        export.delete_run(tmp_path)
    assert tmp_path.is_dir()


def test_a_runs_zip_stays_within_the_budget_by_keeping_every_kth_grid_and_says_so(two_runs, tmp_path, monkeypatch):
    """The third hostile review: a run of 61 grids of 12.8 MB each (64 samples at 256 px)
    made an 808 MB zip in the server's memory (+865 MB), with no check. Sizes are now
    added up from the files first: every k-th grid and the last are kept to stay within
    half the budget per request, and the zip says which."""
    import shutil

    from gan_core import budget

    run_dir = Path(shutil.copytree(two_runs[0], tmp_path / two_runs[0].name))
    grid = (run_dir / "samples" / sorted(p.name for p in (run_dir / "samples").iterdir())[0]).read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)  # ~270 KB as PNG: barely compresses
    big = io.BytesIO()
    Image.fromarray(noise).save(big, format="PNG")
    for p in (run_dir / "samples").iterdir():
        p.unlink()
    for step in range(10, 210, 10):  # 20 grids, about 5.4 MB
        (run_dir / "samples" / f"step_{step:07d}.png").write_bytes(big.getvalue())
    assert grid  # the run really had grids
    fixed = sum(p.stat().st_size for p in (run_dir / "metrics.jsonl", run_dir / export.WEIGHTS, run_dir / "config.json",
                                           run_dir / "status.json"))
    monkeypatch.setattr(budget, "limit", lambda: 2 * (fixed + 13 * len(big.getvalue()) // 2))  # room for 6 grids, not 7
    plan = export.zip_plan(run_dir)
    assert [s for s, _ in plan.grids] == [10, 50, 90, 130, 170, 200]  # every 4th and the last
    assert plan.note.startswith("6 of its 20 sample grids (every 4th and the last), so that the zip stays within ")
    data = export.run_zip_bytes(run_dir)
    assert len(data) <= budget.limit() // 2
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert sorted(n.split("/")[-1] for n in names if n.endswith(".png")) == [f"step_{s:07d}.png" for s in (10, 50, 90, 130, 170, 200)]
        assert zf.read(f"{run_dir.name}/samples/LEFT_OUT.txt").decode().startswith("This zip holds 6 of its 20 sample grids")
        assert f"{run_dir.name}/{export.WEIGHTS}" in names

    for grids, kept, which in ((1.5, [200], "the last"), (0.5, [], "none")):  # room for one grid, then for none
        monkeypatch.setattr(budget, "limit", lambda: 2 * (fixed + int(grids * len(big.getvalue()))))
        plan = export.zip_plan(run_dir)
        assert [s for s, _ in plan.grids] == kept and f"sample grids ({which})" in plan.note

    monkeypatch.setattr(budget, "limit", lambda: fixed)  # not even the weights and metrics: one sentence
    with pytest.raises(RunError, match=rf"^Run {run_dir.name}'s weights and metrics are .+, more than a zip may hold on this "
                                       r"server \(.+\); copy the run's folder from the server instead\.$"):
        export.zip_plan(run_dir)


def test_a_zip_is_held_to_its_plan_when_grids_grow_after_it(two_runs, tmp_path, monkeypatch):
    """The fifth hostile review: grids replaced by 46 MB ones between the plan and the build
    made a 137 MB zip against a 32 MB room. Files that no longer fit are left out, the
    weights first kept."""
    import shutil

    run_dir = Path(shutil.copytree(two_runs[0], tmp_path / two_runs[0].name))
    plan = export.zip_plan(run_dir)
    assert plan.grids
    room = plan.total + 2048
    monkeypatch.setattr(export, "zip_plan", lambda d: dataclasses.replace(plan, room=room))
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    big = io.BytesIO()
    Image.fromarray(noise).save(big, format="PNG")
    for _, path in plan.grids:  # every grid grows after the plan
        path.write_bytes(big.getvalue())
    data = export.run_zip_bytes(run_dir)
    assert len(data) <= room + 4096  # the directory beside what the room holds
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
    assert f"{run_dir.name}/{export.WEIGHTS}" in names and not [n for n in names if n.endswith(".png")]
