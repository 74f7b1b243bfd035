"""Conditional runs on a page: what the rows of their sample grids are, and the
independent judge's figures (gan_core.judge) on request. Not a page itself."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from pages.common.shared import plain


JUDGE_SAMPLES = 1000  # generated samples the judge reads (as `python -m gan_core evaluate`)
JUDGE_NOTE = ("A small classifier trained by the workbench on the real training images (never the GAN's own "
              "discriminator, which learned alongside the generator) reads {n:,} generated samples. Read its figures "
              "against what real images score: the judge's accuracy on held-out real images, and the Fréchet distance "
              "between two halves of the real images.")


def is_conditional(cfg) -> bool:
    """Whether ``cfg``'s recipe generates what it is asked for (cgan)."""
    from gan_core.errors import GanError
    from gan_core.recipes import RECIPES

    try:
        return bool(RECIPES.get(cfg.recipe).conditional)
    except GanError:
        return False


def _names(names: list[str], most: int = 12) -> str:
    return ", ".join(names[:most]) + (f" … ({len(names)} in all)" if len(names) > most else "")


def condition_rows_note(cfg, run_dir) -> str | None:
    """What the rows of a conditional run's saved sample grid are, for its caption
    (the grid is objectives.ConditionalObjective.grid_conditions), or None for other
    recipes. Names come from the run's checkpoint once there is one."""
    if not is_conditional(cfg):
        return None
    from gan_core import checkpoints
    from gan_core.data.base import SOURCES
    from gan_core.errors import GanError

    classes = attrs = None
    try:
        _, info, _ = checkpoints.read_header(Path(run_dir) / "checkpoints" / checkpoints.WEIGHTS)
        classes, attrs = info.class_names, info.attr_names
    except GanError:  # no checkpoint yet (the first is saved after the first grids)
        pass
    if not attrs and not classes and cfg.data.attributes:
        attrs = [a.strip() for a in cfg.data.attributes.split(",") if a.strip()]
    try:
        by_attributes = bool(attrs) or (not classes and "attrs" in SOURCES.get(cfg.data.name).tags)
    except GanError:
        by_attributes = False
    same = "the same noise down each column"
    if not by_attributes:
        return f"one row per class, top to bottom: {_names(classes)}; {same}" if classes else f"one row per class; {same}"
    if not attrs:
        return f"top row with no attribute on, then one row per attribute on alone; {same}"
    shown = f"the first 7 of {len(attrs)}: {', '.join(attrs[:7])}" if len(attrs) > 7 else ", ".join(attrs)
    return f"top row with no attribute on, then one row per attribute on alone ({shown}); {same}"


@st.cache_data(max_entries=8, show_spinner=False)
def _judge(path: str, mtime: float, _data_cfg, data_key: str, cache_dir: str) -> dict:
    from gan_core import inference, judge

    return judge.evaluate(inference.cached_generator(path), _data_cfg, n=JUDGE_SAMPLES, cache_dir=cache_dir).to_dict()


def judge_figure(fig: dict) -> go.Figure:
    """The judge's accuracy per class or attribute, with its accuracy on real images as a dotted line."""
    names = [str(k) for k in fig["per_condition"]]
    values = [100 * v for v in fig["per_condition"].values()]
    each = "class" if fig["kind"] == "classes" else "attribute"
    out = go.Figure(go.Bar(x=names, y=values, marker_color="#4c78a8", hovertemplate=f"{each} %{{x}}: %{{y:.1f}}%<extra></extra>"))
    out.add_hline(y=100 * fig["real_accuracy"], line_dash="dot", line_color="grey")
    out.update_layout(title=dict(text=f"Judged as requested, per {each} (dotted: the judge on real images)", font=dict(size=14)),
                      height=260,
                      margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(range=[0, 105], ticksuffix="%"),
                      xaxis=dict(type="category"), showlegend=False)
    return out


def show_judge(fig: dict, elsewhere: tuple[str, str] | None = None) -> None:
    """The figures of gan_core.judge.Evaluation.to_dict(), each beside the value real images get;
    ``elsewhere``: (figure, by whom) of another reading of the same model (catalog.SHIPPED_ACCURACY),
    said beside this one so two accuracies for one model do not look like a contradiction."""
    what = "class" if fig["kind"] == "classes" else "attributes"
    c1, c2 = st.columns(2)
    c1.metric("Judged as requested", f"{fig['accuracy']:.1%}", delta=f"real images: {fig['real_accuracy']:.1%}",
              delta_color="off", delta_arrow="off", border=True,
              help=(f"Share of the {fig['n']:,} samples the judge reads as the {what} asked for (higher is better). "
                    if fig["kind"] == "classes" else
                    f"Balanced accuracy over {fig['n']:,} samples, averaged over the attributes: for each, the mean of its hit "
                    "rate where it was asked on and where it was asked off, so a rare attribute G never draws scores 50%, "
                    "not its share of samples without it (higher is better). ")
                   + "Below: the judge's own accuracy on held-out real images, the mark to read it against.")
    c2.metric("Fréchet distance to real images", f"{fig['frechet']:.2f}", delta=f"real vs real: {fig['frechet_floor']:.2f}",
              delta_color="off", delta_arrow="off", border=True,
              help="Between generated and real images in the judge's features (lower is closer). "
                   "Below: the same distance between two halves of the real images, the floor.")
    if elsewhere is not None:
        figure, by = elsewhere
        st.caption(f"The {figure} given for this model elsewhere is read by {by}, not by this judge: two classifiers err on "
                   f"different samples, so read each figure against its own reader's score on real images (this judge's: "
                   f"{fig['real_accuracy']:.1%}).")
    if fig["accuracy"] > fig["real_accuracy"]:
        st.caption(f"Generated samples are read as asked more often than real images ({fig['accuracy']:.1%} against "
                   f"{fig['real_accuracy']:.1%}): a conditional generator tends to draw the most typical form of each "
                   f"{'class' if fig['kind'] == 'classes' else 'attribute'}, which is easier to read than real data's "
                   "odd cases; the Fréchet distance beside it shows how far they are from real images' variety.")
    if fig["frechet"] < fig["frechet_floor"]:
        st.caption(f"The Fréchet distance ({fig['frechet']:.2f}) is below its real-vs-real floor ({fig['frechet_floor']:.2f}): "
                   f"the generated samples are as close to these real images as the other half of the real images is, and "
                   f"the two figures differ by the chance of drawing {fig['n']:,} images, so read it as at the floor, "
                   "not better than real.")
    st.plotly_chart(judge_figure(fig), config={"displaylogo": False, "displayModeBar": False})
    if fig.get("note"):  # the figures are complete; the judge could not be cached (a full disk)
        st.caption(plain(fig["note"]))


def judge_section(entry, cfg, settings, key: str) -> None:
    """Whether a conditional checkpoint (a catalog.CheckpointEntry trained with ``cfg``)
    makes what it is asked for, scored by gan_core.judge when the user switches it on.
    Only training data the server vouches for (memorisation.comparison_data) is read."""
    from gan_core import memorisation
    from gan_core.errors import GanError

    st.caption(JUDGE_NOTE.format(n=JUDGE_SAMPLES))
    try:
        data_cfg = memorisation.comparison_data(entry, cfg, settings)
    except GanError as e:
        st.info(f"The judge learns from the real training images, so it cannot score this one. {e}", icon=":material/info:")
        return
    if not st.toggle("Score this checkpoint", key=key,
                     help="Trains the judge on the real images the first time (seconds on a CPU; then cached) "
                          f"and reads {JUDGE_SAMPLES:,} generated samples."):
        return
    try:
        from gan_core import judge

        waiting = ("Another checkpoint is being judged on this server (one at a time); yours follows, within "
                   f"{judge.JUDGE_WAIT_S / 60:.0f} minutes…"
                   if judge.busy() else f"Judging {JUDGE_SAMPLES:,} samples…")
        with st.spinner(waiting):
            fig = _judge(str(entry.path), entry.mtime, data_cfg, repr(data_cfg), str(Path(settings.runs_dir) / "judges"))
    except GanError as e:
        st.warning(plain(str(e)))
        return
    from gan_core.catalog import SHIPPED_ACCURACY

    show_judge(fig, SHIPPED_ACCURACY.get(entry.path.name) if getattr(entry, "shipped", False) else None)
