"""gan_core.curves: the maths behind the Runs page's charts, on known inputs."""

import math

import numpy as np
import pytest

from gan_core import curves


def test_ema_of_a_constant_is_the_constant_from_the_first_point():
    # debiased: without it the first points would be pulled towards zero (0.4, 0.64, ...)
    out = curves.ema(np.full(5, 2.0), 0.6)
    assert out == pytest.approx([2.0] * 5)


def test_ema_known_values_and_missing_points_stay_missing():
    out = curves.ema(np.array([1.0, np.nan, 3.0]), 0.5)
    assert out[0] == 1.0  # the first value is the value itself
    assert np.isnan(out[1])
    # 0.5 * (0.5 * 1) + 0.5 * 3 = 1.75, debiased by 1 - 0.5**2
    assert out[2] == pytest.approx(1.75 / 0.75)


def test_no_smoothing_returns_the_values_untouched():
    values = np.array([3.0, -1.0, 7.0])
    assert curves.ema(values, 0.0) is values


def test_loss_d_mean_is_the_keras_articles_d_loss():
    rows = [{"step": 1, "loss_d_real": 0.2, "loss_d_fake": 0.6}, {"step": 2, "loss_d": 1.0}]
    out = curves.with_loss_d_mean(rows)
    assert out[0]["loss_d_mean"] == pytest.approx(0.4)
    assert "loss_d_mean" not in out[1]  # a row without both parts gets none
    assert "loss_d_mean" not in rows[0]  # the caller's rows are left as they were


def test_x_axis_is_steps_or_wall_time_in_seconds_then_minutes():
    assert curves.x_axis("step", 10_000) == (1.0, "step")
    assert curves.x_axis("elapsed", curves.MINUTES_AFTER_S) == (1.0, "wall time (s)")
    assert curves.x_axis("elapsed", curves.MINUTES_AFTER_S + 1) == (60.0, "wall time (min)")


def test_curve_drops_missing_points_scales_x_and_smooths_over_every_point():
    x, y, smooth = curves.curve([0, 60, 120, 180], [1.0, None, 1.0, 1.0], smoothing=0.9, scale=60.0)
    assert x.tolist() == [0.0, 2.0, 3.0] and y.tolist() == [1.0, 1.0, 1.0]
    assert smooth == pytest.approx([1.0, 1.0, 1.0])


def test_equilibrium_levels():
    assert curves.equilibrium("loss_d", ["minimax"]) == pytest.approx(math.log(4))
    assert curves.equilibrium("d_fake", ["non-saturating"]) == 0.5
    assert curves.equilibrium("loss_g", ["non-saturating", "non-saturating"]) == pytest.approx(math.log(2))
    assert curves.equilibrium("loss_g", ["non-saturating", "minimax"]) is None  # minimax's G loss sits elsewhere
    assert curves.equilibrium("loss_d", []) is None  # only WGANs drawn: no such level
    assert curves.equilibrium("grad_norm_d", ["minimax"]) is None


def test_available_groups():
    groups = curves.available_groups
    # a standard run that has logged only losses still offers D outputs (it will log them)
    assert groups({"loss_d", "loss_g"}, [False], [False]) == ["Losses", "D outputs", "Gradient norms"]
    # a WGAN before its first row: its own groups, no probabilities
    assert groups(set(), [True], [False]) == ["Losses", "Gradient norms", curves.WASSERSTEIN_GROUP]
    assert curves.ARTICLE_GROUP in groups(set(), [False], [True])
    assert curves.ARTICLE_GROUP not in groups({"loss_d_mean"}, [False], [False])
