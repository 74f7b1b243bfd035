"""gan_core.gallery: checkpoint listing, nearest training images, and the files
the gallery hands out (grid, zip of samples, interpolation GIF)."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import save_file

from conftest import tiny
from gan_core import gallery, inference
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
    nbs = gallery.nearest_training_images(pool[17], pool, k=4)
    assert nbs[0].index == 17
    assert nbs[0].distance == pytest.approx(0.0, abs=1e-6)
    assert nbs[0].rms == pytest.approx(0.0, abs=1e-6)
    assert np.array_equal(nbs[0].image, pool[17])
    assert len(nbs) == 4


def test_neighbours_are_the_k_smallest_l2_distances_in_order():
    pool = random_images(300, seed=1)
    query = random_images(1, seed=2)[0]
    nbs = gallery.nearest_training_images(query, pool, k=5)
    brute = np.sqrt((((pool.astype(np.float64) - query) / 255.0) ** 2).reshape(len(pool), -1).sum(axis=1))
    expected = np.argsort(brute, kind="stable")[:5]
    assert [nb.index for nb in nbs] == list(expected)
    assert [nb.distance for nb in nbs] == pytest.approx(list(brute[expected]), rel=1e-5)
    assert nbs[0].rms == pytest.approx(brute[expected[0]] / np.sqrt(query.size), rel=1e-5)
    # a slightly changed copy of a training image is found, near but not at zero
    near = pool[123].astype(np.int16)
    near[0, 0, 0] = 255 - near[0, 0, 0]
    nb = gallery.nearest_training_images(near.astype(np.uint8), pool, k=1)[0]
    assert nb.index == 123 and 0 < nb.distance <= 1.0


def test_k_larger_than_the_pool_and_grey_images_given_2d():
    pool = random_images(3)
    nbs = gallery.nearest_training_images(pool[1][..., 0], pool[..., 0], k=10)
    assert [nb.index for nb in nbs][0] == 1 and len(nbs) == 3


def test_a_sample_of_another_size_is_a_one_sentence_data_error():
    with pytest.raises(DataError, match="the data changed since training"):
        gallery.nearest_training_images(random_images(1, 16, 16)[0], random_images(5, 8, 8))


def test_training_pool_holds_the_checkpoints_training_images(trained):
    gen = inference.load_generator(trained["faces"])
    pool = gallery.training_pool(gen.config.data)
    assert pool.images.shape == (100, 16, 16, 1) and pool.images.dtype == np.uint8
    assert pool.total == 100 and pool.name == "faces-lfw"
    assert gallery.training_pool(gen.config.data) is pool  # loaded once
    nb = gallery.nearest_training_images(pool.images[42], pool.images, k=1)[0]
    assert nb.index == 42 and nb.distance == 0.0
    face = inference.sample(gen, 1, seed=3)[0]
    assert gallery.nearest_training_images(face, pool.images, k=3)[0].distance > 0


def test_points_data_has_no_training_images_but_has_points(trained):
    gen = inference.load_generator(trained["ring"])
    with pytest.raises(DataError, match="points, not images"):
        gallery.training_pool(gen.config.data)
    pts = gallery.training_points(gen.config.data, 100)
    assert pts.shape == (100, 2)
    assert np.abs(np.linalg.norm(pts, axis=1) - 1.0).max() < 0.1  # ring-8: radius 1


# ---------------------------------------------------------------------------- files


def test_gif_decodes_with_the_right_number_of_frames_and_size():
    frames = random_images(5, 8, 8, 1)
    gif = gallery.gif_bytes(frames, scale=4, bounce=True)
    img = Image.open(io.BytesIO(gif))
    assert img.format == "GIF" and img.size == (32, 32)
    assert img.n_frames == 8  # 0 1 2 3 4 3 2 1, then it loops
    assert img.info.get("loop") == 0
    img.seek(4)
    assert np.array_equal(np.asarray(img.convert("L"))[::4, ::4], frames[4][..., 0])

    colour = gallery.gif_bytes(random_images(6, 8, 8, 3), scale=2, bounce=False)
    img = Image.open(io.BytesIO(colour))
    assert img.n_frames == 6 and img.size == (16, 16)


def test_zip_holds_one_png_per_sample_numbered_from_one():
    images = random_images(12, 8, 8, 3)
    with zipfile.ZipFile(io.BytesIO(gallery.samples_zip(images, "faces"))) as z:
        names = z.namelist()
        assert names == [f"faces_{i:03d}.png" for i in range(1, 13)]
        for i, name in enumerate(names):
            png = Image.open(io.BytesIO(z.read(name)))
            assert png.format == "PNG" and np.array_equal(np.asarray(png), images[i])
    grey = random_images(3)
    with zipfile.ZipFile(io.BytesIO(gallery.samples_zip(grey))) as z:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(z.read("sample_001.png")))), grey[0][..., 0])


def test_grid_layout_matches_the_engines_grid_and_its_cells():
    images = random_images(7, 8, 8, 3)
    grid = gallery.make_grid(images)
    assert grid.shape == (3 * 10 + 2, 3 * 10 + 2, 3)  # 3 x 3 cells of 8 px, 2 px padding
    for i, (x0, y0, x1, y1) in enumerate(gallery.grid_cells(7, (8, 8))):
        assert np.array_equal(grid[y0:y1, x0:x1], images[i])
    assert (grid[:2] == 255).all()


def test_grid_equals_inference_sample_grid(trained):
    gen = inference.load_generator(trained["faces"])
    images = inference.sample(gen, 10, seed=5)
    ours = gallery.make_grid(images)
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
    strip = gallery.strip(frames)
    assert strip.shape == (16 + 4, 6 * 18 + 2, 1)


def test_upscale_is_crisp_by_default_and_smooth_on_request():
    img = random_images(1, 4, 5, 1)[0]
    big = gallery.upscale(img, 3)
    assert big.shape == (12, 15)
    assert np.array_equal(big[::3, ::3], img[..., 0]) and np.array_equal(big[2::3, 2::3], img[..., 0])
    assert gallery.upscale(random_images(1, 4, 4, 3)[0], 2, smooth=True).shape == (8, 8, 3)
    assert gallery.upscale(img, 1).shape == (4, 5)


# ---------------------------------------------------------------------- checkpoints


def test_listing_puts_shipped_faces_first_then_runs_newest_first(trained, tmp_path):
    shipped = tmp_path / "checkpoints"
    shipped.mkdir()
    shutil.copy(trained["ring"], shipped / "gan-ring-8.safetensors")
    shutil.copy(trained["faces"], shipped / "dcgan-faces-lfw.safetensors")
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(shipped / "aaa-other.safetensors"))
    (shipped / "notes.txt").write_text("not a checkpoint")

    entries = gallery.list_checkpoints(shipped, trained["runs_dir"])
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
    assert all(e.label.startswith(f"{e.recipe} on {e.data}, step 2 (run 20") for e in runs)
    assert "shipped demo checkpoint" in faces.summary() and "16\u00d716 grey images" in faces.summary()
    assert gallery.default_checkpoint(entries) == faces


def test_default_without_shipped_faces_is_the_newest_image_run(trained, tmp_path):
    entries = gallery.list_checkpoints(tmp_path / "none", trained["runs_dir"])
    assert gallery.default_checkpoint(entries).data == "faces-lfw"
    assert gallery.list_checkpoints(tmp_path / "none", tmp_path / "no-runs") == []
    assert gallery.default_checkpoint([]) is None


def test_a_running_run_is_marked_and_a_rewritten_file_is_read_again(trained, tmp_path):
    runs_dir = tmp_path / "runs"
    run = runs_dir / "20260101-120000-dcgan-faces-lfw-abcd"
    shutil.copytree(trained["faces"].parent.parent, run)
    write_status(run, state="running", pid=None)
    entry = gallery.list_checkpoints(tmp_path / "none", runs_dir)[0]
    assert entry.training and entry.label == "dcgan on faces-lfw, step 2 (run 2026-01-01 12:00 abcd) (training)"
    ckpt = run / "checkpoints" / "last.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(ckpt))
    again = gallery.describe_checkpoint(ckpt)
    assert again.error is not None and again.step is None


def test_describing_a_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        gallery.describe_checkpoint(tmp_path / "gone.safetensors")
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x02")
    entry = gallery.describe_checkpoint(tmp_path / "short.safetensors", shipped=True)
    assert entry.error and "not a valid .safetensors file" in entry.error


def test_cached_description_follows_the_file(trained, tmp_path):
    path = tmp_path / "c.safetensors"
    shutil.copy(trained["faces"], path)
    assert gallery.describe_checkpoint(path).kind == "image"
    Path(path).unlink()
    shutil.copy(trained["ring"], path)
    os.utime(path, (1, 1))  # a different mtime, as a rewrite would give
    assert gallery.describe_checkpoint(path).kind == "vector"
