"""What the gallery stands on, with trained checkpoints: gan_core.catalog (listing and
describing checkpoints), gan_core.memorisation (training images and points beside
samples) and gan_core.pictures on real samples (tests/test_pictures.py has the rest)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import tiny
from gan_core import catalog, inference, memorisation, pictures
from gan_core.errors import CheckpointError, DataError
from gan_core.recipes import resolve
from gan_core.runs import create_run, write_status
from gan_core.training import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny finished runs: faces (images) and ring-8 (points)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    out = {}
    for name, cfg in (("faces", tiny("dcgan", "faces-lfw")), ("ring", tiny("gan", "ring-8"))):
        cfg = resolve(cfg)
        run_dir = create_run(cfg, runs_dir)
        train(cfg, run_dir)
        out[name] = run_dir / "checkpoints" / "last.safetensors"
    out["runs_dir"] = runs_dir
    return out


def random_images(n: int, h: int = 8, w: int = 8, c: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


# ------------------------------------------------------------------ nearest neighbours


def test_a_training_image_is_its_own_nearest_neighbour_at_distance_zero():
    pool = random_images(50, c=3)
    nbs = memorisation.nearest_training_images(pool[17], pool, k=4)
    assert nbs[0].index == 17
    assert nbs[0].distance == pytest.approx(0.0, abs=1e-6)
    assert nbs[0].rms == pytest.approx(0.0, abs=1e-6)
    assert np.array_equal(nbs[0].image, pool[17])
    assert len(nbs) == 4


def test_neighbours_are_the_k_smallest_l2_distances_in_order():
    pool = random_images(300, seed=1)
    query = random_images(1, seed=2)[0]
    nbs = memorisation.nearest_training_images(query, pool, k=5)
    brute = np.sqrt((((pool.astype(np.float64) - query) / 255.0) ** 2).reshape(len(pool), -1).sum(axis=1))
    expected = np.argsort(brute, kind="stable")[:5]
    assert [nb.index for nb in nbs] == list(expected)
    assert [nb.distance for nb in nbs] == pytest.approx(list(brute[expected]), rel=1e-5)
    assert nbs[0].rms == pytest.approx(brute[expected[0]] / np.sqrt(query.size), rel=1e-5)
    # a slightly changed copy of a training image is found, near but not at zero
    near = pool[123].astype(np.int16)
    near[0, 0, 0] = 255 - near[0, 0, 0]
    nb = memorisation.nearest_training_images(near.astype(np.uint8), pool, k=1)[0]
    assert nb.index == 123 and 0 < nb.distance <= 1.0


def test_k_larger_than_the_pool_and_grey_images_given_2d():
    pool = random_images(3)
    nbs = memorisation.nearest_training_images(pool[1][..., 0], pool[..., 0], k=10)
    assert [nb.index for nb in nbs][0] == 1 and len(nbs) == 3


def test_a_sample_of_another_size_is_a_one_sentence_data_error():
    with pytest.raises(DataError, match="the data changed since training"):
        memorisation.nearest_training_images(random_images(1, 16, 16)[0], random_images(5, 8, 8))


def test_training_pool_holds_the_checkpoints_training_images(trained):
    gen = inference.load_generator(trained["faces"])
    pool = memorisation.training_pool(gen.config.data)
    assert pool.images.shape == (100, 16, 16, 1) and pool.images.dtype == np.uint8
    assert pool.total == 100 and pool.name == "faces-lfw"
    assert memorisation.training_pool(gen.config.data) is pool  # loaded once
    nb = memorisation.nearest_training_images(pool.images[42], pool.images, k=1)[0]
    assert nb.index == 42 and nb.distance == 0.0
    face = inference.sample(gen, 1, seed=3)[0]
    assert memorisation.nearest_training_images(face, pool.images, k=3)[0].distance > 0


def test_points_data_has_no_training_images_but_has_points(trained):
    gen = inference.load_generator(trained["ring"])
    with pytest.raises(DataError, match="points, not images"):
        memorisation.training_pool(gen.config.data)
    pts = memorisation.training_points(gen.config.data, 100)
    assert pts.shape == (100, 2)
    assert np.abs(np.linalg.norm(pts, axis=1) - 1.0).max() < 0.1  # ring-8: radius 1


# ---------------------------------------------------------------------------- files


def test_grid_equals_inference_sample_grid(trained):
    gen = inference.load_generator(trained["faces"])
    images = inference.sample(gen, 10, seed=5)
    ours = pictures.make_grid(images)
    theirs = inference.sample_grid(gen, 10, seed=5)
    assert ours.shape[:2] == theirs.shape[:2]
    assert np.abs(ours[..., 0].astype(int) - theirs[..., 0].astype(int)).max() <= 1


def test_interpolation_starts_and_ends_at_the_chosen_grid_samples(trained):
    """The page labels the ends of a walk as "sample i of seed s"; check they are."""
    gen = inference.load_generator(trained["faces"])
    n = 36
    frames = inference.interpolate(gen, 3, 4, 7, 20, steps=6, n=n)
    assert frames.shape == (6, 16, 16, 1)
    assert np.abs(frames[0].astype(int) - inference.sample(gen, n, seed=3)[4]).max() <= 1
    assert np.abs(frames[-1].astype(int) - inference.sample(gen, n, seed=7)[20]).max() <= 1
    strip = pictures.strip(frames)
    assert strip.shape == (16 + 4, 6 * 18 + 2, 1)


# ---------------------------------------------------------------------- checkpoints


def test_listing_puts_shipped_faces_first_then_runs_newest_first(trained, tmp_path):
    shipped = tmp_path / "checkpoints"
    shipped.mkdir()
    shutil.copy(trained["ring"], shipped / "gan-ring-8.safetensors")
    shutil.copy(trained["faces"], shipped / "dcgan-faces-lfw.safetensors")
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(shipped / "aaa-other.safetensors"))
    (shipped / "notes.txt").write_text("not a checkpoint")

    entries = catalog.list_checkpoints(shipped, trained["runs_dir"])
    assert [e.path.name for e in entries[:3]] == ["dcgan-faces-lfw.safetensors", "gan-ring-8.safetensors", "aaa-other.safetensors"]
    faces, ring, junk = entries[:3]
    assert faces.shipped and faces.label == "dcgan on faces-lfw, step 2 (demo)"
    assert (faces.kind, faces.shape, faces.step, faces.recipe, faces.data) == ("image", (1, 16, 16), 2, "dcgan", "faces-lfw")
    assert ring.kind == "vector" and ring.shape == (2,)
    assert junk.error and "not made by GAN Workbench" in junk.error and junk.error.count(".") <= 2
    assert "cannot be read" in junk.label
    runs = entries[3:]
    assert len(runs) == 2 and not any(e.shipped for e in runs)
    assert [e.mtime for e in runs] == sorted((e.mtime for e in runs), reverse=True)
    assert all(e.label.startswith(f"{e.recipe} on {e.data} (run 20") for e in runs)  # no step: it moves while a run trains
    assert "shipped demo checkpoint" in faces.summary() and "16\u00d716 grey images" in faces.summary()
    assert catalog.default_checkpoint(entries) == faces


def test_default_without_shipped_faces_is_the_newest_image_run(trained, tmp_path):
    entries = catalog.list_checkpoints(tmp_path / "none", trained["runs_dir"])
    assert catalog.default_checkpoint(entries).data == "faces-lfw"
    assert catalog.list_checkpoints(tmp_path / "none", tmp_path / "no-runs") == []
    assert catalog.default_checkpoint([]) is None


def test_a_running_run_is_marked_and_a_rewritten_file_is_read_again(trained, tmp_path):
    runs_dir = tmp_path / "runs"
    run = runs_dir / "20260101-120000-dcgan-faces-lfw-abcd"
    shutil.copytree(trained["faces"].parent.parent, run)
    write_status(run, state="running", pid=None)
    entry = catalog.list_checkpoints(tmp_path / "none", runs_dir)[0]
    # The menu's label is the same while the run trains and after (a label that moves on loses a
    # visitor's choice at the next click); the summary under the menu says it is training.
    assert entry.training and entry.label == "dcgan on faces-lfw (run 2026-01-01 12:00 abcd)"
    assert "still training" in entry.summary()
    write_status(run, state="stopped", pid=None)
    assert catalog.list_checkpoints(tmp_path / "none", runs_dir)[0].label == entry.label
    ckpt = run / "checkpoints" / "last.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(ckpt))
    again = catalog.describe_checkpoint(ckpt)
    assert again.error is not None and again.step is None


def test_describing_a_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        catalog.describe_checkpoint(tmp_path / "gone.safetensors")
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x02")
    entry = catalog.describe_checkpoint(tmp_path / "short.safetensors", shipped=True)
    assert entry.error and "not a valid .safetensors file" in entry.error


def test_cached_description_follows_the_file(trained, tmp_path):
    path = tmp_path / "c.safetensors"
    shutil.copy(trained["faces"], path)
    assert catalog.describe_checkpoint(path).kind == "image"
    Path(path).unlink()
    shutil.copy(trained["ring"], path)
    os.utime(path, (1, 1))  # a different mtime, as a rewrite would give
    assert catalog.describe_checkpoint(path).kind == "vector"


def test_shipped_translators_of_one_data_set_have_different_menu_labels(tmp_path):
    # Grey -> colour and super-resolution both train on photos: the menu says what each does.
    root = Path(__file__).resolve().parents[1]
    labels = [e.label for e in catalog.list_checkpoints(root / "checkpoints", tmp_path) if e.recipe == "pix2pix"]
    assert len(labels) == len(set(labels)) >= 3, labels
    assert any("grey into colour" in label for label in labels)
    assert any("enlarged 4x" in label for label in labels)
