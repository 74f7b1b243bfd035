"""The 1-D lab's live view as one picture, drawn by matplotlib with blitting.

Why a picture while the lab plays: Streamlit (1.67) rebuilds a Plotly chart from
scratch whenever its figure changes (the chart's React key is a hash of the figure),
so a Plotly frame is a full ``Plotly.newPlot``: about 250 ms of browser CPU for the
1-D view on this 2-core machine, and the chart area is blank while it builds (a
screenshot taken while playing showed it empty). A picture (st.image) is updated in
place. Paused, the page draws the same view with Plotly, which zooms and hovers.

Why blitting: a full matplotlib draw of this figure takes 60-125 ms; its axes,
ticks and labels change only when a range does (the ranges move in coarse steps,
see ``steady_top`` and ``steady_span``), so a ``Painter`` draws them once, keeps the
background, and per frame paints only the lines (about a third of the time).

Everything here is numpy in, RGB array out; pages call it, tests check it.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.patches import Polygon

# Figure 1's black, green and blue; D* and C(G) (the optimum) in red: the page's colours.
DATA, GEN, DISC, OPT, GAP = "#31333f", "#21c354", "#1c83e1", "#ff4b4b", "#ffa421"
LOSS_COLOURS = {"minimax": OPT, "non-saturating": DISC}
LOG4 = math.log(4)
HISTORY_POINTS = 600  # points per curve drawn
DPI = 100
FONT = 9
SHRINK_AFTER = 15  # frames (about 3 s while playing) that an axis must have been too tall before it shrinks


def steady_top(base: float, peak: float) -> float:
    """base, doubled as often as needed to show peak: a density axis that moves in
    coarse steps, not every frame."""
    return base * 2.0 ** max(0, math.ceil(math.log2(max(peak, 1e-12) / base)))


def steady_span(n: int) -> list[float]:
    """[0, the next of 10, 20, 50, 100, 200, 500, ... above n]."""
    top = 10
    while top < n:
        top = top * 5 // 2 if str(top)[0] == "2" else top * 2
    return [0, top]


def thin(rows: list[dict]) -> list[dict]:
    """At most about HISTORY_POINTS evenly spaced rows, always with the last one."""
    if len(rows) <= HISTORY_POINTS:
        return rows
    every = -(-len(rows) // HISTORY_POINTS)
    return rows[::every] + ([rows[-1]] if (len(rows) - 1) % every else [])


def value_range(rows: list[dict]) -> tuple[float, float]:
    """The value panel's range: from at least -1.5 down to the lowest V or C(G) seen, in halves.
    Values that are not finite (a lab whose training diverged) are left out."""
    seen = [v for r in rows for v in (r["value"], r["value_at_optimum"]) if math.isfinite(v)]
    return min(-1.5, math.floor(min(seen, default=0.0) * 2) / 2), 0.05


def density_base_and_peak(snap) -> tuple[float, float]:
    """The density axis's least top (p_data's peak and a margin) and p_g's peak (its
    99.5th percentile on the grid, so that one spike does not squash the view)."""
    return float(snap.p_data.max()) * 1.15, float(np.percentile(snap.p_g, 99.5))


def density_top(snap) -> float:
    return steady_top(*density_base_and_peak(snap))


def z_lines(snap) -> tuple[np.ndarray, np.ndarray]:
    """The z -> x map as one polyline broken by NaNs: (x, y) with y 0 at z, 1 at G(z)."""
    z, xg = snap.z_line, np.clip(snap.x_line, snap.x[0], snap.x[-1])
    gap = np.full(len(z), np.nan)
    return np.stack([z, xg, gap], axis=1).ravel(), np.tile([0.0, 1.0, np.nan], len(z))


def _column(rows: list[dict], key: str, log: bool = False) -> np.ndarray:
    values = np.array([r[key] for r in rows], dtype=np.float64)
    if log:
        values[~(values > 0)] = np.nan  # a log axis leaves a gap at a zero or a NaN
    return values


class _FigureOne:
    """Goodfellow et al.'s Figure 1 in a rectangle of the figure: densities (left
    scale) and D, D* (right scale, 0 to 1) above, the z -> x map below."""

    def __init__(self, fig: Figure, left: float, bottom: float, width: float, height: float):
        self.top, self._small_frames = None, 0
        top_h = 0.7 * height
        self.ax = fig.add_axes((left, bottom + 0.3 * height, width, top_h))
        self.ax_d = self.ax.twinx()
        self.ax_z = fig.add_axes((left, bottom, width, 0.2 * height), sharex=self.ax)
        for a in (self.ax, self.ax_d, self.ax_z):
            a.tick_params(labelsize=FONT, length=3)
            for side in ("top",):
                a.spines[side].set_visible(False)
        self.ax.set_ylabel("density", fontsize=FONT)
        self.ax_d.set_ylabel("D", fontsize=FONT)
        self.ax_d.set_ylim(0, 1.02)
        self.ax_d.set_yticks([0, 0.5, 1])
        self.ax_d.grid(axis="y", color="#eeeeee")
        self.ax_z.set_ylim(-0.15, 1.15)
        self.ax_z.set_yticks([0, 1], ["z", "x"])
        self.ax_z.set_xlabel("x", fontsize=FONT, labelpad=1)
        self.ax.tick_params(labelbottom=False)
        self.fill = self.ax.add_patch(Polygon(np.zeros((3, 2)), closed=True, facecolor=(33 / 255, 195 / 255, 84 / 255, 0.12),
                                              edgecolor="none", animated=True))
        self.p_data = self.ax.plot([], [], color=DATA, linestyle=(0, (1, 1.5)), linewidth=2.2, animated=True)[0]
        self.p_g = self.ax.plot([], [], color=GEN, linewidth=2, animated=True)[0]
        self.d = self.ax_d.plot([], [], color=DISC, linestyle=(0, (4, 2)), linewidth=2.2, animated=True)[0]
        self.d_star = self.ax_d.plot([], [], color=OPT, linewidth=1.5, alpha=0.8, animated=True)[0]
        self.map = self.ax_z.plot([], [], color="#888888", linewidth=0.8, animated=True)[0]

    def ranges(self, snap) -> tuple:
        # Sticky: the density axis grows at once but shrinks only when a quarter of it
        # has done for SHRINK_AFTER frames in a row, so a p_g whose peak hovers at a
        # doubling, or a narrow spike that flickers, does not re-lay the axes (a full
        # drawing, 5-20 times a blitted frame) every few frames.
        base, peak = density_base_and_peak(snap)
        need = steady_top(base, peak)
        small = self.top is not None and need < self.top and peak < self.top / 4
        self._small_frames = self._small_frames + 1 if small else 0
        if self.top is None or need > self.top or self._small_frames >= SHRINK_AFTER:
            self.top, self._small_frames = need, 0
        return (float(snap.x[0]), float(snap.x[-1]), self.top)

    def set_ranges(self, key: tuple) -> None:
        x0, x1, top = key
        self.ax.set_xlim(x0, x1)
        self.ax.set_ylim(0, top)

    def update(self, snap) -> None:
        x = snap.x
        self.fill.set_xy(np.concatenate([np.stack([x, snap.p_g], axis=1), [[x[-1], 0.0], [x[0], 0.0]]]))
        self.p_data.set_data(x, snap.p_data)
        self.p_g.set_data(x, snap.p_g)
        self.d.set_data(x, snap.d)
        self.d_star.set_data(x, snap.d_star)
        self.map.set_data(*z_lines(snap))

    def artists(self):
        return [(self.ax, self.fill), (self.ax, self.p_data), (self.ax, self.p_g), (self.ax_d, self.d),
                (self.ax_d, self.d_star), (self.ax_z, self.map)]


class Painter:
    """One view's picture, kept across frames: ``single`` (Figure 1 and, beside it,
    V(G, D) against C(G), the JSD and |D - D*| over D steps) or ``pair`` (Figure 1
    for each G loss, and below the push, G's gradient norm and the JSD of both).
    ``draw`` returns a (height, width, 3) uint8 array."""

    def __init__(self, view: str, width_px: int = 1100):
        if view not in ("single", "pair"):
            raise ValueError(f"unknown view {view!r}")
        self.view = view
        # The single view's curves run over D steps, which also count D trained alone while G is
        # frozen (G steps stay 0 then, and the curves stayed empty); the pair compares G losses per G step.
        self._steps = "d_steps" if view == "single" else "g_steps"
        height_px = 560 if view == "single" else 760
        self.fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        self._key = None
        self._background = None
        self._value_low = None
        if view == "single":
            self.ones = [_FigureOne(self.fig, 0.05, 0.08, 0.50, 0.88)]
            self.ax_v = self.fig.add_axes((0.68, 0.50, 0.30, 0.46))
            self.ax_j = self.fig.add_axes((0.68, 0.08, 0.30, 0.34), sharex=self.ax_v)
            self.ax_v.tick_params(labelbottom=False)
            self.ax_v.set_ylabel("value", fontsize=FONT)
            self.ax_j.set_ylabel("JSD, |D − D*|", fontsize=FONT)
            self.ax_j.set_xlabel("D steps (k per G step)", fontsize=FONT, labelpad=1)
            self.ax_j.set_ylim(0, 1.02)  # the JSD stays below log 2, mean |D - D*| below 1
            self.floor = self.ax_v.axhline(-LOG4, color="#999999", linestyle=":", linewidth=1)
            self.curves = {
                "value_at_optimum": self.ax_v.plot([], [], color=OPT, animated=True)[0],
                "value": self.ax_v.plot([], [], color=DISC, animated=True)[0],
                "jsd": self.ax_j.plot([], [], color=GEN, animated=True)[0],
                "gap_to_optimum": self.ax_j.plot([], [], color=GAP, animated=True)[0],
            }
            panels = (self.ax_v, self.ax_j)
        else:
            self.ones = [_FigureOne(self.fig, 0.05, 0.46, 0.38, 0.48), _FigureOne(self.fig, 0.57, 0.46, 0.38, 0.48)]
            specs = [("push", "push on G's samples", "log", (1e-5, 1e2)), ("g_grad_norm", "‖∇ G's weights‖", "log", (1e-3, 1e3)),
                     ("jsd", "JSD(p_data ‖ p_g)", "linear", (0, math.log(2) * 1.02))]
            self.panels = []
            for j, (key, label, scale, lim) in enumerate(specs):
                ax = self.fig.add_axes((0.06 + j * 0.33, 0.07, 0.26, 0.28))
                ax.set_yscale(scale)
                ax.set_ylim(*lim)
                ax.set_ylabel(label, fontsize=FONT)
                ax.set_xlabel("G steps", fontsize=FONT, labelpad=1)
                lines = {name: ax.plot([], [], color=colour, animated=True)[0] for name, colour in LOSS_COLOURS.items()}
                self.panels.append((key, scale == "log", ax, lines))
            panels = [ax for _, _, ax, _ in self.panels]
        for ax in panels:
            ax.tick_params(labelsize=FONT, length=3)
            ax.spines["top"].set_visible(False)
            ax.spines["right"].set_visible(False)

    # The axes' ranges decide the background; it is drawn again only when one moves.
    def _layout(self, names: list[str], snaps: list, histories: list[list[dict]]) -> tuple:
        span = steady_span(max(rows[-1][self._steps] for rows in histories))
        key = tuple(one.ranges(s) for one, s in zip(self.ones, snaps)) + (tuple(span), tuple(names))
        if self.view == "single":  # sticky too: its floor rises only by a whole unit
            low, high = value_range(histories[0])
            if self._value_low is None or low < self._value_low or low > self._value_low + 1:
                self._value_low = low
            key += ((self._value_low, high),)
        return key

    def _set_layout(self, key: tuple) -> None:
        for one, ranges in zip(self.ones, key):
            one.set_ranges(ranges)
        span, names = key[len(self.ones)], key[len(self.ones) + 1]
        if self.view == "pair":  # each Figure 1 titled with its G loss, in its colour
            for one, name in zip(self.ones, names):
                one.ax.set_title(f"{name} G loss", fontsize=FONT + 2, color=LOSS_COLOURS.get(name, DATA), fontweight="bold")
        if self.view == "single":
            self.ax_v.set_xlim(*span)
            self.ax_v.set_ylim(*key[-1])
            _step_ticks(self.ax_j)
        else:
            for _, _, ax, _ in self.panels:
                ax.set_xlim(*span)
                _step_ticks(ax)
        self.canvas.draw()  # animated artists are left out: this is the background
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        self._key = key

    def draw(self, snaps: dict, histories: dict[str, list[dict]]) -> np.ndarray:
        """The frame for ``snaps`` (one Snapshot per G loss shown, in the view's order)
        and their histories (rows of ``Lab1D.history``)."""
        snap_list, history_list = list(snaps.values()), [thin(h) for h in histories.values()]
        if len(snap_list) != len(self.ones):
            raise ValueError(f"the {self.view} view draws {len(self.ones)} lab(s), got {len(snap_list)}")
        key = self._layout(list(snaps), snap_list, history_list)
        if key != self._key:
            self._set_layout(key)
        self.canvas.restore_region(self._background)
        drawn = []
        for one, snap in zip(self.ones, snap_list):
            one.update(snap)
            drawn += one.artists()
        if self.view == "single":
            rows = history_list[0]
            g = _column(rows, self._steps)
            for name, ln in self.curves.items():
                ln.set_data(g, _column(rows, name))
                drawn.append((ln.axes, ln))
        else:
            steps = {name: _column(rows, "g_steps") for name, rows in zip(histories, history_list)}
            for key_, log, ax, lines in self.panels:
                for name, rows in zip(histories, history_list):
                    lines[name].set_data(steps[name], _column(rows, key_, log))
                    drawn.append((ax, lines[name]))
        for ax, artist in drawn:
            ax.draw_artist(artist)
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def _step_ticks(ax) -> None:
    """At most 5 step ticks, thousands as "5k": "0 2500 5000 ... 20000" ran together (newcomer review)."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if abs(v) >= 1000 else f"{v:g}"))


__all__ = ["Painter", "density_top", "steady_span", "steady_top", "thin", "value_range", "z_lines"]
