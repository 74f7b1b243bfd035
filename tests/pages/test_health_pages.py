"""The health diagnosis on the pages: the Train live view and the Runs page say
"no problems seen" for a balanced run that finished ("healthy so far" is for runs still
training) and name a run whose D has won, with what to try; a run that diverged (NaN)
is named as blown up, never "healthy" beside its red state.

The runs are written by hand (metrics rows as the trainer logs them), so nothing
trains here; tests/test_health.py trains the real ones."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from gan_core import runs
from gan_core.config import Config
from gan_core.recipes import resolve

ROOT = Path(__file__).resolve().parents[2]


def written_run(root: Path, d_fake: float, steps: int = 200) -> Path:
    """A finished gan run on ring-8 whose D gave generated points D(G(z)) = ``d_fake`` throughout."""
    cfg = resolve(Config(recipe="gan").replace(**{"data.name": "ring-8", "train.steps": steps, "optim.lr_d": 2e-3}))
    run_dir = runs.create_run(cfg, root)
    d_real = 1 - d_fake
    with open(run_dir / "metrics.jsonl", "w") as f:
        for step in range(10, steps + 1, 10):
            row = {"step": step, "time": 0.0, "elapsed": step / 10, "loss_d_real": -math.log(d_real),
                   "loss_d_fake": -math.log(1 - d_fake), "loss_g": -math.log(d_fake), "d_real": d_real, "d_fake": d_fake}
            row["loss_d"] = row["loss_d_real"] + row["loss_d_fake"]
            f.write(json.dumps(row) + "\n")
    runs.write_status(run_dir, state="finished", step=steps, elapsed=20.0)
    return run_dir


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    return SimpleNamespace(healthy=written_run(tmp_path, 0.45), won=written_run(tmp_path, 0.004))


def test_train_live_view_says_healthy_or_names_the_failure_with_what_to_try(env):
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params["run"] = env.won.name
    at.run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "D has won" in w.value]
    assert "D(G(z)) 0.004" in warning and "**Try:**" in warning and "from 2e-3 to G's 2e-4" in warning
    assert "healthy so far" not in " ".join(m.value for m in at.markdown)

    at.query_params["run"] = env.healthy.name
    at.run()
    assert not at.exception
    assert any(":green-badge[no problems seen]" in m.value for m in at.markdown)
    assert "healthy" not in " ".join(m.value for m in at.markdown)  # it is over: not "so far"
    assert not [w.value for w in at.warning if "D has won" in w.value]


def test_runs_page_has_a_health_column_and_the_details_on_selection(env):
    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["Run"], table["Health"])) == {env.healthy.name: "no problems seen", env.won.name: "D has won"}
    assert dict(zip(table["Run"], table["State"])) == {env.healthy.name: "finished", env.won.name: "finished"}
    at.multiselect(key="runs_selected").set_value([env.won.name, env.healthy.name]).run()
    assert not at.exception
    rows = {r: next(m.value for m in at.markdown if f"`{r.name}`" in m.value) for r in (env.won, env.healthy)}
    assert ":orange[**D has won.**" in rows[env.won] and "Try:" in rows[env.won]
    assert "D has won" not in rows[env.healthy]


def diverged_run(root: Path) -> Path:
    """The issue's reproduction, trained for real: wgan on ring-8 at learning rates of 1e8
    goes NaN by its first logged step and stops as diverged."""
    from gan_core.training import train

    cfg = Config(recipe="wgan").replace(**{"data.name": "ring-8", "train.steps": 40, "train.log_every": 10,
                                           "optim.lr_g": 1e8, "optim.lr_d": 1e8, "train.device": "cpu"})
    run_dir = runs.create_run(cfg, root)
    assert train(cfg, run_dir)["state"] == "diverged"
    return run_dir


def test_a_diverged_run_is_named_as_blown_up_in_status_json_and_on_both_pages_never_healthy(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    run_dir = diverged_run(tmp_path)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "diverged"
    (finding,) = status["health"]  # was [] before: the trainer raised before the NaN row was written
    assert finding["title"] == "Training blew up" and "became NaN at step 10" in finding["sentence"]

    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    shown = " ".join([m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning])
    assert ":red-badge[diverged]" in shown
    assert any("Training blew up" in e.value and "became NaN at step 10" in e.value for e in at.error)
    assert "healthy" not in shown.lower() and "no problems" not in shown

    at = AppTest.from_file(str(ROOT / "pages" / "runs.py"), default_timeout=60)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["Run"], table["State"])) == {run_dir.name: "diverged"}
    assert dict(zip(table["Run"], table["Health"])) == {run_dir.name: "Training blew up"}
    at.multiselect(key="runs_selected").set_value([run_dir.name]).run()
    row = next(m.value for m in at.markdown if f"`{run_dir.name}`" in m.value)
    assert "Training blew up" in row and "became NaN at step 10" in row and "healthy" not in row.lower()


def test_a_finished_run_whose_losses_blew_up_reads_exploded_in_the_run_menu_and_is_never_healthy(tmp_path, monkeypatch):
    """"finished at 300" stood in the Watch menu beside the red "exploded" badge."""
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS"):
        monkeypatch.delenv(name, raising=False)
    run_dir = written_run(tmp_path, 0.45, steps=300)
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 300, "time": 0.0, "elapsed": 30.0, "loss_d": 3e6, "loss_g": 8.9e6,
                            "d_real": 0.5, "d_fake": 0.5}) + "\n")
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params["run"] = run_dir.name
    at.run()
    assert not at.exception
    (menu,) = [s for s in at.selectbox if s.label == "Watch a run"]
    # The menu names the run by what never changes (a state in it lost the choice once the run
    # stopped); "finished at" no longer stands there beside the red badge.
    assert menu.format_func(menu.value).startswith("gan on ") and "finished" not in menu.format_func(menu.value)
    shown = " ".join([m.value for m in at.markdown] + [w.value for w in at.warning])
    assert ":red-badge[exploded]" in shown and "healthy" not in shown.lower() and "no problems" not in shown
