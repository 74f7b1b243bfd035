"""Demo-mode visitors (gan_core.visitors): who owns a run or an upload, what each
visitor may see and do, and uploads removed once nobody uses them."""

import dataclasses
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny
from gan_core import catalog, jobs, runs, visitors
from gan_core.recipes import resolve
from gan_core.errors import ConfigError, RunError
from gan_core.settings import demo_keeping, load_settings
from gan_core.uploads import save_upload, upload_path
from gan_core.visitors import UPLOADS

A, B = visitors.owner_id("browser-a"), visitors.owner_id("browser-b")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GAN_WORKBENCH_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    demo = load_settings()
    return demo, dataclasses.replace(demo, demo=False)


def make_run(runs_dir, owner=None, data_path=None):
    cfg = tiny("dcgan", "faces-lfw")
    if data_path is not None:
        cfg = cfg.replace(**{"data.name": "folder", "data.path": str(data_path)})
    run_dir = runs.create_run(resolve(cfg), runs_dir)
    if owner:
        visitors.write_owner(run_dir, owner)
    return run_dir


def zip_bytes(value: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(2):
            img = io.BytesIO()
            Image.fromarray(np.full((8, 8), value + i, np.uint8)).save(img, format="PNG")
            z.writestr(f"{i}.png", img.getvalue())
    return buf.getvalue()


def test_owner_ids_are_hashes_and_nothing_else_becomes_a_path(tmp_path):
    assert visitors.owner_id("x") == visitors.owner_id(b"x") != visitors.owner_id("y")
    assert len(A) == 32 and int(A, 16) >= 0
    for bad in ("../../etc", "", "A" * 32, A + "0", None, 5):
        with pytest.raises(ValueError):
            visitors.uploads_dir(tmp_path, bad)
        with pytest.raises(ValueError):
            visitors.write_owner(tmp_path, bad)
    assert visitors.uploads_dir(tmp_path, A) == tmp_path / UPLOADS / A


def test_owner_is_recorded_and_unreadable_owner_files_mean_nobody(tmp_path):
    run_dir = make_run(tmp_path, A)
    assert visitors.run_owner(run_dir) == A
    assert visitors.run_owner(make_run(tmp_path)) is None
    for junk in (b"[1, 2]", b'{"owner": "../x"}', b"\xff\xfe", b'{"owner": 5}'):
        (run_dir / visitors.OWNER_FILE).write_bytes(junk)
        assert visitors.run_owner(run_dir) is None


def test_demo_mode_shows_and_allows_only_own_runs(settings):
    demo, local = settings
    mine, theirs, nobodys = make_run(demo.runs_dir, A), make_run(demo.runs_dir, B), make_run(demo.runs_dir)
    all_runs = runs.list_runs(demo.runs_dir)
    assert [r.path for r in visitors.visible_runs(all_runs, A, demo)] == [mine]
    assert [r.path for r in visitors.visible_runs(all_runs, B, demo)] == [theirs]
    assert visitors.visible_runs(all_runs, None, demo) == []  # no visitor id: nothing, never everything
    assert visitors.may_act(mine, A, demo) and not visitors.may_act(theirs, A, demo)
    assert not visitors.may_act(nobodys, A, demo)
    assert not visitors.may_act(runs.run_info(theirs), A, demo)
    # On one's own machine everything is everyone's, as before.
    assert len(visitors.visible_runs(all_runs, None, local)) == 3
    assert all(visitors.may_act(r, None, local) for r in (mine, theirs, nobodys))


def test_launch_records_the_owner_before_the_worker_starts(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: seen.append(visitors.run_owner(run_dir)))
    run_dir = jobs.launch(tiny("gan", "ring-8"), tmp_path, owner=A)
    assert seen == [A] and visitors.run_owner(run_dir) == A
    assert visitors.run_owner(jobs.launch(tiny("gan", "ring-8"), tmp_path)) is None


def test_uploads_go_to_the_visitors_own_folder(tmp_path):
    data = zip_bytes(10)
    mine = save_upload(data, tmp_path, owner=A)
    assert mine.path == tmp_path / UPLOADS / A / mine.path.name == upload_path(data, tmp_path, A)
    assert save_upload(data, tmp_path, owner=B).path.parent.name == B
    assert save_upload(data, tmp_path).path.parent == tmp_path / UPLOADS  # outside demo mode: shared, as before


def test_gallery_lists_only_the_visitors_own_runs_and_uploads(tmp_path):
    def weights(run_or_folder, name="last.safetensors"):
        # Unreadable files are fine here: the listing shows them as unusable entries.
        path = Path(run_or_folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a checkpoint")
        return path

    ra = weights(make_run(tmp_path, A) / "checkpoints")
    rb = weights(make_run(tmp_path, B) / "checkpoints")
    ua = weights(visitors.uploads_dir(tmp_path, A), "ckpt-" + "a" * 20 + ".safetensors")
    ub = weights(visitors.uploads_dir(tmp_path, B), "ckpt-" + "b" * 20 + ".safetensors")
    shared = weights(tmp_path / UPLOADS / "checkpoints", "ckpt-" + "c" * 20 + ".safetensors")
    listed = lambda **kw: {e.path for e in catalog.list_checkpoints(tmp_path / "none", tmp_path, **kw)}
    assert listed(owner=A, isolated=True) == {ra, ua}
    assert listed(owner=B, isolated=True) == {rb, ub}
    assert listed(owner=None, isolated=True) == set()
    assert listed() == {ra, rb, ua, ub, shared}
    (entry,) = [e for e in catalog.list_checkpoints(tmp_path / "none", tmp_path, A, isolated=True) if e.path == ua]
    assert entry.run_id is None  # an upload, not mistaken for a run called <owner id>


def put(folder: Path, name: str, age_s: float, now: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x")
    os.utime(path, (now - age_s, now - age_s))
    return path


def test_sweep_removes_replaced_and_idle_uploads_but_never_used_ones(tmp_path):
    now = time.time()
    mine, theirs = visitors.uploads_dir(tmp_path, A), visitors.uploads_dir(tmp_path, B)
    zip_ = lambda c: f"upload-{c * 20}.zip"
    ckpt = lambda c: f"ckpt-{c * 20}.safetensors"
    old_zip = put(mine, zip_("1"), 600, now)  # replaced by the newer zip below
    trained_on = put(mine, zip_("2"), 900, now)  # a run of A's uses it
    in_form = put(mine, zip_("3"), 20_000, now)  # idle for long, but in A's form right now
    newer_zip = put(mine, zip_("4"), 60, now)  # replaced too: the form holds zip 3
    old_ckpt, new_ckpt = put(mine, ckpt("5"), 300, now), put(mine, ckpt("6"), 30, now)
    their_new = put(theirs, zip_("7"), 60, now)
    their_older = put(theirs, zip_("8"), 600, now)  # B's own page load decides about this one
    their_idle = put(theirs, ckpt("9"), visitors.UPLOAD_IDLE_S + 5, now)
    their_used = put(theirs, zip_("a"), visitors.UPLOAD_IDLE_S + 5, now)
    shared = put(tmp_path / UPLOADS, zip_("b"), visitors.UPLOAD_IDLE_S + 5, now)  # outside demo mode
    make_run(tmp_path, A, trained_on)
    broken = make_run(tmp_path, B)
    (broken / "config.json").write_bytes(b'\xff{"data": {"path": "' + str(their_used).encode() + b'"')  # unparsable, still counts

    removed = visitors.sweep_uploads(tmp_path, A, keep=[in_form, None], now=now)

    assert set(removed) == {old_zip, newer_zip, old_ckpt, their_idle}
    for kept in (trained_on, in_form, new_ckpt, their_new, their_older, their_used, shared):
        assert kept.exists(), kept
    assert in_form.stat().st_mtime == pytest.approx(now)  # its idle time starts again
    assert visitors.sweep_uploads(tmp_path, A, keep=[in_form], now=now) == []


def test_sweep_lets_idle_uploads_go_and_tidies_empty_folders(tmp_path):
    now = time.time()
    folder = visitors.uploads_dir(tmp_path, B)
    idle = put(folder, "upload-" + "1" * 20 + ".zip", visitors.UPLOAD_IDLE_S + 5, now)
    assert visitors.sweep_uploads(tmp_path, A, now=now) == [idle]
    assert folder.is_dir()  # just changed: left for a later sweep, never pulled from under a save
    assert visitors.sweep_uploads(tmp_path, A, now=now + visitors.UPLOAD_IDLE_S + 5) == []
    assert not folder.exists()
    assert visitors.sweep_uploads(tmp_path / "nowhere", A) == []


def _aged(run_dir, hours, state="stopped", nbytes=0):
    """``run_dir`` left in ``state``, holding ``nbytes`` more, last changed ``hours`` ago."""
    runs.write_status(run_dir, state=runs.RunState(state))
    if nbytes:
        (run_dir / "samples").mkdir(exist_ok=True)
        (run_dir / "samples" / "big.png").write_bytes(b"\0" * nbytes)
    t = time.time() - hours * 3600
    for path in (run_dir / "status.json", run_dir):
        os.utime(path, (t, t))
    return run_dir


def test_a_demo_sweeps_visitors_runs_a_day_unchanged_when_a_run_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: None)
    old_mine = _aged(make_run(tmp_path, A), 30)
    old_theirs = _aged(make_run(tmp_path, B), 25, state="failed")
    old_nobodys = _aged(make_run(tmp_path), 30)  # the command line's: never swept
    young = _aged(make_run(tmp_path, B), 2)
    training = _aged(make_run(tmp_path, B), 30, state="queued")  # waiting for its worker: never swept

    monkeypatch.delenv("GAN_WORKBENCH_DEMO", raising=False)
    jobs.launch(tiny("gan", "ring-8"), tmp_path)  # not a demo: nothing is swept
    assert old_mine.exists() and old_theirs.exists()

    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    new = jobs.launch(tiny("gan", "ring-8"), tmp_path, owner=A)
    assert not old_mine.exists() and not old_theirs.exists()
    assert old_nobodys.exists() and young.exists() and training.exists() and new.exists()
    assert demo_keeping(load_settings()) == ("for 24 hours after they last change (sooner, oldest first, when the demo's "
                                            "2,048 MB for runs are nearly full)")


def _visitors_bytes(runs_dir):
    return sum(visitors._run_bytes(p) for p in runs_dir.iterdir() if visitors._visitor_run(p))


def test_past_the_demo_room_the_longest_unchanged_go_first_and_runs_that_must_stay_refuse_more(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: None)
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    monkeypatch.setenv("GAN_WORKBENCH_DEMO_RUNS_MB", "1")
    oldest, older, newest = (_aged(make_run(tmp_path, A if i else B), hours, nbytes=400_000)
                             for i, hours in enumerate((3, 2, 1)))
    jobs.launch(tiny("gan", "ring-8"), tmp_path, owner=A)  # 1.2 MB held by visitors' runs: the oldest goes
    assert not oldest.exists() and older.exists() and newest.exists()
    assert _visitors_bytes(tmp_path) <= visitors.RUNS_FILL * (1 << 20)

    training = _aged(make_run(tmp_path, B), 0, state="queued", nbytes=1_000_000)  # filling the room alone
    # 1,000,000 bytes and the run's own files, against 90% of the 1 MB room (943,718 bytes).
    with pytest.raises(RunError, match=r"^The runs queued or training on this demo server hold 9[78]\d KB, more than the 922 KB "
                                       r"it keeps for runs; try again when one of them has finished\.$"):
        jobs.launch(tiny("gan", "ring-8"), tmp_path, owner=A)
    assert older.exists() and newest.exists() and training.exists(), "nothing is removed for a start that cannot happen"


def test_a_demo_keeps_at_most_max_demo_runs_whatever_their_size(tmp_path, monkeypatch):
    """Start then Stop leaves a run of a few KB: 20,000 of them held no room but made every
    sweep walk them under the slots lock (2.2 s each)."""
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: None)
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    monkeypatch.setattr(visitors, "MAX_DEMO_RUNS", 3)
    aged = [_aged(make_run(tmp_path, A), hours) for hours in (4, 3, 2, 1)]
    new = jobs.launch(tiny("gan", "ring-8"), tmp_path, owner=B)
    assert [p.exists() for p in aged] == [False, False, True, True] and new.exists()


def test_a_demo_never_sweeps_the_run_being_resumed(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: None)
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    mine, other = _aged(make_run(tmp_path, A), 48), _aged(make_run(tmp_path, A), 48)
    jobs.resume(mine)
    assert mine.exists() and runs.read_status(mine)["state"] == "queued"
    assert not other.exists()


def test_a_sweep_does_not_follow_links_out_of_a_run_or_count_their_targets(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.bin").write_bytes(b"\0" * 500_000)
    runs_dir = tmp_path / "runs"
    run_dir = make_run(runs_dir, A)
    (run_dir / "link").symlink_to(outside, target_is_directory=True)
    (run_dir / "file-link").symlink_to(outside / "keep.bin")
    _aged(run_dir, 30)
    assert visitors.sweep_runs(runs_dir, 1 << 30, 24 * 3600) == [run_dir]
    assert (outside / "keep.bin").stat().st_size == 500_000


def test_a_run_swept_while_its_resume_waited_is_one_sentence_and_a_resumed_run_reads_queued(tmp_path, monkeypatch):
    """Review findings: another visitor's Start swept the run while Resume waited for the
    lock (a FileNotFoundError traceback on the Runs page); and a resumed run kept its old
    worker's dead pid, so it read "interrupted" (and could be swept) until its new worker started."""
    import contextlib

    monkeypatch.setattr(jobs, "_spawn", lambda run_dir, active=0: None)
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    gone = _aged(make_run(tmp_path, A), 1)
    slots = jobs.slots

    @contextlib.contextmanager
    def swept_meanwhile(runs_dir):
        with slots(runs_dir) as active:
            shutil.rmtree(gone, ignore_errors=True)  # another visitor's Start got the lock first
            yield active

    monkeypatch.setattr(jobs, "slots", swept_meanwhile)
    with pytest.raises(RunError, match=rf"^Run {gone.name} no longer exists \(deleted, or removed on a demo to make room\); "
                                       r"start a new run\.$"):
        jobs.resume(gone)
    monkeypatch.setattr(jobs, "slots", slots)

    run_dir = make_run(tmp_path, A)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs.write_status(run_dir, state=runs.RunState.STOPPED, **runs.worker_identity(os.getpid()))
    runs.write_status(run_dir, pid=dead.pid)  # its old worker, gone
    jobs.resume(run_dir)
    status = runs.read_status(run_dir)
    assert status["state"] == "queued" and status.get("pid") is None


def test_a_bad_demo_room_or_keeping_setting_is_one_sentence(monkeypatch):
    monkeypatch.setenv("GAN_WORKBENCH_DEMO", "1")
    monkeypatch.setenv("GAN_WORKBENCH_DEMO_KEEP_HOURS", "0.5")
    with pytest.raises(ConfigError, match=r"^Environment variable GAN_WORKBENCH_DEMO_KEEP_HOURS must be a whole number, not '0\.5'\.$"):
        load_settings()
    monkeypatch.delenv("GAN_WORKBENCH_DEMO")
    assert load_settings().demo is False  # only a demo reads them
