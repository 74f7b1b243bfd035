"""The training charts pages draw from metrics rows: losses and D's outputs (or a
critic's scores) against the step, thinned for the browser. Not a page itself."""

from __future__ import annotations

import plotly.graph_objects as go

from gan_core.augment import ADA_TARGET

MAX_POINTS = 2000  # points per curve sent to the browser; longer runs are thinned evenly


def thin(n: int) -> list[int]:
    """Indices of at most MAX_POINTS evenly spread points out of n, keeping the last:
    a long run's curve stays light for the browser and looks the same."""
    if n <= MAX_POINTS:
        return list(range(n))
    every = -(-n // MAX_POINTS)
    return list(range(0, n, every)) + ([n - 1] if (n - 1) % every else [])


def _thin(rows: list[dict]) -> list[dict]:
    return [rows[i] for i in thin(len(rows))]


def _figure(rows: list[dict], series: list[tuple[str, str]], title: str, yaxis: str, guide: float | None = None) -> go.Figure:
    rows = _thin(rows)
    steps = [r["step"] for r in rows]
    fig = go.Figure()
    for key, name in series:
        if rows and key in rows[0]:
            fig.add_trace(go.Scatter(x=steps, y=[r.get(key) for r in rows], name=name,
                                     mode="lines" if len(rows) > 30 else "lines+markers"))  # a lone point still shows
    if guide is not None:
        fig.add_hline(y=guide, line_dash="dot", line_color="grey", opacity=0.6)
    fig.update_layout(
        # The legend has its own line under the title: beside it, a long title ran into it.
        title=dict(text=title, font=dict(size=14), y=1.0, yref="container", yanchor="top", pad=dict(t=8)),
        height=300, margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
        xaxis_title="step", yaxis_title=yaxis, uirevision="keep",  # keep zoom across refreshes
    )
    return fig


def loss_figure(rows: list[dict], wasserstein: bool = False) -> go.Figure:
    d = "critic" if wasserstein else "discriminator"
    return _figure(rows, [("loss_d", f"{d} (loss_d)"), ("loss_g", "generator (loss_g)")], "Losses", "loss")


def discriminator_figure(rows: list[dict], wasserstein: bool) -> go.Figure:
    if wasserstein:
        return _figure(rows, [("critic_real", "critic on real"), ("critic_fake", "critic on fake"),
                              ("wasserstein", "Wasserstein estimate")], "Critic", "score")
    return _figure(rows, [("d_real", "D(x) real"), ("d_fake", "D(G(z)) fake")],
                   "Discriminator outputs (0.5 = can't tell)", "probability", guide=0.5)


def augment_figure(rows: list[dict]) -> go.Figure:
    """The augmentation's strength p (ADA's, or 1 for DiffAugment) and the overfitting
    signal r_t it follows, with ADA's target for r_t (gan_core.augment.ADA_TARGET)."""
    return _figure(rows, [("augment_p", "p: augmentation strength"), ("r_t", "r_t = E[sign D(x)] on real")],
                   "Augmentation p and r_t (dotted: r_t's target)", "value", guide=ADA_TARGET)
