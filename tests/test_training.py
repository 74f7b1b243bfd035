"""The trainer: every recipe on every data source it applies to, exact resume,
divergence handling and the run directory it writes."""

import pytest
import torch

from conftest import tiny
from gan_core import checkpoints, runs
from gan_core.data import SOURCES
from gan_core.objectives import Objective
from gan_core.recipes import RECIPES, resolve
from gan_core.training import choose_device, resume, train

BUILTIN = [name for name, s in SOURCES.items() if s.builtin]
COMBOS = [(r, s, None) for r, recipe in RECIPES.items() for s in BUILTIN if SOURCES.get(s).kind in recipe.kinds
          and (not recipe.conditional or {"labels", "attrs"} & set(SOURCES.get(s).tags)) and not recipe.paired]
# Paired recipes train on pairs derived from every built-in image source.
COMBOS += [(r, s, kind) for r, recipe in RECIPES.items() if recipe.paired for s, kind in
           (("faces-lfw", "edges"), ("photos", "grey"), ("mnist-5k", "mask"), ("photos", "blur"))]


def test_registry_covers_the_classic_family():
    assert {"gan", "dcgan", "wgan", "wgan-gp"} <= set(RECIPES.names())
    assert {"toy-1d", "ring-8", "grid-25", "mnist-5k", "faces-lfw"} <= set(BUILTIN)


@pytest.mark.parametrize("recipe, data, pairs", COMBOS)
def test_every_recipe_trains_on_every_builtin_source(recipe, data, pairs, tmp_path):
    cfg = resolve(tiny(recipe, data, steps=2, **({"data.pairs": pairs, "data.limit": 64} if pairs else {})))
    run_dir = runs.create_run(cfg, tmp_path)
    status = train(cfg, run_dir)
    assert status["state"] == "finished", status
    rows, _ = runs.read_metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r["loss_d"])) for r in rows)
    assert (run_dir / "checkpoints" / "last.safetensors").is_file()
    assert [s for s, _ in runs.sample_images(run_dir)] == [2]
    if "wgan" in recipe:
        assert "wasserstein" in rows[-1]
    else:
        assert 0 <= rows[-1]["d_real"] <= 1 and 0 <= rows[-1]["d_fake"] <= 1


def _weights(run_dir):
    return checkpoints.read(run_dir / "checkpoints" / "last.safetensors").tensors


def _strip_times(rows):
    return [{k: v for k, v in r.items() if k not in ("time", "elapsed", "images_per_s")} for r in rows]


@pytest.mark.parametrize("recipe, data, extra", [("dcgan", "faces-lfw", {}), ("wgan-gp", "ring-8", {}), ("wgan", "mnist-5k", {}),
                                                 ("pix2pix", "photos", {"data.pairs": "grey", "model.arch": "unet"})])
def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(recipe, data, extra, tmp_path):
    # pix2pix: random crops and flips, dropout and a learning rate that decays over the second half, all resumed exactly.
    cfg = resolve(tiny(recipe, data, steps=12, **{"train.checkpoint_every": 4, "train.sample_every": 4, **extra}))
    straight = runs.create_run(cfg, tmp_path / "a")
    assert train(cfg, straight)["state"] == "finished"

    broken = runs.create_run(cfg, tmp_path / "b")
    calls = []
    status = train(cfg, broken, should_stop=lambda: len(calls) >= 7, on_progress=lambda *a: calls.append(a))
    assert status["state"] == "stopped" and status["step"] == 7
    assert runs.read_status(broken)["state"] == "stopped"
    assert resume(broken)["state"] == "finished"

    a, b = _weights(straight), _weights(broken)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rows_a, _ = runs.read_metrics(straight)
    rows_b, _ = runs.read_metrics(broken)
    assert _strip_times(rows_a) == _strip_times(rows_b)


def test_resume_after_a_crash_drops_metrics_logged_after_the_checkpoint(tmp_path):
    cfg = resolve(tiny("gan", "ring-8", steps=10, **{"train.checkpoint_every": 4}))
    straight = runs.create_run(cfg, tmp_path / "a")
    train(cfg, straight)

    crashed = runs.create_run(cfg, tmp_path / "b")

    def crash_at_6(step, total, row):
        if step == 6:
            raise KeyboardInterrupt  # dies mid-run: metrics reach step 6, the checkpoint is step 4

    with pytest.raises(KeyboardInterrupt):
        train(cfg, crashed, on_progress=crash_at_6)
    assert checkpoints.read(crashed / "checkpoints" / "last.safetensors").step == 4
    with open(crashed / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "loss_d": 0.')  # a line torn by the kill
    rows, _ = runs.read_metrics(crashed)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]

    assert resume(crashed)["state"] == "finished"
    rows, _ = runs.read_metrics(crashed)
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert _strip_times(rows) == _strip_times(runs.read_metrics(straight)[0])


def test_non_finite_loss_marks_the_run_diverged_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_g_loss = Objective.g_loss

    def g_loss(self, G, D, batch):
        loss, stats = real_g_loss(self, G, D, batch)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] >= 7 else loss), stats

    monkeypatch.setattr(Objective, "g_loss", g_loss)
    cfg = resolve(tiny("gan", "ring-8", steps=20, **{"train.checkpoint_every": 5}))
    run_dir = runs.create_run(cfg, tmp_path)
    status = train(cfg, run_dir)
    assert status["state"] == "diverged"
    assert "generator loss became nan at step 7" in status["error"]
    assert "step 5" in status["error"]
    assert runs.read_status(run_dir)["state"] == "diverged"
    ckpt = checkpoints.read(run_dir / "checkpoints" / "last.safetensors")
    assert ckpt.step == 5
    assert all(torch.isfinite(t.float()).all() for t in ckpt.tensors.values())


def test_stop_file_stops_at_the_next_step_and_checkpoints(tmp_path):
    cfg = resolve(tiny("gan", "toy-1d", steps=50, **{"train.checkpoint_every": 100}))
    run_dir = runs.create_run(cfg, tmp_path)

    def on_progress(step, total, row):
        if step == 3:
            runs.request_stop(run_dir)

    status = train(cfg, run_dir, on_progress=on_progress)
    assert status["state"] == "stopped" and status["step"] == 3
    assert checkpoints.read(run_dir / "checkpoints" / "last.safetensors").step == 3
    assert [s for s, _ in runs.sample_images(run_dir)] == [3]  # a grid of where it stopped
    resume(run_dir)
    assert runs.read_status(run_dir)["state"] == "finished"
    assert not (run_dir / "STOP").exists()


def test_same_seed_same_run_different_seed_different_run(tmp_path):
    def weights(seed, where):
        cfg = resolve(tiny("dcgan", "faces-lfw", steps=3, **{"train.seed": seed}))
        d = runs.create_run(cfg, tmp_path / where)
        train(cfg, d)
        return _weights(d)["generator.net.0.weight"]

    assert torch.equal(weights(1, "a"), weights(1, "b"))
    assert not torch.equal(weights(1, "c"), weights(2, "d"))


def test_device_choice():
    assert choose_device("auto").type in ("cuda", "mps", "cpu")
    assert choose_device("cpu").type == "cpu"
    from gan_core.errors import ConfigError

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no such CUDA GPU"):
            choose_device("cuda")
    with pytest.raises(ConfigError, match="Unknown device"):
        choose_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_precision_trains_on_cuda(tmp_path):
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=3, **{"train.device": "cuda", "train.amp": True}))
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"


def test_resume_is_exact_when_images_are_read_lazily_from_disk(tmp_path, monkeypatch):
    """A folder above the eager limit is read through a DataLoader. Its iterator must not
    draw from the global random generator (restored from the checkpoint just before), or
    every later noise draw of a resumed run shifts (issue #10: 0.12 apart in weights)."""
    import numpy as np
    from PIL import Image

    from gan_core.data import store

    monkeypatch.setattr(store, "EAGER_LIMIT", 2)  # 24 images: read lazily
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(images / f"{i:02}.png")
    cfg = resolve(tiny("dcgan", "folder", steps=12, **{"data.path": str(images), "train.checkpoint_every": 4, "train.sample_every": 4}))
    straight = runs.create_run(cfg, tmp_path / "a")
    assert train(cfg, straight)["state"] == "finished"
    broken = runs.create_run(cfg, tmp_path / "b")
    calls = []
    assert train(cfg, broken, should_stop=lambda: len(calls) >= 7, on_progress=lambda *a: calls.append(a))["state"] == "stopped"
    assert resume(broken)["state"] == "finished"
    a, b = _weights(straight), _weights(broken)
    for key in a:
        assert torch.equal(a[key], b[key]), key
