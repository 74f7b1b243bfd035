"""The gallery page with hostile checkpoints on disk: each is one unusable entry
with its sentence, and the page goes on working for every other checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import save as st_save
from streamlit.testing.v1 import AppTest

import gan_core.settings
from conftest import tiny
from gan_core import checkpoints
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train
from gan_core.uploads import UPLOADED_CHECKPOINTS
from gan_core.visitors import UPLOADS

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "gallery.py")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = create_run(cfg, tmp_path_factory.mktemp("trained"))
    train(cfg, run_dir)
    return run_dir / "checkpoints" / "last.safetensors"


def test_malformed_uploads_on_disk_never_break_the_page(weights, tmp_path, monkeypatch):
    repo, runs_dir = tmp_path / "repo", tmp_path / "runs"
    (repo / "checkpoints").mkdir(parents=True)
    shutil.copy(weights, repo / "checkpoints" / "faces.safetensors")
    monkeypatch.setattr(gan_core.settings, "ROOT", repo)
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    ckpt = checkpoints.read(weights)
    meta = {"format": checkpoints.FORMAT, "config": ckpt.config.to_json(), "step": "2"}
    folder = runs_dir / UPLOADS / UPLOADED_CHECKPOINTS
    folder.mkdir(parents=True)
    tensors = {f"generator.{k}": v.contiguous() for k, v in ckpt.part("generator").items()}
    for i, data in enumerate(([1, 2], {**ckpt.data.to_dict(), "shape": 7}, {**ckpt.data.to_dict(), "shape": [1, 7, 7]})):
        (folder / f"bad{i}.safetensors").write_bytes(st_save(tensors, metadata={**meta, "data": json.dumps(data)}))
    (folder / "junk.safetensors").write_bytes(b"\x00" * 100)

    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="gallery_ckpt").value.endswith("faces.safetensors")  # the good one is shown
    assert len(at.selectbox(key="gallery_ckpt").options) == 5
    # Choosing a broken entry shows its one sentence instead of raising.
    at.selectbox(key="gallery_ckpt").set_value(str(folder / "bad1.safetensors")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] and "damaged" in at.error[0].value and "\n" not in at.error[0].value


def test_markdown_in_a_file_name_is_shown_as_typed_never_rendered(weights, tmp_path, monkeypatch):
    """A visitor's file name quoted in a message must not become a link, an image
    (a tracking pixel), a colour directive or LaTeX in the page."""
    from pages.common.shared import plain

    repo, runs_dir = tmp_path / "repo", tmp_path / "runs"
    (repo / "checkpoints").mkdir(parents=True)
    shutil.copy(weights, repo / "checkpoints" / "faces.safetensors")
    monkeypatch.setattr(gan_core.settings, "ROOT", repo)
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    folder = runs_dir / UPLOADS / UPLOADED_CHECKPOINTS
    folder.mkdir(parents=True)
    name = "![x](https:⁄⁄evil.example⁄p.png) :red[hi] $x$ **b**.safetensors"
    (folder / name).write_bytes(b"\x00" * 100)
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    at.selectbox(key="gallery_ckpt").set_value(str(folder / name)).run()
    assert not at.exception
    shown = at.error[0].value
    assert r"!\[x\](https" in shown and r":red\[hi\]" in shown and r"\$x\$" in shown and r"\*\*b\*\*" in shown
    assert plain("GAN_WORKBENCH_RUNS_DIR, a-b.c (d)") == "GAN_WORKBENCH_RUNS_DIR, a-b.c (d)"  # ordinary text untouched


def test_an_upload_swept_by_the_visitors_other_tab_is_saved_again(tmp_path):
    """The decision behind both pages' re-save: only an uploaded file that is gone
    while the widget still holds it (not a run's checkpoint, not a file still there)."""
    from pages.common.session import restore_upload

    gone = tmp_path / "runs" / "uploads" / "ab" / "ckpt-1.safetensors"
    there = tmp_path / "here.safetensors"
    there.write_bytes(b"x")
    widget = object()
    assert restore_upload(str(gone), widget)
    assert not restore_upload(str(gone), None)
    assert not restore_upload(str(there), widget)
    assert not restore_upload(str(tmp_path / "runs" / "r1" / "checkpoints" / "last.safetensors"), widget)
    assert not restore_upload(None, widget)
