"""Checkpoints from visitors are untrusted: their metadata is checked for type and
bounds, their shapes against the tensors before any model is built, their weights
for finite values, and their data section never steers the server (no paths, no
downloads). Every refusal is one sentence and keeps nothing on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save

from conftest import tiny
from gan_core import catalog, checkpoints, memorisation
from gan_core.cli import main
from gan_core.config import Config
from gan_core.errors import CheckpointError, DataError
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.settings import Settings
from gan_core.training import train
from gan_core.uploads import UPLOADED_CHECKPOINTS, save_checkpoint_upload
from gan_core.visitors import UPLOADS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A real (tiny) checkpoint: its tensors and metadata, to be mutated."""
    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = create_run(cfg, tmp_path_factory.mktemp("trained"))
    train(cfg, run_dir)
    ckpt = checkpoints.read(run_dir / "checkpoints" / "last.safetensors")
    meta = {"format": checkpoints.FORMAT, "config": ckpt.config.to_json(), "data": json.dumps(ckpt.data.to_dict()), "step": "2"}
    return {"tensors": ckpt.part("generator"), "meta": meta, "config": ckpt.config.to_dict(), "data": ckpt.data.to_dict()}


def make(good, *, config=None, data=None, meta=None, tensors=None) -> bytes:
    m = dict(good["meta"])
    if config is not None:
        m["config"] = json.dumps(config)
    if data is not None:
        m["data"] = json.dumps(data)
    m.update(meta or {})
    t = tensors if tensors is not None else good["tensors"]
    return st_save({f"generator.{k}": v.contiguous() for k, v in t.items()}, metadata=m)


def settings_for(tmp_path: Path) -> Settings:
    (tmp_path / "data").mkdir(exist_ok=True)
    return Settings(runs_dir=tmp_path / "runs", data_root=(tmp_path / "data").resolve(), checkpoints_dir=tmp_path / "ckpts",
                    demo=False, max_active_runs=1, max_steps=None)


def with_data(good, **changes) -> dict:
    cfg = json.loads(json.dumps(good["config"]))
    cfg["data"].update(changes)
    return cfg


# ------------------------------------------------------------------ malformed metadata


def _malformed(good) -> dict[str, bytes]:
    data = good["data"]
    return {
        "data is a JSON list": make(good, data=[1, 2, 3]),
        "shape is an int": make(good, data={**data, "shape": 16}),
        "shape is negative": make(good, data={**data, "shape": [1, -16, -16]}),
        "shape is [1, 7, 7]": make(good, data={**data, "shape": [1, 7, 7]}),
        "shape disagrees with image size": make(good, data={**data, "shape": [1, 32, 32]}),
        "kind is unknown": make(good, data={**data, "kind": "audio"}),
        "class names not a list": make(good, data={**data, "class_names": "cats"}),
        "config is a list": make(good, meta={"config": "[]"}),
        "config is not JSON": make(good, meta={"config": "{"}),
        "step is text": make(good, meta={"step": "abc"}),
        "step is negative": make(good, meta={"step": "-5"}),
        "unknown recipe": make(good, config={**good["config"], "recipe": "nope"}),
        "recipe whose models do not fit the tensors": make(good, config={**good["config"], "recipe": "gan", "model": {**good["config"]["model"], "arch": "mlp"}}),
        "width does not fit the tensors": make(good, config={**good["config"], "model": {**good["config"]["model"], "width": 16}}),
        "deeply nested config": make(good, meta={"config": "[" * 100_000 + "]" * 100_000}),
        "a generator tensor missing": make(good, tensors={k: v for i, (k, v) in enumerate(good["tensors"].items()) if i}),
        "a tensor of another dtype": make(good, tensors={k: v.double() if v.is_floating_point() else v for k, v in good["tensors"].items()}),
    }


def test_every_malformed_checkpoint_is_one_sentence_and_nothing_is_kept(good, tmp_path):
    for what, data in _malformed(good).items():
        with pytest.raises(CheckpointError) as e:
            save_checkpoint_upload(data, "mine.safetensors", tmp_path)
        message = str(e.value)
        assert "\n" not in message and message.endswith(".") and "mine.safetensors" in message, (what, message)
        assert not list(tmp_path.rglob("*.safetensors")), what


def test_sample_prints_one_error_line_for_each_malformed_checkpoint(good, tmp_path, capsys):
    for i, (what, data) in enumerate(_malformed(good).items()):
        path = tmp_path / f"bad{i}.safetensors"
        path.write_bytes(data)
        assert main(["sample", str(path), "--n", "4", "--out", str(tmp_path / "out.png")]) == 2, what
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, (what, err)
    assert not (tmp_path / "out.png").exists()


def test_a_bad_file_on_disk_is_one_unusable_entry_beside_the_good_ones(good, tmp_path):
    folder = tmp_path / UPLOADS / UPLOADED_CHECKPOINTS
    folder.mkdir(parents=True)
    for i, data in enumerate(_malformed(good).values()):
        (folder / f"bad{i}.safetensors").write_bytes(data)
    (folder / "good.safetensors").write_bytes(make(good))
    entries = catalog.list_checkpoints(tmp_path / "none", tmp_path)
    assert len(entries) == len(_malformed(good)) + 1
    usable = [e for e in entries if e.error is None]
    # Header-level damage is seen when listing; tensors that do not fit are found when loading.
    assert any(e.path.name == "good.safetensors" for e in usable)
    assert all(e.error.endswith(".") and "\n" not in e.error for e in entries if e.error)
    assert catalog.default_checkpoint(entries).error is None


def test_non_finite_weights_are_refused(good, tmp_path):
    tensors = dict(good["tensors"])
    key = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] = float("nan")
    with pytest.raises(CheckpointError, match="non-finite weights"):
        save_checkpoint_upload(make(good, tensors=tensors), "nan.safetensors", tmp_path)
    assert not list(tmp_path.rglob("*.safetensors"))


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2, torch.complex64, torch.uint16])
def test_a_tensor_of_a_type_this_engine_never_writes_is_refused_in_one_sentence(good, tmp_path, dtype):
    """The finding: one extra float8 tensor made torch.isfinite raise NotImplementedError,
    a traceback on the Pix2Pix page and in every command that reads checkpoints."""
    tensors = {**good["tensors"], "junk": torch.zeros(4).to(dtype)}
    with pytest.raises(CheckpointError) as e:
        save_checkpoint_upload(make(good, tensors=tensors), "odd.safetensors", tmp_path)
    message = str(e.value)
    assert "never writes" in message and "junk" in message and message.count(". ") == 0 and message.endswith(".")
    assert not list(tmp_path.rglob("*.safetensors"))
    ckpt = tmp_path / "odd.safetensors"
    ckpt.write_bytes(make(good, tensors=tensors))
    assert main(["sample", str(ckpt), "--out", str(tmp_path / "s.png")]) == 2


def test_a_tiny_file_declaring_a_huge_model_is_refused_without_allocating(good, tmp_path):
    """The finding: a 964-byte file declaring [3, 1024, 1024] and width 4096 asked for
    206 GB. Measured in a fresh process, so the peak memory is this refusal's own."""
    cfg = with_data(good, image_size=1024, channels=3)
    cfg["recipe"], cfg["model"] = "gan", {**cfg["model"], "arch": "mlp", "width": 4096}
    data = make(good, config=cfg, data={**good["data"], "shape": [3, 1024, 1024]},
                tensors={"net.0.weight": torch.zeros(2, 2)})
    assert len(data) < 4096
    path = tmp_path / "huge.safetensors"
    path.write_bytes(data)
    code = (
        "import resource, sys, time\n"
        "from gan_core.uploads import save_checkpoint_upload\n"
        "from gan_core.errors import CheckpointError\n"
        "import gan_core.inference  # torch and the models, imported with the upload flow: not the refusal's cost\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter()\n"
        f"try:\n    save_checkpoint_upload(open({str(path)!r}, 'rb').read(), 'huge.safetensors', {str(tmp_path / 'runs')!r})\n"
        "except CheckpointError as e:\n    print('refused', e)\n"
        "print(round(time.perf_counter() - t, 3), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    refused, numbers = out.stdout.strip().splitlines()
    assert refused.startswith("refused huge.safetensors does not fit the generator")
    seconds, grown_kb = numbers.split()
    assert float(seconds) < 5 and int(grown_kb) < 200 * 1024  # KB: well under 200 MB, not 206 GB


def test_an_oversized_upload_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import gan_core.untrusted as untrusted

    monkeypatch.setattr(untrusted, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(CheckpointError, match="more than the 1000 bytes limit"):
        save_checkpoint_upload(b"x" * 1001, "big.safetensors", tmp_path)


def test_a_demo_server_holds_uploads_to_its_own_smaller_limit(tmp_path, monkeypatch):
    # The engine checks the server's per-file upload limit itself (32 MB on a demo), not only
    # Streamlit's server option that pages.common.streamlit_internals.hold_uploads sets from it.
    from gan_core.uploads import save_upload

    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    big = b"x" * (32 * 2**20 + 1)
    with pytest.raises(CheckpointError, match=r"^big.safetensors is 32 MB, more than the 32 MB limit for uploaded checkpoints on this server"):
        save_checkpoint_upload(big, "big.safetensors", tmp_path)
    with pytest.raises(DataError, match="more than the 32 MB upload limit"):
        save_upload(big, tmp_path)
    monkeypatch.setenv("GAN_WORKBENCH_MAX_UPLOAD_MB", "1")
    with pytest.raises(DataError, match="more than the 1 MB upload limit"):
        save_upload(b"x" * (2**20 + 1), tmp_path)
    assert not any(tmp_path.rglob("*.zip")) and not any(tmp_path.rglob("*.safetensors"))


# ------------------------------------------------------ the data section never steers


def test_an_uploaded_checkpoint_naming_an_outside_folder_is_not_compared(good, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    settings = settings_for(tmp_path)
    path = save_checkpoint_upload(make(good, config=with_data(good, name="folder", path=str(outside))), "x.safetensors", settings.runs_dir)
    entry = catalog.describe_checkpoint(path)
    cfg = checkpoints.read(path).config
    with pytest.raises(DataError, match="uploaded") as e:
        memorisation.comparison_data(entry, cfg, settings)
    assert str(outside) not in str(e.value)


def test_an_uploaded_mnist_checkpoint_with_download_never_creates_folders(good, tmp_path):
    target = tmp_path / "victim" / "mnist-here"
    settings = settings_for(tmp_path)
    path = save_checkpoint_upload(make(good, config=with_data(good, name="mnist", path=str(target), download=True)), "m.safetensors",
                                  settings.runs_dir)
    entry = catalog.describe_checkpoint(path)
    with pytest.raises(DataError):
        memorisation.comparison_data(entry, checkpoints.read(path).config, settings)
    assert not (tmp_path / "victim").exists()


def test_a_builtin_set_is_rebuilt_by_name_without_path_or_download(good, tmp_path):
    settings = settings_for(tmp_path)
    path = save_checkpoint_upload(make(good, config=with_data(good, path="/etc", download=True, workers=64, limit=1)),
                                  "b.safetensors", settings.runs_dir)
    data = memorisation.comparison_data(catalog.describe_checkpoint(path), checkpoints.read(path).config, settings)
    assert (data.name, data.path, data.download, data.workers, data.limit) == ("faces-lfw", None, False, 0, None)
    assert data.image_size == 16


def test_a_run_on_a_folder_outside_the_data_root_is_not_compared_but_one_inside_is(tmp_path):
    settings = settings_for(tmp_path)
    inside = settings.data_root / "mine"
    outside = tmp_path / "outside"
    entry_for = lambda: catalog.CheckpointEntry(tmp_path / "runs" / "r1" / "checkpoints" / "last.safetensors", "x", False, 0.0, run_id="r1")
    for folder in (inside, outside):
        folder.mkdir()
    cfg = Config().replace(**{"data.name": "folder", "data.path": str(outside)})
    with pytest.raises(DataError, match="not under the server's data folder"):
        memorisation.comparison_data(entry_for(), cfg, settings)
    cfg = cfg.replace(**{"data.path": str(inside)})
    assert memorisation.comparison_data(entry_for(), cfg, settings).path == str(inside.resolve())
    # A symlink under the data root that leads outside it is outside.
    (settings.data_root / "link").symlink_to(outside)
    cfg = cfg.replace(**{"data.path": str(settings.data_root / "link")})
    with pytest.raises(DataError):
        memorisation.comparison_data(entry_for(), cfg, settings)
