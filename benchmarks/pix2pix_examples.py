"""The example pictures of the pix2pix demos in docs/, from the shipped checkpoints.

    .venv/bin/python benchmarks/pix2pix_examples.py checkpoints/pix2pix-edges-to-faces.safetensors docs/pix2pix-edges-to-faces-example.png
    .venv/bin/python benchmarks/pix2pix_examples.py checkpoints/pix2pix-grey-to-colour-photos.safetensors docs/pix2pix-grey-to-colour-example.png

Each row: the photograph, the source the model was given (derived from it as the
Pix2Pix page does), and the translation, all at the photograph's size, translated
"as trained" (translate.training_scale), as the page does by default.
Face models: the scikit-image astronaut's face, then held-out LFW faces (the val split,
never trained on; their 25 px originals upscaled). Photo models: scikit-image's
coffee and chelsea (the training photographs) and the three held-out photographs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROW_HEIGHT = 160


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a


def _row(images: list[np.ndarray]) -> np.ndarray:
    out = []
    for a in images:
        h, w = a.shape[:2]
        out.append(np.asarray(Image.fromarray(_rgb(a)).resize((max(1, round(w * ROW_HEIGHT / h)), ROW_HEIGHT), Image.LANCZOS)))
        out.append(np.full((ROW_HEIGHT, 4, 3), 255, np.uint8))
    return np.concatenate(out, axis=1)


def main() -> int:
    import dataclasses

    from gan_core import translate as T
    from gan_core.data import load_data
    from gan_core.data.builtin import _held_out_photos

    ckpt, out = sys.argv[1], sys.argv[2]
    tr = T.load_translator(ckpt)
    data = tr.gen.config.data
    if data.name == "faces-lfw":
        val = load_data(dataclasses.replace(data, split="val"))
        faces = [np.ascontiguousarray(t.permute(1, 2, 0).numpy()) for t in val.tensors["target"][:6]]
        pictures = [T.sample_photo("astronaut-face")] + faces
    else:
        pictures = [T.sample_photo("coffee"), T.sample_photo("chelsea")] + list(_held_out_photos())
    rows = []
    for img in pictures:
        r = T.translate_image(tr, img, scale=T.training_scale(tr, img.shape[1], img.shape[0]))
        rows.append(_row([img, r.source, r.output]))
    if data.name == "faces-lfw":  # small: lay the faces out two triplets a row
        rows = [np.concatenate(rows[i : i + 2], axis=1) if i + 1 < len(rows) else rows[i] for i in range(0, len(rows), 2)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(rows, axis=0)).save(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
