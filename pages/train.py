"""Train: choose a recipe, data and settings, start a background run and watch it live.

The run is a separate process (gan_core.jobs); this page only writes its config
and then reads its run directory, so leaving the page, refreshing or opening a
second tab never disturbs it. The watched run is kept in the URL (?run=<id>).
"""

from __future__ import annotations

import time

import streamlit as st

from gan_core import form, jobs, presets, runs, visitors
from gan_core.config import Config, command_line, torchrun_command
from gan_core.data import list_sources
from gan_core.data.paired import FROM_FILES, PAIR_KINDS
from gan_core.errors import GanError
from gan_core.form import BUILTIN, KEYS, SERVER, UPLOAD
from gan_core.health import ENDED_CLEANLY, diagnose, exploded, shown_state
from gan_core.recipes import RECIPES, describe
from gan_core.settings import check_server_path, demo_keeping, run_limits, run_time_limit
from gan_core.timefmt import duration
from gan_core.training import available_devices
from gan_core.uploads import check_paired_upload, save_upload
from gan_core.visitors import UPLOADS
from pages.common.charts import augment_figure, discriminator_figure, loss_figure
from pages.common.judge import condition_rows_note
from pages.common.live import follow_metrics, log_tail
from pages.common.session import settings_or_stop, through_app, tidy_uploads, use_upload, visible_runs, visitor
from pages.common.shared import expected_duration, plain
from pages.common.keys import Train
from pages.common.train_form import apply_preset, draw, draw_section, put_defaults, remember_form, restore_form
from pages.common.train_live import choose_run, controls, latest_numbers, progress, samples, show_health, triplets_note

through_app()

REFRESH_S = 1.0  # live view refresh while a run is active
DIRECTIONS = {"AtoB": "A → B (left half, or A/, into the other)", "BtoA": "B → A (right half, or B/, into the other)"}


@st.cache_resource(show_spinner=False)
def devices() -> list[tuple[str, str]]:
    return available_devices()


# ----------------------------------------------------------------------------- quick starts and duration


def presets_section(settings) -> None:
    pending = st.session_state.pop(Train.PRESET_REQUEST, None)
    if pending in presets.PRESETS:
        apply_preset(pending, settings.max_steps)
    st.markdown("**See a GAN learn in one minute**")
    # One under the other: side by side in the settings column, their labels were cut off at 1,400 px.
    for key, preset in presets.PRESETS.items():
        st.button(preset.label, key=Train.preset(key), on_click=apply_preset, args=(key, settings.max_steps), width="stretch",
                  icon=":material/bolt:", help=preset.what)
    shown = presets.PRESETS.get(st.session_state.get(Train.PRESET_NOTE))
    if shown is not None and (st.session_state.get(KEYS.recipe), st.session_state.get(KEYS.data)) == (
            shown.config.recipe, shown.config.data.name):  # still the preset's run, not since changed by hand
        capped = presets.capped_note(shown.key, settings.max_steps)
        st.caption(f"{shown.what} Press Start training below; the expected duration is shown above it."
                   + (f" {capped}" if capped else ""))
    else:
        st.caption("Each fills the form below with a short run; nothing starts until you press Start training.")


def duration_caption(cfg: Config, settings) -> None:
    found = expected_duration(cfg.to_json(), str(settings.runs_dir))
    if isinstance(found, str):
        st.caption(plain(found))
    else:
        stop = found.stopped_near(settings.max_run_s)
        limit = (f" This server trains a run for {run_time_limit(settings)} at a stretch, so it stops near step {stop:,} "
                 "(sooner when the server is busy); Resume continues it." if stop is not None else "")
        st.caption(f":material/schedule: Expected duration: **{found.text()}** · {found.detail()}.{limit}")


# ----------------------------------------------------------------------------- settings form


def recipe_section() -> dict:
    recipes = {r["name"]: r for r in describe()}
    names = list(recipes)
    st.session_state.setdefault(KEYS.recipe, "dcgan" if "dcgan" in recipes else names[0])
    name = st.selectbox("Recipe", names, key=KEYS.recipe, on_change=labelled_data_for_conditional)
    recipe = {**recipes[name], "conditional": RECIPES.get(name).conditional, "paired": RECIPES.get(name).paired}
    st.caption(f"{recipe['description']} Trains on: {', '.join(recipe['kinds'])} data.")
    return recipe


def labelled_data_for_conditional() -> None:
    """Choosing a conditional recipe while an unlabelled built-in set is selected picks a
    labelled one instead (it could not train on the other); choosing the unlabelled set
    again afterwards is still allowed, and Start then says why it cannot run."""
    other = form.labelled_instead(st.session_state[KEYS.recipe], st.session_state.get(KEYS.data))
    if other is not None:
        st.session_state[KEYS.data] = other


def data_section(recipe: dict, settings) -> tuple[dict, str | None, str]:
    """Returns (data config fields, error sentence or None, kind of data)."""
    sources = list_sources()
    # A public demo never reads the server's folders: no typed path is offered, or used.
    modes = [BUILTIN, UPLOAD] if settings.demo else [BUILTIN, SERVER, UPLOAD]
    if st.session_state.get(KEYS.data_mode) not in modes:
        st.session_state[KEYS.data_mode] = BUILTIN
    mode = st.radio("Data", modes, horizontal=True, key=KEYS.data_mode)
    error = None
    pairs = pairs_choice(mode) if recipe["paired"] else None
    if mode == BUILTIN:
        builtin = {s.name: s for s in sources if s.builtin and s.kind in recipe["kinds"]}
        if st.session_state.get(KEYS.data) not in builtin:
            st.session_state[KEYS.data] = "faces-lfw" if "faces-lfw" in builtin else next(iter(builtin))
        tag = (lambda n: ", labelled" if form.labelled(builtin[n]) else ", no labels") if recipe["conditional"] else (lambda n: "")
        name = st.selectbox("Built-in data set", list(builtin), key=KEYS.data,
                            format_func=lambda n: f"{n} ({builtin[n].kind}{tag(n)})")
        st.caption(builtin[name].description)
        data, kind = {"name": name}, builtin[name].kind
    elif mode == SERVER and not settings.demo:
        # Pairs on disk are chosen with the Pairs menu (pix2pix) and trained on by nothing else.
        on_disk = {s.name: s for s in sources if s.needs_path and s.kind in recipe["kinds"] and "paired" not in s.tags}
        if pairs == FROM_FILES:
            name = "paired"
            on_disk = {name: next(s for s in sources if s.name == name)}
        else:
            if st.session_state.get(KEYS.server_source) not in on_disk:
                st.session_state[KEYS.server_source] = next(iter(on_disk))
            name = st.selectbox("Kind of data", list(on_disk), key=KEYS.server_source)
        st.caption(on_disk[name].description)
        raw = st.text_input("Path on the server", key=KEYS.server_path, placeholder="e.g. faces/ or photos.zip",
                            help="A folder or .zip under the data folder; relative paths start there.")
        st.caption(f"Data folder: `{settings.data_root}`")
        data, kind = {"name": name}, on_disk[name].kind
        if recipe["conditional"] and "attrs" in on_disk[name].tags:
            wanted = st.text_input("Attributes to condition on", key=KEYS.attributes, max_chars=500,
                                   placeholder="e.g. Smiling,Young,Male,Eyeglasses",
                                   help="Comma-separated names from list_attr_celeba.txt (--attributes); empty: all of them.")
            names = [a.strip() for a in wanted.split(",") if a.strip()]
            if names:
                data["attributes"] = ",".join(names)
        if not raw.strip():
            error = "Enter the path of a folder or .zip under the data folder."
        else:
            try:
                data["path"] = str(check_server_path(raw.strip(), settings))
            except GanError as e:
                st.error(plain(str(e)))
                error = str(e)
    else:
        label = ("Zip of images (jpg, png, ...); sub-folders become class labels" if pairs is None
                 else "Zip of image pairs" if pairs == FROM_FILES else "Zip of images (jpg, png, ...): the targets")
        file = st.file_uploader(label, type=["zip"], key=Train.UPLOAD)
        data, kind = {"name": "paired" if pairs == FROM_FILES else "folder"}, "image"
        if file is None:
            error = "Upload a .zip of images first."
        else:
            checked = st.session_state.setdefault(Train.UPLOADS_CHECKED, {})
            saved = checked.get(file.file_id)
            if saved is None or (not isinstance(saved, str) and not saved.path.is_file()):  # (swept while unused: save again)
                with st.spinner("Checking the images in the zip..."):
                    try:
                        checked[file.file_id] = save_upload(file.getvalue(), settings.runs_dir, visitor(settings))
                    except GanError as e:
                        checked[file.file_id] = str(e)
            result = checked[file.file_id]
            as_pairs = paired_upload(checked, file.file_id, result) if pairs == FROM_FILES and not isinstance(result, str) else None
            if isinstance(result, str) or (as_pairs and not as_pairs[0]):
                error = result if isinstance(result, str) else as_pairs[1]
                st.error(plain(error))
            elif as_pairs:
                st.success(plain(as_pairs[1]))
                data["path"] = str(result.path)
                use_upload("zip", result.path)
            elif recipe["conditional"] and not result.class_names:
                st.success(plain(result.summary()))
                error = (f"Recipe {recipe['name']} needs class labels and this zip has no class sub-folders; "
                         "put each class's images in a sub-folder of its own, or use mnist-5k.")
                st.error(plain(error))
            else:
                st.success(plain(result.summary()))
                data["path"] = str(result.path)
                use_upload("zip", result.path)
    if data.get("path") is None or mode != UPLOAD:
        use_upload("zip", None)

    put_defaults("data", Config(), kind, None)
    if kind == "image":
        left, right = st.columns(2)
        for field, where in ((form.BY_KEY[KEYS.image_size], left), (form.BY_KEY[KEYS.channels], right)):
            data[field.path.partition(".")[2]] = field.to_config(draw(field, where, Config()))
        if pairs == FROM_FILES:
            data["direction"] = st.radio("Direction", list(DIRECTIONS), format_func=DIRECTIONS.get, horizontal=True,
                                         key=KEYS.direction, help="Which half is the source the model learns to translate.")
        elif pairs is not None:
            data["pairs"] = pairs
    else:
        data["n_points"] = form.BY_KEY[KEYS.n_points].to_config(draw(form.BY_KEY[KEYS.n_points], st, Config()))
    return data, error, kind


def pairs_choice(mode: str) -> str:
    """pix2pix's pairs: derived from single images by one of PAIR_KINDS, or (for data
    from a folder or an upload) read from the files."""
    options = [k.name for k in PAIR_KINDS.values() if k.derived or mode != BUILTIN]  # built-in sets hold no pairs
    if st.session_state.get(KEYS.pairs) not in options:
        st.session_state[KEYS.pairs] = options[0]
    pairs = st.selectbox("Pairs", options, format_func=lambda k: PAIR_KINDS[k].label, key=KEYS.pairs,
                         help="pix2pix learns from pairs to turn a source picture into its target. Derived: the images are "
                              "the targets and the sources are made from them (--pairs). In the files: pairs you made "
                              "(--data paired).")
    st.caption(PAIR_KINDS[pairs].note)
    return pairs


def paired_upload(checked: dict, file_id: str, upload) -> tuple[bool, str]:
    """The uploaded zip checked as pairs (uploads.check_paired_upload), once per file:
    (True, what it holds) or (False, why its pairs cannot be used)."""
    key = f"{file_id}:pairs"
    if key not in checked:
        with st.spinner("Checking the image pairs in the zip..."):
            try:
                checked[key] = (True, check_paired_upload(upload.path))
            except GanError as e:
                checked[key] = (False, str(e))
    return checked[key]


pairs_problem = st.cache_data(max_entries=32, show_spinner="Checking the pairs...")(form.pairs_problem)


def recipe_defaults(recipe_name: str, data: dict) -> Config:
    try:
        return form.recipe_defaults(recipe_name, data)
    except GanError as e:
        st.error(plain(str(e)))
        st.stop()


def fixed_wasserstein_loss() -> None:
    st.radio("Generator loss", ["wasserstein"], disabled=True, horizontal=True, key=Train.G_LOSS_FIXED,
             help="WGAN recipes train with the Wasserstein loss; the critic estimates the distance between real and fake.")


def training_section(recipe_name: str, data: dict, kind: str, settings) -> dict:
    """The training settings' widgets, as gan_core.form declares them; returns
    {dotted field: value} for the config, leaving unset what equals the recipe's choice."""
    defaults = recipe_defaults(recipe_name, data)
    for section in ("training", "advanced"):
        put_defaults(section, defaults, kind, settings.default_steps or settings.max_steps)
    demo = (lambda: st.caption(f"Public demo: runs {run_limits(settings)}; {settings.max_active_runs} can train at once; "
                               f"runs are kept {demo_keeping(settings)}; download a run's zip (Runs page) to keep it.")) if settings.demo else None

    def augment_note() -> None:  # why augmentation is on, under its field (image data only)
        note = form.augment_note(st.session_state[KEYS.augment], data)
        if note:
            st.caption(note)

    after = {form.AUGMENT_ROW: augment_note, **({1: demo} if demo else {})}
    values = draw_section("training", defaults, kind, options={KEYS.device: {"auto": f"auto: {devices()[0][1]}", **dict(devices())}},
                          after_row=after, instead={KEYS.g_loss: fixed_wasserstein_loss})
    with st.expander("Advanced settings", icon=":material/tune:"):
        values.update(draw_section("advanced", defaults, kind))
    return form.changes(values, defaults, kind)


def form_problem(cfg: Config, kind: str, settings) -> str | None:
    return form.problem(cfg, kind, settings, UPLOADS, pairs_problem)


def start(cfg: Config, settings) -> None:
    last = st.session_state.get(Train.LAST_LAUNCH)
    if last and last[0] == cfg.to_json() and time.monotonic() - last[1] < 3:
        return  # a double click: this exact run was started a moment ago
    try:
        run_dir = jobs.launch(cfg, settings.runs_dir, max_active=settings.max_active_runs, owner=visitor(settings))
    except GanError as e:
        st.error(plain(str(e)))
        return
    st.session_state[Train.LAST_LAUNCH] = (cfg.to_json(), time.monotonic())
    st.query_params["run"] = run_dir.name
    st.session_state[Train.WATCHED] = run_dir.name
    st.toast(f"Started {run_dir.name}: watch it in the Live view, at the top right.", icon=":material/rocket_launch:")


def settings_form(settings) -> None:
    with st.container(border=True):
        presets_section(settings)
    restore_form()
    with st.container(border=True):
        recipe = recipe_section()
    with st.container(border=True):
        data, data_error, kind = data_section(recipe, settings)
    with st.container(border=True):
        changes = training_section(recipe["name"], data, kind, settings)
    remember_form()
    cfg = form.build_config(recipe["name"], data, changes)  # the one config shown, checked and launched
    problem = data_error or form_problem(cfg, kind, settings)
    if problem is None:
        duration_caption(cfg, settings)  # before Start, on every launch
        active = jobs.active_runs(settings.runs_dir) if settings.max_active_runs is not None else []
        if settings.max_active_runs is not None and len(active) >= settings.max_active_runs:
            # Start stays enabled: on a demo, the refusal is what gives this visitor the next turn (jobs, turns).
            others = settings.demo and not any(visitors.run_owner(r.path) == visitor(settings) for r in active)
            st.caption("Every training slot on this server is taken by other visitors' runs; press Start to be given "
                       "the next turn (it says when)." if others else
                       "Every training slot on this server is taken; Start says when you can start another.",
                       help="The server trains at most this many runs at once (GAN_WORKBENCH_MAX_RUNS).")
    clicked = st.button("Start training", type="primary", icon=":material/play_arrow:", width="stretch",
                        disabled=problem is not None, key=Train.START)
    if data_error is not None and not st.session_state.get(KEYS.server_path) and not st.session_state.get(Train.UPLOAD):
        st.caption(plain(data_error))
    elif data_error is None and problem is not None:
        st.error(plain(problem), icon=":material/block:")  # why Start is greyed out (a data error is shown at its field)
    if clicked and problem is None:  # a click can be sent by hand, past a disabled button
        start(cfg, settings)
    st.caption("These settings as a command line:" if problem else "The same run from a terminal (e.g. on a GPU server):")
    st.code(command_line(cfg), language="bash", wrap_lines=True)
    st.caption("On several GPUs, one process each (set NUM_GPUS; --batch-size is the global batch, split between them):")
    st.code(torchrun_command(cfg), language="bash", wrap_lines=True)


# ----------------------------------------------------------------------------- live view


def show_state(info: runs.RunInfo, status: dict, blown: str | None = None) -> None:
    """What happened to the run; ``blown`` is gan_core.health's sentence when its losses blew up."""
    message = status.get("message")
    if blown and info.state in ENDED_CLEANLY:
        what = {"finished": f"Ran all {info.total:,} steps in {(duration(status.get('elapsed')) or '–')}.",
                "stopped": f"Stopped at step {info.step:,}.", "interrupted": "The worker process ended without finishing."}
        st.error(plain(f"{what[info.state]} {blown}"), icon=":material/warning:")
    elif blown and info.active:
        st.warning(plain(blown), icon=":material/warning:")  # still training: Stop saves the time
    elif info.state == "queued":
        st.info("Starting the worker process; loading PyTorch takes a few seconds.", icon=":material/hourglass_top:")
    elif info.state == "finished":
        st.success(" ".join(filter(None, [f"Finished all {info.total} steps in {(duration(status.get('elapsed')) or '–')}.", message])))
    elif info.state == "stopped":
        st.warning(plain(message) if message else f"Stopped at step {info.step}; Resume continues from there.")
    elif info.state == "interrupted":
        st.warning("The worker process ended without finishing (killed or crashed); Resume continues from the last checkpoint.")
    elif info.state in ("failed", "diverged", "unreadable"):
        st.error(plain(info.error) if info.error else "The run failed; see its log below.")
    elif message:
        st.caption(plain(message))


def live_view(info: runs.RunInfo, settings) -> None:
    # Polls only while the run is active; a finished run is drawn once.
    @st.fragment(run_every=REFRESH_S if info.active else None)
    def view():
        now = runs.run_info(info.path)
        if info.active and not now.active:
            st.rerun()  # the run just ended: redraw the page once, without polling
        status = runs.read_status(info.path)
        try:
            cfg = runs.read_config(info.path)
        except GanError as e:
            st.error(plain(str(e)))
            return
        data_kind = "vector" if cfg.data.name in {s.name for s in list_sources() if s.kind == "vector"} else "image"
        wasserstein = cfg.loss.wasserstein

        metrics = follow_metrics(info.path)
        rows, recent = metrics.rows, list(metrics.recent)  # thinned for the charts; the last rows, exactly, to judge
        blown = exploded(recent)
        head, buttons = st.columns([4, 1], vertical_alignment="center")
        state = shown_state(now, recent)
        # The run's files are text anyone with the runs folder could have written: shown as typed, never as markdown.
        head.markdown(f"**{plain(cfg.recipe)} on {plain(cfg.data.name)}** {state.badge()}")
        head.caption(plain(f"{status.get('device', cfg.train.device)} · batch {cfg.train.batch_size} · {cfg.optim.optimizer} "
                           f"G {cfg.optim.lr_g:.1e} / D {cfg.optim.lr_d:.1e} · k = {cfg.loss.d_steps} · {cfg.loss.g_loss} loss"))
        with buttons:
            controls(now, settings)
        progress(now, status)
        show_state(now, status, blown)
        show_health(diagnose(recent, cfg.recipe, data_kind, cfg, now.state, now.error), recent, blown, state.shown)

        left, right = st.columns([5, 2], gap="medium")
        with left:
            note = triplets_note(cfg)
            samples(now, data_kind, cfg.train.sample_every, note or condition_rows_note(cfg, info.path), paired=note is not None)
        with right:
            latest_numbers(rows, wasserstein)
        if rows:
            st.plotly_chart(loss_figure(rows, wasserstein), key=Train.LOSS_CHART, config={"displaylogo": False})
            st.plotly_chart(discriminator_figure(rows, wasserstein), key=Train.D_CHART, config={"displaylogo": False})
            if "augment_p" in rows[-1]:
                st.plotly_chart(augment_figure(rows), key=Train.AUGMENT_CHART, config={"displaylogo": False})
        else:
            st.caption(f"Loss curves appear after the first {cfg.train.log_every} steps.")
        with st.expander("Command line and log", expanded=now.state in ("failed", "interrupted")):
            st.caption(f"Run `{now.id}`, resolved config as a command:")
            st.code(command_line(cfg), language="bash", wrap_lines=True)
            st.caption("On several GPUs (torchrun, one process per GPU; it resumes too, with --resume):")
            st.code(torchrun_command(cfg), language="bash", wrap_lines=True)
            tail = log_tail(info.path)
            if tail:
                st.code(tail, language="text")

    view()


# ----------------------------------------------------------------------------- page

st.title("Train a GAN")
settings = settings_or_stop()
tidy_uploads(settings)

settings_col, watch = st.columns([2, 3], gap="large")
with settings_col:
    settings_form(settings)
with watch:
    st.subheader("Live view")
    all_runs = visible_runs(settings)  # demo mode: this visitor's own runs only, whatever ?run= says
    if not all_runs:
        st.info("No runs yet: choose your settings and press Start training.", icon=":material/info:")
    else:
        live_view(choose_run(all_runs), settings)  # the chosen run, else the visitor's latest one
