"""A demo server plans its memory for itself and one worker (docs/DEPLOY.md), so every
worker is bounded (issue #17): a training run whose steps need more memory than a worker
may use is refused in one sentence, from its sizes before its worker starts
(``recipes.check_memory``), and the worker is capped for what that arithmetic would miss,
instead of taking the machine's memory from the server and every visitor (dcgan at 128 px
with batch 4,096 took a worker to 2.3 GB); the Train form's timing, a second worker,
waits while a run trains."""

from __future__ import annotations

import os
import time

import pytest

from gan_core import budget, estimate, jobs, runs
from gan_core.config import Config
from gan_core.errors import ConfigError
from gan_core.recipes import WORKER_ENGINE_MB
from gan_core.runs import worker_identity

# Big enough to import PyTorch and the engine and train a small run (about 0.9 GB of the
# data segment), far too small for the large batch below (gigabytes of activations).
LIMIT_MB = 1400


def _wait_ended(run_dir, timeout=180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = runs.read_status(run_dir)
        if status.get("state") in ("finished", "failed", "stopped", "diverged"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"the run did not end within {timeout} s: {runs.read_status(run_dir)}")


def _dcgan(batch: int) -> Config:
    return Config(recipe="dcgan").replace(**{
        "data.name": "mnist-5k", "data.image_size": 64, "model.width": 64, "train.batch_size": batch, "train.steps": 3,
        "train.log_every": 1, "train.sample_every": 3, "train.checkpoint_every": 3, "train.n_samples": 4,
        "train.device": "cpu"})


def test_a_demo_run_that_needs_more_memory_than_a_worker_may_fails_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_MEMORY_MB", str(LIMIT_MB))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    small = jobs.launch(_dcgan(8), tmp_path / "small")  # the same run at a usual batch trains under the limit
    assert _wait_ended(small)["state"] == "finished"
    # The run that would not fit is refused from its sizes before a worker starts (recipes.check_memory:
    # the cap less the engine's own); the cap itself stays, for whatever the arithmetic would miss.
    with pytest.raises(budget.BudgetError) as e:
        jobs.launch(_dcgan(2048), tmp_path / "big")
    assert str(e.value).startswith("Training dcgan on grey images of 64 px with batch 2,048 needs about ")
    assert str(e.value).endswith(f"more than the {LIMIT_MB - WORKER_ENGINE_MB:,} MB a training run may use on this server; "
                                 "lower the batch size, the image size or the width.")
    assert not (tmp_path / "big").exists()


def test_without_a_limit_no_worker_is_capped_and_gpu_workers_never_are(monkeypatch):
    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    monkeypatch.delenv("GAN_WORKBENCH_WORKER_MEMORY_MB", raising=False)
    assert jobs.memory_limit("cpu") is None
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    assert jobs.memory_limit("cpu") is not None and jobs.memory_limit("gpu") is None


def test_a_demo_server_does_not_time_a_config_while_a_run_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    cfg = Config(recipe="gan").replace(**{"data.name": "ring-8", "train.steps": 300, "train.device": "cpu"})
    busy = runs.create_run(cfg.replace(**{"data.name": "grid-25"}), tmp_path)
    runs.write_status(busy, state="running", **worker_identity(os.getpid()))  # a live worker: this process

    def timer(_cfg):
        raise AssertionError("timed while a run trains")

    with pytest.raises(ConfigError, match=r"^Not timed while a run trains on this shared demo server .* once that run ends\.$"):
        estimate.estimate(cfg, tmp_path, timer=timer)
    monkeypatch.delenv("GAN_WORKBENCH_DEMO")
    assert estimate.estimate(cfg, tmp_path, timer=lambda c: (0.01, "timed")).per_step == 0.01  # not a demo: timed


def test_a_demo_server_times_one_config_at_a_time_whoever_asks(tmp_path, monkeypatch):
    """The review's finding: three visitors changing settings at once started timing
    workers of 2.9 GB together on a server planned for itself and one worker."""
    import fcntl

    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    cfg = Config(recipe="gan").replace(**{"data.name": "ring-8", "train.steps": 300, "train.device": "cpu"})
    timed = []
    timer = lambda c: timed.append(c) or (0.01, "timed")  # noqa: E731 - a stand-in for the worker
    with open(tmp_path / estimate.TIMING_LOCK, "a") as held:  # another visitor's timing, in progress
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match=r"^Another visitor's settings are being timed on this shared demo server"):
            estimate.estimate(cfg, tmp_path, timer=timer)
        assert timed == []
        fcntl.flock(held, fcntl.LOCK_UN)
    assert estimate.estimate(cfg, tmp_path, timer=timer).per_step == 0.01 and len(timed) == 1
    assert estimate.estimate(cfg, tmp_path, timer=timer).per_step == 0.01  # the slot is free again after each


def test_an_operator_can_run_the_workers_at_a_lower_cpu_priority_than_the_dashboard(monkeypatch):
    """GAN_WORKBENCH_WORKER_NICE: the worker's niceness is raised by that much, after its memory cap."""
    import subprocess
    import sys

    from gan_core import settings

    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    monkeypatch.delenv("GAN_WORKBENCH_WORKER_NICE", raising=False)
    assert jobs._preexec("cpu") is None  # nothing asked: the worker is the server's equal
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_NICE", "7")
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_MEMORY_MB", str(LIMIT_MB))
    probe = "import os, resource; print(os.nice(0), resource.getrlimit(resource.RLIMIT_DATA)[0])"
    out = subprocess.run([sys.executable, "-c", probe], preexec_fn=jobs._preexec("cpu"), capture_output=True, text=True, check=True)
    nice, data = map(int, out.stdout.split())
    assert nice == min(19, os.nice(0) + 7) and data == LIMIT_MB * 2**20  # both: the priority and the memory cap
    for raw, said in (("-3", "must be at least 1, not -3"), ("25", "must be at most 19, not 25"), ("low", "must be a whole number")):
        monkeypatch.setenv("GAN_WORKBENCH_WORKER_NICE", raw)
        with pytest.raises(ConfigError, match=said):
            settings.worker_nice()
