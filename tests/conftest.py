import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Tiny test models gain nothing from threads, and tests run beside background
# workers and a server: one thread each avoids OpenMP spin-waiting on 2 cores.
os.environ["OMP_NUM_THREADS"] = "1"


def tiny(recipe: str, data: str, steps: int = 2, **changes):
    """A config small enough to train in well under a second on CPU."""
    from gan_core.config import Config

    cfg = Config(recipe=recipe).replace(**{
        "data.name": data, "data.image_size": 16, "data.n_points": 512, "model.width": 8, "model.z_dim": 8,
        "train.steps": steps, "train.batch_size": 8, "train.log_every": 1, "train.sample_every": steps,
        "train.checkpoint_every": steps, "train.n_samples": 4, "train.device": "cpu",
    })
    return cfg.replace(**changes) if changes else cfg


@pytest.fixture
def tiny_config():
    return tiny


RED, BLUE = (220, 30, 30), (30, 30, 220)


def ab_pair(h: int = 24, w: int = 24, left=RED, right=BLUE):
    """An A|B side-by-side picture: the left half ``left``, the right half ``right``."""
    import numpy as np

    pair = np.zeros((h, 2 * w, 3), np.uint8)
    pair[:, :w], pair[:, w:] = left, right
    return pair


def smooth_photo(h: int, w: int, seed: int = 0):
    """A smooth colour picture (noise is all edges; photos are not)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(6 * x * rng.uniform(0.5, 2) + 5 * y * rng.uniform(0.5, 2) + rng.uniform(0, 6)) for _ in range(3)]
    return ((np.stack(chans, axis=2) + 1) * 127.5).astype(np.uint8)


def straight_and_resumed(cfg, tmp_path: Path) -> tuple[Path, Path]:
    """Two runs of ``cfg``: one uninterrupted, one stopped after step 7 and resumed to the
    end. Their run directories (straight, resumed), for exactness tests to compare."""
    from gan_core import runs
    from gan_core.training import resume, train

    straight = runs.create_run(cfg, tmp_path / "straight")
    assert train(cfg, straight)["state"] == "finished"
    broken = runs.create_run(cfg, tmp_path / "broken")
    calls = []
    assert train(cfg, broken, should_stop=lambda: len(calls) >= 7, on_progress=lambda *a: calls.append(a))["step"] == 7
    assert resume(broken)["state"] == "finished"
    return straight, broken


def generator_only(src: Path, dst: Path) -> Path:
    """A copy of the translator checkpoint ``src`` without its discriminator (no realism map)."""
    import json

    from safetensors.torch import save_file

    from gan_core import checkpoints

    ckpt = checkpoints.read(src)
    meta = {"format": checkpoints.FORMAT, "config": ckpt.config.to_json(), "data": json.dumps(ckpt.data.to_dict()),
            "step": str(ckpt.step)}
    save_file({f"generator.{k}": v for k, v in ckpt.part("generator").items()}, dst, metadata=meta)
    return dst


def isolated_repo(tmp_path: Path, monkeypatch) -> Path:
    """A page test's own repository: an empty checkpoints/ folder (returned), runs under
    ``tmp_path`` and none of the demo limits of the environment the suite runs in."""
    import gan_core.settings

    repo = tmp_path / "repo"
    (repo / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(gan_core.settings, "ROOT", repo)
    monkeypatch.setenv("GAN_WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    for name in ("GAN_WORKBENCH_DEMO", "GAN_WORKBENCH_MAX_RUNS", "GAN_WORKBENCH_MAX_STEPS", "GAN_WORKBENCH_MAX_RUN_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    return repo / "checkpoints"


PAGES = Path(__file__).resolve().parent / "pages"


@pytest.fixture(autouse=True)
def quick_timing_on_pages(request, monkeypatch):
    """Page tests (tests/pages, AppTest) get a fixed step time for the Train page's
    duration estimate. The real one times a few steps in a worker process (3 to 5 s a
    config, and a test that changes the recipe times several): it is tested in
    tests/test_estimate.py, and through the page by the browser tests, which run real
    servers. A page test that needs other timings sets its own."""
    if PAGES not in Path(request.node.path).parents:
        return
    from gan_core import estimate

    monkeypatch.setattr(estimate, "time_per_step", lambda cfg: (0.05, "timed just now on this machine"))

