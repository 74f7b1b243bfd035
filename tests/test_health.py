"""gan_core.health: a run that blew up is named as such, from its metrics rows alone."""

import json
import math

import pytest

from gan_core import runs
from gan_core.health import EXPLODED, LAST_ROWS, exploded


def rows(*losses, wasserstein=False):
    """Metrics rows as the trainer logs them, every 10 steps, with (loss_d, loss_g) pairs."""
    out = []
    for i, (d, g) in enumerate(losses, 1):
        row = {"step": 10 * i, "time": 0.0, "elapsed": i, "loss_d": d, "loss_g": g, "grad_norm_d": 1.0}
        row.update({"wasserstein": -d, "critic_real": 1.0} if wasserstein else {"loss_d_real": d / 2, "loss_d_fake": d / 2})
        out.append(row)
    return out


def test_healthy_runs_are_not_flagged():
    assert exploded([]) is None
    assert exploded(rows((1.38, 0.69), (0.9, 2.1), (0.01, 9.5))) is None  # D winning is a failure, not an explosion
    # WGAN-GP's critic loss legitimately reaches hundreds and its G loss drifts with the critic's offset.
    assert exploded(rows((-350.0, 2400.0), (-120.0, -3000.0), wasserstein=True)) is None
    assert exploded(rows((1.0, EXPLODED))) is None  # the bound itself is still sane


def test_a_loss_of_millions_is_one_sentence_naming_it():
    got = exploded(rows((1.3, 0.7), (0.0, 8.9e6)))
    assert got is not None and got.count(".") == 1 and got.endswith(".")
    assert "generator loss was 8,900,000 at step 20" in got
    assert exploded(rows((-2e6, 1.0), wasserstein=True)).startswith("The critic loss was -2,000,000")


@pytest.mark.parametrize("bad, word", [(math.nan, "NaN"), (math.inf, "infinite"), (-math.inf, "infinite")])
def test_non_finite_losses_are_flagged(bad, word):
    got = exploded(rows((1.0, 1.0), (bad, 1.0)))
    assert f"discriminator loss became {word} at step 20" in got


def test_only_the_last_rows_count_and_the_newest_symptom_is_named():
    blew_up_then_calm = rows((1.0, 9e6), *[(1.0, 1.0)] * LAST_ROWS)
    assert exploded(blew_up_then_calm) is None
    wild = rows(*[(1.0, 1.0)] * 10, (1.0, 5e6), (1.0, 1.0), (3e7, 1.0))
    assert "discriminator loss was 30,000,000 at step 130" in exploded(wild)  # a calm row among wild ones saves nothing
    assert "generator loss was 5,000,000 at step 110" in exploded(wild[:-1])


def test_damaged_rows_are_skipped_not_raised_on():
    junk = [[1, 2], "text", 7, None, {"step": "x", "loss_g": "huge"}, {"loss_g": True}, {"step": None, "loss_d": 2e9}]
    assert exploded(junk) == exploded([{"loss_d": 2e9}])
    assert "at step" not in exploded(junk)
    assert exploded(junk[:-1]) is None


def test_reads_nan_rows_as_the_trainer_writes_them(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows((1.0, 1.0), (math.nan, 1.0))))
    assert "NaN" in (tmp_path / "metrics.jsonl").read_text()  # json writes NaN, and reads it back as a float
    assert "became NaN" in exploded(runs.read_metrics(tmp_path)[0])
