"""The guided start, with AppTest: the start page says what a GAN is and where to
begin; its quick starts open Train with a preset; the presets fill the Train form
(and Start launches exactly that run); the expected duration is shown before Start,
from past runs like it or from a timing; the gallery is titled for what it shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import gan_core.settings  # noqa: E402
from conftest import tiny  # noqa: E402
from gan_core import estimate, jobs, presets, runs  # noqa: E402
from gan_core.recipes import resolve  # noqa: E402
from gan_core.training import train  # noqa: E402

APP, TRAIN, GALLERY = (str(ROOT / p) for p in ("app.py", "pages/train.py", "pages/gallery.py"))
ENV_VARS = ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS")


@pytest.fixture
def env(tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()  # timings are cached per run shape across tests: each test measures its own
    return SimpleNamespace(runs=runs_dir)


@pytest.fixture
def timed(monkeypatch):
    """A timing of 0.5 s per step for whatever is timed, and the configs it was asked about."""
    asked = []

    def fake_timing(cfg):
        asked.append(cfg)
        return 0.5, "timed just now on this machine"

    monkeypatch.setattr(estimate, "time_per_step", fake_timing)
    return asked


@pytest.fixture
def launches(monkeypatch):
    calls = []

    def fake_launch(cfg, runs_dir, max_active=None, owner=None):
        calls.append(cfg)
        return runs.create_run(resolve(cfg), runs_dir)

    monkeypatch.setattr(jobs, "launch", fake_launch)
    return calls


def in_order(at: AppTest) -> list[tuple[str, str]]:
    """(element type, key or the start of its text) of the main area, top to bottom."""
    def walk(node):
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for k in sorted(children):
                yield from walk(children[k])
        else:
            yield node

    return [(n.type, getattr(n, "key", None) or str(getattr(n, "value", ""))) for n in walk(at.main)]


def duration_before_start(at: AppTest) -> str:
    """The duration caption, asserted to sit right above the Start button."""
    order = in_order(at)
    start = order.index(("button", "train_start"))
    kind, text = order[start - 1]
    assert kind == "caption" and text.startswith(":material/schedule: Expected duration: **about "), order[start - 3:start + 1]
    return text


def no_problems(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ----------------------------------------------------------------------------- the start page


def test_the_start_page_says_what_a_gan_is_and_where_to_begin(env, timed):
    at = AppTest.from_file(APP, default_timeout=90).run()
    no_problems(at)
    assert [t.value for t in at.title] == ["Generated faces"]  # the shipped faces demo is the default checkpoint
    text = " ".join(m.value for m in at.markdown)
    assert "**New to GANs?**" in text and "**generator** G" in text and "**discriminator** D" in text
    assert "**Where to begin:**" in text and "**Train**" in text
    assert {"start_ring", "start_digits"} <= {b.key for b in at.button}


def test_a_quick_start_opens_train_with_its_preset_and_the_duration_before_start(env, timed):
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.button(key="start_digits").click().run()
    no_problems(at)
    assert [t.value for t in at.title] == ["Train a GAN"]
    assert (at.selectbox(key="train_recipe").value, at.selectbox(key="train_data").value) == ("gan", "mnist-5k")
    assert (at.selectbox(key="train_image_size").value, at.number_input(key="train_steps").value) == (28, 1500)
    # 1,500 steps x 0.5 s + 5 s to start = 755 s
    assert duration_before_start(at).startswith(":material/schedule: Expected duration: **about 13 min** · 1,500 steps × 0.5 s")
    assert "train_preset_request" not in at.session_state  # used once: later visits keep the user's own choices


# ----------------------------------------------------------------------------- presets on the Train page


def test_presets_fill_the_form_and_start_launches_exactly_the_preset(env, timed, launches):
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    assert [b.key for b in at.button][:2] == ["train_preset_ring", "train_preset_digits"]
    assert "See a GAN learn in one minute" in at.markdown[0].value
    at.selectbox(key="train_recipe").select("gan").run()
    at.number_input(key="train_lr_d").set_value(0.05).run()  # a choice of the user's, which the preset replaces

    at.button(key="train_preset_ring").click().run()
    no_problems(at)
    want = resolve(presets.PRESETS["ring"].config)
    assert at.selectbox(key="train_recipe").value == "gan" and at.selectbox(key="train_data").value == "ring-8"
    assert at.number_input(key="train_steps").value == want.train.steps == 2000
    assert at.number_input(key="train_lr_d").value == want.optim.lr_d
    assert at.number_input(key="train_n_points").value == want.data.n_points
    assert any(c.value.startswith("The original GAN on 8 small Gaussian blobs") for c in at.caption)
    assert any("--recipe gan --data ring-8" in c.value and "--steps 2000" in c.value for c in at.code)

    at.button(key="train_start").click().run()
    no_problems(at)
    (launched,) = launches
    got = resolve(launched)
    assert (got.recipe, got.data, got.model, got.optim, got.loss) == (want.recipe, want.data, want.model, want.optim, want.loss)
    assert (got.train.steps, got.train.batch_size, got.train.seed) == (want.train.steps, want.train.batch_size, want.train.seed)

    at.button(key="train_preset_digits").click().run()
    no_problems(at)
    assert (at.selectbox(key="train_data").value, at.selectbox(key="train_image_size").value) == ("mnist-5k", 28)
    assert at.radio(key="train_channels").value == "As in the data"


def test_the_expected_duration_is_shown_before_start_on_every_launch(env, timed, launches):
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    at.number_input(key="train_steps").set_value(600).run()
    # 600 steps x 0.5 s + 5 s = 305 s, timed once for this shape of run
    text = duration_before_start(at)
    assert text.startswith(":material/schedule: Expected duration: **about 5 min** · 600 steps × 0.5 s per step, "
                           "timed just now on this machine, plus about 5 s to start")
    at.button(key="train_start").click().run()
    no_problems(at)
    assert len(launches) == 1
    assert "about 5 min" in duration_before_start(at)  # still there for the next launch
    at.number_input(key="train_steps").set_value(2400).run()
    assert "**about 20 min**" in duration_before_start(at)  # 2,400 x 0.5 s + 5 s = 1,205 s
    assert len({estimate.signature(resolve(c)) for c in timed}) == 1  # steps change the estimate, not the timing


def test_in_a_public_demo_a_preset_runs_in_full_and_the_time_limit_is_said_before_start(env, timed, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")  # runs of up to 2,000 steps, trained 3 minutes at a time
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    assert at.number_input(key="train_steps").value == 300  # a recipe's own run starts short on a demo
    at.button(key="train_preset_ring").click().run()
    no_problems(at)
    assert at.number_input(key="train_steps").value == 2000  # the preset's whole run: a newcomer sees the ring form
    assert not at.button(key="train_start").disabled
    assert not any("This server stops runs" in c.value for c in at.caption)
    # 2,000 x 0.5 s is more than the demo trains at a time: where it stops, and how to go on, before Start.
    assert duration_before_start(at).endswith(
        "This server trains a run for 3 min at a stretch, so it stops near step 360 (sooner when the server is busy); "
        "Resume continues it.")
    assert any("Public demo: runs may have up to 2,000 steps and train for 3 min at a stretch (Resume continues them); "
               "1 can train at once" in c.value for c in at.caption)


def test_on_a_server_with_a_lower_step_cap_a_preset_says_what_its_capped_run_shows(env, timed, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    monkeypatch.setenv("GAN_WORKBENCH_MAX_STEPS", "300")  # an operator's shorter runs
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    at.button(key="train_preset_ring").click().run()
    no_problems(at)
    assert at.number_input(key="train_steps").value == 300
    assert "**about 3 min**" in duration_before_start(at)  # 300 x 0.5 s + 5 s = 155 s
    assert "stops near step" not in duration_before_start(at)  # 150 s of training fits in 3 minutes
    # What 300 of the preset's 2,000 steps show, said beside what the full run shows (a newcomer saw a cloud, not a ring).
    assert any(c.value.endswith("This server stops runs at 300 of the 2,000 steps this needs, so expect a loose cloud of points "
                                "that has not yet split onto the blobs; on your own machine `python -m gan_core train "
                                "--recipe gan --data ring-8 --steps 2000` trains it in full.") for c in at.caption)
    monkeypatch.delenv("GAN_WORKBENCH_DEMO")  # not a demo, the operator's cap kept: the same sentence, not "This demo"
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    at.button(key="train_preset_ring").click().run()
    assert any("This server stops runs at 300 of the 2,000 steps" in c.value for c in at.caption)
    monkeypatch.delenv("GAN_WORKBENCH_MAX_STEPS")
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    at.button(key="train_preset_ring").click().run()
    assert not any("This server stops runs" in c.value for c in at.caption)  # the full run: nothing to warn of
    assert "stops near step" not in duration_before_start(at)  # and no time limit off a demo


def fabricated_past_run(runs_dir: Path, cfg, seconds_per_step: float) -> Path:
    run_dir = runs.create_run(resolve(cfg), runs_dir)
    rows = [{"step": s, "time": 0.0, "elapsed": 3.0 + s * seconds_per_step, "loss_d": 1.3, "loss_g": 0.7} for s in range(10, 410, 10)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs.write_status(run_dir, state="finished", step=400, device="cpu")
    return run_dir


def test_the_duration_comes_from_past_runs_like_it_when_there_are_some(env, timed):
    ring = presets.PRESETS["ring"].config.replace(**{"train.device": "cpu"})
    fabricated_past_run(env.runs, ring, 0.1)
    fabricated_past_run(env.runs, ring.replace(**{"train.batch_size": 256}), 9.0)  # another shape: not like it
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    at.button(key="train_preset_ring").click().run()
    at.selectbox(key="train_device").select("cpu").run()
    no_problems(at)
    # 2,000 steps x 0.1 s (the past run's slope, start-up left out) + 5 s = 205 s
    assert duration_before_start(at).startswith(":material/schedule: Expected duration: **about 3 min** · 2,000 steps × 0.1 s "
                                                "per step, measured on 1 past run like it here")
    assert not any(c.data.name == "ring-8" for c in timed)  # no timing was needed for it


# ----------------------------------------------------------------------------- the gallery's name


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny real runs on faces, digits and points, trained once for this module."""
    runs_dir = tmp_path_factory.mktemp("gallery-runs")
    made = {}
    for name, cfg in (("faces", tiny("dcgan", "faces-lfw")), ("digits", tiny("gan", "mnist-5k")), ("points", tiny("gan", "ring-8"))):
        cfg = resolve(cfg)
        made[name] = runs.create_run(cfg, runs_dir)
        assert train(cfg, made[name])["state"] == "finished"
    return runs_dir, made


def test_the_gallery_is_titled_for_what_it_shows(trained, tmp_path, monkeypatch):
    runs_dir, made = trained
    (tmp_path / "checkpoints").mkdir()
    monkeypatch.setattr(gan_core.settings, "ROOT", tmp_path)  # no shipped checkpoints: only the three runs
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(GALLERY, default_timeout=90).run()
    assert not at.exception
    titles = {}
    for what, run_dir in made.items():
        at.selectbox(key="gallery_ckpt").set_value(str(run_dir / "checkpoints" / "last.safetensors")).run()
        assert not at.exception
        titles[what] = [t.value for t in at.title]
    assert titles == {"faces": ["Generated faces"], "digits": ["Generated digits"], "points": ["Generated points"]}
