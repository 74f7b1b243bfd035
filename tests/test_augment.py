"""Issue #20: augmentation of everything D sees (gan_core/augment.py) and its place in
training: each transform is differentiable and keeps shapes and ranges, pairs move
together, ADA's p follows a synthetic D's overfitting, runs resume exactly, and the
default turns it on for small data."""

import json
import math

import pytest
import torch

from conftest import straight_and_resumed, tiny
from gan_core import augment, checkpoints, config, runs
from gan_core.augment import Augmenter, AugmentedD, apply, draw
from gan_core.errors import ConfigError
from gan_core.recipes import resolve
from gan_core.training import train


def _images(n=6, c=3, h=16, w=16, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # in [-1, 1], as the data are


def _params(n, h=16, w=16, p=1.0, seed=1):
    return draw(n, h, w, p, torch.Generator().manual_seed(seed))


# --- each transform: differentiable, shapes, ranges -----------------------------------


TRANSFORMS = {
    "brightness": lambda x, q: augment.brightness(x, q.brightness),
    "saturation": lambda x, q: augment.saturation(x, q.saturation),
    "contrast": lambda x, q: augment.contrast(x, q.contrast),
    "translation": lambda x, q: augment.translation(x, q.dy, q.dx),
    "cutout": lambda x, q: augment.cutout(x, q.cy, q.cx, q.cut),
    "all": lambda x, q: apply(x, q),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
@pytest.mark.parametrize("channels", [1, 3])
def test_each_transform_is_differentiable_and_keeps_the_shape(name, channels):
    x = _images(c=channels).requires_grad_(True)
    out = TRANSFORMS[name](x, _params(len(x)))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    (out * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # The gradient is the transform's own: checked against finite differences in float64.
    x64 = _images(n=2, c=channels, h=8, w=8).double().requires_grad_(True)
    q = _params(2, 8, 8)
    assert torch.autograd.gradcheck(lambda t: TRANSFORMS[name](t, q), (x64,), eps=1e-6, atol=1e-5)


def test_the_moves_keep_every_value_and_the_colours_stay_within_diffaugments_ranges():
    x = _images(n=64, c=3)
    q = _params(64)
    for moved in (augment.translation(x, q.dy, q.dx), augment.cutout(x, q.cy, q.cx, q.cut)):
        # Only pixels of the image or 0 (what comes in from outside, or the cut): never a new value.
        assert set(moved.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
    # Brightness shifts by at most 0.5; contrast keeps each image's mean, saturation each pixel's mean over channels.
    assert (augment.brightness(x, q.brightness) - x).abs().max() <= 0.5
    assert torch.allclose(augment.contrast(x, q.contrast).mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-6)
    assert torch.allclose(augment.saturation(x, q.saturation).mean(dim=1), x.mean(dim=1), atol=1e-6)
    grey = x[:, :1]
    assert torch.equal(augment.saturation(grey, q.saturation), grey)  # a grey image has no colour to scale
    # All of them on [-1, 1] images: within 1.5 x (1 + 2 x 1.5): brightness, then at most x2 and x1.5 around a mean.
    out = apply(x, q)
    assert out.abs().max() <= 1.5 * 5 and out.shape == x.shape


def test_translation_moves_whole_pixels_and_cutout_cuts_a_half_side_square():
    x = _images(n=1, c=1, h=16, w=16)
    shifted = augment.translation(x, torch.tensor([2]), torch.tensor([-1]))
    assert torch.equal(shifted[0, 0, 2:, :-1], x[0, 0, :-2, 1:])  # down 2, left 1
    assert shifted[0, 0, :2].abs().sum() == 0 and shifted[0, 0, :, -1].abs().sum() == 0
    cut = augment.cutout(torch.ones(1, 1, 16, 16), torch.tensor([8]), torch.tensor([8]))
    assert (cut == 0).sum() == 8 * 8 and cut[0, 0, 4:12, 4:12].abs().sum() == 0
    corner = augment.cutout(torch.ones(1, 1, 16, 16), torch.tensor([0]), torch.tensor([0]))
    assert (corner == 0).sum() == 4 * 4  # cut off where it leaves the image, as the reference's clamp does


def test_probability_zero_is_the_identity_and_one_is_diffaugment_on_every_image():
    x = _images(n=32)
    assert torch.allclose(apply(x, _params(32, p=0.0)), x, atol=1e-6)  # x - mean + mean: exact up to rounding
    q = _params(32, p=1.0)
    assert bool(q.cut.all()) and not torch.equal(q.brightness, torch.zeros(32))
    # The same count of random numbers whatever p is, so a resumed run draws what a straight one does.
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    draw(8, 16, 16, 0.0, g1), draw(8, 16, 16, 0.7, g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_pairs_get_the_same_geometric_transform_and_only_the_image_its_colour():
    image = _images(n=8, c=3)
    source = image.mean(dim=1, keepdim=True)  # a grey version of each image, as derived pairs have
    q = _params(8)
    moves = ("translation", "cutout")
    moved_source, moved_image = apply(image, q, source=source, policy=moves)
    assert torch.allclose(moved_source, moved_image.mean(dim=1, keepdim=True), atol=1e-6)  # moved and cut alike
    # With colour: the image is exactly what it would be alone, the source only moved.
    out_source, out_image = apply(image, q, source=source)
    assert torch.equal(out_image, apply(image, q))
    assert torch.equal(out_source, apply(source, q, policy=moves))


def test_augmented_d_passes_conditions_through_and_augments_both_halves_of_a_pair():
    seen = []
    aug = Augmenter("diff", seed=0, images_per_step=8)
    x, cond = _images(n=4), torch.eye(4)
    AugmentedD(lambda image, c: seen.append((image, c)), aug, paired=False)(x, cond)
    assert seen[0][1] is cond and not torch.equal(seen[0][0], x)
    source = x.mean(dim=1, keepdim=True)
    AugmentedD(lambda s, t: seen.append((s, t)), aug, paired=True)(source, x)
    s, t = seen[1]
    assert s.shape == source.shape and t.shape == x.shape
    assert torch.equal(s == 0, (t == 0).all(dim=1, keepdim=True) & (s == 0))  # no pixel cut in one and not the other
    ada = Augmenter("ada", seed=0, images_per_step=8)  # p = 0 at the start: D sees the images themselves
    assert AugmentedD(lambda image: image, ada, paired=False)(x) is x


# --- ADA's p against a synthetic discriminator ------------------------------------------


def _ada_run(d_sign, steps, p0=0.0, seed=0):
    """p and r_t over ``steps`` generator steps of batches of 32 training images, with
    ``d_sign(augmented reals) -> (N,) signs`` as D; p moves by up to 0.04 per adjustment."""
    train_set = _images(n=100, c=1, seed=seed)
    aug = Augmenter("ada", seed=seed, images_per_step=32)
    aug.p = p0
    g = torch.Generator().manual_seed(seed + 1)
    ps, rs = [], []
    for step in range(1, steps + 1):
        real = train_set[torch.randint(0, 100, (32,), generator=g)]
        r_t = d_sign(aug(real), train_set).float().mean()
        aug.observe(r_t)
        rs.append(float(r_t))
        if aug.due(step):
            aug.adjust(float(aug.mean_r_t()))
        ps.append(aug.p)
    return ps, rs


def memorising_d(images, train_set):
    """Says "real" exactly for the training images it has memorised, "fake" for anything else."""
    distance = torch.cdist(images.flatten(1), train_set.flatten(1), compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values
    return torch.where(distance < 1e-4, 1.0, -1.0)


def unsure_d():
    """Cannot tell: real or fake at random, r_t around 0."""
    g = torch.Generator().manual_seed(7)
    return lambda images, train_set: torch.where(torch.rand(len(images), generator=g) < 0.5, 1.0, -1.0)


def test_p_rises_on_a_discriminator_that_memorises_and_settles_where_r_t_meets_the_target(monkeypatch):
    monkeypatch.setattr(augment, "ADA_IMAGES", 3_200)  # 0.04 per adjustment of 4 steps x 32 images
    ps, rs = _ada_run(memorising_d, 400)
    assert ps[3] > 0 and max(ps) > 0.04
    # Untouched images are the only ones it calls real, so r_t falls as p rises: ADA holds it near 0.6.
    late = sum(rs[200:]) / len(rs[200:])
    assert abs(late - augment.ADA_TARGET) < 0.2, late
    assert rs[0] == 1.0 and late < 0.85


def test_p_falls_on_a_discriminator_that_does_not_overfit(monkeypatch):
    monkeypatch.setattr(augment, "ADA_IMAGES", 3_200)
    ps, rs = _ada_run(unsure_d(), 100, p0=0.5)
    assert ps[-1] == 0.0 and all(b <= a for a, b in zip(ps, ps[1:]))
    assert abs(sum(rs) / len(rs)) < 0.3


def test_adjust_moves_p_by_images_seen_over_ada_images_within_zero_and_one():
    aug = Augmenter("ada", seed=0, images_per_step=50)
    aug.adjust(0.9)
    assert aug.p == pytest.approx(augment.ADA_INTERVAL * 50 / augment.ADA_IMAGES)
    aug.p = 0.9999
    aug.adjust(1.0)
    assert aug.p == 1.0
    aug.p = 0.0001
    aug.adjust(-1.0)
    assert aug.p == 0.0
    aug.adjust(augment.ADA_TARGET)  # at the target: stays
    assert aug.p == 0.0


# --- training: the default, the logged p, exact resume ----------------------------------


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_small_data_train_with_adaptive_augmentation_by_default_and_say_why(tmp_path):
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=8))
    assert cfg.train.augment is None  # decided from the data, when the run loads them
    run_dir = runs.create_run(cfg, tmp_path)
    status = train(cfg, run_dir)
    rows = _rows(run_dir)
    assert all("augment_p" in r and -1 <= r["r_t"] <= 1 for r in rows)
    assert "Adaptive augmentation is on because the data have 100 images" in status["message"]
    assert checkpoints.load_state(run_dir / "checkpoints")["augment"]["mode"] == "ada"
    # Turned off, or on points: no augmentation and nothing said about it.
    off = resolve(tiny("dcgan", "faces-lfw", steps=2, **{"train.augment": "none"}))
    off_dir = runs.create_run(off, tmp_path)
    assert "augment" not in (train(off, off_dir)["message"] or "")
    assert all("augment_p" not in r for r in _rows(off_dir))
    points = resolve(tiny("gan", "ring-8", steps=2))
    assert all("augment_p" not in r for r in _rows_of(points, tmp_path))


def _rows_of(cfg, tmp_path):
    run_dir = runs.create_run(cfg, tmp_path)
    train(cfg, run_dir)
    return _rows(run_dir)


def test_the_flag_is_refused_on_points_and_its_help_names_the_threshold():
    with pytest.raises(ConfigError, match=r"--augment ada transforms images and 'ring-8' is points"):
        resolve(tiny("gan", "ring-8", **{"train.augment": "ada"}))
    assert resolve(tiny("gan", "ring-8", **{"train.augment": "none"})).train.augment == "none"
    help_text = dict((d, f) for d, f, _ in config.iter_fields())["train.augment"].metadata["help"]
    assert f"{augment.SMALL_DATA:,}" in help_text
    assert augment.default_mode(augment.SMALL_DATA) == "ada" and augment.default_mode(augment.SMALL_DATA + 1) == "none"


@pytest.mark.parametrize("recipe, data, extra", [
    ("dcgan", "faces-lfw", {"train.augment": "ada"}),
    ("wgan-gp", "faces-lfw", {"train.augment": "ada", "loss.d_steps": 2}),
    ("pix2pix", "photos", {"train.augment": "diff", "data.pairs": "edges", "data.limit": 40}),
])
def test_a_run_with_augmentation_resumes_to_the_same_weights_and_p(recipe, data, extra, tmp_path, monkeypatch):
    # p moves 0.32 per adjustment, so it differs at every checkpoint and a lost or stale p shows.
    monkeypatch.setattr(augment, "ADA_IMAGES", 100)
    cfg = resolve(tiny(recipe, data, steps=14, **{"train.checkpoint_every": 5, "train.sample_every": 7, **extra}))
    # Stopped after step 7: between two adjustments of p (steps 4 and 8), with r_t observed since.
    straight, broken = straight_and_resumed(cfg, tmp_path)
    a = checkpoints.read(straight / "checkpoints" / "last.safetensors").tensors
    b = checkpoints.read(broken / "checkpoints" / "last.safetensors").tensors
    for key in a:
        assert torch.equal(a[key], b[key]), key
    pa, pb = ([r["augment_p"] for r in _rows(d)] for d in (straight, broken))
    assert pa == pb and len(set(pa)) > 1 if cfg.train.augment == "ada" else pa == pb == [1.0] * 14
    sa, sb = (checkpoints.load_state(d / "checkpoints")["augment"] for d in (straight, broken))
    assert sa["p"] == sb["p"] and torch.equal(sa["rng"], sb["rng"])
    assert not math.isnan(sa["p"])


# --- what the dashboard shows: the form's field, the curves, the diagnosis ----------------


def test_the_train_form_offers_augmentation_for_images_and_says_why_it_is_on():
    from gan_core import curves, form

    field = form.BY_KEY[form.KEYS.augment]
    faces = form.recipe_defaults("dcgan", {"name": "faces-lfw"})
    assert field.applies(faces, "image") and not field.applies(form.recipe_defaults("gan", {"name": "ring-8"}), "vector")
    assert form.defaults(faces, "image", "training")[field.key] == form.AUTOMATIC  # unset: decided by the data's size
    assert form.changes({field.key: form.AUTOMATIC}, faces, "image")["train.augment"] is None
    assert form.changes({field.key: "Off"}, faces, "image")["train.augment"] == "none"
    note = form.augment_note(form.AUTOMATIC, {"name": "faces-lfw"})
    assert note.startswith("Adaptive augmentation will be on: faces-lfw has fewer than 10,000 images")
    assert "counts them when it starts" in form.augment_note(form.AUTOMATIC, {"name": "folder", "path": "x.zip"})
    assert form.augment_note("Off", {"name": "faces-lfw"}) is None
    # The curves: p and r_t in their own group, offered to runs that logged them, r_t's level ADA's target.
    assert curves.GROUPS[curves.AUGMENT_GROUP] == ("augment_p", "r_t")
    assert curves.AUGMENT_GROUP in curves.available_groups({"loss_d", "r_t"}, [False], [False])
    assert curves.AUGMENT_GROUP not in curves.available_groups({"loss_d"}, [False], [False])
    assert curves.equilibrium("r_t", []) == augment.ADA_TARGET  # WGANs too


def _rows_like(r_t, d_real, d_fake, n=60, every=10, start=0, **extra):
    return [{"step": every * (start + i + 1), "loss_d": 1.0, "loss_g": 1.5, "loss_d_real": 0.4, "loss_d_fake": 0.6,
             "r_t": r_t, "d_real": d_real, "d_fake": d_fake, **extra} for i in range(n)]


def test_the_diagnosis_says_d_is_memorising_when_r_t_stays_high_and_d_outputs_separate():
    from gan_core.health import diagnose

    overfit = _rows_like(0.96, 0.88, 0.22)
    (found,) = [f for f in diagnose(overfit, "dcgan", "image") if f.code == "memorising"]
    assert found.title == "D is memorising the training images" and "98% of the training images real" in found.sentence
    assert "--augment ada" in found.advice
    rising = [f for f in diagnose(_rows_like(0.96, 0.88, 0.22, augment_p=0.31), "dcgan", "image") if f.code == "memorising"]
    assert "p = 0.31" in rising[0].advice and "--augment diff" in rising[0].advice
    full = [f for f in diagnose(_rows_like(0.96, 0.88, 0.22, augment_p=1.0), "dcgan", "image") if f.code == "memorising"]
    assert "more images" in full[0].advice
    # Quiet: sure of the reals but the fakes fool it as often (no separation); balanced; a critic; L1-only pix2pix.
    for rows, recipe, cfg in ((_rows_like(0.96, 0.88, 0.8), "dcgan", None), (_rows_like(0.5, 0.6, 0.42), "dcgan", None),
                              (_rows_like(0.96, 0.88, 0.22, wasserstein=3.0), "wgan-gp", None),
                              (_rows_like(0.96, 0.88, 0.22), "pix2pix", {"loss": {"gan_weight": 0.0}})):
        assert not [f for f in diagnose(rows, recipe, "image", cfg) if f.code == "memorising"], (recipe, rows[0])
    # Sustained, not one odd stretch: high in 10 of the last quarter's 15 rows is not enough.
    mixed = _rows_like(0.5, 0.6, 0.42, n=50) + _rows_like(0.96, 0.88, 0.22, n=10, start=50)
    assert not [f for f in diagnose(mixed, "dcgan", "image") if f.code == "memorising"]


def test_processes_under_torchrun_augment_their_shards_as_one_process_augments_the_batch():
    x = _images(n=8)
    one = Augmenter("diff", seed=3, images_per_step=8)(x)
    halves = [Augmenter("diff", seed=3, images_per_step=8, shard=(rank, 2))(x[4 * rank:4 * rank + 4]) for rank in (0, 1)]
    assert torch.equal(torch.cat(halves), one)


def test_the_diagnosis_stays_quiet_on_the_shipped_faces_demos_own_run():
    """The metrics the shipped faces generator was trained with (the demo command with
    adaptive augmentation, 2,000 steps; docs/BENCHMARKS.md, "Augmentation ablation"):
    no finding at all, and the memorising one in particular."""
    from pathlib import Path

    from gan_core.health import diagnose

    lines = (Path(__file__).parent / "fixtures" / "dcgan-faces-lfw-demo-metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows[-1]["step"] == 2000 and rows[-1]["augment_p"] > 0
    cfg = {"recipe": "dcgan", "data": {"name": "faces-lfw"}, "train": {"augment": "ada"}}
    assert diagnose(rows, "dcgan", "image", cfg) == []


@pytest.mark.parametrize("seed", [0, 1])
def test_the_diagnosis_says_d_is_memorising_on_a_real_run_built_to_overfit(seed, tmp_path):
    """DCGAN on 10 of the faces without augmentation (benchmarks/augment_overfit.py's run,
    shortened): D soon calls every training face real and its verdicts part; the
    diagnosis names it (seeds 0-3, one and two threads, when written)."""
    from gan_core.health import diagnose

    cfg = config.Config(recipe="dcgan").replace(**{
        "data.name": "faces-lfw", "data.limit": 10, "data.image_size": 16, "model.width": 16, "train.steps": 400,
        "train.batch_size": 32, "train.log_every": 10, "train.sample_every": 400, "train.checkpoint_every": 400,
        "train.augment": "none", "train.device": "cpu", "train.seed": seed})
    train(cfg, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert "memorising" in [f.code for f in diagnose(rows, "dcgan", "image", cfg)]
