"""The "Generated faces" gallery page (and the Cloud entry point), with AppTest.

Two tiny runs are trained in-process once (faces and ring-8 points). Each test
gets its own runs folder and its own "repository" whose checkpoints/ folder
stands in for the shipped demo checkpoints, so nothing depends on the
checkpoints in the working tree.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from streamlit.testing.v1 import AppTest

import gan_core.settings
from conftest import tiny
from gan_core.recipes import resolve
from gan_core.runs import create_run
from gan_core.training import train

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "gallery.py")
DEPLOY = str(ROOT / "deploy" / "streamlit_app.py")
ENV_VARS = ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("trained")
    out = {}
    for name, cfg in (("faces", tiny("dcgan", "faces-lfw")), ("ring", tiny("gan", "ring-8"))):
        cfg = resolve(cfg)
        run_dir = create_run(cfg, runs_dir)
        train(cfg, run_dir)
        out[name] = run_dir
    return out


@pytest.fixture
def env(tmp_path, monkeypatch, trained):
    repo, runs_dir = tmp_path / "repo", tmp_path / "runs"
    (repo / "checkpoints").mkdir(parents=True)
    runs_dir.mkdir()
    monkeypatch.setattr(gan_core.settings, "ROOT", repo)  # settings.checkpoints_dir = repo/checkpoints
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(runs_dir))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)

    def add_run(which: str, name: str | None = None) -> Path:
        src = trained[which]
        dst = runs_dir / (name or src.name)
        shutil.copytree(src, dst)
        return dst / "checkpoints" / "last.safetensors"

    def ship(which: str, name: str) -> Path:
        dst = repo / "checkpoints" / name
        shutil.copy(trained[which] / "checkpoints" / "last.safetensors", dst)
        return dst

    return SimpleNamespace(repo=repo, runs=runs_dir, checkpoints=repo / "checkpoints", add_run=add_run, ship=ship)


def page(path: str = PAGE) -> AppTest:
    at = AppTest.from_file(path, default_timeout=90)
    at.run()
    return at


def no_problems(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def images(at: AppTest) -> list:
    """(caption, url) of every st.image on the page."""
    return [(img.caption, img.url) for el in at.get("image") for img in el.proto.imgs]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def grid_chart(at: AppTest) -> dict:
    (spec,) = charts(at)
    return spec


def frame(at: AppTest) -> tuple:
    """The box drawn around the selected face, in grid pixels."""
    (shape,) = grid_chart(at)["layout"]["shapes"]
    return tuple(round(shape[k]) for k in ("x0", "y0", "x1", "y1"))


def values(v) -> np.ndarray:
    """A plotly trace array, which plotly 6+ may send as base64 ("bdata") with a dtype."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


def number(at: AppTest, label: str):
    return next(w for w in at.number_input if w.label == label)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


# ----------------------------------------------------------------------------- tests


def test_opens_on_the_shipped_faces_checkpoint_with_faces_at_once(env):
    shipped = env.ship("faces", "dcgan-faces-lfw.safetensors")
    env.ship("ring", "gan-ring-8.safetensors")
    env.add_run("faces")
    at = page()
    no_problems(at)
    select = at.selectbox(key="gallery_ckpt")
    assert select.value == str(shipped)
    assert select.options[0] == "dcgan on faces-lfw, step 2 (demo)" and len(select.options) == 3
    grid = grid_chart(at)
    img_trace, cells = grid["data"]
    assert img_trace["type"] == "image" and img_trace["source"].startswith("data:image/png;base64,")
    assert len(cells["x"]) == 36
    assert frame(at) == (1, 1, 19, 19)  # around sample 1: 16 px at (2, 2), padding 2
    assert "Seed 0: 36 samples of 16\u00d716 pixels" in captions(at)
    shown = images(at)
    assert any(c.startswith("Sample 1 of seed 0") for c, _ in shown)
    assert sum(" off" in c for c, _ in shown) == 3  # three nearest training images
    assert "rough memorisation check" in captions(at)
    downloads = [d.proto.label for d in at.get("download_button")]
    assert downloads == ["Grid as PNG", "36 samples as zip", "Download the GIF"]
    assert number(at, "Selected sample").value == 1


def test_without_any_checkpoint_it_says_how_to_make_one(env):
    at = page()
    assert not at.exception and not at.error
    (info,) = at.info
    assert "python -m gan_core train --recipe dcgan --data faces-lfw" in info.value
    assert not at.get("plotly_chart")


def test_run_checkpoints_are_offered_when_nothing_is_shipped(env):
    env.add_run("ring")
    env.add_run("faces")
    at = page()
    no_problems(at)
    assert at.selectbox(key="gallery_ckpt").value.endswith(str(Path("checkpoints") / "last.safetensors"))
    assert "dcgan on faces-lfw" in at.selectbox(key="gallery_ckpt").format_func(at.selectbox(key="gallery_ckpt").value)
    assert grid_chart(at)["data"][0]["type"] == "image"


def test_new_samples_moves_to_the_next_seed_and_redraws(env):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    at = page()
    before = grid_chart(at)["data"][0]["source"]
    button(at, "New samples").click()
    at.run()
    no_problems(at)
    assert number(at, "Seed").value == 1
    assert grid_chart(at)["data"][0]["source"] != before
    assert "Seed 1: 36 samples of" in captions(at)
    number(at, "Seed").set_value(0)
    at.run()
    assert grid_chart(at)["data"][0]["source"] == before  # the same seed draws the same faces


def test_choosing_a_sample_shows_it_large_and_fewer_samples_keep_the_choice_valid(env):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    at = page()
    number(at, "Selected sample").set_value(20)
    at.run()
    no_problems(at)
    assert any(c.startswith("Sample 20 of seed 0") for c, _ in images(at))
    x0, y0, x1, y1 = frame(at)  # sample 20: row 3, column 1 of 6 (counted from 0)
    assert (x0 + 1, y0 + 1) == (2 + 1 * 18, 2 + 3 * 18) and (x1 - x0, y1 - y0) == (18, 18)
    at.slider(key="gallery_n").set_value(9)
    at.run()
    no_problems(at)
    assert number(at, "Selected sample").value == 9
    assert len(grid_chart(at)["data"][1]["x"]) == 9
    at.slider(key="gallery_truncation").set_value(0.5)
    at.toggle(key="gallery_smooth").set_value(True)
    at.run()
    no_problems(at)
    assert any(c.startswith("Sample 9 of seed 0") for c, _ in images(at))


def test_interpolation_between_samples_of_two_seeds(env):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    at = page()
    assert any("Sample 1 of seed 0 \u2192 sample 2 of seed 0 in 8 frames" in c for c, _ in images(at))
    number(at, "Selected sample").set_value(3)
    at.run()
    button(at, "Start from the selected sample").click()
    at.run()
    button(at, "New samples").click()
    at.run()
    number(at, "Selected sample").set_value(7)
    at.run()
    button(at, "End at the selected sample").click()
    at.run()
    at.slider(key="interp_frames").set_value(5)
    at.run()
    no_problems(at)
    assert (number(at, "Start: seed").value, number(at, "Start: sample").value) == (0, 3)
    assert (number(at, "End: seed").value, number(at, "End: sample").value) == (1, 7)
    shown = images(at)
    assert any("Sample 3 of seed 0 \u2192 sample 7 of seed 1 in 5 frames" in c for c, _ in shown)
    assert any(c == "Animated, there and back" for c, _ in shown)
    assert "Download the GIF" in [d.proto.label for d in at.get("download_button")]


def test_a_safetensors_file_that_is_no_gan_checkpoint_is_one_error_sentence(env):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    junk = env.runs / "20260101-000000-junk-abcd" / "checkpoints" / "last.safetensors"
    junk.parent.mkdir(parents=True)
    save_file({"weight": np.zeros((4, 4), dtype=np.float32)}, str(junk))
    at = page()
    no_problems(at)  # the default is still the good one
    at.selectbox(key="gallery_ckpt").set_value(str(junk))
    at.run()
    assert not at.exception
    (error,) = at.error
    assert "was not made by GAN Workbench" in error.value and error.value.count(". ") == 0
    assert not at.get("plotly_chart") and not at.get("image")


def test_weights_that_do_not_fit_their_config_are_one_error_sentence(env):
    good = env.add_run("faces")
    bad = env.checkpoints / "dcgan-faces-lfw.safetensors"
    with safe_open(str(good), "np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta["config"])
    cfg["model"]["width"] = 16  # the file's weights were trained at width 8
    save_file(tensors, str(bad), metadata={**meta, "config": json.dumps(cfg)})
    at = page()
    assert at.selectbox(key="gallery_ckpt").value == str(bad)
    assert not at.exception
    (error,) = at.error
    assert "does not fit the generator" in error.value
    assert not at.get("plotly_chart")


def test_a_points_checkpoint_shows_a_scatter_over_the_training_points(env):
    env.add_run("ring")
    at = page()
    no_problems(at)
    (spec,) = charts(at)
    names = {t.get("name"): t["type"] for t in spec["data"]}
    assert names == {"training data": "scattergl", "generated": "scattergl"}
    generated = next(t for t in spec["data"] if t["name"] == "generated")
    xs = values(generated["x"])
    assert len(xs) == 1000 and np.isfinite(xs).all()
    assert not [w for w in at.number_input if w.label == "Selected sample"]
    at.slider(key="gallery_points_n").set_value(300)
    at.run()
    no_problems(at)
    assert len(values(next(t for t in charts(at)[0]["data"] if t["name"] == "generated")["x"])) == 300


def test_demo_mode_says_so_and_bad_settings_are_one_sentence(env, monkeypatch):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    at = page()
    no_problems(at)
    assert ("Public demo: runs may have up to 2,000 steps and train for 3 min at a stretch (Resume continues them); "
            "1 can train at once.") in captions(at)
    monkeypatch.setenv("GAN_WORKBENCH_MAX_STEPS", "lots")
    at = page()
    assert not at.exception
    (error,) = at.error
    assert "GAN_WORKBENCH_MAX_STEPS must be a whole number" in error.value


def test_cloud_entry_point_runs_the_app_in_demo_mode_on_the_gallery(env, monkeypatch):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    # Let the entry point set GAN_WORKBENCH_DEMO itself, and remove it afterwards.
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "unset")
    monkeypatch.delenv("GAN_WORKBENCH_DEMO")
    at = page(DEPLOY)
    no_problems(at)
    assert [t.value for t in at.title] == ["Generated faces"]
    assert "Public demo" in captions(at)
    assert grid_chart(at)["data"][0]["type"] == "image"
    assert any(c.startswith("Sample 1 of seed 0") for c, _ in images(at))


def test_a_translator_uploaded_here_is_one_sentence_and_the_choice_stays(env):
    """Issue #21: the shipped pix2pix checkpoint uploaded in the Gallery was kept without a word,
    and the menu still named the previous generator while the page showed another."""
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    ring = env.add_run("ring")
    at = page()
    at.selectbox(key="gallery_ckpt").set_value(str(ring)).run()
    translator = (ROOT / "checkpoints" / "pix2pix-grey-to-colour-photos.safetensors").read_bytes()
    at.file_uploader(key="gallery_upload").upload("pix2pix-grey-to-colour-photos.safetensors", translator,
                                                   "application/octet-stream").run()
    assert not at.exception
    (error,) = at.error
    assert error.value == ("pix2pix-grey-to-colour-photos.safetensors is a pix2pix model, which translates images rather than "
                           "making them from noise; open it in Pix2Pix instead.")
    assert at.selectbox(key="gallery_ckpt").value == str(ring)  # the menu names what the page shows
    assert at.title[0].value == "Generated points" and at.get("plotly_chart")
    assert not list((env.runs / "uploads").rglob("*.safetensors"))  # refused: nothing kept


def test_an_exploded_run_is_offered_with_a_word_saying_so(env):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    weights = env.add_run("faces", "20260101-000000-dcgan-faces-lfw-beef")
    metrics = weights.parent.parent / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    rows[-1].update(loss_d=0.0, loss_g=8.9e6)  # the generator's loss blew up
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    at = page()
    select = at.selectbox(key="gallery_ckpt")
    label = select.options[1]
    assert label == "dcgan on faces-lfw (run 2026-01-01 00:00 beef)"  # a label that never moves on: the word is in the caption
    select.set_value(str(weights)).run()
    assert not at.exception
    assert "whose losses exploded, so expect noise rather than samples" in captions(at)


def test_click_a_face_is_said_under_faces_only(env):
    """Issue #21: "Click a face to look at it closely" stood under digits too."""
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    digits = env.checkpoints / "cgan-mnist.safetensors"
    shutil.copy(ROOT / "checkpoints" / "cgan-mnist.safetensors", digits)
    at = page()
    assert "Click a face to look at it closely." in captions(at)
    at.selectbox(key="gallery_ckpt").set_value(str(digits)).run()
    assert not at.exception and at.title[0].value == "Generated digits"
    assert "Click a sample to look at it closely." in captions(at) and "Click a face" not in captions(at)


def test_the_start_page_sets_expectations_and_a_shipped_demo_says_what_it_is(env):
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    at = page()
    no_problems(at)
    assert any(m.value.startswith("**What to expect:** the demos here are small models trained in minutes on a 2-core CPU")
               for m in at.markdown)
    assert ":material/info: Trained on faces-lfw's 100 grey face crops at 32×32 pixels for 2,000 steps" in captions(at)


def test_every_shipped_generator_has_its_line_and_the_line_matches_the_file():
    """Each shipped demo that draws from noise says what it was trained on, at what size and how long;
    the size and steps in its line are the checkpoint's own (metadata)."""
    from gan_core import catalog

    shipped = [e for e in catalog.list_checkpoints(ROOT / "checkpoints", ROOT / "no-runs-here")
               if e.recipe not in catalog.TRANSLATORS]
    assert {e.path.name for e in shipped} == set(catalog.SHIPPED_NOTES)
    for e in shipped:
        _, h, w = e.shape
        assert e.note == catalog.SHIPPED_NOTES[e.path.name]
        assert f"{h}\u00d7{w} pixels" in e.note and f"for {e.step:,} steps" in e.note, e.note
        assert e.data.split("-")[0] in e.note.lower(), e.note  # faces-lfw, mnist-5k
        assert "expect" in e.note


def test_samples_kept_for_reruns_are_bounded_in_bytes_for_every_session_together(env, monkeypatch):
    """The third hostile review: st.cache_data kept every seed's samples, bounded in entries
    and not bytes (32 seeds of a 256 px colour model: +830 MB in a demo server). The pages'
    results now share one store bounded in bytes: the oldest seeds go, the newest stay."""
    from gan_core import inference, untrusted
    from pages.common.shared import kept_results

    monkeypatch.setattr(untrusted, "MAX_KEPT_RESULTS_BYTES", 2 << 20)  # 2 MB: three draws
    calls, real = [], inference.sample

    def sample(gen, n, seed, *a, **k):
        calls.append(seed)
        return np.repeat(real(gen, n, seed, *a, **k), 64, axis=1)  # 64 times taller: 590 KB a draw

    monkeypatch.setattr(inference, "sample", sample)
    env.ship("faces", "dcgan-faces-lfw.safetensors")
    at = page()
    for seed in range(1, 8):
        number(at, "Seed").set_value(seed)
        at.run()
        no_problems(at)
    store = kept_results(2 << 20)
    assert 0 < store.nbytes <= 2 << 20 and len(store) >= 2
    drawn = len(calls)
    number(at, "Seed").set_value(6)  # recent: kept
    at.run()
    assert len(calls) == drawn
    number(at, "Seed").set_value(0)  # the oldest: gone, drawn again
    at.run()
    assert calls[drawn:] == [0]
