"""Mode coverage (gan_core/modes.py, PacGAN's protocol), the point commands of the
command line, and the mode-collapse remedies (pacgan, minibatch-std)."""

import json
import math

import numpy as np
import pytest
import torch

from conftest import tiny
from gan_core import runs
from gan_core.cli import main
from gan_core.data.toy import GRID_25, RING_8, mode_centres
from gan_core.errors import ConfigError, DataError
from gan_core.modes import N_SAMPLES, Coverage, chance_modes, coverage, coverage_for, reverse_kl
from gan_core.models.points import Packed, minibatch_std
from gan_core.recipes import decay_second_half, resolve
from gan_core.training import train

TWO_MODES = np.array([[0.0, 0.0], [1.0, 0.0]])  # with sigma 0.1, "high quality" means within 0.3 of a centre


# --- the metrics, on point sets whose answers are worked out by hand -------------------------


def test_counts_quality_and_reverse_kl_by_hand():
    points = [
        [0.0, 0.0],  # on mode 0: high quality
        [0.2, 0.0],  # 0.2 from mode 0: high quality
        [0.35, 0.0],  # nearest mode 0 but 0.35 > 0.3 away: low quality
        [1.0, 0.1],  # 0.1 from mode 1: high quality
        [5.0, 5.0],  # far from both
    ]
    c = coverage(points, TWO_MODES, 0.1)
    assert (c.modes, c.total, c.counts) == (2, 2, (2, 1))
    assert c.high_quality == pytest.approx(3 / 5)
    # p = (2/3, 1/3) against uniform (1/2, 1/2): sum p log(p / (1/2))
    assert c.reverse_kl == pytest.approx(2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3))
    assert c.describe() == "2/2 modes, 60.0% high quality, reverse KL 0.057"


def test_a_mode_reached_only_by_low_quality_samples_is_not_covered():
    # Both points are nearest mode 1, but 0.5 > 0.3 away; mode 0 has one good sample.
    c = coverage([[0.05, 0.0], [1.5, 0.0], [1.0, 0.5]], TWO_MODES, 0.1)
    assert (c.modes, c.counts) == (1, (1, 0))
    assert c.high_quality == pytest.approx(1 / 3)
    assert c.reverse_kl == pytest.approx(math.log(2))  # all good samples on one of two modes


def test_exactly_three_sigma_counts_as_high_quality():
    c = coverage([[1.5, 0.0], [0.0, 1.5000001]], [[0.0, 0.0]], 0.5)
    assert c.counts == (1,) and c.high_quality == 0.5


def test_uniform_histogram_has_zero_reverse_kl_and_collapse_has_log_k():
    square = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert coverage(square, square, 0.01).reverse_kl == 0.0
    c = coverage(np.repeat(square[:1], 10, axis=0), square, 0.01)
    assert (c.modes, c.high_quality, c.counts) == (1, 1.0, (10, 0, 0, 0))
    assert c.reverse_kl == pytest.approx(math.log(4))


def test_no_high_quality_sample_scores_as_total_collapse():
    c = coverage([[9.0, 9.0], [-9.0, 3.0]], TWO_MODES, 0.1)
    assert (c.modes, c.high_quality, c.counts) == (0, 0.0, (0, 0))
    assert c.reverse_kl == pytest.approx(math.log(2))
    assert reverse_kl([0, 0, 0, 0, 0]) == pytest.approx(math.log(5))


def test_non_finite_points_are_low_quality_and_torch_input_matches_numpy():
    pts = np.array([[0.0, 0.0], [np.nan, 0.0], [1.0, np.inf], [1.0, 0.0]])
    c = coverage(pts, TWO_MODES, 0.1)
    assert (c.modes, c.counts, c.high_quality) == (2, (1, 1), 0.5)
    assert coverage(torch.tensor(pts, dtype=torch.float32), torch.tensor(TWO_MODES), 0.1) == c


def test_one_dimensional_points():
    # toy-1d: modes at -3, 0, 3 with sigma 0.5, so 3-sigma windows of 1.5 that touch;
    # -5.0 is 2.0 from mode -3: low quality. (N,) and (N, 1) both work.
    c = coverage_for("toy-1d", np.array([-3.2, 0.1, 0.4, 2.0, -5.0]))
    assert (c.total, c.counts, c.modes) == (3, (1, 2, 1), 3)
    assert c.high_quality == pytest.approx(4 / 5)
    assert coverage_for("toy-1d", np.array([[-3.2], [0.1], [0.4], [2.0], [-5.0]])) == c


def test_coverage_for_the_builtin_mixtures():
    assert coverage_for("spiral", np.zeros((3, 2))) is None
    ring = coverage_for("ring-8", mode_centres("ring-8"))
    assert (ring.modes, ring.total, ring.high_quality, ring.reverse_kl) == (8, 8, 1.0, 0.0)
    # Real data scores what the protocol expects: all modes, ~98.9% within 3 sigma in 2-D.
    real = GRID_25.sample(N_SAMPLES, torch.Generator().manual_seed(0))
    c = coverage_for("grid-25", real)
    assert c.modes == 25 and 0.97 < c.high_quality < 1.0 and c.reverse_kl < 0.02
    # Everything on one ring mode: 1/8 covered.
    one = RING_8.centres[3].repeat(100, 1)
    assert coverage_for("ring-8", one).counts == (0, 0, 0, 100, 0, 0, 0, 0)


def test_describe_and_bad_input():
    assert Coverage(25, 25, 0.961, 0.012, (100,) * 25).describe() == "25/25 modes, 96.1% high quality, reverse KL 0.012"
    # No high-quality sample: no histogram, so no "log K = all on one mode" for the reader.
    assert Coverage(0, 8, 0.0, math.log(8), (0,) * 8).describe() == (
        "0/8 modes, 0.0% high quality, reverse KL undefined (no high-quality sample)")
    with pytest.raises(DataError, match="no points to score"):
        coverage(np.zeros((0, 2)), TWO_MODES, 0.1)
    with pytest.raises(DataError, match="are 3-D but the modes are 2-D"):
        coverage(np.zeros((4, 3)), TWO_MODES, 0.1)
    with pytest.raises(DataError, match="positive standard deviation"):
        coverage(np.zeros((4, 2)), TWO_MODES, 0.0)


# --- the remedies' parts ------------------------------------------------------------------------


def test_packed_discriminator_sees_consecutive_samples_side_by_side():
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(x)
            return x.sum(1)

    x = torch.arange(12.0).view(6, 2)
    out = Packed(Spy(), 3)(x)
    assert seen[0].tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]] and out.shape == (2,)
    images = torch.randn(4, 3, 8, 8)
    Packed(Spy(), 2)(images)
    assert seen[1].shape == (2, 6, 8, 8) and torch.equal(seen[1][0, 3:], images[1])


def test_minibatch_std_is_zero_for_identical_groups_and_grows_with_spread():
    same = torch.ones(8, 5)
    assert minibatch_std(same, 4).abs().max() == 0
    h = torch.cat([torch.zeros(4, 5), torch.randn(4, 5) * 3])
    std = minibatch_std(h, 4)
    assert std.shape == (8, 1) and (std[:4] == 0).all() and (std[4:] > 0).all()
    assert minibatch_std(torch.randn(6, 5), 4).shape == (6, 1)  # groups of 2 when 4 does not divide 6


def test_learning_rate_decays_over_the_second_half():
    assert [decay_second_half(s, 10) for s in (1, 5)] == [1.0, 1.0]
    later = [decay_second_half(s, 10) for s in range(6, 11)]
    assert all(a > b for a, b in zip(later, later[1:])) and 0 < later[-1] < 0.1


# --- recipes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["pacgan", "minibatch-std"])
def test_remedies_train_and_log_mode_coverage(recipe, tmp_path):
    cfg = resolve(tiny(recipe, "ring-8", steps=4, **{"train.sample_every": 2}))
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"
    rows, _ = runs.read_metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    with_modes = [r for r in rows if "modes" in r]
    assert [r["step"] for r in with_modes] == [2, 4]  # with each sample grid
    for r in with_modes:
        assert 0 <= r["modes"] <= 8 and 0 <= r["high_quality"] <= 1 and 0 <= r["reverse_kl"] <= math.log(8) + 1e-9


def test_image_and_spiral_runs_log_no_mode_coverage(tmp_path):
    cfg = resolve(tiny("gan", "spiral", steps=2))
    run_dir = runs.create_run(cfg, tmp_path)
    train(cfg, run_dir)
    rows, _ = runs.read_metrics(run_dir)
    assert not any("modes" in r for r in rows)


def test_pack_is_refused_where_it_would_do_nothing():
    for recipe, data in (("gan", "grid-25"), ("wgan-gp", "ring-8"), ("minibatch-std", "ring-8"), ("dcgan", "faces-lfw")):
        with pytest.raises(ConfigError, match=f"--pack is PacGAN's packing .* recipe '{recipe}' does not use; .*--recipe pacgan"):
            resolve(tiny(recipe, data, **{"model.pack": 2}))
    assert resolve(tiny("pacgan", "grid-25", **{"model.pack": 2})).model.pack == 2
    with pytest.raises(ConfigError, match="--batch-size 10 does not split into packs of 4; use a multiple of 4, e.g. 8."):
        resolve(tiny("pacgan", "grid-25", **{"model.pack": 4, "train.batch_size": 10}))
    with pytest.raises(ConfigError, match="--pack must be at least 1"):
        resolve(tiny("pacgan", "grid-25", **{"model.pack": 0}))


def test_remedies_bring_their_own_length_and_batch_on_points():
    from gan_core.config import Config

    mine = resolve(Config(recipe="pacgan").replace(**{"data.name": "grid-25"}))
    plain = resolve(Config(recipe="gan").replace(**{"data.name": "grid-25"}))
    assert (plain.train.steps, plain.train.batch_size) == (2000, 64)
    assert mine.train.batch_size % mine.model.pack == 0 and mine.train.steps > plain.train.steps
    assert resolve(Config(recipe="pacgan").replace(**{"data.name": "grid-25", "train.steps": 7})).train.steps == 7


# --- the command line on a tiny 2-D run -----------------------------------------------------------


@pytest.fixture(scope="module")
def point_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    code = main(["train", "--recipe", "pacgan", "--data", "ring-8", "--steps", "4", "--width", "8", "--z-dim", "8",
                 "--batch-size", "8", "--device", "cpu", "--runs-dir", str(root), "--no-progress"])
    assert code == 0
    (run_dir,) = root.iterdir()
    return run_dir / "checkpoints" / "last.safetensors"


def test_evaluate_prints_the_coverage_of_the_points_sample_writes(point_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(point_run), "--json", "--seed", "3"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["recipe"], figures["data"], figures["n"], figures["seed"], figures["total"], figures["step"]) == \
        ("pacgan", "ring-8", N_SAMPLES, 3, 8, 4)

    out = tmp_path / "points.npy"
    assert main(["sample", str(point_run), "--n", "2500", "--seed", "3", "--out", str(out)]) == 0
    points = np.load(out)
    assert points.shape == (2500, 2) and points.dtype == np.float32
    c = coverage_for("ring-8", points)
    assert (figures["modes"], figures["counts"], figures["high_quality"], figures["reverse_kl"]) == \
        (c.modes, list(c.counts), c.high_quality, c.reverse_kl)

    capsys.readouterr()
    assert main(["evaluate", str(point_run), "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "pacgan on ring-8, step 4, 2500 samples (seed 3):" in text and c.describe() in text


def test_evaluate_refuses_points_without_modes_and_bad_n(tmp_path, capsys):
    assert main(["train", "--recipe", "gan", "--data", "spiral", "--steps", "2", "--width", "8", "--z-dim", "8",
                 "--batch-size", "8", "--device", "cpu", "--runs-dir", str(tmp_path), "--no-progress"]) == 0
    (run_dir,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["evaluate", str(run_dir / "checkpoints" / "last.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: last.safetensors was trained on 'spiral', which has no separate modes to count; "
                   "mode coverage scores ring-8, grid-25 and toy-1d.")
    assert main(["evaluate", str(run_dir / "checkpoints" / "last.safetensors"), "--n", "5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --n must be between 10 and 20000, not 5."


def test_pack_on_the_command_line_is_refused_for_other_recipes(tmp_path, capsys):
    assert main(["train", "--recipe", "gan", "--data", "ring-8", "--pack", "4", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --pack is PacGAN's packing of samples for the discriminator, which recipe 'gan' does not use; " \
                  "leave it unset or use --recipe pacgan."
    assert not any(tmp_path.iterdir())  # refused before a run directory exists


# --- R1 (issue #19): minibatch-std's discriminator penalty ---------------------------------------


def test_r1_is_the_squared_gradient_of_d_on_the_real_batch_and_adds_gamma_over_two():
    from gan_core import losses
    from gan_core.config import Config
    from gan_core.objectives import Objective

    D = torch.nn.Linear(2, 1)  # a linear D: its gradient is its weight at every x, so R1 = ||w||^2
    real = torch.randn(16, 2)
    x = real.clone().requires_grad_(True)
    assert torch.allclose(losses.r1_penalty(x, D(x).squeeze(1)), D.weight.pow(2).sum())

    G = torch.nn.Linear(2, 2)
    plain_cfg = resolve(tiny("minibatch-std", "ring-8", **{"model.z_dim": 2, "loss.r1_weight": 0.0}))
    cfg = plain_cfg.replace(**{"loss.r1_weight": 3.0})
    batch = {"real": real}

    def d_loss(c):
        torch.manual_seed(1)
        return Objective(c, None).d_loss(G, lambda v: D(v).squeeze(1), batch)

    (plain, plain_stats), (with_r1, stats) = d_loss(plain_cfg), d_loss(cfg)
    assert "r1" not in plain_stats and torch.allclose(stats["r1"], D.weight.pow(2).sum())
    assert torch.allclose(with_r1 - plain, 1.5 * D.weight.pow(2).sum())
    with_r1.backward()  # differentiable: D's step lowers the penalty too
    assert D.weight.grad is not None


def test_minibatch_std_brings_r1_its_longer_schedule_and_adam_beta2_and_other_recipes_refuse_r1(tmp_path, capsys):
    from gan_core.config import Config
    from gan_core.recipes import RECIPES, decay_last_three_fifths

    cfg = resolve(Config(recipe="minibatch-std").replace(**{"data.name": "grid-25"}))
    assert (cfg.loss.r1_weight, cfg.train.steps, cfg.optim.beta2) == (1.0, 11000, 0.99)  # beta2: Karras et al.'s
    assert RECIPES.get("minibatch-std").lr_schedule is decay_last_three_fifths
    assert [decay_last_three_fifths(s, 100) for s in (1, 40)] == [1.0, 1.0] and 0 < decay_last_three_fifths(41, 100) < 1
    assert decay_last_three_fifths(100, 100) < 0.01
    assert resolve(Config(recipe="pacgan").replace(**{"data.name": "grid-25"})).loss.r1_weight is None
    from gan_core import lab2d

    assert ", R1 1," in lab2d.Lab("minibatch-std", "ring-8").settings and "R1" not in lab2d.Lab("gan", "ring-8").settings  # the lab's caption
    for recipe, data in (("gan", "ring-8"), ("pacgan", "grid-25"), ("dcgan", "faces-lfw")):
        with pytest.raises(ConfigError, match=f"--r1-weight is the weight of the R1 penalty .* recipe '{recipe}' does not use; leave it unset"):
            resolve(tiny(recipe, data, **{"loss.r1_weight": 1.0}))
    with pytest.raises(ConfigError, match=r"^The R1 penalty needs 2 or more data points, .*; use --n-points 2 or more, or --r1-weight 0\.$"):
        resolve(tiny("minibatch-std", "ring-8", **{"data.n_points": 1}))
    assert resolve(tiny("minibatch-std", "ring-8", **{"data.n_points": 1, "loss.r1_weight": 0.0})).data.n_points == 1
    with pytest.raises(ConfigError, match="--r1-weight must be zero or a positive weight"):
        resolve(tiny("minibatch-std", "grid-25", **{"loss.r1_weight": -1.0}))
    assert main(["train", "--recipe", "gan", "--data", "ring-8", "--r1-weight", "1", "--runs-dir", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--r1-weight" in err[0] and not list(tmp_path.iterdir())


def test_a_minibatch_std_run_saved_before_r1_existed_resumes_without_it(tmp_path):
    from gan_core.inference import load_generator
    from gan_core.jobs import resume_refusal
    from gan_core.training import resume

    cfg = resolve(tiny("minibatch-std", "ring-8", steps=2))
    assert cfg.loss.r1_weight == 1.0
    run_dir = runs.create_run(cfg, tmp_path)
    saved = json.loads((run_dir / "config.json").read_text())
    del saved["loss"]["r1_weight"]  # as config.json was written before 2026-12-07
    saved["optim"]["beta2"] = 0.999  # the recipe's Adam beta2 before 0.99: saved in config.json, so kept
    (run_dir / "config.json").write_text(json.dumps(saved))
    assert runs.read_config(run_dir).loss.r1_weight is None
    assert resume_refusal(run_dir) is None
    assert resume(run_dir)["state"] == "finished"
    rows, _ = runs.read_metrics(run_dir)
    assert rows and not any("r1" in r for r in rows), "trained as it was: without the penalty"
    trained = load_generator(run_dir / "checkpoints" / "last.safetensors").config
    assert (trained.loss.r1_weight, trained.optim.beta2) == (0.0, 0.999)
    # A new run logs the penalty.
    new = runs.create_run(cfg, tmp_path)
    assert resume(new)["state"] == "finished" and all("r1" in r for r in runs.read_metrics(new)[0])


@pytest.mark.parametrize("name", ["ring-8", "grid-25"])
def test_an_even_spread_over_the_view_covers_what_chance_modes_says(name):
    """A structureless cloud's count, as the 2-D lab prints it beside a loose cloud's."""
    bounds = ((-1.3, 1.3), (-1.3, 1.3)) if name == "ring-8" else ((-5.2, 5.2), (-5.2, 5.2))
    rng = np.random.default_rng(0)
    counts = [coverage_for(name, np.stack([rng.uniform(*bounds[0], N_SAMPLES), rng.uniform(*bounds[1], N_SAMPLES)], 1)).modes
              for _ in range(100)]
    assert abs(np.mean(counts) - chance_modes(name, bounds)) < 0.5, (np.mean(counts), chance_modes(name, bounds))
    assert chance_modes("spiral", bounds) is None
