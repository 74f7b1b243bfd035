"""The gallery, titled for what it shows (generated faces, digits or points): sample a
trained generator, look at one face large beside its nearest training images,
interpolate between two faces and take the results away. Its top says in a few
lines what a GAN is and where to begin (the guided start).

The page reads widgets, calls gan_core (which returns numpy arrays and bytes) and
renders; it never trains and never touches torch.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from gan_core import catalog, inference, memorisation, pictures, uploads
from gan_core.errors import GanError
from gan_core.settings import run_limits
from pages.common.keys import Gallery, Train
from pages.common.session import restore_upload, settings_or_stop, through_app, tidy_uploads, use_upload, visitor
from pages.common.shared import kept, plain, shared_results

through_app()

TRAIN_COMMAND = "python -m gan_core train --recipe dcgan --data faces-lfw --steps 300"
GRID_DISPLAY_PX = 480  # the grid's width on screen (less where the column is narrower)
GRID_SOURCE_PX = 720  # the grid is enlarged by a whole factor to about this width, then drawn at the width above
LARGE_PX = 288  # the selected face
NEIGHBOUR_PX = 128  # each nearest training image


# ------------------------------------------------------------------ cached engine calls


@st.cache_resource(max_entries=4, show_spinner="Loading the generator…")
def load_generator(path: str, mtime: float):
    """One generator per checkpoint file version, shared by every session."""
    return inference.cached_generator(path)


# Results kept for reruns in every session's byte-bounded store (shared.kept_results), not in
# st.cache_data, which bounds entries and not bytes (+830 MB kept by 32 seeds of a 256 px
# colour model). The arrays come back read-only: every session shares them.
def draw_samples(path: str, mtime: float, n: int, seed: int, truncation: float) -> np.ndarray:
    return kept(shared_results(settings.demo), ("gallery-samples", path, mtime, n, seed, truncation),
                lambda: inference.sample(load_generator(path, mtime), n, seed, truncation))


def draw_interpolation(path: str, mtime: float, a: tuple[int, int], b: tuple[int, int], frames: int, n: int,
                       truncation: float) -> np.ndarray:
    return kept(shared_results(settings.demo), ("gallery-interpolation", path, mtime, a, b, frames, n, truncation),
                lambda: inference.interpolate(load_generator(path, mtime), a[0], a[1], b[0], b[1], frames, n, truncation))


def make_gif(path: str, mtime: float, key: tuple, frames: np.ndarray, scale: int) -> bytes:
    """The GIF of the interpolation ``key`` drew from the checkpoint (path, mtime)."""
    return kept(shared_results(settings.demo), ("gallery-gif", path, mtime, key, scale),
                lambda: pictures.gif_bytes(frames, scale=scale, duration_ms=110))


# --------------------------------------------------------------------------- helpers


def fit_scale(width_px: int, target_px: int, most: int = 12) -> int:
    """The whole-number enlargement that brings ``width_px`` closest to ``target_px`` without passing it."""
    return int(min(most, max(1, target_px // max(1, width_px))))


def accent() -> str:
    """The theme's primary colour (.streamlit/config.toml), for the selection frame and generated points."""
    return st.get_option("theme.primaryColor") or "#ff4b4b"


def png_data_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(pictures.image_png(image)).decode()


def grid_figure(images: np.ndarray, selected: int, scale: int) -> go.Figure:
    """The sample grid as a picture whose faces can be clicked: an image trace under
    one invisible marker per face (plotly reports clicks on markers), and a frame
    around the selected face. Everything is placed in grid-pixel coordinates, so
    the picture, the frame and the click targets stay aligned at whatever width
    the browser gives the chart."""
    n, h, w = images.shape[:3]
    grid = pictures.make_grid(images)
    big = pictures.upscale(grid, scale)
    boxes = pictures.grid_cells(n, (h, w))
    gh, gw = grid.shape[:2]
    fig = go.Figure()
    # x0/y0 are pixel centres: half an enlarged pixel in, so the picture covers exactly [0, gw] x [0, gh].
    fig.add_trace(go.Image(source=png_data_uri(big), x0=0.5 / scale, y0=0.5 / scale, dx=1 / scale, dy=1 / scale,
                           hoverinfo="skip"))
    cell_px = GRID_DISPLAY_PX * w / gw
    fig.add_trace(go.Scatter(
        x=[(x0 + x1) / 2 for x0, _, x1, _ in boxes], y=[(y0 + y1) / 2 for _, y0, _, y1 in boxes],
        mode="markers", customdata=np.arange(1, n + 1),
        marker=dict(symbol="square", size=cell_px, opacity=0),
        selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
        hovertemplate="Sample %{customdata}<extra></extra>", showlegend=False,
    ))
    x0, y0, x1, y1 = boxes[selected - 1]
    fig.add_shape(type="rect", x0=x0 - 1, y0=y0 - 1, x1=x1 + 1, y1=y1 + 1, line=dict(color=accent(), width=3))
    fig.update_xaxes(visible=False, range=[0, gw], fixedrange=True, constrain="domain", constraintoward="left")
    fig.update_yaxes(visible=False, range=[gh, 0], fixedrange=True, scaleanchor="x", constrain="domain",
                     constraintoward="top")
    fig.update_layout(height=round(GRID_DISPLAY_PX * gh / gw), margin=dict(l=0, r=0, t=0, b=0),
                      dragmode=False, hovermode="closest", hoverdistance=int(cell_px), clickmode="event+select",
                      plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig


def on_grid_click(key: str) -> None:
    points = st.session_state[key].selection.get("points") or []
    for p in points:
        if p.get("curve_number") == 1 and p.get("point_index") is not None:
            st.session_state[Gallery.PICK] = int(p["point_index"]) + 1
            return


def on_checkpoint_upload(runs_dir, owner) -> None:
    """Keep an uploaded checkpoint and select it; runs before the widgets are drawn,
    which is when the checkpoint menu's choice may still be changed."""
    upload = st.session_state.get(Gallery.UPLOAD)
    st.session_state[Gallery.UPLOAD_ERROR] = None
    if upload is None:
        return
    try:
        saved = uploads.save_gallery_upload(upload.getvalue(), upload.name, runs_dir, owner)
    except GanError as e:
        st.session_state[Gallery.UPLOAD_ERROR] = str(e)
    else:
        st.session_state[Gallery.CHECKPOINT] = str(saved)
        use_upload("checkpoint", saved)


def new_samples() -> None:
    st.session_state[Gallery.SEED] = int(st.session_state[Gallery.SEED]) + 1


def use_selected_as(end: str) -> None:
    st.session_state[Gallery.interp_seed(end)] = int(st.session_state[Gallery.SEED])
    st.session_state[Gallery.interp_pick(end)] = int(st.session_state[Gallery.PICK])


# ------------------------------------------------------------------------- sections


def show_images(entry: catalog.CheckpointEntry, n: int, seed: int, truncation: float) -> None:
    key = (str(entry.path), entry.mtime)
    images = draw_samples(*key, n, seed, truncation)
    h, w = images.shape[1:3]
    if st.session_state.get(Gallery.PICK, 1) > n:
        st.session_state[Gallery.PICK] = n

    left, right = st.columns([3, 2], gap="large")
    with left:
        grid_w = pictures.make_grid(images).shape[1]
        scale = fit_scale(grid_w, GRID_SOURCE_PX)
        # One chart key per grid: a new grid starts with a fresh click state.
        chart_key = f"gallery_grid_{abs(hash((key, n, seed, truncation, scale)))}"
        st.plotly_chart(grid_figure(images, int(st.session_state.get(Gallery.PICK, 1)), scale), width="stretch",
                        key=chart_key, on_select=lambda: on_grid_click(chart_key), selection_mode="points",
                        config={"displayModeBar": False, "scrollZoom": False, "doubleClick": False})
        # Faces invite a close look; digits, clothes and photo tiles are "samples".
        thing = "face" if what_it_shows(entry) == "faces" else "sample"
        st.caption(f"Seed {seed}: {n} samples of {w}\u00d7{h} pixels. Click a {thing} to look at it closely.")
        d1, d2 = st.columns(2)
        stem = f"{entry.recipe}-{entry.data}-seed{seed}"
        # Made when clicked, not on every rerun; a download does not rerun the page.
        d1.download_button("Grid as PNG", lambda: pictures.image_png(pictures.upscale(pictures.make_grid(images), scale)),
                           file_name=f"{stem}-grid.png", mime="image/png", icon=":material/download:", width="stretch",
                           on_click="ignore", help=f"The grid as shown, {scale}\u00d7 enlarged.")
        d2.download_button(f"{n} samples as zip", lambda: pictures.samples_zip(images, stem),
                           file_name=f"{stem}.zip", mime="application/zip", icon=":material/folder_zip:", width="stretch",
                           on_click="ignore", help=f"A zip of {n} PNGs, one per sample, at the generator's own {w}\u00d7{h} pixels.")

    with right:
        pick = st.number_input("Selected sample", min_value=1, max_value=n, step=1, key=Gallery.PICK,
                               help=f"Click a {thing} in the grid, or type its number (counted row by row from the top left).")
        face = images[pick - 1]
        smooth = st.session_state.get(Gallery.SMOOTH, False)
        st.image(pictures.upscale(face, fit_scale(w, LARGE_PX), smooth=smooth),
                 caption=f"Sample {pick} of seed {seed}, {w}\u00d7{h} pixels shown {fit_scale(w, LARGE_PX)}\u00d7 larger")
        st.toggle("Smooth enlargement", key=Gallery.SMOOTH,
                  help="Off: every generated pixel is a square. On: Lanczos resampling, which hides the pixel grid.")
        show_neighbours(entry, face)

    show_interpolation(entry, n, truncation, (h, w))


def show_neighbours(entry: catalog.CheckpointEntry, face: np.ndarray) -> None:
    st.markdown("**Nearest training images**")
    try:
        with st.spinner("Loading the training images…"):
            cfg = load_generator(str(entry.path), entry.mtime).config
            pool = memorisation.training_pool(memorisation.comparison_data(entry, cfg, settings))
        neighbours = memorisation.nearest_training_images(face, pool.images, k=3)
    except GanError as e:
        st.warning(plain(str(e)))
        return
    cols = st.columns(len(neighbours))
    scale = fit_scale(face.shape[1], NEIGHBOUR_PX)
    for col, nb in zip(cols, neighbours):
        col.image(pictures.upscale(nb.image, scale), caption=f"#{nb.index + 1} \u00b7 {nb.rms:.0%} off")
    searched = f"all {pool.total:,}" if len(pool.images) == pool.total else f"the first {len(pool.images):,} of {pool.total:,}"
    st.caption(f"The closest of {searched} {pool.name} training images by pixel (L2) distance; \u201coff\u201d is the "
               "root-mean-square pixel difference. A near-copy scores close to 0%, so this is a rough memorisation "
               "check: pixel distance misses copies that are shifted or mirrored.")


@st.fragment
def show_interpolation(entry: catalog.CheckpointEntry, n: int, truncation: float, hw: tuple[int, int]) -> None:
    st.subheader("Interpolate between two samples")
    st.caption("Walks the noise on a great circle (slerp) from one sample to another, which may come from different seeds. "
               f"Smooth changes mean the generator learned a continuous space of {what_it_shows(entry)} rather than a list of "
               "pictures.")
    for end, default_pick in (("a", 1), ("b", min(2, n))):
        st.session_state.setdefault(Gallery.interp_seed(end), int(st.session_state.get(Gallery.SEED, 0)))
        st.session_state.setdefault(Gallery.interp_pick(end), default_pick)
        if st.session_state[Gallery.interp_pick(end)] > n:
            st.session_state[Gallery.interp_pick(end)] = n

    c1, c2, c3 = st.columns([2, 2, 3])
    with c1:
        a1, a2 = st.columns(2)
        a1.number_input("Start: seed", min_value=0, max_value=2**31 - 1, step=1, key=Gallery.interp_seed("a"))
        a2.number_input("Start: sample", min_value=1, max_value=n, step=1, key=Gallery.interp_pick("a"))
        st.button("Start from the selected sample", on_click=use_selected_as, args=("a",), width="stretch")
    with c2:
        b1, b2 = st.columns(2)
        b1.number_input("End: seed", min_value=0, max_value=2**31 - 1, step=1, key=Gallery.interp_seed("b"))
        b2.number_input("End: sample", min_value=1, max_value=n, step=1, key=Gallery.interp_pick("b"))
        st.button("End at the selected sample", on_click=use_selected_as, args=("b",), width="stretch")
    with c3:
        frames = st.slider("Frames", min_value=3, max_value=16, value=8, key="interp_frames")

    a = (int(st.session_state[Gallery.interp_seed("a")]), int(st.session_state[Gallery.interp_pick("a")]) - 1)
    b = (int(st.session_state[Gallery.interp_seed("b")]), int(st.session_state[Gallery.interp_pick("b")]) - 1)
    strip_frames = draw_interpolation(str(entry.path), entry.mtime, a, b, frames, n, truncation)
    h, w = hw
    s_left, s_right = st.columns([4, 1], gap="large")
    with s_left:
        strip = pictures.strip(strip_frames)
        st.image(pictures.upscale(strip, fit_scale(strip.shape[1], 900, most=6)),
                 caption=f"Sample {a[1] + 1} of seed {a[0]} \u2192 sample {b[1] + 1} of seed {b[0]} in {frames} frames "
                         "(each sample as drawn in a grid of this size and truncation).")
    with s_right:
        gif = make_gif(str(entry.path), entry.mtime, (a, b, frames, n, truncation), strip_frames, fit_scale(w, 160))
        st.image(gif, caption="Animated, there and back")
        st.download_button("Download the GIF", gif, file_name=f"interpolation-{a[0]}-{a[1] + 1}-to-{b[0]}-{b[1] + 1}.gif",
                           mime="image/gif", icon=":material/download:", width="stretch", on_click="ignore")


def show_points(entry: catalog.CheckpointEntry, n: int, seed: int, truncation: float) -> None:
    points = draw_samples(str(entry.path), entry.mtime, n, seed, truncation)
    cfg = load_generator(str(entry.path), entry.mtime).config
    try:
        real = memorisation.training_points(memorisation.comparison_data(entry, cfg, settings), 2000)
    except GanError as e:
        st.warning(plain(str(e)))
        real = None
    fig = go.Figure()
    if points.shape[1] == 1:
        if real is not None:
            fig.add_trace(go.Histogram(x=real[:, 0], name="training data", histnorm="probability density",
                                       marker_color="lightgrey", opacity=0.8, nbinsx=80))
        fig.add_trace(go.Histogram(x=points[:, 0], name="generated", histnorm="probability density",
                                   marker_color=accent(), opacity=0.6, nbinsx=80))
        fig.update_layout(barmode="overlay", xaxis_title="x", yaxis_title="density")
    else:
        if real is not None:
            fig.add_trace(go.Scattergl(x=real[:, 0], y=real[:, 1], mode="markers", name="training data",
                                       marker=dict(size=4, color="lightgrey")))
        fig.add_trace(go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", name="generated",
                                   marker=dict(size=4, color=accent(), opacity=0.7)))
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
        fig.update_layout(xaxis_title="x\u2081", yaxis_title="x\u2082")
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.06))
    st.plotly_chart(fig, key="gallery_points")
    st.caption(f"{n:,} generated points (seed {seed}) over the {cfg.data.name} training points. "
               "A generator that covers every cluster has not collapsed onto a few modes.")


# ----------------------------------------------------------------------------- the guided start

# What a checkpoint makes, by the data it learned from: the page is titled for it.
SHOWS = {"faces-lfw": "faces", "celeba": "faces", "mnist-5k": "digits", "mnist": "digits", "fashion-mnist": "clothes",
         "photos": "photo tiles"}
QUICK_STARTS = {"ring": "Watch a GAN learn a ring of points", "digits": "Watch a GAN learn to write digits"}


def what_it_shows(entry: catalog.CheckpointEntry | None) -> str:
    if entry is None or entry.error:
        return "samples"
    return "points" if entry.kind == "vector" else SHOWS.get(entry.data or "", "images")


def guided_start() -> None:
    """A few lines on what a GAN is, and where to begin."""
    with st.container(border=True):
        st.markdown(
            "**New to GANs?** A generative adversarial network trains two networks against each other. The "
            "**generator** G turns random noise into samples; the **discriminator** D learns to tell them from real "
            "data, and G learns from D's verdicts. When D can do no better than guess (D = ½ everywhere), G's samples "
            "follow the data's distribution (Goodfellow et al. 2014).")
        st.markdown(
            "**Where to begin:** below, what trained generators make. To watch one learn, start a one-minute run on "
            "the **Train** page (or press a button here); the **Runs** page overlays runs' curves and runs the articles' "
            "comparisons in one click; the **Lab** pages show the theory happen.")
        st.markdown(
            "**What to expect:** the demos here are small models trained in minutes on a 2-core CPU, so their pictures are "
            "tiny: 32×32 grey faces learned from 100 face crops of 25×25 pixels (scaled up) and 28×28 digits, not the "
            "1024-pixel photographs of "
            "large GANs trained for days on GPUs.")
        cols = st.columns(len(QUICK_STARTS))
        for col, (key, label) in zip(cols, QUICK_STARTS.items()):
            if col.button(label, key=f"start_{key}", icon=":material/bolt:", width="stretch"):
                st.session_state[Train.PRESET_REQUEST] = key  # pages/train.py fills its form with this preset
                st.switch_page("pages/train.py")


# ----------------------------------------------------------------------------- page

title = st.empty()  # named below for what the chosen checkpoint makes
title.title("Generated samples")
guided_start()
settings = settings_or_stop()
if settings.demo:
    st.caption(f":material/public: Public demo: runs {run_limits(settings)}; {settings.max_active_runs} can train at once.")

# Demo mode: the shipped checkpoints and this visitor's own uploads and runs only.
if restore_upload(st.session_state.get(Gallery.CHECKPOINT), st.session_state.get(Gallery.UPLOAD)):
    on_checkpoint_upload(settings.runs_dir, visitor(settings))  # the visitor's other tab replaced it and the sweep removed it: keep it again
use_upload("checkpoint", st.session_state.get(Gallery.CHECKPOINT))
tidy_uploads(settings)
entries = [e for e in catalog.list_checkpoints(settings.checkpoints_dir, settings.runs_dir, visitor(settings), isolated=settings.demo)
           if e.recipe not in catalog.TRANSLATORS]  # image-to-image models translate uploads (Pix2Pix page); they draw nothing from noise
if not entries:
    st.info(f"There is no checkpoint to sample yet: train one with `{TRAIN_COMMAND}` (or on the Train page) and it appears here.")
    st.stop()

by_key = {e.key: e for e in entries}
keys = list(by_key)
if st.session_state.get(Gallery.CHECKPOINT) not in by_key:
    st.session_state.pop(Gallery.CHECKPOINT, None)
st.session_state.setdefault(Gallery.SEED, 0)

c_ckpt, c_info = st.columns([3, 2], vertical_alignment="bottom")
chosen = c_ckpt.selectbox("Checkpoint", keys, index=keys.index(catalog.default_checkpoint(entries).key),
                          format_func=lambda k: by_key[k].label, key=Gallery.CHECKPOINT,
                          help="Shipped demo checkpoints first, then uploaded ones, then the latest weights of every run, newest first.")
with st.expander("Use a checkpoint of your own", icon=":material/upload:"):
    st.caption("A generator trained elsewhere, e.g. on a GPU server, and made small with "
               "`python -m gan_core export RUN_DIR --out my.safetensors`. Only .safetensors files are "
               "accepted: they hold weights and the config, never code.")
    st.file_uploader("Checkpoint (.safetensors)", type=["safetensors"], key=Gallery.UPLOAD,
                     on_change=on_checkpoint_upload, args=(settings.runs_dir, visitor(settings)))
    if st.session_state.get(Gallery.UPLOAD_ERROR):
        st.error(plain(st.session_state[Gallery.UPLOAD_ERROR]))

entry = by_key[chosen]
if entry.error:
    st.error(plain(entry.error))
    st.stop()
c_info.caption(plain(entry.summary()))
if entry.note:  # a shipped demo: what it learned from, at what size, for how long, what to expect
    st.caption(f":material/info: {entry.note}")
title.title(f"Generated {what_it_shows(entry)}")

points = entry.kind == "vector"
c_n, c_trunc, c_seed, c_new = st.columns([2.6, 2.6, 1.8, 2.2], vertical_alignment="bottom")
if points:
    n = c_n.slider("Points", min_value=100, max_value=5000, value=1000, step=100, key="gallery_points_n")
else:
    n = c_n.slider("Samples", min_value=4, max_value=64, value=36, key="gallery_n")
truncation = c_trunc.slider("Truncation", min_value=0.1, max_value=1.0, value=1.0, step=0.05, key="gallery_truncation",
                            help="Below 1, extreme noise values are redrawn (the truncation trick): less variety, more typical samples.")
seed = int(c_seed.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=Gallery.SEED,
                               help="The same seed always draws the same samples from a checkpoint."))
c_new.button("New samples", on_click=new_samples, icon=":material/casino:", width="stretch",
             help="Draw another set: the next seed.")

try:
    load_generator(str(entry.path), entry.mtime)
except GanError as e:
    st.error(plain(str(e)))
    st.stop()

try:  # a request over the server's budget (gan_core.budget) is refused in one sentence
    if points:
        show_points(entry, n, seed, truncation)
    else:
        show_images(entry, n, seed, truncation)
except GanError as e:
    st.error(plain(str(e)))
