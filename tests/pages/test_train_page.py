"""The Train page, driven with Streamlit's AppTest.

``jobs.launch`` is replaced by a recorder that creates a real run directory (with
status, metrics and a sample grid written here), so the live view renders from
files exactly as it does for a background run, without training anything. The
concurrency limit uses the real ``jobs.launch``, which refuses before spawning.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from gan_core import jobs, runs
from gan_core.config import Config, DataConfig, command_line
from gan_core.errors import DataError, GanError
from gan_core.data.base import SOURCES
from gan_core.recipes import resolve
from gan_core.uploads import save_upload
from gan_core.visitors import UPLOADS

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")
SERVER, UPLOAD = "Folder or zip on the server", "Upload a .zip"


@pytest.fixture
def env(tmp_path, monkeypatch):
    runs_dir, data_root = tmp_path / "runs", tmp_path / "data"
    data_root.mkdir()
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(data_root))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    return SimpleNamespace(runs=runs_dir, data=data_root)


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60)


def png(size: int = 8, value: int = 128, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), value if mode == "L" else (value, 40, 200)).save(buf, format="PNG")
    return buf.getvalue()


def fake_run(runs_dir: Path, cfg: Config, state: str = "running", step: int = 30, **status) -> Path:
    """A run directory as a worker leaves it part-way: status, metrics rows and a sample grid."""
    run_dir = runs.create_run(resolve(cfg), runs_dir)
    runs.write_status(run_dir, state=state, step=step, eta=42.0, images_per_s=321.0, elapsed=5.0, **status)
    wasserstein = resolve(cfg).loss.g_loss == "wasserstein"
    with open(run_dir / "metrics.jsonl", "w") as f:
        for s in range(10, step + 1, 10):
            row = {"step": s, "time": 0.0, "elapsed": s / 6, "loss_d": 1.0 / s, "loss_g": 2.0 + s / 100, "images_per_s": 321.0}
            if wasserstein:
                row.update(critic_real=0.5, critic_fake=-0.5, wasserstein=1.0)
            else:
                row.update(d_real=0.8, d_fake=0.2, d_fake_g=0.25)
            f.write(json.dumps(row) + "\n")
    (run_dir / "samples" / f"step_{min(step, 20):07d}.png").write_bytes(png(32))
    return run_dir


@pytest.fixture
def launches(env, monkeypatch):
    """Record every jobs.launch call; each returns a fake run directory that is 'running'."""
    calls = []

    def fake_launch(cfg, runs_dir, max_active=None, owner=None):
        calls.append(SimpleNamespace(cfg=cfg, runs_dir=Path(runs_dir), max_active=max_active, owner=owner))
        return fake_run(Path(runs_dir), cfg)

    monkeypatch.setattr(jobs, "launch", fake_launch)
    return calls


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


# ----------------------------------------------------------------------------- form


def test_an_advanced_setting_from_its_declaration_alone_reaches_the_run_and_is_judged(env, launches):
    """gan_core.form declares "metrics every N steps" and nothing else names it: it is
    drawn, sent, shown on the command line, kept within bounds and launched."""
    at = page().run()
    assert at.number_input(key="train_log_every").value == Config().train.log_every
    at.number_input(key="train_log_every").set_value(5).run()
    assert any("--log-every 5" in c for c in codes(at))
    at.number_input(key="train_log_every").set_value(0).run()
    assert at.button(key="train_start").disabled
    assert "Metrics every (steps) must be at least 1, not 0." in errors(at)  # the engine's sentence in the form's words
    at.number_input(key="train_log_every").set_value(5).run()
    at.button(key="train_start").click().run()
    assert [c.cfg.train.log_every for c in launches] == [5]


def test_renders_with_recipe_defaults(env):
    at = page().run()
    assert not at.exception
    assert not errors(at)
    defaults = resolve(Config(recipe="dcgan", data=DataConfig(name="faces-lfw")))
    assert at.selectbox(key="train_recipe").value == "dcgan"
    assert at.selectbox(key="train_data").value == "faces-lfw"
    assert at.number_input(key="train_lr_g").value == defaults.optim.lr_g
    assert at.number_input(key="train_lr_d").value == defaults.optim.lr_d
    assert at.number_input(key="train_d_steps").value == defaults.loss.d_steps
    assert at.selectbox(key="train_optimizer").value == defaults.optim.optimizer
    assert at.radio(key="train_g_loss").value == defaults.loss.g_loss
    assert at.number_input(key="train_steps").value == defaults.train.steps == 2000  # the recipe's choice
    assert any(o.startswith("auto") for o in at.selectbox(key="train_device").options)
    assert any("CPU" in o for o in at.selectbox(key="train_device").options)
    assert any(c.startswith("python -m gan_core train") for c in codes(at))
    assert "No runs yet" in at.info[0].value
    # The recipe's description is shown next to the menu.
    assert any("Radford" in c.value for c in at.caption)


def test_changing_recipe_resets_to_its_defaults(env):
    at = page().run()
    at.selectbox(key="train_recipe").select("wgan").run()
    assert not at.exception
    assert at.selectbox(key="train_optimizer").value == "rmsprop"
    assert at.number_input(key="train_lr_g").value == pytest.approx(5e-5)
    assert at.number_input(key="train_d_steps").value == 5
    fixed = at.radio(key="train_g_loss_fixed")
    assert fixed.value == "wasserstein" and fixed.disabled
    # wgan also trains on points: toy sources are offered, with n_points instead of image size.
    assert "ring-8 (vector)" in at.selectbox(key="train_data").options
    at.selectbox(key="train_data").select("ring-8").run()
    assert at.number_input(key="train_n_points").value == DataConfig().n_points
    assert "train_image_size" not in [w.key for w in at.selectbox]


def test_start_launches_the_config_built_from_widgets_and_shows_it_live(env, launches):
    at = page().run()
    at.number_input(key="train_steps").set_value(300)
    at.number_input(key="train_batch_size").set_value(32)
    at.number_input(key="train_lr_g").set_value(1e-4)
    at.number_input(key="train_seed").set_value(7)
    at.radio(key="train_g_loss").set_value("minimax")
    at.selectbox(key="train_image_size").select(16)
    at.radio(key="train_channels").set_value("Grey")
    at.button(key="train_start").click().run()
    assert not at.exception
    assert not errors(at)

    assert len(launches) == 1
    call = launches[0]
    cfg = call.cfg
    assert call.runs_dir == env.runs.resolve()
    assert call.max_active == 2
    assert (cfg.recipe, cfg.data.name, cfg.data.image_size, cfg.data.channels) == ("dcgan", "faces-lfw", 16, 1)
    assert (cfg.train.steps, cfg.train.batch_size, cfg.train.seed) == (300, 32, 7)
    assert cfg.optim.lr_g == pytest.approx(1e-4)
    assert cfg.loss.g_loss == "minimax"
    # Unchanged fields stay unset, so the recipe's defaults apply.
    assert cfg.optim.lr_d is None and cfg.optim.optimizer is None and cfg.loss.d_steps is None
    assert resolve(cfg).optim.lr_d == pytest.approx(2e-4)
    # The first sample grid comes early: within the first 25 steps.
    assert cfg.train.sample_every <= 25

    # The page watches the new run, from its files.
    run_id = runs.list_runs(env.runs)[0].id
    assert at.query_params["run"] == run_id
    assert at.selectbox(key="train_watch_select").value == run_id
    assert any("Step 30 / 300" in p.proto.text for p in at.get("progress"))
    assert any("ETA" in p.proto.text and "images/s" in p.proto.text for p in at.get("progress"))
    assert len(at.get("plotly_chart")) == 2
    images = at.get("image")
    assert images and "step 20" in images[0].captions[0]
    assert at.button(key="train_stop")
    # The equivalent command line of the launched config.
    assert any("python -m gan_core train" in c and "--steps 300" in c and "--g-loss minimax" in c for c in codes(at))


def test_unchanged_fields_give_the_recipe_defaults(env, launches):
    at = page().run()
    at.selectbox(key="train_recipe").select("wgan-gp").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    cfg = launches[0].cfg
    assert cfg.optim.optimizer is None and cfg.optim.lr_g is None and cfg.loss.g_loss is None and cfg.loss.d_steps is None
    expected = resolve(Config(recipe="wgan-gp", data=DataConfig(name="faces-lfw")))
    got = resolve(cfg)
    assert (got.optim, got.loss, got.model) == (expected.optim, expected.loss, expected.model)
    # WGANs show the critic, not D's probabilities.
    assert len(at.get("plotly_chart")) == 2
    assert any(m.label == "Wasserstein estimate" for m in at.metric)


@pytest.mark.parametrize("key, value, reason", [
    # The engine's sentences in the form's words: a visitor never saw the command line's flags (helper-32).
    ("train_steps", -5, "Steps must be at least 1, not -5."),
    ("train_batch_size", 0, "Batch size must be at least 1, not 0."),
    ("train_lr_g", 0.0, "Learning rate G must be a positive learning rate, not 0.0."),
    ("train_d_steps", 0, "k (D steps per G step) must be at least 1, not 0."),
    ("train_batch_size", 5000, "Batch size must be between 1 and 4,096, not 5,000."),
])
def test_an_invalid_field_disables_start_with_the_reason(env, launches, key, value, reason):
    at = page().run()
    at.number_input(key=key).set_value(value).run()
    assert not at.exception
    assert at.number_input(key=key).value == value  # what was typed reaches the page: not clamped, not the old value
    assert errors(at) == [reason]
    assert at.button(key="train_start").disabled
    forged = at.button(key="train_start")
    forged.proto.disabled = False  # a click sent by hand, as the browser would not: the server still refuses
    forged.click().run()
    assert not launches


def test_the_ring_with_batch_size_one_disables_start_with_the_engines_sentence(env, launches):
    """Issue #21: the ring preset at batch size 1 reached PyTorch ("Expected more than 1 value per channel")."""
    at = page().run()
    at.button(key="train_preset_ring").click().run()
    at.number_input(key="train_batch_size").set_value(1).run()
    assert not at.exception
    assert errors(at) == ["Recipe 'gan' with --arch mlp normalises over the items of each batch (batch norm), which needs at "
                          "least 2 of them; use Batch size 2 or more."]
    assert at.button(key="train_start").disabled
    at.number_input(key="train_batch_size").set_value(2).run()
    assert not errors(at) and not at.button(key="train_start").disabled


def test_the_command_shown_is_the_config_launched(env, launches):
    at = page().run()
    at.session_state["train_steps"] = -7  # a value set directly, as a browser with no bounds sends it
    at.run()
    assert at.button(key="train_start").disabled and "--steps -7" in codes(at)[0]
    at.number_input(key="train_steps").set_value(450)
    at.number_input(key="train_batch_size").set_value(24)
    at.number_input(key="train_lr_d").set_value(3e-4)
    at.selectbox(key="train_recipe").select("gan").run()
    assert not errors(at) and not at.button(key="train_start").disabled
    shown = codes(at)[0]
    at.button(key="train_start").click().run()
    assert not at.exception and len(launches) == 1
    assert command_line(launches[0].cfg) == shown
    assert "--steps 450" in shown and "--batch-size 24" in shown and "--recipe gan" in shown


def form_widgets(at: AppTest) -> dict:
    return {w.key: w for w in [*at.selectbox, *at.radio, *at.number_input]
            if (w.key or "").startswith("train_") and w.key != "train_watch_select"}


def drawn(widget):
    """What the browser draws for a widget it draws anew (on opening the page, or when
    it comes back after being hidden): the value the server sends with it, else its
    default, which is its first option or its minimum (seen in Chromium). A widget
    that stays on screen keeps what the browser showed."""
    p = widget.proto
    if hasattr(p, "options"):  # selectbox, radio
        return p.raw_value if p.set_value else p.options[p.default]
    return p.value if p.set_value else p.default


def check(at: AppTest, before: set = frozenset()) -> None:
    """Every widget drawn anew shows the value the server uses, and the data caption
    and the command line say the same as the widgets."""
    assert not at.exception
    widgets = form_widgets(at)
    for key in set(widgets) - set(before):
        w = widgets[key]
        assert drawn(w) == (w.options[w.index] if hasattr(w, "options") else w.value), key
    values = {k: w.value for k, w in widgets.items()}
    if "train_data" not in values:
        return  # no built-in set chosen (an upload)
    name, command = values["train_data"], codes(at)[0]
    assert any(c.value == SOURCES.get(name).description for c in at.caption)  # the caption is the selected set's
    defaults = resolve(Config(recipe=values["train_recipe"]).replace(**{"data.name": name}))
    assert (f"--data {name}" in command) == (name != Config().data.name)
    for key, flag, default in (("train_image_size", "--image-size", defaults.data.image_size),
                               ("train_n_points", "--n-points", defaults.data.n_points)):
        if key in values:
            assert (f"{flag} {values[key]}" in command) == (values[key] != default), command


def step(at: AppTest, changed) -> None:
    """Run the page after a widget change (``changed``, not yet run), then check it."""
    before = set(form_widgets(at))
    changed.run()
    check(at, before)


def test_hidden_fields_come_back_as_they_were_and_the_browser_shows_them(env, launches):
    at = page().run()
    check(at)
    step(at, at.selectbox(key="train_recipe").select("gan"))
    step(at, at.selectbox(key="train_data").select("ring-8"))
    step(at, at.number_input(key="train_n_points").set_value(5000))
    step(at, at.selectbox(key="train_recipe").select("dcgan"))  # points are hidden, the image size is back
    assert at.selectbox(key="train_image_size").value == DataConfig().image_size  # its default, not the smallest
    step(at, at.radio(key="train_data_mode").set_value(UPLOAD))
    step(at, at.radio(key="train_data_mode").set_value("Built-in data"))  # the built-in select is back
    assert at.selectbox(key="train_data").value == "faces-lfw"
    step(at, at.selectbox(key="train_recipe").select("gan"))
    step(at, at.selectbox(key="train_data").select("ring-8"))
    assert at.number_input(key="train_n_points").value == 5000  # as the user left it, not the minimum
    at.button(key="train_start").click().run()
    cfg = launches[0].cfg
    assert (cfg.recipe, cfg.data.name, cfg.data.n_points) == ("gan", "ring-8", 5000)


def test_concurrency_limit_is_one_sentence(env, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUNS", "2")
    for _ in range(2):
        fake_run(env.runs, Config())
    at = page().run()
    # Said before the click; Start stays enabled, since on a demo the refusal keeps the visitor the next turn.
    assert "Every training slot on this server is taken; Start says when you can start another." in [c.value for c in at.caption]
    assert not at.button(key="train_start").disabled
    at.button(key="train_start").click().run()  # the real jobs.launch: refuses before spawning
    assert not at.exception
    assert len(errors(at)) == 1
    assert "limit is 2" in errors(at)[0] and errors(at)[0].count(".") <= 2
    assert len(runs.list_runs(env.runs)) == 2


@pytest.mark.parametrize("path, phrase", [("missing-folder", "does not exist"), ("/etc", "outside the data folder")])
def test_bad_server_path_is_one_sentence(env, launches, path, phrase):
    at = page().run()
    at.radio(key="train_data_mode").set_value(SERVER).run()
    assert f"`{env.data.resolve()}`" in " ".join(c.value for c in at.caption)  # the data root is shown
    at.text_input(key="train_server_path").input(path).run()
    assert not at.exception
    assert len(errors(at)) == 1 and phrase in errors(at)[0]
    assert at.button(key="train_start").disabled  # a browser user cannot press it
    assert not launches


def test_server_folder_under_the_data_root_launches(env, launches):
    faces = env.data / "faces"
    faces.mkdir()
    for i in range(4):
        (faces / f"{i}.png").write_bytes(png(16, 30 * i))
    at = page().run()
    at.radio(key="train_data_mode").set_value(SERVER).run()
    at.text_input(key="train_server_path").input("faces").run()
    assert not errors(at)
    at.button(key="train_start").click().run()
    assert not at.exception
    cfg = launches[0].cfg
    assert (cfg.data.name, cfg.data.path) == ("folder", str(faces.resolve()))
    assert any(str(faces.resolve()) in c for c in codes(at))


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_uploaded_zip_is_saved_checked_and_trained_on(env, launches):
    at = page().run()
    at.radio(key="train_data_mode").set_value(UPLOAD).run()
    assert at.button(key="train_start").disabled
    data = zip_of({f"faces/{i}.png": png(12, 20 * i) for i in range(5)})
    at.file_uploader(key="train_upload").upload("../../evil name.zip", data, "application/zip").run()
    assert not at.exception and not errors(at)
    assert "5 grey images" in at.success[0].value
    at.button(key="train_start").click().run()
    cfg = launches[0].cfg
    path = Path(cfg.data.path)
    assert cfg.data.name == "folder"
    assert path.parent == env.runs.resolve() / UPLOADS and "evil" not in path.name and path.read_bytes() == data


def test_uploaded_zip_without_images_is_one_sentence(env, launches):
    at = page().run()
    at.radio(key="train_data_mode").set_value(UPLOAD).run()
    at.file_uploader(key="train_upload").upload("notes.zip", zip_of({"readme.txt": b"hello"}), "application/zip").run()
    assert not at.exception
    assert len(errors(at)) == 1 and "contains no images" in errors(at)[0]
    assert at.button(key="train_start").disabled
    assert not list((env.runs / UPLOADS).glob("*.zip"))  # nothing kept


def test_save_upload_rejects_what_a_run_could_not_use(tmp_path):
    with pytest.raises(DataError, match="not a zip"):
        save_upload(b"GIF89a not a zip", tmp_path)
    with pytest.raises(DataError, match="empty"):
        save_upload(b"", tmp_path)
    with pytest.raises(DataError, match="could be read"):
        save_upload(zip_of({"a.png": b"not really a png", "b.jpg": b"nor a jpeg"}), tmp_path)
    assert not list((tmp_path / UPLOADS).glob("*"))
    good = zip_of({"cats/a.png": png(10, mode="RGB"), "dogs/b.png": png(10), "dogs/c.png": b"broken"})
    first, again = save_upload(good, tmp_path), save_upload(good, tmp_path)
    assert first.path == again.path  # the same upload is stored once
    assert (first.images, first.channels, first.class_names, first.skipped) == (2, 3, ["cats", "dogs"], 1)
    assert "2 colour images in 2 classes" in first.summary()


def test_demo_mode_caps_steps_and_says_so(env, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    at = page().run()
    steps = at.number_input(key="train_steps")
    assert steps.value == 300  # the demo's form starts short (a run that shows faces in about 20 s)
    assert any("runs may have up to 2,000 steps and train for 3 min at a stretch (Resume continues them); 1 can train "
               "at once; runs are kept for 24 hours after they last change" in c.value
               and "download a run's zip (Runs page) to keep it" in c.value for c in at.caption)
    steps.set_value(2000).run()
    assert not at.button(key="train_start").disabled
    steps.set_value(2001).run()  # what a browser sends: the box has no max, the page judges it
    assert at.button(key="train_start").disabled
    assert errors(at) == ["This server trains at most 2,000 steps per run, not 2,001; lower Steps."]


# ----------------------------------------------------------------------------- watching runs


def test_run_in_the_url_is_reattached_and_bad_ids_are_ignored(env):
    old = fake_run(env.runs, Config().replace(**{"train.steps": 300}), state="finished", step=300)
    active = fake_run(env.runs, Config(recipe="gan", data=DataConfig(name="ring-8")))
    at = page()
    at.query_params["run"] = old.name
    at.run()
    assert not at.exception
    assert at.selectbox(key="train_watch_select").value == old.name

    at = page()
    at.query_params["run"] = "../../../etc"  # not a listed run: never used as a path
    at.run()
    assert not at.exception
    assert at.selectbox(key="train_watch_select").value == active.name  # the newest active run
    assert at.query_params["run"] == active.name


def test_a_later_visit_shows_the_latest_run_stopped_with_resume(env):
    """A refresh without ?run= or a visit from the sidebar: the visitor's latest run, not "no run is training"."""
    fake_run(env.runs, Config().replace(**{"train.steps": 300}), state="finished", step=300)
    stopped = fake_run(env.runs, Config(), state="stopped", step=20)
    at = page().run()
    assert not at.exception
    assert at.selectbox(key="train_watch_select").value == stopped.name
    assert at.query_params["run"] == stopped.name
    assert "train_resume" in [b.key for b in at.button]
    assert not any("No run is training" in c.value for c in at.caption)


def test_picking_a_run_updates_the_url(env):
    a = fake_run(env.runs, Config(), state="stopped", step=20)
    b = fake_run(env.runs, Config().replace(**{"train.steps": 300}), state="finished", step=300)
    at = page().run()
    assert at.selectbox(key="train_watch_select").value == b.name  # nothing active: the latest run
    at.selectbox(key="train_watch_select").select(a.name).run()
    assert at.query_params["run"] == a.name
    at.selectbox(key="train_watch_select").select(b.name).run()
    assert at.query_params["run"] == b.name and not at.exception


def test_a_point_run_counts_points_per_second_not_images(env):
    run_dir = fake_run(env.runs, Config(recipe="gan", data=DataConfig(name="ring-8")))
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    (bar,) = at.get("progress")
    assert "321 points/s" in bar.proto.text and "images/s" not in bar.proto.text


def test_finished_run_shows_its_final_state_without_controls(env):
    run_dir = fake_run(env.runs, Config().replace(**{"train.steps": 300}), state="finished", step=300)
    (run_dir / "samples" / "step_0000300.png").write_bytes(png(32, 200))
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    assert any("Finished all 300 steps" in s.value for s in at.success)
    keys = [b.key for b in at.button]
    assert "train_stop" not in keys and "train_resume" not in keys
    history = at.select_slider(key=f"train_grid_{run_dir.name}")
    assert list(history.options) == ["20", "300"] and history.value == 300


def explode(run_dir: Path, loss_g: float = 8.9e6) -> None:
    """Make the last logged row of a run's metrics.jsonl one whose G loss blew up."""
    path = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[-1].update(loss_d=0.0, loss_g=loss_g)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_run_whose_losses_exploded_is_never_a_green_finished(env):
    run_dir = fake_run(env.runs, Config().replace(**{"train.steps": 300}), state="finished", step=300)
    explode(run_dir)
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    assert not at.success
    (error,) = errors(at)
    assert error.startswith("Ran all 300 steps in 5 s.") and "generator loss was 8,900,000 at step 300" in error
    badges = " ".join(m.value for m in at.markdown if "-badge[" in m.value)
    assert ":red-badge[exploded]" in badges and "green" not in badges

    running = fake_run(env.runs, Config(), state="running", step=30)
    explode(running, float("nan"))
    at.query_params["run"] = running.name
    at.run()
    assert not at.exception
    assert any("generator loss became NaN at step 30" in w.value for w in at.warning)  # still training: Stop saves time
    assert "blue-badge[running]" in " ".join(m.value for m in at.markdown)


def test_stop_asks_the_run_to_stop(env):
    run_dir = fake_run(env.runs, Config())
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    at.button(key="train_stop").click().run()
    assert not at.exception
    assert (run_dir / "STOP").exists()
    assert at.button(key="train_stop").disabled and at.button(key="train_stop").label == "Stopping..."


def test_failed_run_shows_its_error_and_resumes(env, monkeypatch):
    run_dir = fake_run(env.runs, Config(), state="failed", step=10, error="None of the 3 images could be read; check them.")
    (run_dir / "train.log").write_text("Resuming run\nTraceback: something\n")
    resumed = []
    monkeypatch.setattr(jobs, "resume", lambda path, max_active=None: resumed.append((Path(path), max_active)))
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    assert errors(at) == ["None of the 3 images could be read; check them."]
    assert any("Traceback: something" in c for c in codes(at))  # the worker's log, for the details
    at.button(key="train_resume").click().run()
    assert resumed == [(run_dir, 2)]


def test_a_failed_run_whose_settings_would_crash_again_offers_no_resume(env, monkeypatch):
    """A run started before the engine refused batch norm over one item failed at its first step; Resume would too."""
    run_dir = fake_run(env.runs, Config(recipe="gan", data=DataConfig(name="ring-8")), state="failed", step=0,
                       error="Training crashed (ValueError: Expected more than 1 value per channel when training); see train.log.")
    old = json.loads((run_dir / "config.json").read_text())
    old["train"]["batch_size"] = 1
    (run_dir / "config.json").write_text(json.dumps(old))
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    assert "train_resume" not in [b.key for b in at.button]
    assert any(c.value.startswith("This run would fail the same way if resumed, because recipe 'gan' with --arch mlp") and
               c.value.endswith("use --batch-size 2 or more in a new run.") for c in at.caption)
    with pytest.raises(GanError, match="would fail the same way"):
        jobs.resume(run_dir)  # the engine refuses too, whoever asks


def test_resume_refused_is_one_sentence(env, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUNS", "1")
    fake_run(env.runs, Config())  # one active run fills the limit
    stopped = fake_run(env.runs, Config(), state="stopped", step=20)
    at = page()
    at.query_params["run"] = stopped.name
    at.run()
    at.button(key="train_resume").click().run()  # the real jobs.resume refuses before spawning
    assert not at.exception
    assert len(errors(at)) == 1 and "limit is 1" in errors(at)[0]
    assert runs.read_status(stopped)["state"] == "stopped"


def test_choices_survive_a_visit_to_another_page(env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_recipe").select("wgan-gp").run()
    at.number_input(key="train_steps").set_value(700)
    at.number_input(key="train_lr_d").set_value(3e-4).run()
    at.switch_page("pages/runs.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.selectbox(key="train_recipe").value == "wgan-gp"
    assert at.number_input(key="train_steps").value == 700
    assert at.number_input(key="train_lr_d").value == pytest.approx(3e-4)
    assert at.number_input(key="train_lr_g").value == pytest.approx(1e-4)  # wgan-gp's default, kept


def test_a_double_click_starts_one_run(env, launches):
    at = page().run()
    at.button(key="train_start").click().run()
    at.button(key="train_start").click().run()
    assert len(launches) == 1 and not at.exception


def test_run_stopped_before_its_first_grid_says_so(env):
    run_dir = fake_run(env.runs, Config().replace(**{"train.sample_every": 50}), state="stopped", step=14)
    for p in (run_dir / "samples").glob("*.png"):
        p.unlink()
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    assert any("before the first one at step 50" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 2  # its one metrics row is still drawn

    config = json.loads((run_dir / "config.json").read_text())  # edited by hand: no grid is ever due
    config["train"]["sample_every"] = 0
    (run_dir / "config.json").write_text(json.dumps(config))
    at.run()
    assert not at.exception and not [c.value for c in at.caption if "step 0" in c.value]
    assert "No sample grid was saved: the run ended at step 14 with none in its samples folder." in [c.value for c in at.caption]


# ----------------------------------------------------------------------------- conditional recipes


def test_cgan_is_offered_and_data_without_labels_disables_start_with_the_engines_reason(env, launches):
    at = page().run()
    assert "cgan" in at.selectbox(key="train_recipe").options
    at.selectbox(key="train_recipe").select("cgan").run()
    assert not at.exception
    # faces-lfw (the default) has no labels: choosing cgan moves to a labelled built-in set.
    assert at.selectbox(key="train_data").value == "mnist-5k"
    assert "mnist-5k (image, labelled)" in at.selectbox(key="train_data").options
    assert "faces-lfw (image, no labels)" in at.selectbox(key="train_data").options
    assert not at.button(key="train_start").disabled and not errors(at)

    at.selectbox(key="train_data").select("faces-lfw").run()  # chosen anyway
    assert not at.exception  # the form still draws (the recipe's settings came from data it can train on)
    with pytest.raises(GanError) as reason:
        resolve(Config(recipe="cgan", data=DataConfig(name="faces-lfw")))
    assert at.button(key="train_start").disabled
    assert errors(at) == [str(reason.value)] and "class labels" in errors(at)[0]
    assert not launches

    at.selectbox(key="train_data").select("mnist-5k").run()
    at.button(key="train_start").click().run()
    assert [(c.cfg.recipe, c.cfg.data.name) for c in launches] == [("cgan", "mnist-5k")]


def test_a_zip_without_class_folders_cannot_train_cgan_and_one_with_them_can(env, launches):
    at = page().run()
    at.selectbox(key="train_recipe").select("cgan").run()
    at.radio(key="train_data_mode").set_value(UPLOAD).run()
    flat = zip_of({f"{i}.png": png(12, 20 * i) for i in range(4)})
    at.file_uploader(key="train_upload").upload("flat.zip", flat, "application/zip").run()
    assert not at.exception
    assert errors(at) == ["Recipe cgan needs class labels and this zip has no class sub-folders; "
                          "put each class's images in a sub-folder of its own, or use mnist-5k."]
    assert at.button(key="train_start").disabled

    classes = zip_of({f"{name}/{i}.png": png(12, 60 * k + i) for k, name in enumerate(("cats", "dogs")) for i in range(3)})
    at.file_uploader(key="train_upload").upload("classes.zip", classes, "application/zip").run()
    assert not at.exception and not errors(at)
    assert "in 2 classes" in at.success[0].value
    at.button(key="train_start").click().run()
    assert [(c.cfg.recipe, c.cfg.data.name) for c in launches] == [("cgan", "folder")]


def test_celeba_on_the_server_takes_the_attributes_to_condition_on(env, launches):
    (env.data / "celeba").mkdir()
    at = page().run()
    at.radio(key="train_data_mode").set_value(SERVER).run()
    at.selectbox(key="train_server_source").select("celeba").run()
    at.text_input(key="train_server_path").input("celeba").run()
    assert "train_attributes" not in [t.key for t in at.text_input]  # dcgan: not conditioned on anything
    at.selectbox(key="train_recipe").select("cgan").run()
    at.text_input(key="train_attributes").input(" Smiling, Young ,,Male ").run()
    assert not at.exception and not errors(at)
    assert any("--attributes Smiling,Young,Male" in c for c in codes(at))
    at.button(key="train_start").click().run()
    cfg = launches[0].cfg
    assert (cfg.recipe, cfg.data.name, cfg.data.attributes) == ("cgan", "celeba", "Smiling,Young,Male")
    assert cfg.data.path == str((env.data / "celeba").resolve())


def test_the_live_view_says_a_cgan_grid_has_one_row_per_class(env):
    fake_run(env.runs, Config(recipe="cgan", data=DataConfig(name="mnist-5k")))
    at = page().run()
    assert not at.exception
    caption = at.get("image")[0].captions[0]
    assert caption.startswith("Fixed-noise samples, step 20: one row per class") and "same noise down each column" in caption


# ----------------------------------------------------------------------------- pix2pix


def ab_png(value: int, size: int = 16) -> bytes:
    """An A|B pair side by side: A grey ``value`` on the left, B its inverse on the right."""
    buf = io.BytesIO()
    img = Image.new("RGB", (2 * size, size), (value, value, value))
    img.paste((255 - value, 40, 200), (size, 0, 2 * size, size))
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_pix2pix_derives_pairs_from_built_in_data_and_start_says_why_grey_needs_colour(env, launches):
    from gan_core.data import load_data

    at = page().run()
    at.selectbox(key="train_recipe").select("pix2pix").run()
    assert not at.exception and not errors(at)  # before: refused for want of pairs
    assert at.selectbox(key="train_pairs").options == ["edges → picture", "grey → colour", "blurred → sharp",
                                                       "masked → filled", "4x smaller → sharp (super-resolution)",
                                                       "grey → colour (Lab, lightness kept)"]
    # (no pairs from files among the built-in sets)
    assert any(c.value.startswith("The images are the targets; each source is the image's edge map") for c in at.caption)
    assert not at.button(key="train_start").disabled
    assert codes(at)[0].startswith("python -m gan_core train --recipe pix2pix --pairs edges ")

    at.selectbox(key="train_pairs").select("grey").run()  # the faces are grey: no colours to learn
    with pytest.raises(GanError) as reason:
        load_data(DataConfig(name="faces-lfw", pairs="grey", image_size=16))
    assert errors(at) == [str(reason.value)] and at.button(key="train_start").disabled

    at.selectbox(key="train_data").select("photos").run()
    assert not errors(at) and not at.button(key="train_start").disabled
    at.radio(key="train_arch").set_value("encoder-decoder")
    at.selectbox(key="train_objective").select("L1 only").run()  # the paper's ablations
    shown = codes(at)[0]
    at.button(key="train_start").click().run()
    assert not at.exception and len(launches) == 1
    cfg = launches[0].cfg
    assert (cfg.recipe, cfg.data.name, cfg.data.pairs, cfg.model.arch, cfg.loss.gan_weight) == (
        "pix2pix", "photos", "grey", "encoder-decoder", 0.0)
    assert command_line(cfg) == shown and "--pairs grey" in shown and "--gan-weight 0.0" in shown
    assert resolve(cfg).loss.l1_weight == 100.0


def test_pix2pix_trains_on_an_uploaded_zip_of_ab_pairs_in_either_direction(env, launches):
    at = page().run()
    at.selectbox(key="train_recipe").select("pix2pix").run()
    at.radio(key="train_data_mode").set_value(UPLOAD).run()
    at.selectbox(key="train_pairs").select("files").run()
    unmatched = zip_of({"A/1.png": png(16), "B/2.png": png(16)})
    at.file_uploader(key="train_upload").upload("pairs.zip", unmatched, "application/zip").run()
    assert not at.exception
    assert len(errors(at)) == 1 and "holds no image pairs" in errors(at)[0] and "the uploaded zip" in errors(at)[0]
    assert str(env.runs) not in errors(at)[0] and at.button(key="train_start").disabled

    at.file_uploader(key="train_upload").upload("facades.zip", zip_of({f"train/{i}.png": ab_png(30 * i) for i in range(5)}),
                                                 "application/zip").run()
    assert not at.exception and not errors(at)
    assert at.success[0].value == "Found 5 colour image pairs as A|B side-by-side images."
    at.radio(key="train_direction").set_value("BtoA").run()
    shown = codes(at)[0]
    assert "--data paired" in shown and "--direction BtoA" in shown and "--pairs" not in shown
    at.button(key="train_start").click().run()
    cfg = launches[0].cfg
    assert (cfg.recipe, cfg.data.name, cfg.data.direction, cfg.data.pairs) == ("pix2pix", "paired", "BtoA", None)
    assert Path(cfg.data.path).parent == env.runs.resolve() / UPLOADS and command_line(cfg) == shown


def test_pix2pix_on_the_server_reads_pairs_from_a_folder_or_derives_them(env, launches):
    facades = env.data / "facades"
    for side in ("A", "B"):
        (facades / side).mkdir(parents=True)
        for i in range(3):
            (facades / side / f"{i}.png").write_bytes(png(16, 40 * i + (0 if side == "A" else 100), "RGB"))
    at = page().run()
    at.selectbox(key="train_recipe").select("pix2pix").run()
    at.radio(key="train_data_mode").set_value(SERVER).run()
    assert "paired" not in at.selectbox(key="train_server_source").options  # pairs on disk come from the Pairs menu
    at.selectbox(key="train_pairs").select("files").run()
    assert "train_server_source" not in [s.key for s in at.selectbox]
    at.text_input(key="train_server_path").input("facades").run()
    assert not at.exception and not errors(at)
    at.button(key="train_start").click().run()
    cfg = launches[0].cfg
    assert (cfg.data.name, cfg.data.path, cfg.data.direction) == ("paired", str(facades.resolve()), "AtoB")

    at.selectbox(key="train_pairs").select("blur").run()  # the same folder's images as targets, blurred copies as sources
    assert at.selectbox(key="train_server_source").value == "folder"
    at.button(key="train_start").click().run()
    assert (launches[1].cfg.data.name, launches[1].cfg.data.pairs) == ("folder", "blur")


def test_the_live_view_says_a_pix2pix_grid_holds_source_output_target_triplets(env):
    fake_run(env.runs, Config(recipe="pix2pix", data=DataConfig(name="faces-lfw", pairs="edges")))
    at = page().run()
    assert not at.exception
    caption = at.get("image")[0].captions[0]
    assert caption == ("Source | output | target triplets, step 20: read each row in threes: the edge map, the generator's "
                       "output from it, and the real target, on fixed pairs from the data")


def test_a_long_runs_live_view_reads_new_bytes_only_charts_thinned_rows_and_judges_the_last_ones(env, monkeypatch):
    """A run of 200,000 logged steps (the Train page read every row of metrics.jsonl into the
    session before, and kept them all): the charts get a few thousand rows, an explosion in
    the last row is still seen, and no read of the file goes to its end from its start."""
    run_dir = fake_run(env.runs, Config().replace(**{"train.steps": 2_000_000}), state="running", step=30)
    row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    with open(run_dir / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps({**row, "step": s}) + "\n" for s in range(10, 2_000_010, 10))
    reads = []
    monkeypatch.setattr(runs, "read_metrics", lambda *a, **k: reads.append(a) or ([], 0))  # the reader that reads to the end
    at = page()
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception and not reads
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    points = [len(base64.b64decode(t["x"]["bdata"])) // np.dtype(t["x"]["dtype"]).itemsize if isinstance(t["x"], dict)
              else len(t["x"]) for t in loss["data"]]
    assert points and max(points) <= 2 * runs.DISPLAY_ROWS + 1  # of 200,000 rows
    assert any("at step 2,000,000" in c.value for c in at.caption)

    explode(run_dir, float("nan"))  # rewritten: a new file, read again from its start
    at.run()
    assert not at.exception and not reads
    assert any("generator loss became NaN at step 2,000,000" in w.value for w in at.warning)


def test_a_session_follows_the_metrics_of_its_last_two_runs_only(env):
    """The fifth hostile review: a follower was kept for every run a session ever watched
    (30 long runs clicked through: +132 MB). The session keeps the last two."""
    made = [fake_run(env.runs, Config(), state="finished", step=30) for _ in range(4)]
    at = page()
    for run_dir in made:
        at.query_params["run"] = run_dir.name
        at.run()
        assert not at.exception
    followers = at.session_state["_metrics_followers"]
    assert list(followers) == [str(made[2]), str(made[3])]


def test_the_progress_says_when_the_servers_time_limit_ends_the_stretch_before_the_eta(env):
    """A demo's live view read "ETA 14 min 23 s" on a run the server stops within a minute (helper-32)."""
    import time

    soon = fake_run(env.runs, Config())
    runs.write_status(soon, eta=863.0, stops_by=time.time() + 40)
    at = page()
    at.query_params["run"] = soon.name
    at.run()
    (text,) = [p.proto.text for p in at.get("progress")]
    assert "stops for this server's time limit in " in text and "(ETA 14 min" in text and "Resume continues" in text, text
    later = fake_run(env.runs, Config())
    runs.write_status(later, eta=20.0, stops_by=time.time() + 60)  # the run ends first: the plain ETA
    at.query_params["run"] = later.name
    at.run()
    (text,) = [p.proto.text for p in at.get("progress")]
    assert "ETA 20 s" in text and "time limit" not in text, text


def test_on_a_demo_a_taken_slot_is_said_before_start_with_the_turn_it_gives(env, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")  # one slot
    fake_run(env.runs, Config())  # another visitor's run (it has no owner of this browser's)
    at = page().run()
    assert not at.exception
    assert ("Every training slot on this server is taken by other visitors' runs; press Start to be given the next "
            "turn (it says when).") in [c.value for c in at.caption]
    assert not at.button(key="train_start").disabled
