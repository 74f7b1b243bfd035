"""The 2-D lab page with Streamlit's AppTest: it renders, Step / Play / Pause /
Replay move through the training, the slider scrubs the kept snapshots, switching
recipe or data set starts a new lab, and the comparison view trains several recipes
side by side. The lab trains for real (the recipes' default models, a few steps)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "lab_2d.py")


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    app = AppTest.from_file(PAGE, default_timeout=30)
    app.run()
    assert not app.exception
    return app


def status(app) -> tuple[int, str]:
    """The step shown and the state, from the line above the plane: "**Step 10** of 2,000 · paused"."""
    line = next(m.value for m in app.markdown if m.value.startswith("**Step "))
    step = int(re.match(r"\*\*Step ([\d,]+)\*\*", line).group(1).replace(",", ""))
    return step, line.split(" · ")[1]


def numbers(app) -> str:
    """The coverage line beside the plane."""
    return next(m.value for m in app.markdown if "modes** covered" in m.value or "no separate modes" in m.value)


def live_pictures(app) -> list[str]:
    """While playing, each plane is a picture (st.image): their media URLs, which name their content."""
    return [img.url for el in app.get("image") for img in el.proto.imgs]


def charts(app) -> list[dict]:
    return [json.loads(el.proto.spec) for el in app.get("plotly_chart")]


def picture(spec: dict) -> str:
    """The plane's picture (heat map, points, arrows) as the figure carries it: a data URI."""
    (image,) = spec["layout"]["images"]
    return image["source"]


def test_the_page_renders_the_plane_and_the_coverage(at):
    assert at.title[0].value == "Lab: mode collapse in 2-D"
    assert [b.label for b in at.button] == ["Play", "Step +10", "Replay", "Reset"]
    assert status(at) == (0, "paused")
    assert at.selectbox(key="lab2d_data").value == "grid-25" and at.selectbox(key="lab2d_recipe").value == "gan"
    plane, coverage = charts(at)
    names = [t.get("name") for t in plane["data"]]
    assert {"real data", "generated G(z)", "G's push (−∇ of G's loss)", "mode covered", "mode missed"} <= set(names)
    heat = next(t for t in plane["data"] if t["type"] == "heatmap")
    assert heat["colorbar"]["title"]["text"] == "D(x)" and heat["zmin"] == 0 and heat["zmax"] == 1
    assert picture(plane).startswith("data:image/jpeg;base64,")
    (x0, x1), (y0, y1) = plane["layout"]["xaxis"]["range"], plane["layout"]["yaxis"]["range"]
    image = plane["layout"]["images"][0]  # it fills the view exactly, top left at (x0, y1)
    assert (image["x"], image["y"]) == (x0, y1) and image["sizex"] == pytest.approx(x1 - x0) and image["sizey"] == pytest.approx(y1 - y0)
    assert re.match(r"\*\*\d+ / 25 modes\*\* covered · \*\*[\d.]+%\*\* high quality · reverse KL", numbers(at))
    assert "D(x) " in numbers(at) or "untrained" in numbers(at)
    assert any("mode collapse" in e.label.lower() and e.proto.expanded for e in at.expander)  # open by default (issue #21)
    assert "Packing" in at.expander[0].markdown[0].value or "packing" in at.expander[0].markdown[0].value


def test_step_play_pause_and_the_slider_move_through_training(at):
    at.button(key="lab2d_step").click().run()
    assert status(at) == (10, "paused")
    at_10 = picture(charts(at)[0])

    at.button(key="lab2d_play").click().run()  # each run of the page is one frame while playing
    first, state = status(at)
    assert state == "training" and first > 10
    assert [b.label for b in at.button][0] == "Pause"
    (playing,) = live_pictures(at)  # playing, the plane is one picture (cheap for the browser)
    assert playing.endswith(".jpg") and len(charts(at)) == 1  # beside it, the coverage chart
    at.run()
    second, _ = status(at)
    assert second > first and live_pictures(at) != [playing]  # redrawn: the points moved

    at.button(key="lab2d_play").click().run()  # Pause
    assert status(at) == (second, "paused")
    assert not live_pictures(at) and picture(charts(at)[0]) != at_10  # paused, a Plotly figure again, of the new step
    slider = at.select_slider(key="lab2d_show")
    assert slider.options[0] == "0" and slider.value == second
    slider.set_value(0).run()  # scrub back to the first kept snapshot
    assert status(at) == (0, "paused")

    at.button(key="lab2d_replay").click().run()  # the replay starts at the first snapshot
    assert status(at) == (0, "replaying")
    at.button(key="lab2d_reset").click().run()
    assert status(at) == (0, "paused")


def test_switching_recipe_and_data_set_starts_a_new_lab(at):
    at.button(key="lab2d_step").click().run()
    at.selectbox(key="lab2d_recipe").set_value("wgan").run()
    assert not at.exception and status(at) == (0, "paused")
    heat = next(t for t in charts(at)[0]["data"] if t["type"] == "heatmap")
    assert heat["colorbar"]["title"]["text"] == "critic score" and (heat["zmin"], heat["zmax"]) != (0, 1)  # a score's own range
    assert any("not a probability" in c.value for c in at.caption)
    assert "Wasserstein estimate" in numbers(at) or "untrained" in numbers(at)
    assert any(c.value.startswith("Settings") and "wgan: rmsprop" in c.value for c in at.caption)

    at.selectbox(key="lab2d_data").set_value("ring-8").run()
    assert not at.exception and status(at) == (0, "paused") and " / 8 modes**" in numbers(at)
    at.button(key="lab2d_step").click().run()
    assert status(at)[0] == 10

    at.selectbox(key="lab2d_data").set_value("spiral").run()  # no discrete modes: no coverage, said so
    assert not at.exception and "no separate modes" in numbers(at)
    assert len(charts(at)) == 1  # the plane, no coverage chart


def test_the_comparison_view_trains_recipes_side_by_side(at):
    at.radio(key="lab2d_view").set_value("Compare recipes").run()
    assert not at.exception
    chosen = at.multiselect(key="lab2d_recipes").value
    assert chosen == ["gan", "minibatch-std"]  # the plain GAN against the best remedy
    # on ring-8, where the remedy pulls ahead within the plain GAN's 2,000 steps (gan_core/lab2d.py)
    assert at.selectbox(key="lab2d_cmp_data").value == "ring-8"
    # ... every recipe stopping at the same step, so the remedy's decay fits in (gan_core/lab2d.py)
    assert at.number_input(key="lab2d_cmp_stop").value == 2000
    assert {lab.stop_at for lab in at.session_state["_lab2d_compare"][1].labs.values()} == {2000}
    planes = [c for c in charts(at) if any(t["type"] == "heatmap" for t in c["data"])]
    assert len(planes) == len(chosen)
    at.button(key="lab2d_step").click().run()
    assert status(at) == (10, "paused")
    per_recipe = [c.value for c in at.caption if re.match(r"\d+/8 modes, [\d.]+% high quality", c.value)]
    assert len(per_recipe) == len(chosen)  # each panel's coverage under it
    coverage = [c for c in charts(at) if not any(t["type"] == "heatmap" for t in c["data"])][0]
    assert {t["name"] for t in coverage["data"]} == set(chosen)  # one line per recipe

    at.button(key="lab2d_play").click().run()  # playing: one light picture per recipe
    step, state = status(at)
    assert state == "training" and step > 10 and len(live_pictures(at)) == len(chosen)
    labs = at.session_state["_lab2d_compare"][1].labs
    per_recipe = [c.value for c in at.caption if re.match(r"\d+/8 modes", c.value)]
    assert len(per_recipe) == len(chosen)
    for lab, line in zip(labs.values(), per_recipe):
        # The coverage needs 2,500 samples: while playing it is the last kept snapshot's, and says so.
        kept = lab.snapshots[-1].step
        assert kept < step and f"(at step {kept:,})" in line, line
        assert len(lab._frame.fake) < 2_500, "the frame drawn was a light one"
    at.button(key="lab2d_play").click().run()

    at.multiselect(key="lab2d_recipes").set_value(["gan"]).run()
    assert any("two or more" in i.value for i in at.info) and not at.get("plotly_chart")



def test_a_replayed_step_click_steps_once(at, monkeypatch):
    from _click_replay import replay_the_click_once

    from gan_core import lab2d

    at.button(key="lab2d_step").click()
    replay_the_click_once(monkeypatch, lab2d.Lab, "train", at._tree.get_widget_states())
    at.run()
    assert not at.exception
    assert status(at) == (10, "paused"), "one click, one Step, though Streamlit delivered it twice"
    at.button(key="lab2d_step").click().run()
    assert status(at) == (20, "paused"), "the next click steps again"
