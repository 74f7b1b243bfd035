"""Every request has a budget (issue #17): its peak memory is computed from its shape
before anything is allocated, and the request is done in chunks that fit or refused in
one sentence naming the request and the limit. The memory cases run in a fresh process
and assert a peak bound, as tests/test_checkpoint_trust.py does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_core import budget, checkpoints, inference, pictures, translate
from gan_core.cli import main
from gan_core.config import Config
from gan_core.data.base import DataInfo
from gan_core.errors import ConfigError, GanError
from gan_core.recipes import RECIPES, resolve
from gan_core.samples import grid_array
from gan_core.settings import DEMO_MEMORY_BUDGET_MB, load_settings, memory_budget_mb

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors"
DIGITS = ROOT / "checkpoints" / "cgan-mnist.safetensors"
GREY_TO_COLOUR = ROOT / "checkpoints" / "pix2pix-grey-to-colour-photos.safetensors"


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and "Traceback" not in message


@pytest.fixture
def budget_mb(monkeypatch):
    def set_to(mb: int | None) -> None:
        monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
        if mb is None:
            monkeypatch.delenv("GAN_WORKBENCH_MEMORY_BUDGET", raising=False)
        else:
            monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", str(mb))
    return set_to


@pytest.fixture(scope="module")
def classes_checkpoint(tmp_path_factory) -> Path:
    """The finding: a 2.3 MB conv cgan at 256 px with 1,000 classes, whose one-row-per-class
    grid of 8 columns asked for a 2.1 GB float tensor in one batch (6.3 GB in colour)."""
    cfg = resolve(Config(recipe="cgan").replace(**{"data.name": "mnist-5k", "data.image_size": 256, "model.arch": "conv",
                                                   "model.width": 1}))
    info = DataInfo("mnist-5k", "image", (1, 256, 256), [f"class {i}" for i in range(1000)])
    G, _ = RECIPES.get("cgan").build(cfg, info)
    data = checkpoints.weights_bytes(cfg, info, 1, G, None)
    assert len(data) < 3_000_000
    path = tmp_path_factory.mktemp("hostile") / "classes.safetensors"
    path.write_bytes(data)
    return path


def fresh_process(code: str, env: dict[str, str] | None = None) -> list[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GAN_WORKBENCH_")}
    full_env.update({"OMP_NUM_THREADS": "1", **(env or {})})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, env=full_env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


PEAK = (
    "import resource, time\n"
    "def grown_mb():\n"
    "    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - BEFORE) / 1024\n"
)


# ----------------------------------------------------------------------------- the setting


def test_the_budget_setting_has_a_demo_default_an_override_and_a_sentence(budget_mb, monkeypatch):
    budget_mb(None)
    assert memory_budget_mb() == 2048 and load_settings().memory_budget_mb == 2048
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    assert memory_budget_mb() == DEMO_MEMORY_BUDGET_MB == 256 and budget.limit() == 256 * 2**20
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "512")
    assert load_settings().memory_budget_mb == 512
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "lots")
    with pytest.raises(ConfigError, match="GAN_WORKBENCH_MEMORY_BUDGET must be a whole number, not 'lots'"):
        budget.limit()


# ----------------------------------------------------------------------------- the arithmetic


def test_size_text_reads_as_a_person_writes_it():
    assert budget.size_text(256 * 2**20) == "256 MB"
    assert budget.size_text(int(6.3 * 2**30)) == "6.3 GB"
    assert budget.size_text(840 * 1024) == "840 KB"
    assert budget.size_text(1) == "1 KB"


def test_dcgan_estimate_is_the_largest_layer_by_hand():
    """32 px grey, width 32 (dcgan-faces-lfw): the 8 -> 16 px transposed conv holds
    2,048 x 2 in + 32 x 16 x 16 out + 4 x that (its column buffer) = 45,056 floats."""
    g = budget.GeneratorShape("conv", (1, 32, 32), 32, 100)
    assert budget.generator_peak(g) == int(45_056 * 4 * budget.SAFETY)
    wider = budget.GeneratorShape("conv", (3, 256, 256), 64, 100)
    assert 20 * 2**20 < budget.generator_peak(wider) < 40 * 2**20  # measured 9 to 14 MB a sample


def test_mlp_estimate_covers_its_output_and_widest_layer():
    g = budget.GeneratorShape("mlp", (1, 28, 28), 256, 100, cond_dim=10)
    # Linear 512 -> 1024 holds 512 in + 2 x 1,024 out; Linear 1,024 -> 784 holds 1,024 + 2 x 784.
    assert budget.generator_peak(g) == int(max(512 + 2048, 1024 + 1568) * 4 * budget.SAFETY)


def test_a_plan_chunks_within_the_budget_and_keeps_the_result():
    g = budget.GeneratorShape("conv", (1, 32, 32), 32, 100)
    plan = budget.plan_samples(g, 2000, what="Sampling", fix="ask for fewer", budget=32 * 2**20)
    assert 1 <= plan.chunk < 2000 and plan.peak <= 32 * 2**20
    assert plan.peak >= 2000 * 32 * 32 + plan.chunk * budget.generator_peak(g)  # the uint8 result and one chunk
    whole = budget.plan_samples(g, 20, what="Sampling", fix="ask for fewer", budget=32 * 2**20)
    assert whole.chunk == 20  # small requests run in one batch, as before


def test_a_result_that_cannot_fit_is_refused_in_one_sentence_naming_request_and_limit():
    g = budget.GeneratorShape("conv", (3, 256, 256), 64, 100)
    with pytest.raises(budget.BudgetError) as e:
        budget.plan_samples(g, 8000, what="A grid of 1,000 classes × 8 columns at 256 px", fix="ask for fewer classes or columns",
                            budget=256 * 2**20)
    message = str(e.value)
    assert message.startswith("A grid of 1,000 classes × 8 columns at 256 px needs about 1.5 GB, more than this server's 256 MB "
                              "per request; ask for fewer classes or columns"), message
    assert one_sentence(message)
    with pytest.raises(ConfigError, match="ask for at least one"):
        budget.plan_samples(g, 0, what="Sampling", fix="ask for fewer")


# ----------------------------------------------------------------------------- sampling


def test_a_hundred_million_samples_are_refused_at_once(budget_mb):
    budget_mb(None)
    gen = inference.load_generator(FACES)
    t = time.perf_counter()
    with pytest.raises(budget.BudgetError) as e:
        inference.sample(gen, 100_000_000)
    assert time.perf_counter() - t < 1
    assert str(e.value).startswith("Sampling 100,000,000 grey images of 32 px needs about 1") and "2.0 GB per request" in str(e.value)
    assert one_sentence(str(e.value))
    for call in (lambda: inference.sample_tensor(gen, 100_000_000), lambda: inference.sample_grid(gen, 100_000_000),
                 lambda: inference.interpolate(gen, 0, 10**9, 1, 0), lambda: inference.sample(gen, -5)):
        with pytest.raises(GanError) as e:
            call()
        assert one_sentence(str(e.value))


def test_cli_sample_over_the_budget_is_one_error_line(tmp_path, capsys, budget_mb):
    budget_mb(16)
    for out, start in (("out.png", "error: A grid of 100,000 grey images of 32 px needs about"),
                       ("out.npy", "error: Generating 100,000 grey images of 32 px needs about")):
        assert main(["sample", str(FACES), "--n", "100000", "--out", str(tmp_path / out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(start) and "16 MB per request" in err and err.count("\n") == 1, err
        assert not (tmp_path / out).exists()


def test_chunked_samples_equal_one_batch(budget_mb):
    gen = inference.load_generator(DIGITS)
    budget_mb(None)
    whole = inference.sample(gen, 600, seed=5)
    rows = inference.condition_rows(gen, np.eye(10, dtype=np.float32), 30, seed=2)
    budget_mb(4)
    assert inference._sampling(gen, 600, "x")[1].chunk < 600
    assert np.array_equal(inference.sample(gen, 600, seed=5), whole)
    assert np.array_equal(inference.condition_rows(gen, np.eye(10, dtype=np.float32), 30, seed=2), rows)


def test_sample_grid_is_laid_out_as_before():
    """sample_grid now builds the grid from uint8 samples (the float tensor and
    torchvision's float grid were 4 x the result each); the picture is the same."""
    for path in (FACES, DIGITS):
        gen = inference.load_generator(path)
        for n, nrow in ((1, None), (2, None), (7, None), (16, 5), (3, 10)):
            old = grid_array(gen.from_noise(gen.noise(n, 3), None, 3), nrow or int(np.ceil(np.sqrt(n))))
            assert np.array_equal(inference.sample_grid(gen, n, 3, nrow=nrow), old), (path.name, n, nrow)


def test_the_one_row_per_class_grid_of_a_hostile_checkpoint_is_refused_without_allocating(classes_checkpoint):
    code = (
        "import resource, time, numpy as np\n"
        "from gan_core import inference\n"
        "from gan_core.errors import GanError\n"
        f"gen = inference.load_generator({str(classes_checkpoint)!r})\n"
        "conds = np.eye(1000, dtype=np.float32)\n"
        "BEFORE = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n" + PEAK +
        "t = time.perf_counter()\n"
        "try:\n    inference.condition_rows(gen, conds, 8)\n    print('drawn')\n"
        "except GanError as e:\n    print(e)\n"
        "print(round(time.perf_counter() - t, 3), grown_mb())\n"
    )
    message, numbers = fresh_process(code, {"GAN_WORKBENCH_DEMO": "1"})
    assert message.startswith("A grid of 1,000 classes × 8 columns at 256 px needs about 5") and "256 MB per request" in message
    assert message.endswith("ask for fewer classes or columns.")
    seconds, grown = map(float, numbers.split())
    assert seconds < 1 and grown < 30  # MB; the old single batch asked for 2.1 GB of floats


def test_two_thousand_faces_are_drawn_in_chunks_with_a_bounded_peak():
    """Unchunked, 2,000 samples of the shipped faces generator peak at about 250 MB
    (benchmarks/budget_peaks.py); under a 32 MB budget they come in chunks."""
    code = (
        "import resource\n"
        "from gan_core import inference\n"
        f"gen = inference.load_generator({str(FACES)!r})\n"
        "inference.sample(gen, 4)\n"
        "BEFORE = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n" + PEAK +
        "images = inference.sample(gen, 2000, seed=1)\n"
        "print(images.shape, images.dtype, inference._sampling(gen, 2000, 'x')[1].chunk, grown_mb())\n"
    )
    (line,) = fresh_process(code, {"GAN_WORKBENCH_MEMORY_BUDGET": "32"})
    assert line.startswith("(2000, 32, 32, 1) uint8 ")
    chunk, grown = line.split()[-2:]
    assert int(chunk) < 2000 and float(grown) < 40, line


# ----------------------------------------------------------------------------- pictures and translation


def test_grids_enlargements_and_gifs_of_unbounded_sizes_are_refused(budget_mb):
    budget_mb(64)
    images = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    for call, start in ((lambda: pictures.make_grid(images, nrow=10**7), "A grid of 4 images in rows of 10,000,000"),
                        (lambda: pictures.upscale(images[0], 10**5), "Enlarging a 32 × 32 px image 100,000 times"),
                        (lambda: pictures.gif_bytes(images, scale=500), "A GIF of 6 frames of 16,000 × 16,000 px")):
        with pytest.raises(budget.BudgetError) as e:
            call()
        assert str(e.value).startswith(start) and "64 MB per request" in str(e.value) and one_sentence(str(e.value))
    assert pictures.make_grid(images, nrow=2).shape == (70, 70, 3)


def test_a_picture_over_the_budget_is_refused_in_one_sentence_before_any_work(budget_mb):
    tr = translate.load_translator(GREY_TO_COLOUR)
    picture = np.zeros((1500, 2000, 3), dtype=np.uint8)
    budget_mb(16)
    t = time.perf_counter()
    with pytest.raises(budget.BudgetError) as e:
        translate.translate_picture(tr, picture, name="holiday.jpg")
    message = str(e.value)
    assert time.perf_counter() - t < 0.5
    assert message.startswith("Translating holiday.jpg (2,000 × 1,500 pixels) needs about ") and "16 MB per request" in message
    assert "send a picture of at most about 1." in message and one_sentence(message)
    budget_mb(None)
    assert translate.translate_picture(tr, picture[:300, :400], name="small.jpg").output.shape == (300, 400, 3)


def test_a_tile_that_does_not_fit_falls_back_to_smaller_tiles(budget_mb):
    tr = translate.load_translator(GREY_TO_COLOUR)
    picture = (np.arange(700 * 600 * 3) % 251).astype(np.uint8).reshape(700, 600, 3)
    budget_mb(None)
    assert translate.budget_tile(tr, 700, 600, 3, 700, 600, target=False, realism=False) == translate.TILE
    full = translate.translate_picture(tr, picture, scale=1.0, derive=False).output
    budget_mb(14)  # the arrays fit; a 512 px tile of this U-Net does not
    tile = translate.budget_tile(tr, 700, 600, 3, 700, 600, target=False, realism=False)
    assert tile < translate.TILE
    small = translate.translate_picture(tr, picture, scale=1.0, derive=False).output
    source = translate.as_channels(picture, tr.source_channels)
    assert np.array_equal(small, translate.translate(tr, source, tile=tile))  # done in the smaller tiles
    assert small.shape == full.shape and not np.array_equal(small, full)


def test_an_enlargement_over_the_budget_names_the_picture_as_sent(budget_mb):
    """A super-resolution model's budget counts the enlarged picture, but the sentence
    names the picture the visitor sent and the size of picture that would fit."""
    path = ROOT / "checkpoints" / "pix2pix-super-resolution-photos.safetensors"
    if not path.exists():
        pytest.skip("no super-resolution checkpoint shipped")
    tr = translate.load_translator(path)
    budget_mb(16)
    with pytest.raises(budget.BudgetError) as e:
        translate.translate_picture(tr, np.zeros((600, 800, 3), dtype=np.uint8), enlarge=tr.enlarge, name="small.jpg")
    message = str(e.value)
    assert message.startswith(f"Enlarging small.jpg (800 × 600 pixels) {tr.enlarge}x needs about ") and one_sentence(message)
    advice = message.split("send a picture of at most about ")[1].split(" pixels")[0]  # "W × H": under 0.1 megapixels
    w, h = (int(v.replace(",", "")) for v in advice.split(" × "))
    assert 16 <= w < 800 and abs(h / w - 0.75) < 0.05  # a picture of the shape sent, smaller
    sent = np.zeros((h, w, 3), dtype=np.uint8)  # the advice is taken by the door that refused...
    assert translate.translate_picture(tr, sent, enlarge=tr.enlarge).output.shape == (h * tr.enlarge, w * tr.enlarge, 3)
    with pytest.raises(budget.BudgetError):  # ...and is not far too small
        translate.translate_picture(tr, np.zeros((round(h * 1.15), round(w * 1.15), 3), np.uint8), enlarge=tr.enlarge)


@pytest.mark.parametrize("mb, shape, enlarge", [(16, (1500, 2000), 1), (48, (900, 1200), 4), (200, (1340, 1340), 4)])
def test_the_size_a_refusal_advises_is_taken_and_not_far_too_small(budget_mb, mb, shape, enlarge):
    """The finding: a 1.80-megapixel picture refused for a x4 enlargement was told to send
    "at most about 1.8 megapixels", and 1.70 was the largest taken: the advice left out
    the model's own cost. Now it is found by bisection over the same arithmetic."""
    import re

    path = ROOT / "checkpoints" / ("pix2pix-super-resolution-photos.safetensors" if enlarge > 1 else "pix2pix-grey-to-colour-photos.safetensors")
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    tr = translate.load_translator(path)
    budget_mb(mb)
    h, w = shape
    with pytest.raises(budget.BudgetError) as e:
        translate.check_picture_size(tr, w, h, 3, enlarge=enlarge, name="p.jpg")
    mp = float(re.search(r"at most about ([0-9.]+) megapixels", str(e.value)).group(1))
    fit = lambda p: (round(w * (p * 1e6 / (w * h)) ** 0.5), round(h * (p * 1e6 / (w * h)) ** 0.5))  # noqa: E731 - same shape
    translate.check_picture_size(tr, *fit(mp), 3, enlarge=enlarge)  # taken
    with pytest.raises(budget.BudgetError):
        translate.check_picture_size(tr, *fit(mp + 0.25), 3, enlarge=enlarge)  # a quarter megapixel more is not
