"""Runs and loss curves: every run with its state; several runs' curves overlaid,
with TensorBoard-style smoothing; their sample grids side by side; downloads;
stop / resume / delete; and the Keras article's optimiser comparison in one click.

Everything shown is read from the run directories (gan_core.runs), so it is the
same in every tab and after a server restart. Nothing trains in here: launching,
stopping and resuming go through gan_core.jobs / gan_core.experiments.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from gan_core import catalog, checkpoints, experiments, export, jobs, runs
from gan_core.errors import GanError
from gan_core.data import list_sources
from gan_core.timefmt import duration, when
from gan_core.health import HISTORY, TAIL_BYTES, Finding, ShownState, diagnose, judged, shown_state, verdict
from gan_core.settings import demo_keeping
from pages.common.comparisons import comparison_section
from pages.common.curves import curves_section, run_config, short_name
from pages.common.judge import condition_rows_note, is_conditional, judge_section
from pages.common.keys import Runs
from pages.common.session import may_act, settings_or_stop, through_app, tidy_uploads, visible_runs, visitor
from pages.common.shared import per_second_unit, plain

through_app()

RESUMABLE = ("stopped", "interrupted", "failed", "diverged")
SELECTED = Runs.SELECTED


# --- small helpers ---------------------------------------------------------------


def run_action(action, done: str) -> None:
    """Run a job action from a button: its error as one sentence, else a toast and a rerun."""
    try:
        action()
    except GanError as e:
        st.error(plain(str(e)))
    else:
        st.toast(plain(done))  # it names runs, whose files are text a visitor may have written
        st.rerun()


def stop_requested(info: runs.RunInfo) -> bool:
    return info.active and (info.path / "STOP").exists()


@st.cache_data(max_entries=500, show_spinner=False)
def _last_rows(run_dir: str, size: int, mtime_ns: int) -> list[dict]:
    # Only the file's end is read: "exploded" is judged on the last rows, and the table
    # redraws every few seconds for runs of any length.
    rows, _ = runs.read_metrics(run_dir, max(0, size - TAIL_BYTES))
    return rows


def shown(info: runs.RunInfo) -> ShownState:
    """The run's state as every page shows it (gan_core.health.shown_state), its rows cached."""
    try:
        stat = (info.path / "metrics.jsonl").stat()
    except OSError:
        return shown_state(info, [])
    return shown_state(info, _last_rows(str(info.path), stat.st_size, stat.st_mtime_ns))


@st.cache_data(max_entries=500, show_spinner=False)
def _health(run_dir: str, size: int, mtime_ns: int, state: str, error: str | None) -> list[Finding] | None:
    # The diagnosis judges the last HISTORY rows; a row is well under 1 KB.
    rows, _ = runs.read_metrics(run_dir, max(0, size - HISTORY * 1024)) if size >= 0 else ([], 0)
    try:
        cfg = runs.read_config(run_dir)
    except GanError:
        return None  # the table already says the run cannot be read
    kind = "vector" if cfg.data.name in {s.name for s in list_sources() if s.kind == "vector"} else "image"
    findings = diagnose(rows, cfg.recipe, kind, cfg, state, error)
    # Too early to judge, unless the run already failed in a way the diagnosis names (diverged).
    return findings if judged(rows) or any(f.severity == "error" for f in findings) else None


def health(info: runs.RunInfo) -> list[Finding] | None:
    """gan_core.health's findings for the run ([] = nothing wrong seen), or None before it can be judged."""
    try:
        stat = (info.path / "metrics.jsonl").stat()
        size, mtime = stat.st_size, stat.st_mtime_ns
    except OSError:
        size, mtime = -1, 0  # no rows: a run that diverged before its first row is still named
    return _health(str(info.path), size, mtime, str(info.state), info.error)


def health_text(info: runs.RunInfo, state: ShownState) -> str:
    """The table's Health cell: the findings' titles, "healthy so far" (training) or "no
    problems seen" (ended well), or empty when too early or when the run failed."""
    findings = health(info)
    if findings is None:
        return ""
    return "; ".join(f.title for f in findings) or verdict(state.shown, findings) or ""


# --- page sections ---------------------------------------------------------------


def table_rows(all_runs: list[runs.RunInfo], states: dict[str, ShownState]) -> pd.DataFrame:
    """One row per run; ``states``: each run's shown state, by id."""
    if not all_runs:
        return pd.DataFrame(columns=["Run", "State"])
    rows = []
    now = datetime.now()
    for r in all_runs:
        exp = experiments.read_experiment(r.path)
        state = states[r.id]
        rows.append({
            "Run": r.id,
            "State": str(state.shown),
            "Recipe": r.recipe,
            "Data": r.data,
            "Steps": f"{r.step} / {r.total}",
            "Progress": r.step / r.total if r.total else 0.0,
            "Started": when(r.created, now),
            "Per second": f"{r.images_per_s:.0f} {per_second_unit(r.data)}" if r.images_per_s is not None else "",
            "ETA": duration(r.eta, short=True) if r.active and r.eta else "",
            "Experiment": (exp.get("variant_label") or exp.get("label", "")) if exp else "",
            "Health": health_text(r, state),
            "Note": state.reason or "",
        })
    table = pd.DataFrame(rows)
    return table if table["Note"].any() else table.drop(columns="Note")


def runs_table(settings) -> None:
    all_runs = visible_runs(settings)
    signature = tuple((r.id, r.state) for r in all_runs)
    if st.session_state.get(Runs.SIGNATURE) != signature:
        # A run started, stopped or finished since the page was drawn: redraw all of it,
        # so buttons, curves and the run picker agree with the table.
        st.session_state[Runs.SIGNATURE] = signature
        st.rerun()
    states = {r.id: shown(r) for r in all_runs}
    frame = table_rows(all_runs, states)
    table = frame.style.apply(lambda col: [f"color: {states[i].css}; font-weight: 600" for i in frame["Run"]],
                              subset=["State"])
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={
            "Run": st.column_config.TextColumn(width=240),
            "State": st.column_config.TextColumn(width=80),
            "Recipe": st.column_config.TextColumn(width=70),
            "Data": st.column_config.TextColumn(width=80),
            "Steps": st.column_config.TextColumn(width=85),
            "Progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent", width=85),
            "Started": st.column_config.TextColumn(width=90),
            "Images/s": st.column_config.TextColumn(width=65),
            "ETA": st.column_config.TextColumn(width=60),
            "Experiment": st.column_config.TextColumn(width=160),
            "Health": st.column_config.TextColumn(width=160, help="gan_core's diagnosis of the training; select the run for the details."),
            "Note": st.column_config.TextColumn(width="large"),
        },
    )


def run_actions(info: runs.RunInfo, settings, owed: str | None = None) -> None:
    """One row per selected run: its state and what can be done with it. ``owed``: why this
    visitor must let another have the next slot first (``jobs.turn_owed``), said beside Resume."""
    if not may_act(info, settings):
        return  # demo mode: another visitor's run is never listed, stopped, resumed, zipped or deleted
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    state = shown(info)
    # Live progress is in the table (which refreshes); this row changes only with the state.
    detail = "" if info.active else f"step {info.step} / {info.total}"
    text = f"**{plain(short_name(info))}** {state.badge()} {detail}  \n`{info.id}`"  # a run's files: shown as typed
    if state.reason:
        text += f"  \n:red[{plain(state.reason)}]"
    if info.stopped_after_s is not None:  # not a Stop anyone pressed: say so, and what Resume does
        now = settings.max_run_s  # what Resume gives now, which an operator may have changed since
        more = f"for up to another {duration(now, short=True)}" if now else "to its end"
        text += (f"  \n:orange[Stopped after {duration(info.stopped_after_s, short=True)} of training, this server's time "
                 f"for it at a stretch; Resume trains it {more}.]")
    if owed and info.state in RESUMABLE:
        text += f"  \n:orange[{plain(owed)}]"
    for f in health(info) or []:
        if f.code != "exploded" or not state.reason or info.error:  # else said in red above (state.reason)
            text += f"  \n:orange[**{plain(f.title)}.** {plain(f.sentence)} **Try:** {plain(f.advice)}]"
    row.markdown(text, width="stretch")
    if row.button("Stop", key=Runs.stop(info.id), icon=":material/stop:", disabled=not info.active or stop_requested(info),
                  help="Stop at the next step; a checkpoint is saved so it can resume."):
        run_action(lambda: jobs.stop(info.path), f"Stopping {short_name(info)} after its current step.")
    repeat = jobs.resume_refusal(info.path) if info.state in RESUMABLE else None  # a crash that would repeat
    if row.button("Resume", key=Runs.resume(info.id), icon=":material/play_arrow:", disabled=info.state not in RESUMABLE or bool(repeat),
                  help=plain(repeat) if repeat else "Continue from the last checkpoint."):
        run_action(lambda: jobs.resume(info.path, settings.max_active_runs), f"Resumed {short_name(info)}.")
    try:  # from the files' sizes: the zip is built in the server's memory
        plan, refusal = export.zip_plan(info.path), None
    except GanError as e:
        plan, refusal = None, str(e)
    grids = f"{plan.note}" if plan and plan.note else "the sample grids"
    row.download_button(
        "Zip", data=lambda path=info.path: export.run_zip_bytes(path), file_name=f"{info.id}.zip",
        mime="application/zip", key=Runs.zip(info.id), icon=":material/download:", on_click="ignore", disabled=plan is None,
        help=plain(refusal) if refusal else f"config.json, status.json, metrics.jsonl, {grids} and the weights (last.safetensors).",
    )
    # Keyed by run: after a delete, the open confirmation must not pass to the next run's row.
    with row.popover("Delete", icon=":material/delete:", disabled=info.active, key=Runs.delete_confirm(info.id),
                     help="Stop the run first." if info.active else "Delete the run directory."):
        st.markdown(f"Delete run `{info.id}` with its samples and checkpoints? This cannot be undone.")
        if st.button("Delete for good", key=Runs.delete(info.id), type="primary"):
            try:
                export.delete_run(info.path)
            except GanError as e:
                st.error(plain(str(e)))
            else:
                st.toast(f"Deleted {info.id}.")
                st.rerun()


def samples_section(selected: list[runs.RunInfo]) -> None:
    ids = tuple(r.id for r in selected)
    paths = {r.id: r.path for r in selected}
    names = {r.id: short_name(r) for r in selected}
    configs = {r.id: run_config(r) for r in selected}

    def grids() -> None:
        per_run = {i: runs.sample_images(paths[i]) for i in ids if paths[i].is_dir()}
        steps = sorted({s for samples in per_run.values() for s, _ in samples})
        if not steps:
            st.info("No sample grids yet: the first is saved at the first sampling step.")
            return
        # The slider follows the newest grid of running runs until the user moves it back.
        key = Runs.SAMPLE_STEP
        if key not in st.session_state or st.session_state[key] not in steps or st.session_state.get(Runs.SAMPLE_LATEST, True):
            st.session_state[key] = steps[-1]
        st.session_state[Runs.SAMPLE_MAX] = steps[-1]
        if len(steps) > 1:
            chosen = st.select_slider("Training step", options=steps, key=key, on_change=_slider_moved,
                                      help="Each run shows its grid nearest to this step.")
        else:
            chosen = steps[0]
            st.caption(f"Sample grids at step {chosen}")
        nearest = {run_id: min(samples, key=lambda sp: (abs(sp[0] - chosen), sp[0])) for run_id, samples in per_run.items() if samples}
        # The grids shown at once stay within the budget per request (runs.grids_to_show): the session holds each one.
        _, left = runs.grids_to_show([path for _, path in nearest.values()])
        cols = st.columns(max(3, min(len(per_run), 4)))  # one grid never fills the whole width
        for n, (run_id, samples) in enumerate(per_run.items()):
            with cols[n % len(cols)]:
                if not samples:
                    st.caption(f"{names[run_id]}: no grid yet")
                    continue
                step, path = nearest[run_id]
                if path in left:
                    st.caption(plain(f"{names[run_id]} · step {step}: not shown, the grids above already take what one page "
                                     "may hold here; select fewer runs to see it."))
                    continue
                try:
                    png = runs.read_sample(path)  # a bad grid is one note; the other runs' grids are shown
                except GanError as e:
                    st.caption(plain(f"{names[run_id]}: {e}"))
                    continue
                note = condition_rows_note(configs[run_id], paths[run_id]) if configs[run_id] else None
                st.image(png, caption=plain(f"{names[run_id]} · step {step}" + (f": {note}" if note else "")), width="stretch")

    live = any(r.active for r in selected)
    st.fragment(grids, run_every=5 if live else None)()


def judge_runs_section(selected: list[runs.RunInfo], settings) -> None:
    """The independent judge for each selected conditional run, on its saved weights."""
    chosen = [(r, cfg) for r in selected if (cfg := run_config(r)) is not None and is_conditional(cfg)]
    if not chosen:
        return
    st.subheader("Does it obey? The independent judge")
    for info, cfg in chosen:
        with st.container(border=True):
            st.markdown(f"**{plain(short_name(info))}**")
            path = info.path / "checkpoints" / checkpoints.WEIGHTS
            try:
                entry = catalog.describe_checkpoint(path)
            except GanError:
                st.caption(f"No weights saved yet: the judge scores the run's checkpoint, written every "
                           f"{cfg.train.checkpoint_every:,} steps and at the end.")
                continue
            if entry.error:
                st.warning(plain(entry.error))
                continue
            live = " (the run is still training, so later weights may score differently)" if info.active else ""
            st.caption(f"Scores the weights saved at step {entry.step:,}{live}. "
                       "The Conditional generation page makes what you choose with them.")
            judge_section(entry, cfg, settings, key=Runs.judge(info.id))


def _slider_moved() -> None:
    st.session_state[Runs.SAMPLE_LATEST] = st.session_state[Runs.SAMPLE_STEP] == st.session_state.get(Runs.SAMPLE_MAX)


def select_experiment(options: dict[str, list[str]]) -> None:
    label = st.session_state.get(Runs.EXPERIMENT)
    if label in options:
        st.session_state[SELECTED] = options[label]
    st.session_state[Runs.EXPERIMENT] = None


# --- the page ----------------------------------------------------------------------

st.title("Runs and loss curves")
settings = settings_or_stop()
tidy_uploads(settings)

comparison_section(settings)

all_runs = visible_runs(settings)  # demo mode: this visitor's own runs only
if not all_runs:
    where = "of yours" if settings.demo else f"in {settings.runs_dir}"
    st.info(f"No runs {where} yet. Start one on the Train page, or run the optimiser comparison above.")
    st.stop()

any_active = any(r.active for r in all_runs)
st.session_state[Runs.SIGNATURE] = tuple((r.id, r.state) for r in all_runs)
st.subheader("All runs")
if settings.demo:
    st.caption(f":material/schedule: On this public demo your runs are kept {demo_keeping(settings)}; a run's **Zip** keeps it "
               "for good. They are this browser's: another browser, or a private window, is another visitor.")
st.fragment(runs_table, run_every=3 if any_active else 10)(settings)

by_id = {r.id: r for r in all_runs}
if SELECTED not in st.session_state:
    newest = all_runs[0]
    exp = experiments.read_experiment(newest.path)
    st.session_state[SELECTED] = [i for i in (exp or {}).get("runs", [newest.id]) if i in by_id] or [newest.id]
st.session_state[SELECTED] = [i for i in st.session_state[SELECTED] if i in by_id]

experiment_runs = {
    f"{e['label']} · {datetime.fromtimestamp(e.get('created', 0)):%d %b %H:%M} · {e['id'][-4:]}": [p.name for p in e["runs"] if p.name in by_id]
    for e in experiments.experiments_of(all_runs)  # the visitor's runs, listed once
    if any(p.name in by_id for p in e["runs"])  # demo mode: only experiments with runs of this visitor's
}
pick_col, exp_col = st.columns([3, 1.3], vertical_alignment="bottom")
chosen = pick_col.multiselect(
    "Runs to compare", list(by_id), key=SELECTED, placeholder="Pick one or more runs",
    format_func=lambda i: short_name(by_id[i]),
)
if experiment_runs:
    exp_col.selectbox("Or select an experiment's runs", list(experiment_runs), index=None, key=Runs.EXPERIMENT,
                      placeholder="Experiments", on_change=select_experiment, args=(experiment_runs,))

selected = [by_id[i] for i in chosen]
if not selected:
    st.info("Pick runs above to see their curves and samples.")
    st.stop()

owed = jobs.turn_owed(settings.runs_dir, visitor(settings))  # once for every row: a visitor's turn is theirs, not a run's
for info in selected:
    run_actions(info, settings, owed)
try:
    export.check_metrics_csv([r.path for r in selected])  # the CSV is built in the server's memory
except GanError as e:
    st.caption(plain(str(e)))
else:
    st.download_button(
        "Metrics of the selected runs (CSV)", data=lambda: export.metrics_csv([r.path for r in selected]),
        file_name="gan-metrics.csv", mime="text/csv", icon=":material/table:", on_click="ignore", key=Runs.CSV,
    )

st.subheader("Curves")
curves_section(selected)
st.subheader("Samples")
samples_section(selected)
judge_runs_section(selected, settings)
