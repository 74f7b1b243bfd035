"""The 1-D lab's live picture (gan_core.lab1d_image): blitting paints only the lines
but leaves no trace of earlier frames, the axes stay put while a peak hovers at a
doubling, and the lines land where the data says."""

import math

import numpy as np
import pytest

from gan_core import lab1d
from gan_core.lab1d_image import DPI, SHRINK_AFTER, Painter, steady_span, steady_top, thin, value_range

GREEN = np.array([0x21, 0xC3, 0x54])


def _single(lab):
    return {lab.settings.g_loss: lab.snapshot()}, {lab.settings.g_loss: lab.history}


def test_a_blitted_frame_equals_a_fresh_full_drawing():
    lab = lab1d.Lab1D()
    lab.train(20)
    painter = Painter("single")
    earlier = painter.draw(*_single(lab))
    lab.train(3)
    snaps, histories = _single(lab)
    blitted = painter.draw(snaps, histories)
    fresh_painter = Painter("single")
    fresh = fresh_painter.draw(snaps, histories)
    assert painter._key == fresh_painter._key, "same ranges: the comparison is of the lines alone"
    assert not np.array_equal(blitted, earlier), "training moved the lines"
    assert np.array_equal(blitted, fresh), "no line of the earlier frame is left behind"


def test_the_pair_view_draws_both_losses():
    pair = lab1d.Comparison.start(lab1d.Target(), lab1d.LabSettings(optimizer="sgd", k=1), head_start=50)
    pair.train(2)
    painter = Painter("pair")
    image = painter.draw({n: lab.snapshot() for n, lab in pair.labs.items()}, {n: lab.history for n, lab in pair.labs.items()})
    assert image.shape == (760, 1100, 3) and image.dtype == np.uint8
    titles = [one.ax.get_title() for one in painter.ones]
    assert titles == ["minimax G loss", "non-saturating G loss"]
    with pytest.raises(ValueError):
        painter.draw({"minimax": pair.labs["minimax"].snapshot()}, {"minimax": pair.labs["minimax"].history})


def test_p_g_is_drawn_where_g_puts_its_samples():
    lab = lab1d.Lab1D()
    painter = Painter("single")
    snaps, histories = _single(lab)
    image = painter.draw(snaps, histories).astype(int)
    snap = next(iter(snaps.values()))
    ax = painter.ones[0].ax
    # Pixel columns of the density panel where p_g is high and where it is near zero.
    to_px = ax.transData.transform
    peak_x = float(snap.x[np.argmax(snap.p_g)])
    empty_x = float(snap.x[np.argmin(snap.p_g + snap.p_data)])
    height = image.shape[0]

    def green_in_column(x: float) -> int:
        col = int(round(to_px((x, 0))[0]))
        top, bottom = (height - int(to_px((x, v))[1]) for v in (ax.get_ylim()[1], 0))
        strip = image[top:bottom, col - 1 : col + 2]
        return int((np.abs(strip - GREEN).sum(axis=2) < 60).sum())

    assert green_in_column(peak_x) > 0, "G's density line crosses its peak's column"
    # A peak taller than the axis (an untrained G's p_g can spike where G is nearly flat) is cut at its top.
    y_peak = height - to_px((peak_x, min(float(snap.p_g.max()), ax.get_ylim()[1])))[1]
    col = int(round(to_px((peak_x, 0))[0]))
    rows = np.nonzero((np.abs(image[:, col - 2 : col + 3] - GREEN).sum(axis=2) < 60).any(axis=1))[0]
    assert abs(rows.min() - y_peak) < 6, "the top of the green line is at p_g's peak"
    assert green_in_column(empty_x) <= 6, "where p_g is ~0 the green line lies on the axis, not above it"
    assert painter.fig.get_dpi() == DPI


def test_the_density_axis_does_not_flip_when_the_peak_hovers_at_a_doubling():
    lab = lab1d.Lab1D()
    painter = Painter("single")
    snaps, histories = _single(lab)
    snap = next(iter(snaps.values()))
    base = float(snap.p_data.max()) * 1.15
    tops = []
    peaks = [0.9 * base, 1.1 * base, 0.9 * base, 1.1 * base] + [0.2 * base] * SHRINK_AFTER
    for peak in peaks:
        # The axis follows p_g's 99.5th percentile (a spike a few grid steps wide does not stretch it).
        fake = lab1d.Snapshot(**{**snap.__dict__, "p_g": snap.p_g / max(np.percentile(snap.p_g, 99.5), 1e-12) * peak})
        painter.draw({"non-saturating": fake}, histories)
        tops.append(painter.ones[0].ax.get_ylim()[1])
    assert tops[:4] == [base, 2 * base, 2 * base, 2 * base], "grows at once, keeps its size while the peak hovers"
    assert tops[4:-1] == [2 * base] * (SHRINK_AFTER - 1), "a short dip does not shrink it"
    assert tops[-1] == base, "shrinks once a quarter of the axis has done for SHRINK_AFTER frames"


def test_ranges_move_in_coarse_steps():
    assert steady_top(1.0, 0.5) == 1.0 and steady_top(1.0, 1.5) == 2.0 and steady_top(1.0, 5.0) == 8.0
    assert [steady_span(n)[1] for n in (0, 10, 11, 30, 60, 150, 400, 900)] == [10, 10, 20, 50, 100, 200, 500, 1000]
    rows = [{"g_steps": i} for i in range(2000)]
    kept = thin(rows)
    assert len(kept) <= 601 and kept[0] == rows[0] and kept[-1] == rows[-1]


def test_a_diverged_lab_still_draws():
    """Review finding 6: a history whose first row was NaN made value_range raise
    "cannot convert float NaN to integer"; non-finite values are now left out of the range."""
    nan = float("nan")
    assert value_range([{"value": nan, "value_at_optimum": nan}, {"value": -2.3, "value_at_optimum": -1.0}]) == (-2.5, 0.05)
    assert value_range([{"value": nan, "value_at_optimum": float("-inf")}]) == (-1.5, 0.05)

    lab = lab1d.Lab1D(settings=lab1d.LabSettings(optimizer="sgd", lr_d=1.0, lr_g=1.0, k=5))
    lab.train(20)  # diverges within a few rounds; no snapshot before, so the first row is NaN
    assert lab.error
    image = Painter("single").draw(*_single(lab))
    assert math.isnan(lab.history[0]["value"]) and image.shape == (560, 1100, 3)

    pair = lab1d.Comparison.start(lab1d.Target(), lab1d.LabSettings(optimizer="sgd", lr_d=1.0, lr_g=1.0), head_start=300)
    assert pair.error
    image = Painter("pair").draw({n: lab.snapshot() for n, lab in pair.labs.items()}, {n: lab.history for n, lab in pair.labs.items()})
    assert image.shape == (760, 1100, 3)
