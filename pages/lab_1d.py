"""Lab: GAN theory in 1-D. A small GAN trains live on a target density the visitor
edits, drawn as in Goodfellow et al.'s Figure 1 (p_data, p_g, D, the optimal D* and
the z -> x map), beside the paper's quantities over time: V(G, D), the JS
divergence and C(G) = -log 4 + 2 JSD, the value an optimal D would reach. A second
view trains the minimax and the non-saturating G loss from one start.

The training and every number are gan_core.lab1d's (the gan recipe's models,
objective, losses and optimisers); this page reads widgets, asks the lab for a few
steps per frame and draws the numpy arrays it returns. The lab lives in the session:
it lasts while the tab is open and trains only while this page shows it.
"""

from __future__ import annotations

import math
import time

import plotly.graph_objects as go
import streamlit as st

from gan_core import lab1d
from gan_core.errors import GanError
from gan_core.lab1d_image import DATA, DISC, GAP, GEN, LOG4, LOSS_COLOURS, OPT, Painter, density_top, steady_span, thin, value_range, z_lines
from pages.common.lab import click_guard, frame_rate, live, play, rate_line
from pages.common.session import settings_or_stop, through_app
from pages.common.shared import plain
from pages.common.streamlit_internals import unvalidated_figure

through_app()

TICKS = 16  # frames the rate line averages over
TRAIN_BUDGET_S = 0.06  # at most this much training per frame, leaving the rest for drawing
DEMO_MAX_G_STEPS = 20_000  # a shared demo server pauses a lab here
DEFAULT_MEANS = (-2.0, 2.0, 0.0, 4.5, -4.5)
DEFAULT_SD = 0.6
SINGLE, PAIR = "One GAN", "Minimax vs non-saturating"
# Per view: optimizer, k, (lr_d, lr_g) per optimizer, G steps per frame. The comparison
# uses SGD, the paper's optimiser, because Adam rescales every step by the recent
# gradient size and so hides much of the minimax loss's stall in G's progress (the
# push curves show it either way).
DEFAULTS = {
    SINGLE: {"optimizer": "adam", "k": 5, "lr": {"adam": (1e-2, 2e-4), "sgd": (0.05, 0.01)}, "speed": 10},
    # Slow enough to watch the first few dozen G steps, where the two losses part.
    PAIR: {"optimizer": "sgd", "k": 1, "lr": {"adam": (1e-3, 1e-3), "sgd": (0.05, 0.01)}, "speed": 2},
}
# The lines' colours (gan_core.lab1d_image's, shared with the live picture) are
# Streamlit's own, so that the legends written in markdown match the lines.
# The charts' legends, written once outside the live chart (a plotly legend costs the
# browser a third of each frame's redraw).
FIGURE_ONE_KEY = (r"**⋯** p_data · :green[**━**] p_g, G's density (2,000 quantiles of z pushed through G) · :blue[**╍**] D(x) · "
                  r":red[**━**] D\*(x) = p_data / (p_data + p_g) · :gray[**╱**] z → x = G(z)")
THEORY_KEY = (r":red[**━**] C(G) = −log 4 + 2·JSD, the value at D = D\* · :blue[**━**] V(G, D) with the current D · "
              r":gray[**┄**] −log 4, reached at p_g = p_data · :green[**━**] JSD(p_data ‖ p_g) · :orange[**━**] mean |D − D\*|")
PAIR_KEY = ":red[**━**] minimax G loss · :blue[**━**] non-saturating G loss"
FIG_CONFIG = {"displaylogo": False}

ss = st.session_state
once = click_guard("lab1d")  # a replayed click must not step twice (pages/common/lab.py says when Streamlit replays one)
settings = settings_or_stop()

EXPLAIN = r"""
**The picture (the paper's Figure 1).** Black dots: the data's density $p_{data}$. Green: the generator's density
$p_g$, computed by pushing 2,000 evenly spaced quantiles of $z$ through $G$ (no sampling noise, no smoothing): a tall,
narrow peak is where $G$ turns back on itself (the $z \to x$ lines below turn around there), which piles a little
mass onto one point. Blue dashes: what the discriminator says, $D(x)$ = the probability
that $x$ is real. Red: $D^*(x)$, the best possible discriminator for the current $G$. Below, each line carries a
noise value $z$ (bottom) to the point $x = G(z)$ it becomes (top): where the lines bunch together, $G$ puts many
samples and $p_g$ is high.

**What $D^*$ is.** Hold $G$ fixed. At each $x$, some of the samples that land there are real and some are fake; the
best a discriminator can do is report the real share: $D^*(x) = p_{data}(x) / (p_{data}(x) + p_g(x))$. Where only
data lands, $D^* = 1$; where only $G$'s samples land, $D^* = 0$. Freeze $G$ and press Play: the blue curve settles
onto the red one, and $V(G, D)$ climbs to $C(G)$.

**Why $D \to 1/2$.** Where $p_g = p_{data}$, real and fake samples are equally common, so even the best
discriminator can only guess: $D^* = 1/2$. Press *Make p_g = p_data* and train $D$ alone to watch it flatten to
1/2 wherever the data is.

**What $G$ minimises.** $D$ climbs $V(G, D) = E_{data}[\log D(x)] + E_z[\log(1 - D(G(z)))]$, $G$ descends it.
With $D = D^*$, $V$ becomes $C(G) = -\log 4 + 2\,JSD(p_{data} \| p_g)$: against a perfect discriminator, $G$
lowers the Jensen-Shannon divergence, and $-\log 4 \approx -1.386$ is reached only when $p_g = p_{data}$. While
$V$ sits below $C(G)$, $D$ is not optimal yet; the gap is what $D$ could still gain. (The JSD and $C(G)$ are
integrated on the plotted grid, so a $G$ squeezed narrower than one of its steps counts as one step wide.)

**Why the minimax loss stalls.** The paper's $G$ loss is $\log(1 - D(G(z)))$. Its slope with respect to $D$'s
logit is $-D(G(z))$: when $D$ confidently rejects $G$'s samples ($D(G(z)) \approx 0$, as early in training),
$G$ gets almost no push, and only the few samples $D$ is least sure about learn. The non-saturating loss
$-\log D(G(z))$ has the same fixed point, but its slope is $-(1 - D(G(z))) \approx -1$ there: $G$ is pushed
hardest exactly when it is worst. The comparison starts $G$ off the data with a confident $D$ and plots the push
each loss gives $G$'s samples. Adam rescales each step by the recent gradient size, which hides much of the
difference in how far $G$ moves; SGD, the paper's optimiser, shows it.
"""


# ----------------------------------------------------------------------------- state


def target_controls() -> lab1d.Target:
    with st.expander("Target density p_data", expanded=False, icon=":material/stacked_line_chart:"):
        n = int(st.number_input("Number of modes", 1, lab1d.MAX_MODES, 2, key="lab1d_modes"))
        means, sds = [], []
        for i in range(n):
            a, b = st.columns(2)
            means.append(a.slider(f"Mode {i + 1}: position", -lab1d.POSITION_LIMIT, lab1d.POSITION_LIMIT, DEFAULT_MEANS[i], 0.1,
                                  key=f"lab1d_mean_{i}"))
            sds.append(b.slider(f"Mode {i + 1}: width (sd)", lab1d.SD_RANGE[0], lab1d.SD_RANGE[1], DEFAULT_SD, 0.05,
                                key=f"lab1d_sd_{i}"))
    return lab1d.Target(tuple(means), tuple(sds))


def training_controls(view: str) -> tuple[lab1d.LabSettings, int]:
    """The settings of this view (each view keeps its own widgets) and the G steps per frame."""
    d = DEFAULTS[view]
    v = "single" if view == SINGLE else "pair"
    if view == SINGLE:
        loss = st.radio("G loss", lab1d.G_LOSSES, key="lab1d_loss", help="Changes at once, also while training.",
                        format_func=lambda n: {"non-saturating": "non-saturating: −log D(G(z))", "minimax": "minimax: log(1 − D(G(z)))"}[n])
    else:
        loss = "non-saturating"  # each side of the comparison has its own
    optimizer = st.radio("Optimiser", ("adam", "sgd"), index=("adam", "sgd").index(d["optimizer"]), key=f"lab1d_{v}_opt", horizontal=True,
                         format_func=lambda o: {"adam": "Adam (β1 0.5)", "sgd": "SGD (momentum 0.5)"}[o])
    k = st.slider("k: D steps per G step", 1, 20, d["k"], key=f"lab1d_{v}_k")
    lr_d0, lr_g0 = d["lr"][optimizer]
    a, b = st.columns(2)
    lr_d = a.number_input("D learning rate", 1e-5, 1.0, lr_d0, format="%.5f", step=lr_d0 / 2, key=f"lab1d_{v}_{optimizer}_lr_d")
    lr_g = b.number_input("G learning rate", 1e-5, 1.0, lr_g0, format="%.5f", step=lr_g0 / 2, key=f"lab1d_{v}_{optimizer}_lr_g")
    speed = st.slider("G steps per frame", 1, 50, d["speed"], key=f"lab1d_{v}_speed",
                      help=f"Each frame trains up to this many rounds of k D steps and one G step (at most {TRAIN_BUDGET_S:.2f} s of "
                           "training, so the picture keeps refreshing five times a second).")
    seed = int(st.number_input("Seed", 0, 2**31 - 1, 0, key="lab1d_seed", help="The initial weights and the noise; applies on Reset."))
    return lab1d.LabSettings(g_loss=loss, k=k, lr_d=float(lr_d), lr_g=float(lr_g), seed=seed, optimizer=optimizer), speed


def current(view: str, target: lab1d.Target, lab_settings: lab1d.LabSettings, head_start: int):
    """The session's lab (or comparison), kept across reruns; settings and the target
    apply to it in place, a new seed or head start on Reset."""
    slot = "_lab1d_single" if view == SINGLE else "_lab1d_pair"
    held = ss.get(slot)
    if held is None:
        with st.spinner("Building the models…"):
            if view == SINGLE:
                held = lab1d.Lab1D(target, lab_settings)
                held.snapshot()
            else:
                held = lab1d.Comparison.start(target, lab_settings, head_start=head_start)
        ss[slot] = held
        frame_rate("lab1d", TICKS, restart=True)
    held.set_target(target)
    if view == SINGLE:
        held.configure(g_loss=lab_settings.g_loss, k=lab_settings.k, lr_d=lab_settings.lr_d, lr_g=lab_settings.lr_g,
                       optimizer=lab_settings.optimizer)
    else:
        held.configure(k=lab_settings.k, lr_d=lab_settings.lr_d, lr_g=lab_settings.lr_g, optimizer=lab_settings.optimizer)
    return held


# ---------------------------------------------------------------------------- figures
#
# Each view is ONE plotly chart with hand-placed axes: in the browser every chart
# costs a fixed redraw per frame. Traces and layout are plain dicts, wrapped without
# validation (pages/common/streamlit_internals.py says why).

TITLE = dict(font=dict(size=11), standoff=4)


def _axis(n: int) -> str:
    return "" if n == 1 else str(n)


def line(x, y, name: str, xaxis: str, yaxis: str, **props) -> dict:
    return dict(type="scatter", mode="lines", x=x, y=y, name=name, xaxis=xaxis, yaxis=yaxis, **props)


def chart(traces: list[dict], layout: dict) -> go.Figure:
    return unvalidated_figure(dict(data=traces, layout=layout))


def figure_one(snap: lab1d.Snapshot, ax: tuple[int, int], domain: tuple[float, float]) -> tuple[list, dict]:
    """Goodfellow et al.'s Figure 1 on x-axis ax[0] and y-axes ax[1] .. ax[1] + 2:
    densities (left scale) and D, D* (right scale, 0 to 1) above, the z -> x map below."""
    x = snap.x
    xa, ya, yd, yz = ("x" + _axis(ax[0]), "y" + _axis(ax[1]), "y" + _axis(ax[1] + 1), "y" + _axis(ax[1] + 2))
    top = density_top(snap)
    map_x, map_y = z_lines(snap)
    traces = [
        line(x, snap.p_data, "p_data", xa, ya, line=dict(color=DATA, dash="dot", width=2.5), hoverinfo="skip"),
        line(x, snap.p_g, "p_g (G's samples)", xa, ya, line=dict(color=GEN, width=2), fill="tozeroy",
             fillcolor="rgba(33,195,84,0.12)", hoverinfo="skip"),
        line(x, snap.d, "D(x)", xa, yd, line=dict(color=DISC, dash="dash", width=2.5), hoverinfo="skip"),
        line(x, snap.d_star, "D*(x) = p_data / (p_data + p_g)", xa, yd, line=dict(color=OPT, width=1.5), opacity=0.8, hoverinfo="skip"),
        line(map_x, map_y, "z → x = G(z)", xa, yz,
             line=dict(color="#888888", width=1), hoverinfo="skip"),
    ]
    layout = {
        "xaxis" + xa[1:]: dict(domain=list(domain), range=[x[0], x[-1]], anchor=yz, showgrid=False, zeroline=False,
                               title=dict(text="x", **TITLE)),
        "yaxis" + ya[1:]: dict(domain=[0.3, 1.0], range=[0, top], anchor=xa, showgrid=False, title=dict(text="density", **TITLE)),
        "yaxis" + yd[1:]: dict(domain=[0.3, 1.0], range=[0, 1.02], anchor=xa, overlaying=ya, side="right", gridcolor="#eeeeee",
                               tickvals=[0, 0.5, 1], title=dict(text="D", **TITLE)),
        "yaxis" + yz[1:]: dict(domain=[0.0, 0.2], range=[-0.15, 1.15], anchor=xa, tickvals=[0, 1], ticktext=["z", "x"],
                               showgrid=False, zeroline=False),
    }
    return traces, layout


def single_figure(snap: lab1d.Snapshot, history: list[dict], height: int = 560) -> go.Figure:
    """Figure 1 on the left; on the right, over D steps: V(G, D) against C(G) = max_D V,
    and below the JSD (between 0 and log 2) with D's mean distance from D* (between 0 and 1). D steps,
    not G steps: they count every step, also those of D trained alone while G is frozen
    (the "make p_g = p_data" lesson), where G steps stay 0 and the charts stayed empty."""
    traces, layout = figure_one(snap, (1, 1), (0.0, 0.56))
    rows = thin(history)
    g = [r["d_steps"] for r in rows]
    span = steady_span(g[-1])
    traces += [
        line(g, [r["value_at_optimum"] for r in rows], "C(G) = −log 4 + 2·JSD: V at D = D*", "x2", "y4", line=dict(color=OPT)),
        line(g, [r["value"] for r in rows], "V(G, D) with the current D", "x2", "y4", line=dict(color=DISC)),
        line(span, [-LOG4, -LOG4], "−log 4 (p_g = p_data)", "x2", "y4", line=dict(color="#999999", dash="dot"), hoverinfo="skip"),
        line(g, [r["jsd"] for r in rows], "JSD(p_data ‖ p_g)", "x2", "y5", line=dict(color=GEN)),
        line(g, [r["gap_to_optimum"] for r in rows], "mean |D − D*|", "x2", "y5", line=dict(color=GAP)),
    ]
    layout.update(  # both panels on one x-axis, drawn under the lower one
        xaxis2=dict(domain=[0.68, 1.0], anchor="y5", range=span, title=dict(text="D steps (k per G step)", **TITLE)),
        yaxis4=dict(domain=[0.45, 1.0], anchor="x2", range=list(value_range(rows)), title=dict(text="value", **TITLE)),
        yaxis5=dict(domain=[0.0, 0.4], anchor="x2", range=[0, 1.02], title=dict(text="JSD, |D − D*|", **TITLE)),
    )
    return chart(traces, dict(height=height, margin=dict(l=10, r=10, t=10, b=10), uirevision="keep", plot_bgcolor="white",
                              showlegend=False, **layout))


def pair_figure(snaps: dict[str, lab1d.Snapshot], histories: dict[str, list[dict]], height: int = 760) -> go.Figure:
    """Figure 1 for each G loss side by side above; below, for both over G steps: the
    push each loss gives G's samples (log scale), the norm of G's weight gradient and
    the JSD to the data."""
    traces, layout, notes = [], {}, []
    for i, (name, snap) in enumerate(snaps.items()):
        domain = (0.0, 0.43) if i == 0 else (0.57, 1.0)
        t, lay = figure_one(snap, (1 + i, 1 + 3 * i), domain)
        traces += t
        for key, axis in lay.items():  # Figure 1 in the top 55%
            if key.startswith("yaxis"):
                lo, hi = axis["domain"]
                axis["domain"] = [0.45 + 0.55 * lo, 0.45 + 0.55 * hi]
        layout.update(lay)
        notes.append(dict(text=f"<b>{name}</b> G loss", x=sum(domain) / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
                          yanchor="bottom", showarrow=False, font=dict(size=13, color=LOSS_COLOURS[name])))
    # Fixed ranges (log axes in powers of ten): the axes stay put from frame to frame.
    panels = [("push", "push on G's samples |∂loss/∂G(z)|", "log", [-5, 2]), ("g_grad_norm", "‖∇ G's weights‖", "log", [-3, 3]),
              ("jsd", "JSD(p_data ‖ p_g)", "linear", [0, math.log(2) * 1.02])]
    span = steady_span(max(rows[-1]["g_steps"] for rows in histories.values()))
    for j, (key, label, scale, y_range) in enumerate(panels):
        xa, ya = "x" + _axis(3 + j), "y" + _axis(7 + j)
        lo = j * 0.35
        layout["xaxis" + xa[1:]] = dict(domain=[lo, lo + 0.3], anchor=ya, range=span, title=dict(text="G steps", **TITLE))
        layout["yaxis" + ya[1:]] = dict(domain=[0.0, 0.3], anchor=xa, type=scale, range=y_range, exponentformat="power",
                                        title=dict(text=label, **TITLE))
        for name, rows in histories.items():
            rows = thin(rows)
            values = [r[key] for r in rows]
            if scale == "log":
                values = [v if v > 0 else None for v in values]  # log axes: a zero or a NaN leaves a gap
            traces.append(line([r["g_steps"] for r in rows], values, f"{name} G loss", xa, ya, line=dict(color=LOSS_COLOURS[name])))
    return chart(traces, dict(height=height, margin=dict(l=10, r=10, t=30, b=10), uirevision="keep", plot_bgcolor="white",
                              annotations=notes, showlegend=False, **layout))


# ------------------------------------------------------------------------- the frames


def live_view(thing, speed: int) -> None:
    """The live fragment (pages/common/lab.py runs its frames). While playing, the chart is
    a picture (gan_core.lab1d_image), which the browser updates in place; a changed
    Plotly figure is rebuilt from scratch and the chart was blank between frames."""
    labs = thing.labs
    first = next(iter(labs.values()))
    playing = ss.get("lab1d_playing", False)
    header, chart, caption = st.empty(), st.empty(), st.empty()
    rate = frame_rate("lab1d", TICKS)

    def frame() -> None:
        start = time.perf_counter()
        if playing:
            if settings.demo and first.g_steps >= DEMO_MAX_G_STEPS:
                ss.lab1d_playing = False
                st.rerun()
            thing.train(speed, budget_s=TRAIN_BUDGET_S)
            if thing.error:  # diverged: stop playing; the page says why
                ss.lab1d_playing = False
                st.rerun()
        draw_frame(labs, first, playing, header, chart, caption)
        if playing:
            rate.tick(time.perf_counter() - start)

    play(frame, playing)


def draw_frame(labs, first, playing: bool, header, chart, caption) -> None:
    snaps = {name: lab.snapshot() for name, lab in labs.items()}
    rate = rate_line(frame_rate("lab1d", TICKS), "work") if playing else ""
    frozen = " · G frozen: D trains alone" if first.freeze_g else ""
    if settings.demo and first.g_steps >= DEMO_MAX_G_STEPS:
        frozen += f" · this shared demo stops a lab at {DEMO_MAX_G_STEPS:,} G steps: press Reset to start again"
    status = "stopped" if any(lab.error for lab in labs.values()) else "training" if playing else "paused"
    header.markdown(f"**G step {first.g_steps:,}** · D steps {first.d_steps:,} · {status}{frozen}"
                    + (f" · {rate}" if rate else ""))
    histories = {name: lab.history for name, lab in labs.items()}
    if playing:  # a picture, updated in place (gan_core.lab1d_image says why)
        view = "single" if len(labs) == 1 else "pair"
        painter = ss.get(f"_lab1d_painter_{view}")
        if painter is None:
            painter = ss[f"_lab1d_painter_{view}"] = Painter(view)
        chart.image(painter.draw(snaps, histories), output_format="JPEG", width="stretch")
    elif len(labs) == 1:  # paused: Plotly, which zooms and hovers
        chart.plotly_chart(single_figure(next(iter(snaps.values())), first.history), config=FIG_CONFIG)
    else:
        chart.plotly_chart(pair_figure(snaps, histories), config=FIG_CONFIG)
    caption.caption(lab1d.summary(next(iter(snaps.values()))) if len(labs) == 1 else lab1d.pair_summary(snaps))


# ------------------------------------------------------------------------------ page

st.title("Lab: GAN theory in 1-D")
st.markdown("A small GAN learns a density you choose, drawn as in Figure 1 of Goodfellow et al. (2014): watch $D$ chase the "
            "optimal $D^*$, $V(G, D)$ approach its maximum $C(G) = -\\log 4 + 2\\,JSD$, and $G$ lower that towards $-\\log 4$. "
            "Press **Play**; change the loss, $k$ or the learning rates while it runs.")
with st.expander("What D* is, why D tends to 1/2, what G minimises, and why the minimax loss stalls", expanded=True):
    st.markdown(EXPLAIN)

view = st.radio("View", [SINGLE, PAIR], horizontal=True, key="lab1d_view", label_visibility="collapsed")
bar = st.container()  # the buttons, filled in once the lab exists
controls, board = st.columns([1, 3], gap="medium")
with controls:
    try:
        target = target_controls()
        with st.expander("Training", expanded=True, icon=":material/tune:"):
            lab_settings, speed = training_controls(view)
            head_start = 300
            if view == PAIR:
                head_start = st.slider("D's head start (D steps before G moves)", 0, lab1d.MAX_HEAD_START, 300, 50,
                                       key="lab1d_head_start",
                                       help="G starts off the data and D trains this long against it, so D is confident, as early "
                                            "in real training. Applies on Reset.")
        thing = current(view, target, lab_settings, head_start)
    except GanError as e:
        st.error(plain(str(e)))
        st.stop()

ss.setdefault("lab1d_playing", False)
labs = thing.labs
first = next(iter(labs.values()))
if thing.error:  # diverged (the engine stops it): nothing trains until Reset
    ss.lab1d_playing = False


# Each callback acts last (pages/common/lab.click_guard says why).
@once
def on_play() -> None:
    frame_rate("lab1d", TICKS, restart=True)
    ss.lab1d_playing = not ss.lab1d_playing


@once
def on_step() -> None:
    ss.lab1d_playing = False
    thing.single_step()


@once
def on_reset() -> None:
    ss.lab1d_playing = False
    ss.pop("_lab1d_single" if view == SINGLE else "_lab1d_pair", None)


@once
def on_match() -> None:
    ss.lab1d_playing = False
    ss.lab1d_freeze = True
    with st.spinner("Fitting G to p_data…"):
        first.match_target()
    first.freeze_g = True


def on_freeze() -> None:
    first.freeze_g = ss.lab1d_freeze


with bar:
    playing = ss.lab1d_playing
    b1, b2, b3, b4, b5 = st.columns([1, 1, 1, 1.6, 1.6], vertical_alignment="center")
    stopped = thing.error is not None
    b1.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:", key="lab1d_play",
              on_click=on_play, type="primary", disabled=stopped, width="stretch")
    b2.button("Step", icon=":material/skip_next:", key="lab1d_step", on_click=on_step, disabled=stopped, width="stretch",
              help="One D step, then one G step, whatever k (Play trains k D steps per G step), to watch each "
                   "update on its own; one D step alone while G is frozen.")
    b3.button("Reset", icon=":material/restart_alt:", key="lab1d_reset", on_click=on_reset, width="stretch",
              help="New models from the seed (and, in the comparison, a new head start).")
    if view == SINGLE:
        ss.lab1d_freeze = first.freeze_g
        b4.toggle("Freeze G (train D alone)", key="lab1d_freeze", on_change=on_freeze,
                  help="Hold G fixed and train only D: D approaches D*, and V(G, D) rises to C(G).")
        b5.button("Make p_g = p_data", icon=":material/join_inner:", key="lab1d_match", on_click=on_match, disabled=stopped,
                  width="stretch",
                  help="Fit G straight to the data (by regression, not by the game) and freeze it: with D trained alone, "
                       "D(x) drifts to 1/2 wherever the data is.")
    else:
        b4.caption("Both sides start from the same G, placed off the data, and the same head-started D, "
                   "with the settings on the left; each keeps its own G loss.")

with board:
    if thing.error:
        st.error(plain(thing.error))
    live(live_view, ss.lab1d_playing, thing, speed)
    st.caption(FIGURE_ONE_KEY)
    if view == SINGLE:
        st.caption("Right: " + THEORY_KEY)
    else:
        st.caption("Below: " + PAIR_KEY + ". Push: the mean size of d loss / d x at G's samples, the signal every gradient "
                   "G's weights receive is made of; ‖∇ G's weights‖: the norm of that gradient.")
