"""The live labs' clock (gan_core.lab_clock): the frame rate line's figures and the
2-D lab's "auto" training slice."""

import pytest

from gan_core.lab_clock import FrameRate, training_budget


def test_the_rate_waits_for_three_frames_then_counts_frames_and_the_figure():
    rate = FrameRate(keep=4)
    rate.tick(0.05, now=10.0)
    rate.tick(0.07, now=10.2)
    assert rate.fps() is None and rate.mean() is None and rate.per_second() is None, "two frames tell nothing yet"
    rate.tick(0.06, now=10.4)
    assert rate.fps() == pytest.approx(5.0) and rate.mean() == pytest.approx(0.06)


def test_it_keeps_the_last_frames_only():
    rate = FrameRate(keep=3)
    for i, step in enumerate([0, 10, 20, 50, 80]):
        rate.tick(step, now=float(i))  # a frame a second; training speeds up from the third
    assert [t for t, _ in rate.ticks] == [2.0, 3.0, 4.0]
    assert rate.fps() == pytest.approx(1.0) and rate.per_second() == pytest.approx(30.0), "(80 - 20) steps in 2 s"


def test_frames_at_one_instant_do_not_divide_by_zero():
    rate = FrameRate(keep=5)
    for _ in range(3):
        rate.tick(1, now=7.0)
    assert rate.fps() > 1e6 and rate.per_second() == 0


def test_training_gets_what_drawing_leaves_of_a_frame_but_never_nothing():
    assert training_budget(0.16, 0.05, 0.02) == pytest.approx(0.10)
    assert training_budget(0.16, 0.05, 0.02, slack_s=0.0) == pytest.approx(0.11)
    assert training_budget(0.16, 0.5, 0.02) == 0.02, "a machine too slow to draw in time still trains"
