"""Run directories as they are found, not as they were written: a mangled status.json
or config.json, a pid the system has given to another process, a STOP pressed while
a run was queued, the temporary files of a killed write. One broken run never hides
the others, and what the user asked for is honoured."""

import os
import socket
import time

import pytest

from conftest import tiny
from gan_core import catalog, checkpoints, export, jobs, runs
from gan_core.cli import main
from gan_core.errors import RunError
from gan_core.recipes import resolve
from gan_core.training import resume, train

BROKEN = [
    ("status.json", b"[1, 2, 3]", "status.json holds a JSON list"),
    ("status.json", b'{"state": "finished", "step": "abc", "total": 2}', "field 'step' is 'abc'"),
    ("status.json", b'{"state": "\xff\xfe finished"}', "status.json is not UTF-8"),
    ("status.json", b'{"state": "stopped", "eta": NaN}', "field 'eta' is nan"),
    ("status.json", b'{"state": "running", "pid": true}', "field 'pid' is True"),
    ("status.json", b'{"state": "fini', "status.json is not valid JSON"),
    ("config.json", b'["dcgan"]', "config.json holds a JSON list"),
    ("config.json", b"\xff\xd8\xff\xe0 not json", "config.json is not UTF-8"),
    ("config.json", b'{"train": {"steps": "abc"}}', "'train.steps' must be an integer"),
    ("config.json", b'{"data": []}', "section 'data' must be an object"),
]


def make_run(root, **status):
    run_dir = runs.create_run(resolve(tiny("gan", "ring-8")), root)
    if status:
        runs.write_status(run_dir, **status)
    return run_dir


@pytest.mark.parametrize("name, content, reason", BROKEN, ids=[r for _, _, r in BROKEN])
def test_a_broken_run_is_listed_unreadable_and_hides_nothing(tmp_path, capsys, name, content, reason):
    good = make_run(tmp_path, state="finished", step=2)
    bad = make_run(tmp_path, state="stopped", step=1)
    (bad / name).write_bytes(content)
    (bad / "checkpoints" / checkpoints.WEIGHTS).write_bytes(b"junk")  # so the gallery reads its status too

    infos = {r.id: r for r in runs.list_runs(tmp_path)}
    assert infos[good.name].state == "finished" and infos[good.name].error is None
    broken = infos[bad.name]
    assert broken.state == "unreadable" and not broken.active
    assert reason in broken.error and "\n" not in broken.error and broken.error.startswith("This run cannot be read")

    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and good.name in out.out and bad.name in out.out
    assert "unreadable" in out.out and reason in out.out

    # Everything else that reads every run keeps working, and the broken run can be deleted.
    assert {e.path.parent.parent.name for e in catalog.list_checkpoints(tmp_path / "none", tmp_path)} == {bad.name}
    assert [r.id for r in jobs.active_runs(tmp_path)] == []
    if name == "status.json":
        with pytest.raises(RunError, match="cannot be read"):
            jobs.resume(bad)
    export.delete_run(bad)
    assert not bad.exists()


def test_a_run_whose_worker_is_alive_stays_active_with_a_mangled_config(tmp_path):
    run_dir = make_run(tmp_path, state="running", **runs.worker_identity(os.getpid()))
    (run_dir / "config.json").write_bytes(b"[]")
    info = runs.run_info(run_dir)
    assert info.active and "config.json holds a JSON list" in info.error


def test_the_worker_repairs_a_mangled_status_when_it_writes(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / "status.json").write_bytes(b"[]")
    runs.write_status(run_dir, state="stopped", step=1, total=2, created=time.time())
    assert runs.run_info(run_dir).state == "stopped"


# ------------------------------------------------------------------ pid reuse


def running(root, **identity):
    return make_run(root, state="running", step=5, **{**runs.worker_identity(os.getpid()), **identity})


needs_proc = pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/stat"), reason="no /proc here")


@needs_proc
def test_a_live_worker_is_running(tmp_path):
    run_dir = running(tmp_path)
    assert runs.read_status(run_dir)["state"] == "running"
    assert runs.read_status(run_dir)["pid_start"] == runs._proc_start(os.getpid())


@needs_proc
@pytest.mark.parametrize("identity", [{"pid_start": 1}, {"boot_id": "a-boot-before-the-last-reboot"}],
                         ids=["another-start-time", "before-a-reboot"])
def test_a_pid_now_owned_by_another_process_is_not_the_worker(tmp_path, monkeypatch, identity):
    # This test process stands in for the unrelated process that got the dead worker's pid.
    run_dir, other = running(tmp_path, **identity), running(tmp_path, **identity)
    assert runs.read_status(run_dir)["state"] == runs.read_status(other)["state"] == "interrupted"
    assert jobs.active_runs(tmp_path) == []  # it no longer blocks the run limit...
    spawned = []
    monkeypatch.setattr(jobs, "_spawn", lambda d, active=0: spawned.append(d))
    jobs.resume(run_dir, max_active=1)  # ...nor Resume
    assert spawned == [run_dir]
    # The stale identity is dropped with "queued" (the new worker's is recorded when it starts).
    assert runs.read_status(run_dir)["state"] == "queued" and runs.read_status(run_dir).get("pid") is None
    export.delete_run(other)  # ...nor Delete
    assert not other.exists()


def test_without_proc_the_pid_alone_decides(tmp_path, monkeypatch):
    run_dir = running(tmp_path, pid_start=1, boot_id="another-boot")
    monkeypatch.setattr(runs, "_proc_start", lambda pid: None)
    monkeypatch.setattr(runs, "_boot_id", lambda: None)
    assert runs.read_status(run_dir)["state"] == "running"
    runs.write_status(run_dir, pid=2**22 + 12345)  # above pid_max: no such process
    assert runs.read_status(run_dir)["state"] == "interrupted"


def test_a_status_without_identity_written_before_it_existed_still_reads(tmp_path):
    run_dir = make_run(tmp_path, state="running", pid=os.getpid(), host=socket.gethostname())
    assert runs.read_status(run_dir)["state"] == "running"


@pytest.mark.parametrize("pid", [0, -1])
def test_a_pid_that_names_a_process_group_is_no_worker(tmp_path, pid):
    run_dir = make_run(tmp_path, state="running", pid=pid, host=socket.gethostname())
    assert runs.run_info(run_dir).state in ("interrupted", "unreadable")
    assert not runs.run_info(run_dir).active


# ------------------------------------------------------------------ Stop while queued


def test_stop_pressed_while_queued_is_honoured_by_the_worker(tmp_path):
    cfg = resolve(tiny("gan", "toy-1d", steps=50))
    run_dir = runs.create_run(cfg, tmp_path)  # queued: the worker is still importing PyTorch
    jobs.stop(run_dir)
    status = resume(run_dir)  # what the worker's `train --resume RUN --worker` does
    assert status["state"] == "stopped"
    assert runs.read_status(run_dir)["state"] == "stopped"
    assert "before it started" in runs.read_status(run_dir)["message"]
    assert not (run_dir / "metrics.jsonl").exists()  # not one step trained
    assert not (run_dir / "STOP").exists()  # acted on, so removed


def test_the_resume_button_clears_an_old_stop_and_the_run_trains(tmp_path, monkeypatch):
    cfg = resolve(tiny("gan", "toy-1d", steps=4))
    run_dir = runs.create_run(cfg, tmp_path)
    runs.write_status(run_dir, state="stopped")
    jobs.stop(run_dir)  # an old Stop, e.g. pressed twice
    spawned = []
    monkeypatch.setattr(jobs, "_spawn", lambda d, active=0: spawned.append(d))
    jobs.resume(run_dir)
    assert spawned == [run_dir] and not (run_dir / "STOP").exists()
    assert resume(run_dir)["state"] == "finished"  # then the worker trains it


def test_a_stop_pressed_after_resume_is_still_honoured(tmp_path, monkeypatch):
    cfg = resolve(tiny("gan", "toy-1d", steps=4))
    run_dir = runs.create_run(cfg, tmp_path)
    runs.write_status(run_dir, state="stopped")
    monkeypatch.setattr(jobs, "_spawn", lambda d, active=0: None)
    jobs.resume(run_dir)
    jobs.stop(run_dir)  # pressed while the resumed run is queued
    assert resume(run_dir)["state"] == "stopped"


def test_the_trainer_removes_the_stop_it_acted_on(tmp_path):
    cfg = resolve(tiny("gan", "toy-1d", steps=50))
    run_dir = runs.create_run(cfg, tmp_path)
    status = train(cfg, run_dir, on_progress=lambda step, total, row: step == 3 and jobs.stop(run_dir))
    assert status["state"] == "stopped" and status["step"] == 3
    assert not (run_dir / "STOP").exists()


def test_cli_resume_by_a_person_clears_stop_but_a_worker_keeps_it(tmp_path, capsys):
    cfg = resolve(tiny("gan", "toy-1d", steps=4))
    worker_run, person_run = runs.create_run(cfg, tmp_path), runs.create_run(cfg, tmp_path)
    for run_dir in (worker_run, person_run):
        jobs.stop(run_dir)
    assert main(["train", "--resume", str(worker_run), "--no-progress", "--worker"]) == 0
    assert runs.read_status(worker_run)["state"] == "stopped"
    assert main(["train", "--resume", str(person_run), "--no-progress"]) == 0
    assert runs.read_status(person_run)["state"] == "finished"
    capsys.readouterr()


# ------------------------------------------------------------------ leftovers


def test_orphaned_temp_files_are_removed_when_the_run_starts_again(tmp_path):
    cfg = resolve(tiny("gan", "toy-1d", steps=2))
    run_dir = runs.create_run(cfg, tmp_path)
    orphans = [run_dir / ".status.jsonk2j3h4.tmp", run_dir / "checkpoints" / ".last.state.ptab12cd.tmp",
               run_dir / "samples" / ".step_0000002.png9x8y7z.tmp"]
    old = time.time() - 3600
    for p in orphans:
        p.write_bytes(b"half a write")
        os.utime(p, (old, old))
    keep = run_dir / "notes.tmp"  # not one of ours
    keep.write_bytes(b"x")
    assert resume(run_dir)["state"] == "finished"
    assert not any(p.exists() for p in orphans)
    assert keep.exists()
    assert not list(run_dir.rglob(".*.tmp"))


def test_a_run_that_never_started_is_discarded_but_one_with_work_is_kept(tmp_path):
    cfg = resolve(tiny("gan", "toy-1d", steps=2))
    empty = runs.create_run(cfg, tmp_path)
    assert runs.discard_unstarted(empty) and not empty.exists()
    for made in ("metrics.jsonl", "checkpoints/last.safetensors", "samples/step_0000001.png"):
        run_dir = runs.create_run(cfg, tmp_path)
        (run_dir / made).write_bytes(b"work")
        assert not runs.discard_unstarted(run_dir) and (run_dir / made).exists()


def test_a_runs_folder_that_is_a_file_is_one_sentence(tmp_path):
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("I am a file")
    with pytest.raises(RunError, match="is a file, not a folder") as e:
        jobs.launch(tiny("gan", "toy-1d"), not_a_folder)
    assert "\n" not in str(e.value)
    with pytest.raises(RunError, match="Cannot create a run"):
        runs.create_run(resolve(tiny("gan", "toy-1d")), not_a_folder / "sub")
    assert not_a_folder.read_text() == "I am a file"


def test_metrics_lines_that_are_not_metrics_rows_are_skipped(tmp_path):
    cfg = resolve(tiny("gan", "toy-1d", steps=4, **{"train.checkpoint_every": 2}))
    run_dir = runs.create_run(cfg, tmp_path)
    assert train(cfg, run_dir)["state"] == "finished"
    good = runs.read_metrics(run_dir)[0]
    with open(run_dir / "metrics.jsonl", "ab") as f:
        f.write(b'[1, 2]\n"text"\n{"step": "abc"}\n{"step": 9, "loss_d": "x"}\n\xff\xfe{"step": 9}\n{"step": 9, "x": "\xff"}\n')
    assert runs.read_metrics(run_dir)[0] == good
    runs.truncate_metrics(run_dir, 2)
    assert [r["step"] for r in runs.read_metrics(run_dir)[0]] == [1, 2]
