"""The Runs page over a runs directory of really trained tiny runs: the table, the
overlaid curves, the metric groups a selection has, samples, stop / resume /
delete, and the optimiser comparison button."""

import base64
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import tiny  # noqa: E402
from gan_core import experiments, jobs, runs, visitors  # noqa: E402
from gan_core.errors import RunError  # noqa: E402
from gan_core.recipes import resolve  # noqa: E402
from gan_core.training import train  # noqa: E402

PAGE = str(ROOT / "pages" / "runs.py")
SELECTED = "runs_selected"


def tiny_cfg(recipe, steps=20):
    return resolve(tiny(recipe, "ring-8", steps=steps, **{
        "train.log_every": 2, "train.sample_every": 10, "train.checkpoint_every": 10}))


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory):
    """A finished GAN, a finished WGAN-GP and a GAN stopped at step 10, each trained for real."""
    root = tmp_path_factory.mktemp("runs-page")
    made = {}
    for name, recipe in (("gan", "gan"), ("wgan", "wgan-gp")):
        cfg = tiny_cfg(recipe)
        made[name] = runs.create_run(cfg, root)
        assert train(cfg, made[name])["state"] == "finished"
    cfg = tiny_cfg("gan", steps=40)
    made["stopped"] = runs.create_run(cfg, root)
    polls = iter(range(1000))
    assert train(cfg, made["stopped"], should_stop=lambda: next(polls) >= 10)["state"] == "stopped"
    return root, made


@pytest.fixture
def page(runs_root, monkeypatch):
    root, made = runs_root
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(root))
    monkeypatch.delenv("GAN_WORKBENCH_MAX_RUNS", raising=False)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    return at, made


def select(at, *run_dirs):
    at.multiselect(key=SELECTED).set_value([d.name for d in run_dirs]).run()
    assert not at.exception, at.exception


def metric_groups(at):
    (radio,) = [r for r in at.radio if r.label == "Metrics"]
    return radio


def test_table_lists_every_run_with_its_state(page):
    at, made = page
    table = at.dataframe[0].value
    states = dict(zip(table["Run"], table["State"]))
    assert states == {made["gan"].name: "finished", made["wgan"].name: "finished", made["stopped"].name: "stopped"}
    steps = dict(zip(table["Run"], table["Steps"]))
    assert steps[made["stopped"].name] == "10 / 40" and steps[made["gan"].name] == "20 / 20"
    assert set(table["Recipe"]) == {"gan", "wgan-gp"}
    assert all(table["Started"] == "just now") or all(table["Started"].str.contains("ago|today"))


def test_selected_runs_get_an_overlaid_plotly_chart(page):
    at, made = page
    select(at, made["gan"], made["stopped"])
    (chart,) = at.get("plotly_chart")
    figure = json.loads(chart.proto.spec)
    names = {t.get("name") for t in figure["data"] if t.get("showlegend") is not False}
    assert len(names) == 2  # one legend entry per run, shared by the four loss subplots
    titles = {a["text"] for a in figure["layout"]["annotations"]}
    assert {"D loss (real + fake)", "G loss"} <= titles
    # raw (faint) + smoothed curve per run per metric: 2 runs x 4 metrics x 2
    assert len(figure["data"]) == 16


def test_the_wasserstein_group_appears_only_with_a_wgan_run(page):
    at, made = page
    select(at, made["gan"])
    assert metric_groups(at).options == ["Losses", "D outputs", "Gradient norms"]

    select(at, made["gan"], made["wgan"])
    assert "Wasserstein estimate" in metric_groups(at).options
    metric_groups(at).set_value("Wasserstein estimate").run()
    assert not at.exception
    (chart,) = at.get("plotly_chart")
    titles = {a["text"] for a in json.loads(chart.proto.spec)["layout"]["annotations"]}
    assert titles == {"Wasserstein estimate (−critic loss)", "Gradient penalty (WGAN-GP)"}
    assert "should **fall as the samples improve**" in " ".join(m.value for m in at.markdown)  # the note follows the group

    select(at, made["wgan"])
    assert metric_groups(at).options == ["Losses", "Gradient norms", "Wasserstein estimate"]
    assert metric_groups(at).value == "Wasserstein estimate"  # the choice survives a new selection


def test_smoothing_log_scale_and_wall_time_axis(page):
    at, made = page
    select(at, made["gan"], made["wgan"])
    at.slider(key="runs_smoothing").set_value(0.0).run()
    at.toggle(key="runs_log_y").set_value(True).run()
    at.radio(key="runs_x").set_value("elapsed").run()
    assert not at.exception
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    layout = figure["layout"]
    assert layout["yaxis"]["type"] == "log"
    assert layout["xaxis3"]["title"]["text"] == "wall time (s)"
    assert len(figure["data"]) == 4 + 2  # no smoothing: one curve per run and metric (the WGAN has 2 loss metrics)


def values(v):
    """A plotly JSON array: a list, or numpy's typed-array encoding."""
    return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]) if isinstance(v, dict) else np.array(v, float)


def test_smoothing_is_tensorboards_debiased_ema_over_the_raw_curve(page):
    at, made = page
    select(at, made["gan"])
    at.slider(key="runs_smoothing").set_value(0.5).run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    raw, smooth = [t for t in figure["data"] if t.get("xaxis", "x") == "x"]  # the first subplot: D loss
    assert raw["opacity"] == 0.25 and raw["showlegend"] is False
    rows = runs.read_metrics(made["gan"])[0]
    expected_raw = np.array([r["loss_d"] for r in rows])
    assert np.allclose(values(raw["y"]), expected_raw) and list(values(raw["x"])) == [r["step"] for r in rows]
    last, expected = 0.0, []
    for n, v in enumerate(expected_raw, 1):
        last = 0.5 * last + 0.5 * v
        expected.append(last / (1 - 0.5**n))
    assert np.allclose(values(smooth["y"]), expected)
    assert values(smooth["y"])[0] == expected_raw[0]  # debiased: the first point is not pulled towards 0


def test_sample_grids_side_by_side_at_a_chosen_step(page):
    at, made = page
    select(at, made["gan"], made["stopped"])
    slider = at.select_slider(key="runs_sample_step")
    assert slider.options == ["10", "20"] and slider.value == 20

    def captions():
        return [img.caption for element in at.get("image") for img in element.proto.imgs]

    # The stopped run has no grid at step 20: it shows its nearest, step 10.
    assert [c.rsplit(" · ", 1)[1] for c in captions()] == ["step 20", "step 10"]
    assert all(c.startswith("gan on ring-8") for c in captions())
    slider.set_value(10).run()
    assert not at.exception
    assert [c.rsplit(" · ", 1)[1] for c in captions()] == ["step 10", "step 10"]
    for element in at.get("image"):
        assert element.proto.imgs[0].url.endswith(".png")


def test_the_grids_shown_at_once_stay_within_the_budget_per_request(page, monkeypatch):
    """Forty selected runs with 12.8 MB grids each would have put half a gigabyte in one
    session: the grids shown at once add up to at most half the budget per request, and
    the others say why they are not shown."""
    from gan_core import budget

    at, made = page
    sizes = [(made[n] / "samples" / "step_0000020.png").stat().st_size for n in ("gan", "wgan")]
    monkeypatch.setattr(budget, "limit", lambda: 2 * (sizes[0] + sizes[1] // 2))  # room for the first grid, not both
    select(at, made["gan"], made["wgan"])
    shown = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert len(shown) == 1 and shown[0].endswith("step 20")
    (left,) = [c.value for c in at.caption if "not shown" in c.value]
    assert left.endswith(" · step 20: not shown, the grids above already take what one page may hold here; select fewer "
                         "runs to see it.")

    monkeypatch.setattr(budget, "limit", lambda: 2 * sum(sizes))  # room for both: both shown
    at.run()
    assert len([img for element in at.get("image") for img in element.proto.imgs]) == 2


def test_grids_to_show_keeps_the_first_and_adds_while_they_fit(tmp_path):
    from gan_core import runs

    paths = []
    for i, size in enumerate((500, 300, 400, 100)):
        paths.append(tmp_path / f"g{i}.png")
        paths[-1].write_bytes(b"x" * size)
    assert runs.grids_to_show(paths, room=900) == (paths[:2] + paths[3:], paths[2:3])  # 500 + 300 + 100; 400 waits
    assert runs.grids_to_show(paths, room=10) == (paths[:1], paths[1:])  # the first always: read_sample bounds it
    assert runs.grids_to_show([tmp_path / "gone.png"] + paths[:1], room=500) == ([tmp_path / "gone.png"] + paths[:1], [])


def test_comparison_button_launches_the_experiment_and_selects_its_runs(page, monkeypatch):
    at, made = page
    calls = []

    def fake_comparison(kind, base_cfg, runs_dir, max_active, owner):
        calls.append((kind, base_cfg, runs_dir, max_active))
        assert owner is None  # not a demo: the runs are everyone's
        return [made["gan"], made["wgan"], made["stopped"]]

    monkeypatch.setattr(experiments, "launch_comparison", fake_comparison)
    assert at.radio(key="cmp_kind").value == "optimizers"
    at.number_input(key="cmp_steps").set_value(300)
    at.button(key="cmp_go").click().run()
    assert not at.exception
    ((kind, cfg, runs_dir, max_active),) = calls
    # The Keras article's settings, on the faces that ship offline.
    assert kind == "optimizers"
    assert (cfg.recipe, cfg.data.name, cfg.data.image_size, cfg.data.channels, cfg.train.steps) == ("gan", "faces-lfw", 28, 3, 300)
    assert (cfg.train.batch_size, cfg.loss.d_update) == (32, "halves")
    assert Path(runs_dir) == Path(os.environ["GAN_WORKBENCH_RUNS_DIR"]) and max_active == 2
    assert at.session_state[SELECTED] == [made["gan"].name, made["wgan"].name, made["stopped"].name]
    assert "selected below" in at.toast[0].value
    assert at.get("plotly_chart")


def test_comparison_refused_shows_one_sentence(page, monkeypatch):
    at, _ = page

    def refuse(*args, **kwargs):
        raise RunError("The optimiser comparison needs one free training slot, but 2 runs are already training and the limit is 2; stop one or wait for it to finish.")

    monkeypatch.setattr(experiments, "launch_comparison", refuse)
    at.button(key="cmp_go").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [str(RunError("The optimiser comparison needs one free training slot, but 2 runs are already training and the limit is 2; stop one or wait for it to finish."))]


def test_resume_a_stopped_run(page, monkeypatch):
    at, made = page
    resumed = []
    monkeypatch.setattr(jobs, "resume", lambda run_dir, max_active=None: resumed.append((Path(run_dir), max_active)))
    select(at, made["stopped"], made["gan"])
    assert at.button(key=f"resume_{made['gan'].name}").disabled  # a finished run has nothing left to train
    assert at.button(key=f"stop_{made['stopped'].name}").disabled
    at.button(key=f"resume_{made['stopped'].name}").click().run()
    assert not at.exception
    assert resumed == [(made["stopped"], 2)]


def test_a_run_the_server_stopped_for_time_says_so_beside_resume(tmp_path, monkeypatch, runs_root):
    timed = runs.create_run(resolve(tiny("gan", "ring-8", steps=1_000_000)), tmp_path)
    assert train(resolve(tiny("gan", "ring-8", steps=1_000_000)), timed, time_limit_s=1.0)["state"] == "stopped"
    pressed = runs_root[1]["stopped"]  # stopped by a person: no such line
    shutil.copytree(pressed, tmp_path / pressed.name)
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    select(at, timed, tmp_path / pressed.name)
    said = [m.value for m in at.markdown if "this server's time for it at a stretch" in m.value]
    assert len(said) == 1 and timed.name in said[0]
    assert said[0].endswith(":orange[Stopped after 1 s of training, this server's time for it at a stretch; "
                            "Resume trains it to its end.]")  # this server has no limit now
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUN_MINUTES", "3")  # an operator's limit, as Resume would give it now
    at.run()
    assert [m.value for m in at.markdown if "this server's time for it at a stretch" in m.value][0].endswith(
        "; Resume trains it for up to another 3 min.]")
    assert not at.button(key=f"resume_{timed.name}").disabled
    for mangled in (float("inf"), float("nan"), True, "60", -1):  # a status file edited by hand: no line, no traceback
        runs.write_status(timed, stopped_after_s=mangled)
        at.run()
        assert not at.exception and not [m for m in at.markdown if "time for it at a stretch" in m.value], mangled


def test_a_visitor_who_kept_another_waiting_reads_why_resume_waits_and_is_refused_in_one_sentence(tmp_path, monkeypatch):
    owner, waiting = "a" * 32, "b" * 32
    timed = runs.create_run(resolve(tiny("gan", "ring-8", steps=2000)), tmp_path)
    runs.write_status(timed, state="stopped", step=40, stopped_after_s=180.0)  # as the demo's worker leaves it
    visitors.write_owner(timed, owner)
    # The other visitor was refused the slot while this run trained (jobs._claim wrote this).
    runs.atomic_write_json(tmp_path / jobs.TURNS_FILE, [{"who": waiting, "holders": [owner], "behind": [timed.name],
                                                         "at": time.time() - 5}])
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["_visitor"] = owner
    at.run()
    select(at, timed)
    owed = ("Another visitor asked for a training slot while your run trained, so the next turn is theirs; "
            "you can start or resume a run again within 2 min.")
    assert [m for m in at.markdown if m.value.endswith(f":orange[{owed}]")]
    at.button(key=f"resume_{timed.name}").click().run()
    assert [e.value for e in at.error] == [owed] and runs.read_status(timed)["state"] == "stopped"
    (tmp_path / jobs.TURNS_FILE).unlink()  # the other visitor took their turn: nothing more is said
    at.run()
    assert not [m for m in at.markdown if "next turn is theirs" in m.value]


def test_resume_refused_is_one_sentence(page, monkeypatch):
    at, made = page

    def refuse(run_dir, max_active=None):
        raise RunError("2 runs are already training and the limit is 2; stop one or wait for it to finish.")

    monkeypatch.setattr(jobs, "resume", refuse)
    select(at, made["stopped"])
    at.button(key=f"resume_{made['stopped'].name}").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["2 runs are already training and the limit is 2; stop one or wait for it to finish."]


@pytest.fixture
def own_root(runs_root, tmp_path, monkeypatch):
    """A copy of the runs plus one that looks alive (this test process is its worker)."""
    _, made = runs_root
    copies = {name: Path(shutil.copytree(d, tmp_path / d.name)) for name, d in made.items()}
    live = runs.create_run(tiny_cfg("gan", steps=1000), tmp_path)
    runs.write_status(live, state="running", step=120, pid=os.getpid(), host=socket.gethostname(), eta=30.0)
    copies["live"] = live
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    return copies


def test_stop_an_active_run_which_cannot_be_deleted(own_root):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    live = own_root["live"]
    assert at.session_state[SELECTED] == [live.name]  # the newest run is picked to start with
    table = at.dataframe[0].value
    assert dict(zip(table["Run"], table["State"]))[live.name] == "running"
    assert not at.button(key=f"stop_{live.name}").disabled
    assert at.button(key=f"resume_{live.name}").disabled
    at.button(key=f"stop_{live.name}").click().run()
    assert not at.exception
    assert (live / "STOP").exists()
    assert dict(zip(at.dataframe[0].value["Run"], at.dataframe[0].value["State"]))[live.name] == "stopping"
    assert at.button(key=f"stop_{live.name}").disabled

    at.button(key=f"delete_{live.name}").click().run()  # even if the (disabled) popover were opened
    assert not at.exception
    assert live.is_dir()
    assert [e.value for e in at.error] == [f"Run {live.name} is still running; stop it and wait until it has stopped before deleting it."]


def test_delete_a_finished_run(own_root):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    gan = own_root["gan"]
    select(at, gan, own_root["wgan"])
    at.button(key=f"delete_{gan.name}").click().run()
    assert not at.exception
    assert not gan.exists()
    assert gan.name not in set(at.dataframe[0].value["Run"])
    assert at.session_state[SELECTED] == [own_root["wgan"].name]


def test_empty_runs_dir_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path / "none-yet"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert "No runs" in at.info[0].value
    assert at.button(key="cmp_go")  # the comparison can still be started from here


def test_bad_settings_are_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUNS", "lots")
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Environment variable GAN_WORKBENCH_MAX_RUNS must be a whole number, not 'lots'."]


def test_an_experiments_runs_are_selected_together(own_root):
    tagged = [own_root["stopped"], own_root["gan"]]  # launch order: stopped first
    for run_dir, variant in zip(tagged, ("sgd", "adam")):
        (run_dir / "experiment.json").write_text(json.dumps({
            "id": "20261122-000000-optimizers-abcd", "kind": "optimizer-comparison", "created": 1.0,
            "label": "Optimisers: gan on ring-8", "variant": variant, "variant_label": variant.upper(),
            "runs": [d.name for d in tagged]}))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    picker = at.selectbox(key="runs_experiment")
    assert len(picker.options) == 1 and picker.options[0].startswith("Optimisers: gan on ring-8")
    picker.set_value(picker.options[0]).run()
    assert not at.exception
    assert at.session_state[SELECTED] == [d.name for d in tagged]
    table = at.dataframe[0].value
    assert dict(zip(table["Run"], table["Experiment"]))[own_root["gan"].name] == "ADAM"
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in figure["data"] if t.get("showlegend") is not False} == {
        f"SGD · {own_root['stopped'].name[-4:]}", f"ADAM · {own_root['gan'].name[-4:]}"}


def fabricated_run(root: Path, last_loss_g: float) -> Path:
    """A finished run directory written by hand: three logged rows, the last with ``last_loss_g``."""
    run_dir = runs.create_run(tiny_cfg("gan", steps=30), root)
    rows = [{"step": s, "time": 0.0, "elapsed": s / 10, "loss_d": 1.3, "loss_g": 0.7, "d_real": 0.5, "d_fake": 0.5}
            for s in (10, 20, 30)]
    rows[-1].update(loss_d=0.0, loss_g=last_loss_g)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs.write_status(run_dir, state="finished", step=30, elapsed=3.0)
    return run_dir


def test_a_run_whose_losses_exploded_is_never_a_green_finished(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    for name in ("GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_DEMO"):
        monkeypatch.delenv(name, raising=False)
    healthy, blown = fabricated_run(tmp_path, 0.7), fabricated_run(tmp_path, 8.9e6)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["Run"], table["State"])) == {healthy.name: "finished", blown.name: "exploded"}
    notes = dict(zip(table["Run"], table["Note"]))
    assert notes[healthy.name] == "" and "generator loss was 8,900,000 at step 30" in notes[blown.name]
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    assert styles.count("#e0353a") == 1 and styles.count("#21c354") == 1  # one red state, one green
    select(at, blown, healthy)
    rows = {r: next(m.value for m in at.markdown if f"`{r.name}`" in m.value) for r in (blown, healthy)}
    assert ":red-badge[exploded]" in rows[blown] and "8,900,000" in rows[blown] and "green" not in rows[blown]
    assert ":green-badge[finished]" in rows[healthy]


@pytest.fixture
def cgan_root(tmp_path, monkeypatch):
    """A tiny conditional run on mnist-5k (a checkpoint, grids of one row per class) beside a plain GAN run."""
    made = {}
    for name, cfg in (("cgan", tiny("cgan", "mnist-5k", steps=2, **{"train.n_samples": 20})), ("gan", tiny_cfg("gan"))):
        cfg = resolve(cfg)
        made[name] = runs.create_run(cfg, tmp_path)
        assert train(cfg, made[name])["state"] == "finished"
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    return made


def test_a_conditional_run_shows_its_grid_rows_and_the_judges_figures(cgan_root):
    cgan, gan = cgan_root["cgan"], cgan_root["gan"]
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    select(at, cgan, gan)
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert any("one row per class, top to bottom: 0, 1, 2" in c for c in captions)
    assert sum("row per" in c for c in captions) == 1  # the plain GAN's grid is just a grid
    # Only the conditional run gets a judge, and it is computed only when asked for.
    assert [t.key for t in at.toggle if t.key.startswith("runs_judge_")] == [f"runs_judge_{cgan.name}"]
    assert not at.metric
    at.toggle(key=f"runs_judge_{cgan.name}").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    accuracy, frechet = at.metric
    assert accuracy.label == "Judged as requested" and accuracy.proto.delta.startswith("real images: ")
    assert frechet.label == "Fréchet distance to real images" and frechet.proto.delta.startswith("real vs real: ")
    assert (cgan.parent / "judges").is_dir()  # the judge is cached with the runs, for the next look


def test_the_judge_reads_only_training_data_the_server_vouches_for(cgan_root, tmp_path, monkeypatch):
    """A conditional run trained on a folder outside the data root (the data root moved since)
    is not judged: the page says why instead of reading that folder."""
    from PIL import Image

    outside = tmp_path / "outside"
    for k, colour in enumerate(((200, 30, 30), (30, 30, 200))):
        (outside / f"class{k}").mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (20, 20), colour).save(outside / f"class{k}" / f"{i}.png")
    cfg = resolve(tiny("cgan", "folder", steps=2, **{"data.path": str(outside)}))
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(tmp_path / "data-root"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    select(at, run_dir)
    assert not at.exception
    assert f"runs_judge_{run_dir.name}" not in [t.key for t in at.toggle]
    assert any("cannot score this one" in i.value and "not under the server's data folder" in i.value for i in at.info)


def test_a_long_runs_curves_are_thinned_and_a_csv_too_big_to_build_is_one_sentence(own_root, monkeypatch):
    """The Runs page draws a long run from runs.read_metrics_thinned's few thousand rows (it
    read every row before: a 50 MB metrics.jsonl cost the server +350 MB), and a CSV over
    what one download holds is refused in one sentence instead of built."""
    from gan_core import export
    from gan_core.health import HISTORY

    gan = own_root["gan"]
    row = json.loads((gan / "metrics.jsonl").read_text().splitlines()[-1])
    with open(gan / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps({**row, "step": step}) + "\n" for step in range(2, 200_002, 2))  # 100,000 rows
    size_mb = (gan / "metrics.jsonl").stat().st_size / 2**20
    assert 40 < size_mb < 64
    read, whole = [], runs.read_metrics

    def reading(run_dir, offset=0):  # what the page asks of the reader that reads to the end
        read.append((Path(run_dir) / "metrics.jsonl").stat().st_size - offset)
        return whole(run_dir, offset)

    monkeypatch.setattr(runs, "read_metrics", reading)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    select(at, gan)
    assert read and max(read) <= HISTORY * 1024  # the table's and the health's tails; never the file
    (chart,) = at.get("plotly_chart")
    xs = [values(t["x"]) for t in json.loads(chart.proto.spec)["data"]]
    assert all(len(x) <= 2 * runs.DISPLAY_ROWS + 1 for x in xs)
    assert all(x[0] == 2 and x[-1] == 200_000 for x in xs)  # the first and the newest step are drawn
    csv_buttons = [b.proto.label for b in at.get("download_button") if "CSV" in b.proto.label]
    assert csv_buttons == ["Metrics of the selected runs (CSV)"]  # under what a download holds

    monkeypatch.setattr(export, "MAX_ZIPPED_METRICS_BYTES", 32 << 20)
    at.run()
    assert not [b for b in at.get("download_button") if "CSV" in b.proto.label]
    assert [c.value for c in at.caption if "download holds" in c.value] == [
        f"The selected runs' metrics are {size_mb:,.0f} MB together, over the 32 MB one download holds; select fewer runs."]
