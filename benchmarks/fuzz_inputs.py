"""Fuzz the doors a visitor's files come through: mutated images and checkpoints.

    .venv/bin/python benchmarks/fuzz_inputs.py --seed 1 --images 500 --checkpoints 50

Images: real photos from scikit-image's samples (``skimage.data``), saved with Pillow
as PNG, JPEG, GIF, WebP and TIFF in several modes, then mutated by bit flips,
truncations, splices and header edits (width and height fields set huge, tiny or
zero, chunk and segment lengths corrupted). Each one goes through the functions the
pages call: ``untrusted.read_image`` and, wrapped in a zip, ``uploads.save_upload``
into a scratch runs folder.

Checkpoints: the shipped ``checkpoints/dcgan-faces-lfw.safetensors`` with bit flips
in its header and its tensors, truncations, a wrong header length, and edits of its
metadata (shape, width, z_dim, data, recipe, step) and tensor table (dtype, shape,
offsets), through ``uploads.save_checkpoint_upload`` and ``catalog.describe_checkpoint``.

Allowed outcomes: accepted, or refused with a GanError whose message is one sentence
(no newline, no traceback text); a refused upload must leave nothing on disk. Any
other exception, a hang (an input running past --timeout, in a worker process that is
then killed and replaced) or a crashed worker is a failure: the script prints them
and exits with status 1. Everything follows from --seed, so a failure reproduces.
The last line is the summary as JSON, for tests.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHECKPOINT = ROOT / "checkpoints" / "dcgan-faces-lfw.safetensors"
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "TIFF")
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp", "TIFF": "tif"}
IMAGE_MUTATIONS = ("bitflip", "header-bitflip", "truncate", "dims", "length", "splice", "oversize")
CHECKPOINT_MUTATIONS = (
    "header-bitflip", "data-bitflip", "truncate", "header-length", "shape", "width", "z_dim", "data",
    "recipe", "config", "step", "format", "dtype", "offsets", "tensor-shape", "drop-tensor",
)
HUGE = (0, 1, 2, 7, 255, 4096, 8000, 65535, 65536, 100_000, 5_000_000, 2**31 - 1, 2**32 - 1)


# ----------------------------------------------------------------------------- base files


def _samples():
    """(name, uint8 array) pairs from scikit-image's bundled photos, a few per kind."""
    import numpy as np
    from skimage import data

    out = [(n, getattr(data, n)()) for n in ("astronaut", "camera", "coffee", "chelsea", "coins", "rocket", "logo", "text")]
    return [(n, a[::2, ::2] if max(a.shape[:2]) > 400 else a) for n, a in out if a.dtype == np.uint8]


def base_images() -> dict[str, list[tuple[str, bytes]]]:
    """Per format, intact files in the modes that format is commonly saved in."""
    from PIL import Image

    files: dict[str, list[tuple[str, bytes]]] = {f: [] for f in FORMATS}
    for name, array in _samples():
        img = Image.fromarray(array)
        rgb = img.convert("RGB")
        variants = {
            "PNG": [img, img.convert("L"), rgb.convert("P", palette=Image.Palette.ADAPTIVE), img.convert("I;16")],
            "JPEG": [rgb, img.convert("L"), rgb.convert("CMYK")],
            "GIF": [rgb.convert("P", palette=Image.Palette.ADAPTIVE), img.convert("L")],
            "WEBP": [rgb, img.convert("RGBA")],
            "TIFF": [img, img.convert("L")],
        }
        for fmt, images in variants.items():
            for i, im in enumerate(images):
                buf = io.BytesIO()
                kwargs = {}
                if fmt == "JPEG" and i == 0:  # a phone photo: rotation in EXIF
                    exif = Image.Exif()
                    exif[0x0112] = 6
                    kwargs["exif"] = exif
                if fmt == "TIFF":
                    kwargs["compression"] = ("raw", "tiff_deflate", "tiff_lzw")[len(files["TIFF"]) % 3]
                im.save(buf, format=fmt, **kwargs)
                files[fmt].append((f"{name}-{im.mode}", buf.getvalue()))
    return files


def oversize_images() -> dict[str, list[tuple[str, bytes]]]:
    """Per format, complete and valid files whose dimensions break the limits: a few KB
    that decode to millions of pixels (the 9.8 KB PNG of 1 x 5,000,000 pixels that took
    59 s and 5.2 GB), or to more pixels than the limit allows."""
    from PIL import Image

    shapes = {  # each format's own maximum side bounds what it can declare
        "PNG": [(1, 5_000_000), (5_000_000, 1), (7100, 7100)],
        "JPEG": [(1, 65000), (7100, 7100)],
        "GIF": [(1, 65535), (7100, 7100)],
        "WEBP": [(16383, 1), (7100, 7100)],
        "TIFF": [(1, 5_000_000), (7100, 7100)],
    }
    files: dict[str, list[tuple[str, bytes]]] = {}
    for fmt, sizes in shapes.items():
        files[fmt] = []
        for w, h in sizes:
            buf = io.BytesIO()
            options = {"TIFF": {"compression": "tiff_deflate"}, "WEBP": {"lossless": True, "method": 0}}.get(fmt, {})
            Image.new("L", (w, h), 128).save(buf, format=fmt, **options)
            files[fmt].append((f"{w}x{h}-L", buf.getvalue()))
    return files


# ----------------------------------------------------------------------------- image mutations


def _flip(data: bytearray, rng: random.Random, n: int, lo: int = 0, hi: int | None = None) -> None:
    hi = len(data) if hi is None else min(hi, len(data))
    for _ in range(n):
        i = rng.randrange(lo, hi)
        data[i] ^= 1 << rng.randrange(8)


def _put(data: bytearray, offset: int, value: int, size: int, order: str) -> None:
    if 0 <= offset and offset + size <= len(data):
        data[offset : offset + size] = (value % (1 << (8 * size))).to_bytes(size, order)


def _png_chunks(data: bytes) -> list[tuple[int, bytes]]:
    """(offset of the length field, type) of each chunk."""
    out, p = [], 8
    while p + 8 <= len(data):
        n = struct.unpack(">I", data[p : p + 4])[0]
        out.append((p, bytes(data[p + 4 : p + 8])))
        p += 12 + n
    return out


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(offset of the marker, marker byte) of each segment before the scan data."""
    out, p = [], 2
    while p + 4 <= len(data) and data[p] == 0xFF:
        marker = data[p + 1]
        out.append((p, marker))
        if marker == 0xDA:
            break
        p += 2 + struct.unpack(">H", data[p + 2 : p + 4])[0]
    return out


def _tiff_entries(data: bytes) -> tuple[str, list[tuple[int, int]]]:
    """Byte order and (offset, tag) of each entry of the first IFD."""
    order = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    if ifd + 2 > len(data):
        return order, []
    n = int.from_bytes(data[ifd : ifd + 2], order)
    return order, [(ifd + 2 + 12 * i, int.from_bytes(data[ifd + 2 + 12 * i : ifd + 4 + 12 * i], order))
                   for i in range(n) if ifd + 14 + 12 * i <= len(data)]


def _riff_chunks(data: bytes) -> list[tuple[int, bytes]]:
    out, p = [], 12
    while p + 8 <= len(data):
        out.append((p, bytes(data[p : p + 4])))
        p += 8 + int.from_bytes(data[p + 4 : p + 8], "little") + (int.from_bytes(data[p + 4 : p + 8], "little") & 1)
    return out


def _gif_descriptors(data: bytes) -> list[int]:
    return [i for i in range(13, len(data) - 9) if data[i] == 0x2C][:3]


def _dims(fmt: str, data: bytearray, rng: random.Random) -> None:
    """Set the width and/or height fields of the header to odd values."""
    w, h = rng.choice(HUGE), rng.choice(HUGE)
    if rng.random() < 0.3:  # the finding: one pixel wide, millions tall
        w, h = 1, rng.choice((5_000_000, 100_000, 65535))
    if fmt == "PNG":
        _put(data, 16, w, 4, "big")
        _put(data, 20, h, 4, "big")
        if rng.random() < 0.8:  # a valid CRC, so that the reader believes the new size
            _put(data, 29, zlib.crc32(bytes(data[12:29])), 4, "big")
    elif fmt == "JPEG":
        sof = [p for p, m in _jpeg_segments(data) if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC)]
        if sof:
            _put(data, sof[0] + 5, h, 2, "big")
            _put(data, sof[0] + 7, w, 2, "big")
    elif fmt == "GIF":
        where = [6] + [d + 5 for d in _gif_descriptors(data)]
        p = rng.choice(where)
        _put(data, p, w, 2, "little")
        _put(data, p + 2, h, 2, "little")
    elif fmt == "WEBP":
        for p, kind in _riff_chunks(data):
            if kind == b"VP8X":
                _put(data, p + 12, w - 1, 3, "little")
                _put(data, p + 15, h - 1, 3, "little")
            elif kind == b"VP8 ":
                _put(data, p + 14, w, 2, "little")
                _put(data, p + 16, h, 2, "little")
            elif kind == b"VP8L":
                bits = ((w - 1) & 0x3FFF) | (((h - 1) & 0x3FFF) << 14) | (int.from_bytes(data[p + 9 : p + 13], "little") & ~0xFFFFFFF)
                _put(data, p + 9, bits, 4, "little")
    elif fmt == "TIFF":
        order, entries = _tiff_entries(data)
        for p, tag in entries:
            if tag == 256:
                _put(data, p + 8, w, 4 if rng.random() < 0.5 else 2, order)
            elif tag == 257:
                _put(data, p + 8, h, 4 if rng.random() < 0.5 else 2, order)


def _length(fmt: str, data: bytearray, rng: random.Random) -> None:
    """Corrupt a length, count or offset field."""
    value = rng.choice(HUGE + (rng.randrange(1 << 16), rng.randrange(1 << 31)))
    if fmt == "PNG":
        chunks = _png_chunks(data)
        if chunks:
            _put(data, rng.choice(chunks)[0], value, 4, "big")
    elif fmt == "JPEG":
        segments = _jpeg_segments(data)
        if segments:
            _put(data, rng.choice(segments)[0] + 2, value, 2, "big")
    elif fmt == "GIF":
        descriptors = _gif_descriptors(data)
        if descriptors:  # the LZW code size, then the first sub-block length
            p = rng.choice(descriptors) + 10
            _put(data, p + rng.randrange(2), value, 1, "little")
    elif fmt == "WEBP":
        chunks = _riff_chunks(data)
        p = rng.choice([0] + [c[0] for c in chunks])
        _put(data, p + 4, value, 4, "little")
    elif fmt == "TIFF":
        order, entries = _tiff_entries(data)
        if entries:  # a strip offset or byte count, or any entry's count
            wanted = [p for p, tag in entries if tag in (273, 279, 258, 277, 278)] or [p for p, _ in entries]
            p = rng.choice(wanted)
            _put(data, p + (8 if rng.random() < 0.7 else 4), value, 4, order)


def mutate_image(fmt: str, original: bytes, rng: random.Random, how: str) -> bytes:
    data = bytearray(original)
    if how == "bitflip":
        _flip(data, rng, rng.randint(1, 32))
    elif how == "header-bitflip":
        _flip(data, rng, rng.randint(1, 8), 0, 512)
    elif how == "truncate":
        data = data[: rng.randrange(1, len(data))]
    elif how == "dims":
        _dims(fmt, data, rng)
    elif how == "length":
        _length(fmt, data, rng)
    elif how == "oversize":  # the file was swapped for a valid, over-limit one; sometimes damaged too
        if rng.random() < 0.3:
            _flip(data, rng, rng.randint(1, 4), min(len(data) - 1, 64))
    elif how == "splice":
        a = rng.randrange(len(data))
        b = min(len(data), a + rng.randint(1, 4096))
        choice = rng.randrange(3)
        if choice == 0:
            data[a:a] = data[a:b]  # duplicate a span
        elif choice == 1:
            del data[a:b]
        else:
            data[a:a] = rng.randbytes(rng.randint(1, 256))
    return bytes(data)


def image_cases(seed: int, n: int):
    """n (format, mutation, name, bytes) cases, formats round-robin."""
    bases, oversize = base_images(), oversize_images()
    rng = random.Random(seed)
    for i in range(n):
        fmt = FORMATS[i % len(FORMATS)]
        how = rng.choice(IMAGE_MUTATIONS)
        name, original = rng.choice(oversize[fmt] if how == "oversize" else bases[fmt])
        yield fmt, how, name, mutate_image(fmt, original, random.Random(f"{seed}-{i}"), how)


# ----------------------------------------------------------------------------- checkpoint mutations


def _split(raw: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def mutate_checkpoint(original: bytes, rng: random.Random, how: str) -> bytes:
    header, body = _split(original)
    n = struct.unpack("<Q", original[:8])[0]
    meta = header["__metadata__"]
    tensors = [k for k in header if k != "__metadata__"]
    config = json.loads(meta["config"])
    data = json.loads(meta["data"])
    odd = rng.choice([32, -1, 0, 2**40, "abc", None, [], {}, 1.5, [1], [-3, 32, 32]])
    if how == "header-bitflip":
        raw = bytearray(original)
        _flip(raw, rng, rng.randint(1, 8), 0, 8 + n)
        return bytes(raw)
    if how == "data-bitflip":
        raw = bytearray(original)
        _flip(raw, rng, rng.randint(1, 64), 8 + n)
        return bytes(raw)
    if how == "truncate":
        return original[: rng.choice((rng.randrange(1, 8 + n), rng.randrange(8 + n, len(original))))]
    if how == "header-length":
        value = rng.choice((0, 1, 2, n - 1, n + 1, n + 8, len(original), 2**31, 2**63, 2**64 - 1))
        return struct.pack("<Q", value) + original[8:]
    if how == "shape":
        data["shape"] = rng.choice([32, -1, [3, 1024, 1024], [1, 7, 7], [1, 32], [], [1, 32, 32, 32], [3, 64, 64],
                                    [1, -32, -32], [1, 2**31, 2**31], ["1", "32", "32"], [1.5, 32, 32], odd])
    elif how == "width":
        config["model"]["width"] = rng.choice([4096, 0, -5, 10**9, "x", 1.5, None, 64, 16])
    elif how == "z_dim":
        config["model"]["z_dim"] = rng.choice([0, -1, 10**9, 4096, "x", 99, 101, None])
    elif how == "data":
        meta["data"] = rng.choice(["[]", "[1, 2]", "null", "{", "7", '"x"', json.dumps({**data, "kind": "vector"}),
                                   json.dumps({**data, "class_names": ["a"] * 5000}), json.dumps({**data, "kind": 3})])
        return _join(header, body)
    elif how == "recipe":
        config["recipe"] = rng.choice(["gan", "wgan", "wgan-gp", "cgan", "pix2pix", "no-such-recipe", "", 7, None])
    elif how == "config":
        choice = rng.randrange(5)
        if choice == 0:
            meta["config"] = rng.choice(["[]", "{", "null", "1", '"dcgan"'])
            return _join(header, body)
        if choice == 1:  # a path and a download, which the server must never act on
            config["data"].update(name=rng.choice(["folder", "mnist", "celeba"]), path="/etc", download=True)
        elif choice == 2:
            config["model"]["arch"] = rng.choice(["mlp", "resnet", "", None, 3])
        elif choice == 3:
            config.pop(rng.choice(list(config)))
        else:
            config["data"]["image_size"] = rng.choice([4096, 0, -1, 64, "x"])
    elif how == "step":
        meta["step"] = rng.choice(["abc", "-1", "1e30", "", "2000.5", "99999999999999999999999"])
        return _join(header, body)
    elif how == "format":
        meta["format"] = rng.choice(["gan-workbench/2", "", "pytorch"])
        return _join(header, body)
    elif how == "dtype":
        header[rng.choice(tensors)]["dtype"] = rng.choice(["F16", "F64", "I64", "BF16", "U8", "BOOL", "XYZ", "I32"])
    elif how == "offsets":
        t = header[rng.choice(tensors)]
        a, b = t["data_offsets"]
        t["data_offsets"] = rng.choice([[b, a], [a + 4, b + 4], [0, b - a], [a, len(body) + 8], [-8, b], [a, a],
                                        [a, 2**63], [a, b - 4]])
    elif how == "tensor-shape":
        t = header[rng.choice(tensors)]
        t["shape"] = rng.choice([[1], [], [10**9, 10**9], [-1], t["shape"][::-1] or [1], (t["shape"] or [1]) + [1]])
    elif how == "drop-tensor":
        name = rng.choice(tensors)
        value = header.pop(name)
        if rng.random() < 0.5:
            header[name + ".renamed"] = value
    meta["config"] = json.dumps(config)
    meta["data"] = json.dumps(data)
    return _join(header, body)


def checkpoint_cases(seed: int, n: int):
    original = CHECKPOINT.read_bytes()
    rng = random.Random(seed + 1)
    for i in range(n):
        how = CHECKPOINT_MUTATIONS[i % len(CHECKPOINT_MUTATIONS)] if i < len(CHECKPOINT_MUTATIONS) else rng.choice(CHECKPOINT_MUTATIONS)
        yield "safetensors", how, CHECKPOINT.name, mutate_checkpoint(original, random.Random(f"{seed}-ckpt-{i}"), how)


# ----------------------------------------------------------------------------- the worker


def _left_behind(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _outcome(call) -> tuple[str, str]:
    """("accepted" | "refused" | "failed", detail) for one call."""
    from gan_core.errors import GanError

    try:
        result = call()
    except GanError as e:
        message = str(e)
        if "\n" in message or "Traceback" in message or 'File "' in message or not message.strip():
            return "failed", f"{type(e).__name__} with a message that is not one sentence: {message[:300]!r}"
        return "refused", message
    except Exception as e:  # noqa: BLE001 - any other exception is exactly what the fuzzer looks for
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return "failed", f"{type(e).__name__}: {str(e)[:200]} (at {Path(tb.filename).name}:{tb.lineno})"
    return "accepted", result


def _run_image(fmt: str, data: bytes, scratch: Path) -> dict[str, tuple[str, str]]:
    from gan_core import untrusted, uploads, visitors

    ext = EXTENSIONS[fmt]
    out = {}
    status, detail = _outcome(lambda: untrusted.read_image(data, f"photo.{ext}"))
    if status == "accepted":
        shape, dtype = detail.shape, str(detail.dtype)
        if dtype != "uint8" or len(shape) != 3 or shape[2] not in (1, 3):
            status, detail = "failed", f"read_image returned {dtype} {shape}"
    out["read_image"] = (status, "" if status == "accepted" else detail)

    runs = scratch / "runs"
    shutil.rmtree(runs, ignore_errors=True)  # a worker killed by the previous input may have left files
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", random.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))) as archive:
        archive.writestr(f"photos/photo.{ext}", data)
    status, detail = _outcome(lambda: uploads.save_upload(buf.getvalue(), runs))
    if status == "accepted":
        detail.summary()
        detail = ""
    elif status == "refused" and _left_behind(runs / visitors.UPLOADS):
        status, detail = "failed", f"refused ({detail}) but left {_left_behind(runs / visitors.UPLOADS)}"
    shutil.rmtree(runs, ignore_errors=True)
    out["save_upload"] = (status, detail)
    return out


def _run_checkpoint(data: bytes, scratch: Path, index: int) -> dict[str, tuple[str, str]]:
    from gan_core import catalog, uploads, visitors

    out = {}
    runs = scratch / "runs"
    shutil.rmtree(runs, ignore_errors=True)  # a worker killed by the previous input may have left files
    status, detail = _outcome(lambda: uploads.save_checkpoint_upload(data, "x.safetensors", runs))
    if status == "refused" and _left_behind(runs / visitors.UPLOADS):
        status, detail = "failed", f"refused ({detail}) but left {_left_behind(runs / visitors.UPLOADS)}"
    out["save_checkpoint_upload"] = (status, "" if status == "accepted" else detail)
    shutil.rmtree(runs, ignore_errors=True)

    path = scratch / f"ckpt-{index}.safetensors"  # a new path each time: describe_checkpoint caches by path
    path.write_bytes(data)
    status, detail = _outcome(lambda: catalog.describe_checkpoint(path))
    if status == "accepted":
        entry = detail
        status2, detail2 = _outcome(entry.summary)
        if status2 == "failed":
            status, detail = status2, "summary(): " + detail2
        elif entry.error:  # listed as one unusable entry: the gallery's way of refusing
            status, detail = "refused", entry.error
            if "\n" in entry.error or "Traceback" in entry.error:
                status, detail = "failed", f"unusable entry without a one-sentence reason: {entry.error[:300]!r}"
        else:
            detail = ""
    path.unlink(missing_ok=True)
    out["describe_checkpoint"] = (status, detail)
    return out


def worker(conn, scratch: str, quiet: bool) -> None:
    warnings.simplefilter("ignore")  # Pillow warns about damaged files; the outcome is what counts
    if quiet:  # libtiff prints its complaints straight to file descriptor 2
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    scratch_dir = Path(scratch)
    # Import torch and the engine once, before any input is timed.
    import gan_core.catalog
    import gan_core.data
    import gan_core.uploads  # noqa: F401

    while True:
        job = conn.recv()
        if job is None:
            return
        index, kind, fmt, data = job
        random.seed(index)
        start = time.perf_counter()
        if kind == "image":
            result = _run_image(fmt, data, scratch_dir)
        else:
            result = _run_checkpoint(data, scratch_dir, index)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        conn.send((index, result, time.perf_counter() - start, rss))


class Pool:
    """One worker process, replaced when an input hangs it or kills it."""

    def __init__(self, scratch: Path, quiet: bool = True):
        self.quiet = quiet
        self.ctx = mp.get_context("fork")  # the parent has not imported torch: a fork is cheap and safe
        self.scratch = scratch
        self.proc = None
        self.starts = 0

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker, args=(child, str(self.scratch), self.quiet), daemon=True)
        self.proc.start()
        child.close()
        self.starts += 1
        self.fresh = True

    def run(self, job, timeout: float):
        """(result, seconds, rss_mb) or ("hang" | "crash", seconds, None)."""
        if self.proc is None or not self.proc.is_alive():
            self.start()
        start = time.perf_counter()
        self.conn.send(job)
        # The first job of a worker also pays for importing torch.
        grace, self.fresh = (15 if self.fresh else 0), False
        if self.conn.poll(timeout + grace):
            try:
                _, result, seconds, rss = self.conn.recv()
                return result, seconds, rss
            except EOFError:
                pass
        else:
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return "hang", time.perf_counter() - start, None
        self.proc.join()
        self.proc = None
        return "crash", time.perf_counter() - start, None

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=500, help="mutated image files (spread over the five formats)")
    ap.add_argument("--checkpoints", type=int, default=50, help="mutated checkpoints")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take before it counts as a hang")
    ap.add_argument("--save-failures", metavar="DIR", help="write each failing input to DIR, to reproduce it")
    ap.add_argument("--verbose", action="store_true", help="show the decoders' own complaints (stderr) and each input's memory")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    print(f"fuzz_inputs: seed {args.seed}, {args.images} images, {args.checkpoints} checkpoints, timeout {args.timeout:g} s", flush=True)
    scratch = tempfile.mkdtemp(prefix="gan-fuzz-")
    pool = Pool(Path(scratch), quiet=not args.verbose)
    pool.start()  # before the inputs exist, so that the worker's memory is its own
    cases = [("image", *c) for c in image_cases(args.seed, args.images)]
    cases += [("checkpoint", *c) for c in checkpoint_cases(args.seed, args.checkpoints)]

    per_input = Counter()  # (kind, format or mutation)
    outcomes: dict[str, Counter] = {}
    failures = []
    slowest = (0.0, "")
    peak_rss = 0
    try:
        for index, (kind, fmt, how, name, data) in enumerate(cases):
            per_input[(kind, "format", fmt)] += 1
            per_input[(kind, "mutation", how)] += 1
            result, seconds, rss = pool.run((index, kind, fmt, data), args.timeout)
            label = f"#{index} {fmt} {how} (from {name}, {len(data):,} bytes)"
            if seconds > slowest[0]:
                slowest = (seconds, label)
            if rss:
                if args.verbose and rss > peak_rss:
                    print(f"  peak RSS {rss} MB after {label}", flush=True)
                peak_rss = max(peak_rss, rss)
            if isinstance(result, str):  # the worker hung or died: every door of this input counts
                doors = ("read_image", "save_upload") if kind == "image" else ("save_checkpoint_upload", "describe_checkpoint")
                result = {door: (result, f"{result} after {seconds:.1f} s") for door in doors}
            for door, (status, detail) in result.items():
                outcomes.setdefault(door, Counter())[status] += 1
                if status not in ("accepted", "refused"):
                    failures.append(f"{label} {door}: {detail}")
                    if args.save_failures:
                        Path(args.save_failures).mkdir(parents=True, exist_ok=True)
                        ext = EXTENSIONS.get(fmt, "safetensors")
                        (Path(args.save_failures) / f"{index}-{how}.{ext}").write_bytes(data)
    finally:
        pool.close()
        shutil.rmtree(scratch, ignore_errors=True)
    peak_rss = max(peak_rss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
    harness_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    elapsed = time.perf_counter() - started

    def line(title: str, counts: dict) -> None:
        print(f"{title:<30}" + "  ".join(f"{k} {v}" for k, v in counts.items()))

    for kind in ("image", "checkpoint"):
        for axis in ("format", "mutation"):
            line(f"{kind}s by {axis}:", {k[2]: v for k, v in per_input.items() if k[:2] == (kind, axis)})
    statuses = ("accepted", "refused", "failed", "hang", "crash")
    for door, counts in outcomes.items():
        line(f"{door}:", {s: counts.get(s, 0) for s in statuses})
    print(f"slowest input: {slowest[0]:.2f} s, {slowest[1]}")
    print(f"worker processes started: {pool.starts}")
    print(f"peak RSS: {peak_rss} MB in the worker (the functions under test), {harness_rss} MB in the harness itself")
    print(f"elapsed: {elapsed:.1f} s")
    if failures:
        print(f"FAILURES ({len(failures)}):")
        for f in failures:
            print("  " + f)
    summary = {
        "seed": args.seed, "images": args.images, "checkpoints": args.checkpoints,
        "outcomes": {d: dict(c) for d, c in outcomes.items()}, "failures": len(failures),
        "peak_rss_mb": peak_rss, "harness_rss_mb": harness_rss, "slowest_s": round(slowest[0], 3), "elapsed_s": round(elapsed, 1),
    }
    print("summary: " + json.dumps(summary), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
