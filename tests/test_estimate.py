"""Durations said before a run starts (gan_core.estimate): from past runs of the same
shape when there are some, else from a few steps of the real trainer timed now."""

import json

import pytest

from conftest import tiny
from gan_core import estimate, runs
from gan_core.config import Config
from gan_core.errors import ConfigError
from gan_core.recipes import resolve


@pytest.mark.parametrize("seconds, text", [(12, "about 10 s"), (49, "about 50 s"), (50, "about 1 min"), (89, "about 1 min"),
                                           (95, "about 2 min"), (3600, "about 60 min"), (7800, "about 2 h 10 min")])
def test_durations_read_as_about_so_long(seconds, text):
    assert estimate.about(seconds) == text


def past_run(runs_dir, cfg, seconds_per_step, device="cpu", steps=200):
    run_dir = runs.create_run(resolve(cfg), runs_dir)
    # 4 s before the first row (start-up, data), then the steady rate.
    rows = [{"step": s, "time": 0.0, "elapsed": 4.0 + s * seconds_per_step, "loss_d": 1.0, "loss_g": 1.0} for s in range(10, steps + 1, 10)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs.write_status(run_dir, state="finished", step=steps, device=device)
    return run_dir


def test_past_runs_of_the_same_shape_give_the_rate_and_others_are_ignored(tmp_path):
    cfg = tiny("gan", "ring-8", steps=1000, **{"train.batch_size": 32})
    for rate in (0.02, 0.04, 0.03):
        past_run(tmp_path, cfg, rate)
    past_run(tmp_path, cfg.replace(**{"train.batch_size": 512}), 5.0)  # another batch size
    past_run(tmp_path, cfg.replace(**{"loss.d_update": "halves"}), 5.0)  # the article's D update: two steps
    past_run(tmp_path, cfg, 5.0, device="cuda:0")  # trained on a GPU and copied here
    past_run(tmp_path, cfg, 5.0, steps=10)  # one row: no slope to read
    assert estimate.per_step_from_runs(resolve(cfg), tmp_path) == (pytest.approx(0.03), 3)
    # Seed, steps and learning rates do not change a step's cost.
    other = cfg.replace(**{"train.seed": 9, "train.steps": 50, "optim.lr_g": 0.1})
    found = estimate.estimate(other, tmp_path, timer=lambda c: pytest.fail("past runs were enough"))
    assert (found.per_step, found.steps, found.seconds) == (pytest.approx(0.03), 50, pytest.approx(estimate.STARTUP_S + 1.5))
    assert found.basis == "measured on 3 past runs like it here"


def test_without_past_runs_a_few_real_steps_are_timed(tmp_path):
    cfg = tiny("gan", "ring-8", steps=500)
    per_step, basis = estimate.time_per_step(cfg)
    assert 0 < per_step < 5 and basis == "timed just now on this machine"
    found = estimate.estimate(cfg, tmp_path, timer=lambda c: (0.25, "timed"))
    assert found.seconds == pytest.approx(estimate.STARTUP_S + 125) and found.text() == "about 2 min"


def test_the_steps_are_timed_in_a_worker_never_in_this_process(monkeypatch):
    # The dashboard's server is every visitor's: it must not train (nor allocate) for a form value.
    from gan_core import training

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("trained in the caller's process"))
    per_step, basis = estimate.time_per_step(tiny("gan", "ring-8", steps=500))
    assert 0 < per_step < 5 and basis == "timed just now on this machine"


def test_a_step_that_needs_more_memory_than_the_timing_limit_is_refused_in_one_sentence():
    # Batch 4,096 of 128-px colour images through a DCGAN: gigabytes of activations in one step.
    # The timing worker resolves its config again, so on a machine with less memory than the
    # run's estimate (54.5 GB) the arithmetic check speaks first; on a larger one its cap does.
    cfg = Config(recipe="dcgan").replace(**{"data.name": "photos", "data.image_size": 128, "data.channels": 3,
                                            "train.batch_size": 4096, "train.steps": 300})
    with pytest.raises(ConfigError, match=r"^(One step of this run needs more than the 1,536 MB |Training dcgan .* needs about "
                                          r"[0-9.,]+ GB, more than this machine's ).*lower the batch size") as e:
        estimate.time_per_step(resolve(cfg, memory=False))  # past the launching side's own check
    assert "\n" not in str(e.value)


def test_a_timing_worker_out_of_time_is_stopped_and_refused(monkeypatch):
    monkeypatch.setattr(estimate, "TIMING_TIMEOUT_S", 0.05)  # not even time to import PyTorch
    with pytest.raises(ConfigError, match=r"^Timing a few steps of this run took over 0 s"):
        estimate.time_per_step(tiny("gan", "ring-8", steps=500))


def record_timed_steps(monkeypatch) -> list[int]:
    from gan_core import training

    seen, real_train = [], training.train

    def counting(cfg, run_dir, should_stop=None, on_progress=None):
        return real_train(cfg, run_dir, should_stop, lambda step, total, row: seen.append(step))

    monkeypatch.setattr(training, "train", counting)
    return seen


def test_a_quick_recipe_is_timed_over_a_few_dozen_steps_and_a_slow_one_over_one(monkeypatch):
    seen = record_timed_steps(monkeypatch)
    monkeypatch.setattr(estimate, "TIMING_BUDGET_S", 100.0)
    estimate.measure_step(tiny("gan", "ring-8", steps=5000))
    assert seen == list(range(1, estimate.TIMING_STEPS["vector"] + 1))  # capped, whatever the run's own steps

    seen.clear()
    monkeypatch.setattr(estimate, "TIMING_BUDGET_S", 0.0)  # every step is slower than the budget
    per_step, _ = estimate.measure_step(tiny("dcgan", "faces-lfw", steps=2000))
    assert seen == [1] and per_step > 0  # one step is timed, not the run


def test_data_read_from_disk_is_timed_on_built_in_images_of_the_same_shape():
    timing, basis = estimate._timing_config(Config(recipe="dcgan").replace(**{
        "data.name": "folder", "data.path": "/nowhere/photos.zip", "data.image_size": 64, "train.batch_size": 16}))
    assert (timing.data.name, timing.data.path, timing.data.image_size, timing.data.channels) == ("photos", None, 64, 3)
    assert timing.train.batch_size == 16 and "photos" in basis
    timing, _ = estimate._timing_config(Config(recipe="cgan").replace(**{"data.name": "celeba", "data.path": "/x", "data.image_size": 32}))
    assert (timing.data.name, timing.data.path) == ("mnist-5k", None)  # labels, as a conditional recipe needs


def test_the_memory_limit_applies_to_cpu_timings_only(monkeypatch):
    # On a GPU, RLIMIT_DATA would count the CUDA driver's host memory, not the run's.
    import subprocess

    seen = []

    def fake_run(args, **kwargs):
        seen.append(kwargs.get("preexec_fn"))
        return subprocess.CompletedProcess(args, 0, stdout='{"per_step": 0.5, "basis": "timed"}\n', stderr="")

    monkeypatch.setattr(estimate.subprocess, "run", fake_run)
    for device in ("cpu", "cuda"):
        monkeypatch.setattr(estimate, "_device", lambda name, d=device: d)
        assert estimate.time_per_step(tiny("gan", "ring-8", steps=50)) == (0.5, "timed")
    assert seen == [estimate._limit_memory, None]
