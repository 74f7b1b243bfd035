"""Small helpers for pages: formatting, run labels, incremental metrics and the
live training charts. Not a page itself (app.py lists pages explicitly)."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from gan_core import runs, visitors
from gan_core.errors import GanError

STATE_COLOURS = {
    "queued": "blue", "running": "blue", "finished": "green", "stopped": "orange",
    "interrupted": "orange", "diverged": "red", "failed": "red",
}
MAX_POINTS = 2000  # points per curve sent to the browser; longer runs are thinned evenly


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@st.cache_data(max_entries=64, show_spinner="Timing a few steps of this run on this machine…")
def _timed_step(signature: tuple, _cfg) -> tuple[float, str]:
    """Seconds per step of runs shaped like ``_cfg``, timed once per shape (gan_core.estimate)."""
    from gan_core import estimate

    return estimate.time_per_step(_cfg)


@st.cache_data(ttl=30, max_entries=128, show_spinner=False)
def expected_duration(config_json: str, runs_dir: str):
    """gan_core.estimate's ``Estimate`` of a run before it starts (from past runs like it,
    else a few steps timed once per shape), or why it cannot be told, in one sentence."""
    import json

    from gan_core import estimate
    from gan_core.config import Config

    try:
        return estimate.estimate(Config.from_dict(json.loads(config_json)), runs_dir,
                                 timer=lambda cfg: _timed_step(estimate.signature(cfg), cfg))
    except GanError as e:
        return f"The duration cannot be estimated: {e}"
    except Exception as e:  # noqa: BLE001 - the timing run crashed; a real run's log would say why
        return f"The duration cannot be estimated ({type(e).__name__}); the run's log will say more."


def state_badge(state: str) -> str:
    """Markdown for a coloured state badge."""
    return f":{STATE_COLOURS.get(state, 'gray')}-badge[{state}]"


def run_label(info: runs.RunInfo) -> str:
    """A run for menus. An active run says "training" rather than a step count,
    which would be stale in a menu drawn once while the run moves on."""
    when = datetime.fromtimestamp(info.created).strftime("%d %b %H:%M")
    state = "training" if info.active else f"{info.state} at {info.step}"
    return f"{info.recipe} on {info.data} · {info.total} steps, {state} · {when} · {info.id[-4:]}"


def read_all_metrics(run_dir: Path) -> list[dict]:
    """Every metrics row of a run, reading only the bytes added since the last call
    in this session. A resume rewrites metrics.jsonl (new inode), which starts over."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return []
    cache = st.session_state.setdefault("_metrics_cache", {})
    key = str(run_dir)
    entry = cache.get(key)
    if entry is None or entry["inode"] != stat.st_ino or entry["offset"] > stat.st_size:
        entry = {"inode": stat.st_ino, "offset": 0, "rows": []}
    rows, entry["offset"] = runs.read_metrics(run_dir, entry["offset"])
    entry["rows"].extend(rows)
    cache[key] = entry
    return entry["rows"]


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
        title=dict(text=title, font=dict(size=14)), height=280, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
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


def log_tail(run_dir: Path, lines: int = 30) -> str:
    """The last lines of a background run's train.log, read from its end."""
    path = Path(run_dir) / "train.log"
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def through_app() -> None:
    """Call first in every page. On a freshly started server, a page URL opened
    before anyone has opened the app's root runs in Streamlit's legacy ``pages/``
    mode, without app.py: no navigation, no page config, file names in the sidebar.
    Run app.py instead, which declares the pages and runs this one properly
    (and switches the server out of legacy mode for good)."""
    from streamlit.runtime.pages_manager import PagesManager  # pinned streamlit; no public flag exists

    if not getattr(PagesManager, "uses_pages_directory", False):
        return
    import runpy

    runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"))
    st.stop()


def settings_or_stop():
    """The deployment's settings (gan_core.settings); a bad environment variable
    ends the page with its one-sentence error."""
    from gan_core.errors import GanError
    from gan_core.settings import load_settings

    try:
        return load_settings()
    except GanError as e:
        st.error(plain(str(e)))
        st.stop()


# ----------------------------------------------------------------------- demo visitors

XSRF_COOKIE = "_streamlit_xsrf"  # set by Streamlit's server on every browser, for its XSRF protection
IN_USE = "_visitor_in_use"  # session key: {"zip": path, "checkpoint": path} this session uses now


def xsrf_secret(cookie: str) -> str | None:
    """The random token inside Streamlit's XSRF cookie, or None. The cookie is
    "2|mask|masked token|timestamp" and the server masks the same token afresh on
    every response, so the cookie text changes but the token does not: it stays the
    same for a browser until its session cookies are cleared."""
    parts = cookie.split("|") if isinstance(cookie, str) else []
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if len(mask) != 4 or len(masked) < 16:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked)).hex()


def visitor(settings) -> str | None:
    """In demo mode, who this browser is: the owner id (gan_core.visitors) of the
    token in its XSRF cookie, so a refresh or a second tab keeps the visitor's runs;
    where there is no such cookie (XSRF protection off, tests), a random token kept
    for this session. Outside demo mode None: everything is everyone's."""
    if not settings.demo:
        return None
    if "_visitor" not in st.session_state:
        secret = xsrf_secret(st.context.cookies.get(XSRF_COOKIE, ""))
        st.session_state["_visitor"] = visitors.owner_id(secret or secrets.token_hex(16))
    return st.session_state["_visitor"]


def visible_runs(settings) -> list[runs.RunInfo]:
    """Every run this visitor may see (all of them outside demo mode), newest first."""
    return visitors.visible_runs(runs.list_runs(settings.runs_dir), visitor(settings), settings)


def may_act(run, settings) -> bool:
    """Whether this visitor may stop, resume, download or delete ``run``."""
    return visitors.may_act(run, visitor(settings), settings)


def use_upload(kind: str, path) -> None:
    """Say which upload of ``kind`` ("zip" or "checkpoint") this session uses now
    (None: none), so tidying never removes it from under the visitor."""
    st.session_state.setdefault(IN_USE, {})[kind] = str(path) if path else None


def restore_upload(selected, widget) -> bool:
    """Whether the uploaded file this session shows is gone from disk (in demo mode a
    newer upload from the visitor's other tab makes the sweep remove it) while the
    upload widget still holds its bytes, so the page should save it again."""
    if widget is None or not selected:
        return False
    path = Path(selected)
    return "uploads" in path.parts and not path.exists()


def tidy_uploads(settings) -> None:
    """Demo mode: remove uploads no longer used (gan_core.visitors.sweep_uploads), on every page load."""
    if settings.demo:
        visitors.sweep_uploads(settings.runs_dir, visitor(settings), keep=st.session_state.get(IN_USE, {}).values())


def keep_checkpoint_upload(widget: str, selected: str, kind: str, save, runs_dir, owner) -> None:
    """``on_change`` of a checkpoint uploader: the file goes through ``save`` (one of
    ``gan_core.uploads.save_*_upload``, which checks it in memory before writing), and
    once kept it is the page's selected checkpoint; a refusal is kept for the page to show."""
    upload = st.session_state.get(widget)
    st.session_state[f"{widget}_error"] = None
    if upload is None:
        return
    try:
        saved = save(upload.getvalue(), upload.name, runs_dir, owner)
    except GanError as e:
        st.session_state[f"{widget}_error"] = str(e)
        return
    use_upload(kind, saved)
    st.session_state[selected] = str(saved)


def own_checkpoint(title: str, caption: str, widget: str, selected: str, kind: str, save, settings, owner) -> None:
    """The "use a checkpoint of your own" expander of a page whose checkpoints ``save`` accepts.
    A file this session kept that the demo sweep removed (the visitor's other tab) is kept again."""
    args = (widget, selected, kind, save, settings.runs_dir, owner)
    if restore_upload(st.session_state.get(selected), st.session_state.get(widget)):
        keep_checkpoint_upload(*args)
    use_upload(kind, st.session_state.get(selected))
    tidy_uploads(settings)
    with st.expander(title, icon=":material/upload:"):
        st.caption(caption)
        st.file_uploader("Checkpoint (.safetensors)", type=["safetensors"], key=widget, on_change=keep_checkpoint_upload, args=args)
        if st.session_state.get(f"{widget}_error"):
            st.error(plain(st.session_state[f"{widget}_error"]))


def loaded_or_stop(entry, load):
    """``load(path, mtime)`` for a listed checkpoint, or its one-sentence error and the end of the page."""
    if entry.error:
        st.error(plain(entry.error))
        st.stop()
    try:
        return load(str(entry.path), entry.mtime)
    except GanError as e:
        st.error(plain(str(e)))
        st.stop()


# ------------------------------------------------------------------ conditional runs

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


def show_judge(fig: dict) -> None:
    """The figures of gan_core.judge.Evaluation.to_dict(), each beside the value real images get."""
    what = "class" if fig["kind"] == "classes" else "attributes"
    c1, c2 = st.columns(2)
    c1.metric("Judged as requested", f"{fig['accuracy']:.1%}", delta=f"real images: {fig['real_accuracy']:.1%}",
              delta_color="off", delta_arrow="off", border=True,
              help=f"Share of the {fig['n']:,} samples the judge reads as the {what} asked for (higher is better). "
                   "Below: the judge's own accuracy on held-out real images, the mark to read it against.")
    c2.metric("Fréchet distance to real images", f"{fig['frechet']:.2f}", delta=f"real vs real: {fig['frechet_floor']:.2f}",
              delta_color="off", delta_arrow="off", border=True,
              help="Between generated and real images in the judge's features (lower is closer). "
                   "Below: the same distance between two halves of the real images, the floor.")
    st.plotly_chart(judge_figure(fig), config={"displaylogo": False, "displayModeBar": False})


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
        with st.spinner(f"Judging {JUDGE_SAMPLES:,} samples…"):
            fig = _judge(str(entry.path), entry.mtime, data_cfg, repr(data_cfg), str(Path(settings.runs_dir) / "judges"))
    except GanError as e:
        st.warning(plain(str(e)))
        return
    show_judge(fig)


# Enough to neutralise every construct that could carry a link, an image, bold, a
# colour directive (:red[...]) or LaTeX; the rest of the punctuation reads as is.
_MARKDOWN = re.compile(r"([\\`*\[\]$~])")


def plain(text) -> str:
    """Text for st.error / st.caption / st.markdown shown as typed: the markdown,
    colour-directive and LaTeX characters escaped. Engine messages quote file names,
    class names and data names a visitor chose; rendered as markdown they could carry
    links, images (a tracking pixel) or styling into the page."""
    return _MARKDOWN.sub(r"\\\1", str(text))


# ------------------------------------------------------------------ pix2pix translation

# What the model takes, for a model trained on derived pairs (gan_core.data.paired.derive).
DERIVED_INPUT = {"edges": "Edge map", "grey": "Grey version", "blur": "Blurred copy", "mask": "Masked copy"}
PREVIEW_SIDE = 640  # pictures are shown at most this large; downloads keep the full size


@dataclass
class Translated:
    """One picture through a translator: uint8 (H, W, C) images at the picture's own size."""

    name: str  # the file's name, safe to show in one line
    stem: str  # download name without extension: the file's, in safe characters
    image: np.ndarray  # the picture (for an A|B pair, its source half)
    source: np.ndarray  # what the generator took: the derived input (edge map...) or the picture in its channels
    output: np.ndarray
    derived: bool  # source was derived from the picture (shown beside it)
    target: np.ndarray | None = None  # an A|B pair's other half; for derived pairs, the picture itself
    error: np.ndarray | None = None  # float32 (H, W) L1 between output and target, in [0, 1]
    realism: np.ndarray | None = None  # float32 (H, W): the PatchGAN's belief that the output is real, in [0, 1]
    work_size: tuple[int, int] | None = None  # (width, height) it was translated at, when scaled


def download_stem(name: str) -> str:
    """A visitor's file name without folder and extension, in characters safe in a
    download's name ("../my photo.JPG" -> "my_photo")."""
    stem = re.sub(r"[^\w.-]+", "_", Path(str(name).replace("\\", "/")).stem).strip("._")
    return stem[:80] or "image"


def translate_picture(tr, image: np.ndarray, name: str, pair: bool = False, scale: float | None = 1.0,
                      derive: bool = True, realism: bool = False) -> Translated:
    """Translate one picture (uint8 (H, W, C), as from untrusted.read_image) with ``tr``
    (gan_core.translate.Translator). ``pair``: it is an A|B pair, split by the model's
    direction; its source half is taken as it is. ``scale`` None: translate_image at
    translate.training_scale. ``derive`` False: the picture already is a source (an edge
    map drawn by hand). Raises GanError (one sentence) for what cannot be translated."""
    from gan_core import translate
    from gan_core.untrusted import shown_name

    target = None
    if pair:
        image, target = translate.split_pair(image, tr.direction)
    derived = tr.pairs is not None and derive and not pair
    h, w = image.shape[:2]
    factor = translate.training_scale(tr, w, h) if scale is None else scale
    result = translate.translate_image(tr, image, scale=factor, derive_source=derived)
    if target is None and derived and image.shape[2] >= tr.target_channels:
        target = translate.as_channels(image, tr.target_channels)  # the picture is what the model should give back
    work = (max(1, round(w * factor)), max(1, round(h * factor)))
    return Translated(
        name=shown_name(Path(str(name)).name) or "image", stem=download_stem(name), image=image, source=result.source,
        output=result.output, derived=derived, target=target,
        error=None if target is None else translate.l1_error_map(result.output, target),
        realism=translate.realism_map(tr, result.source, result.output) if realism else None,
        work_size=None if work == (w, h) else work,
    )


def translate_upload(tr, data: bytes, name: str, pair: bool = False, scale: float | None = 1.0, derive: bool = True,
                     realism: bool = False) -> Translated:
    """One uploaded file through the one checked door (untrusted.read_image: limits before
    decoding, EXIF rotation, first GIF frame), then translate_picture."""
    from gan_core.untrusted import read_image

    return translate_picture(tr, read_image(data, name), name, pair, scale, derive, realism)


def preview(image: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """A picture for the page: large ones shrunk to ``side`` (the browser gets a light
    image; downloads keep the full size), tiny ones enlarged by a whole factor with
    crisp pixels. Grey comes back 2-D."""
    from PIL import Image

    from gan_core import pictures

    image = np.asarray(image)
    h, w = image.shape[:2]
    if max(h, w) > side:
        img = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image)
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
        return np.asarray(img)
    return pictures.upscale(image, max(1, (side // 2) // max(h, w)))


def results_zip(results: list[Shown]) -> bytes:
    """Every output as a full-size PNG named after its input; a repeated name gets -2, -3..."""
    import io
    import zipfile

    buf, used = io.BytesIO(), set()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for r in results:
            name, k = f"{r.stem}.png", 1
            while name in used:
                k += 1
                name = f"{r.stem}-{k}.png"
            used.add(name)
            z.writestr(name, r.png)
    return buf.getvalue()


@dataclass
class Shown:
    """What the page keeps of a Translated (cached per picture): previews and the
    full-size output as PNG bytes, never the full-size arrays and maps."""

    name: str
    stem: str
    size: tuple[int, int]  # (width, height) of the picture and of the output
    work_size: tuple[int, int] | None
    image: np.ndarray
    source: np.ndarray | None  # the derived input, when there is one to show
    output: np.ndarray
    target: np.ndarray | None
    error: np.ndarray | None  # heatmap, RGB
    realism: np.ndarray | None  # heatmap over the output, RGB
    mean_error: float | None
    mean_realism: float | None
    png: bytes  # the output at full size


def _shrink_map(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A float map brought to a preview's height and width."""
    from PIL import Image

    if values.shape[:2] == tuple(shape[:2]):
        return values
    return np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def for_page(r: Translated) -> Shown:
    from gan_core.pictures import image_png
    from gan_core.translate import heatmap

    output = preview(r.output)
    error = realism = None
    if r.error is not None:
        error = heatmap(_shrink_map(r.error, output.shape), cmap="magma")
    if r.realism is not None:
        realism = heatmap(_shrink_map(r.realism, output.shape), output if output.ndim == 3 else output[..., None], alpha=0.55,
                          cmap="RdYlGn")
    h, w = r.output.shape[:2]
    return Shown(
        name=r.name, stem=r.stem, size=(w, h), work_size=r.work_size, image=preview(r.image),
        source=preview(r.source) if r.derived else None, output=output,
        target=None if r.target is None or r.derived else preview(r.target), error=error, realism=realism,
        mean_error=None if r.error is None else float(r.error.mean()),
        mean_realism=None if r.realism is None else float(r.realism.mean()), png=image_png(r.output),
    )
