"""The optimiser comparison: three configs that differ only in the optimiser and its
learning rate, launched side by side when three slots are free, queued in one worker
when fewer are, refused when none is; tagged as one experiment."""

import json
import time

import pytest

from conftest import tiny
from gan_core import experiments, jobs, runs
from gan_core.config import Config
from gan_core.errors import ConfigError, RunError
from gan_core.recipes import resolve

OPTIM_FIELDS = {"optimizer", "lr_g", "lr_d", "beta1", "beta2"}  # SGD and RMSProp carry no Adam betas


def record_launches(monkeypatch):
    """Replace jobs.launch with one that creates the run directory but starts nothing."""
    calls = []

    def fake_launch(cfg, runs_dir, max_active=None):
        calls.append((cfg, max_active))
        return runs.create_run(cfg, runs_dir)

    monkeypatch.setattr(jobs, "launch", fake_launch)
    return calls


def mnist_base(**changes):
    return Config(recipe="gan").replace(**{"data.name": "mnist-5k", "data.image_size": 28, "train.steps": 500,
                                           "train.seed": 7, **changes})


def test_three_configs_differ_only_in_optimizer_and_learning_rate(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    run_dirs = experiments.optimizer_comparison(mnist_base(), tmp_path, max_active=3)

    assert len(calls) == 3 and all(max_active == 3 for _, max_active in calls)
    cfgs = [cfg for cfg, _ in calls]
    assert [(c.optim.optimizer, c.optim.lr_g, c.optim.lr_d) for c in cfgs] == [
        ("sgd", 0.01, 0.01), ("rmsprop", 0.001, 0.001), ("adam", 0.0002, 0.0002)]
    assert cfgs[2].optim.beta1 == 0.5
    dicts = [c.to_dict() for c in cfgs]
    for d in dicts:
        d["optim"] = {k: v for k, v in d["optim"].items() if k not in OPTIM_FIELDS}
    assert dicts[0] == dicts[1] == dicts[2]  # same recipe, model, data, seed, steps, loss, ...
    assert {(c.recipe, c.data.name, c.data.image_size, c.train.seed, c.train.steps, c.model.arch) for c in cfgs} == {
        ("gan", "mnist-5k", 28, 7, 500, "mlp")}

    tags = [json.loads((d / "experiment.json").read_text()) for d in run_dirs]
    assert len({t["id"] for t in tags}) == 1
    assert [t["variant"] for t in tags] == ["sgd", "rmsprop", "adam"]
    assert all(t["runs"] == [d.name for d in run_dirs] for t in tags)
    assert tags[0]["kind"] == "optimizer-comparison" and "mnist-5k" in tags[0]["label"]
    assert [runs.read_config(d).optim.optimizer for d in run_dirs] == ["sgd", "rmsprop", "adam"]

    (exp,) = experiments.list_experiments(tmp_path)
    assert exp["id"] == tags[0]["id"] and exp["runs"] == run_dirs
    assert experiments.read_experiment(run_dirs[1])["variant_label"] == "RMSProp, lr 0.001"


def test_no_limit_launches_side_by_side(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    experiments.optimizer_comparison(mnist_base(), tmp_path, max_active=None)
    assert [max_active for _, max_active in calls] == [None, None, None]


def test_no_free_slot_is_refused_in_one_sentence_and_launches_nothing(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    for _ in range(2):
        runs.create_run(tiny("gan", "ring-8"), tmp_path)  # two queued runs hold both slots
    with pytest.raises(RunError, match=r"needs one free training slot, but 2 run\(s\) are already training and the limit is 2"):
        experiments.optimizer_comparison(mnist_base(), tmp_path, max_active=2)
    assert calls == [] and len(runs.list_runs(tmp_path)) == 2


def test_a_bad_base_config_fails_before_anything_is_launched(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    with pytest.raises(ConfigError):
        experiments.optimizer_comparison(Config(recipe="dcgan").replace(**{"data.name": "ring-8"}), tmp_path, 3)
    assert calls == [] and runs.list_runs(tmp_path) == []


def test_train_queue_skips_stopped_and_no_longer_queued_runs(tmp_path):
    cfgs = [tiny("gan", "ring-8", steps=4, **{"optim.optimizer": o}) for o in ("sgd", "rmsprop", "adam")]
    dirs = [runs.create_run(resolve(c), tmp_path) for c in cfgs]
    (dirs[1] / "STOP").touch()           # stopped while waiting in the queue
    runs.write_status(dirs[2], state="finished")  # e.g. trained meanwhile by hand

    assert experiments.train_queue(dirs) == ["finished", "stopped", "finished"]
    assert runs.read_status(dirs[0])["step"] == 4 and (dirs[0] / "checkpoints" / "last.safetensors").exists()
    assert runs.read_status(dirs[1])["state"] == "stopped" and runs.read_metrics(dirs[1])[0] == []
    assert not (dirs[2] / "metrics.jsonl").exists()
    assert "Queue: training" in (dirs[0] / "train.log").read_text()
    assert "stopped before it started" in (dirs[1] / "train.log").read_text()


def test_fewer_than_three_slots_queue_the_runs_in_one_background_worker(tmp_path):
    base = tiny("gan", "ring-8", steps=30, **{"train.log_every": 5, "train.sample_every": 15, "train.checkpoint_every": 30})
    run_dirs = experiments.optimizer_comparison(base, tmp_path, max_active=1)

    statuses = [runs.read_status(d) for d in run_dirs]
    assert len({s["pid"] for s in statuses}) == 1  # one worker for all three
    with pytest.raises(RunError, match="limit is 1"):  # the queue counts against the limit
        jobs.launch(tiny("gan", "ring-8"), tmp_path, max_active=1)

    deadline = time.time() + 240
    while time.time() < deadline and any(runs.read_status(d)["state"] in runs.ACTIVE for d in run_dirs):
        time.sleep(0.2)
    finals = [runs.read_status(d) for d in run_dirs]
    assert [s["state"] for s in finals] == ["finished"] * 3, [(d / "train.log").read_text() for d in run_dirs]
    # One after another: each run started after the previous one had finished.
    assert finals[0]["updated"] <= finals[1]["started"] and finals[1]["updated"] <= finals[2]["started"]
    assert [runs.read_config(d).optim.optimizer for d in run_dirs] == ["sgd", "rmsprop", "adam"]
    assert all(len(runs.read_metrics(d)[0]) == 6 for d in run_dirs)
