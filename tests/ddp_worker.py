"""``python -m gan_core`` with one extra recipe, for tests/test_distributed.py.

``no-bn``: the 2-D point models without batch norm (``no-bn-gp``: the same as a WGAN-GP
critic and generator, whose gradient penalty draws an epsilon per item). PyTorch's SyncBatchNorm runs on
GPUs only, so on CPU each torchrun process normalises its own shard; a model without
batch norm is what lets a CPU test compare a two-process run with a one-process run
step for step. Run it as the engine is run:

    python tests/ddp_worker.py train --recipe no-bn --data ring-8 ...
    torchrun --nproc_per_node 2 tests/ddp_worker.py train --recipe no-bn --data ring-8 ...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gan_core.cli import main  # noqa: E402
from gan_core.models.points import PointDiscriminator, PointGenerator  # noqa: E402
from gan_core.objectives import GradientPenaltyObjective, Objective  # noqa: E402
from gan_core.recipes import RECIPES, Recipe, _adam  # noqa: E402


def _build(cfg, data):
    width = cfg.model.width
    return PointGenerator(cfg.model.z_dim, data.shape, width, 2, batch_norm=False), PointDiscriminator(2, width, 2)


RECIPES.register("no-bn")(Recipe(
    "no-bn", "2-D point models without batch norm (tests only).", ("vector",),
    lambda kind, cfg: {"model.arch": "mlp", "model.width": 64, "model.z_dim": 2, **_adam(1e-3, 0.5, 0.999),
                       "loss.g_loss": "non-saturating", "loss.d_steps": 1},
    _build, Objective, archs=("mlp",),
))
RECIPES.register("no-bn-gp")(Recipe(
    "no-bn-gp", "2-D point models without batch norm, trained as WGAN-GP (tests only).", ("vector",),
    lambda kind, cfg: {"model.arch": "mlp", "model.width": 64, "model.z_dim": 2, **_adam(1e-3, 0.0, 0.9),
                       "loss.g_loss": "wasserstein", "loss.d_steps": 2, "loss.gp_weight": 10.0},
    _build, GradientPenaltyObjective, archs=("mlp",),
))

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
