"""Uploads and data folders stay cheap and safe whatever a visitor sends (issue 6).

Each hostile case here cost minutes and gigabytes, hung, or read the wrong data before
the limits in gan_core.untrusted: the tests check both the refusal (one sentence naming
the limit) and that it came before the expensive part.
"""

import io
import os
import struct
import threading
import time
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

import gan_core.data  # noqa: F401 - imports torch now, so that the timings below measure only the checks
from gan_core import untrusted, uploads, visitors
from gan_core.config import DataConfig
from gan_core.data import load_data, store
from gan_core.errors import DataError

MiB = 2**20
RED, BLUE = (255, 0, 0), (0, 0, 255)


def image_bytes(size=(12, 10), colour=RED, mode="RGB", fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header (with a valid CRC) declares width x height pixels."""
    data = bytearray(image_bytes((4, 4)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def zip_bytes(members) -> bytes:
    """members: (name, bytes) pairs; names may repeat."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name, which is the point
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return buf.getvalue()


def zeros_zip(name: str, size: int) -> bytes:
    """A valid zip whose one member inflates to ``size`` zero bytes, built without ever
    holding or deflating them: one deflated MiB, cut with a full flush so that copies of
    it can follow each other, repeated, then an empty final block."""
    assert size % MiB == 0
    piece = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = piece.compress(bytes(MiB)) + piece.flush(zlib.Z_FULL_FLUSH)
    payload = piece * (size // MiB) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(bytes(MiB), crc)
    n = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(payload), size, len(n), 0) + n
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(payload), size, len(n),
                          0, 0, 0, 0, 0, 0) + n
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(payload), 0)
    return local + payload + central + end


def one_sentence(excinfo, *mentions) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and "Traceback" not in message, message
    assert message.endswith("."), message
    for m in mentions:
        assert m in message, f"{m!r} not in {message!r}"
    return message


def kept(runs_dir) -> list:
    return [p for p in (runs_dir / visitors.UPLOADS).rglob("*") if p.is_file()] if (runs_dir / visitors.UPLOADS).exists() else []


def load(path, **kw):
    return load_data(DataConfig(name="folder", path=str(path), image_size=8, **kw))


@pytest.fixture(scope="module")
def tall_png() -> bytes:
    """The finding: 9.8 KB of PNG, 1 x 5,000,000 pixels (59 s and 5.2 GB to check before)."""
    buf = io.BytesIO()
    Image.new("L", (1, 5_000_000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 20_000
    return buf.getvalue()


@pytest.fixture(scope="module")
def many_entries() -> bytes:
    """The finding: a zip of 30,001 empty entries (15 s to check before)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(30_001):
            archive.writestr(f"{i}.png", b"")
    return buf.getvalue()


# ----------------------------------------------------------------------------- pixels and aspect ratio


def test_tall_png_is_refused_by_read_image_from_its_header(tall_png):
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        untrusted.read_image(tall_png, "tall.png")
    assert time.perf_counter() - start < 2
    one_sentence(e, "tall.png", "1 x 5,000,000 pixels", f"{untrusted.MAX_ASPECT}:1 aspect-ratio limit")


def test_tall_png_in_an_upload_is_refused_fast_naming_the_limit(tall_png, tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        uploads.save_upload(zip_bytes([("photos/tall.png", tall_png)]), tmp_path)
    assert time.perf_counter() - start < 2
    one_sentence(e, "the uploaded zip", "1 x 5,000,000 pixels", "aspect-ratio limit")
    assert kept(tmp_path) == []


def test_tall_png_beside_good_images_is_skipped_and_counted(tall_png, tmp_path):
    (tmp_path / "tall.png").write_bytes(tall_png)
    (tmp_path / "good.png").write_bytes(image_bytes())
    start = time.perf_counter()
    data = load(tmp_path)
    assert time.perf_counter() - start < 2
    assert len(data) == 1 and data.skipped == 1
    saved = uploads.save_upload(zip_bytes([("tall.png", tall_png), ("good.png", image_bytes())]), tmp_path / "runs")
    assert (saved.images, saved.skipped) == (1, 1)


def test_too_many_pixels_are_refused_before_decoding():
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        untrusted.read_image(png_declaring(10_000, 6_000), "big.png")  # 60 MP, if it were decoded
    assert time.perf_counter() - start < 2
    one_sentence(e, "10,000 x 6,000 pixels", f"{untrusted.MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit")


def test_ordinary_photos_are_within_the_limits():
    untrusted.check_image_size(8000, 6000)  # a 48-megapixel phone photo
    untrusted.check_image_size(8160, 6120)  # 50 MP
    untrusted.check_image_size(12_000, 1_500)  # a panorama
    photo = untrusted.read_image(image_bytes((1024, 768), fmt="JPEG"), "photo.jpg")
    assert photo.shape == (768, 1024, 3) and photo.dtype == np.uint8


def test_an_image_file_too_large_is_refused_before_it_is_opened(monkeypatch):
    monkeypatch.setattr(untrusted, "MAX_IMAGE_BYTES", 1000)
    with pytest.raises(DataError) as e:
        untrusted.read_image(image_bytes((200, 200), mode="L", colour=0, fmt="BMP"), "huge.bmp")
    one_sentence(e, "huge.bmp", "1000 bytes limit")


# ----------------------------------------------------------------------------- read_image, the single-image door


def test_read_image_channels_alpha_and_orientation():
    grey = untrusted.read_image(image_bytes((5, 3), 7, mode="L"), "g.png")
    assert grey.shape == (3, 5, 1) and (grey == 7).all()
    clear = untrusted.read_image(image_bytes((5, 3), (255, 0, 0, 0), mode="RGBA"), "clear.png")
    assert clear.shape == (3, 5, 3) and (clear == 255).all()  # transparent pixels come out white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view", as phones write it
    img = Image.new("RGB", (40, 20), BLUE)
    img.paste(RED, (0, 0, 10, 20))  # red on the left, so red on top once rotated
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    photo = untrusted.read_image(buf.getvalue(), "phone.jpg")
    assert photo.shape == (40, 20, 3) and photo.flags.writeable
    assert photo[:5].mean(axis=(0, 1))[0] > 200 and photo[-5:].mean(axis=(0, 1))[2] > 200


@pytest.mark.parametrize("data", [b"", b"not an image at all", image_bytes((64, 64), fmt="JPEG")[:300]])
def test_read_image_refuses_what_it_cannot_read_in_one_sentence(data):
    with pytest.raises(DataError) as e:
        untrusted.read_image(data, "bad\nname.jpg")  # a newline in a visitor's file name stays out of the message
    one_sentence(e, "bad?name.jpg")


# ----------------------------------------------------------------------------- zips


def test_zip_bomb_member_is_refused_without_decompressing_it(tmp_path, monkeypatch):
    small = zeros_zip("small.png", 4 * MiB)  # the same construction, small enough to check that it is a real zip
    with zipfile.ZipFile(io.BytesIO(small)) as archive:
        assert archive.read("small.png") == bytes(4 * MiB)  # inflates, and passes its CRC check
    bomb = zeros_zip("bomb.png", 1024 * MiB)  # the finding: about 1 MiB holding a 1 GiB member
    assert len(bomb) < 1.1 * MiB
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a) or real_open(self, *a, **k))
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        uploads.save_upload(bomb, tmp_path)
    assert time.perf_counter() - start < 2
    one_sentence(e, "bomb.png", "1 GB", "150 MB limit per file")
    assert opened == [] and kept(tmp_path) == []
    (tmp_path / "bomb.zip").write_bytes(bomb)  # as a run's data source too
    with pytest.raises(DataError) as e:
        load(tmp_path / "bomb.zip")
    one_sentence(e, "limit per file")
    assert opened == []


def test_member_that_compresses_too_well_is_refused(tmp_path):
    with pytest.raises(DataError) as e:
        uploads.save_upload(zip_bytes([("flat.bmp", bytes(20 * MiB)), ("ok.png", image_bytes())]), tmp_path)
    one_sentence(e, "flat.bmp", f"{untrusted.MAX_COMPRESSION_RATIO}:1 compression-ratio limit")
    assert kept(tmp_path) == []


def test_members_that_unpack_too_much_in_total_are_refused():
    members = []
    for i in range(8):  # each within the per-file and ratio limits; together over 1 GiB
        m = zipfile.ZipInfo(f"{i}.tif")
        m.file_size, m.compress_size = 140 * MiB, 100 * MiB
        members.append(m)
    with pytest.raises(DataError) as e:
        untrusted.check_zip_members(members)
    one_sentence(e, "1 GB limit in total")
    untrusted.check_zip_members(members[:7])


def test_30001_entries_are_refused_quickly(many_entries, tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        uploads.save_upload(many_entries, tmp_path)
    assert time.perf_counter() - start < 2
    one_sentence(e, "30,001 entries", f"{untrusted.MAX_ZIP_ENTRIES:,}-entry limit")
    assert kept(tmp_path) == []
    (tmp_path / "many.zip").write_bytes(many_entries)  # as a run's data source too
    with pytest.raises(DataError) as e:
        load(tmp_path / "many.zip")
    one_sentence(e, "entry limit")


def test_an_end_record_that_understates_the_entries_does_not_help(many_entries, tmp_path, monkeypatch):
    lying = bytearray(many_entries)
    end = lying.rindex(b"PK\x05\x06")
    lying[end + 8 : end + 12] = struct.pack("<HH", 1, 1)  # "1 entry"
    with pytest.raises(DataError) as e:  # zipfile parses all 30,001 anyway, then they are counted
        uploads.save_upload(bytes(lying), tmp_path)
    one_sentence(e, "30,001 entries")
    monkeypatch.setattr(untrusted, "MAX_ZIP_DIRECTORY_BYTES", 100_000)
    with pytest.raises(DataError) as e:  # and a directory too large is refused before zipfile parses it
        uploads.save_upload(bytes(lying), tmp_path)
    one_sentence(e, "table of contents", "limit")


def test_an_upload_over_the_size_limit_is_refused_and_not_kept(tmp_path, monkeypatch):
    good = zip_bytes([("a.png", image_bytes()), ("b.png", image_bytes(colour=BLUE))])
    monkeypatch.setattr(untrusted, "MAX_UPLOAD_BYTES", len(good) - 1)
    with pytest.raises(DataError) as e:
        uploads.save_upload(good, tmp_path)
    one_sentence(e, "upload limit")
    assert kept(tmp_path) == []


def test_duplicate_member_names_are_each_read(tmp_path):
    # zipfile.open(name) returns the last member of that name: the red image was lost to the junk one.
    members = [("a.png", image_bytes(colour=RED)), ("a.png", image_bytes(colour=BLUE)), ("a.png", b"junk " * 50)]
    (tmp_path / "dupes.zip").write_bytes(zip_bytes(members))
    data = load(tmp_path / "dupes.zip")
    assert len(data) == 2 and data.skipped == 1
    means = sorted(data.tensors["real"].mean(dim=(2, 3)).round().tolist())
    assert means == [[-1.0, -1.0, 1.0], [1.0, -1.0, -1.0]]  # one blue, one red
    saved = uploads.save_upload(zip_bytes(members), tmp_path / "runs")
    assert (saved.images, saved.skipped) == (2, 1)


# ----------------------------------------------------------------------------- data folders


def run_with_timeout(fn, seconds: float, unblock):
    """fn() in a thread; if it is still running after ``seconds``, unblock it and fail."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(5)
        pytest.fail(f"still running after {seconds} s: blocked")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _release(fifo):
    def unblock():  # a writer that opens and closes at once lets a blocked reader see end-of-file
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    return unblock


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_fifo_in_a_data_folder_is_skipped_without_hanging(tmp_path):
    (tmp_path / "good.png").write_bytes(image_bytes())
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    data = run_with_timeout(lambda: load(tmp_path), 10, _release(fifo))
    assert len(data) == 1 and data.skipped == 1
    # Should a listed file become a FIFO before it is read, opening it fails at once.
    with pytest.raises(OSError):
        run_with_timeout(lambda: store.DirStore(tmp_path).open("x.png"), 5, _release(fifo))


def test_symlinks_out_of_the_data_folder_are_skipped(tmp_path):
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.png").write_bytes(image_bytes(colour=BLUE))
    (outside / "more").mkdir()
    (outside / "more" / "secret2.png").write_bytes(image_bytes(colour=BLUE))
    root = tmp_path / "data"
    root.mkdir()
    (root / "good.png").write_bytes(image_bytes(colour=RED))
    (root / "link.png").symlink_to(outside / "secret.png")  # out: skipped and counted
    (root / "folder-link").symlink_to(outside / "more", target_is_directory=True)  # out: not walked
    (root / "inside.png").symlink_to(root / "good.png")  # within the folder: read
    (root / "dangling.png").symlink_to(tmp_path / "missing.png")  # skipped and counted
    data = load(root)
    assert len(data) == 2 and data.skipped == 2
    assert (data.tensors["real"][:, 0] > 0.9).all()  # only the red image, twice; never the blue ones
