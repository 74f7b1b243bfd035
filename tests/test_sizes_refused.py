"""Sizes and numbers a user can type are refused by the engine in one sentence before
anything is created or allocated (the review's findings: ``train --batch-size 100000000``
reached 3.4 GB and a traceback, and left a failed run behind; ``--lr-d 1e308`` and
``--seed 999999999999999999999999`` ended in PyTorch's overflow errors).

A training run's peak memory is computed from its sizes (``budget.training_peak``) and
checked against what a run may use here (``recipes.training_memory``: a CPU worker's cap
less the engine's own, else the GPU's or the machine's memory) by ``recipes.resolve``,
which the command line's ``train``, the Train page's form and its Start all go through;
seeds and learning rates have one bound each in the engine."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, tiny
from gan_core import budget, form, inference, jobs, presets, runs
from gan_core.checkpoints import read_header
from gan_core.cli import main
from gan_core.config import Config
from gan_core.errors import ConfigError
from gan_core.recipes import MAX_SEED, RECIPES, WORKER_ENGINE_MB, check_memory, resolve, training_memory, training_shape

BIG = "1" + "0" * 400  # past what a float holds: the arithmetic must stay in whole numbers
SHIPPED = sorted((ROOT / "checkpoints").glob("*.safetensors"))


ROOM_MB = 2048  # what a run may use in these tests, whatever the machine: its workers capped at this plus the engine's


@pytest.fixture(autouse=True)
def ordinary_server(monkeypatch):
    """A server with no settings but a cap on its training workers, so that the figures do
    not depend on this machine's memory: a run may use 2,048 MB beside the engine."""
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MEMORY_BUDGET", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_MEMORY_MB", str(ROOM_MB + WORKER_ENGINE_MB))


@pytest.fixture
def nothing_allocated(monkeypatch):
    """A refusal must come before a run directory exists and before a model, a batch or
    a generator is made: each of those fails the test if reached."""
    from gan_core import training

    def reached(what):
        def fail(*a, **k):
            pytest.fail(f"{what} was reached: the refusal came too late")
        return fail

    monkeypatch.setattr(runs, "create_run", reached("create_run"))
    monkeypatch.setattr(training, "_train", reached("the trainer"))
    monkeypatch.setattr(inference, "load_generator", reached("load_generator"))


def one_error_line(capsys, *argv) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("error: "), err
    return err.strip()


@pytest.mark.parametrize("args, words", [
    (["--batch-size", "100000000"], "lower the batch size"),
    (["--batch-size", BIG], "lower the batch size"),
    (["--width", "100000"], "lower the width"),
    (["--width", "4096", "--image-size", "256"], "lower the width"),
    (["--z-dim", "100000000"], "lower the noise size (--z-dim)"),
    (["--n-samples", "100000000"], "lower the samples in each grid (--n-samples)"),
    (["--recipe", "gan", "--data", "ring-8", "--n-points", "10000000000"], "draw fewer points (--n-points)"),
    (["--recipe", "pix2pix", "--pairs", "edges", "--image-size", "256", "--batch-size", "64"], "lower the"),
    (["--recipe", "pacgan", "--data", "ring-8", "--width", BIG, "--batch-size", "128"], "lower the width"),
])
def test_train_sizes_past_the_budget_are_refused_before_a_run_exists(capsys, tmp_path, nothing_allocated, args, words):
    runs_dir = tmp_path / "runs"
    err = one_error_line(capsys, "train", "--runs-dir", str(runs_dir), "--no-progress", *args)
    assert " needs about " in err and "more than the 2.0 GB a training run may use on this server; " in err and err.endswith(".")
    assert words in err
    assert not runs_dir.exists()


@pytest.mark.parametrize("args, words", [
    (["--lr-d", "1e308"], "--lr-d must be a positive learning rate of at most 100,000,000 (e.g. 0.0002), not 1e+308."),
    (["--lr-g", "inf"], "--lr-g must be a positive learning rate of at most 100,000,000"),
    (["--seed", "999999999999999999999999"], "--seed must be a whole number from 0 to 2,147,483,647, not 999,999,999"),
    (["--seed", "-1"], "--seed must be a whole number from 0 to 2,147,483,647, not -1."),
])
def test_train_numbers_that_overflow_are_refused_before_a_run_exists(capsys, tmp_path, nothing_allocated, args, words):
    runs_dir = tmp_path / "runs"
    err = one_error_line(capsys, "train", "--runs-dir", str(runs_dir), "--no-progress", *args)
    assert words in err
    assert not runs_dir.exists()


def test_sample_refuses_a_seed_out_of_bounds_before_reading_the_checkpoint(capsys, tmp_path, nothing_allocated):
    out = tmp_path / "s.png"
    err = one_error_line(capsys, "sample", str(ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors"), "--out", str(out),
                         "--seed", "99999999999999999999999")
    assert err == "error: --seed must be a whole number from 0 to 2,147,483,647, not 99,999,999,999,999,999,999,999."
    assert not out.exists()


def test_the_sampling_engine_holds_the_same_seed_bound():
    gen = inference.load_generator(ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors")
    assert inference.sample(gen, 2, seed=MAX_SEED).shape[0] == 2  # the dashboard's largest seed still samples
    for call in (lambda: inference.sample(gen, 2, seed=MAX_SEED + 1), lambda: inference.sample_grid(gen, 4, seed=-1),
                 lambda: inference.sample_tensor(gen, 2, seed=10**24),
                 lambda: inference.interpolate(gen, 0, 0, 10**24, 0, steps=2, n=2)):
        with pytest.raises(ConfigError, match=r"seed must be a whole number from 0 to 2,147,483,647, not "):
            call()


def test_the_train_page_and_its_start_refuse_with_the_same_sentence_as_the_command_line(capsys, tmp_path, monkeypatch):
    """Values the form allows (batch 4,096 at 128 px in colour) that would need gigabytes:
    the form's problem, the Start (``jobs.launch``) and ``train`` say the same sentence."""
    cfg = Config(recipe="dcgan").replace(**{"data.name": "photos", "data.image_size": 128, "train.batch_size": 4096})
    settings = SimpleNamespace(runs_dir=str(tmp_path), max_steps=None)
    shown = form.problem(cfg, "image", settings, "uploads", check_pairs=lambda *a: None)
    assert shown.startswith("Training dcgan on colour images of 128 px with batch 4,096 needs about ")
    assert shown.endswith("; lower the batch size, the image size or the width.")
    monkeypatch.setattr(jobs, "_spawn", lambda *a, **k: pytest.fail("a worker was started"))
    with pytest.raises(budget.BudgetError) as e:
        jobs.launch(cfg, tmp_path / "runs")
    assert str(e.value) == shown and not (tmp_path / "runs").exists()
    err = one_error_line(capsys, "train", "--runs-dir", str(tmp_path / "cli"), "--data", "photos", "--image-size", "128",
                         "--batch-size", "4096")
    assert err == f"error: {shown}"


def test_the_limit_is_what_a_training_worker_may_use_not_a_request_to_the_server(monkeypatch):
    """A run is a process of its own: the server's per-request budget does not bound it;
    a CPU worker's cap (less the engine's own) does, and without a cap the machine's memory."""
    import os

    cfg = resolve(Config())  # the Train page's and `train`'s defaults
    need = budget.training_peak(training_shape(cfg))
    assert need < 100 * budget.MB  # measured 54 MB (budget.py's table)
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "1")  # a request to the dashboard's server: not a run's limit
    assert resolve(Config()) == cfg
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_MEMORY_MB", str(need // budget.MB - 1 + WORKER_ENGINE_MB))
    with pytest.raises(budget.BudgetError, match=r"more than the .* MB a training run may use on this server; "):
        resolve(Config())
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_MEMORY_MB", str(need // budget.MB + 1 + WORKER_ENGINE_MB))
    assert resolve(Config()) == cfg
    monkeypatch.delenv("GAN_WORKBENCH_WORKER_MEMORY_MB")
    room, where = training_memory("cpu")
    assert room == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") and where.startswith("this machine's ")


def recipe_defaults() -> list[Config]:
    """Each recipe on each kind of data it trains on, every other field its default: the
    built-in faces (mnist-5k for cgan; edge maps of the faces for pix2pix) and ring-8."""
    out = []
    for name, recipe in RECIPES.items():
        if "image" in recipe.kinds:
            data = {"data.name": "mnist-5k"} if recipe.conditional else {"data.pairs": "edges"} if recipe.paired else {}
            out.append(Config(recipe=name).replace(**data))
        if "vector" in recipe.kinds:
            out.append(Config(recipe=name).replace(**{"data.name": "ring-8"}))
    return out


@pytest.mark.parametrize("cfg", recipe_defaults(), ids=lambda c: f"{c.recipe}-{c.data.name}")
def test_every_recipes_defaults_fit_the_budget_with_room_to_spare(cfg):
    resolved = resolve(cfg)
    assert budget.training_peak(training_shape(resolved)) < ROOM_MB * budget.MB / 4


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_shipped_models_configs_and_the_demo_defaults_fit_even_a_demo_server(monkeypatch, path):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    monkeypatch.delenv("GAN_WORKBENCH_WORKER_MEMORY_MB")  # the demo's own cap: 1,536 MB, so 636 MB beside the engine
    check_memory(read_header(Path(path))[0])  # they are trained configs: none is refused
    for cfg in [Config(), *(p.config for p in presets.PRESETS.values())]:
        resolve(cfg)


def test_learning_rates_up_to_the_bound_still_train_and_blow_up_in_words(tmp_path):
    """1e8 is the rate the health pages' blow-up is shown with: allowed, and it ends as
    diverged, not with an overflow."""
    cfg = tiny("wgan", "ring-8", steps=10, **{"optim.lr_g": 1e8, "optim.lr_d": 1e8})
    from gan_core.training import train

    status = train(cfg, runs.create_run(cfg, tmp_path))
    assert status["state"] == "diverged", status
    with pytest.raises(ConfigError, match=r"^--lr-g must be a positive learning rate of at most 100,000,000"):
        resolve(cfg.replace(**{"optim.lr_g": 1.01e8}))


def test_a_run_resumed_on_a_server_with_a_smaller_budget_fails_in_one_sentence(capsys, tmp_path, monkeypatch):
    """The trainer resolves its config again: a run whose sizes no longer fit is refused
    before its data and models are made, and says so in its status."""
    cfg = tiny("gan", "ring-8")
    run_dir = runs.create_run(cfg, tmp_path)
    monkeypatch.setenv("GAN_WORKBENCH_WORKER_MEMORY_MB", str(WORKER_ENGINE_MB + 1))
    err = one_error_line(capsys, "train", "--resume", str(run_dir), "--no-progress")
    assert "more than the 1 MB a training run may use on this server" in err
    status = runs.read_status(run_dir)
    assert status["state"] == "failed" and status["error"] == err.removeprefix("error: ")
    assert not any(p.is_file() for p in (run_dir / "checkpoints").rglob("*"))  # refused before a step: nothing to resume


def test_the_labs_train_in_the_server_so_they_have_the_servers_budget_per_request(monkeypatch):
    """The review's finding: the 1-D and 2-D labs train in the dashboard's own process, yet
    were checked against the machine's memory, as if a worker held them."""
    from gan_core import lab1d, lab2d

    with pytest.raises(budget.BudgetError, match=r"^Training gan on 1-D points with batch 100,000,000 needs about .+ "
                                                 r"more than this server's 2\.0 GB per request; lower the batch size"):
        lab1d.LabSettings(batch_size=10**8).config()  # the 1-D lab's points are 1-D (the sentence said 2-D)
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")  # 256 MB per request
    with pytest.raises(budget.BudgetError, match=r"more than this server's 256 MB per request; draw fewer points"):
        lab2d.Lab("gan", "ring-8", n_points=30_000_000)
    assert lab2d.Lab("gan", "ring-8").cfg.data.n_points > 0  # the lab's own defaults fit even a demo


def test_the_sampling_engine_checks_its_counts_indices_truncation_and_condition():
    """The review's finding: the inference functions trusted the page's sliders:
    steps=1 divided by zero, a negative index or a NaN count raised PyTorch's errors,
    truncation 0 spun for 13 s, and a condition of the wrong length broke a matmul."""
    import numpy as np

    gen = inference.load_generator(ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors")
    cgan = inference.load_generator(ROOT / "checkpoints" / "cgan-mnist.safetensors")
    calls = {
        "The number of steps must be a whole number of at least 2, not 1.": lambda: inference.interpolate(gen, 0, 0, 1, 0, steps=1),
        "The start's sample index must be a whole number of at least 0, not -5.": lambda: inference.interpolate(gen, 0, -5, 1, 0),
        "The number of samples must be a whole number of at least 1, not nan.": lambda: inference.sample(gen, float("nan")),
        "The number of samples must be a whole number of at least 1, not 2.5.": lambda: inference.sample(gen, 2.5),
        "The truncation must be from 0.05 to 1 (1: none), not 0.": lambda: inference.sample(gen, 4, truncation=0),
        "The truncation must be from 0.05 to 1 (1: none), not inf.": lambda: inference.sample_grid(gen, 4, truncation=float("inf")),
        "The number of columns must be a whole number of at least 1, not -3.": lambda: inference.sample_grid(gen, 4, nrow=-3),
        "The sample's index must be a whole number of at least 0, not -1.":
            lambda: inference.morph(cgan, np.zeros(10), np.ones(10), index=-1),
        "A condition for cgan-mnist.safetensors must be 10 finite numbers (one per class or attribute), not an array of shape (3,).":
            lambda: inference.sample(cgan, 2, cond=np.zeros(3)),
    }
    for message, call in calls.items():
        with pytest.raises(ConfigError) as e:
            call()
        assert str(e.value) == message
    assert inference.sample(gen, 2, truncation=inference.MIN_TRUNCATION).shape[0] == 2  # the page's 0.1 and the bound work
