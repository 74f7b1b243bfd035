"""The engine holds the server's limits, whoever calls it: runs longer than
GAN_WORKBENCH_MAX_STEPS are refused by jobs.launch, jobs.resume and every comparison
before anything is created; a worker the server started stops its run, checkpointed,
after GAN_WORKBENCH_MAX_RUN_MINUTES; a training slot is reserved atomically across
processes; a demo visitor's ownership is on disk before any worker starts; a run's
state is a RunState."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import tiny
from gan_core import cli, experiments, jobs, runs, settings, training, visitors
from gan_core.errors import ConfigError, RunError
from gan_core.recipes import resolve
from gan_core.runs import RunState

ROOT = Path(__file__).resolve().parents[1]

A = "a" * 32


@pytest.fixture
def no_workers(monkeypatch):
    """Nothing trains: record what would have started, with the owner it had then."""
    started = []
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: started.append((run_dir, visitors.run_owner(run_dir))))
    monkeypatch.setattr(jobs, "_spawn_queue", lambda run_dirs, active=0: started.extend(
        (d, visitors.run_owner(d)) for d in run_dirs))
    return started


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_MAX_STEPS", "300")


def one_sentence(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text and text.endswith(".") and text.count(". ") == 0, text
    return text


# ----------------------------------------------------------------------------- the step cap


def test_launch_refuses_a_run_longer_than_the_cap_before_creating_it(tmp_path, capped, no_workers):
    with pytest.raises(RunError) as e:
        jobs.launch(tiny("gan", "ring-8", steps=5000), tmp_path, owner=A)
    assert one_sentence(e) == "This server trains at most 300 steps per run, not 5,000; choose 300 steps or fewer."
    assert runs.list_runs(tmp_path) == [] and no_workers == []
    jobs.launch(tiny("gan", "ring-8", steps=300), tmp_path)  # at the cap: allowed
    assert len(no_workers) == 1


def test_resume_refuses_a_run_whose_config_asks_more_than_the_cap(tmp_path, monkeypatch, no_workers):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8", steps=5000)), tmp_path)  # made before the cap was set
    runs.write_status(run_dir, state=RunState.STOPPED, step=100)
    monkeypatch.setenv("GAN_WORKBENCH_MAX_STEPS", "300")
    with pytest.raises(RunError) as e:
        jobs.resume(run_dir)
    assert one_sentence(e) == (f"Run {run_dir.name} trains 5,000 steps and this server trains at most 300 per run; "
                               "start a new run of 300 steps or fewer.")
    assert runs.read_status(run_dir)["state"] == "stopped" and no_workers == []
    monkeypatch.delenv("GAN_WORKBENCH_MAX_STEPS")
    jobs.resume(run_dir)
    assert runs.read_status(run_dir)["state"] == "queued" and [d for d, _ in no_workers] == [run_dir]


@pytest.mark.parametrize("name", list(experiments.COMPARISONS))
def test_every_comparison_refuses_runs_longer_than_the_cap(tmp_path, capped, no_workers, name):
    base = experiments.base_config(name, steps=1000)
    c = experiments.comparison(name)
    expected = (f"The {c.short} would train 1,000 steps per run and this server trains at most 300; "
                "choose 300 steps or fewer.")
    with pytest.raises(RunError) as e:
        experiments.launch_comparison(name, base, tmp_path, max_active=None)
    assert one_sentence(e) == expected
    with pytest.raises(RunError, match="at most 300"):
        experiments.create(name, base, tmp_path)  # what the command line trains
    assert runs.list_runs(tmp_path) == [] and no_workers == []
    assert len(experiments.launch_comparison(name, experiments.base_config(name, steps=300), tmp_path)) == len(c.variants)


def test_the_command_line_comparison_obeys_the_cap_in_one_error_line(tmp_path, capped, capsys):
    assert experiments.main(["losses", "--steps", "1000", "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The G-loss comparison would train 1,000 steps") and err.count("\n") == 1
    assert runs.list_runs(tmp_path) == []


# ----------------------------------------------------------------------------- the time limit

TIMED_OUT = re.compile(r"Stopped at step (\d+) after 1 s of training, this server's time for it at a stretch; "
                       r"resume continues from there\.")


def metric_steps(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_run_past_the_time_limit_stops_checkpointed_and_resume_goes_on_from_there(tmp_path):
    cfg = tiny("gan", "ring-8", steps=1_000_000)  # far more than a second's worth on any machine
    run_dir = runs.create_run(resolve(cfg), tmp_path)
    first = training.train(cfg, run_dir, time_limit_s=1.0)
    assert first["state"] == RunState.STOPPED and 0 < first["step"] < 1_000_000
    assert TIMED_OUT.fullmatch(first["message"]) and int(TIMED_OUT.fullmatch(first["message"])[1]) == first["step"]
    assert runs.read_status(run_dir)["message"] == first["message"]
    status = runs.read_status(run_dir)  # when the stretch was due to end, for the live view's "stops in"
    assert status["stops_by"] == pytest.approx(status["started"] + 1.0)
    assert metric_steps(run_dir)[-1] == first["step"]
    second = training.resume(run_dir, time_limit_s=1.0)  # what Resume does: another stretch of the same length
    assert second["state"] == RunState.STOPPED and second["step"] > first["step"]
    assert metric_steps(run_dir) == list(range(1, second["step"] + 1))  # continued from the checkpoint, no step twice


def test_only_the_servers_workers_are_stopped_for_time(tmp_path, monkeypatch):
    limited = dataclasses.replace(settings.load_settings(), max_run_s=1.0)
    monkeypatch.setattr(settings, "load_settings", lambda: limited)
    monkeypatch.setattr(jobs, "load_settings", lambda: limited)
    cfg = tiny("gan", "ring-8", steps=1_000_000)
    # A run queued by the dashboard, trained by a group's worker (`python -m gan_core.jobs`) ...
    queued = runs.create_run(resolve(cfg), tmp_path)
    runs.write_status(queued, state=RunState.QUEUED)
    assert jobs._main([str(queued)]) == 0
    assert runs.read_status(queued)["state"] == RunState.STOPPED and TIMED_OUT.fullmatch(runs.read_status(queued)["message"])
    # ... or by a run's own worker (`train --worker --resume`, what jobs._spawn starts).
    runs.write_status(queued, state=RunState.QUEUED)
    assert cli.main(["train", "--no-progress", "--worker", "--resume", str(queued)]) == 0
    status = runs.read_status(queued)
    assert status["state"] == RunState.STOPPED and TIMED_OUT.fullmatch(status["message"])
    # A person's own commands on the same machine train to the end, however long it takes:
    # `python -m gan_core.experiments` (jobs.train_queue without a limit) ...
    theirs = runs.create_run(resolve(tiny("gan", "ring-8", steps=300)), tmp_path)
    runs.write_status(theirs, state=RunState.QUEUED)
    monkeypatch.setattr(settings, "load_settings", lambda: dataclasses.replace(limited, max_run_s=0.05))
    assert jobs.train_queue([theirs]) == [RunState.FINISHED]
    # ... and `python -m gan_core train`.
    briefly = dataclasses.replace(limited, max_run_s=0.05)
    monkeypatch.setattr(settings, "load_settings", lambda: briefly)
    mine = runs.create_run(resolve(tiny("gan", "ring-8", steps=300)), tmp_path)
    began = time.monotonic()
    assert cli.main(["train", "--no-progress", "--resume", str(mine)]) == 0
    assert time.monotonic() - began > 0.05
    assert runs.read_status(mine)["state"] == RunState.FINISHED and runs.read_status(mine)["step"] == 300


def test_a_queue_shares_its_time_among_its_runs_so_a_comparison_holds_the_slot_no_longer_than_one_run(tmp_path, monkeypatch):
    """A comparison's runs train one after another in one worker (helper-28: with the limit
    given to each run, a three-run comparison held the demo's one slot three times over)."""
    given, ends = [], []

    def fake_resume(run_dir, time_limit_s=None):
        given.append(time_limit_s)
        ends.append(time.monotonic() + time_limit_s)  # the latest this run could train until
        if len(given) == 1:
            time.sleep(0.3)  # the first run ends early: the others share what it left
        runs.write_status(run_dir, state=RunState.FINISHED)
        return {"state": RunState.FINISHED, "step": 1}

    monkeypatch.setattr(training, "resume", fake_resume)
    queue = [runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path) for _ in range(3)]
    for run_dir in queue:
        runs.write_status(run_dir, state=RunState.QUEUED)
    began = time.monotonic()
    assert jobs.train_queue(queue, time_limit_s=3.0) == [RunState.FINISHED] * 3
    assert given[0] == pytest.approx(1.0, abs=0.05)  # a third of the whole
    assert given[1] == pytest.approx((3.0 - 0.3) / 2, abs=0.1)  # half of what is left
    assert given[2] == pytest.approx(3.0 - 0.3, abs=0.1)  # the second took none of its share: all that is left
    assert max(ends) <= began + 3.0 + 0.01  # no run may train past the queue's end


def test_stopped_near_is_at_least_one_step_and_the_minutes_setting_has_a_ceiling(monkeypatch):
    from gan_core.estimate import Estimate

    assert Estimate(seconds=27_005, per_step=90, steps=300, basis="").stopped_near(60) == 1  # a stretch trains a step
    assert Estimate(seconds=1_005, per_step=0.5, steps=2000, basis="").stopped_near(180) == 360
    assert Estimate(seconds=105, per_step=0.05, steps=2000, basis="").stopped_near(180) is None
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUN_MINUTES", "9" * 400)  # was an OverflowError on every page
    with pytest.raises(ConfigError, match=r"^Environment variable GAN_WORKBENCH_MAX_RUN_MINUTES must be at most 100,000, "
                                          r"not 9{20}…\.$"):
        settings.load_settings()


def test_a_demo_trains_longer_runs_for_a_limited_time_and_its_form_starts_short(monkeypatch):
    for name in ("GAN_WORKBENCH_MAX_STEPS", "GAN_WORKBENCH_MAX_RUN_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    plain = settings.load_settings()
    assert (plain.max_steps, plain.max_run_s, plain.default_steps) == (None, None, None)
    assert settings.run_limits(plain) == "are not capped in length"
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    demo = settings.load_settings()
    assert (demo.max_steps, demo.max_run_s, demo.default_steps) == (2000, 180.0, 300)
    assert settings.run_limits(demo) == "may have up to 2,000 steps and train for 3 min at a stretch (Resume continues them)"
    monkeypatch.setenv("GAN_WORKBENCH_MAX_STEPS", "100")
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUN_MINUTES", "10")
    shorter = settings.load_settings()
    assert (shorter.max_steps, shorter.max_run_s, shorter.default_steps) == (100, 600.0, 100)
    monkeypatch.setenv("GAN_WORKBENCH_MAX_RUN_MINUTES", "0.5")
    with pytest.raises(ConfigError, match=r"^Environment variable GAN_WORKBENCH_MAX_RUN_MINUTES must be a whole number, "
                                          r"not '0\.5'\.$"):
        settings.load_settings()


# ----------------------------------------------------------------------------- owners and groups


@pytest.mark.parametrize("max_active, queued", [(None, False), (2, True)])
def test_a_comparisons_runs_are_owned_and_tagged_before_any_worker_starts(tmp_path, monkeypatch, max_active, queued):
    started = []

    def seen(run_dir, how):
        started.append((run_dir, how, visitors.run_owner(run_dir), (experiments.read_experiment(run_dir) or {}).get("variant")))

    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: seen(run_dir, "own worker"))
    monkeypatch.setattr(jobs, "_spawn_queue", lambda run_dirs, active=0: [seen(d, "queue") for d in run_dirs])
    run_dirs = experiments.optimizer_comparison(tiny("gan", "ring-8", steps=30), tmp_path, max_active, owner=A)
    how = "queue" if queued else "own worker"  # 2 free slots for 3 runs: one worker trains them in turn
    assert started == [(d, how, A, v) for d, v in zip(run_dirs, ["sgd", "rmsprop", "adam"])]


def test_a_group_is_created_whole_or_not_at_all(tmp_path, no_workers):
    def broken_tag(run_dirs):
        assert len(run_dirs) == 2  # both created...
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        jobs.launch_group([tiny("gan", "ring-8"), tiny("gan", "toy-1d")], tmp_path, tag=broken_tag)
    assert runs.list_runs(tmp_path) == [] and no_workers == []  # ...and both removed


def test_a_comparison_with_no_free_slot_creates_nothing(tmp_path, no_workers):
    runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path)  # a queued run holds the only slot
    with pytest.raises(RunError) as e:
        experiments.loss_comparison(experiments.base_config("losses", steps=50), tmp_path, max_active=1)
    assert one_sentence(e).startswith("The G-loss comparison needs one free training slot, but 1 run is")
    assert len(runs.list_runs(tmp_path)) == 1 and no_workers == []


# ----------------------------------------------------------------------------- atomic slots


# One of several processes pressing Start at the same moment on a one-run server. A
# plain ``python -c`` child, not multiprocessing: a spawned child re-runs the parent's
# __main__, which in a test process that ran an AppTest page is that page's script.
LAUNCHER = """
import json, sys, time
from pathlib import Path
from gan_core import jobs
from gan_core.config import Config
from gan_core.errors import RunError
from gan_core.recipes import resolve

runs_dir, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
slow_create = jobs.create_run

def create_run(cfg, where):
    time.sleep(0.3)  # widen the window between counting the runs and creating one
    return slow_create(cfg, where)

jobs.create_run = create_run
jobs._spawn = lambda run_dir, active=0: None  # the queued run holds its slot; nothing needs to train
cfg = resolve(Config(recipe="gan").replace(**{"data.name": "ring-8", "train.steps": 10}))
ready.touch()
while not go.exists():  # every child is imported and waiting: all press Start together
    time.sleep(0.005)
try:
    print(json.dumps(["started", str(jobs.launch(cfg, runs_dir, max_active=1))]))
except RunError as e:
    print(json.dumps(["refused", str(e)]))
"""


def test_three_simultaneous_launches_from_separate_processes_start_exactly_one(tmp_path):
    runs_dir, go = tmp_path / "runs", tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", LAUNCHER, str(runs_dir), str(r), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for r in ready]
    deadline = time.monotonic() + 180
    while not all(r.exists() for r in ready) and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.05)
    go.touch()
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(kind for kind, _ in outcomes) == ["refused", "refused", "started"]
    for kind, text in outcomes:
        if kind == "refused":
            assert text == ("1 run is already training or queued and the limit is 1; wait for one to finish, "
                            "or stop one of your own.")
    assert [r.state for r in runs.list_runs(runs_dir)] == ["queued"]  # the lock file beside it is not a run
    assert (runs_dir / jobs.SLOTS_LOCK).is_file()


def test_a_resume_that_waited_for_the_lock_sees_the_run_another_resume_queued(tmp_path, no_workers):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path)
    runs.write_status(run_dir, state=RunState.STOPPED, step=5)
    outcome = []

    def press_resume():
        try:
            jobs.resume(run_dir)
            outcome.append("resumed")
        except RunError as e:
            outcome.append(str(e))

    with jobs.slots(tmp_path):  # another process is resuming it: it holds the lock...
        waiting = threading.Thread(target=press_resume)
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and outcome == []  # ...so this resume waits...
        runs.write_status(run_dir, state=RunState.QUEUED)  # ...while that one queues the run
    waiting.join(30)
    assert outcome == [f"Run {run_dir.name} is still queued; stop it before resuming."] and no_workers == []


# ----------------------------------------------------------------------------- RunState


def test_states_are_run_states_and_stay_plain_strings_on_disk(tmp_path):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path)
    assert json.loads((run_dir / "status.json").read_text())["state"] == "queued"
    status = runs.read_status(run_dir)
    assert status["state"] is RunState.QUEUED and status["state"] == "queued"
    info = runs.run_info(run_dir)
    assert info.state is RunState.QUEUED and info.active and info.state.active
    assert set(runs.ACTIVE) == {RunState.QUEUED, RunState.RUNNING}
    assert not (set(runs.ACTIVE) & set(runs.FINAL))


def test_a_state_the_engine_never_writes_lists_the_run_as_unreadable(tmp_path):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8")), tmp_path)
    runs.write_status(run_dir, state="exploded")  # shown by pages, never a state on disk
    info = runs.run_info(run_dir)
    assert info.state is RunState.UNREADABLE and not info.active
    assert info.error.startswith("This run cannot be read: status.json field 'state' is 'exploded', not one of queued, "
                                 "running, finished,")


# ----------------------------------------------------------------------------- turns among a demo's visitors

B, C = "b" * 32, "c" * 32
WAIT = ("1 run is already training or queued and the limit is 1; when it finishes, its owner waits 2 min before "
        "starting another, so try again then.")
OWED = ("Another visitor asked for a training slot while your run trained, so the next turn is theirs; "
        "you can start or resume a run again within 2 min.")


def stopped_for_time(run_dir: Path, ago: float = 0.0) -> None:
    """The run's worker stopped it at the server's time limit ``ago`` seconds ago."""
    status = runs.write_status(run_dir, state=RunState.STOPPED, step=40, stopped_after_s=180.0)
    runs.atomic_write_json(run_dir / "status.json", {**status, "updated": time.time() - ago})


def test_a_visitor_kept_waiting_has_the_next_turn_before_the_runs_owner_resumes(tmp_path, no_workers):
    cfg = tiny("gan", "ring-8")
    a_run = jobs.launch(cfg, tmp_path, max_active=1, owner=A)
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path, max_active=1, owner=B)
    assert one_sentence(e) == WAIT
    claimed = json.loads((tmp_path / jobs.TURNS_FILE).read_text())
    with pytest.raises(RunError):
        jobs.launch(cfg, tmp_path, max_active=1, owner=B)  # asking again does not push the turn later
    assert json.loads((tmp_path / jobs.TURNS_FILE).read_text()) == claimed
    assert [(t["who"], t["holders"]) for t in claimed] == [(B, [A])]

    stopped_for_time(a_run)  # A's stretch is over: the slot is free, and B's
    for press in (lambda: jobs.resume(a_run, 1), lambda: jobs.launch(cfg, tmp_path, max_active=1, owner=A)):
        with pytest.raises(RunError) as e:
            press()
        assert one_sentence(e) == OWED
    assert runs.read_status(a_run)["state"] == "stopped" and len(no_workers) == 1 and len(runs.list_runs(tmp_path)) == 1

    b_run = jobs.launch(cfg, tmp_path, max_active=1, owner=B)  # B takes the turn; what was owed is settled
    assert json.loads((tmp_path / jobs.TURNS_FILE).read_text()) == []
    with pytest.raises(RunError) as e:
        jobs.resume(a_run, 1)  # now A waits behind B's run, as B waited behind A's
    assert one_sentence(e) == WAIT
    stopped_for_time(b_run)
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path, max_active=1, owner=B)
    assert one_sentence(e) == OWED
    jobs.resume(a_run, 1)
    assert runs.read_status(a_run)["state"] == "queued"


def test_a_turn_lapses_after_the_slot_has_been_free_for_its_time_and_binds_no_one_else(tmp_path, no_workers):
    cfg = tiny("gan", "ring-8")
    a_run = jobs.launch(cfg, tmp_path, max_active=1, owner=A)
    with pytest.raises(RunError):
        jobs.launch(cfg, tmp_path, max_active=1, owner=B)
    (turn,) = json.loads((tmp_path / jobs.TURNS_FILE).read_text())
    runs.atomic_write_json(tmp_path / jobs.TURNS_FILE, [{**turn, "at": turn["at"] - 300}])  # B asked 5 min ago
    stopped_for_time(a_run, ago=jobs.TURN_KEPT_S - 30)
    with pytest.raises(RunError) as e:
        jobs.resume(a_run, 1)
    assert one_sentence(e) == OWED.replace("2 min", "1 min")  # 30 s left of B's turn, said in whole minutes
    (turn,) = json.loads((tmp_path / jobs.TURNS_FILE).read_text())
    assert turn["freed"] == pytest.approx(time.time() - jobs.TURN_KEPT_S + 30, abs=5)  # when the slot came free, kept
    c_run = jobs.launch(cfg, tmp_path, max_active=1, owner=C)  # C kept nobody waiting: not bound by B's turn
    runs.write_status(c_run, state=RunState.FINISHED)
    runs.atomic_write_json(tmp_path / jobs.TURNS_FILE, [{**turn, "freed": time.time() - jobs.TURN_KEPT_S - 1}])
    jobs.resume(a_run, 1)  # B did not come back in time: the claim is dropped
    assert runs.read_status(a_run)["state"] == "queued" and json.loads((tmp_path / jobs.TURNS_FILE).read_text()) == []
    stopped_for_time(a_run)
    jobs.resume(a_run, 1)  # and binds A no more after later stretches


def test_a_queued_comparison_frees_the_slot_with_its_last_run_and_a_deleted_run_escapes_no_turn(tmp_path, no_workers):
    cfg = tiny("gan", "ring-8")
    group = jobs.launch_group([cfg, cfg, cfg], tmp_path, max_active=1, owner=A)  # one worker trains them in turn
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path, max_active=1, owner=B)
    assert one_sentence(e) == ("3 runs are already training or queued and the limit is 1; when they finish, their owner "
                               "waits 2 min before starting another, so try again then.")
    stopped_for_time(group[0], ago=1000)  # the first run is done; the queue still holds the slot with the others
    runs.write_status(group[1], state=RunState.STOPPED)
    status = json.loads((group[2] / "status.json").read_text())
    assert jobs.turn_owed(tmp_path, A) == ("Another visitor asked for a training slot while your run trained, so the next "
                                          "turn is theirs; you can start or resume a run again within 2 min of your runs stopping.")
    runs.atomic_write_json(group[2] / "status.json", {**status, "state": "finished", "updated": time.time() - 1e9})
    with pytest.raises(RunError) as e:  # freed when the last of them stopped: the latest stop, never before B asked
        jobs.launch(cfg, tmp_path, max_active=1, owner=A)
    assert one_sentence(e) == OWED

    a_run = jobs.launch(cfg, tmp_path / "other", max_active=1, owner=A)
    with pytest.raises(RunError):
        jobs.launch(cfg, tmp_path / "other", max_active=1, owner=B)
    shutil.rmtree(a_run)  # Delete on the Runs page: the slot came free now, and B's turn counts from now
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path / "other", max_active=1, owner=A)
    assert one_sentence(e) == OWED


def test_with_several_slots_the_turn_counts_from_the_first_slot_to_come_free(tmp_path, no_workers):
    cfg = tiny("gan", "ring-8")
    a_run = jobs.launch(cfg, tmp_path, max_active=2, owner=A)
    c_run = jobs.launch(cfg, tmp_path, max_active=2, owner=C)
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path, max_active=2, owner=B)
    assert one_sentence(e) == ("2 runs are already training or queued and the limit is 2; when a slot comes free, the "
                               "visitors whose runs hold them wait 2 min before starting another, so try again then.")
    (turn,) = json.loads((tmp_path / jobs.TURNS_FILE).read_text())
    assert turn["stops"] == 1 and turn["holders"] == sorted([A, C])
    assert jobs.turn_owed(tmp_path, A) == ("Another visitor asked for a training slot while your run trained, so the next "
                                          "turn is theirs; you can start or resume a run again within 2 min of a training "
                                          "slot coming free.")
    stopped_for_time(c_run, ago=30)  # C's run frees a slot: B's turn counts from then, though A's run still trains
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path, max_active=2, owner=A)
    assert one_sentence(e) == OWED
    runs.atomic_write_json(tmp_path / jobs.TURNS_FILE, [{**turn, "at": turn["at"] - 300}])
    stopped_for_time(c_run, ago=jobs.TURN_KEPT_S + 1)  # B let the free slot go by for the whole turn
    assert runs.read_status(a_run)["state"] == "queued"  # A's first run holds its slot still ...
    jobs.launch(cfg, tmp_path, max_active=2, owner=A)  # ... and A's second takes the free one
    assert json.loads((tmp_path / jobs.TURNS_FILE).read_text()) == []


def test_a_turns_promise_is_kept_or_not_made(tmp_path, no_workers, monkeypatch):
    cfg = tiny("gan", "ring-8")
    a_run = jobs.launch(cfg, tmp_path, max_active=1, owner=A)
    monkeypatch.setattr(jobs, "MAX_TURNS", 2)
    others = ["%032x" % i for i in range(1, 4)]
    said = []
    for owner in (B, *others):  # B first, then more visitors than the file keeps
        with pytest.raises(RunError) as e:
            jobs.launch(cfg, tmp_path, max_active=1, owner=owner)
        said.append(one_sentence(e))
    assert said[:2] == [WAIT, WAIT] and said[2:] == ["1 run is already training or queued and the limit is 1; wait for one "
                                                     "to finish, or stop one of your own."] * 2  # promised nothing
    assert [t["who"] for t in json.loads((tmp_path / jobs.TURNS_FILE).read_text())] == [B, others[0]]  # B's is kept
    stopped_for_time(a_run)
    status = json.loads((a_run / "status.json").read_text())
    runs.atomic_write_json(a_run / "status.json", {**status, "updated": time.time() + 365 * 86400})  # a clock a year ahead
    with pytest.raises(RunError) as e:
        jobs.resume(a_run, 1)
    assert one_sentence(e) == OWED  # never "within 525,602 min"

    (tmp_path / jobs.TURNS_FILE).unlink()
    (tmp_path / jobs.TURNS_FILE).mkdir()  # a claim that cannot be written is promised to no one
    run2 = jobs.launch(cfg, tmp_path / "two", max_active=1, owner=A)
    (tmp_path / "two" / jobs.TURNS_FILE).mkdir()
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path / "two", max_active=1, owner=B)
    assert one_sentence(e).endswith("wait for one to finish, or stop one of your own.")
    stopped_for_time(run2)
    jobs.resume(run2, 1)


def test_turns_are_kept_only_for_visitors_and_a_mangled_turns_file_refuses_nothing(tmp_path, no_workers):
    cfg = tiny("gan", "ring-8")
    run = jobs.launch(cfg, tmp_path, max_active=1)  # off a demo: no owners, nothing owed
    with pytest.raises(RunError) as e:
        jobs.launch(cfg, tmp_path, max_active=1)
    assert one_sentence(e) == "1 run is already training or queued and the limit is 1; wait for one to finish, or stop one of your own."
    assert not (tmp_path / jobs.TURNS_FILE).exists()
    runs.write_status(run, state=RunState.FINISHED)
    now = time.time()
    hostile = [b"not json", b"[" * 100_000, json.dumps([{"who": B, "holders": [A], "behind": ["../x"], "at": now},
                                                          {"who": "x", "holders": [A], "behind": ["r"], "at": now},
                                                          {"who": B, "holders": [A], "behind": [], "at": now},
                                                          {"who": B, "holders": [A], "behind": ["x" * 5000], "at": now},
                                                          {"who": B, "holders": [A], "behind": ["r"], "at": "soon"}]).encode(),
               b'[{"who": "' + B.encode() + b'", "holders": ["' + A.encode() + b'"], "behind": ["r"], "at": 1' + b"0" * 400 + b"}]"]
    for text in hostile:
        (tmp_path / jobs.TURNS_FILE).write_bytes(text)
        done = jobs.launch(cfg, tmp_path, max_active=1, owner=A)
        runs.write_status(done, state=RunState.FINISHED)
    (tmp_path / jobs.TURNS_FILE).unlink()
    os.mkfifo(tmp_path / jobs.TURNS_FILE)  # a FIFO must not hang a start
    done = jobs.launch(cfg, tmp_path, max_active=1, owner=A)
    assert done.is_dir() and jobs.turn_owed(tmp_path, A) is None
    runs.write_status(done, state=RunState.FINISHED)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-claims.json"  # a link is not followed to claims kept elsewhere
    elsewhere.write_text(json.dumps([{"who": B, "holders": [A], "behind": [done.name], "at": time.time()}]))
    (tmp_path / jobs.TURNS_FILE).unlink()
    (tmp_path / jobs.TURNS_FILE).symlink_to(elsewhere)
    assert jobs.turn_owed(tmp_path, A) is None and jobs.launch(cfg, tmp_path, max_active=1, owner=A).is_dir()
