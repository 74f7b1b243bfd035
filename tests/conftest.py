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
