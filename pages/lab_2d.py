"""Lab: mode collapse in 2-D. A point recipe trains live, a few steps per frame,
and the page draws what it does: real and generated points, D's verdict over the
plane, where G's loss pushes the generated points, and the PacGAN protocol's mode
coverage as it changes; kept snapshots replay the run. A comparison trains two or
more recipes on the same data from the same seed side by side.

The training is gan_core.lab2d's (the recipes' own models and objectives, step for
step what `python -m gan_core train` does); this page only reads widgets, asks the
lab to train a slice and draws the numpy arrays it returns. The lab lives in the
session, so it lasts while the tab is open and trains only while the page shows it.
"""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from gan_core import lab2d
from gan_core.data import mode_centres
from gan_core.errors import GanError
from gan_core.lab_clock import training_budget
from gan_core.lab2d_image import ARROW, FAKE, HEAT_SCALE_SHOWN, REAL, draw_framed, draw_plane, heat_range, image_uri
from pages.common.lab import FRAME_S, click_guard, frame_rate, live, play, rate_line
from pages.common.session import settings_or_stop, through_app
from pages.common.shared import plain
from pages.common.streamlit_internals import numbered

through_app()

TICKS = 25  # frames the rate line averages over
# "auto" speed: each frame trains for what is left of FRAME_S after drawing the last
# one (at least this much, so a slow machine still trains), and draws.
MIN_TRAIN_S = 0.02
LIVE_POINTS = 1_000  # generated points per recipe in a playing comparison's frames
SPEEDS = ["auto", 1, 2, 5, 10, 25, 50]
STEP_CLICK = 10  # steps per click of "Step" when the speed is auto
PLANE_PX = 480  # the plane's picture, about its size on screen
LEGEND = (":orange[●] real data · :blue[●] generated G(z), 2,500 from fixed noise (1,000 per recipe while a comparison plays) · arrows: G's push (−∇ of G's loss) · "
          "rings: modes covered (green) or missed (red) · background: D's output (green = judged real)")
FIG_CONFIG = {"displaylogo": False}

ONE, COMPARE = "One recipe", "Compare recipes"
ss = st.session_state
once = click_guard("lab2d")  # a replayed click must not step twice (pages/common/lab.py says when Streamlit replays one)
settings_or_stop()  # a bad environment variable ends the page with its sentence

EXPLAIN = """
**Mode collapse.** The real points here sit in separate clusters, the *modes* (8 on a ring, 25 on a grid).
A generator *collapses* when it puts its points on only a few of them. It happens because D and G take turns:
D learns where the generated points pile up and marks that region fake, G then moves its points, all together,
to some other region D still calls real, and the chase goes on with no reason for G to spread out. What to watch,
at the defaults: on grid-25 the plain GAN spreads a loose cloud of blue points over the grid, with only a few percent
of them on any mode. By PacGAN's count such a cloud "covers" most modes by chance (the line under the picture says
how many an even spread would), so watch the high-quality share and D's map rather than the count alone; as the
cloud drifts, the count swings with it. On ring-8
(the comparison's default) it piles a loose cloud onto part of the ring, and D's map turns green over the empty
part, the modes it has left; given the same 2,000 steps, minibatch-std settles on all 8 modes by step 2,000.

**What packing does (PacGAN).** D judges *m* samples at once, concatenated into one input. A pack of real points
usually holds points from different modes; a pack from a collapsed generator holds near copies of one point. So a
packed D can see the missing variety, which a D that looks at one point at a time cannot, and its gradient pushes
G to spread out. Only D's input changes; G is the same network.

**Minibatch standard deviation.** Another way to let D see variety: it is also told how much its features vary
within small groups of samples. A collapsed generator's groups barely vary, which gives it away.

**Reading the picture.** Orange: real data. Blue: 2,500 generated points from fixed noise. The background is D's
output: green where D says "real", purple where it says "fake" (for a WGAN critic, a score rather than a
probability: only differences matter, higher = judged more real). Arrows: the direction G's loss pushes a
sample of the generated points right now, downhill on G's loss (lengths scaled to fit). Rings mark the modes:
green = covered, red = missed.

**Coverage, the PacGAN protocol.** From 2,500 generated points: a point is *high quality* when it lies within 3
standard deviations of its nearest mode; a mode is *covered* when at least one high-quality point is nearest
to it; *reverse KL* compares how the high-quality points spread over the modes with an even spread (0 = even,
log K = all on one mode; undefined while no point is high quality). One high-quality point is enough to cover a
mode, so the count means most beside a high share of high-quality points: PacGAN4's 24.8 / 25 modes (Lin et al.'s
Table 1) came with 93.6% of its points high quality.
"""


# ----------------------------------------------------------------------------- state


def current(view: str, recipes: tuple[str, ...], data: str, seed: int, stop: int | None):
    """The session's lab (or comparison) for these settings; a new one when the
    recipes, the data or the seed change. A new "Stop at step" carries on
    (None: each recipe's own number of steps)."""
    slot = "_lab2d_single" if view == ONE else "_lab2d_compare"
    sig = (recipes, data, seed)
    held = ss.get(slot)
    if held is not None and held[0] == sig:
        for lab in held[1].labs.values():
            lab.stop_at = stop or lab.own_steps
        return held[1]
    with st.spinner("Building the models…"):
        if view == ONE:
            made = lab2d.Lab(recipes[0], data, seed, stop_at=stop)
        else:
            made = lab2d.Comparison.of(list(recipes), data, seed, stop_at=stop)
    ss[slot] = (sig, made)
    ss.lab2d_mode = "paused"
    ss.pop("lab2d_show", None)
    frame_rate("lab2d", TICKS, restart=True)
    return made


def train_slice(thing, speed) -> int:
    started = time.perf_counter()
    if speed == "auto":
        drawing = ss.get("_lab2d_draw_s", FRAME_S / 2)  # the last frame's, without its training
        ran = thing.train_for(training_budget(FRAME_S, drawing, MIN_TRAIN_S))
    else:
        ran = thing.train(int(speed))
    ss["_lab2d_train_s"] = time.perf_counter() - started
    return ran


# ---------------------------------------------------------------------------- figures


def plane_figure(lab: lab2d.Lab, frame: lab2d.Frame, height: int, legend: bool = True, px: int = PLANE_PX) -> go.Figure:
    """The plane at one step: one picture (heat map, real and generated points,
    arrows; gan_core.lab2d_image says why a picture) under Plotly's axes, with the
    modes' rings, a legend and the heat map's colour bar as Plotly traces."""
    (x0, x1), (y0, y1) = lab.bounds
    picture = draw_plane(lab.bounds, frame.surface, not lab.wasserstein, real=lab.real, fake=frame.fake,
                         arrows=(frame.arrows_at, frame.arrows), size=px)
    lo, hi = heat_range(frame.surface, not lab.wasserstein)
    none = dict(x=[None], y=[None], hoverinfo="skip")
    traces = [
        # Invisible: it carries the colour bar of the heat map drawn in the picture.
        go.Heatmap(z=[[lo, hi]], x=[x0, x1], y=[y0], zmin=lo, zmax=hi, colorscale=HEAT_SCALE_SHOWN, opacity=0,
                   hoverinfo="skip", showscale=legend, showlegend=False,
                   colorbar=dict(title=dict(text="critic score" if lab.wasserstein else "D(x)", side="right"), thickness=12, len=0.8)),
        go.Scatter(**none, mode="markers", name="real data", marker=dict(size=8, color=REAL, line=dict(width=1, color="#7a3d00"))),
        go.Scatter(**none, mode="markers", name="generated G(z)", marker=dict(size=5, color=FAKE, opacity=0.7)),
        go.Scatter(**none, mode="lines", name="G's push (−∇ of G's loss)", line=dict(width=1.2, color=ARROW)),
    ]
    centres = mode_centres(lab.data_name)
    if frame.coverage is not None and centres is not None:
        centres = centres.numpy()
        hit = np.asarray(frame.coverage.counts) > 0
        traces.append(go.Scatter(x=centres[hit, 0], y=centres[hit, 1], mode="markers", name="mode covered", hoverinfo="skip",
                                 marker=dict(symbol="circle-open", size=18, color="#1b7837", line=dict(width=2))))
        traces.append(go.Scatter(x=centres[~hit, 0], y=centres[~hit, 1], mode="markers", name="mode missed", hoverinfo="skip",
                                 marker=dict(symbol="circle-open", size=18, color="#c0392b", line=dict(width=1.5))))
    return go.Figure(traces, layout=dict(
        height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep", showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=11)),
        xaxis=dict(range=[x0, x1], showgrid=False, zeroline=False, constrain="domain"),
        yaxis=dict(range=[y0, y1], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1, constrain="domain"),
        images=[dict(source=image_uri(picture), xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
                     sizing="stretch", layer="below")],
        plot_bgcolor="white",
    ))


def plane_picture(lab: lab2d.Lab, frame: lab2d.Frame, px: int) -> np.ndarray:
    """The plane as one self-contained picture (axes, rings, colour bar), for playing."""
    centres = mode_centres(lab.data_name)
    covered = np.asarray(frame.coverage.counts) > 0 if frame.coverage is not None else None
    return draw_framed(lab.bounds, frame.surface, not lab.wasserstein, lab.real, frame.fake, (frame.arrows_at, frame.arrows),
                       centres.numpy() if centres is not None and covered is not None else None, covered, size=px,
                       bar_title="critic score" if lab.wasserstein else "D(x)")


def coverage_figure(histories: dict[str, list[tuple[int, object]]], total: int, height: int = 260) -> go.Figure:
    """Modes covered and high-quality % against the step, one line per recipe. Two
    axes laid out by hand: make_subplots costs more than the rest of a frame's drawing."""
    palette = ["#1f4fb4", "#e15759", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2"]
    traces = []
    for i, (name, rows) in enumerate(histories.items()):
        steps = [s for s, _ in rows]
        line = dict(color=palette[i % len(palette)])
        traces.append(go.Scatter(x=steps, y=[c.modes for _, c in rows], name=name, legendgroup=name, line=line))
        traces.append(go.Scatter(x=steps, y=[100 * c.high_quality for _, c in rows], name=name, legendgroup=name,
                                 showlegend=False, line=line, xaxis="x2", yaxis="y2"))
    title = dict(font=dict(size=12), standoff=4)
    return go.Figure(traces, layout=dict(
        height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep", showlegend=len(histories) > 1,
        legend=dict(orientation="h", yanchor="bottom", y=1.08, xanchor="right", x=1),
        # A wide gap: the right chart's axis title and ticks touched the left chart's last tick at 0.45 / 0.55.
        xaxis=dict(domain=[0, 0.4], title=dict(text="step", **title)),
        xaxis2=dict(domain=[0.6, 1], title=dict(text="step", **title)),
        yaxis=dict(range=[0, total + 0.5], title=dict(text=f"modes covered (of {total})", **title)),
        yaxis2=dict(range=[0, 100], anchor="x2", title=dict(text="high quality (%)", **title)),
    ))


# ------------------------------------------------------------------------- the frames


def advance(thing, labs: dict[str, lab2d.Lab], speed) -> dict[str, lab2d.Frame] | None:
    """One frame's worth of progress: a slice of training, or the next kept snapshot
    of a replay. None when there is nothing more to show (trained to the end, or the
    replay is over): the page then pauses."""
    first = next(iter(labs.values()))
    if ss.lab2d_mode == "playing":
        if thing.done:
            return None
        train_slice(thing, speed)
        frame_rate("lab2d", TICKS).tick(thing.step)
        return thing.playing_frames(LIVE_POINTS)
    steps = first.steps_kept()
    i = ss.get("_lab2d_replay", 0)
    if i >= len(steps):
        return None
    ss["_lab2d_replay"] = i + 1
    return thing.frames_at(steps[i])


class View:
    """The live part's placeholders, made once per fragment run and refilled every
    frame: per frame only the plane(s) and two lines of text change, and the coverage
    chart is redrawn when a snapshot is kept (every ``snapshot_every`` steps).

    While the lab plays or replays, the plane is a picture (st.image); paused, it is
    a Plotly figure, which zooms. Streamlit 1.67 rebuilds a Plotly chart from
    scratch whenever its figure changes (its React key is a hash of the figure): in
    headless Chromium here that is about 250 ms of browser CPU per frame and the
    plane is blank for a third of the time, against about 50 ms and a steady picture
    for an image (gan_core/lab2d_image.py has the numbers)."""

    def __init__(self, labs: dict[str, lab2d.Lab]):
        self.labs = labs
        self.head, self.errors = st.empty(), st.empty()
        self.count, self.history_drawn = 0, None
        first = next(iter(labs.values()))
        if len(labs) == 1:
            left, right = st.columns([3, 2])
            with left:
                self.planes = {first.recipe: st.empty()}
                self.note = st.empty()
                st.caption(LEGEND)
            with right:
                self.numbers, self.coverage = st.empty(), st.empty()
                st.caption("Background: " + plain(first.surface_label) + ".")
        else:
            cols = st.columns(len(labs))
            self.planes, self.captions = {}, {}
            for col, name in zip(cols, labs):
                with col:
                    st.markdown(f"**{name}**")
                    self.planes[name], self.captions[name] = st.empty(), st.empty()
            self.coverage = st.empty()
            st.caption(LEGEND)

    def plane(self, holder, lab: lab2d.Lab, frame: lab2d.Frame, height: int, px: int, legend: bool) -> None:
        if ss.lab2d_mode == "paused":
            self.chart(holder, plane_figure(lab, frame, height, legend=legend, px=px))
        else:
            holder.image(plane_picture(lab, frame, px), output_format="JPEG")

    def chart(self, holder, fig: go.Figure) -> None:
        self.count += 1  # a chart redrawn within the run is a new element (pages/common/streamlit_internals.py)
        holder.plotly_chart(numbered(fig, self.count), config=FIG_CONFIG)

    def coverage_chart(self, frames: dict[str, lab2d.Frame]) -> None:
        totals = [f.coverage.total for f in frames.values() if f.coverage is not None]
        if not totals:
            return
        kept = tuple(sum(1 for step, _ in lab.coverage_history() if step <= frames[name].step) for name, lab in self.labs.items())
        if kept == self.history_drawn:
            return  # no snapshot kept since the last drawing
        self.history_drawn = kept
        hist = {name: lab.coverage_until(frames[name]) for name, lab in self.labs.items()}
        self.chart(self.coverage, coverage_figure(hist, totals[0]))

    def draw(self, frames: dict[str, lab2d.Frame]) -> None:
        labs, mode = self.labs, ss.lab2d_mode
        first = next(iter(frames.values()))
        status = {"playing": "training", "replay": "replaying", "paused": "paused"}[mode]
        rate = rate_line(frame_rate("lab2d", TICKS), "steps") if mode == "playing" else ""
        self.head.markdown(f"**Step {first.step:,}** of {next(iter(labs.values())).stop_at:,} · {status}" + (f" · {rate}" if rate else ""))
        errors = [lab.error for lab in labs.values() if lab.error]
        if errors:
            self.errors.error(plain(" ".join(errors)))
        if len(labs) == 1:
            lab, frame = next(iter(labs.values())), first
            self.plane(self.planes[lab.recipe], lab, frame, 560, PLANE_PX, legend=True)
            if frame.outside:
                self.note.caption(f"{frame.outside:,} of {len(frame.fake):,} generated points lie outside this view.")
            else:
                self.note.empty()
            if frame.coverage is not None:
                c, chance = frame.coverage, lab.chance()
                loose = (f" (with so few points on the modes, the count says little: 2,500 points spread evenly over this "
                         f"view would cover about {chance:.0f})" if chance is not None and c.high_quality < 0.5 else "")
                self.numbers.markdown(f"**{c.modes} / {c.total} modes** covered · **{c.high_quality:.1%}** high quality · "
                                      f"reverse KL **{c.kl_text()}**{loose}  \n{lab.verdict(frame)}")
            else:
                self.numbers.markdown(f"{lab.data_name} has no separate modes to count; coverage is measured on ring-8 "
                                      f"and grid-25.  \n{lab.verdict(frame)}")
        else:
            for name, lab in labs.items():
                frame = frames[name]
                self.plane(self.planes[name], lab, frame, 380, 340, legend=False)
                cov = frame.coverage.describe() if frame.coverage is not None else "no discrete modes to count"
                if frame.coverage is not None and frame.coverage_step != frame.step:
                    cov += f" (at step {frame.coverage_step:,})"
                self.captions[name].caption(f"{cov} · {lab.verdict(frame)}")
        self.coverage_chart(frames)


def live_view(thing, speed) -> None:
    """The live fragment. Paused: the kept snapshot the slider picks. Playing or
    replaying: a frame at a time (pages/common/lab.py runs the frames), each the next
    slice of training or the next kept snapshot, until there is no more to show."""
    labs = thing.labs
    first = next(iter(labs.values()))
    if ss.lab2d_mode == "paused":
        steps = first.steps_kept()
        if ss.get("lab2d_show") not in steps:
            ss.lab2d_show = steps[-1]
        chosen = st.select_slider("Show step (the kept snapshots; play or step to add more)", options=steps,
                                  key="lab2d_show") if len(steps) > 1 else steps[0]
        View(labs).draw(thing.frames_at(chosen))
        return
    view = View(labs)

    def frame() -> None:
        started = time.perf_counter()
        frames = advance(thing, labs, speed)
        if frames is None:
            ss.lab2d_mode = "paused"
            ss.pop("lab2d_show", None)
            st.rerun()
        view.draw(frames)
        ss["_lab2d_draw_s"] = time.perf_counter() - started - ss.pop("_lab2d_train_s", 0.0)

    play(frame, animating=True)


# ------------------------------------------------------------------------------ page

st.title("Lab: mode collapse in 2-D")
st.markdown("Train a GAN on points and watch it: which clusters of the real data it finds, which it loses, "
            "what D believes and where G is pushed. Press **Play**; compare recipes side by side to see which remedies work.")
with st.expander("What is mode collapse, what does packing do, and how to read the picture", expanded=True):
    st.markdown(EXPLAIN)

view = st.radio("View", [ONE, COMPARE], horizontal=True, key="lab2d_view", label_visibility="collapsed")
recipe_info = {r["name"]: r for r in lab2d.point_recipes()}
sets = {s["name"]: s for s in lab2d.point_sets()}

c1, c2, c3, c4, c5 = st.columns([2, 3, 1, 1.3, 1.5])
# Each view opens on its own lesson's data (gan_core.lab2d says why), so each has its own key.
default_data = lab2d.DEFAULT_DATA if view == ONE else lab2d.COMPARE_DATA
data = c1.selectbox("Points", list(sets), key="lab2d_data" if view == ONE else "lab2d_cmp_data",
                    format_func=lambda n: f"{n} (modes)" if sets[n]["modes"] else n,
                    index=list(sets).index(default_data) if default_data in sets else 0,
                    help="The real data. ring-8 and grid-25 are the PacGAN benchmarks.")
if view == ONE:
    recipe = c2.selectbox("Recipe", list(recipe_info), key="lab2d_recipe",
                          index=list(recipe_info).index(lab2d.DEFAULT_RECIPE) if lab2d.DEFAULT_RECIPE in recipe_info else 0)
    chosen = (recipe,)
else:
    # The plain GAN against the best remedy (docs/BENCHMARKS.md, "Mode coverage"): two
    # recipes keep five frames a second on a 2-core CPU; each one added costs a
    # training step and a picture per frame (three refresh about 4 times a second).
    defaults = [n for n in lab2d.COMPARE_RECIPES if n in recipe_info] or list(recipe_info)[:2]
    picked = c2.multiselect("Recipes to compare", list(recipe_info), default=defaults, key="lab2d_recipes",
                            help="Two or more, trained in lockstep from the same seed. Each recipe added slows the frames.")
    chosen = tuple(picked)
seed = int(c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="lab2d_seed",
                           help="Same seed: same initial weights, batches and noise, in every recipe of a comparison."))
if view == ONE:
    stop = c4.number_input("Stop at step", min_value=100, max_value=lab2d.MAX_STOP, value=None, step=500, key="lab2d_stop",
                           placeholder="default", help="Empty: the recipe's own number of steps, as `train` uses it.")
else:
    # One budget for every recipe, so the panels compare like with like: a remedy whose
    # learning rate decays spreads the decay over these steps (gan_core/lab2d.py says why).
    stop = c4.number_input("Stop at step", min_value=100, max_value=lab2d.MAX_STOP, value=lab2d.COMPARE_STEPS, step=500,
                           key="lab2d_cmp_stop", placeholder="default",
                           help="The same for every recipe: one with a decaying learning rate decays over these steps. "
                                "Empty: each recipe's own number of steps, as `train` uses it.")
stop = int(stop) if stop is not None else None
speed = c5.select_slider("Steps per frame", SPEEDS, value="auto", key="lab2d_speed",
                         help="auto: as many steps as fit in each frame after drawing it, so the picture refreshes 5 or more times a second.")

for name in chosen:
    st.caption(f"**{name}**: {plain(recipe_info[name]['description'])}")
if view == COMPARE and len(chosen) < 2:
    st.info("Choose two or more recipes to compare.")
    st.stop()

try:
    thing = current(view, chosen, data, seed, stop)
except GanError as e:
    st.error(plain(str(e)))
    st.stop()
first_lab = next(iter(thing.labs.values()))
st.caption("Settings (the recipe's defaults, as `train` uses them): " + "; ".join(plain(lab.settings) for lab in thing.labs.values()))

ss.setdefault("lab2d_mode", "paused")
step_n = STEP_CLICK if speed == "auto" else int(speed)


# Each callback acts last (pages/common/lab.click_guard says why).
@once
def on_play() -> None:
    if ss.lab2d_mode == "playing":
        ss.pop("lab2d_show", None)  # the slider starts at the newest step
        ss.lab2d_mode = "paused"
    else:
        frame_rate("lab2d", TICKS, restart=True)
        ss.lab2d_mode = "playing"


@once
def on_step() -> None:
    ss.lab2d_mode = "paused"
    ss.pop("lab2d_show", None)
    thing.train(step_n)


@once
def on_replay() -> None:
    ss["_lab2d_replay"] = 0
    ss.lab2d_mode = "replay"


@once
def on_reset() -> None:
    ss.pop("_lab2d_single" if view == ONE else "_lab2d_compare", None)


playing = ss.lab2d_mode == "playing"
b1, b2, b3, b4, _ = st.columns([1, 1, 1, 1, 3])
b1.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:", key="lab2d_play",
          on_click=on_play, type="primary", disabled=thing.done and not playing, width="stretch")
b2.button(f"Step +{step_n}", icon=":material/skip_next:", key="lab2d_step", on_click=on_step, disabled=thing.done,
          width="stretch", help="Train this many steps, then stop.")
b3.button("Replay", icon=":material/replay:", key="lab2d_replay", on_click=on_replay, disabled=len(first_lab.steps_kept()) < 2,
          width="stretch", help=f"Play the kept snapshots (one every {first_lab.snapshot_every} steps) from the start.")
b4.button("Reset", icon=":material/restart_alt:", key="lab2d_reset", on_click=on_reset, width="stretch",
          help="Start again from the initial weights.")
if thing.done and not first_lab.error:
    st.success(f"Trained to step {thing.step:,}. Replay it, scrub through the snapshots, or raise \"Stop at step\" to go on.")

live(live_view, ss.lab2d_mode in ("playing", "replay"), thing, speed)
