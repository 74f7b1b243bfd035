"""A hostile second look at issue 6: what still got through the checked upload door.

Each test is a case that failed before its fix: a traceback instead of a sentence, a
message broken over lines by a visitor's file name, a file accepted that the product
cannot use afterwards, or a page left hanging on a special file in the runs folder.
"""

import errno
import io
import json
import os
import threading
import zipfile

import pytest
from PIL import Image
from safetensors.torch import save as st_save

from gan_core import checkpoints, runs, untrusted, uploads, visitors
from gan_core.data.folder import split_classes
from gan_core.errors import CheckpointError, DataError, GanError
from gan_core.settings import ROOT

SHIPPED_CGAN = ROOT / "checkpoints" / "cgan-mnist.safetensors"


def image_bytes(fmt="PNG", size=(12, 10), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format=fmt)
    return buf.getvalue()


def zip_bytes(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buf.getvalue()


def one_line(message: str) -> bool:
    return not any(c in message for c in "\n\r\u2028\u2029\u202e\x85")


@pytest.fixture(scope="module")
def cgan():
    ckpt = checkpoints.parse(SHIPPED_CGAN.read_bytes(), "cgan")
    meta = {"format": checkpoints.FORMAT, "config": ckpt.config.to_json(), "data": json.dumps(ckpt.data.to_dict()), "step": "1"}
    return ckpt, meta


def with_meta(cgan, *, tensors=None, **data_fields) -> bytes:
    ckpt, meta = cgan
    data = {**ckpt.data.to_dict(), **data_fields}
    return st_save(tensors if tensors is not None else ckpt.tensors, metadata={**meta, "data": json.dumps(data)})


# --------------------------------------------------------------- the runs folder is unusable


def test_upload_into_a_runs_folder_that_is_a_file_is_one_sentence(tmp_path):
    runs_file = tmp_path / "runs"
    runs_file.write_text("not a folder")
    with pytest.raises(DataError, match="cannot be saved"):
        uploads.save_upload(zip_bytes([("a.png", image_bytes())]), runs_file)
    with pytest.raises(CheckpointError, match="cannot be saved"):
        uploads.save_checkpoint_upload(SHIPPED_CGAN.read_bytes(), "c.safetensors", runs_file)


def test_upload_on_a_full_disk_is_one_sentence_and_leaves_nothing(tmp_path, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(uploads, "atomic_write_bytes", full)
    with pytest.raises(DataError, match="No space left on device"):
        uploads.save_upload(zip_bytes([("a.png", image_bytes())]), tmp_path)
    with pytest.raises(CheckpointError, match="No space left on device"):
        uploads.save_checkpoint_upload(SHIPPED_CGAN.read_bytes(), "c.safetensors", tmp_path, "0" * 32)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# ------------------------------------------------------------- names quoted in messages


@pytest.mark.parametrize("name", ["a\n\nb.safetensors", "a\u2028b.safetensors", "\u202egpj.safetensors", "x" * 5000 + ".safetensors"])
def test_checkpoint_file_names_are_quoted_on_one_short_line(name, tmp_path):
    for data in (b"junk", b""):
        with pytest.raises(CheckpointError) as e:
            uploads.save_checkpoint_upload(data, name, tmp_path)
        assert one_line(str(e.value)) and len(str(e.value)) < 300
    with pytest.raises(CheckpointError) as e:
        uploads.save_checkpoint_upload(b"junk", name.replace(".safetensors", ".txt"), tmp_path)
    assert one_line(str(e.value)) and len(str(e.value)) < 300


def test_image_names_with_unicode_line_breaks_are_quoted_on_one_line():
    with pytest.raises(DataError) as e:
        untrusted.read_image(b"junk", "a\u2028b\u202e.png")
    assert one_line(str(e.value))


def test_a_non_finite_tensor_with_a_hostile_name_is_named_on_one_short_line(cgan, tmp_path):
    ckpt, _ = cgan
    key, value = next((k, v) for k, v in ckpt.tensors.items() if v.is_floating_point())  # not a BatchNorm step counter
    bad = value.clone()
    bad.view(-1)[0] = float("nan")
    data = with_meta(cgan, tensors={"generator.\n" + "y" * 100_000: bad})
    with pytest.raises(CheckpointError, match="non-finite") as e:
        uploads.save_checkpoint_upload(data, "c.safetensors", tmp_path)
    assert one_line(str(e.value)) and len(str(e.value)) < 400


# ----------------------------------------------------- only the image formats we advertise


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "TGA", "PCX", "SGI", "DDS", "QOI"])
def test_other_image_formats_under_an_image_name_are_refused(fmt):
    """Pillow can open about 40 formats (EPS through Ghostscript among them); a visitor's
    file reaches only the decoders of the kinds the product names."""
    with pytest.raises(DataError, match="cannot be read"):
        untrusted.read_image(image_bytes(fmt), "x.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_advertised_formats_still_open(fmt):
    assert untrusted.read_image(image_bytes(fmt), "x.png").shape[:2] == (10, 12)


def test_a_zip_of_other_formats_has_no_readable_images(tmp_path):
    with pytest.raises(DataError, match="could be read"):
        uploads.save_upload(zip_bytes([("a.png", image_bytes("PPM")), ("b.png", image_bytes("TGA"))]), tmp_path)


# ------------------------------------- class names: a run's checkpoint must stay loadable


@pytest.mark.parametrize("names, why", [
    (["/x.png", "y.png"], "empty"),  # an absolute member beside a loose one: class ""
    (["a" * 300 + "/x.png", "b/y.png"], "characters"),
    (["a\nb/x.png", "b/y.png"], "line break"),
    ([f"c{i}/x.png" for i in range(1001)], "1,000"),
])
def test_class_folders_a_checkpoint_could_not_hold_are_refused_at_upload(names, why, tmp_path):
    with pytest.raises(DataError, match=why) as e:
        uploads.save_upload(zip_bytes([(n, image_bytes()) for n in names]), tmp_path)
    assert one_line(str(e.value)) and len(str(e.value)) < 400
    assert not list((tmp_path / visitors.UPLOADS).glob("*.zip"))


def test_a_class_folder_named_like_the_loose_images_class_is_refused():
    """It and the loose images both became "(root)": two classes of one name, which
    no checkpoint may hold (and one label that named either)."""
    with pytest.raises(DataError, match="named"):
        split_classes(["(root)/a.png", "b.png", "cats/c.png"])


def test_ordinary_class_folders_still_split():
    labels, names = split_classes(["cats/a.png", "dogs/b.png", "Cats/c.png", "c_1/d.png"])
    assert names == ["Cats", "c_1", "cats", "dogs"] and labels.tolist() == [2, 3, 0, 1]


@pytest.mark.parametrize("class_names", [
    ["0"] * 10,  # the Conditional page could only ever ask for class 0
    ["a\nb"] + [str(i) for i in range(1, 10)],
    ["\u202e"] + [str(i) for i in range(1, 10)],
])
def test_checkpoint_class_names_must_be_distinct_and_printable(cgan, class_names, tmp_path):
    with pytest.raises(CheckpointError, match="damaged") as e:
        uploads.save_conditional_upload(with_meta(cgan, class_names=class_names), "c.safetensors", tmp_path)
    assert one_line(str(e.value))
    assert not list(tmp_path.rglob("*.safetensors"))


@pytest.mark.parametrize("field", ["name", "config"])
def test_checkpoint_data_names_are_bounded(cgan, field, tmp_path):
    """The data name becomes the gallery's menu label: a megabyte of it is refused."""
    ckpt, meta = cgan
    if field == "name":
        data = with_meta(cgan, name="x" * 1_000_000)
    else:
        cfg = json.loads(meta["config"])
        cfg["data"]["name"] = "mnist-5k\n" + "x" * 1_000_000
        data = st_save(ckpt.tensors, metadata={**meta, "config": json.dumps(cfg)})
    with pytest.raises(CheckpointError, match="damaged") as e:
        uploads.save_checkpoint_upload(data, "c.safetensors", tmp_path)
    assert one_line(str(e.value)) and len(str(e.value)) < 400


def test_shipped_checkpoints_still_pass_the_stricter_checks(tmp_path):
    for p in (ROOT / "checkpoints").glob("*.safetensors"):
        assert uploads.save_checkpoint_upload(p.read_bytes(), p.name, tmp_path).is_file()


# ------------------------------------------------- special files in the runs folder


def _finishes(fn, seconds=5):
    result = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"{fn} hung on a FIFO"
    return result[0]


@pytest.mark.parametrize("name", ["status.json", "owner.json", "metrics.jsonl", "config.json"])
def test_a_fifo_in_a_run_never_hangs_a_page(name, tmp_path):
    """A FIFO in place of a run file blocked list_runs, the demo's owner check and the
    upload sweep forever (and every page that lists runs with them)."""
    from gan_core import visitors
    from gan_core.settings import Settings

    run = tmp_path / "20260101-000000-gan-ring-abcd"
    run.mkdir()
    if name != "config.json":
        (run / "config.json").write_text("{}")
    os.mkfifo(run / name)
    demo = Settings(tmp_path, tmp_path, tmp_path, True, 1, None)
    listed = _finishes(lambda: runs.list_runs(tmp_path))
    if name == "status.json":
        assert listed[0].state == "unreadable" and "regular file" in listed[0].error
    _finishes(lambda: visitors.visible_runs(listed, "0" * 32, demo))
    _finishes(lambda: visitors.referenced_uploads(tmp_path))
    assert _finishes(lambda: runs.read_metrics(run)) == ([], 0)


def test_a_huge_status_file_is_unreadable_not_read_whole(tmp_path, monkeypatch):
    run = tmp_path / "r"
    run.mkdir()
    (run / "status.json").write_bytes(b'{"state": "finished", "pad": "' + b"x" * (runs.MAX_RUN_FILE_BYTES + 10) + b'"}')
    status = runs.read_status(run)
    assert status["state"] == "unreadable" and "larger than" in status["error"]


def test_messages_are_gan_errors_not_tracebacks_for_a_runs_dir_below_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(GanError):
        uploads.save_upload(zip_bytes([("a.png", image_bytes())]), tmp_path / "f" / "runs")
