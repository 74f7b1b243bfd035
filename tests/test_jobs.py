"""Background workers: a run launched as its own process, killed with SIGKILL,
listed correctly afterwards and resumed from its last checkpoint."""

import os
import signal
import time

import pytest

from conftest import tiny
from gan_core import jobs, runs
from gan_core.errors import RunError
from gan_core.training import resume


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkilled_worker_is_listed_interrupted_and_resumes(tmp_path):
    cfg = tiny("gan", "ring-8", steps=1500, **{"train.log_every": 10, "train.checkpoint_every": 50,
                                                "train.sample_every": 1000})
    run_dir = jobs.launch(cfg, tmp_path)
    pid = runs.read_status(run_dir)["pid"]
    wait_for(lambda: runs.read_status(run_dir).get("step", 0) >= 120, what="the worker to pass step 120")
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: runs.read_status(run_dir)["state"] != "running", 30, "the kill to be noticed")

    (info,) = runs.list_runs(tmp_path)
    assert info.state == "interrupted" and not info.active
    assert info.step >= 120
    with open(run_dir / "metrics.jsonl", "ab") as f:  # as if killed mid-line
        f.write(b'{"step": 99999, "loss_')
    rows, _ = runs.read_metrics(run_dir)
    assert rows and rows[-1]["step"] % 10 == 0

    status = resume(run_dir)
    assert status["state"] == "finished" and status["step"] == 1500
    steps = [r["step"] for r in runs.read_metrics(run_dir)[0]]
    assert steps == list(range(10, 1501, 10))  # no duplicated, no lost steps, torn line gone


def test_launch_stop_resume_and_the_concurrency_limit(tmp_path):
    cfg = tiny("gan", "toy-1d", steps=100000, **{"train.log_every": 10, "train.checkpoint_every": 100000})
    run_dir = jobs.launch(cfg, tmp_path, max_active=1)
    with pytest.raises(RunError, match="limit is 1"):
        jobs.launch(cfg, tmp_path, max_active=1)
    with pytest.raises(RunError, match="still"):
        jobs.resume(run_dir)
    wait_for(lambda: runs.read_status(run_dir).get("step", 0) >= 20, what="training to start")
    jobs.stop(run_dir)
    wait_for(lambda: runs.read_status(run_dir)["state"] == "stopped", 60, "the stop")
    stopped_at = runs.read_status(run_dir)["step"]
    assert (run_dir / "checkpoints" / "last.state.pt").exists()
    assert jobs.active_runs(tmp_path) == []

    jobs.resume(run_dir, max_active=1)
    wait_for(lambda: runs.read_status(run_dir).get("step", 0) > stopped_at + 20, what="the resumed run to progress")
    jobs.stop(run_dir)
    wait_for(lambda: runs.read_status(run_dir)["state"] == "stopped", 60, "the second stop")
    assert "Resuming" in (run_dir / "train.log").read_text()


def test_stop_pressed_while_the_worker_is_still_starting_stops_it(tmp_path):
    cfg = tiny("gan", "toy-1d", steps=100000, **{"train.log_every": 10, "train.checkpoint_every": 100000})
    run_dir = jobs.launch(cfg, tmp_path)
    assert runs.read_status(run_dir)["state"] == "queued"  # the worker is still importing PyTorch
    status = runs.read_status(run_dir)
    if os.path.exists("/proc/self/stat"):
        assert status["pid_start"] == runs._proc_start(status["pid"])  # more than the pid identifies it
    jobs.stop(run_dir)
    wait_for(lambda: runs.read_status(run_dir)["state"] == "stopped", 60, "the queued run to stop")
    assert "before it started" in runs.read_status(run_dir)["message"]
    assert not (run_dir / "metrics.jsonl").exists() and not (run_dir / "STOP").exists()
    assert jobs.active_runs(tmp_path) == []
