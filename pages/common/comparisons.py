"""The Runs page's one-click comparisons (gan_core.experiments): the optimisers of the
Keras article, minimax vs non-saturating G loss, GAN vs WGAN vs WGAN-GP, with their
expected duration before they start. Not a page: app.py lists the pages it shows."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from gan_core import experiments
from gan_core.config import Config
from gan_core.curves import ARTICLE_GROUP
from gan_core.errors import GanError
from gan_core.estimate import about
from gan_core.settings import run_time_limit
from pages.common.keys import Runs
from pages.common.session import visitor
from pages.common.shared import expected_duration, plain


QUICK, FULL = "quick", "full"  # the sizes offered: a few minutes on a 2-core CPU, or the source's own length
# The Length radio's labels never change: Streamlit sends a radio's choice back as its label,
# so a label that changed with the comparison (it once held the steps and duration) came
# back matching neither option, and the next comparison ran at Full's steps with neither
# option selected (helper-32). What each size means is said in a caption beside it.
SIZE_LABELS = {QUICK: "Quick", FULL: "Full (the source's own length)"}


def wanted_steps(c, size: str) -> int:
    """The steps a comparison's size asks for, before a server's cap."""
    return c.quick_steps if size == QUICK else c.steps


def size_steps(c, size: str, max_steps: int) -> int:
    return min(wanted_steps(c, size), max_steps)


def _comparison_chosen(max_steps: int) -> None:
    """A different comparison: its own data, and steps of the chosen size."""
    c = experiments.comparison(st.session_state[Runs.CMP_KIND])
    st.session_state[Runs.CMP_DATA] = c.data[0]
    if st.session_state.get(Runs.CMP_SIZE) not in (QUICK, FULL):
        st.session_state[Runs.CMP_SIZE] = QUICK
    st.session_state[Runs.CMP_STEPS] = size_steps(c, st.session_state[Runs.CMP_SIZE], max_steps)


def _size_chosen(max_steps: int) -> None:
    c = experiments.comparison(st.session_state[Runs.CMP_KIND])
    st.session_state[Runs.CMP_STEPS] = size_steps(c, st.session_state[Runs.CMP_SIZE], max_steps)


def comparison_section(settings) -> None:
    with st.expander("Comparisons in one click: optimisers (the Keras article), G losses, GAN vs WGAN",
                     icon=":material/science:"):
        max_steps = settings.max_steps or 20000
        names = list(experiments.COMPARISONS)
        if st.session_state.get(Runs.CMP_KIND) not in names:
            st.session_state[Runs.CMP_KIND] = names[0]
        kind = st.radio("Comparison", names, key=Runs.CMP_KIND, format_func=lambda n: experiments.COMPARISONS[n].title,
                        on_change=_comparison_chosen, args=(max_steps,))
        c = experiments.COMPARISONS[kind]
        st.markdown(f"{c.question} " + " · ".join(f"**{v.label}**" for v in c.variants) + ".")
        if kind == "optimizers":
            st.caption("The article's own settings (its keras_gan.py): the MLP GAN of recipe `gan`, batch 32, D updated on a "
                       "real half-batch and then on a fake half-batch, 28 × 28 × 3 images, 5,000 steps, the same settings "
                       "for G and D. What differs:")
        st.markdown("\n".join(f"- {note}" for note in c.notes))
        if st.session_state.get(Runs.CMP_DATA) not in c.data:
            st.session_state[Runs.CMP_DATA] = c.data[0]
        if st.session_state.get(Runs.CMP_SIZE) not in (QUICK, FULL):
            st.session_state[Runs.CMP_SIZE] = QUICK  # a newcomer's first comparison: minutes, not an hour
        st.session_state.setdefault(Runs.CMP_STEPS, size_steps(c, st.session_state[Runs.CMP_SIZE], max_steps))
        n = len(c.variants)
        free = experiments.free_slots(settings.runs_dir, settings.max_active_runs)
        side_by_side = free is None or free >= n
        data, seed = st.session_state[Runs.CMP_DATA], int(st.session_state.get(Runs.CMP_SEED, 0))

        def size_text(size: str) -> str:
            steps = size_steps(c, size, max_steps)
            found = expected(kind, experiments.base_config(kind, data, steps, seed), settings, side_by_side)
            took = found[0] if isinstance(found, tuple) else "duration unknown"
            what = "Quick" if size == QUICK else "Full, the article's length" if kind == "optimizers" else "Full"
            wanted = wanted_steps(c, size)
            if steps < wanted:  # a server's cap (a demo's 2,000 steps, or an operator's): say so, or both read the same
                return f"{what}: {wanted:,} steps per run, capped at {steps:,} on this server, {took}"
            return f"{what}: {steps:,} steps per run, {took}"

        st.radio("Length", [QUICK, FULL], key=Runs.CMP_SIZE, format_func=SIZE_LABELS.get, on_change=_size_chosen,
                 args=(max_steps,), horizontal=True,
                 help="Quick: enough steps to see the curves part, in a few minutes on a 2-core CPU. Full: the length of the "
                      "source's own study, for its verdict. Steps per run below can be set to anything in between.")
        st.caption(f"{size_text(QUICK)} · {size_text(FULL)}")
        c1, c2, c3 = st.columns(3)
        data = c1.selectbox("Data", c.data, key=Runs.CMP_DATA)
        steps = c2.number_input("Steps per run", min_value=min(50, max_steps), max_value=max_steps, step=100, key=Runs.CMP_STEPS)
        seed = c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=Runs.CMP_SEED)
        base = experiments.base_config(kind, data, int(steps), int(seed))
        if side_by_side:
            st.caption(f"The {n} runs train side by side. Select them below to watch their curves overlaid.")
        elif free > 0:
            at_most = "one run" if settings.max_active_runs == 1 else f"{settings.max_active_runs} runs"
            st.caption(f"This server trains at most {at_most} at a time, so the {n} runs are "
                       "queued and train one after another in a single background worker.")
        comparison_duration(kind, base, settings, side_by_side)
        if st.button("Run the comparison", type="primary", icon=":material/play_arrow:", key=Runs.CMP_GO):
            try:
                # demo mode: the runs are this visitor's, recorded before any of them starts
                run_dirs = experiments.launch_comparison(kind, base, settings.runs_dir, settings.max_active_runs,
                                                         owner=visitor(settings))
            except GanError as e:
                st.error(plain(str(e)))
            else:
                st.session_state[Runs.SELECTED] = [Path(d).name for d in run_dirs]
                st.session_state[Runs.GROUP_PREF] = ARTICLE_GROUP if kind == "optimizers" else "Losses"
                st.toast(f"Launched the {c.short} ({len(run_dirs)} runs); they are selected below.",
                         icon=":material/science:")
        st.caption("The same from a terminal, with the figures and a verdict at the end:")
        st.code(f"python -m gan_core.experiments {kind} --data {data} --steps {int(steps)} --seed {int(seed)}", language="bash")


def expected(kind: str, base: Config, settings, side_by_side: bool) -> tuple[str, str, str] | str:
    """The comparison's expected duration (gan_core.estimate of each run): ("about 3 min or
    more" / "about 9 min", the figure for each run, what the server's time limit does to
    it or ""), or why it cannot be told, in one sentence."""
    try:
        configs = experiments.variant_configs(kind, base)
    except GanError as e:
        return str(e)
    found = [expected_duration(cfg.to_json(), str(settings.runs_dir)) for _, cfg in configs]
    problem = next((f for f in found if isinstance(f, str)), None)
    if problem:
        return problem
    each = " · ".join(f"{re.split(r'[,(:]', v.label)[0].strip()}: {e.text()}" for (v, _), e in zip(configs, found))
    limit, stretch = settings.max_run_s, run_time_limit(settings)
    if side_by_side:  # on shared cores side-by-side runs slow each other down; the longest bounds it from below
        cut = limit is not None and any(e.stopped_near(limit) is not None for e in found)
        note = (f" This server trains each run for {stretch} at a stretch, so the longer ones stop before their last "
                "step; Resume continues each." if cut else "")
        return f"{about(max(e.seconds for e in found))} or more", each, note
    # One worker trains them in turn within one stretch, shared among them (gan_core.jobs.train_queue).
    cut = limit is not None and sum(e.per_step * e.steps for e in found) > limit
    note = (f" This server trains a comparison for {stretch} at a stretch, shared among its runs, so they stop before "
            "their last step (sooner when the server is busy); Resume continues each." if cut else "")
    return about(sum(e.seconds for e in found)), each, note


def comparison_duration(kind: str, base: Config, settings, side_by_side: bool) -> None:
    """The comparison's expected duration, before it starts: each run's (gan_core.estimate)."""
    found = expected(kind, base, settings, side_by_side)
    if isinstance(found, str):
        st.caption(plain(found))
        return
    took, each, note = found
    if side_by_side:
        st.caption(f":material/schedule: Expected duration: **{took}** side by side ({each}, each measured alone).{note}")
    else:
        st.caption(f":material/schedule: Expected duration: **{took}** in all, one after another ({each}).{note}")
