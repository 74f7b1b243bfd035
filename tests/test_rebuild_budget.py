"""Review 3, finding 2: the gallery's nearest training images and the judge rebuilt a
visitor's uploaded folder or zip whole in the server's process (+0.6 to +2.7 GB), and the
judge trained in batches of 128 whatever the image size (1 GB a batch at 256 px). Now a
folder or zip is counted from its listing before anything is decoded, only the images
that fit the server's budget per request are read, and the judge's batch is sized from
what they leave of it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core import budget, judge, memorisation
from gan_core.config import DataConfig
from gan_core.data import folder
from gan_core.data.base import GanData
from gan_core.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parent.parent


def tiny_zip(path: Path, n: int, side: int = 8) -> Path:
    """``n`` random colour PNGs of ``side`` px in class folders a/ and b/ (alternating), as
    the reviewer's mkzip.py makes them: a few hundred bytes each, any size once rebuilt."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            b = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(b, "PNG")
            z.writestr(f"{'ab'[i % 2]}/img{i:05d}.png", b.getvalue())
    return path


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and message.count(". ") == 0 and "Traceback" not in message


@pytest.fixture
def decoded(monkeypatch):
    """The images a load really decodes (the folder source's decoder, counted)."""
    seen = []
    real = folder.decode

    def counting(store, name, size, channels):
        seen.append(getattr(name, "filename", name))
        return real(store, name, size, channels)

    monkeypatch.setattr(folder, "decode", counting)
    memorisation.training_pool.cache_clear()
    yield seen
    memorisation.training_pool.cache_clear()


def test_a_zip_is_counted_from_its_listing_before_anything_is_decoded(tmp_path, monkeypatch):
    """check_rebuild returned 0 (no check) for every folder and zip."""
    path = tiny_zip(tmp_path / "tiny.zip", 300)
    cfg = DataConfig(name="folder", path=str(path), image_size=64)

    def no_image_is_opened(*a, **k):
        raise AssertionError("an image was opened to count the set")

    monkeypatch.setattr(folder, "scan", no_image_is_opened)
    monkeypatch.setattr(folder, "decode", no_image_is_opened)
    assert memorisation.check_rebuild(cfg) == 300 * 3 * 64 * 64 * 4  # colour unless the config says grey
    assert memorisation.check_rebuild(DataConfig(name="folder", path=str(path), image_size=64, channels=1)) == 300 * 64 * 64 * 4
    assert folder.count_images(cfg) == 300


def test_the_gallery_reads_only_the_first_images_that_fit_the_budget(tmp_path, monkeypatch, decoded):
    """The finding: +630 MB on a demo for the neighbours of a run on 4,000 tiny PNGs, shown
    with no click. Here the same shape of request on a 40 MB budget."""
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "40")
    path = tiny_zip(tmp_path / "tiny.zip", 300)
    cfg = DataConfig(name="folder", path=str(path), image_size=64)
    pool = memorisation.training_pool(cfg)
    assert 0 < len(decoded) < 300 and pool.images.shape == (len(decoded), 64, 64, 3)  # the others were never decoded
    assert pool.total == 300  # so the page says "the first 170 of 300"
    # Reading an image and keeping its uint8 copy: 6 bytes a value, in half the room the overhead leaves.
    fits = (budget.limit() - memorisation.REBUILD_OVERHEAD) // 2 // (6 * 3 * 64 * 64)
    assert len(decoded) == fits
    # The first ones in the listing's order (name order: a/ first), as the caption says.
    names = sorted(f"{'ab'[i % 2]}/img{i:05d}.png" for i in range(300))
    assert sorted(decoded) == names[:fits]
    # A set that fits is read whole, as before.
    small = memorisation.training_pool(DataConfig(name="folder", path=str(tiny_zip(tmp_path / "small.zip", 20)), image_size=64))
    assert small.images.shape[0] == small.total == 20


def test_the_judge_learns_from_a_sample_across_the_classes_and_says_so(tmp_path, monkeypatch, decoded):
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "20")
    monkeypatch.setattr(judge, "EPOCHS", 1)
    path = tiny_zip(tmp_path / "tiny.zip", 400)
    cfg = DataConfig(name="folder", path=str(path), image_size=32)
    got = judge.load_judge(cfg, tmp_path / "judges")
    assert 0 < len(decoded) < 400
    # A seeded sample across the listing: both class folders, not the first class alone.
    assert {name.split("/")[0] for name in decoded} == {"a", "b"}
    # Real images in half the room the judge's overhead leaves, at 5 bytes a value while read.
    fits = (budget.limit() - budget.JUDGE_OVERHEAD) // 2 // (5 * 3 * 32 * 32)
    assert len(decoded) == fits
    assert got.note == (f"The judge learned from and was checked on {fits:,} of the 400 training images, as many as this server "
                        "reads at 32 px for one request, so its figures are rougher than all of them would give.")
    assert one_sentence(got.note)
    # The cached judge is this sample's: on the default budget the whole set is read and a new judge trained.
    monkeypatch.delenv("GAN_WORKBENCH_MEMORY_BUDGET")
    whole = judge.load_judge(cfg, tmp_path / "judges")
    assert whole.note is None and len(list((tmp_path / "judges").glob("judge-*.safetensors"))) == 2


def test_the_judges_batch_is_sized_from_the_budget(tmp_path, monkeypatch):
    """At 256 px a batch of 128 is over 1 GB of activations: every training step and every
    reading of images now fits the work the budget leaves (and STEP_BYTES)."""
    monkeypatch.setattr(judge, "EPOCHS", 1)
    seen = []
    forward = judge.JudgeNet.forward
    monkeypatch.setattr(judge.JudgeNet, "forward", lambda self, x: seen.append((torch.is_grad_enabled(), len(x))) or forward(self, x))
    path = tiny_zip(tmp_path / "tiny.zip", 24)
    judge.load_judge(DataConfig(name="folder", path=str(path), image_size=256), None)
    assert seen and max(n for grad, n in seen if grad) < 8  # 21 of the 24 were one batch
    per_image = 3 * 256 * 256 * 4
    train = budget.judge_image_peak(3, 256, training=True) + per_image
    most = judge.STEP_BYTES // train
    assert max(n for grad, n in seen if grad) == most  # 3 images a step at 256 px
    assert max(n for grad, n in seen if not grad) <= judge.STEP_BYTES // (budget.judge_image_peak(3, 256, training=False) + per_image)
    # A small image keeps the batch of 128 (and the figures the built-in sets always had).
    assert judge.STEP_BYTES // (budget.judge_image_peak(1, 28, training=True) + 28 * 28 * 4) >= judge.BATCH
    assert judge.STEP_BYTES // (budget.judge_image_peak(3, 32, training=True) + 3 * 32 * 32 * 4) >= judge.BATCH


def test_refusals_name_the_request_and_the_budget_in_one_sentence(tmp_path, monkeypatch):
    # A built-in set is rebuilt within the smaller of MAX_REBUILD_BYTES and the budget per request.
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "20")
    with pytest.raises(DataError, match=r"at 64 px, where its 5,000 28-px images would take 82 MB, more than the 21 MB") as e:
        memorisation.check_rebuild(DataConfig(name="mnist-5k", image_size=64))
    assert one_sentence(str(e.value))
    assert memorisation.rebuild_limit() == 20 * 2**20
    # Its images fit, but not a training step beside them.
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "32")
    with pytest.raises(ConfigError) as e:
        judge.load_judge(DataConfig(name="mnist-5k", image_size=28), None)
    assert str(e.value).startswith("Training a judge for mnist-5k with 5,000 real images of 28 px needs about ")
    assert str(e.value).endswith(", more than this server's 32 MB per request; use a checkpoint trained at a smaller size.")
    assert one_sentence(str(e.value))
    # A folder's image would fit as float32, but not beside the pool's copy in what the budget leaves.
    monkeypatch.setenv("GAN_WORKBENCH_MEMORY_BUDGET", "17")
    memorisation.training_pool.cache_clear()
    with pytest.raises(DataError) as e:
        memorisation.training_pool(DataConfig(name="folder", path=str(tiny_zip(tmp_path / "two.zip", 2)), image_size=1024))
    assert str(e.value) == ("One training image at 1,024 px takes about 18 MB to read, more than this server's 17 MB per request "
                            "leaves for it; use a checkpoint trained at a smaller size.")
    monkeypatch.delenv("GAN_WORKBENCH_MEMORY_BUDGET")
    assert memorisation.rebuild_limit() == memorisation.MAX_REBUILD_BYTES


def test_a_set_read_lazily_gives_the_same_judge_as_in_memory(tmp_path, monkeypatch):
    """Data too large to hold (CelebA, a big folder) is read item by item: only the chosen
    items are decoded, into one copy, and the judge is the same as from tensors."""
    monkeypatch.setattr(judge, "EPOCHS", 1)
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(90, 1, 16, 16, generator=gen) * 2 - 1
    label = torch.arange(90) % 3

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return 90

        def __getitem__(self, i):
            return {"real": real[i], "label": label[i]}

    common = dict(name="t", kind="image", shape=(1, 16, 16), class_names=["0", "1", "2"])
    eager = judge.load_judge(DataConfig(name="mnist-5k", image_size=16), None, GanData(tensors={"real": real, "label": label}, **common))
    lazy = judge.load_judge(DataConfig(name="mnist-5k", image_size=16), None, GanData(dataset=Items(), **common))
    assert lazy.real_accuracy == eager.real_accuracy
    for a, b in zip(lazy.net.state_dict().values(), eager.net.state_dict().values()):
        assert torch.equal(a, b)


PEAK = r"""
import json, os, resource, sys
sys.path.insert(0, sys.argv[1])
from gan_core import judge, memorisation
from gan_core.config import DataConfig
judge.EPOCHS = 2
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# The libraries' first use (oneDNN, PIL) is not the request's: warm them on two images.
judge.load_judge(DataConfig(name="folder", path=sys.argv[3], image_size=64), None)
memorisation.training_pool(DataConfig(name="folder", path=sys.argv[3], image_size=32))
base = peak()
cfg = DataConfig(name="folder", path=sys.argv[2], image_size=64)
pool = memorisation.training_pool(cfg)
after_pool = peak()
j = judge.load_judge(cfg, None)
print(json.dumps({"pool": after_pool - base, "judge": peak() - base, "images": len(pool.images), "note": j.note}))
"""


def test_the_reviewers_requests_fit_the_budget_in_a_fresh_process(tmp_path):
    """The finding's two requests, scaled down: 1,000 tiny PNGs (a 400 KB zip) rebuilt at
    64 px on a 96 MB budget. Before: the pool and the judge decoded all 1,000 (49 MB of
    float32 with its copies) and the judge trained in batches of 128 (about 140 MB more)."""
    big, warm = tiny_zip(tmp_path / "tiny1000.zip", 1000), tiny_zip(tmp_path / "two.zip", 2)
    env = {**os.environ, "GAN_WORKBENCH_MEMORY_BUDGET": "96", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", PEAK, str(ROOT), str(big), str(warm)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["pool"] <= 96 * 2**20 and got["judge"] <= 96 * 2**20, got
    assert got["images"] < 1000 and got["note"] and "of the 1,000 training images" in got["note"]
