"""Demo mode isolates visitors (GAN_WORKBENCH_DEMO=1): two visitors, A and B, on
the same server. Each sees, stops, resumes, downloads and deletes only their own
runs and uploads (plus the shipped checkpoints); server paths are not offered.
Outside demo mode everything stays visible to everyone.

A visitor is who pages.common.session.visitor() says; here each AppTest (one browser
session) is given its owner id through session state, as the real page derives
it from the browser's cookie.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import gan_core.settings
from conftest import tiny
from gan_core import jobs, runs, visitors
from gan_core.recipes import resolve
from gan_core.training import train
from gan_core.visitors import UPLOADS

ROOT = Path(__file__).resolve().parents[2]
RUNS, TRAIN, GALLERY = (str(ROOT / "pages" / f"{p}.py") for p in ("runs", "train", "gallery"))
BUILTIN, SERVER, UPLOAD = "Built-in data", "Folder or zip on the server", "Upload a .zip"
A, B = visitors.owner_id("browser of A"), visitors.owner_id("browser of B")


def png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((12, 12), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def zip_of(*values: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, v in enumerate(values):
            z.writestr(f"img{i}.png", png(v))
    return buf.getvalue()


def fake_run(runs_dir: Path, owner: str | None, state: str, **status) -> Path:
    cfg = resolve(tiny("gan", "ring-8", steps=100))
    run_dir = runs.create_run(cfg, runs_dir)
    if owner:
        visitors.write_owner(run_dir, owner)
    runs.write_status(run_dir, state=state, step=40, **status)
    (run_dir / "metrics.jsonl").write_text(json.dumps({"step": 10, "elapsed": 1.0, "loss_d": 1.0, "loss_g": 2.0}) + "\n")
    (run_dir / "samples" / "step_0000010.png").write_bytes(png(99))
    return run_dir


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A demo server's folders with A's run training (this test process plays its
    worker, so it is alive) and B's run stopped."""
    repo, runs_dir, data_root = tmp_path / "repo", tmp_path / "runs", tmp_path / "data"
    (repo / "checkpoints").mkdir(parents=True)
    data_root.mkdir()
    (data_root / "secret.zip").write_bytes(zip_of(1, 2))
    monkeypatch.setattr(gan_core.settings, "ROOT", repo)  # no shipped checkpoints
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(data_root))
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    for name in ("GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    a = fake_run(runs_dir, A, "running", pid=os.getpid(), host=socket.gethostname())
    b = fake_run(runs_dir, B, "stopped")
    return SimpleNamespace(runs=runs_dir.resolve(), repo=repo, a=a, b=b)


def visit(page: str, owner: str, **query) -> AppTest:
    at = AppTest.from_file(page, default_timeout=60)
    at.session_state["_visitor"] = owner
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


def texts(at: AppTest) -> str:
    return " ".join(str(el.value) for kind in ("markdown", "caption", "info", "code") for el in at.get(kind))


# ---------------------------------------------------------------------------- Runs page


def test_runs_page_shows_each_visitor_only_their_runs(server):
    at_b = visit(RUNS, B)
    assert list(at_b.dataframe[0].value["Run"]) == [server.b.name]
    assert len(at_b.multiselect(key="runs_selected").options) == 1  # B's run, the only one to pick
    assert server.a.name not in texts(at_b)
    at_a = visit(RUNS, A)
    assert list(at_a.dataframe[0].value["Run"]) == [server.a.name]
    # The demo says how long runs are kept, where their Zip is (gan_core.visitors.sweep_runs).
    assert any(c.value.startswith(":material/schedule: On this public demo your runs are kept for 24 hours after they "
                                  "last change") and c.value.endswith("another browser, or a private window, is another visitor.")
               for c in at_a.caption)


def test_on_a_demo_other_visitors_runs_are_not_listed_and_configs_are_parsed_once(server, monkeypatch):
    """The third hostile review: with 2,000 runs of visitor A on the server, B's Runs page,
    redrawn every few seconds, read all 2,000 runs twice or more (2.3 s of CPU a redraw):
    its own listing and the server-wide count of active runs. Now B's listing skips other
    visitors' folders by their owner file, the count reads only status files, and a
    config is parsed once per version of the file."""
    copies = set()
    for i in range(30):
        copy = Path(shutil.copytree(server.a, server.runs / f"{server.a.name}-copy{i}"))
        runs.write_status(copy, state="finished", step=100)
        copies.add(copy.name)
    listed, real = [], runs.run_info
    monkeypatch.setattr(runs, "run_info", lambda path: listed.append(Path(path).name) or real(path))
    parsed, parse = [], runs._parse_config
    monkeypatch.setattr(runs, "_parse_config", lambda path: parsed.append(path) or parse(path))
    at_b = visit(RUNS, B)
    assert list(at_b.dataframe[0].value["Run"]) == [server.b.name]
    listed.clear()
    runs._CONFIGS.clear()
    at_b.run()  # a redraw: the duration estimate is cached, so only the listings read runs
    assert not at_b.exception
    assert not copies & set(listed), sorted(copies & set(listed))[:3]
    assert server.b.name in listed
    assert parsed
    parsed.clear()
    at_b.run()
    assert not parsed  # the second redraw parses no config again


def test_b_cannot_stop_resume_zip_or_delete_a_run_of_a(server):
    at_b = visit(RUNS, B)
    at_b.session_state["runs_selected"] = [server.a.name, server.b.name]  # even if a session asked for it
    at_b.run()
    assert not at_b.exception
    assert at_b.session_state["runs_selected"] == [server.b.name]
    assert not {f"{act}_{server.a.name}" for act in ("stop", "resume", "delete")} & keys(at_b)
    assert not [d for d in at_b.get("download_button") if server.a.name in str(d.proto)]
    assert {f"resume_{server.b.name}", f"delete_{server.b.name}"} <= keys(at_b)  # B's own run: B may act

    # The same buttons for A, who may stop A's run.
    at_a = visit(RUNS, A)
    at_a.button(key=f"stop_{server.a.name}").click().run()
    assert (server.a / "STOP").exists()
    at_a.button(key=f"delete_{server.a.name}").click().run()  # refused: still running
    assert server.a.is_dir()

    at_b.button(key=f"delete_{server.b.name}").click().run()
    assert not server.b.exists() and server.a.is_dir()


def test_outside_demo_mode_everyone_sees_and_acts_on_every_run(server, monkeypatch):
    monkeypatch.delenv("GAN_WORKBENCH_DEMO")
    at = visit(RUNS, B)
    assert set(at.dataframe[0].value["Run"]) == {server.a.name, server.b.name}
    at.session_state["runs_selected"] = [server.a.name, server.b.name]
    at.run()
    assert {f"stop_{server.a.name}", f"delete_{server.b.name}"} <= keys(at)
    train_page = visit(TRAIN, B, run=server.a.name)
    assert train_page.query_params["run"] == server.a.name and "train_stop" in keys(train_page)
    assert SERVER in train_page.radio(key="train_data_mode").options


def test_runs_page_experiments_are_per_visitor(server):
    exp = {"id": "20260101-000000-optimizers-abcd", "kind": "optimizer-comparison", "created": 1.0,
           "label": "Optimisers of A", "runs": [server.a.name]}
    (server.a / "experiment.json").write_text(json.dumps(exp))
    at_b = visit(RUNS, B)
    assert not [s for s in at_b.selectbox if s.key == "runs_experiment"]
    at_a = visit(RUNS, A)
    assert len(at_a.selectbox(key="runs_experiment").options) == 1


def test_optimiser_comparison_runs_belong_to_who_started_them(server, monkeypatch):
    made = []
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUNS", "2")  # a slot beside A's training run: the three runs are queued
    # The real launch: owners are written before any worker could start (here none does).
    monkeypatch.setattr("gan_core.jobs._spawn_queue", lambda run_dirs, active=0: made.extend(
        (d, visitors.run_owner(d)) for d in run_dirs))
    at_b = visit(RUNS, B)
    at_b.button(key="cmp_go").click().run()
    assert not at_b.exception
    assert [owner for _, owner in made] == [B] * 3
    assert set(visit(RUNS, A).dataframe[0].value["Run"]) == {server.a.name}


# ---------------------------------------------------------------------------- Train page


def test_train_page_never_reattaches_to_another_visitors_run(server):
    at_b = visit(TRAIN, B, run=server.a.name)  # A's run id in B's URL
    assert at_b.query_params["run"] == server.b.name  # A's dropped: B's own latest run is shown instead (issue #21)
    assert len(at_b.selectbox(key="train_watch_select").options) == 1  # B's run, the only one to watch
    assert "train_stop" not in keys(at_b) and not (server.a / "STOP").exists()

    at_a = visit(TRAIN, A, run=server.a.name)
    assert at_a.query_params["run"] == server.a.name
    at_a.button(key="train_stop").click().run()
    assert (server.a / "STOP").exists()


def test_train_page_offers_no_server_paths_in_demo_mode(server):
    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.session_state["_visitor"] = B
    at.session_state["_train_form"] = {"train_data_mode": SERVER, "train_server_path": "secret.zip"}  # as if remembered
    at.run()
    assert not at.exception
    assert at.radio(key="train_data_mode").options == [BUILTIN, UPLOAD]
    assert at.radio(key="train_data_mode").value == BUILTIN
    assert not [t for t in at.text_input if t.key == "train_server_path"]
    assert "secret.zip" not in texts(at) and "--data-path" not in texts(at)
    assert str(server.runs.parent / "data") not in texts(at)


def test_uploads_and_runs_are_the_uploaders_and_old_uploads_go(server, monkeypatch):
    launched = []

    def fake_launch(cfg, runs_dir, max_active=None, owner=None):
        run_dir = runs.create_run(resolve(cfg), runs_dir)
        if owner:
            visitors.write_owner(run_dir, owner)
        launched.append((cfg, owner))
        return run_dir

    monkeypatch.setattr(jobs, "launch", fake_launch)
    at_a = visit(TRAIN, A)
    at_a.radio(key="train_data_mode").set_value(UPLOAD).run()
    at_a.file_uploader(key="train_upload").upload("a.zip", zip_of(10, 20, 30), "application/zip").run()
    at_b = visit(TRAIN, B)
    at_b.radio(key="train_data_mode").set_value(UPLOAD).run()
    at_b.file_uploader(key="train_upload").upload("b.zip", zip_of(40, 50), "application/zip").run()
    (a_zip,) = (server.runs / UPLOADS / A).glob("*.zip")
    (b_zip,) = (server.runs / UPLOADS / B).glob("*.zip")

    at_a.button(key="train_start").click().run()
    assert not at_a.exception
    cfg, owner = launched[-1]
    assert owner == A and Path(cfg.data.path) == a_zip

    # A replaces the zip: the first stays (A's run trains on it), then goes once that run is deleted.
    at_a.file_uploader(key="train_upload").upload("a2.zip", zip_of(60, 70), "application/zip").run()
    at_a.run()
    assert a_zip.exists() and len(list(a_zip.parent.glob("*.zip"))) == 2
    (new_run,) = [d for d in server.runs.iterdir() if visitors.run_owner(d) == A and d != server.a]
    shutil.rmtree(new_run)
    at_a.run()
    assert not a_zip.exists() and len(list(a_zip.parent.glob("*.zip"))) == 1
    assert b_zip.exists()  # B's own upload, in use by B, untouched by A's page


# ---------------------------------------------------------------------------- gallery


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real generator file (a tiny DCGAN trained for two steps)."""
    root = tmp_path_factory.mktemp("ckpt")
    cfg = resolve(tiny("dcgan", "faces-lfw"))
    run_dir = runs.create_run(cfg, root)
    train(cfg, run_dir)
    return (run_dir / "checkpoints" / "last.safetensors").read_bytes()


def options(at: AppTest) -> list[str]:
    found = [s for s in at.selectbox if s.key == "gallery_ckpt"]
    return list(found[0].options) if found else []


def test_gallery_lists_each_visitors_own_uploads_and_runs(server, checkpoint):
    (server.a / "checkpoints" / "last.safetensors").write_bytes(checkpoint)
    at_a = visit(GALLERY, A)
    at_a.file_uploader(key="gallery_upload").upload("mine.safetensors", checkpoint, "application/octet-stream").run()
    assert not at_a.exception and not at_a.error
    (uploaded,) = (server.runs / UPLOADS / A).glob("*.safetensors")
    assert at_a.session_state["gallery_ckpt"] == str(uploaded)
    assert len(options(at_a)) == 2  # A's upload and A's run

    at_b = visit(GALLERY, B)
    assert options(at_b) == []  # nothing of A's: no upload, no run (and nothing shipped here)
    assert "no checkpoint to sample yet" in at_b.info[0].value
