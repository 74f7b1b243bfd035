"""What augmentation for D costs in training speed (issue #20): the same run with
``--augment none``, ``diff`` (DiffAugment's colour, translation and cutout on every
image D sees, the full cost) and ``ada`` (the same with adaptive p, which starts at 0
and only costs what it applies), side by side on this CPU.

Each run is a separate ``python -m gan_core train`` process; its speed is read from
its own metrics: images a second over the logged intervals after the first 20% of
steps (start-up and the first grids excluded), median over those intervals. The
ways alternate within each repeat (none, diff, ada, none, diff, ada, ...) so that a
neighbour's load falls on all of them alike, and the median of the repeats is
reported, with the slowdown against ``none``. Heavy: run it under the shared lock.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/augment_throughput.py --repeats 5
    flock /tmp/heavy.lock .venv/bin/python benchmarks/augment_throughput.py --repeats 3 --steps 100 --workload "dcgan faces-lfw 32 px, batch 64"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKLOADS = {
    "dcgan faces-lfw 32 px, batch 64": ["--recipe", "dcgan", "--data", "faces-lfw", "--image-size", "32", "--batch-size", "64",
                                         "--steps", "300", "--log-every", "10", "--sample-every", "1000"],
    "wgan-gp faces-lfw 32 px, batch 64 (5 critic steps, penalty through the augmentation)":
        ["--recipe", "wgan-gp", "--data", "faces-lfw", "--image-size", "32", "--batch-size", "64",
         "--steps", "60", "--log-every", "5", "--sample-every", "1000"],
}
WAYS = ("none", "diff", "ada")


def with_steps(args: list[str], steps: int | None) -> list[str]:
    if steps is None:
        return args
    i = args.index("--steps")
    return [*args[:i + 1], str(steps), *args[i + 2:]]


def images_per_second(args: list[str], augment: str) -> tuple[float, float | None]:
    """(median images a second after the first 20% of steps, the last logged p)."""
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "gan_core", "train", *args, "--augment", augment, "--device", "cpu", "--seed", "0",
                        "--no-progress", "--runs-dir", runs], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (run_dir,) = Path(runs).iterdir()
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        steps = rows[-1]["step"]
        return statistics.median(r["images_per_s"] for r in rows if r["step"] > 0.2 * steps), rows[-1].get("augment_p")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workload", choices=list(WORKLOADS), action="append", help="default: all")
    parser.add_argument("--steps", type=int, help="train this many steps instead of the workload's")
    args = parser.parse_args()
    print(f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}, cores: {os.cpu_count()}", flush=True)
    for name in args.workload or list(WORKLOADS):
        speeds: dict[str, list[float]] = {way: [] for way in WAYS}
        last_p: dict[str, float | None] = {}
        for repeat in range(args.repeats):
            for way in WAYS:
                ips, p = images_per_second(with_steps(WORKLOADS[name], args.steps), way)
                speeds[way].append(ips)
                last_p[way] = p
                print(f"  {name} | {way} | repeat {repeat + 1}: {ips:.1f} images/s", flush=True)
        base = statistics.median(speeds["none"])
        print(f"\n{name}")
        print("| --augment | images/s (median of repeats) | all repeats | slower than none | p at the end |")
        print("|---|---|---|---|---|")
        for way in WAYS:
            median = statistics.median(speeds[way])
            slower = "" if way == "none" else f"{100 * (1 - median / base):+.1f}%"
            p = "" if last_p[way] is None else f"{last_p[way]:.4f}"
            print(f"| {way} | {median:.1f} | {', '.join(f'{v:.0f}' for v in speeds[way])} | {slower} | {p} |", flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
