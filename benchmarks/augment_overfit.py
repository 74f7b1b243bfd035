"""A run built to overfit, and what the diagnosis says of it (issue #20): DCGAN on the
first N of the 100 offline faces (16 px, width 16, batch 32), with the augmentation
given, printing r_t, D(x), D(G(z)) and p along the run and the findings at the end.
The numbers behind ``gan_core.health.MEMO_RT`` / ``MEMO_GAP`` come from

    .venv/bin/python benchmarks/augment_overfit.py --augment none --limit 10 --steps 400
    .venv/bin/python benchmarks/augment_overfit.py --augment ada --limit 10 --steps 400

(about a minute each on an idle 2-core CPU; several times that under load).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gan_core.config import Config  # noqa: E402
from gan_core.health import diagnose  # noqa: E402
from gan_core.training import train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--augment", choices=("none", "diff", "ada"), default="none")
    parser.add_argument("--limit", type=int, default=10, help="faces used (of 100)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = Config(recipe="dcgan").replace(**{
        "data.name": "faces-lfw", "data.limit": args.limit, "data.image_size": 16, "model.width": 16,
        "train.steps": args.steps, "train.batch_size": 32, "train.log_every": 10, "train.sample_every": args.steps,
        "train.checkpoint_every": args.steps, "train.augment": args.augment, "train.device": "cpu", "train.seed": args.seed})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        train(cfg, run_dir)
        rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    print("| step | r_t | D(x) | D(G(z)) | p |\n|---|---|---|---|---|")
    for r in rows[:: max(1, len(rows) // 12)] + rows[-1:]:
        p = r.get("augment_p")
        print(f"| {r['step']} | {r['r_t']:.2f} | {r['d_real']:.2f} | {r['d_fake']:.2f} | {'' if p is None else f'{p:.3f}'} |")
    findings = diagnose(rows, "dcgan", "image", cfg)
    print(f"\nfindings: {[f.code for f in findings] or 'none'}  ({time.perf_counter() - started:.0f} s)")
    for f in findings:
        print(f"  {f.text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
