"""Pairs for pix2pix: the reference's aligned A|B files, A/ and B/ folders, zips of
either, pairs derived from any image source, and the shared random crop and flip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data import load_data, paired
from gan_core.data.paired import PairedData, derive, load_size
from gan_core.errors import ConfigError, DataError

RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 200, 30)


def aligned(path: Path, left, right, size=(20, 20)) -> Path:
    """An A|B file: A (``left`` colour) on the left, B on the right, like facades/train/1.jpg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (2 * size[0], size[1]), left)
    img.paste(Image.new("RGB", size, right), (size[0], 0))
    img.save(path)
    return path


def mean_colour(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) uint8 or [-1, 1] -> mean RGB in 0..255."""
    x = x.float()
    if x.min() < 0:
        x = (x + 1) * 127.5
    return x.mean(dim=(1, 2)).numpy()


def load(path, **kw) -> PairedData:
    return load_data(DataConfig(name="paired", path=str(path), image_size=16, **kw))


def test_aligned_folder_with_splits_and_both_directions(tmp_path, user_error):
    for i in range(3):
        aligned(tmp_path / "facades" / "train" / f"{i}.jpg", RED, BLUE)
    aligned(tmp_path / "facades" / "val" / "9.jpg", GREEN, BLUE)
    data = load(tmp_path / "facades")
    assert isinstance(data, PairedData) and len(data) == 3 and data.shape == (3, 16, 16)
    assert data.tensors["source"].shape == (3, 3, load_size(16), load_size(16))  # kept at 1.12x for the random crop
    assert np.allclose(mean_colour(data.tensors["source"][0]), RED, atol=8)
    assert np.allclose(mean_colour(data.tensors["target"][0]), BLUE, atol=8)

    back = load(tmp_path / "facades", direction="BtoA")
    assert np.allclose(mean_colour(back.tensors["source"][0]), BLUE, atol=8)
    assert np.allclose(mean_colour(back.tensors["target"][0]), RED, atol=8)

    val = load(tmp_path / "facades", split="val")
    assert len(val) == 1 and np.allclose(mean_colour(val.tensors["source"][0]), GREEN, atol=8)
    with pytest.raises(DataError) as e:
        load(tmp_path / "facades", split="test")
    user_error(e, "no test/ folder", "--split")


def test_a_flat_folder_is_all_training_pairs(tmp_path, user_error):
    for i in range(2):
        aligned(tmp_path / f"{i}.png", RED, BLUE)
    assert len(load(tmp_path)) == 2
    with pytest.raises(DataError) as e:
        load(tmp_path, split="val")
    user_error(e, "no val/ folder")


def test_two_folders_pair_files_by_name_and_count_the_unmatched(tmp_path):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    for name in ("a", "b", "c"):
        Image.new("RGB", (18, 18), RED).save(tmp_path / "A" / f"{name}.png")
    Image.new("RGB", (18, 18), BLUE).save(tmp_path / "B" / "a.jpg")  # another extension is still a partner
    Image.new("L", (18, 18), 90).save(tmp_path / "B" / "b.png")  # grey beside colour: converted alike
    Image.new("RGB", (18, 18), BLUE).save(tmp_path / "B" / "z.png")  # no partner
    data = load(tmp_path)
    assert len(data) == 2 and data.skipped == 2  # c.png in A/ and z.png in B/
    assert data.tensors["source"].shape[1] == data.tensors["target"].shape[1] == 3
    assert np.allclose(mean_colour(data.tensors["target"][0]), BLUE, atol=8)
    assert np.allclose(mean_colour(data.tensors["target"][1]), (90, 90, 90), atol=2)


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _png(colour, size=(20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def _aligned_bytes(left, right) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (40, 20), left)
    img.paste(Image.new("RGB", (20, 20), right), (20, 0))
    img.save(buf, format="JPEG")
    return buf.getvalue()


def test_zips_of_either_layout(tmp_path):
    z1 = _zip(tmp_path / "aligned.zip", {f"maps/train/{i}.jpg": _aligned_bytes(RED, BLUE) for i in range(3)}
              | {"maps/val/0.jpg": _aligned_bytes(GREEN, BLUE)})
    assert len(load(z1)) == 3 and len(load(z1, split="val")) == 1
    z2 = _zip(tmp_path / "ab.zip", {"A/x.png": _png(RED), "B/x.png": _png(BLUE), "A/y.png": _png(RED), "B/y.png": b"not an image"})
    data = load(z2)
    assert len(data) == 1 and data.skipped == 1  # the pair with a broken half
    assert np.allclose(mean_colour(data.tensors["source"][0]), RED, atol=2)


def test_a_zip_over_the_upload_limits_is_refused_before_unpacking(tmp_path, user_error):
    # 4 MB of zeros stored in a few KB: over the 100:1 compression-ratio limit for images.
    bomb = _zip(tmp_path / "bomb.zip", {"A/x.png": b"\0" * (4 << 20), "B/x.png": _png(BLUE)})
    with pytest.raises(DataError) as e:
        load(bomb)
    user_error(e, "compression-ratio limit")


def test_unreadable_pairs_are_skipped_and_none_readable_is_one_sentence(tmp_path, write_junk, user_error):
    aligned(tmp_path / "ok.png", RED, BLUE)
    write_junk(tmp_path / "broken.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    data = load(tmp_path)
    assert len(data) == 1 and data.skipped == 2
    bad = tmp_path / "bad"
    write_junk(bad / "1.png")
    with pytest.raises(DataError) as e:
        load(bad)
    user_error(e, "could be read")


def test_a_folder_without_pairs_says_which_layouts_work(tmp_path, user_error):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError) as e:
        load(tmp_path)
    user_error(e, "A|B", "A/ and B/")


def test_the_same_random_crop_and_flip_apply_to_both_halves_and_are_seeded_by_batch():
    rng = np.random.default_rng(0)
    size = load_size(16)
    images = torch.from_numpy(rng.integers(0, 256, (8, 3, size, size), dtype=np.uint8))
    data = PairedData("t", "image", (3, 16, 16), tensors={"source": images.clone(), "target": images.clone()}, crop=16, source_channels=3)
    batch = {"source": images, "target": images}
    a = data.jitter(batch, seed=0, index=5)
    assert a["source"].shape == (8, 3, 16, 16) and torch.equal(a["source"], a["target"])  # identical halves stay identical
    assert torch.equal(data.jitter(batch, 0, 5)["source"], a["source"])  # (seed, batch index) decides: resumable
    assert not torch.equal(data.jitter(batch, 0, 6)["source"], a["source"])
    # Each item is one of the (size - 16 + 1)^2 crops of its image, possibly flipped.
    real = images.float() / 127.5 - 1
    for i in range(8):
        hits = [(t, l, f) for t in range(size - 15) for l in range(size - 15) for f in (False, True)
                if torch.equal(a["source"][i], (real[i, :, t : t + 16, l : l + 16].flip(-1) if f else real[i, :, t : t + 16, l : l + 16]))]
        assert hits, i
    flips = [data.jitter(batch, 0, k)["source"] for k in range(6)]
    assert len({tuple(f[0, 0, 0, :3].tolist()) for f in flips}) > 1  # crops differ between batches
    centre = data.center(batch)["source"]
    assert torch.equal(centre, real[:, :, 1:17, 1:17])


@pytest.mark.parametrize("kind", ["edges", "grey", "blur", "mask"])
def test_derived_pairs_use_the_one_derive_function(kind):
    data = load_data(DataConfig(name="photos", pairs=kind, image_size=16, limit=6))
    assert isinstance(data, PairedData) and len(data) == 6 and data.shape == (3, 16, 16)
    assert data.source_channels == (1 if kind in ("edges", "grey") else 3)
    for i in range(6):
        item = data.item(i)
        target = item["target"].permute(1, 2, 0).numpy()
        source = item["source"].permute(1, 2, 0).numpy()
        if kind == "mask":  # the hole's place is the item's own; the rest is the photo
            assert (source == paired.MASK_VALUE).all(axis=2).sum() >= (load_size(16) // 4) ** 2
            assert ((source == target).all(axis=2) | (source == paired.MASK_VALUE).all(axis=2)).all()
        else:
            assert np.array_equal(source, derive(kind, target))
    if kind == "edges":
        values = set(np.unique(data.tensors["source"].numpy()))
        assert values <= {0, 255} and len(values) == 2  # black lines on white


def test_derived_pairs_hold_one_in_ten_out():
    train = load_data(DataConfig(name="faces-lfw", pairs="edges", image_size=16))
    val = load_data(DataConfig(name="faces-lfw", pairs="edges", image_size=16, split="val"))
    assert (len(train), len(val)) == (90, 10)
    everything = torch.cat([train.tensors["target"], val.tensors["target"]]).flatten(1)
    assert len({tuple(r.tolist()) for r in everything}) == 100  # disjoint, and together all of them


def test_photos_hold_out_whole_photographs():
    """Held-out tiles of the training photographs would overlap trained tiles at other
    scales, so ``photos`` holds out three other photographs instead."""
    from gan_core.data.builtin import _HELD_OUT_PHOTOS, _held_out_photos, _photos

    train = load_data(DataConfig(name="photos", pairs="grey", image_size=16))
    val = load_data(DataConfig(name="photos", pairs="grey", image_size=16, split="val"))
    assert len(train) > 100 and len(val) > 20 and "held-out photographs" in val.description
    assert all(name in val.description for name in _HELD_OUT_PHOTOS)
    # None of the held-out photographs is one of the training ones (compared at one small size).
    def thumb(a):
        return np.asarray(Image.fromarray(a).resize((8, 8)), dtype=np.int16)
    for held in _held_out_photos():
        assert all(np.abs(thumb(held) - thumb(t)).mean() > 10 for t in _photos())
    # The training pairs are still the nine in ten of the training photographs' tiles.
    everything = load_data(DataConfig(name="photos", image_size=load_size(16)))
    assert len(train) == len(everything) - len(everything) // 10
    # Their sources are derived as for any pair: grey of the target.
    t, src = val.tensors["target"][0], val.tensors["source"][0]
    assert torch.equal(src, torch.from_numpy(derive("grey", t.permute(1, 2, 0).numpy())).permute(2, 0, 1))


def test_grey_pairs_need_colour_images(user_error):
    with pytest.raises(ConfigError) as e:
        load_data(DataConfig(name="faces-lfw", pairs="grey", image_size=16))
    user_error(e, "faces-lfw", "is grey", "--pairs edges")


def test_derive_works_in_bands_for_large_images(monkeypatch):
    rng = np.random.default_rng(1)
    image = (rng.random((300, 80, 3)) * 255).astype(np.uint8)
    whole = {k: derive(k, image) for k in ("blur", "edges")}
    monkeypatch.setattr(paired, "_BAND_PIXELS", 80 * 70)  # bands of 70 rows
    assert np.array_equal(derive("blur", image), whole["blur"])
    banded = derive("edges", image)
    assert banded.shape == (300, 80, 1) and (banded != whole["edges"]).mean() < 0.01
    assert derive("grey", image).shape == (300, 80, 1)


def test_large_sets_are_read_lazily_with_the_same_items(tmp_path, monkeypatch):
    from gan_core.data import BatchStream, batch_stream, store

    for i in range(4):
        aligned(tmp_path / "pairs" / f"{i}.png", (40 * i, 0, 0), (0, 0, 40 * i))
    eager = load(tmp_path / "pairs")
    monkeypatch.setattr(paired, "EAGER_BYTES", 0)
    lazy = load(tmp_path / "pairs")
    assert lazy.tensors is None and len(lazy) == 4
    for i in range(4):
        assert all(torch.equal(lazy.item(i)[k], eager.tensors[k][i]) for k in ("source", "target"))
    stream = batch_stream(lazy, 2, seed=0, device=torch.device("cpu"))
    assert isinstance(stream, paired.PairedBatchStream) and isinstance(stream, BatchStream)
    batch = stream.next()
    assert batch["source"].shape == (2, 3, 16, 16) and batch["source"].dtype == torch.float32

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 20), (20 * i, 100, 200 - 10 * i)).save(photos / f"{i:02d}.png")
    monkeypatch.setattr(store, "EAGER_LIMIT", 0)
    derived = load_data(DataConfig(name="folder", path=str(photos), image_size=16, pairs="grey"))
    assert derived.tensors is None and len(derived) == 11  # one in ten held out
    item = derived.item(0)
    assert torch.equal(item["source"], torch.from_numpy(derive("grey", item["target"].permute(1, 2, 0).numpy())).permute(2, 0, 1))
