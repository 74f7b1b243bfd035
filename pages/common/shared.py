"""Small helpers for pages: formatting (run labels, text shown as typed) and a run's
expected duration. The rest lives by concern beside it: session (the app's entry,
settings, visitors), checkpoints, charts, live (a run followed while it trains),
judge (conditional runs), lab (the labs' frame loop), streamlit_internals."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import streamlit as st

from gan_core import runs, untrusted
from gan_core.errors import GanError



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


def run_label(info: runs.RunInfo) -> str:
    """A run for menus: what never changes about it. Streamlit sends a menu's choice back
    as its label, so a label with the run's state ("training", then "stopped at 346")
    matched no option at the next click after the run stopped, and the choice was lost;
    the state is beside the menu (the run's badge and progress)."""
    when = datetime.fromtimestamp(info.created).strftime("%d %b %H:%M")
    if info.state == runs.RunState.UNREADABLE:  # its files are damaged: nothing else about it can be trusted, and that stays
        return f"unreadable run · {when} · {info.id[-4:]}"
    return f"{info.recipe} on {info.data} · {info.total:,} steps · {when} · {info.id[-4:]}"


def per_second_unit(data_name: str | None) -> str:
    """What a run's speed counts: points for the point sets (ring-8, toy-1d...), else images."""
    from gan_core.data import list_sources

    return "points" if data_name in {s.name for s in list_sources() if s.kind == "vector"} else "images"


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

PREVIEW_SIDE = 640  # pictures are shown at most this large; downloads keep the full size


@dataclass(frozen=True, eq=False)
class Translated:
    """A picture's translation (gan_core.translate.Translation) with the names the page
    shows it under and downloads it as."""

    name: str  # the file's name, safe to show in one line
    stem: str  # download name without extension: the file's, in safe characters
    translation: object  # gan_core.translate.Translation


def download_stem(name: str) -> str:
    """A visitor's file name without folder and extension, in characters safe in a
    download's name ("../my photo.JPG" -> "my_photo")."""
    stem = re.sub(r"[^\w.-]+", "_", Path(str(name).replace("\\", "/")).stem).strip("._")
    return stem[:80] or "image"


def shown_file_name(name: str) -> str:
    """A visitor's file name without its folder, safe to show in one line."""
    from gan_core.untrusted import shown_name

    return shown_name(Path(str(name)).name) or "image"


def named(translation, name: str) -> Translated:
    """``translation`` under the name of the file it came from."""
    return Translated(name=shown_file_name(name), stem=download_stem(name), translation=translation)


def translate_upload(tr, data: bytes, name: str, **options) -> Translated:
    """One uploaded file through the one checked door (untrusted.check_file_name, then
    untrusted.read_image: limits before decoding, EXIF rotation, first GIF frame), then
    gan_core.translate.translate_picture with ``options`` (pair, scale, derive, realism).
    Raises GanError in one sentence naming the file."""
    from gan_core.translate import check_picture_size, translate_picture
    from gan_core.untrusted import check_file_name, read_image

    check_file_name(name, "The picture")
    shown = shown_file_name(name)

    def affordable(width: int, height: int, channels: int) -> None:  # the budget, from the header, before decoding
        check_picture_size(tr, width, height, channels, name=shown, **options)

    return named(translate_picture(tr, read_image(data, name, before_decode=affordable), name=shown, **options), name)


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


def results_zip(results: list[Shown], suffix: str = "") -> bytes:
    """Every output as a full-size PNG named after its input and ``suffix`` (the translator,
    as the single download is named: unzipped beside the photos, nothing is overwritten); a
    repeated name gets -2, -3..."""
    import io
    import zipfile

    buf, used = io.BytesIO(), set()
    tail = f"-{suffix}" if suffix else ""
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for r in results:
            name, k = f"{r.stem}{tail}.png", 1
            while name in used:
                k += 1
                name = f"{r.stem}{tail}-{k}.png"
            used.add(name)
            z.writestr(name, r.png)
    return buf.getvalue()


PREVIEWS = ("image", "source", "output", "target", "error", "realism")


@dataclass(frozen=True)
class Shown:
    """What the page keeps of a Translated (cached per picture and settings): the
    previews and the full-size output as PNG bytes only, never arrays or full-size
    maps. ``image``, ``output``... decode a preview to an array on demand."""

    name: str
    stem: str
    size: tuple[int, int]  # (width, height) of the picture and of the output
    work_size: tuple[int, int] | None
    pngs: dict  # PREVIEWS name -> PNG bytes of the preview; absent: nothing to show
    mean_error: float | None
    mean_realism: float | None
    png: bytes  # the output at full size

    @property
    def nbytes(self) -> int:
        """What keeping it costs, roughly: its PNGs and names."""
        return len(self.png) + sum(len(b) for b in self.pngs.values()) + len(self.name) + len(self.stem) + 512

    def _array(self, which: str) -> np.ndarray | None:
        import io

        from PIL import Image

        data = self.pngs.get(which)
        return None if data is None else np.asarray(Image.open(io.BytesIO(data)))

    image = property(lambda self: self._array("image"))
    source = property(lambda self: self._array("source"))  # the derived input, when there is one to show
    output = property(lambda self: self._array("output"))
    target = property(lambda self: self._array("target"))
    error = property(lambda self: self._array("error"))  # heatmap, RGB
    realism = property(lambda self: self._array("realism"))  # heatmap over the output, RGB

    def without_realism(self) -> "Shown":
        """The same result as computed without the realism map (which changes nothing else)."""
        import dataclasses

        return dataclasses.replace(self, pngs={k: v for k, v in self.pngs.items() if k != "realism"}, mean_realism=None)


def _shrink_map(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A float map brought to a preview's height and width."""
    from PIL import Image

    if values.shape[:2] == tuple(shape[:2]):
        return values
    return np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def for_page(item: Translated) -> Shown:
    """What the page keeps of a translation: previews, heat maps and the full-size output, as PNGs."""
    from gan_core.pictures import image_png
    from gan_core.translate import heatmap, realism_overlay

    r = item.translation
    output = preview(r.output)
    arrays = {"image": preview(r.picture), "source": preview(r.source) if r.derived else None, "output": output,
              "target": None if r.target is None or r.derived else preview(r.target)}
    if r.error is not None:
        arrays["error"] = heatmap(_shrink_map(r.error, output.shape), cmap="magma")
    if r.realism is not None:
        arrays["realism"] = realism_overlay(_shrink_map(r.realism, output.shape),
                                            output if output.ndim == 3 else output[..., None])
    return Shown(
        name=item.name, stem=item.stem, size=r.size, work_size=r.work_size,
        pngs={k: image_png(a) for k, a in arrays.items() if a is not None},
        mean_error=r.mean_error, mean_realism=r.mean_realism, png=image_png(r.output),
    )


class ResultCache:
    """Translations kept for reruns, bounded by bytes (gan_core.untrusted.MAX_KEPT_RESULTS_BYTES):
    the least recently used go first, and one result larger than half the bound is not
    kept. A refusal (its sentence) is kept too, so a bad file is not read on every rerun.
    Shared by every session (st.cache_resource); thread-safe."""

    def __init__(self, max_bytes: int):
        import threading
        from collections import OrderedDict

        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key, value) -> None:
        if isinstance(value, (Shown, np.ndarray)):
            size = value.nbytes
        else:
            size = len(value) if isinstance(value, bytes) else len(str(value))
        size += 256 + len(repr(key))  # a key holds bytes too: keep it small (``fingerprint``)
        if size > self.max_bytes // 2:
            return
        if isinstance(value, np.ndarray):
            value.flags.writeable = False  # every session gets this very array: nobody may change it
        with self._lock:
            if key in self._items:
                self.nbytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                self.nbytes -= self._items.popitem(last=False)[1][1]


@st.cache_resource(show_spinner=False)
def kept_results(max_bytes: int) -> ResultCache:
    """The results every session's pages keep for reruns (translations, samples, grids,
    GIFs), together bounded by bytes: untrusted.MAX_KEPT_RESULTS_BYTES, or
    MAX_DEMO_KEPT_RESULTS_BYTES on a demo. Streamlit's own caches bound entries, not
    bytes: sixteen 147 MB class grids kept the demo server at +2.4 GB."""
    return ResultCache(max_bytes)


def shared_results(demo: bool) -> ResultCache:
    return kept_results(untrusted.MAX_DEMO_KEPT_RESULTS_BYTES if demo else untrusted.MAX_KEPT_RESULTS_BYTES)


def fingerprint(*arrays: np.ndarray) -> str:
    """A short digest of arrays (their dtype, shape and bytes), for a results key: the
    arrays themselves would make the key as large as the result."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def kept(cache: ResultCache, key: tuple, compute):
    """``compute()``'s result for ``key``, from ``cache`` when it was computed before. A
    refusal (an exception) is not kept; a result over half the cache is shown, not kept."""
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.put(key, found)
    return found


def cached_result(cache: ResultCache, key: tuple, realism: bool, compute):
    """``compute()`` (a Shown, or a refusal's sentence) for the picture and settings
    ``key`` (everything but the realism map) and ``realism``, from ``cache`` when it was
    computed before: a result with the realism map serves the same settings without it,
    so toggling the map off and on again translates nothing."""
    if not realism and cache.get((*key, False)) is None:
        with_map = cache.get((*key, True))
        if with_map is not None:
            return with_map.without_realism() if isinstance(with_map, Shown) else with_map
    return kept(cache, (*key, realism), compute)
