"""Pages over a runs folder holding broken runs (status.json a JSON list, config.json
not UTF-8, a step that is not a number) next to a good one: every page renders, the
good run is shown and usable, the broken ones are listed as unreadable with why.
And Start with a runs folder that is a file is one sentence, not a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import gan_core.settings
from conftest import tiny
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "pages"
MANGLED = {"list": ("status.json", b"[1, 2]"), "bytes": ("config.json", b"\xff\xfe\x00garbage"),
           "step": ("status.json", b'{"state": "finished", "step": "abc", "total": 2}'),
           # The fifth hostile review: JSON nested 5,000 deep raised RecursionError on every page that lists runs.
           "deep status": ("status.json", b"[" * 5000), "deep config": ("config.json", b"[" * 5000)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cfg = resolve(tiny("gan", "ring-8"))
    run_dir = create_run(cfg, tmp_path_factory.mktemp("trained"))
    assert train(cfg, run_dir)["state"] == "finished"
    return run_dir


@pytest.fixture
def env(tmp_path, monkeypatch, trained):
    repo, runs_dir = tmp_path / "repo", tmp_path / "runs"
    (repo / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(gan_core.settings, "ROOT", repo)  # no shipped checkpoints: only the runs'
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(tmp_path))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    good = Path(shutil.copytree(trained, runs_dir / trained.name))
    with open(good / "metrics.jsonl", "ab") as f:  # lines that are not metrics rows: skipped, not plotted
        f.write(b'[1]\n{"step": "abc", "loss_d": 1}\n\xff\xfe\n{"step": 3, "loss_d": "high"}\n')
        # The fifth hostile review: a line nested 5,000 deep (RecursionError) and a 401-digit loss (OverflowError
        # in every page's arithmetic) took down the Runs, Train, Gallery and Conditional pages.
        f.write(b"[" * 5000 + b"\n" + b'{"step": 4, "loss_d": 1' + b"0" * 400 + b"}\n")
    broken = {}
    for n, (kind, (name, content)) in enumerate(MANGLED.items()):
        broken[kind] = Path(shutil.copytree(trained, runs_dir / f"{trained.name[:-4]}bad{n}"))
        (broken[kind] / name).write_bytes(content)
    return good, broken


def render(page: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_runs_page_lists_the_good_run_and_the_broken_ones_as_unreadable(env):
    good, broken = env
    at = render("runs.py")
    table = at.dataframe[0].value
    states = dict(zip(table["Run"], table["State"]))
    assert states == {good.name: "finished", **{d.name: "unreadable" for d in broken.values()}}
    notes = dict(zip(table["Run"], table["Note"]))
    assert "status.json holds a JSON list" in notes[broken["list"].name]
    assert "config.json is not UTF-8" in notes[broken["bytes"].name]
    assert "field 'step' is 'abc'" in notes[broken["step"].name]
    assert "status.json is nested too deeply to be a run's file" in notes[broken["deep status"].name]
    assert "config.json is nested too deeply to be a run's file" in notes[broken["deep config"].name]
    at.multiselect(key="runs_selected").set_value([good.name, broken["list"].name, broken["bytes"].name]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart")  # the good run's curves
    assert at.button(key=f"resume_{broken['list'].name}").disabled


def test_train_page_watches_any_run_and_says_why_a_broken_one_cannot_be_shown(env):
    good, broken = env
    at = render("train.py")
    picker = at.selectbox(key="train_watch_select")
    assert len(picker.options) == 1 + len(MANGLED)  # run labels end with the run id's last 4 characters
    assert {label[-4:] for label in picker.options} == {good.name[-4:], *(d.name[-4:] for d in broken.values())}
    assert sum("unreadable" in label for label in picker.options) == len(MANGLED)
    picker.set_value(good.name).run()
    assert not at.exception and not at.error
    for run_dir in broken.values():
        picker.set_value(run_dir.name).run()
        assert not at.exception, [e.value for e in at.exception]
    picker.set_value(broken["bytes"].name).run()
    assert any("not UTF-8" in e.value for e in at.error)


def test_gallery_page_offers_the_good_runs_checkpoint(env):
    good, broken = env
    at = render("gallery.py")
    picker = at.selectbox(key="gallery_ckpt")
    assert any(label.endswith(f"{good.name[-4:]})") for label in picker.options), picker.options


def test_start_with_a_runs_folder_that_is_a_file_is_one_sentence(tmp_path, monkeypatch):
    a_file = tmp_path / "runs"
    a_file.write_text("not a folder")
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(a_file))
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(tmp_path))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    at = render("train.py")
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [
        f"The runs folder {a_file} is a file, not a folder; set --runs-dir or GAN_WORKBENCH_RUNS_DIR to a folder."]
    assert a_file.read_text() == "not a folder"


def grid_broken(good: Path, runs_dir: Path, kind: str) -> Path:
    """A copy of the good run whose sample grid is replaced by ``kind``: junk bytes, a
    named pipe or a symbolic link to a system file."""
    import os

    run_dir = Path(shutil.copytree(good, runs_dir / f"{good.name[:-4]}{kind[:4]}"))
    (grid,) = (run_dir / "samples").glob("step_*.png")
    grid.unlink()
    if kind == "junk":
        grid.write_bytes(b"\x89PNG but nothing after")
    elif kind == "fifo":
        os.mkfifo(grid)
    else:
        grid.symlink_to("/etc/passwd")
    return run_dir


def image_captions(at: AppTest) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def test_bad_sample_grids_are_one_note_each_and_the_good_grid_is_shown(env):
    """Before: a traceback on the Runs page (every run's grids gone) and a thread blocked for ever on the FIFO."""
    good, _ = env
    bad = {kind: grid_broken(good, good.parent, kind) for kind in ("junk", "fifo", "link")}
    at = render("runs.py")
    at.multiselect(key="runs_selected").set_value([good.name, *(d.name for d in bad.values())]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(image_captions(at)) == 1 and image_captions(at)[0].endswith("step 2")  # the good run's grid
    notes = [c.value for c in at.caption if "cannot be shown" in c.value]
    assert len(notes) == 3 and all("step\\_0000002.png" in n or "step_0000002.png" in n for n in notes), notes
    assert any("symbolic link" in n for n in notes) and sum("not a regular file" in n for n in notes) == 1

    at = render("train.py")
    for kind, run_dir in bad.items():
        at.selectbox(key="train_watch_select").set_value(run_dir.name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("cannot be shown" in c.value for c in at.caption), kind
    at.selectbox(key="train_watch_select").set_value(good.name).run()
    assert not at.exception and any("step 2" in c for c in image_captions(at))


def test_wall_time_with_rows_that_never_logged_it_is_no_traceback(env):
    """Before: metrics rows without ``elapsed`` plus "Wall time" was a KeyError traceback."""
    import json

    from gan_core.runs import read_metrics

    good, _ = env
    rows = read_metrics(good)[0]
    assert rows and all("elapsed" in r for r in rows)
    (good / "metrics.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "elapsed"}) + "\n" for r in rows))
    at = render("runs.py")
    at.multiselect(key="runs_selected").set_value([good.name]).run()
    at.radio(key="runs_x").set_value("elapsed").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("left out of this axis" in c.value for c in at.caption)
    at.radio(key="runs_x").set_value("step").run()
    assert not at.exception and at.get("plotly_chart")


def test_a_runs_names_are_shown_as_typed_never_as_markdown(env):
    """The third hostile review: a data name holding a link, an image (a tracking pixel)
    and a colour directive was rendered as such on the Train and Runs pages."""
    import json

    good, _ = env
    hostile = "ring-8 ![px](http://127.0.0.1:9/track.png) [CLICK ME](https://evil.example/) :red-background[INJECTED]"
    cfg = json.loads((good / "config.json").read_text())
    cfg["data"]["name"] = hostile
    (good / "config.json").write_text(json.dumps(cfg))
    at = render("train.py")
    at.selectbox(key="train_watch_select").set_value(good.name).run()
    at_runs = render("runs.py")
    at_runs.multiselect(key="runs_selected").set_value([good.name]).run()
    for page in (at, at_runs):
        assert not page.exception, [e.value for e in page.exception]
        shown = [m.value for m in page.markdown] + [c.value for c in page.caption]
        assert any("CLICK ME" in v for v in shown)  # the name is there...
        assert not any("[CLICK ME](https" in v or "![px](" in v or ":red-background[" in v for v in shown)  # ...as text
