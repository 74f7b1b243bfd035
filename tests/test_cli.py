"""The command line as a user meets it: real subprocesses for the happy path,
``main()`` in-process for every error a user can cause."""

import errno
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
    assert main(["train", "--recipe", "dcgan", "--data", "folder", "--data-path", str(z),
                 "--runs-dir", str(tmp_path / "runs"), "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "no images" in err and "Traceback" not in err
    # The run directory named first is said to be gone again, and is.
    (named,) = [line.removeprefix("Run directory: ") for line in out.splitlines() if line.startswith("Run directory: ")]
    assert f"Removed {named}: the run was refused before its first step." in out
    assert not any((tmp_path / "runs").iterdir())


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
    # First the skipped file, then (6 images: small data) why augmentation is on.
    assert status["message"].startswith("Skipped 1 unreadable file(s) in the data. Adaptive augmentation is on")


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


# ------------------------------------------------------------------ refusals: one sentence, nothing left behind

TINY = ["--recipe", "gan", "--data", "ring-8", "--steps", "2", "--no-progress", *SMALL]


def no_run_left(runs_dir):
    return not runs_dir.exists() or not any(runs_dir.iterdir())


@pytest.mark.parametrize("args, match", [
    (["--beta1", "5"], "--beta1 must be at least 0 and below 1"),
    (["--beta2", "-0.1"], "--beta2 must be at least 0 and below 1"),
    (["--optimizer", "sgd", "--momentum", "-1"], "--momentum must be at least 0 and below 1"),
    (["--lr-g", "inf"], "--lr-g must be a positive learning rate"),
    (["--recipe", "wgan", "--clip", "-0.01"], "--clip must be a positive bound"),
    (["--recipe", "wgan", "--clip", "nan"], "--clip must be a positive bound"),
    (["--recipe", "wgan-gp", "--gp-weight", "-10"], "--gp-weight must be zero or a positive weight"),
    # Options the chosen recipe or optimiser would ignore, instead of recording them in config.json:
    (["--recipe", "wgan-gp", "--clip", "0.01"], "--clip is the WGAN weight-clipping bound, which recipe 'wgan-gp' does not use; leave it unset or use --recipe wgan."),
    (["--recipe", "wgan", "--gp-weight", "10"], "--gp-weight is the WGAN-GP gradient-penalty weight, which recipe 'wgan' does not use"),
    (["--recipe", "gan", "--clip", "0.01"], "which recipe 'gan' does not use"),
    (["--momentum", "0.9"], "--momentum is an SGD setting and the optimizer is adam"),
    (["--optimizer", "rmsprop", "--momentum", "0.9"], "--momentum is an SGD setting and the optimizer is rmsprop"),
    (["--l1-weight", "100"], "--l1-weight is the pix2pix L1 weight, which recipe 'gan' does not use"),
    (["--optimizer", "sgd", "--beta1", "0.9"], "--beta1 is an Adam setting and the optimizer is sgd"),
    (["--recipe", "wgan", "--beta2", "0.99"], "--beta2 is an Adam setting and the optimizer is rmsprop"),
    # Refused by the device or the data: checked before, or the run directory removed again.
    (["--device", "cuda:7"], "no such CUDA GPU"),
    (["--device", "tpu"], "Unknown device"),
    (["--limit", "0"], "--limit must be at least 1"),
    (["--recipe", "dcgan", "--data", "folder", "--data-path", "/nonexistent/photos"], "photos"),
])
def test_refused_in_one_sentence_and_nothing_left_behind(capsys, tmp_path, args, match):
    runs_dir = tmp_path / "runs"
    err = _error_of(capsys, "train", *TINY, *args, "--runs-dir", str(runs_dir))
    assert match in err
    assert no_run_left(runs_dir)


def test_zip_without_images_leaves_no_failed_run(capsys, tmp_path):
    z = tmp_path / "notes.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "no pictures here")
    _error_of(capsys, "train", "--recipe", "dcgan", "--data", "folder", "--data-path", str(z),
              "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert no_run_left(tmp_path / "runs")


def test_a_config_file_that_is_not_utf8(capsys, tmp_path):
    conf = tmp_path / "c.json"
    conf.write_bytes(b'{"recipe": "gan\xff\xfe"}')
    err = _error_of(capsys, "train", "--config", str(conf), "--runs-dir", str(tmp_path / "runs"))
    assert "is not UTF-8 text" in err and no_run_left(tmp_path / "runs")


def test_a_runs_dir_that_is_a_file_or_unwritable(capsys, tmp_path, monkeypatch):
    a_file = tmp_path / "runs"
    a_file.write_text("not a folder")
    assert "is a file, not a folder" in _error_of(capsys, "train", *TINY, "--runs-dir", str(a_file))
    assert "(Not a directory)" in _error_of(capsys, "train", *TINY, "--runs-dir", str(a_file / "below"))

    locked = tmp_path / "locked"  # root ignores chmod, so the refusal is simulated where it happens
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if str(path).startswith(str(locked)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    err = _error_of(capsys, "train", *TINY, "--runs-dir", str(locked))
    assert "Cannot create a run in" in err and "Permission denied" in err


@pytest.mark.parametrize("module, code", [("gan_core.checkpoints", errno.ENOSPC), ("gan_core.samples", errno.EACCES)],
                         ids=["disk-full-at-checkpoint", "permission-denied-at-samples"])
def test_a_file_error_while_training_fails_the_run_in_one_sentence(capsys, tmp_path, monkeypatch, module, code):
    import importlib

    def fail(path, data):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(importlib.import_module(module), "atomic_write_bytes", fail)
    err = _error_of(capsys, "train", *TINY, "--runs-dir", str(tmp_path / "runs"))
    assert os.strerror(code) in err and "then resume" in err
    (run_dir,) = (tmp_path / "runs").iterdir()  # it trained steps: kept, marked failed
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == err.removeprefix("error: ")
    assert (run_dir / "metrics.jsonl").exists()


def test_the_runs_dir_setting_is_the_default(capsys, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(shared))
    monkeypatch.chdir(tmp_path)
    assert main(["train", *TINY]) == 0
    (run_dir,) = shared.iterdir()
    assert not (tmp_path / "runs").exists()
    capsys.readouterr()
    assert main(["runs"]) == 0
    assert run_dir.name in capsys.readouterr().out
    (tmp_path / "elsewhere").mkdir()
    assert main(["runs", "--runs-dir", str(tmp_path / "elsewhere")]) == 0  # the flag still wins
    assert "No runs under" in capsys.readouterr().out
    # A folder named on the command line that is not there is a typo, said so; the setting's may not exist yet.
    assert main(["runs", "--runs-dir", str(tmp_path / "elsewher")]) == 2
    assert capsys.readouterr().err.endswith("does not exist; give --runs-dir the folder runs are in.\n")
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path / "not-yet"))
    assert main(["runs"]) == 0 and "No runs under" in capsys.readouterr().out


# ----------------------------------------------------------------------------- nothing a user made is lost (review 8)


@pytest.fixture
def finished_run(tmp_path):
    """A tiny finished run, trained by the command line."""
    assert main(["train", *TINY, "--runs-dir", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def error_of(capsys, *argv) -> str:
    """``main(argv)`` must refuse with exit 2 and one ``error:`` line."""
    assert main(list(map(str, argv))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err[len("error: "):]


def test_sample_and_export_never_overwrite_a_checkpoint(capsys, tmp_path, finished_run):
    ckpt = finished_run / "checkpoints" / "last.safetensors"
    kept = ckpt.read_bytes()
    assert error_of(capsys, "sample", ckpt, "--n", "4", "--out", ckpt) == (
        "--out must end in .png (a grid of the samples) or .npy (the samples as an array), not .safetensors; choose another name.")
    assert error_of(capsys, "sample", ckpt, "--n", "4", "--out", tmp_path / "x.jpg").endswith("not .jpg; choose another name.")
    assert error_of(capsys, "export", finished_run, "--out", ckpt) == (
        "--out is the checkpoint being exported, whose discriminator and optimiser state would be lost; choose another path.")
    assert error_of(capsys, "export", finished_run, "--out", finished_run / "checkpoints" / "g.safetensors") == (
        f"--out is inside run {finished_run.name}'s checkpoints folder, where the run keeps what resuming it needs; "
        "choose a path outside it.")
    assert error_of(capsys, "sample", ckpt, "--n", "4", "--out", finished_run / "samples" / "step_0000005.png") == (
        f"--out is inside run {finished_run.name}'s samples folder, where the run keeps the grids it made; "
        "choose a path outside it.")
    assert error_of(capsys, "export", finished_run, "--out", tmp_path) == (
        f"--out {tmp_path} is a folder; give a file path ending in .safetensors.")
    assert ckpt.read_bytes() == kept and not (finished_run / "checkpoints" / "g.safetensors").exists()
    assert main(["export", str(finished_run), "--out", str(tmp_path / "g.safetensors")]) == 0  # elsewhere: written
    assert main(["sample", str(ckpt), "--n", "4", "--out", str(tmp_path / "new" / "s.PNG")]) == 0  # its folder made
    assert (tmp_path / "new" / "s.PNG").read_bytes()[:4] == b"\x89PNG"


def test_a_run_without_a_checkpoint_is_said_so_on_export(capsys, tmp_path, finished_run):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_bytes((finished_run / "config.json").read_bytes())
    assert error_of(capsys, "export", bare, "--out", tmp_path / "g.safetensors") == (
        "Run bare has no checkpoint yet (a run saves one as it trains and when it stops); train it further, then export it.")


def test_resume_refuses_a_finished_run_and_settings_it_would_ignore(capsys, finished_run):
    assert error_of(capsys, "train", "--resume", finished_run) == (
        f"Run {finished_run.name} has finished all its 2 steps; start a new run to train longer.")
    for extra, flag in ((["--steps", "50"], "--steps"), (["--data-path", "x"], "--data-path"), (["--config", "c.json"], "--config"),
                        (["--runs-dir", "elsewhere"], "--runs-dir")):
        assert error_of(capsys, "train", "--resume", finished_run, *extra) == (
            f"--resume continues a run with its own settings, so {flag} cannot be given with it; "
            "start a new run with the settings you want.")


def test_a_run_another_process_trains_is_not_resumed_beside_it(capsys, finished_run, monkeypatch):
    import fcntl
    import threading
    import time

    from gan_core import runs, training

    monkeypatch.setattr(training, "TRAINER_WAIT_S", 1.0)  # a trainer still exiting is waited for this long

    runs.write_status(finished_run, state="running", pid=999)  # a pid status.json names (an earlier worker's): not said
    fd = os.open(finished_run / ".trainer.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # this test is the other trainer, which wrote its pid in the lock file
        os.write(fd, b"4321\n")
        (finished_run / "STOP").touch()  # a Stop its owner pressed: not for the refused one to take away
        assert error_of(capsys, "train", "--resume", finished_run) == (
            f"Run {finished_run.name} is being trained by another process (pid 4321); stop that one, or wait for it to "
            "finish, before resuming it.")
        assert (finished_run / "STOP").exists()  # untouched, as is the other trainer's status
        assert json.loads((finished_run / "status.json").read_text())["state"] == "running"
    finally:
        os.close(fd)
    runs.write_status(finished_run, state="stopped")
    # A trainer that has written "stopped" and is still exiting (Resume pressed at once) is waited for.
    fd = os.open(finished_run / ".trainer.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    threading.Timer(0.5, os.close, (fd,)).start()  # it exits half a second later
    t0 = time.monotonic()
    assert main(["train", "--resume", str(finished_run)]) == 0  # the person's resume overrides the old Stop
    assert time.monotonic() - t0 >= 0.4 and not (finished_run / "STOP").exists()


@pytest.mark.parametrize("argv, said", [
    (["train", "--steps", "3", "--data-path", "/somewhere"],
     "--data faces-lfw is built in and reads no --data-path; for your own images use --data folder (or --data paired "
     "for pix2pix's pairs)."),
    (["train", "--steps", "10000000000"], "--steps must be at most 1,000,000,000, not 10,000,000,000."),
    (["train", "--workers", "-1"], "--workers must be 0 (read data in the training process) or more, not -1."),
    (["train", "--recipe", "gan", "--data", "ring-8", "--image-size", "64"],
     "--image-size applies to images and --data ring-8 is points (vectors); leave it unset."),
    (["train", "--recipe", "gan", "--data", "ring-8", "--channels", "3"],
     "--channels applies to images and --data ring-8 is points (vectors); leave it unset."),
    (["train", "--n-points", "500"], "--n-points applies to point sets and --data faces-lfw is images; leave it unset."),
    (["evaluate", ROOT / "checkpoints" / "cgan-mnist.safetensors", "--data-path", "/somewhere"],
     "cgan-mnist.safetensors was trained on the built-in set mnist-5k, which the judge reads itself; leave --data-path unset."),
])
def test_settings_that_would_be_ignored_or_absurd_are_refused(capsys, tmp_path, argv, said):
    runs_dir = ["--runs-dir", tmp_path / "runs"] if argv[0] == "train" else []
    assert error_of(capsys, *argv, *runs_dir) == said
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_mistyped_flag_is_one_line_not_the_usage_block():
    r = run_cli("sample", "x.safetensors", "--n")
    assert r.returncode == 2 and r.stderr == (
        "error: argument --n: expected one argument; see 'python -m gan_core sample --help'.\n")


def test_ctrl_c_stops_cleanly_with_the_interrupted_exit_code_and_resume_goes_on(tmp_path):
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gan_core", "train", "--recipe", "gan", "--data", "ring-8", "--steps",
                             "1000000", "--runs-dir", str(tmp_path / "runs"), "--no-progress", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    metrics = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "runs").glob("*/metrics.jsonl"))
        if found and found[0].stat().st_size > 0:
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, proc.communicate(timeout=10)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # `train && export` does not go on with half a run
    assert "Stopped at step" in out and "Traceback" not in err
    status = json.loads((metrics.parent / "status.json").read_text())
    assert status["state"] == "stopped" and status["step"] > 0


def test_a_reader_that_goes_away_is_no_error():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gan_core", "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # `python -m gan_core info | head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == ""


def test_the_help_names_every_recipe_and_every_kind_of_pairs(capsys):
    from gan_core.data.paired import DERIVED_KINDS
    from gan_core.recipes import RECIPES

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    recipe_help = text.split("--recipe NAME", 1)[1].split("(default: dcgan)", 1)[0]
    assert all(name in recipe_help for name, _ in RECIPES.items()), recipe_help
    assert "--pairs {" + ",".join(DERIVED_KINDS) + "}" in text
    assert "--data-path PATH" in text and "wasserstein" in text.split("--g-loss", 2)[2]


def test_the_trainer_lock_is_never_a_link_and_ctrl_c_while_waiting_for_it_touches_nothing(capsys, finished_run, tmp_path,
                                                                                          monkeypatch):
    import fcntl
    import threading

    from gan_core import runs, training

    runs.write_status(finished_run, state="stopped")
    outside = tmp_path / "outside.lock"
    (finished_run / ".trainer.lock").unlink(missing_ok=True)
    (finished_run / ".trainer.lock").symlink_to(outside)
    assert error_of(capsys, "train", "--resume", finished_run) == (
        f"{finished_run.name}/.trainer.lock is a symbolic link, which this run's trainer does not follow; remove it, then resume.")
    assert not outside.exists()
    (finished_run / ".trainer.lock").unlink()
    (finished_run / ".trainer.lock").mkdir()  # not a file: still a lock, through a read-only descriptor
    assert main(["train", "--resume", str(finished_run)]) == 0
    os.rmdir(finished_run / ".trainer.lock")

    runs.write_status(finished_run, state="stopped")
    fd = os.open(finished_run / ".trainer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        monkeypatch.setattr(training, "TRAINER_WAIT_S", 30.0)
        flag = threading.Event()
        threading.Timer(0.5, flag.set).start()  # Ctrl-C half a second into the wait
        before = (finished_run / "status.json").read_bytes()
        with pytest.raises(KeyboardInterrupt):
            training.train(training.resolve(runs.read_config(finished_run)), finished_run, should_stop=flag.is_set)
        assert (finished_run / "status.json").read_bytes() == before
    finally:
        os.close(fd)


def test_evaluate_says_what_it_scores_for_a_model_it_does_not(capsys):
    assert error_of(capsys, "evaluate", ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors") == (
        "dcgan-faces-lfw.safetensors is an unconditional dcgan generator; the judge scores conditional (cgan) models, "
        "and evaluate scores 2-D point runs by their modes.")
    assert error_of(capsys, "evaluate", ROOT / "checkpoints" / "pix2pix-super-resolution-photos.safetensors") == (
        "pix2pix-super-resolution-photos.safetensors is a pix2pix translator, which the judge does not score; translate "
        "pictures it never saw with it and compare them with their targets (benchmarks/pix2pix_eval.py does).")


def test_a_damaged_resume_state_says_what_still_works(capsys, finished_run):
    from gan_core import runs

    runs.write_status(finished_run, state="stopped")
    (finished_run / "checkpoints" / "last.state.pt").write_bytes(b"PK\x03\x04 half a zip")
    assert main(["train", "--resume", str(finished_run)]) != 0
    err = capsys.readouterr().err.strip()
    assert err == (f"error: The resume state {finished_run / 'checkpoints' / 'last.state.pt'} is damaged, so this run cannot "
                   "continue; its last weights still sample and export, and a new run with the same settings starts from scratch.")
    assert main(["sample", str(finished_run / "checkpoints" / "last.safetensors"), "--n", "4",
                 "--out", str(finished_run.parent / "grid.png")]) == 0  # as the sentence says
