"""The comparisons: the optimiser comparison with the Keras article's own settings
(which reach the optimisers PyTorch builds), its half-batch D update (two D steps:
a real half-batch, then a fake one), minimax vs non-saturating and GAN vs WGAN vs
WGAN-GP from one call each; launched side by side when slots are free, queued in
one worker when fewer are, refused when none is; tagged as one experiment; the
command line, the figures and the verdict."""

import json
import time

import pytest
import torch

from conftest import tiny
from gan_core import checkpoints, experiments, jobs, runs
from gan_core.config import Config
from gan_core.data import load_data
from gan_core.errors import ConfigError, RunError
from gan_core.models.mlp import MLPDiscriminator
from gan_core.recipes import make_optimizer, resolve
from gan_core.training import train

OPTIM_FIELDS = {"optimizer", "lr_g", "lr_d", "beta1", "beta2", "momentum", "rho"}  # each optimiser's own settings


def record_launches(monkeypatch):
    """Let jobs.launch_group create the run directories but start no worker; record
    (config, max_active) of every run it starts side by side."""
    calls = []
    limits = []
    launch_group = jobs.launch_group

    def recording(cfgs, runs_dir, max_active=None, *args, **kwargs):
        limits.append(max_active)
        return launch_group(cfgs, runs_dir, max_active, *args, **kwargs)

    monkeypatch.setattr(jobs, "launch_group", recording)
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: calls.append((runs.read_config(run_dir), limits[-1])))
    monkeypatch.setattr(jobs, "_spawn_queue", lambda run_dirs, active=0: pytest.fail("queued instead of side by side"))
    return calls


def mnist_base(**changes):
    return Config(recipe="gan").replace(**{"data.name": "mnist-5k", "data.image_size": 28, "train.steps": 500,
                                           "train.seed": 7, **changes})


def test_three_configs_differ_only_in_optimizer_and_learning_rate(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    run_dirs = experiments.optimizer_comparison(mnist_base(), tmp_path, max_active=3)

    assert len(calls) == 3 and all(max_active == 3 for _, max_active in calls)
    cfgs = [cfg for cfg, _ in calls]
    # The Keras article's keras_gan.py: SGD(lr=0.01, momentum=0.5), RMSprop(lr=0.0002, rho=0.9), Adam(0.0002, beta_1=0.5).
    assert [(c.optim.optimizer, c.optim.lr_g, c.optim.lr_d) for c in cfgs] == [
        ("sgd", 0.01, 0.01), ("rmsprop", 0.0002, 0.0002), ("adam", 0.0002, 0.0002)]
    assert (cfgs[0].optim.momentum, cfgs[1].optim.rho, cfgs[2].optim.beta1, cfgs[2].optim.beta2) == (0.5, 0.9, 0.5, 0.999)
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
    assert experiments.read_experiment(run_dirs[1])["variant_label"] == "RMSProp, lr 0.0002, ρ 0.9"


def test_no_limit_launches_side_by_side(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    experiments.optimizer_comparison(mnist_base(), tmp_path, max_active=None)
    assert [max_active for _, max_active in calls] == [None, None, None]


def test_no_free_slot_is_refused_in_one_sentence_and_launches_nothing(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    for _ in range(2):
        runs.create_run(tiny("gan", "ring-8"), tmp_path)  # two queued runs hold both slots
    with pytest.raises(RunError, match=r"needs one free training slot, but 2 runs are already training and the limit is 2"):
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

    assert jobs.train_queue(dirs) == ["finished", "stopped", "finished"]
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


# ----------------------------------------------------------------------------- the article's settings


def test_article_config_is_the_keras_articles_run():
    cfg = resolve(experiments.article_config())
    assert (cfg.recipe, cfg.model.arch, cfg.model.width, cfg.model.z_dim) == ("gan", "mlp", 256, 100)
    assert (cfg.data.name, cfg.data.image_size, cfg.data.channels) == ("faces-lfw", 28, 3)  # 28 x 28 x 3, as its img_shape
    assert (cfg.train.batch_size, cfg.loss.d_update, cfg.train.steps) == (32, "halves", 5000)
    assert (cfg.train.log_every, cfg.train.sample_every, cfg.train.n_samples) == (1, 200, 25)  # every step; 5 x 5 every 200
    assert (cfg.loss.g_loss, cfg.loss.d_steps) == ("non-saturating", 1)  # the combined model trains G against label 1


@pytest.mark.parametrize("variant, expected", [
    ("sgd", {"lr": 0.01, "momentum": 0.5}),
    ("rmsprop", {"lr": 0.0002, "alpha": 0.9}),
    ("adam", {"lr": 0.0002, "betas": (0.5, 0.999)}),
])
def test_the_articles_settings_reach_the_optimisers_the_trainer_builds(tmp_path, variant, expected):
    configs = {v.name: cfg for v, cfg in experiments.variant_configs("optimizers", experiments.article_config(steps=2))}
    cfg = configs[variant].replace(**{"train.device": "cpu", "train.checkpoint_every": 2, "train.sample_every": 2})
    # The optimiser the recipe builds ...
    built = make_optimizer(cfg, [torch.nn.Parameter(torch.zeros(1))], cfg.optim.lr_d)
    assert type(built).__name__.lower() == variant
    assert {k: built.defaults[k] for k in expected} == expected
    # ... and the two the trainer used, as saved in the run's resume state.
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"
    state = checkpoints.load_state(run_dir / "checkpoints")
    for name in ("optim_g", "optim_d"):
        (group,) = state[name]["param_groups"]
        assert {k: tuple(group[k]) if k == "betas" else group[k] for k in expected} == expected, name


def test_rmsprops_smoothing_constant_is_a_checked_config_field():
    cfg = resolve(Config(recipe="wgan").replace(**{"data.name": "ring-8"}))
    assert cfg.optim.rho == 0.99  # PyTorch's default, what wgan always trained with
    assert make_optimizer(cfg, [torch.nn.Parameter(torch.zeros(1))], 1e-3).defaults["alpha"] == 0.99
    with pytest.raises(ConfigError, match=r"^--rho is an RMSProp setting and the optimizer is adam; leave it unset or use --optimizer rmsprop\.$"):
        resolve(Config(recipe="gan").replace(**{"data.name": "ring-8", "optim.rho": 0.9}))
    with pytest.raises(ConfigError, match=r"^--rho must be at least 0 and below 1"):
        resolve(Config(recipe="wgan").replace(**{"data.name": "ring-8", "optim.rho": 1.5}))


def test_half_batches_are_for_the_standard_gan_loss_only():
    with pytest.raises(ConfigError, match=r"^--d-update halves is the Keras article's update .* use --recipe gan or dcgan\.$"):
        resolve(Config(recipe="wgan-gp").replace(**{"data.name": "ring-8", "loss.d_update": "halves"}))
    with pytest.raises(ConfigError, match="--batch-size must be at least 2"):
        resolve(Config(recipe="gan").replace(**{"data.name": "ring-8", "loss.d_update": "halves", "train.batch_size": 1}))


def record_discriminator_calls(monkeypatch, real: torch.Tensor) -> list[tuple[int, str]]:
    """(batch size, "real" / "fake" / "mixed") of every discriminator forward pass."""
    calls = []
    forward = MLPDiscriminator.forward
    real_rows = {tuple(row.tolist()) for row in real}

    def recording(self, x, cond=None):
        found = [tuple(row.tolist()) in real_rows for row in x.detach().flatten(1)]
        calls.append((len(x), "real" if all(found) else "fake" if not any(found) else "mixed"))
        return forward(self, x, cond)

    monkeypatch.setattr(MLPDiscriminator, "forward", recording)
    return calls


@pytest.mark.parametrize("d_update, passes, d_optimiser_steps", [
    # The Keras article: D.train_on_batch(16 real, ones), then D.train_on_batch(16 fake, zeros); G on 32.
    ("halves", [(16, "real"), (16, "fake"), (32, "fake")], 2),
    ("joint", [(32, "real"), (32, "fake"), (32, "fake")], 1),
])
def test_the_half_batch_d_update_is_two_d_steps_real_only_then_fake_only(tmp_path, monkeypatch, d_update, passes, d_optimiser_steps):
    steps = 3
    cfg = resolve(tiny("gan", "ring-8", steps=steps, **{"train.batch_size": 32, "loss.d_update": d_update}))
    calls = record_discriminator_calls(monkeypatch, load_data(cfg.data).tensors["real"])
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"

    assert calls == passes * steps  # per step: D's pass(es), then G's through D
    # Two optimiser steps per D update with halves (Adam counts them per parameter), one with joint.
    state = checkpoints.load_state(run_dir / "checkpoints")
    assert {int(s["step"]) for s in state["optim_d"]["state"].values()} == {d_optimiser_steps * steps}
    assert {int(s["step"]) for s in state["optim_g"]["state"].values()} == {steps}
    for row in runs.read_metrics(run_dir)[0]:  # the logged D loss is still real + fake, both parts logged
        assert row["loss_d"] == pytest.approx(row["loss_d_real"] + row["loss_d_fake"], rel=1e-5)
        assert 0 < row["d_real"] < 1 and 0 < row["d_fake"] < 1


# ----------------------------------------------------------------------------- the other comparisons


def test_minimax_vs_non_saturating_from_one_call(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    base = experiments.base_config("losses", "mnist-5k", 400, 3)
    run_dirs = experiments.loss_comparison(base, tmp_path, max_active=None)

    cfgs = [cfg for cfg, _ in calls]
    assert [c.loss.g_loss for c in cfgs] == ["non-saturating", "minimax"]
    dicts = [c.to_dict() for c in cfgs]
    for d in dicts:
        d["loss"].pop("g_loss")
    assert dicts[0] == dicts[1]
    assert (cfgs[0].recipe, cfgs[0].data.name, cfgs[0].train.steps, cfgs[0].train.seed) == ("gan", "mnist-5k", 400, 3)
    tags = [experiments.read_experiment(d) for d in run_dirs]
    assert [t["variant"] for t in tags] == ["non-saturating", "minimax"] and {t["kind"] for t in tags} == {"loss-comparison"}


def test_gan_vs_wgan_vs_wgan_gp_on_ring_8_from_one_call(tmp_path, monkeypatch):
    calls = record_launches(monkeypatch)
    # A base resolved for gan (Adam, its width) must not leak into the WGANs: each keeps its own defaults.
    base = resolve(experiments.base_config("wgans", steps=600, seed=5))
    run_dirs = experiments.wgan_comparison(base, tmp_path, max_active=3)

    cfgs = [cfg for cfg, _ in calls]
    assert [c.recipe for c in cfgs] == ["gan", "wgan", "wgan-gp"]
    assert {(c.data.name, c.train.steps, c.train.seed, c.train.batch_size) for c in cfgs} == {("ring-8", 600, 5, 64)}
    for c in cfgs:
        assert c == resolve(Config(recipe=c.recipe).replace(**{"data.name": "ring-8", "train.steps": 600, "train.seed": 5,
                                                               "train.sample_every": 30, "data.image_size": 32}))
    assert (cfgs[1].optim.optimizer, cfgs[1].loss.clip, cfgs[1].loss.d_steps) == ("rmsprop", 0.01, 5)
    assert (cfgs[2].optim.beta1, cfgs[2].loss.gp_weight) == (0.0, 10.0)
    assert [experiments.read_experiment(d)["variant"] for d in run_dirs] == ["gan", "wgan", "wgan-gp"]
    (exp,) = experiments.list_experiments(tmp_path)
    assert exp["kind"] == "wgan-comparison" and exp["label"] == "GAN vs WGAN comparison: ring-8, 600 steps, seed 5"


def test_an_unknown_comparison_is_one_sentence():
    with pytest.raises(ConfigError, match=r"^Unknown comparison 'adamw'; use one of: optimizers, losses, wgans\.$"):
        experiments.base_config("adamw")


# ----------------------------------------------------------------------------- command line, figures, verdict


def test_the_command_line_trains_a_comparison_and_ends_with_figures_and_a_verdict(tmp_path, capsys):
    figure = tmp_path / "cmp.png"
    assert experiments.main(["losses", "--data", "ring-8", "--steps", "20", "--seed", "1", "--device", "cpu",
                              "--runs-dir", str(tmp_path / "runs"), "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    (exp,) = experiments.list_experiments(tmp_path / "runs")
    assert exp["kind"] == "loss-comparison" and len(exp["runs"]) == 2
    assert [runs.read_status(d)["state"] for d in exp["runs"]] == ["finished", "finished"]
    assert [runs.read_config(d).loss.g_loss for d in exp["runs"]] == ["non-saturating", "minimax"]
    assert "| non-saturating: −log D(G(z)) | finished | 20 |" in out and "| minimax: log(1 − D(G(z))) | finished | 20 |" in out
    # Points of a mixture are scored by PacGAN's protocol (gan_core.modes).
    assert "| modes covered | high quality | reverse KL |" in out and "Most modes covered:" in out
    assert figure.is_file() and figure.stat().st_size > 10_000


def test_the_verdict_on_points_goes_by_modes_then_reverse_kl():
    base = {"state": "finished", "step": 10, "modes_total": 8}
    summary = [{**base, "label": "few", "modes": 5, "high_quality": 0.9, "reverse_kl": 0.01},
               {**base, "label": "all, uneven", "modes": 8, "high_quality": 0.95, "reverse_kl": 0.3},
               {**base, "label": "all, even", "modes": 8, "high_quality": 0.5, "reverse_kl": 0.02}]
    assert experiments.verdict(summary) == [
        "Most modes covered: all, even (8/8 modes, 50.0% of samples high quality, reverse KL 0.020; PacGAN's protocol)."]


def fabricated(tmp_path, name: str, rows: list[dict], state: str = "finished"):
    run_dir = runs.create_run(tiny("gan", "ring-8", steps=rows[-1]["step"]), tmp_path)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs.write_status(run_dir, state=state, step=rows[-1]["step"], elapsed=12.0)
    (run_dir / "experiment.json").write_text(json.dumps({"id": "x", "variant": name, "variant_label": name}))
    return run_dir


def test_the_summary_plots_d_loss_as_the_article_does_and_the_verdict_names_a_won_discriminator(tmp_path):
    healthy = [{"step": s, "loss_d": 1.4, "loss_d_real": 0.6, "loss_d_fake": 0.8, "loss_g": 0.7, "d_real": 0.5, "d_fake": 0.45}
               for s in range(10, 110, 10)]
    won = [{"step": s, "loss_d": 0.02, "loss_d_real": 0.01, "loss_d_fake": 0.01, "loss_g": 6.0, "d_real": 0.99, "d_fake": 0.01}
           for s in range(10, 110, 10)]
    dirs = [fabricated(tmp_path, "balanced", healthy), fabricated(tmp_path, "D won", won),
            fabricated(tmp_path, "stopped early", healthy[:3], state="stopped")]
    summary = experiments.summarise(dirs, samples=False)
    assert summary[0]["d_loss_mean"] == pytest.approx(0.7)  # the mean of real (0.6) and fake (0.8), not their sum
    assert summary[1]["d_loss_mean"] == pytest.approx(0.01)
    words = experiments.verdict(summary)
    assert any(w.startswith("D won: D won outright (D(x) 0.99, D(G(z)) 0.01") for w in words)
    assert "stopped early did not finish (stopped at step 30)." in words
    assert not any(w.startswith("balanced:") for w in words)
    table = experiments.summary_table(summary)
    assert table.splitlines()[0] == "| run | state | steps | time | D loss: mean of real and fake | G loss | D(x) | D(G(z)) |"
    assert "| balanced | finished | 100 | 0.2 min | 0.700 | 0.700 | 0.500 | 0.450 |" in table


def test_nearest_ratios_tell_a_collapsed_generator_from_one_that_covers_the_data():
    real = load_data(resolve(tiny("gan", "ring-8", **{"data.n_points": 1600})).data).tensors["real"]
    real, same_distribution = real[:800], real[800:]
    covers = experiments.nearest_ratios(real, same_distribution)
    assert 0.7 < covers["fake_to_real"] < 1.4 and 0.7 < covers["real_to_fake"] < 1.4
    one_mode = real[(real - real[0]).norm(dim=1) < 0.1]  # every sample on the first point's mode
    collapsed = experiments.nearest_ratios(real, one_mode[torch.arange(800) % len(one_mode)])
    assert collapsed["real_to_fake"] > 10 * covers["real_to_fake"]  # seven of eight modes have no sample near
    assert collapsed["fake_to_real"] < 1.4  # what it makes is still real-looking
    noise = experiments.nearest_ratios(real, torch.randn(800, 2) * 3)
    assert noise["fake_to_real"] > 5


def test_sample_distances_read_a_runs_last_weights_and_its_data(tmp_path):
    cfg = resolve(tiny("gan", "ring-8", steps=2))
    run_dir = runs.create_run(cfg, tmp_path)
    assert experiments.sample_distances(run_dir) is None  # no checkpoint yet
    assert train(cfg, run_dir)["state"] == "finished"
    fresh = experiments.sample_distances(run_dir, n=256)
    # An untrained G puts its points in a blob near the origin, far from the ring of radius 1.
    assert fresh["fake_to_real"] > 3 and fresh["real_to_fake"] > 3 and fresh["real_to_real"] > 0
