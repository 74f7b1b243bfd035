"""Data-parallel training under torchrun, two CPU processes over gloo (issue #10).

Every run here is a real ``torchrun`` (PyTorch's own launcher) of the real command
line. ``tests/ddp_worker.py`` is ``python -m gan_core`` plus a batch-norm-free point
recipe (``no-bn``): PyTorch's SyncBatchNorm needs GPUs, so on CPU only a model
without batch norm can be compared step for step with a single process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_core import checkpoints

ROOT = Path(__file__).resolve().parent.parent
WORKER = str(ROOT / "tests" / "ddp_worker.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
POINTS = ["--recipe", "no-bn", "--data", "ring-8", "--batch-size", "64", "--seed", "0", "--device", "cpu", "--no-progress"]

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="this PyTorch has no gloo backend")


def one_process(*args: str) -> list[str]:
    return [sys.executable, WORKER, "train", *args]


def two_processes(*args: str) -> list[str]:
    return [*TORCHRUN, WORKER, "train", *args]


def run(cmd: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def only_run(runs: Path) -> Path:
    (run_dir,) = runs.iterdir()
    return run_dir


def rows(run_dir: Path) -> list[dict]:
    """The logged rows; read while the run trains, the last line may be half-written (a CI
    run read '{"step": 247, "time": 1796683460.42'), so only lines ended by a newline count."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().split("\n")[:-1]]


def status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoints" / "last.safetensors"))


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_two_processes_hold_identical_weights_every_step_and_match_one_process(tmp_path):
    """The global batch of 64 split over two processes is the one-process run: the
    ranks' weights are identical after every step (log every step, replica_spread is
    the spread of their checksums), and the result matches within float rounding."""
    args = [*POINTS, "--steps", "30", "--log-every", "1"]
    run(one_process(*args, "--runs-dir", str(tmp_path / "one")))
    run(two_processes(*args, "--runs-dir", str(tmp_path / "two")))
    one, two = only_run(tmp_path / "one"), only_run(tmp_path / "two")

    logged = rows(two)
    assert [r["step"] for r in logged] == list(range(1, 31))
    assert all(r["processes"] == 2 and r["replica_spread"] == 0.0 for r in logged)
    assert status(two)["device"] == "cpu x 2 processes"
    # Float rounding only (all-reduced gradients add in another order): 1.6e-7 measured.
    assert max_difference(weights(one), weights(two)) < 1e-5
    assert max(abs(a["loss_d"] - b["loss_d"]) for a, b in zip(rows(one), logged)) < 1e-5


def test_a_batch_norm_recipe_trains_in_two_processes_with_identical_weights(tmp_path):
    """pacgan's generator has batch norm: on CPU each process normalises its shard,
    yet the weights stay identical and its packs of 4 stay whole (64 = 2 x 32)."""
    run([*TORCHRUN, "-m", "gan_core", "train", "--recipe", "pacgan", "--data", "grid-25", "--steps", "8", "--log-every", "1",
         "--batch-size", "64", "--device", "cpu", "--no-progress", "--runs-dir", str(tmp_path)])
    logged = rows(only_run(tmp_path))
    assert [r["step"] for r in logged] == list(range(1, 9))
    assert {r["replica_spread"] for r in logged} == {0.0}


def test_a_batch_that_does_not_split_over_the_processes_is_refused_in_one_sentence():
    from gan_core.distributed import Ranks, check_batch, from_environment
    from gan_core.errors import ConfigError

    two = from_environment({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert two == Ranks(1, 2, 1) and not two.main and two.active
    assert check_batch(two, 64, 4) == 32
    with pytest.raises(ConfigError, match=r"^--batch-size 63 does not split evenly over 2 processes; use a multiple of 2\.$"):
        check_batch(two, 63)
    with pytest.raises(ConfigError, match="which is not a multiple of 4; use a --batch-size that is a multiple of 8"):
        check_batch(two, 36, 4)
    with pytest.raises(ConfigError, match="outside WORLD_SIZE"):
        from_environment({"WORLD_SIZE": "2", "RANK": "2"})


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_rows(run_dir_of, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        run_dir = run_dir_of()
        if run_dir is not None and (run_dir / "metrics.jsonl").exists() and len(rows(run_dir)) >= at_least:
            return run_dir
        time.sleep(0.05)
    raise AssertionError("the run did not log its first steps in time")


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _checkpoint_step(run_dir: Path) -> int:
    return int(torch.load(run_dir / "checkpoints" / checkpoints.STATE, weights_only=True)["step"])


def test_stops_kills_and_resumes_across_one_and_two_processes_log_every_step_once(tmp_path):
    """One run, five legs: one process stopped by SIGTERM; resumed in two and stopped
    by the STOP file; resumed in two and stopped by SIGTERM to torchrun (which passes
    it on); resumed in two and SIGKILLed, torchrun and workers at once; finished in one.
    Each clean stop checkpoints the step every process stopped after; the kill loses
    only the steps since the last checkpoint; every step is logged exactly once; and
    the legs continue the uninterrupted one-process run: their losses agree to float
    rounding. (Only over the first few hundred steps: a GAN's dynamics are chaotic,
    and the 1e-7 differences of all-reduced sums grow to ~0.1 by step 800, as they
    would between two GPUs' summation orders.)"""
    runs = tmp_path / "runs"
    steps = 1000  # the legs stop near steps 100-600; the last leg finishes the rest in one process
    args = [*POINTS, "--steps", str(steps), "--log-every", "1", "--checkpoint-every", "50"]

    def run_dir_of():
        found = list(runs.iterdir()) if runs.exists() else []
        return found[0] if found else None

    def leg(cmd: list[str], after: int, how) -> tuple[int, str]:
        proc = _start(cmd)
        here = _wait_for_rows(run_dir_of, after, proc)
        how(proc, here)
        out, err = proc.communicate(timeout=120)
        return rows(here)[-1]["step"], err

    def stopped_cleanly(step: int, err: str) -> int:
        st = status(run_dir_of())
        assert st["state"] == "stopped", (st, err[-3000:])
        assert _checkpoint_step(run_dir_of()) == st["step"] == step, err[-3000:]
        assert not (run_dir_of() / "STOP").exists()
        return step

    def sigterm(proc, _run_dir):
        proc.send_signal(signal.SIGTERM)

    def stop_file(_proc, run_dir):
        (run_dir / "STOP").touch()

    def sigkill(proc, _run_dir):
        # torchrun starts each worker in a session of its own, so killing its process
        # group would leave the workers training: kill every process of the tree.
        for pid in [proc.pid, *_descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    first = stopped_cleanly(*leg(one_process(*args, "--runs-dir", str(runs)), 100, sigterm))
    run_dir = run_dir_of()
    resume_two = two_processes("--resume", str(run_dir), "--no-progress")
    second = stopped_cleanly(*leg(resume_two, first + 100, stop_file))
    third = stopped_cleanly(*leg(resume_two, second + 100, sigterm))
    killed, _ = leg(resume_two, third + 100, sigkill)
    assert first < second < third < killed < steps
    assert _checkpoint_step(run_dir) >= third + 50  # a checkpoint every 50 steps survived the kill
    run(one_process("--resume", str(run_dir), "--no-progress"))

    assert status(run_dir)["state"] == "finished"
    logged = rows(run_dir)
    assert [r["step"] for r in logged] == list(range(1, steps + 1))
    assert {r.get("replica_spread", 0.0) for r in logged} == {0.0}
    assert {r.get("processes") for r in logged[first:third]} == {2}
    run(one_process(*[a if a != str(steps) else "350" for a in args], "--runs-dir", str(tmp_path / "straight")))
    straight = rows(only_run(tmp_path / "straight"))
    # A resume that restored the wrong random state or data position would differ by ~0.1 at once.
    assert max(abs(a[k] - b[k]) for a, b in zip(logged[:min(third, 350)], straight) for k in ("loss_d", "loss_g")) < 1e-4


def test_the_train_page_command_has_a_torchrun_form_that_parses_to_the_same_config():
    from gan_core.cli import _build_parser, _config_from_args
    from gan_core.config import Config, command_line, torchrun_command

    cfg = Config().replace(**{"recipe": "dcgan", "data.name": "faces-lfw", "train.batch_size": 128, "train.steps": 900})
    multi = torchrun_command(cfg, 4)
    assert multi.startswith("torchrun --nproc_per_node 4 -m gan_core train ")
    assert multi.split(" -m gan_core ")[1] == command_line(cfg).split(" -m gan_core ")[1]
    parser, dests = _build_parser()
    args = parser.parse_args(multi.split(" -m gan_core ")[1].split())
    assert _config_from_args(args, dests) == cfg


def test_dashboard_workers_never_join_a_torchrun_group_the_server_runs_in(monkeypatch):
    from gan_core.distributed import from_environment
    from gan_core.jobs import worker_env

    for name, value in {"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "2", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    env = worker_env()
    assert not {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"} & env.keys()
    assert not from_environment(env).active


def test_wgan_gp_in_two_processes_is_the_one_process_run(tmp_path):
    """The gradient penalty's epsilon is drawn for the global batch and sharded, as the
    noise is: each process drew its own shard's worth with the same RNG state, so both
    shards had the same epsilons and the processes' RNG streams left a single process's
    (the weights after 20 steps were about 1e-2 apart, now float rounding)."""
    args = [*POINTS, "--recipe", "no-bn-gp", "--steps", "20", "--log-every", "5"]
    run(one_process(*args, "--runs-dir", str(tmp_path / "one")))
    run(two_processes(*args, "--runs-dir", str(tmp_path / "two")))
    one, two = only_run(tmp_path / "one"), only_run(tmp_path / "two")
    assert {r["replica_spread"] for r in rows(two)} == {0.0}
    assert max_difference(weights(one), weights(two)) < 1e-5
    assert max(abs(a["wasserstein"] - b["wasserstein"]) for a, b in zip(rows(one), rows(two))) < 1e-5


def test_pix2pix_with_instance_norm_in_two_processes_is_the_one_process_run(tmp_path):
    """Dropout masks are drawn for the global batch and sharded (distributed.ShardedDropout):
    each process drew a mask for its shard with the same RNG state, so the shards' masks were
    one mask repeated. With instance norm (no batch statistics across the shard) a CPU
    two-process pix2pix run is then the one-process run within float rounding."""
    args = ["--recipe", "pix2pix", "--data", "faces-lfw", "--pairs", "edges", "--limit", "32", "--image-size", "16",
            "--width", "8", "--norm", "instance", "--augment", "none", "--batch-size", "8", "--steps", "6", "--log-every", "1", "--seed", "0",
            "--device", "cpu", "--no-progress"]
    run([sys.executable, "-m", "gan_core", "train", *args, "--runs-dir", str(tmp_path / "one")])
    run([*TORCHRUN, "-m", "gan_core", "train", *args, "--runs-dir", str(tmp_path / "two")])
    one, two = only_run(tmp_path / "one"), only_run(tmp_path / "two")
    assert {r["replica_spread"] for r in rows(two)} == {0.0}
    for a, b in zip(rows(one), rows(two)):  # with one mask repeated, l1 differed from the first step
        assert abs(a["l1"] - b["l1"]) < 1e-6 and abs(a["loss_d"] - b["loss_d"]) < 1e-6, (a, b)
        assert abs(a["loss_g"] - b["loss_g"]) < 1e-6 * abs(a["loss_g"]), (a, b)
    # A conv bias just before an instance norm is subtracted again by the norm: its true gradient
    # is 0, so what it gets is rounding noise, which Adam turns into steps of up to the learning
    # rate (measured: up to 1.5e-3 after 6 steps). Every other weight is the one-process weight.
    one_w, two_w = weights(one), weights(two)
    kept = [k for k in one_w if not k.endswith(".bias")]
    assert max_difference({k: one_w[k] for k in kept}, {k: two_w[k] for k in kept}) < 1e-5


def test_the_gradient_penalty_of_two_shards_is_the_global_batchs_with_a_condition():
    """As the Wasserstein cgan calls it (a critic of (x, y)): each shard's epsilon rows are
    the global batch's, so the mean of the shards' penalties is the one-process penalty."""
    from gan_core.losses import gradient_penalty

    torch.manual_seed(0)
    critic = torch.nn.Bilinear(6, 3, 1)
    real, fake, cond = torch.randn(8, 6), torch.randn(8, 6), torch.randn(8, 3)

    def penalty(rows, shard):
        torch.manual_seed(1)  # every process holds the same RNG state
        return gradient_penalty(lambda x, y: critic(x, y).squeeze(1) ** 3, real[rows], fake[rows], cond[rows], shard=shard)

    whole = penalty(slice(0, 8), (0, 1))
    halves = [penalty(slice(4 * r, 4 * r + 4), (r, 2)) for r in range(2)]
    assert torch.allclose((halves[0] + halves[1]) / 2, whole, rtol=1e-6)
    # Before: rank 1 drew for its own 4 rows as if alone, i.e. rank 0's epsilons.
    assert not torch.allclose(penalty(slice(4, 8), (0, 1)), halves[1])


def test_a_finished_run_waits_for_the_other_processes_before_leaving_the_group(monkeypatch):
    """After a run every process finished, teardown waits at a barrier before destroying
    the group (gloo aborted a finished process at exit without it, CI 2026-12-07); after
    a failure, or when another process has died, it leaves at once."""
    from gan_core import distributed

    calls = []
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(distributed.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: calls.append("destroy"))
    distributed.teardown(synchronise=True)
    assert calls == ["barrier", "destroy"]
    calls.clear()
    distributed.teardown()
    assert calls == ["destroy"]

    def peer_gone():
        raise RuntimeError("Connection closed by peer")

    monkeypatch.setattr(distributed.dist, "barrier", peer_gone)
    calls.clear()
    distributed.teardown(synchronise=True)
    assert calls == ["destroy"]
