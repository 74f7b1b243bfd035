"""The Runs page's curves: several runs' metrics overlaid (gan_core.curves prepares
them), with how to read them beside. Not a page: app.py lists the pages it shows."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from gan_core import curves, experiments, runs
from gan_core.config import Config
from gan_core.curves import COLLAPSE_NOTE, GROUPS, LABELS, NOTES, WASSERSTEIN_GROUP
from gan_core.errors import GanError
from pages.common.charts import thin
from pages.common.keys import Runs


PALETTE = plotly.colors.qualitative.Plotly


def short_name(info: runs.RunInfo) -> str:
    """The legend / caption name of a run: its experiment variant if it has one."""
    exp = experiments.read_experiment(info.path)
    if exp and exp.get("variant_label"):
        return f"{exp['variant_label']} · {info.id[-4:]}"
    return f"{info.recipe} on {info.data} · {datetime.fromtimestamp(info.created):%H:%M} · {info.id[-4:]}"


@st.cache_data(max_entries=200, show_spinner=False)
def _metrics_frame(run_dir: str, size: int, mtime_ns: int) -> pd.DataFrame:
    return pd.DataFrame(curves.with_loss_d_mean(runs.read_metrics_thinned(run_dir)))  # bounded, whatever the run's length


def metrics_of(info: runs.RunInfo) -> pd.DataFrame:
    """The run's metrics; re-read only when metrics.jsonl has changed."""
    try:
        stat = (info.path / "metrics.jsonl").stat()
    except OSError:  # missing, or a link that loops: no curves
        return pd.DataFrame()
    return _metrics_frame(str(info.path), stat.st_size, stat.st_mtime_ns)


def run_config(info: runs.RunInfo) -> Config | None:
    try:
        return runs.read_config(info.path)
    except GanError:
        return None


def is_wasserstein(info: runs.RunInfo) -> bool:
    cfg = run_config(info)
    return cfg is not None and cfg.loss.wasserstein


def article_style(info: runs.RunInfo) -> bool:
    """A run of the Keras article's optimiser comparison, or one whose D learns its way (on half-batches)."""
    cfg = run_config(info)
    exp = experiments.read_experiment(info.path) or {}
    return exp.get("kind") == experiments.KIND_OPTIMIZERS or (cfg is not None and cfg.loss.d_update == "halves")


def available_groups(selected: list[runs.RunInfo], frames: dict[str, pd.DataFrame]) -> list[str]:
    """Metric groups that at least one selected run has (or will have: a WGAN run
    that has not logged yet still offers the Wasserstein group)."""
    columns = set().union(*(set(f.columns) for f in frames.values())) if frames else set()
    return curves.available_groups(columns, [is_wasserstein(r) for r in selected], [article_style(r) for r in selected])


def curves_figure(selected, frames, colours, metrics, smoothing, log_y, x_key, revision) -> go.Figure:
    metrics = [m for m in metrics if any(m in f.columns and f[m].notna().any() for f in frames.values())]
    cols = 1 if len(metrics) == 1 else 2
    rows = max(1, math.ceil(len(metrics) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[LABELS[m] for m in metrics],
                        horizontal_spacing=0.07, vertical_spacing=0.16 if rows > 1 else 0.1)
    longest = max((f["elapsed"].max() for f in frames.values() if "elapsed" in f.columns and len(f)), default=0)
    scale, x_title = curves.x_axis(x_key, longest)
    standard = [r for r in selected if not is_wasserstein(r)]
    in_legend: set[str] = set()
    equilibrium: list[dict] = []
    for i, metric in enumerate(metrics):
        row, col = i // cols + 1, i % cols + 1
        for info in selected:
            frame = frames.get(info.id)
            if frame is None or metric not in frame.columns:
                continue
            xs = frame.get(x_key)  # None: no row has it (metrics written without elapsed); curves leaves them out
            x, y, smooth = curves.curve(None if xs is None else xs.to_numpy(float), frame[metric].to_numpy(float),
                                        smoothing, scale)
            if not len(x):
                continue
            keep = thin(len(x))
            x, y, smooth = x[keep], y[keep], smooth[keep]
            name, colour = short_name(info), colours[info.id]
            if smoothing > 0:  # the raw curve, faint, behind the smoothed one (as TensorBoard does)
                fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=colour, width=1), opacity=0.25,
                                         legendgroup=info.id, showlegend=False, hoverinfo="skip"), row=row, col=col)
            fig.add_trace(go.Scatter(
                x=x, y=smooth, mode="lines", name=name, line=dict(color=colour, width=2),
                legendgroup=info.id, showlegend=info.id not in in_legend,
                hovertemplate=f"{name}<br>{x_title} %{{x:.4g}}<br>{metric} %{{y:.4g}}<extra></extra>",
            ), row=row, col=col)
            in_legend.add(info.id)
        level = curves.equilibrium(metric, [(c := run_config(r)) and c.loss.g_loss for r in standard])
        if level is not None:
            axis = "" if i == 0 else str(i + 1)  # (a plain shape: add_hline costs more than all the curves)
            equilibrium.append(dict(type="line", xref=f"x{axis} domain", x0=0, x1=1, yref=f"y{axis}", y0=level, y1=level,
                                    line=dict(dash="dot", color="grey", width=1.5), opacity=0.8))
    for col in range(1, cols + 1):  # the x title under the lowest chart of each column
        last_row = max((i // cols + 1 for i in range(len(metrics)) if i % cols + 1 == col), default=rows)
        fig.update_xaxes(title_text=x_title, row=last_row, col=col)
    if log_y:
        fig.update_yaxes(type="log")
    fig.update_layout(
        height=280 * rows + 90, margin=dict(l=10, r=10, t=70, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0 + 0.22 / rows, xanchor="left", x=0),
        hovermode="closest", uirevision=revision,  # keep the user's zoom across live refreshes
        shapes=equilibrium,
    )
    fig.update_annotations(font_size=13)
    return fig


def curves_section(selected: list[runs.RunInfo]) -> None:
    frames = {r.id: metrics_of(r) for r in selected}
    groups = available_groups(selected, frames)
    pref = st.session_state.get(Runs.GROUP_PREF, "Losses")
    c1, c2, c3, c4 = st.columns([3.8, 1.6, 0.9, 1.5], vertical_alignment="bottom")
    group = c1.radio("Metrics", groups, index=groups.index(pref) if pref in groups else 0, horizontal=True,
                     key=Runs.group(groups))
    st.session_state[Runs.GROUP_PREF] = group
    smoothing = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key=Runs.SMOOTHING,
                          help="Exponential moving average, as in TensorBoard: 0 = raw values. The raw curve stays faint behind.")
    log_y = c3.toggle("Log y", key=Runs.LOG_Y)
    x_key = c4.radio("x axis", ["step", "elapsed"], horizontal=True, key=Runs.X_AXIS,
                     format_func=lambda k: "Step" if k == "step" else "Wall time")
    colours = {r.id: PALETTE[i % len(PALETTE)] for i, r in enumerate(selected)}
    ids = tuple(r.id for r in selected)

    chart_col, note_col = st.columns([3, 1.15])
    with note_col:
        with st.expander("How to read these curves", expanded=True, icon=":material/help:"):
            st.markdown(NOTES[group])
            st.markdown(COLLAPSE_NOTE)

    def chart() -> None:
        fresh = {r.id: r for r in (runs.run_info(r.path) for r in selected if r.path.is_dir())}
        now_selected = [fresh[i] for i in ids if i in fresh]
        now_frames = {r.id: metrics_of(r) for r in now_selected}
        if not any(len(f) for f in now_frames.values()):
            st.info("No metrics yet: the first line is written after the first logging step.")
            return
        fig = curves_figure(now_selected, now_frames, colours, GROUPS[group], smoothing, log_y, x_key,
                            revision=f"{group}|{x_key}|{log_y}|{','.join(ids)}")
        st.plotly_chart(fig, width="stretch", config={"displaylogo": False})
        if x_key == "elapsed" and any(len(f) and ("elapsed" not in f.columns or f["elapsed"].isna().any())
                                      for f in now_frames.values()):
            st.caption("Rows logged without a wall time are left out of this axis; choose Step to see every row.")
        if log_y and group == WASSERSTEIN_GROUP:
            st.caption("A log axis leaves out values at or below zero, which the Wasserstein estimate can take.")

    with chart_col:
        live = any(r.active for r in selected)
        st.fragment(chart, run_every=5 if live else None)()
