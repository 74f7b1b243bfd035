import io
import pickle
import zipfile

import pytest
import torch
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data import BatchStream, folder, load_data, store
from gan_core.errors import DataError

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def load(path, **kw):
    return load_data(DataConfig(name="folder", path=str(path), **kw))


def image_bytes(colour, size=(12, 10), mode="RGB", fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def classes_dir(tmp_path, write_image, write_junk):
    """cats/: 2 red PNGs + 1 corrupt jpg; dogs/: 2 blue JPEGs, plus files that must be ignored."""
    root = tmp_path / "pets"
    write_image(root / "cats" / "a.png", RED)
    write_image(root / "cats" / "B.PNG", RED)  # extensions are case-insensitive
    write_junk(root / "cats" / "bad.jpg")
    write_image(root / "dogs" / "c.jpg", BLUE)
    write_image(root / "dogs" / "deep" / "d.jpeg", BLUE)  # deeper folders belong to their class
    write_image(root / ".thumbs" / "x.png", WHITE)  # hidden folder
    write_image(root / "dogs" / ".hidden.png", WHITE)  # hidden file
    write_image(root / "__MACOSX" / "dogs" / "._c.png", WHITE)
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_with_classes(classes_dir):
    data = load(classes_dir, image_size=16)
    assert data.tensors is not None and len(data) == 4
    assert data.skipped == 1
    assert data.class_names == ["cats", "dogs"]
    real, label = data.tensors["real"], data.tensors["label"]
    assert data.shape == (3, 16, 16) and real.shape == (4, 3, 16, 16) and real.dtype == torch.float32
    assert label.dtype == torch.int64 and label.tolist() == [0, 0, 1, 1]
    # Cats are the red images, dogs the blue ones (JPEG: allow compression error).
    assert torch.allclose(real[label == 0].mean(dim=(0, 2, 3)), torch.tensor([1.0, -1.0, -1.0]), atol=0.02)
    assert torch.allclose(real[label == 1].mean(dim=(0, 2, 3)), torch.tensor([-1.0, -1.0, 1.0]), atol=0.05)


def test_folder_channels_override(classes_dir):
    data = load(classes_dir, image_size=8, channels=1)
    assert data.shape == (1, 8, 8) and data.tensors["real"].shape == (4, 1, 8, 8)


def test_root_only_grey_folder_is_unlabelled(tmp_path, write_image):
    for i in range(3):
        write_image(tmp_path / f"{i}.png", 40 * i, mode="L")
    data = load(tmp_path, image_size=8)
    assert len(data) == 3 and data.shape == (1, 8, 8)
    assert "label" not in data.tensors and data.class_names is None
    assert data.tensors["real"][:, 0, 0, 0].tolist() == pytest.approx([-1.0, 40 / 127.5 - 1, 80 / 127.5 - 1])


def test_one_colour_image_makes_the_folder_colour(tmp_path, write_image):
    write_image(tmp_path / "grey.png", 128, mode="L")
    write_image(tmp_path / "red.png", RED)
    data = load(tmp_path, image_size=8)
    real = data.tensors["real"]
    assert data.shape == (3, 8, 8)
    assert torch.equal(real[0, 0], real[0, 2])  # the grey image, copied to three channels


def test_loose_root_images_next_to_class_folders_form_a_last_class(tmp_path, write_image):
    write_image(tmp_path / "zebra" / "z.png", WHITE)
    write_image(tmp_path / "apple" / "a.png", RED)
    write_image(tmp_path / "loose.png", BLUE)
    data = load(tmp_path, image_size=8)
    assert data.class_names == ["apple", "zebra", folder.ROOT_CLASS]
    assert data.tensors["label"].tolist() == [0, 2, 1]  # files sorted: apple/a, loose, zebra/z


def test_resize_short_side_then_centre_crop(tmp_path):
    # 60x20: black | white | black thirds. Short side -> 32 makes it 96x32; the centre 32x32 is all white.
    img = Image.new("L", (60, 20), 0)
    img.paste(255, (20, 0, 40, 20))
    img.save(tmp_path / "bands.png")
    real = load(tmp_path, image_size=32).tensors["real"]
    assert real.shape == (1, 1, 32, 32)
    assert real[0, 0, :, 2:30].min() > 0.95


def test_alpha_is_composited_on_white(tmp_path, write_image):
    write_image(tmp_path / "clear.png", (255, 0, 0, 0), mode="RGBA")  # fully transparent red
    real = load(tmp_path, image_size=8).tensors["real"]
    assert torch.allclose(real, torch.ones_like(real))


def test_sixteen_bit_images_are_scaled(tmp_path):
    Image.new("I;16", (8, 8), 65535).save(tmp_path / "white16.png")
    real = load(tmp_path, image_size=8).tensors["real"]
    assert torch.allclose(real, torch.ones_like(real))


def zip_of(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_with_class_folders_inside_a_wrapping_folder(tmp_path):
    z = zip_of(
        tmp_path / "pets.zip",
        {
            "pets/cats/a.png": image_bytes(RED),
            "pets/cats/bad.jpg": b"definitely not a jpeg",
            "pets/dogs/b.jpg": image_bytes(BLUE, fmt="JPEG"),
            "pets/dogs/c.png": image_bytes(BLUE),
            "__MACOSX/pets/cats/._a.png": b"resource fork",
            "pets/readme.txt": b"hello",
        },
    )
    data = load(z, image_size=8)
    assert len(data) == 3 and data.skipped == 1
    assert data.class_names == ["cats", "dogs"]
    assert data.tensors["label"].tolist() == [0, 1, 1]
    assert data.shape == (3, 8, 8)


def test_zip_of_loose_images(tmp_path):
    z = zip_of(tmp_path / "faces.zip", {"x.png": image_bytes(90, mode="L"), "y.png": image_bytes(200, mode="L")})
    data = load(z, image_size=8)
    assert len(data) == 2 and data.shape == (1, 8, 8) and "label" not in data.tensors
    assert data.tensors["real"][1].mean().item() == pytest.approx(200 / 127.5 - 1, abs=1e-5)


def test_zip_without_images(tmp_path, user_error):
    z = zip_of(tmp_path / "docs.zip", {"a.txt": b"x", "b/c.csv": b"1,2"})
    with pytest.raises(DataError) as e:
        load(z)
    msg = user_error(e, z)
    assert "contains no images" in msg and "png" in msg


def test_file_named_zip_that_is_not_a_zip(tmp_path, user_error):
    z = tmp_path / "x.zip"
    z.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(DataError) as e:
        load(z)
    assert "not a valid zip" in user_error(e, z)


def test_path_that_is_neither_folder_nor_zip(tmp_path, user_error):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(DataError) as e:
        load(f)
    assert "neither a folder nor a .zip" in user_error(e, f)


def test_missing_folder(tmp_path, user_error):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as e:
        load(missing)
    assert "does not exist" in user_error(e, missing, "--data-path")


def test_folder_without_images(tmp_path, user_error):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "contains no images" in user_error(e, tmp_path)


def test_folder_where_every_image_is_unreadable(tmp_path, write_junk, user_error):
    write_junk(tmp_path / "a.jpg")
    write_junk(tmp_path / "b.png")
    with pytest.raises(DataError) as e:
        load(tmp_path)
    assert "None of the 2 image files" in user_error(e, tmp_path)


# ----------------------------------------------------------------------------- lazy


def truncated_png(colour) -> bytes:
    """A PNG whose header is valid but whose pixel data is cut off: passes the scan, fails to decode."""
    img = Image.new("RGB", (64, 64))
    img.putdata([(colour[0], (i * 7) % 256, (i * 13) % 256) for i in range(64 * 64)])  # incompressible-ish
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


@pytest.fixture
def lazy(monkeypatch):
    monkeypatch.setattr(store, "EAGER_LIMIT", 2)


def test_large_folder_is_lazy(lazy, classes_dir):
    (classes_dir / "dogs" / "e.png").write_bytes(truncated_png(BLUE))
    data = load(classes_dir, image_size=8)
    assert data.tensors is None and isinstance(data.dataset, folder.ImageFileDataset)
    assert len(data) == 5  # the truncated PNG passes the header scan ...
    assert data.skipped == 1  # ... the random-bytes bad.jpg does not
    assert data.class_names == ["cats", "dogs"] and data.shape == (3, 8, 8)
    items = [data.item(i) for i in range(len(data))]
    assert [int(it["label"]) for it in items[:4]] == [0, 0, 1, 1]
    assert all(it["real"].shape == (3, 8, 8) and it["real"].dtype == torch.float32 for it in items)
    # files: cats/B.PNG, cats/a.png, dogs/c.jpg, dogs/deep/d.jpeg, dogs/e.png; e.png fails -> next readable (wraps to B.PNG).
    assert data.dataset.names[4] == "dogs/e.png"
    assert torch.equal(items[4]["real"], items[0]["real"]) and int(items[4]["label"]) == 0


def test_lazy_folder_matches_eager_decoding(monkeypatch, classes_dir):
    eager_data = load(classes_dir, image_size=8)
    monkeypatch.setattr(store, "EAGER_LIMIT", 2)
    lazy_data = load(classes_dir, image_size=8)
    assert lazy_data.dataset is not None
    assert eager_data.tensors is not None
    stacked = torch.stack([lazy_data.item(i)["real"] for i in range(len(lazy_data))])
    assert torch.equal(stacked, eager_data.tensors["real"])


def test_limit_on_a_lazy_folder(lazy, classes_dir):
    data = load(classes_dir, image_size=8, limit=3)
    assert data.dataset is not None and len(data) == 3
    assert int(data.item(2)["label"]) == 1


def test_lazy_zip_survives_pickling_and_worker_processes(lazy, tmp_path):
    z = zip_of(tmp_path / "cols.zip", {f"{i}.png": image_bytes((i * 40, 0, 0)) for i in range(5)})
    data = load(z, image_size=4)
    assert data.dataset is not None and len(data) == 5
    clone = pickle.loads(pickle.dumps(data.dataset))
    assert torch.equal(clone[3]["real"], data.item(3)["real"])
    stream = BatchStream(data, batch_size=5, seed=0, device=torch.device("cpu"), workers=1)
    reds = sorted(round((v + 1) * 127.5) for v in stream.next()["real"][:, 0, 0, 0].tolist())
    assert reds == [0, 40, 80, 120, 160]


# ----------------------------------------------------------------------------- CelebA

ATTRS = [
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses",
    "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young",
]  # fmt: skip


def attr_row(i: int) -> list[int]:
    return [1 if (i + j) % 3 == 0 else -1 for j in range(40)]


@pytest.fixture
def celeba_root(tmp_path, write_image):
    """torchvision's layout: 4 jpgs on disk, 5 listed in the attribute file (000005.jpg is missing)."""
    base = tmp_path / "celeba"
    for i in range(1, 5):
        write_image(base / "img_align_celeba" / f"{i:06d}.jpg", (60 * i, 100, 50), size=(178, 218))
    lines = ["5", " ".join(ATTRS)]
    lines += [f"{i:06d}.jpg " + " ".join(f"{v:2d}" for v in attr_row(i)) for i in range(1, 6)]
    (base / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def expected_attrs(n=4):
    return (torch.tensor([attr_row(i) for i in range(1, n + 1)]) > 0).float()


@pytest.mark.parametrize("inner", [False, True])
def test_celeba(celeba_root, inner):
    path = celeba_root / "celeba" if inner else celeba_root
    data = load_data(DataConfig(name="celeba", path=str(path), image_size=16))
    assert len(data) == 4 and data.skipped == 1
    assert data.attr_names == ATTRS
    attrs = data.tensors["attrs"]
    assert attrs.shape == (4, 40) and attrs.dtype == torch.float32
    assert set(attrs.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(attrs, expected_attrs())
    assert data.shape == (3, 16, 16) and data.tensors["real"].shape == (4, 3, 16, 16)


def test_celeba_lazy(lazy, celeba_root):
    data = load_data(DataConfig(name="celeba", path=str(celeba_root), image_size=16))
    assert data.dataset is not None and len(data) == 4 and data.skipped == 1
    item = data.item(2)
    assert torch.equal(item["attrs"], expected_attrs()[2])
    assert item["real"].shape == (3, 16, 16)


def test_celeba_malformed_attribute_line(celeba_root, user_error):
    attr_file = celeba_root / "celeba" / "list_attr_celeba.txt"
    lines = attr_file.read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0] + " 2"  # a value that is neither 1 nor -1
    attr_file.write_text("\n".join(lines))
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="celeba", path=str(celeba_root)))
    assert "Line 4" in user_error(e, attr_file)


def test_celeba_missing_attribute_file(celeba_root, user_error):
    (celeba_root / "celeba" / "list_attr_celeba.txt").unlink()
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="celeba", path=str(celeba_root)))
    user_error(e, "list_attr_celeba.txt", celeba_root)


def test_celeba_missing_image_folder(celeba_root, user_error):
    image_dir = celeba_root / "celeba" / "img_align_celeba"
    for f in image_dir.iterdir():
        f.unlink()
    image_dir.rmdir()
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="celeba", path=str(celeba_root)))
    user_error(e, image_dir)


def test_celeba_missing_root(tmp_path, user_error):
    with pytest.raises(DataError) as e:
        load_data(DataConfig(name="celeba", path=str(tmp_path / "nope")))
    user_error(e, tmp_path / "nope")
