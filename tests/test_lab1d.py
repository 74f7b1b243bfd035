"""The 1-D lab's engine (gan_core.lab1d): the paper's quantities computed on a grid
behave as the theory says, and the stepping object trains as the page drives it."""

import math
import re
import time

import numpy as np
import pytest
import torch

from benchmarks.lab1d_exactness import jsd_reference, line, normal, squeezed
from gan_core import losses
from gan_core.errors import ConfigError
from gan_core.lab1d import (MAX_HEAD_START, MAX_MATCH_STEPS, MAX_STEPS, Comparison, Lab1D, LabSettings, Target, pair_summary,
                            summary)

LOG2, LOG4 = math.log(2), math.log(4)
# The sentence a lab stops with: what diverged, where, and what to do.
DIVERGED = re.compile(r"Training diverged: (D's loss|G's loss|the weights) became non-finite at G step \d+, D step \d+; "
                      r"lower the learning rates and press Reset\.")


def test_trained_d_approaches_the_analytic_d_star_for_a_fixed_g():
    """Proposition 1: for fixed G the best D is p_data / (p_data + p_g). Training D
    alone brings it there: the gap shrinks step by step and V(G, D) rises to C(G)."""
    lab = Lab1D(Target(), LabSettings(seed=0))
    lab.freeze_g = True
    gaps, shortfalls = [], []
    for rounds in (0, 100, 500):
        lab.train(rounds)
        row = lab.snapshot().row
        gaps.append(row["gap_to_optimum"])
        shortfalls.append(row["value_at_optimum"] - row["value"])
    assert lab.g_steps == 0 and lab.d_steps == 600, "with G frozen only D trains"
    assert gaps[0] > 0.2, f"an untrained D is far from D* (gap {gaps[0]:.3f})"
    assert gaps[2] < gaps[1] < gaps[0], f"the gap |D - D*| shrinks with D steps: {gaps}"
    # The untrained G's density has a sharp peak (p_g is G's exact push-forward, with a jump
    # of 2.4 between two grid steps, as a 4-million-sample histogram shows), which a
    # 600-step D follows only roughly.
    assert gaps[2] < 0.1, f"after 600 D steps D is close to D* (gap {gaps[2]:.3f})"
    # C(G) = max_D V: an optimal D would reach it, so V climbs towards it from below.
    assert shortfalls[0] > 0.3 and 0 <= shortfalls[2] < 0.1, f"V(G, D) approaches C(G) from below: {shortfalls}"


def test_d_drifts_to_one_half_where_p_g_matches_p_data():
    lab = Lab1D(Target((-2.0, 2.0), (0.6, 0.6)), LabSettings(seed=1))
    lab.freeze_g = True
    lab.train(300)  # D learns to tell the data from the untrained G: far from 1/2 on the data
    confident = lab.snapshot().row["distance_from_half"]
    assert confident > 0.2

    lab.match_target()
    matched = lab.snapshot()
    assert matched.row["jsd"] < 0.02, "G now makes p_data"
    off_half = np.abs(np.nan_to_num(matched.d_star, nan=0.5) - 0.5)
    assert (off_half * matched.p_data).sum() / matched.p_data.sum() < 0.04, "D* = 1/2 wherever the data is"
    # G's fit is not perfect: its exact p_g (a 4-million-sample histogram agrees) leaves D* up
    # to about 0.16 from 1/2 on the flanks of the modes, which a smoothed estimate hid.
    assert off_half[matched.p_data > 0.25 * matched.p_data.max()].max() < 0.2
    assert abs(matched.row["value_at_optimum"] + LOG4) < 0.05, "C(G) = -log 4 at p_g = p_data"

    lab.train(300)
    settled = lab.snapshot().row
    assert settled["distance_from_half"] < 0.06 < confident / 3, (confident, settled["distance_from_half"])
    assert abs(settled["value"] + LOG4) < 0.03, "and V(G, D) sits at -log 4"


def test_jsd_spans_zero_to_log_2():
    lab = Lab1D(Target((2.0,), (0.5,)))
    lab.place_generator(lab.far_point(), spread=0.3)
    far = lab.snapshot()
    assert far.row["jsd"] == pytest.approx(LOG2, abs=0.01), "disjoint supports: JSD = log 2"
    assert far.row["value_at_optimum"] == pytest.approx(0.0, abs=0.02)
    assert np.nanmin(far.d_star[far.p_data > 0.1]) > 0.99, "where only data lands, D* = 1"
    assert abs(far.row["g_mean"] - lab.far_point()) < 0.01 and far.row["g_sd"] == pytest.approx(0.3, abs=0.01)

    lab.place_generator(-20.0)  # beyond the grid: its mass is still counted
    outside = lab.snapshot()
    assert outside.g_outside == pytest.approx(1.0, abs=1e-9) and outside.row["jsd"] == pytest.approx(LOG2, abs=1e-6)


def test_one_step_and_k():
    lab = Lab1D(settings=LabSettings(k=3))
    lab.single_step()
    assert (lab.d_steps, lab.g_steps) == (1, 1), "Single step: one D step, then one G step"
    assert lab.train(4) == 4
    assert (lab.d_steps, lab.g_steps) == (13, 5), "Algorithm 1: k D steps per G step"
    lab.freeze_g = True
    lab.single_step()
    assert (lab.d_steps, lab.g_steps) == (14, 5)
    rows = [(r["g_steps"], r["d_steps"]) for r in lab.history]
    lab.snapshot()
    lab.snapshot()
    assert len(lab.history) == len(rows) + 1, "redrawing without a step keeps one row per state"


def test_settings_change_while_training():
    lab = Lab1D()
    lab.train(5)
    lab.configure(g_loss="minimax", k=4, lr_d=0.02, lr_g=0.003)
    assert lab.objective.g_loss_fn is losses.g_loss_minimax
    assert [g["lr"] for g in lab.opt_d.param_groups] == [0.02] and [g["lr"] for g in lab.opt_g.param_groups] == [0.003]
    before = lab.d_steps
    lab.train(1)
    assert lab.d_steps - before == 4 and lab.g_steps == 6, "the new k applies from the next round, the counts carry on"
    lab.configure(optimizer="sgd")
    assert isinstance(lab.opt_g, torch.optim.SGD) and lab.opt_g.param_groups[0]["lr"] == 0.003

    for bad, words in [(dict(k=0), "k (D steps per G step)"), (dict(lr_d=-1.0), "learning rate"),
                       (dict(g_loss="wasserstein"), "minimax or non-saturating"), (dict(batch_size=32), "Reset")]:
        with pytest.raises(ConfigError, match=re.escape(words)):
            lab.configure(**bad)
    assert lab.settings.k == 4, "a refused change leaves the lab as it was"


@pytest.mark.parametrize("means, sds, words", [
    ((), (), "between 1 and 5 modes"),
    ((0, 1, 2, 3, 4, 5), (1,) * 6, "between 1 and 5 modes"),
    ((0.0, 1.0), (0.5,), "one width per mode"),
    ((9.0,), (0.5,), "positions must lie between"),
    ((0.0,), (0.01,), "widths"),
    ((float("nan"),), (0.5,), "positions must lie between"),
])
def test_target_refuses_what_it_cannot_draw(means, sds, words):
    with pytest.raises(ConfigError, match=words) as e:
        Target(means, sds)
    assert str(e.value).endswith(".") and "\n" not in str(e.value)


def test_target_density_and_quantiles():
    t = Target((-1.0, 3.0), (0.5, 1.0))
    x = np.linspace(-8, 10, 20001)
    assert (t.pdf(x) * (x[1] - x[0])).sum() == pytest.approx(1.0, abs=1e-4)
    cdf, xs = t.quantile_table()
    samples = np.interp(np.random.default_rng(0).uniform(size=200_000), cdf, xs)
    assert samples.mean() == pytest.approx(1.0, abs=0.02), "equal weights: the mean is midway"


def test_a_lab_is_reproducible_and_keeps_to_its_own_random_numbers():
    a, b = Lab1D(settings=LabSettings(seed=3)), Lab1D(settings=LabSettings(seed=3))
    a.train(10)
    torch.randn(1000)  # other work in the same process between steps
    b.train(3)
    torch.manual_seed(123)
    b.train(7)
    assert a.snapshot().row["value"] == b.snapshot().row["value"]
    assert Lab1D(settings=LabSettings(seed=4)).snapshot().row["value"] != Lab1D(settings=LabSettings(seed=3)).snapshot().row["value"]


def test_minimax_stalls_where_non_saturating_moves():
    """From one start (G off the data, D confident), the minimax loss gives G's samples
    almost no push and G's samples stay put; the non-saturating G moves towards the data."""
    target = Target((-2.0, 2.0), (0.6, 0.6))
    pair = Comparison.start(target, LabSettings(optimizer="sgd", lr_d=0.05, lr_g=0.01), head_start=300)
    start = {name: lab.snapshot(record=False).row for name, lab in pair.labs.items()}
    assert list(pair.labs) == ["minimax", "non-saturating"]
    assert start["minimax"]["value"] == start["non-saturating"]["value"], "the same G and D"
    assert start["minimax"]["d_fake"] < 0.02, "D confidently rejects G's samples"
    assert start["minimax"]["push"] < start["non-saturating"]["push"] / 50, start

    pair.train(10)
    assert all(lab.g_steps == 10 and lab.d_steps == 310 for lab in pair.labs.values())
    now = {name: lab.snapshot().row for name, lab in pair.labs.items()}
    moved = {name: abs(now[name]["g_mean"] - start[name]["g_mean"]) for name in now}
    assert moved["minimax"] < 0.05 and moved["non-saturating"] > 0.3, moved
    assert now["minimax"]["push"] < now["non-saturating"]["push"] / 50, "still stalled: D still rejects every sample"
    assert pair.labs["minimax"].history[-1]["g_grad_norm"] < pair.labs["non-saturating"].history[-1]["g_grad_norm"]


def test_training_keeps_to_the_frame_budget():
    """The page trains a slice per frame: the budget bounds it, however many rounds (up to the engine's cap) are asked for."""
    lab = Lab1D(settings=LabSettings(k=5))
    most = MAX_STEPS // 6  # rounds of 5 D steps and one G step: about 1.7 s unbudgeted
    start = time.perf_counter()
    done = lab.train(most, budget_s=0.05)
    assert 1 <= done < most and time.perf_counter() - start < 1.0


def test_sgd_at_the_widgets_highest_learning_rates_stops_with_one_sentence():
    """Review finding 6: SGD at learning rate 1.0 (the widgets' maximum) went NaN within a few
    G steps and the lab trained on, every row NaN, with nothing saying why."""
    lab = Lab1D(settings=LabSettings(optimizer="sgd", lr_d=1.0, lr_g=1.0, k=5))
    lab.snapshot()
    assert lab.error is None, "a new lab runs"
    done = lab.train(40)
    assert done < 40 and lab.g_steps < 10, "training stops at the first non-finite loss, not after the rounds asked for"
    assert DIVERGED.fullmatch(lab.error), lab.error
    assert f"G step {lab.g_steps}, D step {lab.d_steps};" in lab.error, "the steps named are where it stopped"
    steps = (lab.g_steps, lab.d_steps)
    assert lab.train(5) == 0 and lab.single_step() is None and (lab.g_steps, lab.d_steps) == steps, "a stopped lab trains no more"
    lab.d_step()
    lab.g_step()
    assert (lab.g_steps, lab.d_steps) == steps
    assert math.isnan(lab.match_target()) and (lab.g_steps, lab.d_steps) == steps
    lab.snapshot()  # still drawable (the rows are NaN)

    fine = Lab1D(settings=LabSettings(optimizer="sgd", k=5))  # the page's SGD defaults
    fine.train(40)
    assert fine.error is None and fine.g_steps == 40


def test_weights_that_become_non_finite_stop_the_lab_too():
    """A step whose loss was still finite can leave non-finite weights: the slice ends with a check of them."""
    lab = Lab1D()
    step = lab.opt_g.step
    lab.opt_g.step = lambda: (step(), [p.data.fill_(float("inf")) for p in lab.G.parameters()])
    lab.single_step()
    assert math.isfinite(lab.loss_g), "the G step's own loss was finite"
    assert lab.error == ("Training diverged: the weights became non-finite at G step 1, D step 1; "
                         "lower the learning rates and press Reset.")


def test_a_comparison_stops_both_sides_when_one_diverges():
    pair = Comparison.start(Target(), LabSettings(optimizer="sgd", lr_d=0.05, lr_g=0.01), head_start=20)
    with torch.no_grad():
        pair.labs["minimax"].G.net[-1].bias.fill_(float("nan"))  # the minimax side's G breaks
    assert pair.error is None
    pair.train(3)
    assert pair.labs["non-saturating"].error is None
    assert re.fullmatch(r"On the minimax side, training diverged: D's loss became non-finite at G step 0, D step 21; "
                        r"lower the learning rates and press Reset\.", pair.error), pair.error
    steps = [(lab.g_steps, lab.d_steps) for lab in pair.labs.values()]
    assert steps == [(0, 21), (1, 21)], "the round that diverged ran on both sides, then nothing more"
    assert pair.train(3) == 0
    pair.single_step()
    assert [(lab.g_steps, lab.d_steps) for lab in pair.labs.values()] == steps, "a stopped comparison trains neither side"

    at_once = Comparison.start(Target(), LabSettings(optimizer="sgd", lr_d=1.0, lr_g=1.0), head_start=300)
    assert DIVERGED.fullmatch(at_once.error), "the shared head start diverged: both sides say it, in the plain sentence"
    assert all(lab.error == at_once.error for lab in at_once.labs.values())


def test_step_counts_are_bounded_by_the_engine():
    """Review finding 7: the head start, the rounds of a call and the fitting steps were held only by
    widgets, and all of them run under the lock every visitor's 1-D lab shares."""
    lab = Lab1D(settings=LabSettings(k=5))
    for rounds in (MAX_STEPS // 6 + 1, -1, 2.5):
        with pytest.raises(ConfigError) as refused:
            lab.train(rounds, budget_s=0.01)
        assert str(refused.value) == (f"The lab trains 0 to {MAX_STEPS // 6:,} rounds per call with k = 5 ({MAX_STEPS:,} steps at most), "
                                      f"not {rounds}; ask for a number in that range.")
    lab.freeze_g = True  # D steps alone: k per round
    with pytest.raises(ConfigError, match=rf"0 to {MAX_STEPS // 5:,} rounds per call with k = 5 and G frozen"):
        lab.train(MAX_STEPS // 5 + 1, budget_s=0.01)
    assert lab.train(MAX_STEPS // 5, budget_s=0.01) >= 1, "the most it allows is allowed"
    assert lab.g_steps == 0 and lab.d_steps % 5 == 0 and lab.d_steps < MAX_STEPS, "nothing trained for the refused calls"

    for steps in (MAX_MATCH_STEPS + 1, 0):
        with pytest.raises(ConfigError) as refused:
            lab.match_target(steps)
        assert str(refused.value) == (f"Fitting G to p_data takes 1 to {MAX_MATCH_STEPS:,} steps, not {steps}; "
                                      "choose a number in that range.")
    for head_start in (MAX_HEAD_START + 1, -1):
        with pytest.raises(ConfigError) as refused:
            Comparison.start(Target(), LabSettings(), head_start=head_start)
        assert str(refused.value) == (f"D's head start is 0 to {MAX_HEAD_START:,} D steps, not {head_start}; "
                                      "choose a number in that range.")


def test_the_head_start_counts_d_steps_whatever_k():
    """The page's slider says "D steps before G moves"; with k = 20 it used to be 20 times as many (and the lock held as long)."""
    pair = Comparison.start(Target(), LabSettings(k=20), head_start=30)
    assert [(lab.g_steps, lab.d_steps, lab.settings.k) for lab in pair.labs.values()] == [(0, 30, 20), (0, 30, 20)]



def test_the_captions_say_the_papers_quantities_and_what_tells_the_losses_apart():
    lab = Lab1D(Target((-2.0, 2.0), (0.6, 0.6)))
    assert lab.labs == {"non-saturating": lab}
    snap = lab.snapshot()
    row = snap.row
    line = summary(snap)
    assert line.startswith(f"V(G, D) {row['value']:.3f} · C(G) {row['value_at_optimum']:.3f} · JSD {row['jsd']:.3f}")
    assert f"E[D(G(z))] {row['d_fake']:.3f}" in line
    assert ("beyond the view" in line) == (snap.g_outside > 0.01)
    lab.place_generator(lab.far_point() + 50.0)  # G's samples far off the grid
    far = lab.snapshot(record=False)
    assert far.g_outside > 0.5 and summary(far).endswith(f" · {far.g_outside:.0%} of G's samples lie beyond the view")

    pair = Comparison.start(Target(), LabSettings(), head_start=10)
    text = pair_summary(pair.snapshots())
    assert [part.split(":")[0] for part in text.split(" · ")] == ["minimax", "non-saturating"]
    assert all(re.fullmatch(r"\S+: push \S+, E\[D\(G\(z\)\)\] [\d.]+, JSD [\d.]+", part) for part in text.split(" · "))


def test_a_diverged_side_shows_no_figures_rather_than_a_jsd_of_log_2():
    """NaN samples made the JSD log 2 (0.693), shown beside NaN figures as if G were merely far off."""
    pair = Comparison.start(Target(), LabSettings(optimizer="sgd", lr_d=0.05, lr_g=0.01), head_start=20)
    minimax, other = pair.labs["minimax"], pair.labs["non-saturating"]
    with torch.no_grad():
        for p in minimax.G.parameters():
            p.fill_(float("nan"))
    snaps = pair.snapshots()
    assert math.isnan(snaps["minimax"].row["jsd"])
    text = pair_summary(snaps)
    assert text.startswith("minimax: diverged, no figures (press Reset) · non-saturating: ")
    assert re.search(r"non-saturating: push \S+, E\[D\(G\(z\)\)\] \d\.\d{4}, JSD \d\.\d{3}$", text), text
    assert summary(snaps["minimax"]).startswith("Diverged: ") and "nan" not in summary(snaps["minimax"])
    assert math.isfinite(other.snapshot().row["jsd"])
    row = snaps["minimax"].row
    assert all(math.isnan(row[k]) for k in ("gap_to_optimum", "distance_from_half", "d_real")), row

    lab = Lab1D()  # D diverged, G still finite: a gap of 0 would read as "D reached D*"
    with torch.no_grad():
        for p in lab.D.parameters():
            p.fill_(float("nan"))
    row = lab.snapshot().row
    assert all(math.isnan(row[k]) for k in ("jsd", "gap_to_optimum", "distance_from_half", "d_real")), row
    assert summary(lab.snapshot()).startswith("Diverged: ")


def _normal_on_grid(lab: Lab1D, mu: float, sd: float) -> np.ndarray:
    """N(mu, sd)'s mean density over each grid step, exactly (its distribution function)."""
    edges = np.concatenate([lab.x - lab.dx / 2, [lab.x[-1] + lab.dx / 2]])
    return np.diff(torch.special.ndtr(torch.tensor((edges - mu) / sd)).numpy()) / lab.dx


@pytest.mark.parametrize("mu, sd", [(0.0, 3.0), (2.0, 0.1), (-5.0, 1.5)])
def test_p_g_is_gs_density_in_its_tails_and_between_its_samples_not_a_smoothed_comb(mu, sd):
    """A G that is a line (mu + sd z) has p_g = N(mu, sd) exactly. Its 2,000
    quantile outputs lie far apart in its tails (0.05 to 0.7 at sd 3) next to a mode of
    sd 0.1 that sets the grid's step: p_g must be the normal there, not spikes at the
    samples, and every share of its mass on the grid or beyond it."""
    lab = Lab1D(Target((-4.0, 4.0), (3.0, 0.1)), LabSettings(seed=0))
    line(lab, mu, sd)
    snap = lab.snapshot()
    exact = _normal_on_grid(lab, mu, sd)
    seen = exact > 1e-3 * exact.max()
    assert np.abs(snap.p_g - exact)[seen].max() < 0.02 * exact.max(), "p_g is G's density, grid step by grid step"
    assert snap.p_g.sum() * lab.dx + snap.g_outside == pytest.approx(1.0, abs=1e-6)
    matched = lab.p_data > 1e-3  # where the data is, D* of this G against the exact one
    d_star = lab.p_data / (lab.p_data + exact)
    assert np.abs(snap.d_star - d_star)[matched].max() < 0.03


def test_the_jsd_and_c_of_g_hold_for_a_narrow_or_far_g_and_v_stays_below_c_of_g():
    """Goodfellow et al.'s C(G) = max_D V(G, D) = -log 4 + 2 JSD: against an independent
    integration, for a G much narrower than the data's modes and for one mostly beyond the
    grid; and a D trained against a G squeezed to a point never shows V above C(G)."""
    target = Target((-2.0, 2.0), (0.6, 0.6))
    p_data = lambda x: 0.5 * normal(-2.0, 0.6)(x) + 0.5 * normal(2.0, 0.6)(x)  # noqa: E731
    for mu, sd, tol in ((2.0, 0.1, 0.005), (2.0, 0.02, 0.02), (7.5, 1.0, 0.001)):
        lab = Lab1D(target, LabSettings(seed=0))
        line(lab, mu, sd)
        row = lab.snapshot().row
        reference = jsd_reference(p_data, normal(mu, sd))  # no grid steps, no lab code
        assert abs(row["jsd"] - reference) < tol, (mu, sd, row["jsd"], reference)
        assert row["value_at_optimum"] == pytest.approx(-LOG4 + 2 * row["jsd"])
    lab = squeezed(target)
    for _ in range(4):
        lab.train(100)
        row = lab.snapshot().row
        assert row["value"] <= row["value_at_optimum"] + 1e-3, row
    assert row["gap_to_optimum"] < 0.1, "D has come near D*, which it could not with a smoothed p_g"
