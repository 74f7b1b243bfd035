"""Bytes and names from strangers: the ground floor every reader of untrusted input stands on.

A visitor's upload, an image in a data folder, a member of a zip, a checkpoint's
metadata, a file someone dropped into a run folder: each is read through these
checks before anything in it is decoded, unpacked or shown. They raise one-sentence
``DataError``s naming the limit, so the upload flow (``uploads.py``), the data
sources (``data/``), the checkpoint reader and the run-directory reader all refuse
the same things in the same words.

This module imports nothing of the product but ``errors`` (and no torch), so that
anything may import it without pulling in, or looping back to, what is built on it.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import unicodedata
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, ImageOps

from .errors import DataError, GanError, RunError

# ----------------------------------------------------------------------------- limits
# Every file a visitor sends passes these checks before anything in it is decoded or
# unpacked: a few kilobytes must never cost gigabytes or minutes (Streamlit Community
# Cloud gives the whole app about 1 GB of memory). The data layer applies the image and
# zip limits too, so a run opens an upload exactly as it was checked.

# The upload itself. Streamlit refuses more (.streamlit/config.toml: maxUploadSize = 200,
# in MiB); checked again because the engine does not rely on the page.
MAX_UPLOAD_BYTES = 200 * 2**20
# The largest checkpoint a visitor may upload. A DCGAN generator at 256 x 256 with
# width 64 is about 190 MB; the gallery's own demo is 1.5 MB. The same cap as
# Streamlit's upload limit in .streamlit/config.toml, so a larger file never arrives.
MAX_CHECKPOINT_BYTES = 200 * 1024 * 1024
# One image file, as uploaded or as a zip member once unpacked: an uncompressed
# 48-megapixel RGB photo (8000 x 6000 TIFF or BMP) is 144 MB.
MAX_IMAGE_BYTES = 150 * 2**20
# Pixels of one image, read from its header before decoding. 48 MP (8000 x 6000) and
# 50 MP (8160 x 6120) phone photos pass; Pillow holds such an image in about 200 MB
# (4 bytes a pixel), which Cloud's ~1 GB can afford one or two at a time.
MAX_IMAGE_PIXELS = 50_000_000
# Long side over short side. Images are scaled so that their short side is the
# training size and then centre-cropped, so the scaled copy has (ratio x size^2)
# pixels: a 9.8 KB PNG of 1 x 5,000,000 pixels became 1.3 billion pixels (59 s, 5.2 GB).
# Panoramas (about 8:1) and long phone screenshots (about 1:10) pass.
MAX_ASPECT = 20
# Entries in a zip. The upload check decodes every image once, and the folder source
# decodes up to data.store.EAGER_LIMIT (20,000) images up front; 30,001 empty entries
# took 15 s. Larger sets belong in a folder (--data-path), which has no such limit.
MAX_ZIP_ENTRIES = 20_000
# zipfile parses the whole central directory when it opens a zip, trusting its size in
# bytes rather than its entry count, so that size is checked first, from the end
# record: 512 bytes an entry leaves room for paths of 400 characters.
MAX_ZIP_DIRECTORY_BYTES = 512 * MAX_ZIP_ENTRIES
# All members unpacked together: decompressing 1 GiB takes a few seconds, and a
# 200 MB upload of photos (JPEG and PNG do not compress further) is nowhere near it.
MAX_ZIP_TOTAL_BYTES = 2**30
# Unpacked over stored size, for members over RATIO_CHECK_BYTES. Image files compress
# little (JPEG, PNG, WebP hardly at all, photos as BMP or TIFF about 2-10 times); a
# 1 MiB zip holding a 1 GiB member (ratio 1000) is a zip bomb.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_BYTES = 2**20  # smaller members cost nothing however well they compress (a flat-colour icon)
# Training images (the "folder" source: a zip or folder, and so the Train page's upload
# check). Training scales every image so that its short side is the training size (16 to
# 128 px on the page, rarely above 256), so pixels beyond a few megapixels are decoded
# only to be thrown away. Up to min(8, CPUs) images are decoded at once, each holding about
# 8 bytes a pixel in Pillow on its way to RGB: 4 MP (2,000 x 2,000) is 32 MB each, 256 MB
# for eight. Pixels are counted as decoded (training_pixels): Pillow decodes a JPEG at 1/2,
# 1/4 or 1/8 scale when the training size allows, so phone photos pass (a 48 MP JPEG costs
# 0.75 MP); a 12 MP PNG screenshot does not (scale it down).
MAX_TRAINING_IMAGE_PIXELS = 4_000_000
# All the images of a zip together, summed from their headers before any is decoded:
# the upload check decodes every one in the server process, and a run decodes them all
# again (every pass, if read lazily). 1,000 MP is the entry limit's 20,000 images at
# 224 x 224, or more than a 200 MB zip of photos holds (JPEG at about 1.5 bits a pixel
# is 1,100 MP before its draft scaling). Checking 1,000 MP of the cheapest files to send
# took 4.7 s (250 flat 2000 x 2000 GIFs, 1 MB zipped) and 14 s (the same as PNG, 90 KB) on
# two cores, 30-45 MB of growth; before, 200 copies of a 138-byte GIF declaring 7000 x 7000
# (9,800 MP) took 33 s and 360 MB, and 20,000 of them (4.6 MB) would have taken half an hour.
MAX_TRAINING_PIXELS = 1_000_000_000
# JPEG's draft scale is counted at this training size, or a run's own if larger, so that a
# zip the upload check (at 16 px) accepts is accepted by every run up to 256 px.
TRAINING_BUDGET_SIZE = 256
# Names a model carries and pages show in menus and captions: class names (ImageNet has
# 1000, from a checkpoint's metadata or a zip's class folders) or attribute names (CelebA
# has 40). A data folder is refused on the same bounds as a checkpoint, so that a run
# never trains for minutes and then writes weights no page can open.
MAX_NAMES = 1000
MAX_NAME_CHARS = 200

# Pictures one request may translate (the Pix2Pix page's uploads): each costs a
# translation and a cached result, and Streamlit has already buffered every file by the
# time the page runs. Ten holiday photos pass; 200 in one go took 42 s a pass.
MAX_PICTURES = 50
MAX_DEMO_PICTURES = 10  # a public demo's shared server (GAN_WORKBENCH_DEMO=1)
# Translations kept so that a rerun with settings already computed is served at once
# (the Pix2Pix page: toggling the realism map off and on): previews and full-size outputs
# as PNG bytes, the least recently used dropped first past this total, server-wide.
# Before, 16 results of 48 MP pictures kept about 1.2 GB. The cache outlives the visitor
# who filled it, so on a demo it stays under a tenth of the server's own ~530 MB (issue
# #17: the server's memory is back within 10% a minute after a visitor leaves); 48 MB is
# the results of about three 12-megapixel photos (a 2000 x 2000 photo's keeps 5.1 MB).
MAX_KEPT_RESULTS_BYTES = 256 * 2**20
MAX_DEMO_KEPT_RESULTS_BYTES = 48 * 2**20
# A file name longer than this is no real file's (NAME_MAX is 255 bytes on Linux, macOS
# and Windows): a name a visitor forged, refused in one sentence rather than carried along.
MAX_FILE_NAME_CHARS = 255

IMAGE_KINDS = "jpg, png, gif, webp, bmp or tiff"  # for messages
# The Pillow decoders a visitor's bytes may reach: those of the kinds named above.
# Image.open picks a decoder from the content, not the name, out of some 40 (EPS runs
# Ghostscript, and PSD, FITS, DDS... were never meant to face the public).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")


# ----------------------------------------------------------------------------- words


def byte_size(n: int) -> str:
    """Bytes in words, in the binary units Streamlit's upload limit uses: '1.5 GB', '150 MB', '9.8 KB'."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def unprintable(text: str) -> bool:
    """Whether ``text`` holds a character that is not shown as itself on one line:
    controls, format characters (bidi overrides such as U+202E reorder what follows),
    line and paragraph separators, unassigned or surrogate code points."""
    return any(unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in text)


def shown_name(name: str, limit: int = 60) -> str:
    """A visitor's file or member name, made safe to quote in a one-line message."""
    name = "".join("?" if unprintable(c) else c for c in str(name)[: limit * 4])
    return name if len(name) <= limit else name[: limit - 3] + "..."


# ----------------------------------------------------------------------------- images


def check_image_size(width: int, height: int, what: str = "The image") -> None:
    """Refuse an image whose header declares too many pixels or too long a shape,
    before any pixel is decoded. ``what`` starts the sentence ("The image x.png")."""
    dims = f"{width:,} x {height:,} pixels"
    if width < 1 or height < 1:
        raise DataError(f"{what} declares {dims}, which is no image; save it again from an image editor.")
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{what} is {dims}, more than the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; "
                        "scale it down and try again.")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise DataError(f"{what} is {dims}, more elongated than the {MAX_ASPECT}:1 aspect-ratio limit; "
                        "crop it closer to a square and try again.")


def open_image(fp: BinaryIO, what: str = "The image", nbytes: int | None = None) -> Image.Image:
    """``Image.open``, which reads only the header, then the size limits above and
    ``check_plausible``: every image, uploaded or in a data folder, opens through here, so
    that an over-limit one, or one whose header declares more than its bytes can hold,
    is refused before a pixel is decoded. ``nbytes``: the file's size, when the stream
    cannot tell it cheaply (a zip member); in-memory and on-disk files are measured."""
    data = fp.getvalue() if isinstance(fp, io.BytesIO) and fp.tell() == 0 else None  # the bytes themselves, not a copy
    if nbytes is None:
        nbytes = len(data) if data is not None else _stream_bytes(fp)
    try:
        img = Image.open(fp, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:  # Pillow's own guard fires first above ~179 megapixels
        raise DataError(f"{what} declares far more than the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; "
                        "scale it down and try again.") from None
    try:
        check_image_size(*img.size, what)
        check_plausible(img, nbytes, data, what)
    except BaseException:
        img.close()
        raise
    return img


def _stream_bytes(fp: BinaryIO) -> int | None:
    """Bytes from the stream's position to its end, when that costs nothing: an in-memory
    buffer or a regular file. None for anything else (a zip member would be unpacked)."""
    try:
        if isinstance(fp, io.BytesIO):
            pos = fp.tell()
            end = fp.seek(0, io.SEEK_END)
            fp.seek(pos)
            return end - pos
        info = os.fstat(fp.fileno())
        return info.st_size - fp.tell() if stat.S_ISREG(info.st_mode) else None
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


# What the data of each format can hold at most, for check_plausible. A GIF's LZW code of
# b bits stands for at most 2^b pixels, so at best 4096 pixels for 12 bits (2,731 a byte).
# Deflate (PNG) packs at best 258 bytes into a 2-bit match: 1,032 to 1. A BMP's run-length
# codes hold at most 255 pixels in 2 bytes; its "skip" codes leave more to nothing at all,
# counted here at twice the runs' best. An uncompressed BMP holds all its rows.
_GIF_PIXELS_PER_BYTE = 2731
_DEFLATE_RATIO = 1032
_BMP_RLE_PIXELS_PER_BYTE = 256
# A GIF's logical screen is filled with background where its first frame does not cover
# it: a screen more than this many times the frame's area is refused when it is larger
# than PLAIN_PIXELS (a small canvas costs nothing, however empty).
_GIF_SCREEN_OVER_FRAME = 4
PLAIN_PIXELS = 1_000_000


def _raw_bits(rawmode: str) -> int:
    """Bits a pixel in a PNG's raw mode ("1", "P;4", "L", "RGB", "RGBA;16B"...); the fewest
    its name allows when unsure, since the bound it feeds must never refuse a real file."""
    base, _, depth = rawmode.partition(";")
    if base == "1":
        return 1
    bands = len(base) if base in ("LA", "PA", "RGB", "RGBA", "RGBX") else 1
    digits = "".join(c for c in depth if c.isdigit())
    return bands * (int(digits) if digits else 8) if digits in ("", "1", "2", "4", "8", "16") else 1


def _least_bytes(img: Image.Image, tile) -> int:
    """The fewest bytes a file of ``img``'s format needs for the pixels its header
    declares (0 where no cheap bound is known: WebP, TIFF)."""
    width, height = img.size
    codec, (x0, y0, x1, y1), offset, args = tile[0], tile[1], tile[2], tile[3]
    if img.format == "GIF":
        return -(-(x1 - x0) * (y1 - y0) // _GIF_PIXELS_PER_BYTE)
    if img.format == "PNG" and codec == "zip":
        bits = _raw_bits(args if isinstance(args, str) else args[0] if args else "1")
        return -(-height * (1 + -(-width * bits // 8)) // _DEFLATE_RATIO)
    if img.format == "BMP" and codec == "raw" and isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], int):
        return (offset or 0) + abs(args[1]) * (height - 1)  # every row but the last, whose padding a writer may drop
    if img.format == "BMP" and codec == "bmp_rle" and width * height > PLAIN_PIXELS:
        return -(-width * height // _BMP_RLE_PIXELS_PER_BYTE)
    return 0


def check_plausible(img: Image.Image, nbytes: int | None, data: bytes | None = None, what: str = "The image") -> None:
    """Refuse an opened image whose header declares pixels its file cannot plausibly hold,
    before they are decoded: decoders fill what the data lacks (grey for JPEG, background
    for a GIF's screen), so 138 bytes of GIF declaring a 7000 x 7000 screen around a 64 x 64
    frame decoded as 49 megapixels (420 MB). Checked: a GIF's screen against its first
    frame, and, when ``nbytes`` is known, the fewest bytes GIF, PNG and BMP need
    (``_least_bytes``) and JPEG's entropy-coded data (``_jpeg_shortfall``, from ``data``).
    A GIF's mostly empty screen is refused rather than cropped to the frame: Pillow always
    decodes the whole screen, and a picture that is mostly background is no picture."""
    width, height = img.size
    tile = img.tile[0] if getattr(img, "tile", None) else None
    if img.format == "GIF" and tile is not None:
        x0, y0, x1, y1 = tile[1]
        fw, fh = max(0, x1 - x0), max(0, y1 - y0)
        if width * height > PLAIN_PIXELS and width * height > _GIF_SCREEN_OVER_FRAME * fw * fh:
            raise DataError(f"{what} is a {width:,} x {height:,} GIF whose first frame covers only {fw:,} x {fh:,} "
                            "pixels of it, the rest being empty background; crop it to the picture in an image editor "
                            "and try again.")
    if img.format == "JPEG":
        short = data is not None and _jpeg_shortfall(data) is not None
    else:
        short = nbytes is not None and tile is not None and nbytes < _least_bytes(img, tile)
    if short:
        raise DataError(f"{what} is incomplete: its header declares {width:,} x {height:,} pixels but it holds only "
                        f"{byte_size(nbytes or 0)}, too little for them "
                        "(cut short while copying?); upload the whole file.")


def training_pixels(img: Image.Image, image_size: int) -> int:
    """Pixels that decoding an opened image for training at ``image_size`` holds: a JPEG
    at the 1/2, 1/4 or 1/8 scale Pillow's draft picks (both sides stay at least the size,
    counted at TRAINING_BUDGET_SIZE at least), any other image whole. Header only."""
    width, height = img.size
    if img.format != "JPEG":
        return width * height
    size = max(image_size, TRAINING_BUDGET_SIZE)
    ratio = min(width // size, height // size)
    scale = next((s for s in (8, 4, 2) if ratio >= s), 1)
    return -(-width // scale) * -(-height // scale)


def check_training_image(img: Image.Image, image_size: int, what: str = "The image") -> int:
    """``training_pixels``, refused over MAX_TRAINING_IMAGE_PIXELS before decoding."""
    pixels = training_pixels(img, image_size)
    if pixels > MAX_TRAINING_IMAGE_PIXELS:
        raise DataError(f"{what} is {img.size[0]:,} x {img.size[1]:,} pixels, more than the "
                        f"{MAX_TRAINING_IMAGE_PIXELS // 1_000_000}-megapixel limit for a training image (training scales "
                        "every image down to a few hundred pixels); scale it to at most 2,000 x 2,000 and try again.")
    return pixels


def check_training_pixels(count: int, pixels: int, where: str) -> None:
    """Refuse a set of ``count`` training images (in ``where``, e.g. "the uploaded zip")
    whose headers add up to more than MAX_TRAINING_PIXELS, before any is decoded."""
    if pixels > MAX_TRAINING_PIXELS:
        raise DataError(f"The {count:,} images in {where} add up to {pixels / 1e6:,.0f} megapixels to decode, more than "
                        f"the {MAX_TRAINING_PIXELS // 1_000_000:,}-megapixel limit for a zip of training images; zip fewer "
                        "images, or scale them down to a few hundred pixels a side, and try again.")


# PIL modes that hold one grey channel; every other mode (RGB, RGBA, CMYK, YCbCr,
# palette "P", ...) counts as colour. Palette images are treated as colour because
# the header alone cannot say whether the palette is grey.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def native_channels(mode: str) -> int:
    """1 for a PIL mode that holds grey, 3 for any other (colour)."""
    return 1 if mode in GREY_MODES else 3


def flatten(img: Image.Image, channels: int) -> Image.Image:
    """Any PIL image -> mode "L" (channels 1) or "RGB" (channels 3); ``img`` itself if it
    already is. Works in place where it can: a 50-megapixel image is 200 MB in Pillow."""
    if img.mode in _HIGH_DEPTH_MODES:
        # 16-bit and float images: PIL's own convert("L") clips instead of scaling.
        a = np.array(img, dtype=np.float32)
        a *= 255.0 if img.mode == "F" else 255.0 / 65535.0
        np.clip(a, 0.0, 255.0, out=a)
        img = Image.fromarray(np.rint(a, out=a).astype(np.uint8))  # 2-D uint8 -> mode "L"
    elif img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels often hold arbitrary colours; show them on white like a viewer would.
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba)  # blends by alpha, like alpha_composite onto opaque white
        img = white
    target = "L" if channels == 1 else "RGB"
    return img if img.mode == target else img.convert(target)


def pictures_to_take(count: int, demo: bool = False) -> tuple[int, str | None]:
    """How many of ``count`` pictures sent in one request are read (the first ones, in
    order), and the one sentence for the rest (None when all are). Called before any
    file is read or decoded."""
    limit = MAX_DEMO_PICTURES if demo else MAX_PICTURES
    if count <= limit:
        return count, None
    where = "on this demo server" if demo else "per request"
    return limit, (f"Only the first {limit} of your {count:,} pictures are translated, the limit {where}; "
                   f"translate the other {count - limit:,} in another batch.")


def check_file_name(name: str, what: str = "The file") -> None:
    """Refuse a file name no real file has: a NUL or other control character (a NUL is
    how a name smuggles a second extension past a type check), or more than
    MAX_FILE_NAME_CHARS characters. ``DataError`` in one sentence, naming the file
    as far as it can be shown."""
    name = str(name)
    if "\0" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise DataError(f"{what} {shown_name(name) or '(unnamed)'} has a control character in its name; "
                        "rename the file and upload it again.")
    if len(name) > MAX_FILE_NAME_CHARS:
        raise DataError(f"{what} {shown_name(name)} has a name of {len(name):,} characters, more than the "
                        f"{MAX_FILE_NAME_CHARS} a file name may have; rename it and upload it again.")


# JPEG frame markers (SOF) libjpeg decodes, and the fewest bits each 8 x 8 block of every
# component costs in its entropy-coded data. Sequential Huffman: a DC code and an
# end-of-block code, each at least one bit. Progressive: its DC scans code every block
# with at least one bit (later scans may skip whole runs). Lossless: at least a bit per
# sample, counted here as per block. Arithmetic coding (C9-CF) has no such floor.
_JPEG_BITS_PER_BLOCK = {0xC0: 2, 0xC1: 2, 0xC2: 1, 0xC3: 1}


def _jpeg_shortfall(data: bytes) -> tuple[int, int] | None:
    """(bytes of entropy-coded data, the fewest its frame needs) when a JPEG holds less
    than its header's pixels need, else None. libjpeg fills the blocks a stream lacks
    with grey when it meets the end marker early (a warning Pillow does not pass on),
    so a few hundred bytes declaring 7000 x 7000 decode as a 49-megapixel grey picture
    (147 MB, seconds) before anything looks wrong. Reads the markers only; any
    structure it does not follow is left to the decoder."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, n, entropy, needed = 2, len(data), 0, None
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        segment = data[pos + 4 : pos + 2 + length]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a frame header
            if marker not in _JPEG_BITS_PER_BLOCK or len(segment) < 6:
                return None
            height, width, count = int.from_bytes(segment[1:3], "big"), int.from_bytes(segment[3:5], "big"), segment[5]
            factors = [(segment[7 + 3 * i] >> 4, segment[7 + 3 * i] & 15) for i in range(count) if 8 + 3 * i <= len(segment)]
            if not factors or height == 0 or any(h == 0 or v == 0 for h, v in factors):
                return None
            hmax, vmax = max(h for h, _ in factors), max(v for _, v in factors)
            blocks = sum(-(-(-(-width * h // hmax)) // 8) * -(-(-(-height * v // vmax)) // 8) for h, v in factors)
            needed = blocks * _JPEG_BITS_PER_BLOCK[marker] // 8
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker that is not a restart
            start = pos
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    pos = n
                    break
                if data[pos + 1] == 0x00 or 0xD0 <= data[pos + 1] <= 0xD7:
                    pos += 2
                    continue
                break
            entropy += pos - start
    if needed is None or entropy >= needed:
        return None
    return entropy, needed


def read_image(data: bytes, name: str, before_decode: Callable[[int, int, int], None] | None = None) -> np.ndarray:
    """One uploaded image -> uint8 array (H, W, C): C = 1 for grey, 3 for colour.

    The size in bytes, then the header's dimensions (pixels, aspect ratio) and whether
    the bytes can hold them (``check_plausible``) are checked before any pixel is
    decoded; so is ``before_decode(width, height, channels)`` if
    given (the caller's memory budget for what it will do with the picture: it raises a
    ``GanError`` to refuse). EXIF orientation is applied (phone photos store their
    rotation there) and transparency is composited on white, as the data layer does.
    Raises ``DataError`` with one sentence for anything that is not a usable image.
    """
    what = f"The image {shown_name(Path(str(name)).name) or '(unnamed)'}"
    if not data:
        raise DataError(f"{what} is empty; upload the image file again.")
    if len(data) > MAX_IMAGE_BYTES:
        raise DataError(f"{what} is {byte_size(len(data))}, more than the {byte_size(MAX_IMAGE_BYTES)} limit per image; "
                        "save it smaller (as a JPEG, or scaled down) and try again.")
    try:
        with open_image(io.BytesIO(data), what) as img:  # the limits, and what the bytes can hold (check_plausible)
            if before_decode is not None:
                before_decode(img.size[0], img.size[1], native_channels(img.mode))
            # A decoder that meets the end of the data early raises (Pillow's default,
            # ImageFile.LOAD_TRUNCATED_IMAGES = False, which nothing in this product sets).
            img.load()
            # Memory: a 48-megapixel photo is 200 MB in Pillow, so no step keeps a spare copy.
            ImageOps.exif_transpose(img, in_place=True)
            flat = flatten(img, native_channels(img.mode))
            if flat is not img:
                img.close()  # frees the decoded pixels
            array = _to_array(flat)
    except GanError:
        raise
    except Exception:  # noqa: BLE001 - whatever a decoder raises on a visitor's bytes means "not a readable image"
        raise DataError(f"{what} cannot be read (damaged, incomplete or not a {IMAGE_KINDS} image); "
                        "open it in an image viewer, save it again and upload that.") from None
    return array


def _to_array(img: Image.Image) -> np.ndarray:
    """Pillow "L" or "RGB" -> writable uint8 (H, W, C), one band of rows at a time:
    ``np.asarray(img)`` would hold the whole image twice more, as bytes on the way."""
    width, height = img.size
    channels = 1 if img.mode == "L" else 3
    out = np.empty((height, width, channels), dtype=np.uint8)
    rows = max(1, 2**22 // width)  # bands of about 4 MB
    for top in range(0, height, rows):
        band = np.asarray(img.crop((0, top, width, min(height, top + rows))))
        out[top : top + band.shape[0]] = band.reshape(band.shape[0], width, channels)
    return out


# ----------------------------------------------------------------------------- zips


def check_zip_members(members: list[zipfile.ZipInfo], what: str = "The uploaded zip") -> None:
    """Refuse a zip whose central directory declares too many entries or members that
    unpack too large, too well or too much in total. Only the directory is read: the
    declared sizes are binding, because zipfile never unpacks a member beyond its
    declared size (and fails its CRC check if the data says otherwise)."""
    if len(members) > MAX_ZIP_ENTRIES:
        raise DataError(f"{what} holds {len(members):,} entries, more than the {MAX_ZIP_ENTRIES:,}-entry limit; "
                        f"zip at most {MAX_ZIP_ENTRIES:,} images and try again.")
    total = 0
    for m in members:
        if m.is_dir():
            continue
        if m.file_size > MAX_IMAGE_BYTES:
            raise DataError(f"{what} holds {shown_name(m.filename)}, which unpacks to {byte_size(m.file_size)}, more than "
                            f"the {byte_size(MAX_IMAGE_BYTES)} limit per file; leave it out or shrink it and zip again.")
        if m.file_size > RATIO_CHECK_BYTES and m.file_size > MAX_COMPRESSION_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise DataError(f"{what} holds {shown_name(m.filename)}, which unpacks {ratio:,.0f} times larger than it "
                            f"is stored, more than the {MAX_COMPRESSION_RATIO}:1 compression-ratio limit for images; "
                            "zip the image files themselves.")
        total += m.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise DataError(f"{what} unpacks to more than the {byte_size(MAX_ZIP_TOTAL_BYTES)} limit in total; "
                            "zip fewer or smaller images.")


def end_record(fp: BinaryIO) -> tuple[int, int]:
    """(entries, central-directory bytes) a zip's end record declares, read without
    parsing the directory; ``zipfile.BadZipFile`` when there is no end record.

    zipfile has no public way to read the end record alone, so this uses its private
    ``_EndRecData`` and ``_ECD_*`` indices: unchanged since Python 2, and
    tests/test_untrusted.py fails if an upgrade changes them."""
    end = zipfile._EndRecData(fp)
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    return end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]


def _check_end_record(fp: BinaryIO, what: str) -> None:
    entries, directory = end_record(fp)
    if entries > MAX_ZIP_ENTRIES:
        raise DataError(f"{what} holds {entries:,} entries, more than the {MAX_ZIP_ENTRIES:,}-entry limit; "
                        f"zip at most {MAX_ZIP_ENTRIES:,} images and try again.")
    if directory > MAX_ZIP_DIRECTORY_BYTES:
        raise DataError(f"{what} has a {byte_size(directory)} table of contents, more than the "
                        f"{byte_size(MAX_ZIP_DIRECTORY_BYTES)} limit; zip fewer files, with shorter names.")


def open_zip(source: str | Path | BinaryIO, what: str = "The uploaded zip") -> zipfile.ZipFile:
    """Open a zip within the limits: its end record (entry count, directory size) is
    checked before zipfile parses the directory, the members' declared sizes before
    anything is unpacked. Raises ``DataError`` naming the limit, ``zipfile.BadZipFile``
    for a damaged archive and ``OSError`` for an unreadable file (callers word those)."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fp:
            _check_end_record(fp, what)
    else:
        _check_end_record(source, what)
        source.seek(0)
    archive = zipfile.ZipFile(source)
    try:
        check_zip_members(archive.infolist(), what)
    except DataError:
        archive.close()
        raise
    return archive


# ----------------------------------------------------------------------------- regular files


class Unreadable(RunError):
    """A file that exists but cannot be used (a run's status, config or owner file); the
    message is a phrase naming the file and what is wrong with it, for "This run cannot
    be read: ..."."""


def open_regular(path: str | Path, follow_links: bool = True):
    """``open(path, "rb")`` for a regular file only. A FIFO put in a run folder would
    block a plain open forever (and every page that lists runs with it): O_NONBLOCK
    keeps open() from waiting for a writer, and fstat refuses it (``Unreadable``).
    ``follow_links`` False: a symbolic link is refused too (``Unreadable``), so a file
    the engine wrote itself cannot be swapped for a link to /etc/shadow that a page or a
    zip would then serve."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW))
    except OSError as e:
        if not follow_links and e.errno == errno.ELOOP:
            raise Unreadable(f"{Path(path).name} is a symbolic link, not a file the run wrote") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unreadable(f"{Path(path).name} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


__all__ = [
    "MAX_UPLOAD_BYTES", "MAX_CHECKPOINT_BYTES", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "MAX_ASPECT", "MAX_ZIP_ENTRIES",
    "MAX_ZIP_DIRECTORY_BYTES", "MAX_ZIP_TOTAL_BYTES", "MAX_COMPRESSION_RATIO", "RATIO_CHECK_BYTES", "MAX_NAMES",
    "MAX_NAME_CHARS", "MAX_PICTURES", "MAX_DEMO_PICTURES", "MAX_KEPT_RESULTS_BYTES", "MAX_DEMO_KEPT_RESULTS_BYTES",
    "MAX_FILE_NAME_CHARS", "MAX_TRAINING_IMAGE_PIXELS", "MAX_TRAINING_PIXELS", "TRAINING_BUDGET_SIZE", "PLAIN_PIXELS",
    "IMAGE_KINDS", "IMAGE_FORMATS", "check_plausible", "training_pixels", "check_training_image", "check_training_pixels",
    "GREY_MODES", "byte_size", "unprintable", "shown_name", "check_image_size", "open_image", "native_channels",
    "flatten", "pictures_to_take", "check_file_name", "read_image", "check_zip_members", "end_record", "open_zip", "Unreadable", "open_regular",
]
