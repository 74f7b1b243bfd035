"""Mode coverage on ring-8 and grid-25 against PacGAN's Table 1 (Lin et al. 2018).

Every run is the plain command a user types, with the recipe's own defaults:

    python -m gan_core train --recipe NAME --data grid-25 --seed S

and is scored as ``python -m gan_core evaluate`` scores it: 2,500 samples (noise
seed 0), a sample is high quality within 3 sigma of its nearest mode, a mode is
covered when a high-quality sample is nearest to it, and reverse KL compares the
histogram of high-quality samples over the modes with uniform (gan_core/modes.py).

Each run's figures, wall time and CPU time (user + system of the training process,
which runs on one thread: OMP_NUM_THREADS=1) are kept in RUNS_DIR/mode_coverage.json,
so ``--reuse`` prints the table again, or adds missing runs, without retraining.

    .venv/bin/python benchmarks/mode_coverage.py                          # gan and pacgan, both sets, seeds 0 1 2
    .venv/bin/python benchmarks/mode_coverage.py --recipes pacgan,minibatch-std --data grid-25 --reuse
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# PacGAN (Lin et al. 2018), Table 1: modes covered, high-quality samples, reverse KL; 2,500 samples, mean over trials.
PUBLISHED = {
    ("GAN (published)", "ring-8"): (6.3, None, 0.45),
    ("GAN (published)", "grid-25"): (17.3, None, 0.70),
    ("PacGAN4 (published)", "ring-8"): (7.8, 95.9, 0.07),
    ("PacGAN4 (published)", "grid-25"): (24.8, 93.6, 0.04),
}
GOAL = {"rkl": 0.04, "hq": 0.94, "cpu_s": 300.0}  # and every mode in every seed


def train_and_score(recipe: str, data: str, seed: int, runs_dir: Path) -> dict:
    from gan_core.inference import load_generator
    from gan_core.modes import generator_coverage

    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    command = [sys.executable, "-m", "gan_core", "train", "--recipe", recipe, "--data", data, "--seed", str(seed),
               "--runs-dir", str(runs_dir), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    (run_dir,) = set(runs_dir.iterdir()) - before - {runs_dir / "mode_coverage.json"}
    gen = load_generator(run_dir / "checkpoints" / "last.safetensors")
    c = generator_coverage(gen, seed=0)
    return {"recipe": recipe, "data": data, "seed": seed, "run": run_dir.name, "steps": gen.step,
            "modes": c.modes, "total": c.total, "high_quality": c.high_quality, "reverse_kl": c.reverse_kl,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def _spread(values: list[float], fmt: str) -> str:
    mean = statistics.fmean(values)
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{mean:{fmt}} ± {sd:{fmt}}"


def table(results: list[dict], recipes: list[str], datasets: list[str]) -> str:
    lines = ["| recipe | data | seeds | modes | high quality % | reverse KL | wall time (s) | CPU time (s) | goal met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for recipe in recipes:
        for data in datasets:
            rows = sorted((r for r in results if r["recipe"] == recipe and r["data"] == data), key=lambda r: r["seed"])
            if not rows:
                continue
            total = rows[0]["total"]
            modes = [r["modes"] for r in rows]
            goal = (all(m == total for m in modes) and max(r["reverse_kl"] for r in rows) < GOAL["rkl"]
                    and min(r["high_quality"] for r in rows) > GOAL["hq"] and max(r["cpu_s"] for r in rows) <= GOAL["cpu_s"])
            lines.append(
                f"| {recipe} | {data} | {','.join(str(r['seed']) for r in rows)} "
                f"| {_spread(modes, '.1f')} / {total} (min {min(modes)}) "
                f"| {_spread([100 * r['high_quality'] for r in rows], '.1f')} (min {100 * min(r['high_quality'] for r in rows):.1f}) "
                f"| {_spread([r['reverse_kl'] for r in rows], '.3f')} (max {max(r['reverse_kl'] for r in rows):.3f}) "
                f"| {_spread([r['wall_s'] for r in rows], '.0f')} | {_spread([r['cpu_s'] for r in rows], '.0f')} "
                f"| {'yes' if goal else 'no'} |")
    for (name, data), (modes, hq, rkl) in PUBLISHED.items():
        if data in datasets:
            total = 8 if data == "ring-8" else 25
            lines.append(f"| {name} | {data} | | {modes} / {total} | {'' if hq is None else hq} | {rkl} | | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="gan,pacgan", help="comma-separated recipes (default: gan,pacgan)")
    parser.add_argument("--data", default="ring-8,grid-25", help="comma-separated point sets (default: ring-8,grid-25)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default: 0,1,2)")
    parser.add_argument("--runs-dir", default="/tmp/mode_coverage_runs", help="where the runs and mode_coverage.json go")
    parser.add_argument("--reuse", action="store_true", help="keep runs already scored in RUNS_DIR/mode_coverage.json; train only the missing ones")
    args = parser.parse_args()
    recipes, datasets = args.recipes.split(","), args.data.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    runs_dir = Path(args.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    store = runs_dir / "mode_coverage.json"
    results = json.loads(store.read_text()) if args.reuse and store.exists() else []
    for recipe in recipes:
        for data in datasets:
            for seed in seeds:
                key = (recipe, data, seed)
                if any((r["recipe"], r["data"], r["seed"]) == key for r in results):
                    continue
                r = train_and_score(recipe, data, seed, runs_dir)
                results.append(r)
                store.write_text(json.dumps(results, indent=1))
                print(f"{recipe:14} {data:8} seed {seed}: {r['modes']}/{r['total']} modes, {r['high_quality']:.1%} high quality, "
                      f"reverse KL {r['reverse_kl']:.3f}, {r['steps']} steps in {r['wall_s']:.0f} s wall / {r['cpu_s']:.0f} s CPU", flush=True)
    print()
    print(table(results, recipes, datasets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
