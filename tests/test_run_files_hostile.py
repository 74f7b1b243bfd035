"""A run folder is text and files anyone with the runs folder could have changed (the
third hostile review, 2026-12-07): a symbolic link put where the run wrote a file is
never followed out of the run (the run's zip served /etc/shadow, the Train page's log
printed /etc/passwd), and a named pipe or a device there never blocks a page or a
Resume nor fills the server's memory (a FIFO as experiment.json hung the Runs page for
good; /dev/zero as train.log took 2.6 GB)."""

from __future__ import annotations

import os
import shutil
import threading
import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from conftest import tiny
from gan_core import export, jobs, runs
from gan_core.config import Config
from gan_core.errors import ConfigError
from gan_core.experiments.records import read_experiment
from gan_core.training import train
from pages.common.live import log_tail

SECRET = b"root:*:20228:0:99999:7:::\n"  # what a server file a link points at holds


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cfg = tiny("gan", "ring-8", steps=4, **{"train.checkpoint_every": 4, "train.sample_every": 4})
    run_dir = runs.create_run(cfg, tmp_path_factory.mktemp("runs"))
    assert train(cfg, run_dir)["state"] == "finished"
    return run_dir


@pytest.fixture
def run(trained, tmp_path):
    """A copy of a finished run, and a 'server file' outside it to point links at."""
    copy = tmp_path / "runs" / trained.name
    shutil.copytree(trained, copy)
    secret = tmp_path / "shadow"
    secret.write_bytes(SECRET)
    return copy, secret


def within(seconds: float, fn):
    """fn() in a thread; fails the test if it has not returned within ``seconds`` (it blocked)."""
    out = {}

    def call():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - raised again in the test's thread
            out["error"] = e

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "blocked"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_the_runs_zip_never_follows_a_link_out_of_the_run(run):
    run_dir, secret = run
    for name in ("config.json", "status.json", "metrics.jsonl", "checkpoints/last.safetensors"):
        (run_dir / name).unlink()
        (run_dir / name).symlink_to(secret)
    (run_dir / "experiment.json").symlink_to(secret)
    data = export.run_zip_bytes(run_dir)
    with zipfile.ZipFile(BytesIO(data)) as zf:
        names = zf.namelist()
        assert not any(SECRET in zf.read(n) for n in names)
    assert not any(n.endswith(("config.json", "status.json", "metrics.jsonl", "last.safetensors", "experiment.json"))
                   for n in names)
    assert any("/samples/" in n for n in names)  # what the run wrote itself is still there


def test_the_log_and_the_experiment_record_show_nothing_for_a_link_a_pipe_or_a_device(run):
    run_dir, secret = run
    log = run_dir / "train.log"
    log.unlink(missing_ok=True)
    log.symlink_to(secret)
    assert log_tail(run_dir) == ""
    log.unlink()
    os.mkfifo(log)
    assert within(5, lambda: log_tail(run_dir)) == ""
    log.unlink()
    log.symlink_to("/dev/zero")
    assert within(5, lambda: log_tail(run_dir)) == ""
    record = run_dir / "experiment.json"
    os.mkfifo(record)
    assert within(5, lambda: read_experiment(run_dir)) is None
    record.unlink()
    record.symlink_to("/dev/zero")
    assert within(5, lambda: read_experiment(run_dir)) is None


def test_a_resume_never_waits_on_a_pipe_put_as_the_log(run, monkeypatch):
    run_dir, _ = run
    (run_dir / "train.log").unlink(missing_ok=True)
    os.mkfifo(run_dir / "train.log")
    monkeypatch.setattr(jobs.subprocess, "Popen", lambda *a, **k: pytest.fail("a worker was started"))
    with pytest.raises(jobs.RunError, match="not a regular file|No such device"):
        within(5, lambda: jobs._start(["gan_core", "train"], [run_dir], 0))
    assert runs.read_status(run_dir)["state"] == "failed"


@pytest.mark.parametrize("kind", ["device", "pipe", "huge"])
def test_train_config_that_is_a_device_a_pipe_or_huge_is_one_sentence(tmp_path, kind):
    path = {"device": Path("/dev/zero"), "pipe": tmp_path / "cfg.json", "huge": tmp_path / "big.json"}[kind]
    if kind == "pipe":
        os.mkfifo(path)
    if kind == "huge":
        path.write_bytes(b" " * (2 << 20) + b"{}")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        within(5, lambda: Config.from_json_file(path))
    assert time.perf_counter() - start < 5 and "\n" not in str(e.value) and str(e.value).endswith(".")


def test_paths_the_system_refuses_and_a_huge_label_are_one_sentence_on_the_command_line(tmp_path, capsys):
    """The review's finding: a 300-character file name, and a --label of 5,000 nines,
    printed tracebacks (OSError: File name too long; ValueError past 4,300 digits)."""
    from conftest import ROOT
    from gan_core.cli import main

    long_name = "a" * 300
    for argv in (["sample", str(ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors"), "--out", str(tmp_path / f"{long_name}.png")],
                 ["runs", "--runs-dir", str(tmp_path / long_name)],
                 ["sample", str(ROOT / "checkpoints" / "cgan-mnist.safetensors"), "--out", str(tmp_path / "x.png"),
                  "--label", "9" * 5000]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err and len(err) < 400, err


def test_runs_never_prints_a_runs_escape_codes_or_a_megabyte_name(run, capsys):
    """The review's finding: a data name holding terminal escape codes set the window's
    title and cleared the screen of whoever typed `gan_core runs`, and a 900 KB recipe
    name was printed whole."""
    import json

    from gan_core.cli import main

    run_dir, _ = run
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg["data"]["name"] = "ring-8\x1b]0;pwned\x07\x1b[2J"
    cfg["recipe"] = "gan" + "x" * 900_000
    (run_dir / "config.json").write_text(json.dumps(cfg))
    assert main(["runs", "--runs-dir", str(run_dir.parent)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and len(out) < 2000
