"""The 2-D lab's defaults and the lessons they show (issue #21), on seeds 0-4.

One recipe: the plain GAN on grid-25 (``lab2d.DEFAULT_RECIPE`` on ``DEFAULT_DATA``),
2,000 steps: the covered-mode count of the page's coverage chart (one per kept frame,
every 50 steps), its peak, the lowest count after the peak and the last.

Compare recipes: ``lab2d.COMPARE_RECIPES`` on ``COMPARE_DATA`` (gan against
minibatch-std on ring-8) in lockstep, as the page trains them, every recipe stopping
at ``COMPARE_STEPS`` (2,000, the plain GAN's own steps): modes covered and the
share of high-quality points at 500, 1,000, 1,500 and 2,000 steps (PacGAN's
protocol, ``gan_core.modes``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lab2d_defaults.py [--seeds 0 1 2 3 4]

Each lab runs on one thread whatever OMP_NUM_THREADS says (gan_core/lab2d.py); about
a minute per seed for both parts on an idle core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gan_core import lab2d  # noqa: E402

CHECKS = (500, 1000, 1500, 2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()

    print(f"One recipe: {lab2d.DEFAULT_RECIPE} on {lab2d.DEFAULT_DATA}, 2,000 steps\n")
    print("| seed | peak (step) | lowest after the peak | last | counts every 200 steps |\n|---|---|---|---|---|")
    for seed in args.seeds:
        lab = lab2d.Lab(lab2d.DEFAULT_RECIPE, lab2d.DEFAULT_DATA, seed, stop_at=2000)
        lab.train(2000)
        history = lab.coverage_history()
        counts = [c.modes for _, c in history]
        peak = max(counts)
        at = counts.index(peak)
        every = " ".join(str(c.modes) for s, c in history if s % 200 == 0)
        print(f"| {seed} | {peak} ({history[at][0]:,}) | {min(counts[at:])} | {counts[-1]} | {every} |", flush=True)

    names = " vs ".join(lab2d.COMPARE_RECIPES)
    print(f"\nCompare recipes: {names} on {lab2d.COMPARE_DATA}, all stopping at {lab2d.COMPARE_STEPS:,}; modes covered (high-quality share) at each step\n")
    print("| seed | " + " | ".join(f"step {n:,}" for n in CHECKS) + " |\n|---|" + "---|" * len(CHECKS))
    for seed in args.seeds:
        started = time.perf_counter()
        cmp = lab2d.Comparison.of(list(lab2d.COMPARE_RECIPES), lab2d.COMPARE_DATA, seed, stop_at=lab2d.COMPARE_STEPS)
        cells = []
        for n in CHECKS:
            cmp.train(n - cmp.step)
            cells.append(" / ".join(f"{f.coverage.modes} ({f.coverage.high_quality:.0%})" for f in cmp.frames().values()))
        print(f"| {seed} | " + " | ".join(cells) + f" |  <!-- {time.perf_counter() - started:.0f} s -->", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
