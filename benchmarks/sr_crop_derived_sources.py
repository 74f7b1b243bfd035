"""An experiment on the x4 super-resolution model's borders (issue #18), kept so its figures
can be made again: train ``--pairs sr4`` as the shipped model's command does, but with
half of every batch's sources derived from the training crop itself (shrunk 4x and
enlarged back, as ``paired.degrade`` does), so each of those crops' four sides carries
the bicubic edge handling a whole picture's border has. The shipped model derives its
sources per 72-px tile and cuts 64-px crops from them, so its crops touch a derived edge
about one time in nine per side.

    GAN_WORKBENCH_RUNS_DIR=/tmp/srx/runs OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sr_crop_derived_sources.py \\
        train --recipe pix2pix --data photos --pairs sr4 --image-size 64 --width 16 --batch-size 16 \\
        --steps 4500 --gan-weight 0.01 --seed 0 --augment none
    .venv/bin/python -m gan_core export /tmp/srx/runs/<id> --out /tmp/srx/sr-crop-derived.safetensors
    .venv/bin/python benchmarks/super_resolution_eval.py /tmp/srx/sr-crop-derived.safetensors \\
        --border /tmp/srx/sr-crop-derived.safetensors

``EDGE_FRACTION`` (environment, default 0.5) sets the share of each batch. The result
(docs/BENCHMARKS.md, "Borders of the shipped translators") is why it was not shipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_core.cli import main  # noqa: E402
from gan_core.data import paired  # noqa: E402

FRACTION = float(os.environ.get("EDGE_FRACTION", "0.5"))
_jitter = paired.PairedData.jitter


def jitter(self, batch, seed, index, shard=(0, 1)):
    """The usual crops and flips, then ``FRACTION`` of the items' sources made from their crop (seeded per batch)."""
    out = _jitter(self, batch, seed, index, shard)
    pick = np.random.default_rng([seed, index, 0xED6E]).random(len(out["target"])) < FRACTION
    for i in np.nonzero(pick)[0]:
        crop = ((out["target"][i].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
        source = np.ascontiguousarray(paired.degrade(crop, 4))
        out["source"][i] = torch.from_numpy(source).permute(2, 0, 1).float().div(127.5).sub(1.0)
    return out


if __name__ == "__main__":
    paired.PairedData.jitter = jitter
    sys.exit(main(sys.argv[1:]))
