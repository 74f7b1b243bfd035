"""The command line as a user meets it: real subprocesses for the happy path,
``main()`` in-process for every error a user can cause."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from gan_core.cli import main

SMALL = ["--width", "8", "--z-dim", "8", "--batch-size", "8", "--log-every", "5", "--device", "cpu"]


def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_train_runs_sample_round_trip(tmp_path):
    r = run_cli("train", "--recipe", "dcgan", "--data", "faces-lfw", "--steps", "6", "--image-size", "16", "--seed", "3",
                "--sample-every", "3", "--runs-dir", str(tmp_path / "runs"), "--no-progress", *SMALL)
    assert r.returncode == 0, r.stderr
    assert "Finished 6 steps" in r.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["recipe"] == "dcgan" and cfg["train"]["seed"] == 3 and cfg["data"]["image_size"] == 16
    assert cfg["optim"]["beta1"] == 0.5  # recipe default filled in and recorded
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["step_0000003.png", "step_0000006.png"]

    listing = run_cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert run_dir.name in listing.stdout and "finished" in listing.stdout and "6/6" in listing.stdout

    out = tmp_path / "grid.png"
    s = run_cli("sample", str(run_dir / "checkpoints" / "last.safetensors"), "--n", "9", "--out", str(out))
    assert s.returncode == 0, s.stderr
    img = np.asarray(Image.open(out))
    assert img.shape[0] == img.shape[1] == 3 * 16 + 4 * 2  # 3 x 3 grid of 16 px with 2 px padding
    assert img.std() > 5  # not a blank image


def test_config_file_and_flags_compose(tmp_path):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"recipe": "gan", "data": {"name": "ring-8"}, "train": {"steps": 4, "seed": 9}}))
    r = run_cli("train", "--config", str(conf), "--steps", "5", "--runs-dir", str(tmp_path / "runs"), "--no-progress", *SMALL)
    assert r.returncode == 0, r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    cfg = json.loads((run_dir / "config.json").read_text())
    assert (cfg["recipe"], cfg["data"]["name"], cfg["train"]["steps"], cfg["train"]["seed"]) == ("gan", "ring-8", 5, 9)


def test_help_is_generated_from_the_config():
    r = run_cli("train", "--help")
    assert r.returncode == 0
    for flag in ("--recipe", "--data", "--data-path", "--steps", "--d-steps", "--lr-g", "--lr-d", "--optimizer",
                 "--g-loss", "--device", "--resume", "--config", "--runs-dir", "--clip", "--gp-weight", "--no-amp"):
        assert flag in r.stdout, flag
    assert "examples:" in r.stdout


def _error_of(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "Traceback" not in err
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_unknown_recipe_lists_valid_ones(capsys, tmp_path):
    err = _error_of(capsys, "train", "--recipe", "biggan", "--runs-dir", str(tmp_path))
    assert "biggan" in err and "dcgan" in err and "wgan-gp" in err
    assert not any(tmp_path.iterdir())  # nothing half-created


def test_missing_folder(capsys, tmp_path):
    err = _error_of(capsys, "train", "--recipe", "dcgan", "--data", "folder", "--data-path", str(tmp_path / "nope"),
                    "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert "nope" in err


def test_zip_without_images(capsys, tmp_path):
    z = tmp_path / "notes.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "no pictures here")
    err = _error_of(capsys, "train", "--recipe", "dcgan", "--data", "folder", "--data-path", str(z),
                    "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert "no images" in err


def test_corrupt_image_in_folder_is_skipped_and_counted(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    r = run_cli("train", "--recipe", "dcgan", "--data", "folder", "--data-path", str(folder), "--steps", "2",
                "--image-size", "16", "--runs-dir", str(tmp_path / "runs"), "--no-progress", *SMALL)
    assert r.returncode == 0, r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished"
    assert status["message"] == "Skipped 1 unreadable file(s) in the data."


def test_config_with_wrong_type(capsys, tmp_path):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"train": {"steps": "many"}}))
    err = _error_of(capsys, "train", "--config", str(conf), "--runs-dir", str(tmp_path))
    assert "'train.steps' must be an integer" in err


def test_bad_flag_value_is_one_line_usage_error(tmp_path):
    r = run_cli("train", "--steps", "ten")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "invalid int value: 'ten'" in r.stderr


def test_incompatible_checkpoints(capsys, tmp_path):
    from safetensors.torch import save_file
    import torch

    err = _error_of(capsys, "sample", str(tmp_path / "missing.safetensors"))
    assert "does not exist" in err
    (tmp_path / "model.pt").write_bytes(b"pickle")
    err = _error_of(capsys, "sample", str(tmp_path / "model.pt"))
    assert "not a .safetensors file" in err
    (tmp_path / "junk.safetensors").write_bytes(b"garbage bytes")
    err = _error_of(capsys, "sample", str(tmp_path / "junk.safetensors"))
    assert "not a valid .safetensors file" in err
    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    err = _error_of(capsys, "sample", str(tmp_path / "other.safetensors"))
    assert "not made by GAN Workbench" in err


def test_checkpoint_that_does_not_fit_the_model(tmp_path):
    from gan_core import checkpoints, runs
    from gan_core.errors import CheckpointError
    from gan_core.inference import load_generator
    from gan_core.recipes import resolve
    from gan_core.training import train
    from conftest import tiny
    from safetensors.torch import load_file, save_file

    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = runs.create_run(cfg, tmp_path)
    train(cfg, run_dir)
    path = run_dir / "checkpoints" / "last.safetensors"
    with pytest.raises(CheckpointError, match="trained with recipe 'dcgan', not 'wgan'"):
        load_generator(path, recipe="wgan")
    # Same metadata, weights of another width: refuse with a sentence, not a state_dict dump.
    ckpt = checkpoints.read(path)
    tensors = {k: torch_cat(v) for k, v in load_file(path).items()}
    save_file(tensors, tmp_path / "wider.safetensors", metadata={"format": checkpoints.FORMAT, "config": ckpt.config.to_json(),
                                                                "data": json.dumps(ckpt.data.to_dict()), "step": "2"})
    with pytest.raises(CheckpointError, match="does not fit the generator") as e:
        load_generator(tmp_path / "wider.safetensors")
    assert "\n" not in str(e.value)


def torch_cat(t):
    import torch

    return torch.cat([t, t]) if t.dim() else t
