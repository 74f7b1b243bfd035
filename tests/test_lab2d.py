"""The 2-D lab's engine (gan_core/lab2d.py): what it lists, that stepping moves the
generated points and keeps snapshots, the heat map is D's output on its grid, the
arrows are -grad of G's loss, and runs depend on the seed alone (the same as
`train`'s, and the same in every panel of a comparison)."""

import base64
import io
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny
from gan_core import checkpoints, lab2d, lab2d_image, losses, modes, runs
from gan_core.errors import ConfigError
from gan_core.recipes import RECIPES, resolve
from gan_core.training import train

TINY = {"model.width": 8, "model.z_dim": 8, "train.batch_size": 8}


def tiny_lab(recipe="gan", data="ring-8", seed=0, extra=None, **options):
    return lab2d.Lab(recipe, data, seed, n_points=512, overrides={**TINY, **(extra or {})}, **options)


def test_it_lists_the_point_recipes_and_the_2d_point_sets():
    names = [r["name"] for r in lab2d.point_recipes()]
    assert {"gan", "wgan", "wgan-gp"} <= set(names)
    # Every recipe that trains on points, so new remedies appear by themselves; none that does not.
    assert set(names) == {name for name, r in RECIPES.items() if "vector" in r.kinds}
    assert "dcgan" not in names and "pix2pix" not in names
    sets = {s["name"]: s for s in lab2d.point_sets()}
    assert {"ring-8", "grid-25", "spiral", "moons"} <= set(sets)
    assert "toy-1d" not in sets  # 1-D: not drawable on the plane
    assert sets["grid-25"]["modes"] and not sets["spiral"]["modes"]


def test_stepping_moves_the_generated_points_and_keeps_snapshots():
    lab = tiny_lab(snapshot_every=5)
    start = lab.frame()
    assert start.step == 0 and start.fake.shape == (modes.N_SAMPLES, 2) and start.losses == {}
    assert lab.train(12) == 12 and lab.step == 12
    now = lab.frame()
    assert now.step == 12 and not np.allclose(now.fake, start.fake)
    assert [f.step for f in lab.snapshots] == [0, 5, 10]
    assert np.array_equal(lab.snapshots[0].fake, start.fake)  # kept as it was, not recomputed
    assert not np.allclose(lab.snapshots[2].fake, start.fake)
    assert set(now.losses) >= {"loss_d", "loss_g", "d_real", "d_fake"}
    assert now.coverage is not None and now.coverage.total == 8
    assert now.coverage == modes.coverage_for("ring-8", now.fake)  # the PacGAN protocol on exactly the points drawn
    assert now.outside == int(((now.fake < [lab.bounds[0][0], lab.bounds[1][0]]) |
                               (now.fake > [lab.bounds[0][1], lab.bounds[1][1]])).any(axis=1).sum())


def test_the_heat_map_is_d_on_its_grid_a_probability_or_a_critic_score():
    lab = tiny_lab()
    lab.train(3)
    frame = lab.frame()
    assert frame.surface.shape == (lab2d.GRID, lab2d.GRID) == (len(lab.ys), len(lab.xs))
    i, j = 7, 41
    with torch.no_grad():
        logit = lab.D(torch.tensor([[lab.xs[j], lab.ys[i]]]))
    assert frame.surface[i, j] == pytest.approx(torch.sigmoid(logit).item(), abs=1e-6)  # surface[i, j] is (xs[j], ys[i])
    assert 0 <= frame.surface.min() and frame.surface.max() <= 1
    assert "probability" in lab.surface_label

    critic = tiny_lab("wgan")
    critic.train(2)
    f = critic.frame()
    with torch.no_grad():
        score = critic.D(torch.tensor([[critic.xs[j], critic.ys[i]]]))
    assert critic.wasserstein and f.surface[i, j] == pytest.approx(score.item(), abs=1e-6)  # the raw score, no sigmoid
    assert "not a probability" in critic.surface_label
    assert lab.bounds[0][0] < -1 < 1 < lab.bounds[0][1]  # the ring (radius 1) fits the view


def test_arrows_point_down_the_generator_loss():
    lab = tiny_lab()
    lab.train(5)
    frame = lab.frame()
    assert frame.arrows.shape == frame.arrows_at.shape == (lab2d.N_ARROWS, 2)
    assert np.array_equal(frame.arrows_at, frame.fake[: lab2d.N_ARROWS])
    # The non-saturating loss -log D(x) of each point alone, by autograd on D itself.
    x = torch.tensor(frame.arrows_at, requires_grad=True)
    (grad,) = torch.autograd.grad(losses.g_loss_non_saturating(lab.D(x)) * len(x), x)
    expected = -grad.numpy()
    cos = (frame.arrows * expected).sum(1) / (np.linalg.norm(frame.arrows, axis=1) * np.linalg.norm(expected, axis=1))
    assert cos.min() > 0.9999
    assert np.allclose(frame.arrows * len(x), expected, rtol=1e-4, atol=1e-9)  # each point's share of the mean loss
    # A small move along an arrow lowers that point's loss.
    with torch.no_grad():
        step = 1e-2 * frame.arrows / np.linalg.norm(frame.arrows, axis=1, keepdims=True)
        before = torch.nn.functional.softplus(-lab.D(torch.tensor(frame.arrows_at)))
        after = torch.nn.functional.softplus(-lab.D(torch.tensor(frame.arrows_at + step)))
    assert (after < before).float().mean() > 0.95


@pytest.mark.skipif("pacgan" not in RECIPES.names(), reason="the pacgan recipe is not registered")
def test_a_packed_discriminator_is_drawn_with_companions():
    lab = tiny_lab("pacgan", extra={"model.pack": 4})
    lab.train(3)
    frame = lab.frame()
    assert frame.surface.shape == (len(lab.ys), len(lab.xs)) and np.isfinite(frame.surface).all()
    assert "pack of x and 3 generated points" in lab.surface_label
    # The cell (i, j) is D's verdict on the pack [(xs[j], ys[i]), three generated companions].
    i, j = 3, 11
    companions = torch.tensor(frame.fake[lab2d.N_ARROWS : lab2d.N_ARROWS + 3])
    with torch.no_grad():
        logit = lab.D(torch.cat([torch.tensor([[lab.xs[j], lab.ys[i]]]), companions]))
    assert frame.surface[i, j] == pytest.approx(torch.sigmoid(logit).item(), abs=1e-6)
    assert np.isfinite(frame.arrows).all() and np.abs(frame.arrows).sum() > 0


@pytest.mark.skipif("minibatch-std" not in RECIPES.names(), reason="the minibatch-std recipe is not registered")
def test_a_minibatch_std_discriminator_judges_each_cell_in_a_group_with_companions():
    lab = tiny_lab("minibatch-std")
    lab.train(3)
    frame = lab.frame()
    assert lab.coupling == "group" and "in a group with 3 generated points" in lab.surface_label
    # The shortcut (companions' features computed once) against D on the real batches: [x, c1, c2, c3] per cell.
    companions = torch.tensor(frame.fake[lab2d.N_ARROWS : lab2d.N_ARROWS + 3])
    last = len(lab.xs) - 1
    where = ((0, 0), (7, last // 2), (last, last))
    cells = torch.tensor([[lab.xs[j], lab.ys[i]] for i, j in where])
    with torch.no_grad():
        batched = lab.D(torch.cat([torch.cat([c[None], companions]) for c in cells])).view(3, 4)[:, 0]
    expected = torch.sigmoid(batched).numpy()
    assert np.allclose([frame.surface[i, j] for i, j in where], expected, atol=1e-5)


def test_runs_depend_on_the_seed_alone_and_match_the_trainer(tmp_path):
    a, other, b = tiny_lab(seed=4), tiny_lab("wgan-gp", seed=9), tiny_lab(seed=4)
    for lab in (a, other, b, other, a, b):  # interleaved: each lab keeps its own random state
        lab.train(3)
    assert a.step == b.step == 6 and np.array_equal(a.frame().fake, b.frame().fake)
    assert not np.array_equal(tiny_lab(seed=5).frame().fake, tiny_lab(seed=4).frame().fake)

    # Step N of the lab is step N of `python -m gan_core train` with the same settings.
    cfg = resolve(tiny("gan", "ring-8", steps=6, **{"data.n_points": 512, "train.seed": 4}))
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"
    saved = checkpoints.read(run_dir / "checkpoints" / "last.safetensors").tensors
    for name, value in a.G.state_dict().items():
        assert torch.allclose(saved[f"generator.{name}"], value, atol=1e-6), name


def test_a_comparison_trains_each_recipe_on_the_same_data_from_the_same_seed():
    cmp = lab2d.Comparison.of(["gan", "wgan-gp"], "grid-25", seed=3, n_points=512, overrides=dict(TINY))
    gan, critic = cmp.labs["gan"], cmp.labs["wgan-gp"]
    assert np.array_equal(gan.real, critic.real) and gan.bounds == critic.bounds
    assert cmp.train(4) == 4 and gan.step == critic.step == cmp.step == 4
    assert cmp.train_for(0.0) == 1 and cmp.step == 5  # at least one step, every recipe in lockstep
    alone = lab2d.Lab("wgan-gp", "grid-25", 3, n_points=512, overrides=dict(TINY))
    alone.train(5)
    assert np.array_equal(alone.frame().fake, cmp.frames()["wgan-gp"].fake)  # as if trained on its own
    with pytest.raises(ConfigError, match="two or more"):
        lab2d.Comparison.of(["gan"], "grid-25")
    with pytest.raises(ConfigError, match="once"):
        lab2d.Comparison.of(["gan", "gan"], "grid-25")


def test_it_stops_at_stop_at_and_on_a_non_finite_loss():
    lab = tiny_lab(stop_at=4)
    assert lab.stop_at == 4 and lab.train_for(10.0) == 4 and lab.done and lab.train(3) == 0
    assert lab.snapshots[-1].step == 4  # the last step is kept for the replay
    lab.stop_at = 6  # raising it goes on
    assert not lab.done and lab.train(5) == 2
    with pytest.raises(ConfigError, match="1 to"):
        lab.stop_at = 0
    recipe_steps = resolve(tiny("gan", "ring-8").replace(**{"train.steps": None})).train.steps
    assert tiny_lab().stop_at == recipe_steps  # unset: the recipe's own number of steps, as `train` uses

    broken = tiny_lab()
    with torch.no_grad():
        for p in broken.D.parameters():
            p.fill_(math.nan)
    assert broken.train(5) == 1 and broken.done
    assert "non-finite" in broken.error and broken.error.count(".") == 1


def test_snapshots_are_thinned_beyond_the_limit(monkeypatch):
    monkeypatch.setattr(lab2d, "MAX_SNAPSHOTS", 6)
    lab = tiny_lab(snapshot_every=1)
    lab.train(12)
    steps = [f.step for f in lab.snapshots]
    assert len(steps) <= 7 and steps[0] == 0 and steps == sorted(steps)
    assert lab.snapshot_every > 1 and all(s % lab.snapshot_every == 0 for s in steps[:-1])


@pytest.mark.parametrize("recipe, data, words", [("dcgan", "ring-8", "does not train on points"),
                                                 ("gan", "faces-lfw", "point sets"), ("gan", "toy-1d", "point sets")])
def test_what_the_lab_cannot_train_is_one_sentence(recipe, data, words):
    with pytest.raises(ConfigError, match=words) as e:
        lab2d.Lab(recipe, data)
    assert str(e.value).count(". ") == 0 and str(e.value).endswith(".")


# ---------------------------------------------------------------- the plane's picture

def _colour(hex_colour):
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])


def test_the_picture_draws_the_heat_map_the_points_and_the_arrows_where_they_are():
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    xs = np.linspace(-2, 2, 5)
    surface = np.tile((xs[None, :] + 2) / 4, (5, 1))  # D rises from 0 on the left to 1 on the right
    empty = lab2d_image.draw_plane(bounds, surface, True, size=200)
    assert empty.shape == (200, 200, 3) and empty.dtype == np.uint8
    purple, white, green = (lab2d_image._LUT[i].astype(int) for i in (0, 128, 255))
    assert np.abs(empty[100, 1] - purple).max() <= 3 and np.abs(empty[100, 198] - green).max() <= 3
    assert np.abs(empty[100, 100] - white).max() <= 3 and np.array_equal(empty[5, 50], empty[195, 50])

    real, fake = np.array([[-1.0, 1.0]]), np.array([[1.0, -1.0]])  # top left, bottom right
    arrows = (np.array([[0.0, 0.0]]), np.array([[0.0, 3.0]]))  # from the centre, straight up
    drawn = lab2d_image.draw_plane(bounds, surface, True, real=real, fake=fake, arrows=arrows, size=200)
    assert np.abs(drawn[50, 50] - _colour(lab2d_image.REAL)).max() <= 1  # (-1, 1) is pixel (row 50, column 50)
    blend = (1 - lab2d_image.FAKE_ALPHA) * empty[150, 150] + lab2d_image.FAKE_ALPHA * _colour(lab2d_image.FAKE)
    assert np.abs(drawn[150, 150] - blend).max() <= 2  # translucent over the heat map
    # A lone arrow is the typical one: 7% of the view's width (14 pixels), up from the centre.
    dark = (np.abs(drawn.astype(int) - _colour(lab2d_image.ARROW)).max(axis=2) <= 40)
    assert dark[87:100, 99:102].any(axis=1).all() and not dark[:80].any() and not dark[102:].any()
    untouched = np.ones((200, 200), bool)
    untouched[30:70, 30:70] = untouched[130:170, 130:170] = untouched[0:110, 85:115] = False
    assert np.array_equal(drawn[untouched], empty[untouched])


def test_the_picture_of_a_critic_uses_its_own_range_and_encodes_as_jpeg():
    surface = np.array([[-3.0, 5.0], [1.0, 1.0]])
    assert lab2d_image.heat_range(surface, probability=False) == (-3.0, 5.0)
    assert lab2d_image.heat_range(surface, probability=True) == (0.0, 1.0)
    lo, hi = lab2d_image.heat_range(np.full((3, 3), 2.0), probability=False)
    assert lo < 2.0 < hi  # a flat critic still has a scale
    rgb = lab2d_image.draw_plane(((0, 1), (0, 1)), surface, False, size=64)
    assert np.abs(rgb[63, 0] - lab2d_image._LUT[0]).max() <= 3  # the lowest score, bottom left (row 0 of surface is the bottom)
    uri = lab2d_image.image_uri(rgb)
    assert uri.startswith("data:image/jpeg;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert decoded.shape == rgb.shape and np.abs(decoded.astype(int) - rgb).mean() < 3


def test_arrow_lengths_are_relative_and_capped():
    bounds = ((0.0, 10.0), (0.0, 10.0))
    starts = np.zeros((40, 2))
    pushes = np.column_stack([np.r_[np.ones(38), 0.5, 1000.0], np.zeros(40)])  # one enormous push
    lengths = lab2d_image.arrow_tips(starts, pushes, bounds)[:, 0]
    assert np.allclose(lengths[:38], 0.7) and lengths[38] == pytest.approx(0.35)  # the typical push: 7% of the width
    assert lengths[39] == pytest.approx(1.2)  # and none longer than 12%
    assert np.array_equal(lab2d_image.arrow_tips(starts, np.zeros((40, 2)), bounds), starts)


def test_the_framed_picture_adds_axes_rings_and_the_colour_bar():
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    surface = np.linspace(0, 1, 36).reshape(6, 6)
    centres, covered = np.array([[-4.0, 4.0], [4.0, -4.0]]), np.array([True, False])
    plane = lab2d_image.draw_plane(bounds, surface, True, size=300)
    framed = lab2d_image.draw_framed(bounds, surface, True, centres=centres, covered=covered, size=300)
    left, top = 46, 10  # the plane sits inside margins for the ticks and the colour bar
    assert framed.shape == (top + 300 + 30, left + 300 + 84, 3)
    inner = framed[top : top + 300, left : left + 300].astype(int)
    far_from_rings = np.ones((300, 300), bool)
    far_from_rings[:60, :60] = far_from_rings[240:, 240:] = False
    assert np.abs(inner - plane)[far_from_rings].max() <= 1
    # Rings 9 pixels around each mode: green for covered (-4, 4), red for missed (4, -4).
    ring_green, ring_red = inner[30 - 9, 30], inner[270 - 9, 270]
    assert ring_green[1] > ring_green[0] + 40 and ring_red[0] > ring_red[1] + 60
    # The colour bar runs from the scale's top (green, D = 1) down to its bottom (purple, D = 0).
    bar = framed[top + 30 : top + 270, left + 300 + 16 + 7].astype(int)
    assert np.abs(bar[0] - lab2d_image._LUT[255]).max() <= 3 and np.abs(bar[-1] - lab2d_image._LUT[0]).max() <= 3
    assert lab2d_image.nice_ticks(-5.2, 5.2) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert lab2d_image.nice_ticks(-1.29, 1.29) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert lab2d_image.HEAT_SCALE_SHOWN[0][1] == "#%02x%02x%02x" % tuple(lab2d_image._LUT[0])


def test_a_live_frame_is_the_full_frames_first_points_with_the_last_kept_coverage():
    lab = tiny_lab(data="grid-25", snapshot_every=4)
    lab.train(6)  # snapshots at 0 and 4
    live = lab.live_frame(300)
    assert live.step == 6 and len(live.fake) == 300 and live.coverage_step == 4
    assert live.coverage == lab.snapshots[-1].coverage, "PacGAN's protocol needs 2,500 samples: the last kept measurement"
    full = lab.frame()
    assert len(full.fake) == modes.N_SAMPLES and full.coverage_step == 6
    assert np.array_equal(live.fake, full.fake[:300]), "the same noise, the same points"
    assert np.allclose(live.arrows, full.arrows, atol=1e-6) and live.arrows.shape == (lab2d.N_ARROWS, 2)
    assert np.array_equal(live.surface, full.surface)
    assert lab.live_frame(300) is full, "the full frame of this step serves a live one too"
    lab.train(2)  # step 8: kept
    assert lab.live_frame(300) is lab.snapshots[-1] and lab.snapshots[-1].step == 8
    assert len(lab.live_frame(10**6).fake) == modes.N_SAMPLES


def test_what_a_page_shows_at_each_step_kept_or_current():
    lab = tiny_lab(data="grid-25", snapshot_every=4)
    assert lab.labs == {"gan": lab}
    lab.train(6)  # kept at 0 and 4; the current step, 6, is shown too
    assert lab.steps_kept() == [0, 4, 6]
    assert lab.frame_at(4) is lab.snapshots[1] and lab.frame_at(6).step == 6 == lab.frame_at(5).step
    lab.train(2)  # step 8 is kept: listed once
    assert lab.steps_kept() == [0, 4, 8] and lab.frames_at(8) == {"gan": lab.snapshots[-1]}

    assert [s for s, _ in lab.coverage_until(lab.snapshots[1])] == [0, 4], "the chart stops at the step shown"
    lab.train(1)
    live = lab.live_frame(300)  # step 9 with the coverage of step 8
    assert [s for s, _ in lab.coverage_until(live)] == [0, 4, 8]
    full = lab.frame()
    rows = lab.coverage_until(full)
    assert [s for s, _ in rows] == [0, 4, 8, 9] and rows[-1][1] == full.coverage, "the frame's own coverage ends it"
    spiral = tiny_lab(data="spiral")
    assert spiral.coverage_until(spiral.frame()) == [], "no modes, no coverage"

    assert len(lab.playing_frames(300)["gan"].fake) == modes.N_SAMPLES, "one recipe plays its full frame"
    cmp = lab2d.Comparison.of(["gan", "wgan"], "grid-25", n_points=512, overrides=dict(TINY))
    cmp.train(3)
    light = cmp.playing_frames(300)
    assert list(light) == ["gan", "wgan"] and all(len(f.fake) == 300 for f in light.values()), "a comparison plays light frames"
    assert {name: f.step for name, f in cmp.frames_at(0).items()} == {"gan": 0, "wgan": 0}


def test_d_verdict_is_a_probability_for_a_gan_and_an_estimate_for_a_critic():
    gan, critic = tiny_lab(), tiny_lab("wgan")
    assert gan.verdict(gan.frame()) == "untrained"
    gan.train(2)
    critic.train(2)
    m = gan.frame().losses
    assert gan.verdict(gan.frame()) == f"D(x) {m['d_real']:.2f} · D(G(z)) {m['d_fake']:.2f}"
    assert re.fullmatch(r"Wasserstein estimate -?[\d.e+-]+ \(the last batch's, up to the critic's unknown scale: compare it "
                        r"within this run, not with another recipe\)", critic.verdict(critic.frame()))


def test_the_pages_default_shows_the_mode_count_climb_then_fall():
    """The lesson the page opens on (issue #21): the plain GAN on grid-25, seed 0, as the
    page builds it. Its covered-mode count, the page's own coverage chart over the kept
    frames, climbs to most of the 25 modes and then falls as G loses some. (Seeds 0-4:
    peaks of 21-24, falls of 7-12 within 2,000 steps; docs/BENCHMARKS.md.)"""
    lab = lab2d.Lab(lab2d.DEFAULT_RECIPE, lab2d.DEFAULT_DATA, 0)
    lab.train(1500)
    counts = [c.modes for _, c in lab.coverage_history()]
    assert len(counts) >= 30, "one count per kept frame"
    peak = max(counts)
    after = counts[counts.index(peak):]
    assert peak >= 18, counts
    assert min(after) <= peak - 4, f"the count never fell from its peak of {peak}: {counts}"


def test_the_default_comparison_shows_the_remedy_ahead_at_the_same_step():
    """The comparison the page opens on (issue #21): gan against minibatch-std on ring-8,
    every recipe stopping at COMPARE_STEPS, seed 0. At the last step the remedy covers
    more modes than gan, with most of its points on them. (Seeds 0-4: 8 of 8 modes and
    75-93% high quality against gan's 5-6 and 2-3%; docs/BENCHMARKS.md.)"""
    cmp = lab2d.Comparison.of(list(lab2d.COMPARE_RECIPES), lab2d.COMPARE_DATA, 0, stop_at=lab2d.COMPARE_STEPS)
    assert cmp.stop_at == lab2d.COMPARE_STEPS
    cmp.train(lab2d.COMPARE_STEPS)
    assert cmp.done and cmp.step == lab2d.COMPARE_STEPS
    gan, remedy = (cmp.labs[name].frame().coverage for name in lab2d.COMPARE_RECIPES)
    assert remedy.modes > gan.modes, (gan.describe(), remedy.describe())
    assert remedy.high_quality >= 0.5 and gan.high_quality < 0.1, (gan.describe(), remedy.describe())
    # An emptied "Stop at step" goes back to the recipe's own number of steps.
    assert cmp.labs["minibatch-std"].own_steps == 11000 and cmp.labs["gan"].own_steps == 2000
