"""The 1-D lab page through Streamlit's AppTest: it renders Figure 1 and the theory
curves, Step advances the lab, Play trains with the chosen k, the loss and k change
while it runs, G can be frozen or fitted to the data, and the comparison view trains
both G losses from one start."""

import json
import re
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gan_core import losses  # noqa: E402

PAGE = str(ROOT / "pages" / "lab_1d.py")
STATUS = re.compile(r"\*\*G step ([\d,]+)\*\* · D steps ([\d,]+)")


@pytest.fixture
def page(monkeypatch):
    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.run()
    assert not at.exception
    return at


def counts(at) -> tuple[int, int]:
    for md in at.markdown:
        m = STATUS.search(md.value)
        if m:
            return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
    raise AssertionError("no step counts on the page")


def lab(at):
    return at.session_state["_lab1d_single"]


def chart_spec(at) -> dict:
    """The one chart's spec, checked by plotly's validators (the page skips them for speed)."""
    charts = at.get("plotly_chart")
    assert len(charts) == 1, "one chart per view: each chart costs the browser a redraw per frame"
    spec = json.loads(charts[0].proto.spec)
    go.Figure(spec)  # raises on any property plotly does not know
    return spec


def test_renders_figure_one_and_the_theory(page):
    assert page.title[0].value == "Lab: GAN theory in 1-D"
    assert counts(page) == (0, 0)
    names = [t["name"] for t in chart_spec(page)["data"]]
    for name in ("p_data", "p_g (G's samples)", "D(x)", "D*(x) = p_data / (p_data + p_g)", "z → x = G(z)",
                 "V(G, D) with the current D", "C(G) = −log 4 + 2·JSD: V at D = D*", "JSD(p_data ‖ p_g)"):
        assert name in names
    assert any("JSD" in c.value and "C(G)" in c.value for c in page.caption)
    assert page.button(key="lab1d_play").label == "Play"


def test_single_step_advances_the_lab(page):
    page.button(key="lab1d_step").click().run()
    assert not page.exception
    assert counts(page) == (1, 1), "one D step, then one G step"
    page.button(key="lab1d_step").click().run()
    assert counts(page) == (2, 2)
    assert [r["g_steps"] for r in lab(page).history] == [0, 1, 2], "one history row per step"


def test_play_trains_with_k_and_the_loss_changes_while_it_runs(page):
    page.slider(key="lab1d_single_k").set_value(3).run()
    page.button(key="lab1d_play").click().run()  # playing: each frame trains a slice
    assert not page.exception
    assert page.button(key="lab1d_play").label == "Pause"
    assert not page.get("plotly_chart") and len(page.get("image")) == 1, "playing: one picture, updated in place"
    g, d = counts(page)
    assert g >= 1 and d == 3 * g, "k = 3 D steps per G step"

    page.radio(key="lab1d_loss").set_value("minimax").run()
    now = lab(page)
    assert now.settings.g_loss == "minimax" and now.objective.g_loss_fn is losses.g_loss_minimax
    g2, d2 = counts(page)
    assert g2 > g, "the same lab carries on training under the new loss"
    page.slider(key="lab1d_single_k").set_value(1).run()
    g3, d3 = counts(page)
    assert d3 - d2 == g3 - g2 > 0, "k = 1 from the next round on"

    page.button(key="lab1d_play").click().run()
    assert page.button(key="lab1d_play").label == "Play"
    assert counts(page) == (g3, d3), "paused: nothing trains"
    assert not page.get("image") and chart_spec(page), "paused: the Plotly chart again"


def test_learning_rates_and_optimiser_apply_in_place(page):
    page.number_input(key="lab1d_single_adam_lr_d").set_value(0.003).run()
    assert lab(page).opt_d.param_groups[0]["lr"] == 0.003
    page.radio(key="lab1d_single_opt").set_value("sgd").run()
    assert not page.exception
    assert lab(page).settings.optimizer == "sgd" and lab(page).opt_g.param_groups[0]["lr"] == 0.01, "SGD's own default rates"


def test_make_p_g_match_then_train_d_alone(page):
    page.button(key="lab1d_match").click().run()
    assert not page.exception
    held = lab(page)
    assert held.freeze_g and page.toggle(key="lab1d_freeze").value, "fitting G freezes it"
    assert held.history[-1]["jsd"] < 0.03
    page.button(key="lab1d_step").click().run()
    assert counts(page) == (0, 1), "G frozen: Step trains D alone"
    page.toggle(key="lab1d_freeze").set_value(False).run()
    assert not lab(page).freeze_g


def test_target_edits_redraw_p_data(page):
    page.number_input(key="lab1d_modes").set_value(3).run()
    page.slider(key="lab1d_mean_2").set_value(5.0).run()
    assert not page.exception
    assert lab(page).target.means == (-2.0, 2.0, 5.0)


def test_comparison_trains_both_losses_from_one_start(page):
    page.radio(key="lab1d_view").set_value("Minimax vs non-saturating").run()
    assert not page.exception
    pair = page.session_state["_lab1d_pair"]
    assert list(pair.labs) == ["minimax", "non-saturating"]
    assert counts(page) == (0, 300), "D's head start"
    spec = chart_spec(page)
    assert {"minimax G loss", "non-saturating G loss"} <= {t["name"] for t in spec["data"]}
    assert "push" in " ".join(c.value for c in page.caption)

    page.button(key="lab1d_step").click().run()
    assert [(lab.g_steps, lab.d_steps) for lab in pair.labs.values()] == [(1, 301), (1, 301)]
    rows = {name: lab.history[-1] for name, lab in pair.labs.items()}
    assert rows["minimax"]["push"] < rows["non-saturating"]["push"] / 50, "a confident D: the minimax loss gives no push"


def test_a_replayed_step_click_steps_once(page, monkeypatch):
    from _click_replay import replay_the_click_once

    from gan_core import lab1d

    page.button(key="lab1d_step").click()
    replay_the_click_once(monkeypatch, lab1d.Lab1D, "single_step", page._tree.get_widget_states())
    page.run()
    assert not page.exception
    assert counts(page) == (1, 1), "one click, one step, though Streamlit delivered it twice"
    page.button(key="lab1d_step").click().run()
    assert counts(page) == (2, 2), "the next click steps again"


def test_the_freeze_g_lesson_fills_the_value_and_jsd_charts(page):
    """Issue #21: with G frozen only D steps advance; the charts were drawn over G steps (all 0) and stayed empty."""
    page.button(key="lab1d_match").click().run()
    for _ in range(3):
        page.button(key="lab1d_step").click().run()
    assert counts(page) == (0, 3)
    spec = chart_spec(page)
    curves = [t for t in spec["data"] if t.get("xaxis") == "x2" and t["name"] != "−log 4 (p_g = p_data)"]
    assert {t["name"] for t in curves} >= {"V(G, D) with the current D", "JSD(p_data ‖ p_g)"}
    for t in curves:
        assert len(set(t["x"])) >= 3, (t["name"], t["x"])  # one point per D step: a line, not a dot at step 0
    assert spec["layout"]["xaxis2"]["title"]["text"].startswith("D steps")


def test_the_explainer_is_open_by_default(page):
    (explainer,) = [e for e in page.expander if e.label.startswith("What D* is")]
    assert explainer.proto.expanded


DIVERGED = re.compile(r"Training diverged: (D's loss|G's loss|the weights) became non-finite at G step \d+, D step \d+; "
                      r"lower the learning rates and press Reset\.")


def test_diverging_at_the_highest_learning_rates_stops_play_and_says_why(page):
    """Review finding 6: SGD at learning rate 1.0 (the widgets' maximum) went NaN and the lab
    played on, every figure NaN, with nothing saying why."""
    page.radio(key="lab1d_single_opt").set_value("sgd").run()
    page.number_input(key="lab1d_single_sgd_lr_d").set_value(1.0).run()
    page.number_input(key="lab1d_single_sgd_lr_g").set_value(1.0).run()
    page.button(key="lab1d_play").click().run()
    assert not page.exception
    assert [e.value for e in page.error] and all(DIVERGED.fullmatch(e.value.replace("\\", "")) for e in page.error)
    assert len(page.error) == 1, "one sentence"
    assert not page.session_state["lab1d_playing"], "playing stopped"
    play, step = page.button(key="lab1d_play"), page.button(key="lab1d_step")
    assert play.label == "Play" and play.disabled and step.disabled and page.button(key="lab1d_match").disabled
    assert any("· stopped" in md.value for md in page.markdown)
    g, d = counts(page)
    assert f"G step {g}, D step {d};" in page.error[0].value

    page.number_input(key="lab1d_single_sgd_lr_d").set_value(0.05).run()
    page.number_input(key="lab1d_single_sgd_lr_g").set_value(0.01).run()
    page.button(key="lab1d_reset").click().run()
    assert not page.exception and not page.error, "Reset with lower rates: a new lab, no sentence"
    assert not page.button(key="lab1d_step").disabled
    page.button(key="lab1d_step").click().run()
    assert counts(page) == (1, 1) and not page.error


def test_a_comparison_whose_head_start_diverges_says_so(page):
    page.radio(key="lab1d_view").set_value("Minimax vs non-saturating").run()
    page.number_input(key="lab1d_pair_sgd_lr_d").set_value(1.0).run()
    page.button(key="lab1d_reset").click().run()
    assert not page.exception
    assert len(page.error) == 1 and DIVERGED.fullmatch(page.error[0].value.replace("\\", "")), [e.value for e in page.error]
    assert page.button(key="lab1d_step").disabled and page.button(key="lab1d_play").disabled


def test_the_widgets_stay_within_the_engines_limits(page):
    """Review finding 7: the engine holds the limits; the page's widgets take them from it, so they cannot drift apart."""
    from gan_core import lab1d

    page.radio(key="lab1d_view").set_value("Minimax vs non-saturating").run()
    assert page.slider(key="lab1d_head_start").max == lab1d.MAX_HEAD_START
    for v in ("single", "pair"):
        page.radio(key="lab1d_view").set_value("One GAN" if v == "single" else "Minimax vs non-saturating").run()
        speed, k = page.slider(key=f"lab1d_{v}_speed").max, page.slider(key=f"lab1d_{v}_k").max
        assert speed * (k + 1) <= lab1d.MAX_STEPS, "Play at the fastest speed and the largest k stays within a call's steps"
