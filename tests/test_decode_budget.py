"""A picture the server cannot afford is refused from its header, before a pixel is
decoded (issue #17): decoding a 48-megapixel photo costs about 340 MB by itself, so a
refusal that came after decoding still took a demo server from 960 MB to 1.38 GB for
three of them (benchmarks/hostile_visitor.py). The page's door (pages.common.shared.
translate_upload) and the translate command both check before decoding; the peak is
measured in a fresh process, as the other memory tests do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TRANSLATOR = ROOT / "checkpoints" / "pix2pix-edges-to-faces.safetensors"

PAGE = r"""
import resource, sys
from gan_core import translate
from pages.common.shared import translate_upload
tr = translate.load_translator(sys.argv[1])
data = open(sys.argv[2], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    translate_upload(tr, data, "phone.jpg", scale=1.0, realism=True)
    print("translated")
except Exception as e:
    print(type(e).__name__ + ": " + str(e))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory) -> Path:
    """A real 8000 x 6000 JPEG (flat grey, so it is small on disk: 48 megapixels all the same)."""
    path = tmp_path_factory.mktemp("photo") / "phone.jpg"
    Image.new("RGB", (8000, 6000), (120, 110, 100)).save(path, quality=85)
    return path


def _env(budget_mb: int) -> dict:
    return {**os.environ, "GAN_WORKBENCH_MEMORY_BUDGET": str(budget_mb), "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def test_the_page_refuses_a_48mp_photo_from_its_header_without_decoding_it(phone_photo):
    out = subprocess.run([sys.executable, "-c", PAGE, str(TRANSLATOR), str(phone_photo)], capture_output=True, text=True,
                         cwd=ROOT, env=_env(256), timeout=300)
    message, grown_mb = out.stdout.strip().splitlines()[-2:]
    assert message.startswith("BudgetError: Translating phone.jpg (8,000 × 6,000 pixels, with the realism map) needs about "), message
    assert "more than this server's 256 MB per request" in message
    assert int(grown_mb) < 60, f"{grown_mb} MB grown: the photo was decoded (about 340 MB) before the refusal"


def test_the_translate_command_refuses_it_in_one_line_without_decoding_it(phone_photo, tmp_path):
    out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "gan_core", "translate", str(TRANSLATOR),
                          str(phone_photo), "--scale", "full", "--realism-map", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=ROOT, env=_env(256), timeout=300)
    lines = out.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert out.returncode == 1 and len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    assert errors[0].startswith("error: Translating ") and "phone.jpg (8,000 × 6,000 pixels, with the realism map) needs about " in errors[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    peak_mb = int(lines[-1]) // 1024
    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), (120, 110, 100)).save(small)
    ok = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "gan_core", "translate", str(TRANSLATOR),
                         str(small), "--scale", "full", "--realism-map", "--out", str(tmp_path / "small-out")],
                        capture_output=True, text=True, cwd=ROOT, env=_env(256), timeout=300)
    assert ok.returncode == 0, ok.stderr
    baseline_mb = int(ok.stderr.strip().splitlines()[-1]) // 1024  # importing the engine, loading the model, a tiny picture
    assert peak_mb - baseline_mb < 150, f"{peak_mb} MB against {baseline_mb} MB for a 64 x 48 picture: the photo was decoded"
