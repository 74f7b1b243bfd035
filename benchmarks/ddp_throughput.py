"""Throughput of torchrun's two gloo processes against one process, on this CPU.

The same run (recipe, data, global batch, steps) is trained three ways:

    one process, 2 threads     python -m gan_core train ...                      (PyTorch's default here)
    one process, 1 thread      OMP_NUM_THREADS=1 python -m gan_core train ...
    two processes, 1 thread    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 -m gan_core train ...

and the training speed is read from the run's own metrics: images a second over the
logged intervals after the first 20% of steps (start-up, imports and the first
grids excluded), median over those intervals. Each configuration runs ``--repeats``
times, interleaved, and the median of the repeats is reported.

    .venv/bin/python benchmarks/ddp_throughput.py --repeats 3
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
    "gan ring-8 (points), batch 256": ["--recipe", "gan", "--data", "ring-8", "--batch-size", "256",
                                       "--steps", "3000", "--log-every", "100", "--sample-every", "100000"],
}
WAYS = {
    "one process, 2 threads": ([sys.executable, "-m", "gan_core", "train"], {}),
    "one process, 1 thread": ([sys.executable, "-m", "gan_core", "train"], {"OMP_NUM_THREADS": "1"}),
    "two processes (gloo), 1 thread each": ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                                             "-m", "gan_core", "train"], {"OMP_NUM_THREADS": "1"}),
}


def images_per_second(launch: list[str], env: dict, args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as runs:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
        full_env.pop("OMP_NUM_THREADS", None)  # PyTorch's default (all cores) unless the way sets it
        full_env.update(env)
        subprocess.run([*launch, *args, "--device", "cpu", "--seed", "0", "--no-progress", "--runs-dir", runs],
                       check=True, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (run_dir,) = Path(runs).iterdir()
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        steps = rows[-1]["step"]
        return statistics.median(r["images_per_s"] for r in rows if r["step"] > 0.2 * steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {(w, way): [] for w in WORKLOADS for way in WAYS}
    for r in range(args.repeats):
        for workload, wargs in WORKLOADS.items():
            for way, (launch, env) in WAYS.items():
                ips = images_per_second(launch, env, wargs)
                results[(workload, way)].append(ips)
                print(f"repeat {r + 1}: {workload} | {way}: {ips:.0f} images/s", flush=True)
    print()
    print("| workload | way | images/s (median of repeats) | repeats | vs one process, 2 threads |")
    print("|---|---|---|---|---|")
    for workload in WORKLOADS:
        base = statistics.median(results[(workload, "one process, 2 threads")])
        for way in WAYS:
            values = results[(workload, way)]
            med = statistics.median(values)
            print(f"| {workload} | {way} | {med:.0f} | {', '.join(f'{v:.0f}' for v in values)} | {med / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
