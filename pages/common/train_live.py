"""The Train page's live view of a run, piece by piece: which run is watched, its
progress, diagnosis, controls, newest sample grid and latest numbers. What the run's
state means (and its badge) stays with the page. Not a page: app.py lists the pages it shows."""

from __future__ import annotations

import time

import streamlit as st

from gan_core import jobs, runs
from gan_core.config import Config
from gan_core.data.paired import PAIR_KINDS
from gan_core.errors import GanError
from gan_core.health import ENDED_CLEANLY, Finding, judged, verdict, verdict_sentence
from gan_core.recipes import RECIPES
from gan_core.timefmt import duration
from pages.common.keys import Train
from pages.common.session import may_act
from pages.common.shared import per_second_unit, plain, run_label

RESUMABLE = ("stopped", "interrupted", "failed", "diverged")


def choose_run(all_runs: list[runs.RunInfo]) -> runs.RunInfo | None:
    """The run to watch: ?run=<id> if it names a run, else the one this session last
    watched, else the newest active run, else the newest run (``all_runs`` is newest
    first: in demo mode the visitor's own), so a refresh or a later visit finds the
    visitor's run, stopped ones with Resume. Only ids from list_runs are ever used."""
    by_id = {r.id: r for r in all_runs}
    wanted = st.query_params.get("run")
    if wanted not in by_id:
        wanted = st.session_state.get(Train.WATCHED)
    if wanted not in by_id:
        wanted = next((r.id for r in all_runs if r.active), all_runs[0].id if all_runs else None)
    if wanted is None:
        st.query_params.pop("run", None)
    elif st.query_params.get("run") != wanted:
        st.query_params["run"] = wanted
    st.session_state[Train.WATCHED] = wanted
    st.session_state[Train.WATCH_SELECT] = wanted

    def picked():
        choice = st.session_state[Train.WATCH_SELECT]
        st.session_state[Train.WATCHED] = choice
        st.query_params["run"] = choice

    st.selectbox("Watch a run", list(by_id), key=Train.WATCH_SELECT, on_change=picked,
                 format_func=lambda i: run_label(by_id[i]), placeholder="Choose a run to watch")
    return by_id.get(wanted)


def show_health(findings: list[Finding], rows: list[dict], blown: str | None, shown: str | None = None) -> None:
    """gan_core.health's diagnosis in plain words: "healthy so far" (training), "no problems
    seen" (ended well), or each finding with what to try; never a green word beside a run
    that failed, diverged or exploded. ``shown``: the run's shown state (health.shown_state)."""
    failed = [f for f in findings if f.severity == "error"]
    if not judged(rows) and not failed:
        return  # too few logged steps to say anything
    word = verdict(shown, findings)
    if word is not None:
        st.markdown(f":green-badge[{word}] {verdict_sentence(shown, findings)}")
    for f in findings:
        if blown and f.code == "exploded" and shown in (*ENDED_CLEANLY, "exploded", "running", "queued", "stopping"):
            continue  # show_state has said it, with what happened to the run
        show = st.error if f.severity == "error" else st.warning
        show(f"**{plain(f.title)}.** {plain(f.sentence)} **Try:** {plain(f.advice)}", icon=":material/stethoscope:")


def progress(info: runs.RunInfo, status: dict) -> None:
    fraction = min(1.0, info.step / info.total) if info.total else 0.0
    parts = [f"Step {info.step:,} / {info.total:,}"]
    if info.images_per_s:
        parts.append(f"{info.images_per_s:,.0f} {per_second_unit(info.data)}/s")
    stops_by = status.get("stops_by")
    left = stops_by - time.time() if isinstance(stops_by, (int, float)) and not isinstance(stops_by, bool) else None
    if info.active and info.eta is not None and info.step and left is not None and left < info.eta:
        # The server's time limit ends this stretch first (a demo's ETA read 14 min on a run stopped within a minute).
        parts.append(f"stops for this server's time limit in {duration(max(0.0, left)) or 'a moment'} "
                     f"(ETA {duration(info.eta) or '–'} in all; Resume continues)")
    elif info.active and info.eta is not None and info.step:
        parts.append(f"ETA {(duration(info.eta) or '–')}")
    elif status.get("elapsed"):
        parts.append(f"trained for {(duration(status['elapsed']) or '–')}")
    st.progress(fraction, text="  ·  ".join(parts))


def controls(info: runs.RunInfo, settings) -> None:
    if not may_act(info, settings):
        return  # demo mode: another visitor's run is never shown, let alone stopped
    if info.active:
        stopping = (info.path / "STOP").exists()
        st.button("Stopping..." if stopping else "Stop", icon=":material/stop:", key=Train.STOP, disabled=stopping,
                  on_click=jobs.stop, args=(info.path,), help="Stops after the current step and saves a checkpoint.")
    elif info.state in RESUMABLE and jobs.resume_refusal(info.path):
        st.caption(plain(jobs.resume_refusal(info.path)))  # a crash that would repeat: no Resume to fail again
    elif info.state in RESUMABLE:
        if st.button("Resume", icon=":material/play_arrow:", key=Train.RESUME):
            try:
                jobs.resume(info.path, max_active=settings.max_active_runs)
            except GanError as e:
                st.error(plain(str(e)))
                return
            st.rerun()  # the whole page, so the live view polls again


def triplets_note(cfg: Config) -> str | None:
    """What a pix2pix run's saved grid shows (objectives.Pix2PixObjective.generate), or None for other recipes."""
    try:
        if not RECIPES.get(cfg.recipe).paired:
            return None
    except GanError:  # a run of a recipe this version does not know
        return None
    kind = PAIR_KINDS.get(cfg.data.pairs or "")
    source = f"the {kind.model_input.lower()}" if kind else "the source"
    return (f"read each row in threes: {source}, the generator's output from it, "
            "and the real target, on fixed pairs from the data")


def samples(info: runs.RunInfo, kind: str, sample_every: int, note: str | None = None, paired: bool = False) -> None:
    grids = runs.sample_images(info.path)
    if not grids:
        if info.active:
            st.caption(f"The first sample grid appears at step {min(sample_every, info.total):,}.")
        else:
            if 1 <= sample_every and info.step < sample_every:
                st.caption(f"No sample grid was saved: the run ended at step {info.step:,}, before the first one at step {sample_every:,}.")
            else:  # a config edited by hand (sample_every 0), or grids deleted from the run's folder
                st.caption(f"No sample grid was saved: the run ended at step {info.step:,} with none in its samples folder.")
        return
    step, path = grids[-1]
    if not info.active and len(grids) > 1:
        step = st.select_slider("Samples at step", [s for s, _ in grids], value=step, key=Train.grid(info.id))
        path = dict(grids)[step]
    what = ("Source | output | target triplets" if paired else "Fixed-noise samples" if kind == "image"
            else "Generated points over the real ones")
    try:
        png = runs.read_sample(path)  # a regular PNG file, or one sentence (a FIFO, a link, junk...)
    except GanError as e:
        st.caption(plain(str(e)))
        return
    st.image(png, caption=plain(f"{what}, step {step:,}" + (f": {note}" if note else "")), width="stretch")  # names from a checkpoint


def latest_numbers(rows: list[dict], wasserstein: bool) -> None:
    if not rows:
        return
    last = rows[-1]
    shown = ([("Critic loss", "loss_d"), ("G loss", "loss_g"), ("Wasserstein estimate", "wasserstein")]
             if wasserstein else [("D loss", "loss_d"), ("G loss", "loss_g"), ("D(x) on real", "d_real"), ("D(G(z)) on fake", "d_fake"),
                                  ("L1 to the target", "l1")])
    for label, key in shown:
        if last.get(key) is not None:
            value = last[key]  # a blown-up loss is millions: keep it short enough for the column
            st.metric(label, f"{value:.3f}" if abs(value) < 1000 else f"{value:.3g}")
    st.caption(f"at step {last['step']:,}")
