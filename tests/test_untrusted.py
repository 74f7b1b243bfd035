"""gan_core.untrusted on its own: the ground floor under every reader of strangers' bytes.

Its refusals through the upload flow and the data sources are tested in
test_upload_limits.py and test_trust_review.py; here are the pieces themselves, and
the one private Python internal the module relies on.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_core import untrusted
from gan_core.errors import DataError, RunError

ROOT = Path(__file__).resolve().parents[1]


def zip_of(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, b"x" * 10)
    return buf.getvalue()


def test_zipfiles_private_end_record_reader_still_says_what_open_zip_relies_on():
    """open_zip reads a zip's entry count and directory size with zipfile's private
    ``_EndRecData`` before zipfile parses the directory. If a Python upgrade renames or
    reorders it, this fails here rather than letting a zip bomb's directory through."""
    data = zip_of(["a.png", "b.png", "c/d.png"])
    end = data.rindex(b"PK\x05\x06")  # the end record as the zip format defines it
    _, _, _, _, entries, size, _, _ = struct.unpack("<4s4H2LH", data[end : end + 22])
    assert (entries, size) == (3, end - struct.unpack("<L", data[end + 16 : end + 20])[0])
    assert untrusted.end_record(io.BytesIO(data)) == (entries, size)
    with pytest.raises(zipfile.BadZipFile):
        untrusted.end_record(io.BytesIO(b"not a zip at all" * 10))


def test_open_zip_refuses_from_the_end_record_before_parsing(monkeypatch):
    data = zip_of([f"{i}.png" for i in range(5)])
    monkeypatch.setattr(untrusted, "MAX_ZIP_ENTRIES", 4)
    with pytest.raises(DataError, match=r"holds 5 entries, more than the 4-entry limit"):
        untrusted.open_zip(io.BytesIO(data))
    monkeypatch.setattr(untrusted, "MAX_ZIP_ENTRIES", 5)
    with untrusted.open_zip(io.BytesIO(data)) as z:
        assert len(z.infolist()) == 5


@pytest.mark.parametrize("n, words", [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1 KB"), (10_035, "9.8 KB"),
                                      (150 * 2**20, "150 MB"), (3 * 2**29, "1.5 GB")])
def test_byte_sizes_in_words(n, words):
    assert untrusted.byte_size(n) == words


def test_names_are_quoted_on_one_short_line():
    assert untrusted.unprintable("a\u202eb") and untrusted.unprintable("a\u2028") and untrusted.unprintable("a\nb")
    assert not untrusted.unprintable("Zoë's photo (1).png")
    assert untrusted.shown_name("bad\nname\u202e.png") == "bad?name?.png"
    assert untrusted.shown_name("x" * 100, limit=10) == "xxxxxxx..."
    assert untrusted.shown_name("short.png", limit=10) == "short.png"


def test_image_size_limits_come_from_the_header():
    untrusted.check_image_size(8000, 6000)
    with pytest.raises(DataError, match="aspect-ratio limit"):
        untrusted.check_image_size(21, 1)
    with pytest.raises(DataError, match="megapixel limit"):
        untrusted.check_image_size(10_000, 6_000)
    with pytest.raises(DataError, match="no image"):
        untrusted.check_image_size(0, 5)


def test_grey_and_colour_modes_and_flattening():
    assert untrusted.native_channels("L") == 1 and untrusted.native_channels("I;16") == 1
    assert untrusted.native_channels("RGB") == 3 and untrusted.native_channels("P") == 3
    deep = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16))
    assert np.asarray(untrusted.flatten(deep, 1)).tolist() == [[0, 255]]  # scaled, not clipped
    clear = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    assert np.asarray(untrusted.flatten(clear, 3)).tolist() == [[[255, 255, 255]] * 2]  # on white
    rgb = Image.new("RGB", (1, 1))
    assert untrusted.flatten(rgb, 3) is rgb


def test_reading_an_image_needs_no_torch():
    """Pages read uploads through read_image; the ground floor must not cost them torch."""
    code = ("import io, sys; from PIL import Image; from gan_core.untrusted import read_image\n"
            "buf = io.BytesIO(); Image.new('RGB', (5, 3), (9, 8, 7)).save(buf, format='PNG')\n"
            "a = read_image(buf.getvalue(), 'x.png'); print(a.shape, a[0, 0].tolist(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "(3, 5, 3) [9, 8, 7] False"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_open_regular_refuses_a_fifo_without_waiting(tmp_path):
    fifo = tmp_path / "status.json"
    os.mkfifo(fifo)
    with pytest.raises(untrusted.Unreadable, match="status.json is not a regular file") as e:
        untrusted.open_regular(fifo)  # a plain open() would wait for a writer forever
    assert isinstance(e.value, RunError)
    (tmp_path / "ok.json").write_bytes(b"{}")
    with untrusted.open_regular(tmp_path / "ok.json") as f:
        assert f.read() == b"{}"


def test_class_name_bounds_are_shared_by_checkpoints_and_data_folders():
    """A data folder is refused on the bounds a checkpoint's metadata must meet, so no
    run trains for minutes to write weights no page can open: one number, one home."""
    from gan_core import checkpoints
    from gan_core.data import folder

    assert checkpoints.MAX_NAMES is untrusted.MAX_NAMES and folder.MAX_NAMES is untrusted.MAX_NAMES
    assert checkpoints.MAX_NAME_CHARS is untrusted.MAX_NAME_CHARS and folder.MAX_NAME_CHARS is untrusted.MAX_NAME_CHARS
