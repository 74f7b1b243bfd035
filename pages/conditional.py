"""Conditional generation: choose what a cgan generator makes. Pick a class (or set
attributes on and off), see one row per class with the noise held fixed, morph
from one condition to another, and ask an independent judge whether the model
obeys its conditions.

The page reads widgets, calls gan_core (numpy arrays and bytes back) and renders;
it never trains and never touches torch.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from gan_core import catalog, inference, pictures, uploads
from gan_core.errors import GanError
from pages.common.checkpoints import loaded_or_stop, own_checkpoint
from pages.common.judge import judge_section
from pages.common.keys import Conditional
from pages.common.session import settings_or_stop, through_app, visitor
from pages.common.shared import download_stem, fingerprint, kept, plain, shared_results

through_app()

TRAIN_COMMAND = "python -m gan_core train --recipe cgan --data mnist-5k --arch mlp --image-size 28"
HALF_PX = 480  # grids are enlarged by a whole factor to about this width: half the page


# ------------------------------------------------------------------ cached engine calls


@st.cache_resource(max_entries=4, show_spinner="Loading the generator…")
def load_generator(path: str, mtime: float):
    return inference.cached_generator(path)


# Results kept for reruns in every session's byte-bounded store (shared.kept_results), not in
# st.cache_data, which bounds entries and not bytes: sixteen seeds of a 1,000-class grid kept
# +2.4 GB in a demo server. The arrays come back read-only (shared by every session).
# A condition enters a key as its fingerprint, never as itself: a 1,000-class identity matrix
# as a tuple of floats is a 30 MB key, which the store's byte count would not see.
def draw(path: str, mtime: float, cond: np.ndarray, n: int, seed: int, truncation: float) -> np.ndarray:
    cond = np.asarray(cond, dtype=np.float32)
    return kept(shared_results(settings.demo), ("cgan-draw", path, mtime, fingerprint(cond), n, seed, truncation),
                lambda: inference.sample(load_generator(path, mtime), n, seed, truncation, cond=cond))


def draw_rows(path: str, mtime: float, conds: np.ndarray, cols: int, seed: int, truncation: float) -> np.ndarray:
    gen = load_generator(path, mtime)
    conds = np.asarray(conds, dtype=np.float32)
    # The whole request, rows then the grid shown, checked before anything is generated.
    inference.check_rows_view(gen, len(conds), cols, grid_scale(*pictures.grid_size(len(conds) * cols, inference.image_hwc(gen)[:2], cols)))
    return kept(shared_results(settings.demo), ("cgan-rows", path, mtime, fingerprint(conds), cols, seed, truncation),
                lambda: inference.condition_rows(gen, conds, cols, seed, truncation))


def draw_morph(path: str, mtime: float, a: np.ndarray, b: np.ndarray, steps: int, seed: int, index: int,
               truncation: float) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return kept(shared_results(settings.demo), ("cgan-morph", path, mtime, fingerprint(a, b), steps, seed, index, truncation),
                lambda: inference.morph(load_generator(path, mtime), a, b, steps, seed, index, truncation))


# --------------------------------------------------------------------------- helpers


def scale_for(width: int, target: int = HALF_PX, most: int = 8) -> int:
    """A whole enlargement factor (pixels stay square and sharp) that brings ``width`` near ``target``;
    a slightly larger image is fitted to its column by the browser."""
    return int(min(most, max(1, round(target / max(1, width)))))


def grid_scale(height: int, width: int) -> int:
    """The enlargement a grid of ``height`` × ``width`` px is shown at: near half the page's
    width, and never past the longest side a picture can be shown at."""
    return pictures.side_scale(scale_for(width), height, width)


def show_grid(images: np.ndarray, cols: int, caption: str, file_stem: str, key: str) -> None:
    grid = pictures.make_grid(images, nrow=cols)
    big = pictures.upscale(grid, grid_scale(*grid.shape[:2]))
    st.image(big, caption=plain(caption))  # captions render markdown; class names come from the checkpoint
    st.download_button("Download this grid (PNG)", lambda: pictures.image_png(big), file_name=f"{file_stem}.png",
                       mime="image/png", icon=":material/download:", on_click="ignore", key=key)


def condition_summary(gen) -> str:
    if gen.data.class_names:
        names = gen.data.class_names
        return f"Conditioned on {len(names)} classes: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}."
    names = gen.data.attr_names
    return f"Conditioned on {len(names)} attribute{'s' if len(names) != 1 else ''}: {', '.join(n.replace('_', ' ') for n in names)}."


# ------------------------------------------------------------------------- sections


def class_section(entry, gen, seed: int, truncation: float) -> None:
    names = gen.data.class_names
    key = (str(entry.path), entry.mtime)
    one, every = st.columns(2, gap="large")
    with one:
        st.subheader("One class")
        c1, c2 = st.columns(2)
        label = c1.selectbox("Class", names, key="cond_class", help="What the generator is asked to make.")
        n = c2.slider("Samples", 4, 64, 32, 4, key="cond_n")
        cond = inference.condition_vector(gen, label=label)
        images = draw(*key, cond, n, seed, truncation)
        show_grid(images, min(8, n), f"{n} samples of class {label} (seed {seed})", f"cgan-{label}-seed{seed}", "cond_dl_class")
    with every:
        st.subheader("One row per class")
        cols = st.slider("Columns", 2, 12, 8, key="cond_cols",
                         help="Each column keeps its noise from row to row, so only the class changes down a column.")
        try:  # refused in its column (too many classes to show): the other sections still work
            rows = draw_rows(*key, np.eye(len(names), dtype=np.float32), cols, seed, truncation)
            show_grid(rows, cols, f"Top to bottom: class {', '.join(names)}; the same noise down each column.",
                      f"cgan-rows-seed{seed}", "cond_dl_rows")
        except GanError as e:
            st.error(plain(str(e)))

    st.subheader("Morph between two classes")
    m1, m2, m3, m4 = st.columns(4)
    a = m1.selectbox("From", names, index=0, key="cond_from")
    b = m2.selectbox("To", names, index=min(1, len(names) - 1), key="cond_to")
    steps = m3.slider("Frames", 3, 16, 8, key="cond_frames")
    if st.session_state.get(Conditional.INDEX, 1) > cols:  # fewer columns than before: a kept value above the new maximum is an error
        st.session_state[Conditional.INDEX] = cols
    index = m4.number_input("Noise of column", 1, cols, 1, key=Conditional.INDEX,
                            help="Which column of the rows above lends its noise to the morph.")
    ca = inference.condition_vector(gen, label=a)
    cb = inference.condition_vector(gen, label=b)
    morph_strip(entry, ca, cb, steps, seed, int(index) - 1, truncation, f"Class {a} \u2192 {b}",
                f"cgan-morph-{download_stem(a)}-to-{download_stem(b)}")


MANY_ATTRIBUTES = 8  # more than this: one multiselect instead of a wall of toggles (CelebA has 40)


def chosen_attributes(names: list[str]) -> dict[str, float]:
    if len(names) > MANY_ATTRIBUTES:
        on = st.multiselect("Attributes on", names, key="cond_attrs_on", placeholder="None: every attribute off",
                            format_func=lambda n: n.replace("_", " "))
        return {name: 1.0 if name in on else 0.0 for name in names}
    toggles = st.columns(min(3, len(names)))
    return {name: 1.0 if toggles[i % len(toggles)].toggle(plain(name.replace("_", " ")), key=f"cond_attr_{name}") else 0.0
            for i, name in enumerate(names)}


def attribute_section(entry, gen, seed: int, truncation: float) -> None:
    names = gen.data.attr_names
    key = (str(entry.path), entry.mtime)
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Set attributes")
        chosen = chosen_attributes(names)
        n = st.slider("Samples", 4, 64, 16, 4, key="cond_attr_n")
        cond = inference.condition_vector(gen, attributes=chosen)
        on = [k.replace("_", " ") for k, v in chosen.items() if v] or ["none"]
        show_grid(draw(*key, cond, n, seed, truncation), min(8, n), f"Attributes on: {', '.join(on)} (seed {seed})",
                  f"cgan-attributes-seed{seed}", "cond_dl_attrs")
    with right:
        st.subheader("Flip one attribute")
        default = "Young" if "Young" in names else names[0]
        c1, c2 = st.columns(2)
        flip = c1.selectbox("Attribute", names, index=names.index(default), key="cond_flip",
                            help="The seeds' face-ageing example: the same noise and other attributes, this one off, then on.")
        cols = c2.slider("Faces", 2, 12, 8, key="cond_flip_cols")
        off, on_ = dict(chosen, **{flip: 0.0}), dict(chosen, **{flip: 1.0})
        conds = np.stack([inference.condition_vector(gen, attributes=c) for c in (off, on_)])
        show_grid(draw_rows(*key, conds, cols, seed, truncation), cols,
                  f"Top row: {flip} off; bottom row: {flip} on; other attributes as set on the left, the same noise in each column.",
                  f"cgan-{flip}-seed{seed}", "cond_dl_flip")
    st.subheader(plain(f"Morph: {flip} from off to on"))
    morph_strip(entry, np.array(conds[0]), np.array(conds[1]), 8, seed, 0, truncation, f"{flip} off \u2192 on",
                f"cgan-morph-{download_stem(flip)}-off-to-on")


def morph_strip(entry, ca, cb, steps: int, seed: int, index: int, truncation: float, what: str, stem: str) -> None:
    """The morph as a strip and a GIF; the GIF downloads as ``stem``.gif, named after its classes."""
    frames = draw_morph(str(entry.path), entry.mtime, ca, cb, steps, seed, index, truncation)
    strip = pictures.strip(frames)
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.image(pictures.upscale(strip, scale_for(strip.shape[1], 800, 6)),
               caption=plain(f"{what}: the noise stays fixed while the condition moves in a straight line."))
    gif = pictures.gif_bytes(frames, scale=scale_for(frames.shape[2], 160), duration_ms=140)
    right.image(gif, caption="The same, animated")
    right.download_button("Download the GIF", gif, file_name=f"{stem}.gif", mime="image/gif",
                          icon=":material/download:", on_click="ignore", key=f"cond_gif_{what}")


# ----------------------------------------------------------------------------- page

st.title("Conditional generation")
st.caption("A conditional GAN (Mirza & Osindero 2014) is given a condition, a class or a set of attributes, beside its noise, "
           "so you choose what it makes.")
settings = settings_or_stop()
owner = visitor(settings)
own_checkpoint("Use a conditional checkpoint of your own",
               "A cgan generator trained elsewhere and exported with `python -m gan_core export RUN_DIR --out my.safetensors`. "
               "Only .safetensors files are accepted.",
               "cond_upload", Conditional.CHECKPOINT, "cgan_checkpoint", uploads.save_conditional_upload, settings, owner)
entries = [e for e in catalog.list_checkpoints(settings.checkpoints_dir, settings.runs_dir, owner, isolated=settings.demo)
           if e.recipe == "cgan"]

if not entries:
    st.info(f"There is no conditional checkpoint yet: train one with `{TRAIN_COMMAND}` (or choose recipe cgan on the Train "
            "page) and it appears here. Unconditional generators are in the Gallery.")
    st.stop()

by_key = {e.key: e for e in entries}
if st.session_state.get(Conditional.CHECKPOINT) not in by_key:
    st.session_state[Conditional.CHECKPOINT] = entries[0].key
c_ckpt, c_seed, c_trunc = st.columns([3, 1, 1], vertical_alignment="bottom")
chosen = c_ckpt.selectbox("Checkpoint", list(by_key), format_func=lambda k: by_key[k].label, key=Conditional.CHECKPOINT)
seed = int(c_seed.number_input("Seed", 0, 2**31 - 1, 0, key="cond_seed"))
truncation = c_trunc.slider("Truncation", 0.1, 1.0, 1.0, 0.05, key="cond_truncation")
entry = by_key[chosen]
gen = loaded_or_stop(entry, load_generator)
st.caption(plain(f"{entry.summary()} {condition_summary(gen)}"))
if entry.note:  # a shipped demo: what it learned from, at what size, for how long, what to expect
    st.caption(f":material/info: {entry.note}")

try:  # a request over the server's budget (gan_core.budget) is refused in one sentence
    if gen.data.class_names:
        class_section(entry, gen, seed, truncation)
    else:
        attribute_section(entry, gen, seed, truncation)
except GanError as e:
    st.error(plain(str(e)))
st.subheader("Does it obey? An independent judge")
judge_section(entry, gen.config, settings, key="cond_judge")
