"""A run's health, read from its metrics file rather than from inside the loop.

Pure functions over the rows of ``metrics.jsonl`` (``runs.read_metrics``), so the
dashboard, the command line and tests judge a run the same way, from the same
file, whether it trained here, on a GPU server or long ago.

For now one judgement: did the training blow up? The trainer stops a run whose
loss becomes NaN or infinite (it is then ``diverged``), but a loss can grow to
millions and stay finite: such a run "finishes" and its samples are noise.
"""

from __future__ import annotations

import math

# Beyond this magnitude a logged loss means the training blew up. The standard
# GAN's losses are softplus of D's logits, so 1e5 would mean logits of 1e5, where
# a working D sits in the tens. WGAN losses are unbounded and their offset drifts
# (the critic's objective ignores a constant added to every score), and working
# WGAN-GP runs are reported with critic losses in the hundreds and thousands,
# so the bound is two orders of magnitude above those. A blown-up run (G loss
# 8.9 million was seen) is far beyond it.
EXPLODED = 1e5
LAST_ROWS = 5  # the end of the run: one calm row among wild ones does not make it healthy

LOSS_NAMES = {
    "loss_g": "generator loss",
    "loss_d": "discriminator loss",
    "loss_d_real": "discriminator loss on real data",
    "loss_d_fake": "discriminator loss on generated data",
}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def exploded(rows: list, last: int = LAST_ROWS) -> str | None:
    """One sentence saying how the training blew up, if a loss in the last
    ``last`` logged rows is NaN, infinite or beyond ``EXPLODED``; else None.
    Rows that are not objects, and values that are not numbers, are skipped
    (a hand-edited or damaged file is judged on what it does hold)."""
    tail = [r for r in rows if isinstance(r, dict)][-last:] if last > 0 else []
    for row in reversed(tail):  # the most recent symptom is the one to name
        critic = "wasserstein" in row
        for key, name in LOSS_NAMES.items():
            value = _number(row.get(key))
            if value is None or (math.isfinite(value) and abs(value) <= EXPLODED):
                continue
            if critic:
                name = name.replace("discriminator", "critic")
            step = _number(row.get("step"))
            at = f" at step {int(step):,}" if step is not None and math.isfinite(step) else ""
            if math.isfinite(value):
                what = f"was {value:,.0f}{at}, far beyond the {EXPLODED:,.0f} a working run stays under"
            else:
                what = f"became {'NaN' if math.isnan(value) else 'infinite'}{at}"
            return f"The {name} {what}: training blew up and its samples cannot be trusted; lower the learning rates and train again."
    return None


__all__ = ["EXPLODED", "LAST_ROWS", "exploded"]
