"""Augmentation for D on small data, judged from outside (issue #20): no augmentation,
fixed DiffAugment and adaptive (ADA) on the 100 offline faces and on 100 digits.

Each run is trained with the command line, exactly as a user would, into its own
folder ``RUNS_DIR/<set>-<augment>-s<seed>-<steps>``; ``--reuse`` only scores what is
there. None of the measures is a loss of the model being judged:

- faces (``dcgan --data faces-lfw``, the shipped demo's command plus ``--augment``):
  * a face detector that is not part of the product and runs offline:
    scikit-image's LBP frontal-face cascade (``skimage.feature.Cascade``). Its
    settings (``DETECTOR``) were chosen once, on the 100 real training faces against
    the 100 background crops that ship beside them in ``skimage.data.lfw_subset``:
    the setting that finds the most real faces while finding a face in none of the
    backgrounds, then frozen. Both rates are printed with every table.
  * near-copies: a sample whose nearest training face (pixel distance, the gallery's
    ``memorisation.nearest_training_images``) is closer than the two closest
    *different* real faces are to each other. Below that distance a sample is more
    like a training face than any two real faces are: a copy, not a new face.
- digits (``cgan --data mnist-5k --limit 100``, the digits demo's command on the first
  100 digits, 10 a class): the project's independent judge (``gan_core.judge``),
  trained on all 5,000 real digits: how often it reads the digit asked for, and the
  Fréchet distance in its features to real digits (1,000 samples); and near-copies of
  the 100 training digits by the same rule as the faces' (the judge reads a copied
  digit right, so accuracy alone would reward copying).

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/augment_ablation.py --runs-dir /tmp/abl/runs
    .venv/bin/python benchmarks/augment_ablation.py --runs-dir /tmp/abl/runs --reuse
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARMS = ("none", "diff", "ada")
# The frozen detector: samples (32 px) are enlarged to 64 px, where the cascade's 24 px
# window can see a face of 32-64 px. Chosen on real images only, from upscale 48 / 64 /
# 96, scale factor 1.1 / 1.2 and 1 / 2 / 4 neighbours: "lenient" finds the most real
# faces (95%) and no background; "strict" asks for 4 overlapping detections (82% of the
# real faces, no background), so a face must be clear to count.
DETECTOR = {"upscale": 64, "scale_factor": 1.1, "step_ratio": 1, "min_size": 32, "min_neighbor_number": 1,
            "intersection_score_threshold": 0.5}
STRICT = {**DETECTOR, "min_neighbor_number": 4}
FACES_N = 200  # samples scored per run and sample seed
DIGITS_N = 1000


@dataclass(frozen=True)
class Setting:
    data: str  # "faces" or "digits"
    augment: str
    seed: int
    steps: int

    @property
    def name(self) -> str:
        return f"{self.data}-{self.augment}-s{self.seed}-{self.steps}"

    def command(self, runs_dir: Path) -> list[str]:
        if self.data == "faces":  # the shipped demo's command (its 2,000 steps are the recipe's default)
            what = ["--recipe", "dcgan", "--data", "faces-lfw"]
        else:  # the digits demo's command (README / docs/BENCHMARKS.md) on its first 100 digits
            what = ["--recipe", "cgan", "--data", "mnist-5k", "--limit", "100", "--arch", "mlp", "--image-size", "28"]
        return [sys.executable, "-m", "gan_core", "train", *what, "--steps", str(self.steps), "--augment", self.augment,
                "--seed", str(self.seed), "--runs-dir", str(runs_dir / self.name), "--no-progress"]


def finished_run(folder: Path) -> Path | None:
    """The first finished run in ``folder`` (None when there is none, or no folder)."""
    for run in sorted(folder.glob("*/status.json")):
        if json.loads(run.read_text()).get("state") == "finished":
            return run.parent
    return None


def train(setting: Setting, runs_dir: Path) -> tuple[Path, float | None, float | None]:
    """The run's folder, and the wall and CPU seconds it took (None when reused)."""
    folder = runs_dir / setting.name
    run = finished_run(folder)
    if run is not None:
        return run, None, None
    cmd = setting.command(runs_dir)
    print("$", shlex.join(["python" if c == sys.executable else c for c in cmd]), file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run = finished_run(folder)
    if run is None:
        raise SystemExit(f"{setting.name}: the run in {folder} did not finish; see its status.json.")
    return run, wall, cpu


def run_figures(run: Path) -> tuple[float | None, str]:
    """From the run's metrics (read once): p at the end, and r_t, D(x) and D(G(z))
    averaged over the last quarter of the logged rows, how far D had come to tell the
    training images from generated ones."""
    from gan_core.runs import read_metrics

    rows, _ = read_metrics(run)
    p = next((r["augment_p"] for r in reversed(rows) if r.get("augment_p") is not None), None)
    tail = rows[len(rows) * 3 // 4 :]
    return p, ", ".join(f"{np.mean([r[k] for r in tail]):.2f}" for k in ("r_t", "d_real", "d_fake"))


# ---- faces -----------------------------------------------------------------------------------------------------


class FaceJudge:
    def __init__(self):
        from skimage.data import lbp_frontal_face_cascade_filename, lfw_subset
        from skimage.feature import Cascade

        from gan_core.config import DataConfig
        from gan_core.data import load_data
        from gan_core.data._images import arrays_to_real
        from gan_core.memorisation import training_pool
        from gan_core.samples import to_uint8

        import torch

        self.cascade = Cascade(lbp_frontal_face_cascade_filename())
        # The training faces as the generator saw them (32 px), from the gallery's own pool.
        self.pool = training_pool(DataConfig(name="faces-lfw", image_size=32, channels=1)).images
        # lfw_subset's other half: 100 background crops, through the same resizing.
        backgrounds = torch.from_numpy(np.asarray(lfw_subset(), dtype=np.float32)[100:]).unsqueeze(1)
        self.backgrounds = to_uint8(arrays_to_real(backgrounds, 32, 1))
        assert len(load_data(DataConfig(name="faces-lfw", image_size=32)).tensors["real"]) == len(self.pool) == 100
        self.copy_below = closest_pair(self.pool)

    def has_face(self, image: np.ndarray, d: dict = DETECTOR) -> bool:
        from skimage.transform import resize

        grey = image[..., 0] if image.ndim == 3 else image
        big = resize(grey.astype(np.float32) / 255.0, (d["upscale"],) * 2, order=1, anti_aliasing=False)
        found = self.cascade.detect_multi_scale(
            img=(big * 255).astype(np.uint8), scale_factor=d["scale_factor"], step_ratio=d["step_ratio"],
            min_size=(d["min_size"],) * 2, max_size=(d["upscale"],) * 2, min_neighbor_number=d["min_neighbor_number"],
            intersection_score_threshold=d["intersection_score_threshold"])
        return len(found) > 0

    def face_rate(self, images: np.ndarray, d: dict = DETECTOR) -> float:
        return float(np.mean([self.has_face(im, d) for im in images]))

    def score(self, checkpoint: Path, sample_seeds: tuple[int, ...]) -> dict:
        from gan_core.inference import load_generator, sample

        gen = load_generator(checkpoint)
        rates, strict, copies, medians = [], [], [], []
        for s in sample_seeds:
            images = sample(gen, FACES_N, seed=s)
            rates.append(self.face_rate(images))
            strict.append(self.face_rate(images, STRICT))
            c, m = copy_share(images, self.pool, self.copy_below)
            copies.append(c)
            medians.append(m)
        return {"faces": rates, "strict": strict, "copies": copies, "nearest_median": float(np.median(medians))}


# ---- digits ----------------------------------------------------------------------------------------------------


def closest_pair(pool: np.ndarray) -> float:
    """The smallest RMS pixel difference (in [0, 1]) between two different training images."""
    x = pool.reshape(len(pool), -1).astype(np.float64) / 255.0
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).mean(-1)
    np.fill_diagonal(d2, np.inf)
    return float(np.sqrt(d2.min()))


def copy_share(images: np.ndarray, pool: np.ndarray, below: float) -> tuple[float, float]:
    """The share of samples nearer a training image than ``below`` (RMS), and the median
    distance to the nearest one, by the gallery's own nearest-training-image search."""
    from gan_core.memorisation import nearest_training_images

    nearest = np.array([nearest_training_images(im, pool, k=1)[0].rms for im in images])
    return float((nearest < below).mean()), float(np.median(nearest))


class DigitJudge:
    def __init__(self, cache_dir: Path):
        from gan_core.config import DataConfig
        from gan_core.memorisation import training_pool

        self.cache_dir = cache_dir
        self.pool = training_pool(DataConfig(name="mnist-5k", image_size=28, channels=1, limit=100)).images
        self.copy_below = closest_pair(self.pool)

    def score(self, checkpoint: Path) -> dict:
        from gan_core.config import DataConfig
        from gan_core.inference import load_generator, sample
        from gan_core.judge import evaluate

        gen = load_generator(checkpoint)
        # The judge learns all 5,000 real digits (not only the 100 the GAN saw) and the
        # Fréchet distance is to real digits the GAN never saw. A GAN that copies its 100
        # digits is read right by the judge, so the near-copies are counted beside it.
        ev = evaluate(gen, DataConfig(name="mnist-5k", image_size=28, channels=1), n=DIGITS_N, seed=0,
                      cache_dir=self.cache_dir)
        copies, median = copy_share(sample(gen, DIGITS_N, seed=0), self.pool, self.copy_below)
        return {"accuracy": ev.accuracy, "frechet": ev.frechet, "real_accuracy": ev.real_accuracy,
                "frechet_floor": ev.frechet_floor, "copies": copies, "nearest_median": median}


# ---- tables ----------------------------------------------------------------------------------------------------


def pct(values: list[float]) -> str:
    return " / ".join(f"{v:.1%}" for v in values)


def fmt_time(wall: float | None, cpu: float | None) -> str:
    return "reused" if wall is None else f"{wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, default=Path("/tmp/abl/runs"))
    parser.add_argument("--reuse", action="store_true", help="score the finished runs in --runs-dir; train nothing")
    parser.add_argument("--only", choices=("faces", "digits"), help="one of the two data sets")
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated --augment values (default: all three)")
    parser.add_argument("--seeds", default="0,1", help="training seeds (default: 0,1)")
    parser.add_argument("--faces-steps", default="2000", help="faces: steps of every run, or one per seed, comma-separated "
                        "(default: the demo's 2,000)")
    parser.add_argument("--digits-steps", default="3000", help="digits: steps of every run, or one per seed (default: 3,000)")
    parser.add_argument("--sample-seeds", default="0,1", help="faces: sample seeds, 200 samples each (default: 0,1)")
    parser.add_argument("--shipped", type=Path, default=ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors",
                        help="faces: the current demo checkpoint, scored as the first row")
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    seeds = [int(s) for s in args.seeds.split(",")]
    sample_seeds = tuple(int(s) for s in args.sample_seeds.split(","))
    sets = [args.only] if args.only else ["faces", "digits"]

    for data in sets:
        steps = [int(n) for n in (args.faces_steps if data == "faces" else args.digits_steps).split(",")]
        steps = steps * len(seeds) if len(steps) == 1 else steps
        if len(steps) != len(seeds):
            parser.error("give one number of steps, or one per seed")
        rows = []
        for seed, n_steps in zip(seeds, steps):
            for arm in arms:
                setting = Setting(data, arm, seed, n_steps)
                if args.reuse:
                    run = finished_run(args.runs_dir / setting.name)
                    if run is None:
                        print(f"{setting.name}: no finished run, skipped", file=sys.stderr)
                        continue
                    wall = cpu = None
                else:
                    run, wall, cpu = train(setting, args.runs_dir)
                rows.append((setting, run, wall, cpu))

        if data == "faces":
            judge = FaceJudge()
            seeds_txt = " / ".join(f"seed {s}" for s in sample_seeds)
            for label, d in (("lenient", DETECTOR), ("strict", STRICT)):
                print(f"Face detector, {label} ({d}): finds a face in {judge.face_rate(judge.pool, d):.0%} of the 100 real "
                      f"training faces and in {judge.face_rate(judge.backgrounds, d):.0%} of the 100 background crops.")
            print(f"Near-copy: nearest training face closer than {judge.copy_below:.4f} RMS (the two closest different real faces).\n")
            print(f"| run | `--augment` | seed | p at the end | faces found ({FACES_N} samples, {seeds_txt}) | strict | near-copies | "
                  "median RMS to nearest training face | r_t, D(x), D(G(z)) | training time |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            if args.shipped.is_file():
                s = judge.score(args.shipped, sample_seeds)
                print(f"| shipped `{args.shipped.name}` | | 0 | | {pct(s['faces'])} | {pct(s['strict'])} | "
                      f"{pct(s['copies'])} | {s['nearest_median']:.3f} | | |", flush=True)
            for setting, run, wall, cpu in rows:
                s = judge.score(run / "checkpoints" / "last.safetensors", sample_seeds)
                p, d_stats = run_figures(run)
                print(f"| `{run.name}` | `{setting.augment}` | {setting.seed} ({setting.steps:,} steps) | {'' if p is None else f'{p:.3f}'} | "
                      f"{pct(s['faces'])} | {pct(s['strict'])} | {pct(s['copies'])} | "
                      f"{s['nearest_median']:.3f} | {d_stats} | {fmt_time(wall, cpu)} |", flush=True)
        else:
            judge = DigitJudge(args.runs_dir / "judge-cache")
            print(f"\nNear-copy: nearest of the 100 training digits closer than {judge.copy_below:.4f} RMS (the two closest "
                  "different training digits).\n")
            print(f"| run | `--augment` | seed | p at the end | judged as asked ({DIGITS_N} samples) | Fréchet distance "
                  "(judge's features) | near-copies | median RMS to nearest training digit | training time |")
            print("|---|---|---|---|---|---|---|---|---|")
            floors = None
            for setting, run, wall, cpu in rows:
                s = judge.score(run / "checkpoints" / "last.safetensors")
                floors = (s["real_accuracy"], s["frechet_floor"])
                p, _ = run_figures(run)
                print(f"| `{run.name}` | `{setting.augment}` | {setting.seed} ({setting.steps:,} steps) | {'' if p is None else f'{p:.3f}'} | "
                      f"{s['accuracy']:.1%} | {s['frechet']:.2f} | {s['copies']:.1%} | {s['nearest_median']:.3f} | "
                      f"{fmt_time(wall, cpu)} |", flush=True)
            if floors:
                print(f"\nFloors: the judge reads {floors[0]:.1%} of held-out real digits right; real vs real Fréchet "
                      f"distance {floors[1]:.2f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
