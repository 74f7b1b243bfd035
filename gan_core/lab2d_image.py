"""The 2-D lab's plane as one picture: D's heat map, the real points, the generated
points and the arrows of G's push, drawn with numpy into an RGB array.

Why a picture while the lab plays: Streamlit (1.67) rebuilds a Plotly chart from
scratch whenever its figure changes (the chart's React key is a hash of the
figure), so each live frame is a full ``Plotly.newPlot``. Measured in headless
Chromium on this 2-core machine, a figure with 3,100 point markers costs 450-500 ms
of browser CPU to build (WebGL or SVG alike), the same figure with the points in
one image about 90 ms, and as an image element (st.image), which Streamlit updates
in place, about 50 ms with no blank between frames. So the playing page shows
``draw_framed``'s picture; paused, it lays ``draw_plane``'s under Plotly's axes, rings,
legend and colour bar, which zoom.

Everything here is a pure function of numpy arrays; pages call it, tests check it.
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# D's output: purple where D says "fake", white where it cannot tell, green where it
# says "real" (Plotly's colorscale form, so the page's colour bar matches exactly).
HEAT_SCALE = ((0.0, "#7b3294"), (0.5, "#f7f7f7"), (1.0, "#1b7837"))
HEAT_OPACITY = 0.6  # the heat map over white, so points on it stay clear
REAL, FAKE, ARROW = "#f28e2b", "#1f4fb4", "#222222"
REAL_EDGE = "#7a3d00"
FAKE_ALPHA = 0.55
# Arrow lengths are relative: the 95th-percentile push is drawn at this share of the
# view's width, none longer than ARROW_MAX (directions and ratios are what count).
ARROW_TYPICAL, ARROW_MAX = 0.07, 0.12


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)


def heat_range(surface: np.ndarray, probability: bool) -> tuple[float, float]:
    """The colour scale's ends: 0..1 for a probability; the frame's own range for a
    critic score, whose offset is arbitrary (only differences matter)."""
    if probability:
        return 0.0, 1.0
    lo, hi = float(np.min(surface)), float(np.max(surface))
    return (lo, hi) if hi > lo else (lo - 1e-6, hi + 1e-6)


def _heat_lut() -> np.ndarray:
    """(256, 3) colours of the scale, already laid over white at HEAT_OPACITY."""
    t = np.linspace(0.0, 1.0, 256)
    stops = np.array([s for s, _ in HEAT_SCALE])
    colours = np.stack([_rgb(c) for _, c in HEAT_SCALE])
    rgb = np.stack([np.interp(t, stops, colours[:, c]) for c in range(3)], axis=1)
    return np.round(HEAT_OPACITY * rgb + (1 - HEAT_OPACITY) * 255).astype(np.uint8)


_LUT = _heat_lut()
# The scale as it looks in the picture (over white), for a colour bar drawn elsewhere (Plotly's).
HEAT_SCALE_SHOWN = [[i / 8, "#%02x%02x%02x" % tuple(_LUT[round(i * 255 / 8)])] for i in range(9)]


def _resample(values: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (ny, nx) -> (size, size), row 0 at the top (the largest y). Grid
    point j sits at x = xs[j], which runs from the view's left edge to its right."""
    ny, nx = values.shape
    def weights(n: int):
        t = np.clip((np.arange(size) + 0.5) / size * (n - 1), 0, n - 1)
        i0 = np.minimum(t.astype(int), n - 2) if n > 1 else np.zeros(size, int)
        return i0, (t - i0).astype(np.float32)
    ix, wx = weights(nx)
    iy, wy = weights(ny)
    v = values[::-1].astype(np.float32)  # row 0 = ys[-1], the top of the view
    iy1, ix1 = np.minimum(iy + 1, ny - 1), np.minimum(ix + 1, nx - 1)
    rows = v[iy] * (1 - wy)[:, None] + v[iy1] * wy[:, None]  # (size, nx)
    return rows[:, ix] * (1 - wx) + rows[:, ix1] * wx


def _to_pixels(points: np.ndarray, bounds, size: int) -> np.ndarray:
    (x0, x1), (y0, y1) = bounds
    return np.stack([(points[:, 0] - x0) / (x1 - x0) * size, (y1 - points[:, 1]) / (y1 - y0) * size], axis=1)


def _footprint(pixels: np.ndarray, radius: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased disks of ``radius`` pixels at ``pixels`` on a ``size`` square:
    flat pixel indices (row * size + column) and how much of each pixel a disk
    covers (0..1). Points off the picture cover nothing."""
    pixels = pixels[np.isfinite(pixels).all(axis=1)]
    r = int(np.ceil(radius + 0.5))
    dy, dx = (a.ravel() for a in np.mgrid[-r : r + 1, -r : r + 1])
    base = np.floor(pixels).astype(np.int64)  # (points, 2) as (x, y)
    x, y = base[:, :1] + dx, base[:, 1:] + dy  # (points, offsets)
    cover = np.clip(radius + 0.5 - np.hypot(x + 0.5 - pixels[:, :1], y + 0.5 - pixels[:, 1:]), 0.0, 1.0)
    ok = (cover > 0) & (x >= 0) & (x < size) & (y >= 0) & (y < size)
    return (y * size + x)[ok], cover[ok].astype(np.float32)


@functools.lru_cache(maxsize=32)
def _real_footprints(points: bytes, n: int, bounds, size: int):
    # The real points never change during a lab: their disks are worked out once.
    px = _to_pixels(np.frombuffer(points, dtype=np.float32).reshape(n, 2), bounds, size)
    return _footprint(px, 3.5, size), _footprint(px, 2.6, size)


def _paint(flat: np.ndarray, footprint, colour: str, alpha: float) -> None:
    """Lay ``colour`` over ``flat`` ((pixels, 3) uint8, in place) where the footprint
    covers, at ``alpha`` times its cover. Where disks overlap one of them decides,
    so translucent points do not darken each other."""
    idx, cover = footprint
    w = (cover * alpha)[:, None]
    flat[idx] = (flat[idx] * (1 - w) + _rgb(colour) * w).astype(np.uint8)


def arrow_tips(starts: np.ndarray, pushes: np.ndarray, bounds) -> np.ndarray:
    """Where each arrow ends, in data coordinates: along the push, with lengths
    relative to the 95th-percentile push (see ARROW_TYPICAL); a zero push stays put."""
    width = bounds[0][1] - bounds[0][0]
    v = np.asarray(pushes, dtype=np.float64)
    size = np.linalg.norm(v, axis=1)
    ref = float(np.percentile(size, 95)) if len(size) else 0.0
    length = np.clip(size * (ARROW_TYPICAL * width / ref), 0, ARROW_MAX * width) if ref > 0 else np.zeros_like(size)
    return np.asarray(starts, dtype=np.float64) + length[:, None] * v / np.maximum(size, 1e-30)[:, None]


def arrow_heads(starts: np.ndarray, tips: np.ndarray, bounds) -> tuple[np.ndarray, np.ndarray]:
    """The two barbs of each arrow head (data coordinates)."""
    width = bounds[0][1] - bounds[0][0]
    d = tips - starts
    length = np.linalg.norm(d, axis=1, keepdims=True)
    unit = d / np.maximum(length, 1e-30)
    across = unit[:, ::-1] * np.array([-1.0, 1.0])
    head = np.minimum(0.35 * length, 0.02 * width)
    return tips - head * (unit - 0.6 * across), tips - head * (unit + 0.6 * across)


def draw_plane(bounds, surface: np.ndarray, probability: bool, real: np.ndarray | None = None,
               fake: np.ndarray | None = None, arrows: tuple[np.ndarray, np.ndarray] | None = None,
               size: int = 520) -> np.ndarray:
    """(size, size, 3) uint8: the heat map of ``surface`` over ``bounds`` (the view,
    ((x0, x1), (y0, y1))), then the real points (opaque, outlined), the generated
    points (translucent, on top) and the arrows (starts, pushes) of G's push."""
    lo, hi = heat_range(surface, probability)
    values = _resample(np.clip((surface - lo) / (hi - lo), 0, 1), size)
    rgb = _LUT[(values * 255 + 0.5).astype(np.uint8)]  # (size, size, 3)
    flat = rgb.reshape(-1, 3)  # a view: painting it paints rgb
    if real is not None and len(real):
        real = np.ascontiguousarray(real, dtype=np.float32)
        edge, fill = _real_footprints(real.tobytes(), len(real), tuple(map(tuple, bounds)), size)
        _paint(flat, edge, REAL_EDGE, 1.0)
        _paint(flat, fill, REAL, 1.0)
    if fake is not None and len(fake):
        _paint(flat, _footprint(_to_pixels(fake, bounds, size), 1.8, size), FAKE, FAKE_ALPHA)
    if arrows is None or not len(arrows[0]):
        return rgb
    image = Image.fromarray(rgb)
    starts, pushes = arrows
    tips = arrow_tips(starts, pushes, bounds)
    barb1, barb2 = arrow_heads(starts, tips, bounds)
    a, t, b1, b2 = (_to_pixels(p, bounds, size) for p in (starts, tips, barb1, barb2))
    draw, colour = ImageDraw.Draw(image), tuple(int(c) for c in _rgb(ARROW))
    for i in range(len(a)):
        if np.isfinite(t[i]).all() and np.isfinite(a[i]).all():
            draw.line([tuple(a[i]), tuple(t[i])], fill=colour, width=1)
            draw.line([tuple(b1[i]), tuple(t[i]), tuple(b2[i])], fill=colour, width=1)
    return np.asarray(image)


def nice_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) inside [lo, hi]."""
    span = hi - lo
    if not span > 0:
        return [lo]
    for step in (m * 10.0**e for e in range(int(np.floor(np.log10(span))) - 1, int(np.floor(np.log10(span))) + 2) for m in (1, 2, 5)):
        ticks = np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)
        if len(ticks) <= most:
            return [round(float(t), 10) + 0.0 for t in ticks]
    return [lo, hi]


def _label(value: float) -> str:
    return f"{value:.3g}"


def draw_framed(bounds, surface: np.ndarray, probability: bool, real=None, fake=None, arrows=None,
                centres: np.ndarray | None = None, covered: np.ndarray | None = None, size: int = 480,
                bar_title: str = "D(x)") -> np.ndarray:
    """The plane of ``draw_plane`` as a self-contained picture: axes with round ticks
    on the left and below, rings on the modes (green: covered, red: missed) and the
    heat map's colour bar on the right, titled ``bar_title``."""
    left, right, top, bottom, bar = 46, 84, 10, 30, 14
    canvas = Image.new("RGB", (left + size + right, top + size + bottom), "white")
    canvas.paste(Image.fromarray(draw_plane(bounds, surface, probability, real, fake, arrows, size)), (left, top))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=12)
    grey, ink = (160, 160, 160), (70, 70, 70)
    draw.rectangle([left - 1, top - 1, left + size, top + size], outline=grey)
    (x0, x1), (y0, y1) = bounds
    for t in nice_ticks(x0, x1):
        x = left + (t - x0) / (x1 - x0) * size
        draw.line([(x, top + size), (x, top + size + 4)], fill=grey)
        draw.text((x, top + size + 6), _label(t), fill=ink, font=font, anchor="ma")
    for t in nice_ticks(y0, y1):
        y = top + (y1 - t) / (y1 - y0) * size
        draw.line([(left - 5, y), (left - 1, y)], fill=grey)
        draw.text((left - 7, y), _label(t), fill=ink, font=font, anchor="rm")
    if centres is not None and covered is not None:
        for (cx, cy), hit in zip(_to_pixels(np.asarray(centres, dtype=np.float64), bounds, size), covered):
            r = 9
            draw.ellipse([left + cx - r, top + cy - r, left + cx + r, top + cy + r],
                         outline=(27, 120, 55) if hit else (192, 57, 43), width=2)
    # The colour bar: the scale from bottom (lo) to top (hi), as the heat map uses it.
    lo, hi = heat_range(surface, probability)
    bx, by0, by1 = left + size + 16, top + int(0.1 * size), top + int(0.9 * size)
    ramp = _LUT[np.linspace(255, 0, by1 - by0).round().astype(np.uint8)]  # top row = hi
    canvas.paste(Image.fromarray(np.repeat(ramp[:, None, :], bar, axis=1)), (bx, by0))
    draw.rectangle([bx - 1, by0 - 1, bx + bar, by1], outline=grey)
    for value, y in ((hi, by0), ((lo + hi) / 2, (by0 + by1) / 2), (lo, by1)):
        draw.text((bx + bar + 4, y), _label(value), fill=ink, font=font, anchor="lm")
    draw.text((bx + bar / 2, by0 - 6), bar_title, fill=ink, font=font, anchor="md")
    return np.asarray(canvas)


def image_uri(rgb: np.ndarray, quality: int = 85) -> str:
    """A JPEG data URI of an RGB array: about 110 kB for a 520-pixel plane, encoded
    in 2 ms (PNG: 140 kB in 12 ms); at quality 85 the points' edges stay clean."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


__all__ = ["HEAT_SCALE", "HEAT_SCALE_SHOWN", "REAL", "FAKE", "ARROW", "arrow_heads", "arrow_tips", "draw_framed", "draw_plane", "heat_range", "image_uri",
           "nice_ticks"]
