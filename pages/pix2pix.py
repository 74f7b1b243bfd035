"""Pix2Pix: translate pictures with an image-to-image model. Choose a checkpoint,
upload pictures (or A|B pairs) of any size, see the derived input, the output and,
on request, the PatchGAN's verdict on it; download each result at its own size.

Every upload goes through the engine's one checked door (untrusted.read_image) in
pages.common.shared.translate_upload, then gan_core.translate.translate_picture, which the
translate command calls too; the page reads widgets, calls it and renders. It never
trains and never touches torch.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from gan_core import catalog, translate, untrusted, uploads
from gan_core.data.paired import PAIR_KINDS
from gan_core.errors import GanError
from pages.common.checkpoints import loaded_or_stop, own_checkpoint
from pages.common.session import settings_or_stop, through_app, visitor
from pages.common.shared import ResultCache, cached_result, download_stem, for_page, named, plain, results_zip, shared_results, translate_upload

through_app()

TRAIN_COMMAND = "python -m gan_core train --recipe pix2pix --data colour-photos --pairs lab --image-size 64"
FACE_DATA = ("faces-lfw", "celeba")  # trained on faces: the sample photograph is a face, cropped as those are
AS_TRAINED = translate.AS_TRAINED  # scale each picture to the size of the training pictures (translate.training_scale)
SCALES = list(translate.SCALES)  # the translate command offers the same (--scale)
# Wall time of each shipped demo's documented training command on this project's 2-core CPU (docs/BENCHMARKS.md).
SHIPPED_TRAINING_TIME = {
    "pix2pix-grey-to-colour-photos": "11 min 06 s",
    "pix2pix-edges-to-faces": "14 min 38 s",
    "pix2pix-super-resolution-photos": "6 min 53 s",
}
SEEN = {True: "seen in training", False: "never seen", None: "training data unknown"}


# ------------------------------------------------------------------ cached engine calls


@st.cache_resource(max_entries=4, show_spinner="Loading the translator…")
def load_translator(path: str, mtime: float):
    return translate.cached_translator(path)


def results_cache() -> ResultCache:
    """Every session's translations, with the other pages' results, bounded by bytes (shared.kept_results)."""
    return shared_results(settings.demo)


# Keyed by the picture's bytes (a hash) and name, or the sample's name, the checkpoint's path and mtime and
# the settings; a refusal is kept too, so a bad file is not read again on every rerun.
def translated_upload(path: str, mtime: float, data: bytes, name: str, pair: bool, scale: str | float, derive: bool,
                      realism: bool, enlarge: int = 1, strength: float | None = None):
    def compute():
        try:
            return for_page(translate_upload(load_translator(path, mtime), data, name, pair=pair, scale=scale, derive=derive,
                                             realism=realism, enlarge=enlarge, strength=strength))
        except GanError as e:
            return str(e)

    key = ("upload", path, mtime, hashlib.sha256(data).hexdigest(), name, pair, scale, derive, enlarge, strength)
    return cached_result(results_cache(), key, realism, compute)


def translated_sample(path: str, mtime: float, name: str, scale: str | float, derive: bool, realism: bool,
                      enlarge: int = 1, strength: float | None = None):
    def compute():
        try:
            result = translate.translate_picture(load_translator(path, mtime), translate.sample_photo(name), scale=scale,
                                                 derive=derive, realism=realism, enlarge=enlarge, strength=strength)
            return for_page(named(result, f"{name}.png"))
        except GanError as e:
            return str(e)

    return cached_result(results_cache(), ("sample", path, mtime, name, scale, derive, enlarge, strength), realism, compute)


# --------------------------------------------------------------------------- helpers


def demos_first(entries: list) -> list:
    """Shipped demos first, the colour-photo ones before the others (the colouriser, then the
    4x enlarger, by name): the sample photographs are colour, and list_checkpoints puts faces
    first for the gallery's sake."""
    return sorted(entries, key=lambda e: (not e.shipped, e.error is not None, e.data not in ("photos", "colour-photos")))


def describe(entry, tr) -> str:
    """What a translator does and where it comes from, in one line."""
    c = tr.gen.config
    kind = PAIR_KINDS.get(tr.pairs)
    what = (f"{kind.turns if kind else tr.pairs}, on pairs made from {c.data.name}" if tr.pairs
            else f"the {'B' if tr.direction == 'BtoA' else 'A'} side of {c.data.name} pairs into the other")
    origin = ("shipped demo checkpoint" if entry.shipped else f"run {entry.run_id}" if entry.run_id else "uploaded checkpoint")
    live = ", still training" if entry.training else ""
    return (f"Turns {what}: {c.model.arch} generator trained on {c.data.image_size} px crops for {tr.gen.step:,} steps; "
            f"{origin}{live}.")


def expectations(entry, tr) -> str:
    """One line: what the translator was trained on, at what size, for how long, and what to expect of it."""
    c = tr.gen.config
    kind = PAIR_KINDS.get(tr.pairs)
    took = SHIPPED_TRAINING_TIME.get(entry.path.stem) if entry.shipped else None
    length = f"{tr.gen.step:,} steps of {c.train.batch_size} crops" + (f" ({took} on a 2-core CPU)" if took else "")
    expect = kind.expect if kind is not None and kind.expect else "expect what its training pairs taught it, on pictures like them"
    return f"Trained on {translate.trained_on(tr)}, at {c.data.image_size} px, for {length}: {expect}."


def translator_stem(entry) -> str:
    """The translator's part of a download's name: the demo's or uploaded file's name, or the run's id."""
    return download_stem(entry.run_id if entry.run_id and not entry.shipped else entry.path.name)


def scale_label(scale) -> str:
    return "As in training" if scale == AS_TRAINED else "Full size" if scale == 1 else f"{scale:.1%}".replace(".0%", "%")


def size(wh: tuple[int, int]) -> str:
    return f"{wh[0]:,} x {wh[1]:,}"


def show(i: int, r, tr, pair: bool) -> None:
    """One translated picture: what went in, what the model saw, what came out, and the maps."""
    head, button = st.columns([4, 1], vertical_alignment="bottom")
    scaled = f", translated at {size(r.work_size)}" if r.work_size else ""
    # Enlarged, the size is the output's: say what was uploaded too.
    grown_from = f"{size((r.size[0] // enlarge, r.size[1] // enlarge))} → " if enlarge > 1 else ""
    head.markdown(f"**{plain(r.name)}** · {grown_from}{size(r.size)} pixels{scaled}")
    button.download_button("Download (PNG)", r.png, file_name=f"{r.stem}-{translator_stem(entry)}.png", mime="image/png",
                           icon=":material/download:",
                            on_click="ignore", key=f"p2p_dl_{i}", width="stretch")
    grown = enlarge > 1  # the page's "Make it 4x larger" (set below, before any picture is shown)
    pictures = [(r.image, "Source half of the pair" if pair else f"Your picture, enlarged {enlarge}x by bicubic" if grown
                 else "Your picture")]
    if r.source is not None:
        kind = PAIR_KINDS.get(tr.pairs)
        pictures.append((r.source, f"{kind.model_input if kind else 'Derived input'}: what the model is given"))
    pictures.append((r.output, f"Output, {enlarge}x your picture's size" if grown else "Output, at the picture's own size"))
    if r.target is not None:
        pictures.append((r.target, "Target: the pair's other half"))
    if r.error is not None:
        against = "the target" if r.target is not None else "your picture"
        pictures.append((r.error, f"L1 error against {against}: mean {r.mean_error:.3f} (dark: close, bright: far)"))
    if r.realism is not None:
        pictures.append((r.realism, f"Discriminator's realism map: mean {r.mean_realism:.2f} (green: looks real, red: looks fake)"))
    for col, (image, caption) in zip(st.columns(max(4, len(pictures))), pictures):
        col.image(image, caption=caption, width="stretch")


def show_outcome(outcome, tr, pair: bool, results: list) -> None:
    """A translation in its frame as soon as it is done (added to ``results``), or the
    sentence saying why there is none."""
    if isinstance(outcome, str):
        st.error(plain(outcome), icon=":material/block:")
        return
    with st.container(border=True):
        show(len(results), outcome, tr, pair)
    results.append(outcome)


# ----------------------------------------------------------------------------- page

st.title("Pix2Pix: translate images")
st.caption("Pix2Pix (Isola et al. 2017) learns from pairs of pictures to turn one kind into another: edges into faces, "
           "grey into colour. Its discriminator judges the output patch by patch, beside the input. Pictures of any shape "
           "are translated and come back at their own size, so the picture's own pixels set what it costs: one too large "
           "for this server is refused with the size it takes (a smaller Translate at makes the model's work lighter, "
           "not the picture).")
settings = settings_or_stop()
owner = visitor(settings)
own_checkpoint("Use a pix2pix checkpoint of your own",
               "A pix2pix model trained elsewhere and exported with `python -m gan_core export RUN_DIR --out my.safetensors` "
               "(which keeps its discriminator, for the realism map). Only .safetensors files are accepted.",
               "p2p_ckpt_upload", "p2p_ckpt", "pix2pix_checkpoint", uploads.save_translator_upload, settings, owner)
entries = demos_first([e for e in catalog.list_checkpoints(settings.checkpoints_dir, settings.runs_dir, owner,
                                                           isolated=settings.demo)
                       if e.recipe in catalog.TRANSLATORS])

if not entries:
    st.info(f"There is no pix2pix checkpoint yet: train one with `{TRAIN_COMMAND}` (or choose recipe pix2pix on the Train "
            "page) and it appears here.")
    st.stop()

by_key = {e.key: e for e in entries}
if st.session_state.get("p2p_ckpt") not in by_key:
    st.session_state["p2p_ckpt"] = entries[0].key
chosen = st.selectbox("Checkpoint", list(by_key), format_func=lambda k: by_key[k].label, key="p2p_ckpt",
                      on_change=lambda: st.session_state.update(p2p_scale=AS_TRAINED))  # each model at its own default scale
entry = by_key[chosen]
tr = loaded_or_stop(entry, load_translator)
st.caption(plain(describe(entry, tr)))
st.info(plain(expectations(entry, tr)), icon=":material/info:")

o1, o2, o3, o4 = st.columns(4, vertical_alignment="top")
scale = o1.selectbox("Translate at", SCALES, format_func=scale_label, key="p2p_scale",
                     help="As in training: each picture is scaled so it is about as large as the pictures the model "
                          "learned from (a face photo becomes a face of the training size), translated, and brought "
                          "back to its own size. Full size keeps every detail, at the scale you uploaded.")
pair = o2.toggle("My pictures are A|B pairs", key="p2p_pair",
                 help=f"Each upload holds the source and the target side by side, as pix2pix's aligned data sets do. "
                      f"This model translates the {'right' if tr.direction == 'BtoA' else 'left'} half ({tr.direction}); "
                      "the other half is shown as the target, with the L1 error between it and the output.")
derive = True
if tr.pairs is not None:
    what = PAIR_KINDS[tr.pairs].model_input.lower()
    growing = tr.enlarge > 1 and st.session_state.get("p2p_enlarge", False)
    if growing:  # "Make it 4x larger" enlarges the upload itself: it is not already enlarged
        st.session_state["p2p_no_derive"] = False
    example = {"edges": "a sketch you drew", "sr4": "a picture you enlarged yourself"}.get(tr.pairs, "a grey photograph")
    derive = not o3.toggle(f"Uploads are {PAIR_KINDS[tr.pairs].already}", key="p2p_no_derive", disabled=growing,
                           help=f"This model was trained to turn a {what} into a picture. Off: the {what} is made from "
                                f"each upload, as in training. On: each upload is taken as it is ({example}, say)."
                                + (f" Off while Make it {tr.enlarge}x larger is on, which enlarges the upload itself."
                                   if growing else ""))
realism = o4.toggle("Overlay the realism map", key="p2p_realism", disabled=not tr.has_discriminator,
                    help="The PatchGAN discriminator's verdict on the output, beside its input, one value per 70 x 70 patch.")
if not tr.has_discriminator:
    o4.caption("This checkpoint was saved without its discriminator, so it has no realism map.")
realism = realism and tr.has_discriminator
enlarge = 1
if tr.enlarge > 1:  # a super-resolution model: enlarge by bicubic, then sharpen (translate.translate_picture(enlarge=...))
    enlarge = tr.enlarge if st.toggle(f"Make it {tr.enlarge}x larger", key="p2p_enlarge",
                                      help=f"For a small picture: it is enlarged {tr.enlarge}x by bicubic, then the model "
                                           "sharpens the enlargement, so the output is "
                                           f"{tr.enlarge} times your picture's width and height. Off: the model is shown "
                                           f"sharpening a {tr.enlarge}x smaller copy of your picture, so you can compare it "
                                           "with the original.") else 1
strength = None
if tr.lab:  # a Lab colouriser: how much of its colour to lay on the grey picture (translate.translate_picture(strength=...))
    strength = st.slider("Colour strength", 0.0, 1.0, value=tr.default_strength, step=0.05, key=f"p2p_strength_{entry.key}",
                         help=f"0 gives the grey picture back unchanged; 1 the model's colour wherever it is sure. The default "
                              f"({tr.default_strength:.2f}) is the strongest that kept the model within half a dB of the grey "
                              "picture on validation photographs it never trained on; above it, wrong colours cost more.")

# No type= on purpose: Streamlit then refuses the whole widget, every file with it, for one file whose name
# holds a NUL ("Filename cannot contain null bytes."); the engine checks each file's name and content instead.
files = st.file_uploader("Pictures to translate (jpg, png, gif, webp, bmp or tiff)",
                         accept_multiple_files=True, key="p2p_images",
                         help=f"Up to {untrusted.MAX_DEMO_PICTURES if settings.demo else untrusted.MAX_PICTURES} pictures at a "
                              f"time, with names of at most {untrusted.MAX_FILE_NAME_CHARS} characters. A file shown with an "
                              "error in this box never reached the server (Streamlit refuses names of a few thousand "
                              "characters): rename it and upload it again.")
key = (str(entry.path), entry.mtime)
results = []
if files:
    taken, rest = untrusted.pictures_to_take(len(files), settings.demo)  # counted before any file is read
    if rest:
        st.warning(plain(rest), icon=":material/block:")
    for f in files[:taken]:  # in upload order; a bad file is one sentence among the results, never the end of them
        with st.spinner(f"Translating {plain(untrusted.shown_name(f.name))}…"):
            outcome = translated_upload(*key, f.getvalue(), f.name, pair, scale, derive, realism, enlarge, strength)
        show_outcome(outcome, tr, pair, results)
else:
    samples = translate.samples_in_order(tr)  # the ones this model never saw first
    if st.session_state.get("_p2p_sample_for") != entry.key:  # each checkpoint starts on the sample that suits it
        st.session_state["_p2p_sample_for"] = entry.key
        st.session_state["p2p_sample"] = "astronaut-face" if tr.gen.config.data.name in FACE_DATA else samples[0]
    sample = st.segmented_control("Or try a sample photograph", samples, key="p2p_sample", required=True,
                                  format_func=lambda n: f"{n.replace('-', chr(39) + 's ').replace('_', ' ')} "
                                                        f"({SEEN[translate.sample_seen(tr, n)]})",
                                  help="From scikit-learn, matplotlib and scikit-image. \"Never seen\": not among this "
                                       "model's training pictures, so it shows what the model does with a photo of yours; "
                                       "\"seen in training\" ones flatter it.")
    with st.spinner("Translating…"):
        outcome = translated_sample(*key, sample or samples[0], scale, derive, realism, enlarge, strength)
    show_outcome(outcome, tr, False, results)  # the samples are single photographs, never pairs
if len(results) > 1:
    st.download_button(f"Download all {len(results)} translations (zip of PNGs)", lambda: results_zip(results, translator_stem(entry)),
                       file_name=f"translations-{translator_stem(entry)}.zip", mime="application/zip", icon=":material/folder_zip:", on_click="ignore",
                       key="p2p_dl_all")
