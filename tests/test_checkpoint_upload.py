"""Checkpoints uploaded in the gallery: .safetensors only, checked before they are kept."""

import pytest

from conftest import tiny
from gan_core import catalog, runs
from gan_core.checkpoints import export_generator
from gan_core.errors import CheckpointError
from gan_core.recipes import resolve
from gan_core.training import train
from gan_core.uploads import save_checkpoint_upload


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = runs.create_run(cfg, tmp_path_factory.mktemp("trained"))
    train(cfg, run_dir)
    out = run_dir / "g.safetensors"
    export_generator(run_dir / "checkpoints" / "last.safetensors", out)
    return out.read_bytes()


def test_an_exported_generator_is_kept_and_listed_as_uploaded(exported, tmp_path):
    path = save_checkpoint_upload(exported, "my faces.safetensors", tmp_path)
    assert path.exists() and "my faces" not in str(path)  # user text never becomes a path
    assert save_checkpoint_upload(exported, "again.safetensors", tmp_path) == path  # same bytes, stored once
    (entry,) = catalog.list_checkpoints(tmp_path / "no-shipped", tmp_path)
    assert entry.path == path and entry.label == "dcgan on faces-lfw, step 2 (uploaded)"
    assert entry.summary().endswith("uploaded checkpoint.")


def test_a_checkpoint_with_a_long_file_name_is_kept(exported, tmp_path):
    """The extension was checked on the name as shown, which is cut to 100 characters
    ("...") for messages: a valid file called 150 characters was refused as "not a
    .safetensors file"."""
    name = "generator-" + "x" * 140 + ".safetensors"
    path = save_checkpoint_upload(exported, name, tmp_path)
    assert path.is_file() and path.suffix == ".safetensors"
    with pytest.raises(CheckpointError, match=r"\.\.\. is not a \.safetensors file") as e:  # a long wrong name, shown short
        save_checkpoint_upload(exported, "generator-" + "x" * 140 + ".pt", tmp_path)
    assert len(str(e.value)) < 250


@pytest.mark.parametrize("name, data, match", [
    ("model.pt", b"pickle bytes", "model.pt is not a .safetensors file"),
    ("empty.safetensors", b"", "is empty"),
    ("junk.safetensors", b"garbage", "junk.safetensors is not a valid .safetensors file"),
])
def test_bad_uploads_are_one_sentence_and_leave_nothing(name, data, match, tmp_path):
    with pytest.raises(CheckpointError, match=match) as e:
        save_checkpoint_upload(data, name, tmp_path)
    assert "\n" not in str(e.value)
    assert not list(tmp_path.rglob("*.safetensors"))
