"""Train: choose a recipe, data and settings, start a background run and watch it live.

The run is a separate process (gan_core.jobs); this page only writes its config
and then reads its run directory, so leaving the page, refreshing or opening a
second tab never disturbs it. The watched run is kept in the URL (?run=<id>).
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from gan_core import jobs, presets, runs
from gan_core.config import Config, DataConfig, command_line, torchrun_command
from gan_core.data import list_sources, load_data
from gan_core.data.paired import FROM_FILES, PAIR_KINDS
from gan_core.errors import GanError
from gan_core.health import HEALTHY, Finding, diagnose, exploded, judged
from gan_core.recipes import RECIPES, describe, resolve
from gan_core.settings import check_server_path
from gan_core.training import available_devices
from gan_core.uploads import check_paired_upload, save_upload
from gan_core.visitors import UPLOADS
from pages._charts import discriminator_figure, loss_figure
from pages._judge import condition_rows_note
from pages._live import log_tail, read_all_metrics
from pages._session import may_act, settings_or_stop, through_app, tidy_uploads, use_upload, visible_runs, visitor
from pages._shared import fmt_duration, plain, run_label, state_badge
from pages._shared import expected_duration

through_app()

BUILTIN, SERVER, UPLOAD = "Built-in data", "Folder or zip on the server", "Upload a .zip"
IMAGE_SIZES = [16, 28, 32, 64, 128]  # 28: MNIST's own size and the Keras article's (MLP recipes)
CHANNELS = {"As in the data": None, "Grey": 1, "Colour": 3}
OPTIMIZERS = ["adam", "rmsprop", "sgd"]
G_LOSS_HELP = ("non-saturating: G maximises log D(G(z)), as used in practice; "
               "minimax: G minimises log(1 − D(G(z))), the paper's objective, whose gradient vanishes early on.")
REFRESH_S = 1.0  # live view refresh while a run is active
RESUMABLE = ("stopped", "interrupted", "failed", "diverged")
# What one dashboard run may ask of a shared server, where the engine accepts any
# positive number: a batch of millions is gigabytes, a k of millions a run that
# never ends, and a million points is already 50x the default.
MAX_BATCH, MAX_D_STEPS, MAX_POINTS, MAX_SEED = 4096, 50, 1_000_000, 2**31 - 1
BUILTIN_NAMES = {s.name for s in list_sources() if s.builtin}
DIRECTIONS = {"AtoB": "A → B (left half, or A/, into the other)", "BtoA": "B → A (right half, or B/, into the other)"}
# pix2pix: the paper's objective and its two ablations (Isola et al. 2017, Table 1).
OBJECTIVES = {"cGAN + L1 (the paper's)": {}, "L1 only": {"loss.gan_weight": 0.0}, "cGAN only": {"loss.l1_weight": 0.0}}


def sample_every_for(steps: int) -> int:
    """Dashboard runs save a sample grid every 25 steps, so the first one is on
    screen seconds after Start even on a CPU (DCGAN on faces: ~4-6 steps/s after a
    ~5 s process start); long runs sample 100 times in all rather than thousands."""
    return max(10, min(25, steps // 10)) if steps <= 2500 else steps // 100


@st.cache_resource(show_spinner=False)
def devices() -> list[tuple[str, str]]:
    return available_devices()


FORM_KEYS = ("train_recipe", "train_data_mode", "train_data", "train_server_source", "train_server_path", "train_image_size",
             "train_channels", "train_n_points", "train_steps", "train_batch_size", "train_d_steps", "train_optimizer",
             "train_lr_g", "train_lr_d", "train_g_loss", "train_device", "train_seed", "train_attributes", "train_pairs",
             "train_direction", "train_arch", "train_objective")


def restore_form() -> None:
    """Bring back what the user had chosen, and make the browser show it.

    Streamlit forgets a page's widget values when another page is shown. And a
    widget hidden for a while (the image size while training on points, the
    built-in set while uploading) is drawn anew by the browser at its first
    option or its minimum, while the server still holds the value kept here:
    Streamlit sends a widget's value only when it was written in this script run.
    So every value is written again on every run, and the select, its caption,
    the command line and the run all show the same one."""
    remembered = st.session_state.get("_train_form", {})
    for key in FORM_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
        elif key in remembered:
            st.session_state[key] = remembered[key]


def remember_form() -> None:
    st.session_state["_train_form"] = {k: st.session_state[k] for k in FORM_KEYS if k in st.session_state}


def put_default(key: str, value, signature) -> None:
    """Give a widget its recipe default when the recipe (its defaults) changes, and
    keep whatever the user typed otherwise."""
    sigs = st.session_state.setdefault("_train_default_sigs", {})
    if key not in st.session_state or sigs.get(key) != signature:
        st.session_state[key] = value
        sigs[key] = signature


# ----------------------------------------------------------------------------- quick starts and duration


PRESET_REQUEST = "train_preset_request"  # set by another page (the gallery's guided start) to fill the form on arrival


def apply_preset(key: str, max_steps: int | None = None) -> None:
    """Fill the form with a preset (gan_core.presets): its recipe, data and steps (no
    more than this server allows), and the recipe's defaults for everything else, as
    if chosen by hand."""
    preset = presets.PRESETS[key]
    cfg = resolve(preset.config)
    values = {"train_recipe": cfg.recipe, "train_data_mode": BUILTIN, "train_data": cfg.data.name,
              "train_steps": min(cfg.train.steps, max_steps or cfg.train.steps), "train_batch_size": cfg.train.batch_size, "train_seed": cfg.train.seed,
              "train_d_steps": cfg.loss.d_steps, "train_optimizer": cfg.optim.optimizer, "train_lr_g": cfg.optim.lr_g,
              "train_lr_d": cfg.optim.lr_d}
    if cfg.loss.g_loss != "wasserstein":
        values["train_g_loss"] = cfg.loss.g_loss
    if next(s.kind for s in list_sources() if s.name == cfg.data.name) == "image":
        values.update(train_image_size=cfg.data.image_size, train_channels=next(k for k, v in CHANNELS.items() if v == cfg.data.channels))
    else:
        values["train_n_points"] = cfg.data.n_points
    st.session_state.update(values)
    st.session_state["_train_form"] = {**st.session_state.get("_train_form", {}), **values}
    sigs = st.session_state.setdefault("_train_default_sigs", {})  # these values are the defaults put_default would give
    sigs.update({k: cfg.recipe for k in ("train_d_steps", "train_optimizer", "train_lr_g", "train_lr_d", "train_g_loss")})
    sigs.update({k: "config" for k in ("train_steps", "train_batch_size", "train_seed")})
    st.session_state["train_preset_note"] = key


def presets_section(settings) -> None:
    pending = st.session_state.pop(PRESET_REQUEST, None)
    if pending in presets.PRESETS:
        apply_preset(pending, settings.max_steps)
    st.markdown("**See a GAN learn in one minute**")
    cols = st.columns(len(presets.PRESETS))
    for col, (key, preset) in zip(cols, presets.PRESETS.items()):
        col.button(preset.label, key=f"train_preset_{key}", on_click=apply_preset, args=(key, settings.max_steps), width="stretch",
                   icon=":material/bolt:", help=preset.what)
    shown = presets.PRESETS.get(st.session_state.get("train_preset_note"))
    if shown is not None and (st.session_state.get("train_recipe"), st.session_state.get("train_data")) == (
            shown.config.recipe, shown.config.data.name):  # still the preset's run, not since changed by hand
        st.caption(f"{shown.what} Press Start training below; the expected duration is shown above it.")
    else:
        st.caption("Each fills the form below with a short run; nothing starts until you press Start training.")


def duration_caption(cfg: Config, settings) -> None:
    found = expected_duration(cfg.to_json(), str(settings.runs_dir))
    if isinstance(found, str):
        st.caption(plain(found))
    else:
        st.caption(f":material/schedule: Expected duration: **{found.text()}** · {found.detail()}.")


# ----------------------------------------------------------------------------- settings form


def recipe_section() -> dict:
    recipes = {r["name"]: r for r in describe()}
    names = list(recipes)
    st.session_state.setdefault("train_recipe", "dcgan" if "dcgan" in recipes else names[0])
    name = st.selectbox("Recipe", names, key="train_recipe", on_change=labelled_data_for_conditional)
    recipe = {**recipes[name], "conditional": RECIPES.get(name).conditional, "paired": RECIPES.get(name).paired}
    st.caption(f"{recipe['description']} Trains on: {', '.join(recipe['kinds'])} data.")
    return recipe


def labelled(source) -> bool:
    return bool({"labels", "attrs"} & set(source.tags))


def labelled_data_for_conditional() -> None:
    """Choosing a conditional recipe while an unlabelled built-in set is selected picks a
    labelled one instead (it could not train on the other); choosing the unlabelled set
    again afterwards is still allowed, and Start then says why it cannot run."""
    if not RECIPES.get(st.session_state["train_recipe"]).conditional:
        return
    sources = {s.name: s for s in list_sources() if s.builtin}
    current = sources.get(st.session_state.get("train_data"))
    if current is not None and not labelled(current):
        st.session_state["train_data"] = next((n for n, s in sources.items() if labelled(s) and s.kind == "image"), current.name)


def data_section(recipe: dict, settings) -> tuple[dict, str | None, str]:
    """Returns (data config fields, error sentence or None, kind of data)."""
    sources = list_sources()
    # A public demo never reads the server's folders: no typed path is offered, or used.
    modes = [BUILTIN, UPLOAD] if settings.demo else [BUILTIN, SERVER, UPLOAD]
    if st.session_state.get("train_data_mode") not in modes:
        st.session_state["train_data_mode"] = BUILTIN
    mode = st.radio("Data", modes, horizontal=True, key="train_data_mode")
    error = None
    pairs = pairs_choice(mode) if recipe["paired"] else None
    if mode == BUILTIN:
        builtin = {s.name: s for s in sources if s.builtin and s.kind in recipe["kinds"]}
        if st.session_state.get("train_data") not in builtin:
            st.session_state["train_data"] = "faces-lfw" if "faces-lfw" in builtin else next(iter(builtin))
        tag = (lambda n: ", labelled" if labelled(builtin[n]) else ", no labels") if recipe["conditional"] else (lambda n: "")
        name = st.selectbox("Built-in data set", list(builtin), key="train_data",
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
            if st.session_state.get("train_server_source") not in on_disk:
                st.session_state["train_server_source"] = next(iter(on_disk))
            name = st.selectbox("Kind of data", list(on_disk), key="train_server_source")
        st.caption(on_disk[name].description)
        raw = st.text_input("Path on the server", key="train_server_path", placeholder="e.g. faces/ or photos.zip",
                            help="A folder or .zip under the data folder; relative paths start there.")
        st.caption(f"Data folder: `{settings.data_root}`")
        data, kind = {"name": name}, on_disk[name].kind
        if recipe["conditional"] and "attrs" in on_disk[name].tags:
            wanted = st.text_input("Attributes to condition on", key="train_attributes", max_chars=500,
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
        file = st.file_uploader(label, type=["zip"], key="train_upload")
        data, kind = {"name": "paired" if pairs == FROM_FILES else "folder"}, "image"
        if file is None:
            error = "Upload a .zip of images first."
        else:
            checked = st.session_state.setdefault("_train_uploads", {})
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

    if kind == "image":
        left, right = st.columns(2)
        st.session_state.setdefault("train_image_size", DataConfig().image_size)
        data["image_size"] = left.selectbox("Image size (pixels)", IMAGE_SIZES, key="train_image_size")
        channels = right.radio("Colour", list(CHANNELS), key="train_channels", horizontal=True)
        data["channels"] = CHANNELS[channels]
        if pairs == FROM_FILES:
            data["direction"] = st.radio("Direction", list(DIRECTIONS), format_func=DIRECTIONS.get, horizontal=True,
                                         key="train_direction", help="Which half is the source the model learns to translate.")
        elif pairs is not None:
            data["pairs"] = pairs
    else:
        st.session_state.setdefault("train_n_points", DataConfig().n_points)
        data["n_points"] = int(st.number_input("Points drawn from the distribution (n_points)", step=1000, key="train_n_points"))
    return data, error, kind


def pairs_choice(mode: str) -> str:
    """pix2pix's pairs: derived from single images by one of PAIR_KINDS, or (for data
    from a folder or an upload) read from the files."""
    options = [k.name for k in PAIR_KINDS.values() if k.derived or mode != BUILTIN]  # built-in sets hold no pairs
    if st.session_state.get("train_pairs") not in options:
        st.session_state["train_pairs"] = options[0]
    pairs = st.selectbox("Pairs", options, format_func=lambda k: PAIR_KINDS[k].label, key="train_pairs",
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


@st.cache_data(max_entries=32, show_spinner="Checking the pairs...")
def pairs_problem(name: str, path: str | None, channels: int | None, pairs: str) -> str | None:
    """Why pairs cannot be derived from these data (a grey set cannot give grey -> colour
    pairs), as the run would say it when it loads them, or None. Loading one item at the
    smallest size makes the engine judge the data itself."""
    try:
        load_data(DataConfig(name=name, path=path, image_size=16, channels=channels, pairs=pairs, limit=1))
    except GanError as e:
        return str(e)
    return None


def recipe_defaults(recipe_name: str, data: dict) -> Config:
    """The recipe's settings for these data. For data it cannot train on (cgan on a set
    without labels), its settings on the first source it accepts, so the form still
    draws and Start says why the chosen data does not fit (form_problem)."""
    size = data.get("image_size", 32)
    problem = None
    for name in [data["name"]] + [s.name for s in list_sources() if s.name != data["name"]]:
        try:
            return resolve(Config(recipe=recipe_name, data=DataConfig(name=name, image_size=size,
                                                                      pairs=data.get("pairs") if name == data["name"] else None)))
        except GanError as e:
            problem = problem or str(e)
    st.error(plain(problem))
    st.stop()


def training_section(recipe_name: str, data: dict, settings) -> dict:
    """Widgets for the training settings; returns {dotted field: value} that differ from the recipe's defaults."""
    defaults = recipe_defaults(recipe_name, data)
    sig = recipe_name
    o, lo, t = defaults.optim, defaults.loss, defaults.train
    wasserstein = lo.g_loss == "wasserstein"

    put_default("train_batch_size", t.batch_size, "config")
    put_default("train_steps", min(t.steps, settings.max_steps or t.steps), "config")
    put_default("train_d_steps", lo.d_steps, sig)
    put_default("train_optimizer", o.optimizer, sig)
    put_default("train_lr_g", o.lr_g, sig)
    put_default("train_lr_d", o.lr_d, sig)
    put_default("train_seed", t.seed, "config")
    if not wasserstein:
        put_default("train_g_loss", lo.g_loss, sig)

    c1, c2 = st.columns(2)
    # No min or max on these boxes: a browser refuses a number outside them without
    # telling the server, which then runs the previous value. form_problem judges them.
    steps = c1.number_input("Steps", step=100, key="train_steps", help="Generator updates to train for.")
    batch_size = c2.number_input("Batch size", step=16, key="train_batch_size")
    if settings.demo:
        st.caption(f"Public demo: runs are limited to {settings.max_steps} steps and {settings.max_active_runs} at a time.")
    c1, c2 = st.columns(2)
    optimizer = c1.selectbox("Optimiser", OPTIMIZERS, key="train_optimizer")
    d_steps = c2.number_input("k (D steps per G step)", step=1, key="train_d_steps",
                              help="Goodfellow et al.'s k; WGANs train the critic 5 times per generator step.")
    c1, c2 = st.columns(2)
    lr_g = c1.number_input("Learning rate G", step=1e-5, format="%.1e", key="train_lr_g")
    lr_d = c2.number_input("Learning rate D", step=1e-5, format="%.1e", key="train_lr_d")
    if wasserstein:
        st.radio("Generator loss", ["wasserstein"], disabled=True, horizontal=True, key="train_g_loss_fixed",
                 help="WGAN recipes train with the Wasserstein loss; the critic estimates the distance between real and fake.")
        g_loss = lo.g_loss
    else:
        g_loss = st.radio("Generator loss", ["non-saturating", "minimax"], horizontal=True, key="train_g_loss", help=G_LOSS_HELP)
    paired_changes = pix2pix_fields(recipe_name, defaults, sig) if RECIPES.get(recipe_name).paired else {}
    c1, c2 = st.columns([3, 2])
    labels = {"auto": f"auto: {devices()[0][1]}", **dict(devices())}
    device = c1.selectbox("Device", list(labels), format_func=labels.get, key="train_device")
    seed = c2.number_input("Seed", step=1, key="train_seed")

    steps = int(steps)
    changes = {"train.steps": steps, "train.batch_size": int(batch_size), "train.seed": int(seed),
               "train.device": device, "train.sample_every": sample_every_for(steps)}
    # Fields left at the recipe's default stay unset, so the config (and its command line) says "recipe default".
    for field, value, default in (("loss.d_steps", int(d_steps), lo.d_steps), ("optim.optimizer", optimizer, o.optimizer),
                                  ("optim.lr_g", float(lr_g), o.lr_g), ("optim.lr_d", float(lr_d), o.lr_d),
                                  ("loss.g_loss", g_loss, lo.g_loss)):
        if value != default:
            changes[field] = value
    return {**changes, **paired_changes}


def pix2pix_fields(recipe_name: str, defaults: Config, sig: str) -> dict:
    """The generator (U-Net, or the encoder-decoder without skips) and the objective
    (the paper's, or one of its ablations); only what differs from the recipe's defaults."""
    put_default("train_arch", defaults.model.arch, sig)
    st.session_state.setdefault("train_objective", next(iter(OBJECTIVES)))
    c1, c2 = st.columns(2)
    arch = c1.radio("Generator", list(RECIPES.get(recipe_name).archs), horizontal=True, key="train_arch",
                    help="unet: the encoder's features skip across to the decoder at every level (the paper's choice); "
                         "encoder-decoder: the same network without the skips, the paper's ablation.")
    objective = c2.selectbox("Objective", list(OBJECTIVES), key="train_objective",
                             help=f"cGAN + L1: fool the discriminator and stay close to the target (λ = {defaults.loss.l1_weight:g}); "
                                  "L1 only: blurry but safe; cGAN only: sharp but free to drift from the target.")
    out = dict(OBJECTIVES[objective])
    if arch != defaults.model.arch:
        out["model.arch"] = arch
    return out


def build_config(recipe_name: str, data: dict, changes: dict) -> Config:
    cfg = Config(recipe=recipe_name).replace(**{f"data.{k}": v for k, v in data.items()})
    return cfg.replace(**changes)


def form_problem(cfg: Config, kind: str, settings) -> str | None:
    """Why Start cannot run ``cfg``, in one sentence, or None. The engine judges
    the config as it judges the command line (recipes.resolve); the page adds what
    this server allows one run, whatever number the browser sends."""
    try:
        resolved = resolve(cfg)
    except GanError as e:
        return str(e)
    d = resolved.data
    uploaded = d.path is not None and Path(d.path).is_relative_to(Path(settings.runs_dir) / UPLOADS)
    if d.pairs is not None and (d.name in BUILTIN_NAMES or uploaded):  # a server folder may be huge: its run says it
        problem = pairs_problem(d.name, d.path, d.channels, d.pairs)
        if problem:
            return problem
    t = resolved.train
    if settings.max_steps is not None and t.steps > settings.max_steps:
        return f"This server trains at most {settings.max_steps:,} steps per run, not {t.steps:,}; lower Steps."
    limits = [("Batch size", t.batch_size, 1, MAX_BATCH), ("k (D steps per G step)", resolved.loss.d_steps, 1, MAX_D_STEPS),
              ("Seed", t.seed, 0, MAX_SEED)]
    if kind == "vector":
        limits.append(("Points drawn from the distribution", resolved.data.n_points, 1, MAX_POINTS))
    for label, value, low, high in limits:
        if not low <= value <= high:
            return f"{label} must be between {low:,} and {high:,}, not {value:,}."
    return None


def start(cfg: Config, settings) -> None:
    last = st.session_state.get("_train_last_launch")
    if last and last[0] == cfg.to_json() and time.monotonic() - last[1] < 3:
        return  # a double click: this exact run was started a moment ago
    try:
        run_dir = jobs.launch(cfg, settings.runs_dir, max_active=settings.max_active_runs, owner=visitor(settings))
    except GanError as e:
        st.error(plain(str(e)))
        return
    st.session_state["_train_last_launch"] = (cfg.to_json(), time.monotonic())
    st.query_params["run"] = run_dir.name
    st.session_state["train_watched"] = run_dir.name
    st.toast(f"Started {run_dir.name}", icon=":material/rocket_launch:")


def settings_form(settings) -> None:
    with st.container(border=True):
        presets_section(settings)
    restore_form()
    with st.container(border=True):
        recipe = recipe_section()
    with st.container(border=True):
        data, data_error, kind = data_section(recipe, settings)
    with st.container(border=True):
        changes = training_section(recipe["name"], data, settings)
    remember_form()
    cfg = build_config(recipe["name"], data, changes)  # the one config shown, checked and launched
    problem = data_error or form_problem(cfg, kind, settings)
    if problem is None:
        duration_caption(cfg, settings)  # before Start, on every launch
    clicked = st.button("Start training", type="primary", icon=":material/play_arrow:", width="stretch",
                        disabled=problem is not None, key="train_start")
    if data_error is not None and not st.session_state.get("train_server_path") and not st.session_state.get("train_upload"):
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


def choose_run(all_runs: list[runs.RunInfo]) -> runs.RunInfo | None:
    """The run to watch: ?run=<id> if it names a run, else the one this session last
    watched, else the newest active run. Only ids from list_runs are ever used."""
    by_id = {r.id: r for r in all_runs}
    wanted = st.query_params.get("run")
    if wanted not in by_id:
        wanted = st.session_state.get("train_watched")
    if wanted not in by_id:
        wanted = next((r.id for r in all_runs if r.active), None)
    if wanted is None:
        st.query_params.pop("run", None)
    elif st.query_params.get("run") != wanted:
        st.query_params["run"] = wanted
    st.session_state["train_watched"] = wanted
    st.session_state["train_watch_select"] = wanted

    def picked():
        choice = st.session_state["train_watch_select"]
        st.session_state["train_watched"] = choice
        st.query_params["run"] = choice

    st.selectbox("Watch a run", list(by_id), key="train_watch_select", on_change=picked,
                 format_func=lambda i: run_label(by_id[i]), placeholder="Choose a run to watch")
    return by_id.get(wanted)


BLOWN_UP_STATES = ("finished", "stopped", "interrupted")  # ended without an error of their own


def state_label(info: runs.RunInfo, blown: str | None) -> str:
    """The run's badge: an ended run whose losses blew up is never a green "finished"."""
    return ":red-badge[exploded]" if blown and info.state in BLOWN_UP_STATES else state_badge(info.state)


def show_state(info: runs.RunInfo, status: dict, blown: str | None = None) -> None:
    """What happened to the run; ``blown`` is gan_core.health's sentence when its losses blew up."""
    message = status.get("message")
    if blown and info.state in BLOWN_UP_STATES:
        what = {"finished": f"Ran all {info.total:,} steps in {fmt_duration(status.get('elapsed'))}.",
                "stopped": f"Stopped at step {info.step:,}.", "interrupted": "The worker process ended without finishing."}
        st.error(plain(f"{what[info.state]} {blown}"), icon=":material/warning:")
    elif blown and info.active:
        st.warning(plain(blown), icon=":material/warning:")  # still training: Stop saves the time
    elif info.state == "queued":
        st.info("Starting the worker process; loading PyTorch takes a few seconds.", icon=":material/hourglass_top:")
    elif info.state == "finished":
        st.success(" ".join(filter(None, [f"Finished all {info.total} steps in {fmt_duration(status.get('elapsed'))}.", message])))
    elif info.state == "stopped":
        st.warning(plain(message) if message else f"Stopped at step {info.step}; Resume continues from there.")
    elif info.state == "interrupted":
        st.warning("The worker process ended without finishing (killed or crashed); Resume continues from the last checkpoint.")
    elif info.state in ("failed", "diverged", "unreadable"):
        st.error(plain(info.error) if info.error else "The run failed; see its log below.")
    elif message:
        st.caption(plain(message))


def show_health(findings: list[Finding], rows: list[dict], blown: str | None) -> None:
    """gan_core.health's diagnosis in plain words: "healthy so far", or each finding with what to try."""
    if not judged(rows):
        return  # too few logged steps to say anything
    if not findings:
        st.markdown(f":green-badge[{HEALTHY}] No sign yet of D winning, collapse, oscillation or exploding losses.")
    for f in findings:
        if blown and f.code == "exploded":
            continue  # show_state has said it, with what happened to the run
        show = st.error if f.severity == "error" else st.warning
        show(f"**{plain(f.title)}.** {plain(f.sentence)} **Try:** {plain(f.advice)}", icon=":material/stethoscope:")


def progress(info: runs.RunInfo, status: dict) -> None:
    fraction = min(1.0, info.step / info.total) if info.total else 0.0
    parts = [f"Step {info.step:,} / {info.total:,}"]
    if info.images_per_s:
        parts.append(f"{info.images_per_s:,.0f} images/s")
    if info.active and info.eta is not None and info.step:
        parts.append(f"ETA {fmt_duration(info.eta)}")
    elif status.get("elapsed"):
        parts.append(f"trained for {fmt_duration(status['elapsed'])}")
    st.progress(fraction, text="  ·  ".join(parts))


def controls(info: runs.RunInfo, settings) -> None:
    if not may_act(info, settings):
        return  # demo mode: another visitor's run is never shown, let alone stopped
    if info.active:
        stopping = (info.path / "STOP").exists()
        st.button("Stopping..." if stopping else "Stop", icon=":material/stop:", key="train_stop", disabled=stopping,
                  on_click=jobs.stop, args=(info.path,), help="Stops after the current step and saves a checkpoint.")
    elif info.state in RESUMABLE:
        if st.button("Resume", icon=":material/play_arrow:", key="train_resume"):
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
            st.caption(f"No sample grid was saved: the run ended at step {info.step:,}, before the first one at step {sample_every:,}.")
        return
    step, path = grids[-1]
    if not info.active and len(grids) > 1:
        step = st.select_slider("Samples at step", [s for s, _ in grids], value=step, key=f"train_grid_{info.id}")
        path = dict(grids)[step]
    what = ("Source | output | target triplets" if paired else "Fixed-noise samples" if kind == "image"
            else "Generated points over the real ones")
    st.image(path.read_bytes(), caption=f"{what}, step {step:,}" + (f": {note}" if note else ""), width="stretch")


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
        wasserstein = cfg.loss.g_loss == "wasserstein"

        rows = read_all_metrics(info.path)
        blown = exploded(rows)
        head, buttons = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"**{cfg.recipe} on {cfg.data.name}** {state_label(now, blown)}")
        head.caption(f"{status.get('device', cfg.train.device)} · batch {cfg.train.batch_size} · {cfg.optim.optimizer} "
                     f"G {cfg.optim.lr_g:.1e} / D {cfg.optim.lr_d:.1e} · k = {cfg.loss.d_steps} · {cfg.loss.g_loss} loss")
        with buttons:
            controls(now, settings)
        progress(now, status)
        show_state(now, status, blown)
        show_health(diagnose(rows, cfg.recipe, data_kind, cfg), rows, blown)

        left, right = st.columns([5, 2], gap="medium")
        with left:
            note = triplets_note(cfg)
            samples(now, data_kind, cfg.train.sample_every, note or condition_rows_note(cfg, info.path), paired=note is not None)
        with right:
            latest_numbers(rows, wasserstein)
        if rows:
            st.plotly_chart(loss_figure(rows, wasserstein), key="train_loss_chart", config={"displaylogo": False})
            st.plotly_chart(discriminator_figure(rows, wasserstein), key="train_d_chart", config={"displaylogo": False})
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

form, watch = st.columns([2, 3], gap="large")
with form:
    settings_form(settings)
with watch:
    st.subheader("Live view")
    all_runs = visible_runs(settings)  # demo mode: this visitor's own runs only, whatever ?run= says
    if not all_runs:
        st.info("No runs yet: choose your settings and press Start training.", icon=":material/info:")
    else:
        watched = choose_run(all_runs)
        if watched is None:
            st.caption("No run is training now; pick one above to see its curves and samples.")
        else:
            live_view(watched, settings)
